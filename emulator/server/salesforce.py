"""The Salesforce REST and Bulk API 2.0 emulation (``api="salesforce"``).

Serves ``view.salesforce[object]`` frames in the wire formats of the shared API reference
(section 1, Salesforce): OAuth token endpoint, SOQL ``query``/``queryAll`` with
locator paging, describe (global and per object), ``deleted``/``updated``, ``limits``, the
versions list, single records, and Bulk API 2.0 query jobs with CSV results.

Paging: a query is evaluated once (vectorised, :mod:`emulator.server.soql`); the sorted row
positions are kept under a locator in ``state.extensions`` together with a reference to the
immutable frame they index, so a locator always serves the snapshot it was created on. A page is
a string join of per-row JSON texts, encoded the first time a row is served and cached with the
served table in a process-wide LRU (rows nobody asks for are never encoded; tables over
``ENCODE_CACHE_MAX_ROWS`` are encoded per page and not cached, see ``_encoded``). Time travel (``/_emulator/advance``) clears
``extensions`` and so invalidates open locators and bulk jobs (``INVALID_QUERY_LOCATOR`` /
``NOT_FOUND``), like an expired cursor.

Faults (``state.faults``), besides the generic ones the core applies (``rate_limit`` -> 429 with
an empty body, ``server_error`` -> 503 ``UNKNOWN_EXCEPTION``, ``daily_limit`` -> 403
``REQUEST_LIMIT_EXCEEDED``, ``slow``, ``disconnect``, ``truncate``):

- ``token_expiry`` N: an access token dies after N calls (``state.token_valid``); the next call is
  401 ``INVALID_SESSION_ID`` and the client gets a new token from the token endpoint.
- ``locator_expiry`` p: each next-page request (``/query/<locator>-<offset>``) finds its locator
  expired with probability p: 400 ``INVALID_QUERY_LOCATOR``, and the locator is gone for good.
- ``late_updates`` p: rows commit late. Rows whose SystemModstamp lies in the 5 minutes *below*
  the object's newest SystemModstamp (the edge of the data: where late commits happen) are
  selected deterministically (hash of the Id, share p) and withheld from the first query (REST
  or Bulk) that would return them; every later query returns them. A row version is withheld
  at most once (the registry outlives time travel); the withheld Ids of a query are kept with
  its locator (``state.extensions["salesforce:locators"][loc].withheld``). A connector reading
  ``SystemModstamp >= max_seen`` misses them; one that starts at ``max_seen - lookback``
  (lookback >= 5 min) gets them on its next run. The edge is the object's, not each query's, so
  windowed reads never lose rows at inner slice boundaries. The band is sparse: empty in the
  tiny org, one or two rows per object and day in the small org.
- ``timestamp_burst`` p>0: a bulk admin update. On Opportunity and Task, up to 2,500 rows
  (chosen by hash of the Id among rows created before the update; all rows when fewer) report
  SystemModstamp = 01:00:00 UTC the night after the emulator's initial as-of date, or their own
  later SystemModstamp if they changed after it. More rows than one page share one timestamp, so
  a strict ``>`` cursor checkpointed at a page break loses rows. It is an overlay on what is
  served (query, queryAll, Bulk, records), consistent across queries and days.
- ``schema_drift`` p>0: Opportunity gains the custom text field ``Drift_Field__c`` (describe and
  data; value a deterministic function of the Id, sometimes null). Independently of faults, the
  org itself adds ``Competitor__c`` to Opportunity a few simulated days after the as-of date.

Fault randomness only decides whether a fault fires; data-shaped faults are deterministic
functions of the Ids and the seed, so two servers with the same seed serve identical pages.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from emulator.ids import parse_sf_id, sf_ids
from emulator.rand import Rand
from emulator.schema import SF_DRIFT_FIELDS, SF_OBJECTS, SfField
from emulator.server import soql
from emulator.server.core import DIALECTS, ROUTER, ApiDialect, EmulatorState, Request, Response
from emulator.server.soql import Column, SoqlError, Table

API = "salesforce"
V = r"/services/data/v(?P<version>\d+\.\d)"
VERSIONS = [f"{v}.0" for v in range(31, 63)]
DAILY_API_LIMIT = 100_000
DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_CURSORS = 100
BULK_DEFAULT_MAX_RECORDS = 50_000
LATE_WINDOW_MS = 5 * 60_000
BURST_OBJECTS = ("Opportunity", "Task")
BURST_ROWS = 2500
DRIFT_FAULT_FIELD = SfField("Drift_Field__c", "string", custom=True)
DRIFT_VALUES = np.array(["Alpha", "Bravo", "Charlie", "Delta", None], dtype=object)
REPLICATION_DAYS = {"deleted": 15, "updated": 30}
SCHEMA_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
FORMULAS = {
    ("Opportunity", "ExpectedRevenue"): "Amount * Probability / 100",
    ("Opportunity", "Days_Open__c"): (
        "IF(IsClosed, CloseDate - DATEVALUE(CreatedDate), TODAY() - DATEVALUE(CreatedDate))"
    ),
}
ADDRESS_PARTS = (
    ("street", "Street"),
    ("city", "City"),
    ("state", "State"),
    ("postalCode", "PostalCode"),
    ("country", "Country"),
)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# ------------------------------------------------------------------------------ helpers
def _errors(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return Response.json([{"message": message, "errorCode": code}], status, headers)


def _soql_error(exc: SoqlError) -> Response:
    return _errors(exc.status, exc.code, exc.message)


def _not_found(message: str = "The requested resource does not exist") -> Response:
    return _errors(404, "NOT_FOUND", message)


def _opaque_id(prefix: str, n: int) -> str:
    body = ""
    for _ in range(11):
        n, digit = divmod(n, 62)
        body = _ALPHABET[digit] + body
    return f"{prefix}0{body}AAA"


def _iso(value: dt.datetime) -> str:
    """Salesforce's datetime form: ``2024-05-20T20:49:32.000+0000``."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _iso_ms(ms: int) -> str:
    return _iso(dt.datetime.fromtimestamp(ms / 1000, dt.UTC))


def _version_ok(match) -> bool:
    return match["version"] in VERSIONS


def _label(name: str) -> str:
    if name.endswith("__c"):
        return name[:-3].replace("_", " ")
    if name == "Id":
        return "Record ID"
    if name.endswith("Id") and len(name) > 2:
        name = name[:-2] + " ID"
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("  ", " ")


def _plural(label: str) -> str:
    if label.endswith("y") and not label.endswith("ay"):
        return label[:-1] + "ies"
    if label.endswith(("s", "x")):
        return label + "es"
    return label + "s"


@dataclass
class _Persistent:
    """Per-server state that must outlive time travel (``extensions`` is cleared on advance)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    locator_seq: int = 0
    job_seq: int = 0
    late_withheld: dict[str, set] = field(default_factory=dict)  # object -> {(key, modstamp)}
    describe_seen: dict = field(default_factory=dict)  # object -> (field names, changed at)


_PERSISTENT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PERSISTENT_LOCK = threading.Lock()


def _persistent(state: EmulatorState) -> _Persistent:
    with _PERSISTENT_LOCK:
        store = _PERSISTENT.get(state)
        if store is None:
            store = _PERSISTENT[state] = _Persistent()
        return store


# ------------------------------------------------------------------------------ dialect
class SalesforceDialect(ApiDialect):
    name = API
    decorates_refusals = True

    def authenticate(self, state: EmulatorState, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "oauth") and state.token_valid(token.strip(), API):
            return None
        return _errors(
            401,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
            {"WWW-Authenticate": 'Token realm="Salesforce"'},
        )

    def error(self, kind: str, status: int, message: str) -> Response:
        if kind == "daily_limit":
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if kind == "rate_limit":
            # Retryable; Salesforce often sends no body with these.
            return Response(status or 429, b"", {}, "text/plain")
        if kind == "server_error":
            return _errors(
                status or 503,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact "
                "support: 1937158331-17 (-1184394817)",
            )
        if kind == "NOT_FOUND" and status == 405:
            return _errors(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource")
        if kind == "NOT_FOUND":
            return _not_found()
        return _errors(status, kind.upper(), message)

    def decorate(self, state: EmulatorState, request: Request, response: Response) -> None:
        if request.path.startswith("/services/data/v"):
            used = state.api_usage.get(API, 0)
            response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{DAILY_API_LIMIT}"


DIALECTS[API] = SalesforceDialect()


# ------------------------------------------------------------------------------ served tables
def _table_cache(state: EmulatorState) -> dict:
    with state.lock:
        cache = state.extensions.get("salesforce:tables")
        if cache is None or cache["view"] is not state.view:
            cache = {"view": state.view, "tables": {}, "seed": state.seed, "as_of": state.as_of}
            state.extensions["salesforce:tables"] = cache
        return cache


def _table(state: EmulatorState, name: str, cache: dict | None = None) -> Table:
    cache = cache or _table_cache(state)
    burst = state.faults.timestamp_burst > 0 and name in BURST_OBJECTS
    drift = state.faults.schema_drift > 0 and name == "Opportunity"
    key = (name, burst, drift)
    with state.lock:
        table = cache["tables"].get(key)
        if table is None:
            table = _build_table(state, cache, name, burst, drift)
            cache["tables"][key] = table
        return table


def _build_table(state: EmulatorState, cache: dict, name: str, burst: bool, drift: bool) -> Table:
    view = cache["view"]
    frame = view.salesforce[name]
    obj = SF_OBJECTS[name]
    columns = set(frame.columns)
    fields: list[SfField] = []
    for f in obj.fields:
        if f.type == "address":
            prefix = f.name[: -len("Address")]
            if all(prefix + part in columns for _, part in ADDRESS_PARTS):
                fields.append(f)
        elif f.name in columns:
            fields.append(f)
    drift_field = SF_DRIFT_FIELDS.get(name)
    drifted = view.salesforce_drift_fields.get(name, [])
    if drift_field is not None and drift_field.name in drifted and drift_field.name in columns:
        fields.append(drift_field)
    extra = {}
    if burst and "SystemModstamp" in columns and "CreatedDate" in columns:
        extra["SystemModstamp"] = _burst_modstamps(state, frame)
    if drift:
        keys = frame["Id"].to_numpy()
        pick = Rand(state.seed).bits("salesforce:drift_field", keys) % np.uint64(len(DRIFT_VALUES))
        extra[DRIFT_FAULT_FIELD.name] = pd.Series(DRIFT_VALUES[pick.astype(np.int64)], dtype=object)
        fields.append(DRIFT_FAULT_FIELD)
    if extra:
        frame = frame.assign(**extra)
    return Table(name, frame, fields, resolve=lambda other: _parent(state, cache, other))


def _parent(state: EmulatorState, cache: dict, name: str) -> Table | None:
    if name not in cache["view"].salesforce:
        return None
    return _table(state, name, cache)


def burst_instant(state: EmulatorState) -> np.datetime64:
    """When the ``timestamp_burst`` admin update ran: 01:00 UTC after the initial as-of date."""
    return np.datetime64(state.as_of + dt.timedelta(days=1), "ms") + np.timedelta64(1, "h")


def _burst_modstamps(state: EmulatorState, frame: pd.DataFrame) -> np.ndarray:
    at = burst_instant(state)
    stamps = frame["SystemModstamp"].to_numpy().astype("datetime64[ms]")
    created = frame["CreatedDate"].to_numpy().astype("datetime64[ms]")
    eligible = created <= at
    if "IsDeleted" in frame.columns:
        eligible &= ~(frame["IsDeleted"].to_numpy().astype(bool) & (stamps <= at))
    candidates = np.flatnonzero(eligible)
    keys = frame["Id"].to_numpy()[candidates]
    rank = np.argsort(Rand(state.seed).bits("salesforce:timestamp_burst", keys), kind="stable")
    chosen = candidates[rank[:BURST_ROWS]]
    out = stamps.copy()
    out[chosen] = np.maximum(stamps[chosen], at)
    return out


# ------------------------------------------------------------------------------ encoders
# Per-row encodings are cached with the served table (a warm re-read joins cached texts), but in
# one process-wide LRU with a budget: a full read of a medium org's Task (3.3 M rows, 20 fields)
# would otherwise keep ~65 M Python strings (~5 GB) for the lifetime of the view. The cost of
# an entry is its encoded rows plus an eighth of the table's rows (its two arrays of n slots);
# ~12 M cells is about 1 GB of texts, which holds every object of the small org. Tables of more
# than ENCODE_CACHE_MAX_ROWS rows (medium's Opportunity, Task, histories, Lead...) are encoded
# page by page and not cached at all: their columns could not stay cached through one read, and
# an LRU cycling n-slot arrays per page would cost more than it saves.
ENCODE_CACHE_CELLS = int(os.environ.get("SALESOPS_EMULATOR_ENCODE_CACHE_CELLS", 12_000_000))
ENCODE_CACHE_MAX_ROWS = int(os.environ.get("SALESOPS_EMULATOR_ENCODE_CACHE_MAX_ROWS", 500_000))


class _Encodings:
    """Encodings of one column of a served table, filled row by row on first use."""

    __slots__ = ("base", "done", "filled", "values")

    def __init__(self, n: int):
        self.values = np.empty(n, dtype=object)
        self.done = np.zeros(n, dtype=bool)
        self.filled = 0
        self.base = n // 8


_LRU: OrderedDict = OrderedDict()  # id(entry) -> (owning cache dict, key, entry)
_LRU_LOCK = threading.Lock()
_lru_cells = 0


def _lru_touch(cache: dict, key: tuple, entry: _Encodings, added: int) -> None:
    """Mark ``entry`` used (and ``added`` rows encoded); evict least recently used entries."""
    global _lru_cells
    with _LRU_LOCK:
        ident = id(entry)
        if ident in _LRU:
            _LRU.move_to_end(ident)
        else:
            _LRU[ident] = (cache, key, entry)
            _lru_cells += entry.base + entry.filled
        entry.filled += added
        _lru_cells += added
        while _lru_cells > ENCODE_CACHE_CELLS and len(_LRU) > 1:
            _, (owner, old_key, old) = _LRU.popitem(last=False)
            _lru_cells -= old.base + old.filled
            if owner.get(old_key) is old:
                del owner[old_key]


def clear_encodings() -> None:
    """Drop every cached encoding (tests; the LRU bounds them otherwise)."""
    global _lru_cells
    with _LRU_LOCK:
        for owner, key, entry in _LRU.values():
            if owner.get(key) is entry:
                del owner[key]
        _LRU.clear()
        _lru_cells = 0


def _encoded(table: Table, key: tuple, rows: np.ndarray, encode) -> np.ndarray:
    """Cached per-row encodings, computed on first use for just the rows asked for.

    ``encode(rows)`` returns the encodings of those rows; a query returning 50 rows of a large
    object encodes 50 rows, a full read encodes every row once, later reads reuse them while
    they stay in the LRU (``ENCODE_CACHE_CELLS``); evicted rows are encoded again. Tables over
    ``ENCODE_CACHE_MAX_ROWS`` rows are encoded afresh for every page.
    """
    if table.n > ENCODE_CACHE_MAX_ROWS:
        return encode(rows)
    cache = table.cache
    entry = cache.get(key)
    if entry is None:
        entry = cache.setdefault(key, _Encodings(table.n))
    added = 0
    if len(rows):
        need = ~entry.done[rows]
        if need.any():
            # In the page's order, so the texts lie in memory in the order they are served (a
            # warm re-read is ~30% faster than with row-ordered texts). Repeats (parent rows)
            # are harmless; they only make the LRU's count a little high.
            missing = rows[need]
            entry.values[missing] = encode(missing)
            entry.done[missing] = True
            added = len(missing)
    _lru_touch(cache, key, entry, added)
    return entry.values[rows]


def json_texts(table: Table, f: SfField, rows: np.ndarray) -> np.ndarray:
    """The field's value as JSON text at ``rows`` (object array of str; ``"null"`` = null)."""
    if f.type == "address":
        return _encoded(table, ("json", f.name), rows, lambda r: _address_texts(table, f, r))
    return _encoded(
        table,
        ("json", f.name),
        rows,
        lambda r: _encode_column(_column(table, f), r, f.type, "json"),
    )


def record_ids(table: Table, rows: np.ndarray) -> np.ndarray:
    """The rendered 18-character Id at ``rows`` (object array)."""
    return _encoded(table, ("ids",), rows, lambda r: sf_ids(table.keys()[r]))


def csv_values(table: Table, f: SfField, rows: np.ndarray) -> np.ndarray:
    """The field as CSV text at ``rows`` (quoted; empty = null)."""
    return _encoded(
        table,
        ("csv", f.name),
        rows,
        lambda r: _encode_column(_column(table, f), r, f.type, "csv"),
    )


def _quoted(values, form: str) -> np.ndarray:
    """Strings (None = null) as JSON string literals or CSV quoted fields (null: ``null``/empty)."""
    if form == "csv":
        texts = ["" if v is None else '"' + v.replace('"', '""') + '"' for v in values]
    else:
        dumps = orjson.dumps
        texts = [dumps(v).decode() for v in values]
    return np.array(texts, dtype=object)


def _column(table: Table, f: SfField) -> tuple[np.ndarray, np.ndarray]:
    """(values, null mask) of a whole column as plain numpy, converted once per served table."""
    key = ("np", f.name)
    cached = table.cache.get(key)
    if cached is not None:
        return cached
    series = table.frame[f.name]
    if f.type in ("id", "reference"):
        values = np.asarray(series.to_numpy(), dtype=np.int64)
        null = values < 0
    elif f.type in ("datetime", "date"):
        values = series.to_numpy().astype("datetime64[ms]", copy=False)
        null = np.isnat(values)
    elif f.type in soql.NUMBER_TYPES:
        values = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
        null = np.isnan(values)
    elif f.type == "boolean":
        null = series.isna().to_numpy()
        values = series.fillna(False).astype(bool).to_numpy()
    elif f.type == "anyType":
        values = np.array([_plain(v) for v in series.to_numpy(dtype=object)], dtype=object)
        null = np.array([v is None for v in values], dtype=bool)
    elif isinstance(series.dtype, pd.StringDtype):
        # Kept in Arrow: materialising a whole text column as Python strings would cost ~60
        # bytes a row for rows that may never be served (or are served once, then cached).
        values = _Texts(series.array)
        null = series.isna().to_numpy()
    else:
        values = series.to_numpy(dtype=object, na_value=None)
        null = series.isna().to_numpy()
    cached = table.cache[key] = (values, null)
    return cached


class _Texts:
    """A text column left in its (Arrow) extension array; ``[rows]`` gives str/None objects."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        arrow = getattr(self.array, "_pa_array", None)
        if arrow is not None:  # ~2x faster than the pandas round trip
            out = np.empty(len(rows), dtype=object)
            out[:] = arrow.take(pa.array(rows, type=pa.int64())).to_pylist()
            return out
        return self.array.take(rows).to_numpy(dtype=object, na_value=None)


def _encode_column(column: tuple, rows: np.ndarray, sftype: str, form: str) -> np.ndarray:
    """Rows of a column as JSON texts (``form="json"``) or CSV fields (``form="csv"``)."""
    values, null_mask = column
    values = values[rows]
    null = null_mask[rows].tolist()
    null_text = "null" if form == "json" else ""
    if sftype in ("id", "reference"):
        ids = sf_ids(values).tolist()
        return np.array([null_text if i is None else f'"{i}"' for i in ids], dtype=object)
    if sftype in ("datetime", "date"):
        if sftype == "date":
            texts = np.datetime_as_string(values.astype("datetime64[D]")).tolist()
            suffix = '"'
        else:
            texts = np.datetime_as_string(values, unit="ms").tolist()
            suffix = 'Z"' if form == "csv" else '+0000"'
        out = [null_text if n else '"' + t + suffix for t, n in zip(texts, null, strict=True)]
        return np.array(out, dtype=object)
    if sftype in soql.NUMBER_TYPES:
        quote = '"' if form == "csv" else ""
        if sftype in ("int", "long"):
            numbers = np.where(null_mask[rows], 0, values).astype(np.int64).tolist()
        else:
            numbers = values.tolist()
        out = [
            null_text if n else quote + repr(v) + quote for v, n in zip(numbers, null, strict=True)
        ]
        return np.array(out, dtype=object)
    if sftype == "boolean":
        text = ('"true"', '"false"') if form == "csv" else ("true", "false")
        out = np.where(values, *text).astype(object)
        out[null_mask[rows]] = null_text
        return out
    if sftype == "anyType" and form == "json":
        return np.array([orjson.dumps(v).decode() for v in values.tolist()], dtype=object)
    if sftype == "anyType":
        return _quoted([_any_csv_text(v) for v in values], "csv")
    return _quoted(values.tolist(), form)


def _any_csv_text(value) -> str | None:
    """anyType in Bulk CSV: booleans lower-case, whole numbers without a trailing ``.0``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plain(value):
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _address_texts(table: Table, f: SfField, rows: np.ndarray) -> np.ndarray:
    prefix = f.name[: -len("Address")]
    parts: list = []
    null = np.ones(len(rows), dtype=bool)
    for i, (key, suffix) in enumerate(ADDRESS_PARTS):
        texts = json_texts(table, table.field(prefix + suffix), rows)
        null &= texts == "null"
        parts.extend([repeat(("{" if i == 0 else ",") + f'"{key}":'), texts.tolist()])
    parts.append(repeat(',"latitude":null,"longitude":null,"geocodeAccuracy":null}'))
    out = np.array(list(map("".join, zip(*parts, strict=False))), dtype=object)
    out[null] = "null"
    return out


@dataclass
class _Node:
    """A level of the record tree: the base object or a parent relationship."""

    table: Table
    parent_rows: np.ndarray | None = None  # rows of this table per row of the node above
    children: list = field(default_factory=list)  # ("field", SfField) | ("rel", name, _Node)

    def child(self, name: str, table: Table, rows: np.ndarray) -> _Node:
        for entry in self.children:
            if entry[0] == "rel" and entry[1] == name:
                return entry[2]
        node = _Node(table, rows)
        self.children.append(("rel", name, node))
        return node


def _tree(table: Table, columns: list[Column]) -> _Node:
    root = _Node(table)
    for col in columns:
        node = root
        for name, parent, rows in col.hops:
            node = node.child(name, parent, rows)
        node.children.append(("field", col.field))
    return root


def _node_texts(node: _Node, rows: np.ndarray, version: str, root: bool) -> list[str]:
    """JSON text of the record (or parent object) at each row; ``"null"`` where rows is -1."""
    table = node.table
    valid = rows >= 0
    safe = rows if root else np.where(valid, rows, 0)
    url = f'{{"attributes":{{"type":"{table.name}","url":"/services/data/v{version}/sobjects/{table.name}/'
    parts: list = [repeat(url), record_ids(table, safe).tolist(), repeat('"}')]
    for entry in node.children:
        if entry[0] == "field":
            parts.extend(
                [repeat(f',"{entry[1].name}":'), json_texts(table, entry[1], safe).tolist()]
            )
        else:
            _, name, child = entry
            child_rows = np.where(valid, child.parent_rows[safe], -1)
            parts.extend(
                [repeat(f',"{name}":'), _node_texts(child, child_rows, version, root=False)]
            )
    parts.append(repeat("}"))
    texts = list(map("".join, zip(*parts, strict=False)))
    if root:
        return texts
    return [t if ok else "null" for t, ok in zip(texts, valid.tolist(), strict=True)]


def records_json(table: Table, columns: list[Column], rows: np.ndarray, version: str) -> list[str]:
    """The JSON text of each record at ``rows``, fields in SELECT order, parents nested."""
    return _node_texts(_tree(table, columns), rows, version, root=True)


def encode_csv(columns: list[Column], rows: np.ndarray, delimiter: str, line_ending: str) -> bytes:
    header = delimiter.join('"' + c.path + '"' for c in columns)
    cells = []
    for col in columns:
        target = col.rows(rows) if col.hops else rows
        values = csv_values(col.table, col.field, np.maximum(target, 0))
        if col.hops:
            values = np.where(target >= 0, values, "")
        cells.append(values.tolist())
    lines = [header, *(delimiter.join(values) for values in zip(*cells, strict=True))]
    return (line_ending.join(lines) + line_ending).encode()


# ------------------------------------------------------------------------------ query execution
@dataclass
class Cursor:
    object: str
    table: Table
    positions: np.ndarray
    columns: list[Column]
    version: str
    query_all: bool
    withheld: np.ndarray
    batch: int = DEFAULT_BATCH
    count_only: bool = False

    @property
    def total(self) -> int:
        return len(self.positions)


def execute(state: EmulatorState, text: str, query_all: bool, version: str) -> Cursor:
    query = soql.parse(text)
    name = soql.check_object(query, _tables_in_view(state))
    table = _table(state, name)
    columns = [] if query.count else soql.select_columns(query, table)
    evaluator = soql.Evaluator(query, table, soql.Context(today=state.now().date()))
    for item in query.order:
        evaluator.column(item.field, "sort")
    mask = evaluator.where().copy()
    if not query_all:
        for flag in ("IsDeleted", "IsArchived"):
            if table.has(flag):
                mask &= ~table.frame[flag].fillna(False).to_numpy(dtype=bool)
    withheld = _withhold_late(state, table, mask)
    positions = evaluator.order(np.flatnonzero(mask))
    if query.offset:
        positions = positions[query.offset :]
    if query.limit is not None:
        positions = positions[: query.limit]
    return Cursor(
        name, table, positions, columns, version, query_all, withheld, count_only=query.count
    )


def _tables_in_view(state: EmulatorState) -> dict:
    return {name: None for name in SF_OBJECTS if name in state.view.salesforce}


def _withhold_late(state: EmulatorState, table: Table, mask: np.ndarray) -> np.ndarray:
    """Apply ``late_updates``: drop not-yet-committed rows from ``mask``; their keys."""
    p = state.faults.late_updates
    empty = np.empty(0, dtype=np.int64)
    if p <= 0 or not table.has("SystemModstamp") or not mask.any():
        return empty
    _, stamps, null = table.comparable(table.field("SystemModstamp"))
    if null.all():
        return empty
    edge = stamps[~null].max()
    window = mask & ~null & (stamps >= edge - LATE_WINDOW_MS) & (stamps < edge)
    if not window.any():
        return empty
    rows = np.flatnonzero(window)
    keys = table.keys()[rows]
    chosen = Rand(state.seed).uniform("salesforce:late_updates", keys) < p
    rows, keys = rows[chosen], keys[chosen]
    store = _persistent(state)
    fresh = []
    with store.lock:
        seen = store.late_withheld.setdefault(table.name, set())
        for row, key in zip(rows.tolist(), keys.tolist(), strict=True):
            version = (key, int(stamps[row]))
            if version not in seen:
                seen.add(version)
                fresh.append(row)
    if not fresh:
        return empty
    fresh_rows = np.array(fresh, dtype=np.int64)
    mask[fresh_rows] = False
    return table.keys()[fresh_rows]


def _batch_size(request: Request, default: int = DEFAULT_BATCH) -> int:
    m = re.search(r"batchSize\s*=\s*(\d+)", request.headers.get("sforce-query-options", ""))
    if not m:
        return default
    return min(max(int(m.group(1)), MIN_BATCH), DEFAULT_BATCH)


def _cursors(state: EmulatorState) -> OrderedDict:
    with state.lock:
        return state.extensions.setdefault("salesforce:locators", OrderedDict())


def _register(state: EmulatorState, cursor: Cursor) -> str:
    store = _persistent(state)
    with store.lock:
        store.locator_seq += 1
        locator = _opaque_id("01g", store.locator_seq)
    cursors = _cursors(state)
    with state.lock:
        cursors[locator] = cursor
        while len(cursors) > MAX_CURSORS:
            cursors.popitem(last=False)
    return locator


def _page(
    state: EmulatorState, locator: str | None, cursor: Cursor, offset: int, size: int
) -> Response:
    rows = cursor.positions[offset : offset + size]
    done = offset + len(rows) >= cursor.total
    head = f'{{"totalSize":{cursor.total},"done":{"true" if done else "false"},'
    if not done:
        if locator is None:
            locator = _register(state, cursor)
        url = f"/services/data/v{cursor.version}/query/{locator}-{offset + len(rows)}"
        head += f'"nextRecordsUrl":"{url}",'
    records = records_json(cursor.table, cursor.columns, rows, cursor.version)
    return Response(200, (head + '"records":[' + ",".join(records) + "]}").encode())


def _query(state: EmulatorState, request: Request, match, query_all: bool) -> Response:
    if not _version_ok(match):
        return _not_found()
    text = request.arg("q")
    if text is None:
        return _errors(400, "MALFORMED_QUERY", "A query string has to be specified")
    try:
        cursor = execute(state, text, query_all, match["version"])
    except SoqlError as exc:
        return _soql_error(exc)
    if cursor.count_only:
        return Response.json({"totalSize": cursor.total, "done": True, "records": []})
    cursor.batch = _batch_size(request)
    return _page(state, None, cursor, 0, cursor.batch)


# ------------------------------------------------------------------------------ OAuth
@ROUTER.add("POST", r"/services/oauth2/token", API, authenticated=False)
def oauth_token(state: EmulatorState, request: Request, match) -> Response:
    form = {k: v[0] for k, v in request.query.items() if v}
    form.update(request.form() if request.body else {})
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    scheme, _, basic = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and basic:
        try:
            client_id, _, client_secret = base64.b64decode(basic).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return _oauth_error("invalid_client", "invalid client credentials")
    creds = state.credentials
    grant = form.get("grant_type")
    if grant not in ("client_credentials", "refresh_token"):
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if client_id != creds.salesforce_client_id:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if grant == "client_credentials":
        if client_secret != creds.salesforce_client_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
    else:
        if client_secret is not None and client_secret != creds.salesforce_client_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        if form.get("refresh_token") != creds.salesforce_refresh_token:
            return _oauth_error("invalid_grant", "expired access/refresh token")
    org_id = _opaque_id("00D", state.seed + 1)
    token = state.issue_token(API, org_id[:15] + "!")
    users = state.view.salesforce["User"]["Id"].to_numpy()
    user_id = sf_ids(users[:1])[0] if len(users) else _opaque_id("005", 1)
    issued_at = str(int(state.now().timestamp() * 1000))
    identity = f"{request.base_url}/id/{org_id}/{user_id}"
    signature = base64.b64encode(
        hmac.new(
            creds.salesforce_client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
    ).decode()
    return Response.json(
        {
            "access_token": token,
            "instance_url": request.base_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
            "scope": "api",
        },
        headers={"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"},
    )


def _oauth_error(error: str, description: str) -> Response:
    return Response.json({"error": error, "error_description": description}, 400)


# ------------------------------------------------------------------------------ versions, limits
def _release(version: str) -> str:
    index = int(float(version)) - 59
    season = ("Winter", "Spring", "Summer")[index % 3]
    return f"{season} '{24 + index // 3:02d}"


@ROUTER.add("GET", r"/services/data", API, authenticated=False)
def versions(state: EmulatorState, request: Request, match) -> Response:
    return Response.json(
        [{"label": _release(v), "url": f"/services/data/v{v}", "version": v} for v in VERSIONS]
    )


@ROUTER.add("GET", V, API)
def resources(state: EmulatorState, request: Request, match) -> Response:
    if not _version_ok(match):
        return _not_found()
    base = f"/services/data/v{match['version']}"
    names = ["sobjects", "query", "queryAll", "limits", "jobs/query"]
    return Response.json({name.replace("/", ""): f"{base}/{name}" for name in names})


@ROUTER.add("GET", V + r"/limits", API)
def limits(state: EmulatorState, request: Request, match) -> Response:
    if not _version_ok(match):
        return _not_found()
    used = state.api_usage.get(API, 0)
    jobs = len(state.extensions.get("salesforce:bulk_jobs", {}))
    return Response.json(
        {
            "DailyApiRequests": {
                "Max": DAILY_API_LIMIT,
                "Remaining": max(DAILY_API_LIMIT - used, 0),
            },
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000 - jobs},
            "DailyBulkV2QueryFileStorageMB": {"Max": 1_000_000, "Remaining": 1_000_000},
            "ConcurrentPerOrgLongTxn": {"Max": 10, "Remaining": 10},
            "DataStorageMB": {"Max": 1_024, "Remaining": 512},
        }
    )


# ------------------------------------------------------------------------------ describe
def _sobject_summary(name: str, version: str) -> dict:
    obj = SF_OBJECTS[name]
    label = _label(name)
    base = f"/services/data/v{version}/sobjects/{name}"
    return {
        "activateable": False,
        "createable": True,
        "custom": False,
        "customSetting": False,
        "deletable": True,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": label,
        "labelPlural": _plural(label),
        "layoutable": True,
        "mergeable": name in ("Account", "Contact", "Lead"),
        "mruEnabled": True,
        "name": name,
        "queryable": True,
        "replicateable": obj.replicateable,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": True,
        "updateable": True,
        "urls": {
            "sobject": base,
            "describe": f"{base}/describe",
            "rowTemplate": f"{base}/{{ID}}",
        },
    }


def _describe_field(obj: str, f: SfField) -> dict:
    text_like = f.type in soql.TEXT_TYPES or f.type == "anyType"
    length = 18 if f.type in ("id", "reference") else f.length if text_like else 0
    numeric = f.type in ("double", "currency", "percent")
    system = f.name in (
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "SystemModstamp",
    )
    filterable = f.type not in ("address", "location", "anyType")
    picklist = [
        {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
        for v in f.picklist
    ]
    return {
        "aggregatable": filterable and f.type not in ("textarea", "boolean"),
        "autoNumber": False,
        "byteLength": length * 3 if text_like else length,
        "calculated": f.calculated,
        "calculatedFormula": FORMULAS.get((obj, f.name)) if f.calculated else None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": f.compound_field_name,
        "controllerName": None,
        "createable": not (f.calculated or system or f.type == "address"),
        "custom": f.custom,
        "defaultValue": False if f.type == "boolean" else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": system or f.type == "boolean",
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 9 if f.type == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": False,
        "extraTypeInfo": "plaintextarea" if f.type == "textarea" else None,
        "filterable": filterable,
        "filteredLookupInfo": None,
        "groupable": filterable and not numeric and f.type not in ("textarea", "datetime"),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": f.name == "Id",
        "inlineHelpText": None,
        "label": _label(f.name),
        "length": length,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name == "Name",
        "namePointing": False,
        "nillable": f.nillable,
        "permissionable": f.nillable and not system and not f.calculated,
        "picklistValues": picklist,
        "polymorphicForeignKey": len(f.reference_to) > 1,
        "precision": 18 if numeric else 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(f.reference_to),
        "relationshipName": soql.relationship_name(f),
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": False,
        "scale": 2 if f.type in ("currency", "double") else 0,
        "searchPrefilterable": False,
        "soapType": "xsd:anyType" if f.type == "anyType" else f.soap_type,
        "sortable": filterable,
        "type": f.type,
        "unique": False,
        "updateable": not (f.calculated or system or f.type == "address"),
        "writeRequiresMasterRead": False,
    }


def describe_object(table: Table, version: str) -> dict:
    out = _sobject_summary(table.name, version)
    out.update(
        {
            "actionOverrides": [],
            "childRelationships": [],
            "compactLayoutable": True,
            "fields": [_describe_field(table.name, f) for f in table.field_list],
            "listviewable": None,
            "lookupLayoutable": None,
            "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "recordTypeInfos": [],
            "searchLayoutable": True,
            "supportedScopes": [{"label": "All", "name": "everything"}],
        }
    )
    return out


def _object_name(state: EmulatorState, raw: str) -> str | None:
    for name in SF_OBJECTS:
        if name.lower() == raw.lower() and name in state.view.salesforce:
            return name
    return None


def _schema_modified(state: EmulatorState, table: Table) -> dt.datetime:
    """When this object's served field list last changed (for Last-Modified / If-Modified-Since)."""
    signature = tuple(f.name for f in table.field_list)
    store = _persistent(state)
    with store.lock:
        known = store.describe_seen.get(table.name)
        if known is not None and known[0] == signature:
            return known[1]
        if known is not None:  # changed: strictly later than what clients may have cached
            since = max(state.now().replace(microsecond=0), known[1] + dt.timedelta(seconds=1))
        elif state.view.salesforce_drift_fields.get(table.name):
            since = dt.datetime.combine(state.view.day, dt.time(), dt.UTC)
        else:
            since = SCHEMA_EPOCH
        store.describe_seen[table.name] = (signature, since)
        return since


@ROUTER.add("GET", V + r"/sobjects", API)
def describe_global(state: EmulatorState, request: Request, match) -> Response:
    if not _version_ok(match):
        return _not_found()
    version = match["version"]
    return Response.json(
        {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [_sobject_summary(name, version) for name in _tables_in_view(state)],
        }
    )


@ROUTER.add("GET", V + r"/sobjects/(?P<object>\w+)", API)
def sobject_basic(state: EmulatorState, request: Request, match) -> Response:
    name = _object_name(state, match["object"])
    if not _version_ok(match) or name is None:
        return _not_found()
    return Response.json(
        {"objectDescribe": _sobject_summary(name, match["version"]), "recentItems": []}
    )


@ROUTER.add("GET", V + r"/sobjects/(?P<object>\w+)/describe", API)
def describe(state: EmulatorState, request: Request, match) -> Response:
    name = _object_name(state, match["object"])
    if not _version_ok(match) or name is None:
        return _not_found()
    table = _table(state, name)
    modified = _schema_modified(state, table)
    headers = {"Last-Modified": email.utils.format_datetime(modified, usegmt=True)}
    since = request.headers.get("if-modified-since")
    if since:
        try:
            since_dt = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            since_dt = None
        if since_dt is not None and since_dt.tzinfo is not None and modified <= since_dt:
            return Response(304, b"", headers)
    return Response.json(describe_object(table, match["version"]), headers=headers)


@ROUTER.add("GET", V + r"/sobjects/(?P<object>\w+)/(?P<id>[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)", API)
def get_record(state: EmulatorState, request: Request, match) -> Response:
    name = _object_name(state, match["object"])
    if not _version_ok(match) or name is None:
        return _not_found()
    try:
        key = parse_sf_id(match["id"])
    except ValueError:
        return _not_found(
            f"Provided external ID field does not exist or is not accessible: {match['id']}"
        )
    table = _table(state, name)
    rows = np.flatnonzero(table.keys() == key)
    if not len(rows):
        return _not_found()
    if table.has("IsDeleted") and bool(table.frame["IsDeleted"].to_numpy()[rows[0]]):
        return _errors(404, "ENTITY_IS_DELETED", "entity is deleted")
    wanted = request.arg("fields")
    try:
        names = (
            [n.strip() for n in wanted.split(",")] if wanted else [f.name for f in table.field_list]
        )
        columns = [soql.resolve(table, soql.FieldPath(n, 0), "") for n in names if n]
    except SoqlError as exc:
        return _soql_error(exc)
    return Response(200, records_json(table, columns, rows[:1], match["version"])[0].encode())


def _parse_instant(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    value = raw.strip()
    value = value[:-1] + "+00:00" if value.endswith("Z") else value
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _replication_window(state: EmulatorState, request: Request, kind: str):
    """(start_ms, covered_ms, earliest, latest) or an error response."""
    try:
        start, end = _parse_instant(request.arg("start")), _parse_instant(request.arg("end"))
    except ValueError:
        return _errors(
            400,
            "INVALID_REPLICATION_DATE",
            "start and end must be ISO 8601 date-times, e.g. 2024-05-07T22:07:00Z",
        )
    if start is None or end is None:
        return _errors(400, "MISSING_ARGUMENT", "start and end are both required")
    now = state.now().astimezone(dt.UTC)

    def floor(value: dt.datetime) -> dt.datetime:
        return value.replace(second=0, microsecond=0)

    start, end = floor(start), floor(end)
    earliest = floor(now - dt.timedelta(days=REPLICATION_DAYS[kind]))
    if end <= start:
        return _errors(
            400, "INVALID_REPLICATION_DATE", "EndDate must chronologically follow the StartDate"
        )
    if start < earliest:
        return _errors(
            400,
            "INVALID_REPLICATION_DATE",
            f"startDate must not be more than {REPLICATION_DAYS[kind]} days before the current "
            f"date; earliestDateAvailable is {_iso(earliest)}",
        )
    latest = min(end, floor(now))
    if latest < start:
        latest = start
    start_ms = int(start.timestamp() * 1000)
    latest_ms = int(latest.timestamp() * 1000)
    return start_ms, latest_ms, earliest, latest


@ROUTER.add("GET", V + r"/sobjects/(?P<object>\w+)/(?P<kind>deleted|updated)", API)
def replication(state: EmulatorState, request: Request, match) -> Response:
    name = _object_name(state, match["object"])
    if not _version_ok(match) or name is None:
        return _not_found()
    kind = match["kind"]
    window = _replication_window(state, request, kind)
    if isinstance(window, Response):
        return window
    start_ms, latest_ms, earliest, latest = window
    table = _table(state, name)
    cursor_field = "SystemModstamp" if table.has("SystemModstamp") else "CreatedDate"
    if not table.has(cursor_field):
        rows = np.empty(0, dtype=np.int64)
        stamps = np.empty(0, dtype=np.int64)
    else:
        _, stamps, null = table.comparable(table.field(cursor_field))
        deleted = (
            table.frame["IsDeleted"].to_numpy(dtype=bool)
            if table.has("IsDeleted")
            else np.zeros(table.n, bool)
        )
        wanted = deleted if kind == "deleted" else ~deleted
        rows = np.flatnonzero(wanted & ~null & (stamps >= start_ms) & (stamps <= latest_ms))
    ids = sf_ids(table.keys()[rows]).tolist()
    if kind == "deleted":
        records = [
            {"deletedDate": _iso_ms(int(stamps[r])), "id": i}
            for r, i in zip(rows.tolist(), ids, strict=True)
        ]
        body = {
            "deletedRecords": records,
            "earliestDateAvailable": _iso(earliest),
            "latestDateCovered": _iso(latest),
        }
    else:
        body = {"ids": ids, "latestDateCovered": _iso(latest)}
    return Response.json(body)


# ------------------------------------------------------------------------------ query routes
@ROUTER.add("GET", V + r"/query", API)
def query(state: EmulatorState, request: Request, match) -> Response:
    return _query(state, request, match, query_all=False)


@ROUTER.add("GET", V + r"/queryAll", API)
def query_all(state: EmulatorState, request: Request, match) -> Response:
    return _query(state, request, match, query_all=True)


@ROUTER.add("GET", V + r"/query(?:All)?/(?P<locator>[A-Za-z0-9]+)-(?P<offset>\d+)", API)
def query_more(state: EmulatorState, request: Request, match) -> Response:
    if not _version_ok(match):
        return _not_found()
    locator = match["locator"]
    cursors = _cursors(state)
    with state.lock:
        cursor = cursors.get(locator)
        if cursor is not None:
            cursors.move_to_end(locator)
    offset = int(match["offset"])
    if cursor is None or offset >= max(cursor.total, 1):
        return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    if state.roll(state.faults.locator_expiry):
        with state.lock:
            cursors.pop(locator, None)
        return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(state, locator, cursor, offset, _batch_size(request, cursor.batch))


# ------------------------------------------------------------------------------ Bulk API 2.0
@dataclass
class BulkJob:
    id: str
    operation: str
    cursor: Cursor
    created: dt.datetime
    created_clock: float
    delimiter: str
    line_ending: str
    column_delimiter: str
    line_ending_name: str
    created_by: str
    state: str = "UploadComplete"
    polls: int = 0

    def info(self, detail: bool) -> dict:
        out = {
            "id": self.id,
            "operation": self.operation,
            "object": self.cursor.object,
            "createdById": self.created_by,
            "createdDate": _iso(self.created),
            "systemModstamp": _iso(self.created),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.cursor.version),
            "lineEnding": self.line_ending_name,
            "columnDelimiter": self.column_delimiter,
        }
        if detail:
            complete = self.state == "JobComplete"
            out.update(
                {
                    "jobType": "V2Query",
                    "numberRecordsProcessed": self.cursor.total if complete else 0,
                    "retries": 0,
                    "totalProcessingTime": 120 if complete else 0,
                    "isPkChunkingSupported": True,
                }
            )
        return out


DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
BULK_COMPLETE_AFTER_S = 2.0


def _jobs(state: EmulatorState) -> dict:
    with state.lock:
        return state.extensions.setdefault("salesforce:bulk_jobs", {})


def _job(state: EmulatorState, match) -> BulkJob | Response:
    if not _version_ok(match):
        return _not_found()
    job = _jobs(state).get(match["job"])
    if job is None:
        return _not_found()
    if job.cursor.version != match["version"]:
        return _errors(
            409,
            "INVALIDJOB",
            f"Job {job.id} was created with API version {job.cursor.version}; use the same version to read it",
        )
    return job


@ROUTER.add("POST", V + r"/jobs/query", API)
def bulk_create(state: EmulatorState, request: Request, match) -> Response:
    if not _version_ok(match):
        return _not_found()
    try:
        spec = request.json()
    except ValueError:
        return _errors(400, "JSON_PARSER_ERROR", "The request body is not valid JSON")
    if not isinstance(spec, dict):
        return _errors(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = spec.get("operation")
    if operation not in ("query", "queryAll"):
        return _errors(
            400, "INVALIDJOB", f"Invalid operation: {operation!r}; use query or queryAll"
        )
    if spec.get("contentType", "CSV") != "CSV":
        return _errors(400, "INVALIDJOB", "contentType must be CSV")
    delimiter_name = spec.get("columnDelimiter", "COMMA")
    ending_name = spec.get("lineEnding", "LF")
    if delimiter_name not in DELIMITERS or ending_name not in LINE_ENDINGS:
        return _errors(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
    text = spec.get("query")
    if not text:
        return _errors(400, "INVALIDJOB", "A query is required for query jobs")
    try:
        parsed = soql.parse(text)
        if parsed.count:
            return _errors(400, "INVALIDJOB", "Aggregate queries are not supported in Bulk Query")
        cursor = execute(state, text, operation == "queryAll", match["version"])
    except SoqlError as exc:
        return _soql_error(exc)
    if any(c.field.type in ("address", "location") for c in cursor.columns):
        return _errors(400, "API_ERROR", "Selecting compound data not supported in Bulk Query")
    store = _persistent(state)
    with store.lock:
        store.job_seq += 1
        job_id = _opaque_id("750", store.job_seq)
    users = state.view.salesforce["User"]["Id"].to_numpy()
    job = BulkJob(
        id=job_id,
        operation=operation,
        cursor=cursor,
        created=state.now(),
        created_clock=time.monotonic(),
        delimiter=DELIMITERS[delimiter_name],
        line_ending=LINE_ENDINGS[ending_name],
        column_delimiter=delimiter_name,
        line_ending_name=ending_name,
        created_by=sf_ids(users[:1])[0] if len(users) else _opaque_id("005", 1),
    )
    with state.lock:
        _jobs(state)[job_id] = job
    return Response.json(job.info(detail=False))


@ROUTER.add("GET", V + r"/jobs/query", API)
def bulk_list(state: EmulatorState, request: Request, match) -> Response:
    if not _version_ok(match):
        return _not_found()
    records = [job.info(detail=False) for job in _jobs(state).values()]
    return Response.json({"done": True, "records": records, "nextRecordsUrl": None})


@ROUTER.add("GET", V + r"/jobs/query/(?P<job>\w+)", API)
def bulk_get(state: EmulatorState, request: Request, match) -> Response:
    job = _job(state, match)
    if isinstance(job, Response):
        return job
    with state.lock:
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            elapsed = time.monotonic() - job.created_clock
            job.state = (
                "JobComplete"
                if job.polls >= 2 or elapsed >= BULK_COMPLETE_AFTER_S
                else "InProgress"
            )
    return Response.json(job.info(detail=True))


@ROUTER.add("PATCH", V + r"/jobs/query/(?P<job>\w+)", API)
def bulk_abort(state: EmulatorState, request: Request, match) -> Response:
    job = _job(state, match)
    if isinstance(job, Response):
        return job
    try:
        wanted = (request.json() or {}).get("state")
    except (ValueError, AttributeError):
        wanted = None
    if wanted != "Aborted":
        return _errors(400, "INVALIDJOBSTATE", "A query job can only be set to Aborted")
    with state.lock:
        if job.state in ("JobComplete", "Failed"):
            return _errors(400, "INVALIDJOBSTATE", f"Job {job.id} is already {job.state}")
        job.state = "Aborted"
    return Response.json(job.info(detail=False))


@ROUTER.add("DELETE", V + r"/jobs/query/(?P<job>\w+)", API)
def bulk_delete(state: EmulatorState, request: Request, match) -> Response:
    job = _job(state, match)
    if isinstance(job, Response):
        return job
    with state.lock:
        _jobs(state).pop(job.id, None)
    return Response(204, b"", content_type="text/plain")


def _bulk_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _bulk_offset(locator: str) -> int | None:
    try:
        value = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError:
        return None
    return value if value >= 0 else None


@ROUTER.add("GET", V + r"/jobs/query/(?P<job>\w+)/results", API)
def bulk_results(state: EmulatorState, request: Request, match) -> Response:
    job = _job(state, match)
    if isinstance(job, Response):
        return job
    if job.state != "JobComplete":
        return _errors(
            412,
            "JOB_NOT_COMPLETE",
            f"Job {job.id} is {job.state}; results are available once it is JobComplete",
        )
    raw_max = request.arg("maxRecords")
    try:
        max_records = int(raw_max) if raw_max else BULK_DEFAULT_MAX_RECORDS
    except ValueError:
        max_records = 0
    if max_records <= 0:
        return _errors(
            400, "INVALIDMAXRECORDS", f"maxRecords must be a positive integer, got {raw_max!r}"
        )
    locator = request.arg("locator")
    offset = 0
    if locator and locator != "null":
        offset = _bulk_offset(locator)
        if offset is None or offset > job.cursor.total:
            return _errors(400, "INVALID_QUERY_LOCATOR", f"Invalid locator: {locator}")
    cursor = job.cursor
    rows = cursor.positions[offset : offset + max_records]
    end = offset + len(rows)
    body = encode_csv(cursor.columns, rows, job.delimiter, job.line_ending)
    headers = {
        "Sforce-Locator": _bulk_locator(end) if end < cursor.total else "null",
        "Sforce-NumberOfRecords": str(len(rows)),
    }
    return Response(200, body, headers, "text/csv")
