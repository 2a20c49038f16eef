"""Policies: effective-dated parameters loaded from TOML (see ``docs/policy.md``)."""

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
    "MAX_POLICY_BYTES",
    "PARAMETER_TYPES",
    "Parameter",
    "ParameterSet",
    "Policy",
    "default_policy",
    "load_policy",
]
