"""The return rule set (csrules.rules.returns), case by case.

Each class covers one table or one group of clauses of POLICY.md sections 2-4.
Every expected value below is worked out from the policy text and the
official 2026 working-day calendar, not read off the code:

- May Day 2026: 1-5 May off, Saturday 9 May an adjusted working day (调休).
- Dragon Boat 2026: 19-21 June off.
- Mid-Autumn 2026: 25-27 September off; National Day 2026: 1-7 October off,
  Sunday 20 September and Saturday 10 October adjusted working days.
- 2027 has no official data yet: its working days are estimated.

"Day 1" of a working-day clock is the first working day after the day the
clock starts; "day 1" of the no-reason window is the day after signing.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pendulum
import pytest

from csrules import (
    Action,
    Condition,
    FreightPayer,
    Order,
    OrderLine,
    OrderStatus,
    ReturnDecision,
    ReturnRequest,
    Role,
)
from csrules.exceptions import DomainValueError
from csrules.policy import Policy, default_policy, load_policy
from csrules.rules import Rule, fact
from csrules.rules.returns import (
    FREIGHT_PAYER,
    REFUND_DUE,
    RETURN_ACTION,
    RETURN_DUTIES,
    RETURN_TABLES,
    decide_return,
)

SHANGHAI = "Asia/Shanghai"

B2C = default_policy()
TAOBAO = load_policy("taobao")
#: The B2C shop, reading LAW-25.1 as the courts do: a last day that is not a
#: working day moves to the next working day.
B2C_EXTENDED = B2C.with_values("2024-01-01", no_reason_extend_past_holiday=True)
CALENDAR = B2C.calendar

FOUR_HEADS = (
    Role.DEPARTMENT_HEAD,
    Role.FINANCE_HEAD,
    Role.LOGISTICS_HEAD,
    Role.OPERATIONS_HEAD,
)
FINANCE_AND_OPERATIONS = (Role.FINANCE, Role.OPERATIONS)
REFUND_DUTIES = (
    "tell_refund_period",
    "refund_to_balance_or_original_method",
    "prepare_refund_documents",
    "refund_table_to_finance",
)
EXCLUDED = ("custom_made", "fresh", "digital_download", "periodical", "non_returnable_confirmed")
SHOP_FAULT_REASONS = ("quality_defect", "damaged_in_transit", "wrong_item", "size_not_as_labelled")
NO_REASON_REASONS = ("changed_mind", "size_does_not_fit")
SIX_CHECKS = (
    "tag_intact",
    "unwashed",
    "undamaged",
    "delivery_note_complete",
    "order_number_given",
    "delivery_note_number_given",
)

# ----------------------------------------------------------------- builders


def at(day: str, hour: int = 10) -> pendulum.DateTime:
    """A Shanghai time on a day written as ``"2026-05-06"``."""
    y, m, d = (int(part) for part in day.split("-"))
    return pendulum.datetime(y, m, d, hour, tz=SHANGHAI)


def date(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


def goods(**failing: bool) -> Condition:
    """Returned goods: every check passes unless named ``=False``."""
    flags = dict.fromkeys((*SIX_CHECKS, "packaging_intact"), True)
    flags.update(failing)
    return Condition(**flags)


GOOD = goods()


def order(
    status: str = "signed",
    *,
    signed: str = "2026-04-30",
    placed: str | None = None,
    categories: tuple[str, ...] = ("apparel",),
    payment: str = "alipay",
    in_warehouse: bool = False,
) -> Order:
    """An order whose times fit its status.

    A signed order was placed four days before ``signed`` (15:00), paid an
    hour after placing and shipped the next day. Other orders were placed on
    ``placed`` (default 2026-04-20).
    """
    cod = payment == "cod"
    if status == "signed":
        signed_at = at(signed, 15)
        placed_at = signed_at.subtract(days=4)
    else:
        signed_at = None
        placed_at = at(placed or "2026-04-20", 9)
    paid_at = shipped_at = None
    if status in ("paid_unshipped", "shipped", "signed"):
        paid_at = None if cod else placed_at.add(hours=1)
        if status != "paid_unshipped":
            shipped_at = placed_at.add(days=1)
    if status == "signed" and cod:
        paid_at = signed_at  # paid at the door
    return Order(
        id="X1",
        customer_id="C1",
        status=status,
        lines=[
            OrderLine(sku=f"88{i}", unit_price="200.00", quantity=1, category=category)
            for i, category in enumerate(categories)
        ],
        placed_at=placed_at,
        paid_at=paid_at,
        shipped_at=shipped_at,
        signed_at=signed_at,
        payment_method=payment,
        in_warehouse_system=in_warehouse or shipped_at is not None,
    )


def ask(
    type: str,
    reason: str,
    *,
    condition: Condition | None = GOOD,
    proof: str | None = None,
    received: str | None = None,
    courier_confirmed: bool = False,
) -> ReturnRequest:
    """A customer's request; the goods pass every check unless told otherwise."""
    return ReturnRequest(
        type=type,
        reason=reason,
        courier_confirmed=courier_confirmed,
        condition=condition,
        proof_submitted_at=at(proof) if proof else None,
        goods_received_at=at(received) if received else None,
    )


#: (table name, rule id) of every rule any example has fired.
FIRED: set[tuple[str, str]] = set()


def decide(
    the_order: Order,
    request: ReturnRequest,
    on: str | pendulum.DateTime,
    policy: Policy = B2C,
    **kwargs: Any,
) -> ReturnDecision:
    decision = decide_return(
        the_order, request, at=at(on, 18) if isinstance(on, str) else on, policy=policy, **kwargs
    )
    FIRED.update((f.table.name, f.rule.id) for f in decision.trace.fired)
    return decision


def fired(decision: ReturnDecision, table: str) -> tuple[str, ...]:
    """Ids of the rules of one table that fired for a decision."""
    return tuple(f.rule.id for f in decision.trace.fired if f.table.name == table)


def action_rule(decision: ReturnDecision) -> str:
    (rule,) = fired(decision, RETURN_ACTION.name)
    return rule


def freight_rule(decision: ReturnDecision) -> str:
    (rule,) = fired(decision, FREIGHT_PAYER.name)
    return rule


def refund_rule(decision: ReturnDecision) -> str:
    (rule,) = fired(decision, REFUND_DUE.name)
    return rule


def assert_rejected(decision: ReturnDecision, clause: str, rule_id: str) -> None:
    assert decision.action is Action.REJECTED
    assert decision.eligible is False
    assert decision.approvals == ()
    assert decision.freight_payer is FreightPayer.NONE
    assert decision.refund_due is None
    assert clause in decision.rules
    assert action_rule(decision) == rule_id


# ================================================================ RETURN_ACTION


class TestClosedOrders:
    @pytest.mark.parametrize("status", ["closed", "cancelled"])
    @pytest.mark.parametrize("request_type", ["cancel", "return", "exchange", "refund", "redirect"])
    def test_nothing_can_be_changed_on_a_closed_order(self, status: str, request_type: str) -> None:
        """B2C-7.5.1: a closed (or cancelled) order is final; every request is refused."""
        decision = decide(order(status), ask(request_type, "changed_mind"), "2026-06-01")
        assert_rejected(decision, "B2C-7.5.1", "closed_order")
        assert decision.rules == ("B2C-7.5.1",)


class TestCancellingUnpaidOrders:
    @pytest.mark.parametrize("request_type", ["cancel", "return", "refund"])
    def test_the_agent_cancels_an_unpaid_order(self, request_type: str) -> None:
        """B2C-7.6.1: an unpaid order is cancelled (取消订单) by the agent, after telling
        the customer (B2C-7.6.2); no money has moved, so nothing is refunded."""
        decision = decide(
            order("confirmed_unpaid"), ask(request_type, "changed_mind"), "2026-06-01"
        )
        assert decision.action is Action.CANCEL
        assert decision.eligible is True
        assert decision.approvals == ()
        assert decision.freight_payer is FreightPayer.NONE
        assert decision.refund_due is None
        assert decision.duties == ("notify_before_cancel",)
        assert decision.rules == ("B2C-7.6.1", "B2C-7.6.2")
        assert action_rule(decision) == "cancel_unpaid"

    def test_a_taobao_agent_never_closes_the_buyers_trade(self) -> None:
        """TBX-4: in the Taobao shop the customer closes an unpaid trade themselves; the
        outcome is still a cancellation, but it cites TBX-4, not B2C-7.6.1."""
        decision = decide(
            order("confirmed_unpaid"), ask("cancel", "changed_mind"), "2026-06-01", TAOBAO
        )
        assert decision.action is Action.CANCEL
        assert decision.eligible is True
        assert "TBX-4" in decision.rules
        assert "B2C-7.6.1" not in decision.rules
        assert action_rule(decision) == "cancel_by_customer"
        assert decision.refund_due is None


class TestPaidOrdersNotYetShipped:
    @pytest.mark.parametrize("request_type", ["cancel", "return", "refund"])
    def test_cancelling_a_paid_order_needs_finance_and_operations(self, request_type: str) -> None:
        """B2C-7.4.4: a paid, unshipped order is cancelled as 退单 once Finance and
        Operations confirm; the agent first offers an exchange at the same price, and the
        money comes back within 7 working days (Mon 1 June -> Wed 10 June)."""
        decision = decide(order("paid_unshipped"), ask(request_type, "changed_mind"), "2026-06-01")
        assert decision.action is Action.CANCEL_PAID
        assert decision.eligible is True
        assert decision.approvals == FINANCE_AND_OPERATIONS
        assert decision.freight_payer is FreightPayer.NONE
        assert decision.refund_due == date("2026-06-10")
        assert decision.duties == ("offer_same_price_exchange", *REFUND_DUTIES)
        assert "B2C-7.4.4" in decision.rules
        assert action_rule(decision) == "cancel_paid"

    def test_an_order_already_in_the_warehouse_system_is_intercepted(self) -> None:
        """TB-1.2.3: paid and already entered into the warehouse system, the order must be
        intercepted (do not ship); it is still a paid-order cancellation needing Finance
        and Operations (B2C-7.4.4)."""
        decision = decide(
            order("paid_unshipped", in_warehouse=True), ask("cancel", "changed_mind"), "2026-06-01"
        )
        assert decision.action is Action.INTERCEPT
        assert decision.approvals == FINANCE_AND_OPERATIONS
        assert decision.freight_payer is FreightPayer.NONE
        assert decision.refund_due == date("2026-06-10")
        assert decision.duties == ("offer_same_price_exchange", *REFUND_DUTIES)
        assert "TB-1.2.3" in decision.rules
        assert action_rule(decision) == "intercept_paid"

    @pytest.mark.parametrize("in_warehouse", [False, True])
    def test_a_stock_out_is_refunded_without_approval(self, in_warehouse: bool) -> None:
        """TB-1.3: the item is out of stock and the customer chose a refund: refund it, no
        approval; the customer is offered exchange, refund or wait."""
        decision = decide(
            order("paid_unshipped", in_warehouse=in_warehouse),
            ask("cancel", "stock_out"),
            "2026-06-01",
        )
        assert decision.action is Action.REFUND
        assert decision.approvals == ()
        assert decision.freight_payer is FreightPayer.NONE
        assert decision.duties == ("offer_stock_out_choices", *REFUND_DUTIES)
        assert "TB-1.3" in decision.rules
        assert action_rule(decision) == "stock_out_refund"


class TestAfterShipment:
    @pytest.mark.parametrize("status", ["shipped", "signed"])
    def test_a_shipped_order_can_no_longer_be_cancelled(self, status: str) -> None:
        """TB-1.2.2: once shipped the parcel cannot be recalled, so a cancellation is
        refused; it becomes a return after delivery."""
        decision = decide(order(status), ask("cancel", "changed_mind"), "2026-06-01")
        assert_rejected(decision, "TB-1.2.2", "cancel_after_shipment")

    def test_goods_still_on_their_way_cannot_be_returned_yet(self) -> None:
        """B2C-7.4.1: a return starts once the goods are received or refused at the door;
        while they are in transit it is refused."""
        decision = decide(order("shipped"), ask("return", "changed_mind"), "2026-06-01")
        assert_rejected(decision, "B2C-7.4.1", "return_in_transit")

    @pytest.mark.parametrize("reason", ["refused_delivery", "wrong_address"])
    def test_a_parcel_that_came_back_unsigned_is_a_normal_return(self, reason: str) -> None:
        """B2C-7.4.1 and B2C-7.10.4a: goods that reached the address and came back
        unsigned (refused, wrong address) are a normal return; the company pays the
        freight."""
        decision = decide(order("shipped"), ask("return", reason, condition=None), "2026-06-01")
        assert decision.action is Action.NORMAL_RETURN
        assert decision.eligible is True
        assert decision.approvals == ()
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert decision.refund_due == date("2026-06-10")
        assert decision.rules[:2] == ("B2C-7.10.4a", "B2C-7.10.4a")
        assert action_rule(decision) == "return_unsigned_parcel"
        assert freight_rule(decision) == "unopened_parcel"


class TestNoReasonReturns:
    @pytest.mark.parametrize("reason", NO_REASON_REASONS)
    @pytest.mark.parametrize("day", ["2026-04-30", "2026-05-01", "2026-05-07"])
    def test_accepted_up_to_the_seventh_day_after_signing(self, reason: str, day: str) -> None:
        """LAW-25.1: goods may be returned without a reason within 7 days, counted from
        the day after signing: signed Thu 30 April, the last day is Thu 7 May."""
        decision = decide(order(signed="2026-04-30"), ask("return", reason), day)
        assert decision.action is Action.NORMAL_RETURN
        assert decision.eligible is True
        assert "LAW-25.1" not in decision.rules
        assert "return_gifts" in decision.duties

    @pytest.mark.parametrize("reason", NO_REASON_REASONS)
    @pytest.mark.parametrize("day", ["2026-05-08", "2026-06-30"])
    def test_refused_from_the_eighth_day_after_signing(self, reason: str, day: str) -> None:
        """LAW-25.1: signed Thu 30 April, a no-reason return asked on Fri 8 May or later
        is refused."""
        decision = decide(order(signed="2026-04-30"), ask("return", reason), day)
        assert_rejected(decision, "LAW-25.1", "no_reason_expired")
        assert decision.rules == ("LAW-25.1",)

    def test_the_days_count_in_shanghai_time(self) -> None:
        """All times are Asia/Shanghai: a parcel signed at 00:30 on 1 May in Shanghai
        (16:30 UTC on 30 April) was signed on 1 May, so 8 May is still day 7."""
        signed_utc = pendulum.datetime(2026, 4, 30, 16, 30, tz="UTC")
        the_order = Order(
            id="X1",
            customer_id="C1",
            status="signed",
            lines=[OrderLine(sku="8892", unit_price="200.00", quantity=1, category="apparel")],
            placed_at=signed_utc.subtract(days=4),
            paid_at=signed_utc.subtract(days=4),
            shipped_at=signed_utc.subtract(days=3),
            signed_at=signed_utc,
        )
        accepted = decide(the_order, ask("return", "changed_mind"), "2026-05-08")
        refused = decide(the_order, ask("return", "changed_mind"), "2026-05-09")
        assert accepted.action is Action.NORMAL_RETURN
        assert refused.action is Action.REJECTED

    def test_by_default_a_last_day_on_a_holiday_is_not_extended(self) -> None:
        """LAW-25.1, default reading (no extension): signed Fri 24 April, day 7 is
        1 May (Labour Day); the window still ends on 1 May."""
        the_order = order(signed="2026-04-24")
        last_day = decide(the_order, ask("return", "changed_mind"), "2026-05-01")
        day_after = decide(the_order, ask("return", "changed_mind"), "2026-05-02")
        assert last_day.action is Action.NORMAL_RETURN
        assert_rejected(day_after, "LAW-25.1", "no_reason_expired")

    def test_may_day_extends_the_last_day_when_the_shop_reads_it_so(self) -> None:
        """LAW-25.1 with the holiday extension: signed Fri 24 April, day 7 is 1 May, a
        holiday; 1-5 May are off, so the window ends on Wed 6 May."""
        assert not CALENDAR.is_workday(date("2026-05-01"))
        the_order = order(signed="2026-04-24")
        last_day = decide(the_order, ask("return", "changed_mind"), "2026-05-06", B2C_EXTENDED)
        day_after = decide(the_order, ask("return", "changed_mind"), "2026-05-07", B2C_EXTENDED)
        assert last_day.action is Action.NORMAL_RETURN
        assert_rejected(day_after, "LAW-25.1", "no_reason_expired_extended")

    def test_national_day_extends_the_last_day_when_the_shop_reads_it_so(self) -> None:
        """LAW-25.1 with the holiday extension: signed Thu 24 September, day 7 is 1 October;
        1-7 October are off, so the window ends on Thu 8 October."""
        the_order = order(signed="2026-09-24")
        last_day = decide(the_order, ask("return", "size_does_not_fit"), "2026-10-08", B2C_EXTENDED)
        day_after = decide(
            the_order, ask("return", "size_does_not_fit"), "2026-10-09", B2C_EXTENDED
        )
        assert last_day.action is Action.NORMAL_RETURN
        assert_rejected(day_after, "LAW-25.1", "no_reason_expired_extended")

    def test_a_sunday_last_day_moves_to_monday(self) -> None:
        """LAW-25.1 with the holiday extension: signed Sun 3 May, day 7 is Sun 10 May, a
        day off; the window ends on Mon 11 May."""
        the_order = order(signed="2026-05-03")
        monday = decide(the_order, ask("return", "changed_mind"), "2026-05-11", B2C_EXTENDED)
        tuesday = decide(the_order, ask("return", "changed_mind"), "2026-05-12", B2C_EXTENDED)
        assert monday.action is Action.NORMAL_RETURN
        assert tuesday.action is Action.REJECTED

    def test_an_adjusted_working_saturday_is_not_extended(self) -> None:
        """LAW-25.1 with the holiday extension: signed Sat 2 May, day 7 is Sat 9 May, an
        adjusted working day (调休), so nothing moves: Mon 11 May is too late."""
        assert CALENDAR.is_workday(date("2026-05-09"))
        the_order = order(signed="2026-05-02")
        saturday = decide(the_order, ask("return", "changed_mind"), "2026-05-09", B2C_EXTENDED)
        monday = decide(the_order, ask("return", "changed_mind"), "2026-05-11", B2C_EXTENDED)
        assert saturday.action is Action.NORMAL_RETURN
        assert_rejected(monday, "LAW-25.1", "no_reason_expired_extended")

    @pytest.mark.parametrize("category", EXCLUDED)
    @pytest.mark.parametrize("reason", NO_REASON_REASONS)
    def test_goods_the_law_excludes_cannot_be_returned_without_a_reason(
        self, category: str, reason: str
    ) -> None:
        """LAW-25.2: custom-made, fresh, downloaded digital goods, delivered periodicals and
        goods confirmed non-returnable at purchase are excluded from no-reason returns,
        even on day 1."""
        decision = decide(
            order(signed="2026-04-30", categories=(category,)),
            ask("return", reason),
            "2026-05-01",
        )
        assert_rejected(decision, "LAW-25.2", "no_reason_excluded")

    @pytest.mark.parametrize("category", EXCLUDED)
    def test_excluded_goods_with_a_defect_can_still_come_back(self, category: str) -> None:
        """LAW-25.2 only limits no-reason returns: excluded goods with a quality defect are
        a normal return, the company paying the freight both ways (TB-1.4.2)."""
        decision = decide(
            order(signed="2026-04-30", categories=(category,)),
            ask("return", "quality_defect"),
            "2026-05-01",
        )
        assert decision.action is Action.NORMAL_RETURN
        assert decision.freight_payer is FreightPayer.MERCHANT

    @pytest.mark.parametrize("reason", SHOP_FAULT_REASONS)
    def test_a_faulty_item_has_no_return_window(self, reason: str) -> None:
        """The 7-day window is for no-reason returns only: a quality problem, transport
        damage, wrong goods or a size not as labelled can come back 60 days after signing
        (signed 30 April, asked 29 June)."""
        decision = decide(order(signed="2026-04-30"), ask("return", reason), "2026-06-29")
        assert decision.action is Action.NORMAL_RETURN
        assert decision.eligible is True
        assert "LAW-25.1" not in decision.rules
        assert "return_gifts" not in decision.duties
        assert action_rule(decision) == "normal_return"

    def test_an_excluded_line_does_not_exclude_the_rest_of_the_order(self) -> None:
        """LAW-25.2: the law excludes goods, not orders, and a shop may not add to the list:
        a jacket bought together with fresh food can still come back without a reason; the
        fresh food stays."""
        decision = decide(
            order(signed="2026-04-30", categories=("apparel", "fresh")),
            ask("return", "changed_mind"),
            "2026-05-01",
        )
        assert decision.action is Action.NORMAL_RETURN
        assert "excluded_items_stay" in decision.duties
        assert "LAW-25.2" in decision.rules

    def test_an_order_of_excluded_goods_only_cannot_come_back(self) -> None:
        """LAW-25.2: when every item is of an excluded kind (here fresh food and a
        made-to-order item), nothing can come back without a reason."""
        decision = decide(
            order(signed="2026-04-30", categories=("fresh", "custom_made")),
            ask("return", "changed_mind"),
            "2026-05-01",
        )
        assert_rejected(decision, "LAW-25.2", "no_reason_excluded")

    def test_excluded_items_need_no_mention_when_there_are_none(self) -> None:
        """The "excluded items stay" reminder is only for orders that hold some."""
        decision = decide(order(), ask("return", "changed_mind"), "2026-05-01")
        assert "excluded_items_stay" not in decision.duties


class TestNormalAndAbnormalReturns:
    def test_goods_passing_every_check_are_a_normal_return(self) -> None:
        """B2C-7.4.2: tag intact, unwashed, undamaged, delivery note complete, order and
        delivery-note numbers given: a normal return, no approval needed."""
        decision = decide(order(), ask("return", "changed_mind"), "2026-05-01")
        assert decision.action is Action.NORMAL_RETURN
        assert decision.approvals == ()
        assert "B2C-7.4.2" in decision.rules
        assert action_rule(decision) == "normal_return"

    def test_missing_packaging_alone_does_not_make_a_return_abnormal(self) -> None:
        """B2C-7.4.2 lists five conditions; packaging is not one of them."""
        decision = decide(
            order(),
            ask("return", "changed_mind", condition=goods(packaging_intact=False)),
            "2026-05-01",
        )
        assert decision.action is Action.NORMAL_RETURN

    @pytest.mark.parametrize("check", SIX_CHECKS)
    @pytest.mark.parametrize("reason", ["changed_mind", "quality_defect"])
    def test_any_failed_check_makes_an_abnormal_return_for_four_heads(
        self, check: str, reason: str
    ) -> None:
        """B2C-7.4.3: if any normal-return condition fails, the return is not refused: the
        agent files an application that the department, finance, logistics and
        online-operations heads approve."""
        decision = decide(
            order(), ask("return", reason, condition=goods(**{check: False})), "2026-05-01"
        )
        assert decision.action is Action.ABNORMAL_RETURN
        assert decision.eligible is True
        assert decision.approvals == FOUR_HEADS
        assert "B2C-7.4.3" in decision.rules
        assert action_rule(decision) == "abnormal_return"


class TestMissingTagOrPackaging:
    @pytest.mark.parametrize("reason", NO_REASON_REASONS)
    def test_the_taobao_shop_refuses_a_no_reason_return_without_its_tag(self, reason: str) -> None:
        """TB-1.4.1: the Taobao shop does not take back goods whose tag is missing when the
        reason is the customer's; the agent explains why. LAW-25.3 agrees: apparel with its
        tag removed is not intact, so this holds inside the 7 days too."""
        decision = decide(
            order(signed="2026-04-30"),
            ask("return", reason, condition=goods(tag_intact=False)),
            "2026-05-01",
            TAOBAO,
        )
        assert_rejected(decision, "TB-1.4.1", "tag_or_packaging_missing")

    @pytest.mark.parametrize("reason", NO_REASON_REASONS)
    @pytest.mark.parametrize("missing", ["tag_intact", "packaging_intact"])
    def test_the_taobao_shop_refuses_an_exchange_without_tag_or_packaging(
        self, reason: str, missing: str
    ) -> None:
        """TB-1.4.1: an exchange for the customer's own reason with the tag or the packaging
        missing is not accepted."""
        decision = decide(
            order(signed="2026-04-30"),
            ask("exchange", reason, condition=goods(**{missing: False})),
            "2026-05-01",
            TAOBAO,
        )
        assert_rejected(decision, "TB-1.4.1", "tag_or_packaging_missing")

    @pytest.mark.parametrize("reason", SHOP_FAULT_REASONS)
    def test_the_taobao_shop_takes_back_faulty_goods_without_a_tag(self, reason: str) -> None:
        """TB-1.4.1 applies to the customer's reasons only: a faulty item with its tag
        removed is an abnormal return for the four heads (B2C-7.4.3)."""
        decision = decide(
            order(), ask("return", reason, condition=goods(tag_intact=False)), "2026-05-01", TAOBAO
        )
        assert decision.action is Action.ABNORMAL_RETURN
        assert decision.approvals == FOUR_HEADS
        assert "TB-1.4.1" not in decision.rules

    def test_the_default_shop_does_not_refuse_for_a_missing_tag(self) -> None:
        """The B2C handbook files an abnormal return instead (B2C-7.4.3); TB-1.4.1 is a
        Taobao shop's rule."""
        decision = decide(
            order(), ask("return", "changed_mind", condition=goods(tag_intact=False)), "2026-05-01"
        )
        assert decision.action is Action.ABNORMAL_RETURN
        assert decision.approvals == FOUR_HEADS

    def test_missing_packaging_does_not_defeat_the_legal_seven_days(self) -> None:
        """LAW-25.3: goods are not intact when tags are removed or they are soiled or
        damaged; missing packaging is not listed, and a shop may never be stricter than the
        law, so in the Taobao shop a no-reason return on day 1 with the tag on still goes
        through."""
        decision = decide(
            order(signed="2026-04-30"),
            ask("return", "changed_mind", condition=goods(packaging_intact=False)),
            "2026-05-01",
            TAOBAO,
        )
        assert decision.action is Action.NORMAL_RETURN
        assert "TB-1.4.1" not in decision.rules


class TestExchanges:
    def test_an_unpaid_order_is_simply_edited(self) -> None:
        """B2C-7.5.2: unpaid, the agent edits the order (noting the time of the request) or
        the customer orders again; nothing has shipped, so there is no freight."""
        decision = decide(order("confirmed_unpaid"), ask("exchange", "changed_mind"), "2026-06-01")
        assert decision.action is Action.EXCHANGE
        assert decision.freight_payer is FreightPayer.NONE
        assert decision.refund_due is None
        assert decision.rules == ("B2C-7.5.2",)
        assert action_rule(decision) == "exchange_unpaid"
        assert freight_rule(decision) == "not_shipped"

    @pytest.mark.parametrize("status", ["paid_unshipped", "shipped", "signed"])
    def test_a_paid_order_is_exchanged_and_the_customer_told(self, status: str) -> None:
        """B2C-7.5.3: paid, the agent records the customer's e-mail and reports back when
        the exchange is done."""
        decision = decide(order(status), ask("exchange", "changed_mind"), "2026-06-01")
        assert decision.action is Action.EXCHANGE
        assert decision.eligible is True
        assert decision.approvals == ()
        assert decision.refund_due is None
        assert "B2C-7.5.3" in decision.rules
        assert action_rule(decision) == "exchange_paid"

    def test_nothing_to_pay_before_shipment(self) -> None:
        """B2C-7.10.1: a paid order not yet shipped is changed on the order; no freight."""
        decision = decide(order("paid_unshipped"), ask("exchange", "changed_mind"), "2026-06-01")
        assert decision.freight_payer is FreightPayer.NONE

    @pytest.mark.parametrize("status", ["confirmed_unpaid", "paid_unshipped", "signed"])
    def test_an_out_of_stock_replacement_is_announced_at_once(self, status: str) -> None:
        """B2C-7.5.4 and TB-1.3: the replacement is out of stock: tell the customer at once
        and offer exchange, refund or wait."""
        decision = decide(order(status), ask("exchange", "stock_out"), "2026-06-01")
        assert decision.action is Action.EXCHANGE
        assert "B2C-7.5.4" in decision.rules
        assert "offer_stock_out_choices" in decision.duties
        assert action_rule(decision) == "exchange_stock_out"


class TestRefundOnly:
    @pytest.mark.parametrize("reason", SHOP_FAULT_REASONS)
    @pytest.mark.parametrize("status", ["shipped", "signed"])
    def test_a_refund_for_the_shops_fault_needs_no_approval(self, reason: str, status: str) -> None:
        """TBX-7: a shop never refuses a refund; when the problem is on the shop's side
        (defect, transport damage, wrong goods, size not as labelled) no one must sign off.
        No goods move, so no freight."""
        decision = decide(order(status), ask("refund", reason, condition=None), "2026-06-01")
        assert decision.action is Action.REFUND
        assert decision.eligible is True
        assert decision.approvals == ()
        assert decision.freight_payer is FreightPayer.NONE
        assert decision.refund_due == date("2026-06-10")
        assert action_rule(decision) == "refund_shop_fault"

    @pytest.mark.parametrize("reason", NO_REASON_REASONS)
    @pytest.mark.parametrize("status", ["shipped", "signed"])
    def test_a_refund_for_the_customers_reason_is_signed_off_by_a_manager(
        self, reason: str, status: str
    ) -> None:
        """TBX-7: even when it is not the shop's fault, a refund request is never refused
        outright; a manager signs it off."""
        decision = decide(order(status), ask("refund", reason, condition=None), "2026-06-01")
        assert decision.action is Action.REFUND
        assert decision.eligible is True
        assert decision.approvals == (Role.MANAGER,)
        assert "TBX-7" in decision.rules
        assert action_rule(decision) == "refund_customer_side"

    def test_a_shipped_stock_out_refunds_the_missing_items(self) -> None:
        """TB-1.3: with several items and one out of stock, in-stock items may ship first
        and the missing ones are refunded, no approval needed."""
        decision = decide(
            order("shipped"), ask("refund", "stock_out", condition=None), "2026-06-01"
        )
        assert decision.action is Action.REFUND
        assert decision.approvals == ()
        assert "TB-1.3" in decision.rules
        assert "offer_stock_out_choices" in decision.duties
        assert action_rule(decision) == "refund_stock_out_shipped"


class TestRedirects:
    def test_an_unpaid_order_gets_its_address_edited(self) -> None:
        """B2C-7.5.2: not shipped yet, the agent edits the address and notes the time of the
        request; no extra freight (B2C-7.10.1)."""
        decision = decide(
            order("confirmed_unpaid"), ask("redirect", "address_change"), "2026-06-01"
        )
        assert decision.action is Action.REDIRECT
        assert decision.freight_payer is FreightPayer.NONE
        assert decision.rules == ("B2C-7.5.2",)
        assert action_rule(decision) == "redirect_unshipped"

    def test_a_paid_order_outside_the_warehouse_gets_its_address_edited(self) -> None:
        """B2C-7.5.2: paid but not yet in the warehouse system: the agent edits it."""
        decision = decide(order("paid_unshipped"), ask("redirect", "address_change"), "2026-06-01")
        assert decision.action is Action.REDIRECT
        assert decision.freight_payer is FreightPayer.NONE
        assert action_rule(decision) == "redirect_unshipped"

    def test_logistics_changes_the_address_once_in_the_warehouse_system(self) -> None:
        """TB-1.2.3: already in the warehouse system, logistics changes the address before
        shipping; no extra freight."""
        decision = decide(
            order("paid_unshipped", in_warehouse=True),
            ask("redirect", "address_change"),
            "2026-06-01",
        )
        assert decision.action is Action.REDIRECT
        assert decision.freight_payer is FreightPayer.NONE
        assert "TB-1.2.3" in decision.rules
        assert action_rule(decision) == "redirect_in_warehouse"

    def test_after_shipment_the_parcel_is_redirected_at_the_customers_cost(self) -> None:
        """B2C-7.10.3b: an address change after shipment is done, and the customer pays the
        freight difference."""
        decision = decide(order("shipped"), ask("redirect", "address_change"), "2026-06-01")
        assert decision.action is Action.REDIRECT
        assert decision.freight_payer is FreightPayer.CUSTOMER
        assert decision.refund_due is None
        assert decision.rules == ("B2C-7.10.3b", "B2C-7.10.3b")
        assert action_rule(decision) == "redirect_shipped"
        assert freight_rule(decision) == "redirect"

    def test_nothing_left_to_redirect_after_signing(self) -> None:
        """B2C-7.4.1: the customer signed for the parcel; there is nothing to redirect."""
        decision = decide(order("signed"), ask("redirect", "address_change"), "2026-06-01")
        assert_rejected(decision, "B2C-7.4.1", "redirect_signed")


# ================================================================ FREIGHT_PAYER


class TestFreight:
    def test_an_exchange_the_customer_wants_is_at_their_cost(self) -> None:
        """B2C-7.10.3a: an exchange not caused by a quality or size problem: the customer
        pays the actual freight."""
        decision = decide(order(), ask("exchange", "changed_mind"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.CUSTOMER
        assert "B2C-7.10.3a" in decision.rules
        assert freight_rule(decision) == "exchange_customer"

    def test_a_return_after_signing_without_a_quality_problem_is_at_the_customers_cost(
        self,
    ) -> None:
        """B2C-7.10.3c and LAW-25.4: the customer ships a no-reason return back at their
        own cost."""
        decision = decide(order(), ask("return", "changed_mind"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.CUSTOMER
        assert "B2C-7.10.3c" in decision.rules
        assert freight_rule(decision) == "return_no_quality_problem"

    def test_transport_damage_the_courier_did_not_confirm_is_at_the_customers_cost(
        self,
    ) -> None:
        """B2C-7.10.4b covers damage the courier confirms was not the customer's doing;
        without that, a return after signing is B2C-7.10.3c."""
        decision = decide(order(), ask("return", "damaged_in_transit"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.CUSTOMER
        assert freight_rule(decision) == "return_no_quality_problem"

    @pytest.mark.parametrize("request_type", ["return", "exchange"])
    def test_damage_the_courier_confirmed_is_at_the_companys_cost(self, request_type: str) -> None:
        """B2C-7.10.4b: the courier confirmed the damage was not the customer's doing; the
        company pays."""
        decision = decide(
            order(), ask(request_type, "damaged_in_transit", courier_confirmed=True), "2026-05-01"
        )
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert "B2C-7.10.4b" in decision.rules
        assert freight_rule(decision) == "courier_confirmed_damage"

    @pytest.mark.parametrize("request_type", ["return", "exchange"])
    def test_wrong_goods_are_at_the_companys_cost(self, request_type: str) -> None:
        """B2C-7.10.4c: the goods shipped do not match the order; the company pays."""
        decision = decide(order(), ask(request_type, "wrong_item"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert "B2C-7.10.4c" in decision.rules
        assert freight_rule(decision) == "wrong_item"

    @pytest.mark.parametrize("reason", ["refused_delivery", "wrong_address"])
    def test_an_unopened_parcel_coming_back_is_at_the_companys_cost(self, reason: str) -> None:
        """B2C-7.10.4a: refused or wrong address, the parcel comes back unopened; the
        company pays."""
        decision = decide(order("shipped"), ask("return", reason, condition=None), "2026-06-01")
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert freight_rule(decision) == "unopened_parcel"

    def test_a_refused_cash_on_delivery_parcel_costs_the_shop(self) -> None:
        """NEW-7: a refused cash-on-delivery parcel costs the shop the freight; nothing
        ships again, so there is no order to confirm by phone."""
        decision = decide(
            order("shipped", payment="cod"),
            ask("return", "refused_delivery", condition=None),
            "2026-06-01",
        )
        assert decision.action is Action.NORMAL_RETURN
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert decision.rules[:2] == ("B2C-7.10.4a", "NEW-7")
        assert freight_rule(decision) == "cod_refused"
        assert "confirm_cod_by_phone" not in decision.duties

    def test_a_refused_cash_on_delivery_parcel_has_nothing_to_refund(self) -> None:
        """B2C-7.8: a refund gives back money the customer paid; a cash-on-delivery parcel
        refused at the door was never paid, so no refund is due."""
        decision = decide(
            order("shipped", payment="cod"),
            ask("return", "refused_delivery", condition=None),
            "2026-06-01",
        )
        assert decision.refund_due is None
        assert refund_rule(decision) == "nothing_paid"
        assert not set(REFUND_DUTIES) & set(decision.duties)

    def test_a_cash_on_delivery_order_paid_at_the_door_is_refunded(self) -> None:
        """B2C-7.8.2: once the customer paid at the door, a return is refunded like any
        other: asked Mon 1 June, due Wed 10 June."""
        decision = decide(
            order(signed="2026-05-28", payment="cod"), ask("return", "changed_mind"), "2026-06-01"
        )
        assert decision.refund_due == date("2026-06-10")
        assert decision.duties == (*REFUND_DUTIES, "return_gifts")

    @pytest.mark.parametrize("request_type", ["return", "exchange"])
    def test_a_quality_problem_is_at_the_companys_cost_both_ways(self, request_type: str) -> None:
        """TB-1.4.2: for a quality problem the company pays the freight both ways."""
        decision = decide(order(), ask(request_type, "quality_defect"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert "TB-1.4.2" in decision.rules
        assert freight_rule(decision) == "quality_problem"

    def test_otherwise_the_customer_pays_the_way_back(self) -> None:
        """TB-1.4.2: not a quality problem and not the shop's fault, the customer pays the
        way back. (With the bundled tables the rows above already decide every parcel
        movement; a shop that takes back goods still in transit reaches this row.)"""
        lenient = RETURN_ACTION.replace_rule(
            "return_in_transit",
            Rule(
                "B2C-7.4.1",
                (fact("request_type") == "return") & (fact("status") == OrderStatus.SHIPPED),
                {"action": Action.NORMAL_RETURN},
                en="This shop takes goods back while they are on their way.",
                zh="本店受理在途退货。",
                id="return_in_transit",
            ),
        )
        decision = decide(
            order("shipped"),
            ask("return", "changed_mind", condition=None),
            "2026-06-01",
            tables=(lenient, FREIGHT_PAYER, REFUND_DUE, RETURN_DUTIES),
        )
        assert decision.action is Action.NORMAL_RETURN
        assert decision.freight_payer is FreightPayer.CUSTOMER
        assert freight_rule(decision) == "customer_side"


class TestSizeProblems:
    """Known conflict "Size problems": a size that does not fit the customer is not a
    product fault; a size not as labelled is."""

    def test_an_exchange_for_a_size_that_does_not_fit_is_free(self) -> None:
        """B2C-7.10.3a read literally: an exchange for a size problem is not charged to the
        customer."""
        decision = decide(order(), ask("exchange", "size_does_not_fit"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert "B2C-7.10.3a" in decision.rules
        assert freight_rule(decision) == "exchange_size"

    def test_a_return_for_a_size_that_does_not_fit_is_at_the_customers_cost(self) -> None:
        """B2C-7.10.3c: a return after signing with no quality problem; a size that does not
        fit is not a quality problem."""
        decision = decide(order(), ask("return", "size_does_not_fit"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.CUSTOMER
        assert "B2C-7.10.3c" in decision.rules

    @pytest.mark.parametrize("request_type", ["return", "exchange"])
    def test_a_size_not_as_labelled_is_a_product_fault(self, request_type: str) -> None:
        """B2C-5 lists a size not as labelled (尺码不符) as a product fault: the company pays
        either way (TB-1.4.2)."""
        decision = decide(order(), ask(request_type, "size_not_as_labelled"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert freight_rule(decision) == "quality_problem"

    def test_a_size_not_as_labelled_has_no_seven_day_limit(self) -> None:
        """Being a product fault, a size not as labelled can come back after day 7."""
        decision = decide(
            order(signed="2026-04-30"), ask("return", "size_not_as_labelled"), "2026-05-20"
        )
        assert decision.action is Action.NORMAL_RETURN


# ================================================================== REFUND_DUE


class TestRefundDueDates:
    @pytest.mark.parametrize(
        ("request_day", "due"),
        [
            ("2026-06-01", "2026-06-10"),  # Mon -> Wed of the next week, a plain fortnight
            ("2026-06-06", "2026-06-16"),  # Sat: day 1 is Mon 8 June
            ("2026-06-15", "2026-06-25"),  # Dragon Boat 19-21 June is skipped
            ("2026-04-29", "2026-05-12"),  # May Day 1-5 May off, Sat 9 May on
            ("2026-05-06", "2026-05-14"),  # Sat 9 May counts as a working day
            ("2026-09-30", "2026-10-15"),  # National Day 1-7 Oct off, Sat 10 Oct on
        ],
    )
    def test_seven_working_days_after_the_request(self, request_day: str, due: str) -> None:
        """B2C-7.8.2: the refund reaches the customer within 7 working days; day 1 is the
        first working day after the request."""
        decision = decide(
            order("paid_unshipped", placed="2026-04-20"), ask("cancel", "changed_mind"), request_day
        )
        assert decision.refund_due == date(due)
        assert refund_rule(decision) == "b2c_refund_clock"
        assert "B2C-7.8.2" in decision.rules

    def test_the_clock_starts_when_the_payment_proof_comes_in(self) -> None:
        """B2C-7.8.2: both the request and the payment proof must be in: asked Mon 1 June,
        proof Wed 3 June, due Fri 12 June."""
        decision = decide(
            order("paid_unshipped"), ask("cancel", "changed_mind", proof="2026-06-03"), "2026-06-01"
        )
        assert decision.refund_due == date("2026-06-12")

    def test_proof_sent_before_the_request_does_not_start_the_clock_early(self) -> None:
        """B2C-7.8.2: the later of the two starts the clock: proof Fri 29 May, request
        Mon 1 June, due Wed 10 June."""
        decision = decide(
            order("paid_unshipped"), ask("cancel", "changed_mind", proof="2026-05-29"), "2026-06-01"
        )
        assert decision.refund_due == date("2026-06-10")

    def test_without_proof_the_clock_runs_from_the_request(self) -> None:
        """B2C-7.8.2 with no separate proof: from the request, Mon 1 June -> Wed 10 June."""
        decision = decide(order("paid_unshipped"), ask("cancel", "changed_mind"), "2026-06-01")
        assert decision.refund_due == date("2026-06-10")

    def test_a_no_reason_return_is_due_seven_days_after_the_goods_come_back(self) -> None:
        """LAW-25.5: the seller refunds within 7 days of receiving the goods; when that is
        earlier than B2C-7.8.2 it wins: asked Mon 1 June (B2C: Wed 10 June), goods back
        Tue 2 June (law: Tue 9 June) -> Tue 9 June."""
        decision = decide(
            order(signed="2026-05-28"),
            ask("return", "changed_mind", received="2026-06-02"),
            "2026-06-01",
        )
        assert decision.refund_due == date("2026-06-09")
        assert "LAW-25.5" in decision.rules
        assert refund_rule(decision) == "law_refund_clock"

    def test_the_handbook_clock_wins_when_it_is_earlier(self) -> None:
        """Known conflict "Two refund clocks": the earlier of the two: goods back Fri 5 June
        (law: Fri 12 June), handbook Wed 10 June -> Wed 10 June."""
        decision = decide(
            order(signed="2026-05-28"),
            ask("return", "changed_mind", received="2026-06-05"),
            "2026-06-01",
        )
        assert decision.refund_due == date("2026-06-10")
        assert refund_rule(decision) == "law_refund_clock"

    def test_the_law_clock_does_not_depend_on_the_reason_given(self) -> None:
        """LAW-25.5 binds every return the no-reason right covers: a defective item sent
        back inside the window, goods intact, is refunded by the same earlier date as a
        no-reason return (B2C clock Wed 10 June, the law's Tue 9 June)."""
        decision = decide(
            order(signed="2026-05-28"),
            ask("return", "quality_defect", received="2026-06-02"),
            "2026-06-01",
        )
        assert decision.refund_due == date("2026-06-09")
        assert refund_rule(decision) == "law_refund_clock"

    def test_the_law_clock_needs_the_goods_to_be_back(self) -> None:
        """Without goods_received_at only the handbook clock can be counted."""
        decision = decide(order(signed="2026-05-28"), ask("return", "quality_defect"), "2026-06-01")
        assert decision.refund_due == date("2026-06-10")
        assert refund_rule(decision) == "b2c_refund_clock"

    @pytest.mark.parametrize(
        ("request_day", "due"),
        [
            ("2026-06-01", "2026-06-02"),  # Mon -> Tue
            ("2026-06-05", "2026-06-08"),  # Fri -> Mon
            ("2026-06-06", "2026-06-08"),  # Sat: handled on Monday
            ("2026-06-07", "2026-06-08"),  # Sun: handled on Monday
            ("2026-05-03", "2026-05-06"),  # Sun in May Day: Mon 4 and Tue 5 May are off
        ],
    )
    @pytest.mark.parametrize("in_warehouse", [False, True])
    def test_taobao_refunds_an_unshipped_order_in_one_working_day(
        self, request_day: str, due: str, in_warehouse: bool
    ) -> None:
        """TB-1.5.1: not shipped, refunded within 1 working day; weekend requests are
        handled the next Monday (or the next working day after a holiday)."""
        decision = decide(
            order("paid_unshipped", in_warehouse=in_warehouse),
            ask("cancel", "changed_mind"),
            request_day,
            TAOBAO,
        )
        assert decision.refund_due == date(due)
        assert "TB-1.5.1" in decision.rules
        assert refund_rule(decision) == "taobao_unshipped"

    @pytest.mark.parametrize(
        ("request_day", "due"),
        [("2026-06-04", "2026-06-08"), ("2026-06-05", "2026-06-09"), ("2026-04-30", "2026-05-07")],
    )
    def test_taobao_refunds_a_stock_out_in_two_working_days(
        self, request_day: str, due: str
    ) -> None:
        """TB-1.3: stock-out refunds within 2 working days (Thu 4 June -> Mon 8 June; Thu
        30 April -> Thu 7 May across May Day)."""
        decision = decide(order("paid_unshipped"), ask("refund", "stock_out"), request_day, TAOBAO)
        assert decision.refund_due == date(due)
        assert refund_rule(decision) == "taobao_stock_out"

    def test_taobao_returns_after_delivery_use_the_handbook_clock(self) -> None:
        """The Taobao clocks are for orders not yet shipped; a return after signing follows
        B2C-7.8.2."""
        decision = decide(
            order(signed="2026-05-28"), ask("return", "quality_defect"), "2026-06-01", TAOBAO
        )
        assert decision.refund_due == date("2026-06-10")
        assert refund_rule(decision) == "b2c_refund_clock"

    @pytest.mark.parametrize("request_type", ["cancel", "redirect", "exchange"])
    def test_no_refund_when_no_money_goes_back(self, request_type: str) -> None:
        """B2C-7.8: cancelling an unpaid order, redirecting or exchanging refunds nothing."""
        decision = decide(
            order("confirmed_unpaid"), ask(request_type, "changed_mind"), "2026-06-01"
        )
        assert decision.refund_due is None
        assert refund_rule(decision) == "no_refund"
        assert not set(REFUND_DUTIES) & set(decision.duties)

    def test_a_date_in_2026_is_not_estimated(self) -> None:
        """2026 has official holiday data: the due date is exact."""
        decision = decide(order("paid_unshipped"), ask("cancel", "changed_mind"), "2026-06-01")
        assert decision.estimated is False

    def test_a_date_in_2027_is_only_estimated(self) -> None:
        """Without official 2027 data, weekends and fixed-date holidays are assumed, and the
        decision says so: asked Mon 1 March 2027, estimated due Wed 10 March."""
        assert 2027 not in CALENDAR.covered_years(), "2027 now has official data"
        decision = decide(
            order("paid_unshipped", placed="2027-02-26"),
            ask("cancel", "changed_mind"),
            "2027-03-01",
        )
        assert decision.refund_due == date("2027-03-10")
        assert decision.estimated is True

    def test_a_due_date_running_into_2027_is_estimated(self) -> None:
        """Asked Mon 28 December 2026, the 7th working day falls in January 2027."""
        decision = decide(
            order("paid_unshipped", placed="2026-12-20"),
            ask("cancel", "changed_mind"),
            "2026-12-28",
        )
        assert decision.refund_due is not None
        assert decision.refund_due.year == 2027
        assert decision.estimated is True

    def test_a_window_moved_past_estimated_2027_holidays_is_flagged(self) -> None:
        """Signed Fri 24 September 2027, day 7 is 1 October; with the holiday extension the
        last day is the next working day, which is only estimated for 2027 (the official
        National Day 2027 is not yet known), so the refusal says it is estimated."""
        decision = decide(
            order(signed="2027-09-24"), ask("return", "changed_mind"), "2027-10-05", B2C_EXTENDED
        )
        assert decision.action is Action.REJECTED
        assert decision.estimated is True

    def test_a_plain_calendar_window_in_2027_is_exact(self) -> None:
        """Without the extension the window counts calendar days only: signed 24 September
        2027, refused on 2 October, and no working day was needed."""
        decision = decide(order(signed="2027-09-24"), ask("return", "changed_mind"), "2027-10-02")
        assert decision.action is Action.REJECTED
        assert decision.estimated is False


# =============================================================== RETURN_DUTIES


class TestDuties:
    def test_tell_the_customer_before_cancelling(self) -> None:
        """B2C-7.6.2: before cancelling, tell the customer by phone or e-mail."""
        decision = decide(order("confirmed_unpaid"), ask("cancel", "changed_mind"), "2026-06-01")
        assert decision.duties == ("notify_before_cancel",)

    def test_offer_an_exchange_then_prepare_the_refund(self) -> None:
        """B2C-7.4.4, B2C-7.8.1/2/5, JD-1.4: before a paid cancellation offer an item of the
        same price; tell the refund period, refund to balance or original method, prepare
        the three documents, and put it in the day's refund table for Finance (16:00)."""
        decision = decide(order("paid_unshipped"), ask("cancel", "changed_mind"), "2026-06-01")
        assert decision.duties == (
            "offer_same_price_exchange",
            "tell_refund_period",
            "refund_to_balance_or_original_method",
            "prepare_refund_documents",
            "refund_table_to_finance",
        )
        assert decision.rules[-5:] == ("B2C-7.4.4", "B2C-7.8.2", "B2C-7.8.1", "B2C-7.8.5", "JD-1.4")
        assert any("16:00" in line for line in decision.explanation("en"))
        assert any("16:00" in line for line in decision.explanation("zh"))

    def test_offer_the_stock_out_choices(self) -> None:
        """TB-1.3: the customer chooses exchange, refund or wait."""
        decision = decide(order("paid_unshipped"), ask("cancel", "stock_out"), "2026-06-01")
        assert decision.duties[0] == "offer_stock_out_choices"

    def test_gifts_come_back_with_a_no_reason_return(self) -> None:
        """LAW-25.4: gifts that came with the order come back too, or are paid for."""
        decision = decide(order(), ask("return", "changed_mind"), "2026-05-01")
        assert decision.duties == (*REFUND_DUTIES, "return_gifts")
        assert decision.rules[-1] == "LAW-25.4"

    def test_gifts_stay_with_a_faulty_item(self) -> None:
        """LAW-25.4 is about no-reason returns; a defective item's return has no gift duty."""
        decision = decide(order(), ask("return", "quality_defect"), "2026-05-01")
        assert decision.duties == REFUND_DUTIES

    def test_confirm_cash_on_delivery_orders_by_phone(self) -> None:
        """NEW-7: a cash-on-delivery order is confirmed by phone before it ships, so an
        exchange, which ships the new item, carries the duty."""
        decision = decide(
            order("signed", payment="cod"), ask("exchange", "changed_mind"), "2026-05-01"
        )
        assert decision.duties == ("charge_shipping_fee", "confirm_cod_by_phone")
        assert decision.rules[-1] == "NEW-7"

    def test_a_customer_paid_exchange_ships_at_the_standard_fee(self) -> None:
        """B2C-7.10.2: outside a free-shipping promotion the fee is 10 yuan per order; an
        exchange the customer pays for (B2C-7.10.3a) is charged at that fee."""
        decision = decide(order(), ask("exchange", "changed_mind"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.CUSTOMER
        assert decision.duties == ("charge_shipping_fee",)
        assert decision.rules[-1] == "B2C-7.10.2"
        assert "10.00 yuan" in decision.explanation()[-1]

    def test_taobao_quotes_one_to_two_working_days_before_shipment(self) -> None:
        """TB-1.2.4: for a pre-shipment refund the Taobao shop tells the customer 1-2
        working days."""
        decision = decide(
            order("paid_unshipped"), ask("cancel", "changed_mind"), "2026-06-01", TAOBAO
        )
        assert "quote_one_to_two_working_days" in decision.duties
        assert "TB-1.2.4" in decision.rules

    def test_the_default_shop_quotes_its_own_refund_period(self) -> None:
        """Under the handbook clock (B2C-7.8.2) there is no 1-2 day quote."""
        decision = decide(order("paid_unshipped"), ask("cancel", "changed_mind"), "2026-06-01")
        assert "quote_one_to_two_working_days" not in decision.duties

    def test_a_refusal_adds_no_duties(self) -> None:
        """A refused request only needs the reason explained."""
        decision = decide(order(), ask("return", "changed_mind"), "2026-05-08")
        assert decision.duties == ()


class TestRefundClockWhateverTheReason:
    """LAW-25.5: the consumer's no-reason right does not depend on the reason given, so a
    return it would cover (inside the window, not every item excluded, goods intact)
    gets the earlier of B2C-7.8.2 and LAW-25.5 whatever the reason."""

    @pytest.mark.parametrize("reason", [*SHOP_FAULT_REASONS, *NO_REASON_REASONS])
    @pytest.mark.parametrize(
        ("signed", "day", "due"),
        [
            # B2C: 7, 8, Sat 9 (adjusted working day), 11, 12, 13, 14 May; law: 6 + 7 days
            ("2026-04-30", "2026-05-06", "2026-05-13"),
            # B2C: 29, 30 Sept, then National Day: 8, 9, Sat 10 (adjusted), 12, 13 Oct;
            # law: 28 Sept + 7 days
            ("2026-09-26", "2026-09-28", "2026-10-05"),
        ],
    )
    def test_inside_the_window_the_earlier_clock_applies(
        self, reason: str, signed: str, day: str, due: str
    ) -> None:
        """Same order, same dates: a defect and a change of mind are due the same day."""
        decision = decide(order(signed=signed), ask("return", reason, received=day), day)
        assert decision.refund_due == date(due)
        assert refund_rule(decision) == "law_refund_clock"
        assert "LAW-25.5" in decision.rules

    def test_outside_the_window_a_defect_follows_the_handbook_clock(self) -> None:
        """Signed 30 April, the window ends 7 May; a defect returned on Fri 8 May is
        outside it: B2C 9 (Sat, adjusted), 11, 12, 13, 14, 15, 18 May, not the law's 15."""
        decision = decide(
            order(signed="2026-04-30"),
            ask("return", "quality_defect", received="2026-05-08"),
            "2026-05-08",
        )
        assert decision.refund_due == date("2026-05-18")
        assert refund_rule(decision) == "b2c_refund_clock"

    @pytest.mark.parametrize("failing", ["tag_intact", "unwashed", "undamaged"])
    def test_a_defect_with_goods_not_intact_follows_the_handbook_clock(self, failing: str) -> None:
        """LAW-25.3: goods that are not intact fall outside the no-reason right."""
        decision = decide(
            order(signed="2026-04-30"),
            ask(
                "return",
                "quality_defect",
                received="2026-05-06",
                condition=goods(**{failing: False}),
            ),
            "2026-05-06",
        )
        assert decision.refund_due == date("2026-05-14")
        assert refund_rule(decision) == "b2c_refund_clock"

    def test_a_defect_of_excluded_goods_follows_the_handbook_clock(self) -> None:
        """LAW-25.2: fresh goods are not covered by the no-reason right."""
        decision = decide(
            order(signed="2026-04-30", categories=("fresh",)),
            ask("return", "quality_defect", received="2026-05-06"),
            "2026-05-06",
        )
        assert decision.refund_due == date("2026-05-14")
        assert refund_rule(decision) == "b2c_refund_clock"

    def test_the_window_moved_past_days_off_counts_too(self) -> None:
        """With no_reason_extend_past_holiday, signed 24 April, the 7th day (Fri 1 May) is
        off and the window runs to Wed 6 May: a defect returned then is still covered."""
        decision = decide(
            order(signed="2026-04-24"),
            ask("return", "quality_defect", received="2026-05-06"),
            "2026-05-06",
            B2C_EXTENDED,
        )
        assert decision.refund_due == date("2026-05-13")
        assert refund_rule(decision) == "law_refund_clock"


def cod_order(status: str = "signed", *, signed: str = "2026-05-28") -> Order:
    """A cash-on-delivery order with no paid_at: the money changes hands at the door."""
    signed_at = at(signed, 15)
    placed_at = signed_at.subtract(days=4)
    return Order(
        id="X9",
        customer_id="C9",
        status=status,
        lines=[OrderLine(sku="881", unit_price="200.00", quantity=1)],
        placed_at=placed_at,
        shipped_at=placed_at.add(days=1),
        signed_at=signed_at if status == "signed" else None,
        payment_method="cod",
        in_warehouse_system=True,
    )


class TestCashOnDeliveryRefunds:
    """B2C-7.8.2 for a cash-on-delivery order: signing is paying, and the courier's
    collection is the payment record, so the clock starts at the request."""

    @pytest.mark.parametrize("policy", [B2C, TAOBAO])
    @pytest.mark.parametrize(
        ("request_type", "reason"),
        [("return", "changed_mind"), ("return", "quality_defect"), ("refund", "wrong_item")],
    )
    def test_a_signed_order_without_paid_at_is_refunded(
        self, policy: Policy, request_type: str, reason: str
    ) -> None:
        """Asked Mon 1 June: due Wed 10 June (2, 3, 4, 5, 8, 9, 10 June), with every
        refund duty."""
        decision = decide(cod_order(), ask(request_type, reason), "2026-06-01", policy)
        assert decision.refund_due == date("2026-06-10")
        assert set(REFUND_DUTIES) <= set(decision.duties)
        assert "confirm_cod_by_phone" not in decision.duties  # nothing ships again

    def test_refund_only_before_the_door_has_nothing_to_refund(self) -> None:
        """Shipped, not yet paid at the door: a refund-only request finds no money to give
        back (B2C-7.8.1); it is not a refund without a date."""
        decision = decide(
            cod_order("shipped"), ask("refund", "quality_defect", condition=None), "2026-06-01"
        )
        assert_rejected(decision, "B2C-7.8.1", "refund_nothing_paid")
        assert decision.refund_due is None
        assert not set(REFUND_DUTIES) & set(decision.duties)

    def test_refund_only_after_paying_online_before_delivery_is_refunded(self) -> None:
        """A cash-on-delivery order the customer paid before delivery is refunded."""
        paid = attrs.evolve(cod_order("shipped"), paid_at=at("2026-05-25", 16))
        decision = decide(paid, ask("refund", "quality_defect", condition=None), "2026-06-01")
        assert decision.action is Action.REFUND
        assert decision.refund_due == date("2026-06-10")


class TestFreeShippingAndQuotes:
    """Behaviours shown otherwise only by the generated rule tables."""

    def test_a_free_shipping_exchange_is_not_charged_the_standard_fee(self) -> None:
        """B2C-7.10.2: the 10-yuan fee applies outside a free-shipping promotion only; the
        customer still pays the actual freight of a change-of-mind exchange (B2C-7.10.3a)."""
        free = attrs.evolve(order(), free_shipping_promotion=True)
        decision = decide(free, ask("exchange", "changed_mind"), "2026-05-01")
        assert decision.freight_payer is FreightPayer.CUSTOMER
        assert "charge_shipping_fee" not in decision.duties
        assert "B2C-7.10.2" not in decision.rules
        charged = decide(order(), ask("exchange", "changed_mind"), "2026-05-01")
        assert "charge_shipping_fee" in charged.duties

    @pytest.mark.parametrize(
        ("status", "request_type"),
        [("signed", "return"), ("shipped", "refund"), ("signed", "refund")],
    )
    def test_taobao_quotes_one_to_two_days_only_before_shipment(
        self, status: str, request_type: str
    ) -> None:
        """TB-1.2.4 is the pre-shipment quote: after shipment the Taobao shop quotes its
        refund period (B2C-7.8.2) instead."""
        decision = decide(
            order(status),
            ask(request_type, "quality_defect", condition=GOOD if status == "signed" else None),
            "2026-06-01",
            TAOBAO,
        )
        assert decision.refund_due is not None
        assert "quote_one_to_two_working_days" not in decision.duties
        assert "TB-1.2.4" not in decision.rules
        assert "tell_refund_period" in decision.duties

    def test_3_october_is_a_day_off_in_a_year_without_official_data(self) -> None:
        """2028 has no official calendar: the fallback keeps 1-3 October off. Asked Fri
        29 Sept 2028: Mon 2 and Tue 3 Oct are off, so day 7 is Thu 12 Oct (without 3 Oct
        off it would be Wed 11), and the decision says it is estimated."""
        placed = at("2028-09-20", 9)
        the_order = Order(
            id="X8",
            customer_id="C8",
            status="paid_unshipped",
            lines=[OrderLine(sku="881", unit_price="200.00", quantity=1)],
            placed_at=placed,
            paid_at=placed.add(hours=1),
        )
        decision = decide(the_order, ask("cancel", "changed_mind"), "2028-09-29")
        assert decision.refund_due == date("2028-10-12")
        assert decision.estimated is True
        assert not CALENDAR.is_workday(date("2028-10-03"))


# ============================================================= missing facts


class TestMissingInformation:
    @pytest.mark.parametrize("request_type", ["return", "exchange"])
    def test_goods_coming_back_after_signing_need_their_condition(self, request_type: str) -> None:
        """CONTRACT: request.condition is required when goods come back after delivery; the
        error names the missing field."""
        with pytest.raises(DomainValueError, match=r"request\.condition") as raised:
            decide(order(), ask(request_type, "changed_mind", condition=None), "2026-05-01")
        assert raised.value.field == "request.condition"

    def test_a_refund_only_request_needs_no_condition(self) -> None:
        """Refund only: no goods come back, so their condition is not asked for."""
        decision = decide(order(), ask("refund", "quality_defect", condition=None), "2026-05-01")
        assert decision.action is Action.REFUND


# ================================================================ coverage


def _example_calls() -> Iterator[Callable[[], object]]:
    """Every example above, once per parameter combination (expected failures left out)."""
    for cls in (v for k, v in globals().items() if k.startswith("Test") and inspect.isclass(v)):
        if cls is TestEveryRuleIsExercised:
            continue
        for name, func in vars(cls).items():
            if not name.startswith("test_"):
                continue
            marks = getattr(func, "pytestmark", [])
            if any(m.name == "xfail" for m in marks):
                continue
            combos: list[dict[str, object]] = [{}]
            for mark in (m for m in marks if m.name == "parametrize"):
                argnames, argvalues = mark.args[0], mark.args[1]
                names = (
                    [n.strip() for n in argnames.split(",")]
                    if isinstance(argnames, str)
                    else list(argnames)
                )
                rows = [
                    dict(zip(names, v if len(names) > 1 else (v,), strict=True)) for v in argvalues
                ]
                combos = [{**c, **r} for c in combos for r in rows]
            for kwargs in combos:
                yield functools.partial(func, cls(), **kwargs)


class TestEveryRuleIsExercised:
    def test_every_rule_of_every_table_fires_in_some_example(self) -> None:
        """Each row of the action, freight, refund and duties tables is shown by at least
        one example above; a new row without an example makes this fail."""
        for call in _example_calls():
            call()
        every_rule = {(table.name, rule.id) for table in RETURN_TABLES for rule in table.rules}
        missing = sorted(every_rule - FIRED)
        assert not missing, f"rules without an example: {missing}"


class TestGoodsNotIntact:
    """LAW-25.3: a no-reason return of goods that are not intact (tag removed, washed,
    damaged) may be refused by law; the handbook shop accepts it for approval instead."""

    @pytest.mark.parametrize("failing", ["tag_intact", "unwashed", "undamaged"])
    def test_the_handbook_shop_accepts_it_for_approval(self, failing: str) -> None:
        """Under the default policy the return is abnormal (B2C-7.4.3), and the decision
        notes that the law would have allowed a refusal (LAW-25.3)."""
        decision = decide(
            order(),
            ask("return", "changed_mind", condition=goods(**{failing: False})),
            "2026-05-01",
        )
        assert decision.action is Action.ABNORMAL_RETURN
        assert "not_intact_goods_accepted_for_approval" in decision.duties
        assert "LAW-25.3" in decision.rules

    @pytest.mark.parametrize("failing", ["tag_intact", "unwashed", "undamaged"])
    def test_a_shop_may_refuse_it(self, failing: str) -> None:
        """With refuse_not_intact_no_reason on, the return is rejected citing LAW-25.3."""
        strict = B2C.with_values("2014-03-15", refuse_not_intact_no_reason=True)
        decision = decide(
            order(),
            ask("return", "changed_mind", condition=goods(**{failing: False})),
            "2026-05-01",
            strict,
        )
        assert decision.action is Action.REJECTED
        assert decision.rules == ("LAW-25.3",)

    @pytest.mark.parametrize("failing", ["delivery_note_complete", "order_number_given"])
    def test_missing_paperwork_does_not_make_goods_not_intact(self, failing: str) -> None:
        """Paperwork is a handbook condition (B2C-7.4.2), not the law's intactness."""
        strict = B2C.with_values("2014-03-15", refuse_not_intact_no_reason=True)
        decision = decide(
            order(),
            ask("return", "changed_mind", condition=goods(**{failing: False})),
            "2026-05-01",
            strict,
        )
        assert decision.action is Action.ABNORMAL_RETURN
        assert "LAW-25.3" not in decision.rules

    def test_a_faulty_item_is_never_refused_for_it(self) -> None:
        """A defect is the shop's problem: LAW-25.3 governs no-reason returns only."""
        strict = B2C.with_values("2014-03-15", refuse_not_intact_no_reason=True)
        decision = decide(
            order(),
            ask("return", "quality_defect", condition=goods(undamaged=False)),
            "2026-05-01",
            strict,
        )
        assert decision.action is Action.ABNORMAL_RETURN
