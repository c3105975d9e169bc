"""HubSpot and Google Ads: hostile property names, the daily limit, secrets, configuration and
the extract command."""

from __future__ import annotations

import logging

import duckdb
import pytest

import emulator.server.hubspot as emulated
from connectors.destinations import DuckDBDestination
from connectors.extract import SOURCES, choose_sources, extract
from connectors.http import AuthenticationError, DailyLimitExceeded
from connectors.hubspot import from_env, parse_properties
from connectors.streams import sync_source
from emulator.schema import HsProperty
from salesops.config import ConfigError
from tests.connectors import hubspot_support
from tests.connectors.hubspot_support import (
    ads_env,
    assert_all_succeeded,
    compare_rows,
    expected_objects,
    hs_env,
    make_ads_source,
    make_source,
    relax_search,
    run_sync,
    table_rows,
)

HOSTILE = 'evil"; DROP TABLE raw_hubspot.deals; --'

shared_orgs = hubspot_support.shared_orgs  # emulators of this module share their org
pytestmark = pytest.mark.usefixtures("shared_orgs")


def test_hostile_property_names_are_never_requested_nor_loaded(
    make_emulator, tmp_path, monkeypatch, caplog
):
    """The portal's admin creates properties whose names are not safe columns, collide with a
    record column or use the loader's ``_`` prefix: each is left out with a warning naming it."""
    real_catalogue = emulated.property_catalogue
    hostile = [HOSTILE, "archived", "_is_deleted", "Amount", "x" * 80]

    def catalogue(state, obj):
        props = dict(real_catalogue(state, obj))
        if obj == "deals":
            for name in hostile:
                props[name] = HsProperty(name, "string", "text", hubspot_defined=False)
        return props

    monkeypatch.setattr(emulated, "property_catalogue", catalogue)
    running = make_emulator(seed=2)
    relax_search(running)
    warehouse = tmp_path / "warehouse.duckdb"
    with caplog.at_level(logging.WARNING, logger="connectors.hubspot"):
        runs = run_sync(running, warehouse, streams=["deals"])
    assert_all_succeeded(runs)
    for name in hostile:
        assert f"hubspot deals: name {name!r}" in caplog.text
    assert "it was not loaded" in caplog.text
    assert "collides with the record column" in caplog.text
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw_hubspot' "
                "AND table_name = 'deals'"
            ).fetchall()
        }
    assert not {c for c in columns if "evil" in c or "drop" in c.lower() or c == "Amount"}
    monkeypatch.setattr(emulated, "property_catalogue", real_catalogue)
    rows = table_rows(warehouse, "deals")
    assert compare_rows("deals", rows, expected_objects(running.state, "deals")) == []
    assert all(isinstance(row["archived"], bool) for row in rows.values())


def test_parse_properties_types_and_rejections():
    payload = {
        "results": [
            {"name": "hs_lastmodifieddate", "type": "datetime"},
            {"name": "amount", "type": "number"},
            {"name": "closedate", "type": "date"},
            {"name": "hs_is_closed", "type": "bool"},
            {"name": "dealstage", "type": "enumeration"},
            {"name": "odd", "type": "phone_number"},
            {"name": "gone", "type": "string", "archived": True},
            {"name": "id", "type": "string"},
            {"name": "Robert'); DROP TABLE deals;--", "type": "string"},
        ]
    }
    schema = parse_properties("deals", payload)
    assert schema.columns == {
        "id": "VARCHAR",
        "created_at": "TIMESTAMPTZ",
        "updated_at": "TIMESTAMPTZ",
        "archived": "BOOLEAN",
        "archived_at": "TIMESTAMPTZ",
        "hs_lastmodifieddate": "TIMESTAMPTZ",
        "amount": "DOUBLE",
        "closedate": "DATE",
        "hs_is_closed": "BOOLEAN",
        "dealstage": "VARCHAR",
        "odd": "VARCHAR",
    }
    assert set(schema.rejected) == {"id", "Robert'); DROP TABLE deals;--"}
    with pytest.raises(Exception, match="no lastmodifieddate property"):
        parse_properties("contacts", {"results": [{"name": "email", "type": "string"}]})


def test_the_daily_limit_stops_the_run_at_once_with_a_clear_message(make_emulator, tmp_path):
    running = make_emulator(seed=2)
    source = make_source(running)
    specs = source.streams()  # properties read while there was allocation left
    running.state.faults.update({"daily_limit": 1})
    before = source.client.stats.requests
    with (
        DuckDBDestination(tmp_path / "w.duckdb").open_sync("hubspot") as sync,
        pytest.raises(DailyLimitExceeded) as failure,
    ):
        sync_source(source, sync, specs)
    assert source.client.stats.requests - before == 1, "no retries, no other streams"
    message = str(failure.value)
    assert "[DAILY]" in message and "daily API call limit" in message
    assert "Not retrying" in message


def test_the_daily_limit_fails_the_extract_command(make_emulator, tmp_path):
    running = make_emulator(seed=2, faults="daily_limit=1")
    env = {**hs_env(running), "SALESOPS_WAREHOUSE": str(tmp_path / "w.duckdb")}
    result = extract(["hubspot"], env=env)
    assert not result.ok
    assert len(result.errors) == 1 and "daily API call limit" in result.errors[0]
    assert running.state.calls == 1


def test_secrets_never_reach_logs_or_errors(make_emulator, tmp_path, caplog):
    faults = "rate_limit=0.1,server_error=0.1,disconnect=0.05,truncate=0.05"
    running = make_emulator(seed=2, faults=faults)
    relax_search(running)
    hs, ads = hs_env(running), ads_env(running)
    secrets = [
        hs["HUBSPOT_ACCESS_TOKEN"],
        ads["GOOGLE_ADS_CLIENT_SECRET"],
        ads["GOOGLE_ADS_REFRESH_TOKEN"],
        ads["GOOGLE_ADS_DEVELOPER_TOKEN"],
    ]
    issued: list[str] = []
    issue_token = running.state.issue_token

    def recording(api, prefix=""):
        token = issue_token(api, prefix)
        issued.append(token)
        return token

    running.state.issue_token = recording
    messages = []
    with caplog.at_level(logging.DEBUG):
        assert_all_succeeded(run_sync(running, tmp_path / "hs.duckdb", max_attempts=15))
        source = make_ads_source(running, max_attempts=15, start_date=None, chunk_days=120)
        assert_all_succeeded(run_sync(running, tmp_path / "ads.duckdb", source=source))
        running.state.faults.update({"rate_limit": 0, "server_error": 0, "disconnect": 0,
                                     "truncate": 0})  # fmt: skip
        for env, name in (
            ({**hs, "HUBSPOT_ACCESS_TOKEN": "pat-na1-wrong-" + secrets[0]}, "hubspot"),
            ({**ads, "GOOGLE_ADS_DEVELOPER_TOKEN": "wrong-" + secrets[3]}, "google_ads"),
            ({**ads, "GOOGLE_ADS_CLIENT_SECRET": "wrong-" + secrets[1]}, "google_ads"),
        ):
            env["SALESOPS_WAREHOUSE"] = str(tmp_path / "fail.duckdb")
            result = extract([name], env=env)
            assert not result.ok
            messages += result.errors
    assert any("HUBSPOT_ACCESS_TOKEN" in m for m in messages)
    assert any("GOOGLE_ADS_CLIENT_ID and GOOGLE_ADS_CLIENT_SECRET" in m for m in messages)
    assert issued, "the premise: Google access tokens were issued"
    text = caplog.text + "\n".join(messages)
    assert "retry" in caplog.text  # the faults did happen and were logged
    for secret in [*secrets, *issued]:
        assert secret not in text


def test_hubspot_auth_failure_names_the_variable(make_emulator):
    running = make_emulator(seed=2)
    source = from_env({**hs_env(running), "HUBSPOT_ACCESS_TOKEN": "pat-na1-revoked"})
    with pytest.raises(AuthenticationError, match="check HUBSPOT_ACCESS_TOKEN"):
        source.streams(["deals"])
    assert "pat-na1-revoked" not in repr(source)


def test_sources_are_registered_and_enabled_per_config():
    assert {"salesforce", "hubspot", "google_ads"} <= set(SOURCES)
    assert [e.name for e in choose_sources(None, {"HUBSPOT_ACCESS_TOKEN": "x"})] == ["hubspot"]
    assert [e.name for e in choose_sources(None, {"GOOGLE_ADS_DEVELOPER_TOKEN": "x"})] == [
        "google_ads"
    ]
    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN"):
        choose_sources(["hubspot"], {})
    with pytest.raises(ConfigError, match="HUBSPOT_BASE_URL"):
        from_env({"HUBSPOT_ACCESS_TOKEN": "x", "HUBSPOT_BASE_URL": "api.hubapi.com"})
    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN is not set"):
        from_env({"HUBSPOT_ACCESS_TOKEN": " "})


def test_extract_runs_both_sources_from_the_environment(make_emulator, tmp_path):
    running = make_emulator(seed=2)
    env = {
        **hs_env(running),
        **ads_env(running),
        "SALESOPS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }
    result = extract(
        ["hubspot", "google_ads"],
        ["deal_pipelines", "owners", "campaign_daily_metrics"],
        env=env,
    )
    assert result.ok, result.errors
    assert {(r.source, r.stream) for r in result.runs} == {
        ("hubspot", "deal_pipelines"),
        ("hubspot", "owners"),
        ("google_ads", "campaign_daily_metrics"),
    }
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert (
            con.execute("SELECT count(*) FROM raw_google_ads.campaign_daily_metrics").fetchone()[0]
            > 0
        )
        assert con.execute("SELECT count(*) FROM raw_hubspot.owners").fetchone()[0] > 0
