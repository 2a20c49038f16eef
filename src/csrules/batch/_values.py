"""Columns during a batch evaluation, and the operations of the expression language on them.

A value during evaluation is either a :class:`Vec` (a column with its
encoding) or a plain Python value (parameters and constants, folded):
comparisons, arithmetic and membership here accept both and encode Python
values like the column they meet.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from csrules.batch._encode import (
    NULL_INT,
    Kind,
    column_of,
    enum_code,
    fen,
    kind_of_column,
    micros_of_day,
    micros_since_epoch,
    scalar_kind,
)
from csrules.exceptions import DomainValueError, RuleDefinitionError
from csrules.rules._expr import FLIPPED, OPERATORS

_US_PER_HOUR: Final = 3_600_000_000
_US_PER_MINUTE: Final = 60_000_000
_US_PER_DAY: Final = 86_400_000_000
_INT_KINDS: Final = frozenset({"int", "money", "date", "enum"})
# ---------------------------------------------------------------- values


class Vec:
    """A column of values during evaluation, with its encoding.

    ``kind`` is ``"bool"``, ``"int"`` (an integer column of unknown meaning:
    a fact), ``"money"``, ``"date"``, ``"enum"`` (codes of ``enum``, or of an
    enum learnt from what the column is compared with), ``"datetime"``,
    ``"time"``, ``"str"`` or ``"object"``. Nulls sit in ``data`` as the
    encoding's null; the null mask is worked out when first needed.
    """

    __slots__ = ("_null", "data", "enum", "kind")

    def __init__(
        self,
        data: NDArray[Any],
        kind: Kind,
        enum_class: type[enum.Enum] | None = None,
        null: NDArray[np.bool_] | bool | None = False,
    ) -> None:
        self.data = data
        self.kind = kind
        self.enum = enum_class
        # False: not worked out yet; None: no nulls
        self._null: NDArray[np.bool_] | bool | None = null

    def null(self) -> NDArray[np.bool_] | None:
        """Rows holding ``None``, or ``None`` when there is none."""
        found = self._null
        if found is False:
            data = self.data
            mask: NDArray[np.bool_] | None
            if data.dtype.kind == "i":
                mask = data == np.iinfo(data.dtype).min
            elif data.dtype.kind in "mM":
                mask = np.isnat(data)
            elif data.dtype.kind == "O":
                mask = np.frompyfunc(_is_none, 1, 1)(data).astype(bool)
            else:
                mask = None
            if mask is not None and not mask.any():
                mask = None
            self._null = found = mask
        return found  # type: ignore[return-value]


def _is_none(value: object) -> bool:
    return value is None


def vec_from_column(name: str, column: object, n: int) -> object:
    """A fact column as a Vec; an object column of nothing but None is plain None."""
    where = f"columns[{name!r}]"
    if not isinstance(column, np.ndarray):
        raise DomainValueError(where, type(column).__name__, "a 1-D numpy array")
    if column.ndim != 1 or column.shape[0] != n:
        raise DomainValueError(
            where, f"shape {column.shape}", f"a 1-D array of length {n}, like the other columns"
        )
    kind = column.dtype.kind
    if kind == "b":
        return Vec(column, "bool", null=None)
    if kind in "iu":
        tagged, enum_class = kind_of_column(column)
        return Vec(column, tagged or "int", enum_class, null=None if kind == "u" else False)
    if kind == "M":
        return Vec(column.astype("datetime64[us]", copy=False), "datetime")
    if kind == "m":
        return Vec(column.astype("timedelta64[us]", copy=False), "time")
    if kind == "U":
        return Vec(column, "str", null=None)
    if kind == "O":
        vec = Vec(column, "object")
        null = vec.null()
        if n == 0 or (null is not None and bool(null.all())):
            return None  # None on every row, whatever the fact's type
        return vec
    if kind in "fc":
        raise DomainValueError(
            where,
            column.dtype,
            "an exact encoding (money as int64 fen, dates as int64 ordinals); never float",
        )
    raise DomainValueError(where, column.dtype, "bool, integer, datetime64, unicode or object")


# ---------------------------------------------------------------- evaluation state


class Env:
    """Everything one evaluation reads, and the values it has computed."""

    __slots__ = ("cache", "calendar", "columns", "estimated", "live", "n", "params", "table")

    def __init__(
        self,
        table: str,
        columns: Mapping[str, NDArray[Any]],
        params: Mapping[str, object],
        calendar: object,
        n: int,
    ) -> None:
        self.table = table
        self.columns = columns
        self.params = params
        self.calendar = calendar
        self.n = n
        self.cache: dict[object, object] = {}
        # The rows the single-case code would evaluate the expression at hand
        # for (None: all), and the rows whose working-day arithmetic touched
        # a year without official holiday data (None: none yet).
        self.live: NDArray[np.bool_] | None = None
        self.estimated: NDArray[np.bool_] | None = None

    def note_estimated(self, flags: NDArray[np.bool_] | bool) -> None:
        """Mark the live rows among ``flags`` (rows whose working-day
        arithmetic touched an estimated year) as estimated."""
        if flags is False or (not isinstance(flags, bool) and not flags.any()):
            return
        rows = np.ones(self.n, dtype=bool) if flags is True else np.asarray(flags, dtype=bool)
        live = self.live
        if live is not None:
            rows = rows & live
        if self.estimated is None:
            self.estimated = rows.copy()
        else:
            self.estimated |= rows


Fn = Callable[[Env], object]


class Where:
    """Where an expression is, for error messages."""

    __slots__ = ("rule", "table")

    def __init__(self, table: str, rule: str) -> None:
        self.table = table
        self.rule = rule

    def error(self, message: str) -> RuleDefinitionError:
        return RuleDefinitionError(f"table {self.table!r}, rule {self.rule!r}: {message}")


# ---------------------------------------------------------------- scalars vs columns


def encode_for(value: object, vec: Vec, where: Where, what: str) -> Any:
    """A non-None Python scalar in the encoding of ``vec``, to combine with it."""
    kind = vec.kind
    if kind == "object":
        return value
    if isinstance(value, enum.Enum):
        if kind in ("int", "enum"):
            if vec.enum is not None and not isinstance(value, vec.enum):
                raise where.error(f"{what}: a {vec.enum.__name__} column compared with {value!r}")
            return enum_code(value)
        if kind == "str":
            return str(value.value)
    elif isinstance(value, bool):
        if kind in ("bool", "int"):
            return value
    elif isinstance(value, int):
        if kind in ("int", "date", "bool"):
            return value
        if kind == "money":
            return value * 100
    elif isinstance(value, decimal.Decimal):
        if kind in ("int", "money"):
            return fen(value, f"{where.table}.{where.rule}: {what}")
    elif isinstance(value, dt.datetime):
        if kind == "datetime":
            return np.datetime64(micros_since_epoch(value), "us")
    elif isinstance(value, dt.date):
        if kind in ("int", "date"):
            return value.toordinal()
    elif isinstance(value, dt.time):
        if kind == "time":
            return np.timedelta64(micros_of_day(value), "us")
    elif isinstance(value, dt.timedelta):
        if kind in ("datetime", "time"):
            return np.timedelta64(value // dt.timedelta(microseconds=1), "us")
    elif isinstance(value, str) and kind == "str":
        return value
    shown = {"int": "integer", "str": "unicode"}.get(kind, kind)
    raise where.error(
        f"{what}: cannot combine a {shown} column with {value!r} ({type(value).__name__}); "
        "see docs/batch.md for the column encodings"
    )


def scalar_vec(value: object, n: int, where: Where) -> Vec:
    """A Python scalar repeated ``n`` times, as a column."""
    kind = scalar_kind(value)
    if kind == "null":
        return Vec(np.full(n, None, dtype=object), "object", null=np.ones(n, dtype=bool))
    enum_class = type(value) if isinstance(value, enum.Enum) else None
    try:
        data = column_of([value], kind, enum_class)
    except DomainValueError as err:
        raise where.error(str(err)) from err
    return Vec(np.broadcast_to(data, (n,)), kind, enum_class, null=None)


def truth_of(value: object) -> NDArray[np.bool_] | bool:
    """Truth of a condition value per row (a Python bool when the same for all)."""
    if not isinstance(value, Vec):
        return bool(value)
    data = value.data
    out: NDArray[np.bool_]
    if value.kind == "bool":
        out = data
    elif data.dtype.kind in "iu":
        out = np.not_equal(data, 0)
        null = value.null()
        if null is not None:
            out &= ~null
    elif data.dtype.kind == "U":
        out = np.not_equal(data, "")
    elif data.dtype.kind == "M":
        out = ~np.isnat(data)
    elif data.dtype.kind == "m":
        out = np.not_equal(data, np.timedelta64(0))  # a zero timedelta is false
    else:
        out = np.frompyfunc(bool, 1, 1)(data).astype(bool)
    return out


def nulls_either(a: Vec, b: Vec | None) -> NDArray[np.bool_] | None:
    na = a.null()
    nb = None if b is None else b.null()
    if na is None:
        return nb
    if nb is None:
        return na
    return na | nb


def check_kinds(a: Vec, b: Vec, where: Where, what: str) -> None:
    ka = "int" if a.kind in _INT_KINDS else a.kind
    kb = "int" if b.kind in _INT_KINDS else b.kind
    if "object" in (ka, kb) or ka == kb or {ka, kb} == {"int", "bool"}:
        if a.enum is not None and b.enum is not None and a.enum is not b.enum:
            raise where.error(
                f"{what}: compares {a.enum.__name__} codes with {b.enum.__name__} codes"
            )
        return
    raise where.error(f"{what}: cannot combine a {a.kind} column with a {b.kind} column")


def joined_kind(a: Vec, b: Vec) -> tuple[Kind, type[enum.Enum] | None]:
    if a.kind == b.kind or b.kind == "int":
        return a.kind, a.enum or b.enum
    if a.kind == "int":
        return b.kind, b.enum
    return a.kind, a.enum


def compare(op: str, left: object, right: object, where: Where, what: str) -> object:
    if not isinstance(left, Vec):
        if not isinstance(right, Vec):
            if op not in ("==", "!=") and (left is None or right is None):
                return False  # as for columns: ordering with None is false
            return OPERATORS[op](left, right)
        if left is None and op not in ("==", "!="):
            return False
        left, right, op = right, left, FLIPPED[op]
    a: Vec = left
    enum_codes = a.kind == "enum" or (a.kind == "int" and isinstance(right, enum.Enum))
    if enum_codes and op not in ("==", "!="):
        raise where.error(f"{what}: ordering comparisons of enum codes are not vectorised")
    if not isinstance(right, Vec):
        if right is None:
            null = a.null()
            if op == "==":
                return False if null is None else null
            if op == "!=":
                return True if null is None else ~null
            return False  # ordering with None is false (the single path too)
        value = encode_for(right, a, where, what)
        if a.kind == "object":
            out = OPERATORS[op](a.data, value)
            return np.asarray(out, dtype=bool)
        out = OPERATORS[op](a.data, value)
        if op not in ("==", "!=") and a.data.dtype.kind == "i":
            null = a.null()
            if null is not None:
                out &= ~null
        return out
    b: Vec = right
    check_kinds(a, b, where, what)
    if b.kind == "enum" and op not in ("==", "!="):
        raise where.error(f"{what}: ordering comparisons of enum codes are not vectorised")
    out = np.asarray(OPERATORS[op](a.data, b.data), dtype=bool)
    if a.data.dtype.kind in "mM" and op in ("==", "!="):
        both = np.isnat(a.data) & np.isnat(b.data)
        out = out | both if op == "==" else out & ~both
    elif op not in ("==", "!="):
        null = nulls_either(a, b)
        if null is not None:
            out &= ~null
    return out


def with_nulls(data: NDArray[Any], null: NDArray[np.bool_] | None) -> NDArray[Any]:
    if null is None:
        return data
    if not data.flags.writeable:
        data = data.copy()
    if data.dtype.kind == "i":
        data[null] = np.iinfo(data.dtype).min
    elif data.dtype.kind in "mM":
        data[null] = np.datetime64("NaT") if data.dtype.kind == "M" else np.timedelta64("NaT")
    else:
        data[null] = None
    return data


def arith(op: str, left: object, right: object, where: Where, what: str, n: int) -> object:
    if not isinstance(left, Vec) and not isinstance(right, Vec):
        if left is None or right is None:
            return None
        return OPERATORS[op](left, right)
    if left is None or right is None:
        return Vec(np.full(n, NULL_INT, dtype=np.int64), "int", null=np.ones(n, dtype=bool))
    vec = left if isinstance(left, Vec) else right
    other = right if vec is left else left
    assert isinstance(vec, Vec)
    kind = vec.kind
    if isinstance(other, Vec):
        check_kinds(vec, other, where, what)
        kind, _ = joined_kind(vec, other)
        null = nulls_either(vec, other)
        if op == "*" and vec.kind == other.kind == "money":
            raise where.error(f"{what}: multiplying two amounts of money is not vectorised")
        a, b = (vec, other) if vec is left else (other, vec)
        data = OPERATORS[op](a.data, b.data)
        return Vec(with_nulls(data, null), kind, null=null)
    if isinstance(other, decimal.Decimal):
        if op == "*":
            if other != other.to_integral_value():
                raise where.error(
                    f"{what}: multiplying by the fraction {other} is not vectorised exactly"
                )
            value: Any = int(other)
        else:
            value = fen(other, f"{where.table}.{where.rule}: {what}")
            kind = "money"
    elif op == "*" and isinstance(other, int):
        value = other  # a count: money times 3 is still money, in fen
    else:
        value = encode_for(other, vec, where, what)
    operands = (vec.data, value) if vec is left else (value, vec.data)
    null = vec.null()
    data = OPERATORS[op](*operands)
    if kind == "enum":
        kind = "int"
    return Vec(with_nulls(np.asarray(data), null), kind, null=null)


def isin(item: object, values: tuple[object, ...], negate: bool, where: Where, what: str) -> object:
    if not isinstance(item, Vec):
        found = item in frozenset(values)
        return found != negate
    has_none = any(v is None for v in values)
    present = [v for v in values if v is not None]
    data = item.data
    out: NDArray[np.bool_]
    if item.kind == "object":
        pool = frozenset(values)
        out = np.frompyfunc(pool.__contains__, 1, 1)(data).astype(bool)
        return ~out if negate else out
    encoded = [encode_for(v, item, where, what) for v in present]
    if not encoded:
        out = np.zeros(data.shape, dtype=bool)
    elif len(encoded) <= 6:
        out = data == encoded[0]
        for value in encoded[1:]:
            out |= data == value
    else:
        out = np.isin(data, np.array(encoded, dtype=data.dtype))
    null = item.null()
    if null is not None:
        out = out | null if has_none else out & ~null
    return ~out if negate else out


def int_arg(value: object, n: int, where: Where, what: str) -> tuple[Any, NDArray[np.bool_] | None]:
    """A count argument: a Python int for all rows, or an int64 column."""
    if isinstance(value, Vec):
        if value.data.dtype.kind not in "iub":
            raise where.error(f"{what}: expects a whole number, got a {value.kind} column")
        return value.data.astype(np.int64, copy=False), value.null()
    if value is None:
        return 0, np.ones(n, dtype=bool)
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(f"{what}: expects a whole number, got {value!r}")
    return value, None


def either(a: NDArray[np.bool_] | None, b: NDArray[np.bool_] | None) -> NDArray[np.bool_] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def as_vec(value: object, n: int, where: Where) -> Vec:
    return value if isinstance(value, Vec) else scalar_vec(value, n, where)
