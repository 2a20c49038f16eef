"""A shop rule for signed orders that are unpaid: a signed order is always paid."""

import csrules
from csrules import Action
from csrules._domain import OrderStatus, RequestType
from csrules.rules import Rule, fact

RULES = csrules.ruleset("b2c").with_rule(
    "return_action",
    Rule(
        "SHOP-2",
        (fact("request_type") == RequestType.REFUND)
        & (fact("status") == OrderStatus.SIGNED)
        & ~fact("paid"),
        {"action": Action.REJECTED, "eligible": False},
        en="A signed order that is unpaid gets no refund.",
        zh="已签收未付款的订单不退款。",
        id="signed_unpaid",
    ),
    before="refund_nothing_paid",
)
