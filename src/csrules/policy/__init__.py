"""Policies: effective-dated parameters loaded from TOML (see ``docs/policy.md``)."""

from csrules.policy._policy import (
    PARAMETER_TYPES,
    Parameter,
    ParameterSet,
    Policy,
    default_policy,
    load_policy,
)

__all__ = [
    "PARAMETER_TYPES",
    "Parameter",
    "ParameterSet",
    "Policy",
    "default_policy",
    "load_policy",
]
