"""examples/generate.py: seeded, contract-true cases in JSON Lines, CSV and Parquet."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import importlib.util
import io
import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from csrules import cli
from csrules.io import case_to_json, parse_case_line

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("return", "complaint", "promotion", "price_adjustment")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "examples" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module
    spec.loader.exec_module(module)
    return module


generate = _load()


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = generate.main([*args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def make(path: Path, *args: str) -> str:
    status, out, err = run(str(path), *args)
    assert status == 0, err
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------- rebuilding cases from columns


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Nested JSON from dotted columns: numbers are list positions, an object whose
    fields are all null is null, and a list leaves its null items out."""
    root: dict[Any, Any] = {}
    for path, value in flat.items():
        parts: list[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    result = _collapse(root)
    assert isinstance(result, dict)
    return result


def _collapse(value: Any) -> Any:
    if isinstance(value, list):
        return [_collapse(v) for v in value]
    if not isinstance(value, dict):
        return value
    items = {k: _collapse(v) for k, v in value.items()}
    if items and all(isinstance(k, int) for k in items):
        return [v for _, v in sorted(items.items()) if v is not None]
    if all(v is None for v in items.values()):
        return None
    return items


def _csv_cell(column: str, text: str) -> Any:
    if text == "":
        return None
    if column == "order.lines":
        return json.loads(text)
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [_nest({k: _csv_cell(k, v) for k, v in row.items()}) for row in csv.DictReader(f)]


def _json_value(value: Any) -> Any:
    """A Parquet value as the contract writes it in JSON."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    return [_nest({k: _json_value(v) for k, v in row.items()}) for row in rows]


def _by_id(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_id = {case["id"]: case for case in cases}
    assert len(by_id) == len(cases), "case ids are unique"
    return by_id


# ------------------------------------------------------------- tests


class TestDeterminism:
    def test_same_arguments_give_the_same_bytes(self, tmp_path: Path) -> None:
        for name in ("a", "b"):
            make(tmp_path / f"{name}.jsonl", "--rows", "1500", "--seed", "7")
            make(tmp_path / f"{name}.parquet", "--rows", "600", "--seed", "7", "--kind", "return")
        assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
        assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()

    def test_another_seed_gives_other_cases(self, tmp_path: Path) -> None:
        make(tmp_path / "a.jsonl", "--rows", "300", "--seed", "1")
        make(tmp_path / "b.jsonl", "--rows", "300", "--seed", "2")
        assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "b.jsonl").read_bytes()

    def test_the_chunk_size_changes_how_it_is_written_not_what(self, tmp_path: Path) -> None:
        make(tmp_path / "a.jsonl", "--rows", "1200", "--chunk-rows", "7")
        make(tmp_path / "b.jsonl", "--rows", "1200")
        assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """2,000 cases of each kind and what `csrules decide` makes of them."""
    folder = tmp_path_factory.mktemp("decided")
    results: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        path = folder / f"{kind}.jsonl"
        make(path, "--kind", kind, "--rows", "2000", "--seed", "3")
        out, err = io.StringIO(), io.StringIO()
        status = cli.main(["decide", str(path), "--no-progress"], out=out, err=err)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        results[kind] = lines
        errors = [line for line in lines if "error" in line]
        assert errors == [], errors[:3]
        assert status == 0, err.getvalue()
        assert len(lines) == 2000
    return results


class TestContract:
    def test_every_case_decides_without_an_error(
        self, decided: dict[str, list[dict[str, Any]]]
    ) -> None:
        for kind, lines in decided.items():
            assert {line["kind"] for line in lines} == {kind}
            assert all("decision" in line for line in lines)

    def test_every_line_is_exactly_what_the_codec_writes(self, tmp_path: Path) -> None:
        """No unknown or missing keys, money as decimal strings, times at +08:00: reading a
        line and writing the case again gives the same JSON."""
        path = tmp_path / "all.jsonl"
        make(path, "--rows", "3000", "--seed", "5")
        times = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00")
        for line in path.read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            assert case_to_json(parse_case_line(line)) == obj
            assert times.fullmatch(obj["at"])

    def test_cases_are_in_order_of_time_within_the_range(self, tmp_path: Path) -> None:
        path = tmp_path / "q.jsonl"
        make(path, "--rows", "800", "--start", "2026-03-01", "--end", "2026-03-31")
        ats = [dt.datetime.fromisoformat(case["at"]) for case in read_jsonl(path)]
        assert ats == sorted(ats)
        assert ats[0].date() >= dt.date(2026, 3, 1)
        assert ats[-1].date() <= dt.date(2026, 3, 31)


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """8,000 return cases over 2026."""
    path = tmp_path_factory.mktemp("realism") / "returns.jsonl"
    make(path, "--kind", "return", "--rows", "8000", "--seed", "11")
    return read_jsonl(path)


class TestRealism:
    def test_returns_follow_signing_mostly_within_seven_days(
        self, returns: list[dict[str, Any]]
    ) -> None:
        delays = [
            dt.datetime.fromisoformat(c["at"]) - dt.datetime.fromisoformat(c["order"]["signed_at"])
            for c in returns
            if c["order"]["status"] == "signed"
        ]
        assert all(d > dt.timedelta(0) for d in delays)
        within = sum(d <= dt.timedelta(days=7) for d in delays) / len(delays)
        assert 0.75 < within < 0.98

    def test_orders_peak_at_double_11_and_dip_on_national_day(
        self, returns: list[dict[str, Any]]
    ) -> None:
        placed = collections.Counter(c["order"]["placed_at"][:10] for c in returns)
        days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(61)]
        ordinary = [placed[d.isoformat()] for d in days if d.month == 9 and d.weekday() < 5]
        mean = sum(ordinary) / len(ordinary)
        holiday = [placed[f"2026-10-0{d}"] for d in range(1, 8)]
        assert placed["2026-11-11"] > 3 * mean
        assert sum(holiday) / len(holiday) < mean

    def test_the_mix_covers_statuses_payments_and_excluded_categories(
        self, returns: list[dict[str, Any]]
    ) -> None:
        orders = [c["order"] for c in returns]
        assert {o["status"] for o in orders} == {
            "confirmed_unpaid", "paid_unshipped", "shipped", "signed", "closed", "cancelled",
        }  # fmt: skip
        cod_signed = [o for o in orders if o["payment_method"] == "cod" and o["status"] == "signed"]
        assert {o["paid_at"] is None for o in cod_signed} == {True, False}
        categories = {line["category"] for o in orders for line in o["lines"]}
        excluded = {"custom_made", "fresh", "digital_download", "periodical"}
        assert excluded | {"non_returnable_confirmed"} <= categories
        reasons = collections.Counter(c["request"]["reason"] for c in returns)
        assert reasons.most_common(1)[0][0] == "changed_mind"
        assert {"quality_defect", "size_does_not_fit", "damaged_in_transit", "wrong_item"} <= set(
            reasons
        )
        conditions = [c["request"]["condition"] for c in returns if c["request"]["condition"]]
        intact = sum(all(cond.values()) for cond in conditions) / len(conditions)
        assert 0.6 < intact < 0.99

    def test_complaints_escalate_and_promotions_vary(
        self, decided: dict[str, list[dict[str, Any]]]
    ) -> None:
        rules = collections.Counter(
            rule for line in decided["complaint"] for rule in line["decision"]["rules"]
        )
        assert rules["B2C-8.7.1"] > 0
        assert rules["B2C-8.7.5"] > 0
        sizes = {line["decision"]["size"] for line in decided["promotion"]}
        assert sizes == {"small", "medium", "large"}
        actions = {line["decision"]["action"] for line in decided["price_adjustment"]}
        assert actions == {"adjusted", "refused"}


class TestColumns:
    def test_csv_holds_the_same_cases_as_json_lines(self, tmp_path: Path) -> None:
        out = make(tmp_path / "cases.csv", "--rows", "1500", "--seed", "9")
        make(tmp_path / "cases.jsonl", "--rows", "1500", "--seed", "9")
        rebuilt: list[dict[str, Any]] = []
        for kind in KINDS:
            path = tmp_path / f"cases-{kind}.csv"
            assert f"wrote {path}" in out
            rebuilt += read_csv(path)
        assert _by_id(rebuilt) == _by_id(read_jsonl(tmp_path / "cases.jsonl"))

    def test_parquet_holds_the_same_cases_as_json_lines(self, tmp_path: Path) -> None:
        make(tmp_path / "cases.parquet", "--rows", "1500", "--seed", "9")
        make(tmp_path / "cases.jsonl", "--rows", "1500", "--seed", "9")
        rebuilt: list[dict[str, Any]] = []
        for kind in KINDS:
            rebuilt += read_parquet(tmp_path / f"cases-{kind}.parquet")
        assert _by_id(rebuilt) == _by_id(read_jsonl(tmp_path / "cases.jsonl"))

    @pytest.mark.parametrize("suffix", [".csv", ".parquet"])
    def test_flat_lines_hold_the_same_orders(self, tmp_path: Path, suffix: str) -> None:
        path = tmp_path / f"returns{suffix}"
        make(path, "--kind", "return", "--rows", "500", "--flat-lines")
        make(tmp_path / "returns.jsonl", "--kind", "return", "--rows", "500")
        rebuilt = read_csv(path) if suffix == ".csv" else read_parquet(path)
        assert _by_id(rebuilt) == _by_id(read_jsonl(tmp_path / "returns.jsonl"))
        assert any(len(case["order"]["lines"]) > 1 for case in rebuilt)

    def test_one_line_orders_with_max_lines_1(self, tmp_path: Path) -> None:
        path = tmp_path / "returns.csv"
        make(path, "--kind", "return", "--rows", "300", "--flat-lines", "--max-lines", "1")
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert [c for c in header if c.startswith("order.lines")] == [
            f"order.lines.0.{name}"
            for name in ("sku", "unit_price", "quantity", "special_price", "category")
        ]

    def test_parquet_types(self, tmp_path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "returns.parquet"
        make(path, "--kind", "return", "--rows", "50")
        schema = pq.read_schema(path)
        assert schema.field("at").type == pa.timestamp("ms", tz="Asia/Shanghai")
        assert schema.field("order.shipping_fee").type == pa.decimal128(12, 2)
        assert schema.field("request.condition.tag_intact").type == pa.bool_()
        line = schema.field("order.lines").type.value_type
        assert line.field("unit_price").type == pa.decimal128(12, 2)

    def test_parquet_is_written_in_row_groups_of_the_chunk_size(self, tmp_path: Path) -> None:
        import pyarrow.parquet as pq

        path = tmp_path / "returns.parquet"
        make(path, "--kind", "return", "--rows", "1000", "--chunk-rows", "300")
        meta = pq.ParquetFile(path).metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert sizes == [300, 300, 300, 100]


class TestCommandLine:
    def test_summary_names_rows_per_kind_dates_file_and_size(self, tmp_path: Path) -> None:
        path = tmp_path / "c.jsonl"
        out = make(path, "--rows", "400", "--start", "2026-05-01", "--end", "2026-06-30")
        assert "400 cases" in out
        assert "2026-05-01 to 2026-06-30" in out
        counts = {
            m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"(\w+) +([\d,]+)$", out, re.M)
        }
        assert set(counts) == set(KINDS)
        assert sum(counts.values()) == 400
        assert f"wrote {path}: 400 rows" in out

    def test_help_documents_every_flag(self) -> None:
        text = generate.parser().format_help()
        for flag in ("--kind", "--rows", "--seed", "--start", "--end", "--chunk-rows",
                     "--max-lines", "--flat-lines", "--progress"):  # fmt: skip
            assert flag in text

    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["x.jsonl", "--rows", "0"], "--rows"),
            (["x.jsonl", "--seed", "-1"], "--seed"),
            (["x.jsonl", "--start", "2026-13-01"], "--start"),
            (["x.jsonl", "--start", "2026-05-02", "--end", "2026-05-01"], "before --start"),
            (["x.txt"], ".parquet"),
            (["x.jsonl", "--flat-lines"], "--flat-lines"),
            (["x.jsonl", "--kind", "refund"], "--kind"),
        ],
    )
    def test_a_bad_argument_is_one_line_and_status_2(
        self, tmp_path: Path, args: list[str], expected: str
    ) -> None:
        status, out, err = run(str(tmp_path / args[0]), *args[1:])
        assert status == 2
        assert out == ""
        assert len(err.splitlines()) == 1
        assert expected in err
        assert list(tmp_path.iterdir()) == []

    def test_parquet_without_pyarrow_is_one_clear_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "pyarrow", None)
        monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
        status, _, err = run(str(tmp_path / "x.parquet"))
        assert status == 2
        assert err.splitlines() == [
            "generate.py: error: writing Parquet needs pyarrow: pip install 'csrules[frames]'"
        ]
        assert list(tmp_path.iterdir()) == []

    def test_progress_only_when_asked_or_on_a_terminal(self, tmp_path: Path) -> None:
        _, _, quiet = run(str(tmp_path / "a.jsonl"), "--rows", "100")
        _, _, shown = run(str(tmp_path / "b.jsonl"), "--rows", "100", "--progress")
        assert quiet == ""
        assert "100/100 rows" in shown
