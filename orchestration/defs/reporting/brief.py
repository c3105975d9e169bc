"""The sales brief as an asset of the graph (``reporting/sales_brief``).

It is written by the run finalizer (:mod:`orchestration.finalize`) after every run that built
marts or failed, i.e. after every step including the quality gates and the publish step, so it
is declared here without a compute function and its materializations are reported by the
finalizer (with the file path, the as-of date and which sections have data).
"""

import dagster as dg

from orchestration.dbt_project import salesops_dbt_project
from orchestration.defs.transform.translator import SalesopsTranslator, layer_of
from orchestration.finalize import BRIEF_KEY


def mart_keys() -> list[dg.AssetKey]:
    manifest = salesops_dbt_project().manifest_path
    import json

    nodes = json.loads(manifest.read_text())["nodes"].values()
    translator = SalesopsTranslator()
    return sorted(translator.get_asset_key(node) for node in nodes if layer_of(node) == "marts")


@dg.definitions
def reporting() -> dg.Definitions:
    brief = dg.AssetSpec(
        key=BRIEF_KEY,
        deps=mart_keys(),
        group_name="reporting",
        kinds={"html"},
        description=(
            "The static sales brief (SALESOPS_BRIEF): attainment, forecast versus quota, the "
            "pipeline waterfall, the stage funnel, campaigns and data quality. Written by the "
            "run finalizer after every run that builds marts or fails."
        ),
    )
    return dg.Definitions(assets=[brief])
