"""Every emulator fault, alone and combined, ends in the same HubSpot tables as a clean run.

Transport faults (rate limits, server errors, dropped connections, truncated bodies, slow
answers) hit every request alike, so a full sync (lists, history, associations, owners,
pipelines, events) under each of them must equal a clean full sync. The faults that change what
search shows (lag, bursts, drift), and all faults combined, run the nightly scenario: a full
sync, a day of changes, then the incremental sync twice, as the next night would (the second
run picks up what search had not indexed yet, through the lookback). Business columns are compared (``_synced_at``, ``_sync_id`` and
``_row_hash`` are left out). Faults that change what the API serves are accounted for:
``timestamp_burst`` rewrites the modification times of companies, contacts and deals, and
``schema_drift`` adds the deal property ``drift_field``. Retries do not sleep here, so the
faults cost little time.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.connectors import hubspot_support
from tests.connectors.hubspot_support import (
    a_day_of_changes,
    assert_all_succeeded,
    compare_snapshots,
    make_source,
    relax_search,
    run_sync,
    snapshot,
    table_rows,
    tables,
)

# Small pages so that paging, checkpoints and retries inside a stream happen on a tiny org.
SETTINGS = {
    "list_page_size": 15,
    "history_page_size": 8,
    "search_page_size": 10,
    "email_events_page_size": 100,
    "owners_page_size": 4,
    "association_batch_size": 12,
}
FAULTS = {
    "rate_limit": "rate_limit=0.2",
    "server_error": "server_error=0.2",
    "disconnect": "disconnect=0.1",
    "truncate": "truncate=0.15",
    "slow": "slow=0.2,slow_seconds=0.02",
    "late_updates": "late_updates=0.5",
    "timestamp_burst": "timestamp_burst=1",
    "schema_drift": "schema_drift=1",
    "combined": (
        "rate_limit=0.05,server_error=0.05,disconnect=0.03,truncate=0.03,slow=0.05,"
        "slow_seconds=0.02,late_updates=0.5,timestamp_burst=1,schema_drift=1"
    ),
}
BURST = {
    "companies": {"hs_lastmodifieddate", "updated_at"},
    "contacts": {"lastmodifieddate", "updated_at"},
    "deals": {"hs_lastmodifieddate", "updated_at"},
}

shared_orgs = hubspot_support.shared_orgs  # emulators of this module share their org
pytestmark = pytest.mark.usefixtures("shared_orgs")


TRANSPORT = {"rate_limit", "server_error", "disconnect", "truncate", "slow"}


OBJECTS = ["companies", "contacts", "deals", "calls", "emails", "meetings"]


def nightly(running, warehouse, source, *, streams=None, then=None) -> None:
    assert_all_succeeded(run_sync(running, warehouse, source=source, streams=streams))
    if then is not None:
        then()
    running.state.advance(1)
    a_day_of_changes(running.state)
    run_sync(running, warehouse, source=source, streams=streams)
    assert_all_succeeded(run_sync(running, warehouse, source=source, streams=streams))


@pytest.fixture(scope="module")
def clean(tmp_path_factory, request):
    """Snapshots of a clean run: after the full sync, and after the nightly scenario."""
    request.getfixturevalue("shared_orgs")
    from emulator.server import start_emulator
    from tests.conftest import AS_OF

    warehouse = tmp_path_factory.mktemp("clean") / "warehouse.duckdb"
    found = {}
    with start_emulator(seed=2, scale="tiny", as_of=AS_OF) as running:
        relax_search(running)
        source = make_source(running, **SETTINGS)
        nightly(running, warehouse, source, then=lambda: found.update(full=snapshot(warehouse)))
    found["nightly"] = snapshot(warehouse)
    return found


@pytest.fixture(scope="module")
def clean_snapshot(clean):
    return clean["nightly"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_ends_in_the_clean_tables(fault, make_emulator, tmp_path, clean):
    running = make_emulator(seed=2, faults=FAULTS[fault])
    relax_search(running)
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_source(running, **SETTINGS)
    if fault in TRANSPORT:
        assert_all_succeeded(run_sync(running, warehouse, source=source))
        clean_snapshot = clean["full"]
    else:  # data faults concern the objects (and their related tables) only
        streams = None if fault == "combined" else OBJECTS
        nightly(running, warehouse, source, streams=streams)
        clean_snapshot = {t: clean["nightly"][t] for t in tables(warehouse)}

    ignore = dict(BURST) if "timestamp_burst" in FAULTS[fault] else {}
    if "schema_drift" in FAULTS[fault]:
        deals = table_rows(warehouse, "deals")
        assert any(row.get("drift_field") for row in deals.values())
        ignore["deals"] = ignore.get("deals", set()) | {"drift_field"}
    expected = {
        table: {key: {c: v for c, v in row.items() if c not in ignore.get(table, ())}
                for key, row in rows.items()}
        for table, rows in clean_snapshot.items()
    }  # fmt: skip
    assert compare_snapshots(snapshot(warehouse, ignore=ignore), expected) == []
    stats = source.client.stats
    if fault in ("rate_limit", "server_error", "disconnect", "truncate", "combined"):
        assert stats.retries > 0


def test_search_lag_is_recovered_by_the_lookback_only(make_emulator, tmp_path, clean_snapshot):
    """Search hides half of the day's changes from its first request. The bookmark moves to the
    latest change seen, past earlier changes still hidden: with the default lookback (a day)
    the next run reads them; without one they are lost until a full pass."""
    outcomes = {}
    for lookback_hours in (24, 0):
        running = make_emulator(seed=2, faults="late_updates=0.5")
        relax_search(running)
        warehouse = tmp_path / f"lookback_{lookback_hours}.duckdb"
        settings = {**SETTINGS, "lookback": dt.timedelta(hours=lookback_hours)}
        source = make_source(running, **settings)
        assert_all_succeeded(run_sync(running, warehouse, source=source, streams=OBJECTS))
        running.state.advance(1)
        a_day_of_changes(running.state)
        assert_all_succeeded(run_sync(running, warehouse, source=source, streams=OBJECTS))
        expected = {t: clean_snapshot[t] for t in tables(warehouse)}
        after_first = compare_snapshots(snapshot(warehouse), expected)
        assert after_first, "the premise: the first incremental run misses lagging changes"
        assert_all_succeeded(run_sync(running, warehouse, source=source, streams=OBJECTS))
        outcomes[lookback_hours] = compare_snapshots(snapshot(warehouse), expected)
    assert outcomes[24] == []
    assert outcomes[0], "without a lookback the lagging changes stay missing"
