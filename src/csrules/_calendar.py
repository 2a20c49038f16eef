"""Chinese working days and daily service hours, in Asia/Shanghai time.

:class:`WorkCalendar` answers two kinds of question that customer-service
deadlines depend on:

* **Working days.** Saturdays and Sundays are days off, statutory holidays are
  days off, and adjusted working days (调休, weekend days the State Council
  makes working days to bridge a holiday) are working days. Years covered by
  the ``chinese_calendar`` package use its official data; a year can be
  supplied or overridden with a schedule file (:meth:`WorkCalendar.from_file`).
  Any other year falls back to an *estimate*: weekends plus the fixed-date
  statutory holidays (1 January; 1–2 May; 1–3 October). Every date of such a
  year reports :meth:`WorkCalendar.is_estimated` as ``True``.
* **Service hours.** Customer service is staffed every day of the year,
  including weekends and holidays, between an opening and a closing time
  (08:30–20:00 unless told otherwise).

All dates and times are in Asia/Shanghai. Times are returned as
:class:`pendulum.DateTime` in Asia/Shanghai, dates as :class:`pendulum.Date`.
Asia/Shanghai has observed no daylight-saving time since 1991, so arithmetic
on local wall-clock time is exact.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

import attrs
import chinese_calendar
import pendulum
from pendulum import Date, DateTime

from csrules._files import MAX_FILE_BYTES, FileRefusedError, parse_json, parse_toml, read_text
from csrules.exceptions import CalendarError

__all__ = [
    "DEFAULT_CLOSES",
    "DEFAULT_OPENS",
    "FALLBACK_HOLIDAYS",
    "MAX_SCHEDULE_BYTES",
    "SHANGHAI",
    "WorkCalendar",
    "YearSchedule",
]

SHANGHAI = pendulum.timezone("Asia/Shanghai")
"""The time zone every date and time of this module is expressed in."""

DEFAULT_OPENS = time(8, 30)
"""Default daily opening time of customer service (local time)."""

DEFAULT_CLOSES = time(20, 0)
"""Default daily closing time of customer service (local time)."""

FALLBACK_HOLIDAYS: tuple[tuple[int, int], ...] = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))
"""(month, day) of the fixed-date statutory holidays used for years without data.

New Year's Day, Labour Day (two days) and National Day (three days) under the
current State Council rules. The lunar holidays (Spring Festival, Qingming,
Dragon Boat, Mid-Autumn) and the adjusted working days cannot be derived
from a rule, so a year relying on this fallback is an estimate.
"""

MAX_SCHEDULE_BYTES = MAX_FILE_BYTES
"""The largest schedule file :meth:`WorkCalendar.from_file` reads, in bytes (1 MiB)."""

_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
_MIN_YEAR = 1
_MAX_YEAR = 9999
_YEAR_KEY = re.compile(r"[0-9]{4}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SCHEDULE_KEYS = frozenset({"holidays", "workdays"})
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _by_year(days: Iterable[date]) -> dict[int, frozenset[int]]:
    """Group dates into per-year frozensets of proleptic ordinals."""
    grouped: dict[int, set[int]] = {}
    for d in days:
        grouped.setdefault(d.year, set()).add(d.toordinal())
    return {year: frozenset(ordinals) for year, ordinals in grouped.items()}


_OFFICIAL_OFF: dict[int, frozenset[int]] = _by_year(chinese_calendar.holidays)
_OFFICIAL_ON: dict[int, frozenset[int]] = _by_year(chinese_calendar.workdays)
_OFFICIAL_YEARS: frozenset[int] = frozenset(
    range(min(_OFFICIAL_OFF), max(_OFFICIAL_OFF) + 1),
)


def _is_weekend(ordinal: int) -> bool:
    """Whether the day with this proleptic ordinal is a Saturday or Sunday."""
    # Ordinal 1 (0001-01-01) is a Monday, so (ordinal - 1) % 7 is date.weekday().
    return (ordinal - 1) % 7 >= 5


def _to_date_set(value: Iterable[date]) -> frozenset[date]:
    """Convert an iterable of dates into a frozenset of plain ``datetime.date``.

    Raises:
        CalendarError: an item is not a date, or is a date-time.
    """
    out: set[date] = set()
    for item in value:
        if isinstance(item, datetime) or not isinstance(item, date):
            raise CalendarError(f"expected a date, got {item!r} ({type(item).__name__})")
        out.add(date(item.year, item.month, item.day))
    return frozenset(out)


@attrs.frozen
class YearSchedule:
    """The announced working-day schedule of one calendar year.

    A year with a schedule is fully defined by it: Saturdays and Sundays are
    off, every date in ``holidays`` is off, and every date in ``workdays`` (an
    adjusted working day, 调休) is a working day.

    Attributes:
        year: the calendar year, 1 to 9999.
        holidays: days off besides ordinary weekends (weekend dates may be
            listed too; they are off either way).
        workdays: weekend dates that are working days.

    Raises:
        CalendarError: the year is out of range, a date lies outside the year,
            a date is in both sets, or a workday is not a Saturday or Sunday.
    """

    year: int
    holidays: frozenset[date] = attrs.field(default=frozenset(), converter=_to_date_set)
    workdays: frozenset[date] = attrs.field(default=frozenset(), converter=_to_date_set)

    def __attrs_post_init__(self) -> None:
        """Check the schedule is consistent (see the class docstring)."""
        where = f"YearSchedule({self.year!r})"
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise CalendarError(f"{where}: year must be an int, got {type(self.year).__name__}")
        if not _MIN_YEAR <= self.year <= _MAX_YEAR:
            raise CalendarError(f"{where}: year must be between {_MIN_YEAR} and {_MAX_YEAR}")
        for name, days in (("holidays", self.holidays), ("workdays", self.workdays)):
            for d in sorted(days):
                if d.year != self.year:
                    raise CalendarError(f"{where}: {name}: {d.isoformat()} is not in {self.year}")
        both = self.holidays & self.workdays
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise CalendarError(f"{where}: {listed} listed both as holiday and as workday")
        for d in sorted(self.workdays):
            if d.weekday() < 5:
                raise CalendarError(
                    f"{where}: workdays: {d.isoformat()} is a {_WEEKDAY_NAMES[d.weekday()]}; "
                    "list only Saturdays and Sundays that are working days"
                )


class _Year:
    """Precomputed working days of one year (internal, immutable once built)."""

    __slots__ = ("work_dates", "work_ordinals", "work_set")

    def __init__(self, year: int, schedule: YearSchedule | None) -> None:
        if schedule is not None:
            off = frozenset(d.toordinal() for d in schedule.holidays)
            on = frozenset(d.toordinal() for d in schedule.workdays)
        elif year in _OFFICIAL_YEARS:
            off = _OFFICIAL_OFF.get(year, frozenset())
            on = _OFFICIAL_ON.get(year, frozenset())
        else:
            off = frozenset(date(year, m, d).toordinal() for m, d in FALLBACK_HOLIDAYS)
            on = frozenset()
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        ordinals = tuple(
            o for o in range(first, last + 1) if o in on or not (o in off or _is_weekend(o))
        )
        self.work_ordinals: tuple[int, ...] = ordinals
        self.work_set: frozenset[int] = frozenset(ordinals)
        self.work_dates: tuple[Date, ...] = tuple(Date.fromordinal(o) for o in ordinals)


def _sorted_schedules(value: Iterable[YearSchedule]) -> tuple[YearSchedule, ...]:
    """Convert schedules to a tuple sorted by year.

    Raises:
        CalendarError: an item is not a :class:`YearSchedule`.
    """
    items = tuple(value)
    for item in items:
        if not isinstance(item, YearSchedule):
            raise CalendarError(
                f"schedules must hold YearSchedule objects, got {type(item).__name__}"
            )
    return tuple(sorted(items, key=lambda s: s.year))


def _as_date(value: object, name: str) -> date:
    """Return ``value`` as a date in Asia/Shanghai.

    A plain date is returned unchanged; an aware date-time is converted to
    Asia/Shanghai and its date taken.

    Raises:
        CalendarError: ``value`` is a naive date-time or not a date.
    """
    if isinstance(value, datetime):
        return _local(value, name).date()
    if isinstance(value, date):
        return value
    raise CalendarError(f"argument {name!r} must be a date, got {value!r} ({type(value).__name__})")


def _local(value: object, name: str) -> DateTime:
    """Return an aware date-time as a :class:`pendulum.DateTime` in Asia/Shanghai.

    Raises:
        CalendarError: ``value`` is naive or not a date-time.
    """
    if type(value) is DateTime and value.tzinfo is SHANGHAI:
        return value
    if not isinstance(value, datetime):
        raise CalendarError(
            f"argument {name!r} must be a datetime with a time zone, "
            f"got {value!r} ({type(value).__name__})"
        )
    if value.utcoffset() is None:
        raise CalendarError(
            f"argument {name!r} is a naive datetime ({value.isoformat()}); "
            "pass an aware one, e.g. pendulum.datetime(..., tz='Asia/Shanghai')"
        )
    # The standard-library conversion honours the offset the value itself reports
    # (including its fold), so the instant is kept exactly as the caller meant it.
    local = datetime.astimezone(value, SHANGHAI)
    return DateTime(
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.microsecond,
        tzinfo=SHANGHAI,
        fold=local.fold,
    )


def _time_of_day(t: DateTime) -> int:
    """Microseconds since local midnight of ``t``."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_SECOND + t.microsecond


def _clock(value: object, name: str) -> int:
    """Microseconds since midnight of a naive ``datetime.time``.

    Raises:
        CalendarError: ``value`` is not a time, or carries a time zone.
    """
    if not isinstance(value, time):
        raise CalendarError(
            f"argument {name!r} must be a datetime.time, got {value!r} ({type(value).__name__})"
        )
    if value.tzinfo is not None:
        raise CalendarError(
            f"argument {name!r} must be a local (naive) time of day in Asia/Shanghai, "
            f"got {value.isoformat()}"
        )
    return ((value.hour * 60 + value.minute) * 60 + value.second) * _US_PER_SECOND + (
        value.microsecond
    )


def _window(opens: time, closes: time) -> tuple[int, int]:
    """Validate a daily service window and return it in microseconds since midnight.

    Raises:
        CalendarError: a bound is not a naive time, or ``opens`` is not before ``closes``.
    """
    try:
        return _cached_window(opens, closes)
    except TypeError as exc:  # an unhashable argument never reaches the checks
        raise CalendarError(
            f"service hours must be datetime.time values, got {opens!r} and {closes!r}"
        ) from exc


@functools.lru_cache(maxsize=64)
def _cached_window(opens: time, closes: time) -> tuple[int, int]:
    """Validate a daily service window and return it in microseconds since midnight.

    Raises:
        CalendarError: a bound is not a naive time, or ``opens`` is not before ``closes``.
    """
    start = _clock(opens, "opens")
    end = _clock(closes, "closes")
    if start >= end:
        raise CalendarError(
            f"service hours must open before they close on the same day, "
            f"got opens={opens.isoformat()} closes={closes.isoformat()}"
        )
    return start, end


def _make(ordinal: int, time_of_day: int) -> DateTime:
    """Build the Asia/Shanghai date-time at ``time_of_day`` µs after midnight of a day.

    Raises:
        CalendarError: the day lies beyond the year 9999.
    """
    try:
        d = date.fromordinal(ordinal)
    except (ValueError, OverflowError) as exc:
        raise CalendarError("the result lies outside the supported years 1 to 9999") from exc
    seconds, micro = divmod(time_of_day, _US_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return DateTime(d.year, d.month, d.day, hour, minute, second, micro, tzinfo=SHANGHAI)


def _pick(condition: Any, when_true: Any, when_false: Any) -> Any:
    return when_true if condition else when_false


def service_clock(
    day: Any, now: Any, remaining: Any, opens: Any, closes: Any, pick: Any = _pick
) -> tuple[Any, Any]:
    """Where ``remaining`` µs of service time run out: ``(day ordinal, µs after midnight)``.

    The one definition of service-hours arithmetic: a start at ``now`` µs
    after midnight of ``day``, a daily window ``[opens, closes)`` (``opens <
    closes``) and ``remaining >= 0``. The same code runs on Python ints
    (``pick`` chooses with ``if``) and on numpy arrays, row by row (``pick``
    is ``numpy.where``). Time outside the window does not count; starting
    outside it, counting starts at the next opening; running out exactly at
    closing time gives closing time.
    """
    before = now < opens
    after = now >= closes
    day = day + after
    now = pick(before | after, opens, now)
    available = closes - now
    over = remaining - available
    full_days, rest = divmod(pick(over > 0, over, 0), closes - opens)
    within = remaining <= available
    ends_at_close = rest == 0
    out_day = pick(within, day, pick(ends_at_close, day + full_days, day + full_days + 1))
    out_at = pick(within, now + remaining, pick(ends_at_close, closes, opens + rest))
    return out_day, out_at


#: How many ``(date, n)`` sums a calendar keeps for
#: :meth:`WorkCalendar.add_working_days_noted` before it starts afresh.
MAX_KEPT_SUMS: Final = 65_536


@attrs.frozen
class WorkCalendar:
    """Chinese working days: weekends and statutory holidays off, adjusted working days (调休) on.

    Years covered by the ``chinese_calendar`` package's official data use it;
    each :class:`YearSchedule` in ``schedules`` defines (or overrides) its year
    completely; any other year falls back to weekends plus
    :data:`FALLBACK_HOLIDAYS` and is reported as estimated.

    Dates are accepted as ``datetime.date`` (including :class:`pendulum.Date`)
    and returned as :class:`pendulum.Date`. An aware date-time given where a
    date is expected is converted to Asia/Shanghai and its date used. Times
    must be aware; they are converted to Asia/Shanghai and returned as
    :class:`pendulum.DateTime` in Asia/Shanghai. A naive date-time raises
    :class:`~csrules.exceptions.CalendarError` naming the argument.

    Instances are immutable and safe to share between threads. Each keeps a
    private per-year cache, filled on first use; filling it is idempotent.
    A calendar pickles without that cache.

    Attributes:
        schedules: user-supplied schedules, one per year, sorted by year.

    Raises:
        CalendarError: two schedules are for the same year.
    """

    schedules: tuple[YearSchedule, ...] = attrs.field(default=(), converter=_sorted_schedules)
    _schedule_by_year: Mapping[int, YearSchedule] = attrs.field(
        init=False, eq=False, hash=False, repr=False
    )
    _years: dict[int, _Year] = attrs.field(init=False, eq=False, hash=False, repr=False)
    _covered: frozenset[int] = attrs.field(init=False, eq=False, hash=False, repr=False)
    # (date, n) -> (the n-th working day after it, whether a year on the way
    # is estimated): the answers of add_working_days_noted, bounded; and
    # (date, None) -> the answers of roll_to_working_day_noted
    _added: dict[tuple[date, int | None], tuple[date, bool]] = attrs.field(
        init=False, eq=False, hash=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        """Index the schedules by year and create the empty per-year cache."""
        by_year: dict[int, YearSchedule] = {}
        for schedule in self.schedules:
            if schedule.year in by_year:
                raise CalendarError(f"two schedules given for the year {schedule.year}")
            by_year[schedule.year] = schedule
        object.__setattr__(self, "_schedule_by_year", by_year)
        object.__setattr__(self, "_years", {})
        object.__setattr__(self, "_covered", _OFFICIAL_YEARS | frozenset(by_year))
        object.__setattr__(self, "_added", {})

    def __reduce__(self) -> tuple[type[WorkCalendar], tuple[object, ...]]:
        """Pickle the schedules only: the copy starts with an empty cache."""
        return (type(self), (self.schedules,))

    # ------------------------------------------------------------------ building

    @classmethod
    def official(cls) -> WorkCalendar:
        """Return the calendar of the official data, with the fallback outside it.

        Returns:
            A calendar without user schedules: the ``chinese_calendar`` data
            for the years it covers, weekends plus :data:`FALLBACK_HOLIDAYS`
            (estimated) for any other year.
        """
        return cls()

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], base: WorkCalendar | None = None
    ) -> WorkCalendar:
        """Load a schedule file on top of a base calendar.

        The file is TOML (suffix ``.toml``) or JSON (suffix ``.json``) of the
        shape described in :meth:`from_mapping`. Each year in the file is
        defined by the file alone, replacing what ``base`` knew of that year.

        The file must be a regular file of at most :data:`MAX_SCHEDULE_BYTES`
        bytes in UTF-8, nested at most 32 levels deep; a JSON object must not
        repeat a key.

        Args:
            path: the schedule file.
            base: the calendar to extend; :meth:`official` when omitted.

        Returns:
            A new calendar: ``base`` with the file's years added or replaced.

        Raises:
            CalendarError: the file cannot be read (missing, not a regular
                file, too large, not UTF-8), has another suffix, is not valid
                TOML or JSON, is nested too deeply, or its content is invalid;
                the message names the file, the key and the reason.
        """
        file = Path(path)
        source = str(file)
        suffix = file.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise CalendarError(
                f"{source}: unsupported schedule file type {file.suffix or '(none)'!r}; "
                "use .toml or .json"
            )
        data: object
        try:
            text = read_text(file, MAX_SCHEDULE_BYTES)
            data = parse_toml(text) if suffix == ".toml" else parse_json(text, _JsonObject)
        except FileRefusedError as exc:
            where = "" if exc.where == "-" else f"{exc.where}: "
            raise CalendarError(f"{source}: {where}{exc.reason}") from exc
        if not isinstance(data, Mapping):
            raise CalendarError(
                f"{source}: the top level must be a table of years, got {type(data).__name__}"
            )
        _no_repeats(source, "", data)
        return cls.from_mapping(data, source=source, base=base)

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, object],
        source: str = "<mapping>",
        base: WorkCalendar | None = None,
    ) -> WorkCalendar:
        """Build a calendar from already-parsed schedule data.

        ``data`` maps a year, written as four digits (``"2027"``), to a table
        with two optional lists: ``holidays`` (days off) and ``workdays``
        (Saturdays or Sundays that are working days). A date is a
        ``"YYYY-MM-DD"`` string or a ``datetime.date`` (a TOML date literal).
        Each year listed is defined by its table alone; a year may be one the
        official data already covers, which the table then overrides.

        Args:
            data: the parsed file content.
            source: the name used in error messages (the file path).
            base: the calendar to extend; :meth:`official` when omitted.

        Returns:
            A new calendar: ``base`` with these years added or replaced.

        Raises:
            CalendarError: a key is not a year, a table has an unknown key or a
                value of the wrong type, a date is malformed, lies outside its
                year or is repeated, a date is both a holiday and a workday, or
                a workday is not a Saturday or Sunday. The message has the form
                ``"<source>: [<year>].<list>[<index>]: <reason>"``.
        """
        if not isinstance(data, Mapping):
            raise CalendarError(
                f"{source}: the schedule must be a mapping of years, got {type(data).__name__}"
            )
        parsed = [_parse_year(source, key, value) for key, value in data.items()]
        merged = {s.year: s for s in (base if base is not None else cls()).schedules}
        merged.update((s.year, s) for s in parsed)
        return cls(schedules=tuple(merged.values()))

    # ------------------------------------------------------------------ working days

    def _year(self, year: int) -> _Year:
        """Return the precomputed working days of ``year``, building them once."""
        built = self._years.get(year)
        if built is None:
            if not _MIN_YEAR <= year <= _MAX_YEAR:
                raise CalendarError(
                    f"the year {year} is outside the supported years {_MIN_YEAR} to {_MAX_YEAR}"
                )
            built = _Year(year, self._schedule_by_year.get(year))
            # Building is deterministic, so a concurrent duplicate build is harmless.
            self._years[year] = built
        return built

    def covered_years(self) -> frozenset[int]:
        """Return the years known exactly, from official data or a user schedule.

        Returns:
            The years for which :meth:`is_estimated` is ``False``.
        """
        return self._covered

    def working_ordinals(self, year: int) -> tuple[int, ...]:
        """Return the working days of a year as sorted ``date.toordinal()`` numbers.

        Raises:
            CalendarError: the year is outside the supported years.
        """
        return self._year(year).work_ordinals

    def is_workday(self, d: date) -> bool:
        """Tell whether a date is a working day.

        Args:
            d: the date (an aware date-time is converted to its Asia/Shanghai date).

        Returns:
            ``True`` for a working day, ``False`` for a weekend day or holiday
            that is not an adjusted working day.

        Raises:
            CalendarError: ``d`` is not a date, or is a naive date-time.
        """
        if type(d) is not date and type(d) is not Date:
            d = _as_date(d, "d")
        year = self._years.get(d.year) or self._year(d.year)
        return d.toordinal() in year.work_set

    def is_estimated(self, d: date) -> bool:
        """Tell whether the answer for a date's year comes from the fallback rule.

        A year is estimated when neither the official data nor a user schedule
        covers it; every date of such a year is estimated, since any of them
        might turn out to be a lunar holiday or an adjusted working day.

        Args:
            d: the date (an aware date-time is converted to its Asia/Shanghai date).

        Returns:
            ``True`` if ``d``'s year is not in :meth:`covered_years`.

        Raises:
            CalendarError: ``d`` is not a date, or is a naive date-time.
        """
        if type(d) is not date and type(d) is not Date:
            d = _as_date(d, "d")
        return d.year not in self._covered

    def is_estimated_between(self, first: date, last: date) -> bool:
        """Tell whether some year from ``first``'s to ``last``'s (either order,
        both included) is estimated: working days counted across that span
        may be wrong."""
        covered = self._covered
        low, high = first.year, last.year
        if low > high:
            low, high = high, low
        if high - low < 2:
            return low not in covered or high not in covered
        return any(year not in covered for year in range(low, high + 1))

    def add_working_days(self, d: date, n: int) -> Date:
        """Return the ``n``-th working day strictly after a date.

        Args:
            d: the starting date (need not be a working day).
            n: how many working days to advance, ``>= 0``. With ``0``, ``d``
                itself is returned (as a :class:`pendulum.Date`).

        Returns:
            The ``n``-th working day after ``d``.

        Raises:
            CalendarError: ``d`` is not a date or is a naive date-time, ``n``
                is negative or not an int, or the result lies beyond 9999.
        """
        if type(d) is not date and type(d) is not Date:
            d = _as_date(d, "d")
        if type(n) is not int:
            if isinstance(n, bool) or not isinstance(n, int):
                raise CalendarError(f"argument 'n' must be an int, got {type(n).__name__}")
            n = int(n)
        if n <= 0:
            if n == 0:
                return d if type(d) is Date else Date(d.year, d.month, d.day)
            raise CalendarError(f"argument 'n' must be >= 0, got {n}")
        year_number = d.year
        year = self._years.get(year_number) or self._year(year_number)
        i = bisect_right(year.work_ordinals, d.toordinal())
        while True:
            k = i + n - 1
            if k < len(year.work_dates):
                return year.work_dates[k]
            n -= len(year.work_dates) - i
            year_number += 1
            year = self._year(year_number)
            i = 0

    def add_working_days_noted(self, d: date, n: int) -> tuple[Date, bool]:
        """:meth:`add_working_days`, and whether a year from ``d``'s to the
        result's is estimated (:meth:`is_estimated_between`).

        The answers for plain dates are kept (at most :data:`MAX_KEPT_SUMS`
        of them), so a decision's refund date is mostly a dictionary lookup.

        Raises:
            CalendarError: as :meth:`add_working_days`.
        """
        if (type(d) is date or type(d) is Date) and type(n) is int:
            key = (d, n)
            added = self._added
            found = added.get(key)
            if found is None:
                result = self.add_working_days(d, n)
                found = (result, self.is_estimated_between(d, result))
                if len(added) >= MAX_KEPT_SUMS:
                    added.clear()
                added[key] = found
            return found  # type: ignore[return-value]  # kept from add_working_days
        result = self.add_working_days(d, n)
        return result, self.is_estimated_between(_as_date(d, "d"), result)

    def roll_to_working_day_noted(self, d: date) -> tuple[date, bool]:
        """``d`` if it is a working day, else the next working day; and
        whether a year from ``d``'s to the result's is estimated.

        Kept as :meth:`add_working_days_noted` keeps its answers.

        Raises:
            CalendarError: as :meth:`next_working_day`.
        """
        # plain dates only: a Date equal to a date would share its key, and
        # the answer (d itself on a working day) would take the first one's type
        exact = type(d) is date
        if exact:
            found = self._added.get((d, None))
            if found is not None:
                return found
        result = d if self.is_workday(d) else self.next_working_day(d)
        answer = (result, self.is_estimated_between(_as_date(d, "d"), result))
        if exact:
            added = self._added
            if len(added) >= MAX_KEPT_SUMS:
                added.clear()
            added[(d, None)] = answer
        return answer

    def next_working_day(self, d: date) -> Date:
        """Return the first working day strictly after a date.

        Args:
            d: the date.

        Returns:
            The next working day; equal to ``add_working_days(d, 1)``.

        Raises:
            CalendarError: ``d`` is not a date, or is a naive date-time.
        """
        return self.add_working_days(d, 1)

    def working_days_between(self, start: date, end: date) -> int:
        """Count the working days in the half-open range ``(start, end]``.

        Args:
            start: the day after which counting starts (not counted itself).
            end: the last day counted.

        Returns:
            The number of working days after ``start`` up to and including
            ``end``; ``0`` when they are equal, and minus the count of
            ``(end, start]`` when ``end`` is before ``start``.

        Raises:
            CalendarError: an argument is not a date, or is a naive date-time.
        """
        if type(start) is not date and type(start) is not Date:
            start = _as_date(start, "start")
        if type(end) is not date and type(end) is not Date:
            end = _as_date(end, "end")
        if end < start:
            return -self.working_days_between(end, start)
        first = self._year(start.year)
        count = len(first.work_ordinals) - bisect_right(first.work_ordinals, start.toordinal())
        for year_number in range(start.year + 1, end.year + 1):
            count += len(self._year(year_number).work_ordinals)
        last = self._year(end.year)
        return count - (len(last.work_ordinals) - bisect_right(last.work_ordinals, end.toordinal()))

    # ------------------------------------------------------------------ times of day

    def next_time_of_day(self, t: datetime, at: time) -> DateTime:
        """Return the first moment strictly after ``t`` whose local time is ``at``.

        For example, with ``at`` 10:00, a time of 09:00 gives 10:00 the same
        day, while 10:00 itself and 21:00 give 10:00 the next day. Every day
        counts, working day or not.

        Args:
            t: an aware date-time.
            at: a local (naive) time of day in Asia/Shanghai.

        Returns:
            That moment, in Asia/Shanghai.

        Raises:
            CalendarError: ``t`` is naive or not a date-time, or ``at`` is not
                a naive time.
        """
        local = _local(t, "t")
        target = _clock(at, "at")
        day = local.toordinal()
        if _time_of_day(local) >= target:
            day += 1
        return _make(day, target)

    def in_service_hours(
        self, t: datetime, opens: time = DEFAULT_OPENS, closes: time = DEFAULT_CLOSES
    ) -> bool:
        """Tell whether customer service is open at a moment.

        Service runs every day, weekends and holidays included, from ``opens``
        (inclusive) to ``closes`` (exclusive), local time.

        Args:
            t: an aware date-time.
            opens: daily opening time, naive local time.
            closes: daily closing time, naive local time, after ``opens``.

        Returns:
            ``True`` if ``opens <= local time of t < closes``.

        Raises:
            CalendarError: ``t`` is naive or not a date-time, or the window is invalid.
        """
        start, end = _window(opens, closes)
        return start <= _time_of_day(_local(t, "t")) < end

    def service_period_end(
        self, t: datetime, opens: time = DEFAULT_OPENS, closes: time = DEFAULT_CLOSES
    ) -> DateTime:
        """Return the end of the service period a moment falls in.

        Args:
            t: an aware date-time within service hours.
            opens: daily opening time, naive local time.
            closes: daily closing time, naive local time, after ``opens``.

        Returns:
            Closing time on ``t``'s local day, in Asia/Shanghai.

        Raises:
            CalendarError: ``t`` is outside service hours, naive or not a
                date-time, or the window is invalid.
        """
        start, end = _window(opens, closes)
        local = _local(t, "t")
        if not start <= _time_of_day(local) < end:
            raise CalendarError(
                f"argument 't' ({local.isoformat()}) is outside service hours "
                f"{opens.isoformat()}–{closes.isoformat()}"
            )
        return _make(local.toordinal(), end)

    def add_service_hours(
        self,
        t: datetime,
        duration: timedelta,
        opens: time = DEFAULT_OPENS,
        closes: time = DEFAULT_CLOSES,
    ) -> DateTime:
        """Advance a moment by a duration counted only inside service hours.

        Time outside the daily window does not count. Starting outside it,
        counting starts at the next opening. A duration that runs out exactly
        at closing time gives closing time (not the next opening); a zero
        duration from outside the window gives the next opening.

        Args:
            t: an aware date-time.
            duration: the service time to add, ``>= 0``.
            opens: daily opening time, naive local time.
            closes: daily closing time, naive local time, after ``opens``.

        Returns:
            The moment the duration is used up, in Asia/Shanghai.

        Raises:
            CalendarError: ``t`` is naive or not a date-time, ``duration`` is
                negative or not a timedelta, or the window is invalid.
        """
        start, end = _window(opens, closes)
        local = _local(t, "t")
        if not isinstance(duration, timedelta):
            raise CalendarError(
                f"argument 'duration' must be a timedelta, got {type(duration).__name__}"
            )
        remaining = (duration.days * 86_400 + duration.seconds) * _US_PER_SECOND + (
            duration.microseconds
        )
        if remaining < 0:
            raise CalendarError(f"argument 'duration' must not be negative, got {duration}")
        now = _time_of_day(local)
        if remaining == 0 and start <= now < end:
            return local
        day, at = service_clock(local.toordinal(), now, remaining, start, end, _pick)
        return _make(day, at)


# ---------------------------------------------------------------------- schedule parsing


class _JsonObject(dict[str, object]):
    """A JSON object as parsed, remembering the first key it repeats (if any)."""

    repeated: str | None = None

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        super().__init__()
        for key, value in pairs:
            if key in self and self.repeated is None:
                self.repeated = key
            self[key] = value


def _no_repeats(source: str, where: str, table: object) -> None:
    """Refuse a JSON object that gave one key twice (the parser keeps the last).

    Raises:
        CalendarError: naming the object and the key.
    """
    repeated = getattr(table, "repeated", None)
    if repeated is not None:
        place = f"{where}.{repeated}" if where else f"[{repeated}]"
        raise CalendarError(f"{source}: {place}: key given more than once")


def _parse_year(source: str, key: object, table: object) -> YearSchedule:
    """Validate one ``[year]`` table of a schedule file.

    Raises:
        CalendarError: see :meth:`WorkCalendar.from_mapping`.
    """
    if not isinstance(key, str) or not _YEAR_KEY.fullmatch(key) or int(key) < _MIN_YEAR:
        raise CalendarError(
            f"{source}: [{key}]: key is not a year; expected four digits such as '2027'"
        )
    year = int(key)
    _no_repeats(source, f"[{key}]", table)
    if not isinstance(table, Mapping):
        raise CalendarError(
            f"{source}: [{key}]: expected a table with 'holidays' and 'workdays' lists, "
            f"got {type(table).__name__}"
        )
    unknown = sorted(str(k) for k in table if k not in _SCHEDULE_KEYS)
    if unknown:
        raise CalendarError(
            f"{source}: [{key}]: unknown key(s) {', '.join(map(repr, unknown))}; "
            "expected 'holidays' and 'workdays'"
        )
    lists = {
        name: _parse_dates(source, key, name, year, table.get(name, []))
        for name in ("holidays", "workdays")
    }
    both = set(lists["holidays"]) & set(lists["workdays"])
    if both:
        listed = ", ".join(d.isoformat() for d in sorted(both))
        raise CalendarError(
            f"{source}: [{key}]: {listed} listed both in 'holidays' and in 'workdays'"
        )
    for index, d in enumerate(lists["workdays"]):
        if d.weekday() < 5:
            raise CalendarError(
                f"{source}: [{key}].workdays[{index}]: {d.isoformat()} is a "
                f"{_WEEKDAY_NAMES[d.weekday()]}; "
                "list only Saturdays and Sundays that are working days"
            )
    return YearSchedule(year=year, holidays=lists["holidays"], workdays=lists["workdays"])


def _parse_dates(source: str, key: str, name: str, year: int, value: object) -> list[date]:
    """Validate one list of dates of a ``[year]`` table.

    Raises:
        CalendarError: see :meth:`WorkCalendar.from_mapping`.
    """
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise CalendarError(
            f"{source}: [{key}].{name}: expected a list of dates, got {type(value).__name__}"
        )
    out: list[date] = []
    seen: set[date] = set()
    for index, item in enumerate(value):
        where = f"{source}: [{key}].{name}[{index}]"
        d: date
        if isinstance(item, datetime):
            raise CalendarError(f"{where}: expected a date, got the date-time {item.isoformat()}")
        if isinstance(item, date):
            d = date(item.year, item.month, item.day)
        elif isinstance(item, str) and _ISO_DATE.fullmatch(item):
            try:
                d = date.fromisoformat(item)
            except ValueError as exc:
                raise CalendarError(f"{where}: {item!r} is not a valid date ({exc})") from exc
        else:
            raise CalendarError(f"{where}: expected a date written 'YYYY-MM-DD', got {item!r}")
        if d.year != year:
            raise CalendarError(f"{where}: {d.isoformat()} is not in {year}")
        if d in seen:
            raise CalendarError(f"{where}: {d.isoformat()} is listed twice")
        seen.add(d)
        out.append(d)
    return out


class EstimateProbe(threading.local):
    """Per thread: whether working-day arithmetic touched an estimated year.

    The registered working-day functions (``add_working_days``,
    ``roll_to_working_day``) set :attr:`estimated` when a date they read or
    return, or a year between them, has no official holiday data; a
    single-case decision clears it before it runs its facts and tables and
    reads it for its trace. Each thread has its own flag.
    """

    estimated: bool = False


#: The probe the working-day functions report to (see :class:`EstimateProbe`).
ESTIMATES: EstimateProbe = EstimateProbe()
