"""Escalations raised by the escalation monitor (B2C-8.7.1 and B2C-8.7.5)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, Literal

import attrs
import pendulum

from csrules._decision import Escalation

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


class StreamReason(enum.StrEnum):
    """Why a stream escalation was raised.

    ``same_department`` and ``same_staff`` cite B2C-8.7.1, ``quality_reports``
    cites B2C-8.7.5. Members compare equal to their string values.
    """

    SAME_DEPARTMENT = "same_department"
    SAME_STAFF = "same_staff"
    QUALITY_REPORTS = "quality_reports"


_DEPARTMENT_ZH: Final[Mapping[str, str]] = {
    "finance": "财务部",
    "operations": "运营部",
    "technology": "技术部",
    "customer_service": "客服部",
}


def _ids(related: tuple[str, ...], lang: Literal["en", "zh"]) -> str:
    shown = ", ".join(related[:_SHOWN_IDS]) if lang == "en" else "、".join(related[:_SHOWN_IDS])
    more = len(related) - _SHOWN_IDS
    if more <= 0:
        return shown
    return f"{shown} and {more} more" if lang == "en" else f"{shown} 等 {len(related)} 件"


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
            product, within the window.
        at: when the triggering complaint was received.
        escalate_to: whom it goes to (the general manager).
        count: for B2C-8.7.1 the customer's complaints about the subject in
            the window, this one included; for B2C-8.7.5 the different
            customers who reported the product in the window, this one included.
        window_days: the window (days) in force on the complaint's date.

    .. versionadded:: 0.1.0
    """

    clause: str
    complaint_id: str
    customer_id: str
    reason: StreamReason = attrs.field(converter=StreamReason)
    subject: str
    related: tuple[str, ...]
    at: pendulum.DateTime
    escalate_to: Escalation = Escalation.GENERAL_MANAGER
    count: int = 0
    window_days: int = 0

    def explanation(self, lang: Literal["en", "zh"] = "en") -> str:
        """One line saying why, in English (``"en"``) or Chinese (``"zh"``)."""
        ids = _ids(self.related, lang)
        days, count, subject = self.window_days, self.count, self.subject
        if lang == "zh":
            target = "立即上报总经理。"
            if self.reason is StreamReason.QUALITY_REPORTS:
                return (
                    f"{self.clause}：{days} 天内已有 {count} 位不同顾客反映商品 {subject} "
                    f"的质量问题（之前的反映：{ids}），{target}"
                )
            about = (
                _DEPARTMENT_ZH.get(subject, subject)
                if self.reason is StreamReason.SAME_DEPARTMENT
                else f"员工 {subject}"
            )
            return (
                f"{self.clause}：顾客 {self.customer_id} 在 {days} 天内第 {count} 次投诉"
                f"{about}（之前的投诉：{ids}），{target}"
            )
        target = "report to the general manager at once."
        if self.reason is StreamReason.QUALITY_REPORTS:
            return (
                f"{self.clause}: {count} different customers have reported a quality problem "
                f"with product {subject} within {days} days (earlier reports: {ids}); {target}"
            )
        about = (
            f"the {subject} department"
            if self.reason is StreamReason.SAME_DEPARTMENT
            else f"staff member {subject}"
        )
        return (
            f"{self.clause}: customer {self.customer_id} has complained about {about} "
            f"{count} times within {days} days (earlier: {ids}); {target}"
        )

    def to_json(self) -> dict[str, object]:
        """The escalation as plain JSON data (``at`` as ISO-8601 with its offset)."""
        return {
            "clause": self.clause,
            "complaint_id": self.complaint_id,
            "customer_id": self.customer_id,
            "reason": self.reason.value,
            "subject": self.subject,
            "related": list(self.related),
            "at": self.at.isoformat(),
            "escalate_to": self.escalate_to.value,
            "count": self.count,
            "window_days": self.window_days,
        }
