"""docs/tutorial.md runs as written.

The tutorial is a sequence of files (a fenced block right after
``<!-- file: NAME -->``) and shell sessions (a ``console`` block: lines
starting with ``$ `` are commands, the lines after one are what it prints,
``...`` standing for any text as in doctest). This test writes the files into
an empty folder and runs the sessions there in order, as a reader would, with
this environment's ``csrules`` and ``python`` first on the ``PATH``. A
command exits with 0 unless its line ends in ``# exits N``.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"

_BLOCK = re.compile(r"^(`{3,})(\S*)[^\n]*\n(.*?)^\1\s*$", re.S | re.M)
_FILE = re.compile(r"<!-- file: (\S+) -->\s*$")
_EXITS = re.compile(r"#\s*exits\s+(\d+)\s*$")


def _steps(text: str) -> list[tuple[str, str, str]]:
    """The page's files and sessions in order: (``file``, name, text) or
    (``console``, "", text)."""
    steps = []
    for match in _BLOCK.finditer(text):
        lang, body = match.group(2), match.group(3)
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        named = _FILE.search(before)
        if named:
            steps.append(("file", named.group(1), body))
        elif lang == "console":
            steps.append(("console", "", body))
    return steps


def _commands(session: str) -> list[tuple[str, str]]:
    """The commands of a console block with the output shown after each."""
    found: list[tuple[str, list[str]]] = []
    for line in session.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"a console block starts with output, not a command: {line!r}")
    return [(cmd, "\n".join(out).strip("\n")) for cmd, out in found]


def _matches(expected: str, got: str) -> bool:
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    return checker.check_output(expected + "\n", got.strip("\n") + "\n", flags)


def test_the_page_has_files_and_sessions() -> None:
    steps = _steps(PAGE.read_text(encoding="utf-8"))
    assert any(kind == "file" for kind, _, _ in steps)
    assert sum(kind == "console" for kind, _, _ in steps) >= 4


def test_the_helpers_read_a_page() -> None:
    session = "$ cat a.txt\nhello\n$ false  # exits 1\n"
    page = f"<!-- file: a.txt -->\n```text\nhello\n```\n\n```console\n{session}```\n"
    steps = _steps(page)
    assert steps == [("file", "a.txt", "hello\n"), ("console", "", session)]
    assert _commands(steps[1][2]) == [("cat a.txt", "hello"), ("false  # exits 1", "")]
    assert _matches("a ... c", "a b c")
    assert not _matches("a c", "a b c")


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("PYTHONPATH", None)
    env["COLUMNS"] = "100"
    ran = 0
    for kind, name, body in _steps(PAGE.read_text(encoding="utf-8")):
        if kind == "file":
            (tmp_path / name).write_text(body, encoding="utf-8")
            continue
        for command, expected in _commands(body):
            exits = _EXITS.search(command)
            want = int(exits.group(1)) if exits else 0
            done = subprocess.run(
                command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                text=True, timeout=300, check=False,
            )  # fmt: skip
            got = done.stdout + done.stderr
            assert done.returncode == want, f"$ {command}\nexit {done.returncode}\n{got}"
            assert _matches(expected, got), f"$ {command}\nexpected:\n{expected}\ngot:\n{got}"
            ran += 1
    assert ran >= 4


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
