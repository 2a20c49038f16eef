"""Tests of csrules.rules: expression trees and compiled decision tables."""

from __future__ import annotations

import datetime as dt
import enum
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csrules.exceptions import (
    CsrulesError,
    NoRuleMatchedError,
    RuleDefinitionError,
    RuleOverlapError,
)
from csrules.rules import TRUE, Expr, HitPolicy, Rule, Table, call, const, fact, param
from csrules.rules._expr import (
    All,
    AnyOf,
    Arith,
    Call,
    Compare,
    Const,
    Fact,
    In,
    IsNone,
    Not,
    Param,
)


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


def rule(
    clause: str = "B2C-1",
    when: Expr = TRUE,
    then: Mapping[str, object] | None = None,
    *,
    id: str = "",
    en: str = "",
    zh: str = "",
    silent: bool = False,
) -> Rule:
    """A rule with empty explanations unless given."""
    return Rule(clause, when, then or {}, en=en, zh=zh, id=id, silent=silent)


def table(
    hit_policy: HitPolicy,
    rules: list[Rule],
    *,
    inputs: tuple[str, ...] = ("a", "b", "n"),
    outputs: tuple[str, ...] = ("x", "y"),
    defaults: Mapping[str, object] | None = None,
) -> Table:
    """A small test table named ``t``."""
    return Table(
        "t", "test table", hit_policy, inputs, outputs, rules, defaults=dict(defaults or {})
    )


# -- expressions -------------------------------------------------------------


class TestRendering:
    """render() prints conditions the way the rule tables document them."""

    def test_comparisons_use_table_symbols(self) -> None:
        """== != < <= > >= render as = ≠ < ≤ > ≥; parameters in brackets."""
        n, limit = fact("n"), param("limit")
        assert (n == 1).render() == "n = 1"
        assert (n != 1).render() == "n ≠ 1"
        assert (n < limit).render() == "n < [limit]"
        assert (n <= limit).render() == "n ≤ [limit]"
        assert (n > limit).render() == "n > [limit]"
        assert (n >= limit).render() == "n ≥ [limit]"

    def test_constants_render_plainly(self) -> None:
        """Booleans as true/false, None as none, enums by value, Decimals as written."""
        assert const(True).render() == "true"
        assert const(False).render() == "false"
        assert const(None).render() == "none"
        assert const(Colour.RED).render() == "red"
        assert const(Decimal("10.00")).render() == "10.00"
        assert const("signed").render() == "signed"

    def test_logic_parenthesises_by_precedence(self) -> None:
        """or inside and, and inside not, are parenthesised; the reverse is not."""
        a, b, c = fact("a"), fact("b"), fact("c")
        assert ((a | b) & c).render() == "(a or b) and c"
        assert ((a & b) | c).render() == "a and b or c"
        assert (~(a & b)).render() == "not (a and b)"
        assert ((~a) & b).render() == "not a and b"
        assert ((~a) == b).render() == "(not a) = b"

    def test_sets_missing_values_and_calls(self) -> None:
        """isin/notin list their values (sorted); is_none/is_not_none; calls by name."""
        status = fact("status")
        assert status.isin(["signed", Colour.BLUE]).render() == "status in {blue, signed}"
        assert status.notin([None, True]).render() == "status not in {none, true}"
        assert status.is_none().render() == "status is none"
        assert status.is_not_none().render() == "status is set"
        added = call("add_working_days", fact("day"), param("refund_working_days"))
        assert added.render() == "add_working_days(day, [refund_working_days])"

    def test_arithmetic_renders_in_order(self) -> None:
        """Left-nested arithmetic needs no parentheses."""
        a, b, c = fact("a"), fact("b"), fact("c")
        assert ((a + b) - c).render() == "a + b - c"
        assert (a * b + c).render() == "a * b + c"
        assert (a + 1 <= param("limit")).render() == "a + 1 ≤ [limit]"

    def test_right_nested_arithmetic_keeps_its_parentheses(self) -> None:
        """A right operand of the same or lower precedence stays in parentheses."""
        a, b, c = fact("a"), fact("b"), fact("c")
        assert (a - (b - c)).render() == "a - (b - c)"
        assert (a * (b + c)).render() == "a * (b + c)"


class TestFactsAndParams:
    """facts() and params() list every name an expression reads, however deep."""

    def test_collects_names_through_every_node_kind(self) -> None:
        """Names under and/or/not, comparisons, arithmetic, sets and calls are found."""
        expr = (
            (fact("a") == param("p"))
            & ~(fact("b").isin([1, 2]) | fact("c").is_none())
            & (call("add_days", fact("d"), param("q") + 1) > fact("e") * param("r"))
        )
        assert expr.facts() == frozenset({"a", "b", "c", "d", "e"})
        assert expr.params() == frozenset({"p", "q", "r"})

    def test_constants_read_nothing(self) -> None:
        """A constant reads no fact and no parameter."""
        assert const(3).facts() == frozenset()
        assert TRUE.params() == frozenset()

    def test_rule_reads_condition_and_outcomes(self) -> None:
        """Rule.facts/params cover the condition and computed outcomes."""
        r = rule(
            when=fact("a") == param("p"), then={"x": call("add_days", fact("day"), param("q"))}
        )
        assert r.facts() == frozenset({"a", "day"})
        assert r.params() == frozenset({"p", "q"})


class TestExpressionErrors:
    """Misuse of expressions fails loudly at definition time."""

    @pytest.mark.parametrize(
        "use",
        [
            lambda: bool(fact("a")),
            lambda: bool(fact("a") == 1),
            lambda: fact("a") == 1 and fact("b") == 2,
            lambda: not fact("a"),
            lambda: 1 if fact("a") > 0 else 0,
        ],
        ids=["bool", "bool-of-comparison", "and", "not", "if"],
    )
    def test_no_truth_value(self, use: Callable[[], object]) -> None:
        """bool(expr) raises TypeError (so and/or/not/if cannot silently mis-build a rule)."""
        with pytest.raises(TypeError, match="no truth value"):
            use()

    @pytest.mark.parametrize(
        "build",
        [
            lambda: fact("a") == 1.5,
            lambda: fact("a") + 0.1,
            lambda: const(2.0),
            lambda: call("add_days", fact("d"), 1.0),
            lambda: rule(then={"x": 0.5}),
        ],
        ids=["compare", "add", "const", "call-argument", "outcome"],
    )
    def test_float_constants_are_refused(self, build: Callable[[], object]) -> None:
        """A float constant raises RuleDefinitionError (money is never float)."""
        with pytest.raises(RuleDefinitionError, match="float"):
            build()

    def test_float_constants_in_sets_are_refused(self) -> None:
        """isin([... float ...]) raises RuleDefinitionError like any float constant."""
        with pytest.raises(RuleDefinitionError, match="float"):
            fact("price").isin([Decimal("1.00"), 9.9])

    def test_unknown_function_is_refused(self) -> None:
        """call() of an unknown function raises RuleDefinitionError listing known ones."""
        with pytest.raises(RuleDefinitionError, match="unknown function 'add_weeks'") as info:
            call("add_weeks", fact("d"), 1)
        assert "add_days" in str(info.value)
        assert isinstance(info.value, CsrulesError)

    def test_expressions_are_unhashable(self) -> None:
        """== builds a node, so expressions are not hashable."""
        with pytest.raises(TypeError):
            hash(fact("a"))


class TestStructure:
    """Operators build the expected nodes; & and | flatten chains."""

    def test_and_flattens(self) -> None:
        """a & b & c & d is one All node with four items, in order."""
        a, b, c, d = (fact(n) for n in "abcd")
        expr = (a & b) & (c & d)
        assert isinstance(expr, All)
        assert [i.render() for i in expr.children()] == ["a", "b", "c", "d"]

    def test_or_flattens(self) -> None:
        """a | b | (c | d) is one AnyOf node with four items, in order."""
        a, b, c, d = (fact(n) for n in "abcd")
        expr = a | b | (c | d)
        assert isinstance(expr, AnyOf)
        assert [i.render() for i in expr.children()] == ["a", "b", "c", "d"]

    def test_mixed_logic_does_not_flatten_across_kinds(self) -> None:
        """An or inside an and stays a child node."""
        a, b, c = fact("a"), fact("b"), fact("c")
        expr = (a | b) & c
        assert isinstance(expr, All)
        assert len(expr.children()) == 2
        assert isinstance(expr.children()[0], AnyOf)

    def test_set_and_none_nodes(self) -> None:
        """isin/notin/is_none/is_not_none build In and IsNone nodes."""
        assert isinstance(fact("a").isin([1]), In)
        assert isinstance(fact("a").notin([1]), In)
        assert isinstance(fact("a").is_none(), IsNone)
        assert isinstance(fact("a").is_not_none(), IsNone)

    def test_lift_wraps_constants_once(self) -> None:
        """Operands that are not expressions become Const; expressions are kept."""
        expr = fact("a") == "x"
        assert isinstance(expr, Compare)
        assert isinstance(expr.right, Const)
        assert const(fact("a")).render() == "a"


# -- tables ------------------------------------------------------------------


A_RULE = rule("B2C-1", fact("a") == True, {"x": 1}, id="a")  # noqa: E712
B_RULE = rule("B2C-2", fact("b") == True, {"x": 2}, id="b")  # noqa: E712
DEFAULT = rule("B2C-3", TRUE, {"x": 3}, id="default")


class TestFirstHit:
    """first: rules are tried in order and the first match alone fires."""

    def test_first_match_wins(self) -> None:
        """With a and b both true, the earlier rule decides."""
        t = table(HitPolicy.FIRST, [A_RULE, B_RULE, DEFAULT])
        result = t.evaluate({"a": True, "b": True, "n": 0}, {})
        assert result.outputs["x"] == 1
        assert [f.rule.id for f in result.fired] == ["a"]
        assert t.matches({"a": True, "b": True, "n": 0}, {}) == (0,)

    def test_later_rules_and_default(self) -> None:
        """A later rule fires when earlier ones do not; the default row catches the rest."""
        t = table(HitPolicy.FIRST, [A_RULE, B_RULE, DEFAULT])
        assert t.evaluate({"a": False, "b": True, "n": 0}, {}).outputs["x"] == 2
        assert t.evaluate({"a": False, "b": False, "n": 0}, {}).outputs["x"] == 3

    def test_no_match_raises(self) -> None:
        """A first-hit table that matches nothing raises NoRuleMatchedError naming the table."""
        t = table(HitPolicy.FIRST, [A_RULE, B_RULE])
        assert t.matches({"a": False, "b": False, "n": 0}, {}) == ()
        with pytest.raises(NoRuleMatchedError, match="'t'"):
            t.evaluate({"a": False, "b": False, "n": 0}, {})


class TestUniqueHit:
    """unique: exactly one rule must match."""

    def test_single_match(self) -> None:
        """One match fires and gives its outcome."""
        t = table(HitPolicy.UNIQUE, [A_RULE, B_RULE])
        assert t.evaluate({"a": False, "b": True, "n": 0}, {}).outputs["x"] == 2

    def test_overlap_names_both_rules(self) -> None:
        """Two matches raise RuleOverlapError naming both rule ids."""
        t = table(HitPolicy.UNIQUE, [A_RULE, B_RULE])
        with pytest.raises(RuleOverlapError) as info:
            t.evaluate({"a": True, "b": True, "n": 0}, {})
        assert "'a'" in str(info.value)
        assert "'b'" in str(info.value)
        assert t.matches({"a": True, "b": True, "n": 0}, {}) == (0, 1)

    def test_no_match_raises(self) -> None:
        """No match raises NoRuleMatchedError."""
        t = table(HitPolicy.UNIQUE, [A_RULE, B_RULE])
        with pytest.raises(NoRuleMatchedError):
            t.evaluate({"a": False, "b": False, "n": 0}, {})


class TestCollectHit:
    """collect: every matching rule fires, in order; each output is a tuple."""

    def test_all_matches_in_order(self) -> None:
        """Outputs are tuples of the fired rules' values, in table order."""
        t = table(HitPolicy.COLLECT, [A_RULE, B_RULE, DEFAULT])
        result = t.evaluate({"a": True, "b": True, "n": 0}, {})
        assert result.outputs == {"x": (1, 2, 3), "y": ()}
        assert [f.rule.id for f in result.fired] == ["a", "b", "default"]

    def test_none_may_match(self) -> None:
        """A collect table that matches nothing gives empty tuples, not an error."""
        t = table(HitPolicy.COLLECT, [A_RULE, B_RULE])
        result = t.evaluate({"a": False, "b": False, "n": 0}, {})
        assert result.outputs == {"x": (), "y": ()}
        assert result.fired == ()

    def test_rules_without_an_output_are_skipped_in_its_tuple(self) -> None:
        """A rule that does not set y contributes nothing to y's tuple."""
        both = rule("B2C-4", TRUE, {"x": 4, "y": "z"}, id="both")
        t = table(HitPolicy.COLLECT, [A_RULE, both])
        assert t.evaluate({"a": True, "b": False, "n": 0}, {}).outputs == {
            "x": (1, 4),
            "y": ("z",),
        }


class TestTableDefinition:
    """A table checks its rules when it is built."""

    def test_undeclared_fact_in_condition(self) -> None:
        """A rule reading a fact outside the inputs raises RuleDefinitionError at construction."""
        bad = rule("B2C-9", fact("secret") == 1, {"x": 1}, id="bad")
        with pytest.raises(RuleDefinitionError, match=r"rule 'bad'.*\['secret'\]"):
            table(HitPolicy.FIRST, [A_RULE, bad])

    def test_undeclared_fact_in_outcome(self) -> None:
        """A computed outcome reading an undeclared fact is refused too."""
        bad = rule("B2C-9", TRUE, {"x": call("add_days", fact("secret"), 1)}, id="bad")
        with pytest.raises(RuleDefinitionError, match="secret"):
            table(HitPolicy.FIRST, [bad])

    def test_undeclared_output(self) -> None:
        """A rule setting an output the table does not declare is refused."""
        with pytest.raises(RuleDefinitionError, match="'z'"):
            table(HitPolicy.FIRST, [rule(then={"z": 1})])

    def test_duplicate_ids(self) -> None:
        """Two rules with one id are refused; the id defaults to the clause."""
        with pytest.raises(RuleDefinitionError, match="two rules have the id 'B2C-1'"):
            table(HitPolicy.FIRST, [rule("B2C-1"), rule("B2C-1", fact("a") == 1)])
        ok = table(HitPolicy.FIRST, [rule("B2C-1"), rule("B2C-1", id="other")])
        assert [r.id for r in ok.rules] == ["B2C-1", "other"]

    @pytest.mark.parametrize(
        "clause", ["", "B2C", "b2c-1", "B2C 7.1", "7.10.3", "B2C-", "-7.1", "B2C-7,1"]
    )
    def test_bad_clause_ids(self, clause: str) -> None:
        """A clause that is not like 'B2C-7.10.3a' raises RuleDefinitionError."""
        with pytest.raises(RuleDefinitionError, match="clause"):
            rule(clause)

    @pytest.mark.parametrize("clause", ["B2C-7.10.3a", "LAW-25.1", "TB-EMS", "JD-1.4", "TBX-4"])
    def test_good_clause_ids(self, clause: str) -> None:
        """Clause IDs of every source in POLICY.md are accepted."""
        assert rule(clause).clause == clause

    def test_condition_must_be_an_expression(self) -> None:
        """A plain value as condition is refused."""
        with pytest.raises(RuleDefinitionError, match="'when' must be an expression"):
            Rule("B2C-1", True, {}, en="", zh="")  # type: ignore[arg-type]

    def test_name_and_rules_are_checked(self) -> None:
        """Table names are lower_snake_case and a table has at least one rule."""
        with pytest.raises(RuleDefinitionError, match="lower_snake_case"):
            Table("Bad-Name", "", HitPolicy.FIRST, (), ("x",), [rule()])
        with pytest.raises(RuleDefinitionError, match="no rules"):
            Table("empty", "", HitPolicy.FIRST, (), ("x",), [])

    def test_missing_fact_at_evaluation(self) -> None:
        """A fact record without a needed input raises RuleDefinitionError naming it."""
        t = table(HitPolicy.FIRST, [A_RULE, DEFAULT])
        with pytest.raises(RuleDefinitionError, match="'a'"):
            t.evaluate({"b": True}, {})

    def test_missing_parameter_at_evaluation(self) -> None:
        """Parameters are read from the mapping given; a missing one is named."""
        t = table(HitPolicy.FIRST, [rule(when=fact("n") > param("limit"), then={"x": 1})])
        with pytest.raises(RuleDefinitionError, match="'limit'"):
            t.evaluate({"n": 1}, {})

    def test_defaults_are_checked_at_construction(self) -> None:
        """A default that reads an undeclared fact is refused when the table is built."""
        with pytest.raises(RuleDefinitionError):
            table(HitPolicy.FIRST, [DEFAULT], defaults={"y": fact("secret")})


class TestDefaultsAndComputedOutcomes:
    """Defaults fill unset outputs; outcomes may be computed from facts and parameters."""

    def test_defaults_fill_unset_outputs(self) -> None:
        """A first-hit row without y gets the default y; a row setting y keeps its own."""
        sets_y = rule("B2C-5", fact("b") == True, {"x": 5, "y": "own"}, id="sets_y")  # noqa: E712
        t = table(HitPolicy.FIRST, [A_RULE, sets_y, DEFAULT], defaults={"y": "dflt"})
        assert t.evaluate({"a": True, "b": True, "n": 0}, {}).outputs == {"x": 1, "y": "dflt"}
        assert t.evaluate({"a": False, "b": True, "n": 0}, {}).outputs == {"x": 5, "y": "own"}

    def test_defaults_apply_to_unique_but_not_collect(self) -> None:
        """unique rows get defaults; collect tuples list only what rules set."""
        unique = table(HitPolicy.UNIQUE, [A_RULE, B_RULE], defaults={"y": 0})
        assert unique.evaluate({"a": True, "b": False, "n": 0}, {}).outputs == {"x": 1, "y": 0}
        collect = table(HitPolicy.COLLECT, [A_RULE, B_RULE], defaults={"y": 0})
        assert collect.evaluate({"a": True, "b": False, "n": 0}, {}).outputs["y"] == ()

    def test_computed_outcomes(self) -> None:
        """Outcomes may be arithmetic and function calls over facts and parameters."""
        t = Table(
            "dates",
            "",
            HitPolicy.FIRST,
            ("day", "n"),
            ("due", "total", "earliest"),
            [
                rule(
                    then={
                        "due": call("add_days", fact("day"), param("days")),
                        "total": fact("n") * 2 + param("extra"),
                        "earliest": call("earlier", fact("day"), None),
                    }
                )
            ],
        )
        out = t.evaluate({"day": dt.date(2026, 5, 6), "n": 3}, {"days": 7, "extra": 1}).outputs
        assert out == {"due": dt.date(2026, 5, 13), "total": 7, "earliest": dt.date(2026, 5, 6)}

    def test_calendar_functions_use_the_calendar_given(self) -> None:
        """Calendar functions receive the calendar passed to evaluate()."""

        class EveryOtherDay:
            def add_working_days(self, d: dt.date, n: int) -> dt.date:
                return d + dt.timedelta(days=2 * n)

        t = Table(
            "cal",
            "",
            HitPolicy.FIRST,
            ("day",),
            ("due",),
            [rule(then={"due": call("add_working_days", fact("day"), 3)})],
        )
        due = t.evaluate({"day": dt.date(2026, 5, 6)}, {}, EveryOtherDay()).outputs["due"]
        assert due == dt.date(2026, 5, 12)

    def test_decimal_and_enum_constants(self) -> None:
        """Decimal and enum constants compare and come back unchanged."""
        t = Table(
            "money",
            "",
            HitPolicy.FIRST,
            ("amount", "colour"),
            ("x",),
            [
                rule(
                    "B2C-1",
                    (fact("amount") > Decimal("99.99")) & (fact("colour") == Colour.RED),
                    {"x": Colour.BLUE},
                ),
                rule("B2C-2", TRUE, {"x": Decimal("0.10")}),
            ],
        )
        assert t.evaluate({"amount": Decimal("100"), "colour": "red"}, {}).outputs == {
            "x": Colour.BLUE
        }
        assert t.evaluate({"amount": Decimal("99.99"), "colour": Colour.RED}, {}).outputs == {
            "x": Decimal("0.10")
        }

    def test_results_do_not_share_state(self) -> None:
        """A result's outputs cannot be changed, so no caller can change a later answer."""
        t = table(HitPolicy.FIRST, [DEFAULT])
        first = t.evaluate({"a": True, "b": True, "n": 0}, {})
        with pytest.raises(TypeError):
            first.outputs["x"] = 99  # type: ignore[index]
        assert t.evaluate({"a": True, "b": True, "n": 0}, {}).outputs["x"] == 3


class TestEditing:
    """replace_rule and insert_rule return new tables; the original is unchanged."""

    def test_replace_rule(self) -> None:
        """The replaced row takes effect in the copy only."""
        t = table(HitPolicy.FIRST, [A_RULE, B_RULE, DEFAULT])
        facts = {"a": True, "b": False, "n": 0}
        new = t.replace_rule("a", rule("B2C-1", fact("a") == True, {"x": 10}, id="a"))  # noqa: E712
        assert new is not t
        assert new.evaluate(facts, {}).outputs["x"] == 10
        assert t.evaluate(facts, {}).outputs["x"] == 1
        assert [r.id for r in t.rules] == ["a", "b", "default"]

    def test_insert_rule(self) -> None:
        """An inserted row before another takes priority in the copy only."""
        t = table(HitPolicy.FIRST, [A_RULE, DEFAULT])
        facts = {"a": True, "b": True, "n": 0}
        first = t.insert_rule(rule("B2C-7", fact("b") == True, {"x": 7}, id="b7"), before="a")  # noqa: E712
        assert [r.id for r in first.rules] == ["b7", "a", "default"]
        assert first.evaluate(facts, {}).outputs["x"] == 7
        assert t.evaluate(facts, {}).outputs["x"] == 1
        last = t.insert_rule(rule("B2C-8", id="end"))
        assert [r.id for r in last.rules] == ["a", "default", "end"]
        assert [r.id for r in t.rules] == ["a", "default"]

    def test_edits_are_checked(self) -> None:
        """Unknown ids, duplicate ids and undeclared facts are refused in edits too."""
        t = table(HitPolicy.FIRST, [A_RULE, DEFAULT])
        with pytest.raises(RuleDefinitionError, match="no rule 'nope'"):
            t.replace_rule("nope", DEFAULT)
        with pytest.raises(RuleDefinitionError, match="no rule 'nope'"):
            t.insert_rule(B_RULE, before="nope")
        with pytest.raises(RuleDefinitionError, match="two rules"):
            t.insert_rule(rule("B2C-1", id="a"))
        with pytest.raises(RuleDefinitionError, match="secret"):
            t.replace_rule("a", rule(when=fact("secret") == 1, id="a"))

    def test_rows(self) -> None:
        """rows() gives (id, clause, condition, outcome) text per rule."""
        t = table(
            HitPolicy.FIRST,
            [
                rule("B2C-1", fact("n") >= param("limit"), {"x": 1, "y": True}, id="big"),
                rule("B2C-2", id="rest"),
            ],
        )
        assert list(t.rows()) == [
            ("big", "B2C-1", "n ≥ [limit]", "x = 1, y = true"),
            ("rest", "B2C-2", "true", "-"),
        ]


class TestExplanations:
    """Explanations fill {fields} from the outputs, then the facts, then the parameters."""

    T = Table(
        "explained",
        "",
        HitPolicy.FIRST,
        ("n", "day", "x"),
        ("x", "due"),
        [
            rule(
                "B2C-1",
                fact("n") > param("limit"),
                {"x": "big", "due": call("add_days", fact("day"), param("days"))},
                en="{n} is over {limit}: {x}, due {due}; missing {nothing}.",
                zh="{n}超过{limit}:{x},{due}前。",
            ),
            rule("B2C-2", en="small, flag {flag}", zh="小,{flag}"),
        ],
    )

    def test_both_languages(self) -> None:
        """English and Chinese templates are filled alike; unknown fields stay as written."""
        result = self.T.evaluate(
            {"n": 7, "day": dt.date(2026, 5, 6), "x": "fact-x"}, {"limit": 5, "days": 2}
        )
        (fired,) = result.fired
        assert fired.clause == "B2C-1"
        assert fired.explanation() == "7 is over 5: big, due 2026-05-08; missing {nothing}."
        assert fired.explanation("en") == fired.explanation()
        assert fired.explanation("zh") == "7超过5:big,2026-05-08前。"

    def test_values_are_displayed_plainly(self) -> None:
        """Booleans read yes/no, Decimals as written, None as '-', times as HH:MM."""
        for value, shown in [
            (True, "yes"),
            (False, "no"),
            (Decimal("10.00"), "10.00"),
            (None, "-"),
            (dt.time(16, 0), "16:00"),
            (Colour.RED, "red"),
            ((), "-"),
        ]:
            result = self.T.evaluate({"n": 0, "day": None, "x": None}, {"limit": 5, "flag": value})
            assert result.fired[0].explanation() == f"small, flag {shown}"

    def test_table_params_include_explanation_fields(self) -> None:
        """Fields naming neither an input nor an output count as parameters the rule reads."""
        assert self.T.params() == frozenset({"limit", "days", "nothing", "flag"})


class TestThreadSafety:
    """One compiled table evaluated from many threads gives the sequential results."""

    def test_eight_threads(self) -> None:
        """8 threads on different fact records agree with a sequential run."""
        t = Table(
            "threads",
            "",
            HitPolicy.COLLECT,
            ("n", "day"),
            ("tag", "due"),
            [
                rule("B2C-1", fact("n") >= 0, {"tag": "any"}),
                rule(
                    "B2C-2",
                    fact("n") > param("limit"),
                    {"due": call("add_days", fact("day"), fact("n"))},
                ),
                rule("B2C-3", fact("n").isin(range(0, 1000, 3)), {"tag": "three"}),
            ],
        )
        params = {"limit": 50}
        records = [{"n": n, "day": dt.date(2026, 1, 1)} for n in range(400)]

        def run(rows: list[dict[str, Any]]) -> list[Any]:
            return [(t.matches(r, params), dict(t.evaluate(r, params).outputs)) for r in rows]

        expected = run(records)
        results: dict[int, list[Any]] = {}
        barrier = threading.Barrier(8)

        def worker(index: int) -> None:
            barrier.wait()
            mine = records[index::8] * 20
            results[index] = run(mine)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for index in range(8):
            assert results[index] == expected[index::8] * 20


# -- the compiler against a reference interpreter ------------------------------

FACTS = ("a", "b", "c", "d")
PARAMS = ("p", "q")
_REFERENCE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "earlier": lambda x, y: y if x is None else x if y is None else min(x, y),
    "later": lambda x, y: y if x is None else x if y is None else max(x, y),
}


def interpret(expr: Expr, facts: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    """Evaluate an expression tree by walking its nodes (the compiler's reference)."""
    if isinstance(expr, Fact):
        return facts[expr.name]
    if isinstance(expr, Param):
        return params[expr.name]
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Not):
        return not interpret(expr.item, facts, params)
    if isinstance(expr, All):
        return all(interpret(i, facts, params) for i in expr.items)
    if isinstance(expr, AnyOf):
        return any(interpret(i, facts, params) for i in expr.items)
    if isinstance(expr, Compare | Arith):
        left = interpret(expr.left, facts, params)
        right = interpret(expr.right, facts, params)
        return {
            "==": lambda: left == right,
            "!=": lambda: left != right,
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
        }[expr.op]()
    if isinstance(expr, In):
        found = any(interpret(expr.item, facts, params) == v for v in expr.values)
        return found != expr.negate
    if isinstance(expr, IsNone):
        return (interpret(expr.item, facts, params) is None) != expr.negate
    if isinstance(expr, Call):
        args = [interpret(a, facts, params) for a in expr.args]
        return _REFERENCE_FUNCTIONS[expr.function](*args)
    raise AssertionError(f"the reference interpreter does not know {type(expr).__name__}")


_atoms = st.one_of(
    st.sampled_from(FACTS).map(fact),
    st.sampled_from(PARAMS).map(param),
    st.booleans().map(const),
)
# numbers: booleans, small ints, sums and products of them (no None: they are ordered)
_numbers = st.recursive(
    _atoms | st.integers(-2, 2).map(const),
    lambda inner: st.one_of(
        st.builds(lambda x, y: x + y, inner, inner),
        st.builds(lambda x, y: x - y, inner, inner),
        st.builds(lambda x, y: x * y, inner, inner),
        st.builds(lambda x, y: call("earlier", x, y), inner, inner),
        st.builds(lambda x, y: call("later", x, y), inner, inner),
    ),
    max_leaves=4,
)
_maybe_none = _atoms | st.just(const(None))
_CMP: tuple[Callable[[Expr, Expr], Expr], ...] = (
    lambda x, y: x == y,
    lambda x, y: x != y,
    lambda x, y: x < y,
    lambda x, y: x <= y,
    lambda x, y: x > y,
    lambda x, y: x >= y,
)
_leaf_conditions = st.one_of(
    _atoms,
    st.builds(lambda op, x, y: op(x, y), st.sampled_from(_CMP), _numbers, _numbers),
    st.builds(lambda x, y: x == y, _maybe_none, _maybe_none),
    st.builds(lambda x, y: x != y, _maybe_none, _maybe_none),
    st.builds(
        lambda x, vs: x.isin(vs), _numbers, st.lists(st.integers(-2, 3) | st.booleans(), max_size=3)
    ),
    st.builds(
        lambda x, vs: x.notin(vs),
        _numbers,
        st.lists(st.integers(-2, 3) | st.booleans(), max_size=3),
    ),
    _maybe_none.map(lambda x: x.is_none()),
    _maybe_none.map(lambda x: x.is_not_none()),
)
conditions = st.recursive(
    _leaf_conditions,
    lambda inner: st.one_of(
        inner.map(lambda x: ~x),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: _combine(xs, and_=True)),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: _combine(xs, and_=False)),
        # a condition compared with another (booleans compare as numbers)
        st.builds(lambda op, x, y: op(x, y), st.sampled_from(_CMP), inner, inner),
    ),
    max_leaves=8,
)


def _combine(items: list[Expr], *, and_: bool) -> Expr:
    result = items[0]
    for item in items[1:]:
        result = (result & item) if and_ else (result | item)
    return result


_records = st.fixed_dictionaries({name: st.booleans() for name in FACTS})
_params = st.fixed_dictionaries({name: st.booleans() for name in PARAMS})


class TestCompilerAgainstReference:
    """A compiled table matches exactly the rules whose conditions a tree walk finds true.

    This differential test is the main guard on the compiler: conditions are
    random trees over boolean facts and parameters, and the reference walks
    the nodes directly instead of generating source.
    """

    @settings(max_examples=400, deadline=None)
    @given(
        st.lists(conditions, min_size=1, max_size=6),
        st.lists(_records, min_size=1, max_size=8),
        _params,
    )
    def test_collect_and_first_match_the_reference(
        self,
        whens: list[Expr],
        records: list[dict[str, bool]],
        params: dict[str, bool],
    ) -> None:
        """collect matches every true rule in order; first matches the first of them."""
        rules = [
            rule(f"B2C-{i}", when, {"x": i, "y": call("later", fact("a"), param("p"))})
            for i, when in enumerate(whens)
        ]
        collect = table(HitPolicy.COLLECT, rules, inputs=FACTS)
        first = table(HitPolicy.FIRST, rules, inputs=FACTS)
        for record in records:
            expected = tuple(i for i, when in enumerate(whens) if interpret(when, record, params))
            assert collect.matches(record, params) == expected, [w.render() for w in whens]
            assert first.matches(record, params) == expected[:1]
            outputs = collect.evaluate(record, params).outputs
            assert outputs["x"] == expected
            assert outputs["y"] == (max(record["a"], params["p"]),) * len(expected)
