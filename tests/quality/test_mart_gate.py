"""The mart gate on hand-made warehouses: every reconciliation passes, fails, or is not
applicable until its mart is built; volume against the published version; contracts."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestration.quality import mart_gate
from orchestration.quality.outcome import FAILED, NOT_APPLICABLE, PASSED, WARNED
from tests.quality.support import AS_OF, connect

BY_NAME = {r.name: r for r in mart_gate.RECONCILIATIONS}


@pytest.fixture
def warehouse(tmp_path):
    """Raw won deals, their fct_opportunities rows and mart_sales_kpis, consistent."""
    path = tmp_path / "warehouse.duckdb"
    con = connect(path)
    con.execute(
        "CREATE SCHEMA raw_salesforce; CREATE SCHEMA raw_hubspot; CREATE SCHEMA marts; CREATE SCHEMA raw_meta"
    )
    con.execute(
        """
        CREATE TABLE raw_salesforce.opportunity AS SELECT * FROM (VALUES
            ('006A', true, 100.0, 'EUR', false, false),
            ('006B', true, 200.0, 'USD', false, false),
            ('006C', false, 300.0, 'USD', false, false),
            ('006D', true, 400.0, 'USD', true, false),   -- deleted
            ('006E', true, -50.0, 'USD', false, false)   -- quarantined
        ) t(id, is_won, amount, currency_iso_code, _is_deleted, is_deleted)
        """
    )
    con.execute(
        """
        CREATE TABLE raw_hubspot.deals AS SELECT * FROM (VALUES
            ('9001', true, 70.0, 'USD', false, false)
        ) t(id, hs_is_closed_won, amount, deal_currency_code, _is_deleted, archived)
        """
    )
    con.execute(
        "CREATE TABLE raw_meta.quarantined_keys AS SELECT 'salesforce' AS source, "
        "'opportunity' AS stream, '006E' AS primary_key, 'invalid_negative_amount' AS reason"
    )
    con.execute(
        """
        CREATE TABLE marts.fct_opportunities AS SELECT * FROM (VALUES
            ('006A', true, DATE '2026-10-10', 110.0, 100.0, 'EUR', 'salesforce', 'FY2026-Q4'),
            ('006B', true, DATE '2026-08-01', 200.0, 200.0, 'USD', 'salesforce', 'FY2026-Q3'),
            ('006C', false, DATE '2026-12-20', 300.0, 300.0, 'USD', 'salesforce', NULL),
            ('9001', true, DATE '2026-10-01', 70.0, 70.0, 'USD', 'hubspot', 'FY2026-Q4')
        ) t(opportunity_id, is_won, close_date, opportunity_amount, original_amount,
            currency_code, source_system, fiscal_quarter_closed)
        """
    )
    con.execute(
        """
        CREATE TABLE marts.mart_sales_kpis AS SELECT * FROM (VALUES
            ('005A', 'FY2026-M08', 'FY2026-Q3', 200.0),
            ('005A', 'FY2026-M10', 'FY2026-Q4', 110.0),
            ('005B', 'FY2026-M10', 'FY2026-Q4', 70.0),
            ('005B', 'FY2026-M11', 'FY2026-Q4', 0.0)
        ) t(rep_id, fiscal_month, fiscal_quarter, bookings_amount)
        """
    )
    con.close()
    return path


def reconcile(path, name):
    con = connect(path)
    try:
        return mart_gate.reconcile(con, BY_NAME[name], as_of=AS_OF)
    finally:
        con.close()


def test_bookings_reconcile_across_mart_fact_and_raw(warehouse):
    outcome = reconcile(warehouse, "reconcile_bookings")
    assert outcome.status == PASSED, outcome.describe()
    assert "3 won deals in raw" in outcome.message


def test_bookings_mismatch_between_mart_and_fact_fails(warehouse):
    con = connect(warehouse)
    con.execute(
        "UPDATE marts.mart_sales_kpis SET bookings_amount = 75.0 WHERE rep_id = '005B' AND fiscal_month = 'FY2026-M10'"
    )
    con.close()
    outcome = reconcile(warehouse, "reconcile_bookings")
    assert outcome.status == FAILED
    assert "kpis_equal_fct_won" in outcome.describe()
    assert "FY2026-Q4: kpis 185.00 vs fct 180.00" in outcome.describe()


def test_a_won_deal_lost_between_raw_and_fact_fails(warehouse):
    con = connect(warehouse)
    con.execute("DELETE FROM marts.fct_opportunities WHERE opportunity_id = '9001'")
    con.execute("DELETE FROM marts.mart_sales_kpis WHERE rep_id = '005B'")
    con.close()
    outcome = reconcile(warehouse, "reconcile_bookings")
    assert outcome.status == FAILED
    assert "hubspot USD: raw 1 deals 70.00 vs fct 0 deals 0.00" in outcome.describe()


def test_quarantined_rows_are_not_expected_downstream(warehouse):
    con = connect(warehouse)
    con.execute("DELETE FROM raw_meta.quarantined_keys")
    con.close()
    outcome = reconcile(warehouse, "reconcile_bookings")
    assert outcome.status == FAILED
    assert "salesforce USD: raw 2 deals 150.00 vs fct 1 deals 200.00" in outcome.describe()


@pytest.mark.parametrize(
    ("name", "mart"),
    [
        ("reconcile_quota_rollup", "mart_quota_rollup"),
        ("reconcile_forecast_closed_won", "mart_forecast"),
        ("reconcile_attribution_weights", "fct_attribution_touches"),
    ],
)
def test_reconciliation_of_a_mart_not_built_yet_is_not_applicable(warehouse, name, mart):
    outcome = reconcile(warehouse, name)
    assert outcome.status == NOT_APPLICABLE and outcome.passed
    assert outcome.message == f"not applicable: {mart} not built"


def add_quota_rollup(path, company_bookings: float = 380.0) -> None:
    con = connect(path)
    con.execute(
        f"""
        CREATE TABLE marts.mart_quota_rollup AS SELECT * FROM (VALUES
            ('rep', '005A', 'quarter', 'FY2026-Q4', 1000.0, 110.0),
            ('rep', '005B', 'quarter', 'FY2026-Q4', 500.0, 270.0),
            ('manager', '005M', 'quarter', 'FY2026-Q4', 1500.0, 380.0),
            ('company', 'company', 'quarter', 'FY2026-Q4', 1500.0, {company_bookings})
        ) t(level, entity_id, period_type, fiscal_period, quota_amount, bookings_amount)
        """
    )
    con.close()


def test_quota_rollup_adds_up(warehouse):
    add_quota_rollup(warehouse)
    outcome = reconcile(warehouse, "reconcile_quota_rollup")
    assert outcome.status == PASSED, outcome.describe()


def test_quota_rollup_that_does_not_add_up_fails(warehouse):
    add_quota_rollup(warehouse, company_bookings=400.0)
    outcome = reconcile(warehouse, "reconcile_quota_rollup")
    assert outcome.status == FAILED
    text = outcome.describe()
    assert (
        "bookings_amount_adds_up" in text
        and "quarter FY2026-Q4 rep: 380.00 vs company 400.0" in text
    )


def add_forecast(path, closed_won: float) -> None:
    con = connect(path)
    con.execute(
        f"""
        CREATE TABLE marts.mart_forecast AS SELECT * FROM (VALUES
            (DATE '{AS_OF}', 'FY2026-Q4', 'company', 'company', {closed_won}),
            (DATE '{AS_OF}', 'FY2026-Q4', 'rep', '005A', 110.0),
            (DATE '2026-10-01', 'FY2026-Q4', 'company', 'company', 0.0)
        ) t(as_of_date, fiscal_quarter, level, entity_id, closed_won_amount)
        """
    )
    con.close()


def test_forecast_closed_won_equals_bookings(warehouse):
    add_forecast(warehouse, 180.0)
    assert reconcile(warehouse, "reconcile_forecast_closed_won").status == PASSED


def test_forecast_closed_won_different_from_bookings_fails(warehouse):
    add_forecast(warehouse, 150.0)
    outcome = reconcile(warehouse, "reconcile_forecast_closed_won")
    assert outcome.status == FAILED
    assert "FY2026-Q4: forecast 150.00 vs bookings 180.00" in outcome.describe()


def add_attribution(path, last_weight: float) -> None:
    con = connect(path)
    con.execute(
        f"""
        CREATE TABLE marts.fct_attribution_touches AS SELECT * FROM (VALUES
            ('006A', 't1', 'linear', 0.5), ('006A', 't2', 'linear', 0.5),
            ('006A', 't1', 'first_touch', 1.0), ('006A', 't2', 'first_touch', 0.0),
            ('006B', 't3', 'linear', 0.25), ('006B', 't4', 'linear', {last_weight})
        ) t(opportunity_id, touch_id, model, weight)
        """
    )
    con.close()


def test_attribution_weights_sum_to_one(warehouse):
    add_attribution(warehouse, 0.75)
    assert reconcile(warehouse, "reconcile_attribution_weights").status == PASSED


def test_attribution_weights_not_summing_to_one_fail(warehouse):
    add_attribution(warehouse, 0.7)
    outcome = reconcile(warehouse, "reconcile_attribution_weights")
    assert outcome.status == FAILED
    assert "006B linear: 0.950000" in outcome.describe()


def test_volume_against_the_published_version(warehouse):
    con = connect(warehouse)
    try:
        con.execute("CREATE TABLE marts.big AS SELECT range AS id FROM range(100)")
        assert mart_gate.volume(con, "big", {}).message.endswith(
            "no published version to compare with"
        )
        assert mart_gate.volume(con, "big", {"big": 90}).status == PASSED
        dropped = mart_gate.volume(con, "big", {"big": 250})
        assert dropped.status == FAILED
        assert "250 published, 100 built (-60.0%)" in dropped.describe()
        assert mart_gate.volume(con, "big", {"big": 10}).status == PASSED  # too small to judge
        assert mart_gate.volume(con, "big", {"big": 30}).status == PASSED
        assert mart_gate.volume(con, "big", {"big": 20}).status == PASSED
        con.execute("CREATE TABLE marts.grew AS SELECT range AS id FROM range(1000)")
        assert mart_gate.volume(con, "grew", {"grew": 100}).status == WARNED
        con.execute("CREATE TABLE marts.gone AS SELECT 1 AS id WHERE false")
        assert mart_gate.volume(con, "gone", {"gone": 3}).status == FAILED
        assert mart_gate.volume(con, "missing", {"missing": 3}).status == NOT_APPLICABLE
    finally:
        con.close()


def node(columns: dict[str, str], enforced: bool = True) -> dict:
    return {
        "config": {"contract": {"enforced": enforced}},
        "columns": {name: {"data_type": data_type} for name, data_type in columns.items()},
    }


def test_contract_holds_and_breaks(warehouse):
    con = connect(warehouse)
    try:
        con.execute("CREATE TABLE marts.kpi (rep_id VARCHAR, amount DOUBLE, day DATE, n BIGINT)")
        good = node({"rep_id": "varchar", "amount": "double", "day": "date", "n": "bigint"})
        assert mart_gate.contract(con, "kpi", good).status == PASSED
        aliases = node({"rep_id": "text", "amount": "float8", "day": "date", "n": "int8"})
        assert mart_gate.contract(con, "kpi", aliases).status == PASSED
        wrong = mart_gate.contract(con, "kpi", node({"rep_id": "varchar", "amount": "integer"}))
        assert wrong.status == FAILED and "amount: DOUBLE (contract integer)" in wrong.describe()
        missing = mart_gate.contract(con, "kpi", node({"rep_id": "varchar", "quota": "double"}))
        assert missing.status == FAILED and "missing ['quota']" in missing.describe()
        assert mart_gate.contract(con, "kpi", node({}, enforced=False)).status == FAILED
    finally:
        con.close()


def test_mart_nodes_come_from_the_dbt_manifest(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        '{"nodes": {"model.x.a": {"name": "a", "resource_type": "model", "config": {"schema": "marts"}},'
        ' "model.x.b": {"name": "b", "resource_type": "model", "config": {"schema": "staging"}},'
        ' "test.x.c": {"name": "c", "resource_type": "test", "config": {"schema": "marts"}}}}'
    )
    assert list(mart_gate.mart_nodes(manifest)) == ["a"]


def test_as_of_date_bounds_bookings(warehouse):
    con = connect(warehouse)
    try:
        early = mart_gate.reconcile(con, BY_NAME["reconcile_bookings"], as_of=dt.date(2026, 9, 1))
    finally:
        con.close()
    assert early.status == FAILED  # Q4 bookings are in the mart but after this as-of date


def test_restricted_marts_follow_the_dbt_tag_or_meta():
    nodes = {
        "mart_commissions": {"config": {"tags": ["restricted"], "meta": {"restricted": True}}},
        "mart_pay": {"config": {"meta": {"restricted": True}}},
        "mart_bonus": {"tags": ["restricted"], "config": {}},
        "mart_sales_kpis": {"config": {"meta": {}}},
    }
    assert mart_gate.restricted_marts(nodes) == {"mart_commissions", "mart_pay", "mart_bonus"}
