"""``estimated`` comes from the engine: working-day arithmetic that touched a year
without official holiday data, on the single path and the batch path alike."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csrules
from csrules import PromotionCase, ReturnCase, RuleSet, WorkCalendar
from csrules.batch import facts_frame, input_records
from csrules.batch._ruleset import column_kinds
from csrules.exceptions import DomainValueError
from csrules.io import parse_case_line
from csrules.rules import Rule, call, fact, param
from csrules.testing import promotion_cases, return_cases

examples = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class RecordingCalendar(WorkCalendar):
    """The official calendar, logging every span of working-day arithmetic asked of it."""

    log: list[tuple[dt.date, dt.date]]

    def add_working_days(self, d: dt.date, n: int) -> Any:
        result = super().add_working_days(d, n)
        self.log.append((d, result))
        return result

    def is_workday(self, d: dt.date) -> bool:
        self.log.append((d, d))
        return super().is_workday(d)


def _recording(name: str) -> tuple[RuleSet, RecordingCalendar]:
    calendar = RecordingCalendar()
    object.__setattr__(calendar, "log", [])
    rules = csrules.ruleset(name)
    return rules.with_policy(rules.policy.with_calendar(calendar)), calendar


def _touched_an_estimated_year(log: list[tuple[dt.date, dt.date]]) -> bool:
    """From the calendar's facts (its covered years), not from the code under test."""
    covered = WorkCalendar.official().covered_years()
    for a, b in log:
        low, high = sorted((a.year, b.year))
        if any(year not in covered for year in range(low, high + 1)):
            return True
    return False


def _decided(rules: RuleSet, case: Any) -> Any:
    try:
        return csrules.decide(case, ruleset=rules)
    except DomainValueError:
        return None


class TestSinglePath:
    @pytest.mark.parametrize("name", ["b2c", "taobao"])
    @examples
    @given(case=return_cases())
    def test_a_return_is_estimated_iff_its_working_days_touched_such_a_year(
        self, name: str, case: ReturnCase
    ) -> None:
        rules, calendar = _recording(name)
        decision = _decided(rules, case)
        if decision is None:
            return
        assert decision.estimated == _touched_an_estimated_year(calendar.log)
        assert decision.estimated == _decided(csrules.ruleset(name), case).estimated

    @examples
    @given(case=promotion_cases())
    def test_a_promotion_likewise(self, case: PromotionCase) -> None:
        rules, calendar = _recording("b2c")
        decision = _decided(rules, case)
        if decision is None:
            return
        assert decision.estimated == _touched_an_estimated_year(calendar.log)

    def test_a_new_working_day_rule_marks_its_decisions(self) -> None:
        """A shop's own rule counting working days makes decisions estimated, unasked."""
        b2c = csrules.ruleset("b2c")
        shop = b2c.with_fact(
            "review_by",
            dt.date,
            derive=call("add_working_days", fact("request_date"), param("refund_working_days")),
        ).with_rule(
            "return_duties",
            Rule(
                "SHOP-9",
                fact("review_by") > fact("request_date"),
                {"duty": "review_by_date"},
                en="Review by {review_by}.",
                zh="在{review_by}前复核。",
                id="review",
            ),
        )
        case = parse_case_line(_RETURN.replace("2026-", "2027-"))
        assert not csrules.decide(case, ruleset=b2c).estimated  # nothing counts working days
        assert csrules.decide(case, ruleset=shop).estimated
        early = parse_case_line(_RETURN)
        assert not csrules.decide(early, ruleset=shop).estimated

    def test_threads_do_not_share_the_flag(self) -> None:
        """Decisions in other threads, estimated or not, never leak into one another."""
        from concurrent.futures import ThreadPoolExecutor

        b2c = csrules.ruleset("b2c")
        late = parse_case_line(_REFUND.replace("2026-", "2027-"))
        early = parse_case_line(_REFUND)
        assert csrules.decide(late, ruleset=b2c).estimated
        assert not csrules.decide(early, ruleset=b2c).estimated
        with ThreadPoolExecutor(max_workers=4) as pool:
            got = list(pool.map(lambda c: csrules.decide(c).estimated, [late, early] * 200))
        assert got == [True, False] * 200


_LINES = {
    line.split('"', 4)[3]: line
    for line in (Path(__file__).resolve().parent.parent / "examples" / "cases.jsonl")
    .read_text("utf-8")
    .splitlines()
    if line.strip()
}
#: An exchange (no refund, so no working days counted) and a return with a refund date.
_RETURN = _LINES["r06"]
_REFUND = _LINES["r01"]


class TestBatchEqualsSingle:
    @pytest.mark.parametrize("name", ["b2c", "taobao"])
    @examples
    @given(cases=st.lists(return_cases(), min_size=1, max_size=12))
    def test_returns(self, name: str, cases: list[ReturnCase]) -> None:
        rules = csrules.ruleset(name)
        usable = [(c, d) for c in cases if (d := _decided(rules, c)) is not None]
        if not usable:
            return
        kind = rules.kind("return")
        records = input_records(kind, [(c.order, c.request, c.at) for c, _ in usable])
        batch = rules.decide_columns("return", facts_frame(records, kinds=column_kinds(kind)))
        assert [bool(x) for x in batch.estimated] == [d.estimated for _, d in usable]

    @examples
    @given(cases=st.lists(promotion_cases(), min_size=1, max_size=12))
    def test_promotions(self, cases: list[PromotionCase]) -> None:
        rules = csrules.ruleset("b2c")
        kind = rules.kind("promotion")
        records = input_records(kind, [(c.promotion, c.at) for c in cases])
        batch = rules.decide_columns("promotion", facts_frame(records, kinds=column_kinds(kind)))
        assert [bool(x) for x in batch.estimated] == [
            csrules.decide(c, ruleset=rules).estimated for c in cases
        ]
