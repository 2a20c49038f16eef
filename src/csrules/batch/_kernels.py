"""Vectorised implementations of the registered rule functions, over columns.

Each kernel is named by :attr:`csrules.rules._functions.Function.kernel` and
called as ``kernel(function, args, env, where)``: ``args`` are columns
(:class:`~csrules.batch._values.Vec`) or Python values, a ``None`` argument
gives ``None`` on the rows it touches, and a call without a column runs the
function's scalar implementation once. :func:`rowwise` is the stand-in for a
function registered without a kernel: its scalar implementation per row.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from csrules._calendar import WorkCalendar, service_clock
from csrules.batch import _workdays
from csrules.batch._encode import (
    NULL_INT,
    column_of,
    micros_of_day,
    micros_since_epoch,
    scalar_kind,
    to_python,
    with_kind,
)
from csrules.batch._values import (
    Env,
    Vec,
    Where,
    as_vec,
    check_kinds,
    either,
    encode_for,
    int_arg,
    joined_kind,
    with_nulls,
)
from csrules.exceptions import CalendarError, CsrulesError
from csrules.rules._functions import FUNCTIONS, Function

__all__ = ["kernel_of"]

_US_PER_HOUR: Final = 3_600_000_000
_US_PER_MINUTE: Final = 60_000_000
_US_PER_DAY: Final = 86_400_000_000


def earlier(function: Function, args: Sequence[object], env: Env, where: Where) -> object:
    """earlier(a, b): np.minimum, skipping None."""
    return _earlier_later(False, args[0], args[1], where)


def later(function: Function, args: Sequence[object], env: Env, where: Where) -> object:
    """later(a, b): np.maximum, skipping None."""
    return _earlier_later(True, args[0], args[1], where)


def _earlier_later(later: bool, a: object, b: object, where: Where) -> object:
    if not isinstance(a, Vec) and not isinstance(b, Vec):
        if a is None:
            return b
        if b is None:
            return a
        if later:
            return a if a >= b else b  # type: ignore[operator]
        return a if a <= b else b  # type: ignore[operator]
    if a is None or b is None:
        return b if a is None else a
    if not isinstance(a, Vec):
        a, b = b, a
    assert isinstance(a, Vec)
    what = "later()" if later else "earlier()"
    if not isinstance(b, Vec):
        b = Vec(
            np.broadcast_to(np.asarray(encode_for(b, a, where, what)), a.data.shape),
            a.kind,
            a.enum,
            null=None,
        )
    check_kinds(a, b, where, what)
    kind, enum_class = joined_kind(a, b)
    na, nb = a.null(), b.null()
    pick = np.maximum if later else np.minimum
    data = pick(a.data, b.data)
    if nb is not None:
        data = np.where(nb, a.data, data)
    if na is not None:
        data = np.where(na, b.data, data)
    null = None if na is None or nb is None else na & nb
    return Vec(np.asarray(data), kind, enum_class, null=null)


def shift(function: Function, args: Sequence[object], env: Env, where: Where) -> object:
    """add_days, subtract_days, add_hours, add_minutes."""
    start, amount = args
    name = function.name
    what = f"{name}()"
    if not isinstance(start, Vec) and not isinstance(amount, Vec):
        if start is None or amount is None:
            return None
        return function.scalar(start, amount)
    n = env.n
    count, count_null = int_arg(amount, n, where, what)
    if start is None:
        return Vec(np.full(n, NULL_INT, dtype=np.int64), "date", null=np.ones(n, dtype=bool))
    vec = as_vec(start, n, where)
    sign = -1 if name == "subtract_days" else 1
    if name in ("add_days", "subtract_days"):
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
        step = _US_PER_HOUR if name == "add_hours" else _US_PER_MINUTE
        data = vec.data + (np.asarray(count, dtype=np.int64) * step).astype("timedelta64[us]")
        kind = "datetime"
    null = either(vec.null(), count_null)
    return Vec(with_nulls(np.asarray(data), null), kind, null=null)


def working_days(function: Function, args: Sequence[object], env: Env, where: Where) -> object:
    """add_working_days, roll_to_working_day, roll_to_weekday_working_day over int64
    date ordinals."""
    calendar = env.calendar
    what = f"{function.name}()"
    if not isinstance(calendar, WorkCalendar):
        raise where.error(f"{what} needs the policy's WorkCalendar: pass calendar=")
    if not any(isinstance(a, Vec) for a in args):
        if any(a is None for a in args):
            return None
        return function.scalar(calendar, *args)
    n = env.n
    start = args[0]
    if start is None:
        return Vec(np.full(n, NULL_INT, dtype=np.int64), "date", null=np.ones(n, dtype=bool))
    vec = as_vec(start, n, where)
    if vec.kind not in ("int", "date"):
        raise where.error(f"{what}: expects dates (int64 ordinals), got a {vec.kind} column")
    days = np.ascontiguousarray(vec.data, dtype=np.int64)
    if function.name == "roll_to_working_day":
        null = vec.null()
        return Vec(_workdays.roll_to_working_day(calendar, days, null), "date", null=null)
    if function.name == "roll_to_weekday_working_day":
        null = vec.null()
        return Vec(_workdays.roll_to_weekday_working_day(calendar, days, null), "date", null=null)
    count, count_null = int_arg(args[1], n, where, what)
    out, null = _workdays.add_working_days(
        calendar, days, count, either(vec.null(), count_null)
    )
    return Vec(out, "date", null=null)


_UTC8: Final = 8 * _US_PER_HOUR
#: Asia/Shanghai has kept UTC+8 without daylight saving since September 1991;
#: local times of day are worked out with that fixed offset from 1992 on.
_FIXED_OFFSET_FROM: Final = micros_since_epoch(
    dt.datetime(1992, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
)


def _clock_arg(
    value: object, n: int, where: Where, what: str
) -> tuple[NDArray[np.int64], NDArray[np.bool_] | None]:
    """A time-of-day argument as microseconds since midnight (one or per row), and its nulls."""
    if isinstance(value, Vec):
        if value.kind != "time":
            raise where.error(
                f"{what}: expects times of day (timedelta64), got a {value.kind} column"
            )
        null = value.null()
        data = value.data.astype("timedelta64[us]").astype(np.int64)
        return (data if null is None else np.where(null, 0, data)), null
    if isinstance(value, dt.time) and value.tzinfo is None:
        return np.asarray(micros_of_day(value), dtype=np.int64), None
    raise where.error(f"{what}: expects a local time of day, got {value!r}")


def time_of_day(function: Function, args: Sequence[object], env: Env, where: Where) -> object:
    """next_time_of_day, add_service_hours, service_period_end over datetime64 columns."""
    name = function.name
    what = f"{name}()"
    if not any(isinstance(a, Vec) for a in args):
        if any(a is None for a in args):
            return None
        return function.scalar(env.calendar, *args)
    n = env.n
    start = args[0]
    if start is None:
        return Vec(np.full(n, np.datetime64("NaT", "us")), "datetime")
    vec = as_vec(start, n, where)
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
    if name == "next_time_of_day":
        at, invalid = _clock_arg(args[1], n, where, what)
        out = (day + (now >= at)) * _US_PER_DAY + at
    else:
        opens, opens_null = _clock_arg(args[-2], n, where, what)
        closes, closes_null = _clock_arg(args[-1], n, where, what)
        invalid = either(opens_null, closes_null)
        if bool(np.any(opens >= closes)):
            invalid = either(invalid, np.broadcast_to(opens >= closes, local.shape))
        if name == "service_period_end":
            outside = (now < opens) | (now >= closes)  # the single path raises CalendarError
            invalid = outside if invalid is None else invalid | outside
            out = day * _US_PER_DAY + closes
        else:
            hours, hours_null = int_arg(args[1], n, where, what)
            remaining = np.asarray(hours, dtype=np.int64) * _US_PER_HOUR
            negative = np.broadcast_to(remaining < 0, local.shape)
            invalid = either(invalid, either(hours_null, negative if negative.any() else None))
            # rows with an invalid window or count are nulls: give them a
            # harmless window and count so the arithmetic stays defined
            closes = np.where(opens >= closes, opens + 1, closes)
            remaining = remaining if invalid is None else np.where(invalid, 0, remaining)
            end_day, end_at = service_clock(day, now, remaining, opens, closes, np.where)
            out = end_day * _US_PER_DAY + end_at
    result = (np.asarray(out, dtype=np.int64) - _UTC8).astype("datetime64[us]")
    result = np.broadcast_to(result, (n,)).copy() if result.shape != (n,) else result
    null = either(null, invalid)
    return Vec(with_nulls(result, null), "datetime", null=null)


def local_date(function: Function, args: Sequence[object], env: Env, where: Where) -> object:
    """The Asia/Shanghai date of each time, as date ordinals: always at UTC+8, as
    :func:`~csrules.rules._common.local_date` places it."""
    (arg,) = args
    if not isinstance(arg, Vec) or arg.kind != "datetime":
        return rowwise(function, args, env, where)
    us = arg.data.astype("datetime64[us]", copy=False).view(np.int64)
    null = arg.null()
    days = np.floor_divide(us + _UTC8, _US_PER_DAY) + _EPOCH_ORDINAL
    return Vec(with_kind(with_nulls(days, null), "date"), "date", null=null)


_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()


def rowwise(function: Function, args: Sequence[object], env: Env, where: Where) -> object:
    """A function without a kernel: its scalar implementation on each row.

    Rows where an argument is ``None``, or where the scalar implementation
    raises one of the library's errors, are ``None``.
    """
    if not any(isinstance(a, Vec) for a in args):
        if any(a is None for a in args):
            return None
        return _call(function, env, args)
    n = env.n
    columns: list[list[object]] = []
    for arg in args:
        if isinstance(arg, Vec):
            columns.append(to_python(arg.data, arg.kind, arg.enum))
        else:
            columns.append([arg] * n)
    values: list[object] = []
    for row in zip(*columns, strict=True):
        if any(v is None for v in row):
            values.append(None)
            continue
        try:
            values.append(_call(function, env, row))
        except CsrulesError:
            values.append(None)
    present = [v for v in values if v is not None]
    kinds = {scalar_kind(v) for v in present}
    kind = kinds.pop() if len(kinds) == 1 else "object"
    if kind in ("bool", "str") and len(present) < n:
        kind = "object"
    first = present[0] if present else None
    enum_class = type(first) if isinstance(first, enum.Enum) else None
    try:
        data = column_of(values, kind, enum_class)
    except CsrulesError:
        kind, enum_class = "object", None
        data = column_of(values, kind, None)
    return Vec(data, kind, enum_class)


def _call(function: Function, env: Env, args: Sequence[object]) -> object:
    if function.calendar:
        return function.scalar(env.calendar, *args)
    return function.scalar(*args)


Kernel = Any


def kernel_of(name: str) -> Kernel:
    """The vectorised implementation of the registered function ``name``."""
    function = FUNCTIONS[name]
    if function.kernel is None:
        return rowwise
    found = globals().get(function.kernel)
    if found is None:  # pragma: no cover - every registered kernel exists (tested)
        msg = f"function {name!r}: no kernel named {function.kernel!r} in {__name__}"
        raise LookupError(msg)
    return found
