"""Deciding a Spark DataFrame of cases on a cluster.

:func:`decide` runs the rule set's compiled tables on every executor through
``DataFrame.mapInArrow``: each Arrow batch of a partition goes through
:func:`csrules.io.decide_arrow`, the same code ``RuleSet.decide_frame`` runs
on one machine, so a row decided on Spark gets exactly the decision it gets
locally. The output schema is :func:`csrules.io.decision_schema`.

The rule set reaches the executors by name (``"b2c"``, ``"taobao"``: each
executor loads its bundled copy) or pickled (any other :class:`RuleSet`; it
is rebuilt and compiled once per Python worker).

Complaints are refused: escalation correlates every complaint of a
customer, an order or a department in time order on one monitor, which a
partitioned DataFrame cannot give. Decide them on one machine with
``csrules decide`` (or ``csrules batch``) or ``RuleSet.decide_frame`` and a
monitor.

Needs ``pip install 'csrules[spark]'`` (pyspark 3.5 or later, pyarrow) and a
Java runtime Spark supports. See ``docs/spark.md``.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from csrules._ruleset import RuleSet
from csrules._ruleset import ruleset as _load_ruleset
from csrules.exceptions import ArgumentTypeError, MissingDependencyError, StreamError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

__all__ = ["PARTITION_ROWS", "decide"]

#: ``row`` of the first case of partition *p* is ``p * PARTITION_ROWS + 1``
#: (as ``monotonically_increasing_id()`` numbers rows, plus one): rows are
#: unique and increase in the DataFrame's order, consecutive within a
#: partition, and 1, 2, 3, ... for a DataFrame of one partition.
PARTITION_ROWS = 1 << 33

_BUNDLED_NAMES = ("b2c", "taobao")

_COMPLAINTS_NOT_DISTRIBUTED = (
    "kind 'complaint' is not decided on Spark: escalation correlates every complaint of a "
    "customer, an order or a department in time order on one monitor (B2C-8.7), and a "
    "partitioned DataFrame splits them across executors; expected 'return', 'promotion' or "
    "'price_adjustment'. Decide complaints on one machine, in received_at order, with "
    "`csrules decide` or `csrules batch`, or with RuleSet.decide_frame(..., monitor=...)"
)


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as err:
        msg = "csrules.spark needs pyspark 3.5 or later: pip install 'csrules[spark]'"
        raise MissingDependencyError(msg, name="pyspark") from err


def decide(
    df: DataFrame,
    ruleset: str | RuleSet = "b2c",
    *,
    kind: str,
    tz: str | None = None,
) -> DataFrame:
    """Decide a Spark DataFrame of cases of one kind, on the executors.

    Args:
        df: the cases, one per row, in the columns :func:`csrules.io.decide_arrow`
            reads (the contract's JSON paths with dots: ``id``, ``at``,
            ``order.id``, ... as ``examples/generate.py`` writes them to
            Parquet; ``order.lines`` a list of structs or JSON text).
        ruleset: a bundled rule set's name (``"b2c"``, ``"taobao"``),
            ``"MODULE:ATTR"`` (resolved here, on the driver, and shipped
            pickled) or a :class:`~csrules.RuleSet`.
        kind: the kind of every row: ``"return"``, ``"promotion"`` or
            ``"price_adjustment"``. Complaints are refused (see the module).
        tz: the zone of naive time columns (Spark's ``TIMESTAMP_NTZ``, ISO
            strings without an offset), as in ``decide_arrow``.

    Returns:
        A lazy DataFrame with :func:`csrules.io.decision_schema`'s columns:
        per input row ``id``, ``row``, ``kind``, the ``decision.*`` columns,
        ``error.code`` and ``error.message`` (a row that cannot be decided
        gets the error ``csrules decide`` gives its JSON line), and the
        input's ``meta.*`` columns. ``row`` is numbered per partition (see
        :data:`PARTITION_ROWS`), not consecutively across partitions.

    Raises:
        StreamError: ``kind`` is ``"complaint"``.
        RuleDefinitionError: the rule set has no such kind, or its name finds
            no rule set.
        ArgumentTypeError: ``df`` is not a DataFrame or ``kind`` not a string.
        MissingDependencyError: pyspark (or pyarrow) is not installed.

    A column ``decide_arrow`` refuses as a whole (a naive time column without
    ``tz``, a floating-point money column) fails the Spark job when it runs:
    its ``DomainValueError`` message, naming the column, is in Spark's error.
    """
    if not isinstance(kind, str):
        raise ArgumentTypeError("kind", kind, "a kind of case name (a str)")
    if kind == "complaint":
        raise StreamError(_COMPLAINTS_NOT_DISTRIBUTED)
    _require_pyspark()
    from pyspark.sql import DataFrame as SparkDataFrame

    from csrules.io import decision_schema

    if not isinstance(df, SparkDataFrame):
        raise ArgumentTypeError("df", df, "a pyspark.sql.DataFrame")
    rules = _load_ruleset(ruleset)
    rules.kind(kind)  # an unknown kind fails here, on the driver
    shipped: str | bytes
    if isinstance(ruleset, str) and ruleset in _BUNDLED_NAMES:
        shipped = ruleset
    else:
        shipped = pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL)
    input_schema = _arrow_input_schema(df)
    schema = _spark_arrow_schema(decision_schema(rules, kind, input_schema=input_schema))
    # mapInArrow resolves its input columns by name, and Spark reads a dot in a
    # name as a struct field: hand it plain positional names, renamed back on
    # the executor to the contract's dotted paths
    names = tuple(df.columns)
    plain = df.toDF(*(f"_c{i}" for i in range(len(names))))
    fn = functools.partial(_decide_partition, shipped, kind, tz, names, schema)
    return plain.mapInArrow(fn, _spark_schema(schema))


def _arrow_input_schema(df: DataFrame) -> pa.Schema:
    """The Arrow schema of the batches the executors get, as far as it converts
    (:func:`~csrules.io.decision_schema` reads it for the ``meta.*`` columns)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    fields = []
    for field in df.schema.fields:
        try:
            try:  # pyspark 4 asks for the zone of timestamps
                arrow = to_arrow_type(field.dataType, timezone="UTC")
            except TypeError:  # pyspark 3.5 writes them in UTC
                arrow = to_arrow_type(field.dataType)
        except Exception:  # a type Arrow cannot take is not a meta column
            continue
        fields.append(pa.field(field.name, arrow))
    return pa.schema(fields)


def _spark_schema(schema: pa.Schema) -> Any:
    """The Spark StructType of an Arrow schema."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _spark_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every timestamp in microseconds, the one unit Spark takes from Arrow.

    Decision times are whole seconds, so the cast loses nothing.
    """
    import pyarrow as pa

    def convert(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_timestamp(kind):
            return pa.timestamp("us", tz=kind.tz)
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return pa.list_(pa.field(kind.value_field.name, convert(kind.value_type)))
        if pa.types.is_struct(kind):
            return pa.struct([f.with_type(convert(f.type)) for f in kind])
        return kind

    return pa.schema(
        [f.with_type(convert(f.type)) for f in schema], metadata=schema.metadata
    )


_RULESETS: dict[str, RuleSet] = {}
_RULESETS_LOCK = threading.Lock()


def _worker_ruleset(shipped: str | bytes) -> RuleSet:
    """The rule set on an executor: bundled by name, else unpickled once per worker."""
    if isinstance(shipped, str):
        return _load_ruleset(shipped)
    key = hashlib.sha256(shipped).hexdigest()
    with _RULESETS_LOCK:
        found = _RULESETS.get(key)
        if found is None:
            found = pickle.loads(shipped)  # the driver's own pickle
            if not isinstance(found, RuleSet):
                raise ArgumentTypeError("ruleset", found, "a pickled RuleSet")
            _RULESETS[key] = found
        return found


def _decide_partition(
    shipped: str | bytes,
    kind: str,
    tz: str | None,
    names: tuple[str, ...],
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    """Decide the Arrow batches of one partition (runs on an executor)."""
    import pyarrow as pa
    from pyspark import TaskContext

    from csrules.io import decide_arrow

    rules = _worker_ruleset(shipped)
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    next_row = partition * PARTITION_ROWS + 1
    for batch in batches:
        if batch.num_rows == 0:
            continue
        table = pa.Table.from_batches([batch]).rename_columns(list(names))
        decided = decide_arrow(rules, table, kind=kind, tz=tz, first_row=next_row)
        next_row += batch.num_rows
        yield from decided.select(schema.names).cast(schema).to_batches()
