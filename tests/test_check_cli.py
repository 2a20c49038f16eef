"""``csrules check``: the bundled rule sets are clean; each defect kind is found."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from csrules.cli import main

FIXTURES = Path(__file__).parent / "check_fixtures"


def run(*argv: str) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["check", *argv], out=out, err=err)
    return status, out.getvalue().splitlines(), err.getvalue()


@pytest.mark.parametrize(
    "argv", [(), ("--rules", "taobao"), ("--rules", "b2c", "--on", "2015-01-01")]
)
def test_bundled_rule_sets_are_clean(argv: tuple[str, ...]) -> None:
    assert run(*argv) == (0, [], "")


def test_the_command_as_ci_runs_it() -> None:
    for argv in ([], ["--rules", "taobao"]):
        done = subprocess.run(
            [sys.executable, "-m", "csrules.cli", "check", *argv],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


#: Each fixture shop (tests/check_fixtures/KIND_shop.py), the finding it must
#: give: (table, rule id, kind, words of the explanation).
EXPECTED = {
    "masked": ("freight_payer", "late_wrong_item", "masked", "'wrong_item'"),
    "unreachable": ("return_action", "signed_unpaid", "unreachable", "holds for no input"),
    "overlap": ("complaint_route", "bugs_to_service", "overlap", "topic=website_bug"),
    "gap": ("complaint_route", "-", "gap", "topic=service"),
    "band": ("reminder_lead", "band3", "band", "length_days from 6 to 7"),
    "empty_text": ("freight_payer", "customer_side", "empty_text", "en explanation"),
    "unused_param": ("-", "-", "unused_param", "'gift_wrap_fee'"),
    "unused_fact": ("-", "-", "unused_fact", "'vip' of kind 'return'"),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_defect_is_found(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    monkeypatch.syspath_prepend(str(FIXTURES))
    status, lines, err = run("--rules", f"{kind}_shop:RULES", "--on", "2026-12-01")
    assert status == 1
    assert err == ""
    table, rule, found_kind, words = EXPECTED[kind]
    parsed = [line.split("  ", 3) for line in lines]
    assert all(len(p) == 4 for p in parsed), lines
    hits = [p for p in parsed if p[:3] == [table, rule, found_kind]]
    assert hits, lines
    assert words in hits[0][3]
    # the fixture has that one defect and no other, but for the band shop,
    # whose band 2 is also unreachable
    others = [p for p in parsed if p[:3] != [table, rule, found_kind]]
    expected_others = [["reminder_lead", "band2", "unreachable"]] if kind == "band" else []
    assert [p[:3] for p in others] == expected_others


def test_a_shop_module_from_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--rules MODULE:ATTR`` imports from the current directory."""
    monkeypatch.chdir(FIXTURES)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    status, lines, _ = run("--rules", "gap_shop:RULES")
    assert status == 1
    assert len(lines) == 1


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--on", "2026-13-01"), "--on '2026-13-01': expected a date YYYY-MM-DD"),
        (("--on", "2009-12-31"), "no value in force on 2009-12-31"),
        (("--rules", "no_such_module:RULES"), "cannot import 'no_such_module'"),
        (("--rules", "b2c:"), "expected 'b2c', 'taobao' or 'MODULE:ATTR'"),
        (("--policy", "/no/such/policy.toml"), "bad policy"),
    ],
)
def test_usage_errors(argv: tuple[str, ...], words: str) -> None:
    status, lines, err = run(*argv)
    assert status == 2
    assert lines == []
    assert words in err


def test_policy_replaces_the_parameters() -> None:
    status, lines, _ = run("--policy", str(FIXTURES / "unused_param.toml"))
    assert status == 1
    assert lines == [
        "-  -  unused_param  The policy parameter 'gift_wrap_fee' is read by no table, derived "
        "fact or stream rule of rule set 'b2c'."
    ]


def test_a_stray_brace_is_refused_before_checking(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule whose text has a stray brace cannot be made: the rule set does not
    load (exit status 2, one line naming the rule), so it is never checked."""
    monkeypatch.chdir(FIXTURES)
    monkeypatch.syspath_prepend(str(FIXTURES))
    status, lines, err = run("--rules", "bad_placeholder_shop:RULES")
    assert (status, lines) == (2, [])
    assert "rule 'customer_side'" in err
    assert "not a valid template" in err
    assert err.count("\n") == 1
