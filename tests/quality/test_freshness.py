"""dbt source freshness declarations, evaluated as of the run's as-of day."""

from __future__ import annotations

import datetime as dt
import json

from orchestration.quality import freshness
from orchestration.quality.outcome import FAILED, PASSED, WARNED
from tests.quality.support import AS_OF, ROOT, connect


def manifest_source(
    name: str, table: str, *, warn: int | None = 36, error: int | None = 72
) -> dict:
    rules = {}
    if warn:
        rules["warn_after"] = {"count": warn, "period": "hour"}
    if error:
        rules["error_after"] = {"count": error, "period": "hour"}
    return {
        "source_name": name,
        "schema": f"raw_{name}",
        "identifier": table,
        "name": table,
        "loaded_at_field": "_synced_at",
        "freshness": {**rules, "filter": None},
        "config": {"meta": {"dagster": {"asset_key": ["raw", name, table]}}},
    }


def test_the_projects_freshness_declarations_map_to_the_raw_assets():
    manifest = json.loads((ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    assets = freshness.freshness_assets(manifest)
    assert "raw/salesforce/opportunity" in assets
    assert {s.name for s in assets["raw/salesforce/user"]} == {
        "salesforce.user",
        "salesforce.user__versions",
    }
    assert "raw/salesforce/user_role" not in assets  # reference data: freshness null


def test_fresh_stale_and_missing_tables(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = connect(warehouse)
    con.execute("CREATE SCHEMA raw_salesforce; CREATE SCHEMA raw_hubspot")
    landed = {
        "fresh": "2026-11-27 02:00:00+00",
        "warn": "2026-11-25 08:00:00+00",
        "error": "2026-11-23 02:00:00+00",
    }
    for table, at in landed.items():
        con.execute(
            f"CREATE TABLE raw_salesforce.{table} AS SELECT TIMESTAMPTZ '{at}' AS _synced_at"
        )
    manifest = {
        "sources": {
            f"source.salesops.salesforce.{t}": manifest_source("salesforce", t)
            for t in [*landed, "missing"]
        }
        | {"source.salesops.hubspot.deals": manifest_source("hubspot", "deals")}
    }
    assets = freshness.freshness_assets(manifest)
    reference = freshness.reference_time(AS_OF, "UTC")
    assert reference == dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    outcomes = {
        o.asset_key: o for o in freshness.check_freshness(con, assets, reference, {"salesforce"})
    }
    con.close()
    assert outcomes["raw/salesforce/fresh"].status == PASSED
    assert outcomes["raw/salesforce/warn"].status == WARNED
    assert (
        "40.0 h before the end of the as-of day (warn after 36 h, error after 72 h)"
        in outcomes["raw/salesforce/warn"].message
    )
    assert outcomes["raw/salesforce/error"].status == FAILED
    assert outcomes["raw/salesforce/missing"].status == FAILED  # configured, yet not landed
    assert outcomes["raw/hubspot/deals"].status == PASSED  # not configured: not checked
    assert "not checked" in outcomes["raw/hubspot/deals"].message


def test_the_reference_is_the_end_of_the_as_of_day_in_the_company_time_zone():
    assert freshness.reference_time(AS_OF, "Europe/Berlin") == dt.datetime(
        2026, 11, 26, 23, tzinfo=dt.UTC
    )
