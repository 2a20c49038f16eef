"""The expression IR and its backends: the function registry, pickling, threads."""

from __future__ import annotations

import datetime as dt
import decimal
import pickle
import threading
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csrules._calendar import service_clock
from csrules.batch import _kernels, compile_table, facts_frame
from csrules.exceptions import CsrulesError, RuleDefinitionError
from csrules.policy import default_policy
from csrules.rules import (
    TRUE,
    HitPolicy,
    Rule,
    Table,
    call,
    complaints,
    fact,
    param,
    promotions,
    returns,
)
from csrules.rules._expr import Compare, Const, ExprVisitor, Fact
from csrules.rules._functions import FUNCTIONS, Function, register
from csrules.rules._render import render

CALENDAR = default_policy().calendar
SHANGHAI = pendulum.timezone("Asia/Shanghai")


# -- generated arguments, by kind ----------------------------------------------

# years before, inside and after the official calendar data
_dates = st.dates(dt.date(1995, 1, 1), dt.date(2060, 12, 31))
_instants = st.builds(
    lambda d, minute, east: pendulum.instance(
        dt.datetime.combine(d, dt.time()) + dt.timedelta(minutes=minute),
        tz=SHANGHAI if east else pendulum.UTC,
    ),
    st.dates(dt.date(1993, 1, 1), dt.date(2060, 12, 31)),
    st.integers(0, 24 * 60 - 1),
    st.booleans(),
)
_times = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
_KINDS: dict[str, tuple[st.SearchStrategy[Any], str]] = {
    "date": (_dates, "date"),
    "datetime": (_instants, "datetime"),
    "int": (st.integers(-3, 40), "int"),
    "time": (_times, "time"),
    # line categories and the set they are tested against
    "tuple": (st.lists(st.sampled_from(["apparel", "fresh", "periodical"]), max_size=3).map(tuple),
              "object"),
    "set": (st.frozensets(st.sampled_from(["fresh", "periodical"])), "object"),
    "money": (st.decimals(0, 2, places=2), "money"),
}  # fmt: skip


def _kind_of(declared: str, draw: Callable[..., Any]) -> str:
    if declared == "ordered":
        return draw(st.sampled_from(["date", "datetime", "int"]))
    if declared == "date|datetime":
        return draw(st.sampled_from(["date", "datetime"]))
    return declared


def _scalar_or_none(function: Function, row: tuple[object, ...]) -> object:
    """The single path's answer; None where an argument is None or it refuses the row."""
    if function.name not in ("earlier", "later") and any(v is None for v in row):
        return None
    try:
        if function.calendar:
            return function.scalar(CALENDAR, *row)
        return function.scalar(*row)
    except (CsrulesError, TypeError, ValueError, OverflowError):
        return None


class TestRegistry:
    def test_every_function_has_its_kernel(self) -> None:
        """Each registered function names a kernel that exists (or runs row by row)."""
        assert FUNCTIONS
        for name, function in FUNCTIONS.items():
            assert function.name == name
            kernel = _kernels.kernel_of(name)
            assert callable(kernel)
            assert (kernel is _kernels.rowwise) != function.vectorised

    def test_a_name_is_registered_once(self) -> None:
        """Registering a taken name is refused."""
        with pytest.raises(ValueError, match="registered already"):
            register(FUNCTIONS["earlier"])

    def test_unknown_function_lists_the_registry(self) -> None:
        """call() with an unknown name is refused, naming the registered functions."""
        with pytest.raises(RuleDefinitionError, match=r"unknown function 'nope'.*add_days"):
            call("nope", fact("a"))

    @pytest.mark.parametrize("name", sorted(FUNCTIONS))
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def test_scalar_and_vectorised_agree(self, name: str, data: st.DataObject) -> None:
        """For every registered function, the numpy form gives the scalar form's answer
        on every row; rows with a None argument, or that the scalar form refuses, are None."""
        function = FUNCTIONS[name]
        kinds = [_kind_of(k, data.draw) for k in function.args]
        if function.name in ("earlier", "later"):
            kinds = [kinds[0]] * len(kinds)  # both sides of one kind
        size = data.draw(st.integers(1, 8))
        columns: dict[str, list[object]] = {}
        for i, kind in enumerate(kinds):
            values, _ = _KINDS[kind]
            columns[f"a{i}"] = data.draw(st.lists(values | st.none(), min_size=size, max_size=size))
        records = [{k: v[row] for k, v in columns.items()} for row in range(size)]
        names = list(columns)
        table = Table(
            "t",
            "one call",
            HitPolicy.FIRST,
            tuple(names),
            ("out",),
            [Rule("B2C-1", TRUE, {"out": call(name, *(fact(n) for n in names))}, en="", zh="")],
        )
        declared = {f"a{i}": _KINDS[k][1] for i, k in enumerate(kinds)}
        frame = facts_frame(records, kinds={k: v for k, v in declared.items() if v != "object"})
        got = compile_table(table).evaluate(frame, {}, CALENDAR).to_python("out")
        expected = [_scalar_or_none(function, tuple(r[n] for n in names)) for r in records]
        assert got == expected


class TestServiceClock:
    @given(
        st.integers(700_000, 800_000),
        st.integers(0, 86_400_000_000 - 1),
        st.integers(0, 10**12),
        st.integers(0, 86_400_000_000 - 2),
        st.integers(1, 86_400_000_000 - 1),
    )
    def test_python_and_numpy_agree(
        self, day: int, now: int, remaining: int, opens: int, width: int
    ) -> None:
        """The one service-hours definition gives the same on ints and on arrays."""
        import numpy as np

        closes = min(opens + width, 86_400_000_000 - 1)
        if closes <= opens:
            return
        scalar = service_clock(day, now, remaining, opens, closes)
        vector = service_clock(
            np.array([day]), np.array([now]), np.array([remaining]), opens, closes, np.where
        )
        assert (int(vector[0][0]), int(vector[1][0])) == scalar
        end_day, at = scalar
        assert opens <= at <= closes
        assert (end_day, at) >= (day, now)


# -- the IR --------------------------------------------------------------------


class TestIR:
    def test_nodes_are_immutable(self) -> None:
        """Nodes are frozen data."""
        node = fact("a") == 1
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            node.op = "!="  # type: ignore[attr-defined,misc]

    def test_a_visitor_is_one_method_per_node(self) -> None:
        """A backend implements the node types it meets; others go to unknown()."""

        class Count(ExprVisitor[int]):
            def fact(self, expr: Fact) -> int:
                return 1

            def const(self, expr: Const) -> int:
                return 0

            def compare(self, expr: Compare) -> int:
                return self.visit(expr.left) + self.visit(expr.right)

        assert Count().visit(fact("a") == fact("b")) == 2
        with pytest.raises(NotImplementedError):
            Count().visit(param("p") == 1)

    def test_unknown_node_refused_by_single_compiler(self) -> None:
        """A node type outside the IR is refused when the table compiles, naming the rule."""

        class Shout(Fact):
            __slots__ = ()

        with pytest.raises(RuleDefinitionError, match=r"table 't', rule 'r'.*Shout"):
            Table(
                "t",
                "x",
                HitPolicy.FIRST,
                ("a",),
                ("out",),
                [Rule("B2C-1", Shout("a"), {"out": 1}, en="", zh="", id="r")],
            )
        assert render(Shout("a")) == "Shout"

    def test_nodes_pickle(self) -> None:
        """Expressions survive pickling and render the same."""
        expr = (fact("a") <= param("p")) & call("add_days", fact("d"), 3).is_not_none()
        again = pickle.loads(pickle.dumps(expr))
        assert again.render() == expr.render()
        assert again is not expr


# -- tables: pickling and threads ---------------------------------------------

_SHIPPED: list[Table] = [
    t
    for module in (returns, complaints, promotions)
    for t in vars(module).values()
    if isinstance(t, Table)
]


class TestPickle:
    def test_shipped_tables_are_found(self) -> None:
        """Every rule set contributes tables to the round trip below."""
        assert {t.name for t in _SHIPPED} >= {"return_action", "complaint_route", "promotion_size"}

    @pytest.mark.parametrize("table", _SHIPPED, ids=lambda t: t.name)
    def test_round_trip_keeps_the_definition(self, table: Table) -> None:
        """A pickled table comes back with the same rules, rows and parameters."""
        again = pickle.loads(pickle.dumps(table))
        assert again.rows() == table.rows()
        assert again.params() == table.params()
        assert again.hit_policy is table.hit_policy

    def test_round_trip_decides_the_same(self) -> None:
        """Every table of a decision, pickled and loaded, gives the same outcome."""
        from pathlib import Path

        from csrules import decide
        from csrules.io import parse_case_line

        policy = default_policy()
        lines = (Path(__file__).parent.parent / "examples" / "cases.jsonl").read_text("utf-8")
        checked = 0
        for line in lines.splitlines():
            decision = decide(parse_case_line(line), policy=policy)  # type: ignore[arg-type]
            for result in decision.trace.results:
                again = pickle.loads(pickle.dumps(result.table))
                other = again.evaluate(result.facts, result.params, policy.calendar)
                assert [i for i, _ in other.hits] == [i for i, _ in result.hits]
                assert other.outputs == result.outputs
                assert other.table is again
                checked += 1
        assert checked > 10

    def test_vectorised_form_is_rebuilt(self) -> None:
        """The batch form kept with a table is compiled again after unpickling."""
        table = returns.FREIGHT_PAYER
        first = table.vectorised()
        assert table.vectorised() is first
        again = pickle.loads(pickle.dumps(table))
        assert again.vectorised() is not first
        assert again.vectorised().table is again

    def test_batch_form_round_trip_decides_the_same(self) -> None:
        """A compiled batch table pickles (it is compiled again) and gives the same columns."""
        import numpy as np

        table = Table(
            "t",
            "x",
            HitPolicy.FIRST,
            ("d", "n"),
            ("out",),
            [
                Rule(
                    "B2C-1",
                    fact("n") > 3,
                    {"out": call("add_working_days", fact("d"), fact("n"))},
                    en="",
                    zh="",
                    id="far",
                ),
                Rule("B2C-2", TRUE, {"out": fact("d")}, en="", zh="", id="near"),
            ],
        )
        compiled = compile_table(table)
        again = pickle.loads(pickle.dumps(compiled))
        columns = {
            "d": np.array([dt.date(2026, 9, 30).toordinal(), dt.date(2040, 1, 1).toordinal()]),
            "n": np.array([5, 2]),
        }
        first = compiled.evaluate(columns, {}, CALENDAR)
        second = again.evaluate(columns, {}, CALENDAR)
        assert second.rule_index.tolist() == first.rule_index.tolist() == [0, 1]
        assert second.to_python("out") == first.to_python("out")


class TestThreads:
    def test_one_table_many_threads(self) -> None:
        """Threads evaluating one table, and compiling its batch form, see their own answers."""
        table = Table(
            "t",
            "x",
            HitPolicy.FIRST,
            ("n",),
            ("out",),
            [
                Rule("B2C-1", fact("n") < 0, {"out": fact("n") * 2}, en="", zh="", id="neg"),
                Rule("B2C-2", TRUE, {"out": fact("n") + 1}, en="", zh="", id="other"),
            ],
        )
        errors: list[BaseException] = []
        barrier = threading.Barrier(6)

        def worker(offset: int) -> None:
            try:
                barrier.wait()
                assert table.vectorised().table is table
                for i in range(-200, 200):
                    n = i * 7 + offset
                    out = table.evaluate({"n": n}, {}).outputs["out"]
                    assert out == (n * 2 if n < 0 else n + 1)
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []


class TestCollectOutputs:
    def test_outputs_gather_the_values_of_the_rules_that_fired(self) -> None:
        """collect tables: each output is the tuple of the fired rules' values, in order."""
        from pathlib import Path

        from csrules import decide
        from csrules.io import parse_case_line

        policy = default_policy()
        lines = (Path(__file__).parent.parent / "examples" / "cases.jsonl").read_text("utf-8")
        checked = 0
        for line in lines.splitlines():
            decision = decide(parse_case_line(line), policy=policy)  # type: ignore[arg-type]
            for result in decision.trace.results:
                table = result.table
                if table.hit_policy is not HitPolicy.COLLECT:
                    continue
                fired = table.matches(result.facts, result.params, policy.calendar)
                assert [i for i, _ in result.hits] == list(fired)
                for name in table.outputs:
                    assert result.outputs[name] == tuple(
                        out[name] for _, out in result.hits if name in out
                    )
                    setting = [i for i, _ in result.hits if name in table.rules[i].then]
                    assert len(result.outputs[name]) == len(setting)
                checked += 1
        assert checked > 3


class TestMissingArguments:
    @pytest.mark.parametrize("name", sorted(FUNCTIONS))
    def test_a_missing_argument_gives_none_on_the_single_path(self, name: str) -> None:
        """As on the batch path: a None date, time or count gives None, never an
        error (``earlier`` and ``later`` take the other side; ``zhe`` and
        ``days_between`` give None too)."""
        function = FUNCTIONS[name]
        for position in range(len(function.args)):
            if function.args[position] == "set":
                continue  # a set of constants is never missing
            args = [_SAMPLES[k] for k in function.args]
            args[position] = None
            if function.calendar:
                args.insert(0, CALENDAR)
            result = function.scalar(*args)
            if name in ("earlier", "later"):
                assert result is not None
            else:
                assert result is None, (name, position, result)


_SAMPLES: dict[str, object] = {
    "date": dt.date(2026, 5, 6),
    "datetime": pendulum.datetime(2026, 5, 6, 10, tz="Asia/Shanghai"),
    "int": 3,
    "time": dt.time(10, 0),
    "ordered": dt.date(2026, 5, 6),
    "date|datetime": dt.date(2026, 5, 6),
    "tuple": ("apparel",),
    "set": frozenset({"apparel"}),
    "money": decimal.Decimal("0.7"),
}
