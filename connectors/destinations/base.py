"""The destination interface: where raw records, their versions and stream state land.

DuckDB (:mod:`.duckdb`), PostgreSQL (:mod:`.postgres`) and a Parquet lake (:mod:`.parquet`)
implement it. Per CONFIG.md "Raw layer naming":

* ``raw_<source>.<table>``: current state, one row per primary key, plus ``_synced_at``,
  ``_sync_id``, ``_is_deleted`` (and ``_row_hash``, see below);
* ``raw_<source>.<table>__versions``: every distinct record version ever extracted, append-only;
* ``raw_meta.stream_state``, ``raw_meta.sync_log``, ``raw_meta.quarantine``.

Contract every implementation keeps:

* :meth:`Sync.write_batch` is atomic: current rows, version rows, quarantined rows, the
  ``sync_log`` counters and the stream state commit together or not at all. State is the
  bookmark the source resumes from, so a crash at any instant leaves state pointing at the last
  batch that fully landed, and a rerun re-fetches exactly what is missing.
* Rewriting the same rows is harmless: the current table is upserted by primary key, and a
  version is appended only if it is new (see ``_row_hash`` in the DuckDB module for the rule).
* ``fetched = landed + quarantined`` for every batch; a value that cannot be cast to its column
  type sends the whole record to quarantine with a reason naming the field and value.

:class:`Sync` keeps that contract once for every engine: validation, the order of the steps
inside the batch's transaction, ``sync_log`` bookkeeping, stream state, schema drift and the
version/upsert/delete SQL (:mod:`.sql`). An engine supplies only its I/O: a connection and
transaction, how statements run, its column types, and how a batch is cast into
:data:`~connectors.destinations.sql.VALID` (and quarantined).
"""

from __future__ import annotations

import logging
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
import pyarrow as pa

from connectors.destinations import sql
from connectors.destinations.sql import RAW_META_SCHEMA
from connectors.naming import VERSIONS_SUFFIX, qualified, quote_ident, validate_identifier

log = logging.getLogger(__name__)

# The declared column types every destination understands.
COLUMN_TYPES = frozenset(
    {"VARCHAR", "DOUBLE", "BIGINT", "INTEGER", "BOOLEAN", "DATE", "TIMESTAMPTZ", "JSON"}
)

# The loader's columns on every raw table, in declared types.
METADATA_COLUMNS = {
    "_synced_at": "TIMESTAMPTZ",
    "_sync_id": "VARCHAR",
    "_is_deleted": "BOOLEAN",
    "_row_hash": "VARCHAR",
}

# The raw_meta tables, in declared types (each engine maps them to its own).
META_COLUMNS = {
    "stream_state": {
        "source": "VARCHAR",
        "stream": "VARCHAR",
        "state": "JSON",
        "updated_at": "TIMESTAMPTZ",
        "sync_id": "VARCHAR",
    },
    "sync_log": {
        "sync_id": "VARCHAR",
        "source": "VARCHAR",
        "stream": "VARCHAR",
        "started_at": "TIMESTAMPTZ",
        "finished_at": "TIMESTAMPTZ",
        "status": "VARCHAR",
        "records_fetched": "BIGINT",
        "records_landed": "BIGINT",
        "records_quarantined": "BIGINT",
        "inserted": "BIGINT",
        "updated": "BIGINT",
        "deleted": "BIGINT",
        "pages": "BIGINT",
        "retries": "BIGINT",
        "cursor": "VARCHAR",
        "error": "VARCHAR",
    },
    "quarantine": {
        "source": "VARCHAR",
        "stream": "VARCHAR",
        "primary_key": "VARCHAR",
        "reason": "VARCHAR",
        "payload": "JSON",
        "sync_id": "VARCHAR",
        "quarantined_at": "TIMESTAMPTZ",
    },
}

_MAX_ERROR = 2000

Records = pa.Table | Sequence[Mapping[str, Any]]
Key = Any  # a scalar for single-column keys, a tuple or mapping for composite ones


def utc_now() -> datetime:
    return datetime.now(UTC)


def raw_schema(source: str) -> str:
    """``raw_salesforce``, ``raw_hubspot``, ``raw_google_ads``."""
    return f"raw_{source}"


def new_sync_id(now: datetime | None = None) -> str:
    """A sortable, unique sync id such as ``20240520T020000Z-1a2b3c4d``."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def describe_error(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"[:_MAX_ERROR]


@dataclass(frozen=True)
class BatchResult:
    """What one :meth:`Sync.write_batch` call did. ``fetched == landed + quarantined``."""

    fetched: int
    landed: int
    quarantined: int
    inserted: int
    updated: int
    versions_appended: int


@dataclass(frozen=True)
class Landing:
    """One batch on its way into a stream's tables (inside its transaction)."""

    stream: str
    batch: pa.Table
    types: Mapping[str, str]  # the table's declared type of each batch column
    primary_key: Sequence[str]
    cursor_field: str | None
    is_deleted_field: str | None
    synced_at: datetime
    staged: pa.Table | None = None  # the batch already cast into VALID's columns, or None


@dataclass(frozen=True)
class PreparedBatch:
    """A batch ready for :meth:`Sync.write_prepared`: validated, in Arrow, and (where the
    engine can) cast and hashed ahead of its transaction, by :meth:`Sync.prepare`."""

    stream: str
    batch: pa.Table
    wanted: Mapping[str, str]  # the declared type of every batch column (VARCHAR if undeclared)
    primary_key: Sequence[str]
    cursor_field: str | None
    is_deleted_field: str | None
    # The rows cast to ``staged_types`` with ``_is_deleted`` and ``_row_hash``, when every row
    # cast; used if the table still has those types when the batch lands.
    staged: pa.Table | None = None
    staged_types: Mapping[str, str] | None = None


# --------------------------------------------------------------------------------------------
# Records as Arrow (what every engine stages from)
# --------------------------------------------------------------------------------------------


def to_arrow(records: Records, declared: Mapping[str, str]) -> pa.Table:
    """An Arrow table of the batch: the declared columns first, then the others in order of
    appearance. A column whose values Arrow cannot type consistently is kept as text so that
    the cast in SQL, not Arrow, decides (and quarantines) what does not fit; nested values and
    JSON columns become JSON text.
    """
    if isinstance(records, pa.Table):
        return records
    rows = list(records)
    if not rows:
        return pa.table({})
    try:
        # One pass in C++ finds every key and types each column, as pa.array would per column.
        inferred: pa.StructArray | None = pa.array(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        inferred = None  # a column of mixed types: fall back to converting column by column
    if inferred is None or not pa.types.is_struct(inferred.type):
        return _to_arrow_by_column(rows, declared)
    found = {field.name: field.type for field in inferred.type}
    names = list(dict.fromkeys([*declared, *found]))
    arrays = [
        inferred.field(name)
        if name in found and declared.get(name) != "JSON" and not pa.types.is_nested(found[name])
        else column_array([row.get(name) for row in rows], declared.get(name))
        for name in names
    ]
    return pa.Table.from_arrays(arrays, names=names)


def _to_arrow_by_column(rows: list[Mapping[str, Any]], declared: Mapping[str, str]) -> pa.Table:
    names = list(dict.fromkeys([*declared, *(key for row in rows for key in row)]))
    arrays = [column_array([row.get(name) for row in rows], declared.get(name)) for name in names]
    return pa.Table.from_arrays(arrays, names=names)


def column_array(values: list[Any], declared_type: str | None) -> pa.Array:
    """One column's values as Arrow: JSON text where declared JSON or nested, and all text
    when Arrow cannot type the values consistently."""
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
# The sync: the contract, once; engines fill in the I/O hooks at the end of the class
# --------------------------------------------------------------------------------------------


class Sync(ABC):
    """One sync of one source: a writer session. Use as a context manager; on exit it closes
    the connection and gives streams still running a final status: ``failed`` if an exception
    escaped, else ``success``.

    ``destination`` provides ``clock()`` and ``connect()``; the connection is held until
    :meth:`close`. Every public method takes ``_lock``, so one sync can be shared by threads.
    """

    source: str
    sync_id: str

    # The driver's placeholder, and the placeholder for a JSON value.
    param: ClassVar[str]
    json_param: ClassVar[str]
    # What finishing the log rows in close() may raise; logged, so the sync's own error shows.
    close_errors: ClassVar[tuple[type[BaseException], ...]]

    def __init__(self, destination: Any, source: str, sync_id: str) -> None:
        self.destination = destination
        self.source = source
        self.sync_id = sync_id
        self.schema = raw_schema(source)
        self._clock: Callable[[], datetime] = destination.clock
        self._lock = threading.Lock()
        self._started: dict[str, datetime] = {}
        self._finished: set[str] = set()
        # Each stream's column types as of its last batch: what prepare() casts ahead to.
        self._known_types: dict[str, dict[str, str]] = {}
        self._con: Any = destination.connect()
        with self._transaction() as cur:
            self._create_meta_tables(cur)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source!r}, sync_id={self.sync_id!r})"

    def __enter__(self) -> Sync:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close(error=exc)

    # -- the public API ----------------------------------------------------------------------

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
        """Land one batch of ``stream`` and (optionally) save ``state``, atomically.

        ``columns`` maps column names to declared types (:data:`COLUMN_TYPES`); record keys not
        declared land as VARCHAR. ``cursor_field`` (e.g. ``system_modstamp``) orders versions
        of the same key and keeps an older re-fetch from overwriting newer state.
        ``is_deleted_field`` (e.g. ``is_deleted``, ``archived``) feeds ``_is_deleted``.
        """
        prepared = self._validated_batch(
            stream, records, columns, primary_key, cursor_field, is_deleted_field
        )
        return self.write_prepared(prepared, state=state)

    def prepare(
        self,
        stream: str,
        records: Records,
        *,
        columns: Mapping[str, str],
        primary_key: Sequence[str],
        cursor_field: str | None = None,
        is_deleted_field: str | None = None,
    ) -> PreparedBatch:
        """:meth:`write_batch`'s work that needs no transaction, done now: validation, Arrow,
        and the cast and row hash where the engine can do them apart (DuckDB).

        Safe to call from another thread while this sync writes: a stream runner prepares the
        next batch while the previous one lands, so the cast runs beside the writer instead of
        in front of it. Land the result with :meth:`write_prepared`.
        """
        prepared = self._validated_batch(
            stream, records, columns, primary_key, cursor_field, is_deleted_field
        )
        if not prepared.batch.num_rows:
            return prepared
        known = self._known_types.get(stream, {})
        types = {n: known.get(n, prepared.wanted[n]) for n in prepared.batch.column_names}
        staged = self._stage_ahead(prepared, types)
        if staged is None:
            return prepared
        return replace(prepared, staged=staged, staged_types=types)

    def write_prepared(
        self, prepared: PreparedBatch, *, state: Mapping[str, Any] | None = None
    ) -> BatchResult:
        """Land a batch from :meth:`prepare` (see :meth:`write_batch`)."""
        stream, batch = prepared.stream, prepared.batch
        self._open_stream(stream)
        synced_at = self._clock()
        self._started.setdefault(stream, synced_at)
        with self._lock, self._transaction() as cur:
            table_types = self._ensure_tables(cur, stream, prepared.wanted)
            self._known_types[stream] = dict(table_types)
            batch_types = {name: table_types[name] for name in batch.column_names}
            # Cast ahead to the types the table has now, or cast again here.
            staged = prepared.staged if prepared.staged_types == batch_types else None
            result = self._land(
                cur,
                Landing(
                    stream,
                    batch,
                    batch_types,
                    prepared.primary_key,
                    prepared.cursor_field,
                    prepared.is_deleted_field,
                    synced_at,
                    staged,
                ),
            )
            self._add_to_log(cur, stream, result, deleted=0)
            if state is not None:
                self._save_state(cur, stream, state, synced_at)
        return result

    def _validated_batch(
        self,
        stream: str,
        records: Records,
        columns: Mapping[str, str],
        primary_key: Sequence[str],
        cursor_field: str | None,
        is_deleted_field: str | None,
    ) -> PreparedBatch:
        self._validate_stream(stream, primary_key, cursor_field, is_deleted_field)
        declared = self._validated_types(stream, columns)
        batch = to_arrow(records, declared)
        self._validate_names(stream, batch.column_names)
        self._require_columns(stream, batch, [*primary_key, cursor_field, is_deleted_field])
        wanted = {**declared, **{n: declared.get(n, "VARCHAR") for n in batch.column_names}}
        return PreparedBatch(stream, batch, wanted, primary_key, cursor_field, is_deleted_field)

    def mark_deleted(
        self,
        stream: str,
        keys: Iterable[Key],
        *,
        primary_key: Sequence[str],
        state: Mapping[str, Any] | None = None,
    ) -> int:
        """Flag rows as deleted and append a version for each; returns how many changed."""
        self._validate_stream(stream, primary_key, None, None)
        key_table = keys_to_arrow(keys, primary_key)
        self._open_stream(stream)
        synced_at = self._clock()
        self._started.setdefault(stream, synced_at)
        with self._lock, self._transaction() as cur:
            deleted = 0
            if self._column_types(cur, self.schema, stream) and key_table.num_rows:
                deleted = self._flag_deleted(cur, stream, key_table, primary_key, synced_at)
            self._add_to_log(cur, stream, BatchResult(0, 0, 0, 0, 0, deleted), deleted=deleted)
            if state is not None:
                self._save_state(cur, stream, state, synced_at)
        return deleted

    def get_state(self, stream: str) -> dict[str, Any] | None:
        """The saved state of ``stream`` for this sync's source, or ``None``."""
        with self._lock, self._reading() as cur:
            return self.read_state(cur, self.source, stream)

    def save_state(self, stream: str, state: Mapping[str, Any]) -> None:
        """Save ``state`` on its own, for progress that lands no rows (an empty window)."""
        validate_identifier(stream, source=self.source, obj=stream, kind="table")
        with self._lock, self._transaction() as cur:
            self._save_state(cur, stream, state, self._clock())

    def live_keys(
        self,
        stream: str,
        primary_key: Sequence[str],
        *,
        where_in: tuple[str, Collection[str]] | None = None,
    ) -> set[tuple[str, ...]]:
        """Primary keys (as tuples of text) of the current rows not flagged deleted.

        Id reconciliation compares these with the source's full id list to find hard deletes.
        ``where_in=(column, values)`` keeps only rows whose ``column``, as text, is one of
        ``values`` (the associations of some parents), so the caller never holds a whole table.
        """
        self._validate_stream(stream, primary_key, None, None)
        if where_in is not None:
            self._validate_names(stream, [where_in[0]])
        self._open_stream(stream)
        keys = ", ".join(f"CAST({quote_ident(k)} AS text)" for k in primary_key)
        select = (
            f"SELECT {keys} FROM {qualified(self.schema, stream)} "
            "WHERE NOT coalesce(_is_deleted, false)"
        )
        with self._lock, self._reading() as cur:
            if not self._column_types(cur, self.schema, stream):  # no such table (yet)
                return set()
            if where_in is None:
                rows = self._fetchall(cur, select)
            else:
                column, values = where_in
                rows = self._fetchall_where_in(cur, select, column, sorted(values))
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
        """Close the stream's ``sync_log`` row with its final status and run metadata."""
        p = self.param
        with self._lock, self._transaction() as cur:
            self._ensure_log_row(cur, stream)
            self._execute(
                cur,
                f"UPDATE {sql.SYNC_LOG} SET finished_at = {p}, status = {p}, error = {p}, "
                f"pages = coalesce({p}, pages), retries = coalesce({p}, retries), "
                f"cursor = coalesce({p}, cursor) "
                f"WHERE sync_id = {p} AND source = {p} AND stream = {p}",
                [
                    self._clock(),
                    status,
                    self._redact(error)[:_MAX_ERROR] if error else None,
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
        """Release the connection after finishing open streams (``failed`` if ``error``)."""
        if self._con is None:
            return
        status, message = ("failed", describe_error(error)) if error else ("success", None)
        try:
            for stream in [s for s in self._started if s not in self._finished]:
                self.finish_stream(stream, status=status, error=message)
        except self.close_errors:
            # Never mask the error that ended the sync; the log row simply stays "running".
            log.exception("could not finish sync_log rows of sync %s", self.sync_id)
        finally:
            self._con.close()
            self._con = None

    # -- validation --------------------------------------------------------------------------

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

    # -- inside the batch's transaction -------------------------------------------------------

    def _connection(self) -> Any:
        if self._con is None:
            raise RuntimeError(f"sync {self.sync_id} is closed")
        return self._con

    def _create_meta_tables(self, cur: Any) -> None:
        self._execute(cur, f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RAW_META_SCHEMA)}")
        for table, columns in META_COLUMNS.items():
            definitions = ", ".join(f"{name} {self._ddl_type(t)}" for name, t in columns.items())
            self._execute(
                cur,
                f"CREATE TABLE IF NOT EXISTS {qualified(RAW_META_SCHEMA, table)} ({definitions})",
            )

    def _ensure_tables(self, cur: Any, stream: str, wanted: Mapping[str, str]) -> dict[str, str]:
        """Create the current and versions tables or add missing columns; return column types.

        An existing column keeps its type even if the declaration changed: values that no
        longer fit go to quarantine rather than silently rewriting history.
        """
        self._execute(cur, f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
        self._ensure_table(cur, stream + VERSIONS_SUFFIX, wanted)
        types = self._ensure_table(cur, stream, wanted)
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

    def _ensure_table(self, cur: Any, table: str, wanted: Mapping[str, str]) -> dict[str, str]:
        existing = self._column_types(cur, self.schema, table)
        target = qualified(self.schema, table)
        if not existing:
            definitions = [f"{quote_ident(n)} {self._ddl_type(t)}" for n, t in wanted.items()]
            definitions += [f"{n} {self._ddl_type(t)}" for n, t in METADATA_COLUMNS.items()]
            self._execute(cur, f"CREATE TABLE {target} ({', '.join(definitions)})")
            return dict(wanted)
        for name, type_ in wanted.items():
            if name not in existing:
                self._execute(
                    cur,
                    f"ALTER TABLE {target} ADD COLUMN {quote_ident(name)} {self._ddl_type(type_)}",
                )
                existing[name] = type_
        return existing

    def _land(self, cur: Any, landing: Landing) -> BatchResult:
        """Stage, quarantine, version and upsert one batch (inside the caller's transaction)."""
        stream, batch, primary_key, cursor_field = (
            landing.stream,
            landing.batch,
            landing.primary_key,
            landing.cursor_field,
        )
        if batch.num_rows == 0:
            return BatchResult(0, 0, 0, 0, 0, 0)
        landed, quarantined = self._stage_valid(cur, landing)
        if landed + quarantined != batch.num_rows:  # a bug guard: never lose rows silently
            raise RuntimeError(f"{stream}: staged {landed} + {quarantined} of {batch.num_rows}")
        columns = list(landing.types)
        current = qualified(self.schema, stream)
        versions = qualified(self.schema, stream + VERSIONS_SUFFIX)
        self._create_temp(cur, sql.PRIOR, sql.prior_select(current, primary_key, cursor_field))
        self._create_temp(cur, sql.WINNERS, sql.winners_select(primary_key, cursor_field))
        inserted, updated = self._fetchone(cur, sql.WINNER_COUNTS)
        temps = [sql.PRIOR, sql.WINNERS]
        if landing.staged is None:  # staged rows are the engine's to release, not a temp table
            temps.insert(0, sql.VALID)
        if cursor_field:
            self._create_temp(cur, sql.SEEN, sql.seen_select(versions, primary_key, cursor_field))
            temps.append(sql.SEEN)
        appended = self._execute_count(
            cur,
            sql.append_versions_sql(versions, columns, primary_key, cursor_field, self.param),
            [landing.synced_at, self.sync_id],
        )
        self._upsert_current(cur, current, columns, primary_key, landing.synced_at)
        for temp in temps:
            self._execute(cur, f"DROP TABLE IF EXISTS {temp}")
        return BatchResult(batch.num_rows, landed, quarantined, inserted, updated, appended)

    def _upsert_current(
        self,
        cur: Any,
        current: str,
        columns: Sequence[str],
        primary_key: Sequence[str],
        synced_at: datetime,
    ) -> None:
        delete, insert = sql.upsert_current_sql(current, columns, primary_key, self.param)
        self._execute(cur, delete)
        self._execute(cur, insert, [synced_at, self.sync_id])

    def _quarantine(self, cur: Any, stream: str, bad_rows: str, at: datetime) -> None:
        """Record ``bad_rows`` (a query of primary_key, reason, payload) in the quarantine."""
        self._execute(
            cur,
            sql.quarantine_sql(bad_rows, self.param),
            [self.source, stream, self.sync_id, at, self.source, stream],
        )

    def _flag_deleted(
        self,
        cur: Any,
        stream: str,
        key_table: pa.Table,
        primary_key: Sequence[str],
        synced_at: datetime,
    ) -> int:
        types = self._column_types(cur, self.schema, stream)
        source_columns = [c for c in types if not c.startswith("_")]
        current = qualified(self.schema, stream)
        versions = qualified(self.schema, stream + VERSIONS_SUFFIX)
        with self._keys_table(cur, key_table, primary_key):
            self._create_temp(
                cur,
                sql.DELETED,
                sql.deleted_select(current, source_columns, self._key_equals(types, primary_key)),
            )
        append, flag = sql.flag_deleted_sql(
            current, versions, source_columns, primary_key, self.param
        )
        self._execute(cur, append, [synced_at, self.sync_id])
        deleted = self._execute_count(cur, flag, [synced_at, self.sync_id])
        self._execute(cur, f"DROP TABLE IF EXISTS {sql.DELETED}")
        return deleted

    # -- sync_log and stream state --------------------------------------------------------

    def _ensure_log_row(self, cur: Any, stream: str) -> None:
        started = self._started.setdefault(stream, self._clock())
        p = self.param
        match = f"WHERE sync_id = {p} AND source = {p} AND stream = {p}"
        (exists,) = self._fetchone(
            cur, f"SELECT count(*) FROM {sql.SYNC_LOG} {match}", [self.sync_id, self.source, stream]
        )
        if not exists:
            self._execute(
                cur,
                f"INSERT INTO {sql.SYNC_LOG} VALUES "
                f"({p}, {p}, {p}, {p}, NULL, 'running', 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL)",
                [self.sync_id, self.source, stream, started],
            )

    def _add_to_log(self, cur: Any, stream: str, result: BatchResult, *, deleted: int) -> None:
        self._ensure_log_row(cur, stream)
        p = self.param
        self._execute(
            cur,
            f"UPDATE {sql.SYNC_LOG} SET "
            f"records_fetched = records_fetched + {p}, records_landed = records_landed + {p}, "
            f"records_quarantined = records_quarantined + {p}, inserted = inserted + {p}, "
            f"updated = updated + {p}, deleted = deleted + {p} "
            f"WHERE sync_id = {p} AND source = {p} AND stream = {p}",
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

    def _save_state(self, cur: Any, stream: str, state: Mapping[str, Any], at: datetime) -> None:
        text = orjson.dumps(dict(state), default=str, option=orjson.OPT_SORT_KEYS).decode()
        p = self.param
        self._execute(
            cur,
            f"DELETE FROM {sql.STREAM_STATE} WHERE source = {p} AND stream = {p}",
            [self.source, stream],
        )
        self._execute(
            cur,
            f"INSERT INTO {sql.STREAM_STATE} VALUES ({p}, {p}, {self.json_param}, {p}, {p})",
            [self.source, stream, text, at, self.sync_id],
        )

    @classmethod
    def read_state(cls, cur: Any, source: str, stream: str) -> dict[str, Any] | None:
        """The saved state of one stream; ``cur`` as :meth:`_reading` gives it (a destination
        reads state through this without opening a sync)."""
        p = cls.param
        rows = cls._fetchall(
            cur,
            f"SELECT CAST(state AS text) FROM {sql.STREAM_STATE} "
            f"WHERE source = {p} AND stream = {p}",
            [source, stream],
        )
        return orjson.loads(rows[0][0]) if rows else None

    # -- the engine's I/O ----------------------------------------------------------------------

    def _stage_ahead(self, prepared: PreparedBatch, types: Mapping[str, str]) -> pa.Table | None:
        """:meth:`_stage_valid`'s VALID rows for ``prepared`` cast to ``types``, computed outside
        any transaction (on the caller's thread), or ``None`` to cast inside it: the default,
        and the answer whenever a row would be quarantined."""
        return None

    def _open_stream(self, stream: str) -> None:  # noqa: B027 - a hook; most engines need none
        """Called before a stream is written or read, outside any transaction."""

    def _redact(self, text: str) -> str:
        """``text`` safe to store in ``sync_log.error`` (an engine may hold secrets)."""
        return text

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A transaction on the connection, yielding what :meth:`_execute` runs on; commits
        when the block ends, rolls back if it raises."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Any]:
        """What :meth:`_fetchall` runs on, for reads outside a batch."""

    @staticmethod
    @abstractmethod
    def _execute(cur: Any, statement: str, params: Sequence[Any] = ()) -> None: ...

    @staticmethod
    @abstractmethod
    def _execute_count(cur: Any, statement: str, params: Sequence[Any] = ()) -> int:
        """Run a DML statement; how many rows it changed."""

    @staticmethod
    @abstractmethod
    def _fetchone(cur: Any, statement: str, params: Sequence[Any] = ()) -> tuple: ...

    @staticmethod
    @abstractmethod
    def _fetchall(cur: Any, statement: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    @abstractmethod
    def _fetchall_where_in(
        self, cur: Any, select: str, column: str, values: Sequence[str]
    ) -> list[tuple]:
        """``select`` (which has a WHERE) limited to rows whose ``column`` as text is in
        ``values``."""

    @abstractmethod
    def _create_temp(self, cur: Any, name: str, select: str) -> None:
        """(Re)create the temporary table ``name`` as ``select``."""

    @staticmethod
    @abstractmethod
    def _ddl_type(declared: str) -> str:
        """The engine's column type for a declared type (:data:`COLUMN_TYPES`)."""

    @staticmethod
    @abstractmethod
    def _column_types(cur: Any, schema: str, table: str) -> dict[str, str]:
        """Declared types of a table's columns in order; empty if there is no such table."""

    @abstractmethod
    def _stage_valid(self, cur: Any, landing: Landing) -> tuple[int, int]:
        """Cast the batch to its types: the rows that fit go to :data:`sql.VALID` (the columns,
        ``_is_deleted``, ``_row_hash``, :data:`sql.ORD`), the others to the quarantine
        (:meth:`_quarantine`) with a reason naming the field and value; (landed, quarantined)."""

    @abstractmethod
    def _keys_table(
        self, cur: Any, key_table: pa.Table, primary_key: Sequence[str]
    ) -> AbstractContextManager[None]:
        """``key_table`` (all text) readable as :data:`sql.KEYS` while the block runs."""

    @abstractmethod
    def _key_equals(self, types: Mapping[str, str], primary_key: Sequence[str]) -> str:
        """A condition matching current row ``c`` to the text key ``k`` of :data:`sql.KEYS`."""


class Destination(ABC):
    """A place to land raw data. One writer at a time: open a sync, write, close.

    ``clock`` supplies ``_synced_at`` and the other timestamps; pass the API server's clock
    (``HttpClient.server_now``) to keep runs reproducible against the emulator.
    """

    clock: Callable[[], datetime]
    sync_class: ClassVar[Callable[..., Sync]]

    def open_sync(self, source: str, sync_id: str | None = None) -> Sync:
        """Start a sync of ``source`` (``salesforce``, ``hubspot``, ``google_ads``)."""
        validate_identifier(source, source=source, obj="source", kind="table")
        return self.sync_class(self, source, sync_id or new_sync_id(self.clock()))

    @abstractmethod
    def get_state(self, source: str, stream: str) -> dict[str, Any] | None:
        """Read a stream's saved state without holding a writer session."""


__all__ = [
    "COLUMN_TYPES",
    "METADATA_COLUMNS",
    "META_COLUMNS",
    "RAW_META_SCHEMA",
    "BatchResult",
    "Destination",
    "Key",
    "Landing",
    "Records",
    "Sync",
    "describe_error",
    "keys_to_arrow",
    "new_sync_id",
    "raw_schema",
    "to_arrow",
    "utc_now",
]
