"""Ground truth: the org at a view day written as Parquet, ids rendered as the APIs serve them.

Tests that check numbers compute their expectations from these files, never from the warehouse.
Layout: ``salesforce/<Object>.parquet``, ``hubspot/<object>.parquet``,
``google_ads/campaign_daily_metrics.parquet``, ``labels/defects.parquet`` and ``manifest.json``.
Same seed, scale, as-of date and advance give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from emulator.ids import hs_ids, sf_ids
from emulator.org import Org, OrgView
from emulator.schema import HS_OBJECTS, HS_REFERENCE_PROPERTIES, SF_OBJECTS

HS_KEY_COLUMNS = {"id", "from_key", "to_key", "deal", "_deal", "_contact", "_company", "_account"}


def salesforce_frame(view: OrgView, name: str) -> pd.DataFrame:
    """A Salesforce object with ids as strings and dates as dates."""
    frame = view.salesforce[name].copy()
    obj = SF_OBJECTS[name]
    types = {f.name: f.type for f in obj.fields}
    for column in frame.columns:
        kind = types.get(column)
        if kind in ("id", "reference"):
            frame[column] = sf_ids(frame[column].to_numpy())
        elif kind == "date":
            frame[column] = pd.to_datetime(frame[column]).dt.date
        elif kind == "datetime":
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
        elif kind == "anyType":
            values = frame[column].to_numpy(dtype=object)
            frame[column] = [None if _is_null(v) else _any_text(v) for v in values]
    return frame


def _is_null(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _any_text(value) -> str:
    """anyType history values as text: numbers without a trailing .0, like the API prints them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def hubspot_frame(view: OrgView, name: str) -> pd.DataFrame:
    frame = view.hubspot[name]
    frame = frame[[c for c in frame.columns if not c.startswith("_")]].copy()
    for column in frame.columns:
        if column in HS_KEY_COLUMNS or column in HS_REFERENCE_PROPERTIES:
            frame[column] = hs_ids(frame[column].to_numpy())
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
    if name in HS_OBJECTS:
        date_props = [p.name for p in HS_OBJECTS[name].properties if p.type == "date"]
        for column in date_props:
            if column in frame:
                frame[column] = frame[column].dt.date
    return frame


def labels_frame(view: OrgView) -> pd.DataFrame:
    labels = view.labels.copy()
    sf = labels.source_system == "salesforce"
    ids = np.empty(len(labels), dtype=object)
    ids[sf.to_numpy()] = sf_ids(labels.key[sf].to_numpy())
    ids[~sf.to_numpy()] = hs_ids(labels.key[~sf].to_numpy())
    labels["record_id"] = ids
    return labels.drop(columns="key").sort_values(
        ["source_system", "object", "record_id", "defect"], ignore_index=True
    )


def write_truth(org: Org, view: OrgView, out: Path, advance_days: int = 0) -> dict:
    out = Path(out)
    counts: dict[str, int] = {}

    def write(frame: pd.DataFrame, relative: str) -> None:
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
        pq.write_table(table, path, compression="zstd")
        counts[relative] = len(frame)

    for name in view.salesforce:
        write(salesforce_frame(view, name), f"salesforce/{name}.parquet")
    for name in view.hubspot:
        write(hubspot_frame(view, name), f"hubspot/{name}.parquet")
    write(view.google_ads, "google_ads/campaign_daily_metrics.parquet")
    write(labels_frame(view), "labels/defects.parquet")
    t = org.t
    manifest = {
        "seed": t.seed,
        "scale": t.scale.name,
        "as_of": t.as_of.isoformat(),
        "advance_days": advance_days,
        "view_day": view.day.isoformat(),
        "dirty_rate": t.dirty_rate,
        "rows": dict(sorted(counts.items())),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def generate_truth(
    seed: int, scale: str, as_of: dt.date, out: Path, advance_days: int = 0, dirty_rate=None
) -> dict:
    org = Org.generate(seed, scale, as_of, advance_days, dirty_rate)
    view = org.view(as_of + dt.timedelta(days=advance_days))
    return write_truth(org, view, out, advance_days)
