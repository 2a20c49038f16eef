"""Deciding files of cases: ``csrules batch IN OUT`` and :func:`batch_file`.

The input is CSV, Parquet or JSON Lines and the output Parquet, CSV or JSON
Lines, each chosen by the file's extension (:data:`FORMATS`). CSV and Parquet
hold one case per row, one column per contract field named by its JSON path
with dots (``order.signed_at``, as ``examples/generate.py`` writes them);
JSON Lines holds one contract case per line, as ``csrules decide`` reads it.

Files are read and decided in chunks of ``chunk_rows`` rows, so memory does
not grow with the file (except for complaints, below):

- Parquet: :meth:`pyarrow.parquet.ParquetFile.iter_batches`, typed columns,
  a row group at a time when it holds half to twice ``chunk_rows`` rows
  (else ``chunk_rows`` at a time, small row groups put together); the
  columns of values the vectorised path reads as codes (``order.status``,
  ``request.reason``...) come as Parquet keeps them, dictionaries;
- CSV: :func:`pyarrow.csv.open_csv` with every column read as text (empty
  cells are null), so a bad value is a row error and never stops the run;
- JSON Lines: line by line, through the same line reading and case decoder
  as ``csrules decide``: a line that is not UTF-8, not JSON or not a valid
  case gets the error ``csrules decide`` gives it (``invalid_encoding``,
  ``invalid_json``, ``invalid_value``, ...). Valid cases are then decided as
  rows like a CSV file's.

Every chunk goes through :func:`csrules.io._frames.decide_arrow`. The output
has one row per input row, in input order: ``id``, ``row`` (the row number
from 1; for JSON Lines the line number), the ``decision.*`` columns and
``error.code`` / ``error.message``. A CSV output writes list columns as JSON
text and times as ISO-8601 with ``+08:00``; a JSON Lines output writes each
row as one flat JSON object with the same dotted keys as the columns (lists
as JSON arrays, null for nothing), so the three outputs hold the same table.

Kinds without cross-row state are decided by ``workers`` processes over
chunks (the output keeps the input order). Complaints go through one
escalation monitor in the order of their ``at`` time (the complaint's
``received_at``; ties in input order), never split across workers: a
complaint file is read whole into memory to sort it (its Arrow table, plus
an index), then decided in chunks in that order, and written back in input
order. A complaint file larger than memory must be sorted by ``at`` outside
(e.g. with DuckDB or ``sort``) and decided in pieces, with ``csrules decide
--state`` to carry the monitor across them.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import itertools
import json
import math
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any, Final

import attrs
import orjson

from csrules.exceptions import BatchFileError, ContractError, CsrulesError

if TYPE_CHECKING:
    import pyarrow as pa

    from csrules._decision import Lang
    from csrules._ruleset import RuleSet
    from csrules.policy import Policy

__all__ = ["DEFAULT_CHUNK_ROWS", "FORMATS", "BatchResult", "batch_file", "file_format"]

#: The file formats by extension (lower case).
FORMATS: Final[Mapping[str, str]] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
#: Rows decided at a time unless ``chunk_rows`` says otherwise.
DEFAULT_CHUNK_ROWS: Final = 65_536
#: Rows a chunk holds by default when more than one worker process decides:
#: the parent holds a few chunks for each worker (read, sent, decided, being
#: written), so its memory grows with the chunk and the workers.
_WORKERS_CHUNK_ROWS: Final = 32_768
#: Chunks read ahead of the deciding: on one worker the reader gets on while
#: the first chunk's tables are compiled; with more, it only feeds the workers.
_READ_AHEAD: Final = 4
_READ_AHEAD_WORKERS: Final = 2
#: The kind whose cases carry state from row to row (the escalation monitor).
_STATEFUL_KIND: Final = "complaint"
#: The columns of the errors file besides the input row.
_ERROR_COLUMNS: Final = ("id", "row", "error.code", "error.message")
_EMPTY_LINE: Final = "empty line: expected one JSON case"


def file_format(path: str | os.PathLike[str]) -> str:
    """The format of ``path`` by its extension: ``"parquet"``, ``"csv"`` or ``"jsonl"``.

    Raises:
        BatchFileError: the extension is none of :data:`FORMATS`.
    """
    text = os.fspath(path)
    ext = os.path.splitext(text)[1].lower()
    found = FORMATS.get(ext)
    if found is None:
        known = ", ".join(FORMATS)
        shown = ext or "no extension"
        msg = f"unknown file format ({shown}): expected a name ending in {known}"
        raise BatchFileError(text, msg)
    return found


@attrs.frozen
class BatchResult:
    """What a :func:`batch_file` run did.

    Attributes:
        rows: the input rows read, each with its output row.
        errors: the rows that got an error instead of a decision.
        kind: the kind of case decided.
    """

    rows: int
    errors: int
    kind: str


# ------------------------------------------------------------------ chunks


_Bad = tuple[int, dict[str, Any], str | None]


@attrs.frozen
class _Chunk:
    """Rows to decide: a table of cases, with the row numbers of its rows.

    ``bad`` are rows already given their output row (a JSON line that is not
    a case, a CSV row with a flag or count that is not one): ``(row, output
    row, input text)``.
    """

    first_row: int
    count: int
    table: pa.Table
    rows: Sequence[int] | None = None  # the table's row numbers when not first_row.. in order
    bad: Sequence[_Bad] = ()
    # JSON Lines: each table row's line as it came (for --errors), when kept
    texts: Sequence[str] | None = None


@attrs.frozen
class _Settings:
    """What every chunk is decided with (sent once to each worker process).

    A rule set known by name (``b2c``, ``MODULE:ATTR``) travels to a worker
    as its name and the policy replacing its parameters, and is loaded there
    as here: the same objects the vectorised paths recognise, where a pickled
    copy would be an equal rule set they do not.
    """

    ruleset: RuleSet
    kind: str
    tz: str | None
    policy: Policy | None
    lang: Lang
    errors: bool  # build the errors table too
    name: str | None = None  # how csrules.ruleset finds the rule set
    replacing: Policy | None = None  # the policy put in place of the rule set's

    def __reduce__(self) -> tuple[Any, ...]:
        ruleset = None if self.name is not None else self.ruleset
        fields = (self.kind, self.tz, self.policy, self.lang, self.errors)
        return (_settings, (ruleset, fields, self.name, self.replacing))


def _settings(
    ruleset: RuleSet | None, fields: tuple[Any, ...], name: str | None, replacing: Policy | None
) -> _Settings:
    if ruleset is None:
        ruleset = _load_ruleset(name or "b2c", replacing)
    kind, tz, policy, lang, errors = fields
    return _Settings(ruleset, kind, tz, policy, lang, errors, name, replacing)


def _load_ruleset(name: str, policy: Policy | None) -> RuleSet:
    from csrules._ruleset import ruleset

    found = ruleset(name)
    return found if policy is None else found.with_policy(policy)


def _decider() -> Callable[..., pa.Table]:
    from csrules.io._frames import decide_arrow

    return decide_arrow


def _output_schema(settings: _Settings) -> pa.Schema:
    import pyarrow as pa

    from csrules.io._frames import decision_schema

    schema = decision_schema(settings.ruleset, settings.kind)
    names = set(schema.names)
    head = [
        f for f in (pa.field("id", pa.string()), pa.field("row", pa.int64())) if f.name not in names
    ]
    tail = [
        pa.field(name, pa.string()) for name in ("error.code", "error.message") if name not in names
    ]
    return pa.schema([*head, *schema, *tail])


def _decide_chunk(
    chunk: _Chunk, settings: _Settings, monitor: Any = None
) -> tuple[pa.Table, pa.Table | None]:
    """The output rows of a chunk (all its rows, in row order) and its errors table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = _decider()(
        settings.ruleset,
        chunk.table,
        kind=settings.kind,
        tz=settings.tz,
        policy=settings.policy,
        monitor=monitor,
        first_row=chunk.first_row,
        lang=settings.lang,
    )
    inputs = chunk.table
    if chunk.rows is not None:
        out = _set_column(out, "row", pa.array(chunk.rows, pa.int64()))
    if chunk.bad:
        schema = out.schema
        bad = pa.Table.from_pylist([output for _, output, _ in chunk.bad], schema=schema)
        out = pa.concat_tables([out, bad])
        order = pc.sort_indices(out["row"])
        out = out.take(order)
    if not settings.errors:
        return out, None
    failed = pc.is_valid(out["error.code"])
    errors = out.filter(failed).select(list(_ERROR_COLUMNS))
    texts = _input_texts(chunk, inputs, out, failed)
    errors = errors.append_column(pa.field("input", pa.string()), pa.array(texts, pa.string()))
    return out, errors


def _set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, table.schema.field(index), values)


def _input_texts(chunk: _Chunk, inputs: pa.Table, out: pa.Table, failed: Any) -> list[str | None]:
    """The input row of each failed output row, as JSON text (a JSON line as it came)."""
    rows = out["row"].filter(failed).to_pylist()
    bad = {row: text for row, _, text in chunk.bad}
    if chunk.rows is None:
        position = {chunk.first_row + i: i for i in range(inputs.num_rows)}
    else:
        position = {row: i for i, row in enumerate(chunk.rows)}
    texts: list[str | None] = []
    for row in rows:
        if row in bad:
            texts.append(bad[row])
            continue
        index = position.get(row)
        if index is None:
            texts.append(None)
            continue
        if chunk.texts is not None:  # a JSON line, as it came
            texts.append(chunk.texts[index])
            continue
        row_table = inputs.slice(index, 1)
        try:
            record = row_table.to_pylist()[0]
        except UnicodeDecodeError:  # text that is not UTF-8: shown as \xff, as JSON Lines' is
            record = _as_bytes(row_table).to_pylist()[0]
        texts.append(json.dumps(record, ensure_ascii=False, default=_json_default))
    return texts


def _cell_texts(column: Any) -> list[str | None]:
    """A column's cells as text: ``None`` for null or empty, a value that is
    not text, or bytes that are not UTF-8 (a corrupt file), read as a frame's
    text cells are (:func:`csrules.io._frames._column_values`)."""
    import pyarrow as pa

    from csrules.io._frames import _column_values

    t = pa.types
    typ = column.type.value_type if t.is_dictionary(column.type) else column.type
    if not (t.is_string(typ) or t.is_large_string(typ) or t.is_binary(typ)
            or t.is_large_binary(typ)):  # fmt: skip
        return [None] * len(column)
    return [v if isinstance(v, str) else None for v in _column_values(pa, "", column, None, None)]


def _as_bytes(table: pa.Table) -> pa.Table:
    """``table`` with its text, at the top of a column or inside, as bytes
    (no UTF-8 check when read)."""
    import pyarrow as pa

    from csrules.io._frames import _has_text, _plain_type

    for i, field in enumerate(table.schema):
        if _has_text(pa, field.type):
            as_bytes = _plain_type(pa, field.type, pa.large_binary())
            table = table.set_column(i, field.name, table.column(i).cast(as_bytes))
    return table


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)  # Decimal


# ------------------------------------------------------------------ readers


def _rechunk(
    batches: Iterable[pa.RecordBatch], rows: int, *, whole: bool = False
) -> Iterator[pa.Table]:
    """The batches as tables of exactly ``rows`` rows (the last one fewer); or,
    ``whole``, of at least half of ``rows`` rows with no batch cut: a batch that
    big is a table as it is, with no copy (a Parquet file's batches come a row
    group, or ``rows`` rows of one, at a time)."""
    import pyarrow as pa

    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        held.append(batch)
        count += batch.num_rows
        if whole:
            if count >= max(1, rows // 2):
                yield pa.Table.from_batches(held)
                held, count = [], 0
            continue
        while count >= rows:
            table = pa.Table.from_batches(held)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            held = rest.to_batches()
            count = rest.num_rows
    if count:
        yield pa.Table.from_batches(held)


def _contiguous(tables: Iterable[pa.Table]) -> Iterator[_Chunk]:
    row = 1
    for table in tables:
        yield _Chunk(row, table.num_rows, table)
        row += table.num_rows


def _reading_error(path: str, err: Exception) -> BatchFileError:
    return BatchFileError(path, f"cannot read it any further: {err}", reading=True)


def _guarded(path: str, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches; a failure part way through is a :class:`BatchFileError` (``reading``)."""
    import pyarrow as pa

    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as err:
            raise _reading_error(path, err) from err
        yield batch


def _check_readable(path: str) -> None:
    if not os.path.exists(path):
        raise BatchFileError(path, "cannot read it: no such file")
    if os.path.isdir(path):
        raise BatchFileError(path, "cannot read it: it is a directory")
    if not os.access(path, os.R_OK):
        raise BatchFileError(path, "cannot read it: permission denied")


class _Source:
    """An input file: its chunks, and the number of rows when known in advance."""

    def __init__(self, path: str, chunk_rows: int, settings_kind: str | None, rules: Any) -> None:
        self.path = path
        self.format = file_format(path)
        self.chunk_rows = chunk_rows
        self.total: int | None = None
        self.bytes_read = 0  # of a JSON Lines file; see position()
        self.rows_read = 0
        self._csv_file: IO[bytes] | None = None
        self.size = os.path.getsize(path) if os.path.exists(path) else 0
        _check_readable(path)
        self._rules = rules
        self._kind = settings_kind
        self.settings: _Settings | None = None
        if self.format == "parquet":
            self._open_parquet()
        elif self.format == "csv":
            self._open_csv()

    # -- Parquet ------------------------------------------------------------
    def _open_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from csrules.io._frames_fast import DICTIONARY_COLUMNS

        try:
            meta = pq.read_metadata(self.path)  # the footer, read once
            # columns of values (a status, a reason) as their dictionary codes,
            # as Parquet keeps them: no text per row to build, read or compare
            codes = [
                f.name
                for f in meta.schema.to_arrow_schema()
                if f.name in DICTIONARY_COLUMNS and pa.types.is_string(f.type)
            ]
            # pre_buffer keeps what it read ahead for the whole file (memory grows with it)
            self._parquet = pq.ParquetFile(
                self.path, metadata=meta, pre_buffer=False, read_dictionary=codes
            )
        except (pa.ArrowException, OSError) as err:
            raise BatchFileError(self.path, f"not a readable Parquet file: {err}") from err
        self.total = self._parquet.metadata.num_rows

    # -- CSV ------------------------------------------------------------------
    def _open_csv(self) -> None:
        try:  # the header line alone: a bad byte further down is that row's error
            with open(self.path, "rb") as file:
                first = file.readline()
            cr = first.find(b"\r")
            if cr >= 0 and first[cr : cr + 2] != b"\r\n":  # lines end in CR alone
                first = first[:cr]
            header = next(csv.reader([first.decode("utf-8-sig")]), None)
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise BatchFileError(self.path, f"cannot read its header line: {err}") from err
        if not header:
            raise BatchFileError(self.path, "no header line: expected the column names")
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise BatchFileError(self.path, f"the column {name!r} appears twice in the header")
            seen.add(name)
        self._header = header

    def _csv_batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # bytes first: a cell that is not UTF-8 is its row's error, not the file's
        # only an empty cell is null: "NA", "null" or "N/A" are values like any other
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(self._header, pa.binary()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        read = pacsv.ReadOptions(block_size=1 << 22)
        parse = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=self._invalid_row)
        try:
            self._csv_file = open(self.path, "rb")  # noqa: SIM115 -- closed with the reader
            reader = pacsv.open_csv(
                self._csv_file, read_options=read, parse_options=parse, convert_options=convert
            )
        except (pa.ArrowException, OSError) as err:
            raise BatchFileError(self.path, f"not a readable CSV file: {err}") from err
        return _guarded(self.path, iter(reader))

    def _invalid_row(self, row: Any) -> str:
        """A row with another number of fields than the header: stop the fast
        reader, which cannot tell where the row is; :meth:`_csv_rows` takes over."""
        self._malformed = True
        return "error"

    def _csv_rows(self, done: int) -> Iterator[_Chunk]:
        """The CSV rows after the first ``done``, read with :mod:`csv`: slower
        than pyarrow's reader, but it knows each row's number, so a row with
        too few or too many fields becomes that row's ``invalid_csv`` error."""
        import pyarrow as pa

        csv.field_size_limit(1 << 30)
        width = len(self._header)
        try:
            file = open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115
        except OSError as err:
            raise _reading_error(self.path, err) from err
        self._csv_file = file.buffer  # type: ignore[assignment]  # for position()
        try:
            # blank lines are no rows, as for pyarrow's reader
            records = (record for record in csv.reader(file) if record)
            next(records)  # the header
            for _ in range(done):
                next(records)
            row = done + 1
            while True:
                piece = list(itertools.islice(records, self.chunk_rows))
                if not piece:
                    return
                cells: list[list[bytes | None]] = [[] for _ in range(width)]
                rows: list[int] = []
                bad: list[_Bad] = []
                for number, record in enumerate(piece, start=row):
                    if len(record) != width:
                        case_id = record[0] if self._header[0] == "id" and record else None
                        message = (
                            f"row {number}: {len(record)} fields where the header has {width}"
                            " (a missing or extra separator, or an unclosed quote)"
                        )
                        text = ",".join(record).encode("utf-8", "surrogateescape")
                        bad.append(
                            _error(number, case_id, "invalid_csv", message,
                                   text.decode("utf-8", "backslashreplace"))
                        )  # fmt: skip
                        continue
                    rows.append(number)
                    for column, cell in zip(cells, record, strict=True):
                        column.append(cell.encode("utf-8", "surrogateescape") if cell else None)
                raw = pa.Table.from_arrays(
                    [pa.array(c, pa.binary()) for c in cells], names=self._header
                )
                yield _text_chunk(raw, row, rows, bad, count=len(piece))
                row += len(piece)
        except (OSError, csv.Error) as err:
            raise _reading_error(self.path, err) from err
        finally:
            file.close()

    # -- JSON Lines --------------------------------------------------------
    def _jsonl_chunks(self) -> Iterator[_Chunk]:
        from csrules.cli import _BadLine, _text_lines
        from csrules.io._json import case_to_json, encode_value, read_case_line

        extra = self._rules.extra_facts() or None if self._rules is not None else None
        try:
            file = open(self.path, "rb")  # noqa: SIM115 -- closed below
        except OSError as err:
            raise BatchFileError(self.path, f"cannot read it: {err.strerror or err}") from err
        raw: list[bytes] = []  # the raw lines of the piece being read

        def raw_lines() -> Iterator[bytes]:
            try:
                for line in file:
                    raw.append(line)
                    self.bytes_read += len(line)
                    yield line
            except OSError as err:
                raise _reading_error(self.path, err) from err

        try:
            texts = enumerate(_text_lines(raw_lines()), start=1)
            while True:
                raw.clear()
                piece = list(itertools.islice(texts, self.chunk_rows))
                if not piece:
                    return
                first = piece[0][0]
                kind = self._kind or _first_kind_of_lines(piece)
                if self._kind is None and kind is not None:
                    self._kind = kind
                records: list[dict[str, object]] = []
                rows: list[int] = []
                bad: list[_Bad] = []
                # the lines themselves, for the input column of --errors
                kept: list[str] | None = (
                    [] if self.settings is not None and self.settings.errors else None
                )
                for number, line in piece:
                    if isinstance(line, _BadLine):
                        shown = raw[number - first].decode("utf-8", "backslashreplace")
                        shown = shown.rstrip("\r\n")
                        bad.append(_error(number, line.case_id, line.code, line.message, shown))
                        continue
                    if not line.strip():
                        bad.append(_error(number, None, "invalid_json", _EMPTY_LINE, line))
                        continue
                    try:
                        read = read_case_line(line, facts=extra)
                    except ContractError as err:
                        bad.append(_error(number, err.case_id, err.code, str(err), line))
                        continue
                    case = read.case
                    if case.kind != self._kind:
                        message = (
                            f"kind: {case.kind!r}: this run decides {self._kind!r} cases"
                            " (from --kind or the first case); decide each kind in a run of its own"
                        )
                        bad.append(_error(number, case.id, "invalid_value", message, line))
                        continue
                    obj = case_to_json(case)
                    if read.facts:
                        obj["facts"] = {k: encode_value(v) for k, v in read.facts.items()}
                    records.append(_flat_values(obj))
                    rows.append(number)
                    if kept is not None:
                        kept.append(line)
                table = _table_of(records)
                yield _Chunk(piece[0][0], len(piece), table, rows, bad, kept)
        finally:
            file.close()

    def position(self) -> int:
        """About how many bytes of a text file have been read (for the ETA)."""
        if self._csv_file is not None:
            try:
                return self._csv_file.tell()
            except (OSError, ValueError):
                return 0
        return self.bytes_read

    def close(self) -> None:
        """Close what the reading left open."""
        if self._csv_file is not None:
            self._csv_file.close()

    def kind_hint(self) -> str | None:
        """The kind the file's rows say: the first known kind among the first
        rows that name one, else the first value given (for its error), else
        ``None``. A broken row (a CSV row of the wrong field count, a cell
        that is not UTF-8, a line that is not JSON) does not decide it: it
        gets its own row error."""
        from csrules.io._schema import KINDS

        first: str | None = None
        for value in itertools.islice(self._kind_values(), 1024):  # the first rows only
            if value in KINDS:
                return value
            if first is None and value:
                first = value
        return first

    def _kind_values(self) -> Iterator[str | None]:
        """The ``kind`` value of each row, in order (``None`` or ``""``: it
        says none, or the row is broken)."""
        if self.format == "parquet":
            if "kind" not in self._parquet.schema_arrow.names:
                return
            for batch in self._parquet.iter_batches(batch_size=1024, columns=["kind"]):
                yield from _cell_texts(batch.column(0))
            return
        if self.format == "csv":
            if "kind" not in self._header:
                return
            where = self._header.index("kind")
            with open(self.path, encoding="utf-8-sig", newline="", errors="replace") as file:
                next(file, None)  # the header
                for line in file:  # row by row: a broken row spoils no other
                    cells = next(csv.reader([line]), [])
                    yield cells[where] if len(cells) == len(self._header) else None
            return
        with open(self.path, "rb") as lines:
            for raw in lines:
                yield _kind_of_line(raw)

    def chunks(self) -> Iterator[_Chunk]:
        """The file's rows in chunks of ``chunk_rows`` (JSON Lines: lines)."""
        for chunk in self._chunks():
            self.rows_read += chunk.count
            yield chunk

    def _chunks(self) -> Iterator[_Chunk]:
        if self.format == "jsonl":
            yield from self._jsonl_chunks()
            return
        if self.format == "parquet":
            # a batch holds one row group at most (its dictionaries are its own):
            # row groups of half to twice the chunk size are read whole, not cut
            meta = self._parquet.metadata
            groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
            size = max(groups, default=0)
            whole = size >= 1 and self.chunk_rows // 2 <= size <= 2 * self.chunk_rows
            size = size if whole else self.chunk_rows
            batches = _guarded(self.path, iter(self._parquet.iter_batches(batch_size=size)))
            yield from _contiguous(_rechunk(batches, self.chunk_rows, whole=True))
            return
        # text columns as they are: the decider reads each by its field's
        # type in the contract (one definition of text cells, see _frames_text)
        self._malformed = False
        row = 1
        try:
            for raw in _rechunk(self._csv_batches(), self.chunk_rows):
                yield _text_chunk(raw, row)
                row += raw.num_rows
        except BatchFileError:
            if not self._malformed:
                raise
        else:
            return
        if self._csv_file is not None:
            self._csv_file.close()
        yield from self._csv_rows(row - 1)


def _text_chunk(
    raw: pa.Table,
    first: int,
    numbers: Sequence[int] | None = None,
    earlier: Sequence[_Bad] = (),
    count: int | None = None,
) -> _Chunk:
    """A chunk of CSV rows read as bytes, as text. A row with a cell that is
    not UTF-8 gets ``invalid_encoding`` naming the column and the bytes (as
    ``csrules decide`` does for such a line); the other rows are decided.

    ``numbers`` are the row numbers of ``raw``'s rows when they are not
    ``first``, ``first + 1``...: the chunk's ``count`` rows also hold the rows
    ``earlier`` already gave an error."""
    import pyarrow as pa

    if numbers is None:
        numbers = range(first, first + raw.num_rows)
    if count is None:
        count = raw.num_rows

    columns: list[Any] = []
    problems: dict[int, str] = {}
    for name, column in zip(raw.column_names, raw.columns, strict=True):
        try:
            columns.append(column.cast(pa.string()))
            continue
        except pa.ArrowInvalid:
            pass
        texts: list[str | None] = []
        for i, cell in enumerate(column.to_pylist()):
            try:
                texts.append(None if cell is None else cell.decode("utf-8"))
            except UnicodeDecodeError as exc:
                texts.append(None)
                shown = cell[exc.start : exc.end].hex(" ")
                problems.setdefault(
                    i,
                    f"{name}: not valid UTF-8: byte offset {exc.start} of the cell"
                    f" (bytes {shown}: {exc.reason})",
                )
        columns.append(pa.array(texts, pa.string()))
    text = pa.Table.from_arrays(columns, names=raw.column_names)
    if not problems and not earlier:
        return _Chunk(first, count, text)
    ids = text.column("id").to_pylist() if "id" in text.column_names else [None] * len(text)
    bad = [
        _error(numbers[i], ids[i], "invalid_encoding", message,
               json.dumps(raw.slice(i, 1).to_pylist()[0], ensure_ascii=False,
                          default=lambda b: b.decode("utf-8", "backslashreplace")))
        for i, message in sorted(problems.items())
    ]  # fmt: skip
    keep = pa.array([i not in problems for i in range(text.num_rows)], pa.bool_())
    rows = [numbers[i] for i in range(text.num_rows) if i not in problems]
    bad = sorted([*earlier, *bad], key=lambda b: b[0])
    return _Chunk(first, count, text.filter(keep), rows, bad)


def _kind_of_line(line: str | bytes) -> str | None:
    """The ``kind`` of a JSON Lines case, or ``None`` when the line does not say."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("kind"), str):
        return str(obj["kind"])
    return None


def _first_kind_of_lines(piece: Sequence[tuple[int, object]]) -> str | None:
    for _, line in piece:
        if isinstance(line, str):
            found = _kind_of_line(line)
            if found is not None:
                return found
    return None


def _error(row: int, case_id: str | None, code: str, message: str, text: str | None) -> _Bad:
    output = {"id": case_id, "row": row, "error.code": code, "error.message": message}
    return row, output, text


def _flat_values(obj: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """A decoded contract case as dotted paths to its JSON values (arrays as JSON text,
    nulls left out)."""
    flat: dict[str, object] = {}
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat_values(value, path + "."))
        elif isinstance(value, list | tuple):
            flat[path] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif value is not None:  # null is an absent key (a null object has no columns)
            flat[path] = value
    return flat


def _table_of(records: Sequence[Mapping[str, object]]) -> pa.Table:
    """Decoded cases as a table of the columns they have (one JSON type per column, as
    the codec checked); a column some cases lack is null there, an absent key."""
    import pyarrow as pa

    columns = dict.fromkeys(key for record in records for key in record)
    if not columns:
        return pa.table({"id": pa.array([], pa.string())})
    return pa.table({name: _json_column(pa, [r.get(name) for r in records]) for name in columns})


def _json_column(pa: Any, values: list[object]) -> pa.Array:
    """A column of JSON values; as their JSON text when Arrow cannot hold them
    (a whole number beyond int64), read then as a CSV column is."""
    try:
        return pa.array(values)
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
        texts = [
            None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values
        ]
        return pa.array(texts, pa.string())


# ------------------------------------------------------------------ writers


def _text_columns(table: pa.Table, *, lists_as_json: bool) -> pa.Table:
    """Times as ISO-8601 text at their zone's offset and decimals as text; with
    ``lists_as_json`` also lists and structs as JSON text (for CSV)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: list[pa.ChunkedArray | pa.Array] = []
    fields: list[pa.Field] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_timestamp(kind):
            column = _iso_times(column)
            field = pa.field(field.name, pa.string())
        elif pa.types.is_decimal(kind) or pa.types.is_date(kind):
            column = pc.cast(column, pa.string())
            field = pa.field(field.name, pa.string())
        elif lists_as_json and pa.types.is_nested(kind):
            column = pa.array(
                [
                    None if v is None else orjson.dumps(v, default=_json_default).decode()
                    for v in column.to_pylist()
                ],
                pa.string(),
            )
            field = pa.field(field.name, pa.string())
        columns.append(column)
        fields.append(field)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _iso_times(column: Any) -> Any:
    """``2026-05-09T19:02:19+08:00`` text of a timestamp column (UTC when it has no zone)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    tz = kind.tz or "UTC"
    seconds = pc.cast(column, pa.timestamp("s", tz=tz), safe=False)
    text = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%S%z")
    return pc.replace_substring_regex(text, pattern=r"([+-]\d\d)(\d\d)$", replacement=r"\1:\2")


#: Output columns whose values are mostly distinct: written without a dictionary.
_UNIQUE_COLUMNS: Final = frozenset({"id", "row", "input"})
#: Tables a writer holds queued at most (each a chunk's output).
_PENDING: Final = 2


def _ahead(items: Iterator[_Chunk], depth: int = 2) -> Generator[_Chunk, None, None]:
    """``items``, read by a thread of their own up to ``depth`` ahead of the
    consumer (pyarrow's readers let go of the GIL while they decode); a
    failure of the reading is raised where its item would have come."""
    import queue
    import threading

    box: queue.Queue[tuple[str, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
        except BaseException as err:
            put(("error", err))
            return
        put(("end", None))

    thread = threading.Thread(target=produce, name="csrules-reader", daemon=True)
    thread.start()
    try:
        while True:
            what, value = box.get()
            if what == "end":
                return
            if what == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


class _Writer:
    """One output file, written table by table; its format by its extension.

    The file is opened with the schema of the first table written (or
    ``fallback`` when none is), and every later table is cast to it.
    """

    def __init__(self, path: str, fallback: Callable[[], pa.Schema]) -> None:
        self.path = path
        self.format = file_format(path)
        self.fallback = fallback
        self.schema: pa.Schema | None = None
        self.closed = False
        # tables are written by one thread of their own, in order, while the
        # next chunk is decided (pyarrow's encoders let go of the GIL); at
        # most _PENDING wait, so memory stays bounded
        self._thread: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()
        self._parquet: Any = None
        self._csv: Any = None
        self._text: IO[bytes] | None = None
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):  # an output failure (exit status 3), as in csrules decide
            raise FileNotFoundError(errno.ENOENT, f"no folder {folder}", path)

    def _open(self, schema: pa.Schema) -> None:
        self.schema = schema
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            # statistics of list columns serve no reader's filter and cost a third of the writing
            flat = [f.name for f in schema if not pa.types.is_list(f.type)]
            # a dictionary of values that are each their own (ids, row numbers, the
            # input rows) is built, found too large and dropped for every row group
            repeated = [f.name for f in schema if f.name not in _UNIQUE_COLUMNS]
            self._parquet = pq.ParquetWriter(
                self.path, schema, write_statistics=flat, use_dictionary=repeated
            )
        elif self.format == "csv":
            import pyarrow.csv as pacsv

            text_schema = _text_columns(schema.empty_table(), lists_as_json=True).schema
            self._csv = pacsv.CSVWriter(self.path, text_schema)
        else:
            self._text = open(self.path, "wb")  # noqa: SIM115 -- closed by close()

    def write(self, table: pa.Table) -> None:
        """Queue ``table`` for writing; a failure of an earlier write is raised here."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="csrules-writer")
        while len(self._pending) >= _PENDING:
            oldest = self._pending.popleft()
            try:
                oldest.result()
            except BaseException:
                # the first failure is the one to report (a full disk), not
                # what the writes queued after it ran into
                self._finish(raising=False)
                raise
        self._pending.append(self._thread.submit(self._write, table))

    def _finish(self, *, raising: bool) -> None:
        """Wait for the queued writes; the first failure is raised when ``raising``."""
        failure: BaseException | None = None
        while self._pending:
            try:
                self._pending.popleft().result()
            except BaseException as err:
                failure = failure or err
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None
        if failure is not None and raising:
            raise failure

    def _write(self, table: pa.Table) -> None:
        if self.schema is None:
            self._open(table.schema)
        assert self.schema is not None
        if table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        if self._parquet is not None:
            self._parquet.write_table(table)
        elif self._csv is not None:
            self._csv.write_table(_text_columns(table, lists_as_json=True))
        else:
            assert self._text is not None
            flat = _text_columns(table, lists_as_json=False)
            option = orjson.OPT_APPEND_NEWLINE
            self._text.write(
                b"".join(
                    orjson.dumps(r, default=_json_default, option=option) for r in flat.to_pylist()
                )
            )

    def close(self) -> None:
        """Close the file (written with the fallback schema and no rows if nothing was)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._finish(raising=True)
        finally:
            if self.schema is None:
                self._open(self.fallback())
            for closing in (self._parquet, self._csv, self._text):
                if closing is not None:
                    closing.close()

    def discard(self) -> None:
        """Close the file and remove it."""
        self.closed = True
        self._finish(raising=False)
        for closing in (self._parquet, self._csv, self._text):
            if closing is not None:
                closing.close()
        if self.schema is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _errors_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("row", pa.int64()),
            pa.field("error.code", pa.string()),
            pa.field("error.message", pa.string()),
            pa.field("input", pa.string()),
        ]
    )


# ------------------------------------------------------------------ running


_WORKER: dict[str, _Settings] = {}


def _init_worker(settings: _Settings) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    arrow_without_pandas()
    lean_memory_pool()
    _WORKER["settings"] = settings


def arrow_without_pandas() -> None:
    """Let pyarrow convert without importing pandas, in a process that has not.

    pyarrow imports pandas (when installed) on its first conversion of a
    Python or numpy value, to recognise pandas objects: a quarter of a
    second at the start of every ``csrules batch`` run, which hands it no
    pandas objects. This lets that first check find no pandas; pyarrow still
    imports it when asked for pandas output (``to_pandas``). A process that
    imported pandas already is left as it is.
    """
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    refuse = _NoPandas()
    sys.meta_path.insert(0, refuse)  # import pandas fails, this once
    try:
        pa.array([0])
    except ImportError:  # pragma: no cover - pyarrow let the refusal through
        pass
    finally:
        sys.meta_path.remove(refuse)


def arrow_allocator() -> Callable[[], None]:
    """Let every Arrow allocation of this process (and of the worker processes
    it starts) come from jemalloc, when pyarrow is not imported yet and
    ``ARROW_DEFAULT_MEMORY_POOL`` chooses no pool; returns the function that
    takes the variable out of the environment again.

    :func:`lean_memory_pool` changes the pool pyarrow's Python calls use;
    what Arrow's C++ allocates on its own (the Parquet reader's and writer's
    buffers) still comes from the default pool chosen when pyarrow loads,
    mimalloc, which faults in fresh pages for them. Only the environment
    variable, read as pyarrow loads, chooses that one: a ``csrules batch``
    run then takes about a tenth less CPU time and 100 MB less memory per
    1,000,000 returns. Only on x86-64 Linux, where pyarrow's wheels have
    jemalloc (its ARM Linux wheels have not: Arrow would print a warning).
    """
    import platform

    if (
        sys.platform == "linux"
        and platform.machine().lower() in ("x86_64", "amd64")
        and "pyarrow" not in sys.modules
        and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ
    ):
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "jemalloc"

        def restore() -> None:
            os.environ.pop("ARROW_DEFAULT_MEMORY_POOL", None)

        return restore
    return lambda: None


def lean_memory_pool() -> None:
    """Let Arrow allocate from jemalloc in this process, when pyarrow has it
    and ``ARROW_DEFAULT_MEMORY_POOL`` chooses no pool.

    pyarrow's default pool (mimalloc) keeps the pages of freed buffers, and
    the C library's ``malloc`` fragments across the reading, deciding and
    writing threads; a process deciding chunk after chunk then holds far
    more than its chunks need (about 550 MB against 400 MB with jemalloc
    at 10,000,000 rows), and spends system time faulting pages in again.
    Buffers allocated before the switch stay valid (each keeps its pool).
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        return
    pa.set_memory_pool(pool)


class _NoPandas:
    """An import finder refusing pandas (see :func:`arrow_without_pandas`)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def _work(chunk: _Chunk) -> tuple[pa.Table, pa.Table | None]:
    return _decide_chunk(chunk, _WORKER["settings"])


def _in_order(
    chunks: Iterable[_Chunk], settings: _Settings, workers: int
) -> Iterator[tuple[_Chunk, pa.Table, pa.Table | None]]:
    """Each chunk with its output, in input order; over ``workers`` processes when > 1
    and there is more than one chunk (a small file is not worth starting them)."""
    iterator = iter(chunks)
    head = list(itertools.islice(iterator, 2))
    chunks = itertools.chain(head, iterator)
    if workers <= 1 or len(head) < 2:
        for chunk in chunks:
            yield (chunk, *_decide_chunk(chunk, settings))
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(settings,)
    )
    pending: deque[tuple[_Chunk, Future[tuple[pa.Table, pa.Table | None]]]] = deque()
    try:
        for chunk in chunks:
            pending.append((chunk, pool.submit(_work, chunk)))
            if len(pending) > workers:  # each worker busy, one chunk waiting for the first free
                done, future = pending.popleft()
                yield (done, *future.result())
        while pending:
            done, future = pending.popleft()
            yield (done, *future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _time_key(table: pa.Table, tz: str | None) -> list[float]:
    """Each row's ``at`` as seconds since the epoch (``inf`` when it cannot be read)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from csrules.io._json import parse_aware_time

    if "at" not in table.column_names:
        return [math.inf] * table.num_rows
    column = table["at"]
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            if tz is None:
                return [math.inf] * table.num_rows
            column = pc.assume_timezone(
                column, timezone=tz, ambiguous="earliest", nonexistent="earliest"
            )
        values = pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC")), pa.int64())
        return [math.inf if v is None else v / 1e6 for v in values.to_pylist()]
    zone = None
    if tz is not None:
        import zoneinfo

        zone = zoneinfo.ZoneInfo(tz)
    keys: list[float] = []
    for value in _cell_texts(column):
        if value is None:
            keys.append(math.inf)
            continue
        parsed = parse_aware_time(value)
        stamp = None if parsed is None else parsed.timestamp()
        if stamp is None and zone is not None:
            try:
                naive = dt.datetime.fromisoformat(value)
            except ValueError:
                naive = None
            if naive is not None and naive.tzinfo is None:
                stamp = naive.replace(tzinfo=zone).timestamp()
        keys.append(math.inf if stamp is None else stamp)
    return keys


def _decide_in_time_order(
    chunks: Iterable[_Chunk], settings: _Settings, monitor: Any, chunk_rows: int
) -> Iterator[tuple[_Chunk, pa.Table, pa.Table | None]]:
    """Complaints: all rows read, decided through ``monitor`` in ``at`` order
    (ties in input order), then given back in input order, a chunk at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tables: list[pa.Table] = []
    rows: list[pa.Array] = []
    bad: list[_Bad] = []
    lines: list[str] | None = []  # the JSON lines, when every chunk kept them
    total = 0
    for chunk in chunks:
        tables.append(chunk.table)
        if lines is not None and chunk.texts is not None:
            lines.extend(chunk.texts)
        else:
            lines = None
        if chunk.rows is None:
            rows.append(pa.array(range(chunk.first_row, chunk.first_row + chunk.count), pa.int64()))
        else:
            rows.append(pa.array(chunk.rows, pa.int64()))
        bad.extend(chunk.bad)
        total += chunk.count
    if not tables:
        return
    whole = pa.concat_tables(tables, promote_options="default")
    numbers = pa.chunked_array(rows, pa.int64())
    keys = pa.array(_time_key(whole, settings.tz), pa.float64())
    order = pc.sort_indices(
        pa.table({"key": keys, "row": numbers}),
        sort_keys=[("key", "ascending"), ("row", "ascending")],
    )
    ordered = whole.take(order)
    ordered_rows = numbers.take(order)
    ordered_lines = None if lines is None else [lines[i] for i in order.to_pylist()]
    outputs: list[pa.Table] = []
    errors: list[pa.Table] = []
    for start in range(0, max(ordered.num_rows, 1), chunk_rows):
        piece = _Chunk(
            0,
            min(chunk_rows, ordered.num_rows - start),
            ordered.slice(start, chunk_rows),
            ordered_rows.slice(start, chunk_rows).to_pylist(),
            bad if start == 0 else (),
            None if ordered_lines is None else ordered_lines[start : start + chunk_rows],
        )
        out, errs = _decide_chunk(piece, settings, monitor)
        outputs.append(out)
        if errs is not None:
            errors.append(errs)
    result = pa.concat_tables(outputs)
    result = result.take(pc.sort_indices(result["row"]))
    failed = pa.concat_tables(errors) if errors else None
    if failed is not None:
        failed = failed.take(pc.sort_indices(failed["row"]))
    whole_chunk = _Chunk(1, total, whole)
    for start in range(0, result.num_rows, chunk_rows):
        part = result.slice(start, chunk_rows)
        if failed is None:
            yield whole_chunk, part, None
            continue
        low, high = part["row"][0].as_py(), part["row"][-1].as_py()
        rows_of = failed["row"]
        mask = pc.and_(pc.greater_equal(rows_of, low), pc.less_equal(rows_of, high))
        yield whole_chunk, part, failed.filter(mask)


def _column_problems(
    path: str, results: Iterator[tuple[_Chunk, pa.Table, pa.Table | None]]
) -> Iterator[tuple[_Chunk, pa.Table, pa.Table | None]]:
    """The results; a problem with a whole column (a float money column, a
    timestamp column without a zone and no ``tz``) is a :class:`BatchFileError`."""
    from csrules.exceptions import ArgumentTypeError, DomainValueError

    while True:
        try:
            item = next(results)
        except StopIteration:
            return
        except (DomainValueError, ArgumentTypeError) as err:
            raise BatchFileError(path, f"cannot decide its columns: {err}") from err
        yield item


class _Progress:
    """A progress bar on ``stream`` (rows, rows/s, ETA) when enabled; silent otherwise."""

    def __init__(self, enabled: bool, stream: IO[str], total: int | None) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                unit=" rows",
                unit_scale=True,
                file=stream,
                dynamic_ncols=True,
                desc="csrules batch",
            )

    def update(self, rows: int, source: _Source) -> None:
        if self.bar is None:
            return
        read = source.position()
        if source.total is None and read and source.size:  # a text file: estimate from bytes
            done = self.bar.n + rows
            self.bar.total = max(done, round(source.rows_read * source.size / read))
        self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def batch_file(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    ruleset: RuleSet | str | None = None,
    kind: str | None = None,
    policy: Policy | None = None,
    tz: str | None = None,
    errors: str | os.PathLike[str] | None = None,
    workers: int | None = 1,
    chunk_rows: int | None = None,
    lang: Lang = "en",
    monitor: Any = None,
    progress: IO[str] | None = None,
) -> BatchResult:
    """Decide every case of the file ``source`` and write the decisions to ``target``.

    Formats follow the extensions (:data:`FORMATS`); see the module
    documentation for the columns and what each format writes.

    Args:
        source: CSV, Parquet or JSON Lines cases.
        target: where the decisions go: one row per input row, in order.
        ruleset: the rule set (or its name); the bundled ``b2c`` by default.
        kind: the kind of case; by default the ``kind`` of the first row.
        policy: parameters replacing the rule set's own.
        tz: the zone of times written without an offset (CSV text or
            Parquet timestamps without a zone); without it such a time is a
            row error.
        errors: a file to receive the rows that got an error (``id``,
            ``row``, ``error.code``, ``error.message`` and the input row as
            JSON text, ``input``), in the format its extension names.
        workers: processes deciding chunks at once (``None``: one per core).
            Complaints decided through a monitor always use one.
        chunk_rows: rows decided at a time: memory grows with it, not with
            the file (except for complaints, sorted in memory). By default
            :data:`DEFAULT_CHUNK_ROWS` (65,536), half that when more than
            one worker process decides. A Parquet row group of half to
            twice that many rows is decided whole.
        lang: the language of explanations.
        monitor: the :class:`~csrules.stream.EscalationMonitor` complaints go
            through (in ``at`` order); ``None`` decides them one by one.
        progress: a stream for a progress bar (rows, rows/s, ETA), or ``None``.

    Raises:
        BatchFileError: a file with an unknown extension, an input that is
            missing or not of its format, a kind the rule set does not have,
            an output or errors file that is the input or one another.
    """
    from csrules._ruleset import ruleset as find_ruleset
    from csrules.io._schema import KINDS

    if chunk_rows is not None and chunk_rows < 1:
        msg = f"chunk_rows must be 1 or more (got {chunk_rows!r})"
        raise BatchFileError(os.fspath(source), msg)
    name = ruleset if isinstance(ruleset, str) else None
    if ruleset is None:
        name = "b2c"
    elif not isinstance(ruleset, str):
        with contextlib.suppress(CsrulesError, ImportError, ValueError):
            if find_ruleset(ruleset.name) is ruleset:  # a bundled one: workers load it by name
                name = ruleset.name
    if name is not None:
        rules = _load_ruleset(name, policy)
    else:
        assert ruleset is not None
        assert not isinstance(ruleset, str)
        rules = ruleset if policy is None else ruleset.with_policy(policy)
    src, dst = os.fspath(source), os.fspath(target)
    file_format(dst)
    if errors is not None:
        file_format(errors)
    _distinct_files(src, dst, None if errors is None else os.fspath(errors))
    reader = _Source(src, chunk_rows or DEFAULT_CHUNK_ROWS, kind, rules)
    chosen = kind if kind is not None else reader.kind_hint()
    if chosen is None:
        msg = "no kind: give --kind (the file has no kind column or value to go by)"
        raise BatchFileError(src, msg)
    if chosen not in KINDS or chosen not in rules.kinds:
        known = ", ".join(k for k in KINDS if k in rules.kinds)
        raise BatchFileError(src, f"unknown kind {chosen!r}: expected one of {known}")
    reader._kind = chosen
    settings = _Settings(rules, chosen, tz, None, lang, errors is not None, name, policy)
    reader.settings = settings
    count = failures = 0
    cores = os.cpu_count() or 1
    jobs = cores if workers is None else max(1, workers)
    in_time_order = chosen == _STATEFUL_KIND and monitor is not None
    if in_time_order:
        jobs = 1
    if chunk_rows is None:
        chunk_rows = DEFAULT_CHUNK_ROWS if jobs == 1 else _WORKERS_CHUNK_ROWS
    reader.chunk_rows = chunk_rows
    writer = _Writer(dst, lambda: _output_schema(settings))
    error_writer: _Writer | None = None
    bar = _Progress(progress is not None, progress or sys.stderr, reader.total)
    ahead: Generator[_Chunk, None, None] | None = None
    try:
        if errors is not None:
            error_writer = _Writer(os.fspath(errors), _errors_schema)
        if in_time_order:
            results = _decide_in_time_order(reader.chunks(), settings, monitor, chunk_rows)
        else:
            ahead = _ahead(reader.chunks(), _READ_AHEAD if jobs == 1 else _READ_AHEAD_WORKERS)
            results = _in_order(ahead, settings, jobs)
        for _chunk, out, errs in _column_problems(src, results):
            writer.write(out)
            if error_writer is not None and errs is not None and errs.num_rows:
                error_writer.write(errs)
            count += out.num_rows
            failed = out.num_rows - out["error.code"].null_count
            failures += failed
            bar.update(out.num_rows, reader)
    except BatchFileError as err:
        if not err.reading and count == 0:  # nothing decided: leave no empty output behind
            writer.discard()
            if error_writer is not None:
                error_writer.discard()
        raise
    finally:
        bar.close()
        if ahead is not None:
            ahead.close()  # stops the reading thread before its file is closed
        reader.close()
        writer.close()
        if error_writer is not None:
            error_writer.close()
    return BatchResult(count, failures, chosen)


# ------------------------------------------------------------------ the command


def add_arguments(parser: Any) -> None:
    """The options of ``csrules batch`` on its argparse sub-parser."""
    import argparse

    from csrules.cli import positive as positive_type

    positive = positive_type("a whole number")

    parser.add_argument("input", metavar="IN", help="cases: .csv, .parquet or .jsonl")
    parser.add_argument("output", metavar="OUT", help="decisions: .parquet, .csv or .jsonl")
    parser.add_argument(
        "--kind", help="return, complaint, promotion or price_adjustment (default: the first row's)"
    )
    parser.add_argument(
        "--rules", metavar="MODULE:ATTR", help="a rule set: b2c, taobao, or MODULE:ATTR"
    )
    parser.add_argument(
        "--policy", metavar="FILE", help="a policy TOML file, or a bundled name (b2c, taobao)"
    )
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        help="the zone of times given without an offset (e.g. Asia/Shanghai)",
    )
    parser.add_argument(
        "--errors", metavar="FILE", help="also write the rows that got an error to FILE"
    )
    parser.add_argument(
        "--workers",
        metavar="N",
        type=positive,
        help="processes deciding chunks at once (default: one per core; complaints: 1)",
    )
    parser.add_argument(
        "--chunk-rows",
        metavar="N",
        type=positive,
        help=(
            f"rows decided at a time (default {DEFAULT_CHUNK_ROWS}; "
            f"{_WORKERS_CHUNK_ROWS} with more than one worker)"
        ),
    )
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (the same path, or links to one file)."""
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _distinct_files(source: str, target: str, errors: str | None) -> None:
    """Refuse an output or errors file that is the input, or one another: it
    would be overwritten while it is read or written."""
    named = [("the output", target)] + ([] if errors is None else [("the errors file", errors)])
    for what, path in named:
        if _same_file(source, path):
            msg = f"{what} {path!r} is the input file: write it elsewhere"
            raise BatchFileError(source, msg)
    if errors is not None and _same_file(target, errors):
        msg = f"the errors file {errors!r} is the output file: give it a path of its own"
        raise BatchFileError(target, msg)


def run_batch(args: Any, out: IO[str], err: IO[str]) -> int:
    """``csrules batch``: exit status 0 (all decided), 1 (some row errors); raises
    the command's usage and read errors for :func:`csrules.cli.main` to report."""
    restore = arrow_allocator()
    try:
        return _run_batch(args, out, err)
    finally:
        restore()


def _run_batch(args: Any, out: IO[str], err: IO[str]) -> int:
    from csrules.cli import _load_policy, _load_rules, _monitor, _ReadError, _UsageError

    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        msg = "needs pyarrow: pip install 'csrules[frames]'"
        raise _UsageError(msg) from exc
    arrow_without_pandas()
    lean_memory_pool()
    if args.tz is not None:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(args.tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"--tz {args.tz!r}: expected an IANA time zone such as Asia/Shanghai"
            raise _UsageError(msg) from exc
    name = args.rules or "b2c"
    rules = _load_rules(name)
    policy = _load_policy(args.policy) if args.policy is not None else None
    if policy is not None:
        rules = rules.with_policy(policy)
    monitor = None
    if args.kind in (None, _STATEFUL_KIND) and rules.stream_rules:
        monitor = _monitor(rules.policy, "auto", None, rules)
    enabled = args.progress if args.progress is not None else _is_terminal(err)
    try:
        result = batch_file(
            args.input,
            args.output,
            ruleset=name,
            policy=policy,
            kind=args.kind,
            tz=args.tz,
            errors=args.errors,
            workers=args.workers,
            chunk_rows=args.chunk_rows,
            lang=args.lang,
            monitor=monitor,
            progress=err if enabled else None,
        )
    except BatchFileError as exc:
        if exc.reading:
            raise _ReadError(str(exc)) from exc
        raise _UsageError(str(exc)) from exc
    except CsrulesError as exc:
        raise _UsageError(str(exc)) from exc
    finally:
        if monitor is not None:
            monitor.close()
    if enabled:
        err.write(f"csrules batch: {result.rows} rows, {result.errors} errors\n")
    return 1 if result.errors else 0


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
