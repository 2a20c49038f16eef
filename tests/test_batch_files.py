"""csrules batch: files of cases in, files of decisions out (CSV, Parquet, JSON Lines)."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import json
import os
import platform
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from csrules import cli  # noqa: E402
from csrules.exceptions import BatchFileError  # noqa: E402
from csrules.io._files import batch_file, file_format  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("csv", "parquet", "jsonl")


def _load_generate() -> ModuleType:
    if "generate" in sys.modules:
        return sys.modules["generate"]
    spec = importlib.util.spec_from_file_location("generate", ROOT / "examples" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module
    spec.loader.exec_module(module)
    return module


generate = _load_generate()


def make(path: Path, kind: str, rows: int, seed: int = 7) -> Path:
    out, err = io.StringIO(), io.StringIO()
    status = generate.main(
        [str(path), "--kind", kind, "--rows", str(rows), "--seed", str(seed)], out=out, err=err
    )
    assert status == 0, err.getvalue()
    return path


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(["batch", *args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def decide(path: Path, *args: str) -> list[dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    cli.main(["decide", str(path), *args], out=out, err=err)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _cell(value: Any) -> str:
    """A value as the text a CSV output cell holds for it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def read_output(path: Path) -> list[dict[str, str]]:
    """An output file's rows, every value as its CSV text, whatever the format."""
    fmt = file_format(path)
    if fmt == "csv":
        with open(path, encoding="utf-8", newline="") as file:
            return [dict(row) for row in csv.DictReader(file)]
    if fmt == "parquet":
        rows = pq.read_table(path).to_pylist()
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [{k: _cell(v) for k, v in row.items()} for row in rows]


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 150 returns as CSV, Parquet and JSON Lines."""
    folder = tmp_path_factory.mktemp("returns")
    return {fmt: make(folder / f"returns.{fmt}", "return", 150) for fmt in FORMATS}


class TestFormats:
    @pytest.mark.parametrize("source", FORMATS)
    @pytest.mark.parametrize("target", FORMATS)
    def test_every_format_pair_gives_the_decisions_of_csrules_decide(
        self, returns: dict[str, Path], tmp_path: Path, source: str, target: str
    ) -> None:
        out = tmp_path / f"out.{target}"
        status, _, err = run(str(returns[source]), str(out), "--workers", "1")
        assert (status, err) == (0, "")
        rows = read_output(out)
        expected = decide(returns["jsonl"])
        assert len(rows) == len(expected) == 150
        for number, (row, line) in enumerate(zip(rows, expected, strict=True), start=1):
            assert row["id"] == line["id"]
            assert row["row"] == str(number)
            assert row["error.code"] == ""
            body = line["decision"]
            assert row["decision.action"] == body["action"]
            assert row["decision.rules"] == _cell(body["rules"])
            assert row["decision.duties"] == _cell(body["duties"])
            assert row["decision.refund_due"] == _cell(body["refund_due"])

    def test_the_three_outputs_hold_the_same_table(
        self, returns: dict[str, Path], tmp_path: Path
    ) -> None:
        tables = []
        for target in FORMATS:
            out = tmp_path / f"out.{target}"
            assert run(str(returns["parquet"]), str(out), "--workers", "1")[0] == 0
            tables.append(read_output(out))
        assert tables[0] == tables[1] == tables[2]
        assert list(tables[0][0]) == pq.read_schema(tmp_path / "out.parquet").names

    def test_an_empty_input_gives_an_empty_output_with_the_columns(self, tmp_path: Path) -> None:
        source = tmp_path / "empty.jsonl"
        source.write_text("", encoding="utf-8")
        out = tmp_path / "out.parquet"
        status, _, err = run(str(source), str(out), "--kind", "return")
        assert (status, err) == (0, "")
        table = pq.read_table(out)
        assert table.num_rows == 0
        assert "decision.action" in table.column_names

    @pytest.mark.parametrize("dictionaries", [True, False])
    def test_parquet_text_that_is_not_utf8_is_that_rows_error(
        self, returns: dict[str, Path], tmp_path: Path, dictionaries: bool
    ) -> None:
        """A corrupt Parquet file whose text cells hold bytes that are not UTF-8
        (a status, a reason, an id) gives those rows invalid_encoding; the other
        rows are decided, and the errors file shows the bytes as \\xff."""
        table = pq.read_table(returns["parquet"]).slice(0, 30)
        for name, row, raw in (("order.status", 1, b"sig\xffned"), ("request.reason", 2, b"\xff"),
                               ("id", 4, b"R\xff4")):  # fmt: skip
            table = _with_bytes(table, name, row, raw)
        source = tmp_path / "corrupt.parquet"
        pq.write_table(table, source, row_group_size=10, use_dictionary=dictionaries)
        out, errors = tmp_path / "out.parquet", tmp_path / "errors.jsonl"
        status, _, err = run(str(source), str(out), "--errors", str(errors))
        assert (status, err) == (1, "")
        decided = pq.read_table(out)
        assert decided.num_rows == 30
        codes = decided.column("error.code").to_pylist()
        assert [i for i, c in enumerate(codes) if c] == [1, 2, 4]
        assert {codes[i] for i in (1, 2, 4)} == {"invalid_encoding"}
        messages = decided.column("error.message").to_pylist()
        assert messages[1].startswith("order.status: not UTF-8")
        bad = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
        assert [b["row"] for b in bad] == [2, 3, 5]
        assert json.loads(bad[0]["input"])["order.status"] == "sig\\xffned"

    @pytest.mark.parametrize(
        "where", ["kind", "kind with --kind", "order.id", "order.customer_id",
                  "lines as text", "line category", "line sku", "complaint at", "meta"],
    )  # fmt: skip
    @pytest.mark.parametrize("target", ["out.jsonl", "out.csv", "out.parquet"])
    def test_bytes_that_are_not_utf8_anywhere_never_stop_the_run(
        self, tmp_path: Path, where: str, target: str
    ) -> None:
        """Whichever text cell of a corrupt Parquet file holds the bad bytes,
        the run goes on: that row is invalid_encoding naming the column (a
        ``meta`` cell is passed through with the bytes shown as \\xff), and
        every other row is decided as in the clean file."""
        kind = "complaint" if where == "complaint at" else "return"
        clean = pq.read_table(make(tmp_path / f"{kind}.parquet", kind, 12))
        if where in ("lines as text", "complaint at"):
            name = "order.lines" if where == "lines as text" else "at"
            texts = [
                json.dumps(v, default=lambda d: format(d, "f")) if name == "order.lines"
                else v.isoformat()
                for v in clean.column(name).to_pylist()
            ]  # fmt: skip
            clean = clean.set_column(clean.schema.get_field_index(name), name, pa.array(texts))
        if where == "meta":
            clean = clean.append_column("meta.note", pa.array(["note"] * clean.num_rows))
        column = {"kind with --kind": "kind", "lines as text": "order.lines",
                  "complaint at": "at", "meta": "meta.note"}.get(where, where)  # fmt: skip
        if where.startswith("line "):
            corrupt = _with_line_bytes(clean, where.split()[1], 3)
            column = "order.lines"
        else:
            corrupt = _with_bytes(clean, column, 3, b"\xff\xfe")
        paths = {}
        errors = tmp_path / "errors.jsonl"
        for label, table in (("clean", clean), ("corrupt", corrupt)):
            pq.write_table(table, tmp_path / f"{label}.parquet")
            paths[label] = tmp_path / f"{label}-{target}"
            extra = ["--kind", kind] if where == "kind with --kind" else []
            extra += ["--errors", str(errors)]
            status, _, err = run(str(tmp_path / f"{label}.parquet"), str(paths[label]), *extra)
            assert status in (0, 1), (label, status, err)
            assert err == ""
        bad = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
        assert [b["row"] for b in bad] == ([] if where == "meta" else [4])
        assert all("\\xff" in b["input"] for b in bad)  # the row as read, bytes shown
        good, got = read_output(paths["clean"]), read_output(paths["corrupt"])
        assert len(got) == len(good) == clean.num_rows
        for i, (want, row) in enumerate(zip(good, got, strict=True)):
            if where == "meta":
                assert row["meta.note"] == ("\\xff\\xfe" if i == 3 else "note")
                row = {k: v for k, v in row.items() if k != "meta.note"}
                want = {k: v for k, v in want.items() if k != "meta.note"}
                assert row == want
            elif i == 3:
                assert row["error.code"] == "invalid_encoding"
                assert row["error.message"].startswith(f"{column}: not UTF-8")
            elif where != "complaint at":  # complaints escalate in time order: others may move
                assert row == want

    @pytest.mark.parametrize("groups", ["one empty row group", "no row group"])
    @pytest.mark.parametrize("chunk", ["1", "2", "65536"])
    def test_an_empty_parquet_file_gives_an_empty_output(
        self, tmp_path: Path, groups: str, chunk: str
    ) -> None:
        source = tmp_path / "empty.parquet"
        empty = pa.table({name: pa.array([], pa.string()) for name in ("id", "order.status")})
        if groups == "no row group":
            pq.ParquetWriter(source, empty.schema).close()
        else:
            pq.write_table(empty, source)
        out = tmp_path / "out.parquet"
        status, _, err = run(str(source), str(out), "--kind", "return", "--chunk-rows", chunk)
        assert (status, err) == (0, "")
        assert pq.read_table(out).num_rows == 0


def _raw_text(cells: list[bytes | None]) -> Any:
    """A string array holding ``cells`` as they are (bytes that are not UTF-8
    too, as a corrupt file does)."""
    import numpy as np

    valid = [c is not None for c in cells]
    offsets = np.cumsum([0, *(len(c or b"") for c in cells)]).astype(np.int32)
    mask = None if all(valid) else pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    data = pa.py_buffer(b"".join(c or b"" for c in cells))
    return pa.Array.from_buffers(
        pa.string(), len(cells), [mask, pa.py_buffer(offsets.tobytes()), data],
        null_count=valid.count(False),
    )  # fmt: skip


def _with_bytes(table: Any, name: str, row: int, raw: bytes) -> Any:
    """``table`` with the text cell ``name`` of ``row`` holding ``raw``."""
    cells = table.column(name).cast(pa.binary()).to_pylist()
    cells[row] = raw
    return table.set_column(table.schema.get_field_index(name), name, _raw_text(cells))


def _with_line_bytes(table: Any, field: str, row: int) -> Any:
    """``table`` with the ``field`` of the first order line of ``row`` not UTF-8."""
    lines = table.column("order.lines").combine_chunks()
    items = lines.values
    names = [items.type.field(k).name for k in range(items.type.num_fields)]
    kids = [items.field(k) for k in range(len(names))]
    cells = kids[names.index(field)].cast(pa.binary()).to_pylist()
    cells[lines.offsets.to_pylist()[row]] = b"\xff"
    kids[names.index(field)] = _raw_text(cells)
    fixed = pa.ListArray.from_arrays(lines.offsets, pa.StructArray.from_arrays(kids, names=names))
    return table.set_column(table.schema.get_field_index("order.lines"), "order.lines", fixed)


def _case(**changes: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "id": "R1",
        "kind": "return",
        "at": "2026-05-09T19:02:19+08:00",
        "order": {
            "id": "O1",
            "customer_id": "U1",
            "status": "signed",
            "in_warehouse_system": True,
            "placed_at": "2026-04-26T06:04:24+08:00",
            "paid_at": "2026-04-26T06:19:26+08:00",
            "shipped_at": "2026-04-26T12:07:46+08:00",
            "signed_at": "2026-05-06T18:22:20+08:00",
            "payment_method": "alipay",
            "lines": [{"sku": "S1", "unit_price": "266.00", "quantity": 2, "category": "home"}],
            "shipping_fee": "0.00",
        },
        "request": {
            "type": "return",
            "reason": "changed_mind",
            "condition": dict.fromkeys(_CONDITION, True),
        },
    }
    for path, value in changes.items():
        keys = path.split("__")
        target = case
        for key in keys[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return case


_DELETE = object()
_CONDITION = (
    "tag_intact", "unwashed", "undamaged", "delivery_note_complete", "order_number_given",
    "delivery_note_number_given", "packaging_intact",
)  # fmt: skip


def _line(case: dict[str, Any]) -> bytes:
    return json.dumps(case, ensure_ascii=False).encode("utf-8") + b"\n"


def _write(folder: Path, case: dict[str, Any]) -> Path:
    path = folder / f"{case['id']}-one.jsonl"
    path.write_bytes(_line(case))
    return path


#: A complaint received a day before its goods were delivered (an invalid_value).
_DELIVERED_LATER: dict[str, Any] = {
    "id": "late",
    "kind": "complaint",
    "at": "2026-05-06T10:00:00+08:00",
    "complaint": {"customer_id": "C1", "channel": "phone", "topic": "service",
                  "delivered_at": "2026-05-07T10:00:00+08:00"},
}  # fmt: skip


class TestErrors:
    @pytest.mark.parametrize("chunk_rows", ["1", "1000"])
    def test_an_error_found_when_deciding_keeps_its_json_line_as_it_came(
        self, tmp_path: Path, chunk_rows: str
    ) -> None:
        """The input of a row that fails when it is decided (not when it is read) is
        its line, spacing and all, whichever rows share its chunk."""
        no_condition = json.dumps(_case(id="nocond", request__condition=_DELETE), indent=None)
        no_condition = no_condition.replace(": ", ":  ")  # spacing of its own
        early = _case(id="early", at="2026-04-01T10:00:00+08:00")  # before the order was placed
        complaint = _DELIVERED_LATER
        source = tmp_path / "cases.jsonl"
        source.write_bytes(_line(_case(id="ok")) + no_condition.encode() + b"\n" + _line(early))
        complaints = tmp_path / "complaints.jsonl"
        complaint_line = json.dumps(complaint, separators=(",", ":"))
        complaints.write_text(complaint_line + "\n", encoding="utf-8")
        for path, expected in (
            (source, {"nocond": no_condition, "early": _line(early).decode().rstrip("\n")}),
            (complaints, {"late": complaint_line}),
        ):
            errors = tmp_path / f"{path.stem}.errors.jsonl"
            status, _, err = run(
                str(path), str(tmp_path / "out.jsonl"), "--errors", str(errors),
                "--chunk-rows", chunk_rows,
            )  # fmt: skip
            assert status == 1, err
            rows = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
            assert {r["id"]: r["input"] for r in rows} == expected

    def test_a_count_beyond_int64_is_decided_as_decide_does(self, tmp_path: Path) -> None:
        """A contact count of 2**63 fits no Arrow integer: the row is still decided,
        from JSON Lines and from CSV, as csrules decide decides its line."""
        big = 2**63
        case = {
            "id": "big",
            "kind": "complaint",
            "at": "2026-05-06T10:00:00+08:00",
            "complaint": {"customer_id": "C1", "channel": "phone", "topic": "service",
                          "contact_count": big},
        }  # fmt: skip
        small = {**case, "id": "small", "complaint": {**case["complaint"], "contact_count": 2}}
        jsonl = tmp_path / "c.jsonl"
        jsonl.write_text(json.dumps(case) + "\n" + json.dumps(small) + "\n", encoding="utf-8")
        header = "id,kind,at,complaint.customer_id,complaint.channel,complaint.topic,"
        header += "complaint.contact_count"
        csv_path = tmp_path / "c.csv"
        csv_path.write_text(
            f"{header}\nbig,complaint,2026-05-06T10:00:00+08:00,C1,phone,service,{big}\n"
            "small,complaint,2026-05-06T10:00:00+08:00,C1,phone,service,2\n",
            encoding="utf-8",
        )
        expected = {r["id"]: r["decision"]["escalate_to"] for r in decide(jsonl)}
        assert set(expected) == {"big", "small"}
        for source in (jsonl, csv_path):
            out = tmp_path / f"{source.suffix[1:]}.out.jsonl"
            status, _, err = run(str(source), str(out))
            assert status == 0, err
            rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            assert {r["id"]: r["decision.escalate_to"] for r in rows} == expected

    def test_the_runs_kind_comes_from_the_first_rows_only(self, tmp_path: Path) -> None:
        """Without --kind, only the first 1,024 rows are read for the kind: a file
        whose kind is said first further down is not read whole to find it."""
        source = tmp_path / "late.jsonl"
        source.write_bytes(b"{}\n" * 1024 + _line(_case()))
        status, _, err = run(str(source), str(tmp_path / "out.jsonl"))
        assert status == 2
        assert "no kind: give --kind" in err
        source.write_bytes(b"{}\n" * 1023 + _line(_case()))
        status, _, err = run(str(source), str(tmp_path / "out.jsonl"))
        assert status == 1, err  # the 1,023 empty objects are errors, the case is decided

    def test_a_broken_first_row_is_its_own_error_not_the_runs(
        self, returns: dict[str, Path], tmp_path: Path
    ) -> None:
        """The run's kind comes from the rows that say one: a first row with a kind
        cell that is not UTF-8, or with a missing separator, is that row's error."""
        lines = returns["csv"].read_bytes().splitlines(keepends=True)
        header = lines[0].decode().rstrip("\r\n").split(",")
        where = header.index("kind")
        cells = lines[1].decode().split(",")
        cells[where] = "ret\udcffurn"
        bad_bytes = ",".join(cells).encode("utf-8", "surrogateescape")
        short = lines[1].replace(b",", b"", 1)  # one separator fewer
        for first, code in ((bad_bytes, "invalid_encoding"), (short, "invalid_csv")):
            source = tmp_path / f"{code}.csv"
            source.write_bytes(lines[0] + first + b"".join(lines[2:6]))
            out = tmp_path / f"{code}.out.jsonl"
            status, _, err = run(str(source), str(out))
            assert status == 1, err
            rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            assert [r["error.code"] for r in rows] == [code, None, None, None, None]
            assert all(r["kind"] == "return" for r in rows[1:])

    @pytest.mark.parametrize("fmt", ["csv", "parquet"])
    def test_a_kind_that_is_no_kind_is_its_rows_error(
        self, returns: dict[str, Path], tmp_path: Path, fmt: str
    ) -> None:
        """A kind cell of "Return" is that row's unknown_kind, as csrules decide
        says of its line; the other rows are decided."""
        table = pq.read_table(returns["parquet"]).slice(0, 4)
        kinds = table.column("kind").to_pylist()
        kinds[1] = "Return"
        table = table.set_column(table.schema.get_field_index("kind"), "kind", pa.array(kinds))
        source = tmp_path / f"cases.{fmt}"
        if fmt == "parquet":
            pq.write_table(table, source)
        else:
            import pyarrow.csv as pacsv

            pacsv.write_csv(table.drop_columns(["order.lines"]).append_column(
                "order.lines", pa.array([json.dumps(v, default=str) for v in
                                         table.column("order.lines").to_pylist()])),
                source)  # fmt: skip
        out = tmp_path / f"{fmt}.out.jsonl"
        status, _, err = run(str(source), str(out))
        assert status == 1, err
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [r["error.code"] for r in rows] == [None, "unknown_kind", None, None]
        assert '"Return"' in rows[1]["error.message"]

    def test_a_csv_with_lines_ending_in_cr_alone_is_read(
        self, returns: dict[str, Path], tmp_path: Path
    ) -> None:
        """Old Mac line endings (CR alone): the same decisions as with LF."""
        text = returns["csv"].read_bytes().replace(b"\r\n", b"\n")
        lf, cr = tmp_path / "lf.csv", tmp_path / "cr.csv"
        lf.write_bytes(text)
        cr.write_bytes(text.replace(b"\n", b"\r"))
        outputs = []
        for source in (lf, cr):
            out = tmp_path / f"{source.stem}.jsonl"
            status, _, err = run(str(source), str(out))
            assert status == 0, err
            outputs.append(out.read_text(encoding="utf-8"))
        assert outputs[0] == outputs[1]
        assert len(outputs[0].splitlines()) == 150

    def test_a_time_in_an_error_is_iso_text_under_its_contract_key(self, tmp_path: Path) -> None:
        """A complaint delivered after it was received names `at` and shows both times as
        ISO text, as the case gave them."""
        complaint = _DELIVERED_LATER
        path = tmp_path / "c.jsonl"
        path.write_text(json.dumps(complaint) + "\n", encoding="utf-8")
        [result] = decide(path)
        message = result["error"]["message"]
        assert message.startswith("'at' must be not before complaint.delivered_at")
        assert "got 2026-05-06T10:00:00+08:00" in message
        assert "DateTime(" not in message
        [missing] = decide(_write(tmp_path, _case(request__condition=_DELETE)))
        assert missing["error"]["message"].endswith("(got None).")

    def test_broken_json_lines_get_the_errors_of_csrules_decide(self, tmp_path: Path) -> None:
        lines = [
            _line(_case(id="ok")),
            _line(_case(id="enum", request__reason="bored")),
            _line(_case(id="naive", at="2026-05-09T19:02:19")),
            _line(_case(id="float", order__shipping_fee=0.5)),
            _line(_case(id="missing", order__status=_DELETE)),
            b'{"id": "cut", "kind": "return",\n',
            b'{"id": "bytes", "kind": "\xff\xfe"}\n',
            b"\n",
            _line(_case(id="ok2")),
        ]
        source = tmp_path / "cases.jsonl"
        source.write_bytes(b"".join(lines))
        out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
        status, _, err = run(str(source), str(out), "--errors", str(errors), "--kind", "return")
        assert (status, err) == (1, "")
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        expected = decide(source)
        assert [r["row"] for r in rows] == list(range(1, len(lines) + 1))
        for row, line in zip(rows, expected, strict=True):
            assert row["id"] == line["id"]
            if "error" in line:
                assert row["error.code"] == line["error"]["code"]
                assert row["error.message"] == line["error"]["message"]
                assert row["decision.action"] is None
            else:
                assert row["error.code"] is None
                assert row["decision.action"] == line["decision"]["action"]
        codes = [r["error.code"] for r in rows]
        assert codes == [
            None, "invalid_value", "invalid_value", "invalid_value", "missing_field",
            "invalid_json", "invalid_encoding", "invalid_json", None,
        ]  # fmt: skip
        bad = [json.loads(x) for x in errors.read_text(encoding="utf-8").splitlines()]
        assert [b["row"] for b in bad] == [2, 3, 4, 5, 6, 7, 8]
        assert [b["error.code"] for b in bad] == codes[1:8]
        assert bad[0]["input"] == lines[1].decode().rstrip("\n")
        assert bad[4]["input"] == lines[5].decode().rstrip("\n")
        assert "\\xff" in bad[5]["input"]
        assert "request.reason" in bad[0]["error.message"]
        assert "bored" in bad[0]["error.message"]
        assert "order.shipping_fee" in bad[2]["error.message"]

    def test_bad_csv_cells_are_row_errors_naming_the_field(self, tmp_path: Path) -> None:
        source = make(tmp_path / "cases.csv", "return", 6)
        with open(source, encoding="utf-8", newline="") as file:
            records = list(csv.DictReader(file))
        records[1]["request.reason"] = "bored"
        records[2]["at"] = records[2]["at"].removesuffix("+08:00")
        records[3]["order.in_warehouse_system"] = "yes"
        records[4]["order.status"] = ""
        broken = tmp_path / "broken.csv"
        with open(broken, "w", encoding="utf-8", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        out, errors = tmp_path / "out.parquet", tmp_path / "errors.csv"
        status, _, err = run(str(broken), str(out), "--errors", str(errors))
        assert (status, err) == (1, "")
        rows = pq.read_table(out).to_pylist()
        assert [r["row"] for r in rows] == [1, 2, 3, 4, 5, 6]
        assert [r["error.code"] for r in rows] == [
            None, "invalid_value", "invalid_value", "invalid_value", "missing_field", None
        ]  # fmt: skip
        with open(errors, encoding="utf-8", newline="") as file:
            bad = list(csv.DictReader(file))
        assert [b["row"] for b in bad] == ["2", "3", "4", "5"]
        assert [b["id"] for b in bad] == [records[i]["id"] for i in (1, 2, 3, 4)]
        assert "request.reason" in bad[0]["error.message"]
        assert "at" in bad[1]["error.message"]
        assert "order.in_warehouse_system" in bad[2]["error.message"]
        assert "yes" in bad[2]["error.message"]
        # only the bad cell is named, not the good flags of the same row
        assert "order.free_shipping_promotion" not in bad[2]["error.message"]
        assert "order.status" in bad[3]["error.message"]
        assert json.loads(bad[2]["input"])["order.in_warehouse_system"] == "yes"
        # with the zone of naive times, the row without an offset is decided
        status, _, _ = run(str(broken), str(out), "--tz", "Asia/Shanghai")
        assert status == 1
        fixed = pq.read_table(out).to_pylist()
        assert fixed[2]["error.code"] is None
        assert fixed[2]["decision.action"] is not None

    def test_a_csv_cell_that_is_not_utf8_is_that_rows_error(self, tmp_path: Path) -> None:
        source = make(tmp_path / "cases.csv", "return", 5)
        lines = source.read_bytes().split(b"\n")
        # a bad byte in the second and the fourth data row, far from the header
        for index in (2, 4):
            lines[index] = lines[index].replace(b"return", b"ret\xffurn", 1)
        broken = tmp_path / "broken.csv"
        broken.write_bytes(b"\n".join(lines))
        out, errors = tmp_path / "out.parquet", tmp_path / "errors.csv"
        status, _, err = run(str(broken), str(out), "--errors", str(errors), "--chunk-rows", "2")
        assert (status, err) == (1, "")
        rows = pq.read_table(out).to_pylist()
        assert [r["row"] for r in rows] == [1, 2, 3, 4, 5]
        assert [r["error.code"] for r in rows] == [
            None, "invalid_encoding", None, "invalid_encoding", None
        ]  # fmt: skip
        assert "not valid UTF-8" in rows[1]["error.message"]
        assert "bytes ff" in rows[1]["error.message"]
        assert rows[2]["decision.action"] is not None
        with open(errors, encoding="utf-8", newline="") as file:
            bad = list(csv.DictReader(file))
        assert [b["row"] for b in bad] == ["2", "4"]
        assert "\\xff" in bad[0]["input"]

    @pytest.mark.parametrize("chunk", ["3", "1000"])
    def test_a_csv_row_with_the_wrong_number_of_fields_is_that_rows_error(
        self, tmp_path: Path, chunk: str
    ) -> None:
        source = make(tmp_path / "cases.csv", "return", 12)
        clean = tmp_path / "clean.parquet"
        assert run(str(source), str(clean), "--workers", "1")[0] == 0
        expected = pq.read_table(clean).to_pylist()
        lines = source.read_text(encoding="utf-8").split("\n")
        lines[4] = lines[4].rsplit(",", 1)[0]  # data row 4: a field short
        lines[9] += ",surplus"  # data row 9: a field too many
        lines.insert(7, "")  # a blank line is no row
        broken = tmp_path / "broken.csv"
        broken.write_text("\n".join(lines), encoding="utf-8")
        out, errors = tmp_path / "out.parquet", tmp_path / "errors.csv"
        status, _, err = run(
            str(broken), str(out), "--errors", str(errors), "--chunk-rows", chunk,
            "--workers", "1",
        )  # fmt: skip
        assert (status, err) == (1, "")
        rows = pq.read_table(out).to_pylist()
        assert [r["row"] for r in rows] == list(range(1, 13))
        assert [r["error.code"] for r in rows] == [
            "invalid_csv" if n in (4, 9) else None for n in range(1, 13)
        ]
        assert "26 fields where the header has 27" in rows[3]["error.message"]
        assert "28 fields where the header has 27" in rows[8]["error.message"]
        assert rows[3]["id"] == expected[3]["id"]
        for row, want in zip(rows, expected, strict=True):
            if row["error.code"] is None:
                assert row == want
        with open(errors, encoding="utf-8", newline="") as file:
            bad = list(csv.DictReader(file))
        assert [b["row"] for b in bad] == ["4", "9"]
        assert bad[1]["input"].endswith(",surplus")

    def test_csv_cells_reading_na_or_null_are_values_not_nulls(self, tmp_path: Path) -> None:
        source = make(tmp_path / "cases.csv", "return", 3)
        with open(source, encoding="utf-8", newline="") as file:
            records = list(csv.DictReader(file))
        records[0]["id"], records[1]["id"], records[2]["id"] = "NA", "null", "N/A"
        records[0]["order.customer_id"] = "NULL"
        renamed = tmp_path / "renamed.csv"
        with open(renamed, "w", encoding="utf-8", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        out = tmp_path / "out.csv"
        assert run(str(renamed), str(out))[0] == 0
        assert [r["id"] for r in read_output(out)] == ["NA", "null", "N/A"]

    def test_a_float_money_column_is_one_clear_line(self, tmp_path: Path) -> None:
        source = tmp_path / "float.parquet"
        pq.write_table(
            pa.table({"id": ["a"], "kind": ["return"], "order.shipping_fee": [0.5]}), source
        )
        status, out, err = run(str(source), str(tmp_path / "out.parquet"))
        assert status == 2
        assert out == ""
        assert err.count("\n") == 1
        assert "order.shipping_fee" in err
        assert not (tmp_path / "out.parquet").exists()

    def test_a_csv_of_two_kinds_is_one_clear_line(self, tmp_path: Path) -> None:
        source = make(tmp_path / "cases.csv", "return", 3)
        text = source.read_text(encoding="utf-8").splitlines()
        text[2] = text[2].replace(",return,", ",complaint,", 1)
        source.write_text("\n".join(text) + "\n", encoding="utf-8")
        status, _, err = run(
            str(source), str(tmp_path / "out.csv"), "--errors", str(tmp_path / "e.csv")
        )
        assert status == 2
        assert "kind" in err
        assert err.count("\n") == 1
        assert not (tmp_path / "out.csv").exists()


class TestUsage:
    @pytest.mark.parametrize(
        ("args", "words"),
        [
            (["missing.parquet", "out.parquet"], "no such file"),
            (["cases.txt", "out.parquet"], "unknown file format (.txt)"),
            (["cases.jsonl", "out.xlsx"], "unknown file format (.xlsx)"),
            (["bad.parquet", "out.parquet"], "not a readable Parquet file"),
            (["cases.jsonl", "out.parquet", "--kind", "refund"], "unknown kind 'refund'"),
            (["cases.jsonl", "out.parquet", "--tz", "Mars/Base"], "--tz 'Mars/Base'"),
            (["cases.jsonl", "out.parquet", "--rules", "nope:RULES"], "bad rule set"),
            (["cases.jsonl", "cases.jsonl"], "is the input file"),
            (["cases.jsonl", "./cases.jsonl"], "is the input file"),
            (["cases.jsonl", "out.jsonl", "--errors", "cases.jsonl"], "is the input file"),
            (["cases.jsonl", "out.jsonl", "--errors", "out.jsonl"], "is the output file"),
        ],
    )
    def test_a_usage_problem_is_one_line_and_status_2(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], words: str
    ) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "cases.txt").write_text("", encoding="utf-8")
        (tmp_path / "cases.jsonl").write_bytes(_line(_case()))
        (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
        before = (tmp_path / "cases.jsonl").read_bytes()
        status, out, err = run(*args)
        assert status == 2
        assert out == ""
        assert err.startswith("csrules batch: ")
        assert (tmp_path / "cases.jsonl").read_bytes() == before  # the input is untouched
        assert err.count("\n") == 1
        assert words in err
        assert "Traceback" not in err

    def test_an_output_that_cannot_be_written_is_status_3(self, tmp_path: Path) -> None:
        source = tmp_path / "cases.jsonl"
        source.write_bytes(_line(_case()))
        status, _, err = run(str(source), str(tmp_path / "no" / "out.parquet"))
        assert status == 3
        assert "no folder" in err
        assert err.count("\n") == 1

    @pytest.mark.parametrize("target", FORMATS)
    def test_a_disk_that_fills_up_is_reported_as_such(
        self, returns: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
    ) -> None:
        from csrules.io import _files

        real = _files._Writer._write
        calls: list[int] = []

        def filling(self: Any, table: Any) -> None:
            calls.append(table.num_rows)
            if len(calls) == 2:  # the second chunk finds the disk full
                raise OSError(28, "No space left on device")
            if len(calls) > 2:  # what pyarrow says of a writer that failed
                raise pa.ArrowInvalid("Operation on closed file")
            real(self, table)

        monkeypatch.setattr(_files._Writer, "_write", filling)
        status, _, err = run(
            str(returns["parquet"]), str(tmp_path / f"out.{target}"), "--chunk-rows", "10",
            "--workers", "1",
        )  # fmt: skip
        assert status == 3
        assert "No space left on device" in err
        assert err.count("\n") == 1

    def test_progress_bar_only_when_asked_or_on_a_terminal(
        self, returns: dict[str, Path], tmp_path: Path
    ) -> None:
        out = tmp_path / "out.parquet"
        status, _, err = run(str(returns["parquet"]), str(out), "--workers", "1")
        assert (status, err) == (0, "")
        status, _, err = run(str(returns["parquet"]), str(out), "--workers", "1", "--progress")
        assert status == 0
        assert "150/150" in err
        assert "rows" in err


class TestChunksAndWorkers:
    def test_two_workers_give_the_output_of_one(
        self, returns: dict[str, Path], tmp_path: Path
    ) -> None:
        one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
        assert run(str(returns["csv"]), str(one), "--workers", "1", "--chunk-rows", "40")[0] == 0
        assert run(str(returns["csv"]), str(two), "--workers", "2", "--chunk-rows", "40")[0] == 0
        assert pq.read_table(one).equals(pq.read_table(two))

    @pytest.mark.parametrize("source", FORMATS)
    def test_chunks_of_7_rows_give_the_output_of_one_chunk(
        self, returns: dict[str, Path], tmp_path: Path, source: str
    ) -> None:
        small, whole = tmp_path / "small.jsonl", tmp_path / "whole.jsonl"
        path = returns[source]
        if source == "jsonl":  # with broken lines among the cases
            text = path.read_bytes().splitlines(keepends=True)
            text[3:3] = [b"not json\n", b'{"id": "x"}\n']
            path = tmp_path / "cases.jsonl"
            path.write_bytes(b"".join(text))
        errors_small, errors_whole = tmp_path / "e7.jsonl", tmp_path / "e.jsonl"
        status7 = run(
            str(path), str(small), "--chunk-rows", "7", "--workers", "1", "--errors",
            str(errors_small),
        )[0]  # fmt: skip
        status = run(str(path), str(whole), "--chunk-rows", "100000", "--errors", str(errors_whole))
        assert status7 == status[0]
        assert small.read_bytes() == whole.read_bytes()
        assert errors_small.read_bytes() == errors_whole.read_bytes()
        assert len(small.read_bytes().splitlines()) == (152 if source == "jsonl" else 150)

    @settings(
        max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(chunk=st.integers(min_value=1, max_value=160), source=st.sampled_from(FORMATS))
    def test_any_chunk_size_gives_the_same_file(
        self, returns: dict[str, Path], tmp_path: Path, chunk: int, source: str
    ) -> None:
        whole = tmp_path / f"whole-{source}.csv"
        if not whole.exists():
            batch_file(returns[source], whole, chunk_rows=1_000_000)
        out = tmp_path / f"chunked-{source}-{chunk}.csv"
        result = batch_file(returns[source], out, chunk_rows=chunk)
        assert result.rows == 150
        assert out.read_bytes() == whole.read_bytes()

    @pytest.mark.parametrize("chunk", [1, 10, 40, 100_000])
    def test_parquet_row_groups_of_any_size_give_the_same_file(
        self, returns: dict[str, Path], tmp_path: Path, chunk: int
    ) -> None:
        """Row groups of uneven sizes (each with its own dictionaries of statuses,
        reasons...) give the output of one chunk; the values come as codes."""
        from csrules.io._files import _Source

        table = pq.read_table(returns["parquet"])
        status = table.column("order.status").to_pylist()
        status[3] = status[60] = "nope"  # not a status: those rows' errors
        table = table.set_column(
            table.schema.get_field_index("order.status"), "order.status", pa.array(status)
        )
        one, uneven = tmp_path / "one.parquet", tmp_path / "uneven.parquet"
        pq.write_table(table, one)
        with pq.ParquetWriter(uneven, table.schema) as writer:
            start = 0
            for size in (7, 50, 13, 1, 79):
                writer.write_table(table.slice(start, size))
                start += size
        assert start == table.num_rows
        whole, errors_whole = tmp_path / "whole.csv", tmp_path / "errors-whole.jsonl"
        batch_file(one, whole, chunk_rows=1_000_000, errors=errors_whole)
        out, errors = tmp_path / f"uneven-{chunk}.csv", tmp_path / f"errors-{chunk}.jsonl"
        result = batch_file(uneven, out, chunk_rows=chunk, errors=errors)
        assert (result.rows, result.errors) == (table.num_rows, 2)
        assert out.read_bytes() == whole.read_bytes()
        assert errors.read_bytes() == errors_whole.read_bytes()
        bad = [json.loads(line) for line in errors.read_text().splitlines()]
        assert [b["row"] for b in bad] == [4, 61]
        assert all(json.loads(b["input"])["order.status"] == "nope" for b in bad)
        source = _Source(str(uneven), chunk, "return", None)
        chunks = list(source.chunks())
        source.close()
        assert sum(c.table.num_rows for c in chunks) == table.num_rows
        assert chunks[0].first_row == 1
        assert max(c.table.num_rows for c in chunks) <= max(2 * chunk, 79)
        assert pa.types.is_dictionary(chunks[0].table.schema.field("order.status").type)

    def test_workers_load_a_named_rule_set_by_its_name(self) -> None:
        """A worker gets the bundled rule set itself (the one the vectorised path
        recognises), with the replacing policy, not a pickled copy."""
        import pickle

        import csrules
        from csrules.io._files import _Settings
        from csrules.io._frames_fast import _usable_kind
        from csrules.policy import load_policy

        taobao = load_policy("taobao")
        rules = csrules.ruleset("b2c").with_policy(taobao)
        settings = _Settings(rules, "return", None, None, "en", False, "b2c", taobao)
        copy = pickle.loads(pickle.dumps(settings))
        assert copy.ruleset.policy == taobao
        assert _usable_kind(copy.ruleset.kind("return"))  # the vectorised path takes it
        anonymous = _Settings(rules, "return", None, None, "en", False)
        assert pickle.loads(pickle.dumps(anonymous)).ruleset.name == "b2c"

    def test_batch_file_counts_rows_and_errors(
        self, returns: dict[str, Path], tmp_path: Path
    ) -> None:
        result = batch_file(returns["parquet"], tmp_path / "out.csv", chunk_rows=64)
        assert (result.rows, result.errors, result.kind) == (150, 0, "return")
        with pytest.raises(BatchFileError, match="chunk_rows"):
            batch_file(returns["parquet"], tmp_path / "out.csv", chunk_rows=0)


_NO_PANDAS_RUN = """
import sys
from csrules import cli
status = cli.main(["batch", sys.argv[1], sys.argv[2], "--workers", "1"])
imported = "pandas" in sys.modules
import pyarrow as pa
import pyarrow.parquet as pq
frame = pq.read_table(sys.argv[2]).to_pandas()  # pandas output still works
try:  # the most mimalloc held: none when every allocation came from jemalloc
    peak = pa.mimalloc_memory_pool().max_memory()
except NotImplementedError:
    peak = -1
import os  # the run leaves the environment as it found it
left = os.environ.get("ARROW_DEFAULT_MEMORY_POOL", "unset")
print(status, imported, len(frame), type(frame).__module__.split(".")[0], peak, left)
"""


def test_a_batch_run_imports_no_pandas(returns: dict[str, Path], tmp_path: Path) -> None:
    """csrules batch hands pyarrow no pandas objects, so pandas is not imported
    (a quarter of a second per run); asked for later, pandas output works.
    Arrow allocates from jemalloc in that process (on Linux)."""
    import subprocess

    pytest.importorskip("pandas")
    out = tmp_path / "out.parquet"
    done = subprocess.run(
        [sys.executable, "-c", _NO_PANDAS_RUN, str(returns["parquet"]), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status, imported, rows, module, peak, left = done.stdout.split()
    assert (status, imported, module) == ("0", "False", "pandas")
    assert int(rows) == pq.read_metadata(returns["parquet"]).num_rows
    assert left == os.environ.get("ARROW_DEFAULT_MEMORY_POOL", "unset")
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    if sys.platform == "linux" and x86 and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        assert peak == "0"  # Arrow's own allocations too, not only pyarrow's


class TestComplaints:
    def test_complaints_escalate_in_received_order_as_decide_does_on_the_sorted_file(
        self, tmp_path: Path
    ) -> None:
        source = make(tmp_path / "complaints.jsonl", "complaint", 400, seed=3)
        lines = source.read_text(encoding="utf-8").splitlines()
        random.Random(5).shuffle(lines)
        shuffled = tmp_path / "shuffled.jsonl"
        shuffled.write_text("\n".join(lines) + "\n", encoding="utf-8")
        lines.sort(key=lambda x: dt.datetime.fromisoformat(json.loads(x)["at"]))
        ordered = tmp_path / "sorted.jsonl"
        ordered.write_text("\n".join(lines) + "\n", encoding="utf-8")
        expected = {d["id"]: d["decision"] for d in decide(ordered)}
        assert sum(bool(d["escalate_to"]) for d in expected.values()) > 10
        # deciding the shuffled file in its own order escalates differently
        unsorted = {d["id"]: d["decision"] for d in decide(shuffled)}
        assert unsorted != expected

        for target, chunk in (("out.parquet", "50"), ("out.jsonl", "100000")):
            out = tmp_path / target
            status, _, err = run(str(shuffled), str(out), "--chunk-rows", chunk, "--workers", "2")
            assert (status, err) == (0, "")
            rows = read_output(out)
            assert [r["id"] for r in rows] == [
                json.loads(x)["id"] for x in shuffled.read_text(encoding="utf-8").splitlines()
            ]  # input order kept
            for row in rows:
                body = expected[row["id"]]
                assert row["decision.escalate_to"] == _cell(body["escalate_to"])
                assert row["decision.rules"] == _cell(body["rules"])
                assert row["decision.route_to"] == _cell(body["route_to"])

    def test_parquet_complaints_sort_by_their_timestamps(self, tmp_path: Path) -> None:
        source = make(tmp_path / "complaints.parquet", "complaint", 300, seed=3)
        table = pq.read_table(source)
        order = list(range(table.num_rows))
        random.Random(9).shuffle(order)
        shuffled = tmp_path / "shuffled.parquet"
        pq.write_table(table.take(order), shuffled)
        plain, mixed = tmp_path / "plain.parquet", tmp_path / "mixed.parquet"
        assert run(str(source), str(plain), "--chunk-rows", "64")[0] == 0
        assert run(str(shuffled), str(mixed), "--chunk-rows", "64")[0] == 0
        by_id = {r["id"]: r for r in pq.read_table(plain).to_pylist()}
        rows = pq.read_table(mixed).to_pylist()
        assert any(r["decision.escalate_to"] for r in rows)
        for row in rows:
            expected = dict(by_id[row["id"]], row=row["row"])
            assert row == expected
