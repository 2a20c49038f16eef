"""A shop that declares a fact no rule reads."""

import csrules

RULES = csrules.ruleset("b2c").with_fact("vip", bool, default=False)
