"""Compare one table as several engines built it: same rows, same values.

Engines return the same numbers in different Python types (DuckDB doubles, PostgreSQL
``Decimal``, Spark ``float``; timestamps with or without zone). :func:`normalize` brings a
frame into one form and :func:`compare_frames` matches rows and values across any number of
engines, so adding an engine is one more entry in the ``frames`` mapping::

    frames = {"duckdb": read_duckdb(con, "marts", t), "postgres": read_postgres(pg, "marts", t)}
    assert not compare_frames(t, frames), ...

Tolerances: money (a column whose name says amount, revenue, cost, bookings, quota, price or
value) must agree to the cent; every other number (rates, shares, scores) within 1e-9,
relative to its size when it is above 1.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

MONEY_WORDS = ("amount", "revenue", "cost", "bookings", "quota", "price", "value", "arr", "mrr")
MONEY_TOLERANCE = 0.005 + 1e-9  # half a cent: equal when rounded to the cent
RATE_TOLERANCE = 1e-9
MAX_REPORTED = 5
# When a row was landed, not what it says: two extracts of one org differ by seconds.
LOAD_METADATA = frozenset({"loaded_at", "_synced_at", "_sync_id"})


def mart_models(project_dir: Path) -> list[str]:
    """Every model under ``models/marts`` (the tables compared across engines)."""
    return sorted(p.stem for p in (project_dir / "models" / "marts").rglob("*.sql"))


def is_money(column: str) -> bool:
    name = column.lower()
    return any(word in name.split("_") or name.endswith(word) for word in MONEY_WORDS)


def _scalar(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Lower-case column names in sorted order; values as None, bool, int, float or text."""
    frame = frame.rename(columns=str.lower)
    frame = frame[sorted(frame.columns)]
    data = {c: [_scalar(v) for v in frame[c].tolist()] for c in frame.columns}
    for column, values in data.items():
        present = [v for v in values if v is not None]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
        # A column of ints and floats (an int column with NULLs from some drivers): floats.
        if present and numbers and any(isinstance(v, float) for v in present):
            data[column] = [None if v is None else float(v) for v in values]
    # object dtype: pandas would turn None back into NaN in a numeric column
    return pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})


def _kind(values: Sequence[object]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, float) for v in present):
        return "float"
    return "exact"


def _sort_key(row: Sequence[object]) -> tuple:
    out = []
    for v in row:
        if v is None:
            out.append((0, ""))
        elif isinstance(v, float):
            out.append((1, f"{round(v, 4):+024.4f}"))
        elif isinstance(v, bool | int):
            out.append((1, f"{float(v):+024.4f}"))
        else:
            out.append((2, str(v)))
    return tuple(out)


def _close(a: object, b: object, money: bool) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)  # type: ignore[arg-type]
    if money:
        return abs(a - b) <= MONEY_TOLERANCE
    return abs(a - b) <= RATE_TOLERANCE * max(1.0, abs(a), abs(b))


def compare_frames(
    table: str, frames: Mapping[str, pd.DataFrame], *, ignore: frozenset[str] = LOAD_METADATA
) -> list[str]:
    """Differences between the engines' versions of ``table`` (empty when they agree).

    Rows are matched after sorting on every column (exact columns first, numbers rounded), so
    no key is needed; the first engine is the reference the others are compared with.
    """
    if len(frames) < 2:
        raise ValueError("compare at least two engines")
    normalized = {
        engine: normalize(frame.drop(columns=[c for c in frame.columns if c.lower() in ignore]))
        for engine, frame in frames.items()
    }
    (reference_engine, reference), *others = normalized.items()
    problems: list[str] = []
    for engine, frame in others:
        if list(frame.columns) != list(reference.columns):
            missing = sorted(set(reference.columns) - set(frame.columns))
            extra = sorted(set(frame.columns) - set(reference.columns))
            problems.append(f"{table}: {engine} columns differ (missing {missing}, extra {extra})")
            continue
        if len(frame) != len(reference):
            problems.append(
                f"{table}: {reference_engine} has {len(reference)} rows, {engine} {len(frame)}"
            )
            continue
        kinds = {c: _kind(reference[c].tolist() + frame[c].tolist()) for c in reference.columns}
        order = [c for c in reference.columns if kinds[c] == "exact"] + [
            c for c in reference.columns if kinds[c] == "float"
        ]
        left = sorted(reference[order].itertuples(index=False, name=None), key=_sort_key)
        right = sorted(frame[order].itertuples(index=False, name=None), key=_sort_key)
        reported = 0
        for row_number, (a_row, b_row) in enumerate(zip(left, right, strict=True)):
            for column, a, b in zip(order, a_row, b_row, strict=True):
                same = _close(a, b, is_money(column)) if kinds[column] == "float" else a == b
                if not same:
                    if reported < MAX_REPORTED:
                        problems.append(
                            f"{table}.{column} row {row_number}: {reference_engine}={a!r} "
                            f"{engine}={b!r}"
                        )
                    reported += 1
        if reported > MAX_REPORTED:
            problems.append(f"{table}: {reported - MAX_REPORTED} more differences with {engine}")
    return problems


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


def read_duckdb(con, schema: str, table: str) -> pd.DataFrame:
    """A table from a DuckDB connection (session TimeZone should be UTC), values as Python
    objects: ``.df()`` would turn dates into timestamps."""
    result = con.execute(f'SELECT * FROM "{schema}"."{table}"')
    columns = [d[0] for d in result.description]
    return pd.DataFrame.from_records(result.fetchall(), columns=columns)


def read_postgres(con, schema: str, table: str) -> pd.DataFrame:
    """A table from a psycopg2 connection, values as the driver gives them."""
    with con.cursor() as cur:
        cur.execute(f'SELECT * FROM "{schema}"."{table}"')
        columns = [d.name for d in cur.description]
        rows = cur.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns)
