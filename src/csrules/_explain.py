"""Explaining one decision: every table, the facts it read, each rule tried and why.

:func:`explain` (and :meth:`csrules.RuleSet.explain`) decides a case with the
rule set's compiled tables, then walks each table's rules again with the
evaluating backend of the expression IR (:class:`csrules.rules._eval.Evaluator`)
on the fact record the compiled table saw: a rule that did not fire is shown
with its first condition part (conjunct) that was false and the values that
part compared. The rules the evaluator finds firing must be the ones the
compiled table fired; anything else is an error, never a silent difference.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import attrs

from csrules._decision import Decision, Lang, ParameterUse, Trace
from csrules.exceptions import ArgumentTypeError, RuleDefinitionError
from csrules.rules._eval import Evaluator
from csrules.rules._expr import All, Compare, Const, Expr, Fact, In, IsNone, Param
from csrules.rules._render import precedence, show
from csrules.rules._table import HitPolicy, Rule, Table, TableResult

if TYPE_CHECKING:
    from csrules._ruleset import KindSpec, RuleSet
    from csrules.io._json import JSONValue
    from csrules.policy import Policy

__all__ = [
    "Explanation",
    "FactValue",
    "FailedPart",
    "RuleTrial",
    "TableStep",
    "explain",
]

_SHOWN: Final = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def _frozen_map(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class FactValue:
    """A fact a table read, with its value and where the value came from.

    Attributes:
        name: the fact's name.
        value: its value for the case.
        origin: ``"input"`` (read from the case at ``detail``, a dotted
            path), ``"extra"`` (the case's ``facts`` mapping), ``"derived"``
            (computed by the expression ``detail``), ``"outcome"`` (written by
            the table ``detail``) or ``"stream"`` (given by the escalation
            monitor; its default when a case is explained on its own).
        detail: the path, expression or table named above.
        operands: for a derived fact, the values of the facts and parameters
            its expression reads (those the fact record keeps).

    .. versionadded:: 0.2.0
    """

    name: str
    value: Any
    origin: str
    detail: str
    operands: tuple[tuple[str, Any], ...] = ()


@attrs.frozen
class FailedPart:
    """Why a rule did not fire: the first part of its condition that was false.

    Attributes:
        text: the part, as the rule tables print it
            (``days_since_signed ≤ [no_reason_return_days]``).
        shown: the part with the values it compared written in
            (``days_since_signed (9) ≤ [no_reason_return_days] (7)``).
        index: its position among the condition's parts (``and``-ed
            conjuncts), from 1.
        of: how many parts the condition has.
        values: ``(operand, value)`` of what the part compared or read.
        value: what the part evaluated to (``False``, or another false
            value such as ``None``).

    .. versionadded:: 0.2.0
    """

    text: str
    shown: str
    index: int
    of: int
    values: tuple[tuple[str, Any], ...]
    value: Any = False


@attrs.frozen
class RuleTrial:
    """One rule of a table and what became of it for the case.

    Attributes:
        id: the rule's id.
        clause: the clause it implements.
        when: its condition, as text.
        status: ``"fired"``, ``"failed"`` (tried; its condition was false:
            see ``failed``) or ``"not_tried"`` (a ``first`` table stopped at an
            earlier rule).
        failed: for a failed rule, the part of its condition that was false.
        outputs: for a fired rule, the outcome values it produced.
        explanation: for a fired rule, its explanation line by language
            (``"en"``, ``"zh"``).
        silent: a default row a decision does not cite (see
            :class:`~csrules.rules.Rule`).

    .. versionadded:: 0.2.0
    """

    id: str
    clause: str
    when: str
    status: str
    failed: FailedPart | None = None
    outputs: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_map)
    explanation: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    silent: bool = False


@attrs.frozen
class TableStep:
    """One table as it ran for the case.

    Attributes:
        name: the table's name.
        title: its one-line description.
        hit_policy: ``"first"``, ``"unique"`` or ``"collect"``.
        facts: the facts its tried rules (and the outcomes and explanations
            of those that fired) read, in the table's input order.
        rules: every rule of the table, in order, with what became of it.
        outputs: the outcome values the table wrote.
        parameters: the parameters the tried rules and derived facts read,
            with their values, effective dates and clauses.
        title_zh: the one-line description in Chinese (empty when the
            table has none).

    .. versionadded:: 0.2.0
    """

    name: str
    title: str
    hit_policy: str
    facts: tuple[FactValue, ...]
    rules: tuple[RuleTrial, ...]
    outputs: Mapping[str, Any] = attrs.field(converter=_frozen_map)
    parameters: tuple[ParameterUse, ...]
    title_zh: str = ""

    def title_in(self, lang: str) -> str:
        """The title in ``lang`` (``"en"`` or ``"zh"``; English when there is no Chinese one)."""
        return self.title_zh if lang == "zh" and self.title_zh else self.title

    @property
    def fired(self) -> tuple[RuleTrial, ...]:
        """The rules that fired, in order."""
        return tuple(r for r in self.rules if r.status == "fired")


@attrs.frozen(eq=False)
class Explanation:
    """The full reasoning behind one decision.

    Built by :func:`csrules.explain` or :meth:`csrules.RuleSet.explain`;
    :meth:`render` writes it for a terminal, in English or Chinese, and
    :meth:`to_json` as JSON data.

    Attributes:
        case_id: the case's id.
        kind: ``"return"``, ``"complaint"``, ``"promotion"`` or
            ``"price_adjustment"``.
        ruleset: the rule set's name.
        policy: the policy's name.
        on: the date whose parameter values were used.
        tables: each table of the kind, in the order the rule set runs them.
        parameters: the parameters the decision cites (those the fired rules
            read), as in :attr:`csrules.ReturnDecision.parameters`.
        estimated: whether working days were estimated.
        estimated_years: the years without official holiday data among the
            dates the decision computed or read (why it is estimated).
        covered_years: the first and last year the calendar knows exactly.
        legal_floor: whether the LAW-25 legal floor was enforced.
        decision: the decision itself, equal to what
            :meth:`csrules.RuleSet.decide` gives for the case.

    .. versionadded:: 0.2.0
    """

    case_id: str
    kind: str
    ruleset: str
    policy: str
    on: dt.date
    tables: tuple[TableStep, ...]
    parameters: tuple[ParameterUse, ...]
    estimated: bool
    estimated_years: tuple[int, ...]
    covered_years: tuple[int, int] | None
    legal_floor: bool
    decision: Decision

    @property
    def fired(self) -> tuple[RuleTrial, ...]:
        """Every rule that fired, in order, across the tables (silent ones too)."""
        return tuple(r for t in self.tables for r in t.fired)

    def render(self, lang: Lang = "en", width: int | None = None) -> str:
        """The explanation as text for a terminal.

        Args:
            lang: ``"en"`` or ``"zh"``.
            width: wrap tables and lines to this many terminal cells (a CJK
                character takes two); ``None`` for no wrapping.

        Raises:
            ArgumentTypeError: ``lang`` is neither ``"en"`` nor ``"zh"``, or
                ``width`` is not a positive whole number or ``None``.
        """
        from csrules._explain_render import render

        _check_lang(lang)
        if width is not None and (
            isinstance(width, bool) or not isinstance(width, int) or width < 1
        ):
            raise ArgumentTypeError("width", width, "a whole number of cells, 1 or more, or None")
        return render(self, lang, width)

    def to_json(self, lang: Lang = "en") -> dict[str, JSONValue]:
        """The explanation as JSON data (``csrules explain --format json``).

        The shape is documented in ``docs/explain.md``; ``decision`` is the
        decision object exactly as ``csrules decide`` writes it.

        Raises:
            ArgumentTypeError: ``lang`` is neither ``"en"`` nor ``"zh"``.
        """
        from csrules._explain_render import to_json

        _check_lang(lang)
        return to_json(self, lang)


def _check_lang(lang: object) -> None:
    if lang not in ("en", "zh"):
        raise ArgumentTypeError("lang", lang, "'en' or 'zh'")


# ---------------------------------------------------------------- building


def explain(
    case: Any,
    *,
    ruleset: RuleSet | str | None = None,
    policy: Policy | None = None,
    facts: Mapping[str, Any] | None = None,
) -> Explanation:
    """Decide one case and explain the decision, table by table.

    Complaints are explained on their own, without an escalation monitor:
    the stream facts (``repeat_complaint``...) keep their defaults, as in
    ``csrules decide --no-stream``.

    Args:
        case: a :class:`~csrules.ReturnCase`, :class:`~csrules.ComplaintCase`,
            :class:`~csrules.PromotionCase` or :class:`~csrules.PriceAdjustmentCase`.
        ruleset: the rule set (a :class:`~csrules.RuleSet` or a name for
            :func:`csrules.ruleset`); the bundled ``b2c`` by default.
        policy: parameters replacing the rule set's.
        facts: values of the extra facts the rule set declares.

    Returns:
        The explanation; its ``decision`` is what :func:`csrules.decide`
        gives for the same arguments.

    Raises:
        ArgumentTypeError: ``case`` or ``policy`` is not of the type above.
        DomainValueError: the case lacks something its rules need (as
            :func:`csrules.decide`).
        PolicyError: a parameter the rules need has no value on the case's date.
        RuleDefinitionError: the rule set has no such name, or (never
            expected) evaluating the conditions again disagrees with the
            compiled tables.

    .. versionadded:: 0.2.0
    """
    from csrules._engine import decide
    from csrules._ruleset import ruleset as find

    chosen = find(ruleset if ruleset is not None else "b2c")
    decision = decide(case, ruleset=chosen, policy=policy, facts=facts)
    kind = chosen.kind(case.kind)
    return _explain(decision, kind, chosen.name)


def _explain(decision: Decision, kind: KindSpec, ruleset_name: str) -> Explanation:
    trace: Trace = decision.trace
    policy = trace.policy
    steps = tuple(_step(result, kind, trace) for result in trace.results)
    calendar = policy.calendar
    years = _estimated_years(decision, trace) if trace.estimated else ()
    covered = sorted(calendar.covered_years())
    return Explanation(
        case_id=decision.case_id,
        kind=kind.name,
        ruleset=ruleset_name,
        policy=policy.name,
        on=trace.params.on,
        tables=steps,
        parameters=trace.parameters,
        estimated=trace.estimated,
        estimated_years=years,
        covered_years=(covered[0], covered[-1]) if covered else None,
        legal_floor=policy.legal_floor,
        decision=decision,
    )


def _step(result: TableResult, kind: KindSpec, trace: Trace) -> TableStep:
    table = result.table
    record, params = result.facts, result.params
    calendar = trace.policy.calendar
    evaluator = Evaluator(record, params, calendar)
    fired = dict(result.hits)
    fired_rules = dict(zip(fired, result.fired, strict=True))
    trials: list[RuleTrial] = []
    matched: list[int] = []
    stopped = False
    for index, rule in enumerate(table.rules):
        if stopped:
            trials.append(RuleTrial(rule.id, rule.clause, rule.when.render(), "not_tried",
                                    silent=rule.silent))  # fmt: skip
            continue
        failed = _first_false(rule.when, evaluator)
        if failed is not None:
            trials.append(RuleTrial(rule.id, rule.clause, rule.when.render(), "failed",
                                    failed=failed, silent=rule.silent))  # fmt: skip
            continue
        matched.append(index)
        if table.hit_policy is HitPolicy.FIRST:
            stopped = True
        one = fired_rules.get(index)
        trials.append(
            RuleTrial(
                rule.id,
                rule.clause,
                rule.when.render(),
                "fired",
                outputs=fired.get(index, {}),
                explanation=({lang: one.explanation(lang) for lang in ("en", "zh")} if one else {}),
                silent=rule.silent,
            )
        )
    compiled = [i for i, _ in result.hits]
    if matched != compiled:
        ids = [table.rules[i].id for i in matched]
        msg = (
            f"table {table.name!r}: evaluating the conditions again matched rules {ids}, "
            f"but the compiled table fired {[table.rules[i].id for i in compiled]}; "
            "please report it"
        )
        raise RuleDefinitionError(msg)
    tried = [r for r, t in zip(table.rules, trials, strict=True) if t.status != "not_tried"]
    reads = _reads(table, tried, [table.rules[i] for i in matched])
    facts = tuple(_fact_value(name, record, params, kind) for name in reads if name in record)
    param_names: dict[str, None] = {}
    for rule in tried:
        param_names.update(dict.fromkeys(sorted(rule.when.params())))
    for index in matched:
        param_names.update(dict.fromkeys(sorted(table.rule_params(table.rules[index]))))
    for fact in facts:
        if fact.origin == "derived":
            spec = kind.fact(fact.name)
            assert spec.derive is not None
            param_names.update(dict.fromkeys(sorted(spec.derive.params())))
    return TableStep(
        name=table.name,
        title=table.title,
        hit_policy=str(table.hit_policy.value),
        facts=facts,
        rules=tuple(trials),
        outputs=result.outputs,
        parameters=_uses(param_names, trace),
        title_zh=table.title_zh,
    )


def _reads(table: Table, tried: Sequence[Rule], fired: Sequence[Rule]) -> list[str]:
    """The facts the tried rules' conditions (and the fired rules' outcomes
    and explanations) read, in the table's input order."""
    names: set[str] = set()
    for rule in tried:
        names |= rule.when.facts()
    for rule in fired:
        names |= rule.facts() | rule.template_fields()
    order = {name: i for i, name in enumerate(table.inputs)}
    return sorted(names & set(table.inputs), key=order.__getitem__)


def _fact_value(
    name: str, record: Mapping[str, Any], params: Mapping[str, Any], kind: KindSpec
) -> FactValue:
    value = record[name]
    if name in kind.stream_facts:
        return FactValue(name, value, "stream", "")
    for table in kind.tables:
        if name in table.outputs:
            return FactValue(name, value, "outcome", table.name)
    spec = kind.fact(name)
    if spec.derive is not None:
        operands: list[tuple[str, Any]] = [
            (read, record[read]) for read in sorted(spec.derive.facts()) if read in record
        ]
        for p in sorted(spec.derive.params()):
            if p in params:
                operands.append((f"[{p}]", params[p]))
        return FactValue(name, value, "derived", spec.derive.render(), tuple(operands))
    if spec.source is not None:
        return FactValue(name, value, "input", spec.source)
    return FactValue(name, value, "extra", f"facts.{name}")


def _uses(names: Iterable[str], trace: Trace) -> tuple[ParameterUse, ...]:
    values, since = trace.params.values, trace.params.since
    parameters = trace.policy.parameters
    return tuple(
        ParameterUse(n, values[n], since[n], parameters[n].clause) for n in names if n in values
    )


# ---------------------------------------------------------------- why a rule did not fire


def _first_false(when: Expr, evaluator: Evaluator) -> FailedPart | None:
    """The first conjunct of ``when`` that is false (``None`` if the whole holds).

    Conjuncts are evaluated in order, as the compiled ``and`` does, so a
    later conjunct is never evaluated once an earlier one is false.
    """
    parts: tuple[Expr, ...] = when.items if isinstance(when, All) else (when,)
    if not parts:  # an empty "and" compiles to "()", which is false
        return FailedPart(when.render(), when.render(), 1, 1, (), ())
    for index, part in enumerate(parts, start=1):
        value = evaluator.visit(part)
        if not value:
            shown, values = _with_values(part, evaluator)
            return FailedPart(part.render(), shown, index, len(parts), values, value)
    return None


def _side(parent: Expr, child: Expr) -> str:
    text = child.render()
    return f"({text})" if precedence(child) < precedence(parent) else text


def _with_values(part: Expr, evaluator: Evaluator) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """``part`` as text with the values it compared written in, and those values."""
    if isinstance(part, Compare):
        pieces: list[str] = []
        values: list[tuple[str, Any]] = []
        for side in (part.left, part.right):
            text = _side(part, side)
            if isinstance(side, Const):
                pieces.append(text)
                continue
            value = evaluator.visit(side)
            values.append((side.render(), value))
            pieces.append(f"{text} ({show_value(value)})")
        return f"{pieces[0]} {_SHOWN[part.op]} {pieces[1]}", tuple(values)
    if isinstance(part, In | IsNone):
        value = evaluator.visit(part.item)
        item = _side(part, part.item)
        text = part.render()
        if text.startswith(item):
            text = f"{item} ({show_value(value)}){text[len(item) :]}"
        return text, ((part.item.render(), value),)
    if isinstance(part, Fact | Param):
        value = evaluator.visit(part)
        return f"{part.render()} ({show_value(value)})", ((part.render(), value),)
    # anything else (or, not, a call): the facts and parameters it reads
    read: list[tuple[str, Any]] = [
        (name, evaluator.visit(Fact(name))) for name in sorted(part.facts())
    ]
    read += [(f"[{name}]", evaluator.visit(Param(name))) for name in sorted(part.params())]
    if not read:
        return part.render(), ()
    shown = ", ".join(f"{label} = {show_value(value)}" for label, value in read)
    return f"{part.render()} ({shown})", tuple(read)


def show_value(value: object) -> str:
    """A value as explanations print it (as rule tables print constants)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, enum.Enum):
        return str(value.value)
    return show(value)


# ---------------------------------------------------------------- estimates


def _dates(value: object) -> Iterable[dt.date]:
    if isinstance(value, dt.date):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _dates(item)


def _estimated_years(decision: Decision, trace: Trace) -> tuple[int, ...]:
    """The estimated years among the dates the decision computed, else among
    the dates its tables read."""
    calendar = trace.policy.calendar
    outcome = [
        d
        for f in attrs.fields(type(decision))
        if f.name not in ("case_id", "trace")
        for d in _dates(getattr(decision, f.name))
    ]
    found = {d.year for d in outcome if calendar.is_estimated(d)}
    if not found:
        for result in trace.results:
            for name in result.table.inputs:
                for d in _dates(result.facts.get(name)):
                    if calendar.is_estimated(d):
                        found.add(d.year)
    return tuple(sorted(found))
