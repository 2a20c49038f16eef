"""``csrules explain``: one case in, the full reasoning out.

``csrules explain [FILE|-] [--line N] [--rules MODULE:ATTR] [--policy FILE]
[--schedule FILE] [--lang en|zh] [--format text|json]`` reads one JSON case
(the contract of ``docs/contract.md``) and writes its explanation
(:class:`csrules.Explanation`): every table in the order the rule set runs
them, the facts each read, each rule tried and why it did or did not fire,
the outputs, the parameters and the decision ``csrules decide`` gives.

Without ``--line`` the input holds one case, on one line or pretty-printed
over several; with ``--line N`` it is the N-th line of a JSON Lines file.
A case that cannot be read or decided gets one line on stderr with the
error code and message ``csrules decide`` writes for it, and exit status 2.
Complaints are explained on their own (no escalation monitor).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
from collections.abc import Iterator
from typing import IO, Any

from csrules.cli import (
    EXIT_OK,
    _BadLine,
    _load_policy,
    _load_rules,
    _reading,
    _terminal_width,
    _text_lines,
    _UsageError,
    _with_schedule,
    decide_line,
    positive,
)
from csrules.io._decisions import _printable

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``csrules explain`` on the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "explain",
        help="explain one case: each table, the facts it read, the rules tried and why",
        description="Explain how one JSON case is decided. Exit status: 0 explained, "
        "2 a usage error or a case that cannot be read or decided (one line on stderr, "
        "with the error code csrules decide gives), 3 the run itself failed.",
        parents=[common],
    )
    p.add_argument("file", nargs="?", default="-", help="a JSON case (or JSON Lines), or -")
    p.add_argument(
        "--line",
        metavar="N",
        type=_line_number,
        help="explain the case on line N of a JSON Lines input (default: the input is one case)",
    )
    p.add_argument("--rules", help="a rule set: b2c, taobao, or MODULE:ATTR (default: b2c)")
    p.add_argument("--policy", help="a policy TOML file, or a bundled name (b2c, taobao)")
    p.add_argument(
        "--schedule",
        help="a holiday schedule file (TOML or JSON) for years without official data",
    )
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument("--format", choices=("text", "json"), default="text")


_line_number = positive("a line number")


@contextlib.contextmanager
def _lines(path: str) -> Iterator[Iterator[str | _BadLine]]:
    """The input's lines as text (or :class:`_BadLine`), read as they are asked for."""
    with _reading(path) as raw:
        yield _text_lines(raw)


def _bad(number: int, line: _BadLine) -> _UsageError:
    return _UsageError(f"line {number}: {line.code}: {_printable(line.message)}")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _pick(lines: Iterator[str | _BadLine], line: int | None) -> tuple[str, int]:
    """The case's text and its line number; only the lines needed are read."""
    if line is not None:
        count = 0
        for count, text in enumerate(itertools.islice(lines, line), start=1):  # noqa: B007
            pass
        if count < line:
            msg = f"--line {line}: the input has only {count} line(s)"
            raise _UsageError(msg)
        if isinstance(text, _BadLine):
            raise _bad(line, text)
        return text, line
    kept: list[str] = []
    filled: list[int] = []
    for number, text in enumerate(lines, start=1):
        if isinstance(text, _BadLine):
            raise _bad(number, text)
        kept.append(text)
        if not text.strip():
            continue
        filled.append(number)
        if len(filled) == 2 and _is_json(kept[filled[0] - 1]):
            # the first line is a whole JSON value: this is JSON Lines
            msg = "the input holds more than one case: pick one with --line N"
            raise _UsageError(msg)
    if not filled:
        msg = "no case in the input: expected one JSON case"
        raise _UsageError(msg)
    if len(filled) == 1:
        return kept[filled[0] - 1], filled[0]
    whole = "\n".join(kept)
    if not _is_json(whole):
        msg = (
            f"the input holds {len(filled)} lines that are not one JSON case: "
            "pick one case with --line N"
        )
        raise _UsageError(msg)
    return whole, 1


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``csrules explain`` (see the module docstring)."""
    from csrules._explain import explain
    from csrules._ruleset import ruleset as find
    from csrules.io._json import read_case_line

    rules = _load_rules(args.rules) or find("b2c")
    base = rules.policy if args.policy is None else _load_policy(args.policy)
    policy = _with_schedule(base, args.schedule)
    with _lines(args.file) as lines:
        text, number = _pick(lines, args.line)
    extra: Any = rules.extra_facts() or None  # JSON type names, as read_case_line takes them
    try:
        read = read_case_line(text, facts=extra)
        explanation = explain(read.case, ruleset=rules, policy=policy, facts=read.facts)
    except Exception:
        # the same error code and message as csrules decide gives the line
        result, _ = decide_line(text, number, policy=policy, lang=args.lang, ruleset=rules)
        error = result.get("error")
        if not isinstance(error, dict):
            raise  # decided, yet not explained: the run itself failed
        message = _printable(str(error.get("message")))
        raise _UsageError(f"line {number}: {error.get('code')}: {message}") from None
    if args.format == "json":
        data = explanation.to_json(args.lang)
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(explanation.render(args.lang, width=_terminal_width(out)) + "\n")
    return EXIT_OK
