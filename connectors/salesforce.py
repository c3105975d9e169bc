"""Salesforce: every sales-ops object as a stream, over REST (SOQL) and Bulk API 2.0.

What a run does per object (wire formats: shared reference, section 1):

* **describe** every run: the field list and types come from the org, so a new custom field
  becomes a new column (schema drift). Compound parents (``BillingAddress``) are skipped, their
  components are loaded. A field whose name cannot be a safe column is left out of the query
  with a warning naming it; it is never put into SQL or SOQL.
* **incremental** on ``SystemModstamp`` (else ``LastModifiedDate``, else ``CreatedDate``, e.g.
  ``OpportunityFieldHistory``): ``cursor >= start AND cursor < end ORDER BY cursor, Id`` over
  half-open windows ending at the API server's clock, with a lookback (default 10 minutes); the
  runner in :mod:`connectors.streams` keeps the bookmark ``min(stream start, max seen)``.
* **deletes**: objects with ``IsDeleted`` are read with ``queryAll``, so a deletion (which bumps
  ``SystemModstamp``) arrives in its window as a row with ``IsDeleted = true`` and sets
  ``_is_deleted``; archived Task/Event rows come the same way. The Territory2 family deletes
  without a recycle bin, so those objects are reconciled against their full id list.
* **formula fields** change without bumping ``SystemModstamp``: objects that have them get a
  full pass every ``formula_refresh_every`` (default 7 days).
* **large initial loads** (a full pass of more than ``bulk_threshold`` rows, counted with
  ``SELECT COUNT()``) go through a Bulk API 2.0 query job instead of REST paging.
* **wide objects**: when the query URL would exceed ``max_url_length`` (~16 KB), the field list
  is split; the first query drives paging and the other chunks are fetched per page with
  ``Id IN (...)`` and merged on ``Id``.
* **errors**: ``INVALID_QUERY_LOCATOR`` restarts the window from its last checkpoint;
  ``INVALID_FIELD`` re-describes the object and retries once; a used-up daily allocation stops
  the run (:func:`connectors.http.classify_salesforce`).

Values are passed on as the API sends them (JSON numbers, booleans, ``2024-05-20T20:49:32.000+0000``
datetimes) with their declared warehouse type; the destination casts them and quarantines a
record whose value does not fit, with the field and value in the reason.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from connectors.auth import SalesforceOAuth
from connectors.http import ApiError, HttpClient, salesforce_profile
from connectors.naming import map_columns, table_name
from connectors.streams import (
    CHECKPOINT_CELLS,
    Page,
    RestartWindow,
    Source,
    StreamSpec,
    Window,
)
from salesops.config import ConfigError

log = logging.getLogger(__name__)

SOURCE = "salesforce"

# The sales-ops objects (docs/raw-layer.md); a real org has hundreds more.
OBJECTS = (
    "UserRole",
    "User",
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "OpportunityStage",
    "OpportunityHistory",
    "OpportunityFieldHistory",
    "Task",
    "Event",
    "Campaign",
    "CampaignMember",
    "Period",
    "ForecastingQuota",
    "Territory2",
    "UserTerritory2Association",
    "ObjectTerritory2Association",
    "CurrencyType",
    "DatedConversionRate",
)
# Deleted without a trace (no recycle bin): only a full id list shows what is gone.
HARD_DELETE_OBJECTS = frozenset(
    {"Territory2", "UserTerritory2Association", "ObjectTerritory2Association"}
)
CURSOR_PRECEDENCE = ("SystemModstamp", "LastModifiedDate", "CreatedDate")

# Describe type -> warehouse type (shared reference 1.6); anything else lands as VARCHAR.
WAREHOUSE_TYPES = {
    "double": "DOUBLE",
    "currency": "DOUBLE",
    "percent": "DOUBLE",
    "int": "INTEGER",
    "long": "BIGINT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "address": "JSON",
    "location": "JSON",
}
COMPOUND_TYPES = frozenset({"address", "location"})  # Bulk API 2.0 rejects them
_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
_API_VERSION = re.compile(r"^\d{2,3}\.\d$")
# A Salesforce id as it appears in an IN list after URL encoding: 'id', -> %27...%27%2C
_ENCODED_ID_LENGTH = 18 + 9


@dataclass(frozen=True)
class SalesforceSettings:
    """Tunables of the Salesforce source. ``None`` turns a feature off."""

    api_version: str = "59.0"
    objects: tuple[str, ...] = OBJECTS
    lookback: timedelta = timedelta(minutes=10)
    # No slicing by default: rows arrive in cursor order and are checkpointed every few pages,
    # so a crash or an expired locator resumes mid-window anyway, while fixed slices would cost
    # one query per slice from an old bookmark of a quiet object (UserRole) to now, every run.
    window: timedelta | None = None
    # 25 pages of 2,000: a batch of 50,000 rows. Each batch's upsert scans the stream's tables
    # once, so fewer, larger batches keep a large initial load linear; memory stays bounded.
    checkpoint_pages: int = 25
    page_size: int = 2000
    formula_refresh_every: timedelta | None = timedelta(days=7)
    bulk_threshold: int | None = 200_000
    bulk_chunk_rows: int = 50_000  # rows per results request: one batch, parsed by Arrow
    checkpoint_cells: int = CHECKPOINT_CELLS  # and at most this many values per batch or chunk
    bulk_poll_seconds: tuple[float, float] = (0.5, 2.0)
    max_url_length: int = 16_000


# --------------------------------------------------------------------------------------------
# Describe
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SfField:
    """A loadable field: its API name, column name, describe type and warehouse type."""

    api_name: str
    column: str
    sf_type: str
    calculated: bool = False

    @property
    def warehouse_type(self) -> str:
        return WAREHOUSE_TYPES.get(self.sf_type, "VARCHAR")


@dataclass(frozen=True)
class ObjectSchema:
    """What describe said about an object, reduced to what the connector needs."""

    name: str
    fields: tuple[SfField, ...]
    rejected: tuple[str, ...] = ()

    @property
    def field_names(self) -> set[str]:
        return {f.api_name for f in self.fields}

    @property
    def cursor(self) -> SfField | None:
        by_name = {f.api_name: f for f in self.fields}
        return next((by_name[n] for n in CURSOR_PRECEDENCE if n in by_name), None)

    @property
    def has_is_deleted(self) -> bool:
        return "IsDeleted" in self.field_names

    @property
    def query_all(self) -> bool:
        """queryAll also returns deleted and archived rows, which ``query`` hides."""
        return bool(self.field_names & {"IsDeleted", "IsArchived"})

    @property
    def has_formulas(self) -> bool:
        return any(f.calculated for f in self.fields)

    @property
    def columns(self) -> dict[str, str]:
        return {f.column: f.warehouse_type for f in self.fields}


def parse_describe(name: str, payload: Mapping[str, Any]) -> ObjectSchema:
    """Loadable fields of a describe response: no compound parents, no unsafe names."""
    described = [f for f in payload.get("fields", []) if isinstance(f, dict) and f.get("name")]
    parents = {f.get("compoundFieldName") for f in described if f.get("compoundFieldName")}
    loadable = [f for f in described if f["name"] not in parents]
    mapping, rejected = map_columns([f["name"] for f in loadable], source=SOURCE, obj=name)
    for problem in rejected:
        log.warning("%s", problem)
    fields = tuple(
        SfField(f["name"], mapping[f["name"]], str(f.get("type", "")), bool(f.get("calculated")))
        for f in loadable
        if f["name"] in mapping
    )
    if "Id" not in {f.api_name for f in fields}:
        raise ApiError(
            f"salesforce describe {name}: no Id field", api=SOURCE, method="GET", path=name
        )
    return ObjectSchema(name, fields, tuple(p.name for p in rejected))


# --------------------------------------------------------------------------------------------
# SOQL
# --------------------------------------------------------------------------------------------


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal in whole seconds with ``Z`` (a ``+`` would need URL care)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_filter(schema: ObjectSchema, window: Window) -> str:
    """`` WHERE cursor >= start AND cursor < end`` (empty when the window is unbounded)."""
    cursor = schema.cursor
    bounds = []
    if cursor is not None and window.start is not None:
        bounds.append(f"{cursor.api_name} >= {soql_datetime(window.start)}")
    if cursor is not None and window.end is not None:
        bounds.append(f"{cursor.api_name} < {soql_datetime(window.end)}")
    return " WHERE " + " AND ".join(bounds) if bounds else ""


def window_query(schema: ObjectSchema, fields: Iterable[str], window: Window) -> str:
    """``SELECT ... WHERE cursor >= start AND cursor < end ORDER BY cursor, Id``."""
    order = f"{schema.cursor.api_name}, Id" if schema.cursor else "Id"
    select = f"SELECT {', '.join(fields)} FROM {schema.name}"
    return f"{select}{window_filter(schema, window)} ORDER BY {order}"


def id_list_query(schema: ObjectSchema, fields: Iterable[str], ids: Iterable[str]) -> str:
    """Fields of records by id. Ids come from the API, so they are checked before use."""
    checked = []
    for value in ids:
        if not isinstance(value, str) or not _SALESFORCE_ID.fullmatch(value):
            raise ValueError(f"salesforce {schema.name}: {value!r} is not a Salesforce id")
        checked.append(f"'{value}'")
    return f"SELECT {', '.join(fields)} FROM {schema.name} WHERE Id IN ({', '.join(checked)})"


def split_fields(
    schema: ObjectSchema, leading: list[str], budget: int
) -> tuple[list[str], list[list[str]]]:
    """Split the field list so each SELECT list stays within ``budget`` URL-encoded characters.

    The first chunk starts with ``leading`` (Id, cursor, IsDeleted: what paging and merging
    need); every other chunk starts with Id and the cursor so it can be matched to its record.
    """
    cursor = schema.cursor
    key = ["Id"] + ([cursor.api_name] if cursor else [])
    rest = [f.api_name for f in schema.fields if f.api_name not in leading]
    chunks: list[list[str]] = [list(leading)]
    for name in rest:
        if _encoded_length([*chunks[-1], name]) <= budget:
            chunks[-1].append(name)
        else:
            chunks.append([*key, name])
    return chunks[0], chunks[1:]


def _encoded_length(fields: list[str]) -> int:
    return len(quote_plus(", ".join(fields)))


def any_text(value: Any) -> str | None:
    """An ``anyType`` value (field history) as text, numbers the way the API prints them."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def parse_sf_datetime(value: Any) -> datetime | None:
    """``2024-05-20T20:49:32.000+0000`` (REST) or ``...Z`` (Bulk); ``None`` if unparseable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------


class SalesforceSource(Source):
    """Salesforce objects as streams; see the module docstring."""

    name = SOURCE

    def __init__(
        self,
        client: HttpClient,
        settings: SalesforceSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.settings = settings or SalesforceSettings()
        if not _API_VERSION.fullmatch(self.settings.api_version):
            raise ConfigError(
                f"SALESFORCE_API_VERSION={self.settings.api_version!r} must look like 59.0"
            )
        self._sleep = sleep
        self._schemas: dict[str, ObjectSchema] = {}

    def __repr__(self) -> str:
        return f"SalesforceSource(api_version={self.settings.api_version!r})"

    @property
    def api(self) -> str:
        return f"/services/data/v{self.settings.api_version}"

    # -- declarations ----------------------------------------------------------------------

    def streams(self, names: Collection[str] | None = None) -> list[StreamSpec]:
        objects = self._selected_objects(names)
        if not objects:
            return []
        available = self._queryable_objects()
        specs = []
        for obj in objects:
            if obj not in available:
                log.warning("salesforce: %s is not queryable in this org; skipped", obj)
                continue
            specs.append(self.spec_for(self.describe(obj, refresh=True)))
        return specs

    def spec_for(self, schema: ObjectSchema) -> StreamSpec:
        """The stream declaration of an object, from its describe."""
        s = self.settings
        cursor = schema.cursor
        return StreamSpec(
            name=table_name(schema.name, source=SOURCE),
            resource=schema.name,
            primary_key=("id",),
            cursor_field=cursor.column if cursor else None,
            deleted_field="is_deleted" if schema.has_is_deleted else None,
            hard_deletes=schema.name in HARD_DELETE_OBJECTS,
            window=s.window,
            lookback=s.lookback,
            full_pass_every=s.formula_refresh_every if schema.has_formulas else None,
            checkpoint_pages=s.checkpoint_pages,
            checkpoint_cells=s.checkpoint_cells,
            columns=tuple(schema.columns),
        )

    def _selected_objects(self, names: Collection[str] | None) -> list[str]:
        if not names:
            return list(self.settings.objects)
        wanted = {n.lower() for n in names}
        return [
            obj
            for obj in self.settings.objects
            if obj.lower() in wanted or table_name(obj, source=SOURCE) in wanted
        ]

    def _queryable_objects(self) -> set[str]:
        payload = self.client.get_json(f"{self.api}/sobjects")
        return {
            o["name"]
            for o in payload.get("sobjects", [])
            if isinstance(o, dict) and o.get("queryable") and o.get("name")
        }

    def describe(self, obj: str, *, refresh: bool = False) -> ObjectSchema:
        if refresh or obj not in self._schemas:
            payload = self.client.get_json(f"{self.api}/sobjects/{obj}/describe")
            self._schemas[obj] = parse_describe(obj, payload)
        return self._schemas[obj]

    # -- reading ---------------------------------------------------------------------------

    def read(self, spec: StreamSpec, window: Window) -> Iterator[Page]:
        schema = self.describe(spec.resource)
        job = self._bulk_job(schema, window) if window.start is None else None
        if job is None:
            yield from self._rest_pages(spec.resource, window)
            return
        try:
            self._await_bulk_job(job)
            yield from self._bulk_results(schema, job)
        finally:
            self._delete_bulk_job(job)

    def keys(self, spec: StreamSpec) -> Iterator[str]:
        schema = self.describe(spec.resource)
        # ``query`` (not queryAll): records in the recycle bin are deleted already.
        for records in self._query_pages(f"SELECT Id FROM {schema.name} ORDER BY Id", False):
            for record in records:
                yield record["Id"]

    def _rest_pages(self, obj: str, window: Window) -> Iterator[Page]:
        schema, other_chunks, pages = self._open_query(obj, window)
        cursor = schema.cursor
        for records in pages:
            if other_chunks:
                records = self._complete(schema, records, other_chunks)
            yield Page(
                records=_rows(schema.fields, records),
                columns=schema.columns,
                max_cursor=self._max_cursor(records, cursor.api_name if cursor else None),
                ordered=cursor is not None,
            )

    def _open_query(
        self, obj: str, window: Window
    ) -> tuple[ObjectSchema, list[list[str]], Iterator[list[dict[str, Any]]]]:
        """Start the window's query; after ``INVALID_FIELD`` (a field was removed) re-describe
        and try once more with the new field list."""
        for attempt in (1, 2):
            schema = self.describe(obj, refresh=attempt > 1)
            first_chunk, other_chunks = self._chunks(schema, window)
            pages = self._query_pages(window_query(schema, first_chunk, window), schema.query_all)
            try:
                first = next(pages, [])
            except ApiError as exc:
                if exc.error_code != "INVALID_FIELD" or attempt > 1:
                    raise
                log.warning("salesforce %s: %s; describing again", obj, exc)
                continue
            return schema, other_chunks, _prepend(first, pages)
        raise AssertionError("unreachable")

    def _query_pages(self, soql: str, query_all: bool) -> Iterator[list[dict[str, Any]]]:
        """Records page by page, following ``nextRecordsUrl``."""
        endpoint = "queryAll" if query_all else "query"
        headers = {"Sforce-Query-Options": f"batchSize={self.settings.page_size}"}
        payload = self.client.get_json(f"{self.api}/{endpoint}", {"q": soql}, headers=headers)
        while True:
            yield _records(payload)
            next_url = payload.get("nextRecordsUrl")
            if payload.get("done", True) or not next_url:
                return
            try:
                payload = self.client.get_json(next_url, headers=headers)
            except ApiError as exc:
                if exc.error_code == "INVALID_QUERY_LOCATOR":
                    raise RestartWindow(str(exc)) from exc
                raise

    def _chunks(self, schema: ObjectSchema, window: Window) -> tuple[list[str], list[list[str]]]:
        leading = ["Id"]
        if schema.cursor:
            leading.append(schema.cursor.api_name)
        if schema.has_is_deleted:
            leading.append("IsDeleted")
        everything = leading + [f.api_name for f in schema.fields if f.api_name not in leading]
        overhead = len(self._query_url(window_query(schema, [], window), schema.query_all))
        budget = self.settings.max_url_length - overhead
        if _encoded_length(everything) <= budget:
            return everything, []
        return split_fields(schema, leading, min(budget, self.settings.max_url_length // 2))

    def _query_url(self, soql: str, query_all: bool) -> str:
        base = self.client.base_url or ""
        endpoint = "queryAll" if query_all else "query"
        return f"{base}{self.api}/{endpoint}?q={quote_plus(soql)}"

    def _complete(
        self, schema: ObjectSchema, records: list[dict[str, Any]], chunks: list[list[str]]
    ) -> list[dict[str, Any]]:
        """Add the other field chunks to a page of records, matched on Id.

        A record missing from a chunk was deleted in between; one whose cursor moved was
        changed in between. Both are dropped here: their new version is newer than this run's
        window end, so the next run reads them whole.
        """
        merged = {record["Id"]: dict(record) for record in records}
        cursor = schema.cursor.api_name if schema.cursor else None
        for chunk in chunks:
            found: set[str] = set()
            for batch in self._id_batches(schema, chunk, list(merged)):
                soql = id_list_query(schema, chunk, batch)
                for page in self._query_pages(soql, schema.query_all):
                    for extra in page:
                        base = merged.get(extra["Id"])
                        if base is None or (cursor and extra.get(cursor) != base.get(cursor)):
                            continue
                        base.update(extra)
                        found.add(extra["Id"])
            for dropped in set(merged) - found:
                log.info("salesforce %s %s changed while reading; next run", schema.name, dropped)
                del merged[dropped]
        return [merged[r["Id"]] for r in records if r["Id"] in merged]

    def _id_batches(
        self, schema: ObjectSchema, fields: list[str], ids: list[str]
    ) -> Iterator[list[str]]:
        overhead = len(self._query_url(id_list_query(schema, fields, []), schema.query_all))
        size = max(1, (self.settings.max_url_length - overhead) // _ENCODED_ID_LENGTH)
        size = min(size, self.settings.page_size)
        for start in range(0, len(ids), size):
            yield ids[start : start + size]

    @staticmethod
    def _max_cursor(records: Iterable[Mapping[str, Any]], cursor: str | None) -> datetime | None:
        if cursor is None:
            return None
        stamps = [parse_sf_datetime(r.get(cursor)) for r in records]
        return max((s for s in stamps if s is not None), default=None)

    # -- Bulk API 2.0 ----------------------------------------------------------------------

    def _bulk_job(self, schema: ObjectSchema, window: Window) -> str | None:
        """A Bulk API 2.0 query job when the read is larger than ``bulk_threshold`` rows;
        ``None`` means read over REST (small, or an object Bulk does not support)."""
        threshold = self.settings.bulk_threshold
        if threshold is None:
            return None
        count = self.count(schema, window)
        log.info("salesforce %s: %d rows to read", schema.name, count)
        if count <= threshold:
            return None
        fields = ", ".join(f.api_name for f in _bulk_fields(schema))
        # No ORDER BY: Bulk results come in chunks whose order is not guaranteed anyway, so
        # these pages are marked unordered and the bookmark moves only when the job has landed.
        soql = f"SELECT {fields} FROM {schema.name}{window_filter(schema, window)}"
        try:
            return self._create_bulk_job(soql, schema.query_all)
        except ApiError as exc:
            if exc.status != 400:
                raise
            log.warning("salesforce %s: Bulk API refused (%s); reading over REST", schema.name, exc)
            return None

    def count(self, schema: ObjectSchema, window: Window) -> int:
        """Rows in ``window`` (deleted ones included where they are read)."""
        soql = f"SELECT COUNT() FROM {schema.name}{window_filter(schema, window)}"
        endpoint = "queryAll" if schema.query_all else "query"
        payload = self.client.get_json(f"{self.api}/{endpoint}", {"q": soql})
        return int(payload.get("totalSize", 0))

    def _create_bulk_job(self, soql: str, query_all: bool) -> str:
        body = {
            "operation": "queryAll" if query_all else "query",
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        return str(self.client.post_json(f"{self.api}/jobs/query", body)["id"])

    def _await_bulk_job(self, job: str) -> None:
        delay, longest = self.settings.bulk_poll_seconds
        while True:
            info = self.client.get_json(f"{self.api}/jobs/query/{job}")
            state = info.get("state")
            if state == "JobComplete":
                return
            if state in ("Failed", "Aborted"):
                raise ApiError(
                    f"salesforce bulk job {job} {state}: {info.get('errorMessage', '')}",
                    api=SOURCE,
                    method="GET",
                    path=f"{self.api}/jobs/query/{job}",
                )
            self._sleep(delay)
            delay = min(delay * 2, longest)

    def _bulk_results(self, schema: ObjectSchema, job: str) -> Iterator[Page]:
        locator: str | None = None
        cursor = schema.cursor
        fields = _bulk_fields(schema)
        columns = {f.column: f.warehouse_type for f in fields}
        chunk_rows = bulk_chunk_rows(self.settings, len(fields))
        while True:
            params: dict[str, Any] = {"maxRecords": chunk_rows}
            if locator:
                params["locator"] = locator
            try:
                response = self.client.request(
                    "GET", f"{self.api}/jobs/query/{job}/results", params=params
                )
            except ApiError as exc:
                if exc.status == 404:  # the job is gone (expired): read the window again
                    raise RestartWindow(str(exc)) from exc
                raise
            try:
                table = _csv_table(response.content, fields)
            except pa.ArrowInvalid as exc:
                raise RestartWindow(
                    f"bulk job {job}: the results are not valid CSV: {exc}"
                ) from exc
            announced = response.headers.get("Sforce-NumberOfRecords")
            if announced is None or int(announced) != table.num_rows:
                raise RestartWindow(
                    f"bulk job {job}: {table.num_rows} rows parsed, {announced} announced"
                )
            yield Page(
                records=table,
                columns=columns,
                max_cursor=_max_text_cursor(table, cursor.column if cursor else None),
                ordered=False,
            )
            locator = response.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                return

    def _delete_bulk_job(self, job: str) -> None:
        try:
            self.client.request("DELETE", f"{self.api}/jobs/query/{job}")
        except (ApiError, OSError) as exc:  # the job expires by itself; not worth failing for
            log.info("salesforce bulk job %s not deleted: %s", job, exc)


# --------------------------------------------------------------------------------------------
# Helpers and construction
# --------------------------------------------------------------------------------------------


def _rows(fields: Sequence[SfField], records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Records under their column names, ``anyType`` values as text."""
    columns = [f.column for f in fields]
    api_names = [f.api_name for f in fields]
    rows = [dict(zip(columns, map(record.get, api_names), strict=True)) for record in records]
    for column in [f.column for f in fields if f.sf_type == "anyType"]:
        for row in rows:
            row[column] = any_text(row[column])
    return rows


def _bulk_fields(schema: ObjectSchema) -> tuple[SfField, ...]:
    """Bulk API 2.0 rejects compound fields (address, location)."""
    return tuple(f for f in schema.fields if f.sf_type not in COMPOUND_TYPES)


def _records(payload: Any) -> list[dict[str, Any]]:
    """The page's records as the API sent them (with ``attributes``, which :func:`_rows`
    leaves out)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        raise ApiError(
            "salesforce query: the response has no records list",
            api=SOURCE,
            method="GET",
            path="query",
        )
    return [r for r in payload["records"] if isinstance(r, dict)]


def bulk_chunk_rows(settings: SalesforceSettings, field_count: int) -> int:
    """Rows per Bulk results request: one chunk is one batch, so a wide object gets fewer."""
    return max(1, min(settings.bulk_chunk_rows, settings.checkpoint_cells // max(field_count, 1)))


def _csv_table(content: bytes, fields: Sequence[SfField]) -> pa.Table:
    """Bulk CSV results as text columns under their column names; an empty field is null (CSV
    cannot tell it from ""). Parsed by Arrow in C++: a Bulk page never becomes Python objects."""
    names = [f.api_name for f in fields]
    # A page is tens of MB: copy it only to drop NUL bytes, and let Arrow read it in place.
    body = content.replace(b"\x00", b"") if b"\x00" in content else content
    if not body or body.isspace():
        return pa.table({f.column: pa.array([], pa.string()) for f in fields})
    table = pacsv.read_csv(
        pa.BufferReader(body),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            include_columns=names,
            include_missing_columns=True,
        ),
    )
    return table.rename_columns([f.column for f in fields])


def _max_text_cursor(table: pa.Table, column: str | None) -> datetime | None:
    if column is None or table.num_rows == 0:
        return None
    stamps = (parse_sf_datetime(v) for v in pc.unique(table.column(column)).to_pylist())
    return max((s for s in stamps if s is not None), default=None)


def _prepend(first: list[dict[str, Any]], rest: Iterator[list[dict[str, Any]]]):
    yield first
    yield from rest


def from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> SalesforceSource:
    """The source configured by CONFIG.md's ``SALESFORCE_*`` variables, read now.

    ``overrides`` replace :class:`SalesforceSettings` fields (tests, tuning).
    """
    env = os.environ if env is None else env
    auth = SalesforceOAuth.from_env(env)
    version = env.get("SALESFORCE_API_VERSION", "").strip() or "59.0"
    settings = SalesforceSettings(api_version=version, **overrides)
    return SalesforceSource(HttpClient(salesforce_profile(), auth=auth), settings)
