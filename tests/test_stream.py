"""Tests of csrules.stream: the escalation monitor (B2C-8.7.1, B2C-8.7.5) and its backends."""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csrules import Complaint, Department, Topic
from csrules._decision import Escalation
from csrules.exceptions import PolicyError, StreamError
from csrules.policy import Policy, default_policy
from csrules.stream import (
    QUALITY_TOPICS,
    EscalationMonitor,
    StreamEscalation,
    StreamReason,
    available_backends,
)
from csrules.stream._facts import epoch_us, local_day, shanghai_date
from csrules.stream._monitor import MAX_TEXT_LENGTH
from csrules.testing import aware_datetimes, complaints

BACKENDS = ("reference", "durable")
HAS_DURABLE = "durable" in available_backends()
needs_durable = pytest.mark.skipif(not HAS_DURABLE, reason="durable-rules cannot be imported")

SH = pendulum.timezone("Asia/Shanghai")
T0 = pendulum.datetime(2026, 5, 1, 9, 0, tz=SH)
DAY = dt.timedelta(days=1)
POLICY = default_policy()
# From 2026-06-01: 10-day repeat window, 5-day quality window, more than 1 customer.
SHIFTED = POLICY.with_values(
    "2026-06-01",
    repeat_complaint_window_days=10,
    quality_window_days=5,
    quality_reporters_threshold=1,
)


def complaint(
    cid: str,
    customer: str,
    at: dt.datetime,
    *,
    topic: str = "service",
    sku: str | None = None,
    dept: str | None = None,
    staff: str | None = None,
) -> Complaint:
    """A complaint with just the fields the stream rules read."""
    return Complaint(
        id=cid,
        customer_id=customer,
        received_at=at,
        channel="phone",
        topic=topic,
        sku=sku,
        about_department=dept,
        about_staff=staff,
    )


def defect(cid: str, customer: str, at: dt.datetime, sku: str = "8892") -> Complaint:
    """A quality report (product_defect) on ``sku``."""
    return complaint(cid, customer, at, topic="product_defect", sku=sku)


def feed(
    monitor: EscalationMonitor, stream: Sequence[Complaint]
) -> list[tuple[StreamEscalation, ...]]:
    """What the monitor returns for each complaint of the stream."""
    return [monitor.observe(c) for c in stream]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn (durable-rules only where it can be imported)."""
    if request.param == "durable" and not HAS_DURABLE:
        pytest.skip("durable-rules cannot be imported")
    name: str = request.param
    return name


@pytest.fixture
def monitor(backend: str) -> Iterator[EscalationMonitor]:
    """A monitor on the bundled policy with the backend under test."""
    with EscalationMonitor(backend=backend) as made:  # type: ignore[arg-type]
        yield made


# ------------------------------------------------------------------ B2C-8.7.1


class TestRepeatComplaints:
    """B2C-8.7.1: the same customer complaining twice about the same department
    or staff member goes to the general manager at once. "Twice" reaches back
    30 days (``repeat_complaint_window_days``), counted from the new complaint.
    """

    def test_second_complaint_about_the_same_department_escalates(
        self, monitor: EscalationMonitor
    ) -> None:
        """The second complaint escalates, names the first, and goes to the general manager."""
        first = complaint("c1", "C1", T0, dept="operations")
        second = complaint("c2", "C1", T0 + 3 * DAY, dept="operations")
        assert monitor.observe(first) == ()
        (escalation,) = monitor.observe(second)
        assert escalation.clause == "B2C-8.7.1"
        assert escalation.reason == "same_department"
        assert escalation.reason is StreamReason.SAME_DEPARTMENT
        assert escalation.subject == "operations"
        assert escalation.complaint_id == "c2"
        assert escalation.customer_id == "C1"
        assert escalation.related == ("c1",)
        assert escalation.at == second.received_at
        assert escalation.escalate_to is Escalation.GENERAL_MANAGER
        assert (escalation.count, escalation.window_days) == (2, 30)

    def test_second_complaint_about_the_same_staff_member_escalates(
        self, monitor: EscalationMonitor
    ) -> None:
        """The same staff member twice escalates with reason same_staff."""
        feed(monitor, [complaint("c1", "C1", T0, staff="A017")])
        (escalation,) = monitor.observe(complaint("c2", "C1", T0 + DAY, staff="A017"))
        assert (escalation.reason, escalation.subject, escalation.related) == (
            "same_staff",
            "A017",
            ("c1",),
        )

    def test_a_complaint_matching_on_department_and_staff_escalates_for_each(
        self, monitor: EscalationMonitor
    ) -> None:
        """Department and staff both repeated: one escalation per reason, department first."""
        feed(monitor, [complaint("c1", "C1", T0, dept="finance", staff="B002")])
        found = monitor.observe(complaint("c2", "C1", T0 + DAY, dept="finance", staff="B002"))
        assert [e.reason for e in found] == ["same_department", "same_staff"]

    def test_a_third_complaint_escalates_again_naming_both_earlier_ones(
        self, monitor: EscalationMonitor
    ) -> None:
        """Every further complaint in the window escalates again, naming all earlier ones."""
        stream = [complaint(f"c{i}", "C1", T0 + i * DAY, dept="technology") for i in range(3)]
        results = feed(monitor, stream)
        assert results[0] == ()
        assert [e.related for e in results[1]] == [("c0",)]
        assert [(e.related, e.count) for e in results[2]] == [(("c0", "c1"), 3)]

    def test_a_first_complaint_does_not_escalate(self, monitor: EscalationMonitor) -> None:
        """One complaint alone is not "twice"."""
        assert monitor.observe(complaint("c1", "C1", T0, dept="operations", staff="A017")) == ()

    @pytest.mark.parametrize(
        ("earlier", "later"),
        [
            ({"dept": "operations"}, {"dept": "finance"}),
            ({"staff": "A017"}, {"staff": "B002"}),
            ({"dept": "operations"}, {"staff": "A017"}),
            ({}, {}),
        ],
        ids=["other-department", "other-staff", "department-then-staff", "neither-named"],
    )
    def test_different_subjects_do_not_escalate(
        self, monitor: EscalationMonitor, earlier: dict[str, str], later: dict[str, str]
    ) -> None:
        """Both complaints must name the same department, or the same staff member."""
        feed(monitor, [complaint("c1", "C1", T0, **earlier)])
        assert monitor.observe(complaint("c2", "C1", T0 + DAY, **later)) == ()

    def test_another_customer_does_not_count(self, monitor: EscalationMonitor) -> None:
        """Complaints by different customers about one department are not a repeat."""
        feed(monitor, [complaint("c1", "C1", T0, dept="operations")])
        assert monitor.observe(complaint("c2", "C2", T0 + DAY, dept="operations")) == ()

    def test_the_window_includes_exactly_thirty_days_and_not_a_microsecond_more(
        self, backend: str
    ) -> None:
        """An earlier complaint counts when received at most 30 x 24 hours before."""
        first = complaint("c1", "C1", T0, dept="operations")
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            feed(monitor, [first])
            assert monitor.observe(complaint("c2", "C1", T0 + 30 * DAY, dept="operations"))
        late = T0 + 30 * DAY + dt.timedelta(microseconds=1)
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            feed(monitor, [first])
            assert monitor.observe(complaint("c2", "C1", late, dept="operations")) == ()

    def test_complaints_at_the_same_instant_count(self, monitor: EscalationMonitor) -> None:
        """Two complaints received at the same time: the one observed second escalates."""
        feed(monitor, [complaint("c1", "C1", T0, dept="operations")])
        utc_same_instant = T0.in_timezone("UTC")
        found = monitor.observe(complaint("c2", "C1", utc_same_instant, dept="operations"))
        assert [e.related for e in found] == [("c1",)]

    def test_the_window_is_the_one_in_force_on_the_new_complaints_date(self, backend: str) -> None:
        """A window shortened from 2026-06-01 applies to complaints from that date on."""
        before = pendulum.datetime(2026, 5, 20, 12, tz=SH)
        with EscalationMonitor(SHIFTED, backend=backend) as monitor:  # type: ignore[arg-type]
            feed(monitor, [complaint("c1", "C1", before, dept="operations")])
            # 12 days later, on 2026-06-01: the 10-day window is in force.
            late = complaint("c2", "C1", before + 12 * DAY, dept="operations")
            assert monitor.observe(late) == ()
            (escalation,) = monitor.observe(
                complaint("c3", "C1", before + 13 * DAY, dept="operations")
            )
            assert (escalation.related, escalation.window_days) == (("c2",), 10)


# ------------------------------------------------------------------ B2C-8.7.5


class TestQualityReports:
    """B2C-8.7.5: more than 3 different customers reporting a quality problem
    with the same product within 30 days goes to the general manager: the 4th
    different customer escalates, and so does each further new one. A
    customer who already reported the product counts once.
    """

    def test_the_fourth_different_customer_escalates(self, monitor: EscalationMonitor) -> None:
        """Three customers do not escalate; the fourth does, naming the three earlier reports."""
        reports = [defect(f"q{i}", f"C{i}", T0 + i * DAY) for i in range(4)]
        results = feed(monitor, reports)
        assert results[:3] == [(), (), ()]
        (escalation,) = results[3]
        assert escalation.clause == "B2C-8.7.5"
        assert (escalation.reason, escalation.subject) == ("quality_reports", "8892")
        assert escalation.related == ("q0", "q1", "q2")
        assert (escalation.count, escalation.window_days) == (4, 30)
        assert escalation.customer_id == "C3"
        assert escalation.escalate_to is Escalation.GENERAL_MANAGER

    def test_repeats_by_one_customer_do_not_count_twice(self, monitor: EscalationMonitor) -> None:
        """C0 reporting twice is one customer: C0, C0, C1, C2 are three; C3 is the fourth."""
        customers = ["C0", "C0", "C1", "C2", "C3"]
        reports = [defect(f"q{i}", c, T0 + i * DAY) for i, c in enumerate(customers)]
        results = feed(monitor, reports)
        assert results[:4] == [(), (), (), ()]
        assert [(e.count, e.related) for e in results[4]] == [(4, ("q0", "q1", "q2", "q3"))]

    def test_a_counted_customer_reporting_again_does_not_escalate(
        self, monitor: EscalationMonitor
    ) -> None:
        """After the fourth customer, a repeat by an already counted customer is not new."""
        feed(monitor, [defect(f"q{i}", f"C{i}", T0 + i * DAY) for i in range(4)])
        assert monitor.observe(defect("q9", "C1", T0 + 5 * DAY)) == ()

    def test_each_further_new_customer_escalates_again(self, monitor: EscalationMonitor) -> None:
        """The fifth different customer escalates too, with a count of 5."""
        results = feed(monitor, [defect(f"q{i}", f"C{i}", T0 + i * DAY) for i in range(5)])
        assert [e.count for e in results[4]] == [5]

    @pytest.mark.parametrize("topic", sorted(QUALITY_TOPICS))
    def test_every_quality_topic_counts(self, monitor: EscalationMonitor, topic: Topic) -> None:
        """product_defect, size_not_as_labelled, colour_difference, damaged_goods all count."""
        stream = [complaint(f"q{i}", f"C{i}", T0, topic=topic, sku="8892") for i in range(4)]
        assert feed(monitor, stream)[3]

    def test_a_complaint_without_a_sku_never_counts(self, monitor: EscalationMonitor) -> None:
        """Without a SKU a report cannot be tied to a product."""
        feed(monitor, [defect(f"q{i}", f"C{i}", T0) for i in range(3)])
        no_sku = complaint("q3", "C3", T0, topic="product_defect")
        assert monitor.observe(no_sku) == ()
        assert monitor.observe(defect("q4", "C4", T0))  # the fourth with a SKU

    def test_other_topics_do_not_count(self, monitor: EscalationMonitor) -> None:
        """A late-delivery or service complaint naming the product is not a quality report."""
        feed(monitor, [defect(f"q{i}", f"C{i}", T0) for i in range(3)])
        for i, topic in enumerate(["not_received", "service", "wrong_quantity"]):
            assert monitor.observe(complaint(f"o{i}", f"D{i}", T0, topic=topic, sku="8892")) == ()

    def test_products_are_counted_separately(self, monitor: EscalationMonitor) -> None:
        """Four customers on four different products is nothing."""
        stream = [defect(f"q{i}", f"C{i}", T0, sku=f"S{i}") for i in range(4)]
        assert feed(monitor, stream) == [(), (), (), ()]

    def test_reports_older_than_the_window_do_not_count(self, monitor: EscalationMonitor) -> None:
        """Reports more than 30 days before the new one are out of the count."""
        feed(monitor, [defect("q0", "C0", T0)])
        feed(monitor, [defect(f"q{i}", f"C{i}", T0 + 20 * DAY) for i in (1, 2)])
        assert monitor.observe(defect("q3", "C3", T0 + 31 * DAY)) == ()
        assert monitor.observe(defect("q4", "C4", T0 + 32 * DAY))

    def test_the_threshold_is_the_one_in_force_on_the_reports_date(self, backend: str) -> None:
        """With "more than 1" from 2026-06-01, the second customer escalates from that date."""
        may = pendulum.datetime(2026, 5, 30, 12, tz=SH)
        with EscalationMonitor(SHIFTED, backend=backend) as monitor:  # type: ignore[arg-type]
            assert feed(monitor, [defect("q0", "C0", may), defect("q1", "C1", may)]) == [(), ()]
            (escalation,) = monitor.observe(defect("q2", "C2", may + 2 * DAY))
            assert (escalation.count, escalation.window_days) == (3, 5)


# ------------------------------------------------------------------ order


class TestLateArrivals:
    """Complaints may arrive out of order of received_at (a service sees jitter;
    ``csrules decide`` feeds them in file order). A complaint is correlated with
    every complaint observed before it whose time is within the window of its
    own, before or after; the watermark (the latest time observed) decides what
    is still retained.
    """

    def test_a_late_complaint_correlates_with_a_later_one_observed_before_it(
        self, monitor: EscalationMonitor
    ) -> None:
        """c1 arrives after c2 but was received a day earlier: c1 is the repeat."""
        assert monitor.observe(complaint("c2", "C1", T0 + DAY, dept="operations")) == ()
        (escalation,) = monitor.observe(complaint("c1", "C1", T0, dept="operations"))
        assert (escalation.complaint_id, escalation.related) == ("c1", ("c2",))
        assert (escalation.count, escalation.at) == (2, T0)

    def test_the_window_reaches_forward_exactly_thirty_days(self, backend: str) -> None:
        """A complaint observed earlier counts when received at most 30 x 24 hours after."""
        later = complaint("c2", "C1", T0 + 30 * DAY, dept="operations")
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            feed(monitor, [later])
            assert monitor.observe(complaint("c1", "C1", T0, dept="operations"))
        early = T0 - dt.timedelta(microseconds=1)
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            feed(monitor, [later])
            assert monitor.observe(complaint("c1", "C1", early, dept="operations")) == ()

    def test_related_complaints_are_in_arrival_order(self, monitor: EscalationMonitor) -> None:
        """ "Earlier complaints" are those observed before, listed as they arrived."""
        feed(
            monitor,
            [
                complaint("c3", "C1", T0 + 3 * DAY, staff="A017"),
                complaint("c1", "C1", T0 + DAY, staff="A017"),
            ],
        )
        (escalation,) = monitor.observe(complaint("c2", "C1", T0 + 2 * DAY, staff="A017"))
        assert (escalation.related, escalation.count) == (("c3", "c1"), 3)

    def test_late_quality_reports_count_distinct_customers_in_the_window(
        self, monitor: EscalationMonitor
    ) -> None:
        """The 4th different customer escalates, whatever order the reports arrive in;
        a repeat by a counted customer neither escalates nor counts."""
        stream = [defect(f"q{i}", f"C{i}", T0 + (3 - i) * DAY) for i in range(3)]
        assert feed(monitor, stream) == [(), (), ()]
        assert monitor.observe(defect("r1", "C1", T0 - DAY)) == ()
        (escalation,) = monitor.observe(defect("q3", "C3", T0 - 2 * DAY))
        assert (escalation.count, escalation.related) == (4, ("q0", "q1", "q2", "r1"))
        assert monitor.observe(defect("r2", "C2", T0 - 3 * DAY)) == ()

    def test_a_late_report_counts_only_the_reports_within_its_window(
        self, monitor: EscalationMonitor
    ) -> None:
        """Reports more than 30 days after the late one are outside its window."""
        stream = [defect(f"q{i}", f"C{i}", T0 + 40 * DAY) for i in range(2)]
        stream += [defect("q2", "C2", T0 + 20 * DAY), defect("q3", "C3", T0 + 5 * DAY)]
        assert feed(monitor, stream) == [(), (), (), ()]
        # q3 was already older than the watermark minus 30 days: it was not kept.
        (escalation,) = monitor.observe(defect("q4", "C4", T0 + 15 * DAY))
        assert (escalation.count, escalation.related) == (4, ("q0", "q1", "q2"))

    def test_a_late_complaint_does_not_move_the_watermark(self, monitor: EscalationMonitor) -> None:
        """Escalations stay open by the latest time observed, not by the last complaint."""
        feed(monitor, [complaint(f"c{i}", "C1", T0 + i * DAY, dept="finance") for i in range(2)])
        monitor.observe(complaint("x", "C9", T0 + 31 * DAY))
        monitor.observe(complaint("y", "C9", T0))
        assert [e.complaint_id for e in monitor.open_escalations()] == ["c1"]
        monitor.observe(complaint("z", "C9", T0 + 31 * DAY + dt.timedelta(seconds=1)))
        assert monitor.open_escalations() == ()

    def test_a_late_escalation_already_past_its_window_is_not_open(
        self, monitor: EscalationMonitor
    ) -> None:
        """Escalated by a late complaint whose window ended before the watermark: closed."""
        feed(monitor, [complaint("c1", "C1", T0, dept="finance")])
        feed(monitor, [complaint("x", "C9", T0 + 29 * DAY)])
        (escalation,) = monitor.observe(complaint("c0", "C1", T0 - 2 * DAY, dept="finance"))
        assert escalation.related == ("c1",)
        assert monitor.open_escalations() == ()

    def test_records_older_than_the_watermark_minus_the_window_are_forgotten(
        self, monitor: EscalationMonitor
    ) -> None:
        """A very late complaint misses records the watermark has left behind,
        but still correlates with those retained, and is itself observed."""
        feed(
            monitor,
            [
                complaint("c1", "C1", T0, dept="operations"),
                complaint("c2", "C1", T0 + 15 * DAY, dept="finance"),
                complaint("x", "C9", T0 + 40 * DAY),  # watermark: T0 + 40 days
            ],
        )
        # Within 30 days of c1, but c1 is more than 30 days older than the watermark.
        assert monitor.observe(complaint("c3", "C1", T0 + DAY, dept="operations")) == ()
        (escalation,) = monitor.observe(complaint("c4", "C1", T0 + 2 * DAY, dept="finance"))
        assert escalation.related == ("c2",)

    def test_too_late_counts_the_complaints_that_may_have_missed_a_forgotten_one(
        self, monitor: EscalationMonitor
    ) -> None:
        """Late complaints whose window reaches back past the retention, where
        complaints were observed, are counted (with the first id); late ones
        that lose nothing are not, nor is anything in order."""
        feed(monitor, [complaint(f"c{i}", "C1", T0 + i * DAY, dept="finance") for i in range(3)])
        monitor.observe(complaint("d0", "C2", T0 + DAY, dept="operations"))  # a day late
        assert monitor.too_late == (0, None)
        feed(monitor, [complaint("x", "C9", T0 + 40 * DAY, staff="A1")])  # the watermark jumps
        assert monitor.too_late == (0, None)
        # c0..c2 are more than 30 days older than the watermark: forgotten
        assert monitor.observe(complaint("c3", "C1", T0 + 3 * DAY, dept="finance")) == ()
        assert monitor.observe(complaint("c4", "C1", T0 + 4 * DAY, dept="finance")) == ()
        assert monitor.too_late == (2, "c3")
        # within 30 days of the watermark's cut on both sides: nothing was lost
        monitor.observe(complaint("y", "C8", T0 + 39 * DAY, staff="A1"))
        assert monitor.too_late == (2, "c3")

    def test_too_late_is_nothing_when_nothing_was_observed_before_the_cut(
        self, monitor: EscalationMonitor
    ) -> None:
        """A late complaint after an unrelated far-later one loses nothing when no
        complaint was ever observed before the cut (the first of a batch)."""
        monitor.observe(complaint("x", "C9", T0 + 60 * DAY))  # no department: no record
        assert monitor.observe(complaint("c1", "C1", T0, dept="finance")) == ()
        assert monitor.too_late == (0, None)
        assert monitor.observe(complaint("c2", "C1", T0 + DAY, dept="finance")) == ()
        assert monitor.too_late == (1, "c2")

    def test_what_the_watermark_left_behind_never_counts_again(
        self, monitor: EscalationMonitor
    ) -> None:
        """However long a record stays in memory (here behind one observed before it),
        once it is more than 30 days older than the watermark it no longer counts."""
        feed(
            monitor,
            [
                complaint("h", "C2", T0 + 20 * DAY, dept="finance"),
                complaint("r", "C1", T0 + DAY, dept="operations"),  # late, kept
                complaint("x", "C9", T0 + 35 * DAY),  # watermark: r is left behind
            ],
        )
        assert monitor.observe(complaint("y", "C1", T0 + 2 * DAY, dept="operations")) == ()
        (escalation,) = monitor.observe(complaint("z", "C2", T0 + 10 * DAY, dept="finance"))
        assert escalation.related == ("h",)

    def test_the_cut_is_exactly_thirty_days_before_the_watermark(
        self, monitor: EscalationMonitor
    ) -> None:
        """A record exactly 30 days older than the watermark still counts; a microsecond
        more and it does not, even before it is dropped from memory."""
        feed(monitor, [complaint("r", "C1", T0, dept="operations")])
        feed(monitor, [complaint("x", "C9", T0 + 30 * DAY)])
        assert monitor.observe(complaint("y", "C1", T0 - DAY, dept="operations"))
        feed(monitor, [complaint("x2", "C9", T0 + 30 * DAY + dt.timedelta(microseconds=1))])
        assert monitor.observe(complaint("z", "C1", T0 + DAY, dept="operations")) == ()

    def test_a_complaint_late_beyond_the_retention_is_correlated_but_not_kept(
        self, monitor: EscalationMonitor
    ) -> None:
        """Older than the watermark minus the window: it still finds what is retained,
        but no later complaint counts it."""
        feed(
            monitor,
            [
                complaint("c1", "C1", T0 + 12 * DAY, staff="A017"),
                complaint("x", "C9", T0 + 40 * DAY),
            ],
        )
        (escalation,) = monitor.observe(complaint("c0", "C1", T0 + 5 * DAY, staff="A017"))
        assert escalation.related == ("c1",)
        (again,) = monitor.observe(complaint("c2", "C1", T0 + 13 * DAY, staff="A017"))
        assert again.related == ("c1",)

    def test_memory_stays_bounded_when_the_watermark_jumps_ahead(self, backend: str) -> None:
        """One complaint dated far ahead: what follows is too late to be kept."""
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            monitor.observe(complaint("future", "C9", T0 + 3650 * DAY))
            for i in range(600):
                monitor.observe(
                    complaint(f"c{i}", "C1", T0 + i * dt.timedelta(minutes=1), dept="finance")
                )
            assert len(monitor._customer) == 0
            assert monitor.open_escalations() == ()

    def test_a_parameter_missing_on_the_date_raises_policy_error(
        self, monitor: EscalationMonitor
    ) -> None:
        """Before the policy's first dated value (2010-04-01) there is no window to apply."""
        with pytest.raises(PolicyError):
            monitor.observe(complaint("c0", "C1", pendulum.datetime(2009, 1, 1, tz=SH)))
        assert monitor.observe(complaint("c1", "C1", T0)) == ()


# ------------------------------------------------------------------ open escalations


class TestOpenEscalations:
    """An escalation stays open while its complaint is within the clause's window,
    counted back from the latest complaint observed; then it closes.
    """

    def test_escalations_stay_open_for_the_window(self, monitor: EscalationMonitor) -> None:
        """Open after 30 days, closed once the latest complaint is later than that."""
        feed(monitor, [complaint(f"c{i}", "C1", T0 + i * DAY, dept="finance") for i in range(2)])
        assert [e.complaint_id for e in monitor.open_escalations()] == ["c1"]
        monitor.observe(complaint("x", "C9", T0 + 31 * DAY))
        assert [e.complaint_id for e in monitor.open_escalations()] == ["c1"]
        monitor.observe(complaint("y", "C9", T0 + 31 * DAY + dt.timedelta(seconds=1)))
        assert monitor.open_escalations() == ()

    def test_only_the_latest_escalation_of_a_subject_stays_open(
        self, monitor: EscalationMonitor
    ) -> None:
        """Each further complaint about a subject replaces its open escalation."""
        stream = [complaint(f"c{i}", "C1", T0 + i * DAY, dept="finance") for i in range(5)]
        stream += [complaint("d1", "C2", T0, dept="finance")]
        stream += [complaint("d2", "C2", T0 + DAY, dept="finance")]
        feed(monitor, stream)
        ((escalation, _),) = [(e, 0) for e in monitor.open_escalations() if e.customer_id == "C1"]
        assert (escalation.complaint_id, escalation.count) == ("c4", 5)
        assert [e.complaint_id for e in monitor.open_escalations()] == ["c4", "d2"]

    def test_open_escalations_are_oldest_first(self, monitor: EscalationMonitor) -> None:
        """Both clauses, in the order they were raised."""
        stream = [defect(f"q{i}", f"C{i}", T0) for i in range(4)]
        stream += [complaint(f"c{i}", "C0", T0 + DAY, staff="A017") for i in range(2)]
        feed(monitor, stream)
        assert [e.complaint_id for e in monitor.open_escalations()] == ["q3", "c1"]


# ------------------------------------------------------------------ explanations


class TestExplanation:
    """Each escalation explains itself in English and Chinese, citing its clause."""

    def _escalation(self, reason: str, subject: str) -> StreamEscalation:
        return StreamEscalation(
            clause="B2C-8.7.5" if reason == "quality_reports" else "B2C-8.7.1",
            complaint_id="c9",
            customer_id="C1",
            reason=reason,
            subject=subject,
            related=("c1", "c2"),
            at=T0,
            count=3,
            window_days=30,
        )

    def test_english(self) -> None:
        """The English lines name the clause, subject, count, window and earlier complaints."""
        department = self._escalation("same_department", "operations").explanation("en")
        assert department == (
            "B2C-8.7.1: customer C1 has complained about the operations department 3 times "
            "within 30 days (earlier: c1, c2); report to the general manager at once."
        )
        staff = self._escalation("same_staff", "A017").explanation()
        assert "staff member A017 3 times" in staff
        quality = self._escalation("quality_reports", "8892").explanation("en")
        assert quality.startswith("B2C-8.7.5: 3 different customers have reported a quality")

    def test_chinese(self) -> None:
        """The Chinese lines say the same."""
        department = self._escalation("same_department", "operations").explanation("zh")
        assert department == (
            "B2C-8.7.1：顾客 C1 在 30 天内第 3 次投诉运营部（之前的投诉：c1、c2），立即上报总经理。"
        )
        assert "员工 A017" in self._escalation("same_staff", "A017").explanation("zh")
        quality = self._escalation("quality_reports", "8892").explanation("zh")
        assert "3 位不同顾客反映商品 8892 的质量问题" in quality

    def test_long_lists_of_earlier_complaints_are_shortened(self) -> None:
        """Only the first five earlier ids are spelt out."""
        many = attrs.evolve(
            self._escalation("quality_reports", "8892"), related=tuple(f"q{i}" for i in range(9))
        )
        assert "q0, q1, q2, q3, q4 and 4 more" in many.explanation("en")
        assert "q4 等 9 件" in many.explanation("zh")


# ------------------------------------------------------------------ streams for properties

_CUSTOMERS = ("C1", "C2", "C3", "C4", "C5")
_GAPS = st.sampled_from(
    [0, 0, 1, 3600, 86_400, 5 * 86_400, 29 * 86_400, 30 * 86_400, 30 * 86_400 + 1]
) | st.integers(0, 12 * 86_400)
_ZONES: st.SearchStrategy[Any] = st.sampled_from(
    [
        SH,
        pendulum.UTC,
        pendulum.timezone(9 * 3600),
        pendulum.timezone(-5 * 3600),
        pendulum.timezone("America/New_York"),  # daylight saving
    ]
)
_TOPICS = st.sampled_from(sorted(QUALITY_TOPICS)) | st.sampled_from(list(Topic))


@st.composite
def complaint_streams(
    draw: st.DrawFn, max_size: int = 30, *, late: bool = False
) -> list[Complaint]:
    """Complaints by a few customers about a few subjects, in order of time or not.

    Built on :func:`csrules.testing.complaints`, with customers, products,
    departments and staff drawn from small pools so that they correlate;
    gaps run from 0 (the same instant) to past the 30-day window. With
    ``late``, each complaint may arrive up to a drawn number of places later
    than its time says (none, a few, or anywhere), so streams range from in
    order through jittered to badly shuffled, with complaints late by more
    than a window. Ids (``k0``, ``k1``, ...) follow the order of time.
    """
    start = draw(aware_datetimes(max_value=pendulum.datetime(2027, 6, 1, tz=SH)))
    micros = start.int_timestamp * 1_000_000
    stream: list[Complaint] = []
    for i in range(draw(st.integers(0, max_size))):
        micros += draw(_GAPS) * 1_000_000 + draw(st.sampled_from([0, 0, 1, 250_000]))
        at = pendulum.from_timestamp(micros // 1_000_000, tz=draw(_ZONES)).add(
            microseconds=micros % 1_000_000
        )
        base = draw(complaints(id=f"k{i}", received_at=at))
        stream.append(
            attrs.evolve(
                base,
                customer_id=draw(st.sampled_from(_CUSTOMERS)),
                topic=draw(_TOPICS),
                sku=draw(st.sampled_from(("S1", "S1", "S2", None))),
                about_department=draw(st.none() | st.sampled_from([*Department, "logistics"])),
                about_staff=draw(st.none() | st.sampled_from(("A017", "B002"))),
            )
        )
    if late and stream:
        reach = draw(st.sampled_from([0, 1, 3, 8, len(stream)]))
        delays = draw(st.lists(st.integers(0, reach), min_size=len(stream), max_size=len(stream)))
        arrival = sorted(range(len(stream)), key=lambda i: i + delays[i])
        stream = [stream[i] for i in arrival]
    return stream


_POLICIES = st.sampled_from([POLICY, SHIFTED])
_LIMITS = st.sampled_from([1, 2, 3, 100])


class _UndecidableError(Exception):
    """Deciding a complaint failed after the monitor observed it."""


def _observe_then_fail(monitor: EscalationMonitor, *stream: Complaint) -> None:
    """Observe complaints in a transaction that then fails, as deciding one can."""
    with monitor.transaction():
        for c in stream:
            monitor.observe(c)
        raise _UndecidableError


def _lone_surrogate(c: Complaint) -> Complaint:
    return attrs.evolve(c, customer_id=c.customer_id + "\ud800")


def _too_long(c: Complaint) -> Complaint:
    return attrs.evolve(c, id="x" * (MAX_TEXT_LENGTH + 1))


def _bad_staff(c: Complaint) -> Complaint:
    return attrs.evolve(c, about_staff="\udfff", about_department=Department.FINANCE)


def _bad_sku(c: Complaint) -> Complaint:
    return attrs.evolve(c, topic=Topic.PRODUCT_DEFECT, sku="S" * (MAX_TEXT_LENGTH + 1))


_BAD_COMPLAINTS = st.sampled_from([_lone_surrogate, _too_long, _bad_staff, _bad_sku])
_ANY_ORDER = complaint_streams(late=True)


def _hourly_stream(n: int, *, hours: int, staff: str | None = None) -> list[Complaint]:
    """``n`` quality reports, one every ``hours`` hours from T0, over 7 customers
    and 3 SKUs, all about finance."""
    return [
        complaint(f"k{i}", f"C{i % 7}", T0 + i * dt.timedelta(hours=hours),
                  topic="product_defect", sku=f"S{i % 3}", dept="finance", staff=staff)
        for i in range(n)
    ]  # fmt: skip
_PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


class TestBackendsAgree:
    """The durable-rules backend and the reference backend give the same
    escalations, in the same order, for every stream of complaints, in order
    of time or not, and the same open escalations at the end; both give what
    the clauses say.
    """

    @needs_durable
    @_PROPERTY
    @given(stream=_ANY_ORDER, policy=_POLICIES, limit=_LIMITS)
    def test_durable_and_reference_give_identical_escalations(
        self, stream: list[Complaint], policy: Policy, limit: int
    ) -> None:
        """Identical results, complaint by complaint (``related`` cut to the same
        limit), identical open escalations and identical snapshots."""
        with (
            EscalationMonitor(policy, backend="reference", related_limit=limit) as reference,
            EscalationMonitor(policy, backend="durable", related_limit=limit) as durable,
        ):
            assert feed(durable, stream) == feed(reference, stream)
            assert durable.open_escalations() == reference.open_escalations()
            assert durable.snapshot() == reference.snapshot()

    @_PROPERTY
    @given(
        stream=_ANY_ORDER,
        policy=_POLICIES,
        bad=st.lists(st.tuples(st.integers(0, 30), _BAD_COMPLAINTS), max_size=4),
        backend=st.sampled_from(available_backends()),
    )
    def test_a_complaint_refused_changes_nothing(
        self,
        stream: list[Complaint],
        policy: Policy,
        bad: list[tuple[int, Any]],
        backend: str,
    ) -> None:
        """Refused complaints (bad texts) slipped in anywhere raise StreamError, and the
        monitor gives for the others exactly what it gives without them, down to its
        snapshot; so does a complaint observed in a transaction that then fails."""
        with (
            EscalationMonitor(policy, backend=backend) as clean,  # type: ignore[arg-type]
            EscalationMonitor(policy, backend=backend) as dirty,  # type: ignore[arg-type]
        ):
            expected = feed(clean, stream)
            inserts = dict(bad)
            got: list[tuple[StreamEscalation, ...]] = []
            for i, c in enumerate(stream):
                if i in inserts:
                    before = dirty.snapshot()
                    with pytest.raises(StreamError):
                        dirty.observe(inserts[i](c))
                    with pytest.raises(_UndecidableError):
                        _observe_then_fail(dirty, c)
                    assert dirty.snapshot() == before
                got.append(dirty.observe(c))
            assert got == expected
            assert dirty.snapshot() == clean.snapshot()

    @_PROPERTY
    @given(stream=_ANY_ORDER, policy=_POLICIES)
    def test_every_escalation_follows_the_clauses(
        self, stream: list[Complaint], policy: Policy
    ) -> None:
        """Each escalation is backed by complaints observed before it that satisfy its clause."""
        arrived = {c.id: i for i, c in enumerate(stream)}
        with EscalationMonitor(policy, backend="reference") as monitor:
            for i, (c, found) in enumerate(zip(stream, feed(monitor, stream), strict=True)):
                for e in found:
                    assert all(arrived[r] < i for r in e.related)
                    assert [arrived[r] for r in e.related] == sorted(arrived[r] for r in e.related)
                    _check_escalation(e, c, [stream[arrived[r]] for r in e.related], policy)

    @_PROPERTY
    @given(
        stream=_ANY_ORDER,
        policy=_POLICIES,
        backend=st.sampled_from(available_backends()),
        limit=_LIMITS,
    )
    def test_the_escalations_are_those_the_clauses_and_the_watermark_give(
        self, stream: list[Complaint], policy: Policy, backend: str, limit: int
    ) -> None:
        """The monitor gives exactly what a direct reading of the rules gives: every
        earlier-observed complaint within the window, unless the watermark had
        left it behind, ``related`` naming the latest ``limit`` of them; and the
        escalations still open at the end."""
        expected, still_open = _by_the_rules(stream, policy, limit)
        with EscalationMonitor(policy, backend=backend, related_limit=limit) as monitor:  # type: ignore[arg-type]
            assert [[_essence(e) for e in found] for found in feed(monitor, stream)] == expected
            assert [_essence(e) for e in monitor.open_escalations()] == still_open


_Essence = tuple[str, str, str, str, tuple[str, ...], int, int, int]


def _essence(e: StreamEscalation) -> _Essence:
    return (
        e.complaint_id,
        e.clause,
        e.reason.value,
        e.subject,
        e.related,
        e.count,
        e.window_days,
        e.related_total,
    )


def _named(matching: list[tuple[int, Complaint, int]], limit: int) -> tuple[str, ...]:
    """The ids ``related`` names: the latest ``limit`` by time (then arrival), in arrival order."""
    latest = sorted(matching, key=lambda m: (m[2], m[0]))[-limit:]
    return tuple(old.id for _, old, _ in sorted(latest, key=lambda m: m[0]))


def _largest_from(policy: Policy, on: dt.date) -> int:
    """The largest window, of either clause, in force on ``on`` or later (in days)."""
    values: list[int] = []
    for name in ("repeat_complaint_window_days", "quality_window_days"):
        values.append(policy.value(name, on))
        values += [v for since, v in policy.parameter(name).values if since > on]
    return max(values)


def _by_the_rules(
    stream: Sequence[Complaint], policy: Policy, limit: int = 100
) -> tuple[list[list[_Essence]], list[_Essence]]:
    """What the monitor should say for each complaint, and what is open at the end,
    computed by comparing every complaint with every one before it."""
    day_us = 86_400 * 1_000_000
    results: list[list[_Essence]] = []
    # The latest open escalation per (reason, customer, subject), in the order raised.
    opened: dict[tuple[str, str, str], tuple[int, _Essence]] = {}

    def open_(until: int, essence: _Essence, customer: str) -> None:
        if until >= watermark:  # a late one already past its window never opens
            key = (essence[2], customer, essence[3])
            opened.pop(key, None)
            opened[key] = (until, essence)

    kept: list[tuple[int, Complaint, int]] = []  # complaints retained when they arrived
    watermark = -(1 << 62)
    for arrival, new in enumerate(stream):
        ts = epoch_us(new.received_at)
        day = shanghai_date(ts)
        watermark = max(watermark, ts)
        cut = watermark - _largest_from(policy, shanghai_date(watermark)) * day_us
        repeat = policy.value("repeat_complaint_window_days", day)
        quality = policy.value("quality_window_days", day)
        threshold = policy.value("quality_reporters_threshold", day)
        sku = new.sku if new.topic in QUALITY_TOPICS else None
        seen = [(n, old, t) for n, old, t in kept if t >= cut]
        found: list[_Essence] = []
        for reason, field in (
            ("same_department", "about_department"),
            ("same_staff", "about_staff"),
        ):
            subject = getattr(new, field)
            matching = [
                (n, old, t)
                for n, old, t in seen
                if subject is not None
                and old.customer_id == new.customer_id
                and getattr(old, field) == subject
                and abs(t - ts) <= repeat * day_us
            ]
            if matching:
                essence = (
                    new.id,
                    "B2C-8.7.1",
                    reason,
                    str(subject),
                    _named(matching, limit),
                    len(matching) + 1,
                    repeat,
                    len(matching),
                )
                found.append(essence)
                open_(ts + repeat * day_us, essence, new.customer_id)
        if sku is not None:
            reports = [
                (n, old, t)
                for n, old, t in seen
                if old.sku == sku
                and old.topic in QUALITY_TOPICS
                and abs(t - ts) <= quality * day_us
            ]
            if all(old.customer_id != new.customer_id for _, old, _ in reports):
                customers = len({old.customer_id for _, old, _ in reports}) + 1
                if customers > threshold:
                    essence = (
                        new.id,
                        "B2C-8.7.5",
                        "quality_reports",
                        sku,
                        _named(reports, limit),
                        customers,
                        quality,
                        len(reports),
                    )
                    found.append(essence)
                    open_(ts + quality * day_us, essence, "")
        results.append(found)
        correlates = new.about_department is not None or new.about_staff is not None
        if (correlates or sku is not None) and ts >= cut:
            kept.append((arrival, new, ts))
    return results, [essence for until, essence in opened.values() if until >= watermark]


def _check_escalation(
    e: StreamEscalation, new: Complaint, related: list[Complaint], policy: Policy
) -> None:
    day = shanghai_date(epoch_us(new.received_at))
    assert e.complaint_id == new.id
    if e.clause == "B2C-8.7.1":
        window = dt.timedelta(days=policy.value("repeat_complaint_window_days", day))
        assert all(r.customer_id == new.customer_id for r in related)
        assert all(abs(new.received_at - r.received_at) <= window for r in related)
        field = "about_department" if e.reason == "same_department" else "about_staff"
        assert all(getattr(r, field) == getattr(new, field) == e.subject for r in related)
        assert e.count == len(related) + 1
    else:
        window = dt.timedelta(days=policy.value("quality_window_days", day))
        assert new.topic in QUALITY_TOPICS
        assert all(r.sku == new.sku == e.subject and r.topic in QUALITY_TOPICS for r in related)
        assert all(abs(new.received_at - r.received_at) <= window for r in related)
        customers = {r.customer_id for r in related}
        assert new.customer_id not in customers
        assert e.count == len(customers) + 1 > policy.value("quality_reporters_threshold", day)


# ------------------------------------------------------------------ snapshots


class TestSnapshotRestore:
    """A snapshot is plain JSON; a monitor restored from it, with either
    backend, goes on exactly as the monitor that never stopped.
    """

    @_PROPERTY
    @given(
        stream=_ANY_ORDER,
        policy=_POLICIES,
        cut=st.floats(0, 1),
        first=st.sampled_from(available_backends()),
        second=st.sampled_from(available_backends()),
    )
    def test_a_restored_monitor_gives_the_same_escalations_as_one_that_never_stopped(
        self, stream: list[Complaint], policy: Policy, cut: float, first: str, second: str
    ) -> None:
        """Cut the stream anywhere, snapshot, restore (through JSON text), and go on."""
        k = int(len(stream) * cut)
        with EscalationMonitor(policy, backend=first) as unbroken:  # type: ignore[arg-type]
            expected = feed(unbroken, stream)
            expected_open = unbroken.open_escalations()
        with EscalationMonitor(policy, backend=first) as before:  # type: ignore[arg-type]
            feed(before, stream[:k])
            text = json.dumps(before.snapshot())
        data = json.loads(text)
        with EscalationMonitor.restore(data, policy, backend=second) as after:  # type: ignore[arg-type]
            assert feed(after, stream[k:]) == expected[k:]
            assert after.open_escalations() == expected_open

    def test_the_snapshot_keeps_the_watermark(self, backend: str) -> None:
        """A restored monitor cuts late complaints at the same watermark: a record
        30 days and a minute older than the watermark (still in memory) no longer counts,
        and the snapshot leaves it out."""
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            feed(monitor, [complaint("c1", "C1", T0, dept="operations")])
            feed(monitor, [complaint("c9", "C9", T0 + 30 * DAY - DAY, dept="finance")])
            feed(monitor, [complaint("x", "C9", T0 + 30 * DAY + dt.timedelta(minutes=1))])
            data = json.loads(json.dumps(monitor.snapshot()))
        assert data["watermark"] == epoch_us(T0 + 30 * DAY + dt.timedelta(minutes=1))
        assert [r[2] for r in data["customer_scope"]] == ["c9"]
        with EscalationMonitor.restore(data, backend=backend) as restored:  # type: ignore[arg-type]
            late = complaint("c2", "C1", T0 + dt.timedelta(seconds=1), dept="operations")
            assert restored.observe(late) == ()

    def test_a_snapshot_of_the_first_format_is_read(self, backend: str) -> None:
        """Snapshots written before late complaints were accepted restore too: their
        last complaint's time is the watermark."""
        data = {
            "format": "csrules.stream.snapshot/1",
            "policy": "b2c",
            "seq": 1,
            "last": {"ts": epoch_us(T0), "complaint_id": "c1", "at": T0.isoformat()},
            "customer_scope": [[0, epoch_us(T0), "c1", "C1", "operations", None, None]],
            "product_scope": [],
            "open": [],
        }
        with EscalationMonitor.restore(data, backend=backend) as restored:  # type: ignore[arg-type]
            (escalation,) = restored.observe(complaint("c2", "C1", T0 - DAY, dept="operations"))
            assert escalation.related == ("c1",)
            assert restored.snapshot()["watermark"] == epoch_us(T0)

    def test_an_empty_monitor_round_trips(self, backend: str) -> None:
        """A snapshot taken before any complaint restores to an empty monitor."""
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            data = json.loads(json.dumps(monitor.snapshot()))
        with EscalationMonitor.restore(data, backend=backend) as restored:  # type: ignore[arg-type]
            assert restored.open_escalations() == ()
            assert restored.observe(complaint("c1", "C1", T0, dept="finance")) == ()

    @pytest.mark.parametrize(
        "data",
        [{}, {"format": "other"}, {"format": "csrules.stream.snapshot/2", "seq": "x"}],
        ids=["empty", "other-format", "bad-field"],
    )
    def test_something_else_is_refused(self, data: dict[str, Any]) -> None:
        """Data that is not a snapshot raises StreamError saying so."""
        with pytest.raises(StreamError, match=r"not a valid csrules\.stream snapshot"):
            EscalationMonitor.restore(data, backend="reference")


# ------------------------------------------------------------------ the monitor itself


class TestMonitor:
    """The monitor picks its backend, refuses work once closed, and serialises
    calls from several threads.
    """

    def test_auto_is_the_reference_backend(self) -> None:
        """ "auto" (the default) is the reference backend, the faster one, wherever
        durable-rules imports or not."""
        with EscalationMonitor() as monitor:
            assert monitor.backend_name == "reference"
        with EscalationMonitor(backend="auto") as monitor:
            assert monitor.backend_name == "reference"

    def test_auto_falls_back_to_the_reference_backend(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Where durable-rules cannot be imported (Python 3.13+), "auto" still works."""
        monkeypatch.delitem(sys.modules, "csrules.stream._durable", raising=False)
        monkeypatch.setitem(sys.modules, "durable", None)
        with EscalationMonitor(backend="auto") as monitor:
            assert monitor.backend_name == "reference"
        assert available_backends() == ("reference",)
        with pytest.raises(StreamError, match="needs durable-rules"):
            EscalationMonitor(backend="durable")

    def test_an_unknown_backend_is_refused(self) -> None:
        """The error names the backends there are."""
        with pytest.raises(StreamError, match="'auto', 'durable', 'reference'"):
            EscalationMonitor(backend="drools")  # type: ignore[arg-type]

    def test_a_closed_monitor_refuses_complaints(self, backend: str) -> None:
        """close() is idempotent; afterwards observe raises StreamError."""
        monitor = EscalationMonitor(backend=backend)  # type: ignore[arg-type]
        monitor.close()
        monitor.close()
        with pytest.raises(StreamError, match="closed"):
            monitor.observe(complaint("c1", "C1", T0))

    def test_observe_all_returns_every_escalation_in_order(
        self, monitor: EscalationMonitor
    ) -> None:
        """Replaying a log gives the escalations observe would, one after another."""
        stream = [defect(f"q{i}", f"C{i}", T0 + i * DAY) for i in range(5)]
        assert [e.complaint_id for e in monitor.observe_all(stream)] == ["q3", "q4"]

    def test_threads_may_share_a_monitor(self, backend: str) -> None:
        """Calls from several threads are serialised: each customer's repeat is found once."""
        errors: list[BaseException] = []
        found: list[StreamEscalation] = []
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]

            def work(customer: str) -> None:
                try:
                    for i in range(2):
                        found.extend(
                            monitor.observe(
                                complaint(f"{customer}-{i}", customer, T0, staff="A017")
                            )
                        )
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(f"C{i}",)) for i in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert errors == []
        assert sorted(e.complaint_id for e in found) == sorted(f"C{i}-1" for i in range(8))


# ------------------------------------------------------------------ durable-rules


class _Escaping(BaseException):
    """An error the action's own handler does not catch (durable-rules does)."""


class _ExplodingList(list[Any]):
    """A hit list whose append raises, standing in for a failing action."""

    def __init__(self, error: type[BaseException]) -> None:
        super().__init__()
        self.error = error

    def append(self, item: object) -> None:
        raise self.error("action failed")


def _durable_modules() -> tuple[Any, Any]:
    from durable import lang

    from csrules.stream import _durable

    return lang, _durable


@needs_durable
class TestDurableBackend:
    """The durable-rules backend hides durable-rules' quirks: a private host per
    monitor with no threads, bounded sids, facts retracted when they leave the
    window, engines reused, and failures reported as StreamError.
    """

    def test_rules_run_in_durable_rules(self) -> None:
        """The escalation comes from a durable-rules action, not from Python bookkeeping."""
        lang, durable_module = _durable_modules()
        with EscalationMonitor(backend="durable") as monitor:
            engine = _engine_of(monitor)
            seen: list[str] = []
            original = engine.host.assert_fact

            def spy(name: str, fact: dict[str, Any]) -> Any:
                seen.append(fact["cid"])
                return original(name, fact)

            engine.host.assert_fact = spy
            feed(monitor, [complaint(f"c{i}", "C1", T0, dept="finance") for i in range(2)])
            assert seen == ["c0", "c1"]
            assert durable_module.RULESET not in lang._rulesets

    def test_the_asserted_facts_are_those_the_fact_builders_describe(self) -> None:
        """The facts posted for a complaint are fact_of its record in each scope."""
        _, durable_module = _durable_modules()
        with EscalationMonitor(backend="durable") as monitor:
            engine = _engine_of(monitor)
            posted: list[dict[str, Any]] = []
            original = engine.host.assert_fact

            def spy(name: str, fact: dict[str, Any]) -> Any:
                posted.append(fact)
                return original(name, fact)

            engine.host.assert_fact = spy
            late = T0 - DAY
            feed(monitor, [complaint("c0", "C9", T0)])
            monitor.observe(
                complaint(
                    "c1", "C1", late, topic="damaged_goods", sku="S1", dept="finance", staff="A017"
                )
            )
            record = monitor._customer[0]
            assert record == monitor._product[0]
            ts, window = epoch_us(late), 30 * 86_400 * 1_000_000
            cut = epoch_us(T0) - window  # the watermark minus the window, after ts - window
            windows = [(cut, ts + window)] * 3
            assert posted == [
                durable_module.fact_of(record, monitor._plans, False, 0b111, windows),
                durable_module.fact_of(record, monitor._plans, True, 0b111, windows),
            ]
            # Each fact names the rules of its scope that consider it.
            assert (posted[0]["r0"], posted[0]["r1"], posted[1]["r2"]) == (1, 1, 1)
            assert "r2" not in posted[0]
            assert "r0" not in posted[1]

    def test_monitors_do_not_share_state(self) -> None:
        """Two monitors on durable-rules are independent (no global ruleset)."""
        with (
            EscalationMonitor(backend="durable") as one,
            EscalationMonitor(backend="durable") as two,
        ):
            one.observe(complaint("c1", "C1", T0, dept="finance"))
            assert two.observe(complaint("c2", "C1", T0, dept="finance")) == ()
            assert one.observe(complaint("c3", "C1", T0, dept="finance"))

    def test_monitors_start_no_threads(self) -> None:
        """durable-rules' host would start two polling threads; the private host starts none."""
        before = threading.active_count()
        monitors = [EscalationMonitor(backend="durable") for _ in range(3)]
        assert threading.active_count() == before
        for monitor in monitors:
            monitor.close()

    def test_sids_stay_bounded(self) -> None:
        """Thousands of customers and products share at most 2 x SLOTS sids (limit 1,024)."""
        _, durable_module = _durable_modules()
        with EscalationMonitor(backend="durable") as monitor:
            for i in range(3000):
                monitor.observe(
                    complaint(
                        f"c{i}", f"C{i}", T0, topic="damaged_goods", sku=f"S{i}", staff="A017"
                    )
                )
            sids = _engine_of(monitor).sids
            assert 2 * durable_module.SLOTS >= len(sids) > durable_module.SLOTS
            assert 2 * durable_module.SLOTS < 1024

    @pytest.mark.parametrize(
        ("error", "message"),
        [(RuntimeError, "action failed"), (_Escaping, "exception caught")],
        ids=["caught-by-the-action", "caught-by-durable-rules"],
    )
    def test_an_action_error_is_a_stream_error_and_changes_nothing(
        self, error: type[BaseException], message: str
    ) -> None:
        """A failing action raises StreamError; the complaint is not observed, the
        engine is replaced by a new one holding what the monitor retains, and the
        monitor goes on as if the complaint had never come."""
        _, durable_module = _durable_modules()
        with EscalationMonitor(backend="durable") as monitor:
            monitor.observe(complaint("c1", "C1", T0, dept="finance"))
            before = monitor.snapshot()
            engine = _engine_of(monitor)
            engine.hits = {rule: _ExplodingList(error) for rule in engine.hits}
            with pytest.raises(StreamError, match=message):
                monitor.observe(complaint("c2", "C1", T0 + DAY, dept="finance"))
            assert monitor.snapshot() == before
            assert _engine_of(monitor) is not engine
            (escalation,) = monitor.observe(complaint("c3", "C1", T0, dept="finance"))
            assert escalation.related == ("c1",)
        assert engine.broken
        assert engine not in durable_module._IDLE  # a broken engine is not reused

    def test_the_state_exception_key_surfaces(self) -> None:
        """If durable-rules reports an exception in the state, the call raises StreamError."""
        with EscalationMonitor(backend="durable") as monitor:
            engine = _engine_of(monitor)
            engine.host.assert_fact = lambda name, fact: {"sid": fact["sid"], "exception": "bad"}
            with pytest.raises(StreamError, match="bad"):
                monitor.observe(complaint("c1", "C1", T0, dept="finance"))

    def test_memory_stays_bounded_over_a_long_stream(self) -> None:
        """20,000 complaints over 200 days: old facts are retracted, live ones match the window."""
        _, durable_module = _durable_modules()
        stream = _long_stream(20_000, days=200)
        with (
            EscalationMonitor(backend="durable") as durable,
            EscalationMonitor(backend="reference") as reference,
        ):
            peak = 0
            for i, c in enumerate(stream):
                assert durable.observe(c) == reference.observe(c)
                if i % 2000 == 1999:
                    live = _engine_facts(durable, durable_module.RULESET)
                    tracked = len(durable._customer) + len(durable._product)
                    # Retractions are batched: at most one batch waits.
                    assert tracked <= live <= tracked + durable_module._RETRACT_BATCH
                    peak = max(peak, live)
            # 30 days of a 200-day stream (+ slack), not everything ever seen.
            assert peak < len(stream) * 40 / 200

    def test_closed_engines_are_emptied_and_reused(self) -> None:
        """Closing a monitor retracts its facts and hands its engine to the next one."""
        _, durable_module = _durable_modules()
        monitor = EscalationMonitor(backend="durable")
        monitor.observe(complaint("c1", "C1", T0, dept="finance"))
        engine = _engine_of(monitor)
        monitor.close()
        assert _sid_facts(engine, durable_module.RULESET) == 0
        with EscalationMonitor(backend="durable") as again:
            assert _engine_of(again) is engine
            assert again.observe(complaint("c2", "C1", T0, dept="finance")) == ()


def _engine_of(monitor: EscalationMonitor) -> Any:
    """The durable-rules engine behind a monitor on the durable backend."""
    backend: Any = monitor._backend
    return backend._engine


def _sid_facts(engine: Any, ruleset: str) -> int:
    return sum(len(engine.host.get_facts(ruleset, sid)) for sid in engine.sids)


def _engine_facts(monitor: EscalationMonitor, ruleset: str) -> int:
    return _sid_facts(_engine_of(monitor), ruleset)


def _long_stream(n: int, days: int) -> list[Complaint]:
    import random

    rng = random.Random(3)
    step = days * 86_400 // n
    topics = list(Topic)
    return [
        complaint(
            f"k{i}",
            f"C{rng.randrange(n // 5)}",
            T0 + dt.timedelta(seconds=i * step),
            topic=rng.choice(topics),
            sku=f"S{int(200 * rng.random() ** 2)}" if rng.random() < 0.7 else None,
            dept=rng.choice(list(Department)) if rng.random() < 0.2 else None,
            staff=f"A{rng.randrange(30)}" if rng.random() < 0.1 else None,
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------ time


class TestTimeConversion:
    """Complaint times become exact integer microseconds since the epoch,
    whatever the zone, including around daylight-saving changes; the policy
    date is the Asia/Shanghai date.
    """

    @given(
        when=st.datetimes(
            min_value=dt.datetime(1900, 1, 2),
            max_value=dt.datetime(2100, 1, 1),
            timezones=st.timezones(),
            allow_imaginary=True,
        )
    )
    def test_epoch_microseconds_are_exact(self, when: dt.datetime) -> None:
        """The same value as exact datetime arithmetic, for any zone and fold."""
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        assert epoch_us(when) == (when - epoch) // dt.timedelta(microseconds=1)

    @given(
        when=st.datetimes(
            min_value=dt.datetime(1900, 1, 2),
            max_value=dt.datetime(2100, 1, 1),
            timezones=st.timezones(),
            allow_imaginary=True,
        )
    )
    def test_a_time_is_its_local_midnight_plus_the_time_of_day(self, when: dt.datetime) -> None:
        """On a day whose offset does not change, the epoch microseconds of any time
        of it are its midnight's plus the time of day (what the monitor relies on);
        days with a change are not given."""
        day = local_day(when)
        if day is None:
            return
        assert day.tz is when.tzinfo
        assert day.start <= when < day.end
        of_day = ((when.hour * 60 + when.minute) * 60 + when.second) * 1_000_000
        assert day.midnight_us + of_day + when.microsecond == epoch_us(when)

    @given(when=aware_datetimes())
    def test_the_policy_date_is_the_shanghai_date(self, when: pendulum.DateTime) -> None:
        """The date parameters are read for is the complaint's date in Asia/Shanghai."""
        assert shanghai_date(epoch_us(when)) == when.in_timezone("Asia/Shanghai").date()

    def test_dates_before_1992_use_the_zone_rules(self) -> None:
        """Asia/Shanghai kept daylight saving until 1991; those dates are still right."""
        summer_1988 = pendulum.datetime(1988, 7, 1, 23, 30, tz="Asia/Shanghai")
        assert shanghai_date(epoch_us(summer_1988)) == dt.date(1988, 7, 1)


# ------------------------------------------------------------------ refused complaints


class TestRefusedComplaints:
    """A complaint the monitor refuses, or one that fails after it was observed
    inside a transaction, changes no state: the next repeat still escalates."""

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("customer_id", "C\ud800", "lone surrogate"),
            ("customer_id", "C" * 16_000_000, "characters long"),
            ("id", "k\udc00", "lone surrogate"),
            ("about_staff", "A\ud800", "lone surrogate"),
            ("about_staff", "A" * (MAX_TEXT_LENGTH + 1), "characters long"),
            ("sku", "S\ud800", "lone surrogate"),
        ],
        ids=[
            "surrogate-customer",
            "16M-customer",
            "surrogate-id",
            "surrogate-staff",
            "long-staff",
            "surrogate-sku",
        ],
    )
    def test_a_bad_text_is_refused_and_changes_nothing(
        self, monitor: EscalationMonitor, field: str, value: str, message: str
    ) -> None:
        first = complaint("c1", "C1", T0, dept="operations", staff="A017")
        assert monitor.observe(first) == ()
        before = monitor.snapshot()
        bad = attrs.evolve(
            complaint(
                "bad",
                "C1",
                T0 + DAY,
                topic="product_defect",
                sku="8892",
                dept="operations",
                staff="A017",
            ),
            **{field: value},  # type: ignore[arg-type]
        )
        with pytest.raises(StreamError, match=message):
            monitor.observe(bad)
        assert monitor.snapshot() == before
        found = monitor.observe(complaint("c2", "C1", T0 + 2 * DAY, dept="operations"))
        assert [(e.clause, e.related) for e in found] == [("B2C-8.7.1", ("c1",))]

    def test_a_failed_transaction_is_undone(self, monitor: EscalationMonitor) -> None:
        """Observed, then deciding fails: the watermark, records, escalations and
        position are as before, and what was retained still counts."""
        monitor.observe(complaint("c1", "C1", T0, dept="operations"))
        before = monitor.snapshot()
        far = complaint(
            "far",
            "C1",
            pendulum.datetime(9999, 12, 31, 23, 59, 59, 999_999, tz=SH),
            dept="operations",
        )
        repeat = complaint("c2", "C1", T0 + DAY, dept="operations")
        with pytest.raises(_UndecidableError):
            _observe_then_fail(monitor, repeat, far)
        assert monitor.snapshot() == before
        assert monitor.position == (1, "c1")
        (escalation,) = monitor.observe(complaint("c3", "C1", T0 + DAY, dept="operations"))
        assert escalation.related == ("c1",)

    def test_an_undecidable_complaint_in_the_cli_does_not_move_the_watermark(
        self, backend: str
    ) -> None:
        """A complaint at 9999-12-31T23:59:59.999999+08:00 is an error line and the
        next repeat complaint still gets B2C-8.7.1 (general manager)."""
        from csrules.cli import decide_lines

        lines = [
            _case_line("c1", "2026-05-06T10:00:00+08:00"),
            _case_line("far", "9999-12-31T23:59:59.999999+08:00"),
            _case_line("c2", "2026-05-07T10:00:00+08:00"),
        ]
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            _, far, again = decide_lines(lines, monitor=monitor)
            assert monitor.position == (2, "c2")
            assert monitor.snapshot()["watermark"] == epoch_us(
                pendulum.parse("2026-05-07T10:00:00+08:00")  # type: ignore[arg-type]
            )
        assert "error" in far
        decision: Any = again["decision"]
        assert "B2C-8.7.1" in decision["rules"]
        assert "general_manager" in decision["escalate_to"]

    def test_an_undecidable_complaint_through_decide_changes_nothing(self, backend: str) -> None:
        """csrules.decide takes back a complaint whose decision fails after the
        monitor observed it: the next repeat complaint still gets B2C-8.7.1."""
        import csrules
        from csrules import ComplaintCase

        def case(cid: str, at: pendulum.DateTime) -> ComplaintCase:
            return ComplaintCase(cid, at, complaint(cid, "C1", at, dept="operations"))

        far_time = pendulum.datetime(9999, 12, 31, 23, 59, 59, 999_999, tz=SH)
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            csrules.decide(case("c1", T0), monitor=monitor)
            before = monitor.snapshot()
            with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the rules raise
                csrules.decide(case("far", far_time), monitor=monitor)
            assert monitor.snapshot() == before
            again = csrules.decide(case("c2", T0 + DAY), monitor=monitor)
        assert "B2C-8.7.1" in again.rules


def _case_line(cid: str, at: str, customer: str = "C1", **more: Any) -> str:
    body = {
        "customer_id": customer,
        "channel": "phone",
        "topic": "service",
        "about_department": "operations",
        "order_amount": "10.00",
        "customer_paid_total": "10.00",
        "contact_count": 1,
        **more,
    }
    return json.dumps({"id": cid, "kind": "complaint", "at": at, "complaint": body})


# ------------------------------------------------------------------ bounded cost


class TestBoundedCost:
    """Earlier complaints are indexed by key and counted; ``related`` is cut to a
    limit, and the escalation says so."""

    def test_thousands_of_repeats_name_the_latest_and_count_all(self, backend: str) -> None:
        """4,000 complaints (300 on durable-rules) from one customer about one
        department in one day: each counts all earlier ones, names the latest 100."""
        n = 4000 if backend == "reference" else 300
        stream = [
            complaint(f"k{i}", "C1", T0 + dt.timedelta(seconds=i), dept="operations")
            for i in range(n)
        ]
        with EscalationMonitor(backend=backend) as monitor:  # type: ignore[arg-type]
            found = feed(monitor, stream)
        (last,) = found[-1]
        assert last.count == n
        assert last.related_total == n - 1
        assert last.related == tuple(f"k{i}" for i in range(n - 101, n - 1))
        assert last.related_truncated
        assert last.to_json()["related_truncated"] is True
        assert f"and {n - 1 - 5} more" in last.explanation("en")
        (early,) = found[50]
        assert early.related == tuple(f"k{i}" for i in range(50))
        assert not early.related_truncated

    def test_the_limit_is_a_parameter(self, backend: str) -> None:
        with EscalationMonitor(backend=backend, related_limit=2) as monitor:  # type: ignore[arg-type]
            assert monitor.related_limit == 2
            found = feed(monitor, [defect(f"q{i}", f"C{i}", T0 + i * DAY) for i in range(6)])
        (escalation,) = found[-1]
        assert (escalation.related, escalation.related_total, escalation.count) == (
            ("q3", "q4"),
            5,
            6,
        )
        with pytest.raises(StreamError, match="related_limit"):
            EscalationMonitor(backend=backend, related_limit=0)  # type: ignore[arg-type]

    def test_the_reference_indexes_hold_only_what_is_retained(self) -> None:
        """After the watermark moves past the window, the per-key indexes are empty."""
        with EscalationMonitor(backend="reference") as monitor:
            feed(monitor, _hourly_stream(500, hours=1, staff="A1"))
            monitor.observe(complaint("late", "C0", T0 + 200 * DAY))
            monitor.observe(complaint("next", "C0", T0 + 200 * DAY))
            inner: Any = monitor._backend
            assert inner.held() == 0

    def test_records_are_forgotten_with_a_transaction_per_complaint(self) -> None:
        """decide(case, monitor=...) observes each complaint in a transaction of its
        own (as csrules decide does): old records are forgotten all the same."""
        with EscalationMonitor(backend="reference") as monitor:
            for one in _hourly_stream(500, hours=6):
                with monitor.transaction():
                    monitor.observe(one)
            held = (len(monitor._customer), len(monitor._product))
        # 500 complaints over 125 days; the windows keep about 30 days of them
        assert all(0 < n < 200 for n in held), held

    def test_a_complaint_behind_a_far_future_one_is_counted_too_late(self) -> None:
        """A complaint dated far ahead moves the watermark; a repeat after it can no
        longer see the first complaint, and too_late says so (in transactions too)."""
        first = complaint("a1", "C1", T0, dept="operations")
        future = complaint("a2", "C9", T0 + 4000 * DAY, dept="finance")
        repeat = complaint("a3", "C1", T0 + DAY, dept="operations")
        with EscalationMonitor() as monitor:
            for c in (first, future, repeat):
                with monitor.transaction():
                    monitor.observe(c)
            assert monitor.too_late == (1, "a3")

    def test_escalation_ids_are_stable_and_distinct(self, backend: str) -> None:
        """The id depends on the clause, the key, the complaint and its time only."""
        stream = [
            complaint(f"k{i}", "C1", T0 + i * DAY, dept="operations", staff="A1") for i in range(4)
        ]
        with EscalationMonitor(backend=backend) as one:  # type: ignore[arg-type]
            first = [e.id for found in feed(one, stream) for e in found]
        with EscalationMonitor(backend="reference", related_limit=1) as two:
            second = [e.id for found in feed(two, stream) for e in found]
        assert first == second
        assert len(set(first)) == len(first) == 6


# ------------------------------------------------------------------ snapshots, checked


def _snapshot_of(stream: Sequence[Complaint]) -> dict[str, Any]:
    with EscalationMonitor(backend="reference") as monitor:
        feed(monitor, stream)
        data: dict[str, Any] = json.loads(json.dumps(monitor.snapshot()))
    return data


def _resealed(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its checksum made right again (to reach the validation behind it)."""
    from csrules.stream._monitor import _checksum

    data = dict(data)
    data["checksum"] = _checksum(data)
    return data


_SAMPLE = [
    complaint("c1", "C1", T0, dept="operations", staff="A1"),
    defect("q1", "C2", T0 + DAY),
    complaint("c2", "C1", T0 + 2 * DAY, topic="product_defect", sku="8892", dept="operations"),
]


def _corrupt_seq(data: dict[str, Any]) -> None:
    data["seq"] = -1


def _duplicate_record(data: dict[str, Any]) -> None:
    data["customer_scope"].append(data["customer_scope"][0])


def _far_future_watermark(data: dict[str, Any]) -> None:
    data["watermark"] += 400 * 365 * 86_400 * 1_000_000


def _null_id(data: dict[str, Any]) -> None:
    data["customer_scope"][0][2] = None


def _watermark_out_of_range(data: dict[str, Any]) -> None:
    data["watermark"] = 1 << 62


def _open_id_changed(data: dict[str, Any]) -> None:
    data["open"][0]["complaint_id"] = "c9"


def _open_count_changed(data: dict[str, Any]) -> None:
    data["open"][0]["count"] += 1


class TestSnapshotChecks:
    """Snapshots carry a version, a checksum and the stream position; restore
    refuses anything damaged or inconsistent with StreamError and the reason."""

    def test_a_snapshot_has_format_checksum_and_position(self) -> None:
        data = _snapshot_of(_SAMPLE)
        assert data["format"] == "csrules.stream.snapshot/3"
        assert data["checksum"].startswith("sha256:")
        assert data["position"] == {"observed": 3, "last_id": "c2"}
        with EscalationMonitor.restore(data) as restored:
            assert restored.position == (3, "c2")

    @pytest.mark.parametrize(
        ("corrupt", "reason"),
        [
            (_corrupt_seq, "seq must be 0 or more"),
            (_duplicate_record, "duplicated"),
            (_far_future_watermark, "retention before the watermark"),
            (_null_id, "id must be a string"),
            (_watermark_out_of_range, "years 1 and 9999"),
            (_open_id_changed, "is not the escalation's"),
            (_open_count_changed, "count"),
        ],
    )
    def test_an_inconsistent_snapshot_is_refused_with_the_reason(
        self, corrupt: Any, reason: str
    ) -> None:
        data = _snapshot_of(_SAMPLE)
        corrupt(data)
        with pytest.raises(StreamError, match="checksum does not match"):
            EscalationMonitor.restore(data)
        with pytest.raises(StreamError, match=reason):
            EscalationMonitor.restore(_resealed(data))

    def test_a_list_is_refused(self) -> None:
        with pytest.raises(StreamError, match="JSON object, got list"):
            EscalationMonitor.restore([_snapshot_of(_SAMPLE)])  # type: ignore[arg-type]

    @_PROPERTY
    @given(stream=_ANY_ORDER, data=st.data())
    def test_any_single_field_corruption_is_refused(
        self, stream: list[Complaint], data: st.DataObject
    ) -> None:
        """Change any one value anywhere in a snapshot: restore raises StreamError."""
        snap = _snapshot_of(stream)
        paths = list(_leaves(snap))
        path = data.draw(st.sampled_from(paths))
        value = _get(snap, path)
        replacement = data.draw(
            st.one_of(
                st.none(),
                st.integers(-(1 << 63), 1 << 63),
                st.text(max_size=5),
                st.booleans(),
                st.just([]),
                st.just({}),
            ).filter(lambda v: v != value or type(v) is not type(value))
        )
        _set(snap, path, replacement)
        with pytest.raises(StreamError):
            EscalationMonitor.restore(snap)

    @_PROPERTY
    @given(stream=_ANY_ORDER, policy=_POLICIES, cut=st.floats(0, 1), limit=_LIMITS)
    def test_round_trip_through_json_equals_the_uninterrupted_run(
        self, stream: list[Complaint], policy: Policy, cut: float, limit: int
    ) -> None:
        """With a related limit, a restored monitor goes on like the one that never
        stopped, and their final snapshots are equal."""
        k = int(len(stream) * cut)
        with EscalationMonitor(policy, related_limit=limit) as unbroken:
            expected = feed(unbroken, stream)
            final = unbroken.snapshot()
        with EscalationMonitor(policy, related_limit=limit) as before:
            feed(before, stream[:k])
            text = json.dumps(before.snapshot())
        with EscalationMonitor.restore(json.loads(text), policy, related_limit=limit) as after:
            assert feed(after, stream[k:]) == expected[k:]
            assert after.snapshot() == final


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list) and node:
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    else:
        yield path


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


# ------------------------------------------------------------------ durable engines freed


_CYCLES_SCRIPT = """
import datetime as dt, json, sys
import pendulum
from csrules import Complaint
from csrules.stream import EscalationMonitor

def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6

t0 = pendulum.datetime(2026, 5, 1, tz="Asia/Shanghai")
sizes = []
for cycle in range(int(sys.argv[1])):
    monitors = [EscalationMonitor(backend="durable") for _ in range(20)]
    for j, monitor in enumerate(monitors):
        for k in range(30):
            monitor.observe(Complaint(
                id=f"c{k}", customer_id=f"C{k % 4}", received_at=t0 + dt.timedelta(hours=k),
                channel="phone", topic="product_defect", sku=f"S{k % 3}",
                about_department="operations", about_staff="A1"))
    for monitor in monitors:
        monitor.close()
    sizes.append(rss_mb())
print(json.dumps(sizes))
"""


@needs_durable
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_closing_durable_monitors_keeps_memory_bounded() -> None:
    """Open and close 20 durable monitors 40 times (in a fresh process): the resident
    size at the end stays below twice what it was after the first three cycles."""
    import signal
    import subprocess

    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-c", _CYCLES_SCRIPT, "40"],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        # durable-rules' engine itself now and then dies of a segmentation
        # fault over hundreds of monitors (docs/stream.md): that run says
        # nothing about memory, so it is run again once; twice is a failure
        if run.returncode != -signal.SIGSEGV:
            break
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    sizes = json.loads(run.stdout)
    assert sizes[-1] < 2 * sizes[2], sizes


# ------------------------------------------------------------------ csrules decide --state


def _decide(
    tmp_path: Any, lines: Sequence[str], *extra: str
) -> tuple[int, list[dict[str, Any]], str]:
    import io

    from csrules.cli import main

    source = tmp_path / f"in-{len(list(tmp_path.iterdir()))}.jsonl"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    status = main(["decide", str(source), *extra], out=out, err=err)
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    return status, results, err.getvalue()


def _escalated(results: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (r["id"], tuple(c for c in r["decision"]["rules"] if c.startswith("B2C-8.7.")))
        for r in results
        if "decision" in r and any(c.startswith("B2C-8.7.") for c in r["decision"]["rules"])
    ]


def _day_lines(n: int) -> list[str]:
    lines = []
    for i in range(n):
        more: dict[str, Any] = {"topic": "product_defect", "sku": f"S{i % 2}"} if i % 3 else {}
        lines.append(
            _case_line(
                f"k{i}",
                f"2026-05-{1 + i // 6:02d}T{8 + i % 6:02d}:00:00+08:00",
                customer=f"C{i % 5}",
                **more,
            )
        )
    return lines


class TestStateFile:
    """``csrules decide --state FILE`` resumes and saves the monitor."""

    @pytest.mark.parametrize("backend", available_backends())
    def test_two_runs_with_a_state_file_equal_one_run(self, tmp_path: Any, backend: str) -> None:
        lines = _day_lines(40)
        _, whole, _ = _decide(tmp_path, lines, "--backend", backend)
        state = tmp_path / "state.json"
        status1, first, _ = _decide(
            tmp_path, lines[:17], "--state", str(state), "--backend", backend
        )
        assert status1 == 0
        assert json.loads(state.read_text())["position"] == {"observed": 17, "last_id": "k16"}
        _, second, _ = _decide(tmp_path, lines[17:], "--state", str(state), "--backend", backend)
        split = _escalated(first) + _escalated(second)
        assert split == _escalated(whole)
        assert len(split) == len(set(split)) > 5
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".csrules-state")] == []

    def test_the_state_is_saved_every_n_lines(
        self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Saved before lines 4 and 7 are decided: the source sees each save when it
        is next read (lines 5 and 8)."""
        from csrules import cli

        state = tmp_path / "state.json"
        seen: dict[int, Any] = {}

        class Lines:
            def __iter__(self) -> Iterator[str]:
                for number, line in enumerate(_day_lines(10), start=1):
                    if state.exists():
                        seen[number] = json.loads(state.read_text())["position"]
                    yield line + "\n"

            def close(self) -> None:
                return

        monkeypatch.setattr(cli, "_open_input", lambda path: Lines())
        _decide(tmp_path, [], "--state", str(state), "--state-every", "3")
        assert 4 not in seen
        assert seen[5] == {"observed": 3, "last_id": "k2"}
        assert seen[8] == {"observed": 6, "last_id": "k5"}
        assert json.loads(state.read_text())["position"]["observed"] == 10

    @pytest.mark.parametrize(
        "content", ["[]", "{", '{"format": "csrules.stream.snapshot/3"}', "tampered"]
    )
    def test_a_bad_state_file_is_a_usage_error(self, tmp_path: Any, content: str) -> None:
        state = tmp_path / "state.json"
        if content == "tampered":
            with EscalationMonitor() as monitor:
                monitor.observe(complaint("c1", "C1", T0, dept="finance"))
                data = monitor.snapshot()
            data["seq"] = 0
            content = json.dumps(data)
        state.write_text(content, encoding="utf-8")
        status, results, err = _decide(tmp_path, _day_lines(2), "--state", str(state))
        assert status == 2
        assert results == []
        assert f"bad state file {state}" in err
        assert state.read_text(encoding="utf-8") == content  # left as it was

    def test_state_every_needs_state_and_state_needs_the_stream(self, tmp_path: Any) -> None:
        assert _decide(tmp_path, _day_lines(2), "--state-every", "2")[0] == 2
        state = str(tmp_path / "s.json")
        assert _decide(tmp_path, _day_lines(2), "--state", state, "--no-stream")[0] == 2
        assert _decide(tmp_path, _day_lines(2), "--state", state, "--state-every", "0")[0] == 2


def test_a_free_text_department_survives_a_snapshot() -> None:
    """about_department is free text: a snapshot holding "logistics" restores, and the
    restored monitor correlates the next complaint about it (B2C-8.7.1)."""
    day = pendulum.datetime(2026, 5, 6, 10, tz="Asia/Shanghai")
    first = complaint("L1", "C1", day, dept="logistics")
    second = complaint("L2", "C1", day.add(days=1), dept="logistics")
    with EscalationMonitor() as unbroken:
        expected = [unbroken.observe(first), unbroken.observe(second)]
    assert [e.reason for e in expected[1]] == ["same_department"]
    with EscalationMonitor() as before:
        before.observe(first)
        text = json.dumps(before.snapshot())
    with EscalationMonitor.restore(json.loads(text)) as after:
        assert after.observe(second) == expected[1]
