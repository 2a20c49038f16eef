"""The output path's shortcuts give exactly what the plain computation gives.

``decision_to_json`` keeps encoded parameter blocks and filled-in explanations
for reuse, and ``csrules decide`` writes lines with orjson when it can: these
tests hold both to the slow, obvious results.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csrules
from csrules.cli import _json_line, decide_lines
from csrules.io import _decisions, case_to_json, parse_case_line
from csrules.io._decisions import decision_to_json
from csrules.rules._table import FiredRule
from csrules.testing import cases

ROOT = Path(__file__).resolve().parent.parent
CASE_LINES = [
    line
    for line in (ROOT / "examples" / "cases.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]


def _clear() -> None:
    """Empty what decision_to_json keeps: on the bundled rules and the parameter sets."""
    from csrules.policy import default_policy

    for name in ("b2c", "taobao"):
        rules = csrules.ruleset(name)
        for _, table in rules.tables():
            for rule in table.rules:
                rule._cache.clear()
        for policy in (rules.policy, default_policy()):
            for params, _ in policy._by_date.values():
                params._encoded.clear()


def _plain(decision: csrules.Decision, lang: csrules.Lang) -> dict[str, Any]:
    """What decision_to_json must give, computed from the trace without caches."""
    trace = decision.trace
    out = decision_to_json(decision, lang=lang)
    body = out["decision"]
    assert body["rules"] == list(trace.rules)
    assert body["explanation"] == list(trace.explanation(lang))
    assert list(body["parameters"]) == [use.name for use in trace.parameters]
    assert [p["since"] for p in body["parameters"].values()] == [
        use.since.isoformat() for use in trace.parameters
    ]
    return out


@pytest.fixture
def decisions() -> Iterator[list[csrules.Decision]]:
    _clear()
    yield [csrules.decide(parse_case_line(line)) for line in CASE_LINES]
    _clear()


class TestDecisionCaches:
    """Cached parameter blocks and explanations equal freshly computed ones."""

    def test_warm_equals_cold(self, decisions: list[csrules.Decision]) -> None:
        """Every example, in both languages, reads the same with empty and with full caches."""
        for lang in ("en", "zh"):
            cold = []
            for decision in decisions:
                _clear()
                cold.append(_plain(decision, lang))
            warm = [decision_to_json(d, lang=lang) for d in decisions * 2]
            assert warm == cold * 2

    def test_results_do_not_share_mutable_parts(self, decisions: list[csrules.Decision]) -> None:
        """Changing one result's parameters block leaves the next result alone."""
        decision = next(d for d in decisions if d.trace.parameters)
        first = decision_to_json(decision)
        expected = json.dumps(first)
        for block in first["decision"]["parameters"].values():
            block["value"] = "changed"
        first["decision"]["parameters"].clear()
        assert json.dumps(decision_to_json(decision)) == expected

    def test_equal_values_written_differently_are_not_confused(
        self, decisions: list[csrules.Decision]
    ) -> None:
        """1.0 and 1.00, True and 1: each explanation is filled in from its own value."""
        fired = [f for d in decisions for f in d.trace.fired if not f.rule.silent]
        filled = [
            (f, name)
            for f in fired
            for name in _decisions._fields(f.rule, "en") or ()
            if name in f.facts and name not in f.outputs
        ]
        assert filled, "no example explanation reads a fact"
        for f, name in filled:
            for value in (Decimal("1.0"), Decimal("1.00"), 1, True, "1"):
                facts = {**f.facts, name: value}
                variant = FiredRule(f.table, f.rule, f.outputs, facts, f.params)
                assert _decisions._explain(variant, "en") == variant.explanation("en")

    def test_caches_stay_bounded(
        self, decisions: list[csrules.Decision], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Many distinct values never make an explanation cache grow past its size."""
        monkeypatch.setattr(_decisions, "_CACHE_SIZE", 8)
        f = next(
            f
            for d in decisions
            for f in d.trace.fired
            if any(n in f.facts for n in _decisions._fields(f.rule, "en") or ())
        )
        name = next(n for n in _decisions._fields(f.rule, "en") or () if n in f.facts)
        for i in range(100):
            variant = FiredRule(f.table, f.rule, f.outputs, {**f.facts, name: i}, f.params)
            assert _decisions._explain(variant, "en") == variant.explanation("en")
            assert len(f.rule._cache) <= 8

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(cases(), min_size=1, max_size=4))
    def test_generated_cases_warm_equal_cold(self, generated: list[csrules.Case]) -> None:
        """Generated cases decided in a row read as each decided alone with empty caches."""
        lines = [json.dumps(case_to_json(c)) for c in generated]
        warm = list(decide_lines(lines * 2, monitor=None))
        cold = []
        for line in lines * 2:
            _clear()
            cold.extend(decide_lines([line], monitor=None))
        for a, b in zip(warm, cold, strict=True):
            a.pop("line")
            b.pop("line")
            assert a == b


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


class TestJsonLine:
    """A written line is json.dumps's compact text, or its ASCII form for a lone surrogate."""

    @settings(max_examples=500, deadline=None)
    @given(_JSON)
    def test_same_text_as_json_dumps(self, value: object) -> None:
        line = _json_line(value)
        compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        try:
            compact.encode("utf-8")
        except UnicodeEncodeError:
            compact = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
        assert line == compact + "\n"
        assert json.loads(line.encode("utf-8")) == value

    def test_big_integers_and_tuples(self) -> None:
        """Values orjson refuses or writes alike go the same way as json.dumps."""
        for value in ({"n": 2**70}, {"t": (1, "a")}, [-(2**64)], {"k": "\udc00"}):
            compact = json.dumps(value, separators=(",", ":"))
            assert json.loads(_json_line(value)) == json.loads(compact)

    def test_refuses_what_json_refuses(self) -> None:
        """A value JSON has no form for is refused, as json.dumps refuses it."""
        with pytest.raises(TypeError):
            _json_line({"amount": Decimal("1.5")})


class TestTimeZones:
    """Parsed times share one zone object per offset, and the set of them stays small."""

    def test_many_offsets_keep_a_bounded_cache(self) -> None:
        """A thousand distinct offsets parse right; at most _MAX_ZONES zone objects are kept."""
        import datetime as dt

        from csrules.io import _json

        _json._ZONES.clear()
        for minutes in range(-1000, 1000, 2):
            sign = "+" if minutes >= 0 else "-"
            text = f"2026-05-06T10:00:00{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
            parsed = _json.parse_aware_time(text)
            assert parsed is not None
            assert parsed.utcoffset() == dt.timedelta(minutes=minutes)
            assert parsed == dt.datetime.fromisoformat(text)
            assert len(_json._ZONES) <= _json._MAX_ZONES
        _json._ZONES.clear()
        again = _json.parse_aware_time("2026-05-06T10:00:00+08:00")
        assert again is not None
        assert again.tzinfo is _json.parse_aware_time("2026-05-07T11:00:00+08:00").tzinfo  # type: ignore[union-attr]
