"""Sensors that alert when the daemon runs. The run finalizer sends the same alerts from inside
each run; :mod:`orchestration.alerts` makes sure each is posted once."""

import dagster as dg

from orchestration import alerts


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    description="Posts the run-failure alert unless the run's finalizer already did.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    sent = alerts.alert_failed_run(context.instance, context.dagster_run.run_id, origin="sensor")
    if sent:
        context.log.info(f"alert posted for run {context.dagster_run.run_id}")


@dg.sensor(
    name="stale_marts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=600,
    description="One alert per mart older than SALESOPS_MART_MAX_AGE_HOURS (default 26).",
)
def stale_marts(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    known = (
        context.repository_def.asset_graph.get_all_asset_keys() if context.repository_def else None
    )
    sent = alerts.alert_stale_marts(context.instance, alerts.mart_keys(context.instance, known))
    if sent:
        return dg.SkipReason(f"alerted: {', '.join(sent)}")
    return dg.SkipReason("no newly stale mart")
