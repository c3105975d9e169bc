"""The nightly schedule: ``SALESOPS_NIGHTLY_CRON`` in ``SALESOPS_TIMEZONE``.

Both are read (and validated) when the definitions load, inside :func:`schedules`, never at
import; changing them takes a reload of the code location. Each tick passes the as-of date (the
last complete day at the *scheduled* time, in the company time zone) as run tag
``salesops/as_of_date``, so a late or retried tick builds the same day.
"""

import datetime as dt

import dagster as dg

from orchestration.asof import AS_OF_TAG, last_complete_day
from salesops.config import load_settings

SCHEDULE_NAME = "nightly_refresh_schedule"


def scheduled_as_of(scheduled: dt.datetime, timezone: str) -> dt.date:
    return last_complete_day(scheduled, timezone)


def build_nightly_schedule(cron: str, timezone: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=SCHEDULE_NAME,
        cron_schedule=cron,
        execution_timezone=timezone,
        job_name="nightly_refresh",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"nightly_refresh at '{cron}' ({timezone}), as of the previous day.",
    )
    def nightly_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        as_of = scheduled_as_of(context.scheduled_execution_time, timezone)
        return dg.RunRequest(tags={AS_OF_TAG: as_of.isoformat()})

    return nightly_refresh_schedule


@dg.definitions
def schedules() -> dg.Definitions:
    settings = load_settings()
    return dg.Definitions(
        schedules=[build_nightly_schedule(settings.nightly_cron, settings.timezone)]
    )
