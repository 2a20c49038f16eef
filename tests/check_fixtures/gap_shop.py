"""A shop that dropped the routing row for service complaints: nothing routes them."""

import csrules

RULES = csrules.ruleset("b2c").without_rule("customer_service_service")
