"""Fixtures for the dbt project: a raw warehouse landed from the emulator's truth, built once.

dbt runs in-process through ``dbtRunner`` with ``--project-dir``/``--profiles-dir dbt_project``
and a private ``--target-path``/``--log-path`` under the session's tmp dir, so parallel test runs
never share state. The warehouse path reaches profiles.yml through ``SALESOPS_WAREHOUSE``.

DuckDB allows one configuration per database file in a process, and dbt keeps its connection
open after an invocation: open warehouses with :func:`connect` (default configuration), never
``read_only=True``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from emulator.truth import generate_truth
from tests.dbt.raw_fixture import land_truth

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = ROOT / "dbt_project"
AS_OF = dt.date(2026, 11, 26)
SEED = 42

os.environ.setdefault("DO_NOT_TRACK", "1")


@dataclass
class DbtRun:
    """The outcome of one dbt invocation."""

    args: list[str]
    success: bool
    seconds: float
    results: list = field(default_factory=list)  # (unique_id, status, message)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exception: BaseException | None = None

    def statuses(self, prefix: str = "") -> dict[str, str]:
        return {uid: status for uid, status, _ in self.results if uid.startswith(prefix)}

    def describe(self) -> str:
        bad = [
            f"{uid}: {status} {msg}"
            for uid, status, msg in self.results
            if status not in ("success", "pass")
        ]
        return "\n".join([*self.errors, *self.warnings, *bad, repr(self.exception or "")])


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_dbt(
    command: list[str],
    *,
    warehouse: Path,
    work_dir: Path,
    variables: dict | None = None,
    timezone: str = "UTC",
) -> DbtRun:
    """Run one dbt command against ``warehouse``; collects results, warnings and errors."""
    from dbt.cli.main import dbtRunner

    warnings: list[str] = []
    errors: list[str] = []

    def listen(event) -> None:
        level = event.info.level
        if level == "warn":
            warnings.append(f"{event.info.name}: {event.info.msg}")
        elif level == "error":
            errors.append(f"{event.info.name}: {event.info.msg}")

    args = [
        *command,
        "--quiet",
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--vars",
        json.dumps({"as_of_date": AS_OF.isoformat(), **(variables or {})}),
    ]
    env = {
        "SALESOPS_WAREHOUSE": str(warehouse),
        "SALESOPS_TIMEZONE": timezone,
        "SALESOPS_DBT_TARGET": "duckdb",
        "DO_NOT_TRACK": "1",
    }
    started = time.perf_counter()
    with _environment(env):
        outcome = dbtRunner(callbacks=[listen]).invoke(args)
    results = []
    result = outcome.result
    for item in getattr(result, "results", None) or []:
        node = getattr(item, "node", None)
        uid = getattr(node, "unique_id", "?")
        results.append((uid, str(getattr(item.status, "value", item.status)), item.message))
    return DbtRun(
        args=args,
        success=bool(outcome.success),
        seconds=time.perf_counter() - started,
        results=results,
        warnings=warnings,
        errors=errors,
        exception=outcome.exception,
    )


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(warehouse))
    con.execute("SET TimeZone = 'UTC'")
    return con


@dataclass
class BuiltWarehouse:
    truth: Path
    warehouse: Path
    work_dir: Path
    build: DbtRun


def build_from_truth(
    tmp: Path, scale: str, *, command: list[str] | None = None, variables: dict | None = None
) -> BuiltWarehouse:
    """Truth -> raw layer -> ``dbt build``. The raw warehouse comes from the truth fixture today;
    switch this function to a real connector extract against the emulator once the connectors
    land (the dbt project reads only the raw layer, so nothing else changes)."""
    truth = tmp / "truth"
    generate_truth(SEED, scale, AS_OF, truth)
    warehouse = tmp / "warehouse.duckdb"
    land_truth(truth, warehouse)
    run = run_dbt(command or ["build"], warehouse=warehouse, work_dir=tmp, variables=variables)
    return BuiltWarehouse(truth=truth, warehouse=warehouse, work_dir=tmp, build=run)


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory) -> BuiltWarehouse:
    """The tiny org, built once per session with `dbt build` (unit tests and data tests included)."""
    return build_from_truth(tmp_path_factory.mktemp("dbt_tiny"), "tiny")
