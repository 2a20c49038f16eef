"""Decisions: outcome values plus the trace of how they were reached."""

from __future__ import annotations

import datetime as dt
import enum
import importlib
from collections.abc import Callable, Mapping
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, TypeVar

import attrs
import pendulum

from csrules._calendar import ESTIMATES
from csrules._domain import Department
from csrules.exceptions import ArgumentTypeError
from csrules.policy import ParameterSet, Policy, default_policy
from csrules.rules import FiredRule, Table, TableResult

__all__ = [
    "FLOOR_OFF",
    "FLOOR_OFF_CLAUSE",
    "Action",
    "AdjustmentAction",
    "ComplaintDecision",
    "Decision",
    "Escalation",
    "FreightPayer",
    "Lang",
    "ParameterUse",
    "PriceAdjustmentDecision",
    "PromotionDecision",
    "PromotionSize",
    "ReturnDecision",
    "Role",
    "Trace",
]

Lang: TypeAlias = Literal["en", "zh"]

#: The clause a decision cites first when its policy's legal floor is off.
FLOOR_OFF_CLAUSE = "LAW-25"
#: The explanation line of :data:`FLOOR_OFF_CLAUSE`, by language.
FLOOR_OFF: Mapping[str, str] = MappingProxyType(
    {
        "en": "The LAW-25 legal floor is off in this policy (legal_floor = false): the "
        "decision may be stricter than the law allows (no-reason returns, refund clock).",
        "zh": "本店政策已关闭《消费者权益保护法》第二十五条法定底线(legal_floor = false):"
        "本决定可能严于法律规定(七日无理由退货、退款期限)。",
    }
)


class Action(enum.StrEnum):
    """What happens to a return, exchange, cancel, refund or redirect request."""

    CANCEL = "cancel"
    CANCEL_PAID = "cancel_paid"
    INTERCEPT = "intercept"
    NORMAL_RETURN = "normal_return"
    ABNORMAL_RETURN = "abnormal_return"
    EXCHANGE = "exchange"
    REFUND = "refund"
    REDIRECT = "redirect"
    REJECTED = "rejected"


class Role(enum.StrEnum):
    """Who must sign off before an action is carried out."""

    FINANCE = "finance"
    OPERATIONS = "operations"
    DEPARTMENT_HEAD = "department_head"
    FINANCE_HEAD = "finance_head"
    LOGISTICS_HEAD = "logistics_head"
    OPERATIONS_HEAD = "operations_head"
    MANAGER = "manager"


class FreightPayer(enum.StrEnum):
    """Who pays the actual freight of the parcel movement a request causes."""

    CUSTOMER = "customer"
    MERCHANT = "merchant"
    NONE = "none"


class Escalation(enum.StrEnum):
    """Whom a complaint goes to beyond the department that answers it."""

    CS_HEAD = "cs_head"
    GENERAL_MANAGER = "general_manager"


class PromotionSize(enum.StrEnum):
    """Promotion size class of B2C-7.14.2."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class AdjustmentAction(enum.StrEnum):
    """Answer to a pre-start price-adjustment request (B2C-7.11.1)."""

    REFUSED = "refused"
    ADJUSTED = "adjusted"


@attrs.frozen
class ParameterUse:
    """A policy parameter a decision used.

    Attributes:
        name: the parameter's name.
        value: its value on the decision date.
        since: the date that value took effect.
        clause: the clause the parameter comes from.
    """

    name: str
    value: Any
    since: dt.date
    clause: str


class Trace(tuple[Any, ...]):
    """How a decision was reached (immutable; built once per decision).

    Attributes:
        results: the result of each table evaluated, in order.
        params: the parameter values in force on the decision date.
        policy: the policy the decision was made under.
        estimated: ``True`` when a date in the decision lies in a year without
            official holiday data, so working days were estimated.

    Traces, and so decisions, compare by value (the tables by name, the rules
    that fired, their outcomes, the parameters, the policy), hash, and
    pickle: a process pool can return decisions. The bundled tables and the
    default policy are pickled by reference; a table a shop swapped in is
    pickled by its definition and compiled again on loading; another policy
    is pickled by value.
    """

    __slots__ = ()

    def __new__(
        cls,
        results: tuple[TableResult, ...],
        params: ParameterSet,
        policy: Policy,
        estimated: bool = False,
    ) -> Trace:
        return _new(cls, (results, params, policy, estimated))

    results: tuple[TableResult, ...] = property(itemgetter(0))  # type: ignore[assignment]
    params: ParameterSet = property(itemgetter(1))  # type: ignore[assignment]
    policy: Policy = property(itemgetter(2))  # type: ignore[assignment]
    estimated: bool = property(itemgetter(3))  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Trace(rules={self.rules!r}, estimated={self.estimated!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        if self is other:
            return True
        return (
            self.estimated == other.estimated
            and self.params == other.params
            and len(self.results) == len(other.results)
            and all(_same_result(a, b) for a, b in zip(self.results, other.results, strict=True))
            and self.policy == other.policy
        )

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        fired = tuple((r.table.name, tuple(i for i, _ in r.hits)) for r in self.results)
        return hash((fired, self.params.on, self.estimated))

    def __reduce__(self) -> tuple[Any, ...]:
        results = tuple(
            (
                _table_ref(r.table),
                dict(r.outputs),
                tuple((i, dict(out)) for i, out in r.hits),
                r.facts if type(r.facts) is dict else dict(r.facts),
            )
            for r in self.results
        )
        return (_load_trace, (results, self.params.on, _policy_ref(self.policy), self.estimated))

    @property
    def fired(self) -> tuple[FiredRule, ...]:
        """Every rule that fired, in order, across the tables (silent rules too)."""
        fired: tuple[FiredRule, ...] = ()
        for result in self.results:
            fired += result.fired
        return fired

    @property
    def cited(self) -> tuple[FiredRule, ...]:
        """The fired rules a decision cites: all but the silent default rows."""
        return tuple(f for f in self.fired if not f.rule.silent)

    @property
    def legal_floor(self) -> bool:
        """Whether the policy enforced the LAW-25 legal floor (see :class:`Policy`)."""
        return self.policy.legal_floor

    @property
    def rules(self) -> tuple[str, ...]:
        """Clause IDs of the cited rules, in firing order; first ``"LAW-25"`` when
        the policy's legal floor is off."""
        cited = tuple(f.rule.clause for f in self.cited)
        return cited if self.policy.legal_floor else (FLOOR_OFF_CLAUSE, *cited)

    def explanation(self, lang: Lang = "en") -> tuple[str, ...]:
        """One line per cited rule, in English (``"en"``) or Chinese (``"zh"``);
        first a line saying so when the policy's legal floor is off."""
        lines = tuple(f.explanation(lang) for f in self.cited)
        return lines if self.policy.legal_floor else (FLOOR_OFF[lang], *lines)

    @property
    def parameters(self) -> tuple[ParameterUse, ...]:
        """The parameters the fired rules read, with values and effective dates."""
        names: dict[str, None] = {}
        for fired in self.fired:
            names.update(dict.fromkeys(sorted(fired.table.rule_params(fired.rule))))
        values, since = self.params.values, self.params.since
        return tuple(
            ParameterUse(n, values[n], since[n], self.policy.parameters[n].clause)
            for n in names
            if n in values
        )


class _Traced:
    """Accessors shared by every decision."""

    __slots__ = ()
    trace: Trace

    @property
    def rules(self) -> tuple[str, ...]:
        """Clause IDs of every rule that fired, in order."""
        return self.trace.rules

    def explanation(self, lang: Lang = "en") -> tuple[str, ...]:
        """One human-readable line per fired rule."""
        return self.trace.explanation(lang)

    @property
    def estimated(self) -> bool:
        """Whether working days were estimated (no official data for a year)."""
        return self.trace.estimated

    @property
    def legal_floor(self) -> bool:
        """Whether the decision was made with the LAW-25 legal floor enforced.

        ``False`` only under a policy with ``legal_floor = false``; such a
        decision's :attr:`rules` and :meth:`explanation` then start with a
        ``LAW-25`` line saying the floor is off.
        """
        return self.trace.policy.legal_floor

    @property
    def parameters(self) -> tuple[ParameterUse, ...]:
        """The parameter values the decision used, with effective dates."""
        return self.trace.parameters


@attrs.frozen
class ReturnDecision(_Traced):
    """Decision on a return, exchange, cancellation, refund or redirect request.

    Attributes:
        case_id: the case's id.
        action: what happens (see :class:`Action`).
        eligible: ``False`` only when ``action`` is ``rejected``.
        approvals: roles that must sign off first.
        freight_payer: who pays the parcel movement the request causes.
        refund_due: date by which the refund must reach the customer, or
            ``None`` when no refund is due.
        duties: what the agent must also do (codes; each cites its clause
            among the fired rules).
        trace: how the decision was reached.
    """

    case_id: str
    action: Action
    eligible: bool
    approvals: tuple[Role, ...]
    freight_payer: FreightPayer
    refund_due: dt.date | None
    duties: tuple[str, ...]
    trace: Trace = attrs.field(repr=False)


@attrs.frozen
class ComplaintDecision(_Traced):
    """Decision on a complaint: route, deadlines and escalations.

    Attributes:
        case_id: the case's id.
        route_to: department that handles the matter (B2C-5), or customer service.
        answer_due: when that department must answer, or ``None`` when
            customer service handles it itself.
        reply_due: when the customer must get a reply.
        escalate_to: ``cs_head`` (B2C-7.16.3) and/or ``general_manager`` (B2C-8.7).
        duties: what the agent must also do (codes; each cites its clause
            among the fired rules).
        trace: how the decision was reached.
    """

    case_id: str
    route_to: Department
    answer_due: pendulum.DateTime | None
    reply_due: pendulum.DateTime
    escalate_to: tuple[Escalation, ...]
    duties: tuple[str, ...]
    trace: Trace = attrs.field(repr=False)


@attrs.frozen
class PromotionDecision(_Traced):
    """Decision on a promotion: reminder, size class, training date.

    Attributes:
        case_id: the case's id.
        length_days: calendar days the promotion runs, start and end day included.
        remind_days_before: B2C-7.11.3 lead time in days.
        remind_on: the date to tell related customers the end date.
        size: B2C-7.14.2 size class.
        training_on: the date customer service is trained (B2C-8.11).
        outreach: outreach duties for the size class (codes).
        mass_message_on: the date of the mass SMS and e-mail announcing the
            start (small and medium promotions, B2C-7.14.2), else ``None``.
        end_sms_on: the date of the mass SMS announcing the end (medium
            promotions, B2C-7.14.2), else ``None``.
        interest_callback_on: the date interested customers who have not
            ordered are called again (B2C-7.14.1); ``None`` only when a
            swapped-in duties table has no such rule.
        last_ship_by: the working day by which an order placed on the last
            day of the promotion has shipped (TB-0.1); estimated for a year
            without official holiday data.
        duties: what the agent must also do (codes; each cites its clause
            among the fired rules).
        trace: how the decision was reached.
    """

    case_id: str
    length_days: int
    remind_days_before: int
    remind_on: dt.date
    size: PromotionSize
    training_on: dt.date
    outreach: tuple[str, ...]
    mass_message_on: dt.date | None
    end_sms_on: dt.date | None
    interest_callback_on: dt.date | None
    last_ship_by: dt.date | None
    duties: tuple[str, ...]
    trace: Trace = attrs.field(repr=False)


@attrs.frozen
class PriceAdjustmentDecision(_Traced):
    """Decision on a request to re-price an order at a promotion's price.

    Attributes:
        case_id: the case's id.
        action: ``refused`` or ``adjusted``.
        gift_eligible: whether the agent may ask the department head for a
            small gift (B2C-7.11.1b).
        trace: how the decision was reached.
    """

    case_id: str
    action: AdjustmentAction
    gift_eligible: bool
    trace: Trace = attrs.field(repr=False)


#: Any decision.
Decision: TypeAlias = (
    ReturnDecision | ComplaintDecision | PromotionDecision | PriceAdjustmentDecision
)


_T = TypeVar("_T")


def policy_argument(policy: object) -> Policy:
    """The ``policy`` argument of a ``decide*`` function: the bundled B2C
    policy for ``None``.

    Raises:
        ArgumentTypeError: ``policy`` is neither a :class:`Policy` nor ``None``.
    """
    if policy is None:
        return default_policy()
    if not isinstance(policy, Policy):
        raise ArgumentTypeError("policy", policy, "a Policy or None")
    return policy


def positional_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of a frozen, slotted attrs class taking every field in
    order, which sets the slots directly: attrs' frozen ``__init__`` calls
    ``object.__setattr__`` once per field. Fields must have no validator,
    converter or default; the class's own ``__init__`` is used otherwise."""
    fields = attrs.fields(cls)  # type: ignore[arg-type]
    if any(f.validator is not None or f.converter is not None for f in fields) or not all(
        f.init and f.name in getattr(cls, "__slots__", ()) for f in fields
    ):
        return cls
    names = [f.name for f in fields]
    values: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def make({', '.join(names)}):", "    self = _new(_cls)"]
    for i, name in enumerate(names):
        values[f"_set{i}"] = cls.__dict__[name].__set__
        lines.append(f"    _set{i}(self, {name})")
    lines.append("    return self")
    exec(compile("\n".join(lines), f"<new {cls.__name__}>", "exec"), values)
    made: Callable[..., _T] = values["make"]
    return made


def make_trace(
    results: tuple[TableResult, ...],
    params: ParameterSet,
    policy: Policy,
) -> Trace:
    """Assemble a :class:`Trace` from table results.

    The trace is estimated when the working-day functions touched a year
    without official holiday data since the decision began (see
    :class:`~csrules._calendar.EstimateProbe`).
    """
    return _new(Trace, (results, params, policy, ESTIMATES.estimated))


_new = tuple.__new__


def _same_result(a: TableResult, b: TableResult) -> bool:
    """Two table results decided the same: same table (by name), same rules, same outcomes."""
    return (
        a.table.name == b.table.name
        and [i for i, _ in a.hits] == [i for i, _ in b.hits]
        and a.outputs == b.outputs
    )


# ------------------------------------------------------------------ pickling
#
# A trace holds compiled tables and the policy. It pickles the bundled tables
# and the default policy by reference (module and name), other tables by
# their definition (recompiled on loading) and other policies by value; the
# parameter set is resolved again from the policy on loading.


def _table_ref(table: Table) -> tuple[Any, ...]:
    origin = table._origin
    if origin is not None:
        return ("bundled", *origin)
    return ("table", table)  # pickled by its definition (Table.__reduce__)


def _load_table(ref: tuple[Any, ...]) -> Table:
    if ref[0] == "bundled":
        table: Table = getattr(importlib.import_module(ref[1]), ref[2])
        return table
    loaded: Table = ref[1]
    return loaded


def _policy_ref(policy: Policy) -> Policy | None:
    return None if policy is default_policy() else policy


def _load_trace(
    results: tuple[tuple[Any, ...], ...],
    on: dt.date,
    policy_ref: Policy | None,
    estimated: bool,
) -> Trace:
    policy = default_policy() if policy_ref is None else policy_ref
    resolved, values = policy.in_force(on)
    tables: dict[tuple[Any, ...], Table] = {}
    loaded = []
    for ref, outputs, hits, facts in results:
        table = tables.get(ref) if ref[0] == "bundled" else None
        if table is None:
            table = _load_table(ref)
            if ref[0] == "bundled":
                tables[ref] = table
        loaded.append(
            TableResult(
                MappingProxyType(outputs),
                table,
                tuple((i, MappingProxyType(out)) for i, out in hits),
                facts,
                values,
            )
        )
    return _new(Trace, (tuple(loaded), resolved, policy, estimated))
