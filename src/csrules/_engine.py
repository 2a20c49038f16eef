"""One entry point for every case kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, overload

from csrules._cases import Case, ComplaintCase, PriceAdjustmentCase, PromotionCase, ReturnCase
from csrules._decision import (
    ComplaintDecision,
    Decision,
    PriceAdjustmentDecision,
    PromotionDecision,
    ReturnDecision,
    policy_argument,
)
from csrules.exceptions import ArgumentTypeError, DomainValueError
from csrules.policy import Policy
from csrules.rules.complaints import check_complaint, decide_complaint
from csrules.rules.promotions import decide_price_adjustment, decide_promotion
from csrules.rules.returns import decide_return

if TYPE_CHECKING:
    from csrules._ruleset import RuleSet
    from csrules.stream import EscalationMonitor

__all__ = ["decide"]


@overload
def decide(
    case: ReturnCase,
    *,
    policy: Policy | None = ...,
    monitor: EscalationMonitor | None = ...,
    ruleset: RuleSet | str | None = ...,
    facts: Mapping[str, Any] | None = ...,
) -> ReturnDecision: ...
@overload
def decide(
    case: ComplaintCase,
    *,
    policy: Policy | None = ...,
    monitor: EscalationMonitor | None = ...,
    ruleset: RuleSet | str | None = ...,
    facts: Mapping[str, Any] | None = ...,
) -> ComplaintDecision: ...
@overload
def decide(
    case: PromotionCase,
    *,
    policy: Policy | None = ...,
    monitor: EscalationMonitor | None = ...,
    ruleset: RuleSet | str | None = ...,
    facts: Mapping[str, Any] | None = ...,
) -> PromotionDecision: ...
@overload
def decide(
    case: PriceAdjustmentCase,
    *,
    policy: Policy | None = ...,
    monitor: EscalationMonitor | None = ...,
    ruleset: RuleSet | str | None = ...,
    facts: Mapping[str, Any] | None = ...,
) -> PriceAdjustmentDecision: ...
def decide(
    case: Case,
    *,
    policy: Policy | None = None,
    monitor: EscalationMonitor | None = None,
    ruleset: RuleSet | str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> Decision:
    """Decide one case under a policy.

    Args:
        case: a :class:`ReturnCase`, :class:`ComplaintCase`,
            :class:`PromotionCase` or :class:`PriceAdjustmentCase`.
        policy: the shop's policy; the rule set's by default (for the
            bundled ``b2c`` rule set, the bundled B2C policy).
        monitor: for complaint cases, the escalation monitor that correlates
            complaints over time (B2C-8.7.1, B2C-8.7.5). The complaint is fed
            to it, and the escalations it triggers join the decision. Without
            a monitor only the per-case rules apply. A complaint that ends in
            an error leaves the monitor as it was. With ``ruleset``, it must
            run that rule set's stream rules
            (``EscalationMonitor(ruleset=...)``).
        ruleset: the rule set (a :class:`~csrules.RuleSet`, or a name
            :func:`csrules.ruleset` knows); the bundled ``b2c`` by default.
        facts: values of the extra facts the rule set declares
            (:meth:`~csrules.RuleSet.with_fact`); ``read_case`` gives them
            for a JSON case.

    Returns:
        The decision of the case's kind, with its trace.

    Raises:
        ArgumentTypeError: ``case``, ``policy`` or ``monitor`` is not of the
            type above, or the monitor runs other stream rules than ``ruleset``.
        DomainValueError: the case lacks something its rules need, or its
            ``at`` precedes an event it depends on (see ``docs/decisions.md``).
        PolicyError: a parameter the rules need has no value on the case's date.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 ``ruleset=`` and ``facts=``.
    """
    if ruleset is None or policy is not None:
        policy = policy_argument(policy)  # else the rule set's, chosen by decide_*
    if monitor is not None:
        from csrules.stream import EscalationMonitor

        if not isinstance(monitor, EscalationMonitor):
            raise ArgumentTypeError("monitor", monitor, "an EscalationMonitor or None")
        if ruleset is not None:
            _same_stream_rules(monitor, ruleset)
    if isinstance(case, ReturnCase):
        return decide_return(
            case.order,
            case.request,
            at=case.at,
            policy=policy,
            case_id=case.id,
            ruleset=ruleset,
            facts=facts,
        )
    if isinstance(case, ComplaintCase):
        if monitor is None:
            return decide_complaint(
                case.complaint, policy=policy, case_id=case.id, ruleset=ruleset, facts=facts
            )
        # a complaint the rules refuse never reaches the monitor's state, and
        # one that fails after it was observed is taken back
        check_complaint(case.complaint)
        _check_monitor_texts(case)
        with monitor.transaction():
            stream = monitor.observe(case.complaint)
            return decide_complaint(
                case.complaint,
                policy=policy,
                stream=stream,
                case_id=case.id,
                ruleset=ruleset,
                facts=facts,
            )
    if isinstance(case, PromotionCase):
        return decide_promotion(
            case.promotion,
            at=case.at,
            policy=policy,
            case_id=case.id,
            ruleset=ruleset,
            facts=facts,
        )
    if isinstance(case, PriceAdjustmentCase):
        return decide_price_adjustment(
            case.request,
            at=case.at,
            policy=policy,
            case_id=case.id,
            ruleset=ruleset,
            facts=facts,
        )
    raise ArgumentTypeError(
        "case", case, "a ReturnCase, ComplaintCase, PromotionCase or PriceAdjustmentCase"
    )


def _same_stream_rules(monitor: EscalationMonitor, ruleset: RuleSet | str) -> None:
    """Refuse a monitor that correlates by other stream rules than the rule set's."""
    from csrules._ruleset import ruleset as find

    chosen = find(ruleset)
    if monitor.ruleset is chosen or monitor.rules == tuple(chosen.stream_rules):
        return
    raise ArgumentTypeError(
        "monitor",
        monitor,
        f"an EscalationMonitor running the stream rules of rule set {chosen.name!r} "
        f"({[r.id for r in chosen.stream_rules]}; it runs {[r.id for r in monitor.rules]}): "
        "make it with EscalationMonitor(ruleset=...)",
    )


def _check_monitor_texts(case: ComplaintCase) -> None:
    """Refuse, as a value of the case, a text longer than the escalation
    monitor holds (:data:`~csrules.stream.MAX_TEXT_LENGTH` characters)."""
    from csrules.stream._monitor import MAX_TEXT_LENGTH

    complaint = case.complaint
    for field, value in (
        ("id", complaint.id),
        ("complaint.customer_id", complaint.customer_id),
        ("complaint.sku", complaint.sku),
        ("complaint.about_staff", complaint.about_staff),
    ):
        if value is not None and len(value) > MAX_TEXT_LENGTH:
            raise DomainValueError(
                field,
                value,
                f"at most {MAX_TEXT_LENGTH:,} characters (what the escalation monitor holds)",
                got=f"{len(value):,} characters",
            )
