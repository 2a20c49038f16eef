"""The case contract as a JSON Schema and as a field reference.

Both are generated from the codec's field tables (:data:`csrules.io._json.KIND_SPECS`),
the tables the decoder itself reads, so the three never disagree on a key, a
type or whether it is required. ``csrules schema [KIND]`` prints the schema;
the field tables of ``docs/contract.md`` are :func:`fields_markdown`.

Where the schema is looser than the decoder (checks JSON Schema cannot
express, or that need several fields at once):

- a time is checked for its shape (a date, ``T``, an offset) and not parsed:
  the decoder also refuses impossible dates and times out of range;
- a number with a zero fraction (``1.0``) is an integer to JSON Schema but a
  JSON float, refused, to the decoder;
- checks across fields or on a value's size are the decoder's only: order
  times in sequence and set for the status, ``promotion.ends_at`` after
  ``starts_at``, ``promotion.price_factor`` in (0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from csrules.io._json import (
    KIND_SPECS,
    ArraySpec,
    FactType,
    Field,
    ObjectSpec,
    ValueType,
    facts_spec,
)

__all__ = ["KINDS", "SCHEMA_DIALECT", "case_schema", "fields_markdown"]

#: The JSON Schema dialect of :func:`case_schema`.
SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
#: The case kinds, in documentation order.
KINDS: Final = tuple(KIND_SPECS)

_TITLES: Final[Mapping[str, str]] = {
    "return": "Return, exchange, cancellation, refund or redirect",
    "complaint": "Complaint",
    "promotion": "Promotion",
    "price_adjustment": "Price adjustment before a promotion",
}


def _describe(field: Field) -> str:
    return f"{field.meaning} ({field.clause})" if field.clause else field.meaning


def _value_schema(kind: ValueType | ObjectSpec | ArraySpec) -> dict[str, Any]:
    if isinstance(kind, ValueType):
        return dict(kind.schema)
    if isinstance(kind, ObjectSpec):
        return _object_schema(kind)
    return {"type": "array", "minItems": 1, "items": _object_schema(kind.item)}


def _field_schema(field: Field) -> dict[str, Any]:
    schema = _value_schema(field.type)
    if field.nullable:
        if "enum" in schema:
            schema = {**schema, "enum": [*schema["enum"], None]}
        elif isinstance(schema.get("type"), str) and "anyOf" not in schema:
            schema = {**schema, "type": [schema["type"], "null"]}
        else:
            schema = {"anyOf": [schema, {"type": "null"}]}
    return {"description": _describe(field), **schema}


def _object_schema(spec: ObjectSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {f.key: _field_schema(f) for f in spec.fields},
    }
    required = [f.key for f in spec.fields if f.required]
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _kind_schema(kind: str, facts: Mapping[str, FactType] | None) -> dict[str, Any]:
    spec = KIND_SPECS[kind]
    fields = tuple(
        Field(f.key, facts_spec(facts), f.required, f.meaning, f.clause, f.nullable)
        if f.key == "facts"
        else f
        for f in spec.fields
    )
    return {"title": f"{_TITLES[kind]} (`{kind}`)", **_object_schema(ObjectSpec(fields))}


def case_schema(
    kind: str | None = None, *, facts: Mapping[str, FactType] | None = None
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a case of ``kind``, or of any case.

    Args:
        kind: ``"return"``, ``"complaint"``, ``"promotion"`` or
            ``"price_adjustment"``; ``None`` for any kind (a ``oneOf``).
        facts: the extra facts a rule set declares (name -> type), allowed
            under ``facts``.

    Raises:
        KeyError: ``kind`` is not a case kind.
    """
    if kind is not None:
        if kind not in KIND_SPECS:
            raise KeyError(kind)
        return {"$schema": SCHEMA_DIALECT, **_kind_schema(kind, facts)}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "A csrules case",
        "description": "One JSON case of the case contract (docs/contract.md).",
        "oneOf": [_kind_schema(k, facts) for k in KINDS],
    }


# ------------------------------------------------------------------ field reference


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type_cell(field: Field) -> str:
    kind = field.type
    if isinstance(kind, ObjectSpec):
        text = "object"
    elif isinstance(kind, ArraySpec):
        text = "array of objects"
    else:
        text = kind.label
    return text + " or null" if field.nullable else text


def _allowed_cell(field: Field) -> str:
    kind = field.type
    if isinstance(kind, ArraySpec):
        return "at least one"
    if isinstance(kind, ObjectSpec):
        return "-"
    if kind.values:
        return " | ".join(f"`{v}`" for v in kind.values)
    return kind.note or "-"


def _rows(spec: ObjectSpec, prefix: str) -> list[str]:
    rows: list[str] = []
    for field in spec.fields:
        path = f"{prefix}.{field.key}" if prefix else field.key
        rows.append(
            f"| `{path}` | {_type_cell(field)} | {'yes' if field.required else 'no'} "
            f"| {_escape(_allowed_cell(field))} | {_escape(field.meaning)} "
            f"| {field.clause or '-'} |"
        )
        if isinstance(field.type, ObjectSpec) and field.type.fields:
            rows.extend(_rows(field.type, path))
        elif isinstance(field.type, ArraySpec):
            rows.extend(_rows(field.type.item, path + "[]"))
    return rows


def fields_markdown() -> str:
    """The field reference of every kind, as Markdown (a table per kind).

    ``required`` is relative to the enclosing object: ``request.condition.unwashed``
    is required when ``request.condition`` is given.
    """
    parts: list[str] = []
    for kind in KINDS:
        parts.extend(
            [
                f"### `{kind}`: {_TITLES[kind].lower()}",
                "",
                "| JSON path | type | required | allowed values | meaning | clause |",
                "|---|---|---|---|---|---|",
                *_rows(KIND_SPECS[kind], ""),
                "",
            ]
        )
    return "\n".join(parts)
