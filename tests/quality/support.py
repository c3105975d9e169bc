"""Helpers for the quality tests: shared builds, emulator extracts, hand-made warehouses, readers.

Expensive things (an emulator org extracted over HTTP, the DuckDB 1.x reader environment) are
built once per test session even under pytest-xdist (:func:`shared`); tests copy what they
mutate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

AS_OF = dt.date(2026, 11, 26)
SEED = 42
DIRTY_RATE = 0.3
DUCKDB_1X_VERSION = "1.1.3"  # an older 1.x, as BI drivers ship; reads storage v1.0.0
ROOT = Path(__file__).resolve().parents[2]
READER = Path(__file__).with_name("reader.py")


def shared(tmp_path_factory, name: str, build: Callable[[Path], Any]) -> Any:
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


# --------------------------------------------------------------------------------------------
# Emulator orgs
# --------------------------------------------------------------------------------------------


def emulator_env(running) -> dict[str, str]:
    from tests.connectors.hubspot_support import ads_env, hs_env
    from tests.connectors.salesforce_support import sf_env

    return {**sf_env(running), **hs_env(running), **ads_env(running)}


@dataclass(frozen=True)
class Org:
    """An org extracted by the real connectors, and its ground truth."""

    warehouse: Path
    truth: Path
    dirty_rate: float | None

    def labels(self):
        import pandas as pd

        return pd.read_parquet(self.truth / "labels" / "defects.parquet")

    def copy(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "warehouse.duckdb"
        shutil.copyfile(self.warehouse, target)
        return target


def extract_org(directory: Path, *, dirty_rate: float | None, scale: str = "tiny") -> Org:
    """The emulator org over HTTP into a warehouse with ``salesops extract``'s code path."""
    from connectors.extract import extract
    from emulator.server import start_emulator
    from emulator.truth import generate_truth

    warehouse = directory / "warehouse.duckdb"
    with start_emulator(seed=SEED, scale=scale, as_of=AS_OF, dirty_rate=dirty_rate) as running:
        env = {**os.environ, **emulator_env(running), "SALESOPS_WAREHOUSE": str(warehouse)}
        result = extract(env=env)
        assert not result.errors, result.errors
    generate_truth(SEED, scale, AS_OF, directory / "truth", dirty_rate=dirty_rate)
    return Org(warehouse, directory / "truth", dirty_rate)


def land_truth_org(directory: Path, *, dirty_rate: float, scale: str) -> Org:
    """A larger org landed from the truth files (no HTTP): every defect kind occurs."""
    from emulator.truth import generate_truth
    from tests.dbt.raw_fixture import land_truth

    generate_truth(SEED, scale, AS_OF, directory / "truth", dirty_rate=dirty_rate)
    land_truth(directory / "truth", directory / "warehouse.duckdb")
    return Org(directory / "warehouse.duckdb", directory / "truth", dirty_rate)


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    return con


# --------------------------------------------------------------------------------------------
# Hand-made raw layers
# --------------------------------------------------------------------------------------------

SYNC_1 = "20261125T020000Z-aaaaaaaa"
SYNC_2 = "20261126T020000Z-bbbbbbbb"
SYNC_3 = "20261127T020000Z-cccccccc"
LANDED = {
    SYNC_1: dt.datetime(2026, 11, 25, 2, tzinfo=dt.UTC),
    SYNC_2: dt.datetime(2026, 11, 26, 2, tzinfo=dt.UTC),
    SYNC_3: dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC),
}

OPPORTUNITY = {
    "id": "VARCHAR",
    "account_id": "VARCHAR",
    "owner_id": "VARCHAR",
    "stage_name": "VARCHAR",
    "amount": "DOUBLE",
    "currency_iso_code": "VARCHAR",
    "probability": "DOUBLE",
    "close_date": "DATE",
    "forecast_category": "VARCHAR",
    "is_closed": "BOOLEAN",
    "is_won": "BOOLEAN",
    "is_deleted": "BOOLEAN",
    "created_date": "TIMESTAMPTZ",
}


def land(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    rows: list[dict[str, Any]],
    types: dict[str, str],
    sync_id: str,
    key: tuple[str, ...] = ("id",),
) -> None:
    """Upsert ``rows`` like a connector sync: new and changed rows get ``sync_id``."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    columns = ", ".join(f'"{c}" {t}' for c, t in types.items())
    con.execute(
        f'CREATE TABLE IF NOT EXISTS {schema}."{table}" ({columns}, _synced_at TIMESTAMPTZ, '
        "_sync_id VARCHAR, _is_deleted BOOLEAN, _row_hash VARCHAR)"
    )
    import pandas as pd

    names = list(types)
    frame = pd.DataFrame(
        {
            **{c: pd.Series([row.get(c) for row in rows], dtype=object) for c in names},
            "_synced_at": LANDED[sync_id],
            "_sync_id": sync_id,
            "_is_deleted": [bool(row.get("_is_deleted", False)) for row in rows],
            "_row_hash": "h",
        }
    )
    con.register("_landing", frame)
    try:
        match = " AND ".join(f't."{k}" = l."{k}"' for k in key)
        con.execute(
            f'DELETE FROM {schema}."{table}" t WHERE EXISTS (SELECT 1 FROM _landing l WHERE {match})'
        )
        casts = ", ".join(f'CAST("{c}" AS {t})' for c, t in types.items())
        con.execute(
            f'INSERT INTO {schema}."{table}" SELECT {casts}, CAST(_synced_at AS TIMESTAMPTZ), '
            "_sync_id, _is_deleted, _row_hash FROM _landing"
        )
    finally:
        con.unregister("_landing")


def opportunity(id_: str, **values: Any) -> dict[str, Any]:
    row = {
        "id": id_,
        "account_id": "001A",
        "owner_id": "005A",
        "stage_name": "Prospecting",
        "amount": 1000.0,
        "currency_iso_code": "USD",
        "probability": 10.0,
        "close_date": dt.date(2026, 12, 15),
        "forecast_category": "Pipeline",
        "is_closed": False,
        "is_won": False,
        "is_deleted": False,
        "created_date": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    }
    row.update(values)
    return row


def salesforce_references(con: duckdb.DuckDBPyConnection, sync_id: str = SYNC_1) -> None:
    """Users, an account, stages and currencies the opportunities refer to."""
    land(
        con,
        "raw_salesforce",
        "user",
        [{"id": "005A", "is_active": True}, {"id": "005B", "is_active": False}],
        {"id": "VARCHAR", "is_active": "BOOLEAN"},
        sync_id,
    )
    land(
        con,
        "raw_salesforce",
        "account",
        [{"id": "001A", "owner_id": "005A"}],
        {"id": "VARCHAR", "owner_id": "VARCHAR"},
        sync_id,
    )
    stages = ["Prospecting", "Qualification", "Closed Won", "Closed Lost"]
    land(
        con,
        "raw_salesforce",
        "opportunity_stage",
        [{"id": f"01J{i}", "master_label": s, "api_name": s} for i, s in enumerate(stages)],
        {"id": "VARCHAR", "master_label": "VARCHAR", "api_name": "VARCHAR"},
        sync_id,
    )
    land(
        con,
        "raw_salesforce",
        "currency_type",
        [{"id": f"02B{c}", "iso_code": c} for c in ("USD", "EUR")],
        {"id": "VARCHAR", "iso_code": "VARCHAR"},
        sync_id,
    )


# --------------------------------------------------------------------------------------------
# Readers (the DuckDB 1.x one in its own environment)
# --------------------------------------------------------------------------------------------


def duckdb_1x_python(cache_dir: Path) -> Path:
    """A virtualenv with ``duckdb==DUCKDB_1X_VERSION`` from the package registry, created once
    and reused across sessions. Fails (never skips) with the installer's output if it cannot."""
    venv = cache_dir / f"duckdb-{DUCKDB_1X_VERSION}"
    python = venv / "bin" / "python"
    with open(cache_dir / "create.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if python.exists():
                probe = subprocess.run(
                    [str(python), "-c", "import duckdb; print(duckdb.__version__)"],
                    capture_output=True,
                    text=True,
                )
                if probe.returncode == 0 and probe.stdout.strip() == DUCKDB_1X_VERSION:
                    return python
                shutil.rmtree(venv, ignore_errors=True)
            steps = [
                [sys.executable, "-m", "venv", str(venv)],
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    f"duckdb=={DUCKDB_1X_VERSION}",
                ],
            ]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True)
                if done.returncode != 0:
                    shutil.rmtree(venv, ignore_errors=True)
                    raise RuntimeError(
                        f"could not create the DuckDB {DUCKDB_1X_VERSION} reader environment: "
                        f"{' '.join(step)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
                    )
            return python
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class Reader:
    name: str
    process: subprocess.Popen
    output: Path

    def result(self) -> dict[str, Any]:
        self.process.wait(timeout=120)
        text = self.output.read_text()
        assert self.process.returncode == 0, (
            f"reader {self.name} exited {self.process.returncode}: {text}"
        )
        return json.loads(text)


def start_reader(python: Path, name: str, serving: Path, query: str, work: Path) -> Reader:
    """A process that opens ``serving`` read-only and runs ``query`` in a loop until
    ``work/stop`` exists; it reports every distinct answer and every error."""
    output = work / f"reader-{name}.json"
    process = subprocess.Popen(
        [str(python), str(READER), str(serving), query, str(work / "stop"), str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    return Reader(name, process, output)


@contextlib.contextmanager
def readers(
    pythons: dict[str, Path], serving: Path, query: str, work: Path
) -> Iterator[list[Reader]]:
    work.mkdir(parents=True, exist_ok=True)
    (work / "stop").unlink(missing_ok=True)
    started = [start_reader(p, name, serving, query, work) for name, p in pythons.items()]
    try:
        deadline = time.monotonic() + 60
        while not all((work / f"reader-{r.name}.ready").exists() for r in started):
            assert time.monotonic() < deadline, "readers did not start"
            assert all(r.process.poll() is None for r in started), "a reader died at start"
            time.sleep(0.05)
        yield started
    finally:
        (work / "stop").touch()


# Built from the seeds and dbt vars alone, not from raw data: a night whose raw gate fails still
# builds them into the warehouse (never into serving: publish does not run).
BUILT_WITHOUT_RAW = frozenset({"marts/dim_fiscal_calendar"})


def models_built_from_raw(materialized) -> list[str]:
    """The staging and mart assets a night materialized that read raw data."""
    return [
        key
        for key in materialized
        if key.startswith(("staging/", "marts/")) and key not in BUILT_WITHOUT_RAW
    ]
