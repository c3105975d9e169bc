"""Statistical forecast of quarterly bookings per hierarchy level (issue 7, sales-metrics §11).

Bookings (won deals by close date, credited to the owner at close, rolled up by the current
hierarchy of ``dim_reps``) of every *ended* fiscal quarter form one series per level and entity.
Each series is forecast for the as-of date's quarter and the next one by exponential smoothing:

* 9 or more quarters: Holt-Winters (additive damped trend, additive quarterly seasonality);
* 4 to 8 quarters: Holt (additive damped trend), no seasonality;
* 2 or 3 quarters: simple exponential smoothing;
* 1 quarter: that quarter (naive).

The 80 % interval is point ± z(0.9) · σ · √h, σ the standard deviation of the in-sample
one-step residuals, h the horizon in quarters; amounts are floored at 0. Fitting is
deterministic (same bookings, same as-of date → same numbers). The result is written to
``forecast.statistical_forecasts``, which the ``mart_forecast`` dbt model reads (the latest run
on or before its as-of date).
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
]


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
            fit = model.fit(optimized=True)
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
    """Fiscal quarters (label, first and last day) from the dbt fiscal calendar."""
    return con.execute(
        """
        select fiscal_quarter, min(quarter_start) as quarter_start, max(quarter_end) as quarter_end
        from intermediate.int_fiscal_months_spined
        group by fiscal_quarter
        order by quarter_start
        """
    ).df()


def bookings_by_level(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """Bookings per level, entity and ended fiscal quarter (zero-filled from the first quarter
    with a booking): columns level, entity_id, fiscal_quarter, quarter_start, bookings_amount."""
    won = con.execute(
        """
        select
            o.close_date,
            coalesce(o.opportunity_amount, 0) as amount,
            coalesce(o.credited_rep_id, '(unassigned)') as rep,
            coalesce(r.manager_id, '(unassigned)') as manager,
            coalesce(r.team, '(unassigned)') as team,
            coalesce(r.region, '(unassigned)') as region,
            'company' as company
        from marts.fct_opportunities as o
        left join marts.dim_reps as r on o.credited_rep_id = r.rep_id
        where o.status = 'won' and o.close_date <= ?
        """,
        [as_of],
    ).df()
    quarters = quarters_frame(con)
    ended = quarters[pd.to_datetime(quarters["quarter_end"]).dt.date < as_of]
    empty = pd.DataFrame(
        columns=["level", "entity_id", "fiscal_quarter", "quarter_start", "bookings_amount"]
    )
    if won.empty or ended.empty:
        return empty
    won["close_date"] = pd.to_datetime(won["close_date"])
    starts = pd.to_datetime(ended["quarter_start"]).to_numpy()
    index = np.searchsorted(starts, won["close_date"].to_numpy(), side="right") - 1
    won = won[index >= 0].copy()
    won["fiscal_quarter"] = ended["fiscal_quarter"].to_numpy()[index[index >= 0]]
    won = won[won["close_date"] <= pd.to_datetime(ended["quarter_end"]).max()]
    if won.empty:
        return empty
    first = ended[ended["fiscal_quarter"].isin(won["fiscal_quarter"])]["quarter_start"].min()
    span = ended[ended["quarter_start"] >= first][["fiscal_quarter", "quarter_start"]]
    frames = []
    for level in LEVELS:
        sums = won.groupby([level, "fiscal_quarter"], as_index=False)["amount"].sum()
        entities = pd.DataFrame({"entity_id": sorted(won[level].unique())})
        grid = entities.merge(span, how="cross")
        grid = grid.merge(
            sums.rename(columns={level: "entity_id", "amount": "bookings_amount"}),
            on=["entity_id", "fiscal_quarter"],
            how="left",
        )
        grid["bookings_amount"] = grid["bookings_amount"].fillna(0.0)
        grid.insert(0, "level", level)
        frames.append(grid)
    result = pd.concat(frames, ignore_index=True)
    return result.sort_values(["level", "entity_id", "quarter_start"], ignore_index=True)


def statistical_forecasts(
    bookings: pd.DataFrame, quarters: pd.DataFrame, as_of: dt.date
) -> pd.DataFrame:
    """Forecasts for the as-of date's fiscal quarter and the next one, per level and entity."""
    q = quarters.copy()
    q["quarter_start"] = pd.to_datetime(q["quarter_start"]).dt.date
    q["quarter_end"] = pd.to_datetime(q["quarter_end"]).dt.date
    position = int(
        ((q["quarter_start"] <= as_of) & (q["quarter_end"] >= as_of)).to_numpy().argmax()
    )
    targets = q.iloc[position : position + 2]["fiscal_quarter"].tolist()
    last_ended = position - 1
    rows = []
    for (level, entity), series in bookings.groupby(["level", "entity_id"], sort=True):
        series = series.sort_values("quarter_start")
        history = series["bookings_amount"].to_numpy()
        # horizon: quarters from the last ended quarter to each target
        last_in_series = q.index[q["fiscal_quarter"] == series["fiscal_quarter"].iloc[-1]][0]
        offset = last_ended - int(q.index.get_loc(last_in_series))
        forecasts = forecast_series(history, offset + len(targets))
        for h, quarter in enumerate(targets, start=offset + 1):
            f = forecasts[h - 1]
            rows.append(
                [as_of, quarter, level, entity, h, len(history), f.method, f.point, f.low, f.high]
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def write_forecasts(con: duckdb.DuckDBPyConnection, forecasts: pd.DataFrame, as_of: dt.date):
    """Replace the as-of date's rows of forecast.statistical_forecasts (earlier runs stay)."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(
        f"""
        create table if not exists {SCHEMA}.{TABLE} (
            as_of_date date, fiscal_quarter varchar, level varchar, entity_id varchar,
            horizon_quarters integer, history_quarters integer, method varchar,
            forecast_amount double, low_amount double, high_amount double
        )
        """
    )
    con.execute(f"delete from {SCHEMA}.{TABLE} where as_of_date = ?", [as_of])
    if not forecasts.empty:
        con.register("new_forecasts", forecasts[COLUMNS])
        con.execute(f"insert into {SCHEMA}.{TABLE} select * from new_forecasts")
        con.unregister("new_forecasts")


def run(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """Bookings from the warehouse -> forecasts -> forecast.statistical_forecasts."""
    bookings = bookings_by_level(con, as_of)
    forecasts = statistical_forecasts(bookings, quarters_frame(con), as_of)
    write_forecasts(con, forecasts, as_of)
    return forecasts
