"""The mart gate: reconciliations, volume and contract checks on the marts, one blocking step.

Every mart of the dbt manifest gets ``volume`` (rows against the published serving version)
and ``contract`` (its columns and types against the enforced dbt contract). Each
reconciliation is a check on the mart it is about; a reconciliation whose mart is not in the
dbt project yet hangs off ``marts/fct_opportunities`` and reports "not applicable: <mart> not
built" until the mart lands. All are blocking: the ``publish`` asset waits for them and does
not run when one fails.
"""

import dagster as dg

from orchestration.dbt_project import salesops_dbt_project
from orchestration.defs.ingest.assets import WAREHOUSE_POOL
from orchestration.defs.quality.results import check_result, run_as_of, run_id_of
from orchestration.defs.resources import WarehouseResource
from orchestration.quality import mart_gate, status
from orchestration.quality.warehouse import published_mart_rows, warehouse_connection
from salesops.config import load_settings


class MartGateConfig(dg.Config):
    tolerance: float = mart_gate.TOLERANCE  # money, per compared amount
    volume_max_shrink: float = 0.5  # a mart losing more than half its rows fails
    volume_max_growth: float = 5.0  # growing more than five-fold warns
    corporate_currency: str = "USD"

    def gate_config(self) -> mart_gate.MartGateConfig:
        return mart_gate.MartGateConfig(
            tolerance=self.tolerance,
            volume_max_shrink=self.volume_max_shrink,
            volume_max_growth=self.volume_max_growth,
            corporate_currency=self.corporate_currency,
        )


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


def reconciliation_target(reconciliation: mart_gate.Reconciliation, marts: set[str]) -> str:
    if reconciliation.target in marts:
        return reconciliation.target
    return mart_gate.FALLBACK_TARGET


def build_mart_gate(nodes: dict[str, dict]) -> dg.AssetChecksDefinition | None:
    marts = set(nodes)
    if not marts:
        return None
    specs = []
    for name in sorted(marts):
        specs.append(
            dg.AssetCheckSpec(
                "volume",
                asset=mart_key(name),
                blocking=True,
                description="Rows against the published serving version: losing more than half fails.",
            )
        )
        specs.append(
            dg.AssetCheckSpec(
                "contract",
                asset=mart_key(name),
                blocking=True,
                description="The built table has the columns and types of its enforced dbt contract.",
            )
        )
    targets = {}
    for reconciliation in mart_gate.RECONCILIATIONS:
        target = reconciliation_target(reconciliation, marts)
        if target not in marts:
            continue
        targets[reconciliation.name] = target
        specs.append(
            dg.AssetCheckSpec(
                reconciliation.name,
                asset=mart_key(target),
                blocking=True,
                description=reconciliation.description,
            )
        )
    by_name = {r.name: r for r in mart_gate.RECONCILIATIONS}

    @dg.multi_asset_check(
        name="mart_gate",
        specs=specs,
        can_subset=True,
        pool=WAREHOUSE_POOL,
        description="Reconciliation across layers, volume and contracts of the marts.",
    )
    def _mart_gate(
        context: dg.AssetCheckExecutionContext, config: MartGateConfig, warehouse: WarehouseResource
    ):
        settings = load_settings()
        as_of = run_as_of(context)
        gate_config = config.gate_config()
        selected = {(k.asset_key.path[-1], k.name) for k in context.selected_asset_check_keys}
        published = published_mart_rows()
        outcomes = []
        with warehouse_connection(warehouse_path=warehouse.warehouse, read_only=True) as con:
            for mart, check in sorted(selected):
                if check == "volume":
                    outcomes.append(mart_gate.volume(con, mart, published, config=gate_config))
                elif check == "contract":
                    outcomes.append(mart_gate.contract(con, mart, nodes.get(mart)))
                elif check in by_name:
                    outcomes.append(
                        mart_gate.reconcile(
                            con,
                            by_name[check],
                            as_of=as_of,
                            config=gate_config,
                            asset_key=f"marts/{mart}",
                        )
                    )
        status.record_outcomes(settings.status, run_id_of(context), as_of, outcomes)
        for outcome in outcomes:
            if outcome.status == "failed":
                context.log.error(outcome.describe())
            yield check_result(outcome, as_of)

    return _mart_gate


@dg.definitions
def mart_gate_definitions() -> dg.Definitions:
    nodes = mart_gate.mart_nodes(salesops_dbt_project().manifest_path)
    check = build_mart_gate(nodes)
    return dg.Definitions(asset_checks=[check] if check else [])
