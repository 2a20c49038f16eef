"""Domain objects: conversion and validation at construction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pendulum
import pytest
from hypothesis import given

from csrules import (
    EXCLUDED_CATEGORIES,
    Complaint,
    ComplaintCase,
    Condition,
    Customer,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    PriceAdjustmentRequest,
    Promotion,
    ReturnRequest,
)
from csrules.exceptions import DomainValueError
from csrules.testing import cases, orders

CST = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 5, 1, 9, 0, tzinfo=CST)


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 5, day, hour, tzinfo=CST)


def line(**kwargs: object) -> OrderLine:
    values: dict[str, object] = {"sku": "8892", "unit_price": "200.00", "quantity": 1}
    values.update(kwargs)
    return OrderLine(**values)  # type: ignore[arg-type]


def order(**kwargs: object) -> Order:
    values: dict[str, object] = {
        "id": "X1",
        "customer_id": "C1",
        "status": "signed",
        "lines": [line()],
        "placed_at": at(1),
        "paid_at": at(1, 10),
        "shipped_at": at(2),
        "signed_at": at(4),
    }
    values.update(kwargs)
    return Order(**values)  # type: ignore[arg-type]


class TestConversion:
    def test_money_strings_and_ints_become_decimal(self) -> None:
        """A str or int amount is stored as the equal Decimal."""
        assert line(unit_price="199.90").unit_price == Decimal("199.90")
        assert isinstance(line(unit_price=5).unit_price, Decimal)
        assert order(shipping_fee=10).shipping_fee == Decimal(10)

    def test_aware_datetime_becomes_pendulum_keeping_the_offset(self) -> None:
        """An aware stdlib datetime is converted to pendulum.DateTime with the same offset."""
        o = order()
        assert isinstance(o.placed_at, pendulum.DateTime)
        assert o.placed_at.utcoffset() == dt.timedelta(hours=8)
        assert o.placed_at == T0

    def test_enum_fields_accept_their_string_value(self) -> None:
        """Enum fields accept the contract string and store the enum member."""
        o = order(status="signed", payment_method="cod")
        assert o.status is OrderStatus.SIGNED
        assert o.payment_method is PaymentMethod.COD

    def test_lines_list_becomes_tuple(self) -> None:
        """A list of lines is stored as a tuple."""
        assert isinstance(order().lines, tuple)

    def test_defaults(self) -> None:
        """Optional fields take the defaults of the spec."""
        o = Order("X1", "C1", "confirmed_unpaid", [line()], T0)
        assert o.payment_method is PaymentMethod.ALIPAY
        assert o.shipping_fee == 0
        assert (o.paid_at, o.shipped_at, o.signed_at) == (None, None, None)
        assert line().category == "general"
        assert line().special_price is False


class TestProperties:
    def test_line_and_order_amount(self) -> None:
        """Line amount is unit price times quantity; order amount is their sum."""
        o = order(lines=[line(unit_price="19.90", quantity=3), line(unit_price="0.10")])
        assert o.lines[0].amount == Decimal("59.70")
        assert o.amount == Decimal("59.80")

    def test_categories(self) -> None:
        """Order categories are the set of line categories."""
        o = order(lines=[line(category="fresh"), line(category="apparel"), line()])
        assert o.categories == frozenset({"fresh", "apparel", "general"})
        assert "fresh" in EXCLUDED_CATEGORIES

    def test_condition_normal_ignores_packaging(self) -> None:
        """Condition.normal needs the first six checks only."""
        assert Condition(True, True, True, True, True, True, packaging_intact=False).normal
        assert not Condition(True, True, True, True, True, False).normal

    def test_frozen(self) -> None:
        """Domain objects cannot be changed after construction."""
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            order().id = "X2"  # type: ignore[misc]


class TestValidation:
    def test_naive_datetime_is_refused(self) -> None:
        """A naive datetime raises, naming the field."""
        with pytest.raises(DomainValueError) as err:
            order(placed_at=dt.datetime(2026, 5, 1, 9))
        assert err.value.field == "order.placed_at"
        assert "time-zone aware" in str(err.value)

    def test_float_money_is_refused(self) -> None:
        """Money given as a float raises, naming the field."""
        with pytest.raises(DomainValueError) as err:
            line(unit_price=199.9)
        assert err.value.field == "order_line.unit_price"
        assert "never float" in str(err.value)

    @pytest.mark.parametrize("value", ["-0.01", -1, "NaN", "Infinity", "abc", Decimal("-5")])
    def test_bad_money_is_refused(self, value: object) -> None:
        """Negative, non-finite or unparsable money raises, naming the field."""
        with pytest.raises(DomainValueError) as err:
            order(shipping_fee=value)
        assert err.value.field == "order.shipping_fee"

    def test_empty_lines_are_refused(self) -> None:
        """An order needs at least one line."""
        with pytest.raises(DomainValueError) as err:
            order(lines=[])
        assert err.value.field == "order.lines"

    def test_shipped_before_paid_is_refused(self) -> None:
        """shipped_at before paid_at raises on order.shipped_at."""
        with pytest.raises(DomainValueError) as err:
            order(paid_at=at(2, 12), shipped_at=at(2, 10))
        assert err.value.field == "order.shipped_at"

    def test_cod_order_may_be_paid_after_shipping(self) -> None:
        """A cash-on-delivery order may be paid on delivery, after it shipped."""
        o = order(payment_method="cod", paid_at=at(4), shipped_at=at(2), signed_at=at(4))
        assert o.paid_at == at(4)

    def test_signed_before_shipped_is_refused(self) -> None:
        """signed_at before shipped_at raises on order.signed_at."""
        with pytest.raises(DomainValueError) as err:
            order(signed_at=at(1, 11))
        assert err.value.field == "order.signed_at"

    def test_signed_status_needs_signed_at(self) -> None:
        """Status signed without signed_at raises on order.signed_at."""
        with pytest.raises(DomainValueError) as err:
            order(signed_at=None)
        assert err.value.field == "order.signed_at"

    def test_shipped_status_needs_shipped_at(self) -> None:
        """Status shipped without shipped_at raises on order.shipped_at."""
        with pytest.raises(DomainValueError) as err:
            order(status="shipped", shipped_at=None, signed_at=None)
        assert err.value.field == "order.shipped_at"

    def test_paid_unshipped_needs_paid_at(self) -> None:
        """Status paid_unshipped without paid_at raises on order.paid_at."""
        with pytest.raises(DomainValueError) as err:
            order(status="paid_unshipped", paid_at=None, shipped_at=None, signed_at=None)
        assert err.value.field == "order.paid_at"

    def test_bad_enum_string_is_refused(self) -> None:
        """An unknown enum string raises, listing the accepted values."""
        with pytest.raises(DomainValueError) as err:
            order(status="delivered")
        assert err.value.field == "order.status"
        assert "'signed'" in str(err.value)

    def test_quantity_must_be_positive(self) -> None:
        """A line quantity below 1 raises."""
        with pytest.raises(DomainValueError) as err:
            line(quantity=0)
        assert err.value.field == "order_line.quantity"

    def test_promotion_must_end_after_it_starts(self) -> None:
        """A promotion ending at or before its start raises on promotion.ends_at."""
        with pytest.raises(DomainValueError) as err:
            Promotion("sale", at(2), at(2))
        assert err.value.field == "promotion.ends_at"

    @pytest.mark.parametrize("factor", ["0", "1.01", 0.7])
    def test_price_factor_range(self, factor: object) -> None:
        """price_factor must be a Decimal with 0 < f <= 1."""
        with pytest.raises(DomainValueError) as err:
            Promotion("sale", at(1), at(2), price_factor=factor)
        assert err.value.field == "promotion.price_factor"

    def test_complaint_contact_count_at_least_one(self) -> None:
        """contact_count below 1 raises."""
        with pytest.raises(DomainValueError) as err:
            Complaint("c1", "C1", at(6), "phone", "service", contact_count=0)
        assert err.value.field == "complaint.contact_count"

    def test_complaint_case_must_match_its_complaint(self) -> None:
        """A complaint case's id and at must be the complaint's."""
        complaint = Complaint("c1", "C1", at(6), "phone", "service")
        assert ComplaintCase.of(complaint).id == "c1"
        with pytest.raises(DomainValueError):
            ComplaintCase("c2", at(6), complaint)
        with pytest.raises(DomainValueError):
            ComplaintCase("c1", at(7), complaint)

    def test_other_classes_validate(self) -> None:
        """Customer, ReturnRequest and PriceAdjustmentRequest refuse bad values."""
        with pytest.raises(DomainValueError):
            Customer("C1", paid_total=1.5)
        with pytest.raises(DomainValueError):
            ReturnRequest("return", "because")
        with pytest.raises(DomainValueError):
            PriceAdjustmentRequest(Promotion("s", at(1), at(2)), "yes", "1", "2")  # type: ignore[arg-type]


class TestStrategiesAreValid:
    @given(orders(status="signed"))
    def test_signed_orders_have_ordered_times(self, o: Order) -> None:
        """Generated signed orders have placed <= (paid) <= shipped <= signed."""
        assert o.shipped_at is not None
        assert o.signed_at is not None
        assert o.placed_at <= o.shipped_at <= o.signed_at
        if o.paid_at is not None and o.payment_method is not PaymentMethod.COD:
            assert o.placed_at <= o.paid_at <= o.shipped_at

    @given(cases())
    def test_case_is_decided_after_its_order(self, case: object) -> None:
        """A generated return case's at is not before the order's times."""
        order_ = getattr(case, "order", None)
        if order_ is not None:
            times = [order_.placed_at, order_.paid_at, order_.shipped_at, order_.signed_at]
            assert all(t <= case.at for t in times if t is not None)  # type: ignore[attr-defined]
