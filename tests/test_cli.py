"""Tests of the csrules command: the JSON Lines contract, formats, policies, exit status."""

from __future__ import annotations

import importlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from csrules._docs import all_tables
from csrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "examples" / "cases.jsonl"
BAD_CASES = ROOT / "examples" / "bad-cases.jsonl"
CASE_LINES = CASES.read_text("utf-8").splitlines()
CASE_IDS = [json.loads(line)["id"] for line in CASE_LINES]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _has_monitor() -> bool:
    try:
        stream = importlib.import_module("csrules.stream")
    except ImportError:
        return False
    return hasattr(stream, "EscalationMonitor")


needs_monitor = pytest.mark.skipif(
    not _has_monitor(), reason="csrules.stream.EscalationMonitor is not written yet"
)


def run(*args: str | Path) -> tuple[int, str, str]:
    """Run ``csrules`` in-process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def results(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines output."""
    return [json.loads(line) for line in stdout.splitlines()]


def write_lines(folder: Path, lines: list[str], name: str = "in.jsonl") -> Path:
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def case_line(case_id: str) -> str:
    """The JSON line of an example case."""
    return CASE_LINES[CASE_IDS.index(case_id)]


def complaint(case_id: str, customer: str, at: str, department: str | None) -> str:
    """A complaint case line about a department (or none)."""
    body: dict[str, Any] = {
        "customer_id": customer,
        "channel": "phone",
        "topic": "service",
        "customer_paid_total": "100.00",
        "contact_count": 1,
    }
    if department is not None:
        body["about_department"] = department
    return json.dumps({"id": case_id, "kind": "complaint", "at": at, "complaint": body})


class TestDecideExamples:
    """`csrules decide examples/cases.jsonl` decides every line, in order."""

    @pytest.mark.parametrize(
        "stream",
        [
            pytest.param(
                [],
                id="with-monitor",
                marks=[needs_monitor],
            ),
            pytest.param(["--no-stream"], id="no-stream"),
        ],
    )
    def test_every_line_decided(self, stream: list[str]) -> None:
        """Exit 0; one output line per input line; ids and line numbers in order; rules cited."""
        status, out, err = run("decide", CASES, *stream)
        assert status == 0, out + err
        lines = results(out)
        assert len(lines) == len(CASE_LINES)
        assert [r["id"] for r in lines] == CASE_IDS
        assert [r["line"] for r in lines] == list(range(1, len(CASE_LINES) + 1))
        for result in lines:
            assert "error" not in result, result
            assert result["decision"]["rules"], result["id"]
            assert len(result["decision"]["explanation"]) == len(result["decision"]["rules"])

    def test_kinds_are_echoed(self) -> None:
        """Each output line carries the case's kind."""
        _, out, _ = run("decide", CASES, "--no-stream")
        kinds = [json.loads(line)["kind"] for line in CASE_LINES]
        assert [r["kind"] for r in results(out)] == kinds

    def test_parameters_can_be_left_out(self) -> None:
        """Decisions list the parameters used, unless --no-parameters."""
        _, out, _ = run("decide", CASES, "--no-stream")
        assert "refund_working_days" in results(out)[0]["decision"]["parameters"]
        _, out, _ = run("decide", CASES, "--no-stream", "--no-parameters")
        assert all("parameters" not in r["decision"] for r in results(out))

    def test_subprocess(self) -> None:
        """`python -m csrules.cli decide` works as a real process, on a file and on stdin."""
        done = subprocess.run(
            [sys.executable, "-m", "csrules.cli", "decide", str(CASES), "--no-stream"],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert [r["id"] for r in results(done.stdout)] == CASE_IDS
        assert done.stderr == ""
        piped = subprocess.run(
            [sys.executable, "-m", "csrules.cli", "decide", "-", "--no-stream"],
            input="\n".join(CASE_LINES[:3]) + "\n\n",
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=False,
            timeout=60,
        )
        assert piped.returncode == 1
        assert [r["id"] for r in results(piped.stdout)] == [*CASE_IDS[:3], None]


class TestBadLines:
    """Bad lines get an error line each and the run goes on; the exit status is 1."""

    def test_bad_examples(self) -> None:
        """Each bad example gets its error code; the last, valid line is decided."""
        status, out, _ = run("decide", BAD_CASES, "--no-stream")
        assert status == 1
        lines = results(out)
        assert len(lines) == 6
        codes = [r["error"]["code"] for r in lines[:5]]
        assert codes == [
            "invalid_value",
            "invalid_json",
            "invalid_value",
            "missing_field",
            "unknown_kind",
        ]
        assert [r["id"] for r in lines] == ["b01", None, "b03", "b04", "b05", "b06"]
        for number, result in enumerate(lines[:5], start=1):
            assert set(result) == {"id", "line", "error"}
            assert result["line"] == number
            assert {"code", "message"} <= set(result["error"]) <= {"code", "message", "problems"}
            assert result["error"]["message"]
        assert lines[5]["decision"]["action"] == "normal_return"

    def test_messages_name_the_field(self) -> None:
        """Error messages name the offending field."""
        _, out, _ = run("decide", BAD_CASES, "--no-stream")
        messages = [r["error"]["message"] for r in results(out)[:5]]
        assert "at" in messages[0]
        assert "channel" in messages[2]
        assert "condition" in messages[3]
        assert "kind" in messages[4]

    @pytest.mark.parametrize("blank", ["", "   ", "\t"])
    def test_blank_line(self, tmp_path: Path, blank: str) -> None:
        """A blank line is an error line of its own, between decided lines."""
        path = write_lines(tmp_path, [case_line("r01"), blank, case_line("p01")])
        status, out, _ = run("decide", path, "--no-stream")
        assert status == 1
        first, empty, last = results(out)
        assert first["id"] == "r01"
        assert empty == {
            "id": None,
            "line": 2,
            "error": {"code": "invalid_json", "message": empty["error"]["message"]},
        }
        assert last["id"] == "p01"
        assert last["line"] == 3

    def test_crlf_lines(self, tmp_path: Path) -> None:
        """Windows line endings are accepted."""
        path = tmp_path / "crlf.jsonl"
        path.write_bytes((case_line("r01") + "\r\n" + case_line("r02") + "\r\n").encode())
        status, out, _ = run("decide", path, "--no-stream")
        assert status == 0
        assert [r["id"] for r in results(out)] == ["r01", "r02"]

    def test_json_that_is_not_an_object(self, tmp_path: Path) -> None:
        """A JSON array or number is an error line, not a crash."""
        path = write_lines(tmp_path, ["[1, 2]", "42", '"r01"'])
        status, out, _ = run("decide", path, "--no-stream")
        assert status == 1
        lines = results(out)
        assert [r["line"] for r in lines] == [1, 2, 3]
        assert all(r["id"] is None for r in lines)
        assert all(r["error"]["code"] != "internal_error" for r in lines)

    def test_stdin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """`-` reads the cases from standard input."""
        monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(CASE_LINES[:4]) + "\n"))
        status, out, _ = run("decide", "-", "--no-stream")
        assert status == 0
        assert [r["id"] for r in results(out)] == CASE_IDS[:4]

    def test_stdin_is_the_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without a file, decide reads standard input."""
        monkeypatch.setattr(sys, "stdin", io.StringIO(case_line("a01") + "\n"))
        status, out, _ = run("decide", "--no-stream")
        assert status == 0
        assert results(out)[0]["id"] == "a01"


class TestFormatsAndLanguages:
    """--format table is for people; --lang zh explains in Chinese."""

    def test_table(self) -> None:
        """The table lists every id and a summary line."""
        status, out, _ = run("decide", CASES, "--no-stream", "--format", "table")
        assert status == 0
        for case_id in CASE_IDS:
            assert re.search(rf"\b{case_id}\b", out), case_id
        assert f"{len(CASE_IDS)} lines, 0 errors" in out
        assert "B2C-7.4.2" in out

    def test_table_with_errors(self) -> None:
        """Error lines show in the table with their code; the exit status stays 1."""
        status, out, _ = run("decide", BAD_CASES, "--no-stream", "--format", "table")
        assert status == 1
        assert "unknown_kind" in out
        assert "6 lines, 5 errors" in out

    def test_chinese(self) -> None:
        """Every explanation line in Chinese contains Chinese characters."""
        status, out, _ = run("decide", CASES, "--no-stream", "--lang", "zh")
        assert status == 0
        for result in results(out):
            explanation = result["decision"]["explanation"]
            assert explanation
            for text in explanation:
                assert CHINESE.search(text), (result["id"], text)

    def test_chinese_table(self) -> None:
        """The Chinese table has Chinese headings and summary."""
        _, out, _ = run("decide", CASES, "--no-stream", "--lang", "zh", "--format", "table")
        assert "条款" in out
        assert f"共{len(CASE_IDS)}行" in out

    def test_english_by_default(self) -> None:
        """Without --lang, explanations are the English ones, not the Chinese."""
        _, en, _ = run("decide", CASES, "--no-stream")
        _, explicit, _ = run("decide", CASES, "--no-stream", "--lang", "en")
        _, chinese, _ = run("decide", CASES, "--no-stream", "--lang", "zh")
        assert en == explicit
        for english, other in zip(results(en), results(chinese), strict=True):
            for text, translated in zip(
                english["decision"]["explanation"], other["decision"]["explanation"], strict=True
            ):
                assert re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", text), text
                assert text != translated


class TestPolicyOption:
    """--policy picks a bundled policy or a file; a bad one is a usage error."""

    def test_taobao_changes_the_refund_date(self, tmp_path: Path) -> None:
        """A paid, unshipped cancel is refunded in 1 working day under taobao, 7 under b2c."""
        path = write_lines(tmp_path, [case_line("r09")])
        _, b2c, _ = run("decide", path, "--no-stream")
        status, taobao, _ = run("decide", path, "--no-stream", "--policy", "taobao")
        assert status == 0
        assert results(b2c)[0]["decision"]["refund_due"] == "2026-05-11"
        assert results(taobao)[0]["decision"]["refund_due"] == "2026-04-29"
        assert "TB-1.5.1" in results(taobao)[0]["decision"]["rules"]

    def test_policy_file(self, tmp_path: Path) -> None:
        """A policy file's dated value is used for cases on or after its date."""
        policy = tmp_path / "shop.toml"
        policy.write_text("[parameters.refund_working_days]\nvalues = { 2026-01-01 = 3 }\n")
        path = write_lines(tmp_path, [case_line("r01")])
        status, out, _ = run("decide", path, "--no-stream", "--policy", policy)
        assert status == 0
        decision = results(out)[0]["decision"]
        assert decision["refund_due"] == "2026-05-09"
        assert decision["parameters"]["refund_working_days"] == {
            "value": 3,
            "since": "2026-01-01",
            "clause": "B2C-7.8.2",
        }

    def test_unreadable_policy(self, tmp_path: Path) -> None:
        """A missing policy file: exit 2, nothing on stdout, the file named on stderr."""
        missing = tmp_path / "missing.toml"
        status, out, err = run("decide", CASES, "--policy", missing)
        assert status == 2
        assert out == ""
        assert str(missing) in err

    def test_policy_with_a_typo(self, tmp_path: Path) -> None:
        """A misspelt parameter: exit 2, stderr names the file and the key."""
        policy = tmp_path / "typo.toml"
        policy.write_text('[parameters.shiping_fee]\nvalues = { 2027-01-01 = "12.00" }\n')
        status, out, err = run("decide", CASES, "--policy", policy)
        assert status == 2
        assert out == ""
        assert str(policy) in err
        assert "shiping_fee" in err

    def test_policy_key_that_is_not_a_table(self, tmp_path: Path) -> None:
        """`policy = "shop"` in a policy file is a usage error (exit 2)."""
        policy = tmp_path / "bad.toml"
        policy.write_text('policy = "shop"\n')
        status, _, err = run("decide", CASES, "--policy", policy)
        assert status == 2
        assert str(policy) in err

    def test_missing_input(self, tmp_path: Path) -> None:
        """A missing input file: exit 2 and a message naming it."""
        missing = tmp_path / "missing.jsonl"
        status, out, err = run("decide", missing, "--no-stream")
        assert status == 2
        assert out == ""
        assert str(missing) in err

    def test_usage_errors(self) -> None:
        """Unknown options and commands exit 2."""
        assert run("decide", CASES, "--format", "xml")[0] == 2
        assert run("frobnicate")[0] == 2
        assert run()[0] == 2


class TestOtherCommands:
    """`csrules tables` and `csrules policy` print Markdown."""

    def test_tables(self) -> None:
        """Every shipped table's name appears."""
        status, out, _ = run("tables")
        assert status == 0
        names = [t.name for t in all_tables()]
        assert len(names) >= 12
        for name in names:
            assert f"`{name}`" in out, name

    def test_policy_on_a_date(self) -> None:
        """`csrules policy --on 2026-05-06` lists shipping_fee with its value."""
        status, out, _ = run("policy", "--on", "2026-05-06")
        assert status == 0
        row = next(line for line in out.splitlines() if "`shipping_fee`" in line)
        assert "10.00" in row
        assert "B2C-7.10.2" in row

    def test_policy_taobao(self) -> None:
        """`csrules policy --policy taobao` shows the Taobao refund clock."""
        status, out, _ = run("policy", "--policy", "taobao", "--on", "2026-05-06")
        assert status == 0
        row = next(line for line in out.splitlines() if "`refund_clock`" in line)
        assert "taobao" in row

    def test_policy_bad_date(self) -> None:
        """A malformed --on date is a usage error."""
        status, _, err = run("policy", "--on", "06/05/2026")
        assert status == 2
        assert "--on" in err

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--version prints the version and exits 0."""
        assert run("--version")[0] == 0
        assert "csrules 0.1.0" in capsys.readouterr().out


@needs_monitor
class TestComplaintStream:
    """Complaints go through one escalation monitor in file order (B2C-8.7.1)."""

    LINES = (
        complaint("k1", "C1", "2026-05-06T10:00:00+08:00", "operations"),
        complaint("k2", "C2", "2026-05-06T10:30:00+08:00", "operations"),
        complaint("k3", "C1", "2026-05-06T11:00:00+08:00", "finance"),
        complaint("k4", "C1", "2026-05-06T12:00:00+08:00", "operations"),
    )

    def decisions(self, tmp_path: Path, *options: str) -> dict[str, dict[str, Any]]:
        path = write_lines(tmp_path, list(self.LINES))
        status, out, err = run("decide", path, *options)
        assert status == 0, out + err
        return {r["id"]: r["decision"] for r in results(out)}

    def test_second_complaint_about_a_department(self, tmp_path: Path) -> None:
        """The 2nd complaint by one customer about one department goes to the general manager."""
        decisions = self.decisions(tmp_path)
        assert "general_manager" in decisions["k4"]["escalate_to"]
        assert "B2C-8.7.1" in decisions["k4"]["rules"]
        for first in ("k1", "k2", "k3"):
            assert "B2C-8.7.1" not in decisions[first]["rules"], first
            assert "general_manager" not in decisions[first]["escalate_to"], first

    def test_no_stream(self, tmp_path: Path) -> None:
        """--no-stream decides each complaint alone: no B2C-8.7.1."""
        decisions = self.decisions(tmp_path, "--no-stream")
        assert "general_manager" not in decisions["k4"]["escalate_to"]
        assert "B2C-8.7.1" not in decisions["k4"]["rules"]

    def test_in_order_there_is_no_warning(self, tmp_path: Path) -> None:
        status, out, err = run("decide", write_lines(tmp_path, list(self.LINES)))
        assert (status, err) == (0, "")
        assert len(results(out)) == len(self.LINES)

    def test_complaints_too_late_for_the_monitor_are_one_warning_line(
        self, tmp_path: Path
    ) -> None:
        """A complaint dated far ahead, then a January pair: the second of the pair
        repeats a complaint already forgotten, and stderr says so (once)."""
        lines = [
            complaint("x", "C9", "2026-03-01T10:00:00+08:00", "logistics"),
            complaint("j1", "C1", "2026-01-10T10:00:00+08:00", "finance"),
            complaint("j2", "C1", "2026-01-11T10:00:00+08:00", "finance"),
            complaint("j3", "C1", "2026-01-12T10:00:00+08:00", "finance"),
        ]
        status, out, err = run("decide", write_lines(tmp_path, lines))
        assert status == 0
        assert len(results(out)) == 4
        assert err.count("\n") == 1
        assert err.startswith("csrules decide: warning: 2 complaints (the first: id 'j2')")
        assert "sort complaints by received time" in err
        # the same complaints in time order escalate, with no warning
        ordered = [lines[1], lines[2], lines[3], lines[0]]
        status, out, err = run("decide", write_lines(tmp_path, ordered, "sorted.jsonl"))
        assert (status, err) == (0, "")
        assert "B2C-8.7.1" in {r["id"]: r for r in results(out)}["j2"]["decision"]["rules"]

    def test_examples_repeat_customer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """In the examples, C3's second complaint about customer service (c09) escalates."""
        lines = [case_line("c03"), case_line("c09")]
        monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
        status, out, err = run("decide", "-")
        assert status == 0, out + err
        c03, c09 = results(out)
        assert "B2C-8.7.1" not in c03["decision"]["rules"]
        assert "general_manager" in c09["decision"]["escalate_to"]
        assert "B2C-8.7.1" in c09["decision"]["rules"]
