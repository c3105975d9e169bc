"""Statistical forecast of quarterly bookings per hierarchy level (issue 7, sales-metrics §11).

Bookings (won deals by close date, credited to their owner, rolled up by the current hierarchy
of ``dim_reps``) of every *ended* fiscal quarter form one series per level and entity. What
counts is what was *known* on the forecast date: the won states of ``fct_opportunity_states``
valid at the end of that day with a close date on or before it, so a back-test at a past date
sees exactly what a nightly run on that date saw (no later wins, no later edits). Each series
is forecast for the as-of date's quarter and the next one by exponential smoothing:

* 9 or more quarters: Holt-Winters (additive damped trend, additive quarterly seasonality);
* 4 to 8 quarters: Holt (additive damped trend), no seasonality;
* 2 or 3 quarters: simple exponential smoothing;
* 1 quarter: that quarter (naive).

The forecast of a quarter on a day inside it is *closed to date + remaining share x the
quarter's expected total*: the remaining share s is the part of an ended quarter's bookings
(company, all ended quarters pooled) that closed in as many last days of the quarter as are
left; the expected total blends the series forecast with what the quarter has closed so far,
s x series forecast + closed to date (the run rate closed / (1 - s) weighted by 1 - s, the part
of a quarter that is usually in by now). A quarter not started yet has s = 1: the series
forecast alone. The 80 % interval is the series point ± z(0.9) · σ · √h (σ the standard
deviation of the in-sample one-step residuals, h the horizon in quarters), moved with the
expected total and scaled the same way; amounts are floored at 0. Fitting is deterministic (same
history, same as-of date → same numbers).

:func:`run` writes the as-of date's forecasts to ``forecast.statistical_forecasts`` (read by
``mart_forecast``, the latest run on or before its as-of date) and the back-test of every ended
quarter at 1-13 weeks before its end to ``forecast.statistical_backtest`` (read by
``mart_forecast_accuracy``).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

Z80 = 1.2815515655446004  # standard normal quantile 0.9: the central 80 % interval
LEVELS = ("rep", "manager", "team", "region", "company")
SEASON = 4
SCHEMA = "forecast"
TABLE = "statistical_forecasts"
BACKTEST_TABLE = "statistical_backtest"
COLUMNS = [
    "as_of_date",
    "fiscal_quarter",
    "level",
    "entity_id",
    "horizon_quarters",
    "history_quarters",
    "method",
    "forecast_amount",
    "low_amount",
    "high_amount",
    "closed_amount",
    "series_forecast_amount",
    "remaining_share",
]
TABLE_DDL = (
    "as_of_date date, fiscal_quarter varchar, level varchar, entity_id varchar, "
    "horizon_quarters integer, history_quarters integer, method varchar, "
    "forecast_amount double, low_amount double, high_amount double, closed_amount double, "
    "series_forecast_amount double, remaining_share double"
)
BACKTEST_COLUMNS = ["as_of_date", "weeks_before_end", "checkpoint_date", *COLUMNS[1:]]
BACKTEST_DDL = (
    "as_of_date date, weeks_before_end integer, checkpoint_date date, fiscal_quarter varchar, "
    "level varchar, entity_id varchar, horizon_quarters integer, history_quarters integer, "
    "method varchar, forecast_amount double, low_amount double, high_amount double, "
    "closed_amount double, series_forecast_amount double, remaining_share double"
)


@dataclass(frozen=True)
class Forecast:
    point: float
    low: float
    high: float
    method: str


def forecast_series(values: Sequence[float], horizon: int) -> list[Forecast]:
    """Forecasts 1..``horizon`` quarters ahead of the series ``values`` (oldest first)."""
    y = np.asarray([float(v) for v in values], dtype=float)
    n = len(y)
    if n == 0:
        return [Forecast(0.0, 0.0, 0.0, "none") for _ in range(horizon)]
    if n == 1 or float(np.ptp(y)) == 0.0:
        points, fitted, method = np.repeat(y[-1], horizon), np.repeat(y[-1], n), "naive"
    else:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing, SimpleExpSmoothing

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if n >= 2 * SEASON + 1:
                model = ExponentialSmoothing(
                    y,
                    trend="add",
                    damped_trend=True,
                    seasonal="add",
                    seasonal_periods=SEASON,
                    initialization_method="estimated",
                )
                method = "holt_winters"
            elif n >= SEASON:
                model = ExponentialSmoothing(
                    y, trend="add", damped_trend=True, initialization_method="estimated"
                )
                method = "holt"
            else:
                model = SimpleExpSmoothing(y, initialization_method="estimated")
                method = "simple_exponential_smoothing"
            fit = model.fit(optimized=True, use_brute=False)
        points, fitted = np.asarray(fit.forecast(horizon)), np.asarray(fit.fittedvalues)
    residuals = y - fitted
    sigma = float(np.std(residuals, ddof=1)) if n > 1 else 0.0
    if not math.isfinite(sigma):
        sigma = 0.0
    result = []
    for h, point in enumerate(points, start=1):
        point = max(float(point), 0.0) if math.isfinite(point) else 0.0
        half = Z80 * sigma * math.sqrt(h)
        result.append(
            Forecast(
                round(point, 2), round(max(point - half, 0.0), 2), round(point + half, 2), method
            )
        )
    return result


def quarters_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Fiscal quarters (label, first and last day) from the fiscal calendar mart, oldest first.
    A mart, not the intermediate calendar: the forecast reads only what every engine publishes
    (on Spark the forecast reads Spark's marts)."""
    return con.execute(
        """
        select fiscal_quarter, min(quarter_start) as quarter_start, max(quarter_end) as quarter_end
        from marts.dim_fiscal_calendar
        group by fiscal_quarter
        order by quarter_start
        """
    ).df()


def won_states(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every won state interval of ``fct_opportunity_states`` with the hierarchy of its owner
    (``dim_reps`` today): what was known to be won, from when to when, at what amount."""
    return con.execute(
        """
        select
            s.opportunity_id,
            cast(s.valid_from as timestamp) as valid_from,
            cast(s.valid_to as timestamp) as valid_to,
            cast(s.close_date as timestamp) as close_date,
            coalesce(s.opportunity_amount, 0) as amount,
            coalesce(s.owner_rep_id, 'unassigned') as rep,
            coalesce(r.manager_id, 'unassigned') as manager,
            coalesce(r.team, 'unassigned') as team,
            coalesce(r.region, 'unassigned') as region,
            'company' as company
        from marts.fct_opportunity_states as s
        left join marts.dim_reps as r on s.owner_rep_id = r.rep_id
        where s.status = 'won' and s.close_date is not null
        order by s.opportunity_id, s.valid_from
        """
    ).df()


class History:
    """Won deals as known on any date, bucketed by fiscal quarter, per level and entity.

    ``known(day)`` keeps the won states valid at the end of ``day`` whose close date is on or
    before it: a deal won later, or whose close date was later moved back, is not known yet,
    so a back-test at a past date sees exactly what a nightly run on that date saw."""

    def __init__(self, won: pd.DataFrame, quarters: pd.DataFrame):
        self.quarters = quarters.reset_index(drop=True)
        self.starts = pd.to_datetime(self.quarters["quarter_start"]).to_numpy()
        self.ends = pd.to_datetime(self.quarters["quarter_end"]).to_numpy()
        self.labels = self.quarters["fiscal_quarter"].tolist()
        self.valid_from = pd.to_datetime(won["valid_from"]).to_numpy()
        valid_to = pd.to_datetime(won["valid_to"])
        self.valid_to = valid_to.fillna(pd.Timestamp.max).to_numpy()
        self.close = pd.to_datetime(won["close_date"]).to_numpy()
        self.amount = won["amount"].to_numpy(dtype=float)
        self.quarter = np.searchsorted(self.starts, self.close, side="right") - 1
        self.entities = {}
        for level in LEVELS:
            codes, names = pd.factorize(won[level], sort=True)
            self.entities[level] = (codes, list(names))

    def quarter_of(self, day: dt.date) -> int:
        return int(np.searchsorted(self.starts, np.datetime64(day, "ns"), side="right") - 1)

    def known(self, day: dt.date) -> np.ndarray:
        end = np.datetime64(day + dt.timedelta(days=1), "ns")
        return (
            (self.valid_from < end)
            & (self.valid_to >= end)
            & (self.close < end)
            & (self.quarter >= 0)
        )

    def remaining_share(self, mask: np.ndarray, position: int, days_left: int) -> float:
        """Share of an ended quarter's bookings (company, all ended quarters pooled) that
        closed in its last ``days_left`` days: how much of a quarter is still to come."""
        ended = mask & (self.quarter < position)
        total = float(self.amount[ended].sum())
        if total <= 0:
            return 1.0
        cutoff = self.ends[self.quarter[ended]] - np.timedelta64(days_left, "D")
        late = float(self.amount[ended][self.close[ended] > cutoff].sum())
        return late / total


def forecasts_at(
    history: History, as_of: dt.date, cache: dict | None = None, targets: int = 2
) -> list[list]:
    """Rows of the statistical forecast on ``as_of`` for its quarter and the next
    (``targets`` quarters), per level and entity, from what was known on ``as_of``:

    forecast = closed to date + remaining share x (remaining share x series forecast
               + closed to date),

    the series being each ended quarter's bookings (zero-filled from the first quarter with a
    booking), the remaining share the part of a quarter's bookings that historically closes
    after this point of the quarter (1 for a quarter not started: the series forecast alone).
    The bracket is the quarter's expected total: the series forecast and the run rate (closed
    to date / (1 - share)) weighted by how much of a quarter is usually still to come and
    already in. The 80 % interval moves and scales the same way. ``cache`` reuses fits of identical series (back-tests refit the same history
    at every checkpoint of a quarter)."""
    cache = {} if cache is None else cache
    position = history.quarter_of(as_of)
    mask = history.known(as_of)
    ended = mask & (history.quarter < position)
    if position < 0 or not ended.any():
        return []
    first = int(history.quarter[ended].min())
    span = position - first
    current = mask & (history.quarter == position)
    plan = []
    for step in range(targets):
        target = position + step
        if target >= len(history.labels):
            break
        start = history.starts[target].astype("datetime64[D]").astype(dt.date)
        end = history.ends[target].astype("datetime64[D]").astype(dt.date)
        if as_of < start:
            share, closed_mask = 1.0, None
        else:
            share = history.remaining_share(mask, position, (end - as_of).days)
            closed_mask = current
        plan.append((history.labels[target], step + 1, share, closed_mask))
    rows = []
    for level in LEVELS:
        codes, names = history.entities[level]
        size = len(names)
        series = np.zeros((size, span))
        np.add.at(series, (codes[ended], history.quarter[ended] - first), history.amount[ended])
        closed = np.zeros(size)
        np.add.at(closed, codes[current], history.amount[current])
        present = np.zeros(size, dtype=bool)
        present[codes[mask & (history.quarter <= position)]] = True
        for code in np.flatnonzero(present):
            values = tuple(round(float(v), 2) for v in series[code])
            key = (values, targets)
            if key not in cache:
                cache[key] = forecast_series(values, targets)
            fits = cache[key]
            for quarter, horizon, share, closed_mask in plan:
                fit = fits[horizon - 1]
                done = float(closed[code]) if closed_mask is not None else 0.0
                # the quarter's expected total: the series forecast, and once the quarter has
                # started the run rate done / (1 - share) too, each weighted by its share
                total = share * fit.point + done if closed_mask is not None else fit.point
                shift = total - fit.point
                rows.append(
                    [
                        as_of,
                        quarter,
                        level,
                        names[code],
                        horizon,
                        span,
                        fit.method,
                        round(done + share * total, 2),
                        round(done + share * max(fit.low + shift, 0.0), 2),
                        round(done + share * (fit.high + shift), 2),
                        round(done, 2),
                        fit.point,
                        round(share, 6),
                    ]
                )
    return rows


def statistical_forecasts(history: History, as_of: dt.date) -> pd.DataFrame:
    """Forecasts for the as-of date's fiscal quarter and the next one, per level and entity."""
    return pd.DataFrame(forecasts_at(history, as_of), columns=COLUMNS)


def backtest(history: History, as_of: dt.date, first_day: dt.date | None = None) -> pd.DataFrame:
    """The statistical forecast of every fiscal quarter that ended before ``as_of``, made at
    each checkpoint 1-13 weeks before its last day (on or after ``first_day``, the first day
    with recorded history) from what was known on that checkpoint: the rows
    ``mart_forecast_accuracy`` compares with the quarter's bookings."""
    cache: dict = {}
    rows = []
    for index, quarter in enumerate(history.labels):
        end = history.ends[index].astype("datetime64[D]").astype(dt.date)
        if end >= as_of:
            break
        for weeks in range(1, 14):
            checkpoint = end - dt.timedelta(days=7 * weeks)
            if first_day is not None and checkpoint < first_day:
                continue
            for row in forecasts_at(history, checkpoint, cache):
                if row[1] == quarter:
                    rows.append([as_of, weeks, checkpoint, *row[1:]])
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)


def _write(con, table: str, columns: str, frame: pd.DataFrame, delete: str, as_of: dt.date):
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {SCHEMA}.{table} ({columns})")
    for column in columns.split(","):
        con.execute(f"alter table {SCHEMA}.{table} add column if not exists {column.strip()}")
    con.execute(f"delete from {SCHEMA}.{table} where {delete}", [as_of])
    if not frame.empty:
        con.register("new_rows", frame)
        names = ", ".join(frame.columns)
        con.execute(f"insert into {SCHEMA}.{table} ({names}) select {names} from new_rows")
        con.unregister("new_rows")


def write_forecasts(con: duckdb.DuckDBPyConnection, forecasts: pd.DataFrame, as_of: dt.date):
    """Replace the as-of date's rows of forecast.statistical_forecasts (earlier runs stay)."""
    _write(con, TABLE, TABLE_DDL, forecasts[COLUMNS], "as_of_date = ?", as_of)


def write_backtest(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, as_of: dt.date):
    """Replace forecast.statistical_backtest with the as-of date's back-test (runs for later
    dates, from reruns of an earlier night, stay)."""
    _write(con, BACKTEST_TABLE, BACKTEST_DDL, rows[BACKTEST_COLUMNS], "as_of_date <= ?", as_of)


def first_state_day(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The first day with recorded history (checkpoints before it have no snapshot)."""
    return con.execute(
        "select cast(min(valid_from) as date) from marts.fct_opportunity_states"
    ).fetchone()[0]


def load_history(con: duckdb.DuckDBPyConnection) -> History:
    return History(won_states(con), quarters_frame(con))


def run(con: duckdb.DuckDBPyConnection, as_of: dt.date, *, with_backtest: bool = True):
    """Won-deal history from the warehouse -> the as-of date's forecasts (and the back-test of
    ended quarters) -> forecast.statistical_forecasts (and forecast.statistical_backtest)."""
    history = load_history(con)
    forecasts = statistical_forecasts(history, as_of)
    write_forecasts(con, forecasts, as_of)
    if with_backtest:
        rows = backtest(history, as_of, first_state_day(con))
        write_backtest(con, rows, as_of)
    return forecasts
