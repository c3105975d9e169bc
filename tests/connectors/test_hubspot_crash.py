"""A HubSpot sync killed with SIGKILL at a random point, then rerun, loses and duplicates nothing.

The sync runs in a subprocess against the emulator of this test process and is killed once the
emulator has answered a random number of its calls: during the first full sync, or during the
incremental sync after a day of changes. The rerun must end in the tables of an uninterrupted
run, with no record version stored twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.connectors import hubspot_support
from tests.connectors.hubspot_support import (
    a_day_of_changes,
    assert_all_succeeded,
    compare_snapshots,
    hs_env,
    make_source,
    relax_search,
    run_sync,
    snapshot,
    versions_are_distinct,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Small pages: many checkpoints, so a kill can land between, inside and after any of them.
SETTINGS = {"list_page_size": 5, "history_page_size": 5, "search_page_size": 5}
CHILD = textwrap.dedent(
    """
    import datetime as dt, os
    from connectors.destinations import DuckDBDestination
    from connectors.hubspot import from_env
    from connectors.ratelimit import RateLimits
    from connectors.streams import sync_source

    settings = dict(list_page_size=5, history_page_size=5, search_page_size=5)
    limits = RateLimits(hubspot=None, hubspot_search=None)
    source = from_env(os.environ, rate_limits=limits, **settings)
    clock = lambda: source.client.server_now or dt.datetime.now(dt.UTC)
    with DuckDBDestination(os.environ["WAREHOUSE"], clock=clock).open_sync("hubspot") as sync:
        sync_source(source, sync, source.streams())
    """
)

shared_orgs = hubspot_support.shared_orgs  # emulators of this module share their org
pytestmark = pytest.mark.usefixtures("shared_orgs")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, request):
    request.getfixturevalue("shared_orgs")
    from emulator.server import start_emulator
    from tests.conftest import AS_OF

    warehouse = tmp_path_factory.mktemp("clean") / "warehouse.duckdb"
    with start_emulator(seed=2, scale="tiny", as_of=AS_OF) as running:
        relax_search(running)
        source = make_source(running, **SETTINGS)
        assert_all_succeeded(run_sync(running, warehouse, source=source))
        full = snapshot(warehouse), versions_are_distinct(warehouse)
        running.state.advance(1)
        a_day_of_changes(running.state)
        assert_all_succeeded(run_sync(running, warehouse, source=source))
        incremental = snapshot(warehouse), versions_are_distinct(warehouse)
    return {"full": full, "incremental": incremental}


def killed_sync(running, warehouse: Path, calls: int, log: Path) -> None:
    """Start the sync in a subprocess and SIGKILL it after ``calls`` more API calls."""
    env = {**os.environ, **hs_env(running), "WAREHOUSE": str(warehouse)}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    target = running.state.calls + calls
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        deadline = time.monotonic() + 60
        while running.state.calls < target and process.poll() is None:
            assert time.monotonic() < deadline, "the sync stalled"
            time.sleep(0.002)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, (
        "premise: killed before it finished; " + log.read_text()[-2000:]
    )


@pytest.mark.parametrize(("phase", "seed"), [("full", 1), ("incremental", 3), ("incremental", 4)])
def test_sigkill_then_rerun_loses_and_duplicates_nothing(
    phase, seed, make_emulator, tmp_path, uninterrupted
):
    rng = random.Random(seed)
    running = make_emulator(seed=2)
    relax_search(running)
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_source(running, **SETTINGS)
    if phase == "incremental":
        assert_all_succeeded(run_sync(running, warehouse, source=source))
        running.state.advance(1)
        a_day_of_changes(running.state)
    # A full tiny sync with these pages makes ~70 calls, an incremental one ~45.
    killed_sync(running, warehouse, rng.randint(8, 40), tmp_path / "child.log")

    assert_all_succeeded(run_sync(running, warehouse, source=source))
    tables, versions = uninterrupted[phase]
    assert compare_snapshots(snapshot(warehouse), tables) == []
    after = versions_are_distinct(warehouse)
    assert all(rows == distinct for rows, distinct in after.values()), after
    assert after == versions
