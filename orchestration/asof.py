"""The as-of date of a run: the last complete day in ``SALESOPS_TIMEZONE`` unless given.

Every job run carries it as the run tag :data:`AS_OF_TAG` (set by the schedule, ``salesops run
--as-of`` or the launchpad). Without the tag, it is derived from the run's *creation* time, so
every step of one run agrees even when the run crosses midnight. Nothing downstream reads the
wall clock: dbt gets the date as var ``as_of_date``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

AS_OF_TAG = "salesops/as_of_date"


def last_complete_day(now: dt.datetime, tz: ZoneInfo | str) -> dt.date:
    """The day before ``now``'s date in ``tz`` (``now`` must be time-zone aware)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    return now.astimezone(zone).date() - dt.timedelta(days=1)


def parse_as_of(value: str, origin: str = "as_of_date") -> dt.date:
    """A ``YYYY-MM-DD`` date; a ``ValueError`` naming ``origin`` otherwise."""
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValueError(f"{origin}={value!r} is not a date; expected YYYY-MM-DD") from exc


def run_as_of(tags: dict[str, str] | None, created_at: float | None, tz: str) -> dt.date:
    """The as-of date of a run: its tag, else the last complete day when it was created."""
    value = (tags or {}).get(AS_OF_TAG, "").strip()
    if value:
        return parse_as_of(value, AS_OF_TAG)
    moment = (
        dt.datetime.fromtimestamp(created_at, dt.UTC)
        if created_at is not None
        else dt.datetime.now(dt.UTC)
    )
    return last_complete_day(moment, tz)


def as_of_for_context(context) -> dt.date:
    """The as-of date of the run an asset or op executes in (see the module docstring)."""
    from salesops.config import load_settings

    record = context.instance.get_run_record_by_id(context.run_id)
    created = record.create_timestamp.timestamp() if record is not None else None
    return run_as_of(context.run.tags, created, load_settings().timezone)
