"""Salesforce source against the emulator: full syncs, incremental syncs, deletes, metadata."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.salesforce import OBJECTS
from connectors.streams import StreamRun
from emulator.schema import SF_OBJECTS
from tests.conftest import AS_OF
from tests.connectors.salesforce_support import (
    assert_all_succeeded,
    compare_snapshots,
    count,
    differences,
    live,
    run_sync,
    snapshot,
    stream_state,
    table_rows,
    truth_rows,
)


def test_every_emulated_object_is_a_stream(emulator):
    assert set(OBJECTS) == set(SF_OBJECTS)


def test_full_sync_equals_the_truth(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    runs = run_sync(emulator, warehouse)
    assert_all_succeeded(runs)
    assert {run.stream for run in runs} == {
        "user_role", "user", "account", "contact", "lead", "opportunity", "opportunity_stage",
        "opportunity_history", "opportunity_field_history", "task", "event", "campaign",
        "campaign_member", "period", "forecasting_quota", "territory_2",
        "user_territory_2_association", "object_territory_2_association", "currency_type",
        "dated_conversion_rate",
    }  # fmt: skip
    view = emulator.state.view
    for obj in SF_OBJECTS:
        assert differences(warehouse, view, obj) == []
        assert len(table_rows(warehouse, _table(obj))) == len(view.salesforce[obj])


def test_column_types_follow_describe(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(emulator, warehouse, streams=["Opportunity", "Account"]))
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = 'raw_salesforce' AND table_name = 'opportunity'"
            ).fetchall()
        )
        account = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM duckdb_columns() "
                "WHERE schema_name = 'raw_salesforce' AND table_name = 'account'"
            ).fetchall()
        }
    assert types["id"] == "VARCHAR"
    assert types["amount"] == "DOUBLE"
    assert types["probability"] == "DOUBLE"
    assert types["fiscal_year"] == "INTEGER"
    assert types["is_won"] == "BOOLEAN"
    assert types["close_date"] == "DATE"
    assert types["system_modstamp"] == "TIMESTAMP WITH TIME ZONE"
    assert types["days_open_c"] == "DOUBLE"
    # Compound parents are not landed; their components are.
    assert "billing_address" not in account
    assert {"billing_street", "billing_city", "billing_country"} <= account


def test_a_second_run_changes_nothing(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(emulator, warehouse))
    before = snapshot(warehouse)
    versions = count(warehouse, 'SELECT count(*) FROM raw_salesforce."opportunity__versions"')
    runs = run_sync(emulator, warehouse)
    assert_all_succeeded(runs)
    assert {run.mode for run in runs} == {"incremental"}
    assert all(run.inserted == 0 and run.updated == 0 for run in runs)
    assert compare_snapshots(snapshot(warehouse), before) == []
    assert (
        count(warehouse, 'SELECT count(*) FROM raw_salesforce."opportunity__versions"') == versions
    )


def test_sync_log_counts_add_up(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    runs = run_sync(emulator, warehouse)
    by_stream = {run.stream: run for run in runs}
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT stream, status, records_fetched, records_landed, records_quarantined, "
            "pages, cursor FROM raw_meta.sync_log"
        ).fetchall()
    assert len(rows) == len(runs)
    for stream, status, fetched, landed, quarantined, pages, cursor in rows:
        assert status == "success"
        assert fetched == landed + quarantined == by_stream[stream].fetched
        assert pages == by_stream[stream].pages >= 1
        assert cursor == by_stream[stream].cursor
    state = stream_state(warehouse, "opportunity")
    assert state["cursor"] and state["full_pass_at"] and "full_pass_started" not in state


def test_bookmark_is_the_latest_record_seen_never_past_the_server_clock(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    runs = {run.stream: run for run in run_sync(emulator, warehouse, streams=["opportunity"])}
    newest = max(row["system_modstamp"] for row in table_rows(warehouse, "opportunity").values())
    assert runs["opportunity"].cursor == newest
    assert dt.datetime.fromisoformat(newest) <= emulator.state.now()


def test_incremental_after_a_day_equals_a_fresh_full_sync_deletes_included(make_emulator, tmp_path):
    # Seed 3 deletes an opportunity on 2026-11-18: the day after this org's as-of date.
    running = make_emulator(seed=3, as_of=dt.date(2026, 11, 17))
    incremental = tmp_path / "incremental.duckdb"
    settings = {"formula_refresh_every": dt.timedelta(hours=12)}
    assert_all_succeeded(run_sync(running, incremental, **settings))
    assert not any(r["is_deleted"] for r in table_rows(incremental, "opportunity").values())

    running.state.advance(1)
    runs = run_sync(running, incremental, **settings)
    assert_all_succeeded(runs)
    modes = {run.stream: run.mode for run in runs}
    assert modes["opportunity"] == "full"  # formula fields are due (days_open_c moved)
    assert modes["task"] == "incremental"
    fresh = tmp_path / "fresh.duckdb"
    assert_all_succeeded(run_sync(running, fresh))

    assert compare_snapshots(snapshot(incremental), snapshot(fresh)) == []
    deleted = [r for r in table_rows(incremental, "opportunity").values() if r["is_deleted"]]
    assert len(deleted) == 1 and deleted[0]["_is_deleted"] is True
    for obj in SF_OBJECTS:
        assert differences(incremental, running.state.view, obj) == []


def test_hard_deleted_associations_are_flagged_by_id_reconciliation(make_emulator, tmp_path):
    # Seed 42's tiny org removes a rep's territory association 48 days before AS_OF (18:00).
    running = make_emulator(as_of=AS_OF - dt.timedelta(days=49))
    warehouse = tmp_path / "warehouse.duckdb"
    streams = ["UserTerritory2Association", "Territory2", "ObjectTerritory2Association"]
    assert_all_succeeded(run_sync(running, warehouse, streams=streams))
    before = truth_rows(running.state.view, "UserTerritory2Association")

    running.state.advance(1)
    runs = {run.stream: run for run in run_sync(running, warehouse, streams=streams)}
    after = truth_rows(running.state.view, "UserTerritory2Association")
    gone = before.keys() - after.keys()
    assert len(gone) == 1, "the premise: one association disappears without a trace"
    assert runs["user_territory_2_association"].deleted == 1
    stored = table_rows(warehouse, "user_territory_2_association")
    assert stored[gone.pop()]["_is_deleted"] is True
    assert live(stored).keys() == after.keys()
    for obj in ("UserTerritory2Association", "Territory2", "ObjectTerritory2Association"):
        assert differences(warehouse, running.state.view, obj) == []


def test_formula_fields_are_refreshed_by_the_periodic_full_pass(make_emulator, tmp_path):
    running = make_emulator()
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(running, warehouse, streams=["Opportunity"]))

    running.state.advance(1)  # Days_Open__c of open deals grows; SystemModstamp does not move
    runs = run_sync(running, warehouse, streams=["Opportunity"])
    assert runs[0].mode == "incremental"
    stale = differences(warehouse, running.state.view, "Opportunity")
    assert stale and all("days_open_c" in problem for problem in stale)
    assert differences(warehouse, running.state.view, "Opportunity", ignore={"days_open_c"}) == []

    running.state.advance(7)  # the default 7-day refresh is due
    runs = run_sync(running, warehouse, streams=["Opportunity"])
    assert runs[0].mode == "full"
    assert differences(warehouse, running.state.view, "Opportunity") == []


def test_full_refresh_reads_everything_again(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    run_sync(emulator, warehouse, streams=["task"])
    runs = run_sync(emulator, warehouse, streams=["task"], full_refresh=True)
    assert runs[0].mode == "full"
    assert runs[0].fetched == len(emulator.state.view.salesforce["Task"])
    assert runs[0].inserted == runs[0].updated == 0


def test_unknown_stream_names_select_nothing(emulator, tmp_path):
    runs = run_sync(emulator, tmp_path / "w.duckdb", streams=["NoSuchObject"])
    assert runs == []


@pytest.mark.parametrize("stream", ["opportunity_field_history"])
def test_history_without_system_modstamp_uses_created_date(emulator, tmp_path, stream):
    warehouse = tmp_path / "warehouse.duckdb"
    runs: list[StreamRun] = run_sync(emulator, warehouse, streams=[stream])
    assert_all_succeeded(runs)
    newest = max(row["created_date"] for row in table_rows(warehouse, stream).values())
    assert stream_state(warehouse, stream)["cursor"] == newest


def _table(obj: str) -> str:
    from connectors.naming import to_snake_case

    return to_snake_case(obj)
