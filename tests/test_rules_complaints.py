"""Tests of csrules.rules.complaints: routing, reply deadlines, escalations, duties."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pendulum import DateTime

from csrules._calendar import SHANGHAI
from csrules._decision import ComplaintDecision, Escalation
from csrules._domain import Channel, Complaint, Department, Topic
from csrules.exceptions import NoRuleMatchedError
from csrules.policy import Policy, default_policy
from csrules.rules import Rule, call, fact, param
from csrules.rules._expr import Const
from csrules.rules.complaints import (
    COMPLAINT_DUTIES,
    COMPLAINT_ESCALATION,
    COMPLAINT_REPLY,
    COMPLAINT_ROUTE,
    COMPLAINT_TABLES,
    FINANCE_TOPICS,
    OPERATIONS_CATALOGUE_TOPICS,
    OPERATIONS_FAULT_TOPICS,
    TECHNOLOGY_TOPICS,
    complaint_facts,
    decide_complaint,
)
from csrules.testing import complaints

B2C = default_policy()
CS_HEAD = Escalation.CS_HEAD
GM = Escalation.GENERAL_MANAGER
EVERY_CHANNEL = B2C.with_values("2010-04-01", cs_head_walk_in_only=False)
CUSTOMER_SERVICE_TOPICS = (
    Topic.NOT_RECEIVED,
    Topic.SERVICE,
    Topic.REFUND_PROGRESS,
    Topic.SHIPPING_STATUS,
)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> DateTime:
    """An Asia/Shanghai time from its local date and time of day."""
    return pendulum.datetime(year, month, day, hour, minute, tz="Asia/Shanghai")


def make(**changes: Any) -> Complaint:
    """A plain phone complaint on Wednesday 2026-05-06 10:00, changed as given."""
    values: dict[str, Any] = {
        "id": "c1",
        "customer_id": "C1",
        "received_at": sh(2026, 5, 6, 10),
        "channel": Channel.PHONE,
        "topic": Topic.PRODUCT_DEFECT,
        "order_amount": None,
        "customer_paid_total": "0.00",
        "contact_count": 1,
        "delivered_at": None,
    }
    values.update(changes)
    return Complaint(**values)


def decide(
    policy: Policy = B2C, stream: tuple[object, ...] = (), **changes: Any
) -> ComplaintDecision:
    """Decide the complaint :func:`make` builds."""
    return decide_complaint(make(**changes), policy=policy, stream=stream)


def fired_ids(decision: ComplaintDecision) -> list[str]:
    """Ids of every rule that fired, in order."""
    return [f.rule.id for f in decision.trace.fired]


@attrs.frozen
class StreamEscalation:
    """What an escalation monitor reports: an object with a ``clause``."""

    clause: str


def _clock_policies() -> list[Policy]:
    policies = []
    for finance in ("wall", "service"):
        for operations in ("wall", "service"):
            for technology in ("wall", "service"):
                policies.append(
                    B2C.with_values(
                        "2010-04-01",
                        finance_answer_clock=finance,
                        operations_answer_clock=operations,
                        technology_answer_clock=technology,
                    )
                )
    return policies


CLOCK_POLICIES = _clock_policies()


class TestFacts:
    def test_received_at_is_shanghai_time(self) -> None:
        """Every fact about time is in Asia/Shanghai, whatever zone the complaint came in."""
        complaint = make(received_at=pendulum.datetime(2026, 5, 6, 17, 30, tz="UTC"))
        facts = complaint_facts(complaint)
        assert facts["received_at"] == sh(2026, 5, 7, 1, 30)
        assert facts["received_at"].timezone_name == "Asia/Shanghai"
        assert facts["received_date"] == dt.date(2026, 5, 7)
        assert facts["local_time"] == dt.time(1, 30)

    def test_days_since_delivered_counts_shanghai_dates(self) -> None:
        """Days since delivery run from the local delivery date to the local received date."""
        complaint = make(
            received_at=sh(2026, 5, 9, 0, 10),
            delivered_at=pendulum.datetime(2026, 5, 1, 15, 50, tz="UTC"),  # 05-01 23:50 local
        )
        assert complaint_facts(complaint)["days_since_delivered"] == 8

    def test_days_since_delivered_is_none_without_delivery(self) -> None:
        """Without a delivery time there is no day count."""
        assert complaint_facts(make())["days_since_delivered"] is None

    def test_stream_facts_default_to_false(self) -> None:
        """The facts only the escalation monitor knows are false on their own."""
        facts = complaint_facts(make())
        assert facts["repeat_complaint"] is False
        assert facts["quality_reports_exceeded"] is False

    def test_money_and_counts_pass_through(self) -> None:
        """Amounts, the contact count, topic and channel are copied as they are."""
        facts = complaint_facts(make(order_amount="12.30", customer_paid_total="99.00"))
        assert facts["order_amount"] == Decimal("12.30")
        assert facts["customer_paid_total"] == Decimal("99.00")
        assert facts["contact_count"] == 1
        assert facts["topic"] is Topic.PRODUCT_DEFECT
        assert facts["channel"] is Channel.PHONE


class TestRoute:
    @pytest.mark.parametrize(
        ("topic", "department", "hours"),
        [
            *((t, Department.FINANCE, 2) for t in FINANCE_TOPICS),
            *((t, Department.OPERATIONS, 2) for t in OPERATIONS_CATALOGUE_TOPICS),
            *((t, Department.OPERATIONS, 4) for t in OPERATIONS_FAULT_TOPICS),
            *((t, Department.TECHNOLOGY, 24) for t in TECHNOLOGY_TOPICS),
        ],
    )
    def test_department_and_wall_clock_deadline(
        self, topic: Topic, department: Department, hours: int
    ) -> None:
        """B2C-5: Finance answers payment and order-total queries in 2 hours, Operations
        catalogue suggestions in 2 and product faults in 4, Technology system failures
        in 24; by default every hour counts."""
        decision = decide(topic=topic, received_at=sh(2026, 5, 6, 19))
        assert decision.route_to is department
        assert decision.answer_due == sh(2026, 5, 6, 19).add(hours=hours)
        assert decision.rules[0] == "B2C-5"

    def test_website_bug_goes_to_technology(self) -> None:
        """A website bug is a system failure: Technology answers within 24 hours."""
        decision = decide(topic=Topic.WEBSITE_BUG)
        assert decision.route_to is Department.TECHNOLOGY
        assert decision.answer_due == sh(2026, 5, 7, 10)

    def test_extra_or_wrong_items_go_to_operations(self) -> None:
        """Goods shipped not as ordered are a shipment fault: Operations answers in 4 hours."""
        decision = decide(topic=Topic.EXTRA_OR_WRONG_ITEMS)
        assert decision.route_to is Department.OPERATIONS
        assert decision.answer_due == sh(2026, 5, 6, 14)

    def test_finance_service_clock(self) -> None:
        """With Finance on the service clock only 8:30-20:00 counts: 2 hours from 19:00 end
        at 9:30 the next morning."""
        policy = B2C.with_values("2010-04-01", finance_answer_clock="service")
        decision = decide(policy, topic=Topic.PAYMENT_VERIFICATION, received_at=sh(2026, 5, 6, 19))
        assert decision.answer_due == sh(2026, 5, 7, 9, 30)
        assert "finance_service" in fired_ids(decision)

    def test_operations_service_clock(self) -> None:
        """Operations on the service clock: a product fault at 18:00 is answered by 10:30
        the next day (2 hours today, 2 hours from 8:30)."""
        policy = B2C.with_values("2010-04-01", operations_answer_clock="service")
        decision = decide(policy, topic=Topic.PRODUCT_DEFECT, received_at=sh(2026, 5, 6, 18))
        assert decision.answer_due == sh(2026, 5, 7, 10, 30)

    def test_operations_catalogue_service_clock(self) -> None:
        """Catalogue suggestions follow Operations' clock: 2 service hours from 23:00 end at
        10:30 the next morning."""
        policy = B2C.with_values("2010-04-01", operations_answer_clock="service")
        decision = decide(policy, topic=Topic.CATALOGUE_SUGGESTION, received_at=sh(2026, 5, 6, 23))
        assert decision.answer_due == sh(2026, 5, 7, 10, 30)

    def test_technology_service_clock(self) -> None:
        """Technology on the service clock: 24 service hours from 10:00 (11.5 hours a day)
        end at 11:00 two days later."""
        policy = B2C.with_values("2010-04-01", technology_answer_clock="service")
        decision = decide(policy, topic=Topic.CANNOT_PAY_ONLINE)
        assert decision.answer_due == sh(2026, 5, 8, 11)

    def test_one_clock_does_not_move_another(self) -> None:
        """Each department has its own clock: Finance on service hours leaves Technology
        on the wall clock."""
        policy = B2C.with_values("2010-04-01", finance_answer_clock="service")
        decision = decide(policy, topic=Topic.CANNOT_ORDER, received_at=sh(2026, 5, 6, 19))
        assert decision.answer_due == sh(2026, 5, 7, 19)

    @pytest.mark.parametrize(
        ("topic", "clause"),
        [
            (Topic.NOT_RECEIVED, "B2C-8.7.2"),
            (Topic.SERVICE, "JD-5"),
            (Topic.REFUND_PROGRESS, "B2C-7.15"),
            (Topic.SHIPPING_STATUS, "B2C-7.15"),
        ],
    )
    def test_customer_service_handles_itself(self, topic: Topic, clause: str) -> None:
        """Goods not received, service complaints, refund progress and shipping status stay
        with customer service: no department is asked, so there is no answer deadline."""
        decision = decide(topic=topic)
        assert decision.route_to is Department.CUSTOMER_SERVICE
        assert decision.answer_due is None
        assert decision.rules[0] == clause

    def test_unknown_clock_value_matches_no_rule(self) -> None:
        """A clock that is neither 'wall' nor 'service' is a policy error, not a silent guess."""
        facts = complaint_facts(make(topic=Topic.ORDER_TOTAL_QUERY))
        params = dict(B2C.resolve(facts["received_date"]).values, finance_answer_clock="other")
        with pytest.raises(NoRuleMatchedError):
            COMPLAINT_ROUTE.evaluate(facts, params, B2C.calendar)


class TestReply:
    def test_in_hours_same_period(self) -> None:
        """B2C-8.3: a message in service hours is answered within the same period (by 20:00)."""
        decision = decide(channel=Channel.EMAIL, received_at=sh(2026, 5, 6, 10))
        assert decision.reply_due == sh(2026, 5, 6, 20)
        assert "B2C-8.3" in decision.rules

    def test_opening_time_is_in_hours(self) -> None:
        """Service hours include the opening minute: 08:30 is answered by 20:00."""
        decision = decide(channel=Channel.MESSAGE, received_at=sh(2026, 5, 6, 8, 30))
        assert decision.reply_due == sh(2026, 5, 6, 20)

    def test_im_in_hours_thirty_minutes(self) -> None:
        """B2C-8.10: an IM message in service hours is answered within 30 minutes."""
        decision = decide(channel=Channel.IM, received_at=sh(2026, 5, 6, 10))
        assert decision.reply_due == sh(2026, 5, 6, 10, 30)
        assert "B2C-8.10" in decision.rules
        assert "B2C-8.3" not in decision.rules

    def test_im_just_before_closing_is_due_at_closing(self) -> None:
        """An IM message at 19:50 is answered within the same service period too: by 20:00,
        not 20:20."""
        decision = decide(channel=Channel.IM, received_at=sh(2026, 5, 6, 19, 50))
        assert decision.reply_due == sh(2026, 5, 6, 20)
        # the closing time set the deadline: B2C-8.3 is cited, not B2C-8.10
        assert "B2C-8.3" in decision.rules
        assert "B2C-8.10" not in decision.rules

    def test_im_thirty_minutes_before_closing_is_the_thirty_minute_rule(self) -> None:
        """At 19:30 the 30 minutes end at closing time: B2C-8.10 sets the deadline."""
        decision = decide(channel=Channel.IM, received_at=sh(2026, 5, 6, 19, 30))
        assert decision.reply_due == sh(2026, 5, 6, 20)
        assert "B2C-8.10" in decision.rules
        assert "B2C-8.3" not in decision.rules

    def test_early_morning_same_morning(self) -> None:
        """B2C-8.5: a message at 07:00, before opening, is answered by 10:00 the same morning
        (the next 10:00 after it)."""
        decision = decide(channel=Channel.EMAIL, received_at=sh(2026, 5, 6, 7))
        assert decision.reply_due == sh(2026, 5, 6, 10)
        assert "B2C-8.5" in decision.rules

    def test_evening_next_morning(self) -> None:
        """B2C-8.5: a message at 21:00 is answered by 10:00 the next day."""
        decision = decide(channel=Channel.PHONE, received_at=sh(2026, 5, 6, 21))
        assert decision.reply_due == sh(2026, 5, 7, 10)

    def test_closing_time_is_outside_hours(self) -> None:
        """Service closes at 20:00: a message at 20:00 exactly is answered by 10:00 next day."""
        decision = decide(channel=Channel.EMAIL, received_at=sh(2026, 5, 6, 20))
        assert decision.reply_due == sh(2026, 5, 7, 10)

    def test_im_outside_hours_next_morning(self) -> None:
        """The 30-minute IM reply holds only in service hours; at 23:00 the next 10:00 applies."""
        decision = decide(channel=Channel.IM, received_at=sh(2026, 5, 6, 23))
        assert decision.reply_due == sh(2026, 5, 7, 10)

    def test_weekend_is_staffed(self) -> None:
        """Service runs every day: a Sunday message at 11:00 is answered by 20:00 that day."""
        decision = decide(channel=Channel.EMAIL, received_at=sh(2026, 5, 10, 11))
        assert decision.reply_due == sh(2026, 5, 10, 20)

    def test_other_zone_is_converted(self) -> None:
        """A time given in UTC is judged by its Shanghai time: 13:30 UTC is 21:30 local."""
        decision = decide(received_at=pendulum.datetime(2026, 5, 6, 13, 30, tz="UTC"))
        assert decision.reply_due == sh(2026, 5, 7, 10)


class TestCsHead:
    @pytest.mark.parametrize(("total", "escalated"), [("5000.00", False), ("5000.01", True)])
    def test_paid_total_over_5000(self, total: str, escalated: bool) -> None:
        """B2C-7.16.3: a walk-in customer whose historical paid total is over 5000 yuan goes
        to the customer-service head; exactly 5000 does not."""
        decision = decide(channel=Channel.WALK_IN, customer_paid_total=total)
        assert (CS_HEAD in decision.escalate_to) is escalated
        assert ("cs_head_paid_total" in fired_ids(decision)) is escalated

    @pytest.mark.parametrize(("count", "escalated"), [(1, False), (2, True), (3, True)])
    def test_two_or_more_contacts(self, count: int, escalated: bool) -> None:
        """B2C-7.16.3: a walk-in customer who has asked 2 or more times ('2次以上') goes to
        the customer-service head."""
        decision = decide(channel=Channel.WALK_IN, contact_count=count)
        assert (CS_HEAD in decision.escalate_to) is escalated

    @pytest.mark.parametrize(
        ("amount", "escalated"), [(None, False), ("1000.00", False), ("1000.01", True)]
    )
    def test_order_over_1000(self, amount: str | None, escalated: bool) -> None:
        """B2C-7.16.3: a walk-in customer whose order is over 1000 yuan goes to the
        customer-service head; exactly 1000, or no order, does not."""
        decision = decide(channel=Channel.WALK_IN, order_amount=amount)
        assert (CS_HEAD in decision.escalate_to) is escalated

    @pytest.mark.parametrize("channel", [c for c in Channel if c is not Channel.WALK_IN])
    def test_walk_in_only_by_default(self, channel: Channel) -> None:
        """By default B2C-7.16.3 (the handbook's rules for customers visiting in person)
        applies to walk-in customers only."""
        decision = decide(
            channel=channel, customer_paid_total="9000.00", contact_count=4, order_amount="2000"
        )
        assert CS_HEAD not in decision.escalate_to
        assert "B2C-7.16.3" not in decision.rules

    @pytest.mark.parametrize("channel", list(Channel))
    def test_every_channel_when_not_walk_in_only(self, channel: Channel) -> None:
        """With cs_head_walk_in_only false, the same criteria apply on every channel."""
        decision = decide(EVERY_CHANNEL, channel=channel, customer_paid_total="5000.01")
        assert decision.escalate_to == (CS_HEAD,)

    def test_listed_once_when_every_criterion_holds(self) -> None:
        """Each criterion is explained, but the customer-service head is listed once."""
        decision = decide(
            channel=Channel.WALK_IN,
            customer_paid_total="9000.00",
            contact_count=2,
            order_amount="1500.00",
        )
        assert decision.escalate_to == (CS_HEAD,)
        assert decision.rules.count("B2C-7.16.3") == 3
        assert [i for i in fired_ids(decision) if i.startswith("cs_head")] == [
            "cs_head_paid_total",
            "cs_head_contacts",
            "cs_head_order_amount",
        ]


class TestGeneralManager:
    @pytest.mark.parametrize(("days", "escalated"), [(7, False), (8, True)])
    def test_not_received_more_than_a_week(self, days: int, escalated: bool) -> None:
        """B2C-8.7.2: goods reported not received although delivered more than a week ago
        (8 days or more) go to the general manager; 7 days ago does not."""
        received = sh(2026, 5, 9, 10)
        decision = decide(
            topic=Topic.NOT_RECEIVED,
            received_at=received,
            delivered_at=received.subtract(days=days).set(hour=23, minute=59),
        )
        assert (GM in decision.escalate_to) is escalated
        assert ("B2C-8.7.2" in decision.rules[1:]) is escalated

    def test_not_received_without_delivery_time(self) -> None:
        """Without a delivery time nothing shows the goods left a week ago: no escalation."""
        assert decide(topic=Topic.NOT_RECEIVED).escalate_to == ()

    def test_late_delivery_of_another_topic(self) -> None:
        """The week counts only for 'not received' complaints."""
        decision = decide(topic=Topic.PRODUCT_DEFECT, delivered_at=sh(2026, 4, 1))
        assert decision.escalate_to == ()

    def test_website_bug(self) -> None:
        """B2C-8.7.3: a bug in the website goes to the general manager."""
        decision = decide(topic=Topic.WEBSITE_BUG)
        assert decision.escalate_to == (GM,)
        assert "B2C-8.7.3" in decision.rules

    def test_extra_or_wrong_items(self) -> None:
        """B2C-8.7.4: extra goods or goods not in the order go to the general manager."""
        decision = decide(topic=Topic.EXTRA_OR_WRONG_ITEMS)
        assert decision.escalate_to == (GM,)
        assert "B2C-8.7.4" in decision.rules

    def test_repeat_complaint_from_stream(self) -> None:
        """B2C-8.7.1: when the monitor reports a second complaint about the same department
        or staff member, the general manager is told."""
        decision = decide(stream=(StreamEscalation("B2C-8.7.1"),))
        assert decision.escalate_to == (GM,)
        assert "B2C-8.7.1" in decision.rules

    def test_quality_reports_from_stream(self) -> None:
        """B2C-8.7.5: when the monitor reports more than 3 customers with a quality problem
        on one product, the general manager is told."""
        decision = decide(stream=(StreamEscalation("B2C-8.7.5"),))
        assert decision.escalate_to == (GM,)
        assert "B2C-8.7.5" in decision.rules

    def test_stream_of_other_clauses_is_ignored(self) -> None:
        """Only the two stream clauses set facts; anything else the monitor reports is ignored."""
        decision = decide(stream=(StreamEscalation("B2C-8.7.3"), object()))
        assert decision.escalate_to == ()

    def test_listed_once_after_cs_head(self) -> None:
        """Several reasons give one general-manager entry, listed after the cs head."""
        decision = decide(
            channel=Channel.WALK_IN,
            topic=Topic.WEBSITE_BUG,
            contact_count=2,
            stream=(StreamEscalation("B2C-8.7.5"), StreamEscalation("B2C-8.7.1")),
        )
        assert decision.escalate_to == (CS_HEAD, GM)

    def test_no_escalation(self) -> None:
        """A first complaint about a product defect escalates to nobody."""
        assert decide().escalate_to == ()


class TestDuties:
    def test_shipping_status_email(self) -> None:
        """B2C-7.15: a shipping-status enquiry gets an e-mail within 4 hours of learning the
        details (SMS without e-mail, phone without mobile)."""
        decision = decide(topic=Topic.SHIPPING_STATUS)
        assert "email_shipping_status" in decision.duties
        assert any("within 4 hours" in line for line in decision.explanation())

    def test_refund_progress_sms(self) -> None:
        """B2C-7.15: a refund-progress enquiry gets an SMS 24-48 hours after learning the
        progress (phone without mobile)."""
        decision = decide(topic=Topic.REFUND_PROGRESS)
        assert "sms_refund_progress" in decision.duties
        assert any("24-48 hours" in line for line in decision.explanation())

    @pytest.mark.parametrize(
        ("count", "duty"),
        [
            (1, "record_and_agree_callback_time"),
            (2, "greet_by_name_review_history"),
            (3, "review_full_history_before_callback"),
            (4, "review_full_history_before_callback"),
        ],
    )
    def test_repeat_callers(self, count: int, duty: str) -> None:
        """JD-2.3: a first contact is recorded and a callback time agreed; the second is
        greeted by name after reviewing the history; from the third on the agent reviews
        the full history before calling back."""
        decision = decide(contact_count=count)
        jd = {
            "record_and_agree_callback_time",
            "greet_by_name_review_history",
            "review_full_history_before_callback",
        }
        assert [d for d in decision.duties if d in jd] == [duty]

    def test_callback_within_three_days(self) -> None:
        """JD-5: every complaint gets a callback within 3 days."""
        decision = decide(topic=Topic.ORDER_TOTAL_QUERY)
        assert "callback_within_days" in decision.duties
        assert "JD-5" in decision.rules

    @pytest.mark.parametrize(
        "topic",
        [
            Topic.PRODUCT_DEFECT,
            Topic.SIZE_NOT_AS_LABELLED,
            Topic.COLOUR_DIFFERENCE,
            Topic.DAMAGED_GOODS,
        ],
    )
    def test_quality_problem_to_person_responsible(self, topic: Topic) -> None:
        """JD-5: a quality problem goes to the person responsible for it."""
        assert "quality_problem_to_person_responsible" in decide(topic=topic).duties

    def test_service_problem_to_supervisor(self) -> None:
        """JD-5: a service problem goes to the service agent or supervisor."""
        duties = decide(topic=Topic.SERVICE).duties
        assert "service_problem_to_agent_or_supervisor" in duties
        assert "quality_problem_to_person_responsible" not in duties

    def test_every_complaint_is_logged(self) -> None:
        """B2C-8.7: every complaint goes in the daily complaint log, due at 17:00."""
        decision = decide(topic=Topic.CATALOGUE_SUGGESTION)
        assert "log_complaint" in decision.duties
        assert any("by 17:00" in line for line in decision.explanation())
        assert "send_log_to_general_manager" not in decision.duties

    def test_escalated_log_goes_to_general_manager(self) -> None:
        """B2C-8.7: an escalated complaint's log goes to the general manager as well."""
        decision = decide(topic=Topic.WEBSITE_BUG)
        assert decision.duties[-2:] == ("log_complaint", "send_log_to_general_manager")


class TestDecision:
    def test_case_id_defaults_to_complaint_id(self) -> None:
        """The decision echoes the complaint's id unless a case id is given."""
        assert decide_complaint(make()).case_id == "c1"
        assert decide_complaint(make(), case_id="X9").case_id == "X9"

    def test_times_are_pendulum_in_shanghai(self) -> None:
        """Deadlines are pendulum times in Asia/Shanghai, whatever zone came in."""
        decision = decide(
            topic=Topic.PAYMENT_VERIFICATION,
            received_at=pendulum.datetime(2026, 5, 6, 2, tz="UTC"),
        )
        assert decision.answer_due is not None
        for due in (decision.answer_due, decision.reply_due):
            assert isinstance(due, DateTime)
            assert due.timezone_name == "Asia/Shanghai"

    def test_not_estimated(self) -> None:
        """Service hours run every day, so no working-day estimate is involved."""
        assert decide(received_at=sh(2099, 5, 6, 10)).estimated is False

    def test_rules_in_table_order(self) -> None:
        """Clause IDs come in table order: route, reply, escalation, duties."""
        decision = decide(channel=Channel.IM, topic=Topic.WEBSITE_BUG)
        assert decision.rules == (
            "B2C-5",
            "B2C-8.10",
            "B2C-8.7.3",
            "JD-2.3",
            "JD-5",
            "B2C-8.7",
            "B2C-8.7",
        )

    def test_chinese_explanation(self) -> None:
        """Explanations are available in Chinese, with values filled in."""
        lines = decide(topic=Topic.PAYMENT_VERIFICATION).explanation("zh")
        assert lines[0] == (
            "财务类问题(payment_verification):转交财务部,2小时内反馈(按自然小时计),"
            "即2026-05-06T12:00+08:00前。"
        )

    def test_parameters_used_are_reported(self) -> None:
        """The decision lists the parameters its rules used, with their values."""
        used = {
            p.name: p.value for p in decide(channel=Channel.WALK_IN, contact_count=2).parameters
        }
        assert used["cs_head_contact_count"] == 2
        assert used["cs_head_walk_in_only"] is True

    def test_swapped_table(self) -> None:
        """A shop can swap in its own rules: here the IM reply is plain received + 30 minutes,
        even past closing time."""
        in_hours = (param("service_opens") <= fact("local_time")) & (
            fact("local_time") < param("service_closes")
        )
        plain = Rule(
            "B2C-8.10",
            in_hours & (fact("channel") == Channel.IM),
            {"reply_due": call("add_minutes", fact("received_at"), param("im_away_reply_minutes"))},
            en="IM: reply within {im_away_reply_minutes} minutes, by {reply_due}.",
            zh="在线客服:{im_away_reply_minutes}分钟内回复,即{reply_due}前。",
            id="im_in_hours",
        )
        reply = COMPLAINT_REPLY.replace_rule("im_in_hours", plain)
        tables = (COMPLAINT_ROUTE, reply, COMPLAINT_ESCALATION, COMPLAINT_DUTIES)
        complaint = make(channel=Channel.IM, received_at=sh(2026, 5, 6, 19, 50))
        decision = decide_complaint(complaint, tables=tables)
        assert decision.reply_due == sh(2026, 5, 6, 20, 20)
        assert (
            decision.explanation()[1] == "IM: reply within 30 minutes, by 2026-05-06T20:20+08:00."
        )


class TestTableDefinitions:
    def test_no_literal_thresholds(self) -> None:
        """Every number a condition compares against is a policy parameter."""
        for table in COMPLAINT_TABLES:
            for rule in table.rules:
                for node in rule.when.walk():
                    if isinstance(node, Const):
                        value = node.value
                        assert isinstance(value, bool | str) or value is None, (
                            table.name,
                            rule.id,
                            value,
                        )

    def test_rule_ids_are_named(self) -> None:
        """Every rule has a meaningful id, not just its clause."""
        for table in COMPLAINT_TABLES:
            for rule in table.rules:
                assert rule.id != rule.clause

    def test_clauses_cited(self) -> None:
        """The rule set cites exactly these clauses."""
        clauses = {r.clause for t in COMPLAINT_TABLES for r in t.rules}
        assert clauses == {
            "B2C-5",
            "B2C-7.15",
            "B2C-7.16.3",
            "B2C-8.3",
            "B2C-8.5",
            "B2C-8.7",
            "B2C-8.7.1",
            "B2C-8.7.2",
            "B2C-8.7.3",
            "B2C-8.7.4",
            "B2C-8.7.5",
            "B2C-8.10",
            "JD-2.3",
            "JD-5",
        }

    def test_parameters_exist_in_b2c(self) -> None:
        """Every parameter the tables read is defined by the bundled policy."""
        for table in COMPLAINT_TABLES:
            assert table.params() <= set(B2C.parameters), table.name

    def test_every_topic_routed(self) -> None:
        """The topic groups and the customer-service topics cover every topic exactly once."""
        groups = [
            *FINANCE_TOPICS,
            *OPERATIONS_CATALOGUE_TOPICS,
            *OPERATIONS_FAULT_TOPICS,
            *TECHNOLOGY_TOPICS,
            *CUSTOMER_SERVICE_TOPICS,
        ]
        assert sorted(groups) == sorted(Topic)


# ---------------------------------------------------------------- properties


def _raise(complaint: Complaint, paid: Decimal, contacts: int, amount: Decimal) -> Complaint:
    order_amount = amount if complaint.order_amount is None else complaint.order_amount + amount
    return attrs.evolve(
        complaint,
        customer_paid_total=complaint.customer_paid_total + paid,
        contact_count=complaint.contact_count + contacts,
        order_amount=order_amount,
    )


def _outcome(decision: ComplaintDecision) -> tuple[object, ...]:
    return (
        decision.case_id,
        decision.route_to,
        decision.answer_due,
        decision.reply_due,
        decision.escalate_to,
        decision.duties,
        decision.rules,
        decision.explanation("en"),
        decision.explanation("zh"),
    )


class TestProperties:
    @given(complaints(), st.sampled_from(CLOCK_POLICIES))
    def test_route_table_total_and_exclusive(self, complaint: Complaint, policy: Policy) -> None:
        """Under any combination of clocks, exactly one routing rule matches every complaint."""
        facts = complaint_facts(complaint)
        params = policy.resolve(facts["received_date"]).values
        assert len(COMPLAINT_ROUTE.matches(facts, params, policy.calendar)) == 1

    @given(complaints(), st.sampled_from(CLOCK_POLICIES))
    def test_deadlines_never_before_received(self, complaint: Complaint, policy: Policy) -> None:
        """The department's answer and the reply are never due before the complaint came in;
        the reply is always due after it."""
        decision = decide_complaint(complaint, policy=policy)
        if decision.answer_due is not None:
            assert decision.answer_due >= complaint.received_at
        assert decision.reply_due > complaint.received_at

    @given(complaints())
    def test_reply_within_a_day(self, complaint: Complaint) -> None:
        """No reply waits more than the gap from closing to the next 10:00 (14 hours)."""
        decision = decide_complaint(complaint)
        assert decision.reply_due - complaint.received_at <= dt.timedelta(hours=14)
        assert decision.reply_due.timezone_name == SHANGHAI.name

    @given(complaints(), st.sampled_from(CLOCK_POLICIES))
    def test_deterministic(self, complaint: Complaint, policy: Policy) -> None:
        """The same complaint under the same policy always gets the same decision."""
        first = decide_complaint(complaint, policy=policy)
        second = decide_complaint(complaint, policy=policy)
        assert _outcome(first) == _outcome(second)

    @given(
        complaints(),
        st.sampled_from([B2C, EVERY_CHANNEL]),
        st.decimals(0, 10_000, places=2),
        st.integers(0, 3),
        st.decimals(0, 10_000, places=2),
    )
    def test_raising_amounts_keeps_cs_head(
        self, complaint: Complaint, policy: Policy, paid: Decimal, contacts: int, amount: Decimal
    ) -> None:
        """Raising the paid total, the contact count or the order amount never takes the
        customer-service head away."""
        before = decide_complaint(complaint, policy=policy)
        after = decide_complaint(_raise(complaint, paid, contacts, amount), policy=policy)
        if CS_HEAD in before.escalate_to:
            assert CS_HEAD in after.escalate_to

    @given(complaints(), st.sampled_from(CLOCK_POLICIES))
    def test_explanations_filled(self, complaint: Complaint, policy: Policy) -> None:
        """Every explanation line has its fields filled, in both languages."""
        decision = decide_complaint(complaint, policy=policy)
        for lang in ("en", "zh"):
            for line in decision.explanation(lang):
                assert "{" not in line
                assert "}" not in line
        assert len(decision.explanation("zh")) == len(decision.rules)

    @given(complaints())
    def test_escalations_unique_and_ordered(self, complaint: Complaint) -> None:
        """Each escalation appears at most once, the cs head before the general manager."""
        escalate_to = decide_complaint(complaint, policy=EVERY_CHANNEL).escalate_to
        assert list(escalate_to) == [e for e in Escalation if e in escalate_to]
