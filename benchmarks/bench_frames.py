"""Time ``csrules batch`` Parquet -> Parquet end to end, and Spark local when it is there.

For each size (1,000,000 and 10,000,000 return cases by default) it writes
the cases once with ``examples/generate.py`` (dotted-path Parquet, one row
group of 50,000 rows at a time), then runs, each in its own process and
several times:

- ``python -m csrules.cli batch CASES.parquet OUT.parquet --workers W`` for
  each ``--workers`` value (1 and 2 by default);
- after the one-worker run, the floor: pyarrow alone reading the same cases
  (as ``csrules batch`` reads them) and writing the decisions that run wrote
  (loaded before the clock starts), in two threads, nothing decided; its
  time is starting Python with pyarrow plus the reading and writing: what
  no deciding on top of Parquet can beat on the machine (``--no-floor``
  skips it);
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
        [--runs 3] [--chunk-rows N] [--data DIR] [--no-spark] [--no-floor]

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
from collections.abc import Callable
from functools import partial
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


# what pyarrow alone costs: the same input read and the same decisions written
# (loaded before the clock starts), in two threads, nothing decided
_FLOOR = """
import json, queue, sys, threading, time
import pyarrow as pa
import pyarrow.parquet as pq
source, decisions, target, codes, unique = sys.argv[1:6]
codes, unique = json.loads(codes), json.loads(unique)
out = pq.read_table(decisions)
start = time.perf_counter()
reader = pq.ParquetFile(source, pre_buffer=False, read_dictionary=codes)
groups = [reader.metadata.row_group(i).num_rows for i in range(reader.metadata.num_row_groups)]
box = queue.Queue(4)
def write():
    flat = [f.name for f in out.schema if not pa.types.is_list(f.type)]
    repeated = [f.name for f in out.schema if f.name not in unique]
    with pq.ParquetWriter(target, out.schema, write_statistics=flat, use_dictionary=repeated) as w:
        while (part := box.get()) is not None:
            w.write_table(part)
writer = threading.Thread(target=write)
writer.start()
done = 0
for batch in reader.iter_batches(batch_size=max(groups)):
    box.put(out.slice(done, batch.num_rows))
    done += batch.num_rows
box.put(None)
writer.join()
print(time.perf_counter() - start)
"""


def _floor(cases: Path, decisions: Path, target: Path) -> tuple[float, None]:
    """Seconds pyarrow alone takes to read ``cases`` and write ``decisions``
    (starting Python with pyarrow, plus the reading and writing), and no peak."""
    import json

    from csrules.io._files import _UNIQUE_COLUMNS
    from csrules.io._frames_fast import DICTIONARY_COLUMNS

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pyarrow.parquet"], check=True)
    started = time.perf_counter() - start
    command = [
        sys.executable, "-c", _FLOOR, str(cases), str(decisions), str(target),
        json.dumps(sorted(DICTIONARY_COLUMNS)), json.dumps(sorted(_UNIQUE_COLUMNS)),
    ]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return started + float(done.stdout), None


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


def _run(command: list[str]) -> tuple[float, float | None]:
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
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the pyarrow-alone read and write"
    )
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
            runs: list[tuple[str, Callable[[], tuple[float, float | None]]]] = []
            for workers in args.workers:
                command = [
                    sys.executable, "-m", "csrules.cli", "batch", str(cases), str(target),
                    "--workers", str(workers), "--no-progress",
                ]  # fmt: skip
                if args.chunk_rows:
                    command += ["--chunk-rows", str(args.chunk_rows)]
                runs.append((f"csrules batch, {workers} worker(s)", partial(_run, command)))
                if workers == 1 and not args.no_floor:  # after a run wrote the decisions
                    floor = partial(_floor, cases, target, folder / "floor.parquet")
                    runs.append(("floor: pyarrow alone reads and writes", floor))
            if skip_spark is None:
                for workers in args.workers:
                    spark_target = folder / "spark-decisions.parquet"
                    command = [
                        sys.executable, "-c", _SPARK, str(cases), str(spark_target), str(workers),
                    ]  # fmt: skip
                    runs.append((f"Spark local[{workers}]", partial(_run, command)))
            for label, timed in runs:
                before = _load()
                walls, peaks = [], []
                for _ in range(args.runs):
                    wall, peak = timed()
                    walls.append(wall)
                    if peak is not None:
                        peaks.append(peak)
                    shown = "" if peak is None else f", {peak:.0f} MB"
                    print(f"  {size:,} {label}: {wall:.2f} s{shown}", file=sys.stderr)
                median = statistics.median(walls)
                rows_out.append(
                    (
                        f"{size:,}",
                        label,
                        f"{median:.2f}",
                        f"{size / median:,.0f}",
                        f"{max(peaks):,.0f}" if peaks else "-",
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
