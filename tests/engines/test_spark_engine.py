"""Spark as an engine: the tiny emulator org extracted into the Parquet lake, the whole dbt
project built and tested on Spark (``dbt build --target spark``: models, seeds, unit tests,
data tests, contracts), and every mart table compared with DuckDB's build of the same lake.

One lake and one build per engine per test session (shared by xdist workers). The Spark build
runs a local[2] session with 2 shuffle partitions (profiles.yml).
"""

from __future__ import annotations

import pytest

from tests.dbt.conftest import PROJECT_DIR, shared
from tests.engines.compare import compare_frames, mart_models
from tests.engines.lake_support import (
    duckdb_build,
    duckdb_marts,
    extract_lake_org,
    spark_build,
    spark_marts,
    spark_tables,
)

# Not in `make test`: on this 2-core machine the Spark build of the tiny org takes 15-40 min
# (per-query Spark overhead); `make test-spark` runs it. See docs/scale-out.md.
pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture(scope="session")
def lake_org(tmp_path_factory):
    return shared(tmp_path_factory, "engines_lake_org", extract_lake_org)


@pytest.fixture(scope="session")
def lake_duckdb(tmp_path_factory, lake_org):
    return shared(tmp_path_factory, "engines_lake_duckdb", lambda tmp: duckdb_build(lake_org, tmp))


@pytest.fixture(scope="session")
def lake_spark(tmp_path_factory, lake_org):
    return shared(tmp_path_factory, "engines_lake_spark", lambda tmp: spark_build(lake_org, tmp))


def test_the_whole_project_builds_and_tests_on_duckdb_from_the_lake(lake_duckdb):
    assert lake_duckdb.run.success, lake_duckdb.run.describe()


def test_the_whole_project_builds_and_tests_on_spark(lake_spark):
    run = lake_spark.run
    assert run.success, run.describe()
    statuses = {status for _, status, _ in run.results}
    assert statuses <= {"success", "pass"}, run.describe()
    kinds = {uid.split(".")[0] for uid, _, _ in run.results}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    print(f"spark dbt build: {run.seconds:.0f}s, {len(run.results)} nodes")


def _built(build, models):
    """Every one of ``models`` built in ``build`` (a failing test elsewhere does not hide the
    comparison of the marts that did build)."""
    status = {uid.split(".")[-1]: s for uid, s, _ in build.run.results if uid.startswith("model.")}
    return {m: status.get(m) for m in models if status.get(m) != "success"}


def test_every_mart_is_identical_on_spark_and_duckdb(lake_duckdb, lake_spark):
    marts = mart_models(PROJECT_DIR)
    assert not _built(lake_duckdb, marts), lake_duckdb.run.describe()
    assert not _built(lake_spark, marts), lake_spark.run.describe()
    assert len(marts) >= 20
    assert spark_tables(lake_spark) == marts
    duck = duckdb_marts(lake_duckdb, marts)
    spark = spark_marts(lake_spark, marts)
    problems = []
    for table in marts:
        assert len(duck[table]) == len(spark[table]), table
        problems += compare_frames(table, {"duckdb": duck[table], "spark": spark[table]})
    assert not problems, "\n".join(problems)
    assert sum(len(frame) for frame in duck.values()) > 1000


def test_the_statistical_forecast_runs_on_spark_marts_into_the_lake(
    lake_org, lake_duckdb, lake_spark, tmp_path
):
    """On the spark target the forecast reads Spark's marts and commits its tables to the
    lake, where register_lake_sources picks them up (``forecast.*``) for mart_forecast; the
    numbers equal the forecast computed from DuckDB's marts."""
    import os
    import shutil

    import duckdb

    from connectors.destinations.parquet import attach_lake, read_manifest
    from orchestration.forecast import statistical
    from orchestration.forecast.warehouse import forecast_connection
    from tests.dbt.conftest import AS_OF
    from tests.engines.compare import read_duckdb

    assert lake_duckdb.run.success and lake_spark.run.success
    lake = tmp_path / "lake"  # a private copy: the session's lake stays as extracted
    shutil.copytree(lake_org.lake, lake)
    env = {
        **os.environ,
        "SALESOPS_DBT_TARGET": "spark",
        "SALESOPS_SPARK_DIR": str(lake_spark.spark_dir),
        "SALESOPS_LAKE_ROOT": str(lake),
    }
    with forecast_connection(env=env) as con:  # what the forecast asset does on this target
        statistical.run(con, AS_OF, with_backtest=False)
    tables = {(e["schema"], e["name"]) for e in read_manifest(lake)["tables"]}
    assert ("forecast", "statistical_forecasts") in tables
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(lake_duckdb.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("SET TimeZone = 'UTC'")
        statistical.run(con, AS_OF, with_backtest=False)
        expected = read_duckdb(con, "forecast", "statistical_forecasts")
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        attach_lake(con, lake)
        actual = read_duckdb(con, "forecast", "statistical_forecasts")
    assert len(expected) > 0
    problems = compare_frames("statistical_forecasts", {"duckdb": expected, "spark_lake": actual})
    assert not problems, "\n".join(problems)
