"""``dbt build`` of the selected models, seeds and tests, with the run's as-of date.

Vars passed to dbt:

``as_of_date``
    run config ``as_of_date``, else the run tag ``salesops/as_of_date`` (set by the schedule and
    ``salesops run --as-of``), else the last complete day in ``SALESOPS_TIMEZONE`` when the run
    was created.
``salesops_sources``
    run config ``salesops_sources``, else the sources whose connector is configured. With none
    configured (another loader fills the raw layer), the dbt project's default applies.

dbt's unit tests are left out (``--exclude-resource-type unit_test``): they test SQL logic on
fixtures and run in CI, as dbt recommends for production builds.

dbt's artifacts (``run_results.json``, logs) go to ``$SALESOPS_DATA_DIR/dbt_runs/<run>``; the
newest runs are kept.
"""

import json
import shutil
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets

from orchestration.asof import as_of_for_context, parse_as_of
from orchestration.dbt_project import salesops_dbt_project
from orchestration.defs.ingest.assets import WAREHOUSE_POOL
from orchestration.defs.resources import (
    GoogleAdsResource,
    HubSpotResource,
    SalesforceResource,
    SourceResource,
)
from orchestration.defs.transform.translator import SalesopsTranslator
from salesops.config import load_settings

KEEP_RUN_ARTIFACTS = 10
# dbt unit tests check SQL logic on fixtures: they run in CI (`make test`), not against the
# nightly data, as dbt recommends; some (incremental `this` inputs) need the model built first.
BUILD_FLAGS = ("--exclude-resource-type", "unit_test")


class TransformConfig(dg.Config):
    as_of_date: str | None = None  # YYYY-MM-DD; default: see the module docstring
    salesops_sources: list[str] | None = None  # default: the configured sources


def dbt_vars(
    context: dg.AssetExecutionContext, config: TransformConfig, sources: list[SourceResource]
) -> dict:
    as_of = (
        parse_as_of(config.as_of_date, "as_of_date")
        if config.as_of_date
        else as_of_for_context(context)
    )
    enabled = config.salesops_sources
    if enabled is None:
        enabled = [resource.SOURCE for resource in sources if resource.configured]
    result: dict = {"as_of_date": as_of.isoformat()}
    if enabled:
        result["salesops_sources"] = list(enabled)
    return result


def run_target_path(run_id: str) -> Path:
    """A fresh artifacts folder for this invocation; older ones beyond the newest few go."""
    root = load_settings().data_dir / "dbt_runs"
    root.mkdir(parents=True, exist_ok=True)
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[: max(len(runs) - KEEP_RUN_ARTIFACTS + 1, 0)]:
        shutil.rmtree(old, ignore_errors=True)
    return root / run_id


def known_node_events(context: dg.AssetExecutionContext, invocation: DbtCliInvocation):
    """The Dagster events of dbt's results, like ``invocation.stream()``, except for nodes the
    loaded manifest does not know: a model added to the project after the definitions loaded
    is built by dbt but reported as a warning instead of failing the step (reload the code
    location to see it as an asset). Raises at the end when dbt failed."""
    manifest = invocation.manifest
    known = manifest.get("nodes", {})
    unknown: set[str] = set()
    for event in invocation.stream_raw_events():
        unique_id = (event.raw_event.get("data", {}).get("node_info") or {}).get("unique_id")
        if event.is_result_event and unique_id not in known:
            unknown.add(unique_id)
            continue
        yield from event.to_default_asset_events(
            manifest=manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        )
    if unknown:
        context.log.warning(
            "dbt ran nodes that are not in the manifest these definitions loaded (the dbt project "
            f"changed since); reload the code location: {', '.join(sorted(unknown))}"
        )


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="salesops_dbt",
        dagster_dbt_translator=SalesopsTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def salesops_dbt(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        config: TransformConfig,
        salesforce_source: SalesforceResource,
        hubspot_source: HubSpotResource,
        google_ads_source: GoogleAdsResource,
    ):
        variables = dbt_vars(
            context, config, [salesforce_source, hubspot_source, google_ads_source]
        )
        context.log.info(f"dbt build --vars {json.dumps(variables)}")
        invocation = dbt.cli(
            ["build", "--vars", json.dumps(variables), *BUILD_FLAGS],
            context=context,
            target_path=run_target_path(context.run_id),
        )
        yield from known_node_events(context, invocation)

    return salesops_dbt


@dg.definitions
def transform() -> dg.Definitions:
    """Built when the definitions load: the manifest is parsed first if missing or stale."""
    return dg.Definitions(assets=[build_dbt_assets(salesops_dbt_project())])
