"""Tables of cases (pyarrow, polars, pandas): the frame path equals ``csrules decide``."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import csrules
from csrules import testing as cst
from csrules.cli import decide_line
from csrules.exceptions import ArgumentTypeError, DomainValueError
from csrules.io import (
    _frames,
    _frames_fast,
    _frames_text,
    case_to_json,
    decide_arrow,
    decision_schema,
)

pa = pytest.importorskip("pyarrow")

RULES = csrules.ruleset("b2c")
KINDS = ("return", "complaint", "promotion", "price_adjustment")
STRATEGIES = {
    "return": cst.return_cases,
    "complaint": cst.complaint_cases,
    "promotion": cst.promotion_cases,
    "price_adjustment": cst.price_adjustment_cases,
}


# ------------------------------------------------------------------ cases as rows


def _leaves(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A JSON case as dotted-path cells (``order.lines`` stays one cell)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = prefix + key
        if isinstance(value, dict):
            out.update(_leaves(value, path + "."))
        else:
            out[path] = value
    return out


def _flat_lines(row: dict[str, Any]) -> dict[str, Any]:
    lines = row.pop("order.lines", None)
    for i, line in enumerate(lines or []):
        for key, value in line.items():
            row[f"order.lines.{i}.{key}"] = value
    return row


BAD_TEXT = ("", "nope", "2026-05-06T10:00:00", "-1.00", "1e3", "2026-13-40T00:00:00+08:00",
            "0001-01-01T00:00:00+08:00", "REFUND", " signed")  # fmt: skip


@st.composite
def broken(draw: st.DrawFn, case: dict[str, Any]) -> dict[str, Any]:
    """A case with one thing wrong (or kept valid): a key removed, a text value
    replaced, an unknown key added, a line's price made bad."""
    case = json.loads(json.dumps(case))
    what = draw(
        st.sampled_from(["valid", "valid", "drop", "text", "unknown", "line", "time", "label"])
    )
    leaves = [p for p, v in _leaves(case).items()]
    if what == "drop":
        path = draw(st.sampled_from(leaves)).split(".")
        target = case
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    elif what == "text":
        texts = [p for p, v in _leaves(case).items() if isinstance(v, str)]
        path = draw(st.sampled_from(texts)).split(".")
        target = case
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(st.sampled_from(BAD_TEXT))
    elif what == "unknown":
        section = draw(st.sampled_from([k for k, v in case.items() if isinstance(v, dict)] or [""]))
        target = case[section] if section else case
        target[draw(st.sampled_from(["statuss", "courier_confirmd", "vip", "zz"]))] = "x"
    elif what == "time":
        # one time moved to just before another: typed columns stay typed
        times = [p for p, v in _leaves(case).items() if isinstance(v, str) and _is_time(v)]
        moved, anchor = draw(st.sampled_from(times)), draw(st.sampled_from(times))
        earlier = dt.datetime.fromisoformat(_leaves(case)[anchor]) - dt.timedelta(
            minutes=draw(st.sampled_from([1, 60 * 24 * 400]))
        )
        path = moved.split(".")
        target = case
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = earlier.isoformat()
    elif what == "label" and case["kind"] == "return":
        section, key, values = draw(st.sampled_from([
            ("order", "status", [m.value for m in csrules.OrderStatus]),
            ("order", "payment_method", [m.value for m in csrules.PaymentMethod]),
            ("request", "type", [m.value for m in csrules.RequestType]),
            ("request", "reason", [m.value for m in csrules.Reason]),
        ]))  # fmt: skip
        case[section][key] = draw(st.sampled_from(values))
    elif what == "line" and case["kind"] == "return":
        line = case["order"]["lines"][draw(st.integers(0, len(case["order"]["lines"]) - 1))]
        key, value = draw(st.sampled_from([
            ("unit_price", "-1.00"), ("unit_price", "1.005"), ("unit_price", "abc"),
            ("unit_price", "0"), ("quantity", 0), ("quantity", -3), ("sku", ""),
            ("category", ""), ("category", "fresh"),
        ]))  # fmt: skip
        line[key] = value
    return case


def _is_time(text: str) -> bool:
    try:
        return dt.datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def _table(rows: list[dict[str, Any]], typed: bool) -> Any:
    names: list[str] = []
    for row in rows:
        names.extend(n for n in row if n not in names)
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if typed and name == "order.lines":
            values = _typed_lines(values)
        array = pa.array(values)
        if typed and pa.types.is_string(array.type):
            array = _typed(array)
        columns[name] = array
    return pa.table(columns) if columns else pa.table({"id": pa.array([], pa.string())})


def _typed_lines(values: list[Any]) -> list[Any]:
    """Line prices as decimals (the Parquet layout), when every one reads so."""
    if not all(v is None or isinstance(v, list) for v in values):
        return values
    prices = [line.get("unit_price") for lines in values if lines for line in lines]
    if not all(isinstance(p, str) and re.fullmatch(r"-?[0-9]+\.[0-9]{2}", p) for p in prices):
        return values
    return [
        None
        if lines is None
        else [{**line, "unit_price": Decimal(line["unit_price"])} for line in lines]
        for lines in values
    ]


def _typed(array: Any) -> Any:
    """A text column of times or amounts as timestamps or decimals, when all of it reads so."""
    values = array.to_pylist()
    present = [v for v in values if v is not None]
    if not present:
        return array
    try:
        times = [None if v is None else dt.datetime.fromisoformat(v) for v in values]
        if all(t is None or (t.tzinfo is not None and 1900 < t.year < 9000) for t in times):
            return pa.array(times, pa.timestamp("us", tz="UTC"))
    except ValueError:
        pass
    if all(v.replace(".", "", 1).isdigit() and len(v.partition(".")[2]) == 2 for v in present):
        return pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(18, 2))
    return array


#: The contract's type of each dotted path (the codec's field tables).
LABELS = _frames._field_types(RULES)


def _as_read(case: dict[str, Any], *, flat: bool = False) -> dict[str, Any]:
    """The JSON case a table row holding ``case``'s cells stands for: an empty
    text cell is an absent key (in flat line columns too, with ``flat``; in a
    list or JSON text of lines it is the empty text it is)."""
    case = json.loads(json.dumps(case))

    def walk(obj: dict[str, Any]) -> None:
        for key in list(obj):
            value = obj[key]
            if isinstance(value, dict):
                walk(value)
            elif value == "":
                del obj[key]
            elif flat and key == "lines" and isinstance(value, list):
                for line in value:
                    if isinstance(line, dict):
                        walk(line)
                obj[key] = [line for line in value if line != {}]

    walk(case)
    return case


def _expected(cases: list[dict[str, Any]], monitor: Any = None) -> list[dict[str, Any]]:
    return [
        decide_line(json.dumps(c, ensure_ascii=False), i + 1, ruleset=RULES, monitor=monitor)[0]
        for i, c in enumerate(cases)
    ]


def _json_of(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _assert_same(out: Any, expected: list[dict[str, Any]], *, exact_messages: bool = True) -> None:
    """The frame's output equals the JSON lines, field by field. With timestamp
    columns (``exact_messages=False``) a message shows a time at the column's
    zone, not at the offset the JSON text had: the code and the field it names
    must agree."""
    rows = out.to_pylist()
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        assert got["id"] == want["id"]
        assert got["row"] == want["line"]
        if "error" in want:
            assert got["error.code"] == want["error"]["code"], want
            if exact_messages:
                assert got["error.message"] == want["error"]["message"], want
            else:
                assert got["error.message"].split(" ")[0] == want["error"]["message"].split(" ")[0]
            assert got["kind"] is None
            assert all(v is None for k, v in got.items() if k.startswith("decision."))
            continue
        assert got["error.code"] is None, got["error.message"]
        assert got["error.message"] is None
        assert got["kind"] == want["kind"]
        body = dict(want["decision"])
        body.pop("explanation")
        body.pop("parameters", None)
        assert got["decision.legal_floor"] is body.pop("legal_floor", True)
        for key, value in body.items():
            assert _json_of(got[f"decision.{key}"]) == value, key
        kind_columns = set(decision_schema(RULES, want["kind"]).names)
        for name, value in got.items():
            if name.startswith("decision.") and name not in kind_columns:
                assert value is None, name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # fmt: skip
@given(data=st.data(), kind=st.sampled_from(KINDS),
       layout=st.sampled_from(["list", "json", "flat"]),
       typed=st.booleans())  # fmt: skip
def test_frame_equals_decide_lines(data: Any, kind: str, layout: str, typed: bool) -> None:
    cases = [
        data.draw(broken(case_to_json(c)))
        for c in data.draw(st.lists(STRATEGIES[kind](), min_size=1, max_size=5))
    ]
    rows = []
    for case in cases:
        row = _leaves(case)
        if layout == "json" and "order.lines" in row:
            row["order.lines"] = json.dumps(row["order.lines"])
        elif layout == "flat":
            row = _flat_lines(row)
        rows.append(row)
    table = _table(rows, typed)
    out = decide_arrow(RULES, table)
    assert out.schema == decision_schema(RULES)
    expected = _expected([_as_read(c, flat=layout == "flat") for c in cases])
    _assert_same(out, expected, exact_messages=not typed)
    if all(c.get("kind") == kind for c in cases):
        one = decide_arrow(RULES, table, kind=kind, first_row=1)
        assert one.schema == decision_schema(RULES, kind)


@settings(max_examples=10, deadline=None)
@given(st.lists(cst.cases(), min_size=1, max_size=8))
def test_mixed_kinds_and_offsets(cases: list[Any]) -> None:
    jsons = [case_to_json(c) for c in cases]
    table = _table([_leaves(j) for j in jsons], typed=False)
    out = decide_arrow(RULES, table, first_row=41)
    expected = _expected(jsons)
    for want in expected:
        want["line"] += 40
    _assert_same(out, expected)


@settings(max_examples=10, deadline=None)
@given(st.lists(cst.complaint_cases(), min_size=2, max_size=8))
def test_complaints_through_a_monitor(cases: list[Any]) -> None:
    from csrules.stream import EscalationMonitor

    jsons = [case_to_json(c) for c in cases]
    jsons.sort(key=lambda j: j["at"])
    table = _table([_leaves(j) for j in jsons], typed=False)
    out = decide_arrow(RULES, table, monitor=EscalationMonitor(RULES.policy, backend="reference"))
    expected = _expected(jsons, EscalationMonitor(RULES.policy, backend="reference"))
    _assert_same(out, expected)


# ------------------------------------------------------------------ data frames


def _sample() -> list[dict[str, Any]]:
    return [
        {
            "id": f"r{i}", "kind": "return", "at": "2026-05-06T10:00:00+08:00",
            "order": {"id": "X1", "customer_id": "C1", "status": "confirmed_unpaid",
                      "placed_at": "2026-05-06T09:00:00+08:00",
                      "lines": [{"sku": "8892", "unit_price": "200.00", "quantity": 1}]},
            "request": {"type": "cancel", "reason": reason},
        }
        for i, reason in enumerate(["changed_mind", "stock_out", "bogus"])
    ]  # fmt: skip


def test_polars_round_trip() -> None:
    pl = pytest.importorskip("polars")
    cases = _sample()
    frame = pl.from_arrow(_table([_leaves(c) for c in cases], typed=True))
    out = RULES.decide_frame(frame)
    assert isinstance(out, pl.DataFrame)
    _assert_same(out.to_arrow(), _expected(cases))


def test_polars_typed_returns_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """polars' large strings and large lists are read like plain ones."""
    pl = pytest.importorskip("polars")

    cases = [case_to_json(c) for c in _sample_returns()[:20]]
    frame = pl.from_arrow(_table([_leaves(c) for c in cases], typed=True))
    assert pa.types.is_large_string(frame.to_arrow().schema.field("id").type)
    exact_rows = _count_exact(monkeypatch)
    out = RULES.decide_frame(frame)
    assert len(exact_rows) < len(cases)
    _assert_same(out.to_arrow(), _expected(cases), exact_messages=False)


def test_pandas_round_trip() -> None:
    pd = pytest.importorskip("pandas")
    cases = _sample()
    frame = _table([_leaves(c) for c in cases], typed=True).to_pandas()
    assert isinstance(frame, pd.DataFrame)
    for name in ("at", "order.placed_at"):
        frame[name] = frame[name].astype("datetime64[ns, UTC]")  # as older pandas reads times
    out = csrules.decide_frame(frame, "b2c")
    assert isinstance(out, pd.DataFrame)
    assert out["error.code"].isna().tolist() == [True, True, False]
    assert out["error.code"][2] == "invalid_value"
    assert list(out["decision.action"][:2]) == ["cancel", "cancel"]


# ------------------------------------------------------------------ column-level problems


def test_naive_timestamps_need_tz() -> None:
    rows = [_leaves(c) for c in _sample()[:1]]
    table = _table(rows, typed=False)
    naive = pa.array([dt.datetime(2026, 5, 6, 10)], pa.timestamp("us"))
    table = table.set_column(table.column_names.index("at"), "at", naive)
    with pytest.raises(DomainValueError, match="'at'") as raised:
        decide_arrow(RULES, table)
    assert "(got a timestamp[us] column, without a time zone)" in str(raised.value)
    out = decide_arrow(RULES, table, tz="Asia/Shanghai")
    assert out.column("decision.action").to_pylist() == ["cancel"]
    # naive strings read in tz too; without tz they are the codec's invalid_value
    text = table.set_column(table.column_names.index("at"), "at", pa.array(["2026-05-06T10:00"]))
    assert decide_arrow(RULES, text).column("error.code").to_pylist() == ["invalid_value"]
    assert decide_arrow(RULES, text, tz="Asia/Shanghai").column("error.code").to_pylist() == [None]


def test_float_money_is_refused() -> None:
    table = _table([_flat_lines(_leaves(c)) for c in _sample()[:1]], typed=False)
    index = table.column_names.index("order.lines.0.unit_price")
    table = table.set_column(index, "order.lines.0.unit_price", pa.array([200.0]))
    with pytest.raises(DomainValueError, match="never float"):
        decide_arrow(RULES, table)


def test_flags_as_zero_one() -> None:
    case = _sample()[0]
    case["order"]["free_shipping_promotion"] = True
    row = _leaves(case)
    row["order.free_shipping_promotion"] = 1
    out = decide_arrow(RULES, _table([row], typed=False))
    assert out.to_pylist()[0]["decision.action"] == "cancel"
    row["order.free_shipping_promotion"] = 2
    assert decide_arrow(RULES, _table([row], typed=False)).column("error.code").to_pylist() == [
        "invalid_value"
    ]


def test_overlapping_columns_and_kind_conflict() -> None:
    row = _leaves(_sample()[0])
    table = _table([row], typed=False).append_column("order", pa.array(["x"]))
    with pytest.raises(DomainValueError, match="one or the other"):
        decide_arrow(RULES, table)
    with pytest.raises(DomainValueError, match="kind"):
        decide_arrow(RULES, _table([row], typed=False), kind="complaint")
    with pytest.raises(ArgumentTypeError):
        decide_arrow(RULES, [row])  # type: ignore[arg-type]


def test_meta_passes_through_and_empty_input() -> None:
    rows = [_leaves(c) for c in _sample()]
    table = _table(rows, typed=False).append_column("meta.batch", pa.array([7, 8, 9]))
    out = decide_arrow(RULES, table, kind="return", explanations=True, parameters=True)
    assert out.column("meta.batch").to_pylist() == [7, 8, 9]
    assert out.schema == decision_schema(
        RULES, "return", explanations=True, parameters=True, input_schema=table.schema
    )
    first = out.to_pylist()[0]
    assert first["decision.explanation"]
    assert "refund_working_days" in json.loads(first["decision.parameters"]) or first[
        "decision.parameters"
    ].startswith("{")
    empty = decide_arrow(RULES, table.slice(0, 0), kind="return")
    assert empty.num_rows == 0
    assert empty.schema == decision_schema(RULES, "return", input_schema=table.schema)


def test_fast_path_is_taken_and_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Typed return rows go the vectorised path, with the line path's answers."""

    cases = [case_to_json(c) for c in _sample_returns()]
    table = _table([_leaves(c) for c in cases], typed=True)
    assert pa.types.is_timestamp(table.schema.field("at").type)
    exact_rows = _count_exact(monkeypatch)
    fast = decide_arrow(RULES, table)
    assert len(exact_rows) < len(cases) // 2
    _assert_same(fast, _expected(cases))
    exact_rows.clear()
    assert decide_arrow(RULES, table, fast=False).equals(fast)
    assert len(exact_rows) == len(cases)


def _sample_returns() -> list[Any]:
    from hypothesis import find

    found: list[Any] = []

    @settings(max_examples=60, deadline=None, database=None)
    @given(cst.return_cases())
    def collect(case: Any) -> None:
        found.append(case)

    del find
    collect()
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # fmt: skip
@given(data=st.data())
def test_typed_returns_equal_decide_lines(data: Any) -> None:
    """Returns in the Parquet layout (the vectorised path), valid and broken."""
    cases = [
        data.draw(broken(case_to_json(c)))
        for c in data.draw(st.lists(cst.return_cases(), min_size=1, max_size=12))
    ]
    table = _table([_leaves(c) for c in cases], typed=True)
    expected = _expected([_as_read(c) for c in cases])
    _assert_same(decide_arrow(RULES, table), expected, exact_messages=False)


def _as_dictionaries(
    table: Any,
    names: Any,
    cut: int | None,
    index: Any = None,
    value: Any = None,
    nulls: str = "mask",
) -> Any:
    """``table`` with the text columns ``names`` as dictionaries, as Parquet's
    dictionary pages read or pandas' categoricals convert: in two chunks cut
    at row ``cut`` (each chunk its own dictionary, with a value no row points
    to), or in one (``cut`` None); indices of type ``index`` (int32), values of
    type ``value`` (string), a null in the dictionary with ``nulls="encode"``."""
    index = index or pa.int32()
    value = value or pa.string()
    for name in names:
        if name not in table.column_names or not pa.types.is_string(table.column(name).type):
            continue
        column = table.column(name).combine_chunks()
        parts = [column] if cut is None else [column.slice(0, cut), column.slice(cut)]
        chunks = []
        for part in parts:
            encoded = part.dictionary_encode(null_encoding=nulls)
            spare = pa.concat_arrays([encoded.dictionary, pa.array(["unused"], pa.string())])
            chunks.append(
                pa.DictionaryArray.from_arrays(encoded.indices.cast(index), spare.cast(value))
            )
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, pa.chunked_array(chunks))
    return table


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # fmt: skip
@given(data=st.data(), mixed=st.booleans())
def test_dictionary_text_columns_decide_as_plain_text(data: Any, mixed: bool) -> None:
    """A table whose text columns are dictionaries (as a Parquet reader gives
    them) gets the decisions of the same table in plain text: values, nulls,
    values outside the contract, rows of every kind (returns alone take the
    vectorised path), a chunk per dictionary."""
    strategy = cst.cases() if mixed else cst.return_cases()
    typed = data.draw(st.booleans()) if mixed else True  # typed returns: the vectorised path
    cases = [
        data.draw(broken(c) if data.draw(st.integers(0, 5)) == 0 else st.just(c))
        for c in map(
            case_to_json, data.draw(st.lists(strategy, min_size=1 if mixed else 6, max_size=16))
        )
    ]
    for case in cases:  # nulls among the values (an optional one, or a missing one)
        gone = data.draw(st.sampled_from(["", "", "order.payment_method", "order.status",
                                          "request.type", "request.reason"]))  # fmt: skip
        if gone and case.get("kind") == "return":
            section, key = gone.split(".")
            case.get(section, {}).pop(key, None)
    table = _table([_leaves(c) for c in cases], typed)
    every_text = [n for n in table.column_names if pa.types.is_string(table.schema.field(n).type)]
    names = data.draw(st.sampled_from([sorted(_frames_fast.DICTIONARY_COLUMNS), every_text]))
    encoded = _as_dictionaries(
        table,
        names,
        data.draw(st.none() | st.integers(0, table.num_rows)),
        index=data.draw(st.sampled_from([pa.int8(), pa.int32(), pa.uint16()])),
        value=data.draw(st.sampled_from([pa.string(), pa.large_string()])),
        nulls=data.draw(st.sampled_from(["mask", "encode"])),
    )
    assert decide_arrow(RULES, encoded).equals(decide_arrow(RULES, table))


def test_dictionary_enum_columns_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Returns whose statuses, methods, types and reasons come as dictionaries are
    decided by their codes, with the answers of plain text."""
    cases = [case_to_json(c) for c in _sample_returns()]
    table = _table([_leaves(c) for c in cases], typed=True)
    encoded = _as_dictionaries(table, _frames_fast.DICTIONARY_COLUMNS, len(cases) // 3)
    assert pa.types.is_dictionary(encoded.schema.field("request.reason").type)
    lines = _count_exact(monkeypatch)
    out = decide_arrow(RULES, encoded)
    assert len(lines) < len(cases) // 2
    assert out.equals(decide_arrow(RULES, table, fast=False))


def test_dictionaries_that_do_not_unify_are_read_as_text() -> None:
    """Chunks whose dictionaries cannot be put together (int8 indices over more
    than 127 values in all, or a null among the values) are read as text:
    the rows are decided as the plain table's, with text columns beside them."""
    cases = []
    for copy in range(3):
        for i, case in enumerate(case_to_json(c) for c in _sample_returns()):
            case["id"] = f"{case['id']}-{copy}"
            case["request"]["reason"] = f"note {copy}-{i}"  # a value of its own: its error
            if i % 9 == 0:
                del case["order"]["status"]  # missing: its error
            cases.append(case)
    table = _table([_leaves(c) for c in cases], typed=True)
    table = table.set_column(
        table.schema.get_field_index("at"), "at", table.column("at").cast(pa.string())
    )  # text times: every column goes through the text conversion too
    expected = decide_arrow(RULES, table)
    parts = [
        _as_dictionaries(table.slice(start, 20), ["request.reason"], None, pa.int8())
        for start in range(0, table.num_rows, 20)
    ]  # a dictionary of 20 values each: more than 127 in all
    narrow = pa.concat_tables(parts)
    assert narrow.column("request.reason").num_chunks == len(parts) > 7
    assert decide_arrow(RULES, narrow).equals(expected)
    with_nulls = _as_dictionaries(table, ["order.status"], 7, nulls="encode")
    assert with_nulls.column("order.status").chunk(0).dictionary.null_count == 1
    assert decide_arrow(RULES, with_nulls).equals(expected)


def test_pandas_categoricals_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """pandas categorical value columns (dictionaries of large strings with
    pandas 3) are decided by their codes, with the answers of plain text."""
    pd = pytest.importorskip("pandas")
    cases = [case_to_json(c) for c in _sample_returns()]
    frame = _table([_leaves(c) for c in cases], typed=True).to_pandas()
    plain = RULES.decide_frame(frame.copy())
    for name in sorted(_frames_fast.DICTIONARY_COLUMNS):
        frame[name] = frame[name].astype("category")
    assert isinstance(frame["request.reason"].dtype, pd.CategoricalDtype)
    lines = _count_exact(monkeypatch)
    out = RULES.decide_frame(frame)
    assert len(lines) < len(cases) // 2
    pd.testing.assert_frame_equal(out, plain)


def test_a_pandas_cell_with_a_lone_surrogate_is_its_rows_invalid_encoding() -> None:
    """Text read with ``surrogateescape`` (bytes that were not UTF-8) in a pandas
    cell is that row's invalid_encoding; the other rows are decided as before."""
    pd = pytest.importorskip("pandas")
    cases = [case_to_json(c) for c in _sample_returns()[:8]]
    frame = _table([_leaves(c) for c in cases], typed=True).to_pandas()
    plain = RULES.decide_frame(frame.copy())
    frame["order.id"] = frame["order.id"].astype(object)  # a column of Python strings
    frame.loc[3, "order.id"] = "bad\udcff"
    out = RULES.decide_frame(frame)
    assert out.loc[3, "error.code"] == "invalid_encoding"
    assert out.loc[3, "error.message"].startswith("order.id: not UTF-8")
    others = [i for i in range(len(cases)) if i != 3]
    pd.testing.assert_frame_equal(  # a column with the error row's null is of objects
        out.iloc[others], plain.iloc[others], check_dtype=False
    )


def test_list_columns_too_long_for_int32_offsets_come_in_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rule lists whose values int32 offsets cannot hold in one array are built
    in chunks, with the same rows."""
    cases = [case_to_json(c) for c in _sample_returns()]
    table = _table([_leaves(c) for c in cases], typed=True)
    whole = decide_arrow(RULES, table)
    monkeypatch.setattr(_frames_fast, "_MAX_LIST_VALUES", 7)
    assert decide_arrow(RULES, table).equals(whole)
    import numpy as np

    lists = [["a", "b"], [], ["c"]]
    inverse = np.array([0, 1, 2, 2, 0, 1, 0], dtype=np.intp)
    column = _frames_fast._lists(pa, lists, inverse)
    assert column.num_chunks == 3  # three rows of up to two values a chunk
    assert column.to_pylist() == [lists[i] for i in inverse]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), bits=st.sampled_from([4, 62]))
def test_fired_rule_keys_are_equal_exactly_for_the_same_rules(data: Any, bits: int) -> None:
    """Two rows get the same key exactly when they fired the same rules (one
    number when it fits in ``bits``, else the numbers of the distinct parts)."""
    import numpy as np

    rows = data.draw(st.integers(1, 30))
    counts = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    firsts = [
        (np.array(data.draw(st.lists(st.integers(-1, c - 1), min_size=rows, max_size=rows)),
                  dtype=np.intp), c)
        for c in counts
    ]  # fmt: skip
    width = data.draw(st.integers(0, 61))
    flat = data.draw(st.lists(st.booleans(), min_size=rows * width, max_size=rows * width))
    hits = np.array(flat, dtype=bool).reshape(width, rows).T  # as evaluate stacks them
    old = _frames_fast._KEY_BITS
    try:
        _frames_fast._KEY_BITS = bits
        key = _frames_fast._fired_key(firsts, hits)
    finally:
        _frames_fast._KEY_BITS = old
    fired = [(tuple(int(i[r]) for i, _ in firsts), tuple(hits[r])) for r in range(rows)]
    for a in range(rows):
        for b in range(rows):
            assert (key[a] == key[b]) == (fired[a] == fired[b])


def test_times_out_of_any_range_are_row_errors() -> None:
    """A timestamp beyond what Python holds is the row's invalid_value, not a crash."""
    rows = [_leaves(c) for c in _sample()[:2]]
    table = _table(rows, typed=False)
    at = pa.array([2**62, 0], pa.timestamp("us", tz="UTC"))
    table = table.set_column(table.column_names.index("at"), "at", at)
    out = decide_arrow(RULES, table)
    assert out.column("error.code").to_pylist() == ["invalid_value", "invalid_value"]
    assert "out of range" in out.column("error.message")[0].as_py()


def test_bytes_that_are_not_utf8_are_invalid_encoding() -> None:
    """A binary column is read as UTF-8 text; a cell that is not is the row's invalid_encoding."""
    rows = [_leaves(c) for c in _sample()[:2]]
    table = _table(rows, typed=False)
    ids = pa.array([b"ok", b"\xff\xfe"], pa.binary())
    table = table.set_column(table.column_names.index("id"), "id", ids)
    out = decide_arrow(RULES, table).to_pylist()
    assert (out[0]["id"], out[0]["error.code"]) == ("ok", None)
    assert out[1]["error.code"] == "invalid_encoding"
    assert "id: not UTF-8" in out[1]["error.message"]


# ------------------------------------------------------------------ tables of text (CSV)

#: Cells a text table may hold that do not read as the field's type; the
#: JSON case holds the same text, which the codec refuses.
BAD_CELLS = {
    "boolean": ["yes", "2", "t", "nein"],
    "integer": ["1.5", "one", "0x1", "--1"],
    "money": ["1.005", "abc", "-1.00", "1e3", "１２"],
    "time": ["2026-05-06T10:00:00", "2026-13-40T00:00:00+08:00",
             "0001-01-01T00:00:00+08:00", "2026-05-06 10:00:00+08:00"],
}  # fmt: skip


@st.composite
def broken_cell(draw: st.DrawFn, case: dict[str, Any]) -> dict[str, Any]:
    """A case with a typed field's value replaced by text that does not read,
    or emptied (an empty cell: an absent key), or kept."""
    case = json.loads(json.dumps(case))
    typed = [p for p in _leaves(case) if LABELS.get(p) in BAD_CELLS]
    what = draw(st.sampled_from(["valid", "valid", "bad", "empty"]))
    if what == "valid" or not typed:
        return case
    path = draw(st.sampled_from(typed))
    target = case
    for key in path.split(".")[:-1]:
        target = target[key]
    key = path.split(".")[-1]
    target[key] = "" if what == "empty" else draw(st.sampled_from(BAD_CELLS[LABELS[path]]))
    return case


def _text_cell(pick: Any, value: Any) -> str | None:
    """A JSON value as a CSV exporter writes it."""
    if value is None:
        return pick([None, ""])  # type: ignore[no-any-return]
    if isinstance(value, bool):
        words = [["false", "False", "0", "FALSE"], ["true", "True", "1"]][value]
        return pick(words)  # type: ignore[no-any-return]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _text_table(pick: Any, cases: list[dict[str, Any]], layout: str) -> Any:
    rows = []
    for case in cases:
        row = _leaves(case)
        if layout == "flat":
            row = _flat_lines(row)
        # a null object (``"condition": null``) is its fields' empty cells
        row = {k: v for k, v in row.items() if not (v is None and LABELS.get(k) == "object")}
        rows.append({k: _text_cell(pick, v) for k, v in row.items()})
    names: list[str] = []
    for row in rows:
        names.extend(n for n in row if n not in names)
    # a cell a row does not have is empty, as in a CSV file
    columns = {n: pa.array([row.get(n, pick([None, ""])) for row in rows],
                           pa.string()) for n in names}  # fmt: skip
    return pa.table(columns)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # fmt: skip
@given(data=st.data(), kind=st.sampled_from(KINDS), layout=st.sampled_from(["json", "flat"]))
def test_text_tables_equal_decide_lines(data: Any, kind: str, layout: str) -> None:
    """Every column text (a CSV read as text): the same answers as the JSON lines,
    field by field and message by message, valid and broken cells alike."""
    cases = [
        data.draw(data.draw(st.sampled_from([broken, broken_cell]))(case_to_json(c)))
        for c in data.draw(st.lists(STRATEGIES[kind](), min_size=1, max_size=6))
    ]
    table = _text_table(lambda options: data.draw(st.sampled_from(options)), cases, layout)
    assert all(pa.types.is_string(t) for t in table.schema.types)
    expected = _expected([_as_read(c, flat=layout == "flat") for c in cases])
    _assert_same(decide_arrow(RULES, table), expected)
    if kind == "return":
        _assert_same(decide_arrow(RULES, table, fast=False), expected)


def _count_exact(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    exact_rows: list[int] = []
    original = _frames.decide_rows

    def counting(*args: Any, **kwargs: Any) -> Any:
        for i, result in original(*args, **kwargs):
            exact_rows.append(i)
            yield i, result

    monkeypatch.setattr(_frames, "decide_rows", counting)
    return exact_rows


@pytest.mark.parametrize("layout", ["flat", "json"])
def test_text_returns_take_the_fast_path(monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    """Valid returns as text, flat lines or JSON lines: the vectorised path, the codec's answers."""
    cases = [case_to_json(c) for c in _sample_returns()]
    table = _text_table(random.Random(5).choice, cases, layout)
    exact_rows = _count_exact(monkeypatch)
    out = decide_arrow(RULES, table)
    assert len(exact_rows) < len(cases) // 2
    _assert_same(out, _expected(cases))


def _generated_csv(tmp_path: Any, *args: str) -> Any:
    import pyarrow.csv as pcsv
    from tests.test_generate import generate  # the example script, loaded

    path = tmp_path / "cases.csv"
    assert generate.main([str(path), *args], out=io.StringIO(), err=io.StringIO()) == 0
    names = pcsv.read_csv(path).column_names
    options = pcsv.ConvertOptions(column_types={n: pa.string() for n in names})
    return path, pcsv.read_csv(path, convert_options=options)


@pytest.mark.parametrize("max_lines", [1, 3])
def test_csv_read_as_text_is_decided(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, max_lines: int
) -> None:
    """The analyst's scenario: examples/generate.py's CSV read with every column as text."""
    import pyarrow.compute as pc

    _, table = _generated_csv(
        tmp_path, "--kind", "return", "--rows", "400", "--flat-lines", "--max-lines", str(max_lines)
    )
    exact_rows = _count_exact(monkeypatch)
    out = RULES.decide_frame(table, kind="return")
    assert out.column("error.code").null_count == table.num_rows
    assert len(exact_rows) < table.num_rows // 10
    exact_rows.clear()
    assert RULES.decide_frame(table, kind="return", fast=False).equals(out)
    # empty cells read as nulls (as csrules batch reads CSV): the same
    nulls = pa.table({n: pc.if_else(pc.equal(c, ""), pa.scalar(None, pa.string()), c)
                      for n, c in zip(table.column_names, table.columns, strict=True)})  # fmt: skip
    assert RULES.decide_frame(nulls, kind="return").equals(out)
    # naive times read in tz=Asia/Shanghai: the same decisions
    naive = pa.table({
        n: pc.replace_substring_regex(c, r"\+08:00$", "") if LABELS.get(n) == "time" else c
        for n, c in zip(table.column_names, table.columns, strict=True)
    })  # fmt: skip
    assert "+08:00" not in naive.column("at")[0].as_py()
    assert RULES.decide_frame(naive, kind="return", tz="Asia/Shanghai").equals(out)
    refused = RULES.decide_frame(naive, kind="return")
    assert set(refused.column("error.code").to_pylist()) == {"invalid_value"}


def test_csv_with_inferred_types_names_the_float_column(tmp_path: Any) -> None:
    import pyarrow.csv as pcsv

    path, _ = _generated_csv(tmp_path, "--kind", "return", "--rows", "20", "--flat-lines")
    with pytest.raises(DomainValueError, match=r"\(got a double column\)"):
        RULES.decide_frame(pcsv.read_csv(path), kind="return")


def test_an_empty_cell_is_an_absent_key() -> None:
    case = _sample()[0]
    row = {k: str(v) for k, v in _flat_lines(_leaves(case)).items()}
    base = decide_arrow(RULES, pa.table({k: [v] for k, v in row.items()})).to_pylist()[0]
    assert base["decision.action"] == "cancel"
    for name, value in (("order.shipping_fee", ""), ("order.paid_at", ""),
                        ("order.in_warehouse_system", ""), ("order.lines.1.sku", ""),
                        ("order.lines.1.quantity", "")):  # fmt: skip
        with_empty = {**row, name: value}
        got = decide_arrow(RULES, pa.table({k: [v] for k, v in with_empty.items()}))
        assert got.to_pylist()[0] == base, name
    # an empty required cell is missing_field, as the absent key
    without = {**row, "order.placed_at": ""}
    got = decide_arrow(RULES, pa.table({k: [v] for k, v in without.items()})).to_pylist()[0]
    case["order"].pop("placed_at")
    assert got["error.code"] == "missing_field" == _expected([case])[0]["error"]["code"]
    # in a text field too (the contract has no empty text)
    got = decide_arrow(RULES, pa.table({k: [v] for k, v in {**row, "order.id": ""}.items()}))
    assert got.column("error.code").to_pylist() == ["missing_field"]


def test_bad_text_cells_get_the_codec_error() -> None:
    case = _sample()[0]
    row = {k: str(v) for k, v in _flat_lines(_leaves(case)).items()}
    cells = {**row, "order.in_warehouse_system": "yes", "order.lines.0.quantity": "1"}
    out = decide_arrow(RULES, pa.table({k: [v] for k, v in cells.items()})).to_pylist()[0]
    assert out["error.message"] == 'order.in_warehouse_system: expected true or false, got "yes"'


# ------------------------------------------------------------------ one conversion, two forms


def _cells(label: str) -> Any:
    valid = {
        "boolean": st.sampled_from(["true", "false", "1", "0", "TRUE", "False", "tRuE"]),
        "integer": st.integers(-(10**19), 10**19).map(str) | st.sampled_from(["2.0", "-0", "3.00"]),
        "money": st.integers(0, 3).flatmap(
            lambda p: st.decimals(0, 10**32, places=p).map(lambda d: format(d, "f"))
        ),
        "time": st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31)).map(
            lambda d: d.isoformat(timespec="microseconds")
        ).flatmap(lambda t: st.sampled_from([t, t[:16], t[:19], t[:23]]).flatmap(
            lambda u: st.sampled_from([u, u + "Z", u + "+08:00", u + "-05:30", u + "+24:00"])
        )),
    }[label]  # fmt: skip
    return st.one_of(
        valid,
        st.none(),
        st.just(""),
        st.text(max_size=12),
        st.text(alphabet="0123456789-+.:TZte ", max_size=30),
        st.sampled_from(BAD_CELLS[label]),
    )


@settings(max_examples=60, deadline=None)
@given(
    label=st.sampled_from(["boolean", "integer", "money", "time"]),
    data=st.data(),
    tz=st.sampled_from([None, "Asia/Shanghai", "America/New_York"]),
)
def test_typed_column_agrees_with_text_value(label: str, data: Any, tz: str | None) -> None:
    """The vectorised conversion of a column equals the one-cell definition."""
    import zoneinfo

    cells = data.draw(st.lists(_cells(label), min_size=1, max_size=20))
    zone = None if tz is None else zoneinfo.ZoneInfo(tz)
    typed, bad = _frames_text.typed_column(label, pa.array(cells, pa.string()), tz, zone)
    for cell, got, wrong in zip(cells, typed.to_pylist(), bad.tolist(), strict=True):
        want = None if cell is None else _frames_text.text_value(label, cell, zone)
        if want is _frames_text.BAD:
            assert (wrong, got) == (True, None), cell
        else:
            assert not wrong, cell
            assert type(got) is type(want), (cell, got, want)
            assert got == want, cell


def test_json_text_lines_the_codec_refuses_take_the_line_path() -> None:
    """order.lines JSON text the vectorised path cannot be sure of: the codec's answer."""
    row = {k: str(v) for k, v in _leaves(_sample()[0]).items() if k != "order.lines"}
    texts = [
        '[{"sku": "a", "sku": "b", "unit_price": "1.00", "quantity": 1}]',  # a key twice
        '[{"sku": "a", "unit_price": 1.5, "quantity": 1}]',  # a JSON float
        '[{"sku": "a", "unit_price": "1.00", "quantity": 1, "colour": "red"}]',
        '[{"sku": "a", "unit_price": "1.00", "quantity": 99999999999999999999999}]',  # fine too
        '[{"sku": "a:\\\\", "unit_price": "1.00", "quantity": 1}]',  # fine
        "[]", "null", "[1]", "{", "",
    ]  # fmt: skip
    table = pa.table({**{k: [v] * len(texts) for k, v in row.items()}, "order.lines": texts})
    out = decide_arrow(RULES, table)
    assert out.equals(decide_arrow(RULES, table, fast=False))
    codes = out.column("error.code").to_pylist()
    assert codes[3] is None
    assert codes[4] is None
    assert codes[9] == "missing_field"  # an empty cell: no lines
    assert all(code is not None for i, code in enumerate(codes) if i not in (3, 4))


def test_csv_of_every_kind_read_as_text(tmp_path: Any) -> None:
    """examples/generate.py's CSV of each kind, every column read as text: no error."""
    import pyarrow.csv as pcsv
    from tests.test_generate import generate

    path = tmp_path / "cases.csv"
    args = [str(path), "--kind", "all", "--rows", "600"]
    assert generate.main(args, out=io.StringIO(), err=io.StringIO()) == 0
    for kind in KINDS:
        source = tmp_path / f"cases-{kind}.csv"
        names = pcsv.read_csv(source).column_names
        options = pcsv.ConvertOptions(column_types={n: pa.string() for n in names})
        table = pcsv.read_csv(source, convert_options=options)
        out = RULES.decide_frame(table)
        assert out.num_rows > 0
        assert out.column("error.code").null_count == out.num_rows, kind
        assert set(out.column("kind").to_pylist()) == {kind}


def test_text_columns_empty_in_every_row_keep_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CSV chunk where a column is empty in every row (no goods received yet,
    room for a second line no order uses) is still read by the vectorised path."""
    cases = [case_to_json(c) for c in _sample_returns()]
    table = _text_table(random.Random(3).choice, cases, "flat")
    n = table.num_rows
    for name in ("request.goods_received_at", "order.lines.5.sku", "order.lines.5.quantity"):
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, pa.array([""] * n, pa.string()))
    exact_rows = _count_exact(monkeypatch)
    out = decide_arrow(RULES, table)
    assert len(exact_rows) < n // 2
    for case in cases:
        case["request"].pop("goods_received_at", None)
    _assert_same(out, _expected(cases))


# ------------------------------------------------------------------ analysts' frames


def _flag_frame(flags: list[Any]) -> Any:
    """The sample's first case once per flag, with that order.in_warehouse_system."""
    base = _leaves(_sample()[0])
    return [{**base, "id": f"f{i}", "order.in_warehouse_system": v} for i, v in enumerate(flags)]


def test_one_bad_cell_in_a_flag_column_is_its_rows_error_only() -> None:
    """A 2 among 0/1 flags, or a 1.5 among whole-number counts: only that row fails."""
    rows = _flag_frame([1, 0, 1, 2])
    table = pa.table({k: [r[k] for r in rows] for k in rows[0]})
    table = table.set_column(
        table.column_names.index("order.lines"),
        "order.lines",
        pa.array([json.dumps(r["order.lines"]) for r in rows]),
    )
    out = decide_arrow(RULES, table)
    assert out.column("error.code").to_pylist() == [None, None, None, "invalid_value"]
    assert "got 2" in out.column("error.message")[3].as_py()
    floats = table.set_column(
        table.column_names.index("order.in_warehouse_system"),
        "order.in_warehouse_system",
        pa.array([1.0, 0.0, None, 1.5]),
    )
    codes = decide_arrow(RULES, floats).column("error.code").to_pylist()
    assert codes == [None, None, None, "invalid_value"]


def test_a_pandas_frame_keeps_its_index_and_reads_mixed_and_index_columns() -> None:
    """A filtered pandas frame joins back to its decisions; a column of mixed Python
    values is read as text; a named index level is a column; a doubled column is named."""
    pd = pytest.importorskip("pandas")
    rows = [_leaves(c) for c in _sample()]
    for row in rows:
        row["order.lines"] = json.dumps(row["order.lines"])
    frame = pd.DataFrame(rows, index=[10, 20, 30])
    frame["order.in_warehouse_system"] = pd.Series([True, "false", None], index=frame.index,
                                                   dtype=object)  # fmt: skip
    frame["order.id"] = pd.Series(["X1", 12345, "X3"], index=frame.index, dtype=object)
    out = RULES.decide_frame(frame)
    assert list(out.index) == [10, 20, 30]
    joined = frame[["id"]].join(out[["id", "error.code"]].add_suffix("_out"))
    assert (joined["id"] == joined["id_out"]).all()
    assert list(out["error.code"].isna()) == [True, True, False]  # only the 'bogus' reason
    by_id = RULES.decide_frame(frame.set_index("id"))
    assert list(by_id["id"]) == ["r0", "r1", "r2"]
    assert list(by_id["error.code"].isna()) == [True, True, False]
    doubled = pd.concat([frame, frame[["order.status"]]], axis=1)
    with pytest.raises(DomainValueError, match=r"'order\.status' twice"):
        RULES.decide_frame(doubled)


def test_kept_category_facts_give_the_same_answers_in_every_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path keeps the facts derived from each tuple of line categories
    between chunks, a bounded number of them: chunk after chunk, and after the
    kept ones are dropped, the answers are the line path's."""
    from csrules.io import _frames_fast

    cases = [case_to_json(c) for c in _sample_returns()]
    table = _table([_leaves(c) for c in cases], typed=True)
    expected = decide_arrow(RULES, table, fast=False)
    monkeypatch.setattr(_frames_fast, "_MAX_KEPT_TUPLES", 3)
    for start in range(0, table.num_rows, 7):
        part = table.slice(start, 7)
        got = decide_arrow(RULES, part, first_row=start + 1)
        assert got.equals(expected.slice(start, 7))
    kept = RULES.kind("return")._cache.get("fast_categories")
    assert kept is not None
    assert len(kept) <= 7


def test_a_pandas_column_of_naive_and_aware_times_keeps_each_ones_offset() -> None:
    """An object column mixing naive and aware datetimes is read as text: the aware
    ones keep their offset, the naive ones are read in tz= (Arrow alone would read
    the aware ones as naive wall times)."""
    pd = pytest.importorskip("pandas")
    naive = dt.datetime(2026, 5, 6, 10, 0)
    aware = dt.datetime(2026, 5, 6, 2, 0, tzinfo=dt.UTC)  # the same instant at +08:00
    rows = [_leaves(c) for c in _sample()[:2]]
    for row in rows:
        row["order.lines"] = json.dumps(row["order.lines"])
    frame = pd.DataFrame(rows)
    frame["at"] = pd.Series([naive, aware], dtype=object)
    table = _frames._from_pandas(pa, frame)
    assert table.column("at").to_pylist() == [naive.isoformat(), aware.isoformat()]
    out = RULES.decide_frame(frame, tz="Asia/Shanghai")
    assert list(out["error.code"].isna()) == [True, True]
