"""A shop whose catch-all freight row has a stray brace in its Chinese text (refused
when the rule is made, so the rule set does not load)."""

import csrules
from csrules import FreightPayer
from csrules.rules import TRUE, Rule

RULES = csrules.ruleset("b2c").replacing_rule(
    "customer_side",
    Rule(
        "TB-1.4.2",
        TRUE,
        {"freight_payer": FreightPayer.CUSTOMER},
        en="Otherwise the customer pays the freight.",
        zh="其他情况由顾客承担运费}。",
        id="customer_side",
    ),
)
