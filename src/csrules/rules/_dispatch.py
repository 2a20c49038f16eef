"""Splitting a table's rules by the value of one fact, for the compiled function.

Many rules of a table test the same fact against constants
(``request_type == "return"``, ``reason in (...)``). Once that fact's value is
known, those tests are known too: :func:`choose_dispatch` picks the fact whose
value settles the most tests, and :func:`specialise` rewrites a condition for
one of its values (or for "none of the constants"). The table then compiles
one rule chain per value and looks the chain up by the fact's value, so a
case tries only the rules that can still fire for it.

Only the boolean structure of a condition is rewritten (``&``, ``|``, ``~``
and the tests directly under them), and only tests that compare the fact with
strings, integers or enum members, whose ``==`` agrees with their hash: the
rewritten condition is true exactly when the original one is. A settled test
drops what comes before it in an ``&`` or ``|`` only when that part is
harmless to skip (see :func:`_harmless`): a parameter read, a function call,
an ordering or a set test still runs where it ran, so errors and the
estimated flag stay as they were.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping, Sequence
from typing import Final

from csrules.rules._expr import All, AnyOf, Compare, Const, Expr, Fact, In, IsNone, Not

__all__ = ["OTHER", "Dispatch", "choose_dispatch", "lookup", "specialise"]

#: The bucket of values equal to none of the constants the rules test.
OTHER: Final = object()

#: How many facts (the most tested) are tried for a split.
_CANDIDATES: Final = 3
#: The most conditions a split may write (a part per value, each with a
#: condition per rule): beyond it the table is compiled unsplit.
_MOST_COPIES: Final = 2048

_TRUE: Final = Const(True)
_FALSE: Final = Const(False)


def _plain(value: object) -> bool:
    # strings, integers (bools included) and enum members: == agrees with hash
    return type(value) in (str, int, bool) or isinstance(value, enum.Enum)


def _tested(expr: Expr) -> tuple[str, tuple[object, ...]] | None:
    """``(fact, constants)`` when ``expr`` tests one fact against constants."""
    if isinstance(expr, Compare) and expr.op in ("==", "!="):
        left, right = expr.left, expr.right
        if isinstance(left, Const) and isinstance(right, Fact):
            left, right = right, left
        if isinstance(left, Fact) and isinstance(right, Const) and _plain(right.value):
            return left.name, (right.value,)
    elif (
        isinstance(expr, In)
        and isinstance(expr.item, Fact)
        and expr.values
        and all(_plain(v) for v in expr.values)
    ):
        return expr.item.name, expr.values
    return None


def _boolean_parts(expr: Expr) -> Sequence[Expr]:
    if isinstance(expr, All | AnyOf):
        return expr.items
    if isinstance(expr, Not):
        return (expr.item,)
    return ()


def _tests(expr: Expr) -> list[tuple[str, tuple[object, ...]]]:
    found = _tested(expr)
    if found is not None:
        return [found]
    return [t for part in _boolean_parts(expr) for t in _tests(part)]


def specialise(expr: Expr, name: str, value: object) -> Expr:
    """``expr`` with the tests of fact ``name`` decided for ``value``.

    ``value`` is one of the constants the rules test ``name`` against, or
    :data:`OTHER` for a value equal to none of them. The result is
    ``Const(True)`` or ``Const(False)`` when the condition no longer depends
    on anything else.
    """
    found = _tested(expr)
    if found is not None and found[0] == name:
        if isinstance(expr, Compare):
            equal = value is not OTHER and value == found[1][0]
            return _TRUE if equal == (expr.op == "==") else _FALSE
        assert isinstance(expr, In)
        inside = value is not OTHER and value in found[1]
        return _TRUE if inside != expr.negate else _FALSE
    if isinstance(expr, Not):
        item = specialise(expr.item, name, value)
        if isinstance(item, Const) and type(item.value) is bool:
            return _FALSE if item.value else _TRUE
        return expr if item is expr.item else Not(item)
    if isinstance(expr, All | AnyOf):
        stop, skip = (False, True) if isinstance(expr, All) else (True, False)
        items: list[Expr] = []
        for part in expr.items:
            done = specialise(part, name, value)
            if isinstance(done, Const) and type(done.value) is bool:
                if done.value is stop:
                    if all(_harmless(i) for i in items):
                        return _TRUE if stop else _FALSE
                    # what comes before still runs, as it did: it may raise,
                    # or note an estimated year
                    items.append(done)
                    break
                if done.value is skip:
                    continue
            items.append(done)
        if not items:
            return _TRUE if skip else _FALSE
        if len(items) == 1:
            return items[0]
        return type(expr)(tuple(items))
    return expr


def _harmless(expr: Expr) -> bool:
    """Whether evaluating ``expr`` can neither raise nor have an effect: facts,
    constants, ``==``, ``!=``, ``is None`` and logic over them. A parameter
    (which may not be in force yet), a call (which may note an estimated
    year), an ordering (``None < date`` raises) or a set test (which hashes
    its value) is not: a test settled after one must not skip it."""
    if isinstance(expr, Const | Fact):
        return True
    if isinstance(expr, IsNone | Not):
        return _harmless(expr.item)
    if isinstance(expr, Compare):
        return expr.op in ("==", "!=") and _harmless(expr.left) and _harmless(expr.right)
    if isinstance(expr, All | AnyOf):
        return all(_harmless(i) for i in expr.items)
    return False


def _atoms(expr: Expr) -> int:
    parts = _boolean_parts(expr)
    if not parts:
        return 0 if isinstance(expr, Const) else 1
    return sum(_atoms(p) for p in parts)


def _cost(conditions: Sequence[Expr], stop_at_true: bool) -> int:
    total = 0
    for condition in conditions:
        total += _atoms(condition)
        if stop_at_true and isinstance(condition, Const) and condition.value is True:
            break
    return total


def lookup(index: Mapping[object, int], other: int) -> tuple[dict[object, int], bool]:
    """``(table, complete)``: ``index`` (a number by value), and when every
    value is a member of one enum, every other member of it mapped to
    ``other`` too (``complete``: a lookup of a member never misses, so a
    miss, which costs an exception, is rare)."""
    table = dict(index)
    kinds = {type(v) for v in table}
    if len(kinds) == 1:
        (kind,) = kinds
        if issubclass(kind, enum.Enum):
            for member in kind:
                table.setdefault(member, other)
            return table, True
    return table, False


class Dispatch:
    """The fact a table's rules are split by, and each value's conditions.

    Attributes:
        fact: the fact name.
        buckets: per constant tested (and :data:`OTHER`), the conditions of
            the rules, specialised (``Const(False)`` for a rule that cannot
            fire), in table order.
    """

    __slots__ = ("buckets", "fact")

    def __init__(self, fact: str, buckets: dict[object, list[Expr]]) -> None:
        self.fact = fact
        self.buckets = buckets


def choose_dispatch(conditions: Sequence[Expr], *, first: bool) -> Dispatch | None:
    """The fact whose value settles the most tests, if splitting pays.

    ``first``: the table stops at the first rule that fires (rules after an
    always-true one are never tried). The fact chosen leaves the fewest
    tests for its worst value (then on average over its values); splitting
    pays when that worst value leaves at most two thirds of the tests of the
    whole table, and the table has at least four tests.
    """
    whole = _cost(conditions, first)
    if whole < 4:
        return None
    constants: dict[str, list[object]] = {}
    tests: dict[str, int] = {}
    for condition in conditions:
        for name, values in _tests(condition):
            known = constants.setdefault(name, [])
            tests[name] = tests.get(name, 0) + 1
            for v in values:
                if isinstance(v, Hashable) and v not in known:
                    known.append(v)
    best: Dispatch | None = None
    best_cost = (whole * 2 / 3, float(whole))
    # the facts tested most are the ones worth trying
    candidates = sorted(constants, key=lambda name: -tests[name])[:_CANDIDATES]
    for name in candidates:
        found = constants[name]
        if (len(found) + 1) * len(conditions) > _MOST_COPIES:
            continue  # a part per value, each with every rule: too much code
        buckets = {v: [specialise(c, name, v) for c in conditions] for v in (*found, OTHER)}
        costs = [_cost(b, first) for b in buckets.values()]
        cost = (float(max(costs)), sum(costs) / len(costs))
        if cost <= best_cost:
            best, best_cost = Dispatch(name, buckets), cost
    return best
