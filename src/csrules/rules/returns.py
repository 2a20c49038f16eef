"""Return, exchange, cancellation, refund-only and redirect requests.

Four tables, evaluated in order, each reading the facts of the case and the
outcomes of the tables before it:

1. :data:`RETURN_ACTION` (first hit): what happens and who must approve.
2. :data:`FREIGHT_PAYER` (first hit): who pays the parcel movement.
3. :data:`REFUND_DUE` (first hit): by when the refund must reach the customer.
4. :data:`RETURN_DUTIES` (collect): what else the agent must do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from pendulum import DateTime

from csrules._decision import (
    Action,
    FreightPayer,
    ReturnDecision,
    Role,
    make_trace,
    positional_constructor,
)
from csrules._domain import (
    _ALWAYS_AWARE,
    EXCLUDED_CATEGORIES,
    Order,
    OrderStatus,
    PaymentMethod,
    Reason,
    RequestType,
    ReturnRequest,
    check_instance,
    check_not_before,
    check_time,
)
from csrules._ruleset import FactSpec, KindSpec, RuleSet, kind_and_policy
from csrules.exceptions import ArgumentTypeError, DomainValueError
from csrules.policy import ParameterSet, Policy, default_policy
from csrules.rules._expr import TRUE, Expr, call, fact, param
from csrules.rules._table import HitPolicy, Rule, Table, TableResult, mark_bundled

__all__ = [
    "FREIGHT_PAYER",
    "MERCHANT_FAULT_REASONS",
    "REFUND_DUE",
    "RETURN_ACTION",
    "RETURN_DUTIES",
    "RETURN_FACTS",
    "RETURN_KIND",
    "RETURN_TABLES",
    "decide_return",
    "return_facts",
]

#: Reasons that are the shop's or the courier's fault, not the customer's
#: (quality problem, transport damage, wrong goods, size not as labelled).
MERCHANT_FAULT_REASONS: Final = frozenset(
    {
        Reason.QUALITY_DEFECT,
        Reason.DAMAGED_IN_TRANSIT,
        Reason.WRONG_ITEM,
        Reason.SIZE_NOT_AS_LABELLED,
    }
)
#: Reasons of a parcel that came back unopened (B2C-7.10.4a).
_UNDELIVERED: Final = frozenset({Reason.REFUSED_DELIVERY, Reason.WRONG_ADDRESS})
_PAID_STATES: Final = frozenset(
    {OrderStatus.PAID_UNSHIPPED, OrderStatus.SHIPPED, OrderStatus.SIGNED}
)
_TERMINAL: Final = frozenset({OrderStatus.CLOSED, OrderStatus.CANCELLED})
_FOUR_HEADS: Final = (
    Role.DEPARTMENT_HEAD,
    Role.FINANCE_HEAD,
    Role.LOGISTICS_HEAD,
    Role.OPERATIONS_HEAD,
)
_FINANCE_OPS: Final = (Role.FINANCE, Role.OPERATIONS)
_REFUNDING: Final = frozenset(
    {
        Action.CANCEL_PAID,
        Action.INTERCEPT,
        Action.NORMAL_RETURN,
        Action.ABNORMAL_RETURN,
        Action.REFUND,
    }
)
_NO_PARCEL: Final = frozenset(
    {Action.REJECTED, Action.CANCEL, Action.CANCEL_PAID, Action.INTERCEPT, Action.REFUND}
)

_INPUTS: Final = (
    "request_type",
    "reason",
    "status",
    "paid",
    "in_warehouse_system",
    "merchant_fault",
    "courier_confirmed",
    "condition_given",
    "goods_normal",
    "tag_or_packaging_missing",
    "tag_missing",
    "not_intact",
    "free_shipping_promotion",
    "excluded_category",
    "some_lines_excluded",
    "signed_date",
    "request_date",
    "proof_date",
    "goods_received_date",
    "payment_method",
)

T = fact("request_type")
S = fact("status")
R = fact("reason")
_signed = S == OrderStatus.SIGNED
_fault = fact("merchant_fault")
_no_reason = ~_fault
_no_reason_deadline = call("add_days", fact("signed_date"), param("no_reason_return_days"))

_EN_HEADS = "department, finance, logistics and online-operations heads"
_ZH_HEADS = "部门负责人、财务负责人、物流负责人、网络运营负责人"

#: What happens to the request, and who must sign off (first hit).
RETURN_ACTION: Final = Table(
    name="return_action",
    title="Return, exchange, cancel, refund-only and redirect eligibility",
    title_zh="退货、换货、取消、仅退款与改址的受理",
    hit_policy=HitPolicy.FIRST,
    inputs=_INPUTS,
    outputs=("action", "eligible", "approvals"),
    defaults={"eligible": True, "approvals": ()},
    rules=[
        Rule(
            "B2C-7.5.1",
            S.isin(_TERMINAL),
            {"action": Action.REJECTED, "eligible": False},
            en="The order is {status}: nothing can be changed on a closed order.",
            zh="订单状态为{status}(已关闭),不能再受理。",
            id="closed_order",
        ),
        # ---- cancel / refund / return before shipment --------------------
        Rule(
            "TBX-4",
            T.isin({RequestType.CANCEL, RequestType.RETURN, RequestType.REFUND})
            & (S == OrderStatus.CONFIRMED_UNPAID)
            & (param("agent_closes_unpaid_orders") == False),  # noqa: E712
            {"action": Action.CANCEL},
            en="Unpaid order: the customer closes the trade themselves; "
            "the agent never closes it for them.",
            zh="未付款订单:由客户自行关闭交易,客服不得代为关闭。",
            id="cancel_by_customer",
        ),
        Rule(
            "B2C-7.6.1",
            T.isin({RequestType.CANCEL, RequestType.RETURN, RequestType.REFUND})
            & (S == OrderStatus.CONFIRMED_UNPAID),
            {"action": Action.CANCEL},
            en="Unpaid order: the agent cancels it (取消订单); no money has moved.",
            zh="已确认未付款订单:由客服执行取消订单,不涉及退款。",
            id="cancel_unpaid",
        ),
        Rule(
            "TB-1.3",
            T.isin({RequestType.CANCEL, RequestType.RETURN, RequestType.REFUND})
            & (S == OrderStatus.PAID_UNSHIPPED)
            & (R == Reason.STOCK_OUT),
            {"action": Action.REFUND},
            en="Stock-out: the customer chose a refund; no approval is needed.",
            zh="缺货:客户选择退款,无需审批。",
            id="stock_out_refund",
        ),
        Rule(
            "TB-1.2.3",
            T.isin({RequestType.CANCEL, RequestType.RETURN, RequestType.REFUND})
            & (S == OrderStatus.PAID_UNSHIPPED)
            & fact("in_warehouse_system"),
            {"action": Action.INTERCEPT, "approvals": _FINANCE_OPS},
            en="Paid and already in the warehouse system: after-sale and logistics intercept "
            "the order (do not ship); Finance and Operations confirm the cancellation.",
            zh="已付款且已录入系统:售后与物流拦截订单不发货,并经财务部、运营部确认后退单。",
            id="intercept_paid",
        ),
        Rule(
            "B2C-7.4.4",
            T.isin({RequestType.CANCEL, RequestType.RETURN, RequestType.REFUND})
            & (S == OrderStatus.PAID_UNSHIPPED),
            {"action": Action.CANCEL_PAID, "approvals": _FINANCE_OPS},
            en="Paid, not shipped: cancelling a paid order (退单) needs Finance and "
            "Operations to confirm first.",
            zh="已付款未发货:退单须经财务部、运营部确认后执行。",
            id="cancel_paid",
        ),
        Rule(
            "TB-1.2.2",
            (T == RequestType.CANCEL) & S.isin({OrderStatus.SHIPPED, OrderStatus.SIGNED}),
            {"action": Action.REJECTED, "eligible": False},
            en="The order has shipped: it can no longer be cancelled (the parcel cannot be "
            "recalled); it becomes a return after delivery.",
            zh="订单已发货,货物无法追回,不能取消;请在收货后办理退货。",
            id="cancel_after_shipment",
        ),
        # ---- returns after shipment -------------------------------------------
        Rule(
            "B2C-7.10.4a",
            (T == RequestType.RETURN) & (S == OrderStatus.SHIPPED) & R.isin(_UNDELIVERED),
            {"action": Action.NORMAL_RETURN},
            en="The parcel reached the address and came back unsigned ({reason}): "
            "a return of goods never opened.",
            zh="货品已送达但未签收({reason}),原件退回公司,按正常退货处理。",
            id="return_unsigned_parcel",
        ),
        Rule(
            "B2C-7.4.1",
            (T == RequestType.RETURN) & (S == OrderStatus.SHIPPED),
            {"action": Action.REJECTED, "eligible": False},
            en="The goods are on their way and not yet received: a return starts once "
            "they are received or refused at the door.",
            zh="货品在途尚未签收:须在签收或拒收后才能退货。",
            id="return_in_transit",
        ),
        Rule(
            "LAW-25.2",
            (T == RequestType.RETURN) & _signed & _no_reason & fact("excluded_category"),
            {"action": Action.REJECTED, "eligible": False},
            en="No-reason return refused: every item of the order is of a kind the law "
            "excludes (custom-made, fresh, downloaded digital, delivered periodicals, or "
            "confirmed non-returnable at purchase).",
            zh="该订单商品均属法定不适用七日无理由退货的商品(定制、生鲜、已下载数字商品、已交付报刊或购买时确认不宜退货),不予无理由退货。",
            id="no_reason_excluded",
        ),
        Rule(
            "LAW-25.1",
            (T == RequestType.RETURN)
            & _signed
            & _no_reason
            & (param("no_reason_extend_past_holiday") == True)  # noqa: E712
            & (fact("request_date") > call("roll_to_working_day", _no_reason_deadline)),
            {"action": Action.REJECTED, "eligible": False},
            en="No-reason return refused: signed on {signed_date}, more than "
            "{no_reason_return_days} days ago (the last day moved past days off).",
            zh="{signed_date}签收,已超过{no_reason_return_days}天无理由退货期(末日遇休息日已顺延)。",
            id="no_reason_expired_extended",
        ),
        Rule(
            "LAW-25.1",
            (T == RequestType.RETURN)
            & _signed
            & _no_reason
            & (param("no_reason_extend_past_holiday") == False)  # noqa: E712
            & (fact("request_date") > _no_reason_deadline),
            {"action": Action.REJECTED, "eligible": False},
            en="No-reason return refused: signed on {signed_date}, more than "
            "{no_reason_return_days} days ago (the days start the day after signing).",
            zh="{signed_date}签收,已超过{no_reason_return_days}天无理由退货期(自签收次日起算)。",
            id="no_reason_expired",
        ),
        Rule(
            "TB-1.4.1",
            T.isin({RequestType.RETURN, RequestType.EXCHANGE})
            & S.isin({OrderStatus.SIGNED})
            & _no_reason
            & (param("reject_missing_tag_or_packaging") == True)  # noqa: E712
            & (
                ((T == RequestType.EXCHANGE) & fact("tag_or_packaging_missing"))
                | ((T == RequestType.RETURN) & fact("tag_missing"))
            ),
            {"action": Action.REJECTED, "eligible": False},
            en="Tag or packaging missing: this shop does not accept the return or "
            "exchange; the agent explains why (a no-reason return is refused for a removed "
            "tag only, as the law allows).",
            zh="商品吊牌或包装缺失,不接受退换货,并向客户解释原因。",
            id="tag_or_packaging_missing",
        ),
        Rule(
            "LAW-25.3",
            (T == RequestType.RETURN)
            & _signed
            & _no_reason
            & (param("refuse_not_intact_no_reason") == True)  # noqa: E712
            & fact("not_intact"),
            {"action": Action.REJECTED, "eligible": False},
            en="No-reason return refused: the goods are not intact (tag removed, washed or "
            "damaged), which the law allows a shop to refuse.",
            zh="商品不完好(吊牌已拆、有洗涤痕迹或破损),依法可拒绝七日无理由退货。",
            id="not_intact_refused",
        ),
        Rule(
            "B2C-7.4.2",
            (T == RequestType.RETURN) & _signed & fact("goods_normal"),
            {"action": Action.NORMAL_RETURN},
            en="Normal return: tag intact, unwashed, undamaged, delivery note complete, "
            "order and delivery-note numbers given.",
            zh="正常退货:吊牌完好、无洗涤痕迹、无人为破损、发货单齐全、订单号与发货单号正确。",
            id="normal_return",
        ),
        Rule(
            "B2C-7.4.3",
            (T == RequestType.RETURN) & _signed,
            {"action": Action.ABNORMAL_RETURN, "approvals": _FOUR_HEADS},
            en="Abnormal return: not every normal-return condition holds, so the agent files a "
            f"return application for the {_EN_HEADS} to approve; it is not refused.",
            zh=f"非正常退货:不满足正常退货条件,由客服提交退货申请,经{_ZH_HEADS}确认后退货,不直接拒绝。",
            id="abnormal_return",
        ),
        # ---- exchanges ------------------------------------------------------------
        Rule(
            "B2C-7.5.4",
            (T == RequestType.EXCHANGE) & (R == Reason.STOCK_OUT),
            {"action": Action.EXCHANGE},
            en="The item is out of stock: tell the customer at once and offer "
            "alternatives (exchange, refund or wait).",
            zh="调换商品无货:立即告知客户,并提供其他调换选择(换货、退款或等待)。",
            id="exchange_stock_out",
        ),
        Rule(
            "B2C-7.5.2",
            (T == RequestType.EXCHANGE) & (S == OrderStatus.CONFIRMED_UNPAID),
            {"action": Action.EXCHANGE},
            en="Unpaid order: edit the order (noting the time of the request) or have the "
            "customer order again.",
            zh="未付款订单:直接修改原单并备注客户要求时间,或请客户重新下单。",
            id="exchange_unpaid",
        ),
        Rule(
            "B2C-7.5.3",
            T == RequestType.EXCHANGE,
            {"action": Action.EXCHANGE},
            en="Paid order: record the customer's e-mail and report back when the "
            "exchange is done.",
            zh="已付款订单:记录客户邮箱,调换完成后回复客户。",
            id="exchange_paid",
        ),
        # ---- refund only after shipment ---------------------------------------
        Rule(
            "B2C-7.8.1",
            (T == RequestType.REFUND) & ~fact("paid"),
            {"action": Action.REJECTED, "eligible": False},
            en="Nothing has been paid on this cash-on-delivery order yet, so there is nothing "
            "to refund: the customer may refuse the parcel at the door and pays nothing.",
            zh="该货到付款订单尚未付款,无款可退:客户可在送货时拒收,无需付款。",
            id="refund_nothing_paid",
        ),
        Rule(
            "TB-1.3",
            (T == RequestType.REFUND) & (R == Reason.STOCK_OUT),
            {"action": Action.REFUND},
            en="Stock-out: refund the missing items; in-stock items may ship first.",
            zh="缺货:退还缺货商品款项,有货商品可先发。",
            id="refund_stock_out_shipped",
        ),
        Rule(
            "TBX-7",
            (T == RequestType.REFUND) & _fault,
            {"action": Action.REFUND},
            en="Shipped order, refund without goods back for a problem on the shop's side "
            "({reason}): refund it.",
            zh="已发货订单因商家原因({reason})申请退款(不退货):予以退款。",
            id="refund_shop_fault",
        ),
        Rule(
            "TBX-7",
            T == RequestType.REFUND,
            {"action": Action.REFUND, "approvals": (Role.MANAGER,)},
            en="Refund without goods back for a reason that is not the shop's fault: the shop "
            "never refuses a refund outright, a manager signs it off.",
            zh="非商家原因的仅退款申请:不得直接拒绝退款,须经主管签批。",
            id="refund_customer_side",
        ),
        # ---- redirect (address change) -----------------------------------------
        Rule(
            "B2C-7.10.3b",
            (T == RequestType.REDIRECT) & (S == OrderStatus.SHIPPED),
            {"action": Action.REDIRECT},
            en="Address changed after shipment: the parcel is redirected; the customer pays "
            "any freight difference.",
            zh="发货后客户调整收货地址:改派,运费差价由客户承担。",
            id="redirect_shipped",
        ),
        Rule(
            "TB-1.2.3",
            (T == RequestType.REDIRECT)
            & (S == OrderStatus.PAID_UNSHIPPED)
            & fact("in_warehouse_system"),
            {"action": Action.REDIRECT},
            en="Not shipped but already in the warehouse system: logistics changes the "
            "address before shipping.",
            zh="未发货但已录入系统:交物流部修改收货地址。",
            id="redirect_in_warehouse",
        ),
        Rule(
            "B2C-7.5.2",
            (T == RequestType.REDIRECT)
            & S.isin({OrderStatus.CONFIRMED_UNPAID, OrderStatus.PAID_UNSHIPPED}),
            {"action": Action.REDIRECT},
            en="Not shipped yet: the agent edits the address on the order and notes the "
            "time of the request.",
            zh="尚未发货:客服直接修改订单地址,并备注客户要求时间。",
            id="redirect_unshipped",
        ),
        Rule(
            "B2C-7.4.1",
            T == RequestType.REDIRECT,
            {"action": Action.REJECTED, "eligible": False},
            en="The customer has signed for the parcel: there is nothing left to redirect.",
            zh="客户已签收,无法改派。",
            id="redirect_signed",
        ),
    ],
)

_moves_parcel = fact("action").notin(_NO_PARCEL)
#: A parcel that reached the address and came back unsigned (refused, wrong
#: address): the return of B2C-7.10.4a. A signed parcel, a redirect or an
#: exchange is none, whatever reason is given.
_came_back_unsigned = (T == RequestType.RETURN) & (S == OrderStatus.SHIPPED) & R.isin(_UNDELIVERED)

#: Who pays the freight of the parcel movement the request causes (first hit).
FREIGHT_PAYER: Final = Table(
    name="freight_payer",
    title="Who pays the freight",
    title_zh="运费由谁承担",
    hit_policy=HitPolicy.FIRST,
    inputs=(*_INPUTS, "action"),
    outputs=("freight_payer",),
    rules=[
        Rule(
            "B2C-7.10.1",
            ~_moves_parcel,
            {"freight_payer": FreightPayer.NONE},
            en="No parcel moves for this outcome ({action}), so there is no freight to pay.",
            zh="该处理({action})不产生货品寄送,无运费。",
            id="no_parcel",
            silent=True,
        ),
        Rule(
            "B2C-7.10.1",
            S.isin({OrderStatus.CONFIRMED_UNPAID, OrderStatus.PAID_UNSHIPPED}),
            {"freight_payer": FreightPayer.NONE},
            en="Nothing has shipped yet: the change is made on the order, no extra freight.",
            zh="尚未发货,直接修改订单,不产生额外运费。",
            id="not_shipped",
            silent=True,
        ),
        Rule(
            "NEW-7",
            _came_back_unsigned & (fact("payment_method") == PaymentMethod.COD),
            {"freight_payer": FreightPayer.MERCHANT},
            en="A refused cash-on-delivery parcel costs the shop the freight.",
            zh="货到付款拒收,运费由公司承担。",
            id="cod_refused",
        ),
        Rule(
            "B2C-7.10.4a",
            _came_back_unsigned,
            {"freight_payer": FreightPayer.MERCHANT},
            en="The parcel came back unopened ({reason}): the company pays the freight.",
            zh="货品未拆包退回公司({reason}),运费由公司承担。",
            id="unopened_parcel",
        ),
        Rule(
            "B2C-7.10.4c",
            R == Reason.WRONG_ITEM,
            {"freight_payer": FreightPayer.MERCHANT},
            en="The goods sent do not match the order: the company pays the freight.",
            zh="发出货品与订单不符,运费由公司承担。",
            id="wrong_item",
        ),
        Rule(
            "B2C-7.10.4b",
            (R == Reason.DAMAGED_IN_TRANSIT) & fact("courier_confirmed"),
            {"freight_payer": FreightPayer.MERCHANT},
            en="The courier confirmed the damage was not the customer's doing: the company "
            "pays the freight.",
            zh="经物流确认非客户原因造成的破损,运费由公司承担。",
            id="courier_confirmed_damage",
        ),
        Rule(
            "TB-1.4.2",
            R.isin({Reason.QUALITY_DEFECT, Reason.SIZE_NOT_AS_LABELLED}),
            {"freight_payer": FreightPayer.MERCHANT},
            en="Quality problem ({reason}): the company pays the freight both ways.",
            zh="质量问题({reason}):来回运费由公司承担。",
            id="quality_problem",
        ),
        Rule(
            "B2C-7.10.3a",
            (T == RequestType.EXCHANGE) & (R == Reason.SIZE_DOES_NOT_FIT),
            {"freight_payer": FreightPayer.MERCHANT},
            en="Exchange for a size problem: not charged to the customer "
            "(the handbook excludes quality and size problems).",
            zh="因尺码问题调换货,运费不由客户承担。",
            id="exchange_size",
        ),
        Rule(
            "B2C-7.10.3a",
            T == RequestType.EXCHANGE,
            {"freight_payer": FreightPayer.CUSTOMER},
            en="Exchange not caused by a quality or size problem: the customer pays the "
            "actual freight, in advance, by an ordinary courier (no freight collect).",
            zh="非质量或尺码问题的调换货:实际运费由客户承担,须先付运费、使用普通快递,不支持到付。",
            id="exchange_customer",
        ),
        Rule(
            "B2C-7.10.3b",
            T == RequestType.REDIRECT,
            {"freight_payer": FreightPayer.CUSTOMER},
            en="Address changed after shipment: the customer pays the freight difference.",
            zh="发货后客户调整地址产生的运费差价由客户承担。",
            id="redirect",
        ),
        Rule(
            "B2C-7.10.3c",
            (T == RequestType.RETURN) & _signed,
            {"freight_payer": FreightPayer.CUSTOMER},
            en="Return after signing with no quality problem: the customer ships it back at "
            "their own cost.",
            zh="签收后非质量问题退货:客户寄回公司的运费由客户承担。",
            id="return_no_quality_problem",
        ),
        Rule(
            "TB-1.4.2",
            TRUE,
            {"freight_payer": FreightPayer.CUSTOMER},
            en="Not a quality problem and not the shop's fault: the customer pays the "
            "freight back.",
            zh="非质量问题且非本店原因:寄回运费由客户承担。",
            id="customer_side",
        ),
    ],
)

_taobao = param("refund_clock") == "taobao"
_extended = param("no_reason_extend_past_holiday")
_in_no_reason_window = (
    (_extended == True)  # noqa: E712
    & (fact("request_date") <= call("roll_to_working_day", _no_reason_deadline))
) | (
    (_extended == False)  # noqa: E712
    & (fact("request_date") <= _no_reason_deadline)
)
#: A signed-order return the consumer's no-reason right (LAW-25) would cover,
#: whatever reason is given: inside the window, not every item excluded
#: (LAW-25.2), goods intact (LAW-25.3). A customer-side return the shop
#: accepts although the goods are not intact keeps the law's clock too.
_law_covers = (
    (T == RequestType.RETURN)
    & _signed
    & ~fact("excluded_category")
    & _in_no_reason_window
    & (_no_reason | ~fact("not_intact"))
)
_refunding = fact("action").isin(_REFUNDING)
_b2c_start = call("later", fact("request_date"), fact("proof_date"))
_b2c_due = call("add_working_days", _b2c_start, param("refund_working_days"))

#: By when the refund must reach the customer (first hit).
REFUND_DUE: Final = Table(
    name="refund_due",
    title="Refund due date",
    title_zh="退款到期日",
    hit_policy=HitPolicy.FIRST,
    inputs=(*_INPUTS, "action"),
    outputs=("refund_due",),
    rules=[
        Rule(
            "B2C-7.8.1",
            ~_refunding,
            {"refund_due": None},
            en="No refund is due for this outcome ({action}).",
            zh="该处理({action})不涉及退款。",
            id="no_refund",
            silent=True,
        ),
        Rule(
            "B2C-7.8.1",
            ~fact("paid"),
            {"refund_due": None},
            en="Nothing was paid (cash on delivery not collected), so nothing is refunded.",
            zh="客户尚未付款(货到付款未收款),无需退款。",
            id="nothing_paid",
            silent=True,
        ),
        Rule(
            "TB-1.3",
            # before shipment, or for the missing items once the in-stock ones shipped
            _taobao
            & (R == Reason.STOCK_OUT)
            & ((S == OrderStatus.PAID_UNSHIPPED) | (fact("action") == Action.REFUND)),
            {
                "refund_due": call(
                    "add_working_days",
                    fact("request_date"),
                    param("stock_out_refund_working_days"),
                )
            },
            en="Stock-out refund: within {stock_out_refund_working_days} working days, "
            "by {refund_due}, to the payment account.",
            zh="缺货退款:{stock_out_refund_working_days}个工作日内(至{refund_due})退回支付账户。",
            id="taobao_stock_out",
        ),
        Rule(
            "TB-1.5.1",
            _taobao & (S == OrderStatus.PAID_UNSHIPPED),
            {
                # a refund falling on a Saturday or Sunday waits for Monday, an
                # adjusted working weekend day included (TB-1.5.1 names the days)
                "refund_due": call(
                    "roll_to_weekday_working_day",
                    call(
                        "add_working_days",
                        fact("request_date"),
                        param("unshipped_refund_working_days"),
                    ),
                )
            },
            en="Not shipped: refunded within {unshipped_refund_working_days} working day(s), "
            "by {refund_due}; weekend requests are handled on Monday.",
            zh="未发货退款:{unshipped_refund_working_days}个工作日内(至{refund_due})退回支付账户,周六日的退款周一处理。",
            id="taobao_unshipped",
        ),
        Rule(
            "LAW-25.5",
            fact("goods_received_date").is_not_none() & _law_covers,
            {
                "refund_due": call(
                    "earlier",
                    _b2c_due,
                    call("add_days", fact("goods_received_date"), param("law_refund_days")),
                )
            },
            en="A return the no-reason right covers (inside the {no_reason_return_days}-day "
            "window, goods intact), whatever reason is given: due by the earlier of "
            "{refund_working_days} working days after the request and proof and "
            "{law_refund_days} days after the goods came back ({goods_received_date}): "
            "{refund_due}.",
            zh="在{no_reason_return_days}天无理由退货期内且商品完好的退货(无论退货原因):按提交申请及凭据后"
            "{refund_working_days}个工作日与收到退货({goods_received_date})后{law_refund_days}日中较早者退款,"
            "即{refund_due}前。",
            id="law_refund_clock",
        ),
        Rule(
            "B2C-7.8.2",
            TRUE,
            {"refund_due": _b2c_due},
            en="Refund within {refund_working_days} working days after the request and the "
            "payment proof are both in: by {refund_due}.",
            zh="在收到退款申请及付款凭据后{refund_working_days}个工作日内退款,即{refund_due}前。",
            id="b2c_refund_clock",
        ),
    ],
)

#: What else the agent must do (collect: every matching rule fires).
RETURN_DUTIES: Final = Table(
    name="return_duties",
    title="What the agent must also do",
    title_zh="客服还须做的事",
    hit_policy=HitPolicy.COLLECT,
    inputs=(*_INPUTS, "action", "freight_payer", "refund_due"),
    outputs=("duty",),
    rules=[
        Rule(
            "B2C-7.6.2",
            (fact("action") == Action.CANCEL) & (param("agent_closes_unpaid_orders") == True),  # noqa: E712
            {"duty": "notify_before_cancel"},
            en="Tell the customer by phone or e-mail before cancelling.",
            zh="取消订单前通过电话或邮件告知客户。",
            id="notify_before_cancel",
        ),
        Rule(
            "B2C-7.4.4",
            fact("action").isin({Action.CANCEL_PAID, Action.INTERCEPT}),
            {"duty": "offer_same_price_exchange"},
            en="Before cancelling, offer an exchange for an item of the same price.",
            zh="退单前先询问客户是否愿意调换同价商品。",
            id="offer_exchange",
        ),
        Rule(
            "TB-1.3",
            (R == Reason.STOCK_OUT) & (fact("action") != Action.REJECTED),
            {"duty": "offer_stock_out_choices"},
            en="Stock-out: the customer chooses exchange, refund or wait; with several "
            "items, in-stock items may ship first.",
            zh="缺货:由客户选择换货、退款或等待;多件商品时有货商品可先发。",
            id="stock_out_choices",
        ),
        Rule(
            "B2C-7.8.2",
            fact("refund_due").is_not_none(),
            {"duty": "tell_refund_period"},
            en="Tell the customer the refund period up front.",
            zh="提前告知客户退款周期。",
            id="tell_refund_period",
        ),
        Rule(
            "B2C-7.8.1",
            fact("refund_due").is_not_none(),
            {"duty": "refund_to_balance_or_original_method"},
            en="Refund to the account balance or the original payment method, never as cash.",
            zh="退款退至客户账户虚拟资金或原支付账户,不退现金。",
            id="refund_channel",
        ),
        Rule(
            "B2C-7.8.5",
            fact("refund_due").is_not_none(),
            {"duty": "prepare_refund_documents"},
            en="Prepare the order proof, the delivery note and the return/refund application "
            "before going to Finance.",
            zh="提交财务前备齐客户下单证明、发货单、退货/退款申请单。",
            id="refund_documents",
        ),
        Rule(
            "JD-1.4",
            fact("refund_due").is_not_none(),
            {"duty": "refund_table_to_finance"},
            en="Put the refund in the day's refund table for Finance, due before "
            "{finance_table_due}.",
            zh="将该退款列入当日退款表,于{finance_table_due}前交财务。",
            id="refund_table",
        ),
        Rule(
            "LAW-25.4",
            (T == RequestType.RETURN) & _signed & _no_reason & fact("action").isin(_REFUNDING),
            {"duty": "return_gifts"},
            en="Gifts that came with the order come back too, or are paid for.",
            zh="随单赠品须一并退回或折价。",
            id="return_gifts",
        ),
        Rule(
            "LAW-25.3",
            (T == RequestType.RETURN)
            & _signed
            & _no_reason
            & fact("not_intact")
            & (fact("action") == Action.ABNORMAL_RETURN),
            {"duty": "not_intact_goods_accepted_for_approval"},
            en="The goods are not intact, so the law would let the shop refuse a no-reason "
            "return; this shop accepts it as an abnormal return for approval instead.",
            zh="商品不完好,依法可拒绝无理由退货;本店按非正常退货提交审批受理。",
            id="not_intact_accepted",
        ),
        Rule(
            "B2C-7.10.2",
            (fact("freight_payer") == FreightPayer.CUSTOMER)
            & (T == RequestType.EXCHANGE)
            & (fact("free_shipping_promotion") == False),  # noqa: E712
            {"duty": "charge_shipping_fee"},
            en="The replacement ships at the customer's cost: the shipping fee is "
            "{shipping_fee} yuan per order outside a free-shipping promotion.",
            zh="换货寄出的运费由客户承担:非包邮活动期间每单快递费{shipping_fee}元。",
            id="exchange_shipping_fee",
        ),
        Rule(
            "TB-1.2.4",
            (param("refund_clock") == "taobao")
            & (S == OrderStatus.PAID_UNSHIPPED)
            & fact("refund_due").is_not_none(),
            {"duty": "quote_one_to_two_working_days"},
            en="Tell the customer the refund takes 1 to {preshipment_refund_quote_working_days} "
            "working days.",
            zh="告知客户退款将在1到{preshipment_refund_quote_working_days}个工作日内完成。",
            id="quote_preshipment_refund",
        ),
        Rule(
            "LAW-25.2",
            (T == RequestType.RETURN)
            & _signed
            & _no_reason
            & fact("some_lines_excluded")
            & fact("action").isin(_REFUNDING),
            {"duty": "excluded_items_stay"},
            en="Only the items the law does not exclude come back without a reason; "
            "custom-made, fresh, downloaded digital or delivered periodical items stay.",
            zh="仅非法定排除的商品可无理由退货;定制、生鲜、已下载数字商品、已交付报刊等商品不退。",
            id="excluded_items_stay",
        ),
        Rule(
            "NEW-7",
            (fact("payment_method") == PaymentMethod.COD)
            & fact("action").isin((Action.EXCHANGE, Action.REDIRECT)),
            {"duty": "confirm_cod_by_phone"},
            en="Cash-on-delivery order: confirm by phone before shipping again.",
            zh="货到付款订单:发货前须电话确认。",
            id="cod_confirm",
        ),
    ],
)

#: The tables of the rule set, in evaluation order.
RETURN_TABLES: Final = (RETURN_ACTION, FREIGHT_PAYER, REFUND_DUE, RETURN_DUTIES)


def _in(
    name: str, source: str, type_: Any, en: str, zh: str, default: object = None,
    *, nullable: bool = False,
) -> FactSpec:  # fmt: skip
    return FactSpec(name, type_, source=source, default=default, en=en, zh=zh, nullable=nullable)


def _derived(name: str, type_: Any, derive: Expr, en: str, zh: str) -> FactSpec:
    return FactSpec(name, type_, derive=derive, en=en, zh=zh)


_cond = fact("condition_given")
_tag = fact("tag_intact")

#: The facts of a return case: read from the order and the request, or
#: derived from those.
RETURN_FACTS: Final = (
    # ---- read from the case
    _in("request_type", "request.type", RequestType, "what the customer asks for", "请求类型"),
    _in("reason", "request.reason", Reason, "the reason given", "原因"),
    _in("status", "order.status", OrderStatus, "the order's status", "订单状态"),
    _in("payment_method", "order.payment_method", PaymentMethod,
        "how the order is paid", "支付方式"),
    _in("paid_at", "order.paid_at", dt.datetime, "when the order was paid", "付款时间",
        nullable=True),
    _in("in_warehouse_system", "order.in_warehouse_system", bool,
        "the order is in the warehouse system", "已录入仓储系统"),
    _in("courier_confirmed", "request.courier_confirmed", bool,
        "the courier confirmed the damage", "快递已确认"),
    _in("free_shipping_promotion", "order.free_shipping_promotion", bool,
        "bought in a free-shipping promotion", "包邮活动订单"),
    _in("condition", "request.condition", object, "the state of the goods", "货品状况",
        nullable=True),
    _in("tag_intact", "request.condition.tag_intact", bool, "tag intact", "吊牌完好", False),
    _in("packaging_intact", "request.condition.packaging_intact", bool,
        "packaging intact", "包装完好", False),
    _in("unwashed", "request.condition.unwashed", bool, "unwashed", "无洗涤痕迹", False),
    _in("undamaged", "request.condition.undamaged", bool, "undamaged", "无人为破损", False),
    _in("delivery_note_complete", "request.condition.delivery_note_complete", bool,
        "delivery note complete", "发货单齐全", False),
    _in("order_number_given", "request.condition.order_number_given", bool,
        "order number given", "提供订单号", False),
    _in("delivery_note_number_given", "request.condition.delivery_note_number_given", bool,
        "delivery-note number given", "提供发货单号", False),
    _in("categories", "order.lines[].category", tuple, "the category of each line", "商品类别"),
    _in("signed_at", "order.signed_at", dt.datetime, "when the order was signed for", "签收时间",
        nullable=True),
    _in("at", "at", dt.datetime, "when the request was made", "申请时间"),
    _in("proof_submitted_at", "request.proof_submitted_at", dt.datetime,
        "when the payment proof came in", "提交付款凭据时间", nullable=True),
    _in("goods_received_at", "request.goods_received_at", dt.datetime,
        "when the returned goods came back", "收到退货时间", nullable=True),
    # ---- derived
    # a cash-on-delivery order is paid at the door: signed means paid
    _derived(
        "paid", bool,
        fact("paid_at").is_not_none()
        | (S == OrderStatus.SIGNED)
        | (S.isin(_PAID_STATES) & (fact("payment_method") != PaymentMethod.COD)),
        "money has been paid on the order", "订单已付款",
    ),
    _derived("merchant_fault", bool, R.isin(MERCHANT_FAULT_REASONS),
             "the reason is the shop's or the courier's fault", "商家或快递责任"),
    _derived("condition_given", bool, fact("condition").is_not_none(),
             "the request describes the goods", "已说明货品状况"),
    _derived(
        "goods_normal", bool,
        _cond & _tag & fact("unwashed") & fact("undamaged") & fact("delivery_note_complete")
        & fact("order_number_given") & fact("delivery_note_number_given"),
        "every normal-return condition holds", "满足正常退货条件",
    ),
    _derived("tag_or_packaging_missing", bool, _cond & ~(_tag & fact("packaging_intact")),
             "tag or packaging missing", "吊牌或包装缺失"),
    _derived("tag_missing", bool, _cond & ~_tag, "tag missing", "吊牌缺失"),
    # LAW-25.3: removed tag, soiled (washed) or damaged goods are not intact
    _derived("not_intact", bool, _cond & ~(_tag & fact("unwashed") & fact("undamaged")),
             "the goods are not intact", "商品不完好"),
    _derived("excluded_category", bool,
             call("all_in", fact("categories"), EXCLUDED_CATEGORIES),
             "every line is of a kind the law excludes", "全部商品属法定排除类别"),
    _derived(
        "some_lines_excluded", bool,
        call("any_in", fact("categories"), EXCLUDED_CATEGORIES) & ~fact("excluded_category"),
        "some lines, not all, are of a kind the law excludes", "部分商品属法定排除类别",
    ),
    _derived("signed_date", dt.date, call("local_date", fact("signed_at")),
             "the date the order was signed for", "签收日期"),
    _derived("request_date", dt.date, call("local_date", fact("at")),
             "the date of the request", "申请日期"),
    _derived("proof_date", dt.date, call("local_date", fact("proof_submitted_at")),
             "the date the payment proof came in", "提交凭据日期"),
    _derived("goods_received_date", dt.date, call("local_date", fact("goods_received_at")),
             "the date the returned goods came back", "收到退货日期"),
)  # fmt: skip


def _check_return(order: Order, request: ReturnRequest, at: dt.datetime) -> None:
    """What a return case must satisfy beyond its facts (times in order, a
    condition when goods come back)."""
    placed, paid, shipped, signed = (
        order.placed_at,
        order.paid_at,
        order.shipped_at,
        order.signed_at,
    )
    if (
        (placed is not None and at < placed)
        or (paid is not None and at < paid)
        or (shipped is not None and at < shipped)
        or (signed is not None and at < signed)
    ):
        check_not_before(
            "at",
            at,
            (
                ("order.placed_at", placed),
                ("order.paid_at", paid),
                ("order.shipped_at", shipped),
                ("order.signed_at", signed),
            ),
        )
    # proof and returned goods follow the request, so they may come after
    # ``at``; but goods cannot come back before they left, nor proof of a
    # payment precede the order
    if request.goods_received_at is not None:
        check_not_before(
            "request.goods_received_at",
            request.goods_received_at,
            (("order.shipped_at", order.shipped_at), ("order.placed_at", order.placed_at)),
        )
    if request.proof_submitted_at is not None:
        check_not_before(
            "request.proof_submitted_at",
            request.proof_submitted_at,
            (("order.placed_at", order.placed_at),),
        )
    status = order.status
    if request.condition is None and _needs_condition(request, status):
        raise DomainValueError(
            "request.condition",
            None,
            "a Condition when goods come back after shipment "
            f"(request type {request.type.value!r}, order status {status.value!r})",
        )


def _needs_condition(request: ReturnRequest, status: OrderStatus) -> bool:
    if status is not OrderStatus.SIGNED:
        return False
    return request.type in (RequestType.RETURN, RequestType.EXCHANGE)


def _return_decision(
    case_id: str,
    results: Mapping[str, TableResult],
    facts: Mapping[str, Any],
    resolved: ParameterSet,
    params: Mapping[str, Any],
    policy: Policy,
) -> ReturnDecision:
    # a table result is a tuple whose first item is its outputs
    outputs = results["return_action"][0]
    return _new_return_decision(
        case_id,
        outputs["action"],
        outputs["eligible"],
        outputs["approvals"],
        results["freight_payer"][0]["freight_payer"],
        results["refund_due"][0]["refund_due"],
        results["return_duties"][0]["duty"],
        make_trace(tuple(results.values()), resolved, policy),
    )


_new_return_decision: Final = positional_constructor(ReturnDecision)


#: The return kind of the bundled rule sets: facts, tables, decision.
RETURN_KIND: Final = KindSpec(
    name="return",
    facts=RETURN_FACTS,
    tables=RETURN_TABLES,
    decision=_return_decision,
    date_fact="request_date",
    roots=("order", "request", "at"),
    check=_check_return,
    invariants=((("action", Action.REJECTED), ("eligible", False)),),
)


def return_facts(order: Order, request: ReturnRequest, at: dt.datetime) -> dict[str, Any]:
    """The fact record of a return case (every fact :data:`RETURN_FACTS` declares).

    Args:
        order: the order concerned.
        request: what the customer asks for.
        at: when the request was made (time-zone aware).

    Raises:
        DomainValueError: goods come back after shipment but the request has
            no ``condition`` (the contract requires it then); ``at``
            precedes a time recorded on the order (placed, paid, shipped,
            signed); the goods came back before they shipped, or the proof
            precedes the order.
    """
    _check_return(order, request, at)
    facts: dict[str, Any] = RETURN_KIND.compiled().build(order, request, at, {}, default_policy())[
        0
    ]
    return facts


def decide_return(
    order: Order,
    request: ReturnRequest,
    *,
    at: dt.datetime,
    policy: Policy | None = None,
    case_id: str = "",
    tables: tuple[Table, Table, Table, Table] | None = None,
    ruleset: RuleSet | str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> ReturnDecision:
    """Decide a return, exchange, cancellation, refund-only or redirect request.

    Args:
        order: the order concerned.
        request: what the customer asks for.
        at: when the request was made (aware; its Asia/Shanghai date picks
            the parameter values in force).
        policy: the shop's policy; the rule set's (the bundled B2C policy)
            by default.
        case_id: echoed in the decision.
        tables: the action, freight, refund and duties tables to use, to
            swap in a shop's own rules (a rule set built with
            :meth:`~csrules.RuleSet.replacing_rule` is the better way).
        ruleset: the rule set (a :class:`~csrules.RuleSet` or a name for
            :func:`csrules.ruleset`); the bundled ``b2c`` by default.
        facts: values of extra facts the rule set declares
            (:meth:`~csrules.RuleSet.with_fact`).

    Raises:
        ArgumentTypeError: an argument is not of the type above.
        DomainValueError: ``at`` is naive or precedes a time recorded on the
            order (placed, paid, shipped, signed); the goods came back before
            they shipped, or the proof precedes the order; the request lacks a
            condition it needs.
        PolicyError: a parameter the rules need has no value on the
            request's date.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 ``ruleset=`` and ``facts=``.
    """
    if type(order) is not Order:
        check_instance("order", order, Order, "an Order")
    if type(request) is not ReturnRequest:
        check_instance("request", request, ReturnRequest, "a ReturnRequest")
    if type(at) is not DateTime or type(at.tzinfo) not in _ALWAYS_AWARE:
        check_time("at", at)
    if type(case_id) is not str:
        check_instance("case_id", case_id, str, "a str")
    if facts is None:
        facts = _NO_FACTS
    elif type(facts) is not dict and not isinstance(facts, Mapping):
        raise ArgumentTypeError("facts", facts, "a mapping of extra fact values")
    if ruleset is None and tables is None and (policy is None or type(policy) is Policy):
        # the common call: the module's own kind
        compiled = RETURN_KIND.compiled()
        if policy is None:
            policy = default_policy()
    else:
        kind, policy = kind_and_policy("return", RETURN_KIND, policy, ruleset, tables, 4)
        compiled = kind.compiled()
    return compiled.decide((order, request, at), facts, policy, case_id)  # type: ignore[return-value]



#: No extra facts (read only: the compiled build only gets from it).
_NO_FACTS: Final[Mapping[str, Any]] = MappingProxyType({})


mark_bundled(globals(), __name__)
