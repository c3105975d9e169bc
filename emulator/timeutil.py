"""Millisecond and day arithmetic on int64 arrays (UTC), and fiscal periods."""

from __future__ import annotations

import datetime as dt

import numpy as np

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def day_number(value: dt.date) -> int:
    """Days since 1970-01-01."""
    return (value - dt.date(1970, 1, 1)).days


def date_of(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def ms_of_day(day) -> np.ndarray:
    return np.asarray(day, dtype=np.int64) * DAY_MS


def day_of_ms(ms) -> np.ndarray:
    return np.asarray(ms, dtype=np.int64) // DAY_MS


def quarter_bounds(days) -> tuple[np.ndarray, np.ndarray]:
    """First and last day number of the calendar quarter containing each day (fiscal = calendar)."""
    d = np.asarray(days, dtype="int64").astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64)
    q_start = months - (months % 3)
    start = q_start.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    end = (q_start + 3).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1
    return start, end


def month_start(days) -> np.ndarray:
    d = np.asarray(days, dtype="int64").astype("datetime64[D]")
    return d.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def add_months(days, months: int) -> np.ndarray:
    """Same day-of-month ``months`` later (clamped to the month's end)."""
    d = np.asarray(days, dtype="int64").astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    offset = (d - m.astype("datetime64[D]")).astype(np.int64)
    target = m + months
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    return target.astype("datetime64[D]").astype(np.int64) + np.minimum(offset, length - 1)


def year_of(days) -> np.ndarray:
    d = np.asarray(days, dtype="int64").astype("datetime64[D]")
    return d.astype("datetime64[Y]").astype(np.int64) + 1970


def month_of(days) -> np.ndarray:
    d = np.asarray(days, dtype="int64").astype("datetime64[D]")
    return d.astype("datetime64[M]").astype(np.int64) % 12 + 1


def working_time_ms(frac) -> np.ndarray:
    """A time of day between 07:00 and 19:00 UTC for a uniform fraction."""
    return (7 * HOUR_MS + np.asarray(frac) * 12 * HOUR_MS).astype(np.int64)
