"""The tiny emulator org in a Parquet lake, and the dbt project built from it on Spark and DuckDB.

One extract per test session (xdist workers share it, :func:`tests.dbt.conftest.shared`):

* the emulator org over HTTP into the lake with ``salesops extract``'s code path
  (``SALESOPS_DESTINATION=parquet``);
* DuckDB: the lake's committed tables materialized into a DuckDB raw warehouse
  (:func:`connectors.destinations.parquet.attach_lake`), then ``dbt build``;
* Spark: ``dbt build --target spark`` straight over the lake (a local[2] session, its own
  Derby metastore and warehouse directory), the marts read back from the Parquet files Spark
  wrote.

Both builds read the same raw rows, so any difference in the marts is the engines' doing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from connectors.destinations.parquet import attach_lake
from tests.dbt.conftest import AS_OF, SEED, DbtRun, run_dbt, run_dbt_on
from tests.engines.compare import read_duckdb

# The emulator's clean org: the marts are compared, not the defect handling (tests/quality).
DIRTY_RATE = 0.0


@dataclass
class LakeOrg:
    lake: Path
    seconds: float


@dataclass
class EngineBuild:
    engine: str
    run: DbtRun
    work_dir: Path
    seconds: dict = field(default_factory=dict)
    warehouse: Path | None = None  # DuckDB
    spark_dir: Path | None = None  # Spark: metastore_db and warehouse/


def extract_lake_org(directory: Path, *, scale: str = "tiny") -> LakeOrg:
    """The emulator org over HTTP into ``directory/lake``."""
    from connectors.extract import extract
    from emulator.server import start_emulator
    from tests.quality.support import emulator_env

    lake = directory / "lake"
    started = time.perf_counter()
    with start_emulator(seed=SEED, scale=scale, as_of=AS_OF, dirty_rate=DIRTY_RATE) as running:
        env = {
            **os.environ,
            **emulator_env(running),
            "SALESOPS_DESTINATION": "parquet",
            "SALESOPS_LAKE_ROOT": str(lake),
        }
        result = extract(env=env)
        assert result.ok, result.errors
    return LakeOrg(lake=lake, seconds=time.perf_counter() - started)


def duckdb_build(org: LakeOrg, directory: Path) -> EngineBuild:
    """The lake materialized into a DuckDB raw warehouse, then ``dbt build``."""
    directory.mkdir(parents=True, exist_ok=True)
    warehouse = directory / "warehouse.duckdb"
    started = time.perf_counter()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("SET TimeZone = 'UTC'")
        attach_lake(con, org.lake, materialize=True)
    landing = time.perf_counter() - started
    run = run_dbt(["build"], warehouse=warehouse, work_dir=directory)
    return EngineBuild(
        "duckdb",
        run,
        directory,
        seconds={"landing": landing, "dbt_build": run.seconds},
        warehouse=warehouse,
    )


def run_dbt_spark(command: list[str], *, lake: Path, spark_dir: Path, work_dir: Path) -> DbtRun:
    """One dbt command on the spark target over ``lake``; results as :func:`run_dbt`'s."""
    env = {"SALESOPS_LAKE_ROOT": str(lake), "SALESOPS_SPARK_DIR": str(spark_dir)}
    return run_dbt_on("spark", command, env=env, work_dir=work_dir)


# Models and seeds only: the data tests and unit tests are 530 more Spark queries (15-40 min on
# two cores); they run in make test-spark (:func:`spark_test`), and the marts these models build
# are compared with DuckDB's, where every test runs, on every make test.
SPARK_MODELS = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def spark_build(org: LakeOrg, directory: Path) -> EngineBuild:
    """The whole project's models and seeds built on Spark over the lake."""
    directory.mkdir(parents=True, exist_ok=True)
    spark_dir = directory / "spark"
    run = run_dbt_spark(SPARK_MODELS, lake=org.lake, spark_dir=spark_dir, work_dir=directory)
    return EngineBuild(
        "spark", run, directory, seconds={"dbt_build": run.seconds}, spark_dir=spark_dir
    )


def spark_test(org: LakeOrg, build: EngineBuild) -> DbtRun:
    """Every data test and unit test of the project on the Spark build of :func:`spark_build`."""
    work_dir = build.work_dir / "tests"
    work_dir.mkdir(parents=True, exist_ok=True)
    return run_dbt_spark(["test"], lake=org.lake, spark_dir=build.spark_dir, work_dir=work_dir)


# --------------------------------------------------------------------------------------------
# Reading the marts
# --------------------------------------------------------------------------------------------


def duckdb_marts(build: EngineBuild, tables: list[str]) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(build.warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return {table: read_duckdb(con, "marts", table) for table in tables}


def spark_tables(build: EngineBuild) -> list[str]:
    """The tables Spark wrote to its ``marts`` database (one directory each)."""
    root = build.spark_dir / "warehouse" / "marts.db"
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def spark_marts(build: EngineBuild, tables: list[str]) -> dict[str, pd.DataFrame]:
    """Tables Spark wrote to the ``marts`` database, read from the Parquet files it wrote
    (``spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS``: UTC instants, which
    :func:`tests.engines.compare.normalize` compares as naive UTC like DuckDB's)."""
    root = build.spark_dir / "warehouse" / "marts.db"
    frames = {}
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE SCHEMA marts")
        for table in tables:
            files = sorted(str(f) for f in (root / table).rglob("*.parquet"))
            assert files, f"Spark wrote no Parquet file for marts.{table}"
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f'CREATE VIEW marts."{table}" AS SELECT * FROM read_parquet([{listing}])')
            frames[table] = read_duckdb(con, "marts", table)
    return frames
