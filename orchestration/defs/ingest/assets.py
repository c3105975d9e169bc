"""One multi-asset per source: the selected raw tables, synced by the source's connector.

Each stream's run metadata (rows inserted, updated, deleted, quarantined, pages, retries, cursor,
duration) becomes the metadata of its asset's materialization. A source that is not configured
materializes its assets with ``status: not configured`` (and the variables it needs), so the
rest of the pipeline runs on the other sources.

Failures: a configuration or quota problem (``ConfigError``, ``FatalApiError``) fails the step
at once; anything else (network trouble that outlasted the connector's own retries, a stream
that failed) is retried by the step's ``RetryPolicy``. Streams are incremental, so a retry
re-reads little.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from connectors.destinations.factory import destination_from_env
from connectors.http import FatalApiError
from connectors.streams import Source, StreamRun, sync_source
from orchestration.defs.ingest.tables import SOURCE_TABLES, SourceTables
from orchestration.defs.resources import SourceResource, WarehouseResource, source_resource_key
from salesops.config import ConfigError, load_settings

INGEST_GROUP = "ingest"
WAREHOUSE_POOL = "warehouse"
INGEST_RETRY = dg.RetryPolicy(
    max_retries=2, delay=20, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class IngestConfig(dg.Config):
    full_refresh: bool = False  # read every selected stream from the beginning


def raw_key(source: str, table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source, table])


def _spec(tables: SourceTables, table: str) -> dg.AssetSpec:
    parent = tables.parent(table)
    description = f"`raw_{tables.source}.{table}` (and `{table}__versions`), landed by the {tables.source} connector"
    if parent != table:
        description += f" with the `{parent}` stream"
    return dg.AssetSpec(
        key=raw_key(tables.source, table),
        group_name=INGEST_GROUP,
        description=description + ".",
        kinds={"duckdb", tables.source.replace("_", "")},
        metadata={"table": f"raw_{tables.source}.{table}", "stream": parent},
        skippable=True,
    )


def stream_metadata(run: StreamRun, sync_id: str) -> dict:
    return {
        "status": run.status,
        "mode": run.mode,
        "rows_fetched": run.fetched,
        "rows_inserted": run.inserted,
        "rows_updated": run.updated,
        "rows_deleted": run.deleted,
        "rows_quarantined": run.quarantined,
        "pages": run.pages,
        "retries": run.retries,
        "restarts": run.restarts,
        "cursor": run.cursor or "",
        "duration_seconds": round(run.seconds, 3),
        "sync_id": sync_id,
    }


def _sync_log(warehouse: Path, sync_id: str) -> dict[str, dict]:
    """Per-table counts of one sync (``raw_meta.sync_log``): related tables have no StreamRun."""
    query = (
        "SELECT stream, inserted, updated, deleted, records_quarantined, records_fetched "
        "FROM raw_meta.sync_log WHERE sync_id = ?"
    )
    if load_settings().destination == "postgres":
        from connectors.destinations.postgres import PostgresConnection

        con = PostgresConnection.from_env().connect()
        try:
            with con.cursor() as cur:
                cur.execute(query.replace("?", "%s"), [sync_id])
                rows = cur.fetchall()
        finally:
            con.close()
    else:
        with duckdb.connect(str(warehouse)) as con:
            rows = con.execute(query, [sync_id]).fetchall()
    return {
        r[0]: {
            "rows_fetched": r[5],
            "rows_inserted": r[1],
            "rows_updated": r[2],
            "rows_deleted": r[3],
            "rows_quarantined": r[4],
        }
        for r in rows
    }


def _server_clock(source: Source):
    return lambda: source.client.server_now or datetime.now(UTC)


def sync(
    context: dg.AssetExecutionContext,
    source: Source,
    warehouse: Path,
    streams: list[str],
    *,
    full_refresh: bool,
) -> tuple[list[StreamRun], str]:
    """Sync ``streams`` of ``source`` into ``warehouse`` in one sync; returns the stream runs
    and the sync id."""
    specs = source.streams(streams)
    destination = destination_from_env(clock=_server_clock(source), warehouse=warehouse)
    with destination.open_sync(source.name) as open_sync:
        sync_id = open_sync.sync_id

        def progress(run: StreamRun) -> None:
            if run.status != "running":
                context.log.info(
                    f"{run.source} {run.stream}: {run.status}, {run.fetched:,} fetched, "
                    f"+{run.inserted:,} ~{run.updated:,} -{run.deleted:,}, "
                    f"{run.quarantined:,} quarantined, {run.seconds:.1f}s"
                )

        runs = sync_source(
            source, open_sync, specs, full_refresh=full_refresh, on_progress=progress
        )
    return runs, sync_id


def build_ingest_assets(tables: SourceTables) -> dg.AssetsDefinition:
    resource_key = source_resource_key(tables.source)

    @dg.multi_asset(
        name=f"ingest_{tables.source}",
        specs=[_spec(tables, t) for t in tables.tables],
        can_subset=True,
        pool=WAREHOUSE_POOL,
        retry_policy=INGEST_RETRY,
        required_resource_keys={resource_key, "warehouse"},
        description=f"Extract {tables.source} into the warehouse's raw_{tables.source} schema.",
    )
    def _ingest(
        context: dg.AssetExecutionContext, config: IngestConfig
    ) -> Iterator[dg.MaterializeResult]:
        resource: SourceResource = getattr(context.resources, resource_key)
        warehouse: WarehouseResource = context.resources.warehouse
        selected = {key.path[-1] for key in context.selected_asset_keys}
        if not resource.configured:
            needs = " and ".join(resource.required_variables)
            context.log.warning(f"{tables.source} is not configured (set {needs}); skipping it")
            for table in sorted(selected):
                yield dg.MaterializeResult(
                    asset_key=raw_key(tables.source, table),
                    metadata={"status": "not configured", "needs": needs},
                )
            return
        streams = tables.streams_for(selected)
        started = time.monotonic()
        try:
            source = resource.build()
        except ConfigError as exc:
            raise dg.Failure(f"{tables.source}: {exc}", allow_retries=False) from None
        try:
            runs, sync_id = sync(
                context, source, warehouse.warehouse, streams, full_refresh=config.full_refresh
            )
        except FatalApiError as exc:
            raise dg.Failure(f"{tables.source}: {exc}", allow_retries=False) from None
        finally:
            source.close()
        by_stream = {run.stream: run for run in runs}
        logged = _sync_log(warehouse.warehouse, sync_id)
        for table in sorted(selected):
            parent = tables.parent(table)
            run = by_stream.get(parent)
            if run is None or run.status != "success":
                continue
            if parent == table:
                metadata = stream_metadata(run, sync_id)
            else:
                zero = dict.fromkeys(
                    (
                        "rows_fetched",
                        "rows_inserted",
                        "rows_updated",
                        "rows_deleted",
                        "rows_quarantined",
                    ),
                    0,
                )
                metadata = {
                    **zero,
                    **logged.get(table, {}),
                    "landed_with": parent,
                    "sync_id": sync_id,
                }
            yield dg.MaterializeResult(asset_key=raw_key(tables.source, table), metadata=metadata)
        failed = [run for run in runs if run.status != "success"]
        context.log.info(
            f"{tables.source}: {len(runs) - len(failed)}/{len(runs)} streams in "
            f"{time.monotonic() - started:.1f}s (sync {sync_id})"
        )
        if failed:
            detail = "; ".join(f"{run.stream}: {run.error}" for run in failed)
            raise dg.Failure(f"{tables.source}: {len(failed)} stream(s) failed: {detail}")

    return _ingest


ingest_salesforce = build_ingest_assets(SOURCE_TABLES["salesforce"])
ingest_hubspot = build_ingest_assets(SOURCE_TABLES["hubspot"])
ingest_google_ads = build_ingest_assets(SOURCE_TABLES["google_ads"])
