"""The vectorised path of :func:`csrules.io.decide_arrow` for returns.

Rows of kind ``return`` whose columns have the types of the Parquet layout
(aware timestamps, decimals, booleans, text, ``order.lines`` as a list of
structs) are checked with :mod:`pyarrow.compute` and numpy. Only a row that
passes every check is decided here, by the rule set's compiled tables
(:meth:`~csrules.RuleSet.decide_columns`); the checks are stricter than the
codec (a row they let through is one the codec reads without a problem and
the rules decide), and every other row goes back to the line path, so errors
always come from the codec. Rule lists, approvals and duties are built once
per distinct combination of fired rules, not per row.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from csrules._ruleset import KindSpec, RuleSet
    from csrules.policy import Policy

__all__ = ["DICTIONARY_COLUMNS", "decide_fast"]

_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()
#: Times the fast path takes (the codec takes 1900 to 9998; the rest goes the line path).
_LOW_US: Final = (
    int(
        (
            dt.datetime(1901, 1, 2, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        ).total_seconds()
    )
    * 1_000_000
)
_HIGH_US: Final = (
    int(
        (
            dt.datetime(9990, 1, 1, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        ).total_seconds()
    )
    * 1_000_000
)

# the columns of a return, by the encoding the fast path reads them in
_TEXT: Final = ("id", "order.id", "order.customer_id")
_ENUMS: Final = ("order.status", "order.payment_method", "request.type", "request.reason")
_FLAGS: Final = ("order.in_warehouse_system", "order.free_shipping_promotion",
                 "request.courier_confirmed")  # fmt: skip
_TIMES: Final = ("at", "order.placed_at", "order.paid_at", "order.shipped_at", "order.signed_at",
                 "request.proof_submitted_at", "request.goods_received_at")  # fmt: skip
_MONEY: Final = ("order.shipping_fee",)
#: The columns this path reads as dictionary codes when they come as a
#: dictionary of text (see :func:`csrules.io._frames._plain_table`).
DICTIONARY_COLUMNS: Final = frozenset(_ENUMS)
_CONDITION: Final = ("tag_intact", "unwashed", "undamaged", "delivery_note_complete",
                     "order_number_given", "delivery_note_number_given")  # fmt: skip
#: The values a list column's int32 offsets hold (more go in chunks of their own).
_MAX_LIST_VALUES: Final = 2**31 - 1
#: The bits of the number a row's fired rules make (see ``_fired_key``).
_KEY_BITS: Final = 62
#: How many distinct tuples of line categories a kind keeps the derived facts of.
_MAX_KEPT_TUPLES: Final = 100_000
_LINE_FIELDS: Final = frozenset({"sku", "unit_price", "quantity", "special_price", "category"})
_KNOWN: Final = frozenset(
    {*_TEXT, "kind", *_ENUMS, *_FLAGS, *_TIMES, *_MONEY, "order.lines",
     *(f"request.condition.{c}" for c in (*_CONDITION, "packaging_intact"))}
)  # fmt: skip


def _usable_kind(kind: KindSpec) -> bool:
    """The bundled return kind (its facts, tables and decision), whose
    approvals and duties are constants of the rules that fired."""
    from csrules.batch._ruleset import RETURN_TABLE_NAMES
    from csrules.rules import returns

    if kind.decision is not returns._return_decision:
        return False
    if tuple(kind.facts) != tuple(returns.RETURN_FACTS):
        return False
    if tuple(t.name for t in kind.tables) != RETURN_TABLE_NAMES:
        return False
    for table, name in ((kind.tables[0], "approvals"), (kind.tables[3], "duty")):
        for rule in table.rules:
            value = rule.then.get(name)
            if value is not None and (value.facts() or value.params()):
                return False
    return len(kind.tables[3].rules) < 62


def _types_fit(pa: Any, table: Any) -> bool:
    """Whether every column with a value is one the fast path reads, in its type."""
    t = pa.types
    for name in table.column_names:
        if name == "meta" or name.startswith("meta."):
            continue
        column = table.column(name)
        if column.null_count == len(column):
            continue
        typ = column.type
        if name not in _KNOWN:
            return False
        if name in _ENUMS:
            ok = t.is_string(typ) or (
                t.is_dictionary(typ)
                and (t.is_string(typ.value_type) or t.is_large_string(typ.value_type))
            )
        elif name in _TEXT or name == "kind":
            ok = t.is_string(typ)
        elif name in _FLAGS or name.startswith("request.condition."):
            ok = t.is_boolean(typ)
        elif name in _TIMES:
            ok = t.is_timestamp(typ) and typ.tz is not None and _whole_micros(pa, column)
        elif name in _MONEY:
            ok = t.is_decimal(typ) and typ.scale <= 2
        else:  # order.lines
            ok = t.is_list(typ) and t.is_struct(typ.value_type) and _line_type_fits(pa, typ)
        if not ok:
            return False
    return True


def _whole_micros(pa: Any, column: Any) -> bool:
    """Whether a timestamp column holds whole microseconds (pandas writes nanoseconds)."""
    if column.type.unit != "ns":
        return True
    try:
        column.cast(pa.timestamp("us", tz=column.type.tz))
    except pa.ArrowInvalid:
        return False
    return True


def _line_type_fits(pa: Any, typ: Any) -> bool:
    t = pa.types
    struct = typ.value_type
    names = {struct.field(i).name for i in range(struct.num_fields)}
    if not names <= _LINE_FIELDS or not {"sku", "unit_price", "quantity"} <= names:
        return False
    kinds = {struct.field(i).name: struct.field(i).type for i in range(struct.num_fields)}
    return bool(
        t.is_string(kinds["sku"])
        and t.is_decimal(kinds["unit_price"])
        and kinds["unit_price"].scale <= 2
        and t.is_integer(kinds["quantity"])
        and t.is_boolean(kinds.get("special_price", pa.bool_()))
        and t.is_string(kinds.get("category", pa.string()))
    )


def _np(array: Any) -> NDArray[Any]:
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _bits(buffer: Any, offset: int, n: int) -> NDArray[np.bool_]:
    """``n`` bits of an Arrow bitmap from bit ``offset``, as booleans."""
    raw = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(raw, count=offset + n, bitorder="little")[offset:].view(np.bool_)


def _bools(array: Any, fill: bool) -> NDArray[np.bool_]:
    """A boolean Arrow array as numpy booleans, ``fill`` for null (read
    straight from its bitmaps)."""
    n = len(array)
    if array.type.id == 0 or array.null_count == n:  # the null type, or no value
        return np.full(n, fill, dtype=bool)
    validity, data = array.buffers()[:2]
    values = _bits(data, array.offset, n)
    if array.null_count:
        values = np.where(_bits(validity, array.offset, n), values, fill)
    return values


class _Columns:
    """The input columns, as Arrow arrays (null when absent)."""

    def __init__(self, pa: Any, table: Any) -> None:
        self.pa = pa
        self.table = table
        self.n = table.num_rows
        self._cache: dict[tuple[str, Any], Any] = {}
        self._names = frozenset(table.column_names)

    def get(self, name: str, typ: Any = None) -> Any:
        key = (name, typ)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._get(name, typ)
        return found

    def _get(self, name: str, typ: Any) -> Any:
        pa = self.pa
        if name in self._names:
            column = self._cache.get((name, None))
            if column is None:  # the column as it is, in one array (once for any typ)
                column = self._cache[(name, None)] = self.table.column(name).combine_chunks()
            if column.null_count < len(column) or typ is None:
                return column
        return pa.nulls(self.n, typ or pa.null())

    def index(self, name: str, cls: type[enum.Enum]) -> NDArray[np.int32]:
        """A text column as the index of its value among ``cls``'s values
        (-1 for null or a value not among them), computed once."""
        key = (name, cls)
        found = self._cache.get(key)
        if found is None:
            pa = self.pa
            array = self.get(name, pa.string())
            if pa.types.is_null(array.type):
                found = np.full(self.n, -1, dtype=np.int32)
            elif pa.types.is_dictionary(array.type):  # the codes of its values, by its indices
                found = _dictionary_index(pa, array, cls)
            else:
                labels = pa.array([m.value for m in cls], pa.string())
                index = pa.compute.index_in(array, value_set=labels)
                found = np.asarray(_np(pa.compute.fill_null(index, -1)), dtype=np.int32)
            self._cache[key] = found
        return found

    def us(self, name: str) -> NDArray[np.int64]:
        """A time column as microseconds since the epoch (the int64 minimum for null)."""
        key = (name, "us")
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = _us(self.pa, self.get(name))
        return found


def _dictionary_index(pa: Any, array: Any, cls: type[enum.Enum]) -> NDArray[np.int32]:
    """A dictionary text array as the index of each row's value among ``cls``'s
    values (-1 for null or another value): looked up once per dictionary value."""
    labels = pa.array([m.value for m in cls], pa.string())
    by_value = pa.compute.index_in(array.dictionary.cast(pa.string()), value_set=labels)
    codes = np.append(np.asarray(_np(pa.compute.fill_null(by_value, -1)), dtype=np.int32), -1)
    indices = array.indices
    n = len(indices)
    width = ("u" if pa.types.is_unsigned_integer(indices.type) else "i") + str(
        indices.type.bit_width // 8
    )
    positions = np.frombuffer(indices.buffers()[1], dtype=width)
    positions = positions[indices.offset : indices.offset + n]
    if array.null_count:  # a null row points past the values, at -1
        positions = np.where(_valid(array), positions, len(codes) - 1)
    return np.asarray(codes[positions], dtype=np.int32)


def decide_fast(
    ruleset: RuleSet,
    table: Any,
    kinds: list[Any],
    *,
    policy: Policy | None,
    first_row: int,
    schema: Any,
) -> tuple[NDArray[np.intp], Any | None]:
    """Decide the rows of returns that pass the checks.

    Returns:
        The indices of the rows decided, and their output columns (a table
        of ``schema`` without the passed-through ``meta`` columns), or no
        rows and ``None`` when the table does not suit the fast path.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    none: tuple[NDArray[np.intp], Any | None] = (np.zeros(0, dtype=np.intp), None)
    if "return" not in ruleset.kinds or not _usable_kind(ruleset.kind("return")):
        return none
    if not _types_fit(pa, table) or table.num_rows == 0:
        return none
    policy = policy or ruleset.policy
    c = _Columns(pa, table)
    kind_column = pa.array(kinds, pa.string())
    ok = _bools(pc.equal(kind_column, "return"), False).copy()
    try:
        ok &= _checks(pa, pc, c)
    except (pa.ArrowInvalid, OverflowError):  # a value beyond a cast: the line path says
        return none
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return none
    if rows.size < table.num_rows:
        c = _Columns(pa, table.take(pa.array(rows)))
    try:
        columns = _facts(pa, pc, c, ruleset.kind("return"), policy)
        from csrules.batch._ruleset import decide_kind_columns

        batch = decide_kind_columns(ruleset.kind("return"), policy, columns)
    except Exception:
        return none
    return _output(pa, pc, c, batch, policy, rows, first_row, schema)


# ------------------------------------------------------------------ the checks


def _valid(array: Any) -> NDArray[np.bool_]:
    n = len(array)
    if array.null_count == 0:
        return np.ones(n, dtype=bool)
    if array.null_count == n:
        return np.zeros(n, dtype=bool)
    return _bits(array.buffers()[0], array.offset, n)  # a fresh array of its own


def _nonempty(pc: Any, array: Any) -> NDArray[np.bool_]:
    """Rows with a string of one character or more (false for null)."""
    n = len(array)
    if array.type.id == 0:  # null type
        return np.zeros(n, dtype=bool)
    if array.type.id == 13:  # utf8 (int32 offsets): lengths from the offsets
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset :]
        out = np.diff(offsets[: n + 1]) > 0
        return out & _valid(array) if array.null_count else out
    return _bools(pc.greater(pc.utf8_length(array), 0), False)


def _us(pa: Any, array: Any) -> NDArray[np.int64]:
    """Microseconds since the epoch (NULL where null)."""
    null = np.iinfo(np.int64).min
    n = len(array)
    if pa.types.is_null(array.type):
        return np.full(n, null, dtype=np.int64)
    if array.type.unit != "us":
        array = array.cast(pa.timestamp("us", tz="UTC"))
    # the values as they are stored: microseconds since the epoch, in UTC
    values = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + n]
    if array.null_count:
        return np.where(_valid(array), values, null)
    return values.copy()


def _in(c: _Columns, name: str, cls: type[enum.Enum], *, optional: bool) -> NDArray[np.bool_]:
    """Rows whose ``name`` is one of ``cls``'s values (or null, when ``optional``)."""
    out = c.index(name, cls) >= 0
    if optional:
        out |= ~_valid(c.get(name, c.pa.string()))
    return out


def _checks(pa: Any, pc: Any, c: _Columns) -> NDArray[np.bool_]:
    """Rows the codec reads without a problem and the rules decide (a subset)."""
    from csrules._domain import OrderStatus, PaymentMethod, Reason, RequestType

    null = np.iinfo(np.int64).min
    ok = np.ones(c.n, dtype=bool)
    for name in _TEXT:
        ok &= _nonempty(pc, c.get(name, pa.string()))
    ok &= _in(c, "order.status", OrderStatus, optional=False)
    ok &= _in(c, "order.payment_method", PaymentMethod, optional=True)
    ok &= _in(c, "request.type", RequestType, optional=False)
    ok &= _in(c, "request.reason", Reason, optional=False)
    times = {name: c.us(name) for name in _TIMES}
    for value in times.values():
        ok &= (value == null) | ((value >= _LOW_US) & (value <= _HIGH_US))
    at, placed = times["at"], times["order.placed_at"]
    paid, shipped, signed = (
        times["order.paid_at"],
        times["order.shipped_at"],
        times["order.signed_at"],
    )
    proof, received = times["request.proof_submitted_at"], times["request.goods_received_at"]
    ok &= (at != null) & (placed != null)

    def not_before(later: NDArray[np.int64], earlier: NDArray[np.int64]) -> NDArray[np.bool_]:
        return np.asarray((later == null) | (earlier == null) | (later >= earlier), dtype=bool)

    # the order's times in sequence (a cash-on-delivery order is paid at the door)
    cod = c.index("order.payment_method", PaymentMethod) == _position(PaymentMethod.COD)
    ok &= not_before(paid, placed) & not_before(shipped, placed) & (cod | not_before(shipped, paid))
    ok &= not_before(signed, placed) & not_before(signed, shipped)
    for earlier in (placed, paid, shipped, signed):
        ok &= not_before(at, earlier)
    ok &= not_before(received, shipped) & not_before(received, placed) & not_before(proof, placed)
    status = c.index("order.status", OrderStatus)
    signed_order = status == _position(OrderStatus.SIGNED)
    ok &= (status != _position(OrderStatus.PAID_UNSHIPPED)) | (paid != null)
    ok &= ~((status == _position(OrderStatus.SHIPPED)) | signed_order) | (shipped != null)
    ok &= ~signed_order | (signed != null)
    # the condition: all of it or none of it; needed when goods come back after signing
    given = np.zeros(c.n, dtype=bool)
    complete = np.ones(c.n, dtype=bool)
    for name in (*_CONDITION, "packaging_intact"):
        valid = _valid(c.get(f"request.condition.{name}", pa.bool_()))
        given |= valid
        if name != "packaging_intact":
            complete &= valid
    ok &= ~given | complete
    rtype = c.index("request.type", RequestType)
    back = (rtype == _position(RequestType.RETURN)) | (rtype == _position(RequestType.EXCHANGE))
    ok &= given | ~(signed_order & back)
    fee = c.get("order.shipping_fee")
    if not pa.types.is_null(fee.type):
        ok &= _bools(pc.greater_equal(fee, pa.scalar(0, fee.type)), True)
    ok &= _lines_ok(pa, pc, c.get("order.lines"), c.n)
    return ok


def _lines_ok(pa: Any, pc: Any, lines: Any, n: int) -> NDArray[np.bool_]:
    if pa.types.is_null(lines.type):
        return np.zeros(n, dtype=bool)
    lengths = np.asarray(_np(pc.fill_null(pc.list_value_length(lines), 0)), dtype=np.int64)
    ok = lengths >= 1
    items = pc.list_flatten(lines)
    if len(items) == 0:
        return ok
    parent = np.asarray(_np(pc.list_parent_indices(lines)), dtype=np.int64)
    good = _valid(items)
    good &= _nonempty(pc, pc.struct_field(items, "sku"))
    price = pc.struct_field(items, "unit_price")
    good &= _bools(pc.greater_equal(price, pa.scalar(0, price.type)), False)
    quantity = pc.struct_field(items, "quantity")
    good &= _bools(pc.greater_equal(quantity, 1), False)
    names = {items.type.field(i).name for i in range(items.type.num_fields)}
    if "category" in names:
        category = pc.struct_field(items, "category")
        good &= ~_valid(category) | _nonempty(pc, category)
    bad_rows = np.bincount(parent[~good], minlength=n)[:n] > 0
    return np.asarray(ok & ~bad_rows, dtype=bool)


# ------------------------------------------------------------------ the facts


def _position(member: enum.Enum) -> int:
    """The index of ``member`` among its class's values (its code)."""
    return list(type(member)).index(member)


def _codes(c: _Columns, name: str, cls: type[enum.Enum], default: enum.Enum | None) -> Any:
    """An enum column as the batch's codes (``default``'s for null)."""
    from csrules.batch._encode import NULL_CODE, code_dtype, with_kind

    index = c.index(name, cls)
    fill = NULL_CODE if default is None else _position(default)
    codes = np.where(index < 0, fill, index).astype(code_dtype(cls))
    return with_kind(codes, "enum", cls)


def _datetimes(c: _Columns, name: str) -> NDArray[Any]:
    return c.us(name).view("datetime64[us]")  # the int64 minimum is NaT


def _flag(pa: Any, pc: Any, array: Any, default: bool) -> NDArray[np.bool_]:
    return _bools(array, default)


def _facts(
    pa: Any, pc: Any, c: _Columns, kind: KindSpec, policy: Policy
) -> dict[str, NDArray[Any]]:
    """The input facts of the return kind as batch columns (see ``docs/batch.md``)."""
    from csrules._domain import OrderStatus, PaymentMethod, Reason, RequestType

    columns: dict[str, NDArray[Any]] = {
        "request_type": _codes(c, "request.type", RequestType, None),
        "reason": _codes(c, "request.reason", Reason, None),
        "status": _codes(c, "order.status", OrderStatus, None),
        "payment_method": _codes(c, "order.payment_method", PaymentMethod, PaymentMethod.ALIPAY),
        "in_warehouse_system": _flag(pa, pc, c.get("order.in_warehouse_system"), False),
        "courier_confirmed": _flag(pa, pc, c.get("request.courier_confirmed"), False),
        "free_shipping_promotion": _flag(pa, pc, c.get("order.free_shipping_promotion"), False),
    }
    for fact, name in (("paid_at", "order.paid_at"), ("signed_at", "order.signed_at"),
                       ("at", "at"), ("proof_submitted_at", "request.proof_submitted_at"),
                       ("goods_received_at", "request.goods_received_at")):  # fmt: skip
        columns[fact] = _datetimes(c, name)
    given = np.zeros(c.n, dtype=bool)
    for name in (*_CONDITION, "packaging_intact"):
        given |= _valid(c.get(f"request.condition.{name}", pa.bool_()))
    # the condition is an object in the single path; here only whether it is given
    columns["condition_given"] = given
    for name in _CONDITION:
        columns[name] = _flag(pa, pc, c.get(f"request.condition.{name}"), False) & given
    columns["packaging_intact"] = _flag(pa, pc, c.get("request.condition.packaging_intact"), True)
    columns["packaging_intact"] &= given
    _categories(pa, pc, c, kind, policy, columns)
    return columns


def _categories(
    pa: Any,
    pc: Any,
    c: _Columns,
    kind: KindSpec,
    policy: Policy,
    columns: dict[str, NDArray[Any]],
) -> None:
    """``categories`` (the tuple of each order's line categories), and the facts
    derived from it alone, computed once per distinct tuple."""
    from csrules._ruleset import derived_order
    from csrules.batch._ruleset import _derivation

    lines = c.get("order.lines")
    items = pc.list_flatten(lines)
    names = {items.type.field(i).name for i in range(items.type.num_fields)}
    if "category" in names:
        category = pc.fill_null(pc.struct_field(items, "category"), "general")
    else:
        category = pa.array(["general"] * len(items), pa.string())
    lengths = np.asarray(_np(pc.fill_null(pc.list_value_length(lines), 0)), dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    per_row = pa.ListArray.from_arrays(pa.array(offsets), category)
    joined = pc.binary_join(per_row, "\x1f").dictionary_encode()
    indices = np.asarray(_np(joined.indices), dtype=np.intp)
    texts = joined.dictionary.to_pylist()
    # the derived values of each distinct tuple, kept with the kind across
    # chunks: the same few hundred tuples come back in every chunk
    memo: dict[str, tuple[Any, ...]] = kind._cache.setdefault("fast_categories", {})
    dtypes: dict[str, Any] = kind._cache.setdefault("fast_categories_dtypes", {})
    if len(memo) + len(texts) > _MAX_KEPT_TUPLES:
        memo.clear()  # room for this chunk's tuples, whatever they are
    new = [t for t in dict.fromkeys(texts) if t not in memo]
    uniques = np.empty(len(new), dtype=object)
    for i, text in enumerate(new):
        uniques[i] = tuple(text.split("\x1f"))
    frame: dict[str, NDArray[Any]] = {"categories": uniques}
    for spec in derived_order(kind):
        if spec.derive is None or not spec.reads() or not spec.reads() <= set(frame):
            continue
        if spec.derive.params():
            continue
        result = _derivation(kind, spec).evaluate(frame, {}, policy.calendar)
        frame[spec.name] = result.outputs[spec.name]
    derived = tuple(frame)
    for name in derived:
        dtypes.setdefault(name, frame[name].dtype)
    for i, text in enumerate(new):
        memo[text] = tuple(frame[name][i] for name in derived)
    for j, name in enumerate(derived):
        values = np.empty(len(texts), dtype=dtypes[name])
        for i, text in enumerate(texts):  # one by one: a tuple is one object
            values[i] = memo[text][j]
        columns[name] = values[indices]


# ------------------------------------------------------------------ the output


def _labels(pa: Any, codes: NDArray[Any], cls: type[enum.Enum]) -> Any:
    dictionary = pa.array([m.value for m in cls], pa.string())
    mask = codes < 0
    indices = pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def _output(
    pa: Any,
    pc: Any,
    c: _Columns,
    batch: Any,
    policy: Policy,
    rows: NDArray[np.intp],
    first_row: int,
    schema: Any,
) -> tuple[NDArray[np.intp], Any | None]:
    from csrules._decision import FLOOR_OFF_CLAUSE
    from csrules.batch._encode import NULL_INT, to_python

    action, freight, refund, duties = (batch[name] for name in
                                       ("return_action", "freight_payer", "refund_due",
                                        "return_duties"))  # fmt: skip
    n = len(rows)
    hits = duties.hits
    assert hits is not None
    # the distinct combinations of fired rules: lists are built once for each
    first, inverse = _distinct(_fired_key(
        [(r.rule_index, len(r.table.rules)) for r in (action, freight, refund)], hits
    ))  # fmt: skip
    rules: list[list[str]] = []
    approvals: list[list[str]] = []
    duty: list[list[str]] = []
    approvals_column = action.outputs["approvals"]
    duty_setting = np.zeros(len(duties.table.rules), dtype=bool)
    duty_setting[list(duties.sets["duty"])] = True
    for row in first:
        fired: list[str] = [] if policy.legal_floor else [FLOOR_OFF_CLAUSE]
        for result in (action, freight, refund):
            index = int(result.rule_index[row])
            if index >= 0 and not result.table.rules[index].silent:
                fired.append(result.table.rules[index].clause)
        chosen = np.flatnonzero(hits[row])
        fired.extend(
            duties.table.rules[i].clause for i in chosen if not duties.table.rules[i].silent
        )
        rules.append(fired)
        value = to_python(
            approvals_column[row : row + 1], action.kinds["approvals"],
            action.enums.get("approvals"),
        )[0]  # fmt: skip
        approvals.append([_label(v) for v in value])  # type: ignore[attr-defined]
        setting = np.flatnonzero(hits[row] & duty_setting)
        values = to_python(duties.outputs["duty"][row, setting], duties.kinds["duty"],
                           duties.enums.get("duty"))  # fmt: skip
        duty.append([_label(v) for v in values])
    refund_days = _ordinals(refund.outputs["refund_due"])
    refund_null = refund_days == NULL_INT
    estimated = batch.estimated  # the engine's own flag, as the single decision's
    ids = c.get("id")
    columns: dict[str, Any] = {
        "id": ids.cast(pa.string()),
        "row": pa.array(rows.astype(np.int64) + first_row),
        "kind": _repeated(pa, "return", n),
        "decision.action": _labels(pa, action.outputs["action"], action.enums["action"]),
        "decision.eligible": pa.array(np.asarray(action.outputs["eligible"], dtype=bool)),
        "decision.approvals": _lists(pa, approvals, inverse),
        "decision.freight_payer": _labels(
            pa, freight.outputs["freight_payer"], freight.enums["freight_payer"]
        ),
        "decision.refund_due": pa.array(
            np.where(refund_null, 0, refund_days - _EPOCH_ORDINAL).astype(np.int32),
            mask=refund_null,
        ).cast(pa.date32()),
        "decision.duties": _lists(pa, duty, inverse),
        "decision.rules": _lists(pa, rules, inverse),
        "decision.estimated": pa.array(estimated),
        "decision.legal_floor": pa.array(np.full(n, policy.legal_floor, dtype=bool)),
    }
    arrays = []
    fields = [f for f in schema if not (f.name == "meta" or f.name.startswith("meta."))]
    for field in fields:
        value = columns.get(field.name)
        if value is None:
            value = pa.nulls(n, field.type)
        elif value.type != field.type:
            value = value.cast(field.type)
        arrays.append(value)
    return rows, pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _fired_key(
    firsts: list[tuple[NDArray[np.intp], int]], hits: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Each row's fired rules as one number, equal for two rows exactly when
    they fired the same rules: ``firsts`` the rule index (-1 for none) and the
    number of rules of each first-hit table, ``hits`` a collect table's hits
    (rows by rules, fewer than 62 rules)."""
    n = hits.shape[0]
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for index, count in firsts:
        key = key * (count + 1) + (index.astype(np.int64) + 1)
        span *= count + 1
    # the collect table's hits as the bits of a second number (a shift per
    # rule over its row of hits, as evaluate stacks them, is four times
    # cheaper than packing the bits of each row)
    by_rule = hits.T
    collected = np.zeros(n, dtype=np.int64)
    for i in range(by_rule.shape[0]):
        collected |= by_rule[i].astype(np.int64) << i
    if span << by_rule.shape[0] < 1 << _KEY_BITS:  # both fit in one int64
        return key * (np.int64(1) << np.int64(by_rule.shape[0])) + collected
    # else the numbers of the distinct values of each, combined
    _, first_codes = _distinct(key)
    _, hit_codes = _distinct(collected)
    return first_codes.astype(np.int64) * (int(hit_codes.max(initial=0)) + 1) + hit_codes


def _repeated(pa: Any, text: str, n: int) -> Any:
    """A string column of ``n`` times ``text``, built from its buffers."""
    data = text.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(data)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
    )


def _distinct(key: NDArray[np.int64]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The first row of each distinct key, and each row's key number (hashing, no sort)."""
    import pyarrow as pa

    encoded = pa.array(key).dictionary_encode()
    inverse = np.asarray(encoded.indices.to_numpy(), dtype=np.intp)
    first = np.full(len(encoded.dictionary), len(key), dtype=np.intp)
    np.minimum.at(first, inverse, np.arange(len(key), dtype=np.intp))
    return first, inverse


def _lists(pa: Any, lists: list[list[str]], inverse: NDArray[np.intp]) -> Any:
    """A ``list<string>`` column whose row ``i`` is ``lists[inverse[i]]``: the few
    distinct lists as a list array, gathered by Arrow's ``take``."""
    distinct = pa.array(lists, pa.list_(pa.string()))
    longest = max((len(items) for items in lists), default=0)
    rows = max(1, _MAX_LIST_VALUES // max(longest, 1))  # rows whose values int32 offsets hold
    if len(inverse) <= rows:
        return distinct.take(pa.array(inverse))
    parts = [distinct.take(pa.array(inverse[i : i + rows])) for i in range(0, len(inverse), rows)]
    return pa.chunked_array(parts, pa.list_(pa.string()))


def _ordinals(column: NDArray[Any]) -> NDArray[np.int64]:
    """A date column as int64 ordinals (``NULL_INT`` for none), also when it holds objects."""
    from csrules.batch._encode import NULL_INT

    if column.dtype.kind == "i":
        return np.asarray(column, dtype=np.int64)
    return np.array(
        [NULL_INT if v is None else v.toordinal() if isinstance(v, dt.date) else int(v)
         for v in column],
        dtype=np.int64,
    )  # fmt: skip


def _label(value: object) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)
