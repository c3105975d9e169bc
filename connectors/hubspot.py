"""HubSpot: CRM objects, owners, the deal pipeline, deal property history, associations and
email events as streams (wire formats: shared reference, section 2 and 3.2).

What a run does:

* **properties** of every object every run (``/crm/v3/properties/{object}``): the column list
  and types come from the portal, so a new custom property becomes a new column (schema drift;
  the runner then makes one full pass so existing records get their values). Types: number ->
  DOUBLE, datetime -> TIMESTAMPTZ, date -> DATE, bool -> BOOLEAN, everything else VARCHAR. Values
  are passed on as the strings HubSpot sends; the destination casts them (``""`` is null for
  non-strings, epoch milliseconds are accepted for dates) and quarantines a record whose value
  does not fit. A property whose name cannot be a safe column, or that would collide with a
  record column (``id``, ``archived`` ...), is never requested and is named in a warning.
* **objects** (companies, contacts, deals, calls, emails, meetings) incremental through
  **search** on ``lastmodifieddate`` (contacts) / ``hs_lastmodifieddate`` (the others), over
  half-open windows ``[bookmark - lookback, sync start)``: the window end is the API server's
  clock (``Date`` header) when the stream starts, so it is fixed while paging. Results are sorted
  by ``hs_object_id`` and every page re-anchors on the last id (``hs_object_id > last``, offset
  0): the 10,000-result window is never reached, however many records share one timestamp (a
  bulk import), and a record that leaves the result set while paging (modified right now) cannot
  shift the offsets and hide another one. ``search_keyset=False`` pages by offset instead and
  re-anchors just before the 10,000 cap (shared reference 2.3).
* **search index lag**: search may not show a change made shortly before the sync. The bookmark
  is ``min(sync start, max cursor seen)`` (never a window end) and the next run starts
  ``lookback`` (default one day) earlier, so a late-indexed change is read by the next run. A
  nightly run thus re-reads the previous day's changes; rewrites are idempotent.
* **full passes** (first run, ``--full-refresh``, a new property, and every ``full_pass_every``
  to pick up association changes that do not touch the record's timestamp) use the **list**
  endpoint instead: it reads the database, not the search index, and carries the deal history
  in the same pages (``propertiesWithHistory``, pages of 50).
* **archived records** come from the list endpoint with ``archived=true`` (search never returns
  them) on every run, after the windows; they land with ``archived = true`` and
  ``_is_deleted = true`` (the runner's ``read_unwindowed``).
* **deal property history** (``deal_property_history``) of the deals read: from the list pages
  in a full pass; after a search window, batch reads of the changed deals (``POST
  .../deals/batch/read`` with ``propertiesWithHistory``, 50 a request). Only the properties whose history HubSpot keeps and sales ops uses (``history_properties``).
* **associations** (``<from>_<to>_associations``, v4 batch read of the records read, 1,000 per
  call): the rows are the complete set of each record read, so an association removed since is
  flagged ``_is_deleted``; the associations of an archived record are read the same way (usually
  none are left, so they are flagged).
* **owners** (active and deactivated, ``archived=true``), **deal pipelines and stages** read in
  full every run and reconciled by id.
* **email events** (legacy ``/email/public/v1/events``) by windows on ``created``, offset paging.
* **rate limits**: the shared token buckets (``RateLimits.hubspot`` for everything,
  ``RateLimits.hubspot_search`` for search, which HubSpot limits separately and without headers);
  429s are retried per ``policyName`` (``TEN_SECONDLY_ROLLING``, ``SECONDLY``) and ``DAILY`` stops
  the run with a clear message (:func:`connectors.http.classify_hubspot`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from connectors.auth import BearerToken
from connectors.http import ApiError, HttpClient, RateLimiter, hubspot_profile
from connectors.naming import UnsafeIdentifier, map_columns
from connectors.ratelimit import RateLimits
from connectors.streams import Page, Related, Source, StreamSpec, Window
from salesops.config import ConfigError

log = logging.getLogger(__name__)

SOURCE = "hubspot"
DEFAULT_BASE_URL = "https://api.hubapi.com"

OBJECTS = ("companies", "contacts", "deals", "calls", "emails", "meetings")
# The modification time search can filter and sort on; contacts predate the hs_ prefix.
CURSOR_PROPERTIES = {"contacts": "lastmodifieddate"}
DEFAULT_CURSOR_PROPERTY = "hs_lastmodifieddate"
# (from, to) pairs landed as <from>_<to>_associations; the "from" side is the record that is
# created or modified when the association forms (docs/raw-layer.md).
ASSOCIATIONS = (
    ("deals", "companies"),
    ("deals", "contacts"),
    ("contacts", "companies"),
    ("calls", "deals"),
    ("emails", "deals"),
    ("meetings", "deals"),
)
# Deal properties whose history sales ops reads (stage, amount, close date, owner, forecast
# category, currency): HubSpot keeps every change of these.
HISTORY_PROPERTIES = (
    "dealstage",
    "amount",
    "closedate",
    "hubspot_owner_id",
    "hs_forecast_category",
    "deal_currency_code",
)

WAREHOUSE_TYPES = {"number": "DOUBLE", "datetime": "TIMESTAMPTZ", "date": "DATE", "bool": "BOOLEAN"}
RECORD_COLUMNS = {
    "id": "VARCHAR",
    "created_at": "TIMESTAMPTZ",
    "updated_at": "TIMESTAMPTZ",
    "archived": "BOOLEAN",
    "archived_at": "TIMESTAMPTZ",
}
OWNER_COLUMNS = {
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
}
PIPELINE_COLUMNS = {
    "id": "VARCHAR",
    "label": "VARCHAR",
    "display_order": "INTEGER",
    "archived": "BOOLEAN",
}
STAGE_COLUMNS = {
    "pipeline_id": "VARCHAR",
    "id": "VARCHAR",
    "label": "VARCHAR",
    "display_order": "INTEGER",
    "is_closed": "BOOLEAN",
    "probability": "DOUBLE",
    "archived": "BOOLEAN",
}
HISTORY_TABLE = "deal_property_history"
HISTORY_COLUMNS = {
    "deal_id": "VARCHAR",
    "property": "VARCHAR",
    "value": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "source_type": "VARCHAR",
}
HISTORY_KEY = ("deal_id", "property", "timestamp", "value")
ASSOCIATION_COLUMNS = {
    "from_id": "VARCHAR",
    "to_id": "VARCHAR",
    "association_type_id": "INTEGER",
    "association_category": "VARCHAR",
}
ASSOCIATION_KEY = ("from_id", "to_id", "association_type_id")
EMAIL_EVENT_COLUMNS = {
    "id": "VARCHAR",
    "type": "VARCHAR",
    "created": "TIMESTAMPTZ",
    "recipient": "VARCHAR",
    "email_campaign_id": "VARCHAR",
    "portal_id": "VARCHAR",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class HubSpotSettings:
    """Tunables of the HubSpot source. ``None`` turns a feature off."""

    objects: tuple[str, ...] = OBJECTS
    associations: tuple[tuple[str, str], ...] = ASSOCIATIONS
    history_properties: tuple[str, ...] = HISTORY_PROPERTIES
    # Search lags behind writes; a day covers any lag seen in practice at the cost of
    # re-reading one day of changes per nightly run.
    lookback: timedelta = timedelta(days=1)
    # No slicing: the bookmark of a quiet object can be months old, and each slice costs a
    # search request. Pages come in id order, so the bookmark moves when the window ends.
    window: timedelta | None = None
    full_pass_every: timedelta | None = timedelta(days=7)
    checkpoint_pages: int = 5
    list_page_size: int = 100  # the list endpoint's maximum
    history_page_size: int = 50  # the maximum with propertiesWithHistory
    search_page_size: int = 200  # the search maximum
    search_result_window: int = 10_000
    search_keyset: bool = True
    association_batch_size: int = 1000
    owners_page_size: int = 500
    email_events_page_size: int = 1000
    email_events_start: datetime | None = None
    api_prefix: str = "/crm/v3"


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HsProperty:
    name: str
    type: str

    @property
    def warehouse_type(self) -> str:
        return WAREHOUSE_TYPES.get(self.type, "VARCHAR")


@dataclass(frozen=True)
class ObjectSchema:
    """What the properties endpoint said about an object, reduced to what the connector needs."""

    name: str
    properties: tuple[HsProperty, ...]
    rejected: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.properties]

    @property
    def columns(self) -> dict[str, str]:
        return {**RECORD_COLUMNS, **{p.name: p.warehouse_type for p in self.properties}}

    @property
    def cursor(self) -> str:
        return cursor_property(self.name)


def cursor_property(obj: str) -> str:
    return CURSOR_PROPERTIES.get(obj, DEFAULT_CURSOR_PROPERTY)


def parse_properties(obj: str, payload: Any) -> ObjectSchema:
    """Loadable properties of a ``/crm/v3/properties/{object}`` response.

    A name that is not a safe identifier (see :mod:`connectors.naming`), starts with ``_`` or
    collides with a record column is left out with a warning naming it; it is never requested.
    """
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list):
        raise ApiError(
            f"hubspot properties {obj}: the response has no results list",
            api=SOURCE,
            method="GET",
            path=f"properties/{obj}",
        )
    described = [
        r
        for r in results
        if isinstance(r, dict) and isinstance(r.get("name"), str) and not r.get("archived")
    ]
    problems: list[UnsafeIdentifier] = []
    candidates = []
    for prop in described:
        if prop["name"] in RECORD_COLUMNS:
            problems.append(
                UnsafeIdentifier(
                    prop["name"],
                    source=SOURCE,
                    obj=obj,
                    reason="collides with the record column of the same name",
                )
            )
        else:
            candidates.append(prop)
    mapping, rejected = map_columns(
        [p["name"] for p in candidates], source=SOURCE, obj=obj, convert=False
    )
    problems += rejected
    for problem in problems:
        log.warning("%s", problem)
    properties = tuple(
        HsProperty(p["name"], str(p.get("type") or "string"))
        for p in candidates
        if p["name"] in mapping
    )
    if cursor_property(obj) not in {p.name for p in properties}:
        raise ApiError(
            f"hubspot properties {obj}: no {cursor_property(obj)} property, so the object "
            "cannot be read incrementally",
            api=SOURCE,
            method="GET",
            path=f"properties/{obj}",
        )
    return ObjectSchema(obj, properties, tuple(p.name for p in problems))


# --------------------------------------------------------------------------------------------
# Value helpers
# --------------------------------------------------------------------------------------------


def to_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime (what search filters and email events take)."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def from_ms(value: Any) -> datetime | None:
    """An epoch-ms number (or digit string) as an aware datetime, exact to the millisecond."""
    try:
        return EPOCH + timedelta(milliseconds=int(value))
    except (TypeError, ValueError, OverflowError):
        return None


def parse_hs_time(value: Any) -> datetime | None:
    """A HubSpot datetime: ISO-8601 (``...Z``) or epoch milliseconds; ``None`` if neither."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return from_ms(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------


class HubSpotSource(Source):
    """HubSpot objects and their satellites as streams; see the module docstring."""

    name = SOURCE

    def __init__(
        self,
        client: HttpClient,
        settings: HubSpotSettings | None = None,
        *,
        search_limiter: RateLimiter | None = None,
    ) -> None:
        self.client = client
        self.settings = settings or HubSpotSettings()
        unknown = sorted(set(self.settings.objects) - set(OBJECTS))
        if unknown:
            raise ConfigError(f"unknown HubSpot object(s) {unknown}; known: {list(OBJECTS)}")
        self.search_limiter = search_limiter
        self._schemas: dict[str, ObjectSchema] = {}
        self._keys: dict[str, set[Any]] = {}
        # Start of the window each object stream read in this run (None: a full pass).
        self._read_from: dict[str, datetime | None] = {}
        self._pipelines_payloads: tuple[float, list[Any]] | None = None

    def __repr__(self) -> str:
        return f"HubSpotSource(base_url={self.client.base_url!r})"

    @property
    def crm(self) -> str:
        return self.settings.api_prefix.rstrip("/")

    # -- declarations ----------------------------------------------------------------------

    def streams(self, names: Collection[str] | None = None) -> list[StreamSpec]:
        wanted = {n.lower() for n in names} if names else None

        def chosen(name: str) -> bool:
            return wanted is None or name in wanted

        s = self.settings
        self._pipelines_payloads = None  # a new run reads the pipelines again
        specs = []
        for obj in s.objects:
            if chosen(obj):
                specs.append(self.spec_for(self.schema(obj, refresh=True)))
        for name, key in (
            ("owners", ("id",)),
            ("deal_pipelines", ("id",)),
            ("deal_pipeline_stages", ("pipeline_id", "id")),
        ):
            if chosen(name):
                specs.append(
                    StreamSpec(
                        name=name,
                        resource=name,
                        primary_key=key,
                        deleted_field="archived",
                        hard_deletes=True,
                        checkpoint_pages=s.checkpoint_pages,
                    )
                )
        if chosen("email_events"):
            specs.append(
                StreamSpec(
                    name="email_events",
                    resource="email/public/v1/events",
                    cursor_field="created",
                    lookback=s.lookback,
                    checkpoint_pages=s.checkpoint_pages,
                    columns=tuple(EMAIL_EVENT_COLUMNS),
                )
            )
        return specs

    def spec_for(self, schema: ObjectSchema) -> StreamSpec:
        s = self.settings
        return StreamSpec(
            name=schema.name,
            resource=f"{self.crm}/objects/{schema.name}",
            primary_key=("id",),
            cursor_field=schema.cursor,
            deleted_field="archived",
            window=s.window,
            lookback=s.lookback,
            full_pass_every=s.full_pass_every,
            checkpoint_pages=s.checkpoint_pages,
            columns=tuple(schema.columns),
            options={"object": schema.name},
        )

    def schema(self, obj: str, *, refresh: bool = False) -> ObjectSchema:
        if refresh or obj not in self._schemas:
            payload = self.client.get_json(f"{self.crm}/properties/{obj}")
            self._schemas[obj] = parse_properties(obj, payload)
        return self._schemas[obj]

    def server_now(self) -> datetime:
        if self.client.server_now is None:  # nothing asked yet (e.g. only owners selected)
            self.client.get_json(f"{self.crm}/owners", {"limit": 1})
        return super().server_now()

    # -- reading ---------------------------------------------------------------------------

    def read(self, spec: StreamSpec, window: Window) -> Iterator[Page]:
        if spec.name == "owners":
            yield from self._owners()
        elif spec.name == "deal_pipelines":
            yield from self._pipelines(stages=False)
        elif spec.name == "deal_pipeline_stages":
            yield from self._pipelines(stages=True)
        elif spec.name == "email_events":
            yield from self._email_events(window)
        elif window.start is None:
            self._read_from[spec.name] = None
            yield from self._list_pages(self.schema(spec.name), archived=False)
        else:
            earlier = self._read_from.get(spec.name, window.start)
            self._read_from[spec.name] = None if earlier is None else min(earlier, window.start)
            yield from self._search_pages(self.schema(spec.name), window)

    def read_unwindowed(self, spec: StreamSpec) -> Iterator[Page]:
        """Archived records. After an incremental read only those archived since its window
        start (minus the lookback once more, for safety) are landed: the others were landed by
        an earlier run, and rewriting them every night (with their history and associations)
        would cost requests for nothing. A full pass lands them all."""
        if spec.name not in self.settings.objects:
            return
        start = self._read_from.pop(spec.name, None)
        since = None if start is None else start - self.settings.lookback
        yield from self._list_pages(self.schema(spec.name), archived=True, since=since)

    def keys(self, spec: StreamSpec) -> Iterable[Any]:
        if spec.name not in self._keys:  # read() of this run collects them
            for _page in self.read(spec, Window(None, None)):
                pass
        return self._keys.pop(spec.name)

    # -- objects: list ---------------------------------------------------------------------

    def _list_pages(
        self, schema: ObjectSchema, *, archived: bool, since: datetime | None = None
    ) -> Iterator[Page]:
        """Every record (archived ones only, with ``archived``) in id order, keyset paged;
        ``since`` keeps only the records archived (or modified) since then."""
        history = self._history_properties(schema)
        params: dict[str, Any] = {
            "limit": self.settings.history_page_size if history else self.settings.list_page_size,
            "properties": ",".join(schema.names),
            "archived": "true" if archived else "false",
        }
        if history:
            params["propertiesWithHistory"] = ",".join(history)
        path = f"{self.crm}/objects/{schema.name}"

        def batches() -> Iterator[list[dict[str, Any]]]:
            after: str | None = None
            while True:
                page_params = dict(params, after=after) if after else params
                payload = self.client.get_json(path, page_params)
                records = _results(payload, path)
                if since is not None:
                    records = [r for r in records if _archived_since(r, since)]
                if records or not (after or archived):  # an empty first page makes the table
                    yield records
                after = _next_after(payload)
                if not after:
                    return

        yield from self._object_pages(schema, batches(), with_history=True)

    # -- objects: search -------------------------------------------------------------------

    def _search_pages(self, schema: ObjectSchema, window: Window) -> Iterator[Page]:
        """Records modified in ``window``, sorted by ``hs_object_id`` and re-anchored on it."""
        s = self.settings
        path = f"{self.crm}/objects/{schema.name}/search"
        bounds = []
        if window.start is not None:
            bounds.append(_filter(schema.cursor, "GTE", str(to_ms(window.start))))
        if window.end is not None:
            bounds.append(_filter(schema.cursor, "LT", str(to_ms(window.end))))
        changed: list[str] = []

        def batches() -> Iterator[list[dict[str, Any]]]:
            last_id: str | None = None
            offset = 0
            while True:
                filters = list(bounds)
                if last_id is not None:
                    filters.append(_filter("hs_object_id", "GT", last_id))
                body = {
                    "filterGroups": [{"filters": filters}],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "properties": schema.names,
                    "limit": s.search_page_size,
                    "after": str(offset),
                }
                payload = self.client.post_json(path, body, limiter=self.search_limiter)
                records = _results(payload, path)
                if records:
                    changed.extend(str(r.get("id")) for r in records)
                    yield records
                if not records or not _next_after(payload):
                    return
                next_offset = offset + len(records)
                if s.search_keyset or next_offset + s.search_page_size > s.search_result_window:
                    last_id, offset = str(records[-1]["id"]), 0  # re-anchor on the last id
                else:
                    offset = next_offset

        yield from self._object_pages(schema, batches(), with_history=False)
        if self._history_properties(schema) and changed:
            yield from self._history_pages(schema, changed)

    # -- objects: rows and related tables --------------------------------------------------

    def _object_pages(
        self,
        schema: ObjectSchema,
        batches: Iterable[list[dict[str, Any]]],
        *,
        with_history: bool,
    ) -> Iterator[Page]:
        """Pages of records with their associations, read for up to ``association_batch_size``
        records at once (one batch read per target type instead of one per page). The
        associations ride on the last page of each group: object pages are not in cursor
        order, so the bookmark only moves when the whole window has landed anyway."""
        pending: list[Page] = []
        ids: list[str] = []
        for records in batches:
            page = self._object_page(schema, records, with_history=with_history)
            pending.append(page)
            ids += [row["id"] for row in page.records]
            if len(ids) >= self.settings.association_batch_size:
                pending[-1].related += self._associations(schema.name, ids)
                yield from pending
                pending, ids = [], []
        if pending:
            pending[-1].related += self._associations(schema.name, ids)
            yield from pending

    def _object_page(
        self, schema: ObjectSchema, records: list[dict[str, Any]], *, with_history: bool = True
    ) -> Page:
        """A page of records with (``with_history``: from the records' ``propertiesWithHistory``)
        their property history; :meth:`_object_pages` adds the associations."""
        rows = [self._row(schema, record) for record in records]
        related: list[Related] = []
        if with_history and self._history_properties(schema):
            history = [h for r in records for h in _history_rows(r)]
            related.append(_history_related(history))
        stamps = [parse_hs_time(row.get(schema.cursor)) for row in rows]
        return Page(
            records=rows,
            columns=schema.columns,
            max_cursor=max((t for t in stamps if t is not None), default=None),
            ordered=False,  # id order, not cursor order
            related=related,
        )

    @staticmethod
    def _row(schema: ObjectSchema, record: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(record, dict) or record.get("id") in (None, ""):
            raise ApiError(
                f"hubspot {schema.name}: a result without an id",
                api=SOURCE,
                method="GET",
                path=schema.name,
            )
        properties = record.get("properties") or {}
        row: dict[str, Any] = {
            "id": str(record["id"]),
            "created_at": record.get("createdAt"),
            "updated_at": record.get("updatedAt"),
            "archived": bool(record.get("archived", False)),
            "archived_at": record.get("archivedAt"),
        }
        for name in schema.names:
            value = properties.get(name)
            row[name] = value if value is None or isinstance(value, str) else str(value)
        return row

    def _history_properties(self, schema: ObjectSchema) -> list[str]:
        if schema.name != "deals":
            return []
        return [p for p in self.settings.history_properties if p in schema.names]

    def _history_pages(self, schema: ObjectSchema, ids: list[str]) -> Iterator[Page]:
        """Property history of the deals a search window found, as pages of related rows: one
        batch read per ``history_page_size`` deals (the list endpoint cannot filter by id, and
        one read per deal made a night with 2,000 changed deals cost 2,000 requests, four
        minutes at the rate limit). Deals archived since are not found (207): the archived
        pass reads them."""
        history = self._history_properties(schema)
        path = f"{self.crm}/objects/{schema.name}/batch/read"
        size = self.settings.history_page_size
        for start in range(0, len(ids), size):
            body = {
                "inputs": [{"id": record_id} for record_id in ids[start : start + size]],
                "properties": ["hs_object_id"],
                "propertiesWithHistory": history,
            }
            records = _results(self.client.post_json(path, body), path)
            rows = [h for record in records for h in _history_rows(record)]
            yield Page([], schema.columns, ordered=False, related=[_history_related(rows)])

    def _associations(self, obj: str, ids: list[str]) -> list[Related]:
        """The complete association lists of ``ids`` for every configured target type."""
        related = []
        for from_obj, to_obj in self.settings.associations:
            if from_obj != obj:
                continue
            rows: list[dict[str, Any]] = []
            size = self.settings.association_batch_size
            for start in range(0, len(ids), size):
                rows += self._batch_associations(from_obj, to_obj, ids[start : start + size])
            related.append(
                Related(
                    f"{from_obj}_{to_obj}_associations",
                    rows,
                    ASSOCIATION_COLUMNS,
                    ASSOCIATION_KEY,
                    parent_column="from_id",
                    parents=ids,
                )
            )
        return related

    def _batch_associations(self, from_obj: str, to_obj: str, ids: list[str]) -> list[dict]:
        if not ids:
            return []
        path = f"/crm/v4/associations/{from_obj}/{to_obj}/batch/read"
        payload = self.client.post_json(path, {"inputs": [{"id": i} for i in ids]})
        asked = set(ids)
        rows = []
        for result in (payload or {}).get("results") or []:
            from_id = str((result.get("from") or {}).get("id", ""))
            if from_id not in asked:
                continue
            for target in result.get("to") or []:
                to_id = _text(target.get("toObjectId"))
                for kind in target.get("associationTypes") or []:
                    rows.append(
                        {
                            "from_id": from_id,
                            "to_id": to_id,
                            "association_type_id": kind.get("typeId"),
                            "association_category": _text(kind.get("category")),
                        }
                    )
        # Ids without associations come back as errors (HTTP 207): nothing to land for them.
        return rows

    # -- owners and pipelines --------------------------------------------------------------

    def _owners(self) -> Iterator[Page]:
        keys = self._keys["owners"] = set()
        for archived in (False, True):
            after: str | None = None
            while True:
                params: dict[str, Any] = {
                    "limit": self.settings.owners_page_size,
                    "archived": "true" if archived else "false",
                }
                if after:
                    params["after"] = after
                path = f"{self.crm}/owners"
                payload = self.client.get_json(path, params)
                rows = [_owner_row(o) for o in _results(payload, path)]
                keys.update(row["id"] for row in rows)
                yield Page(rows, OWNER_COLUMNS, ordered=False)
                after = _next_after(payload)
                if not after:
                    break

    def _pipelines(self, *, stages: bool) -> Iterator[Page]:
        name = "deal_pipeline_stages" if stages else "deal_pipelines"
        keys = self._keys[name] = set()
        for archived, payload in zip((False, True), self._pipeline_payloads(), strict=True):
            path = f"{self.crm}/pipelines/deals"
            rows = []
            for pipeline in _results(payload, path):
                if stages:
                    rows += [
                        _stage_row(pipeline, stage, archived)
                        for stage in pipeline.get("stages") or []
                    ]
                else:
                    rows.append(_pipeline_row(pipeline, archived))
            if stages:
                keys.update((r["pipeline_id"], r["id"]) for r in rows)
            else:
                keys.update(r["id"] for r in rows)
            yield Page(rows, STAGE_COLUMNS if stages else PIPELINE_COLUMNS, ordered=False)

    def _pipeline_payloads(self) -> list[Any]:
        """Active and archived deal pipelines; the two pipeline streams of a run share one
        read (used twice at most, within a minute, and never by the next run)."""
        cached = self._pipelines_payloads
        if cached is not None and time.monotonic() - cached[0] < 60:
            self._pipelines_payloads = None
            return cached[1]
        path = f"{self.crm}/pipelines/deals"
        payloads = [self.client.get_json(path, {"archived": a}) for a in ("false", "true")]
        self._pipelines_payloads = (time.monotonic(), payloads)
        return payloads

    # -- email events ----------------------------------------------------------------------

    def _email_events(self, window: Window) -> Iterator[Page]:
        """Events with ``start <= created < end`` in (created, id) order, offset-token paged."""
        start = window.start or self.settings.email_events_start
        params: dict[str, Any] = {"limit": self.settings.email_events_page_size}
        if start is not None:
            params["startTimestamp"] = to_ms(start)
        if window.end is not None:
            params["endTimestamp"] = to_ms(window.end) - 1  # the API's end is inclusive
        path = "/email/public/v1/events"
        while True:
            payload = self.client.get_json(path, params)
            events = payload.get("events") if isinstance(payload, dict) else None
            if not isinstance(events, list):
                raise ApiError(
                    "hubspot email events: the response has no events list",
                    api=SOURCE,
                    method="GET",
                    path=path,
                )
            rows = [_event_row(e) for e in events if isinstance(e, dict)]
            stamps = [row["created"] for row in rows if isinstance(row["created"], datetime)]
            yield Page(rows, EMAIL_EVENT_COLUMNS, max_cursor=max(stamps, default=None))
            if not payload.get("hasMore") or not payload.get("offset"):
                return
            params = dict(params, offset=payload["offset"])


# --------------------------------------------------------------------------------------------
# Row builders and wire helpers
# --------------------------------------------------------------------------------------------


def _archived_since(record: Mapping[str, Any], since: datetime) -> bool:
    stamp = parse_hs_time(record.get("archivedAt")) or parse_hs_time(record.get("updatedAt"))
    return stamp is None or stamp >= since


def _filter(name: str, operator: str, value: str) -> dict[str, str]:
    return {"propertyName": name, "operator": operator, "value": value}


def _results(payload: Any, path: str) -> list[dict[str, Any]]:
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list):
        raise ApiError(
            f"hubspot {path}: the response has no results list",
            api=SOURCE,
            method="GET",
            path=path,
        )
    return [r for r in results if isinstance(r, dict)]


def _next_after(payload: Any) -> str | None:
    """The paging cursor to send back. ``paging.next.link`` is never followed (its host may be
    wrong behind a proxy); only ``after`` is echoed, as the opaque token it is."""
    paging = payload.get("paging") if isinstance(payload, dict) else None
    nxt = paging.get("next") if isinstance(paging, dict) else None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    return str(after) if after not in (None, "") else None


def _history_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    deal_id = str(record.get("id"))
    rows = []
    for prop, versions in (record.get("propertiesWithHistory") or {}).items():
        for version in versions or []:
            rows.append(
                {
                    "deal_id": deal_id,
                    "property": prop,
                    "value": _text(version.get("value")),
                    "timestamp": version.get("timestamp"),
                    "source_type": _text(version.get("sourceType")),
                }
            )
    return rows


def _history_related(rows: list[dict[str, Any]]) -> Related:
    return Related(HISTORY_TABLE, rows, HISTORY_COLUMNS, HISTORY_KEY)


def _owner_row(owner: Mapping[str, Any]) -> dict[str, Any]:
    teams = owner.get("teams") or []
    primary = next((t for t in teams if isinstance(t, dict) and t.get("primary")), None)
    return {
        "id": _text(owner.get("id")),
        "email": owner.get("email"),
        "first_name": owner.get("firstName"),
        "last_name": owner.get("lastName"),
        "user_id": _text(owner.get("userId")),
        "type": owner.get("type"),
        "archived": bool(owner.get("archived", False)),
        "created_at": owner.get("createdAt"),
        "updated_at": owner.get("updatedAt"),
        "teams": teams,
        "primary_team_id": _text(primary.get("id")) if primary else None,
        "primary_team_name": _text(primary.get("name")) if primary else None,
    }


def _pipeline_row(pipeline: Mapping[str, Any], archived: bool) -> dict[str, Any]:
    return {
        "id": _text(pipeline.get("id")),
        "label": pipeline.get("label"),
        "display_order": pipeline.get("displayOrder"),
        "archived": bool(pipeline.get("archived", archived)),
    }


def _stage_row(
    pipeline: Mapping[str, Any], stage: Mapping[str, Any], archived: bool
) -> dict[str, Any]:
    metadata = stage.get("metadata") or {}
    return {
        "pipeline_id": _text(pipeline.get("id")),
        "id": _text(stage.get("id")),
        "label": stage.get("label"),
        "display_order": stage.get("displayOrder"),
        "is_closed": _text(metadata.get("isClosed")),  # "true"/"false", cast by the destination
        "probability": _text(metadata.get("probability")),
        "archived": bool(stage.get("archived", False)) or archived,
    }


def _event_row(event: Mapping[str, Any]) -> dict[str, Any]:
    created = from_ms(event.get("created"))
    return {
        "id": _text(event.get("id")),
        "type": event.get("type"),
        "created": created if created is not None else _text(event.get("created")),
        "recipient": event.get("recipient"),
        "email_campaign_id": _text(event.get("emailCampaignId")),
        "portal_id": _text(event.get("portalId")),
    }


# --------------------------------------------------------------------------------------------
# Construction
# --------------------------------------------------------------------------------------------


def base_url_from_env(env: Mapping[str, str], name: str, default: str) -> str:
    """A base URL variable, checked for a scheme and host (ConfigError naming it otherwise)."""
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}={value!r} must be an http(s) URL such as {default}")
    return value.rstrip("/")


def from_env(
    env: Mapping[str, str] | None = None,
    *,
    rate_limits: RateLimits | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **overrides: Any,
) -> HubSpotSource:
    """The source configured by CONFIG.md's ``HUBSPOT_*`` variables, read now.

    ``overrides`` replace :class:`HubSpotSettings` fields (tests, tuning).
    """
    env = os.environ if env is None else env
    limits = rate_limits or RateLimits()
    client = HttpClient(
        hubspot_profile(),
        base_url=base_url_from_env(env, "HUBSPOT_BASE_URL", DEFAULT_BASE_URL),
        auth=BearerToken.hubspot_from_env(env),
        rate_limiter=limits.bucket("hubspot", sleep=sleep),
        sleep=sleep,
    )
    return HubSpotSource(
        client,
        HubSpotSettings(**overrides),
        search_limiter=limits.bucket("hubspot_search", sleep=sleep),
    )
