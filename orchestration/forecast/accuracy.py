"""Which forecast method was most accurate: a summary of ``mart_forecast_accuracy``
(sales-metrics §11, docs/forecast-methods.md).

Per method, over the ended quarters back-tested at one checkpoint (``weeks_before_end``) and one
level (``company`` by default):

* ``wape`` = Σ|F − A| ÷ Σ|A| (weighted absolute percentage error: big quarters weigh more);
* ``bias`` = Σ(F − A) ÷ ΣA (< 0: the method under-forecasts);
* ``mape`` = the mean of |F − A| ÷ |A| over quarters with A ≠ 0.

Only quarters every method has a row for count (the first back-tested quarters have no
conversion or statistical forecast: nothing had ended before them), so the methods are compared
on the same quarters. Methods are ranked by WAPE. The only inputs are the mart (and, for the diagnostic
``statistical_series`` row, ``forecast.statistical_backtest``'s pure series forecast, made
without the quarter's closed-to-date), so the same warehouse gives the same table.
"""

from __future__ import annotations

import duckdb
import pandas as pd

METHODS = ("commit", "most_likely", "best_case", "weighted", "conversion", "statistical")


def accuracy_by_method(
    con: duckdb.DuckDBPyConnection,
    weeks_before_end: int = 4,
    level: str = "company",
    *,
    with_series: bool = True,
) -> pd.DataFrame:
    """One row per method: quarters, wape, bias, mape; sorted by wape (best first)."""
    rows = con.execute(
        """
        select method, fiscal_quarter, forecast_amount, actual_amount
        from marts.mart_forecast_accuracy
        where weeks_before_end = ? and level = ?
        """,
        [weeks_before_end, level],
    ).df()
    if with_series and _has_backtest(con):
        series = con.execute(
            """
            select 'statistical_series' as method, b.fiscal_quarter,
                b.series_forecast_amount as forecast_amount, a.actual_amount
            from forecast.statistical_backtest as b
            inner join marts.mart_forecast_accuracy as a
                on a.fiscal_quarter = b.fiscal_quarter and a.level = b.level
                and a.entity_id = b.entity_id and a.weeks_before_end = b.weeks_before_end
                and a.method = 'statistical'
            where b.weeks_before_end = ? and b.level = ?
              and b.as_of_date = (select max(as_of_date) from forecast.statistical_backtest)
            """,
            [weeks_before_end, level],
        ).df()
        rows = pd.concat([rows, series], ignore_index=True)
    return summarize(rows)


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (method, fiscal_quarter, forecast_amount, actual_amount) → the method table,
    over the quarters every method has."""
    frame = rows.copy()
    methods = frame["method"].nunique()
    per_quarter = frame.groupby("fiscal_quarter")["method"].nunique()
    frame = frame[frame["fiscal_quarter"].isin(per_quarter[per_quarter == methods].index)]
    frame["error"] = frame["forecast_amount"].astype(float) - frame["actual_amount"].astype(float)
    frame["ape"] = frame["error"].abs() / frame["actual_amount"].astype(float).abs()
    frame.loc[frame["actual_amount"] == 0, "ape"] = float("nan")
    grouped = frame.groupby("method")
    table = pd.DataFrame(
        {
            "quarters": grouped["fiscal_quarter"].nunique(),
            "wape": grouped["error"].apply(lambda e: e.abs().sum())
            / grouped["actual_amount"].apply(lambda a: a.astype(float).abs().sum()),
            "bias": grouped["error"].sum()
            / grouped["actual_amount"].apply(lambda a: a.astype(float).sum()),
            "mape": grouped["ape"].mean(),
        }
    )
    return table.sort_values(["wape", "mape"]).reset_index()


def _has_backtest(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'forecast' and table_name = 'statistical_backtest'"
        ).fetchone()[0]
    )


def markdown(table: pd.DataFrame) -> str:
    """The method table as a markdown table (WAPE, bias, MAPE to two decimals)."""
    lines = ["| method | quarters | WAPE | bias | MAPE |", "|---|---:|---:|---:|---:|"]
    for row in table.itertuples():
        lines.append(
            f"| {row.method} | {row.quarters} | {row.wape:.3f} | {row.bias:+.3f} | {row.mape:.3f} |"
        )
    return "\n".join(lines)
