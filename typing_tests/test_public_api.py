"""The public API as a user writes it, checked by mypy --strict (not run by pytest).

Every ``assert_type`` states a type the library promises; a change that
loosens one (to ``Any``, or a wider union) fails the static checks.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, assert_type

import pendulum

import csrules
from csrules.cli import decide_lines, main
from csrules.exceptions import CsrulesError, PolicyError
from csrules.io import JSONValue, case_to_json, parse_case_line
from csrules.policy import Parameter, ParameterSet
from csrules.rules import Expr, FiredRule, HitPolicy, Rule, Table, TableResult, call, fact, param

AT = pendulum.datetime(2026, 5, 6, 10, tz="Asia/Shanghai")


def cases() -> tuple[
    csrules.ReturnCase, csrules.ComplaintCase, csrules.PromotionCase, csrules.PriceAdjustmentCase
]:
    """One case of each kind, built from domain objects."""
    order = csrules.Order(
        id="X1",
        customer_id="C1",
        status=csrules.OrderStatus.SIGNED,
        lines=(csrules.OrderLine("8892", Decimal("200.00"), 1),),
        placed_at=pendulum.datetime(2026, 4, 28, 10, tz="Asia/Shanghai"),
        paid_at=pendulum.datetime(2026, 4, 28, 10, 5, tz="Asia/Shanghai"),
        shipped_at=pendulum.datetime(2026, 4, 29, 9, tz="Asia/Shanghai"),
        signed_at=pendulum.datetime(2026, 4, 30, 15, tz="Asia/Shanghai"),
    )
    condition = csrules.Condition(True, True, True, True, True, True)
    request = csrules.ReturnRequest(
        csrules.RequestType.RETURN, csrules.Reason.QUALITY_DEFECT, condition=condition
    )
    complaint = csrules.Complaint(
        id="c1",
        customer_id="C1",
        received_at=AT,
        channel=csrules.Channel.PHONE,
        topic=csrules.Topic.PRODUCT_DEFECT,
    )
    promotion = csrules.Promotion(
        name="May sale",
        starts_at=pendulum.datetime(2026, 5, 1, tz="Asia/Shanghai"),
        ends_at=pendulum.datetime(2026, 5, 10, 23, 59, 59, tz="Asia/Shanghai"),
    )
    adjustment = csrules.PriceAdjustmentRequest(
        promotion, paid=True, customer_paid_total=Decimal("12000"), requested_amount=Decimal("150")
    )
    return (
        csrules.ReturnCase("r1", AT, order, request),
        csrules.ComplaintCase.of(complaint),
        csrules.PromotionCase("p1", AT, promotion),
        csrules.PriceAdjustmentCase("a1", AT, adjustment),
    )


def decisions() -> None:
    """decide() returns the decision class of the case's kind, with typed fields."""
    return_case, complaint_case, promotion_case, adjustment_case = cases()
    policy = csrules.load_policy("taobao")
    assert_type(policy, csrules.Policy)
    assert_type(csrules.default_policy(), csrules.Policy)

    decision = csrules.decide(return_case)
    assert_type(decision, csrules.ReturnDecision)
    assert_type(csrules.decide(return_case, policy=policy), csrules.ReturnDecision)
    assert_type(decision.action, csrules.Action)
    assert_type(decision.eligible, bool)
    assert_type(decision.approvals, tuple[csrules.Role, ...])
    assert_type(decision.freight_payer, csrules.FreightPayer)
    assert_type(decision.refund_due, datetime.date | None)
    assert_type(decision.duties, tuple[str, ...])
    assert_type(decision.case_id, str)

    complaint = csrules.decide(complaint_case)
    assert_type(complaint, csrules.ComplaintDecision)
    assert_type(complaint.route_to, csrules.Department)
    assert_type(complaint.answer_due, pendulum.DateTime | None)
    assert_type(complaint.reply_due, pendulum.DateTime)
    assert_type(complaint.escalate_to, tuple[csrules.Escalation, ...])

    promotion = csrules.decide(promotion_case)
    assert_type(promotion, csrules.PromotionDecision)
    assert_type(promotion.length_days, int)
    assert_type(promotion.remind_days_before, int)
    assert_type(promotion.remind_on, datetime.date)
    assert_type(promotion.size, csrules.PromotionSize)
    assert_type(promotion.training_on, datetime.date)

    adjustment = csrules.decide(adjustment_case)
    assert_type(adjustment, csrules.PriceAdjustmentDecision)
    assert_type(adjustment.action, csrules.AdjustmentAction)
    assert_type(adjustment.gift_eligible, bool)

    any_case: csrules.Case = return_case
    if isinstance(any_case, csrules.ReturnCase):
        assert_type(csrules.decide(any_case), csrules.ReturnDecision)
    chosen: csrules.Decision = csrules.decide(adjustment_case)
    if isinstance(chosen, csrules.ComplaintDecision):
        assert_type(chosen.reply_due, pendulum.DateTime)


def traces(decision: csrules.ReturnDecision) -> None:
    """Every decision explains itself: rules, explanation, parameters, estimated."""
    assert_type(decision.rules, tuple[str, ...])
    assert_type(decision.explanation(), tuple[str, ...])
    assert_type(decision.explanation("zh"), tuple[str, ...])
    assert_type(decision.estimated, bool)
    assert_type(decision.parameters, tuple[csrules.ParameterUse, ...])
    use = decision.parameters[0]
    assert_type(use.name, str)
    assert_type(use.since, datetime.date)
    assert_type(use.clause, str)
    trace = decision.trace
    assert_type(trace, csrules.Trace)
    assert_type(trace.fired, tuple[FiredRule, ...])
    assert_type(trace.cited, tuple[FiredRule, ...])
    assert_type(trace.fired[0].explanation("en"), str)


def policies(path: str) -> None:
    """Policies load from names or files and resolve dated values."""
    on = datetime.date(2026, 5, 6)
    policy = csrules.load_policy(path)
    assert_type(policy, csrules.Policy)
    assert_type(csrules.load_policy(path, base=csrules.default_policy()), csrules.Policy)
    assert_type(policy.resolve(on), ParameterSet)
    assert_type(policy.resolve(on).values, Mapping[str, Any])
    assert_type(policy.resolve(on).since, Mapping[str, datetime.date])
    assert_type(policy.parameter("shipping_fee"), Parameter)
    assert_type(policy.parameter("shipping_fee").at(on), tuple[Any, datetime.date] | None)
    assert_type(policy.with_values("2027-01-01", shipping_fee="12.00"), csrules.Policy)
    assert_type(policy.with_values(on, refund_working_days=5), csrules.Policy)
    assert_type(policy.with_calendar(csrules.WorkCalendar.official()), csrules.Policy)
    for parameter in policy:
        assert_type(parameter, Parameter)
    try:
        csrules.load_policy("missing.toml")
    except PolicyError as err:
        assert_type(err.source, str)
        assert_type(err.key, str)
        assert_type(err.reason, str)
        library_error: CsrulesError = err
        assert_type(library_error, CsrulesError)


def tables() -> None:
    """Rule tables are built from expressions and evaluated to results."""
    condition = (fact("n") > param("limit")) & fact("flag").isin([True]) | ~fact("gone")
    assert_type(condition, Expr)
    assert_type(fact("n") == 1, Expr)
    computed: Expr = call("add_days", fact("day"), 3)
    assert_type(computed.facts(), frozenset[str])
    assert_type(computed.render(), str)
    rule = Rule("B2C-1", condition, {"x": 1}, en="over {limit}", zh="超过{limit}")
    table = Table("t", "test", HitPolicy.FIRST, ("n", "flag", "gone"), ("x",), [rule])
    assert_type(table.evaluate({"n": 1, "flag": True, "gone": False}, {"limit": 0}), TableResult)
    assert_type(table.matches({"n": 1}, {"limit": 0}), tuple[int, ...])
    assert_type(table.replace_rule("B2C-1", rule), Table)
    assert_type(table.insert_rule(rule, before="B2C-1"), Table)
    assert_type(table.rows()[0], tuple[str, str, str, str])


def command_line(lines: list[str]) -> None:
    """The command and its line decider."""
    assert_type(main(["tables"], out=io.StringIO(), err=io.StringIO()), int)
    results = decide_lines(lines, policy=csrules.default_policy(), lang="zh")
    assert_type(results, Iterator[dict[str, JSONValue]])
    case = parse_case_line(lines[0])
    assert_type(case, csrules.Case)
    assert_type(case_to_json(case), dict[str, object])
