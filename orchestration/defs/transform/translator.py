"""dbt resources as Dagster assets: keys ``<layer>/<model>`` and one group per layer.

Models under ``models/staging``, ``models/intermediate`` and ``models/marts`` get the keys
``staging/<name>``, ``intermediate/<name>``, ``marts/<name>`` (the warehouse schema and table) and
the group of their layer; seeds are ``seeds/<name>`` in group ``seeds``. Sources keep the
``meta.dagster.asset_key`` the dbt project gives them (``raw/<source>/<table>``, the ingest
assets), so ingest and dbt form one lineage graph. A model that reads a table a Python asset
writes, without ``source()`` (the table may not exist yet), names that asset in
``meta.dagster.upstream_asset_keys``; Dagster then runs the asset before the model, splitting the
dbt step in two where the asset itself reads other models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

LAYERS = ("staging", "intermediate", "marts")
SEEDS = "seeds"


def layer_of(props: Mapping[str, Any]) -> str | None:
    if props.get("resource_type") == "seed":
        return SEEDS
    fqn = props.get("fqn") or []
    if props.get("resource_type") in ("model", "snapshot") and len(fqn) > 1 and fqn[1] in LAYERS:
        return fqn[1]
    return None


class SalesopsTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        # Two dbt sources (user and user__versions) map to one ingest asset.
        super().__init__(DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        meta = (
            (dbt_resource_props.get("config") or {}).get("meta")
            or dbt_resource_props.get("meta")
            or {}
        )
        layer = layer_of(dbt_resource_props)
        if layer is None or (meta.get("dagster") or {}).get("asset_key"):
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([layer, dbt_resource_props["name"]])

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        meta = self.get_resource_props(manifest, unique_id).get("config", {}).get("meta") or {}
        upstream = (meta.get("dagster") or {}).get("upstream_asset_keys") or []
        if not upstream:
            return spec
        return spec.merge_attributes(deps=[dg.AssetKey(list(key)) for key in upstream])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return layer_of(dbt_resource_props) or super().get_group_name(dbt_resource_props)
