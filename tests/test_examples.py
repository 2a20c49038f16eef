"""The analyst scripts in examples/ run as their docstrings say."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from csrules import FreightPayer, ReturnCase, WorkCalendar, decide
from csrules.io import read_case_line
from csrules.policy import Policy, default_policy, load_policy
from csrules.stream import EscalationMonitor

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class TestReminderBands:
    def test_prints_the_handbook_bands_with_inclusive_upper_ends(self, tmp_path: Path) -> None:
        """B2C-7.11.3 under the default policy: 1-7 days → 1, 8-15 → 2, 16-30 → 3, 31-60 → 7,
        longer → 10; the chart is a PNG file."""
        chart = tmp_path / "bands.png"
        out = _run("reminder_bands.py", "--max-days", "70", "--chart", str(chart))
        lines = [line.split() for line in out.splitlines()[1:] if line.startswith("  ")]
        assert [(row[0], row[1]) for row in lines] == [
            ("1-7", "1"),
            ("8-15", "2"),
            ("16-30", "3"),
            ("31-60", "7"),
            ("61-70", "10"),
        ]
        assert chart.read_bytes().startswith(PNG_MAGIC)


class TestDayReport:
    def test_summarises_every_bundled_case(self, tmp_path: Path) -> None:
        """Every case of examples/cases.jsonl is counted once, with no errors, and the
        repeat complaint of customer C3 escalates to the general manager."""
        chart = tmp_path / "report.png"
        out = _run("day_report.py", "--chart", str(chart))
        total = sum(1 for _ in (EXAMPLES / "cases.jsonl").open(encoding="utf-8"))
        assert out.splitlines()[0].startswith(f"{total} cases")
        assert "errors" not in out
        escalations = out.split("complaint escalations")[1].split("\n\n")[0]
        assert "general_manager" in escalations
        assert chart.read_bytes().startswith(PNG_MAGIC)


# --- analyst scripts over generated cases ---------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _generate(folder: Path, name: str, rows: int, seed: int, kind: str = "all") -> Path:
    out = folder / name
    subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "generate.py"),
            str(out),
            "--rows",
            str(rows),
            "--seed",
            str(seed),
            "--kind",
            kind,
            "--no-progress",
        ],
        check=True,
        capture_output=True,
    )
    return out


class Sample:
    """One generated sample in every format: the JSON Lines file (read by the tests'
    own per-case decisions) and the Parquet and CSV files the scripts read (one per kind)."""

    def __init__(self, folder: Path, rows: int, seed: int, kind: str = "all") -> None:
        self.jsonl = _generate(folder, "cases.jsonl", rows, seed, kind)
        _generate(folder, "cases.parquet", rows, seed, kind)
        _generate(folder, "cases.csv", rows, seed, kind)
        self.folder = folder

    def files(self, suffix: str) -> list[str]:
        """The files of one format, as arguments."""
        return [str(p) for p in sorted(self.folder.glob(f"cases*{suffix}"))]


@pytest.fixture(scope="module")
def mixed_cases(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A generated mix of every kind of case."""
    pytest.importorskip("pyarrow")
    return Sample(tmp_path_factory.mktemp("mixed"), 1200, 11)


@pytest.fixture(scope="module")
def complaint_log(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """Generated complaints; the Parquet file is shuffled so it is not in time order."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    sample = Sample(tmp_path_factory.mktemp("complaints"), 700, 5, "complaint")
    (path,) = sample.files(".parquet")
    table = pq.read_table(path)
    order = list(range(table.num_rows))
    random.Random(5).shuffle(order)
    pq.write_table(table.take(pa.array(order)), path)
    return sample


@pytest.fixture(scope="module")
def promotions(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """Generated promotion cases."""
    pytest.importorskip("pyarrow")
    return Sample(tmp_path_factory.mktemp("promotions"), 200, 3, "promotion")


def _cases(path: Path) -> list[Any]:
    """The cases of a JSON Lines file, decoded by csrules.io."""
    with path.open(encoding="utf-8") as lines:
        return [read_case_line(line).case for line in lines if line.strip()]


def _tables(out: str, first_header: str) -> list[list[list[str]]]:
    """The rows of every printed table whose header starts with ``first_header``; a row's
    cells are split at two or more spaces, an empty first cell kept."""
    lines = out.splitlines()
    tables = []
    for start, line in enumerate(lines):
        if not line.startswith(first_header) or not lines[start + 1].startswith("-"):
            continue
        rows = []
        for row in lines[start + 2 :]:
            if not row.strip():
                break
            cells = re.split(r"\s{2,}", row.strip())
            rows.append(["", *cells] if row.startswith(" ") else cells)
        tables.append(rows)
    return tables


def _table(out: str, first_header: str) -> list[list[str]]:
    """The rows of the first printed table whose header starts with ``first_header``."""
    return _tables(out, first_header)[0]


def _ymd(value: Any) -> dt.date:
    return dt.date(value.year, value.month, value.day)


class TestFreightByReason:
    def test_counts_and_costs_the_returns_whose_freight_the_shop_pays(
        self, mixed_cases: Sample, tmp_path: Path
    ) -> None:
        """Per month and reason: the returns decided freight_payer merchant, each parcel at the
        policy's shipping_fee; the chart is a PNG."""
        chart = tmp_path / "freight.png"
        out = _run("freight_by_reason.py", *mixed_cases.files(".parquet"), "--chart", str(chart))
        policy = default_policy()
        expected: collections.Counter[tuple[str, str]] = collections.Counter()
        cost: dict[tuple[str, str], Decimal] = collections.defaultdict(Decimal)
        for case in _cases(mixed_cases.jsonl):
            if not isinstance(case, ReturnCase):
                continue
            if decide(case, policy=policy).freight_payer is not FreightPayer.MERCHANT:
                continue
            at = case.at.astimezone(SHANGHAI)
            key = (f"{at:%Y-%m}", str(case.request.reason.value))
            expected[key] += 1
            cost[key] += Decimal(str(policy.value("shipping_fee", at.date())))
        rows = _table(out, "month")
        assert {(r[0], r[1]): int(r[2]) for r in rows} == dict(expected)
        assert {(r[0], r[1]): Decimal(r[3]) for r in rows} == dict(cost)
        assert [r[0] for r in rows] == sorted(r[0] for r in rows)
        totals = _table(out, "reason")
        assert totals[-1][:2] == ["total", str(sum(expected.values()))]
        assert chart.read_bytes().startswith(PNG_MAGIC)

    def test_a_fixed_amount_per_parcel(self, mixed_cases: Sample) -> None:
        """--freight 12.50 costs every parcel 12.50."""
        args = (*mixed_cases.files(".parquet"), "--freight", "12.50")
        rows = _table(_run("freight_by_reason.py", *args), "month")
        assert rows
        assert all(Decimal(r[3]) == int(r[2]) * Decimal("12.50") for r in rows)

    def test_parquet_csv_and_json_lines_give_the_same_tables(self, mixed_cases: Sample) -> None:
        """The three formats of one sample: decide_frame over Parquet and over CSV, and the
        line path over JSON Lines, print the same tables."""
        outs = [
            _run("freight_by_reason.py", *files).split("\n", 1)[1]
            for files in (
                mixed_cases.files(".parquet"),
                mixed_cases.files(".csv"),
                [str(mixed_cases.jsonl)],
            )
        ]
        assert _table(outs[0], "month")
        assert outs[0] == outs[1] == outs[2]


class TestRefundsPerWeek:
    def test_counts_refunds_due_per_iso_week_and_marks_the_calendar(
        self, mixed_cases: Sample, tmp_path: Path
    ) -> None:
        """Each week's refunds due match the return decisions; its holiday days off and
        adjusted working days are those of WorkCalendar; both long holidays of 2026 are shown.
        (Read from the CSV files.)"""
        chart = tmp_path / "refunds.png"
        out = _run("refunds_per_week.py", *mixed_cases.files(".csv"), "--chart", str(chart))
        due: collections.Counter[tuple[int, int]] = collections.Counter()
        for case in _cases(mixed_cases.jsonl):
            if isinstance(case, ReturnCase):
                refund_due = decide(case).refund_due
                if refund_due is not None:
                    due[_ymd(refund_due).isocalendar()[:2]] += 1
        assert "Spring Festival 2026: days off 2026-02-15 to 2026-02-23" in out
        assert "National Day 2026: days off 2026-10-01" in out
        calendar = WorkCalendar.official()
        spring, national = _tables(out, "week")
        assert len(spring) == 7  # the two holiday weeks and two weeks either side
        for week, monday, count, days_off, adjusted in spring + national:
            first = dt.date.fromisoformat(f"{week[:4]}-{monday}")
            year, number = int(week[:4]), int(week[6:])
            assert first.isocalendar()[:2] == (year, number)
            assert int(count) == due[(year, number)]
            days = [first + dt.timedelta(days=i) for i in range(7)]
            off = [d for d in days if d.weekday() < 5 and not calendar.is_workday(d)]
            worked = [d for d in days if d.weekday() >= 5 and calendar.is_workday(d)]
            assert days_off == (" ".join(f"{d:%a %m-%d}" for d in off) or "-")
            assert adjusted == (" ".join(f"{d:%a %m-%d}" for d in worked) or "-")
        assert "Sat 02-14" in out  # an adjusted working day before the Spring Festival
        assert chart.read_bytes().startswith(PNG_MAGIC)


class TestEscalationsPerDay:
    def test_feeds_complaints_in_time_order_and_counts_targets_per_day(
        self, complaint_log: Sample, tmp_path: Path
    ) -> None:
        """A shuffled Parquet log gives the escalations of the complaints decided in time
        order through one monitor, per day and department."""
        chart = tmp_path / "escalations.png"
        args = (*complaint_log.files(".parquet"), "--chart", str(chart))
        out = _run("escalations_per_day.py", *args)
        expected: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        complaints = sorted(_cases(complaint_log.jsonl), key=lambda c: c.at)
        with EscalationMonitor(default_policy()) as monitor:
            for case in complaints:
                escalate_to = decide(case, monitor=monitor).escalate_to
                if escalate_to:
                    expected[str(_ymd(case.at.astimezone(SHANGHAI)))].update(
                        e.value for e in escalate_to
                    )
        assert expected
        header = out.splitlines()[2].split()
        departments = header[1 : header.index("total")]
        rows = _table(out, "day")
        got = {
            r[0]: collections.Counter(
                {d: int(n) for d, n in zip(departments, r[1:], strict=False) if int(n)}
            )
            for r in rows
        }
        assert got == expected
        assert [r[0] for r in rows] == sorted(expected)
        assert chart.read_bytes().startswith(PNG_MAGIC)


class TestPromotionCalendar:
    def test_lists_each_duty_of_the_month_on_its_day(
        self, promotions: Sample, tmp_path: Path
    ) -> None:
        """Without --month: the month the latest promotion starts; every training, mass
        message, end reminder, call-back and end SMS falling due in it, on its day."""
        chart = tmp_path / "calendar.png"
        cases = _cases(promotions.jsonl)
        month = max(c.promotion.starts_at for c in cases).astimezone(SHANGHAI)
        for wanted in (f"{month:%Y-%m}", "2026-11"):
            args = [*promotions.files(".parquet"), "--chart", str(chart)]
            out = _run(
                "promotion_calendar.py",
                *args,
                *(["--month", wanted] if wanted == "2026-11" else []),
            )
            assert f"duties fall due in {wanted}" in out
            expected = set()
            for case in cases:
                decision = decide(case)
                for field, duty in (
                    ("training_on", "training"),
                    ("mass_message_on", "mass message"),
                    ("remind_on", "end reminder"),
                    ("interest_callback_on", "call-backs"),
                    ("end_sms_on", "end SMS"),
                ):
                    on = getattr(decision, field)
                    if on is not None and f"{on.year:04d}-{on.month:02d}" == wanted:
                        expected.add((str(_ymd(on)), duty, case.id))
            got = set()
            day = ""
            for row in _table(out, "day"):
                day = row[0].split()[0] if row[0] else day
                got.add((day, row[1], row[2]))
            assert got == expected
            assert expected
            assert chart.read_bytes().startswith(PNG_MAGIC)


class TestWhatIf:
    def _shifts(self, path: Path, a: Policy, b: Policy) -> tuple[int, int, int, int]:
        """(to shop, off shop, refunds shifted, days shifted) over the return cases."""
        to_shop = off_shop = shifted = days = 0
        for case in _cases(path):
            if not isinstance(case, ReturnCase):
                continue
            one, two = decide(case, policy=a), decide(case, policy=b)
            merchant = (
                one.freight_payer is FreightPayer.MERCHANT,
                two.freight_payer is FreightPayer.MERCHANT,
            )
            to_shop += merchant == (False, True)
            off_shop += merchant == (True, False)
            if one.refund_due and two.refund_due and one.refund_due != two.refund_due:
                shifted += 1
                days += (_ymd(two.refund_due) - _ymd(one.refund_due)).days
        return to_shop, off_shop, shifted, days

    def _total(self, out: str) -> tuple[int, int, int, int]:
        total = _table(out, "#")[-1]
        assert total[1] == "total"
        return int(total[3]), int(total[4]), int(total[6]), int(total[7])

    def test_b2c_against_taobao(self, mixed_cases: Sample, tmp_path: Path) -> None:
        """The default comparison: the freight and refund-date changes add up to what the two
        policies decide case by case."""
        chart = tmp_path / "what_if.png"
        out = _run("what_if.py", *mixed_cases.files(".parquet"), "--chart", str(chart))
        expected = self._shifts(mixed_cases.jsonl, load_policy("b2c"), load_policy("taobao"))
        assert self._total(out) == expected
        assert expected[2] > 0
        assert chart.read_bytes().startswith(PNG_MAGIC)

    def test_a_policy_file_with_a_longer_refund_period(
        self, mixed_cases: Sample, tmp_path: Path
    ) -> None:
        """B from a TOML file (10 working days to refund, B2C-7.8.2): refunds only move later."""
        shop = tmp_path / "slow.toml"
        shop.write_text(
            '[policy]\nname = "slow"\nextends = "b2c"\n'
            "[parameters.refund_working_days]\nvalues = { 2010-04-01 = 10 }\n",
            encoding="utf-8",
        )
        out = _run("what_if.py", *mixed_cases.files(".parquet"), "--b", str(shop))
        expected = self._shifts(mixed_cases.jsonl, load_policy("b2c"), load_policy(shop))
        assert self._total(out) == expected
        assert expected[3] > 0
        assert all(int(row[7]) >= 0 for row in _table(out, "#"))


SCRIPTS = [
    "freight_by_reason.py",
    "refunds_per_week.py",
    "escalations_per_day.py",
    "promotion_calendar.py",
    "what_if.py",
]


class TestFailures:
    @pytest.mark.parametrize("script", SCRIPTS)
    def test_a_missing_input_file_is_one_line_and_status_2(
        self, script: str, tmp_path: Path
    ) -> None:
        """No traceback: one line naming the file, exit status 2."""
        missing = tmp_path / "nope.jsonl"
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / script), str(missing)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"{script}: error: no such input file: {missing}"
        ]

    def test_parquet_without_pyarrow_is_one_line_and_status_2(
        self, mixed_cases: Sample, tmp_path: Path
    ) -> None:
        """A Parquet input when pyarrow cannot be imported: one line saying what to install."""
        fake = tmp_path / "site" / "pyarrow"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("raise ImportError('no pyarrow here')\n")
        env = {**os.environ, "PYTHONPATH": str(fake.parent)}
        files = mixed_cases.files(".parquet")
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "freight_by_reason.py"), *files],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"freight_by_reason.py: error: {Path(files[0]).name}: reading Parquet and CSV "
            "needs pyarrow: pip install 'csrules[frames]'"
        ]

    @pytest.mark.parametrize(
        ("name", "content", "expected"),
        [
            ("bad.parquet", b"not parquet", "bad.parquet: not a table of cases"),
            ("nokind.csv", b"id,at\nR1,2026-05-01T10:00:00+08:00\n", "nokind.csv: no 'kind'"),
            ("cases.txt", b"{}", "cases.txt: expected Parquet or CSV files of cases"),
        ],
    )
    def test_a_file_that_is_not_a_table_of_cases_is_one_line(
        self, tmp_path: Path, name: str, content: bytes, expected: str
    ) -> None:
        path = tmp_path / name
        path.write_bytes(content)
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "what_if.py"), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert expected in lines[0]

    def test_chart_without_matplotlib_is_one_line_and_status_2(self, tmp_path: Path) -> None:
        """--chart when matplotlib cannot be imported: one line saying what to install."""
        fake = tmp_path / "site" / "matplotlib"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
        env = {**os.environ, "PYTHONPATH": str(fake.parent)}
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "what_if.py"), "--chart", str(tmp_path / "x.png")],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "what_if.py: error: --chart needs matplotlib: pip install 'csrules[charts]'"
        ]
        assert not (tmp_path / "x.png").exists()


class TestDefaultSample:
    def test_runs_as_written_on_a_seeded_sample(self) -> None:
        """Without an input file a script generates its seeded sample: same seed, same table."""
        first = _run("promotion_calendar.py", "--rows", "60", "--seed", "4")
        assert first.startswith("60 promotions from generated sample (generate.py, seed 4)")
        assert _run("promotion_calendar.py", "--rows", "60", "--seed", "4") == first


class TestLeftOut:
    def test_lines_that_are_not_cases_and_errors_are_left_out_with_a_note(self) -> None:
        """examples/bad-cases.jsonl: the decidable cases are counted, the rest noted on stderr."""
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "what_if.py"), str(EXAMPLES / "bad-cases.jsonl")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        text = (EXAMPLES / "bad-cases.jsonl").read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line.strip()]
        readable = []
        for line in lines:
            try:
                at = dt.datetime.fromisoformat(json.loads(line)["at"])
            except (ValueError, KeyError, TypeError):
                continue
            if at.tzinfo is not None:
                readable.append(at)
        assert result.stdout.startswith(f"{len(readable)} cases from bad-cases.jsonl")
        notes = result.stderr.splitlines()
        assert f"left out {len(lines) - len(readable)} line(s)" in notes[0]
        assert "case(s) not decided, left out" in notes[1]
        assert "Traceback" not in result.stderr
