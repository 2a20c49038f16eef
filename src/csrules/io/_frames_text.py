"""Text cells of a table of cases (a CSV export read as text), as typed values.

A CSV read with every column as text has ``"true"`` in a flag, ``"1"`` in a
quantity, ``"168.00"`` in an amount and ``""`` where a value is absent. The
contract field of each column (from the codec's field tables, through
:func:`csrules.io._frames._field_types`) says how its text is read:

- ``boolean``: ``true`` / ``false`` (any case) and ``1`` / ``0``;
- ``integer``: a whole number, ``-?[0-9]{1,18}``, also written ``2.0``;
- ``money``: ``[0-9]+`` with at most two decimals, as ``decimal128(38, 2)``;
- ``time``: ISO-8601 ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` with ``Z`` or
  ``±HH:MM``, or without an offset when a zone is given (read in it);
- an empty cell is absent (null), in every field: a CSV file cannot tell
  empty text from no value, and no text field of the contract takes ``""``.

:func:`text_value` is the definition, one cell at a time; :func:`typed_column`
is the same conversion on a whole column with :mod:`pyarrow.compute` (a
property test checks that the two agree). A cell neither reads is *bad*: its
row is left to the line path, which gives the codec the original text (and so
the codec's error for it). :func:`json_value` is what the line path writes in
the JSON case for a text cell.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Context, Decimal
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["BAD", "json_value", "text_value", "typed_column", "typed_table"]


class _Bad:
    """A text cell that does not read as its field's type."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "BAD"


#: What :func:`text_value` returns for a cell that does not read.
BAD: Final = _Bad()

#: The labels of fields read from text here; text fields (``string``) stay text.
TYPED_LABELS: Final = frozenset({"boolean", "integer", "money", "time"})

_BOOLEANS: Final = {"true": True, "false": False, "1": True, "0": False}
_INTEGER: Final = r"-?[0-9]{1,18}(\.0+)?"
_MONEY: Final = r"[0-9]{1,30}(\.[0-9]{1,2})?"
_CLOCK: Final = (
    r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
)
_OFFSET: Final = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
_INTEGER_RE: Final = re.compile(_INTEGER)
#: A whole number of any length up to Python's own limit on int(text).
_LONG_INTEGER_RE: Final = re.compile(r"-?[0-9]{19,4000}(\.0+)?")
_MONEY_RE: Final = re.compile(_MONEY)
_AWARE_RE: Final = re.compile(_CLOCK + _OFFSET)
_NAIVE_RE: Final = re.compile(_CLOCK)
_CENT: Final = Decimal("0.01")
_WIDE: Final = Context(prec=40)  # 30 digits and 2 decimals fit


def text_value(label: str | None, text: str, zone: dt.tzinfo | None = None) -> Any:
    """The value of one text cell of a field of type ``label``.

    Returns ``None`` for an empty cell of a typed field (absent), a ``bool``,
    ``int``, ``Decimal`` (two decimals) or aware ``datetime`` for the typed
    labels, the text itself for text fields, or :data:`BAD`.
    """
    if label not in TYPED_LABELS:
        return text
    if text == "":
        return None
    if label == "boolean":
        return _BOOLEANS.get(text.lower() if text.isascii() else text, BAD)
    if label == "integer":
        if text.isascii() and _INTEGER_RE.fullmatch(text):
            return int(text.partition(".")[0])
        return BAD
    if label == "money":
        if text.isascii() and _MONEY_RE.fullmatch(text):
            return Decimal(text).quantize(_CENT, context=_WIDE)
        return BAD
    # time
    if not text.isascii():
        return BAD
    aware = _AWARE_RE.fullmatch(text) is not None
    if not aware and (zone is None or _NAIVE_RE.fullmatch(text) is None):
        return BAD
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return BAD
    return value if aware else value.replace(tzinfo=zone)


def json_value(label: str | None, text: str | None, zone: dt.tzinfo | None) -> Any:
    """What the line path writes in the JSON case for a text cell.

    Flags and integers as JSON ``true`` and numbers when they read (else the
    text, which the codec refuses, naming it); money and times as their text
    (the JSON contract's own form; a time without offset read in ``zone``
    when given); ``None`` for an empty cell of a typed field.
    """
    if text is None:
        return None
    if label in ("boolean", "integer"):
        value = text_value(label, text, zone)
        long = label == "integer" and text.isascii() and _LONG_INTEGER_RE.fullmatch(text)
        if value is BAD and long:
            # beyond the columns' int64: the JSON number, for the codec to judge
            return int(text.partition(".")[0])
        return text if value is BAD else value
    if label in TYPED_LABELS and text == "":
        return None
    if label == "time" and zone is not None:
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return text  # the codec says what is wrong with it
        return text if parsed.tzinfo is not None else parsed.replace(tzinfo=zone).isoformat()
    return text


# ------------------------------------------------------------------ whole columns


def _np(array: Any) -> NDArray[Any]:
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _mask(pc: Any, array: Any) -> NDArray[np.bool_]:
    return np.asarray(_np(pc.fill_null(array, False)), dtype=bool)


def _matches(pc: Any, array: Any, pattern: str) -> Any:
    return pc.fill_null(pc.match_substring_regex(array, "^" + pattern + "$"), False)


def _arrow_type(pa: Any, label: str) -> Any:
    return {
        "boolean": pa.bool_(),
        "integer": pa.int64(),
        "money": pa.decimal128(38, 2),
        "time": pa.timestamp("us", tz="UTC"),
    }[label]


def typed_column(
    label: str, array: Any, tz: str | None, zone: dt.tzinfo | None
) -> tuple[Any, NDArray[np.bool_]]:
    """A string column of a typed field as that type, and which cells are bad.

    The column-wide form of :func:`text_value`: a bad cell (and an empty one)
    is null in the typed column; ``tz`` names ``zone``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = _arrow_type(pa, label)
    null = pa.scalar(None, typ)
    given = pc.fill_null(pc.greater(pc.binary_length(array), 0), False)
    if label == "boolean":
        low = pc.ascii_lower(array)
        true = pc.fill_null(pc.is_in(low, value_set=pa.array(["true", "1"])), False)
        false = pc.fill_null(pc.is_in(low, value_set=pa.array(["false", "0"])), False)
        ok = pc.or_(true, false)
        typed = pc.if_else(ok, true, null)
    elif label == "integer":
        ok = _matches(pc, array, _INTEGER)
        whole = pc.replace_substring_regex(array, r"\.0+$", "")
        typed = pc.if_else(ok, whole, pa.scalar(None, pa.string())).cast(typ)
    elif label == "money":
        ok = _matches(pc, array, _MONEY)
        typed = pc.if_else(ok, array, pa.scalar(None, pa.string())).cast(typ)
    else:
        typed, ok = _times(pa, pc, array, tz, zone)
    bad = _mask(pc, given) & ~_mask(pc, ok)
    return typed, bad


def _times(pa: Any, pc: Any, array: Any, tz: str | None, zone: dt.tzinfo | None) -> Any:
    typ = pa.timestamp("us", tz="UTC")
    text = pa.scalar(None, pa.string())
    aware = _matches(pc, array, _CLOCK + _OFFSET)
    try:
        typed = pc.if_else(aware, array, text).cast(typ)
        if tz is None:
            return typed, aware
        naive = _matches(pc, array, _CLOCK)
        local = pc.if_else(naive, array, text).cast(pa.timestamp("us"))
        local = pc.assume_timezone(local, tz, ambiguous="raise", nonexistent="raise").cast(typ)
        local = _late(pa, pc, array, naive, local, zone)
        return pc.if_else(aware, typed, local), pc.or_(aware, naive)
    except (pa.ArrowInvalid, ValueError):
        # an impossible date, or a time a zone skips or repeats: cell by cell
        values = [None if v is None else text_value("time", v, zone) for v in array.to_pylist()]
        ok = pa.array([v is not BAD and v is not None for v in values], pa.bool_())
        cells = [None if v is BAD else v for v in values]
        return pa.array(cells, pa.timestamp("us", tz="UTC")), ok


def _late(pa: Any, pc: Any, array: Any, naive: Any, local: Any, zone: dt.tzinfo | None) -> Any:
    """``local`` with the naive times from 2038 on read by :func:`text_value`:
    Arrow's zone rules stop at the last transition the zone file lists (a
    zone's daylight saving time ends in 2037 there), Python's go on."""
    late = _mask(pc, naive) & _mask(
        pc, pc.greater_equal(pc.utf8_slice_codeunits(array, 0, 4), "2038")
    )
    if not late.any():
        return local
    micros = _np(pc.fill_null(local.cast(pa.int64()), 0)).astype(np.int64)
    valid = _mask(pc, local.is_valid())
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    texts = array.to_pylist()
    for i in np.flatnonzero(late).tolist():
        value = text_value("time", texts[i], zone)
        delta = value - epoch
        micros[i] = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        valid[i] = True
    return pa.array(micros, pa.int64(), mask=~valid).cast(local.type)


def typed_table(
    table: Any, labels: dict[str, str | None], tz: str | None, zone: dt.tzinfo | None
) -> tuple[Any, NDArray[np.bool_]]:
    """The table with each string column of a typed field converted, flat line
    columns (``order.lines.0.sku``, ...) gathered into a list-of-struct
    ``order.lines`` column, and the rows that hold a bad cell (for the line
    path only). ``labels`` gives the label of each column's field."""
    import pyarrow as pa

    from csrules.io._frames import _FLAT_LINE, _no_values

    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    arrays: dict[str, Any] = {}
    flat: dict[int, dict[str, Any]] = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if name != "kind" and _no_values(pa, column):
            continue  # no value in it: no key of any case (the layout ignores it too)
        label = labels.get(name)
        if pa.types.is_string(column.type) and label in TYPED_LABELS:
            column, wrong = typed_column(label, column, tz, zone)
            bad |= wrong
        elif pa.types.is_string(column.type) and label == "array" and column.null_count < n:
            column, wrong = _json_lines(pa, column)
            bad |= wrong
        elif pa.types.is_string(column.type) and label is not None:
            column = _no_empty(pa, column)
        match = _FLAT_LINE.match(name)
        if match is not None and match.group(2) in _LINE_TYPES:
            if column.null_count < n:  # an empty column is no column (as in the layout)
                flat.setdefault(int(match.group(1)), {})[match.group(2)] = column
            continue
        arrays[name] = column
    if flat:
        arrays["order.lines"] = _lines(pa, flat, n)
    return pa.table(arrays), bad


_KEY_RE: Final = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?')
_LINE_CHECKS: Final = {
    "sku": lambda v: type(v) is str,
    "unit_price": lambda v: type(v) is str or (type(v) is int and v >= 0),
    "quantity": lambda v: type(v) is int,
    "special_price": lambda v: type(v) is bool,
    "category": lambda v: type(v) is str,
}


def _line_list(text: str) -> list[dict[str, Any]] | None:
    """The lines of an ``order.lines`` JSON text when every value has its
    JSON type (money as text), else ``None`` (for the line path)."""
    import orjson

    try:
        lines = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if type(lines) is not list:
        return None
    keys = 0
    for line in lines:
        if type(line) is not dict:
            return None
        for key, value in line.items():
            check = _LINE_CHECKS.get(key)
            if check is None or not check(value):
                return None
        keys += len(line)
    # a key given twice is the codec's error: orjson keeps the last one silently
    if sum(1 for m in _KEY_RE.finditer(text) if m.group(1)) != keys:
        return None
    for line in lines:
        price = line.get("unit_price")
        if type(price) is int:
            line["unit_price"] = str(price)
    return lines


def _json_lines(pa: Any, column: Any) -> tuple[Any, NDArray[np.bool_]]:
    """A column of ``order.lines`` JSON text as ``list<struct>`` (money as
    ``decimal128(38, 2)``), and the rows the line path must read instead."""
    import pyarrow.compute as pc

    texts = column.to_pylist()
    n = len(texts)
    bad = np.zeros(n, dtype=bool)
    values: list[Any] = []
    for i, text in enumerate(texts):
        lines = None if text is None or text == "" else _line_list(text)
        if lines is None and text is not None and text != "":
            bad[i] = True
        values.append(lines)
    struct = pa.struct([("sku", pa.string()), ("unit_price", pa.string()),
                        ("quantity", pa.int64()), ("special_price", pa.bool_()),
                        ("category", pa.string())])  # fmt: skip
    try:
        lists = pa.array(values, pa.list_(struct))
    except (pa.ArrowInvalid, OverflowError):  # a quantity beyond int64: cell by cell
        for i, lines in enumerate(values):
            try:
                pa.array([lines], pa.list_(struct))
            except (pa.ArrowInvalid, OverflowError):
                values[i], bad[i] = None, True
        lists = pa.array(values, pa.list_(struct))
    items = pc.list_flatten(lists)
    price, wrong = typed_column("money", pc.struct_field(items, "unit_price"), None, None)
    if wrong.any():
        parents = _np(pc.list_parent_indices(lists)).astype(np.int64)
        bad[parents[wrong]] = True
    fields = [pc.struct_field(items, f) for f in _LINE_TYPES]
    fields[1] = price
    typed_items = pa.StructArray.from_arrays(
        fields, names=list(_LINE_TYPES), mask=pc.invert(items.is_valid())
    )
    offsets = lists.offsets
    return pa.ListArray.from_arrays(offsets, typed_items, mask=pc.invert(lists.is_valid())), bad


def _no_empty(pa: Any, column: Any) -> Any:
    """A text column with its empty cells null (absent keys)."""
    import pyarrow.compute as pc

    empty = pc.equal(column, "")
    if not pc.any(empty).as_py():
        return column
    return pc.if_else(empty, pa.scalar(None, column.type), column)


_LINE_TYPES: Final = ("sku", "unit_price", "quantity", "special_price", "category")


def _lines(pa: Any, flat: dict[int, dict[str, Any]], n: int) -> Any:
    """A ``list<struct>`` column of flat line columns: a row's lines are the
    indices with a value in some cell, in order (as the line path reads them)."""
    import pyarrow.compute as pc

    names = [f for f in _LINE_TYPES if any(f in cells for cells in flat.values())]
    types: dict[str, Any] = {}
    for cells in flat.values():
        for f, column in cells.items():
            if column.null_count < n or f not in types:
                types[f] = column.type  # an empty column takes the type of the others
    struct = pa.struct([pa.field(f, types[f]) for f in names])
    indices = sorted(flat)
    present = np.zeros((n, len(indices)), dtype=bool)
    parts = []
    for j, k in enumerate(indices):
        cells = flat[k]
        columns = []
        for f in names:
            column = cells.get(f)
            if column is None or column.null_count == n:
                column = pa.nulls(n, types[f])
            elif column.type != types[f]:
                return pa.nulls(n, pa.null())  # unlike columns: the line path reads them
            columns.append(column)
        for column in columns:
            present[:, j] |= _mask(pc, column.is_valid())
        parts.append(pa.StructArray.from_arrays(columns, fields=list(struct)))
    rows, which = np.nonzero(present)
    items = pa.concat_arrays(parts).take(pa.array(which.astype(np.int64) * n + rows))
    offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), items)

