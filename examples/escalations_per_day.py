"""Complaint escalations per department per day, from a complaint log.

Run:  python examples/escalations_per_day.py [CASES.jsonl] [--policy b2c] [--chart esc.png]

Takes the complaint cases of the file (without CASES: a generated sample of
complaints, --rows and --seed), puts them in order of complaint time ``at``
and decides them through one escalation monitor, so each complaint sees the
ones before it (repeat complaints about a department or staff member,
B2C-8.7.1; quality reports gathering on a product, B2C-8.7.5; B2C-7.16.3
to the customer-service head; ...). Every target in a decision's
``escalate_to`` counts once on the complaint's day.

Prints one row per day with an escalation (a column per department
escalated to, and the clauses that escalated), then the totals per clause;
--chart draws the days as bars stacked by department, in the same order
(needs matplotlib).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import re
from collections.abc import Sequence
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

#: The clauses that escalate a complaint.
ESCALATION_CLAUSE = re.compile(r"^(B2C-8\.7\.\d+|B2C-7\.16\.3)$")

Day = dt.date


def escalations(
    decided: Sequence[Decided],
) -> tuple[dict[Day, collections.Counter[str]], dict[Day, collections.Counter[str]]]:
    """Per day: escalations per target department, and per escalating clause."""
    targets: dict[Day, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    clauses: dict[Day, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for item in decided:
        decision = item.decision
        if item.kind != "complaint" or decision is None or not decision["escalate_to"]:
            continue
        day = item.at.date()
        targets[day].update(decision["escalate_to"])
        clauses[day].update(sorted({r for r in decision["rules"] if ESCALATION_CLAUSE.match(r)}))
    return targets, clauses


def draw(
    days: list[Day],
    targets: dict[Day, collections.Counter[str]],
    departments: list[str],
    path: Path,
    note: str,
) -> None:
    """Escalations per day, stacked by department."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(10, 4.6))
    labels = [f"{d:%m-%d}" for d in days]
    positions = list(range(len(days)))
    bottom = [0] * len(days)
    colours = plt.get_cmap("tab10")
    for i, department in enumerate(departments):
        heights = [targets[d][department] for d in days]
        ax.bar(positions, heights, bottom=bottom, label=department, color=colours(i % 10))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(days) // 40)
    ax.set_xticks(positions[::step], labels[::step], rotation=90, fontsize=7)
    ax.set_ylim(0, max([*bottom, 1]) * 1.3)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Complaint escalations per department per day", loc="left")
    ax.set_xlabel("day of the complaint (days with an escalation)")
    ax.set_ylabel("escalations")
    ax.legend(title="escalated to", fontsize=8)
    save_chart(fig, path, note)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_input_arguments(parser, rows=1500)
    parser.add_argument("--policy", help="policy TOML file or bundled name (default: b2c)")
    args = parser.parse_args(argv)
    if args.chart:
        require_matplotlib()
    policy = policy_from(args.policy)
    with open_source(args.cases, rows=args.rows, seed=args.seed, kind="complaint") as source:
        decided = decide_source(source, policy, kinds=("complaint",))
    targets, clauses = escalations(decided)
    days = sorted(targets)
    departments = sorted(
        {t for counter in targets.values() for t in counter},
        key=lambda t: (-sum(c[t] for c in targets.values()), t),
    )
    span = (decided[0].at.date(), decided[-1].at.date()) if decided else None
    escalated = sum(1 for i in decided if i.decision and i.decision["escalate_to"])
    print(
        f"{len(decided)} complaints from {source.describe()}"
        + (f", {span[0]} to {span[1]}" if span else "")
        + f"; {escalated} escalated"
    )
    rows = [
        (
            str(day),
            *(targets[day][d] for d in departments),
            sum(targets[day].values()),
            " ".join(f"{c}×{n}" if n > 1 else c for c, n in sorted(clauses[day].items())),
        )
        for day in days
    ]
    print()
    print(format_table(("day", *departments, "total", "clauses"), rows))
    per_clause: collections.Counter[str] = collections.Counter()
    for counter in clauses.values():
        per_clause.update(counter)
    print()
    print(format_table(("clause", "complaints escalated"), sorted(per_clause.items())))
    if args.chart and days:
        draw(days, targets, departments, args.chart, footnote(source, span, args.policy or "b2c"))
    return 0


if __name__ == "__main__":
    run(main)
