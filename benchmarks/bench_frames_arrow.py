"""Time deciding a table of return cases: decide_arrow, and Parquet to Parquet.

Run: ``python benchmarks/bench_frames_arrow.py [--rows 1000000] [--repeat 3]
[--input FILE] [--csv]``.

Without ``--input`` it writes ``--rows`` return cases with
``examples/generate.py`` (Parquet layout: aware timestamps, decimal money,
``order.lines`` as a list of structs) to a temporary file first. Prints the
median of ``--repeat`` runs, in rows per second, of:

- ``decide_arrow`` alone on the table in memory (the vectorised path for the
  rows that pass its checks, the line path for the others);
- end to end: read the Parquet file, decide, write the decisions as Parquet;
- the line path alone (``fast=False``) on the first 2,000 rows, for scale;
- with ``--csv``: the same cases written as CSV (``--flat-lines
  --max-lines 3``) and read with every column as text, as an analyst's
  export is read (``pyarrow.csv.ConvertOptions(column_types=...)``):
  ``decide_arrow`` on that all-string table, and CSV -> Parquet end to end.

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
    parser.add_argument("--csv", action="store_true", help="also time a CSV read as text")
    parser.add_argument("--skip-parquet", action="store_true", help="time the CSV only")
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
        if args.csv:
            _bench_csv(rules, Path(tmp), args)
        if args.skip_parquet:
            return
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


def _count_line_path() -> list[int]:
    counted = [0]
    original = _frames.decide_rows

    def counting(*a: object, **k: object):  # type: ignore[no-untyped-def]
        for item in original(*a, **k):  # type: ignore[arg-type]
            counted[0] += 1
            yield item

    _frames.decide_rows = counting  # type: ignore[assignment]
    return counted


def _bench_csv(rules: csrules.RuleSet, tmp: Path, args: argparse.Namespace) -> None:
    import pyarrow.csv as pcsv

    source = tmp / "cases.csv"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "generate.py"), str(source),
         "--kind", "return", "--rows", str(args.rows), "--flat-lines", "--max-lines", "3"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip

    def read() -> pa.Table:
        names = pcsv.read_csv(source, read_options=pcsv.ReadOptions(skip_rows_after_names=10**9))
        types = {name: pa.string() for name in names.column_names}
        return pcsv.read_csv(source, convert_options=pcsv.ConvertOptions(column_types=types))

    table = read()
    n = table.num_rows
    print(f"{n:,} return rows from {source} read as text; load: {os.getloadavg()}")
    original = _frames.decide_rows
    counted = _count_line_path()
    decide_arrow(rules, table.slice(0, 1000), kind="return")
    runs = []
    for _ in range(args.repeat):
        counted[0] = 0
        start = time.perf_counter()
        out = decide_arrow(rules, table, kind="return")
        runs.append(time.perf_counter() - start)
    _frames.decide_rows = original  # type: ignore[assignment]
    errors = n - out.column("error.code").null_count
    seconds = _median(runs)
    print(f"decide_arrow (text): {n / seconds:12,.0f} rows/s  (median {seconds:.3f} s "
          f"of {[round(r, 3) for r in runs]}; {counted[0]:,} rows on the line path, "
          f"{errors:,} errors)")  # fmt: skip
    target = tmp / "decisions.parquet"
    runs = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        pq.write_table(decide_arrow(rules, read(), kind="return"), target)
        runs.append(time.perf_counter() - start)
    seconds = _median(runs)
    print(f"CSV -> Parquet:      {n / seconds:12,.0f} rows/s  (median {seconds:.3f} s)")


if __name__ == "__main__":
    main()
