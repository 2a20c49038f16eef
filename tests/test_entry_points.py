"""The public entry points refuse bad input plainly, and their decisions travel.

- A case decided before an event it depends on is invalid input (DomainValueError).
- Naive times are refused (DomainValueError naming the argument), wrong types are a
  TypeError naming the argument (ArgumentTypeError), never an AttributeError.
- A date before a parameter takes effect is a PolicyError for every kind of case.
- Decisions pickle (round trip equal) and hash, so a process pool can return them.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings

import csrules
from csrules import (
    Complaint,
    ComplaintCase,
    Condition,
    Order,
    OrderLine,
    PriceAdjustmentCase,
    PriceAdjustmentRequest,
    Promotion,
    PromotionCase,
    ReturnCase,
    ReturnRequest,
    decide,
    decide_complaint,
    decide_price_adjustment,
    decide_promotion,
    decide_return,
)
from csrules.cli import decide_lines
from csrules.exceptions import ArgumentTypeError, DomainValueError, PolicyError
from csrules.io import case_to_json
from csrules.policy import default_policy, load_policy
from csrules.rules import Rule, fact
from csrules.rules.returns import RETURN_ACTION, RETURN_TABLES
from csrules.stream import EscalationMonitor
from csrules.testing import cases

SHANGHAI = "Asia/Shanghai"
B2C = default_policy()
TAOBAO = load_policy("taobao")


def at(day: str, hour: int = 10, minute: int = 0) -> pendulum.DateTime:
    y, m, d = (int(part) for part in day.split("-"))
    return pendulum.datetime(y, m, d, hour, minute, tz=SHANGHAI)


GOOD = Condition(True, True, True, True, True, True)


def signed_order(signed: str = "2026-05-03") -> Order:
    """Placed and paid 30 April, shipped 1 May, signed on ``signed`` at 15:00."""
    return Order(
        id="X1",
        customer_id="C1",
        status="signed",
        lines=[OrderLine(sku="8892", unit_price="200.00", quantity=1)],
        placed_at=at("2026-04-30", 9),
        paid_at=at("2026-04-30", 10),
        shipped_at=at("2026-05-01", 9),
        signed_at=at(signed, 15),
    )


RETURN = ReturnRequest("return", "changed_mind", condition=GOOD)
PROMOTION = Promotion("May sale", at("2026-05-10", 0), at("2026-05-20", 23))
ADJUSTMENT = PriceAdjustmentRequest(PROMOTION, paid=True, customer_paid_total=0, requested_amount=0)


def complaint(received: pendulum.DateTime, delivered: pendulum.DateTime | None = None) -> Complaint:
    return Complaint("k1", "C1", received, "phone", "service", delivered_at=delivered)


def line_of(case: Any) -> str:
    return json.dumps(case_to_json(case), ensure_ascii=False)


def error_of(case: Any) -> dict[str, Any]:
    (result,) = decide_lines([line_of(case)])
    assert "error" in result, result
    error = result["error"]
    assert isinstance(error, dict)
    return error


# ================================================= decided before the event


class TestDecidedBeforeTheEvent:
    def test_a_return_asked_before_the_order_was_signed_is_refused(self) -> None:
        """Asked 2 May, signed 3 May: not a normal return with a refund date, an error
        naming 'at', its value and the event it precedes."""
        with pytest.raises(DomainValueError) as raised:
            decide_return(signed_order(), RETURN, at=at("2026-05-02"))
        assert raised.value.field == "at"
        assert raised.value.value == at("2026-05-02")
        assert "order.signed_at" in raised.value.expected
        assert "2026-05-03T15:00:00+08:00" in str(raised.value)

    @pytest.mark.parametrize(
        ("when", "event"),
        [
            (at("2026-04-30", 8), "order.placed_at"),
            (at("2026-04-30", 9, 30), "order.paid_at"),
            (at("2026-05-01", 8), "order.shipped_at"),
            (at("2026-05-03", 14), "order.signed_at"),
        ],
    )
    def test_every_order_time_must_come_first(self, when: pendulum.DateTime, event: str) -> None:
        """Placed, paid, shipped and signed all precede a request about the order."""
        with pytest.raises(DomainValueError, match=event) as raised:
            decide_return(signed_order(), RETURN, at=when)
        assert raised.value.field == "at"

    def test_the_same_instant_is_not_before(self) -> None:
        """A request at the very minute of signing is decided."""
        decision = decide_return(signed_order(), RETURN, at=at("2026-05-03", 15))
        assert decision.refund_due is not None

    def test_through_the_cli_it_is_an_invalid_value(self) -> None:
        """CONTRACT: the error line has code invalid_value and names 'at'."""
        case = ReturnCase("r1", at("2026-05-02"), signed_order(), RETURN)
        error = error_of(case)
        assert error["code"] == "invalid_value"
        assert "'at'" in error["message"]
        assert "order.signed_at" in error["message"]

    def test_proof_and_goods_may_follow_the_request(self) -> None:
        """The B2C clock runs from the later of request and proof, the law's from the goods'
        return: both may come after the request, and count."""
        request = attrs.evolve(
            RETURN, proof_submitted_at=at("2026-05-06"), goods_received_at=at("2026-05-08")
        )
        decision = decide_return(signed_order(), request, at=at("2026-05-04"))
        assert decision.refund_due == dt.date(2026, 5, 14)  # 7, 8, 9 (Sat, worked), 11-14

    def test_goods_cannot_come_back_before_they_shipped(self) -> None:
        request = attrs.evolve(RETURN, goods_received_at=at("2026-04-30", 12))
        with pytest.raises(DomainValueError, match=r"order\.shipped_at") as raised:
            decide_return(signed_order(), request, at=at("2026-05-04"))
        assert raised.value.field == "request.goods_received_at"

    def test_proof_cannot_precede_the_order(self) -> None:
        request = attrs.evolve(RETURN, proof_submitted_at=at("2026-04-29"))
        with pytest.raises(DomainValueError, match=r"order\.placed_at") as raised:
            decide_return(signed_order(), request, at=at("2026-05-04"))
        assert raised.value.field == "request.proof_submitted_at"

    def test_the_batch_path_refuses_it_too(self) -> None:
        from csrules.batch import decide_returns_batch

        with pytest.raises(DomainValueError, match=r"order\.signed_at"):
            decide_returns_batch([(signed_order(), RETURN, at("2026-05-02"))])

    def test_a_complaint_received_before_delivery_is_refused(self) -> None:
        """A complaint depends on the delivery it mentions (B2C-8.7.2 counts days since)."""
        bad = complaint(at("2026-05-02"), delivered=at("2026-05-03"))
        with pytest.raises(DomainValueError, match=r"complaint\.delivered_at") as raised:
            decide_complaint(bad)
        assert raised.value.field == "complaint.received_at"
        assert error_of(ComplaintCase.of(bad))["code"] == "invalid_value"

    def test_a_refused_complaint_never_reaches_the_monitor(self) -> None:
        monitor = EscalationMonitor(B2C, backend="reference")
        decide(ComplaintCase.of(complaint(at("2026-05-01"))), monitor=monitor)
        before = monitor.snapshot()
        bad = complaint(at("2026-05-02"), delivered=at("2026-05-03"))
        with pytest.raises(DomainValueError):
            decide(ComplaintCase.of(bad), monitor=monitor)
        assert monitor.snapshot() == before

    def test_promotions_and_adjustments_have_no_prior_event(self) -> None:
        """A promotion is planned before it starts, and a price adjustment asked before
        the start is an answer of its own (B2C-7.11.1a): neither is refused."""
        early = at("2026-05-01")
        assert decide_promotion(PROMOTION, at=early).training_on == dt.date(2026, 5, 7)
        assert decide_price_adjustment(ADJUSTMENT, at=early).action.value == "refused"


# ================================================= argument types and zones

NAIVE = dt.datetime(2026, 5, 7, 20, 0)
AWARE = at("2026-05-07", 20)
COMPLAINT = complaint(AWARE)

#: Each public entry point with a valid call's arguments.
ENTRY_POINTS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "decide": (decide, {"case": ReturnCase("r1", AWARE, signed_order(), RETURN)}),
    "decide_return": (decide_return, {"order": signed_order(), "request": RETURN, "at": AWARE}),
    "decide_complaint": (decide_complaint, {"complaint": COMPLAINT}),
    "decide_promotion": (decide_promotion, {"promotion": PROMOTION, "at": AWARE}),
    "decide_price_adjustment": (decide_price_adjustment, {"request": ADJUSTMENT, "at": AWARE}),
}
#: Wrong values for each argument name.
WRONG: dict[str, tuple[object, ...]] = {
    "case": (object(), COMPLAINT, None),
    "order": ("X1", None),
    "request": (None, {"type": "return"}, RETURN),
    "complaint": (ComplaintCase.of(COMPLAINT), None),
    "promotion": ("May sale", None),
    "at": ("2026-05-07T20:00:00+08:00", dt.date(2026, 5, 7), 1778155200, None),
    "policy": ("b2c", object()),
    "case_id": (5,),
    "tables": (RETURN_ACTION, (RETURN_ACTION,), "tables"),
    "stream": (5,),
    "monitor": (object(),),
}
#: Optional arguments each entry point takes besides the required ones.
OPTIONAL: dict[str, tuple[str, ...]] = {
    "decide": ("policy", "monitor"),
    "decide_return": ("policy", "case_id", "tables"),
    "decide_complaint": ("policy", "case_id", "tables", "stream"),
    "decide_promotion": ("policy", "case_id", "tables"),
    "decide_price_adjustment": ("policy", "case_id", "tables"),
}


def _wrong_calls() -> list[Any]:
    calls = []
    for name, (_, valid) in ENTRY_POINTS.items():
        for argument in (*valid, *OPTIONAL[name]):
            for value in WRONG[argument]:
                if name == "decide_return" and value is RETURN:
                    continue  # a ReturnRequest is right there
                calls.append(pytest.param(name, argument, value, id=f"{name}-{argument}-{value!r}"))
    return calls


@pytest.mark.parametrize(("name", "argument", "value"), _wrong_calls())
def test_a_wrong_type_is_a_type_error_naming_the_argument(
    name: str, argument: str, value: object
) -> None:
    """Every argument of every entry point: a TypeError (ArgumentTypeError, a csrules
    error) whose message names the argument and the type expected."""
    function, valid = ENTRY_POINTS[name]
    kwargs = {**valid, argument: value}
    if name == "decide" and argument == "monitor":
        kwargs["case"] = ComplaintCase.of(COMPLAINT)
    with pytest.raises(ArgumentTypeError) as raised:
        function(**kwargs)
    assert isinstance(raised.value, TypeError)
    assert isinstance(raised.value, csrules.exceptions.CsrulesError)
    assert raised.value.argument == argument
    assert f"argument '{argument}' must be" in str(raised.value)


@pytest.mark.parametrize("name", [n for n, (_, valid) in ENTRY_POINTS.items() if "at" in valid])
def test_a_naive_time_is_refused_naming_the_argument(name: str) -> None:
    """decide_return(order, req, at=datetime(2026, 5, 7, 20, 0)) is not read as UTC."""
    function, valid = ENTRY_POINTS[name]
    with pytest.raises(DomainValueError) as raised:
        function(**{**valid, "at": NAIVE})
    assert raised.value.field == "at"
    assert "time-zone aware" in str(raised.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda t: ReturnCase("r1", t, signed_order(), RETURN),
        lambda t: ComplaintCase("k1", t, complaint(AWARE)),
        lambda t: PromotionCase("p1", t, PROMOTION),
        lambda t: PriceAdjustmentCase("a1", t, ADJUSTMENT),
        lambda t: complaint(t),
        lambda t: Promotion("May sale", t, at("2026-05-20")),
    ],
    ids=["return", "complaint", "promotion", "price_adjustment", "Complaint", "Promotion"],
)
def test_cases_and_domain_objects_refuse_naive_times(build: Callable[[Any], object]) -> None:
    """The exported classes that take times refuse a naive one, naming the field."""
    with pytest.raises(DomainValueError, match="time-zone aware"):
        build(NAIVE)


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_valid_calls_still_decide(name: str) -> None:
    function, valid = ENTRY_POINTS[name]
    assert function(**valid).rules


# ================================================= before the policy starts

EARLY = at("2009-06-01")


def _early_cases() -> dict[str, Any]:
    placed = at("2009-05-20")
    order = Order(
        id="X1",
        customer_id="C1",
        status="paid_unshipped",
        lines=[OrderLine(sku="1", unit_price="10.00", quantity=1)],
        placed_at=placed,
        paid_at=placed.add(hours=1),
    )
    promotion = Promotion("Early", at("2009-06-10"), at("2009-06-20"))
    return {
        "return": ReturnCase("r1", EARLY, order, ReturnRequest("cancel", "changed_mind")),
        "complaint": ComplaintCase.of(Complaint("k1", "C1", EARLY, "phone", "service")),
        "promotion": PromotionCase("p1", EARLY, promotion),
        "price_adjustment": PriceAdjustmentCase(
            "a1", EARLY, PriceAdjustmentRequest(promotion, True, 0, 0)
        ),
    }


@pytest.mark.parametrize("kind", ["return", "complaint", "promotion", "price_adjustment"])
def test_a_date_before_the_policy_starts_is_a_policy_error(kind: str) -> None:
    """Every kind: a PolicyError naming a parameter and the date, and the CLI code
    'policy' (not 'undecidable')."""
    case = _early_cases()[kind]
    with pytest.raises(PolicyError, match="no value in force on 2009-06-01") as raised:
        decide(case)
    assert raised.value.key in B2C.parameters
    assert "2010-04-01" in str(raised.value)
    assert error_of(case)["code"] == "policy"


def test_a_return_before_the_law_needs_the_laws_parameters() -> None:
    """The no-reason parameters take effect 2014-03-15: a no-reason return in 2012 names
    them; a cancellation of a paid order, which does not read them, is decided."""
    order = signed_order()
    day = at("2012-05-10")
    early = attrs.evolve(
        order,
        placed_at=day.subtract(days=5),
        paid_at=day.subtract(days=5),
        shipped_at=day.subtract(days=4),
        signed_at=day.subtract(days=1),
    )
    with pytest.raises(PolicyError, match="2014-03-15") as raised:
        decide_return(early, RETURN, at=at("2012-05-10"))
    assert raised.value.key.startswith("no_reason")
    placed = at("2012-05-01")
    unshipped = Order(
        id="X2",
        customer_id="C1",
        status="paid_unshipped",
        lines=[OrderLine(sku="1", unit_price="10.00", quantity=1)],
        placed_at=placed,
        paid_at=placed.add(hours=1),
    )
    decision = decide_return(
        unshipped, ReturnRequest("cancel", "changed_mind"), at=at("2012-05-10")
    )
    assert decision.action.value == "cancel_paid"


# ================================================= pickling and hashing


def _round_trip(decision: Any) -> Any:
    loaded = pickle.loads(pickle.dumps(decision))
    assert loaded == decision
    assert not (loaded != decision)  # noqa: SIM202
    assert hash(loaded) == hash(decision)
    assert loaded.rules == decision.rules
    assert loaded.explanation("zh") == decision.explanation("zh")
    assert loaded.parameters == decision.parameters
    assert loaded.estimated == decision.estimated
    return loaded


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_every_decision_pickles_and_hashes(case: Any) -> None:
    """All four kinds, under the default and the Taobao policy."""
    for policy in (B2C, TAOBAO):
        try:
            decision = decide(case, policy=policy)
        except DomainValueError:
            return  # a signed return without its condition: an input error
        _round_trip(decision)
        assert decision in {decision}


def test_a_decision_of_a_custom_table_pickles() -> None:
    """A table a shop swapped in travels by its definition and is compiled again."""
    rule = Rule(
        "B2C-7.4.3",
        fact("request_type") == "return",
        {"action": "abnormal_return", "eligible": True, "approvals": ()},
        en="Every return is abnormal here.",
        zh="所有退货均为非正常退货。",
        id="always_abnormal",
    )
    custom = RETURN_ACTION.replace_rule("closed_order", rule)
    tables = (custom, *RETURN_TABLES[1:])
    decision = decide_return(signed_order(), RETURN, at=AWARE, tables=tables)
    loaded = _round_trip(decision)
    assert loaded.trace.results[0].table is not custom
    assert loaded.trace.results[0].table.name == custom.name


def test_decisions_come_back_from_a_process_pool() -> None:
    """A process pool returns decisions (they are pickled on the way back)."""
    batch: list[csrules.Case] = [
        ReturnCase("r1", AWARE, signed_order(), RETURN),
        ComplaintCase.of(COMPLAINT),
        PromotionCase("p1", AWARE, PROMOTION),
        PriceAdjustmentCase("a1", AWARE, ADJUSTMENT),
    ]
    with ProcessPoolExecutor(max_workers=1) as pool:
        decisions = list(pool.map(decide, batch))
    assert decisions == [decide(case) for case in batch]
    assert len(set(decisions)) == 4
