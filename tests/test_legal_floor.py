"""Tests of the LAW-25 legal floor: policies stricter than the law are refused
unless the shop switches the floor off, and decisions then say so."""

from __future__ import annotations

import datetime as dt
import io
import json
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

import csrules
from csrules import EXCLUDED_CATEGORIES, WorkCalendar
from csrules.cli import main
from csrules.exceptions import PolicyError, RuleDefinitionError
from csrules.io import parse_case_line
from csrules.io._decisions import decision_to_json, render_table
from csrules.policy import (
    LAW_EXCLUDED_CATEGORIES,
    LEGAL_FLOOR,
    Policy,
    check_legal_floor,
    default_policy,
    load_policy,
)

ROOT = Path(__file__).resolve().parent.parent
CASE_LINES = {
    json.loads(line)["id"]: line
    for line in (ROOT / "examples" / "cases.jsonl").read_text("utf-8").splitlines()
}
#: One example case of each kind.
KINDS = {"return": "r02", "complaint": "c01", "promotion": "p01", "price_adjustment": "a01"}
BOUNDS = {bound.parameter: bound for bound in LEGAL_FLOOR}
OFF_EN = "The LAW-25 legal floor is off"
OFF_ZH = "已关闭《消费者权益保护法》第二十五条法定底线"


def case(case_id: str) -> csrules.Case:
    return parse_case_line(CASE_LINES[case_id])


def policy_file(folder: Path, parameters: dict[str, Any], **meta: Any) -> Path:
    """A policy file overriding ``parameters`` (name -> {date: value}), with ``meta``."""
    data: dict[str, Any] = {"policy": {"name": "shop", **meta}}
    data["parameters"] = {
        name: {"values": {d.isoformat(): v for d, v in values.items()}}
        for name, values in parameters.items()
    }
    path = folder / "shop.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


JUNE = dt.date(2026, 6, 1)

# (parameter, clause, stricter than the law, exactly the law, more generous, bound text)
RULES = [
    ("no_reason_return_days", "LAW-25.1", 5, 7, 15, "at least 7 calendar days"),
    ("law_refund_days", "LAW-25.5", 10, 7, 3, "at most 7 calendar days"),
]


class TestBundled:
    @pytest.mark.parametrize("name", ["b2c", "taobao"])
    def test_bundled_policies_pass(self, name: str) -> None:
        """Both bundled policies meet the floor and have it on."""
        policy = load_policy(name)
        assert policy.legal_floor is True
        assert check_legal_floor(policy) == ()

    def test_library_exclusions_are_the_laws(self) -> None:
        """The categories the rules exclude are exactly LAW-25.2's list."""
        assert EXCLUDED_CATEGORIES == LAW_EXCLUDED_CATEGORIES

    def test_every_bound_is_on_a_law_parameter(self) -> None:
        """Each bound names a bundled parameter that cites the clause of the bound."""
        for bound in LEGAL_FLOOR:
            assert default_policy().parameter(bound.parameter).clause == bound.clause


class TestEachRule:
    @pytest.mark.parametrize(("name", "clause", "strict", "_at", "_more", "bound"), RULES)
    def test_stricter_is_refused(
        self, tmp_path: Path, name: str, clause: str, strict: int, _at: int, _more: int, bound: str
    ) -> None:
        """A value stricter than the law from 2026-06-01 is refused, citing all of it."""
        path = policy_file(tmp_path, {name: {JUNE: strict}})
        with pytest.raises(PolicyError) as caught:
            load_policy(path)
        err = caught.value
        assert err.key == f"parameters.{name}"
        assert str(path) in err.source
        assert clause in err.reason
        assert f"{strict} from 2026-06-01 on" in err.reason
        assert bound in err.reason
        assert "legal_floor = false" in err.reason

    @pytest.mark.parametrize(("name", "_clause", "_strict", "at", "more", "_bound"), RULES)
    def test_at_and_above_the_floor_are_accepted(
        self, tmp_path: Path, name: str, _clause: str, _strict: int, at: int, more: int, _bound: str
    ) -> None:
        """Exactly the law's value and a more generous one both build."""
        for value in (at, more):
            policy = load_policy(policy_file(tmp_path, {name: {JUNE: value}}))
            assert policy.value(name, JUNE) == value
            assert policy.legal_floor is True

    @pytest.mark.parametrize(("name", "clause", "strict", "_at", "_more", "_bound"), RULES)
    def test_with_values_is_refused(
        self, name: str, clause: str, strict: int, _at: int, _more: int, _bound: str
    ) -> None:
        """A change made in code is checked like a file."""
        with pytest.raises(PolicyError, match=re.escape(clause)):
            default_policy().with_values("2026-06-01", **{name: strict})

    def test_closed_range_is_named(self, tmp_path: Path) -> None:
        """A value replaced later is refused with its first and last day."""
        july = dt.date(2026, 7, 1)
        path = policy_file(tmp_path, {"no_reason_return_days": {JUNE: 5, july: 7}})
        with pytest.raises(PolicyError, match="5 from 2026-06-01 to 2026-06-30 is below"):
            load_policy(path)

    def test_past_values_are_checked(self, tmp_path: Path) -> None:
        """A value long out of force is checked too, not only today's."""
        path = policy_file(
            tmp_path,
            {"law_refund_days": {dt.date(2015, 1, 1): 8, dt.date(2016, 1, 1): 7}},
        )
        with pytest.raises(
            PolicyError, match=re.escape("LAW-25.5: 8 from 2015-01-01 to 2015-12-31")
        ):
            load_policy(path)

    def test_every_finding_is_named(self, tmp_path: Path) -> None:
        """Two offending parameters: one message naming both."""
        path = policy_file(
            tmp_path, {"no_reason_return_days": {JUNE: 6}, "law_refund_days": {JUNE: 9}}
        )
        with pytest.raises(PolicyError) as caught:
            load_policy(path)
        reason = caught.value.reason
        assert "LAW-25.1: 6 from 2026-06-01 on" in reason
        assert "LAW-25.5: parameters.law_refund_days = 9 from 2026-06-01 on" in reason

    def test_taobao_based_file_is_checked(self, tmp_path: Path) -> None:
        """A file extending taobao is held to the floor as well."""
        path = policy_file(tmp_path, {"no_reason_return_days": {JUNE: 3}}, extends="taobao")
        with pytest.raises(PolicyError, match=re.escape("LAW-25.1")):
            load_policy(path)

    def test_replaced_values_are_checked(self, tmp_path: Path) -> None:
        """replace = true cannot hide a strict value behind the bundled one."""
        path = tmp_path / "shop.toml"
        path.write_text(
            "[parameters.no_reason_return_days]\nreplace = true\nvalues = { 2014-03-15 = 6 }\n"
        )
        with pytest.raises(PolicyError, match="6 from 2014-03-15 on"):
            load_policy(path)

    def test_direct_construction_is_checked(self) -> None:
        """Policy(...) itself refuses a strict parameter unless the floor is off."""
        strict = default_policy().with_values("2026-06-01", no_reason_return_days=7)
        parameters = dict(strict.parameters)
        days = parameters["no_reason_return_days"]
        parameters["no_reason_return_days"] = type(days)(
            days.name, days.clause, days.type, days.description, ((JUNE, 4),), days.unit
        )
        with pytest.raises(PolicyError, match=re.escape("LAW-25.1: 4 from 2026-06-01 on")):
            Policy("x", "<test>", parameters)
        assert Policy("x", "<test>", parameters, legal_floor=False).legal_floor is False

    def test_extra_exclusions_break_law_25_2(self) -> None:
        """A rule set excluding a category the law does not is a LAW-25.2 finding."""
        findings = check_legal_floor(
            default_policy(), excluded_categories=EXCLUDED_CATEGORIES | {"underwear"}
        )
        assert [(f.clause, f.key, f.value) for f in findings] == [
            ("LAW-25.2", "excluded_categories", ["underwear"])
        ]
        assert "custom_made" in findings[0].message()
        assert check_legal_floor(default_policy(), excluded_categories=frozenset()) == ()


class TestSwitchedOff:
    def strict(self, folder: Path, **meta: Any) -> Path:
        return policy_file(
            folder,
            {"no_reason_return_days": {dt.date(2026, 1, 1): 5}, "law_refund_days": {JUNE: 10}},
            legal_floor=False,
            **meta,
        )

    def test_builds(self, tmp_path: Path) -> None:
        """legal_floor = false builds a policy stricter than the law."""
        policy = load_policy(self.strict(tmp_path))
        assert policy.legal_floor is False
        assert policy.value("no_reason_return_days", JUNE) == 5
        assert [f.clause for f in check_legal_floor(policy)] == ["LAW-25.1", "LAW-25.5"]

    def test_explicit_true_keeps_it_on(self, tmp_path: Path) -> None:
        path = policy_file(tmp_path, {"no_reason_return_days": {JUNE: 5}}, legal_floor=True)
        with pytest.raises(PolicyError, match=re.escape("LAW-25.1")):
            load_policy(path)

    def test_not_a_boolean(self, tmp_path: Path) -> None:
        """legal_floor must be true or false, named in the message."""
        path = tmp_path / "shop.toml"
        path.write_text('[policy]\nlegal_floor = "no"\n')
        with pytest.raises(PolicyError) as caught:
            load_policy(path)
        assert caught.value.key == "policy.legal_floor"
        assert "expected true or false" in caught.value.reason

    def test_changes_keep_it_off(self, tmp_path: Path) -> None:
        """with_values, with_calendar, pickling and a further file keep the floor off."""
        policy = load_policy(self.strict(tmp_path))
        changed = policy.with_values("2026-08-01", no_reason_return_days=2)
        assert changed.legal_floor is False
        assert changed.with_calendar(WorkCalendar.official()).legal_floor is False
        copy = pickle.loads(pickle.dumps(changed))
        assert copy == changed
        assert copy.legal_floor is False
        more = tmp_path / "more.toml"
        more.write_text("[parameters.law_refund_days]\nvalues = { 2026-09-01 = 12 }\n")
        assert load_policy(more, base=policy).legal_floor is False
        more.write_text("[policy]\nlegal_floor = true\n")
        with pytest.raises(PolicyError, match=re.escape("LAW-25.1")):
            load_policy(more, base=policy)

    def test_the_strict_value_is_used(self, tmp_path: Path) -> None:
        """A no-reason return on day 6 is refused under 5 days, accepted under the law."""
        off = load_policy(self.strict(tmp_path))
        refused = csrules.decide(case("r02"), policy=off)
        accepted = csrules.decide(case("r02"))
        assert isinstance(refused, csrules.ReturnDecision)
        assert isinstance(accepted, csrules.ReturnDecision)
        assert (refused.action, refused.rules) == ("rejected", ("LAW-25", "LAW-25.1"))
        assert accepted.action == "normal_return"

    @pytest.mark.parametrize("kind", sorted(KINDS))
    def test_decisions_say_so(self, tmp_path: Path, kind: str) -> None:
        """Every kind of decision under the floor-off policy says the floor is off."""
        off = load_policy(self.strict(tmp_path))
        on = csrules.decide(case(KINDS[kind]))
        decision = csrules.decide(case(KINDS[kind]), policy=off)
        assert on.legal_floor is True
        assert decision.legal_floor is False
        assert decision.rules[0] == "LAW-25"
        assert decision.explanation("en")[0].startswith(OFF_EN)
        assert OFF_ZH in decision.explanation("zh")[0]
        assert len(decision.explanation("zh")) == len(decision.rules)
        assert "LAW-25" not in on.rules
        body = decision_to_json(decision)["decision"]
        assert isinstance(body, dict)
        assert body["legal_floor"] is False
        assert body["rules"] == list(decision.rules)
        assert body["explanation"] == list(decision.explanation())
        zh = decision_to_json(decision, lang="zh")["decision"]
        assert isinstance(zh, dict)
        assert zh["explanation"] == list(decision.explanation("zh"))
        on_body = decision_to_json(on)["decision"]
        assert isinstance(on_body, dict)
        assert "legal_floor" not in on_body
        copy = pickle.loads(pickle.dumps(decision))
        assert copy == decision
        assert copy.legal_floor is False

    def test_command_line(self, tmp_path: Path) -> None:
        """csrules decide --policy FILE: every line says the floor is off, in JSON and tables."""
        cases = tmp_path / "cases.jsonl"
        cases.write_text("".join(CASE_LINES[i] + "\n" for i in KINDS.values()), encoding="utf-8")
        policy = self.strict(tmp_path)
        status, out, _ = run("decide", cases, "--no-stream", "--policy", policy)
        assert status == 0
        lines = [json.loads(line) for line in out.splitlines()]
        assert sorted(line["kind"] for line in lines) == sorted(KINDS)
        for line in lines:
            assert line["decision"]["legal_floor"] is False
            assert line["decision"]["rules"][0] == "LAW-25"
            assert line["decision"]["explanation"][0].startswith(OFF_EN)
        assert render_table(lines).count(OFF_EN) == len(KINDS)
        for lang, text in (("en", OFF_EN), ("zh", OFF_ZH)):
            status, table, _ = run(
                "decide", cases, "--no-stream", "--policy", policy, "--format", "table",
                "--lang", lang,
            )  # fmt: skip
            assert status == 0
            assert table.count(text) == len(KINDS)
        status, out, _ = run("decide", cases, "--no-stream")
        assert all("legal_floor" not in json.loads(line)["decision"] for line in out.splitlines())

    def test_command_line_refuses_a_strict_file(self, tmp_path: Path) -> None:
        """Without legal_floor = false the same file is a usage error naming the clause."""
        cases = tmp_path / "cases.jsonl"
        cases.write_text(CASE_LINES["r02"] + "\n", encoding="utf-8")
        policy = policy_file(tmp_path, {"no_reason_return_days": {JUNE: 5}})
        status, out, err = run("decide", cases, "--no-stream", "--policy", policy)
        assert status == 2
        assert out == ""
        assert "LAW-25.1" in err
        assert "no_reason_return_days" in err


# ------------------------------------------------------------------ property

_override = st.tuples(
    st.sampled_from(sorted(BOUNDS)),
    st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)),
    st.integers(0, 30),
)


@settings(max_examples=60, deadline=None)
@given(overrides=st.lists(_override, max_size=6), replace=st.booleans())
def test_builds_iff_every_value_is_at_the_floor(
    overrides: list[tuple[str, dt.date, int]], replace: bool
) -> None:
    """Random dated overrides of the floor parameters: the policy builds iff each
    value is within the law's bound; with the floor off it always builds."""
    values: dict[str, dict[dt.date, int]] = {}
    for name, since, value in overrides:
        values.setdefault(name, {})[since] = value
    lawful = {
        "no_reason_return_days": lambda v: v >= 7,
        "law_refund_days": lambda v: v <= 7,
    }
    bad = {(n, d) for n, dated in values.items() for d, v in dated.items() if not lawful[n](v)}
    with tempfile.TemporaryDirectory() as folder:
        path = policy_file(Path(folder), values)
        if replace:
            text = path.read_text("utf-8")
            for name in values:
                text = text.replace(
                    f"[parameters.{name}]\n", f"[parameters.{name}]\nreplace = true\n"
                )
            path.write_text(text, "utf-8")
        if bad:
            with pytest.raises(PolicyError) as caught:
                load_policy(path)
            for name, since in bad:
                assert since.isoformat() in caught.value.reason
                assert f"parameters.{name}" in f"{caught.value.key} {caught.value.reason}"
        else:
            assert load_policy(path).legal_floor is True
        off = path.read_text("utf-8").replace('name = "shop"', 'name = "shop"\nlegal_floor = false')
        path.write_text(off, "utf-8")
        policy = load_policy(path)
        assert policy.legal_floor is False
        assert {
            (f.key.removeprefix("parameters."), f.since) for f in check_legal_floor(policy)
        } == bad


# ---------------------------------------------------------------- rule sets


def _refusing(rule_id: str, when: Any) -> Any:
    from csrules.rules import Rule

    return Rule(
        "SHOP-1",
        when,
        {"action": csrules.Action.REJECTED, "eligible": False},
        en="Refused.",
        zh="不予受理。",
        id=rule_id,
    )


def _floor_off(policy: Policy) -> Policy:
    return Policy(policy.name, policy.source, policy.parameters, policy.calendar, False)


class TestRuleSetFloor:
    """A rule set is held to LAW-25 when it is built or extended."""

    def test_bundled_rule_sets_pass(self) -> None:
        from csrules._ruleset_floor import check_ruleset_floor

        for name in ("b2c", "taobao"):
            assert check_ruleset_floor(csrules.ruleset(name)) == []

    def test_short_window_parameter(self) -> None:
        with pytest.raises(PolicyError, match=r"no_reason_return_days: LAW-25\.1"):
            csrules.ruleset("b2c").with_parameters(on=dt.date(2027, 1, 1), no_reason_return_days=6)

    def test_late_refund_clock_parameter(self) -> None:
        with pytest.raises(PolicyError, match=r"law_refund_days: LAW-25\.5"):
            csrules.ruleset("b2c").with_parameters(on=dt.date(2027, 1, 1), law_refund_days=8)

    def test_category_beyond_the_law_in_a_rule(self) -> None:
        from csrules.rules import call, fact

        when = (fact("request_type") == "return") & call(
            "any_in", fact("categories"), frozenset({"underwear", "fresh"})
        )
        with pytest.raises(
            RuleDefinitionError, match=r"'no_underwear'.*LAW-25\.2.*\['underwear'\]"
        ):
            csrules.ruleset("b2c").with_rule(
                "return_action", _refusing("no_underwear", when), before="no_reason_excluded"
            )

    def test_category_beyond_the_law_through_a_fact(self) -> None:
        from csrules.rules import call, fact

        shop = csrules.ruleset("b2c").with_fact(
            "hygiene", bool, derive=call("all_in", fact("categories"), frozenset({"cosmetics"}))
        )
        with pytest.raises(RuleDefinitionError, match=r"LAW-25\.2.*\['cosmetics'\]"):
            shop.with_rule(
                "return_action", _refusing("hygiene", fact("hygiene")), after="closed_order"
            )
        # replacing the LAW-25.2 row with a wider one is refused too
        with pytest.raises(RuleDefinitionError, match=r"LAW-25\.2"):
            shop.replacing_rule(
                "no_reason_excluded", _refusing("no_reason_excluded", fact("hygiene"))
            )

    def test_laws_categories_and_other_reasons_are_fine(self) -> None:
        from csrules.rules import call, fact

        fresh = call("any_in", fact("categories"), frozenset({"fresh"}))
        shop = csrules.ruleset("b2c").with_rule(
            "return_action", _refusing("no_fresh", fresh), after="closed_order"
        )
        assert shop.kind("return").table("return_action").rules[1].id == "no_fresh"
        # accepting a category the law excludes is more generous: allowed
        assert csrules.ruleset("b2c").without_rule("no_reason_excluded").name == "b2c"

    def test_short_window_in_a_rule(self) -> None:
        from csrules.rules import call, fact

        late = fact("request_date") > call("add_days", fact("signed_date"), 3)
        with pytest.raises(RuleDefinitionError, match=r"LAW-25\.1.*'short'.*3 days"):
            csrules.ruleset("b2c").with_rule(
                "return_action", _refusing("short", late), before="no_reason_excluded"
            )
        seven = fact("request_date") > call("add_days", fact("signed_date"), 7)
        csrules.ruleset("b2c").with_rule(
            "return_action", _refusing("seven", seven), before="no_reason_excluded"
        )

    def test_short_window_through_a_parameter_of_the_shop(self, tmp_path: Path) -> None:
        from csrules.rules import call, fact, param

        path = tmp_path / "window.toml"
        path.write_text(
            '[parameters.shop_window_days]\nclause = "SHOP-2"\ntype = "int"\n'
            'description = "The shop\'s return window."\n'
            "values = { 2026-01-01 = 10, 2027-01-01 = 5 }\n",
            encoding="utf-8",
        )
        shop = csrules.ruleset("b2c").with_parameters(path)
        late = fact("request_date") > call(
            "add_days", fact("signed_date"), param("shop_window_days")
        )
        with pytest.raises(RuleDefinitionError, match=r"LAW-25\.1.*\[shop_window_days\] = 5 days"):
            shop.with_rule("return_action", _refusing("short", late), before="no_reason_excluded")

    def test_dropping_the_law_refund_row(self) -> None:
        with pytest.raises(RuleDefinitionError, match=r"LAW-25\.5.*'refund_due'"):
            csrules.ruleset("b2c").without_rule("law_refund_clock")

    def test_a_later_refund_clock_in_the_law_row(self) -> None:
        from csrules.rules import call, fact

        b2c = csrules.ruleset("b2c")
        row = b2c.kind("return").table("refund_due").rules[4]
        assert row.id == "law_refund_clock"
        import attrs

        later = attrs.evolve(
            row, then={"refund_due": call("add_days", fact("goods_received_date"), 15)}
        )
        with pytest.raises(RuleDefinitionError, match=r"LAW-25\.5.*'law_refund_clock'"):
            b2c.replacing_rule("law_refund_clock", later)

    def test_floor_off_allows_it(self) -> None:
        from csrules.rules import call, fact

        off = csrules.ruleset("b2c").with_policy(_floor_off(default_policy()))
        shop = off.without_rule("law_refund_clock").with_rule(
            "return_action",
            _refusing("no_underwear", call("any_in", fact("categories"), frozenset({"underwear"}))),
            after="closed_order",
        )
        assert not shop.policy.legal_floor
        decision = shop.decide(case("r02"))
        assert decision.legal_floor is False
        assert decision.rules[0] == "LAW-25"
        # switching the floor back on refuses the rule set
        with pytest.raises(RuleDefinitionError, match="LAW-25"):
            shop.with_policy(default_policy())


CATEGORY_NAMES = sorted(LAW_EXCLUDED_CATEGORIES | {"underwear", "cosmetics", "electronics"})


@settings(max_examples=40, deadline=None)
@given(
    st.sets(st.sampled_from(CATEGORY_NAMES), min_size=1, max_size=4),
    st.sampled_from(["any_in", "all_in"]),
    st.booleans(),
)
def test_a_refusing_rule_is_refused_iff_it_names_a_category_beyond_the_law(
    named: set[str], function: str, through_a_fact: bool
) -> None:
    from csrules.rules import call, fact

    test = call(function, fact("categories"), frozenset(named))
    shop = csrules.ruleset("b2c")
    if through_a_fact:
        shop = shop.with_fact("shop_excluded", bool, derive=test)
        test = fact("shop_excluded")
    beyond = named - LAW_EXCLUDED_CATEGORIES
    add = lambda: shop.with_rule(  # noqa: E731
        "return_action", _refusing("shop_refusal", test), after="closed_order"
    )
    if beyond:
        with pytest.raises(RuleDefinitionError, match=r"LAW-25\.2") as info:
            add()
        assert all(repr(c) in str(info.value) for c in beyond)
    else:
        assert add().kind("return").table("return_action").rules[1].id == "shop_refusal"
