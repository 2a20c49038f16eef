"""Cases: what one JSON line of the case contract decodes to.

Each case has an ``id`` (echoed back in the decision) and ``at``, the time the
case is decided (the request or complaint time), plus the domain objects the
rules need.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import pendulum

from csrules._domain import (
    Complaint,
    Order,
    PriceAdjustmentRequest,
    Promotion,
    ReturnRequest,
    _instance,
    _text,
    _time,
    _to_time,
)
from csrules.exceptions import DomainValueError

__all__ = ["Case", "ComplaintCase", "PriceAdjustmentCase", "PromotionCase", "ReturnCase"]


@attrs.frozen
class ReturnCase:
    """A request about an order: cancel, return (退货), exchange, refund or redirect.

    Attributes:
        id: the case id.
        at: when the request was made.
        order: the order concerned.
        request: what the customer asks for.
    """

    _field_prefix: ClassVar[str] = "case"
    kind: ClassVar[str] = "return"

    id: str = attrs.field(validator=_text)
    at: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    order: Order = attrs.field(validator=_instance(Order))
    request: ReturnRequest = attrs.field(validator=_instance(ReturnRequest))


@attrs.frozen
class ComplaintCase:
    """A complaint (投诉) to route and answer.

    ``complaint.id`` must equal ``id`` and ``complaint.received_at`` must equal ``at``.

    Attributes:
        id: the case id.
        at: when the complaint was received.
        complaint: the complaint.
    """

    _field_prefix: ClassVar[str] = "case"
    kind: ClassVar[str] = "complaint"

    id: str = attrs.field(validator=_text)
    at: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    complaint: Complaint = attrs.field(validator=_instance(Complaint))

    @complaint.validator
    def _check_complaint(self, attr: attrs.Attribute[Any], value: Complaint) -> None:
        if value.id != self.id:
            raise DomainValueError(
                "case.complaint.id", value.id, f"equal to the case id {self.id!r}"
            )
        if value.received_at != self.at:
            raise DomainValueError(
                "case.complaint.received_at", value.received_at, f"equal to the case at ({self.at})"
            )

    @classmethod
    def of(cls, complaint: Complaint) -> ComplaintCase:
        """Build the case from a complaint, taking ``id`` and ``at`` from it."""
        return cls(complaint.id, complaint.received_at, complaint)


@attrs.frozen
class PromotionCase:
    """A promotion (促销活动) to plan: reminders, size and staff training.

    Attributes:
        id: the case id.
        at: when the plan is made.
        promotion: the promotion.
    """

    _field_prefix: ClassVar[str] = "case"
    kind: ClassVar[str] = "promotion"

    id: str = attrs.field(validator=_text)
    at: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    promotion: Promotion = attrs.field(validator=_instance(Promotion))


@attrs.frozen
class PriceAdjustmentCase:
    """A customer asks for an order to be re-priced at a promotion's price (价保).

    Attributes:
        id: the case id.
        at: when the request was made.
        request: the price adjustment request.
    """

    _field_prefix: ClassVar[str] = "case"
    kind: ClassVar[str] = "price_adjustment"

    id: str = attrs.field(validator=_text)
    at: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    request: PriceAdjustmentRequest = attrs.field(validator=_instance(PriceAdjustmentRequest))


#: Any case of the contract.
Case = ReturnCase | ComplaintCase | PromotionCase | PriceAdjustmentCase
