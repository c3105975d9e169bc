"""DuckDB destination: raw tables, append-only versions, quarantine and stream state in one file.

Crash safety
    :meth:`DuckDBSync.write_batch` runs one transaction that stages the batch, quarantines rows
    that do not cast, appends new versions, upserts the current table, adds to ``sync_log`` and
    saves the stream state. DuckDB's WAL makes that all-or-nothing, so after a crash the saved
    state always describes exactly the batches that landed, and a rerun resumes from there.

Version dedupe (why a rerun never duplicates versions)
    Each landed row gets ``_row_hash``: md5 over its non-null source columns (name and value,
    in name order) plus ``_is_deleted``. Skipping nulls keeps the hash of an old row stable when
    schema evolution adds a column. A row becomes a new version unless:

    * with a ``cursor_field``: a version with the same primary key, cursor value and
      ``_row_hash`` already exists. The cursor identifies the version, the hash catches changes
      that do not move it (formula fields), and re-fetching any earlier version (lookback,
      rerun of an older slice) is recognised;
    * without a cursor: the current row for that key already has this ``_row_hash``. Matching
      against every past version would drop a legitimate change back to an earlier value
      (A -> B -> A), so only "unchanged since last seen" is skipped;
    * within one batch, identical (key, hash) rows are kept once.

    A batch reads the current table once, for the keys it carries, and the history only for
    the rows that are neither the current row nor newer than it (a stale page, a change that
    did not move the cursor): the current row is always the newest stored version of its key,
    so anything else is new. Without that, every batch of an initial load would scan the whole
    history it had landed so far, and landing would slow down as the table grew.

Current table
    Upserted by primary key with DELETE + INSERT of the winning row per key (greatest cursor,
    then latest in the batch). A row whose cursor is older than the stored one never overwrites
    it, so a re-fetched stale page cannot roll a record back. Columns absent from the batch
    become NULL, matching the version row. Tables carry no PRIMARY KEY constraint: DuckDB's
    indexes would block ``ALTER TABLE ADD COLUMN`` and re-check uniqueness eagerly inside the
    delete-then-insert transaction; the key is enforced by the upsert itself.

Loading goes through Arrow (``con.register`` + set-based SQL), never row-by-row inserts.

Casting ahead
    :meth:`~connectors.destinations.base.Sync.prepare` casts and hashes a batch on the sync's own
    in-memory DuckDB (one per sync, behind a lock, on the preparing thread), to the types the table had at the stream's last batch. The
    transaction reads those rows in place when the table still has those types and every row
    cast; otherwise (a first batch against an older table, rows to quarantine) it casts the
    raw batch itself. Either way the same SQL (:func:`valid_select`) does the cast.

The engine-independent steps (validation, sync_log, stream state, schema drift, the version,
upsert and delete SQL) are :class:`~connectors.destinations.base.Sync`'s; this module has
DuckDB's I/O and the casting rules (:func:`stage_sql`), which the PostgreSQL destination runs in
an in-memory DuckDB too, so both engines land and quarantine exactly the same rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from connectors.destinations.base import (
    RAW_META_SCHEMA,
    BatchResult,
    Destination,
    Landing,
    PreparedBatch,
    Sync,
    keys_to_arrow,
    to_arrow,
    utc_now,
)
from connectors.destinations.sql import KEYS, ORD, VALID, literal, row_hash_sql
from connectors.naming import quote_ident

log = logging.getLogger(__name__)

# Names used inside one transaction. Source columns cannot start with "_", so none collide.
_BATCH = "_salesops_batch"
_STAGE = "_salesops_stage"
_ERROR = "_salesops_error"

# DuckDB reports some types under their long names.
_TYPE_ALIASES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}
_EPOCH_MS = "'-?[0-9]{11,16}'"  # 11+ digits: milliseconds, never plausible epoch seconds
_MAX_VALUE_IN_REASON = 200
# A sync's DuckDB memory, whatever the table sizes: a batch needs well under 128 MB (300 fields x
# 6,700 rows lands under a 128 MB cap), and DuckDB's default (80 % of RAM) would let its cache
# of a large table's blocks grow with the data. 256 MB keeps twice the room a batch needs and
# costs no measurable CPU against 512 MB (a medium Salesforce extract: peak 643 against 924 MB).
# Above the limit DuckDB evicts or spills to its temp directory rather than fail.
WRITER_MEMORY_LIMIT = "256MB"


class DuckDBDestination(Destination):
    """Raw layer in a DuckDB file. Only one process may write it: each sync opens its own
    connection and closes it at the end, so the file lock is held only while syncing.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        memory_limit: str | None = WRITER_MEMORY_LIMIT,
        threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.memory_limit = memory_limit
        self.threads = threads

    def __repr__(self) -> str:
        return f"DuckDBDestination({str(self.path)!r})"

    def get_state(self, source: str, stream: str) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        with self.connect() as con:
            if not _table_exists(con, RAW_META_SCHEMA, "stream_state"):
                return None
            return DuckDBSync.read_state(con, source, stream)

    def connect(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        # Timestamps are compared, hashed and shown in UTC regardless of the host's zone.
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB's default (16 MB of WAL) checkpoints every few batches of a large load, each
        # rewriting the table's changed row groups; 256 MB checkpoints a tenth as often, for a
        # third more rows per second, and still bounds what a checkpoint holds in memory.
        con.execute("SET checkpoint_threshold = '256MB'")
        if self.memory_limit:
            con.execute("SET memory_limit = ?", [self.memory_limit])
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        return con


class DuckDBSync(Sync):
    """A writer session on a DuckDB database for one source: DuckDB's I/O for
    :class:`~connectors.destinations.base.Sync`. See the module docstring."""

    param = "?"
    json_param = "?"
    close_errors = (duckdb.Error,)

    def __init__(self, destination: Any, source: str, sync_id: str) -> None:
        # prepare()'s in-memory DuckDB: the writer's connection may be landing a batch on
        # another thread meanwhile, and a connection is not shared between threads at once.
        self._staging: duckdb.DuckDBPyConnection | None = None
        self._staging_lock = threading.Lock()
        super().__init__(destination, source, sync_id)

    def close(self, error: BaseException | None = None) -> None:
        try:
            super().close(error)
        finally:
            with self._staging_lock:
                if self._staging is not None:
                    self._staging.close()
                    self._staging = None

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._connection()
        con.execute("BEGIN TRANSACTION")
        try:
            with self._publishing(con):
                yield con
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                log.exception("rollback failed for sync %s", self.sync_id)
            raise
        con.execute("COMMIT")

    def _publishing(self, con: duckdb.DuckDBPyConnection) -> AbstractContextManager[None]:
        """Wraps the body of every transaction, before COMMIT: a database that is only a
        working copy (the Parquet lake's) publishes the transaction's changes here."""
        return nullcontext()

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        yield self._connection()

    @staticmethod
    def _execute(
        cur: duckdb.DuckDBPyConnection, statement: str, params: Sequence[Any] = ()
    ) -> None:
        cur.execute(statement, list(params))

    @staticmethod
    def _execute_count(
        cur: duckdb.DuckDBPyConnection, statement: str, params: Sequence[Any] = ()
    ) -> int:
        row = cur.execute(statement, list(params)).fetchone()  # DuckDB returns the count
        return int(row[0]) if row else 0

    @staticmethod
    def _fetchone(
        cur: duckdb.DuckDBPyConnection, statement: str, params: Sequence[Any] = ()
    ) -> tuple:
        return cur.execute(statement, list(params)).fetchone()

    @staticmethod
    def _fetchall(
        cur: duckdb.DuckDBPyConnection, statement: str, params: Sequence[Any] = ()
    ) -> list[tuple]:
        return cur.execute(statement, list(params)).fetchall()

    def _fetchall_where_in(
        self, cur: duckdb.DuckDBPyConnection, select: str, column: str, values: Sequence[str]
    ) -> list[tuple]:
        cur.register(KEYS, pa.table({"v": pa.array(values, pa.string())}))
        try:
            return cur.execute(
                f"{select} AND CAST({quote_ident(column)} AS VARCHAR) IN (SELECT v FROM {KEYS})"
            ).fetchall()
        finally:
            cur.unregister(KEYS)

    def _create_temp(self, cur: duckdb.DuckDBPyConnection, name: str, select: str) -> None:
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")

    @staticmethod
    def _ddl_type(declared: str) -> str:
        return declared

    @staticmethod
    def _column_types(cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
        return _column_types(cur, schema, table)

    def _land(self, cur: duckdb.DuckDBPyConnection, landing: Landing) -> BatchResult:
        if landing.staged is None:
            return super()._land(cur, landing)
        # Rows cast ahead are read in place: copying them into a temp table would cost a
        # third of what casting them again does.
        cur.register(VALID, landing.staged)
        try:
            return super()._land(cur, landing)
        finally:
            cur.unregister(VALID)

    def _stage_valid(self, cur: duckdb.DuckDBPyConnection, landing: Landing) -> tuple[int, int]:
        if landing.staged is not None:  # cast ahead, every row fit (registered by _land)
            return landing.staged.num_rows, 0
        # Cast and hash in one statement straight from the batch: VALID is the only copy made.
        # The raw values are staged only when some row does not cast, for the quarantine.
        types, primary_key = landing.types, landing.primary_key
        staged = staged_select(landing.batch.schema, types, primary_key)
        with _registered(cur, landing.batch):
            cur.execute(
                f"CREATE OR REPLACE TEMP TABLE {VALID} AS "
                f"{valid_select(landing.batch.schema, types, primary_key, landing.is_deleted_field)}"
            )
            landed, quarantined = _cast_counts(cur, VALID)
            if quarantined:
                cur.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS {staged}")
                self._quarantine(
                    cur, landing.stream, bad_rows_sql(types, primary_key), landing.synced_at
                )
                cur.execute(f"DROP TABLE {_STAGE}")
                cur.execute(f"DELETE FROM {VALID} WHERE {_ERROR} IS NOT NULL")
        return landed, quarantined

    def _stage_ahead(self, prepared: PreparedBatch, types: Mapping[str, str]) -> pa.Table | None:
        batch = prepared.batch
        select = valid_select(batch.schema, types, prepared.primary_key, prepared.is_deleted_field)
        with self._staging_lock:
            con = self._staging_connection()
            with _registered(con, batch):
                valid = con.sql(select).to_arrow_table()
        if valid.column(_ERROR).null_count != valid.num_rows:
            return None  # some row does not cast: quarantined inside the transaction
        return valid

    def _staging_connection(self) -> duckdb.DuckDBPyConnection:
        if self._staging is None:  # opened once per sync: opening one takes ~40 ms
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")  # the row hash is over UTC text
            con.execute("SET threads = 1")  # a helper beside the writer, not a second writer
            con.execute("SET memory_limit = ?", [WRITER_MEMORY_LIMIT])
            self._staging = con
        return self._staging

    @contextmanager
    def _keys_table(
        self, cur: duckdb.DuckDBPyConnection, key_table: pa.Table, primary_key: Sequence[str]
    ) -> Iterator[None]:
        cur.register(KEYS, key_table)
        try:
            yield
        finally:
            cur.unregister(KEYS)

    def _key_equals(self, types: Mapping[str, str], primary_key: Sequence[str]) -> str:
        # Keys arrive as text; cast them to the column's type (a BIGINT id given as "42").
        return " AND ".join(
            f"c.{quote_ident(k)} = TRY_CAST(k.{quote_ident(k)} AS {types[k]})" for k in primary_key
        )


# --------------------------------------------------------------------------------------------
# Casting a batch (DuckDB SQL; the PostgreSQL destination stages in DuckDB with these too)
# --------------------------------------------------------------------------------------------


def stage(
    con: duckdb.DuckDBPyConnection,
    batch: pa.Table,
    types: Mapping[str, str],
    primary_key: Sequence[str],
) -> tuple[int, int]:
    """Cast ``batch`` into the temporary stage table; (rows that cast, rows that do not)."""
    with _registered(con, batch):
        con.execute(stage_sql(batch.schema, types, primary_key))
    return _cast_counts(con, _STAGE)


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> Iterator[None]:
    """``batch`` readable as ``_BATCH``, with its rows numbered in :data:`ORD`."""
    ordinals = pa.array(range(batch.num_rows), pa.int64())
    con.register(_BATCH, batch.append_column(ORD, ordinals))
    try:
        yield
    finally:
        con.unregister(_BATCH)


def _cast_counts(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int]:
    """(rows that cast, rows that do not) of a staged table."""
    # fetchall, not fetchone: a half-read result blocks the relation API on this connection.
    ((landed, quarantined),) = con.execute(
        f"SELECT count(*) FILTER (WHERE {_ERROR} IS NULL), "
        f"count(*) FILTER (WHERE {_ERROR} IS NOT NULL) FROM {table}"
    ).fetchall()
    return landed, quarantined


def deleted_flag_sql(is_deleted_field: str | None) -> str:
    """``_is_deleted`` of a staged row: the source's flag, false if it has none."""
    if not is_deleted_field:
        return "false"
    return f"coalesce(TRY_CAST({quote_ident(is_deleted_field)} AS BOOLEAN), false)"


def bad_rows_sql(types: Mapping[str, str], primary_key: Sequence[str]) -> str:
    """The staged rows that cannot land: primary_key, reason, and the raw payload as JSON."""
    raw_of = {name: _raw(i) for i, name in enumerate(types)}
    payload = ", ".join(f"{quote_ident(n)} := {raw}" for n, raw in raw_of.items())
    return (
        f"SELECT {_primary_key_text(raw_of, primary_key)} AS primary_key, {_ERROR} AS reason, "
        f"to_json(struct_pack({payload})) AS payload FROM {_STAGE} WHERE {_ERROR} IS NOT NULL"
    )


def _raw(index: int) -> str:
    return f"_salesops_raw_{index}"


def _is_text(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    )


def _is_nested(arrow_type: pa.DataType) -> bool:
    return pa.types.is_nested(arrow_type)


def cast_sql(raw: str, arrow_type: pa.DataType, target: str) -> str:
    """SQL casting the staged value ``raw`` to ``target``; NULL where it does not fit.

    Text follows the APIs' conventions: ``""`` is null for non-text columns (HubSpot), epoch
    milliseconds are accepted for dates and timestamps (HubSpot), and a fractional value never
    silently rounds into an integer column.
    """
    text = _is_text(arrow_type)
    value = f"NULLIF(trim({raw}), '')" if text else raw
    if target == "VARCHAR":
        return (
            f"CAST(to_json({raw}) AS VARCHAR)"
            if _is_nested(arrow_type)
            else f"CAST({raw} AS VARCHAR)"
        )
    if target == "JSON":
        return f"TRY_CAST({raw} AS JSON)" if text else f"to_json({raw})"
    if target in ("BIGINT", "INTEGER") and (text or pa.types.is_floating(arrow_type)):
        as_double = f"TRY_CAST({value} AS DOUBLE)"
        return f"CASE WHEN {as_double} = floor({as_double}) THEN TRY_CAST({value} AS {target}) END"
    if target in ("TIMESTAMPTZ", "DATE") and (text or pa.types.is_integer(arrow_type)):
        digits = f"CAST({raw} AS VARCHAR)"
        from_ms = (
            f"CASE WHEN regexp_full_match({digits}, {_EPOCH_MS}) "
            f"THEN to_timestamp(CAST({digits} AS BIGINT) / 1000.0) END"
        )
        direct = f"TRY_CAST({value} AS {target})" if text else "NULL"
        return f"coalesce({direct}, CAST({from_ms} AS {target}))"
    return f"TRY_CAST({value} AS {target})"


def _present_sql(raw: str, arrow_type: pa.DataType, target: str) -> str:
    """True where the source sent a value (``""`` counts as absent for non-text columns)."""
    if _is_text(arrow_type) and target != "VARCHAR":
        return f"NULLIF(trim({raw}), '') IS NOT NULL"
    return f"{raw} IS NOT NULL"


def valid_select(
    schema: pa.Schema,
    types: Mapping[str, str],
    primary_key: Sequence[str],
    is_deleted_field: str | None,
) -> str:
    """:data:`VALID`'s rows from the registered batch: typed columns, ``_is_deleted``,
    ``_row_hash``, :data:`ORD`, and why the row cannot land (NULL if it can)."""
    deleted = deleted_flag_sql(is_deleted_field)
    return (
        f"SELECT {', '.join(quote_ident(n) for n in types)}, {deleted} AS _is_deleted, "
        f"{row_hash_sql(types, 's', deleted=deleted)} AS _row_hash, {ORD}, {_ERROR} "
        f"FROM ({staged_select(schema, types, primary_key)}) s"
    )


def stage_sql(schema: pa.Schema, types: Mapping[str, str], primary_key: Sequence[str]) -> str:
    """Create the stage: raw values, typed values, and why a row cannot land (NULL if it can)."""
    return f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS {staged_select(schema, types, primary_key)}"


def staged_select(schema: pa.Schema, types: Mapping[str, str], primary_key: Sequence[str]) -> str:
    """The batch's raw values, typed values, and why a row cannot land (NULL if it can)."""
    names = list(schema.names)
    raw_columns = ", ".join(f"{quote_ident(n)} AS {_raw(i)}" for i, n in enumerate(names))
    typed_columns = ", ".join(
        f"{cast_sql(_raw(i), schema.field(n).type, types[n])} AS {quote_ident(n)}"
        for i, n in enumerate(names)
    )
    failed = [
        (f"{_present_sql(_raw(i), schema.field(n).type, types[n])} AND {quote_ident(n)} IS NULL")
        for i, n in enumerate(names)
    ]
    reasons = [
        f"CASE WHEN {check} THEN {literal(f'field {n}: value ')} || {literal(chr(39))} || "
        f"left(CAST({_raw(i)} AS VARCHAR), {_MAX_VALUE_IN_REASON}) || "
        f"{literal(chr(39) + f' is not a valid {types[n]}')} END"
        for (i, n), check in zip(enumerate(names), failed, strict=True)
    ]
    failed += [f"{quote_ident(k)} IS NULL" for k in primary_key]
    reasons += [
        f"CASE WHEN {quote_ident(k)} IS NULL THEN {literal(f'primary key {k} is null')} END"
        for k in primary_key
    ]
    # The reason is text work on every column; CASE evaluates it only for the rows that fail.
    return (
        f"SELECT *, CASE WHEN {' OR '.join(f'({check})' for check in failed)} "
        f"THEN concat_ws('; ', {', '.join(reasons)}) END AS {_ERROR} "
        f"FROM (SELECT *, {typed_columns} FROM (SELECT {ORD}, {raw_columns} FROM {_BATCH}))"
    )


def _primary_key_text(raw_of: Mapping[str, str], primary_key: Sequence[str]) -> str:
    """``quarantine.primary_key``: the value for one key column, a JSON object for several."""
    if len(primary_key) == 1:
        return f"CAST({raw_of[primary_key[0]]} AS VARCHAR)"
    pairs = ", ".join(f"{quote_ident(k)} := {raw_of[k]}" for k in primary_key)
    return f"CAST(to_json(struct_pack({pairs})) AS VARCHAR)"


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(_column_types(con, schema, table))


def _column_types(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table],
    ).fetchall()
    return {name: _TYPE_ALIASES.get(type_, type_) for name, type_ in rows}


DuckDBDestination.sync_class = DuckDBSync

__all__ = [
    "BatchResult",
    "DuckDBDestination",
    "DuckDBSync",
    "cast_sql",
    "keys_to_arrow",
    "stage_sql",
    "to_arrow",
    "utc_now",
]
