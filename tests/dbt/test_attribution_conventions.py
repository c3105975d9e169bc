"""Conventions of the attribution and revenue layers, read from the manifest of the tiny build.

* every division in their compiled SQL is guarded (Spark raises on divide-by-zero), by the same
  check test_project_conventions runs over the core layers;
* the build ran every unit test and singular test of these layers, and they passed.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.dbt import test_project_conventions as conventions

LAYERS = (
    "models/intermediate/attribution/",
    "models/marts/attribution/",
    "models/intermediate/revenue/",
    "models/marts/revenue/",
)
SINGULAR_TESTS = "tests/attribution/"


@pytest.fixture(scope="module")
def manifest(tiny_build):
    return json.loads((tiny_build.work_dir / "target" / "manifest.json").read_text())


def layer_models(manifest) -> dict[str, dict]:
    return {
        m["name"]: m
        for m in conventions.models(manifest)
        if m["original_file_path"].startswith(LAYERS)
    }


def assert_divisions_guarded(manifest, monkeypatch) -> None:
    # The core suite's check reads its layers from CORE_LAYERS at call time; pointing it at ours
    # runs the one implementation of the rule instead of a copy of it.
    monkeypatch.setattr(conventions, "CORE_LAYERS", LAYERS)
    conventions.test_every_division_is_guarded(manifest)


def test_every_division_is_guarded(manifest, monkeypatch):
    models = layer_models(manifest)
    # the models whose weights, ARR and ratios divide; without their SQL the check proves nothing
    assert {
        "int_conversion_touches_weighted",
        "int_contract_terms_resolved",
        "mart_campaign_performance",
        "mart_account_retention",
    } <= set(models)
    assert all(model.get("compiled_code") for model in models.values())
    assert_divisions_guarded(manifest, monkeypatch)


@pytest.mark.parametrize(
    ("model", "guarded", "unguarded"),
    [
        ("int_conversion_touches_weighted", "nullif(touch_count, 0)", "touch_count"),
        (
            "int_contract_terms_resolved",
            "nullif(measured.term_months, 0)",
            "measured.term_months",
        ),
    ],
)
def test_the_division_check_catches_the_divisions_these_layers_had(
    manifest, monkeypatch, model, guarded, unguarded
):
    """Before the guards, linear attribution divided by touch_count and ARR by term_months."""
    node = copy.deepcopy(layer_models(manifest)[model])
    assert guarded in node["compiled_code"]
    node["compiled_code"] = node["compiled_code"].replace(guarded, unguarded)
    with pytest.raises(AssertionError):
        assert_divisions_guarded({"nodes": {node["unique_id"]: node}}, monkeypatch)


def test_the_build_ran_every_attribution_and_revenue_test(tiny_build, manifest):
    unit_tests = {
        n["unique_id"]
        for n in manifest["unit_tests"].values()
        if n["original_file_path"].startswith(LAYERS)
    }
    singular_tests = {
        n["unique_id"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and n["original_file_path"].startswith(SINGULAR_TESTS)
    }
    assert len(unit_tests) >= 14
    assert len(singular_tests) >= 2
    results = {uid: status for uid, status, _ in tiny_build.build.results}
    ran = {uid: results.get(uid) for uid in unit_tests | singular_tests}
    assert ran == dict.fromkeys(unit_tests | singular_tests, "pass")
