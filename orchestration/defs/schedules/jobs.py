"""The jobs. Selections are by group, so the quality and publish assets and checks added
under ``defs/quality`` and ``defs/publish`` join ``nightly_refresh`` and ``rebuild_marts``
without changes here.

``nightly_refresh``
    everything (ingest, dbt with its tests, gates, publish), unpartitioned.
``ingest``
    the raw tables only.
``rebuild_marts``
    everything downstream of the raw layer, on the raw data already landed.
``google_ads_backfill``
    re-pull a date range of Google Ads metrics (daily partitions, one run per backfill).
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.ingest.backfill import google_ads_days

BACKFILL_GROUP = "ingest_backfill"
INGEST_GROUP = "ingest"

nightly_refresh = dg.define_asset_job(
    "nightly_refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(BACKFILL_GROUP),
    description="The nightly pipeline: ingest, dbt build and tests, quality gates, publish.",
)

ingest = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups(INGEST_GROUP),
    description="Extract every configured source into the raw layer.",
)

rebuild_marts = dg.define_asset_job(
    "rebuild_marts",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(INGEST_GROUP, BACKFILL_GROUP),
    description="Rebuild staging, intermediate and marts (and gates, publish) from the raw layer as it is.",
)

google_ads_backfill = dg.define_asset_job(
    "google_ads_backfill",
    selection=dg.AssetSelection.groups(BACKFILL_GROUP),
    partitions_def=google_ads_days,
    description="Re-pull a range of days of Google Ads campaign metrics (launch a backfill).",
)
