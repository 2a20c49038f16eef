"""Rules split by a fact's value, and the decide function that inlines every table.

The compiled functions try, for a case, only the rules that can still fire
given the value of one fact (see ``csrules.rules._dispatch``), and a kind's
``decide`` runs every table inline on the facts. Each is checked here against
the plain forms it replaces: the rule tried one by one (``Table.matches``),
and a decide that calls each table's own function in turn.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import pickle
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import csrules
from csrules import Action, FactSpec, testing
from csrules._ruleset import CompiledKind, _compile_decide_calls
from csrules.exceptions import CsrulesError, RuleDefinitionError
from csrules.io import parse_case_line
from csrules.rules import HitPolicy, Rule, Table
from csrules.rules._dispatch import OTHER, choose_dispatch, lookup, specialise
from csrules.rules._expr import All, AnyOf, Const, Expr, Not, call, const, fact
from csrules.rules._pysource import SourceCompiler
from csrules.rules._record import fact_record


class Colour(enum.StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"
    GREY = "grey"


_COLOURS = list(Colour)
_VALUES = st.sampled_from([*_COLOURS, "red", "black", 0, 1, True, None])


def _atoms() -> st.SearchStrategy[Expr]:
    colour = st.sampled_from(_COLOURS)
    return st.one_of(
        colour.map(lambda c: fact("c") == const(c)),
        colour.map(lambda c: fact("c") != const(c)),
        colour.map(lambda c: const(c) == fact("c")),
        st.lists(colour, min_size=1, max_size=3, unique=True).map(lambda v: fact("c").isin(v)),
        st.lists(colour, min_size=1, max_size=3, unique=True).map(lambda v: fact("c").notin(v)),
        st.just(fact("flag")),
        st.just(fact("n") > const(2)),
        st.just(fact("c") < const(2)),  # a text and a number: raises
        st.just(fact("c").is_none()),
        st.just(Const(True)),
        st.just(Const(False)),
    )


def _conditions() -> st.SearchStrategy[Expr]:
    return st.recursive(
        _atoms(),
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: All(tuple(xs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: AnyOf(tuple(xs))),
            inner.map(Not),
        ),
        max_leaves=6,
    )


def _truth(expr: Expr, facts: dict[str, Any]) -> object:
    """The condition's truth on ``facts``, compiled as the tables compile it,
    or the type of the error it raises."""
    compiler = SourceCompiler()
    source = compiler.visit(expr)
    loads = "".join(f"    {local} = f[{name!r}]\n" for name, local in compiler.facts.items())
    namespace: dict[str, Any] = dict(compiler.values)
    exec(f"def truth(f):\n{loads}    return bool({source})\n", namespace)
    try:
        return bool(namespace["truth"](facts))
    except TypeError as err:
        return type(err)


class TestSpecialise:
    """A condition rewritten for a value is true exactly when the original is."""

    @settings(max_examples=300, deadline=None)
    @given(
        condition=_conditions(),
        value=_VALUES,
        flag=st.booleans(),
        n=st.one_of(st.none(), st.integers(0, 4)),
    )
    def test_agrees_with_the_condition_for_every_value(
        self, condition: Expr, value: object, flag: bool, n: int | None
    ) -> None:
        """Same truth, or the same error (``"red" < 2`` raises, before and after)."""
        facts = {"c": value, "flag": flag, "n": n}
        bucket = value if value in _COLOURS else OTHER
        if bucket is not OTHER:
            bucket = next(c for c in _COLOURS if c == value)
        rewritten = specialise(condition, "c", bucket)
        assert _truth(rewritten, facts) == _truth(condition, facts)

    def test_settles_the_tests_of_the_fact(self) -> None:
        condition = (fact("c") == Colour.RED) & fact("flag")
        assert specialise(condition, "c", Colour.RED).render() == fact("flag").render()
        blue = specialise(condition, "c", Colour.BLUE)
        assert isinstance(blue, Const)
        assert blue.value is False
        other = specialise(~fact("c").isin([Colour.RED]), "c", OTHER)
        assert isinstance(other, Const)
        assert other.value is True

    def test_leaves_other_facts_and_other_operators_alone(self) -> None:
        condition = fact("n") > const(2)
        assert specialise(condition, "c", Colour.RED) is condition


class TestChooseDispatch:
    """The fact chosen, and when splitting does not pay."""

    def test_small_tables_are_not_split(self) -> None:
        assert choose_dispatch([fact("c") == Colour.RED, Const(True)], first=True) is None

    def test_the_fact_tested_most_is_chosen(self) -> None:
        rules = [(fact("c") == c) & (fact("n") > const(i)) for i, c in enumerate(_COLOURS)]
        dispatch = choose_dispatch([*rules, Const(True)], first=True)
        assert dispatch is not None
        assert dispatch.fact == "c"
        # each colour keeps its own rule and the catch-all
        for colour in _COLOURS:
            buckets = dispatch.buckets[colour]
            kept = [c for c in buckets if not (isinstance(c, Const) and c.value is False)]
            assert len(kept) == 2

    def test_lookup_completes_an_enum(self) -> None:
        table, complete = lookup({Colour.RED: 0, Colour.BLUE: 1}, 9)
        assert complete
        assert table[Colour.GREEN] == 9
        assert table["red"] == 0  # a StrEnum member equals its value
        plain, complete = lookup({"a": 0, "b": 1}, 9)
        assert not complete
        assert "c" not in plain


def _fired(run: Any) -> object:
    """The indices of the rules that fired, or the type of the error raised."""
    try:
        found = run()
    except TypeError as err:
        return type(err)
    if isinstance(found, tuple) and not hasattr(found, "hits"):
        return found
    return tuple(i for i, _ in found.hits)


def _table(policy: HitPolicy, conditions: list[Expr]) -> Table:
    rules = [
        Rule("B2C-1", c, {"hit": i}, en="-", zh="-", id=f"r{i}") for i, c in enumerate(conditions)
    ]
    if policy is HitPolicy.FIRST:
        rules.append(Rule("B2C-1", Const(True), {"hit": -1}, en="-", zh="-", id="otherwise"))
    return Table("t", "t", policy, ("c", "flag", "n"), ("hit",), rules)


class TestTablesAgree:
    """A split table fires the rules the table fires tried one by one."""

    @settings(max_examples=200, deadline=None)
    @given(
        conditions=st.lists(_conditions(), min_size=3, max_size=8),
        policy=st.sampled_from([HitPolicy.FIRST, HitPolicy.COLLECT]),
        cases=st.lists(
            st.fixed_dictionaries({"c": _VALUES, "flag": st.booleans(), "n": st.integers(0, 4)}),
            min_size=1,
            max_size=8,
        ),
    )
    def test_evaluate_fires_what_matches_finds(
        self, conditions: list[Expr], policy: HitPolicy, cases: list[dict[str, Any]]
    ) -> None:
        table = _table(policy, conditions)
        for facts in cases:
            assert _fired(lambda f=facts: table.evaluate(f, {})) == _fired(
                lambda f=facts: table.matches(f, {})
            )

    def test_an_unhashable_value_tries_every_rule(self) -> None:
        conditions = [fact("c") == c for c in _COLOURS] + [fact("c") != const("x")]
        table = _table(HitPolicy.FIRST, conditions)
        assert choose_dispatch([r.when for r in table.rules], first=True) is not None
        result = table.evaluate({"c": ["red"], "flag": False, "n": 0}, {})
        assert result.outputs["hit"] == len(_COLOURS)

    def test_a_missing_fact_is_named_when_a_rule_needs_it(self) -> None:
        table = _table(HitPolicy.FIRST, [fact("c") == c for c in _COLOURS])
        with pytest.raises(RuleDefinitionError, match="'c'"):
            table.evaluate({"flag": True, "n": 1}, {})


@pytest.mark.parametrize("name", ["b2c", "taobao"])
class TestInlineDecide:
    """The decide function inlining every table decides as one calling each table."""

    @settings(max_examples=150, deadline=None)
    @given(case=testing.cases())
    def test_same_decision(self, name: str, case: Any) -> None:
        ruleset = csrules.ruleset(name)
        kind = ruleset.kind(case.kind)
        compiled = kind.compiled()
        calls = _compile_decide_calls(CompiledKind(kind))
        policy = ruleset.policy
        roots = tuple(getattr(case, root) for root in kind.roots)
        try:
            inline = compiled.decide(roots, {}, policy, case.id)
        except CsrulesError as err:
            with pytest.raises(type(err)):
                calls(roots, {}, policy, case.id)
            return
        other = calls(roots, {}, policy, case.id)
        assert inline == other
        assert inline.rules == other.rules
        assert inline.explanation() == other.explanation()


class TestFactRecord:
    """A decision's fact record reads as the dict it stands for."""

    def test_reads_as_a_dict(self) -> None:
        later: dict[str, Any] = {}
        record = fact_record({"a": 0, "b": 1}, (1, None), later)
        later["out"] = "x"
        expected = {"a": 1, "b": None, "out": "x"}
        assert dict(record) == expected
        assert record == expected
        assert len(record) == 3
        assert list(record) == ["a", "b", "out"]
        assert record["b"] is None
        assert record.get("b", 5) is None
        assert record.get("missing", 5) == 5
        assert "out" in record
        assert "missing" not in record
        with pytest.raises(KeyError):
            record["missing"]
        assert pickle.loads(pickle.dumps(record)) == expected
        assert repr(record) == repr(expected)

    def test_a_decision_keeps_the_facts_and_outputs(self) -> None:
        case = next(c for c in _example_cases() if c.kind == "return")
        decision = csrules.decide(case)
        facts = decision.trace.results[0].facts
        assert facts["request_type"] == case.request.type
        assert facts["action"] == decision.action
        assert facts["freight_payer"] == decision.freight_payer


def _example_cases() -> list[Any]:
    from pathlib import Path

    from csrules.io import parse_case_line

    text = (Path(__file__).parent.parent / "examples" / "cases.jsonl").read_text(encoding="utf-8")
    return [parse_case_line(line) for line in text.splitlines() if line.strip()]


class TestWhatASplitKeeps:
    """A split skips nothing that could raise or note an estimated year."""

    def test_a_call_before_the_split_test_still_runs(self) -> None:
        rule = Rule(
            "SHOP-1",
            (call("add_working_days", fact("request_date"), 1) > fact("request_date"))
            & (fact("reason") == "wrong_address"),
            {"freight_payer": "merchant"},
            en="-",
            zh="-",
            id="early",
        )
        shop = csrules.ruleset("b2c").with_rule("freight_payer", rule, before="no_parcel")
        case = parse_case_line(_CANCEL_2035)
        # the only working-day arithmetic of this case is the shop's
        assert shop.decide(case).estimated
        assert not csrules.decide(case).estimated
        frame = shop.decide_frame(_frame_of(case))
        assert frame.column("decision.estimated").to_pylist() == [True]

    def test_an_ordering_with_a_missing_date_is_false_on_every_path(self) -> None:
        rule = Rule(
            "SHOP-1",
            (fact("signed_date") < fact("request_date")) & (fact("reason") == "wrong_address"),
            {"freight_payer": "merchant"},
            en="-",
            zh="-",
            id="early",
        )
        shop = csrules.ruleset("b2c").with_rule("freight_payer", rule, before="no_parcel")
        case = parse_case_line(_CANCEL_2035)  # never signed: no signed_date
        decision = shop.decide(case)
        assert decision.freight_payer == csrules.decide(case).freight_payer
        frame = shop.decide_frame(_frame_of(case))
        assert frame.column("decision.freight_payer").to_pylist() == [decision.freight_payer.value]
        assert csrules.explain(case, ruleset=shop).decision == decision

    def test_a_part_per_value_is_not_written_for_a_thousand_values(self) -> None:
        conditions = [fact("sku") == f"S{i}" for i in range(1000)] + [Const(True)]
        assert choose_dispatch(conditions, first=True) is None
        few = [fact("sku") == f"S{i}" for i in range(20)] + [Const(True)]
        assert choose_dispatch(few, first=True) is not None


def _frame_of(case: Any) -> Any:
    """The case as a one-row table of dotted-path columns."""
    import pyarrow as pa

    data = json.loads(_CANCEL_2035)
    row = {"id": data["id"], "kind": data["kind"], "at": data["at"]}
    order = dict(data["order"])
    row["order.lines"] = json.dumps(order.pop("lines"))
    row |= {f"order.{k}": v for k, v in order.items()}
    row |= {f"request.{k}": v for k, v in data["request"].items()}
    return pa.table({k: [v] for k, v in row.items()})


_CANCEL_2035 = json.dumps(
    {
        "id": "r1",
        "kind": "return",
        "at": "2035-05-06T10:00:00+08:00",
        "order": {
            "id": "X1",
            "customer_id": "C1",
            "status": "confirmed_unpaid",
            "placed_at": "2035-05-06T09:00:00+08:00",
            "lines": [{"sku": "8892", "unit_price": "200.00", "quantity": 1}],
        },
        "request": {"type": "cancel", "reason": "changed_mind"},
    }
)


class TestGeneratedNames:
    """What a rule set names cannot clash with the generated code's names."""

    @pytest.mark.parametrize("name", ["type", "len", "tuple", "f", "r0", "roots", "case_id"])
    def test_a_part_of_the_case_may_take_any_name(self, name: str) -> None:
        ruleset = csrules.ruleset("b2c")
        kind = ruleset.kind("price_adjustment")
        facts = tuple(attrs.evolve(f, source=name) if f.source == "at" else f for f in kind.facts)
        renamed = kind.evolve(roots=("request", name), facts=facts)
        case = next(c for c in _example_cases() if c.kind == "price_adjustment")
        decision = renamed.compiled().decide((case.request, case.at), {}, ruleset.policy, case.id)
        assert decision == csrules.decide(case)

    def test_a_fact_named_like_an_output_is_refused(self) -> None:
        kind = csrules.ruleset("b2c").kind("return")
        spec = FactSpec("action", Action, default=Action.NORMAL_RETURN)
        with pytest.raises(RuleDefinitionError, match="never be read"):
            kind.evolve(facts=(*kind.facts, spec))

    def test_an_int_enum_constant_compiles(self) -> None:
        class Level(enum.IntEnum):
            LOW = 1
            HIGH = 2

        table = Table(
            "t",
            "t",
            HitPolicy.FIRST,
            ("level",),
            ("out",),
            [
                Rule(
                    "B2C-1", fact("level") == const(Level.HIGH), {"out": 1}, en="-", zh="-", id="a"
                ),
                Rule("B2C-1", Const(True), {"out": 0}, en="-", zh="-", id="b"),
            ],
        )
        assert table.evaluate({"level": Level.HIGH}, {}).outputs["out"] == 1
        assert table.evaluate({"level": Level.LOW}, {}).outputs["out"] == 0


class TestWorkingDays:
    def test_rolling_gives_a_date_of_the_type_it_was_given(self) -> None:
        calendar = csrules.ruleset("b2c").policy.calendar
        table = Table(
            "t",
            "t",
            HitPolicy.FIRST,
            ("d",),
            ("out",),
            [Rule("B2C-1", Const(True), {"out": call("roll_to_working_day", fact("d"))},
                  en="-", zh="-", id="a")],
        )  # fmt: skip
        plain = dt.date(2026, 5, 6)
        pendulum_date = pendulum.Date(2026, 5, 6)
        assert type(table.evaluate({"d": pendulum_date}, {}, calendar).outputs["out"]) is (
            pendulum.Date
        )
        assert type(table.evaluate({"d": plain}, {}, calendar).outputs["out"]) is dt.date
