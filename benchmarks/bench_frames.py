"""Time ``csrules batch`` Parquet -> Parquet end to end, and Spark local when it is there.

For each size (1,000,000 and 10,000,000 return cases by default) it writes
the cases once with ``examples/generate.py`` (dotted-path Parquet, one row
group of 50,000 rows at a time), then runs, each in its own process and
several times:

- ``python -m csrules.cli batch CASES.parquet OUT.parquet --workers W`` for
  each ``--workers`` value (1 and 2 by default);
- when ``csrules.spark`` and ``pyspark`` import: a Spark ``local[W]`` session
  reading the same file, ``csrules.spark.decide(df, ruleset, kind="return")``
  and writing Parquet.

It prints one table: per size and run kind, the median wall time, rows per
second (rows / median wall), the peak resident size of the whole process
tree (the command and its worker processes, sampled every 50 ms; the largest
of the runs), and the machine's load average before and after. The targets
are 1,000,000 rows/s on one worker and a peak under 1 GB at 10,000,000 rows.

Usage::

    python benchmarks/bench_frames.py [--sizes 1000000 10000000] [--workers 1 2]
        [--runs 3] [--chunk-rows N] [--data DIR] [--no-spark]

``--data DIR`` keeps the generated files there and reuses them on the next
run (generating 10,000,000 rows takes a while); by default they go to a
temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATE = ROOT / "examples" / "generate.py"

_SPARK = """
import sys, time
from pyspark.sql import SparkSession
import csrules
from csrules import spark as csrules_spark
source, target, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = (
    SparkSession.builder.master(f"local[{workers}]")
    .config("spark.sql.session.timeZone", "Asia/Shanghai")
    .getOrCreate()
)
df = session.read.parquet(source)
csrules_spark.decide(df, csrules.ruleset("b2c"), kind="return").write.mode("overwrite").parquet(
    target
)
session.stop()
"""


def _children(pid: int) -> list[int]:
    """The process ids whose parent is ``pid``."""
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(name))
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_kb(root: int) -> int:
    """The resident size of ``root`` and all its descendants, in KB."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += _rss_kb(pid)
        pending.extend(_children(pid))
    return total


def _run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident size of the process tree (MB) of one command."""
    peak = 0
    with open(os.devnull, "w") as sink:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE, text=True)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss_kb(process.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, err = process.communicate()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    if process.returncode not in (0, 1):  # 1: some rows are errors
        msg = f"{command} failed ({process.returncode}): {err}"
        raise SystemExit(msg)
    return wall, peak / 1024


def _generate(path: Path, rows: int) -> None:
    if path.exists():
        return
    print(f"generating {rows:,} return cases into {path} ...", file=sys.stderr, flush=True)
    command = [sys.executable, str(GENERATE), str(path), "--kind", "return", "--rows", str(rows)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _spark_ready() -> str | None:
    """Why Spark is skipped, or ``None`` when it can run."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed"
    try:
        if importlib.util.find_spec("csrules.spark") is None:
            return "csrules.spark is not there"
    except ImportError as err:
        return f"csrules.spark does not import ({err})"
    return None


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--data", type=Path, default=None, help="keep and reuse the cases here")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark local run")
    args = parser.parse_args(argv)

    folder = args.data or Path(tempfile.mkdtemp(prefix="csrules-bench-frames-"))
    folder.mkdir(parents=True, exist_ok=True)
    skip_spark = "--no-spark given" if args.no_spark else _spark_ready()
    rows_out: list[tuple[str, ...]] = []
    try:
        for size in args.sizes:
            cases = folder / f"returns-{size}.parquet"
            _generate(cases, size)
            target = folder / "decisions.parquet"
            runs: list[tuple[str, list[str]]] = []
            for workers in args.workers:
                command = [
                    sys.executable, "-m", "csrules.cli", "batch", str(cases), str(target),
                    "--workers", str(workers), "--no-progress",
                ]  # fmt: skip
                if args.chunk_rows:
                    command += ["--chunk-rows", str(args.chunk_rows)]
                runs.append((f"csrules batch, {workers} worker(s)", command))
            if skip_spark is None:
                for workers in args.workers:
                    spark_target = folder / "spark-decisions.parquet"
                    command = [
                        sys.executable, "-c", _SPARK, str(cases), str(spark_target), str(workers),
                    ]  # fmt: skip
                    runs.append((f"Spark local[{workers}]", command))
            for label, command in runs:
                before = _load()
                walls, peaks = [], []
                for _ in range(args.runs):
                    wall, peak = _run(command)
                    walls.append(wall)
                    peaks.append(peak)
                    print(f"  {size:,} {label}: {wall:.1f} s, {peak:.0f} MB", file=sys.stderr)
                median = statistics.median(walls)
                rows_out.append(
                    (
                        f"{size:,}",
                        label,
                        f"{median:.1f}",
                        f"{size / median:,.0f}",
                        f"{max(peaks):,.0f}",
                        before,
                        _load(),
                    )
                )
    finally:
        if args.data is None:
            shutil.rmtree(folder, ignore_errors=True)

    header = ("rows", "run", "median s", "rows/s", "peak MB", "load before", "load after")
    widths = [max(len(r[i]) for r in [header, *rows_out]) for i in range(len(header))]
    cores = os.cpu_count()
    print(f"csrules batch, Parquet -> Parquet, median of {args.runs} run(s); {cores} cores")
    for row in [header, *rows_out]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    if skip_spark is not None:
        print(f"Spark local: skipped ({skip_spark})")
    print("targets: >= 1,000,000 rows/s on 1 worker; peak < 1,024 MB at 10,000,000 rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
