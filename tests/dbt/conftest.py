"""Fixtures for the dbt project: raw warehouses landed from the emulator's truth, built once.

dbt runs in a subprocess with ``--project-dir``/``--profiles-dir dbt_project`` and a private
``--target-path``/``--log-path``, so parallel runs never share state and no DuckDB file stays
open afterwards. The warehouse path reaches profiles.yml through ``SALESOPS_WAREHOUSE``.

Each expensive warehouse is built once per test session even under pytest-xdist: the first
worker that needs it builds it under a file lock in the session's shared temp directory, the
others wait and reuse it. Tests open warehouses read-only (:func:`connect`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Callable
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
    returncode: int
    seconds: float
    results: list = field(default_factory=list)  # (unique_id, status, message)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def success(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        bad = [
            f"{uid}: {status} {msg}"
            for uid, status, msg in self.results
            if status not in ("success", "pass", "no-op")
        ]
        return "\n".join([*self.errors, *self.warnings, *bad, self.output[-3000:]])


def run_dbt(
    command: list[str],
    *,
    warehouse: Path,
    work_dir: Path,
    variables: dict | None = None,
    timezone: str = "UTC",
) -> DbtRun:
    """Run one dbt command against ``warehouse``; collects results, warnings and errors."""
    return run_dbt_on(
        "duckdb",
        command,
        env={"SALESOPS_WAREHOUSE": str(warehouse)},
        work_dir=work_dir,
        variables=variables,
        timezone=timezone,
    )


def run_dbt_on(
    target_name: str,
    command: list[str],
    *,
    env: dict[str, str],
    work_dir: Path,
    variables: dict | None = None,
    timezone: str = "UTC",
) -> DbtRun:
    """Run one dbt command on the profiles.yml target ``target_name`` (duckdb, postgres, spark)
    with ``env`` (where that target's data lives) in a dbt process of its own."""
    target = work_dir / "target"
    args = [
        *command,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(work_dir / "logs"),
        "--log-format",
        "json",
        "--vars",
        json.dumps({"as_of_date": AS_OF.isoformat(), **(variables or {})}),
    ]
    process_env = {
        **os.environ,
        **env,
        "SALESOPS_TIMEZONE": timezone,
        "SALESOPS_DBT_TARGET": target_name,
        "DO_NOT_TRACK": "1",
    }
    (target / "run_results.json").unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", *args],
        cwd=ROOT,
        env=process_env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    warnings, errors = [], []
    for line in process.stdout.splitlines():
        try:
            info = json.loads(line)["info"]
        except (ValueError, KeyError, TypeError):
            continue
        if info.get("level") == "warn":
            warnings.append(f"{info.get('name')}: {info.get('msg')}")
        elif info.get("level") == "error":
            errors.append(f"{info.get('name')}: {info.get('msg')}")
    results = []
    if (target / "run_results.json").exists():
        for item in json.loads((target / "run_results.json").read_text())["results"]:
            results.append((item["unique_id"], item["status"], item.get("message")))
    return DbtRun(
        args=args,
        returncode=process.returncode,
        seconds=seconds,
        results=results,
        warnings=warnings,
        errors=errors,
        output=process.stdout + process.stderr,
    )


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection (several test workers may read one warehouse at once)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con


def shared(tmp_path_factory, name: str, build: Callable[[Path], object]):
    """``build(directory)`` once per test session, whichever xdist worker asks first."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = root / name
    done = root / f"{name}.pickle"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if done.exists():
                return pickle.loads(done.read_bytes())
            directory.mkdir(parents=True, exist_ok=True)
            value = build(directory)
            done.write_bytes(pickle.dumps(value))
            return value
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class BuiltWarehouse:
    truth: Path
    warehouse: Path
    work_dir: Path
    build: DbtRun
    seconds: dict = field(default_factory=dict)


def build_from_truth(
    tmp: Path, scale: str, *, command: list[str] | None = None, variables: dict | None = None
) -> BuiltWarehouse:
    """Truth -> raw layer -> ``dbt build``. The raw warehouse comes from the truth fixture today;
    switch this function to a real connector extract against the emulator once the connectors
    land (the dbt project reads only the raw layer, so nothing else changes)."""
    seconds = {}
    started = time.perf_counter()
    truth = tmp / "truth"
    generate_truth(SEED, scale, AS_OF, truth)
    seconds["truth"] = time.perf_counter() - started
    warehouse = tmp / "warehouse.duckdb"
    started = time.perf_counter()
    land_truth(truth, warehouse)
    seconds["landing"] = time.perf_counter() - started
    run = run_dbt(command or ["build"], warehouse=warehouse, work_dir=tmp, variables=variables)
    seconds["dbt_build"] = run.seconds
    return BuiltWarehouse(
        truth=truth, warehouse=warehouse, work_dir=tmp, build=run, seconds=seconds
    )


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory) -> BuiltWarehouse:
    """The tiny org, built once per session with `dbt build` (unit tests and data tests included)."""
    return shared(tmp_path_factory, "dbt_tiny", lambda tmp: build_from_truth(tmp, "tiny"))
