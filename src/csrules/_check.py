"""Static analysis of decision tables (see ``docs/check.md``).

:func:`check_tables` reads the rules of some tables, the type of every fact
(:class:`FactDomain`) and a policy's parameter values on one date, and lists
the defects it can prove (:class:`Finding`): rules that never fire, rules of a
``unique`` table that can match together, inputs no rule matches, numeric or
date bands that overlap or leave holes, parameters and facts nothing reads,
and explanation texts that say nothing or name something unknown.

How it works: each fact's domain is cut into finitely many *cells* (the
members of an enum, ``True``/``False``, the texts the rules name plus "any
other text", the intervals between the numbers, dates and times the rules
compare the fact with), so that every comparison in the tables is either true
or false on a whole cell. A condition becomes a union of boxes (a set of
cells per fact), and rules are compared by exact set operations on boxes.
Facts are independent of one another here: a link the code that builds the
fact record keeps (``discounted`` is ``price_factor < 1``) is unknown to it.

Parameters are read as of the date given. A condition over parameters alone
(a switch such as ``param("refund_clock") == "taobao"``) is a constant on that
date; a rule it switches off is not reported, and neither is a rule that
only a switch's value on that date pre-empts (``masked`` holds whatever the
switches say). Anything else the analysis
cannot model (a function of facts, arithmetic on facts, a comparison of two
facts, a fact with no declared domain) is an *opaque* condition, taken as a
yes/no unknown independent of the rest: then ``masked`` and ``unreachable``
are reported only when they hold for either answer, and ``gap`` and
``overlap`` only for inputs that hold whatever the unknown answers; such
findings say that the analysis was partial.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from csrules.exceptions import ArgumentTypeError, PolicyError
from csrules.policy import Policy
from csrules.rules._eval import Evaluator
from csrules.rules._expr import (
    FLIPPED,
    OPERATORS,
    All,
    AnyOf,
    Arith,
    Call,
    Compare,
    Const,
    Expr,
    ExprVisitor,
    Fact,
    In,
    IsNone,
    Not,
    Param,
    lift,
)
from csrules.rules._table import HitPolicy, Rule, Table

if TYPE_CHECKING:
    from csrules._ruleset import KindSpec, RuleSet

__all__ = ["KINDS", "FactDomain", "Finding", "check_ruleset", "check_tables", "kind_domains"]

#: The kinds of finding, in the order they are listed for one rule.
KINDS: Final = (
    "unreachable",
    "masked",
    "overlap",
    "gap",
    "band",
    "empty_text",
    "bad_placeholder",
    "unused_param",
    "unused_fact",
)

_ORDERED: Final = (int, decimal.Decimal, dt.date, dt.datetime, dt.time)
_SUPPORTED: Final = "an Enum class, bool, int, Decimal, date, datetime, time or str"


def _check_type(_obj: object, _attribute: object, value: Any) -> None:
    ok = isinstance(value, type) and (
        issubclass(value, enum.Enum) or value in (bool, str, *_ORDERED)
    )
    if not ok:
        raise ArgumentTypeError("FactDomain.type", value, _SUPPORTED)


@attrs.frozen
class FactDomain:
    """The values a fact may take, for :func:`check_tables`.

    Attributes:
        type: an ``Enum`` class (its members), ``bool``, ``int``,
            ``decimal.Decimal``, ``datetime.date``, ``datetime.datetime``
            (aware), ``datetime.time`` or ``str``.
        nullable: whether the fact may also be ``None``.
    """

    type: type[Any] = attrs.field(validator=_check_type)
    nullable: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))


@attrs.frozen
class Finding:
    """One defect :func:`check_tables` found.

    Attributes:
        table: the table's name, or ``None`` for a finding about the policy
            or the facts as a whole (``unused_param``, ``unused_fact``).
        rule: the rule's id, or ``None`` when the finding is about no one rule.
        kind: one of :data:`KINDS`.
        explanation: one sentence saying what is wrong, with an example
            input where there is one.
    """

    table: str | None
    rule: str | None
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    explanation: str

    def __str__(self) -> str:
        return f"{self.table or '-'}  {self.rule or '-'}  {self.kind}  {self.explanation}"


# ---------------------------------------------------------------- values and cells


class _Other:
    """The cell of a text fact holding any text the rules do not name."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "any other text"


_OTHER: Final = _Other()
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CST: Final = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_US: Final = dt.timedelta(microseconds=1)
_DAY_US: Final = 86_400_000_000


def _show(value: object) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if value is None:
        return "none"
    if isinstance(value, str):
        return repr(value)
    return str(value)


@attrs.frozen
class _Scale:
    """Maps an ordered type to numbers (``discrete``: integers) and back."""

    discrete: bool
    key: Callable[[Any], Any]
    value: Callable[[Any], Any]
    accepts: Callable[[object], bool]
    low: int | None = None
    high: int | None = None


def _is_number(v: object) -> bool:
    return isinstance(v, int | decimal.Decimal) and not isinstance(v, bool)


def _time_key(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _time_value(k: int) -> dt.time:
    seconds, micro = divmod(k, 1_000_000)
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, micro)


_SCALES: Final[Mapping[type, _Scale]] = {
    int: _Scale(True, lambda v: v, lambda k: k, _is_number),
    decimal.Decimal: _Scale(False, lambda v: v, lambda k: k, _is_number),
    dt.date: _Scale(
        True,
        dt.date.toordinal,
        dt.date.fromordinal,
        lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
        1,
        dt.date.max.toordinal(),
    ),
    dt.datetime: _Scale(
        True,
        lambda v: (v - _EPOCH) // _US,
        lambda k: (_EPOCH + k * _US).astimezone(_CST),
        lambda v: isinstance(v, dt.datetime) and v.utcoffset() is not None,
    ),
    dt.time: _Scale(
        True,
        _time_key,
        _time_value,
        lambda v: isinstance(v, dt.time) and v.tzinfo is None,
        0,
        _DAY_US - 1,
    ),
}


@attrs.frozen
class _Cell:
    """A set of values of one fact on which every condition agrees.

    ``value`` is one value of the set; ``label`` the set in words. Cells of
    ordered facts are intervals from ``low`` to ``high`` (``None``: no bound),
    each end open or closed.
    """

    value: object
    label: str
    ordered: bool = False
    low: object = None
    high: object = None
    low_open: bool = False
    high_open: bool = False


def _span(first: _Cell, last: _Cell) -> str:
    """The interval from the start of ``first`` to the end of ``last``, in words."""
    lo, hi = first.low, last.high
    if lo is None and hi is None:
        return "any value"
    if lo is None:
        return f"{'less than' if last.high_open else 'up to'} {_show(hi)}"
    if hi is None:
        return f"more than {_show(lo)}" if first.low_open else f"{_show(lo)} or more"
    if lo == hi and not first.low_open and not last.high_open:
        return _show(lo)
    if not first.low_open and not last.high_open:
        return f"from {_show(lo)} to {_show(hi)}"
    start = f"more than {_show(lo)}" if first.low_open else f"at least {_show(lo)}"
    end = f"less than {_show(hi)}" if last.high_open else f"up to {_show(hi)}"
    return f"{start} and {end}"


def _interval(
    value: object, low: object, high: object, *, low_open: bool = False, high_open: bool = False
) -> _Cell:
    cell = _Cell(value, "", True, low, high, low_open, high_open)
    return attrs.evolve(cell, label=_span(cell, cell))


def _discrete_cells(scale: _Scale, points: Iterable[object]) -> list[_Cell]:
    low, high = scale.low, scale.high
    cuts: set[int] = set()
    for p in points:
        k = scale.key(p)
        cuts.update((math.floor(k), math.ceil(k)))
    ps = sorted(c for c in cuts if (low is None or c >= low) and (high is None or c <= high))

    def span(a: int | None, b: int | None) -> _Cell | None:
        a = low if a is None else a
        b = high if b is None else b
        if a is not None and b is not None and a > b:
            return None
        rep = a if a is not None else (b if b is not None else 0)
        return _interval(
            scale.value(rep),
            None if a is None or a == low else scale.value(a),
            None if b is None or b == high else scale.value(b),
        )

    if not ps:
        only = span(None, None)
        return [only] if only else []
    found = [span(None, ps[0] - 1)]
    for i, p in enumerate(ps):
        found.append(span(p, p))
        if i + 1 < len(ps):
            found.append(span(p + 1, ps[i + 1] - 1))
    found.append(span(ps[-1] + 1, None))
    return [c for c in found if c is not None]


def _dense_cells(points: Iterable[object]) -> list[_Cell]:
    ts: list[Any] = sorted(set(points))
    if not ts:
        return [_interval(decimal.Decimal(0), None, None)]
    cells = [_interval(ts[0] - 1, None, ts[0], high_open=True)]
    for i, t in enumerate(ts):
        cells.append(_interval(t, t, t))
        if i + 1 < len(ts):
            mid = (decimal.Decimal(t) + decimal.Decimal(ts[i + 1])) / 2
            cells.append(_interval(mid, t, ts[i + 1], low_open=True, high_open=True))
    cells.append(_interval(ts[-1] + 1, ts[-1], None, low_open=True))
    return cells


@attrs.frozen
class _Dim:
    """One dimension of the input space: a fact, or an opaque yes/no condition."""

    name: str
    cells: tuple[_Cell, ...]
    opaque: bool = False

    @property
    def everything(self) -> frozenset[int]:
        return frozenset(range(len(self.cells)))


# ---------------------------------------------------------------- boxes

_Box = Mapping[str, frozenset[int]]
_Region = list[_Box]


class _Space:
    """Boxes (a set of cells per dimension; a missing dimension: any cell)."""

    def __init__(self, dims: Mapping[str, _Dim]) -> None:
        self.dims = dims

    def meet(self, a: _Box, b: _Box) -> _Box | None:
        out = dict(a)
        for name, cells in b.items():
            both = out[name] & cells if name in out else cells
            if not both:
                return None
            out[name] = both
        return out

    def minus(self, a: _Box, b: _Box) -> list[_Box]:
        if self.meet(a, b) is None:
            return [a]
        pieces: list[_Box] = []
        current = dict(a)
        for name, cells in b.items():
            mine = current.get(name, self.dims[name].everything)
            rest = mine - cells
            if rest:
                pieces.append({**current, name: rest})
            current[name] = mine & cells
        return pieces

    def subtract(self, region: Sequence[_Box], other: Sequence[_Box]) -> _Region:
        out = list(region)
        for b in other:
            out = [piece for a in out for piece in self.minus(a, b)]
            if not out:
                break
        return out

    def both(self, r: Sequence[_Box], s: Sequence[_Box]) -> _Region:
        return [m for a in r for b in s if (m := self.meet(a, b)) is not None]

    def complement(self, region: Sequence[_Box]) -> _Region:
        return self.subtract([{}], region)

    def project(self, region: Sequence[_Box]) -> _Region:
        """The boxes without their opaque dimensions (some answer of them)."""
        return [{k: v for k, v in box.items() if not self.dims[k].opaque} for box in region]

    def for_every_answer(self, region: Sequence[_Box]) -> _Region:
        """Inputs in ``region`` whatever every opaque condition answers."""
        if not any(d.opaque for d in self.dims.values()):
            return list(region)
        return self.complement(self.project(self.complement(region)))

    def witness(self, box: _Box) -> str:
        shown = [
            f"{name}={_show(self.dims[name].cells[min(cells)].value)}"
            for name, cells in box.items()
            if not self.dims[name].opaque
        ]
        if not shown:
            return "any input"
        return ", ".join(shown)


# ---------------------------------------------------------------- reading conditions


class _OpaqueError(Exception):
    """A sub-expression the analysis does not model."""


class _Evaluate(Evaluator):
    """The value of an expression that reads no fact (parameters as of the
    date): the evaluating backend, with a fact or a parameter not in force
    making the expression opaque to the analysis."""

    __slots__ = ()

    def __init__(self, params: Mapping[str, Any], calendar: object) -> None:
        super().__init__({}, params, calendar)

    def fact(self, expr: Fact) -> object:
        raise _OpaqueError(expr.name)

    def param(self, expr: Param) -> object:
        try:
            return self.params[expr.name]
        except KeyError:
            raise _OpaqueError(expr.name) from None


@attrs.frozen
class _FactTest:
    """A test of one fact: ``test(value)``; ``points`` are the values it compares with."""

    fact: str
    test: Callable[[Any], bool]
    points: tuple[object, ...]


def _safe(test: Callable[[Any], object]) -> Callable[[Any], bool]:
    def run(value: Any) -> bool:
        if value is _OTHER:
            try:
                return bool(test(value))
            except TypeError:
                return False
        if value is None:
            try:
                return bool(test(None))
            except TypeError:  # a missing value compared: no match
                return False
        return bool(test(value))

    return run


class _Reader:
    """Turns the conditions of one table into regions of one space."""

    def __init__(
        self,
        rules: Sequence[Rule],
        domains: Mapping[str, FactDomain],
        params: Mapping[str, Any],
        calendar: object,
        derived: Mapping[str, Expr] | None = None,
    ) -> None:
        self.domains = domains
        self.derived = derived or {}
        self.expanded: dict[int, Expr | None] = {}
        self.evaluate = _Evaluate(params, calendar)
        self.tests: dict[int, _FactTest | str | bool] = {}
        self.switches: dict[int, str] = {}
        self.opaque: dict[str, str] = {}  # dimension name -> why
        self.points: dict[str, list[object]] = {}
        for rule in rules:
            self._collect(rule.when)
        dims: dict[str, _Dim] = {}
        for name in sorted({t.fact for t in self.tests.values() if isinstance(t, _FactTest)}):
            dims[name] = _Dim(name, tuple(self._cells(name)))
        for name in self.opaque:
            dims[name] = _Dim(name, (_Cell(True, "true"), _Cell(False, "false")), opaque=True)
        for name in set(self.switches.values()):
            dims[name] = _Dim(name, (_Cell(True, "true"), _Cell(False, "false")), opaque=True)
        self.space = _Space(dims)
        self.fact_dims = [d for d in dims.values() if not d.opaque]

    # -- classification -------------------------------------------------
    def _expansion(self, expr: Expr) -> Expr | None:
        """A derived fact's expression in place of the fact (``fact("paid")``,
        ``fact("paid") == False``), or ``None``; the same object every time."""
        key = id(expr)
        if key in self.expanded:
            return self.expanded[key]
        found: Expr | None = None
        if isinstance(expr, Fact):
            found = self.derived.get(expr.name)
        elif isinstance(expr, Compare) and expr.op in ("==", "!="):
            side, other = expr.left, expr.right
            if not isinstance(side, Fact):
                side, other = other, side
            if (
                isinstance(side, Fact)
                and side.name in self.derived
                and isinstance(other, Const)
                and isinstance(other.value, bool)
            ):
                derived = self.derived[side.name]
                found = derived if other.value == (expr.op == "==") else Not(derived)
        self.expanded[key] = found
        return found

    def _collect(self, expr: Expr) -> None:
        expanded = self._expansion(expr)
        if expanded is not None:
            self._collect(expanded)
            return
        if isinstance(expr, All | AnyOf):
            for item in expr.items:
                self._collect(item)
            return
        if isinstance(expr, Not):
            self._collect(expr.item)
            return
        self.tests[id(expr)] = self._classify(expr)

    def _classify(self, expr: Expr) -> _FactTest | str | bool:
        facts = expr.facts()
        if not facts:
            try:
                value = bool(self.evaluate.visit(expr))
            except (_OpaqueError, TypeError, ValueError, ArithmeticError):
                return self._opaque(expr, "it could not be evaluated")
            if expr.params():
                self.switches[id(expr)] = f"`{expr.render()}`"
            return value
        test = self._fact_test(expr)
        if test is None:
            return self._opaque(expr, "it is not a comparison of one fact with a value")
        self.points.setdefault(test.fact, []).extend(test.points)
        return test

    def _opaque(self, expr: Expr, why: str) -> str:
        name = f"`{expr.render()}`"
        self.opaque.setdefault(name, why)
        return name

    def _value(self, expr: Expr) -> tuple[bool, object]:
        if expr.facts():
            return False, None
        try:
            return True, self.evaluate.visit(expr)
        except (_OpaqueError, TypeError, ValueError, ArithmeticError):
            return False, None

    def _fact_test(self, expr: Expr) -> _FactTest | None:
        if isinstance(expr, Fact):
            domain = self.domains.get(expr.name)
            if domain is None:
                return None
            falsy: tuple[object, ...] = (0,) if domain.type in (int, decimal.Decimal) else ()
            return _FactTest(expr.name, _safe(bool), ("",) if domain.type is str else falsy)
        if isinstance(expr, In | IsNone) and isinstance(expr.item, Fact):
            name = expr.item.name
            if name not in self.domains:
                return None
            if isinstance(expr, IsNone):
                negate = expr.negate
                return _FactTest(name, _safe(lambda v: (v is None) != negate), ())
            values, negate = frozenset(expr.values), expr.negate
            return self._points_test(name, "==", values, lambda v: (v in values) != negate)
        if isinstance(expr, Compare):
            left, right, op = expr.left, expr.right, expr.op
            if isinstance(right, Fact) and not isinstance(left, Fact):
                left, right, op = right, left, FLIPPED[op]
            if not isinstance(left, Fact) or left.name not in self.domains:
                return None
            known, value = self._value(right)
            if not known:
                return None
            compare = OPERATORS[op]
            return self._points_test(left.name, op, (value,), lambda v: compare(v, value))
        return None

    def _points_test(
        self, name: str, op: str, values: Iterable[object], test: Callable[[Any], object]
    ) -> _FactTest | None:
        domain = self.domains[name]
        values = tuple(values)
        if domain.type in _SCALES:
            scale = _SCALES[domain.type]
            if not all(scale.accepts(v) or (v is None and op in ("==", "!=")) for v in values):
                return None  # a value of another type (True == 1, a date against a time)
            return _FactTest(name, _safe(test), tuple(v for v in values if v is not None))
        if domain.type is str:
            if op not in ("==", "!="):
                return None
            return _FactTest(name, _safe(test), tuple(v for v in values if isinstance(v, str)))
        if op not in ("==", "!="):
            return None
        return _FactTest(name, _safe(test), ())

    def _cells(self, name: str) -> list[_Cell]:
        domain = self.domains[name]
        kind = domain.type
        cells: list[_Cell]
        if issubclass(kind, enum.Enum):
            cells = [_Cell(m, _show(m)) for m in kind]
        elif kind is bool:
            cells = [_Cell(False, "false"), _Cell(True, "true")]
        elif kind is str:
            texts = sorted({p for p in self.points.get(name, ()) if isinstance(p, str)})
            cells = [_Cell(t, repr(t)) for t in texts] + [_Cell(_OTHER, "any other text")]
        else:
            scale = _SCALES[kind]
            points = self.points.get(name, ())
            cells = _discrete_cells(scale, points) if scale.discrete else _dense_cells(points)
        if domain.nullable:
            cells.append(_Cell(None, "none"))
        return cells

    # -- regions --------------------------------------------------------
    def region(self, expr: Expr, *, free_switches: bool = False) -> _Region:
        """The inputs ``expr`` holds for; with ``free_switches``, conditions on
        parameters alone are unknowns rather than their values on the date."""
        space = self.space
        if isinstance(expr, All):
            out: _Region = [{}]
            for item in expr.items:
                out = space.both(out, self.region(item, free_switches=free_switches))
                if not out:
                    break
            return out
        if isinstance(expr, AnyOf):
            return [b for i in expr.items for b in self.region(i, free_switches=free_switches)]
        if isinstance(expr, Not):
            return space.complement(self.region(expr.item, free_switches=free_switches))
        expanded = self.expanded.get(id(expr))
        if expanded is not None:
            return self.region(expanded, free_switches=free_switches)
        test = self.tests[id(expr)]
        if isinstance(test, bool):
            switch = self.switches.get(id(expr))
            if free_switches and switch is not None:
                return [{switch: frozenset({0})}]
            return [{}] if test else []
        if isinstance(test, str):
            return [{test: frozenset({0})}]
        dim = space.dims[test.fact]
        cells = frozenset(i for i, c in enumerate(dim.cells) if test.test(c.value))
        if not cells:
            return []
        return [{}] if cells == dim.everything else [{test.fact: cells}]


# ---------------------------------------------------------------- the checks


def _quote(ids: Iterable[str]) -> str:
    names = [f"'{i}'" for i in ids]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class _TableCheck:
    def __init__(
        self,
        table: Table,
        domains: Mapping[str, FactDomain],
        params: Mapping[str, Any],
        calendar: object,
        on: dt.date,
        derived: Mapping[str, Expr] | None = None,
    ) -> None:
        self.table = table
        self.params = params
        self.on = on
        self.reader = _Reader(table.rules, domains, params, calendar, derived)
        self.space = self.reader.space
        self.regions = [self.reader.region(r.when) for r in table.rules]
        self.free = [self.reader.region(r.when, free_switches=True) for r in table.rules]
        self.findings: list[tuple[int, Finding]] = []

    def values(self, *rule_indices: int) -> str:
        """The parameter values the conditions of these rules read, in words."""
        rules = self.table.rules
        names = sorted(frozenset().union(*(rules[i].when.params() for i in rule_indices)))
        shown = [f"{n} = {_show(self.params[n])}" for n in names if n in self.params]
        if not shown:
            return ""
        return f" (with {', '.join(shown)} on {self.on.isoformat()})"

    def add(self, index: int | None, kind: str, text: str) -> None:
        rule = None if index is None else self.table.rules[index].id
        position = len(self.table.rules) if index is None else index
        self.findings.append((position, Finding(self.table.name, rule, kind, text)))

    def partial(self, *rule_indices: int) -> str:
        names = sorted(
            {
                box_key
                for i in rule_indices
                for box in (*self.regions[i], *self.free[i])
                for box_key in box
                if box_key in self.reader.opaque
            }
        )
        if not names:
            return ""
        return (
            f" (partial analysis: {', '.join(names)} taken as unknown, "
            "and this holds whatever it answers)"
        )

    def table_partial(self) -> str:
        return self.partial(*range(len(self.table.rules)))

    def run(self) -> list[tuple[int, Finding]]:
        policy = self.table.hit_policy
        live: list[int] = []
        for i, rule in enumerate(self.table.rules):
            if not self.free[i]:
                self.add(
                    i,
                    "unreachable",
                    f"Rule '{rule.id}' can never fire: its condition `{rule.when.render()}` "
                    f"holds for no input{self.values(i)}.",
                )
            elif self.regions[i]:
                live.append(i)
        band_pairs = self.bands(live) if policy is not HitPolicy.COLLECT else set()
        if policy is HitPolicy.FIRST:
            self.masked(live)
        if policy is HitPolicy.UNIQUE:
            self.overlaps(live, band_pairs)
        if policy is not HitPolicy.COLLECT:
            self.gap()
        return self.findings

    def masked(self, live: list[int]) -> None:
        # switches stay unknowns here: a rule that only a switch's value on the
        # date pre-empts is a configuration choice, not a defect
        covered: _Region = []
        rules, free = self.table.rules, self.free
        for i in range(len(rules)):
            region = free[i]
            if i in live and not self.space.subtract(region, covered):
                earlier = [j for j in range(i) if free[j]]
                catch_all = [rules[j].id for j in earlier if free[j] == [{}]]
                if catch_all:
                    why = f"the earlier catch-all rule {_quote(catch_all[:1])} matches every input"
                else:
                    takers = [rules[j].id for j in earlier if self.space.both(region, free[j])]
                    why = (
                        f"earlier rules {_quote(takers)} already match every input it matches"
                        if len(takers) > 1
                        else f"the earlier rule {_quote(takers)} already matches every input it "
                        "matches"
                    )
                self.add(
                    i,
                    "masked",
                    f"Rule '{rules[i].id}' never fires in this first-hit table: {why}"
                    f"{self.values(i, *range(i))}{self.partial(i, *range(i))}.",
                )
            covered.extend(region)

    def overlaps(self, live: list[int], skip: set[tuple[int, int]]) -> None:
        rules = self.table.rules
        for a_pos, i in enumerate(live):
            for j in live[a_pos + 1 :]:
                if (i, j) in skip:
                    continue
                both = self.space.both(self.regions[i], self.regions[j])
                sure = self.space.for_every_answer(both) if both else []
                if sure:
                    self.add(
                        j,
                        "overlap",
                        f"Rules '{rules[i].id}' and '{rules[j].id}' of this unique table both "
                        f"match {self.space.witness(sure[0])}, so deciding it raises "
                        f"RuleOverlapError{self.values(i, j)}{self.partial(i, j)}.",
                    )

    def gap(self) -> None:
        covered = self.space.project([b for r in self.regions for b in r])
        holes = self.space.subtract([{}], covered)
        if holes:
            self.add(
                None,
                "gap",
                f"No rule matches {self.space.witness(holes[0])} (with any value of the other "
                f"facts), so deciding it raises NoRuleMatchedError{self.table_partial()}.",
            )

    def bands(self, live: list[int]) -> set[tuple[int, int]]:
        """Band checks; returns the pairs of rules reported as overlapping bands."""
        rules, unique = self.table.rules, self.table.hit_policy is HitPolicy.UNIQUE
        reported: set[tuple[int, int]] = set()
        for dim in self.reader.fact_dims:
            order = [k for k, c in enumerate(dim.cells) if c.ordered]
            if not order:
                continue
            bands: list[tuple[int, frozenset[int]]] = []
            for i in live:
                region = self.regions[i]
                if len(region) != 1 or set(region[0]) != {dim.name}:
                    continue
                cells = region[0][dim.name]
                spots = sorted(order.index(k) for k in cells if k in order)
                if len(spots) != len(cells) or spots[-1] - spots[0] + 1 != len(spots):
                    continue
                bands.append((i, cells))
            if len(bands) < 2:
                continue
            for a_pos, (i, a) in enumerate(bands):
                for j, b in bands[a_pos + 1 :]:
                    shared = a & b
                    if not shared or (not unique and (a <= b or b <= a)):
                        continue
                    reported.add((i, j))
                    ks = sorted(shared, key=order.index)
                    what = _span(dim.cells[ks[0]], dim.cells[ks[-1]])
                    self.add(
                        j,
                        "band",
                        f"The {dim.name} bands of rules '{rules[i].id}' and '{rules[j].id}' "
                        f"overlap: both take {dim.name} {what}{self.values(i, j)}.",
                    )
            union = frozenset().union(*(cells for _, cells in bands))
            spots = sorted(order.index(k) for k in union)
            missing = [order[s] for s in range(spots[0], spots[-1] + 1) if order[s] not in union]
            runs: list[list[int]] = []
            for k in missing:
                if runs and order.index(runs[-1][-1]) + 1 == order.index(k):
                    runs[-1].append(k)
                else:
                    runs.append([k])
            for run in runs:
                top = {i: max(order.index(k) for k in c) for i, c in bands}
                bottom = {i: min(order.index(k) for k in c) for i, c in bands}
                below = sorted(
                    (i for i in top if top[i] < order.index(run[0])), key=top.__getitem__
                )
                above = [i for i in bottom if bottom[i] > order.index(run[-1])]
                after = min(above, key=bottom.__getitem__) if above else None
                what = _span(dim.cells[run[0]], dim.cells[run[-1]])
                before_txt = f" between rule '{rules[below[-1]].id}'" if below else ""
                after_txt = f" and rule '{rules[after].id}'" if after is not None else ""
                self.add(
                    after,
                    "band",
                    f"The {dim.name} bands leave a hole{before_txt}{after_txt}: "
                    f"{dim.name} {what} falls in no band{self.values(*(i for i, _ in bands))}.",
                )
        return reported


_FORMATTER: Final = string.Formatter()


def _texts(table: Table, known: frozenset[str]) -> list[tuple[int, Finding]]:
    found: list[tuple[int, Finding]] = []
    for index, rule in enumerate(table.rules):
        for lang, text in (("en", rule.en), ("zh", rule.zh)):
            try:
                parts = list(_FORMATTER.parse(text))
            except ValueError as err:
                found.append(
                    (
                        index,
                        Finding(
                            table.name,
                            rule.id,
                            "bad_placeholder",
                            f"The {lang} text of rule '{rule.id}' is not a valid template ({err}).",
                        ),
                    )
                )
                continue
            literal = "".join(p[0] for p in parts)
            if not literal.strip():
                said = "is empty" if not text.strip() else "has only placeholders in it"
                found.append(
                    (
                        index,
                        Finding(
                            table.name,
                            rule.id,
                            "empty_text",
                            f"The {lang} explanation of rule '{rule.id}' {said}, "
                            "so it tells a person nothing.",
                        ),
                    )
                )
            for _, field, _, _ in parts:
                if field is not None and field not in known:
                    found.append(
                        (
                            index,
                            Finding(
                                table.name,
                                rule.id,
                                "bad_placeholder",
                                f"The {lang} text of rule '{rule.id}' has the placeholder "
                                f"{{{field}}}, which names no output, fact or parameter; it "
                                "would be printed as it stands.",
                            ),
                        )
                    )
    return found


def _reads(table: Table) -> frozenset[str]:
    names: set[str] = set()
    for rule in table.rules:
        names |= rule.facts() | rule.template_fields()
    for value in table.defaults.values():
        names |= lift(value).facts()
    return frozenset(names)


def check_tables(
    tables: Iterable[Table],
    facts: Mapping[str, FactDomain],
    policy: Policy,
    on: dt.date,
    *,
    also_read: Iterable[str] = (),
    derived: Mapping[str, Expr] | None = None,
) -> tuple[Finding, ...]:
    """Analyse decision tables and list their defects.

    Args:
        tables: the tables to check (together: the unused parameters and
            facts are those none of them reads).
        facts: the domain of every fact the tables read, by name.
        policy: the policy whose parameters the rules read.
        on: the date whose parameter values are used.
        also_read: names of parameters (or facts) read by something other
            than these tables, never reported as unused.
        derived: boolean facts derived from other facts, as the expression
            that derives them (``"discounted": fact("price_factor") < 1``):
            a condition on such a fact is read as that expression, so the
            links between facts are kept.

    Returns:
        The findings, table by table in rule order, then the unused
        parameters and facts. Kinds: ``unreachable`` (a condition no input
        satisfies), ``masked`` (a rule of a first-hit table that earlier rules
        always pre-empt), ``overlap`` (two rules of a unique table that match
        one input), ``gap`` (an input no rule of a first-hit or unique table
        matches), ``band`` (intervals of one fact, one per rule, that overlap
        or leave a hole between them), ``empty_text``, ``bad_placeholder``,
        ``unused_param`` and ``unused_fact``.

    Raises:
        ArgumentTypeError: an argument is not of the type above.
    """
    tables = tuple(tables)
    for k, table in enumerate(tables):
        if not isinstance(table, Table):
            raise ArgumentTypeError(f"tables[{k}]", table, "a Table")
    for name, domain in facts.items():
        if not isinstance(domain, FactDomain):
            raise ArgumentTypeError(f"facts[{name!r}]", domain, "a FactDomain")
    if not isinstance(policy, Policy):
        raise ArgumentTypeError("policy", policy, "a Policy")
    if not isinstance(on, dt.date) or isinstance(on, dt.datetime):
        raise ArgumentTypeError("on", on, "a datetime.date")
    extra = frozenset(also_read)
    params = policy.resolve(on).values
    findings: list[Finding] = []
    for table in tables:
        check = _TableCheck(table, facts, params, policy.calendar, on, derived)
        known = frozenset(table.inputs) | frozenset(table.outputs) | frozenset(facts)
        per_table = check.run() + _texts(table, known | frozenset(policy.parameters))
        per_table.sort(key=lambda item: (item[0], KINDS.index(item[1].kind)))
        findings.extend(f for _, f in per_table)
    read_params = frozenset().union(*(t.params() for t in tables)) | extra
    staff = {p.name for p in policy.parameters.values() if p.staff_only}
    for name in sorted(set(policy.parameters) - read_params - staff):
        findings.append(
            Finding(
                None,
                None,
                "unused_param",
                f"The policy parameter '{name}' is read by no rule of these tables.",
            )
        )
    read_facts = frozenset().union(*(_reads(t) for t in tables)) | extra
    for name in sorted(set(facts) - read_facts):
        findings.append(
            Finding(
                None,
                None,
                "unused_fact",
                f"The fact '{name}' is declared but no rule of these tables reads it.",
            )
        )
    return tuple(findings)


# ---------------------------------------------------------------- rule sets

_DOMAIN_TYPES: Final = (bool, str, *_ORDERED)


def _domain_type(value: object) -> bool:
    return isinstance(value, type) and (issubclass(value, enum.Enum) or value in _DOMAIN_TYPES)


def _output_domain(table: Table, output: str) -> FactDomain | None:
    """The values a first-hit or unique table's rules give ``output``, when
    they are all constants of one enum class (or ``bool``)."""
    values: list[object] = []
    for rule in table.rules:
        given = rule.then.get(output)
        if given is None:
            if output not in table.defaults:
                return None
            given = lift(table.defaults[output])
        if not isinstance(given, Const):
            return None
        values.append(given.value)
    present = [v for v in values if v is not None]
    if not present:
        return None
    kinds = {type(v) for v in present}
    if len(kinds) != 1:
        return None
    (kind,) = kinds
    if not (issubclass(kind, enum.Enum) or kind is bool):
        return None
    return FactDomain(kind, nullable=len(present) < len(values))


class _Modelable(ExprVisitor[bool]):
    """Whether every test in a condition is one :class:`_Reader` reads exactly."""

    __slots__ = ("derived", "domains")

    def __init__(self, domains: Mapping[str, FactDomain], derived: Mapping[str, Expr]) -> None:
        self.domains = domains
        self.derived = derived

    def _side(self, expr: Expr) -> bool:
        if isinstance(expr, Fact):
            return expr.name in self.domains and expr.name not in self.derived
        return False

    def fact(self, expr: Fact) -> bool:
        return expr.name in self.derived or self.domains.get(expr.name) == FactDomain(bool)

    def param(self, expr: Param) -> bool:
        return True

    def const(self, expr: Const) -> bool:
        return True

    def compare(self, expr: Compare) -> bool:
        sides = (expr.left, expr.right)
        return any(self._side(a) and not b.facts() for a, b in (sides, sides[::-1]))

    def arith(self, expr: Arith) -> bool:
        return False

    def all(self, expr: All) -> bool:
        return all(self.visit(i) for i in expr.items)

    def any(self, expr: AnyOf) -> bool:
        return all(self.visit(i) for i in expr.items)

    def not_(self, expr: Not) -> bool:
        return self.visit(expr.item)

    def isin(self, expr: In) -> bool:
        return self._side(expr.item)

    def is_none(self, expr: IsNone) -> bool:
        return self._side(expr.item)

    def call(self, expr: Call) -> bool:
        return not expr.facts()


def kind_domains(kind: KindSpec) -> tuple[dict[str, FactDomain], dict[str, Expr]]:
    """The fact domains of one kind of a rule set, from its declarations.

    Each declared fact of a type :class:`FactDomain` takes gets its domain:
    an input or extra fact is nullable when it is declared
    :attr:`~csrules.FactSpec.nullable` (an extra fact with no default always
    is); a derived fact other than a ``bool`` is nullable when a fact it reads
    is. The outputs of a first-hit or unique table that later tables read get
    the enum (or ``bool``) of the constants its rules give them.

    Returns:
        The domains by fact name, and the boolean derived facts whose
        derivation the analysis reads exactly, by name with their expression
        (``check_tables(derived=...)``); other facts (``tuple``, ``object``,
        a derivation through a function) are taken as they are declared, or
        as unknown.
    """
    from csrules._ruleset import derived_order

    nullable: dict[str, bool] = {}
    domains: dict[str, FactDomain] = {}
    derived_specs = list(derived_order(kind))
    inputs = [f for f in kind.facts if f.derive is None]
    for spec in (*inputs, *derived_specs):
        if spec.derive is None:
            null = spec.default is None and (spec.nullable or spec.extra)
        else:
            null = spec.type is not bool and (
                spec.nullable or any(nullable.get(r, False) for r in spec.reads())
            )
        nullable[spec.name] = null
        if _domain_type(spec.type):
            domains[spec.name] = FactDomain(spec.type, null)
    for table in kind.tables:
        if table.hit_policy is HitPolicy.COLLECT:
            continue
        for output in table.outputs:
            if output not in domains:
                found = _output_domain(table, output)
                if found is not None:
                    domains[output] = found
    derived: dict[str, Expr] = {}
    for spec in derived_specs:
        derive = spec.derive
        if spec.type is bool and derive is not None and _Modelable(domains, derived).visit(derive):
            derived[spec.name] = derive
    return domains, derived


def _used_facts(kind: KindSpec) -> frozenset[str]:
    """The facts a kind's tables read, with the facts those derive from and
    the date fact."""
    used = {kind.date_fact}.union(*(_reads(t) for t in kind.tables))
    specs = {f.name: f for f in kind.facts}
    todo = list(used)
    while todo:
        spec = specs.get(todo.pop())
        if spec is None:
            continue
        for name in spec.reads():
            if name not in used:
                used.add(name)
                todo.append(name)
    return frozenset(used)


def _read_params(ruleset: RuleSet) -> frozenset[str]:
    """The parameters a rule set reads: in its tables, its derived facts and
    its stream rules."""
    names: set[str] = set()
    for kind in ruleset.kinds.values():
        for table in kind.tables:
            names |= table.params()
        for spec in kind.facts:
            if spec.derive is not None:
                names |= spec.derive.params()
    for stream_rule in ruleset.stream_rules:
        names |= stream_rule.params
    return frozenset(names)


def today() -> dt.date:
    """Today's date in Asia/Shanghai."""
    return dt.datetime.now(_CST).date()


def check_ruleset(ruleset: RuleSet, on: dt.date | None = None) -> tuple[Finding, ...]:
    """Analyse every table of a rule set (see :meth:`csrules.RuleSet.check`)."""
    if on is None:
        on = today()
    if not isinstance(on, dt.date) or isinstance(on, dt.datetime):
        raise ArgumentTypeError("on", on, "a datetime.date")
    policy = ruleset.policy
    read = _read_params(ruleset)
    resolved = policy.resolve(on)
    missing = sorted(n for n in read if n in policy.parameters and n not in resolved.values)
    if missing:
        ready = max(policy.parameters[n].values[0][0] for n in missing)
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        msg = (
            f"no value in force on {on.isoformat()}, and the rules read them: check on "
            f"{ready.isoformat()} or later"
        )
        raise PolicyError(policy.source, shown, msg)
    findings: list[Finding] = []
    for kind in ruleset.kinds.values():
        domains, derived = kind_domains(kind)
        silent = (*policy.parameters, *domains)
        for finding in check_tables(
            kind.tables, domains, policy, on, also_read=silent, derived=derived
        ):
            if finding.table is not None:
                findings.append(finding)
    staff = {p.name for p in policy.parameters.values() if p.staff_only}
    for name in sorted(set(policy.parameters) - read - staff):
        findings.append(
            Finding(
                None,
                None,
                "unused_param",
                f"The policy parameter '{name}' is read by no table, derived fact or stream "
                f"rule of rule set '{ruleset.name}'.",
            )
        )
    for kind in ruleset.kinds.values():
        used = _used_facts(kind)
        for spec in kind.facts:
            if spec.name not in used:
                findings.append(
                    Finding(
                        None,
                        None,
                        "unused_fact",
                        f"The fact '{spec.name}' of kind '{kind.name}' is declared but no "
                        "table reads it, directly or through a derived fact.",
                    )
                )
    return tuple(findings)
