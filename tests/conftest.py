"""Shared fixtures: the emulator on a free port, temp-dir warehouses, the test clock.

Tests use the real parts: the emulator over real HTTP on 127.0.0.1 and real DuckDB files under a
temporary directory. Use the ``tiny`` org unless scale is the point of the test.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from emulator.server import RunningEmulator, start_emulator

AS_OF = dt.date(2026, 11, 26)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def emulator() -> RunningEmulator:
    """A shared, read-only tiny org. Tests that advance time or set faults use ``make_emulator``."""
    with start_emulator(seed=42, scale="tiny", as_of=AS_OF) as running:
        yield running


@pytest.fixture
def make_emulator():
    """Factory for a private emulator (own faults, own clock); stopped after the test."""
    started: list[RunningEmulator] = []

    def make(**kwargs) -> RunningEmulator:
        kwargs.setdefault("seed", 42)
        kwargs.setdefault("scale", "tiny")
        kwargs.setdefault("as_of", AS_OF)
        running = start_emulator(**kwargs)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private SALESOPS_DATA_DIR so warehouses, serving and status files live under tmp."""
    monkeypatch.setenv("SALESOPS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def pytest_sessionfinish(session):
    """Stop the PostgreSQL server tests/engines started (in the xdist controller, or the only
    process), after every worker is done with it."""
    if hasattr(session.config, "workerinput"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    from tests.engines.postgres_support import stop_session_server

    stop_session_server(factory.getbasetemp())
