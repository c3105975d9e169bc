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

Current table
    Upserted by primary key with DELETE + INSERT of the winning row per key (greatest cursor,
    then latest in the batch). A row whose cursor is older than the stored one never overwrites
    it, so a re-fetched stale page cannot roll a record back. Columns absent from the batch
    become NULL, matching the version row. Tables carry no PRIMARY KEY constraint: DuckDB's
    indexes would block ``ALTER TABLE ADD COLUMN`` and re-check uniqueness eagerly inside the
    delete-then-insert transaction; the key is enforced by the upsert itself.

Loading goes through Arrow (``con.register`` + set-based SQL), never row-by-row inserts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from connectors.destinations.base import (
    COLUMN_TYPES,
    RAW_META_SCHEMA,
    BatchResult,
    Destination,
    Key,
    Records,
    Sync,
    new_sync_id,
    raw_schema,
)
from connectors.naming import VERSIONS_SUFFIX, qualified, quote_ident, validate_identifier

log = logging.getLogger(__name__)

# Names used inside one transaction. Source columns cannot start with "_", so none collide.
_BATCH = "_salesops_batch"
_KEYS = "_salesops_keys"
_STAGE = "_salesops_stage"
_VALID = "_salesops_valid"
_WINNERS = "_salesops_winners"
_DELETED = "_salesops_deleted"
_ORD = "_salesops_ord"
_ERROR = "_salesops_error"

METADATA_DDL = (
    ("_synced_at", "TIMESTAMPTZ"),
    ("_sync_id", "VARCHAR"),
    ("_is_deleted", "BOOLEAN"),
    ("_row_hash", "VARCHAR"),
)

META_TABLES = {
    "stream_state": "source VARCHAR, stream VARCHAR, state JSON, updated_at TIMESTAMPTZ, "
    "sync_id VARCHAR",
    "sync_log": "sync_id VARCHAR, source VARCHAR, stream VARCHAR, started_at TIMESTAMPTZ, "
    "finished_at TIMESTAMPTZ, status VARCHAR, records_fetched BIGINT, records_landed BIGINT, "
    "records_quarantined BIGINT, inserted BIGINT, updated BIGINT, deleted BIGINT, pages BIGINT, "
    "retries BIGINT, cursor VARCHAR, error VARCHAR",
    "quarantine": "source VARCHAR, stream VARCHAR, primary_key VARCHAR, reason VARCHAR, "
    "payload JSON, sync_id VARCHAR, quarantined_at TIMESTAMPTZ",
}

# DuckDB reports some types under their long names.
_TYPE_ALIASES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}
_EPOCH_MS = "'-?[0-9]{11,16}'"  # 11+ digits: milliseconds, never plausible epoch seconds
_MAX_VALUE_IN_REASON = 200


def utc_now() -> datetime:
    return datetime.now(UTC)


class DuckDBDestination(Destination):
    """Raw layer in a DuckDB file. Only one process may write it: each sync opens its own
    connection and closes it at the end, so the file lock is held only while syncing.

    ``clock`` supplies ``_synced_at`` and the other timestamps; pass the API server's clock
    (``HttpClient.server_now``) to keep runs reproducible against the emulator.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.memory_limit = memory_limit
        self.threads = threads

    def __repr__(self) -> str:
        return f"DuckDBDestination({str(self.path)!r})"

    def open_sync(self, source: str, sync_id: str | None = None) -> DuckDBSync:
        validate_identifier(source, source=source, obj="source", kind="table")
        return DuckDBSync(self, source, sync_id or new_sync_id(self.clock()))

    def get_state(self, source: str, stream: str) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        with self.connect() as con:
            if not _table_exists(con, RAW_META_SCHEMA, "stream_state"):
                return None
            return _read_state(con, source, stream)

    def connect(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        # Timestamps are compared, hashed and shown in UTC regardless of the host's zone.
        con.execute("SET TimeZone = 'UTC'")
        if self.memory_limit:
            con.execute("SET memory_limit = ?", [self.memory_limit])
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        return con


class DuckDBSync(Sync):
    """A writer session on the DuckDB file for one source. See the module docstring."""

    def __init__(self, destination: DuckDBDestination, source: str, sync_id: str) -> None:
        self.destination = destination
        self.source = source
        self.sync_id = sync_id
        self.schema = raw_schema(source)
        self._clock = destination.clock
        self._lock = threading.Lock()
        self._started: dict[str, datetime] = {}
        self._finished: set[str] = set()
        self._con: duckdb.DuckDBPyConnection | None = destination.connect()
        with self._transaction() as con:
            _create_meta_tables(con)

    def __repr__(self) -> str:
        return f"DuckDBSync(source={self.source!r}, sync_id={self.sync_id!r})"

    # -- Sync API --------------------------------------------------------------------------

    def write_batch(
        self,
        stream: str,
        records: Records,
        *,
        columns: Mapping[str, str],
        primary_key: Sequence[str],
        cursor_field: str | None = None,
        is_deleted_field: str | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        self._validate_stream(stream, primary_key, cursor_field, is_deleted_field)
        declared = self._validated_types(stream, columns)
        batch = to_arrow(records, declared)
        self._validate_names(stream, batch.column_names)
        self._require_columns(stream, batch, [*primary_key, cursor_field, is_deleted_field])
        wanted = {**declared, **{n: declared.get(n, "VARCHAR") for n in batch.column_names}}
        synced_at = self._clock()
        self._started.setdefault(stream, synced_at)
        with self._lock, self._transaction() as con:
            table_types = self._ensure_tables(con, stream, wanted)
            batch_types = {name: table_types[name] for name in batch.column_names}
            result = self._land(
                con,
                stream,
                batch,
                batch_types,
                primary_key,
                cursor_field,
                is_deleted_field,
                synced_at,
            )
            self._add_to_log(con, stream, result, deleted=0)
            if state is not None:
                _save_state(con, self.source, stream, state, self.sync_id, synced_at)
        return result

    def mark_deleted(
        self,
        stream: str,
        keys: Iterable[Key],
        *,
        primary_key: Sequence[str],
        state: Mapping[str, Any] | None = None,
    ) -> int:
        self._validate_stream(stream, primary_key, None, None)
        key_table = keys_to_arrow(keys, primary_key)
        synced_at = self._clock()
        self._started.setdefault(stream, synced_at)
        with self._lock, self._transaction() as con:
            deleted = 0
            if _table_exists(con, self.schema, stream) and key_table.num_rows:
                deleted = self._flag_deleted(con, stream, key_table, primary_key, synced_at)
            self._add_to_log(con, stream, BatchResult(0, 0, 0, 0, 0, deleted), deleted=deleted)
            if state is not None:
                _save_state(con, self.source, stream, state, self.sync_id, synced_at)
        return deleted

    def get_state(self, stream: str) -> dict[str, Any] | None:
        with self._lock:
            return _read_state(self._connection(), self.source, stream)

    def save_state(self, stream: str, state: Mapping[str, Any]) -> None:
        validate_identifier(stream, source=self.source, obj=stream, kind="table")
        with self._lock, self._transaction() as con:
            _save_state(con, self.source, stream, state, self.sync_id, self._clock())

    def live_keys(
        self,
        stream: str,
        primary_key: Sequence[str],
        *,
        where_in: tuple[str, Collection[str]] | None = None,
    ) -> set[tuple[str, ...]]:
        self._validate_stream(stream, primary_key, None, None)
        keys = ", ".join(f"CAST({quote_ident(k)} AS VARCHAR)" for k in primary_key)
        sql = (
            f"SELECT {keys} FROM {qualified(self.schema, stream)} "
            "WHERE NOT coalesce(_is_deleted, false)"
        )
        with self._lock:
            con = self._connection()
            if not _column_types(con, self.schema, stream):  # no such table (yet)
                return set()
            if where_in is None:
                return {tuple(row) for row in con.execute(sql).fetchall()}
            column, values = where_in
            self._validate_names(stream, [column])
            con.register(_KEYS, pa.table({"v": pa.array(sorted(values), pa.string())}))
            try:
                rows = con.execute(
                    f"{sql} AND CAST({quote_ident(column)} AS VARCHAR) IN (SELECT v FROM {_KEYS})"
                ).fetchall()
            finally:
                con.unregister(_KEYS)
        return {tuple(row) for row in rows}

    def finish_stream(
        self,
        stream: str,
        *,
        status: str = "success",
        error: str | None = None,
        pages: int | None = None,
        retries: int | None = None,
        cursor: str | None = None,
    ) -> None:
        with self._lock, self._transaction() as con:
            self._ensure_log_row(con, stream)
            con.execute(
                f"UPDATE {qualified(RAW_META_SCHEMA, 'sync_log')} SET finished_at = ?, "
                "status = ?, error = ?, pages = coalesce(?, pages), "
                "retries = coalesce(?, retries), cursor = coalesce(?, cursor) "
                "WHERE sync_id = ? AND source = ? AND stream = ?",
                [
                    self._clock(),
                    status,
                    error[:2000] if error else None,
                    pages,
                    retries,
                    cursor,
                    self.sync_id,
                    self.source,
                    stream,
                ],
            )
        self._finished.add(stream)

    def close(self, error: BaseException | None = None) -> None:
        if self._con is None:
            return
        status, message = ("failed", _describe(error)) if error else ("success", None)
        try:
            for stream in [s for s in self._started if s not in self._finished]:
                self.finish_stream(stream, status=status, error=message)
        except duckdb.Error:
            # Never mask the error that ended the sync; the log row simply stays "running".
            log.exception("could not finish sync_log rows of sync %s", self.sync_id)
        finally:
            self._con.close()
            self._con = None

    # -- validation ------------------------------------------------------------------------

    def _validate_stream(
        self,
        stream: str,
        primary_key: Sequence[str],
        cursor_field: str | None,
        is_deleted_field: str | None,
    ) -> None:
        validate_identifier(stream, source=self.source, obj=stream, kind="table")
        if not primary_key:
            raise ValueError(f"{self.source} {stream}: a primary key is required")
        self._validate_names(
            stream, [*primary_key, *filter(None, [cursor_field, is_deleted_field])]
        )

    def _validate_names(self, stream: str, names: Iterable[str]) -> None:
        for name in names:
            validate_identifier(name, source=self.source, obj=stream)

    def _require_columns(self, stream: str, batch: pa.Table, names: Iterable[str | None]) -> None:
        missing = [n for n in names if n and n not in batch.column_names]
        if missing and batch.num_rows:
            raise ValueError(f"{self.source} {stream}: the batch has no column(s) {missing}")

    def _validated_types(self, stream: str, columns: Mapping[str, str]) -> dict[str, str]:
        self._validate_names(stream, columns)
        types = {name: type_.strip().upper() for name, type_ in columns.items()}
        unknown = {n: t for n, t in types.items() if t not in COLUMN_TYPES}
        if unknown:
            raise ValueError(
                f"{self.source} {stream}: unsupported column types {unknown}; "
                f"use one of {sorted(COLUMN_TYPES)}"
            )
        return types

    # -- the transaction -------------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError(f"sync {self.sync_id} is closed")
        return self._con

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._connection()
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                log.exception("rollback failed for sync %s", self.sync_id)
            raise
        con.execute("COMMIT")

    def _ensure_tables(
        self, con: duckdb.DuckDBPyConnection, stream: str, wanted: Mapping[str, str]
    ) -> dict[str, str]:
        """Create the current and versions tables or add missing columns; return column types.

        An existing column keeps its type even if the declaration changed: values that no
        longer fit go to quarantine rather than silently rewriting history.
        """
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
        self._ensure_table(con, stream + VERSIONS_SUFFIX, wanted)
        types = self._ensure_table(con, stream, wanted)
        for name, declared in wanted.items():
            if types[name] != declared:
                log.warning(
                    "%s %s.%s is %s in the warehouse but declared %s; keeping %s",
                    self.source,
                    stream,
                    name,
                    types[name],
                    declared,
                    types[name],
                )
        return types

    def _ensure_table(
        self, con: duckdb.DuckDBPyConnection, table: str, wanted: Mapping[str, str]
    ) -> dict[str, str]:
        existing = _column_types(con, self.schema, table)
        if not existing:
            _create_table(con, self.schema, table, wanted)
            return dict(wanted)
        for name, type_ in wanted.items():
            if name not in existing:
                con.execute(
                    f"ALTER TABLE {qualified(self.schema, table)} "
                    f"ADD COLUMN {quote_ident(name)} {type_}"
                )
                existing[name] = type_
        return existing

    def _land(
        self,
        con: duckdb.DuckDBPyConnection,
        stream: str,
        batch: pa.Table,
        types: Mapping[str, str],
        primary_key: Sequence[str],
        cursor_field: str | None,
        is_deleted_field: str | None,
        synced_at: datetime,
    ) -> BatchResult:
        """Stage, quarantine, version and upsert one batch (inside the caller's transaction)."""
        if batch.num_rows == 0:
            return BatchResult(0, 0, 0, 0, 0, 0)
        landed, quarantined = self._stage(con, stream, batch, types, primary_key, synced_at)
        con.execute(valid_sql(types, is_deleted_field))
        current = qualified(self.schema, stream)
        versions = qualified(self.schema, stream + VERSIONS_SUFFIX)
        con.execute(winners_sql(current, primary_key, cursor_field))
        inserted, updated = con.execute(
            f"SELECT count(*) FILTER (WHERE NOT _salesops_existed), "
            f"count(*) FILTER (WHERE _salesops_existed AND _salesops_changed) FROM {_WINNERS}"
        ).fetchone()
        appended = _count(
            con,
            append_versions_sql(current, versions, list(types), primary_key, cursor_field),
            [synced_at, self.sync_id],
        )
        _upsert_current(con, current, list(types), primary_key, synced_at, self.sync_id)
        for temp in (_STAGE, _VALID, _WINNERS):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        return BatchResult(batch.num_rows, landed, quarantined, inserted, updated, appended)

    def _stage(
        self,
        con: duckdb.DuckDBPyConnection,
        stream: str,
        batch: pa.Table,
        types: Mapping[str, str],
        primary_key: Sequence[str],
        synced_at: datetime,
    ) -> tuple[int, int]:
        """Cast the batch into the stage and quarantine what does not fit; (landed, quarantined)."""
        ordinals = pa.array(range(batch.num_rows), pa.int64())
        con.register(_BATCH, batch.append_column(_ORD, ordinals))
        try:
            con.execute(stage_sql(batch.schema, types, primary_key))
        finally:
            con.unregister(_BATCH)
        landed, quarantined = con.execute(
            f"SELECT count(*) FILTER (WHERE {_ERROR} IS NULL), "
            f"count(*) FILTER (WHERE {_ERROR} IS NOT NULL) FROM {_STAGE}"
        ).fetchone()
        if landed + quarantined != batch.num_rows:  # a bug guard: never lose rows silently
            raise RuntimeError(f"{stream}: staged {landed} + {quarantined} of {batch.num_rows}")
        if quarantined:
            con.execute(
                *quarantine_sql(self.source, stream, types, primary_key, self.sync_id, synced_at)
            )
        return landed, quarantined

    def _flag_deleted(
        self,
        con: duckdb.DuckDBPyConnection,
        stream: str,
        key_table: pa.Table,
        primary_key: Sequence[str],
        synced_at: datetime,
    ) -> int:
        types = _column_types(con, self.schema, stream)
        source_columns = [c for c in types if not c.startswith("_")]
        current = qualified(self.schema, stream)
        versions = qualified(self.schema, stream + VERSIONS_SUFFIX)
        con.register(_KEYS, key_table)
        try:
            match = " AND ".join(
                f"c.{quote_ident(k)} = TRY_CAST(k.{quote_ident(k)} AS {types[k]})"
                for k in primary_key
            )
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_DELETED} AS "
                f"SELECT c.* REPLACE (true AS _is_deleted, "
                f"{row_hash_sql(source_columns, 'c', deleted='true')} AS _row_hash) "
                f"FROM {current} c WHERE NOT coalesce(c._is_deleted, false) "
                f"AND EXISTS (SELECT 1 FROM {_KEYS} k WHERE {match})"
            )
        finally:
            con.unregister(_KEYS)
        column_list = ", ".join(quote_ident(c) for c in source_columns)
        con.execute(
            f"INSERT INTO {versions} ({column_list}, _synced_at, _sync_id, _is_deleted, _row_hash) "
            f"SELECT {column_list}, ?, ?, true, _row_hash FROM {_DELETED}",
            [synced_at, self.sync_id],
        )
        deleted = _count(
            con,
            f"UPDATE {current} c SET _is_deleted = true, _synced_at = ?, _sync_id = ?, "
            f"_row_hash = d._row_hash FROM {_DELETED} d WHERE {_key_match('c', 'd', primary_key)}",
            [synced_at, self.sync_id],
        )
        con.execute(f"DROP TABLE IF EXISTS {_DELETED}")
        return deleted

    # -- sync_log --------------------------------------------------------------------------

    def _ensure_log_row(self, con: duckdb.DuckDBPyConnection, stream: str) -> None:
        started = self._started.setdefault(stream, self._clock())
        log_table = qualified(RAW_META_SCHEMA, "sync_log")
        exists = _count(
            con,
            f"SELECT count(*) FROM {log_table} WHERE sync_id = ? AND source = ? AND stream = ?",
            [self.sync_id, self.source, stream],
        )
        if not exists:
            con.execute(
                f"INSERT INTO {log_table} VALUES "
                "(?, ?, ?, ?, NULL, 'running', 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL)",
                [self.sync_id, self.source, stream, started],
            )

    def _add_to_log(
        self, con: duckdb.DuckDBPyConnection, stream: str, result: BatchResult, *, deleted: int
    ) -> None:
        self._ensure_log_row(con, stream)
        con.execute(
            f"UPDATE {qualified(RAW_META_SCHEMA, 'sync_log')} SET "
            "records_fetched = records_fetched + ?, records_landed = records_landed + ?, "
            "records_quarantined = records_quarantined + ?, inserted = inserted + ?, "
            "updated = updated + ?, deleted = deleted + ? "
            "WHERE sync_id = ? AND source = ? AND stream = ?",
            [
                result.fetched,
                result.landed,
                result.quarantined,
                result.inserted,
                result.updated,
                deleted,
                self.sync_id,
                self.source,
                stream,
            ],
        )


# --------------------------------------------------------------------------------------------
# Arrow conversion
# --------------------------------------------------------------------------------------------


def to_arrow(records: Records, declared: Mapping[str, str]) -> pa.Table:
    """An Arrow table of the batch. Lists of dicts are converted column by column; a column
    whose values Arrow cannot type consistently is kept as text so that the cast in SQL, not
    Arrow, decides (and quarantines) what does not fit.
    """
    if isinstance(records, pa.Table):
        return records
    rows = list(records)
    if not rows:
        return pa.table({})
    names = list(dict.fromkeys([*declared, *(key for row in rows for key in row)]))
    arrays = [_column_array([row.get(name) for row in rows], declared.get(name)) for name in names]
    return pa.Table.from_arrays(arrays, names=names)


def _column_array(values: list[Any], declared_type: str | None) -> pa.Array:
    if declared_type == "JSON":
        return pa.array([None if v is None else _json_text(v) for v in values], pa.string())
    if any(isinstance(v, dict | list) for v in values):
        values = [_json_text(v) if isinstance(v, dict | list) else v for v in values]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else _plain_text(v) for v in values], pa.string())


def _json_text(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _plain_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # what SQL casts expect, not Python's "True"
    if isinstance(value, dict | list):
        return _json_text(value)
    return str(value)


def keys_to_arrow(keys: Iterable[Key], primary_key: Sequence[str]) -> pa.Table:
    """Keys given as scalars (single-column keys), tuples or mappings, as an all-text table."""
    columns: list[list[str | None]] = [[] for _ in primary_key]
    for key in keys:
        if isinstance(key, Mapping):
            parts = [key[name] for name in primary_key]
        elif isinstance(key, tuple | list):
            parts = list(key)
        else:
            parts = [key]
        if len(parts) != len(primary_key):
            raise ValueError(f"key {key!r} does not match primary key {list(primary_key)}")
        for column, part in zip(columns, parts, strict=True):
            column.append(None if part is None else _plain_text(part))
    return pa.table(
        {name: pa.array(col, pa.string()) for name, col in zip(primary_key, columns, strict=True)}
    )


# --------------------------------------------------------------------------------------------
# SQL builders (pure functions of names and types; every identifier is quoted)
# --------------------------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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


def stage_sql(schema: pa.Schema, types: Mapping[str, str], primary_key: Sequence[str]) -> str:
    """Create the stage: raw values, typed values, and why a row cannot land (NULL if it can)."""
    names = list(schema.names)
    raw_columns = ", ".join(f"{quote_ident(n)} AS {_raw(i)}" for i, n in enumerate(names))
    typed_columns = ", ".join(
        f"{cast_sql(_raw(i), schema.field(n).type, types[n])} AS {quote_ident(n)}"
        for i, n in enumerate(names)
    )
    problems = [
        f"CASE WHEN {_present_sql(_raw(i), schema.field(n).type, types[n])} "
        f"AND {quote_ident(n)} IS NULL THEN {_literal(f'field {n}: value ')} || "
        f"{_literal(chr(39))} || left(CAST({_raw(i)} AS VARCHAR), {_MAX_VALUE_IN_REASON}) || "
        f"{_literal(chr(39) + f' is not a valid {types[n]}')} END"
        for i, n in enumerate(names)
    ]
    problems += [
        f"CASE WHEN {quote_ident(k)} IS NULL THEN {_literal(f'primary key {k} is null')} END"
        for k in primary_key
    ]
    return (
        f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS "
        f"SELECT *, NULLIF(concat_ws('; ', {', '.join(problems)}), '') AS {_ERROR} "
        f"FROM (SELECT *, {typed_columns} FROM (SELECT {_ORD}, {raw_columns} FROM {_BATCH}))"
    )


def _primary_key_text(raw_of: Mapping[str, str], primary_key: Sequence[str]) -> str:
    """``quarantine.primary_key``: the value for one key column, a JSON object for several."""
    if len(primary_key) == 1:
        return f"CAST({raw_of[primary_key[0]]} AS VARCHAR)"
    pairs = ", ".join(f"{quote_ident(k)} := {raw_of[k]}" for k in primary_key)
    return f"CAST(to_json(struct_pack({pairs})) AS VARCHAR)"


def quarantine_sql(
    source: str,
    stream: str,
    types: Mapping[str, str],
    primary_key: Sequence[str],
    sync_id: str,
    at: datetime,
) -> tuple[str, list[Any]]:
    """Copy rows that cannot land into ``raw_meta.quarantine`` with their raw payload.

    The same bad record seen again (a rerun, a lookback) is not quarantined twice.
    """
    raw_of = {name: _raw(i) for i, name in enumerate(types)}
    payload = ", ".join(f"{quote_ident(n)} := {raw}" for n, raw in raw_of.items())
    quarantine = qualified(RAW_META_SCHEMA, "quarantine")
    sql = (
        f"INSERT INTO {quarantine} "
        f"SELECT ?, ?, primary_key, reason, payload, ?, ? FROM ("
        f"SELECT DISTINCT {_primary_key_text(raw_of, primary_key)} AS primary_key, "
        f"{_ERROR} AS reason, to_json(struct_pack({payload})) AS payload "
        f"FROM {_STAGE} WHERE {_ERROR} IS NOT NULL) bad "
        f"WHERE NOT EXISTS (SELECT 1 FROM {quarantine} q WHERE q.source = ? AND q.stream = ? "
        f"AND q.primary_key IS NOT DISTINCT FROM bad.primary_key "
        f"AND CAST(q.payload AS VARCHAR) = CAST(bad.payload AS VARCHAR))"
    )
    return sql, [source, stream, sync_id, at, source, stream]


def row_hash_sql(columns: Iterable[str], alias: str, *, deleted: str) -> str:
    """md5 over the non-null columns (name and value, sorted by name) and the deleted flag.

    ``concat`` skips NULL segments, so adding a nullable column leaves old hashes unchanged.
    """
    segments = [
        f"{_literal(name)} || chr(30) || CAST({alias}.{quote_ident(name)} AS VARCHAR) || chr(31)"
        for name in sorted(columns)
    ]
    segments.append(f"'_is_deleted' || chr(30) || CAST({deleted} AS VARCHAR)")
    return f"md5(concat({', '.join(segments)}))"


def valid_sql(types: Mapping[str, str], is_deleted_field: str | None) -> str:
    """Rows that passed casting, with ``_is_deleted`` and ``_row_hash``."""
    deleted = (
        f"coalesce(TRY_CAST(s.{quote_ident(is_deleted_field)} AS BOOLEAN), false)"
        if is_deleted_field
        else "false"
    )
    columns = ", ".join(f"s.{quote_ident(n)}" for n in types)
    return (
        f"CREATE OR REPLACE TEMP TABLE {_VALID} AS "
        f"SELECT {columns}, {deleted} AS _is_deleted, "
        f"{row_hash_sql(types, 's', deleted=deleted)} AS _row_hash, s.{_ORD} "
        f"FROM {_STAGE} s WHERE s.{_ERROR} IS NULL"
    )


def _key_match(left: str, right: str, primary_key: Sequence[str]) -> str:
    return " AND ".join(f"{left}.{quote_ident(k)} = {right}.{quote_ident(k)}" for k in primary_key)


def winners_sql(current: str, primary_key: Sequence[str], cursor_field: str | None) -> str:
    """The row per key that becomes current: greatest cursor, then latest in the batch.

    A row older than the stored one (by cursor) does not win.
    """
    keys = ", ".join(quote_ident(k) for k in primary_key)
    order = f"{quote_ident(cursor_field)} DESC NULLS LAST, " if cursor_field else ""
    not_stale = ""
    if cursor_field:
        cursor = quote_ident(cursor_field)
        not_stale = f"AND (c._row_hash IS NULL OR c.{cursor} IS NULL OR v.{cursor} >= c.{cursor})"
    return (
        f"CREATE OR REPLACE TEMP TABLE {_WINNERS} AS "
        f"SELECT v.*, c._row_hash IS NOT NULL AS _salesops_existed, "
        f"c._row_hash IS DISTINCT FROM v._row_hash AS _salesops_changed "
        f"FROM (SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY {order}{_ORD} DESC) "
        f"AS _salesops_rank FROM {_VALID}) v "
        f"LEFT JOIN {current} c ON {_key_match('c', 'v', primary_key)} "
        f"WHERE v._salesops_rank = 1 {not_stale}"
    )


def append_versions_sql(
    current: str,
    versions: str,
    columns: Sequence[str],
    primary_key: Sequence[str],
    cursor_field: str | None,
) -> str:
    """Append batch rows that are new versions (rule in the module docstring)."""
    column_list = ", ".join(quote_ident(c) for c in columns)
    keys = ", ".join(quote_ident(k) for k in primary_key)
    if cursor_field:
        cursor = quote_ident(cursor_field)
        seen = (
            f"SELECT 1 FROM {versions} x WHERE {_key_match('x', 'v', primary_key)} "
            f"AND x.{cursor} IS NOT DISTINCT FROM v.{cursor} AND x._row_hash = v._row_hash"
        )
    else:
        seen = (
            f"SELECT 1 FROM {current} c WHERE {_key_match('c', 'v', primary_key)} "
            f"AND c._row_hash = v._row_hash"
        )
    return (
        f"INSERT INTO {versions} ({column_list}, _synced_at, _sync_id, _is_deleted, _row_hash) "
        f"SELECT {column_list}, ?, ?, _is_deleted, _row_hash FROM ("
        f"SELECT DISTINCT ON ({keys}, _row_hash) * FROM {_VALID} "
        f"ORDER BY {keys}, _row_hash, {_ORD}) v "
        f"WHERE NOT EXISTS ({seen}) ORDER BY {_ORD}"
    )


def _upsert_current(
    con: duckdb.DuckDBPyConnection,
    current: str,
    columns: Sequence[str],
    primary_key: Sequence[str],
    synced_at: datetime,
    sync_id: str,
) -> None:
    column_list = ", ".join(quote_ident(c) for c in columns)
    con.execute(
        f"DELETE FROM {current} c USING {_WINNERS} w WHERE {_key_match('c', 'w', primary_key)}"
    )
    con.execute(
        f"INSERT INTO {current} ({column_list}, _synced_at, _sync_id, _is_deleted, _row_hash) "
        f"SELECT {column_list}, ?, ?, _is_deleted, _row_hash FROM {_WINNERS} ORDER BY {_ORD}",
        [synced_at, sync_id],
    )


# --------------------------------------------------------------------------------------------
# Catalog and raw_meta helpers
# --------------------------------------------------------------------------------------------


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        _count(
            con,
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
            [schema, table],
        )
    )


def _column_types(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table],
    ).fetchall()
    return {name: _TYPE_ALIASES.get(type_, type_) for name, type_ in rows}


def _create_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: Mapping[str, str]
) -> None:
    definitions = [f"{quote_ident(n)} {t}" for n, t in columns.items()]
    definitions += [f"{n} {t}" for n, t in METADATA_DDL]
    con.execute(f"CREATE TABLE {qualified(schema, table)} ({', '.join(definitions)})")


def _create_meta_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RAW_META_SCHEMA)}")
    for table, ddl in META_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(RAW_META_SCHEMA, table)} ({ddl})")


def _save_state(
    con: duckdb.DuckDBPyConnection,
    source: str,
    stream: str,
    state: Mapping[str, Any],
    sync_id: str,
    at: datetime,
) -> None:
    table = qualified(RAW_META_SCHEMA, "stream_state")
    text = orjson.dumps(dict(state), default=str, option=orjson.OPT_SORT_KEYS).decode()
    con.execute(f"DELETE FROM {table} WHERE source = ? AND stream = ?", [source, stream])
    con.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", [source, stream, text, at, sync_id])


def _read_state(con: duckdb.DuckDBPyConnection, source: str, stream: str) -> dict[str, Any] | None:
    row = con.execute(
        f"SELECT CAST(state AS VARCHAR) FROM {qualified(RAW_META_SCHEMA, 'stream_state')} "
        "WHERE source = ? AND stream = ?",
        [source, stream],
    ).fetchone()
    return orjson.loads(row[0]) if row else None


def _describe(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"[:2000]
