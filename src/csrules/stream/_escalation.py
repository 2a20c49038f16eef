"""Escalations raised by the escalation monitor (B2C-8.7.1 and B2C-8.7.5)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from typing import TYPE_CHECKING, Final, Literal

import attrs
import pendulum

from csrules._decision import Escalation

if TYPE_CHECKING:
    from csrules.rules._stream_rules import StreamRule

__all__ = [
    "QUALITY_REPORTS_CLAUSE",
    "REPEAT_COMPLAINT_CLAUSE",
    "StreamEscalation",
    "StreamReason",
]

#: The same customer complains twice about the same department or staff member.
REPEAT_COMPLAINT_CLAUSE: Final = "B2C-8.7.1"
#: More than N different customers report a quality problem with one product.
QUALITY_REPORTS_CLAUSE: Final = "B2C-8.7.5"

_SHOWN_IDS: Final = 5
_ONE_US: Final = dt.timedelta(microseconds=1)


class StreamReason(enum.StrEnum):
    """Why a stream escalation was raised: the bundled stream rules' ids.

    ``same_department`` and ``same_staff`` cite B2C-8.7.1, ``quality_reports``
    cites B2C-8.7.5. Members compare equal to their string values. An
    escalation of a shop's own stream rule has that rule's id, a plain string.
    """

    SAME_DEPARTMENT = "same_department"
    SAME_STAFF = "same_staff"
    QUALITY_REPORTS = "quality_reports"


def _reason(value: object) -> StreamReason | str:
    """A bundled rule's id as its :class:`StreamReason`, another rule's id as it is."""
    if isinstance(value, StreamReason):
        return value
    if not isinstance(value, str):
        msg = f"reason must be a string, got {value!r}"
        raise TypeError(msg)
    try:
        return StreamReason(value)
    except ValueError:
        return value


def _rule_of(reason: str) -> StreamRule | None:
    from csrules.rules.complaints import STREAM_RULES

    return next((rule for rule in STREAM_RULES if rule.id == reason), None)


def _ids(related: tuple[str, ...], total: int, lang: Literal["en", "zh"]) -> str:
    shown = ", ".join(related[:_SHOWN_IDS]) if lang == "en" else "、".join(related[:_SHOWN_IDS])
    total = max(total, len(related))
    more = total - min(len(related), _SHOWN_IDS)
    if more <= 0:
        return shown
    return f"{shown} and {more} more" if lang == "en" else f"{shown} 等 {total} 件"


def escalation_id(
    clause: str, reason: str, customer_id: str, subject: str, complaint_id: str, at_us: int
) -> str:
    """The stable id of an escalation (see :attr:`StreamEscalation.id`).

    The first 20 hex digits of the SHA-256 of the clause, the reason, the
    customer, the subject, the triggering complaint's id and its time in
    integer microseconds since the epoch (UTC), joined by ``"\\x1f"``.
    """
    text = "\x1f".join((clause, reason, customer_id, subject, complaint_id, str(at_us)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def _at_us(at: pendulum.DateTime) -> int:
    offset = at.utcoffset()
    seconds = (at.toordinal() - 719_163) * 86_400 + at.hour * 3600 + at.minute * 60 + at.second
    shift = 0 if offset is None else offset // _ONE_US
    return seconds * 1_000_000 + at.microsecond - shift


def _default_id(self: StreamEscalation) -> str:
    return escalation_id(
        self.clause,
        str(self.reason),
        self.customer_id,
        self.subject,
        self.complaint_id,
        _at_us(self.at),
    )


def _default_total(self: StreamEscalation) -> int:
    return len(self.related)


@attrs.frozen
class StreamEscalation:
    """An escalation that depends on earlier complaints, not only on this one.

    B2C-8.7: these go at once to the general manager.

    Attributes:
        clause: ``"B2C-8.7.1"`` or ``"B2C-8.7.5"``.
        complaint_id: the complaint that triggered it.
        customer_id: that complaint's customer.
        reason: ``same_department``, ``same_staff`` (B2C-8.7.1) or
            ``quality_reports`` (B2C-8.7.5).
        subject: the department (its value, e.g. ``"operations"``), the staff
            id or the product's SKU the complaints share.
        related: ids of the earlier complaints that made it, in the order
            they were observed: the customer's earlier complaints about the
            same subject, or the other customers' quality reports on the
            product, within the window. At most the monitor's
            ``related_limit`` (100 by default) are named: when there are
            more, the latest received (ties: the latest observed).
        at: when the triggering complaint was received.
        escalate_to: whom it goes to (the general manager).
        count: for B2C-8.7.1 the customer's complaints about the subject in
            the window, this one included; for B2C-8.7.5 the different
            customers who reported the product in the window, this one included.
        window_days: the window (days) in force on the complaint's date.
        related_total: how many earlier complaints made it; more than
            ``len(related)`` when ``related`` was cut to the limit.
        id: a stable id: the same complaint observed at the same point of
            a stream gives the same id, in any run and with either backend
            (see :func:`escalation_id`), so a consumer can drop an
            escalation it has already seen (after a resumed run, say).
        rule: the stream rule that raised it (its texts explain it); not
            compared. ``None``: the bundled rule of the ``reason``.

    .. versionadded:: 0.1.0
    """

    clause: str
    complaint_id: str
    customer_id: str
    reason: StreamReason | str = attrs.field(converter=_reason)
    subject: str
    related: tuple[str, ...]
    at: pendulum.DateTime
    escalate_to: Escalation = Escalation.GENERAL_MANAGER
    count: int = 0
    window_days: int = 0
    related_total: int = attrs.field(default=attrs.Factory(_default_total, takes_self=True))
    id: str = attrs.field(default=attrs.Factory(_default_id, takes_self=True))
    rule: StreamRule | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def related_truncated(self) -> bool:
        """Whether ``related`` names fewer complaints than made the escalation."""
        return self.related_total > len(self.related)

    def explanation(self, lang: Literal["en", "zh"] = "en") -> str:
        """One line saying why, in English (``"en"``) or Chinese (``"zh"``)."""
        ids = _ids(self.related, self.related_total, lang)
        rule = self.rule if self.rule is not None else _rule_of(str(self.reason))
        if rule is None:
            return f"{self.clause}: {self.reason} {self.subject} ({self.count}; {ids})"
        return rule.explanation(
            lang,
            customer_id=self.customer_id,
            subject=self.subject,
            count=self.count,
            days=self.window_days,
            earlier=ids,
        )

    def to_json(self) -> dict[str, object]:
        """The escalation as plain JSON data (``at`` as ISO-8601 with its offset).

        Besides the attributes it has ``related_truncated``.
        """
        return {
            "id": self.id,
            "clause": self.clause,
            "complaint_id": self.complaint_id,
            "customer_id": self.customer_id,
            "reason": str(self.reason),
            "subject": self.subject,
            "related": list(self.related),
            "at": self.at.isoformat(),
            "escalate_to": self.escalate_to.value,
            "count": self.count,
            "window_days": self.window_days,
            "related_total": self.related_total,
            "related_truncated": self.related_truncated,
        }
