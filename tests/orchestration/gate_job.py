"""A test-only job whose gate fails: an asset with a blocking check of severity ERROR, run by
the project's executor (so the run finalizer alerts), and a downstream asset that is skipped."""

import dagster as dg

from orchestration.finalize import salesops_executor

GATED = dg.AssetKey(["test", "gated_table"])
CHECK = "row_count_reconciles"


@dg.asset(key=GATED, check_specs=[dg.AssetCheckSpec(CHECK, asset=GATED, blocking=True)])
def gated_table() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK,
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description="fct_opportunities has 13 won deals, mart_sales_kpis counts 12",
            )
        ]
    )


@dg.asset(key=["test", "downstream"], deps=[GATED])
def downstream() -> None:
    pass


defs = dg.Definitions(
    assets=[gated_table, downstream],
    jobs=[dg.define_asset_job("gated", executor_def=salesops_executor)],
)


def gated_job() -> dg.JobDefinition:
    return defs.resolve_job_def("gated")
