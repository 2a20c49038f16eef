"""`csrules watch FILE --now TIME`: what is overdue among decided complaints."""

from __future__ import annotations

import io
import json
from pathlib import Path

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
