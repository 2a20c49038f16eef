"""The JSON codec of the case contract.

Keys and enumerated values are those of the case contract. Money is a decimal
string (``"199.90"``) or an integer, never a JSON float; times are ISO-8601
with an explicit offset, which is kept; unknown keys are ignored.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar

import pendulum

from csrules._cases import Case, ComplaintCase, PriceAdjustmentCase, PromotionCase, ReturnCase
from csrules._domain import (
    Channel,
    Complaint,
    Condition,
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
)
from csrules.exceptions import ContractError, DomainValueError

__all__ = ["JSONValue", "case_from_json", "case_to_json", "encode_value", "parse_case_line"]

#: What :func:`encode_value` returns: plain JSON data.
JSONValue: TypeAlias = "str | int | bool | list[JSONValue] | dict[str, JSONValue] | None"

_T = TypeVar("_T")
_MONEY_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")

_MONEY_EXPECTED = 'a decimal string such as "199.90" or an integer (never a JSON float)'
_TIME_EXPECTED = 'an ISO-8601 time with an offset such as "2026-05-06T10:00:00+08:00"'


# ------------------------------------------------------------------ errors


def _show(value: object) -> str:
    if isinstance(value, Decimal | float):
        return f"{value} (a JSON float)"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = (
        json.dumps(value, ensure_ascii=False)
        if value is None or isinstance(value, str | int | bool)
        else repr(value)
    )
    return text if len(text) <= 80 else text[:77] + "..."


def _show_decoded(value: object) -> str:
    """Show a value that was already decoded (as a domain object refused it)."""
    if isinstance(value, Decimal | _dt.date):
        return json.dumps(encode_value(value))
    return _show(value)


def _invalid(path: str, value: object, expected: str, shown: str | None = None) -> ContractError:
    if shown is None:
        shown = _show(value)
    return ContractError("invalid_value", f"{path}: expected {expected}, got {shown}", path)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


# ------------------------------------------------------------------ readers
#
# Each reader takes the raw value and its JSON path and returns the decoded
# value, or raises ContractError("invalid_value").

_Reader: TypeAlias = Callable[[object, str], object]


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(path, value, "a non-empty string")
    return value


def _opt_text(value: object, path: str) -> str | None:
    return None if value is None else _text(value, path)


def _flag(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(path, value, "true or false")
    return value


def _int(value: object, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(path, value, "an integer")
    return value


def _money(value: object, path: str) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and _MONEY_RE.fullmatch(value):
        return Decimal(value)
    raise _invalid(path, value, _MONEY_EXPECTED)


def _opt_money(value: object, path: str) -> Decimal | None:
    return None if value is None else _money(value, path)


_ZONES: dict[int, pendulum.FixedTimezone] = {}


def parse_aware_time(value: object) -> pendulum.DateTime | None:
    """An ISO-8601 time with an explicit offset, or ``None`` for anything else
    (not a string, unparsable, a date only, or no offset: never a guess)."""
    if not isinstance(value, str):
        return None
    try:
        # the standard library's C parser is ~40 times faster than pendulum's
        parsed_std = _dt.datetime.fromisoformat(value)
    except ValueError:
        return _parse_with_pendulum(value)
    offset = parsed_std.utcoffset()
    if offset is None:
        return None
    seconds = int(offset.total_seconds())
    zone = _ZONES.get(seconds)
    if zone is None:
        zone = _ZONES.setdefault(seconds, pendulum.FixedTimezone(seconds))
    d = parsed_std
    return pendulum.DateTime(
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=zone
    )


def _parse_with_pendulum(value: str) -> pendulum.DateTime | None:
    try:
        parsed = pendulum.parse(value, exact=True, tz=None)
    except (ValueError, TypeError, OverflowError):
        return None
    if isinstance(parsed, pendulum.DateTime) and parsed.utcoffset() is not None:
        return parsed
    return None


def _time(value: object, path: str) -> pendulum.DateTime:
    parsed = parse_aware_time(value)
    if parsed is None:
        raise _invalid(path, value, _TIME_EXPECTED)
    return parsed


def _opt_time(value: object, path: str) -> pendulum.DateTime | None:
    return None if value is None else _time(value, path)


def _enum(cls: type[enum.StrEnum], optional: bool = False) -> _Reader:
    values = {m.value: m for m in cls}
    expected = "one of " + ", ".join(json.dumps(v) for v in values)
    if optional:
        expected += ", or null"

    def read(value: object, path: str) -> object:
        if optional and value is None:
            return None
        if isinstance(value, str):
            member = values.get(value)
            if member is not None:
                return member
        raise _invalid(path, value, expected)

    return read


def _object(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise _invalid(path, value, "an object")
    return value


_Field: TypeAlias = tuple[str, _Reader, bool]  # JSON key, reader, required


def _read_fields(
    obj: Mapping[str, object], prefix: str, fields: tuple[_Field, ...]
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for key, reader, required in fields:
        if key in obj:
            kwargs[key] = reader(obj[key], _join(prefix, key))
        elif required:
            path = _join(prefix, key)
            raise ContractError("missing_field", f"{path}: missing (required)", path)
    return kwargs


def _build(
    cls: Callable[..., _T],
    prefix: str,
    kwargs: dict[str, Any],
    rename: Mapping[str, str] | None = None,
) -> _T:
    """Build a domain object, turning its validation error into a ContractError."""
    try:
        return cls(**kwargs)
    except DomainValueError as exc:
        rest = exc.field.split(".", 1)[-1]
        path = rename[rest] if rename and rest in rename else _join(prefix, rest)
        raise _invalid(path, exc.value, exc.expected, _show_decoded(exc.value)) from None


# ------------------------------------------------------------------ decoding

_LINE_FIELDS: tuple[_Field, ...] = (
    ("sku", _text, True),
    ("unit_price", _money, True),
    ("quantity", _int, True),
    ("special_price", _flag, False),
    ("category", _text, False),
)
_ORDER_FIELDS: tuple[_Field, ...] = (
    ("id", _text, True),
    ("customer_id", _text, True),
    ("status", _enum(OrderStatus), True),
    ("placed_at", _time, True),
    ("paid_at", _opt_time, False),
    ("shipped_at", _opt_time, False),
    ("signed_at", _opt_time, False),
    ("payment_method", _enum(PaymentMethod), False),
    ("in_warehouse_system", _flag, False),
    ("shipping_fee", _money, False),
    ("free_shipping_promotion", _flag, False),
)
_CONDITION_FIELDS: tuple[_Field, ...] = (
    ("tag_intact", _flag, True),
    ("unwashed", _flag, True),
    ("undamaged", _flag, True),
    ("delivery_note_complete", _flag, True),
    ("order_number_given", _flag, True),
    ("delivery_note_number_given", _flag, True),
    ("packaging_intact", _flag, False),
)
_REQUEST_FIELDS: tuple[_Field, ...] = (
    ("type", _enum(RequestType), True),
    ("reason", _enum(Reason), True),
    ("courier_confirmed", _flag, False),
    ("proof_submitted_at", _opt_time, False),
    ("goods_received_at", _opt_time, False),
)
_COMPLAINT_FIELDS: tuple[_Field, ...] = (
    ("customer_id", _text, True),
    ("channel", _enum(Channel), True),
    ("topic", _enum(Topic), True),
    ("sku", _opt_text, False),
    ("about_department", _opt_text, False),
    ("about_staff", _opt_text, False),
    ("order_amount", _opt_money, False),
    ("customer_paid_total", _money, False),
    ("contact_count", _int, False),
    ("delivered_at", _opt_time, False),
)
_PROMOTION_FIELDS: tuple[_Field, ...] = (
    ("name", _text, True),
    ("starts_at", _time, True),
    ("ends_at", _time, True),
    ("planned_sales", _money, False),
    ("price_factor", _money, False),
    ("coupon_value", _money, False),
    ("exclusive", _flag, False),
    ("free_shipping", _flag, False),
)
_PRICE_ADJUSTMENT_FIELDS: tuple[_Field, ...] = (
    ("paid", _flag, True),
    ("customer_paid_total", _money, True),
    ("requested_amount", _money, True),
    ("manager_approved", _flag, False),
)


def _required_object(obj: Mapping[str, object], key: str, prefix: str) -> Mapping[str, object]:
    path = _join(prefix, key)
    if key not in obj:
        raise ContractError("missing_field", f"{path}: missing (required)", path)
    return _object(obj[key], path)


def _decode_order(obj: Mapping[str, object], path: str) -> Order:
    kwargs = _read_fields(obj, path, _ORDER_FIELDS)
    lines_path = _join(path, "lines")
    if "lines" not in obj:
        raise ContractError("missing_field", f"{lines_path}: missing (required)", lines_path)
    raw_lines = obj["lines"]
    if not isinstance(raw_lines, list) or not raw_lines:
        raise _invalid(lines_path, raw_lines, "a non-empty array of order lines")
    lines = []
    for i, raw in enumerate(raw_lines):
        line_path = f"{lines_path}[{i}]"
        line_obj = _object(raw, line_path)
        lines.append(_build(OrderLine, line_path, _read_fields(line_obj, line_path, _LINE_FIELDS)))
    kwargs["lines"] = tuple(lines)
    return _build(Order, path, kwargs)


def _decode_request(obj: Mapping[str, object], path: str) -> ReturnRequest:
    kwargs = _read_fields(obj, path, _REQUEST_FIELDS)
    raw = obj.get("condition")
    if raw is not None:
        cond_path = _join(path, "condition")
        cond_obj = _object(raw, cond_path)
        kwargs["condition"] = _build(
            Condition, cond_path, _read_fields(cond_obj, cond_path, _CONDITION_FIELDS)
        )
    return _build(ReturnRequest, path, kwargs)


def _decode_promotion(obj: Mapping[str, object], path: str) -> Promotion:
    return _build(Promotion, path, _read_fields(obj, path, _PROMOTION_FIELDS))


def _decode_return(obj: Mapping[str, object], case_id: str, at: pendulum.DateTime) -> Case:
    order = _decode_order(_required_object(obj, "order", ""), "order")
    request = _decode_request(_required_object(obj, "request", ""), "request")
    return _build(ReturnCase, "", {"id": case_id, "at": at, "order": order, "request": request})


def _decode_complaint(obj: Mapping[str, object], case_id: str, at: pendulum.DateTime) -> Case:
    raw = _required_object(obj, "complaint", "")
    kwargs = _read_fields(raw, "complaint", _COMPLAINT_FIELDS)
    kwargs["id"] = case_id
    kwargs["received_at"] = at
    complaint = _build(Complaint, "complaint", kwargs, {"id": "id", "received_at": "at"})
    return _build(ComplaintCase, "", {"id": case_id, "at": at, "complaint": complaint})


def _decode_promotion_case(obj: Mapping[str, object], case_id: str, at: pendulum.DateTime) -> Case:
    promotion = _decode_promotion(_required_object(obj, "promotion", ""), "promotion")
    return _build(PromotionCase, "", {"id": case_id, "at": at, "promotion": promotion})


def _decode_price_adjustment(
    obj: Mapping[str, object], case_id: str, at: pendulum.DateTime
) -> Case:
    promotion = _decode_promotion(_required_object(obj, "promotion", ""), "promotion")
    kwargs = _read_fields(obj, "", _PRICE_ADJUSTMENT_FIELDS)
    kwargs["promotion"] = promotion
    request = _build(PriceAdjustmentRequest, "", kwargs)
    return _build(PriceAdjustmentCase, "", {"id": case_id, "at": at, "request": request})


_DECODERS: dict[str, Callable[[Mapping[str, object], str, pendulum.DateTime], Case]] = {
    "return": _decode_return,
    "complaint": _decode_complaint,
    "promotion": _decode_promotion_case,
    "price_adjustment": _decode_price_adjustment,
}


def case_from_json(obj: Mapping[str, object]) -> Case:
    """Decode one case from its JSON object (as given by :func:`json.loads`).

    Args:
        obj: the decoded JSON object of one case.

    Returns:
        The case: a :class:`~csrules.ReturnCase`, :class:`~csrules.ComplaintCase`,
        :class:`~csrules.PromotionCase` or :class:`~csrules.PriceAdjustmentCase`.

    Raises:
        ContractError: the object breaks the contract. ``code`` is
            ``"missing_field"``, ``"invalid_value"`` (wrong type, unknown enum
            value, JSON float money, unparsable time or time without offset,
            a value a domain object refuses) or ``"unknown_kind"``; ``field``
            is the JSON path (``"order.lines[0].unit_price"``) and ``case_id``
            the case's id when it could be read.
    """
    if not isinstance(obj, Mapping):
        raise ContractError("invalid_value", f"a case must be a JSON object, got {_show(obj)}")
    raw_id = obj.get("id")
    case_id = raw_id if isinstance(raw_id, str) and raw_id else None
    try:
        if "id" not in obj:
            raise ContractError("missing_field", "id: missing (required)", "id")
        if case_id is None:
            raise _invalid("id", raw_id, "a non-empty string")
        if "kind" not in obj:
            raise ContractError("missing_field", "kind: missing (required)", "kind")
        kind = obj["kind"]
        decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
        if decoder is None:
            raise ContractError(
                "unknown_kind",
                f"kind: expected one of {', '.join(json.dumps(k) for k in _DECODERS)}, "
                f"got {_show(kind)}",
                "kind",
            )
        if "at" not in obj:
            raise ContractError("missing_field", "at: missing (required)", "at")
        at = _time(obj["at"], "at")
        return decoder(obj, case_id, at)
    except ContractError as exc:
        exc.case_id = case_id
        raise


def parse_case_line(line: str) -> Case:
    """Decode one case from one line of JSON text.

    JSON floats are kept apart from integers so that float money is refused.

    Raises:
        ContractError: ``code`` ``"invalid_json"`` when the text is not JSON
            (``NaN`` and ``Infinity`` are not JSON), else as :func:`case_from_json`.
    """
    try:
        obj = json.loads(line, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ContractError("invalid_json", f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ContractError("invalid_value", f"a case must be a JSON object, got {_show(obj)}")
    return case_from_json(obj)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


# ------------------------------------------------------------------ encoding


def encode_value(value: object) -> JSONValue:
    """Turn a value into plain JSON data.

    ``Decimal`` becomes a decimal string (``"199.90"``), an aware datetime an
    ISO-8601 string with its offset, a date ``"YYYY-MM-DD"``, an enum its
    value, a tuple or list a list and a mapping a dict (keys as strings).
    ``str``, ``int``, ``bool`` and ``None`` are kept.

    Raises:
        TypeError: for a ``float`` (money is never a float) or any other type.
        ValueError: for a naive datetime or a non-finite ``Decimal``.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, enum.Enum):
        return encode_value(value.value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot encode {value!r}: not a finite amount")
        return format(value, "f")
    if isinstance(value, _dt.datetime):
        if value.utcoffset() is None:
            raise ValueError(f"cannot encode {value!r}: a time needs a time zone")
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [encode_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(encode_value(k)): encode_value(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} {value!r} as JSON")


def _order_to_json(order: Order) -> dict[str, object]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "status": order.status.value,
        "in_warehouse_system": order.in_warehouse_system,
        "placed_at": encode_value(order.placed_at),
        "paid_at": encode_value(order.paid_at),
        "shipped_at": encode_value(order.shipped_at),
        "signed_at": encode_value(order.signed_at),
        "payment_method": order.payment_method.value,
        "lines": [
            {
                "sku": line.sku,
                "unit_price": encode_value(line.unit_price),
                "quantity": line.quantity,
                "special_price": line.special_price,
                "category": line.category,
            }
            for line in order.lines
        ],
        "shipping_fee": encode_value(order.shipping_fee),
        "free_shipping_promotion": order.free_shipping_promotion,
    }


def _condition_to_json(condition: Condition | None) -> dict[str, object] | None:
    if condition is None:
        return None
    return {
        "tag_intact": condition.tag_intact,
        "unwashed": condition.unwashed,
        "undamaged": condition.undamaged,
        "delivery_note_complete": condition.delivery_note_complete,
        "order_number_given": condition.order_number_given,
        "delivery_note_number_given": condition.delivery_note_number_given,
        "packaging_intact": condition.packaging_intact,
    }


def _request_to_json(request: ReturnRequest) -> dict[str, object]:
    return {
        "type": request.type.value,
        "reason": request.reason.value,
        "courier_confirmed": request.courier_confirmed,
        "condition": _condition_to_json(request.condition),
        "proof_submitted_at": encode_value(request.proof_submitted_at),
        "goods_received_at": encode_value(request.goods_received_at),
    }


def _complaint_to_json(complaint: Complaint) -> dict[str, object]:
    return {
        "customer_id": complaint.customer_id,
        "channel": complaint.channel.value,
        "topic": complaint.topic.value,
        "sku": complaint.sku,
        "about_department": encode_value(complaint.about_department),
        "about_staff": complaint.about_staff,
        "order_amount": encode_value(complaint.order_amount),
        "customer_paid_total": encode_value(complaint.customer_paid_total),
        "contact_count": complaint.contact_count,
        "delivered_at": encode_value(complaint.delivered_at),
    }


def _promotion_to_json(promotion: Promotion) -> dict[str, object]:
    return {
        "name": promotion.name,
        "starts_at": encode_value(promotion.starts_at),
        "ends_at": encode_value(promotion.ends_at),
        "planned_sales": encode_value(promotion.planned_sales),
        "price_factor": encode_value(promotion.price_factor),
        "coupon_value": encode_value(promotion.coupon_value),
        "exclusive": promotion.exclusive,
        "free_shipping": promotion.free_shipping,
    }


def case_to_json(case: Case) -> dict[str, object]:
    """Encode a case as its JSON object; the exact inverse of :func:`case_from_json`.

    Money is written as decimal strings, times as ISO-8601 with their offset;
    optional values that are not set are written as ``null``.
    """
    head: dict[str, object] = {"id": case.id, "kind": case.kind, "at": encode_value(case.at)}
    if isinstance(case, ReturnCase):
        head["order"] = _order_to_json(case.order)
        head["request"] = _request_to_json(case.request)
    elif isinstance(case, ComplaintCase):
        head["complaint"] = _complaint_to_json(case.complaint)
    elif isinstance(case, PromotionCase):
        head["promotion"] = _promotion_to_json(case.promotion)
    elif isinstance(case, PriceAdjustmentCase):
        request = case.request
        head["promotion"] = _promotion_to_json(request.promotion)
        head["paid"] = request.paid
        head["customer_paid_total"] = encode_value(request.customer_paid_total)
        head["requested_amount"] = encode_value(request.requested_amount)
        head["manager_approved"] = request.manager_approved
    else:
        raise TypeError(f"not a case: {type(case).__name__}")
    return head
