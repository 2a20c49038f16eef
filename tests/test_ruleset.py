"""The rule set object: declared facts, the single and batch paths, checks, extension."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csrules
from csrules import (
    Action,
    ComplaintCase,
    FreightPayer,
    OrderStatus,
    PaymentMethod,
    PriceAdjustmentCase,
    PromotionCase,
    ReturnCase,
    RuleSet,
    decide,
)
from csrules.batch import facts_frame, input_records
from csrules.batch._ruleset import column_kinds
from csrules.cli import decide_lines
from csrules.exceptions import ArgumentTypeError, DomainValueError, RuleDefinitionError
from csrules.io import case_to_json
from csrules.rules import HitPolicy, Rule, Table, call, fact, param, returns
from csrules.testing import (
    complaint_cases,
    price_adjustment_cases,
    promotion_cases,
    return_cases,
)

batches = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _usable(cases: Sequence[ReturnCase]) -> list[ReturnCase]:
    found = []
    for case in cases:
        try:
            returns.return_facts(case.order, case.request, case.at)
        except DomainValueError:
            continue
        found.append(case)
    return found


def _assert_batch_matches(
    rs: RuleSet, cases: list[ReturnCase], extra: list[dict[str, Any]]
) -> None:
    kind = rs.kind("return")
    records = input_records(
        kind, [((c.order, c.request, c.at), x) for c, x in zip(cases, extra, strict=True)]
    )
    columns = facts_frame(records, kinds=column_kinds(kind))
    batch = rs.decide_columns("return", columns)
    assert len(batch) == len(cases)
    estimated = batch.estimated
    for case, x, got, flag in zip(cases, extra, batch.records(), estimated, strict=True):
        decision = decide(case, ruleset=rs, facts=x)
        assert bool(flag) == decision.estimated
        assert got["action"] == decision.action
        assert got["eligible"] == decision.eligible
        assert got["approvals"] == decision.approvals
        assert got["freight_payer"] == decision.freight_payer
        assert got["refund_due"] == decision.refund_due
        assert got["duty"] == decision.duties
        fired = [r.table.rules[r.hits[0][0]].clause for r in decision.trace.results[:3]]
        assert got["clauses"] == tuple(fired)


class TestBatchEqualsSingle:
    """The batch path, deriving facts with numpy from input columns, gives the
    single path's decision row by row."""

    @pytest.mark.parametrize("name", ["b2c", "taobao"])
    @batches
    @given(cases=st.lists(return_cases(), min_size=1, max_size=8))
    def test_bundled_returns(self, name: str, cases: list[ReturnCase]) -> None:
        usable = _usable(cases)
        if usable:
            _assert_batch_matches(csrules.ruleset(name), usable, [{} for _ in usable])

    @batches
    @given(cases=st.lists(return_cases(), min_size=1, max_size=8), data=st.data())
    def test_shop_with_an_extra_fact(self, cases: list[ReturnCase], data: st.DataObject) -> None:
        usable = _usable(cases)
        if not usable:
            return
        extra = [{"vip": data.draw(st.booleans())} for _ in usable]
        _assert_batch_matches(_vip_shop(), usable, extra)


def _vip_shop() -> RuleSet:
    return (
        csrules.ruleset("b2c")
        .with_fact("vip", bool, default=False, en="VIP customer", zh="VIP客户")
        .with_rule(
            "freight_payer",
            Rule(
                "SHOP-1",
                fact("vip") & fact("action").isin({Action.NORMAL_RETURN, Action.ABNORMAL_RETURN}),
                {"freight_payer": FreightPayer.MERCHANT},
                en="VIP customer: the shop pays the return freight.",
                zh="VIP客户:退货运费由本店承担。",
                id="vip_free_returns",
            ),
            after="not_shipped",
        )
    )


class TestDerivedFacts:
    def test_facts_are_declared_and_derived(self) -> None:
        kind = csrules.ruleset("b2c").kind("return")
        assert kind.fact("status").source == "order.status"
        assert kind.fact("goods_normal").derive is not None
        assert kind.fact("request_date").derive is not None

    def test_batch_derives_missing_facts_from_inputs(self) -> None:
        """Columns of input facts only: the derived columns are computed."""
        case = _usable([_a_case()])[0]
        kind = returns.RETURN_KIND
        columns = facts_frame(input_records(kind, [(case.order, case.request, case.at)]))
        assert "goods_normal" not in columns
        batch = csrules.ruleset("b2c").decide_columns("return", columns)
        assert "goods_normal" in batch.facts
        single = returns.return_facts(case.order, case.request, case.at)
        assert bool(batch.facts["goods_normal"][0]) == single["goods_normal"]
        assert int(batch.facts["request_date"][0]) == single["request_date"].toordinal()


def _a_case() -> ReturnCase:
    from pathlib import Path

    from csrules.io import parse_case_line

    lines = (Path(__file__).parent.parent / "examples" / "cases.jsonl").read_text().splitlines()
    for line in lines:
        case = parse_case_line(line)
        if isinstance(case, ReturnCase):
            return case
    raise AssertionError("no return case in the examples")


class TestExtension:
    def test_vip_rule_changes_the_freight_payer(self) -> None:
        case = _a_case()
        shop = _vip_shop()
        plain = decide(case, ruleset=shop)
        vip = shop.decide(case, facts={"vip": True})
        if plain.action in (Action.NORMAL_RETURN, Action.ABNORMAL_RETURN):
            assert vip.freight_payer is FreightPayer.MERCHANT
            assert "SHOP-1" in vip.rules
        assert "SHOP-1" not in plain.rules

    def test_without_rule_and_replacing_rule(self) -> None:
        b2c = csrules.ruleset("b2c")
        dropped = b2c.without_rule("cod_confirm")
        ids = {r.id for r in dropped.kind("return").table("return_duties").rules}
        assert "cod_confirm" not in ids
        assert "cod_confirm" in {r.id for r in b2c.kind("return").table("return_duties").rules}
        with pytest.raises(RuleDefinitionError, match="no rule 'nope'"):
            b2c.without_rule("nope")
        new = Rule("NEW-7", fact("payment_method") == "cod", {"duty": "call_twice"},
                   en="Call twice.", zh="电话确认两次。", id="cod_confirm")  # fmt: skip
        replaced = b2c.replacing_rule("cod_confirm", new)
        rule = next(r for r in replaced.kind("return").table("return_duties").rules
                    if r.id == "cod_confirm")  # fmt: skip
        # the string constant became the enum member it names
        assert rule.when.right.value is PaymentMethod.COD  # type: ignore[attr-defined]

    def test_duplicate_rule_id_is_refused(self) -> None:
        rule = Rule("NEW-7", fact("status") == OrderStatus.SIGNED, {"duty": "x"},
                    en="x", zh="x", id="cod_confirm")  # fmt: skip
        with pytest.raises(RuleDefinitionError, match="cod_confirm"):
            csrules.ruleset("b2c").with_rule("return_duties", rule)

    def test_enum_constant_that_names_no_member_is_refused(self) -> None:
        rule = Rule("NEW-7", fact("payment_method") == "COD", {"duty": "x"},
                    en="x", zh="x", id="shout")  # fmt: skip
        with pytest.raises(
            RuleDefinitionError, match=r"return_duties.*shout.*'COD'.*PaymentMethod"
        ):
            csrules.ruleset("b2c").with_rule("return_duties", rule)

    def test_unknown_fact_parameter_and_placeholder(self) -> None:
        b2c = csrules.ruleset("b2c")
        bad_fact = Rule("NEW-7", fact("loyalty") == 1, {"duty": "x"}, en="x", zh="x", id="r1")
        with pytest.raises(RuleDefinitionError, match="loyalty"):
            b2c.with_rule("return_duties", bad_fact)
        bad_param = Rule("NEW-7", param("no_such") == 1, {"duty": "x"}, en="x", zh="x", id="r2")
        with pytest.raises(RuleDefinitionError, match=r"r2.*no_such"):
            b2c.with_rule("return_duties", bad_param)
        bad_text = Rule("NEW-7", fact("paid"), {"duty": "x"}, en="{nothing}", zh="x", id="r3")
        with pytest.raises(RuleDefinitionError, match=r"r3.*\{nothing\}"):
            b2c.with_rule("return_duties", bad_text)

    def test_invariant_rejected_means_not_eligible(self) -> None:
        rule = Rule("NEW-7", fact("paid"), {"action": Action.REJECTED}, en="x", zh="x", id="r4")
        with pytest.raises(RuleDefinitionError, match=r"return_action.*r4.*eligible"):
            csrules.ruleset("b2c").with_rule("return_action", rule, before="closed_order")

    def test_table_cycle_is_refused(self) -> None:
        kind = returns.RETURN_KIND
        one = Rule("NEW-1", fact("duty").is_none(), {"action_x": 1}, en="x", zh="x")
        two = Rule("NEW-2", fact("action_x") == 1, {"duty": 1}, en="x", zh="x")
        loop = Table("loop", "reads its reader", HitPolicy.FIRST, ("duty",), ("action_x",), [one])
        reader = Table("reader", "reads loop", HitPolicy.FIRST, ("action_x",), ("duty",), [two])
        with pytest.raises(RuleDefinitionError, match="cycle"):
            kind.evolve(tables=(*kind.tables[:3], loop, reader))

    def test_derived_fact_cycle_is_refused(self) -> None:
        from csrules import FactSpec

        kind = returns.RETURN_KIND
        a = FactSpec("a", bool, derive=fact("b"))
        b = FactSpec("b", bool, derive=fact("a"))
        with pytest.raises(RuleDefinitionError, match="cycle: a -> b -> a"):
            kind.evolve(facts=(*kind.facts, a, b))

    def test_parameters_changed_from_a_date(self) -> None:
        shop = csrules.ruleset("b2c").with_parameters(on="2026-01-01", no_reason_return_days=15)
        assert shop.policy.value("no_reason_return_days", _date("2026-02-01")) == 15
        assert shop.policy.value("no_reason_return_days", _date("2025-02-01")) == 7

    def test_pickles_and_decides_the_same(self) -> None:
        shop = _vip_shop()
        again = pickle.loads(pickle.dumps(shop))
        case = _a_case()
        assert again.decide(case, facts={"vip": True}) == shop.decide(case, facts={"vip": True})


def _date(text: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(text)


class TestBundled:
    def test_taobao_is_b2c_with_taobao_parameters(self) -> None:
        taobao = csrules.ruleset("taobao")
        assert taobao.name == "taobao"
        assert taobao.policy.name == "taobao"
        b2c = csrules.ruleset("b2c")
        assert [t.name for _, t in taobao.tables()] == [t.name for _, t in b2c.tables()]
        assert taobao.policy is not b2c.policy

    def test_ruleset_by_module_attr(self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        (tmp_path / "myshop_rules.py").write_text(
            "import csrules\nSHOP = csrules.ruleset('b2c').without_rule('cod_confirm')\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path))
        shop = csrules.ruleset("myshop_rules:SHOP")
        assert "cod_confirm" not in {r.id for _, t in shop.tables() for r in t.rules}
        with pytest.raises(RuleDefinitionError, match="is not a RuleSet"):
            csrules.ruleset("myshop_rules:csrules")

    def test_unknown_name(self) -> None:
        with pytest.raises(RuleDefinitionError, match="MODULE:ATTR"):
            csrules.ruleset("nope")

    def test_bundled_rule_sets_carry_the_stream_rules(self) -> None:
        """b2c and taobao correlate complaints by B2C-8.7.1 and B2C-8.7.5 as declared."""
        from csrules.rules.complaints import STREAM_RULES

        assert csrules.ruleset("b2c").stream_rules == STREAM_RULES
        assert csrules.ruleset("taobao").stream_rules == STREAM_RULES

    def test_policy_argument_means_b2c_with_that_policy(self) -> None:
        case = _a_case()
        taobao = csrules.ruleset("taobao")
        assert decide(case, policy=taobao.policy) == decide(case, ruleset=taobao)


def _shop_module() -> str:
    """The shop module of docs/extending.md, as written there."""
    from pathlib import Path

    page = (Path(__file__).parent.parent / "docs" / "extending.md").read_text(encoding="utf-8")
    after = page.split("<!-- shop module: tests run this block as a module -->", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


class TestDocsShopModule:
    """The docs' shop module runs from the command line and on the batch path."""

    def test_cli_decide_and_tables_with_rules(
        self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import io
        import json

        from csrules.cli import main
        from csrules.io import case_to_json

        (tmp_path / "docshop.py").write_text(_shop_module(), encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        case = _a_case()
        line = dict(case_to_json(case))
        line["facts"] = {"vip": True}
        text = json.dumps(line) + "\n" + json.dumps({**line, "facts": {}}) + "\n"
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr("sys.stdin", io.StringIO(text))
        code = main(["decide", "--rules", "docshop:SHOP", "-"], out=out, err=err)
        results = [json.loads(x) for x in out.getvalue().splitlines()]
        assert code == 0, err.getvalue()
        single = [
            csrules.ruleset("docshop:SHOP").decide(case, facts={"vip": v}) for v in (True, False)
        ]
        assert [r["decision"]["freight_payer"] for r in results] == [
            d.freight_payer.value for d in single
        ]
        assert [r["decision"]["rules"] for r in results] == [list(d.rules) for d in single]
        out = io.StringIO()
        assert main(["tables", "--rules", "docshop:SHOP"], out=out, err=err) == 0
        assert "`vip_free_returns`" in out.getvalue()
        assert "`cod_confirm`" not in out.getvalue()
        out = io.StringIO()
        assert main(["decide", "--rules", "nosuchmodule:SHOP", "-"], out=out, err=err) == 2

    @batches
    @given(cases=st.lists(return_cases(), min_size=1, max_size=8), data=st.data())
    def test_batch_equals_single(self, cases: list[ReturnCase], data: st.DataObject) -> None:
        namespace: dict[str, Any] = {}
        exec(compile(_shop_module(), "myshop.py", "exec"), namespace)
        usable = _usable(cases)
        if usable:
            extra = [{"vip": data.draw(st.booleans())} for _ in usable]
            _assert_batch_matches(namespace["SHOP"], usable, extra)


class TestComplaintKind:
    """Complaints are a kind of the rule set too: declared facts, single and batch paths."""

    @pytest.mark.parametrize("name", ["b2c", "taobao"])
    @batches
    @given(cases=st.lists(complaint_cases(), min_size=1, max_size=8))
    def test_batch_equals_single(self, name: str, cases: list[ComplaintCase]) -> None:
        rs = csrules.ruleset(name)
        kind = rs.kind("complaint")
        records = input_records(kind, [(c.complaint,) for c in cases])
        batch = rs.decide_columns("complaint", facts_frame(records, kinds=column_kinds(kind)))
        for case, got in zip(cases, batch.records(), strict=True):
            decision = decide(case, ruleset=rs)
            assert got["route_to"] == decision.route_to
            assert got["answer_due"] == decision.answer_due
            assert got["reply_due"] == decision.reply_due
            assert set(got["escalate_to"]) == set(decision.escalate_to)
            assert got["duty"] == decision.duties
            fired = [r.table.rules[r.hits[0][0]].clause for r in decision.trace.results[:2]]
            assert got["clauses"] == tuple(fired)

    def test_stream_facts_are_not_case_facts(self) -> None:
        """The monitor's facts cannot be given by a JSON case."""
        assert csrules.ruleset("b2c").extra_facts() == {}
        assert _vip_shop().extra_facts() == {"vip": "boolean"}

    def test_escalation_facts_follow_the_escalation_table(self) -> None:
        kind = csrules.ruleset("b2c").kind("complaint")
        assert kind.fact("to_general_manager").reads() == {"escalate_to"}
        names = [t.name for t in kind.tables]
        assert names.index("complaint_escalation") < names.index("complaint_duties")


class TestPromotionKinds:
    """Promotions and price adjustments are kinds of the rule set too."""

    @pytest.mark.parametrize("name", ["b2c", "taobao"])
    @batches
    @given(cases=st.lists(promotion_cases(), min_size=1, max_size=8))
    def test_promotion_batch_equals_single(self, name: str, cases: list[PromotionCase]) -> None:
        rs = csrules.ruleset(name)
        kind = rs.kind("promotion")
        records = input_records(kind, [(c.promotion, c.at) for c in cases])
        batch = rs.decide_columns("promotion", facts_frame(records, kinds=column_kinds(kind)))
        for case, got, flag in zip(cases, batch.records(), batch.estimated, strict=True):
            decision = decide(case, ruleset=rs)
            assert bool(flag) == decision.estimated
            assert got["remind_days_before"] == decision.remind_days_before
            assert got["remind_on"] == decision.remind_on
            assert got["size"] == decision.size
            assert got["outreach"] == decision.outreach
            assert got["training_on"] == decision.training_on
            assert got["duty"] == decision.duties

    @pytest.mark.parametrize("name", ["b2c", "taobao"])
    @batches
    @given(cases=st.lists(price_adjustment_cases(), min_size=1, max_size=8))
    def test_price_adjustment_batch_equals_single(
        self, name: str, cases: list[PriceAdjustmentCase]
    ) -> None:
        rs = csrules.ruleset(name)
        kind = rs.kind("price_adjustment")
        records = input_records(kind, [(c.request, c.at) for c in cases])
        columns = facts_frame(records, kinds=column_kinds(kind))
        batch = rs.decide_columns("price_adjustment", columns)
        for case, got in zip(cases, batch.records(), strict=True):
            decision = decide(case, ruleset=rs)
            assert got["action"] == decision.action
            assert got["gift_eligible"] == decision.gift_eligible
            fired = [r.table.rules[r.hits[0][0]].clause for r in decision.trace.results]
            assert got["clauses"] == tuple(fired)

    def test_every_kind_is_bundled(self) -> None:
        kinds = set(csrules.ruleset("b2c").kinds)
        assert kinds == {"return", "complaint", "promotion", "price_adjustment"}


def test_taobao_first_in_a_fresh_process() -> None:
    """Loading taobao before b2c (it is built from b2c) does not deadlock."""
    import subprocess
    import sys

    code = "import csrules; print(csrules.ruleset('taobao').name)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.strip() == "taobao", done.stderr


class TestStreamRulesOfARuleSet:
    """``csrules decide --rules`` correlates complaints by the rule set's own stream rules."""

    SHOP = """
import attrs
import csrules
from csrules.rules.complaints import STREAM_RULES

_b2c = csrules.ruleset("b2c")
# the same customer about the same department: escalate from the 3rd complaint on
STRICT = attrs.evolve(
    _b2c,
    stream_rules=tuple(
        attrs.evolve(r, threshold=3) if r.id == "same_department" else r for r in STREAM_RULES
    ),
)
NONE = attrs.evolve(_b2c, stream_rules=())
"""

    def _run(self, rules: str | None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
        import io
        import json

        from csrules.cli import main

        (tmp_path / "streamshop.py").write_text(self.SHOP, encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        monkeypatch.syspath_prepend(str(tmp_path))
        lines = [
            {
                "id": f"c{i}",
                "kind": "complaint",
                "at": f"2026-05-0{i + 4}T10:00:00+08:00",
                "complaint": {
                    "customer_id": "C1",
                    "channel": "phone",
                    "topic": "service",
                    "about_department": "operations",
                },
            }
            for i in range(1, 4)
        ]
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(x) + "\n" for x in lines)))
        out, err = io.StringIO(), io.StringIO()
        args = ["decide", "-"] if rules is None else ["decide", "--rules", rules, "-"]
        assert main(args, out=out, err=err) == 0, err.getvalue()
        return [
            "B2C-8.7.1" in json.loads(x)["decision"]["rules"] for x in out.getvalue().splitlines()
        ]

    def test_bundled_rule_set_escalates_the_second_complaint(
        self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """B2C-8.7.1 as bundled: the 2nd and 3rd complaints escalate."""
        assert self._run(None, tmp_path, monkeypatch) == [False, True, True]
        assert csrules.ruleset("b2c").stream_rules  # the bundled rules are the rule set's

    def test_a_stricter_shop_rule_escalates_from_the_third(
        self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A shop that raises the threshold to 3 escalates only the 3rd complaint."""
        assert self._run("streamshop:STRICT", tmp_path, monkeypatch) == [False, False, True]

    def test_a_rule_set_without_stream_rules_correlates_nothing(
        self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No stream rules: complaints are decided one by one."""
        assert self._run("streamshop:NONE", tmp_path, monkeypatch) == [False, False, False]


class TestTypeChecks:
    """A comparison that can never be true because its sides differ in type is refused."""

    @staticmethod
    def _with(condition: Any) -> RuleSet:
        return csrules.ruleset("b2c").with_rule(
            "freight_payer",
            Rule(
                "SHOP-1",
                condition,
                {"freight_payer": FreightPayer.MERCHANT},
                en="x",
                zh="x",
                id="typed",
            ),
            before="not_shipped",
        )

    @pytest.mark.parametrize(
        ("condition", "message"),
        [
            (fact("signed_date") > 7, r"the fact 'signed_date' \(a date\) with 7 \(a number\)"),
            (
                fact("paid") == "yes",
                r"the fact 'paid' \(a bool\) with 'yes' \(a str\)",
            ),
            (
                fact("payment_method") == OrderStatus.SIGNED,
                r"the fact 'payment_method' \(a PaymentMethod\) with <OrderStatus.SIGNED",
            ),
            (
                fact("signed_date").isin(["2026-01-01"]),
                r"the fact 'signed_date' \(a date\) with '2026-01-01' \(a str\)",
            ),
            (
                param("no_reason_return_days") == "7",
                r"the parameter 'no_reason_return_days' \(a number\) with '7'",
            ),
            (
                fact("signed_date") == fact("paid"),
                r"the fact 'signed_date' \(a date\) with the fact 'paid' \(a bool\)",
            ),
        ],
    )
    def test_a_mismatch_names_table_rule_and_types(self, condition: Any, message: str) -> None:
        with pytest.raises(RuleDefinitionError, match=message) as caught:
            self._with(condition)
        assert "table 'freight_payer', rule 'typed'" in str(caught.value)

    def test_a_money_fact_against_a_string(self) -> None:
        kind = csrules.ruleset("b2c").kind("promotion")
        money = next(f.name for f in kind.facts if f.type.__name__ == "Decimal")
        table = kind.tables[0]
        rule = Rule("SHOP-2", fact(money) > "100", {}, en="x", zh="x", id="money")
        with pytest.raises(RuleDefinitionError, match=rf"'{money}' \(a number\) with '100'"):
            csrules.ruleset("b2c").with_rule(table.name, rule)

    def test_alike_types_pass(self) -> None:
        """Numbers with numbers (int and Decimal), dates with dates, None with anything."""
        import datetime as dt
        from decimal import Decimal

        shop = self._with(
            (fact("signed_date") > dt.date(2026, 1, 1))
            & (fact("signed_date") != None)  # noqa: E711
            & (param("no_reason_return_days") > Decimal(3))
            & (fact("payment_method") == PaymentMethod.COD)
            & (fact("payment_method") == "cod")
        )
        assert "typed" in [r.id for r in shop.kind("return").table("freight_payer").rules]

    def test_a_derived_fact_is_checked_too(self) -> None:
        with pytest.raises(RuleDefinitionError, match=r"kind 'return', fact 'odd'.*a date"):
            csrules.ruleset("b2c").with_fact("odd", bool, derive=fact("signed_date") == 3)


def _shop_rule(when: Any, then: dict[str, Any], rule_id: str = "shop") -> Rule:
    return Rule("SHOP-9", when, then, en="x", zh="x", id=rule_id)


class TestOutcomeChecks:
    """What a rule sets is checked against what the table's other rules set,
    as comparisons are: a typo in an outcome never becomes a decision."""

    B2C = csrules.ruleset("b2c")

    @pytest.mark.parametrize(
        ("table", "then", "words"),
        [
            ("freight_payer", {"freight_payer": "merchnt"}, "'merchnt' is no FreightPayer"),
            ("freight_payer", {"freight_payer": Action.REFUND}, "is no FreightPayer"),
            ("return_action", {"action": "refnd", "eligible": True, "approvals": ()},
             "'refnd' is no Action"),
            ("return_action", {"action": fact("payment_method"), "eligible": True,
                               "approvals": ()}, "gives a PaymentMethod"),
            ("return_action", {"action": Action.NORMAL_RETURN, "eligible": 1, "approvals": ()},
             "eligible = 1 is not true or false"),
            ("return_action", {"action": Action.NORMAL_RETURN, "eligible": False,
                               "approvals": ()}, "exactly when"),
            ("freight_payer", {}, "sets no value for ['freight_payer']"),
        ],
    )  # fmt: skip
    def test_an_outcome_no_rule_of_the_table_could_give_is_refused(
        self, table: str, then: dict[str, Any], words: str
    ) -> None:
        where = {"freight_payer": "not_shipped", "return_action": "closed_order"}[table]
        with pytest.raises(RuleDefinitionError, match="rule 'shop'") as caught:
            self.B2C.with_rule(table, _shop_rule(fact("paid"), then), before=where)
        assert words in str(caught.value)

    def test_an_escalation_typo_is_refused(self) -> None:
        rule = _shop_rule(fact("channel") == "phone", {"escalate_to": "cs_haed"})
        with pytest.raises(RuleDefinitionError, match="'cs_haed' is no Escalation"):
            self.B2C.with_rule("complaint_escalation", rule)

    def test_a_string_naming_a_member_becomes_the_member(self) -> None:
        rule = _shop_rule(fact("paid"), {"freight_payer": "merchant"})
        shop = self.B2C.with_rule("freight_payer", rule, before="not_shipped")
        decision = shop.decide(_a_case())
        assert decision.freight_payer is FreightPayer.MERCHANT
        assert "SHOP-9" in decision.rules

    def test_a_misspelt_value_of_an_earlier_tables_output_is_refused(self) -> None:
        when = fact("action").isin(["normal_return", "abnormal_retrun"])
        rule = _shop_rule(when, {"freight_payer": FreightPayer.MERCHANT})
        with pytest.raises(RuleDefinitionError, match="'abnormal_retrun' is no Action"):
            self.B2C.with_rule("freight_payer", rule, before="not_shipped")


class TestExtraFactValues:
    """Extra facts: defaults and values of the declared type, from Python and JSON alike."""

    B2C = csrules.ruleset("b2c")

    @pytest.mark.parametrize(
        ("type_", "default", "words"),
        [
            (bool, "no", "true or false"),
            (int, "3", "a whole number"),
            (Decimal, 1.5, "never a float"),
            ("bool", None, "is not a type"),
        ],
    )
    def test_a_default_of_another_type_is_refused(
        self, type_: Any, default: Any, words: str
    ) -> None:
        with pytest.raises(RuleDefinitionError, match="fact 'vip'") as caught:
            self.B2C.with_fact("vip", type_, default=default)
        assert words in str(caught.value)

    def _tiered(self) -> RuleSet:
        shop = self.B2C.with_fact("vip", bool, default=False).with_fact("since", dt.date)
        shop = shop.with_fact("tier", PaymentMethod, default=PaymentMethod.ALIPAY)
        when = fact("vip") & (fact("tier") == "cod") & (fact("since") < dt.date(2026, 1, 1))
        rule = _shop_rule(when, {"freight_payer": FreightPayer.MERCHANT})
        return shop.with_rule("freight_payer", rule, before="not_shipped")

    @pytest.mark.parametrize(
        ("facts", "fires"),
        [
            ({"vip": True, "tier": "cod", "since": "2025-05-01"}, True),
            ({"vip": True, "tier": PaymentMethod.COD, "since": dt.date(2025, 5, 1)}, True),
            ({"vip": True, "tier": "cod", "since": "2026-05-01"}, False),
            ({"vip": True, "tier": "alipay", "since": "2025-05-01"}, False),
        ],
    )
    def test_python_and_json_values_decide_alike(self, facts: dict[str, Any], fires: bool) -> None:
        """Enum and date facts given as JSON text decide as their values do in Python."""
        shop = self._tiered()
        assert ("SHOP-9" in shop.decide(_a_case(), facts=facts).rules) is fires
        line = case_to_json(_a_case())
        line["facts"] = {k: v.isoformat() if isinstance(v, dt.date) else v
                         for k, v in facts.items()}  # fmt: skip
        [result] = list(decide_lines([json.dumps(line)], ruleset=shop))
        assert ("SHOP-9" in result["decision"]["rules"]) is fires

    @pytest.mark.parametrize(
        ("facts", "field"),
        [({"vip": "no"}, "facts.vip"), ({"vipp": True}, "facts.vipp"),
         ({"tier": "bank"}, "facts.tier"), ({"since": "yesterday"}, "facts.since")],
    )  # fmt: skip
    def test_a_value_of_another_type_is_refused_naming_it(
        self, facts: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(DomainValueError, match=rf"'{field}' must be"):
            self._tiered().decide(_a_case(), facts=facts)


class TestRuleIds:
    """A rule id names one rule of the rule set."""

    B2C = csrules.ruleset("b2c")

    def test_an_id_another_table_has_is_refused(self) -> None:
        rule = _shop_rule(fact("paid"), {"freight_payer": FreightPayer.MERCHANT}, "closed_order")
        with pytest.raises(RuleDefinitionError, match="'return_action' has a rule 'closed_order'"):
            self.B2C.with_rule("freight_payer", rule, before="not_shipped")

    def test_a_table_can_be_named(self) -> None:
        rule = _shop_rule(fact("paid"), {"freight_payer": FreightPayer.MERCHANT}, "vip")
        shop = self.B2C.with_rule("freight_payer", rule, before="not_shipped")
        assert shop.without_rule("vip", table="freight_payer").tables() == self.B2C.tables()
        with pytest.raises(RuleDefinitionError, match="no rule 'vip' in table 'return_action'"):
            shop.without_rule("vip", table="return_action")
        other = _shop_rule(fact("paid"), {"freight_payer": FreightPayer.NONE}, "vip")
        replaced = shop.replacing_rule("vip", other, table="freight_payer")
        assert replaced.kind("return").table("freight_payer").rules[1] is not rule


def test_an_extra_fact_named_like_an_output_is_refused() -> None:
    """A fact named as a table's output would never be read: refused, naming both."""
    with pytest.raises(RuleDefinitionError, match="table 'freight_payer' decides 'freight_payer'"):
        csrules.ruleset("b2c").with_fact("freight_payer", FreightPayer)


class TestTypesThroughCallsAndArithmetic:
    """What a call or a sum gives is typed too: mistakes are refused when the rule
    set is built, not met by every decision."""

    B2C = csrules.ruleset("b2c")

    @pytest.mark.parametrize(
        ("when", "words"),
        [
            (call("add_days", fact("signed_date"), 7) > 3, "(a date) with 3 (a number)"),
            (fact("signed_date") + 7 > fact("request_date"), "`+` takes numbers"),
            (call("add_days", fact("signed_date"), "7") > fact("request_date"),
             "add_days() takes int arguments, but '7' is a str"),
            (fact("paid") & fact("signed_date"), "takes conditions"),
            (fact("paid") & 1, "takes conditions"),
            (~fact("signed_date"), "takes conditions"),
        ],
    )  # fmt: skip
    def test_a_mistyped_expression_is_refused(self, when: Any, words: str) -> None:
        rule = _shop_rule(when, {"freight_payer": FreightPayer.MERCHANT})
        with pytest.raises(RuleDefinitionError, match="rule 'shop'") as caught:
            self.B2C.with_rule("freight_payer", rule, before="not_shipped")
        assert words in str(caught.value)

    def test_a_call_with_too_few_arguments_is_refused_when_written(self) -> None:
        with pytest.raises(RuleDefinitionError, match=r"add_days\(\) takes 2 argument"):
            call("add_days", fact("signed_date"))

    def test_well_typed_calls_pass(self) -> None:
        when = call("add_days", fact("signed_date"), 7) > call(
            "later", fact("request_date"), fact("signed_date")
        )
        rule = _shop_rule(when, {"freight_payer": FreightPayer.MERCHANT})
        self.B2C.with_rule("freight_payer", rule, before="not_shipped").decide(_a_case())


def test_with_parameters_takes_a_mapping_and_decimal_money() -> None:
    """name=value pairs as a mapping, money as a Decimal; other sources are refused."""
    on = dt.date(2026, 6, 2)
    shop = csrules.ruleset("b2c").with_parameters(
        {"refund_working_days": 5}, on="2026-06-01", shipping_fee=Decimal("12.50")
    )
    assert shop.policy.value("refund_working_days", on) == 5
    assert shop.policy.value("shipping_fee", on) == Decimal("12.50")
    with pytest.raises(ArgumentTypeError, match="argument 'source'"):
        csrules.ruleset("b2c").with_parameters(5)  # type: ignore[arg-type]


class TestChecksAllowWhatIsRight:
    """The construction checks refuse mistakes, not the rules a shop means."""

    B2C = csrules.ruleset("b2c")

    def test_a_derived_fact_may_compare_an_enum_fact_with_its_text(self) -> None:
        shop = self.B2C.with_fact("is_cod", bool, derive=fact("payment_method") == "cod")
        derive = shop.kind("return").fact("is_cod").derive
        assert derive is not None
        values = [getattr(n, "value", None) for n in derive.walk()]
        assert any(v is PaymentMethod.COD for v in values)  # the text became the member
        with pytest.raises(RuleDefinitionError, match="'cdo' is no PaymentMethod"):
            self.B2C.with_fact("is_cod", bool, derive=fact("payment_method") == "cdo")

    def test_a_derived_fact_may_call_a_calendar_function(self) -> None:
        shop = self.B2C.with_fact(
            "due_3", dt.date, derive=call("add_working_days", fact("request_date"), 3)
        )
        when = fact("due_3") > fact("request_date")
        rule = _shop_rule(when, {"freight_payer": FreightPayer.MERCHANT})
        decided = shop.with_rule("freight_payer", rule, before="not_shipped").decide(_a_case())
        assert "SHOP-9" in decided.rules

    def test_a_true_or_false_output_may_be_none(self) -> None:
        table = Table(
            "shop_review", "a review flag", HitPolicy.FIRST, ("paid",), ("needs_review",),
            [_shop_rule(fact("paid"), {"needs_review": True}, "paid"),
             _shop_rule(~fact("paid"), {"needs_review": False}, "unpaid")],
        )  # fmt: skip
        review = returns.RETURN_KIND.with_tables((*returns.RETURN_KIND.tables, table))
        shop = csrules.RuleSet("shop", self.B2C.policy, {**self.B2C.kinds, "return": review})
        none = _shop_rule(fact("paid"), {"needs_review": None}, "maybe")
        assert shop.with_rule("shop_review", none, before="paid") is not None

    def test_a_collect_output_is_a_tuple_to_later_rules(self) -> None:
        """`escalate_to` holds every escalation: compared with one member it never
        matches, so the comparison is refused (any_in is the way)."""
        wrong = _shop_rule(
            fact("escalate_to") == "general_manager", {"duty": "call_the_manager"}, "gm"
        )
        with pytest.raises(RuleDefinitionError, match="a tuple"):
            self.B2C.with_rule("complaint_duties", wrong)
        right = _shop_rule(
            call("any_in", fact("escalate_to"), frozenset({"general_manager"})),
            {"duty": "call_the_manager"},
            "gm",
        )
        assert self.B2C.with_rule("complaint_duties", right) is not None

    def test_a_format_spec_in_an_explanation_is_refused(self) -> None:
        with pytest.raises(RuleDefinitionError, match=r"\{shipping_fee:\.2f\}"):
            Rule("SHOP-9", fact("paid"), {}, en="fee {shipping_fee:.2f}", zh="x", id="fee")

    def test_replacing_a_rule_with_an_id_another_table_has_is_refused(self) -> None:
        rule = _shop_rule(fact("paid"), {"freight_payer": FreightPayer.MERCHANT}, "closed_order")
        with pytest.raises(RuleDefinitionError, match="has a rule 'closed_order' already"):
            self.B2C.replacing_rule("not_shipped", rule)
