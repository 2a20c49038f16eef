"""Rule sets: the facts, tables and parameters of a shop's policy, as one object.

A :class:`RuleSet` holds, for each kind of case (``"return"``, ...), a
:class:`KindSpec`: the facts the kind declares (:class:`FactSpec`: read from
the case, or derived from other facts by an expression), its decision
tables, and how their outcomes become the decision object. It also holds the
policy (dated parameters) and the complaint-stream correlation rules.

Rule sets are immutable. Extending one (:meth:`RuleSet.with_fact`,
:meth:`RuleSet.with_rule`, ...) returns a new one, checked on construction.
What a kind compiles to (Python source for one case, numpy column functions
for batches) is cached on its :class:`KindSpec`; a pickled rule set carries
its definition and compiles again on first use.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import importlib
import operator
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from csrules._calendar import ESTIMATES
from csrules._decision import Decision, policy_argument
from csrules._domain import check_tables
from csrules.exceptions import ArgumentTypeError, DomainValueError, RuleDefinitionError
from csrules.policy import ParameterSet, Policy, default_policy, load_policy
from csrules.rules._common import value_kind
from csrules.rules._expr import (
    All,
    AnyOf,
    Arith,
    Call,
    Compare,
    Const,
    Expr,
    Fact,
    In,
    IsNone,
    Not,
    Param,
    lift,
)
from csrules.rules._functions import FUNCTIONS
from csrules.rules._pysource import SourceCompiler
from csrules.rules._record import fact_record
from csrules.rules._table import HitPolicy, Rule, Table, TableResult

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from csrules._check import Finding
    from csrules._explain import Explanation
    from csrules.batch._ruleset import KindBatch
    from csrules.rules._stream_rules import StreamRule
    from csrules.stream import EscalationMonitor

__all__ = ["FactSpec", "KindSpec", "RuleSet", "kind_and_policy", "ruleset"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PATH = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*(\[\])?)*$")
_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_SCALAR_TYPES: Final = (bool, int, str, dt.date, dt.datetime, object)
#: How many swapped-table kinds :meth:`KindSpec.with_tables` keeps on a kind.
_SWAPPED_KEPT: Final = 16


def _fact_type(value: object) -> object:
    return value


def fact_value(spec: FactSpec, value: object, where: str) -> object:
    """``value`` as a value of the fact ``spec`` declares: a string naming a
    member of its enum becomes that member, ``"YYYY-MM-DD"`` a date, an int a
    ``Decimal``; ``None`` stays ``None``.

    Raises:
        DomainValueError: ``value`` can never be a value of the fact (naming
            ``where``: ``facts.vip``, ``default``).
    """
    t = spec.type
    if value is None or t is object or (t is tuple and isinstance(value, tuple)):
        return value
    if isinstance(t, type) and issubclass(t, enum.Enum):
        if isinstance(value, t):
            return value
        if isinstance(value, str):
            for member in t:
                if member.value == value:
                    return member
        choices = ", ".join(repr(m.value) for m in t)
        raise DomainValueError(where, value, f"a {t.__name__}: one of {choices}")
    if t is bool:
        if isinstance(value, bool):
            return value
        raise DomainValueError(where, value, "true or false (a bool)")
    if t is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise DomainValueError(where, value, "a whole number (an int)")
    if t is decimal.Decimal:
        if isinstance(value, decimal.Decimal) and value.is_finite():
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return decimal.Decimal(value)
        raise DomainValueError(where, value, "an amount (a Decimal; never a float)")
    if t is dt.datetime:
        if isinstance(value, dt.datetime) and value.utcoffset() is not None:
            return value
        raise DomainValueError(where, value, "a time-zone aware datetime")
    if t is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise DomainValueError(where, value, "a date (YYYY-MM-DD)")
    if isinstance(value, t):
        return value
    raise DomainValueError(where, value, f"a {t.__name__}")


#: Fact types whose values of exactly that type are valid as they are.
_PLAIN_TYPES: Final = frozenset({bool, int, str, dt.date})


def _plain_type(t: object) -> bool:
    return t in _PLAIN_TYPES or (isinstance(t, type) and issubclass(t, enum.Enum))


def _extra_reader(kind: KindSpec) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """A function checking a case's extra fact values (``facts=``) against
    the kind's declarations, giving them as the facts' own types."""
    specs = {spec.name: spec for spec in kind.facts if spec.extra}
    # (spec, where, the one type whose values need no check or conversion)
    found = {
        name: (spec, f"facts.{name}", spec.type if _plain_type(spec.type) else None)
        for name, spec in specs.items()
    }

    def read(extra: Mapping[str, Any]) -> Mapping[str, Any]:
        out: dict[str, Any] | None = None
        for name, value in extra.items():
            entry = found.get(name)
            if entry is None:
                known = ", ".join(sorted(specs)) or "none"
                raise DomainValueError(
                    f"facts.{name}", value, f"a fact the rule set declares (it declares: {known})"
                )
            spec, where, plain = entry
            if type(value) is plain:
                continue
            converted = fact_value(spec, value, where)
            if converted is not value:
                if out is None:
                    out = dict(extra)
                out[name] = converted
        return extra if out is None else out

    return read


@attrs.frozen(eq=False)
class FactSpec:
    """A fact a kind of case declares.

    Exactly one of three sources gives its value:

    * ``source``: a dotted path into the case (``"order.status"``,
      ``"request.condition.tag_intact"``, ``"at"``; ``"order.lines[].category"``
      gives a tuple, one value per line). A ``None`` on the way gives
      ``default``.
    * ``derive``: an expression over other facts and parameters (a *derived*
      fact), compiled into the single-case code and the numpy code alike.
    * neither: an *extra* fact the case carries in its ``facts`` mapping
      (``"facts": {"vip": true}`` in JSON); ``default`` when it is absent.

    Attributes:
        name: the fact's name, as tables read it (``fact("status")``).
        type: ``bool``, ``int``, ``Decimal``, ``str``, ``date``, ``datetime``,
            an ``Enum`` class, ``tuple`` (a tuple of values) or ``object``.
        source: see above.
        derive: see above.
        default: the value when the source gives ``None``.
        unit: the unit of a number (``"yuan"``, ``"days"``), for docs.
        en: one line describing the fact, in English.
        zh: the same in Chinese.
        nullable: whether the source may give ``None`` (and ``default`` is
            ``None``): ``order.signed_at`` before signing. ``csrules check``
            then counts ``None`` among the fact's values. An extra fact with
            no default is always nullable; a derived fact other than a
            ``bool`` is nullable when a fact it reads is.

    .. versionadded:: 0.2.0
    """

    name: str
    type: Any = attrs.field(default=object, converter=_fact_type)
    source: str | None = None
    derive: Expr | None = None
    default: object = None
    unit: str = ""
    en: str = ""
    zh: str = ""
    nullable: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    # the facts the derivation reads, worked out once (reads() is asked per batch)
    _reads: frozenset[str] = attrs.field(init=False, default=frozenset(), repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            msg = f"fact name {self.name!r} must be lower_snake_case"
            raise RuleDefinitionError(msg)
        if self.source is not None and self.derive is not None:
            msg = f"fact {self.name!r}: give a source or a derivation, not both"
            raise RuleDefinitionError(msg)
        if self.source is not None and (
            not isinstance(self.source, str) or not _PATH.match(self.source)
        ):
            msg = (
                f"fact {self.name!r}: source {self.source!r} is not a dotted path like "
                "'order.status' or 'order.lines[].category'"
            )
            raise RuleDefinitionError(msg)
        if self.derive is not None and not isinstance(self.derive, Expr):
            object.__setattr__(self, "derive", lift(self.derive))
        if not isinstance(self.type, type):
            msg = (
                f"fact {self.name!r}: type {self.type!r} is not a type (give bool, int, "
                "Decimal, str, date, datetime, an Enum class, tuple or object)"
            )
            raise RuleDefinitionError(msg)
        if self.default is not None:
            try:
                default = fact_value(self, self.default, "default")
            except DomainValueError as err:
                msg = f"fact {self.name!r}: {err}"
                raise RuleDefinitionError(msg) from None
            object.__setattr__(self, "default", default)
        if self.derive is not None:
            object.__setattr__(self, "_reads", self.derive.facts())

    @property
    def extra(self) -> bool:
        """Whether the case gives the value in its ``facts`` mapping."""
        return self.source is None and self.derive is None

    def reads(self) -> frozenset[str]:
        """The facts a derived fact reads (none for the others)."""
        return self._reads


def _tables(value: Iterable[Table]) -> tuple[Table, ...]:
    return tuple(value)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _facts(value: Iterable[FactSpec]) -> tuple[FactSpec, ...]:
    return tuple(value)


#: What turns a kind's outcomes into its decision object: ``(case_id,
#: results by table name, facts, parameter set, parameters in force,
#: policy)`` to the decision.
DecisionBuilder = Callable[
    [str, Mapping[str, TableResult], Mapping[str, Any], ParameterSet, Mapping[str, Any], Policy],
    Decision,
]


@attrs.frozen(eq=False)
class KindSpec:
    """One kind of case in a rule set: its facts, tables and decision.

    Attributes:
        name: ``"return"``, ``"complaint"``, ``"promotion"`` or
            ``"price_adjustment"``.
        facts: the facts the kind declares, input and derived.
        tables: the decision tables; they run in the order what each reads
            and writes requires (declaration order among independent ones).
        decision: builds the decision object from the outcomes.
        date_fact: the fact whose date picks the parameter values in force.
        roots: the names of the parts of a case (``order``, ``request``,
            ``at``) that fact sources start from; they are never ``None``.
        check: checks a case beyond what its facts need (times in order...),
            given the roots; raises :class:`~csrules.exceptions.DomainValueError`.
        invariants: pairs of ``(output, value) -> (output, value)``: whenever
            a rule's constant outcome sets the first, it must set the second.
        stream_facts: extra facts the escalation monitor gives (not the case).

    .. versionadded:: 0.2.0
    """

    name: str
    facts: tuple[FactSpec, ...] = attrs.field(converter=_facts)
    tables: tuple[Table, ...] = attrs.field(converter=_tables)
    decision: DecisionBuilder
    date_fact: str
    roots: tuple[str, ...] = attrs.field(default=("case",), converter=_names)
    check: Callable[..., None] | None = None
    invariants: tuple[tuple[tuple[str, object], tuple[str, object]], ...] = ()
    stream_facts: tuple[str, ...] = attrs.field(default=(), converter=_names)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)
    _cache: dict[str, Any] = attrs.field(init=False, factory=dict, repr=False)

    def __attrs_post_init__(self) -> None:
        ordered = _check_kind(self)
        object.__setattr__(self, "tables", ordered)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _load_kind,
            (self.name, self.facts, self.tables, self.decision, self.date_fact, self.roots,
             self.check, self.invariants, self.stream_facts),
        )  # fmt: skip

    def fact(self, name: str) -> FactSpec:
        """The declaration of the fact ``name``."""
        for spec in self.facts:
            if spec.name == name:
                return spec
        msg = f"kind {self.name!r} declares no fact {name!r}"
        raise RuleDefinitionError(msg)

    def table(self, name: str) -> Table:
        """The table ``name``."""
        for table in self.tables:
            if table.name == name:
                return table
        msg = f"kind {self.name!r} has no table {name!r}"
        raise RuleDefinitionError(msg)

    def compiled(self) -> CompiledKind:
        """The kind compiled for single cases (built once, kept on the kind)."""
        found = self._cache.get("single")
        if found is None:
            with self._lock:
                found = self._cache.get("single")
                if found is None:
                    found = self._cache["single"] = CompiledKind(self)
        result: CompiledKind = found
        return result

    def with_tables(self, tables: Sequence[Table]) -> KindSpec:
        """This kind with ``tables`` instead of its own (the legacy ``tables=``
        argument of the ``decide_*`` functions).

        The kinds made are kept on this kind for the last
        :data:`_SWAPPED_KEPT` table tuples (matched table by table, by
        identity), so repeated calls with the same tables compile once.
        """
        tables = tuple(tables)
        with self._lock:
            kept: list[tuple[tuple[Table, ...], KindSpec]] = self._cache.setdefault("swapped", [])
            for key, found in kept:
                if len(key) == len(tables) and all(
                    a is b for a, b in zip(key, tables, strict=True)
                ):
                    return found
        swapped = self.evolve(tables=tables)
        with self._lock:
            if len(kept) >= _SWAPPED_KEPT:
                del kept[0]
            kept.append((tables, swapped))
        return swapped

    def evolve(self, **changes: Any) -> KindSpec:
        """A new kind with ``changes`` (checked again)."""
        fields: dict[str, Any] = {
            "name": self.name,
            "facts": self.facts,
            "tables": self.tables,
            "decision": self.decision,
            "date_fact": self.date_fact,
            "roots": self.roots,
            "check": self.check,
            "invariants": self.invariants,
            "stream_facts": self.stream_facts,
        }
        fields.update(changes)
        return KindSpec(**fields)


def _load_kind(*args: Any) -> KindSpec:
    return KindSpec(*args)


# ---------------------------------------------------------------- construction checks


def _check_kind(kind: KindSpec) -> tuple[Table, ...]:
    """Check a kind's declarations; its tables in the order they must run."""
    names: dict[str, FactSpec] = {}
    for spec in kind.facts:
        if not isinstance(spec, FactSpec):
            raise ArgumentTypeError("facts", spec, "FactSpec declarations")
        if spec.name in names:
            msg = f"kind {kind.name!r}: the fact {spec.name!r} is declared twice"
            raise RuleDefinitionError(msg)
        names[spec.name] = spec
    outputs = {o for t in kind.tables for o in t.outputs}
    for table in kind.tables:
        for name in table.outputs:
            if name in names:
                msg = (
                    f"kind {kind.name!r}, fact {name!r}: table {table.name!r} decides {name!r}: "
                    "a fact of that name would never be read (give the fact another name)"
                )
                raise RuleDefinitionError(msg)
    for spec in kind.facts:
        unknown = spec.reads() - set(names) - outputs
        if unknown:
            msg = (
                f"kind {kind.name!r}, fact {spec.name!r}: derived from unknown facts "
                f"{sorted(unknown)}"
            )
            raise RuleDefinitionError(msg)
    _derived_order(kind.name, kind.facts)
    for root in kind.roots:
        if not _NAME.match(root) or root in ("p", "cal"):
            msg = f"kind {kind.name!r}: root name {root!r} must be lower_snake_case (not p or cal)"
            raise RuleDefinitionError(msg)
    for spec in kind.facts:
        if spec.source is not None and spec.source.split(".")[0] not in kind.roots:
            msg = (
                f"kind {kind.name!r}, fact {spec.name!r}: source {spec.source!r} starts "
                f"with none of the case's parts {list(kind.roots)}"
            )
            raise RuleDefinitionError(msg)
    if kind.date_fact not in names:
        msg = f"kind {kind.name!r}: the date fact {kind.date_fact!r} is not declared"
        raise RuleDefinitionError(msg)
    seen_tables: set[str] = set()
    for table in kind.tables:
        if not isinstance(table, Table):
            raise ArgumentTypeError("tables", table, "Table objects")
        if table.name in seen_tables:
            msg = f"kind {kind.name!r}: two tables are named {table.name!r}"
            raise RuleDefinitionError(msg)
        seen_tables.add(table.name)
    ordered = _table_order(kind.name, kind.tables, set(names))
    for table in ordered:
        for rule in table.rules:
            for (out, value), (other, expected) in kind.invariants:
                if out not in table.outputs or other not in table.outputs:
                    continue
                # both ways: out = value exactly when other = expected
                got, sets = _sets(table, rule, out), _sets(table, rule, other)
                one = isinstance(got, Const) and got.value == value
                two = (
                    isinstance(sets, Const)
                    and type(sets.value) is type(expected)
                    and sets.value == expected
                )
                if one != two:
                    said, missing = ((out, value), (other, expected))[:: 1 if one else -1]
                    msg = (
                        f"table {table.name!r}, rule {rule.id!r}: sets {said[0]} = "
                        f"{said[1]!r} but not {missing[0]} = {missing[1]!r}: the kind "
                        f"requires {out} = {value!r} exactly when {other} = {expected!r}"
                    )
                    raise RuleDefinitionError(msg)
    return ordered


def _check_outputs_set(kind: KindSpec) -> None:
    """Refuse a rule of a first or unique table that leaves an output without
    a value (the table has no default for it): the one rule that fires
    decides every output."""
    for table in kind.tables:
        if table.hit_policy is HitPolicy.COLLECT:
            continue
        for rule in table.rules:
            unset = [o for o in table.outputs if o not in rule.then and o not in table.defaults]
            if unset:
                msg = (
                    f"table {table.name!r}, rule {rule.id!r}: sets no value for {unset} "
                    f"(a {table.hit_policy.value} table's rule decides every output, "
                    "and the table has no default for it)"
                )
                raise RuleDefinitionError(msg)


def _sets(table: Table, rule: Rule, out: str) -> Expr | None:
    """What a rule sets ``out`` to (its table's default when it sets nothing)."""
    found = rule.then.get(out)
    if found is None and out in table.defaults:
        return lift(table.defaults[out])
    return found


def _derived_order(kind: str, facts: Sequence[FactSpec]) -> list[FactSpec]:
    """Derived facts in an order where each follows the facts it reads."""
    derived = {f.name: f for f in facts if f.derive is not None}
    done: list[FactSpec] = []
    state: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2 or name not in derived:
            return
        if state.get(name) == 1:
            cycle = " -> ".join((*path[path.index(name) :], name))
            msg = f"kind {kind!r}: derived facts depend on each other in a cycle: {cycle}"
            raise RuleDefinitionError(msg)
        state[name] = 1
        for read in sorted(derived[name].reads()):
            visit(read, (*path, name))
        state[name] = 2
        done.append(derived[name])

    for name in derived:
        visit(name, ())
    return done


def _table_order(kind: str, tables: Sequence[Table], facts: set[str]) -> tuple[Table, ...]:
    """Tables in an order where each follows the tables whose outputs it reads."""
    writers: dict[str, Table] = {}
    for table in tables:
        for output in table.outputs:
            writers.setdefault(output, table)
    state: dict[str, int] = {}
    done: list[Table] = []

    def visit(table: Table, path: tuple[str, ...]) -> None:
        if state.get(table.name) == 2:
            return
        if state.get(table.name) == 1:
            cycle = " -> ".join((*path[path.index(table.name) :], table.name))
            msg = f"kind {kind!r}: tables read each other's outputs in a cycle: {cycle}"
            raise RuleDefinitionError(msg)
        state[table.name] = 1
        for name in table.inputs:
            if name in facts:
                continue
            writer = writers.get(name)
            if writer is None:
                users = [r.id for r in table.rules if name in r.facts()]
                where = f", rule {users[0]!r}" if users else ""
                msg = (
                    f"table {table.name!r}{where}: reads {name!r}, which is neither a "
                    f"declared fact of kind {kind!r} nor an output of another table"
                )
                raise RuleDefinitionError(msg)
            if writer is not table:
                visit(writer, (*path, table.name))
        state[table.name] = 2
        done.append(table)

    for table in tables:
        visit(table, ())
    return tuple(done)


def _check_against_policy(kind: KindSpec, policy: Policy) -> None:
    """Parameters and explanation fields every rule names must exist."""
    known_params = set(policy.parameters)
    facts = {f.name for f in kind.facts}
    outputs = {o for t in kind.tables for o in t.outputs}
    for table in kind.tables:
        for rule in table.rules:
            unknown = rule.params() - known_params
            if unknown:
                msg = (
                    f"table {table.name!r}, rule {rule.id!r}: reads parameters "
                    f"{sorted(unknown)} that policy {policy.name!r} does not define"
                )
                raise RuleDefinitionError(msg)
            loose = rule.template_fields() - facts - outputs - known_params
            if loose:
                msg = (
                    f"table {table.name!r}, rule {rule.id!r}: the explanation names "
                    f"{{{sorted(loose)[0]}}}, which is no fact, outcome or parameter"
                )
                raise RuleDefinitionError(msg)
    for spec in kind.facts:
        if spec.derive is not None:
            unknown = spec.derive.params() - known_params
            if unknown:
                msg = (
                    f"kind {kind.name!r}, fact {spec.name!r}: reads parameters "
                    f"{sorted(unknown)} that policy {policy.name!r} does not define"
                )
                raise RuleDefinitionError(msg)


# ---------------------------------------------------------------- value types

# value_kind's encodings, as what compares with what
_COMPARABLE: Final = {
    "bool": "bool",
    "int": "number",
    "money": "number",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "str": "str",
}
_PARAMETER_KINDS: Final = {
    "money": "number",
    "decimal": "number",
    "int": "number",
    "bool": "bool",
    "str": "str",
    "time": "time",
}


#: The kind of value a registered function gives, by its ``returns``.
_FUNCTION_KINDS: Final = {
    "date": "date",
    "datetime": "datetime",
    "int": "number",
    "money": "number",
    "time": "time",
    "bool": "bool",
    "str": "str",
}
#: The kinds of value each argument kind of a registered function takes.
_ARGUMENT_KINDS: Final[Mapping[str, frozenset[object]]] = {
    "ordered": frozenset({"number", "date", "datetime", "time"}),
    "date": frozenset({"date"}),
    "date|datetime": frozenset({"date", "datetime"}),
    "datetime": frozenset({"datetime"}),
    "int": frozenset({"number"}),
    "money": frozenset({"number"}),
    "time": frozenset({"time"}),
}


def _kind_of_type(t: object) -> object:
    """What values of type ``t`` compare with: ``"bool"``, ``"number"``
    (int and Decimal), ``"date"``, ``"datetime"``, ``"time"``, ``"str"``,
    ``"tuple"``, an enum class, or ``None`` (anything: ``object``, unknown
    types)."""
    if not isinstance(t, type):
        return None
    if t is tuple:
        return "tuple"
    kind = value_kind(t)
    if kind == "enum":
        return t
    return _COMPARABLE.get(kind)


def _describe(kind: object) -> str:
    if isinstance(kind, type):
        return f"a {kind.__name__}"
    return {"number": "a number"}.get(str(kind), f"a {kind}")


def check_value_types(expr: Expr, types: Mapping[str, Any], policy: Policy, where: str) -> None:
    """Refuse a comparison whose two sides can never be alike: a fact or a
    parameter compared with a constant, fact or parameter of another type (a
    date fact with an int, a money fact with a str, an enum fact with another
    enum's member).

    Raises:
        RuleDefinitionError: naming ``where`` (table and rule), the
            comparison and both types.
    """

    def kind_of(node: Expr) -> object:
        """The kind of value an expression gives (``None``: not known)."""
        if isinstance(node, Fact):
            return _kind_of_type(types.get(node.name, object))
        if isinstance(node, Param):
            parameter = policy.parameters.get(node.name)
            return None if parameter is None else _PARAMETER_KINDS.get(parameter.type)
        if isinstance(node, Const):
            return None if node.value is None else _kind_of_type(type(node.value))
        if isinstance(node, Compare | In | IsNone | All | AnyOf | Not):
            return "bool"
        if isinstance(node, Arith):
            left, right = kind_of(node.left), kind_of(node.right)
            return "number" if left == right == "number" else None
        if isinstance(node, Call):
            function = FUNCTIONS[node.function]
            returns = function.returns
            if returns in ("date|datetime", "ordered"):
                kinds = {kind_of(a) for a in node.args[: 1 if returns == "date|datetime" else 2]}
                return kinds.pop() if len(kinds) == 1 else None
            return _FUNCTION_KINDS.get(returns)
        return None

    def side(node: Expr) -> tuple[object, str] | None:
        kind = kind_of(node)
        if kind is None:
            return None
        if isinstance(node, Fact):
            return kind, f"the fact {node.name!r}"
        if isinstance(node, Param):
            return kind, f"the parameter {node.name!r}"
        if isinstance(node, Const):
            return kind, repr(node.value)
        return kind, f"`{node.render()}`"

    def clash(a: Expr, b: Expr, what: str) -> None:
        left, right = side(a), side(b)
        if left is None or right is None or left[0] == right[0]:
            return
        kinds = (left[0], right[0])
        if "str" in kinds and any(isinstance(k, type) and issubclass(k, str) for k in kinds):
            return  # a text field and a text enum's member (StrEnum) can be equal
        if isinstance(a, Const) and isinstance(b, Const):
            return
        msg = (
            f"{where}: {what} compares {left[1]} ({_describe(left[0])}) with "
            f"{right[1]} ({_describe(right[0])}), which is never alike"
        )
        raise RuleDefinitionError(msg)

    def refuse(what: str, got: Expr, expected: str) -> None:
        shown = repr(got.value) if isinstance(got, Const) else f"`{got.render()}`"
        msg = f"{where}: {what} takes {expected}, but {shown} is {_describe(kind_of(got))}"
        raise RuleDefinitionError(msg)

    def walk(node: Expr) -> None:
        if isinstance(node, Compare):
            clash(node.left, node.right, f"`{node.render()}`")
        elif isinstance(node, In):
            for value in node.values:
                clash(node.item, Const(value), f"`{node.render()}`")
        elif isinstance(node, All | AnyOf | Not):
            for item in node.children():
                kind = kind_of(item)
                if kind is not None and kind != "bool":
                    refuse("`and`, `or` and `not`", item, "conditions (true or false)")
        elif isinstance(node, Arith):
            for item in (node.left, node.right):
                kind = kind_of(item)
                if kind is not None and kind != "number":
                    refuse(
                        f"`{node.op}`", item,
                        "numbers (shift a date or time with add_days, add_hours, ...)",
                    )  # fmt: skip
        elif isinstance(node, Call):
            function = FUNCTIONS[node.function]
            for spec, arg in zip(function.args, node.args, strict=False):
                allowed = _ARGUMENT_KINDS.get(spec)
                kind = kind_of(arg)
                if allowed is not None and kind is not None and kind not in allowed:
                    refuse(f"{node.function}()", arg, f"{spec.replace('|', ' or ')} arguments")
        for child in node.children():
            walk(child)

    walk(expr)


def _read_types(kind: KindSpec, outs: Mapping[str, Any]) -> dict[str, Any]:
    """The type of every name a kind's rules read: its facts, and the outputs
    of its tables (``outs``, :func:`output_types`; a collect table's output is
    a tuple of its values)."""
    types: dict[str, Any] = {f.name: f.type for f in kind.facts}
    types.update(outs)
    for table in kind.tables:
        if table.hit_policy is HitPolicy.COLLECT:
            types.update(dict.fromkeys(table.outputs, tuple))
    return types


def _convert_derived(kind: KindSpec, types: Mapping[str, Any]) -> tuple[FactSpec, ...] | None:
    """The kind's facts with string constants compared with enum facts in
    their derivations turned into members (``None``: nothing changed)."""
    facts: list[FactSpec] = []
    changed = False
    for spec in kind.facts:
        if spec.derive is not None:
            where = f"kind {kind.name!r}, fact {spec.name!r}"
            derive = convert_enum_constants(spec.derive, types, where)
            if derive is not spec.derive:
                spec = attrs.evolve(spec, derive=derive)
                changed = True
        facts.append(spec)
    return tuple(facts) if changed else None


def _check_types(kind: KindSpec, policy: Policy, types: Mapping[str, Any]) -> None:
    for table in kind.tables:
        for rule in table.rules:
            where = f"table {table.name!r}, rule {rule.id!r}"
            check_value_types(rule.when, types, policy, where)
            for value in rule.then.values():
                check_value_types(value, types, policy, where)
    for spec in kind.facts:
        if spec.derive is not None:
            check_value_types(spec.derive, types, policy, f"kind {kind.name!r}, fact {spec.name!r}")


# ---------------------------------------------------------------- enum constants


def _enum_const(value: object, cls: type[enum.Enum], where: str) -> object:
    if not isinstance(value, str) or isinstance(value, enum.Enum):
        return value
    for member in cls:
        if member.value == value:
            return member
    choices = ", ".join(repr(m.value) for m in cls)
    msg = f"{where}: {value!r} is no {cls.__name__} (expected one of {choices})"
    raise RuleDefinitionError(msg)


def convert_enum_constants(expr: Expr, types: Mapping[str, Any], where: str) -> Expr:
    """``expr`` with string constants compared with an enum fact turned into
    its members (``fact("payment_method") == "cod"``).

    Raises:
        RuleDefinitionError: a string matches no member's value.
    """

    def enum_of(node: Expr) -> type[enum.Enum] | None:
        if isinstance(node, Fact):
            t = types.get(node.name)
            if isinstance(t, type) and issubclass(t, enum.Enum):
                return t
        return None

    def walk(node: Expr) -> Expr:
        if isinstance(node, Compare):
            left, right = walk(node.left), walk(node.right)
            cls = enum_of(left)
            if cls is not None and isinstance(right, Const):
                member = _enum_const(right.value, cls, where)
                right = right if member is right.value else Const(member)
            cls = enum_of(right)
            if cls is not None and isinstance(left, Const):
                member = _enum_const(left.value, cls, where)
                left = left if member is left.value else Const(member)
            if left is node.left and right is node.right:
                return node
            return Compare(node.op, left, right)
        if isinstance(node, In):
            item = walk(node.item)
            cls = enum_of(item)
            values = node.values
            if cls is not None:
                values = tuple(_enum_const(v, cls, where) for v in node.values)
            if item is node.item and all(a is b for a, b in zip(values, node.values, strict=True)):
                return node
            return In(item, values, negate=node.negate)
        if isinstance(node, All | AnyOf):
            items = tuple(walk(i) for i in node.items)
            if all(a is b for a, b in zip(items, node.items, strict=True)):
                return node
            return type(node)(items)
        if isinstance(node, Not):
            item = walk(node.item)
            return node if item is node.item else Not(item)
        if isinstance(node, IsNone):
            item = walk(node.item)
            return node if item is node.item else IsNone(item, negate=node.negate)
        if isinstance(node, Arith):
            left, right = walk(node.left), walk(node.right)
            if left is node.left and right is node.right:
                return node
            return Arith(node.op, left, right)
        if isinstance(node, Call):
            args = tuple(walk(a) for a in node.args)
            if all(a is b for a, b in zip(args, node.args, strict=True)):
                return node
            return Call(node.function, *args)
        return node

    return walk(expr)


def output_types(kind: KindSpec) -> dict[str, Any]:
    """The type of each table output of a kind, as its rules' constant values
    show it: the enum class most of them are members of, ``bool`` when most
    are booleans, else ``object`` (anything)."""
    found: dict[str, Any] = {}
    for table in kind.tables:
        for out in table.outputs:
            classes: dict[type, int] = {}
            bools = others = 0
            values = [rule.then.get(out) for rule in table.rules]
            if out in table.defaults:
                values.append(lift(table.defaults[out]))
            for value in values:
                if not isinstance(value, Const) or value.value is None:
                    continue
                v = value.value
                if isinstance(v, enum.Enum):
                    classes[type(v)] = classes.get(type(v), 0) + 1
                elif isinstance(v, bool):
                    bools += 1
                else:
                    others += 1
            # the values most rules give decide; the others must agree with them
            if classes:
                found[out] = max(classes, key=lambda c: classes[c])
            elif bools > others:
                found[out] = bool
            else:
                found[out] = object
    return found


def _outcome(value: Expr, typ: object, types: Mapping[str, Any], where: str, out: str) -> Expr:
    """An outcome value checked against its output's type: a string naming a
    member of the output's enum becomes that member; anything that can never
    be one of its values is refused."""
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        if isinstance(value, Const) and value.value is not None:
            v = value.value
            if isinstance(v, str) and not isinstance(v, enum.Enum):
                return Const(_enum_const(v, typ, f"{where}, output {out!r}"))
            if not isinstance(v, typ):
                choices = ", ".join(repr(m.value) for m in typ)
                msg = (
                    f"{where}: {out} = {v!r} is no {typ.__name__}, as the table's other "
                    f"{out} values are (expected one of {choices})"
                )
                raise RuleDefinitionError(msg)
        if isinstance(value, Fact):
            source = types.get(value.name)
            if isinstance(source, type) and issubclass(source, enum.Enum) and source is not typ:
                msg = (
                    f"{where}: {out} = fact({value.name!r}) gives a {source.__name__}, "
                    f"where the table's {out} values are {typ.__name__} members"
                )
                raise RuleDefinitionError(msg)
    if (
        typ is bool
        and isinstance(value, Const)
        and value.value is not None
        and not isinstance(value.value, bool)
    ):
        msg = f"{where}: {out} = {value.value!r} is not true or false (the table's {out} is)"
        raise RuleDefinitionError(msg)
    return value


def _convert_table(table: Table, types: Mapping[str, Any], outs: Mapping[str, Any]) -> Table:
    rules: list[Rule] = []
    changed = False
    for rule in table.rules:
        where = f"table {table.name!r}, rule {rule.id!r}"
        when = convert_enum_constants(rule.when, types, where)
        then = {
            k: _outcome(convert_enum_constants(v, types, where), outs.get(k), types, where, k)
            for k, v in rule.then.items()
        }
        if when is rule.when and all(then[k] is rule.then[k] for k in then):
            rules.append(rule)
            continue
        changed = True
        rules.append(attrs.evolve(rule, when=when, then=then))
    return attrs.evolve(table, rules=rules) if changed else table


# ---------------------------------------------------------------- single-case compilation


class CompiledKind:
    """A kind compiled for one case at a time.

    ``build(*roots, extra, policy)`` reads the input facts from the parts of
    the case (``order``, ``request``, ``at``...) and ``extra`` (the case's
    ``facts`` mapping), resolves the parameters for the date fact, computes
    the derived facts, and returns ``(facts, resolved, params)``;
    :meth:`decide` then runs the tables. The fact record keeps the facts
    the tables and their explanations read, and the extra facts.
    """

    __slots__ = ("build", "check", "decide", "decision", "kind", "source", "steps")

    def __init__(self, kind: KindSpec) -> None:
        self.kind = kind
        self.check = kind.check
        self.decision = kind.decision
        self.source, self.build = _compile_facts(kind)
        later_reads: list[set[str]] = []
        reads: set[str] = set()
        for table in reversed(kind.tables):
            later_reads.append(set(reads))
            reads |= set(table.inputs)
        later_reads.reverse()
        derived = {name for spec in kind.facts for name in spec.reads()}
        #: each table with the outputs that later tables or derived facts read
        self.steps = tuple(
            (t, tuple(o for o in t.outputs if o in later or o in derived))
            for t, later in zip(kind.tables, later_reads, strict=True)
        )
        #: ``decide(roots, extra, policy, case_id)``: the decision for one
        #: case, given its parts (as ``kind.roots`` names them). One
        #: generated function runs the checks, the facts, every table in
        #: order and the decision, with no loop over the steps.
        self.decide: Callable[[tuple[Any, ...], Mapping[str, Any], Policy, str], Decision] = (
            _compile_decide(self)
        )


def _root_locals(kind: KindSpec) -> dict[str, str]:
    """The local name of each part of the case in generated code (never the
    part's own name, which could hide a name the code uses)."""
    return {root: f"_r{i}" for i, root in enumerate(kind.roots)}


def _compile_decide(compiled: CompiledKind) -> Callable[..., Decision]:
    """The generated ``decide`` of a compiled kind (see :class:`CompiledKind`).

    One function reads the case's parts, computes the facts into locals,
    runs every table in turn on them (each table's rules inlined, see
    :meth:`Table.inline`) and builds the decision.
    """
    kind = compiled.kind
    compiler = SourceCompiler()
    body, record = _fact_lines(kind, compiler)
    bind = compiler.bind
    roots = "".join(f"{local}, " for local in _root_locals(kind).values())
    lines = ["def decide(roots, _x, _pol, case_id):"]
    lines.append("    if _x:")
    lines.append(f"        _x = {bind(_extra_reader(kind))}(_x)")
    lines.append(f"    {roots} = roots")
    if compiled.check is not None:
        lines.append(f"    {bind(compiled.check)}({roots})")
    # the working-day functions set it (read by make_trace)
    lines.append(f"    {bind(ESTIMATES)}.estimated = False")
    lines.extend(body)
    # the fact record: the facts known now as a tuple, what the tables add
    # (outputs, facts derived from them) in ``_later``
    index = {name: i for i, (name, _) in enumerate(record)}
    values = "".join(f"{local}, " for _, local in record)
    lines.append("    _later = {}")
    lines.append(f"    f = {bind(fact_record)}({bind(index)}, ({values}), _later)")
    post = post_facts(kind)
    derived = [spec for spec in derived_order(kind) if spec.name in post]
    results = []
    for i, (table, feeds) in enumerate(compiled.steps):
        lines.append("    try:")
        lines.extend(table.inline(compiler, f"r{i}", "        "))
        lines.append("    except KeyError as _err:")
        lines.append(f"        raise {bind(table._missing)}(_err) from _err")
        if feeds:
            lines.append(f"    o = r{i}[0]")
        for name in feeds:
            local = compiler.fact(Fact(name))
            lines.append(f"    {local} = o[{name!r}]")
            lines.append(f"    _later[{name!r}] = {local}")
        for spec in derived:
            if post[spec.name] == i:
                local = compiler.fact(Fact(spec.name))
                lines.append(f"    {local} = {_derive_source(compiler, kind, spec)}")
                lines.append(f"    _later[{spec.name!r}] = {local}")
        results.append(f"{table.name!r}: r{i}")
    lines.append(
        f"    return {bind(compiled.decision)}(case_id, {{{', '.join(results)}}}, f, _res, p, _pol)"
    )
    namespace: dict[str, Any] = {"_new": tuple.__new__, **compiler.values}
    exec(compile("\n".join(lines), f"<decide {kind.name}>", "exec"), namespace)
    function: Callable[..., Decision] = namespace["decide"]
    return function


def _compile_decide_calls(compiled: CompiledKind) -> Callable[..., Decision]:
    """A generated ``decide`` calling the kind's build and each table's
    compiled function in turn: the plain form of :func:`_compile_decide`,
    which the tests hold the inlined one to."""
    values: dict[str, Any] = {
        "_check": compiled.check,
        "_build": compiled.build,
        "_decision": compiled.decision,
        "_estimates": ESTIMATES,
        "_read_extra": _extra_reader(compiled.kind),
    }
    lines = ["def decide(roots, extra, policy, case_id):"]
    lines.append("    if extra:")
    lines.append("        extra = _read_extra(extra)")
    if compiled.check is not None:
        lines.append("    _check(*roots)")
    # the working-day functions set it (read by make_trace)
    lines.append("    _estimates.estimated = False")
    lines.append("    facts, resolved, params = _build(*roots, extra, policy)")
    lines.append("    cal = policy.calendar")
    results = []
    after = _after_tables(compiled.kind)  # derived facts set once a table has run
    for i, (table, feeds) in enumerate(compiled.steps):
        post = after[i]
        values[f"_run{i}"] = table._run
        # a table's result is a tuple whose first item is its outputs
        lines.append(f"    r{i} = _run{i}(facts, params, cal)")
        if feeds:
            lines.append(f"    o = r{i}[0]")
            lines.extend(f"    facts[{name!r}] = o[{name!r}]" for name in feeds)
        if post is not None:
            values[f"_post{i}"] = post
            lines.append(f"    _post{i}(facts, params, cal)")
        results.append(f"{table.name!r}: r{i}")
    lines.append(
        f"    return _decision(case_id, {{{', '.join(results)}}}, facts, resolved, params, policy)"
    )
    namespace = dict(values)
    exec(compile("\n".join(lines), f"<decide {compiled.kind.name}>", "exec"), namespace)
    function: Callable[..., Decision] = namespace["decide"]
    return function


def _path_lines(
    local: str,
    path: str,
    default_name: str,
    prefixes: dict[str, str],
    bind: Callable[[object], str],
    roots: Mapping[str, str],
) -> list[str]:
    """Statements setting ``local`` from a dotted path of the case; prefixes
    already read (``request.condition``) are shared through ``prefixes``;
    ``bind`` names a constant of the generated code; ``roots`` gives the
    local name of each part of the case."""
    lines: list[str] = []
    parts = path.split(".")
    current = roots[parts[0]]
    for i, part in enumerate(parts):
        if i == 0:
            continue
        if part.endswith("[]"):
            attr, rest = part[:-2], parts[i + 1 :]
            if len(rest) == 1 and i == 1:
                # one item (the common order of one line) read without a map
                lines.append(f"    {local} = {current}.{attr}")
                lines.append(
                    f"    {local} = ({local}[0].{rest[0]},) if len({local}) == 1 else "
                    f"tuple(map({bind(operator.attrgetter(rest[0]))}, {local}))"
                )
                break
            if rest:
                items = f"tuple(map({bind(operator.attrgetter('.'.join(rest)))}, {current}.{attr}))"
            else:
                items = f"tuple({current}.{attr})"
            if i == 1:
                lines.append(f"    {local} = {items}")
            else:
                lines.append(f"    {local} = None if {current} is None else {items}")
            break
        key = ".".join(parts[: i + 1])
        known = prefixes.get(key)
        if known is None:
            if i == len(parts) - 1:
                # the leaf: read straight into the fact's local
                known = local
            else:
                known = prefixes[key] = f"_p{len(prefixes)}"
            if i == 1:
                # the case's own parts (order, request) are never None
                lines.append(f"    {known} = {current}.{part}")
            else:
                lines.append(f"    {known} = None if {current} is None else {current}.{part}")
        current = known
    else:
        if current != local:
            lines.append(f"    {local} = {current}")
    if default_name != "None":
        lines.append(f"    if {local} is None: {local} = {default_name}")
    return lines


def _fact_lines(
    kind: KindSpec, compiler: SourceCompiler
) -> tuple[list[str], list[tuple[str, str]]]:
    """The statements computing a kind's facts from its roots (``*roots``,
    ``_x`` the extra facts, ``_pol`` the policy), each into a local named in
    ``compiler.facts``, then ``_res`` (the parameter set), ``p`` (the values
    in force) and ``cal``; and the (name, local) of each fact the fact record
    keeps before the tables run."""
    locals_: dict[str, str] = {}
    for i, spec in enumerate(kind.facts):
        locals_[spec.name] = f"_f{i}"
    compiler.facts.update(locals_)
    lines: list[str] = []
    post = post_facts(kind)
    derived = [f for f in derived_order(kind) if f.name not in post]
    # derived facts that need no parameter (directly or through another) come
    # before the parameters are resolved; the date fact must be among them
    needs_params: set[str] = set()
    for spec in derived:
        if spec.derive is not None and (
            spec.derive.params() or spec.reads() & needs_params or _uses_calendar(spec.derive)
        ):
            needs_params.add(spec.name)
    if kind.date_fact in needs_params:
        msg = f"kind {kind.name!r}: the date fact {kind.date_fact!r} cannot depend on parameters"
        raise RuleDefinitionError(msg)
    prefixes: dict[str, str] = {}
    roots = _root_locals(kind)
    for spec in kind.facts:
        local = locals_[spec.name]
        default = "None" if spec.default is None else compiler.const(Const(spec.default))
        if spec.source is not None:
            lines.extend(
                _path_lines(local, spec.source, default, prefixes, compiler.bind, roots)
            )
        elif spec.extra:
            lines.append(f"    {local} = _x.get({spec.name!r}, {default})")
    for spec in derived:
        if spec.name in needs_params:
            continue
        lines.append(f"    {locals_[spec.name]} = {_derive_source(compiler, kind, spec)}")
    date = locals_[kind.date_fact]
    lines.append(f"    _res, p = _pol.in_force({date})")
    lines.append("    cal = _pol.calendar")
    for spec in derived:
        if spec.name in needs_params:
            lines.append(f"    {locals_[spec.name]} = {_derive_source(compiler, kind, spec)}")
    kept = _visible_facts(kind)
    record = [(name, local) for name, local in locals_.items() if name in kept and name not in post]
    return lines, record


def _compile_facts(kind: KindSpec) -> tuple[str, Callable[..., Any]]:
    compiler = SourceCompiler()
    body, record = _fact_lines(kind, compiler)
    items = ", ".join(f"{name!r}: {local}" for name, local in record)
    lines = [f"def _build({', '.join(_root_locals(kind).values())}, _x, _pol):", *body]
    lines.append(f"    return {{{items}}}, _res, p")
    source = "\n".join(lines)
    namespace: dict[str, Any] = dict(compiler.values)
    exec(compile(source, f"<facts of {kind.name}>", "exec"), namespace)
    return source, namespace["_build"]


def _uses_calendar(expr: Expr) -> bool:
    """Whether an expression calls a function that reads the policy's calendar."""
    return any(isinstance(n, Call) and FUNCTIONS[n.function].calendar for n in expr.walk())


def derived_order(kind: KindSpec) -> tuple[FactSpec, ...]:
    """The kind's derived facts, each after the facts it reads (kept with the kind)."""
    found: tuple[FactSpec, ...] | None = kind._cache.get("derived_order")
    if found is None:
        found = kind._cache["derived_order"] = tuple(_derived_order(kind.name, kind.facts))
    return found


def post_facts(kind: KindSpec) -> dict[str, int]:
    """Derived facts that read a table's outcome (directly or through another
    derived fact), with the index of the table after which they are known
    (worked out once per kind; a fresh dict each call)."""
    kept: dict[str, int] | None = kind._cache.get("post_facts")
    if kept is None:
        kept = kind._cache["post_facts"] = _post_facts(kind)
    return dict(kept)


def _post_facts(kind: KindSpec) -> dict[str, int]:
    writer = {o: i for i, t in enumerate(kind.tables) for o in t.outputs}
    found: dict[str, int] = {}
    for spec in derived_order(kind):
        steps = [writer[r] for r in spec.reads() if r in writer and r not in found]
        steps += [found[r] for r in spec.reads() if r in found]
        if steps:
            found[spec.name] = max(steps)
    return found


def _after_tables(kind: KindSpec) -> list[Callable[..., None] | None]:
    """Per table, a function setting the derived facts known once it has run."""
    post = post_facts(kind)
    order = derived_order(kind)
    result: list[Callable[..., None] | None] = []
    for index in range(len(kind.tables)):
        specs = [s for s in order if post.get(s.name) == index]
        if not specs:
            result.append(None)
            continue
        values: dict[str, object] = {}
        # each statement reads its facts afresh: an earlier one may have set them
        text = ["def _post(f, p, cal):"]
        for spec in specs:
            one = SourceCompiler()
            one.values = values
            expr = _derive_source(one, kind, spec)
            text.extend(f"    {local} = f[{name!r}]" for name, local in one.facts.items())
            text.append(f"    f[{spec.name!r}] = {expr}")
        namespace: dict[str, Any] = dict(values)
        exec(compile("\n".join(text), f"<facts of {kind.name}>", "exec"), namespace)
        result.append(namespace["_post"])
    return result


def _visible_facts(kind: KindSpec) -> frozenset[str]:
    """The facts a kind's fact record keeps: those its tables read or explain,
    the date fact and the extra facts."""
    kept = {kind.date_fact} | {f.name for f in kind.facts if f.extra}
    for table in kind.tables:
        kept.update(table.inputs)
        for rule in table.rules:
            kept.update(rule.template_fields())
    return frozenset(kept)


def _derive_source(compiler: SourceCompiler, kind: KindSpec, spec: FactSpec) -> str:
    assert spec.derive is not None
    try:
        return compiler.visit(spec.derive)
    except RuleDefinitionError as err:
        msg = f"kind {kind.name!r}, fact {spec.name!r}: {err}"
        raise RuleDefinitionError(msg) from err


# ---------------------------------------------------------------- the rule set


def _kinds(value: Mapping[str, KindSpec] | Iterable[KindSpec]) -> Mapping[str, KindSpec]:
    if isinstance(value, Mapping):
        return dict(value)
    return {k.name: k for k in value}


def _as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen(eq=False)
class RuleSet:
    """A shop's rules: facts, tables and parameters of every kind of case.

    Attributes:
        name: a short name (``"b2c"``, ``"taobao"``, a shop's own).
        policy: the dated parameters the rules read.
        kinds: each kind of case, by name (see :class:`KindSpec`).
        stream_rules: the correlation rules of the complaint stream
            (:class:`~csrules.rules.StreamRule`; the bundled rule sets carry
            ``STREAM_RULES``, B2C-8.7.1 and B2C-8.7.5). ``csrules decide
            --rules`` runs its escalation monitor on them; a rule set without
            any decides complaints one by one.

    Build a shop's rule set from a bundled one with the ``with_*``,
    ``without_rule`` and ``replacing_rule`` methods; each returns a new rule
    set, checked on construction.

    Raises:
        RuleDefinitionError: a rule reads an unknown fact or parameter, an
            explanation names nothing, an enum constant matches no member,
            tables or derived facts read each other in a cycle, a rule
            breaks an invariant of its kind, a fact or parameter is
            compared with a value of another type (a date fact with an int,
            a money fact with a str, an enum fact with another enum's
            member), or a stream rule is declared twice or reads a parameter
            the policy does not define.

    .. versionadded:: 0.2.0
    """

    name: str
    policy: Policy
    kinds: Mapping[str, KindSpec] = attrs.field(converter=_kinds)
    stream_rules: tuple[Any, ...] = attrs.field(default=(), converter=_as_tuple)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.policy, Policy):
            raise ArgumentTypeError("policy", self.policy, "a Policy")
        kinds: dict[str, KindSpec] = {}
        for name, kind in self.kinds.items():
            if not isinstance(kind, KindSpec):
                raise ArgumentTypeError("kinds", kind, "KindSpec objects")
            outs = output_types(kind)
            types = _read_types(kind, outs)
            tables = tuple(_convert_table(t, types, outs) for t in kind.tables)
            if any(a is not b for a, b in zip(tables, kind.tables, strict=True)):
                kind = kind.evolve(tables=tables)
            facts = _convert_derived(kind, types)
            if facts is not None:
                kind = kind.evolve(facts=facts)
            _check_against_policy(kind, self.policy)
            _check_types(kind, self.policy, types)
            _check_outputs_set(kind)
            kinds[name] = kind
        object.__setattr__(self, "kinds", kinds)
        from csrules._ruleset_floor import enforce_ruleset_floor

        enforce_ruleset_floor(self)
        if self.stream_rules:
            from csrules.rules._stream_rules import check_stream_rules

            try:
                check_stream_rules(self.stream_rules, self.policy)
            except RuleDefinitionError as err:
                msg = f"rule set {self.name!r}: {err}"
                raise RuleDefinitionError(msg) from err

    def __reduce__(self) -> tuple[Any, ...]:
        return (RuleSet, (self.name, self.policy, dict(self.kinds), self.stream_rules))

    def __repr__(self) -> str:
        return f"RuleSet(name={self.name!r}, policy={self.policy.name!r}, kinds={list(self.kinds)})"

    # -- reading ----------------------------------------------------------
    def kind(self, name: str) -> KindSpec:
        """The kind of case ``name``."""
        found = self.kinds.get(name)
        if found is None:
            msg = f"rule set {self.name!r} has no kind {name!r}: it has {sorted(self.kinds)}"
            raise RuleDefinitionError(msg)
        return found

    def check(self, on: dt.date | None = None) -> list[Finding]:
        """The defects of this rule set's tables, facts and parameters.

        Every table of every kind is analysed as :func:`csrules.check_tables`
        does (``docs/check.md``), with the fact domains built from the kinds'
        own declarations (:class:`FactSpec` types, ``nullable``, boolean
        derived facts read as their derivation) and the parameter values in
        force on ``on`` (today in Asia/Shanghai by default). Parameters no
        table, derived fact or stream rule reads, and facts no table reads
        (directly or through a derived fact), are findings too.

        Returns:
            The findings (:class:`csrules.Finding`), table by table in rule
            order, then the unused parameters and facts; empty for a sound
            rule set.

        Raises:
            PolicyError: a parameter the rules read has no value in force on ``on``.
            ArgumentTypeError: ``on`` is not a ``datetime.date``.

        .. versionadded:: 0.2.0
        """
        from csrules._check import check_ruleset

        return list(check_ruleset(self, on))

    def tables(self) -> tuple[tuple[str, Table], ...]:
        """Every table with its kind, in evaluation order."""
        return tuple((k.name, t) for k in self.kinds.values() for t in k.tables)

    def extra_facts(self) -> dict[str, str]:
        """The extra facts of every kind (name -> JSON type name), for
        :func:`csrules.io.read_case` (``facts=``)."""
        names = {bool: "boolean", int: "integer", str: "string", dt.datetime: "time"}
        found: dict[str, str] = {}
        for kind in self.kinds.values():
            for spec in kind.facts:
                if spec.extra and spec.name not in kind.stream_facts:
                    import decimal

                    if spec.type is decimal.Decimal:
                        found[spec.name] = "money"
                    else:
                        found[spec.name] = names.get(spec.type, "string")
        return found

    # -- deciding ---------------------------------------------------------
    def decide(
        self, case: Any, *, monitor: Any = None, facts: Mapping[str, Any] | None = None
    ) -> Decision:
        """Decide one case (as :func:`csrules.decide` with ``ruleset=self``)."""
        from csrules._engine import decide

        return decide(case, ruleset=self, monitor=monitor, facts=facts)  # type: ignore[no-any-return]

    def explain(
        self, case: Any, *, facts: Mapping[str, Any] | None = None, policy: Policy | None = None
    ) -> Explanation:
        """Decide one case and explain it table by table (as
        :func:`csrules.explain` with ``ruleset=self``): the facts each table
        read, each rule tried and the first part of its condition that was
        false, the outputs, the parameters and the decision.

        .. versionadded:: 0.2.0
        """
        from csrules._explain import explain

        return explain(case, ruleset=self, policy=policy, facts=facts)

    def decide_columns(
        self,
        kind: str,
        columns: Mapping[str, NDArray[Any]],
        *,
        tables: Iterable[str] | None = None,
    ) -> KindBatch:
        """Decide a batch of cases of one kind given as columns.

        Args:
            kind: the kind of case (``"return"``, ...).
            columns: 1-D numpy arrays by fact name, encoded as
                ``docs/batch.md`` describes. Derived facts missing from the
                columns are computed from the facts they read.
            tables: the names of the tables to evaluate (with the tables
                they depend on); all by default.
        """
        from csrules.batch._ruleset import decide_kind_columns

        return decide_kind_columns(self.kind(kind), self.policy, columns, tables=tables)

    def decide_frame(self, data: Any, *, kind: str | None = None, tz: str | None = None,
                     **options: Any) -> Any:  # fmt: skip
        """Decide a table of cases: a pyarrow Table, a polars or a pandas DataFrame.

        One row per case, one column per contract field named by its JSON
        path with dots; returns the same type as ``data``, one row per case
        in input order, with ``decision.*`` and ``error.*`` columns. See
        :func:`csrules.io.decide_arrow` for the columns, ``kind``, ``tz``
        and ``options`` (``explanations=True``, ``monitor=``, ...), and
        ``docs/frames.md``.

        .. versionadded:: 0.2.0
        """
        from csrules.io._frames import decide_frame

        return decide_frame(data, self, kind=kind, tz=tz, **options)

    # -- extending --------------------------------------------------------
    def _with_kinds(self, kinds: Mapping[str, KindSpec], name: str | None = None) -> RuleSet:
        return RuleSet(name or self.name, self.policy, kinds, self.stream_rules)

    def with_name(self, name: str) -> RuleSet:
        """The same rules under another name."""
        return RuleSet(name, self.policy, self.kinds, self.stream_rules)

    def with_policy(self, policy: Policy) -> RuleSet:
        """The same rules with another policy (checked against it)."""
        return RuleSet(self.name, policy, self.kinds, self.stream_rules)

    def with_parameters(
        self,
        source: Policy | str | Path | Mapping[str, object] | None = None,
        *,
        on: dt.date | str | None = None,
        **values: object,
    ) -> RuleSet:
        """New parameter values: a :class:`Policy`, a TOML file extending this
        rule set's policy, or ``name=value`` pairs (as keywords or a mapping)
        in force from ``on``."""
        policy = self.policy
        if isinstance(source, Mapping):
            values = {**source, **values}
        elif isinstance(source, Policy):
            policy = source
        elif isinstance(source, str | Path):
            policy = load_policy(source, base=policy)
        elif source is not None:
            raise ArgumentTypeError(
                "source", source, "a Policy, a TOML file path or a mapping of name=value"
            )
        if values:
            if on is None:
                msg = "with_parameters(name=value): give on= (the date the values take effect)"
                raise RuleDefinitionError(msg)
            policy = policy.with_values(on, **values)
        return self.with_policy(policy)

    def with_fact(
        self,
        name: str,
        type: Any = bool,
        *,
        default: object = None,
        source: str | None = None,
        derive: Expr | None = None,
        kind: str = "return",
        unit: str = "",
        en: str = "",
        zh: str = "",
        nullable: bool = False,
    ) -> RuleSet:
        """A new rule set where kind ``kind`` declares the fact ``name``
        (the arguments are those of :class:`FactSpec`)."""
        spec = FactSpec(name, type, source, derive, default, unit, en, zh, nullable)
        k = self.kind(kind)
        return self._with_kinds({**self.kinds, kind: k.evolve(facts=(*k.facts, spec))})

    def _find_rule(self, rule_id: str, table: str | None = None) -> tuple[str, Table]:
        found = [
            (k.name, t) for k in self.kinds.values() for t in k.tables
            if any(r.id == rule_id for r in t.rules) and (table is None or t.name == table)
        ]  # fmt: skip
        if not found:
            where = "" if table is None else f" in table {table!r}"
            msg = f"rule set {self.name!r} has no rule {rule_id!r}{where}"
            raise RuleDefinitionError(msg)
        if len(found) > 1:
            where = ", ".join(t.name for _, t in found)
            msg = (
                f"rule id {rule_id!r} is in several tables ({where}): name the table, "
                f"table={found[0][1].name!r} for instance"
            )
            raise RuleDefinitionError(msg)
        return found[0]

    def _table_of(self, table: str) -> tuple[str, Table]:
        for k in self.kinds.values():
            for t in k.tables:
                if t.name == table:
                    return k.name, t
        msg = f"rule set {self.name!r} has no table {table!r}"
        raise RuleDefinitionError(msg)

    def _edited(self, kind: str, table: Table, rules: Sequence[Rule]) -> RuleSet:
        k = self.kind(kind)
        # a new rule may read declared facts the table did not read before
        declared = {f.name for f in k.facts} | {o for t in k.tables for o in t.outputs}
        reads = {name for rule in rules for name in rule.facts()}
        more = sorted((reads & declared) - set(table.inputs) - set(table.outputs))
        new = attrs.evolve(table, rules=tuple(rules), inputs=(*table.inputs, *more))
        return self._replace_table(kind, table, new)

    def _replace_table(self, kind: str, old: Table, new: Table) -> RuleSet:
        k = self.kind(kind)
        tables = tuple(new if t is old else t for t in k.tables)
        return self._with_kinds({**self.kinds, kind: k.evolve(tables=tables)})

    def with_rule(
        self, table: str, rule: Rule, *, before: str | None = None, after: str | None = None
    ) -> RuleSet:
        """A new rule set with ``rule`` added to ``table`` (before or after the
        rule with that id; at the end without either)."""
        if not isinstance(rule, Rule):
            raise ArgumentTypeError("rule", rule, "a Rule")
        kind, t = self._table_of(table)
        self._refuse_taken_id(rule.id)
        rules = _placed(t.rules, rule, before, after, f"table {table!r} has no rule")
        return self._edited(kind, t, rules)

    def _refuse_taken_id(self, rule_id: str) -> None:
        """Refuse an id a table of the rule set has: an id names one rule of the
        rule set (without_rule, replacing_rule find it by its id)."""
        for other in (o for k in self.kinds.values() for o in k.tables):
            if any(r.id == rule_id for r in other.rules):
                msg = (
                    f"table {other.name!r} has a rule {rule_id!r} already: give the new one "
                    "another id="
                )
                raise RuleDefinitionError(msg)

    def without_rule(self, rule_id: str, *, table: str | None = None) -> RuleSet:
        """A new rule set without the rule ``rule_id`` (of the table ``table``,
        when several tables have a rule of that id)."""
        kind, t = self._find_rule(rule_id, table)
        rules = [r for r in t.rules if r.id != rule_id]
        return self._edited(kind, t, rules)

    def replacing_rule(self, rule_id: str, rule: Rule, *, table: str | None = None) -> RuleSet:
        """A new rule set with the rule ``rule_id`` (of the table ``table``, when
        several tables have a rule of that id) replaced by ``rule``."""
        if not isinstance(rule, Rule):
            raise ArgumentTypeError("rule", rule, "a Rule")
        kind, t = self._find_rule(rule_id, table)
        if rule.id != rule_id:
            self._refuse_taken_id(rule.id)
        return self._edited(kind, t, [rule if r.id == rule_id else r for r in t.rules])

    # -- stream rules -------------------------------------------------------
    def _stream_index(self, rule_id: str) -> int:
        ids = [r.id for r in self.stream_rules]
        if rule_id not in ids:
            msg = f"rule set {self.name!r} has no stream rule {rule_id!r}: it has {ids}"
            raise RuleDefinitionError(msg)
        return ids.index(rule_id)

    def _with_stream_rules(self, rules: Iterable[Any]) -> RuleSet:
        return RuleSet(self.name, self.policy, self.kinds, tuple(rules))

    def with_stream_rule(
        self, rule: StreamRule, *, before: str | None = None, after: str | None = None
    ) -> RuleSet:
        """A new rule set with the stream rule ``rule``
        (:class:`~csrules.rules.StreamRule`) added before or after the
        stream rule with that id (at the end without either). Escalations
        are listed in the order of the stream rules.

        Raises:
            RuleDefinitionError: a stream rule with ``rule.id`` exists
                already, ``before``/``after`` names none, or both are given.
        """
        from csrules.rules._stream_rules import StreamRule

        if not isinstance(rule, StreamRule):
            raise ArgumentTypeError("rule", rule, "a StreamRule")
        if any(r.id == rule.id for r in self.stream_rules):
            msg = (
                f"rule set {self.name!r} has a stream rule {rule.id!r} already: "
                "give the new one another id, or use replacing_stream_rule"
            )
            raise RuleDefinitionError(msg)
        missing = f"rule set {self.name!r} has no stream rule"
        return self._with_stream_rules(_placed(self.stream_rules, rule, before, after, missing))

    def without_stream_rule(self, rule_id: str) -> RuleSet:
        """A new rule set without the stream rule ``rule_id`` (with none left,
        ``csrules decide --rules`` decides complaints one by one).

        Raises:
            RuleDefinitionError: no stream rule has that id.
        """
        index = self._stream_index(rule_id)
        return self._with_stream_rules(r for i, r in enumerate(self.stream_rules) if i != index)

    def replacing_stream_rule(self, rule_id: str, rule: StreamRule) -> RuleSet:
        """A new rule set with the stream rule ``rule_id`` replaced by ``rule``
        (in its place).

        Raises:
            RuleDefinitionError: no stream rule has the id ``rule_id``, or
                another one has ``rule.id`` already.
        """
        from csrules.rules._stream_rules import StreamRule

        if not isinstance(rule, StreamRule):
            raise ArgumentTypeError("rule", rule, "a StreamRule")
        index = self._stream_index(rule_id)
        if rule.id != rule_id and any(r.id == rule.id for r in self.stream_rules):
            msg = f"rule set {self.name!r} has a stream rule {rule.id!r} already"
            raise RuleDefinitionError(msg)
        return self._with_stream_rules(
            rule if i == index else r for i, r in enumerate(self.stream_rules)
        )

    def monitor(self, **options: Any) -> EscalationMonitor:
        """An :class:`~csrules.stream.EscalationMonitor` running this rule
        set's stream rules and policy (``options``: ``backend=``,
        ``related_limit=``, ``policy=``), as ``EscalationMonitor(ruleset=self)``."""
        from csrules.stream import EscalationMonitor

        return EscalationMonitor(ruleset=self, **options)


def _placed(
    rules: Sequence[Any], rule: Any, before: str | None, after: str | None, missing: str
) -> list[Any]:
    """``rules`` with ``rule`` inserted before or after the one with that id
    (at the end without either); ``missing`` starts the error for an
    unknown id."""
    if before is not None and after is not None:
        msg = "give before= or after=, not both"
        raise RuleDefinitionError(msg)
    ids = [r.id for r in rules]
    anchor = before if before is not None else after
    placed = list(rules)
    if anchor is None:
        placed.append(rule)
        return placed
    if anchor not in ids:
        msg = f"{missing} {anchor!r}: it has {ids}"
        raise RuleDefinitionError(msg)
    placed.insert(ids.index(anchor) + (after is not None), rule)
    return placed


def kind_and_policy(
    name: str,
    bundled: KindSpec,
    policy: Policy | None,
    ruleset: RuleSet | str | None,
    tables: Sequence[Table] | None,
    count: int,
) -> tuple[KindSpec, Policy]:
    """The kind and policy a ``decide_*`` call uses, from its arguments.

    Without ``ruleset`` and ``tables``: ``bundled`` (the kind as its module
    declares it) under ``policy`` (the bundled B2C policy for ``None``).
    Otherwise the kind ``name`` of the rule set (``"b2c"`` by default), with
    ``tables`` (``count`` of them) swapped in if given, under ``policy`` or
    the rule set's.

    Raises:
        ArgumentTypeError: ``policy`` is not a :class:`Policy`, or ``tables``
            is not a tuple of ``count`` tables.
        RuleDefinitionError: the rule set has no kind ``name``.
    """
    if ruleset is None and tables is None:
        return bundled, policy_argument(policy)
    chosen = _find_ruleset(ruleset if ruleset is not None else "b2c")
    kind = chosen.kind(name)
    if tables is not None:
        check_tables("tables", tables, count)
        kind = kind.with_tables(tables)
    return kind, chosen.policy if policy is None else policy_argument(policy)


# ---------------------------------------------------------------- bundled rule sets

_BUNDLED: dict[str, RuleSet] = {}
_BUNDLED_LOCK = threading.RLock()


def _bundled(name: str) -> RuleSet:
    found = _BUNDLED.get(name)
    if found is not None:
        return found
    with _BUNDLED_LOCK:
        found = _BUNDLED.get(name)
        if found is None:
            if name == "b2c":
                from csrules.rules.complaints import COMPLAINT_KIND, STREAM_RULES
                from csrules.rules.promotions import PRICE_ADJUSTMENT_KIND, PROMOTION_KIND
                from csrules.rules.returns import RETURN_KIND

                kinds = [RETURN_KIND, COMPLAINT_KIND, PROMOTION_KIND, PRICE_ADJUSTMENT_KIND]
                found = RuleSet("b2c", default_policy(), kinds, STREAM_RULES)
            else:
                # Taobao is B2C with the Taobao parameters, built as a shop would
                found = _bundled("b2c").with_parameters(load_policy("taobao")).with_name(name)
            _BUNDLED[name] = found
    return found


def ruleset(name: str | RuleSet = "b2c") -> RuleSet:
    """A rule set: ``"b2c"`` or ``"taobao"`` (bundled), or ``"MODULE:ATTR"``
    naming a :class:`RuleSet` importable from the current directory or
    ``sys.path``.

    Raises:
        RuleDefinitionError: the name finds no rule set.

    .. versionadded:: 0.2.0
    """
    if isinstance(name, RuleSet):
        return name
    if not isinstance(name, str):
        raise ArgumentTypeError("name", name, "a rule set name or 'MODULE:ATTR'")
    if name in ("b2c", "taobao"):
        return _bundled(name)
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        msg = f"rule set {name!r}: expected 'b2c', 'taobao' or 'MODULE:ATTR'"
        raise RuleDefinitionError(msg)
    import sys

    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # an import runs the module: any error is the module's
        msg = f"rule set {name!r}: cannot import {module_name!r} ({type(err).__name__}: {err})"
        raise RuleDefinitionError(msg) from err
    value: object = module
    for part in attr.split("."):
        value = getattr(value, part, None)
    if not isinstance(value, RuleSet):
        # never called, even when callable: naming it runs nothing
        got = "nothing" if value is None else f"a {type(value).__name__}"
        msg = f"rule set {name!r}: {attr!r} in {module_name!r} is not a RuleSet (it is {got})"
        raise RuleDefinitionError(msg)
    return value


# The function under another name, for kind_and_policy (whose argument hides it).
_find_ruleset = ruleset
