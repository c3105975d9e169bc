"""The status database gets every run's results, passed or failed (the run finalizer's part)."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.asof import AS_OF_TAG
from orchestration.defs.quality.run_status import record_run_status
from orchestration.quality import status
from orchestration.quality.outcome import CheckOutcome, Finding
from tests.quality.support import AS_OF


def tiny_job(dbt_test_passes: bool) -> dg.JobDefinition:
    """A mart with a dbt-like blocking test (no salesops_gate metadata) and publish after it."""

    @dg.asset(
        key=["marts", "mart_x"],
        check_specs=[
            dg.AssetCheckSpec("not_null_mart_x_id", asset=["marts", "mart_x"], blocking=True)
        ],
    )
    def mart_x():
        yield dg.Output(None)
        yield dg.AssetCheckResult(
            passed=dbt_test_passes, metadata={"dagster_dbt/failed_row_count": 3}
        )

    @dg.asset(key=["publish"], deps=[mart_x])
    def publish_marts():
        return dg.MaterializeResult(metadata={"version": "v-test"})

    return dg.Definitions(assets=[mart_x, publish_marts]).resolve_implicit_global_asset_job_def()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESOPS_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("passes", [True, False])
def test_every_run_records_its_gates_and_outcome(data_dir, passes):
    with dg.DagsterInstance.ephemeral() as instance:
        result = tiny_job(passes).execute_in_process(
            instance=instance, tags={AS_OF_TAG: AS_OF.isoformat()}, raise_on_error=False
        )
        lines = record_run_status(instance, result.run_id)
    path = data_dir / "status.duckdb"
    assert "status recorded" in lines[0]
    runs = status.read(
        path, "SELECT status, published, serving_version, CAST(as_of_date AS VARCHAR) FROM runs"
    )
    gates = status.read(
        path, "SELECT gate, asset_key, check_name, status FROM gate_results ORDER BY 1"
    )
    if passes:
        assert runs == [("passed", True, "v-test", AS_OF.isoformat())]
        assert gates == [("model", "marts/mart_x", "not_null_mart_x_id", "passed")]
    else:
        assert runs == [("failed", False, None, AS_OF.isoformat())]
        assert gates == [
            ("model", "marts/mart_x", "not_null_mart_x_id", "failed"),
            ("publish", "publish", "publish", "skipped"),
        ]
        assert "not_null_mart_x_id" in status.read(path, "SELECT failed_gates FROM runs")[0][0]


def test_outcomes_are_replaced_when_a_step_is_retried(data_dir):
    path = data_dir / "status.duckdb"
    outcome = CheckOutcome(
        "raw",
        "raw/salesforce/opportunity",
        "raw_gate",
        status="failed",
        table="raw_salesforce.opportunity",
        quarantined_by_reason={"invalid_currency": 2},
        new_quarantined_by_reason={"invalid_currency": 2},
        flagged_by_reason={"awkward_null_amount": 1},
        findings=[
            Finding(
                "invalid_currency", "expect...", "quarantine", 2, ["006A (currency_code=XYZ)"], True
            )
        ],
    )
    status.record_outcomes(path, "run-1", AS_OF, [outcome])
    status.record_outcomes(path, "run-1", AS_OF, [outcome])
    assert status.read(path, "SELECT count(*) FROM gate_results") == [(1,)]
    assert status.read(
        path, "SELECT stream, reason, quarantined_rows FROM quarantine_by_reason"
    ) == [("opportunity", "invalid_currency", 2)]
    assert status.read(path, "SELECT flag, flagged_rows FROM flags_by_reason") == [
        ("awkward_null_amount", 1)
    ]
    message = status.read(path, "SELECT message FROM gate_results")[0][0]
    assert "invalid_currency [expect...]: 2 row(s), e.g. 006A (currency_code=XYZ)" in message
    details = status.read(path, "SELECT details->>'$.findings[0].examples[0]' FROM gate_results")
    assert details == [("006A (currency_code=XYZ)",)]
