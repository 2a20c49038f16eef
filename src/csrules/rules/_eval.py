"""The evaluating backend of rule expressions: the value of a tree for one fact record.

:class:`Evaluator` walks an expression and returns its value, with the same
Python semantics as the code :class:`~csrules.rules._pysource.SourceCompiler`
generates (``and``/``or`` short-circuit and return an operand, membership
tests a ``frozenset`` of the constants, calendar functions get the policy's
calendar first). Compiled tables stay the fast path; this backend is for
explaining a decision (:mod:`csrules._explain`), where each part of a
condition is needed on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csrules.exceptions import RuleDefinitionError
from csrules.rules._expr import (
    OPERATORS,
    All,
    AnyOf,
    Arith,
    Call,
    Compare,
    Const,
    ExprVisitor,
    Fact,
    In,
    IsNone,
    Not,
    Param,
)
from csrules.rules._functions import FUNCTIONS

__all__ = ["Evaluator"]



class Evaluator(ExprVisitor[Any]):
    """The value of expressions over one fact record.

    Args:
        facts: the fact record (fact name to value).
        params: the parameter values in force (a missing one raises what the
            mapping raises: :class:`~csrules.exceptions.PolicyError` for a
            parameter not yet in force).
        calendar: the policy's :class:`~csrules.WorkCalendar`, for the
            calendar functions.
    """

    __slots__ = ("calendar", "facts", "params")

    def __init__(self, facts: Mapping[str, Any], params: Mapping[str, Any], calendar: Any) -> None:
        self.facts = facts
        self.params = params
        self.calendar = calendar

    def fact(self, expr: Fact) -> Any:
        try:
            return self.facts[expr.name]
        except KeyError:
            msg = f"the fact record has no fact {expr.name!r}"
            raise RuleDefinitionError(msg) from None

    def param(self, expr: Param) -> Any:
        return self.params[expr.name]

    def const(self, expr: Const) -> Any:
        return expr.value

    def compare(self, expr: Compare) -> Any:
        left, right = self.visit(expr.left), self.visit(expr.right)
        if (left is None or right is None) and expr.op not in ("==", "!="):
            return False  # an ordering with a missing value is false
        return OPERATORS[expr.op](left, right)

    def arith(self, expr: Arith) -> Any:
        return OPERATORS[expr.op](self.visit(expr.left), self.visit(expr.right))

    def all(self, expr: All) -> Any:
        value: Any = ()  # the generated source of an empty "and" is "()"
        for item in expr.items:
            value = self.visit(item)
            if not value:
                return value
        return value

    def any(self, expr: AnyOf) -> Any:
        value: Any = ()
        for item in expr.items:
            value = self.visit(item)
            if value:
                return value
        return value

    def not_(self, expr: Not) -> Any:
        return not self.visit(expr.item)

    def isin(self, expr: In) -> Any:
        found = self.visit(expr.item) in frozenset(expr.values)
        return not found if expr.negate else found

    def is_none(self, expr: IsNone) -> Any:
        missing = self.visit(expr.item) is None
        return not missing if expr.negate else missing

    def call(self, expr: Call) -> Any:
        function = FUNCTIONS[expr.function]
        args = [self.visit(a) for a in expr.args]
        if function.calendar:
            args.insert(0, self.calendar)
        return function.scalar(*args)
