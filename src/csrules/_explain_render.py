"""Writing an :class:`~csrules._explain.Explanation`: terminal text (en/zh) and JSON."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from csrules._explain import show_value
from csrules.io._decisions import _fit, _printable, _row, _width, _wrap, decision_to_json
from csrules.io._json import JSONValue, encode_value

if TYPE_CHECKING:
    from csrules._decision import Lang, ParameterUse
    from csrules._explain import Explanation, FactValue, RuleTrial, TableStep

__all__ = ["render", "to_json"]

_TEXT: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "case": "Case {id} ({kind}): rule set {ruleset}, policy {policy}, "
        "parameters in force on {on}",
        "table": "{n}. Table {name}: {title}",
        "first": "first hit: rules are tried in order, the first that holds fires",
        "unique": "unique hit: exactly one rule must hold",
        "collect": "collect: every rule that holds fires",
        "facts": "Facts read",
        "rules": "Rules",
        "outputs": "Outputs",
        "params": "Parameters",
        "fact": "fact",
        "value": "value",
        "from": "from",
        "status": "",
        "rule": "rule",
        "clause": "clause",
        "why": "why",
        "name": "parameter",
        "since": "since",
        "fired": "FIRED",
        "failed": "no",
        "not_tried": "-",
        "false": "false",
        "part": "part {i} of {n}: ",
        "not_tried_why": "not tried: rule {id} above fired",
        "when": "when {when}",
        "silent": "(default row, not cited)",
        "input": "input {detail}",
        "extra": "extra fact {detail}",
        "derived": "derived: {detail}",
        "outcome": "outcome of {detail}",
        "stream": "complaint stream (explained alone: default)",
        "with": "with",
        "none_fired": "no rule fired",
        "decision": "Decision",
        "cites": "rules",
        "explanation": "Explanation",
        "cited": "Parameters the decision cites",
        "estimated_no": "Estimated: no (every date is in a year with official holiday data)",
        "estimated_years": "Estimated: yes: working days in {years} are estimated; the "
        "calendar has official holiday data for {first}-{last} only",
        "estimated_some": "Estimated: yes: a date the decision relied on lies in a year "
        "without official holiday data",
        "floor_off": "Legal floor: off (legal_floor = false in this policy)",
    },
    "zh": {
        "case": "案例 {id}({kind}):规则集 {ruleset},政策 {policy},参数取 {on} 当日生效值",
        "table": "{n}. 决策表 {name}:{title}",
        "first": "首条命中:按顺序尝试,第一条成立的规则生效",
        "unique": "唯一命中:必须恰好一条规则成立",
        "collect": "全部命中:所有成立的规则都生效",
        "facts": "读取的事实",
        "rules": "规则",
        "outputs": "输出",
        "params": "参数",
        "fact": "事实",
        "value": "值",
        "from": "来源",
        "status": "",
        "rule": "规则",
        "clause": "条款",
        "why": "原因",
        "name": "参数",
        "since": "生效日",
        "fired": "命中",
        "failed": "未命中",
        "not_tried": "-",
        "false": "不成立",
        "part": "第{i}/{n}个条件:",
        "not_tried_why": "未尝试:上面的规则 {id} 已命中",
        "when": "条件 {when}",
        "silent": "(默认行,不引用)",
        "input": "输入 {detail}",
        "extra": "附加事实 {detail}",
        "derived": "派生:{detail}",
        "outcome": "决策表 {detail} 的输出",
        "stream": "投诉流(单独解释:取默认值)",
        "with": "其中",
        "none_fired": "没有规则命中",
        "decision": "决定",
        "cites": "引用条款",
        "explanation": "说明",
        "cited": "决定引用的参数",
        "estimated_no": "估算:否(所有日期所在年份都有官方节假日数据)",
        "estimated_years": "估算:是:{years} 年的工作日为估算;日历只有 {first}-{last} "
        "年的官方节假日数据",
        "estimated_some": "估算:是:决定所依据的某个日期所在年份没有官方节假日数据",
        "floor_off": "法定底线:已关闭(本政策 legal_floor = false)",
    },
}

_INDENT: Final = "   "


def _cell(value: object) -> str:
    return _printable(show_value(value))


def _grid(rows: Sequence[Sequence[str]], width: int | None, indent: str) -> list[str]:
    """Rows as aligned columns (measured in terminal cells), wrapped to ``width``."""
    cells = [tuple(_printable(c) for c in row) for row in rows]
    count = len(cells[0])
    room = None if width is None else max(width - _width(indent), count * 10)
    widths = _fit([max(_width(r[i]) for r in cells) for i in range(count)], room)
    return [indent + line for row in cells for line in _row(row, widths)]


def _line(text: str, width: int | None, indent: str = "") -> list[str]:
    text = _printable(text)
    if width is None or _width(indent) + _width(text) <= width:
        return [indent + text]
    room = max(width - _width(indent), 20)
    return [indent + part for part in _wrap(text, room)]


def _outputs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {show_value(v)}" for k, v in values.items()) or "-"


def _fact_source(fact: FactValue, t: Mapping[str, str]) -> str:
    text = t[fact.origin].format(detail=fact.detail)
    if fact.operands:
        shown = ", ".join(f"{name} = {show_value(v)}" for name, v in fact.operands)
        text += f" ({t['with']} {shown})"
    return text


def _rule_rows(step: TableStep, t: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = [("", t["rule"], t["clause"], t["why"])]
    stopped_by = next((r.id for r in step.rules if r.status == "fired"), "")
    for rule in step.rules:
        if rule.status == "fired":
            why = t["when"].format(when=rule.when) + " → " + _outputs(rule.outputs)
            if rule.silent:
                why += " " + t["silent"]
        elif rule.status == "failed":
            assert rule.failed is not None
            part = rule.failed
            prefix = t["part"].format(i=part.index, n=part.of) if part.of > 1 else ""
            why = f"{prefix}{part.shown}: {t['false']}"
        else:
            why = t["not_tried_why"].format(id=stopped_by)
        rows.append((t[rule.status], rule.id, rule.clause, why))
    return rows


def _params_rows(uses: Sequence[ParameterUse], t: Mapping[str, str]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [(t["name"], t["value"], t["since"], t["clause"])]
    rows.extend((u.name, show_value(u.value), u.since.isoformat(), u.clause) for u in uses)
    return rows


def render(explanation: Explanation, lang: Lang, width: int | None) -> str:
    """The explanation as text (see :meth:`Explanation.render`)."""
    t = _TEXT[lang]
    e = explanation
    out: list[str] = []
    head = t["case"].format(
        id=e.case_id or "-", kind=e.kind, ruleset=e.ruleset, policy=e.policy, on=e.on
    )
    out += _line(head, width)
    if not e.legal_floor:
        out += _line(t["floor_off"], width)
    for n, step in enumerate(e.tables, start=1):
        out.append("")
        out += _line(t["table"].format(n=n, name=step.name, title=step.title_in(lang)), width)
        out += _line(t[step.hit_policy], width, _INDENT)
        if step.facts:
            out += _line(t["facts"], width, _INDENT)
            rows = [(t["fact"], t["value"], t["from"])]
            rows += [(f.name, show_value(f.value), _fact_source(f, t)) for f in step.facts]
            out += _grid(rows, width, _INDENT * 2)
        out += _line(t["rules"], width, _INDENT)
        out += _grid(_rule_rows(step, t), width, _INDENT * 2)
        for rule in step.fired:
            line = rule.explanation.get(lang)
            if line and not rule.silent:
                out += _line(f"{rule.id}: {line}", width, _INDENT * 2 + "· ")
        out += _line(t["outputs"], width, _INDENT)
        if step.fired:
            out += _line(_outputs(step.outputs), width, _INDENT * 2)
        else:
            out += _line(f"{_outputs(step.outputs)} ({t['none_fired']})", width, _INDENT * 2)
        if step.parameters:
            out += _line(t["params"], width, _INDENT)
            out += _grid(_params_rows(step.parameters, t), width, _INDENT * 2)
    out.append("")
    if e.parameters:
        out += _line(t["cited"], width)
        out += _grid(_params_rows(e.parameters, t), width, _INDENT)
        out.append("")
    if not e.estimated:
        out += _line(t["estimated_no"], width)
    elif e.estimated_years and e.covered_years:
        years = ", ".join(str(y) for y in e.estimated_years)
        first, last = e.covered_years
        out += _line(t["estimated_years"].format(years=years, first=first, last=last), width)
    else:
        out += _line(t["estimated_some"], width)
    out.append("")
    body = decision_to_json(e.decision, lang=lang, parameters=False)["decision"]
    assert isinstance(body, dict)
    out += _line(t["decision"], width)
    skip = ("rules", "explanation", "estimated", "legal_floor", "parameters")
    rows2 = [(key, _json_cell(value)) for key, value in body.items() if key not in skip]
    rows2.append((t["cites"], _json_cell(body.get("rules"))))
    out += _grid(rows2, width, _INDENT)
    explanation_lines = body.get("explanation")
    if isinstance(explanation_lines, list) and explanation_lines:
        out += _line(t["explanation"], width)
        for item in explanation_lines:
            out += _line(str(item), width, _INDENT + "· ")
    return "\n".join(line.rstrip() for line in out)


def _json_cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_json_cell(v) for v in value) or "-"
    return str(value)


# ---------------------------------------------------------------- JSON


def _encode(value: object) -> JSONValue:
    if isinstance(value, enum.Enum):  # a StrEnum is a str: its plain value, not the member
        value = value.value
    try:
        return encode_value(value)
    except (TypeError, ValueError):
        return show_value(value)


def _param_value(value: object) -> object:
    return value.strftime("%H:%M") if isinstance(value, dt.time) else value


def _uses_json(uses: Sequence[ParameterUse]) -> dict[str, JSONValue]:
    return {
        u.name: {
            "value": _encode(_param_value(u.value)),
            "since": u.since.isoformat(),
            "clause": u.clause,
        }
        for u in uses
    }


def _fact_json(fact: FactValue) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {
        "name": fact.name,
        "value": _encode(fact.value),
        "origin": fact.origin,
    }
    if fact.detail:
        out["detail"] = fact.detail
    if fact.operands:
        out["operands"] = {name: _encode(v) for name, v in fact.operands}
    return out


def _rule_json(rule: RuleTrial, lang: Lang) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {
        "id": rule.id,
        "clause": rule.clause,
        "when": rule.when,
        "status": rule.status,
    }
    if rule.silent:
        out["silent"] = True
    if rule.failed is not None:
        part = rule.failed
        out["failed"] = {
            "part": part.text,
            "shown": part.shown,
            "index": part.index,
            "of": part.of,
            "values": {label: _encode(v) for label, v in part.values},
        }
    if rule.status == "fired":
        out["outputs"] = {k: _encode(v) for k, v in rule.outputs.items()}
        if rule.explanation:
            out["explanation"] = rule.explanation.get(lang, "")
    return out


def to_json(explanation: Explanation, lang: Lang) -> dict[str, JSONValue]:
    """The explanation as JSON data (see :meth:`Explanation.to_json`)."""
    e = explanation
    decision = decision_to_json(e.decision, lang=lang)
    tables: list[JSONValue] = [
        {
            "name": step.name,
            "title": step.title_in(lang),
            "hit_policy": step.hit_policy,
            "facts": [_fact_json(f) for f in step.facts],
            "rules": [_rule_json(r, lang) for r in step.rules],
            "outputs": {k: _encode(v) for k, v in step.outputs.items()},
            "parameters": _uses_json(step.parameters),
        }
        for step in e.tables
    ]
    return {
        "id": e.case_id,
        "kind": e.kind,
        "ruleset": e.ruleset,
        "policy": e.policy,
        "on": e.on.isoformat(),
        "tables": tables,
        "estimated": e.estimated,
        "estimated_years": list(e.estimated_years),
        "legal_floor": e.legal_floor,
        "decision": decision["decision"],
    }
