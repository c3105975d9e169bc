"""HubSpot source against the emulator: full and incremental syncs, archived records, property
history, associations, schema drift, the 10,000-result search window and rate limits."""

from __future__ import annotations

import datetime as dt
import shutil
import time

import duckdb
import pandas as pd
import pytest

from connectors.hubspot import ASSOCIATIONS
from connectors.ratelimit import RateLimits
from emulator.server import hubspot as emulated
from tests.connectors import hubspot_support
from tests.connectors.hubspot_support import (
    OBJECTS,
    a_day_of_changes,
    assert_all_succeeded,
    compare_rows,
    compare_snapshots,
    expected_hubspot,
    expected_objects,
    hubspot_settings,
    make_source,
    relax_search,
    run_sync,
    snapshot,
    table_rows,
    versions_are_distinct,
)

AS_OF = dt.date(2026, 11, 26)
TABLES = {
    *OBJECTS,
    "owners",
    "deal_pipelines",
    "deal_pipeline_stages",
    "deal_property_history",
    "email_events",
    *(f"{a}_{b}_associations" for a, b in ASSOCIATIONS),
}

shared_orgs = hubspot_support.shared_orgs  # emulators of this module share their org
pytestmark = pytest.mark.usefixtures("shared_orgs")


@pytest.fixture(scope="module")
def seed2(request):
    """An org with an archived deal and deactivated owners; search not rate limited."""
    request.getfixturevalue("shared_orgs")
    from emulator.server import start_emulator

    with start_emulator(seed=2, scale="tiny", as_of=AS_OF) as running:
        relax_search(running)
        yield running


@pytest.fixture(scope="module")
def full_sync(seed2, tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("hubspot") / "warehouse.duckdb"
    runs = run_sync(seed2, warehouse)
    return warehouse, runs


def test_full_sync_equals_what_the_emulator_serves(seed2, full_sync):
    warehouse, runs = full_sync
    assert_all_succeeded(runs)
    assert {run.stream: run.mode for run in runs if run.stream in OBJECTS} == dict.fromkeys(
        OBJECTS, "full"
    )
    expected = expected_hubspot(seed2.state, ASSOCIATIONS)
    actual = snapshot(warehouse)
    assert set(actual) == TABLES
    assert compare_snapshots(actual, expected) == []
    for table, rows in expected.items():  # counts, spelled out
        assert len(actual[table]) == len(rows), table
    # The premise of this org: archived records and deactivated owners exist and are flagged.
    deals = actual["deals"]
    assert any(row["archived"] and row["_is_deleted"] for row in deals.values())
    owners = actual["owners"]
    assert any(row["archived"] for row in owners.values())


def test_column_types_follow_the_properties_endpoint(full_sync):
    warehouse, _runs = full_sync
    with duckdb.connect(str(warehouse), read_only=True) as con:
        types = dict(
            con.execute(
                "SELECT table_name || '.' || column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = 'raw_hubspot'"
            ).fetchall()
        )
    assert types["deals.id"] == "VARCHAR"
    assert types["deals.amount"] == "DOUBLE"  # number
    assert types["deals.closedate"] == "TIMESTAMP WITH TIME ZONE"  # datetime
    assert types["deals.contract_start_date"] == "DATE"  # date
    assert types["deals.hs_is_closed_won"] == "BOOLEAN"  # bool
    assert types["deals.dealstage"] == "VARCHAR"  # enumeration
    assert types["deals.archived"] == "BOOLEAN"
    assert types["deals.archived_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["contacts.lastmodifieddate"] == "TIMESTAMP WITH TIME ZONE"
    assert types["owners.teams"] == "JSON"
    assert types["deal_pipeline_stages.display_order"] == "INTEGER"
    assert types["deal_pipeline_stages.probability"] == "DOUBLE"
    assert types["deal_property_history.timestamp"] == "TIMESTAMP WITH TIME ZONE"
    assert types["deals_companies_associations.association_type_id"] == "INTEGER"
    assert types["email_events.created"] == "TIMESTAMP WITH TIME ZONE"
    for table in TABLES:
        for column in ("_synced_at", "_sync_id", "_is_deleted", "_row_hash"):
            assert f"{table}.{column}" in types
            assert f"{table}__versions.{column}" in types


def test_a_second_run_adds_no_version_and_keeps_the_tables(seed2, full_sync, tmp_path):
    warehouse = tmp_path / "again.duckdb"
    shutil.copy(full_sync[0], warehouse)
    before = snapshot(warehouse)
    versions_before = versions_are_distinct(warehouse)
    runs = run_sync(seed2, warehouse)
    assert_all_succeeded(runs)
    assert {run.stream: run.mode for run in runs if run.stream in OBJECTS} == dict.fromkeys(
        OBJECTS, "incremental"
    )
    assert snapshot(warehouse) == before
    assert versions_are_distinct(warehouse) == versions_before
    assert all(rows == distinct for rows, distinct in versions_before.values())


def test_bookmark_is_the_latest_change_seen_never_past_the_server_clock(seed2, full_sync):
    from connectors.destinations import DuckDBDestination

    warehouse, _runs = full_sync
    now = seed2.state.now()
    for obj in OBJECTS:
        state = DuckDBDestination(warehouse).get_state("hubspot", obj)
        cursor = dt.datetime.fromisoformat(state["cursor"])
        served = emulated.served_frame(seed2.state, obj)
        latest = pd.Timestamp(served["_cursor_ms"].max(), unit="ms", tz="UTC")
        assert cursor == latest.to_pydatetime() <= now
        assert "full_pass_at" in state and "full_pass_started" not in state


# --------------------------------------------------------------------------------------------
# Incremental
# --------------------------------------------------------------------------------------------


def test_incremental_after_a_day_equals_a_fresh_full_sync(make_emulator, tmp_path):
    running = make_emulator(seed=2)
    relax_search(running)
    incremental = tmp_path / "incremental.duckdb"
    assert_all_succeeded(run_sync(running, incremental))

    running.state.advance(1)
    changed = a_day_of_changes(running.state)
    runs = run_sync(running, incremental)
    assert_all_succeeded(runs)
    assert {run.stream: run.mode for run in runs if run.stream in OBJECTS} == dict.fromkeys(
        OBJECTS, "incremental"
    )
    fetched = {run.stream: run.fetched for run in runs}
    assert fetched["deals"] < len(emulated.served_frame(running.state, "deals"))

    fresh = tmp_path / "fresh.duckdb"
    assert_all_succeeded(run_sync(running, fresh))
    assert compare_snapshots(snapshot(incremental), snapshot(fresh)) == []
    assert (
        compare_snapshots(snapshot(incremental), expected_hubspot(running.state, ASSOCIATIONS))
        == []
    )

    deals = table_rows(incremental, "deals")
    archived = changed["archived"]
    assert deals[(archived,)]["archived"] and deals[(archived,)]["_is_deleted"]
    assert deals[(changed["moved"],)]["dealstage"] == "closedlost"
    history = table_rows(incremental, "deal_property_history")
    assert any(
        k[0] == changed["moved"] and k[1] == "dealstage" and k[3] == "closedlost" for k in history
    )
    deal, contact = changed["unassociated"]
    links = table_rows(incremental, "deals_contacts_associations")
    removed = {k: r for k, r in links.items() if k[:2] == (deal, contact)}
    assert removed and all(r["_is_deleted"] for r in removed.values())
    for obj in OBJECTS:
        rows = table_rows(incremental, obj)
        assert all("(edited" in str(rows[(i,)]) for i in changed[obj]), obj
    with duckdb.connect(str(incremental), read_only=True) as con:
        versions = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE _is_deleted) FROM raw_hubspot.deals__versions "
            "WHERE id = ?",
            [archived],
        ).fetchone()
    assert versions == (2, 1)  # the live version and the archived one
    assert all(r == d for r, d in versions_are_distinct(incremental).values())


def test_a_new_property_adds_a_column_and_fills_it_for_every_record(make_emulator, tmp_path):
    """A custom property appears (``drift_field`` of the schema_drift fault, the org's own
    ``competitor``) with values on records whose modification time did not move: the new column
    makes the runner read the object in full once, so every record gets its value."""
    running = make_emulator(seed=2)
    relax_search(running)
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(running, warehouse))
    assert "drift_field" not in next(iter(table_rows(warehouse, "deals").values()))
    running.state.advance(3)
    running.state.faults.update({"schema_drift": 1})
    runs = run_sync(running, warehouse)
    assert_all_succeeded(runs)
    modes = {run.stream: run.mode for run in runs}
    assert modes["deals"] == "full" and modes["contacts"] == "incremental"
    expected = expected_objects(running.state, "deals")
    assert all("drift_field" in row and "competitor" in row for row in expected.values())
    assert sum(1 for row in expected.values() if row["drift_field"]) > len(expected) / 2
    assert compare_rows("deals", table_rows(warehouse, "deals"), expected) == []
    runs = run_sync(running, warehouse, streams=["deals"])
    assert [run.mode for run in runs] == ["incremental"]  # once is enough


# --------------------------------------------------------------------------------------------
# The 10,000-result search window
# --------------------------------------------------------------------------------------------


def test_more_than_10k_contacts_sharing_one_timestamp_are_all_read(make_emulator, tmp_path):
    """12,000 contacts share one modification time (a bulk import): search pages re-anchored
    on ``hs_object_id`` reach every one; re-anchoring on the timestamp would loop forever."""
    running = make_emulator()
    relax_search(running)
    warehouse = tmp_path / "warehouse.duckdb"
    settings = {"checkpoint_pages": 20}
    assert_all_succeeded(run_sync(running, warehouse, streams=["contacts"], **settings))
    imported = emulated.bulk_import(running.state, "contacts", 12_000)
    source = make_source(running, **settings)
    runs = run_sync(running, warehouse, streams=["contacts"], source=source)
    assert_all_succeeded(runs)
    assert runs[0].mode == "incremental" and runs[0].fetched >= 12_000
    expected = expected_objects(running.state, "contacts")
    stamp = imported["timestamp"][:19]
    assert sum(1 for r in expected.values() if r["lastmodifieddate"].startswith(stamp)) >= 12_000
    assert compare_rows("contacts", table_rows(warehouse, "contacts"), expected) == []
    assert source.client.stats.retries == 0  # never asked past the window (a 400)


def test_offset_paging_re_anchors_before_the_result_window(make_emulator, tmp_path):
    """The documented recipe (``search_keyset=False``): offsets up to the result window, then
    re-anchor on the last id. A window of 1,000 (an emulator setting) keeps the test small."""
    running = make_emulator()
    hubspot_settings(running, search_requests_per_second=0, search_result_window=1000)
    warehouse = tmp_path / "warehouse.duckdb"
    settings = {"search_keyset": False, "search_result_window": 1000, "checkpoint_pages": 20}
    assert_all_succeeded(run_sync(running, warehouse, streams=["contacts"], **settings))
    emulated.bulk_import(running.state, "contacts", 2_500)
    source = make_source(running, **settings)
    assert_all_succeeded(run_sync(running, warehouse, streams=["contacts"], source=source))
    expected = expected_objects(running.state, "contacts")
    assert compare_rows("contacts", table_rows(warehouse, "contacts"), expected) == []
    assert source.client.stats.retries == 0


# --------------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------------


def test_search_rate_limits_paced_by_the_buckets_or_waited_out_after_a_429(make_emulator, tmp_path):
    """With the emulator's search limit on (5 requests/s), the shared buckets (4 searches/s)
    never draw a 429. Without a client-side bucket, against a limit of 1/s, the ``SECONDLY``
    429 is waited out (about a second) and retried."""
    running = make_emulator(seed=2)
    warehouse = tmp_path / "warehouse.duckdb"
    streams = ["companies", "contacts", "deals"]
    assert_all_succeeded(run_sync(running, warehouse, streams=streams))

    running.state.advance(1)
    a_day_of_changes(running.state)
    source = make_source(running, rate_limits=RateLimits())
    assert source.search_limiter is not None and source.search_limiter.rate == 4.0
    started = time.monotonic()
    runs = run_sync(running, warehouse, streams=streams, source=source)
    assert_all_succeeded(runs)
    assert {run.mode for run in runs} == {"incremental"}
    assert source.client.stats.retries == 0
    assert time.monotonic() - started >= 2 * 0.25  # three searches, 4 per second at most

    running.state.advance(1)
    hubspot_settings(running, search_requests_per_second=1)
    source = make_source(running)  # no client-side bucket: the server's 429 paces us
    source.client._sleep = time.sleep  # the 429 must really be waited out
    assert_all_succeeded(run_sync(running, warehouse, streams=streams, source=source))
    assert source.client.stats.retries >= 1
    assert source.client.stats.retry_wait_seconds >= 1.0  # SECONDLY: about a second


# --------------------------------------------------------------------------------------------
# Typing
# --------------------------------------------------------------------------------------------


def test_empty_strings_epoch_ms_and_values_that_do_not_cast(make_emulator, tmp_path, monkeypatch):
    """The portal sends ``""`` for unset numbers, bools and dates, datetimes as epoch
    milliseconds, and one amount that is not a number: the empty strings land as nulls, the
    epoch values as the same instants, and the deal with the bad amount is quarantined with a
    reason naming the field and the value, while the others land."""
    real = emulated.render_values
    running = make_emulator(seed=2)
    deals = emulated.served_frame(running.state, "deals")
    bad = int(deals[~deals.archived]["_hs"].iloc[0])

    def render(frame, prop):
        values = real(frame, prop)
        if prop.type in ("number", "bool", "date"):
            values = ["" if v is None else v for v in values]
        if prop.type == "datetime":
            values = [None if v is None else str(pd.Timestamp(v).value // 10**6) for v in values]
        if prop.name == "amount" and "_hs" in frame:
            values = [
                "12,5 EUR" if key == bad else v for key, v in zip(frame["_hs"], values, strict=True)
            ]
        return values

    monkeypatch.setattr(emulated, "render_values", render)
    warehouse = tmp_path / "warehouse.duckdb"
    runs = run_sync(running, warehouse, streams=["deals"])
    assert_all_succeeded(runs)
    assert runs[0].quarantined == 1 and runs[0].landed == runs[0].fetched - 1
    expected = expected_objects(running.state, "deals")
    del expected[(str(bad),)]
    assert compare_rows("deals", table_rows(warehouse, "deals"), expected) == []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        quarantined = con.execute(
            "SELECT source, stream, primary_key, reason FROM raw_meta.quarantine"
        ).fetchall()
    reason = "field amount: value '12,5 EUR' is not a valid DOUBLE"
    assert quarantined == [("hubspot", "deals", str(bad), reason)]
