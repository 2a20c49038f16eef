"""A month's promotion duties as a calendar: reminders, trainings, messages, call-backs.

Run:  python examples/promotion_calendar.py [CASES.jsonl] [--month 2026-11] [--policy b2c]
                                            [--chart calendar.png]

Decides the promotion cases (without CASES: a generated sample of
promotions, --rows and --seed) and lists, day by day for --month (default:
the month in which the data's latest promotion starts), which promotion has
which duty falling due that day:

- ``training``: customer service is trained (``training_on``, B2C-8.11);
- ``mass message``: mass SMS and e-mail before the start (``mass_message_on``);
- ``end reminder``: tell related customers the end date (``remind_on``, B2C-7.11.3);
- ``call-backs``: call interested customers again (``interest_callback_on``, B2C-7.14.2);
- ``end SMS``: the SMS announcing the end (``end_sms_on``, B2C-7.14.1).

--chart draws the month as a grid, one row per promotion in the order it
first appears in the table (labelled by case id: the chart font may lack
Chinese glyphs), a marker per duty on its day (needs matplotlib).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

from _common import (
    Decided,
    add_input_arguments,
    date_range,
    decide_source,
    fail,
    footnote,
    format_table,
    open_source,
    parse_time,
    policy_from,
    require_matplotlib,
    run,
    save_chart,
)

#: Decision field → duty name, in the order duties are listed within a day.
DUTIES = {
    "training_on": "training",
    "mass_message_on": "mass message",
    "remind_on": "end reminder",
    "interest_callback_on": "call-backs",
    "end_sms_on": "end SMS",
}
MARKERS = {
    "training": "s",
    "mass message": "^",
    "end reminder": "o",
    "call-backs": "D",
    "end SMS": "v",
}

Event = tuple[dt.date, str, str, str]  # day, duty, case id, promotion name


def default_month(decided: Sequence[Decided]) -> str:
    """YYYY-MM of the latest promotion start in the data."""
    starts = [
        parse_time(i.case["promotion"]["starts_at"]) for i in decided if i.kind == "promotion"
    ]
    if not starts:
        fail("the input holds no promotion cases")
    return f"{max(starts):%Y-%m}"


def events_in(decided: Sequence[Decided], month: str) -> list[Event]:
    """The duties of every decided promotion that fall in ``month``, by day then duty."""
    order = list(DUTIES.values())
    events: list[Event] = []
    for item in decided:
        decision = item.decision
        if item.kind != "promotion" or decision is None:
            continue
        for field, duty in DUTIES.items():
            on = decision.get(field)
            if on and on.startswith(month):
                events.append(
                    (
                        dt.date.fromisoformat(on),
                        duty,
                        str(item.case["id"]),
                        str(item.case["promotion"]["name"]),
                    )
                )
    events.sort(key=lambda e: (e[0], order.index(e[1]), e[2]))
    return events


def draw(events: list[Event], month: str, path: Path, note: str) -> None:
    """The month as a grid: promotions down, days across, a marker per duty."""
    plt = require_matplotlib()
    year, mon = (int(p) for p in month.split("-"))
    first = dt.date(year, mon, 1)
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    ids = list(dict.fromkeys(e[2] for e in events))
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.32 * len(ids)))
    for offset, (duty, marker) in enumerate(MARKERS.items()):
        # duties of one day side by side, in the table's order
        shift = (offset - 2) * 0.16
        points = [(e[0].day + shift, ids.index(e[2])) for e in events if e[1] == duty]
        if points:
            ax.scatter(
                [p[0] for p in points],
                [p[1] for p in points],
                marker=marker,
                s=36,
                label=duty,
                zorder=3,
            )
    for day in range(1, last.day + 1):
        if dt.date(year, mon, day).weekday() >= 5:
            ax.axvspan(day - 0.5, day + 0.5, color="#eeeeee", zorder=0)
    ax.set_xlim(0.5, last.day + 0.5)
    ax.set_xticks(range(1, last.day + 1))
    ax.set_yticks(range(len(ids)), ids, fontsize=8)
    ax.set_ylim(len(ids) - 0.5, -0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"Promotion duties falling due in {month} (grey: weekends)", loc="left")
    ax.set_xlabel(f"day of {first:%B %Y}")
    ax.set_ylabel("promotion (case id)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    save_chart(fig, path, note)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_input_arguments(parser, rows=300)
    parser.add_argument("--policy", help="policy TOML file or bundled name (default: b2c)")
    parser.add_argument("--month", help="YYYY-MM (default: month of the latest promotion start)")
    args = parser.parse_args(argv)
    if args.month and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        fail(f"--month: expected YYYY-MM such as 2026-11, got {args.month!r}")
    if args.chart:
        require_matplotlib()
    policy = policy_from(args.policy)
    with open_source(args.cases, rows=args.rows, seed=args.seed, kind="promotion") as source:
        decided = decide_source(source, policy, kinds=("promotion",))
    month = args.month or default_month(decided)
    events = events_in(decided, month)
    print(
        f"{len(decided)} promotions from {source.describe()}; "
        f"{len(events)} duties fall due in {month}"
    )
    rows = []
    previous: dt.date | None = None
    for day, duty, case_id, name in events:
        shown = f"{day} {day:%a}" if day != previous else ""
        rows.append((shown, duty, case_id, name))
        previous = day
    print()
    print(format_table(("day", "duty", "case", "promotion"), rows))
    if args.chart and events:
        span = date_range(i.at.date() for i in decided)
        draw(events, month, args.chart, footnote(source, span, args.policy or "b2c"))
    return 0


if __name__ == "__main__":
    run(main)
