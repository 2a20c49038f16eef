"""The text backend of rule expressions: the form printed in decision tables and docs."""

from __future__ import annotations

import enum
from typing import Final

from csrules.rules._expr import (
    All,
    AnyOf,
    Arith,
    Call,
    Compare,
    Const,
    Expr,
    ExprVisitor,
    Fact,
    In,
    IsNone,
    Not,
    Param,
)

__all__ = ["render"]

_SHOWN: Final = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def show(value: object) -> str:
    """A constant as text: enum values, ``true``/``false``, ``none``."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(show(v) for v in value) + ")"
    if isinstance(value, frozenset | set):  # sorted: the same text in every run
        return "{" + ", ".join(sorted(show(v) for v in value)) + "}"
    return str(value)


def precedence(expr: Expr) -> int:
    """How tightly a node binds when printed (higher: tighter)."""
    kind = type(expr)
    if kind is Compare or kind is In or kind is IsNone:
        return 50
    if kind is Arith:
        return 70 if expr.op == "*" else 60  # type: ignore[attr-defined]
    if kind is Not:
        return 40
    if kind is All:
        return 30
    if kind is AnyOf:
        return 20
    return 100


class Renderer(ExprVisitor[str]):
    """Renders an expression as text."""

    __slots__ = ()

    def unknown(self, expr: Expr) -> str:
        return type(expr).__name__

    def _wrap(self, parent: Expr, child: Expr) -> str:
        text = self.visit(child)
        return f"({text})" if precedence(child) < precedence(parent) else text

    def fact(self, expr: Fact) -> str:
        return expr.name

    def param(self, expr: Param) -> str:
        return f"[{expr.name}]"

    def const(self, expr: Const) -> str:
        return show(expr.value)

    def compare(self, expr: Compare) -> str:
        return f"{self._wrap(expr, expr.left)} {_SHOWN[expr.op]} {self._wrap(expr, expr.right)}"

    def arith(self, expr: Arith) -> str:
        right = self.visit(expr.right)
        if precedence(expr.right) <= precedence(expr):  # a - (b - c), a * (b + c)
            right = f"({right})"
        return f"{self._wrap(expr, expr.left)} {expr.op} {right}"

    def all(self, expr: All) -> str:
        return " and ".join(self._wrap(expr, i) for i in expr.items)

    def any(self, expr: AnyOf) -> str:
        return " or ".join(self._wrap(expr, i) for i in expr.items)

    def not_(self, expr: Not) -> str:
        item = expr.item
        if isinstance(item, In):  # "not (a not in S)" reads "a in S"
            return self.isin(In(item.item, item.values, negate=not item.negate))
        if isinstance(item, IsNone):
            return self.is_none(IsNone(item.item, negate=not item.negate))
        return f"not {self._wrap(expr, item)}"

    def isin(self, expr: In) -> str:
        op = "not in" if expr.negate else "in"
        shown = ", ".join(sorted(show(v) for v in expr.values))
        return f"{self._wrap(expr, expr.item)} {op} {{{shown}}}"

    def is_none(self, expr: IsNone) -> str:
        return f"{self._wrap(expr, expr.item)} {'is set' if expr.negate else 'is none'}"

    def call(self, expr: Call) -> str:
        return f"{expr.function}({', '.join(self.visit(a) for a in expr.args)})"


_RENDERER: Final = Renderer()


def render(expr: Expr) -> str:
    """``expr`` as text, as printed in decision tables."""
    return _RENDERER.visit(expr)
