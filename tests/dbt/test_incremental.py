"""Incremental models (states, stage history, activities) equal a full refresh.

The raw layer is landed from the org as it was 90 days before the as-of date and built, then
re-landed 45 days later and on the as-of date like a connector's incremental syncs (unchanged
rows keep their `_synced_at`), building the incremental models incrementally each time. The last
run recomputes only opportunities and activities loaded since the previous run (the previous
sync included); a full refresh of the same data must give identical tables.
"""

from __future__ import annotations

import datetime as dt

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
