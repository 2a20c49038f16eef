"""Writing decisions: contract JSON, error lines, and readable tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from csrules._decision import (
    ComplaintDecision,
    Decision,
    Lang,
    PriceAdjustmentDecision,
    PromotionDecision,
    ReturnDecision,
)
from csrules.exceptions import Problem
from csrules.io._json import JSONValue, encode_value
from csrules.rules._common import to_cst

__all__ = ["KIND_OF", "decision_to_json", "error_to_json", "render_table"]

#: The contract's ``kind`` of each decision class.
KIND_OF: Final[Mapping[type, str]] = {
    ReturnDecision: "return",
    ComplaintDecision: "complaint",
    PromotionDecision: "promotion",
    PriceAdjustmentDecision: "price_adjustment",
}
_SKIP: Final = frozenset({"case_id", "trace"})


def _outcome(decision: Decision) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in attrs.fields(type(decision)):
        if field.name in _SKIP:
            continue
        value = getattr(decision, field.name)
        if isinstance(value, dt.datetime):
            value = to_cst(value)
        values[field.name] = value
    return values


def decision_to_json(
    decision: Decision,
    *,
    lang: Lang = "en",
    line: int | None = None,
    parameters: bool = True,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, JSONValue]:
    """One output line of ``csrules decide`` for a decision.

    The shape is ``{"id", "kind", "line", "decision": {...}}``. ``decision``
    holds the contract's outcome keys for the kind, ``rules`` (clause IDs in
    firing order) and ``explanation`` (one line per rule, in ``lang``), and
    the additions ``estimated`` (working days estimated for a year without
    official data) and ``parameters`` (name → value and effective date of
    every parameter the fired rules used). Times are written at +08:00.
    The case's ``meta`` object, when given, is echoed as is under ``"meta"``.
    """
    # encode the outcome values; rules and explanations are strings already
    body: dict[str, JSONValue] = {k: encode_value(v) for k, v in _outcome(decision).items()}
    trace = decision.trace
    cited = trace.cited
    body["rules"] = [f.rule.clause for f in cited]
    body["explanation"] = [f.explanation(lang) for f in cited]
    body["estimated"] = trace.estimated
    if parameters:
        body["parameters"] = {
            use.name: {
                "value": encode_value(_param_value(use.value)),
                "since": use.since.isoformat(),
                "clause": use.clause,
            }
            for use in trace.parameters
        }
    out: dict[str, JSONValue] = {"id": decision.case_id, "kind": KIND_OF[type(decision)]}
    if line is not None:
        out["line"] = line
    out["decision"] = body
    if meta is not None:
        out["meta"] = dict(meta)
    return out


def _param_value(value: object) -> object:
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return value


def error_to_json(
    case_id: str | None,
    line: int,
    code: str,
    message: str,
    *,
    problems: Sequence[Problem] = (),
    meta: Mapping[str, Any] | None = None,
) -> dict[str, JSONValue]:
    """An error line: ``{"id": <id or null>, "line": n, "error": {"code", "message"}}``.

    With more than one problem, ``error`` also has ``"problems"``: each
    ``{"code", "field", "message"}``. The case's ``meta`` object, when it
    could be read, is echoed under ``"meta"``.
    """
    error: dict[str, JSONValue] = {"code": code, "message": message}
    if len(problems) > 1:
        error["problems"] = [
            {"code": p.code, "field": p.field, "message": p.message} for p in problems
        ]
    out: dict[str, JSONValue] = {"id": case_id, "line": line, "error": error}
    if meta is not None:
        out["meta"] = dict(meta)
    return out


def _cell(value: JSONValue) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


_SUMMARY: Final[Mapping[str, Sequence[str]]] = {
    "return": ("action", "approvals", "freight_payer", "refund_due"),
    "complaint": ("route_to", "answer_due", "reply_due", "escalate_to"),
    "promotion": ("length_days", "remind_on", "size", "training_on"),
    "price_adjustment": ("action", "gift_eligible"),
}


def render_table(lines: Iterable[Mapping[str, JSONValue]], *, lang: Lang = "en") -> str:
    """Output lines (decisions and errors) as a plain-text table for people.

    One row per input line: line number, id, kind, the main outcome and the
    rules that fired; below each row, its explanation lines, indented.
    """
    header = (
        ("#", "id", "kind", "outcome", "rules")
        if lang == "en"
        else ("#", "编号", "类型", "结果", "条款")
    )
    rows: list[tuple[str, ...]] = []
    notes: list[list[str]] = []
    for out in lines:
        number = _cell(out.get("line"))
        case_id = _cell(out.get("id"))
        error = out.get("error")
        if isinstance(error, dict):
            rows.append((number, case_id, "error", _cell(error.get("code")), "-"))
            notes.append([_cell(error.get("message"))])
            continue
        kind = str(out.get("kind"))
        body = out.get("decision")
        assert isinstance(body, dict)
        outcome = "; ".join(f"{key}={_cell(body.get(key))}" for key in _SUMMARY.get(kind, ()))
        if body.get("estimated"):
            outcome += " (estimated)" if lang == "en" else "(估算)"
        rows.append((number, case_id, kind, outcome, _cell(body.get("rules"))))
        explanation = body.get("explanation")
        notes.append([_cell(e) for e in explanation] if isinstance(explanation, list) else [])
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    widths[3] = min(widths[3], 90)
    text = [_row(header, widths), _row(tuple("-" * w for w in widths), widths)]
    for row, lines_below in zip(rows, notes, strict=True):
        text.append(_row(row, widths))
        text.extend(f"{'':>{widths[0]}}   · {note}" for note in lines_below)
    return "\n".join(text)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = [
        cell + " " * max(0, width - _width(cell)) for cell, width in zip(cells, widths, strict=True)
    ]
    return "  ".join(parts).rstrip()
