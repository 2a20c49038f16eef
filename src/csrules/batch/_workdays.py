"""Working-day arithmetic over ``int64`` date ordinals, by table lookup.

For a span of days, the working days of the calendar (its own per-year
lists, :meth:`WorkCalendar.working_ordinals`, so official, user-supplied and
estimated years all answer as the calendar does) are laid out as a sorted
array ``work`` of ordinals and a running count ``count[k]`` of working days
on or before ``base + k``. Then

* the ``n``-th working day after ``d`` (``n >= 1``) is ``work[count[d - base] + n - 1]``;
* the first working day on or after ``d`` is ``work[count[d - 1 - base]]``.

Both are two array lookups per row. The calendar keeps its per-year lists;
nothing is cached here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from numpy.typing import NDArray

from csrules._calendar import WorkCalendar

__all__ = ["add_working_days", "roll_to_weekday_working_day", "roll_to_working_day"]

def _year_flags(calendar: WorkCalendar, year: int) -> NDArray[np.bool_]:
    first = dt.date(year, 1, 1).toordinal()
    last = dt.date(year, 12, 31).toordinal()
    flags = np.zeros(last - first + 1, dtype=bool)
    work = np.fromiter(calendar.working_ordinals(year), dtype=np.int64)
    flags[work - first] = True
    return flags


class _Span:
    """Working days of ``[base, last]`` as ``work`` and ``count`` arrays."""

    __slots__ = ("base", "count", "flags", "last", "work")

    def __init__(self, calendar: WorkCalendar, base: int, last: int) -> None:
        first_year = dt.date.fromordinal(base).year
        last_year = dt.date.fromordinal(last).year
        year_start = dt.date(first_year, 1, 1).toordinal()
        flags = np.concatenate([_year_flags(calendar, y) for y in range(first_year, last_year + 1)])
        flags = flags[base - year_start : last - year_start + 1]
        self.base = base
        self.last = last
        self.flags = flags
        self.work: NDArray[np.int64] = base + np.flatnonzero(flags).astype(np.int64)
        self.count: NDArray[np.int64] = np.cumsum(flags, dtype=np.int64)


def _bounds(d: NDArray[np.int64], valid: NDArray[np.bool_] | None) -> tuple[int, int] | None:
    picked = d if valid is None else d[valid]
    if picked.size == 0:
        return None
    return int(picked.min()), int(picked.max())


def add_working_days(
    calendar: WorkCalendar,
    d: NDArray[np.int64],
    n: NDArray[np.int64] | int,
    null: NDArray[np.bool_] | None,
) -> tuple[NDArray[np.int64], NDArray[np.bool_] | None]:
    """The ``n``-th working day after each date (``d`` itself when ``n`` is 0).

    Args:
        calendar: the working-day calendar.
        d: start dates as ordinals.
        n: working days to add, one for all rows or one per row.
        null: rows whose date or count is ``None`` (or ``None`` for no such row).

    Returns:
        The dates as ordinals, and the rows without an answer (nulls, and
        negative counts, for which :meth:`WorkCalendar.add_working_days`
        raises).
    """
    counts = np.asarray(n, dtype=np.int64)
    invalid = null
    negative = counts < 0
    if negative.any():
        negative = np.broadcast_to(negative, d.shape)
        invalid = negative if invalid is None else invalid | negative
    valid = None if invalid is None else ~invalid
    bounds = _bounds(d, valid)
    if bounds is None:
        return np.full(d.shape, np.iinfo(np.int64).min, dtype=np.int64), invalid
    low, high = bounds
    most = int(np.broadcast_to(counts, d.shape)[valid].max() if valid is not None else counts.max())
    last = calendar.add_working_days(dt.date.fromordinal(high), max(most, 1)).toordinal()
    span = _span(calendar, low - 1, last)
    safe = d if valid is None else np.where(valid, d, low)
    safe_n = counts if invalid is None else np.where(invalid, 0, counts)
    index = span.count[safe - span.base] + safe_n - 1
    moved = span.work[np.maximum(index, 0)]
    out: NDArray[np.int64] = np.where(safe_n == 0, safe, moved)
    if invalid is not None:
        out[invalid] = np.iinfo(np.int64).min
    return out, invalid


def roll_to_working_day(
    calendar: WorkCalendar, d: NDArray[np.int64], null: NDArray[np.bool_] | None
) -> NDArray[np.int64]:
    """Each date if it is a working day, else the next working day (ordinals)."""
    valid = None if null is None else ~null
    bounds = _bounds(d, valid)
    if bounds is None:
        return np.full(d.shape, np.iinfo(np.int64).min, dtype=np.int64)
    low, high = bounds
    last = calendar.add_working_days(dt.date.fromordinal(high), 1).toordinal()
    span = _span(calendar, low - 1, last)
    safe = d if valid is None else np.where(valid, d, low)
    out: NDArray[np.int64] = span.work[span.count[safe - 1 - span.base]]
    if null is not None:
        out[null] = np.iinfo(np.int64).min
    return out


def roll_to_weekday_working_day(
    calendar: WorkCalendar, d: NDArray[np.int64], null: NDArray[np.bool_] | None
) -> NDArray[np.int64]:
    """Each date if it is a working day from Monday to Friday, else the next such
    day (ordinals): an adjusted working Saturday or Sunday is passed over."""
    out = roll_to_working_day(calendar, d, null)
    valid = np.ones(d.shape, dtype=bool) if null is None else ~null
    while True:
        # ordinal 1 (1 January of year 1) is a Monday: weekday = (ordinal - 1) % 7
        weekend = valid & ((out - 1) % 7 >= 5)
        if not weekend.any():
            return out
        moved, _ = add_working_days(calendar, out[weekend], 1, None)
        out[weekend] = moved


def _span(calendar: Any, base: int, last: int) -> _Span:
    if not isinstance(calendar, WorkCalendar):
        msg = f"working-day functions need a WorkCalendar, got {type(calendar).__name__}"
        raise TypeError(msg)
    return _Span(calendar, base, last)
