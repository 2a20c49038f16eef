"""Hypothesis strategies for csrules' domain objects and cases.

Use them to test your own rules and policies against many valid inputs::

    from hypothesis import given
    from csrules.testing import return_cases

    @given(return_cases(status="signed"))
    def test_my_rule(case): ...

Every strategy produces valid objects only: times are consistent with the
order status (a ``signed`` order has ``placed_at <= paid_at <= shipped_at <=
signed_at``) and a case's ``at`` comes after the times it depends on. Times
fall mostly in 2024-2027 (2027 included, a year without official holiday
data) and use Asia/Shanghai and a few other offsets. Objects are kept small.

This module needs the ``testing`` extra (``pip install csrules[testing]``).
"""

from __future__ import annotations

import datetime as _dt
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pendulum
from hypothesis import strategies as st

from csrules._cases import Case, ComplaintCase, PriceAdjustmentCase, PromotionCase, ReturnCase
from csrules._domain import (
    EXCLUDED_CATEGORIES,
    Channel,
    Complaint,
    Condition,
    Customer,
    Department,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    PriceAdjustmentRequest,
    Promotion,
    Reason,
    RequestType,
    ReturnRequest,
    Topic,
    check_time,
)

__all__ = [
    "aware_datetimes",
    "cases",
    "complaint_cases",
    "complaints",
    "conditions",
    "customers",
    "money",
    "order_lines",
    "orders",
    "price_adjustment_cases",
    "price_adjustment_requests",
    "promotion_cases",
    "promotions",
    "return_cases",
    "return_requests",
]

_Zone = pendulum.Timezone | pendulum.FixedTimezone

_SHANGHAI = pendulum.timezone("Asia/Shanghai")
_ZONES: tuple[_Zone, ...] = (
    _SHANGHAI,
    pendulum.timezone(8 * 3600),
    pendulum.UTC,
    pendulum.timezone(9 * 3600),
    pendulum.timezone(5 * 3600 + 1800),
    pendulum.timezone(-5 * 3600),
)
_DEFAULT_MIN = pendulum.datetime(2024, 1, 1, tz=_SHANGHAI)
_DEFAULT_MAX = pendulum.datetime(2027, 12, 31, 23, 59, 59, tz=_SHANGHAI)
# Orders are placed early enough that their later times and cases stay in 2027.
_PLACED_MAX = pendulum.datetime(2027, 11, 15, tz=_SHANGHAI)

_HOUR = 3600
_DAY = 86400

_IDS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=8)
_CATEGORIES = st.sampled_from(("general", "apparel", "shoes", "electronics", "home")) | (
    st.sampled_from(sorted(EXCLUDED_CATEGORIES))
)
_NAMES = st.sampled_from(("May sale", "618", "双11", "年货节", "Spring clearance"))


def _from_ts(timestamp: int, tz: _Zone) -> pendulum.DateTime:
    return pendulum.from_timestamp(timestamp).in_timezone(tz)


def _timestamp(value: _dt.datetime, name: str) -> float:
    check_time(name, value)
    return value.timestamp()


def aware_datetimes(
    min_value: _dt.datetime | None = None, max_value: _dt.datetime | None = None
) -> st.SearchStrategy[pendulum.DateTime]:
    """Time-zone aware :class:`pendulum.DateTime` values, to the second.

    Args:
        min_value: earliest time (aware); default 2024-01-01 00:00 Asia/Shanghai.
        max_value: latest time (aware); default 2027-12-31 23:59:59 Asia/Shanghai.

    The zone is Asia/Shanghai (most often, as it shrinks to it), ``+08:00``,
    UTC, ``+09:00``, ``+05:30`` or ``-05:00``.
    """
    low = math.ceil(_timestamp(min_value or _DEFAULT_MIN, "min_value"))
    high = math.floor(_timestamp(max_value or _DEFAULT_MAX, "max_value"))
    if low > high:
        raise ValueError(f"min_value {min_value} is after max_value {max_value}")
    return st.builds(
        _from_ts,
        st.integers(low, high),
        st.sampled_from(_ZONES),
    )


def _later(
    draw: st.DrawFn, base: pendulum.DateTime, max_seconds: int, min_seconds: int = 0
) -> pendulum.DateTime:
    """A time between ``base + min_seconds`` and ``base + max_seconds``, maybe in another zone."""
    seconds = draw(st.integers(min_seconds, max_seconds))
    moved = _from_ts(base.int_timestamp + seconds, base.timezone or _SHANGHAI)
    if draw(st.booleans()):
        return moved
    return moved.in_timezone(draw(st.sampled_from(_ZONES)))


def money(
    min_value: Decimal | int | str = 0, max_value: Decimal | int | str = 100_000
) -> st.SearchStrategy[Decimal]:
    """Amounts of money: :class:`~decimal.Decimal` with exactly 2 places (``"12.30"``).

    Args:
        min_value: smallest amount (``>= 0``), default 0.
        max_value: largest amount, default 100000.
    """
    low = int((Decimal(min_value) * 100).to_integral_value(ROUND_CEILING))
    high = int((Decimal(max_value) * 100).to_integral_value(ROUND_FLOOR))
    if low < 0 or low > high:
        raise ValueError(f"need 0 <= min_value <= max_value, got {min_value}, {max_value}")
    return st.integers(low, high).map(lambda cents: Decimal(cents).scaleb(-2))


def order_lines(
    *, category: str | None = None, max_unit_price: Decimal | int | str = 5000
) -> st.SearchStrategy[OrderLine]:
    """Order lines: a SKU, a unit price up to ``max_unit_price`` and 1-5 units.

    Args:
        category: fix the line category; by default a few ordinary ones and
            the excluded ones (:data:`csrules.EXCLUDED_CATEGORIES`).
        max_unit_price: the highest unit price.
    """
    return st.builds(
        OrderLine,
        sku=st.text(alphabet="0123456789", min_size=4, max_size=6),
        unit_price=money(0, max_unit_price),
        quantity=st.integers(1, 5),
        special_price=st.booleans(),
        category=st.just(category) if category is not None else _CATEGORIES,
    )


@st.composite
def _orders(
    draw: st.DrawFn,
    status: OrderStatus | None,
    payment_method: PaymentMethod | None,
    max_lines: int,
    placed_at: st.SearchStrategy[pendulum.DateTime],
) -> Order:
    status = status or draw(st.sampled_from(OrderStatus))
    method = payment_method or draw(st.sampled_from(PaymentMethod))
    cod = method is PaymentMethod.COD
    placed = draw(placed_at)
    paid = shipped = signed = None
    if status is OrderStatus.CONFIRMED_UNPAID:
        pass
    elif status is OrderStatus.PAID_UNSHIPPED:
        paid = _later(draw, placed, 2 * _DAY)
    elif status in (OrderStatus.SHIPPED, OrderStatus.SIGNED):
        # cash on delivery: unpaid until the door (paid_at None or the signing
        # time), or paid online before delivery after all
        cod_paid = draw(st.sampled_from(("none", "door", "online"))) if cod else "online"
        if cod_paid == "online":
            paid = _later(draw, placed, 2 * _DAY)
        shipped = _later(draw, paid or placed, 3 * _DAY)
        if status is OrderStatus.SIGNED:
            signed = _later(draw, shipped, 7 * _DAY, min_seconds=_HOUR)
            if cod_paid == "door":
                paid = signed
    elif draw(st.booleans()):  # closed or cancelled, after payment
        paid = _later(draw, placed, 2 * _DAY)
        if status is OrderStatus.CLOSED and draw(st.booleans()):
            shipped = _later(draw, paid, 3 * _DAY)
            signed = _later(draw, shipped, 7 * _DAY, min_seconds=_HOUR)
    shipped_status = status in (OrderStatus.SHIPPED, OrderStatus.SIGNED) or shipped is not None
    return Order(
        id=draw(_IDS),
        customer_id=draw(_IDS),
        status=status,
        lines=draw(st.lists(order_lines(), min_size=1, max_size=max_lines)),
        placed_at=placed,
        paid_at=paid,
        shipped_at=shipped,
        signed_at=signed,
        payment_method=method,
        in_warehouse_system=True if shipped_status else draw(st.booleans()),
        shipping_fee=draw(st.sampled_from((Decimal("0.00"), Decimal("10.00"))) | money(0, 30)),
        free_shipping_promotion=draw(st.booleans()),
    )


def orders(
    *,
    status: OrderStatus | str | None = None,
    payment_method: PaymentMethod | str | None = None,
    max_lines: int = 3,
    placed_at: st.SearchStrategy[pendulum.DateTime] | None = None,
) -> st.SearchStrategy[Order]:
    """Orders whose times fit their status.

    ``paid_unshipped`` orders have ``paid_at``; ``shipped`` and ``signed``
    orders have ``shipped_at`` and ``paid_at``, except cash-on-delivery
    orders, which may have no ``paid_at``, be paid at the door (``paid_at``
    is the signing time) or have been paid online before shipping;
    ``signed`` orders have ``signed_at``; times never go backwards.

    Args:
        status: fix the status (:class:`~csrules.OrderStatus` or its value).
        payment_method: fix the payment method.
        max_lines: the most order lines (at least one is drawn).
        placed_at: strategy for ``placed_at``; by default 2024 to mid-November 2027.
    """
    return _orders(
        OrderStatus(status) if status is not None else None,
        PaymentMethod(payment_method) if payment_method is not None else None,
        max_lines,
        placed_at if placed_at is not None else aware_datetimes(max_value=_PLACED_MAX),
    )


def conditions(*, normal: bool | None = None) -> st.SearchStrategy[Condition]:
    """Conditions of returned goods.

    Args:
        normal: ``True`` for goods that pass all six checks (正常), ``False``
            for goods that fail at least one, ``None`` for either.
    """
    flags = st.builds(
        Condition,
        tag_intact=st.booleans(),
        unwashed=st.booleans(),
        undamaged=st.booleans(),
        delivery_note_complete=st.booleans(),
        order_number_given=st.booleans(),
        delivery_note_number_given=st.booleans(),
        packaging_intact=st.booleans(),
    )
    if normal is True:
        return st.builds(Condition, *[st.just(True)] * 6, packaging_intact=st.booleans())
    if normal is False:
        return flags.filter(lambda c: not c.normal)
    return flags


@st.composite
def _return_requests(
    draw: st.DrawFn,
    request_type: RequestType | None,
    reason: Reason | None,
    earliest: pendulum.DateTime | None,
    latest: pendulum.DateTime | None,
) -> ReturnRequest:
    times = aware_datetimes(min_value=earliest, max_value=latest)
    return ReturnRequest(
        type=request_type or draw(st.sampled_from(RequestType)),
        reason=reason or draw(st.sampled_from(Reason)),
        courier_confirmed=draw(st.booleans()),
        condition=draw(st.none() | conditions()),
        proof_submitted_at=draw(st.none() | times),
        goods_received_at=draw(st.none() | times),
    )


def return_requests(
    *,
    request_type: RequestType | str | None = None,
    reason: Reason | str | None = None,
    earliest: pendulum.DateTime | None = None,
    latest: pendulum.DateTime | None = None,
) -> st.SearchStrategy[ReturnRequest]:
    """Return requests (退货/换货/退款/取消/改地址).

    Args:
        request_type: fix the request type.
        reason: fix the reason.
        earliest: earliest proof or goods-received time (default 2024-01-01).
        latest: latest proof or goods-received time (default end of 2027).

    ``condition`` is ``None`` or any :func:`conditions`.
    """
    return _return_requests(
        RequestType(request_type) if request_type is not None else None,
        Reason(reason) if reason is not None else None,
        earliest,
        latest,
    )


def _last_time(order: Order) -> pendulum.DateTime:
    times = [t for t in (order.paid_at, order.shipped_at, order.signed_at) if t is not None]
    return max([order.placed_at, *times])


@st.composite
def _return_cases(
    draw: st.DrawFn,
    status: OrderStatus | str | None,
    request_type: RequestType | str | None,
    reason: Reason | str | None,
    payment_method: PaymentMethod | str | None,
) -> ReturnCase:
    order = draw(orders(status=status, payment_method=payment_method))
    last = _last_time(order)
    at = _later(draw, last, 20 * _DAY)
    request = draw(
        return_requests(request_type=request_type, reason=reason, earliest=last, latest=at)
    )
    return ReturnCase(id=draw(_IDS), at=at, order=order, request=request)


def return_cases(
    *,
    status: OrderStatus | str | None = None,
    request_type: RequestType | str | None = None,
    reason: Reason | str | None = None,
    payment_method: PaymentMethod | str | None = None,
) -> st.SearchStrategy[ReturnCase]:
    """Return cases: an order and a request made after the order's last time.

    The request's proof and goods-received times fall between the order's
    last time and the case's ``at``.

    Args:
        status: fix the order status.
        request_type: fix the request type.
        reason: fix the reason.
        payment_method: fix the order's payment method (``"cod"`` for
            cash-on-delivery orders, with or without ``paid_at``).
    """
    return _return_cases(status, request_type, reason, payment_method)


def customers() -> st.SearchStrategy[Customer]:
    """Customers with a total paid so far and maybe a mobile number and e-mail."""
    return st.builds(
        Customer,
        id=_IDS,
        paid_total=money(0, 50_000),
        mobile=st.none() | st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
        email=st.none() | st.sampled_from(("a@example.com", "客户@example.cn")),
    )


@st.composite
def _complaints(
    draw: st.DrawFn,
    case_id: str | None,
    received_at: pendulum.DateTime | None,
    topic: Topic | None,
    channel: Channel | None,
) -> Complaint:
    received = received_at if received_at is not None else draw(aware_datetimes())
    delivered = None
    if draw(st.booleans()):
        seconds = draw(st.integers(0, 30 * _DAY))
        delivered = _from_ts(received.int_timestamp - seconds, _SHANGHAI)
    return Complaint(
        id=case_id if case_id is not None else draw(_IDS),
        customer_id=draw(_IDS),
        received_at=received,
        channel=channel or draw(st.sampled_from(Channel)),
        topic=topic or draw(st.sampled_from(Topic)),
        sku=draw(st.none() | st.text(alphabet="0123456789", min_size=4, max_size=6)),
        about_department=draw(
            st.none() | st.sampled_from([*(d.value for d in Department), "logistics"])
        ),
        about_staff=draw(st.none() | st.sampled_from(("A017", "B002", "C123"))),
        order_amount=draw(st.none() | money(0, 20_000)),
        customer_paid_total=draw(money(0, 50_000)),
        contact_count=draw(st.integers(1, 4)),
        delivered_at=delivered,
    )


def complaints(
    *,
    id: str | None = None,
    received_at: pendulum.DateTime | None = None,
    topic: Topic | str | None = None,
    channel: Channel | str | None = None,
) -> st.SearchStrategy[Complaint]:
    """Complaints (投诉); ``delivered_at`` (when set) is up to 30 days before ``received_at``.

    Args:
        id: fix the complaint (case) id.
        received_at: fix when it was received.
        topic: fix the topic.
        channel: fix the channel.
    """
    return _complaints(
        id,
        received_at,
        Topic(topic) if topic is not None else None,
        Channel(channel) if channel is not None else None,
    )


@st.composite
def _complaint_cases(
    draw: st.DrawFn, topic: Topic | str | None, channel: Channel | str | None
) -> ComplaintCase:
    case_id = draw(_IDS)
    at = draw(aware_datetimes())
    complaint = draw(complaints(id=case_id, received_at=at, topic=topic, channel=channel))
    return ComplaintCase(id=case_id, at=at, complaint=complaint)


def complaint_cases(
    *, topic: Topic | str | None = None, channel: Channel | str | None = None
) -> st.SearchStrategy[ComplaintCase]:
    """Complaint cases; the complaint's id and time are the case's.

    Args:
        topic: fix the topic.
        channel: fix the channel.
    """
    return _complaint_cases(topic, channel)


@st.composite
def _promotions(draw: st.DrawFn, starts_at: st.SearchStrategy[pendulum.DateTime]) -> Promotion:
    starts = draw(starts_at)
    return Promotion(
        name=draw(_NAMES),
        starts_at=starts,
        ends_at=_later(draw, starts, 30 * _DAY, min_seconds=_HOUR),
        planned_sales=draw(money(0, 1_000_000)),
        price_factor=draw(st.integers(1, 100).map(lambda n: Decimal(n).scaleb(-2))),
        coupon_value=draw(money(0, 200)),
        exclusive=draw(st.booleans()),
        free_shipping=draw(st.booleans()),
    )


def promotions(
    *, starts_at: st.SearchStrategy[pendulum.DateTime] | None = None
) -> st.SearchStrategy[Promotion]:
    """Promotions (促销活动) lasting one hour to 30 days, price factor 0.01 to 1.00.

    Args:
        starts_at: strategy for the start; by default 2024 to mid-November 2027.
    """
    return _promotions(
        starts_at if starts_at is not None else aware_datetimes(max_value=_PLACED_MAX)
    )


@st.composite
def _promotion_cases(draw: st.DrawFn) -> PromotionCase:
    promotion = draw(promotions())
    seconds = draw(st.integers(0, 60 * _DAY))
    at = _from_ts(promotion.starts_at.int_timestamp - seconds, _SHANGHAI)
    return PromotionCase(id=draw(_IDS), at=at, promotion=promotion)


def promotion_cases() -> st.SearchStrategy[PromotionCase]:
    """Promotion cases planned up to 60 days before the promotion starts."""
    return _promotion_cases()


def price_adjustment_requests() -> st.SearchStrategy[PriceAdjustmentRequest]:
    """Requests to re-price an order at a promotion's price."""
    return st.builds(
        PriceAdjustmentRequest,
        promotion=promotions(),
        paid=st.booleans(),
        customer_paid_total=money(0, 50_000),
        requested_amount=money(0, 2_000),
        manager_approved=st.booleans(),
    )


@st.composite
def _price_adjustment_cases(draw: st.DrawFn) -> PriceAdjustmentCase:
    request = draw(price_adjustment_requests())
    at = _later(draw, request.promotion.starts_at, 40 * _DAY)
    return PriceAdjustmentCase(id=draw(_IDS), at=at, request=request)


def price_adjustment_cases() -> st.SearchStrategy[PriceAdjustmentCase]:
    """Price adjustment cases made after the promotion started (during or after it)."""
    return _price_adjustment_cases()


def cases() -> st.SearchStrategy[Case]:
    """Any case: return, complaint, promotion or price adjustment."""
    return st.one_of(return_cases(), complaint_cases(), promotion_cases(), price_adjustment_cases())
