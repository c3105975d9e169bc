"""A PostgreSQL server for the tests, shared by every xdist worker of a session.

When ``SALESOPS_TEST_POSTGRES_PORT`` names a running server (with ``SALESOPS_TEST_POSTGRES_USER``,
a superuser, and optionally ``_HOST``/``_PASSWORD``), the tests use it. Otherwise the first
worker that needs one runs ``scripts/postgres.sh start`` (which installs Debian's
``postgresql`` if needed and starts a private cluster on a free port with trust auth on
127.0.0.1) under a file lock in the session's shared temp directory; the others reuse it, and
:func:`stop_session_server` (called from the controller's ``pytest_sessionfinish``) stops it.
Each test module takes a database of its own (:func:`fresh_database`).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import uuid
from pathlib import Path

import psycopg2

from connectors.destinations.postgres import PostgresConnection

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "postgres.sh"
SERVER_DIR = "postgres-server"


def _shared_root(base: Path) -> Path:
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def server(base: Path) -> PostgresConnection:
    """A superuser connection description of the session's server (started on first use)."""
    port = os.environ.get("SALESOPS_TEST_POSTGRES_PORT", "").strip()
    if port:
        return PostgresConnection(
            host=os.environ.get("SALESOPS_TEST_POSTGRES_HOST", "127.0.0.1"),
            port=int(port),
            user=os.environ.get("SALESOPS_TEST_POSTGRES_USER", "postgres"),
            password=os.environ.get("SALESOPS_TEST_POSTGRES_PASSWORD", ""),
            dbname="postgres",
        )
    root = _shared_root(base)
    directory = root / SERVER_DIR
    info = root / f"{SERVER_DIR}.json"
    with open(root / f"{SERVER_DIR}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not info.exists():
                started = subprocess.run(
                    ["bash", str(SCRIPT), "start", str(directory)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if started.returncode != 0:
                    raise RuntimeError(
                        "could not start a PostgreSQL server for the tests with "
                        f"scripts/postgres.sh:\n{started.stderr[-3000:]}"
                    )
                info.write_text(json.dumps({"port": int(started.stdout.split()[-1])}))
            port = json.loads(info.read_text())["port"]
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return PostgresConnection(port=port, user="postgres", dbname="postgres")


def stop_session_server(base: Path) -> None:
    """Stop the server this session started (nothing if it used an external one)."""
    directory = base / SERVER_DIR
    if (base / f"{SERVER_DIR}.json").exists():
        subprocess.run(["bash", str(SCRIPT), "stop", str(directory)], check=False)


def fresh_database(admin: PostgresConnection, prefix: str) -> PostgresConnection:
    """A new, empty database on the server; returns its connection description."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    con = admin.connect()
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        con.close()
    return PostgresConnection(
        host=admin.host, port=admin.port, user=admin.user, password=admin.password, dbname=name
    )


def query(target: PostgresConnection, sql: str, params=None) -> list[tuple]:
    con = target.connect()
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        con.close()


def env_for(target: PostgresConnection) -> dict[str, str]:
    """The SALESOPS_POSTGRES_* variables (CONFIG.md) of a database."""
    return {
        "SALESOPS_POSTGRES_HOST": target.host,
        "SALESOPS_POSTGRES_PORT": str(target.port),
        "SALESOPS_POSTGRES_USER": target.user,
        "SALESOPS_POSTGRES_PASSWORD": target.password,
        "SALESOPS_POSTGRES_DBNAME": target.dbname,
    }


__all__ = ["env_for", "fresh_database", "psycopg2", "query", "server", "stop_session_server"]


def run_dbt_postgres(command: list[str], *, database: PostgresConnection, work_dir: Path):
    """One dbt command on the ``postgres`` target (profiles.yml, from SALESOPS_POSTGRES_*);
    the result has the shape of :func:`tests.dbt.conftest.run_dbt`'s."""
    from tests.dbt.conftest import run_dbt_on

    return run_dbt_on("postgres", command, env=env_for(database), work_dir=work_dir)
