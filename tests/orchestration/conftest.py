"""Fixtures of the orchestration tests: a persistent Dagster instance in a temporary
``DAGSTER_HOME`` (the project's dagster.yaml), the connector variables for an emulator, and a
tiny local webhook receiver that records every alert posted to it."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from salesops.config import PROJECT_ROOT

SOURCE_VARIABLES = (
    "SALESFORCE_LOGIN_URL",
    "SALESFORCE_CLIENT_ID",
    "SALESFORCE_CLIENT_SECRET",
    "SALESFORCE_REFRESH_TOKEN",
    "SALESFORCE_API_VERSION",
    "HUBSPOT_BASE_URL",
    "HUBSPOT_ACCESS_TOKEN",
    "GOOGLE_ADS_BASE_URL",
    "GOOGLE_ADS_TOKEN_URL",
    "GOOGLE_ADS_CUSTOMER_ID",
    "GOOGLE_ADS_LOGIN_CUSTOMER_ID",
    "GOOGLE_ADS_DEVELOPER_TOKEN",
    "GOOGLE_ADS_CLIENT_ID",
    "GOOGLE_ADS_CLIENT_SECRET",
    "GOOGLE_ADS_REFRESH_TOKEN",
    "SALESOPS_ALERT_WEBHOOK_URL",
    "SALESOPS_WAREHOUSE",
    "SALESOPS_SERVING",
    "SALESOPS_SERVING_RESTRICTED",
    "SALESOPS_STATUS",
    "SALESOPS_BRIEF",
    "SALESOPS_TIMEZONE",
    "SALESOPS_NIGHTLY_CRON",
    "SALESOPS_MART_MAX_AGE_HOURS",
)


@pytest.fixture
def clean_env(monkeypatch, data_dir):
    """No source configured, no webhook, a private data dir (``data_dir``)."""
    for name in SOURCE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return data_dir


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    """A persistent instance (SQLite) in a temporary DAGSTER_HOME with the project's yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def instance(dagster_home):
    import dagster as dg

    with dg.DagsterInstance.get() as inst:
        yield inst


def connector_env(running, *, salesforce=True, hubspot=True, google_ads=True) -> dict[str, str]:
    """The CONFIG.md variables pointing the chosen connectors at ``running``."""
    from salesops.commands.demo import emulator_env

    env = emulator_env(running)
    prefixes = []
    if not salesforce:
        prefixes.append("SALESFORCE_")
    if not hubspot:
        prefixes.append("HUBSPOT_")
    if not google_ads:
        prefixes.append("GOOGLE_ADS_")
    return {k: v for k, v in env.items() if not k.startswith(tuple(prefixes))}


class Receiver:
    """Records the JSON bodies posted to ``url``."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.raw: list[bytes] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.raw.append(body)
                received.posts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        # The path stands for the secret part of a real Slack webhook URL.
        self.secret_path = "/services/T0SECRET/B0SECRET/webhook-SECRET-token"
        self.url = f"http://{host}:{port}{self.secret_path}"

    def texts(self) -> list[str]:
        return [body.decode() for body in self.raw]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    running = Receiver()
    monkeypatch.setenv("SALESOPS_ALERT_WEBHOOK_URL", running.url)
    yield running
    running.close()


def read_text_files(root: Path) -> str:
    """Every text file under ``root`` (compute logs, the SQLite files as bytes decoded)."""
    chunks = []
    for path in root.rglob("*"):
        if path.is_file():
            chunks.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(chunks)
