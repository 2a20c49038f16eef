"""pytest plugin: collects policy test files (``*.csrules.yaml``), one item per test.

Registered through the ``pytest11`` entry point, so installing csrules is
enough. A failing test shows the same text as ``csrules test``; a malformed
file is a collection error naming the file, line and reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csrules._policytest import SUFFIX, Outcome, PolicyTest, format_failure, load_file, run_test
from csrules.exceptions import PolicyTestError

__all__ = ["PolicyTestFailedError", "PolicyTestFile", "PolicyTestItem", "pytest_collect_file"]


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> PolicyTestFile | None:
    """Collect ``*.csrules.yaml`` files."""
    if file_path.name.endswith(SUFFIX):
        file: PolicyTestFile = PolicyTestFile.from_parent(parent, path=file_path)
        return file
    return None


class PolicyTestFailedError(AssertionError):
    """A policy test's decision differs from its expectations."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        super().__init__(format_failure(outcome))


class PolicyTestFile(pytest.File):
    """A policy test file: one item per test in it."""

    def collect(self) -> Iterator[PolicyTestItem]:
        """The file's tests; a malformed file is a collection error."""
        try:
            tests = load_file(self.path)
        except PolicyTestError as err:
            raise self.CollectError(f"bad test file: {err}") from err
        for test in tests:
            item: PolicyTestItem = PolicyTestItem.from_parent(self, name=test.name, test=test)
            yield item


class PolicyTestItem(pytest.Item):
    """One policy test."""

    def __init__(self, *, test: PolicyTest, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test = test

    def runtest(self) -> None:
        """Decide the test's case(s) and compare."""
        outcome = run_test(self.test)
        if not outcome.passed:
            raise PolicyTestFailedError(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The same text as ``csrules test`` prints for a failure."""
        if isinstance(excinfo.value, PolicyTestFailedError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the test is: its file and line."""
        return self.path, self.test.line - 1, f"policy test: {self.test.name}"
