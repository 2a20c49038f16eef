"""Policies: effective-dated parameters loaded from TOML (see ``docs/policy.md``)."""

from csrules.policy._floor import (
    LAW_EXCLUDED_CATEGORIES,
    LEGAL_FLOOR,
    Finding,
    FloorBound,
    check_legal_floor,
)
from csrules.policy._policy import (
    MAX_POLICY_BYTES,
    PARAMETER_TYPES,
    Parameter,
    ParameterSet,
    Policy,
    default_policy,
    load_policy,
)

__all__ = [
    "LAW_EXCLUDED_CATEGORIES",
    "LEGAL_FLOOR",
    "MAX_POLICY_BYTES",
    "PARAMETER_TYPES",
    "Finding",
    "FloorBound",
    "Parameter",
    "ParameterSet",
    "Policy",
    "check_legal_floor",
    "default_policy",
    "load_policy",
]
