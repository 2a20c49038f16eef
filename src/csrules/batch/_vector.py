"""Decision tables compiled to numpy: one pass over columns decides every row.

:func:`compile_table` walks each rule's condition and outcomes once and
turns every node into a small function over whole columns (comparisons,
``&``/``|`` reductions, ``np.isin``, array arithmetic, working-day lookups).
Identical sub-expressions are computed once per evaluation, parameter-only
sub-expressions are folded to plain Python values, and the hit policy is
applied with array operations:

* ``first``: each matching rule ``i`` of ``R`` writes ``R - i`` into a
  running ``np.maximum``, so the largest value left is the first rule that
  matched; rows left at 0 matched nothing.
* ``unique``: the same, plus a count of matches per row.
* ``collect``: the boolean matrix of matches, rows x rules.

Outcomes are gathered by rule index (constants) or selected per row from
columns computed for every row (expressions).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs
import numpy as np
from numpy.typing import NDArray

from csrules._calendar import WorkCalendar
from csrules.batch import _workdays
from csrules.batch._encode import (
    NULL_INT,
    Kind,
    code_dtype,
    column_of,
    encode_value,
    enum_code,
    fen,
    kind_of_column,
    micros_of_day,
    micros_since_epoch,
    scalar_kind,
    tagged_dtype,
    to_python,
)
from csrules.exceptions import (
    CalendarError,
    DomainValueError,
    NoRuleMatchedError,
    RuleDefinitionError,
    RuleOverlapError,
)
from csrules.rules._expr import (
    Call,
    Const,
    Expr,
    Fact,
    Param,
    _All,
    _Arith,
    _BoolOp,
    _Cmp,
    _In,
    _IsNone,
    _Not,
    lift,
)
from csrules.rules._table import HitPolicy, Table

__all__ = ["VECTORISED_FUNCTIONS", "BatchResult", "VectorTable", "compile_table"]

#: Functions of rule expressions that batches compute.
VECTORISED_FUNCTIONS: Final = frozenset(
    {
        "earlier",
        "later",
        "add_days",
        "subtract_days",
        "add_hours",
        "add_minutes",
        "add_working_days",
        "roll_to_working_day",
        "next_time_of_day",
        "add_service_hours",
        "service_period_end",
    }
)
_TIME_OF_DAY: Final = frozenset({"next_time_of_day", "add_service_hours", "service_period_end"})

_CMP: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIP: Final = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ARITH: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
_US_PER_HOUR: Final = 3_600_000_000
_US_PER_MINUTE: Final = 60_000_000
_US_PER_DAY: Final = 86_400_000_000
_INT_KINDS: Final = frozenset({"int", "money", "date", "enum"})


# ---------------------------------------------------------------- values


class _Vec:
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


_MISSING: Final = object()


def _is_none(value: object) -> bool:
    return value is None


def _vec_from_column(name: str, column: object, n: int) -> object:
    """A fact column as a _Vec; an object column of nothing but None is plain None."""
    where = f"columns[{name!r}]"
    if not isinstance(column, np.ndarray):
        raise DomainValueError(where, type(column).__name__, "a 1-D numpy array")
    if column.ndim != 1 or column.shape[0] != n:
        raise DomainValueError(
            where, f"shape {column.shape}", f"a 1-D array of length {n}, like the other columns"
        )
    kind = column.dtype.kind
    if kind == "b":
        return _Vec(column, "bool", null=None)
    if kind in "iu":
        tagged, enum_class = kind_of_column(column)
        return _Vec(column, tagged or "int", enum_class, null=None if kind == "u" else False)
    if kind == "M":
        return _Vec(column.astype("datetime64[us]", copy=False), "datetime")
    if kind == "m":
        return _Vec(column.astype("timedelta64[us]", copy=False), "time")
    if kind == "U":
        return _Vec(column, "str", null=None)
    if kind == "O":
        vec = _Vec(column, "object")
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


class _Env:
    """Everything one evaluation reads, and the values it has computed."""

    __slots__ = ("cache", "calendar", "columns", "n", "params", "table")

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


_Fn = Callable[[_Env], object]


class _Where:
    """Where an expression is, for error messages."""

    __slots__ = ("rule", "table")

    def __init__(self, table: str, rule: str) -> None:
        self.table = table
        self.rule = rule

    def error(self, message: str) -> RuleDefinitionError:
        return RuleDefinitionError(f"table {self.table!r}, rule {self.rule!r}: {message}")


# ---------------------------------------------------------------- scalars vs columns


def _encode_for(value: object, vec: _Vec, where: _Where, what: str) -> Any:
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


def _scalar_vec(value: object, n: int, where: _Where) -> _Vec:
    """A Python scalar repeated ``n`` times, as a column."""
    kind = scalar_kind(value)
    if kind == "null":
        return _Vec(np.full(n, None, dtype=object), "object", null=np.ones(n, dtype=bool))
    enum_class = type(value) if isinstance(value, enum.Enum) else None
    try:
        data = column_of([value], kind, enum_class)
    except DomainValueError as err:
        raise where.error(str(err)) from err
    return _Vec(np.broadcast_to(data, (n,)), kind, enum_class, null=None)


def _truth(value: object) -> NDArray[np.bool_] | bool:
    """Truth of a condition value per row (a Python bool when the same for all)."""
    if not isinstance(value, _Vec):
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


def _nulls_either(a: _Vec, b: _Vec | None) -> NDArray[np.bool_] | None:
    na = a.null()
    nb = None if b is None else b.null()
    if na is None:
        return nb
    if nb is None:
        return na
    return na | nb


def _check_kinds(a: _Vec, b: _Vec, where: _Where, what: str) -> None:
    ka = "int" if a.kind in _INT_KINDS else a.kind
    kb = "int" if b.kind in _INT_KINDS else b.kind
    if "object" in (ka, kb) or ka == kb or {ka, kb} == {"int", "bool"}:
        if a.enum is not None and b.enum is not None and a.enum is not b.enum:
            raise where.error(
                f"{what}: compares {a.enum.__name__} codes with {b.enum.__name__} codes"
            )
        return
    raise where.error(f"{what}: cannot combine a {a.kind} column with a {b.kind} column")


def _joined_kind(a: _Vec, b: _Vec) -> tuple[Kind, type[enum.Enum] | None]:
    if a.kind == b.kind or b.kind == "int":
        return a.kind, a.enum or b.enum
    if a.kind == "int":
        return b.kind, b.enum
    return a.kind, a.enum


def _compare(op: str, left: object, right: object, where: _Where, what: str) -> object:
    if not isinstance(left, _Vec):
        if not isinstance(right, _Vec):
            if op not in ("==", "!=") and (left is None or right is None):
                return False  # as for columns: ordering with None is false
            return _CMP[op](left, right)
        if left is None and op not in ("==", "!="):
            return False
        left, right, op = right, left, _FLIP[op]
    a: _Vec = left
    enum_codes = a.kind == "enum" or (a.kind == "int" and isinstance(right, enum.Enum))
    if enum_codes and op not in ("==", "!="):
        raise where.error(f"{what}: ordering comparisons of enum codes are not vectorised")
    if not isinstance(right, _Vec):
        if right is None:
            null = a.null()
            if op == "==":
                return False if null is None else null
            if op == "!=":
                return True if null is None else ~null
            return False  # the single path raises TypeError comparing with None
        value = _encode_for(right, a, where, what)
        if a.kind == "object":
            out = _CMP[op](a.data, value)
            return np.asarray(out, dtype=bool)
        out = _CMP[op](a.data, value)
        if op not in ("==", "!=") and a.data.dtype.kind == "i":
            null = a.null()
            if null is not None:
                out &= ~null
        return out
    b: _Vec = right
    _check_kinds(a, b, where, what)
    if b.kind == "enum" and op not in ("==", "!="):
        raise where.error(f"{what}: ordering comparisons of enum codes are not vectorised")
    out = np.asarray(_CMP[op](a.data, b.data), dtype=bool)
    if a.data.dtype.kind in "mM" and op in ("==", "!="):
        both = np.isnat(a.data) & np.isnat(b.data)
        out = out | both if op == "==" else out & ~both
    elif op not in ("==", "!="):
        null = _nulls_either(a, b)
        if null is not None:
            out &= ~null
    return out


def _with_nulls(data: NDArray[Any], null: NDArray[np.bool_] | None) -> NDArray[Any]:
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


def _arith(op: str, left: object, right: object, where: _Where, what: str, n: int) -> object:
    if not isinstance(left, _Vec) and not isinstance(right, _Vec):
        if left is None or right is None:
            return None
        return _ARITH[op](left, right)
    if left is None or right is None:
        return _Vec(np.full(n, NULL_INT, dtype=np.int64), "int", null=np.ones(n, dtype=bool))
    vec = left if isinstance(left, _Vec) else right
    other = right if vec is left else left
    assert isinstance(vec, _Vec)
    kind = vec.kind
    if isinstance(other, _Vec):
        _check_kinds(vec, other, where, what)
        kind, _ = _joined_kind(vec, other)
        null = _nulls_either(vec, other)
        if op == "*" and vec.kind == other.kind == "money":
            raise where.error(f"{what}: multiplying two amounts of money is not vectorised")
        a, b = (vec, other) if vec is left else (other, vec)
        data = _ARITH[op](a.data, b.data)
        return _Vec(_with_nulls(data, null), kind, null=null)
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
        value = _encode_for(other, vec, where, what)
    operands = (vec.data, value) if vec is left else (value, vec.data)
    null = vec.null()
    data = _ARITH[op](*operands)
    if kind == "enum":
        kind = "int"
    return _Vec(_with_nulls(np.asarray(data), null), kind, null=null)


def _isin(
    item: object, values: tuple[object, ...], negate: bool, where: _Where, what: str
) -> object:
    if not isinstance(item, _Vec):
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
    encoded = [_encode_for(v, item, where, what) for v in present]
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


def _earlier_later(later: bool, a: object, b: object, where: _Where, n: int) -> object:
    if not isinstance(a, _Vec) and not isinstance(b, _Vec):
        if a is None:
            return b
        if b is None:
            return a
        if later:
            return a if a >= b else b  # type: ignore[operator]
        return a if a <= b else b  # type: ignore[operator]
    if a is None or b is None:
        return b if a is None else a
    if not isinstance(a, _Vec):
        a, b = b, a
    assert isinstance(a, _Vec)
    what = "later()" if later else "earlier()"
    if not isinstance(b, _Vec):
        b = _Vec(
            np.broadcast_to(np.asarray(_encode_for(b, a, where, what)), a.data.shape),
            a.kind,
            a.enum,
            null=None,
        )
    _check_kinds(a, b, where, what)
    kind, enum_class = _joined_kind(a, b)
    na, nb = a.null(), b.null()
    pick = np.maximum if later else np.minimum
    data = pick(a.data, b.data)
    if nb is not None:
        data = np.where(nb, a.data, data)
    if na is not None:
        data = np.where(na, b.data, data)
    null = None if na is None or nb is None else na & nb
    return _Vec(np.asarray(data), kind, enum_class, null=null)


def _int_arg(
    value: object, n: int, where: _Where, what: str
) -> tuple[Any, NDArray[np.bool_] | None]:
    """A count argument: a Python int for all rows, or an int64 column."""
    if isinstance(value, _Vec):
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


def _or(a: NDArray[np.bool_] | None, b: NDArray[np.bool_] | None) -> NDArray[np.bool_] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def _as_vec(value: object, n: int, where: _Where) -> _Vec:
    return value if isinstance(value, _Vec) else _scalar_vec(value, n, where)


def _shift(function: str, args: Sequence[object], env: _Env, where: _Where) -> object:
    """add_days, subtract_days, add_hours, add_minutes."""
    start, amount = args
    what = f"{function}()"
    if not isinstance(start, _Vec) and not isinstance(amount, _Vec):
        if start is None or amount is None:
            return None
        from csrules.rules._expr import FUNCTIONS

        return FUNCTIONS[function](start, amount)
    n = env.n
    count, count_null = _int_arg(amount, n, where, what)
    if start is None:
        return _Vec(np.full(n, NULL_INT, dtype=np.int64), "date", null=np.ones(n, dtype=bool))
    vec = _as_vec(start, n, where)
    sign = -1 if function == "subtract_days" else 1
    if function in ("add_days", "subtract_days"):
        if vec.kind in ("int", "date"):
            data: NDArray[Any] = vec.data.astype(np.int64, copy=False) + sign * np.asarray(count)
            kind = "date"
        elif vec.kind == "datetime":
            data = vec.data + (sign * np.asarray(count) * _US_PER_DAY).astype("timedelta64[us]")
            kind = "datetime"
        else:
            raise where.error(f"{what}: expects dates (int64 ordinals), got a {vec.kind} column")
    else:
        if vec.kind != "datetime":
            raise where.error(f"{what}: expects aware times (datetime64), got a {vec.kind} column")
        step = _US_PER_HOUR if function == "add_hours" else _US_PER_MINUTE
        data = vec.data + (np.asarray(count, dtype=np.int64) * step).astype("timedelta64[us]")
        kind = "datetime"
    null = _or(vec.null(), count_null)
    return _Vec(_with_nulls(np.asarray(data), null), kind, null=null)


def _working(function: str, args: Sequence[object], env: _Env, where: _Where) -> object:
    """add_working_days, roll_to_working_day over int64 date ordinals."""
    calendar = env.calendar
    what = f"{function}()"
    if not isinstance(calendar, WorkCalendar):
        raise where.error(f"{what} needs the policy's WorkCalendar: pass calendar=")
    if not any(isinstance(a, _Vec) for a in args):
        if any(a is None for a in args):
            return None
        from csrules.rules._expr import CALENDAR_FUNCTIONS

        return CALENDAR_FUNCTIONS[function](calendar, *args)
    n = env.n
    start = args[0]
    if start is None:
        return _Vec(np.full(n, NULL_INT, dtype=np.int64), "date", null=np.ones(n, dtype=bool))
    vec = _as_vec(start, n, where)
    if vec.kind not in ("int", "date"):
        raise where.error(f"{what}: expects dates (int64 ordinals), got a {vec.kind} column")
    days = np.ascontiguousarray(vec.data, dtype=np.int64)
    if function == "roll_to_working_day":
        null = vec.null()
        return _Vec(_workdays.roll_to_working_day(calendar, days, null), "date", null=null)
    count, count_null = _int_arg(args[1], n, where, what)
    out, null = _workdays.add_working_days(calendar, days, count, _or(vec.null(), count_null))
    return _Vec(out, "date", null=null)


_UTC8: Final = 8 * _US_PER_HOUR
#: Asia/Shanghai has kept UTC+8 without daylight saving since September 1991;
#: local times of day are worked out with that fixed offset from 1992 on.
_FIXED_OFFSET_FROM: Final = micros_since_epoch(
    dt.datetime(1992, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
)


def _clock_arg(value: object, n: int, where: _Where, what: str) -> NDArray[np.int64]:
    """A time-of-day argument as microseconds since midnight (one or per row)."""
    if isinstance(value, _Vec):
        if value.kind != "time":
            raise where.error(
                f"{what}: expects times of day (timedelta64), got a {value.kind} column"
            )
        return value.data.astype("timedelta64[us]").astype(np.int64)
    if isinstance(value, dt.time) and value.tzinfo is None:
        return np.asarray(micros_of_day(value), dtype=np.int64)
    raise where.error(f"{what}: expects a local time of day, got {value!r}")


def _time_of_day(function: str, args: Sequence[object], env: _Env, where: _Where) -> object:
    """next_time_of_day, add_service_hours, service_period_end over datetime64 columns."""
    calendar = env.calendar
    what = f"{function}()"
    if not any(isinstance(a, _Vec) for a in args):
        if any(a is None for a in args):
            return None
        from csrules.rules._expr import CALENDAR_FUNCTIONS

        return CALENDAR_FUNCTIONS[function](calendar, *args)
    n = env.n
    start = args[0]
    if start is None:
        return _Vec(np.full(n, np.datetime64("NaT", "us")), "datetime")
    vec = _as_vec(start, n, where)
    if vec.kind != "datetime":
        raise where.error(f"{what}: expects aware times (datetime64), got a {vec.kind} column")
    instants = vec.data.astype("datetime64[us]").astype(np.int64)
    null = vec.null()
    valid = instants if null is None else instants[~null]
    if valid.size and int(valid.min()) < _FIXED_OFFSET_FROM:
        raise CalendarError(
            f"table {where.table!r}, rule {where.rule!r}: {what} is computed for batches from "
            "1992 on (Asia/Shanghai has kept UTC+8 since September 1991); decide earlier "
            "cases one at a time"
        )
    local = instants + _UTC8
    day = local // _US_PER_DAY
    now = local - day * _US_PER_DAY
    invalid: NDArray[np.bool_] | None = None
    if function == "next_time_of_day":
        at = _clock_arg(args[1], n, where, what)
        out = (day + (now >= at)) * _US_PER_DAY + at
    else:
        opens = _clock_arg(args[-2], n, where, what)
        closes = _clock_arg(args[-1], n, where, what)
        if bool(np.any(opens >= closes)):
            invalid = np.broadcast_to(opens >= closes, local.shape)
        if function == "service_period_end":
            outside = (now < opens) | (now >= closes)  # the single path raises CalendarError
            invalid = outside if invalid is None else invalid | outside
            out = day * _US_PER_DAY + closes
        else:
            hours, hours_null = _int_arg(args[1], n, where, what)
            remaining = np.asarray(hours, dtype=np.int64) * _US_PER_HOUR
            negative = np.broadcast_to(remaining < 0, local.shape)
            invalid = _or(invalid, _or(hours_null, negative if negative.any() else None))
            before, after = now < opens, now >= closes
            day = day + after
            now = np.where(before | after, opens, now)
            available = closes - now
            width = np.maximum(closes - opens, 1)
            full_days, rest = np.divmod(np.maximum(remaining - available, 0), width)
            within = remaining <= available
            out = np.where(
                within,
                day * _US_PER_DAY + now + remaining,
                np.where(
                    rest == 0,
                    (day + full_days) * _US_PER_DAY + closes,
                    (day + full_days + 1) * _US_PER_DAY + opens + rest,
                ),
            )
    result = (np.asarray(out, dtype=np.int64) - _UTC8).astype("datetime64[us]")
    result = np.broadcast_to(result, (n,)).copy() if result.shape != (n,) else result
    null = _or(null, invalid)
    return _Vec(_with_nulls(result, null), "datetime", null=null)


# ---------------------------------------------------------------- compilation


def _key(expr: Expr) -> object:
    """A structural key: equal keys compute equal values."""
    if isinstance(expr, Fact):
        return ("fact", expr.name)
    if isinstance(expr, Param):
        return ("param", expr.name)
    if isinstance(expr, Const):
        value = expr.value
        try:
            hash(value)
        except TypeError:
            return ("const-id", id(expr))
        return ("const", type(value), value)
    if isinstance(expr, _Cmp | _Arith):
        return (type(expr).__name__, expr.op, _key(expr.left), _key(expr.right))
    if isinstance(expr, _BoolOp):
        return (type(expr).__name__, tuple(_key(i) for i in expr.items))
    if isinstance(expr, _Not):
        return ("not", _key(expr.item))
    if isinstance(expr, _In):
        try:
            values: object = frozenset((type(v), v) for v in expr.values)
        except TypeError:
            values = ("id", id(expr))
        return ("in", expr.negate, _key(expr.item), values)
    if isinstance(expr, _IsNone):
        return ("isnone", expr.negate, _key(expr.item))
    if isinstance(expr, Call):
        return ("call", expr.function, tuple(_key(a) for a in expr.args))
    return ("node-id", id(expr))  # pragma: no cover - rejected by _check


def _check(expr: Expr, where: _Where) -> None:
    """Refuse what batches do not compute, naming the table, rule and function."""
    for node in expr.walk():
        if isinstance(node, Call) and node.function not in VECTORISED_FUNCTIONS:
            raise where.error(
                f"the function {node.function}() is not vectorised "
                f"(batches compute {', '.join(sorted(VECTORISED_FUNCTIONS))}); "
                "decide these cases one at a time with Table.evaluate"
            )
        if not isinstance(
            node, Fact | Param | Const | _Cmp | _Arith | _BoolOp | _Not | _In | _IsNone | Call
        ):
            raise where.error(f"the expression node {type(node).__name__} is not vectorised")


class _Compiler:
    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes: dict[object, _Fn] = {}

    def compile(self, expr: Expr, where: _Where) -> _Fn:
        key = _key(expr)
        found = self.nodes.get(key)
        if found is not None:
            return found
        compute = self._node(expr, where)

        def cached(env: _Env, _key: object = key, _compute: _Fn = compute) -> object:
            cache = env.cache
            if _key in cache:
                return cache[_key]
            value = _compute(env)
            if isinstance(value, np.ndarray):  # a condition's rows
                value = _Vec(value, "bool", null=None)
            cache[_key] = value
            return value

        self.nodes[key] = cached
        return cached

    def _node(self, expr: Expr, where: _Where) -> _Fn:
        if isinstance(expr, Fact):
            name = expr.name

            def fact(env: _Env) -> object:
                return _vec_from_column(name, env.columns[name], env.n)

            return fact
        if isinstance(expr, Param):
            pname = expr.name
            return lambda env: env.params[pname]
        if isinstance(expr, Const):
            value = expr.value
            return lambda env: value
        if isinstance(expr, _Cmp):
            op, left, right = (
                expr.op,
                self.compile(expr.left, where),
                self.compile(expr.right, where),
            )
            what = expr.render()
            return lambda env: _compare(op, left(env), right(env), where, what)
        if isinstance(expr, _Arith):
            aop = expr.op
            aleft, aright = self.compile(expr.left, where), self.compile(expr.right, where)
            awhat = expr.render()
            return lambda env: _arith(aop, aleft(env), aright(env), where, awhat, env.n)
        if isinstance(expr, _BoolOp):
            items = [self.compile(i, where) for i in expr.items]
            is_all = isinstance(expr, _All)
            return lambda env: _boolop(is_all, items, env)
        if isinstance(expr, _Not):
            item = self.compile(expr.item, where)

            def negate(env: _Env) -> object:
                truth = _truth(item(env))
                return (not truth) if isinstance(truth, bool) else ~truth

            return negate
        if isinstance(expr, _In):
            member = self.compile(expr.item, where)
            values, negated, iwhat = expr.values, expr.negate, expr.render()
            return lambda env: _isin(member(env), values, negated, where, iwhat)
        if isinstance(expr, _IsNone):
            target = self.compile(expr.item, where)
            not_none = expr.negate

            def is_none(env: _Env) -> object:
                value = target(env)
                if not isinstance(value, _Vec):
                    return (value is None) != not_none
                null = value.null()
                if null is None:
                    return not_none
                return ~null if not_none else null

            return is_none
        if isinstance(expr, Call):
            args = [self.compile(a, where) for a in expr.args]
            function = expr.function
            if function in ("earlier", "later"):
                later = function == "later"
                first, second = args
                return lambda env: _earlier_later(later, first(env), second(env), where, env.n)
            if function in ("add_working_days", "roll_to_working_day"):
                return lambda env: _working(function, [a(env) for a in args], env, where)
            if function in _TIME_OF_DAY:
                return lambda env: _time_of_day(function, [a(env) for a in args], env, where)
            return lambda env: _shift(function, [a(env) for a in args], env, where)
        raise where.error(
            f"the expression node {type(expr).__name__} is not vectorised"
        )  # pragma: no cover


def _boolop(is_all: bool, items: Sequence[_Fn], env: _Env) -> object:
    masks: list[NDArray[np.bool_]] = []
    for item in items:
        truth = _truth(item(env))
        if isinstance(truth, bool):
            if truth != is_all:  # False in an "and", True in an "or" decides every row
                return truth
            continue
        masks.append(truth)
    if not masks:
        return is_all
    if len(masks) == 1:
        return masks[0]
    combine = np.logical_and if is_all else np.logical_or
    out = combine(masks[0], masks[1])
    for mask in masks[2:]:
        combine(out, mask, out=out)
    return out


# ---------------------------------------------------------------- outcomes


def _unify(parts: Sequence[object]) -> tuple[Kind, type[enum.Enum] | None, bool]:
    """The column encoding of one outcome across rules: (kind, enum class, has nulls)."""
    kinds: set[Kind] = set()
    classes: set[type[enum.Enum]] = set()
    has_null = False
    for part in parts:
        if part is _MISSING or part is None:
            has_null = True
            continue
        if isinstance(part, _Vec):
            kinds.add(part.kind)
            if part.enum is not None:
                classes.add(part.enum)
            if part.null() is not None:
                has_null = True
            continue
        kind = scalar_kind(part)
        kinds.add(kind)
        if isinstance(part, enum.Enum):
            classes.add(type(part))
    if not kinds:
        return "null", None, True
    if len(kinds) > 1:
        specific = kinds - {"int"}
        if len(specific) == 1 and specific <= {"money", "date", "enum"}:
            kinds = specific
        elif kinds <= {"str", "enum"} and not any(
            isinstance(p, _Vec) and p.kind == "enum" for p in parts
        ):
            kinds, classes = {"str"}, set()
        else:
            return "object", None, has_null
    kind = kinds.pop()
    if kind == "enum" and len(classes) != 1:
        return "object", None, has_null
    if kind in ("bool", "str") and has_null:
        return "object", None, has_null
    return kind, (classes.pop() if classes else None), has_null


def _dtype(kind: Kind, enum_class: type[enum.Enum] | None, parts: Sequence[object]) -> Any:
    if kind == "bool":
        return np.dtype(bool)
    if kind == "int":
        return np.dtype(np.int64)
    if kind in ("money", "date"):
        return tagged_dtype(np.dtype(np.int64), kind)
    if kind == "enum":
        if enum_class is None:
            return np.dtype(np.int8)
        return tagged_dtype(code_dtype(enum_class), kind, enum_class)
    if kind == "datetime":
        return np.dtype("datetime64[us]")
    if kind == "time":
        return np.dtype("timedelta64[us]")
    if kind == "str":
        width = 1
        for part in parts:
            if isinstance(part, _Vec):
                width = max(width, part.data.dtype.itemsize // 4)
            elif part is not _MISSING and part is not None:
                width = max(width, len(encode_value(part, "str")))
        return np.dtype(f"<U{width}")
    return np.dtype(object)


def _element(value: object, kind: Kind, dtype: Any, where: str) -> Any:
    """A scalar outcome as one element of the output column."""
    if value is _MISSING or value is None:
        if kind in ("int", "money", "date", "enum"):
            return np.iinfo(dtype).min
        if kind == "datetime":
            return np.datetime64("NaT", "us")
        if kind == "time":
            return np.timedelta64("NaT", "us")
        return None
    return encode_value(value, kind, where)


def _vec_as(vec: _Vec, kind: Kind, dtype: Any) -> NDArray[Any]:
    """A computed outcome column in the output encoding."""
    if kind == "object" and vec.kind != "object":
        out = np.empty(vec.data.shape[0], dtype=object)
        for i, value in enumerate(to_python(vec.data, vec.kind, vec.enum)):
            out[i] = value  # one by one: a tuple is one value, not a row
        return out
    return vec.data.astype(dtype, copy=False)


def _scalar_row(values: Sequence[object], kind: Kind, dtype: Any, where: str) -> NDArray[Any]:
    out = np.empty(len(values), dtype=dtype)
    for i, value in enumerate(values):
        out[i] = _element(value, kind, dtype, where)
    return out


class _Computed:
    """An outcome computed from the case (not a constant)."""

    __slots__ = ("compute",)

    def __init__(self, compute: _Fn) -> None:
        self.compute = compute


@attrs.frozen(eq=False)
class _Output:
    name: str
    parts: tuple[object, ...]  # per rule: a _Computed, a constant, or _MISSING


def _value_of(part: object, env: _Env) -> object:
    return part.compute(env) if isinstance(part, _Computed) else part


# ---------------------------------------------------------------- results


@attrs.frozen(eq=False)
class BatchResult:
    """The outcome of a table for every row of a batch.

    Attributes:
        table: the table evaluated.
        rule_index: per row, the index in ``table.rules`` of the rule that
            fired (for ``collect``, the first that fired); ``-1`` for none.
        outputs: outcome columns by name. For ``first`` and ``unique`` tables
            one value per row; for ``collect`` tables a ``rows x rules``
            array whose ``[row, i]`` is rule ``i``'s value (meaningful where
            ``hits[row, i]``).
        kinds: how each outcome column is encoded (see ``docs/batch.md``):
            ``"enum"`` columns hold codes of :attr:`enums` ``[name]``.
        enums: the enum class of each ``"enum"`` outcome.
        hits: for ``collect`` tables, the ``rows x rules`` matrix of the
            rules that fired; ``None`` otherwise.
        sets: for each outcome, the indices of the rules that set it.

    .. versionadded:: 0.1.0
    """

    table: Table
    rule_index: NDArray[np.intp]
    outputs: Mapping[str, NDArray[Any]]
    kinds: Mapping[str, Kind]
    enums: Mapping[str, type[enum.Enum]]
    hits: NDArray[np.bool_] | None
    sets: Mapping[str, tuple[int, ...]]

    def __len__(self) -> int:
        return int(self.rule_index.shape[0])

    def clauses(self) -> NDArray[np.str_]:
        """The clause ID of each row's fired rule (``""`` where none fired)."""
        return _labels(tuple(r.clause for r in self.table.rules))[self.rule_index]

    def rule_ids(self) -> NDArray[np.str_]:
        """The id of each row's fired rule (``""`` where none fired)."""
        return _labels(tuple(r.id for r in self.table.rules))[self.rule_index]

    def fired(self, row: int) -> tuple[int, ...]:
        """Indices of the rules that fired for one row, in table order."""
        if self.hits is None:
            index = int(self.rule_index[row])
            return () if index < 0 else (index,)
        return tuple(int(i) for i in np.flatnonzero(self.hits[row]))

    def to_python(self, name: str) -> list[object]:
        """One outcome as the Python values single decisions give, row by row.

        For ``collect`` tables each row's value is the tuple of the values of
        the rules that fired and set the outcome, in order. Meant for small
        batches and checks: it builds a Python object per row.
        """
        column = self.outputs[name]
        kind, enum_class = self.kinds[name], self.enums.get(name)
        if self.hits is None:
            return to_python(column, kind, enum_class)
        setting = np.zeros(len(self.table.rules), dtype=bool)
        setting[list(self.sets[name])] = True
        rows: list[object] = []
        for row in range(len(self)):
            chosen = np.flatnonzero(self.hits[row] & setting)
            rows.append(tuple(to_python(column[row, chosen], kind, enum_class)))
        return rows


_LABELS: dict[tuple[str, ...], NDArray[np.str_]] = {}


def _labels(names: tuple[str, ...]) -> NDArray[np.str_]:
    found = _LABELS.get(names)
    if found is None:
        # index -1 (no rule fired) reads the trailing ""
        found = _LABELS[names] = np.array([*names, ""], dtype=str)
    return found


# ---------------------------------------------------------------- tables


@attrs.frozen(eq=False)
class VectorTable:
    """A decision table compiled for batches; build it with :func:`compile_table`.

    Attributes:
        table: the table it was compiled from.

    .. versionadded:: 0.1.0
    """

    table: Table
    _conditions: tuple[_Fn, ...] = attrs.field(repr=False)
    _outputs: tuple[_Output, ...] = attrs.field(repr=False)
    _facts: frozenset[str] = attrs.field(repr=False)
    _params: frozenset[str] = attrs.field(repr=False)

    @property
    def name(self) -> str:
        """The table's name."""
        return self.table.name

    def evaluate(
        self,
        columns: Mapping[str, NDArray[Any]],
        params: Mapping[str, object],
        calendar: WorkCalendar | None = None,
    ) -> BatchResult:
        """Evaluate the table for every row of a batch.

        Args:
            columns: fact columns by name, 1-D numpy arrays of one length,
                encoded as ``docs/batch.md`` describes (:func:`facts_frame`
                builds them from fact records).
            params: parameter values in force (``policy.resolve(date).values``),
                as Python values; they are encoded like the columns they meet.
            calendar: the policy's :class:`~csrules.WorkCalendar`, for tables
                that count working days.

        Raises:
            NoRuleMatchedError: a ``first`` or ``unique`` table matched nothing
                for some rows (the message gives how many and the first).
            RuleOverlapError: a ``unique`` table matched more than one rule
                for some rows.
            RuleDefinitionError: a fact or parameter the table needs is
                missing, or a column's encoding does not fit the values a rule
                combines it with.
            DomainValueError: a column is not a 1-D array of the batch's
                length, or is float.
        """
        n = _length(columns)
        missing = sorted(self._facts - set(columns)) or sorted(self._params - set(params))
        if missing:
            msg = f"table {self.name!r} needs the fact or parameter {missing[0]!r}"
            raise RuleDefinitionError(msg)
        env = _Env(self.name, columns, params, calendar, n)
        table = self.table
        policy = table.hit_policy
        rules = table.rules
        count = len(rules)
        acc_type = np.uint8 if count < 255 else np.uint16
        best = np.zeros(n, dtype=acc_type)
        matched: NDArray[Any] | None = (
            np.zeros(n, dtype=acc_type) if policy is HitPolicy.UNIQUE else None
        )
        masks: list[NDArray[np.bool_] | bool] = []
        for i, condition in enumerate(self._conditions):
            truth = _truth(condition(env))
            weight = acc_type(count - i)
            if policy is not HitPolicy.FIRST:  # kept to report overlaps and build hits
                masks.append(truth)
            if isinstance(truth, bool):
                if truth:
                    np.maximum(best, weight, out=best)
                    if matched is not None:
                        np.add(matched, 1, out=matched, casting="unsafe")
                    elif policy is HitPolicy.FIRST:
                        break  # no later rule can fire
                continue
            weighted = np.multiply(truth.view(np.uint8), weight, dtype=acc_type)
            np.maximum(best, weighted, out=best)
            if matched is not None:
                np.add(matched, truth, out=matched, casting="unsafe")
        rule_index = count - best.astype(np.intp)
        unmatched = best == 0
        rule_index[unmatched] = -1
        hits: NDArray[np.bool_] | None = None
        if policy is HitPolicy.COLLECT:
            stacked = np.empty((count, n), dtype=bool)
            for i in range(count):
                truth = masks[i] if i < len(masks) else False
                stacked[i] = truth
            hits = stacked.T
        else:
            if unmatched.any():
                rows = np.flatnonzero(unmatched)
                msg = (
                    f"no rule of table {self.name!r} matched {rows.size} of {n} rows "
                    f"(the first is row {int(rows[0])})"
                )
                raise NoRuleMatchedError(msg)
            if matched is not None:
                overlap = matched > 1
                if overlap.any():
                    rows = np.flatnonzero(overlap)
                    first = int(rows[0])
                    ids = [
                        rules[i].id
                        for i, m in enumerate(masks)
                        if (m if isinstance(m, bool) else bool(m[first]))
                    ]
                    msg = (
                        f"table {self.name!r} is unique but {rows.size} of {n} rows matched "
                        f"more than one rule (the first is row {first}, matched by {ids})"
                    )
                    raise RuleOverlapError(msg)
        outputs: dict[str, NDArray[Any]] = {}
        kinds: dict[str, Kind] = {}
        enums: dict[str, type[enum.Enum]] = {}
        sets: dict[str, tuple[int, ...]] = {}
        for output in self._outputs:
            column, kind, enum_class = self._assemble(output, env, rule_index, hits)
            outputs[output.name] = column
            kinds[output.name] = kind
            if enum_class is not None:
                enums[output.name] = enum_class
            sets[output.name] = tuple(i for i, p in enumerate(output.parts) if p is not _MISSING)
        return BatchResult(
            table=table,
            rule_index=rule_index,
            outputs=outputs,
            kinds=kinds,
            enums=enums,
            hits=hits,
            sets=sets,
        )

    def _assemble(
        self,
        output: _Output,
        env: _Env,
        rule_index: NDArray[np.intp],
        hits: NDArray[np.bool_] | None,
    ) -> tuple[NDArray[Any], Kind, type[enum.Enum] | None]:
        n = env.n
        # every rule's outcome is computed, so the encoding of the column
        # depends on the table, the parameters and the column types only
        parts = [_value_of(part, env) for part in output.parts]
        kind, enum_class, _ = _unify(parts)
        dtype = _dtype(kind, enum_class, parts)
        where = f"table {self.name!r}, outcome {output.name!r}"
        constants = [_MISSING if isinstance(p, _Vec) else p for p in parts]
        row = _scalar_row([*constants, _MISSING], kind, dtype, where)
        if hits is None:
            column: NDArray[Any] = row[rule_index]
            for i, part in enumerate(parts):
                if isinstance(part, _Vec):
                    np.copyto(column, _vec_as(part, kind, dtype), where=rule_index == i)
            return column, kind, enum_class
        if not any(isinstance(p, _Vec) for p in parts):
            return np.broadcast_to(row[:-1], (n, len(parts))), kind, enum_class
        by_rule = np.empty((len(parts), n), dtype=dtype)
        for i, part in enumerate(parts):
            by_rule[i] = _vec_as(part, kind, dtype) if isinstance(part, _Vec) else row[i]
        return by_rule.T, kind, enum_class


def _length(columns: Mapping[str, NDArray[Any]]) -> int:
    for column in columns.values():
        shape = getattr(column, "shape", None)
        if shape:
            return int(shape[0])
    if not columns:
        msg = "a batch needs at least one fact column"
        raise DomainValueError("columns", {}, msg)
    first = next(iter(columns))
    raise DomainValueError(f"columns[{first!r}]", columns[first], "a 1-D numpy array")


def compile_table(table: Table) -> VectorTable:
    """Compile a decision table for batches.

    Every rule's condition and outcomes are translated once; evaluating the
    result never walks an expression tree per row.

    Raises:
        RuleDefinitionError: the table uses a function batches do not compute
            (the time-of-day functions ``next_time_of_day``,
            ``add_service_hours``, ``service_period_end``); the message names
            the table, the rule and the function.

    .. versionadded:: 0.1.0
    """
    compiler = _Compiler()
    conditions: list[_Fn] = []
    per_rule: list[dict[str, object]] = []
    facts: set[str] = set()
    params: set[str] = set()
    collect = table.hit_policy is HitPolicy.COLLECT
    for rule in table.rules:
        where = _Where(table.name, rule.id)
        _check(rule.when, where)
        conditions.append(compiler.compile(rule.when, where))
        values: dict[str, object] = dict(rule.then)
        if not collect:
            values = {**table.defaults, **values}
        compiled: dict[str, object] = {}
        for name, value in values.items():
            expr = lift(value)
            _check(expr, _Where(table.name, rule.id))
            facts |= expr.facts()
            params |= expr.params()
            if isinstance(expr, Const):
                compiled[name] = expr.value
            else:
                compiled[name] = _Computed(compiler.compile(expr, _Where(table.name, rule.id)))
        per_rule.append(compiled)
        facts |= rule.when.facts()
        params |= rule.when.params()
    outputs = tuple(
        _Output(name, tuple(r.get(name, _MISSING) for r in per_rule)) for name in table.outputs
    )
    return VectorTable(table, tuple(conditions), outputs, frozenset(facts), frozenset(params))
