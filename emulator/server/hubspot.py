"""HubSpot on the emulator: CRM v3 objects, search, v4 associations, pipelines, owners,
properties and the legacy email-events API, served from ``state.view.hubspot``.

Endpoints (``/crm/v3/objects/...`` and the dated ``/crm/objects/{YYYY-MM}/...`` both route here):

- ``GET  /crm/v3/objects/{type}``: list. ``type`` is a name (``deals``), its singular or a type
  id (``0-1`` contacts, ``0-2`` companies, ``0-3`` deals, ``0-48`` calls, ``0-49`` emails,
  ``0-47`` meetings). ``limit`` default 10, max 100 (max 50 with ``propertiesWithHistory``);
  a larger limit is a 400 ``VALIDATION_ERROR``, not a silent clamp. ``after`` is an opaque
  keyset cursor (the next record's id, base64, then percent-encoded as HubSpot prints it, e.g.
  ``MTAwMDAwMDAxMg%3D%3D``); both the encoded and the decoded form are accepted back.
  ``paging.next.link`` is absolute and points at this server. ``archived=true`` returns only
  archived records. ``associations=companies,contacts`` adds inline
  ``associations.{type}.results[{id, type}]``.
- ``GET  /crm/v3/objects/{type}/{id}``: single read (404 ``OBJECT_NOT_FOUND``).
- ``POST /crm/v3/objects/{type}/search``: ``filterGroups`` (OR of ANDs) or a legacy top-level
  ``filters`` list; operators EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY,
  NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN; date values as epoch-ms strings or ISO;
  string comparisons are case-insensitive; a filter on an unknown property is a 400. ``sorts``
  as objects or plain strings (``"-name"`` = descending), ties broken by id ascending, nulls
  last; without sorts the order is by id. ``limit`` max 200, ``after`` a stringified offset,
  ``total`` is the full match count; ``after + limit > 10000`` is a 400. Archived records never
  appear; no associations; no rate-limit headers. Filter limits (5 groups, 10 per group, 25 in
  total, see :class:`HubSpotSettings`) give a 400. Its own rate limit: more than
  ``search_requests_per_second`` (default 5) requests within one second of real time answer
  429 with ``policyName`` ``SECONDLY``.
- ``GET  /crm/v4/objects/{from}/{id}/associations/{to}`` and
  ``POST /crm/v4/associations/{from}/{to}/batch/read`` (207 with ``errors`` for ids without
  associations, unknown ids included). Primary pairs (deal/contact -> company and back) carry
  two association types, the primary one (5/6/1/2, label ``Primary``) and the unlabeled one
  (341/342/279/280); inline v3 associations list such a pair twice (``deal_to_company`` and
  ``deal_to_company_unlabeled``), as HubSpot does.
- ``GET  /crm/v3/pipelines/deals`` (also ``/{pipelineId}`` and ``/{pipelineId}/stages``).
- ``GET  /crm/v3/owners`` (``limit`` default 100 max 500, ``after``, ``email``, ``archived``;
  deactivated owners only with ``archived=true``) and ``/crm/v3/owners/{id}``.
- ``GET  /crm/v3/properties/{type}`` and ``/crm/v3/properties/{type}/{name}``.
- ``GET  /email/public/v1/events``: ``startTimestamp``/``endTimestamp`` (inclusive, epoch ms),
  ``eventType``, ``recipient``, ``campaignId``, ``limit`` (default 100, max 1000), ``offset``
  (opaque keyset token); events in (created, id) order with ``hasMore`` and ``offset``.

Wire encodings: every property value is a string or null. Numbers print without trailing zeros
(``"1500"``, ``"20147.49"``); datetimes are ISO-8601 UTC with milliseconds and ``Z``; date
properties (``contract_start_date``) print as ``YYYY-MM-DD`` (midnight UTC); bools are
``"true"``/``"false"``; reference properties (``hubspot_owner_id``, ``associatedcompanyid``,
``renewal_of_deal_id``) print as HubSpot ids (``emulator.ids.hs_ids``). Without
``properties`` a small default set is returned; ``hs_object_id``, the create date and the
cursor property (``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` otherwise) are always
included. ``propertiesWithHistory`` on deals comes from ``deal_property_history`` (newest first,
null values as ``""``); other properties get one entry with the current value at ``updatedAt``.

Auth: ``Authorization: Bearer <credentials.hubspot_token>``, else 401 ``INVALID_AUTHENTICATION``.
The ``token_expiry`` fault does not apply: private-app tokens do not expire (it applies to the
Salesforce and Google Ads OAuth tokens). Non-search answers carry ``X-HubSpot-RateLimit-Max``,
``-Remaining`` (from the calls of the last ten real seconds; the limit is reported, not
enforced), ``-Interval-Milliseconds``, ``-Daily`` and ``-Daily-Remaining`` (calls since the
view day began).

Generic faults in HubSpot's format: ``rate_limit`` -> 429 ``TEN_SECONDLY_ROLLING`` (``SECONDLY``
on search), ``errorType`` ``RATE_LIMIT``, with ``Retry-After: 1`` on about half of them
(decided by ``state.roll``); ``daily_limit`` -> 429 ``DAILY`` "You have reached your daily
limit."; ``server_error`` -> 502 or 504 (an HTML gateway page) or 503 (JSON), chosen by
``state.roll``.

Data-shaped faults (deterministic: the probability selects a fixed subset of records by a hash
of seed and id; the fault RNG is never used for data):

- ``timestamp_burst=p``: that share of companies, contacts and deals report one identical
  modification time (``hs_lastmodifieddate``/``lastmodifieddate`` and ``updatedAt``): the
  latest modification time among the object's records, as a bulk update would leave them.
- ``late_updates=p``: the search index lags. Of the records modified on the view day (the
  changes a nightly sync is after), that share is missing from the first search request per
  object type and view day and present in every later one. Lists read the database directly
  and always show them.
- ``schema_drift=p`` (any p > 0): a custom deal property ``drift_field`` (string) appears in
  ``/crm/v3/properties/deals`` and on served deals, without touching modification times. The
  org's own drift (``competitor`` on deals, from ``view.hubspot_drift_properties``) is served
  independently of this fault.

Bulk-import overlay (for the 10,000-result search window, which the tiny org cannot reach):
``POST /_emulator/hubspot/bulk_import?object=contacts&count=12000`` (or :func:`bulk_import`)
adds that many synthetic contacts that share one ``createdate``/``lastmodifieddate`` (23:00 UTC
on the view day of the import), served by list and search. Ids are deterministic (sequential
from ``2**50`` in the local part) and imports survive time travel. ``GET`` lists the imports,
``DELETE`` removes them. Tests compute expected rows with :func:`served_frame`, which applies
every data overlay; the ground-truth files (``emulator.truth``) describe the org without them.

Runtime settings (per server): ``GET``/``POST /_emulator/hubspot/settings`` with a JSON object
of :class:`HubSpotSettings` fields.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import fnmatch
import re
import time
import uuid
import weakref
from urllib.parse import unquote, urlencode

import numpy as np
import pandas as pd

from emulator.ids import HUBSPOT_ID_OFFSET, hs_ids, local_part, make_keys
from emulator.rand import Rand
from emulator.schema import (
    HS_DEAL_HISTORY_PROPERTIES,
    HS_DRIFT_PROPERTIES,
    HS_OBJECTS,
    HS_PIPELINE_ID,
    HS_REFERENCE_PROPERTIES,
    HS_STAGES,
    HsProperty,
)
from emulator.server.core import DIALECTS, ROUTER, ApiDialect, EmulatorState, Request, Response
from emulator.timeutil import DAY_MS, HOUR_MS, day_number

API = "hubspot"
PORTAL_ID = 4_811_256
OBJECT_PATH = r"/crm/(?:v3/objects|objects/\d{4}-\d{2})/(?P<type>[^/]+)"
# The Salesforce-side type of each object's keys (emulator.ids.parse_hs_id).
KEY_TYPES = {
    "companies": "Account",
    "contacts": "Contact",
    "deals": "Opportunity",
    "calls": "Task",
    "emails": "Task",
    "meetings": "Event",
}
TYPE_IDS = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "meetings": "0-47",
    "calls": "0-48",
    "emails": "0-49",
}
SINGULAR = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
    "calls": "call",
    "emails": "email",
    "meetings": "meeting",
}
DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
ENGAGEMENT_DEFAULTS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
# (from, to) association type ids that are also the primary pair, with the primary type id.
PRIMARY_TYPES = {341: 5, 342: 6, 279: 1, 280: 2}
PROPERTY_GROUPS = {
    "companies": "companyinformation",
    "contacts": "contactinformation",
    "deals": "dealinformation",
    "calls": "call",
    "emails": "email",
    "meetings": "meeting",
}
DRIFT_FIELD = HsProperty("drift_field", "string", "text", hubspot_defined=False)
BULK_LOCAL_BASE = 1 << 50
PIPELINE_CREATED = "2019-06-03T09:00:00.000Z"
EMAIL_EVENT_TYPES = (
    "SENT",
    "DROPPED",
    "PROCESSED",
    "DELIVERED",
    "DEFERRED",
    "BOUNCE",
    "OPEN",
    "CLICK",
    "STATUSCHANGE",
    "SPAMREPORT",
    "FORWARD",
    "PRINT",
)
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
GATEWAY_PAGE = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} "
    "{reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)


# ------------------------------------------------------------------------------ per-server state
@dataclasses.dataclass
class HubSpotSettings:
    """Runtime knobs of the HubSpot emulation (per server)."""

    search_requests_per_second: float = 5.0  # 0 turns the search rate limit off
    max_filter_groups: int = 5
    max_filters_per_group: int = 10
    max_filters_total: int = 25
    search_result_window: int = 10_000
    rate_limit_max: int = 190  # X-HubSpot-RateLimit-Max per ten seconds (Pro/Enterprise)
    daily_limit: int = 500_000

    def update(self, values: dict) -> None:
        known = {f.name: f.type for f in dataclasses.fields(self)}
        for name, raw in values.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(known))}")
            try:
                value = float(raw) if name == "search_requests_per_second" else int(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"setting {name}={raw!r} must be a number") from exc
            if value < 0:
                raise ValueError(f"setting {name}={raw!r} must not be negative")
            setattr(self, name, value)


@dataclasses.dataclass
class _Server:
    settings: HubSpotSettings = dataclasses.field(default_factory=HubSpotSettings)
    imports: list[dict] = dataclasses.field(default_factory=list)
    search_times: collections.deque = dataclasses.field(default_factory=collections.deque)
    call_times: collections.deque = dataclasses.field(default_factory=collections.deque)


_SERVERS: weakref.WeakKeyDictionary[EmulatorState, _Server] = weakref.WeakKeyDictionary()


def _server(state: EmulatorState) -> _Server:
    with state.lock:
        server = _SERVERS.get(state)
        if server is None:
            server = _SERVERS[state] = _Server()
        return server


def settings(state: EmulatorState) -> HubSpotSettings:
    """The HubSpot settings of a server (mutable)."""
    return _server(state).settings


def _day_cache(state: EmulatorState) -> dict:
    """Per-view-day scratch space (``state.extensions`` is cleared on advance)."""
    with state.lock:
        return state.extensions.setdefault(API, {"frames": {}, "searches": {}, "calls": 0})


# ------------------------------------------------------------------------------ errors
def _correlation_id() -> str:
    return str(uuid.uuid4())


def hs_error(
    status: int,
    message: str,
    category: str,
    sub_category: str | None = None,
    errors: list | None = None,
    context: dict | None = None,
    headers: dict | None = None,
) -> Response:
    body: dict = {"status": "error", "message": message, "correlationId": _correlation_id()}
    if context:
        body["context"] = context
    body["category"] = category
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = errors
    return Response.json(body, status, headers)


def _validation(message: str, name: str | None = None) -> Response:
    errors = [{"message": message, "code": "INVALID_INTEGER" if name else "INVALID"}]
    if name:
        errors[0]["in"] = name
    return hs_error(400, message, "VALIDATION_ERROR", errors=errors)


class _BadRequest(Exception):
    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        self.response = _validation(message, name)


def _rate_limit_body(policy: str, message: str) -> dict:
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": _correlation_id(),
        "policyName": policy,
        "requestId": _correlation_id(),
    }


def _is_search(request: Request) -> bool:
    return request.method == "POST" and request.path.rstrip("/").endswith("/search")


class HubSpotDialect(ApiDialect):
    name = API

    def authenticate(self, state: EmulatorState, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != state.credentials.hubspot_token:
            return hs_error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
        return None

    def error(self, kind: str, status: int, message: str) -> Response:
        if kind == "NOT_FOUND":
            return hs_error(status or 404, message, "OBJECT_NOT_FOUND")
        if kind == "rate_limit":
            body = _rate_limit_body(
                "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
            )
            return Response.json(body, 429)
        if kind == "daily_limit":
            body = _rate_limit_body("DAILY", "You have reached your daily limit.")
            return Response.json(body, 429)
        if kind == "server_error":
            return hs_error(503, "Service temporarily unavailable.", "SERVICE_UNAVAILABLE")
        return hs_error(status or 400, message, "VALIDATION_ERROR")

    def fault(self, state, request, kind, status, message) -> Response:
        if kind == "rate_limit":
            search = _is_search(request)
            if search:
                body = _rate_limit_body("SECONDLY", "You have reached your secondly limit.")
                response = Response.json(body, 429)
            else:
                response = self.error(kind, status, message)
                response.headers.update(_rate_headers(state, remaining=0))
            if state.roll(0.5):
                response.headers["Retry-After"] = "1"
            return response
        if kind == "daily_limit":
            response = self.error(kind, status, message)
            if not _is_search(request):
                response.headers.update(_rate_headers(state, daily_remaining=0))
            return response
        if kind == "server_error":
            if state.roll(1 / 3):
                return _gateway(502, "Bad Gateway")
            if state.roll(0.5):
                return _gateway(504, "Gateway Time-out")
            return self.error(kind, 503, message)
        return self.error(kind, status, message)

    def decorate(self, state: EmulatorState, request: Request, response: Response) -> None:
        response.headers.setdefault("X-HubSpot-Correlation-Id", _correlation_id())
        if not _is_search(request):
            response.headers.update(_rate_headers(state))


def _gateway(code: int, reason: str) -> Response:
    page = GATEWAY_PAGE.format(code=code, reason=reason).encode()
    return Response(code, page, {}, "text/html")


def _rate_headers(state: EmulatorState, remaining=None, daily_remaining=None) -> dict:
    server = _server(state)
    cache = _day_cache(state)
    now = time.monotonic()
    with state.lock:
        calls = server.call_times
        calls.append(now)
        while calls and calls[0] < now - 10:
            calls.popleft()
        cache["calls"] += 1
        used_window, used_day = len(calls), cache["calls"]
    limit, daily = server.settings.rate_limit_max, server.settings.daily_limit
    if remaining is None:
        remaining = max(limit - used_window, 0)
    if daily_remaining is None:
        daily_remaining = max(daily - used_day, 0)
    return {
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": str(remaining),
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Daily": str(daily),
        "X-HubSpot-RateLimit-Daily-Remaining": str(daily_remaining),
    }


DIALECTS[API] = HubSpotDialect()


# ------------------------------------------------------------------------------ helpers
def resolve_object(name: str) -> str | None:
    """Canonical object name for a name, singular or type id (``deal``, ``0-3`` -> ``deals``)."""
    value = unquote(name).strip().lower()
    if value in HS_OBJECTS:
        return value
    for plural, singular in SINGULAR.items():
        if value == singular:
            return plural
    for plural, type_id in TYPE_IDS.items():
        if value == type_id:
            return plural
    return None


def _object_or_error(name: str) -> str:
    obj = resolve_object(name)
    if obj is None:
        raise _BadRequest(f"Unable to infer object type from: {unquote(name)}")
    return obj


def _cursor_property(obj: str) -> str:
    return HS_OBJECTS[obj].cursor_property


def _create_property(obj: str) -> str:
    return "createdate" if obj in DEFAULT_PROPERTIES else "hs_createdate"


def property_catalogue(state: EmulatorState, obj: str) -> dict[str, HsProperty]:
    """The properties ``/crm/v3/properties/{obj}`` reports right now, by name."""
    props = {p.name: p for p in HS_OBJECTS[obj].properties}
    for name in state.view.hubspot_drift_properties.get(obj, []):
        drift = HS_DRIFT_PROPERTIES.get(obj)
        if drift is not None and drift.name == name:
            props[name] = drift
    if obj == "deals" and state.faults.schema_drift > 0:
        props[DRIFT_FIELD.name] = DRIFT_FIELD
    return props


def _hs_id_of(keys) -> np.ndarray:
    return local_part(keys) + HUBSPOT_ID_OFFSET


def _parse_id(value: str, obj_key_type: str) -> int | None:
    value = unquote(str(value)).strip()
    if not value.isdigit() or int(value) < HUBSPOT_ID_OFFSET:
        return None
    return int(make_keys(obj_key_type, int(value) - HUBSPOT_ID_OFFSET))


def _to_ms(values) -> np.ndarray:
    """datetime64 values as int64 epoch ms (NaT -> minimum int64)."""
    return np.asarray(values, dtype="datetime64[ms]").astype(np.int64)


NAT_MS = np.iinfo(np.int64).min


def iso(values) -> list:
    """datetime64 values as ISO-8601 UTC strings with milliseconds (NaT -> None)."""
    arr = np.asarray(values, dtype="datetime64[ms]")
    text = np.datetime_as_string(arr, unit="ms")
    return [None if np.isnat(a) else f"{t}Z" for a, t in zip(arr, text, strict=True)]


def iso_ms(ms: int) -> str:
    return iso(np.array([ms], dtype="datetime64[ms]"))[0]


def format_number(value: float) -> str:
    return np.format_float_positional(float(value), trim="-")


def render_values(frame: pd.DataFrame, prop: HsProperty) -> list:
    """One property of some records as HubSpot prints it: strings, or None when unset."""
    n = len(frame)
    if prop.name not in frame.columns:
        return [None] * n
    column = frame[prop.name]
    if prop.name in HS_REFERENCE_PROPERTIES:
        keys = column.to_numpy()
        if keys.dtype.kind == "f":
            keys = np.where(np.isnan(keys), -1, keys)
        return [None if v is None else str(v) for v in hs_ids(np.asarray(keys, dtype=np.int64))]
    if prop.type == "number":
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return [None if np.isnan(v) else format_number(v) for v in values]
    if prop.type == "datetime":
        return iso(column.to_numpy())
    if prop.type == "date":
        return [None if v is None else v[:10] for v in iso(column.to_numpy())]
    if prop.type == "bool":
        return [None if pd.isna(v) else ("true" if v else "false") for v in column.to_numpy()]
    return [None if pd.isna(v) else str(v) for v in column.to_numpy(dtype=object)]


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _untoken(token: str, name: str) -> str:
    value = token.strip()
    for _ in range(3):
        if "%" not in value:
            break
        value = unquote(value)
    try:
        padded = value + "=" * (-len(value) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequest(f"Invalid input {name}: {token!r} is not a paging token", name) from exc


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise _BadRequest(f"Invalid input {name}: {raw!r} is not an integer", name) from exc
    if not low <= value <= high:
        raise _BadRequest(f"{name} must be between {low} and {high}, got {value}", name)
    return value


def _bool_arg(request: Request, name: str) -> bool:
    return (request.arg(name) or "false").strip().lower() == "true"


def _list_arg(request: Request, name: str) -> list[str]:
    out: list[str] = []
    for raw in request.query.get(name, []):
        out.extend(p.strip() for p in raw.split(",") if p.strip())
    return out


def _next_link(request: Request, after: str) -> str:
    pairs = [(k, v) for k, values in request.query.items() if k != "after" for v in values]
    pairs.append(("after", after))
    return f"{request.base_url}{request.path}?{urlencode(pairs)}"


def _handle(handler):
    """Turn ``_BadRequest`` into HubSpot's 400 body."""

    def wrapped(state, request, match):
        try:
            return handler(state, request, match)
        except _BadRequest as exc:
            return exc.response

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


# ------------------------------------------------------------------------------ served data
def bulk_import(state: EmulatorState, object_name: str = "contacts", count: int = 12_000) -> dict:
    """Add ``count`` synthetic contacts sharing one create/modification time (see module doc)."""
    if object_name != "contacts":
        raise ValueError("bulk_import supports object=contacts only")
    if not 0 < count <= 1_000_000:
        raise ValueError("count must be between 1 and 1000000")
    server = _server(state)
    with state.lock:
        first = sum(item["count"] for item in server.imports)
        ts = (day_number(state.view.day) + 1) * DAY_MS - HOUR_MS
        item = {"object": object_name, "count": int(count), "timestamp_ms": ts, "first": first}
        server.imports.append(item)
    keys = make_keys("Contact", BULK_LOCAL_BASE + np.array([first, first + count - 1]))
    ids = hs_ids(keys)
    return {**item, "timestamp": iso_ms(ts), "first_id": ids[0], "last_id": ids[1]}


def bulk_imports(state: EmulatorState) -> list[dict]:
    return [dict(item) for item in _server(state).imports]


def clear_bulk_imports(state: EmulatorState) -> None:
    with state.lock:
        _server(state).imports.clear()
        _day_cache(state)["frames"].clear()


def _bulk_contacts(template: pd.DataFrame, imports: list[dict]) -> pd.DataFrame:
    frames = []
    for item in imports:
        seq = np.arange(item["first"], item["first"] + item["count"], dtype=np.int64)
        keys = make_keys("Contact", BULK_LOCAL_BASE + seq)
        ts = np.full(len(seq), item["timestamp_ms"], dtype=np.int64).astype("datetime64[ms]")
        nat = np.full(len(seq), np.datetime64("NaT"), dtype="datetime64[ms]")
        data = {
            "id": keys,
            "createdAt": ts,
            "updatedAt": ts,
            "archived": np.zeros(len(seq), dtype=bool),
            "archivedAt": nat,
            "email": [f"bulk.import.{n}@import.example" for n in seq],
            "firstname": "Bulk",
            "lastname": [f"Import {n}" for n in seq],
            "jobtitle": None,
            "lifecyclestage": "subscriber",
            "hs_lead_status": None,
            "hubspot_owner_id": np.int64(-1),
            "associatedcompanyid": np.int64(-1),
            "hs_analytics_source": None,
            "createdate": ts,
            "lastmodifieddate": ts,
            "hs_object_id": _hs_id_of(keys).astype(float),
        }
        frame = pd.DataFrame(data)
        for column in template.columns:
            if column not in frame:
                dtype = template[column].dtype
                frame[column] = nat if dtype.kind == "M" else None
        frames.append(frame[list(template.columns)])
    return pd.concat(frames, ignore_index=True)


def served_frame(state: EmulatorState, obj: str) -> pd.DataFrame:
    """The records of ``obj`` exactly as list and search serve them (archived ones included).

    The view's frame plus the data overlays: ``timestamp_burst``, ``schema_drift`` and bulk
    imports. Sorted by id; typed like ``view.hubspot[obj]``, plus ``_hs`` (the HubSpot id as
    int64) and ``_cursor_ms`` (the cursor property in epoch ms).
    """
    faults = state.faults
    server = _server(state)
    imports = tuple((i["first"], i["count"], i["timestamp_ms"]) for i in server.imports)
    key = (
        obj,
        faults.timestamp_burst,
        faults.schema_drift > 0,
        imports if obj == "contacts" else (),
    )
    cache = _day_cache(state)["frames"]
    with state.lock:
        cached = cache.get(key)
        if cached is not None:
            return cached
        view = state.view
        frame = view.hubspot[obj].copy()
        cursor = _cursor_property(obj)
        rand = Rand(state.seed)
        if faults.timestamp_burst > 0 and obj in DEFAULT_PROPERTIES and len(frame):
            ids = frame["id"].to_numpy()
            chosen = rand.uniform("hubspot:timestamp_burst", ids) < faults.timestamp_burst
            burst = frame[cursor].max()
            frame.loc[chosen, cursor] = burst
            frame.loc[chosen, "updatedAt"] = burst
        if obj == "deals" and faults.schema_drift > 0:
            values = np.array(["Globex", "Initech", "Umbrella", None], dtype=object)
            frame[DRIFT_FIELD.name] = values[local_part(frame["id"].to_numpy()) % 4]
        if obj == "contacts" and server.imports:
            frame = pd.concat([frame, _bulk_contacts(frame, server.imports)], ignore_index=True)
        frame["_hs"] = _hs_id_of(frame["id"].to_numpy())
        frame["_cursor_ms"] = _to_ms(frame[cursor].to_numpy())
        frame = frame.sort_values("_hs", kind="stable", ignore_index=True)
        cache[key] = frame
        return frame


def _associations(state: EmulatorState) -> pd.DataFrame:
    return state.view.hubspot["associations"]


def _association_name(from_obj: str, to_obj: str) -> str:
    return f"{SINGULAR[from_obj]}_to_{SINGULAR[to_obj]}"


def _association_types(type_id: int) -> list[dict]:
    types = []
    if type_id in PRIMARY_TYPES:
        types.append(
            {"category": "HUBSPOT_DEFINED", "typeId": PRIMARY_TYPES[type_id], "label": "Primary"}
        )
    types.append({"category": "HUBSPOT_DEFINED", "typeId": int(type_id), "label": None})
    return types


def _inline_associations(state, obj: str, keys: np.ndarray, targets: list[str]) -> dict:
    assoc = _associations(state)
    out: dict[int, dict] = {}
    for target in targets:
        sel = assoc[
            (assoc.from_type == obj) & (assoc.to_type == target) & assoc.from_key.isin(keys)
        ].sort_values(["from_key", "to_key"])
        name = _association_name(obj, target)
        for row in sel.itertuples(index=False):
            results = out.setdefault(int(row.from_key), {}).setdefault(target, {"results": []})
            to_id = str(hs_ids(np.array([row.to_key]))[0])
            results["results"].append({"id": to_id, "type": name})
            if int(row.type_id) in PRIMARY_TYPES:
                results["results"].append({"id": to_id, "type": f"{name}_unlabeled"})
    return out


def _history(state, obj: str, page: pd.DataFrame, names: list[str], catalogue) -> list[dict]:
    history = state.view.hubspot["deal_property_history"] if obj == "deals" else None
    tracked: dict[tuple[int, str], list[dict]] = {}
    if history is not None:
        rows = history[
            history.deal.isin(page["id"].to_numpy())
            & history.property.isin([n for n in names if n in HS_DEAL_HISTORY_PROPERTIES])
        ].sort_values(
            ["deal", "property", "timestamp"], ascending=[True, True, False], kind="stable"
        )
        for deal, name, value, stamp, source in zip(
            rows.deal, rows.property, rows.value, rows.timestamp, rows.source_type, strict=True
        ):
            tracked.setdefault((int(deal), str(name)), []).append(
                {
                    "value": "" if pd.isna(value) else str(value),
                    "timestamp": iso_ms(int(stamp)),
                    "sourceType": str(source),
                }
            )
    out = []
    current = {name: render_values(page, catalogue[name]) for name in names}
    updated = iso(page["updatedAt"].to_numpy())
    for i, key in enumerate(page["id"].to_numpy()):
        entry: dict[str, list] = {}
        for name in names:
            prop = catalogue[name]
            if history is not None and name in HS_DEAL_HISTORY_PROPERTIES:
                entry[name] = tracked.get((int(key), name), [])
            elif current[name][i] is None:
                entry[name] = []
            else:
                source = "CALCULATED" if prop.calculated else "CRM_UI"
                entry[name] = [
                    {"value": current[name][i], "timestamp": updated[i], "sourceType": source}
                ]
        out.append(entry)
    return out


def _requested(obj: str, names: list[str], catalogue: dict) -> list[str]:
    """Requested names that exist, plus the ones HubSpot always returns, in a stable order."""
    if not names:
        names = list(DEFAULT_PROPERTIES.get(obj, ENGAGEMENT_DEFAULTS))
    always = [_create_property(obj), _cursor_property(obj), "hs_object_id"]
    out: list[str] = []
    for name in [*names, *always]:
        if name in catalogue and name not in out:
            out.append(name)
    return out


def render_records(
    state: EmulatorState,
    obj: str,
    page: pd.DataFrame,
    properties: list[str],
    history: list[str] = (),
    associations: list[str] = (),
) -> list[dict]:
    """Records as the object APIs print them (``properties`` already resolved)."""
    catalogue = property_catalogue(state, obj)
    values = {name: render_values(page, catalogue[name]) for name in properties}
    created = iso(page["createdAt"].to_numpy())
    updated = iso(page["updatedAt"].to_numpy())
    archived_at = iso(page["archivedAt"].to_numpy())
    archived = page["archived"].to_numpy()
    hs = page["_hs"].to_numpy()
    keys = page["id"].to_numpy()
    hist_names = [n for n in history if n in catalogue]
    hist = _history(state, obj, page, hist_names, catalogue) if hist_names else None
    inline = _inline_associations(state, obj, keys, associations) if associations else {}
    out = []
    for i in range(len(page)):
        record = {
            "id": str(int(hs[i])),
            "properties": {name: values[name][i] for name in properties},
            "createdAt": created[i],
            "updatedAt": updated[i],
            "archived": bool(archived[i]),
        }
        if archived[i]:
            record["archivedAt"] = archived_at[i]
        if hist is not None:
            record["propertiesWithHistory"] = hist[i]
        if int(keys[i]) in inline:
            record["associations"] = inline[int(keys[i])]
        out.append(record)
    return out


def _association_targets(obj: str, names: list[str]) -> list[str]:
    out = []
    for name in names:
        target = resolve_object(name)
        if target is None:
            raise _BadRequest(f"Unable to infer object type from: {name}")
        if target not in out:
            out.append(target)
    return out


# ------------------------------------------------------------------------------ objects
@ROUTER.add("GET", OBJECT_PATH, API)
@_handle
def list_objects(state, request, match):
    obj = _object_or_error(match["type"])
    history = _list_arg(request, "propertiesWithHistory")
    limit = _int_arg(request, "limit", 10, 1, 50 if history else 100)
    archived = _bool_arg(request, "archived")
    catalogue = property_catalogue(state, obj)
    properties = _requested(obj, _list_arg(request, "properties"), catalogue)
    targets = _association_targets(obj, _list_arg(request, "associations"))
    frame = served_frame(state, obj)
    # Positions, not a filtered copy of the whole frame on every page.
    keep = np.flatnonzero(frame["archived"].to_numpy() == archived)
    hs = frame["_hs"].to_numpy()[keep]
    start = 0
    after = request.arg("after")
    if after:
        text = _untoken(after, "after").strip()
        if not text.isdigit():
            raise _BadRequest(f"Invalid input after: {after!r} is not a paging token", "after")
        start = int(np.searchsorted(hs, int(text), side="left"))
    page = frame.iloc[keep[start : start + limit]]
    body: dict = {"results": render_records(state, obj, page, properties, history, targets)}
    if start + limit < len(keep):
        token = _token(str(int(hs[start + limit])))
        body["paging"] = {"next": {"after": _quoted(token), "link": _next_link(request, token)}}
    return Response.json(body)


def _quoted(token: str) -> str:
    return token.replace("=", "%3D")


@ROUTER.add("GET", OBJECT_PATH + r"/(?P<id>[^/]+)", API)
@_handle
def read_object(state, request, match):
    obj = _object_or_error(match["type"])
    key = _parse_id(match["id"], KEY_TYPES[obj])
    frame = served_frame(state, obj)
    archived = _bool_arg(request, "archived")
    row = frame[(frame["id"].to_numpy() == key) & (frame["archived"].to_numpy() == archived)]
    if key is None or row.empty:
        return hs_error(
            404,
            "Object not found.  objectId are usually numeric.",
            "OBJECT_NOT_FOUND",
            context={"id": [unquote(match["id"])]},
        )
    catalogue = property_catalogue(state, obj)
    properties = _requested(obj, _list_arg(request, "properties"), catalogue)
    history = _list_arg(request, "propertiesWithHistory")
    targets = _association_targets(obj, _list_arg(request, "associations"))
    return Response.json(render_records(state, obj, row, properties, history, targets)[0])


def _batch_body(request: Request) -> tuple[dict, list[str]]:
    """A batch request's JSON body and its input ids as text; 400 when it is not one."""
    try:
        body = request.json() or {}
    except ValueError as exc:
        raise _BadRequest(f"Invalid JSON body: {exc}") from exc
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise _BadRequest("The body needs an 'inputs' list")
    return body, [str(item.get("id") if isinstance(item, dict) else item) for item in inputs]


@ROUTER.add("POST", OBJECT_PATH + r"/batch/read", API)
@_handle
def batch_read_objects(state, request, match):
    """``{"inputs": [{"id"}], "properties", "propertiesWithHistory"}``: up to 100 records (50
    with history) by id, in one request; ids not found answer 207 with ``errors``."""
    obj = _object_or_error(match["type"])
    body, raws = _batch_body(request)
    history = [str(n) for n in body.get("propertiesWithHistory") or []]
    cap = 50 if history else 100
    if len(raws) > cap:
        raise _BadRequest(f"At most {cap} inputs per batch read, got {len(raws)}", "inputs")
    started = iso_ms(int(state.now().timestamp() * 1000))
    catalogue = property_catalogue(state, obj)
    properties = _requested(obj, [str(n) for n in body.get("properties") or []], catalogue)
    keys = [_parse_id(raw, KEY_TYPES[obj]) for raw in raws]
    frame = served_frame(state, obj)
    archived = _bool_arg(request, "archived")
    wanted = np.isin(frame["id"].to_numpy(), [k for k in keys if k is not None])
    rows = frame[wanted & (frame["archived"].to_numpy() == archived)]
    found = {int(k) for k in rows["id"].to_numpy()}
    out: dict = {
        "status": "COMPLETE",
        "results": render_records(state, obj, rows, properties, history),
    }
    missing = [raw for raw, key in zip(raws, keys, strict=True) if key is None or key not in found]
    if missing:
        out["numErrors"] = 1
        out["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some "
                + obj
                + " objects, they may be deleted or not exist.",
                "context": {"ids": missing},
                "errors": [],
                "links": {},
            }
        ]
    out["startedAt"] = started
    out["completedAt"] = iso_ms(int(state.now().timestamp() * 1000))
    return Response.json(out, 207 if missing else 200)


# ------------------------------------------------------------------------------ search
def _search_allowed(state: EmulatorState) -> bool:
    server = _server(state)
    rate = server.settings.search_requests_per_second
    if rate <= 0:
        return True
    now = time.monotonic()
    with state.lock:
        times = server.search_times
        while times and times[0] <= now - 1.0:
            times.popleft()
        if len(times) >= max(int(rate), 1):
            return False
        times.append(now)
        return True


def _parse_ms(value) -> float:
    """A date filter value: epoch ms (number or digits) or an ISO date/datetime."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return float(int(text))
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp() * 1000.0


def _kind(name: str, catalogue: dict) -> str:
    prop = catalogue[name]
    if name in HS_REFERENCE_PROPERTIES or prop.type == "number":
        return "num"
    if prop.type in ("date", "datetime"):
        return "ms"
    if prop.type == "bool":
        return "bool"
    return "str"


def _search_column(frame: pd.DataFrame, name: str, kind: str) -> pd.Series:
    """Comparable values of a property: float for numbers/ids/dates, lower-case text otherwise."""
    if name not in frame.columns:
        return pd.Series([np.nan if kind in ("num", "ms") else None] * len(frame), dtype=object)
    column = frame[name]
    if name in HS_REFERENCE_PROPERTIES:
        keys = column.to_numpy(dtype=np.int64)
        return pd.Series(np.where(keys >= 0, _hs_id_of(np.maximum(keys, 0)), np.nan))
    if kind == "num":
        return pd.Series(pd.to_numeric(column, errors="coerce").to_numpy(dtype=float))
    if kind == "ms":
        ms = _to_ms(column.to_numpy())
        return pd.Series(np.where(ms == NAT_MS, np.nan, ms.astype(float)))
    if kind == "bool":
        values = column.to_numpy()
        return pd.Series(
            [None if pd.isna(v) else ("true" if v else "false") for v in values], dtype=object
        )
    values = column.to_numpy(dtype=object)
    return pd.Series([None if pd.isna(v) else str(v).lower() for v in values], dtype=object)


def _filter_value(value, kind: str, name: str):
    if value is None:
        raise _BadRequest(f"Filter on {name} needs a value")
    try:
        if kind == "num":
            return float(value)
        if kind == "ms":
            return _parse_ms(value)
    except (TypeError, ValueError) as exc:
        raise _BadRequest(f"Invalid value {value!r} for property {name}") from exc
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


_TOKEN_SPLIT = re.compile(r"[^0-9a-z]+")


def _contains_token(series: pd.Series, value: str) -> np.ndarray:
    pattern = str(value).lower()
    out = np.zeros(len(series), dtype=bool)
    if "*" in pattern:
        for i, text in enumerate(series):
            out[i] = text is not None and fnmatch.fnmatchcase(str(text), pattern)
        return out
    wanted = [t for t in _TOKEN_SPLIT.split(pattern) if t]
    for i, text in enumerate(series):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            continue
        tokens = set(_TOKEN_SPLIT.split(str(text).lower()))
        out[i] = bool(wanted) and all(t in tokens for t in wanted)
    return out


def _apply_filter(frame: pd.DataFrame, spec: dict, catalogue: dict) -> np.ndarray:
    if not isinstance(spec, dict):
        raise _BadRequest("Each filter must be an object")
    name = spec.get("propertyName")
    operator = str(spec.get("operator") or "EQ").upper()
    if operator not in OPERATORS:
        raise _BadRequest(f"Unknown filter operator {operator!r}")
    if name not in catalogue:
        raise _BadRequest(f"Property {name!r} does not exist on this object type")
    kind = _kind(name, catalogue)
    column = _search_column(frame, name, kind)
    present = column.notna().to_numpy().copy()
    if kind == "str":
        present &= (column.fillna("") != "").to_numpy()
    if operator == "HAS_PROPERTY":
        return present
    if operator == "NOT_HAS_PROPERTY":
        return ~present
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        hit = _contains_token(column, spec.get("value", ""))
        return hit if operator == "CONTAINS_TOKEN" else ~hit
    if operator in ("IN", "NOT_IN"):
        raw = spec.get("values")
        if not isinstance(raw, list) or not raw:
            raise _BadRequest(f"Operator {operator} needs a non-empty 'values' list")
        values = [_filter_value(v, kind, name) for v in raw]
        hit = present & column.isin(values).to_numpy()
        return hit if operator == "IN" else ~hit
    value = _filter_value(spec.get("value"), kind, name)
    filled = column.where(column.notna(), np.nan if kind in ("num", "ms") else "")
    if operator == "BETWEEN":
        high = _filter_value(spec.get("highValue"), kind, name)
        return present & (filled >= value).to_numpy() & (filled <= high).to_numpy()
    if operator in ("EQ", "NEQ"):
        hit = present & (filled == value).to_numpy()
        return hit if operator == "EQ" else ~hit
    compare = {"LT": filled.lt, "LTE": filled.le, "GT": filled.gt, "GTE": filled.ge}[operator]
    return present & compare(value).to_numpy()


def _filter_groups(body: dict, server: _Server) -> list[list[dict]]:
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise _BadRequest("filterGroups must be a list")
    out = []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise _BadRequest("Each filter group needs a 'filters' list")
        out.append(filters)
    legacy = body.get("filters")
    if legacy:
        if not isinstance(legacy, list):
            raise _BadRequest("filters must be a list")
        out.append(legacy)
    s = server.settings
    if len(out) > s.max_filter_groups:
        raise _BadRequest(f"Too many filter groups: {len(out)} (at most {s.max_filter_groups})")
    for filters in out:
        if len(filters) > s.max_filters_per_group:
            raise _BadRequest(
                f"Too many filters in a group: {len(filters)} (at most {s.max_filters_per_group})"
            )
    total = sum(len(f) for f in out)
    if total > s.max_filters_total:
        raise _BadRequest(f"Too many filters: {total} (at most {s.max_filters_total})")
    return out


def _sort_specs(body: dict, catalogue: dict) -> list[tuple[str, bool]]:
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list):
        raise _BadRequest("sorts must be a list")
    out = []
    for spec in sorts:
        if isinstance(spec, str):
            name, ascending = spec.lstrip("-"), not spec.startswith("-")
        elif isinstance(spec, dict):
            name = spec.get("propertyName")
            ascending = str(spec.get("direction") or "ASCENDING").upper() != "DESCENDING"
        else:
            raise _BadRequest("Each sort must be a property name or an object")
        if name not in catalogue:
            raise _BadRequest(f"Cannot sort by unknown property {name!r}")
        out.append((name, ascending))
    return out


def _body_int(body: dict, name: str, default: int, low: int, high: int) -> int:
    raw = body.get(name, default)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise _BadRequest(f"Invalid input {name}: {raw!r} is not an integer", name) from exc
    if not low <= value <= high:
        raise _BadRequest(f"{name} must be between {low} and {high}, got {value}", name)
    return value


def _late_hidden(state: EmulatorState, obj: str, frame: pd.DataFrame) -> np.ndarray | None:
    p = state.faults.late_updates
    cache = _day_cache(state)["searches"]
    with state.lock:
        first = cache.get(obj, 0) == 0
        cache[obj] = cache.get(obj, 0) + 1
    if p <= 0 or not first:
        return None
    day_start = day_number(state.view.day) * DAY_MS
    recent = frame["_cursor_ms"].to_numpy() >= day_start
    chosen = Rand(state.seed).uniform("hubspot:late_updates", frame["id"].to_numpy()) < p
    return recent & chosen


@ROUTER.add("POST", OBJECT_PATH + r"/search", API)
@_handle
def search_objects(state, request, match):
    if not _search_allowed(state):
        body = _rate_limit_body("SECONDLY", "You have reached your secondly limit.")
        return Response.json(body, 429)
    obj = _object_or_error(match["type"])
    try:
        body = request.json() or {}
    except ValueError as exc:
        raise _BadRequest(f"Invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise _BadRequest("The search body must be a JSON object")
    server = _server(state)
    catalogue = property_catalogue(state, obj)
    limit = _body_int(body, "limit", 10, 1, 200)
    window = server.settings.search_result_window
    after = _body_int(body, "after", 0, 0, 2**31)
    if after + limit > window:
        raise _BadRequest(
            f"The search API returns at most {window} results per query: after ({after}) + "
            f"limit ({limit}) is past it. Narrow the query (e.g. re-anchor on hs_object_id).",
        )
    groups = _filter_groups(body, server)
    sorts = _sort_specs(body, catalogue)
    names = body.get("properties") or []
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    properties = _requested(obj, list(names), catalogue)
    frame = served_frame(state, obj)
    frame = frame[~frame["archived"].to_numpy()].reset_index(drop=True)
    mask = np.ones(len(frame), dtype=bool)
    if groups:
        mask = np.zeros(len(frame), dtype=bool)
        for filters in groups:
            group_mask = np.ones(len(frame), dtype=bool)
            for spec in filters:
                group_mask &= _apply_filter(frame, spec, catalogue)
            mask |= group_mask
    query = body.get("query")
    if query:
        text = str(query).lower()
        hit = np.zeros(len(frame), dtype=bool)
        for name, prop in catalogue.items():
            if prop.type == "string" and name in frame.columns:
                hit |= (
                    _search_column(frame, name, "str")
                    .fillna("")
                    .str.contains(text, regex=False)
                    .to_numpy()
                )
        mask &= hit
    hidden = _late_hidden(state, obj, frame)
    if hidden is not None:
        mask &= ~hidden
    matched = frame[mask]
    if sorts:
        keys = pd.DataFrame(index=matched.index)
        for i, (name, _asc) in enumerate(sorts):
            keys[f"k{i}"] = _search_column(
                matched.reset_index(drop=True), name, _kind(name, catalogue)
            ).to_numpy()
        keys["_hs"] = matched["_hs"].to_numpy()
        order = keys.sort_values(
            [*keys.columns[:-1], "_hs"],
            ascending=[asc for _n, asc in sorts] + [True],
            na_position="last",
            kind="stable",
        ).index
        matched = matched.loc[order]
    total = len(matched)
    page = matched.iloc[after : after + limit]
    results = render_records(state, obj, page, properties)
    out: dict = {"total": total, "results": results}
    if after + limit < total:
        out["paging"] = {"next": {"after": str(after + limit)}}
    return Response.json(out)


# ------------------------------------------------------------------------------ associations v4
def _v4_results(state, from_obj: str, to_obj: str, keys) -> dict[int, list[dict]]:
    """v4 association results of some records, by record key (records without any are absent)."""
    assoc = _associations(state)
    rows = assoc[
        (assoc.from_type == from_obj) & (assoc.to_type == to_obj) & assoc.from_key.isin(keys)
    ].sort_values(["from_key", "to_key"], kind="stable")
    out: dict[int, list[dict]] = {}
    to_ids = _hs_id_of(rows.to_key.to_numpy())
    for key, to_id, type_id in zip(
        rows.from_key.to_numpy(), to_ids, rows.type_id.to_numpy(), strict=True
    ):
        out.setdefault(int(key), []).append(
            {"toObjectId": int(to_id), "associationTypes": _association_types(int(type_id))}
        )
    return out


@ROUTER.add("GET", r"/crm/v4/objects/(?P<from>[^/]+)/(?P<id>[^/]+)/associations/(?P<to>[^/]+)", API)
@_handle
def v4_record_associations(state, request, match):
    from_obj = _object_or_error(match["from"])
    to_obj = _object_or_error(match["to"])
    limit = _int_arg(request, "limit", 500, 1, 500)
    key = _parse_id(match["id"], KEY_TYPES[from_obj])
    results = [] if key is None else _v4_results(state, from_obj, to_obj, [key]).get(key, [])
    start = 0
    after = request.arg("after")
    if after:
        text = _untoken(after, "after")
        if not text.isdigit():
            raise _BadRequest(f"Invalid input after: {after!r} is not a paging token", "after")
        start = int(text)
    body: dict = {"results": results[start : start + limit]}
    if start + limit < len(results):
        token = _token(str(start + limit))
        body["paging"] = {"next": {"after": _quoted(token), "link": _next_link(request, token)}}
    return Response.json(body)


@ROUTER.add("POST", r"/crm/v4/associations/(?P<from>[^/]+)/(?P<to>[^/]+)/batch/read", API)
@_handle
def v4_batch_read(state, request, match):
    from_obj = _object_or_error(match["from"])
    to_obj = _object_or_error(match["to"])
    _, raws = _batch_body(request)
    if len(raws) > 1000:
        raise _BadRequest(f"At most 1000 inputs per batch, got {len(raws)}")
    started = iso_ms(int(state.now().timestamp() * 1000))
    keys = [_parse_id(raw, KEY_TYPES[from_obj]) for raw in raws]
    found = _v4_results(state, from_obj, to_obj, [k for k in keys if k is not None])
    results, errors = [], []
    for raw, key in zip(raws, keys, strict=True):
        to = found.get(key, []) if key is not None else []
        if to:
            results.append({"from": {"id": raw}, "to": to})
        else:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {SINGULAR[to_obj]} is associated with {SINGULAR[from_obj]} {raw}.",
                    "context": {"fromObjectId": [raw]},
                    # Required by HubSpot's published schema (StandardError): the official
                    # SDK, validating client-side, rejects a batch answer without them.
                    "errors": [],
                    "links": {},
                }
            )
    out: dict = {"status": "COMPLETE", "results": results}
    if errors:
        out["numErrors"] = len(errors)
        out["errors"] = errors
    out["startedAt"] = started
    out["completedAt"] = iso_ms(int(state.now().timestamp() * 1000))
    return Response.json(out, 207 if errors else 200)


# ------------------------------------------------------------------------------ pipelines
def _stage(stage_id: str, label: str, order: int, closed: bool, probability: str) -> dict:
    return {
        "label": label,
        "displayOrder": order,
        "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
        "id": stage_id,
        "createdAt": PIPELINE_CREATED,
        "updatedAt": PIPELINE_CREATED,
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def _pipeline() -> dict:
    return {
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "id": HS_PIPELINE_ID,
        "stages": [_stage(*s) for s in HS_STAGES],
        "createdAt": PIPELINE_CREATED,
        "updatedAt": PIPELINE_CREATED,
        "archived": False,
    }


def _pipeline_object(name: str) -> None:
    obj = resolve_object(name)
    if obj != "deals":
        raise _BadRequest(f"Object type {unquote(name)} has no pipelines on this portal")


@ROUTER.add("GET", r"/crm/v3/pipelines/(?P<type>[^/]+)", API)
@_handle
def pipelines(state, request, match):
    _pipeline_object(match["type"])
    if _bool_arg(request, "archived"):
        return Response.json({"results": []})
    return Response.json({"results": [_pipeline()]})


def _pipeline_or_404(match) -> dict | Response:
    _pipeline_object(match["type"])
    if unquote(match["pid"]) != HS_PIPELINE_ID:
        return hs_error(404, f"Unable to find pipeline {unquote(match['pid'])}", "OBJECT_NOT_FOUND")
    return _pipeline()


@ROUTER.add("GET", r"/crm/v3/pipelines/(?P<type>[^/]+)/(?P<pid>[^/]+)", API)
@_handle
def pipeline(state, request, match):
    found = _pipeline_or_404(match)
    return found if isinstance(found, Response) else Response.json(found)


@ROUTER.add("GET", r"/crm/v3/pipelines/(?P<type>[^/]+)/(?P<pid>[^/]+)/stages", API)
@_handle
def pipeline_stages(state, request, match):
    found = _pipeline_or_404(match)
    return found if isinstance(found, Response) else Response.json({"results": found["stages"]})


# ------------------------------------------------------------------------------ owners
def _owner_records(frame: pd.DataFrame) -> list[dict]:
    ids = hs_ids(frame["id"].to_numpy())
    created = iso(frame["createdAt"].to_numpy())
    updated = iso(frame["updatedAt"].to_numpy())
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        teams = []
        if int(row.teamId) >= 0:
            teams.append({"id": str(int(row.teamId)), "name": str(row.teamName), "primary": True})
        out.append(
            {
                "id": str(ids[i]),
                "email": None if pd.isna(row.email) else str(row.email),
                "type": "PERSON",
                "firstName": None if pd.isna(row.firstName) else str(row.firstName),
                "lastName": None if pd.isna(row.lastName) else str(row.lastName),
                "userId": int(row.userId),
                "userIdIncludingInactive": int(row.userId),
                "createdAt": created[i],
                "updatedAt": updated[i],
                "archived": bool(row.archived),
                "teams": teams,
            }
        )
    return out


def _owners_frame(state) -> pd.DataFrame:
    owners = state.view.hubspot["owners"].copy()
    owners["_hs"] = _hs_id_of(owners["id"].to_numpy())
    return owners.sort_values("_hs", kind="stable", ignore_index=True)


@ROUTER.add("GET", r"/crm/v3/owners", API)
@_handle
def owners(state, request, match):
    limit = _int_arg(request, "limit", 100, 1, 500)
    frame = _owners_frame(state)
    frame = frame[frame["archived"].to_numpy() == _bool_arg(request, "archived")]
    email = request.arg("email")
    if email:
        frame = frame[frame["email"].str.lower() == email.strip().lower()]
    hs = frame["_hs"].to_numpy()
    start = 0
    after = request.arg("after")
    if after:
        text = _untoken(after, "after")
        if not text.isdigit():
            raise _BadRequest(f"Invalid input after: {after!r} is not a paging token", "after")
        start = int(np.searchsorted(hs, int(text), side="left"))
    body: dict = {"results": _owner_records(frame.iloc[start : start + limit])}
    if start + limit < len(frame):
        token = _token(str(int(hs[start + limit])))
        body["paging"] = {"next": {"after": _quoted(token), "link": _next_link(request, token)}}
    return Response.json(body)


@ROUTER.add("GET", r"/crm/v3/owners/(?P<id>[^/]+)", API)
@_handle
def owner(state, request, match):
    frame = _owners_frame(state)
    frame = frame[frame["archived"].to_numpy() == _bool_arg(request, "archived")]
    raw = unquote(match["id"])
    if (request.arg("idProperty") or "id") == "userId":
        row = frame[frame["userId"].astype(str) == raw]
    else:
        row = frame[frame["_hs"].astype(str) == raw]
    if row.empty:
        return hs_error(404, f"Owner {raw} not found", "OBJECT_NOT_FOUND")
    return Response.json(_owner_records(row)[0])


# ------------------------------------------------------------------------------ properties
def _label(name: str) -> str:
    return name.replace("hs_", "").replace("_", " ").strip().capitalize()


def _options(prop: HsProperty) -> list[dict]:
    if prop.type == "bool":
        pairs = [("Yes", "true"), ("No", "false")]
    elif prop.name == "dealstage":
        pairs = [(s[1], s[0]) for s in HS_STAGES]
    elif prop.name == "pipeline":
        pairs = [("Sales Pipeline", HS_PIPELINE_ID)]
    else:
        pairs = [(value.replace("_", " ").title(), value) for value in prop.options]
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False}
        for i, (label, value) in enumerate(pairs)
    ]


def _property_record(state, obj: str, prop: HsProperty, order: int) -> dict:
    record = {
        "name": prop.name,
        "label": _label(prop.name),
        "type": prop.type,
        "fieldType": prop.field_type,
        "description": "",
        "groupName": PROPERTY_GROUPS[obj],
        "options": _options(prop),
        "displayOrder": order if not prop.hubspot_defined else -1,
        "calculated": prop.calculated,
        "externalOptions": prop.name == "hubspot_owner_id",
        "hasUniqueValue": prop.name == "hs_object_id",
        "hidden": False,
        "hubspotDefined": prop.hubspot_defined,
        "modificationMetadata": {
            "archivable": not prop.hubspot_defined,
            "readOnlyDefinition": prop.hubspot_defined,
            "readOnlyValue": prop.calculated or prop.name == "hs_object_id",
        },
        "formField": not prop.calculated and obj in ("contacts", "companies"),
        "archived": False,
    }
    if prop.name == "hubspot_owner_id":
        record["referencedObjectType"] = "OWNER"
    if not prop.hubspot_defined:
        if prop.name == DRIFT_FIELD.name:
            created = iso_ms(day_number(state.view.day) * DAY_MS)
        elif prop.name in {p.name for p in HS_DRIFT_PROPERTIES.values()}:
            created = iso_ms(int(state.org.drift_ms))
        else:
            created = PIPELINE_CREATED
        record["createdAt"] = created
        record["updatedAt"] = created
    return record


@ROUTER.add("GET", r"/crm/v3/properties/(?P<type>[^/]+)", API)
@_handle
def properties(state, request, match):
    obj = _object_or_error(match["type"])
    if _bool_arg(request, "archived"):
        return Response.json({"results": []})
    catalogue = property_catalogue(state, obj)
    results = [_property_record(state, obj, p, i) for i, p in enumerate(catalogue.values())]
    return Response.json({"results": results})


@ROUTER.add("GET", r"/crm/v3/properties/(?P<type>[^/]+)/(?P<name>[^/]+)", API)
@_handle
def property_(state, request, match):
    obj = _object_or_error(match["type"])
    catalogue = property_catalogue(state, obj)
    name = unquote(match["name"])
    if name not in catalogue:
        return hs_error(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
    order = list(catalogue).index(name)
    return Response.json(_property_record(state, obj, catalogue[name], order))


# ------------------------------------------------------------------------------ email events
def _email_events(state) -> pd.DataFrame:
    cache = _day_cache(state)["frames"]
    with state.lock:
        cached = cache.get("email_events")
        if cached is not None:
            return cached
        events = state.view.hubspot["email_events"].sort_values(
            ["created", "id"], kind="stable", ignore_index=True
        )
        sent = events[events["type"] == "SENT"].drop_duplicates(["recipient", "emailCampaignId"])
        sent = sent.rename(columns={"id": "sent_id", "created": "sent_created"})
        events = events.merge(
            sent[["recipient", "emailCampaignId", "sent_id", "sent_created"]],
            on=["recipient", "emailCampaignId"],
            how="left",
        )
        cache["email_events"] = events
        return events


def _event_records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.itertuples(index=False):
        event = {
            "id": str(int(row.id)),
            "type": str(row.type),
            "created": int(row.created),
            "recipient": None if pd.isna(row.recipient) else str(row.recipient),
            "emailCampaignId": int(row.emailCampaignId),
            "portalId": PORTAL_ID,
            "appId": 0,
        }
        if not pd.isna(row.sent_id):
            event["sentBy"] = {"id": str(int(row.sent_id)), "created": int(row.sent_created)}
        if row.type == "CLICK":
            event["url"] = f"https://acme-sales.example/c/{int(row.emailCampaignId)}"
        if row.type in ("OPEN", "CLICK"):
            event["deviceType"] = "COMPUTER"
        out.append(event)
    return out


def _ms_arg(request: Request, name: str) -> int | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise _BadRequest(f"Invalid input {name}: {raw!r} is not epoch milliseconds", name) from exc


@ROUTER.add("GET", r"/email/public/v1/events", API)
@_handle
def email_events(state, request, match):
    limit = _int_arg(request, "limit", 100, 1, 1000)
    frame = _email_events(state)
    start, end = _ms_arg(request, "startTimestamp"), _ms_arg(request, "endTimestamp")
    created = frame["created"].to_numpy()
    mask = np.ones(len(frame), dtype=bool)
    if start is not None:
        mask &= created >= start
    if end is not None:
        mask &= created <= end
    event_type = request.arg("eventType")
    if event_type:
        if event_type.upper() not in EMAIL_EVENT_TYPES:
            raise _BadRequest(f"Unknown eventType {event_type!r}", "eventType")
        mask &= frame["type"].to_numpy() == event_type.upper()
    recipient = request.arg("recipient")
    if recipient:
        mask &= (frame["recipient"].str.lower() == recipient.strip().lower()).to_numpy()
    campaign = request.arg("campaignId")
    if campaign:
        mask &= frame["emailCampaignId"].astype(str).to_numpy() == campaign.strip()
    frame = frame[mask]
    position = 0
    offset = request.arg("offset")
    if offset:
        text = _untoken(offset, "offset")
        m = re.fullmatch(r"(-?\d+):(\d+)", text)
        if not m:
            raise _BadRequest(f"Invalid input offset: {offset!r}", "offset")
        c, i = int(m[1]), int(m[2])
        ids = frame["id"].to_numpy()
        created = frame["created"].to_numpy()
        position = int(np.sum((created < c) | ((created == c) & (ids < i))))
    page = frame.iloc[position : position + limit]
    more = position + limit < len(frame)
    if more:
        nxt = frame.iloc[position + limit]
        token = _token(f"{int(nxt.created)}:{int(nxt.id)}")
    elif len(page):
        last = page.iloc[-1]
        token = _token(f"{int(last.created)}:{int(last.id) + 1}")
    else:
        token = offset or _token(f"{start or 0}:0")
    return Response.json({"hasMore": more, "offset": token, "events": _event_records(page)})


# ------------------------------------------------------------------------------ admin
@ROUTER.add("GET", r"/_emulator/hubspot/bulk_import", "admin", authenticated=False)
def get_bulk_imports(state, request, match):
    return Response.json({"imports": bulk_imports(state)})


@ROUTER.add("POST", r"/_emulator/hubspot/bulk_import", "admin", authenticated=False)
def post_bulk_import(state, request, match):
    """``?object=contacts&count=12000``: add synthetic contacts sharing one modification time."""
    try:
        count = int(request.arg("count", "12000"))
        result = bulk_import(state, request.arg("object", "contacts"), count)
    except ValueError as exc:
        return Response.json({"error": "bad_request", "message": str(exc)}, 400)
    return Response.json(result)


@ROUTER.add("DELETE", r"/_emulator/hubspot/bulk_import", "admin", authenticated=False)
def delete_bulk_imports(state, request, match):
    clear_bulk_imports(state)
    return Response.json({"imports": []})


@ROUTER.add("GET", r"/_emulator/hubspot/settings", "admin", authenticated=False)
def get_settings(state, request, match):
    return Response.json(dataclasses.asdict(settings(state)))


@ROUTER.add("POST", r"/_emulator/hubspot/settings", "admin", authenticated=False)
def post_settings(state, request, match):
    """Body: a JSON object of :class:`HubSpotSettings` fields; ``?reset=1`` restores defaults."""
    server = _server(state)
    try:
        if request.arg("reset") in ("1", "true"):
            server.settings = HubSpotSettings()
        if request.body:
            values = request.json()
            if not isinstance(values, dict):
                raise ValueError("the body must be a JSON object")
            server.settings.update(values)
    except ValueError as exc:
        return Response.json({"error": "bad_request", "message": str(exc)}, 400)
    return Response.json(dataclasses.asdict(server.settings))


__all__ = [
    "HubSpotSettings",
    "bulk_import",
    "bulk_imports",
    "clear_bulk_imports",
    "property_catalogue",
    "render_values",
    "resolve_object",
    "served_frame",
    "settings",
]
