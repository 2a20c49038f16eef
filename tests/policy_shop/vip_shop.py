"""A shop rule set for the policy tests: VIP customers' returns travel free."""

import csrules
from csrules import Action, FreightPayer
from csrules.rules import Rule, fact

RULES = (
    csrules.ruleset("b2c")
    .with_name("vip-shop")
    .with_fact("vip", bool, default=False, en="a VIP customer", zh="VIP客户")
    .with_rule(
        "freight_payer",
        Rule(
            "SHOP-1",
            fact("vip") & fact("action").isin({Action.NORMAL_RETURN, Action.ABNORMAL_RETURN}),
            {"freight_payer": FreightPayer.MERCHANT},
            en="VIP customer: the shop pays the return freight.",
            zh="VIP客户:退货运费由本店承担。",
            id="vip_free_returns",
        ),
        after="no_parcel",
    )
)
