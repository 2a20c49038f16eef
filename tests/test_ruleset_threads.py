"""Rule sets shared between threads and processes: no module-level caches to race on.

What is compiled or kept for reuse belongs to a rule set's kinds, its
tables and rules, or its policy; these tests decide with several rule sets
at once, from fresh (not yet compiled) ones, and through pickles.
"""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import csrules
from csrules import Action, Decision, FreightPayer, ReturnCase, RuleSet
from csrules.io import parse_case_line
from csrules.io._decisions import decision_to_json
from csrules.rules import Rule, fact, returns

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    parse_case_line(line)
    for line in (ROOT / "examples" / "cases.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]


def _shops() -> dict[str, RuleSet]:
    """Rule sets built afresh: their kinds are compiled on first use."""
    b2c = csrules.ruleset("b2c")
    vip = b2c.with_fact("vip", bool, default=True).with_rule(
        "freight_payer",
        Rule(
            "SHOP-1",
            fact("vip") & fact("action").isin({Action.NORMAL_RETURN, Action.ABNORMAL_RETURN}),
            {"freight_payer": FreightPayer.MERCHANT},
            en="VIP customer: the shop pays the return freight ({vip}).",
            zh="VIP客户:退货运费由本店承担。",
            id="vip_free_returns",
        ),
        after="not_shipped",
    )
    lenient = b2c.with_parameters(on="2026-01-01", no_reason_return_days=15).with_name("lenient")
    return {
        "b2c": b2c,
        "taobao": csrules.ruleset("taobao"),
        "vip": vip.with_name("vip"),
        "lenient": lenient,
        "vip-taobao": vip.with_parameters(csrules.ruleset("taobao").policy),
    }


def _decide_all(rules: RuleSet) -> list[tuple[Decision, dict[str, Any]]]:
    out = []
    for case in CASES:
        decision = csrules.decide(case, ruleset=rules)
        out.append((decision, decision_to_json(decision, lang="zh", parameters=True)))
    return out


def _legacy_all() -> list[Decision]:
    """The 0.1 ``tables=`` argument, with the bundled tables in another tuple each time."""
    tables = (
        returns.RETURN_ACTION,
        returns.FREIGHT_PAYER,
        returns.REFUND_DUE,
        returns.RETURN_DUTIES,
    )
    return [
        returns.decide_return(
            c.order, c.request, at=c.at, case_id=c.id, tables=tables[:2] + tables[2:]
        )
        for c in CASES
        if isinstance(c, ReturnCase)
    ]


def _run_together(jobs: dict[str, Callable[[], Any]], rounds: int = 3) -> dict[str, list[Any]]:
    """Run every job ``rounds`` times on a pool of threads, all starting together."""
    barrier = threading.Barrier(len(jobs) * rounds)

    def run(job: Callable[[], Any]) -> Any:
        barrier.wait()
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs) * rounds) as pool:
        futures = {
            (name, i): pool.submit(run, job) for name, job in jobs.items() for i in range(rounds)
        }
        return {name: [futures[name, i].result() for i in range(rounds)] for name in jobs}


class TestThreads:
    def test_concurrent_decisions_with_several_rule_sets_equal_serial_ones(self) -> None:
        expected = {name: _decide_all(rules) for name, rules in _shops().items()}
        expected_legacy = _legacy_all()
        fresh = _shops()  # not compiled yet: the threads race to compile them
        jobs: dict[str, Callable[[], Any]] = {
            name: (lambda r=rules: _decide_all(r)) for name, rules in fresh.items()
        }
        jobs["legacy"] = _legacy_all
        got = _run_together(jobs)
        for name, runs in got.items():
            want = expected_legacy if name == "legacy" else expected[name]
            for run in runs:
                assert run == want, name
        # the rule sets differ where they should: the check above compares like with like
        vip = [j for _, j in expected["vip"]]
        b2c = [j for _, j in expected["b2c"]]
        assert vip != b2c
        assert any("SHOP-1" in j["decision"]["rules"] for j in vip)

    def test_a_kind_compiles_once_under_contention(self) -> None:
        kind = _shops()["vip"].kind("return")
        compiled = _run_together({"a": kind.compiled, "b": kind.compiled}, rounds=4)
        assert len({id(c) for runs in compiled.values() for c in runs}) == 1


class TestPickles:
    def test_rule_sets_pickle_after_use_and_decide_the_same(self) -> None:
        for name, rules in _shops().items():
            before = _decide_all(rules)  # compiled and with output kept on its rules
            again = pickle.loads(pickle.dumps(rules))
            assert again is not rules
            assert [r.id for r in again.stream_rules] == [r.id for r in rules.stream_rules]
            after = _decide_all(again)
            assert [json.dumps(j, sort_keys=True) for _, j in after] == [
                json.dumps(j, sort_keys=True) for _, j in before
            ], name
            assert [d for d, _ in after] == [d for d, _ in before]

    def test_decisions_pickle_with_kept_output(self) -> None:
        """A decision's rules and parameter set pickle without what output code kept on them."""
        decisions = [d for d, _ in _decide_all(_shops()["vip"])]
        rule = decisions[0].trace.fired[0].rule
        assert rule._cache  # decision_to_json kept its template
        data = pickle.dumps(decisions)
        again = pickle.loads(data)
        assert again == decisions
        params = decisions[0].trace.params
        assert params._encoded  # decision_to_json kept the parameters block
        copy = pickle.loads(pickle.dumps(params))
        assert copy == params
        assert not copy._encoded
        rule_copy = pickle.loads(pickle.dumps(rule))
        assert not rule_copy._cache
        assert (rule_copy.clause, rule_copy.id, rule_copy.en) == (rule.clause, rule.id, rule.en)
