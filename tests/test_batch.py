"""Tests of csrules.batch: rule tables over numpy columns give the single path's answers.

The differential tests generate batches of cases with the public strategies
of csrules.testing, build each case's facts, and check that every shipped
table compiled for batches fires the same rule and gives the same outcomes,
row by row, as ``Table.evaluate`` on that row's facts.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csrules import Action, Escalation, FreightPayer, ReturnCase
from csrules.batch import (
    NULL_CODE,
    NULL_INT,
    VECTORISED_FUNCTIONS,
    BatchResult,
    _kernels,
    compile_table,
    decide_returns_batch,
    decide_returns_columns,
    enum_code,
    facts_frame,
    with_kind,
)
from csrules.exceptions import (
    CalendarError,
    DomainValueError,
    NoRuleMatchedError,
    RuleDefinitionError,
    RuleOverlapError,
)
from csrules.policy import Policy, default_policy, load_policy
from csrules.rules import (
    TRUE,
    Expr,
    HitPolicy,
    Rule,
    Table,
    _functions,
    call,
    complaints,
    const,
    fact,
    param,
    promotions,
    returns,
)
from csrules.testing import (
    aware_datetimes,
    complaint_cases,
    price_adjustment_cases,
    promotion_cases,
    return_cases,
)

B2C = default_policy()
CALENDAR = B2C.calendar
POLICIES = {
    "b2c": B2C,
    "b2c_extended": B2C.with_values("2024-01-01", no_reason_extend_past_holiday=True),
    "taobao": load_policy("taobao"),
    # parameters change in the middle of the generated dates: rows are grouped
    "b2c_changing": B2C.with_values(
        "2025-06-01", refund_working_days=3, no_reason_return_days=15, shipping_fee="12.00"
    ),
}
SERVICE_CLOCKS = B2C.with_values(
    "2020-01-01",
    finance_answer_clock="service",
    operations_answer_clock="service",
    technology_answer_clock="service",
    cs_head_walk_in_only=False,
)
SHANGHAI = pendulum.timezone("Asia/Shanghai")
batches = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Colour(enum.StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


# ---------------------------------------------------------------- helpers


def check_table(
    table: Table,
    records: Sequence[dict[str, Any]],
    params: Mapping[str, Any],
    calendar: Any = CALENDAR,
) -> BatchResult:
    """Assert the batch result of ``table`` equals Table.evaluate on each record."""
    result = compile_table(table).evaluate(facts_frame(records), params, calendar)
    assert len(result) == len(records)
    for name, column in result.outputs.items():
        assert column.dtype.kind != "f", f"{table.name}.{name} became float"
    outputs = {name: result.to_python(name) for name in table.outputs}
    clauses = result.clauses()
    for row, facts in enumerate(records):
        try:
            expected = table.evaluate(facts, params, calendar)
        except (TypeError, CalendarError):
            # the single path cannot compute with None here; the batch leaves
            # the outcome empty (docs/batch.md, "Missing values")
            assert all(outputs[name][row] is None for name in table.outputs)
            continue
        fired = tuple(i for i, _ in expected.hits)
        assert result.fired(row) == fired, (table.name, row, facts)
        if fired:
            assert clauses[row] == table.rules[fired[0]].clause
        for name in table.outputs:
            assert outputs[name][row] == expected.outputs.get(name), (table.name, name, facts)
        if table.hit_policy is not HitPolicy.COLLECT:
            assert int(result.rule_index[row]) == fired[0]
    return result


def params_on(policy: Policy, records: Sequence[Mapping[str, Any]], date_fact: str) -> Any:
    """One parameter set for a batch: the one of the first record's date.

    The generated dates fall in years without parameter changes in the
    bundled policies, so every row of a batch sees the same values.
    """
    return policy.resolve(records[0][date_fact]).values


def single_rule(
    when: Expr,
    then: Mapping[str, object] | None = None,
    *,
    hit_policy: HitPolicy = HitPolicy.FIRST,
    otherwise: Mapping[str, object] | None = None,
) -> Table:
    """A table whose first rule is ``when`` and whose second is a default row."""
    then = dict(then or {"out": True})
    otherwise = dict(otherwise if otherwise is not None else dict.fromkeys(then, False))
    facts = set(when.facts())
    for value in [*then.values(), *otherwise.values()]:
        if isinstance(value, Expr):
            facts |= value.facts()
    return Table(
        "t",
        "test table",
        hit_policy,
        tuple(sorted(facts)),
        tuple(then),
        [
            Rule("B2C-1", when, then, en="", zh="", id="when"),
            Rule("B2C-2", TRUE, otherwise, en="", zh="", id="otherwise"),
        ],
    )


def truths(
    when: Expr,
    records: Sequence[dict[str, Any]],
    params: Mapping[str, Any] | None = None,
) -> list[bool]:
    """Row by row, whether ``when`` holds in the batch (checked against the single path)."""
    table = single_rule(when)
    result = check_table(table, records, params or {})
    return [i == 0 for i in result.rule_index.tolist()]


def values(
    expr: Expr,
    records: Sequence[dict[str, Any]],
    params: Mapping[str, Any] | None = None,
) -> list[object]:
    """Row by row, the value of ``expr`` in the batch (checked against the single path)."""
    table = single_rule(TRUE, {"out": expr})
    return check_table(table, records, params or {}).to_python("out")


def rows(**columns: Sequence[object]) -> list[dict[str, Any]]:
    """Records from columns of Python values."""
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


# ---------------------------------------------------------------- differential: shipped tables


def _return_records(cases: Sequence[ReturnCase]) -> list[dict[str, Any]]:
    records = []
    for case in cases:
        try:
            records.append(returns.return_facts(case.order, case.request, case.at))
        except DomainValueError:  # a request without the condition it needs
            continue
    return records


class TestReturnTablesAgree:
    """Every return table gives the single path's fired rule and outcomes on every row."""

    @pytest.mark.parametrize("policy_name", sorted(POLICIES))
    @batches
    @given(cases=st.lists(return_cases(), min_size=1, max_size=20))
    def test_each_table_row_by_row(self, policy_name: str, cases: list[ReturnCase]) -> None:
        """The four return tables, each fed the outcomes before it as decide_return does."""
        policy = POLICIES[policy_name]
        records = _return_records(cases)
        if not records:
            return
        by_date: dict[dt.date, list[dict[str, Any]]] = {}
        for record in records:
            key = policy.resolve(record["request_date"]).on
            by_date.setdefault(key, []).append(record)
        # parameters are per date; rows of one date share them (the
        # pipeline test below mixes dates in one batch)
        for group in by_date.values():
            params = params_on(policy, group, "request_date")
            for table in returns.RETURN_TABLES:
                check_table(table, group, params, policy.calendar)
                for record in group:
                    outputs = table.evaluate(record, params, policy.calendar).outputs
                    if table is not returns.RETURN_DUTIES:
                        record.update(outputs)

    @pytest.mark.parametrize("policy_name", sorted(POLICIES))
    @batches
    @given(cases=st.lists(return_cases(), min_size=1, max_size=20))
    def test_pipeline_equals_decide_return(self, policy_name: str, cases: list[ReturnCase]) -> None:
        """decide_returns_batch gives each case decide_return's outcomes and duties."""
        policy = POLICIES[policy_name]
        usable = [c for c in cases if _return_records([c])]
        if not usable:
            return
        batch = decide_returns_batch(usable, policy=policy, duties=True)
        assert len(batch) == len(usable)
        for case, got in zip(usable, batch.records(), strict=True):
            decision = returns.decide_return(case.order, case.request, at=case.at, policy=policy)
            assert got["action"] == decision.action
            assert got["eligible"] == decision.eligible
            assert got["approvals"] == decision.approvals
            assert got["freight_payer"] == decision.freight_payer
            assert got["refund_due"] == decision.refund_due
            assert got["duties"] == decision.duties
            fired = [r.table.rules[r.hits[0][0]].clause for r in decision.trace.results[:3]]
            assert got["clauses"] == tuple(fired)


class TestComplaintTablesAgree:
    """Every complaint table, the time-of-day ones included, agrees with the single path."""

    @pytest.mark.parametrize("policy", [B2C, SERVICE_CLOCKS], ids=["wall", "service"])
    @batches
    @given(
        cases=st.lists(
            st.tuples(complaint_cases(), st.booleans(), st.booleans()), min_size=1, max_size=20
        )
    )
    def test_each_table_row_by_row(self, policy: Policy, cases: list[Any]) -> None:
        """complaint_route, _reply, _escalation, _duties, fed forward as decide_complaint does."""
        records = []
        for case, repeat, quality in cases:
            record = complaints.complaint_facts(case.complaint)
            record["repeat_complaint"] = repeat
            record["quality_reports_exceeded"] = quality
            records.append(record)
        by_date: dict[dt.date, list[dict[str, Any]]] = {}
        for record in records:
            by_date.setdefault(policy.resolve(record["received_date"]).on, []).append(record)
        for group in by_date.values():
            params = params_on(policy, group, "received_date")
            calendar = policy.calendar
            route, reply, escalation, duties = complaints.COMPLAINT_TABLES
            check_table(route, group, params, calendar)
            check_table(reply, group, params, calendar)
            check_table(escalation, group, params, calendar)
            for record in group:
                record["route_to"] = route.evaluate(record, params, calendar).outputs["route_to"]
                raised = escalation.evaluate(record, params, calendar).outputs["escalate_to"]
                record["to_general_manager"] = Escalation.GENERAL_MANAGER in raised
            check_table(duties, group, params, calendar)


class TestPromotionTablesAgree:
    """Promotion and price-adjustment tables agree with the single path."""

    @batches
    @given(cases=st.lists(promotion_cases(), min_size=1, max_size=20))
    def test_promotion_tables(self, cases: list[Any]) -> None:
        """reminder_lead (unique), promotion_size, _training, _duties (collect, working days)."""
        records = [promotions.promotion_facts(c.promotion, c.at) for c in cases]
        params = params_on(B2C, records, "decision_date")
        lead, size, training, duties = promotions.PROMOTION_TABLES
        check_table(lead, records, params)
        check_table(size, records, params)
        check_table(training, records, params)
        for record in records:
            record["size"] = size.evaluate(record, params, CALENDAR).outputs["size"]
            record["training_on"] = training.evaluate(record, params, CALENDAR).outputs[
                "training_on"
            ]
        check_table(duties, records, params)

    @batches
    @given(cases=st.lists(price_adjustment_cases(), min_size=1, max_size=20))
    def test_price_adjustment_tables(self, cases: list[Any]) -> None:
        """price_adjustment compares aware times (datetime64), gift_eligibility money (fen)."""
        records = [promotions.price_adjustment_facts(c.request, c.at) for c in cases]
        params = params_on(B2C, records, "decision_date")
        action, gift = promotions.PRICE_ADJUSTMENT_TABLES
        check_table(action, records, params)
        for record in records:
            record["action"] = action.evaluate(record, params, CALENDAR).outputs["action"]
        check_table(gift, records, params)


def test_every_shipped_table_compiles() -> None:
    """All shipped tables are vectorised (docs/batch.md lists what is not)."""
    shipped = [
        *returns.RETURN_TABLES,
        *complaints.COMPLAINT_TABLES,
        *promotions.PROMOTION_TABLES,
        *promotions.PRICE_ADJUSTMENT_TABLES,
    ]
    for table in shipped:
        assert compile_table(table).name == table.name


# ---------------------------------------------------------------- facts_frame encodings


class TestFactsFrame:
    """facts_frame encodes each kind of fact exactly, with a documented null."""

    def test_money_is_int64_fen(self) -> None:
        """Decimal amounts become whole fen in int64; None is NULL_INT; never float."""
        columns = facts_frame(rows(amount=[Decimal("12.34"), None, Decimal(5), 7]))
        assert columns["amount"].dtype == np.int64
        assert columns["amount"].tolist() == [1234, NULL_INT, 500, 700]

    def test_fraction_of_a_fen_is_refused(self) -> None:
        """An amount with more than 2 places is not rounded: it is an error."""
        with pytest.raises(DomainValueError, match="amount"):
            facts_frame(rows(amount=[Decimal("0.005")]))

    def test_float_is_refused(self) -> None:
        """A float fact is refused, naming the fact."""
        with pytest.raises(DomainValueError, match="price"):
            facts_frame(rows(price=[1.5]))

    def test_dates_are_ordinals(self) -> None:
        """Dates (pendulum's too) become int64 ordinals."""
        columns = facts_frame(rows(d=[dt.date(2026, 5, 1), pendulum.date(2026, 5, 2), None]))
        assert columns["d"].tolist() == [
            dt.date(2026, 5, 1).toordinal(),
            dt.date(2026, 5, 2).toordinal(),
            NULL_INT,
        ]

    def test_times_are_utc_microseconds(self) -> None:
        """Aware times become datetime64[us] instants in UTC, whatever their zone."""
        shanghai = pendulum.datetime(2026, 5, 1, 8, 0, tz="Asia/Shanghai")
        utc = dt.datetime(2026, 5, 1, 0, 0, tzinfo=dt.UTC)
        columns = facts_frame(rows(t=[shanghai, utc, None]))
        assert columns["t"].dtype == np.dtype("datetime64[us]")
        assert columns["t"][0] == columns["t"][1] == np.datetime64("2026-05-01T00:00:00")
        assert np.isnat(columns["t"][2])

    def test_naive_time_is_refused(self) -> None:
        """A naive datetime has no instant: refused."""
        with pytest.raises(DomainValueError, match="aware"):
            facts_frame(rows(t=[dt.datetime(2026, 5, 1)]))

    def test_times_of_day(self) -> None:
        """Times of day become timedelta64[us] since midnight."""
        columns = facts_frame(rows(at=[dt.time(8, 30, 15), None]))
        assert columns["at"][0] == np.timedelta64((8 * 3600 + 30 * 60 + 15) * 10**6, "us")
        assert np.isnat(columns["at"][1])

    def test_enums_are_codes(self) -> None:
        """Members of one enum become int8 codes (index in the class); None is NULL_CODE."""
        columns = facts_frame(rows(c=[Colour.BLUE, None, Colour.RED]))
        assert columns["c"].dtype == np.int8
        assert columns["c"].tolist() == [2, NULL_CODE, 0]
        assert enum_code(Colour.BLUE) == 2

    def test_strings_bools_and_the_rest(self) -> None:
        """str → unicode; with None → object; bool → bool; mixed or other values → object."""
        columns = facts_frame(
            rows(
                s=["a", "bc"],
                s_none=["a", None],
                b=[True, False],
                b_none=[True, None],
                mixed=[1, "x"],
                roles=[("a",), ()],
                enum_and_str=[Colour.RED, "other"],
            )
        )
        assert columns["s"].dtype.kind == "U"
        assert columns["s_none"].dtype == object
        assert columns["b"].dtype == bool
        assert columns["b_none"].dtype == object
        assert columns["mixed"].tolist() == [1, "x"]
        assert columns["roles"].tolist() == [("a",), ()]
        assert columns["enum_and_str"].tolist() == ["red", "other"]

    def test_records_must_share_facts(self) -> None:
        """A record with other fact names is refused, naming it."""
        with pytest.raises(DomainValueError, match=r"records\[1\]"):
            facts_frame([{"a": 1}, {"b": 1}])

    def test_no_records(self) -> None:
        """No records, no columns."""
        assert facts_frame([]) == {}

    def test_kinds_fix_columns_that_are_all_none(self) -> None:
        """kinds= gives an all-None fact its usual encoding, and checks the values fit."""
        records = rows(d=[None, None], c=[None, None], n=[1, 2])
        columns = facts_frame(records, kinds={"d": "date", "c": Colour, "n": "money"})
        assert columns["d"].dtype == np.int64
        assert columns["d"].tolist() == [NULL_INT, NULL_INT]
        assert columns["c"].tolist() == [NULL_CODE, NULL_CODE]
        assert columns["n"].tolist() == [100, 200]  # whole yuan, in fen
        assert facts_frame(records)["d"].dtype == object
        with pytest.raises(DomainValueError, match=r"facts\['n'\]"):
            facts_frame(records, kinds={"n": "date"})
        with pytest.raises(DomainValueError, match=r"kinds\['n'\]"):
            facts_frame(records, kinds={"n": "decimal"})

    def test_columns_say_what_their_numbers_mean(self) -> None:
        """Money, date and enum columns are tagged; a fact passed through keeps its meaning."""
        records = rows(amount=[Decimal("1.50")], d=[dt.date(2026, 5, 1)], c=[Colour.GREEN])
        tagged = facts_frame(records)
        table = single_rule(TRUE, {"a": fact("amount"), "d": fact("d"), "c": fact("c")})
        result = compile_table(table).evaluate(tagged, {})
        assert result.to_python("a") == [Decimal("1.50")]
        assert result.to_python("d") == [dt.date(2026, 5, 1)]
        assert result.to_python("c") == [Colour.GREEN]
        # the same numbers without the tags are plain integers
        plain = {
            name: np.asarray(column, dtype=column.dtype.str) for name, column in tagged.items()
        }
        assert compile_table(table).evaluate(plain, {}).to_python("a") == [150]
        again = {
            "amount": with_kind(plain["amount"], "money"),
            "d": with_kind(plain["d"], "date"),
            "c": with_kind(plain["c"], "enum", Colour),
        }
        assert compile_table(table).evaluate(again, {}).to_python("c") == [Colour.GREEN]
        with pytest.raises(DomainValueError, match="kind"):
            with_kind(plain["amount"], "yuan")

    def test_a_tagged_money_column_meets_whole_yuan(self) -> None:
        """Against a tagged money column an int constant is whole yuan, as with Decimal."""
        records = rows(amount=[Decimal("4.99"), Decimal("5.00")])
        assert truths(fact("amount") >= const(5), records) == [False, True]


# ---------------------------------------------------------------- node types


class TestComparisons:
    """Compare: numpy comparisons, with the scalar encoded like the column it meets."""

    def test_integers_all_operators(self) -> None:
        """== != < <= > >= on int64, against a parameter."""
        records = rows(n=[1, 2, 3])
        p = {"k": 2}
        assert truths(fact("n") == param("k"), records, p) == [False, True, False]
        assert truths(fact("n") != param("k"), records, p) == [True, False, True]
        assert truths(fact("n") < param("k"), records, p) == [True, False, False]
        assert truths(fact("n") <= param("k"), records, p) == [True, True, False]
        assert truths(fact("n") > param("k"), records, p) == [False, False, True]
        assert truths(fact("n") >= param("k"), records, p) == [False, True, True]
        assert truths(param("k") > fact("n"), records, p) == [True, False, False]

    def test_money_against_decimal(self) -> None:
        """A fen column against a Decimal parameter compares yuan with yuan."""
        records = rows(amount=[Decimal("999.99"), Decimal("1000.00"), Decimal("1000.01")])
        limit = {"limit": Decimal("1000")}
        assert truths(fact("amount") > param("limit"), records, limit) == [False, False, True]
        assert truths(fact("amount") == const(Decimal("1000.0")), records) == [False, True, False]

    def test_dates_times_and_times_of_day(self) -> None:
        """Ordinals against dates, datetime64 against aware times, timedelta64 against times."""
        day = dt.date(2026, 5, 1)
        records = rows(
            d=[day, day + dt.timedelta(days=1)],
            t=[
                pendulum.datetime(2026, 5, 1, 10, tz="Asia/Shanghai"),
                pendulum.datetime(2026, 5, 1, 3, tz="UTC"),
            ],
            at=[dt.time(8, 29, 59), dt.time(8, 30)],
        )
        assert truths(fact("d") > const(day), records) == [False, True]
        noon = pendulum.datetime(2026, 5, 1, 11, tz="Asia/Shanghai")
        assert truths(fact("t") < const(noon), records) == [True, False]
        assert truths(fact("at") >= param("opens"), records, {"opens": dt.time(8, 30)}) == [
            False,
            True,
        ]
        assert truths(fact("t") == fact("t"), records) == [True, True]

    def test_enums_as_codes_unicode_and_objects(self) -> None:
        """An enum fact may be codes, unicode values or objects: the answers are the same."""
        records = rows(c=[Colour.RED, Colour.BLUE, None])
        when = fact("c") == Colour.BLUE
        assert truths(when, records) == [False, True, False]
        table = single_rule(when)
        compiled = compile_table(table)
        codes = facts_frame(records)["c"]
        as_text = np.array(["red", "blue", ""])
        as_objects = np.array([Colour.RED, Colour.BLUE, None], dtype=object)
        for column in (codes, as_text, as_objects):
            result = compiled.evaluate({"c": column}, {})
            assert result.rule_index.tolist() == [1, 0, 1]

    def test_nulls(self) -> None:
        """None equals None only; != None holds for values; ordering with None is false."""
        records = rows(n=[1, None], m=[None, None])
        assert truths(fact("n") == const(None), records) == [False, True]
        assert truths(fact("n") != const(None), records) == [True, False]
        assert truths(fact("n") == fact("m"), records) == [False, True]
        assert truths(fact("n") == const(1), records) == [True, False]
        assert truths(fact("n") != const(1), records) == [False, True]
        # None < 5 is false, on both paths
        table = single_rule(fact("n") < const(5))
        result = compile_table(table).evaluate(facts_frame(records), {})
        assert result.rule_index.tolist() == [0, 1]
        nat = facts_frame(rows(t=[None, None]))
        both = compile_table(single_rule(fact("t") == fact("t"))).evaluate(nat, {})
        assert both.rule_index.tolist() == [0, 0]

    def test_parameter_only_conditions_fold(self) -> None:
        """A condition on parameters alone is decided once for the whole batch."""
        records = rows(n=[1, 2])
        assert truths(param("flag") == True, records, {"flag": True}) == [True, True]  # noqa: E712
        assert truths(param("flag") == True, records, {"flag": False}) == [False, False]  # noqa: E712


class TestLogic:
    """All, AnyOf, Not over rows, with folded scalars."""

    def test_and_or_not(self) -> None:
        """& | ~ combine row masks; constant operands decide or drop out."""
        records = rows(a=[True, True, False, False], b=[True, False, True, False])
        a, b = fact("a"), fact("b")
        assert truths(a & b, records) == [True, False, False, False]
        assert truths(a | b, records) == [True, True, True, False]
        assert truths(~a, records) == [False, False, True, True]
        assert truths(a & b & ~(a & ~b), records) == [True, False, False, False]
        on = param("on") == True  # noqa: E712
        assert truths(a & on, records, {"on": True}) == [True, True, False, False]
        assert truths(a & on, records, {"on": False}) == [False] * 4
        assert truths(a | on, records, {"on": True}) == [True] * 4

    def test_truth_of_non_bool_facts(self) -> None:
        """A fact used as a condition is true as Python's truth would have it."""
        records = rows(n=[0, 3, None], s=["", "x", "y"])
        assert truths(fact("n") & fact("s"), records) == [False, True, False]
        assert truths(~fact("n"), records) == [True, False, True]


class TestMembership:
    """In: codes, unicode, objects; None among the values; long lists."""

    def test_isin_and_notin(self) -> None:
        """isin / notin over enum codes, with a null row."""
        records = rows(c=[Colour.RED, Colour.GREEN, Colour.BLUE, None])
        c = fact("c")
        assert truths(c.isin({Colour.RED, Colour.BLUE}), records) == [True, False, True, False]
        assert truths(c.notin({Colour.RED, Colour.BLUE}), records) == [False, True, False, True]
        assert truths(c.isin({Colour.RED, None}), records) == [True, False, False, True]
        assert truths(c.isin(()), records) == [False] * 4

    def test_many_values_use_isin(self) -> None:
        """More than a handful of values go through np.isin, same answers."""
        records = rows(n=list(range(12)))
        wanted = {1, 3, 5, 7, 9, 11, 13, 15}
        assert truths(fact("n").isin(wanted), records) == [n in wanted for n in range(12)]

    def test_strings_and_objects(self) -> None:
        """Unicode columns and object columns (tuples) too."""
        records = rows(s=["a", "b", "c"], o=[("x",), (), ("y",)])
        assert truths(fact("s").isin({"a", "c"}), records) == [True, False, True]
        assert truths(fact("o").isin({("x",), ()}), records) == [True, True, False]


class TestMissingValues:
    """IsNone reads each encoding's null."""

    def test_is_none_per_encoding(self) -> None:
        """NULL_INT, NaT, NULL_CODE and None in object arrays are all None."""
        records = rows(
            amount=[Decimal(1), None],
            t=[pendulum.datetime(2026, 1, 1, tz="UTC"), None],
            c=[None, Colour.RED],
            o=[None, ("x",)],
        )
        assert truths(fact("amount").is_none(), records) == [False, True]
        assert truths(fact("t").is_none(), records) == [False, True]
        assert truths(fact("c").is_none(), records) == [True, False]
        assert truths(fact("o").is_not_none(), records) == [False, True]
        assert truths(fact("c").is_not_none(), rows(c=[Colour.RED])) == [True]


class TestArithmetic:
    """Arith over int64 and fen, nulls propagate, no float ever."""

    def test_integer_and_money_arithmetic(self) -> None:
        """+ - * on ints and on fen with Decimal and int operands."""
        records = rows(n=[2, 5], amount=[Decimal("1.50"), Decimal("0.25")])
        assert values(fact("n") + const(1), records) == [3, 6]
        assert values(fact("n") - fact("n") * const(2), records) == [-2, -5]
        assert values(fact("amount") + const(Decimal("0.50")), records) == [
            Decimal("2.00"),
            Decimal("0.75"),
        ]
        assert values(fact("amount") * const(3), records) == [Decimal("4.50"), Decimal("0.75")]
        assert values(param("a") + param("b"), records, {"a": 1, "b": 2}) == [3, 3]

    def test_a_comparison_of_computed_money(self) -> None:
        """Computed amounts compare with Decimal parameters in fen."""
        records = rows(amount=[Decimal("40.00"), Decimal("60.00")])
        when = fact("amount") + const(Decimal("10.00")) > param("limit")
        assert truths(when, records, {"limit": Decimal("55")}) == [False, True]

    def test_nulls_propagate(self) -> None:
        """A missing operand gives a missing result (the single path raises TypeError)."""
        table = single_rule(TRUE, {"out": fact("n") + const(1)})
        result = compile_table(table).evaluate(facts_frame(rows(n=[1, None])), {})
        assert result.to_python("out") == [2, None]

    def test_inexact_money_products_are_refused(self) -> None:
        """Money times money, or times a fraction, has no exact fen: refused."""
        records = facts_frame(rows(amount=[Decimal(1)]))
        money = fact("amount") + const(Decimal("0.10"))  # known to be money
        by_money = single_rule(TRUE, {"out": money * money})
        with pytest.raises(RuleDefinitionError, match="two amounts of money"):
            compile_table(by_money).evaluate(records, {})
        by_fraction = single_rule(TRUE, {"out": fact("amount") * const(Decimal("0.5"))})
        with pytest.raises(RuleDefinitionError, match="fraction"):
            compile_table(by_fraction).evaluate(records, {})


class TestFunctions:
    """Call: earlier/later, day shifts, hour shifts, working days, times of day."""

    def test_earlier_and_later_skip_nulls(self) -> None:
        """earlier/later ignore a missing side, as the single path does."""
        d1, d2 = dt.date(2026, 5, 1), dt.date(2026, 5, 3)
        records = rows(a=[d1, d2, None, None], b=[d2, None, d1, None])
        assert values(call("earlier", fact("a"), fact("b")), records) == [d1, d2, d1, None]
        assert values(call("later", fact("a"), fact("b")), records) == [d2, d2, d1, None]
        assert values(call("later", fact("a"), const(d1)), records) == [d1, d2, d1, d1]
        assert values(call("earlier", const(None), fact("a")), records) == [d1, d2, None, None]

    def test_day_and_hour_shifts(self) -> None:
        """add_days/subtract_days on ordinals; add_hours/add_minutes on instants."""
        day = dt.date(2026, 12, 30)
        t = pendulum.datetime(2026, 5, 1, 23, 30, tz="Asia/Shanghai")
        records = rows(d=[day, None], t=[t, None], n=[3, 1])
        assert values(call("add_days", fact("d"), fact("n")), records) == [
            dt.date(2027, 1, 2),
            None,
        ]
        assert values(call("subtract_days", fact("d"), const(30)), records) == [
            dt.date(2026, 11, 30),
            None,
        ]
        assert values(call("add_hours", fact("t"), param("h")), records, {"h": 2}) == [
            t.add(hours=2),
            None,
        ]
        assert values(call("add_minutes", fact("t"), fact("n")), records) == [
            t.add(minutes=3),
            None,
        ]
        assert values(call("add_days", fact("t"), const(1)), records) == [t.add(days=1), None]

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.dates(dt.date(2023, 1, 1), dt.date(2029, 12, 31)) | st.none(),
                st.integers(0, 40),
            ),
            min_size=1,
            max_size=30,
        )
    )
    def test_working_days_match_the_calendar(self, pairs: list[tuple[dt.date | None, int]]) -> None:
        """add_working_days, roll_to_working_day: WorkCalendar's dates, estimated years too."""
        records = rows(d=[d for d, _ in pairs], n=[n for _, n in pairs])
        added = values(call("add_working_days", fact("d"), fact("n")), records)
        rolled = values(call("roll_to_working_day", fact("d")), records)
        for (d, n), got, roll in zip(pairs, added, rolled, strict=True):
            if d is None:
                assert got is None
                assert roll is None
                continue
            assert got == CALENDAR.add_working_days(d, n)
            assert roll == (d if CALENDAR.is_workday(d) else CALENDAR.next_working_day(d))

    def test_a_fixed_count_over_a_year_end(self) -> None:
        """A parameter count, across the end of 2027 (estimated) into 2028."""
        start = dt.date(2027, 12, 24)
        records = rows(d=[start + dt.timedelta(days=k) for k in range(12)])
        got = values(call("add_working_days", fact("d"), param("n")), records, {"n": 7})
        assert got == [CALENDAR.add_working_days(r["d"], 7) for r in records]

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(aware_datetimes(), min_size=1, max_size=20),
        st.sampled_from([(dt.time(8, 30), dt.time(20)), (dt.time(0), dt.time(23, 59))]),
        st.integers(0, 30),
        st.sampled_from([dt.time(10), dt.time(0), dt.time(23, 59)]),
    )
    def test_times_of_day_match_the_calendar(
        self,
        times: list[pendulum.DateTime],
        window: tuple[dt.time, dt.time],
        hours: int,
        at: dt.time,
    ) -> None:
        """next_time_of_day, add_service_hours, service_period_end as WorkCalendar computes them."""
        opens, closes = window
        params = {"opens": opens, "closes": closes, "hours": hours, "at": at}
        records = rows(t=times)
        t = fact("t")
        served = call("add_service_hours", t, param("hours"), param("opens"), param("closes"))
        nxt = call("next_time_of_day", t, param("at"))
        end = call("service_period_end", t, param("opens"), param("closes"))
        assert values(served, records, params) == [
            CALENDAR.add_service_hours(x, dt.timedelta(hours=hours), opens, closes) for x in times
        ]
        assert values(nxt, records, params) == [CALENDAR.next_time_of_day(x, at) for x in times]
        # outside service hours the single path raises: the batch leaves the row empty
        table = single_rule(TRUE, {"out": end})
        got = compile_table(table).evaluate(facts_frame(records), params, CALENDAR).to_python("out")
        for x, value in zip(times, got, strict=True):
            if CALENDAR.in_service_hours(x, opens, closes):
                assert value == CALENDAR.service_period_end(x, opens, closes)
            else:
                assert value is None

    def test_times_before_1992_are_refused(self) -> None:
        """Asia/Shanghai had summer time until 1991: time-of-day functions need 1992 on."""
        table = single_rule(TRUE, {"out": call("next_time_of_day", fact("t"), param("at"))})
        columns = facts_frame(rows(t=[pendulum.datetime(1990, 7, 1, tz="Asia/Shanghai")]))
        with pytest.raises(CalendarError, match="1992"):
            compile_table(table).evaluate(columns, {"at": dt.time(10)}, CALENDAR)

    def test_working_days_need_a_calendar(self) -> None:
        """Without the calendar the message says what to pass."""
        table = single_rule(TRUE, {"out": call("roll_to_working_day", fact("d"))})
        columns = facts_frame(rows(d=[dt.date(2026, 5, 1)]))
        with pytest.raises(RuleDefinitionError, match="calendar="):
            compile_table(table).evaluate(columns, {})


# ---------------------------------------------------------------- hit policies and results


def _three_rules(hit_policy: HitPolicy) -> Table:
    n = fact("n")
    return Table(
        "bands",
        "bands",
        hit_policy,
        ("n",),
        ("band", "limit"),
        [
            Rule("B2C-1", n <= 1, {"band": "low", "limit": param("low")}, en="", zh="", id="low"),
            Rule("B2C-2", n >= 1, {"band": "high"}, en="", zh="", id="high"),
            Rule("B2C-3", n >= 3, {"band": "top", "limit": n}, en="", zh="", id="top"),
        ],
    )


class TestHitPolicies:
    """first, unique and collect over rows; errors name how many rows and the first."""

    def test_first(self) -> None:
        """The first matching rule per row; outputs gathered or selected by rule."""
        table = _three_rules(HitPolicy.FIRST)
        result = check_table(table, rows(n=[0, 1, 2, 3]), {"low": 7})
        assert result.rule_index.tolist() == [0, 0, 1, 1]
        assert result.clauses().tolist() == ["B2C-1", "B2C-1", "B2C-2", "B2C-2"]
        assert result.rule_ids().tolist() == ["low", "low", "high", "high"]
        assert result.to_python("band") == ["low", "low", "high", "high"]
        # a rule that does not set an outcome leaves it empty, as in the single path
        assert result.to_python("limit") == [7, 7, None, None]

    def test_first_without_a_match(self) -> None:
        """Rows no rule matches: NoRuleMatchedError with the count and the first row."""
        table = _three_rules(HitPolicy.FIRST)
        columns = {"n": np.array([5, 2, -1, 2, 9], dtype=np.int64)}
        guarded = table.replace_rule("low", table.rules[0]).replace_rule(
            "high", Rule("B2C-2", fact("n") == 2, {"band": "high"}, en="", zh="", id="high")
        )
        guarded = guarded.replace_rule(
            "top", Rule("B2C-3", fact("n") >= 9, {"band": "top"}, en="", zh="", id="top")
        )
        with pytest.raises(NoRuleMatchedError, match=r"matched 1 of 5 rows \(the first is row 0\)"):
            compile_table(guarded).evaluate(columns, {"low": 1})

    def test_unique_overlap(self) -> None:
        """Rows matching two rules of a unique table: RuleOverlapError names the rules."""
        table = _three_rules(HitPolicy.UNIQUE)
        columns = {"n": np.array([0, 2, 1, 3], dtype=np.int64)}
        with pytest.raises(RuleOverlapError, match=r"2 of 4 rows .*row 2.*\['low', 'high'\]"):
            compile_table(table).evaluate(columns, {"low": 1})
        ok = check_table(table, rows(n=[0, 2]), {"low": 1})
        assert ok.rule_index.tolist() == [0, 1]

    def test_collect(self) -> None:
        """The rows x rules hit matrix; outcomes per rule; tuples per row in to_python."""
        table = _three_rules(HitPolicy.COLLECT)
        result = check_table(table, rows(n=[0, 1, 2, 3]), {"low": 7})
        assert result.hits is not None
        assert result.hits.shape == (4, 3)
        assert result.hits.tolist() == [
            [True, False, False],
            [True, True, False],
            [False, True, False],
            [False, True, True],
        ]
        assert result.rule_index.tolist() == [0, 0, 1, 1]
        assert result.outputs["band"].shape == (4, 3)
        assert result.to_python("band") == [("low",), ("low", "high"), ("high",), ("high", "top")]
        assert result.to_python("limit") == [(7,), (7,), (), (3,)]
        assert result.fired(3) == (1, 2)

    def test_mixed_outcomes_become_objects(self) -> None:
        """An outcome that is a date in one rule and a tuple in another is an object column."""
        day = dt.date(2026, 5, 1)
        table = single_rule(
            fact("n") > const(0),
            {"out": call("add_days", fact("d"), const(1))},
            otherwise={"out": ("none",)},
        )
        result = check_table(table, rows(n=[1, 0], d=[day, day]), {})
        assert result.kinds["out"] == "object"
        assert result.to_python("out") == [dt.date(2026, 5, 2), ("none",)]

    def test_collect_without_a_hit(self) -> None:
        """A row no rule matches fires nothing: rule index -1, clause "", empty tuples."""
        table = _three_rules(HitPolicy.COLLECT)
        columns = {"n": np.array([NULL_INT, 2], dtype=np.int64)}
        result = compile_table(table).evaluate(columns, {"low": 7})
        assert result.rule_index.tolist() == [-1, 1]
        assert result.clauses().tolist() == ["", "B2C-2"]
        assert result.rule_ids().tolist() == ["", "high"]
        assert result.fired(0) == ()
        assert result.to_python("band") == [(), ("high",)]


# ---------------------------------------------------------------- errors


class TestErrors:
    """What a batch refuses, and how it says so."""

    def test_missing_fact_and_parameter(self) -> None:
        """As Table.evaluate: the message names the table and the missing name."""
        compiled = compile_table(_three_rules(HitPolicy.FIRST))
        with pytest.raises(RuleDefinitionError, match="'bands' needs the fact or parameter 'n'"):
            compiled.evaluate({"m": np.zeros(2, dtype=np.int64)}, {"low": 1})
        with pytest.raises(RuleDefinitionError, match="parameter 'low'"):
            compiled.evaluate({"n": np.zeros(2, dtype=np.int64)}, {})

    def test_bad_columns(self) -> None:
        """Float, wrong length, not an array, no columns: DomainValueError naming the column."""
        compiled = compile_table(single_rule(fact("n") > const(1)))
        with pytest.raises(DomainValueError, match=r"columns\['n'\].*never float"):
            compiled.evaluate({"n": np.array([1.5])}, {})
        with pytest.raises(DomainValueError, match=r"columns\['n'\].*length 2"):
            compiled.evaluate({"m": np.zeros(2, dtype=bool), "n": np.zeros(3, dtype=np.int64)}, {})
        with pytest.raises(DomainValueError, match=r"columns\['n'\]"):
            compiled.evaluate({"n": [1, 2]}, {})  # type: ignore[dict-item]
        with pytest.raises(DomainValueError, match="at least one fact column"):
            compile_table(single_rule(param("x") == 1)).evaluate({}, {"x": 1})

    def test_encoding_mismatch(self) -> None:
        """A column whose encoding cannot meet the rule's values: the table and rule are named."""
        compiled = compile_table(single_rule(fact("n") == const("signed")))
        with pytest.raises(RuleDefinitionError, match=r"table 't', rule 'when'.*integer column"):
            compiled.evaluate({"n": np.zeros(2, dtype=np.int64)}, {})
        ordering = compile_table(single_rule(fact("c") < const(Colour.BLUE)))
        with pytest.raises(RuleDefinitionError, match="ordering comparisons of enum codes"):
            ordering.evaluate({"c": np.zeros(2, dtype=np.int8)}, {})

    def test_function_without_kernel_runs_row_by_row(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A function registered without a numpy kernel runs its scalar form on each row."""
        native = _functions.FUNCTIONS["add_days"]
        assert native.vectorised
        assert "add_days" in VECTORISED_FUNCTIONS
        monkeypatch.setitem(_functions._REGISTRY, "add_days", attrs.evolve(native, kernel=None))
        assert not _functions.FUNCTIONS["add_days"].vectorised
        assert _kernels.kernel_of("add_days") is _kernels.rowwise
        day = dt.date(2026, 12, 30)
        records = rows(d=[day, None, dt.date(2031, 2, 28)], n=[3, 1, 1])
        assert values(call("add_days", fact("d"), fact("n")), records) == [
            dt.date(2027, 1, 2),
            None,
            dt.date(2031, 3, 1),
        ]

    def test_unknown_expression_node(self) -> None:
        """An expression class batches do not know is refused when compiling."""

        class Shout(Expr):
            __slots__ = ()

            def source(self, names: Any) -> str:
                return "True"

            def render(self) -> str:
                return "shout"

        with pytest.raises(RuleDefinitionError, match=r"rule 'when'.*Shout"):
            compile_table(single_rule(Shout()))


# ---------------------------------------------------------------- the return pipeline


class TestReturnPipeline:
    """decide_returns_columns / decide_returns_batch."""

    def test_columns_and_records(self) -> None:
        """Outcome columns are codes, bools, tuples and ordinals; records decode them."""
        case = _a_signed_return()
        batch = decide_returns_batch([(case.order, case.request, case.at), case])
        columns = batch.columns()
        assert columns["action"].dtype == np.int8
        assert columns["freight_payer"].dtype == np.int8
        assert columns["refund_due"].dtype == np.int64
        assert columns["eligible"].dtype == bool
        decision = returns.decide_return(case.order, case.request, at=case.at)
        record = batch.records()[0]
        assert record["action"] == decision.action == Action.NORMAL_RETURN
        assert record["freight_payer"] == decision.freight_payer == FreightPayer.CUSTOMER
        assert record["refund_due"] == decision.refund_due
        assert columns["action"][1] == enum_code(Action.NORMAL_RETURN)
        assert batch.duties is None

    def test_request_dates_are_required(self) -> None:
        """request_date picks the parameters: it must be there, on every row."""
        with pytest.raises(DomainValueError, match="request_date"):
            decide_returns_columns({"status": np.zeros(1, dtype=np.int8)})
        columns = facts_frame([returns.return_facts(*_triple(_a_signed_return()))])
        columns["request_date"] = np.array([NULL_INT], dtype=np.int64)
        with pytest.raises(DomainValueError, match="every row"):
            decide_returns_columns(columns)

    def test_no_cases(self) -> None:
        """An empty batch of domain objects is refused; empty columns give empty results."""
        with pytest.raises(DomainValueError, match="at least one case"):
            decide_returns_batch([])
        columns = facts_frame([returns.return_facts(*_triple(_a_signed_return()))])
        empty = {name: column[:0] for name, column in columns.items()}
        assert len(decide_returns_columns(empty)) == 0


def _triple(case: ReturnCase) -> tuple[Any, Any, Any]:
    return case.order, case.request, case.at


def _a_signed_return() -> ReturnCase:
    from csrules import Condition, Order, OrderLine, ReturnRequest

    t = pendulum.datetime
    order = Order(
        id="X1",
        customer_id="C1",
        status="signed",
        lines=[OrderLine("8892", Decimal("200.00"), 1, category="apparel")],
        placed_at=t(2026, 4, 28, 10, tz="Asia/Shanghai"),
        paid_at=t(2026, 4, 28, 10, 5, tz="Asia/Shanghai"),
        shipped_at=t(2026, 4, 29, 10, tz="Asia/Shanghai"),
        signed_at=t(2026, 4, 30, 10, tz="Asia/Shanghai"),
    )
    condition = Condition(
        tag_intact=True,
        unwashed=True,
        undamaged=True,
        delivery_note_complete=True,
        order_number_given=True,
        delivery_note_number_given=True,
    )
    request = ReturnRequest(
        type="return",
        reason="changed_mind",
        condition=condition,
        proof_submitted_at=t(2026, 5, 2, 9, tz="Asia/Shanghai"),
    )
    return ReturnCase(
        id="R1", at=t(2026, 5, 2, 9, tz="Asia/Shanghai"), order=order, request=request
    )
