"""Reading and writing cases as JSON (the case contract).

- :func:`case_from_json` / :func:`case_to_json`: a case from / to its JSON object.
- :func:`parse_case_line`: a case from one line of JSON text.
- :func:`read_case` / :func:`read_case_line`: the same, with the case's ``meta``
  and ``facts``.
- :func:`case_schema`: the JSON Schema of a case (``csrules schema``).
- :func:`encode_value`: ``Decimal``, times, dates, enums and tuples as plain JSON data.
- :func:`decide_arrow` / :func:`decide_frame` / :func:`decision_schema`: a
  table of cases (pyarrow, polars, pandas) decided row by row, as columns
  (``docs/frames.md``; needs pyarrow: ``pip install 'csrules[frames]'``).
"""

from __future__ import annotations

from csrules.io._frames import decide_arrow, decide_frame, decision_schema
from csrules.io._json import (
    CaseInput,
    FactType,
    JSONValue,
    case_from_json,
    case_to_json,
    encode_value,
    parse_case_line,
    read_case,
    read_case_line,
)
from csrules.io._schema import case_schema

__all__ = [
    "CaseInput",
    "FactType",
    "JSONValue",
    "case_from_json",
    "case_schema",
    "case_to_json",
    "decide_arrow",
    "decide_frame",
    "decision_schema",
    "encode_value",
    "parse_case_line",
    "read_case",
    "read_case_line",
]
