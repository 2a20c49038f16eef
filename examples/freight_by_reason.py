"""Return freight the shop pays, by reason and month: cases and cost.

Run:  python examples/freight_by_reason.py [CASES.jsonl] [--policy b2c] [--freight policy]
                                           [--chart freight.png]

Decides the return cases (without CASES: a generated sample, --rows and
--seed) and keeps those whose decision has ``freight_payer`` ``merchant``
(the shop pays the parcel back, e.g. a quality problem, B2C-7.10.3). Each
such case is one parcel; what a parcel costs is --freight:

- ``policy`` (default): the policy's ``shipping_fee`` (B2C-7.10.2, the
  shipping fee per order, 10.00 CNY in the bundled policies) in force on the
  case's day: the assumed cost of one parcel sent back;
- ``order``: the order's own ``shipping_fee`` (0.00 on free-shipping orders);
- an amount such as ``12.50``: that many yuan per parcel.

Prints one row per month and reason (months in order, reasons by total cost,
largest first) and the totals per reason; --chart draws the cost per month as
bars stacked by reason, in the same order (needs matplotlib).
"""

from __future__ import annotations

import argparse
import collections
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from _common import (
    Decided,
    Source,
    add_input_arguments,
    date_range,
    decide_source,
    fail,
    footnote,
    format_table,
    open_source,
    policy_from,
    require_matplotlib,
    run,
    save_chart,
)

from csrules.policy import Policy

Key = tuple[str, str]  # (month YYYY-MM, reason)


def parcel_cost(item: Decided, freight: str, policy: Policy) -> Decimal:
    """What the parcel of one return costs under the --freight choice."""
    if freight == "policy":
        return Decimal(str(policy.value("shipping_fee", item.at.date())))
    if freight == "order":
        return Decimal(item.case["order"]["shipping_fee"])
    return Decimal(freight)


def merchant_freight(
    decided: Sequence[Decided], freight: str, policy: Policy
) -> dict[Key, tuple[int, Decimal]]:
    """(month, reason) → (cases, cost) over returns whose freight the shop pays."""
    totals: dict[Key, tuple[int, Decimal]] = {}
    for item in decided:
        decision = item.decision
        if item.kind != "return" or decision is None:
            continue
        if decision["freight_payer"] != "merchant":
            continue
        key = (item.at.strftime("%Y-%m"), str(item.case["request"]["reason"]))
        count, cost = totals.get(key, (0, Decimal("0.00")))
        totals[key] = (count + 1, cost + parcel_cost(item, freight, policy))
    return totals


def reason_order(totals: dict[Key, tuple[int, Decimal]]) -> list[str]:
    """Reasons by total cost, largest first (then by cases, then by name)."""
    cost: dict[str, Decimal] = collections.defaultdict(Decimal)
    count: collections.Counter[str] = collections.Counter()
    for (_, reason), (n, amount) in totals.items():
        cost[reason] += amount
        count[reason] += n
    return sorted(cost, key=lambda r: (-cost[r], -count[r], r))


def draw(totals: dict[Key, tuple[int, Decimal]], reasons: list[str], path: Path, note: str) -> None:
    """Cost per month, stacked by reason."""
    plt = require_matplotlib()
    months = sorted({month for month, _ in totals})
    fig, ax = plt.subplots(figsize=(9, 4.8))
    bottom = [0.0] * len(months)
    colours = plt.get_cmap("tab10")
    for i, reason in enumerate(reasons):
        # float only for drawing; the printed table keeps Decimal
        heights = [float(totals.get((m, reason), (0, Decimal(0)))[1]) for m in months]
        ax.bar(months, heights, bottom=bottom, label=reason, color=colours(i % 10))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_title("Return freight paid by the shop, by reason and month", loc="left")
    ax.set_xlabel("month of the return request")
    ax.set_ylabel("freight cost (CNY)")
    ax.legend(title="reason", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.tick_params(axis="x", labelrotation=45)
    save_chart(fig, path, note)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_input_arguments(parser)
    parser.add_argument("--policy", help="policy TOML file or bundled name (default: b2c)")
    parser.add_argument(
        "--freight",
        default="policy",
        help="cost of one parcel: 'policy' (shipping_fee parameter, default), "
        "'order' (the order's shipping_fee) or an amount in yuan",
    )
    args = parser.parse_args(argv)
    if args.freight not in ("policy", "order"):
        try:
            if Decimal(args.freight) < 0:
                raise InvalidOperation
        except InvalidOperation:
            fail(
                f"--freight: expected 'policy', 'order' or an amount such as 12.50, "
                f"got {args.freight!r}"
            )
    if args.chart:
        require_matplotlib()
    policy = policy_from(args.policy)
    with open_source(args.cases, rows=args.rows, seed=args.seed) as source:
        decided = decide_source(source, policy, kinds=("return",))
    totals = merchant_freight(decided, args.freight, policy)
    reasons = reason_order(totals)
    report(source, decided, totals, reasons, args.freight)
    if args.chart:
        span = date_range(i.at.date() for i in decided if i.kind == "return")
        draw(
            totals,
            reasons,
            args.chart,
            footnote(source, span, args.policy or "b2c") + f"; freight per parcel: {args.freight}",
        )
    return 0


def report(
    source: Source,
    decided: Sequence[Decided],
    totals: dict[Key, tuple[int, Decimal]],
    reasons: list[str],
    freight: str,
) -> None:
    """Print the month × reason table and the totals per reason."""
    returns = sum(1 for i in decided if i.kind == "return")
    cases = sum(n for n, _ in totals.values())
    print(
        f"{returns} return cases from {source.describe()}; the shop pays freight on {cases} "
        f"(freight per parcel: {freight})"
    )
    months = sorted({month for month, _ in totals})
    rows = [
        (month, reason, totals[(month, reason)][0], f"{totals[(month, reason)][1]:.2f}")
        for month in months
        for reason in reasons
        if (month, reason) in totals
    ]
    print()
    print(format_table(("month", "reason", "cases", "cost CNY"), rows))
    print()
    by_reason = [
        (
            reason,
            sum(n for (_, r), (n, _) in totals.items() if r == reason),
            f"{sum((c for (_, r), (_, c) in totals.items() if r == reason), Decimal(0)):.2f}",
        )
        for reason in reasons
    ]
    by_reason.append(("total", cases, f"{sum((c for _, c in totals.values()), Decimal(0)):.2f}"))
    print(format_table(("reason", "cases", "cost CNY"), by_reason))


if __name__ == "__main__":
    run(main)
