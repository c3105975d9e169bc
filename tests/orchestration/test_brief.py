"""The sales brief: static HTML from whatever marts exist, "not available yet" for the rest,
written atomically; and the demo summary built from the same readers."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from orchestration.brief import RunSummary, write_brief
from salesops.config import load_settings

AS_OF = dt.date(2026, 11, 26)

# Minimal marts with the MARTS.md columns the brief reads.
MARTS = [
    "CREATE TABLE marts.dim_fiscal_calendar AS SELECT DATE '2026-11-26' AS date_day, "
    "'FY2026-Q4' AS fiscal_quarter, DATE '2026-10-01' AS quarter_start, DATE '2026-12-31' AS quarter_end, "
    "57 AS day_of_quarter, 92 AS days_in_quarter",
    "CREATE TABLE marts.mart_sales_kpis AS SELECT * FROM (VALUES "
    "('r1', 'NA SMB', 'FY2026-Q4', 120000.0, 3, 1, 50000.0), "
    "('r2', 'EMEA Enterprise', 'FY2026-Q4', 80000.0, 1, 2, 20000.0), "
    "('r1', 'NA SMB', 'FY2026-Q3', 999999.0, 9, 0, 0.0)) "
    "t(rep_id, team, fiscal_quarter, bookings_amount, won_count, lost_count, pipeline_created_amount)",
    "CREATE TABLE marts.mart_quota_rollup AS SELECT * FROM (VALUES "
    "('team', 'NA SMB', 'NA SMB', 'quarter', 'FY2026-Q4', 100000.0, 100000.0, 120000.0, 1.2), "
    "('team', 'EMEA Enterprise', 'EMEA Enterprise', 'quarter', 'FY2026-Q4', 200000.0, 160000.0, 80000.0, 0.5), "
    "('company', 'all', 'Company', 'quarter', 'FY2026-Q4', 300000.0, 260000.0, 200000.0, 0.769)) "
    "t(level, entity_id, entity_name, period_type, fiscal_period, quota_amount, ramp_adjusted_quota_amount, bookings_amount, attainment)",
    "CREATE TABLE marts.mart_forecast AS SELECT * FROM (VALUES "
    "(DATE '2026-11-26', 'FY2026-Q4', 'company', 'all', 260000.0, 200000.0, 230000.0, 250000.0, 300000.0, 240000.0, 245000.0, 210000.0, 280000.0)) "
    "t(as_of_date, fiscal_quarter, level, entity_id, quota_amount, closed_won_amount, forecast_commit_amount, "
    "forecast_most_likely_amount, forecast_best_case_amount, forecast_weighted_amount, forecast_statistical_amount, "
    "forecast_statistical_low_amount, forecast_statistical_high_amount)",
    "CREATE TABLE marts.mart_pipeline_waterfall AS SELECT * FROM (VALUES "
    "('FY2026-Q4', DATE '2026-10-05', 500000.0, 50000.0, 0.0, 10000.0, 20000.0, 5000.0, 2000.0, 0.0, 0.0, 0.0, 60000.0, 30000.0, 453000.0), "
    "('FY2026-Q4', DATE '2026-10-12', 453000.0, 10000.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3000.0, 0.0, 460000.0)) "
    "t(fiscal_quarter, week_start, starting_pipeline_amount, created_amount, reopened_amount, pulled_in_amount, "
    "pushed_out_amount, increased_amount, decreased_amount, into_omitted_amount, out_of_omitted_amount, deleted_amount, "
    "won_amount, lost_amount, ending_pipeline_amount)",
    "CREATE TABLE marts.mart_stage_conversion AS SELECT * FROM (VALUES "
    "('prospecting', 1, 'FY2026-Q4', 40, 20, 10, 5, 15), ('proposal', 4, 'FY2026-Q4', 12, 8, 6, 5, 3)) "
    "t(ladder_stage, stage_order, fiscal_quarter, reached_count, resolved_count, advanced_count, won_count, lost_count)",
    "CREATE TABLE marts.mart_campaign_performance AS SELECT * FROM (VALUES "
    "('c1', 'Spring <Search>', 'paid_search', 'FY2026-M11', DATE '2026-11-01', 10000.0, 500, 90000, 40, 10, 5, 80000.0, 2, 30000.0)) "
    "t(campaign_id, campaign_name, channel, fiscal_month, period_start, spend_amount, clicks, impressions, leads, mqls, "
    "opportunities, pipeline_amount, won_count, bookings_amount)",
]


@pytest.fixture
def warehouse(clean_env):
    path = clean_env / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        for sql in MARTS:
            con.execute(sql)
    return path


def test_every_section_renders_from_its_mart(warehouse):
    run = RunSummary(
        run_id="0123456789ab", job_name="nightly_refresh", checks_passed=42, url="http://x/runs/1"
    )
    result = write_brief(load_settings(), AS_OF, run)
    html = result.path.read_text()
    assert result.available == ["attainment", "forecast", "waterfall", "funnel", "campaigns"]
    assert result.missing == ["quality"]  # no status database yet
    assert "Sales brief, as of 2026-11-26" in html and "FY2026-Q4" in html
    assert "$200.0k" in html  # bookings this quarter, Q3 left out
    assert "77%" in html  # company attainment
    assert "Pipeline waterfall, FY2026-Q4" in html and "$460.0k now" in html
    assert "Spring &lt;Search&gt;" in html  # labels are escaped
    assert "42 checks passed" in html
    assert html.count("<svg") == 5
    assert "build warehouse warehouse.duckdb, read-only" in html
    for forbidden in ("<script", "<link", "src=", "@import", "url("):
        assert forbidden not in html
    leftovers = [p.name for p in result.path.parent.iterdir() if p.name.startswith(".brief")]
    assert leftovers == []


def test_missing_marts_say_not_available_yet(clean_env):
    path = clean_env / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(MARTS[0])
        con.execute(MARTS[1])
    result = write_brief(load_settings(), AS_OF)
    html = result.path.read_text()
    assert result.available == []
    assert html.count("Not available yet.") == 6
    for mart in (
        "mart_quota_rollup",
        "mart_forecast",
        "mart_pipeline_waterfall",
        "mart_stage_conversion",
        "mart_campaign_performance",
    ):
        assert f"marts.{mart}" in html
    assert "Bookings by team" in html  # the interim chart while quotas are missing


def test_no_warehouse_at_all(clean_env):
    result = write_brief(
        load_settings(),
        AS_OF,
        RunSummary(run_id="abc", job_name="ingest", failed_steps=["ingest_hubspot"]),
    )
    html = result.path.read_text()
    assert "The last run failed" in html and "ingest_hubspot" in html
    assert "a built warehouse" in html


def test_the_demo_summary_reads_the_same_marts(warehouse):
    from salesops.commands.demo import summary_lines

    lines = "\n".join(summary_lines(load_settings(), AS_OF))
    assert "Bookings FY2026-Q4:  $200.0k from 4 won deals" in lines
    assert "Attainment:          77% of $260.0k quota" in lines
    assert "Forecast vs quota:   closed won $200.0k" in lines
    assert "Quality gates:       not built yet" in lines
    assert "Serving database:    not built yet" in lines
