"""Tests of decision output: contract JSON keys and formats, traces, properties."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import csrules
from csrules.cli import decide_lines
from csrules.io import case_to_json, parse_case_line
from csrules.io._decisions import KIND_OF, decision_to_json, error_to_json, render_table
from csrules.testing import cases

ROOT = Path(__file__).resolve().parent.parent
CASE_LINES = (ROOT / "examples" / "cases.jsonl").read_text("utf-8").splitlines()
RESULTS = list(decide_lines(CASE_LINES))
BY_ID = {r["id"]: r for r in RESULTS}
BY_LINE = {json.loads(line)["id"]: line for line in CASE_LINES}

CONTRACT_KEYS = {
    "return": {
        "action",
        "eligible",
        "approvals",
        "freight_payer",
        "refund_due",
        "rules",
        "explanation",
    },
    "complaint": {"route_to", "answer_due", "reply_due", "escalate_to", "rules", "explanation"},
    "promotion": {
        "length_days",
        "remind_days_before",
        "remind_on",
        "size",
        "training_on",
        "rules",
        "explanation",
    },
    "price_adjustment": {"action", "gift_eligible", "rules", "explanation"},
}
ACTIONS = {
    "cancel",
    "cancel_paid",
    "intercept",
    "normal_return",
    "abnormal_return",
    "exchange",
    "refund",
    "redirect",
    "rejected",
}
ROLES = {
    "finance",
    "operations",
    "department_head",
    "finance_head",
    "logistics_head",
    "operations_head",
    "manager",
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")
CLAUSE = re.compile(r"^[A-Z][A-Z0-9]*-[0-9A-Za-z.]+$")


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar in a JSON value, with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def check_result(result: dict[str, Any]) -> None:
    """Invariants every decision line keeps."""
    assert json.loads(json.dumps(result)) == result  # plain JSON data only
    for path, value in leaves(result):
        assert not isinstance(value, float), path
        if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", value):
            assert TIME.match(value), (path, value)
            assert value.endswith("+08:00"), (path, value)
    body = result["decision"]
    kind = result["kind"]
    assert CONTRACT_KEYS[kind] <= set(body), kind
    assert all(CLAUSE.match(r) for r in body["rules"])
    assert len(body["explanation"]) == len(body["rules"])
    assert isinstance(body["estimated"], bool)
    for name, use in body.get("parameters", {}).items():
        assert DATE.match(use["since"]), name
        assert CLAUSE.match(use["clause"]), name
    if kind == "return":
        assert body["action"] in ACTIONS
        assert body["eligible"] is (body["action"] != "rejected")
        assert set(body["approvals"]) <= ROLES
        assert body["freight_payer"] in {"customer", "merchant", "none"}
        assert body["refund_due"] is None or DATE.match(body["refund_due"])
    elif kind == "complaint":
        assert body["route_to"] in {"finance", "operations", "technology", "customer_service"}
        assert body["answer_due"] is None or TIME.match(body["answer_due"])
        assert TIME.match(body["reply_due"])
        assert set(body["escalate_to"]) <= {"cs_head", "general_manager"}
    elif kind == "promotion":
        assert isinstance(body["length_days"], int)
        assert isinstance(body["remind_days_before"], int)
        assert DATE.match(body["remind_on"])
        assert DATE.match(body["training_on"])
        assert body["size"] in {"small", "medium", "large"}
    else:
        assert body["action"] in {"refused", "adjusted"}
        assert isinstance(body["gift_eligible"], bool)


class TestContractKeys:
    """Each kind's decision has the contract's keys with the contract's values."""

    @pytest.mark.parametrize("kind", sorted(CONTRACT_KEYS))
    def test_every_kind_is_in_the_examples(self, kind: str) -> None:
        """The examples hold each kind, and each decision has that kind's keys."""
        of_kind = [r for r in RESULTS if r.get("kind") == kind]
        assert of_kind
        for result in of_kind:
            assert CONTRACT_KEYS[kind] <= set(result["decision"]), result["id"]

    def test_invariants_on_the_examples(self) -> None:
        """Every example decision keeps the output invariants."""
        assert all("error" not in r for r in RESULTS)
        for result in RESULTS:
            check_result(result)

    def test_line_shape(self) -> None:
        """A decision line is {id, kind, line, decision}."""
        for number, result in enumerate(RESULTS, start=1):
            assert list(result) == ["id", "kind", "line", "decision"]
            assert result["line"] == number

    def test_eligible_false_only_when_rejected(self) -> None:
        """The examples hold both rejected and accepted returns; eligible follows action."""
        returns = [r["decision"] for r in RESULTS if r["kind"] == "return"]
        assert {d["eligible"] for d in returns} == {True, False}
        for decision in returns:
            assert decision["eligible"] is (decision["action"] != "rejected")

    def test_no_refund_is_null(self) -> None:
        """A rejected return has refund_due null and freight_payer none."""
        rejected = BY_ID["r03"]["decision"]
        assert rejected["action"] == "rejected"
        assert rejected["refund_due"] is None
        assert rejected["freight_payer"] == "none"
        assert rejected["approvals"] == []


class TestValueFormats:
    """Money is a decimal string, dates YYYY-MM-DD, times at +08:00."""

    def test_money_parameters_are_strings(self) -> None:
        """Money parameters are written as decimal strings, never numbers."""
        used = BY_ID["a01"]["decision"]["parameters"]
        assert used["gift_history_threshold"]["value"] == "10000"
        assert BY_ID["r01"]["decision"]["parameters"]["finance_table_due"]["value"] == "16:00"

    def test_dates(self) -> None:
        """Dates are plain YYYY-MM-DD."""
        assert BY_ID["r01"]["decision"]["refund_due"] == "2026-05-14"
        assert BY_ID["p01"]["decision"]["remind_on"] == "2026-05-08"
        assert BY_ID["p01"]["decision"]["training_on"] == "2026-04-28"

    def test_times_from_another_zone_are_written_at_plus_eight(self) -> None:
        """A complaint received at 02:00 UTC is answered in Shanghai time."""
        case = json.loads(BY_LINE["c01"])
        case["at"] = "2026-05-06T02:00:00Z"
        (result,) = decide_lines([json.dumps(case)])
        assert result["decision"]["answer_due"] == "2026-05-06T14:00:00+08:00"
        assert result["decision"] == BY_ID["c01"]["decision"]

    def test_line_number_is_optional(self) -> None:
        """decision_to_json leaves out line when none is given."""
        decision = csrules.decide(parse_case_line(CASE_LINES[0]))
        encoded = decision_to_json(decision)
        assert list(encoded) == ["id", "kind", "decision"]
        assert encoded["kind"] == KIND_OF[type(decision)] == "return"
        without = decision_to_json(decision, parameters=False)["decision"]
        assert isinstance(without, dict)
        assert "parameters" not in without

    def test_error_line(self) -> None:
        """error_to_json has exactly the contract's shape."""
        assert error_to_json(None, 3, "invalid_json", "bad") == {
            "id": None,
            "line": 3,
            "error": {"code": "invalid_json", "message": "bad"},
        }


class TestTrace:
    """A decision's trace: rules and explanations of cited rules, parameters, estimated."""

    def test_rules_and_explanations(self) -> None:
        """rules and explanation() follow the cited rules, in both languages."""
        decision = csrules.decide(parse_case_line(CASE_LINES[0]))
        trace = decision.trace
        assert decision.rules == trace.rules == tuple(f.clause for f in trace.cited)
        assert len(decision.explanation("en")) == len(decision.rules)
        assert len(decision.explanation("zh")) == len(decision.rules)
        assert decision.explanation() == decision.explanation("en")
        assert decision.explanation("en") != decision.explanation("zh")

    def test_silent_rules_are_traced_but_not_cited(self) -> None:
        """A rejection's silent default rows fire but are not in rules."""
        decision = csrules.decide(parse_case_line(BY_LINE["r03"]))
        silent = [f for f in decision.trace.fired if f.rule.silent]
        assert silent
        assert len(decision.trace.fired) == len(decision.trace.cited) + len(silent)
        assert decision.rules == ("LAW-25.1",)

    def test_estimated(self) -> None:
        """A decision dated in a year without official holiday data is marked estimated."""
        assert BY_ID["r15"]["decision"]["estimated"] is True
        assert BY_ID["r01"]["decision"]["estimated"] is False
        assert csrules.decide(parse_case_line(BY_LINE["r15"])).estimated is True


class TestTable:
    """render_table shows one row per line, decisions and errors alike."""

    def test_rows(self) -> None:
        """Ids, kinds and error codes appear, and explanations below their row."""
        lines = [*RESULTS[:2], error_to_json("zz", 3, "invalid_value", "at: bad")]
        text = render_table(lines)
        assert "r01" in text
        assert "r02" in text
        assert "zz" in text
        assert "invalid_value" in text
        assert "at: bad" in text
        assert RESULTS[0]["decision"]["explanation"][0] in text


class TestProperties:
    """Generated cases: one result per line, never an internal error, deterministic."""

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cases())
    def test_one_line_per_case(self, case: csrules.Case) -> None:
        """A generated case is decided under its id, or is a signed return without condition."""
        line = json.dumps(case_to_json(case))
        output = list(decide_lines([line]))
        assert len(output) == 1
        (result,) = output
        if "error" in result:
            assert result["error"]["code"] == "missing_field", result
            assert result["id"] == case.id
            assert isinstance(case, csrules.ReturnCase)
            assert case.request.condition is None
            return
        assert result["id"] == case.id
        assert result["kind"] == case.kind
        check_result(result)

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cases())
    def test_deterministic(self, case: csrules.Case) -> None:
        """The same case decided twice gives identical JSON."""
        line = json.dumps(case_to_json(case))
        first, second = decide_lines([line, line])
        first.pop("line")
        second.pop("line")
        assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)

    def test_deterministic_in_chinese_too(self) -> None:
        """Decisions and explanations repeat exactly across runs, in both languages."""
        for lang in ("en", "zh"):
            again = list(decide_lines(CASE_LINES, lang=lang))
            assert again == list(decide_lines(CASE_LINES, lang=lang))
        assert list(decide_lines(CASE_LINES)) == RESULTS

    def test_decision_dates_are_dates(self) -> None:
        """The Python decision holds dates and aware times that the JSON writes out."""
        decision = csrules.decide(parse_case_line(BY_LINE["c01"]))
        assert isinstance(decision, csrules.ComplaintDecision)
        assert decision.answer_due is not None
        assert decision.answer_due.utcoffset() == dt.timedelta(hours=8)
