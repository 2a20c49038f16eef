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
import json
from typing import IO, Any

from csrules.cli import (
    EXIT_OK,
    _BadLine,
    _load_policy,
    _load_rules,
    _open_input,
    _ReadError,
    _terminal_width,
    _text_lines,
    _UsageError,
    _with_schedule,
    decide_line,
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


def _line_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a line number, 1 or more (got {text!r})"
        raise argparse.ArgumentTypeError(msg)
    return value


def _read_all(path: str) -> list[str | bytes]:
    source = _open_input(path)
    name = "standard input" if path == "-" else path
    try:
        return list(source)
    except OSError as err:
        msg = f"cannot read {name}: {err.strerror or err}"
        raise _ReadError(msg) from err
    finally:
        if path != "-":
            source.close()


def _pick(raw: list[str | bytes], line: int | None) -> tuple[str, int]:
    """The case's text and its line number."""
    texts = list(_text_lines(raw))
    if line is not None:
        if line > len(texts):
            msg = f"--line {line}: the input has only {len(texts)} line(s)"
            raise _UsageError(msg)
        chosen = texts[line - 1]
        if isinstance(chosen, _BadLine):
            raise _UsageError(f"line {line}: {chosen.code}: {_printable(chosen.message)}")
        return chosen, line
    filled = [(n, t) for n, t in enumerate(texts, start=1) if isinstance(t, _BadLine) or t.strip()]
    if not filled:
        msg = "no case in the input: expected one JSON case"
        raise _UsageError(msg)
    bad = next(((n, t) for n, t in filled if isinstance(t, _BadLine)), None)
    if bad is not None:
        number, problem = bad
        assert isinstance(problem, _BadLine)
        raise _UsageError(f"line {number}: {problem.code}: {_printable(problem.message)}")
    if len(filled) == 1:
        number, only = filled[0]
        assert isinstance(only, str)
        return only, number
    whole = "\n".join(t for t in texts if isinstance(t, str))
    try:
        json.loads(whole)
    except (ValueError, RecursionError):
        msg = (
            f"the input holds {len(filled)} lines that are not one JSON case: "
            "pick one case with --line N"
        )
        raise _UsageError(msg) from None
    return whole, 1


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``csrules explain`` (see the module docstring)."""
    from csrules._explain import explain
    from csrules._ruleset import ruleset as find
    from csrules.io._json import read_case_line

    rules = _load_rules(args.rules) or find("b2c")
    base = rules.policy if args.policy is None else _load_policy(args.policy)
    policy = _with_schedule(base, args.schedule)
    text, number = _pick(_read_all(args.file), args.line)
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
