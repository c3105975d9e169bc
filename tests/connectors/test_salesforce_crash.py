"""A sync killed with SIGKILL at a random point, then rerun, loses and duplicates nothing.

The extraction runs as ``python -m salesops.cli extract`` in a subprocess against the emulator
of this test process; it is killed after a random delay or after a random number of API calls
(the emulator counts them). The rerun must end in the tables of an uninterrupted sync, with no
record version stored twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from connectors.extract import extract
from tests.connectors.salesforce_support import compare_snapshots, run_sync, sf_env, snapshot

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def versions_per_table(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Per versions table: (rows, distinct versions by id, cursor and row hash)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw_salesforce' "
                "AND suffix(table_name, '__versions')"
            ).fetchall()
        ]
        result = {}
        for table in tables:
            cursor = (
                "created_date"
                if table.startswith("opportunity_field_history")
                else ("system_modstamp")
            )
            result[table] = con.execute(
                f"SELECT count(*), count(DISTINCT (id, {cursor}, _row_hash)) "
                f'FROM raw_salesforce."{table}"'
            ).fetchone()
    return result


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from emulator.server import start_emulator
    from tests.conftest import AS_OF

    warehouse = tmp_path_factory.mktemp("clean") / "warehouse.duckdb"
    with start_emulator(seed=42, scale="tiny", as_of=AS_OF) as running:
        run_sync(running, warehouse)
    return snapshot(warehouse), versions_per_table(warehouse)


def start_extract(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "salesops.cli", "extract", "--source", "salesforce"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


@pytest.mark.parametrize(
    ("seed", "kill_after"),
    [(1, "calls"), (2, "calls"), (3, "calls"), (4, "seconds"), (5, "seconds")],
)
def test_sigkill_then_rerun_loses_and_duplicates_nothing(
    seed, kill_after, make_emulator, tmp_path, uninterrupted
):
    rng = random.Random(seed)
    running = make_emulator()
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        **os.environ,
        **sf_env(running),
        "SALESOPS_DATA_DIR": str(tmp_path),
        "SALESOPS_WAREHOUSE": str(warehouse),
    }
    process = start_extract(env, tmp_path / "extract.log")
    try:
        # A full tiny sync makes ~65 calls (token, describes, then queries per object) and
        # takes a second or two after the interpreter has started, which varies with load.
        first_call = 1 if kill_after == "seconds" else rng.randint(25, 60)
        deadline = time.monotonic() + 60
        while running.state.calls < first_call and process.poll() is None:
            assert time.monotonic() < deadline, "the extraction stalled"
            time.sleep(0.002)
        if kill_after == "seconds":
            time.sleep(rng.uniform(0.05, 0.6))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "premise: killed before it finished"

    result = extract(["salesforce"], env=env)
    assert result.ok, result.errors
    clean_tables, clean_versions = uninterrupted
    assert compare_snapshots(snapshot(warehouse), clean_tables) == []
    versions = versions_per_table(warehouse)
    assert all(rows == distinct for rows, distinct in versions.values()), versions
    assert versions == clean_versions
