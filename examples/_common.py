"""Shared plumbing of the analyst scripts: input, deciding, tables, chart set-up.

Every script reads tables of cases: Parquet or CSV files as ``generate.py``
writes them (one column per contract field, named by its JSON path with
dots), or, given none, a seeded Parquet sample made by ``generate.py`` in a
temporary directory. :func:`decide` decides each kind's table with
``RuleSet.decide_frame`` (complaints in time order through one escalation
monitor) and joins each decision row to its case row. A JSON Lines file
(what ``csrules decide`` reads) is decided line by line as that command
does (:data:`DECIDE`). :func:`decide` is the one place that calls csrules.

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

import csrules
from csrules.cli import decide_lines
from csrules.exceptions import CsrulesError
from csrules.io import encode_value
from csrules.policy import Policy, load_policy
from csrules.stream import EscalationMonitor

HERE = Path(__file__).resolve().parent
GENERATE = HERE / "generate.py"
KINDS = ("return", "complaint", "promotion", "price_adjustment")
TABLE_SUFFIXES = (".parquet", ".csv")
LINE_SUFFIXES = (".jsonl", ".ndjson")
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

    paths: tuple[Path, ...]
    seed: int | None
    generated: bool

    @property
    def path(self) -> Path:
        """The first input file."""
        return self.paths[0]

    def describe(self) -> str:
        """The files' names, with the generator's seed when the script made them."""
        if self.generated:
            return f"generated sample (generate.py, seed {self.seed})"
        return ", ".join(p.name for p in self.paths)


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


def parse_time(text: str | dt.datetime) -> dt.datetime:
    """An ISO-8601 time (or a datetime) with its zone, converted to Asia/Shanghai."""
    value = text if isinstance(text, dt.datetime) else dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no zone")
    return value.astimezone(ZONE)


def add_input_arguments(parser: argparse.ArgumentParser, *, rows: int = 3000) -> None:
    """The input arguments every script shares: CASES, --rows, --seed, --chart."""
    parser.add_argument(
        "cases",
        nargs="*",
        type=Path,
        help="Parquet or CSV files of cases as generate.py writes them (one kind per file), "
        "or a JSON Lines file (default: generate a seeded Parquet sample)",
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
def open_source(
    paths: Sequence[Path] | Path | None, *, rows: int, seed: int, kind: str = "all"
) -> Iterator[Source]:
    """Yield the input files: ``paths`` if given (each must exist), else a fresh sample.

    The sample is ``generate.py OUT.parquet --rows ROWS --seed SEED --kind KIND``
    written to a temporary directory that is removed afterwards (one Parquet
    file per kind). Parquet needs pyarrow; without it the sample is JSON Lines.
    """
    if isinstance(paths, Path):
        paths = [paths]
    if paths:
        for path in paths:
            if not path.is_file():
                fail(f"no such input file: {path}")
            if path.suffix not in TABLE_SUFFIXES + LINE_SUFFIXES:
                fail(
                    f"{path}: expected Parquet or CSV files of cases (.parquet, .csv) "
                    "or a JSON Lines file (.jsonl, .ndjson)"
                )
        yield Source(tuple(paths), None, generated=False)
        return
    suffix = ".parquet" if _has_pyarrow() else ".jsonl"
    with tempfile.TemporaryDirectory(prefix="csrules-example-") as tmp:
        out = Path(tmp) / f"sample-seed{seed}{suffix}"
        command = [sys.executable, str(GENERATE), str(out), "--rows", str(rows)]
        command += ["--seed", str(seed), "--kind", kind, "--no-progress"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            fail(f"generate.py failed: {done.stderr.strip().splitlines()[-1:]}")
        made = tuple(sorted(Path(tmp).glob(f"sample-seed{seed}*{suffix}")))
        yield Source(made, seed, generated=True)


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


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


def save_chart(fig: Any, path: Path, note: str, *, top: float = 1.0) -> None:
    """Write a figure to ``path`` (PNG) with ``note`` (source and dates) at its foot, and
    close it. ``top`` below 1 leaves room for a figure title."""
    import matplotlib.pyplot as plt

    fig.text(0.01, 0.01, note, fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.05, 1, top))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"\nchart written to {path}")


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


def _pair(cases: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]]) -> list[Decided]:
    """Pair cases with results, noting on stderr how many ended in an error."""
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


def decide(
    cases: Sequence[dict[str, Any]], policy: Policy, *, decide_fn: DecideFn | None = None
) -> list[Decided]:
    """Decide ``cases`` (contract JSON dicts) under ``policy`` and pair each with its result."""
    return _pair(cases, (decide_fn or DECIDE)(cases, policy))


# ------------------------------------------------------------------ tables of cases


def read_table(path: Path) -> Any:
    """A Parquet or CSV file of cases as a pyarrow Table; exit 2 without pyarrow.

    CSV cells hold the contract's JSON text (``generate.py``); every column is
    read as text, which ``decide_frame`` reads as the contract does (flags
    in any case, counts as whole numbers), a bad cell being its row's error.
    """
    try:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq
    except ImportError:
        fail(f"{path.name}: reading Parquet and CSV needs pyarrow: pip install 'csrules[frames]'")
    import pyarrow as pa

    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        # every cell as text: decide_frame reads each by its field (flags in
        # any case, `True` from pandas too), and a bad cell is its row's error
        column_types = dict.fromkeys(_csv_columns(), pa.string())
        options = pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True)
        return pacsv.read_csv(path, convert_options=options)
    except (pa.ArrowException, OSError) as exc:
        fail(f"{path}: not a table of cases ({exc})")
        raise  # unreachable: fail() exits


def _csv_columns() -> dict[str, str]:
    """Every column ``generate.py`` writes, with its type (str, int, bool, time, money)."""
    sys.path.insert(0, str(HERE))
    try:
        import generate
    finally:
        sys.path.remove(str(HERE))
    columns: dict[str, str] = {}
    for kind in generate.SCHEMAS:
        for name, typ in generate._columns(kind, flat_lines=True, max_lines=3):
            columns[name] = typ
        for name, typ in generate.SCHEMAS[kind]:
            columns[name] = "str" if typ == "lines" else typ
    return columns


def _nest(row: dict[str, Any]) -> dict[str, Any]:
    """A contract JSON dict from a row of dotted columns (null cells left out)."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            continue
        *parents, last = name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = encode_value(value)
    return out


def _result(row: dict[str, Any]) -> dict[str, Any]:
    """The contract's result object (decision or error) of a decide_frame output row."""
    if row.get("error.code") is not None:
        return {"error": {"code": row["error.code"], "message": row["error.message"]}}
    prefix = "decision."
    return {
        "decision": {
            name[len(prefix) :]: encode_value(value)
            for name, value in row.items()
            if name.startswith(prefix)
        }
    }


def decide_table(table: Any, policy: Policy, *, name: str, kinds: Sequence[str]) -> list[Decided]:
    """Decide a table of cases with ``RuleSet.decide_frame``, kind by kind, in time order.

    Rows without a time ``at`` carrying its zone are left out with a note;
    complaints go through one escalation monitor in order of ``at``.
    """
    import pyarrow as pa

    if "kind" not in table.column_names:
        fail(f"{name}: no 'kind' column (expected the columns generate.py writes)")
    at = table.column("at").to_pylist() if "at" in table.column_names else [None] * len(table)
    kind_of = table.column("kind").to_pylist()
    keep: list[tuple[dt.datetime, int]] = []
    skipped: list[int] = []
    for i, value in enumerate(at):
        try:
            keep.append((parse_time(value), i))
        except (ValueError, TypeError):
            skipped.append(i + 1)
    if skipped:
        print(
            f"note: {name}: left out {len(skipped)} row(s) that are not a case with a "
            f"time 'at' (first: row {skipped[0]})",
            file=sys.stderr,
        )
    keep.sort()  # time order, stable for equal times
    unknown = sum(1 for _, i in keep if kind_of[i] not in KINDS)
    if unknown:
        print(f"note: {name}: left out {unknown} row(s) of no known kind", file=sys.stderr)
    rules = csrules.ruleset("b2c")
    decided: list[Decided] = []
    for kind in kinds:
        rows = [i for _, i in keep if kind_of[i] == kind]
        if not rows:
            continue
        part = table.take(pa.array(rows, type=pa.int64()))
        with contextlib.ExitStack() as stack:
            monitor = None
            if kind == "complaint":
                monitor = stack.enter_context(EscalationMonitor(policy))
            try:
                out = rules.decide_frame(part, kind=kind, policy=policy, monitor=monitor)
            except CsrulesError as exc:  # a column no row can be read from
                fail(f"{name}: not a table of cases ({exc})")
        cases = [_nest(row) for row in part.to_pylist()]
        decided += _pair(cases, [_result(row) for row in out.to_pylist()])
    return decided


def decide_source(
    source: Source, policy: Policy, *, kinds: Sequence[str] = KINDS
) -> list[Decided]:
    """Decide the cases of ``kinds`` in every input file: Parquet and CSV with
    :func:`decide_table`, JSON Lines line by line (:data:`DECIDE`), each in time order."""
    decided: list[Decided] = []
    for path in source.paths:
        if path.suffix in LINE_SUFFIXES:
            # every kind: a case of an unknown kind is decided too, as an error
            every = set(kinds) >= set(KINDS)
            cases = by_time(c for c in read_cases(path) if every or c.get("kind") in kinds)
            decided += decide(cases, policy)
        else:
            decided += decide_table(read_table(path), policy, name=path.name, kinds=kinds)
    return decided


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
