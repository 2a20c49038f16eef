"""What if the shop ran another policy? The decisions that change, and what it costs.

Run:  python examples/what_if.py [CASES.jsonl] [--a b2c] [--b taobao] [--chart what_if.png]

Decides the same cases (without CASES: a generated sample, --rows and
--seed) under policy A and policy B (each a bundled name, b2c or taobao, or
a policy TOML file) and compares the decisions case by case. A decision
changes when any field other than ``explanation`` and ``parameters`` differs
(an error on one side only counts as a change too). Changed decisions are
grouped by how their clauses changed: the ``rules`` only A cites (removed)
and only B cites (added); a group with no clause change holds decisions
whose values moved under the same clauses (e.g. a parameter's value).

Per group: the cases; ``freight`` is who pays return freight changing
(``to shop``: the shop pays under B but not A; ``off shop``: the reverse)
and the cost of it, each parcel at the ``shipping_fee`` parameter of the
policy under which the shop pays (B2C-7.10.2) on the case's day; ``refund
days``: the shift of ``refund_due`` in days (B minus A; positive is later)
summed over the group's cases with a refund date under both, and how many
cases shifted. The last row totals. --chart draws cases, freight cost and
refund days per group, in the table's order (needs matplotlib).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import (
    Decided,
    add_input_arguments,
    date_range,
    decide_source,
    footnote,
    format_table,
    open_source,
    policy_from,
    require_matplotlib,
    run,
    save_chart,
)

from csrules.policy import Policy

IGNORED = ("explanation", "parameters")


@dataclasses.dataclass
class Group:
    """The changed decisions that share one change of clauses."""

    removed: tuple[str, ...]
    added: tuple[str, ...]
    kinds: set[str] = dataclasses.field(default_factory=set)
    cases: int = 0
    to_shop: int = 0
    off_shop: int = 0
    freight: Decimal = Decimal("0.00")
    shifted: int = 0
    refund_days: int = 0

    @property
    def label(self) -> str:
        """The clause change, as '-B2C-7.8.2 +TB-1.5.1' (or '(same clauses)')."""
        parts = [f"-{r}" for r in self.removed] + [f"+{a}" for a in self.added]
        return " ".join(parts) or "(same clauses)"


def comparable(result: dict[str, Any]) -> object:
    """What decides whether a result changed: its decision without prose, or its error code."""
    decision = result.get("decision")
    if isinstance(decision, dict):
        return {k: v for k, v in decision.items() if k not in IGNORED}
    return ("error", result.get("error", {}).get("code"))


def compare(
    a: Sequence[Decided], b: Sequence[Decided], policy_a: Policy, policy_b: Policy
) -> list[Group]:
    """The changed decisions, grouped by clause change, most cases first."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], Group] = {}
    for one, two in zip(a, b, strict=True):
        if comparable(one.result) == comparable(two.result):
            continue
        rules_a = set((one.decision or {}).get("rules", []))
        rules_b = set((two.decision or {}).get("rules", []))
        key = (tuple(sorted(rules_a - rules_b)), tuple(sorted(rules_b - rules_a)))
        group = groups.setdefault(key, Group(*key))
        group.kinds.add(one.kind)
        group.cases += 1
        if one.kind != "return" or one.decision is None or two.decision is None:
            continue
        day = one.at.date()
        payer_a, payer_b = one.decision["freight_payer"], two.decision["freight_payer"]
        if payer_a != payer_b and "merchant" in (payer_a, payer_b):
            if payer_b == "merchant":
                group.to_shop += 1
                group.freight += Decimal(str(policy_b.value("shipping_fee", day)))
            else:
                group.off_shop += 1
                group.freight -= Decimal(str(policy_a.value("shipping_fee", day)))
        due_a, due_b = one.decision.get("refund_due"), two.decision.get("refund_due")
        if due_a and due_b and due_a != due_b:
            group.shifted += 1
            group.refund_days += (dt.date.fromisoformat(due_b) - dt.date.fromisoformat(due_a)).days
    return sorted(groups.values(), key=lambda g: (-g.cases, g.label))


def rows_of(groups: Sequence[Group]) -> list[tuple[object, ...]]:
    """The printed table's rows, a total last."""
    rows: list[tuple[object, ...]] = [
        (
            f"#{number}",
            g.label,
            ",".join(sorted(g.kinds)),
            g.cases,
            g.to_shop,
            g.off_shop,
            f"{g.freight:+.2f}",
            g.shifted,
            f"{g.refund_days:+d}",
        )
        for number, g in enumerate(groups, 1)
    ]
    rows.append(
        (
            "",
            "total",
            "",
            sum(g.cases for g in groups),
            sum(g.to_shop for g in groups),
            sum(g.off_shop for g in groups),
            f"{sum((g.freight for g in groups), Decimal('0.00')):+.2f}",
            sum(g.shifted for g in groups),
            f"{sum(g.refund_days for g in groups):+d}",
        )
    )
    return rows


HEADERS = (
    "#",
    "clauses (-removed +added)",
    "kind",
    "cases",
    "to shop",
    "off shop",
    "freight CNY",
    "shifted",
    "refund days",
)


def draw(groups: Sequence[Group], path: Path, title: str, note: str) -> None:
    """Three bar panels per clause change: cases, freight cost, refund days."""
    plt = require_matplotlib()
    labels = [
        f"#{n} " + (g.label if len(g.label) <= 44 else g.label[:41] + "...")
        for n, g in enumerate(groups, 1)
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13, 1.6 + 0.42 * len(groups)), sharey=True)
    panels = [
        ("changed decisions", "cases", [g.cases for g in groups], "#4c72b0"),
        ("freight the shop pays (B - A)", "CNY", [float(g.freight) for g in groups], "#dd8452"),
        ("refund_due shift (B - A)", "days, summed", [g.refund_days for g in groups], "#55a868"),
    ]
    positions = list(range(len(groups)))
    for ax, (name, unit, values, colour) in zip(axes, panels, strict=True):
        ax.barh(positions, values, color=colour)
        ax.axvline(0, color="#333333", linewidth=0.6)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(unit)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, labels, fontsize=8)
    axes[0].set_ylim(len(groups) - 0.5, -0.5)
    axes[0].set_ylabel("clause change")
    fig.suptitle(title, x=0.01, ha="left")
    save_chart(fig, path, note, top=0.95)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_input_arguments(parser)
    parser.add_argument("--a", default="b2c", help="policy A: bundled name or TOML file (b2c)")
    parser.add_argument(
        "--b", default="taobao", help="policy B: bundled name or TOML file (taobao)"
    )
    args = parser.parse_args(argv)
    if args.chart:
        require_matplotlib()
    policy_a, policy_b = policy_from(args.a), policy_from(args.b)
    with open_source(args.cases, rows=args.rows, seed=args.seed) as source:
        a, b = decide_source(source, policy_a), decide_source(source, policy_b)
    groups = compare(a, b, policy_a, policy_b)
    changed = sum(g.cases for g in groups)
    print(
        f"{len(a)} cases from {source.describe()}: {changed} decisions change "
        f"from A ({args.a}) to B ({args.b})"
    )
    print()
    print(format_table(HEADERS, rows_of(groups)))
    if args.chart and groups:
        span = date_range(item.at.date() for item in a)
        draw(
            groups,
            args.chart,
            f"What changes from policy {args.a} (A) to {args.b} (B)",
            footnote(source, span) + f"; A: {args.a}, B: {args.b}",
        )
    return 0


if __name__ == "__main__":
    run(main)
