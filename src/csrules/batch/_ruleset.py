"""A rule set's kind of case over a batch: derived facts and tables on columns.

:func:`decide_kind_columns` is the one batch path of every kind. It takes
fact columns (input facts, and any derived facts already computed), computes
the derived facts that are missing with the numpy backend (each derivation
is compiled once, like a table), picks the parameter values of each row from
its date fact (rows whose dates fall under different values are evaluated in
groups), and runs the kind's tables in their order, each table's outputs
becoming fact columns of the tables after it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
import numpy as np
from numpy.typing import NDArray

from csrules.batch._encode import Kind, facts_frame, scalar_kind_of_type, to_python
from csrules.batch._vector import BatchResult, VectorTable, compile_table
from csrules.exceptions import ArgumentTypeError, DomainValueError, RuleDefinitionError
from csrules.policy import Policy
from csrules.rules._expr import TRUE
from csrules.rules._table import HitPolicy, Rule, Table

if TYPE_CHECKING:
    from csrules._ruleset import FactSpec, KindSpec

__all__ = ["KindBatch", "column_kinds", "decide_kind_columns", "input_records"]


@attrs.frozen(eq=False)
class KindBatch:
    """Decisions of one kind for a batch: one row per case, in input order.

    Attributes:
        kind: the kind of case.
        results: each table's :class:`BatchResult`, by table name, in the
            order the tables ran.
        facts: the fact columns the tables saw (given and derived).

    .. versionadded:: 0.2.0
    """

    kind: str
    results: Mapping[str, BatchResult]
    facts: Mapping[str, NDArray[Any]] = attrs.field(factory=dict, repr=False)
    # rows whose derived facts' working-day arithmetic touched an estimated year
    derived_estimated: NDArray[np.bool_] | None = attrs.field(default=None, repr=False)

    def __len__(self) -> int:
        return len(next(iter(self.results.values())))

    @property
    def estimated(self) -> NDArray[np.bool_]:
        """Per row, whether the decision is estimated: its working-day
        arithmetic (in derived facts or tables) touched a year without
        official holiday data, exactly as the single decision says."""
        n = len(self)
        out = np.zeros(n, dtype=bool)
        for flags in (self.derived_estimated, *(r.estimated for r in self.results.values())):
            if flags is not None:
                out |= flags
        return out

    def __getitem__(self, table: str) -> BatchResult:
        found = self.results.get(table)
        if found is None:
            msg = f"the batch has no result of table {table!r}: it has {list(self.results)}"
            raise RuleDefinitionError(msg)
        return found

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every outcome column by output name (encoded as ``docs/batch.md`` says)."""
        return {name: r.outputs[name] for r in self.results.values() for name in r.outputs}

    def records(self) -> list[dict[str, object]]:
        """Each row's outcomes as Python values, and the clause IDs of the
        rules that decided the ``first``/``unique`` tables. For small batches."""
        values = {
            name: result.to_python(name)
            for result in self.results.values()
            for name in result.table.outputs
        }
        single = [r for r in self.results.values() if r.table.hit_policy is not HitPolicy.COLLECT]
        clauses = [r.clauses() for r in single]
        return [
            {
                **{name: column[row] for name, column in values.items()},
                "clauses": tuple(str(c[row]) for c in clauses),
            }
            for row in range(len(self))
        ]


# ---------------------------------------------------------------- encodings of declared facts


def column_kinds(kind: KindSpec) -> dict[str, Kind | type[enum.Enum]]:
    """The column encodings of a kind's declared dates and times (for
    :func:`~csrules.batch.facts_frame`'s ``kinds=``, so that a batch where a
    date is always ``None`` still gets a date column)."""
    found: dict[str, Kind | type[enum.Enum]] = {}
    for spec in kind.facts:
        t = spec.type
        encoding = scalar_kind_of_type(t) if isinstance(t, type) else None
        if encoding in ("date", "datetime", "time", "money"):
            found[spec.name] = encoding
    return found


def input_records(kind: KindSpec, cases: Iterable[tuple[Any, ...]]) -> list[dict[str, object]]:
    """The input facts (read from the case, or extra) of each case, given as
    its parts (``(order, request, at)`` for returns) or ``(parts, extra)``."""
    records = []
    inputs = [f for f in kind.facts if f.derive is None]
    for case in cases:
        parts: tuple[Any, ...] = case
        extra: Mapping[str, Any] = {}
        if len(case) == 2 and isinstance(case[1], Mapping):
            parts, extra = case[0], case[1]
        if kind.check is not None:
            kind.check(*parts)
        roots = dict(zip(kind.roots, parts, strict=True))
        records.append({f.name: _read(f, roots, extra) for f in inputs})
    return records


def _read(spec: FactSpec, roots: Mapping[str, Any], extra: Mapping[str, Any]) -> object:
    if spec.source is None:
        return extra.get(spec.name, spec.default)
    parts = spec.source.split(".")
    value: Any = roots[parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        if value is None:
            break
        if part.endswith("[]"):
            items = getattr(value, part[:-2])
            rest = parts[i + 1 :]
            value = tuple(_walk(item, rest) for item in items)
            break
        value = getattr(value, part)
    return spec.default if value is None else value


def _walk(value: Any, parts: list[str]) -> Any:
    for part in parts:
        value = getattr(value, part)
    return value


# ---------------------------------------------------------------- the batch path


def _derivation(kind: KindSpec, spec: FactSpec) -> VectorTable:
    """The numpy function of a derived fact (compiled once, kept on the kind)."""
    key = f"batch_fact:{spec.name}"
    found = kind._cache.get(key)
    if found is None:
        assert spec.derive is not None
        table = Table(
            name=f"fact_{spec.name}",
            title=f"the derived fact {spec.name}",
            hit_policy=HitPolicy.FIRST,
            inputs=tuple(sorted(spec.derive.facts())),
            outputs=(spec.name,),
            rules=[Rule("FACT-1", TRUE, {spec.name: spec.derive}, en="", zh="", id=spec.name)],
        )
        found = kind._cache[key] = compile_table(table)
    result: VectorTable = found
    return result


def _needed(kind: KindSpec, tables: Iterable[str] | None) -> tuple[Table, ...]:
    if tables is None:
        return kind.tables
    if isinstance(tables, str):
        raise ArgumentTypeError("tables", tables, "table names (an iterable of str)")
    wanted = {kind.table(name).name for name in tables}
    writers = {o: t for t in kind.tables for o in t.outputs}
    changed = True
    while changed:
        changed = False
        for table in kind.tables:
            if table.name not in wanted:
                continue
            for name in table.inputs:
                writer = writers.get(name)
                if writer is not None and writer.name not in wanted:
                    wanted.add(writer.name)
                    changed = True
    return tuple(t for t in kind.tables if t.name in wanted)


def _breaks(policy: Policy) -> NDArray[np.int64]:
    dates = {since.toordinal() for p in policy.parameters.values() for since, _ in p.values}
    return np.array(sorted(dates), dtype=np.int64)


def decide_kind_columns(
    kind: KindSpec,
    policy: Policy,
    columns: Mapping[str, NDArray[Any]],
    *,
    tables: Iterable[str] | None = None,
) -> KindBatch:
    """Decide a batch of cases of ``kind`` given as fact columns.

    Raises:
        NoRuleMatchedError: a table matched nothing for some rows.
        RuleDefinitionError: a fact the tables need is neither given nor
            derivable from the columns given, or a parameter is missing.
        DomainValueError: the date fact is missing or has nulls, or a column
            is badly encoded.
    """
    from csrules._ruleset import derived_order, post_facts

    if not isinstance(columns, Mapping):
        raise ArgumentTypeError("columns", columns, "a mapping of fact name to numpy array")
    run = _needed(kind, tables)
    post = post_facts(kind)
    derived = [
        f
        for f in derived_order(kind)
        if f.name not in columns and f.name not in post
    ]
    needs_params: set[str] = set()
    for spec in derived:
        assert spec.derive is not None
        if spec.derive.params() or spec.reads() & needs_params:
            needs_params.add(spec.name)
    facts = dict(columns)
    first = [f for f in derived if f.name not in needs_params]
    later = [f for f in derived if f.name in needs_params]
    n = _rows(facts)
    derived_first = _derive(kind, first, facts, {}, policy, n)
    date_name = kind.date_fact
    if date_name not in facts:
        raise DomainValueError(f"columns[{date_name!r}]", None, "the dates as ordinals")
    dates = np.asarray(facts[date_name])
    if dates.dtype.kind != "i" or dates.ndim != 1:
        raise DomainValueError(
            f"columns[{date_name!r}]", dates.dtype, "a 1-D int64 array of date ordinals"
        )
    n = dates.shape[0]
    if n and int(dates.min()) == int(np.iinfo(dates.dtype).min):
        raise DomainValueError(f"columns[{date_name!r}]", None, "a date on every row")
    breaks = _breaks(policy)
    if n == 0:
        on = dt.date.fromordinal(int(breaks[-1])) if breaks.size else dt.date(2000, 1, 1)
        return _decide(kind, run, later, facts, policy, on, derived_first)
    low, high = int(dates.min()), int(dates.max())
    lo, hi = np.searchsorted(breaks, [low, high], side="right")
    if lo == hi:
        on = dt.date.fromordinal(low)
        return _decide(kind, run, later, facts, policy, on, derived_first)
    segment = np.searchsorted(breaks, dates, side="right")
    parts: list[tuple[NDArray[np.intp], KindBatch]] = []
    for k in np.flatnonzero(np.bincount(segment)):
        rows = np.flatnonzero(segment == k)
        on = dt.date.fromordinal(max(low, int(breaks[k - 1])) if k > 0 else low)
        subset = {name: np.asarray(column)[rows] for name, column in facts.items()}
        parts.append((rows, _decide(kind, run, later, subset, policy, on)))
    results = {t.name: _merge([(r, p.results[t.name]) for r, p in parts], n) for t in run}
    touched = np.zeros(n, dtype=bool)
    if derived_first is not None:
        touched |= derived_first
    for rows, part in parts:
        if part.derived_estimated is not None:
            touched[rows] |= part.derived_estimated
    return KindBatch(kind.name, results, facts, touched)


def _rows(columns: Mapping[str, NDArray[Any]]) -> int:
    for column in columns.values():
        shape = getattr(column, "shape", None)
        if shape:
            return int(shape[0])
    return 0


def _derive(
    kind: KindSpec,
    specs: Iterable[FactSpec],
    facts: dict[str, NDArray[Any]],
    params: Mapping[str, Any],
    policy: Policy,
    n: int,
) -> NDArray[np.bool_] | None:
    """Add the derived facts ``specs`` to ``facts``; the rows whose
    working-day arithmetic touched an estimated year (``None``: none)."""
    touched: NDArray[np.bool_] | None = None
    for spec in specs:
        if not (spec.reads() <= set(facts)):
            continue  # not derivable here; a table reading it reports it
        if n == 0 and spec.reads():
            continue
        result = _derivation(kind, spec).evaluate(facts, params, policy.calendar)
        facts[spec.name] = result.outputs[spec.name]
        if result.estimated is not None:
            touched = result.estimated if touched is None else touched | result.estimated
    return touched


def _decide(
    kind: KindSpec,
    tables: tuple[Table, ...],
    later: list[FactSpec],
    columns: Mapping[str, NDArray[Any]],
    policy: Policy,
    on: dt.date,
    touched: NDArray[np.bool_] | None = None,
) -> KindBatch:
    params = policy.in_force(on)[1]
    calendar = policy.calendar
    facts = dict(columns)
    n = _rows(facts)
    touched = _either(touched, _derive(kind, later, facts, params, policy, n))
    from csrules._ruleset import derived_order, post_facts

    post = post_facts(kind)
    pending = [f for f in derived_order(kind) if f.name in post]
    reads = {name for spec in pending for name in spec.reads()}
    results: dict[str, BatchResult] = {}
    for table in tables:
        result = table.vectorised().evaluate(facts, params, calendar)
        results[table.name] = result
        for name in table.outputs:
            column = result.outputs[name]
            if column.ndim == 1:
                facts[name] = column
            elif name in reads:  # a collect table: each row's values as a tuple
                facts[name] = _tuples(result.to_python(name))
        ready = [f for f in pending if f.reads() <= set(facts) and f.name not in facts]
        touched = _either(touched, _derive(kind, ready, facts, params, policy, _rows(facts)))
    return KindBatch(kind.name, results, facts, touched)


def _either(
    a: NDArray[np.bool_] | None, b: NDArray[np.bool_] | None
) -> NDArray[np.bool_] | None:
    if a is None:
        return b
    return a if b is None else a | b


def _tuples(values: list[object]) -> NDArray[Any]:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def _as_objects(column: NDArray[Any], kind: Kind, enum_class: type[enum.Enum] | None) -> Any:
    flat = to_python(np.asarray(column).reshape(-1), kind, enum_class)
    out = np.empty(len(flat), dtype=object)
    for i, value in enumerate(flat):
        out[i] = value
    return out.reshape(column.shape)


def _merge(parts: list[tuple[NDArray[np.intp], BatchResult]], n: int) -> BatchResult:
    """One result from results of row groups (``rows`` of each in the whole batch)."""
    order = np.concatenate([rows for rows, _ in parts])
    first = parts[0][1]

    def scatter(pieces: list[NDArray[Any]]) -> NDArray[Any]:
        joined = np.concatenate(pieces)
        same = all(p.dtype == pieces[0].dtype for p in pieces)
        # the first piece's dtype keeps its tag (money, date, enum codes)
        out = np.empty((n, *joined.shape[1:]), dtype=pieces[0].dtype if same else joined.dtype)
        out[order] = joined
        return out

    outputs: dict[str, NDArray[Any]] = {}
    kinds: dict[str, Kind] = {}
    enums: dict[str, type[enum.Enum]] = {}
    for name in first.outputs:
        same = all(
            p.kinds[name] == first.kinds[name] and p.enums.get(name) is first.enums.get(name)
            for _, p in parts
        )
        if same:
            outputs[name] = scatter([p.outputs[name] for _, p in parts])
            kinds[name] = first.kinds[name]
            if name in first.enums:
                enums[name] = first.enums[name]
        else:
            outputs[name] = scatter(
                [_as_objects(p.outputs[name], p.kinds[name], p.enums.get(name)) for _, p in parts]
            )
            kinds[name] = "object"
    hits = None if first.hits is None else scatter([p.hits for _, p in parts])  # type: ignore[misc]
    return BatchResult(
        table=first.table,
        rule_index=scatter([p.rule_index for _, p in parts]),
        outputs=outputs,
        kinds=kinds,
        enums=enums,
        hits=hits,
        sets=first.sets,
        estimated=(
            None
            if all(p.estimated is None for _, p in parts)
            else scatter([_flags(p) for _, p in parts])
        ),
    )


def _flags(result: BatchResult) -> NDArray[np.bool_]:
    found = result.estimated
    return np.zeros(len(result), dtype=bool) if found is None else found


def records_frame(kind: KindSpec, records: list[dict[str, object]]) -> dict[str, NDArray[Any]]:
    """Fact records as columns, with the kind's declared date and time encodings."""
    if not records:
        raise DomainValueError("cases", [], "at least one case")
    return facts_frame(records, kinds=column_kinds(kind))


#: Names the compatibility wrappers of :mod:`csrules.batch` use.
RETURN_TABLE_NAMES: Final = ("return_action", "freight_payer", "refund_due", "return_duties")
