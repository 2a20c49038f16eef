"""A shop whose policy adds a parameter no rule reads."""

from pathlib import Path

import csrules

RULES = csrules.ruleset("b2c").with_parameters(Path(__file__).with_name("unused_param.toml"))
