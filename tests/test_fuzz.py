"""Fuzzing `csrules decide`: mutated example lines never break the JSON Lines contract.

Lines of ``examples/cases.jsonl`` are mutated at the JSON level (nulls, wrong
types, huge numbers, extreme dates and offsets, duplicate and unknown keys,
lone surrogates, deep nesting, a 1 MB string) and at the byte level (invalid
UTF-8, bare CR, NUL, a byte order mark, cut lines), written to a file and run
through ``csrules.cli.main`` in-process with ``--backend reference`` and
``--backend durable``. Whatever the input:

- there is exactly one output line per input line, in order, with its
  ``line`` number; each output line is valid UTF-8 and valid JSON;
- no result is an ``internal_error`` (except for the inputs listed in
  ``KNOWN_ELSEWHERE``, faults of time parsing outside the command's code,
  each matched by a pattern of the input line);
- stderr stays empty and the exit status is 0 with no error line, 1 with some
  (never 3: bad input is not a failed run);
- both monitor backends write the same bytes.

The default profile keeps the run short. For a longer local run::

    CSRULES_FUZZ=long .venv/bin/python -m pytest -q tests/test_fuzz.py
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
CASE_LINES = (ROOT / "examples" / "cases.jsonl").read_bytes().splitlines()

settings.register_profile(
    "csrules-fuzz-default",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "csrules-fuzz-long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(
    "csrules-fuzz-long" if os.environ.get("CSRULES_FUZZ") == "long" else "csrules-fuzz-default"
)


def _has_durable() -> bool:
    try:
        import durable.lang  # noqa: F401
    except ImportError:
        return False
    return True


BACKENDS = ("reference", "durable") if _has_durable() else ("reference",)

#: Input lines whose ``internal_error`` comes from time parsing and range
#: checks in the JSON codec, not from the command: pattern of the line, cause.
#: An ``internal_error`` on a line matching none of them fails the test.
KNOWN_ELSEWHERE: tuple[tuple[re.Pattern[str], str], ...] = ()


def _known_elsewhere(line: str) -> bool:
    return any(pattern.search(line) for pattern, _ in KNOWN_ELSEWHERE)


# ------------------------------------------------------------------ mutations

EXTREME_TIMES = [
    f"{day}T{clock}{offset}"
    for day in ("0001-01-01", "9999-12-31", "2026-02-29", "2026-13-01")
    for clock in ("00:00:00", "23:59:59")
    for offset in ("+14:00", "-14:00", "+24:00", "-24:00", "+08:00", "Z", "")
]
EXTREME_DATES = ["0001-01-01", "9999-12-31", "2026-02-29", "0000-01-01", "20260506"]
HUGE_NUMBERS = [
    "1" * 5000,
    "-" + "9" * 400,
    "1e99999",
    "-1e99999",
    "1e-99999",
    "123456789012345678901234567890.123456789",
    "-0",
    "0.1e1",
    "NaN",
    "Infinity",
]
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    "",
    " ",
    [],
    {},
    [None],
    {"": None},
    "r\ud800",
    "\udfff",
    "\x00",
    "😀",
    "\u202e",
    "\ufeff",
    "x" * 1000,
]
DEEP = [1, 200, 999, 1000, 1001, 5000, 100_000]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``obj``."""
    found = [prefix] if prefix else []
    if isinstance(obj, dict):
        for key, value in obj.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


def _delete(obj: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        obj = obj[step]
    del obj[path[-1]]


_MARK = "\x00csrules-fuzz-raw\x00"


@st.composite
def json_mutation(draw: st.DrawFn, line: bytes) -> bytes:
    """``line`` parsed, changed at one path (or a few), and written again."""
    obj = json.loads(line)
    raw: str | None = None  # JSON text put in place of the marker
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(obj)
        path = draw(st.sampled_from(paths))
        what = draw(
            st.sampled_from(
                ["odd", "time", "date", "huge", "deep", "delete", "unknown", "big", "wrong"]
            )
        )
        if what == "odd":
            _set(obj, path, copy.deepcopy(draw(st.sampled_from(ODD_VALUES))))
        elif what == "time":
            _set(obj, path, draw(st.sampled_from(EXTREME_TIMES)))
        elif what == "date":
            _set(obj, path, draw(st.sampled_from(EXTREME_DATES)))
        elif what == "huge" and raw is None:
            raw = draw(st.sampled_from(HUGE_NUMBERS))
            _set(obj, path, _MARK)
        elif what == "deep" and raw is None:
            depth = draw(st.sampled_from(DEEP))
            raw = draw(st.sampled_from(["[", '{"a":'])) * depth
            raw += ("]" if raw.startswith("[") else "}") * depth
            _set(obj, path, _MARK)
        elif what == "delete":
            _delete(obj, path)
        elif what == "unknown":
            parent = obj
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict):
                parent[draw(st.sampled_from(["extra", "note", "", "id2", "😀"]))] = 1
        elif what == "big":
            _set(obj, path, "界" * 350_000)  # about 1 MB of UTF-8
        elif what == "wrong":
            value: Any = obj
            for step in path:
                value = value[step]
            replacement: Any = (
                str(value) if not isinstance(value, str) else draw(st.sampled_from([1, [value]]))
            )
            _set(obj, path, replacement)
    ascii_only = draw(st.booleans())
    text = json.dumps(obj, ensure_ascii=ascii_only)
    if raw is not None:
        text = text.replace(json.dumps(_MARK, ensure_ascii=ascii_only), raw)
    if draw(st.booleans()):  # a duplicate key, first or last
        dup = draw(st.sampled_from(['"id": "dup", ', '"kind": "return", ', '"at": null, ']))
        text = "{" + dup + text[1:] if text.startswith("{") else text
    # lone surrogates cannot be UTF-8: write them as they are (invalid bytes)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def byte_mutation(draw: st.DrawFn, line: bytes) -> bytes:
    """``line`` with bytes inserted, replaced or cut."""
    data = bytearray(line)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        what = draw(st.sampled_from(["insert", "replace", "cut", "cr", "bom"]))
        if what == "insert":
            chunk = draw(
                st.sampled_from([b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\t"])
                | st.binary(min_size=1, max_size=4)
            )
            data[at:at] = chunk
        elif what == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif what == "cut":
            del data[at:]
        elif what == "cr":
            data[at:at] = b"\r"
        elif what == "bom":
            data[at:at] = b"\xef\xbb\xbf"
    return bytes(data)


@st.composite
def inputs(draw: st.DrawFn) -> bytes:
    """A file of a few example lines, some mutated, with varied line endings."""
    count = draw(st.integers(1, 6))
    lines = []
    for _ in range(count):
        line = draw(st.sampled_from(CASE_LINES))
        kind = draw(st.sampled_from(["keep", "json", "bytes", "both", "blank"]))
        if kind in ("json", "both"):
            line = draw(json_mutation(line))
        if kind in ("bytes", "both"):
            line = draw(byte_mutation(line))
        if kind == "blank":
            line = draw(st.sampled_from([b"", b" ", b"\r", b"\t\r"]))
        lines.append(line)
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = ending.join(lines)
    if draw(st.booleans()):
        data += ending
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data


def _expected_lines(data: bytes) -> int:
    """How many lines ``csrules decide`` reads in ``data``: split at ``\\n`` only."""
    if not data:
        return 0
    pieces = data.split(b"\n")
    if data.endswith(b"\n"):
        pieces.pop()
    return len(pieces)


# ------------------------------------------------------------------ running


def _run(path: Path, backend: str) -> tuple[int, bytes, str]:
    """``csrules decide`` in-process; stdout as the real bytes written."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="\n")
    err = io.StringIO()
    status = main(["decide", str(path), "--backend", backend], out=out, err=err)
    out.flush()
    return status, raw.getvalue(), err.getvalue()


def check_run(data: bytes, path: Path) -> list[dict[str, Any]]:
    """Run ``data`` through every backend and check the contract; returns the results."""
    path.write_bytes(data)
    outputs = {}
    for backend in BACKENDS:
        status, stdout, stderr = _run(path, backend)
        assert stderr == "", stderr
        text = stdout.decode("utf-8")  # strict: valid UTF-8
        assert text.endswith("\n") or text == ""
        results = [json.loads(line) for line in text.split("\n")[:-1]]
        assert len(results) == _expected_lines(data), (backend, results)
        lines = data.split(b"\n")
        for number, result in enumerate(results, start=1):
            assert isinstance(result, dict)
            assert result["line"] == number
            if "error" in result:
                assert set(result) == {"id", "line", "error"}
                assert result["error"]["message"]
                if result["error"]["code"] == "internal_error":
                    line = lines[number - 1].decode("utf-8", "replace")
                    assert _known_elsewhere(line), result
            else:
                assert "decision" in result, result
        errors = any("error" in r for r in results)
        assert status == (1 if errors else 0), (status, results)
        outputs[backend] = stdout
    assert len(set(outputs.values())) == 1, "the backends disagree"
    return results


class TestFuzzDecide:
    """Mutated example lines: one valid output line each, never a crash."""

    @PROFILE
    @given(inputs())
    def test_mutated_examples(self, data: bytes) -> None:
        """Byte- and JSON-level mutations of example lines keep the output contract."""
        with tempfile.TemporaryDirectory() as folder:
            check_run(data, Path(folder) / "in.jsonl")

    @pytest.mark.parametrize(
        "line",
        [
            pytest.param(b'{"id": "r\\ud800", "kind": "return"}', id="escaped-surrogate"),
            pytest.param(b'{"id": "r\xed\xa0\x80", "kind": "return"}', id="surrogate-bytes"),
            pytest.param(b"[" * 1000 + b"]" * 1000, id="deep-1000"),
            pytest.param(b'{"id": "r1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="deep"),
            pytest.param(b'{"id":\r"r1",\r"kind":\r"return"}', id="bare-cr"),
            pytest.param(b'{"id": "r1", "id": "r2"}', id="duplicate-keys"),
            pytest.param(b'{"id": "r1", "n": ' + b"1" * 5000 + b"}", id="huge-int"),
            pytest.param(b'{"id": "' + "界".encode() * 350_000 + b'"}', id="1MB"),
            pytest.param(b"\xef\xbb\xbf\xef\xbb\xbf{}", id="two-boms"),
        ],
    )
    def test_known_hard_lines(self, tmp_path: Path, line: bytes) -> None:
        """Hand-picked hard lines, each between two good lines, give error lines in place."""
        data = CASE_LINES[0] + b"\n" + line + b"\n" + CASE_LINES[1] + b"\n"
        results = check_run(data, tmp_path / "in.jsonl")
        assert "error" in results[1]
        assert "decision" in results[0]
        assert "decision" in results[2]
