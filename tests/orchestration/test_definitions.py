"""The code location loads without secrets and has the shape the runbook describes."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.defs.ingest.tables import SOURCE_TABLES


@pytest.fixture
def defs(clean_env):
    from orchestration import definitions

    definitions.loaded.cache_clear()
    try:
        yield definitions.loaded()
    finally:
        definitions.loaded.cache_clear()


def test_definitions_load_with_no_secrets_set(defs):
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {"ingest", "staging", "intermediate", "marts", "reporting"} <= groups
    assert {job.name for job in repo.get_all_jobs()} >= {
        "nightly_refresh",
        "ingest",
        "rebuild_marts",
        "google_ads_backfill",
    }
    assert [s.name for s in repo.schedule_defs] == ["nightly_refresh_schedule"]
    assert {s.name for s in repo.sensor_defs} >= {"alert_on_run_failure", "stale_marts"}
    for name in ("salesforce_source", "hubspot_source", "google_ads_source"):
        assert not defs.resources[name].configured
    # dbt tests are asset checks of the dbt assets
    checks = list(graph.asset_check_keys)
    assert any(c.asset_key.path[0] == "marts" for c in checks)


def test_one_asset_per_stream_in_group_ingest_and_the_warehouse_pool(defs):
    graph = defs.get_repository_def().asset_graph
    for source, tables in SOURCE_TABLES.items():
        for table in tables.tables:
            node = graph.get(dg.AssetKey(["raw", source, table]))
            assert node.group_name == "ingest"
            assert node.pools == {"warehouse"}
    for key in (
        "raw/salesforce/opportunity",
        "raw/hubspot/deals",
        "raw/google_ads/campaign_daily_metrics",
    ):
        assert dg.AssetKey.from_user_string(key) in graph.get_all_asset_keys()
    dbt = graph.get(dg.AssetKey(["marts", "fct_opportunities"]))
    assert dbt.pools == {"warehouse"}


def test_dbt_sources_are_the_ingest_assets(defs):
    """One lineage graph: staging models depend on the raw assets, not on separate sources."""
    graph = defs.get_repository_def().asset_graph
    staging = graph.get(dg.AssetKey(["staging", "stg_salesforce__opportunities"]))
    assert dg.AssetKey(["raw", "salesforce", "opportunity"]) in staging.parent_keys
    deals = graph.get(dg.AssetKey(["staging", "stg_hubspot__deals"]))
    assert dg.AssetKey(["raw", "hubspot", "deals"]) in deals.parent_keys
    assert (
        graph.get(dg.AssetKey(["staging", "stg_salesforce__opportunities"])).group_name == "staging"
    )
    brief = graph.get(dg.AssetKey(["reporting", "sales_brief"]))
    assert dg.AssetKey(["marts", "fct_opportunities"]) in brief.parent_keys


def test_unconfigured_sources_report_not_configured(defs, clean_env):
    from orchestration.defs.ingest import assets

    result = dg.materialize(
        [assets.ingest_salesforce, assets.ingest_hubspot, assets.ingest_google_ads],
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        selection=[
            "raw/salesforce/opportunity",
            "raw/hubspot/deals",
            "raw/hubspot/deal_property_history",
            "raw/google_ads/campaign_daily_metrics",
        ],
    )
    assert result.success
    materialized = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("ingest_hubspot")
    }
    assert set(materialized) == {"raw/hubspot/deals", "raw/hubspot/deal_property_history"}
    assert materialized["raw/hubspot/deals"]["status"].value == "not configured"
    assert materialized["raw/hubspot/deals"]["needs"].value == "HUBSPOT_ACCESS_TOKEN"
    assert not (clean_env / "warehouse.duckdb").exists()


def test_source_resources_bind_only_the_variables_that_are_set():
    from orchestration.defs.resources import HubSpotResource, SalesforceResource

    bound = SalesforceResource.from_environment(
        {
            "SALESFORCE_CLIENT_ID": "id",
            "SALESFORCE_CLIENT_SECRET": "s3cret",
            "SALESFORCE_REFRESH_TOKEN": " ",
        }
    )
    assert (
        isinstance(bound.client_id, dg.EnvVar)
        and bound.client_id.env_var_name == "SALESFORCE_CLIENT_ID"
    )
    assert bound.refresh_token is None  # blank counts as unset
    assert HubSpotResource.from_environment({}).access_token is None


def test_the_statistical_forecast_runs_between_the_marts_it_reads_and_those_that_read_it(defs):
    """mart_forecast and mart_forecast_accuracy show the same night's statistical forecast: the
    nightly job splits the dbt step around the Python asset instead of reading yesterday's."""
    repo = defs.get_repository_def()
    forecast = dg.AssetKey(["forecast", "statistical_forecasts"])
    graph = repo.asset_graph
    for mart in ("mart_forecast", "mart_forecast_accuracy"):
        assert forecast in graph.get(dg.AssetKey(["marts", mart])).parent_keys
    for read in (["marts", "fct_opportunity_states"], ["marts", "dim_reps"]):
        assert dg.AssetKey(read) in graph.get(forecast).parent_keys

    job = repo.get_job("nightly_refresh")
    structure = job.graph.dependency_structure

    def upstream_of(step: str) -> set[str]:
        return {dep.node.name for dep in structure.all_upstream_outputs_from_node(step)}

    forecast_step = next(name for name in job.graph.node_dict if "statistical_forecasts" in name)
    assert any(name.startswith("salesops_dbt") for name in upstream_of(forecast_step))
    after = [name for name in job.graph.node_dict if forecast_step in upstream_of(name)]
    assert any(name.startswith("salesops_dbt") for name in after), after
