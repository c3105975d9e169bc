"""The statistical forecast (orchestration.forecast.statistical) on synthetic series and a
hand-made warehouse: method choice by history length, the 80 % interval, determinism, the
hierarchy rollup and the write-back table mart_forecast reads."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from orchestration.forecast import statistical

SEASONAL = [100, 120, 90, 200, 110, 130, 95, 210, 115, 140, 100, 220]


def test_holt_winters_follows_a_seasonal_series_with_an_80_percent_interval():
    forecasts = statistical.forecast_series(SEASONAL, 4)
    assert {f.method for f in forecasts} == {"holt_winters"}
    points = [f.point for f in forecasts]
    assert points[3] > max(points[:3])  # the quarter-end season peak repeats
    for f in forecasts:
        assert f.low <= f.point <= f.high
    widths = [f.high - f.low for f in forecasts]
    assert widths == sorted(widths)  # the interval widens with the horizon


@pytest.mark.parametrize(
    ("values", "method"),
    [
        ([], "none"),
        ([50], "naive"),
        ([50, 50, 50], "naive"),
        ([10, 30, 20], "simple_exponential_smoothing"),
        ([10, 30, 20, 40, 35], "holt"),
    ],
)
def test_method_depends_on_the_history(values, method):
    forecasts = statistical.forecast_series(values, 2)
    assert len(forecasts) == 2
    assert {f.method for f in forecasts} == {method}
    assert all(f.point >= 0 and f.low >= 0 for f in forecasts)


def test_same_series_same_forecast():
    assert statistical.forecast_series(SEASONAL, 3) == statistical.forecast_series(SEASONAL, 3)


@pytest.fixture
def warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema intermediate; create schema marts")
    months = []
    for year in (2024, 2025, 2026):
        for quarter in range(1, 5):
            start = dt.date(year, 3 * quarter - 2, 1)
            end = (
                dt.date(year, 3 * quarter + 1, 1) - dt.timedelta(days=1)
                if quarter < 4
                else dt.date(year, 12, 31)
            )
            months.append((f"FY{year}-Q{quarter}", start, end))
    con.execute(
        "create table intermediate.int_fiscal_months_spined "
        "(fiscal_quarter varchar, quarter_start date, quarter_end date)"
    )
    con.executemany("insert into intermediate.int_fiscal_months_spined values (?, ?, ?)", months)
    con.execute(
        "create table marts.dim_reps (rep_id varchar, manager_id varchar, team varchar, "
        "region varchar)"
    )
    con.execute(
        "insert into marts.dim_reps values ('R1', 'M1', 'T1', 'NA'), ('R2', 'M1', 'T1', 'EU')"
    )
    con.execute(
        "create table marts.fct_opportunities (opportunity_id varchar, status varchar, "
        "close_date date, opportunity_amount double, credited_rep_id varchar)"
    )
    deals = []
    for i, (_label, start, _) in enumerate(months[:10]):  # FY2024-Q1 .. FY2026-Q2 ended
        deals.append((f"A{i}", "won", start + dt.timedelta(days=10), 100.0 + 10 * i, "R1"))
        deals.append((f"B{i}", "won", start + dt.timedelta(days=20), 50.0, "R2"))
        deals.append((f"L{i}", "lost", start + dt.timedelta(days=20), 999.0, "R2"))
    deals.append(("X", "won", dt.date(2026, 8, 1), 7777.0, "R1"))  # the as-of quarter
    con.executemany("insert into marts.fct_opportunities values (?, ?, ?, ?, ?)", deals)
    yield con
    con.close()


def test_bookings_roll_up_the_hierarchy_and_forecasts_are_written_back(warehouse):
    as_of = dt.date(2026, 8, 15)
    bookings = statistical.bookings_by_level(warehouse, as_of)
    company = bookings[bookings["level"] == "company"]
    assert company["bookings_amount"].tolist() == [150.0 + 10 * i for i in range(10)]
    team = bookings[(bookings["level"] == "team") & (bookings["entity_id"] == "T1")]
    assert team["bookings_amount"].tolist() == company["bookings_amount"].tolist()
    assert set(bookings[bookings["level"] == "region"]["entity_id"]) == {"NA", "EU"}

    first = statistical.run(warehouse, as_of)
    assert set(first["fiscal_quarter"]) == {"FY2026-Q3", "FY2026-Q4"}
    assert set(first["level"]) == set(statistical.LEVELS)
    r2 = first[(first["level"] == "rep") & (first["entity_id"] == "R2")]
    assert r2["forecast_amount"].tolist() == pytest.approx([50.0, 50.0])  # a flat series
    assert set(first["horizon_quarters"]) == {1, 2}
    # rerun of the same night: same numbers, the night's rows replaced, not duplicated
    second = statistical.run(warehouse, as_of)
    pd.testing.assert_frame_equal(first, second)
    stored = warehouse.execute(
        "select count(*) from forecast.statistical_forecasts where as_of_date = ?", [as_of]
    ).fetchone()[0]
    assert stored == len(first)
    statistical.run(warehouse, as_of + dt.timedelta(days=1))
    nights = warehouse.execute(
        "select count(distinct as_of_date) from forecast.statistical_forecasts"
    ).fetchone()[0]
    assert nights == 2
