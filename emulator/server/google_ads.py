"""Google Ads on the emulator: the OAuth token exchange and GAQL over campaign daily metrics.

Endpoints:

- ``POST /token``: the ``oauth2.googleapis.com/token`` exchange. Form fields ``grant_type=
  refresh_token``, ``client_id``, ``client_secret`` (or HTTP Basic), ``refresh_token`` (any
  non-empty value). The client is the Salesforce client id and secret of
  ``state.credentials``. Answers ``{"access_token", "expires_in": 3599, "scope",
  "token_type": "Bearer"}``; a wrong client is 401 ``invalid_client``, a missing refresh token
  400 ``invalid_request``, another grant 400 ``unsupported_grant_type``.
- ``POST /v{NN}/customers/{customerId}/googleAds:searchStream`` with ``{"query": GAQL}``: a JSON
  array of batches of at most 10,000 rows (``stream_batch_size``), each with ``results``,
  ``fieldMask`` and ``requestId`` (an empty result is one batch without ``results``).
- ``POST /v{NN}/customers/{customerId}/googleAds:search``: the paged variant, ``{"results",
  "nextPageToken", "fieldMask"}`` (``totalResultsCount`` with ``returnTotalResultsCount``).
  Pages hold 10,000 rows; ``pageSize`` is honoured up to that (newer API versions dropped it,
  the emulator keeps it so small orgs can exercise paging). Page tokens are bound to the query.

Headers: ``Authorization: Bearer <token from /token>`` (401 ``UNAUTHENTICATED`` otherwise, and
after ``token_expiry`` calls when that fault is on), ``developer-token`` equal to
``credentials.google_ads_developer_token`` (401 with ``authenticationError``
``DEVELOPER_TOKEN_INVALID`` otherwise) and an optional ``login-customer-id`` (digits only, any
manager id is accepted). ``customerId`` must be digits (400 ``INVALID_CUSTOMER_ID``) and the
emulated account ``1234567890`` (403 ``PERMISSION_DENIED``, ``USER_PERMISSION_DENIED``).
API versions v17 to v30 are served.

GAQL subset, ``FROM campaign`` only: fields ``campaign.id|name|status|resource_name``,
``segments.date``, ``metrics.cost_micros|clicks|impressions|conversions``,
``customer.id|currency_code|descriptive_name|time_zone|resource_name``. ``WHERE`` conditions
joined by ``AND``: ``=, !=, >, >=, <, <=``, ``BETWEEN 'a' AND 'b'``, ``IN (...)``,
``NOT IN (...)`` and ``DURING`` (TODAY, YESTERDAY, LAST_7_DAYS, LAST_14_DAYS, LAST_30_DAYS,
THIS_MONTH, LAST_MONTH; "today" is the simulated date, account time zone UTC). ``ORDER BY``
with ASC/DESC, ``LIMIT`` and ``PARAMETERS`` (ignored). Selecting ``segments.date`` requires a
finite date range (``EXPECTED_FILTERS_ON_DATE_RANGE``). Without ``segments.date`` the rows are
one per campaign with metrics summed over the filtered days. Rows whose selected metrics are all
zero are omitted. Default order: campaign id, then date. Errors are Google RPC errors whose
``details`` carry a ``GoogleAdsFailure`` (``queryError`` such as ``UNRECOGNIZED_FIELD``).

JSON: lowerCamelCase names, int64 as strings (ids, ``costMicros``, ``clicks``,
``impressions``), doubles as numbers (``conversions``), dates ``YYYY-MM-DD``, resources with
their ``resourceName``. The data is ``state.view.google_ads``: the last three days restate
when time advances.

Generic faults: ``rate_limit`` -> 429 ``RESOURCE_EXHAUSTED`` (``quotaError``
``RESOURCE_TEMPORARILY_EXHAUSTED``, ``retryDelay`` 1s); ``daily_limit`` -> 429
``RESOURCE_EXHAUSTED`` (``quotaError`` ``RESOURCE_EXHAUSTED``, developer scope);
``server_error`` -> 500 ``INTERNAL`` or 503 ``UNAVAILABLE`` (by ``state.roll``);
``token_expiry`` expires access tokens as described above.

Runtime settings: ``GET``/``POST /_emulator/google_ads/settings`` (``stream_batch_size``,
``page_size``).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
import uuid
import weakref

import numpy as np
import pandas as pd

from emulator.schema import GOOGLE_ADS_CUSTOMER_ID
from emulator.server.core import DIALECTS, ROUTER, ApiDialect, EmulatorState, Request, Response

API = "google_ads"
DEFAULT_VERSION = 21
VERSIONS = range(17, 31)
CURRENCY = "USD"
DESCRIPTIVE_NAME = "Acme Sales"
TIME_ZONE = "Etc/UTC"
SCOPE = "https://www.googleapis.com/auth/adwords"
ADS_PATH = r"/v(?P<version>\d+)/customers/(?P<customer>[^/:]+)/googleAds:"
AUTH_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


@dataclasses.dataclass(frozen=True)
class Field:
    resource: str
    json_name: str
    kind: str  # int64, string, enum, date, double
    column: str | None  # column of view.google_ads, None for constants


FIELDS = {
    "campaign.id": Field("campaign", "id", "int64", "campaign_id"),
    "campaign.name": Field("campaign", "name", "string", "campaign_name"),
    "campaign.status": Field("campaign", "status", "enum", "campaign_status"),
    "campaign.resource_name": Field("campaign", "resourceName", "string", "_campaign_resource"),
    "segments.date": Field("segments", "date", "date", "_date"),
    "metrics.cost_micros": Field("metrics", "costMicros", "int64", "cost_micros"),
    "metrics.clicks": Field("metrics", "clicks", "int64", "clicks"),
    "metrics.impressions": Field("metrics", "impressions", "int64", "impressions"),
    "metrics.conversions": Field("metrics", "conversions", "double", "conversions"),
    "customer.id": Field("customer", "id", "int64", "customer_id"),
    "customer.currency_code": Field("customer", "currencyCode", "string", "_currency"),
    "customer.descriptive_name": Field("customer", "descriptiveName", "string", "_name"),
    "customer.time_zone": Field("customer", "timeZone", "string", "_time_zone"),
    "customer.resource_name": Field("customer", "resourceName", "string", "_customer_resource"),
}
ENUMS = {"campaign.status": {"ENABLED", "PAUSED", "REMOVED", "UNKNOWN", "UNSPECIFIED"}}
RESOURCES = {
    "campaign",
    "customer",
    "ad_group",
    "ad_group_ad",
    "keyword_view",
    "ad_group_criterion",
}
DURING = ("TODAY", "YESTERDAY", "LAST_7_DAYS", "LAST_14_DAYS", "LAST_30_DAYS")
DURING_MONTHS = ("THIS_MONTH", "LAST_MONTH")


# ------------------------------------------------------------------------------ settings
@dataclasses.dataclass
class GoogleAdsSettings:
    stream_batch_size: int = 10_000
    page_size: int = 10_000


_SETTINGS: weakref.WeakKeyDictionary[EmulatorState, GoogleAdsSettings] = weakref.WeakKeyDictionary()


def settings(state: EmulatorState) -> GoogleAdsSettings:
    with state.lock:
        found = _SETTINGS.get(state)
        if found is None:
            found = _SETTINGS[state] = GoogleAdsSettings()
        return found


# ------------------------------------------------------------------------------ errors
def _request_id() -> str:
    return uuid.uuid4().hex[:22]


def _version_of(request: Request | None) -> int:
    m = re.match(r"/v(\d+)/", request.path) if request is not None else None
    return int(m[1]) if m else DEFAULT_VERSION


def ads_error(
    status: int,
    rpc_status: str,
    message: str,
    error_code: dict | None = None,
    version: int = DEFAULT_VERSION,
    extra: dict | None = None,
) -> Response:
    error: dict = {"code": status, "message": message, "status": rpc_status}
    request_id = _request_id()
    if error_code:
        failure = {"errorCode": error_code, "message": message, **(extra or {})}
        error["details"] = [
            {
                "@type": f"type.googleapis.com/google.ads.googleads.v{version}.errors.GoogleAdsFailure",
                "errors": [failure],
                "requestId": request_id,
            }
        ]
    return Response.json({"error": error}, status, {"request-id": request_id})


class _Invalid(Exception):
    """A request error: 400 INVALID_ARGUMENT with a GoogleAdsFailure."""

    def __init__(self, message: str, error_code: dict, status: int = 400, rpc: str = ""):
        super().__init__(message)
        self.message, self.error_code = message, error_code
        self.status, self.rpc = status, rpc or "INVALID_ARGUMENT"


def _query_error(code: str, message: str) -> _Invalid:
    return _Invalid(message, {"queryError": code})


class GoogleAdsDialect(ApiDialect):
    name = API

    def authenticate(self, state: EmulatorState, request: Request) -> Response | None:
        version = _version_of(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not state.token_valid(token.strip(), API):
            return ads_error(401, "UNAUTHENTICATED", AUTH_MESSAGE)
        developer = request.headers.get("developer-token")
        if developer != state.credentials.google_ads_developer_token:
            return ads_error(
                401,
                "UNAUTHENTICATED",
                "The developer token is not valid.",
                {"authenticationError": "DEVELOPER_TOKEN_INVALID"},
                version,
            )
        return None

    def error(self, kind: str, status: int, message: str) -> Response:
        return self._error(kind, status, message, DEFAULT_VERSION)

    def _error(self, kind: str, status: int, message: str, version: int) -> Response:
        if kind == "rate_limit":
            return ads_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Too many requests. Retry in 1 seconds.",
                {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
                version,
                {
                    "details": {
                        "quotaErrorDetails": {
                            "rateScope": "ACCOUNT",
                            "rateName": "Requests per account per second",
                            "retryDelay": "1s",
                        }
                    }
                },
            )
        if kind == "daily_limit":
            return ads_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Number of operations for basic access has been exhausted.",
                {"quotaError": "RESOURCE_EXHAUSTED"},
                version,
                {
                    "details": {
                        "quotaErrorDetails": {
                            "rateScope": "DEVELOPER",
                            "rateName": "Number of operations for basic access",
                            "retryDelay": "86400s",
                        }
                    }
                },
            )
        if kind == "server_error":
            if status == 500:
                return ads_error(
                    500,
                    "INTERNAL",
                    "Internal error encountered.",
                    {"internalError": "INTERNAL_ERROR"},
                    version,
                )
            return ads_error(503, "UNAVAILABLE", "The service is currently unavailable.")
        if kind == "NOT_FOUND":
            return ads_error(status or 404, "NOT_FOUND", message)
        return ads_error(status or 400, "INVALID_ARGUMENT", message)

    def fault(self, state, request, kind, status, message) -> Response:
        if kind == "server_error":
            status = 500 if state.roll(0.5) else 503
        return self._error(kind, status, message, _version_of(request))

    def decorate(self, state: EmulatorState, request: Request, response: Response) -> None:
        response.headers.setdefault("request-id", _request_id())


DIALECTS[API] = GoogleAdsDialect()


# ------------------------------------------------------------------------------ token
def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response.json({"error": error, "error_description": description}, status)


@ROUTER.add("POST", r"/token", API, authenticated=False)
def token(state, request, match):
    form = request.form()
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            pair = base64.b64decode(encoded.strip()).decode()
            client_id, _, client_secret = pair.partition(":")
        except (ValueError, UnicodeDecodeError):
            return _oauth_error(401, "invalid_client", "Unable to decode the client credentials.")
    grant = form.get("grant_type")
    if grant != "refresh_token":
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant or ''}")
    creds = state.credentials
    if client_id != creds.salesforce_client_id or client_secret != creds.salesforce_client_secret:
        return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
    if not form.get("refresh_token"):
        return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
    access = state.issue_token(API, prefix="ya29.")
    body = {"access_token": access, "expires_in": 3599, "scope": SCOPE, "token_type": "Bearer"}
    return Response.json(body, headers={"Cache-Control": "no-cache, no-store, max-age=0"})


# ------------------------------------------------------------------------------ GAQL
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<op>>=|<=|!=|=|>|<)"
    r"|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|(?P<num>-?\d+(?:\.\d+)?(?![\w.]))"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
_QUERY = re.compile(
    r"\s*SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<resource>\S+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\S+))?(?:\s+PARAMETERS\s+(?P<params>.+?))?\s*;?\s*",
    re.IGNORECASE | re.DOTALL,
)


@dataclasses.dataclass
class Query:
    select: list[str]
    conditions: list[tuple]  # (field, operator, value) with value a scalar, tuple or list
    order: list[tuple[str, bool]]
    limit: int | None


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _query_error("BAD_SYMBOL", f"Unexpected input at: {text[pos : pos + 20]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1].replace("\\'", "'").replace('\\"', '"')
        out.append((kind, value))
        pos = m.end()
    return out


def _field(name: str) -> str:
    field = name.strip().lower()
    if field not in FIELDS:
        raise _query_error(
            "UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{name.strip()}'."
        )
    return field


def _literal(token: tuple[str, str], field: str):
    kind, value = token
    if kind not in ("str", "num", "word"):
        raise _query_error("BAD_VALUE", f"Invalid value {value!r} for {field}.")
    info = FIELDS[field]
    if info.kind == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise _query_error("BAD_VALUE", "Invalid date format. Expected 'YYYY-MM-DD'.")
        try:
            dt.date.fromisoformat(value)
        except ValueError as exc:
            raise _query_error("BAD_VALUE", f"Invalid date: '{value}'.") from exc
        return value
    if info.kind in ("int64", "double"):
        try:
            return float(value)
        except ValueError as exc:
            raise _query_error("BAD_NUMBER", f"Cannot parse number: '{value}'.") from exc
    if info.kind == "enum" and value.upper() not in ENUMS.get(field, set()):
        raise _query_error("BAD_ENUM_CONSTANT", f"Invalid enum value '{value}' for {field}.")
    return value.upper() if info.kind == "enum" else value


def _parse_where(text: str) -> list[tuple]:
    tokens = _tokens(text)
    conditions, i = [], 0

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise _query_error("UNEXPECTED_END_OF_QUERY", "Unexpected end of the WHERE clause.")
        i += 1
        return tokens[i - 1]

    while i < len(tokens):
        kind, name = take()
        if kind != "word":
            raise _query_error("EXPECTED_FIELD", f"Expected a field name, got {name!r}.")
        field = _field(name)
        kind, op = take()
        op = op.upper()
        if kind == "op":
            conditions.append((field, op, _literal(take(), field)))
        elif op == "BETWEEN":
            low = _literal(take(), field)
            if take()[1].upper() != "AND":
                raise _query_error("EXPECTED_AND", "Expected AND between values with BETWEEN.")
            conditions.append((field, "BETWEEN", (low, _literal(take(), field))))
        elif op == "DURING":
            kind, value = take()
            if field != "segments.date" or value.upper() not in DURING + DURING_MONTHS:
                raise _query_error(
                    "INVALID_VALUE_WITH_DURING_OPERATOR", f"Invalid value with DURING: {value}."
                )
            conditions.append((field, "DURING", value.upper()))
        elif op in ("IN", "NOT"):
            if op == "NOT" and take()[1].upper() != "IN":
                raise _query_error("BAD_OPERATOR", "Expected IN after NOT.")
            if take()[0] != "lp":
                raise _query_error("EXPECTED_LIST", "The IN operator needs a list.")
            values = []
            while True:
                token = take()
                if token[0] == "rp":
                    break
                if token[0] == "comma":
                    continue
                values.append(_literal(token, field))
            conditions.append((field, "IN" if op == "IN" else "NOT IN", values))
        else:
            raise _query_error("BAD_OPERATOR", f"Invalid operator encountered: {op}.")
        if i < len(tokens):
            kind, word = take()
            if word.upper() != "AND":
                raise _query_error("UNEXPECTED_INPUT", f"Expected AND, got {word!r}.")
    return conditions


def parse_query(text: str) -> tuple[Query, str]:
    """A GAQL query and its FROM resource; raises ``_Invalid`` with a ``queryError``."""
    if not isinstance(text, str) or not text.strip():
        raise _query_error("EXPECTED_SELECT", "The query is empty.")
    if not re.match(r"\s*SELECT\s", text, re.IGNORECASE):
        raise _query_error("EXPECTED_SELECT", "SELECT is missing at the beginning of query.")
    m = _QUERY.fullmatch(text)
    if not m:
        raise _query_error("EXPECTED_FROM", "Missing FROM clause.")
    resource = m["resource"].lower()
    if resource != "campaign":
        raise _query_error(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"Invalid resource type '{m['resource']}' in the FROM clause"
            + (" (only campaign is emulated)." if resource in RESOURCES else "."),
        )
    select = []
    for part in m["select"].split(","):
        if not part.strip():
            raise _query_error("UNEXPECTED_INPUT", "Empty field in the SELECT clause.")
        field = _field(part)
        if field in select:
            raise _query_error("DUPLICATE_FIELDS_IN_SELECT_CLAUSE", f"Duplicate field {field}.")
        select.append(field)
    conditions = _parse_where(m["where"]) if m["where"] else []
    order = []
    if m["order"]:
        for part in m["order"].split(","):
            words = part.split()
            if not words or len(words) > 2:
                raise _query_error("BAD_ORDER_BY", f"Invalid ORDER BY item: {part.strip()!r}.")
            direction = words[1].upper() if len(words) == 2 else "ASC"
            if direction not in ("ASC", "DESC"):
                raise _query_error("BAD_ORDER_BY", f"Invalid ordering: {words[1]!r}.")
            order.append((_field(words[0]), direction == "ASC"))
    limit = None
    if m["limit"]:
        if not m["limit"].isdigit() or int(m["limit"]) < 1:
            raise _query_error("BAD_LIMIT_VALUE", f"Invalid LIMIT value: {m['limit']}.")
        limit = int(m["limit"])
    return Query(select, conditions, order, limit), resource


def _date_bounds(query: Query, today: dt.date) -> tuple[str | None, str | None]:
    low, high = None, None

    def tighten(lo, hi):
        nonlocal low, high
        if lo is not None and (low is None or lo > low):
            low = lo
        if hi is not None and (high is None or hi < high):
            high = hi

    for field, op, value in query.conditions:
        if field != "segments.date":
            continue
        if op == "BETWEEN":
            tighten(*value)
        elif op == "=":
            tighten(value, value)
        elif op in (">=", ">"):
            tighten(value, None)
        elif op in ("<=", "<"):
            tighten(None, value)
        elif op == "IN" and value:
            tighten(min(value), max(value))
        elif op == "DURING":
            tighten(*_during(value, today))
    return low, high


def _during(name: str, today: dt.date) -> tuple[str, str]:
    if name == "TODAY":
        start = end = today
    elif name == "YESTERDAY":
        start = end = today - dt.timedelta(days=1)
    elif name.startswith("LAST_") and name.endswith("_DAYS"):
        days = int(name.split("_")[1])
        start, end = today - dt.timedelta(days=days), today - dt.timedelta(days=1)
    elif name == "THIS_MONTH":
        start, end = today.replace(day=1), today
    else:  # LAST_MONTH
        end = today.replace(day=1) - dt.timedelta(days=1)
        start = end.replace(day=1)
    return start.isoformat(), end.isoformat()


def _frame(state: EmulatorState) -> pd.DataFrame:
    with state.lock:
        cache = state.extensions.setdefault(API, {})
        frame = cache.get("frame")
        if frame is None:
            frame = state.view.google_ads.copy()
            frame["_date"] = np.datetime_as_string(frame["date"].to_numpy(), unit="D")
            frame["_currency"] = CURRENCY
            frame["_name"] = DESCRIPTIVE_NAME
            frame["_time_zone"] = TIME_ZONE
            frame["_customer_resource"] = "customers/" + frame["customer_id"].astype(str)
            frame["_campaign_resource"] = (
                frame["_customer_resource"] + "/campaigns/" + frame["campaign_id"].astype(str)
            )
            frame["_campaign_num"] = frame["campaign_id"].astype(np.int64)
            frame = frame.sort_values(["_campaign_num", "_date"], kind="stable", ignore_index=True)
            cache["frame"] = frame
        return frame


def _comparable(frame: pd.DataFrame, field: str) -> pd.Series:
    info = FIELDS[field]
    column = frame[info.column]
    if info.kind in ("int64", "double"):
        return pd.to_numeric(column).astype(float)
    return column.astype(str)


def _condition_mask(frame: pd.DataFrame, condition: tuple, today: dt.date) -> np.ndarray:
    field, op, value = condition
    column = _comparable(frame, field)
    if op == "DURING":
        low, high = _during(value, today)
        return ((column >= low) & (column <= high)).to_numpy()
    if op == "BETWEEN":
        return ((column >= value[0]) & (column <= value[1])).to_numpy()
    if op in ("IN", "NOT IN"):
        hit = column.isin(value).to_numpy()
        return hit if op == "IN" else ~hit
    compare = {
        "=": column.eq,
        "!=": column.ne,
        ">": column.gt,
        ">=": column.ge,
        "<": column.lt,
        "<=": column.le,
    }[op]
    return compare(value).to_numpy()


def run_query(state: EmulatorState, query: Query) -> pd.DataFrame:
    """The rows of a parsed query (columns as in ``view.google_ads`` plus helpers)."""
    today = state.now().date()
    if "segments.date" in query.select:
        low, high = _date_bounds(query, today)
        if low is None or high is None:
            raise _query_error(
                "EXPECTED_FILTERS_ON_DATE_RANGE",
                "A finite date range on segments.date is required when it is selected.",
            )
        if low > high:
            raise _query_error("DATE_RANGE_TOO_NARROW", "The date range has no days in it.")
    frame = _frame(state)
    metrics = [f for f in FIELDS if f.startswith("metrics.")]
    row_conditions = [c for c in query.conditions if not c[0].startswith("metrics.")]
    metric_conditions = [c for c in query.conditions if c[0].startswith("metrics.")]
    mask = np.ones(len(frame), dtype=bool)
    for condition in row_conditions:
        mask &= _condition_mask(frame, condition, today)
    rows = frame[mask]
    if "segments.date" not in query.select:
        sums = rows.groupby("campaign_id", sort=False)[[FIELDS[m].column for m in metrics]].sum()
        firsts = rows.drop_duplicates("campaign_id").set_index("campaign_id")
        rows = firsts.drop(columns=[FIELDS[m].column for m in metrics]).join(sums).reset_index()
        rows["conversions"] = rows["conversions"].round(6)
        rows = rows.sort_values("_campaign_num", kind="stable", ignore_index=True)
    for condition in metric_conditions:
        rows = rows[_condition_mask(rows, condition, today)]
    selected_metrics = [FIELDS[m].column for m in query.select if m.startswith("metrics.")]
    if selected_metrics:
        rows = rows[(rows[selected_metrics] != 0).any(axis=1).to_numpy()]
    if query.order:
        keys = pd.DataFrame(
            {f"k{i}": _comparable(rows, f).to_numpy() for i, (f, _a) in enumerate(query.order)}
        )
        order = keys.sort_values(
            list(keys.columns), ascending=[a for _f, a in query.order], kind="stable"
        ).index
        rows = rows.iloc[order.to_numpy()]
    if query.limit is not None:
        rows = rows.iloc[: query.limit]
    return rows.reset_index(drop=True)


def _camel(field: str) -> str:
    resource = field.split(".", 1)[0]
    return f"{resource}.{FIELDS[field].json_name}"


def field_mask(query: Query) -> str:
    return ",".join(_camel(f) for f in query.select)


def render_rows(rows: pd.DataFrame, query: Query) -> list[dict]:
    """Result rows as the REST API prints them."""
    resources = {FIELDS[f].resource for f in query.select}
    columns = {f: rows[FIELDS[f].column].to_numpy() for f in query.select}
    campaign_rn = rows["_campaign_resource"].to_numpy()
    customer_rn = rows["_customer_resource"].to_numpy()
    out = []
    for i in range(len(rows)):
        row: dict = {}
        if "campaign" in resources:
            row["campaign"] = {"resourceName": str(campaign_rn[i])}
        if "customer" in resources:
            row["customer"] = {"resourceName": str(customer_rn[i])}
        for field in query.select:
            info = FIELDS[field]
            value = columns[field][i]
            if info.kind == "int64":
                value = str(int(value))
            elif info.kind == "double":
                value = float(value)
            else:
                value = str(value)
            row.setdefault(info.resource, {})[info.json_name] = value
        out.append(row)
    return out


# ------------------------------------------------------------------------------ endpoints
def _check_request(state: EmulatorState, request: Request, match) -> tuple[Query, int]:
    version = int(match["version"])
    if version not in VERSIONS:
        raise _Invalid(f"Version v{version} is not supported.", {}, 404, "NOT_FOUND")
    customer = match["customer"]
    if not customer.isdigit():
        raise _Invalid(
            f"Invalid customer ID '{customer}'.", {"requestError": "INVALID_CUSTOMER_ID"}
        )
    login = request.headers.get("login-customer-id")
    if login is not None and not login.strip().isdigit():
        raise _Invalid(
            f"Invalid login-customer-id header '{login}'.",
            {"requestError": "INVALID_CUSTOMER_ID"},
        )
    if customer != GOOGLE_ADS_CUSTOMER_ID:
        raise _Invalid(
            "User doesn't have permission to access customer. Note: If you're accessing a "
            "client customer, the manager's customer id must be set in the 'login-customer-id' "
            "header. See https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
            {"authorizationError": "USER_PERMISSION_DENIED"},
            403,
            "PERMISSION_DENIED",
        )
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise _Invalid(f"Invalid JSON payload received. {exc}", {}) from exc
    if not isinstance(body, dict) or "query" not in body:
        raise _Invalid(
            "Invalid JSON payload: 'query' is required.", {"requestError": "REQUIRED_FIELD_MISSING"}
        )
    query, _resource = parse_query(body["query"])
    return query, version


def _ads(handler):
    def wrapped(state, request, match):
        try:
            return handler(state, request, match)
        except _Invalid as exc:
            version = int(match["version"]) if match["version"].isdigit() else DEFAULT_VERSION
            return ads_error(exc.status, exc.rpc, exc.message, exc.error_code or None, version)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


@ROUTER.add("POST", ADS_PATH + r"searchStream", API)
@_ads
def search_stream(state, request, match):
    query, _version = _check_request(state, request, match)
    rows = run_query(state, query)
    results = render_rows(rows, query)
    mask = field_mask(query)
    request_id = _request_id()
    size = max(settings(state).stream_batch_size, 1)
    batches = [
        {"results": results[i : i + size], "fieldMask": mask, "requestId": request_id}
        for i in range(0, len(results), size)
    ] or [{"fieldMask": mask, "requestId": request_id}]
    return Response.json(batches, headers={"request-id": request_id})


def _page_token(query_text: str, offset: int) -> str:
    digest = hashlib.sha1(query_text.encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(f"{digest}:{offset}".encode()).decode()


@ROUTER.add("POST", ADS_PATH + r"search", API)
@_ads
def search(state, request, match):
    query, _version = _check_request(state, request, match)
    body = json.loads(request.body or b"{}")
    limit = settings(state).page_size
    if body.get("pageSize") not in (None, ""):
        try:
            size = int(body["pageSize"])
        except (TypeError, ValueError) as exc:
            raise _Invalid(
                "pageSize must be an integer.", {"requestError": "INVALID_PAGE_SIZE"}
            ) from exc
        if not 1 <= size <= 10_000:
            raise _Invalid(
                "pageSize must be between 1 and 10000.", {"requestError": "INVALID_PAGE_SIZE"}
            )
        limit = min(limit, size)
    offset = 0
    page_token = body.get("pageToken")
    if page_token:
        try:
            _digest, _, raw = (
                base64.urlsafe_b64decode(str(page_token).encode()).decode().partition(":")
            )
            offset = int(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Invalid(
                "Page token is invalid.", {"requestError": "INVALID_PAGE_TOKEN"}
            ) from exc
        if _page_token(body["query"], offset) != page_token:
            raise _Invalid("Page token is invalid.", {"requestError": "INVALID_PAGE_TOKEN"})
    rows = run_query(state, query)
    page = rows.iloc[offset : offset + limit]
    out: dict = {}
    if len(page):
        out["results"] = render_rows(page, query)
    if offset + limit < len(rows):
        out["nextPageToken"] = _page_token(body["query"], offset + limit)
    if body.get("returnTotalResultsCount"):
        out["totalResultsCount"] = str(len(rows))
    out["fieldMask"] = field_mask(query)
    return Response.json(out)


# ------------------------------------------------------------------------------ admin
@ROUTER.add("GET", r"/_emulator/google_ads/settings", "admin", authenticated=False)
def get_settings(state, request, match):
    return Response.json(dataclasses.asdict(settings(state)))


@ROUTER.add("POST", r"/_emulator/google_ads/settings", "admin", authenticated=False)
def post_settings(state, request, match):
    current = settings(state)
    try:
        values = request.json() or {}
        for name, raw in values.items():
            if name not in {f.name for f in dataclasses.fields(current)}:
                raise ValueError(f"unknown setting {name!r}")
            value = int(raw)
            if value < 1:
                raise ValueError(f"setting {name} must be at least 1")
            setattr(current, name, value)
    except (ValueError, TypeError, AttributeError) as exc:
        return Response.json({"error": "bad_request", "message": str(exc)}, 400)
    return Response.json(dataclasses.asdict(current))


__all__ = [
    "FIELDS",
    "GoogleAdsSettings",
    "Query",
    "field_mask",
    "parse_query",
    "run_query",
    "settings",
]
