"""Land the emulator's ground truth into a DuckDB raw layer exactly as docs/raw-layer.md describes.

The connectors are being written in parallel; until they land real data, this helper gives the dbt
project the raw layer they will produce, from the truth Parquet files (`emulator/truth.py`):

* ``raw_salesforce.<object>``: one table per object, named and with columns named by the
  Fivetran snake_case rule (:func:`connectors.naming.to_snake_case`), typed per describe
  (id/reference/picklist/text -> VARCHAR, double/currency/percent -> DOUBLE, int -> INTEGER,
  boolean -> BOOLEAN, date -> DATE, datetime -> TIMESTAMPTZ, anyType -> VARCHAR);
  ``_is_deleted`` comes from ``is_deleted`` where the object has it.
* ``raw_hubspot.<object>``: ``id``, ``created_at``, ``updated_at``, ``archived``, ``archived_at``
  and one column per property typed from the property type (number -> DOUBLE, datetime ->
  TIMESTAMPTZ, date -> DATE, bool -> BOOLEAN, else VARCHAR); ``owners``, ``deal_pipelines``,
  ``deal_pipeline_stages``, ``deal_property_history``, ``<from>_<to>_associations`` (both the
  primary and the plain association type, as the v4 API lists them) and ``email_events``.
* ``raw_google_ads.campaign_daily_metrics``.
* Every table carries ``_synced_at``, ``_sync_id``, ``_is_deleted`` and ``_row_hash``, and has a
  ``<table>__versions`` twin with one row per record version landed.

Landing a second truth into the same file behaves like a connector's incremental sync: a row
whose content did not change keeps its ``_synced_at``/``_sync_id``; new and changed rows get the
new ones and a new version; rows that disappeared are kept with ``_is_deleted = true`` (the
connectors' id reconciliation). Schema drift (a new field) adds a column.

When the connectors are ready, the dbt tests can take their raw warehouse from a real extract
against the emulator instead; nothing in the dbt project depends on this module.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from connectors.naming import quote_ident, to_snake_case
from emulator.schema import (
    GOOGLE_ADS_CUSTOMER_ID,
    HS_OBJECTS,
    HS_PIPELINE_ID,
    HS_STAGES,
    SF_DRIFT_FIELDS,
    SF_OBJECTS,
)

SF_TYPES = {
    "double": "DOUBLE",
    "currency": "DOUBLE",
    "percent": "DOUBLE",
    "int": "INTEGER",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "address": "JSON",
    "location": "JSON",
}
HS_TYPES = {
    "number": "DOUBLE",
    "datetime": "TIMESTAMPTZ",
    "date": "DATE",
    "bool": "BOOLEAN",
}
HS_COMMON = {
    "id": "VARCHAR",
    "created_at": "TIMESTAMPTZ",
    "updated_at": "TIMESTAMPTZ",
    "archived": "BOOLEAN",
    "archived_at": "TIMESTAMPTZ",
}
PRIMARY_ASSOCIATION_TYPES = {341: 5, 342: 6, 279: 1, 280: 2}  # as the v4 API lists them
PORTAL_ID = "4811256"
PIPELINE_CREATED = dt.datetime(2019, 6, 3, 9, 0, tzinfo=dt.UTC)
METADATA = ("_synced_at", "_sync_id", "_is_deleted", "_row_hash")


def sync_clock(view_day: dt.date) -> dt.datetime:
    """The emulator's "now" after the view day: the nightly sync runs at 02:00 UTC."""
    return dt.datetime.combine(view_day + dt.timedelta(days=1), dt.time(2, 0), tzinfo=dt.UTC)


def land_truth(truth_dir: Path | str, warehouse: Path | str) -> dict[str, int]:
    """Land (or re-land, like an incremental sync) a truth directory; returns rows per table."""
    truth_dir = Path(truth_dir)
    manifest = json.loads((truth_dir / "manifest.json").read_text())
    now = sync_clock(dt.date.fromisoformat(manifest["view_day"]))
    sync_id = f"{now:%Y%m%dT%H%M%SZ}-fixture"
    tables = {
        **_salesforce_tables(truth_dir),
        **_hubspot_tables(truth_dir),
        **_google_ads_tables(truth_dir),
    }
    counts = {}
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET TimeZone = 'UTC'")
        for (schema, table), (frame, types, key, deleted) in tables.items():
            counts[f"{schema}.{table}"] = _land(
                con, schema, table, frame, types, key, deleted, now, sync_id
            )
    finally:
        con.close()
    return counts


# ------------------------------------------------------------------------------ Salesforce
def _salesforce_tables(truth_dir: Path) -> dict:
    out = {}
    for path in sorted((truth_dir / "salesforce").glob("*.parquet")):
        obj = SF_OBJECTS[path.stem]
        frame = pd.read_parquet(path)
        fields = {f.name: f for f in obj.fields}
        drift = SF_DRIFT_FIELDS.get(obj.name)
        if drift is not None:
            fields[drift.name] = drift
        types = {}
        for column in frame.columns:
            types[to_snake_case(column)] = SF_TYPES.get(fields[column].type, "VARCHAR")
        frame = frame.rename(columns=to_snake_case)
        deleted = "is_deleted" if "is_deleted" in frame else None
        out[("raw_salesforce", to_snake_case(obj.name))] = (frame, types, ["id"], deleted)
    return out


# ------------------------------------------------------------------------------ HubSpot
def _hubspot_tables(truth_dir: Path) -> dict:
    hs = truth_dir / "hubspot"
    out = {}
    renames = {"createdAt": "created_at", "updatedAt": "updated_at", "archivedAt": "archived_at"}
    for name, obj in HS_OBJECTS.items():
        frame = pd.read_parquet(hs / f"{name}.parquet").rename(columns=renames)
        types = dict(HS_COMMON)
        props = {p.name: p for p in obj.properties}
        props["competitor"] = props.get("competitor") or _string_property("competitor")
        for column in frame.columns:
            if column not in types:
                types[column] = HS_TYPES.get(props[column].type, "VARCHAR")
        out[("raw_hubspot", name)] = (frame, types, ["id"], "archived")

    owners = pd.read_parquet(hs / "owners.parquet")
    has_team = owners.teamId.to_numpy() >= 0
    teams = [
        json.dumps([{"id": str(int(t)), "name": str(n), "primary": True}] if ok else [])
        for t, n, ok in zip(owners.teamId, owners.teamName, has_team, strict=True)
    ]
    owners_frame = pd.DataFrame(
        {
            "id": owners.id,
            "email": owners.email,
            "first_name": owners.firstName,
            "last_name": owners.lastName,
            "user_id": owners.userId.astype(str),
            "type": "PERSON",
            "archived": owners.archived,
            "created_at": owners.createdAt,
            "updated_at": owners.updatedAt,
            "teams": teams,
            "primary_team_id": [
                str(int(t)) if ok else None for t, ok in zip(owners.teamId, has_team, strict=True)
            ],
            "primary_team_name": owners.teamName.where(has_team, None),
        }
    )
    out[("raw_hubspot", "owners")] = (
        owners_frame,
        {
            "id": "VARCHAR",
            "email": "VARCHAR",
            "first_name": "VARCHAR",
            "last_name": "VARCHAR",
            "user_id": "VARCHAR",
            "type": "VARCHAR",
            "archived": "BOOLEAN",
            "created_at": "TIMESTAMPTZ",
            "updated_at": "TIMESTAMPTZ",
            "teams": "JSON",
            "primary_team_id": "VARCHAR",
            "primary_team_name": "VARCHAR",
        },
        ["id"],
        "archived",
    )

    pipelines = pd.DataFrame(
        {
            "id": [HS_PIPELINE_ID],
            "label": ["Sales Pipeline"],
            "display_order": [0],
            "archived": [False],
        }
    )
    out[("raw_hubspot", "deal_pipelines")] = (
        pipelines,
        {"id": "VARCHAR", "label": "VARCHAR", "display_order": "INTEGER", "archived": "BOOLEAN"},
        ["id"],
        "archived",
    )
    stages = pd.DataFrame(
        [
            {
                "pipeline_id": HS_PIPELINE_ID,
                "id": stage_id,
                "label": label,
                "display_order": order,
                "is_closed": closed,
                "probability": float(probability),
                "archived": False,
            }
            for stage_id, label, order, closed, probability in HS_STAGES
        ]
    )
    out[("raw_hubspot", "deal_pipeline_stages")] = (
        stages,
        {
            "pipeline_id": "VARCHAR",
            "id": "VARCHAR",
            "label": "VARCHAR",
            "display_order": "INTEGER",
            "is_closed": "BOOLEAN",
            "probability": "DOUBLE",
            "archived": "BOOLEAN",
        },
        ["pipeline_id", "id"],
        "archived",
    )

    history = pd.read_parquet(hs / "deal_property_history.parquet")
    history = pd.DataFrame(
        {
            "deal_id": history.deal,
            "property": history.property,
            "value": history.value,
            "timestamp": pd.to_datetime(history.timestamp, unit="ms", utc=True),
            "source_type": history.source_type,
        }
    )
    out[("raw_hubspot", "deal_property_history")] = (
        history,
        {
            "deal_id": "VARCHAR",
            "property": "VARCHAR",
            "value": "VARCHAR",
            "timestamp": "TIMESTAMPTZ",
            "source_type": "VARCHAR",
        },
        ["deal_id", "property", "timestamp", "value"],
        None,
    )

    assoc = pd.read_parquet(hs / "associations.parquet")
    primary = assoc[assoc.type_id.isin(list(PRIMARY_ASSOCIATION_TYPES))].assign(
        type_id=lambda f: f.type_id.map(PRIMARY_ASSOCIATION_TYPES)
    )
    assoc = pd.concat([primary, assoc], ignore_index=True)
    for (from_type, to_type), rows in assoc.groupby(["from_type", "to_type"], sort=True):
        frame = pd.DataFrame(
            {
                "from_id": rows.from_key.to_numpy(),
                "to_id": rows.to_key.to_numpy(),
                "association_type_id": rows.type_id.to_numpy(),
                "association_category": "HUBSPOT_DEFINED",
            }
        )
        out[("raw_hubspot", f"{from_type}_{to_type}_associations")] = (
            frame,
            {
                "from_id": "VARCHAR",
                "to_id": "VARCHAR",
                "association_type_id": "INTEGER",
                "association_category": "VARCHAR",
            },
            ["from_id", "to_id", "association_type_id"],
            None,
        )

    events = pd.read_parquet(hs / "email_events.parquet")
    events = pd.DataFrame(
        {
            "id": events.id,
            "type": events.type,
            "created": pd.to_datetime(events.created, unit="ms", utc=True),
            "recipient": events.recipient,
            "email_campaign_id": events.emailCampaignId.astype(str),
            "portal_id": PORTAL_ID,
        }
    )
    out[("raw_hubspot", "email_events")] = (
        events,
        {
            "id": "VARCHAR",
            "type": "VARCHAR",
            "created": "TIMESTAMPTZ",
            "recipient": "VARCHAR",
            "email_campaign_id": "VARCHAR",
            "portal_id": "VARCHAR",
        },
        ["id"],
        None,
    )
    return out


def _string_property(name: str):
    from emulator.schema import HsProperty

    return HsProperty(name, "string")


# ------------------------------------------------------------------------------ Google Ads
def _google_ads_tables(truth_dir: Path) -> dict:
    frame = pd.read_parquet(truth_dir / "google_ads" / "campaign_daily_metrics.parquet")
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    assert (frame.customer_id == GOOGLE_ADS_CUSTOMER_ID).all()
    types = {
        "customer_id": "VARCHAR",
        "campaign_id": "VARCHAR",
        "campaign_name": "VARCHAR",
        "campaign_status": "VARCHAR",
        "date": "DATE",
        "cost_micros": "BIGINT",
        "clicks": "BIGINT",
        "impressions": "BIGINT",
        "conversions": "DOUBLE",
    }
    return {
        ("raw_google_ads", "campaign_daily_metrics"): (
            frame,
            types,
            ["customer_id", "campaign_id", "date"],
            None,
        )
    }


# ------------------------------------------------------------------------------ landing
def _land(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    frame: pd.DataFrame,
    types: dict[str, str],
    key: list[str],
    deleted_field: str | None,
    now: dt.datetime,
    sync_id: str,
) -> int:
    """Upsert one table like a connector sync; append new or changed rows to ``__versions``."""
    columns = list(types)
    incoming = pa.Table.from_pandas(frame[columns].reset_index(drop=True), preserve_index=False)
    con.register("_incoming_arrow", incoming)
    casts = ", ".join(f"cast({quote_ident(c)} as {types[c]}) as {quote_ident(c)}" for c in columns)
    deleted = f"coalesce({quote_ident(deleted_field)}, false)" if deleted_field else "false"
    con.execute(f"create or replace temp table _incoming as select {casts} from _incoming_arrow")
    con.unregister("_incoming_arrow")
    source_struct = (
        "struct_pack(" + ", ".join(f"{quote_ident(c)} := {quote_ident(c)}" for c in columns) + ")"
    )
    con.execute(
        f"create or replace temp table _stage as select *, {deleted} as _is_deleted, "
        f"md5(cast({source_struct} as varchar) || cast({deleted} as varchar)) as _row_hash "
        "from _incoming"
    )
    con.execute(f"create schema if not exists {quote_ident(schema)}")
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    versions = f"{quote_ident(schema)}.{quote_ident(table + '__versions')}"
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    all_columns = ", ".join(quote_ident(c) for c in columns)
    if not exists:
        select = (
            f"select {all_columns}, cast(? as timestamptz) as _synced_at, "
            "cast(? as varchar) as _sync_id, _is_deleted, _row_hash from _stage"
        )
        con.execute(f"create table {target} as {select}", [now, sync_id])
        con.execute(f"create table {versions} as select * from {target}")
        return len(frame)

    existing = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]
    for column in columns:  # schema drift: a new field becomes a new column
        if column not in existing:
            con.execute(f"alter table {target} add column {quote_ident(column)} {types[column]}")
            con.execute(f"alter table {versions} add column {quote_ident(column)} {types[column]}")
    old_only = [c for c in existing if c not in columns and c not in METADATA]
    join = " and ".join(f"o.{quote_ident(k)} = s.{quote_ident(k)}" for k in key)
    s_columns = ", ".join(f"s.{quote_ident(c)}" for c in columns)
    o_columns = ", ".join(f"o.{quote_ident(c)}" for c in columns)
    old_extra = "".join(f", o.{quote_ident(c)}" for c in old_only)
    null_extra = "".join(f", null as {quote_ident(c)}" for c in old_only)
    gone_hash = "md5(o._row_hash || 'deleted')"
    con.execute(
        f"""
        create or replace temp table _merged as
        select {s_columns}{null_extra},
            case when o._row_hash = s._row_hash then o._synced_at else cast($now as timestamptz) end
                as _synced_at,
            case when o._row_hash = s._row_hash then o._sync_id else $sync_id end as _sync_id,
            s._is_deleted,
            s._row_hash,
            o._row_hash is distinct from s._row_hash as _changed
        from _stage as s
        left join {target} as o on {join}
        union all by name
        select {o_columns}{old_extra},
            case when o._is_deleted then o._synced_at else cast($now as timestamptz) end
                as _synced_at,
            case when o._is_deleted then o._sync_id else $sync_id end as _sync_id,
            true as _is_deleted,
            case when o._is_deleted then o._row_hash else {gone_hash} end as _row_hash,
            not o._is_deleted as _changed
        from {target} as o
        where not exists (select 1 from _stage as s where {join})
        """,
        {"now": now, "sync_id": sync_id},
    )
    con.execute(f"delete from {target}")
    con.execute(f"insert into {target} by name select * exclude (_changed) from _merged")
    con.execute(
        f"insert into {versions} by name select * exclude (_changed) from _merged where _changed"
    )
    return len(frame)


FIVETRAN_FIXTURE = Path(__file__).parent / "fixtures" / "fivetran_salesforce.sql"
FIVETRAN_VARS = {
    "salesops_sources": ["salesforce"],
    "salesforce_schema": "salesforce",
    "salesforce_deleted_column": "_fivetran_deleted",
    "salesforce_loaded_at_column": "_fivetran_synced",
}


def land_fivetran_fixture(warehouse: Path | str) -> None:
    """A hand-written Salesforce org in Fivetran's naming (schema `salesforce`); see the SQL file.

    Build it with the dbt vars in :data:`FIVETRAN_VARS` (bring your own loader)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(FIVETRAN_FIXTURE.read_text())
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.dbt.raw_fixture OUT.duckdb [--scale tiny] [--as-of 2026-11-26]``:
    a raw warehouse of the emulated org, for local dbt development and the SQL lint."""
    import argparse
    import tempfile

    from emulator.truth import generate_truth

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--scale", default="tiny")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 26))
    args = parser.parse_args(argv)
    args.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        generate_truth(args.seed, args.scale, args.as_of, Path(tmp))
        counts = land_truth(Path(tmp), args.warehouse)
    print(f"landed {len(counts)} raw tables into {args.warehouse}")
    return 0


__all__ = ["FIVETRAN_VARS", "land_fivetran_fixture", "land_truth", "sync_clock"]


if __name__ == "__main__":
    raise SystemExit(main())
