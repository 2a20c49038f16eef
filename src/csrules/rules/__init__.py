"""Rule tables: expressions, tables with hit policies, and the shipped rule sets."""

from csrules.rules._expr import TRUE, Expr, call, const, fact, param
from csrules.rules._stream_rules import StreamCount, StreamRule
from csrules.rules._table import FiredRule, HitPolicy, Rule, Table, TableResult

__all__ = [
    "TRUE",
    "Expr",
    "FiredRule",
    "HitPolicy",
    "Rule",
    "StreamCount",
    "StreamRule",
    "Table",
    "TableResult",
    "call",
    "const",
    "fact",
    "param",
]
