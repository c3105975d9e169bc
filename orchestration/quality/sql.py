"""Small DuckDB helpers shared by the gates and the publisher.

DuckDB 2.0 refuses new work on a connection while a result is unfinished, so every query here
fetches its rows completely (``fetchall``), never ``fetchone`` on an open result.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from connectors.naming import qualified, quote_ident

__all__ = [
    "columns",
    "connect_with_retry",
    "qualified",
    "quote_ident",
    "rows",
    "scalar",
    "table_exists",
    "tables_in",
]


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    result = rows(con, sql, params)
    return result[0][0] if result else None


def table_exists(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str | None = None
) -> bool:
    sql = "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
    params: list[Any] = [schema, table]
    if catalog:
        sql += " AND table_catalog = ?"
        params.append(catalog)
    return bool(scalar(con, sql, params))


def tables_in(con: duckdb.DuckDBPyConnection, schema: str, catalog: str | None = None) -> list[str]:
    sql = (
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
        "AND table_type = 'BASE TABLE'"
    )
    params: list[Any] = [schema]
    if catalog:
        sql += " AND table_catalog = ?"
        params.append(catalog)
    return [r[0] for r in rows(con, sql + " ORDER BY 1", params)]


def columns(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str | None = None
) -> dict[str, str]:
    """Column name -> data type, in table order."""
    sql = (
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ?"
    )
    params: list[Any] = [schema, table]
    if catalog:
        sql += " AND table_catalog = ?"
        params.append(catalog)
    return dict(rows(con, sql + " ORDER BY ordinal_position", params))


def _locked(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "resource temporarily unavailable" in text


@contextlib.contextmanager
def connect_with_retry(
    path: Path, *, read_only: bool = False, wait_seconds: float = 60.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to ``path``, retrying while another process holds the file's lock."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error as exc:
            if not _locked(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def quoted_list(names: Sequence[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def sql_literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"
