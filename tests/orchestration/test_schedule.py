"""The nightly schedule: cron and time zone from the environment, the as-of date of each tick."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from orchestration.asof import AS_OF_TAG, last_complete_day, run_as_of
from orchestration.defs.schedules.nightly import build_nightly_schedule, schedules
from salesops.config import ConfigError


@pytest.mark.parametrize(
    ("local", "zone", "as_of"),
    [
        # 02:00 in Berlin is 01:00 UTC on the same day
        (dt.datetime(2026, 11, 27, 2, 0), "Europe/Berlin", dt.date(2026, 11, 26)),
        # 00:30 in Auckland is still the previous day in UTC: the company's day counts
        (dt.datetime(2026, 11, 27, 0, 30), "Pacific/Auckland", dt.date(2026, 11, 26)),
        # 23:30 in Los Angeles is already the next day in UTC
        (dt.datetime(2026, 11, 27, 23, 30), "America/Los_Angeles", dt.date(2026, 11, 26)),
        # the night the clocks change (Berlin, 29 March 2026, 02:00 does not exist)
        (dt.datetime(2026, 3, 29, 3, 0), "Europe/Berlin", dt.date(2026, 3, 28)),
        # 1 January: the previous year
        (dt.datetime(2027, 1, 1, 2, 0), "UTC", dt.date(2026, 12, 31)),
    ],
)
def test_a_tick_builds_the_previous_day_in_the_company_time_zone(local, zone, as_of):
    scheduled = local.replace(tzinfo=ZoneInfo(zone))
    schedule = build_nightly_schedule("0 2 * * *", zone)
    request = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=scheduled))
    (run_request,) = request.run_requests
    assert run_request.tags[AS_OF_TAG] == as_of.isoformat()
    assert last_complete_day(scheduled.astimezone(dt.UTC), zone) == as_of


def test_cron_and_time_zone_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SALESOPS_NIGHTLY_CRON", "15 3 * * 1-5")
    monkeypatch.setenv("SALESOPS_TIMEZONE", "Asia/Tokyo")
    (schedule,) = schedules().schedules
    assert schedule.cron_schedule == "15 3 * * 1-5"
    assert schedule.execution_timezone == "Asia/Tokyo"
    assert schedule.job_name == "nightly_refresh"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_defaults_and_bad_values(monkeypatch):
    monkeypatch.delenv("SALESOPS_NIGHTLY_CRON", raising=False)
    monkeypatch.delenv("SALESOPS_TIMEZONE", raising=False)
    (schedule,) = schedules().schedules
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")
    monkeypatch.setenv("SALESOPS_NIGHTLY_CRON", "every night")
    with pytest.raises(ConfigError, match="SALESOPS_NIGHTLY_CRON"):
        schedules()


def test_run_as_of_prefers_the_tag_then_the_run_creation_time():
    created = dt.datetime(2026, 11, 27, 0, 30, tzinfo=dt.UTC).timestamp()
    assert run_as_of({AS_OF_TAG: "2026-06-30"}, created, "UTC") == dt.date(2026, 6, 30)
    assert run_as_of({}, created, "UTC") == dt.date(2026, 11, 26)
    # 00:30 UTC is 19:30 the previous evening in New York
    assert run_as_of({}, created, "America/New_York") == dt.date(2026, 11, 25)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        run_as_of({AS_OF_TAG: "yesterday"}, created, "UTC")
