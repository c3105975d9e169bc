"""The statistical forecast as an asset: Holt-Winters on quarterly bookings per hierarchy level
(:mod:`orchestration.forecast.statistical`), written to ``forecast.statistical_forecasts``.

It reads the ``fct_opportunities`` and ``dim_reps`` marts and the fiscal calendar, so it runs
after the dbt marts, in group ``marts`` and the ``warehouse`` pool (it writes the warehouse).
``mart_forecast`` reads the latest run on or before its as-of date; it is not declared as a
dependency of that model (it would be a cycle through the marts): a quarter's statistical
forecast only uses ended quarters, so the previous night's run serves every day but the
quarter's first.
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
        dg.AssetKey(["marts", "fct_opportunities"]),
        dg.AssetKey(["marts", "dim_reps"]),
    ],
    group_name="marts",
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description=(
        "Statistical forecast of the current and next fiscal quarter's bookings per hierarchy "
        "level (Holt-Winters with quarterly seasonality, 80 % interval), read by mart_forecast."
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
