"""Expression trees over fact names and policy parameters.

A rule's condition (and any computed output) is a small tree built from
:func:`fact`, :func:`param` and constants with Python operators::

    (fact("status") == "signed") & (fact("days_since_signed") <= param("returns.no_reason_days"))

Trees are data: they can be printed for a decision table (:meth:`Expr.render`),
asked which facts and parameters they read, and compiled once into Python
source (:meth:`Expr.source`) that the table compiler turns into one function.
They are never interpreted per call.

``&``, ``|`` and ``~`` mean *and*, *or* and *not* (Python's ``and``/``or``
cannot be overloaded); comparisons build nodes instead of returning booleans.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final

from csrules.exceptions import RuleDefinitionError

__all__ = [
    "CALENDAR_FUNCTIONS",
    "FUNCTIONS",
    "Call",
    "Const",
    "Expr",
    "Fact",
    "Param",
    "call",
    "const",
    "fact",
    "param",
]


class _Names:
    """Assigns Python names to constants and facts while source is generated.

    Each fact a table reads is looked up once, at the top of the compiled
    function, into a local variable (``_f0``, ``_f1``, ...).
    """

    __slots__ = ("facts", "values")

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.facts: dict[str, str] = {}

    def fact(self, name: str) -> str:
        local = self.facts.get(name)
        if local is None:
            local = self.facts[name] = f"_f{len(self.facts)}"
        return local

    def bind(self, value: object) -> str:
        for name, existing in self.values.items():
            if existing is value:
                return name
        name = f"_k{len(self.values)}"
        self.values[name] = value
        return name


class Expr:
    """Base class of every expression node.

    Subclasses implement :meth:`source` (Python source over ``f``, the fact
    mapping, ``p``, the parameter mapping, and ``cal``, the calendar),
    :meth:`render` (human-readable text) and :meth:`children`.
    """

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # == builds a node, so no hashing

    precedence: ClassVar[int] = 100

    # -- structure -------------------------------------------------------
    def children(self) -> tuple[Expr, ...]:
        """The direct sub-expressions."""
        return ()

    def source(self, names: _Names) -> str:
        """Python source computing this expression (used by the compiler)."""
        raise NotImplementedError

    def render(self) -> str:
        """Human-readable form, as printed in decision tables."""
        raise NotImplementedError

    def walk(self) -> Iterable[Expr]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()

    def facts(self) -> frozenset[str]:
        """Names of every fact the expression reads."""
        return frozenset(n.name for n in self.walk() if isinstance(n, Fact))

    def params(self) -> frozenset[str]:
        """Names of every policy parameter the expression reads."""
        return frozenset(n.name for n in self.walk() if isinstance(n, Param))

    def _wrap(self, child: Expr) -> str:
        text = child.render()
        return f"({text})" if child.precedence < self.precedence else text

    # -- operators -------------------------------------------------------
    def __and__(self, other: object) -> Expr:
        return _All(self, lift(other))

    def __or__(self, other: object) -> Expr:
        return _Any(self, lift(other))

    def __invert__(self) -> Expr:
        return _Not(self)

    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return _Cmp("==", self, lift(other))

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return _Cmp("!=", self, lift(other))

    def __lt__(self, other: object) -> Expr:
        return _Cmp("<", self, lift(other))

    def __le__(self, other: object) -> Expr:
        return _Cmp("<=", self, lift(other))

    def __gt__(self, other: object) -> Expr:
        return _Cmp(">", self, lift(other))

    def __ge__(self, other: object) -> Expr:
        return _Cmp(">=", self, lift(other))

    def __add__(self, other: object) -> Expr:
        return _Arith("+", self, lift(other))

    def __sub__(self, other: object) -> Expr:
        return _Arith("-", self, lift(other))

    def __mul__(self, other: object) -> Expr:
        return _Arith("*", self, lift(other))

    def __bool__(self) -> bool:
        msg = (
            "an expression has no truth value: use & | ~ instead of and/or/not, "
            "and compare expressions only inside a rule condition"
        )
        raise TypeError(msg)

    def isin(self, values: Iterable[object]) -> Expr:
        """True when the value is one of ``values``."""
        return _In(self, tuple(values), negate=False)

    def notin(self, values: Iterable[object]) -> Expr:
        """True when the value is none of ``values``."""
        return _In(self, tuple(values), negate=True)

    def is_none(self) -> Expr:
        """True when the value is missing (``None``)."""
        return _IsNone(self, negate=False)

    def is_not_none(self) -> Expr:
        """True when the value is present (not ``None``)."""
        return _IsNone(self, negate=True)


def _show(value: object) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)


class Fact(Expr):
    """A named fact of the case (a column of the fact record)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def source(self, names: _Names) -> str:
        return names.fact(self.name)

    def render(self) -> str:
        return self.name


class Param(Expr):
    """A named policy parameter, resolved for the decision's date."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def source(self, names: _Names) -> str:
        return f"p[{self.name!r}]"

    def render(self) -> str:
        return f"[{self.name}]"


class Const(Expr):
    """A literal value (string, number, ``Decimal``, enum member, ``None``)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def source(self, names: _Names) -> str:
        if self.value is None or isinstance(self.value, bool | int):
            return repr(self.value)
        return names.bind(self.value)

    def render(self) -> str:
        return _show(self.value)


class _Cmp(Expr):
    __slots__ = ("left", "op", "right")
    precedence = 50
    _SHOWN: Final = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}

    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        self.op = op
        self.left = left
        self.right = right

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def source(self, names: _Names) -> str:
        return f"({self.left.source(names)} {self.op} {self.right.source(names)})"

    def render(self) -> str:
        return f"{self._wrap(self.left)} {self._SHOWN[self.op]} {self._wrap(self.right)}"


class _Arith(Expr):
    __slots__ = ("left", "op", "right")

    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        self.op = op
        self.left = left
        self.right = right

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def source(self, names: _Names) -> str:
        return f"({self.left.source(names)} {self.op} {self.right.source(names)})"

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return 70 if self.op == "*" else 60

    def render(self) -> str:
        right = self.right.render()
        if self.right.precedence <= self.precedence:  # a - (b - c), a * (b + c)
            right = f"({right})"
        return f"{self._wrap(self.left)} {self.op} {right}"


class _BoolOp(Expr):
    """*and* / *or* over any number of operands (nested ones are flattened)."""

    __slots__ = ("items",)
    word: ClassVar[str]

    def __init__(self, *items: Expr) -> None:
        flat: list[Expr] = []
        for item in items:
            flat.extend(
                item.items if isinstance(item, _BoolOp) and type(item) is type(self) else (item,)
            )
        self.items: tuple[Expr, ...] = tuple(flat)

    def children(self) -> tuple[Expr, ...]:
        return self.items

    def source(self, names: _Names) -> str:
        return "(" + f" {self.word} ".join(i.source(names) for i in self.items) + ")"

    def render(self) -> str:
        return f" {self.word} ".join(self._wrap(i) for i in self.items)


class _All(_BoolOp):
    __slots__ = ()
    precedence = 30
    word = "and"


class _Any(_BoolOp):
    __slots__ = ()
    precedence = 20
    word = "or"


class _Not(Expr):
    __slots__ = ("item",)
    precedence = 40

    def __init__(self, item: Expr) -> None:
        self.item = item

    def children(self) -> tuple[Expr, ...]:
        return (self.item,)

    def source(self, names: _Names) -> str:
        return f"(not {self.item.source(names)})"

    def render(self) -> str:
        return f"not {self._wrap(self.item)}"


class _In(Expr):
    __slots__ = ("item", "negate", "values")
    precedence = 50

    def __init__(self, item: Expr, values: tuple[object, ...], *, negate: bool) -> None:
        for value in values:
            lift(value)  # refuses floats, as every constant does
        self.item = item
        self.values = values
        self.negate = negate

    def children(self) -> tuple[Expr, ...]:
        return (self.item,)

    def source(self, names: _Names) -> str:
        op = "not in" if self.negate else "in"
        return f"({self.item.source(names)} {op} {names.bind(frozenset(self.values))})"

    def render(self) -> str:
        op = "not in" if self.negate else "in"
        shown = ", ".join(sorted(_show(v) for v in self.values))
        return f"{self._wrap(self.item)} {op} {{{shown}}}"


class _IsNone(Expr):
    __slots__ = ("item", "negate")
    precedence = 50

    def __init__(self, item: Expr, *, negate: bool) -> None:
        self.item = item
        self.negate = negate

    def children(self) -> tuple[Expr, ...]:
        return (self.item,)

    def source(self, names: _Names) -> str:
        op = "is not" if self.negate else "is"
        return f"({self.item.source(names)} {op} None)"

    def render(self) -> str:
        return f"{self._wrap(self.item)} {'is set' if self.negate else 'is none'}"


def _earlier(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b


def _later(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


# pendulum overrides + and - in Python (about 15 µs a call); the C methods of
# the standard library are ~30 times faster and still return pendulum objects.
_date_add = dt.date.__add__
_datetime_add = dt.datetime.__add__


def _add_days(d: Any, n: int) -> Any:
    if isinstance(d, dt.datetime):
        return _datetime_add(d, dt.timedelta(days=n))
    return _date_add(d, dt.timedelta(days=n))


def _sub_days(d: Any, n: int) -> Any:
    return _add_days(d, -n)


def _add_hours(t: Any, n: Any) -> Any:
    return _datetime_add(t, dt.timedelta(hours=int(n)))


def _add_minutes(t: Any, n: Any) -> Any:
    return _datetime_add(t, dt.timedelta(minutes=int(n)))


def _add_working_days(cal: Any, d: Any, n: int) -> Any:
    return cal.add_working_days(d, n)


def _roll_to_working_day(cal: Any, d: Any) -> Any:
    return d if cal.is_workday(d) else cal.next_working_day(d)


def _next_time_of_day(cal: Any, t: Any, at: dt.time) -> Any:
    return cal.next_time_of_day(t, at)


def _add_service_hours(cal: Any, t: Any, hours: Any, opens: dt.time, closes: dt.time) -> Any:
    return cal.add_service_hours(t, dt.timedelta(hours=int(hours)), opens, closes)


def _service_period_end(cal: Any, t: Any, opens: dt.time, closes: dt.time) -> Any:
    return cal.service_period_end(t, opens, closes)


#: Functions a :class:`Call` may name, by name.
FUNCTIONS: Final[Mapping[str, Callable[..., Any]]] = {
    "earlier": _earlier,
    "later": _later,
    "add_days": _add_days,
    "subtract_days": _sub_days,
    "add_hours": _add_hours,
    "add_minutes": _add_minutes,
}
#: Functions that also receive the policy's :class:`~csrules.WorkCalendar`.
CALENDAR_FUNCTIONS: Final[Mapping[str, Callable[..., Any]]] = {
    "add_working_days": _add_working_days,
    "roll_to_working_day": _roll_to_working_day,
    "next_time_of_day": _next_time_of_day,
    "add_service_hours": _add_service_hours,
    "service_period_end": _service_period_end,
}


class Call(Expr):
    """A call of a named function.

    Plain functions: ``earlier(a, b)`` / ``later(a, b)`` (ignoring ``None``),
    ``add_days(date, n)``, ``subtract_days(date, n)``, ``add_hours(time, n)``,
    ``add_minutes(time, n)``. Calendar functions, run against the policy's
    calendar: ``add_working_days(date, n)`` (the n-th working day after the
    date), ``roll_to_working_day(date)``, ``next_time_of_day(time, at)``,
    ``add_service_hours(time, hours, opens, closes)`` and
    ``service_period_end(time, opens, closes)``.
    """

    __slots__ = ("args", "function")
    precedence = 100

    def __init__(self, function: str, *args: Expr) -> None:
        if function not in FUNCTIONS and function not in CALENDAR_FUNCTIONS:
            known = sorted({*FUNCTIONS, *CALENDAR_FUNCTIONS})
            msg = f"unknown function {function!r}: expected one of {known}"
            raise RuleDefinitionError(msg)
        self.function = function
        self.args = args

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def source(self, names: _Names) -> str:
        args = [a.source(names) for a in self.args]
        if self.function in CALENDAR_FUNCTIONS:
            target = names.bind(CALENDAR_FUNCTIONS[self.function])
            return f"{target}(cal, {', '.join(args)})"
        return f"{names.bind(FUNCTIONS[self.function])}({', '.join(args)})"

    def render(self) -> str:
        return f"{self.function}({', '.join(a.render() for a in self.args)})"


def lift(value: object) -> Expr:
    """Return ``value`` as an expression (constants are wrapped)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, float):
        msg = f"float constant {value!r} in a rule: use Decimal or int (money is never float)"
        raise RuleDefinitionError(msg)
    return Const(value)


def fact(name: str) -> Fact:
    """Refer to the fact ``name`` of the case."""
    return Fact(name)


def param(name: str) -> Param:
    """Refer to the policy parameter ``name`` (its value on the decision date)."""
    return Param(name)


def const(value: object) -> Expr:
    """A literal value; ``Decimal`` for money."""
    return lift(value)


def call(function: str, *args: object) -> Call:
    """Call one of the functions listed in :class:`Call`."""
    return Call(function, *(lift(a) for a in args))


#: Always-true condition, for a table's last (default) row.
TRUE: Final[Expr] = Const(True)
