"""Decision tables: rules with clause IDs, conditions, outcomes and a hit policy.

A :class:`Table` is data. On construction it checks that every fact it reads
is one of its declared inputs, then compiles all its conditions and computed
outcomes into a single Python function (generated source, compiled once), so
evaluating one case never walks a tree.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from csrules.exceptions import NoRuleMatchedError, RuleDefinitionError, RuleOverlapError
from csrules.rules._dispatch import OTHER, Dispatch, choose_dispatch, lookup
from csrules.rules._expr import Const, Expr, Fact, lift
from csrules.rules._pysource import SourceCompiler

if TYPE_CHECKING:
    from csrules.batch import VectorTable

__all__ = ["FiredRule", "HitPolicy", "Rule", "Table", "TableResult"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CLAUSE = re.compile(r"^[A-Z][A-Z0-9]*-[0-9A-Za-z.]+$")
_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_NAME_FIELD = re.compile(r"[a-z][a-z0-9_]*")


class HitPolicy(enum.StrEnum):
    """How many rules of a table may fire (as in DMN).

    ``first``: rules are tried in order, the first that matches fires.
    ``unique``: exactly one rule must match; two matches are an error.
    ``collect``: every matching rule fires, in table order (possibly none).
    """

    FIRST = "first"
    UNIQUE = "unique"
    COLLECT = "collect"


def _outputs(value: Mapping[str, object]) -> Mapping[str, Expr]:
    return {name: lift(v) for name, v in value.items()}


@attrs.frozen(eq=False)
class Rule:
    """One row of a decision table.

    Attributes:
        clause: the POLICY.md clause ID the rule implements (``"B2C-7.10.3a"``).
        when: the condition, an expression over facts and parameters.
        then: outcome values by output name; constants or expressions.
        en: explanation in English; ``{name}`` fields are filled from the
            outcome, the facts and the parameters.
        zh: the same explanation in Chinese.
        id: a name unique in the table (defaults to the clause ID).
        silent: a default row that decides nothing beyond what other tables
            already decided (e.g. "no refund" after a rejection): it is kept
            in the trace but not listed in a decision's ``rules`` and
            ``explanation``.

    Rules compare by identity: their conditions are expressions, whose ``==``
    builds a new expression rather than answering.

    .. versionadded:: 0.1.0
    """

    clause: str
    when: Expr
    then: Mapping[str, Expr] = attrs.field(converter=_outputs)
    en: str
    zh: str
    id: str = attrs.field(default="")
    silent: bool = False
    # What output code derives from the rule (its parsed templates, texts
    # filled in for given values); never pickled.
    _cache: dict[Any, Any] = attrs.field(init=False, factory=dict, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            Rule,
            (self.clause, self.when, dict(self.then), self.en, self.zh, self.id, self.silent),
        )

    def __attrs_post_init__(self) -> None:
        if not _CLAUSE.match(self.clause):
            msg = f"rule clause {self.clause!r} is not a POLICY.md clause ID like 'B2C-7.10.3a'"
            raise RuleDefinitionError(msg)
        if not isinstance(self.when, Expr):
            msg = f"rule {self.clause}: 'when' must be an expression, got {self.when!r}"
            raise RuleDefinitionError(msg)
        if not self.id:
            object.__setattr__(self, "id", self.clause)
        for lang, text in (("en", self.en), ("zh", self.zh)):
            _check_template(self.id, lang, text)

    def facts(self) -> frozenset[str]:
        """Facts the condition and outcomes read."""
        return self.when.facts().union(*(e.facts() for e in self.then.values()))

    def params(self) -> frozenset[str]:
        """Parameters the condition and outcomes read."""
        return self.when.params().union(*(e.params() for e in self.then.values()))

    def template_fields(self) -> frozenset[str]:
        """Names the explanation templates fill in."""
        return frozenset(_FIELD.findall(self.en)) | frozenset(_FIELD.findall(self.zh))


def _check_template(rule: str, lang: str, text: object) -> None:
    """Refuse an explanation that is not a template of plain ``{name}`` fields
    (``{Freight_payer}``, ``{freight_payer.value}``, ``{0}``, an unpaired
    brace): it would be printed as it stands or fail when a decision is
    explained."""
    if not isinstance(text, str):
        msg = f"rule {rule!r}: {lang} must be a str, got {text!r}"
        raise RuleDefinitionError(msg)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as err:
        msg = (
            f"rule {rule!r}: {lang} {text!r} is not a valid template "
            f"({err}; write {{{{ and }}}} for braces)"
        )
        raise RuleDefinitionError(msg) from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if not _NAME_FIELD.fullmatch(field) or conversion or spec:
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            msg = (
                f"rule {rule!r}: {lang} uses {{{shown}}}: a placeholder is a fact, output "
                "or parameter name in lower_snake_case, such as {freight_payer}, with no "
                "format (values are written as decisions write them; {{ and }} for braces)"
            )
            raise RuleDefinitionError(msg)


def _display(value: object) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, tuple | list | frozenset | set):
        return ", ".join(_display(v) for v in value) or "-"
    if value is None:
        return "-"
    return str(value)


class _Lookup(dict[str, str]):
    __slots__ = ("sources",)

    def __init__(self, *sources: Mapping[str, Any]) -> None:
        super().__init__()
        self.sources = sources

    def __missing__(self, key: str) -> str:
        for source in self.sources:
            if key in source:
                return _display(source[key])
        return "{" + key + "}"


_new = tuple.__new__


class FiredRule(NamedTuple):
    """A rule that fired, with what it saw.

    Attributes:
        table: the table the rule belongs to.
        rule: the rule itself.
        outputs: the outcome values it produced.
        facts: the fact record it was evaluated on.
        params: the parameter values in force.
    """

    table: Table
    rule: Rule
    outputs: Mapping[str, Any]
    facts: Mapping[str, Any]
    params: Mapping[str, Any]

    @property
    def clause(self) -> str:
        """The clause ID the rule cites."""
        return self.rule.clause

    def explanation(self, lang: str = "en") -> str:
        """The rule's explanation filled in, in ``"en"`` or ``"zh"``."""
        template = self.rule.zh if lang == "zh" else self.rule.en
        return template.format_map(_Lookup(self.outputs, self.facts, self.params))


class TableResult(tuple[Any, ...]):
    """The outcome of one table for one case (an immutable tuple).

    Attributes:
        outputs: outcome values by name. For ``collect`` tables each output
            is a tuple of the values of the rules that fired, in order.
        table: the table evaluated.
        hits: ``(rule index, outputs)`` of each rule that fired, in order.
        facts: the fact record the table saw.
        params: the parameter values in force.
    """

    __slots__ = ()

    def __new__(
        cls,
        outputs: Mapping[str, Any],
        table: Table,
        hits: Sequence[tuple[int, Mapping[str, Any]]],
        facts: Mapping[str, Any],
        params: Mapping[str, Any],
    ) -> TableResult:
        return _new(cls, (outputs, table, hits, facts, params))

    outputs: Mapping[str, Any] = property(itemgetter(0))  # type: ignore[assignment]
    table: Table = property(itemgetter(1))  # type: ignore[assignment]
    hits: Sequence[tuple[int, Mapping[str, Any]]] = property(itemgetter(2))  # type: ignore[assignment]
    facts: Mapping[str, Any] = property(itemgetter(3))  # type: ignore[assignment]
    params: Mapping[str, Any] = property(itemgetter(4))  # type: ignore[assignment]

    @property
    def fired(self) -> tuple[FiredRule, ...]:
        """The rules that fired, in order (built on demand)."""
        rules, table, facts, params = self.table.rules, self.table, self.facts, self.params
        return tuple(_new(FiredRule, (table, rules[i], out, facts, params)) for i, out in self.hits)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TableResult):
            return NotImplemented
        return (
            self.table is other.table
            and [i for i, _ in self.hits] == [i for i, _ in other.hits]
            and self.outputs == other.outputs
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, compared by value

    def __repr__(self) -> str:
        ids = [self.table.rules[i].id for i, _ in self.hits]
        return f"TableResult(table={self.table.name!r}, fired={ids}, outputs={self.outputs!r})"


def _rules(value: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(value)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


_Compiled = Callable[[Mapping[str, Any], Mapping[str, Any], Any], Any]


@attrs.frozen
class Table:
    """A decision table.

    Attributes:
        name: short identifier (``"return_action"``).
        title: a one-line description for docs.
        title_zh: the same in Chinese (keyword only; ``csrules explain
            --lang zh`` shows it, ``title`` when it is empty).
        hit_policy: see :class:`HitPolicy`.
        inputs: the fact names the table may read.
        outputs: the outcome names every rule may set.
        rules: the rows, in priority order.
        defaults: outcome values for rows that do not set an output.

    Raises:
        RuleDefinitionError: a rule reads an undeclared fact, sets an
            undeclared output, or two rules share an id.

    .. versionadded:: 0.1.0
    """

    name: str
    title: str
    hit_policy: HitPolicy
    inputs: tuple[str, ...] = attrs.field(converter=_names)
    outputs: tuple[str, ...] = attrs.field(converter=_names)
    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    defaults: Mapping[str, object] = attrs.field(factory=dict)
    title_zh: str = attrs.field(default="", kw_only=True)
    _compiled: tuple[_Compiled, _Compiled] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _run: _Compiled = attrs.field(init=False, eq=False, repr=False, hash=False)
    #: ``evaluate(facts, params, calendar=None)``, positional only: evaluate
    #: the table for one fact record (a mapping with every input name), the
    #: parameter values in force on the decision date, and the
    #: :class:`~csrules.WorkCalendar` for date functions; a
    #: :class:`TableResult`. It is the table's compiled function itself.
    #: Raises NoRuleMatchedError (a ``first`` or ``unique`` table matched
    #: nothing), RuleOverlapError (a ``unique`` table matched more than one
    #: rule) or RuleDefinitionError (a fact or parameter that a rule it tries
    #: reads is missing).
    evaluate: Callable[..., TableResult] = attrs.field(init=False, eq=False, repr=False, hash=False)
    _batch: list[VectorTable] = attrs.field(init=False, eq=False, repr=False, hash=False)
    # what the compiled functions share (see _make_plan), worked out once
    _plan: _Plan = attrs.field(init=False, eq=False, repr=False, hash=False)
    _params_of: Mapping[Rule, frozenset[str]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    # (module, attribute) of a table the library ships (see mark_bundled): a
    # trace pickles it by that reference.
    _origin: tuple[str, str] | None = attrs.field(
        init=False, default=None, eq=False, repr=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        self._check()
        known = set(self.inputs) | set(self.outputs)
        # rules hash by identity: this table's own rules are found here
        params_of = {r: r.params() | (r.template_fields() - known) for r in self.rules}
        object.__setattr__(self, "_params_of", MappingProxyType(params_of))
        object.__setattr__(self, "_plan", self._make_plan())
        compiled = self._compile()
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_run", compiled[1])
        object.__setattr__(self, "evaluate", compiled[1])
        object.__setattr__(self, "_batch", [])

    def __reduce__(self) -> tuple[Any, ...]:
        # the compiled function is rebuilt from the definition when unpickled
        return (
            _rebuild_table,
            (
                self.name,
                self.title,
                self.hit_policy,
                self.inputs,
                self.outputs,
                self.rules,
                dict(self.defaults),
                self.title_zh,
            ),
        )

    # -- definition checks ---------------------------------------------
    def _check(self) -> None:
        if not _NAME.match(self.name):
            msg = f"table name {self.name!r} must be lower_snake_case"
            raise RuleDefinitionError(msg)
        if not self.rules:
            msg = f"table {self.name!r} has no rules"
            raise RuleDefinitionError(msg)
        seen: set[str] = set()
        inputs, outputs = set(self.inputs), set(self.outputs)
        for name, value in self.defaults.items():
            if name not in outputs:
                msg = f"table {self.name!r}: default for {name!r}, which is not an output"
                raise RuleDefinitionError(msg)
            unknown_facts = lift(value).facts() - inputs
            if unknown_facts:
                msg = (
                    f"table {self.name!r}: the default for {name!r} reads facts "
                    f"{sorted(unknown_facts)} that are not among the table's inputs"
                )
                raise RuleDefinitionError(msg)
        for rule in self.rules:
            if rule.id in seen:
                msg = f"table {self.name!r}: two rules have the id {rule.id!r}; give one an id="
                raise RuleDefinitionError(msg)
            seen.add(rule.id)
            unknown = rule.facts() - inputs
            if unknown:
                msg = (
                    f"table {self.name!r}, rule {rule.id!r}: reads facts {sorted(unknown)} "
                    f"that are not among the table's inputs {sorted(inputs)}"
                )
                raise RuleDefinitionError(msg)
            extra = set(rule.then) - outputs
            if extra:
                msg = (
                    f"table {self.name!r}, rule {rule.id!r}: sets {sorted(extra)} "
                    f"that are not among the table's outputs {sorted(outputs)}"
                )
                raise RuleDefinitionError(msg)

    def params(self) -> frozenset[str]:
        """Every parameter the table's rules read (conditions, outcomes, explanations)."""
        return frozenset().union(*(self.rule_params(r) for r in self.rules))

    def rule_params(self, rule: Rule) -> frozenset[str]:
        """Parameters one rule reads; explanation fields that name neither an
        input nor an output are parameters too."""
        found = self._params_of.get(rule)
        if found is not None:
            return found
        loose = rule.template_fields() - set(self.inputs) - set(self.outputs)
        return rule.params() | loose

    # -- compilation -----------------------------------------------------
    def _make_plan(self) -> _Plan:
        """What the compiled functions share: each rule's outcome expressions,
        the constant outcomes built once, and the dispatch fact if any."""
        outcomes: list[dict[str, Expr]] = []
        fixed: list[tuple[int, Mapping[str, Any]] | None] = []
        alone: list[tuple[tuple[int, Mapping[str, Any]]] | None] = []
        for index, rule in enumerate(self.rules):
            values: dict[str, object] = dict(rule.then)
            if self.hit_policy is not HitPolicy.COLLECT:
                values = {**self.defaults, **values}
            exprs = {k: lift(v) for k, v in values.items()}
            outcomes.append(exprs)
            if all(isinstance(e, Const) for e in exprs.values()):
                # constant outcome: built once, shared read-only between calls
                frozen = MappingProxyType({k: e.value for k, e in exprs.items()})  # type: ignore[attr-defined]
                fixed.append((index, frozen))
                alone.append(((index, frozen),))
            else:
                fixed.append(None)
                alone.append(None)
        dispatch = None
        if self.hit_policy is not HitPolicy.UNIQUE:
            whens = [rule.when for rule in self.rules]
            dispatch = choose_dispatch(whens, first=self.hit_policy is HitPolicy.FIRST)
        return _Plan(outcomes, fixed, alone, dispatch)

    def _compile(self) -> tuple[_Compiled, _Compiled]:
        """Two functions of ``(facts, params, calendar)``: the hits, and the result.

        The first returns ``(rule index, outputs)`` of every rule that fired
        (at most one for ``first`` tables); the second the :class:`TableResult`
        (``first`` tables build it where the rule fires; ``collect`` tables
        gather each output's values as rules fire). The second reads each fact
        just before the first rule that needs it, and ``first`` and
        ``collect`` tables whose rules mostly test one fact against constants
        try only the rules left for that fact's value (see
        :mod:`csrules.rules._dispatch`).
        """
        plan = self._plan
        compiler = SourceCompiler()
        first = self.hit_policy is HitPolicy.FIRST
        hits_lines = ["def _hits(f, p, cal):"]
        if not first:
            hits_lines.append("    hits = []")
        for index, rule in enumerate(self.rules):
            try:
                hits_lines.append(f"    if {compiler.visit(rule.when)}:")
                hit = self._hit_source(compiler, plan, index)
            except RuleDefinitionError as err:
                msg = f"table {self.name!r}, rule {rule.id!r}: {err}"
                raise RuleDefinitionError(msg) from err
            if first:
                hits_lines.append(f"        return ({hit},)")
            else:
                hits_lines.append(f"        hits.append({hit})")
        hits_lines.append("    return ()" if first else "    return hits")
        hits_lines[1:1] = [f"    {local} = f[{name!r}]" for name, local in compiler.facts.items()]
        everything = list(enumerate(rule.when for rule in self.rules))
        if self.hit_policy is HitPolicy.UNIQUE:
            body = [
                "    hits = _hits(f, p, cal)",
                "    if len(hits) == 1:",
                f"        return _new({compiler.bind(TableResult)}, "
                f"(hits[0][1], {compiler.bind(self)}, hits, f, p))",
                f"    return {compiler.bind(self._many)}(hits, f, p)",
            ]
        else:
            body = self._split(compiler, plan, everything, plan.dispatch, "    ", None, 1)
        # the public evaluate is this function itself (no wrapper): it turns a
        # missing fact or parameter into the table's RuleDefinitionError
        run_lines = [
            "def _run(f, p, cal=None, /):",
            "    try:",
            *(f"    {line}" for line in body),
            "    except KeyError as _err:",
            f"        raise {compiler.bind(self._missing)}(_err) from _err",
        ]
        source = "\n".join([*hits_lines, "", *run_lines])
        namespace: dict[str, Any] = {"_new": _new, **compiler.values}
        try:
            exec(compile(source, f"<table {self.name}>", "exec"), namespace)
        except SyntaxError as err:  # pragma: no cover - generated code is checked by tests
            msg = f"table {self.name!r} compiled to invalid source: {err}"
            raise RuleDefinitionError(msg) from err
        return namespace["_hits"], namespace["_run"]

    def inline(self, compiler: SourceCompiler, target: str, indent: str = "    ") -> list[str]:
        """Statements setting ``target`` to the table's :class:`TableResult`,
        for a function that has the facts in ``f``, each fact the table reads
        in the local ``compiler.facts`` names, the parameters in ``p`` and the
        calendar in ``cal``. A missing parameter raises ``KeyError``.

        Rules are split by the value of a fact (and within each value by a
        second fact) when that spares tests, as the compiled function does.
        """
        plan = self._plan
        everything = list(enumerate(rule.when for rule in self.rules))
        if self.hit_policy is HitPolicy.UNIQUE:
            return self._unique(compiler, plan, everything, indent, target)
        return self._split(compiler, plan, everything, plan.dispatch, indent, target, 0)

    def _split(
        self,
        compiler: SourceCompiler,
        plan: _Plan,
        rules: Sequence[tuple[int, Expr]],
        dispatch: Dispatch | None,
        indent: str,
        target: str | None,
        depth: int,
    ) -> list[str]:
        """Statements giving the result (see :meth:`_chain` for ``target``):
        ``rules`` split by ``dispatch``'s fact (its buckets align with
        ``rules``), each part split again once. The part is picked by its
        number, halving the range at each test; part 0 tries every rule (a
        value that cannot be a dictionary key)."""
        if dispatch is None:
            return self._chain(compiler, plan, rules, indent, target)
        buckets = list(dispatch.buckets.values())
        values = list(dispatch.buckets)
        # part 0 tries every rule; part i + 1 is the value values[i]
        other = values.index(OTHER) + 1
        index_of, complete = lookup(
            {v: i for i, v in enumerate(values, start=1) if v is not OTHER}, other
        )
        local = f"_b{depth}"
        lines: list[str] = []
        if target is None:
            # a function body: the fact is read here (the parts read the rest)
            lines.append(f"{indent}{compiler.fact(Fact(dispatch.fact))} = f[{dispatch.fact!r}]")
        value = compiler.visit(Fact(dispatch.fact))
        lines.append(f"{indent}try:")
        if complete:
            lines += [
                f"{indent}    {local} = {compiler.bind(index_of)}[{value}]",
                f"{indent}except KeyError:",
                f"{indent}    {local} = {other}",
            ]
        else:
            lines.append(f"{indent}    {local} = {compiler.bind(index_of)}.get({value}, {other})")
        lines += [
            f"{indent}except TypeError:  # a value that cannot be a key: try every rule",
            f"{indent}    {local} = 0",
        ]
        first = self.hit_policy is HitPolicy.FIRST
        # (rules, dispatch) of each part
        parts: list[tuple[Sequence[tuple[int, Expr]], Dispatch | None]] = [(rules, None)]
        for conditions in buckets:
            kept = [
                (rules[j][0], c)
                for j, c in enumerate(conditions)
                if not (isinstance(c, Const) and c.value is False)
            ]
            inner = choose_dispatch([c for _, c in kept], first=first) if depth == 0 else None
            parts.append((kept, inner))

        def ladder(low: int, high: int, at: str) -> list[str]:
            if high - low == 1:
                part, split = parts[low]
                return self._split(compiler, plan, part, split, at, target, depth + 1)
            middle = (low + high) // 2
            return [
                f"{at}if {local} < {middle}:",
                *ladder(low, middle, at + "    "),
                f"{at}else:",
                *ladder(middle, high, at + "    "),
            ]

        lines.extend(ladder(0, len(parts), indent))
        return lines

    @staticmethod
    def _hit_source(compiler: SourceCompiler, plan: _Plan, index: int) -> str:
        """Source of the ``(rule index, outputs)`` of the rule ``index`` when
        it fires: bound once for a constant outcome, built for a computed one."""
        hit = plan.fixed[index]
        if hit is not None:
            return compiler.bind(hit)
        items = ", ".join(f"{k!r}: {compiler.visit(e)}" for k, e in plan.outcomes[index].items())
        return f"({index}, {{{items}}})"

    def _unique(
        self,
        compiler: SourceCompiler,
        plan: _Plan,
        rules: Sequence[tuple[int, Expr]],
        indent: str,
        target: str,
    ) -> list[str]:
        """Statements setting ``target`` for a ``unique`` table: every rule
        tried, the one that fired, or the table's error."""
        table, result = compiler.bind(self), compiler.bind(TableResult)
        lines = [f"{indent}hits = []"]
        for index, when in rules:
            lines.append(f"{indent}if {compiler.visit(when)}:")
            lines.append(f"{indent}    hits.append({self._hit_source(compiler, plan, index)})")
        lines.append(f"{indent}if len(hits) == 1:")
        lines.append(f"{indent}    {target} = _new({result}, (hits[0][1], {table}, hits, f, p))")
        lines.append(f"{indent}else:")
        lines.append(f"{indent}    {target} = {compiler.bind(self._many)}(hits, f, p)")
        return lines

    def _chain(
        self,
        compiler: SourceCompiler,
        plan: _Plan,
        rules: Sequence[tuple[int, Expr]],
        indent: str,
        target: str | None,
    ) -> list[str]:
        """Statements trying ``rules`` ((index, condition), in table order)
        and giving the :class:`TableResult`: returned when ``target`` is
        ``None`` (a function body reading each fact from ``f`` just before
        the first rule that needs it), else assigned to ``target`` (the facts
        are locals already)."""
        first = self.hit_policy is HitPolicy.FIRST
        table, result = compiler.bind(self), compiler.bind(TableResult)
        lines: list[str] = []
        gathered = {name: f"_c{i}" for i, name in enumerate(self.outputs)}
        if not first:
            lines.append(f"{indent}hits = []")
            lines.extend(f"{indent}{local} = []" for local in gathered.values())
        loaded: set[str] = set()
        always = False
        inner = indent + "    "
        previous = ""
        for position, (index, when) in enumerate(rules):
            exprs = plan.outcomes[index]
            if target is None:
                needed = set(when.facts()).union(*(e.facts() for e in exprs.values()))
                for name in sorted(needed - loaded):
                    lines.append(f"{indent}{compiler.fact(Fact(name))} = f[{name!r}]")
                loaded |= needed
            always = isinstance(when, Const) and when.value is True
            if first and target is not None:
                if always:
                    lines.append(f"{indent}else:" if position else f"{indent}if True:")
                else:
                    keyword = "elif" if position else "if"
                    lines.append(f"{indent}{keyword} {compiler.visit(when)}:")
            else:
                head = f"{indent}if {'True' if always else compiler.visit(when)}:"
                # a collect rule with the condition of the rule before it (and
                # no facts to read first) fires in the same block
                if first or head != previous or not lines[-1].startswith(inner):
                    lines.append(head)
                previous = head
            hit, alone = plan.fixed[index], plan.alone[index]
            if hit is not None and alone is not None:
                outputs, one, hits = compiler.bind(hit[1]), compiler.bind(hit), compiler.bind(alone)
            else:
                items = ", ".join(f"{k!r}: {compiler.visit(e)}" for k, e in exprs.items())
                lines.append(f"{inner}_o = {{{items}}}")
                outputs, one, hits = "_o", f"({index}, _o)", f"(({index}, _o),)"
            if first:
                made = f"_new({result}, ({outputs}, {table}, {hits}, f, p))"
                lines.append(
                    f"{inner}return {made}" if target is None else f"{inner}{target} = {made}"
                )
                if always:
                    break
            else:
                lines.append(f"{inner}hits.append({one})")
                if hit is not None:
                    lines.extend(
                        f"{inner}{gathered[k]}.append({compiler.visit(e)})"
                        for k, e in exprs.items()
                    )
                else:
                    lines.extend(f"{inner}{gathered[k]}.append(_o[{k!r}])" for k in exprs)
        if first:
            if not always:
                many = f"{compiler.bind(self._many)}((), f, p)"
                if target is None:
                    lines.append(f"{indent}return {many}")
                else:
                    lines.append(f"{indent}else:" if rules else f"{indent}if True:")
                    lines.append(f"{inner}{target} = {many}")
        else:
            merged = ", ".join(f"{k!r}: tuple({local})" for k, local in gathered.items())
            made = f"_new({result}, ({{{merged}}}, {table}, hits, f, p))"
            lines.append(
                f"{indent}return {made}" if target is None else f"{indent}{target} = {made}"
            )
        return lines

    # -- evaluation ------------------------------------------------------
    def matches(
        self, facts: Mapping[str, Any], params: Mapping[str, Any], calendar: Any = None
    ) -> tuple[int, ...]:
        """Indices of the rules whose conditions hold (first: at most one)."""
        try:
            hits = self._compiled[0](facts, params, calendar)
        except KeyError as err:
            raise self._missing(err) from err
        return tuple(i for i, _ in hits)

    def _missing(self, err: KeyError) -> RuleDefinitionError:
        msg = f"table {self.name!r} needs the fact or parameter {err.args[0]!r}"
        return RuleDefinitionError(msg)

    def _many(
        self,
        hits: Sequence[tuple[int, Mapping[str, Any]]],
        facts: Mapping[str, Any],
        params: Mapping[str, Any],
    ) -> TableResult:
        if self.hit_policy is HitPolicy.COLLECT:
            merged: dict[str, Any] = {
                name: tuple([out[name] for _, out in hits if name in out]) for name in self.outputs
            }
            return TableResult(merged, self, hits, facts, params)
        if not hits:
            msg = f"no rule of table {self.name!r} matched the facts {dict(facts)!r}"
            raise NoRuleMatchedError(msg)
        ids = [self.rules[i].id for i, _ in hits]
        msg = f"table {self.name!r} is unique but rules {ids} all matched {dict(facts)!r}"
        raise RuleOverlapError(msg)

    def vectorised(self) -> VectorTable:
        """The table compiled for batches (:func:`csrules.batch.compile_table`).

        Compiled on first use and kept with the table; compiling twice from
        two threads at once is harmless (the results are equivalent).
        """
        if not self._batch:
            from csrules.batch import compile_table

            self._batch[:] = [compile_table(self)]
        return self._batch[0]

    # -- editing ---------------------------------------------------------
    def replace_rule(self, rule_id: str, rule: Rule) -> Table:
        """A copy of the table with the rule ``rule_id`` replaced by ``rule``."""
        if rule_id not in {r.id for r in self.rules}:
            msg = f"table {self.name!r} has no rule {rule_id!r}"
            raise RuleDefinitionError(msg)
        rules = tuple(rule if r.id == rule_id else r for r in self.rules)
        return attrs.evolve(self, rules=rules)

    def insert_rule(self, rule: Rule, *, before: str | None = None) -> Table:
        """A copy with ``rule`` added before the rule ``before`` (or at the end)."""
        rules: list[Rule] = list(self.rules)
        if before is None:
            rules.append(rule)
        else:
            ids = [r.id for r in rules]
            if before not in ids:
                msg = f"table {self.name!r} has no rule {before!r}"
                raise RuleDefinitionError(msg)
            rules.insert(ids.index(before), rule)
        return attrs.evolve(self, rules=rules)

    def rows(self) -> Sequence[tuple[str, str, str, str]]:
        """The table as text rows: (rule id, clause, condition, outcome)."""
        return [
            (
                r.id,
                r.clause,
                r.when.render(),
                ", ".join(f"{k} = {lift(v).render()}" for k, v in r.then.items()) or "-",
            )
            for r in self.rules
        ]


class _Plan(NamedTuple):
    outcomes: Sequence[Mapping[str, Expr]]
    fixed: Sequence[tuple[int, Mapping[str, Any]] | None]
    # the hits of a first table when that rule fires: (fixed,)
    alone: Sequence[tuple[tuple[int, Mapping[str, Any]]] | None]
    dispatch: Dispatch | None


def mark_bundled(namespace: Mapping[str, object], module: str) -> None:
    """Record the module and attribute of each table in ``namespace`` (a
    bundled rules module's globals), so traces pickle them by reference."""
    for attr, value in namespace.items():
        if isinstance(value, Table) and value._origin is None:
            object.__setattr__(value, "_origin", (module, attr))


def _rebuild_table(
    name: str,
    title: str,
    hit_policy: HitPolicy,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    rules: tuple[Rule, ...],
    defaults: dict[str, object],
    title_zh: str = "",
) -> Table:
    """A table from its pickled definition (compiled again)."""
    return Table(name, title, hit_policy, inputs, outputs, rules, defaults, title_zh=title_zh)
