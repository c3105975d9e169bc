"""Helpers for the HubSpot and Google Ads connector tests: sources on the emulator, syncs, the
expected tables (from what the emulator serves) and comparisons.

Comparisons work on canonical Python values (``None`` for every kind of null, numbers as
floats, datetimes as ISO text in UTC, dates as ISO text, JSON parsed), so the warehouse and the
emulator's frames meet on neutral ground. Expected rows are built here from the emulator's data
(``served_frame``, ``state.view``), never from the connector's code.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import requests

from connectors.auth import BearerToken, GoogleAdsOAuth
from connectors.destinations import DuckDBDestination
from connectors.google_ads import GoogleAdsSettings, GoogleAdsSource
from connectors.http import HttpClient, google_ads_profile, hubspot_profile
from connectors.hubspot import HubSpotSettings, HubSpotSource
from connectors.ratelimit import RateLimits
from connectors.streams import ProgressCallback, Source, StreamRun, sync_source
from emulator.ids import hs_ids
from emulator.org import Org
from emulator.schema import GOOGLE_ADS_CUSTOMER_ID, HS_REFERENCE_PROPERTIES, HS_STAGES
from emulator.server.hubspot import PORTAL_ID, PRIMARY_TYPES, property_catalogue, served_frame

SYSTEM_COLUMNS = frozenset({"_synced_at", "_sync_id", "_row_hash"})
NO_LIMITS = RateLimits(hubspot=None, hubspot_search=None)
OBJECTS = ("companies", "contacts", "deals", "calls", "emails", "meetings")
KEYS = {
    "deal_pipeline_stages": ("pipeline_id", "id"),
    "deal_property_history": ("deal_id", "property", "timestamp", "value"),
    "campaign_daily_metrics": ("customer_id", "campaign_id", "date"),
}
ASSOCIATION_KEY = ("from_id", "to_id", "association_type_id")


def key_of(table: str) -> tuple[str, ...]:
    if table.endswith("_associations"):
        return ASSOCIATION_KEY
    return KEYS.get(table, ("id",))


# --------------------------------------------------------------------------------------------
# Emulators that share their org
# --------------------------------------------------------------------------------------------

_ORGS: dict[tuple, Org] = {}


@pytest.fixture(scope="module")
def shared_orgs():
    """Emulators started while this is active share the org of each (seed, scale, as-of,
    horizon): generating it is most of an emulator's start-up. Safe for these tests because
    the HubSpot and Google Ads APIs only read the org, views are built per emulator, and the
    tests change a day's data on their own view (``a_day_of_changes`` copies what it edits)."""
    original = Org.generate.__func__

    def generate(cls, seed, scale, as_of, horizon_days=0, dirty_rate=None):
        key = (seed, scale, as_of, horizon_days, dirty_rate)
        if key not in _ORGS:
            _ORGS[key] = original(cls, seed, scale, as_of, horizon_days, dirty_rate)
        return _ORGS[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Org, "generate", classmethod(generate))
        yield


# --------------------------------------------------------------------------------------------
# Environment and sources
# --------------------------------------------------------------------------------------------


def hs_env(running) -> dict[str, str]:
    """The CONFIG.md variables that point the HubSpot connector at ``running``."""
    return {
        "HUBSPOT_BASE_URL": running.base_url,
        "HUBSPOT_ACCESS_TOKEN": running.credentials.hubspot_token,
    }


def ads_env(running) -> dict[str, str]:
    """The CONFIG.md variables that point the Google Ads connector at ``running`` (its OAuth
    client is the emulator's Salesforce client, see ``emulator/server/google_ads.py``)."""
    credentials = running.credentials
    return {
        "GOOGLE_ADS_BASE_URL": running.base_url,
        "GOOGLE_ADS_TOKEN_URL": running.base_url + "/token",
        "GOOGLE_ADS_CUSTOMER_ID": "123-456-7890",
        "GOOGLE_ADS_DEVELOPER_TOKEN": credentials.google_ads_developer_token,
        "GOOGLE_ADS_CLIENT_ID": credentials.salesforce_client_id,
        "GOOGLE_ADS_CLIENT_SECRET": credentials.salesforce_client_secret,
        "GOOGLE_ADS_REFRESH_TOKEN": "test-refresh-token",
    }


def hubspot_settings(running, **values: Any) -> dict[str, Any]:
    """Change the emulator's HubSpot settings (``search_requests_per_second=0`` turns the
    search rate limit off) through its admin endpoint."""
    response = requests.post(
        running.base_url + "/_emulator/hubspot/settings", json=values, timeout=30
    )
    response.raise_for_status()
    return response.json()


def relax_search(running) -> None:
    hubspot_settings(running, search_requests_per_second=0)


def make_source(
    running, *, rate_limits: RateLimits = NO_LIMITS, max_attempts: int = 10, **settings: Any
) -> HubSpotSource:
    """A HubSpot source whose retries do not sleep and whose client-side limits are off."""
    client = HttpClient(
        hubspot_profile(max_attempts=max_attempts),
        base_url=running.base_url,
        auth=BearerToken(running.credentials.hubspot_token),
        rate_limiter=rate_limits.bucket("hubspot"),
        sleep=lambda seconds: None,
    )
    return HubSpotSource(
        client, HubSpotSettings(**settings), search_limiter=rate_limits.bucket("hubspot_search")
    )


def make_ads_source(running, *, max_attempts: int = 10, **settings: Any) -> GoogleAdsSource:
    env = ads_env(running)
    auth = GoogleAdsOAuth.from_env(env)
    client = HttpClient(
        google_ads_profile(max_attempts=max_attempts),
        base_url=running.base_url,
        auth=auth,
        sleep=lambda seconds: None,
    )
    settings.setdefault("customer_id", GOOGLE_ADS_CUSTOMER_ID)
    return GoogleAdsSource(client, GoogleAdsSettings(**settings))


def run_sync(
    running,
    warehouse: Path,
    *,
    streams: Collection[str] | None = None,
    full_refresh: bool = False,
    on_progress: ProgressCallback | None = None,
    source: Source | None = None,
    **settings: Any,
) -> list[StreamRun]:
    """One sync of the HubSpot source (or ``source``) into ``warehouse``, in process."""
    source = source or make_source(running, **settings)
    destination = DuckDBDestination(
        warehouse, clock=lambda: source.client.server_now or dt.datetime.now(dt.UTC)
    )
    with destination.open_sync(source.name) as sync:
        specs = source.streams(streams)
        return sync_source(source, sync, specs, full_refresh=full_refresh, on_progress=on_progress)


def assert_all_succeeded(runs: Iterable[StreamRun]) -> None:
    failed = {run.stream: run.error for run in runs if run.status != "success"}
    assert not failed, failed


# --------------------------------------------------------------------------------------------
# Canonical values and the warehouse side
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
    if isinstance(value, np.generic):
        return canonical(value.item())
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | dict):
        return json.loads(json.dumps(value))
    return str(value)


def tables(warehouse: Path, schema: str = "raw_hubspot") -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? "
                "AND NOT contains(table_name, '__') ORDER BY 1",
                [schema],
            ).fetchall()
        ]


def table_rows(
    warehouse: Path, table: str, *, schema: str = "raw_hubspot", live_only: bool = False
) -> dict[tuple, dict[str, Any]]:
    """Current rows of a raw table by primary key, system columns left out, values canonical
    (JSON columns parsed); ``_is_deleted`` is kept unless ``live_only``."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = ? AND table_name = ?",
                [schema, table],
            ).fetchall()
        )
        cursor = con.execute(f'SELECT * FROM "{schema}"."{table}"')
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    key = key_of(table)
    out = {}
    for row in rows:
        record = {}
        for name, value in zip(names, row, strict=True):
            if name in SYSTEM_COLUMNS:
                continue
            if types.get(name) == "JSON" and isinstance(value, str):
                value = json.loads(value)
            record[name] = canonical(value)
        if live_only and record.pop("_is_deleted"):
            continue
        out[tuple(record[k] for k in key)] = record
    return out


def snapshot(
    warehouse: Path,
    *,
    schema: str = "raw_hubspot",
    ignore: Mapping[str, Collection[str]] | None = None,
) -> dict[str, dict[tuple, dict[str, Any]]]:
    """Every current table: objects with their ``_is_deleted`` flag, associations as the live
    rows only (a fresh sync never saw the ones removed earlier); ``ignore`` drops columns."""
    ignore = ignore or {}
    out = {}
    for table in tables(warehouse, schema):
        rows = table_rows(
            warehouse, table, schema=schema, live_only=table.endswith("_associations")
        )
        skip = set(ignore.get(table, ()))
        out[table] = {k: {c: v for c, v in r.items() if c not in skip} for k, r in rows.items()}
    return out


def compare_snapshots(actual: Mapping, expected: Mapping) -> list[str]:
    """Differences between two snapshots, first few per table."""
    problems = []
    if actual.keys() != expected.keys():
        problems.append(f"tables differ: {sorted(actual.keys() ^ expected.keys())}")
    for table in sorted(actual.keys() & expected.keys()):
        problems += compare_rows(table, actual[table], expected[table])
    return problems


def compare_rows(
    table: str, actual: Mapping[tuple, dict], expected: Mapping[tuple, dict], limit: int = 5
) -> list[str]:
    """How ``actual`` differs from ``expected`` in the columns ``expected`` has."""
    problems = []
    missing, extra = expected.keys() - actual.keys(), actual.keys() - expected.keys()
    if missing:
        problems.append(f"{table}: {len(missing)} missing, e.g. {sorted(missing)[:3]}")
    if extra:
        problems.append(f"{table}: {len(extra)} extra, e.g. {sorted(extra)[:3]}")
    for key in sorted(expected.keys() & actual.keys()):
        want, got = expected[key], actual[key]
        diff = {c: (got.get(c, "<no column>"), v) for c, v in want.items() if got.get(c) != v}
        if diff:
            problems.append(f"{table} {key}: {diff}")
        if len(problems) >= limit:
            break
    return problems


def versions_are_distinct(warehouse: Path, schema: str = "raw_hubspot") -> dict[str, tuple]:
    """Per versions table: (rows, distinct (key, row hash)); equal means no duplicate."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? "
                "AND suffix(table_name, '__versions')",
                [schema],
            ).fetchall()
        ]
        for name in names:
            key = ", ".join(f'"{k}"' for k in key_of(name.removesuffix("__versions")))
            out[name] = con.execute(
                f'SELECT count(*), count(DISTINCT ({key}, _row_hash)) FROM "{schema}"."{name}"'
            ).fetchone()
    return out


# --------------------------------------------------------------------------------------------
# What the emulator serves, as warehouse rows
# --------------------------------------------------------------------------------------------


def _hs_id(key: Any) -> str | None:
    if key is None or (isinstance(key, float) and math.isnan(key)) or int(key) < 0:
        return None
    return str(hs_ids(np.array([int(key)], dtype=np.int64))[0])


def _typed(value: Any, name: str, kind: str) -> Any:
    """A property value of the emulator's frame as it should land, canonical."""
    if name in HS_REFERENCE_PROPERTIES:
        ident = _hs_id(value)
        return None if ident is None else (float(ident) if kind == "number" else ident)
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "datetime":
        return canonical(pd.Timestamp(value).tz_localize("UTC"))
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    if kind == "number":
        return float(value)
    if kind == "bool":
        return bool(value)
    return str(value)


def expected_objects(state, obj: str) -> dict[tuple, dict[str, Any]]:
    """The records of ``obj`` the emulator serves (archived included), as landed rows."""
    frame = served_frame(state, obj)
    catalogue = property_catalogue(state, obj)
    out = {}
    for record in frame.to_dict("records"):
        archived = bool(record["archived"])
        row = {
            "id": str(int(record["_hs"])),
            "created_at": _typed(record["createdAt"], "", "datetime"),
            "updated_at": _typed(record["updatedAt"], "", "datetime"),
            "archived": archived,
            "archived_at": _typed(record["archivedAt"], "", "datetime"),
            "_is_deleted": archived,
        }
        for name, prop in catalogue.items():
            row[name] = _typed(record.get(name), name, prop.type)
        out[(row["id"],)] = row
    return out


def expected_owners(state) -> dict[tuple, dict[str, Any]]:
    out = {}
    for owner in state.view.hubspot["owners"].to_dict("records"):
        has_team = int(owner["teamId"]) >= 0
        teams = (
            [{"id": str(int(owner["teamId"])), "name": str(owner["teamName"]), "primary": True}]
            if has_team
            else []
        )
        row = {
            "id": _hs_id(owner["id"]),
            "email": canonical(owner["email"]),
            "first_name": canonical(owner["firstName"]),
            "last_name": canonical(owner["lastName"]),
            "user_id": str(int(owner["userId"])),
            "type": "PERSON",
            "archived": bool(owner["archived"]),
            "created_at": _typed(owner["createdAt"], "", "datetime"),
            "updated_at": _typed(owner["updatedAt"], "", "datetime"),
            "teams": teams,
            "primary_team_id": teams[0]["id"] if teams else None,
            "primary_team_name": teams[0]["name"] if teams else None,
            "_is_deleted": bool(owner["archived"]),
        }
        out[(row["id"],)] = row
    return out


def expected_pipelines() -> dict[str, dict[tuple, dict[str, Any]]]:
    stages = {
        ("default", stage_id): {
            "pipeline_id": "default",
            "id": stage_id,
            "label": label,
            "display_order": float(order),
            "is_closed": closed,
            "probability": float(probability),
            "archived": False,
            "_is_deleted": False,
        }
        for stage_id, label, order, closed, probability in HS_STAGES
    }
    pipelines = {
        ("default",): {
            "id": "default",
            "label": "Sales Pipeline",
            "display_order": 0.0,
            "archived": False,
            "_is_deleted": False,
        }
    }
    return {"deal_pipelines": pipelines, "deal_pipeline_stages": stages}


def expected_history(state) -> dict[tuple, dict[str, Any]]:
    history = state.view.hubspot["deal_property_history"]
    out = {}
    for deal, prop, value, stamp, source in zip(
        history.deal, history.property, history.value, history.timestamp, history.source_type,
        strict=True,
    ):  # fmt: skip
        row = {
            "deal_id": _hs_id(deal),
            "property": str(prop),
            "value": "" if pd.isna(value) else str(value),
            "timestamp": canonical(dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
                                   + dt.timedelta(milliseconds=int(stamp))),
            "source_type": str(source),
            "_is_deleted": False,
        }  # fmt: skip
        out[tuple(row[k] for k in KEYS["deal_property_history"])] = row
    return out


def expected_associations(state, from_type: str, to_type: str) -> dict[tuple, dict[str, Any]]:
    """Association rows as the v4 API lists them: a primary pair twice (primary and plain)."""
    assoc = state.view.hubspot["associations"]
    rows = assoc[(assoc.from_type == from_type) & (assoc.to_type == to_type)]
    out = {}
    for from_key, to_key, type_id in zip(rows.from_key, rows.to_key, rows.type_id, strict=True):
        for kind in ([PRIMARY_TYPES[type_id]] if type_id in PRIMARY_TYPES else []) + [type_id]:
            row = {
                "from_id": _hs_id(from_key),
                "to_id": _hs_id(to_key),
                "association_type_id": float(kind),
                "association_category": "HUBSPOT_DEFINED",
            }
            out[(row["from_id"], row["to_id"], row["association_type_id"])] = row
    return out


def expected_email_events(state) -> dict[tuple, dict[str, Any]]:
    events = state.view.hubspot["email_events"]
    out = {}
    for record in events.to_dict("records"):
        row = {
            "id": str(int(record["id"])),
            "type": str(record["type"]),
            "created": canonical(
                dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
                + dt.timedelta(milliseconds=int(record["created"]))
            ),
            "recipient": canonical(record["recipient"]),
            "email_campaign_id": str(int(record["emailCampaignId"])),
            "portal_id": str(PORTAL_ID),
            "_is_deleted": False,
        }
        out[(row["id"],)] = row
    return out


def expected_hubspot(state, associations: Iterable[tuple[str, str]]) -> dict[str, dict]:
    """Every raw_hubspot table as the emulator serves it right now."""
    out = {obj: expected_objects(state, obj) for obj in OBJECTS}
    out["owners"] = expected_owners(state)
    out.update(expected_pipelines())
    out["deal_property_history"] = expected_history(state)
    out["email_events"] = expected_email_events(state)
    for from_type, to_type in associations:
        out[f"{from_type}_{to_type}_associations"] = expected_associations(
            state, from_type, to_type
        )
    return out


def expected_ads(state) -> dict[tuple, dict[str, Any]]:
    out = {}
    for record in state.view.google_ads.to_dict("records"):
        row = {
            "customer_id": str(record["customer_id"]),
            "campaign_id": str(record["campaign_id"]),
            "campaign_name": str(record["campaign_name"]),
            "campaign_status": str(record["campaign_status"]),
            "date": pd.Timestamp(record["date"]).date().isoformat(),
            "cost_micros": float(record["cost_micros"]),
            "clicks": float(record["clicks"]),
            "impressions": float(record["impressions"]),
            "conversions": float(record["conversions"]),
        }
        out[(row["customer_id"], row["campaign_id"], row["date"])] = row
    return out


# --------------------------------------------------------------------------------------------
# A day of changes
# --------------------------------------------------------------------------------------------
# The tiny org barely changes from one day to the next, so incremental tests make the changes
# a day of CRM work brings themselves: edits at different hours, a deal moving stage (with its
# history entry), a deal archived, an association removed. They are applied to the emulator's
# view before the first request of the day, identically on every emulator of the same seed.

EDITS = {
    "companies": "name",
    "contacts": "jobtitle",
    "deals": "dealname",
    "calls": "hs_call_title",
    "emails": "hs_email_subject",
    "meetings": "hs_meeting_title",
}
CURSORS = {"contacts": "lastmodifieddate"}


def _frame(state, obj: str) -> pd.DataFrame:
    frame = state.view.hubspot[obj].copy()  # never write into frames the org may share
    state.view.hubspot[obj] = frame
    return frame


def _at(state, hours: float) -> pd.Timestamp:
    return pd.Timestamp(state.view.day) + pd.Timedelta(hours=hours)


def _touch(frame: pd.DataFrame, index, obj: str, stamp: pd.Timestamp) -> None:
    for column in ("updatedAt", CURSORS.get(obj, "hs_lastmodifieddate")):
        frame.loc[index, column] = stamp


def a_day_of_changes(state, per_object: int = 4) -> dict[str, Any]:
    """Edit ``per_object`` live records of every object at 03:00, 09:00, 15:00 and 21:00 of the
    view day; move a deal to another stage; archive a deal; remove a deal-contact association.
    Returns the HubSpot ids involved."""
    changed: dict[str, Any] = {}
    for obj, column in EDITS.items():
        frame = _frame(state, obj)
        live = frame.index[~frame.archived.to_numpy()][:per_object]
        for n, index in enumerate(live):
            frame.loc[index, column] = f"{frame.loc[index, column]} (edited {state.view.day})"
            _touch(frame, index, obj, _at(state, 3 + 6 * n))
        changed[obj] = [_hs_id(k) for k in frame.loc[live, "id"]]

    deals = state.view.hubspot["deals"]
    live = deals.index[~deals.archived.to_numpy()]
    moved, archived = live[-1], live[-2]
    stamp = _at(state, 12)
    deals.loc[moved, "dealstage"] = "closedlost"
    _touch(deals, moved, "deals", stamp)
    history = state.view.hubspot["deal_property_history"]
    entry = {
        "deal": deals.loc[moved, "id"],
        "property": "dealstage",
        "value": "closedlost",
        "timestamp": int(stamp.value // 1_000_000),
        "source_type": "CRM_UI",
    }
    state.view.hubspot["deal_property_history"] = pd.concat(
        [history, pd.DataFrame([entry]).astype(history.dtypes.to_dict())], ignore_index=True
    )
    deals.loc[archived, "archived"] = True
    deals.loc[archived, "archivedAt"] = _at(state, 14)
    _touch(deals, archived, "deals", _at(state, 14))
    changed["moved"], changed["archived"] = (
        _hs_id(deals.loc[moved, "id"]),
        _hs_id(deals.loc[archived, "id"]),
    )

    assoc = state.view.hubspot["associations"]
    pairs = assoc[(assoc.from_type == "deals") & (assoc.to_type == "contacts")]
    pairs = pairs[pairs.from_key.isin(deals.loc[live[:-2], "id"])]
    counts = pairs.groupby("from_key").size()
    deal = int(counts[counts >= 2].index[0])
    contact = int(pairs[pairs.from_key == deal].to_key.iloc[0])
    drop = ((assoc.from_key == deal) & (assoc.to_key == contact)) | (
        (assoc.from_key == contact) & (assoc.to_key == deal)
    )
    state.view.hubspot["associations"] = assoc[~drop.to_numpy()].reset_index(drop=True)
    index = deals.index[deals.id.to_numpy() == deal][0]
    _touch(deals, index, "deals", _at(state, 16))
    changed["unassociated"] = (_hs_id(deal), _hs_id(contact))
    return changed
