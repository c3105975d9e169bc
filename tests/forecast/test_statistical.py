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


QUARTERS = [
    (
        f"FY{year}-Q{quarter}",
        dt.date(year, 3 * quarter - 2, 1),
        dt.date(year, 3 * quarter + 1, 1) - dt.timedelta(days=1)
        if quarter < 4
        else dt.date(year, 12, 31),
    )
    for year in (2024, 2025, 2026)
    for quarter in range(1, 5)
]
TARGET = 9  # FY2026-Q2, the last quarter ended before AS_OF
AS_OF = dt.date(2026, 8, 15)


def _won(opportunity, rep, amount, close, known_from=None):
    """A deal known to be won from ``known_from`` (default: noon of its close date) on."""
    since = dt.datetime.combine(known_from or close, dt.time(12))
    return (opportunity, since, None, "won", close, amount, rep)


@pytest.fixture
def warehouse(tmp_path):
    """Quarters FY2024-Q1..FY2026-Q2 each book 100 (R1, 10 days in) + 50 (R2, 3 days before the
    end): flat series, a third of every quarter booked in its last week. FY2026-Q2 also books a
    deal won 10 days before its end and one won 5 days before its end but with a close date
    moved back to its 5th day; FY2026-Q3 (the as-of quarter) books one deal."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_fiscal_calendar "
        "(fiscal_quarter varchar, quarter_start date, quarter_end date)"
    )
    con.executemany("insert into marts.dim_fiscal_calendar values (?, ?, ?)", QUARTERS)
    con.execute(
        "create table marts.dim_reps (rep_id varchar, manager_id varchar, team varchar, "
        "region varchar)"
    )
    con.execute(
        "insert into marts.dim_reps values ('R1', 'M1', 'T1', 'NA'), ('R2', 'M1', 'T1', 'EU')"
    )
    con.execute(
        "create table marts.fct_opportunity_states (opportunity_id varchar, "
        "valid_from timestamp, valid_to timestamp, status varchar, close_date date, "
        "opportunity_amount double, owner_rep_id varchar)"
    )
    states = []
    for i, (_label, start, end) in enumerate(QUARTERS[: TARGET + 1]):
        states.append(_won(f"A{i}", "R1", 100.0, start + dt.timedelta(days=10)))
        states.append(_won(f"B{i}", "R2", 50.0, end - dt.timedelta(days=3)))
        # an open state before the win: not a booking
        states.append(
            (f"O{i}", dt.datetime.combine(start, dt.time(9)), None, "open", end, 999.0, "R2")
        )
    _, start, end = QUARTERS[TARGET]
    states.append(_won("LATE", "R1", 20.0, end - dt.timedelta(days=10)))
    states.append(
        _won("BACKDATED", "R1", 7.0, start + dt.timedelta(days=4), end - dt.timedelta(days=5))
    )
    states.append(_won("X", "R1", 7777.0, dt.date(2026, 8, 1)))
    con.executemany("insert into marts.fct_opportunity_states values (?, ?, ?, ?, ?, ?, ?)", states)
    yield con
    con.close()


def _rows(frame, level, entity):
    return frame[(frame["level"] == level) & (frame["entity_id"] == entity)]


def test_the_back_test_sees_only_what_was_known_at_each_checkpoint(warehouse):
    """FY2026-Q2 at 4 weeks before its end (2026-06-02): nine flat quarters of 150 (100 + 50)
    forecast 150; closed to date is A9 (100) only - LATE is won after the checkpoint and
    BACKDATED, though its close date is before it, was not known to be won until 06-25; a third
    of a quarter books in its last 28 days (share 1/3), so the expected total is 150 / 3 + 100 =
    150 and the forecast 100 + 150 / 3 = 150. At 1 week (06-23) LATE is known: the expected total
    is 150 / 3 + 120 = 170 and the forecast 120 + 170 / 3 = 176.67."""
    history = statistical.load_history(warehouse)
    rows = statistical.backtest(history, AS_OF, statistical.first_state_day(warehouse))
    target = rows[rows["fiscal_quarter"] == "FY2026-Q2"]
    company = _rows(target, "company", "company").set_index("weeks_before_end")
    assert set(company.index) == set(range(1, 14))
    four = company.loc[4]
    assert four["checkpoint_date"] == dt.date(2026, 6, 2)
    assert four["history_quarters"] == 9 and four["method"] == "naive"
    assert four["series_forecast_amount"] == pytest.approx(150.0)
    assert four["closed_amount"] == pytest.approx(100.0)
    assert four["remaining_share"] == pytest.approx(1 / 3)
    assert four["forecast_amount"] == pytest.approx(150.0)
    one = company.loc[1]
    assert one["closed_amount"] == pytest.approx(120.0)
    assert one["forecast_amount"] == pytest.approx(120.0 + 170.0 / 3, abs=0.01)
    # levels share the company's remaining share; each entity its own series and closed:
    # R1 (series 100, closed 100) 100 + (100 / 3 + 100) / 3, R2 (series 50, closed 0) (50 / 3) / 3
    r1 = _rows(target, "rep", "R1").set_index("weeks_before_end").loc[4]
    r2 = _rows(target, "rep", "R2").set_index("weeks_before_end").loc[4]
    assert r1["forecast_amount"] == pytest.approx(100.0 + (100.0 / 3 + 100.0) / 3, abs=0.01)
    assert r2["forecast_amount"] == pytest.approx(50.0 / 9, abs=0.01)
    # the first quarter has no history before it: no forecast; nor has the second at 13 weeks
    # (2024-03-31, the first quarter's last day: nothing had ended yet); later ones have 13
    assert "FY2024-Q1" not in set(rows["fiscal_quarter"])
    per_quarter = rows[rows["level"] == "company"].groupby("fiscal_quarter").size()
    assert per_quarter.pop("FY2024-Q2") == 12
    assert set(per_quarter) == {13}
    # deterministic: the same history and date give the same back-test
    again = statistical.backtest(history, AS_OF, statistical.first_state_day(warehouse))
    pd.testing.assert_frame_equal(rows, again)


def test_forecasts_roll_up_the_hierarchy_and_are_written_back(warehouse):
    first = statistical.run(warehouse, AS_OF)
    assert set(first["fiscal_quarter"]) == {"FY2026-Q3", "FY2026-Q4"}
    assert set(first["level"]) == set(statistical.LEVELS)
    assert set(_rows(first, "region", "EU")["fiscal_quarter"]) == {"FY2026-Q3", "FY2026-Q4"}
    # R2: a flat series of 50; on 08-15, 46 days are left: of the ended quarters' 1527 booked,
    # 520 closed in their last 46 days (the B deals and LATE): share s = 520 / 1527, nothing
    # closed yet, so the current quarter's expected total is 50 s and its forecast 50 s x s;
    # the next quarter's is the series forecast, 50
    r2 = _rows(first, "rep", "R2").sort_values("fiscal_quarter")
    share = 520 / 1527
    assert r2["forecast_amount"].tolist() == pytest.approx([50.0 * share * share, 50.0], abs=0.01)
    assert r2["series_forecast_amount"].tolist() == pytest.approx([50.0, 50.0])
    assert r2["horizon_quarters"].tolist() == [1, 2]
    r1 = _rows(first, "rep", "R1").set_index("fiscal_quarter")
    assert r1.loc["FY2026-Q3", "closed_amount"] == pytest.approx(7777.0)
    assert r1.loc["FY2026-Q4", "closed_amount"] == 0
    # rerun of the same night: same numbers, the night's rows replaced, not duplicated
    second = statistical.run(warehouse, AS_OF)
    pd.testing.assert_frame_equal(first, second)
    stored = warehouse.execute(
        "select count(*) from forecast.statistical_forecasts where as_of_date = ?", [AS_OF]
    ).fetchone()[0]
    assert stored == len(first)
    backtest = warehouse.execute(
        "select count(*), count(distinct as_of_date) from forecast.statistical_backtest"
    ).fetchone()
    assert backtest[0] > 0 and backtest[1] == 1
    statistical.run(warehouse, AS_OF + dt.timedelta(days=1))
    nights = warehouse.execute(
        "select count(distinct as_of_date) from forecast.statistical_forecasts"
    ).fetchone()[0]
    assert nights == 2
    # the back-test keeps the latest run only (and runs for later dates)
    assert (
        warehouse.execute(
            "select count(distinct as_of_date) from forecast.statistical_backtest"
        ).fetchone()[0]
        == 1
    )


def test_an_older_forecast_table_gains_the_new_columns(warehouse):
    warehouse.execute("create schema forecast")
    warehouse.execute(
        "create table forecast.statistical_forecasts (as_of_date date, fiscal_quarter varchar, "
        "level varchar, entity_id varchar, horizon_quarters integer, history_quarters integer, "
        "method varchar, forecast_amount double, low_amount double, high_amount double)"
    )
    statistical.run(warehouse, AS_OF, with_backtest=False)
    closed = warehouse.execute(
        "select sum(closed_amount) from forecast.statistical_forecasts where level = 'company'"
    ).fetchone()[0]
    assert closed == pytest.approx(7777.0)
