"""The gates in the real Dagster job, end to end against the emulator.

``nightly_refresh`` runs in process on an ephemeral instance (the same definitions as
``salesops run``; the run finalizer is called after it like the job's executor does), with the
tiny org served by the emulator over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.quality import publish, status
from salesops.cli import main as salesops
from tests.quality.support import (
    AS_OF,
    DIRTY_RATE,
    SEED,
    emulator_env,
    models_built_from_raw,
    readers,
    shared,
)

pytestmark = pytest.mark.slow

SOURCE_VARIABLES = (
    "SALESFORCE_",
    "HUBSPOT_",
    "GOOGLE_ADS_",
)

# Bookings in the KPI mart equal won deals in the fact table, and the publication stamp: one
# query over several marts of one serving file.
INVARIANT = """
SELECT
    (SELECT version FROM salesops.publication),
    abs(coalesce((SELECT sum(bookings_amount) FROM marts.mart_sales_kpis), 0)
        - coalesce((SELECT sum(opportunity_amount) FROM marts.fct_opportunities
                    WHERE is_won AND close_date <= (SELECT as_of_date FROM salesops.publication)), 0))
        < 0.01,
    (SELECT count(*) FROM marts.fct_opportunities),
    (SELECT CAST(as_of_date AS VARCHAR) FROM salesops.publication)
"""


@dataclass
class Night:
    run_id: str
    success: bool
    steps_failed: list[str]
    steps_skipped: list[str]
    materialized: set[str]
    failed_checks: dict[tuple[str, str], str]
    step_errors: dict[str, str] = field(default_factory=dict)
    finalizer: list[str] = field(default_factory=list)

    def explain(self) -> str:
        lines = [f"{step}: {error}" for step, error in self.step_errors.items()]
        lines += [f"{key} {name}: {text[:500]}" for (key, name), text in self.failed_checks.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Site:
    """A SALESOPS_DATA_DIR with its files."""

    data: Path

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.data / "serving.duckdb"

    @property
    def status(self) -> Path:
        return self.data / "status.duckdb"

    @property
    def paths(self) -> publish.ServingPaths:
        return publish.ServingPaths(self.serving, self.data / "serving_restricted.duckdb")

    def copy(self, target: Path) -> Site:
        shutil.copytree(self.data, target / "data", symlinks=True)
        return Site(target / "data")


def environment(site: Site, running) -> dict[str, str]:
    values = {
        "SALESOPS_DATA_DIR": str(site.data),
        "DAGSTER_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    if running is not None:
        values.update(emulator_env(running))
    return values


def run_job(site: Site, running, job_name: str, as_of: dt.date) -> Night:
    """``job_name`` on the definitions loaded with ``site``'s environment."""
    from orchestration.asof import AS_OF_TAG
    from orchestration.definitions import defs
    from orchestration.finalize import finalize_run

    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(SOURCE_VARIABLES) or name in ("SALESOPS_WAREHOUSE", "SALESOPS_SERVING"):
            del os.environ[name]
    os.environ.update(environment(site, running))
    try:
        job = defs().resolve_job_def(job_name)
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                instance=instance, tags={AS_OF_TAG: as_of.isoformat()}, raise_on_error=False
            )
            lines = finalize_run(instance, result.run_id)
            events = result.all_events
    finally:
        os.environ.clear()
        os.environ.update(saved)
    failed_checks = {}
    for event in events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                failed_checks[(data.asset_key.to_user_string(), data.check_name)] = (
                    data.description or ""
                )
    step_errors = {}
    for event in events:
        if event.event_type_value == "STEP_FAILURE":
            error = getattr(event.event_specific_data, "error", None)
            step_errors[event.step_key] = " ".join((error.message if error else "failed").split())[
                :2000
            ]
    return Night(
        run_id=result.run_id,
        step_errors=step_errors,
        success=result.success,
        steps_failed=sorted({e.step_key for e in events if e.event_type_value == "STEP_FAILURE"}),
        steps_skipped=sorted({e.step_key for e in events if e.event_type_value == "STEP_SKIPPED"}),
        materialized={
            e.asset_key.to_user_string()
            for e in events
            if e.event_type_value == "ASSET_MATERIALIZATION"
        },
        failed_checks=failed_checks,
        finalizer=lines,
    )


def first_night(directory: Path) -> tuple[Site, Night]:
    from emulator.server import start_emulator

    site = Site(directory / "data")
    site.data.mkdir(parents=True)
    with start_emulator(seed=SEED, scale="tiny", as_of=AS_OF) as running:
        night = run_job(site, running, "nightly_refresh", AS_OF)
    return site, night


@pytest.fixture(scope="session")
def first(tmp_path_factory):
    return shared(tmp_path_factory, "quality_first_night", first_night)


@pytest.fixture
def published(first):
    """The first night at the default dirty rate: every gate passes and it publishes."""
    site, night = first
    assert night.success and "publish" in night.materialized, (
        "the first night did not publish:\n" + night.explain()
    )
    return site, night


def query(path: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_a_clean_night_passes_every_gate_quarantines_invalid_rows_and_publishes(published):
    site, night = published
    assert not night.failed_checks, night.explain()
    # invalid rows: quarantined in raw_meta with their reason, still in raw, not in the marts
    quarantined = query(
        site.warehouse, "SELECT source, stream, primary_key, reason FROM raw_meta.quarantined_keys"
    )
    assert quarantined, "the default dirty rate still has invalid rows"
    for source, stream, key, _reason in quarantined:
        table = f"raw_{source}.{stream}"
        assert query(site.warehouse, f"SELECT count(*) FROM {table} WHERE id = ?", [key]) == [(1,)]
        assert query(
            site.serving,
            "SELECT count(*) FROM marts.fct_opportunities WHERE opportunity_id = ?",
            [key],
        ) == [(0,)]
    # awkward-but-real rows stay in the marts, flagged
    null_amounts = query(
        site.warehouse,
        "SELECT primary_key FROM raw_meta.flagged_keys WHERE flag = 'awkward_null_amount'",
    )
    for (key,) in null_amounts:
        assert query(
            site.serving,
            "SELECT is_amount_missing FROM marts.fct_opportunities WHERE opportunity_id = ?",
            [key],
        ) == [(True,)]
    # the status database has the run, every gate and the quarantine by reason
    assert status.read(site.status, "SELECT status, published FROM runs") == [("passed", True)]
    gates = dict(status.read(site.status, "SELECT gate, count(*) FROM gate_results GROUP BY 1"))
    assert {"raw", "model", "mart", "publish"} <= set(gates)
    reasons = status.read(
        site.status, "SELECT source, stream, reason, quarantined_rows FROM quarantine_by_reason"
    )
    assert sorted((s, t, r) for s, t, r, _ in reasons) == sorted(
        {(s, t, r) for s, t, _, r in quarantined}
    )
    # what BI reads: the serving file with its publication stamp, Parquet next to it
    assert query(site.serving, "SELECT CAST(as_of_date AS VARCHAR) FROM salesops.publication") == [
        (AS_OF.isoformat(),)
    ]
    assert (site.data / "serving_parquet" / "fct_opportunities.parquet").exists()


def test_the_first_night_serves_its_own_statistical_forecast_and_back_test(published):
    """The nightly job runs the Python forecast before the marts that read it: no empty
    statistical columns on day one, no forecast from the night before."""
    site, _ = published
    current = query(
        site.serving,
        """
        SELECT forecast_statistical_amount, forecast_statistical_low_amount,
            forecast_statistical_high_amount
        FROM marts.mart_forecast
        WHERE level = 'company' AND as_of_date = ?
        """,
        [AS_OF],
    )
    assert len(current) == 2, current  # the current and the next fiscal quarter
    for point, low, high in current:
        assert point is not None and low <= point <= high, current
    back_tested = query(
        site.serving,
        "SELECT count(DISTINCT fiscal_quarter) FROM marts.mart_forecast_accuracy "
        "WHERE method = 'statistical' AND level = 'company'",
    )
    assert back_tested[0][0] >= 4, back_tested


def test_a_dirty_night_fails_the_raw_gate_and_leaves_serving_untouched(tmp_path):
    from emulator.server import start_emulator

    site = Site(tmp_path / "data")
    site.data.mkdir()
    # yesterday's published file, whatever it holds, must not change by a single byte
    con = duckdb.connect(str(site.serving))
    con.execute(
        "CREATE SCHEMA marts; CREATE TABLE marts.fct_opportunities AS SELECT 'yesterday' AS note"
    )
    con.close()
    before = site.serving.read_bytes()
    with start_emulator(seed=SEED, scale="tiny", as_of=AS_OF, dirty_rate=DIRTY_RATE) as running:
        night = run_job(site, running, "nightly_refresh", AS_OF)
    assert not night.success
    assert set(night.steps_failed) == {"raw_gate_salesforce", "raw_gate_hubspot"}
    assert "publish" not in night.materialized
    assert not models_built_from_raw(night.materialized), night.materialized
    message = night.failed_checks[("raw/salesforce/opportunity", "raw_gate")]
    assert "raw_salesforce.opportunity" in message
    assert "invalid_probability [expect_column_values_to_be_between(probability" in message
    assert site.serving.read_bytes() == before
    # the failed night is visible: run, failing gate with its message, quarantine by reason
    assert status.read(site.status, "SELECT status, published FROM runs") == [("failed", False)]
    failed = status.read(
        site.status,
        "SELECT asset_key, message FROM gate_results WHERE status = 'failed' ORDER BY 1",
    )
    assert [k for k, _ in failed] == ["raw/hubspot/deals", "raw/salesforce/opportunity"]
    assert "invalid_currency" in failed[0][1] and "quarantined_share" in failed[1][1]
    assert status.read(site.status, "SELECT status FROM gate_results WHERE gate = 'publish'") == [
        ("skipped",)
    ]
    reasons = dict(
        status.read(
            site.status,
            "SELECT reason, quarantined_rows FROM quarantine_by_reason WHERE stream = 'opportunity'",
        )
    )
    assert reasons == {
        "invalid_currency": 1,
        "invalid_negative_amount": 1,
        "invalid_probability": 3,
    }


def test_readers_never_fail_nor_see_a_mix_while_a_night_publishes_and_rollback_restores(
    published, tmp_path, duckdb1x
):
    from emulator.server import start_emulator

    site = published[0].copy(tmp_path)
    first = site.serving.read_bytes()
    next_day = AS_OF + dt.timedelta(days=1)
    pythons = {"duckdb2": Path(sys.executable), "duckdb1": duckdb1x}
    with start_emulator(seed=SEED, scale="tiny", as_of=AS_OF) as running:
        running.state.advance(1)
        with readers(pythons, site.serving, INVARIANT, tmp_path / "readers") as running_readers:
            night = run_job(site, running, "nightly_refresh", next_day)
    assert night.success, night.explain()
    assert "publish" in night.materialized
    seen = set()
    for reader in running_readers:
        result = reader.result()
        assert result["errors"] == [], (reader.name, result["errors"][:3])
        for answer in result["answers"]:
            version, consistent, _rows, as_of = json.loads(answer)
            assert consistent == "True", (reader.name, answer)
            seen.add((version, as_of))
    assert {a for _, a in seen} <= {AS_OF.isoformat(), next_day.isoformat()}
    assert query(site.serving, "SELECT CAST(as_of_date AS VARCHAR) FROM salesops.publication") == [
        (next_day.isoformat(),)
    ]
    # roll back with the command line: yesterday's file, byte for byte
    saved = os.environ.get("SALESOPS_DATA_DIR")
    os.environ["SALESOPS_DATA_DIR"] = str(site.data)
    try:
        assert salesops(["publish", "--rollback"]) == 0
    finally:
        if saved is None:
            os.environ.pop("SALESOPS_DATA_DIR")
        else:
            os.environ["SALESOPS_DATA_DIR"] = saved
    assert site.serving.read_bytes() == first


def test_a_failing_dbt_test_blocks_publish(published, tmp_path):
    """The model gate: an error-severity dbt test fails the dbt step; publish does not run."""
    site = published[0].copy(tmp_path)
    before = site.serving.read_bytes()
    con = duckdb.connect(str(site.warehouse))
    con.execute(
        "UPDATE raw_salesforce.opportunity SET owner_id = NULL "
        "WHERE id = (SELECT min(id) FROM raw_salesforce.opportunity WHERE NOT _is_deleted)"
    )
    con.close()
    from emulator.server import start_emulator

    with start_emulator(seed=SEED, scale="tiny", as_of=AS_OF) as running:  # sources configured
        night = run_job(site, running, "rebuild_marts", AS_OF)
    assert not night.success
    assert "salesops_dbt" in night.steps_failed
    assert "publish" not in night.materialized
    assert any(
        key == "staging/stg_salesforce__opportunities" and "not_null" in name
        for key, name in night.failed_checks
    ), night.failed_checks
    assert site.serving.read_bytes() == before
    model = status.read(
        site.status,
        "SELECT asset_key, check_name FROM gate_results WHERE gate = 'model' AND status = 'failed' AND run_id = ?",
        [night.run_id],
    )
    assert (
        "staging/stg_salesforce__opportunities",
        next(n for k, n in night.failed_checks if k == "staging/stg_salesforce__opportunities"),
    ) in model
    assert status.read(site.status, "SELECT status FROM runs WHERE run_id = ?", [night.run_id]) == [
        ("failed",)
    ]
