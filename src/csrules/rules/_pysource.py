"""The single-case backend of rule expressions: Python source for one function per table.

:class:`SourceCompiler` turns an expression into a Python expression over
``f`` (the fact mapping, read once per fact into locals ``_f0``, ``_f1``, ...),
``p`` (the parameter mapping) and ``cal`` (the calendar). Constants that are
not plain literals, and the functions of the registry, are bound as names
(``_k0``, ``_k1``, ...) in the namespace the generated source runs in.
"""

from __future__ import annotations

from csrules.rules._expr import (
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
from csrules.rules._functions import FUNCTIONS, PLAIN_NAME

__all__ = ["SourceCompiler"]


class SourceCompiler(ExprVisitor[str]):
    """Python source of expressions, sharing one namespace.

    Attributes:
        values: the names bound for the generated source, by name.
        facts: the local variable of each fact read, by fact name.
    """

    __slots__ = ("_names", "_walrus", "facts", "values")

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.facts: dict[str, str] = {}
        self._walrus = 0  # temporaries of orderings
        # the name of each value bound here, by the value's id (the values
        # dict keeps the values alive, so their ids stay theirs)
        self._names: dict[int, str] = {}

    def bind(self, value: object) -> str:
        """The name under which ``value`` is visible to the generated source."""
        name = self._names.get(id(value))
        if name is not None and self.values.get(name) is value:
            return name
        for name, existing in self.values.items():
            if existing is value:
                self._names[id(value)] = name
                return name
        name = f"_k{len(self.values)}"
        self.values[name] = value
        self._names[id(value)] = name
        return name

    def fact(self, expr: Fact) -> str:
        local = self.facts.get(expr.name)
        if local is None:
            local = self.facts[expr.name] = f"_f{len(self.facts)}"
        return local

    def param(self, expr: Param) -> str:
        return f"p[{expr.name!r}]"

    def const(self, expr: Const) -> str:
        # plain None, bools and ints are written as such (an IntEnum member's
        # repr is not Python source: it is bound like any other value)
        if expr.value is None or type(expr.value) in (bool, int):
            return repr(expr.value)
        return self.bind(expr.value)

    def compare(self, expr: Compare) -> str:
        left, right = self.visit(expr.left), self.visit(expr.right)
        if expr.op in ("==", "!="):
            return f"({left} {expr.op} {right})"
        # an ordering with a missing value (None) is false, as a null is on
        # the batch path; each side is computed once
        checks: list[str] = []
        operands: list[str] = []
        for node, source in ((expr.left, left), (expr.right, right)):
            if isinstance(node, Const):
                if node.value is None:
                    return "False"
                operands.append(source)
                continue
            if not PLAIN_NAME.match(source):
                local = f"_w{self._walrus}"
                self._walrus += 1
                checks.append(f"({local} := {source}) is not None")
                source = local
            else:
                checks.append(f"{source} is not None")
            operands.append(source)
        test = f"{operands[0]} {expr.op} {operands[1]}"
        return f"({' and '.join([*checks, test])})"

    def arith(self, expr: Arith) -> str:
        return f"({self.visit(expr.left)} {expr.op} {self.visit(expr.right)})"

    def all(self, expr: All) -> str:
        return "(" + " and ".join(self.visit(i) for i in expr.items) + ")"

    def any(self, expr: AnyOf) -> str:
        return "(" + " or ".join(self.visit(i) for i in expr.items) + ")"

    def not_(self, expr: Not) -> str:
        item = expr.item
        # the negated test itself, one operation instead of two
        if isinstance(item, In):
            return self.isin(In(item.item, item.values, negate=not item.negate))
        if isinstance(item, IsNone):
            return self.is_none(IsNone(item.item, negate=not item.negate))
        if isinstance(item, Compare) and item.op in ("==", "!="):
            op = "!=" if item.op == "==" else "=="
            return f"({self.visit(item.left)} {op} {self.visit(item.right)})"
        return f"(not {self.visit(item)})"

    def isin(self, expr: In) -> str:
        op = "not in" if expr.negate else "in"
        return f"({self.visit(expr.item)} {op} {self.bind(frozenset(expr.values))})"

    def is_none(self, expr: IsNone) -> str:
        op = "is not" if expr.negate else "is"
        return f"({self.visit(expr.item)} {op} None)"

    def call(self, expr: Call) -> str:
        function = FUNCTIONS[expr.function]
        args = [self.visit(a) for a in expr.args]
        if function.inline is not None:
            inlined = function.inline(args, self.bind)
            if inlined is not None:
                return inlined
        if function.calendar:
            args.insert(0, "cal")
        return f"{self.bind(function.scalar)}({', '.join(args)})"
