"""`csrules watch FILE --now TIME` (what is overdue) and `csrules decide --schedule FILE`."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from csrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "examples" / "cases.jsonl"


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def _decided(tmp_path: Path) -> Path:
    status, out, _ = _run("decide", str(CASES))
    assert status == 0
    path = tmp_path / "decided.jsonl"
    path.write_text(out, encoding="utf-8")
    return path


class TestWatch:
    def test_lists_passed_deadlines_of_decided_complaints(self, tmp_path: Path) -> None:
        """At 15:00 on 6 May, Operations' 4-hour answer on c01 (received 10:00, B2C-5) is an
        hour late; deadlines still ahead are not listed."""
        status, out, _ = _run(
            "watch", str(_decided(tmp_path)), "--now", "2026-05-06T15:00:00+08:00"
        )
        assert status == 0
        rows = [line.split() for line in out.splitlines()[1:]]
        assert [
            "c01",
            "department_answer",
            "2026-05-06T14:00:00+08:00",
            "1:00:00",
            "operations",
            "B2C-5",
        ] in rows
        assert all(row[0] != "c02" for row in rows)  # received 21:30, due later

    def test_jsonl_output_says_how_late_and_whom_to_tell(self, tmp_path: Path) -> None:
        """Each overdue item as JSON names the case, the deadline, the delay and the clause."""
        status, out, _ = _run(
            "watch",
            str(_decided(tmp_path)),
            "--now",
            "2026-05-06T15:00:00+08:00",
            "--format",
            "jsonl",
        )
        assert status == 0
        items = [json.loads(line) for line in out.splitlines()]
        assert items
        assert {"c01"} <= {item["case"]["id"] if "case" in item else item["id"] for item in items}

    def test_nothing_overdue_before_any_deadline(self, tmp_path: Path) -> None:
        """Before the first complaint arrives nothing can be late."""
        status, out, _ = _run(
            "watch", str(_decided(tmp_path)), "--now", "2026-05-06T09:00:00+08:00"
        )
        assert status == 0
        assert out.strip() == "Nothing is overdue."

    def test_a_time_without_offset_is_a_usage_error(self, tmp_path: Path) -> None:
        """`--now` must carry an offset: a naive time is refused with exit status 2."""
        status, _, err = _run("watch", str(_decided(tmp_path)), "--now", "2026-05-06T15:00:00")
        assert status == 2
        assert "--now" in err


class TestScheduleOption:
    def test_a_schedule_file_makes_2027_exact(self, tmp_path: Path) -> None:
        """Without official 2027 data a 2027 refund date is estimated; `--schedule` with
        the year's holidays makes it exact, and a holiday in the file moves the date."""
        line = next(raw for raw in CASES.read_text(encoding="utf-8").splitlines() if '"r15"' in raw)
        cases = tmp_path / "r15.jsonl"
        cases.write_text(line + "\n", encoding="utf-8")
        status, out, _ = _run("decide", str(cases))
        assert status == 0
        before = json.loads(out)["decision"]
        assert before["estimated"] is True
        schedule = tmp_path / "2027.toml"
        schedule.write_text('[2027]\nholidays = ["2027-01-01", "2027-01-06"]\nworkdays = []\n')
        status, out, _ = _run("decide", str(cases), "--schedule", str(schedule))
        assert status == 0
        after = json.loads(out)["decision"]
        assert after["estimated"] is False
        assert after["refund_due"] == "2027-01-15"  # 6 January is now a day off
        assert before["refund_due"] == "2027-01-14"

    def test_an_unreadable_schedule_is_a_usage_error(self, tmp_path: Path) -> None:
        """A schedule file that cannot be read stops the run with exit status 2."""
        status, _, err = _run("decide", str(CASES), "--schedule", str(tmp_path / "none.toml"))
        assert status == 2
        assert "none.toml" in err


class TestWatchInput:
    """`csrules watch` reads bytes like `decide`: BOM, bare CR, bad lines reported in order."""

    NOW = "2026-05-06T15:00:00+08:00"

    def _c01(self, tmp_path: Path) -> bytes:
        decided = _decided(tmp_path).read_bytes().splitlines()
        return next(line for line in decided if line.startswith(b'{"id":"c01"'))

    def test_bad_lines_are_reported_and_the_rest_is_read(self, tmp_path: Path) -> None:
        """A BOM and a CR inside a line are fine; invalid UTF-8 and deep nesting are reported
        with their line numbers, in order, and the exit status is 1."""
        c01 = self._c01(tmp_path).replace(b",", b",\r", 2)
        deep = b'{"id": "d", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        data = b"\xef\xbb\xbf" + b"\n".join([c01, b'{"id": "\xff"}', deep, b"{"]) + b"\n"
        path = tmp_path / "open.jsonl"
        path.write_bytes(data)
        status, out, err = _run("watch", str(path), "--now", self.NOW)
        assert status == 1
        assert "c01" in out
        assert "department_answer" in out
        problems = err.splitlines()
        assert [p.split(":")[1].strip() for p in problems] == ["line 2", "line 3", "line 4"]
        assert "UTF-8" in problems[0]
        assert "JSON" in problems[1]
        assert "Traceback" not in err

    def test_stdin_bytes(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """`watch -` reads standard input's bytes, BOM and CRLF included."""
        data = b"\xef\xbb\xbf" + self._c01(tmp_path) + b"\r\n"
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        status, out, err = _run("watch", "-", "--now", self.NOW, "--format", "jsonl")
        assert status == 0, err
        assert [json.loads(line)["id"] for line in out.splitlines()] == ["c01"]

    def test_ids_with_surrogates_are_written_as_utf8(self, tmp_path: Path) -> None:
        """An open case whose id holds a lone surrogate escape is written as valid UTF-8."""
        line = json.dumps(
            {
                "id": "c\ud800",
                "kind": "department_answer",
                "due": "2026-05-06T14:00:00+08:00",
                "notify": "operations",
                "clause": "B2C-5",
            }
        )
        path = tmp_path / "open.jsonl"
        path.write_text(line + "\n", encoding="ascii")
        written = {}
        for fmt in ("jsonl", "table"):
            raw = io.BytesIO()
            out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
            status = main(["watch", str(path), "--now", self.NOW, "--format", fmt], out=out)
            out.flush()
            assert status == 0
            written[fmt] = raw.getvalue().decode("utf-8")
        assert json.loads(written["jsonl"])["id"] == "c\ud800"
        assert "c\\ud800  department_answer" in written["table"]
