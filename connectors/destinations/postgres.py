"""PostgreSQL destination: the DuckDB destination's contract on a shared server.

Same tables and guarantees as :mod:`connectors.destinations.duckdb` (read its docstring for the
version dedupe and upsert rules): ``raw_<source>.<table>`` current state,
``raw_<source>.<table>__versions`` history, ``raw_meta.stream_state``/``sync_log``/``quarantine``.

How a batch lands
    1. In one PostgreSQL transaction, under an advisory lock per source (one writer per source,
       like the DuckDB file lock), the current and versions tables are created or get the new
       columns (schema drift).
    2. The batch is cast in an in-memory DuckDB with the very same SQL the DuckDB destination
       uses (:func:`~connectors.destinations.duckdb.stage_sql`), so what lands and what is
       quarantined, and the reason given, are identical on both engines.
    3. The rows that cast are streamed into a temporary table with ``COPY FROM STDIN`` (text
       format, one round trip per batch); the quarantined ones go to ``raw_meta.quarantine``.
    4. ``_row_hash``, the winners per key, the version append and the upsert run in PostgreSQL
       SQL, then ``sync_log`` and the stream state are written, and the transaction commits.
       A crash anywhere before the commit leaves nothing of the batch and the old state.

Hashes are computed by PostgreSQL from its own text forms (session TimeZone UTC), so every hash
in one database comes from one engine and the dedupe rules hold across reruns.

The password is a secret: it is never part of a repr, a log line or an error message.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import orjson
import psycopg2
import psycopg2.extensions
import psycopg2.extras
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
from connectors.destinations.duckdb import (
    _BATCH,
    _ERROR,
    _ORD,
    _STAGE,
    _describe,
    _primary_key_text,
    _raw,
    keys_to_arrow,
    stage_sql,
    to_arrow,
    utc_now,
)
from connectors.naming import VERSIONS_SUFFIX, qualified, quote_ident, validate_identifier

log = logging.getLogger(__name__)

_LOAD = "_salesops_load"
_VALID = "_salesops_valid"
_WINNERS = "_salesops_winners"
_KEYS = "_salesops_keys"
_DELETED = "_salesops_deleted"
_BAD = "_salesops_bad"

# Declared type -> PostgreSQL type. JSON is jsonb: comparable, indexable, normalised text.
PG_TYPES = {
    "VARCHAR": "text",
    "DOUBLE": "double precision",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMPTZ": "timestamp with time zone",
    "JSON": "jsonb",
}
# format_type() names back to the declared vocabulary the casts understand.
_DECLARED = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "double precision": "DOUBLE",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp with time zone": "TIMESTAMPTZ",
    "jsonb": "JSON",
    "json": "JSON",
}
METADATA_DDL = (
    ("_synced_at", "timestamp with time zone"),
    ("_sync_id", "text"),
    ("_is_deleted", "boolean"),
    ("_row_hash", "text"),
)
META_TABLES = {
    "stream_state": "source text, stream text, state jsonb, updated_at timestamptz, sync_id text",
    "sync_log": "sync_id text, source text, stream text, started_at timestamptz, "
    "finished_at timestamptz, status text, records_fetched bigint, records_landed bigint, "
    "records_quarantined bigint, inserted bigint, updated bigint, deleted bigint, pages bigint, "
    "retries bigint, cursor text, error text",
    "quarantine": "source text, stream text, primary_key text, reason text, payload jsonb, "
    "sync_id text, quarantined_at timestamptz",
}
# PostgreSQL functions take at most 100 arguments; concat() over wide tables is nested.
_MAX_ARGS = 90
_META_LOCK = 7_301_001  # advisory lock key for creating raw_meta
_BACKSLASH = chr(92)


class PostgresConfigError(ValueError):
    """A SALESOPS_POSTGRES_* variable is missing or malformed; names the variable and the fix."""


@dataclass(frozen=True)
class PostgresConnection:
    """Where the server is. ``password`` is excluded from the repr and from every message."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = ""
    dbname: str = "salesops"
    password: str = field(default="", repr=False)
    connect_timeout: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PostgresConnection:
        """From ``SALESOPS_POSTGRES_HOST/_PORT/_USER/_PASSWORD/_DBNAME`` (CONFIG.md)."""
        env = os.environ if env is None else env
        user = env.get("SALESOPS_POSTGRES_USER", "").strip()
        if not user:
            raise PostgresConfigError(
                "SALESOPS_POSTGRES_USER is not set: the PostgreSQL destination and dbt target "
                "need a user (and SALESOPS_POSTGRES_PASSWORD unless the server trusts it)."
            )
        port = env.get("SALESOPS_POSTGRES_PORT", "").strip() or "5432"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise PostgresConfigError(
                f"SALESOPS_POSTGRES_PORT={port!r} must be a port number (1-65535)."
            )
        return cls(
            host=env.get("SALESOPS_POSTGRES_HOST", "").strip() or "127.0.0.1",
            port=int(port),
            user=user,
            dbname=env.get("SALESOPS_POSTGRES_DBNAME", "").strip() or "salesops",
            password=env.get("SALESOPS_POSTGRES_PASSWORD", ""),
        )

    def describe(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def connect(self, *, application_name: str = "salesops") -> psycopg2.extensions.connection:
        """A connection in UTC with ISO dates. Errors name the server, never the password."""
        try:
            con = psycopg2.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=self.dbname,
                connect_timeout=self.connect_timeout,
                application_name=application_name,
                options="-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=1",
            )
        except psycopg2.Error as exc:
            message = _scrub(str(exc).strip(), self.password)
            raise ConnectionError(
                f"cannot connect to PostgreSQL at {self.describe()}: {message}. Check "
                "SALESOPS_POSTGRES_HOST/_PORT/_USER/_PASSWORD/_DBNAME and that the server runs."
            ) from None
        return con


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


class PostgresDestination(Destination):
    """Raw layer in a PostgreSQL database. Each sync holds its own connection.

    ``clock`` supplies ``_synced_at`` and the other timestamps (pass the API server's clock).
    """

    def __init__(
        self, connection: PostgresConnection, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.connection = connection
        self.clock = clock

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, clock: Callable[[], datetime] = utc_now
    ) -> PostgresDestination:
        return cls(PostgresConnection.from_env(env), clock=clock)

    def __repr__(self) -> str:
        return f"PostgresDestination({self.connection.describe()!r})"

    def open_sync(self, source: str, sync_id: str | None = None) -> PostgresSync:
        validate_identifier(source, source=source, obj="source", kind="table")
        return PostgresSync(self, source, sync_id or new_sync_id(self.clock()))

    def get_state(self, source: str, stream: str) -> dict[str, Any] | None:
        con = self.connect()
        try:
            with con.cursor() as cur:
                if not _column_types(cur, RAW_META_SCHEMA, "stream_state"):
                    return None
                return _read_state(cur, source, stream)
        finally:
            con.close()

    def connect(self) -> psycopg2.extensions.connection:
        return self.connection.connect(application_name="salesops-destination")


class PostgresSync(Sync):
    """A writer session for one source. See the module docstring."""

    def __init__(self, destination: PostgresDestination, source: str, sync_id: str) -> None:
        self.destination = destination
        self.source = source
        self.sync_id = sync_id
        self.schema = raw_schema(source)
        self._clock = destination.clock
        self._lock = threading.Lock()
        self._started: dict[str, datetime] = {}
        self._finished: set[str] = set()
        self._con: psycopg2.extensions.connection | None = destination.connect()
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_META_LOCK])
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RAW_META_SCHEMA)}")
            for table, ddl in META_TABLES.items():
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {qualified(RAW_META_SCHEMA, table)} ({ddl})"
                )

    def __repr__(self) -> str:
        return f"PostgresSync(source={self.source!r}, sync_id={self.sync_id!r})"

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
        with self._lock, self._transaction() as cur:
            table_types = self._ensure_tables(cur, stream, wanted)
            batch_types = {name: table_types[name] for name in batch.column_names}
            result = self._land(
                cur,
                stream,
                batch,
                batch_types,
                primary_key,
                cursor_field,
                is_deleted_field,
                synced_at,
            )
            self._add_to_log(cur, stream, result, deleted=0)
            if state is not None:
                _save_state(cur, self.source, stream, state, self.sync_id, synced_at)
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
        with self._lock, self._transaction() as cur:
            deleted = 0
            if _column_types(cur, self.schema, stream) and key_table.num_rows:
                deleted = self._flag_deleted(cur, stream, key_table, primary_key, synced_at)
            self._add_to_log(cur, stream, BatchResult(0, 0, 0, 0, 0, deleted), deleted=deleted)
            if state is not None:
                _save_state(cur, self.source, stream, state, self.sync_id, synced_at)
        return deleted

    def get_state(self, stream: str) -> dict[str, Any] | None:
        with self._lock, self._transaction() as cur:
            return _read_state(cur, self.source, stream)

    def save_state(self, stream: str, state: Mapping[str, Any]) -> None:
        validate_identifier(stream, source=self.source, obj=stream, kind="table")
        with self._lock, self._transaction() as cur:
            _save_state(cur, self.source, stream, state, self.sync_id, self._clock())

    def live_keys(
        self,
        stream: str,
        primary_key: Sequence[str],
        *,
        where_in: tuple[str, Collection[str]] | None = None,
    ) -> set[tuple[str, ...]]:
        self._validate_stream(stream, primary_key, None, None)
        keys = ", ".join(f"CAST({quote_ident(k)} AS text)" for k in primary_key)
        sql = (
            f"SELECT {keys} FROM {qualified(self.schema, stream)} "
            "WHERE NOT coalesce(_is_deleted, false)"
        )
        with self._lock, self._transaction() as cur:
            if not _column_types(cur, self.schema, stream):
                return set()
            if where_in is None:
                cur.execute(sql)
            else:
                column, values = where_in
                self._validate_names(stream, [column])
                cur.execute(
                    f"{sql} AND CAST({quote_ident(column)} AS text) = ANY(%s)",
                    [sorted(values)],
                )
            return {tuple(row) for row in cur.fetchall()}

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
        with self._lock, self._transaction() as cur:
            self._ensure_log_row(cur, stream)
            cur.execute(
                f"UPDATE {qualified(RAW_META_SCHEMA, 'sync_log')} SET finished_at = %s, "
                "status = %s, error = %s, pages = coalesce(%s, pages), "
                "retries = coalesce(%s, retries), cursor = coalesce(%s, cursor) "
                "WHERE sync_id = %s AND source = %s AND stream = %s",
                [
                    self._clock(),
                    status,
                    _scrub(error, self.destination.connection.password)[:2000] if error else None,
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
        except (psycopg2.Error, RuntimeError):
            # Never mask the error that ended the sync; the log row simply stays "running".
            log.exception("could not finish sync_log rows of sync %s", self.sync_id)
        finally:
            self._con.close()
            self._con = None

    # -- validation (same rules as the DuckDB destination) ----------------------------------

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

    @contextmanager
    def _transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        if self._con is None:
            raise RuntimeError(f"sync {self.sync_id} is closed")
        con = self._con
        try:
            with con.cursor() as cur:
                # One writer per source, as with the DuckDB file lock; released at commit.
                cur.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"salesops:{self.source}"]
                )
                yield cur
        except BaseException:
            try:
                con.rollback()
            except psycopg2.Error:
                log.exception("rollback failed for sync %s", self.sync_id)
            raise
        con.commit()

    def _ensure_tables(
        self, cur: psycopg2.extensions.cursor, stream: str, wanted: Mapping[str, str]
    ) -> dict[str, str]:
        """Create the tables or add missing columns; return the declared type of each column.

        An existing column keeps its type: values that no longer fit go to quarantine.
        """
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
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

    def _ensure_table(
        self, cur: psycopg2.extensions.cursor, table: str, wanted: Mapping[str, str]
    ) -> dict[str, str]:
        existing = _column_types(cur, self.schema, table)
        if not existing:
            definitions = [f"{quote_ident(n)} {PG_TYPES[t]}" for n, t in wanted.items()]
            definitions += [f"{n} {t}" for n, t in METADATA_DDL]
            cur.execute(f"CREATE TABLE {qualified(self.schema, table)} ({', '.join(definitions)})")
            return dict(wanted)
        for name, type_ in wanted.items():
            if name not in existing:
                cur.execute(
                    f"ALTER TABLE {qualified(self.schema, table)} "
                    f"ADD COLUMN {quote_ident(name)} {PG_TYPES[type_]}"
                )
                existing[name] = type_
        return existing

    def _land(
        self,
        cur: psycopg2.extensions.cursor,
        stream: str,
        batch: pa.Table,
        types: Mapping[str, str],
        primary_key: Sequence[str],
        cursor_field: str | None,
        is_deleted_field: str | None,
        synced_at: datetime,
    ) -> BatchResult:
        if batch.num_rows == 0:
            return BatchResult(0, 0, 0, 0, 0, 0)
        staged = stage_batch(batch, types, primary_key, is_deleted_field)
        if staged.bad:
            self._quarantine(cur, stream, staged.bad, synced_at)
        names = list(types)
        load_columns = [f"{quote_ident(n)} {PG_TYPES[types[n]]}" for n in names]
        load_columns += ["_is_deleted boolean", f"{_ORD} bigint"]
        _temp_table(cur, _LOAD, f"({', '.join(load_columns)})")
        cur.copy_expert(f"COPY {_LOAD} FROM STDIN", io.StringIO(staged.copy_text))
        _temp_table(
            cur,
            _VALID,
            f"AS SELECT *, {row_hash_sql(names, _LOAD, deleted='_is_deleted')} AS _row_hash "
            f"FROM {_LOAD}",
        )
        current = qualified(self.schema, stream)
        versions = qualified(self.schema, stream + VERSIONS_SUFFIX)
        _temp_table(cur, _WINNERS, winners_sql(current, primary_key, cursor_field))
        cur.execute(
            "SELECT count(*) FILTER (WHERE NOT _salesops_existed), "
            f"count(*) FILTER (WHERE _salesops_existed AND _salesops_changed) FROM {_WINNERS}"
        )
        inserted, updated = cur.fetchone()
        cur.execute(
            append_versions_sql(current, versions, names, primary_key, cursor_field),
            [synced_at, self.sync_id],
        )
        appended = cur.rowcount
        column_list = ", ".join(quote_ident(c) for c in names)
        cur.execute(
            f"DELETE FROM {current} c USING {_WINNERS} w WHERE {_key_match('c', 'w', primary_key)}"
        )
        cur.execute(
            f"INSERT INTO {current} ({column_list}, _synced_at, _sync_id, _is_deleted, _row_hash) "
            f"SELECT {column_list}, %s, %s, _is_deleted, _row_hash FROM {_WINNERS} ORDER BY {_ORD}",
            [synced_at, self.sync_id],
        )
        for temp in (_LOAD, _VALID, _WINNERS):
            cur.execute(f"DROP TABLE IF EXISTS {temp}")
        return BatchResult(
            batch.num_rows, staged.landed, staged.quarantined, inserted, updated, appended
        )

    def _quarantine(
        self,
        cur: psycopg2.extensions.cursor,
        stream: str,
        bad: Sequence[tuple[str | None, str, str]],
        at: datetime,
    ) -> None:
        """The same bad record seen again (a rerun, a lookback) is not quarantined twice."""
        _temp_table(cur, _BAD, "(primary_key text, reason text, payload jsonb)")
        psycopg2.extras.execute_values(
            cur, f"INSERT INTO {_BAD} VALUES %s", bad, template="(%s, %s, %s::jsonb)"
        )
        quarantine = qualified(RAW_META_SCHEMA, "quarantine")
        cur.execute(
            f"INSERT INTO {quarantine} SELECT %s, %s, primary_key, reason, payload, %s, %s "
            f"FROM (SELECT DISTINCT primary_key, reason, payload FROM {_BAD}) bad "
            f"WHERE NOT EXISTS (SELECT 1 FROM {quarantine} q WHERE q.source = %s "
            "AND q.stream = %s AND q.primary_key IS NOT DISTINCT FROM bad.primary_key "
            "AND q.payload = bad.payload)",
            [self.source, stream, self.sync_id, at, self.source, stream],
        )
        cur.execute(f"DROP TABLE IF EXISTS {_BAD}")

    def _flag_deleted(
        self,
        cur: psycopg2.extensions.cursor,
        stream: str,
        key_table: pa.Table,
        primary_key: Sequence[str],
        synced_at: datetime,
    ) -> int:
        types = _column_types(cur, self.schema, stream)
        source_columns = [c for c in types if not c.startswith("_")]
        current = qualified(self.schema, stream)
        versions = qualified(self.schema, stream + VERSIONS_SUFFIX)
        _temp_table(cur, _KEYS, f"({', '.join(f'{quote_ident(k)} text' for k in primary_key)})")
        buffer = io.StringIO()
        for row in zip(*(key_table.column(k).to_pylist() for k in primary_key), strict=True):
            buffer.write("\t".join(_copy_field(v) for v in row) + "\n")
        buffer.seek(0)
        cur.copy_expert(f"COPY {_KEYS} FROM STDIN", buffer)
        match = " AND ".join(
            f"c.{quote_ident(k)} = k.{quote_ident(k)}"
            if types[k] == "VARCHAR"
            else f"CAST(c.{quote_ident(k)} AS text) = k.{quote_ident(k)}"
            for k in primary_key
        )
        column_list = ", ".join(quote_ident(c) for c in source_columns)
        prefixed = ", ".join(f"c.{quote_ident(c)}" for c in source_columns)
        _temp_table(
            cur,
            _DELETED,
            f"AS SELECT {prefixed}, {row_hash_sql(source_columns, 'c', deleted='true')} "
            f"AS _row_hash FROM {current} c WHERE NOT coalesce(c._is_deleted, false) "
            f"AND EXISTS (SELECT 1 FROM {_KEYS} k WHERE {match})",
        )
        cur.execute(
            f"INSERT INTO {versions} ({column_list}, _synced_at, _sync_id, _is_deleted, _row_hash) "
            f"SELECT {column_list}, %s, %s, true, _row_hash FROM {_DELETED}",
            [synced_at, self.sync_id],
        )
        cur.execute(
            f"UPDATE {current} c SET _is_deleted = true, _synced_at = %s, _sync_id = %s, "
            f"_row_hash = d._row_hash FROM {_DELETED} d WHERE {_key_match('c', 'd', primary_key)}",
            [synced_at, self.sync_id],
        )
        deleted = cur.rowcount
        for temp in (_KEYS, _DELETED):
            cur.execute(f"DROP TABLE IF EXISTS {temp}")
        return deleted

    # -- sync_log --------------------------------------------------------------------------

    def _ensure_log_row(self, cur: psycopg2.extensions.cursor, stream: str) -> None:
        started = self._started.setdefault(stream, self._clock())
        log_table = qualified(RAW_META_SCHEMA, "sync_log")
        cur.execute(
            f"SELECT count(*) FROM {log_table} WHERE sync_id = %s AND source = %s AND stream = %s",
            [self.sync_id, self.source, stream],
        )
        if not cur.fetchone()[0]:
            cur.execute(
                f"INSERT INTO {log_table} VALUES "
                "(%s, %s, %s, %s, NULL, 'running', 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL)",
                [self.sync_id, self.source, stream, started],
            )

    def _add_to_log(
        self, cur: psycopg2.extensions.cursor, stream: str, result: BatchResult, *, deleted: int
    ) -> None:
        self._ensure_log_row(cur, stream)
        cur.execute(
            f"UPDATE {qualified(RAW_META_SCHEMA, 'sync_log')} SET "
            "records_fetched = records_fetched + %s, records_landed = records_landed + %s, "
            "records_quarantined = records_quarantined + %s, inserted = inserted + %s, "
            "updated = updated + %s, deleted = deleted + %s "
            "WHERE sync_id = %s AND source = %s AND stream = %s",
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
# Casting in DuckDB (the DuckDB destination's rules), shipped to PostgreSQL as COPY text
# --------------------------------------------------------------------------------------------


@dataclass
class StagedBatch:
    landed: int
    quarantined: int
    bad: list[tuple[str | None, str, str]]  # (primary_key, reason, payload JSON), distinct
    copy_text: str  # the rows that cast, in COPY text format, ordered as they came


def stage_batch(
    batch: pa.Table,
    types: Mapping[str, str],
    primary_key: Sequence[str],
    is_deleted_field: str | None,
) -> StagedBatch:
    """Cast ``batch`` to ``types`` exactly as the DuckDB destination does."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        ordinals = pa.array(range(batch.num_rows), pa.int64())
        con.register(_BATCH, batch.append_column(_ORD, ordinals))
        con.execute(stage_sql(batch.schema, types, primary_key))
        landed, quarantined = con.execute(
            f"SELECT count(*) FILTER (WHERE {_ERROR} IS NULL), "
            f"count(*) FILTER (WHERE {_ERROR} IS NOT NULL) FROM {_STAGE}"
        ).fetchall()[0]
        if landed + quarantined != batch.num_rows:  # a bug guard: never lose rows silently
            raise RuntimeError(f"staged {landed} + {quarantined} of {batch.num_rows}")
        bad: list[tuple[str | None, str, str]] = []
        if quarantined:
            raw_of = {name: _raw(i) for i, name in enumerate(types)}
            payload = ", ".join(f"{quote_ident(n)} := {raw}" for n, raw in raw_of.items())
            bad = con.execute(
                f"SELECT DISTINCT {_primary_key_text(raw_of, primary_key)}, {_ERROR}, "
                f"CAST(to_json(struct_pack({payload})) AS VARCHAR) "
                f"FROM {_STAGE} WHERE {_ERROR} IS NOT NULL"
            ).fetchall()
        deleted = (
            f"coalesce(TRY_CAST({quote_ident(is_deleted_field)} AS BOOLEAN), false)"
            if is_deleted_field
            else "false"
        )
        fields = [_copy_sql(f"CAST({quote_ident(n)} AS VARCHAR)") for n in types]
        fields += [f"CAST({deleted} AS VARCHAR)", f"CAST({_ORD} AS VARCHAR)"]
        lines = con.sql(
            f"SELECT concat_ws(chr(9), {', '.join(fields)}) FROM {_STAGE} "
            f"WHERE {_ERROR} IS NULL ORDER BY {_ORD}"
        ).to_arrow_table()
        text = lines.column(0).to_pylist()
        return StagedBatch(landed, quarantined, bad, "\n".join(text) + ("\n" if text else ""))
    finally:
        con.close()


def _copy_sql(text: str) -> str:
    """A value in COPY text format: backslash, tab, newline and return escaped, NULL as \\N."""
    b = _BACKSLASH
    escaped = (
        f"replace(replace(replace(replace({text}, '{b}', '{b}{b}'), chr(9), '{b}t'), "
        f"chr(10), '{b}n'), chr(13), '{b}r')"
    )
    return f"coalesce({escaped}, '{b}N')"


def _copy_field(value: str | None) -> str:
    if value is None:
        return _BACKSLASH + "N"
    b = _BACKSLASH
    return (
        value.replace(b, b + b).replace("\t", b + "t").replace("\n", b + "n").replace("\r", b + "r")
    )


# --------------------------------------------------------------------------------------------
# SQL builders (PostgreSQL dialect; every identifier is quoted)
# --------------------------------------------------------------------------------------------


def _temp_table(cur: psycopg2.extensions.cursor, name: str, body: str) -> None:
    cur.execute(f"DROP TABLE IF EXISTS {name}")
    if body.startswith("("):  # column list: ON COMMIT goes after it; AS SELECT: before
        cur.execute(f"CREATE TEMP TABLE {name} {body} ON COMMIT DROP")
    else:
        cur.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP {body}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def row_hash_sql(columns: Iterable[str], alias: str, *, deleted: str) -> str:
    """md5 over the non-null columns (name and value, sorted by name) and the deleted flag.

    ``concat`` skips NULL segments, so adding a nullable column leaves old hashes unchanged.
    """
    segments = [
        f"{_literal(name)} || chr(30) || CAST({alias}.{quote_ident(name)} AS text) || chr(31)"
        for name in sorted(columns)
    ]
    segments.append(f"'_is_deleted' || chr(30) || CAST({deleted} AS text)")
    while len(segments) > _MAX_ARGS:
        segments = [
            f"concat({', '.join(segments[i : i + _MAX_ARGS])})"
            for i in range(0, len(segments), _MAX_ARGS)
        ]
    return f"md5(concat({', '.join(segments)}))"


def _key_match(left: str, right: str, primary_key: Sequence[str]) -> str:
    return " AND ".join(f"{left}.{quote_ident(k)} = {right}.{quote_ident(k)}" for k in primary_key)


def winners_sql(current: str, primary_key: Sequence[str], cursor_field: str | None) -> str:
    """The row per key that becomes current: greatest cursor, then latest in the batch."""
    keys = ", ".join(quote_ident(k) for k in primary_key)
    order = f"{quote_ident(cursor_field)} DESC NULLS LAST, " if cursor_field else ""
    not_stale = ""
    if cursor_field:
        cursor = quote_ident(cursor_field)
        not_stale = f"AND (c._row_hash IS NULL OR c.{cursor} IS NULL OR v.{cursor} >= c.{cursor})"
    return (
        f"AS SELECT v.*, c._row_hash IS NOT NULL AS _salesops_existed, "
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
    """Append batch rows that are new versions (rule in the DuckDB module docstring)."""
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
        f"SELECT {column_list}, %s, %s, _is_deleted, _row_hash FROM ("
        f"SELECT DISTINCT ON ({keys}, _row_hash) * FROM {_VALID} "
        f"ORDER BY {keys}, _row_hash, {_ORD}) v "
        f"WHERE NOT EXISTS ({seen}) ORDER BY {_ORD}"
    )


# --------------------------------------------------------------------------------------------
# Catalog and raw_meta helpers
# --------------------------------------------------------------------------------------------


def _column_types(cur: psycopg2.extensions.cursor, schema: str, table: str) -> dict[str, str]:
    """Declared types of a table's columns in order; empty if there is no such table."""
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        [schema, table],
    )
    return {name: _DECLARED.get(type_.split("(")[0], "VARCHAR") for name, type_ in cur.fetchall()}


def _save_state(
    cur: psycopg2.extensions.cursor,
    source: str,
    stream: str,
    state: Mapping[str, Any],
    sync_id: str,
    at: datetime,
) -> None:
    table = qualified(RAW_META_SCHEMA, "stream_state")
    text = orjson.dumps(dict(state), default=str, option=orjson.OPT_SORT_KEYS).decode()
    cur.execute(f"DELETE FROM {table} WHERE source = %s AND stream = %s", [source, stream])
    cur.execute(
        f"INSERT INTO {table} VALUES (%s, %s, %s::jsonb, %s, %s)",
        [source, stream, text, at, sync_id],
    )


def _read_state(cur: psycopg2.extensions.cursor, source: str, stream: str) -> dict[str, Any] | None:
    cur.execute(
        f"SELECT CAST(state AS text) FROM {qualified(RAW_META_SCHEMA, 'stream_state')} "
        "WHERE source = %s AND stream = %s",
        [source, stream],
    )
    row = cur.fetchone()
    return orjson.loads(row[0]) if row else None
