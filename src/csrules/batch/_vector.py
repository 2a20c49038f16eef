"""Decision tables compiled to numpy: one pass over columns decides every row.

:func:`compile_table` walks each rule's condition and outcomes once and
turns every node into a small function over whole columns (comparisons,
``&``/``|`` reductions, ``np.isin``, array arithmetic, working-day lookups).
Identical sub-expressions are computed once per evaluation, parameter-only
sub-expressions are folded to plain Python values, and the hit policy is
applied with array operations:

* ``first``: each matching rule ``i`` of ``R`` writes ``R - i`` into a
  running ``np.maximum``, so the largest value left is the first rule that
  matched; rows left at 0 matched nothing.
* ``unique``: the same, plus a count of matches per row.
* ``collect``: the boolean matrix of matches, rows x rules.

Outcomes are gathered by rule index (constants) or selected per row from
columns computed for every row (expressions).

The compiler is one :class:`~csrules.rules._expr.ExprVisitor`; functions
come from the registry (:mod:`csrules.rules._functions`) with their numpy
kernels (:mod:`csrules.batch._kernels`).
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
import numpy as np
from numpy.typing import NDArray

from csrules._calendar import WorkCalendar
from csrules.batch._encode import (
    Kind,
    code_dtype,
    encode_value,
    scalar_kind,
    tagged_dtype,
    to_python,
)
from csrules.batch._kernels import kernel_of
from csrules.batch._values import (
    Env,
    Fn,
    Vec,
    Where,
    arith,
    compare,
    isin,
    truth_of,
    vec_from_column,
)
from csrules.exceptions import (
    DomainValueError,
    NoRuleMatchedError,
    RuleDefinitionError,
    RuleOverlapError,
)
from csrules.rules._expr import (
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
from csrules.rules._functions import FUNCTIONS
from csrules.rules._table import HitPolicy, Table

__all__ = ["VECTORISED_FUNCTIONS", "BatchResult", "VectorTable", "compile_table"]

#: Registered functions batches compute with numpy; any other registered
#: function is computed row by row from its scalar implementation.
VECTORISED_FUNCTIONS: Final = frozenset(f.name for f in FUNCTIONS.values() if f.vectorised)
_MISSING: Final = object()
_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()
_A_COVERED_ORDINAL: Final = _EPOCH_ORDINAL  # any: the rows it stands in for are null
# ---------------------------------------------------------------- compilation


class _Keys(ExprVisitor[object]):
    """Structural keys: equal keys compute equal values."""

    __slots__ = ("_unique",)

    def __init__(self) -> None:
        self._unique = itertools.count()

    def unknown(self, expr: Expr) -> object:
        return ("unique", next(self._unique))

    def fact(self, expr: Fact) -> object:
        return ("fact", expr.name)

    def param(self, expr: Param) -> object:
        return ("param", expr.name)

    def const(self, expr: Const) -> object:
        value = expr.value
        try:
            hash(value)
        except TypeError:
            return ("unique", next(self._unique))
        return ("const", type(value), value)

    def compare(self, expr: Compare) -> object:
        return ("compare", expr.op, self.visit(expr.left), self.visit(expr.right))

    def arith(self, expr: Arith) -> object:
        return ("arith", expr.op, self.visit(expr.left), self.visit(expr.right))

    def all(self, expr: All) -> object:
        return ("all", tuple(self.visit(i) for i in expr.items))

    def any(self, expr: AnyOf) -> object:
        return ("any", tuple(self.visit(i) for i in expr.items))

    def not_(self, expr: Not) -> object:
        return ("not", self.visit(expr.item))

    def isin(self, expr: In) -> object:
        try:
            values: object = frozenset((type(v), v) for v in expr.values)
        except TypeError:
            values = ("unique", next(self._unique))
        return ("in", expr.negate, self.visit(expr.item), values)

    def is_none(self, expr: IsNone) -> object:
        return ("isnone", expr.negate, self.visit(expr.item))

    def call(self, expr: Call) -> object:
        return ("call", expr.function, tuple(self.visit(a) for a in expr.args))


class _Compiler(ExprVisitor[Fn]):
    """Column functions of expressions; identical sub-expressions share one."""

    __slots__ = ("keys", "nodes", "where")

    def __init__(self) -> None:
        self.nodes: dict[object, Fn] = {}
        self.keys = _Keys()
        self.where = Where("", "")

    def compile(self, expr: Expr, where: Where) -> Fn:
        """The column function of ``expr``, in the rule ``where`` names."""
        self.where = where
        return self.visit(expr)

    def visit(self, expr: Expr) -> Fn:
        key = self.keys.visit(expr)
        found = self.nodes.get(key)
        if found is not None:
            return found
        compute = super().visit(expr)
        if _touches_holidays(expr):
            tracked = _tracked(key, compute)
            self.nodes[key] = tracked
            return tracked

        def cached(env: Env, _key: object = key, _compute: Fn = compute) -> object:
            cache = env.cache
            if _key in cache:
                return cache[_key]
            value = _compute(env)
            if isinstance(value, np.ndarray):  # a condition's rows
                value = Vec(value, "bool", null=None)
            cache[_key] = value
            return value

        self.nodes[key] = cached
        return cached

    def unknown(self, expr: Expr) -> Fn:
        raise self.where.error(f"the expression node {type(expr).__name__} is not vectorised")

    def fact(self, expr: Fact) -> Fn:
        name = expr.name

        def column(env: Env) -> object:
            return vec_from_column(name, env.columns[name], env.n)

        return column

    def param(self, expr: Param) -> Fn:
        name = expr.name
        return lambda env: env.params[name]

    def const(self, expr: Const) -> Fn:
        value = expr.value
        return lambda env: value

    def compare(self, expr: Compare) -> Fn:
        op, where, what = expr.op, self.where, expr.render()
        left, right = self.visit(expr.left), self.visit(expr.right)
        return lambda env: compare(op, left(env), right(env), where, what)

    def arith(self, expr: Arith) -> Fn:
        op, where, what = expr.op, self.where, expr.render()
        left, right = self.visit(expr.left), self.visit(expr.right)
        return lambda env: arith(op, left(env), right(env), where, what, env.n)

    def all(self, expr: All) -> Fn:
        items = [self.visit(i) for i in expr.items]
        if _touches_holidays(expr):
            return lambda env: _boolop_live(True, items, env)
        return lambda env: _boolop(True, items, env)

    def any(self, expr: AnyOf) -> Fn:
        items = [self.visit(i) for i in expr.items]
        if _touches_holidays(expr):
            return lambda env: _boolop_live(False, items, env)
        return lambda env: _boolop(False, items, env)

    def not_(self, expr: Not) -> Fn:
        item = self.visit(expr.item)

        def negate(env: Env) -> object:
            truth = truth_of(item(env))
            return (not truth) if isinstance(truth, bool) else ~truth

        return negate

    def isin(self, expr: In) -> Fn:
        member = self.visit(expr.item)
        values, negated, where, what = expr.values, expr.negate, self.where, expr.render()
        return lambda env: isin(member(env), values, negated, where, what)

    def is_none(self, expr: IsNone) -> Fn:
        target = self.visit(expr.item)
        not_none = expr.negate

        def is_none(env: Env) -> object:
            value = target(env)
            if not isinstance(value, Vec):
                return (value is None) != not_none
            null = value.null()
            if null is None:
                return not_none
            return ~null if not_none else null

        return is_none

    def call(self, expr: Call) -> Fn:
        args = [self.visit(a) for a in expr.args]
        function = FUNCTIONS[expr.function]
        kernel, where = kernel_of(expr.function), self.where
        if not function.holidays:
            return lambda env: kernel(function, [a(env) for a in args], env, where)

        def counted(env: Env) -> object:
            values = [a(env) for a in args]
            result = kernel(function, values, env, where)
            first = values[0] if values else None
            env.note_estimated(_estimated_rows(env, first, result, forward=True))
            return result

        return counted


# ---------------------------------------------------------------- estimated rows
#
# A single decision is estimated when its working-day arithmetic (the
# registered functions with ``holidays=True``) touched a year without official
# holiday data. The single-case code evaluates conditions lazily (``and``,
# ``or``, the first rule that matches) and only the fired rules' outcomes; a
# batch computes every expression for every row. So a batch notes, per row,
# what the single-case code would have touched: Env.live holds the rows an
# expression is evaluated for there, and a sub-expression that holds
# working-day calls keeps in its cache entry the rows it touched (relative
# to its own evaluation), noted again for the live rows at each use.


def _touches_holidays(expr: Expr) -> bool:
    """Whether ``expr`` calls a function that reads holiday data."""
    return any(isinstance(n, Call) and FUNCTIONS[n.function].holidays for n in expr.walk())


def _tracked(key: object, compute: Fn) -> Fn:
    """A cached column function that notes its working-day rows at every use."""

    def tracked(env: Env) -> object:
        cache = env.cache
        entry = cache.get(key)
        if entry is None:
            live, estimated = env.live, env.estimated
            env.live = env.estimated = None
            try:
                value = compute(env)
                touched = env.estimated
            finally:
                env.live, env.estimated = live, estimated
            if isinstance(value, np.ndarray):  # a condition's rows
                value = Vec(value, "bool", null=None)
            entry = cache[key] = (value, touched)
        value, touched = entry  # type: ignore[misc]
        if touched is not None:
            env.note_estimated(touched)
        return value

    return tracked


def _years(ordinals: NDArray[np.int64]) -> NDArray[np.int64]:
    days = (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")
    return days.astype("datetime64[Y]").astype(np.int64) + 1970


def _covered_span(calendar: WorkCalendar) -> tuple[int, int] | None:
    """The first and last ordinal of the calendar's covered years when they
    are one run of years (a span between two covered dates is then covered)."""
    years = sorted(calendar.covered_years())
    if not years or years[-1] - years[0] + 1 != len(years):
        return None
    return dt.date(years[0], 1, 1).toordinal(), dt.date(years[-1], 12, 31).toordinal()


def _estimated_rows(
    env: Env, start: object, result: object, *, forward: bool = False
) -> NDArray[np.bool_] | bool:
    """The rows where working days from ``start`` to ``result`` cross a year
    the calendar only estimates (``forward``: ``result`` is never before
    ``start``, as for the registered working-day functions)."""
    calendar = env.calendar
    if not isinstance(calendar, WorkCalendar):
        return False
    if not isinstance(start, Vec) and not isinstance(result, Vec):
        if not isinstance(start, dt.date) or not isinstance(result, dt.date):
            return False
        return calendar.is_estimated_between(start, result)
    n = env.n
    null = np.zeros(n, dtype=bool)
    ends: list[NDArray[np.int64]] = []
    for value in (start, result):
        if isinstance(value, Vec):
            vec_null = value.null()
            if vec_null is not None:
                null |= vec_null
            ends.append(np.asarray(value.data, dtype=np.int64))
        elif isinstance(value, dt.date):
            ends.append(np.full(n, value.toordinal(), dtype=np.int64))
        else:
            return False
    span = _covered_span(calendar)
    if span is not None:  # the covered years are one run: compare ordinals
        lo, hi = span
        a, b = ends
        flags = (a < lo) | (b > hi) if forward else (a < lo) | (a > hi) | (b < lo) | (b > hi)
        if null.any():
            flags &= ~null
        return flags
    first = np.where(null, _A_COVERED_ORDINAL, ends[0])
    last = np.where(null, _A_COVERED_ORDINAL, ends[1])
    low, high = _years(np.minimum(first, last)), _years(np.maximum(first, last))
    covered = np.fromiter(calendar.covered_years(), dtype=np.int64)
    flags = ~np.isin(low, covered) | ~np.isin(high, covered)
    for row in np.flatnonzero((high - low >= 2) & ~flags):  # rare: spans of years
        flags[row] = any(
            year not in calendar.covered_years() for year in range(low[row], high[row] + 1)
        )
    flags &= ~null
    return flags


def _combined(is_all: bool, masks: list[NDArray[np.bool_]]) -> object:
    """The rows where all (``is_all``) or any of ``masks`` hold."""
    if not masks:
        return is_all
    if len(masks) == 1:
        return masks[0]
    combine = np.logical_and if is_all else np.logical_or
    out = combine(masks[0], masks[1])
    for mask in masks[2:]:
        combine(out, mask, out=out)
    return out


def _boolop(is_all: bool, items: Sequence[Fn], env: Env) -> object:
    masks: list[NDArray[np.bool_]] = []
    for item in items:
        truth = truth_of(item(env))
        if isinstance(truth, bool):
            if truth != is_all:  # False in an "and", True in an "or" decides every row
                return truth
            continue
        masks.append(truth)
    return _combined(is_all, masks)


def _boolop_live(is_all: bool, items: Sequence[Fn], env: Env) -> object:
    """:func:`_boolop` for items holding working-day calls: what an item's
    calls touched counts only on the rows the single-case ``and`` / ``or``
    would evaluate it for (the earlier items held / did not hold)."""
    masks: list[NDArray[np.bool_]] = []
    for item in items:
        value, touched = _touched_by(item, env)
        truth = truth_of(value)
        if touched is not None:
            if masks:
                going_on = masks if is_all else [~m for m in masks]
                touched = touched & _combined(True, going_on)  # type: ignore[operator]
            env.note_estimated(touched)
        if isinstance(truth, bool):
            if truth != is_all:  # False in an "and", True in an "or" decides every row
                return truth
            continue
        masks.append(truth)
    return _combined(is_all, masks)


def _touched_by(compute: Fn, env: Env) -> tuple[Any, NDArray[np.bool_] | None]:
    """``compute``'s truth (or value, for an outcome) and the rows its
    working-day calls touched, evaluated as for every row."""
    live, estimated = env.live, env.estimated
    env.live = env.estimated = None
    try:
        value = compute(env)
        touched = env.estimated
    finally:
        env.live, env.estimated = live, estimated
    return value, touched


# ---------------------------------------------------------------- outcomes


def _unify(parts: Sequence[object]) -> tuple[Kind, type[enum.Enum] | None, bool]:
    """The column encoding of one outcome across rules: (kind, enum class, has nulls)."""
    kinds: set[Kind] = set()
    classes: set[type[enum.Enum]] = set()
    has_null = False
    for part in parts:
        if part is _MISSING or part is None:
            has_null = True
            continue
        if isinstance(part, Vec):
            kinds.add(part.kind)
            if part.enum is not None:
                classes.add(part.enum)
            if part.null() is not None:
                has_null = True
            continue
        kind = scalar_kind(part)
        kinds.add(kind)
        if isinstance(part, enum.Enum):
            classes.add(type(part))
    if not kinds:
        return "null", None, True
    if len(kinds) > 1:
        specific = kinds - {"int"}
        if len(specific) == 1 and specific <= {"money", "date", "enum"}:
            kinds = specific
        elif kinds <= {"str", "enum"} and not any(
            isinstance(p, Vec) and p.kind == "enum" for p in parts
        ):
            kinds, classes = {"str"}, set()
        else:
            return "object", None, has_null
    kind = kinds.pop()
    if kind == "enum" and len(classes) != 1:
        return "object", None, has_null
    if kind in ("bool", "str") and has_null:
        return "object", None, has_null
    return kind, (classes.pop() if classes else None), has_null


def _dtype(kind: Kind, enum_class: type[enum.Enum] | None, parts: Sequence[object]) -> Any:
    if kind == "bool":
        return np.dtype(bool)
    if kind == "int":
        return np.dtype(np.int64)
    if kind in ("money", "date"):
        return tagged_dtype(np.dtype(np.int64), kind)
    if kind == "enum":
        if enum_class is None:
            return np.dtype(np.int8)
        return tagged_dtype(code_dtype(enum_class), kind, enum_class)
    if kind == "datetime":
        return np.dtype("datetime64[us]")
    if kind == "time":
        return np.dtype("timedelta64[us]")
    if kind == "str":
        width = 1
        for part in parts:
            if isinstance(part, Vec):
                width = max(width, part.data.dtype.itemsize // 4)
            elif part is not _MISSING and part is not None:
                width = max(width, len(encode_value(part, "str")))
        return np.dtype(f"<U{width}")
    return np.dtype(object)


def _element(value: object, kind: Kind, dtype: Any, where: str) -> Any:
    """A scalar outcome as one element of the output column."""
    if value is _MISSING or value is None:
        if kind in ("int", "money", "date", "enum"):
            return np.iinfo(dtype).min
        if kind == "datetime":
            return np.datetime64("NaT", "us")
        if kind == "time":
            return np.timedelta64("NaT", "us")
        return None
    return encode_value(value, kind, where)


def _vec_as(vec: Vec, kind: Kind, dtype: Any) -> NDArray[Any]:
    """A computed outcome column in the output encoding."""
    if kind == "object" and vec.kind != "object":
        out = np.empty(vec.data.shape[0], dtype=object)
        for i, value in enumerate(to_python(vec.data, vec.kind, vec.enum)):
            out[i] = value  # one by one: a tuple is one value, not a row
        return out
    return vec.data.astype(dtype, copy=False)


def _scalar_row(values: Sequence[object], kind: Kind, dtype: Any, where: str) -> NDArray[Any]:
    out = np.empty(len(values), dtype=dtype)
    for i, value in enumerate(values):
        out[i] = _element(value, kind, dtype, where)
    return out


class _Computed:
    """An outcome computed from the case (not a constant)."""

    __slots__ = ("compute", "holidays")

    def __init__(self, compute: Fn, holidays: bool = False) -> None:
        self.compute = compute
        # whether it calls a working-day function (see _estimated_rows)
        self.holidays = holidays


@attrs.frozen(eq=False)
class _Output:
    name: str
    parts: tuple[object, ...]  # per rule: a _Computed, a constant, or _MISSING


def _value_of(part: object, env: Env) -> object:
    return part.compute(env) if isinstance(part, _Computed) else part


# ---------------------------------------------------------------- results


@attrs.frozen(eq=False)
class BatchResult:
    """The outcome of a table for every row of a batch.

    Attributes:
        table: the table evaluated.
        rule_index: per row, the index in ``table.rules`` of the rule that
            fired (for ``collect``, the first that fired); ``-1`` for none.
        outputs: outcome columns by name. For ``first`` and ``unique`` tables
            one value per row; for ``collect`` tables a ``rows x rules``
            array whose ``[row, i]`` is rule ``i``'s value (meaningful where
            ``hits[row, i]``).
        kinds: how each outcome column is encoded (see ``docs/batch.md``):
            ``"enum"`` columns hold codes of :attr:`enums` ``[name]``.
        enums: the enum class of each ``"enum"`` outcome.
        hits: for ``collect`` tables, the ``rows x rules`` matrix of the
            rules that fired; ``None`` otherwise.
        sets: for each outcome, the indices of the rules that set it.
        estimated: the rows whose working-day arithmetic (as a single
            decision would run it) touched a year without official holiday
            data; ``None`` when no row's did.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 ``estimated``.
    """

    table: Table
    rule_index: NDArray[np.intp]
    outputs: Mapping[str, NDArray[Any]]
    kinds: Mapping[str, Kind]
    enums: Mapping[str, type[enum.Enum]]
    hits: NDArray[np.bool_] | None
    sets: Mapping[str, tuple[int, ...]]
    estimated: NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return int(self.rule_index.shape[0])

    def clauses(self) -> NDArray[np.str_]:
        """The clause ID of each row's fired rule (``""`` where none fired)."""
        return _labels(tuple(r.clause for r in self.table.rules))[self.rule_index]

    def rule_ids(self) -> NDArray[np.str_]:
        """The id of each row's fired rule (``""`` where none fired)."""
        return _labels(tuple(r.id for r in self.table.rules))[self.rule_index]

    def fired(self, row: int) -> tuple[int, ...]:
        """Indices of the rules that fired for one row, in table order."""
        if self.hits is None:
            index = int(self.rule_index[row])
            return () if index < 0 else (index,)
        return tuple(int(i) for i in np.flatnonzero(self.hits[row]))

    def to_python(self, name: str) -> list[object]:
        """One outcome as the Python values single decisions give, row by row.

        For ``collect`` tables each row's value is the tuple of the values of
        the rules that fired and set the outcome, in order. Meant for small
        batches and checks: it builds a Python object per row.
        """
        column = self.outputs[name]
        kind, enum_class = self.kinds[name], self.enums.get(name)
        if self.hits is None:
            return to_python(column, kind, enum_class)
        setting = np.zeros(len(self.table.rules), dtype=bool)
        setting[list(self.sets[name])] = True
        rows: list[object] = []
        for row in range(len(self)):
            chosen = np.flatnonzero(self.hits[row] & setting)
            rows.append(tuple(to_python(column[row, chosen], kind, enum_class)))
        return rows


def _labels(names: tuple[str, ...]) -> NDArray[np.str_]:
    # index -1 (no rule fired) reads the trailing ""
    return np.array([*names, ""], dtype=str)


# ---------------------------------------------------------------- tables


@attrs.frozen(eq=False)
class VectorTable:
    """A decision table compiled for batches; build it with :func:`compile_table`.

    Attributes:
        table: the table it was compiled from.

    .. versionadded:: 0.1.0
    """

    table: Table
    _conditions: tuple[Fn, ...] = attrs.field(repr=False)
    _outputs: tuple[_Output, ...] = attrs.field(repr=False)
    _facts: frozenset[str] = attrs.field(repr=False)
    _params: frozenset[str] = attrs.field(repr=False)
    # per rule, whether its condition calls a function that reads holiday data
    _holidays: tuple[bool, ...] = attrs.field(default=(), repr=False)

    @property
    def name(self) -> str:
        """The table's name."""
        return self.table.name

    def __reduce__(self) -> tuple[Any, ...]:
        # compiled column functions are closures: compile again when unpickled
        return (compile_table, (self.table,))

    def evaluate(
        self,
        columns: Mapping[str, NDArray[Any]],
        params: Mapping[str, object],
        calendar: WorkCalendar | None = None,
    ) -> BatchResult:
        """Evaluate the table for every row of a batch.

        Args:
            columns: fact columns by name, 1-D numpy arrays of one length,
                encoded as ``docs/batch.md`` describes (:func:`facts_frame`
                builds them from fact records).
            params: parameter values in force (``policy.resolve(date).values``),
                as Python values; they are encoded like the columns they meet.
            calendar: the policy's :class:`~csrules.WorkCalendar`, for tables
                that count working days.

        Raises:
            NoRuleMatchedError: a ``first`` or ``unique`` table matched nothing
                for some rows (the message gives how many and the first).
            RuleOverlapError: a ``unique`` table matched more than one rule
                for some rows.
            RuleDefinitionError: a fact or parameter the table needs is
                missing, or a column's encoding does not fit the values a rule
                combines it with.
            DomainValueError: a column is not a 1-D array of the batch's
                length, or is float.
        """
        n = _length(columns)
        missing = sorted(self._facts - set(columns)) or sorted(self._params - set(params))
        if missing:
            msg = f"table {self.name!r} needs the fact or parameter {missing[0]!r}"
            raise RuleDefinitionError(msg)
        env = Env(self.name, columns, params, calendar, n)
        table = self.table
        policy = table.hit_policy
        rules = table.rules
        count = len(rules)
        acc_type = np.uint8 if count < 255 else np.uint16
        best = np.zeros(n, dtype=acc_type)
        matched: NDArray[Any] | None = (
            np.zeros(n, dtype=acc_type) if policy is HitPolicy.UNIQUE else None
        )
        masks: list[NDArray[np.bool_] | bool] = []
        lazy = self._holidays if policy is HitPolicy.FIRST else ()
        for i, condition in enumerate(self._conditions):
            if lazy and lazy[i]:  # the single-case code stops at the first rule that matches
                value, touched = _touched_by(condition, env)
                if touched is not None:
                    env.live = best == 0
                    env.note_estimated(touched)
                    env.live = None
                truth = truth_of(value)
            else:
                truth = truth_of(condition(env))
            weight = acc_type(count - i)
            if policy is not HitPolicy.FIRST:  # kept to report overlaps and build hits
                masks.append(truth)
            if isinstance(truth, bool):
                if truth:
                    np.maximum(best, weight, out=best)
                    if matched is not None:
                        np.add(matched, 1, out=matched, casting="unsafe")
                    elif policy is HitPolicy.FIRST:
                        break  # no later rule can fire
                continue
            weighted = np.multiply(truth.view(np.uint8), weight, dtype=acc_type)
            np.maximum(best, weighted, out=best)
            if matched is not None:
                np.add(matched, truth, out=matched, casting="unsafe")
        rule_index = count - best.astype(np.intp)
        unmatched = best == 0
        rule_index[unmatched] = -1
        hits: NDArray[np.bool_] | None = None
        if policy is HitPolicy.COLLECT:
            stacked = np.empty((count, n), dtype=bool)
            for i in range(count):
                truth = masks[i] if i < len(masks) else False
                stacked[i] = truth
            hits = stacked.T
        else:
            if unmatched.any():
                rows = np.flatnonzero(unmatched)
                msg = (
                    f"no rule of table {self.name!r} matched {rows.size} of {n} rows "
                    f"(the first is row {int(rows[0])})"
                )
                raise NoRuleMatchedError(msg)
            if matched is not None:
                overlap = matched > 1
                if overlap.any():
                    rows = np.flatnonzero(overlap)
                    first = int(rows[0])
                    ids = [
                        rules[i].id
                        for i, m in enumerate(masks)
                        if (m if isinstance(m, bool) else bool(m[first]))
                    ]
                    msg = (
                        f"table {self.name!r} is unique but {rows.size} of {n} rows matched "
                        f"more than one rule (the first is row {first}, matched by {ids})"
                    )
                    raise RuleOverlapError(msg)
        outputs: dict[str, NDArray[Any]] = {}
        kinds: dict[str, Kind] = {}
        enums: dict[str, type[enum.Enum]] = {}
        sets: dict[str, tuple[int, ...]] = {}
        for output in self._outputs:
            column, kind, enum_class = self._assemble(output, env, rule_index, hits)
            outputs[output.name] = column
            kinds[output.name] = kind
            if enum_class is not None:
                enums[output.name] = enum_class
            sets[output.name] = tuple(i for i, p in enumerate(output.parts) if p is not _MISSING)
        return BatchResult(
            table=table,
            rule_index=rule_index,
            outputs=outputs,
            kinds=kinds,
            enums=enums,
            hits=hits,
            sets=sets,
            estimated=env.estimated,
        )

    def _assemble(
        self,
        output: _Output,
        env: Env,
        rule_index: NDArray[np.intp],
        hits: NDArray[np.bool_] | None,
    ) -> tuple[NDArray[Any], Kind, type[enum.Enum] | None]:
        n = env.n
        # every rule's outcome is computed, so the encoding of the column
        # depends on the table, the parameters and the column types only
        parts = []
        for i, part in enumerate(output.parts):
            if isinstance(part, _Computed) and part.holidays:
                # as if computed for the rows of its rule only
                value, touched = _touched_by(part.compute, env)
                if touched is not None:
                    env.live = rule_index == i if hits is None else hits[:, i]
                    env.note_estimated(touched)
                    env.live = None
                parts.append(value)
            else:
                parts.append(_value_of(part, env))
        kind, enum_class, _ = _unify(parts)
        dtype = _dtype(kind, enum_class, parts)
        where = f"table {self.name!r}, outcome {output.name!r}"
        constants = [_MISSING if isinstance(p, Vec) else p for p in parts]
        row = _scalar_row([*constants, _MISSING], kind, dtype, where)
        if hits is None:
            column: NDArray[Any] = row[rule_index]
            for i, part in enumerate(parts):
                if isinstance(part, Vec):
                    np.copyto(column, _vec_as(part, kind, dtype), where=rule_index == i)
            return column, kind, enum_class
        if not any(isinstance(p, Vec) for p in parts):
            return np.broadcast_to(row[:-1], (n, len(parts))), kind, enum_class
        by_rule = np.empty((len(parts), n), dtype=dtype)
        for i, part in enumerate(parts):
            by_rule[i] = _vec_as(part, kind, dtype) if isinstance(part, Vec) else row[i]
        return by_rule.T, kind, enum_class


def _length(columns: Mapping[str, NDArray[Any]]) -> int:
    for column in columns.values():
        shape = getattr(column, "shape", None)
        if shape:
            return int(shape[0])
    if not columns:
        msg = "a batch needs at least one fact column"
        raise DomainValueError("columns", {}, msg)
    first = next(iter(columns))
    raise DomainValueError(f"columns[{first!r}]", columns[first], "a 1-D numpy array")


def compile_table(table: Table) -> VectorTable:
    """Compile a decision table for batches.

    Every rule's condition and outcomes are translated once; evaluating the
    result never walks an expression tree per row.

    Raises:
        RuleDefinitionError: the table uses an expression node outside the
            expression language; the message names the table and the rule.

    .. versionadded:: 0.1.0
    """
    compiler = _Compiler()
    conditions: list[Fn] = []
    per_rule: list[dict[str, object]] = []
    facts: set[str] = set()
    params: set[str] = set()
    collect = table.hit_policy is HitPolicy.COLLECT
    for rule in table.rules:
        where = Where(table.name, rule.id)
        conditions.append(compiler.compile(rule.when, where))
        values: dict[str, object] = dict(rule.then)
        if not collect:
            values = {**table.defaults, **values}
        compiled: dict[str, object] = {}
        for name, value in values.items():
            expr = lift(value)
            facts |= expr.facts()
            params |= expr.params()
            if isinstance(expr, Const):
                compiled[name] = expr.value
            else:
                compiled[name] = _Computed(
                    compiler.compile(expr, where), holidays=_touches_holidays(expr)
                )
        per_rule.append(compiled)
        facts |= rule.when.facts()
        params |= rule.when.params()
    outputs = tuple(
        _Output(name, tuple(r.get(name, _MISSING) for r in per_rule)) for name in table.outputs
    )
    holidays = tuple(_touches_holidays(rule.when) for rule in table.rules)
    return VectorTable(
        table, tuple(conditions), outputs, frozenset(facts), frozenset(params), holidays
    )
