"""Policy tests as data: YAML files of cases and the decisions they must get.

A test file (``*.csrules.yaml``) is a list of tests; each names a rule set, an
optional policy file, one case (or a sequence of complaints) in the JSON case
contract, and a subset of the decision it must get (or the error it must be
refused with). Cases are decided exactly as ``csrules decide`` decides a line.
``csrules test`` and the pytest plugin (:mod:`csrules.pytest_plugin`) run them;
see ``docs/policy-tests.md``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import functools
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

import attrs
import yaml

from csrules._decision import Decision
from csrules._ruleset import RuleSet
from csrules.exceptions import (
    CsrulesError,
    PolicyError,
    PolicyTestError,
    RuleDefinitionError,
)
from csrules.io._json import JSONValue, parse_aware_time
from csrules.policy import Policy, load_policy
from csrules.rules import Table

__all__ = [
    "SUFFIX",
    "Coverage",
    "Diff",
    "Outcome",
    "PolicyTest",
    "coverage",
    "decide_json",
    "find_files",
    "format_coverage",
    "format_failure",
    "load_file",
    "resolve_ruleset",
    "run_paths",
    "run_test",
]

SUFFIX: Final = ".csrules.yaml"
"""The ending of a policy test file's name."""

DEFAULT_RULESET: Final = "b2c"
BUNDLED_RULESETS: Final = ("b2c", "taobao")

_KEYS: Final = ("name", "ruleset", "policy", "case", "cases", "expect", "expect_last", "error")
_LIST_MATCHERS: Final = ("contains", "excludes")


# -- rule sets -------------------------------------------------------------


@functools.cache
def resolve_ruleset(spec: str, directory: str | None = None) -> RuleSet:
    """The rule set a test names: ``b2c``, ``taobao`` or ``MODULE:ATTR``
    (as :func:`csrules.ruleset` finds it), the module importable from
    ``directory`` (the test file's) or the current directory.

    Raises:
        PolicyTestError: the name finds no rule set (``path`` is
            ``"ruleset"``, ``line`` ``None``).
    """
    from csrules._ruleset import ruleset

    module_name, sep, attr = spec.partition(":")
    if spec not in BUNDLED_RULESETS and (not sep or not module_name or not attr):
        close = difflib.get_close_matches(spec, BUNDLED_RULESETS, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        reason = (
            f"unknown rule set {spec!r}{hint}: expected one of "
            f"{', '.join(BUNDLED_RULESETS)} or MODULE:ATTR of a csrules RuleSet"
        )
        raise PolicyTestError("ruleset", None, reason)
    if directory is not None and sep:
        folder = os.path.abspath(directory)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        return ruleset(spec)
    except CsrulesError as err:
        raise PolicyTestError("ruleset", None, str(err)) from err


@functools.cache
def _ruleset_for(
    ruleset: str, directory: str | None, explicit: bool, policy_file: str | None
) -> RuleSet:
    """The rule set a test decides with: the one it names, with its policy file
    (on top of the rule set's parameters when it names the rule set too)."""
    found = resolve_ruleset(ruleset, directory)
    if policy_file is None:
        return found
    policy = load_policy(policy_file, base=found.policy if explicit else None)
    try:
        return found.with_policy(policy)
    except RuleDefinitionError as err:
        raise PolicyError(policy_file, "parameters", str(err)) from err


# -- reading test files ----------------------------------------------------


@attrs.frozen
class PolicyTest:
    """One test read from a file.

    Attributes:
        name: the test's name.
        path: the file it is in.
        line: the line its entry starts on (from 1).
        ruleset: the rule set's name.
        explicit_ruleset: whether the test named the rule set itself.
        policy: the policy file (resolved against the test file), or ``None``.
        cases: the JSON cases, in order.
        sequence: the cases came as ``cases:`` (a complaint sequence).
        expect: the subset of the (last) decision expected, or ``None``.
        error: the subset of the (last) error expected, or ``None``.
    """

    name: str
    path: str
    line: int
    ruleset: str
    explicit_ruleset: bool
    policy: str | None
    cases: tuple[Mapping[str, Any], ...]
    sequence: bool
    expect: Mapping[str, Any] | None
    error: Mapping[str, Any] | None

    @property
    def where(self) -> str:
        """``file:line`` of the test."""
        return f"{self.path}:{self.line}"

    @property
    def directory(self) -> str:
        """The directory of the test's file (a ``MODULE:ATTR`` rule set imports from it)."""
        return os.path.dirname(self.path) or "."


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing the same key twice in a mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        checked: set[int] = self.__dict__.setdefault("_checked", set())
        if id(node) not in checked:  # merging (`<<`) rewrites the node: check it once
            checked.add(id(node))
            self._check_keys(node)
        return super().construct_mapping(node, deep=deep)

    def _check_keys(self, node: yaml.MappingNode) -> None:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged in with `<<` may be overridden
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {seen[key]})",
                    key_node.start_mark,
                )
            if isinstance(key, str):
                seen[key] = line


def _yaml_problem(path: str, err: yaml.YAMLError) -> PolicyTestError:
    mark = getattr(err, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    shown = problem if context is None else f"{context}, {problem}"
    reason = f"not valid YAML: {shown}"
    if "duplicate key" in str(problem):
        reason = str(problem)
    return PolicyTestError(path, line, reason)


def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The test files among ``paths``: files as given, directories searched for ``*.csrules.yaml``.

    Raises:
        PolicyTestError: a path does not exist.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob(f"*{SUFFIX}") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise PolicyTestError(str(path), None, "no such file or directory")
    return list(dict.fromkeys(found))


def load_file(path: str | os.PathLike[str]) -> list[PolicyTest]:
    """Read the tests of one file.

    Raises:
        PolicyTestError: the file cannot be read, is not YAML, or a test in it
            is malformed; the message gives the file, the line and the reason.
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PolicyTestError(name, None, f"cannot read: {err}") from err
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise PolicyTestError(name, None, "no tests: expected a list of tests")
        if not isinstance(root, yaml.SequenceNode):
            reason = "expected a list of tests, each starting with `- name: ...`"
            raise PolicyTestError(name, root.start_mark.line + 1, reason)
        tests: list[PolicyTest] = []
        names: dict[str, int] = {}
        for node in root.value:
            line = node.start_mark.line + 1
            data = loader.construct_document(node)
            key_lines = {
                str(key.value): key.start_mark.line + 1
                for key, _ in (node.value if isinstance(node, yaml.MappingNode) else ())
            }
            test = _test(name, line, data, key_lines)
            if test.name in names:
                first = names[test.name]
                reason = f"a second test named {test.name!r} (the first is on line {first})"
                raise PolicyTestError(name, line, reason)
            names[test.name] = line
            tests.append(test)
    except yaml.YAMLError as err:
        raise _yaml_problem(name, err) from err
    finally:
        loader.dispose()
    return tests


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _test(path: str, line: int, data: object, key_lines: Mapping[str, int]) -> PolicyTest:
    def bad(reason: str, key: str | None = None) -> PolicyTestError:
        return PolicyTestError(path, key_lines.get(key, line) if key else line, reason)

    if not isinstance(data, dict):
        raise bad(f"a test must be a mapping with `name`, `case` and `expect`, got {data!r}")
    for key in data:
        if key not in _KEYS:
            hint = _did_you_mean(str(key), _KEYS)
            raise bad(f"unknown key `{key}`{hint}; a test has {', '.join(_KEYS)}", str(key))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad("every test needs a `name`: a non-empty string")
    where = f"test {name!r}"
    ruleset = data.get("ruleset", DEFAULT_RULESET)
    if not isinstance(ruleset, str) or not ruleset:
        raise bad(f"{where}: `ruleset` must be a name such as b2c or taobao, got {ruleset!r}")
    try:
        resolve_ruleset(ruleset, os.path.dirname(path) or ".")
    except PolicyTestError as err:
        raise bad(f"{where}: {err.reason}") from err
    policy = data.get("policy")
    if policy is not None:
        if not isinstance(policy, str) or not policy:
            raise bad(f"{where}: `policy` must be a file name, got {policy!r}")
        policy = os.path.normpath(os.path.join(os.path.dirname(path), policy))
        if not os.path.isfile(policy):
            raise bad(f"{where}: policy file {policy} does not exist")
    if ("case" in data) == ("cases" in data):
        raise bad(f"{where}: give exactly one of `case` (one case) or `cases` (a sequence)")
    sequence = "cases" in data
    raw_cases = data["cases"] if sequence else [data["case"]]
    if not isinstance(raw_cases, list) or not raw_cases:
        raise bad(f"{where}: `cases` must be a non-empty list of cases")
    cases: list[Mapping[str, Any]] = []
    for index, raw in enumerate(raw_cases):
        label = f"cases[{index}]" if sequence else "case"
        if not isinstance(raw, dict):
            raise bad(f"{where}: `{label}` must be a mapping (a JSON case), got {raw!r}")
        case = _json_ready(raw, label, lambda reason: bad(reason, "cases" if sequence else "case"))
        if "id" not in case:
            case = {"id": name if not sequence else f"{name} #{index + 1}", **case}
        cases.append(case)
    expect_key = "expect_last" if sequence else "expect"
    wrong_key = "expect" if sequence else "expect_last"
    if wrong_key in data:
        raise bad(
            f"{where}: `{wrong_key}` goes with "
            f"{'`case`' if wrong_key == 'expect' else '`cases`'}; here write `{expect_key}`"
        )
    if (expect_key in data) == ("error" in data):
        raise bad(f"{where}: give exactly one of `{expect_key}` (a decision) or `error`")
    expected = data.get(expect_key, data.get("error"))
    label = expect_key if expect_key in data else "error"
    if not isinstance(expected, dict) or not expected:
        raise bad(f"{where}: `{label}` must be a mapping of fields to their expected values")
    _check_expected(expected, label, lambda reason: bad(reason, label))
    return PolicyTest(
        name=name,
        path=path,
        line=line,
        ruleset=ruleset,
        explicit_ruleset="ruleset" in data,
        policy=policy,
        cases=tuple(cases),
        sequence=sequence,
        expect=expected if expect_key in data else None,
        error=expected if "error" in data else None,
    )


def _naive(value: dt.datetime, where: str) -> str:
    shown = value.isoformat(sep=" ")
    return (
        f"`{where}`: {shown} is a time without an offset (YAML read it as a naive timestamp);"
        f" a naive time is an error: quote it and give the offset,"
        f' e.g. "{value.replace(tzinfo=None).isoformat()}+08:00"'
    )


def _json_ready(value: Any, where: str, bad: Any) -> Any:
    """A YAML value as the JSON the contract reads; YAML dates and times become strings."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise bad(f"`{where}`: key {key!r} must be a string")
            out[key] = _json_ready(item, f"{where}.{key}", bad)
        return out
    if isinstance(value, list):
        return [_json_ready(item, f"{where}[{i}]", bad) for i, item in enumerate(value)]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise bad(_naive(value, where))
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _check_expected(value: Any, where: str, bad: Any) -> None:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        raise bad(_naive(value, where))
    if isinstance(value, dict):
        matchers = [k for k in value if k in _LIST_MATCHERS]
        if matchers and len(value) != len(matchers):
            raise bad(f"`{where}`: `{matchers[0]}` cannot be mixed with field names")
        for key, item in value.items():
            if not isinstance(key, str):
                raise bad(f"`{where}`: key {key!r} must be a string")
            if key in _LIST_MATCHERS and not isinstance(item, list | str):
                raise bad(f"`{where}.{key}` must be a list (or a string to find in a text)")
            _check_expected(item, f"{where}.{key}", bad)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_expected(item, f"{where}[{i}]", bad)


# -- deciding ----------------------------------------------------------------


def decide_json(
    line: str,
    *,
    policy: Policy,
    monitor: Any = None,
    number: int = 1,
    ruleset: RuleSet | None = None,
) -> tuple[dict[str, JSONValue], Decision | None]:
    """Decide one JSON case line as ``csrules decide`` does: its result and the decision.

    The result is the line ``csrules decide`` writes (a decision or an
    error); the decision is ``None`` for an error. With ``ruleset``, its
    rules decide (``policy`` giving the parameters).
    """
    from csrules.cli import decide_line

    return decide_line(line, number, policy=policy, monitor=monitor, ruleset=ruleset)


# -- comparing ---------------------------------------------------------------


@attrs.frozen
class Diff:
    """One field that differs: its path, what was expected and what came."""

    field: str
    expected: str
    got: str


@attrs.frozen
class Outcome:
    """The result of running one test.

    Attributes:
        test: the test.
        diffs: the fields that differ (empty when it passed).
        result: the (last) result line, as ``csrules decide`` writes it.
        decisions: the decisions made, for every case of the test.
        problem: a reason the test could not run (a bad policy file), or ``None``.
    """

    test: PolicyTest
    diffs: tuple[Diff, ...]
    result: Mapping[str, Any]
    decisions: tuple[Decision, ...]
    problem: str | None = None

    @property
    def passed(self) -> bool:
        """Every expectation held."""
        return not self.diffs and self.problem is None


def _show(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=str)


def _number(value: Any) -> decimal.Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            number = decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _equal(expected: Any, got: Any) -> bool:
    if isinstance(expected, dt.datetime):
        parsed = parse_aware_time(got) if isinstance(got, str) else None
        return parsed is not None and bool(parsed == expected)
    if isinstance(expected, dt.date):
        return isinstance(got, str) and got == expected.isoformat()
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        number = _number(got)
        return number is not None and number == _number(expected)
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(_equal(e, g) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, dict):
        return isinstance(got, dict) and not _compare(expected, got, "")
    same: bool = expected == got
    return same


def _compare(expected: Mapping[str, Any], got: Mapping[str, Any], prefix: str) -> list[Diff]:
    diffs: list[Diff] = []
    for key, want in expected.items():
        field = f"{prefix}{key}"
        if key not in got:
            hint = _did_you_mean(key, list(got))
            diffs.append(Diff(field, _show_expected(want), f"(no such field{hint})"))
            continue
        have = got[key]
        if isinstance(want, dict) and set(want) <= set(_LIST_MATCHERS):
            diffs.extend(_match_list(field, want, have))
        elif isinstance(want, dict) and isinstance(have, dict):
            diffs.extend(_compare(want, have, f"{field}."))
        elif isinstance(want, dict) and isinstance(have, list) and len(want) == 1:
            [name] = want  # a matcher misspelt: `contain:`
            hint = _did_you_mean(str(name), _LIST_MATCHERS)
            diffs.append(Diff(field, f"{_show(want)} (`{name}` is no matcher{hint})", _show(have)))
        elif not _equal(want, have):
            shown, had = _show_expected(want), _show(have)
            if shown == had:  # alike on the page: say the types ("true" is text)
                shown = f"{json.dumps(want, default=str)} ({type(want).__name__})"
                had = f"{json.dumps(have, default=str)} ({type(have).__name__})"
            diffs.append(Diff(field, shown, had))
    return diffs


def _show_expected(want: Any) -> str:
    if isinstance(want, dict) and want and set(want) <= set(_LIST_MATCHERS):
        return "; ".join(f"{k} {_show(v)}" for k, v in want.items())
    return _show(want)


def _match_list(field: str, want: Mapping[str, Any], have: Any) -> list[Diff]:
    diffs: list[Diff] = []
    for matcher, items in want.items():
        if isinstance(items, str):
            found = isinstance(have, str | list) and items in have
            ok = found if matcher == "contains" else not found
            if not ok:
                diffs.append(Diff(field, f"{matcher} {items!r}", _show(have)))
            continue
        if not isinstance(have, list):
            diffs.append(Diff(field, f"{matcher} {_show(items)}", f"{_show(have)} (not a list)"))
            continue
        if matcher == "contains":
            off = [i for i in items if not any(_equal(i, h) for h in have)]
            note = "missing"
        else:
            off = [i for i in items if any(_equal(i, h) for h in have)]
            note = "present"
        if off:
            diffs.append(
                Diff(field, f"{matcher} {_show(items)}", f"{_show(have)} ({note}: {_show(off)})")
            )
    return diffs


def run_test(test: PolicyTest) -> Outcome:
    """Decide a test's case(s) and compare the (last) result with its expectations."""
    try:
        rules = _ruleset_for(test.ruleset, test.directory, test.explicit_ruleset, test.policy)
    except (PolicyError, PolicyTestError) as err:
        return Outcome(test, (), {}, (), problem=f"bad policy: {err}")
    from csrules.stream import EscalationMonitor

    policy = rules.policy
    monitor = EscalationMonitor(policy, rules=rules.stream_rules) if rules.stream_rules else None
    decisions: list[Decision] = []
    result: Mapping[str, Any] = {}
    try:
        for number, case in enumerate(test.cases, start=1):
            line = json.dumps(case, ensure_ascii=False)
            result, decision = decide_json(
                line, policy=policy, monitor=monitor, number=number, ruleset=rules
            )
            if decision is not None:
                decisions.append(decision)
    finally:
        if monitor is not None:
            monitor.close()
    diffs: list[Diff] = []
    if test.error is not None:
        if "error" in result:
            diffs = _compare(test.error, result["error"], "error.")
        else:
            diffs = [Diff("error", _show_expected(test.error), "a decision (not refused)")]
    elif test.expect is not None:
        if "decision" in result:
            diffs = _compare(test.expect, result["decision"], "")
        else:
            error = result.get("error", {})
            got = f"refused: {error.get('code')}: {error.get('message')}"
            diffs = [Diff("(decision)", "a decision", got)]
    return Outcome(test, tuple(diffs), result, tuple(decisions))


# -- reporting ---------------------------------------------------------------


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def format_failure(outcome: Outcome) -> str:
    """What a failed test shows: name, file:line, each differing field, the rules that fired."""
    test = outcome.test
    kind = test.cases[-1].get("kind", "?")
    case_id = outcome.result.get("id", test.cases[-1].get("id"))
    case = f"{kind} case" if case_id == test.name else f"{kind} case {case_id}"
    lines = [
        f"FAILED {test.name}",
        f"  at {test.where}",
        f"  rule set {test.ruleset}"
        + (f", policy {test.policy}" if test.policy else "")
        + f"; {case}"
        + (f", the last of {len(test.cases)}" if test.sequence else ""),
    ]
    if outcome.problem is not None:
        lines.append(f"  could not run: {outcome.problem}")
        return "\n".join(lines)
    for diff in outcome.diffs:
        lines.extend(
            [f"  {diff.field}:", f"    expected: {diff.expected}", f"    got:      {diff.got}"]
        )
    error = outcome.result.get("error")
    if isinstance(error, Mapping) and test.error is None:
        lines.append(f"  the case was refused ({error.get('code')}):")
        lines.append(_indent(str(error.get("message")), "    "))
    decision = outcome.result.get("decision")
    if isinstance(decision, Mapping) and outcome.decisions:
        shown = {
            k: v
            for k, v in decision.items()
            if k not in {"rules", "explanation", "parameters", "duties", "outreach"}
        }
        lines.append("  decision: " + ", ".join(f"{k} {_show(v)}" for k, v in shown.items()))
        lines.append("  rules that fired:")
        for fired in outcome.decisions[-1].trace.cited:
            lines.append(
                f"    {fired.clause:<12} {fired.table.name}/{fired.rule.id}: "
                f"{fired.explanation('en')}"
            )
    return "\n".join(lines)


@attrs.frozen
class Coverage:
    """What the passing tests of one rule set exercised.

    Attributes:
        names: the rule set names counted together (same tables).
        tables: their tables.
        missing_rules: rows no passing test fired, as ``(table name, rule id, clause)``.
        missing_clauses: clauses none of whose rows fired.
    """

    names: tuple[str, ...]
    tables: tuple[Table, ...]
    missing_rules: tuple[tuple[str, str, str], ...]
    missing_clauses: tuple[str, ...]

    @property
    def rule_count(self) -> int:
        """How many rows the tables have."""
        return sum(len(t.rules) for t in self.tables)

    @property
    def clauses(self) -> tuple[str, ...]:
        """Every clause the tables cite, sorted."""
        return tuple(sorted({r.clause for t in self.tables for r in t.rules}))


def coverage(outcomes: Iterable[Outcome]) -> list[Coverage]:
    """The rows and clauses no passing test fired, per rule set.

    Rule sets with the same tables (the bundled ``b2c`` and ``taobao``, which
    differ only in parameters) are counted together: a row is covered when a
    passing test of either fired it (silent rows too).
    """
    groups: dict[tuple[int, ...], tuple[list[str], tuple[Table, ...], set[tuple[str, str]]]] = {}
    for outcome in outcomes:
        ruleset = resolve_ruleset(outcome.test.ruleset, outcome.test.directory)
        every = tuple(t for _, t in ruleset.tables())
        key = tuple(id(t) for t in every)
        names, tables, fired = groups.setdefault(key, ([], every, set()))
        if ruleset.name not in names:
            names.append(ruleset.name)
        if outcome.passed:
            for decision in outcome.decisions:
                fired.update((f.table.name, f.rule.id) for f in decision.trace.fired)
    report = []
    for names, tables, fired in groups.values():
        rows = [(t.name, r.id, r.clause) for t in tables for r in t.rules]
        missing = tuple(row for row in rows if row[:2] not in fired)
        covered = {clause for name, rule, clause in rows if (name, rule) in fired}
        clauses = sorted({clause for _, _, clause in rows} - covered)
        report.append(Coverage(tuple(names), tables, missing, tuple(clauses)))
    return report


def format_coverage(report: Sequence[Coverage]) -> str:
    """The coverage report as text: per rule set, the clauses and rules no test fired."""
    lines: list[str] = []
    for item in report:
        rules = item.rule_count
        clauses = len(item.clauses)
        lines.append(
            f"coverage of rule set {', '.join(item.names)}:"
            f" {clauses - len(item.missing_clauses)} of {clauses} clauses,"
            f" {rules - len(item.missing_rules)} of {rules} rules fired in a passing test"
        )
        if item.missing_clauses:
            lines.append("  clauses no test exercises: " + ", ".join(item.missing_clauses))
        if item.missing_rules:
            lines.append("  rules no test fires:")
            lines.extend(
                f"    {clause:<12} {table}/{rule}" for table, rule, clause in item.missing_rules
            )
    return "\n".join(lines)


def _tests_in(files: Sequence[Path], err: IO[str]) -> tuple[list[PolicyTest], int]:
    tests: list[PolicyTest] = []
    bad = 0
    for file in files:
        try:
            tests.extend(load_file(file))
        except PolicyTestError as exc:
            bad += 1
            err.write(f"csrules test: bad test file: {exc}\n")
    return tests, bad


def run_paths(
    paths: Sequence[str],
    out: IO[str],
    err: IO[str],
    *,
    show_coverage: bool = False,
    verbose: bool = False,
) -> int:
    """Run the tests of ``paths`` (``csrules test``); returns the exit status.

    0 when all passed (and, with ``show_coverage``, every clause was
    exercised), 1 when some failed (or some clause is uncovered), 2 for a missing path or a bad
    test file (reported with file, line and reason; the good files still run).
    """
    try:
        files = find_files(paths)
    except PolicyTestError as exc:
        err.write(f"csrules test: {exc}\n")
        return 2
    if not files:
        err.write(f"csrules test: no *{SUFFIX} files in {', '.join(paths)}\n")
        return 2
    tests, bad = _tests_in(files, err)
    outcomes = [run_test(test) for test in tests]
    failed = [o for o in outcomes if not o.passed]
    for outcome in outcomes:
        if outcome.passed:
            if verbose:
                out.write(f"ok     {outcome.test.name} ({outcome.test.where})\n")
        else:
            out.write(format_failure(outcome) + "\n\n")
    out.write(
        f"{len(outcomes)} tests in {len(files) - bad} files: "
        f"{len(outcomes) - len(failed)} passed, {len(failed)} failed"
        + (f"; {bad} bad test files" if bad else "")
        + "\n"
    )
    uncovered = False
    if show_coverage:
        report = coverage(outcomes)
        uncovered = any(item.missing_clauses for item in report)
        if report:
            out.write(format_coverage(report) + "\n")
    if bad:
        return 2
    return 1 if failed or uncovered else 0
