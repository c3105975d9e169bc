"""The statistical forecast as an asset: Holt-Winters on quarterly bookings per hierarchy level
(:mod:`orchestration.forecast.statistical`), written to ``forecast.statistical_forecasts``, and
its back-test of every ended quarter at 1-13 weeks before its end, written to
``forecast.statistical_backtest``.

It reads the ``fct_opportunity_states`` and ``dim_reps`` marts and the fiscal calendar, so it
runs after them, in group ``marts`` and the ``warehouse`` pool (it writes the warehouse).
``mart_forecast`` and ``mart_forecast_accuracy`` read its tables and declare it upstream
(``meta.dagster.upstream_asset_keys`` in the dbt project), so in a Dagster run the dbt step is
split in two: the models the forecast reads, then the forecast, then those two marts, which
therefore show the same night's forecast and back-test, from the very first night. A plain
``dbt build`` outside Dagster reads whatever run the table last holds (none on a new warehouse).
"""

import dagster as dg

from orchestration.defs.ingest.assets import WAREHOUSE_POOL
from orchestration.defs.quality.results import run_as_of
from orchestration.defs.resources import WarehouseResource
from orchestration.forecast import statistical
from orchestration.forecast.warehouse import forecast_connection

STATISTICAL_FORECAST_KEY = dg.AssetKey(["forecast", "statistical_forecasts"])


@dg.asset(
    key=STATISTICAL_FORECAST_KEY,
    deps=[
        dg.AssetKey(["marts", "fct_opportunity_states"]),
        dg.AssetKey(["marts", "dim_reps"]),
        dg.AssetKey(["marts", "dim_fiscal_calendar"]),
    ],
    group_name="marts",
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description=(
        "Statistical forecast of the current and next fiscal quarter's bookings per hierarchy "
        "level (Holt-Winters with quarterly seasonality, 80 % interval), read by mart_forecast, "
        "and its back-test of ended quarters, read by mart_forecast_accuracy."
    ),
)
def statistical_forecasts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    as_of = run_as_of(context)
    # the build warehouse of SALESOPS_DBT_TARGET: the DuckDB file or the PostgreSQL database
    with forecast_connection(warehouse_path=warehouse.warehouse) as con:
        forecasts = statistical.run(con, as_of)
    company = forecasts[forecasts["level"] == "company"]
    context.log.info(f"statistical forecast as of {as_of}: {len(forecasts)} rows")
    return dg.MaterializeResult(
        metadata={
            "as_of_date": as_of.isoformat(),
            "rows": len(forecasts),
            "company": dg.MetadataValue.json(
                {
                    row.fiscal_quarter: [row.low_amount, row.forecast_amount, row.high_amount]
                    for row in company.itertuples()
                }
            ),
        }
    )


@dg.definitions
def forecast_definitions() -> dg.Definitions:
    return dg.Definitions(assets=[statistical_forecasts])
