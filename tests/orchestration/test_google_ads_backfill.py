"""The Google Ads backfill job lands in the destination ``SALESOPS_DESTINATION`` names, as the
nightly ingest does, and leaves the nightly bookmark alone."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb

from connectors.destinations.parquet import attach_lake, read_manifest
from tests.connectors.hubspot_support import expected_ads
from tests.orchestration.conftest import connector_env


def test_a_backfill_lands_the_range_in_the_configured_lake(emulator, clean_env, monkeypatch):
    from orchestration import definitions
    from orchestration.defs.ingest.backfill import google_ads_backfill_days

    for name, value in connector_env(emulator, salesforce=False, hubspot=False).items():
        monkeypatch.setenv(name, value)
    lake = clean_env / "lake"
    monkeypatch.setenv("SALESOPS_DESTINATION", "parquet")
    monkeypatch.setenv("SALESOPS_LAKE_ROOT", str(lake))
    last = emulator.state.now().date() - dt.timedelta(days=3)
    first = last - dt.timedelta(days=2)
    definitions.loaded.cache_clear()
    try:
        result = dg.materialize(
            [google_ads_backfill_days],
            resources=definitions.loaded().resources,
            instance=dg.DagsterInstance.ephemeral(),
            tags={
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
        )
    finally:
        definitions.loaded.cache_clear()
    assert result.success

    expected = {
        key: row
        for key, row in expected_ads(emulator.state).items()
        if first.isoformat() <= key[2] <= last.isoformat()
    }
    with duckdb.connect() as con:
        attach_lake(con, lake)
        cursor = con.execute(
            "SELECT customer_id, campaign_id, CAST(date AS VARCHAR), cost_micros, clicks, "
            "impressions, conversions FROM raw_google_ads.campaign_daily_metrics"
        )
        landed = {row[:3]: [float(v) for v in row[3:]] for row in cursor.fetchall()}
    assert len(expected) > 0
    assert landed == {
        key: [row[c] for c in ("cost_micros", "clicks", "impressions", "conversions")]
        for key, row in expected.items()
    }
    fetched = {
        event.asset_key.to_user_string(): event.materialization.metadata["rows_fetched"].value
        for event in result.get_asset_materialization_events()
        if "rows_fetched" in event.materialization.metadata
    }
    # Recorded on the backfill asset and on the raw table dbt's staging reads.
    assert fetched == {
        "raw/google_ads/campaign_daily_metrics_backfill": len(expected),
        "raw/google_ads/campaign_daily_metrics": len(expected),
    }
    # The lake, not the DuckDB warehouse, and the nightly bookmark is not moved.
    assert not (clean_env / "warehouse.duckdb").exists()
    assert read_manifest(lake)["stream_state"] == []
