"""Time batch decisions: rule tables compiled to numpy over fact columns.

Run: ``python benchmarks/bench_batch.py [--rows 1000000] [--repeat 5] [--records 100000]``.
Prints cases per second and microseconds per case (the median of the repeats) for:

- ``return_action`` alone on ``--rows`` rows of fact columns made directly
  with numpy (random but valid encodings: enum codes, date ordinals, nulls);
- the return pipeline (``return_action``, ``freight_payer``, ``refund_due``)
  on the same columns, with and without ``return_duties``;
- ``facts_frame`` turning ``--records`` fact records (Python dicts, as
  ``return_facts`` returns them) into columns.

The target in DESIGN.md is at most 0.2 µs per case (5 M cases/s) for a batch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

import csrules
from csrules._domain import OrderStatus, PaymentMethod, Reason, RequestType
from csrules.batch import NULL_INT, compile_table, decide_returns_columns, facts_frame, with_kind
from csrules.batch._encode import to_python
from csrules.policy import default_policy
from csrules.rules.returns import RETURN_ACTION

_FLAGS = (
    "paid",
    "in_warehouse_system",
    "merchant_fault",
    "courier_confirmed",
    "condition_given",
    "goods_normal",
    "tag_or_packaging_missing",
    "tag_missing",
    "not_intact",
    "free_shipping_promotion",
    "excluded_category",
    "some_lines_excluded",
)


def _codes(rng: np.random.Generator, enum_class: Any, n: int) -> NDArray[np.int8]:
    return with_kind(rng.integers(0, len(enum_class), n).astype(np.int8), "enum", enum_class)


def _dates(values: NDArray[Any]) -> NDArray[np.int64]:
    return with_kind(values.astype(np.int64), "date")


def return_columns(n: int, seed: int = 7) -> dict[str, NDArray[Any]]:
    """``n`` rows of return facts, encoded as ``facts_frame`` encodes them."""
    rng = np.random.default_rng(seed)
    status = _codes(rng, OrderStatus, n)
    signed = status == list(OrderStatus).index(OrderStatus.SIGNED)
    request = rng.integers(dt.date(2025, 1, 1).toordinal(), dt.date(2026, 12, 31).toordinal(), n)
    columns: dict[str, NDArray[Any]] = {
        "request_type": _codes(rng, RequestType, n),
        "reason": _codes(rng, Reason, n),
        "status": status,
        "payment_method": _codes(rng, PaymentMethod, n),
        "request_date": _dates(request),
        "signed_date": _dates(np.where(signed, request - rng.integers(0, 20, n), NULL_INT)),
        "proof_date": _dates(
            np.where(rng.random(n) < 0.7, request + rng.integers(0, 4, n), NULL_INT)
        ),
        "goods_received_date": _dates(
            np.where(rng.random(n) < 0.5, request + rng.integers(0, 10, n), NULL_INT)
        ),
    }
    for name in _FLAGS:
        columns[name] = rng.random(n) < 0.5
    columns["merchant_fault"] = np.isin(
        columns["reason"],
        [
            list(Reason).index(r)
            for r in (Reason.QUALITY_DEFECT, Reason.DAMAGED_IN_TRANSIT, Reason.WRONG_ITEM)
        ],
    )
    return columns


def records_of(columns: dict[str, NDArray[Any]], n: int) -> list[dict[str, object]]:
    """The first ``n`` rows as fact records (enum members, dates, ``None``)."""
    kinds = {
        "request_type": ("enum", RequestType),
        "reason": ("enum", Reason),
        "status": ("enum", OrderStatus),
        "payment_method": ("enum", PaymentMethod),
        "request_date": ("date", None),
        "signed_date": ("date", None),
        "proof_date": ("date", None),
        "goods_received_date": ("date", None),
    }
    values = {
        name: to_python(column[:n], *kinds.get(name, ("bool", None)))
        for name, column in columns.items()
    }
    return [{name: values[name][row] for name in columns} for row in range(n)]


def _best(func: Callable[[], object], repeat: int) -> float:
    func()  # warm caches (working-day spans, parameters by date)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _line(label: str, seconds: float, n: int) -> None:
    print(f"{label:<44} {n / seconds / 1e6:8.2f} M cases/s {seconds / n * 1e6:8.3f} µs/case")


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    n = args.rows
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    columns = return_columns(n)
    policy = default_policy()
    params = policy.resolve(dt.date(2025, 6, 1)).values
    action = compile_table(RETURN_ACTION)
    print(f"{n:,} rows of return facts; median of {args.repeat}")
    _line(
        "return_action",
        _best(lambda: action.evaluate(columns, params, policy.calendar), args.repeat),
        n,
    )
    _line(
        "pipeline: action, freight payer, refund due",
        _best(lambda: decide_returns_columns(columns, policy=policy), args.repeat),
        n,
    )
    b2c = csrules.ruleset("b2c")
    _line(
        "ruleset.decide_columns('return') (all tables)",
        _best(lambda: b2c.decide_columns("return", columns), args.repeat),
        n,
    )
    _line(
        "pipeline with return_duties (collect)",
        _best(lambda: decide_returns_columns(columns, policy=policy, duties=True), args.repeat),
        n,
    )
    records = records_of(columns, args.records)
    _line(
        f"facts_frame ({args.records:,} records)",
        _best(lambda: facts_frame(records), args.repeat),
        args.records,
    )


if __name__ == "__main__":
    main()
