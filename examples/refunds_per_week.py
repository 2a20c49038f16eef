"""Refunds falling due per ISO week across the Spring Festival and National Day.

Run:  python examples/refunds_per_week.py [CASES.jsonl] [--policy b2c] [--weeks 2]
                                          [--chart refunds.png]

Decides the return cases (without CASES: a generated sample, --rows and
--seed) and counts the decisions' ``refund_due`` dates per ISO week, for the
weeks around each long statutory holiday: the weeks it touches and --weeks
weeks either side. The holidays are found in ``csrules.WorkCalendar``, not
typed in: a run of days off holding at least seven days and a weekday off
(2026: Spring Festival 15-23 February, National Day 1-7 October). Each week
shows its holiday days off (weekdays off: not an ordinary weekend) and its
adjusted working days (调休: a Saturday or Sunday that is worked), which is
why refunds due in working days bunch up before and after the break.

--chart draws one panel per holiday, weeks in the table's order, holiday
weeks shaded and adjusted working days marked (needs matplotlib).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import (
    Decided,
    add_input_arguments,
    decide_source,
    footnote,
    format_table,
    open_source,
    policy_from,
    require_matplotlib,
    run,
    save_chart,
)

from csrules import WorkCalendar

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Holiday:
    """A long run of days off."""

    name: str
    first: dt.date
    last: dt.date


@dataclass(frozen=True)
class Week:
    """One ISO week of the table."""

    monday: dt.date
    holiday: str
    refunds_due: int
    days_off: tuple[dt.date, ...]  # weekdays off
    adjusted: tuple[dt.date, ...]  # weekend days worked

    @property
    def label(self) -> str:
        """The ISO week, as 2026-W08."""
        year, week, _ = self.monday.isocalendar()
        return f"{year}-W{week:02d}"


def long_holidays(calendar: WorkCalendar, year: int, min_days: int = 7) -> list[Holiday]:
    """Runs of at least ``min_days`` days off with a weekday off among them."""
    found: list[Holiday] = []
    day, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    while day <= end:
        if calendar.is_workday(day):
            day += ONE_DAY
            continue
        first = day
        while day + ONE_DAY <= end and not calendar.is_workday(day + ONE_DAY):
            day += ONE_DAY
        run = [first + ONE_DAY * i for i in range((day - first).days + 1)]
        if len(run) >= min_days and any(d.weekday() < 5 for d in run):
            found.append(Holiday(_name(first, day), first, day))
        day += ONE_DAY
    return found


def _name(first: dt.date, last: dt.date) -> str:
    if first <= dt.date(first.year, 10, 1) <= last:
        return "National Day"
    if first.month in (1, 2):
        return "Spring Festival"
    return f"holiday {first:%m-%d}"


def weeks_around(
    holiday: Holiday, due: collections.Counter[dt.date], calendar: WorkCalendar, weeks: int
) -> list[Week]:
    """The weeks the holiday touches and ``weeks`` weeks either side."""
    start = holiday.first - ONE_DAY * holiday.first.weekday() - dt.timedelta(weeks=weeks)
    stop = holiday.last - ONE_DAY * holiday.last.weekday() + dt.timedelta(weeks=weeks)
    out = []
    monday = start
    while monday <= stop:
        days = [monday + ONE_DAY * i for i in range(7)]
        out.append(
            Week(
                monday=monday,
                holiday=holiday.name,
                refunds_due=sum(due[d] for d in days),
                days_off=tuple(d for d in days if d.weekday() < 5 and not calendar.is_workday(d)),
                adjusted=tuple(d for d in days if d.weekday() >= 5 and calendar.is_workday(d)),
            )
        )
        monday += dt.timedelta(weeks=1)
    return out


def refunds_due(decided: Sequence[Decided]) -> collections.Counter[dt.date]:
    """Refund due dates of the return decisions, counted per day."""
    return collections.Counter(
        dt.date.fromisoformat(item.decision["refund_due"])
        for item in decided
        if item.kind == "return" and item.decision and item.decision.get("refund_due")
    )


def _days(days: Sequence[dt.date]) -> str:
    return " ".join(f"{d:%a %m-%d}" for d in days) or "-"


def draw(panels: list[tuple[Holiday, list[Week]]], path: Path, note: str) -> None:
    """One bar panel per holiday: refunds due per week, holiday weeks shaded."""
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.6), squeeze=False)
    for ax, (holiday, weeks) in zip(axes[0], panels, strict=True):
        labels = [w.label for w in weeks]
        colours = ["#c44e52" if w.days_off else "#4c72b0" for w in weeks]
        bars = ax.bar(labels, [w.refunds_due for w in weeks], color=colours)
        top = max([w.refunds_due for w in weeks] + [1])
        for bar, week in zip(bars, weeks, strict=True):
            if week.adjusted:
                ax.annotate(
                    "adj. workday " + ", ".join(f"{d:%a %d}" for d in week.adjusted),
                    (bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 0.02),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    rotation=90,
                    color="#2a7a2a",
                )
        ax.set_ylim(0, top * 1.6)
        ax.set_title(
            f"{holiday.name}: {holiday.first:%m-%d} to {holiday.last:%m-%d} off", fontsize=10
        )
        ax.set_xlabel("ISO week of refund_due (red: holiday days off)")
        ax.set_ylabel("refunds falling due")
        ax.tick_params(axis="x", labelrotation=60, labelsize=8)
    fig.suptitle("Refunds falling due per week around the long holidays", x=0.01, ha="left")
    save_chart(fig, path, note, top=0.95)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_input_arguments(parser)
    parser.add_argument("--policy", help="policy TOML file or bundled name (default: b2c)")
    parser.add_argument(
        "--weeks", type=int, default=2, help="weeks shown either side of each holiday (default: 2)"
    )
    args = parser.parse_args(argv)
    if args.chart:
        require_matplotlib()
    policy = policy_from(args.policy)
    with open_source(args.cases, rows=args.rows, seed=args.seed) as source:
        decided = decide_source(source, policy, kinds=("return",))
    due = refunds_due(decided)
    calendar = policy.calendar
    years = sorted({d.year for d in due})
    panels = [
        (holiday, weeks_around(holiday, due, calendar, args.weeks))
        for year in years
        for holiday in long_holidays(calendar, year)
    ]
    total = sum(due.values())
    span = (min(due), max(due)) if due else None
    print(
        f"{total} refunds falling due from {source.describe()}"
        + (f", {span[0]} to {span[1]}" if span else "")
    )
    for holiday, weeks in panels:
        print(f"\n{holiday.name} {holiday.first.year}: days off {holiday.first} to {holiday.last}")
        rows = [
            (w.label, f"{w.monday:%m-%d}", w.refunds_due, _days(w.days_off), _days(w.adjusted))
            for w in weeks
        ]
        print(
            format_table(
                ("week", "monday", "refunds due", "holiday days off", "adjusted working days"), rows
            )
        )
    if args.chart and panels:
        draw(panels, args.chart, footnote(source, span, args.policy or "b2c"))
    return 0


if __name__ == "__main__":
    run(main)
