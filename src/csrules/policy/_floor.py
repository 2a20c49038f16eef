"""The legal floor: LAW-25 (PRC Consumer Rights Protection Law art. 25).

A shop's policy may be more generous than the law, never stricter. The
bounds below are the policy parameters through which a decision could fall
below the law; :func:`check_legal_floor` reports every dated value outside
them. A :class:`~csrules.policy.Policy` runs it when it is built (unless its
``legal_floor`` is switched off) and refuses a policy with a finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import attrs

from csrules._domain import EXCLUDED_CATEGORIES

if TYPE_CHECKING:
    from csrules.policy._policy import Parameter, Policy

__all__ = [
    "LAW_EXCLUDED_CATEGORIES",
    "LEGAL_FLOOR",
    "Finding",
    "FloorBound",
    "check_legal_floor",
]

LAW_EXCLUDED_CATEGORIES: Final = frozenset(
    {"custom_made", "fresh", "digital_download", "periodical", "non_returnable_confirmed"}
)
"""The categories LAW-25.2 excludes from no-reason returns, and no others:
made to order, fresh and perishable, downloaded or unsealed digital goods,
delivered newspapers and periodicals, and goods the customer confirmed at
purchase as non-returnable by nature. A shop may not add to this list."""


@attrs.frozen
class FloorBound:
    """The law's bound on one integer policy parameter.

    Attributes:
        parameter: the parameter's name.
        clause: the LAW-25 clause that sets the bound.
        minimum: the least value the law allows, or ``None``.
        maximum: the greatest value the law allows, or ``None``.
        unit: the unit of the bound (``"calendar days"``).
        meaning: what the bound means, in words.
    """

    parameter: str
    clause: str
    minimum: int | None
    maximum: int | None
    unit: str
    meaning: str

    @property
    def bound(self) -> str:
        """The bound in words: ``"at least 7 calendar days"``."""
        if self.minimum is not None and self.maximum is not None:
            return f"from {self.minimum} to {self.maximum} {self.unit}"
        if self.minimum is not None:
            return f"at least {self.minimum} {self.unit}"
        return f"at most {self.maximum} {self.unit}"

    def allows(self, value: object) -> bool:
        """Whether ``value`` is a whole number within the bound."""
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return self.maximum is None or value <= self.maximum


LEGAL_FLOOR: Final = (
    FloorBound(
        "no_reason_return_days",
        "LAW-25.1",
        minimum=7,
        maximum=None,
        unit="calendar days",
        meaning="goods bought online may be returned without a reason within 7 days of signing",
    ),
    FloorBound(
        "law_refund_days",
        "LAW-25.5",
        minimum=None,
        maximum=7,
        unit="calendar days",
        meaning="a no-reason return is refunded within 7 days of receiving the goods",
    ),
)
"""The bounds LAW-25 sets on the bundled parameters. The other parameters
citing LAW-25 have no bound: either value of ``no_reason_extend_past_holiday``
(LAW-25.1, the courts' reading or plain calendar days) and of
``refuse_not_intact_no_reason`` (LAW-25.3, the law allows refusing goods
that are not intact) is lawful, and ``refund_working_days`` (B2C-7.8.2)
cannot delay a refund the law covers, which is due by the earlier of its
clock and ``law_refund_days`` (LAW-25.5)."""


@attrs.frozen
class Finding:
    """One way a policy falls below the legal floor.

    Attributes:
        clause: the LAW-25 clause broken (``"LAW-25.1"``).
        key: the policy key at fault (``"parameters.no_reason_return_days"``).
        value: the offending value.
        since: the first day the value is in force, or ``None`` when the
            finding is not about a dated value.
        until: the last day it is in force, or ``None`` when it stays in
            force (or is not dated).
        bound: the law's bound in words (``"at least 7 calendar days"``).
        meaning: what the law requires, in words.
    """

    clause: str
    key: str
    value: Any
    since: dt.date | None
    until: dt.date | None
    bound: str
    meaning: str

    @property
    def in_force(self) -> str:
        """The dates the value is in force, in words (empty when not dated)."""
        if self.since is None:
            return ""
        if self.until is None:
            return f"from {self.since.isoformat()} on"
        return f"from {self.since.isoformat()} to {self.until.isoformat()}"

    def message(self, *, key: bool = True) -> str:
        """The finding for a person: clause, key (unless ``key`` is false), value,
        dates, the law's bound."""
        dates = f" {self.in_force}" if self.since is not None else ""
        what = f"{self.key} = {self.value!r}" if key else repr(self.value)
        return (
            f"{self.clause}: {what}{dates} is below the legal floor: "
            f"the law requires {self.bound} ({self.meaning})"
        )


def _ranges(parameter: Parameter) -> Iterable[tuple[dt.date, dt.date | None, Any]]:
    """Each value of ``parameter`` with the first and last day it is in force."""
    values = parameter.values
    for index, (since, value) in enumerate(values):
        until = values[index + 1][0] - dt.timedelta(days=1) if index + 1 < len(values) else None
        yield since, until, value


def check_legal_floor(
    policy: Policy, *, excluded_categories: frozenset[str] = EXCLUDED_CATEGORIES
) -> tuple[Finding, ...]:
    """Every way ``policy`` falls below the LAW-25 floor; empty when it does not.

    Every dated value of each parameter in :data:`LEGAL_FLOOR` is checked,
    whatever its date, together with the categories the rules exclude from
    no-reason returns (``excluded_categories``, the library's
    :data:`~csrules.EXCLUDED_CATEGORIES` unless a rule set brings its own):
    any beyond :data:`LAW_EXCLUDED_CATEGORIES` breaks LAW-25.2. A parameter
    the policy lacks gives no finding (a rule that reads it fails instead of
    deciding). The check does not look at ``policy.legal_floor``: a caller
    decides whether findings refuse the policy.
    """
    findings: list[Finding] = []
    for bound in LEGAL_FLOOR:
        parameter = policy.parameters.get(bound.parameter)
        if parameter is None:
            continue
        for since, until, value in _ranges(parameter):
            if not bound.allows(value):
                findings.append(
                    Finding(
                        clause=bound.clause,
                        key=f"parameters.{bound.parameter}",
                        value=value,
                        since=since,
                        until=until,
                        bound=bound.bound,
                        meaning=bound.meaning,
                    )
                )
    extra = sorted(excluded_categories - LAW_EXCLUDED_CATEGORIES)
    if extra:
        findings.append(
            Finding(
                clause="LAW-25.2",
                key="excluded_categories",
                value=extra,  # the categories beyond the law's list
                since=None,
                until=None,
                bound=f"no category excluded beyond {sorted(LAW_EXCLUDED_CATEGORIES)}",
                meaning="a shop may not exclude more goods from no-reason returns",
            )
        )
    return tuple(findings)
