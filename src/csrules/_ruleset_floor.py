"""The LAW-25 legal floor of a rule set, checked when it is built.

:class:`~csrules.policy.Policy` refuses parameter values below the floor
(``csrules.policy._floor``). A rule set can fall below it through its rules
and facts too; :func:`check_ruleset_floor` finds three ways, in every kind
with an ``eligible`` outcome (returns):

* LAW-25.2: a rule that refuses (sets ``eligible`` to false) for a category
  the law does not list. The categories are the texts the rule's condition
  compares the line categories with (a fact read from ``...category``, or
  derived from one: ``excluded_category`` reads
  ``all_in(categories, {...})``), derived facts read through.
* LAW-25.1: a rule that refuses when the request comes after
  ``add_days(signed_date, N)`` with ``N`` under 7 days (a number, or a
  parameter with a value under 7 on some date).
* LAW-25.5: the table setting ``refund_due`` must keep a LAW-25.5 rule whose
  refund date is the law's clock, ``add_days(goods_received_date,
  [law_refund_days])``, or the earlier of it and another date; dropping that
  row, or replacing its date by a later clock, leaves refunds to the shop's
  own clock.

A rule set whose policy has ``legal_floor = false`` is not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from csrules.exceptions import RuleDefinitionError
from csrules.policy._floor import (
    LAW_EXCLUDED_CATEGORIES,
    LEGAL_FLOOR,
    Finding,
    check_legal_floor,
)
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

if TYPE_CHECKING:
    from csrules._ruleset import KindSpec, RuleSet
    from csrules.rules._table import Rule, Table

__all__ = ["check_ruleset_floor", "enforce_ruleset_floor"]

_WINDOW_DAYS = next(b for b in LEGAL_FLOOR if b.parameter == "no_reason_return_days")
_LAW_CLOCK = "add_days(goods_received_date, [law_refund_days])"


def _children(expr: Expr) -> Iterable[Expr]:
    if isinstance(expr, All | AnyOf):
        return expr.items
    if isinstance(expr, Not):
        return (expr.item,)
    if isinstance(expr, In | IsNone):
        return (expr.item,)
    if isinstance(expr, Compare | Arith):
        return (expr.left, expr.right)
    if isinstance(expr, Call):
        return expr.args
    return ()


def _walk(
    expr: Expr, derived: Mapping[str, Expr], seen: frozenset[str] = frozenset()
) -> Iterator[Expr]:
    """Every node of ``expr``, derived facts read through (each once per path)."""
    yield expr
    if isinstance(expr, Fact) and expr.name in derived and expr.name not in seen:
        yield from _walk(derived[expr.name], derived, seen | {expr.name})
        return
    for child in _children(expr):
        yield from _walk(child, derived, seen)


def _texts(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, frozenset | set | tuple | list):
        return {v for v in value if isinstance(v, str)}
    return set()


def _category_facts(kind: KindSpec) -> frozenset[str]:
    """The facts of line categories, and those derived from them."""
    found = {f.name for f in kind.facts if f.source is not None and f.source.endswith("category")}
    changed = True
    while changed:
        changed = False
        for spec in kind.facts:
            if spec.name not in found and spec.reads() & found:
                found.add(spec.name)
                changed = True
    return frozenset(found)


def _refuses(table: Table, rule: Rule) -> bool:
    given = rule.then.get("eligible")
    if given is None and "eligible" in table.defaults:
        given = lift(table.defaults["eligible"])
    return isinstance(given, Const) and given.value is False


def _excluded(categories: frozenset[str], derived: Mapping[str, Expr], rule: Rule) -> set[str]:
    """The categories a refusing rule's condition names (``categories``: the
    facts of line categories)."""
    found: set[str] = set()
    for node in _walk(rule.when, derived):
        if isinstance(node, Call | In | Compare) and node.facts() & categories:
            parts: Iterable[Expr] = _children(node)
            for part in parts:
                if isinstance(part, Const):
                    found |= _texts(part.value)
            if isinstance(node, In):
                found |= _texts(node.values)
    return found


def _short_windows(ruleset: RuleSet, derived: Mapping[str, Expr], rule: Rule) -> list[str]:
    """``add_days(signed_date, N)`` in a refusing rule with N under the law's 7 days."""
    minimum = _WINDOW_DAYS.minimum
    assert minimum is not None
    found: list[str] = []
    for node in _walk(rule.when, derived):
        if not (isinstance(node, Call) and node.function == "add_days" and len(node.args) == 2):
            continue
        start, days = node.args
        if not (isinstance(start, Fact) and start.name == "signed_date"):
            continue
        if isinstance(days, Const) and isinstance(days.value, int) and days.value < minimum:
            found.append(f"{days.value} days")
        elif isinstance(days, Param) and days.name != _WINDOW_DAYS.parameter:
            parameter = ruleset.policy.parameters.get(days.name)
            values = [] if parameter is None else [v for _, v in parameter.values]
            short = [v for v in values if isinstance(v, int) and v < minimum]
            if short:
                found.append(f"[{days.name}] = {min(short)} days")
    return found


def _refund_clock(kind: KindSpec) -> str | None:
    """What is wrong with the kind's LAW-25.5 refund rule, or ``None``."""
    tables = [t for t in kind.tables if "refund_due" in t.outputs]
    if not tables:
        return None
    table = tables[0]
    rows = [r for r in table.rules if r.clause.startswith("LAW-25.5")]
    if not rows:
        return (
            f"table {table.name!r} has no LAW-25.5 rule, so a no-reason return is refunded "
            f"on the shop's clock rather than by {_LAW_CLOCK}"
        )
    for rule in rows:
        due = rule.then.get("refund_due")
        if due is None:
            continue
        bounded = due.render() == _LAW_CLOCK or (
            isinstance(due, Call)
            and due.function == "earlier"
            and any(a.render() == _LAW_CLOCK for a in due.args)
        )
        if not bounded:
            return (
                f"table {table.name!r}, rule {rule.id!r}: refunds by {due.render()}, which may "
                f"be later than the law's {_LAW_CLOCK}"
            )
    return None


def check_ruleset_floor(ruleset: RuleSet) -> list[str]:
    """Every way ``ruleset``'s rules fall below LAW-25, in words; empty when none.

    Does not look at ``legal_floor`` (:func:`enforce_ruleset_floor` does) nor
    at parameter values (the policy checks those when it is built).
    """
    problems: list[str] = []
    for kind in ruleset.kinds.values():
        if not any("eligible" in t.outputs for t in kind.tables):
            continue
        derived = {f.name: f.derive for f in kind.facts if f.derive is not None}
        categories = _category_facts(kind)
        excluded: set[str] = set()
        for table in kind.tables:
            for rule in table.rules:
                if not _refuses(table, rule):
                    continue
                extra = _excluded(categories, derived, rule) - LAW_EXCLUDED_CATEGORIES
                if extra:
                    excluded |= extra
                    problems.append(
                        f"table {table.name!r}, rule {rule.id!r} refuses returns of "
                        f"{sorted(extra)}: {_category_message(ruleset, extra)}"
                    )
                for window in _short_windows(ruleset, derived, rule):
                    problems.append(
                        f"{_WINDOW_DAYS.clause}: table {table.name!r}, rule {rule.id!r} refuses "
                        f"returns after a window of {window} from signing: the law requires "
                        f"{_WINDOW_DAYS.bound} ({_WINDOW_DAYS.meaning})"
                    )
        clock = _refund_clock(kind)
        if clock is not None:
            problems.append(
                f"LAW-25.5: {clock}; the law requires a no-reason return refunded within "
                "law_refund_days (7 calendar days) of receiving the goods"
            )
    return problems


def _category_message(ruleset: RuleSet, extra: set[str]) -> str:
    findings: tuple[Finding, ...] = check_legal_floor(
        ruleset.policy, excluded_categories=frozenset(extra) | LAW_EXCLUDED_CATEGORIES
    )
    return "; ".join(f.message(key=False) for f in findings if f.clause == "LAW-25.2")


def enforce_ruleset_floor(ruleset: RuleSet) -> None:
    """Refuse ``ruleset`` when its rules fall below LAW-25 and its policy keeps
    the floor on.

    Raises:
        RuleDefinitionError: naming the LAW-25 clause, the table and the rule.
    """
    if not ruleset.policy.legal_floor:
        return
    problems = check_ruleset_floor(ruleset)
    if problems:
        msg = (
            f"rule set {ruleset.name!r} is below the legal floor: {'; '.join(problems)}; "
            "change the rule, or switch the floor off with legal_floor = false in the "
            "policy's [policy] table"
        )
        raise RuleDefinitionError(msg)
