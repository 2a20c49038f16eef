"""Expression trees over fact names and policy parameters: the one IR of rule tables.

A rule's condition (and any computed output) is a small tree built from
:func:`fact`, :func:`param` and constants with Python operators::

    (fact("status") == "signed") & (fact("days_since_signed") <= param("returns.no_reason_days"))

Trees are plain immutable data (frozen, slotted attrs classes) with no
backend code in them. Each backend is an :class:`ExprVisitor` subclass with
one method per node type, dispatched in one place (:meth:`ExprVisitor.visit`):

* the text renderer, :mod:`csrules.rules._render` (:meth:`Expr.render`);
* the single-case Python-source compiler, :mod:`csrules.rules._pysource`,
  used by :class:`~csrules.rules.Table`;
* the numpy column compiler of :mod:`csrules.batch`.

Functions a :class:`Call` may name are registered once, with their scalar
and vectorised implementations, in :mod:`csrules.rules._functions`.

``&``, ``|`` and ``~`` mean *and*, *or* and *not* (Python's ``and``/``or``
cannot be overloaded); comparisons build nodes instead of returning booleans.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Generic, TypeVar

import attrs

from csrules.exceptions import RuleDefinitionError
from csrules.rules._functions import FUNCTIONS

__all__ = [
    "All",
    "AnyOf",
    "Arith",
    "Call",
    "Compare",
    "Const",
    "Expr",
    "ExprVisitor",
    "Fact",
    "In",
    "IsNone",
    "Not",
    "Param",
    "call",
    "const",
    "fact",
    "lift",
    "param",
]

T = TypeVar("T")

#: Comparison operators a :class:`Compare` may carry.
COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})
#: Arithmetic operators an :class:`Arith` may carry.
ARITHMETIC: Final = frozenset({"+", "-", "*"})

#: What each operator computes, for the backends that apply operators to
#: values (the evaluator, the numpy backend, the table analysis).
OPERATORS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
#: The comparison that holds with its sides swapped (``a < b`` is ``b > a``).
FLIPPED: Final[Mapping[str, str]] = {
    "==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="
}  # fmt: skip


class Expr:
    """Base class of every expression node (immutable data).

    Operators build new nodes; :meth:`render`, :meth:`facts`,
    :meth:`params` and :meth:`walk` are conveniences over the backends.
    """

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # == builds a node, so no hashing

    # -- structure -------------------------------------------------------
    def children(self) -> tuple[Expr, ...]:
        """The direct sub-expressions."""
        return ()

    def render(self) -> str:
        """Human-readable form, as printed in decision tables."""
        from csrules.rules._render import render

        return render(self)

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

    # -- operators -------------------------------------------------------
    def __and__(self, other: object) -> Expr:
        return _bool_op(All, self, lift(other))

    def __or__(self, other: object) -> Expr:
        return _bool_op(AnyOf, self, lift(other))

    def __invert__(self) -> Expr:
        return Not(self)

    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return Compare("==", self, lift(other))

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return Compare("!=", self, lift(other))

    def __lt__(self, other: object) -> Expr:
        return Compare("<", self, lift(other))

    def __le__(self, other: object) -> Expr:
        return Compare("<=", self, lift(other))

    def __gt__(self, other: object) -> Expr:
        return Compare(">", self, lift(other))

    def __ge__(self, other: object) -> Expr:
        return Compare(">=", self, lift(other))

    def __add__(self, other: object) -> Expr:
        return Arith("+", self, lift(other))

    def __sub__(self, other: object) -> Expr:
        return Arith("-", self, lift(other))

    def __mul__(self, other: object) -> Expr:
        return Arith("*", self, lift(other))

    def __bool__(self) -> bool:
        msg = (
            "an expression has no truth value: use & | ~ instead of and/or/not, "
            "and compare expressions only inside a rule condition"
        )
        raise TypeError(msg)

    def isin(self, values: Iterable[object]) -> Expr:
        """True when the value is one of ``values``."""
        return In(self, tuple(values), negate=False)

    def notin(self, values: Iterable[object]) -> Expr:
        """True when the value is none of ``values``."""
        return In(self, tuple(values), negate=True)

    def is_none(self) -> Expr:
        """True when the value is missing (``None``)."""
        return IsNone(self, negate=False)

    def is_not_none(self) -> Expr:
        """True when the value is present (not ``None``)."""
        return IsNone(self, negate=True)


@attrs.frozen(eq=False)
class Fact(Expr):
    """A named fact of the case (a column of the fact record)."""

    name: str


@attrs.frozen(eq=False)
class Param(Expr):
    """A named policy parameter, resolved for the decision's date."""

    name: str


@attrs.frozen(eq=False)
class Const(Expr):
    """A literal value (string, number, ``Decimal``, enum member, ``None``)."""

    value: object


def _operator(allowed: frozenset[str]) -> Callable[[Any, Any, str], None]:
    def check(_node: Any, attribute: Any, value: str) -> None:
        if value not in allowed:
            msg = f"operator {value!r}: expected one of {sorted(allowed)}"
            raise RuleDefinitionError(msg)

    return check


@attrs.frozen(eq=False)
class Compare(Expr):
    """``left op right`` for a comparison ``op`` (``==``, ``!=``, ``<``, ...)."""

    op: str = attrs.field(validator=_operator(COMPARISONS))
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@attrs.frozen(eq=False)
class Arith(Expr):
    """``left op right`` for ``+``, ``-`` or ``*``."""

    op: str = attrs.field(validator=_operator(ARITHMETIC))
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@attrs.frozen(eq=False)
class All(Expr):
    """*and* over any number of operands (nested ones are flattened by ``&``)."""

    items: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.items


@attrs.frozen(eq=False)
class AnyOf(Expr):
    """*or* over any number of operands (nested ones are flattened by ``|``)."""

    items: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.items


def _bool_op(kind: type[All] | type[AnyOf], *items: Expr) -> Expr:
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if type(item) is kind else (item,))
    return kind(tuple(flat))


@attrs.frozen(eq=False)
class Not(Expr):
    """*not* of one operand."""

    item: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.item,)


def _constants(values: Iterable[object]) -> tuple[object, ...]:
    values = tuple(values)
    for value in values:
        lift(value)  # refuses floats, as every constant does
    return values


@attrs.frozen(eq=False)
class In(Expr):
    """Membership of ``item`` in ``values`` (or not, with ``negate``)."""

    item: Expr
    values: tuple[object, ...] = attrs.field(converter=_constants)
    negate: bool = attrs.field(kw_only=True)

    def children(self) -> tuple[Expr, ...]:
        return (self.item,)


@attrs.frozen(eq=False)
class IsNone(Expr):
    """``item is None`` (or ``is not None``, with ``negate``)."""

    item: Expr
    negate: bool = attrs.field(kw_only=True)

    def children(self) -> tuple[Expr, ...]:
        return (self.item,)


def _known_function(_node: Any, attribute: Any, value: str) -> None:
    if value not in FUNCTIONS:
        msg = f"unknown function {value!r}: expected one of {sorted(FUNCTIONS)}"
        raise RuleDefinitionError(msg)


@attrs.frozen(eq=False, init=False)
class Call(Expr):
    """A call of a function of the registry (:data:`csrules.rules._functions.FUNCTIONS`).

    Plain functions: ``earlier(a, b)`` / ``later(a, b)`` (ignoring ``None``),
    ``add_days(date, n)``, ``subtract_days(date, n)``, ``add_hours(time, n)``,
    ``add_minutes(time, n)``. Calendar functions, run against the policy's
    calendar: ``add_working_days(date, n)`` (the n-th working day after the
    date), ``roll_to_working_day(date)``, ``next_time_of_day(time, at)``,
    ``add_service_hours(time, hours, opens, closes)`` and
    ``service_period_end(time, opens, closes)``.
    """

    function: str = attrs.field(validator=_known_function)
    args: tuple[Expr, ...]

    def __init__(self, function: str, *args: Expr) -> None:
        self.__attrs_init__(function, tuple(args))
        wanted = FUNCTIONS[function].args
        if len(self.args) != len(wanted):
            msg = (
                f"{function}() takes {len(wanted)} argument(s) ({', '.join(wanted)}), "
                f"got {len(self.args)}"
            )
            raise RuleDefinitionError(msg)

    def children(self) -> tuple[Expr, ...]:
        return self.args


# ---------------------------------------------------------------- the visitor protocol


class ExprVisitor(Generic[T]):
    """A backend over expression trees: one method per node type.

    :meth:`visit` dispatches on the node's type through one table; a node
    type the table does not know goes to :meth:`unknown`.
    """

    __slots__ = ()

    def visit(self, expr: Expr) -> T:
        """The backend's value for ``expr``."""
        method = _DISPATCH.get(type(expr))
        if method is None:
            return self.unknown(expr)
        result: T = getattr(self, method)(expr)
        return result

    def unknown(self, expr: Expr) -> T:
        """A node type outside the IR (refused by default)."""
        msg = f"the expression node {type(expr).__name__} is not part of the expression language"
        raise RuleDefinitionError(msg)

    def fact(self, expr: Fact) -> T:
        """A fact."""
        raise NotImplementedError

    def param(self, expr: Param) -> T:
        """A parameter."""
        raise NotImplementedError

    def const(self, expr: Const) -> T:
        """A constant."""
        raise NotImplementedError

    def compare(self, expr: Compare) -> T:
        """A comparison."""
        raise NotImplementedError

    def arith(self, expr: Arith) -> T:
        """Arithmetic."""
        raise NotImplementedError

    def all(self, expr: All) -> T:
        """*and*."""
        raise NotImplementedError

    def any(self, expr: AnyOf) -> T:
        """*or*."""
        raise NotImplementedError

    def not_(self, expr: Not) -> T:
        """*not*."""
        raise NotImplementedError

    def isin(self, expr: In) -> T:
        """Membership."""
        raise NotImplementedError

    def is_none(self, expr: IsNone) -> T:
        """A test for ``None``."""
        raise NotImplementedError

    def call(self, expr: Call) -> T:
        """A function call."""
        raise NotImplementedError


_DISPATCH: Final[Mapping[type[Expr], str]] = {
    Fact: "fact",
    Param: "param",
    Const: "const",
    Compare: "compare",
    Arith: "arith",
    All: "all",
    AnyOf: "any",
    Not: "not_",
    In: "isin",
    IsNone: "is_none",
    Call: "call",
}


# ---------------------------------------------------------------- building


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
