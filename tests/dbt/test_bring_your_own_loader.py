"""Bring your own loader: the marts build from a hand-written Fivetran-named Salesforce org.

The fixture (tests/dbt/fixtures/fivetran_salesforce.sql) is not produced by our connector: schema
`salesforce`, `_fivetran_synced`/`_fivetran_deleted`, naive UTC timestamps, a single-currency org
without dated rates, territories, quotas, campaigns, version tables or custom fields. The dbt
vars in FIVETRAN_VARS point the project at it and switch HubSpot and Google Ads off.
"""

from __future__ import annotations

import pytest

from tests.dbt.conftest import connect, run_dbt, shared
from tests.dbt.raw_fixture import FIVETRAN_VARS, land_fivetran_fixture

WON = "006000000000WONAAA"
LOST = "006000000000LSTAAA"
OPEN = "006000000000OPNAAA"
NO_AMOUNT = "006000000000NAMAAA"
ALEX = "005000000000AE1AAA"
BO = "005000000000AE2AAA"
MAYA = "005000000000MGRAAA"


def _build(tmp):
    warehouse = tmp / "warehouse.duckdb"
    land_fivetran_fixture(warehouse)
    # A company building on its own data runs models and data tests; unit tests (fixtures, not
    # data) run in development and CI, as dbt recommends (tests/dbt/test_dbt_build.py).
    run = run_dbt(
        ["build", "--exclude-resource-type", "unit_test"],
        warehouse=warehouse,
        work_dir=tmp,
        variables=FIVETRAN_VARS,
    )
    return warehouse, run


@pytest.fixture(scope="module")
def fivetran_build(tmp_path_factory):
    return shared(tmp_path_factory, "dbt_fivetran", _build)


def query(warehouse, sql: str):
    con = connect(warehouse)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_salesforce_only_build_is_clean(fivetran_build):
    _, run = fivetran_build
    assert run.success, run.describe()
    assert not run.warnings, run.describe()
    assert {status for _, status, _ in run.results} <= {"success", "pass", "no-op"}, run.describe()
    built = {uid for uid, _, _ in run.results if uid.startswith("model.")}
    assert not any("stg_hubspot" in uid or "stg_google_ads" in uid for uid in built)
    assert "model.salesops.mart_sales_kpis" in built


def test_opportunities_are_read_from_the_fivetran_tables(fivetran_build):
    warehouse, _ = fivetran_build
    rows = query(
        warehouse,
        "select opportunity_id, status, opportunity_type, currency_code, opportunity_amount, "
        "owner_rep_id, owner_rep_id_at_close, owner_rep_id_at_creation, owner_manager_id_at_close, "
        "probability, forecast_category, ladder_stage, is_amount_missing "
        "from marts.fct_opportunities order by opportunity_id",
    )
    by_id = {row[0]: row[1:] for row in rows}
    # deleted (IsDeleted) and hard-deleted (_fivetran_deleted) deals are gone
    assert set(by_id) == {WON, LOST, OPEN, NO_AMOUNT}
    assert by_id[WON] == (
        "won",
        "new_business",
        "USD",
        50000.0,
        BO,
        ALEX,
        BO,
        MAYA,
        1.0,
        "closed",
        "closed_won",
        False,
    )
    assert by_id[LOST][:4] == ("lost", "expansion", "USD", 20000.0)
    assert by_id[OPEN][:4] == ("open", "renewal", "USD", 30000.0)
    assert by_id[OPEN][8:11] == (0.9, "commit", "negotiation")
    assert by_id[NO_AMOUNT][3] is None and by_id[NO_AMOUNT][11] is True


def test_state_history_uses_opportunity_and_owner_history(fivetran_build):
    warehouse, _ = fivetran_build
    states = query(
        warehouse,
        f"select cast(valid_from as varchar), stage_name, owner_rep_id, original_amount "
        f"from marts.fct_opportunity_states where opportunity_id = '{WON}' order by valid_from",
    )
    assert states == [
        ("2026-01-10 09:00:00", "Prospecting", BO, 40000.0),
        ("2026-02-01 08:00:00", "Prospecting", ALEX, 40000.0),
        ("2026-02-05 14:00:00", "Value Proposition", ALEX, 50000.0),
        ("2026-03-20 16:30:00", "Closed Won", ALEX, 50000.0),
        ("2026-04-02 10:00:00", "Closed Won", BO, 50000.0),
    ]
    # a deal without history rows has one state, from its creation
    assert query(
        warehouse,
        f"select count(*), min(cast(valid_from as varchar)) from marts.fct_opportunity_states "
        f"where opportunity_id = '{NO_AMOUNT}'",
    ) == [(1, "2026-05-01 08:00:00")]


def test_kpis_credit_the_owner_at_close(fivetran_build):
    warehouse, _ = fivetran_build
    rows = query(
        warehouse,
        "select rep_id, fiscal_month, bookings_amount, won_count, lost_count, "
        "won_with_amount_count, open_pipeline_amount, calls, emails, meetings "
        "from marts.mart_sales_kpis "
        "where bookings_amount > 0 or won_count > 0 or lost_count > 0 or open_pipeline_amount > 0 "
        "or calls + emails + meetings > 0 order by rep_id, fiscal_month",
    )
    # open pipeline follows the state history: Bo owned the won deal at January's end, Alex
    # from February; the lost deal was open at April's end; the open deal since October
    assert rows == [
        (ALEX, "FY2026-M02", 0.0, 0, 0, 0, 50000.0, 1, 0, 0),
        (ALEX, "FY2026-M03", 50000.0, 1, 0, 1, 0.0, 0, 0, 0),
        (ALEX, "FY2026-M06", 0.0, 1, 0, 0, 0.0, 0, 0, 0),
        (ALEX, "FY2026-M10", 0.0, 0, 0, 0, 30000.0, 0, 1, 0),
        (ALEX, "FY2026-M11", 0.0, 0, 0, 0, 30000.0, 0, 0, 1),
        (BO, "FY2026-M01", 0.0, 0, 0, 0, 40000.0, 0, 0, 0),
        (BO, "FY2026-M04", 0.0, 0, 0, 0, 20000.0, 0, 0, 0),
        (BO, "FY2026-M05", 0.0, 0, 1, 0, 0.0, 0, 0, 0),
    ]


def test_people_activities_and_leads(fivetran_build):
    warehouse, _ = fivetran_build
    reps = dict(query(warehouse, "select rep_id, manager_name from marts.dim_reps"))
    assert reps == {ALEX: "Maya Manager", BO: "Maya Manager", MAYA: None}
    activities = query(warehouse, "select activity_id from marts.fct_activities order by 1")
    # the task on the deleted deal is gone with it
    assert [a for (a,) in activities] == [
        "00T000000000T01AAA",
        "00T000000000T02AAA",
        "00T000000000T04AAA",
        "00U000000000E01AAA",
    ]
    leads = query(
        warehouse,
        "select lead_id, status, converted_opportunity_id from marts.fct_leads order by 1",
    )
    assert leads == [
        ("00Q000000000L01AAA", "lead", None),
        ("00Q000000000L02AAA", "converted", OPEN),
    ]
    assert query(warehouse, "select count(*) from intermediate.int_contacts_deduplicated") == [(2,)]
