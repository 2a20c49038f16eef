"""Tests of the SLA watch: deadlines as data and the pure ``overdue`` check."""

from __future__ import annotations

import datetime as dt
import json

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csrules.exceptions import ContractError, DomainValueError
from csrules.stream import (
    CaseKind,
    OpenCase,
    Overdue,
    load_open_cases,
    open_cases_from_json,
    open_cases_from_json_lines,
    overdue,
)
from csrules.testing import aware_datetimes

CST = dt.timezone(dt.timedelta(hours=8))
NOON = pendulum.datetime(2026, 5, 6, 12, 0, tz="Asia/Shanghai")
HOUR = dt.timedelta(hours=1)


def case(
    case_id: str = "c1",
    kind: str = "department_answer",
    due: dt.datetime = NOON,
    notify: str = "operations",
    clause: str = "B2C-5",
) -> OpenCase:
    """An open case; by default Operations must answer by noon (B2C-5)."""
    return OpenCase(case_id, kind, due, notify, clause)


class TestOverdue:
    """A deadline is late once *now* is past it: the department must answer
    within its B2C-5 hours, the customer must get a reply (B2C-8.3, 8.5,
    8.10). ``overdue`` lists the late cases, by how much, and whom to tell;
    it reads no clock.
    """

    def test_a_case_past_its_deadline_is_listed_with_how_late_and_whom_to_tell(self) -> None:
        """Operations was due to answer at 12:00; at 14:30 it is 2.5 hours late."""
        (late,) = overdue([case()], NOON + 2.5 * HOUR)
        assert late.case.case_id == "c1"
        assert late.case.notify == "operations"
        assert late.case.clause == "B2C-5"
        assert late.late_by == dt.timedelta(hours=2, minutes=30)

    def test_a_case_due_exactly_now_is_not_late(self) -> None:
        """At the deadline itself nothing is late yet; a microsecond later it is."""
        assert overdue([case()], NOON) == ()
        (late,) = overdue([case()], NOON + dt.timedelta(microseconds=1))
        assert late.late_by == dt.timedelta(microseconds=1)

    def test_cases_not_yet_due_are_left_out(self) -> None:
        """Only the late case is listed."""
        cases = [case("early", due=NOON - HOUR), case("later", due=NOON + HOUR)]
        assert [o.case.case_id for o in overdue(cases, NOON)] == ["early"]

    def test_the_latest_comes_first(self) -> None:
        """Ordered by deadline, so the case that has waited longest leads; ties by id and kind."""
        cases = [
            case("b", due=NOON - HOUR),
            case("a", "customer_reply", NOON - HOUR, "customer_service", "B2C-8.3"),
            case("a", due=NOON - HOUR),
            case("z", due=NOON - 3 * HOUR),
        ]
        listed = [(o.case.case_id, o.case.kind) for o in overdue(cases, NOON)]
        assert listed == [
            ("z", "department_answer"),
            ("a", "customer_reply"),
            ("a", "department_answer"),
            ("b", "department_answer"),
        ]

    def test_zones_do_not_matter(self) -> None:
        """A deadline written in UTC and a now written at +08:00 compare as instants."""
        due_utc = NOON.in_timezone("UTC")
        now = dt.datetime(2026, 5, 6, 13, 0, tzinfo=CST)
        (late,) = overdue([case(due=due_utc)], now)
        assert late.late_by == HOUR

    def test_a_naive_now_is_refused(self) -> None:
        """Time must come with a zone; the error names the argument."""
        with pytest.raises(DomainValueError, match="'now' must be a time-zone aware datetime"):
            overdue([case()], dt.datetime(2026, 5, 6, 12, 0))

    def test_any_iterable_is_accepted(self) -> None:
        """Cases may come from a generator (for example, straight from a file)."""
        assert len(overdue((case(str(i)) for i in range(3)), NOON + HOUR)) == 3

    @given(
        dues=st.lists(aware_datetimes(), max_size=20),
        now=aware_datetimes(),
    )
    def test_exactly_the_cases_past_due_are_listed_each_late_by_now_minus_due(
        self, dues: list[pendulum.DateTime], now: pendulum.DateTime
    ) -> None:
        """Every listed case is past due by ``now - due``; every other case is not."""
        cases = [case(f"c{i}", due=due) for i, due in enumerate(dues)]
        late = overdue(cases, now)
        listed = {o.case.case_id for o in late}
        for item in late:
            assert item.late_by == (now - item.case.due)
            assert item.late_by > dt.timedelta(0)
        for c in cases:
            assert (c.case_id in listed) == (c.due < now)
        assert [o.case.due for o in late] == sorted(o.case.due for o in late)
        assert overdue(cases, now) == late  # pure: same input, same answer


class TestOpenCase:
    """An open case is validated data: its kind, an aware deadline, whom to
    tell and the clause.
    """

    def test_kinds_are_the_two_deadlines(self) -> None:
        """kind accepts the enum or its value."""
        assert case(kind="customer_reply").kind is CaseKind.CUSTOMER_REPLY
        assert case(kind=CaseKind.DEPARTMENT_ANSWER).kind == "department_answer"

    def test_an_unknown_kind_is_refused(self) -> None:
        """The error names the field and the accepted values."""
        with pytest.raises(DomainValueError, match=r"open_case\.kind"):
            case(kind="callback")

    def test_a_naive_deadline_is_refused(self) -> None:
        """A deadline without a zone is ambiguous."""
        with pytest.raises(DomainValueError, match=r"open_case\.due"):
            case(due=dt.datetime(2026, 5, 6, 12, 0))

    def test_a_stdlib_deadline_becomes_pendulum(self) -> None:
        """Aware stdlib datetimes are converted, as in the domain objects."""
        due = case(due=dt.datetime(2026, 5, 6, 12, 0, tzinfo=CST)).due
        assert isinstance(due, pendulum.DateTime)

    def test_empty_names_are_refused(self) -> None:
        """Whom to tell and the clause must be given."""
        with pytest.raises(DomainValueError, match=r"open_case\.notify"):
            case(notify="")


class TestLoading:
    """``csrules watch`` reads open cases from JSON Lines: open-case objects,
    or the output lines of ``csrules decide`` for complaints, whose
    ``answer_due`` and ``reply_due`` become a department's and customer
    service's deadlines.
    """

    def test_an_open_case_object_is_read(self) -> None:
        """{"id", "kind", "due", "notify", "clause"} is one open case."""
        line = {
            "id": "c1",
            "kind": "customer_reply",
            "due": "2026-05-06T10:00:00+08:00",
            "notify": "customer_service",
            "clause": "B2C-8.5",
        }
        (read,) = open_cases_from_json(line)
        assert read == OpenCase(
            "c1",
            CaseKind.CUSTOMER_REPLY,
            pendulum.parse(line["due"]),
            "customer_service",
            "B2C-8.5",
        )
        assert read.to_json() == line

    def test_a_decided_complaint_gives_both_deadlines(self) -> None:
        """answer_due: tell the department (B2C-5); reply_due: tell customer service."""
        decided = {
            "id": "c1",
            "kind": "complaint",
            "line": 1,
            "decision": {
                "route_to": "operations",
                "answer_due": "2026-05-06T14:00:00+08:00",
                "reply_due": "2026-05-06T10:30:00+08:00",
                "escalate_to": [],
                "rules": ["B2C-5", "B2C-8.10"],
            },
        }
        answer, reply = open_cases_from_json(decided)
        assert (answer.kind, answer.notify, answer.clause) == (
            "department_answer",
            "operations",
            "B2C-5",
        )
        assert answer.due == pendulum.parse("2026-05-06T14:00:00+08:00")
        assert (reply.kind, reply.notify, reply.clause) == (
            "customer_reply",
            "customer_service",
            "B2C-8.10",
        )

    def test_a_complaint_customer_service_handles_has_only_the_reply(self) -> None:
        """No answer_due: nothing waits on another department; the reply clause defaults."""
        decided = {
            "id": "c2",
            "kind": "complaint",
            "decision": {
                "route_to": "customer_service",
                "answer_due": None,
                "reply_due": "2026-05-07T10:00:00+08:00",
            },
        }
        (reply,) = open_cases_from_json(decided)
        assert (reply.kind, reply.clause) == ("customer_reply", "B2C-8.3")

    @pytest.mark.parametrize(
        "line",
        [
            {"id": "r1", "kind": "return", "decision": {"action": "normal_return"}},
            {"id": "x", "line": 3, "error": {"code": "invalid_json", "message": "..."}},
        ],
        ids=["other-kind", "error-line"],
    )
    def test_other_lines_give_nothing(self, line: dict[str, object]) -> None:
        """Decisions of other kinds and error lines carry no deadline to watch."""
        assert open_cases_from_json(line) == ()

    @pytest.mark.parametrize(
        ("line", "field"),
        [
            (
                {
                    "kind": "customer_reply",
                    "due": "2026-05-06T10:00:00+08:00",
                    "notify": "cs",
                    "clause": "B2C-8.3",
                },
                "id",
            ),
            (
                {
                    "id": "c1",
                    "kind": "callback",
                    "due": "2026-05-06T10:00:00+08:00",
                    "notify": "cs",
                    "clause": "B2C-8.3",
                },
                "kind",
            ),
            (
                {
                    "id": "c1",
                    "kind": "customer_reply",
                    "due": "2026-05-06T10:00:00",
                    "notify": "cs",
                    "clause": "B2C-8.3",
                },
                "due",
            ),
            (
                {
                    "id": "c1",
                    "kind": "complaint",
                    "decision": {"answer_due": "2026-05-06T10:00:00+08:00"},
                },
                "decision.route_to",
            ),
        ],
        ids=["no-id", "bad-kind", "naive-due", "no-route"],
    )
    def test_bad_lines_raise_contract_error_naming_the_field(
        self, line: dict[str, object], field: str
    ) -> None:
        """The error names the JSON field that is wrong."""
        with pytest.raises(ContractError) as raised:
            open_cases_from_json(line)
        assert raised.value.field == field

    def test_json_lines_are_read_and_blank_lines_skipped(self) -> None:
        """One case per line; blank lines are ignored."""
        lines = [json.dumps(case(f"c{i}").to_json()) + "\n" for i in range(2)]
        read = list(open_cases_from_json_lines([lines[0], "\n", lines[1]]))
        assert [c.case_id for c in read] == ["c0", "c1"]

    def test_a_bad_line_stops_the_strict_reader_with_its_number(self) -> None:
        """open_cases_from_json_lines raises at the first bad line, naming it."""
        with pytest.raises(ContractError, match="line 2: not valid JSON") as raised:
            list(open_cases_from_json_lines([json.dumps(case().to_json()), "{oops"]))
        assert raised.value.code == "invalid_json"

    def test_the_lenient_loader_goes_on_past_bad_lines(self) -> None:
        """load_open_cases keeps the good cases and one message per bad line."""
        good = json.dumps(case().to_json())
        cases, problems = load_open_cases([good, "[1, 2]", '{"id": "c2"}', good])
        assert len(cases) == 2
        assert problems == (
            "line 2: expected a JSON object, got list",
            "line 3: kind: missing (required)",
        )

    def test_overdue_items_write_json(self) -> None:
        """An overdue item is its case plus late_by (ISO-8601) and late_by_seconds."""
        item = Overdue(case(), dt.timedelta(hours=2, minutes=30, seconds=5))
        assert item.to_json() == {
            **case().to_json(),
            "late_by": "PT2H30M5S",
            "late_by_seconds": 9005,
        }
        assert Overdue(case(), dt.timedelta(days=1, microseconds=500)).to_json()["late_by"] == (
            "P1DT0.0005S"
        )
