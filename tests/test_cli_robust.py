"""`csrules decide` on hostile input and output: bytes, encodings, interrupts, exit status."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wcwidth

import csrules.cli
from csrules.cli import decide_lines, main
from csrules.io._decisions import render_table

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "examples" / "cases.jsonl"
CASE_BYTES = CASES.read_bytes().splitlines()
BOM = b"\xef\xbb\xbf"


def run_bytes(*args: str | Path) -> tuple[int, bytes, str]:
    """Run ``csrules`` in-process; stdout as the bytes a UTF-8 stream received."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="\n")
    err = io.StringIO()
    status = main([str(a) for a in args], out=out, err=err)
    out.flush()
    return status, raw.getvalue(), err.getvalue()


def results(stdout: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines output, which must be UTF-8."""
    return [json.loads(line) for line in stdout.decode("utf-8").splitlines()]


def stdin_bytes(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Make ``sys.stdin`` a text stream over ``data`` (with a ``buffer``, like the real one)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    return path


class TestEncoding:
    """Input is UTF-8 bytes, decoded line by line; output is always UTF-8."""

    def test_invalid_utf8_in_a_file(self, tmp_path: Path) -> None:
        """A line with bytes that are not UTF-8 is an invalid_encoding line; the others are
        decided."""
        bad = b'{"id": "x\xff", "kind": "return"}'
        path = write(tmp_path, b"\n".join([CASE_BYTES[0], bad, CASE_BYTES[1]]) + b"\n")
        status, out, err = run_bytes("decide", path, "--no-stream")
        assert status == 1
        assert err == ""
        first, middle, last = results(out)
        assert first["line"] == 1
        assert "decision" in first
        assert middle["line"] == 2
        assert middle["error"]["code"] == "invalid_encoding"
        offset = bad.index(b"\xff")
        assert f"offset {offset}" in middle["error"]["message"]
        assert last["line"] == 3
        assert "decision" in last

    def test_invalid_utf8_on_stdin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """On stdin, bad bytes are never echoed: the output stays UTF-8."""
        stdin_bytes(monkeypatch, b'{"id": "\xc3\x28"}\n' + CASE_BYTES[2] + b"\n")
        status, out, _ = run_bytes("decide", "-", "--no-stream")
        assert status == 1
        out.decode("utf-8")
        error, decided = results(out)
        assert error["error"]["code"] == "invalid_encoding"
        assert "offset 8" in error["error"]["message"]
        assert decided["line"] == 2
        assert "decision" in decided

    def test_id_is_kept_when_readable(self, tmp_path: Path) -> None:
        """The error line names the case when its id itself is fine."""
        path = write(tmp_path, b'{"id": "r7", "note": "\xff"}\n')
        _, out, _ = run_bytes("decide", path, "--no-stream")
        assert results(out)[0]["id"] == "r7"

    def test_subprocess_stdin_bytes(self) -> None:
        """A real process fed bad bytes on stdin writes UTF-8 only, one line per input line."""
        data = CASE_BYTES[0] + b"\n\xff\xfe\x00garbage\n" + CASE_BYTES[1] + b"\n"
        done = subprocess.run(
            [sys.executable, "-m", "csrules.cli", "decide", "-", "--no-stream"],
            input=data,
            capture_output=True,
            check=False,
            timeout=120,
            env={**os.environ, "PYTHONIOENCODING": "latin-1"},
        )
        assert done.returncode == 1, done.stderr
        lines = results(done.stdout)
        assert [r["line"] for r in lines] == [1, 2, 3]
        assert lines[1]["error"]["code"] == "invalid_encoding"
        assert done.stderr == b""

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param('{"id": "r\\ud800", "kind": "return"}', id="escaped-surrogate"),
            pytest.param('{"id": "\\udfff"}', id="low-surrogate"),
        ],
    )
    def test_lone_surrogate_does_not_stop_the_run(self, tmp_path: Path, text: str) -> None:
        """A lone surrogate escape is valid JSON; its line gets a result in valid UTF-8 and the
        next line is decided."""
        path = write(tmp_path, text.encode() + b"\n" + CASE_BYTES[0] + b"\n")
        status, out, err = run_bytes("decide", path, "--no-stream")
        assert status == 1
        assert "Traceback" not in err
        first, second = results(out)
        assert first["line"] == 1
        assert "error" in first
        assert second["line"] == 2
        assert "decision" in second

    def test_a_result_that_cannot_be_utf8_is_escaped(self) -> None:
        """An id with a lone surrogate is echoed with an ASCII escape, never as bad bytes."""
        line = json.loads(CASE_BYTES[0])
        line["id"] = "r\ud800"
        text = json.dumps(line)  # ASCII escapes: valid JSON
        (result,) = decide_lines([text], monitor=None)
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
        out.write(csrules.cli._json_line(result))
        out.flush()
        assert json.loads(raw.getvalue().decode("utf-8"))["id"] == result["id"]


class TestLines:
    """Lines end at \\n only; a BOM is ignored; deep nesting is an error line."""

    def test_bare_cr_inside_a_line(self, tmp_path: Path) -> None:
        """A CR between JSON tokens is whitespace, not a line break; numbering stays right."""
        with_cr = CASE_BYTES[0].replace(b", ", b",\r", 3)
        assert b"\r" in with_cr
        path = write(tmp_path, with_cr + b"\n" + CASE_BYTES[1] + b"\r\n")
        status, out, _ = run_bytes("decide", path, "--no-stream")
        assert status == 0
        lines = results(out)
        assert [r["line"] for r in lines] == [1, 2]
        assert [r["id"] for r in lines] == ["r01", "r02"]

    def test_bom_in_a_file(self, tmp_path: Path) -> None:
        """A UTF-8 byte order mark before the first line is ignored."""
        path = write(tmp_path, BOM + CASE_BYTES[0] + b"\n" + CASE_BYTES[1] + b"\n")
        status, out, _ = run_bytes("decide", path, "--no-stream")
        assert status == 0
        assert [r["id"] for r in results(out)] == ["r01", "r02"]

    def test_bom_on_stdin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The same on standard input."""
        stdin_bytes(monkeypatch, BOM + CASE_BYTES[0] + b"\n")
        status, out, _ = run_bytes("decide", "--no-stream")
        assert status == 0
        assert results(out)[0]["id"] == "r01"

    @pytest.mark.parametrize("depth", [1000, 100_000])
    def test_deep_nesting(self, tmp_path: Path, depth: int) -> None:
        """A line nested very deep is invalid_json, and the run goes on."""
        deep = b'{"id": "r1", "x": ' + b"[" * depth + b"]" * depth + b"}"
        path = write(tmp_path, deep + b"\n" + CASE_BYTES[0] + b"\n")
        status, out, err = run_bytes("decide", path, "--no-stream")
        assert status == 1
        assert err == ""
        first, second = results(out)
        assert first["error"]["code"] == "invalid_json"
        assert "decision" in second

    def test_decide_lines_takes_bytes_and_text(self) -> None:
        """decide_lines accepts str or bytes lines, with their endings, and a BOM first."""
        text = CASE_BYTES[0].decode()
        mixed: list[str | bytes] = [BOM + CASE_BYTES[0] + b"\r\n", text + "\n", b"\xff\n", text]
        out = list(decide_lines(mixed))
        assert [r["line"] for r in out] == [1, 2, 3, 4]
        assert [r["id"] for r in out] == ["r01", "r01", None, "r01"]
        assert out[2]["error"]["code"] == "invalid_encoding"
        assert out[0]["decision"] == out[1]["decision"] == out[3]["decision"]


class _Full(io.RawIOBase):
    """A stream that is always full, like /dev/full."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class TestExitStatus:
    """0 decided, 1 error lines, 2 usage, 3 the run failed, 130 interrupted."""

    def test_output_that_cannot_be_written(self) -> None:
        """A full disk: exit 3 and one plain line on stderr."""
        out = io.TextIOWrapper(io.BufferedWriter(_Full()), encoding="utf-8")
        err = io.StringIO()
        status = main(["decide", str(CASES), "--no-stream"], out=out, err=err)
        assert status == 3
        assert err.getvalue().count("\n") == 1
        assert "No space left" in err.getvalue()
        assert "Traceback" not in err.getvalue()

    def test_crash_is_3_with_one_line(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A fault outside the per-line handling: exit 3, not 1; traceback only with
        --debug."""

        def broken(*args: object, **kwargs: object) -> Iterator[dict[str, Any]]:
            raise RuntimeError("the engine fell over")

        monkeypatch.setattr(csrules.cli, "decide_lines", broken)
        status, out, err = run_bytes("decide", CASES, "--no-stream")
        assert status == 3
        assert out == b""
        assert err.count("\n") == 1
        assert "the engine fell over" in err
        assert "--debug" in err
        status, _, err = run_bytes("decide", CASES, "--no-stream", "--debug")
        assert status == 3
        assert "Traceback" in err
        assert "the engine fell over" in err.splitlines()[-1]

    def test_interrupt_flushes_decided_lines(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ctrl-C after three lines: the three results are flushed, exit 130, no traceback."""

        class Interrupted(io.BytesIO):
            def __iter__(self) -> Iterator[bytes]:
                yield from (line + b"\n" for line in CASE_BYTES[:3])
                raise KeyboardInterrupt

        class Stdin:
            buffer = Interrupted()

        monkeypatch.setattr(sys, "stdin", Stdin())
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding="utf-8")
        err = io.StringIO()
        status = main(["decide", "-", "--no-stream"], out=out, err=err)
        assert status == 130
        assert [r["id"] for r in results(raw.getvalue())] == ["r01", "r02", "r03"]
        assert "Traceback" not in err.getvalue()

    def test_help_lists_the_exit_statuses(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`csrules decide --help` documents every exit status."""
        assert main(["decide", "--help"]) == 0
        text = capsys.readouterr().out
        for code in ("0", "1", "2", "3", "130"):
            assert f"\n  {code} " in text, code
        assert "--debug" in text


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "csrules.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )


def _read_lines(stream: Any, count: int, timeout: float = 120) -> list[bytes]:
    """``count`` lines from ``stream``, failing rather than hanging."""
    got: list[bytes] = []

    def read() -> None:
        for _ in range(count):
            got.append(stream.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert len(got) == count, got
    return got


class _Lines:
    """Collects a process's stderr in the background (progress reports end with \\r)."""

    def __init__(self, stream: Any) -> None:
        self.text = ""
        self.changed = threading.Event()
        self.reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.reader.start()

    def _read(self, stream: Any) -> None:
        while chunk := stream.read1(4096):
            self.text += chunk.decode("utf-8", "replace")
            self.changed.set()

    def wait_for_change(self, seconds: float) -> None:
        self.changed.clear()
        self.changed.wait(seconds)

    def last_count(self) -> int:
        """The number of lines done in the last progress report (0 before the first)."""
        counts = re.findall(r"csrules: (\d+) lines", self.text)
        return int(counts[-1]) if counts else 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /dev/full")
class TestRealProcess:
    """The same, for a real process."""

    def test_sigint_while_waiting_for_input(self) -> None:
        """SIGINT to a `decide -` fed slowly through a pipe: exit 130, every line decided so
        far is written whole, no traceback."""
        proc = _start("decide", "-", "--no-stream", "--progress")
        assert proc.stdin is not None
        assert proc.stderr is not None
        progress = _Lines(proc.stderr)
        fed = 0
        # Feed a line at a time, more than a second apart, until the progress report on
        # stderr (at most once a second) says every line fed so far is decided: the process
        # then waits for more input, with its results still in stdout's buffer.
        while fed == 0 or progress.last_count() != fed:
            assert fed < len(CASE_BYTES), progress.text
            proc.stdin.write(CASE_BYTES[fed] + b"\n")
            proc.stdin.flush()
            fed += 1
            progress.wait_for_change(seconds=1.2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        progress.reader.join(120)
        assert proc.returncode == 130, progress.text
        assert "Traceback" not in progress.text
        assert out.endswith(b"\n")
        assert [r["id"] for r in results(out)] == [json.loads(c)["id"] for c in CASE_BYTES[:fed]]

    @pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
    def test_dev_full(self) -> None:
        """`> /dev/full`: exit 3 with one plain line on stderr."""
        with open("/dev/full", "wb") as full:
            done = subprocess.run(
                [sys.executable, "-m", "csrules.cli", "decide", str(CASES), "--no-stream"],
                stdout=full,
                stderr=subprocess.PIPE,
                check=False,
                timeout=120,
            )
        assert done.returncode == 3
        message = done.stderr.decode()
        assert message.count("\n") == 1, message
        assert "Traceback" not in message
        assert "No space left on device" in message

    def test_broken_pipe_is_quiet(self, tmp_path: Path) -> None:
        """A reader that stops early (like head): nothing on stderr, and status 141
        (128 + SIGPIPE), not 0: not every line was written."""
        big = write(tmp_path, b"".join(line + b"\n" for line in CASE_BYTES) * 20)
        proc = _start("decide", str(big), "--no-stream")
        assert proc.stdout is not None
        assert proc.stderr is not None
        _read_lines(proc.stdout, 1)
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=120)
        assert err == b""
        assert proc.returncode == 141  # far more output than a pipe holds


class TestTable:
    """--format table lines up by display width and fits the terminal."""

    IDS = ("退货一号", "✅ok", "ｱｲｳ", "e\u0301e\u0301", "r01", "x" * 30)

    def lines(self) -> list[dict[str, Any]]:
        """Output lines with awkward ids: wide, narrow, combining, emoji."""
        source = [json.loads(line) for line in CASE_BYTES[:6]]
        for obj, case_id in zip(source, self.IDS, strict=True):
            obj["id"] = case_id
        out = list(decide_lines([json.dumps(obj) for obj in source], lang="zh"))
        out.append({"id": "坏\x1b[31m", "line": 7, "error": {"code": "x", "message": "m"}})
        return out

    @staticmethod
    def check_columns(text: str) -> list[int]:
        """Every row line starts each column at the same display cell; returns the starts."""
        rows = text.splitlines()
        rule = rows[1]
        assert set(rule) == {"-", " "}
        starts = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]
        for row in rows[2:] if len(rows) > 2 else []:
            indent = len(row) - len(row.lstrip(" "))
            if row[indent] == "·" or (indent == starts[1] + 3 and indent not in starts):
                continue  # an explanation line below the row, or its continuation
            cells: list[str] = []  # one entry per display cell
            for ch in row:
                width = wcwidth.wcwidth(ch)
                if width != 0:  # a combining mark shares its base's cell
                    cells.extend([ch] + [""] * (width - 1))
            for start in starts[1:]:
                if start >= len(cells):
                    break
                assert cells[start - 2 : start] == [" ", " "], (row, start)
                assert cells[start] != "", (row, start)  # not the middle of a wide character
        return starts

    @pytest.mark.parametrize("lang", ["en", "zh"])
    def test_columns_line_up(self, lang: str) -> None:
        """Every row has the same display width per column, Chinese headers included."""
        text = render_table(self.lines(), lang=lang)  # type: ignore[arg-type]
        self.check_columns(text)
        assert "\\x1b" in text  # control characters are shown, not sent to the terminal
        assert "\x1b" not in text

    def test_chinese_examples_table(self) -> None:
        """`decide --format table --lang zh` on the examples: the columns line up."""
        out = io.StringIO()
        assert (
            main(
                ["decide", str(CASES), "--no-stream", "--format", "table", "--lang", "zh"], out=out
            )
            == 0
        )
        table = out.getvalue().split("\n\n")[0]
        assert table.startswith("#")
        assert len(self.check_columns(table)) == 5

    @pytest.mark.parametrize("width", [60, 80, 120])
    def test_wraps_to_the_width(self, width: int) -> None:
        """With a width, long cells wrap: no line is wider, and columns still line up."""
        text = render_table(self.lines(), lang="zh", width=width)
        self.check_columns(text)
        assert max(wcwidth.width(line) for line in text.splitlines()) <= width
        words = " ".join(text.split())
        for case_id in self.IDS:
            assert case_id in words or case_id[:10] in words

    def test_terminal_and_pipe(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The command wraps to the terminal's width, and not at all into a pipe."""

        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        monkeypatch.setattr(
            csrules.cli.shutil, "get_terminal_size", lambda *a: os.terminal_size((72, 24))
        )
        terminal = Terminal()
        assert main(["decide", str(CASES), "--no-stream", "--format", "table"], out=terminal) == 0
        assert max(wcwidth.width(line) for line in terminal.getvalue().splitlines()) <= 72
        pipe = io.StringIO()
        assert main(["decide", str(CASES), "--no-stream", "--format", "table"], out=pipe) == 0
        assert max(wcwidth.width(line) for line in pipe.getvalue().splitlines()) > 72


class TestMetaEcho:
    """``meta`` comes back as given, numbers with fractions included."""

    def _line(self, meta_text: str) -> bytes:
        case = json.loads(CASE_BYTES[0])
        text = json.dumps(case)
        return (text[:-1] + ', "meta": ' + meta_text + "}\n").encode()

    def test_numbers_with_fractions_are_echoed_and_the_run_goes_on(self, tmp_path: Path) -> None:
        """A JSON float in meta used to stop the run (exit 3); it is written back."""
        meta = '{"score": 1.5, "ratio": 0.1, "n": 12345678901234567890, "deep": [2.5e-3]}'
        status, out, err = run_bytes("decide", write(tmp_path, self._line(meta) * 2))
        assert status == 0, err
        lines = results(out)
        assert len(lines) == 2
        assert all(line["meta"] == json.loads(meta) for line in lines)

    @pytest.mark.parametrize(
        "number", ["1E2", "2.5e-3", "0.10000000000000000555", "12345678901234567.25", "-0.0"]
    )
    def test_a_number_is_written_back_as_it_came(self, tmp_path: Path, number: str) -> None:
        """meta is echoed unchanged: a number keeps its text, digits a float would
        lose included."""
        meta = '{"x": ' + number + ', "deep": [' + number + "]}"
        status, out, err = run_bytes("decide", write(tmp_path, self._line(meta)))
        assert status == 0, err
        assert ('"meta":{"x":' + number + ',"deep":[' + number + "]}").encode() in out
        assert results(out)[0]["meta"] == json.loads(meta)

    @pytest.mark.parametrize("number", ["1e99999", "-1e400", "1e-400"])
    def test_a_number_no_reader_can_hold_is_refused(self, tmp_path: Path, number: str) -> None:
        """A number that no 64-bit float holds cannot be echoed: the line is an
        invalid_value error naming the path, and the next line is decided."""
        data = self._line('{"x": [' + number + "]}") + CASE_BYTES[0] + b"\n"
        status, out, err = run_bytes("decide", write(tmp_path, data))
        assert status == 1, err
        first, second = results(out)
        assert first["error"]["code"] == "invalid_value"
        assert "meta.x[0]" in first["error"]["message"]
        assert "decision" in second


class TestPlainMessages:
    """Problems outside the lines are said in the caller's terms."""

    def test_a_state_file_in_a_missing_folder_is_a_usage_error_first(
        self, tmp_path: Path
    ) -> None:
        """--state in a folder that does not exist: status 2 before anything is
        decided, naming the path given (not a temporary file)."""
        state = tmp_path / "nowhere" / "state.json"
        status, out, err = run_bytes("decide", CASES, "--state", state)
        assert status == 2
        assert out == b""
        assert str(state) in err
        assert ".csrules-state-" not in err

    def test_a_closed_standard_output_is_one_line(self) -> None:
        """stdout closed (>&-): status 3 and one line, not an AttributeError."""
        done = subprocess.run(
            [sys.executable, "-m", "csrules.cli", "decide", str(CASES)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
            pass_fds=(),
            preexec_fn=lambda: os.close(1),
        )
        assert done.returncode == 3
        message = done.stderr.decode()
        assert message.count("\n") == 1
        assert "standard output" in message
        assert "AttributeError" not in message

    def test_a_number_of_too_many_digits_is_said_plainly(self, tmp_path: Path) -> None:
        """A 5,000-digit number: invalid_json saying so, no advice about Python settings."""
        line = b'{"id": "x", "kind": "return", "n": ' + b"1" * 5000 + b"}\n"
        status, out, _ = run_bytes("decide", write(tmp_path, line))
        assert status == 1
        [result] = results(out)
        assert result["error"]["code"] == "invalid_json"
        assert "digits" in result["error"]["message"]
        assert "sys." not in result["error"]["message"]

    def test_a_complaint_text_longer_than_the_monitor_holds_is_invalid_value(
        self, tmp_path: Path
    ) -> None:
        """An id of 1,200 characters on a complaint: invalid_value naming the key and
        the length (not undecidable, not the whole text back in the message)."""
        case = {
            "id": "x" * 1200,
            "kind": "complaint",
            "at": "2026-05-06T10:00:00+08:00",
            "complaint": {"customer_id": "C1", "channel": "phone", "topic": "service"},
        }
        status, out, _ = run_bytes("decide", write(tmp_path, json.dumps(case).encode() + b"\n"))
        assert status == 1
        [result] = results(out)
        assert result["error"]["code"] == "invalid_value"
        assert result["error"]["message"].startswith("'id' must be at most 1,000 characters")
        assert "1,200 characters" in result["error"]["message"]
        assert len(result["error"]["message"]) < 200
