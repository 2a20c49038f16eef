"""Writing decisions: contract JSON, error lines, and readable tables."""

from __future__ import annotations

import copy
import datetime as dt
import enum
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, TypeAlias

import attrs

from csrules._decision import (
    FLOOR_OFF,
    FLOOR_OFF_CLAUSE,
    ComplaintDecision,
    Decision,
    Lang,
    PriceAdjustmentDecision,
    PromotionDecision,
    ReturnDecision,
    Trace,
)
from csrules.exceptions import Problem
from csrules.io._json import JSONValue, encode_value
from csrules.rules._common import to_cst
from csrules.rules._table import FiredRule, Rule

__all__ = ["KIND_OF", "decision_to_json", "error_to_json", "render_table"]

#: The contract's ``kind`` of each decision class.
KIND_OF: Final[Mapping[type, str]] = {
    ReturnDecision: "return",
    ComplaintDecision: "complaint",
    PromotionDecision: "promotion",
    PriceAdjustmentDecision: "price_adjustment",
}
_SKIP: Final = frozenset({"case_id", "trace"})


_OUTCOME_KEYS: dict[type, tuple[str, ...]] = {}


def _outcome_keys(cls: type) -> tuple[str, ...]:
    keys = _OUTCOME_KEYS.get(cls)
    if keys is None:
        keys = tuple(f.name for f in attrs.fields(cls) if f.name not in _SKIP)
        _OUTCOME_KEYS[cls] = keys
    return keys


def _outcome(decision: Decision) -> dict[str, JSONValue]:
    """The decision's outcome values, encoded (times at +08:00)."""
    body: dict[str, JSONValue] = {}
    for key in _outcome_keys(type(decision)):
        value = getattr(decision, key)
        kind = type(value)
        if kind in _EXACT:
            body[key] = value
        elif isinstance(value, enum.Enum) and type(value.value) in _EXACT:
            body[key] = value.value
        elif isinstance(value, dt.datetime):
            body[key] = encode_value(to_cst(value))
        else:
            body[key] = encode_value(value)
    return body


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
    every parameter the fired rules used). Under a policy whose LAW-25 legal
    floor is off, ``rules`` and ``explanation`` start with a ``LAW-25`` line
    saying so and ``"legal_floor": false`` is added (the key is absent when
    the floor is on). Times are written at +08:00.
    The case's ``meta`` object, when given, is echoed as is under ``"meta"``.
    """
    body = _outcome(decision)
    trace = decision.trace
    fired = trace.fired
    rules: list[JSONValue] = []
    explanation: list[JSONValue] = []
    if not trace.policy.legal_floor:
        rules.append(FLOOR_OFF_CLAUSE)
        explanation.append(FLOOR_OFF[lang])
    for f in fired:
        rule = f.rule
        if not rule.silent:
            rules.append(rule.clause)
            explanation.append(_explain(f, lang))
    body["rules"] = rules
    body["explanation"] = explanation
    body["estimated"] = trace.estimated
    if not trace.policy.legal_floor:
        body["legal_floor"] = False
    if parameters:
        body["parameters"] = _parameters(trace, fired)
    out: dict[str, JSONValue] = {"id": decision.case_id, "kind": KIND_OF[type(decision)]}
    if line is not None:
        out["line"] = line
    out["decision"] = body
    if meta is not None:
        out["meta"] = dict(meta)
    return out


# What decision_to_json keeps for reuse lives on the objects it derives
# from: the encoded parameters block on the parameter set (per fired rules),
# a rule's parsed templates and filled-in texts on the rule. Each store is
# cleared when it reaches _CACHE_SIZE entries, so a long run keeps a bounded
# amount; a race between threads only computes an entry twice.
_CACHE_SIZE: Final = 4096
_Encoded: TypeAlias = tuple[tuple[str, JSONValue, str, str], ...]


def _parameters(trace: Trace, fired: Sequence[FiredRule]) -> dict[str, JSONValue]:
    """The ``parameters`` block: the same for the same rules under the same values."""
    params = trace.params
    kept: dict[tuple[Rule, ...], _Encoded] = params._encoded
    key = tuple([f.rule for f in fired])
    encoded = kept.get(key)
    if encoded is None:
        encoded = tuple(
            (use.name, encode_value(_param_value(use.value)), use.since.isoformat(), use.clause)
            for use in trace.parameters
        )
        if len(kept) >= _CACHE_SIZE:
            kept.clear()
        kept[key] = encoded
    return {
        name: {
            "value": copy.deepcopy(value) if isinstance(value, list | dict) else value,
            "since": since,
            "clause": clause,
        }
        for name, value, since, clause in encoded
    }


def _template(rule: Rule, lang: str) -> tuple[tuple[str, ...] | None, str]:
    """``(names, text)``: the names the rule's template fills in, or ``None``
    if it does more than ``{name}``; with no names, its fixed text."""
    kept = rule._cache
    entry: tuple[tuple[str, ...] | None, str] | None = kept.get(lang)
    if entry is None:
        template = rule.zh if lang == "zh" else rule.en
        names: list[str] | None = []
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is None:
                continue
            if spec or conversion or not name.isidentifier() or names is None:
                names = None
                break
            names.append(name)
        text = template.format_map({}) if names == [] else ""
        if len(kept) >= _CACHE_SIZE:
            kept.clear()
        entry = kept[lang] = (None if names is None else tuple(names), text)
    return entry


def _fields(rule: Rule, lang: str) -> tuple[str, ...] | None:
    """The names a rule's template fills in, or ``None`` if it does more than ``{name}``."""
    return _template(rule, lang)[0]


_ABSENT: Final = object()
_EXACT: Final = frozenset({str, int, bool, type(None)})


def _explain(fired: FiredRule, lang: str) -> str:
    """``fired.explanation(lang)``, kept for the same rule and the same values."""
    rule = fired.rule
    names, text = rule._cache.get(lang) or _template(rule, lang)
    if not names:
        return text if names is not None else fired.explanation(lang)
    values: list[object] = [lang]
    sources = (fired.outputs, fired.facts, fired.params)
    for name in names:
        for source in sources:
            if name in source:
                value = source[name]
                kind = type(value)
                # the type too: True and 1, or 1 and Decimal(1), read differently
                values.append(kind)
                if kind in _EXACT or isinstance(value, enum.Enum):
                    values.append(value)
                elif isinstance(value, Decimal | dt.date | dt.time):
                    # equal values that read differently (1.0 and 1.00; one
                    # instant at two offsets) must not share an entry
                    values.append(str(value))
                else:
                    return fired.explanation(lang)
                break
        else:
            values.append(_ABSENT)
    key = tuple(values)
    kept = rule._cache
    cached: str | None = kept.get(key)
    if cached is None:
        if len(kept) >= _CACHE_SIZE:
            kept.clear()
        cached = kept[key] = fired.explanation(lang)
    return cached


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


def render_table(
    lines: Iterable[Mapping[str, JSONValue]], *, lang: Lang = "en", width: int | None = None
) -> str:
    """Output lines (decisions and errors) as a plain-text table for people.

    One row per input line: line number, id, kind, the main outcome and the
    rules that fired; below each row, its explanation lines, indented.
    Columns are measured in terminal cells (a CJK character takes two), so
    they line up in Chinese as in English. With ``width`` (e.g. the
    terminal's), long cells and explanations wrap to fit in that many cells;
    without it every cell is on one line. Control characters and unpaired
    surrogates in the data are shown escaped (``\\x1b``, ``\\ud800``).
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
        kind = _cell(out.get("kind"))
        body = out.get("decision")
        if not isinstance(body, dict):
            body = {}
        outcome = "; ".join(f"{key}={_cell(body.get(key))}" for key in _SUMMARY.get(kind, ()))
        if body.get("estimated"):
            outcome += " (estimated)" if lang == "en" else "(估算)"
        rows.append((number, case_id, kind, outcome, _cell(body.get("rules"))))
        explanation = body.get("explanation")
        notes.append([_cell(e) for e in explanation] if isinstance(explanation, list) else [])
    cells = [tuple(_printable(c) for c in row) for row in [header, *rows]]
    widths = _fit([max(_width(r[i]) for r in cells) for i in range(len(header))], width)
    indent = " " * widths[0] + "   · "
    text = [*_row(cells[0], widths), _join(tuple("-" * w for w in widths), widths)]
    for row, lines_below in zip(cells[1:], notes, strict=True):
        text.extend(_row(row, widths))
        for note in lines_below:
            text.extend(_wrap_note(_printable(note), indent, width))
    return "\n".join(text)


_GAP: Final = 2  # cells between columns
_MIN_COLUMN: Final = 10  # a column is not narrowed below this to fit the terminal
_UNSAFE: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _printable(text: str) -> str:
    """``text`` with control characters, unpaired surrogates and bidi overrides escaped."""
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in _UNSAFE or ch in _BIDI_CONTROLS
        else ch
        for ch in text
    )


def _width(text: str) -> int:
    """Display width in terminal cells (a CJK character takes two)."""
    import wcwidth  # for the text tables only: not on the paths writing files

    return wcwidth.width(text)


def _fit(natural: Sequence[int], width: int | None) -> list[int]:
    """Column widths: the natural ones, narrowed (widest first) to fit ``width`` cells."""
    widths = list(natural)
    if width is None:
        return widths
    room = width - _GAP * (len(widths) - 1)
    while sum(widths) > room:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        floor = min(natural[widest], _MIN_COLUMN)
        if widths[widest] <= floor:
            break
        widths[widest] -= 1
    return widths


def _wrap(cell: str, width: int) -> list[str]:
    if _width(cell) <= width:
        return [cell]
    import wcwidth

    return wcwidth.wrap(cell, max(width, 1)) or [""]


def _row(cells: Sequence[str], widths: Sequence[int]) -> list[str]:
    """One table row, as one or more text lines when cells wrap."""
    pieces = [_wrap(cell, width) for cell, width in zip(cells, widths, strict=True)]
    height = max(len(p) for p in pieces)
    return [_join(tuple(p[i] if i < len(p) else "" for p in pieces), widths) for i in range(height)]


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = [
        cell + " " * max(0, width - _width(cell)) for cell, width in zip(cells, widths, strict=True)
    ]
    return (" " * _GAP).join(parts).rstrip()


def _wrap_note(note: str, indent: str, width: int | None) -> list[str]:
    room = None if width is None else width - _width(indent)
    if room is None or room < _MIN_COLUMN or _width(note) <= room:
        return [indent + note]
    blank = " " * _width(indent)
    return [(indent if i == 0 else blank) + part for i, part in enumerate(_wrap(note, room))]
