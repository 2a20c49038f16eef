"""Column encodings of facts and outcomes, and the conversions both ways.

Every fact of a batch is a 1-D numpy array. The encodings are exact: money
never becomes a float, and every value converts back to the value a single
decision would have produced.

========================  ===================================  ====================
value                     column                               ``None``
========================  ===================================  ====================
``bool``                  ``bool``                             not representable
``int``                   ``int64``                            ``NULL_INT``
money (``Decimal``)       ``int64`` fen (hundredths)           ``NULL_INT``
``date``                  ``int64`` ``date.toordinal()``       ``NULL_INT``
aware ``datetime``        ``datetime64[us]``, UTC              ``NaT``
``time`` of day           ``timedelta64[us]`` since midnight   ``NaT``
enum member               ``int8`` code: index in its enum     ``NULL_CODE``
other ``str``             numpy unicode (``<U``)               object array
anything else             ``object``                           ``None``
========================  ===================================  ====================

In any signed integer column the smallest value of its type stands for
``None`` (``NULL_INT`` for ``int64``, ``NULL_CODE`` for ``int8``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from csrules.exceptions import DomainValueError
from csrules.rules._common import value_kind

__all__ = [
    "NULL_CODE",
    "NULL_INT",
    "Kind",
    "decode_value",
    "enum_code",
    "facts_frame",
    "fen",
    "to_python",
    "with_kind",
]

#: ``None`` in an ``int64`` column (money, dates, integers).
NULL_INT: Final = int(np.iinfo(np.int64).min)
#: ``None`` in an ``int8`` enum-code column.
NULL_CODE: Final = int(np.iinfo(np.int8).min)

#: How a column is encoded: ``"bool"``, ``"int"``, ``"money"``, ``"date"``,
#: ``"datetime"``, ``"time"``, ``"enum"``, ``"str"``, ``"object"`` or
#: ``"null"`` (every value ``None``).
Kind = str

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US: Final = dt.timedelta(microseconds=1)
_datetime_sub = dt.datetime.__sub__
_HUNDRED: Final = decimal.Decimal(100)


def fen(value: decimal.Decimal, where: str = "value") -> int:
    """An amount of money as whole fen (hundredths), exactly.

    Raises:
        DomainValueError: the amount is not finite or has a fraction of a fen.
    """
    scaled = value.scaleb(2) if value.is_finite() else value
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise DomainValueError(where, value, "an amount in whole fen (at most 2 decimal places)")
    return int(scaled)


def micros_since_epoch(value: dt.datetime, where: str = "value") -> int:
    """An aware time as microseconds since 1970-01-01 UTC.

    Raises:
        DomainValueError: the time is naive.
    """
    if value.utcoffset() is None:
        raise DomainValueError(where, value, "a time-zone aware datetime")
    delta: dt.timedelta = _datetime_sub(value, _EPOCH)
    return delta // _US


def micros_of_day(value: dt.time) -> int:
    """A time of day as microseconds since midnight."""
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def datetime64_us(micros: int) -> np.datetime64:
    """Microseconds since the epoch as a ``datetime64[us]`` scalar."""
    out: np.datetime64 = np.array(micros, dtype=np.int64).view("datetime64[us]")[()]  # type: ignore[assignment]
    return out


def timedelta64_us(micros: int) -> np.timedelta64:
    """Microseconds as a ``timedelta64[us]`` scalar."""
    out: np.timedelta64 = np.array(micros, dtype=np.int64).view("timedelta64[us]")[()]  # type: ignore[assignment]
    return out


def enum_code(member: enum.Enum) -> int:
    """The code of an enum member: its index in its enum class."""
    return _members(type(member)).index(member)


_MEMBERS: dict[type[enum.Enum], list[enum.Enum]] = {}


def _members(cls: type[enum.Enum]) -> list[enum.Enum]:
    found = _MEMBERS.get(cls)
    if found is None:
        found = _MEMBERS[cls] = list(cls)
    return found


def code_dtype(cls: type[enum.Enum]) -> np.dtype[Any]:
    """The integer type of the codes of an enum class (``int8`` unless it is large)."""
    return np.dtype(np.int8) if len(_members(cls)) < 127 else np.dtype(np.int16)


def scalar_kind(value: object) -> Kind:
    """The encoding a Python value takes in a column (a float value is an
    ``"object"``: it is never read as money or a number)."""
    if value is None:
        return "null"
    kind = scalar_kind_of_type(type(value))
    return "object" if kind == "float" else kind


def encode_value(value: object, kind: Kind, where: str = "value") -> Any:
    """A non-``None`` Python value as one element of a ``kind`` column."""
    if kind == "money":
        if isinstance(value, decimal.Decimal):
            return fen(value, where)
        return int(value) * 100  # type: ignore[call-overload]  # an int amount in yuan
    if kind == "date":
        return value.toordinal()  # type: ignore[attr-defined]
    if kind == "datetime":
        return datetime64_us(micros_since_epoch(value, where))  # type: ignore[arg-type]
    if kind == "time":
        return timedelta64_us(micros_of_day(value))  # type: ignore[arg-type]
    if kind == "enum":
        return enum_code(value)  # type: ignore[arg-type]
    if kind == "str":
        return str(value.value) if isinstance(value, enum.Enum) else str(value)
    return value


_TAG: Final = "csrules.kind"
_ENUM_TAG: Final = "csrules.enum"
_TAGGED: dict[tuple[str, str, type[enum.Enum] | None], np.dtype[Any]] = {}


def with_kind(
    column: NDArray[Any], kind: Kind, enum_class: type[enum.Enum] | None = None
) -> NDArray[Any]:
    """A view of an integer column that says what its numbers mean.

    ``kind`` is ``"money"`` (fen), ``"date"`` (ordinals) or ``"enum"`` (codes
    of ``enum_class``). The meaning travels in the dtype's metadata, which
    slicing and indexing keep. :func:`facts_frame` and batch outcomes tag
    their columns this way; an untagged integer column is read as plain
    integers where that matters (a fact passed through as an outcome).

    Raises:
        DomainValueError: the column is not an integer array, or the kind
            is not one of those three.
    """
    if kind not in ("money", "date", "enum") or column.dtype.kind != "i":
        raise DomainValueError(
            "kind", kind, "'money', 'date' or 'enum', on a signed integer column"
        )
    return column.view(tagged_dtype(column.dtype, kind, enum_class))


def tagged_dtype(
    base: np.dtype[Any], kind: Kind, enum_class: type[enum.Enum] | None = None
) -> np.dtype[Any]:
    """``base`` with the metadata :func:`with_kind` reads."""
    key = (base.str, kind, enum_class)
    dtype = _TAGGED.get(key)
    if dtype is None:
        meta: dict[str, object] = {_TAG: kind}
        if enum_class is not None:
            meta[_ENUM_TAG] = enum_class
        dtype = _TAGGED[key] = np.dtype(base.str, metadata=meta)
    return dtype


def kind_of_column(column: NDArray[Any]) -> tuple[Kind | None, type[enum.Enum] | None]:
    """The kind and enum class a column is tagged with (see :func:`with_kind`)."""
    meta = column.dtype.metadata
    if not meta or _TAG not in meta:
        return None, None
    return meta[_TAG], meta.get(_ENUM_TAG)


def column_of(
    values: Sequence[object],
    kind: Kind,
    enum_class: type[enum.Enum] | None = None,
    where: str = "value",
) -> NDArray[Any]:
    """Encode Python values (``None`` allowed where ``kind`` can hold it) as a column."""
    n = len(values)
    if kind == "bool":
        return np.array(values, dtype=bool).reshape(n)
    if kind in ("int", "money", "date", "enum"):
        if kind == "enum":
            dtype = code_dtype(enum_class) if enum_class is not None else np.dtype(np.int8)
            null = int(np.iinfo(dtype).min)
            index = {m: i for i, m in enumerate(_members(enum_class))} if enum_class else {}
            codes = np.fromiter(
                (null if v is None else index[v] for v in values),  # type: ignore[index]
                dtype=dtype,
                count=n,
            )
            return with_kind(codes, "enum", enum_class)
        if kind == "int":
            return np.fromiter(
                (NULL_INT if v is None else v for v in values), dtype=np.int64, count=n
            )
        numbers = np.fromiter(
            (NULL_INT if v is None else encode_value(v, kind, where) for v in values),
            dtype=np.int64,
            count=n,
        )
        return with_kind(numbers, kind)
    if kind == "datetime":
        us = np.fromiter(
            (NULL_INT if v is None else micros_since_epoch(v, where) for v in values),  # type: ignore[arg-type]
            dtype=np.int64,
            count=n,
        )
        return us.view("datetime64[us]")
    if kind == "time":
        us = np.fromiter(
            (NULL_INT if v is None else micros_of_day(v) for v in values),  # type: ignore[arg-type]
            dtype=np.int64,
            count=n,
        )
        return us.view("timedelta64[us]")
    if kind == "str":
        return np.array([encode_value(v, "str") for v in values], dtype=str).reshape(n)
    out = np.empty(n, dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def decode_value(value: Any, kind: Kind, enum_class: type[enum.Enum] | None = None) -> object:
    """One element of a ``kind`` column as the Python value (``None`` for a null)."""
    if kind == "object" or kind == "null":
        return value
    if kind == "bool":
        return bool(value)
    if kind == "str":
        return str(value)
    if kind in ("datetime", "time"):
        if np.isnat(value):
            return None
        us = (
            int(value.astype("int64"))
            if kind == "time"
            else int(value.astype("<M8[us]").astype("int64"))
        )
        if kind == "time":
            minutes, micro = divmod(us, 60_000_000)
            hour, minute = divmod(minutes, 60)
            second, micro = divmod(micro, 1_000_000)
            return dt.time(hour, minute, second, micro)
        return _EPOCH + dt.timedelta(microseconds=us)
    number = int(value)
    if number == np.iinfo(np.asarray(value).dtype).min:
        return None
    if kind == "money":
        return decimal.Decimal(number).scaleb(-2)
    if kind == "date":
        return dt.date.fromordinal(number)
    if kind == "enum":
        if enum_class is None:
            return number
        return _members(enum_class)[number]
    return number


def to_python(
    column: NDArray[Any], kind: Kind, enum_class: type[enum.Enum] | None = None
) -> list[object]:
    """Every element of a column as the Python value a single decision gives."""
    if kind in ("object", "null"):
        return list(column)
    return [decode_value(v, kind, enum_class) for v in column]


# ---------------------------------------------------------------- fact records


def _record_kind(values: Sequence[object], name: str) -> tuple[Kind, type[enum.Enum] | None]:
    types = {type(v) for v in values}
    has_none = type(None) in types
    types.discard(type(None))
    if not types:
        return "null", None
    kinds = {scalar_kind_of_type(t) for t in types}
    if kinds == {"enum"}:
        classes = {_enum_class(t) for t in types}
        if len(classes) == 1:
            return "enum", classes.pop()
        kinds = {"str"} if all(issubclass(t, str) for t in types) else {"object"}
    if kinds <= {"str", "enum"} and all(issubclass(t, str) for t in types):
        kinds = {"str"}
    if kinds == {"int", "money"}:
        kinds = {"money"}
    if len(kinds) != 1:
        return "object", None
    kind = kinds.pop()
    if kind == "bool" and has_none:
        return "object", None
    if kind == "str" and has_none:
        return "object", None
    if kind == "float":
        raise DomainValueError(
            f"facts[{name!r}]",
            next(v for v in values if isinstance(v, float)),
            "a Decimal, int or another exact value (money is never float)",
        )
    return kind, None


def _enum_class(t: type) -> type[enum.Enum]:
    """The enum class a member's type belongs to (the type itself for enums)."""
    assert issubclass(t, enum.Enum)
    return t


def scalar_kind_of_type(t: type) -> Kind:
    """The encoding a value of type ``t`` takes in a column."""
    return value_kind(t)


def facts_frame(
    records: Iterable[Mapping[str, object]],
    *,
    kinds: Mapping[str, Kind | type[enum.Enum]] | None = None,
) -> dict[str, NDArray[Any]]:
    """Fact records (as the ``*_facts`` functions return them) as batch columns.

    Each fact becomes one 1-D numpy array, encoded as the module describes:
    money as ``int64`` fen, dates as ``int64`` ordinals, aware times as
    ``datetime64[us]`` in UTC, times of day as ``timedelta64[us]``, enum
    members as ``int8`` codes (their index in the enum class), other strings
    as numpy unicode, ``None`` as the null of each encoding. A column whose
    values mix kinds falls back to an ``object`` array, and so does a column
    of nothing but ``None`` unless ``kinds`` says what it holds.

    Args:
        records: fact records; every record has the same fact names.
        kinds: the encoding of some facts (``"money"``, ``"date"``,
            ``"datetime"``, ``"time"``, ``"int"``, ``"bool"``, ``"str"``, or
            an enum class), so that a batch in which a fact is always
            ``None`` still gets its usual column type. The values must fit.

    Returns:
        Columns by fact name, all of the same length (empty when there are
        no records).

    Raises:
        DomainValueError: a record lacks a fact the first one has, or has one
            it lacks; a value is a float; an amount has a fraction of a fen;
            a time is naive; values do not fit the kind given in ``kinds``.
    """
    rows = list(records)
    if not rows:
        return {}
    names = list(rows[0])
    expected = set(names)
    for index, row in enumerate(rows):
        if len(row) != len(names) or set(row) != expected:
            got = set(row)
            missing, extra = sorted(expected - got), sorted(got - expected)
            raise DomainValueError(
                f"records[{index}]",
                f"missing {missing}, extra {extra}",
                f"the same facts as records[0] ({sorted(expected)})",
            )
    declared = kinds or {}
    columns: dict[str, NDArray[Any]] = {}
    for name in names:
        values = [row[name] for row in rows]
        kind, enum_class = _record_kind(values, name)
        if name in declared:
            kind, enum_class = _declared(name, declared[name], kind, enum_class)
        columns[name] = column_of(values, kind, enum_class, where=f"facts[{name!r}]")
    return columns


_DECLARABLE: Final = frozenset({"bool", "int", "money", "date", "datetime", "time", "str"})


def _declared(
    name: str,
    declared: Kind | type[enum.Enum],
    found: Kind,
    enum_class: type[enum.Enum] | None,
) -> tuple[Kind, type[enum.Enum] | None]:
    """The kind given for a fact, checked against the values found."""
    if isinstance(declared, type) and issubclass(declared, enum.Enum):
        want: Kind = "enum"
        want_class: type[enum.Enum] | None = declared
    elif isinstance(declared, str) and declared in _DECLARABLE:
        want, want_class = declared, None
    else:
        raise DomainValueError(
            f"kinds[{name!r}]", declared, f"one of {sorted(_DECLARABLE)} or an enum class"
        )
    fits = (
        found == "null"
        or (found == want and enum_class is want_class)
        or (found == "int" and want == "money")
    )
    if not fits:
        raise DomainValueError(
            f"facts[{name!r}]", found, f"values of the kind given in kinds: {declared!r}"
        )
    return want, want_class
