"""Time single decisions: a full return decision from domain objects, and each rule table.

Run: ``python benchmarks/bench_decide.py [--repeat 5] [--number 20000]``.
Prints microseconds per call (the median of the repeats, in CPU time of this
process, so that other processes' turns on a shared machine do not count;
the load average is printed before and after; each call is timed as a
statement, with no wrapper function around it) for:

- a full return decision (action, approvals, freight, refund date, duties,
  with trace) from ready domain objects, for a few typical requests;
- each rule table of every rule set, evaluated alone on ready facts;
- the other case kinds end to end, and a JSON line through ``decide_lines``.

The target is at most 6 µs for the full return decision.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import timeit
from decimal import Decimal
from pathlib import Path

import pendulum

import csrules
from csrules import (
    Condition,
    Order,
    OrderLine,
    ReturnRequest,
    decide,
)
from csrules.cli import decide_lines
from csrules.io import parse_case_line
from csrules.policy import default_policy
from csrules.rules.returns import decide_return

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "cases.jsonl"


def _time(call: str, names: dict[str, object], number: int, repeat: int) -> float:
    """Microseconds per run of the statement ``call`` (its names in ``names``),
    timed as a statement: no wrapper function around the call."""
    eval(call, names)  # warm caches (parameters by date, calendar years)
    times = timeit.repeat(
        call, globals=names, number=number, repeat=repeat, timer=time.process_time
    )
    return statistics.median(times) / number * 1e6


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _order(status: str) -> Order:
    t = pendulum.parse
    return Order(
        id="X1",
        customer_id="C1",
        status=status,  # type: ignore[arg-type]
        lines=[OrderLine("8892", Decimal("200.00"), 1, category="apparel")],
        placed_at=t("2026-04-28T10:00:00+08:00"),  # type: ignore[arg-type]
        paid_at=t("2026-04-28T10:05:00+08:00"),  # type: ignore[arg-type]
        shipped_at=t("2026-04-29T10:00:00+08:00") if status in ("shipped", "signed") else None,  # type: ignore[arg-type]
        signed_at=t("2026-04-30T10:00:00+08:00") if status == "signed" else None,  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, r = args.number, args.repeat
    policy = default_policy()
    cal = policy.calendar
    at = pendulum.parse("2026-05-06T10:00:00+08:00")
    ok = Condition(True, True, True, True, True, True)
    print(
        f"csrules decision benchmark — {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, median of {r} × {n} calls "
        f"(CPU time), {os.cpu_count()} cores, load average {_load()}\n"
    )

    print("Full return decision from domain objects (with trace):")
    requests = {
        "signed, quality defect, normal return": (
            "signed",
            ReturnRequest("return", "quality_defect", condition=ok, proof_submitted_at=at),
        ),  # type: ignore[arg-type]
        "signed, changed mind, day 6": (
            "signed",
            ReturnRequest("return", "changed_mind", condition=ok),
        ),  # type: ignore[arg-type]
        "signed, exchange for size": (
            "signed",
            ReturnRequest("exchange", "size_does_not_fit", condition=ok),
        ),  # type: ignore[arg-type]
        "paid, not shipped, cancel": ("paid_unshipped", ReturnRequest("cancel", "changed_mind")),  # type: ignore[arg-type]
    }
    for label, (status, request) in requests.items():
        order = _order(status)
        names = {"decide_return": decide_return, "o": order, "q": request, "at": at, "pol": policy}
        us = _time("decide_return(o, q, at=at, policy=pol)", names, n, r)
        print(f"  {label:<42} {us:6.2f} µs")
    shop = csrules.ruleset("taobao").with_fact("vip", bool, default=False)
    order = _order("signed")
    request = requests["signed, quality defect, normal return"][1]
    names = {"decide_return": decide_return, "o": order, "q": request, "at": at, "shop": shop}
    us = _time('decide_return(o, q, at=at, ruleset=shop, facts={"vip": True})', names, n, r)
    print(f"  {'same, a shop rule set with an extra fact':<42} {us:6.2f} µs")

    print("\nEach rule table alone, on the facts a decision gave it:")
    lines = EXAMPLES.read_text(encoding="utf-8").splitlines()
    cases = [parse_case_line(line) for line in lines]
    for kind in ("return", "complaint", "promotion", "price_adjustment"):
        case = next(c for c in cases if c.kind == kind)
        decision = decide(case, policy=policy)  # type: ignore[arg-type]
        for result in decision.trace.results:
            # the facts as a plain dict, as a caller evaluating one table has them
            facts, evaluate = dict(result.facts), result.table.evaluate
            names = {"evaluate": evaluate, "f": facts, "p": result.params, "cal": cal}
            us = _time("evaluate(f, p, cal)", names, n, r)
            table = result.table
            print(f"  {table.name:<42} {us:6.2f} µs")

    print("\nOther case kinds end to end (from case objects):")
    for kind in ("complaint", "promotion", "price_adjustment"):
        case = next(c for c in cases if c.kind == kind)
        us = _time("decide(c, policy=pol)", {"decide": decide, "c": case, "pol": policy}, n, r)
        print(f"  {kind:<42} {us:6.2f} µs")

    print("\nOne JSON line in, one JSON line out (parse, decide, encode):")
    line = lines[0]
    names = {"json": json, "decide_lines": decide_lines, "line": line, "pol": policy}
    us = _time("json.dumps(next(iter(decide_lines([line], policy=pol))))", names, n // 10, r)
    print(f"  {'return case, JSON Lines':<42} {us:6.2f} µs")
    print(f"\nload average after: {_load()}")


if __name__ == "__main__":
    main()
