"""Policy tests as data: ``csrules test``, the YAML format, coverage and the pytest plugin."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csrules import RuleSet
from csrules._docs import all_tables
from csrules._policytest import (
    _equal,
    coverage,
    decide_json,
    format_failure,
    load_file,
    resolve_ruleset,
    run_test,
)
from csrules.cli import decide_lines, main
from csrules.exceptions import PolicyTestError
from csrules.policy import load_policy
from csrules.stream import EscalationMonitor

ROOT = Path(__file__).resolve().parent.parent
POLICY_TESTS = ROOT / "tests" / "policy"

SIGNED_RETURN = """\
- name: {name}
  case:
    kind: return
    at: "2026-05-06T10:00:00+08:00"
    order:
      id: X1
      customer_id: C1
      status: signed
      placed_at: "2026-04-28T10:00:00+08:00"
      paid_at: "2026-04-28T10:05:00+08:00"
      shipped_at: "2026-04-29T09:00:00+08:00"
      signed_at: "2026-04-30T15:00:00+08:00"
      lines: [{{sku: "8892", unit_price: "200.00", quantity: 1}}]
    request:
      type: return
      reason: quality_defect
      condition: {{tag_intact: true, unwashed: true, undamaged: true,
                  delivery_note_complete: true, order_number_given: true,
                  delivery_note_number_given: true}}
  expect:
{expect}
"""


def _file(tmp_path: Path, text: str, name: str = "t.csrules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _signed(tmp_path: Path, expect: str, name: str = "a quality return") -> Path:
    body = textwrap.indent(textwrap.dedent(expect).strip(), "    ")
    return _file(tmp_path, SIGNED_RETURN.format(name=name, expect=body))


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["test", *map(str, args)], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


# -- the shipped policy tests ------------------------------------------------


class TestShipped:
    def test_every_clause_of_both_bundled_rule_sets_is_covered(self) -> None:
        status, out, err = run("--coverage", POLICY_TESTS)
        assert status == 0, out + err
        assert "failed" in out
        assert " 0 failed" in out
        assert "clauses no test exercises" not in out

    def test_coverage_counts_every_table_row_of_both_rule_sets(self) -> None:
        from csrules._policytest import find_files

        tests = [t for f in find_files([POLICY_TESTS]) for t in load_file(f)]
        assert {t.ruleset for t in tests} == {"b2c", "taobao"}
        outcomes = [run_test(t) for t in tests]
        assert all(o.passed for o in outcomes)
        (report,) = coverage(outcomes)
        assert set(report.names) == {"b2c", "taobao"}
        every_clause = {r.clause for t in all_tables() for r in t.rules}
        assert set(report.clauses) == every_clause
        assert report.missing_clauses == ()
        # the freight table's last row is a safety net no shipped action reaches
        # (docs/decisions.md, "Freight"); every other row fires in some test
        assert [(t, r) for t, r, _ in report.missing_rules] == [("freight_payer", "customer_side")]

    def test_taobao_rows_fire_under_taobao(self) -> None:
        tests = load_file(POLICY_TESTS / "taobao.csrules.yaml")
        fired = {
            f.rule.id for o in map(run_test, tests) for d in o.decisions for f in d.trace.fired
        }
        assert {"cancel_by_customer", "taobao_stock_out", "taobao_unshipped"} <= fired
        assert {"tag_or_packaging_missing", "quote_preshipment_refund"} <= fired


# -- the same path as csrules decide -------------------------------------------


@pytest.mark.parametrize("name", ["cases.jsonl", "bad-cases.jsonl"])
@pytest.mark.parametrize("stream", [False, True])
def test_decide_json_is_csrules_decide(name: str, stream: bool) -> None:
    lines = (ROOT / "examples" / name).read_text("utf-8").splitlines()
    policy = load_policy("b2c")
    ours_monitor = EscalationMonitor(policy) if stream else None
    theirs_monitor = EscalationMonitor(policy) if stream else None
    try:
        ours = [
            decide_json(line, policy=policy, monitor=ours_monitor, number=n)[0]
            if line.strip()
            else None
            for n, line in enumerate(lines, start=1)
        ]
        theirs = list(decide_lines(lines, policy=policy, monitor=theirs_monitor))
    finally:
        for monitor in (ours_monitor, theirs_monitor):
            if monitor is not None:
                monitor.close()
    assert len(ours) == len(theirs)
    for mine, cli in zip(ours, theirs, strict=True):
        if mine is not None:
            assert mine == cli


# -- expectations ------------------------------------------------------------


class TestExpectations:
    def test_pass(self, tmp_path: Path) -> None:
        path = _signed(
            tmp_path,
            """
            action: normal_return
            refund_due: 2026-05-14
            approvals: []
            rules: {contains: [B2C-7.4.2, TB-1.4.2], excludes: [LAW-25.1]}
            parameters: {refund_working_days: {value: 7, since: 2010-04-01}}
            """,
        )
        assert run(path)[0] == 0

    def test_a_list_matches_exactly(self, tmp_path: Path) -> None:
        path = _signed(tmp_path, "rules: [B2C-7.4.2, TB-1.4.2]")
        status, out, _ = run(path)
        assert status == 1
        assert "rules:" in out

    def test_failure_report(self, tmp_path: Path) -> None:
        path = _signed(
            tmp_path,
            """
            freight_payer: customer
            refund_due: 2026-05-15
            rules: {contains: [B2C-9.9]}
            """,
            name="freight for a defect",
        )
        status, out, _ = run(path)
        assert status == 1
        assert "FAILED freight for a defect" in out
        assert f"at {path}:1" in out
        assert "  freight_payer:\n    expected: customer\n    got:      merchant" in out
        assert "  refund_due:\n    expected: 2026-05-15\n    got:      2026-05-14" in out
        assert "(missing: [B2C-9.9])" in out
        assert "rules that fired:" in out
        assert "TB-1.4.2     freight_payer/quality_problem: Quality problem" in out
        assert "1 tests in 1 files: 0 passed, 1 failed" in out

    def test_unknown_decision_field_is_named(self, tmp_path: Path) -> None:
        path = _signed(tmp_path, "refund_dew: 2026-05-14")
        status, out, _ = run(path)
        assert status == 1
        assert "(no such field (did you mean `refund_due`?))" in out

    def test_aware_time_compares_as_an_instant(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            """
            - name: finance answers in 2 hours
              case:
                kind: complaint
                at: "2026-05-06T10:00:00+08:00"
                complaint: {customer_id: C1, channel: phone, topic: payment_verification}
              expect:
                answer_due: 2026-05-06T04:00:00Z
            """,
        )
        assert run(path)[0] == 0

    def test_refusal_expected(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            """
            - name: float money
              case:
                kind: complaint
                at: "2026-05-06T10:00:00+08:00"
                complaint: {customer_id: C1, channel: phone, topic: service, order_amount: 12.5}
              error: {code: invalid_value, message: {contains: complaint.order_amount}}
            - name: a decision where a refusal was expected
              case:
                kind: complaint
                at: "2026-05-06T10:00:00+08:00"
                complaint: {customer_id: C1, channel: phone, topic: service}
              error: {code: invalid_value}
            """,
        )
        status, out, _ = run(path)
        assert status == 1
        assert "FAILED a decision where a refusal was expected" in out
        assert "got:      a decision (not refused)" in out
        assert "FAILED float money" not in out

    def test_unexpected_refusal_shows_the_message(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            """
            - name: misspelt key
              case:
                kind: complaint
                at: "2026-05-06T10:00:00+08:00"
                complaint: {customer_id: C1, channel: phone, topik: service}
              expect: {route_to: customer_service}
            """,
        )
        status, out, _ = run(path)
        assert status == 1
        assert "the case was refused (unknown_field)" in out
        assert "complaint.topik" in out

    def test_sequence_through_one_monitor(self, tmp_path: Path) -> None:
        complaint = (
            '{kind: complaint, at: "2026-05-0%dT10:00:00+08:00", complaint: '
            "{customer_id: C7, channel: phone, topic: service, about_department: logistics}}"
        )
        path = _file(
            tmp_path,
            f"""
            - name: repeat
              cases: [{complaint % 6}, {complaint % 7}]
              expect_last: {{escalate_to: [general_manager], rules: {{contains: [B2C-8.7.1]}}}}
            - name: alone
              case: {complaint % 7}
              expect: {{escalate_to: []}}
            """,
        )
        assert run(path)[0] == 0

    def test_policy_file_is_relative_to_the_test_file(self, tmp_path: Path) -> None:
        (tmp_path / "shop.toml").write_text(
            '[policy]\nname = "shop"\nextends = "b2c"\ndescription = "slow refunds"\n\n'
            "[parameters.refund_working_days]\nvalues = { 2010-04-01 = 10 }\n",
            encoding="utf-8",
        )
        text = SIGNED_RETURN.format(name="slow", expect="    refund_due: 2026-05-19")
        text = text.replace("  case:", "  policy: shop.toml\n  case:", 1)
        path = _file(tmp_path, text)
        status, out, _ = run(path)
        assert status == 0, out

    @given(st.dates(), st.dates())
    def test_yaml_dates_equal_their_json_strings(self, a: dt.date, b: dt.date) -> None:
        assert _equal(a, b.isoformat()) == (a == b)

    @given(
        st.datetimes(
            min_value=dt.datetime(1901, 1, 1),
            max_value=dt.datetime(9998, 1, 1),
            timezones=st.sampled_from(
                [dt.UTC, dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-5))]
            ),
        )
    )
    def test_times_compare_as_instants(self, when: dt.datetime) -> None:
        shanghai = when.astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert _equal(when, shanghai.isoformat())
        assert not _equal(when, (shanghai + dt.timedelta(seconds=1)).isoformat())


# -- bad test files ------------------------------------------------------------


class TestBadFiles:
    @pytest.mark.parametrize(
        ("text", "line", "reason"),
        [
            ("- name: a\n  name: b\n", 2, "duplicate key 'name' (first given on line 1)"),
            (
                "- name: a\n  case: {}\n  expcet: {}\n",
                3,
                "unknown key `expcet` (did you mean `expect`?)",
            ),
            ("name: a\n", 1, "expected a list of tests"),
            ("- name: a\n  case: [\n", 3, "not valid YAML"),
            ("- name: a\n  case: {kind: return}\n", 1, "give exactly one of `expect`"),
            (
                "- name: a\n  case: {kind: return}\n  cases: []\n  expect: {a: 1}\n",
                1,
                "give exactly one of `case` (one case) or `cases`",
            ),
            (
                "- name: a\n  cases: [{kind: complaint}]\n  expect: {a: 1}\n",
                1,
                "`expect` goes with `case`; here write `expect_last`",
            ),
            (
                "- name: a\n  ruleset: tabao\n  case: {}\n  expect: {a: 1}\n",
                1,
                "unknown rule set 'tabao' (did you mean `taobao`?)",
            ),
            (
                "- name: a\n  policy: nowhere.toml\n  case: {}\n  expect: {a: 1}\n",
                1,
                "nowhere.toml does not exist",
            ),
            (
                "- name: a\n  case: {kind: return}\n  expect: {a: 1}\n"
                "- name: a\n  case: {kind: return}\n  expect: {a: 1}\n",
                4,
                "a second test named 'a' (the first is on line 1)",
            ),
        ],
    )
    def test_reported_with_file_line_and_reason(
        self, tmp_path: Path, text: str, line: int, reason: str
    ) -> None:
        path = _file(tmp_path, text)
        with pytest.raises(PolicyTestError) as caught:
            load_file(path)
        assert caught.value.line == line
        assert reason in caught.value.reason
        status, _, err = run(path)
        assert status == 2
        assert f"{path}:{line}: " in err

    def test_unquoted_naive_timestamp(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            """
            - name: naive
              case: {kind: complaint, at: 2026-05-06 10:00:00, complaint: {}}
              expect: {route_to: finance}
            """,
        )
        with pytest.raises(PolicyTestError, match="quote it") as caught:
            load_file(path)
        assert caught.value.line == 3
        assert "`case.at`" in caught.value.reason
        assert '"2026-05-06T10:00:00+08:00"' in caught.value.reason

    def test_naive_timestamp_in_an_expectation(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            """
            - name: naive
              case: {kind: complaint}
              expect: {answer_due: 2026-05-06T12:00:00}
            """,
        )
        with pytest.raises(PolicyTestError, match=r"`expect\.answer_due`.*without an offset"):
            load_file(path)

    def test_an_unquoted_aware_timestamp_is_read_as_its_instant(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            """
            - name: aware
              case: {kind: complaint, at: 2026-05-06T10:00:00+08:00, complaint: {}}
              expect: {route_to: finance}
            """,
        )
        (test,) = load_file(path)
        assert test.cases[0]["at"] == "2026-05-06T10:00:00+08:00"

    def test_merge_keys_may_override(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            """
            - name: a
              case: &base {kind: complaint, at: "2026-05-06T10:00:00+08:00"}
              expect: {route_to: finance}
            - name: b
              case: {<<: *base, kind: promotion}
              expect: {route_to: finance}
            - name: c
              case: *base
              expect: {route_to: finance}
            """,
        )
        tests = load_file(path)
        assert [t.cases[0]["kind"] for t in tests] == ["complaint", "promotion", "complaint"]

    def test_good_files_still_run(self, tmp_path: Path) -> None:
        _file(tmp_path, "- name: [\n", name="bad.csrules.yaml")
        _signed(tmp_path, "action: normal_return")
        status, out, err = run(tmp_path)
        assert status == 2
        assert "bad.csrules.yaml:" in err
        assert "1 tests in 1 files: 1 passed, 0 failed; 1 bad test files" in out

    def test_missing_path(self, tmp_path: Path) -> None:
        status, _, err = run(tmp_path / "nothing.csrules.yaml")
        assert status == 2
        assert "no such file or directory" in err

    def test_no_test_files(self, tmp_path: Path) -> None:
        status, _, err = run(tmp_path)
        assert status == 2
        assert "no *.csrules.yaml files" in err


# -- coverage and rule sets ----------------------------------------------------


def test_coverage_lists_what_no_test_fires(tmp_path: Path) -> None:
    path = _signed(tmp_path, "action: normal_return")
    status, out, _ = run("--coverage", path)
    assert status == 1
    assert "coverage of rule set b2c: " in out
    assert "clauses no test exercises: " in out
    assert "B2C-7.6.1    return_action/cancel_unpaid" in out
    assert "return_action/normal_return" not in out


def test_a_failing_test_covers_nothing(tmp_path: Path) -> None:
    path = _signed(tmp_path, "action: rejected")
    (outcome,) = [run_test(t) for t in load_file(path)]
    (report,) = coverage([outcome])
    assert ("return_action", "normal_return", "B2C-7.4.2") in report.missing_rules


def test_module_attr_rule_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shop_rules_for_test.py").write_text(
        "import csrules\nSHOP = csrules.ruleset('taobao').with_name('shop')\nNOT_A_RULE_SET = 3\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ruleset = resolve_ruleset("shop_rules_for_test:SHOP")
    assert isinstance(ruleset, RuleSet)
    assert ruleset.policy.name == "taobao"
    with pytest.raises(PolicyTestError, match="'NOT_A_RULE_SET' in 'shop_rules_for_test' is not"):
        resolve_ruleset("shop_rules_for_test:NOT_A_RULE_SET")
    with pytest.raises(PolicyTestError, match="is not a RuleSet"):
        resolve_ruleset("shop_rules_for_test:MISSING")
    with pytest.raises(PolicyTestError, match="cannot import 'no_such_shop_module'"):
        resolve_ruleset("no_such_shop_module:SHOP")
    path = _file(
        tmp_path,
        """
        - name: the shop closes no unpaid order
          ruleset: shop_rules_for_test:SHOP
          case:
            kind: return
            at: "2026-05-06T10:00:00+08:00"
            order: {id: T1, customer_id: B1, status: confirmed_unpaid,
                    placed_at: "2026-05-06T09:00:00+08:00",
                    lines: [{sku: "8892", unit_price: "200.00", quantity: 1}]}
            request: {type: cancel, reason: changed_mind}
          expect: {rules: [TBX-4]}
        """,
    )
    assert run(path)[0] == 0


SHOP_TESTS = Path(__file__).parent / "policy_shop"


def test_a_shop_module_beside_the_test_file(tmp_path: Path) -> None:
    """``ruleset: MODULE:ATTR`` imports the module from the YAML file's directory
    (run from elsewhere), and the shop's own rule decides."""
    done = subprocess.run(
        [sys.executable, "-m", "csrules.cli", "test", "-v", str(SHOP_TESTS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed, 0 failed" in done.stdout


def test_a_shop_rule_that_fails_shows_the_rules_that_fired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # not imported yet, and not on sys.path: only the working directory finds it
    monkeypatch.delitem(sys.modules, "vip_shop", raising=False)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(SHOP_TESTS)])
    text = (SHOP_TESTS / "vip-shop.csrules.yaml").read_text(encoding="utf-8")
    path = tmp_path / "vip.csrules.yaml"
    path.write_text(text.replace("freight_payer: merchant", "freight_payer: customer"), "utf-8")
    # the module is beside the original file, not this one: the cwd finds it
    monkeypatch.chdir(SHOP_TESTS)
    outcomes = [run_test(t) for t in load_file(path)]
    failed = [o for o in outcomes if not o.passed]
    assert len(failed) == 1
    report = format_failure(failed[0])
    assert "rule set vip_shop:RULES" in report
    assert "freight_payer:" in report
    assert "expected: customer" in report
    assert "got:      merchant" in report
    assert "SHOP-1" in report  # among the rules that fired


def test_a_shop_policy_file_below_the_floor_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "short.toml").write_text(
        "[parameters.no_reason_return_days]\nvalues = { 2026-01-01 = 5 }\n", encoding="utf-8"
    )
    path = _file(
        tmp_path,
        """
        - name: a short window
          policy: short.toml
          case: {kind: return}
          expect: {action: rejected}
        """,
    )
    (outcome,) = [run_test(t) for t in load_file(path)]
    assert outcome.problem is not None
    assert "LAW-25.1" in outcome.problem


# -- the pytest plugin -----------------------------------------------------------


def test_pytest_plugin_collects_and_reports_like_the_command(tmp_path: Path) -> None:
    path = _signed(tmp_path, "freight_payer: customer", name="freight for a defect")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(SIGNED_RETURN.format(name="passes", expect="    action: normal_return"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rN", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    (failed,) = [run_test(t) for t in load_file(path) if t.name == "freight for a defect"]
    for line in format_failure(failed).splitlines():
        assert line in done.stdout


def test_pytest_plugin_reports_a_bad_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "- name: a\n  name: b\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"bad test file: {path}:2: duplicate key 'name'" in done.stdout


def test_a_failure_that_looks_alike_says_the_types(tmp_path: Path) -> None:
    """`"true"` (text) against true (a boolean) shows both types; a misspelt
    matcher is named, with the one it was probably meant to be."""
    path = _signed(tmp_path, 'eligible: "true"\nrules: {contain: [B2C-7.4.2]}')
    status, out, _ = run(path)
    assert status == 1
    assert 'expected: "true" (str)' in out
    assert "got:      true (bool)" in out
    assert "`contain` is no matcher (did you mean `contains`?)" in out
