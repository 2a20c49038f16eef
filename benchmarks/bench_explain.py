"""Time explanations: ``csrules.explain`` against ``decide`` for the example cases.

Run: ``python benchmarks/bench_explain.py [--repeat 7] [--number 200]``.
Prints, per case kind, the median over the repeats of microseconds per call
for deciding a case, explaining it, and rendering the explanation as text
(en and zh) and as JSON. Explaining is for one case at a time (a person
reading it), so it is measured to show its cost, not held to a target.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import csrules
from csrules.io import read_case_line

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "cases.jsonl"


def _median_us(call: Callable[[], Any], repeat: int, number: int) -> float:
    times = timeit.repeat(call, repeat=repeat, number=number)
    return statistics.median(times) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()
    rules = csrules.ruleset("b2c")
    first: dict[str, Any] = {}
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        case = read_case_line(line).case
        first.setdefault(case.kind, case)
    print(f"python {platform.python_version()}, median of {args.repeat} x {args.number} calls")
    heads = ("decide", "explain", "text en", "text zh", "json")
    print(f"{'kind':<18}" + "".join(f"{h:>10}" for h in heads) + "  (µs per call)")
    for kind, case in first.items():
        explanation = rules.explain(case)
        row = [
            _median_us(lambda c=case: rules.decide(c), args.repeat, args.number),
            _median_us(lambda c=case: rules.explain(c), args.repeat, args.number),
            _median_us(lambda e=explanation: e.render("en"), args.repeat, args.number),
            _median_us(lambda e=explanation: e.render("zh"), args.repeat, args.number),
            _median_us(lambda e=explanation: e.to_json("en"), args.repeat, args.number),
        ]
        print(f"{kind:<18}" + "".join(f"{v:>10.0f}" for v in row))


if __name__ == "__main__":
    main()
