"""Time ``csrules check``: the static analysis of whole rule sets.

Run: ``python benchmarks/bench_check.py [--repeat 7]``.
Prints the median (and the fastest) time in milliseconds of
``RuleSet.check`` on the bundled rule sets, of a shop's rule set with a
defect in it, and of one large first-hit table (many bands of one number and
an enum), and of the ``csrules check`` command in a fresh process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import csrules
from csrules import FactDomain, check_tables
from csrules._domain import Reason
from csrules.policy import default_policy
from csrules.rules import TRUE, HitPolicy, Rule, Table, fact

ON = dt.date(2026, 12, 1)


def _shop() -> csrules.RuleSet:
    return csrules.ruleset("b2c").with_rule(
        "freight_payer",
        Rule(
            "SHOP-1",
            (fact("reason") == Reason.WRONG_ITEM) & fact("courier_confirmed"),
            {"freight_payer": csrules.FreightPayer.CUSTOMER},
            en="Wrong item the courier confirmed: the customer pays.",
            zh="快递确认的错发:顾客承担运费。",
            id="late_wrong_item",
        ),
        after="wrong_item",
    )


def _big_table(rows: int) -> tuple[Table, dict[str, FactDomain]]:
    reasons = list(Reason)
    rules = [
        Rule(
            "B-1",
            (fact("n") >= 10 * i)
            & (fact("n") < 10 * (i + 1))
            & (fact("reason") == reasons[i % len(reasons)]),
            {"out": i},
            en=f"Band {i}.",
            zh=f"第{i}档。",
            id=f"band{i}",
        )
        for i in range(rows)
    ]
    rules.append(Rule("B-2", TRUE, {"out": -1}, en="Else.", zh="其他。", id="rest"))
    table = Table("big", "bands", HitPolicy.FIRST, ("n", "reason"), ("out",), rules)
    return table, {"n": FactDomain(int), "reason": FactDomain(Reason)}


def _time(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    b2c, taobao, shop = csrules.ruleset("b2c"), csrules.ruleset("taobao"), _shop()
    big, domains = _big_table(200)
    policy = default_policy()
    cases: dict[str, Callable[[], object]] = {
        "b2c.check()": lambda: b2c.check(ON),
        "taobao.check()": lambda: taobao.check(ON),
        "shop with a masked row .check()": lambda: shop.check(ON),
        "one first-hit table, 201 rows": lambda: check_tables([big], domains, policy, ON),
        "csrules check (new process)": lambda: subprocess.run(
            [sys.executable, "-m", "csrules.cli", "check"], check=True
        ),
    }
    print(f"python {platform.python_version()}, load {os.getloadavg()[0]:.2f}")
    for name, run in cases.items():
        median, best = _time(run, args.repeat)
        print(f"{name:<36} median {median:9.1f} ms   fastest {best:9.1f} ms")


if __name__ == "__main__":
    main()
