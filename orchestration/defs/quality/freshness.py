"""dbt source freshness as (non-blocking) checks on the raw assets: ``dbt_source_freshness``.

The dbt project's freshness declarations (``loaded_at_field``, ``warn_after``, ``error_after``),
evaluated in the warehouse after ingest, as of the end of the run's as-of day (see
:mod:`orchestration.quality.freshness` for why not the wall clock). ``warn`` is a warning,
``error`` a failure of severity error (an alert); neither blocks the pipeline.
"""

import json

import dagster as dg

from orchestration.dbt_project import salesops_dbt_project
from orchestration.defs.ingest.assets import WAREHOUSE_POOL
from orchestration.defs.quality.results import check_result, run_as_of, run_id_of
from orchestration.defs.resources import (
    GoogleAdsResource,
    HubSpotResource,
    SalesforceResource,
    WarehouseResource,
)
from orchestration.quality import freshness, status
from orchestration.quality.warehouse import warehouse_connection
from salesops.config import load_settings


def build_freshness_check(
    assets: dict[str, list[freshness.SourceFreshness]],
) -> dg.AssetChecksDefinition | None:
    if not assets:
        return None
    specs = [
        dg.AssetCheckSpec(
            freshness.CHECK_NAME,
            asset=dg.AssetKey(key.split("/")),
            blocking=False,
            description="dbt source freshness of the table, as of the end of the run's as-of day.",
        )
        for key in sorted(assets)
    ]

    @dg.multi_asset_check(
        name="dbt_source_freshness",
        specs=specs,
        can_subset=True,
        pool=WAREHOUSE_POOL,
        compute_kind="dbt",
        description="dbt source freshness of the raw tables.",
    )
    def _freshness(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        salesforce_source: SalesforceResource,
        hubspot_source: HubSpotResource,
        google_ads_source: GoogleAdsResource,
    ):
        settings = load_settings()
        as_of = run_as_of(context)
        selected = {"/".join(k.asset_key.path) for k in context.selected_asset_check_keys}
        configured = {
            r.SOURCE for r in (salesforce_source, hubspot_source, google_ads_source) if r.configured
        }
        reference = freshness.reference_time(as_of, settings.timezone)
        wanted = {k: v for k, v in assets.items() if k in selected}
        with warehouse_connection(warehouse_path=warehouse.warehouse, read_only=True) as con:
            outcomes = freshness.check_freshness(con, wanted, reference, configured)
        status.record_outcomes(settings.status, run_id_of(context), as_of, outcomes)
        for outcome in outcomes:
            if not outcome.passed:
                context.log.warning(outcome.message)
            yield check_result(outcome, as_of)

    return _freshness


@dg.definitions
def freshness_definitions() -> dg.Definitions:
    manifest = json.loads(salesops_dbt_project().manifest_path.read_text())
    check = build_freshness_check(freshness.freshness_assets(manifest))
    return dg.Definitions(asset_checks=[check] if check else [])
