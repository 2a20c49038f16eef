"""A shop whose new freight row comes after a row that already takes all its inputs."""

import csrules
from csrules import FreightPayer
from csrules._domain import Reason
from csrules.rules import Rule, fact

RULES = csrules.ruleset("b2c").with_rule(
    "freight_payer",
    Rule(
        "SHOP-1",
        (fact("reason") == Reason.WRONG_ITEM) & fact("courier_confirmed"),
        {"freight_payer": FreightPayer.CUSTOMER},
        en="Wrong item the courier confirmed: the customer pays.",
        zh="快递确认的错发:顾客承担运费。",
        id="late_wrong_item",
    ),
    after="wrong_item",
)
