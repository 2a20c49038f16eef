"""How early to remind customers that a promotion ends (B2C-7.11.3), by length.

Run:  python examples/reminder_bands.py [--policy FILE] [--max-days 90] [--chart bands.png]

Decides a promotion of every length from 1 to --max-days days under the
policy and prints the bands it finds: which lengths get which lead time, and
the clause. The step chart (--chart, needs matplotlib) shows the band edges
(7, 15, 30, 60 days: upper ends inclusive) at a glance.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pendulum
from _common import policy_from, require_matplotlib, run, save_chart

from csrules import Promotion, decide_promotion


def lead_times(max_days: int, policy_name: str | None = None) -> list[tuple[int, int]]:
    """(length in days, reminder lead in days) for every length 1..max_days."""
    policy = policy_from(policy_name)
    start = pendulum.datetime(2026, 3, 1, tz="Asia/Shanghai")
    at = start.subtract(days=30)
    rows = []
    for length in range(1, max_days + 1):
        end = start.add(days=length - 1).replace(hour=23, minute=59, second=59)
        promotion = Promotion(name=f"{length} days", starts_at=start, ends_at=end)
        decision = decide_promotion(promotion, at=at, policy=policy)
        assert decision.length_days == length
        rows.append((length, decision.remind_days_before))
    return rows


def bands(rows: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Collapse (length, lead) rows into (first length, last length, lead) bands."""
    out: list[tuple[int, int, int]] = []
    for length, lead in rows:
        if out and out[-1][2] == lead:
            out[-1] = (out[-1][0], length, lead)
        else:
            out.append((length, length, lead))
    return out


def draw(rows: Sequence[tuple[int, int]], path: Path, policy_name: str | None) -> None:
    """A step chart of lead time against promotion length."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.step([r[0] for r in rows], [r[1] for r in rows], where="post", color="#c44e52")
    ax.set_xlabel("promotion length (days, start and end day included)")
    ax.set_ylabel("remind this many days before the end")
    ax.set_title("B2C-7.11.3 reminder lead time", loc="left")
    ax.grid(alpha=0.3)
    note = (
        f"source: decide_promotion on promotions of 1 to {rows[-1][0]} days starting "
        f"2026-03-01; policy {policy_name or 'b2c'}"
    )
    save_chart(fig, path, note)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", help="policy TOML file or bundled name")
    parser.add_argument("--max-days", type=int, default=90)
    parser.add_argument("--chart", type=Path, help="also write a step chart as PNG")
    args = parser.parse_args(argv)
    if args.chart:
        require_matplotlib()  # before the work, not after it
    rows = lead_times(args.max_days, args.policy)
    print("length (days)   remind before end")
    for first, last, lead in bands(rows):
        span = f"{first}-{last}" if first != last else f"{first}"
        print(f"  {span:<13} {lead:>3} day{'s' if lead != 1 else ''}")
    if args.chart:
        draw(rows, args.chart, args.policy)
    return 0


if __name__ == "__main__":
    run(main)
