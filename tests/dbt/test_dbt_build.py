"""`dbt build` on the tiny org: every model, seed, unit test and data test passes, no warnings."""

from __future__ import annotations

from tests.dbt.conftest import connect


def test_tiny_build_has_no_errors_or_warnings(tiny_build):
    run = tiny_build.build
    assert run.success, run.describe()
    assert not run.errors, run.describe()
    assert not run.warnings, run.describe()
    statuses = {status for _, status, _ in run.results}
    assert statuses <= {"success", "pass", "no-op"}, run.describe()  # exposures are no-ops


def test_build_ran_models_data_tests_and_unit_tests(tiny_build):
    kinds = {}
    for uid, _, _ in tiny_build.build.results:
        kind = uid.split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds.get("model", 0) >= 50
    assert kinds.get("test", 0) >= 250
    assert kinds.get("unit_test", 0) >= 15
    # stage_ladder, iso_currencies, hubspot_teams, campaign_mapping, and the quota seeds
    assert kinds.get("seed", 0) >= 4


def test_every_mart_is_in_schema_marts(tiny_build):
    con = connect(tiny_build.warehouse)
    try:
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    finally:
        con.close()
    assert {
        "dim_reps",
        "dim_accounts",
        "dim_fiscal_calendar",
        "fct_opportunities",
        "fct_opportunity_stage_history",
        "fct_opportunity_states",
        "fct_activities",
        "fct_leads",
        "mart_sales_kpis",
        "mart_stage_conversion",
        "mart_lead_funnel",
    } <= tables
