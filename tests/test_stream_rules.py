"""Stream rules declared as data: validation, and both monitor backends following them."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csrules import Complaint, Topic
from csrules.exceptions import ArgumentTypeError, RuleDefinitionError, StreamError
from csrules.policy import default_policy
from csrules.rules import StreamCount, StreamRule, fact
from csrules.rules.complaints import QUALITY_TOPICS, STREAM_RULES
from csrules.stream import EscalationMonitor, StreamReason, available_backends

HAS_DURABLE = "durable" in available_backends()
needs_durable = pytest.mark.skipif(not HAS_DURABLE, reason="durable-rules cannot be imported")
SH = pendulum.timezone("Asia/Shanghai")
T0 = pendulum.datetime(2026, 5, 1, 9, 0, tz=SH)
POLICY = default_policy()
BACKENDS = available_backends()

#: A shop's own rule: 3 phone complaints about one product, whoever made them, go to the
#: head of customer service.
PRODUCT_COMPLAINTS = StreamRule(
    id="product_complaints",
    clause="SHOP-1",
    considers=fact("channel") == "phone",
    key=("sku",),
    count=StreamCount.COMPLAINTS,
    threshold=3,
    window="quality_window_days",
    escalate_to="cs_head",
    text_en="{clause}: {count} phone complaints about {subject} in {days} days ({earlier}).",
    text_zh="{clause}：{days} 天内 {count} 件电话投诉涉及 {subject}（{earlier}）。",
)


def complaint(
    cid: str,
    customer: str,
    at: dt.datetime,
    *,
    topic: str = "service",
    channel: str = "phone",
    sku: str | None = None,
    dept: str | None = None,
    staff: str | None = None,
) -> Complaint:
    return Complaint(
        id=cid,
        customer_id=customer,
        received_at=at,
        channel=channel,
        topic=topic,
        sku=sku,
        about_department=dept,
        about_staff=staff,
    )


def _rule(**changes: Any) -> StreamRule:
    fields = {
        "id": "mine",
        "clause": "SHOP-2",
        "considers": fact("topic").isin(QUALITY_TOPICS),
        "key": ("customer_id", "sku"),
        "count": "complaints",
        "threshold": 2,
        "window": "quality_window_days",
    }
    fields.update(changes)
    return StreamRule(**fields)


class TestDeclarations:
    """The bundled rules are declarations; invalid ones are refused, naming the rule."""

    def test_the_bundled_rules_are_the_two_clauses(self) -> None:
        assert [(r.id, r.clause) for r in STREAM_RULES] == [
            ("same_department", "B2C-8.7.1"),
            ("same_staff", "B2C-8.7.1"),
            ("quality_reports", "B2C-8.7.5"),
        ]
        assert [r.id for r in STREAM_RULES] == [m.value for m in StreamReason]
        with EscalationMonitor() as monitor:
            assert monitor.rules == STREAM_RULES

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"key": ("customer_id",)}, "exactly one of"),
            ({"key": ("sku", "about_staff")}, "exactly one of"),
            ({"key": ("about_staff",)}, "must also hold customer_id"),
            ({"key": ("customer_id", "order_id")}, "key must be distinct fields"),
            ({"count": "customers"}, "without customer_id"),
            ({"considers": fact("colour") == "red"}, r"names \['colour'\]"),
            ({"considers": fact("contact_count") > fact("x")}, r"names \['x'\]"),
            ({"threshold": True}, "threshold must be"),
            ({"window": ""}, "window must be"),
            ({"text_en": "{clause} {nope}"}, r"text_en uses \['nope'\]"),
            ({"text_zh": "{clause"}, "text_zh is not a valid template"),
            ({"considers": fact("channel") == "phnoe"}, "'phnoe' is no Channel"),
            ({"considers": fact("received_at") > 3}, "never alike"),
        ],
    )
    def test_an_invalid_declaration_names_the_rule(
        self, changes: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(RuleDefinitionError, match=message) as caught:
            _rule(**changes)
        assert "'mine'" in str(caught.value)

    def test_rules_pickle_and_compare_by_identity(self) -> None:
        """A rule survives pickling (its compiled condition is rebuilt); == never raises."""
        again = pickle.loads(pickle.dumps(PRODUCT_COMPLAINTS))
        assert again != PRODUCT_COMPLAINTS
        assert attrs.astuple(again, recurse=False)[:2] == ("product_complaints", "SHOP-1")
        phone, email = complaint("a", "C", T0, sku="S"), complaint("b", "C", T0, channel="email")
        assert again.considers_complaint(phone)
        assert not again.considers_complaint(email)
        assert again.escalate_to is PRODUCT_COMPLAINTS.escalate_to

    def test_a_bad_id_or_escalation_is_refused(self) -> None:
        with pytest.raises(RuleDefinitionError, match="id must be"):
            _rule(id="Not An Id")
        with pytest.raises(RuleDefinitionError, match="escalate_to must be one of"):
            _rule(escalate_to="the_board")

    def test_a_monitor_refuses_duplicates_and_unknown_parameters(self) -> None:
        with pytest.raises(RuleDefinitionError, match="'mine' is declared twice"):
            EscalationMonitor(rules=[_rule(), _rule()])
        with pytest.raises(RuleDefinitionError, match="'mine': the policy has no parameter 'x'"):
            EscalationMonitor(rules=[_rule(threshold="x")])
        with pytest.raises(RuleDefinitionError, match="at least one"):
            EscalationMonitor(rules=[])
        with pytest.raises(RuleDefinitionError, match="StreamRule values"):
            EscalationMonitor(rules=["same_staff"])  # type: ignore[list-item]


class TestACustomRule:
    """A shop's rule runs like the bundled ones, on either backend."""

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_a_shop_rule_escalates_as_declared(self, backend: str) -> None:
        rules = (*STREAM_RULES, PRODUCT_COMPLAINTS)
        stream = [
            complaint("k1", "C1", T0, sku="S1"),
            complaint("k2", "C2", T0.add(days=1), sku="S1", channel="email"),  # not considered
            complaint("k3", "C1", T0.add(days=2), sku="S1"),
            complaint("k4", "C3", T0.add(days=3), sku="S1"),
        ]
        with EscalationMonitor(backend=backend, rules=rules) as monitor:  # type: ignore[arg-type]
            found = [monitor.observe(c) for c in stream]
            assert found[:3] == [(), (), ()]
            (escalation,) = found[3]
            assert escalation.reason == "product_complaints"
            assert (escalation.clause, escalation.count, escalation.related) == (
                "SHOP-1",
                3,
                ("k1", "k3"),
            )
            assert escalation.escalate_to.value == "cs_head"
            assert escalation.explanation() == (
                "SHOP-1: 3 phone complaints about S1 in 30 days (k1, k3)."
            )
            assert escalation.explanation("zh").startswith("SHOP-1：30 天内 3 件电话投诉")
            assert escalation.to_json()["reason"] == "product_complaints"
            # The snapshot restores with the same rules, and refuses others.
            data = json.loads(json.dumps(monitor.snapshot()))
        with EscalationMonitor.restore(data, rules=rules) as again:
            assert again.open_escalations() == (escalation,)
            assert again.open_escalations()[0].explanation() == escalation.explanation()
            assert again.observe(complaint("k5", "C4", T0.add(days=4), sku="S1"))[0].count == 4
        with pytest.raises(StreamError, match="'product_complaints' is not one of"):
            EscalationMonitor.restore(data)

    def test_a_changed_threshold_is_followed(self) -> None:
        """Replacing the quality rule by one with another threshold changes when it escalates."""
        quality = STREAM_RULES[2]
        stricter = attrs.evolve(quality, threshold=1)
        stream = [
            complaint(f"k{i}", f"C{i}", T0.add(hours=i), topic="product_defect", sku="S")
            for i in range(5)
        ]
        for rules, first in ((STREAM_RULES, 3), ((stricter,), 1)):
            with EscalationMonitor(rules=rules) as monitor:
                counts = [len(monitor.observe(c)) for c in stream]
            assert counts.index(1) == first


# ------------------------------------------------------- generated rules, both backends

_SUBJECT_KEYS = st.sampled_from(
    [
        ("customer_id", "about_department"),
        ("about_staff", "customer_id"),
        ("customer_id", "sku"),
        ("sku",),
    ]
)
_CONDITIONS = st.sampled_from(
    [
        fact("channel") == "phone",
        fact("topic").isin(QUALITY_TOPICS),
        fact("topic") != Topic.SERVICE,
        fact("contact_count") >= 2,
    ]
)


@st.composite
def stream_rules(draw: st.DrawFn) -> StreamRule:
    """A valid stream rule with a random key, condition, count, threshold and window."""
    key = draw(_SUBJECT_KEYS)
    count = StreamCount.CUSTOMERS if "customer_id" not in key and draw(st.booleans()) else None
    return StreamRule(
        id="generated",
        clause="SHOP-9",
        considers=draw(_CONDITIONS),
        key=key,
        count=count or StreamCount.COMPLAINTS,
        threshold=draw(st.sampled_from([0, 1, 2, 3, "quality_reporters_threshold"])),
        more_than=draw(st.booleans()),
        window=draw(st.sampled_from(["quality_window_days", "repeat_complaint_window_days"])),
    )


@st.composite
def streams(draw: st.DrawFn) -> list[Complaint]:
    """Complaints in order of time over about two months, on few customers and keys."""
    n = draw(st.integers(1, 25))
    at = T0
    found = []
    for i in range(n):
        at = at.add(hours=draw(st.integers(0, 24 * 12)))
        found.append(
            Complaint(
                id=f"k{i}",
                customer_id=draw(st.sampled_from(["C1", "C2", "C3"])),
                received_at=at,
                channel=draw(st.sampled_from(["phone", "email"])),
                topic=draw(st.sampled_from([Topic.SERVICE, Topic.PRODUCT_DEFECT])),
                sku=draw(st.sampled_from([None, "S1", "S2"])),
                about_department=draw(st.sampled_from([None, "finance", "operations"])),
                about_staff=draw(st.sampled_from([None, "A1", "A2"])),
                contact_count=draw(st.integers(1, 3)),
            )
        )
    return found


def _oracle(rule: StreamRule, stream: Sequence[Complaint]) -> list[tuple[str, int, int]]:
    """What the declaration says, counted by brute force: (complaint, count, earlier) each."""
    days = POLICY.value(rule.window, T0.date())
    threshold = rule.threshold_on(lambda name: POLICY.value(name, T0.date()))
    window = dt.timedelta(days=days)
    found = []
    for i, c in enumerate(stream):
        if not rule.considers_complaint(c):
            continue
        earlier = [
            e
            for e in stream[:i]
            if rule.considers_complaint(e)
            and all(getattr(e, f) == getattr(c, f) for f in rule.key)
            and abs(e.received_at - c.received_at) <= window
        ]
        if rule.count_customers:
            if any(e.customer_id == c.customer_id for e in earlier):
                continue
            count = len({e.customer_id for e in earlier}) + 1
        else:
            count = len(earlier) + 1
        if rule.reached(count, threshold):
            found.append((c.id, count, len(earlier)))
    return found


_PROPERTY = settings(deadline=None, max_examples=120, suppress_health_check=[HealthCheck.too_slow])

#: Set in the fresh process that runs one of the generated-rule tests.
_CHILD = os.environ.get("CSRULES_GENERATED_RULES_CHILD") == "1"
#: The generated-rule tests open durable monitors on a hundred or more
#: different rule sets, which now and then crashes durable-rules' engine
#: (docs/stream.md): each runs in a fresh process of its own
#: (test_generated_rules_in_fresh_processes), away from the other tests'
#: rule sets.
in_child = pytest.mark.skipif(not _CHILD, reason="run in a fresh process of its own")


@pytest.mark.parametrize(
    "test",
    [
        "test_a_backend_follows_the_declaration",
        "test_durable_and_reference_agree_on_a_generated_rule",
    ],
)
def test_generated_rules_in_fresh_processes(test: str) -> None:
    """Each generated-rule test passes in a fresh process. A run the engine
    ends with a segmentation fault says nothing about the rules, so it runs
    once more; an assertion that fails fails at once."""
    node = f"{Path(__file__).resolve()}::TestGeneratedRules::{test}"
    env = {**os.environ, "CSRULES_GENERATED_RULES_CHILD": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node]
    for _ in range(2):
        run = subprocess.run(
            command, capture_output=True, text=True, env=env, check=False, timeout=900
        )
        if run.returncode != -signal.SIGSEGV:
            break
    assert run.returncode == 0, (run.returncode, run.stdout[-4000:], run.stderr[-2000:])
    assert " passed" in run.stdout, run.stdout[-2000:]


@in_child
class TestGeneratedRules:
    """For any declared rule, both backends give what the declaration says."""

    @_PROPERTY
    @given(rule=stream_rules(), stream=streams(), backend=st.sampled_from(BACKENDS))
    def test_a_backend_follows_the_declaration(
        self, rule: StreamRule, stream: list[Complaint], backend: str
    ) -> None:
        with EscalationMonitor(backend=backend, rules=[rule]) as monitor:  # type: ignore[arg-type]
            got = [
                (e.complaint_id, e.count, e.related_total)
                for c in stream
                for e in monitor.observe(c)
            ]
        assert got == _oracle(rule, stream)

    @needs_durable
    @_PROPERTY
    @given(rule=stream_rules(), stream=streams(), limit=st.sampled_from([1, 2, 100]))
    def test_durable_and_reference_agree_on_a_generated_rule(
        self, rule: StreamRule, stream: list[Complaint], limit: int
    ) -> None:
        rules = (*STREAM_RULES, rule)
        with (
            EscalationMonitor(backend="reference", rules=rules, related_limit=limit) as reference,
            EscalationMonitor(backend="durable", rules=rules, related_limit=limit) as durable,
        ):
            for c in stream:
                assert durable.observe(c) == reference.observe(c)
            assert durable.open_escalations() == reference.open_escalations()
            assert durable.snapshot() == reference.snapshot()
            snapshot = reference.snapshot()
        with (
            EscalationMonitor.restore(snapshot, backend="durable", rules=rules) as one,
            EscalationMonitor.restore(snapshot, backend="reference", rules=rules) as two,
        ):
            later = [
                attrs.evolve(c, id=f"{c.id}b", received_at=c.received_at.add(days=3))
                for c in stream
            ]
            for c in later:
                assert one.observe(c) == two.observe(c)


# ------------------------------------------------------- stream rules of a rule set


def _same_department_stream(n: int) -> list[Complaint]:
    return [complaint(f"d{i}", "C1", T0.add(days=i), dept="operations") for i in range(n)]


class TestRuleSetStreamRules:
    """A rule set's stream rules are extended like its tables, and drive the monitor."""

    def test_added_before_after_and_at_the_end(self) -> None:
        import csrules

        b2c = csrules.ruleset("b2c")
        ids = [r.id for r in b2c.stream_rules]
        shop = b2c.with_stream_rule(PRODUCT_COMPLAINTS)
        assert [r.id for r in shop.stream_rules] == [*ids, "product_complaints"]
        first = b2c.with_stream_rule(PRODUCT_COMPLAINTS, before=ids[0])
        assert [r.id for r in first.stream_rules] == ["product_complaints", *ids]
        second = b2c.with_stream_rule(PRODUCT_COMPLAINTS, after=ids[0])
        assert [r.id for r in second.stream_rules] == [ids[0], "product_complaints", *ids[1:]]
        assert [r.id for r in b2c.stream_rules] == ids  # the bundled one is unchanged
        fewer = shop.without_stream_rule("same_staff")
        assert [r.id for r in fewer.stream_rules] == [
            "same_department",
            "quality_reports",
            "product_complaints",
        ]
        stricter = attrs.evolve(STREAM_RULES[0], threshold=3)
        swapped = b2c.replacing_stream_rule("same_department", stricter)
        assert swapped.stream_rules[0] is stricter
        assert swapped.stream_rules[1:] == b2c.stream_rules[1:]
        assert pickle.loads(pickle.dumps(swapped)).stream_rules[0].threshold == 3

    def test_unknown_and_duplicate_ids_are_errors(self) -> None:
        import csrules

        b2c = csrules.ruleset("b2c")
        with pytest.raises(RuleDefinitionError, match="stream rule 'same_staff' already"):
            b2c.with_stream_rule(attrs.evolve(PRODUCT_COMPLAINTS, id="same_staff"))
        with pytest.raises(RuleDefinitionError, match="no stream rule 'nope'"):
            b2c.with_stream_rule(PRODUCT_COMPLAINTS, before="nope")
        with pytest.raises(RuleDefinitionError, match="no stream rule 'nope'"):
            b2c.with_stream_rule(PRODUCT_COMPLAINTS, after="nope")
        with pytest.raises(RuleDefinitionError, match="not both"):
            b2c.with_stream_rule(PRODUCT_COMPLAINTS, before="same_staff", after="same_staff")
        with pytest.raises(RuleDefinitionError, match="no stream rule 'nope'"):
            b2c.without_stream_rule("nope")
        with pytest.raises(RuleDefinitionError, match="no stream rule 'nope'"):
            b2c.replacing_stream_rule("nope", PRODUCT_COMPLAINTS)
        with pytest.raises(RuleDefinitionError, match="'quality_reports' already"):
            b2c.replacing_stream_rule(
                "same_staff", attrs.evolve(PRODUCT_COMPLAINTS, id="quality_reports")
            )
        with pytest.raises(ArgumentTypeError):
            b2c.with_stream_rule("same_staff")  # type: ignore[arg-type]

    def test_a_rule_reading_an_unknown_parameter_is_refused_at_construction(self) -> None:
        import csrules

        with pytest.raises(RuleDefinitionError, match=r"'b2c'.*'mine'.*'sku_threshold'"):
            csrules.ruleset("b2c").with_stream_rule(_rule(threshold="sku_threshold"))
        with pytest.raises(RuleDefinitionError, match="declared twice"):
            attrs.evolve(csrules.ruleset("b2c"), stream_rules=(*STREAM_RULES, STREAM_RULES[0]))

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_the_monitor_runs_the_rule_sets_rules(self, backend: str) -> None:
        """EscalationMonitor(ruleset=) follows an added, a replaced and a dropped rule."""
        import csrules

        b2c = csrules.ruleset("b2c")
        shop = (
            b2c.with_stream_rule(PRODUCT_COMPLAINTS)
            .replacing_stream_rule("same_department", attrs.evolve(STREAM_RULES[0], threshold=3))
            .without_stream_rule("quality_reports")
        )
        with EscalationMonitor(ruleset=shop, backend=backend) as monitor:  # type: ignore[arg-type]
            assert monitor.ruleset is shop
            assert monitor.policy is shop.policy
            assert [r.id for r in monitor.rules] == [r.id for r in shop.stream_rules]
            departments = [len(monitor.observe(c)) for c in _same_department_stream(4)]
            # threshold 3: the 3rd and 4th complaints escalate, not the 2nd
            assert departments == [0, 0, 1, 1]
            quality = [
                monitor.observe(
                    complaint(f"q{i}", f"Q{i}", T0.add(hours=i), topic="product_defect",
                              sku="S9", channel="email")
                )
                for i in range(6)
            ]  # fmt: skip
            assert all(found == () for found in quality)  # the quality rule was dropped
            products = [
                monitor.observe(complaint(f"p{i}", f"P{i}", T0.add(hours=i), sku="S1"))
                for i in range(3)
            ]
            assert [len(x) for x in products] == [0, 0, 1]
            assert products[2][0].reason == "product_complaints"
            data = json.loads(json.dumps(monitor.snapshot()))
        with EscalationMonitor.restore(data, ruleset=shop, backend=backend) as again:  # type: ignore[arg-type]
            assert again.observe(complaint("p9", "P9", T0.add(hours=5), sku="S1"))[0].count == 4
        with (
            EscalationMonitor(ruleset=b2c, backend=backend) as bundled,  # type: ignore[arg-type]
            EscalationMonitor(backend=backend) as default,  # type: ignore[arg-type]
        ):
            stream = _same_department_stream(3)
            assert [len(bundled.observe(c)) for c in stream] == [0, 1, 1]
            assert [len(default.observe(c)) for c in stream] == [0, 1, 1]

    def test_monitor_arguments(self) -> None:
        import csrules
        from csrules.policy import load_policy

        b2c = csrules.ruleset("b2c")
        with pytest.raises(RuleDefinitionError, match="not both"):
            EscalationMonitor(ruleset=b2c, rules=STREAM_RULES)
        none = attrs.evolve(b2c, stream_rules=())
        with pytest.raises(RuleDefinitionError, match="no stream rules"):
            EscalationMonitor(ruleset=none)
        taobao = csrules.ruleset("taobao")
        with EscalationMonitor(ruleset="taobao") as monitor:
            assert monitor.policy is taobao.policy
            assert monitor.ruleset is taobao
        other = load_policy("taobao")
        with EscalationMonitor(other, ruleset=b2c) as monitor:  # policy= overrides
            assert monitor.policy is other
        with b2c.monitor() as monitor:
            assert monitor.ruleset is b2c
        with pytest.raises(ArgumentTypeError):
            EscalationMonitor("b2c", ruleset=b2c)  # type: ignore[arg-type]

    def test_decide_refuses_a_monitor_of_other_stream_rules(self) -> None:
        import csrules
        from csrules import ComplaintCase

        stricter = csrules.ruleset("b2c").replacing_stream_rule(
            "same_department", attrs.evolve(STREAM_RULES[0], threshold=3)
        )
        cases = [
            ComplaintCase(id=c.id, at=c.received_at, complaint=c)
            for c in _same_department_stream(3)
        ]
        with EscalationMonitor() as bundled, pytest.raises(ArgumentTypeError, match="ruleset="):
            csrules.decide(cases[0], ruleset=stricter, monitor=bundled)
        with stricter.monitor() as monitor:
            fired = [
                "B2C-8.7.1" in csrules.decide(c, ruleset=stricter, monitor=monitor).trace.rules
                for c in cases
            ]
        assert fired == [False, False, True]
        with EscalationMonitor() as bundled:  # the bundled rules are taobao's too
            decision = csrules.decide(cases[0], ruleset="taobao", monitor=bundled)
            assert decision.case_id == "d0"


def test_a_text_field_may_be_compared_with_a_text_enum_member() -> None:
    """about_department is free text; a Department member is text too, so the
    comparison is a real one and is kept."""
    from csrules import Department

    for considers in (
        fact("about_department") == Department.OPERATIONS,
        fact("about_department").isin({Department.OPERATIONS, Department.FINANCE}),
    ):
        rule = _rule(considers=considers)
        ops = complaint("a", "C", T0, sku="S")
        assert not rule.considers_complaint(ops)
        assert rule.considers_complaint(attrs.evolve(ops, about_department="operations"))
