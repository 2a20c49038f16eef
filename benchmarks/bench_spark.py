"""Time csrules.spark.decide on a local Spark session against decide_frame on one process.

Run: ``python benchmarks/bench_spark.py [--rows 50000] [--repeat 3] [--cores 2]``
(needs ``pip install 'csrules[spark]'`` and Java 17). Generates ``--rows``
return cases to Parquet with ``examples/generate.py``, then prints the median
over ``--repeat`` runs of:

- ``RuleSet.decide_frame`` on the Arrow table read from the file (one process);
- ``csrules.spark.decide`` on ``spark.read.parquet`` of the same file, on
  ``local[CORES]``, written to Parquet (the first run, which starts the Python
  workers, is timed separately);
- the session start itself.

The machine's load average is printed with the figures: on a shared machine
the figures say more about the load than about csrules.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

import csrules
import csrules.spark

ROOT = Path(__file__).resolve().parent.parent


def _generate(path: Path, rows: int) -> None:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "examples" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module
    spec.loader.exec_module(module)
    argv = [str(path), "--kind", "return", "--rows", str(rows), "--seed", "1", "--no-progress"]
    status = module.main(argv, out=io.StringIO(), err=sys.stderr)
    assert status == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="csrules-bench-spark-") as tmp:
        cases = Path(tmp) / "returns.parquet"
        _generate(cases, args.rows)
        rules = csrules.ruleset("b2c")
        table = pq.read_table(cases)
        local = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            rules.decide_frame(table, kind="return")
            local.append(time.perf_counter() - start)

        start = time.perf_counter()
        spark = (
            SparkSession.builder.master(f"local[{args.cores}]")
            .config("spark.ui.enabled", "false")
            .config("spark.log.level", "ERROR")
            .getOrCreate()
        )
        session = time.perf_counter() - start
        runs = []
        try:
            for i in range(args.repeat + 1):
                df = spark.read.parquet(str(cases))
                start = time.perf_counter()
                out = csrules.spark.decide(df, "b2c", kind="return")
                out.write.mode("overwrite").parquet(str(Path(tmp) / f"out{i}"))
                runs.append(time.perf_counter() - start)
        finally:
            spark.stop()

    load = os.getloadavg()
    print(f"{args.rows:,} return cases; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"decide_frame, one process:       median {statistics.median(local):7.2f} s  "
          f"({args.rows / statistics.median(local):,.0f} cases/s)")
    print(f"Spark session start:             {session:7.2f} s")
    print(f"spark.decide + write, first run: {runs[0]:7.2f} s (starts the Python workers)")
    rest = runs[1:]
    print(f"spark.decide + write, local[{args.cores}]: median {statistics.median(rest):7.2f} s  "
          f"({args.rows / statistics.median(rest):,.0f} cases/s)")


if __name__ == "__main__":
    main()
