"""The return-only batch functions of 0.1, kept as wrappers of the rule-set batch path.

New code calls :meth:`csrules.RuleSet.decide_columns` (any kind of case); these
keep their 0.1 signatures and results.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs
from numpy.typing import NDArray

from csrules._cases import ReturnCase
from csrules._domain import Order, ReturnRequest, check_tables
from csrules.batch._encode import Kind, facts_frame
from csrules.batch._ruleset import KindBatch, column_kinds, decide_kind_columns
from csrules.batch._vector import BatchResult
from csrules.exceptions import DomainValueError
from csrules.policy import Policy, default_policy
from csrules.rules._table import Table
from csrules.rules.returns import RETURN_KIND, return_facts

__all__ = ["RETURN_FACT_KINDS", "ReturnsBatch", "decide_returns_batch", "decide_returns_columns"]

#: The encoding of the declared return facts that may be ``None`` for a whole batch.
RETURN_FACT_KINDS: Final[Mapping[str, Kind | type[enum.Enum]]] = {
    name: kind
    for name, kind in column_kinds(RETURN_KIND).items()
    if name in ("signed_date", "request_date", "proof_date", "goods_received_date")
}


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


def _returns_batch(batch: KindBatch, names: tuple[str, ...], duties: bool) -> ReturnsBatch:
    action, freight, refund = (batch.results[n] for n in names[:3])
    duty = batch.results[names[3]] if duties else None
    return ReturnsBatch(action=action, freight=freight, refund=refund, duties=duty)


def decide_returns_columns(
    columns: Mapping[str, NDArray[Any]],
    *,
    policy: Policy | None = None,
    tables: tuple[Table, Table, Table, Table] | None = None,
    duties: bool = False,
) -> ReturnsBatch:
    """Decide a batch of return cases given as fact columns.

    The 0.1 form of ``ruleset.decide_columns("return", columns)``.

    Args:
        columns: the return facts as columns (see
            :func:`~csrules.batch.facts_frame`); ``request_date`` picks the
            parameter values of each row.
        policy: the shop's policy; the bundled B2C policy by default.
        tables: the action, freight, refund and duties tables, to swap in a
            shop's own rules.
        duties: also evaluate the duties table (a ``collect`` table).

    Raises:
        NoRuleMatchedError: a table matched nothing for some rows.
        RuleDefinitionError: a fact or parameter is missing.
        DomainValueError: ``request_date`` is missing or has nulls, or a
            column is badly encoded.
    """
    kind = RETURN_KIND
    if tables is not None:
        check_tables("tables", tables, 4)
        kind = kind.with_tables(tables)
    names = tuple(t.name for t in (tables or (kind.tables)))
    wanted = names if duties else names[:3]
    batch = decide_kind_columns(kind, policy or default_policy(), columns, tables=wanted)
    return _returns_batch(batch, names, duties)


_Triple = tuple[Order, ReturnRequest, dt.datetime]


def decide_returns_batch(
    cases: Iterable[ReturnCase | _Triple],
    *,
    policy: Policy | None = None,
    tables: tuple[Table, Table, Table, Table] | None = None,
    duties: bool = False,
) -> ReturnsBatch:
    """Decide many return cases at once, from domain objects.

    Builds each case's facts with :func:`~csrules.rules.returns.return_facts`,
    turns them into columns with :func:`~csrules.batch.facts_frame` and runs
    :func:`decide_returns_columns`.

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
