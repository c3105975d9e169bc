"""Forecast marts on the tiny org (issue 7): pipeline snapshots and the weekly waterfall.

* The first build reconstructs past snapshot dates from fct_opportunity_states and captures the
  as-of date from the current state; the capture equals the reconstruction for the same date.
* The waterfall identity holds on every week with no residual bucket.
"""

from __future__ import annotations

import pytest

from tests.dbt.conftest import AS_OF, connect

FORECAST_NODES = (
    "fct_pipeline_snapshots",
    "mart_pipeline_waterfall",
    "int_forecast_snapshot_dates",
)

RECONSTRUCTED_AT_AS_OF = """
    select
        states.opportunity_id,
        states.owner_rep_id,
        states.stage_name,
        states.forecast_category,
        round(states.probability, 6) as probability,
        round(states.original_amount, 2) as original_amount,
        states.currency_code,
        states.close_date
    from marts.fct_opportunity_states as states
    where states.status = 'open'
      and states.valid_from < cast(? as date) + interval 1 day
      and (states.valid_to is null or states.valid_to >= cast(? as date) + interval 1 day)
"""

CAPTURED_AT_AS_OF = """
    select
        opportunity_id,
        owner_rep_id,
        stage_name,
        forecast_category,
        round(probability, 6) as probability,
        round(original_amount, 2) as original_amount,
        currency_code,
        close_date
    from marts.fct_pipeline_snapshots
    where snapshot_date = cast(? as date)
"""


@pytest.fixture(scope="module")
def con(tiny_build):
    connection = connect(tiny_build.warehouse)
    yield connection
    connection.close()


def test_forecast_nodes_build_and_pass(tiny_build):
    mine = [r for r in tiny_build.build.results if any(n in r[0] for n in FORECAST_NODES)]
    assert mine, tiny_build.build.describe()
    bad = [r for r in mine if r[1] not in ("success", "pass")]
    assert not bad, bad


def test_capture_equals_reconstruction_on_the_as_of_date(con):
    captured = con.execute(CAPTURED_AT_AS_OF, [AS_OF]).fetchall()
    reconstructed = con.execute(RECONSTRUCTED_AT_AS_OF, [AS_OF, AS_OF]).fetchall()
    assert captured, "no captured snapshot on the as-of date"
    assert sorted(captured, key=str) == sorted(reconstructed, key=str)
    sources = con.execute(
        "select distinct snapshot_source from marts.fct_pipeline_snapshots "
        "where snapshot_date = cast(? as date)",
        [AS_OF],
    ).fetchall()
    assert sources == [("captured",)]


def test_past_snapshots_are_reconstructed_and_cover_quarter_checkpoints(con):
    row = con.execute(
        "select count(distinct snapshot_date), min(snapshot_date) from marts.fct_pipeline_snapshots "
        "where snapshot_source = 'reconstructed'"
    ).fetchone()
    assert row[0] > 20
    # every quarter end before the as-of date is a snapshot date (checkpoint 0 weeks before end)
    missing = con.execute(
        """
        select distinct months.quarter_end
        from intermediate.int_fiscal_months_spined as months
        where months.quarter_end < cast(? as date) and months.quarter_end >= ?
          and months.quarter_end not in (
              select snapshot_date from intermediate.int_forecast_snapshot_dates)
        """,
        [AS_OF, row[1]],
    ).fetchall()
    assert not missing


def test_waterfall_identity_has_no_residual(con):
    rows = con.execute(
        """
        select fiscal_quarter, week_start,
            starting_pipeline_amount + created_amount + reopened_amount + pulled_in_amount
            - pushed_out_amount + increased_amount - decreased_amount - into_omitted_amount
            + out_of_omitted_amount - deleted_amount - won_amount - lost_amount
            - ending_pipeline_amount as residual
        from marts.mart_pipeline_waterfall
        """
    ).fetchall()
    assert len(rows) > 10
    assert all(abs(r[2]) < 0.01 for r in rows), [r for r in rows if abs(r[2]) >= 0.01][:5]
    # consecutive weeks chain: a week's ending pipeline is the next week's starting pipeline
    broken = con.execute(
        """
        select * from (
            select fiscal_quarter, week_start, starting_pipeline_amount,
                lag(ending_pipeline_amount) over (
                    partition by fiscal_quarter order by week_start) as previous_ending
            from marts.mart_pipeline_waterfall
        ) where previous_ending is not null
          and abs(previous_ending - starting_pipeline_amount) > 0.01
        """
    ).fetchall()
    assert not broken, broken[:5]


def test_forecast_marts_are_filled_on_day_one(con):
    levels = con.execute("select distinct level from marts.mart_forecast").fetchall()
    assert {r[0] for r in levels} == {"rep", "manager", "team", "region", "company"}
    quarters = con.execute(
        "select count(distinct fiscal_quarter) from marts.mart_forecast where level = 'company'"
    ).fetchone()[0]
    assert quarters == 2
    accuracy = con.execute(
        """
        select count(distinct fiscal_quarter), count(distinct method), max(weeks_before_end)
        from marts.mart_forecast_accuracy where level = 'company'
        """
    ).fetchone()
    assert accuracy[0] >= 4 and accuracy[1] == 5 and accuracy[2] == 13


def test_next_night_appends_and_a_rerun_gives_the_same_forecast(tiny_build, tmp_path):
    """A second night (as-of + 1) captures one more snapshot date and one more set of forecast
    rows without touching the past; rerunning that night gives the same numbers."""
    import datetime as dt
    import shutil

    from tests.dbt.conftest import run_dbt

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny_build.warehouse, warehouse)
    night = (AS_OF + dt.timedelta(days=1)).isoformat()
    select = ["run", "--select", "fct_pipeline_snapshots", "mart_forecast"]
    forecast_sql = (
        "select fiscal_quarter, level, entity_id, forecast_commit_amount, "
        "forecast_weighted_amount, forecast_conversion_amount from marts.mart_forecast "
        "where as_of_date = cast(? as date) order by 1, 2, 3"
    )
    results = []
    for _ in range(2):
        run = run_dbt(
            select, warehouse=warehouse, work_dir=tmp_path, variables={"as_of_date": night}
        )
        assert run.success, run.describe()
        con = connect(warehouse)
        try:
            results.append(con.execute(forecast_sql, [night]).fetchall())
            past = con.execute(
                "select snapshot_source, count(*) from marts.fct_pipeline_snapshots group by 1"
            ).fetchall()
            as_of_dates = con.execute(
                "select count(distinct as_of_date) from marts.mart_forecast"
            ).fetchone()[0]
        finally:
            con.close()
        assert as_of_dates == 2
    assert results[0] and results[0] == results[1]
    original = connect(tiny_build.warehouse)
    try:
        before = dict(
            original.execute(
                "select snapshot_source, count(*) from marts.fct_pipeline_snapshots group by 1"
            ).fetchall()
        )
    finally:
        original.close()
    after = dict(past)
    assert after["reconstructed"] == before["reconstructed"]
    assert after["captured"] == 2 * before["captured"]  # open deals unchanged over one night


def test_statistical_back_test_fills_the_accuracy_mart(tiny_build, tmp_path):
    """The Python back-test (orchestration.forecast.statistical) written to the warehouse, then
    mart_forecast_accuracy rebuilt: every method, statistical included, on the same quarters and
    checkpoints; the statistical rows are the back-test's, against the same actual bookings. The
    conversion back-test's rates learned up to the last ended quarter are today's rates."""
    import datetime as dt
    import shutil

    import duckdb

    from orchestration.forecast import statistical
    from tests.dbt.conftest import run_dbt

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny_build.warehouse, warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET TimeZone = 'UTC'")
        statistical.run(con, AS_OF)
    finally:
        con.close()
    run = run_dbt(
        ["run", "--select", "int_forecast_conversion_rates_by_cutoff", "mart_forecast_accuracy"],
        warehouse=warehouse,
        work_dir=tmp_path,
    )
    assert run.success, run.describe()
    con = connect(warehouse)
    try:
        methods = con.execute(
            "select method, count(distinct fiscal_quarter) from marts.mart_forecast_accuracy "
            "where level = 'company' and weeks_before_end = 4 group by 1"
        ).fetchall()
        mismatched = con.execute(
            """
            select a.fiscal_quarter, a.level, a.entity_id, a.weeks_before_end
            from marts.mart_forecast_accuracy as a
            left join forecast.statistical_backtest as b
                on a.fiscal_quarter = b.fiscal_quarter and a.level = b.level
                and a.entity_id = b.entity_id and a.weeks_before_end = b.weeks_before_end
            left join marts.mart_forecast_accuracy as w
                on w.method = 'weighted' and a.fiscal_quarter = w.fiscal_quarter
                and a.level = w.level and a.entity_id = w.entity_id
                and a.weeks_before_end = w.weeks_before_end
            where a.method = 'statistical'
              and (b.forecast_amount is distinct from a.forecast_amount
                   or coalesce(w.actual_amount, 0) != a.actual_amount)
            """
        ).fetchall()
        # the rates learned up to the last ended quarter are today's rates
        last_cutoff = """
            select ladder_stage, age_bucket, segment, observation_count, converted_count
            from intermediate.int_forecast_conversion_rates_by_cutoff
            where cutoff_date = (
                select max(cutoff_date) from intermediate.int_forecast_conversion_rates_by_cutoff)
        """
        today = """
            select ladder_stage, age_bucket, segment, observation_count, converted_count
            from intermediate.int_forecast_conversion_rates
        """
        differ = con.execute(
            f"({last_cutoff} except {today}) union all ({today} except {last_cutoff})"
        ).fetchall()
        checkpoint = con.execute(
            "select min(checkpoint_date), max(checkpoint_date) from forecast.statistical_backtest"
        ).fetchone()
    finally:
        con.close()
    by_method = dict(methods)
    assert set(by_method) == {
        "commit",
        "most_likely",
        "best_case",
        "weighted",
        "conversion",
        "statistical",
    }
    assert by_method["statistical"] >= by_method["weighted"] - 1  # the first has no history
    assert not mismatched, mismatched[:5]
    assert not differ, differ[:5]
    assert checkpoint[1] < AS_OF and checkpoint[0] >= dt.date(2024, 1, 1)
