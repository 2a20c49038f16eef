"""Tests of csrules._calendar: working days, schedule files and service hours."""

from __future__ import annotations

import copy
import json
import os
import pickle
import tempfile
import threading
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import chinese_calendar
import pendulum
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st
from pendulum import Date, DateTime

from csrules._calendar import (
    FALLBACK_HOLIDAYS,
    MAX_SCHEDULE_BYTES,
    SHANGHAI,
    WorkCalendar,
    YearSchedule,
)
from csrules.exceptions import CalendarError, CsrulesError

CAL = WorkCalendar.official()

# An illustrative 2027 schedule used as test data only; it is not the announced one.
SCHEDULE_2027_TOML = """\
[2027]
holidays = [
    "2027-01-01",
    "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08",
    "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12",
    "2027-10-01", "2027-10-04", "2027-10-05", "2027-10-06", "2027-10-07",
]
workdays = ["2027-02-20", "2027-10-09"]
"""


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> DateTime:
    """Build an Asia/Shanghai time from its local date and time of day."""
    return pendulum.datetime(year, month, day, hour, minute, second, tz="Asia/Shanghai")


def official_days(year: int, month: int, table: dict[date, object]) -> list[date]:
    """The dates of one month that appear in a chinese_calendar table."""
    return sorted(d for d in table if d.year == year and d.month == month)


def official_add(d: date, n: int) -> date:
    """The n-th working day strictly after d, stepping with chinese_calendar.is_workday."""
    while n > 0:
        d += timedelta(days=1)
        if chinese_calendar.is_workday(d):
            n -= 1
    return d


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write a schedule file into the test directory and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestOfficialData:
    """Years inside the chinese_calendar data follow it exactly."""

    def test_every_day_2004_to_2026_matches_chinese_calendar(self) -> None:
        """Every date from 2004 to 2026 has the same answer as chinese_calendar.is_workday."""
        d = date(2004, 1, 1)
        while d.year <= 2026:
            assert CAL.is_workday(d) == chinese_calendar.is_workday(d), d
            d += timedelta(days=1)

    def test_covered_years_are_the_official_years(self) -> None:
        """Without a schedule file the covered years are exactly 2004 to 2026."""
        assert CAL.covered_years() == frozenset(range(2004, 2027))

    def test_official_years_are_never_estimated(self) -> None:
        """No date inside the official data is reported as estimated."""
        assert not CAL.is_estimated(date(2004, 1, 1))
        assert not CAL.is_estimated(date(2026, 12, 31))

    def test_official_is_the_default_calendar(self) -> None:
        """WorkCalendar.official() equals a calendar built without schedules."""
        assert WorkCalendar.official() == WorkCalendar()
        assert hash(WorkCalendar.official()) == hash(WorkCalendar())


class TestNationalDay2026:
    """The National Day holiday of 2026 and its adjusted working days."""

    def test_national_day_is_off(self) -> None:
        """1 October 2026 is a day off."""
        assert not CAL.is_workday(date(2026, 10, 1))

    def test_whole_official_holiday_is_off(self) -> None:
        """Every October 2026 holiday in the official data is a day off."""
        holidays = official_days(2026, 10, chinese_calendar.holidays)
        assert date(2026, 10, 1) in holidays
        for d in holidays:
            assert not CAL.is_workday(d), d

    def test_adjusted_weekend_workdays_are_on(self) -> None:
        """The Saturdays and Sundays made working days around National Day are working days."""
        adjusted = official_days(2026, 9, chinese_calendar.workdays) + official_days(
            2026, 10, chinese_calendar.workdays
        )
        assert adjusted, "the official data lists adjusted working days around National Day"
        for d in adjusted:
            assert d.weekday() >= 5, d
            assert CAL.is_workday(d), d

    def test_ordinary_monday_is_on(self) -> None:
        """Monday 12 October 2026, after the holiday, is an ordinary working day."""
        assert date(2026, 10, 12).weekday() == 0
        assert CAL.is_workday(date(2026, 10, 12))

    def test_ordinary_sunday_is_off(self) -> None:
        """Sunday 18 October 2026 is an ordinary weekend day off."""
        assert date(2026, 10, 18).weekday() == 6
        assert not CAL.is_workday(date(2026, 10, 18))


class TestSpringFestival2026:
    """The Spring Festival holiday of 2026 and its adjusted working days."""

    def test_new_year_day_of_lunar_calendar_is_off(self) -> None:
        """Tuesday 17 February 2026, the first day of the lunar year, is a day off."""
        assert date(2026, 2, 17).weekday() == 1
        assert not CAL.is_workday(date(2026, 2, 17))

    def test_whole_official_holiday_is_off(self) -> None:
        """Every February 2026 holiday in the official data is a day off."""
        holidays = official_days(2026, 2, chinese_calendar.holidays)
        assert date(2026, 2, 17) in holidays
        for d in holidays:
            assert not CAL.is_workday(d), d

    def test_adjusted_weekend_workdays_are_on(self) -> None:
        """The weekend days made working days for Spring Festival are working days."""
        adjusted = official_days(2026, 2, chinese_calendar.workdays)
        assert adjusted
        for d in adjusted:
            assert d.weekday() >= 5, d
            assert CAL.is_workday(d), d

    def test_next_working_day_skips_the_holiday(self) -> None:
        """The next working day after the first holiday day is the first working day after it."""
        first = official_days(2026, 2, chinese_calendar.holidays)[0]
        assert CAL.next_working_day(first) == official_add(first, 1)
        assert CAL.next_working_day(first) > max(official_days(2026, 2, chinese_calendar.holidays))


class TestAddWorkingDays:
    """add_working_days, next_working_day and working_days_between."""

    def test_over_a_weekend(self) -> None:
        """One working day after Friday 6 March 2026 is Monday 9 March."""
        assert CAL.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)

    def test_over_a_holiday(self) -> None:
        """Working days counted from 30 September 2026 skip the whole National Day holiday."""
        start = date(2026, 9, 30)
        assert CAL.add_working_days(start, 1) == official_add(start, 1)
        assert CAL.add_working_days(start, 1) > date(2026, 10, 7)
        assert CAL.add_working_days(start, 7) == official_add(start, 7)

    def test_counts_an_adjusted_working_day(self) -> None:
        """An adjusted Saturday working day counts as a working day."""
        saturday = official_days(2026, 10, chinese_calendar.workdays)[0]
        assert CAL.add_working_days(saturday - timedelta(days=1), 1) == saturday

    def test_starting_on_a_day_off(self) -> None:
        """Starting on a Sunday, one working day later is the Monday."""
        assert CAL.add_working_days(date(2026, 3, 8), 1) == date(2026, 3, 9)

    def test_zero_returns_the_same_date(self) -> None:
        """Adding zero working days returns the start date, even if it is a day off."""
        assert CAL.add_working_days(date(2026, 10, 1), 0) == date(2026, 10, 1)

    def test_returns_pendulum_dates(self) -> None:
        """Results are pendulum.Date, whether given a datetime.date or a pendulum.Date."""
        assert type(CAL.add_working_days(date(2026, 3, 6), 3)) is Date
        assert type(CAL.add_working_days(Date(2026, 3, 6), 3)) is Date
        assert type(CAL.add_working_days(date(2026, 3, 6), 0)) is Date

    def test_negative_count_is_rejected(self) -> None:
        """A negative number of working days raises CalendarError naming n."""
        with pytest.raises(CalendarError, match="'n'"):
            CAL.add_working_days(date(2026, 3, 6), -1)

    def test_non_integer_count_is_rejected(self) -> None:
        """A count that is not an int raises CalendarError naming n."""
        with pytest.raises(CalendarError, match="'n'"):
            CAL.add_working_days(date(2026, 3, 6), 1.5)  # type: ignore[arg-type]

    def test_crosses_into_an_estimated_year(self) -> None:
        """From 31 December 2026 counting goes on into 2027, past 1 January and the weekend."""
        assert CAL.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)

    def test_between_is_half_open(self) -> None:
        """working_days_between counts working days after start up to and including end."""
        assert CAL.working_days_between(date(2026, 3, 6), date(2026, 3, 9)) == 1
        assert CAL.working_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
        assert CAL.working_days_between(date(2026, 3, 8), date(2026, 3, 13)) == 5

    def test_between_reversed_is_negative(self) -> None:
        """With end before start the count is the negated count of the reversed range."""
        assert CAL.working_days_between(date(2026, 3, 13), date(2026, 3, 8)) == -5

    def test_between_across_years(self) -> None:
        """Counting over several years sums the working days of each year."""
        total = sum(
            chinese_calendar.is_workday(date(2025, 1, 1) + timedelta(days=i)) for i in range(730)
        )
        assert CAL.working_days_between(date(2024, 12, 31), date(2026, 12, 31)) == total


class TestAddWorkingDaysNoted:
    """add_working_days_noted: the same sums, with whether a year on the way is estimated."""

    @settings(max_examples=200, deadline=None)
    @given(
        d=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
        n=st.integers(min_value=0, max_value=400),
        pendulum_date=st.booleans(),
        twice=st.booleans(),
    )
    def test_agrees_with_add_working_days(
        self, d: date, n: int, pendulum_date: bool, twice: bool
    ) -> None:
        """The kept answer is the computed one, first time and later."""
        start = Date(d.year, d.month, d.day) if pendulum_date else d
        fresh = WorkCalendar.official()
        expected = fresh.add_working_days(start, n)
        for _ in range(2 if twice else 1):
            result, estimated = CAL.add_working_days_noted(start, n)
            assert result == expected
            assert type(result) is Date
            assert estimated == fresh.is_estimated_between(start, expected)

    def test_a_time_is_read_as_its_shanghai_date(self) -> None:
        """An aware time counts from its Asia/Shanghai date, as add_working_days does."""
        late = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)  # Friday 6 March in Shanghai
        assert CAL.add_working_days_noted(late, 1) == (date(2026, 3, 9), False)

    def test_bad_counts_are_refused_as_before(self) -> None:
        """A bool, a float or a negative count is refused, even once a sum is kept."""
        CAL.add_working_days_noted(date(2026, 3, 6), 1)
        for n in (True, 1.0, -1):
            with pytest.raises(CalendarError, match="'n'"):
                CAL.add_working_days_noted(date(2026, 3, 6), n)  # type: ignore[arg-type]

    def test_the_kept_sums_are_bounded(self) -> None:
        """A calendar keeps at most MAX_KEPT_SUMS sums, and answers right after it starts afresh."""
        from csrules._calendar import MAX_KEPT_SUMS

        cal = WorkCalendar.official()
        start = date(2000, 1, 1)
        sizes = []
        for i in range(MAX_KEPT_SUMS + 10):
            cal.add_working_days_noted(start + timedelta(days=i // 2), i % 2)
            sizes.append(len(cal._added))
        assert max(sizes) == MAX_KEPT_SUMS
        assert sizes[-1] < MAX_KEPT_SUMS
        assert cal.add_working_days_noted(date(2026, 9, 30), 1)[0] == official_add(
            date(2026, 9, 30), 1
        )

    def test_an_estimated_year_is_noted(self) -> None:
        """Counting into a year without official data says so."""
        last = max(WorkCalendar.official().covered_years())
        result, estimated = CAL.add_working_days_noted(date(last, 12, 31), 1)
        assert result.year == last + 1
        assert estimated


class TestFallback2027:
    """A year outside the official data falls back to weekends and fixed-date holidays."""

    def test_2027_is_estimated(self) -> None:
        """Every date of 2027 is estimated, and 2027 is not a covered year."""
        assert CAL.is_estimated(date(2027, 1, 1))
        assert CAL.is_estimated(date(2027, 6, 15))
        assert 2027 not in CAL.covered_years()

    def test_years_before_the_data_are_estimated(self) -> None:
        """A year before the official data, such as 2003, is estimated too."""
        assert CAL.is_estimated(date(2003, 5, 1))

    def test_fixed_date_holidays_are_off(self) -> None:
        """New Year's Day, 1–2 May and 1–3 October 2027 are days off."""
        for month, day in FALLBACK_HOLIDAYS:
            assert not CAL.is_workday(date(2027, month, day)), (month, day)

    def test_weekends_are_off_and_other_weekdays_on(self) -> None:
        """A 2027 Saturday is off, and an ordinary Monday is a working day."""
        assert date(2027, 3, 6).weekday() == 5
        assert not CAL.is_workday(date(2027, 3, 6))
        assert date(2027, 3, 8).weekday() == 0
        assert CAL.is_workday(date(2027, 3, 8))

    def test_lunar_holidays_are_unknown(self) -> None:
        """Without data, a weekday in the Spring Festival season counts as a working day."""
        assert date(2027, 2, 8).weekday() == 0
        assert CAL.is_workday(date(2027, 2, 8))
        assert CAL.is_estimated(date(2027, 2, 8))


class TestScheduleFile:
    """Schedule files define years exactly."""

    def test_toml_file_makes_2027_exact(self, tmp_path: Path) -> None:
        """With a 2027 schedule, 2027 is covered, not estimated, and follows the file."""
        cal = WorkCalendar.from_file(write(tmp_path, "cal.toml", SCHEDULE_2027_TOML))
        assert 2027 in cal.covered_years()
        assert not cal.is_estimated(date(2027, 2, 8))
        assert not cal.is_workday(date(2027, 2, 8))
        assert cal.is_workday(date(2027, 2, 20))
        assert cal.is_workday(date(2027, 2, 15))
        assert not cal.is_workday(date(2027, 2, 21))

    def test_file_keeps_official_years(self, tmp_path: Path) -> None:
        """Years not in the file keep the official data."""
        cal = WorkCalendar.from_file(write(tmp_path, "cal.toml", SCHEDULE_2027_TOML))
        assert not cal.is_workday(date(2026, 10, 1))
        assert cal.is_estimated(date(2028, 1, 3))

    def test_json_file_with_the_same_shape(self, tmp_path: Path) -> None:
        """A .json file of the same shape gives the same calendar as the TOML file."""
        data = tomllib.loads(SCHEDULE_2027_TOML)
        toml_cal = WorkCalendar.from_file(write(tmp_path, "cal.toml", SCHEDULE_2027_TOML))
        json_cal = WorkCalendar.from_file(write(tmp_path, "cal.json", json.dumps(data)))
        assert json_cal == toml_cal

    def test_toml_date_literals_are_accepted(self, tmp_path: Path) -> None:
        """Unquoted TOML dates work like quoted ISO strings."""
        text = "[2027]\nholidays = [2027-02-08]\nworkdays = [2027-02-20]\n"
        cal = WorkCalendar.from_file(write(tmp_path, "cal.toml", text))
        assert not cal.is_workday(date(2027, 2, 8))
        assert cal.is_workday(date(2027, 2, 20))

    def test_file_overrides_an_official_year(self, tmp_path: Path) -> None:
        """A year inside the official data listed in the file is defined by the file alone."""
        text = '[2026]\nholidays = ["2026-10-01"]\n'
        cal = WorkCalendar.from_file(write(tmp_path, "cal.toml", text))
        assert not cal.is_workday(date(2026, 10, 1))
        assert cal.is_workday(date(2026, 10, 2))
        assert not cal.is_workday(date(2026, 10, 10))
        assert not cal.is_estimated(date(2026, 10, 2))

    def test_base_calendar_is_extended(self, tmp_path: Path) -> None:
        """Loading a second file on a base keeps the base's years and adds the new ones."""
        first = WorkCalendar.from_file(write(tmp_path, "a.toml", SCHEDULE_2027_TOML))
        second = WorkCalendar.from_file(
            write(tmp_path, "b.toml", '[2028]\nholidays = ["2028-01-03"]\n'), base=first
        )
        assert second.covered_years() >= {2027, 2028}
        assert not second.is_workday(date(2027, 2, 8))
        assert not second.is_workday(date(2028, 1, 3))

    def test_from_mapping(self) -> None:
        """from_mapping accepts already-parsed data of the same shape."""
        cal = WorkCalendar.from_mapping({"2027": {"holidays": ["2027-02-08"]}})
        assert not cal.is_workday(date(2027, 2, 8))
        assert cal.schedules == (YearSchedule(2027, holidays=frozenset({date(2027, 2, 8)})),)

    def test_empty_lists_mean_weekends_only(self) -> None:
        """A year with no holidays listed has every weekday on and every weekend off."""
        cal = WorkCalendar.from_mapping({"2027": {}})
        assert cal.is_workday(date(2027, 1, 1))
        assert not cal.is_estimated(date(2027, 1, 1))


class TestBadScheduleFiles:
    """Invalid schedule files raise CalendarError naming the file, the key and the reason."""

    @pytest.mark.parametrize(
        ("text", "key", "reason"),
        [
            ("[2027\nholidays = []\n", "", "not valid TOML"),
            ('[27]\nholidays = ["2027-01-01"]\n', "[27]", "not a year"),
            ('[next]\nholidays = ["2027-01-01"]\n', "[next]", "not a year"),
            ('[2027]\nholidays = ["2026-12-31"]\n', "[2027].holidays[0]", "not in 2027"),
            (
                '[2027]\nholidays = ["2027-02-20"]\nworkdays = ["2027-02-20"]\n',
                "[2027]",
                "both",
            ),
            ('[2027]\nholidays = ["1st of May"]\n', "[2027].holidays[0]", "YYYY-MM-DD"),
            ('[2027]\nholidays = ["2027-02-30"]\n', "[2027].holidays[0]", "not a valid date"),
            ("[2027]\nholidays = [20270101]\n", "[2027].holidays[0]", "YYYY-MM-DD"),
            ('[2027]\nholidays = "2027-01-01"\n', "[2027].holidays", "list"),
            ('[2027]\nholiday = ["2027-01-01"]\n', "[2027]", "unknown key"),
            ('[2027]\nworkdays = ["2027-02-22"]\n', "[2027].workdays[0]", "Monday"),
            (
                '[2027]\nholidays = ["2027-01-01", "2027-01-01"]\n',
                "[2027].holidays[1]",
                "twice",
            ),
            ("2027 = 5\n", "[2027]", "table"),
            ("[2027]\nholidays = [2027-01-01T00:00:00]\n", "[2027].holidays[0]", "date-time"),
        ],
    )
    def test_bad_toml(self, tmp_path: Path, text: str, key: str, reason: str) -> None:
        """Each kind of mistake in a TOML file is reported with file, key and reason."""
        path = write(tmp_path, "bad.toml", text)
        with pytest.raises(CalendarError) as info:
            WorkCalendar.from_file(path)
        message = str(info.value)
        assert str(path) in message
        assert key in message
        assert reason in message

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("{not json", "not valid JSON"),
            ('["2027-01-01"]', "table of years"),
            ('{"2027": {"holidays": []}, "2027": {"holidays": []}}', "more than once"),
        ],
    )
    def test_bad_json(self, tmp_path: Path, text: str, reason: str) -> None:
        """Malformed JSON, a top level that is not an object, and a repeated year are rejected."""
        path = write(tmp_path, "bad.json", text)
        with pytest.raises(CalendarError, match=reason) as info:
            WorkCalendar.from_file(path)
        assert str(path) in str(info.value)

    def test_unknown_suffix(self, tmp_path: Path) -> None:
        """A file that is neither .toml nor .json is rejected."""
        path = write(tmp_path, "cal.yaml", "2027: {}\n")
        with pytest.raises(CalendarError, match="unsupported"):
            WorkCalendar.from_file(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A file that cannot be read raises CalendarError naming it."""
        path = tmp_path / "absent.toml"
        with pytest.raises(CalendarError, match=r"absent\.toml"):
            WorkCalendar.from_file(path)

    def test_source_names_the_mapping(self) -> None:
        """from_mapping errors use the given source name."""
        with pytest.raises(CalendarError, match=r"^policy\.toml: \[x\]"):
            WorkCalendar.from_mapping({"x": {}}, source="policy.toml")

    def test_error_is_a_csrules_error(self, tmp_path: Path) -> None:
        """CalendarError can be caught as CsrulesError or ValueError."""
        with pytest.raises(CsrulesError):
            WorkCalendar.from_mapping({"x": {}})
        with pytest.raises(ValueError, match="not a year"):
            WorkCalendar.from_mapping({"x": {}})

    def test_year_schedule_is_validated(self) -> None:
        """A YearSchedule built directly rejects dates outside its year."""
        with pytest.raises(CalendarError, match="not in 2027"):
            YearSchedule(2027, holidays=frozenset({date(2026, 1, 1)}))

    def test_duplicate_year_schedules(self) -> None:
        """A calendar with two schedules for one year is rejected."""
        with pytest.raises(CalendarError, match="2027"):
            WorkCalendar(schedules=(YearSchedule(2027), YearSchedule(2027)))


class TestTimeArguments:
    """Naive times are rejected; aware times are converted to Asia/Shanghai."""

    def test_naive_datetime_rejected_naming_t(self) -> None:
        """A naive datetime passed as t raises CalendarError naming 't'."""
        naive = datetime(2026, 10, 1, 9, 0)
        with pytest.raises(CalendarError, match=r"'t'.*naive"):
            CAL.in_service_hours(naive)
        with pytest.raises(CalendarError, match="'t'"):
            CAL.next_time_of_day(naive, time(10))
        with pytest.raises(CalendarError, match="'t'"):
            CAL.add_service_hours(naive, timedelta(hours=1))
        with pytest.raises(CalendarError, match="'t'"):
            CAL.service_period_end(naive)

    def test_naive_datetime_as_a_date_rejected(self) -> None:
        """A naive datetime given where a date is expected raises CalendarError naming it."""
        with pytest.raises(CalendarError, match="'d'"):
            CAL.is_workday(datetime(2026, 10, 1, 9, 0))
        with pytest.raises(CalendarError, match="'end'"):
            CAL.working_days_between(date(2026, 10, 1), datetime(2026, 10, 9, 9, 0))

    def test_non_date_rejected(self) -> None:
        """A value that is not a date raises CalendarError naming the argument."""
        with pytest.raises(CalendarError, match="'d'"):
            CAL.is_workday("2026-10-01")  # type: ignore[arg-type]

    def test_other_zone_is_converted(self) -> None:
        """02:00 UTC is 10:00 in Shanghai, so the next 10:00 is a day later."""
        utc = pendulum.datetime(2026, 3, 10, 2, 0, tz="UTC")
        result = CAL.next_time_of_day(utc, time(10))
        assert result == sh(2026, 3, 11, 10)
        assert result.tzinfo is SHANGHAI

    def test_stdlib_aware_datetime_is_accepted(self) -> None:
        """A standard-library aware datetime works and the result is a pendulum DateTime."""
        t = datetime(2026, 3, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        result = CAL.next_time_of_day(t, time(10))
        assert type(result) is DateTime
        assert result == sh(2026, 3, 10, 10)

    def test_conversion_keeps_the_instant(self) -> None:
        """A time in another zone, even one in a daylight-saving gap, keeps its instant."""
        new_york = ZoneInfo("America/New_York")
        in_gap = datetime(2026, 3, 8, 2, 30, tzinfo=new_york)
        # Equality across zones is always False for a gap time, so compare in UTC.
        assert CAL.add_service_hours(in_gap, timedelta(0)) == in_gap.astimezone(UTC)
        assert CAL.add_service_hours(in_gap, timedelta(0)) == sh(2026, 3, 8, 15, 30)
        evening = datetime(2026, 3, 10, 9, 0, tzinfo=new_york)
        assert not CAL.in_service_hours(evening)
        assert CAL.add_service_hours(evening, timedelta(0)) == sh(2026, 3, 11, 8, 30)

    def test_aware_datetime_as_date_uses_the_shanghai_date(self) -> None:
        """18:00 UTC on 30 September is 02:00 on 1 October in Shanghai: a day off."""
        t = datetime(2026, 9, 30, 18, 0, tzinfo=UTC)
        assert CAL.is_workday(date(2026, 9, 30))
        assert not CAL.is_workday(t)

    def test_aware_time_of_day_rejected(self) -> None:
        """A time of day carrying a time zone raises CalendarError naming 'at'."""
        with pytest.raises(CalendarError, match="'at'"):
            CAL.next_time_of_day(sh(2026, 3, 10, 9), time(10, tzinfo=UTC))


class TestNextTimeOfDay:
    """next_time_of_day returns the first moment strictly after t at the given local time."""

    def test_before_the_time_gives_same_day(self) -> None:
        """At 09:00 the next 10:00 is the same day."""
        assert CAL.next_time_of_day(sh(2026, 3, 10, 9), time(10)) == sh(2026, 3, 10, 10)

    def test_exactly_at_the_time_gives_next_day(self) -> None:
        """At 10:00 the next 10:00 is the following day (strictly after)."""
        assert CAL.next_time_of_day(sh(2026, 3, 10, 10), time(10)) == sh(2026, 3, 11, 10)

    def test_after_the_time_gives_next_day(self) -> None:
        """At 21:00 the next 10:00 is the following day."""
        assert CAL.next_time_of_day(sh(2026, 3, 10, 21), time(10)) == sh(2026, 3, 11, 10)

    def test_across_year_end(self) -> None:
        """On 31 December after 10:00 the next 10:00 is 1 January."""
        assert CAL.next_time_of_day(sh(2026, 12, 31, 11), time(10)) == sh(2027, 1, 1, 10)

    def test_holidays_count(self) -> None:
        """Days off are not skipped: the next 10:00 on National Day is on National Day."""
        assert CAL.next_time_of_day(sh(2026, 10, 1, 8), time(10)) == sh(2026, 10, 1, 10)


class TestServiceHours:
    """The daily service window and arithmetic inside it."""

    def test_window_bounds(self) -> None:
        """Service hours include the opening minute and exclude closing time."""
        assert CAL.in_service_hours(sh(2026, 3, 10, 8, 30))
        assert not CAL.in_service_hours(sh(2026, 3, 10, 8, 29, 59))
        assert CAL.in_service_hours(sh(2026, 3, 10, 19, 59, 59))
        assert not CAL.in_service_hours(sh(2026, 3, 10, 20, 0))

    def test_open_on_holidays(self) -> None:
        """Service runs on National Day like any other day."""
        assert CAL.in_service_hours(sh(2026, 10, 1, 12))

    def test_custom_window(self) -> None:
        """Opening and closing times can be given per call."""
        assert CAL.in_service_hours(sh(2026, 3, 10, 21), opens=time(9), closes=time(22))
        assert not CAL.in_service_hours(sh(2026, 3, 10, 8, 45), opens=time(9), closes=time(22))

    def test_invalid_window(self) -> None:
        """A window that closes before it opens raises CalendarError."""
        with pytest.raises(CalendarError, match="open before"):
            CAL.in_service_hours(sh(2026, 3, 10, 12), opens=time(20), closes=time(8))

    def test_period_end_is_closing_time(self) -> None:
        """Within service hours the period ends at closing time the same day."""
        assert CAL.service_period_end(sh(2026, 3, 10, 9)) == sh(2026, 3, 10, 20)

    def test_period_end_outside_hours_raises(self) -> None:
        """Outside service hours there is no current period."""
        with pytest.raises(CalendarError, match="outside service hours"):
            CAL.service_period_end(sh(2026, 3, 10, 21))

    def test_add_within_the_day(self) -> None:
        """Two service hours from 10:00 end at 12:00."""
        assert CAL.add_service_hours(sh(2026, 3, 10, 10), timedelta(hours=2)) == sh(2026, 3, 10, 12)

    def test_add_ending_exactly_at_closing(self) -> None:
        """Two service hours from 18:00 end exactly at 20:00, not the next morning."""
        assert CAL.add_service_hours(sh(2026, 3, 10, 18), timedelta(hours=2)) == sh(2026, 3, 10, 20)

    def test_add_across_closing_time(self) -> None:
        """Two service hours from 19:00 use one hour today and one from 08:30 tomorrow."""
        assert CAL.add_service_hours(sh(2026, 3, 10, 19), timedelta(hours=2)) == sh(
            2026, 3, 11, 9, 30
        )

    def test_add_across_midnight(self) -> None:
        """Starting at 23:00, counting starts at 08:30 the next day."""
        assert CAL.add_service_hours(sh(2026, 3, 10, 23), timedelta(hours=1)) == sh(
            2026, 3, 11, 9, 30
        )

    def test_add_before_opening(self) -> None:
        """Starting at 01:00, counting starts at 08:30 the same day."""
        assert CAL.add_service_hours(sh(2026, 3, 10, 1), timedelta(hours=1)) == sh(
            2026, 3, 10, 9, 30
        )

    def test_add_several_days(self) -> None:
        """24 service hours from 08:30 take two full 11.5-hour days plus one hour."""
        assert CAL.add_service_hours(sh(2026, 3, 10, 8, 30), timedelta(hours=24)) == sh(
            2026, 3, 12, 9, 30
        )

    def test_add_whole_days_ends_at_closing(self) -> None:
        """Two full windows from opening end at closing of the second day."""
        assert CAL.add_service_hours(sh(2026, 3, 10, 8, 30), timedelta(hours=23)) == sh(
            2026, 3, 11, 20
        )

    def test_add_zero(self) -> None:
        """Zero duration returns t inside the window and the next opening outside it."""
        assert CAL.add_service_hours(sh(2026, 3, 10, 12), timedelta(0)) == sh(2026, 3, 10, 12)
        assert CAL.add_service_hours(sh(2026, 3, 10, 20), timedelta(0)) == sh(2026, 3, 11, 8, 30)

    def test_add_negative_rejected(self) -> None:
        """A negative duration raises CalendarError naming 'duration'."""
        with pytest.raises(CalendarError, match="'duration'"):
            CAL.add_service_hours(sh(2026, 3, 10, 12), timedelta(minutes=-1))

    def test_add_with_custom_window(self) -> None:
        """With a 09:00–18:00 window, 3 hours from 17:00 end at 11:00 the next day."""
        result = CAL.add_service_hours(
            sh(2026, 3, 10, 17), timedelta(hours=3), opens=time(9), closes=time(18)
        )
        assert result == sh(2026, 3, 11, 11)


class TestSharing:
    """Calendars are values that can be shared between threads."""

    def test_threads_agree(self) -> None:
        """Several threads filling one fresh calendar's cache get the single-threaded answers."""
        days = [date(2020, 1, 1) + timedelta(days=i) for i in range(0, 3650, 3)]
        expected = [WorkCalendar().add_working_days(d, 5) for d in days]
        shared = WorkCalendar()
        results: list[list[Date]] = []
        lock = threading.Lock()

        def work() -> None:
            out = [shared.add_working_days(d, 5) for d in days]
            with lock:
                results.append(out)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [expected] * 8

    def test_cache_does_not_affect_equality(self) -> None:
        """A used calendar still equals and hashes like a fresh one."""
        used = WorkCalendar()
        used.is_workday(date(2026, 1, 5))
        assert used == WorkCalendar()
        assert hash(used) == hash(WorkCalendar())


DATES = st.dates(min_value=date(2002, 1, 1), max_value=date(2029, 12, 31))
ZONES = st.sampled_from(
    [ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC"), ZoneInfo("America/New_York"), UTC]
)
TIMES = st.datetimes(
    min_value=datetime(2002, 1, 1), max_value=datetime(2029, 12, 31), timezones=ZONES
)
DURATIONS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5))


class TestProperties:
    """Properties that hold for any date, count or time."""

    @given(d=DATES, n=st.integers(min_value=1, max_value=60))
    def test_add_working_days_lands_on_a_working_day(self, d: date, n: int) -> None:
        """add_working_days(d, n) is a working day after d, n working days away."""
        result = CAL.add_working_days(d, n)
        assert result > d
        assert CAL.is_workday(result)
        assert CAL.working_days_between(d, result) == n

    @given(d=DATES, n=st.integers(min_value=0, max_value=60), m=st.integers(0, 60))
    def test_add_working_days_is_monotone(self, d: date, n: int, m: int) -> None:
        """More working days never give an earlier date, and n < m gives a strictly later one."""
        low, high = sorted((n, m))
        assert CAL.add_working_days(d, low) <= CAL.add_working_days(d, high)
        if low < high:
            assert CAL.add_working_days(d, low) < CAL.add_working_days(d, high)

    @given(d=DATES)
    def test_next_working_day_is_never_a_day_off(self, d: date) -> None:
        """next_working_day returns a working day after d with only days off in between."""
        result = CAL.next_working_day(d)
        assert result > d
        assert CAL.is_workday(result)
        assert CAL.working_days_between(d, result - timedelta(days=1)) == 0

    @given(a=DATES, b=DATES, c=DATES)
    def test_working_days_between_is_additive(self, a: date, b: date, c: date) -> None:
        """Counting a→b then b→c equals counting a→c."""
        assert CAL.working_days_between(a, b) + CAL.working_days_between(
            b, c
        ) == CAL.working_days_between(a, c)

    @given(t=TIMES, duration=DURATIONS)
    def test_add_service_hours_stays_in_service(self, t: datetime, duration: timedelta) -> None:
        """The result is in service hours or exactly at closing, and never before t."""
        result = CAL.add_service_hours(t, duration)
        assert result >= t
        assert result.tzinfo is SHANGHAI
        assert CAL.in_service_hours(result) or result.time() == time(20, 0)

    @given(t=TIMES, a=DURATIONS, b=DURATIONS.filter(lambda x: x > timedelta(0)))
    def test_add_service_hours_composes(self, t: datetime, a: timedelta, b: timedelta) -> None:
        """Adding a then a positive b equals adding a + b at once."""
        assert CAL.add_service_hours(CAL.add_service_hours(t, a), b) == CAL.add_service_hours(
            t, a + b
        )

    @given(t=TIMES, at=st.times())
    def test_next_time_of_day_is_within_a_day(self, t: datetime, at: time) -> None:
        """next_time_of_day is strictly after t, at most a day later, at the requested time."""
        result = CAL.next_time_of_day(t, at)
        assert t < result <= t.astimezone(UTC) + timedelta(days=1)
        assert result.time() == at


def fifo(folder: Path, name: str) -> Path:
    """A named pipe in ``folder`` (the test is skipped where there are none)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    path = folder / name
    os.mkfifo(path)
    return path


class TestScheduleFileLimits:
    """Only a regular UTF-8 file of at most MAX_SCHEDULE_BYTES, nested within limits, is read."""

    @pytest.mark.parametrize("suffix", [".toml", ".json"])
    def test_invalid_utf8(self, tmp_path: Path, suffix: str) -> None:
        """A byte that is not UTF-8 is a CalendarError naming the file and the line."""
        path = tmp_path / f"cal{suffix}"
        path.write_bytes(b'{"2027":\n {"holidays": ["2027-01-01\xff"]}}')
        with pytest.raises(CalendarError, match=r"line 2: not UTF-8 text: the byte 0xff") as info:
            WorkCalendar.from_file(path)
        assert str(info.value).startswith(f"{path}: ")

    @pytest.mark.parametrize(
        ("name", "text"),
        [
            ("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000 + "\n"),
            ("deep.toml", "a = " + "{b=" * 100_000 + "1" + "}" * 100_000 + "\n"),
            ("deep.toml", "[[2027" + ".a" * 100_000 + "]]\n"),
            ("deep.json", '{"2027": ' + "[" * 100_000 + "]" * 100_000 + "}"),
            ("deep.json", '{"2027": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}"),
        ],
        ids=["toml-arrays", "toml-tables", "toml-dotted", "json-arrays", "json-objects"],
    )
    def test_deep_nesting(self, tmp_path: Path, name: str, text: str) -> None:
        """Deep nesting is a CalendarError naming the line, not a RecursionError."""
        path = write(tmp_path, name, text)
        with pytest.raises(CalendarError, match=r": line 1: (nested|more than)") as info:
            WorkCalendar.from_file(path)
        assert str(info.value).startswith(f"{path}: ")

    def test_brackets_in_strings_and_comments(self, tmp_path: Path) -> None:
        """Brackets inside strings and comments are not nesting."""
        text = '# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n[2027]\nholidays = ["2027-01-01"]\n'
        cal = WorkCalendar.from_file(write(tmp_path, "cal.toml", text + "#" + "[" * 40 + "\n"))
        assert not cal.is_workday(date(2027, 1, 1))
        json_text = '{"2027": {"holidays": ["2027-01-01"]}, "x": "' + "[" * 40 + '"}'
        with pytest.raises(CalendarError, match=r"\[x\]: key is not a year"):
            WorkCalendar.from_file(write(tmp_path, "cal.json", json_text))

    @pytest.mark.parametrize("name", ["cal.toml", "cal.json"])
    def test_fifo(self, tmp_path: Path, name: str) -> None:
        """A named pipe is refused at once instead of waiting for a writer."""
        path = fifo(tmp_path, name)
        raised: list[BaseException] = []

        def load() -> None:
            try:
                WorkCalendar.from_file(path)
            except BaseException as err:
                raised.append(err)

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        thread.join(30)
        if thread.is_alive():
            with open(path, "wb"):  # let the blocked reader end
                pass
            thread.join(30)
            pytest.fail(f"reading {path} blocked until a writer came")
        assert len(raised) == 1
        assert isinstance(raised[0], CalendarError)
        assert str(raised[0]) == (
            f"{path}: cannot read the file: it is a FIFO (named pipe), not a regular file"
        )

    def test_device(self, tmp_path: Path) -> None:
        """A link named like a schedule that leads to /dev/zero is refused, not read forever."""
        if not Path("/dev/zero").exists():
            pytest.skip("no /dev/zero")
        link = tmp_path / "cal.toml"
        link.symlink_to("/dev/zero")
        with pytest.raises(CalendarError, match="character device, not a regular file"):
            WorkCalendar.from_file(link)

    def test_directory(self, tmp_path: Path) -> None:
        """A directory named like a schedule file is refused."""
        folder = tmp_path / "cal.json"
        folder.mkdir()
        with pytest.raises(CalendarError, match="it is a directory"):
            WorkCalendar.from_file(folder)

    def test_size_limit(self, tmp_path: Path) -> None:
        """A file of MAX_SCHEDULE_BYTES loads; one byte more is refused."""
        body = '[2027]\nholidays = ["2027-01-01"]\n'
        filler = "#" * (MAX_SCHEDULE_BYTES - len(body) - 1) + "\n"
        path = write(tmp_path, "cal.toml", filler + body)
        assert not WorkCalendar.from_file(path).is_workday(date(2027, 1, 1))
        write(tmp_path, "cal.toml", "#" + filler + body)
        with pytest.raises(CalendarError, match=f"larger than {MAX_SCHEDULE_BYTES} bytes"):
            WorkCalendar.from_file(path)

    @pytest.mark.parametrize(
        ("name", "text"),
        [
            ("cal.toml", f"[2027]\nholidays = [{'1' * 5000}]\n"),
            ("cal.json", f'{{"2027": {{"holidays": [{"1" * 5000}]}}}}'),
        ],
    )
    def test_huge_number(self, tmp_path: Path, name: str, text: str) -> None:
        """An integer too long to convert is a CalendarError, not a bare ValueError."""
        path = write(tmp_path, name, text)
        with pytest.raises(CalendarError, match="too many digits"):
            WorkCalendar.from_file(path)

    @pytest.mark.parametrize(
        ("text", "where"),
        [
            ('{"2027": {"holidays": [], "holidays": ["2027-01-01"]}}', "[2027].holidays"),
            ('{"2027": {"workdays": []}, "2027": {}}', "[2027]"),
        ],
    )
    def test_json_repeated_key(self, tmp_path: Path, text: str, where: str) -> None:
        """A key given twice in one JSON object is named with its place."""
        path = write(tmp_path, "cal.json", text)
        with pytest.raises(CalendarError) as info:
            WorkCalendar.from_file(path)
        assert str(info.value) == f"{path}: {where}: key given more than once"

    def test_repeated_date_across_spellings(self, tmp_path: Path) -> None:
        """A TOML date and the same date as a string are one date listed twice."""
        path = write(tmp_path, "cal.toml", '[2027]\nholidays = [2027-01-01, "2027-01-01"]\n')
        with pytest.raises(
            CalendarError, match=r"\[2027\]\.holidays\[1\]: 2027-01-01 is listed twice"
        ):
            WorkCalendar.from_file(path)


SCHEDULE = {"2027": {"holidays": ["2027-01-01", "2027-02-08"], "workdays": ["2027-02-20"]}}


def schedule_paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """The path of every value inside a parsed schedule."""
    out: list[tuple[object, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        out.append((*prefix, key))
        out.extend(schedule_paths(child, (*prefix, key)))
    return out


def with_replaced(path: tuple[object, ...], new: object) -> dict[str, Any]:
    """A copy of SCHEDULE with the value at ``path`` replaced."""
    document: Any = copy.deepcopy(SCHEDULE)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return cast(dict[str, Any], document)


def json_type(value: object) -> str:
    """The JSON (or TOML) type name of a parsed value."""
    for kind, name in (
        (type(None), "null"),
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (datetime, "date-time"),
        (date, "date"),
        (time, "time"),
        (list, "array"),
        (dict, "table"),
    ):
        if isinstance(value, kind):
            return name
    raise TypeError(value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
TOML_VALUES = st.recursive(
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.dates()
    | st.datetimes()
    | st.times(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


class TestAnyWrongType:
    """Replacing any value of a valid schedule by one of another type is a CalendarError."""

    @given(data=st.data(), suffix=st.sampled_from([".toml", ".json"]))
    @settings(max_examples=200, deadline=None)
    def test_replace_any_value(self, data: st.DataObject, suffix: str) -> None:
        """The loader raises CalendarError (never another exception) for any wrong type."""
        path = data.draw(st.sampled_from(schedule_paths(SCHEDULE)), label="path")
        is_date = isinstance(path[-1], int)
        allowed = (
            {"string", "date"}
            if is_date and suffix == ".toml"
            else {"string" if is_date else "table" if len(path) == 1 else "array"}
        )
        values = TOML_VALUES if suffix == ".toml" else JSON_VALUES
        new = data.draw(values.filter(lambda v: json_type(v) not in allowed), label="new")
        document = with_replaced(path, new)
        text = tomli_w.dumps(document) if suffix == ".toml" else json.dumps(document)
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / f"cal{suffix}"
            file.write_text(text, encoding="utf-8")
            with pytest.raises(CalendarError) as info:
                WorkCalendar.from_file(file)
        assert str(info.value).startswith(f"{file}: ")


class TestPickling:
    """Calendars pickle without their per-year cache."""

    def test_round_trip(self) -> None:
        """A pickled calendar with schedules comes back equal and answers the same."""
        cal = WorkCalendar.from_mapping({"2027": {"holidays": ["2027-01-01"]}})
        copy_ = pickle.loads(pickle.dumps(cal))
        assert copy_ == cal
        assert copy_.covered_years() == cal.covered_years()
        days = [date(2026, 12, 1) + timedelta(days=i) for i in range(90)]
        assert [copy_.add_working_days(d, 3) for d in days] == [
            cal.add_working_days(d, 3) for d in days
        ]

    def test_cache_is_not_pickled(self) -> None:
        """Using a calendar does not make its pickle larger."""
        cal = WorkCalendar()
        before = len(pickle.dumps(cal))
        cal.add_working_days(date(2000, 1, 1), 5000)
        assert len(pickle.dumps(cal)) == before
