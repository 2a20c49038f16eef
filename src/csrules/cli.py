"""The ``csrules`` command.

``csrules decide [FILE|-] [--policy FILE] [--format jsonl|table] [--lang zh|en]``
reads one JSON case per line and writes one result per line, in input order
(see ``docs/contract.md``). Exit status: 0 when every case was decided, 1
when any line was an error, 2 for a usage error.

``csrules watch FILE --now TIME`` lists what is overdue among open cases.
``csrules tables`` prints the rule tables; ``csrules policy`` the parameters.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, Final

from csrules import __version__
from csrules._calendar import WorkCalendar
from csrules._cases import ComplaintCase
from csrules._decision import Lang
from csrules._engine import decide
from csrules.exceptions import (
    CalendarError,
    ContractError,
    CsrulesError,
    DomainValueError,
    PolicyError,
)
from csrules.io._decisions import decision_to_json, error_to_json, render_table
from csrules.io._json import JSONValue, parse_aware_time, parse_case_line
from csrules.policy import Policy, default_policy, load_policy

__all__ = ["decide_lines", "main"]

EXIT_OK: Final = 0
EXIT_ERRORS: Final = 1
EXIT_USAGE: Final = 2
_PROGRESS_EVERY: Final = 1.0  # seconds between progress lines


class _UsageError(Exception):
    """A problem with the command line or its files: exit status 2."""


def _case_id_of(line: str) -> str | None:
    """Best-effort id of a line that failed, for its error line."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    case_id = obj.get("id") if isinstance(obj, dict) else None
    return case_id if isinstance(case_id, str) else None


def decide_lines(
    lines: Iterable[str],
    *,
    policy: Policy | None = None,
    lang: Lang = "en",
    monitor: Any = None,
    parameters: bool = True,
) -> Iterator[dict[str, JSONValue]]:
    """Decide JSON Lines cases one by one: one result per input line, in order.

    A line that is not valid JSON, breaks the contract, or cannot be decided
    yields an error result (``{"id", "line", "error": {"code", "message"}}``)
    and the run goes on. Complaint cases go through ``monitor`` (an
    :class:`~csrules.stream.EscalationMonitor`) in input order when given.
    """
    policy = policy or default_policy()
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            yield error_to_json(None, number, "invalid_json", "empty line: expected one JSON case")
            continue
        try:
            case = parse_case_line(line)
            if monitor is None or not isinstance(case, ComplaintCase):
                decision = decide(case, policy=policy)
                result = decision_to_json(decision, lang=lang, line=number, parameters=parameters)
            else:  # a complaint that ends in an error leaves the monitor as it was
                with monitor.transaction():
                    decision = decide(case, policy=policy, monitor=monitor)
                    result = decision_to_json(
                        decision, lang=lang, line=number, parameters=parameters
                    )
            yield result
        except ContractError as err:
            case_id = err.case_id if err.case_id is not None else _case_id_of(line)
            yield error_to_json(case_id, number, err.code, str(err))
        except DomainValueError as err:
            code = "missing_field" if err.value is None else "invalid_value"
            yield error_to_json(_case_id_of(line), number, code, str(err))
        except PolicyError as err:
            yield error_to_json(_case_id_of(line), number, "policy", str(err))
        except CsrulesError as err:
            yield error_to_json(_case_id_of(line), number, "undecidable", str(err))
        except Exception as err:
            message = f"internal error ({type(err).__name__}: {err}); please report it"
            yield error_to_json(_case_id_of(line), number, "internal_error", message)


def _open_input(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    try:
        return open(path, encoding="utf-8")
    except OSError as err:
        msg = f"cannot read {path}: {err.strerror or err}"
        raise _UsageError(msg) from err


def _load_policy(path: str | None) -> Policy:
    if path is None:
        return default_policy()
    try:
        return load_policy(path)
    except PolicyError as err:
        msg = f"bad policy: {err}"
        raise _UsageError(msg) from err


def _monitor(policy: Policy, backend: str, state: str | None = None) -> Any:
    from csrules.stream import EscalationMonitor

    if state is None or not os.path.exists(state):
        return EscalationMonitor(policy, backend=backend)  # type: ignore[arg-type]
    from csrules.exceptions import StreamError

    try:
        with open(state, encoding="utf-8") as saved:
            data = json.load(saved)
        return EscalationMonitor.restore(data, policy, backend=backend)  # type: ignore[arg-type]
    except (OSError, ValueError, StreamError) as err:
        msg = f"bad state file {state}: {err}"
        raise _UsageError(msg) from err


def _save_state(monitor: Any, path: str) -> None:
    """Write the monitor's snapshot to ``path`` atomically (a temporary file, then a rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".csrules-state-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as saving:
            json.dump(monitor.snapshot(), saving, ensure_ascii=False, separators=(",", ":"))
            saving.flush()
            os.fsync(saving.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _saving(
    lines: Iterable[str], monitor: Any, path: str, every: int, out: IO[str]
) -> Iterator[str]:
    """The lines, saving the monitor's state before every ``every``-th line after the first.

    When a line is asked for, every line before it has been decided and written.
    """
    for number, line in enumerate(lines):
        if number and number % every == 0:
            out.flush()
            _save_state(monitor, path)
        yield line


class _Progress:
    """Progress on stderr for long runs: lines done and rate, once a second."""

    def __init__(self, enabled: bool, stream: IO[str]) -> None:
        self.enabled = enabled
        self.stream = stream
        self.start = time.monotonic()
        self.last = self.start
        self.done = 0
        self.errors = 0

    def tick(self, is_error: bool) -> None:
        self.done += 1
        self.errors += is_error
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last >= _PROGRESS_EVERY:
            self.last = now
            self._say(now, "\r")

    def _say(self, now: float, end: str) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        self.stream.write(
            f"{end}csrules: {self.done} lines, {self.errors} errors, {rate:,.0f} lines/s"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._say(time.monotonic(), "\r")
            self.stream.write("\n")


def _with_schedule(policy: Policy, path: str | None) -> Policy:
    if path is None:
        return policy
    try:
        return policy.with_calendar(WorkCalendar.from_file(path, base=policy.calendar))
    except CalendarError as err:
        msg = f"bad holiday schedule: {err}"
        raise _UsageError(msg) from err


def _cmd_decide(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    policy = _with_schedule(_load_policy(args.policy), args.schedule)
    if args.state is not None and args.no_stream:
        msg = "--state keeps the escalation monitor's state: it cannot go with --no-stream"
        raise _UsageError(msg)
    if args.state_every is not None and args.state is None:
        msg = "--state-every needs --state FILE"
        raise _UsageError(msg)
    monitor = None if args.no_stream else _monitor(policy, args.backend, args.state)
    try:
        source: Iterable[str] = _open_input(args.file)
    except BaseException:
        if monitor is not None:
            monitor.close()
        raise
    opened = source
    if args.state is not None and args.state_every:
        source = _saving(opened, monitor, args.state, args.state_every, out)
    progress = _Progress(args.progress or (args.progress is None and err.isatty()), err)
    results: list[dict[str, JSONValue]] = []
    try:
        for result in decide_lines(
            source, policy=policy, lang=args.lang, monitor=monitor, parameters=args.parameters
        ):
            is_error = "error" in result
            progress.tick(is_error)
            if args.format == "jsonl":
                out.write(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
            else:
                results.append(result)
        if args.state is not None:
            out.flush()
            _save_state(monitor, args.state)
    finally:
        if opened is not sys.stdin:
            opened.close()  # type: ignore[attr-defined]
        if monitor is not None:
            monitor.close()
    progress.finish()
    if args.format == "table":
        out.write(render_table(results, lang=args.lang) + "\n")
        summary = f"{progress.done} lines, {progress.errors} errors"
        out.write(
            ("\n" + summary + "\n")
            if args.lang == "en"
            else f"\n共{progress.done}行,错误{progress.errors}行\n"
        )
    return EXIT_ERRORS if progress.errors else EXIT_OK


def _parse_now(text: str) -> Any:
    parsed = parse_aware_time(text)
    if parsed is None:
        example = "2026-05-06T18:00:00+08:00"
        msg = f"--now {text!r}: expected an ISO-8601 time with an offset, e.g. {example}"
        raise _UsageError(msg)
    return parsed


def _cmd_watch(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules.stream import load_open_cases, overdue

    now = _parse_now(args.now)
    source = _open_input(args.file)
    try:
        cases, problems = load_open_cases(source)
    finally:
        if source is not sys.stdin:
            source.close()
    for problem in problems:
        err.write(f"csrules watch: {problem}\n")
    late = overdue(cases, now)
    if args.format == "jsonl":
        for item in late:
            out.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
    else:
        out.write(_render_overdue(late) + "\n")
    return EXIT_ERRORS if problems else EXIT_OK


def _render_overdue(late: Sequence[Any]) -> str:
    if not late:
        return "Nothing is overdue."
    rows = [("id", "kind", "due", "late by", "tell", "clause")]
    for item in late:
        rows.append(
            (
                item.case.case_id,
                item.case.kind,
                item.case.due.isoformat(),
                str(item.late_by),
                item.case.notify,
                item.case.clause,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _cmd_tables(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules._docs import tables_markdown

    out.write(tables_markdown())
    return EXIT_OK


def _cmd_policy(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules._docs import policy_markdown

    policy = _load_policy(args.policy)
    on = None
    if args.on:
        try:
            on = dt.date.fromisoformat(args.on)
        except ValueError as exc:
            msg = f"--on {args.on!r}: expected a date YYYY-MM-DD"
            raise _UsageError(msg) from exc
    out.write(policy_markdown(policy, on=on))
    return EXIT_OK


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a whole number of lines, 1 or more (got {text!r})"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csrules",
        description="Decide customer-service cases by the shop's policy, citing the clauses.",
    )
    parser.add_argument("--version", action="version", version=f"csrules {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("decide", help="decide JSON Lines cases (one result per line)")
    p.add_argument("file", nargs="?", default="-", help="JSON Lines cases, or - for stdin")
    p.add_argument("--policy", help="a policy TOML file, or a bundled name (b2c, taobao)")
    p.add_argument(
        "--schedule",
        help="a holiday schedule file (TOML or JSON) for years without official data",
    )
    p.add_argument("--format", choices=("jsonl", "table"), default="jsonl")
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument(
        "--backend",
        choices=("auto", "durable", "reference"),
        default="auto",
        help="escalation monitor backend for complaint streams (default: auto, the reference one)",
    )
    p.add_argument(
        "--state",
        metavar="FILE",
        help="resume the escalation monitor from FILE if it exists, and save it there at the end",
    )
    p.add_argument(
        "--state-every",
        metavar="N",
        type=_positive,
        help="with --state, also save the state every N lines (so a killed run can resume)",
    )
    p.add_argument(
        "--no-stream",
        action="store_true",
        help="decide complaints one by one, without correlating them (no B2C-8.7.1/8.7.5)",
    )
    p.add_argument(
        "--no-parameters",
        dest="parameters",
        action="store_false",
        help="leave the parameters used out of each decision line",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr (default: when stderr is a terminal)",
    )
    p.set_defaults(handler=_cmd_decide)

    w = sub.add_parser("watch", help="list overdue answers and replies among open cases")
    w.add_argument("file", help="JSON Lines of open cases or of decided complaints, or -")
    w.add_argument("--now", required=True, help="the time to check against, ISO-8601 with offset")
    w.add_argument("--format", choices=("jsonl", "table"), default="table")
    w.set_defaults(handler=_cmd_watch)

    t = sub.add_parser("tables", help="print every rule table as Markdown")
    t.set_defaults(handler=_cmd_tables)

    q = sub.add_parser("policy", help="print the policy's parameters as Markdown")
    q.add_argument("--policy", help="a policy TOML file, or a bundled name (b2c, taobao)")
    q.add_argument("--on", help="only the values in force on this date (YYYY-MM-DD)")
    q.set_defaults(handler=_cmd_policy)
    return parser


def main(
    argv: Sequence[str] | None = None, *, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """Run the ``csrules`` command; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        status: int = args.handler(args, out, err)
    except _UsageError as exc:
        err.write(f"csrules {args.command}: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into head
        return EXIT_OK
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
