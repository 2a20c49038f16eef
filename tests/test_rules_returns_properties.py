"""Properties of the return rule set over many generated cases (csrules.testing).

Each property is a sentence of the policy that must hold for every order and
request, whatever the shop (B2C handbook, the same with the holiday extension
of LAW-25.1, or the Taobao shop).
"""

from __future__ import annotations

import datetime as dt
import re

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csrules import (
    Action,
    Condition,
    FreightPayer,
    Order,
    OrderStatus,
    PaymentMethod,
    ReturnCase,
    ReturnDecision,
    ReturnRequest,
    Role,
)
from csrules.exceptions import DomainValueError
from csrules.policy import default_policy, load_policy
from csrules.rules.returns import decide_return
from csrules.testing import conditions, order_lines, orders, return_cases

B2C = default_policy()
POLICIES = {
    "b2c": B2C,
    "b2c_extended": B2C.with_values("2024-01-01", no_reason_extend_past_holiday=True),
    "taobao": load_policy("taobao"),
}
CALENDAR = B2C.calendar
SHANGHAI = "Asia/Shanghai"

NO_REASON = ("changed_mind", "size_does_not_fit")
ALL_CHECKS_PASS = Condition(
    tag_intact=True,
    unwashed=True,
    undamaged=True,
    delivery_note_complete=True,
    order_number_given=True,
    delivery_note_number_given=True,
    packaging_intact=True,
)
NO_PARCEL = {Action.REJECTED, Action.CANCEL, Action.CANCEL_PAID, Action.INTERCEPT, Action.REFUND}
REFUNDING = {
    Action.CANCEL_PAID,
    Action.INTERCEPT,
    Action.NORMAL_RETURN,
    Action.ABNORMAL_RETURN,
    Action.REFUND,
}
REFUND_DUTIES = (
    "tell_refund_period",
    "refund_to_balance_or_original_method",
    "prepare_refund_documents",
    "refund_table_to_finance",
)
NOTHING_TO_REFUND = {Action.REJECTED, Action.CANCEL, Action.EXCHANGE, Action.REDIRECT}
FOUR_HEADS = (Role.DEPARTMENT_HEAD, Role.FINANCE_HEAD, Role.LOGISTICS_HEAD, Role.OPERATIONS_HEAD)
#: Who may have to sign off, by action; any other action needs no one.
SIGN_OFFS: dict[Action, set[tuple[Role, ...]]] = {
    Action.CANCEL_PAID: {(Role.FINANCE, Role.OPERATIONS)},
    Action.INTERCEPT: {(Role.FINANCE, Role.OPERATIONS)},
    Action.ABNORMAL_RETURN: {FOUR_HEADS},
    Action.REFUND: {(), (Role.MANAGER,)},
}
UNFILLED = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")

policies = st.sampled_from(sorted(POLICIES))
#: Any case, with extra weight on the states where most rules live: paid but not
#: shipped, in transit, and goods coming back after signing.
any_case = st.one_of(
    return_cases(),
    return_cases(status="paid_unshipped"),
    return_cases(status="shipped"),
    st.sampled_from(("return", "exchange", "refund")).flatmap(
        lambda request_type: return_cases(status="signed", request_type=request_type)
    ),
)
fast = settings(max_examples=150, deadline=None)
#: Any case, or a cash-on-delivery one: paid at the door, online, or not yet.
any_case_or_cod = st.one_of(
    any_case,
    return_cases(payment_method="cod"),
    return_cases(status="signed", payment_method="cod"),
    st.sampled_from(("return", "refund")).flatmap(
        lambda request_type: return_cases(
            status="shipped", payment_method="cod", request_type=request_type
        )
    ),
)


def needs_condition(case: ReturnCase) -> bool:
    """CONTRACT: goods coming back after signing must come with their condition."""
    return (
        case.order.status is OrderStatus.SIGNED
        and case.request.type.value in ("return", "exchange")
        and case.request.condition is None
    )


def decide(case: ReturnCase, policy_name: str) -> ReturnDecision:
    return decide_return(case.order, case.request, at=case.at, policy=POLICIES[policy_name])


def local_date(t: dt.datetime) -> dt.date:
    return t.astimezone(dt.timezone(dt.timedelta(hours=8))).date()


def outcome(decision: ReturnDecision) -> tuple[object, ...]:
    """What a decision says, without its trace."""
    return (
        decision.case_id,
        decision.action,
        decision.eligible,
        decision.approvals,
        decision.freight_payer,
        decision.refund_due,
        decision.duties,
    )


def refund_rule(decision: ReturnDecision) -> str:
    (rule,) = (f.rule.id for f in decision.trace.fired if f.table.name == "refund_due")
    return rule


class TestEveryCaseGetsOneAnswer:
    @fast
    @given(case=any_case, policy=policies)
    def test_exactly_one_action_and_eligible_means_not_rejected(
        self, case: ReturnCase, policy: str
    ) -> None:
        """Whatever the order and request, the action table decides exactly one action
        (it never runs out of rows), and a request is eligible unless it is rejected."""
        if needs_condition(case):
            with pytest.raises(DomainValueError, match=r"request\.condition"):
                decide(case, policy)
            return
        decision = decide(case, policy)
        action_rows = [f for f in decision.trace.fired if f.table.name == "return_action"]
        assert len(action_rows) == 1
        assert decision.action in Action
        assert decision.eligible == (decision.action is not Action.REJECTED)

    @fast
    @given(case=any_case, policy=policies)
    def test_every_decision_cites_at_least_one_clause(self, case: ReturnCase, policy: str) -> None:
        """Every decision can be traced back to the policy: it cites at least one clause."""
        if needs_condition(case):
            return
        decision = decide(case, policy)
        assert decision.rules
        assert len(decision.explanation("en")) == len(decision.rules)
        assert len(decision.explanation("zh")) == len(decision.rules)

    @fast
    @given(case=any_case, policy=policies)
    def test_the_same_case_always_gets_the_same_decision(
        self, case: ReturnCase, policy: str
    ) -> None:
        """Two agents deciding the same case under the same policy reach the same answer,
        for the same reasons, in the same words."""
        if needs_condition(case):
            return
        first, second = decide(case, policy), decide(case, policy)
        assert outcome(first) == outcome(second)
        assert first.rules == second.rules
        assert first.explanation("en") == second.explanation("en")
        assert first.explanation("zh") == second.explanation("zh")
        assert first.estimated == second.estimated


class TestExplanations:
    @fast
    @given(case=any_case, policy=policies)
    def test_every_line_is_filled_in_in_both_languages(self, case: ReturnCase, policy: str) -> None:
        """Each explanation line says something, in English and in Chinese, with every
        placeholder filled in."""
        if needs_condition(case):
            return
        decision = decide(case, policy)
        for lines in (decision.explanation("en"), decision.explanation("zh")):
            for line in lines:
                assert line.strip()
                assert not UNFILLED.search(line), line


class TestOutcomesFitTogether:
    @fast
    @given(case=any_case, policy=policies)
    def test_no_freight_when_no_parcel_moves(self, case: ReturnCase, policy: str) -> None:
        """B2C-7.10.1: a rejection, a cancellation, an intercept or a refund without goods
        back moves no parcel, so nobody pays freight."""
        if needs_condition(case):
            return
        decision = decide(case, policy)
        if decision.action in NO_PARCEL:
            assert decision.freight_payer is FreightPayer.NONE

    @fast
    @given(case=any_case, policy=policies)
    def test_no_refund_when_no_money_goes_back(self, case: ReturnCase, policy: str) -> None:
        """A rejection, an unpaid cancellation, an exchange or a redirect refunds nothing,
        so there is no refund date and no refund duty."""
        if needs_condition(case):
            return
        decision = decide(case, policy)
        if decision.action in NOTHING_TO_REFUND:
            assert decision.refund_due is None
            assert "tell_refund_period" not in decision.duties

    @fast
    @given(case=any_case, policy=policies)
    def test_who_signs_off_depends_on_the_action(self, case: ReturnCase, policy: str) -> None:
        """Finance and Operations confirm a paid cancellation (B2C-7.4.4), the four heads an
        abnormal return (B2C-7.4.3), a manager a refund for the customer's reason (TBX-7);
        nothing else needs a sign-off."""
        if needs_condition(case):
            return
        decision = decide(case, policy)
        expected = SIGN_OFFS.get(decision.action, {()})
        assert decision.approvals in expected


_RETURNABLE_LINES = st.sampled_from(("general", "apparel", "shoes", "electronics", "home")).flatmap(
    lambda category: order_lines(category=category)
)


@st.composite
def no_reason_returns_with_goods_back(draw: st.DrawFn) -> ReturnCase:
    """An accepted no-reason return of a paid order: ordinary goods, all checks passed,
    asked on day 0-7 after signing, the goods already back or arriving up to 10 days
    later."""
    signed_order = draw(orders(status="signed"))
    the_order = attrs.evolve(
        signed_order,
        lines=tuple(draw(st.lists(_RETURNABLE_LINES, min_size=1, max_size=3))),
        # cash on delivery: paid at the door when signing
        paid_at=signed_order.paid_at or signed_order.signed_at,
    )
    assert the_order.signed_at is not None
    signed = the_order.signed_at.in_timezone(SHANGHAI)
    day = draw(st.integers(0, 7))
    asked = signed.add(days=day)
    later = st.integers(0, (day + 10) * 86400).map(lambda s: signed.add(seconds=s))
    request = ReturnRequest(
        type="return",
        reason=draw(st.sampled_from(NO_REASON)),
        condition=ALL_CHECKS_PASS,
        proof_submitted_at=draw(st.none() | later),
        goods_received_at=draw(later),
    )
    return ReturnCase(id="R1", at=asked, order=the_order, request=request)


class TestRefundDates:
    @fast
    @given(case=any_case, policy=policies)
    def test_a_working_day_clock_ends_on_a_working_day_after_the_request(
        self, case: ReturnCase, policy: str
    ) -> None:
        """B2C-7.8.2, TB-1.5.1, TB-1.3: a refund counted in working days is due on a working
        day strictly after the day of the request."""
        if needs_condition(case):
            return
        decision = decide(case, policy)
        if decision.refund_due is None or refund_rule(decision) == "law_refund_clock":
            return
        assert decision.refund_due > local_date(case.at)
        assert CALENDAR.is_workday(decision.refund_due)

    @fast
    @given(case=no_reason_returns_with_goods_back(), policy=policies)
    def test_a_no_reason_return_is_due_by_the_earlier_clock(
        self, case: ReturnCase, policy: str
    ) -> None:
        """Known conflict "Two refund clocks": once the goods are back, a no-reason return is
        refunded by the earlier of 7 working days after request and proof (B2C-7.8.2) and
        7 calendar days after the goods came back (LAW-25.5)."""
        decision = decide(case, policy)
        request = case.request
        assert request.goods_received_at is not None
        start = local_date(case.at)
        if request.proof_submitted_at is not None:
            start = max(start, local_date(request.proof_submitted_at))
        handbook = CALENDAR.add_working_days(start, 7)
        law = local_date(request.goods_received_at) + dt.timedelta(days=7)
        assert decision.action is Action.NORMAL_RETURN
        assert "LAW-25.5" in decision.rules
        assert decision.refund_due == min(handbook, law)

    @settings(max_examples=300, deadline=None)
    @given(case=any_case_or_cod, policy=policies)
    def test_every_refunding_action_has_a_refund_date(self, case: ReturnCase, policy: str) -> None:
        """Every action that gives money back has a refund date and the refund duties
        (B2C-7.8.1/2/5, JD-1.4). The one exception is a cash-on-delivery parcel never paid
        (not signed, no paid_at) refused at the door: the goods come back, no money does."""
        if needs_condition(case):
            return
        decision = decide(case, policy)
        if decision.action not in REFUNDING:
            return
        the_order = case.order
        never_paid = (
            the_order.payment_method is PaymentMethod.COD
            and the_order.paid_at is None
            and the_order.status is not OrderStatus.SIGNED
        )
        if never_paid:
            assert decision.action is Action.NORMAL_RETURN
            assert case.request.reason.value in ("refused_delivery", "wrong_address")
            assert decision.refund_due is None
            assert "tell_refund_period" not in decision.duties
        else:
            assert decision.refund_due is not None
            assert set(REFUND_DUTIES) <= set(decision.duties)

    @fast
    @given(case=any_case)
    def test_the_taobao_shop_never_refunds_later_than_the_handbook(self, case: ReturnCase) -> None:
        """TB-1.5.1 and TB-1.3 shorten the handbook's clock before shipment; they never
        lengthen it."""
        if needs_condition(case):
            return
        taobao, b2c = decide(case, "taobao"), decide(case, "b2c")
        if taobao.refund_due is not None and b2c.refund_due is not None:
            assert taobao.refund_due <= b2c.refund_due


@st.composite
def no_reason_returns(draw: st.DrawFn) -> tuple[Order, ReturnRequest]:
    """A signed order and a no-reason return of it, the goods in any condition."""
    the_order = draw(orders(status="signed"))
    request = ReturnRequest(
        type="return",
        reason=draw(st.sampled_from(NO_REASON)),
        condition=draw(conditions()),
    )
    return the_order, request


class TestNoReasonWindow:
    @settings(max_examples=100, deadline=None)
    @given(case=no_reason_returns(), policy=policies)
    def test_a_return_accepted_on_some_day_is_accepted_on_every_earlier_day(
        self, case: tuple[Order, ReturnRequest], policy: str
    ) -> None:
        """LAW-25.1: the no-reason window is one unbroken stretch from signing: if a return
        is accepted k days after signing, it is accepted on every day before."""
        the_order, request = case
        assert the_order.signed_at is not None
        signed_local = the_order.signed_at.in_timezone(SHANGHAI)
        accepted = [
            decide_return(
                the_order,
                request,
                at=signed_local.add(days=k),
                policy=POLICIES[policy],
            ).action
            is not Action.REJECTED
            for k in range(16)
        ]
        last = max((k for k, ok in enumerate(accepted) if ok), default=-1)
        assert all(accepted[: last + 1]), accepted

    @settings(max_examples=100, deadline=None)
    @given(case=no_reason_returns(), policy=policies)
    def test_no_return_is_refused_for_lateness_within_seven_days(
        self, case: tuple[Order, ReturnRequest], policy: str
    ) -> None:
        """LAW-25.1: up to day 7 after signing, lateness is never the reason for a refusal."""
        the_order, request = case
        assert the_order.signed_at is not None
        signed_local = the_order.signed_at.in_timezone(SHANGHAI)
        for k in range(8):
            decision = decide_return(
                the_order,
                request,
                at=signed_local.add(days=k),
                policy=POLICIES[policy],
            )
            assert "LAW-25.1" not in decision.rules


def test_the_three_shops_differ_as_described() -> None:
    """The shops used above really differ in the parameters the properties rely on."""
    on = dt.date(2026, 6, 1)
    assert POLICIES["b2c"].value("no_reason_extend_past_holiday", on) is False
    assert POLICIES["b2c_extended"].value("no_reason_extend_past_holiday", on) is True
    assert POLICIES["taobao"].value("refund_clock", on) == "taobao"
    assert POLICIES["b2c"].value("refund_clock", on) == "b2c"
