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
import json, os, sys
with open(sys.argv[1], encoding="utf-8") as lines, open(os.devnull, "w") as out:
    for line in lines:
        out.write(json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":")) + "\\n")
"""


def _write_lines(path: Path, n: int) -> None:
    """``examples/cases.jsonl`` repeated to ``n`` lines, written without holding them all."""
    source = [line for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(source[i % len(source)] + "\n")


# Runs a module as ``python -m`` would and reports the process's peak resident
# size (VmHWM) at exit. ``ru_maxrss`` would not do: on Linux it keeps the
# peak of the process image before ``exec``, a copy of the parent's.
_PEAK = """
import atexit, runpy, sys
def _peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write("peak-rss-kb " + line.split()[1] + "\\n")
atexit.register(_peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def _run(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process writing to /dev/null.

    ``argv`` is ``[module, args...]``, run as ``python -m module args...``.
    """
    command = [sys.executable, "-c", _PEAK, *argv]
    with open(os.devnull, "w") as sink:
        start = time.perf_counter()
        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, text=True, check=False)
        wall = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some lines are errors, as in the example
        msg = f"{argv} failed ({done.returncode}): {done.stderr}"
        raise SystemExit(msg)
    peaks = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-rss")]
    return wall, int(peaks[-1]) / 1024


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
        (Path(folder) / "bench_cli_round_trip.py").write_text(_ROUND_TRIP, encoding="utf-8")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [folder, *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        for n in args.sizes:
            path = Path(folder) / f"cases-{n}.jsonl"
            _write_lines(path, n)
            cli = ["csrules.cli", "decide", str(path), *args.extra]
            bare = ["bench_cli_round_trip", str(path)]
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
            print(
                f"           runs: {[round(t, 2) for t, _ in cli_runs]} s, bare "
                f"{[round(t, 3) for t in bare_runs]} s, RSS {[round(m, 1) for _, m in cli_runs]}"
            )
        if len(peaks) > 1:
            small, large = min(peaks), max(peaks)
            growth = peaks[large] / peaks[small]
            print(f"peak RSS at {large:,} vs {small:,} lines: {growth:.2f}x (target <= 1.20x)")
        print("load after", os.getloadavg())
        if args.profile:
            n = min(args.sizes)
            path = Path(folder) / f"cases-{n}.jsonl"
            argv = ["decide", str(path), *args.extra]
            code = (
                "import cProfile, io, pstats\n"
                "from csrules.cli import main\n"
                f"argv = {argv!r}\n"
                "profile = cProfile.Profile()\n"
                "profile.runcall(main, argv, out=io.StringIO())\n"
                "pstats.Stats(profile).sort_stats('tottime').print_stats(25)\n"
            )
            subprocess.run([sys.executable, "-c", code], check=False)


if __name__ == "__main__":
    main()
