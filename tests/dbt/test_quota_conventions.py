"""Conventions of the quota, territory, ramp and commission layers, read from the tiny build.

* the marts have the MARTS.md columns, and their grains are tested unique;
* every division in the compiled SQL of these layers is guarded (Spark raises on divide-by-zero);
* compensation data carries the restricted marker the publish step routes by (tag `restricted`,
  `meta: {restricted: true}`), and the ledger is append-only, never fully refreshed;
* the build ran every unit test of these layers.
"""

from __future__ import annotations

import json
import re

import pytest

LAYERS = (
    "models/intermediate/quota/",
    "models/marts/quota/",
    "models/marts/territory/",
    "models/marts/core/dim_territories.sql",
)
MARTS_COLUMNS = {
    "mart_quota_attainment": (
        "rep_id manager_id team region period_type fiscal_period period_start period_end "
        "quota_amount ramp_factor ramp_adjusted_quota_amount bookings_amount attainment "
        "expected_attainment pacing_ratio open_pipeline_in_period_amount remaining_quota_amount "
        "pipeline_coverage_ratio remaining_coverage_ratio"
    ),
    "mart_quota_rollup": (
        "level entity_id entity_name period_type fiscal_period quota_amount "
        "ramp_adjusted_quota_amount bookings_amount attainment reps_count reps_at_or_above_quota"
    ),
    "mart_commissions": (
        "rep_id plan_id fiscal_quarter is_locked commissionable_bookings_amount attainment "
        "base_rate tier_1_bookings_amount tier_2_bookings_amount tier_3_bookings_amount "
        "tier_1_payout_amount tier_2_payout_amount tier_3_payout_amount adjustment_amount "
        "cap_type is_capped payout_amount"
    ),
    "mart_rep_ramp": (
        "rep_id hire_date tenure_month bookings_amount ramp_factor ramp_quota_amount attainment "
        "is_first_deal_month days_to_first_deal"
    ),
    "mart_territory_coverage": (
        "territory_id fiscal_quarter accounts accounts_with_open_pipeline whitespace_accounts "
        "reps open_pipeline_amount bookings_amount pipeline_per_rep_amount"
    ),
    "dim_territories": "territory_id territory_name region segment parent_territory_id",
}
GRAINS = {
    "mart_quota_attainment": ("rep_id", "period_type", "fiscal_period"),
    "mart_quota_rollup": ("level", "entity_id", "period_type", "fiscal_period"),
    "mart_commissions": ("rep_id", "fiscal_quarter"),
    "mart_rep_ramp": ("rep_id", "tenure_month"),
    "mart_territory_coverage": ("territory_id", "fiscal_quarter"),
}


@pytest.fixture(scope="module")
def manifest(tiny_build):
    return json.loads((tiny_build.work_dir / "target" / "manifest.json").read_text())


def nodes(manifest, resource_type="model"):
    return {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == resource_type and n["original_file_path"].startswith(LAYERS)
    }


def test_marts_have_the_contract_columns(manifest):
    models = nodes(manifest)
    for mart, columns in MARTS_COLUMNS.items():
        assert set(columns.split()) <= set(models[mart]["columns"]), mart
        assert models[mart]["config"]["contract"]["enforced"], mart


def test_mart_grains_are_tested(manifest):
    tested = {
        (
            t["attached_node"].split(".")[-1],
            tuple(t["test_metadata"]["kwargs"]["combination_of_columns"]),
        )
        for t in manifest["nodes"].values()
        if t["resource_type"] == "test"
        and t.get("test_metadata", {}).get("name") == "unique_combination_of_columns"
        and t.get("attached_node")
    }
    for mart, grain in GRAINS.items():
        assert (mart, grain) in tested, mart


def test_every_division_is_guarded(manifest):
    offenders = []
    for model in nodes(manifest).values():
        sql = re.sub(r"--[^\n]*", " ", model.get("compiled_code") or "")
        sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
        for match in re.finditer(r"(?<![/*])/(?![/*])\s*(\S+)", sql):
            if not re.match(r"(nullif\(|\d+(\.\d+)?\b)", match.group(1), flags=re.I):
                offenders.append(
                    (model["name"], sql[max(0, match.start() - 40) : match.end() + 20])
                )
    assert not offenders


def test_compensation_data_is_marked_restricted_and_the_ledger_is_append_only(manifest):
    models = nodes(manifest)
    for name in ["mart_commissions", "int_commissions_calculated", "int_commissions_frozen"]:
        config = models[name]["config"]
        assert "restricted" in config["tags"], name
        assert config["meta"].get("restricted") is True, name
    for name in ["mart_quota_attainment", "mart_quota_rollup", "mart_territory_coverage"]:
        assert "restricted" not in models[name]["config"]["tags"], name
    ledger = models["int_commissions_frozen"]["config"]
    assert ledger["materialized"] == "incremental"
    assert ledger["incremental_strategy"] == "append"
    assert ledger["full_refresh"] is False
    assert ledger["schema"] == "ledger"


def test_the_build_ran_every_quota_unit_test(tiny_build, manifest):
    unit_tests = {
        n["name"]
        for n in manifest["unit_tests"].values()
        if n["original_file_path"].startswith(LAYERS)
    }
    assert len(unit_tests) >= 20
    results = {uid.split(".")[-1]: status for uid, status, _ in tiny_build.build.results}
    assert {name: results.get(name) for name in unit_tests} == dict.fromkeys(unit_tests, "pass")
