"""Re-pull a date range of Google Ads metrics (job ``google_ads_backfill``).

The nightly ingest re-reads a trailing window (restatements). For an older range, e.g. after a
conversion-tracking fix, launch a backfill of this daily-partitioned asset: the whole range runs
as one run (single-run backfill policy) and is read with the connector's date-range reads
(``GoogleAdsSource.read`` over one window), straight into ``raw_google_ads.campaign_daily_metrics``
of the destination ``SALESOPS_DESTINATION`` names (restated rows are updated in place and
versioned). The stream's bookmark is left alone, so the nightly schedule is unaffected. Each run also records a materialization of
``raw/google_ads/campaign_daily_metrics``, so dbt's staging shows as out of date.
"""

import datetime as dt

import dagster as dg

from connectors import google_ads
from connectors.destinations.factory import destination_from_env
from connectors.streams import Window
from orchestration.defs.ingest.assets import INGEST_RETRY, WAREHOUSE_POOL, raw_key
from orchestration.defs.resources import GoogleAdsResource, WarehouseResource
from salesops.config import ConfigError

BACKFILL_START = "2023-01-01"
google_ads_days = dg.DailyPartitionsDefinition(start_date=BACKFILL_START)


@dg.asset(
    key=raw_key("google_ads", f"{google_ads.TABLE}_backfill"),
    group_name="ingest_backfill",
    partitions_def=google_ads_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    retry_policy=INGEST_RETRY,
    kinds={"duckdb", "googleads"},
    description=(
        "Re-pulls the selected days of Google Ads campaign metrics into "
        f"`raw_google_ads.{google_ads.TABLE}` without moving the nightly bookmark."
    ),
)
def google_ads_backfill_days(
    context: dg.AssetExecutionContext,
    google_ads_source: GoogleAdsResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    first = dt.date.fromisoformat(context.partition_key_range.start)
    last = dt.date.fromisoformat(context.partition_key_range.end)
    if not google_ads_source.configured:
        raise dg.Failure(
            "Google Ads is not configured: set "
            + " and ".join(google_ads_source.required_variables),
            allow_retries=False,
        )
    try:
        source = google_ads_source.build()
    except ConfigError as exc:
        raise dg.Failure(f"google_ads: {exc}", allow_retries=False) from None
    try:
        # The destination SALESOPS_DESTINATION names, like the nightly ingest: a backfill into
        # DuckDB while the nightly lands in PostgreSQL or the lake would restate the wrong copy.
        destination = destination_from_env(
            clock=lambda: source.server_now(), warehouse=warehouse.warehouse
        )
    except ConfigError as exc:
        source.close()
        raise dg.Failure(f"destination: {exc}", allow_retries=False) from None
    window = Window(
        dt.datetime.combine(first, dt.time(), dt.UTC),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC),
    )
    counts = dict.fromkeys(("fetched", "inserted", "updated", "quarantined", "pages"), 0)
    try:
        (spec,) = source.streams()
        with destination.open_sync(source.name) as sync:
            for page in source.read(spec, window):
                result = sync.write_batch(
                    spec.name,
                    page.records,
                    columns=page.columns,
                    primary_key=spec.primary_key,
                    cursor_field=spec.cursor_field,
                    state=None,  # the nightly bookmark stays where it is
                )
                counts["pages"] += 1
                counts["fetched"] += result.fetched
                counts["inserted"] += result.inserted
                counts["updated"] += result.updated
                counts["quarantined"] += result.quarantined
            sync_id = sync.sync_id
    finally:
        source.close()
    metadata = {
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "rows_fetched": counts["fetched"],
        "rows_inserted": counts["inserted"],
        "rows_updated": counts["updated"],
        "rows_quarantined": counts["quarantined"],
        "pages": counts["pages"],
        "sync_id": sync_id,
    }
    context.log_event(
        dg.AssetMaterialization(
            asset_key=raw_key("google_ads", google_ads.TABLE),
            description=f"backfill of {first} to {last}",
            metadata=metadata,
        )
    )
    context.log.info(
        f"google_ads backfill {first} to {last}: {counts['fetched']:,} rows, "
        f"+{counts['inserted']:,} ~{counts['updated']:,}"
    )
    return dg.MaterializeResult(metadata=metadata)
