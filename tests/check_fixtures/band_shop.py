"""A shop whose second reminder band ends before the first."""

import datetime as dt

import csrules

RULES = csrules.ruleset("b2c").with_parameters(on=dt.date(2010, 4, 1), remind_band2_max_days=5)
