"""The JSON codec of the case contract."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pendulum
import pytest
from hypothesis import given

from csrules import (
    Case,
    ComplaintCase,
    OrderStatus,
    PriceAdjustmentCase,
    PromotionCase,
    Reason,
    RequestType,
    ReturnCase,
)
from csrules.exceptions import ContractError
from csrules.io import case_from_json, case_to_json, encode_value, parse_case_line
from csrules.testing import cases

RETURN_EXAMPLE: dict[str, Any] = {
    "id": "r1",
    "kind": "return",
    "at": "2026-05-06T10:00:00+08:00",
    "order": {
        "id": "X1",
        "customer_id": "C1",
        "status": "signed",
        "in_warehouse_system": False,
        "placed_at": "2026-05-01T09:00:00+08:00",
        "paid_at": "2026-05-01T09:05:00+08:00",
        "shipped_at": "2026-05-02T14:00:00+08:00",
        "signed_at": "2026-05-04T16:30:00+08:00",
        "payment_method": "alipay",
        "lines": [
            {
                "sku": "8892",
                "unit_price": "200.00",
                "quantity": 1,
                "special_price": False,
                "category": "apparel",
            }
        ],
        "shipping_fee": "10.00",
        "free_shipping_promotion": False,
    },
    "request": {
        "type": "return",
        "reason": "quality_defect",
        "courier_confirmed": False,
        "condition": {
            "tag_intact": True,
            "unwashed": True,
            "undamaged": True,
            "delivery_note_complete": True,
            "order_number_given": True,
            "delivery_note_number_given": True,
        },
        "proof_submitted_at": "2026-05-06T10:00:00+08:00",
    },
}

COMPLAINT_EXAMPLE: dict[str, Any] = {
    "id": "c1",
    "kind": "complaint",
    "at": "2026-05-06T10:00:00+08:00",
    "complaint": {
        "customer_id": "C1",
        "channel": "phone",
        "topic": "product_defect",
        "sku": "8892",
        "about_department": "operations",
        "about_staff": "A017",
        "order_amount": "1200.00",
        "customer_paid_total": "800.00",
        "contact_count": 1,
        "delivered_at": None,
    },
}

PROMOTION = {
    "name": "May sale",
    "starts_at": "2026-05-01T00:00:00+08:00",
    "ends_at": "2026-05-10T23:59:59+08:00",
    "planned_sales": "300000",
    "price_factor": "0.7",
    "coupon_value": "0",
    "exclusive": False,
    "free_shipping": True,
}

PROMOTION_EXAMPLE: dict[str, Any] = {
    "id": "p1",
    "kind": "promotion",
    "at": "2026-04-01T09:00:00+08:00",
    "promotion": PROMOTION,
}

PRICE_ADJUSTMENT_EXAMPLE: dict[str, Any] = {
    "id": "a1",
    "kind": "price_adjustment",
    "at": "2026-05-03T11:00:00+08:00",
    "promotion": PROMOTION,
    "paid": True,
    "customer_paid_total": "12000.00",
    "requested_amount": "150.00",
}


def example(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with changes keyed by path, ``__``-separated; ``...`` deletes."""
    obj = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = obj
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return obj


def contract_error(obj: object) -> ContractError:
    with pytest.raises(ContractError) as err:
        case_from_json(obj)  # type: ignore[arg-type]
    return err.value


class TestContractExamples:
    def test_return_example_decodes(self) -> None:
        """The return example of the contract decodes to a ReturnCase."""
        case = case_from_json(RETURN_EXAMPLE)
        assert isinstance(case, ReturnCase)
        assert case.id == "r1"
        assert case.at == pendulum.datetime(2026, 5, 6, 2, 0, tz="UTC")
        assert case.order.status is OrderStatus.SIGNED
        assert case.order.lines[0].unit_price == Decimal("200.00")
        assert case.order.shipping_fee == Decimal("10.00")
        assert case.request.type is RequestType.RETURN
        assert case.request.reason is Reason.QUALITY_DEFECT
        assert case.request.condition is not None
        assert case.request.condition.normal

    def test_complaint_example_takes_id_and_time_from_the_case(self) -> None:
        """The complaint gets the case id and at; they are not written back inside it."""
        case = case_from_json(COMPLAINT_EXAMPLE)
        assert isinstance(case, ComplaintCase)
        assert case.complaint.id == "c1"
        assert case.complaint.received_at == case.at
        assert case.complaint.order_amount == Decimal("1200.00")
        encoded = case_to_json(case)["complaint"]
        assert isinstance(encoded, dict)
        assert "id" not in encoded
        assert "received_at" not in encoded

    def test_promotion_example_decodes(self) -> None:
        """The promotion example decodes, price factor as Decimal."""
        case = case_from_json(PROMOTION_EXAMPLE)
        assert isinstance(case, PromotionCase)
        assert case.promotion.price_factor == Decimal("0.7")
        assert case.promotion.planned_sales == Decimal(300000)

    def test_price_adjustment_example_decodes(self) -> None:
        """The price adjustment case has top-level paid and amounts."""
        case = case_from_json(PRICE_ADJUSTMENT_EXAMPLE)
        assert isinstance(case, PriceAdjustmentCase)
        assert case.request.paid is True
        assert case.request.requested_amount == Decimal("150.00")
        assert case.request.promotion.name == "May sale"

    def test_encoding_keeps_contract_spelling(self) -> None:
        """Money is written as decimal strings and times with their offset."""
        encoded = case_to_json(case_from_json(RETURN_EXAMPLE))
        order = encoded["order"]
        assert isinstance(order, dict)
        assert order["shipping_fee"] == "10.00"
        assert order["lines"][0]["unit_price"] == "200.00"
        assert encoded["at"] == "2026-05-06T10:00:00+08:00"

    def test_offset_is_kept(self) -> None:
        """A time given with a non-Shanghai offset is written back with that offset."""
        obj = example(PROMOTION_EXAMPLE, at="2026-04-01T09:00:00-05:00")
        assert case_to_json(case_from_json(obj))["at"] == "2026-04-01T09:00:00-05:00"

    def test_unknown_keys_are_ignored(self) -> None:
        """Extra keys anywhere are ignored."""
        obj = example(RETURN_EXAMPLE, note="x", order__extra=1, request__condition__x=True)
        assert case_from_json(obj) == case_from_json(RETURN_EXAMPLE)

    def test_condition_is_optional(self) -> None:
        """A return request without a condition decodes with condition None."""
        case = case_from_json(example(RETURN_EXAMPLE, request__condition=...))
        assert isinstance(case, ReturnCase)
        assert case.request.condition is None

    def test_money_may_be_an_integer(self) -> None:
        """An integer is accepted as money."""
        case = case_from_json(example(RETURN_EXAMPLE, order__shipping_fee=10))
        assert isinstance(case, ReturnCase)
        assert case.order.shipping_fee == Decimal(10)


class TestRoundTrip:
    @given(cases())
    def test_decode_inverts_encode(self, case: Case) -> None:
        """case_from_json(case_to_json(c)) == c for every case kind."""
        assert case_from_json(case_to_json(case)) == case

    @given(cases())
    def test_through_json_text(self, case: Case) -> None:
        """Encoding to JSON text and parsing the line gives the same case and the same JSON."""
        encoded = case_to_json(case)
        back = parse_case_line(json.dumps(encoded, ensure_ascii=False))
        assert back == case
        assert case_to_json(back) == encoded


class TestErrors:
    def test_missing_field(self) -> None:
        """A missing required key gives missing_field with its path and the case id."""
        err = contract_error(example(RETURN_EXAMPLE, order__lines__0__sku=...))
        assert err.code == "missing_field"
        assert err.field == "order.lines[0].sku"
        assert err.case_id == "r1"
        assert "order.lines[0].sku" in str(err)

    def test_missing_kind(self) -> None:
        """A case without kind gives missing_field on kind."""
        err = contract_error(example(RETURN_EXAMPLE, kind=...))
        assert (err.code, err.field) == ("missing_field", "kind")

    def test_bad_enum(self) -> None:
        """An unknown enum value gives invalid_value naming value and accepted values."""
        err = contract_error(example(RETURN_EXAMPLE, request__reason="bored"))
        assert (err.code, err.field) == ("invalid_value", "request.reason")
        assert '"bored"' in str(err)
        assert '"changed_mind"' in str(err)

    def test_float_money(self) -> None:
        """A JSON float as money gives invalid_value with the money path."""
        line = json.dumps(RETURN_EXAMPLE).replace('"200.00"', "200.0")
        with pytest.raises(ContractError) as err:
            parse_case_line(line)
        assert (err.value.code, err.value.field) == ("invalid_value", "order.lines[0].unit_price")
        assert "float" in str(err.value)

    def test_python_float_money(self) -> None:
        """A Python float as money is refused too."""
        err = contract_error(example(RETURN_EXAMPLE, order__shipping_fee=10.0))
        assert (err.code, err.field) == ("invalid_value", "order.shipping_fee")

    def test_negative_money(self) -> None:
        """Negative money gives invalid_value on its path."""
        err = contract_error(example(COMPLAINT_EXAMPLE, complaint__order_amount="-1.00"))
        assert (err.code, err.field) == ("invalid_value", "complaint.order_amount")

    def test_offsetless_time(self) -> None:
        """A time without an offset gives invalid_value."""
        err = contract_error(example(RETURN_EXAMPLE, order__paid_at="2026-05-01T09:05:00"))
        assert (err.code, err.field) == ("invalid_value", "order.paid_at")
        assert "offset" in str(err)

    @pytest.mark.parametrize(
        "value", ["yesterday", "2026-05-01", 1746061200, "2026-13-01T00:00+08:00"]
    )
    def test_unparsable_time(self, value: object) -> None:
        """A value that is not an ISO-8601 time gives invalid_value."""
        err = contract_error(example(PROMOTION_EXAMPLE, at=value))
        assert (err.code, err.field) == ("invalid_value", "at")

    def test_unknown_kind(self) -> None:
        """An unknown kind gives unknown_kind, and the id is still reported."""
        err = contract_error(example(RETURN_EXAMPLE, kind="exchange"))
        assert (err.code, err.field, err.case_id) == ("unknown_kind", "kind", "r1")

    def test_int_id(self) -> None:
        """An integer id gives invalid_value on id and no case id."""
        err = contract_error(example(RETURN_EXAMPLE, id=7))
        assert (err.code, err.field, err.case_id) == ("invalid_value", "id", None)

    def test_wrong_type(self) -> None:
        """A string where a bool is expected gives invalid_value."""
        err = contract_error(example(RETURN_EXAMPLE, request__condition__unwashed="yes"))
        assert (err.code, err.field) == ("invalid_value", "request.condition.unwashed")

    def test_domain_rule_is_reported_with_json_path(self) -> None:
        """A cross-field domain error is reported as invalid_value on the JSON path."""
        err = contract_error(example(RETURN_EXAMPLE, order__signed_at=None))
        assert (err.code, err.field) == ("invalid_value", "order.signed_at")
        err = contract_error(example(RETURN_EXAMPLE, order__lines__0__quantity=0))
        assert (err.code, err.field) == ("invalid_value", "order.lines[0].quantity")
        err = contract_error(example(PRICE_ADJUSTMENT_EXAMPLE, requested_amount="-5"))
        assert (err.code, err.field) == ("invalid_value", "requested_amount")

    @pytest.mark.parametrize("line", ["{", "", "not json", '{"id": NaN}'])
    def test_invalid_json(self, line: str) -> None:
        """Text that is not JSON gives invalid_json."""
        with pytest.raises(ContractError) as err:
            parse_case_line(line)
        assert err.value.code == "invalid_json"
        assert err.value.case_id is None

    def test_json_that_is_not_an_object(self) -> None:
        """A JSON value that is not an object gives invalid_value."""
        with pytest.raises(ContractError) as err:
            parse_case_line("[1, 2]")
        assert err.value.code == "invalid_value"


class TestEncodeValue:
    def test_values(self) -> None:
        """Decimal, times, dates, enums and tuples become plain JSON data."""
        when = pendulum.datetime(2026, 5, 6, 10, tz="Asia/Shanghai")
        assert encode_value(Decimal("199.90")) == "199.90"
        assert encode_value(Decimal("1E+2")) == "100"
        assert encode_value(when) == "2026-05-06T10:00:00+08:00"
        assert encode_value(pendulum.date(2026, 5, 6)) == "2026-05-06"
        assert encode_value(dt.date(2027, 1, 2)) == "2027-01-02"
        assert encode_value(OrderStatus.SIGNED) == "signed"
        assert encode_value((Decimal(1), None, True, 3)) == ["1", None, True, 3]
        assert encode_value({"due": when.date()}) == {"due": "2026-05-06"}

    def test_refuses_floats_and_naive_times(self) -> None:
        """Floats and naive datetimes cannot be encoded."""
        with pytest.raises(TypeError):
            encode_value(1.5)
        with pytest.raises(ValueError, match="time zone"):
            encode_value(dt.datetime(2026, 5, 6, 10))
