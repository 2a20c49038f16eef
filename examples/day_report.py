"""A day's cases at a glance: what was decided, what escalated, what is due when.

Run:  python examples/day_report.py [CASES.jsonl] [--policy FILE] [--chart report.png]

Decides every case in the file (as `csrules decide` does, complaints through
one escalation monitor in file order), then prints a summary for the team
lead: actions on return requests and who pays freight, where complaints
went and which escalated, refunds falling due per day. With --chart it also
draws those counts as bar charts (needs matplotlib: pip install
'csrules[charts]').
"""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from _common import fail, policy_from, require_matplotlib, run, save_chart

from csrules.cli import decide_lines
from csrules.stream import EscalationMonitor

HERE = Path(__file__).resolve().parent


def summarise(results: Sequence[Mapping[str, object]]) -> dict[str, collections.Counter[str]]:
    """Count outcomes by kind: actions, freight payers, routes, escalations, refund dates."""
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for result in results:
        if "error" in result:
            error = result["error"]
            assert isinstance(error, dict)
            counts["errors"][str(error["code"])] += 1
            continue
        decision = result["decision"]
        assert isinstance(decision, dict)
        if result["kind"] == "return":
            counts["return actions"][decision["action"]] += 1
            counts["freight payer"][decision["freight_payer"]] += 1
            if decision["refund_due"]:
                counts["refunds due"][decision["refund_due"]] += 1
        elif result["kind"] == "complaint":
            counts["complaints routed to"][decision["route_to"]] += 1
            for target in decision["escalate_to"] or ["(none)"]:
                counts["complaint escalations"][target] += 1
        elif result["kind"] == "promotion":
            counts["promotion sizes"][decision["size"]] += 1
        else:
            counts["price adjustments"][decision["action"]] += 1
    return counts


def print_report(counts: Mapping[str, collections.Counter[str]], out: object = sys.stdout) -> None:
    """Print each count as an aligned block with a bar of # marks."""
    for title, counter in counts.items():
        print(f"\n{title}", file=out)  # type: ignore[arg-type]
        width = max(len(k) for k in counter)
        for key, n in sorted(counter.items()):
            print(f"  {key:<{width}}  {n:>3}  {'#' * n}", file=out)  # type: ignore[arg-type]


def draw(counts: Mapping[str, collections.Counter[str]], path: Path, note: str) -> None:
    """Draw one horizontal bar chart per count into a PNG file, bars in the
    printed order (top to bottom), with a title and ``note`` at the foot."""
    plt = require_matplotlib()
    panels = [(t, c) for t, c in counts.items() if c]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(7, 1.6 + 1.1 * sum(len(c) for _, c in panels) / 2)
    )
    for ax, (title, counter) in zip(axes if len(panels) > 1 else [axes], panels, strict=True):
        keys = sorted(counter)
        ax.barh(keys, [counter[k] for k in keys], color="#4c72b0")
        ax.invert_yaxis()  # the first printed key on top
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_xlabel("cases")
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle("A day's cases at a glance", x=0.01, ha="left")
    save_chart(fig, path, note, top=0.97)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="?", default=str(HERE / "cases.jsonl"))
    parser.add_argument("--policy", help="policy TOML file or bundled name")
    parser.add_argument("--chart", type=Path, help="also write the counts as a PNG chart")
    args = parser.parse_args(argv)
    if args.chart:
        require_matplotlib()  # before the work, not after it
    policy = policy_from(args.policy)
    try:
        with open(args.cases, encoding="utf-8") as lines, EscalationMonitor(policy) as monitor:
            results = list(decide_lines(lines, policy=policy, monitor=monitor))
    except OSError as exc:
        fail(f"{args.cases}: cannot read it ({exc.strerror or exc})")
    counts = summarise(results)
    print(f"{len(results)} cases from {args.cases}")
    print_report(counts)
    if args.chart:
        days = sorted(counts.get("refunds due", {}))
        span = f"refunds due {days[0]} to {days[-1]}; " if days else ""
        note = f"source: {Path(args.cases).name}, {len(results)} cases; {span}policy {policy.name}"
        draw(counts, args.chart, note)
    return 0


if __name__ == "__main__":
    run(main)
