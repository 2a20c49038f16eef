"""Explanations (csrules.explain, RuleSet.explain, csrules explain) agree with decisions."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import wcwidth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csrules
from csrules import Explanation, RuleSet
from csrules.cli import main
from csrules.exceptions import CsrulesError
from csrules.io import case_to_json, read_case_line
from csrules.io._decisions import decision_to_json
from csrules.rules import HitPolicy, Rule, Table, const, fact
from csrules.rules._eval import Evaluator
from csrules.rules._expr import All, Arith, Compare, Expr
from csrules.testing import (
    complaint_cases,
    price_adjustment_cases,
    promotion_cases,
    return_cases,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CASE_LINES = (EXAMPLES / "cases.jsonl").read_text(encoding="utf-8").splitlines()
few = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULESETS = ("b2c", "taobao")
ALL_CASES = st.one_of(
    return_cases(), complaint_cases(), promotion_cases(), price_adjustment_cases()
)


def explained(case: Any, rules: RuleSet) -> tuple[Explanation | None, Any]:
    """``(explanation, decision)``; both ``None`` with the error when the case
    cannot be decided, after checking explain fails with the same error."""
    try:
        decision = rules.decide(case)
    except CsrulesError as err:
        with pytest.raises(type(err)):
            rules.explain(case)
        return None, None
    return rules.explain(case), decision


def holds(part: Expr, table: Table, facts: Any, params: Any, calendar: Any) -> bool:
    """Whether ``part`` holds, by the compiled path: a one-rule table of it."""
    probe = Table(
        "probe",
        "one condition part",
        HitPolicy.COLLECT,
        table.inputs,
        (),
        [Rule("NEW-1", part, {}, "probe", "探针")],
    )
    return probe.matches(facts, params, calendar) == (0,)


class TestAgreesWithDecide:
    @few
    @given(case=ALL_CASES, name=st.sampled_from(RULESETS))
    def test_decision_and_fired_rules_are_the_decisions(self, case: Any, name: str) -> None:
        """The explanation's decision is ruleset.decide(case); the rules it shows
        fired are the decision's rules, table by table and in order."""
        rules = csrules.ruleset(name)
        explanation, decision = explained(case, rules)
        if explanation is None:
            return
        assert explanation.decision == decision
        assert explanation.kind == case.kind
        kind = rules.kind(case.kind)
        assert [t.name for t in explanation.tables] == [t.name for t in kind.tables]
        cited = tuple(r.clause for r in explanation.fired if not r.silent)
        assert cited == decision.rules
        for step, result in zip(explanation.tables, decision.trace.results, strict=True):
            assert [r.id for r in step.fired] == [result.table.rules[i].id for i, _ in result.hits]
            assert [r.id for r in step.rules] == [r.id for r in result.table.rules]
            assert dict(step.outputs) == dict(result.outputs)
            statuses = [r.status for r in step.rules]
            if step.hit_policy == "first":
                fired_at = statuses.index("fired")
                assert set(statuses[:fired_at]) <= {"failed"}
                assert set(statuses[fired_at + 1 :]) <= {"not_tried"}
            else:
                assert "not_tried" not in statuses
        assert explanation.estimated == decision.estimated
        assert explanation.parameters == decision.parameters

    @few
    @given(case=ALL_CASES, name=st.sampled_from(RULESETS))
    def test_the_reason_shown_is_a_conjunct_that_is_false(self, case: Any, name: str) -> None:
        """For each rule that did not fire, the part shown is a conjunct of its
        condition that is false (by the compiled tables), and every conjunct
        before it holds."""
        rules = csrules.ruleset(name)
        explanation, decision = explained(case, rules)
        if explanation is None:
            return
        calendar = decision.trace.policy.calendar
        for step, result in zip(explanation.tables, decision.trace.results, strict=True):
            table = result.table
            for trial, rule in zip(step.rules, table.rules, strict=True):
                if trial.status != "failed":
                    continue
                failed = trial.failed
                assert failed is not None
                parts = rule.when.items if isinstance(rule.when, All) else (rule.when,)
                assert failed.of == len(parts)
                part = parts[failed.index - 1]
                assert failed.text == part.render()
                assert not holds(part, table, result.facts, result.params, calendar)
                for earlier in parts[: failed.index - 1]:
                    assert holds(earlier, table, result.facts, result.params, calendar)
                for label, value in failed.values:
                    # every value shown is what the record holds for a fact read
                    if label in result.facts:
                        assert value == result.facts[label]

    @few
    @given(case=ALL_CASES)
    def test_json_form(self, case: Any) -> None:
        """to_json is JSON data; its decision is the decision line of csrules decide."""
        explanation, decision = explained(case, csrules.ruleset("b2c"))
        if explanation is None:
            return
        for lang in ("en", "zh"):
            data = explanation.to_json(lang)  # type: ignore[arg-type]
            assert json.loads(json.dumps(data, ensure_ascii=False)) == data
            assert data["decision"] == decision_to_json(decision, lang=lang)["decision"]  # type: ignore[arg-type]
            assert [t["name"] for t in data["tables"]] == [t.name for t in explanation.tables]


def small_exprs() -> st.SearchStrategy[Expr]:
    """Conditions over two small whole-number facts ``a`` and ``b`` (maybe ``None``)."""
    leaf = st.sampled_from([fact("a"), fact("b"), *[const(n) for n in range(3)]])
    number = st.recursive(
        leaf,
        lambda inner: st.builds(
            lambda op, x, y: Arith(op, x, y), st.sampled_from(["+", "-", "*"]), inner, inner
        ),
        max_leaves=3,
    )
    compare = st.builds(
        lambda op, x, y: Compare(op, x, y),
        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        number,
        number,
    )
    atom = st.one_of(
        compare,
        st.builds(lambda x, n: x.isin(range(n)), number, st.integers(0, 3)),
        st.builds(lambda x, n: x.notin(range(n)), number, st.integers(0, 3)),
    )
    return st.recursive(
        atom,
        lambda inner: st.one_of(
            st.builds(lambda x, y: x & y, inner, inner),
            st.builds(lambda x, y: x | y, inner, inner),
            st.builds(lambda x: ~x, inner),
        ),
        max_leaves=4,
    )


@settings(max_examples=300, deadline=None)
@given(when=small_exprs(), a=st.integers(-1, 3), b=st.integers(-1, 3))
def test_evaluator_agrees_with_the_compiled_tables(when: Expr, a: int, b: int) -> None:
    """The evaluating backend gives the truth value the compiled source gives."""
    facts = {"a": a, "b": b}
    probe = Table(
        "probe", "p", HitPolicy.COLLECT, ("a", "b"), (), [Rule("NEW-1", when, {}, "", "")]
    )
    assert bool(Evaluator(facts, {}, None).visit(when)) == (probe.matches(facts, {}) == (0,))


class TestRender:
    def explanation(self, number: int = 0) -> Explanation:
        return csrules.explain(read_case_line(CASE_LINES[number]).case)

    @pytest.mark.parametrize("number", range(0, len(CASE_LINES), 3))
    def test_zh_output_has_the_zh_texts(self, number: int) -> None:
        explanation = self.explanation(number)
        zh = explanation.render("zh")
        en = explanation.render("en")
        assert "决策表" in zh
        assert "决策表" not in en
        assert "Table" in en
        for line in explanation.decision.explanation("zh"):
            assert line in zh
        for line in explanation.decision.explanation("en"):
            assert line in en
        for step in explanation.tables:
            assert step.name in zh
            assert step.title_zh  # every bundled table has one
            assert step.title_zh in zh
            assert step.title not in zh
            assert step.title in en
            for rule in step.rules:
                if rule.status == "failed":
                    assert rule.failed is not None
                    assert f"{rule.failed.shown}: 不成立" in zh
                    assert f"{rule.failed.shown}: false" in en

    @pytest.mark.parametrize("width", [60, 80, 120])
    def test_width_is_measured_in_cells(self, width: int) -> None:
        text = self.explanation().render("zh", width=width)
        assert max(wcwidth.width(line) for line in text.splitlines()) <= width

    def test_values_compared_are_written_in(self) -> None:
        """The reason of a no-reason return past its window shows both values."""
        case = json.loads(CASE_LINES[0])
        case["at"] = "2026-05-20T10:00:00+08:00"
        case["request"]["reason"] = "changed_mind"
        explanation = csrules.explain(read_case_line(json.dumps(case)).case)
        reasons = [
            r.failed.shown for t in explanation.tables for r in t.rules if r.failed is not None
        ]
        assert any("(2026-04-30)" in r or "(signed)" in r for r in reasons)

    def test_bad_arguments(self) -> None:
        explanation = self.explanation()
        with pytest.raises(CsrulesError, match="lang"):
            explanation.render("fr")  # type: ignore[arg-type]
        with pytest.raises(CsrulesError, match="width"):
            explanation.render("en", width=0)

    def test_estimated_says_which_years(self) -> None:
        case = json.loads(CASE_LINES[0])
        text = json.dumps(case).replace("2026-", "2031-")
        explanation = csrules.explain(read_case_line(text).case)
        assert explanation.estimated
        assert 2031 in explanation.estimated_years
        assert "2031" in explanation.render("en")


class TestRuleSets:
    def test_extra_fact_and_policy(self) -> None:
        rules = csrules.ruleset("b2c").with_fact("vip", bool, default=False)
        rules = rules.with_rule(
            "return_duties",
            Rule("NEW-9", fact("vip"), {"duty": "call_vip"}, "Call the VIP.", "致电VIP客户。"),
        )
        line = json.loads(CASE_LINES[0])
        line["facts"] = {"vip": True}
        read = read_case_line(json.dumps(line), facts=rules.extra_facts())
        explanation = rules.explain(read.case, facts=read.facts)
        assert explanation.decision == rules.decide(read.case, facts=read.facts)
        duties = explanation.tables[-1]
        assert "NEW-9" in [r.id for r in duties.fired]
        vip = [f for f in duties.facts if f.name == "vip"]
        assert vip
        assert vip[0].origin == "extra"
        assert vip[0].value is True
        taobao = csrules.ruleset("taobao").policy
        other = rules.explain(read.case, facts=read.facts, policy=taobao)
        assert other.policy == "taobao"
        assert other.decision == csrules.decide(
            read.case, ruleset=rules, policy=taobao, facts=read.facts
        )

    def test_module_function_takes_a_name(self) -> None:
        case = read_case_line(CASE_LINES[0]).case
        assert csrules.explain(case, ruleset="taobao").ruleset == "taobao"


def run(*args: str | Path, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        import sys

        real = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8")
        try:
            status = main([str(a) for a in args], out=out, err=err)
        finally:
            sys.stdin = real
    else:
        status = main([str(a) for a in args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


class TestCommand:
    def test_one_case_text_and_json(self, tmp_path: Path) -> None:
        path = tmp_path / "one.json"
        path.write_text(CASE_LINES[0] + "\n", encoding="utf-8")
        status, out, err = run("explain", path)
        assert (status, err) == (0, "")
        assert "return_action" in out
        assert "Decision" in out
        status, out, err = run("explain", path, "--format", "json", "--lang", "zh")
        assert status == 0
        data = json.loads(out)
        expected = csrules.explain(read_case_line(CASE_LINES[0]).case).to_json("zh")
        assert data == expected

    def test_pretty_printed_case_and_stdin(self) -> None:
        pretty = json.dumps(json.loads(CASE_LINES[1]), indent=2, ensure_ascii=False)
        status, out, _ = run("explain", "-", "--lang", "zh", stdin=pretty)
        assert status == 0
        assert "决定" in out

    def test_line_of_a_jsonl_file(self) -> None:
        status, out, _ = run("explain", EXAMPLES / "cases.jsonl", "--line", "3")
        case_id = json.loads(CASE_LINES[2])["id"]
        assert status == 0
        assert out.startswith(f"Case {case_id} ")

    @pytest.mark.parametrize(
        ("args", "stdin", "expected"),
        [
            ((), "", "no case in the input"),
            ((), "\n".join(CASE_LINES[:2]), "--line N"),
            (("--line", "9"), CASE_LINES[0], "only 1 line"),
            (("--line", "0"), CASE_LINES[0], ""),  # argparse: usage on stderr
            ((), '{"kind": "return"', "invalid_json"),
            ((), '{"id": "x", "kind": "refund"}', "unknown_kind"),
            (("--rules", "nowhere:RULES"), CASE_LINES[0], "bad rule set"),
            (("--policy", "/nonexistent.toml"), CASE_LINES[0], "bad policy"),
            (("--format", "yaml"), CASE_LINES[0], ""),
        ],
    )
    def test_bad_input_is_one_line_and_status_2(
        self, args: tuple[str, ...], stdin: str, expected: str
    ) -> None:
        status, out, err = run("explain", "-", *args, stdin=stdin)
        assert status == 2
        assert out == ""
        assert expected in err
        if expected:
            assert len(err.strip().splitlines()) == 1

    def test_error_is_the_one_decide_gives(self, tmp_path: Path) -> None:
        case = json.loads(CASE_LINES[0])
        case["order"]["lines"][0]["unit_price"] = 19.9  # float money
        case["reqest"] = {}
        line = json.dumps(case)
        path = tmp_path / "bad.jsonl"
        path.write_text(CASE_LINES[1] + "\n" + line + "\n", encoding="utf-8")
        status, out, _ = run("decide", path)
        error = json.loads(out.splitlines()[1])["error"]
        status, _, err = run("explain", path, "--line", "2")
        assert status == 2
        assert err == f"csrules explain: line 2: {error['code']}: {error['message']}\n"

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.jsonl"
        path.write_bytes(b'{"id": "\xff"}\n')
        status, _, err = run("explain", path)
        assert status == 2
        assert "invalid_encoding" in err

    def test_domain_error(self) -> None:
        case = json.loads(CASE_LINES[0])
        case["at"] = "2020-01-01T10:00:00+08:00"  # before the order was placed
        status, _, err = run("explain", "-", stdin=json.dumps(case))
        assert status == 2
        assert "line 1: invalid_value" in err or "line 1: missing_field" in err

    def test_round_trip_of_generated_cases(self) -> None:
        @settings(max_examples=10, deadline=None)
        @given(case=ALL_CASES)
        def check(case: Any) -> None:
            line = json.dumps(case_to_json(case), ensure_ascii=False)
            status, out, _ = run("explain", "-", "--format", "json", stdin=line)
            try:
                decision = csrules.ruleset("b2c").decide(case)
            except CsrulesError:
                assert status == 2
                return
            assert status == 0
            assert json.loads(out)["decision"] == decision_to_json(decision)["decision"]

        check()


def test_command_with_a_shops_rule_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--rules MODULE:ATTR: the case's extra facts are read, and the shop's rule shows."""
    (tmp_path / "explain_shop.py").write_text(
        "import csrules\n"
        "from csrules.rules import Rule, fact\n"
        "SHOP = csrules.ruleset('b2c').with_fact('vip', bool, default=False).with_rule(\n"
        "    'return_duties',\n"
        "    Rule('SHOP-1', fact('vip'), {'duty': 'call_vip'}, 'Call the VIP.', '致电VIP。'),\n"
        ")\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    case = json.loads(CASE_LINES[0])
    case["facts"] = {"vip": True}
    status, out, err = run(
        "explain", "-", "--rules", "explain_shop:SHOP", "--lang", "zh", stdin=json.dumps(case)
    )
    assert (status, err) == (0, "")
    assert "致电VIP。" in out
    assert "附加事实 facts.vip" in out
    case["facts"] = {"vipp": True}  # a typo: the same error decide gives
    status, _, err = run("explain", "-", "--rules", "explain_shop:SHOP", stdin=json.dumps(case))
    assert status == 2
    assert "line 1: unknown_field" in err


def test_legal_floor_off_is_said(tmp_path: Path) -> None:
    """Under a policy with legal_floor = false (via --policy), the explanation
    says so and its decision cites LAW-25 first, as csrules decide does."""
    path = tmp_path / "strict.toml"
    path.write_text(
        '[policy]\nname = "strict"\nlegal_floor = false\n\n'
        "[parameters.no_reason_return_days]\nvalues = { 2026-01-01 = 5 }\n",
        encoding="utf-8",
    )
    policy = csrules.load_policy(path)
    case = read_case_line(CASE_LINES[0]).case
    explanation = csrules.explain(case, policy=policy)
    assert not explanation.legal_floor
    assert explanation.decision.rules[0] == "LAW-25"
    assert "Legal floor: off" in explanation.render("en")
    assert "法定底线:已关闭" in explanation.render("zh")
    status, out, _ = run("explain", "-", "--policy", path, "--format", "json", stdin=CASE_LINES[0])
    assert status == 0
    data = json.loads(out)
    assert data["legal_floor"] is False
    assert data["decision"]["rules"][0] == "LAW-25"


def test_a_table_keeps_its_chinese_title_through_pickling_and_evolve() -> None:
    import pickle

    import attrs

    from csrules.rules.returns import FREIGHT_PAYER

    copy = pickle.loads(pickle.dumps(attrs.evolve(FREIGHT_PAYER, rules=FREIGHT_PAYER.rules[::-1])))
    assert copy.title_zh == FREIGHT_PAYER.title_zh != ""
    assert [r.id for r in copy.rules] == [r.id for r in FREIGHT_PAYER.rules[::-1]]
