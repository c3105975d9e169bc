"""The run's row in the status database, written by the run finalizer after the last step.

Gate steps write their own outcomes as they run (so a crash later loses nothing); this adds
what no gate step writes: the dbt tests (the model gate: every check evaluation without
``salesops_gate`` metadata), a ``skipped`` publish row when the run planned ``publish`` and it
did not run, and the ``runs`` row (passed or failed, failed steps and gates, published version).
"""

import dagster as dg
from dagster import DagsterEventType

from orchestration import alerts
from orchestration.asof import run_as_of
from orchestration.quality import status
from orchestration.quality.outcome import FAILED, PASSED, SKIPPED, WARNED, CheckOutcome
from salesops.config import load_settings

PUBLISH_KEY = dg.AssetKey(["publish"])


def _evaluations(instance: dg.DagsterInstance, run_id: str) -> list:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
    ).records
    return [
        r.event_log_entry.dagster_event.event_specific_data
        for r in records
        if r.event_log_entry.dagster_event
    ]


def _publication(instance: dg.DagsterInstance, run_id: str) -> str | None:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=100_000
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None or event.asset_key != PUBLISH_KEY:
            continue
        value = event.event_specific_data.materialization.metadata.get("version")
        return str(getattr(value, "value", value)) if value is not None else ""
    return None


def _planned(instance: dg.DagsterInstance, run_id: str) -> bool:
    """The run's plan included the publish asset."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=100_000
    ).records
    return any(
        r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.asset_key == PUBLISH_KEY
        for r in records
    )


def _value(metadata, key):
    value = metadata.get(key)
    return getattr(value, "value", value)


def record_run_status(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Write the model gate's results and the run row; returns log lines."""
    settings = load_settings()
    run = instance.get_run_by_id(run_id)
    record = instance.get_run_record_by_id(run_id)
    created = record.create_timestamp.timestamp() if record else None
    as_of = run_as_of(run.tags if run else {}, created, settings.timezone)
    evaluations = _evaluations(instance, run_id)
    already = status.recorded_checks(settings.status, run_id)
    outcomes = []
    passed = failed = warned = 0
    for data in evaluations:
        severity = data.severity.value.lower() if data.severity else "error"
        if data.passed:
            passed += 1
        elif severity == "warn":
            warned += 1
        else:
            failed += 1
        key = data.asset_key.to_user_string()
        if _value(data.metadata, "salesops_gate") or (key, data.check_name) in already:
            continue
        outcome = CheckOutcome(
            "model",
            key,
            data.check_name,
            status=PASSED if data.passed else (WARNED if severity == "warn" else FAILED),
            message=alerts._check_detail(data) if not data.passed else "dbt test passed",
        )
        failed_rows = _value(data.metadata, "dagster_dbt/failed_row_count")
        if failed_rows is not None:
            outcome.metrics["failed_row_count"] = failed_rows
        outcomes.append(outcome)
    version = _publication(instance, run_id)
    job = run.job_name if run else None
    if version is None and _planned(instance, run_id) and ("publish", "publish") not in already:
        outcomes.append(
            CheckOutcome(
                "publish",
                "publish",
                "publish",
                status=SKIPPED,
                message="not published: a gate or step before it failed; serving is unchanged",
            )
        )
    status.record_outcomes(settings.status, run_id, as_of, outcomes)
    failures = alerts.collect_failures(instance, run_id)
    ok = not failures
    status.record_run(
        settings.status,
        run_id=run_id,
        job_name=job,
        as_of=as_of,
        status="passed" if ok else "failed",
        checks=(passed, failed, warned),
        failed_steps=[s.step_key for s in failures.steps],
        failed_gates=[f"{g.asset_key} {g.check_name}" for g in failures.gates],
        published=version is not None,
        serving_version=version,
    )
    return [
        f"status recorded in {settings.status}: run {'passed' if ok else 'failed'}, "
        f"{passed} check(s) passed, {failed} failed, {warned} warned"
        + (f", published {version}" if version else ", not published")
    ]
