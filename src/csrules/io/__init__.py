"""Reading and writing cases as JSON (the case contract).

- :func:`case_from_json` / :func:`case_to_json`: a case from / to its JSON object.
- :func:`parse_case_line`: a case from one line of JSON text.
- :func:`encode_value`: ``Decimal``, times, dates, enums and tuples as plain JSON data.
"""

from __future__ import annotations

from csrules.io._json import JSONValue, case_from_json, case_to_json, encode_value, parse_case_line

__all__ = ["JSONValue", "case_from_json", "case_to_json", "encode_value", "parse_case_line"]
