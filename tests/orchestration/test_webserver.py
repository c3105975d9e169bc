"""The Dagster webserver and daemon on the definitions: the GraphQL API shows the asset groups,
the checks and the schedule, and a ``nightly_refresh`` launched through it succeeds (queued,
dequeued by the daemon, executed by the default run launcher)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from orchestration.asof import AS_OF_TAG
from salesops.config import PROJECT_ROOT
from tests.orchestration.conftest import connector_env

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 240
RUN_SECONDS = 600

REPOSITORIES = """
query {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        jobs { name }
        schedules { name cronSchedule executionTimezone }
        sensors { name }
      }
    }
  }
}
"""

ASSETS = """
query {
  assetNodes {
    assetKey { path }
    groupName
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } }
  }
}
"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""

RUN = """
query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GraphQL:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            self.url, json={"query": query, "variables": variables or {}}, timeout=300
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def _wait_for_location(graphql: GraphQL, server: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            data = graphql(REPOSITORIES)["repositoriesOrError"]
            if data["__typename"] == "RepositoryConnection" and data["nodes"]:
                return data["nodes"][0]
        except (requests.RequestException, AssertionError):
            pass
        time.sleep(2)
    raise AssertionError(
        f"the webserver did not load the code location:\n{log.read_text()[-3000:]}"
    )


def _create_storage() -> None:
    """Create the instance's SQLite tables first: the webserver and the daemon starting on an
    empty DAGSTER_HOME at the same moment would both try to (as `dagster dev` avoids too)."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
        instance.all_logs("none")
        instance.all_instigator_state()
        instance.event_log_storage.get_concurrency_keys()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_webserver_shows_the_pipeline_and_runs_nightly_refresh(
    clean_env, dagster_home, emulator, tmp_path
):
    env = {**os.environ, **connector_env(emulator), "DAGSTER_HOME": str(dagster_home)}
    _create_storage()
    port = _free_port()
    server_log, daemon_log = tmp_path / "webserver.log", tmp_path / "daemon.log"
    with open(server_log, "w") as server_out, open(daemon_log, "w") as daemon_out:
        server = subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                "-m",
                "orchestration.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=server_out,
            stderr=subprocess.STDOUT,
        )
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-m", "orchestration.definitions"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=daemon_out,
            stderr=subprocess.STDOUT,
        )
        try:
            graphql = GraphQL(port)
            started = time.monotonic()
            repository = _wait_for_location(graphql, server, server_log)
            print(f"code location loaded in {time.monotonic() - started:.0f}s")

            assert {"nightly_refresh", "ingest", "rebuild_marts", "google_ads_backfill"} <= {
                j["name"] for j in repository["jobs"]
            }
            (schedule,) = repository["schedules"]
            assert schedule == {
                "name": "nightly_refresh_schedule",
                "cronSchedule": "0 2 * * *",
                "executionTimezone": "UTC",
            }
            assert {"alert_on_run_failure", "stale_marts"} <= {
                s["name"] for s in repository["sensors"]
            }

            nodes = graphql(ASSETS)["assetNodes"]
            groups = {n["groupName"] for n in nodes}
            assert {"ingest", "staging", "intermediate", "marts", "reporting"} <= groups
            checks = {
                (tuple(n["assetKey"]["path"]), c["name"])
                for n in nodes
                if n["assetChecksOrError"]["__typename"] == "AssetChecks"
                for c in n["assetChecksOrError"]["checks"]
            }
            assert any(path[0] == "marts" for path, _ in checks)

            launched = graphql(
                LAUNCH,
                {
                    "params": {
                        "selector": {
                            "repositoryLocationName": repository["location"]["name"],
                            "repositoryName": repository["name"],
                            "jobName": "nightly_refresh",
                        },
                        "runConfigData": {},
                        "executionMetadata": {"tags": [{"key": AS_OF_TAG, "value": "2026-11-26"}]},
                    }
                },
            )["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]

            started = time.monotonic()
            status = None
            while time.monotonic() - started < RUN_SECONDS:
                status = graphql(RUN, {"id": run_id})["runOrError"]["status"]
                if status in ("SUCCESS", "FAILURE", "CANCELED"):
                    break
                assert daemon.poll() is None, daemon_log.read_text()[-3000:]
                time.sleep(3)
            print(
                f"nightly_refresh through the webserver: {status} in {time.monotonic() - started:.0f}s"
            )
            assert status == "SUCCESS", daemon_log.read_text()[-3000:]
            assert (clean_env / "brief.html").exists()
        finally:
            _stop(daemon)
            _stop(server)
