"""Hostile names, the daily limit and secrets: what must never happen, does not."""

from __future__ import annotations

import logging

import duckdb
import pytest

import emulator.server.salesforce as emulated_salesforce
from connectors.auth import SalesforceOAuth
from connectors.destinations import DuckDBDestination
from connectors.extract import extract
from connectors.http import AuthenticationError, DailyLimitExceeded, HttpClient, salesforce_profile
from connectors.salesforce import SalesforceSource
from connectors.streams import sync_source
from emulator.schema import SfField
from tests.connectors.salesforce_support import (
    assert_all_succeeded,
    differences,
    make_source,
    run_sync,
    sf_env,
)

HOSTILE = 'Evil"; DROP TABLE raw_salesforce.opportunity; --'


def test_a_hostile_field_name_is_never_loaded_nor_executed(
    make_emulator, tmp_path, monkeypatch, caplog
):
    # The org's admin "adds" a field with a hostile API name (the emulator's drift field).
    monkeypatch.setattr(
        emulated_salesforce, "DRIFT_FAULT_FIELD", SfField(HOSTILE, "string", custom=True)
    )
    running = make_emulator(faults="schema_drift=1")
    warehouse = tmp_path / "warehouse.duckdb"
    with caplog.at_level(logging.WARNING, logger="connectors.salesforce"):
        runs = run_sync(running, warehouse, streams=["Opportunity"])
    assert_all_succeeded(runs)
    assert f"salesforce Opportunity: name {HOSTILE!r} is not a safe identifier" in caplog.text
    assert "it was not loaded" in caplog.text
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = [
            row[0]
            for row in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'opportunity'"
            ).fetchall()
        ]
    assert not any("drop" in c.lower() or "evil" in c.lower() for c in columns)
    assert differences(warehouse, running.state.view, "Opportunity") == []


def test_the_daily_limit_stops_the_run_at_once_with_a_clear_message(make_emulator, tmp_path):
    running = make_emulator()
    source = make_source(running)
    specs = source.streams()  # token and describes done while there was allocation left
    running.state.faults.update({"daily_limit": 1})
    requests_before = source.client.stats.requests
    with (
        DuckDBDestination(tmp_path / "w.duckdb").open_sync("salesforce") as sync,
        pytest.raises(DailyLimitExceeded) as failure,
    ):
        sync_source(source, sync, specs)
    assert source.client.stats.requests - requests_before == 1, "no retries, no other streams"
    message = str(failure.value)
    assert "REQUEST_LIMIT_EXCEEDED" in message and "allocation" in message
    assert "not retrying" in message.lower() or "instead of retrying" in message


def test_the_daily_limit_fails_the_extract_command(make_emulator, tmp_path):
    running = make_emulator()
    env = {**sf_env(running), "SALESOPS_WAREHOUSE": str(tmp_path / "w.duckdb")}
    calls = {"n": 0}
    issue_token = running.state.issue_token

    def exhaust_after_login(api, prefix=""):
        token = issue_token(api, prefix)
        running.state.faults.update({"daily_limit": 1})  # the allocation ends right after login
        calls["n"] += 1
        return token

    running.state.issue_token = exhaust_after_login
    result = extract(["salesforce"], env=env)
    assert not result.ok
    assert len(result.errors) == 1 and "allocation" in result.errors[0]
    assert calls["n"] == 1


def _issued_tokens(running, monkeypatch) -> list[str]:
    issued: list[str] = []
    issue_token = running.state.issue_token

    def recording(api, prefix=""):
        token = issue_token(api, prefix)
        issued.append(token)
        return token

    monkeypatch.setattr(running.state, "issue_token", recording)
    return issued


def test_secrets_never_reach_logs_errors_or_the_warehouse(
    make_emulator, tmp_path, monkeypatch, caplog
):
    running = make_emulator(faults="token_expiry=4,truncate=0.05,server_error=0.05")
    issued = _issued_tokens(running, monkeypatch)
    credentials = running.credentials
    auth = SalesforceOAuth(
        running.base_url,
        credentials.salesforce_client_id,
        credentials.salesforce_client_secret,
        credentials.salesforce_refresh_token,
    )
    client = HttpClient(salesforce_profile(max_attempts=10), auth=auth, sleep=lambda s: None)
    source = SalesforceSource(client)
    warehouse = tmp_path / "warehouse.duckdb"
    with caplog.at_level(logging.DEBUG):
        runs = run_sync(running, warehouse, source=source)
        running.state.faults.update({"token_expiry": 0, "truncate": 0, "server_error": 0})
        running.state.credentials.salesforce_refresh_token = "rotated-elsewhere"
        running.state.tokens.clear()  # every session ends: the refresh token is now refused
        with pytest.raises(AuthenticationError) as failure:
            run_sync(running, warehouse, source=source)
    assert_all_succeeded(runs)
    assert len(issued) > 3, "premise: tokens were refreshed mid-sync"
    secrets = [
        credentials.salesforce_client_secret,
        "demo-refresh-token",
        *issued,
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = " ".join(
            str(row)
            for table in ("sync_log", "stream_state", "quarantine")
            for row in con.execute(f"SELECT * FROM raw_meta.{table}").fetchall()
        )
    texts = {
        "logs": caplog.text,
        "error": str(failure.value),
        "repr": repr(auth) + repr(source),
        "warehouse": stored,
    }
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret in {where}"
    assert "SALESFORCE_REFRESH_TOKEN" in str(failure.value)


def test_a_wrong_secret_names_the_variable_not_the_value(make_emulator, tmp_path, capsys):
    running = make_emulator()
    env = {
        **sf_env(running),
        "SALESFORCE_CLIENT_SECRET": "wrong-secret-value",
        "SALESOPS_WAREHOUSE": str(tmp_path / "w.duckdb"),
    }
    result = extract(["salesforce"], env=env)
    assert not result.ok
    message = " ".join(result.errors)
    assert "SALESFORCE_CLIENT_SECRET" in message
    assert "wrong-secret-value" not in message
