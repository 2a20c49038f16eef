"""Promotions and requests to re-price an order at a promotion's price.

A promotion case (kind ``"promotion"``) is decided by four tables, in order,
each reading the facts of the promotion and the outcomes of the tables
before it:

1. :data:`REMINDER_LEAD` (unique): how many days before the end related
   customers are told the end date, and on which date (B2C-7.11.3).
2. :data:`PROMOTION_SIZE` (first hit): the size class and its outreach
   (B2C-7.14.2).
3. :data:`PROMOTION_TRAINING` (first hit): the date customer service is
   trained (B2C-8.11).
4. :data:`PROMOTION_DUTIES` (collect): what else the agent must do, with its
   date where the handbook gives one.

A price-adjustment case (kind ``"price_adjustment"``) is decided by two:

1. :data:`PRICE_ADJUSTMENT` (first hit): refused or adjusted (B2C-7.11.1a,
   B2C-7.11.2).
2. :data:`GIFT_ELIGIBILITY` (first hit): whether the agent may ask for a
   small gift for a refused customer (B2C-7.11.1b).

Dates are the Asia/Shanghai calendar dates of the promotion's start and end;
a promotion runs ``length_days`` = end date - start date + 1 days.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any, Final

from csrules._decision import (
    AdjustmentAction,
    PriceAdjustmentDecision,
    PromotionDecision,
    PromotionSize,
    make_trace,
)
from csrules._domain import (
    PriceAdjustmentRequest,
    Promotion,
    check_instance,
    check_time,
)
from csrules._ruleset import FactSpec, KindSpec, RuleSet, kind_and_policy
from csrules.policy import ParameterSet, Policy
from csrules.rules._expr import TRUE, Expr, call, fact, param
from csrules.rules._table import HitPolicy, Rule, Table, TableResult, mark_bundled

__all__ = [
    "GIFT_ELIGIBILITY",
    "OUTREACH",
    "PRICE_ADJUSTMENT",
    "PRICE_ADJUSTMENT_FACTS",
    "PRICE_ADJUSTMENT_KIND",
    "PRICE_ADJUSTMENT_TABLES",
    "PROMOTION_DUTIES",
    "PROMOTION_FACTS",
    "PROMOTION_KIND",
    "PROMOTION_SIZE",
    "PROMOTION_TABLES",
    "PROMOTION_TRAINING",
    "REMINDER_LEAD",
    "decide_price_adjustment",
    "decide_promotion",
    "price_adjustment_facts",
    "promotion_facts",
]

_SMALL_OUTREACH: Final = ("sms_and_im", "mass_sms_email_day_before_start")
_MEDIUM_OUTREACH: Final = (
    *_SMALL_OUTREACH,
    "call_old_customers_before_start",
    "call_other_old_customers_during",
    "mass_sms_before_end",
)
_LARGE_OUTREACH: Final = ("sms_im_calls_old_and_new_customers_with_targets",)

#: Outreach codes of each size class (B2C-7.14.2).
OUTREACH: Final[Mapping[PromotionSize, tuple[str, ...]]] = {
    PromotionSize.SMALL: _SMALL_OUTREACH,
    PromotionSize.MEDIUM: _MEDIUM_OUTREACH,
    PromotionSize.LARGE: _LARGE_OUTREACH,
}

_PROMOTION_INPUTS: Final = (
    "start_date",
    "end_date",
    "length_days",
    "planned_sales",
    "price_factor",
    "discount_zhe",
    "discounted",
    "coupon_value",
    "exclusive",
    "free_shipping",
    "decision_date",
)

_length = fact("length_days")
_BANDS: Final = 5
_end = fact("end_date")
_start = fact("start_date")


def _band(k: int) -> Rule:
    """The reminder rule of band ``k`` (1 to 5): exclusive, upper end inclusive."""
    lead = param(f"remind_band{k}_lead_days")
    lower, upper = f"remind_band{k - 1}_max_days", f"remind_band{k}_max_days"
    if k == 1:
        when = _length <= param(upper)
        en_range = f"up to {{{upper}}} days"
        zh_range = f"{{{upper}}}天以内(含)"
    elif k == _BANDS:
        when = _length > param(lower)
        en_range = f"more than {{{lower}}} days"
        zh_range = f"超过{{{lower}}}天"
    else:
        when = (_length > param(lower)) & (_length <= param(upper))
        en_range = f"more than {{{lower}}}, up to {{{upper}}} days"
        zh_range = f"超过{{{lower}}}天、不超过{{{upper}}}天"
    return Rule(
        "B2C-7.11.3",
        when,
        {"remind_days_before": lead, "remind_on": call("subtract_days", _end, lead)},
        en=f"The promotion runs {{length_days}} days ({en_range}): {{remind_days_before}} "
        "day(s) before it ends on {end_date}, that is on {remind_on}, tell related customers "
        "(e.g. ordered but not paid) the end date.",
        zh=f"活动周期{{length_days}}天({zh_range}):提前{{remind_days_before}}天,即"
        "{remind_on},告知相关客户(如已下单未支付)活动终止日期{end_date}。",
        id=f"band{k}",
    )


#: B2C-7.11.3 reminder lead time by promotion length (unique: the bands are
#: exclusive, each upper end inclusive).
REMINDER_LEAD: Final = Table(
    name="reminder_lead",
    title="Days before the end to tell related customers the end date",
    title_zh="活动结束前几天告知相关顾客结束日期",
    hit_policy=HitPolicy.UNIQUE,
    inputs=_PROMOTION_INPUTS,
    outputs=("remind_days_before", "remind_on"),
    rules=[_band(k) for k in range(1, _BANDS + 1)],
)

_sales = fact("planned_sales")
_factor = fact("price_factor")
_coupon = fact("coupon_value")
_EN_MEDIUM_OUTREACH = (
    " Outreach: SMS and IM, plus calls to {medium_calls_min}-{medium_calls_max} old "
    "customers before the start and to {medium_calls_min}-{medium_calls_max} other old "
    "customers while it runs."
)
_ZH_MEDIUM_OUTREACH = (
    "以手机短信、在线IM为主,活动开始前选择{medium_calls_min}~{medium_calls_max}位老客户主呼,"
    "活动进行中再选择{medium_calls_min}~{medium_calls_max}位老客户(不含之前已呼客户)主呼。"
)
_ONLY_SALES_EN = "still medium: only planned sales make a promotion large"
_ONLY_SALES_ZH = "仍为中型:只有计划销售额可使活动成为大型"


def _size(size: PromotionSize) -> dict[str, object]:
    return {"size": size, "outreach": OUTREACH[size]}


#: B2C-7.14.2 size class: the largest size any criterion reaches (first hit;
#: the row that fires names the deciding criterion).
PROMOTION_SIZE: Final = Table(
    name="promotion_size",
    title="Promotion size class and outreach",
    title_zh="活动规模与客户触达",
    hit_policy=HitPolicy.FIRST,
    inputs=_PROMOTION_INPUTS,
    outputs=("size", "outreach"),
    rules=[
        Rule(
            "B2C-7.14.2",
            _sales > param("medium_max_planned_sales"),
            _size(PromotionSize.LARGE),
            en="Large promotion: planned sales {planned_sales} are over "
            "{medium_max_planned_sales} (any discount, any coupon). Outreach: SMS, IM and "
            "calls to old customers (site members) and new ones (from the number pool), "
            "with call numbers and targets set by the promotion plan.",
            zh="大型活动:计划销售额{planned_sales}元超过{medium_max_planned_sales}元(不限折扣、"
            "不限赠券)。以手机短信、在线IM、新老客户主呼为主:老客户号码来自网站会员,新客户从号码库"
            "提取,按活动方案安排呼叫频率、人次并设立达成目标。",
            id="large_by_sales",
        ),
        Rule(
            "B2C-7.14.2",
            _sales >= param("small_max_planned_sales"),
            _size(PromotionSize.MEDIUM),
            en="Medium promotion: planned sales {planned_sales} are from "
            "{small_max_planned_sales} up to {medium_max_planned_sales}." + _EN_MEDIUM_OUTREACH,
            zh="中型活动:计划销售额{planned_sales}元,在{small_max_planned_sales}~"
            "{medium_max_planned_sales}元之间。" + _ZH_MEDIUM_OUTREACH,
            id="medium_by_sales",
        ),
        Rule(
            "B2C-7.14.2",
            _length >= param("small_max_days"),
            _size(PromotionSize.MEDIUM),
            en="Medium promotion: it runs {length_days} days, {small_max_days} or more (the "
            "handbook's medium range is {small_max_days}-{medium_max_days} days; longer is "
            f"{_ONLY_SALES_EN})." + _EN_MEDIUM_OUTREACH,
            zh="中型活动:执行周期{length_days}天,不少于{small_max_days}天(手册中型为"
            f"{{small_max_days}}~{{medium_max_days}}天;更长{_ONLY_SALES_ZH})。"
            + _ZH_MEDIUM_OUTREACH,
            id="medium_by_length",
        ),
        Rule(
            "B2C-7.14.2",
            _factor <= param("small_min_price_factor"),
            _size(PromotionSize.MEDIUM),
            en="Medium promotion: customers pay {price_factor} of the list price "
            "({discount_zhe}折), at most {small_min_price_factor} (the handbook's medium range "
            "is {medium_min_price_factor}-{small_min_price_factor}; deeper is "
            f"{_ONLY_SALES_EN})." + _EN_MEDIUM_OUTREACH,
            zh="中型活动:产品折扣{discount_zhe}折(原价×{price_factor}),不高于"
            "{small_min_price_factor}(手册中型为{medium_min_price_factor}~"
            f"{{small_min_price_factor}};更低{_ONLY_SALES_ZH})。" + _ZH_MEDIUM_OUTREACH,
            id="medium_by_discount",
        ),
        Rule(
            "B2C-7.14.2",
            _coupon >= param("small_max_coupon"),
            _size(PromotionSize.MEDIUM),
            en="Medium promotion: the coupon is worth {coupon_value}, {small_max_coupon} or "
            "more (the handbook's medium range is {small_max_coupon}-{medium_max_coupon}; more "
            f"is {_ONLY_SALES_EN})." + _EN_MEDIUM_OUTREACH,
            zh="中型活动:赠券{coupon_value}元,不少于{small_max_coupon}元(手册中型为"
            f"{{small_max_coupon}}~{{medium_max_coupon}}元;更高{_ONLY_SALES_ZH})。"
            + _ZH_MEDIUM_OUTREACH,
            id="medium_by_coupon",
        ),
        Rule(
            "B2C-7.14.2",
            TRUE,
            _size(PromotionSize.SMALL),
            en="Small promotion: planned sales {planned_sales} under "
            "{small_max_planned_sales}, {length_days} days (under {small_max_days}), "
            "{discount_zhe}折 (price factor above {small_min_price_factor}), coupon "
            "{coupon_value} (under {small_max_coupon}). Outreach: mainly SMS and IM.",
            zh="小型活动:计划销售额{planned_sales}元(低于{small_max_planned_sales}元),执行周期"
            "{length_days}天(少于{small_max_days}天),{discount_zhe}折(高于"
            "{small_min_price_factor}),赠券{coupon_value}元(低于{small_max_coupon}元)。"
            "以手机短信和在线IM为主。",
            id="small",
        ),
    ],
)

#: B2C-8.11 training date (first hit; one rule).
PROMOTION_TRAINING: Final = Table(
    name="promotion_training",
    title="When customer service is trained on the promotion",
    title_zh="客服何时接受活动培训",
    hit_policy=HitPolicy.FIRST,
    inputs=_PROMOTION_INPUTS,
    outputs=("training_on",),
    rules=[
        Rule(
            "B2C-8.11",
            TRUE,
            {"training_on": call("subtract_days", _start, param("training_days_before_start"))},
            en="The department running the promotion trains customer service "
            "{training_days_before_start} days before the start ({start_date}), on "
            "{training_on}.",
            zh="活动发起部门须在活动开始({start_date})前{training_days_before_start}天,即"
            "{training_on},对客服部进行促销活动培训。",
            id="training",
        ),
    ],
)

_SIZE = fact("size")

#: What else the agent must do for a promotion (collect). ``due_on`` is the
#: duty's date, or ``None`` when the duty holds for the whole promotion.
PROMOTION_DUTIES: Final = Table(
    name="promotion_duties",
    title="What the agent must also do around a promotion",
    title_zh="活动前后客服还须做的事",
    hit_policy=HitPolicy.COLLECT,
    inputs=(*_PROMOTION_INPUTS, "size", "training_on"),
    outputs=("duty", "due_on"),
    rules=[
        Rule(
            "B2C-7.14.2",
            _SIZE.isin({PromotionSize.SMALL, PromotionSize.MEDIUM}),
            {
                "duty": "mass_sms_email_before_start",
                "due_on": call("subtract_days", _start, param("mass_message_days_before_start")),
            },
            en="Mass SMS and e-mail announcing the promotion {mass_message_days_before_start} "
            "day(s) before the start, on {due_on}.",
            zh="活动开始前{mass_message_days_before_start}天,即{due_on},群发活动将要开始的手机短信及"
            "电子邮件。",
            id="mass_message_before_start",
        ),
        Rule(
            "B2C-7.14.2",
            _SIZE == PromotionSize.MEDIUM,
            {
                "duty": "mass_sms_before_end",
                "due_on": call(
                    "later",
                    call("subtract_days", _end, param("medium_end_sms_days_before_end")),
                    _start,
                ),
            },
            en="Mass SMS announcing the end {medium_end_sms_days_before_end} days before it "
            "({end_date}), or on the first day of a shorter promotion: on {due_on}.",
            zh="活动终止前{medium_end_sms_days_before_end}天(活动较短时为活动首日),即{due_on},"
            "群发活动将要终止的手机短信(终止日{end_date})。",
            id="mass_sms_before_end",
        ),
        Rule(
            "B2C-7.14.1",
            TRUE,
            {
                "duty": "call_back_interested_customers",
                "due_on": call(
                    "later",
                    call("subtract_days", _end, param("interest_callback_days_before_end")),
                    _start,
                ),
            },
            en="On {due_on}, {interest_callback_days_before_end} days before the end (or on the "
            "first day of a shorter promotion), call "
            "again every interested customer who has not ordered yet, in the same time-of-day "
            "slot as their last call, and recommend the promotion again.",
            zh="活动终止前{interest_callback_days_before_end}天(活动较短时为活动首日,即{due_on})"
            "仍未下单的意向客户,须在其"
            "上次来电的同一时段主动致电,再次推荐并引导下单。",
            id="interest_callback",
        ),
        Rule(
            "TB-0.1",
            TRUE,
            {
                "duty": "tell_ships_within_working_days",
                "due_on": call("add_working_days", _end, param("promotion_ship_working_days")),
            },
            en="During the promotion orders ship within {promotion_ship_working_days} working "
            "days: tell customers so. An order placed on the last day ships by {due_on}.",
            zh="活动期间订单在{promotion_ship_working_days}个工作日内发货,须告知客户;"
            "最后一天的订单最晚于{due_on}发出。",
            id="ship_within",
        ),
        Rule(
            "B2C-7.11.2",
            TRUE,
            {"duty": "explain_terms_only_listed_products", "due_on": None},
            en="Explain the promotion's terms to customers; products not in the promotion "
            "never get its price: refuse such requests clearly.",
            zh="向客户说明活动内容;未参加活动的产品不给予活动价格,须明确拒绝此类要求。",
            id="only_listed_products",
        ),
        Rule(
            "B2C-7.11.2",
            fact("exclusive"),
            {"duty": "not_combinable", "due_on": None},
            en="The promotion is marked 'cannot be combined with other promotions': it can "
            "only be taken on its own.",
            zh="该活动注明不可与其他活动同时享受,只能单独参与。",
            id="not_combinable",
        ),
        Rule(
            "B2C-7.2",
            fact("discounted"),
            {"duty": "quote_discount_price", "due_on": None},
            en="Price after discount: {discount_zhe}折 means the customer pays the list price "
            "x {price_factor}.",
            zh="折后价:{discount_zhe}折即按原价×{price_factor}计算。",
            id="discount_price",
        ),
        Rule(
            "TB-EMS",
            fact("free_shipping"),
            {"duty": "ems_topup_free_shipping", "due_on": None},
            en="Free-shipping promotion: where only EMS reaches the address, the customer tops "
            "up {ems_topup_free_shipping} yuan.",
            zh="包邮活动商品:普通快递不到、须发EMS时,客户补{ems_topup_free_shipping}元。",
            id="ems_topup",
        ),
    ],
)

#: The tables of the promotion rule set, in evaluation order.
PROMOTION_TABLES: Final = (REMINDER_LEAD, PROMOTION_SIZE, PROMOTION_TRAINING, PROMOTION_DUTIES)


def _zhe(price_factor: Any) -> str:
    """A price factor as 折 (N折 = N/10 of the price): 0.7 -> "7", 0.65 -> "6.5"."""
    return f"{(price_factor * 10).normalize():f}"


def _in(name: str, source: str, type_: Any, en: str, zh: str) -> FactSpec:
    return FactSpec(name, type_, source=source, en=en, zh=zh)


def _derived(name: str, type_: Any, derive: Expr, en: str, zh: str) -> FactSpec:
    return FactSpec(name, type_, derive=derive, en=en, zh=zh)


#: The facts of a promotion case.
PROMOTION_FACTS: Final = (
    _in("starts_at", "promotion.starts_at", dt.datetime, "when it starts", "开始时间"),
    _in("ends_at", "promotion.ends_at", dt.datetime, "when it ends", "结束时间"),
    _in("planned_sales", "promotion.planned_sales", decimal.Decimal,
        "planned sales", "计划销售额"),
    _in("price_factor", "promotion.price_factor", decimal.Decimal, "price factor", "折扣系数"),
    _in("coupon_value", "promotion.coupon_value", decimal.Decimal, "coupon value", "优惠券面值"),
    _in("exclusive", "promotion.exclusive", bool, "exclusive", "独家"),
    _in("free_shipping", "promotion.free_shipping", bool, "free shipping", "包邮"),
    _in("at", "at", dt.datetime, "when the case is decided", "决定时间"),
    _derived("start_date", dt.date, call("local_date", fact("starts_at")),
             "start date", "开始日期"),
    _derived("end_date", dt.date, call("local_date", fact("ends_at")), "end date", "结束日期"),
    _derived("length_days", int,
             call("days_between", fact("start_date"), fact("end_date")) + 1,
             "days it runs, both ends counted", "活动天数"),
    _derived("discount_zhe", str, call("zhe", fact("price_factor")), "the discount in 折", "折数"),
    _derived("discounted", bool, fact("price_factor") < 1, "prices are cut", "有折扣"),
    _derived("decision_date", dt.date, call("local_date", fact("at")), "decision date", "决定日期"),
)  # fmt: skip


def _promotion_decision(
    case_id: str,
    results: Mapping[str, TableResult],
    facts: Mapping[str, Any],
    resolved: ParameterSet,
    params: Mapping[str, Any],
    policy: Policy,
) -> PromotionDecision:
    lead = results["reminder_lead"]
    size = results["promotion_size"]
    training = results["promotion_training"]
    duties = results["promotion_duties"]
    codes: tuple[str, ...] = duties.outputs["duty"]
    due: dict[str, dt.date | None] = dict(zip(codes, duties.outputs["due_on"], strict=True))
    last_ship_by = due.get("tell_ships_within_working_days")
    trace = make_trace(tuple(results.values()), resolved, policy)
    return PromotionDecision(
        case_id=case_id,
        length_days=facts["length_days"],
        remind_days_before=lead.outputs["remind_days_before"],
        remind_on=lead.outputs["remind_on"],
        size=size.outputs["size"],
        training_on=training.outputs["training_on"],
        outreach=size.outputs["outreach"],
        mass_message_on=due.get("mass_sms_email_before_start"),
        end_sms_on=due.get("mass_sms_before_end"),
        interest_callback_on=due.get("call_back_interested_customers"),
        last_ship_by=last_ship_by,
        duties=codes,
        trace=trace,
    )


#: The promotion kind of the bundled rule sets.
PROMOTION_KIND: Final = KindSpec(
    name="promotion",
    facts=PROMOTION_FACTS,
    tables=PROMOTION_TABLES,
    decision=_promotion_decision,
    date_fact="decision_date",
    roots=("promotion", "at"),
)


def promotion_facts(promotion: Promotion, at: dt.datetime) -> dict[str, Any]:
    """The fact record of a promotion case (the facts :data:`PROMOTION_FACTS`
    declares that its tables read).

    Args:
        promotion: the promotion.
        at: when the case is decided (time-zone aware).
    """
    from csrules.policy import default_policy

    facts: dict[str, Any] = PROMOTION_KIND.compiled().build(promotion, at, {}, default_policy())[0]
    return facts


def decide_promotion(
    promotion: Promotion,
    *,
    at: dt.datetime,
    policy: Policy | None = None,
    case_id: str = "",
    tables: tuple[Table, Table, Table, Table] | None = None,
    ruleset: RuleSet | str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> PromotionDecision:
    """Decide a promotion: reminder date, size class, training date and duties.

    Args:
        promotion: the promotion.
        at: when the case is decided (aware; its Asia/Shanghai date picks the
            parameter values in force).
        policy: the shop's policy; the bundled B2C policy by default.
        case_id: echoed in the decision.
        tables: the reminder, size, training and duties tables to use, to
            swap in a shop's own rules (a rule set is the better way).
        ruleset: the rule set (a :class:`~csrules.RuleSet` or a name for
            :func:`csrules.ruleset`); the bundled ``b2c`` by default.
        facts: values of extra facts the rule set declares.

    Raises:
        ArgumentTypeError: an argument is not of the type above.
        DomainValueError: ``at`` is naive.
        PolicyError: a parameter the rules need has no value on the
            decision date.
        RuleOverlapError: a swapped-in reminder table (or band parameters out
            of order) gives a length two bands.
        NoRuleMatchedError: a length falls in no band.

    .. versionadded:: 0.1.0
    """
    check_instance("promotion", promotion, Promotion, "a Promotion")
    check_time("at", at)
    check_instance("case_id", case_id, str, "a str")
    kind, policy = kind_and_policy("promotion", PROMOTION_KIND, policy, ruleset, tables, 4)
    return kind.compiled().decide((promotion, at), facts or {}, policy, case_id)  # type: ignore[return-value]


# ---------------------------------------------------------------- price adjustment

_ADJUSTMENT_INPUTS: Final = (
    "request_time",
    "starts_at",
    "ends_at",
    "start_date",
    "end_date",
    "paid",
    "manager_approved",
    "customer_paid_total",
    "requested_amount",
    "decision_date",
)

_now = fact("request_time")
_before_start = _now < fact("starts_at")
_running = _now <= fact("ends_at")  # after a _before_start row: started and not ended
_paid = fact("paid")
_REFUSED: Final = {"action": AdjustmentAction.REFUSED}
_ADJUSTED: Final = {"action": AdjustmentAction.ADJUSTED}

#: B2C-7.11.1a / B2C-7.11.2: is the order re-priced at the promotion price
#: (first hit)?
PRICE_ADJUSTMENT: Final = Table(
    name="price_adjustment",
    title="Re-pricing an order at a promotion's price",
    title_zh="按活动价重新计价",
    hit_policy=HitPolicy.FIRST,
    inputs=_ADJUSTMENT_INPUTS,
    outputs=("action",),
    rules=[
        Rule(
            "B2C-7.11.1a",
            _before_start & fact("manager_approved"),
            _ADJUSTED,
            en="The promotion has not started (it starts {start_date}), but a manager signed "
            "off the re-pricing: the order is re-priced at the promotion price.",
            zh="活动尚未开始({start_date}开始),但已有相关领导签批调单依据:按活动价格调整订单。",
            id="manager_signed_off",
        ),
        Rule(
            "B2C-7.11.1a",
            _before_start & ~_paid,
            _REFUSED,
            en="The promotion has not started yet (it starts {start_date}): the order cannot "
            "be re-priced. Politely suggest ordering after the start, when the order gets "
            "the promotion price automatically.",
            zh="活动尚未开始({start_date}开始),无法调整订单价格;委婉建议客户在活动开始后再下单,"
            "届时订单价格会自动变更为活动价。",
            id="before_start_unpaid",
        ),
        Rule(
            "B2C-7.11.1a",
            _before_start,
            _REFUSED,
            en="The order was placed and paid before the promotion starts ({start_date}): "
            "the order amount cannot be adjusted.",
            zh="客户在活动开始({start_date})前下单且付款,无法调整订单金额。",
            id="before_start_paid",
        ),
        Rule(
            "B2C-7.11.1a",
            _running & ~_paid,
            _ADJUSTED,
            en="The promotion is running (until {end_date}) and the order is not paid: it "
            "gets the promotion price automatically.",
            zh="活动进行中(至{end_date}),订单未付款:订单价格自动变更为活动价。",
            id="running_unpaid",
        ),
        Rule(
            "B2C-7.11.1a",
            _running,
            _REFUSED,
            en="The order was paid before the promotion price applied (the promotion started "
            "{start_date}): a paid order's amount is not adjusted.",
            zh="订单在活动价生效({start_date}开始)前已付款,无法调整订单金额。",
            id="running_paid",
        ),
        Rule(
            "B2C-7.11.2",
            TRUE,
            _REFUSED,
            en="The promotion ended on {end_date}: its price applies only while it runs, and "
            "products not in a running promotion never get its price.",
            zh="活动已于{end_date}结束:活动价仅在活动期间有效,不参加进行中活动的产品不给予活动价格。",
            id="after_end",
        ),
    ],
)

#: B2C-7.11.1b: may the agent ask for a small gift for a refused customer
#: (first hit)?
GIFT_ELIGIBILITY: Final = Table(
    name="gift_eligibility",
    title="Small gift after a refused re-pricing",
    title_zh="拒绝改价后的小礼品",
    hit_policy=HitPolicy.FIRST,
    inputs=(*_ADJUSTMENT_INPUTS, "action"),
    outputs=("gift_eligible",),
    rules=[
        Rule(
            "B2C-7.11.1b",
            fact("action") != AdjustmentAction.REFUSED,
            {"gift_eligible": False},
            en="The order is re-priced: there is no refusal to soften with a gift.",
            zh="订单已调整价格,无需以礼物安抚。",
            id="not_refused",
            silent=True,
        ),
        Rule(
            "B2C-7.11.1b",
            fact("request_time") > fact("ends_at"),
            {"gift_eligible": False},
            en="The promotion is over: the gift belongs to a refusal before or during it.",
            zh="活动已结束:赠礼仅适用于活动开始前(或进行中)被拒绝的调单。",
            id="promotion_over",
            silent=True,
        ),
        Rule(
            "B2C-7.11.1b",
            fact("customer_paid_total") > param("gift_history_threshold"),
            {"gift_eligible": True},
            en="The customer's orders total {customer_paid_total} yuan, over "
            "{gift_history_threshold}: the agent may ask the department head for a small "
            "gift, and must not mention it to the customer before it is approved.",
            zh="客户历史订单金额{customer_paid_total}元,超过{gift_history_threshold}元:客服可酌情"
            "向部门负责人申请给予客户小礼物,但在负责人确认前勿告知客户送礼事宜。",
            id="gift_by_history",
        ),
        Rule(
            "B2C-7.11.1b",
            fact("requested_amount") > param("gift_adjustment_threshold"),
            {"gift_eligible": True},
            en="The adjustment asked for is {requested_amount} yuan, over "
            "{gift_adjustment_threshold}: the agent may ask the department head for a small "
            "gift, and must not mention it to the customer before it is approved.",
            zh="客户要求调单金额{requested_amount}元,超过{gift_adjustment_threshold}元:客服可酌情"
            "向部门负责人申请给予客户小礼物,但在负责人确认前勿告知客户送礼事宜。",
            id="gift_by_request",
        ),
        Rule(
            "B2C-7.11.1b",
            TRUE,
            {"gift_eligible": False},
            en="Neither the customer's order total ({customer_paid_total}, limit "
            "{gift_history_threshold}) nor the adjustment asked for ({requested_amount}, limit "
            "{gift_adjustment_threshold}) is large enough for a gift.",
            zh="客户历史订单金额({customer_paid_total}元,限{gift_history_threshold}元)与要求调单"
            "金额({requested_amount}元,限{gift_adjustment_threshold}元)均未达到赠礼条件。",
            id="no_gift",
            silent=True,
        ),
    ],
)

#: The tables of the price-adjustment rule set, in evaluation order.
PRICE_ADJUSTMENT_TABLES: Final = (PRICE_ADJUSTMENT, GIFT_ELIGIBILITY)


#: The facts of a price-adjustment case.
PRICE_ADJUSTMENT_FACTS: Final = (
    _in("request_time", "at", dt.datetime, "when the request was made", "申请时间"),
    _in("starts_at", "request.promotion.starts_at", dt.datetime, "promotion start", "活动开始"),
    _in("ends_at", "request.promotion.ends_at", dt.datetime, "promotion end", "活动结束"),
    _in("paid", "request.paid", bool, "the order is paid", "已付款"),
    _in("manager_approved", "request.manager_approved", bool,
        "a manager approved", "经理批准"),
    _in("customer_paid_total", "request.customer_paid_total", decimal.Decimal,
        "what the customer has paid in all", "客户累计付款"),
    _in("requested_amount", "request.requested_amount", decimal.Decimal,
        "the amount asked back", "申请金额"),
    _derived("start_date", dt.date, call("local_date", fact("starts_at")),
             "start date", "开始日期"),
    _derived("end_date", dt.date, call("local_date", fact("ends_at")), "end date", "结束日期"),
    _derived("decision_date", dt.date, call("local_date", fact("request_time")),
             "decision date", "决定日期"),
)  # fmt: skip


def _price_adjustment_decision(
    case_id: str,
    results: Mapping[str, TableResult],
    facts: Mapping[str, Any],
    resolved: ParameterSet,
    params: Mapping[str, Any],
    policy: Policy,
) -> PriceAdjustmentDecision:
    action = results["price_adjustment"]
    gift = results["gift_eligibility"]
    # No date here is counted in working days, so the decision is never estimated.
    return PriceAdjustmentDecision(
        case_id=case_id,
        action=action.outputs["action"],
        gift_eligible=gift.outputs["gift_eligible"],
        trace=make_trace(tuple(results.values()), resolved, policy),
    )


#: The price-adjustment kind of the bundled rule sets.
PRICE_ADJUSTMENT_KIND: Final = KindSpec(
    name="price_adjustment",
    facts=PRICE_ADJUSTMENT_FACTS,
    tables=PRICE_ADJUSTMENT_TABLES,
    decision=_price_adjustment_decision,
    date_fact="decision_date",
    roots=("request", "at"),
)


def price_adjustment_facts(request: PriceAdjustmentRequest, at: dt.datetime) -> dict[str, Any]:
    """The fact record of a price-adjustment case.

    Args:
        request: what the customer asks for.
        at: when the request was made (time-zone aware).
    """
    from csrules.policy import default_policy

    kind = PRICE_ADJUSTMENT_KIND.compiled()
    facts: dict[str, Any] = kind.build(request, at, {}, default_policy())[0]
    return facts


def decide_price_adjustment(
    request: PriceAdjustmentRequest,
    *,
    at: dt.datetime,
    policy: Policy | None = None,
    case_id: str = "",
    tables: tuple[Table, Table] | None = None,
    ruleset: RuleSet | str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> PriceAdjustmentDecision:
    """Decide a request to re-price an order at a promotion's price.

    Args:
        request: what the customer asks for.
        at: when the request was made (aware; compared with the promotion's
            start and end, and its Asia/Shanghai date picks the parameter
            values in force).
        policy: the shop's policy; the bundled B2C policy by default.
        case_id: echoed in the decision.
        tables: the adjustment and gift tables to use, to swap in a shop's
            own rules (a rule set is the better way).
        ruleset: the rule set (a :class:`~csrules.RuleSet` or a name for
            :func:`csrules.ruleset`); the bundled ``b2c`` by default.
        facts: values of extra facts the rule set declares.

    Raises:
        ArgumentTypeError: an argument is not of the type above.
        DomainValueError: ``at`` is naive.
        PolicyError: a parameter the rules need has no value on the
            request's date.

    .. versionadded:: 0.1.0
    """
    check_instance("request", request, PriceAdjustmentRequest, "a PriceAdjustmentRequest")
    check_time("at", at)
    check_instance("case_id", case_id, str, "a str")
    kind, policy = kind_and_policy(
        "price_adjustment", PRICE_ADJUSTMENT_KIND, policy, ruleset, tables, 2
    )
    return kind.compiled().decide((request, at), facts or {}, policy, case_id)  # type: ignore[return-value]


mark_bundled(globals(), __name__)
