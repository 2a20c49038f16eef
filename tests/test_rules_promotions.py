"""The promotion and price-adjustment rule sets (B2C-7.11, 7.14, 8.11, 7.2, TB-0.1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csrules import PriceAdjustmentCase
from csrules._decision import AdjustmentAction, PromotionSize
from csrules._domain import PriceAdjustmentRequest, Promotion
from csrules.io import case_from_json, case_to_json
from csrules.policy import default_policy
from csrules.rules._common import local_date
from csrules.rules.promotions import (
    OUTREACH,
    PRICE_ADJUSTMENT,
    PROMOTION_SIZE,
    REMINDER_LEAD,
    decide_price_adjustment,
    decide_promotion,
    price_adjustment_facts,
    promotion_facts,
)
from csrules.testing import price_adjustment_requests, promotions

SH = "Asia/Shanghai"
#: When promotion cases are planned: well before the promotions below.
AT = pendulum.datetime(2026, 4, 1, 9, tz=SH)
START = dt.date(2026, 6, 1)
PARAMS = default_policy().resolve(AT.date()).values
_RANK = {PromotionSize.SMALL: 0, PromotionSize.MEDIUM: 1, PromotionSize.LARGE: 2}


def promo(
    days: int = 10,
    *,
    start: dt.date = START,
    sales: str = "0",
    factor: str = "1",
    coupon: str = "0",
    exclusive: bool = False,
    free_shipping: bool = False,
) -> Promotion:
    """A promotion from 00:00 on ``start`` to 23:59:59 on its ``days``-th day."""
    end = start + dt.timedelta(days=days - 1)
    return Promotion(
        name="sale",
        starts_at=pendulum.datetime(start.year, start.month, start.day, tz=SH),
        ends_at=pendulum.datetime(end.year, end.month, end.day, 23, 59, 59, tz=SH),
        planned_sales=Decimal(sales),
        price_factor=Decimal(factor),
        coupon_value=Decimal(coupon),
        exclusive=exclusive,
        free_shipping=free_shipping,
    )


def lead_for(length: int) -> int:
    """The reminder lead the REMINDER_LEAD table gives a promotion of ``length`` days."""
    facts = {"length_days": length, "end_date": START}
    lead: int = REMINDER_LEAD.evaluate(facts, PARAMS).outputs["remind_days_before"]
    return lead


def outcome(decision: Any) -> dict[str, Any]:
    """A decision's outcome fields (everything but the trace)."""
    return {f.name: getattr(decision, f.name) for f in attrs.fields(type(decision))[:-1]}


def fired_ids(decision: Any, table: str) -> list[str]:
    """Ids of the rules of ``table`` that fired for a decision."""
    return [f.rule.id for f in decision.trace.fired if f.table.name == table]


class TestLength:
    def test_start_and_end_day_both_count(self) -> None:
        """A promotion from 1 May 00:00 to 10 May 23:59 runs 10 days."""
        assert decide_promotion(promo(10), at=AT).length_days == 10

    def test_one_day_promotion(self) -> None:
        """A promotion that starts and ends on the same calendar day runs 1 day."""
        p = Promotion(
            "flash",
            pendulum.datetime(2026, 6, 1, 10, tz=SH),
            pendulum.datetime(2026, 6, 1, 12, tz=SH),
        )
        assert decide_promotion(p, at=AT).length_days == 1

    def test_dates_are_shanghai_dates(self) -> None:
        """Start and end are counted on Asia/Shanghai dates, whatever offset they carry:
        31 May 17:00 UTC is 1 June 01:00 in Shanghai."""
        p = Promotion(
            "utc",
            pendulum.datetime(2026, 5, 31, 17, tz="UTC"),
            pendulum.datetime(2026, 6, 2, 15, 59, tz="UTC"),
        )
        facts = promotion_facts(p, AT)
        assert facts["start_date"] == dt.date(2026, 6, 1)
        assert facts["end_date"] == dt.date(2026, 6, 2)
        assert facts["length_days"] == 2


class TestReminderBands:
    @pytest.mark.parametrize(
        ("length", "lead"),
        [
            (1, 1),
            (7, 1),
            (8, 2),
            (15, 2),
            (16, 3),
            (30, 3),
            (31, 7),
            (60, 7),
            (61, 10),
            (400, 10),
        ],
    )
    def test_band_end_points(self, length: int, lead: int) -> None:
        """B2C-7.11.3 bands include their upper end: up to 7 days 1 day ahead, 8-15
        days 2, 16-30 days 3, 31-60 days 7, over 60 days 10."""
        decision = decide_promotion(promo(length), at=AT)
        assert decision.remind_days_before == lead
        assert "B2C-7.11.3" in decision.rules

    def test_remind_on_is_end_date_minus_lead(self) -> None:
        """Related customers are told on the end date minus the lead, in calendar days."""
        decision = decide_promotion(promo(10), at=AT)  # 1-10 June, lead 2
        assert decision.remind_on == dt.date(2026, 6, 8)

    def test_one_day_promotion_reminds_the_day_before_it_starts(self) -> None:
        """A 1-day promotion has a 1-day lead: the reminder falls on the day before it."""
        decision = decide_promotion(promo(1), at=AT)
        assert decision.remind_on == START - dt.timedelta(days=1)

    def test_explanation_names_band_and_date(self) -> None:
        """The explanation gives the length, the band and the reminder date, in both languages."""
        decision = decide_promotion(promo(16), at=AT)
        en = decision.explanation("en")[0]
        zh = decision.explanation("zh")[0]
        assert "16 days" in en
        assert "more than 15, up to 30 days" in en
        assert decision.remind_on.isoformat() in en
        assert "活动周期16天" in zh
        assert decision.remind_on.isoformat() in zh

    def test_bands_follow_the_parameters(self) -> None:
        """The band ends are parameters: a shop that moves band 1 to 10 days gives a
        10-day promotion a 1-day lead."""
        policy = default_policy().with_values("2026-01-01", remind_band1_max_days=10)
        decision = decide_promotion(promo(10), at=AT, policy=policy)
        assert decision.remind_days_before == 1


class TestReminderProperties:
    @given(st.integers(1, 400))
    def test_every_length_gets_exactly_one_band(self, length: int) -> None:
        """Every promotion length from 1 to 400 days matches exactly one reminder band."""
        facts = {"length_days": length, "end_date": START}
        assert len(REMINDER_LEAD.matches(facts, PARAMS)) == 1

    @given(st.integers(1, 400), st.integers(0, 400))
    def test_longer_promotion_never_gets_shorter_lead(self, length: int, more: int) -> None:
        """A longer promotion is never reminded fewer days ahead than a shorter one."""
        assert lead_for(length + more) >= lead_for(length)

    @given(promotions())
    def test_remind_on_is_not_after_the_end(self, promotion: Promotion) -> None:
        """The reminder falls on or before the end date (strictly before, as every lead >= 1)."""
        decision = decide_promotion(promotion, at=AT)
        assert decision.remind_on <= promotion_facts(promotion, AT)["end_date"]


class TestSize:
    @pytest.mark.parametrize(
        ("sales", "size"),
        [
            ("99999.99", PromotionSize.SMALL),
            ("100000", PromotionSize.MEDIUM),
            ("500000", PromotionSize.MEDIUM),
            ("500000.01", PromotionSize.LARGE),
        ],
    )
    def test_planned_sales_end_points(self, sales: str, size: PromotionSize) -> None:
        """Planned sales under 100,000 are small, 100,000 to 500,000 medium, over 500,000 large."""
        assert decide_promotion(promo(5, sales=sales), at=AT).size is size

    @pytest.mark.parametrize(
        ("days", "size"),
        [(14, PromotionSize.SMALL), (15, PromotionSize.MEDIUM), (400, PromotionSize.MEDIUM)],
    )
    def test_length_end_points(self, days: int, size: PromotionSize) -> None:
        """Under 15 days is small; 15 days or more is medium, however long (never large)."""
        assert decide_promotion(promo(days), at=AT).size is size

    @pytest.mark.parametrize(
        ("factor", "size"),
        [
            ("0.61", PromotionSize.SMALL),
            ("0.6", PromotionSize.MEDIUM),
            ("0.4", PromotionSize.MEDIUM),
            ("0.39", PromotionSize.MEDIUM),
        ],
    )
    def test_discount_end_points(self, factor: str, size: PromotionSize) -> None:
        """Shallower than 6折 is small; 6折 or deeper is medium, deeper than 4折 too
        (the large class puts no limit on discount, so a discount never makes it large)."""
        assert decide_promotion(promo(5, factor=factor), at=AT).size is size

    @pytest.mark.parametrize(
        ("coupon", "size"),
        [
            ("49.99", PromotionSize.SMALL),
            ("50", PromotionSize.MEDIUM),
            ("100", PromotionSize.MEDIUM),
            ("100.01", PromotionSize.MEDIUM),
        ],
    )
    def test_coupon_end_points(self, coupon: str, size: PromotionSize) -> None:
        """Coupons under 50 are small; 50 or more medium, above 100 still medium."""
        assert decide_promotion(promo(5, coupon=coupon), at=AT).size is size

    def test_largest_criterion_wins_medium_over_small(self) -> None:
        """Small sales but a 20-day run: the largest size any criterion reaches, medium."""
        decision = decide_promotion(promo(20, sales="1000"), at=AT)
        assert decision.size is PromotionSize.MEDIUM
        assert fired_ids(decision, "promotion_size") == ["medium_by_length"]

    def test_largest_criterion_wins_large_over_everything(self) -> None:
        """Large planned sales make the promotion large even with every other criterion small."""
        decision = decide_promotion(promo(3, sales="600000", factor="0.9"), at=AT)
        assert decision.size is PromotionSize.LARGE
        assert fired_ids(decision, "promotion_size") == ["large_by_sales"]

    @pytest.mark.parametrize(
        ("kwargs", "rule"),
        [
            ({"sales": "200000"}, "medium_by_sales"),
            ({"days": 15}, "medium_by_length"),
            ({"factor": "0.5"}, "medium_by_discount"),
            ({"coupon": "80"}, "medium_by_coupon"),
            ({}, "small"),
        ],
    )
    def test_explanation_names_the_deciding_criterion(
        self, kwargs: dict[str, Any], rule: str
    ) -> None:
        """The size rule that fires is the criterion that decided the size."""
        decision = decide_promotion(promo(**{"days": 5, **kwargs}), at=AT)
        assert fired_ids(decision, "promotion_size") == [rule]

    def test_discount_explanation_shows_zhe(self) -> None:
        """A price factor of 0.5 is explained as 5折."""
        decision = decide_promotion(promo(5, factor="0.5"), at=AT)
        assert any("5折" in line for line in decision.explanation("zh"))

    @pytest.mark.parametrize("size", list(PromotionSize))
    def test_outreach_per_size(self, size: PromotionSize) -> None:
        """Each size class gets its B2C-7.14.2 outreach codes."""
        sales = {
            PromotionSize.SMALL: "0",
            PromotionSize.MEDIUM: "200000",
            PromotionSize.LARGE: "900000",
        }[size]
        decision = decide_promotion(promo(5, sales=sales), at=AT)
        assert decision.size is size
        assert decision.outreach == OUTREACH[size]

    def test_outreach_codes(self) -> None:
        """Small: SMS and IM plus a mass SMS/e-mail the day before; medium adds calls before
        and during and a mass SMS before the end; large: calls to old and new customers."""
        assert OUTREACH[PromotionSize.SMALL] == ("sms_and_im", "mass_sms_email_day_before_start")
        assert OUTREACH[PromotionSize.MEDIUM][:2] == OUTREACH[PromotionSize.SMALL]
        assert "call_other_old_customers_during" in OUTREACH[PromotionSize.MEDIUM]
        assert OUTREACH[PromotionSize.LARGE] == ("sms_im_calls_old_and_new_customers_with_targets",)


class TestSizeProperties:
    @given(promotions(), st.decimals(0, 1_000_000, places=2))
    def test_more_planned_sales_never_smaller(self, p: Promotion, more: Decimal) -> None:
        """Raising planned sales never makes the size smaller."""
        bigger = attrs.evolve(p, planned_sales=p.planned_sales + more)
        assert _RANK[size_of(bigger)] >= _RANK[size_of(p)]

    @given(promotions(), st.integers(0, 400))
    def test_longer_never_smaller(self, p: Promotion, days: int) -> None:
        """Running longer never makes the size smaller."""
        longer = attrs.evolve(p, ends_at=p.ends_at.add(days=days))
        assert _RANK[size_of(longer)] >= _RANK[size_of(p)]

    @given(promotions(), st.decimals(0, 500, places=2))
    def test_bigger_coupon_never_smaller(self, p: Promotion, more: Decimal) -> None:
        """A bigger coupon never makes the size smaller."""
        bigger = attrs.evolve(p, coupon_value=p.coupon_value + more)
        assert _RANK[size_of(bigger)] >= _RANK[size_of(p)]

    @given(promotions(), st.data())
    def test_deeper_discount_never_smaller(self, p: Promotion, data: st.DataObject) -> None:
        """Lowering the price factor (a deeper discount) never makes the size smaller."""
        cents = data.draw(st.integers(1, int(p.price_factor * 100)))
        deeper = attrs.evolve(p, price_factor=Decimal(cents).scaleb(-2))
        assert _RANK[size_of(deeper)] >= _RANK[size_of(p)]

    @given(promotions())
    def test_size_table_always_decides(self, p: Promotion) -> None:
        """The size table's default row means every promotion gets a size."""
        assert PROMOTION_SIZE.matches(promotion_facts(p, AT), PARAMS)


def size_of(p: Promotion) -> PromotionSize:
    """The size class of a promotion under the default policy."""
    return decide_promotion(p, at=AT).size


class TestTraining:
    def test_training_three_days_before_start(self) -> None:
        """B2C-8.11: customer service is trained 3 calendar days before the start."""
        decision = decide_promotion(promo(10), at=AT)
        assert decision.training_on == dt.date(2026, 5, 29)
        assert "B2C-8.11" in decision.rules

    @given(promotions())
    def test_training_is_before_the_start(self, p: Promotion) -> None:
        """Training always falls before the promotion's start date."""
        decision = decide_promotion(p, at=AT)
        assert decision.training_on < promotion_facts(p, AT)["start_date"]

    def test_parameters_in_force_on_the_case_date(self) -> None:
        """Parameters are those in force on the Asia/Shanghai date of the case time."""
        policy = default_policy().with_values("2026-05-01", training_days_before_start=5)
        before = decide_promotion(promo(10), at=AT, policy=policy)
        after = decide_promotion(promo(10), at=pendulum.datetime(2026, 5, 1, tz=SH), policy=policy)
        assert before.training_on == dt.date(2026, 5, 29)
        assert after.training_on == dt.date(2026, 5, 27)


class TestDuties:
    def test_small_promotion_dates(self) -> None:
        """Small: mass SMS and e-mail the day before the start; no end SMS."""
        decision = decide_promotion(promo(10), at=AT)
        assert decision.size is PromotionSize.SMALL
        assert decision.mass_message_on == dt.date(2026, 5, 31)
        assert decision.end_sms_on is None

    def test_medium_promotion_end_sms(self) -> None:
        """Medium: a mass SMS 3 days before the end as well."""
        decision = decide_promotion(promo(10, sales="200000"), at=AT)
        assert decision.mass_message_on == dt.date(2026, 5, 31)
        assert decision.end_sms_on == dt.date(2026, 6, 7)
        assert "mass_sms_before_end" in decision.duties

    def test_large_promotion_has_no_mass_message_dates(self) -> None:
        """Large: outreach follows the promotion plan, no fixed mass-message dates."""
        decision = decide_promotion(promo(10, sales="900000"), at=AT)
        assert decision.mass_message_on is None
        assert decision.end_sms_on is None

    def test_interest_callback_three_days_before_end(self) -> None:
        """B2C-7.14.1: interested customers who have not ordered are called 3 days before the
        end."""
        decision = decide_promotion(promo(10), at=AT)
        assert decision.interest_callback_on == dt.date(2026, 6, 7)
        assert "B2C-7.14.1" in decision.rules

    def test_ship_within_working_days(self) -> None:
        """TB-0.1: orders ship within 3 working days; an order on the last day (Friday
        8 May 2026) ships by Tuesday 12 May (Saturday 9 May is an official working day)."""
        decision = decide_promotion(promo(8, start=dt.date(2026, 5, 1)), at=AT)
        assert decision.last_ship_by == dt.date(2026, 5, 12)
        assert "TB-0.1" in decision.rules
        assert not decision.estimated

    def test_estimated_when_ship_date_has_no_official_data(self) -> None:
        """A working-day date in a year without official holiday data marks the decision
        estimated."""
        decision = decide_promotion(promo(10, start=dt.date(2028, 3, 1)), at=AT)
        assert decision.estimated

    def test_estimated_when_only_the_ship_date_crosses_into_such_a_year(self) -> None:
        """Only the TB-0.1 date counts working days: a promotion ending 31 Dec 2026 is
        estimated because its last ship date falls in 2027."""
        decision = decide_promotion(promo(1, start=dt.date(2026, 12, 31)), at=AT)
        assert decision.last_ship_by is not None
        assert decision.last_ship_by.year == 2027
        assert decision.estimated

    def test_exclusive_promotion(self) -> None:
        """B2C-7.11.2: a promotion marked 'cannot be combined' is taken on its own."""
        assert "not_combinable" in decide_promotion(promo(exclusive=True), at=AT).duties
        assert "not_combinable" not in decide_promotion(promo(), at=AT).duties

    def test_products_outside_never_get_the_price(self) -> None:
        """B2C-7.11.2: products not in the promotion never get its price (always said)."""
        assert "explain_terms_only_listed_products" in decide_promotion(promo(), at=AT).duties

    def test_discount_price_only_with_a_discount(self) -> None:
        """B2C-7.2: the price after discount is explained only when there is a discount."""
        assert "quote_discount_price" in decide_promotion(promo(factor="0.7"), at=AT).duties
        assert "quote_discount_price" not in decide_promotion(promo(), at=AT).duties

    def test_free_shipping_ems_topup(self) -> None:
        """TB-EMS: a free-shipping promotion item sent by EMS costs the customer a top-up."""
        decision = decide_promotion(promo(free_shipping=True), at=AT)
        assert "ems_topup_free_shipping" in decision.duties

    def test_every_rule_cites_its_clause(self) -> None:
        """Every cited rule has one explanation line in each language."""
        decision = decide_promotion(promo(10, sales="200000", exclusive=True), at=AT)
        assert len(decision.rules) == len(decision.explanation("en"))
        assert len(decision.rules) == len(decision.explanation("zh"))


class TestPromotionProperties:
    @given(promotions())
    def test_deterministic(self, p: Promotion) -> None:
        """The same promotion decided twice gives the same outcome and rules."""
        first = decide_promotion(p, at=AT)
        second = decide_promotion(p, at=AT)
        assert outcome(first) == outcome(second)
        assert first.rules == second.rules
        assert first.explanation("zh") == second.explanation("zh")


def request(
    promotion: Promotion | None = None,
    *,
    paid: bool = False,
    total: str = "0",
    amount: str = "0",
    manager_approved: bool = False,
) -> PriceAdjustmentRequest:
    """A price-adjustment request on ``promotion`` (1-10 June 2026 by default)."""
    return PriceAdjustmentRequest(
        promotion=promotion or promo(10),
        paid=paid,
        customer_paid_total=Decimal(total),
        requested_amount=Decimal(amount),
        manager_approved=manager_approved,
    )


BEFORE = pendulum.datetime(2026, 5, 20, 10, tz=SH)
DURING = pendulum.datetime(2026, 6, 5, 10, tz=SH)
AFTER = pendulum.datetime(2026, 6, 11, 0, 0, 1, tz=SH)


class TestPriceAdjustment:
    def test_before_start_unpaid_refused(self) -> None:
        """B2C-7.11.1a: before the start an unpaid order is not re-priced; the agent
        suggests ordering after the start."""
        decision = decide_price_adjustment(request(), at=BEFORE)
        assert decision.action is AdjustmentAction.REFUSED
        assert fired_ids(decision, "price_adjustment") == ["before_start_unpaid"]
        assert "after the start" in decision.explanation()[0]

    def test_before_start_paid_refused(self) -> None:
        """B2C-7.11.1a: ordered and paid before the start: no adjustment."""
        decision = decide_price_adjustment(request(paid=True), at=BEFORE)
        assert decision.action is AdjustmentAction.REFUSED
        assert fired_ids(decision, "price_adjustment") == ["before_start_paid"]

    @pytest.mark.parametrize("paid", [False, True])
    def test_before_start_manager_signed_off(self, paid: bool) -> None:
        """B2C-7.11.1a: with a manager's sign-off the order is re-priced before the start."""
        decision = decide_price_adjustment(request(paid=paid, manager_approved=True), at=BEFORE)
        assert decision.action is AdjustmentAction.ADJUSTED
        assert decision.rules == ("B2C-7.11.1a",)

    @pytest.mark.parametrize("at", [DURING, pendulum.datetime(2026, 6, 1, tz=SH)])
    def test_running_unpaid_adjusted(self, at: pendulum.DateTime) -> None:
        """While the promotion runs (from its first instant) an unpaid order gets the
        promotion price automatically."""
        decision = decide_price_adjustment(request(), at=at)
        assert decision.action is AdjustmentAction.ADJUSTED

    def test_last_instant_still_running(self) -> None:
        """At the promotion's end time it is still running."""
        p = promo(10)
        decision = decide_price_adjustment(request(p), at=p.ends_at)
        assert decision.action is AdjustmentAction.ADJUSTED

    def test_running_paid_refused(self) -> None:
        """B2C-7.11.1a: an order paid before the promotion price applied is not adjusted."""
        decision = decide_price_adjustment(request(paid=True), at=DURING)
        assert decision.action is AdjustmentAction.REFUSED
        assert fired_ids(decision, "price_adjustment") == ["running_paid"]

    def test_running_paid_manager_sign_off_does_not_apply(self) -> None:
        """The manager sign-off exception is for requests before the start only."""
        decision = decide_price_adjustment(request(paid=True, manager_approved=True), at=DURING)
        assert decision.action is AdjustmentAction.REFUSED

    @pytest.mark.parametrize(("paid", "manager"), [(False, False), (True, False), (False, True)])
    def test_after_end_refused(self, paid: bool, manager: bool) -> None:
        """B2C-7.11.2: after the promotion ended its price is never given."""
        decision = decide_price_adjustment(request(paid=paid, manager_approved=manager), at=AFTER)
        assert decision.action is AdjustmentAction.REFUSED
        assert decision.rules[0] == "B2C-7.11.2"

    def test_price_adjustment_is_never_estimated(self) -> None:
        """No working day is counted, so even a 2030 request is not an estimate."""
        p = promo(10, start=dt.date(2030, 6, 1))
        decision = decide_price_adjustment(request(p), at=pendulum.datetime(2030, 6, 3, tz=SH))
        assert not decision.estimated


class TestGift:
    @pytest.mark.parametrize(
        ("total", "amount", "gift"),
        [
            ("10000.00", "0", False),
            ("10000.01", "0", True),
            ("0", "800.00", False),
            ("0", "800.01", True),
            ("10000.00", "800.00", False),
            ("20000", "900", True),
        ],
    )
    def test_gift_thresholds(self, total: str, amount: str, gift: bool) -> None:
        """B2C-7.11.1b: a refused customer whose order total is over 10,000 yuan, or whose
        request is over 800 yuan, may be offered a gift; exactly 10,000 or 800 is not over."""
        decision = decide_price_adjustment(request(total=total, amount=amount), at=BEFORE)
        assert decision.action is AdjustmentAction.REFUSED
        assert decision.gift_eligible is gift
        assert ("B2C-7.11.1b" in decision.rules) is gift

    def test_no_gift_when_adjusted(self) -> None:
        """A re-priced order is not refused, so there is no gift, however big the customer."""
        decision = decide_price_adjustment(request(total="50000", amount="2000"), at=DURING)
        assert decision.action is AdjustmentAction.ADJUSTED
        assert not decision.gift_eligible

    def test_no_gift_after_the_promotion_ended(self) -> None:
        """B2C-7.11.1b softens the refusal of B2C-7.11.1a (before the start); a request after
        the promotion ended is refused under B2C-7.11.2 and earns no gift, however big the
        customer."""
        decision = decide_price_adjustment(request(total="10000.01"), at=AFTER)
        assert decision.action is AdjustmentAction.REFUSED
        assert not decision.gift_eligible
        assert "B2C-7.11.1b" not in decision.rules

    def test_gift_is_not_mentioned_before_approval(self) -> None:
        """The explanation tells the agent not to mention the gift before it is approved."""
        decision = decide_price_adjustment(request(total="12000"), at=BEFORE)
        assert "must not mention it" in decision.explanation("en")[-1]
        assert "确认前勿告知客户" in decision.explanation("zh")[-1]


class TestPriceAdjustmentProperties:
    @given(price_adjustment_requests(), st.integers(-40, 40))
    def test_gift_only_after_refusal(self, req: PriceAdjustmentRequest, days: int) -> None:
        """A gift is only ever considered for a refused request."""
        at = req.promotion.starts_at.add(days=days)
        decision = decide_price_adjustment(req, at=at)
        if decision.gift_eligible:
            assert decision.action is AdjustmentAction.REFUSED

    @given(price_adjustment_requests(), st.integers(-40, 40))
    def test_deterministic(self, req: PriceAdjustmentRequest, days: int) -> None:
        """The same request at the same time is decided the same way."""
        at = req.promotion.starts_at.add(days=days)
        first = decide_price_adjustment(req, at=at)
        second = decide_price_adjustment(req, at=at)
        assert outcome(first) == outcome(second)
        assert first.rules == second.rules

    @given(price_adjustment_requests(), st.integers(-40, 40))
    def test_exactly_one_adjustment_rule(self, req: PriceAdjustmentRequest, days: int) -> None:
        """Every request fires exactly one rule of the adjustment table."""
        at = req.promotion.starts_at.add(days=days)
        assert len(PRICE_ADJUSTMENT.matches(price_adjustment_facts(req, at), PARAMS)) == 1
        decision = decide_price_adjustment(req, at=at)
        assert len(fired_ids(decision, "price_adjustment")) == 1


ADJUSTMENT_JSON: dict[str, Any] = {
    "id": "a1",
    "kind": "price_adjustment",
    "at": "2026-05-03T11:00:00+08:00",
    "promotion": {
        "name": "May sale",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-05-10T23:59:59+08:00",
    },
    "paid": True,
    "customer_paid_total": "12000.00",
    "requested_amount": "150.00",
}


class TestManagerApprovedInJson:
    def test_optional_defaults_to_false(self) -> None:
        """'manager_approved' may be left out of a price_adjustment case; it is then false."""
        case = case_from_json(ADJUSTMENT_JSON)
        assert isinstance(case, PriceAdjustmentCase)
        assert case.request.manager_approved is False

    def test_read_and_written_back(self) -> None:
        """'manager_approved': true is read and encoded back."""
        case = case_from_json({**ADJUSTMENT_JSON, "manager_approved": True})
        assert isinstance(case, PriceAdjustmentCase)
        assert case.request.manager_approved is True
        assert case_to_json(case)["manager_approved"] is True


class TestDutiesDuringThePromotion:
    @given(promotions())
    def test_end_sms_and_call_backs_fall_inside_the_promotion(self, promotion: Promotion) -> None:
        """B2C-7.14.1 calls back "during a promotion", and the end SMS announces an end
        still to come: neither is dated before the first day nor after the last, however
        short the promotion."""
        decision = decide_promotion(promotion, at=promotion.starts_at)
        start = local_date(promotion.starts_at)
        end = local_date(promotion.ends_at)
        for due in (decision.end_sms_on, decision.interest_callback_on):
            assert due is None or start <= due <= end
