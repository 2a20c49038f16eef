"""Deciding a table of cases: Arrow tables, polars and pandas data frames.

One row per case, one column per contract field named by its JSON path with
dots (``order.signed_at``, ``request.condition.tag_intact``); out comes one
row per case, in input order, with the decision's fields as columns
(``decision.action``, ...) and ``error.code`` / ``error.message`` on the rows
that could not be decided. See ``docs/frames.md``.

Every row is decided as ``csrules decide`` decides its JSON line: the row is
written as that line and given to :func:`csrules.cli.decide_line`, so a bad
row gets the error code the command gives, from the same codec. Returns
also have a vectorised path (:mod:`csrules.io._frames_fast`) for the rows
that pass its checks; every other row takes the line path.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import types
import typing
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from csrules.exceptions import ArgumentTypeError, DomainValueError
from csrules.io._frames_text import TYPED_LABELS, json_value

if TYPE_CHECKING:
    import pyarrow as pa

    from csrules._ruleset import RuleSet
    from csrules.policy import Policy

__all__ = ["decide_arrow", "decide_frame", "decision_schema"]

#: The zone output times are written in (the contract writes +08:00).
ZONE: Final = "Asia/Shanghai"
_KIND_ORDER: Final = ("return", "complaint", "promotion", "price_adjustment")
_FLAT_LINE: Final = re.compile(r"^order\.lines\.(\d+)\.([A-Za-z_][A-Za-z0-9_]*)$")


def _pa() -> Any:
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - pyarrow is in the frames extra
        raise ArgumentTypeError(
            "data", "pyarrow", "pyarrow installed: pip install 'csrules[frames]'"
        ) from None
    return pyarrow


# ------------------------------------------------------------------ the output schema


def _arrow_type(pa: Any, annotation: object) -> Any:
    """The Arrow type of a decision field's Python type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _arrow_type(pa, args[0])
        return pa.string()
    if origin is tuple:
        return pa.list_(pa.string())
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return pa.bool_()
        if issubclass(annotation, int):
            return pa.int64()
        if issubclass(annotation, dt.datetime):
            return pa.timestamp("us", tz=ZONE)
        if issubclass(annotation, dt.date):
            return pa.date32()
    return pa.string()


_OUTCOME_TYPES: dict[str, tuple[tuple[str, object], ...]] = {}


def _outcome_types(kind: str) -> tuple[tuple[str, object], ...]:
    """``(field, annotation)`` of each outcome of a kind's decision, in contract order."""
    found = _OUTCOME_TYPES.get(kind)
    if found is None:
        from csrules.io._decisions import KIND_OF

        classes = {name: cls for cls, name in KIND_OF.items()}
        cls = classes.get(kind)
        if cls is None:
            raise DomainValueError("kind", kind, f"one of {list(classes)}")
        hints = typing.get_type_hints(cls)
        found = tuple(
            (f.name, hints[f.name]) for f in attrs.fields(cls) if f.name not in ("case_id", "trace")
        )
        _OUTCOME_TYPES[kind] = found
    return found


def _kinds_of(ruleset: RuleSet, kind: str | None) -> tuple[str, ...]:
    if kind is not None:
        if not isinstance(kind, str):
            raise ArgumentTypeError("kind", kind, "a kind name (str) or None")
        ruleset.kind(kind)  # raises for a kind the rule set does not have
        return (kind,)
    present = [k for k in _KIND_ORDER if k in ruleset.kinds]
    return tuple(present + sorted(k for k in ruleset.kinds if k not in _KIND_ORDER))


def decision_schema(
    ruleset: RuleSet,
    kind: str | None = None,
    *,
    explanations: bool = False,
    parameters: bool = False,
    input_schema: pa.Schema | None = None,
) -> pa.Schema:
    """The exact schema of :func:`decide_arrow`'s output.

    Columns: ``id`` (string), ``row`` (int64: the row's number, counting from
    ``first_row``), ``kind`` (string; null on error rows), then
    ``decision.<field>`` for every field a decision line of the kind has
    (labels as strings, dates as ``date32``, times as
    ``timestamp[us, tz=Asia/Shanghai]``, lists of codes as ``list<string>``),
    ``decision.rules``, ``decision.explanation`` (with ``explanations``),
    ``decision.estimated``, ``decision.legal_floor`` (``false`` only under a
    policy whose LAW-25 floor is off), ``decision.parameters`` (with
    ``parameters``: the JSON text of the decision's ``parameters`` object),
    then ``error.code`` and ``error.message`` (null on decided rows), then
    the ``meta.*`` columns of ``input_schema``, passed through.

    Args:
        ruleset: the rule set (:func:`csrules.ruleset`).
        kind: one kind of case; ``None`` for the union of every kind of the
            rule set (columns of the first kind that has them, in the order
            return, complaint, promotion, price_adjustment).
        explanations: add ``decision.explanation``.
        parameters: add ``decision.parameters``.
        input_schema: the input's schema, for the ``meta.*`` columns passed through.

    Raises:
        RuleDefinitionError: the rule set has no such kind.
        DomainValueError: two kinds give one decision field different types.
    """
    pa = _pa()
    fields: dict[str, Any] = {
        "id": pa.string(),
        "row": pa.int64(),
        "kind": pa.string(),
    }
    for name in _kinds_of(ruleset, kind):
        for key, annotation in _outcome_types(name):
            column = f"decision.{key}"
            typ = _arrow_type(pa, annotation)
            if column in fields and fields[column] != typ:
                raise DomainValueError(
                    column,
                    f"{fields[column]} and {typ}",
                    "one type across the kinds",
                    got=f"{fields[column]} and {typ}",
                )
            fields[column] = typ
    fields["decision.rules"] = pa.list_(pa.string())
    if explanations:
        fields["decision.explanation"] = pa.list_(pa.string())
    fields["decision.estimated"] = pa.bool_()
    fields["decision.legal_floor"] = pa.bool_()
    if parameters:
        fields["decision.parameters"] = pa.string()
    fields["error.code"] = pa.string()
    fields["error.message"] = pa.string()
    schema = pa.schema(list(fields.items()))
    if input_schema is not None:
        for field in input_schema:
            if _is_meta(field.name):
                schema = schema.append(field)
    return schema


def _plain_type(pa: Any, typ: Any, text: Any = None) -> Any:
    """``typ`` with large, view and dictionary strings and lists as plain ones
    (polars writes ``large_string`` and ``large_list``); with ``text``, its
    text of any kind as that type instead (``large_binary``: as bytes)."""
    t = pa.types
    if text is not None and (t.is_string(typ) or t.is_large_string(typ) or t.is_string_view(typ)):
        return text
    if t.is_large_string(typ) or t.is_string_view(typ):
        return pa.string()
    if t.is_dictionary(typ):
        return _plain_type(pa, typ.value_type, text)
    if t.is_large_list(typ) or t.is_list_view(typ) or t.is_large_list_view(typ):
        return pa.list_(_plain_type(pa, typ.value_type, text))
    if t.is_list(typ):
        return pa.list_(_plain_type(pa, typ.value_type, text))
    if t.is_struct(typ):
        return pa.struct([
            pa.field(typ.field(i).name, _plain_type(pa, typ.field(i).type, text))
            for i in range(typ.num_fields)
        ])  # fmt: skip
    return typ


def _plain_table(pa: Any, table: pa.Table, keep: frozenset[str] = frozenset()) -> pa.Table:
    """The table with its case columns in plain Arrow types (``meta`` columns as
    given, and the dictionary text columns named in ``keep``)."""
    for i, field in enumerate(table.schema):
        if _is_meta(field.name):
            continue
        # a dictionary kept in one piece (chunks with dictionaries of their own
        # would have to be unified, which can fail: read as text instead)
        kept = field.name in keep and _dictionary_text(pa, field.type)
        if kept and table.column(i).num_chunks <= 1:
            continue
        plain = _plain_type(pa, field.type)
        if plain != field.type:
            table = table.set_column(i, field.name, table.column(i).cast(plain))
    return table


def _utf8_table(pa: Any, table: pa.Table) -> pa.Table:
    """The table with each text column holding bytes that are not UTF-8 (a
    corrupt file) read as bytes instead, so that each such cell is its row's
    ``invalid_encoding``; a ``meta`` column is passed through with those
    bytes shown as ``\\xff``. Columns of valid text are left as they are."""
    for i, field in enumerate(table.schema):
        if not _has_text(pa, field.type):
            continue
        column = table.column(i)
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            pass
        else:
            continue
        if _is_meta(field.name):
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                raw = column.cast(pa.large_binary()).to_pylist()
                shown = [None if v is None else v.decode("utf-8", "backslashreplace") for v in raw]
                table = table.set_column(i, field, pa.array(shown, field.type))
            continue
        table = table.set_column(
            i, field.name, column.cast(_plain_type(pa, field.type, pa.large_binary()))
        )
    return table


def _has_text(pa: Any, typ: Any) -> bool:
    """Whether a type holds text, at its top or inside."""
    t = pa.types
    if t.is_string(typ) or t.is_large_string(typ):
        return True
    if t.is_dictionary(typ):
        return _has_text(pa, typ.value_type)
    if t.is_list(typ) or t.is_large_list(typ):
        return _has_text(pa, typ.value_type)
    if t.is_struct(typ):
        return any(_has_text(pa, typ.field(i).type) for i in range(typ.num_fields))
    return False


def _dictionary_text(pa: Any, typ: Any) -> bool:
    """Whether ``typ`` is a dictionary of text (as Parquet's dictionary pages read,
    or pandas' categoricals convert)."""
    t = pa.types
    return bool(t.is_dictionary(typ) and (t.is_string(typ.value_type)
                                          or t.is_large_string(typ.value_type)))  # fmt: skip


def _is_meta(name: str) -> bool:
    return name == "meta" or name.startswith("meta.")


# ------------------------------------------------------------------ the input columns


def _field_types(ruleset: RuleSet) -> dict[str, str]:
    """The contract's type label of every leaf JSON path (``order.lines[].sku`` for lines)."""
    from csrules.io._json import KIND_SPECS, ArraySpec, ObjectSpec, ValueType

    found: dict[str, str] = {}

    def walk(spec: ObjectSpec, prefix: str) -> None:
        for field in spec.fields:
            path = prefix + field.key
            if isinstance(field.type, ValueType):
                found.setdefault(path, field.type.label)
            elif isinstance(field.type, ArraySpec):
                found.setdefault(path, "array")
                walk(field.type.item, path + "[].")
            else:
                found.setdefault(path, "object")
                walk(field.type, path + ".")

    for spec in KIND_SPECS.values():
        walk(spec, "")
    for name, label in ruleset.extra_facts().items():
        found[f"facts.{name}"] = label
    return found


class _Fragment:
    """A value already written as JSON text (the cell of an ``order.lines`` text column)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


@attrs.frozen
class _Column:
    """How one input column becomes values of the JSON case."""

    name: str
    path: tuple[str, ...]  # keys in the case; ("order", "lines", 0, "sku") for flat lines
    values: list[Any]


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def _plain(value: Any, name: str = "") -> Any:
    """A value of a nested Arrow cell (a list or struct) as JSON data (bytes
    that are not UTF-8, in column ``name``, as the row's invalid_encoding)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, bytes):
        return _text_of(name, value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None:
            return value.isoformat()  # the codec refuses it, naming the path
        return _iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v, name) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v, name) for v in value]
    if isinstance(value, float):
        return value
    return str(value)


def _column_values(pa: Any, name: str, array: Any, label: str | None, tz: str | None) -> list[Any]:
    """A column's values as JSON data for its contract field (``label`` its type)."""
    typ = array.type
    pat = pa.types
    if pat.is_null(typ):
        return [None] * len(array)
    if pat.is_floating(typ):
        if label == "money":
            raise DomainValueError(
                name,
                str(typ),
                "a decimal or string column (money is never float: "
                "cast it to decimal128 or read it as text)",
                got=f"a {typ} column",
            )
        if label in ("integer", "boolean"):
            # cell by cell: a whole number reads as an int (then a 0/1 flag);
            # any other value goes on as it is, for the codec to refuse its row
            whole = [
                int(v) if v is not None and math.isfinite(v) and float(v).is_integer() else v
                for v in array.to_pylist()
            ]
            return _flags(whole) if label == "boolean" else whole
        return list(array.to_pylist())
    if pat.is_integer(typ):
        values = array.to_pylist()
        return _flags(values) if label == "boolean" else values
    if pat.is_timestamp(typ):
        if typ.tz is None:
            if tz is None:
                raise DomainValueError(
                    name,
                    f"{typ} (no time zone)",
                    "an aware timestamp column, or tz= naming the zone of its naive times",
                    got=f"a {typ} column, without a time zone",
                )
            zone = _zone(tz)
            return [
                v if v is None or isinstance(v, str) else _iso(v.replace(tzinfo=zone))
                for v in _times(array)
            ]
        return [v if v is None or isinstance(v, str) else _iso(v) for v in _times(array)]
    if pat.is_decimal(typ):
        return [None if v is None else format(v, "f") for v in array.to_pylist()]
    text = pat.is_string(typ) or pat.is_large_string(typ)
    if text or pat.is_binary(typ) or pat.is_large_binary(typ):
        try:
            cells: list[Any] = array.to_pylist() if text else []
        except UnicodeDecodeError:  # bytes that are not UTF-8 (a corrupt file)
            text = False
        if not text:  # each cell read as UTF-8; one that is not is its row's invalid_encoding
            raw = array.cast(pa.large_binary()).to_pylist()
            cells = [None if v is None else _text_of(name, v) for v in raw]
        # an empty cell is an absent key (a CSV file cannot tell the two apart)
        values = [None if v == "" else v for v in cells]
        if label in TYPED_LABELS:
            cell_zone = None if tz is None else _zone(tz)
            return [
                v if isinstance(v, _Undecodable) else json_value(label, v, cell_zone)
                for v in values
            ]
        if label == "array":
            return [v if v is None or isinstance(v, _Undecodable) else _Fragment(v)
                    for v in values]  # fmt: skip
        return values
    if pat.is_date(typ):
        return [None if v is None else v.isoformat() for v in array.to_pylist()]
    if pat.is_dictionary(typ):
        return _column_values(pa, name, array.cast(typ.value_type), label, tz)
    if pat.is_list(typ) or pat.is_large_list(typ) or pat.is_struct(typ):
        return [_plain(v, name) for v in array.to_pylist()]
    return [_plain(v, name) for v in array.to_pylist()]


def _times(array: Any) -> list[Any]:
    """A timestamp column's values; one Python cannot hold (beyond year 9999)
    as a text the codec refuses, naming the raw value."""
    try:
        return list(array.to_pylist())
    except (OverflowError, ValueError):
        out: list[Any] = []
        raw = array.cast("int64").to_pylist()
        for i, value in enumerate(raw):
            try:
                out.append(array[i].as_py())
            except (OverflowError, ValueError):
                out.append(f"{value} {array.type.unit} since 1970-01-01 (out of range)")
        return out


def _flags(values: list[Any]) -> list[Any]:
    """An analyst's 0/1 flags as booleans, cell by cell (any other value goes
    on as it is: its row gets the codec's error)."""
    return [bool(v) if type(v) is int and v in (0, 1) else v for v in values]


def _zone(tz: str) -> dt.tzinfo:
    if not isinstance(tz, str):
        raise ArgumentTypeError("tz", tz, "an IANA time zone name such as 'Asia/Shanghai'")
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DomainValueError("tz", tz, "an IANA time zone name such as 'Asia/Shanghai'") from None


def _path(name: str) -> tuple[Any, ...]:
    flat = _FLAT_LINE.match(name)
    if flat is not None:
        return ("order", "lines", int(flat.group(1)), flat.group(2))
    return tuple(name.split("."))


def _label(types_: Mapping[str, str], name: str) -> str | None:
    flat = _FLAT_LINE.match(name)
    if flat is not None:
        return types_.get(f"order.lines[].{flat.group(2)}")
    return types_.get(name)


@attrs.frozen
class _Plan:
    """How the rows of a table become JSON case lines."""

    columns: tuple[_Column, ...]


@attrs.frozen
class _Layout:
    """The input columns that make the cases, checked once for the whole table."""

    used: tuple[tuple[str, tuple[Any, ...], str | None], ...]  # name, path, type label
    kinds: Any  # the kind of each row: an Arrow string array
    fill_kind: str | None


def _no_values(pa: Any, column: Any) -> bool:
    """Whether every cell of a column is null or empty text (an absent key)."""
    if column.null_count == len(column):
        return True
    import pyarrow.compute as pc

    if pa.types.is_string(column.type):
        return not pc.max(pc.binary_length(column)).as_py()
    if _dictionary_text(pa, column.type):  # the lengths of the values the rows point to
        return not any(
            pc.max(pc.take(pc.binary_length(chunk.dictionary), chunk.indices)).as_py()
            for chunk in getattr(column, "chunks", [column])
            if len(chunk.dictionary)
        )
    return False


def _layout(ruleset: RuleSet, table: pa.Table, kind: str | None, tz: str | None) -> _Layout:
    """Check the columns (column-level problems raise) and say which make the cases."""
    pa = _pa()
    import pyarrow.compute as pc

    if tz is not None:
        _zone(tz)
    types_ = _field_types(ruleset)
    names = list(table.column_names)
    _refuse_doubled(names)
    used: list[tuple[str, tuple[Any, ...], str | None]] = []
    paths: dict[tuple[Any, ...], str] = {}
    for name in names:
        if _is_meta(name):
            continue
        column = table.column(name)
        if _no_values(pa, column) and name != "kind":
            continue  # nothing in it: not a key of any case (and may sit beside its fields)
        label = _label(types_, name)
        empty = column.slice(0, 0).combine_chunks()
        _column_values(pa, name, empty.cast(_plain_type(pa, empty.type)), label, tz)  # type checks
        path = _path(name)
        for depth in range(1, len(path)):
            if path[:depth] in paths:
                raise DomainValueError(
                    name,
                    name,
                    f"no column {paths[path[:depth]]!r} as well (one or the other)",
                    got="both columns",
                )
        paths[path] = name
        used.append((name, path, label))
    for path, name in paths.items():
        inner = [p for p in paths if len(p) > len(path) and p[: len(path)] == path]
        if inner:
            raise DomainValueError(
                name,
                name,
                f"no column {paths[inner[0]]!r} as well (one or the other)",
                got="both columns",
            )
    n = table.num_rows
    given = "kind" in paths.values()
    if given:
        kinds = table.column("kind").combine_chunks() if n else pa.array([], pa.string())
        if not pa.types.is_string(kinds.type):
            kinds = pa.nulls(n, pa.string())  # the codec reports the rows
    else:
        kinds = pa.nulls(n, pa.string())
    if kind is not None:
        if given:
            from csrules.io._schema import KINDS

            # another kind stops the run; a value that is no kind at all is
            # its row's error (unknown_kind, as csrules decide gives its line)
            others = sorted(
                str(v)
                for v in pc.unique(table.column("kind")).to_pylist()
                if v not in (None, "", kind) and v in KINDS
            )
            if others:
                raise DomainValueError(
                    "kind",
                    others,
                    f"rows of kind {kind!r} only (kind={kind!r} was given)",
                    got=", ".join(repr(o) for o in others),
                )
            column = table.column("kind").combine_chunks() if n else pa.array([], pa.string())
            if pa.types.is_string(column.type):
                empty = pc.or_kleene(pc.is_null(column), pc.equal(column, ""))
                kinds = pc.if_else(empty, pa.scalar(kind, pa.string()), column)
            else:
                kinds = pa.array([kind] * n, pa.string())
        else:
            kinds = pa.array([kind] * n, pa.string())
    return _Layout(tuple(used), kinds, kind)


def _plan(layout: _Layout, table: pa.Table, tz: str | None) -> _Plan:
    """The JSON values of the rows of ``table`` (the rows left for the line path)."""
    pa = _pa()
    n = table.num_rows
    columns: list[_Column] = []
    filled = False
    for name, path, label in layout.used:
        array = table.column(name).combine_chunks() if n else table.column(name).slice(0, 0)
        if name == "kind" and layout.fill_kind is not None:
            t = pa.types
            if t.is_string(array.type) or t.is_binary(array.type) or t.is_large_binary(array.type):
                fill = layout.fill_kind  # an empty cell is the run's kind
                cells = _column_values(pa, name, array, "string", tz)
                values = [fill if v is None or v == "" else v for v in cells]
                columns.append(_Column("kind", ("kind",), values))
                filled = True
            continue
        if not n:
            array = array.combine_chunks()
        columns.append(_Column(name, path, _column_values(pa, name, array, label, tz)))
    if layout.fill_kind is not None and not filled:
        columns.append(_Column("kind", ("kind",), [layout.fill_kind] * n))
    return _Plan(tuple(columns))


def _case(columns: Sequence[_Column], row: int) -> dict[str, Any]:
    """The JSON case of one row (null cells are left out, as absent keys)."""
    case: dict[str, Any] = {}
    lines: dict[int, dict[str, Any]] | None = None
    for column in columns:
        value = column.values[row]
        if value is None:
            continue
        path = column.path
        if len(path) == 4 and path[1] == "lines" and isinstance(path[2], int):
            if lines is None:
                lines = {}
            lines.setdefault(path[2], {})[path[3]] = value
            continue
        target = case
        for key in path[:-1]:
            inner = target.get(key)
            if not isinstance(inner, dict):
                inner = target[key] = {}
            target = inner
        target[path[-1]] = value
    if lines is not None:
        order = case.get("order")
        if not isinstance(order, dict):
            order = case["order"] = {}
        order["lines"] = [lines[i] for i in sorted(lines)]
    return case


class _Undecodable:
    """A cell of a binary column that is not UTF-8."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class _EncodingError(Exception):
    """A cell that is not UTF-8 met while writing the line."""


def _text_of(name: str, value: bytes) -> str | _Undecodable:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as err:
        return _Undecodable(f"{name}: not UTF-8 (byte offset {err.start}): {value[:40]!r}")


def _default(value: object) -> Any:
    if isinstance(value, _Undecodable):
        raise _EncodingError(value.message)
    if isinstance(value, _Fragment):
        return orjson.Fragment(value.text.encode("utf-8", "surrogatepass"))
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    raise TypeError(type(value).__name__)


def _line(case: Mapping[str, Any]) -> str | None:
    """The JSON text of a case, or ``None`` when a text cell is not JSON."""
    try:
        return orjson.dumps(case, default=_default).decode("utf-8")
    except orjson.JSONEncodeError as err:
        cause = err.__cause__ or err.__context__
        if isinstance(cause, _EncodingError):
            raise cause from None
        return None


def _fragment_problem(case: Mapping[str, Any]) -> str | None:
    """What is wrong with the JSON text of ``order.lines``, if anything."""
    order = case.get("order")
    lines = order.get("lines") if isinstance(order, dict) else None
    if isinstance(lines, _Fragment):
        try:
            orjson.loads(lines.text)
        except orjson.JSONDecodeError as err:
            return f"order.lines: not valid JSON: {err}"
    return None


# ------------------------------------------------------------------ deciding


@attrs.define
class _Out:
    """The output columns, filled row by row."""

    names: list[str]
    values: dict[str, list[Any]]

    @classmethod
    def of(cls, schema: pa.Schema) -> _Out:
        names = list(schema.names)
        return cls(names, {n: [] for n in names})


def _decoder(pa: Any, typ: Any) -> Callable[[Any], Any] | None:
    if pa.types.is_date32(typ):
        return dt.date.fromisoformat
    if pa.types.is_timestamp(typ):
        return dt.datetime.fromisoformat
    return None


def decide_rows(
    ruleset: RuleSet,
    plan: _Plan,
    rows: Iterable[int],
    *,
    policy: Policy | None,
    monitor: Any,
    first_row: int,
    lang: str,
    parameters: bool,
) -> Iterable[tuple[int, dict[str, Any]]]:
    """``(i, result line)`` of the ``i``-th of ``rows`` (the table's row numbers,
    counting from 0; ``plan`` holds those rows only), decided as ``csrules
    decide`` decides its line."""
    from csrules.cli import decide_line
    from csrules.io._decisions import error_to_json

    for i, row in enumerate(rows):
        case = _case(plan.columns, i)
        number = first_row + row
        problem = _fragment_problem(case)
        code = "invalid_json"
        try:
            line = None if problem is not None else _line(case)
        except _EncodingError as err:
            line, code, problem = None, "invalid_encoding", str(err)
        if line is None:
            case_id = case.get("id") if isinstance(case.get("id"), str) else None
            message = problem or "a value that cannot be written as JSON"
            yield i, error_to_json(case_id, number, code, message)
            continue
        result, _ = decide_line(
            line,
            number,
            policy=policy,
            lang=lang,  # type: ignore[arg-type]
            monitor=monitor,
            parameters=parameters,
            ruleset=ruleset,
        )
        yield i, result


def _fill(out: _Out, row: int, result: Mapping[str, Any], pa: Any, schema: pa.Schema) -> None:
    """Write one result line into row ``row`` of the output columns."""
    values = out.values
    values["id"][row] = result.get("id")
    values["row"][row] = result.get("line")
    error = result.get("error")
    if isinstance(error, dict):
        values["error.code"][row] = error.get("code")
        values["error.message"][row] = error.get("message")
        return
    values["kind"][row] = result.get("kind")
    body = result.get("decision", {})
    for key, value in body.items():
        column = f"decision.{key}"
        if key == "legal_floor":
            continue
        if key == "parameters":
            if column in values:
                values[column][row] = orjson.dumps(value).decode("utf-8")
            continue
        target = values.get(column)
        if target is None:
            continue
        if value is not None and isinstance(value, str):
            decode = _decoder(pa, schema.field(column).type)
            if decode is not None:
                value = decode(value)
        target[row] = value
    values["decision.legal_floor"][row] = body.get("legal_floor", True)


def _typed(pa: Any, table: pa.Table, layout: _Layout, tz: str | None) -> tuple[pa.Table, Any]:
    """The table for the vectorised path: text columns of typed fields
    converted (:mod:`csrules.io._frames_text`), and the kind of each row,
    null on a row with a cell that does not read (the line path's alone)."""
    import pyarrow.compute as pc

    from csrules.io._frames_text import typed_table

    labels = {name: label for name, _, label in layout.used}
    text = any(
        (label in TYPED_LABELS or label == "array" or _FLAT_LINE.match(name))
        and pa.types.is_string(table.column(name).type)
        for name, label in labels.items()
    )  # else (the Parquet layout) a row with an empty text cell takes the line path
    if not text or not pc.any(pc.equal(layout.kinds, "return")).as_py():
        return table, layout.kinds
    typed, bad = typed_table(table, labels, tz, None if tz is None else _zone(tz))
    if not bad.any():
        return typed, layout.kinds
    kinds = pc.if_else(pa.array(~bad), layout.kinds, pa.scalar(None, pa.string()))
    return typed, kinds


def decide_arrow(
    ruleset: RuleSet,
    table: pa.Table,
    *,
    kind: str | None = None,
    tz: str | None = None,
    policy: Policy | None = None,
    monitor: Any = None,
    first_row: int = 1,
    lang: str = "en",
    explanations: bool = False,
    parameters: bool = False,
    fast: bool = True,
) -> pa.Table:
    """Decide every row of an Arrow table of cases: one output row per input row, in order.

    Input: one row per case, one column per contract field named by its JSON
    path with dots (``id``, ``kind``, ``at``, ``order.status``,
    ``request.condition.tag_intact``, ``complaint.channel``, ...; see
    ``docs/frames.md``). ``order.lines`` is a list-of-struct column, a
    column of JSON text, or flat columns ``order.lines.0.sku``,
    ``order.lines.0.unit_price``, ... A null cell is an absent key.
    ``facts.NAME`` columns give the extra facts the rule set declares;
    ``meta`` and ``meta.*`` columns are passed through to the output.

    A row that cannot be decided gets ``error.code`` and ``error.message``,
    the code ``csrules decide`` gives its JSON line; the other rows go on.

    Args:
        ruleset: the rule set deciding the cases.
        table: the cases.
        kind: the kind of every row, when the table has no ``kind`` column
            (or the same in every row); the output has that kind's columns.
            Without it, the ``kind`` column says, and the output has the
            columns of every kind of the rule set.
        tz: the zone of naive times (timestamp columns without a zone, ISO
            strings without an offset), e.g. ``"Asia/Shanghai"``.
        policy: parameters replacing the rule set's.
        monitor: an :class:`~csrules.stream.EscalationMonitor` the complaint
            rows go through, in table order; without it each complaint is
            decided alone.
        first_row: the ``row`` number of the first row (a chunk's offset).
        lang: ``"en"`` or ``"zh"``, the language of explanations.
        explanations: add ``decision.explanation`` (one text per rule).
        parameters: add ``decision.parameters`` (JSON text).
        fast: decide the rows of returns that pass the vectorised checks with
            the compiled tables (the same answers; ``False`` decides every row
            through the JSON codec).

    Returns:
        A table with :func:`decision_schema`'s columns.

    Raises:
        DomainValueError: a column-level problem: a naive timestamp column
            without ``tz``, a float money column, a column given twice or
            with a column inside it (``request.condition`` and
            ``request.condition.unwashed``), ``kind`` rows contradicting
            ``kind=``.
        ArgumentTypeError: ``table`` is not an Arrow table.
    """
    pa = _pa()
    if not isinstance(table, pa.Table):
        raise ArgumentTypeError("table", table, "a pyarrow.Table")
    if isinstance(first_row, bool) or not isinstance(first_row, int):
        raise ArgumentTypeError("first_row", first_row, "an int")
    if lang not in ("en", "zh"):
        raise DomainValueError("lang", lang, "'en' or 'zh'")
    schema = decision_schema(
        ruleset,
        kind,
        explanations=explanations,
        parameters=parameters,
        input_schema=table.schema,
    )
    n = table.num_rows
    fast = bool(fast and n and not explanations and not parameters)
    keep: frozenset[str] = frozenset()
    if fast:
        from csrules.io._frames_fast import DICTIONARY_COLUMNS

        keep = DICTIONARY_COLUMNS
    # the vectorised path reads the codes of a dictionary column of values (as
    # Parquet's dictionary pages give them); every other path reads plain text
    table = _utf8_table(pa, _plain_table(pa, table, keep))
    layout = _layout(ruleset, table, kind, tz)
    decided: list[Any] = []
    done = None
    if fast:
        from csrules.io._frames_fast import decide_fast

        try:
            typed, kinds = _typed(pa, table, layout, tz)
        except pa.ArrowInvalid:  # text that is not UTF-8: every row takes the line path
            pass
        else:
            done, part = decide_fast(
                ruleset, typed, kinds, policy=policy, first_row=first_row, schema=schema
            )
            if part is not None and len(done):
                decided.append((done, part))
    if done is not None and len(done):
        import numpy as np

        left = np.ones(n, dtype=bool)
        left[done] = False
        remaining: Sequence[int] = np.flatnonzero(left).tolist()
        plan = _plan(layout, _plain_table(pa, table.take(pa.array(remaining, pa.int64()))), tz)
    else:
        remaining = range(n)
        plan = _plan(layout, _plain_table(pa, table), tz)
    fields = [f for f in schema if not _is_meta(f.name)]
    out = _Out.of(pa.schema(fields))
    for name in out.names:
        out.values[name] = [None] * len(remaining)
    for i, result in decide_rows(
        ruleset,
        plan,
        remaining,
        policy=policy,
        monitor=monitor,
        first_row=first_row,
        lang=lang,
        parameters=parameters,
    ):
        _fill(out, i, result, pa, schema)
        if explanations and "error" not in result:
            out.values["decision.explanation"][i] = result["decision"].get("explanation")
    exact = pa.Table.from_arrays(
        [pa.array(out.values[f.name], type=f.type) for f in fields], schema=pa.schema(fields)
    )
    if decided:
        import numpy as np

        if len(remaining) == 0:
            result_table = decided[0][1]  # every row, in order
        else:
            order = np.concatenate([np.asarray(remaining, dtype=np.int64), decided[0][0]])
            position = np.empty(n, dtype=np.int64)
            position[order] = np.arange(n, dtype=np.int64)
            result_table = pa.concat_tables([exact, decided[0][1]]).take(pa.array(position))
    else:
        result_table = exact
    for field in schema:
        if _is_meta(field.name):
            result_table = result_table.append_column(field, table.column(field.name))
    return result_table


def decide_frame(
    data: Any,
    ruleset: RuleSet | str = "b2c",
    *,
    kind: str | None = None,
    tz: str | None = None,
    **options: Any,
) -> Any:
    """Decide a table of cases: a pyarrow Table, a polars or a pandas DataFrame.

    Returns the same type as ``data``, converted through Arrow (see
    :func:`decide_arrow` for the columns, ``options`` and errors).
    ``ruleset`` is a :class:`~csrules.RuleSet` or a name for
    :func:`csrules.ruleset`.
    """
    from csrules._ruleset import RuleSet
    from csrules._ruleset import ruleset as load

    rules = ruleset if isinstance(ruleset, RuleSet) else load(ruleset)
    pa = _pa()
    if isinstance(data, pa.Table):
        return decide_arrow(rules, data, kind=kind, tz=tz, **options)
    module = type(data).__module__.split(".")[0]
    if module == "polars":
        import polars

        if isinstance(data, polars.DataFrame):
            result = decide_arrow(rules, data.to_arrow(), kind=kind, tz=tz, **options)
            return polars.from_arrow(result)
    if module == "pandas":
        import pandas

        if isinstance(data, pandas.DataFrame):
            table = _from_pandas(pa, data)
            result = decide_arrow(rules, table, kind=kind, tz=tz, **options)
            frame = result.to_pandas()
            frame.index = data.index  # row i answers the input's row i, under its label
            return frame
    raise ArgumentTypeError(
        "data", data, "a pyarrow.Table, a polars.DataFrame or a pandas.DataFrame"
    )


def _refuse_doubled(names: Sequence[str]) -> None:
    """Refuse a table whose columns name one field twice."""
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise DomainValueError(
            "columns", twice, "each column name once", got=", ".join(map(repr, twice)) + " twice"
        )


def _from_pandas(pa: Any, data: Any) -> pa.Table:
    """A pandas DataFrame as an Arrow table of its columns.

    Index levels with a name (``df.set_index("id")``) are columns too; a
    column of mixed Python values Arrow cannot hold in one type (``"X1"``
    and ``12345``, ``True`` and ``"false"``) is read as text, as a CSV
    column is, so that each cell gets its own answer.

    Raises:
        DomainValueError: a column name appears twice.
    """
    names = [str(n) for n in data.columns]
    _refuse_doubled(names)
    levels = [n for n in data.index.names if n is not None and str(n) not in names]
    if levels:
        data = data.reset_index(level=levels)
    mixed = [name for name in data.columns if _mixed_times(data[name])]
    if mixed:  # as text: Arrow would read the aware ones as naive wall times
        data = data.assign(**{str(n): [_as_text(v) for v in data[n]] for n in mixed})
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        pass
    columns: dict[str, Any] = {}
    for name in data.columns:
        values = data[name]
        try:
            columns[str(name)] = pa.Array.from_pandas(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[str(name)] = pa.array([_as_text(v) for v in values], pa.string())
        except UnicodeEncodeError:  # text with lone surrogates (bytes read with
            # surrogateescape): as those bytes, each such cell its row's invalid_encoding
            columns[str(name)] = pa.array(
                [v.encode("utf-8", "surrogateescape") if isinstance(v, str) else _as_bytes(v)
                 for v in values],
                pa.large_binary(),
            )  # fmt: skip
    return pa.table(columns)


def _as_bytes(value: object) -> bytes | None:
    """A cell beside text with lone surrogates, as bytes (None for a missing one)."""
    text = _as_text(value)
    return None if text is None else text.encode("utf-8", "surrogateescape")


def _mixed_times(column: Any) -> bool:
    """Whether an object column holds both naive and aware datetimes."""
    if column.dtype != object:
        return False
    naive = aware = False
    for value in column:
        if isinstance(value, dt.datetime):
            if value.utcoffset() is None:
                naive = True
            else:
                aware = True
            if naive and aware:
                return True
    return False


def _as_text(value: object) -> str | None:
    """A cell of a mixed column as the text a CSV file would hold for it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return orjson.dumps(value, default=str).decode()
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    return str(value)
