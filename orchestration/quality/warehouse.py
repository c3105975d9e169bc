"""The one way the gates and the brief reach the build warehouse (and PostgreSQL's served marts).

The gate code (:mod:`orchestration.quality.raw_gate`, ``mart_gate``, ``freshness``) and the
brief are written against a small part of the DuckDB connection API, in DuckDB's SQL dialect:

* ``execute(sql, params)`` with ``?`` placeholders, returning something with ``fetchall()``,
  ``fetchone()``, ``df()`` and ``description``;
* ``register(name, frame)`` / ``unregister(name)``: a DataFrame as a table for the statement;
* ``cursor().sql(sql, params=...).to_arrow_reader(rows)``: a query streamed as Arrow batches
  (the raw gate's row-level chunks);
* ``BEGIN TRANSACTION`` / ``COMMIT`` / ``ROLLBACK`` as statements.

:func:`warehouse_connection` yields such a connection for ``SALESOPS_DBT_TARGET`` (the pattern
of :func:`orchestration.forecast.warehouse.forecast_connection`):

* ``duckdb``: the DuckDB warehouse file itself (:func:`orchestration.quality.sql.connect_with_retry`);
* ``postgres``: :class:`PostgresWarehouseConnection` on the build database
  (``SALESOPS_POSTGRES_*``), autocommit, session time zone UTC. Each statement is transpiled
  from DuckDB's dialect with SQLGlot (plus two rewrites SQLGlot does not do: ``struct_pack``
  becomes ``json_build_object`` and a derived table without an alias gets one, which PostgreSQL
  before 16 requires), ``?`` becomes ``%s``. Registered frames are temporary tables filled
  with ``COPY``; streamed queries use a server-side cursor.

Database errors of either engine are :data:`DatabaseError`. The PostgreSQL password is never
part of a message (connection errors are scrubbed by
:class:`connectors.destinations.postgres.PostgresConnection`).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import functools
import io
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg2
import pyarrow as pa
import sqlglot
from sqlglot import exp

from salesops.config import ConfigError, load_settings

DatabaseError: tuple[type[Exception], ...] = (duckdb.Error, psycopg2.Error)


# --------------------------------------------------------------------------------------------
# DuckDB SQL -> PostgreSQL
# --------------------------------------------------------------------------------------------


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Struct):  # struct_pack(a := x, ...) -> json_build_object('a', x, ...)
        args: list[exp.Expression] = []
        for item in node.expressions:
            if isinstance(item, exp.PropertyEQ | exp.Alias | exp.Slice | exp.EQ):
                name = item.this.name if not isinstance(item, exp.Alias) else item.alias
                value = item.expression if not isinstance(item, exp.Alias) else item.this
            else:
                name, value = item.name, item
            args += [exp.Literal.string(name), value]
        return exp.Anonymous(this="json_build_object", expressions=args)
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        # DuckDB's any_value skips nulls; PostgreSQL 16 has any_value, min is one of the values
        return exp.Min(this=node.this.this)
    if isinstance(node, exp.AnyValue):
        return exp.Min(this=node.this)
    if (
        isinstance(node, exp.Subquery)
        and not node.alias
        and isinstance(node.parent, exp.From | exp.Join)
    ):
        node.set("alias", exp.TableAlias(this=exp.to_identifier(f"_q{uuid.uuid4().hex[:6]}")))
    return node


_PARAM = "__salesops_param__"


def _mark_params(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Placeholder):
        return exp.var(_PARAM)
    return node


@functools.lru_cache(maxsize=2048)
def to_postgres(sql: str, *, with_params: bool = False) -> str:
    """``sql`` (DuckDB dialect, ``?`` placeholders) as PostgreSQL for psycopg2 (``%s``)."""
    statements = []
    for tree in sqlglot.parse(sql, read="duckdb"):
        if tree is None:
            continue
        tree = tree.transform(_rewrite)
        if with_params:
            tree = tree.transform(_mark_params)
        statements.append(tree.sql(dialect="postgres"))
    out = "; ".join(statements)
    if with_params:  # psycopg2 formats the statement: a literal % must be doubled
        out = out.replace("%", "%%").replace(_PARAM, "%s")
    return out


# --------------------------------------------------------------------------------------------
# The connection
# --------------------------------------------------------------------------------------------


class Result:
    def __init__(self, columns: list[str], rows: list[tuple]):
        self.columns = columns
        self.rows = rows
        self.description = [(c, None, None, None, None, None, None) for c in columns] or None

    def df(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.rows, columns=self.columns)

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple]:
        return list(self.rows)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, decimal.Decimal) else value


def _pg_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "timestamptz" if getattr(series.dtype, "tz", None) else "timestamp"
    present = [v for v in series.tolist() if not _missing(v)]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "bigint"
    if present and all(isinstance(v, float | int | decimal.Decimal) for v in present):
        return "double precision"
    if present and all(isinstance(v, dt.datetime) for v in present):
        return "timestamptz"
    if present and all(isinstance(v, dt.date) for v in present):
        return "date"
    return "text"


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # every digit: nothing may lose a cent on the way
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def copy_frame_to_temp(raw: Any, name: str, frame: pd.DataFrame) -> None:
    """``frame`` as the temporary table ``name`` of the psycopg2 connection ``raw`` (replaced if
    it exists), loaded by COPY: DuckDB's ``register`` for code that runs on PostgreSQL too."""
    columns = ", ".join(f'"{c}" {_pg_type(frame[c])}' for c in frame.columns)
    with raw.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{name}"')
        cur.execute(f'CREATE TEMP TABLE "{name}" ({columns})')
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in frame.itertuples(index=False, name=None):
            writer.writerow(["" if _missing(v) else _text(v) for v in row])
        buffer.seek(0)
        cur.copy_expert(f'COPY "{name}" FROM STDIN (FORMAT csv)', buffer)


class _Streamed:
    """``cursor().sql(...)``: the query, read as Arrow batches by a server-side cursor."""

    def __init__(self, con: PostgresWarehouseConnection, sql: str, params: Sequence[Any]):
        self.con, self.sql, self.params = con, sql, params

    def to_arrow_reader(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        sql = to_postgres(self.sql, with_params=bool(self.params))
        name = f"salesops_gate_{uuid.uuid4().hex[:8]}"
        with self.con.raw.cursor(name=name, withhold=True) as cur:
            cur.itersize = batch_rows
            cur.execute(sql, list(self.params) or None)
            columns: list[str] | None = None
            while True:
                chunk = cur.fetchmany(batch_rows)
                if columns is None:
                    columns = [d.name for d in cur.description]
                if not chunk:
                    break
                records = [tuple(_plain(v) for v in row) for row in chunk]
                frame = pd.DataFrame.from_records(records, columns=columns)
                yield pa.RecordBatch.from_pandas(frame, preserve_index=False)


class PostgresWarehouseConnection:
    """The DuckDB connection subset of the module docstring, on a psycopg2 connection."""

    def __init__(self, con: psycopg2.extensions.connection) -> None:
        self.raw = con
        self.raw.autocommit = True  # BEGIN / COMMIT / ROLLBACK arrive as statements

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Result:
        params = list(params or [])
        statement = to_postgres(sql, with_params=bool(params))
        with self.raw.cursor() as cur:
            cur.execute(statement, params or None)
            if cur.description is None:
                return Result([], [])
            names = [d.name for d in cur.description]
            return Result(names, [tuple(_plain(v) for v in row) for row in cur.fetchall()])

    def sql(self, sql: str, params: Sequence[Any] | None = None) -> _Streamed:
        return _Streamed(self, sql, list(params or []))

    def cursor(self) -> PostgresWarehouseConnection:
        return self

    def close(self) -> None:  # the owner of the block closes the connection
        pass

    def register(self, name: str, frame: pd.DataFrame) -> None:
        copy_frame_to_temp(self.raw, name, frame)

    def unregister(self, name: str) -> None:
        with self.raw.cursor() as cur:
            cur.execute(f'DROP TABLE IF EXISTS "{name}"')


def build_postgres(env: Mapping[str, str]):
    from connectors.destinations.postgres import PostgresConfigError, PostgresConnection

    try:
        return PostgresConnection.from_env(env)
    except PostgresConfigError as exc:
        raise ConfigError(str(exc)) from None


@contextmanager
def postgres_connection(target, *, application_name: str) -> Iterator[PostgresWarehouseConnection]:
    """A :class:`PostgresWarehouseConnection` on ``target`` (a ``PostgresConnection``)."""
    con = target.connect(application_name=application_name)
    try:
        yield PostgresWarehouseConnection(con)
    finally:
        con.close()


@contextmanager
def warehouse_connection(
    *,
    warehouse_path: Path | None = None,
    read_only: bool = False,
    env: Mapping[str, str] | None = None,
    application_name: str = "salesops-gates",
) -> Iterator[Any]:
    """A connection to the build warehouse of ``SALESOPS_DBT_TARGET`` (module docstring)."""
    env = os.environ if env is None else env
    settings = load_settings(env)
    if settings.dbt_target == "duckdb":
        from orchestration.quality.sql import connect_with_retry

        with connect_with_retry(warehouse_path or settings.warehouse, read_only=read_only) as con:
            yield con
        return
    if settings.dbt_target == "postgres":
        with postgres_connection(build_postgres(env), application_name=application_name) as con:
            yield con
        return
    raise ConfigError(
        f"SALESOPS_DBT_TARGET={settings.dbt_target!r}: the quality gates have no connection "
        "for this engine yet (orchestration/quality/warehouse.py); use duckdb or postgres."
    )


def serving_postgres(env: Mapping[str, str] | None = None):
    """The PostgreSQL serving database (``SALESOPS_POSTGRES_SERVING_DBNAME``) of the build's."""
    from orchestration.quality.publish_postgres import serving_connection

    env = os.environ if env is None else env
    return serving_connection(build_postgres(env), env)


def published_mart_rows(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """Rows per mart of the version BI is served now (empty before the first publish): the
    serving file on DuckDB, ``marts.salesops_publication`` of the serving database on PostgreSQL."""
    env = os.environ if env is None else env
    settings = load_settings(env)
    if settings.dbt_target == "postgres":
        from orchestration.quality.publish_postgres import served_build

        try:
            con = serving_postgres(env).connect(application_name="salesops-gates")
        except ConnectionError as exc:  # no serving database yet: nothing published
            if "does not exist" in str(exc):
                return {}
            raise
        try:
            served = served_build(con)
        except psycopg2.Error:
            return {}
        finally:
            con.close()
        marts = (served or {}).get("marts") or {}
        return {name: int(n) for name, n in marts.items()}
    from orchestration.quality.publish import ServingPaths, serving_marts

    return serving_marts(ServingPaths.from_settings(settings).serving)


__all__ = [
    "DatabaseError",
    "PostgresWarehouseConnection",
    "postgres_connection",
    "published_mart_rows",
    "serving_postgres",
    "to_postgres",
    "warehouse_connection",
]
