"""Incremental edge cases: late commits, same-timestamp bursts, schema drift, INVALID_FIELD."""

from __future__ import annotations

import datetime as dt
import logging

import duckdb
import numpy as np
import pandas as pd
import pytest

from connectors.destinations import DuckDBDestination
from connectors.streams import sync_source
from emulator.server.salesforce import LATE_WINDOW_MS, burst_instant
from tests.connectors.salesforce_support import (
    assert_all_succeeded,
    compare_snapshots,
    differences,
    make_source,
    run_sync,
    snapshot,
    stream_state,
    table_rows,
)


def columns_of(warehouse, table: str) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM duckdb_columns() "
                "WHERE schema_name = 'raw_salesforce' AND table_name = ?",
                [table],
            ).fetchall()
        }


def late_commit_band(view) -> str:
    """An object with rows in the band where the emulator simulates late commits (the 5 minutes
    below its newest SystemModstamp, emulator/server/salesforce.py): which object has any
    depends on the org's data, so the test picks one rather than trusting a fixed one."""
    band = pd.Timedelta(milliseconds=LATE_WINDOW_MS)
    for obj in ("Opportunity", "Task", "Event", "Contact", "Account", "Lead"):
        stamps = view.salesforce[obj]["SystemModstamp"]
        edge = stamps.max()
        if ((stamps >= edge - band) & (stamps < edge)).any():
            return obj
    raise AssertionError("premise: some object has rows within 5 minutes of its newest change")


@pytest.mark.slow
def test_late_updates_need_the_lookback(make_emulator, tmp_path):
    """A row that commits late with an older SystemModstamp than rows already read: the next
    run's lookback (10 minutes) recovers it; without a lookback it is missed for good.

    The small org is needed: the emulator withholds rows in the 5 minutes below an object's
    newest SystemModstamp, and the tiny org has none there. No Bulk row count: the emulator
    also withholds from ``SELECT COUNT()``, after which the row has "committed"."""
    remaining = {}
    for minutes in (10, 0):
        running = make_emulator(scale="small", faults="late_updates=1")
        view = running.state.view
        obj = late_commit_band(view)
        warehouse = tmp_path / f"lookback_{minutes}.duckdb"
        settings = {"lookback": dt.timedelta(minutes=minutes), "bulk_threshold": None}
        assert_all_succeeded(run_sync(running, warehouse, streams=[obj], **settings))
        assert differences(warehouse, view, obj), "premise: a row committed late"
        assert_all_succeeded(run_sync(running, warehouse, streams=[obj], **settings))
        remaining[minutes] = differences(warehouse, view, obj)
    assert remaining[10] == []
    assert remaining[0], "with lookback 0 the late row stays missing"


class Crash(BaseException):
    """Stands in for the process dying right after a checkpoint."""


@pytest.mark.slow
def test_a_same_timestamp_burst_larger_than_a_page_survives_a_crash_at_the_page_break(
    make_emulator, tmp_path
):
    """2,500 opportunities share one SystemModstamp, more than a 2,000-row page. The process
    dies after the checkpoint of the first page of the burst; the rerun reads from that
    timestamp again (``>=``), so the rest of the burst is not skipped."""
    running = make_emulator(scale="small", faults="timestamp_burst=1")
    burst = burst_instant(running.state).astype("datetime64[ms]").astype(dt.datetime)
    burst = burst.replace(tzinfo=dt.UTC)
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_source(running, checkpoint_pages=1)
    read = source.read

    def read_then_die_inside_the_burst(spec, window):
        for page in read(spec, window):
            yield page  # the runner lands the page and its checkpoint before asking for more
            if page.max_cursor == burst:
                raise Crash

    source.read = read_then_die_inside_the_burst
    with pytest.raises(Crash):
        run_sync(running, warehouse, streams=["Opportunity"], source=source)
    assert stream_state(warehouse, "opportunity")["cursor"] == burst.isoformat()
    landed = table_rows(warehouse, "opportunity")
    total = len(running.state.view.salesforce["Opportunity"])
    assert len(landed) < total

    assert_all_succeeded(run_sync(running, warehouse, streams=["Opportunity"]))
    landed = table_rows(warehouse, "opportunity")
    stamps = [row["system_modstamp"] for row in landed.values()]
    assert stamps.count(burst.isoformat()) > 2000, "premise: the burst is larger than a page"
    # The burst rewrites SystemModstamp only; everything else matches the truth.
    view = running.state.view
    assert differences(warehouse, view, "Opportunity", ignore={"system_modstamp"}) == []


def test_a_new_field_in_the_org_becomes_a_column(make_emulator, tmp_path):
    running = make_emulator()
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(running, warehouse, streams=["Opportunity"]))
    assert "competitor_c" not in columns_of(warehouse, "opportunity")

    running.state.advance(2)  # the admin adds Opportunity.Competitor__c
    runs = run_sync(running, warehouse, streams=["Opportunity"])
    assert_all_succeeded(runs)
    assert "competitor_c" in columns_of(warehouse, "opportunity")
    assert runs[0].mode == "full"  # a new column: existing rows are read again for it
    assert differences(warehouse, running.state.view, "Opportunity") == []


def test_a_field_added_with_values_on_existing_records_is_backfilled(make_emulator, tmp_path):
    """The ``schema_drift`` fault adds Drift_Field__c with values on every record, without
    moving SystemModstamp: only a full pass can bring them, and the new column triggers one."""
    running = make_emulator()
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(running, warehouse, streams=["Opportunity"]))
    running.state.faults.update({"schema_drift": 1})
    runs = run_sync(running, warehouse, streams=["Opportunity"])
    assert runs[0].mode == "full"
    fresh = tmp_path / "fresh.duckdb"
    assert_all_succeeded(run_sync(running, fresh, streams=["Opportunity"]))
    assert "drift_field_c" in columns_of(warehouse, "opportunity")
    assert compare_snapshots(snapshot(warehouse), snapshot(fresh)) == []


def test_invalid_field_describes_again_and_retries_once(make_emulator, tmp_path, caplog):
    """A field removed between describe and query (INVALID_FIELD): describe, rebuild, retry."""
    running = make_emulator(faults="schema_drift=1")
    source = make_source(running)
    specs = source.streams(["Opportunity"])  # describe sees Drift_Field__c
    assert "drift_field_c" in specs[0].columns
    running.state.faults.update({"schema_drift": 0})  # ... and then it is gone
    warehouse = tmp_path / "warehouse.duckdb"
    with (
        caplog.at_level(logging.WARNING, logger="connectors.salesforce"),
        DuckDBDestination(warehouse).open_sync("salesforce") as sync,
    ):
        runs = sync_source(source, sync, specs)
    assert_all_succeeded(runs)
    assert any("INVALID_FIELD" in r.getMessage() for r in caplog.records)
    assert differences(warehouse, running.state.view, "Opportunity") == []


def test_a_field_that_keeps_failing_fails_the_stream(make_emulator, tmp_path):
    running = make_emulator()
    source = make_source(running)
    specs = source.streams(["Opportunity"])

    def describe_with_a_ghost_field(obj, *, refresh=False):
        schema = type(source).describe(source, obj, refresh=refresh)
        from dataclasses import replace

        from connectors.salesforce import SfField

        return replace(schema, fields=(*schema.fields, SfField("Ghost__c", "ghost_c", "string")))

    source.describe = describe_with_a_ghost_field
    with DuckDBDestination(tmp_path / "w.duckdb").open_sync("salesforce") as sync:
        runs = sync_source(source, sync, specs)
    assert runs[0].status == "failed"
    assert "INVALID_FIELD" in runs[0].error


def test_an_expired_locator_restarts_the_window_from_its_checkpoint(make_emulator, tmp_path):
    running = make_emulator(faults="locator_expiry=0.5")
    warehouse = tmp_path / "warehouse.duckdb"
    runs = run_sync(
        running, warehouse, streams=["OpportunityFieldHistory"], page_size=200, checkpoint_pages=1
    )
    assert_all_succeeded(runs)
    assert runs[0].restarts > 0
    assert differences(warehouse, running.state.view, "OpportunityFieldHistory") == []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        versions = con.execute(
            'SELECT count(*), count(DISTINCT id) FROM raw_salesforce."opportunity_field_history__versions"'
        ).fetchone()
    assert versions[0] == versions[1], "a re-read page added no duplicate versions"


def test_no_window_reaches_past_the_server_clock(make_emulator, tmp_path):
    """Windows end at the API server's clock (its Date header), not the local clock: the
    emulator's clock is in 2026 whatever the machine says."""
    running = make_emulator()
    source = make_source(running)
    seen = []
    read = source.read

    def spy(spec, window):
        seen.append(window)
        yield from read(spec, window)

    source.read = spy
    assert_all_succeeded(run_sync(running, tmp_path / "w.duckdb", source=source))
    server_now = running.state.now()
    assert seen and all(w.end is not None and w.end <= server_now for w in seen)
    assert all(abs((w.end - server_now).total_seconds()) < 60 for w in seen)
    assert np.datetime64(seen[0].end.replace(tzinfo=None)) < np.datetime64("2027-01-01")
