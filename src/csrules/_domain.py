"""Domain objects: orders, return requests, complaints and promotions.

Every class is frozen and slotted, and checks its values when it is built:
a bad value raises :class:`~csrules.exceptions.DomainValueError` naming the
field (``"order.signed_at"``), the value and what the field accepts.

Conventions shared by all classes:

- Money is a :class:`decimal.Decimal`, finite and ``>= 0``. A ``str`` or
  ``int`` is converted; a ``float`` is refused (money is never a float).
- Times are time-zone aware :class:`pendulum.DateTime`. An aware stdlib
  :class:`datetime.datetime` is converted; a naive one is refused.
- Enumerated fields accept the enum member or its string value.
"""

from __future__ import annotations

import datetime as _dt
import enum
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import attrs
import pendulum

from csrules.exceptions import ArgumentTypeError, DomainValueError

__all__ = [
    "EXCLUDED_CATEGORIES",
    "Channel",
    "Complaint",
    "Condition",
    "Customer",
    "Department",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PaymentMethod",
    "PriceAdjustmentRequest",
    "Promotion",
    "Reason",
    "RequestType",
    "ReturnRequest",
    "Topic",
]


# --------------------------------------------------------------------------- enums


class OrderStatus(enum.StrEnum):
    """Where an order is in its life.

    ``confirmed_unpaid`` 已确认未付款, ``paid_unshipped`` 已付款未发货,
    ``shipped`` 已发货, ``signed`` 已签收, ``closed`` 已关闭, ``cancelled`` 已取消.
    """

    CONFIRMED_UNPAID = "confirmed_unpaid"
    PAID_UNSHIPPED = "paid_unshipped"
    SHIPPED = "shipped"
    SIGNED = "signed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class PaymentMethod(enum.StrEnum):
    """How the customer pays: 支付宝, 银行卡, 礼品卡 or 货到付款 (``cod``)."""

    ALIPAY = "alipay"
    BANK_CARD = "bank_card"
    GIFT_CARD = "gift_card"
    COD = "cod"


class RequestType(enum.StrEnum):
    """What the customer asks for after (or instead of) delivery.

    ``cancel`` 取消订单, ``return`` 退货, ``exchange`` 换货, ``refund`` 仅退款
    (no goods come back), ``redirect`` 改地址 (address change after shipment).
    """

    CANCEL = "cancel"
    RETURN = "return"
    EXCHANGE = "exchange"
    REFUND = "refund"
    REDIRECT = "redirect"


class Reason(enum.StrEnum):
    """Why the customer asks: 质量问题, 运输损坏, 发错货, 尺码不符, 不合身, 不想要了, ..."""

    QUALITY_DEFECT = "quality_defect"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"
    WRONG_ITEM = "wrong_item"
    SIZE_NOT_AS_LABELLED = "size_not_as_labelled"
    SIZE_DOES_NOT_FIT = "size_does_not_fit"
    CHANGED_MIND = "changed_mind"
    REFUSED_DELIVERY = "refused_delivery"
    WRONG_ADDRESS = "wrong_address"
    STOCK_OUT = "stock_out"
    ADDRESS_CHANGE = "address_change"


class Channel(enum.StrEnum):
    """How a complaint reached us: 电话, 在线客服 (``im``), 邮件, 留言, 到店 (``walk_in``)."""

    PHONE = "phone"
    IM = "im"
    EMAIL = "email"
    MESSAGE = "message"
    WALK_IN = "walk_in"


class Topic(enum.StrEnum):
    """What a complaint (投诉) or enquiry is about."""

    PAYMENT_VERIFICATION = "payment_verification"
    ORDER_TOTAL_QUERY = "order_total_query"
    CATALOGUE_SUGGESTION = "catalogue_suggestion"
    PRODUCT_DEFECT = "product_defect"
    SIZE_NOT_AS_LABELLED = "size_not_as_labelled"
    COLOUR_DIFFERENCE = "colour_difference"
    DAMAGED_GOODS = "damaged_goods"
    WRONG_QUANTITY = "wrong_quantity"
    TAG_MISSING = "tag_missing"
    PACKAGING_DAMAGED = "packaging_damaged"
    CANNOT_ORDER = "cannot_order"
    CANNOT_PAY_ONLINE = "cannot_pay_online"
    PASSWORD_RESET_FAILED = "password_reset_failed"
    WEBSITE_BUG = "website_bug"
    EXTRA_OR_WRONG_ITEMS = "extra_or_wrong_items"
    NOT_RECEIVED = "not_received"
    SERVICE = "service"
    REFUND_PROGRESS = "refund_progress"
    SHIPPING_STATUS = "shipping_status"


class Department(enum.StrEnum):
    """A department a complaint can be routed to or be about: 财务, 运营, 技术, 客服."""

    FINANCE = "finance"
    OPERATIONS = "operations"
    TECHNOLOGY = "technology"
    CUSTOMER_SERVICE = "customer_service"


#: Line categories that are excluded from no-reason returns (七日无理由退货).
EXCLUDED_CATEGORIES: frozenset[str] = frozenset(
    {"custom_made", "fresh", "digital_download", "periodical", "non_returnable_confirmed"}
)

# ---------------------------------------------------------------- converters
#
# Converters turn the accepted input forms into the canonical type and pass
# anything else through unchanged; the validators then reject what is left,
# naming the field.

_MONEY_EXPECTED = "a finite amount of money >= 0 (Decimal, or str/int; never float)"
_TIME_EXPECTED = "a time-zone aware datetime"


def _to_money(value: object) -> Any:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def _to_time(value: object) -> Any:
    if isinstance(value, pendulum.DateTime):
        return value
    if isinstance(value, _dt.datetime) and value.utcoffset() is not None:
        return pendulum.instance(value)
    return value


def _to_tuple(value: object) -> Any:
    if isinstance(value, list):
        return tuple(value)
    return value


def _enum_or_same(cls: type[enum.StrEnum], value: object) -> Any:
    if isinstance(value, cls) or not isinstance(value, str):
        return value
    try:
        return cls(value)
    except ValueError:
        return value


def _to_order_status(value: object) -> Any:
    return _enum_or_same(OrderStatus, value)


def _to_payment_method(value: object) -> Any:
    return _enum_or_same(PaymentMethod, value)


def _to_request_type(value: object) -> Any:
    return _enum_or_same(RequestType, value)


def _to_reason(value: object) -> Any:
    return _enum_or_same(Reason, value)


def _to_channel(value: object) -> Any:
    return _enum_or_same(Channel, value)


def _to_topic(value: object) -> Any:
    return _enum_or_same(Topic, value)


def _to_opt_department(value: object) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return value


# ---------------------------------------------------------------- validators


def _name(inst: object, attr: attrs.Attribute[Any]) -> str:
    prefix: str = getattr(type(inst), "_field_prefix", type(inst).__name__.lower())
    return f"{prefix}.{attr.name}"


def _money(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise DomainValueError(_name(inst, attr), value, _MONEY_EXPECTED)


def _opt_money(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _money(inst, attr, value)


def _time(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, pendulum.DateTime) or value.utcoffset() is None:
        raise DomainValueError(_name(inst, attr), value, _TIME_EXPECTED)


def _opt_time(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _time(inst, attr, value)


def _text(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise DomainValueError(_name(inst, attr), value, "a non-empty string")


def _opt_text(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _text(inst, attr, value)


def _flag(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise DomainValueError(_name(inst, attr), value, "a bool")


def _count(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DomainValueError(_name(inst, attr), value, "an int >= 1")


def _member(cls: type[enum.StrEnum], optional: bool = False) -> Any:
    expected = "one of " + ", ".join(repr(m.value) for m in cls)
    if optional:
        expected += ", or None"

    def check(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, cls) or (optional and value is None):
            return
        raise DomainValueError(_name(inst, attr), value, expected)

    return check


def _instance(cls: type, optional: bool = False) -> Any:
    expected = f"a {cls.__name__}" + (" or None" if optional else "")

    def check(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, cls) or (optional and value is None):
            return
        raise DomainValueError(_name(inst, attr), value, expected)

    return check


# ------------------------------------------------------- argument checks
#
# The public ``decide*`` functions check their arguments with these, so a
# wrong type is an ArgumentTypeError naming the argument and a naive time a
# DomainValueError, never an AttributeError from inside the rules.


def check_instance(
    argument: str, value: object, cls: type | tuple[type, ...], expected: str
) -> None:
    """Raise :class:`ArgumentTypeError` unless ``value`` is a ``cls``."""
    if not isinstance(value, cls):
        raise ArgumentTypeError(argument, value, expected)


#: tzinfo classes that give every time an offset (pendulum's utcoffset is slow).
_ALWAYS_AWARE: frozenset[type] = frozenset(
    {pendulum.Timezone, pendulum.FixedTimezone, _dt.timezone, zoneinfo.ZoneInfo}
)


def check_time(argument: str, value: object) -> None:
    """Check that an argument is a time-zone aware :class:`datetime.datetime`.

    Raises:
        ArgumentTypeError: ``value`` is not a datetime (a ``date`` is not).
        DomainValueError: ``value`` is naive.
    """
    if not isinstance(value, _dt.datetime):
        raise ArgumentTypeError(argument, value, "a time-zone aware datetime.datetime")
    tz = value.tzinfo
    if tz is None or (type(tz) not in _ALWAYS_AWARE and value.utcoffset() is None):
        raise DomainValueError(
            argument, value, _TIME_EXPECTED + " (a naive time is refused, not read as UTC)"
        )


def check_not_before(
    argument: str, at: _dt.datetime, events: tuple[tuple[str, _dt.datetime | None], ...]
) -> None:
    """Raise :class:`DomainValueError` if ``at`` precedes any of the named event times.

    Args:
        argument: the name of ``at`` in messages.
        at: the decision time (aware).
        events: ``(field name, time or None)`` pairs; ``None`` is skipped.
    """
    for name, event in events:
        if event is not None and at < event:
            raise DomainValueError(argument, at, f"not before {name} ({event.isoformat()})")


def check_tables(argument: str, value: object, count: int) -> None:
    """Raise :class:`ArgumentTypeError` unless ``value`` is a tuple of ``count`` tables."""
    from csrules.rules._table import Table

    if (
        not isinstance(value, tuple)
        or len(value) != count
        or not all(isinstance(t, Table) for t in value)
    ):
        raise ArgumentTypeError(argument, value, f"a tuple of {count} Table objects")


# ---------------------------------------------------------------- classes


@attrs.frozen
class OrderLine:
    """One line of an order (订单行): a SKU, its unit price and quantity.

    Attributes:
        sku: the product's stock-keeping unit (货号).
        unit_price: price paid per unit, in CNY.
        quantity: number of units, ``>= 1``.
        special_price: bought at a special price (特价商品).
        category: free-text product category; the values in
            :data:`EXCLUDED_CATEGORIES` are excluded from no-reason returns.
    """

    _field_prefix: ClassVar[str] = "order_line"

    sku: str = attrs.field(validator=_text)
    unit_price: Decimal = attrs.field(converter=_to_money, validator=_money)
    quantity: int = attrs.field(validator=_count)
    special_price: bool = attrs.field(default=False, validator=_flag)
    category: str = attrs.field(default="general", validator=_text)

    @property
    def amount(self) -> Decimal:
        """``unit_price * quantity``."""
        return self.unit_price * self.quantity


def _lines(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if (
        not isinstance(value, tuple)
        or not value
        or not all(isinstance(line, OrderLine) for line in value)
    ):
        raise DomainValueError(_name(inst, attr), value, "a non-empty sequence of OrderLine")


@attrs.frozen
class Order:
    """A customer's order (订单) and the times it moved through its life.

    Times must not go backwards: ``placed_at <= paid_at <= shipped_at <=
    signed_at`` for those that are set (a cash-on-delivery order may be paid
    after it ships). Status ``paid_unshipped`` needs ``paid_at``, ``shipped``
    needs ``shipped_at``, ``signed`` (已签收) needs ``shipped_at`` and
    ``signed_at``.

    Attributes:
        id: the order number (订单号).
        customer_id: the customer's id.
        status: where the order is (:class:`OrderStatus`).
        lines: the order lines, at least one (a list is converted to a tuple).
        placed_at: when the order was placed (下单).
        paid_at: when it was paid (付款), or ``None``.
        shipped_at: when it left the warehouse (发货), or ``None``.
        signed_at: when the customer signed for it (签收), or ``None``.
        payment_method: how it was paid (:class:`PaymentMethod`).
        in_warehouse_system: already passed to the warehouse system (已进入仓储系统).
        shipping_fee: freight charged to the customer (运费).
        free_shipping_promotion: shipped free under a promotion (包邮).
    """

    _field_prefix: ClassVar[str] = "order"

    id: str = attrs.field(validator=_text)
    customer_id: str = attrs.field(validator=_text)
    status: OrderStatus = attrs.field(converter=_to_order_status, validator=_member(OrderStatus))
    lines: tuple[OrderLine, ...] = attrs.field(converter=_to_tuple, validator=_lines)
    placed_at: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    paid_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_to_time, validator=_opt_time
    )
    shipped_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_to_time, validator=_opt_time
    )
    signed_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_to_time, validator=_opt_time
    )
    payment_method: PaymentMethod = attrs.field(
        default=PaymentMethod.ALIPAY,
        converter=_to_payment_method,
        validator=_member(PaymentMethod),
    )
    in_warehouse_system: bool = attrs.field(default=False, validator=_flag)
    shipping_fee: Decimal = attrs.field(default=Decimal(0), converter=_to_money, validator=_money)
    free_shipping_promotion: bool = attrs.field(default=False, validator=_flag)

    def __attrs_post_init__(self) -> None:
        placed, paid, shipped, signed = (
            self.placed_at,
            self.paid_at,
            self.shipped_at,
            self.signed_at,
        )
        if paid is not None and paid < placed:
            raise DomainValueError("order.paid_at", paid, f"not before placed_at ({placed})")
        if shipped is not None:
            if shipped < placed:
                raise DomainValueError(
                    "order.shipped_at", shipped, f"not before placed_at ({placed})"
                )
            if paid is not None and shipped < paid and self.payment_method is not PaymentMethod.COD:
                raise DomainValueError("order.shipped_at", shipped, f"not before paid_at ({paid})")
        if signed is not None:
            earliest = shipped if shipped is not None else placed
            name = "shipped_at" if shipped is not None else "placed_at"
            if signed < earliest:
                raise DomainValueError("order.signed_at", signed, f"not before {name} ({earliest})")
        status = self.status
        if status is OrderStatus.PAID_UNSHIPPED and paid is None:
            raise DomainValueError("order.paid_at", paid, "set when status is 'paid_unshipped'")
        if status is OrderStatus.SIGNED and signed is None:
            raise DomainValueError("order.signed_at", signed, "set when status is 'signed'")
        if status in (OrderStatus.SHIPPED, OrderStatus.SIGNED) and shipped is None:
            raise DomainValueError(
                "order.shipped_at", shipped, f"set when status is {status.value!r}"
            )

    @property
    def amount(self) -> Decimal:
        """Sum of the line amounts (goods only, without shipping)."""
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def categories(self) -> frozenset[str]:
        """The set of line categories."""
        return frozenset(line.category for line in self.lines)


@attrs.frozen
class Condition:
    """The state of goods that come back (退回商品状态).

    Attributes:
        tag_intact: the tag (吊牌) is still on.
        unwashed: not washed (未洗涤).
        undamaged: not damaged (无损坏).
        delivery_note_complete: the delivery note (发货单) is complete.
        order_number_given: the customer gave the order number.
        delivery_note_number_given: the customer gave the delivery note number.
        packaging_intact: the packaging (包装) is intact.
    """

    _field_prefix: ClassVar[str] = "condition"

    tag_intact: bool = attrs.field(validator=_flag)
    unwashed: bool = attrs.field(validator=_flag)
    undamaged: bool = attrs.field(validator=_flag)
    delivery_note_complete: bool = attrs.field(validator=_flag)
    order_number_given: bool = attrs.field(validator=_flag)
    delivery_note_number_given: bool = attrs.field(validator=_flag)
    packaging_intact: bool = attrs.field(default=True, validator=_flag)

    @property
    def normal(self) -> bool:
        """All of the first six checks pass (正常退货); ``packaging_intact`` is not counted."""
        return (
            self.tag_intact
            and self.unwashed
            and self.undamaged
            and self.delivery_note_complete
            and self.order_number_given
            and self.delivery_note_number_given
        )


@attrs.frozen
class ReturnRequest:
    """A customer's request to cancel, return (退货), exchange (换货), refund or redirect.

    Attributes:
        type: what is asked (:class:`RequestType`).
        reason: why (:class:`Reason`).
        courier_confirmed: the courier confirmed the damage or problem (快递确认).
        condition: the state of the goods that come back, or ``None`` when
            not known or no goods come back.
        proof_submitted_at: when the customer submitted proof (凭证), or ``None``.
        goods_received_at: when the merchant received the returned goods, or ``None``.
    """

    _field_prefix: ClassVar[str] = "request"

    type: RequestType = attrs.field(converter=_to_request_type, validator=_member(RequestType))
    reason: Reason = attrs.field(converter=_to_reason, validator=_member(Reason))
    courier_confirmed: bool = attrs.field(default=False, validator=_flag)
    condition: Condition | None = attrs.field(
        default=None, validator=_instance(Condition, optional=True)
    )
    proof_submitted_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_to_time, validator=_opt_time
    )
    goods_received_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_to_time, validator=_opt_time
    )


@attrs.frozen
class Customer:
    """A customer (顾客) and how much they have paid us in total.

    Attributes:
        id: the customer's id.
        paid_total: total amount paid so far (累计消费), in CNY.
        mobile: mobile number, or ``None``.
        email: e-mail address, or ``None``.
    """

    _field_prefix: ClassVar[str] = "customer"

    id: str = attrs.field(validator=_text)
    paid_total: Decimal = attrs.field(default=Decimal(0), converter=_to_money, validator=_money)
    mobile: str | None = attrs.field(default=None, validator=_opt_text)
    email: str | None = attrs.field(default=None, validator=_opt_text)


@attrs.frozen
class Complaint:
    """A complaint (投诉) or enquiry from a customer.

    Attributes:
        id: the case id.
        customer_id: the customer's id.
        received_at: when it was received (the case time).
        channel: how it reached us (:class:`Channel`).
        topic: what it is about (:class:`Topic`).
        sku: the product concerned, or ``None``.
        about_department: the department complained about, or ``None``: free
            text (``"operations"``, ``"logistics"``, ...); a :class:`Department`
            is stored as its value.
        about_staff: the staff member complained about, or ``None``.
        order_amount: the amount of the order concerned, or ``None``.
        customer_paid_total: the customer's total paid so far (累计消费).
        contact_count: how many times the customer has now contacted us
            about this problem, this contact included (``>= 1``).
        delivered_at: when the goods were delivered, or ``None``.
    """

    _field_prefix: ClassVar[str] = "complaint"

    id: str = attrs.field(validator=_text)
    customer_id: str = attrs.field(validator=_text)
    received_at: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    channel: Channel = attrs.field(converter=_to_channel, validator=_member(Channel))
    topic: Topic = attrs.field(converter=_to_topic, validator=_member(Topic))
    sku: str | None = attrs.field(default=None, validator=_opt_text)
    about_department: str | None = attrs.field(
        default=None, converter=_to_opt_department, validator=_opt_text
    )
    about_staff: str | None = attrs.field(default=None, validator=_opt_text)
    order_amount: Decimal | None = attrs.field(
        default=None, converter=_to_money, validator=_opt_money
    )
    customer_paid_total: Decimal = attrs.field(
        default=Decimal(0), converter=_to_money, validator=_money
    )
    contact_count: int = attrs.field(default=1, validator=_count)
    delivered_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_to_time, validator=_opt_time
    )


@attrs.frozen
class Promotion:
    """A promotion (促销活动): when it runs and how deep the discount is.

    Attributes:
        name: the promotion's name.
        starts_at: when it starts.
        ends_at: when it ends, after ``starts_at``.
        planned_sales: planned sales (计划销售额), in CNY.
        price_factor: the fraction of the list price the customer pays,
            ``0 < f <= 1`` (7折 is ``Decimal("0.7")``).
        coupon_value: value of the coupon handed out (优惠券), in CNY.
        exclusive: cannot be combined with other promotions (不可叠加).
        free_shipping: free shipping during the promotion (包邮).
    """

    _field_prefix: ClassVar[str] = "promotion"

    name: str = attrs.field(validator=_text)
    starts_at: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    ends_at: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    planned_sales: Decimal = attrs.field(default=Decimal(0), converter=_to_money, validator=_money)
    price_factor: Decimal = attrs.field(default=Decimal(1), converter=_to_money)
    coupon_value: Decimal = attrs.field(default=Decimal(0), converter=_to_money, validator=_money)
    exclusive: bool = attrs.field(default=False, validator=_flag)
    free_shipping: bool = attrs.field(default=False, validator=_flag)

    @price_factor.validator
    def _check_price_factor(self, attr: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, Decimal) or not value.is_finite() or not 0 < value <= 1:
            raise DomainValueError(
                "promotion.price_factor", value, "a Decimal with 0 < factor <= 1 (never float)"
            )

    def __attrs_post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise DomainValueError(
                "promotion.ends_at", self.ends_at, f"after starts_at ({self.starts_at})"
            )


@attrs.frozen
class PriceAdjustmentRequest:
    """A request to re-price an order at a promotion's price (价格调整, 补差价).

    Attributes:
        promotion: the promotion whose price the customer asks for.
        paid: the order is already paid.
        customer_paid_total: the customer's total paid so far (累计消费), in CNY.
        requested_amount: the amount the customer asks back, in CNY.
        manager_approved: a manager signed off re-pricing the order before the
            promotion starts (相关领导签批调单依据, B2C-7.11.1a); ``False``
            by default.
    """

    _field_prefix: ClassVar[str] = "price_adjustment_request"

    promotion: Promotion = attrs.field(validator=_instance(Promotion))
    paid: bool = attrs.field(validator=_flag)
    customer_paid_total: Decimal = attrs.field(converter=_to_money, validator=_money)
    requested_amount: Decimal = attrs.field(converter=_to_money, validator=_money)
    manager_approved: bool = attrs.field(default=False, validator=_flag)
