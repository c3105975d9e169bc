"""dbt source freshness as (non-blocking) checks on the raw assets: ``dbt_source_freshness``.

Runs ``dbt source freshness`` once per run after ingest on the configured sources' tables and
reports each raw asset's worst source status: ``warn`` as a
warning, ``error`` as a failure of severity error (an alert), never blocking the pipeline.
dbt compares the newest ``_synced_at`` with the clock of the machine.
"""

import json

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.dbt_project import salesops_dbt_project
from orchestration.defs.ingest.assets import WAREHOUSE_POOL
from orchestration.defs.quality.results import check_result, run_as_of, run_id_of
from orchestration.defs.resources import GoogleAdsResource, HubSpotResource, SalesforceResource
from orchestration.quality import freshness, status
from salesops.config import load_settings


def build_freshness_check(assets: dict[str, list[str]]) -> dg.AssetChecksDefinition | None:
    if not assets:
        return None
    specs = [
        dg.AssetCheckSpec(
            freshness.CHECK_NAME,
            asset=dg.AssetKey(key.split("/")),
            blocking=False,
            description="dbt source freshness of the table (warn after 36 h, error after 72 h).",
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
        dbt: DbtCliResource,
        salesforce_source: SalesforceResource,
        hubspot_source: HubSpotResource,
        google_ads_source: GoogleAdsResource,
    ):
        settings = load_settings()
        as_of = run_as_of(context)
        run_id = run_id_of(context)
        selected = {"/".join(k.asset_key.path) for k in context.selected_asset_check_keys}
        enabled = [
            r.SOURCE for r in (salesforce_source, hubspot_source, google_ads_source) if r.configured
        ]
        # No --vars: dbt would parse the whole project again (vars invalidate partial parsing);
        # selecting the configured sources' tables is enough (freshness needs no as-of date).
        selection = ["--select", *[f"source:{name}" for name in enabled]] if enabled else []
        target = settings.data_dir / "dbt_runs" / f"{run_id}-freshness"
        target.mkdir(parents=True, exist_ok=True)
        error = None
        try:
            invocation = dbt.cli(
                ["source", "freshness", *selection],
                manifest=salesops_dbt_project().manifest_path,
                raise_on_error=False,
                target_path=target,
            )
            invocation.wait()
            if not invocation.is_successful():
                error = " ".join(str(invocation.get_error() or "dbt failed").split())
        except Exception as exc:  # surfaced as warnings, never failing the run
            error = f"{type(exc).__name__}: {exc}"
        results = freshness.read_sources_json(target)
        if results is None and error is None:
            error = "dbt source freshness wrote no sources.json"
        if error:
            context.log.warning(f"dbt source freshness: {error[:1000]}")
        wanted = {k: v for k, v in assets.items() if k in selected}
        outcomes = freshness.outcomes_from_results(results, wanted, error)
        status.record_outcomes(settings.status, run_id, as_of, outcomes)
        for outcome in outcomes:
            yield check_result(outcome, as_of)

    return _freshness


@dg.definitions
def freshness_definitions() -> dg.Definitions:
    manifest = json.loads(salesops_dbt_project().manifest_path.read_text())
    check = build_freshness_check(freshness.freshness_assets(manifest))
    return dg.Definitions(asset_checks=[check] if check else [])
