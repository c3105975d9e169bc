"""Alerts: a failing run, a failing gate and a stale mart each post exactly one Slack-style
message with the right content and no secret, whether the run's finalizer or the daemon's
sensors get there first."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import dagster as dg
import pytest
from dagster import DagsterEventType

from orchestration import alerts
from orchestration.defs.alerts.sensors import alert_on_run_failure, stale_marts
from salesops.config import PROJECT_ROOT
from tests.orchestration.conftest import connector_env
from tests.orchestration.gate_job import CHECK

SPAWN = {"execution": {"config": {"start_method": {"spawn": {}}}}}


def _run_gated(instance) -> str:
    result = dg.execute_job(
        dg.build_reconstructable_job("tests.orchestration.gate_job", "gated_job"),
        instance=instance,
        run_config=SPAWN,
        raise_on_error=False,
    )
    assert not result.success
    return result.run_id


def _sensor_context(instance, run_id):
    event = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records[0]
    return dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=event.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
    ).for_run_failure()


def _all_text(message: dict) -> str:
    return json.dumps(message)


def test_a_failing_gate_posts_one_alert_from_the_run(clean_env, instance, receiver):
    run_id = _run_gated(instance)
    assert len(receiver.posts) == 1
    message = receiver.posts[0]
    assert set(message) == {"text", "blocks"}
    text = _all_text(message)
    assert message["text"].startswith("salesops: gated failed")
    assert "1 failed step(s), 1 failed gate(s)" in message["text"]
    assert f"/runs/{run_id}" in message["text"]
    assert f"`test/gated_table` `{CHECK}` (error): fct_opportunities has 13 won deals" in text
    assert (
        "`test__gated_table`: DagsterAssetCheckFailedError: 1 blocking asset check failed" in text
    )
    assert receiver.secret_path not in receiver.texts()[0]
    assert instance.get_run_by_id(run_id).tags[alerts.ALERT_TAG].endswith("by run")
    # the daemon's sensor sees the tag and stays quiet
    alert_on_run_failure(_sensor_context(instance, run_id))
    assert len(receiver.posts) == 1


def test_the_sensor_alerts_when_the_run_could_not(clean_env, instance, receiver, monkeypatch):
    monkeypatch.delenv("SALESOPS_ALERT_WEBHOOK_URL")
    run_id = _run_gated(instance)  # alerts off during the run
    assert receiver.posts == []
    monkeypatch.setenv("SALESOPS_ALERT_WEBHOOK_URL", receiver.url)
    alert_on_run_failure(_sensor_context(instance, run_id))
    alert_on_run_failure(_sensor_context(instance, run_id))
    assert len(receiver.posts) == 1
    assert CHECK in _all_text(receiver.posts[0])
    assert instance.get_run_by_id(run_id).tags[alerts.ALERT_TAG].endswith("by sensor")


@pytest.mark.slow
def test_a_failing_run_posts_one_alert_without_secrets(
    clean_env, dagster_home, receiver, emulator, tmp_path
):
    """``salesops run`` of the ingest job with a rejected Salesforce secret: exit 1, one alert
    naming the failed step, no secret anywhere in the message or the command's output."""
    env = {**os.environ, **connector_env(emulator, hubspot=False, google_ads=False)}
    env["SALESFORCE_CLIENT_SECRET"] = "sf-wrong-SECRET-7c1e9a"
    completed = subprocess.run(
        [sys.executable, "-m", "salesops.cli", "run", "--job", "ingest", "--as-of", "2026-11-26"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-3000:]
    assert "failed step  ingest_salesforce" in completed.stdout
    assert len(receiver.posts) == 1, receiver.posts
    message = receiver.posts[0]
    assert message["text"].startswith("salesops: ingest failed (run ")
    assert "as of 2026-11-26" in message["text"]
    steps = next(
        b["text"]["text"]
        for b in message["blocks"]
        if "Failed steps" in b.get("text", {}).get("text", "")
    )
    assert "`ingest_salesforce`" in steps
    assert "SALESFORCE_CLIENT_SECRET" in steps or "invalid" in steps.lower()
    for secret in (
        "sf-wrong-SECRET-7c1e9a",
        receiver.secret_path,
        emulator.credentials.salesforce_client_id,
    ):
        assert secret not in receiver.texts()[0]
        assert secret not in output
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        alert_on_run_failure(_sensor_context(instance, run.run_id))
    assert len(receiver.posts) == 1


def test_a_stale_mart_posts_one_alert_per_episode(clean_env, instance, receiver, monkeypatch):
    key = dg.AssetKey(["marts", "mart_sales_kpis"])
    fresh = dg.AssetKey(["marts", "dim_reps"])
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=30)
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=fresh))
    assert alerts.alert_stale_marts(instance, [key], now=later) == ["marts/mart_sales_kpis"]
    assert alerts.alert_stale_marts(instance, [key], now=later + dt.timedelta(hours=1)) == []
    assert len(receiver.posts) == 1
    message = receiver.posts[0]
    assert message["text"].startswith("salesops: mart marts/mart_sales_kpis is stale")
    assert "limit 26 h" in _all_text(message)
    assert receiver.secret_path not in receiver.texts()[0]

    # the daemon's sensor (with a limit that makes both marts stale now) only adds dim_reps
    monkeypatch.setenv("SALESOPS_MART_MAX_AGE_HOURS", "0")
    result = stale_marts(dg.build_sensor_context(instance=instance))
    assert "marts/dim_reps" in str(result)
    assert [p["text"].split(" is stale")[0] for p in receiver.posts] == [
        "salesops: mart marts/mart_sales_kpis",
        "salesops: mart marts/dim_reps",
    ]
    # a new materialization that goes stale again is a new episode
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    assert alerts.alert_stale_marts(instance, [key], now=later + dt.timedelta(hours=2)) == [
        "marts/mart_sales_kpis"
    ]
    assert len(receiver.posts) == 3


def test_no_webhook_no_alert(clean_env, instance):
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=dg.AssetKey(["marts", "x"]))
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    assert alerts.alert_stale_marts(instance, [dg.AssetKey(["marts", "x"])], now=later) == []


def test_redaction_masks_every_secret_value(monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-SECRET-42")
    monkeypatch.setenv("SALESOPS_ALERT_WEBHOOK_URL", "https://hooks.example/services/T/B/SECRET")
    text = "Bearer pat-na1-SECRET-42 rejected; posted to https://hooks.example/services/T/B/SECRET"
    assert alerts.redact(text) == "Bearer *** rejected; posted to ***"
