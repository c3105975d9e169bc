"""``salesops run``: nightly_refresh end to end on the tiny emulator, on a persistent instance
with the project's executor (multiprocess): success, the brief (and serving once published),
per-stream metadata, dbt checks, and no configured secret anywhere in Dagster's records."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dagster as dg
import pytest
from dagster import DagsterEventType
from dagster._serdes import serialize_value

from emulator.server.core import Credentials
from orchestration.asof import AS_OF_TAG
from salesops.config import PROJECT_ROOT
from tests.orchestration.conftest import connector_env, read_text_files

SECRETS = Credentials(
    salesforce_client_id="sf-client-e2e-4d2a",
    salesforce_client_secret="sf-SECRET-e2e-5b7d",
    salesforce_refresh_token="sf-refresh-SECRET-e2e-8e1f",
    hubspot_token="pat-SECRET-e2e-9c2f",
    google_ads_developer_token="ga-dev-SECRET-e2e-3a1b",
)


def _materializations(instance, run_id) -> dict[str, dict]:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=100_000
    ).records
    result = {}
    for record in records:
        event = record.event_log_entry.dagster_event
        metadata = event.event_specific_data.materialization.metadata
        result[event.asset_key.to_user_string()] = {
            k: getattr(v, "value", v) for k, v in metadata.items()
        }
    return result


@pytest.mark.slow
def test_nightly_refresh_end_to_end(clean_env, dagster_home, receiver, make_emulator, tmp_path):
    running = make_emulator(credentials=SECRETS)
    env = {**os.environ, **connector_env(running)}
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "salesops.cli", "run", "--as-of", "2026-11-26"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.monotonic() - started
    output = completed.stdout + completed.stderr
    (tmp_path / "run.log").write_text(output)
    assert completed.returncode == 0, output[-5000:]
    assert "nightly_refresh" in completed.stdout and "succeeded" in completed.stdout
    print(f"nightly_refresh on tiny: {seconds:.0f}s")

    data = clean_env
    assert (data / "brief.html").exists()
    brief = (data / "brief.html").read_text()
    assert "Sales brief, as of 2026-11-26" in brief
    assert "Stage funnel" in brief and "<svg" in brief
    assert "<script" not in brief and "src=" not in brief

    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        assert run.job_name == "nightly_refresh"
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags[AS_OF_TAG] == "2026-11-26"
        built = _materializations(instance, run.run_id)

        opportunity = built["raw/salesforce/opportunity"]
        assert opportunity["status"] == "success"
        assert opportunity["rows_inserted"] > 0 and opportunity["pages"] >= 1
        for key in (
            "rows_updated",
            "rows_deleted",
            "rows_quarantined",
            "retries",
            "cursor",
            "duration_seconds",
        ):
            assert key in opportunity
        assert built["raw/hubspot/deals_companies_associations"]["landed_with"] == "deals"
        assert built["raw/google_ads/campaign_daily_metrics"]["rows_inserted"] > 0
        assert "marts/fct_opportunities" in built and "staging/stg_hubspot__deals" in built

        checks = instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
        ).records
        assert len(checks) > 100
        failed = [
            r.event_log_entry.dagster_event.event_specific_data
            for r in checks
            if not r.event_log_entry.dagster_event.event_specific_data.passed
        ]
        assert [f for f in failed if f.severity == dg.AssetCheckSeverity.ERROR] == []

        brief_event = instance.get_latest_materialization_event(
            dg.AssetKey(["reporting", "sales_brief"])
        )
        assert brief_event is not None

        messages = [e.user_message for e in instance.all_logs(run.run_id)]
        assert any('"as_of_date": "2026-11-26"' in m and "google_ads" in m for m in messages)
        assert any("--exclude-resource-type unit_test" in m for m in messages)

        if "publish" in built:
            assert (data / "serving.duckdb").exists()

        # no secret in the event log, run config, tags, compute logs or the command's output
        records = serialize_value(instance.all_logs(run.run_id))
        haystacks = {
            "event log": records,
            "run": serialize_value(run),
            "job snapshot": serialize_value(instance.get_job_snapshot(run.job_snapshot_id)),
            "plan snapshot": serialize_value(
                instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            ),
            "DAGSTER_HOME": read_text_files(dagster_home),
            "output": output,
            "brief": brief,
        }
    secrets = [
        SECRETS.salesforce_client_secret,
        SECRETS.salesforce_refresh_token,
        SECRETS.hubspot_token,
        SECRETS.google_ads_developer_token,
        receiver.secret_path,
    ]
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} found in the {where}"
    assert receiver.posts == []  # a clean night alerts nobody
