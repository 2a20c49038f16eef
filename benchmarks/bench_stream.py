"""Complaints per second through the escalation monitor, per backend.

Run: ``python benchmarks/bench_stream.py [--n 1000000] [--days 365] [--seed 7] [--repeat 1]``
(``--measure reference,durable`` picks measurements; with ``--repeat N`` each
is run N times, in rounds taking every measurement in turn, and the best
run of each is reported).

Each measurement runs in its own process (so its peak memory is its own) on
the same generated stream of ``--n`` complaints spread evenly over ``--days``:

- ``reference``: ``EscalationMonitor(backend="reference").observe`` per complaint;
- ``reference-all``: the same through ``observe_all`` (a replayed log);
- ``reference-core``: the reference backend alone, fed the records the
  monitor would give it (``add`` and ``forget``), without the monitor;
- ``durable``: ``EscalationMonitor(backend="durable").observe`` per complaint;
- ``raw``: the same durable-rules ruleset fed directly: the exact facts the
  durable backend asserts and the retraction batches it sends, built before
  the clock starts and posted with ``Host.assert_fact`` / ``retract_facts``.
  This is what durable-rules itself costs for the same rules and stream.

The stream: customers drawn from ``n / 5`` ids, products from ``n / 50``
SKUs with a skewed (square-law) popularity, topics uniform over all 19
(4 are quality topics), a SKU on 70 % of complaints, a department on 20 %
and a staff member on 10 %. Complaints are generated in chunks of 1,000
outside the timed region. Peak RSS comes from ``resource.getrusage``; the
resident size is also sampled at each tenth of the run, to show it levels
off once the 30-day windows are full.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

import pendulum

from csrules import Complaint, Department, Topic

CHUNK = 1_000
ZONE = pendulum.timezone("Asia/Shanghai")
START = pendulum.datetime(2026, 1, 1, tz=ZONE)
STAFF = tuple(f"S{i:03d}" for i in range(40))
TOPICS = tuple(Topic)
DEPARTMENTS = tuple(Department)
MEASUREMENTS = ("reference", "reference-all", "reference-core", "durable", "raw")


def complaint_chunks(n: int, days: int, seed: int) -> Iterator[list[Complaint]]:
    """The benchmark stream, ``CHUNK`` complaints at a time, in order of time."""
    rng = random.Random(seed)
    customers = max(1_000, n // 5)
    skus = max(200, n // 50)
    span = days * 86_400
    start = START.int_timestamp
    chunk: list[Complaint] = []
    for i in range(n):
        chunk.append(
            Complaint(
                id=f"K{i}",
                customer_id=f"C{rng.randrange(customers)}",
                received_at=pendulum.from_timestamp(start + i * span // n, tz=ZONE),
                channel="phone",
                topic=rng.choice(TOPICS),
                sku=f"{int(skus * rng.random() ** 2):06d}" if rng.random() < 0.7 else None,
                about_department=rng.choice(DEPARTMENTS) if rng.random() < 0.2 else None,
                about_staff=rng.choice(STAFF) if rng.random() < 0.1 else None,
            )
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


class _Run:
    """Accumulates timed seconds and samples memory as chunks go by."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.done = 0
        self.seconds = 0.0
        self.rss_by_tenth: list[float] = []

    def timed(self, work: Callable[[], object]) -> None:
        begin = time.perf_counter()
        work()
        self.seconds += time.perf_counter() - begin

    def chunk_done(self, size: int) -> None:
        before = self.done * 10 // self.n
        self.done += size
        if self.done * 10 // self.n > before:
            self.rss_by_tenth.append(_rss_mb())

    def result(self, what: str, **extra: object) -> dict[str, object]:
        return {
            "what": what,
            "complaints": self.n,
            "seconds": self.seconds,
            "per_second": self.n / self.seconds,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_mb_by_tenth": self.rss_by_tenth,
            **extra,
        }


def run_monitor(backend: str, n: int, days: int, seed: int, *, all_at_once: bool) -> dict[str, Any]:
    """Time ``observe`` (or ``observe_all``) over the stream with one backend."""
    from csrules.stream import EscalationMonitor

    run = _Run(n)
    escalations = 0
    with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
        observe, observe_all = monitor.observe, monitor.observe_all
        for chunk in complaint_chunks(n, days, seed):
            if all_at_once:
                begin = time.perf_counter()
                escalations += len(observe_all(chunk))
                run.seconds += time.perf_counter() - begin
            else:
                begin = time.perf_counter()
                for complaint in chunk:
                    escalations += len(observe(complaint))
                run.seconds += time.perf_counter() - begin
            run.chunk_done(len(chunk))
        still_open = len(monitor.open_escalations())
    name = backend + ("-all" if all_at_once else "")
    return run.result(name, escalations=escalations, open_at_end=still_open)


class _RecordingReference:
    """A reference backend that also records the calls the monitor makes to it."""

    name = "reference"

    def __init__(self) -> None:
        from csrules.rules.complaints import STREAM_RULES
        from csrules.stream._facts import plans
        from csrules.stream._reference import ReferenceBackend

        self.inner = ReferenceBackend(plans(STREAM_RULES))
        self.ops: list[tuple[bool, tuple[Any, ...]]] = []

    def add(self, *args: Any) -> Any:
        self.ops.append((True, args))
        return self.inner.add(*args)

    def forget(self, *args: Any) -> None:
        self.ops.append((False, args))
        self.inner.forget(*args)

    def load(self, *args: Any) -> None:
        self.inner.load(*args)

    def remove(self, *args: Any) -> None:
        self.inner.remove(*args)

    def close(self) -> None:
        self.inner.close()


def run_reference_core(n: int, days: int, seed: int) -> dict[str, Any]:
    """Time the reference backend alone on the records the monitor hands it."""
    from csrules.rules.complaints import STREAM_RULES
    from csrules.stream import EscalationMonitor
    from csrules.stream._facts import plans
    from csrules.stream._reference import ReferenceBackend

    run = _Run(n)
    core = ReferenceBackend(plans(STREAM_RULES))
    add, forget = core.add, core.forget
    records = 0
    with EscalationMonitor(backend="reference") as preparing:
        recorder = _RecordingReference()
        preparing._backend = recorder  # type: ignore[assignment]  # records, then delegates
        for chunk in complaint_chunks(n, days, seed):
            preparing.observe_all(chunk)
            ops, recorder.ops = recorder.ops, []
            records += sum(1 for is_add, _ in ops if is_add)

            def replay(ops: list[tuple[bool, tuple[Any, ...]]] = ops) -> None:
                for is_add, args in ops:
                    if is_add:
                        add(*args)
                    else:
                        forget(*args)

            run.timed(replay)
            run.chunk_done(len(chunk))
    return run.result("reference-core", records=records, records_per_second=records / run.seconds)


class _RecordingEngine:
    """Stands in for the durable-rules engine: records the calls instead of making them."""

    def __init__(self) -> None:
        self.ops: list[tuple[bool, Any]] = []

    def assert_fact(self, fact: dict[str, Any]) -> None:
        self.ops.append((True, fact))

    def retract(self, facts: list[dict[str, Any]]) -> None:
        self.ops.append((False, facts))


def run_raw(n: int, days: int, seed: int) -> dict[str, Any]:
    """Post the durable backend's facts straight to durable-rules, timing only the posts."""
    from csrules.rules.complaints import STREAM_RULES
    from csrules.stream import EscalationMonitor
    from csrules.stream._durable import RULESET, _Engine
    from csrules.stream._facts import plans

    run = _Run(n)
    recorder = _RecordingEngine()
    engine = _Engine(plans(STREAM_RULES))  # the same ruleset and actions as the backend's
    host, hits = engine.host, engine.hits
    posts = retract_calls = retracted = frames = 0
    with EscalationMonitor(backend="durable") as preparing:
        backend: Any = preparing._backend
        own_engine, backend._engine = backend._engine, recorder
        for chunk in complaint_chunks(n, days, seed):
            preparing.observe_all(chunk)
            ops, recorder.ops = recorder.ops, []

            def replay(ops: list[tuple[bool, Any]] = ops) -> None:
                for is_assert, payload in ops:
                    if is_assert:
                        host.assert_fact(RULESET, payload)
                    else:
                        host.retract_facts(RULESET, payload)

            run.timed(replay)
            for joined in hits.values():
                frames += len(joined)
                joined.clear()
            posts += sum(1 for is_assert, _ in ops if is_assert)
            retract_calls += sum(1 for is_assert, _ in ops if not is_assert)
            retracted += sum(len(p) for is_assert, p in ops if not is_assert)
            run.chunk_done(len(chunk))
        backend._engine = own_engine
    return run.result(
        "raw",
        facts_asserted=posts,
        posts_per_second=posts / run.seconds,
        retract_calls=retract_calls,
        facts_retracted=retracted,
        frames=frames,
    )


def measure(what: str, n: int, days: int, seed: int) -> dict[str, Any]:
    """One measurement, in this process."""
    if what == "raw":
        return run_raw(n, days, seed)
    if what == "reference-core":
        return run_reference_core(n, days, seed)
    backend = what.removesuffix("-all")
    return run_monitor(backend, n, days, seed, all_at_once=what.endswith("-all"))


def _child(what: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run of a measurement, in a fresh process."""
    command = [sys.executable, __file__, "--only", what, "--n", str(args.n)]
    command += ["--days", str(args.days), "--seed", str(args.seed)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _report(what: str, result: dict[str, Any], n: int) -> None:
    each = result["seconds"] / n * 1e6
    line = f"{what:>15}: {result['per_second']:>11,.0f} complaints/s ({each:6.2f} µs each)"
    line += f", peak RSS {result['peak_rss_mb']:,.1f} MB"
    if what == "raw":
        line += (
            f"; {result['facts_asserted']:,} facts asserted ({result['posts_per_second']:,.0f}"
            f" posts/s), {result['facts_retracted']:,} retracted in {result['retract_calls']:,}"
            f" calls, {result['frames']:,} joined frames"
        )
    elif what == "reference-core":
        line += f"; {result['records']:,} records at {result['records_per_second']:,.0f}/s"
    else:
        line += f"; {result['escalations']:,} escalations"
    print(line)
    print(f"{'':>17}RSS MB at each tenth: {result['rss_mb_by_tenth']}")


def main() -> None:
    """Run the measurements (each in child processes) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="complaints (default 1,000,000)")
    parser.add_argument("--days", type=int, default=365, help="days the stream spans")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per measurement, taken in turns with the others (best kept)",
    )
    parser.add_argument("--only", choices=MEASUREMENTS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--measure", default=",".join(MEASUREMENTS), help="comma-separated measurements"
    )
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.only, args.n, args.days, args.seed)))
        return
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"durable-rules {metadata.version('durable_rules')}; {args.n:,} complaints over "
        f"{args.days} days (seed {args.seed}), best of {args.repeat}"
    )
    measures = args.measure.split(",")
    results: dict[str, dict[str, Any]] = {}
    # Rounds of every measurement in turn, so that a busy spell of a shared
    # machine does not fall on one measurement only.
    for _ in range(args.repeat):
        for what in measures:
            result = _child(what, args)
            if what not in results or result["per_second"] > results[what]["per_second"]:
                results[what] = result
    for what in measures:
        _report(what, results[what], args.n)
    if "durable" in results and "raw" in results:
        durable, raw = results["durable"]["per_second"], results["raw"]
        print(
            f"durable backend vs raw durable-rules on the same stream: "
            f"{durable / raw['per_second']:.0%} (target >= 80%); "
            f"its complaints/s vs raw posts/s: {durable / raw['posts_per_second']:.0%}"
        )
    for what in ("reference", "reference-all", "reference-core"):
        if what in results:
            verdict = "meets" if results[what]["per_second"] >= 1_000_000 else "misses"
            print(f"{what} {verdict} the 1M complaints/s target")


if __name__ == "__main__":
    main()
