"""The model gate: dbt tests become asset checks that block only with severity ``error``; the
run finalizer records them in the status database. (The end-to-end case, a failing dbt test
stopping publish, is in test_pipeline.py.)"""

from __future__ import annotations

import copy
import json

import dagster as dg
from dagster_dbt import dbt_assets

from orchestration.defs.transform.translator import SalesopsTranslator
from tests.quality.support import ROOT


def check_specs(manifest: dict) -> dict[str, dg.AssetCheckSpec]:
    @dbt_assets(manifest=manifest, dagster_dbt_translator=SalesopsTranslator())
    def project(context):  # pragma: no cover - never executed
        yield from ()

    return {
        spec.metadata["dagster_dbt/unique_id"]: spec
        for spec in project.check_specs
        if "dagster_dbt/unique_id" in spec.metadata
    }


def test_dbt_tests_block_with_error_severity_and_not_with_warn():
    manifest = json.loads((ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    specs = check_specs(manifest)
    tests = [
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and uid in specs
    ]
    assert tests, "the dbt project's tests become asset checks"

    def severity(nodes, uid):
        return (nodes[uid]["config"].get("severity") or "error").lower()

    for uid in tests:  # blocking exactly when the severity is error
        assert specs[uid].blocking == (severity(manifest["nodes"], uid) == "error"), uid
    relaxed = copy.deepcopy(manifest)
    chosen = next(uid for uid in tests if severity(manifest["nodes"], uid) == "error")
    relaxed["nodes"][chosen]["config"]["severity"] = "warn"
    relaxed_specs = check_specs(relaxed)
    assert specs[chosen].blocking and not relaxed_specs[chosen].blocking
