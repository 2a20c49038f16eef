"""The JSON codec of the case contract.

Keys and enumerated values are those of the case contract. Money is a decimal
string (``"199.90"``) or an integer, never a JSON float; times are ISO-8601
with an explicit offset, which is kept. The decoder is strict: an unknown key
at any level, a duplicate key, a string that is not valid Unicode or a time
outside the accepted range is an error, and every problem of a case is
reported at once.

The shape of each kind is written once, as the field tables below
(:data:`KIND_SPECS`): the decoder reads them, and :mod:`csrules.io._schema`
turns the same tables into the JSON Schema and the field reference of
``docs/contract.md``.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import enum
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final, Literal, TypeAlias

import attrs
import pendulum
from pendulum.tz import fixed_timezone

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
from csrules.exceptions import ContractError, DomainValueError, Problem

__all__ = [
    "KIND_SPECS",
    "TIME_RANGE",
    "ArraySpec",
    "CaseInput",
    "FactType",
    "Field",
    "JSONValue",
    "ObjectSpec",
    "ValueType",
    "case_from_json",
    "case_to_json",
    "encode_value",
    "parse_case_line",
    "read_case",
    "read_case_line",
]

#: What :func:`encode_value` returns: plain JSON data.
JSONValue: TypeAlias = "str | int | bool | list[JSONValue] | dict[str, JSONValue] | None"

_MONEY_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
_MONEY_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_TIME_PATTERN = (
    r"^[0-9]{4}-?[0-9]{2}-?[0-9]{2}T.*([Zz]|[+-][0-9]{2}(:?[0-9]{2}(:?[0-9]{2}(\.[0-9]+)?)?)?)$"
)

_MONEY_EXPECTED = 'a decimal string >= 0 such as "199.90" or an integer (never a JSON float)'
_TIME_EXPECTED = 'an ISO-8601 time with an offset such as "2026-05-06T10:00:00+08:00"'

#: The times a case may carry, as seen in Asia/Shanghai: a time outside
#: this range is refused when the case is read (dates computed from it, such
#: as a refund due date, stay representable).
TIME_RANGE: Final = (
    _dt.datetime(1900, 1, 1, tzinfo=_dt.timezone(_dt.timedelta(hours=8))),
    _dt.datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=_dt.timezone(_dt.timedelta(hours=8))),
)
_RANGE_TEXT = (
    "a time from 1900-01-01T00:00:00+08:00 to 9998-12-31T23:59:59+08:00 "
    "with an offset strictly between -24:00 and +24:00"
)


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


_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE_RE = re.compile(r"\\[uU][dD][89a-fA-F]")


def _safe(text: object) -> str:
    """``text`` with any lone surrogate written as ``\\udXXX`` (so it can be printed)."""
    if not isinstance(text, str):
        return repr(text)
    if text.isascii():
        return text
    return _SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# ------------------------------------------------------------------ readers
#
# Each reader takes the raw value and its JSON path and returns the decoded
# value, or raises ContractError("invalid_value").

_Reader: TypeAlias = Callable[[object, str], object]


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(path, value, "a non-empty string")
    return value


def _flag(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(path, value, "true or false")
    return value


def _count(value: object, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _invalid(path, value, "an integer >= 1")
    return value


def _integer(value: object, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(path, value, "an integer")
    return value


def _money(value: object, path: str) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Decimal(value)
    if isinstance(value, str) and _MONEY_RE.fullmatch(value):
        return Decimal(value)
    raise _invalid(path, value, _MONEY_EXPECTED)


def _any_object(value: object, path: str) -> object:
    if not isinstance(value, Mapping):
        raise _invalid(path, value, "an object")
    return echoed_json(value, path)


class JSONNumber(Decimal):
    """A JSON number with a fraction or exponent, as read: its value, and
    its text (``text``) as it stood in the line."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> JSONNumber:
        self = Decimal.__new__(cls, text)
        self.text = text
        return self


class EchoedFloat(float):
    """A ``float`` that remembers the JSON text it was read from (``text``),
    so that ``csrules decide`` writes ``meta`` numbers back as they came."""

    text: str

    def __new__(cls, value: float, text: str) -> EchoedFloat:
        self = float.__new__(cls, value)
        self.text = text
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (float, (float(self),))


def echoed_json(value: Any, path: str) -> Any:
    """``value`` (JSON read with decimal numbers) as plain JSON data to write back.

    A JSON number with a fraction or exponent becomes a ``float`` that keeps
    its text (:class:`EchoedFloat`: the result line writes that text back
    unchanged); one that no ``float`` can hold (``1e99999``) is refused,
    since a JSON reader could not hold it either.

    Raises:
        ContractError: ``invalid_value`` naming the path of such a number.
    """
    if isinstance(value, Decimal):
        number = float(value)
        if not math.isfinite(number) or (number == 0 and not value.is_zero()):
            raise _invalid(path, value, "a number a JSON reader can hold (a 64-bit float)")
        if isinstance(value, JSONNumber):
            return EchoedFloat(number, value.text)
        return number
    if isinstance(value, Mapping):
        return {k: echoed_json(v, _join(path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [echoed_json(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


# one zone object per offset seen, up to _MAX_ZONES of them (real data has a few)
_ZONES: dict[_dt.timedelta, pendulum.FixedTimezone] = {}
_MAX_ZONES: Final = 64


def parse_aware_time(value: object) -> pendulum.DateTime | None:
    """An ISO-8601 time with an explicit offset, or ``None`` for anything else
    (not a string, unparsable, a date only, no offset, or an offset of 24
    hours or more: never a guess)."""
    if not isinstance(value, str):
        return None
    try:
        # the standard library's C parser is ~40 times faster than pendulum's
        d = _dt.datetime.fromisoformat(value)
    except ValueError:
        return _parse_with_pendulum(value)
    offset = d.utcoffset()
    if offset is None:
        return None
    zone = _ZONES.get(offset)
    if zone is None:
        # pendulum's own object for the offset: the one pendulum.parse gives
        zone = fixed_timezone(int(offset.total_seconds()))
        if len(_ZONES) < _MAX_ZONES:
            _ZONES[offset] = zone
    return pendulum.DateTime(
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=zone
    )


def _parse_with_pendulum(value: str) -> pendulum.DateTime | None:
    try:
        parsed = pendulum.parse(value, exact=True, tz=None)
        if isinstance(parsed, pendulum.DateTime) and parsed.utcoffset() is not None:
            return parsed
    except (ValueError, TypeError, OverflowError):
        return None
    return None


def _time(value: object, path: str) -> pendulum.DateTime:
    parsed = parse_aware_time(value)
    if parsed is None:
        if isinstance(value, str) and re.search(r"[+-]24(:?00)?$", value):
            raise _invalid(path, value, _RANGE_TEXT)
        raise _invalid(path, value, _TIME_EXPECTED)
    if not 1900 < parsed.year < 9998 and not TIME_RANGE[0] <= parsed <= TIME_RANGE[1]:
        raise _invalid(path, value, _RANGE_TEXT)
    return parsed


def _enum_reader(values: tuple[str, ...], convert: Callable[[str], object]) -> _Reader:
    # each value converted once, up front: the reader only looks it up
    known = {v: convert(v) for v in values}
    expected = "one of " + ", ".join(json.dumps(v) for v in values)

    def read(value: object, path: str) -> object:
        if isinstance(value, str):
            found = known.get(value, _FAILED)
            if found is not _FAILED:
                return found
        raise _invalid(path, value, expected)

    return read


# ------------------------------------------------------------------ field tables


@attrs.frozen
class ValueType:
    """A JSON value type of the contract: how it is read, and how it is described.

    Attributes:
        label: the type in words, for the field reference (``"money"``).
        read: the reader (raw value, JSON path) -> decoded value; raises
            :class:`~csrules.exceptions.ContractError` (``invalid_value``).
        schema: its JSON Schema.
        values: the allowed values of an enumeration, else empty.
        note: allowed values in words, for the field reference.
    """

    label: str
    read: _Reader
    schema: Mapping[str, Any]
    values: tuple[str, ...] = ()
    note: str = ""


def _enum_type(cls: type[enum.StrEnum]) -> ValueType:
    values = tuple(m.value for m in cls)
    return ValueType("string", _enum_reader(values, cls), {"enum": list(values)}, values, "")


TEXT: Final = ValueType("string", _text, {"type": "string", "minLength": 1}, note="non-empty")
FLAG: Final = ValueType("boolean", _flag, {"type": "boolean"})
COUNT: Final = ValueType("integer", _count, {"type": "integer", "minimum": 1}, note=">= 1")
#: Any whole number (a rule set's own integer facts may be 0 or negative).
INTEGER: Final = ValueType("integer", _integer, {"type": "integer"})
MONEY: Final = ValueType(
    "money",
    _money,
    {
        "anyOf": [
            {"type": "string", "pattern": _MONEY_PATTERN},
            {"type": "integer", "minimum": 0},
        ]
    },
    note='decimal string such as `"199.90"`, or an integer; >= 0; never a JSON float',
)
TIME: Final = ValueType(
    "time",
    _time,
    {"type": "string", "format": "date-time", "pattern": _TIME_PATTERN},
    note="ISO-8601 with an offset, 1900 to 9998",
)
ANY_OBJECT: Final = ValueType("object", _any_object, {"type": "object"}, note="any JSON object")

#: The type names a rule set may give the extra facts it declares (see ``facts``).
FactType: TypeAlias = Literal["string", "boolean", "integer", "money", "time"]
_FACT_TYPES: Final[Mapping[str, ValueType]] = {
    "string": TEXT,
    "boolean": FLAG,
    "integer": INTEGER,
    "money": MONEY,
    "time": TIME,
}


@attrs.frozen
class Field:
    """One key of a JSON object of the contract.

    Attributes:
        key: the JSON key.
        type: a :class:`ValueType`, or an :class:`ObjectSpec` / :class:`ArraySpec`
            for a nested object or array of objects.
        required: the key must be present.
        meaning: what the value means, for the field reference.
        clause: the policy clause(s) the value serves, or ``""``.
        nullable: ``null`` is accepted and means "not set".
    """

    key: str
    type: ValueType | ObjectSpec | ArraySpec
    required: bool
    meaning: str
    clause: str = ""
    nullable: bool = False
    reader: _Reader | None = attrs.field(init=False, eq=False, repr=False)

    @reader.default
    def _reader(self) -> _Reader | None:
        return self.type.read if isinstance(self.type, ValueType) else None


@attrs.frozen
class ObjectSpec:
    """A JSON object of the contract: its fields, in documentation order.

    Attributes:
        fields: the keys it may have; any other key is an ``unknown_field`` error.
        build: turns the decoded values (key -> value, only keys present) into
            a domain object, or ``None`` to keep them as a dict.
        noun: what a key names, for the unknown-key message.
    """

    fields: tuple[Field, ...]
    build: Callable[..., object] | None = None
    noun: str = "key"
    by_key: Mapping[str, Field] = attrs.field(init=False, eq=False, repr=False)
    # (key, reader or None, required, nullable, type) per field, for the decoder's loop
    rows: tuple[tuple[str, _Reader | None, bool, bool, Any], ...] = attrs.field(
        init=False, eq=False, repr=False
    )

    @by_key.default
    def _by_key(self) -> Mapping[str, Field]:
        return {f.key: f for f in self.fields}

    @rows.default
    def _rows(self) -> tuple[tuple[str, _Reader | None, bool, bool, Any], ...]:
        return tuple((f.key, f.reader, f.required, f.nullable, f.type) for f in self.fields)


@attrs.frozen
class ArraySpec:
    """A non-empty JSON array of objects of one shape."""

    item: ObjectSpec
    meaning: str = "a non-empty array"


_LINE = ObjectSpec(
    (
        Field("sku", TEXT, True, "the product's SKU"),
        Field("unit_price", MONEY, True, "price of one unit, CNY"),
        Field("quantity", COUNT, True, "units ordered"),
        Field("special_price", FLAG, False, "sold at a special price (default false)", "B2C-7.4.4"),
        Field(
            "category",
            TEXT,
            False,
            "free text (default `general`); `custom_made`, `fresh`, `digital_download`, "
            "`periodical` and `non_returnable_confirmed` are excluded from no-reason returns",
            "LAW-25.2",
        ),
    ),
    OrderLine,
)
_ORDER = ObjectSpec(
    (
        Field("id", TEXT, True, "the order number"),
        Field("customer_id", TEXT, True, "the customer's id"),
        Field("status", _enum_type(OrderStatus), True, "where the order is"),
        Field("placed_at", TIME, True, "when the order was placed"),
        Field("paid_at", TIME, False, "when it was paid", "B2C-7.8.1", nullable=True),
        Field("shipped_at", TIME, False, "when it left the warehouse", nullable=True),
        Field(
            "signed_at", TIME, False, "when the customer signed for it", "LAW-25.1", nullable=True
        ),
        Field(
            "payment_method",
            _enum_type(PaymentMethod),
            False,
            "how it was paid (default `alipay`)",
            "NEW-7",
        ),
        Field(
            "in_warehouse_system",
            FLAG,
            False,
            "already passed to the warehouse system (default false)",
            "TB-1.2.3",
        ),
        Field("lines", ArraySpec(_LINE), True, "the order lines, at least one"),
        Field("shipping_fee", MONEY, False, "freight charged to the customer (default 0)"),
        Field(
            "free_shipping_promotion",
            FLAG,
            False,
            "shipped free under a promotion (default false)",
            "B2C-7.10.2",
        ),
    ),
    Order,
)
_CONDITION = ObjectSpec(
    (
        Field("tag_intact", FLAG, True, "the tag is on", "TB-1.4.1"),
        Field("unwashed", FLAG, True, "not washed", "B2C-7.4.2"),
        Field("undamaged", FLAG, True, "not damaged", "B2C-7.4.2"),
        Field("delivery_note_complete", FLAG, True, "the delivery note is complete", "B2C-7.4.2"),
        Field(
            "order_number_given", FLAG, True, "the order number came with the goods", "B2C-7.4.2"
        ),
        Field(
            "delivery_note_number_given",
            FLAG,
            True,
            "the delivery note number came with the goods",
            "B2C-7.4.2",
        ),
        Field("packaging_intact", FLAG, False, "packaging present (default true)", "TB-1.4.1"),
    ),
    Condition,
)
_REQUEST = ObjectSpec(
    (
        Field("type", _enum_type(RequestType), True, "what the customer asks for"),
        Field("reason", _enum_type(Reason), True, "why"),
        Field(
            "courier_confirmed",
            FLAG,
            False,
            "the courier confirmed the damage or loss (default false)",
            "B2C-7.10.4b",
        ),
        Field(
            "condition",
            _CONDITION,
            False,
            "state of the goods; needed when goods come back after shipment",
            "B2C-7.4.2",
            nullable=True,
        ),
        Field(
            "proof_submitted_at",
            TIME,
            False,
            "when the customer's proof (or request) was submitted",
            "B2C-7.8.2",
            nullable=True,
        ),
        Field(
            "goods_received_at",
            TIME,
            False,
            "when the shop received the returned goods",
            "LAW-25.5",
            nullable=True,
        ),
    ),
    ReturnRequest,
)
_COMPLAINT = ObjectSpec(
    (
        Field("customer_id", TEXT, True, "the customer's id"),
        Field("channel", _enum_type(Channel), True, "how the complaint came in", "B2C-8.10"),
        Field("topic", _enum_type(Topic), True, "what it is about", "B2C-5"),
        Field("sku", TEXT, False, "the product concerned", nullable=True),
        Field("about_department", TEXT, False, "the department complained about", nullable=True),
        Field("about_staff", TEXT, False, "the staff member complained about", nullable=True),
        Field("order_amount", MONEY, False, "the order's amount, CNY", "B2C-7.16.3", nullable=True),
        Field(
            "customer_paid_total",
            MONEY,
            False,
            "the customer's total paid so far, CNY (default 0)",
            "B2C-7.16.3",
        ),
        Field(
            "contact_count",
            COUNT,
            False,
            "times this customer has now contacted us about this problem, this one included "
            "(default 1)",
            "B2C-7.16.3",
        ),
        Field(
            "delivered_at", TIME, False, "when the goods were delivered", "B2C-8.7.2", nullable=True
        ),
    )
)
_PROMOTION = ObjectSpec(
    (
        Field("name", TEXT, True, "the promotion's name"),
        Field("starts_at", TIME, True, "when it starts", "B2C-7.11.3"),
        Field("ends_at", TIME, True, "when it ends (after `starts_at`)", "B2C-7.11.3"),
        Field("planned_sales", MONEY, False, "planned sales, CNY (default 0)", "B2C-7.14.2"),
        Field(
            "price_factor",
            MONEY,
            False,
            'fraction of the list price paid, 0 < factor <= 1 (7折 is `"0.7"`; default 1)',
            "B2C-7.14.2",
        ),
        Field("coupon_value", MONEY, False, "coupon value, CNY (default 0)", "B2C-7.14.2"),
        Field(
            "exclusive", FLAG, False, "cannot be combined with others (default false)", "B2C-7.11.2"
        ),
        Field("free_shipping", FLAG, False, "ships free (default false)", "TB-EMS"),
    ),
    Promotion,
)

_KINDS: Final = ("return", "complaint", "promotion", "price_adjustment")
_KIND_TEXT: Final = ", ".join(json.dumps(k) for k in _KINDS)


def _kind_type(kind: str) -> ValueType:
    return ValueType("string", lambda value, path: value, {"const": kind}, (kind,))


def _head(kind: str) -> tuple[Field, ...]:
    return (
        Field("id", TEXT, True, "the case id, echoed back"),
        Field("kind", _kind_type(kind), True, "the kind of case"),
        Field("at", TIME, True, "when the case is decided: the request or complaint time"),
        Field("meta", ANY_OBJECT, False, "anything the caller wants echoed back in the result"),
        Field(
            "facts",
            ObjectSpec((), noun="fact"),
            False,
            "values of the extra facts the rule set declares (none in the bundled ones)",
        ),
    )


#: The field table of each case kind: the top-level object of its JSON case.
KIND_SPECS: Final[Mapping[str, ObjectSpec]] = {
    "return": ObjectSpec(
        (
            *_head("return"),
            Field("order", _ORDER, True, "the order concerned"),
            Field("request", _REQUEST, True, "what the customer asks for"),
        )
    ),
    "complaint": ObjectSpec(
        (*_head("complaint"), Field("complaint", _COMPLAINT, True, "the complaint")),
    ),
    "promotion": ObjectSpec(
        (*_head("promotion"), Field("promotion", _PROMOTION, True, "the promotion")),
    ),
    "price_adjustment": ObjectSpec(
        (
            *_head("price_adjustment"),
            Field(
                "promotion",
                _PROMOTION,
                True,
                "the promotion whose price the customer asks for",
                "B2C-7.11.1",
            ),
            Field("paid", FLAG, True, "the order is already paid", "B2C-7.11.1a"),
            Field(
                "customer_paid_total",
                MONEY,
                True,
                "the customer's total paid so far, CNY",
                "B2C-7.11.1b",
            ),
            Field("requested_amount", MONEY, True, "the amount asked back, CNY", "B2C-7.11.1b"),
            Field(
                "manager_approved",
                FLAG,
                False,
                "a manager signed off the re-pricing (default false)",
                "B2C-7.11.1a",
            ),
        )
    ),
}


def facts_spec(declared: Mapping[str, FactType] | None = None) -> ObjectSpec:
    """The ``facts`` object for a rule set declaring ``declared`` (name -> type)."""
    fields = tuple(
        Field(name, _FACT_TYPES[kind], False, f"declared fact ({kind})")
        for name, kind in (declared or {}).items()
    )
    return ObjectSpec(fields, noun="fact")


# ------------------------------------------------------------------ decoding


class _Failed:
    """A value that could not be read (its problems are already recorded)."""


_FAILED: Final = _Failed()


class _Reading:
    """The problems found while reading one case, in order."""

    __slots__ = ("domain", "problems")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.domain: list[bool] = []

    def add(self, code: str, field: str | None, message: str, *, domain: bool = False) -> None:
        self.problems.append(Problem(code, field, message))
        self.domain.append(domain)

    def add_error(self, err: ContractError, *, domain: bool = False) -> None:
        for problem in err.problems:
            self.add(*problem, domain=domain)


def _unknown_key(path: str, key: object, spec: ObjectSpec) -> str:
    known = [f.key for f in spec.fields]
    where = _join(path, _safe(key))
    what = "no such fact" if spec.noun == "fact" else "unknown key"
    close = difflib.get_close_matches(key, known, n=1) if isinstance(key, str) else []
    if close:
        return f"{where}: {what}, did you mean `{close[0]}`?"
    if not known:
        return f"{where}: {what} (the rule set declares no extra facts)"
    listed = ", ".join(f"`{k}`" for k in known)
    return f"{where}: {what} (known {spec.noun}s: {listed})"


def _echoable(meta: object) -> Mapping[str, Any] | None:
    """The ``meta`` object to echo on the line's result, or ``None`` if it cannot be."""
    if not isinstance(meta, Mapping):
        return None
    try:
        echoed: Mapping[str, Any] = echoed_json(meta, "meta")
    except ContractError:
        return None  # reported by the field reader
    return echoed


def _read_object(raw: object, path: str, spec: ObjectSpec, reading: _Reading) -> Any:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        reading.add_error(_invalid(path, raw, "an object"))
        return _FAILED
    before = len(reading.problems)
    if not raw.keys() <= spec.by_key.keys():
        for key in raw:
            if key not in spec.by_key:
                where = _join(path, _safe(key))
                reading.add("unknown_field", where, _unknown_key(path, key, spec))
    values: dict[str, Any] = {}
    for key, read, required, nullable, kind in spec.rows:
        if key not in raw:
            if required:
                field_path = _join(path, key)
                reading.add("missing_field", field_path, f"{field_path}: missing (required)")
            continue
        value = raw[key]
        if value is None and nullable:
            values[key] = None
        elif read is not None:
            try:
                values[key] = read(value, f"{path}.{key}" if path else key)
            except ContractError as err:
                reading.add_error(err)
        elif isinstance(kind, ObjectSpec):
            values[key] = _read_object(value, _join(path, key), kind, reading)
        else:
            values[key] = _read_array(value, _join(path, key), kind, reading)
    if len(reading.problems) > before:
        return _FAILED
    if spec.build is None:
        return values
    return _build(spec.build, path, values, reading)


def _read_array(raw: object, path: str, spec: ArraySpec, reading: _Reading) -> Any:
    if not isinstance(raw, list) or not raw:
        reading.add_error(_invalid(path, raw, "a non-empty array of objects"))
        return _FAILED
    items = [_read_object(item, f"{path}[{i}]", spec.item, reading) for i, item in enumerate(raw)]
    return _FAILED if any(item is _FAILED for item in items) else items


def _build(
    cls: Callable[..., object],
    prefix: str,
    kwargs: Mapping[str, Any],
    reading: _Reading,
    rename: Mapping[str, str] | None = None,
) -> Any:
    """Build a domain object; a value it refuses is a problem on its JSON path."""
    try:
        return cls(**kwargs)
    except DomainValueError as exc:
        rest = exc.field.split(".", 1)[-1]
        path = rename[rest] if rename and rest in rename else _join(prefix, rest)
        reading.add_error(
            _invalid(path, exc.value, exc.expected, _show_decoded(exc.value)), domain=True
        )
        return _FAILED


def _build_case(kind: str, values: Mapping[str, Any], reading: _Reading) -> Any:
    case_id, at = values["id"], values["at"]
    if kind == "return":
        order, request = values["order"], values["request"]
        return _build(
            ReturnCase, "", {"id": case_id, "at": at, "order": order, "request": request}, reading
        )
    if kind == "complaint":
        kwargs = {**values["complaint"], "id": case_id, "received_at": at}
        complaint = _build(
            Complaint, "complaint", kwargs, reading, {"id": "id", "received_at": "at"}
        )
        if complaint is _FAILED:
            return _FAILED
        return _build(ComplaintCase, "", {"id": case_id, "at": at, "complaint": complaint}, reading)
    if kind == "promotion":
        return _build(
            PromotionCase, "", {"id": case_id, "at": at, "promotion": values["promotion"]}, reading
        )
    request_keys = (
        "promotion",
        "paid",
        "customer_paid_total",
        "requested_amount",
        "manager_approved",
    )
    request = _build(
        PriceAdjustmentRequest, "", {k: values[k] for k in request_keys if k in values}, reading
    )
    if request is _FAILED:
        return _FAILED
    return _build(PriceAdjustmentCase, "", {"id": case_id, "at": at, "request": request}, reading)


@attrs.frozen
class CaseInput:
    """A case read from its JSON object, with what came along with it.

    Attributes:
        case: the decoded case.
        meta: the ``meta`` object, as given, or ``None`` when absent.
        facts: the values of the declared extra facts given in ``facts``.
    """

    case: Case
    meta: Mapping[str, Any] | None = None
    facts: Mapping[str, object] = attrs.field(factory=dict)


def _encoding_problems(value: object, path: str, reading: _Reading) -> None:
    """Record every string (key or value) that is not valid Unicode (a lone surrogate)."""
    if isinstance(value, str):
        if not value.isascii() and _SURROGATE_RE.search(value):
            reading.add(
                "invalid_encoding",
                path or None,
                f"{path or 'the case'}: a string that is not valid Unicode "
                f"(a lone surrogate): {json.dumps(value)}",
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            item_path = _join(path, _safe(key)) if isinstance(key, str) else path
            if isinstance(key, str) and not key.isascii() and _SURROGATE_RE.search(key):
                reading.add(
                    "invalid_encoding",
                    item_path,
                    f"{item_path}: a key that is not valid Unicode (a lone surrogate)",
                )
            _encoding_problems(item, item_path, reading)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _encoding_problems(item, f"{path}[{i}]", reading)


@attrs.define
class _Read:
    """What reading one case gave: the case (or _FAILED), and what came with it."""

    case: Any = _FAILED
    meta: Mapping[str, Any] | None = None
    case_id: str | None = None
    facts: Mapping[str, object] = attrs.field(factory=dict)


def _read(
    obj: object,
    facts: Mapping[str, FactType] | None,
    reading: _Reading,
    *,
    check_encoding: bool = True,
) -> _Read:
    """Read one case; its problems go to ``reading``."""
    if not isinstance(obj, Mapping):
        reading.add("invalid_value", None, f"a case must be a JSON object, got {_show(obj)}")
        return _Read()
    if check_encoding:
        _encoding_problems(obj, "", reading)
        if reading.problems:
            return _Read()
    raw_id = obj.get("id")
    raw_meta = obj.get("meta")
    result = _Read(
        meta=_echoable(raw_meta),
        case_id=raw_id if isinstance(raw_id, str) and raw_id else None,
    )
    kind = obj.get("kind")
    spec = KIND_SPECS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        # without a kind, the kind's keys cannot be judged: report what can be
        head = KIND_SPECS["return"].by_key
        _read_object(
            {k: obj[k] for k in ("id",) if k in obj}, "", ObjectSpec((head["id"],)), reading
        )
        if "kind" not in obj:
            reading.add("missing_field", "kind", "kind: missing (required)")
        else:
            reading.add(
                "unknown_kind", "kind", f"kind: expected one of {_KIND_TEXT}, got {_show(kind)}"
            )
        rest = {k: obj[k] for k in ("at", "meta") if k in obj}
        _read_object(rest, "", ObjectSpec((head["at"], head["meta"])), reading)
        return result
    if facts:
        spec = attrs.evolve(
            spec,
            fields=tuple(
                attrs.evolve(f, type=facts_spec(facts)) if f.key == "facts" else f
                for f in spec.fields
            ),
        )
    values = _read_object(obj, "", spec, reading)
    if values is not _FAILED:
        result.case = _build_case(kind, values, reading)  # type: ignore[arg-type]
        result.facts = values.get("facts", {})
    return result


def read_case(
    obj: Mapping[str, object], *, facts: Mapping[str, FactType] | None = None
) -> CaseInput:
    """Decode one case from its JSON object, with its ``meta`` and ``facts``.

    Args:
        obj: the decoded JSON object of one case.
        facts: the extra facts the rule set declares beyond the contract
            (name -> type); ``facts`` in the case may give only these.

    Returns:
        The case with its ``meta`` object and the values of its extra facts.

    Raises:
        ContractError: the object breaks the contract; every problem found is
            in ``problems`` (see :func:`case_from_json`).
    """
    return _finish(obj, facts, _Reading(), check_encoding=True)


def _finish(
    obj: object,
    facts: Mapping[str, FactType] | None,
    reading: _Reading,
    *,
    check_encoding: bool,
) -> CaseInput:
    result = _read(obj, facts, reading, check_encoding=check_encoding)
    if reading.problems or result.case is _FAILED:
        err = ContractError.of(tuple(reading.problems), case_id=result.case_id)
        err.meta = dict(result.meta) if result.meta is not None else None
        raise err
    return CaseInput(result.case, result.meta, result.facts)


def case_from_json(obj: Mapping[str, object]) -> Case:
    """Decode one case from its JSON object (as given by :func:`json.loads`).

    Args:
        obj: the decoded JSON object of one case.

    Returns:
        The case: a :class:`~csrules.ReturnCase`, :class:`~csrules.ComplaintCase`,
        :class:`~csrules.PromotionCase` or :class:`~csrules.PriceAdjustmentCase`.

    Raises:
        ContractError: the object breaks the contract. Every problem is found
            and listed in ``problems``; ``code`` and ``field`` are the first
            one's. Codes: ``"unknown_field"`` (a key the contract does not
            have, at any level; the message suggests the closest known key),
            ``"missing_field"``, ``"invalid_value"`` (wrong type, unknown enum
            value, JSON float money, unparsable time, time without offset or
            out of range, a value a domain object refuses),
            ``"invalid_encoding"`` (a string with a lone surrogate) or
            ``"unknown_kind"``; ``field`` is the JSON path
            (``"order.lines[0].unit_price"``) and ``case_id`` the case's id
            when it could be read.
    """
    return read_case(obj).case


def read_case_line(line: str, *, facts: Mapping[str, FactType] | None = None) -> CaseInput:
    """Decode one case, with its ``meta`` and ``facts``, from one line of JSON text.

    JSON floats are kept apart from integers so that float money is refused.

    Raises:
        ContractError: ``code`` ``"invalid_json"`` when the text is not JSON
            (``NaN`` and ``Infinity`` are not JSON) or an object has the same
            key twice, else as :func:`case_from_json`.
    """
    try:
        obj = _DECODER.decode(line)
    except ContractError:
        raise
    except (ValueError, RecursionError) as exc:
        text = str(exc)
        if "int_max_str_digits" in text:  # Python's advice is not the caller's to follow
            text = f"a whole number of more than {sys.get_int_max_str_digits()} digits"
        raise ContractError("invalid_json", f"not valid JSON: {text}") from None
    # a lone surrogate can only come from a \uD8xx-\uDFxx escape or from the text itself
    suspect = _SURROGATE_ESCAPE_RE.search(line) is not None or (
        not line.isascii() and _SURROGATE_RE.search(line) is not None
    )
    return _finish(obj, facts, _Reading(), check_encoding=suspect)


def parse_case_line(line: str) -> Case:
    """Decode one case from one line of JSON text (see :func:`read_case_line`)."""
    return read_case_line(line).case


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ContractError(
                    "invalid_json",
                    f"duplicate key {json.dumps(_safe(key), ensure_ascii=False)} in one object: "
                    "each key may appear once",
                )
            seen.add(key)
    return obj


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


# one decoder for every line (json.loads would build a new one per call)
_DECODER: Final = json.JSONDecoder(
    parse_float=JSONNumber, parse_constant=_no_constant, object_pairs_hook=_no_duplicates
)


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
