"""Incremental models (states, stage history, activities) equal a full refresh.

The raw layer is landed from the org as it was 90 days before the as-of date and built, then
re-landed 45 days later and on the as-of date like a connector's incremental syncs (unchanged
rows keep their `_synced_at`), building the incremental models incrementally each time. The last
run recomputes only opportunities and activities loaded since the previous run (the previous
sync included); a full refresh of the same data must give identical tables.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from emulator.org import Org
from emulator.truth import write_truth
from tests.dbt.conftest import AS_OF, SEED, connect, run_dbt, shared
from tests.dbt.raw_fixture import land_truth

INCREMENTAL_MODELS = ["fct_opportunity_states", "fct_opportunity_stage_history", "fct_activities"]
DAYS = [AS_OF - dt.timedelta(days=90), AS_OF - dt.timedelta(days=45), AS_OF]
BUILD = [
    "build",
    "--select",
    *[f"+{model}" for model in INCREMENTAL_MODELS],
    "--exclude-resource-type",
    "test",
    "--exclude-resource-type",
    "unit_test",
]


def _build(tmp):
    org = Org.generate(SEED, "tiny", AS_OF)
    warehouse = tmp / "warehouse.duckdb"
    for day in DAYS:
        truth = tmp / f"truth_{day.isoformat()}"
        write_truth(org, org.view(day), truth)
        land_truth(truth, warehouse)
        # the incremental models do not depend on the as-of date: one value keeps partial parsing
        run = run_dbt(BUILD, warehouse=warehouse, work_dir=tmp)
        assert run.success, run.describe()

    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists incremental_result")
        for model in INCREMENTAL_MODELS:
            con.execute(
                f"create or replace table incremental_result.{model} as select * from marts.{model}"
            )
    finally:
        con.close()
    full = run_dbt([*BUILD, "--full-refresh"], warehouse=warehouse, work_dir=tmp)
    assert full.success, full.describe()
    return warehouse


@pytest.fixture(scope="module")
def incremental_warehouse(tmp_path_factory):
    return shared(tmp_path_factory, "dbt_incremental", _build)


@pytest.mark.parametrize("model", INCREMENTAL_MODELS)
def test_incremental_build_equals_full_refresh(incremental_warehouse, model):
    con = connect(incremental_warehouse)
    try:
        incremental = f"incremental_result.{model}"
        full = f"marts.{model}"
        counts = con.execute(
            f"select (select count(*) from {incremental}), (select count(*) from {full})"
        ).fetchone()
        only_incremental = con.execute(
            f"select * from {incremental} except all select * from {full}"
        ).fetchall()
        only_full = con.execute(
            f"select * from {full} except all select * from {incremental}"
        ).fetchall()
    finally:
        con.close()
    assert counts[0] == counts[1] > 0
    assert only_incremental == [] and only_full == [], (only_incremental[:5], only_full[:5])


def test_syncs_changed_only_some_rows(incremental_warehouse):
    """The re-landings behaved like incremental syncs: rows of all three syncs are current."""
    con = connect(incremental_warehouse)
    try:
        syncs = con.execute(
            "select count(distinct _sync_id) from raw_salesforce.opportunity"
        ).fetchone()
        loaded = con.execute(
            "select count(distinct loaded_at) from incremental_result.fct_opportunity_states"
        ).fetchone()
    finally:
        con.close()
    assert syncs[0] == 3
    assert loaded[0] == 3


def test_models_never_look_up_a_raw_schema_dbt_has_not_listed_yet(incremental_warehouse):
    """dbt lists an uncached schema into its cache one relation at a time while the schema already
    counts as cached, so a raw-table lookup racing that listing in another thread was told the
    table did not exist and staged it as empty (HubSpot emails vanished from fct_activities in
    about one build in six). The on-run-start hook cache_source_schemas lists those schemas in
    the main thread first: no worker thread may miss the cache for them."""
    log = incremental_warehouse.parent / "logs" / "dbt.log"
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    misses = [event for event in events if event["info"]["name"] == "CacheMiss"]
    assert misses, "the log records dbt's cache misses (the main thread lists the raw schemas)"
    in_workers = {
        (event["info"]["thread"], event["data"]["schema"])
        for event in misses
        if event["info"]["thread"] != "MainThread"
    }
    assert not in_workers, sorted(in_workers)
