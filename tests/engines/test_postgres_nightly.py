"""The real ``nightly_refresh`` job, gated end to end, on PostgreSQL.

``SALESOPS_DESTINATION=postgres`` + ``SALESOPS_DBT_TARGET=postgres``: the connectors land the
tiny emulator org in a build database of this test's own, the raw gate (GX suites on pandas
chunks, SQL table checks), dbt source freshness and the mart gate read it through
:func:`orchestration.quality.warehouse.warehouse_connection`, quarantine lands in PostgreSQL's
``raw_meta.quarantined_keys`` (staging anti-joins it), publish swaps schemas in the serving
database and the brief reads the served marts. A dirty org fails the raw gate and leaves the
served schema as it was. The status database stays a local DuckDB file.

The job runs in process the way :mod:`tests.quality.test_pipeline` runs it (:func:`run_job`).
"""

from __future__ import annotations

import time

import psycopg2
import pytest

from orchestration.quality import publish_postgres, status
from tests.engines.postgres_support import env_for, fresh_database, query
from tests.quality.support import AS_OF, DIRTY_RATE, SEED, models_built_from_raw
from tests.quality.test_pipeline import Site, run_job


def test_the_gate_connection_speaks_duckdb_sql_on_postgres(postgres_db):
    """The DuckDB API subset and dialect the gates use, on PostgreSQL (fast; no job)."""
    import datetime as dt

    import pandas as pd

    from orchestration.quality.warehouse import DatabaseError, postgres_connection, to_postgres

    with postgres_connection(postgres_db, application_name="test") as con:
        con.execute("CREATE SCHEMA s")
        con.execute("CREATE TABLE s.t (id VARCHAR, k2 BIGINT, amount DOUBLE, note VARCHAR)")
        con.execute(
            "INSERT INTO s.t VALUES (?, ?, ?, ?), (?, ?, ?, ?)",
            ["a", 1, 1.5, "100% sure", "b", 2, None, "gate: x"],
        )
        # a literal % beside parameters; struct_pack keys; an unaliased derived table
        assert con.execute(
            "SELECT count(*) FROM s.t WHERE note LIKE '%sure' AND id = ?", ["a"]
        ).fetchall() == [(1,)]
        keys = con.execute(
            "SELECT CAST(to_json(struct_pack(id := t.id, k2 := t.k2)) AS VARCHAR) FROM s.t t "
            "ORDER BY 1"
        ).fetchall()
        assert [k[0].replace(" ", "") for k in keys] == ['{"id":"a","k2":1}', '{"id":"b","k2":2}']
        assert con.execute(
            "SELECT n FROM (SELECT count(*) AS n FROM s.t) WHERE n > 1"
        ).fetchall() == [(2,)]
        assert con.execute("SELECT any_value(id) FROM s.t WHERE id = 'b'").fetchall() == [("b",)]
        # a registered frame joins like a table, typed from its values
        frame = pd.DataFrame(
            {"id": ["a"], "rows": [3], "at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]}
        )
        con.register("_f", frame.astype(object))
        assert con.execute(
            "SELECT f.rows + 1, t.amount FROM _f f JOIN s.t t ON t.id = f.id"
        ).fetchall() == [(4, 1.5)]
        con.unregister("_f")
        # a transaction as statements; a failed statement is a DatabaseError and rolls back
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM s.t WHERE id = ?", ["a"])
        with pytest.raises(DatabaseError):
            con.execute("SELECT no_such_column FROM s.t")
        con.execute("ROLLBACK")
        assert con.execute("SELECT count(*) FROM s.t").fetchall() == [(2,)]
        # chunks as Arrow batches from a server-side cursor
        reader = con.cursor().sql(
            "SELECT id, amount FROM s.t WHERE k2 >= ? ORDER BY id", params=[0]
        )
        batches = list(reader.to_arrow_reader(1))
        assert [b.num_rows for b in batches] == [1, 1]
        assert batches[0].to_pandas().to_dict("records") == [{"id": "a", "amount": 1.5}]
    assert "%s" in to_postgres("SELECT ?", with_params=True)


def _postgres_night(monkeypatch, tmp_path, database, *, dirty_rate=None):
    from emulator.server import start_emulator

    for name, value in {
        **env_for(database),
        "SALESOPS_DESTINATION": "postgres",
        "SALESOPS_DBT_TARGET": "postgres",
        "SALESOPS_TIMEZONE": "UTC",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SALESOPS_POSTGRES_SERVING_DBNAME", raising=False)
    site = Site(tmp_path / "data")
    site.data.mkdir()
    started = time.perf_counter()
    with start_emulator(seed=SEED, scale="tiny", as_of=AS_OF, dirty_rate=dirty_rate) as running:
        night = run_job(site, running, "nightly_refresh", AS_OF)
    print(f"\nnightly_refresh on PostgreSQL (tiny): {time.perf_counter() - started:.1f} s")
    return site, night


@pytest.mark.slow
def test_a_clean_night_on_postgres_passes_every_gate_and_publishes(
    postgres_admin, monkeypatch, tmp_path
):
    build = fresh_database(postgres_admin, "nightly")
    serving = publish_postgres.serving_connection(build)
    site, night = _postgres_night(monkeypatch, tmp_path, build)
    assert night.success, night.explain()
    assert not night.failed_checks, night.explain()
    assert "publish" in night.materialized
    # the gates ran against PostgreSQL: no DuckDB warehouse file was created
    assert not site.warehouse.exists()
    quarantined = query(
        build, "SELECT source, stream, primary_key, reason FROM raw_meta.quarantined_keys"
    )
    assert quarantined, "the default dirty rate still has invalid rows"
    assert query(build, "SELECT count(*) FROM raw_meta.gate_validated_syncs")[0][0] > 0
    opportunities = [key for source, stream, key, _ in quarantined if stream == "opportunity"]
    assert opportunities
    for key in opportunities:  # still in raw, not in the served marts
        assert query(build, "SELECT count(*) FROM raw_salesforce.opportunity WHERE id = %s", [key])
        assert query(
            serving, "SELECT count(*) FROM marts.fct_opportunities WHERE opportunity_id = %s", [key]
        ) == [(0,)]
    # published by schema swap: the stamp names this run; the BI role reads the marts
    assert query(serving, "SELECT build_id FROM marts.salesops_publication") == [(night.run_id,)]
    bi_user = f"bi_{serving.dbname.rsplit('_', 2)[-2]}"
    admin = postgres_admin.connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE ROLE "{bi_user}" LOGIN IN ROLE {publish_postgres.BI_ROLE}')
    admin.close()
    bi = type(serving)(host=serving.host, port=serving.port, user=bi_user, dbname=serving.dbname)
    bookings = query(bi, "SELECT sum(bookings_amount) FROM marts.mart_sales_kpis")[0][0]
    assert bookings is not None and bookings > 0
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(bi, "SELECT count(*) FROM marts_restricted.mart_commissions")
    # status stays a local DuckDB file; every gate is in it
    assert status.read(site.status, "SELECT status, published, serving_version FROM runs") == [
        ("passed", True, night.run_id)
    ]
    gates = dict(status.read(site.status, "SELECT gate, count(*) FROM gate_results GROUP BY 1"))
    assert {"raw", "model", "mart", "publish"} <= set(gates)
    failed = status.read(site.status, "SELECT asset_key FROM gate_results WHERE status = 'failed'")
    assert failed == []
    # the brief reads the served marts
    brief_file = site.data / "brief.html"
    assert brief_file.exists(), night.finalizer
    brief = brief_file.read_text()
    assert f"serving database {serving.dbname}" in brief


@pytest.mark.slow
def test_a_dirty_night_on_postgres_fails_the_raw_gate_and_leaves_serving_unchanged(
    postgres_admin, monkeypatch, tmp_path
):
    build = fresh_database(postgres_admin, "dirty")
    serving = publish_postgres.serving_connection(build)
    admin = postgres_admin.connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{serving.dbname}"')
    admin.close()
    con = serving.connect()
    with con, con.cursor() as cur:  # yesterday's served build, whatever it holds
        cur.execute("CREATE SCHEMA marts")
        cur.execute("CREATE TABLE marts.fct_opportunities AS SELECT 'yesterday' AS note")
    con.close()
    site, night = _postgres_night(monkeypatch, tmp_path, build, dirty_rate=DIRTY_RATE)
    assert not night.success
    assert set(night.steps_failed) == {"raw_gate_salesforce", "raw_gate_hubspot"}, night.explain()
    assert "publish" not in night.materialized
    assert not models_built_from_raw(night.materialized), night.materialized
    message = night.failed_checks[("raw/salesforce/opportunity", "raw_gate")]
    assert "raw_salesforce.opportunity" in message
    assert "invalid_probability [expect_column_values_to_be_between(probability" in message
    assert query(serving, "SELECT note FROM marts.fct_opportunities") == [("yesterday",)]
    assert query(
        serving,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema LIKE 'marts%' ORDER BY 1, 2",
    ) == [("marts", "fct_opportunities")]
    # the quarantine is in PostgreSQL, by reason, and the failure in the status database
    reasons = dict(
        query(
            build,
            "SELECT reason, count(*) FROM raw_meta.quarantined_keys "
            "WHERE stream = 'opportunity' GROUP BY 1",
        )
    )
    assert reasons == {
        "invalid_currency": 1,
        "invalid_negative_amount": 1,
        "invalid_probability": 3,
    }
    assert status.read(site.status, "SELECT status, published FROM runs") == [("failed", False)]
    assert status.read(site.status, "SELECT status FROM gate_results WHERE gate = 'publish'") == [
        ("skipped",)
    ]
