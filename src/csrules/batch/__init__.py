"""Batches: decision tables over numpy columns, for many cases at once.

A single decision runs a table's compiled Python function on one fact
record. For an analyst's batch of thousands or millions of cases,
:func:`compile_table` turns the same table into array operations over fact
columns (one 1-D numpy array per fact), and :func:`facts_frame` builds those
columns from fact records. The answers are the single path's, row by row:
same fired rule, same outcomes. See ``docs/batch.md`` for the encodings.
"""

from csrules.batch._encode import NULL_CODE, NULL_INT, enum_code, facts_frame, with_kind
from csrules.batch._legacy import (
    RETURN_FACT_KINDS,
    ReturnsBatch,
    decide_returns_batch,
    decide_returns_columns,
)
from csrules.batch._ruleset import KindBatch, column_kinds, decide_kind_columns, input_records
from csrules.batch._vector import VECTORISED_FUNCTIONS, BatchResult, VectorTable, compile_table

__all__ = [
    "NULL_CODE",
    "NULL_INT",
    "RETURN_FACT_KINDS",
    "VECTORISED_FUNCTIONS",
    "BatchResult",
    "KindBatch",
    "ReturnsBatch",
    "VectorTable",
    "column_kinds",
    "compile_table",
    "decide_kind_columns",
    "decide_returns_batch",
    "decide_returns_columns",
    "enum_code",
    "facts_frame",
    "input_records",
    "with_kind",
]
