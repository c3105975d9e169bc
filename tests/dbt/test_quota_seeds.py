"""The quota, ramp and commission seeds: the shipped ones fit the emulator's org, bad ones stop the build.

* Every rep email and team the shipped seeds name exists in the emulator's org for seed 42 at
  `tiny` and `small` (the seeds key the HubSpot business unit by team, and name by email only the
  three HubSpot team leads, who are the same users at both scales).
* A bad seed row (unknown rep, overlapping plan periods, tiers out of order, negative quota) fails
  the build with a message naming the row, and nothing downstream runs, so no payout is computed
  from it. The check runs on a copy of the project against a copy of the tiny warehouse.
"""

from __future__ import annotations

import csv
import shutil

import pytest

from emulator.org import Org
from emulator.truth import hubspot_frame, salesforce_frame
from tests.dbt import conftest
from tests.dbt.conftest import AS_OF, PROJECT_DIR, SEED, run_dbt

SEEDS = PROJECT_DIR / "seeds" / "quota"


def read_seed(name: str) -> list[dict]:
    with open(SEEDS / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def org_people(scale: str) -> tuple[set, set, set]:
    """(source_system, email), (source_system, role or team) and role names of the org."""
    org = Org.generate(SEED, scale, AS_OF)
    view = org.view(AS_OF)
    users = salesforce_frame(view, "User")
    roles = salesforce_frame(view, "UserRole").set_index("Id").Name
    owners = hubspot_frame(view, "owners")
    emails = {("salesforce", e.lower()) for e in users.Email} | {
        ("hubspot", e.lower()) for e in owners.email
    }
    teams = {("salesforce", r) for r in users.UserRoleId.map(roles).dropna()} | {
        ("hubspot", t) for t in owners.teamName.dropna()
    }
    return emails, teams, set(roles)


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_shipped_seeds_match_the_emulator_org(scale):
    emails, teams, _ = org_people(scale)
    for row in read_seed("quota_plan"):
        if row["rep_email"]:
            assert (row["source_system"], row["rep_email"].lower()) in emails, row
        else:
            assert (row["source_system"], row["team"]) in teams, row
    for row in read_seed("sales_role_assignments"):
        if row["rep_email"]:
            assert (row["source_system"], row["rep_email"].lower()) in emails, row
        else:
            assert (row["source_system"], row["crm_role_or_team"]) in teams, row


def test_every_quota_carrying_role_has_a_plan_and_a_ramp_for_the_whole_history():
    roles = {r["sales_role"] for r in read_seed("sales_roles") if r["is_quota_carrying"] == "true"}
    ramped = {r["sales_role"] for r in read_seed("ramp_schedules")}
    assert roles <= ramped
    for role in roles:
        spans = sorted(
            (r["first_fiscal_quarter"], r["last_fiscal_quarter"] or "FY9999-Q9")
            for r in read_seed("commission_plan_assignments")
            if r["sales_role"] == role
        )
        assert spans and spans[0][0] <= "FY2024-Q1" and spans[-1][1] == "FY9999-Q9", role


BAD_ROWS = {
    "quota_plan": [
        "hubspot,nobody@acme-sales.example,,FY2026-Q1,100000,USD,unknown rep",
        "hubspot,,HS NA SMB,FY2026-M05,-5000,USD,negative quota",
    ],
    "commission_plan_assignments": ["account_executive_smb,ae_fy2024,FY2025-Q3,FY2026-Q2"],
    "commission_plan_tiers": ["ae_broken,1,0,0.1", "ae_broken,2,1.2,0.15", "ae_broken,3,1.0,0.2"],
    "commission_plans": ["ae_broken,Broken plan,quarter,,,,none,"],
}
EXPECTED_MESSAGES = [
    "quota_plan row (source_system=hubspot, rep_email=nobody@acme-sales.example, "
    "fiscal_period=FY2026-Q1): unknown rep: no hubspot rep has this email",
    "quota_plan row (source_system=hubspot, team=HS NA SMB, fiscal_period=FY2026-M05): "
    "negative or missing quota: quota_amount = -5000.0",
    "commission_plan_assignments row (sales_role=account_executive_smb, plan_id=ae_fy2024, "
    "first_fiscal_quarter=FY2025-Q3, last_fiscal_quarter=FY2026-Q2): overlapping plan periods "
    "for one sales role: overlaps (sales_role=account_executive_smb, plan_id=ae_fy2026, "
    "first_fiscal_quarter=FY2026-Q1, last_fiscal_quarter=)",
    "commission_plan_tiers row (plan_id=ae_broken, tier=3): tiers out of order",
]


@pytest.fixture(scope="module")
def bad_seed_run(tiny_build, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quota_bad_seeds")
    project = tmp / "dbt_project"
    shutil.copytree(
        PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    for seed, rows in BAD_ROWS.items():
        path = project / "seeds" / "quota" / f"{seed}.csv"
        text = path.read_text()
        path.write_text(text + ("" if text.endswith("\n") else "\n") + "\n".join(rows) + "\n")
    warehouse = tmp / "warehouse.duckdb"
    shutil.copy(tiny_build.warehouse, warehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conftest, "PROJECT_DIR", project)
        return run_dbt(
            [
                "build",
                "--select",
                "path:seeds/quota",
                "int_quota_seed_rows_validated+",
                "--exclude-resource-type",
                "test",
                "--exclude-resource-type",
                "unit_test",
            ],
            warehouse=warehouse,
            work_dir=tmp,
        )


def test_bad_seed_rows_fail_the_build_naming_each_row(bad_seed_run):
    assert not bad_seed_run.success
    statuses = {uid.split(".")[-1]: status for uid, status, _ in bad_seed_run.results}
    assert statuses["int_quota_seed_rows_validated"] == "error", bad_seed_run.describe()
    message = next(
        msg for uid, _, msg in bad_seed_run.results if uid.endswith("int_quota_seed_rows_validated")
    )
    for expected in EXPECTED_MESSAGES:
        assert expected in message, message


def test_nothing_downstream_of_a_bad_seed_runs(bad_seed_run):
    statuses = {uid.split(".")[-1]: status for uid, status, _ in bad_seed_run.results}
    for model in [
        "int_quotas_allocated_monthly",
        "int_commissions_calculated",
        "int_commissions_frozen",
        "mart_quota_attainment",
        "mart_commissions",
    ]:
        assert statuses.get(model) == "skipped", (model, statuses.get(model))
