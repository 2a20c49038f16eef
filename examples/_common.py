"""Shared plumbing of the analyst scripts: input, deciding, tables, chart set-up.

Every script reads a JSON Lines file of cases (or, given none, a seeded
sample made by ``generate.py`` in a temporary directory), decides it with
:func:`decide`, and joins each decision to its case. :func:`decide` is the one
place that calls csrules, so another decide path (a columnar one, say) can
replace it without touching the scripts.

Failures a user can fix (a missing input file, a policy that does not load,
matplotlib missing for ``--chart``) end the script with one line on stderr
and exit status 2 (:func:`fail`). Lines that are not cases, and cases that
end in an error, are left out of the tables with a note on stderr.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wcwidth import wcswidth

from csrules.cli import decide_lines
from csrules.exceptions import CsrulesError
from csrules.policy import Policy, load_policy
from csrules.stream import EscalationMonitor

HERE = Path(__file__).resolve().parent
GENERATE = HERE / "generate.py"
ZONE = dt.timezone(dt.timedelta(hours=8))


def run(main: Callable[[], int]) -> None:
    """Run a script's ``main`` and exit with its status; a closed stdout (``| head``) is
    not an error."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    raise SystemExit(status)


def fail(message: str) -> None:
    """Print ``message`` as one line on stderr and exit with status 2."""
    script = Path(sys.argv[0]).name
    print(f"{script}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


@dataclass(frozen=True)
class Source:
    """Where the cases came from, for titles and footnotes."""

    path: Path
    seed: int | None
    generated: bool

    def describe(self) -> str:
        """The file's name, with the generator's seed when the script made it."""
        if self.generated:
            return f"generated sample (generate.py, seed {self.seed})"
        return self.path.name


@dataclass(frozen=True)
class Decided:
    """One case and its decision (or error), as contract JSON dicts."""

    case: dict[str, Any]
    result: dict[str, Any]

    @property
    def kind(self) -> str:
        """The case's kind: return, complaint, promotion or price_adjustment."""
        return str(self.case.get("kind"))

    @property
    def decision(self) -> dict[str, Any] | None:
        """The decision, or None when the case was an error."""
        decision = self.result.get("decision")
        return decision if isinstance(decision, dict) else None

    @property
    def at(self) -> dt.datetime:
        """The case time, in Asia/Shanghai."""
        return parse_time(self.case["at"])


def parse_time(text: str) -> dt.datetime:
    """An ISO-8601 time with its zone, converted to Asia/Shanghai."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no zone")
    return value.astimezone(ZONE)


def add_input_arguments(parser: argparse.ArgumentParser, *, rows: int = 3000) -> None:
    """The input arguments every script shares: CASES, --rows, --seed, --policy, --chart."""
    parser.add_argument(
        "cases",
        nargs="?",
        type=Path,
        help="JSON Lines file of cases (default: generate a seeded sample)",
    )
    parser.add_argument(
        "--rows", type=int, default=rows, help=f"rows of the generated sample (default: {rows})"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the generated sample (default: 1)"
    )
    parser.add_argument(
        "--chart", type=Path, help="also draw a chart into this PNG file (needs matplotlib)"
    )


@contextlib.contextmanager
def open_source(path: Path | None, *, rows: int, seed: int, kind: str = "all") -> Iterator[Source]:
    """Yield the input file: ``path`` if given (it must exist), else a fresh sample.

    The sample is ``generate.py --rows ROWS --seed SEED --kind KIND`` written
    to a temporary directory that is removed afterwards.
    """
    if path is not None:
        if not path.is_file():
            fail(f"no such input file: {path}")
        if path.suffix not in (".jsonl", ".ndjson"):
            fail(f"{path}: expected a JSON Lines file of cases (.jsonl or .ndjson)")
        yield Source(path, None, generated=False)
        return
    with tempfile.TemporaryDirectory(prefix="csrules-example-") as tmp:
        out = Path(tmp) / f"sample-seed{seed}.jsonl"
        command = [sys.executable, str(GENERATE), str(out), "--rows", str(rows)]
        command += ["--seed", str(seed), "--kind", kind, "--no-progress"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            fail(f"generate.py failed: {done.stderr.strip().splitlines()[-1:]}")
        yield Source(out, seed, generated=True)


def policy_from(name: str | None) -> Policy:
    """Load a bundled policy by name (b2c, taobao) or a TOML file; exit 2 if it fails."""
    try:
        return load_policy(name or "b2c")
    except (CsrulesError, OSError) as exc:
        fail(f"policy {name!r}: {exc}")
        raise  # unreachable: fail() exits


def require_matplotlib() -> Any:
    """Return ``matplotlib.pyplot`` on the Agg backend; exit 2 if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("--chart needs matplotlib: pip install 'csrules[charts]'")
    return plt


def read_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of a JSON Lines file, blank lines skipped.

    A line that is not a JSON object with a time ``at`` carrying its zone
    cannot be placed in any table: it is left out, with one note on stderr
    giving how many and the first line number.
    """
    cases = []
    skipped: list[int] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
                parse_time(case["at"])
            except (ValueError, KeyError, TypeError):
                skipped.append(number)
                continue
            cases.append(case)
    if skipped:
        print(
            f"note: {path.name}: left out {len(skipped)} line(s) that are not a case with a "
            f"time 'at' (first: line {skipped[0]})",
            file=sys.stderr,
        )
    return cases


def decide_with_cli(cases: Sequence[dict[str, Any]], policy: Policy) -> list[dict[str, Any]]:
    """Decide cases as ``csrules decide`` does: one result per case, complaints
    through one escalation monitor in the order given."""
    lines = (json.dumps(case, ensure_ascii=False) for case in cases)
    with EscalationMonitor(policy) as monitor:
        results = decide_lines(lines, policy=policy, monitor=monitor)
        # round-trip so enum values become the contract's plain strings
        return [json.loads(json.dumps(result, ensure_ascii=False)) for result in results]


#: The decide step: cases (contract JSON dicts) and a policy in, one result
#: dict per case out, in the same order. Swap it for another path if needed.
DecideFn = Callable[[Sequence[dict[str, Any]], Policy], list[dict[str, Any]]]
DECIDE: DecideFn = decide_with_cli


def decide(
    cases: Sequence[dict[str, Any]], policy: Policy, *, decide_fn: DecideFn | None = None
) -> list[Decided]:
    """Decide ``cases`` under ``policy`` and pair each case with its result."""
    results = (decide_fn or DECIDE)(cases, policy)
    if len(results) != len(cases):
        raise RuntimeError(f"{len(cases)} cases gave {len(results)} results")
    codes = collections.Counter(
        str(result["error"].get("code")) for result in results if "error" in result
    )
    if codes:
        listed = ", ".join(f"{code} {n}" for code, n in sorted(codes.items()))
        print(
            f"note: {sum(codes.values())} case(s) not decided, left out ({listed})",
            file=sys.stderr,
        )
    return [Decided(case, result) for case, result in zip(cases, results, strict=True)]


def by_time(cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cases in order of their time ``at`` (stable for equal times)."""
    return sorted(cases, key=lambda case: parse_time(case["at"]))


def date_range(items: Iterable[dt.date]) -> tuple[dt.date, dt.date] | None:
    """The first and last of some dates, or None when there are none."""
    days = sorted(items)
    return (days[0], days[-1]) if days else None


def footnote(source: Source, span: tuple[dt.date, dt.date] | None, policy: str = "") -> str:
    """The chart footnote: source, date range and (optionally) the policy."""
    dates = f"{span[0]} to {span[1]}" if span else "no dates"
    extra = f", policy {policy}" if policy else ""
    return f"source: {source.describe()}; data from {dates}{extra}"


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """An aligned text table: text columns left, numbers right (CJK-width aware)."""
    body = [[str(cell) for cell in row] for row in rows]
    numeric = [
        all(_is_number(row[i]) for row in body if row[i] not in ("", "-")) and bool(body)
        for i in range(len(headers))
    ]
    widths = [
        max([_width(headers[i])] + [_width(row[i]) for row in body]) for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell))
            out.append(pad + cell if numeric[i] else cell + pad)
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(row) for row in body)])


def _width(text: str) -> int:
    width = wcswidth(text)
    return width if width >= 0 else len(text)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").lstrip("+"))
    except ValueError:
        return False
    return True
