"""A shop routing website bugs to customer service too: two rows of a unique table."""

import csrules
from csrules._domain import Department, Topic
from csrules.rules import Rule, fact

RULES = csrules.ruleset("b2c").with_rule(
    "complaint_route",
    Rule(
        "SHOP-3",
        fact("topic") == Topic.WEBSITE_BUG,
        {"route_to": Department.CUSTOMER_SERVICE, "answer_due": None},
        en="Website bugs go to customer service.",
        zh="网站故障由客服处理。",
        id="bugs_to_service",
    ),
)
