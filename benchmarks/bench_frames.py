"""Time deciding a table of return cases: decide_arrow, and Parquet to Parquet.

Run: ``python benchmarks/bench_frames.py [--rows 1000000] [--repeat 3] [--input FILE]``.

Without ``--input`` it writes ``--rows`` return cases with
``examples/generate.py`` (Parquet layout: aware timestamps, decimal money,
``order.lines`` as a list of structs) to a temporary file first. Prints the
median of ``--repeat`` runs, in rows per second, of:

- ``decide_arrow`` alone on the table in memory (the vectorised path for the
  rows that pass its checks, the line path for the others);
- end to end: read the Parquet file, decide, write the decisions as Parquet;
- the line path alone (``fast=False``) on the first 2,000 rows, for scale.

Also prints how many rows took the line path, and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import csrules
from csrules.io import _frames, decide_arrow

ROOT = Path(__file__).resolve().parent.parent


def _median(runs: list[float]) -> float:
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--input", type=Path, default=None)
    args = parser.parse_args()
    rules = csrules.ruleset("b2c")
    with tempfile.TemporaryDirectory() as tmp:
        source = args.input
        if source is None:
            source = Path(tmp) / "cases.parquet"
            subprocess.run(
                [sys.executable, str(ROOT / "examples" / "generate.py"), str(source),
                 "--kind", "return", "--rows", str(args.rows)],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        table = pq.read_table(source)
        n = table.num_rows
        print(f"{n:,} return rows from {source}; load: {os.getloadavg()}")

        counted = [0]
        original = _frames.decide_rows

        def counting(*a: object, **k: object):  # type: ignore[no-untyped-def]
            for item in original(*a, **k):  # type: ignore[arg-type]
                counted[0] += 1
                yield item

        _frames.decide_rows = counting  # type: ignore[assignment]
        decide_arrow(rules, table.slice(0, 1000), kind="return")
        runs = []
        for _ in range(args.repeat):
            counted[0] = 0
            start = time.perf_counter()
            out = decide_arrow(rules, table, kind="return")
            runs.append(time.perf_counter() - start)
        _frames.decide_rows = original  # type: ignore[assignment]
        assert out.num_rows == n
        errors = n - out.column("error.code").null_count
        seconds = _median(runs)
        print(f"decide_arrow:        {n / seconds:12,.0f} rows/s  (median {seconds:.3f} s "
              f"of {[round(r, 3) for r in runs]}; {counted[0]:,} rows on the line path, "
              f"{errors:,} errors)")  # fmt: skip

        target = Path(tmp) / "decisions.parquet"
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = decide_arrow(rules, pq.read_table(source), kind="return")
            pq.write_table(result, target)
            runs.append(time.perf_counter() - start)
        seconds = _median(runs)
        print(f"Parquet -> Parquet:  {n / seconds:12,.0f} rows/s  (median {seconds:.3f} s)")

        small = table.slice(0, min(n, 2000))
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            decide_arrow(rules, small, kind="return", fast=False)
            runs.append(time.perf_counter() - start)
        seconds = _median(runs)
        print(f"line path only:      {small.num_rows / seconds:12,.0f} rows/s  "
              f"({small.num_rows:,} rows, median {seconds:.3f} s)")  # fmt: skip
    print(f"load after: {os.getloadavg()}; pyarrow {pa.__version__}")


if __name__ == "__main__":
    main()
