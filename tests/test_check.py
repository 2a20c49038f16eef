"""Tests of csrules._check: static analysis of decision tables."""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import csrules
from csrules._check import KINDS, FactDomain, Finding, check_tables, kind_domains
from csrules._decision import Action, PromotionSize
from csrules._domain import Channel, Department, OrderStatus, RequestType, Topic
from csrules.exceptions import ArgumentTypeError, PolicyError, RuleDefinitionError
from csrules.policy import default_policy
from csrules.rules import TRUE, Expr, HitPolicy, Rule, Table, call, fact, param
from csrules.rules._expr import Compare, lift
from csrules.rules.promotions import REMINDER_LEAD

POLICY = default_policy()
ON = dt.date(2026, 12, 1)
D = FactDomain


class Colour(enum.StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Size(enum.StrEnum):
    S = "s"
    L = "l"


def rule(rid: str, when: Expr, en: str = "Because.", zh: str = "因为。") -> Rule:
    return Rule("T-1", when, {"out": rid}, en=en, zh=zh, id=rid)


def table(
    policy: HitPolicy, *rules: Rule, inputs: Sequence[str] = ("colour", "big", "n", "d")
) -> Table:
    return Table("t", "test", policy, inputs, ("out",), rules)


FACTS: Mapping[str, FactDomain] = {
    "colour": D(Colour),
    "big": D(bool),
    "n": D(int),
    "d": D(dt.date),
}


def run(t: Table, facts: Mapping[str, FactDomain] = FACTS) -> list[Finding]:
    return [f for f in check_tables([t], facts, POLICY, ON) if f.table is not None]


def kinds(findings: Sequence[Finding]) -> list[tuple[str | None, str]]:
    return [(f.rule, f.kind) for f in findings]


colour, big, n, d = fact("colour"), fact("big"), fact("n"), fact("d")


class TestRules:
    def test_rule_after_catch_all_is_masked(self) -> None:
        t = table(
            HitPolicy.FIRST, rule("a", colour == Colour.RED), rule("all", TRUE), rule("b", big)
        )
        found = run(t)
        assert kinds(found) == [("b", "masked")]
        assert "catch-all rule 'all'" in found[0].explanation

    def test_rule_covered_by_several_earlier_rules_is_masked(self) -> None:
        t = table(
            HitPolicy.FIRST,
            rule("red", colour == Colour.RED),
            rule("green_big", (colour == Colour.GREEN) & big),
            rule("green_small", (colour == Colour.GREEN) & ~big),
            rule("warm", colour.isin({Colour.RED, Colour.GREEN})),
            rule("rest", TRUE),
        )
        found = run(t)
        assert kinds(found) == [("warm", "masked")]
        assert "'red', 'green_big' and 'green_small'" in found[0].explanation

    def test_partly_covered_rule_is_not_masked(self) -> None:
        t = table(
            HitPolicy.FIRST,
            rule("red", colour == Colour.RED),
            rule("warm", colour.isin({Colour.RED, Colour.GREEN})),
            rule("rest", TRUE),
        )
        assert run(t) == []

    def test_unsatisfiable_rule_is_unreachable(self) -> None:
        t = table(
            HitPolicy.FIRST,
            rule("never", (colour == Colour.RED) & (colour == Colour.BLUE)),
            rule("small_and_big", (n > 5) & (n < 6)),
            rule("rest", TRUE),
        )
        found = run(t)
        assert kinds(found) == [("never", "unreachable"), ("small_and_big", "unreachable")]
        assert "colour == red" in found[0].explanation or "red" in found[0].explanation

    def test_overlapping_unique_rules_with_a_witness(self) -> None:
        t = table(
            HitPolicy.UNIQUE,
            rule("warm", colour.isin({Colour.RED, Colour.GREEN})),
            rule("green_big", (colour == Colour.GREEN) & big),
            rule("blue", colour == Colour.BLUE),
        )
        found = run(t)
        assert kinds(found) == [("green_big", "overlap")]
        assert "'warm' and 'green_big'" in found[0].explanation
        assert "colour=green" in found[0].explanation
        assert "big=true" in found[0].explanation

    def test_gap_over_an_enum(self) -> None:
        t = table(
            HitPolicy.FIRST,
            rule("red", colour == Colour.RED),
            rule("green", colour == Colour.GREEN),
        )
        found = run(t)
        assert kinds(found) == [(None, "gap")]
        assert "colour=blue" in found[0].explanation

    def test_exhaustive_unique_table_has_no_gap(self) -> None:
        t = table(
            HitPolicy.UNIQUE,
            rule("red_big", (colour == Colour.RED) & big),
            rule("red_small", (colour == Colour.RED) & ~big),
            rule("other", colour != Colour.RED),
        )
        assert run(t) == []

    def test_collect_tables_have_no_gap_or_overlap(self) -> None:
        t = table(HitPolicy.COLLECT, rule("red", colour == Colour.RED), rule("any", TRUE))
        assert run(t) == []

    def test_nullable_facts_have_a_none_cell(self) -> None:
        facts = {**FACTS, "d": D(dt.date, nullable=True)}
        t = table(
            HitPolicy.UNIQUE,
            rule("early", d < dt.date(2026, 1, 1)),
            rule("late", d >= dt.date(2026, 1, 1)),
        )
        assert run(t) == []
        found = run(t, facts)
        assert kinds(found) == [(None, "gap")]
        assert "d=none" in found[0].explanation
        guarded = table(
            HitPolicy.UNIQUE,
            rule("missing", d.is_none()),
            rule("early", d.is_not_none() & (d < dt.date(2026, 1, 1))),
            rule("late", d >= dt.date(2026, 1, 1)),
        )
        assert run(guarded, facts) == []

    def test_text_facts_compare_with_the_texts_named(self) -> None:
        facts = {**FACTS, "code": D(str)}
        t = table(
            HitPolicy.FIRST,
            rule("a", fact("code") == "a"),
            rule("not_a", fact("code") != "a"),
            rule("b", fact("code") == "b"),
            inputs=("code",),
        )
        found = run(t, facts)
        assert kinds(found) == [("b", "masked")]


class TestSwitchesAndOpaque:
    def test_rule_switched_off_by_a_parameter_is_not_reported(self) -> None:
        taobao = param("refund_clock") == "taobao"
        b2c = param("refund_clock") == "b2c"
        t = table(HitPolicy.UNIQUE, rule("taobao", taobao), rule("b2c", b2c))
        assert POLICY.value("refund_clock", ON) in ("taobao", "b2c")
        assert run(t) == []

    def test_rule_pre_empted_only_by_a_switch_is_not_masked(self) -> None:
        switched = param("agent_closes_unpaid_orders") == False  # noqa: E712
        t = table(
            HitPolicy.FIRST,
            rule("customer_closes", (colour == Colour.RED) & switched),
            rule("agent_closes", colour == Colour.RED),
            rule("rest", TRUE),
        )
        for value in (True, False):
            shop = POLICY.with_values(ON, agent_closes_unpaid_orders=value)
            found = [f for f in check_tables([t], FACTS, shop, ON) if f.table]
            assert found == []
        always = table(
            HitPolicy.FIRST,
            rule("customer_closes", (colour == Colour.RED) & switched),
            rule("agent_closes", (colour == Colour.RED) & ~switched),
            rule("red", colour == Colour.RED),
            rule("rest", TRUE),
        )
        found = run(always)
        assert kinds(found) == [("red", "masked")]
        assert "'customer_closes' and 'agent_closes'" in found[0].explanation

    def test_opaque_conditions_never_give_a_false_gap_or_overlap(self) -> None:
        later = fact("d") > call("add_days", fact("e"), 3)
        facts = {**FACTS, "e": D(dt.date)}
        t = table(
            HitPolicy.UNIQUE,
            rule("late", later),
            rule("not_late", ~later),
            inputs=("d", "e"),
        )
        assert run(t, facts) == []
        first = table(
            HitPolicy.FIRST,
            rule("late", later & big),
            rule("rest", ~later),
            inputs=("d", "e", "big"),
        )
        found = run(first, facts)
        # big=false with `later` true matches nothing, but whether `later` can be true
        # is not analysed: no gap is claimed for big=false
        assert kinds(found) == []

    def test_masked_whatever_the_opaque_condition_says_is_reported_as_partial(self) -> None:
        later = fact("d") > call("add_days", fact("e"), 3)
        facts = {**FACTS, "e": D(dt.date)}
        t = table(
            HitPolicy.FIRST,
            rule("late_big", later & big),
            rule("big", big),
            rule("late_and_big", big & later),
            rule("rest", TRUE),
            inputs=("d", "e", "big"),
        )
        found = run(t, facts)
        assert kinds(found) == [("late_and_big", "masked")]
        assert "partial analysis" in found[0].explanation
        assert "add_days" in found[0].explanation

    def test_gap_whatever_the_opaque_condition_says(self) -> None:
        later = fact("d") > call("add_days", fact("e"), 3)
        facts = {**FACTS, "e": D(dt.date)}
        t = table(
            HitPolicy.FIRST,
            rule("late", later & big),
            rule("early", ~later & big),
            inputs=("d", "e", "big"),
        )
        found = run(t, facts)
        assert kinds(found) == [(None, "gap")]
        assert "big=false" in found[0].explanation
        assert "partial analysis" in found[0].explanation

    def test_values_of_another_type_are_opaque(self) -> None:
        # 1 == True in Python: an int fact compared with a bool is not cut at 1
        t = table(
            HitPolicy.FIRST,
            rule("one", n == True),  # noqa: E712
            rule("also_one", n == 1),
            rule("rest", TRUE),
        )
        found = run(t)
        assert kinds(found) == []
        same = table(
            HitPolicy.FIRST, rule("one", n == 1), rule("also_one", n == 1), rule("rest", TRUE)
        )
        assert kinds(run(same)) == [("also_one", "masked")]

    def test_undeclared_fact_is_opaque(self) -> None:
        t = table(
            HitPolicy.FIRST, rule("red", colour == Colour.RED), rule("other", colour != Colour.RED)
        )
        assert run(t, {}) == []
        t2 = table(
            HitPolicy.FIRST, rule("red", colour == Colour.RED), rule("red2", colour == Colour.RED)
        )
        found = run(t2, {})
        assert kinds(found) == [("red2", "masked")]


class TestBands:
    def test_hole_between_int_bands(self) -> None:
        t = table(HitPolicy.UNIQUE, rule("low", n <= 5), rule("high", n >= 7))
        found = run(t)
        assert ("high", "band") in kinds(found)
        band = next(f for f in found if f.kind == "band")
        assert "n 6 falls in no band" in band.explanation
        assert "between rule 'low' and rule 'high'" in band.explanation
        assert (None, "gap") in kinds(found)

    def test_hole_of_several_values(self) -> None:
        t = table(HitPolicy.FIRST, rule("low", n <= 5), rule("high", n > 9), rule("rest", TRUE))
        found = run(t)
        assert kinds(found) == [("high", "band")]
        assert "n from 6 to 9 falls in no band" in found[0].explanation

    def test_overlap_of_int_bands(self) -> None:
        t = table(
            HitPolicy.FIRST,
            rule("low", (n >= 0) & (n <= 5)),
            rule("mid", (n >= 5) & (n <= 9)),
            rule("rest", TRUE),
        )
        found = run(t)
        assert kinds(found) == [("mid", "band")]
        assert "both take n 5" in found[0].explanation

    def test_holes_between_decimal_bands_are_described(self) -> None:
        facts = {**FACTS, "m": D(Decimal)}
        m = fact("m")
        t = table(
            HitPolicy.FIRST,
            rule("low", m < Decimal("1.5")),
            rule("mid", (m > Decimal("1.5")) & (m <= 3)),
            rule("high", m > 5),
            rule("rest", TRUE),
            inputs=("m",),
        )
        found = run(t, facts)
        assert kinds(found) == [("mid", "band"), ("high", "band")]
        assert "m 1.5 falls in no band" in found[0].explanation
        assert "more than 3 and up to 5 falls" in found[1].explanation
        assert "between rule 'mid' and rule 'high'" in found[1].explanation

    def test_nested_first_hit_thresholds_are_clean(self) -> None:
        t = table(
            HitPolicy.FIRST, rule("large", n > 100), rule("medium", n >= 50), rule("small", TRUE)
        )
        assert run(t) == []

    def test_date_bands_against_a_parameter(self) -> None:
        start = dt.date(2026, 1, 1)
        days = POLICY.value("no_reason_return_days", ON)
        limit = call("add_days", start, param("no_reason_return_days"))
        end = start + dt.timedelta(days=days)
        overlap = table(
            HitPolicy.UNIQUE,
            rule("within", d <= limit),
            rule("after", d >= limit),
        )
        found = run(overlap)
        assert kinds(found) == [("after", "band")]
        assert f"both take d {end.isoformat()}" in found[0].explanation
        hole = table(
            HitPolicy.UNIQUE,
            rule("within", d < limit),
            rule("after", d > limit),
        )
        found = run(hole)
        assert ("after", "band") in kinds(found)
        assert f"d {end.isoformat()} falls in no band" in found[0].explanation
        clean = table(HitPolicy.UNIQUE, rule("within", d <= limit), rule("after", d > limit))
        assert run(clean) == []

    def test_reminder_bands_out_of_order_are_found(self) -> None:
        shop = POLICY.with_values(ON, remind_band2_max_days=5)
        facts, _ = kind_domains(csrules.ruleset("b2c").kind("promotion"))
        found = [f for f in check_tables([REMINDER_LEAD], facts, shop, ON) if f.table]
        assert found, "band 2 ending before band 1 must be reported"
        assert {f.kind for f in found} <= {"band", "unreachable", "gap"}
        assert any(f.rule == "band2" for f in found)


class TestNames:
    def test_unused_parameter(self) -> None:
        t = table(HitPolicy.FIRST, rule("a", n > param("no_reason_return_days")), rule("b", TRUE))
        found = check_tables([t], FACTS, POLICY, ON)
        unused = {f.explanation.split("'")[1] for f in found if f.kind == "unused_param"}
        assert "no_reason_return_days" not in unused
        assert "refund_clock" in unused
        staff = {p.name for p in POLICY.parameters.values() if p.staff_only}
        assert staff, "the bundled policy has staff-only parameters"
        assert unused == set(POLICY.parameters) - {"no_reason_return_days"} - staff
        fewer = check_tables([t], FACTS, POLICY, ON, also_read={"refund_clock"})
        assert not any("'refund_clock'" in f.explanation for f in fewer)

    def test_unused_fact(self) -> None:
        t = table(HitPolicy.FIRST, rule("a", colour == Colour.RED), rule("b", TRUE, en="N is {n}."))
        found = [f for f in check_tables([t], FACTS, POLICY, ON) if f.kind == "unused_fact"]
        assert [(f.table, f.rule) for f in found] == [(None, None), (None, None)]
        assert [f.explanation.split("'")[1] for f in found] == ["big", "d"]

    def test_empty_text(self) -> None:
        t = table(
            HitPolicy.FIRST,
            rule("a", colour == Colour.RED, en="  {n} ", zh="红色{n}。"),
            rule("b", TRUE, zh=""),
        )
        found = run(t)
        assert kinds(found) == [("a", "empty_text"), ("b", "empty_text")]
        assert "en explanation" in found[0].explanation
        assert "zh explanation of rule 'b' is empty" in found[1].explanation

    def test_bad_placeholder(self) -> None:
        t = table(
            HitPolicy.FIRST,
            rule(
                "a",
                TRUE,
                en="Out {out}, n {n}, days {no_reason_return_days}, {colur}.",
                zh="见{shade}。",
            ),
        )
        found = run(t)
        assert kinds(found) == [("a", "bad_placeholder"), ("a", "bad_placeholder")]
        assert "{colur}" in found[0].explanation
        assert "{shade}" in found[1].explanation

    @pytest.mark.parametrize("text", ["Out {out", "见{x.y}。", "{Out}", "{0}", "{out!r}"])
    def test_a_template_that_is_no_template_is_refused_when_the_rule_is_made(
        self, text: str
    ) -> None:
        """An unpaired brace or a field that is not a plain name is refused by Rule
        itself (it would be printed as it stands, or fail when explained)."""
        with pytest.raises(RuleDefinitionError, match="rule 'a'"):
            rule("a", TRUE, en=text)


class TestFinding:
    def test_str_is_one_line(self) -> None:
        f = Finding("t", "a", "masked", "Rule 'a' never fires.")
        assert str(f) == "t  a  masked  Rule 'a' never fires."
        assert str(Finding(None, None, "unused_fact", "x")) == "-  -  unused_fact  x"

    def test_kinds_are_listed(self) -> None:
        assert set(KINDS) >= {"masked", "unreachable", "overlap", "gap", "band"}
        with pytest.raises(ValueError, match="kind"):
            Finding("t", None, "mystery", "x")

    def test_arguments_are_checked(self) -> None:
        with pytest.raises(ArgumentTypeError, match=r"FactDomain\.type"):
            FactDomain(list)
        with pytest.raises(ArgumentTypeError, match="policy"):
            check_tables([], {}, None, ON)  # type: ignore[arg-type]
        with pytest.raises(ArgumentTypeError, match="on"):
            check_tables([], {}, POLICY, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        with pytest.raises(ArgumentTypeError, match="tables"):
            check_tables(["t"], {}, POLICY, ON)  # type: ignore[list-item]


# ---------------------------------------------------------------- rule sets
# The fact domains come from the rule set's own declarations (kind_domains).


class TestRuleSets:
    @pytest.mark.parametrize("name", ["b2c", "taobao"])
    @pytest.mark.parametrize("on", [ON, dt.date(2020, 6, 1), dt.date(2014, 3, 15)])
    def test_bundled_rule_sets_have_no_finding(self, name: str, on: dt.date) -> None:
        assert csrules.ruleset(name).check(on) == []

    def test_today_is_the_default_date(self) -> None:
        assert csrules.ruleset("b2c").check() == []

    def test_domains_come_from_the_declarations(self) -> None:
        domains, derived = kind_domains(csrules.ruleset("b2c").kind("return"))
        assert domains["request_type"] == D(RequestType)
        assert domains["status"] == D(OrderStatus)
        assert domains["signed_at"] == D(dt.datetime, nullable=True)
        assert domains["signed_date"] == D(dt.date, nullable=True)  # from a nullable fact
        assert domains["request_date"] == D(dt.date)
        assert domains["tag_intact"] == D(bool)  # a default stands in for None
        assert domains["action"] == D(Action)  # a first-hit table's constant outcome
        assert "categories" not in domains
        assert "condition" not in domains
        # boolean derivations the analysis reads exactly are kept as expressions
        assert {"paid", "merchant_fault", "goods_normal"} <= set(derived)
        assert "excluded_category" not in derived  # through a function: its own fact
        assert "condition_given" not in derived  # reads an object fact

    def test_complaint_and_promotion_domains(self) -> None:
        b2c = csrules.ruleset("b2c")
        complaint, _ = kind_domains(b2c.kind("complaint"))
        assert complaint["order_amount"] == D(Decimal, nullable=True)
        assert complaint["days_since_delivered"] == D(int, nullable=True)
        assert complaint["route_to"] == D(Department)
        assert complaint["topic"] == D(Topic)
        assert complaint["channel"] == D(Channel)
        promotion, derived = kind_domains(b2c.kind("promotion"))
        assert promotion["length_days"] == D(int)
        assert promotion["size"] == D(PromotionSize)
        assert derived["discounted"].render() == "price_factor < 1"

    def test_a_derived_fact_keeps_its_link(self) -> None:
        """A signed order is paid (``paid`` derives from ``status``): a rule for
        signed, unpaid orders can never fire."""
        shop = csrules.ruleset("b2c").with_rule(
            "return_action",
            Rule(
                "SHOP-2",
                (fact("request_type") == RequestType.REFUND)
                & (fact("status") == OrderStatus.SIGNED)
                & (fact("paid") == False),  # noqa: E712 -- a rule's condition
                {"action": Action.REJECTED, "eligible": False},
                en="Unpaid.",
                zh="未付款。",
                id="signed_unpaid",
            ),
            before="refund_nothing_paid",
        )
        assert [(f.table, f.rule, f.kind) for f in shop.check(ON)] == [
            ("return_action", "signed_unpaid", "unreachable")
        ]

    def test_unused_names_of_a_shop(self) -> None:
        shop = csrules.ruleset("b2c").with_fact("vip", bool, default=False, kind="complaint")
        found = shop.check(ON)
        assert [(f.kind, f.explanation.split("'")[1]) for f in found] == [("unused_fact", "vip")]
        assert "kind 'complaint'" in found[0].explanation

    def test_stream_rule_parameters_are_read(self) -> None:
        b2c = csrules.ruleset("b2c")
        bare = csrules.RuleSet("bare", b2c.policy, b2c.kinds)  # no stream rules
        unused = {f.explanation.split("'")[1] for f in bare.check(ON) if f.kind == "unused_param"}
        assert unused == {"repeat_complaint_window_days", "quality_window_days"}

    def test_staff_only_parameters_are_not_reported(self, tmp_path: Path) -> None:
        b2c = csrules.ruleset("b2c")
        staff = {p.name for p in b2c.policy.parameters.values() if p.staff_only}
        assert {"ship_cutoff", "wait_hold_max_minutes"} <= staff
        text = (
            '[parameters.gift_wrap_fee]\nclause = "SHOP-9"\ntype = "money"\n'
            'description = "Gift wrapping."\nvalues = { 2010-04-01 = "5" }\n'
        )
        (tmp_path / "plain.toml").write_text(text, encoding="utf-8")
        (tmp_path / "staff.toml").write_text(
            text.replace('type = "money"', 'type = "money"\nstaff_only = true'), encoding="utf-8"
        )
        plain = [f.kind for f in b2c.with_parameters(tmp_path / "plain.toml").check(ON)]
        assert plain == ["unused_param"]
        assert b2c.with_parameters(tmp_path / "staff.toml").check(ON) == []
        # an override keeps the definition's flag; a flag that is not a bool is refused
        (tmp_path / "change.toml").write_text(
            "[parameters.ship_cutoff]\nvalues = { 2027-01-01 = \"15:00\" }\n", encoding="utf-8"
        )
        changed = b2c.with_parameters(tmp_path / "change.toml").policy.parameters["ship_cutoff"]
        assert changed.staff_only
        (tmp_path / "bad.toml").write_text(
            "[parameters.ship_cutoff]\nstaff_only = \"yes\"\n", encoding="utf-8"
        )
        with pytest.raises(PolicyError, match=r"ship_cutoff\.staff_only: expected true or false"):
            b2c.with_parameters(tmp_path / "bad.toml")

    def test_the_date_picks_parameter_values(self) -> None:
        shop = csrules.ruleset("b2c").with_parameters(
            on=dt.date(2030, 1, 1), remind_band2_max_days=5
        )
        assert shop.check(ON) == []
        later = [(f.rule, f.kind) for f in shop.check(dt.date(2030, 1, 1))]
        assert later == [("band2", "unreachable"), ("band3", "band")]

    def test_a_date_before_the_parameters(self) -> None:
        with pytest.raises(
            PolicyError, match=r"no_reason_return_days.*check on 2014-03-15 or later"
        ):
            csrules.ruleset("b2c").check(dt.date(2014, 3, 14))

    def test_bad_date(self) -> None:
        with pytest.raises(ArgumentTypeError, match="on"):
            csrules.ruleset("b2c").check(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # type: ignore[arg-type]


# ---------------------------------------------------------------- brute force


class Three(enum.Enum):
    A = 1
    B = 2
    C = 3


SMALL: Mapping[str, FactDomain] = {
    "x": D(Three),
    "y": D(bool),
    "z": D(Size),
    "w": D(bool, nullable=True),
}
VALUES: Mapping[str, tuple[object, ...]] = {
    "x": tuple(Three),
    "y": (False, True),
    "z": tuple(Size),
    "w": (False, True, None),
}


def atoms() -> st.SearchStrategy[Expr]:
    x, y, z, w = fact("x"), fact("y"), fact("z"), fact("w")
    three = st.sampled_from(list(Three))
    size = st.sampled_from(list(Size))
    return st.one_of(
        three.map(lambda v: x == v),
        three.map(lambda v: x != v),
        st.sets(three, min_size=1, max_size=2).map(lambda vs: x.isin(vs)),
        st.sets(three, min_size=1, max_size=2).map(lambda vs: x.notin(vs)),
        st.just(y),
        st.just(~y),
        st.booleans().map(lambda b: y == b),
        size.map(lambda v: z == v),
        st.just(w),
        st.just(w.is_none()),
        st.booleans().map(lambda b: w == b),
        st.just(TRUE),
    )


conditions = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
        inner.map(lambda e: ~e),
    ),
    max_leaves=4,
)


def brute_force(rules: Sequence[Rule]) -> list[set[int]]:
    """The rules matching each input of the small domain."""
    every = Table("s", "all", HitPolicy.COLLECT, tuple(VALUES), ("out",), rules)
    return [
        set(every.matches(dict(zip(VALUES, combo, strict=True)), {}))
        for combo in itertools.product(*VALUES.values())
    ]


SHOWN: Mapping[str, Mapping[str, object]] = {
    "x": {"1": Three.A, "2": Three.B, "3": Three.C},
    "y": {"false": False, "true": True},
    "z": {"s": Size.S, "l": Size.L},
    "w": {"false": False, "true": True, "none": None},
}


def witness_inputs(explanation: str) -> list[dict[str, object]]:
    """Every input of the small domain that agrees with the example a finding names."""
    named = dict(
        pair.split("=")
        for pair in explanation.split(" match", 1)[1].split(" (")[0].split(",")
        if "=" in pair
        for pair in [pair.strip().removeprefix("es ").split(" ")[0]]
    )
    fixed = {k: SHOWN[k][v] for k, v in named.items()}
    choices = [(fixed[k],) if k in fixed else VALUES[k] for k in VALUES]
    return [dict(zip(VALUES, combo, strict=True)) for combo in itertools.product(*choices)]


def ids(found: Sequence[Finding], kind: str) -> set[int]:
    return {int(f.rule[1:]) for f in found if f.kind == kind and f.rule}


@settings(max_examples=200, deadline=None)
@given(st.lists(conditions, min_size=1, max_size=5))
def test_first_hit_findings_match_brute_force(whens: list[Expr]) -> None:
    rules = [rule(f"r{i}", w) for i, w in enumerate(whens)]
    t = Table("t", "random", HitPolicy.FIRST, tuple(VALUES), ("out",), rules)
    matched = brute_force(rules)
    own = set().union(*matched)
    fired = {min(m) for m in matched if m}
    found = check_tables([t], SMALL, POLICY, ON)
    assert ids(found, "unreachable") == set(range(len(rules))) - own
    assert ids(found, "masked") == own - fired
    assert any(f.kind == "gap" for f in found) == any(not m for m in matched)
    for gap in (f for f in found if f.kind == "gap"):
        assert all(t.matches(record, {}) == () for record in witness_inputs(gap.explanation))


@settings(max_examples=200, deadline=None)
@given(st.lists(conditions, min_size=1, max_size=4))
def test_unique_findings_match_brute_force(whens: list[Expr]) -> None:
    rules = [rule(f"r{i}", w) for i, w in enumerate(whens)]
    t = Table("t", "random", HitPolicy.UNIQUE, tuple(VALUES), ("out",), rules)
    matched = brute_force(rules)
    pairs = {(i, j) for m in matched for i in m for j in m if i < j}
    found = check_tables([t], SMALL, POLICY, ON)
    reported = {
        tuple(int(r[1:]) for r in f.explanation.split("'")[1:4:2])
        for f in found
        if f.kind == "overlap"
    }
    assert reported == pairs
    every = Table("s", "all", HitPolicy.COLLECT, tuple(VALUES), ("out",), rules)
    for f in found:
        if f.kind == "overlap":
            i, j = (int(r[1:]) for r in f.explanation.split("'")[1:4:2])
            for record in witness_inputs(f.explanation):
                assert {i, j} <= set(every.matches(record, {}))
    assert any(f.kind == "gap" for f in found) == any(not m for m in matched)


NUMBERS: Mapping[str, FactDomain] = {"n": D(int), "m": D(Decimal)}
GRID: Mapping[str, tuple[object, ...]] = {
    "n": tuple(range(-2, 12)),
    "m": tuple(Decimal(k) / 4 for k in range(-4, 24)),
}


def comparisons() -> st.SearchStrategy[Expr]:
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    return st.one_of(
        st.tuples(ops, st.integers(0, 9)).map(lambda p: Compare(p[0], fact("n"), lift(p[1]))),
        st.tuples(ops, st.integers(0, 9)).map(
            lambda p: Compare(p[0], fact("m"), lift(Decimal(p[1]) / 2))
        ),
    )


numeric = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
        inner.map(lambda e: ~e),
    ),
    max_leaves=3,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(numeric, min_size=1, max_size=4))
def test_interval_findings_match_brute_force(whens: list[Expr]) -> None:
    """Over an int and a Decimal fact, a grid finer than the constants finds
    every cell (constants of m are halves, the grid steps by quarters)."""
    rules = [rule(f"r{i}", w) for i, w in enumerate(whens)]
    t = Table("t", "random", HitPolicy.FIRST, tuple(GRID), ("out",), rules)
    every = Table("s", "all", HitPolicy.COLLECT, tuple(GRID), ("out",), rules)
    matched = [
        set(every.matches(dict(zip(GRID, combo, strict=True)), {}))
        for combo in itertools.product(*GRID.values())
    ]
    own = set().union(*matched)
    fired = {min(m) for m in matched if m}
    found = check_tables([t], NUMBERS, POLICY, ON)
    assert ids(found, "unreachable") == set(range(len(rules))) - own
    assert ids(found, "masked") == own - fired
    assert any(f.kind == "gap" for f in found) == any(not m for m in matched)


def derived_atoms() -> st.SearchStrategy[Expr]:
    d = fact("d")
    return st.one_of(
        atoms(), st.just(d), st.just(~d), st.booleans().map(lambda b: Compare("==", d, lift(b)))
    )


derived_conditions = st.recursive(
    derived_atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
        inner.map(lambda e: ~e),
    ),
    max_leaves=3,
)


@settings(max_examples=150, deadline=None)
@given(conditions, st.lists(derived_conditions, min_size=1, max_size=4))
def test_derived_facts_are_read_as_their_derivation(derive: Expr, whens: list[Expr]) -> None:
    """A boolean fact ``d`` derived from the others: with ``derived=``, the
    findings are exactly those of the inputs the fact records can hold (``d``
    always equal to its derivation)."""
    holds = Table("d", "derive", HitPolicy.COLLECT, tuple(VALUES), ("out",), [rule("d", derive)])
    rules = [rule(f"r{i}", w) for i, w in enumerate(whens)]
    inputs = (*VALUES, "d")
    every = Table("s", "all", HitPolicy.COLLECT, inputs, ("out",), rules)
    matched = []
    for combo in itertools.product(*VALUES.values()):
        record: dict[str, object] = dict(zip(VALUES, combo, strict=True))
        record["d"] = bool(holds.matches(record, {}))
        matched.append(set(every.matches(record, {})))
    own = set().union(*matched)
    fired = {min(m) for m in matched if m}
    t = Table("t", "random", HitPolicy.FIRST, inputs, ("out",), rules)
    domains = {**SMALL, "d": D(bool)}
    found = check_tables([t], domains, POLICY, ON, derived={"d": derive})
    assert ids(found, "unreachable") == set(range(len(rules))) - own
    assert ids(found, "masked") == own - fired
    assert any(f.kind == "gap" for f in found) == any(not m for m in matched)
