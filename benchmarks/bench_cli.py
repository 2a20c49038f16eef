"""Time ``csrules decide`` end to end against a bare JSON round trip of the same lines.

For ``examples/cases.jsonl`` repeated to each size (20,000 and 200,000 lines
by default), it runs, each in its own process and several times:

- ``python -m csrules.cli decide FILE > /dev/null`` with default options
  (plus ``--extra`` arguments, e.g. ``--extra=--backend=durable``);
- a bare round trip: ``json.loads`` then ``json.dumps`` of every line,
  written to ``/dev/null``, in a plain Python process.

It prints, per size, the median wall time of each, their ratio (the target
is at most 15x), the CLI's peak resident size (the target is the same at
200,000 lines as at 20,000, within 20 %), the machine's load average before
and after, and the ratio of peak sizes between the sizes measured in this
run. ``--profile`` runs the CLI once more under cProfile at the smallest
size and prints the functions taking the most time.

Usage: ``python benchmarks/bench_cli.py [--sizes 20000 200000] [--runs 3]``
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

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "examples" / "cases.jsonl"

_ROUND_TRIP = """
import json, sys
with open(sys.argv[1], encoding="utf-8") as lines, open(os.devnull, "w") as out:
    for line in lines:
        out.write(json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":")) + "\\n")
"""


def _lines(n: int) -> str:
    source = [line for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    repeated = (source * (n // len(source) + 1))[:n]
    return "\n".join(repeated) + "\n"


def _run(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process writing to /dev/null."""
    with open(os.devnull, "w") as sink:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr = child.stderr.read().decode() if child.stderr else ""
        if child.stderr:
            child.stderr.close()
    if child.returncode not in (0, 1):  # 1: some lines are errors, as in the example
        msg = f"{argv} failed ({child.returncode}): {stderr}"
        raise SystemExit(msg)
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--extra", action="append", default=[], help="more CLI arguments")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load before", os.getloadavg())
    peaks: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            path = Path(folder) / f"cases-{n}.jsonl"
            path.write_text(_lines(n), encoding="utf-8")
            cli = [sys.executable, "-m", "csrules.cli", "decide", str(path), *args.extra]
            bare = [sys.executable, "-c", "import os\n" + _ROUND_TRIP, str(path)]
            cli_runs: list[tuple[float, float]] = []
            bare_runs: list[float] = []
            for _ in range(args.runs):  # alternate, so a busy spell hits both
                cli_runs.append(_run(cli))
                bare_runs.append(_run(bare)[0])
            cli_time = statistics.median(t for t, _ in cli_runs)
            bare_time = statistics.median(bare_runs)
            peak = statistics.median(m for _, m in cli_runs)
            peaks[n] = peak
            print(
                f"{n:>9,} lines: csrules decide {cli_time:7.2f} s ({n / cli_time:9,.0f} lines/s), "
                f"bare json round trip {bare_time:6.3f} s: {cli_time / bare_time:5.1f}x "
                f"(target <= 15x); peak RSS {peak:6.1f} MB"
            )
            print(f"           runs: {[round(t, 2) for t, _ in cli_runs]} s, bare "
                  f"{[round(t, 3) for t in bare_runs]} s, RSS {[round(m, 1) for _, m in cli_runs]}")
        if len(peaks) > 1:
            small, large = min(peaks), max(peaks)
            growth = peaks[large] / peaks[small]
            print(f"peak RSS at {large:,} vs {small:,} lines: {growth:.2f}x (target <= 1.20x)")
        print("load after", os.getloadavg())
        if args.profile:
            n = min(args.sizes)
            path = Path(folder) / f"cases-{n}.jsonl"
            code = (
                "import cProfile, pstats, sys, io\n"
                "from csrules.cli import main\n"
                "sink = io.StringIO()\n"
                f"cProfile.run('main([{str(path)!r}, *{args.extra!r}][:0] or "
                f"[\"decide\", {str(path)!r}, *{args.extra!r}], out=sink)', '/tmp/csrules-cli.prof')\n"
                "pstats.Stats('/tmp/csrules-cli.prof').sort_stats('tottime').print_stats(25)\n"
            )
            subprocess.run([sys.executable, "-c", code], check=False)


if __name__ == "__main__":
    main()
