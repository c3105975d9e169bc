"""Spark as an engine: the tiny emulator org extracted into the Parquet lake, every model and
seed of the dbt project built on Spark (``dbt build --target spark``, contracts enforced), and
every mart table compared with DuckDB's build of the same lake, where every data test and unit
test runs too. The project's own data tests and unit tests on Spark (530 more Spark queries,
15-40 min on two cores) are marked ``spark_full`` and run in ``make test-spark``.

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
    spark_test,
)

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


def test_every_model_and_seed_builds_on_spark(lake_spark):
    run = lake_spark.run
    assert run.success, run.describe()
    statuses = {status for _, status, _ in run.results}
    assert statuses <= {"success", "no-op"}, run.describe()  # exposures are no-ops
    kinds = {uid.split(".")[0] for uid, _, _ in run.results}
    assert {"model", "seed"} <= kinds
    print(f"spark dbt build (models and seeds): {run.seconds:.0f}s, {len(run.results)} nodes")


@pytest.mark.spark_full
def test_every_data_test_and_unit_test_passes_on_spark(lake_org, lake_spark):
    run = spark_test(lake_org, lake_spark)
    assert run.success, run.describe()
    by_kind: dict[str, set[str]] = {}
    for uid, status, _ in run.results:
        by_kind.setdefault(uid.split(".")[0], set()).add(status)
    assert by_kind.get("test") == by_kind.get("unit_test") == {"pass"}, run.describe()
    # anything else dbt test runs (the project's on-run hooks) reports "success"
    assert all(s == {"success"} for k, s in by_kind.items() if k not in ("test", "unit_test")), (
        by_kind
    )
    print(f"spark dbt test: {run.seconds:.0f}s, {len(run.results)} tests")


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
