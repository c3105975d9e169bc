"""Every emulator fault, alone and combined, ends in the same tables as a clean run.

Business columns are compared (``_synced_at``, ``_sync_id`` and ``_row_hash`` are left out).
Faults that change what the API serves are accounted for: ``timestamp_burst`` rewrites
``SystemModstamp`` of Opportunity and Task, ``schema_drift`` adds ``Drift_Field__c``.
Retries do not sleep here (see ``make_source``), so the faults cost little time. Faults whose
point needs a bigger org (late updates, bursts larger than a page) are tested in
``test_salesforce_incremental``.
"""

from __future__ import annotations

import pytest

from tests.connectors.salesforce_support import (
    assert_all_succeeded,
    compare_snapshots,
    make_source,
    run_sync,
    snapshot,
)

# Small pages, so that locators, restarts and checkpoints inside a window happen on a tiny org.
SETTINGS = {"page_size": 200, "checkpoint_pages": 1}

FAULTS = {
    "rate_limit": "rate_limit=0.2",
    "server_error": "server_error=0.2",
    "disconnect": "disconnect=0.1",
    "truncate": "truncate=0.15",
    "slow": "slow=0.2,slow_seconds=0.02",
    "token_expiry": "token_expiry=7",
    "locator_expiry": "locator_expiry=0.5",
    # late_updates alone is a no-op on the tiny org (no rows within 5 minutes below an
    # object's newest SystemModstamp); test_salesforce_incremental covers it on the small org.
    "timestamp_burst": "timestamp_burst=1",
    "schema_drift": "schema_drift=1",
    "combined": (
        "rate_limit=0.05,server_error=0.05,disconnect=0.03,truncate=0.03,slow=0.05,"
        "slow_seconds=0.02,token_expiry=11,locator_expiry=0.3,late_updates=0.5,"
        "timestamp_burst=1,schema_drift=1"
    ),
}
BURST_COLUMNS = {"opportunity": {"system_modstamp"}, "task": {"system_modstamp"}}
DRIFT_COLUMNS = {"opportunity": {"drift_field_c"}}


@pytest.fixture(scope="module")
def clean_snapshot(tmp_path_factory):
    from emulator.server import start_emulator
    from tests.conftest import AS_OF

    warehouse = tmp_path_factory.mktemp("clean") / "warehouse.duckdb"
    with start_emulator(seed=42, scale="tiny", as_of=AS_OF) as running:
        assert_all_succeeded(run_sync(running, warehouse, **SETTINGS))
    return snapshot(warehouse)


def ignored_columns(fault: str) -> dict[str, set[str]]:
    ignore: dict[str, set[str]] = {}
    if "timestamp_burst" in FAULTS[fault]:
        ignore.update(BURST_COLUMNS)
    return ignore


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_ends_in_the_clean_tables(fault, make_emulator, tmp_path, clean_snapshot):
    running = make_emulator(faults=FAULTS[fault])
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_source(running, **SETTINGS)
    first = run_sync(running, warehouse, source=source)
    # Late commits are only visible to the next run (its lookback); so is a stream that
    # failed on a fault. The nightly job is exactly this: run after run.
    final = run_sync(running, warehouse, source=source)
    assert_all_succeeded(final)

    ignore = ignored_columns(fault)
    expected = {
        table: {key: {c: v for c, v in row.items() if c not in ignore.get(table, ())}
                for key, row in rows.items()}
        for table, rows in clean_snapshot.items()
    }  # fmt: skip
    actual = snapshot(warehouse, ignore=ignore)
    if "schema_drift" in FAULTS[fault]:
        drifted = actual["opportunity"]
        assert all("drift_field_c" in row for row in drifted.values())
        assert any(row["drift_field_c"] for row in drifted.values())
        for table, columns in DRIFT_COLUMNS.items():
            ignore[table] = ignore.get(table, set()) | columns
        actual = snapshot(warehouse, ignore=ignore)
    assert compare_snapshots(actual, expected) == []
    _assert_the_fault_fired(fault, source, first + final, warehouse)


def _assert_the_fault_fired(fault, source, runs, warehouse) -> None:
    stats = source.client.stats
    if fault in ("rate_limit", "server_error", "disconnect", "truncate", "combined"):
        assert stats.retries > 0
    if fault in ("token_expiry", "combined"):
        assert stats.auth_refreshes > 0
    if fault in ("locator_expiry", "combined"):
        assert sum(run.restarts for run in runs) > 0
    if fault == "timestamp_burst":
        stamps = [r["system_modstamp"] for r in snapshot(warehouse)["task"].values()]
        assert max(stamps.count(s) for s in set(stamps)) > 100
