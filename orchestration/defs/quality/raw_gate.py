"""The raw gate: a blocking ``raw_gate`` check on every raw table, one step per source.

The step validates the rows the source's latest syncs landed (see
:mod:`orchestration.quality.raw_gate`), writes the quarantine and flags into ``raw_meta`` (so
dbt staging, which runs after it, excludes the quarantined rows), records every outcome in the
status database and reports it as the check's result. A failing table fails its check with
severity ERROR, so nothing downstream of the raw layer runs: no dbt build, no publish.
"""

import dagster as dg

from orchestration.defs.ingest.assets import WAREHOUSE_POOL, raw_key
from orchestration.defs.ingest.tables import SOURCE_TABLES, SourceTables
from orchestration.defs.quality.results import check_result, run_as_of, run_id_of
from orchestration.defs.resources import WarehouseResource
from orchestration.quality import raw_gate, status
from salesops.config import load_settings


class RawGateConfig(dg.Config):
    max_quarantined_share: float = 0.02  # fail a table above this share of quarantined rows
    min_quarantined_rows: int = 1  # ...when more than this many rows are quarantined
    max_orphan_share: float = 0.02  # references to missing owners / accounts
    volume_max_shrink: float = 0.2  # live rows dropping more than this since the previous sync
    volume_max_growth: float = 3.0  # warn above this growth
    chunk_rows: int = 100_000  # rows per GX batch
    revalidate: bool = False  # validate every row, not only the new syncs'

    def gate_config(self) -> raw_gate.GateConfig:
        return raw_gate.GateConfig(
            max_quarantined_share=self.max_quarantined_share,
            min_quarantined_rows=self.min_quarantined_rows,
            max_orphan_share=self.max_orphan_share,
            volume_max_shrink=self.volume_max_shrink,
            volume_max_growth=self.volume_max_growth,
            chunk_rows=self.chunk_rows,
            revalidate=self.revalidate,
        )


def build_raw_gate(tables: SourceTables) -> dg.AssetChecksDefinition:
    source = tables.source
    specs = [
        dg.AssetCheckSpec(
            raw_gate.CHECK_NAME,
            asset=raw_key(source, table),
            blocking=True,
            description=(
                f"Great Expectations suite of raw_{source}.{table} on the rows of the new syncs, "
                "plus key, reference, duplicate, volume and quarantine-share checks in SQL. "
                "Invalid rows are quarantined (excluded downstream), awkward ones flagged."
            ),
        )
        for table in tables.tables
    ]

    @dg.multi_asset_check(
        name=f"raw_gate_{source}",
        specs=specs,
        can_subset=True,
        pool=WAREHOUSE_POOL,
        compute_kind="great_expectations",
        description=f"The raw gate of every {source} table.",
    )
    def _raw_gate(
        context: dg.AssetCheckExecutionContext,
        config: RawGateConfig,
        warehouse: WarehouseResource,
    ):
        selected = sorted(key.asset_key.path[-1] for key in context.selected_asset_check_keys)
        as_of = run_as_of(context)
        outcomes = raw_gate.check_tables(
            warehouse.warehouse,
            [(source, table) for table in selected],
            as_of=as_of,
            config=config.gate_config(),
        )
        status.record_outcomes(load_settings().status, run_id_of(context), as_of, outcomes)
        failed = [o for o in outcomes if o.status == "failed"]
        for outcome in outcomes:
            level = context.log.error if outcome.status == "failed" else context.log.info
            level(outcome.describe() or outcome.message)
            yield check_result(outcome, as_of)
        if failed:
            context.log.error(
                f"raw gate {source}: {len(failed)} table(s) failed: "
                + ", ".join(o.table for o in failed)
            )

    return _raw_gate


raw_gate_salesforce = build_raw_gate(SOURCE_TABLES["salesforce"])
raw_gate_hubspot = build_raw_gate(SOURCE_TABLES["hubspot"])
raw_gate_google_ads = build_raw_gate(SOURCE_TABLES["google_ads"])
