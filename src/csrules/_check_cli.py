"""``csrules check``: static analysis of a rule set's tables (``docs/check.md``).

Exit status: 0 no finding, 1 some finding (one line each on standard
output: table, rule id, kind, explanation), 2 a usage error (a rule set or
policy that does not load, a bad date).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import IO, Any

from csrules.exceptions import CsrulesError, PolicyError

__all__ = ["add_check_parser", "run_check"]


def add_check_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the ``check`` subcommand on the subparsers ``sub``."""
    c = sub.add_parser(
        "check",
        help="find rules that never fire, overlaps, gaps, band holes and unused names",
        description="Analyse every table of a rule set without running a case. Exit status:"
        " 0 no finding, 1 some finding (one line each: table, rule, kind, explanation),"
        " 2 a usage error.",
        parents=[common],
    )
    c.add_argument(
        "--rules", default="b2c", help="a rule set: b2c (default), taobao, or MODULE:ATTR"
    )
    c.add_argument(
        "--policy", help="a policy TOML file, or a bundled name, replacing the rule set's"
    )
    c.add_argument(
        "--on",
        help="the date whose parameter values are used (YYYY-MM-DD; default today in"
        " Asia/Shanghai)",
    )
    c.set_defaults(handler=run_check)


def _date(text: str) -> dt.date:
    from csrules.cli import _UsageError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"--on {text!r}: expected a date YYYY-MM-DD"
        raise _UsageError(msg) from None


def run_check(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``csrules check``; the exit status (0 clean, 1 findings)."""
    from csrules.cli import _load_policy, _load_rules, _UsageError

    on = None if args.on is None else _date(args.on)
    rules = _load_rules(args.rules)
    if args.policy is not None:
        try:
            rules = rules.with_policy(_load_policy(args.policy))
        except CsrulesError as exc:
            msg = f"bad policy for rule set {rules.name!r}: {exc}"
            raise _UsageError(msg) from exc
    try:
        findings = rules.check(on)
    except PolicyError as exc:
        msg = f"--on {on}: {exc}"
        raise _UsageError(msg) from exc
    for finding in findings:
        out.write(f"{finding}\n")
    return 1 if findings else 0
