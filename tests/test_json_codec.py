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
from csrules.cli import decide_lines
from csrules.exceptions import ContractError
from csrules.io import case_from_json, case_to_json, encode_value, parse_case_line, read_case
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


def parse_error(line: str) -> ContractError:
    with pytest.raises(ContractError) as err:
        parse_case_line(line)
    return err.value


class TestUnknownKeys:
    """An unknown key at any level is an error naming its path, never silently ignored."""

    def test_misspelt_flag_is_an_error_not_false(self) -> None:
        """`courier_confirmd` is refused (it would otherwise decide as if the flag were false)."""
        obj = example(RETURN_EXAMPLE, request__courier_confirmd=True)
        err = contract_error(obj)
        assert (err.code, err.field, err.case_id) == (
            "unknown_field",
            "request.courier_confirmd",
            "r1",
        )
        assert "request.courier_confirmd" in str(err)
        assert "did you mean `courier_confirmed`?" in str(err)

    @pytest.mark.parametrize(
        ("base", "changes", "path", "suggestion"),
        [
            (RETURN_EXAMPLE, {"kindd": "x"}, "kindd", "kind"),
            (RETURN_EXAMPLE, {"order__signedat": "x"}, "order.signedat", "signed_at"),
            (RETURN_EXAMPLE, {"order__lines__0__skus": "x"}, "order.lines[0].skus", "sku"),
            (RETURN_EXAMPLE, {"request__reasons": "x"}, "request.reasons", "reason"),
            (
                RETURN_EXAMPLE,
                {"request__condition__tag_intakt": True},
                "request.condition.tag_intakt",
                "tag_intact",
            ),
            (COMPLAINT_EXAMPLE, {"complaint__chanel": "x"}, "complaint.chanel", "channel"),
            (PROMOTION_EXAMPLE, {"promotion__ends": "x"}, "promotion.ends", "ends_at"),
            (PRICE_ADJUSTMENT_EXAMPLE, {"payed": True}, "payed", "paid"),
            (
                PRICE_ADJUSTMENT_EXAMPLE,
                {"promotion__exclusiv": True},
                "promotion.exclusiv",
                "exclusive",
            ),
        ],
    )
    def test_every_level(
        self, base: dict[str, Any], changes: dict[str, Any], path: str, suggestion: str
    ) -> None:
        """Each object of each kind refuses keys it does not have, suggesting the closest."""
        err = contract_error(example(base, **changes))
        assert (err.code, err.field) == ("unknown_field", path)
        assert str(err).startswith(f"{path}: ")
        assert f"did you mean `{suggestion}`?" in str(err)

    def test_nothing_close_lists_the_known_keys(self) -> None:
        """With no close key, the message lists the keys the object may have."""
        err = contract_error(example(RETURN_EXAMPLE, order__lines__0__zzzzzz=1))
        assert err.field == "order.lines[0].zzzzzz"
        assert "did you mean" not in str(err)
        for key in ("sku", "unit_price", "quantity", "special_price", "category"):
            assert f"`{key}`" in str(err)

    def test_unknown_key_with_an_unknown_kind_is_not_guessed(self) -> None:
        """With an unknown kind only the kind is reported: its keys cannot be judged."""
        err = contract_error(example(RETURN_EXAMPLE, kind="exchange", foo=1))
        assert [p.code for p in err.problems] == ["unknown_kind"]


class TestMetaAndFacts:
    def test_meta_is_kept_as_given(self) -> None:
        """`meta` may hold any JSON and is returned unchanged next to the case."""
        meta = {"ticket": 7, "tags": ["a", {"b": None}], "note": "订单"}
        read = read_case(example(RETURN_EXAMPLE, meta=meta))
        assert read.meta == meta
        assert read.case == case_from_json(RETURN_EXAMPLE)
        assert read_case(RETURN_EXAMPLE).meta is None

    @pytest.mark.parametrize("meta", [None, 1, "x", [1], True])
    def test_meta_must_be_an_object(self, meta: object) -> None:
        """`meta` that is not an object is invalid_value."""
        err = contract_error(example(PROMOTION_EXAMPLE, meta=meta))
        assert (err.code, err.field) == ("invalid_value", "meta")
        assert "expected an object" in str(err)

    def test_undeclared_fact_is_unknown(self) -> None:
        """No bundled rule set declares extra facts: any key in `facts` is unknown_field."""
        err = contract_error(example(RETURN_EXAMPLE, facts={"vip": True}))
        assert (err.code, err.field) == ("unknown_field", "facts.vip")
        assert str(err).startswith("facts.vip: no such fact")
        assert read_case(example(RETURN_EXAMPLE, facts={})).facts == {}

    def test_declared_facts_are_read_and_typed(self) -> None:
        """A rule set passes its extra facts (name -> type); they are read and checked."""
        declared: dict[str, Any] = {"vip": "boolean", "credit": "money"}
        obj = example(RETURN_EXAMPLE, facts={"vip": True, "credit": "5.00"})
        assert read_case(obj, facts=declared).facts == {"vip": True, "credit": Decimal("5.00")}
        with pytest.raises(ContractError) as err:
            read_case(example(RETURN_EXAMPLE, facts={"vip": "yes"}), facts=declared)
        assert (err.value.code, err.value.field) == ("invalid_value", "facts.vip")
        with pytest.raises(ContractError) as err:
            read_case(example(RETURN_EXAMPLE, facts={"vpi": True}), facts=declared)
        assert (err.value.code, err.value.field) == ("unknown_field", "facts.vpi")
        assert "did you mean `vip`?" in str(err.value)

    def test_meta_comes_with_the_error(self) -> None:
        """When a case is refused, its readable meta object is on the error."""
        err = contract_error(example(RETURN_EXAMPLE, meta={"t": 1}, order__status="gone"))
        assert err.meta == {"t": 1}


class TestAllProblems:
    def test_every_problem_is_reported(self) -> None:
        """A case with several problems reports all of them, in document order."""
        obj = example(
            RETURN_EXAMPLE,
            order__status="gone",
            order__lines__0__quantity="1",
            request__condition=5,
            request__reasn="x",
        )
        err = contract_error(obj)
        assert [(p.code, p.field) for p in err.problems] == [
            ("invalid_value", "order.status"),
            ("invalid_value", "order.lines[0].quantity"),
            ("unknown_field", "request.reasn"),
            ("invalid_value", "request.condition"),
        ]
        assert (err.code, err.field) == ("invalid_value", "order.status")
        assert str(err) == "; ".join(p.message for p in err.problems)

    def test_messages_speak_json(self) -> None:
        """Messages say what JSON was expected, never a Python class or type name."""
        obj = example(
            RETURN_EXAMPLE,
            request__condition=5,
            order__in_warehouse_system="no",
            order__lines={"sku": "1"},
        )
        text = str(contract_error(obj))
        assert "request.condition: expected an object, got 5" in text
        assert "order.lines: expected a non-empty array of objects, got an object" in text
        assert 'order.in_warehouse_system: expected true or false, got "no"' in text
        for python_word in ("Condition", "OrderLine", "NoneType", "dict", "bool", "int "):
            assert python_word not in text


class TestEncoding:
    @pytest.mark.parametrize(
        ("replace", "path"),
        [
            ('"id": "r1"', "id"),
            ('"sku": "8892"', "order.lines[0].sku"),
            ('"reason": "quality_defect"', "request.reason"),
        ],
    )
    def test_lone_surrogate_in_a_value(self, replace: str, path: str) -> None:
        """`"r\\ud800"` is valid JSON but not Unicode: invalid_encoding naming the path."""
        key, value = replace.split(": ")
        line = json.dumps(RETURN_EXAMPLE).replace(replace, f'{key}: {value[:-1]}\\ud800"')
        err = parse_error(line)
        assert (err.code, err.field) == ("invalid_encoding", path)
        assert path in str(err)
        assert err.case_id is None or path != "id"
        str(err).encode("utf-8")  # the message itself can be written out

    def test_lone_surrogate_in_a_key_or_meta(self) -> None:
        """Keys and meta values are checked too; the path is printable."""
        line = json.dumps({**RETURN_EXAMPLE, "meta": {"a": ["ok", "\udc80"]}})
        err = parse_error(line)
        assert (err.code, err.field) == ("invalid_encoding", "meta.a[1]")
        line = json.dumps(RETURN_EXAMPLE).replace('"order": {', '"order": {"\\udfff": 1, ')
        err = parse_error(line)
        assert err.code == "invalid_encoding"
        assert err.field == "order.\\udfff"
        str(err).encode("utf-8")

    def test_surrogate_pairs_are_fine(self) -> None:
        """An escaped surrogate pair is one valid character."""
        line = json.dumps(example(RETURN_EXAMPLE, order__lines__0__sku="x😀"))
        assert "\\ud83d\\ude00" in line
        case = parse_case_line(line)
        assert isinstance(case, ReturnCase)
        assert case.order.lines[0].sku == "x😀"

    def test_python_objects_are_checked_too(self) -> None:
        """case_from_json checks strings given directly as Python objects."""
        err = contract_error(example(PROMOTION_EXAMPLE, promotion__name="May\ud800"))
        assert (err.code, err.field) == ("invalid_encoding", "promotion.name")

    @pytest.mark.parametrize(
        "line",
        [
            '{"id": "a", "id": "b", "kind": "promotion"}',
            '{"id": "a", "meta": {"x": 1, "x": 2}}',
        ],
    )
    def test_duplicate_keys(self, line: str) -> None:
        """The same key twice in one object is invalid_json naming the key."""
        err = parse_error(line)
        assert err.code == "invalid_json"
        assert "duplicate key" in str(err)
        assert ('"id"' if '"id": "b"' in line else '"x"') in str(err)


class TestTimeRange:
    @pytest.mark.parametrize(
        "value",
        [
            "2026-05-06T10:00:00+24:00",
            "2026-05-06T10:00:00-24:00",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59+08:00",
            "1899-12-31T23:59:59+08:00",
        ],
    )
    @pytest.mark.parametrize(
        ("base", "path"),
        [
            (PROMOTION_EXAMPLE, "at"),
            (PROMOTION_EXAMPLE, "promotion.starts_at"),
            (RETURN_EXAMPLE, "order.paid_at"),
            (RETURN_EXAMPLE, "request.goods_received_at"),
            (COMPLAINT_EXAMPLE, "complaint.delivered_at"),
        ],
    )
    def test_out_of_range_is_invalid_value(
        self, value: str, base: dict[str, Any], path: str
    ) -> None:
        """Times whose UTC or Shanghai equivalent cannot be represented are refused when read."""
        err = contract_error(example(base, **{path.replace(".", "__"): value}))
        assert (err.code, err.field) == ("invalid_value", path)
        assert "1900-01-01T00:00:00+08:00 to 9998-12-31T23:59:59+08:00" in str(err)

    @pytest.mark.parametrize(
        "line",
        [
            '"at": "2026-05-06T10:00:00+24:00"',
            '"at": "9999-12-31T23:59:59-12:00"',
            '"at": "0001-01-01T00:00:00+14:00"',
        ],
    )
    def test_decide_reports_invalid_value(self, line: str) -> None:
        """Through `csrules decide` such times are invalid_value, not internal_error."""
        text = json.dumps(RETURN_EXAMPLE).replace('"at": "2026-05-06T10:00:00+08:00"', line)
        (result,) = decide_lines([text])
        assert result["error"] == {"code": "invalid_value", "message": ANY_MESSAGE}

    @pytest.mark.parametrize("at", ["1900-01-01T00:00:00+08:00", "9998-12-31T23:59:59+08:00"])
    def test_edges_are_accepted(self, at: str) -> None:
        """The first and last accepted times are read."""
        case = case_from_json(example(COMPLAINT_EXAMPLE, at=at, complaint__delivered_at=at))
        assert encode_value(case.at) == at

    def test_last_year_is_decided(self) -> None:
        """A promotion ending at the last accepted time is decided (its dates stay in range)."""
        obj = example(
            PROMOTION_EXAMPLE,
            at="9998-12-01T00:00:00+08:00",
            promotion__starts_at="9998-12-20T00:00:00+08:00",
        )
        obj["promotion"]["ends_at"] = "9998-12-31T23:59:59+08:00"
        (result,) = decide_lines([json.dumps(obj)])
        assert "error" not in result
        assert result["decision"]["rules"]


class _AnyMessage(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    def __hash__(self) -> int:
        return 0


ANY_MESSAGE = _AnyMessage()


class TestDecideLines:
    """The JSON Lines results carry meta and every problem."""

    def test_meta_is_echoed_on_decisions(self) -> None:
        """A decision line has the case's meta, unchanged."""
        meta = {"ticket": [1, "二"], "x": {"y": None}}
        (result,) = decide_lines([json.dumps(example(RETURN_EXAMPLE, meta=meta))])
        assert result["meta"] == meta
        assert result["decision"]
        (plain,) = decide_lines([json.dumps(RETURN_EXAMPLE)])
        assert "meta" not in plain

    def test_meta_is_echoed_on_errors(self) -> None:
        """An error line has the meta when the line parsed as an object with a meta object."""
        obj = example(RETURN_EXAMPLE, meta={"k": 1}, order__status="gone")
        (result,) = decide_lines([json.dumps(obj)])
        assert result["error"]["code"] == "invalid_value"
        assert result["meta"] == {"k": 1}
        (bad_meta,) = decide_lines([json.dumps(example(RETURN_EXAMPLE, meta=[1]))])
        assert "meta" not in bad_meta

    def test_problems_listed_when_more_than_one(self) -> None:
        """`error.problems` lists each problem (code, field, message) when there are several."""
        obj = example(RETURN_EXAMPLE, request__courier_confirmd=True, order__status="gone")
        (result,) = decide_lines([json.dumps(obj)])
        error = result["error"]
        assert (error["code"], error["message"].split(":")[0]) == ("invalid_value", "order.status")
        assert [(p["code"], p["field"]) for p in error["problems"]] == [
            ("invalid_value", "order.status"),
            ("unknown_field", "request.courier_confirmd"),
        ]
        assert error["message"] == "; ".join(p["message"] for p in error["problems"])
        (single,) = decide_lines([json.dumps(example(RETURN_EXAMPLE, order__status="gone"))])
        assert set(single["error"]) == {"code", "message"}

    def test_encoding_errors_are_printable(self) -> None:
        """An id with a lone surrogate gives an error line that is valid UTF-8 JSON, id null."""
        line = json.dumps(RETURN_EXAMPLE).replace('"id": "r1"', '"id": "r\\ud800"')
        (result,) = decide_lines([line])
        assert result["id"] is None
        assert result["error"]["code"] == "invalid_encoding"
        json.dumps(result, ensure_ascii=False).encode("utf-8")
