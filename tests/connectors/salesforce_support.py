"""Helpers for the Salesforce connector tests: a source on the emulator, syncs, comparisons.

Comparisons work on canonical Python values (``None`` for every kind of null, numbers as
floats, dates and datetimes as ISO text in UTC), so the warehouse and the emulator's truth
frames meet on neutral ground.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from connectors.auth import SalesforceOAuth
from connectors.destinations import DuckDBDestination
from connectors.http import HttpClient, salesforce_profile
from connectors.naming import to_snake_case
from connectors.salesforce import HARD_DELETE_OBJECTS, SalesforceSettings, SalesforceSource
from connectors.streams import ProgressCallback, StreamRun, sync_source
from emulator.truth import salesforce_frame

SYSTEM_COLUMNS = frozenset({"_synced_at", "_sync_id", "_row_hash"})


def sf_env(running) -> dict[str, str]:
    """The CONFIG.md variables that point the connector at ``running``."""
    credentials = running.credentials
    return {
        "SALESFORCE_LOGIN_URL": running.base_url,
        "SALESFORCE_CLIENT_ID": credentials.salesforce_client_id,
        "SALESFORCE_CLIENT_SECRET": credentials.salesforce_client_secret,
    }


def make_source(running, **settings: Any) -> SalesforceSource:
    """A source whose retries do not sleep (tests stay fast) and try a little harder."""
    credentials = running.credentials
    auth = SalesforceOAuth(
        running.base_url,
        credentials.salesforce_client_id,
        credentials.salesforce_client_secret,
    )
    client = HttpClient(salesforce_profile(max_attempts=10), auth=auth, sleep=lambda seconds: None)
    return SalesforceSource(client, SalesforceSettings(**settings), sleep=lambda seconds: None)


def run_sync(
    running,
    warehouse: Path,
    *,
    streams: Collection[str] | None = None,
    full_refresh: bool = False,
    on_progress: ProgressCallback | None = None,
    source: SalesforceSource | None = None,
    **settings: Any,
) -> list[StreamRun]:
    """One sync of the Salesforce source into ``warehouse``, in process."""
    source = source or make_source(running, **settings)
    destination = DuckDBDestination(
        warehouse, clock=lambda: source.client.server_now or dt.datetime.now(dt.UTC)
    )
    with destination.open_sync("salesforce") as sync:
        specs = source.streams(streams)
        return sync_source(source, sync, specs, full_refresh=full_refresh, on_progress=on_progress)


def assert_all_succeeded(runs: Iterable[StreamRun]) -> None:
    failed = {run.stream: run.error for run in runs if run.status != "success"}
    assert not failed, failed


# --------------------------------------------------------------------------------------------
# Reading and comparing
# --------------------------------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """One representation per value, whichever side it comes from."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalars
        return canonical(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return str(value)


def table_rows(
    warehouse: Path, table: str, *, schema: str = "raw_salesforce"
) -> dict[str, dict[str, Any]]:
    """Current rows of a raw table by id, system columns left out, values canonical."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        cursor = con.execute(f'SELECT * FROM "{schema}"."{table}"')
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    keep = [i for i, name in enumerate(names) if name not in SYSTEM_COLUMNS]
    out = {}
    for row in rows:
        record = {names[i]: canonical(row[i]) for i in keep}
        out[record["id"]] = record
    return out


def truth_rows(view, obj: str) -> dict[str, dict[str, Any]]:
    """The emulator's truth for ``obj`` with warehouse column names, values canonical."""
    frame = salesforce_frame(view, obj)
    frame.columns = [to_snake_case(c) for c in frame.columns]
    records = frame.astype(object).to_dict("records")
    return {r["id"]: {k: canonical(v) for k, v in r.items()} for r in records}


def live(rows: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows not flagged by the loader as deleted (what a hard-deleting org still has)."""
    return {key: row for key, row in rows.items() if not row.get("_is_deleted")}


def differences(warehouse: Path, view, obj: str, *, ignore: Collection[str] = ()) -> list[str]:
    """How the warehouse table of ``obj`` differs from the truth (empty list: equal)."""
    table = to_snake_case(obj)
    stored = table_rows(warehouse, table)
    if obj in HARD_DELETE_OBJECTS:
        stored = live(stored)
    expected = truth_rows(view, obj)
    problems = []
    missing, extra = expected.keys() - stored.keys(), stored.keys() - expected.keys()
    if missing:
        problems.append(f"{obj}: {len(missing)} missing, e.g. {sorted(missing)[:3]}")
    if extra:
        problems.append(f"{obj}: {len(extra)} extra, e.g. {sorted(extra)[:3]}")
    for key in sorted(expected.keys() & stored.keys()):
        want, got = expected[key], stored[key]
        for column, value in want.items():
            if column in ignore:
                continue
            if column not in got:
                problems.append(f"{obj}.{column}: no such column")
                return problems
            if got[column] != value:
                problems.append(f"{obj} {key}.{column}: {got[column]!r} != {value!r}")
        if "is_deleted" in got and bool(got["is_deleted"]) != bool(got["_is_deleted"]):
            problems.append(f"{obj} {key}: _is_deleted does not follow is_deleted")
    return problems[:20]


def snapshot(
    warehouse: Path, *, ignore: Mapping[str, Collection[str]] | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every current raw_salesforce table (system columns and ``ignore`` columns left out)."""
    ignore = ignore or {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw_salesforce' "
                "AND NOT contains(table_name, '__') ORDER BY 1"
            ).fetchall()
        ]
    result = {}
    for table in tables:
        skip = set(ignore.get(table, ()))
        result[table] = {
            key: {c: v for c, v in row.items() if c not in skip}
            for key, row in table_rows(warehouse, table).items()
        }
    return result


def compare_snapshots(actual: Mapping, expected: Mapping) -> list[str]:
    """Differences between two snapshots, first few per table."""
    problems = []
    if actual.keys() != expected.keys():
        problems.append(f"tables differ: {sorted(actual.keys() ^ expected.keys())}")
    for table in sorted(actual.keys() & expected.keys()):
        got, want = actual[table], expected[table]
        if got.keys() != want.keys():
            problems.append(
                f"{table}: {len(want.keys() - got.keys())} missing, "
                f"{len(got.keys() - want.keys())} extra"
            )
            continue
        for key in sorted(want):
            if got[key] != want[key]:
                diff = {
                    c: (got[key].get(c), want[key].get(c))
                    for c in got[key].keys() | want[key].keys()
                    if got[key].get(c) != want[key].get(c)
                }
                problems.append(f"{table} {key}: {diff}")
                break
    return problems


def stream_state(warehouse: Path, stream: str) -> dict[str, Any] | None:
    return DuckDBDestination(warehouse).get_state("salesforce", stream)


def count(warehouse: Path, sql: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchone()[0]
