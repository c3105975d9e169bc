"""Where the Python forecast reads the marts and writes its tables, for each dbt target.

The forecast code (:mod:`orchestration.forecast.statistical`) is written against a small part
of the DuckDB connection API: ``execute(sql, params)`` with ``?`` placeholders returning
something with ``.df()``, ``.fetchone()`` and ``.fetchall()``; ``register(name, frame)`` /
``unregister(name)`` to insert a DataFrame with ``insert ... select ... from name``; DDL with
the project's portable type names (``double``, ``varchar``, ``date``, ``integer``).
:func:`forecast_connection` is the one way to get such a connection for the configured target
(``SALESOPS_DBT_TARGET``):

* ``duckdb``: the DuckDB warehouse file itself;
* ``postgres``: :class:`PostgresForecastConnection` on the build database
  (``SALESOPS_POSTGRES_*``), one transaction committed when the block ends, so a failed run
  leaves the previous forecast untouched;
* ``spark``: a DuckDB working copy over the Parquet tables Spark wrote and the lake's
  ``forecast`` tables (:func:`orchestration.forecast.lake.lake_forecast_connection`); when the
  block ends the ``forecast`` tables are committed to the lake, which the spark target
  registers on its next run.

Adding an engine (Spark: ``spark.sql(...).toPandas()`` for ``df()``,
``createOrReplaceTempView`` for ``register``, ``insert overwrite`` instead of ``delete`` where
there is no Delta) means one more class with these methods and one more branch in
:func:`forecast_connection`; the forecast code does not change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from orchestration.quality.warehouse import copy_frame_to_temp
from salesops.config import ConfigError, load_settings

_DOUBLE = re.compile(r"\bdouble\b(?!\s+precision)", re.IGNORECASE)
_DDL = re.compile(r"^\s*(create|alter)\s", re.IGNORECASE)


class _Result:
    def __init__(self, columns: list[str], rows: list[tuple]):
        self.columns = columns
        self.rows = rows

    def df(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.rows, columns=self.columns)

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple]:
        return list(self.rows)


class PostgresForecastConnection:
    """The DuckDB connection subset of the module docstring, on a psycopg2 connection."""

    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Result:
        if _DDL.match(sql):
            sql = _DOUBLE.sub("double precision", sql)
        if params:
            sql = sql.replace("%", "%%").replace("?", "%s")
        with self.con.cursor() as cur:
            cur.execute(sql, list(params) if params else None)
            if cur.description is None:
                return _Result([], [])
            return _Result([d.name for d in cur.description], cur.fetchall())

    def register(self, name: str, frame: pd.DataFrame) -> None:
        copy_frame_to_temp(self.con, name, frame)

    def unregister(self, name: str) -> None:
        with self.con.cursor() as cur:
            cur.execute(f'DROP TABLE IF EXISTS "{name}"')


@contextmanager
def forecast_connection(
    *, warehouse_path: Path | None = None, env: Mapping[str, str] | None = None
) -> Iterator[Any]:
    """A connection to the build warehouse of ``SALESOPS_DBT_TARGET`` (module docstring)."""
    env = os.environ if env is None else env
    settings = load_settings(env)
    if settings.dbt_target == "duckdb":
        con = duckdb.connect(str(warehouse_path or settings.warehouse))
        try:
            yield con
        finally:
            con.close()
        return
    if settings.dbt_target == "postgres":
        from connectors.destinations.postgres import PostgresConfigError, PostgresConnection

        try:
            target = PostgresConnection.from_env(env)
        except PostgresConfigError as exc:
            raise ConfigError(str(exc)) from None
        con = target.connect(application_name="salesops-forecast")
        try:
            yield PostgresForecastConnection(con)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()
        return
    if settings.dbt_target == "spark":
        from orchestration.forecast.lake import lake_forecast_connection, spark_warehouse_dir

        with lake_forecast_connection(spark_warehouse_dir(env), settings.lake_root) as con:
            yield con
        return
    raise ConfigError(
        f"SALESOPS_DBT_TARGET={settings.dbt_target!r}: the statistical forecast has no writer "
        "for this engine yet (orchestration/forecast/warehouse.py); use duckdb or postgres."
    )
