"""Google Ads source against the emulator: backfill, the trailing re-pull of restated days,
token expiry, faults, the daily quota and configuration."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from connectors.destinations import DuckDBDestination
from connectors.google_ads import from_env, gaql
from connectors.http import DailyLimitExceeded
from connectors.streams import sync_source
from salesops.config import ConfigError
from tests.connectors import hubspot_support
from tests.connectors.hubspot_support import (
    ads_env,
    assert_all_succeeded,
    compare_rows,
    expected_ads,
    make_ads_source,
    run_sync,
    table_rows,
)

TABLE = "campaign_daily_metrics"

shared_orgs = hubspot_support.shared_orgs  # emulators of this module share their org
pytestmark = pytest.mark.usefixtures("shared_orgs")


def ads_rows(warehouse):
    return table_rows(warehouse, TABLE, schema="raw_google_ads")


def stored_dates(warehouse) -> tuple[dt.date, dt.date]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT min(date), max(date) FROM raw_google_ads.{TABLE}").fetchone()


def test_first_run_backfills_three_years_and_equals_the_emulator(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_ads_source(emulator)
    runs = run_sync(emulator, warehouse, source=source)
    assert_all_succeeded(runs)
    assert runs[0].mode == "full"
    expected = expected_ads(emulator.state)
    rows = ads_rows(warehouse)
    assert len(rows) == len(expected) > 1000
    assert compare_rows(TABLE, rows, expected) == []
    # Three years before the server's today reaches back past the account's first day.
    today = source.today()
    assert today == emulator.state.now().date()
    first, _last = stored_dates(warehouse)
    assert first == min(dt.date.fromisoformat(k[2]) for k in expected)
    assert first > today.replace(year=today.year - 3)


def test_column_types(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(
        run_sync(emulator, warehouse, source=make_ads_source(emulator, start_date=dt.date(2026, 11, 1)))
    )  # fmt: skip
    with duckdb.connect(str(warehouse), read_only=True) as con:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                f"WHERE schema_name = 'raw_google_ads' AND table_name = '{TABLE}'"
            ).fetchall()
        )
    assert types == {
        "customer_id": "VARCHAR",
        "campaign_id": "VARCHAR",
        "campaign_name": "VARCHAR",
        "campaign_status": "VARCHAR",
        "date": "DATE",
        "cost_micros": "BIGINT",
        "clicks": "BIGINT",
        "impressions": "BIGINT",
        "conversions": "DOUBLE",
        "_synced_at": "TIMESTAMP WITH TIME ZONE",
        "_sync_id": "VARCHAR",
        "_is_deleted": "BOOLEAN",
        "_row_hash": "VARCHAR",
    }


def test_start_date_is_configurable(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    start = dt.date(2026, 10, 1)
    source = make_ads_source(emulator, start_date=start)
    assert_all_succeeded(run_sync(emulator, warehouse, source=source))
    expected = {k: r for k, r in expected_ads(emulator.state).items() if k[2] >= start.isoformat()}
    assert compare_rows(TABLE, ads_rows(warehouse), expected) == []


def test_restated_days_are_updated_in_place_and_versions_keep_the_old_values(
    make_emulator, tmp_path
):
    running = make_emulator()
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(running, warehouse, source=make_ads_source(running)))
    before = ads_rows(warehouse)
    first_sync_ids = set(_sync_ids(warehouse).values())

    running.state.advance(1)
    runs = run_sync(running, warehouse, source=make_ads_source(running))
    assert_all_succeeded(runs)
    assert runs[0].mode == "incremental"
    after = ads_rows(warehouse)
    expected = expected_ads(running.state)
    assert compare_rows(TABLE, after, expected) == []

    # Only the trailing window was read again: 7 days before the last date seen, to today.
    last_seen = max(dt.date.fromisoformat(k[2]) for k in before)
    repulled = {k for k in expected if k[2] >= (last_seen - dt.timedelta(days=7)).isoformat()}
    assert runs[0].fetched == len(repulled)
    assert {k for k, sync in _sync_ids(warehouse).items() if sync not in first_sync_ids} == (
        repulled
    )

    restated = [k for k in before if after[k] != before[k]]
    assert restated, "the premise: recent days were restated"
    assert all(k in repulled for k in restated)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for key in restated:
            versions = con.execute(
                f"SELECT clicks, cost_micros, conversions FROM raw_google_ads.{TABLE}__versions "
                "WHERE customer_id = ? AND campaign_id = ? AND date = ? ORDER BY _synced_at",
                list(key),
            ).fetchall()
            old, new = before[key], after[key]
            assert versions == [
                (int(old["clicks"]), int(old["cost_micros"]), old["conversions"]),
                (int(new["clicks"]), int(new["cost_micros"]), new["conversions"]),
            ]


def _sync_ids(warehouse) -> dict[tuple, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            f"SELECT customer_id, campaign_id, CAST(date AS VARCHAR), _sync_id "
            f"FROM raw_google_ads.{TABLE}"
        ).fetchall()
    return {(a, b, c): s for a, b, c, s in rows}


def test_an_expired_access_token_is_refreshed(make_emulator, tmp_path):
    running = make_emulator(faults="token_expiry=3")
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_ads_source(running, chunk_days=60)
    assert_all_succeeded(run_sync(running, warehouse, source=source))
    assert source.client.stats.auth_refreshes >= 3
    assert compare_rows(TABLE, ads_rows(warehouse), expected_ads(running.state)) == []


@pytest.mark.parametrize(
    "faults",
    [
        "rate_limit=0.3",
        "server_error=0.3",
        "disconnect=0.2",
        "truncate=0.2",
        "rate_limit=0.1,server_error=0.1,disconnect=0.1,truncate=0.1,token_expiry=4,slow=0.1,"
        "slow_seconds=0.02",
    ],
    ids=["rate_limit", "server_error", "disconnect", "truncate", "combined"],
)
def test_faults_end_in_the_same_table(faults, make_emulator, tmp_path):
    running = make_emulator(faults=faults)
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_ads_source(running, chunk_days=60)
    assert_all_succeeded(run_sync(running, warehouse, source=source))
    assert source.client.stats.retries > 0
    assert compare_rows(TABLE, ads_rows(warehouse), expected_ads(running.state)) == []


def test_the_daily_quota_stops_the_run_at_once(make_emulator, tmp_path):
    running = make_emulator()
    source = make_ads_source(running)
    specs = source.streams()
    source.server_now()  # token and probe while there was quota left
    running.state.faults.update({"daily_limit": 1})
    before = source.client.stats.requests
    with (
        DuckDBDestination(tmp_path / "w.duckdb").open_sync("google_ads") as sync,
        pytest.raises(DailyLimitExceeded) as failure,
    ):
        sync_source(source, sync, specs)
    assert source.client.stats.requests - before == 1
    assert "daily operations quota" in str(failure.value)
    assert "Not retrying" in str(failure.value)


def test_configuration_from_the_environment(emulator, tmp_path):
    env = ads_env(emulator)
    source = from_env({**env, "GOOGLE_ADS_LOGIN_CUSTOMER_ID": "987-654-3210"})
    try:
        assert source.customer_id == "1234567890"
        assert source.client.auth.login_customer_id == "9876543210"
        # The emulator checks the developer token and the login-customer-id header.
        warehouse = tmp_path / "warehouse.duckdb"
        source.settings = type(source.settings)(
            customer_id="1234567890", start_date=dt.date(2026, 11, 20)
        )
        assert_all_succeeded(run_sync(emulator, warehouse, source=source))
        assert len(ads_rows(warehouse)) > 0
    finally:
        source.close()
    for name, value, needle in [
        ("GOOGLE_ADS_CUSTOMER_ID", "", "GOOGLE_ADS_CUSTOMER_ID is not set"),
        ("GOOGLE_ADS_CUSTOMER_ID", "12a-456", "GOOGLE_ADS_CUSTOMER_ID must be"),
        ("GOOGLE_ADS_LOGIN_CUSTOMER_ID", "manager", "GOOGLE_ADS_LOGIN_CUSTOMER_ID must be"),
        ("GOOGLE_ADS_CLIENT_SECRET", "", "GOOGLE_ADS_CLIENT_SECRET is not set"),
        ("GOOGLE_ADS_BASE_URL", "googleads.example", "GOOGLE_ADS_BASE_URL="),
    ]:
        with pytest.raises(ConfigError, match=needle):
            from_env({**env, name: value})


def test_the_query_is_gaql_over_a_closed_date_range():
    query = gaql(dt.date(2024, 6, 1), dt.date(2024, 6, 7))
    assert "FROM campaign" in query
    assert "segments.date BETWEEN '2024-06-01' AND '2024-06-07'" in query
    assert "metrics.cost_micros" in query and "ORDER BY segments.date, campaign.id" in query
