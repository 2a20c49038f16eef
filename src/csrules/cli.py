"""The ``csrules`` command.

``csrules decide [FILE|-] [--policy FILE] [--format jsonl|table] [--lang zh|en]``
reads one JSON case per line and writes one result per line, in input order
(see ``docs/contract.md``). Input is UTF-8 bytes split at ``\\n`` only (a
``\\r`` before it and a byte order mark at the start are dropped); a line that
is not UTF-8, not JSON or not a valid case gets an error line and the run goes
on. Output is always UTF-8.

``csrules watch FILE --now TIME`` lists what is overdue among open cases.
``csrules tables`` prints the rule tables; ``csrules policy`` the parameters;
``csrules schema [KIND]`` the JSON Schema of a case; ``csrules test PATH...``
runs policy tests (``*.csrules.yaml``, see ``docs/policy-tests.md``);
``csrules explain [FILE|-]`` explains one case (see ``docs/explain.md``).
``csrules check`` analyses a rule set's tables (``docs/check.md``).
``csrules batch IN OUT`` decides a CSV, Parquet or JSON Lines file into
Parquet, CSV or JSON Lines (see ``docs/batch-files.md``).

Exit status:

- 0: every line was decided;
- 1: some lines were errors (each has its error line);
- 2: usage error (bad options, unreadable input, policy or schedule file);
- 3: the run itself failed (e.g. the output could not be written): one
  message on stderr, and the traceback too with ``--debug``;
- 130: interrupted (SIGINT); the lines decided so far are written first.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import FrameType
from typing import IO, Any, Final

import orjson

from csrules import __version__
from csrules._calendar import WorkCalendar
from csrules._decision import Decision, Lang
from csrules._engine import decide
from csrules.exceptions import (
    CalendarError,
    ContractError,
    CsrulesError,
    DomainValueError,
    PolicyError,
)
from csrules.io._decisions import (
    _join,
    _printable,
    _width,
    decision_to_json,
    error_to_json,
    render_table,
)
from csrules.io._json import EchoedFloat, JSONValue, parse_aware_time, read_case_line
from csrules.policy import Policy, default_policy, load_policy

__all__ = ["decide_line", "decide_lines", "main"]

EXIT_OK: Final = 0
EXIT_ERRORS: Final = 1
EXIT_USAGE: Final = 2
EXIT_FAILED: Final = 3
EXIT_INTERRUPTED: Final = 130
#: The reader of the output stopped first (``| head``): 128 + SIGPIPE, as a
#: program the signal stops; nothing is printed.
EXIT_OUTPUT_CLOSED: Final = 141
_PROGRESS_EVERY: Final = 1.0  # seconds between progress lines
_BOM: Final = "\ufeff"
_BOM_BYTES: Final = _BOM.encode("utf-8")
_EPILOG: Final = """\
exit status:
  0    every line was decided
  1    some lines were errors (each has its error line)
  2    usage error: bad options, unreadable input, policy or schedule file
  3    the run itself failed, e.g. the output could not be written
       (one message on stderr; the traceback too with --debug)
  130  interrupted: the lines decided so far are written first
  141  the output's reader stopped first (| head): not every line was written
"""


class _UsageError(Exception):
    """A problem with the command line or its files: exit status 2."""


class _ReadError(Exception):
    """The input could not be read any further: exit status 3."""


class _BadLine:
    """A line of input that is not text: its error code and message."""

    __slots__ = ("case_id", "code", "message")

    def __init__(self, code: str, message: str, case_id: str | None = None) -> None:
        self.code = code
        self.message = message
        self.case_id = case_id


def _case_id_of(line: str) -> str | None:
    """Best-effort id of a line that failed, for its error line."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    case_id = obj.get("id") if isinstance(obj, dict) else None
    return case_id if isinstance(case_id, str) else None


def _text_lines(lines: Iterable[str | bytes]) -> Iterator[str | _BadLine]:
    """Each line as text, without its line ending, or a :class:`_BadLine`.

    Bytes are decoded as UTF-8 line by line; a byte order mark at the start
    of the first line is dropped. Only a final ``\\n`` (and a ``\\r`` before
    it) ends a line: a ``\\r`` elsewhere stays, as JSON whitespace.
    """
    first = True
    for raw in lines:
        if isinstance(raw, bytes | bytearray):
            data = bytes(raw)
            skipped = 0
            if first and data.startswith(_BOM_BYTES):
                data = data[len(_BOM_BYTES) :]
                skipped = len(_BOM_BYTES)
            if data.endswith(b"\n"):
                data = data[:-1]
            if data.endswith(b"\r"):
                data = data[:-1]
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = data[exc.start : exc.end].hex(" ")
                message = (
                    f"not valid UTF-8: byte offset {exc.start + skipped} of the line"
                    f" (bytes {bad}: {exc.reason})"
                )
                case_id = _case_id_of(data.decode("utf-8", "replace"))
                if case_id is not None and "\ufffd" in case_id:
                    case_id = None
                yield _BadLine("invalid_encoding", message, case_id)
                first = False
                continue
        else:
            line = raw
            if first and line.startswith(_BOM):
                line = line[1:]
            if line.endswith("\n"):
                line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
        first = False
        yield line


def decide_lines(
    lines: Iterable[str | bytes],
    *,
    policy: Policy | None = None,
    lang: Lang = "en",
    monitor: Any = None,
    parameters: bool = True,
    ruleset: Any = None,
) -> Iterator[dict[str, JSONValue]]:
    """Decide JSON Lines cases one by one: one result per input line, in order.

    ``lines`` are text or UTF-8 bytes, with or without their line ending
    (``\\n`` or ``\\r\\n``); a byte order mark before the first line is
    ignored. A line that is not UTF-8 (``invalid_encoding``), not valid
    JSON, breaks the contract, or cannot be decided yields an error result
    (``{"id", "line", "error": {"code", "message"}}``) and the run goes on.
    Complaint cases go through ``monitor`` (an
    :class:`~csrules.stream.EscalationMonitor`) in input order when given.
    With ``ruleset`` (a :class:`~csrules.RuleSet`), cases are decided by its
    rules, ``policy`` (when given) replacing its parameters, and a case may
    give the extra facts it declares in ``facts``.
    """
    if ruleset is not None:
        policy = policy or ruleset.policy
    policy = policy or default_policy()
    for number, line in enumerate(_text_lines(lines), start=1):
        if isinstance(line, _BadLine):
            yield error_to_json(line.case_id, number, line.code, line.message)
            continue
        if not line.strip():
            yield error_to_json(None, number, "invalid_json", "empty line: expected one JSON case")
            continue
        yield decide_line(
            line,
            number,
            policy=policy,
            lang=lang,
            monitor=monitor,
            parameters=parameters,
            ruleset=ruleset,
        )[0]


def decide_line(
    line: str,
    number: int = 1,
    *,
    policy: Policy | None = None,
    lang: Lang = "en",
    monitor: Any = None,
    parameters: bool = True,
    ruleset: Any = None,
) -> tuple[dict[str, JSONValue], Decision | None]:
    """Decide one JSON case line as ``csrules decide`` does.

    With ``ruleset`` (a :class:`~csrules.RuleSet`), the case is decided by its
    rules, ``policy`` (when given) replacing its parameters, and the case may
    give the extra facts it declares in ``facts``.

    Returns:
        The result line ``csrules decide`` writes for it (a decision, or an
        error with its code), and the decision itself (``None`` for an error).
    """
    extra = None
    if ruleset is not None:
        policy = policy or ruleset.policy
        extra = ruleset.extra_facts() or None
    policy = policy or default_policy()
    meta = None
    try:
        read = read_case_line(line, facts=extra)
        meta = read.meta
        decision = decide(
            read.case, policy=policy, monitor=monitor, ruleset=ruleset, facts=read.facts
        )
        result = decision_to_json(
            decision, lang=lang, line=number, parameters=parameters, meta=meta
        )
        return result, decision
    except ContractError as err:
        result = error_to_json(
            err.case_id, number, err.code, str(err), problems=err.problems, meta=err.meta
        )
    except DomainValueError as err:
        code = "missing_field" if err.value is None else "invalid_value"
        message = str(err)
        key = _CONTRACT_KEYS.get(err.field)
        if key is not None:  # the domain's name of a contract key: say the key
            message = str(DomainValueError(key, err.value, err.expected))
        result = error_to_json(_case_id_of(line), number, code, message, meta=meta)
    except PolicyError as err:
        result = error_to_json(_case_id_of(line), number, "policy", str(err), meta=meta)
    except CsrulesError as err:
        result = error_to_json(_case_id_of(line), number, "undecidable", str(err), meta=meta)
    except RecursionError:
        result = error_to_json(None, number, "invalid_json", "not valid JSON: nested too deeply")
    except Exception as err:
        message = f"internal error ({type(err).__name__}: {err}); please report it"
        result = error_to_json(_case_id_of(line), number, "internal_error", message, meta=meta)
    return result, None


#: Domain field names that are other keys in the JSON contract.
_CONTRACT_KEYS: Final = {"complaint.received_at": "at"}


def _open_input(path: str) -> IO[bytes] | IO[str]:
    """The input as bytes when possible (a file, or stdin's buffer)."""
    if path == "-":
        stdin: IO[str] | None = sys.stdin
        if stdin is None:
            msg = "no standard input to read"
            raise _UsageError(msg)
        buffer: IO[bytes] | None = getattr(stdin, "buffer", None)
        return buffer if buffer is not None else stdin
    try:
        return open(path, "rb")
    except OSError as err:
        msg = f"cannot read {path}: {err.strerror or err}"
        raise _UsageError(msg) from err


@contextlib.contextmanager
def _reading(path: str) -> Iterator[Iterator[str | bytes]]:
    """The input's raw lines, split at ``\\n`` only; a read failure is a :class:`_ReadError`."""
    source = _open_input(path)
    name = "standard input" if path == "-" else path

    def lines() -> Iterator[str | bytes]:
        try:
            yield from source
        except OSError as err:
            msg = f"cannot read {name}: {err.strerror or err}"
            raise _ReadError(msg) from err

    try:
        yield lines()
    finally:
        if path != "-":
            source.close()


def _json_line(result: object) -> str:
    """One JSON line that is always valid UTF-8: ASCII escapes if a string cannot be encoded.

    The text is the same as ``json.dumps(result, ensure_ascii=False,
    separators=(",", ":"))``: orjson writes it when it can (results hold
    strings, integers, booleans, null, lists and dicts with string keys,
    never floats); anything it refuses (a lone surrogate, an integer beyond
    64 bits, a key that is not a string, a type JSON does not have) goes
    through :mod:`json`, which escapes the surrogate or raises as before.
    """
    try:
        return orjson.dumps(result, default=_as_read, option=_ORJSON_LINE).decode("utf-8")
    except TypeError:
        pass
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate, e.g. in an echoed id
        text = json.dumps(result, ensure_ascii=True, separators=(",", ":"))
    return text + "\n"


def _as_read(value: object) -> object:
    """orjson's hook for what it does not write itself: a ``meta`` number as
    its text in the line it came from; anything else is refused (and goes
    through :mod:`json`)."""
    if type(value) is EchoedFloat:
        return orjson.Fragment(value.text)
    raise TypeError


# types json.dumps refuses are refused by orjson too, so both raise alike
_ORJSON_LINE: Final = (
    orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


class _Interrupts:
    """SIGINT raises KeyboardInterrupt, but never while a line is being written.

    So an interrupted run's output holds complete lines only. Installed only
    in the main thread, and only over Python's default SIGINT handler.
    """

    def __init__(self) -> None:
        self.writing = False
        self.pending = False
        self.previous: Any = None

    def __enter__(self) -> _Interrupts:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.writing:
            self.pending = True
            return
        raise KeyboardInterrupt

    def write(self, out: IO[str], text: str) -> None:
        """Write ``text`` whole; an interrupt during it is raised afterwards."""
        self.writing = True
        try:
            out.write(text)
        finally:
            self.writing = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


def _load_policy(path: str | None) -> Policy:
    if path is None:
        return default_policy()
    try:
        return load_policy(path)
    except PolicyError as err:
        msg = f"bad policy: {err}"
        raise _UsageError(msg) from err


def _warn_late(late: tuple[int, str | None], err: IO[str]) -> None:
    """One line on stderr: complaints came too late for the monitor to correlate them fully."""
    count, first = late
    which = "complaint" if count == 1 else "complaints"
    err.write(
        f"csrules decide: warning: {count} {which} (the first: id {first!r}) came after"
        " complaints received more than the escalation window later, so complaints they"
        " repeat may have been forgotten and their B2C-8.7.1/8.7.5 escalations missed;"
        " sort complaints by received time (csrules batch does) for exact escalations\n"
    )


def _monitor(policy: Policy, backend: str, state: str | None = None, rules: Any = None) -> Any:
    """The escalation monitor of a run: new, or resumed from ``state``; on
    the stream rules of ``rules`` (a rule set), the bundled ones when ``None``."""
    from csrules.stream import EscalationMonitor

    if state is not None and not os.path.isdir(os.path.dirname(os.path.abspath(state))):
        folder = os.path.dirname(state) or "."
        msg = f"--state {state}: the folder {folder} does not exist (the state is saved there)"
        raise _UsageError(msg)
    if state is None or not os.path.exists(state):
        return EscalationMonitor(policy, backend=backend, ruleset=rules)  # type: ignore[arg-type]
    from csrules.exceptions import StreamError

    try:
        with open(state, encoding="utf-8") as saved:
            data = json.load(saved)
        return EscalationMonitor.restore(
            data,
            policy,
            backend=backend,  # type: ignore[arg-type]
            ruleset=rules,
        )
    except (OSError, ValueError, StreamError) as err:
        msg = f"bad state file {state}: {err}"
        raise _UsageError(msg) from err


def _save_state(monitor: Any, path: str) -> None:
    """Write the monitor's snapshot to ``path`` atomically (a temporary file, then a rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=".csrules-state-", dir=folder)
    except OSError as err:  # say the file asked for, not the temporary one
        raise OSError(err.errno, err.strerror, path) from err
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
    lines: Iterable[str | bytes], monitor: Any, path: str, every: int, out: IO[str]
) -> Iterator[str | bytes]:
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


def _load_rules(name: str | None) -> Any:
    if name is None:
        return None
    from csrules._ruleset import ruleset

    try:
        return ruleset(name)
    except CsrulesError as err:
        msg = f"bad rule set: {err}"
        raise _UsageError(msg) from err


def _cmd_decide(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    rules = _load_rules(args.rules)
    if rules is not None and args.policy is None:
        policy = _with_schedule(rules.policy, args.schedule)
    else:
        policy = _with_schedule(_load_policy(args.policy), args.schedule)
    if args.state is not None and args.no_stream:
        msg = "--state keeps the escalation monitor's state: it cannot go with --no-stream"
        raise _UsageError(msg)
    if args.state_every is not None and args.state is None:
        msg = "--state-every needs --state FILE"
        raise _UsageError(msg)
    with _reading(args.file) as lines, _Interrupts() as interrupts:
        if args.no_stream or (rules is not None and not rules.stream_rules):
            monitor = None  # a rule set without stream rules decides complaints one by one
        else:
            monitor = _monitor(policy, args.backend, args.state, rules)
        source: Iterable[str | bytes] = lines
        if args.state is not None and args.state_every:
            source = _saving(lines, monitor, args.state, args.state_every, out)
        progress = _Progress(args.progress or (args.progress is None and err.isatty()), err)
        results: list[dict[str, JSONValue]] = []
        try:
            for result in decide_lines(
                source,
                policy=policy,
                lang=args.lang,
                monitor=monitor,
                parameters=args.parameters,
                ruleset=rules,
            ):
                if args.format == "jsonl":
                    interrupts.write(out, _json_line(result))
                else:
                    results.append(result)
                progress.tick("error" in result)
            if args.state is not None:
                out.flush()
                _save_state(monitor, args.state)
        except KeyboardInterrupt:
            progress.finish()
            if args.format == "table":
                _write_table(results, progress, args.lang, out)
            if args.state is not None:  # what was decided is written: keep the state in step
                out.flush()
                _save_state(monitor, args.state)
            raise
        finally:
            if monitor is not None:
                late = monitor.too_late
                monitor.close()
        progress.finish()
        if args.format == "table":
            _write_table(results, progress, args.lang, out)
        if monitor is not None and late[0]:
            _warn_late(late, err)
    return EXIT_ERRORS if progress.errors else EXIT_OK


def _terminal_width(out: IO[str]) -> int | None:
    """The terminal's width in cells when ``out`` is a terminal, else ``None`` (no wrapping)."""
    try:
        is_terminal = out.isatty()
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size().columns if is_terminal else None


def _write_table(
    results: list[dict[str, JSONValue]], progress: _Progress, lang: Lang, out: IO[str]
) -> None:
    out.write(render_table(results, lang=lang, width=_terminal_width(out)) + "\n")
    if lang == "en":
        out.write(f"\n{progress.done} lines, {progress.errors} errors\n")
    else:
        out.write(f"\n共{progress.done}行,错误{progress.errors}行\n")


def _parse_now(text: str) -> Any:
    parsed = parse_aware_time(text)
    if parsed is None:
        example = "2026-05-06T18:00:00+08:00"
        msg = f"--now {text!r}: expected an ISO-8601 time with an offset, e.g. {example}"
        raise _UsageError(msg)
    return parsed


_LINE_NUMBER: Final = re.compile(r"line (\d+):")


def _cmd_watch(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules.stream import load_open_cases, overdue

    now = _parse_now(args.now)
    unreadable: list[str] = []

    def texts(lines: Iterable[str | bytes]) -> Iterator[str]:
        for number, line in enumerate(_text_lines(lines), start=1):
            if isinstance(line, _BadLine):
                unreadable.append(f"line {number}: {line.message}")
                yield ""  # keeps the numbering; blank lines are skipped
            else:
                yield line

    with _reading(args.file) as source:
        cases, problems = load_open_cases(texts(source))
    for problem in _by_line([*unreadable, *problems]):
        err.write(f"csrules watch: {_printable(problem)}\n")
    late = overdue(cases, now)
    if args.format == "jsonl":
        for item in late:
            out.write(_json_line(item.to_json()))
    else:
        out.write(_render_overdue(late) + "\n")
    return EXIT_ERRORS if problems or unreadable else EXIT_OK


def _by_line(problems: Sequence[str]) -> list[str]:
    """Problem messages in line order (those without a line number last)."""

    def key(message: str) -> int:
        found = _LINE_NUMBER.match(message)
        return int(found.group(1)) if found else sys.maxsize

    return sorted(problems, key=key)


def _render_overdue(late: Sequence[Any]) -> str:
    if not late:
        return "Nothing is overdue."
    rows: list[tuple[str, ...]] = [("id", "kind", "due", "late by", "tell", "clause")]
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
    rows = [tuple(_printable(str(cell)) for cell in row) for row in rows]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(_join(r, widths) for r in rows)


def _cmd_tables(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules._docs import tables_markdown

    out.write(tables_markdown(_load_rules(args.rules)))
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


def _cmd_schema(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules.io._schema import KINDS, case_schema

    if args.kind is not None and args.kind not in KINDS:
        msg = f"unknown kind {args.kind!r}: expected one of {', '.join(KINDS)}"
        raise _UsageError(msg)
    out.write(json.dumps(case_schema(args.kind), ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK


def positive(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number, 1 or more (``what`` names it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            msg = f"expected {what}, 1 or more (got {text!r})"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


_positive = positive("a whole number of lines")


def _cmd_test(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules._policytest import run_paths

    return run_paths(args.paths, out, err, show_coverage=args.coverage, verbose=args.verbose)


def _cmd_explain(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules._explain_cli import run

    return run(args, out, err)
def _cmd_batch(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from csrules.io._files import run_batch

    return run_batch(args, out, err)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        help="when the run itself fails (exit status 3), print the traceback too",
    )
    parser = argparse.ArgumentParser(
        prog="csrules",
        description="Decide customer-service cases by the shop's policy, citing the clauses.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"csrules {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "decide",
        help="decide JSON Lines cases (one result per line)",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    p.add_argument("file", nargs="?", default="-", help="JSON Lines cases, or - for stdin")
    p.add_argument("--policy", help="a policy TOML file, or a bundled name (b2c, taobao)")
    p.add_argument(
        "--rules",
        help="a rule set: b2c, taobao, or MODULE:ATTR importable from here or sys.path "
        "(--policy then replaces its parameters)",
    )
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

    w = sub.add_parser(
        "watch",
        help="list overdue answers and replies among open cases",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    w.add_argument("file", help="JSON Lines of open cases or of decided complaints, or -")
    w.add_argument("--now", required=True, help="the time to check against, ISO-8601 with offset")
    w.add_argument("--format", choices=("jsonl", "table"), default="table")
    w.set_defaults(handler=_cmd_watch)

    t = sub.add_parser("tables", help="print every rule table as Markdown", parents=[common])
    t.add_argument("--rules", help="a rule set: b2c, taobao, or MODULE:ATTR")
    t.set_defaults(handler=_cmd_tables)

    q = sub.add_parser("policy", help="print the policy's parameters as Markdown", parents=[common])
    q.add_argument("--policy", help="a policy TOML file, or a bundled name (b2c, taobao)")
    q.add_argument("--on", help="only the values in force on this date (YYYY-MM-DD)")
    q.set_defaults(handler=_cmd_policy)

    s = sub.add_parser(
        "schema", help="print the JSON Schema of a case (of one KIND, or any)", parents=[common]
    )
    s.add_argument("kind", nargs="?", help="return, complaint, promotion or price_adjustment")
    s.set_defaults(handler=_cmd_schema)

    y = sub.add_parser(
        "test",
        help="run policy tests (*.csrules.yaml): cases and the decisions they must get",
        description="Exit status: 0 all passed, 1 some failed (or, with --coverage, a clause"
        " no test exercises), 2 a missing path or a bad test file.",
        parents=[common],
    )
    y.add_argument(
        "paths", nargs="*", default=["."], metavar="PATH", help="test files or directories"
    )
    y.add_argument(
        "--coverage", action="store_true", help="list the rules and clauses no passing test fires"
    )
    y.add_argument("-v", "--verbose", action="store_true", help="list the tests that passed too")
    y.set_defaults(handler=_cmd_test)

    from csrules._explain_cli import add_parser as add_explain

    add_explain(sub, common)
    sub.choices["explain"].set_defaults(handler=_cmd_explain)
    from csrules._check_cli import add_check_parser

    add_check_parser(sub, common)
    from csrules.io._files import add_arguments

    b = sub.add_parser(
        "batch",
        help="decide a CSV, Parquet or JSON Lines file of cases into Parquet, CSV or JSON Lines",
        epilog=_EPILOG.replace("line", "row"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    add_arguments(b)
    b.set_defaults(handler=_cmd_batch)
    return parser


def main(
    argv: Sequence[str] | None = None, *, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """Run the ``csrules`` command; returns the exit status (see the module docstring)."""
    real_stdout = out is None
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if err is None:  # stderr closed (2>&-): messages go nowhere
        err = io.StringIO()
    if out is None:  # stdout closed (>&-)
        err.write("csrules: no standard output to write to (was it closed?)\n")
        return EXIT_FAILED
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if real_stdout:
        _make_safe(out, utf8=getattr(args, "format", None) in ("jsonl", "json"))
    command = f"csrules {args.command}"
    try:
        status: int = args.handler(args, out, err)
        out.flush()
    except _UsageError as exc:
        err.write(f"{command}: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return _interrupted(command, out, err, real_stdout)
    except BrokenPipeError:  # e.g. piped into head: the reader has all it wants
        _silence(out, real_stdout)
        return EXIT_OUTPUT_CLOSED  # not every line was written: not 0
    except _ReadError as exc:
        return _failed(command, str(exc), args, err)
    except OSError as exc:
        if exc.filename is not None:
            return _failed(command, f"cannot use {exc.filename}: {exc.strerror or exc}", args, err)
        _silence(out, real_stdout)
        return _failed(command, f"cannot write the output: {exc.strerror or exc}", args, err)
    except Exception as exc:
        message = f"failed: {type(exc).__name__}: {exc}"
        if not args.debug:
            message += " (run again with --debug for the traceback)"
        return _failed(command, message, args, err)
    return status


def _failed(command: str, message: str, args: argparse.Namespace, err: IO[str]) -> int:
    """Report a failed run in one line (and the traceback with ``--debug``): exit status 3."""
    if args.debug:
        traceback.print_exc(file=err)
    err.write(f"{command}: {_printable(message)}\n")
    return EXIT_FAILED


def _interrupted(command: str, out: IO[str], err: IO[str], real_stdout: bool) -> int:
    """Flush the complete lines written so far, then exit status 130."""
    try:
        out.flush()
    except OSError:
        _silence(out, real_stdout)
    err.write(f"{command}: interrupted\n")
    return EXIT_INTERRUPTED


def _make_safe(out: IO[str], *, utf8: bool) -> None:
    """Standard output never fails to encode: UTF-8 for JSON Lines, escapes otherwise."""
    if not hasattr(out, "reconfigure"):
        return
    with contextlib.suppress(ValueError, LookupError, OSError):
        if utf8:
            out.reconfigure(encoding="utf-8", errors="backslashreplace")
        else:
            out.reconfigure(errors="backslashreplace")


def _silence(out: IO[str], real_stdout: bool) -> None:
    """After a write failure, point stdout at devnull so the exit does not fail again."""
    if not real_stdout:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
