"""The ``publish`` asset: downstream of every mart, so of every gate.

It runs only when the raw gate passed (else dbt never ran), dbt's error-severity tests and
contracts passed (else the dbt step failed) and every blocking mart check passed. It writes the
``marts`` schema to new serving files (DuckDB storage ``v1.0.0`` for DuckDB 1.x readers), audits
them, renames them over ``SALESOPS_SERVING`` / ``SALESOPS_SERVING_RESTRICTED`` (compensation
marts: ``mart_commissions`` and every mart the dbt project tags ``restricted`` or gives meta
``restricted: true``; mode 0600), exports Parquet, keeps the last versions and logs the publication in the
status database. See :mod:`orchestration.quality.publish`.
"""

import dagster as dg

from orchestration.dbt_project import salesops_dbt_project
from orchestration.defs.ingest.assets import WAREHOUSE_POOL
from orchestration.defs.quality.results import run_as_of, run_id_of
from orchestration.defs.resources import WarehouseResource
from orchestration.quality import mart_gate, publish, status
from orchestration.quality.outcome import CheckOutcome
from salesops.config import load_settings

PUBLISH_KEY = dg.AssetKey(["publish"])
PUBLISH_GROUP = "publish"


class PublishConfig(dg.Config):
    keep_versions: int = publish.KEEP_VERSIONS  # serving versions kept for rollback


def build_publish_asset(
    mart_names: list[str], restricted: frozenset[str] = publish.RESTRICTED_MARTS
) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISH_KEY,
        deps=[dg.AssetKey(["marts", name]) for name in sorted(mart_names)],
        group_name=PUBLISH_GROUP,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", "parquet"},
        description=(
            "Write-audit-publish of the marts: new serving files (DuckDB storage v1.0.0, "
            "readable by DuckDB 1.x), verified, renamed over SALESOPS_SERVING and "
            "SALESOPS_SERVING_RESTRICTED (compensation marts, mode 0600); Parquet per mart; "
            "the last versions kept for `salesops publish --rollback`."
        ),
    )
    def publish_marts(
        context: dg.AssetExecutionContext, config: PublishConfig, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        settings = load_settings()
        as_of = run_as_of(context)
        run_id = run_id_of(context)
        if settings.dbt_target == "postgres":
            return _publish_postgres(context, settings, mart_names, restricted, run_id, as_of)
        paths = publish.ServingPaths.from_settings(settings)
        result = publish.publish(
            warehouse.warehouse,
            paths,
            run_id=run_id,
            as_of=as_of,
            keep=config.keep_versions,
            restricted_marts=restricted,
        )
        status.record_publish(settings.status, result.log_entry(paths))
        outcome = CheckOutcome(
            "publish",
            "publish",
            "publish",
            message=(
                f"published version {result.version} ({len(result.marts)} marts, "
                f"{len(result.restricted_marts)} restricted) to {paths.serving}"
            ),
            metrics={"version": result.version, "seconds": round(result.seconds, 3)},
        )
        status.record_outcomes(settings.status, run_id, as_of, [outcome])
        context.log.info(outcome.message)
        return dg.MaterializeResult(
            metadata={
                "version": result.version,
                "previous_version": result.previous_version or "",
                "as_of_date": as_of.isoformat(),
                "serving_path": dg.MetadataValue.path(str(paths.serving)),
                "restricted_path": dg.MetadataValue.path(str(paths.restricted)),
                "parquet_path": dg.MetadataValue.path(str(paths.parquet_link)),
                "storage_version": result.storage_version,
                "serving_sha256": result.serving_sha256,
                "marts": dg.MetadataValue.json(result.marts),
                "restricted_marts": dg.MetadataValue.json(result.restricted_marts),
                "rows": sum(result.marts.values()) + sum(result.restricted_marts.values()),
                "seconds": round(result.seconds, 3),
            }
        )

    return publish_marts


def _publish_postgres(context, settings, mart_names, restricted, run_id, as_of):
    """PostgreSQL: copy into marts_next, swap schemas (orchestration/quality/publish_postgres)."""
    from connectors.destinations.postgres import PostgresConnection
    from orchestration.quality import publish_postgres

    build = PostgresConnection.from_env()
    serving = publish_postgres.serving_connection(build)
    result = publish_postgres.publish(
        build,
        serving,
        mart_names,
        restricted=restricted,
        build_id=run_id,
        run_id=run_id,
        as_of=as_of,
    )
    outcome = CheckOutcome(
        "publish",
        "publish",
        "publish",
        message=(
            f"published build {run_id} ({len(result.marts)} marts, "
            f"{len(result.restricted_marts)} restricted) to {serving.describe()} by schema swap"
        ),
        metrics={"seconds": round(result.seconds, 3), "swap_attempts": result.swap_attempts},
    )
    status.record_outcomes(settings.status, run_id, as_of, [outcome])
    context.log.info(outcome.message)
    return dg.MaterializeResult(
        metadata={
            "version": run_id,  # the served build: the status database's serving_version
            "build_id": run_id,
            "as_of_date": as_of.isoformat(),
            "serving_database": serving.describe(),
            "marts": dg.MetadataValue.json(result.marts),
            "restricted_marts": dg.MetadataValue.json(result.restricted_marts),
            "rows": sum(result.marts.values()) + sum(result.restricted_marts.values()),
            "seconds": round(result.seconds, 3),
        }
    )


@dg.definitions
def publish_definitions() -> dg.Definitions:
    nodes = mart_gate.mart_nodes(salesops_dbt_project().manifest_path)
    restricted = publish.RESTRICTED_MARTS | mart_gate.restricted_marts(nodes)
    return dg.Definitions(assets=[build_publish_asset(sorted(nodes), restricted)])
