"""The analyst scripts in examples/ run as their docstrings say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
