"""The tiny emulator org through the real connectors into DuckDB and PostgreSQL, ``dbt build`` on
both, every mart compared; then publishing on PostgreSQL: roles and the schema swap.

One extract and one build per engine per session (:func:`tests.dbt.conftest.shared`); the two
dbt builds run side by side.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg2
import pytest

from connectors.destinations.postgres import PostgresConnection
from orchestration.quality import publish_postgres
from orchestration.quality.mart_gate import mart_nodes, restricted_marts
from tests.dbt.conftest import AS_OF, PROJECT_DIR, SEED, DbtRun, run_dbt, shared
from tests.engines.compare import compare_frames, mart_models, read_duckdb, read_postgres
from tests.engines.postgres_support import env_for, fresh_database, run_dbt_postgres


@dataclass
class Builds:
    warehouse: Path
    postgres: PostgresConnection
    duckdb_run: DbtRun
    postgres_run: DbtRun
    manifest: Path
    seconds: dict = field(default_factory=dict)


def _build(directory: Path, admin: PostgresConnection) -> Builds:
    from connectors.extract import extract
    from emulator.server import start_emulator
    from tests.quality.support import emulator_env

    seconds = {}
    warehouse = directory / "duckdb" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    database = fresh_database(admin, "engines")
    with start_emulator(seed=SEED, scale="tiny", as_of=AS_OF) as running:
        base = {**os.environ, **emulator_env(running)}
        for name, env in (
            ("duckdb", {"SALESOPS_DESTINATION": "duckdb", "SALESOPS_WAREHOUSE": str(warehouse)}),
            ("postgres", {"SALESOPS_DESTINATION": "postgres", **env_for(database)}),
        ):
            started = time.perf_counter()
            result = extract(env={**base, **env})
            assert result.ok, result.errors
            seconds[f"extract_{name}"] = round(time.perf_counter() - started, 1)
    with ThreadPoolExecutor(2) as pool:
        duck = pool.submit(run_dbt, ["build"], warehouse=warehouse, work_dir=directory / "duckdb")
        pg = pool.submit(
            run_dbt_postgres, ["build"], database=database, work_dir=directory / "postgres"
        )
        duckdb_run, postgres_run = duck.result(), pg.result()
    seconds["dbt_build_duckdb"] = round(duckdb_run.seconds, 1)
    seconds["dbt_build_postgres"] = round(postgres_run.seconds, 1)
    return Builds(
        warehouse,
        database,
        duckdb_run,
        postgres_run,
        directory / "postgres" / "target" / "manifest.json",
        seconds,
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory, postgres_admin) -> Builds:
    built = shared(tmp_path_factory, "engines_postgres", lambda d: _build(d, postgres_admin))
    print(f"\nPostgreSQL engine suite timings (s): {built.seconds}")
    return built


def test_dbt_build_and_tests_pass_on_both_engines(builds):
    assert builds.duckdb_run.success, builds.duckdb_run.describe()
    assert builds.postgres_run.success, builds.postgres_run.describe()
    statuses = {status for _, status, _ in builds.postgres_run.results}
    assert statuses <= {"success", "pass", "no-op"}, builds.postgres_run.describe()
    assert len(builds.postgres_run.results) == len(builds.duckdb_run.results)


def test_every_mart_is_the_same_on_duckdb_and_postgres(builds):
    marts = mart_models(PROJECT_DIR)
    assert len(marts) >= 20
    problems, rows = [], 0
    pg = builds.postgres.connect()
    try:
        with duckdb.connect(str(builds.warehouse), read_only=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            for mart in marts:
                frames = {
                    "duckdb": read_duckdb(con, "marts", mart),
                    "postgres": read_postgres(pg, "marts", mart),
                }
                rows += len(frames["duckdb"])
                problems += compare_frames(mart, frames)
    finally:
        pg.close()
    assert not problems, "\n".join(problems)
    assert rows > 1000  # the comparison compared something


def test_raw_layers_hold_the_same_rows(builds):
    pg = builds.postgres.connect()
    try:
        with duckdb.connect(str(builds.warehouse), read_only=True) as con, pg.cursor() as cur:
            tables = con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE schema_name LIKE 'raw_%' AND schema_name != 'raw_meta' ORDER BY 1, 2"
            ).fetchall()
            assert len(tables) > 50
            for schema, table in tables:
                cur.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
                expected = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
                assert cur.fetchone()[0] == expected[0], f"{schema}.{table}"
    finally:
        pg.close()


# --------------------------------------------------------------------------------------------
# Publishing: roles
# --------------------------------------------------------------------------------------------


@dataclass
class Served:
    build: PostgresConnection
    serving: PostgresConnection
    marts: list[str]
    restricted: frozenset[str]
    bi_user: str
    compensation_user: str


@pytest.fixture(scope="module")
def served(builds, postgres_admin) -> Served:
    """The PostgreSQL build published to a serving database of this module's own, and a login
    user in each role."""
    nodes = mart_nodes(builds.manifest)
    restricted = restricted_marts(nodes)
    assert "mart_commissions" in restricted
    serving = fresh_database(postgres_admin, "serving")
    result = publish_postgres.publish(
        builds.postgres, serving, nodes, restricted=restricted, build_id="first", as_of=AS_OF
    )
    assert set(result.restricted_marts) == set(restricted)
    suffix = serving.dbname.rsplit("_", 1)[-1]
    bi_user, compensation_user = f"bi_{suffix}", f"comp_{suffix}"
    con = postgres_admin.connect()
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f'CREATE ROLE "{bi_user}" LOGIN IN ROLE {publish_postgres.BI_ROLE}')
        cur.execute(
            f'CREATE ROLE "{compensation_user}" LOGIN IN ROLE {publish_postgres.COMPENSATION_ROLE}'
        )
    con.close()
    return Served(builds.postgres, serving, sorted(nodes), restricted, bi_user, compensation_user)


def as_user(target: PostgresConnection, user: str) -> PostgresConnection:
    return PostgresConnection(host=target.host, port=target.port, user=user, dbname=target.dbname)


def read(target: PostgresConnection, sql: str):
    con = target.connect()
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()


def test_bi_role_reads_the_published_marts_and_nothing_else(served):
    bi = as_user(served.serving, served.bi_user)
    public = [m for m in served.marts if m not in served.restricted]
    for mart in public:
        read(bi, f"SELECT count(*) FROM marts.{mart}")
    assert read(bi, "SELECT build_id FROM marts.salesops_publication") == [("first",)]
    for denied in (
        "SELECT * FROM marts_restricted.mart_commissions",
        "CREATE TABLE marts.mine (x int)",
        "CREATE TABLE public.mine (x int)",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            read(bi, denied)
    assert (
        "mart_commissions"
        not in read(
            bi,
            "SELECT string_agg(table_name, ',') FROM information_schema.tables "
            "WHERE table_schema = 'marts'",
        )[0][0]
    )
    # raw, staging, intermediate and the unpublished marts live in the build database
    with pytest.raises(ConnectionError, match="permission denied for database"):
        as_user(served.build, served.bi_user).connect()


def test_compensation_role_reads_the_restricted_marts(served, builds):
    compensation = as_user(served.serving, served.compensation_user)
    rows = read(compensation, "SELECT count(*) FROM marts_restricted.mart_commissions")[0][0]
    expected = read(builds.postgres, "SELECT count(*) FROM marts.mart_commissions")[0][0]
    assert rows == expected > 0
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        read(compensation, "SELECT * FROM marts.fct_opportunities")


def test_grants_survive_a_swap_and_rollback_serves_the_previous_build(served):
    publish_postgres.publish(
        served.build, served.serving, served.marts, restricted=served.restricted, build_id="next"
    )
    bi = as_user(served.serving, served.bi_user)
    compensation = as_user(served.serving, served.compensation_user)
    assert read(bi, "SELECT build_id FROM marts.salesops_publication") == [("next",)]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        read(bi, "SELECT * FROM marts_prev.salesops_publication")  # the schema is not granted
    read(compensation, "SELECT count(*) FROM marts_restricted.mart_commissions")
    publish_postgres.rollback(served.serving)
    assert read(bi, "SELECT build_id FROM marts.salesops_publication") == [("first",)]
    read(compensation, "SELECT count(*) FROM marts_restricted.mart_commissions")


# --------------------------------------------------------------------------------------------
# Publishing: a reader during the swap
# --------------------------------------------------------------------------------------------

WATCHED = ("fct_opportunities", "fct_opportunity_states", "mart_sales_kpis", "dim_reps")


def test_a_reader_during_repeated_swaps_never_errors_and_never_sees_a_mix(served):
    """Two builds with different row counts are published in turn while a BI user reads
    several marts in one transaction, again and again: every read must match the row counts
    the build it saw published, and no read may fail."""
    admin = served.build.connect()
    with admin.cursor() as cur:  # build "half": every watched mart with half its rows
        cur.execute("DROP SCHEMA IF EXISTS marts_half CASCADE; CREATE SCHEMA marts_half")
        for mart in served.marts:
            cur.execute(
                f"CREATE TABLE marts_half.{mart} AS SELECT * FROM marts.{mart} "
                f"LIMIT (SELECT count(*) / 2 FROM marts.{mart})"
            )
    admin.commit()
    admin.close()

    stop = threading.Event()
    seen: dict[str, int] = {}
    errors: list[str] = []
    mixes: list[str] = []

    def reader() -> None:
        con = as_user(served.serving, served.bi_user).connect()
        try:
            while not stop.is_set():
                try:
                    with con.cursor() as cur:
                        cur.execute("SELECT build_id, mart_rows FROM marts.salesops_publication")
                        build_id, expected = cur.fetchone()
                        for mart in WATCHED:
                            cur.execute(f"SELECT count(*) FROM marts.{mart}")
                            if cur.fetchone()[0] != expected[mart]:
                                mixes.append(f"{build_id}: {mart}")
                    con.commit()
                    seen[build_id] = seen.get(build_id, 0) + 1
                except psycopg2.Error as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    con.rollback()
        finally:
            con.close()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        attempts = []
        for number in range(8):
            half = number % 2 == 0
            result = publish_postgres.publish(
                served.build,
                served.serving,
                served.marts,
                restricted=served.restricted,
                build_id=f"{'half' if half else 'full'}-{number}",
                source_schema="marts_half" if half else "marts",
            )
            attempts.append(result.swap_attempts)
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors[:5]
    assert not mixes, mixes[:5]
    assert any(b.startswith("half") for b in seen) and any(b.startswith("full") for b in seen)
    assert sum(seen.values()) > 20, seen


# --------------------------------------------------------------------------------------------
# The Python statistical forecast on each engine
# --------------------------------------------------------------------------------------------


def test_the_statistical_forecast_writes_the_same_rows_to_each_engine(builds, tmp_path):
    from orchestration.forecast import statistical
    from orchestration.forecast.warehouse import forecast_connection

    warehouse = tmp_path / "warehouse.duckdb"  # a copy: other tests read the shared build
    shutil.copyfile(builds.warehouse, warehouse)
    envs = {
        "duckdb": {"SALESOPS_DBT_TARGET": "duckdb", "SALESOPS_WAREHOUSE": str(warehouse)},
        "postgres": {"SALESOPS_DBT_TARGET": "postgres", **env_for(builds.postgres)},
    }
    for engine, env in envs.items():
        for _ in range(2 if engine == "postgres" else 1):  # a rerun replaces the night's rows
            with forecast_connection(env=env) as con:
                forecasts = statistical.run(con, AS_OF)
        assert len(forecasts) > 0
    pg = builds.postgres.connect()
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            problems = []
            tables = [
                name
                for (name,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'forecast'"
                ).fetchall()
            ]
            assert "statistical_forecasts" in tables
            for table in tables:
                frames = {
                    "duckdb": read_duckdb(con, "forecast", table),
                    "postgres": read_postgres(pg, "forecast", table),
                }
                assert len(frames["postgres"]) > 0
                problems += compare_frames(table, frames)
    finally:
        pg.close()
    assert not problems, "\n".join(problems)


def test_salesops_publish_shows_and_rolls_back_the_served_build(served, monkeypatch, capsys):
    from salesops.cli import main as cli_main

    for name, value in env_for(served.build).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SALESOPS_DBT_TARGET", "postgres")
    monkeypatch.setenv("SALESOPS_POSTGRES_SERVING_DBNAME", served.serving.dbname)
    publish_postgres.publish(
        served.build, served.serving, served.marts, restricted=served.restricted, build_id="cli"
    )
    assert cli_main(["publish"]) == 0
    assert "serves build cli" in capsys.readouterr().out
    assert cli_main(["publish", "--rollback"]) == 0
    assert "serves build cli" not in capsys.readouterr().out
