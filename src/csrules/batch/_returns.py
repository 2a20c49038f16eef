"""The return rule set over a batch: action, freight payer and refund date.

The tables run in the order :func:`~csrules.rules.returns.decide_return`
runs them, each reading the outcomes of the ones before: the ``action``
column of ``return_action`` is a fact of ``freight_payer`` and
``refund_due``, and (when asked for) ``freight_payer`` and ``refund_due``
are facts of ``return_duties``. Parameters are resolved for each row's
``request_date``; rows whose dates fall under different parameter values
are evaluated in groups.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs
import numpy as np
from numpy.typing import NDArray

from csrules._cases import ReturnCase
from csrules._decision import params_in_force
from csrules._domain import Order, ReturnRequest
from csrules.batch._encode import Kind, facts_frame, to_python
from csrules.batch._vector import BatchResult, VectorTable
from csrules.exceptions import DomainValueError
from csrules.policy import Policy, default_policy
from csrules.rules._table import Table
from csrules.rules.returns import RETURN_TABLES, return_facts

__all__ = ["RETURN_FACT_KINDS", "ReturnsBatch", "decide_returns_batch", "decide_returns_columns"]

#: The encoding of the return facts that may be ``None`` for a whole batch.
RETURN_FACT_KINDS: Final[Mapping[str, Kind | type[enum.Enum]]] = {
    "signed_date": "date",
    "request_date": "date",
    "proof_date": "date",
    "goods_received_date": "date",
}


def _compiled(table: Table) -> VectorTable:
    return table.vectorised()


@attrs.frozen(eq=False)
class ReturnsBatch:
    """Return decisions for a batch: one row per case, in input order.

    Attributes:
        action: the ``return_action`` result (outcomes ``action``,
            ``eligible``, ``approvals``).
        freight: the ``freight_payer`` result.
        refund: the ``refund_due`` result.
        duties: the ``return_duties`` result, when asked for.

    .. versionadded:: 0.1.0
    """

    action: BatchResult
    freight: BatchResult
    refund: BatchResult
    duties: BatchResult | None = None

    def __len__(self) -> int:
        return len(self.action)

    def columns(self) -> dict[str, NDArray[Any]]:
        """The outcome columns: ``action`` and ``freight_payer`` as enum codes,
        ``eligible`` as bool, ``approvals`` as tuples, ``refund_due`` as date
        ordinals with :data:`~csrules.batch.NULL_INT` for "no refund"."""
        return {
            "action": self.action.outputs["action"],
            "eligible": self.action.outputs["eligible"],
            "approvals": self.action.outputs["approvals"],
            "freight_payer": self.freight.outputs["freight_payer"],
            "refund_due": self.refund.outputs["refund_due"],
        }

    def records(self) -> list[dict[str, object]]:
        """Each row's outcomes as Python values (``Action``, ``date``, ...), and
        the clause IDs of the rules that decided them. For small batches."""
        results = (self.action, self.freight, self.refund)
        values = {
            name: result.to_python(name) for result in results for name in result.table.outputs
        }
        if self.duties is not None:
            values["duties"] = self.duties.to_python("duty")
        clauses = [result.clauses() for result in results]
        return [
            {
                **{name: column[row] for name, column in values.items()},
                "clauses": tuple(str(c[row]) for c in clauses),
            }
            for row in range(len(self))
        ]


def _breaks(policy: Policy) -> NDArray[np.int64]:
    dates = {since.toordinal() for p in policy.parameters.values() for since, _ in p.values}
    return np.array(sorted(dates), dtype=np.int64)


def decide_returns_columns(
    columns: Mapping[str, NDArray[Any]],
    *,
    policy: Policy | None = None,
    tables: tuple[Table, Table, Table, Table] = RETURN_TABLES,
    duties: bool = False,
) -> ReturnsBatch:
    """Decide a batch of return cases given as fact columns.

    Args:
        columns: the facts of :func:`~csrules.rules.returns.return_facts` as
            columns (see :func:`~csrules.batch.facts_frame`);
            ``request_date`` picks the parameter values of each row.
        policy: the shop's policy; the bundled B2C policy by default.
        tables: the action, freight, refund and duties tables, to swap in a
            shop's own rules (as :func:`decide_return` takes them).
        duties: also evaluate the duties table (a ``collect`` table).

    Raises:
        NoRuleMatchedError: a table matched nothing for some rows.
        RuleDefinitionError: a fact or parameter is missing.
        DomainValueError: ``request_date`` is missing or has nulls, or a
            column is badly encoded.
    """
    policy = policy or default_policy()
    if "request_date" not in columns:
        raise DomainValueError("columns['request_date']", None, "the request dates as ordinals")
    dates = np.asarray(columns["request_date"])
    if dates.dtype.kind != "i" or dates.ndim != 1:
        raise DomainValueError(
            "columns['request_date']", dates.dtype, "a 1-D int64 array of date ordinals"
        )
    n = dates.shape[0]
    if n and int(dates.min()) == int(np.iinfo(dates.dtype).min):
        raise DomainValueError("columns['request_date']", None, "a date on every row")
    breaks = _breaks(policy)
    if n == 0:
        on = dt.date.fromordinal(int(breaks[-1])) if breaks.size else dt.date(2000, 1, 1)
        return _decide(columns, policy, tables, duties, on)
    low, high = int(dates.min()), int(dates.max())
    first, last = np.searchsorted(breaks, [low, high], side="right")
    if first == last:
        return _decide(columns, policy, tables, duties, dt.date.fromordinal(low))
    segment = np.searchsorted(breaks, dates, side="right")
    parts: list[tuple[NDArray[np.intp], ReturnsBatch]] = []
    for k in np.flatnonzero(np.bincount(segment)):
        rows = np.flatnonzero(segment == k)
        on = dt.date.fromordinal(max(low, int(breaks[k - 1])) if k > 0 else low)
        subset = {name: np.asarray(column)[rows] for name, column in columns.items()}
        parts.append((rows, _decide(subset, policy, tables, duties, on)))
    return ReturnsBatch(
        action=_merge([(r, p.action) for r, p in parts], n),
        freight=_merge([(r, p.freight) for r, p in parts], n),
        refund=_merge([(r, p.refund) for r, p in parts], n),
        duties=None if not duties else _merge([(r, p.duties) for r, p in parts], n),  # type: ignore[misc]
    )


def _decide(
    columns: Mapping[str, NDArray[Any]],
    policy: Policy,
    tables: tuple[Table, Table, Table, Table],
    duties: bool,
    on: dt.date,
) -> ReturnsBatch:
    params = params_in_force(policy, policy.resolve(on))
    calendar = policy.calendar
    action_table, freight_table, refund_table, duties_table = (_compiled(t) for t in tables)
    facts = dict(columns)
    action = action_table.evaluate(facts, params, calendar)
    facts["action"] = action.outputs["action"]
    freight = freight_table.evaluate(facts, params, calendar)
    facts["freight_payer"] = freight.outputs["freight_payer"]
    refund = refund_table.evaluate(facts, params, calendar)
    facts["refund_due"] = refund.outputs["refund_due"]
    found = duties_table.evaluate(facts, params, calendar) if duties else None
    return ReturnsBatch(action=action, freight=freight, refund=refund, duties=found)


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
    )


_Triple = tuple[Order, ReturnRequest, dt.datetime]


def decide_returns_batch(
    cases: Iterable[ReturnCase | _Triple],
    *,
    policy: Policy | None = None,
    tables: tuple[Table, Table, Table, Table] = RETURN_TABLES,
    duties: bool = False,
) -> ReturnsBatch:
    """Decide many return cases at once, from domain objects.

    Builds each case's facts with :func:`~csrules.rules.returns.return_facts`,
    turns them into columns with :func:`~csrules.batch.facts_frame` and runs
    :func:`decide_returns_columns`.

    Args:
        cases: :class:`~csrules.ReturnCase` objects, or ``(order, request,
            at)`` triples.
        policy: the shop's policy; the bundled B2C policy by default.
        tables: the action, freight, refund and duties tables.
        duties: also evaluate the duties table.

    Raises:
        DomainValueError: a request lacks a condition it needs (as in
            :func:`~csrules.rules.returns.decide_return`), or ``cases`` is
            empty.
    """
    records = []
    for case in cases:
        if isinstance(case, ReturnCase):
            records.append(return_facts(case.order, case.request, case.at))
        else:
            order, request, at = case
            records.append(return_facts(order, request, at))
    if not records:
        raise DomainValueError("cases", [], "at least one case")
    columns = facts_frame(records, kinds=RETURN_FACT_KINDS)
    return decide_returns_columns(columns, policy=policy, tables=tables, duties=duties)
