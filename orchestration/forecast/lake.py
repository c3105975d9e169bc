"""The statistical forecast for the Spark target: read Spark's marts, write the Parquet lake.

On the spark dbt target the marts are Parquet tables Spark wrote under its warehouse directory
(``$SALESOPS_SPARK_DIR/warehouse/marts.db/<table>``, profiles.yml), and the dbt project reads
``forecast.statistical_forecasts`` (and ``forecast.statistical_backtest``) from the lake, which
``register_lake_sources`` registers like the raw tables. :func:`run_on_lake` gives
:func:`orchestration.forecast.statistical.run` a DuckDB working copy holding both, runs it
unchanged, and commits the forecast tables back to the lake through its manifest
(:func:`connectors.destinations.parquet.write_table`, one atomic commit per table). No JVM is
needed: Spark's tables are plain Parquet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from connectors.destinations.parquet import ParquetDestination, read_manifest, write_table

SCHEMA = "forecast"
_LAKE_TYPES = {
    "VARCHAR": "VARCHAR",
    "DOUBLE": "DOUBLE",
    "BIGINT": "BIGINT",
    "INTEGER": "INTEGER",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIMESTAMP": "TIMESTAMPTZ",
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def spark_marts_connection(spark_warehouse: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view ``marts.<table>`` over each table Spark wrote.

    Spark's timestamps are UTC instants; the views show them as naive UTC timestamps, the form
    the DuckDB marts have, so code written against the DuckDB warehouse reads them unchanged.
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA marts")
    root = Path(spark_warehouse) / "marts.db"
    for table_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(str(f) for f in table_dir.rglob("*.parquet"))
        if not files:
            continue
        source = f"read_parquet([{', '.join(map(_literal, files))}])"
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        columns = ", ".join(
            f'CAST("{name}" AS TIMESTAMP) AS "{name}"'
            if type_ == "TIMESTAMP WITH TIME ZONE"
            else f'"{name}"'
            for name, type_, *_ in described
        )
        con.execute(f'CREATE VIEW marts."{table_dir.name}" AS SELECT {columns} FROM {source}')
    return con


def spark_warehouse_dir(env: Mapping[str, str]) -> Path:
    """Where the spark target keeps its tables (profiles.yml: ``SALESOPS_SPARK_DIR``, default
    ``$SALESOPS_DATA_DIR/spark``, then ``warehouse``)."""
    from salesops.config import load_settings

    raw = env.get("SALESOPS_SPARK_DIR", "").strip()
    settings = load_settings(env)
    base = Path(raw) if raw else settings.data_dir / "spark"
    if not base.is_absolute():
        base = Path(__file__).resolve().parents[2] / base
    return base / "warehouse"


@contextmanager
def lake_forecast_connection(spark_warehouse: Path, lake_root: Path) -> Iterator[Any]:
    """A DuckDB working copy with Spark's marts (views) and the lake's ``forecast`` tables;
    when the block ends without an error, every ``forecast`` table is committed back to the
    lake (one manifest commit per table), so a failed run leaves the lake untouched."""
    lake = ParquetDestination(lake_root)
    con = spark_marts_connection(spark_warehouse)
    try:
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        for entry in read_manifest(lake_root)["tables"]:
            if entry["schema"] != SCHEMA:
                continue
            columns = ", ".join(f'"{c["name"]}" {c["type"]}' for c in entry["columns"])
            con.execute(f'CREATE TABLE {SCHEMA}."{entry["name"]}" ({columns})')
            files = ", ".join(_literal(str(lake.root / f)) for f in entry["files"])
            con.execute(
                f'INSERT INTO {SCHEMA}."{entry["name"]}" BY NAME '
                f"SELECT * FROM read_parquet([{files}], union_by_name = true)"
            )
        yield con
        _commit_forecast_tables(con, lake)
    finally:
        con.close()


def _commit_forecast_tables(con: duckdb.DuckDBPyConnection, lake: ParquetDestination) -> None:
    tables = [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1", [SCHEMA]
        ).fetchall()
    ]
    for name in tables:
        columns = {}
        for column, type_, *_ in con.execute(f'DESCRIBE {SCHEMA}."{name}"').fetchall():
            if type_ not in _LAKE_TYPES:
                raise TypeError(f"{SCHEMA}.{name}.{column}: no lake type for {type_}")
            columns[column] = _LAKE_TYPES[type_]
        select = ", ".join(
            f'CAST("{c}" AS TIMESTAMPTZ) AS "{c}"' if t == "TIMESTAMPTZ" else f'"{c}"'
            for c, t in columns.items()
        )
        frame = con.sql(f'SELECT {select} FROM {SCHEMA}."{name}"').to_arrow_table()
        write_table(lake, SCHEMA, name, frame, columns, mode="overwrite")


def run_on_lake(
    spark_warehouse: Path, lake_root: Path, as_of: dt.date, *, with_backtest: bool = True
):
    """Run the statistical forecast on Spark's marts and commit its tables to the lake.

    Earlier runs kept in the lake stay (``statistical.run`` replaces only the as-of date's
    rows). Returns what ``statistical.run`` returns."""
    from orchestration.forecast import statistical

    with lake_forecast_connection(spark_warehouse, lake_root) as con:
        return statistical.run(con, as_of, with_backtest=with_backtest)
