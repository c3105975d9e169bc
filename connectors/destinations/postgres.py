"""PostgreSQL destination: the DuckDB destination's contract on a shared server.

Same tables and guarantees as :mod:`connectors.destinations.duckdb` (read its docstring for the
version dedupe and upsert rules): ``raw_<source>.<table>`` current state,
``raw_<source>.<table>__versions`` history, ``raw_meta.stream_state``/``sync_log``/``quarantine``.

How a batch lands
    1. In one PostgreSQL transaction, under an advisory lock per source (one writer per source,
       like the DuckDB file lock), the current and versions tables are created or get the new
       columns (schema drift).
    2. The batch is cast in an in-memory DuckDB with the very same SQL the DuckDB destination
       uses (:func:`~connectors.destinations.duckdb.stage`), so what lands and what is
       quarantined, and the reason given, are identical on both engines.
    3. The rows that cast are streamed into a temporary table with ``COPY FROM STDIN`` (text
       format, one round trip per batch); the quarantined ones go to ``raw_meta.quarantine``.
    4. ``_row_hash``, the winners per key, the version append and the upsert run in PostgreSQL
       (the statements of :mod:`connectors.destinations.sql`, shared with DuckDB), then
       ``sync_log`` and the stream state are written, and the transaction commits. A crash
       anywhere before the commit leaves nothing of the batch and the old state.

Those steps are :class:`~connectors.destinations.base.Sync`'s; this module has only
PostgreSQL's I/O (connection, transaction, COPY, catalog, types).

Hashes are computed by PostgreSQL from its own text forms (session TimeZone UTC), so every hash
in one database comes from one engine and the dedupe rules hold across reruns.

The password is a secret: it is never part of a repr, a log line or an error message.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pyarrow as pa

from connectors.destinations.base import RAW_META_SCHEMA, Destination, Landing, Sync, utc_now
from connectors.destinations.duckdb import _ERROR, _STAGE, bad_rows_sql, deleted_flag_sql, stage
from connectors.destinations.sql import KEYS, ORD, VALID, row_hash_sql
from connectors.naming import quote_ident

log = logging.getLogger(__name__)

_LOAD = "_salesops_load"
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
    """Raw layer in a PostgreSQL database. Each sync holds its own connection."""

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

    def get_state(self, source: str, stream: str) -> dict[str, Any] | None:
        con = self.connect()
        try:
            with con.cursor() as cur:
                if not _column_types(cur, RAW_META_SCHEMA, "stream_state"):
                    return None
                return PostgresSync.read_state(cur, source, stream)
        finally:
            con.close()

    def connect(self) -> psycopg2.extensions.connection:
        return self.connection.connect(application_name="salesops-destination")


class PostgresSync(Sync):
    """A writer session for one source: PostgreSQL's I/O for
    :class:`~connectors.destinations.base.Sync`. See the module docstring."""

    param = "%s"
    json_param = "%s::jsonb"
    close_errors = (psycopg2.Error, RuntimeError)

    def _create_meta_tables(self, cur: psycopg2.extensions.cursor) -> None:
        # Two sources' first syncs may race to create raw_meta; CREATE IF NOT EXISTS alone
        # can still fail on the catalog's unique index.
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_META_LOCK])
        super()._create_meta_tables(cur)

    def _redact(self, text: str) -> str:
        return _scrub(text, self.destination.connection.password)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        con = self._connection()
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

    def _reading(self) -> Any:
        return self._transaction()

    @staticmethod
    def _execute(
        cur: psycopg2.extensions.cursor, statement: str, params: Sequence[Any] = ()
    ) -> None:
        # Without parameters psycopg2 leaves "%" alone, so DDL needs no escaping.
        cur.execute(statement, list(params) if params else None)

    @staticmethod
    def _execute_count(
        cur: psycopg2.extensions.cursor, statement: str, params: Sequence[Any] = ()
    ) -> int:
        cur.execute(statement, list(params) if params else None)
        return cur.rowcount

    @staticmethod
    def _fetchone(
        cur: psycopg2.extensions.cursor, statement: str, params: Sequence[Any] = ()
    ) -> tuple:
        cur.execute(statement, list(params) if params else None)
        return cur.fetchone()

    @staticmethod
    def _fetchall(
        cur: psycopg2.extensions.cursor, statement: str, params: Sequence[Any] = ()
    ) -> list[tuple]:
        cur.execute(statement, list(params) if params else None)
        return cur.fetchall()

    def _fetchall_where_in(
        self, cur: psycopg2.extensions.cursor, select: str, column: str, values: Sequence[str]
    ) -> list[tuple]:
        cur.execute(f"{select} AND CAST({quote_ident(column)} AS text) = ANY(%s)", [list(values)])
        return cur.fetchall()

    def _create_temp(self, cur: psycopg2.extensions.cursor, name: str, select: str) -> None:
        _temp_table(cur, name, f"AS {select}")

    @staticmethod
    def _ddl_type(declared: str) -> str:
        return PG_TYPES[declared]

    @staticmethod
    def _column_types(cur: psycopg2.extensions.cursor, schema: str, table: str) -> dict[str, str]:
        return _column_types(cur, schema, table)

    def _stage_valid(self, cur: psycopg2.extensions.cursor, landing: Landing) -> tuple[int, int]:
        types = landing.types
        staged = stage_batch(landing.batch, types, landing.primary_key, landing.is_deleted_field)
        if staged.bad:
            _temp_table(cur, _BAD, "(primary_key text, reason text, payload jsonb)")
            psycopg2.extras.execute_values(
                cur, f"INSERT INTO {_BAD} VALUES %s", staged.bad, template="(%s, %s, %s::jsonb)"
            )
            bad_rows = f"SELECT primary_key, reason, payload FROM {_BAD}"
            self._quarantine(cur, landing.stream, bad_rows, landing.synced_at)
            cur.execute(f"DROP TABLE IF EXISTS {_BAD}")
        names = list(types)
        load_columns = [f"{quote_ident(n)} {PG_TYPES[types[n]]}" for n in names]
        load_columns += ["_is_deleted boolean", f"{ORD} bigint"]
        _temp_table(cur, _LOAD, f"({', '.join(load_columns)})")
        cur.copy_expert(f"COPY {_LOAD} FROM STDIN", io.StringIO(staged.copy_text))
        _temp_table(
            cur,
            VALID,
            f"AS SELECT *, {row_hash_sql(names, _LOAD, deleted='_is_deleted')} AS _row_hash "
            f"FROM {_LOAD}",
        )
        cur.execute(f"DROP TABLE IF EXISTS {_LOAD}")
        return staged.landed, staged.quarantined

    @contextmanager
    def _keys_table(
        self, cur: psycopg2.extensions.cursor, key_table: pa.Table, primary_key: Sequence[str]
    ) -> Iterator[None]:
        _temp_table(cur, KEYS, f"({', '.join(f'{quote_ident(k)} text' for k in primary_key)})")
        buffer = io.StringIO()
        for row in zip(*(key_table.column(k).to_pylist() for k in primary_key), strict=True):
            buffer.write("\t".join(_copy_field(v) for v in row) + "\n")
        buffer.seek(0)
        cur.copy_expert(f"COPY {KEYS} FROM STDIN", buffer)
        yield
        cur.execute(f"DROP TABLE IF EXISTS {KEYS}")

    def _key_equals(self, types: Mapping[str, str], primary_key: Sequence[str]) -> str:
        # Keys arrive as text: a text column compares as it is, any other by its text form.
        return " AND ".join(
            f"c.{quote_ident(k)} = k.{quote_ident(k)}"
            if types[k] == "VARCHAR"
            else f"CAST(c.{quote_ident(k)} AS text) = k.{quote_ident(k)}"
            for k in primary_key
        )


PostgresDestination.sync_class = PostgresSync


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
        landed, quarantined = stage(con, batch, types, primary_key)
        bad: list[tuple[str | None, str, str]] = []
        if quarantined:
            bad = con.execute(
                "SELECT DISTINCT primary_key, reason, CAST(payload AS VARCHAR) "
                f"FROM ({bad_rows_sql(types, primary_key)}) found"
            ).fetchall()
        fields = [_copy_sql(f"CAST({quote_ident(n)} AS VARCHAR)") for n in types]
        fields += [
            f"CAST({deleted_flag_sql(is_deleted_field)} AS VARCHAR)",
            f"CAST({ORD} AS VARCHAR)",
        ]
        lines = con.sql(
            f"SELECT concat_ws(chr(9), {', '.join(fields)}) FROM {_STAGE} "
            f"WHERE {_ERROR} IS NULL ORDER BY {ORD}"
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
# Catalog
# --------------------------------------------------------------------------------------------


def _temp_table(cur: psycopg2.extensions.cursor, name: str, body: str) -> None:
    cur.execute(f"DROP TABLE IF EXISTS {name}")
    if body.startswith("("):  # column list: ON COMMIT goes after it; AS SELECT: before
        cur.execute(f"CREATE TEMP TABLE {name} {body} ON COMMIT DROP")
    else:
        cur.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP {body}")


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
