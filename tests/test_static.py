"""The code base stays clean: ruff and mypy --strict run with the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


class TestStaticChecks:
    def test_ruff_finds_nothing(self) -> None:
        """ruff (lint rules in pyproject.toml) reports no problem in src, tests, examples."""
        if shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists():
            pytest.fail("ruff is not installed: install the 'dev' extra")
        ruff = str(Path(sys.executable).parent / "ruff")
        result = _run(ruff, "check", "src", "tests", "examples", "benchmarks")
        assert result.returncode == 0, result.stdout + result.stderr

    def test_mypy_strict_passes_on_the_library(self) -> None:
        """mypy --strict (configured in pyproject.toml) accepts src/ and the typing tests."""
        result = _run(sys.executable, "-m", "mypy", "src", "typing_tests")
        assert result.returncode == 0, result.stdout + result.stderr
