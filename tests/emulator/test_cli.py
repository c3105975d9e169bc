"""``salesops emulator serve`` as a user runs it: a subprocess, its startup lines, its health."""

from __future__ import annotations

import contextlib
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

STARTUP_SECONDS = 120  # a tiny org generates in seconds; the margin is for a loaded 2-core box
APIS = ("Salesforce", "HubSpot", "Google Ads")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serve(*flags: str):
    """Start the console script; yield its base URL and its startup lines keyed by API name."""
    script = Path(sys.executable).with_name("salesops")
    assert script.exists(), f"the console script is not installed next to {sys.executable}"
    port = _free_port()
    process = subprocess.Popen(
        [str(script), "emulator", "serve", "--scale", "tiny", "--port", str(port), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The server never closes stdout while it runs, so lines are read on a thread and awaited
    # with a deadline instead of blocking on readline.
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    )
    reader.start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + STARTUP_SECONDS
        while not all(any(line.startswith(api) for line in seen) for api in APIS):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and process.poll() is None, f"no startup lines: {seen}"
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=min(remaining, 1)))
        by_api = {api: next(line for line in seen if line.startswith(api)) for api in APIS}
        yield f"http://127.0.0.1:{port}", by_api
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=5)


def test_serve_prints_each_api_with_default_credentials_and_is_healthy():
    with _serve() as (base, lines):
        # One line per API with the base URL and the documented defaults (issue 3, "What to build").
        assert lines["Salesforce"].split()[1] == base
        for part in (
            f"token URL {base}/services/oauth2/token",
            "client id demo-client-id",
            "secret demo-client-secret",
            "refresh token demo-refresh-token",
        ):
            assert part in lines["Salesforce"]
        assert lines["HubSpot"].split()[1] == base
        assert "bearer token demo-hubspot-token" in lines["HubSpot"]
        assert lines["Google Ads"].split()[2] == base
        assert f"token URL {base}/token" in lines["Google Ads"]
        assert "developer token demo-developer-token" in lines["Google Ads"]

        health = requests.get(f"{base}/_emulator/health", timeout=30)
        assert health.status_code == 200
        body = health.json()
        assert (body["status"], body["scale"], body["seed"], body["as_of"]) == (
            "ok",
            "tiny",
            42,
            "2026-11-26",
        )
        # The printed credentials are the ones the server accepts.
        token = requests.post(
            f"{base}/services/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "demo-client-id",
                "client_secret": "demo-client-secret",
                "refresh_token": "demo-refresh-token",
            },
            timeout=30,
        )
        assert token.status_code == 200, token.text
        owners = requests.get(
            f"{base}/crm/v3/owners",
            headers={"Authorization": "Bearer demo-hubspot-token"},
            timeout=30,
        )
        assert owners.status_code == 200, owners.text


def test_serve_credential_flags_override_the_defaults():
    flags = (
        "--salesforce-client-id=cid",
        "--salesforce-client-secret=csecret",
        "--salesforce-refresh-token=rtoken",
        "--hubspot-token=htoken",
        "--google-ads-developer-token=dtoken",
    )
    with _serve(*flags) as (base, lines):
        assert "client id cid, secret csecret, refresh token rtoken" in lines["Salesforce"]
        assert "bearer token htoken" in lines["HubSpot"]
        assert "developer token dtoken" in lines["Google Ads"]
        for secret, status in (("demo-client-secret", 400), ("csecret", 200)):
            response = requests.post(
                f"{base}/services/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "cid",
                    "client_secret": secret,
                },
                timeout=30,
            )
            assert response.status_code == status, response.text
        for token, status in (("demo-hubspot-token", 401), ("htoken", 200)):
            response = requests.get(
                f"{base}/crm/v3/owners", headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            assert response.status_code == status, response.text
