"""The run finalizer: alerts and the sales brief, from inside every run.

:data:`salesops_executor` is Dagster's multiprocess executor with one addition: when the last
step has finished (succeeded, failed or skipped), the run worker calls :func:`finalize_run`,
which

0. records the run in the status database (``SALESOPS_STATUS``) through the quality
   package's ``record_run_status``, when it is installed;
1. posts **one alert** listing every failed step and gate, if any (:mod:`orchestration.alerts`);
2. posts one alert per **stale mart**;
3. writes the **sales brief** when the run built marts or failed, and reports it as a
   materialization of the ``reporting/sales_brief`` asset.

Doing this in the run worker means it works without the daemon (``salesops run``, a run
launched from the UI); the daemon's sensors are a backstop and skip what was already sent. A
finalizer error is logged to the run and never changes its outcome.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
from collections.abc import Iterator

import dagster as dg
from dagster import DagsterEventType

from orchestration import alerts
from orchestration.asof import run_as_of

BRIEF_KEY = dg.AssetKey(["reporting", "sales_brief"])
PRELOAD_MODULE = "orchestration.preload"


class FinalizingExecutor(dg.Executor):
    """Runs the plan with ``inner``, then :func:`finalize_run`."""

    def __init__(self, inner: dg.Executor) -> None:
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        yield from self._inner.execute(plan_context, execution_plan)
        try:
            known = plan_context.job_def.asset_layer.asset_graph.get_all_asset_keys()
        except Exception:
            known = None
        try:
            for line in finalize_run(plan_context.instance, plan_context.run_id, known):
                log = plan_context.log.warning if " failed: " in line else plan_context.log.info
                log(f"salesops finalizer: {line}")
        except Exception as exc:  # never change the run's outcome
            plan_context.log.warning(
                f"salesops finalizer failed: {type(exc).__name__}: {alerts.redact(str(exc))}"
            )


@dg.executor(
    name="salesops_multiprocess",
    config_schema=dg.multiprocess_executor.config_schema,
    requirements=dg.multiple_process_executor_requirements(),
)
def salesops_executor(init_context) -> dg.Executor:
    """The multiprocess executor (same config) plus the run finalizer. Unless configured
    otherwise, steps start from a forkserver that has the definitions loaded already."""
    from dagster._core.definitions.executor_definition import _core_multiprocess_executor_creation

    config = dict(init_context.executor_config)
    if not config.get("start_method"):
        config["start_method"] = {"forkserver": {"preload_modules": [PRELOAD_MODULE]}}
    return FinalizingExecutor(_core_multiprocess_executor_creation(config))


def _materialized(instance: dg.DagsterInstance, run_id: str) -> set[dg.AssetKey]:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=100_000
    ).records
    return {
        r.event_log_entry.dagster_event.asset_key
        for r in records
        if r.event_log_entry.dagster_event is not None
    }


def _check_counts(instance: dg.DagsterInstance, run_id: str) -> tuple[int, int]:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
    ).records
    passed = failed = 0
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_specific_data.passed:
            passed += 1
        else:
            failed += 1
    return passed, failed


STATUS_HOOK = "orchestration.defs.quality.run_status"


def record_status(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The run's row and gate results in the status database, when the quality package that
    writes it is installed (``record_run_status`` of :data:`STATUS_HOOK`)."""
    try:
        module = importlib.import_module(STATUS_HOOK)
    except ModuleNotFoundError as exc:
        if exc.name is not None and STATUS_HOOK.startswith(exc.name):
            return []  # the quality package is not part of this code location
        raise
    try:
        return list(module.record_run_status(instance, run_id) or [])
    except Exception as exc:  # alerts and the brief still go out
        return [f"status database not updated: {type(exc).__name__}: {alerts.redact(str(exc))}"]


def finalize_run(
    instance: dg.DagsterInstance,
    run_id: str,
    known_keys=None,
    *,
    now: dt.datetime | None = None,
) -> list[str]:
    """Status, alerts and the brief for ``run_id`` (see the module docstring); returns log
    lines. Each part runs even when an earlier one failed."""
    lines: list[str] = []
    with _part(lines, "status database"):
        lines += record_status(instance, run_id)
    failures = alerts.collect_failures(instance, run_id)
    with _part(lines, "run alert"):
        if failures:
            sent = alerts.alert_failed_run(instance, run_id, origin="run")
            lines.append(
                f"{len(failures.steps)} failed step(s), {len(failures.gates)} failed gate(s); "
                + ("alert posted" if sent else "no alert posted (alerts off, or already sent)")
            )
    with _part(lines, "stale-mart alerts"):
        marts = alerts.mart_keys(instance, known_keys)
        stale = alerts.alert_stale_marts(instance, marts, now=now)
        if stale:
            lines.append(f"stale-mart alert(s) posted for {', '.join(stale)}")
    with _part(lines, "sales brief"):
        lines += _write_brief(instance, run_id, failures)
    return lines


@contextlib.contextmanager
def _part(lines: list[str], what: str):
    """One part of the finalizer; its failure is reported and the other parts still run."""
    try:
        yield
    except Exception as exc:
        lines.append(f"{what} failed: {type(exc).__name__}: {alerts.redact(str(exc))}")


def _write_brief(
    instance: dg.DagsterInstance, run_id: str, failures: alerts.RunFailures
) -> list[str]:
    """The sales brief, when the run built marts or failed."""
    from orchestration.brief import RunSummary, write_brief
    from salesops.config import load_settings

    lines: list[str] = []
    built = _materialized(instance, run_id)
    if failures or any(key.path[:1] == [alerts.MART_PREFIX] for key in built):
        settings = load_settings()
        run = instance.get_run_by_id(run_id)
        record = instance.get_run_record_by_id(run_id)
        created = record.create_timestamp.timestamp() if record else None
        as_of = run_as_of(run.tags if run else {}, created, settings.timezone)
        passed, failed = _check_counts(instance, run_id)
        summary = RunSummary(
            run_id=run_id,
            job_name=run.job_name if run else None,
            failed_steps=[s.step_key for s in failures.steps],
            failed_gates=[f"{g.asset_key} {g.check_name}" for g in failures.gates],
            checks_passed=passed,
            checks_failed=failed,
            url=alerts.run_url(run_id),
        )
        result = write_brief(settings, as_of, summary)
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=BRIEF_KEY,
                description=f"Sales brief as of {as_of}, after run {run_id[:8]}",
                metadata={
                    "path": dg.MetadataValue.path(str(result.path)),
                    "as_of_date": as_of.isoformat(),
                    "run_id": run_id,
                    "numbers_from": result.origin,
                    "sections_with_data": ", ".join(result.available) or "none",
                    "sections_not_available_yet": ", ".join(result.missing) or "none",
                },
            )
        )
        lines.append(f"brief written to {result.path}")
    return lines
