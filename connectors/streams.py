"""Streams declared as data, and the one incremental runner every source uses.

A source says *what* to extract with :class:`StreamSpec` values and *how to fetch one window of
one stream* by implementing :meth:`Source.read`. Everything else is done here, the same way for
Salesforce, HubSpot and Google Ads:

* **plan**: start at the bookmark minus the lookback, or from the beginning on the first run, on
  ``--full-refresh`` and when a periodic full pass is due; stop at the API server's clock taken
  when the stream starts (never the local clock);
* **slices**: half-open windows ``[start, end)`` of ``spec.window``;
* **checkpoints**: every ``spec.checkpoint_pages`` pages (or ``spec.checkpoint_rows`` records,
  ``spec.checkpoint_cells`` values or ``spec.checkpoint_bytes`` bytes of Arrow data, whichever
  comes first: memory is bounded for narrow, wide and long-valued objects alike; a page over
  the byte budget lands in slices) the records and the new state land in one
  destination transaction, so a crash at any instant resumes from the last checkpoint and
  the rerun re-fetches exactly what is missing (rewrites are idempotent in the destination);
* **a pipeline of three threads**: one fetches pages and makes each an Arrow table (dicts
  would take about eight times the memory); one groups them into batches and casts and hashes
  each batch (:meth:`~connectors.destinations.base.Sync.prepare`); the runner's own thread
  lands them. So the API's time and the cast of the next batch both overlap the landing of
  the previous one; at most two pages and one prepared batch wait in between;
* **restarts**: a window whose paging cursor expired (:class:`RestartWindow`) is read again from
  its last checkpoint;
* **related rows** (:class:`Related`, e.g. associations) land with their page; rows their
  parents no longer have are flagged ``_is_deleted``;
* **unwindowed records** (:meth:`Source.read_unwindowed`, e.g. archived records no window
  selects) land after the windows without moving the bookmark;
* **hard deletes**: keys missing from the source's full key list are flagged ``_is_deleted``;
* **run metadata** (:class:`StreamRun`) and progress callbacks for a terminal display.

State of a stream, saved as JSON in ``raw_meta.stream_state``:

``cursor``
    The bookmark: ``min(stream start, max cursor seen)``. The next read starts at
    ``cursor - lookback``, because rows can commit with a cursor older than rows already read.
``full_pass_at``
    Stream start of the last complete full pass.
``full_pass_started``
    Present while a full pass is under way, so that a crash resumes that pass instead of
    starting it over or, worse, forgetting it.
``columns``
    The columns the stream declared when it last completed. A column that appears later (a
    new custom field) triggers a full pass, because existing records have values for it that
    no incremental read would bring (their cursor did not move).

A new source implements :class:`Source` (``streams``, ``read`` and, for hard deletes, ``keys``)
and declares its streams, e.g.::

    StreamSpec(name="deals", resource="/crm/v3/objects/deals", cursor_field="hs_lastmodifieddate",
               deleted_field="archived", lookback=timedelta(days=1), columns=("id", ...))

``read(spec, window)`` yields :class:`Page` objects with warehouse-named records; see
:mod:`connectors.salesforce`, :mod:`connectors.hubspot`, :mod:`connectors.google_ads`. The
source is then listed once in :data:`connectors.extract.SOURCES`.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.destinations.base import PreparedBatch, Records, Sync, column_array, to_arrow
from connectors.http import FatalApiError, HttpClient

log = logging.getLogger(__name__)

# Restarting a window that never gets past its checkpoint would loop forever.
MAX_RESTARTS_WITHOUT_PROGRESS = 5
# Pages fetched ahead of the one being batched: enough to keep the API busy, few enough that
# memory stays bounded by pages, not data.
READ_AHEAD_PAGES = 2
# Values (rows x columns) per batch. What a batch costs the writer grows with its width: 50,000
# rows of 100 columns ran DuckDB's 512 MB writer out of memory, so a 300-field Opportunity lands
# in batches of ~6,700 rows while a 32-field one keeps 50,000.
CHECKPOINT_CELLS = 2_000_000
# Arrow bytes per batch: values can be long (descriptions, notes), so rows and values alone do
# not bound what the writer holds. 50,000 rows of 32 emulator fields are ~26 MB; a batch of
# 210 MB (100 fields of 100 characters x 20,000 rows) ran the 256 MB writer out of memory.
CHECKPOINT_BYTES = 64 * 2**20


# --------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSpec:
    """One stream, declared as data.

    ``name`` is the raw table (``opportunity``, ``deals``); ``resource`` what the source calls it
    (``Opportunity``, ``/crm/v3/objects/deals``). Column names (``primary_key``,
    ``cursor_field``, ``deleted_field``) are warehouse names. A stream without ``cursor_field``
    is read in full on every run. ``columns`` lists the columns known from the source's
    schema (describe, properties), if it has one. ``options`` carries source-specific settings.
    """

    name: str
    resource: str
    primary_key: tuple[str, ...] = ("id",)
    cursor_field: str | None = None
    deleted_field: str | None = None
    hard_deletes: bool = False
    window: timedelta | None = None
    lookback: timedelta = timedelta(0)
    full_pass_every: timedelta | None = None
    checkpoint_pages: int = 5
    checkpoint_rows: int = 50_000
    checkpoint_cells: int = CHECKPOINT_CELLS
    checkpoint_bytes: int = CHECKPOINT_BYTES
    columns: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def incremental(self) -> bool:
        return self.cursor_field is not None


@dataclass(frozen=True)
class Window:
    """Records with ``start <= cursor < end``; ``None`` means unbounded on that side."""

    start: datetime | None
    end: datetime | None


@dataclass
class Page:
    """One page of records, already named and typed for the warehouse.

    ``columns`` maps column names to declared types (see ``COLUMN_TYPES``). ``max_cursor`` is the
    largest cursor value in the page. ``ordered`` says the window's records arrive in cursor
    order, so that everything up to ``max_cursor`` is safely behind us once the page has landed;
    pages that are not ordered (a Bulk API job) only move the bookmark when their window ends.
    """

    records: Records  # dicts, or an Arrow table when the source parses pages in bulk
    columns: Mapping[str, str]
    max_cursor: datetime | None = None
    ordered: bool = True
    related: list[Related] = field(default_factory=list)


@dataclass
class Related:
    """Rows of another table that belong to the records of a page (HubSpot associations and
    deal property history). They land just before the page and its checkpoint, so a crash in
    between only means they are read and rewritten again (idempotently).

    ``parent_column`` and ``parents``: the rows are the complete set for those parents (e.g.
    every association of the deals of the page), so stored rows of these parents that are not
    among ``records`` any more are flagged deleted (an association removed since).
    """

    table: str
    records: list[dict[str, Any]]
    columns: Mapping[str, str]
    primary_key: tuple[str, ...]
    cursor_field: str | None = None
    parent_column: str | None = None
    parents: Collection[str] = ()


class RestartWindow(Exception):
    """The API lost its place in a window (an expired query locator): read it again from the
    last checkpoint. Pages yielded before this exception are complete and are kept."""


class Source(ABC):
    """An API that provides streams. ``client`` supplies the server clock and retry counts."""

    name: str
    client: HttpClient

    @abstractmethod
    def streams(self, names: Collection[str] | None = None) -> list[StreamSpec]:
        """The stream declarations, all or those named (by table or resource name)."""

    @abstractmethod
    def read(self, spec: StreamSpec, window: Window) -> Iterator[Page]:
        """The records of ``spec`` inside ``window``, page by page."""

    def read_unwindowed(self, spec: StreamSpec) -> Iterator[Page]:
        """Records that no cursor window selects, read once per sync after the windows (HubSpot
        archived records: search never returns them, the archived list cannot filter by time).
        They never move the bookmark. None by default."""
        return iter(())

    def keys(self, spec: StreamSpec) -> Iterable[Any]:
        """Every primary key that exists now (for ``hard_deletes`` streams)."""
        raise NotImplementedError(f"{self.name} {spec.name}: hard deletes need keys()")

    def server_now(self) -> datetime:
        """The API server's clock (``Date`` header of the latest response)."""
        now = self.client.server_now
        if now is None:
            raise RuntimeError(f"{self.name}: no response yet, so the server clock is unknown")
        return now

    def retries(self) -> int:
        return self.client.stats.retries

    def close(self) -> None:
        self.client.close()


def select_streams(specs: Sequence[StreamSpec], names: Collection[str] | None) -> list[StreamSpec]:
    """The specs named by table or resource name (case-insensitive); all when ``names`` is empty.

    Names a source does not know are ignored here: with several sources a name belongs to one
    of them, and ``salesops extract`` reports the names no source knew.
    """
    if not names:
        return list(specs)
    wanted = {name.lower() for name in names}
    return [s for s in specs if s.name.lower() in wanted or s.resource.lower() in wanted]


# --------------------------------------------------------------------------------------------
# Run metadata
# --------------------------------------------------------------------------------------------


@dataclass
class StreamRun:
    """What one stream sync did; passed to progress callbacks as it changes."""

    source: str
    stream: str
    mode: str = "incremental"  # or "full"
    status: str = "running"  # then "success" or "failed"
    fetched: int = 0
    landed: int = 0
    quarantined: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    pages: int = 0
    retries: int = 0
    restarts: int = 0
    cursor: str | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def records_per_second(self) -> float:
        return self.fetched / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[StreamRun], None]


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Where a stream sync starts and ends. ``resume_from`` is the saved cursor it resumes
    (``None``: from the beginning); reading starts ``lookback`` earlier."""

    full_pass: bool
    resume_from: datetime | None
    end: datetime | None
    state: dict[str, Any]


def plan_run(
    spec: StreamSpec, state: Mapping[str, Any], now: datetime, *, full_refresh: bool = False
) -> Plan:
    """Decide between an incremental run and a full pass (see the module docstring)."""
    state = dict(state)
    if not spec.incremental:
        return Plan(True, None, None, state)
    cursor = parse_time(state.get("cursor"))
    if state.get("full_pass_started") and not full_refresh:
        return Plan(True, cursor, now, state)  # resume the interrupted pass at its checkpoint
    if full_refresh or cursor is None or _full_pass_due(spec, state, now):
        state["full_pass_started"] = now.isoformat()
        return Plan(True, None, now, state)
    return Plan(False, cursor, now, state)


def _full_pass_due(spec: StreamSpec, state: Mapping[str, Any], now: datetime) -> bool:
    """Formula fields are due for a refresh, or a new column needs its existing values."""
    known = state.get("columns")
    if known is not None and set(spec.columns) - set(known):
        return True
    if spec.full_pass_every is None:
        return False
    last = parse_time(state.get("full_pass_at"))
    return last is None or now - last >= spec.full_pass_every


def windows(start: datetime | None, end: datetime | None, size: timedelta | None) -> list[Window]:
    """Half-open windows covering ``[start, end)``; one window when either side is open."""
    if start is None or end is None or size is None:
        return [Window(start, end)]
    result = []
    while start < end:
        result.append(Window(start, min(start + size, end)))
        start = result[-1].end
    return result


def parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


# --------------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------------


class StreamRunner:
    """Syncs one stream into an open destination :class:`Sync`. Use :func:`sync_stream`."""

    def __init__(
        self,
        source: Source,
        spec: StreamSpec,
        sync: Sync,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.source = source
        self.spec = spec
        self.sync = sync
        self.on_progress = on_progress or (lambda run: None)
        self.run = StreamRun(source.name, spec.name)
        self._started = time.monotonic()
        self._retries_before = source.retries()
        self._state: dict[str, Any] = {}
        # Everything before ``_safe`` (minus the lookback) has landed: a resume point.
        self._safe: datetime | None = None

    def sync_stream(self, *, full_refresh: bool = False) -> StreamRun:
        try:
            self._sync(full_refresh)
        except BaseException as exc:
            self.run.status = "failed"
            self.run.error = f"{type(exc).__name__}: {exc}"
            try:
                self._finish()
            except Exception:  # never hide the error that failed the stream
                log.exception("%s %s: could not record the failure", *self._names())
            raise
        self.run.status = "success"
        self._finish()
        return self.run

    def _sync(self, full_refresh: bool) -> None:
        saved = self.sync.get_state(self.spec.name) or {}
        plan = plan_run(self.spec, saved, self.source.server_now(), full_refresh=full_refresh)
        self.run.mode = "full" if plan.full_pass else "incremental"
        self._state = plan.state
        self._safe = plan.resume_from
        start = None if plan.resume_from is None else plan.resume_from - self.spec.lookback
        log.info(
            "%s %s: %s read from %s to %s",
            self.source.name,
            self.spec.name,
            self.run.mode,
            start or "the beginning",
            plan.end or "now",
        )
        for window in windows(start, plan.end, self.spec.window):
            self._read_window(window)
        self._read_unwindowed()
        if self.spec.hard_deletes:
            self._reconcile()
        self._complete(plan)

    def _read_window(self, window: Window) -> None:
        """Read ``window`` page by page, restarting after the API loses its place."""
        restarts_without_progress = 0
        while True:
            safe_before = self._safe
            window_max: datetime | None = None
            try:
                for batch in self._prepared_batches(self.source.read(self.spec, window)):
                    window_max = _later(window_max, batch.max_cursor)
                    self._land(batch)
                break
            except RestartWindow as exc:
                # The pages read before the restart have landed (their batch came first).
                self.run.restarts += 1
                if self._safe != safe_before:  # ordered pages landed: resume after them
                    window = replace(window, start=self._safe)
                    restarts_without_progress = 0
                else:
                    restarts_without_progress += 1
                if restarts_without_progress > MAX_RESTARTS_WITHOUT_PROGRESS:
                    raise RuntimeError(
                        f"{self.source.name} {self.spec.name}: window {window} restarted "
                        f"{restarts_without_progress} times without progress: {exc}"
                    ) from exc
                log.warning("%s %s: %s; restarting the window", *self._names(), exc)
        # Every record of a finished window has landed, ordered or not.
        self._safe = _later(self._safe, window_max)

    def _read_unwindowed(self) -> None:
        pages = (
            replace(page, ordered=False, max_cursor=None)
            for page in self.source.read_unwindowed(self.spec)
        )
        for batch in self._prepared_batches(pages):
            self._land(batch)

    def _prepared_batches(self, pages: Iterable[Page]) -> Iterator[_Batch]:
        """``pages`` as checkpoint batches, in a pipeline of three threads: one fetches and
        decodes pages (:func:`read_ahead`), one groups them and casts each batch ahead
        (:meth:`Sync.prepare`), and this one lands them, so the cast of a batch overlaps the
        landing of the one before."""
        fetched = read_ahead(map(_columnar, pages), READ_AHEAD_PAGES)
        return read_ahead(_batches(fetched, self.spec, self._prepare), 1)

    def _prepare(self, pages: Sequence[Page]) -> PreparedBatch:
        columns: dict[str, str] = {}
        for page in pages:
            columns.update(page.columns)
        return self.sync.prepare(
            self.spec.name,
            _concat(pages, columns),
            columns=columns,
            primary_key=self.spec.primary_key,
            cursor_field=self.spec.cursor_field,
            is_deleted_field=self.spec.deleted_field,
        )

    def _land(self, batch: _Batch) -> None:
        """Land a batch and its checkpoint in one transaction (its related rows just before)."""
        self.run.fetched += batch.fetched
        self.run.pages += batch.pages
        if all(p.ordered for p in batch.parts):
            for page in batch.parts:
                self._safe = _later(self._safe, page.max_cursor)
        self._land_related(batch.parts)
        result = self.sync.write_prepared(batch.prepared, state=self._checkpoint_state())
        self.run.landed += result.landed
        self.run.quarantined += result.quarantined
        self.run.inserted += result.inserted
        self.run.updated += result.updated
        self.run.deleted += self._soft_deleted(batch.prepared.batch)
        self._report()

    def _land_related(self, pages: Sequence[Page]) -> None:
        """Land the pages' related rows, one batch per table; flag rows their parents lost."""
        merged: dict[str, Related] = {}
        for page in pages:
            for rel in page.related:
                into = merged.setdefault(
                    rel.table,
                    Related(
                        rel.table, [], {}, rel.primary_key, rel.cursor_field, rel.parent_column
                    ),
                )
                into.records.extend(rel.records)
                into.columns = {**into.columns, **rel.columns}
                into.parents = {*into.parents, *(str(p) for p in rel.parents)}
        for rel in merged.values():
            if rel.records:
                self.sync.write_batch(
                    rel.table,
                    rel.records,
                    columns=rel.columns,
                    primary_key=rel.primary_key,
                    cursor_field=rel.cursor_field,
                )
            if rel.parent_column and rel.parents:
                at = rel.primary_key.index(rel.parent_column)
                fresh = {_key_tuple(tuple(r.get(k) for k in rel.primary_key)) for r in rel.records}
                stored = self.sync.live_keys(
                    rel.table, rel.primary_key, where_in=(rel.parent_column, rel.parents)
                )
                gone = {k for k in stored if k[at] in rel.parents} - fresh
                if gone:
                    self.sync.mark_deleted(rel.table, gone, primary_key=rel.primary_key)

    def _soft_deleted(self, records: Records) -> int:
        flag = self.spec.deleted_field
        if flag is None:
            return 0
        if isinstance(records, pa.Table):
            if flag not in records.column_names:
                return 0
            text = pc.utf8_lower(pc.cast(records.column(flag), pa.string()))
            return pc.sum(pc.equal(text, "true")).as_py() or 0
        return sum(1 for r in records if str(r.get(flag)).lower() == "true")

    def _checkpoint_state(self) -> dict[str, Any]:
        state = dict(self._state)
        if self.spec.incremental:
            state["cursor"] = self._safe.isoformat() if self._safe else None
        return state

    def _reconcile(self) -> None:
        """Flag stored rows whose key the source no longer has (deletes without a trace)."""
        present = {_key_tuple(key) for key in self.source.keys(self.spec)}
        stored = self.sync.live_keys(self.spec.name, self.spec.primary_key)
        gone = stored - present
        if gone:
            log.info("%s %s: %d record(s) hard-deleted", *self._names(), len(gone))
            self.run.deleted += self.sync.mark_deleted(
                self.spec.name, gone, primary_key=self.spec.primary_key
            )

    def _complete(self, plan: Plan) -> None:
        """Save the bookmark ``min(stream start, max seen)`` and close a finished full pass."""
        state = self._checkpoint_state()
        if self.spec.incremental and self._safe is not None and plan.end is not None:
            state["cursor"] = min(self._safe, plan.end).isoformat()
        started = state.pop("full_pass_started", None)
        if plan.full_pass and started:
            state["full_pass_at"] = started
        if self.spec.columns:
            state["columns"] = sorted(self.spec.columns)
        self.sync.save_state(self.spec.name, state)
        self.run.cursor = state.get("cursor")

    def _finish(self) -> None:
        self.run.retries = self.source.retries() - self._retries_before
        self._report()
        self.sync.finish_stream(
            self.spec.name,
            status=self.run.status,
            error=self.run.error,
            pages=self.run.pages,
            retries=self.run.retries,
            cursor=self.run.cursor,
        )

    def _report(self) -> None:
        self.run.seconds = time.monotonic() - self._started
        self.run.retries = self.source.retries() - self._retries_before
        self.on_progress(self.run)

    def _names(self) -> tuple[str, str]:
        return self.source.name, self.spec.name


@dataclass(frozen=True)
class _Raised:
    error: BaseException


@dataclass(frozen=True)
class _Batch:
    """Pages (or slices of one) that land in one transaction, prepared for landing."""

    parts: list[Page]
    pages: int  # whole pages it completes: a page in slices counts with its last one
    fetched: int
    prepared: PreparedBatch

    @property
    def max_cursor(self) -> datetime | None:
        return max((p.max_cursor for p in self.parts if p.max_cursor), default=None)


def _batches(
    pages: Iterator[Page], spec: StreamSpec, prepare: Callable[[Sequence[Page]], PreparedBatch]
) -> Iterator[_Batch]:
    """``pages`` grouped into checkpoint batches (see the module docstring), each prepared.

    When the source has to restart its window, the pages read before the restart still form a
    batch, which comes before the :class:`RestartWindow`. Closing this closes ``pages``.
    """
    parts: list[Page] = []
    whole = 0

    def batch() -> _Batch:
        nonlocal parts, whole
        done = _Batch(parts, whole, sum(len(p.records) for p in parts), prepare(parts))
        parts, whole = [], 0
        return done

    try:
        for page in pages:
            slices = _split(page, spec.checkpoint_bytes)
            for i, part in enumerate(slices, start=1):
                parts.append(part)
                whole += i == len(slices)
                if _full(parts, spec):
                    yield batch()
    except RestartWindow:
        if parts:
            yield batch()
        raise
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()
    if parts:
        yield batch()


def _full(parts: Sequence[Page], spec: StreamSpec) -> bool:
    return (
        len(parts) >= spec.checkpoint_pages
        or sum(len(p.records) for p in parts) >= spec.checkpoint_rows
        or sum(len(p.records) * _width(p) for p in parts) >= spec.checkpoint_cells
        or sum(_nbytes(p) for p in parts) >= spec.checkpoint_bytes
    )


def _nbytes(page: Page) -> int:
    return page.records.nbytes if isinstance(page.records, pa.Table) else 0


def _split(page: Page, budget: int) -> list[Page]:
    """``page`` in slices of at most ``budget`` Arrow bytes, so that one page of long values
    (a Bulk chunk of descriptions) never becomes a batch the writer cannot hold. Only the last
    slice carries the page's cursor and related rows: the bookmark moves when the whole page
    has landed, and a crash in between re-reads the page."""
    size, rows = _nbytes(page), len(page.records)
    if size <= budget or rows < 2:
        return [page]
    step = math.ceil(rows / math.ceil(size / budget))
    slices = [page.records.slice(start, step) for start in range(0, rows, step)]
    head = [replace(page, records=part, max_cursor=None, related=[]) for part in slices[:-1]]
    return [*head, replace(page, records=slices[-1])]


def _width(page: Page) -> int:
    if isinstance(page.records, pa.Table):
        return page.records.num_columns
    return max(len(page.columns), len(page.records[0]) if page.records else 0, 1)


_END = object()


def read_ahead(items: Iterable[Any], depth: int) -> Iterator[Any]:
    """``items`` (pages, batches), produced by a thread at most ``depth`` items ahead of the
    one the consumer holds, so that producing them (the API's time, decoding, casting a batch)
    overlaps the consumer's work (landing).

    Items and errors (:class:`RestartWindow`, API errors) arrive in the order the producer
    made them, so the consumer sees exactly what it would reading directly. The thread starts
    an item only when there is room for it: what waits in memory is bounded by ``depth``, not
    by how far the producer could run. When the consumer stops early the thread stops after
    the item it is producing and the source's generator is closed (a Bulk job is deleted)
    before this generator returns: the source is never used by two threads at once.
    """
    buffer: queue.SimpleQueue[Any] = queue.SimpleQueue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def wait_for_room() -> bool:
        while not stop.is_set():
            if room.acquire(timeout=0.05):
                return True
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            while wait_for_room():
                item = next(iterator, _END)
                buffer.put(item)
                if item is _END:
                    return
        except BaseException as exc:  # re-raised by the consumer, in order
            buffer.put(_Raised(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="salesops-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            room.release()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


def _columnar(page: Page) -> Page:
    """``page`` with its records as one Arrow table, converted in the read-ahead thread.

    A batch held as Python dicts takes about eight times the memory of the same rows in Arrow
    (50,000 rows of 32 fields: 215 MB against 26 MB), and converting while the previous batch
    lands overlaps the two."""
    if isinstance(page.records, pa.Table) or not page.records:
        return page
    return replace(page, records=to_arrow(page.records, page.columns))


def _concat(pages: Sequence[Page], columns: Mapping[str, str]) -> Records:
    """The records of ``pages`` as one Arrow table."""
    tables = [to_arrow(page.records, columns) for page in pages if len(page.records)]
    if not tables:
        return []
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _concat_retyped(tables, columns)


def _concat_retyped(tables: Sequence[pa.Table], columns: Mapping[str, str]) -> pa.Table:
    """Concatenate pages that typed a column differently (values of another JSON type on some
    page): that column is typed over the whole batch, as if the pages had been one, so the
    cast in SQL, not Arrow, decides what does not fit."""
    names = list(dict.fromkeys(name for table in tables for name in table.column_names))
    arrays = []
    for name in names:
        parts = [
            table.column(name)
            if name in table.column_names
            else pa.chunked_array([pa.nulls(table.num_rows)])
            for table in tables
        ]
        types = {part.type for part in parts} - {pa.null()}
        if len(types) > 1:
            values = [value for part in parts for value in part.to_pylist()]
            arrays.append(pa.chunked_array([column_array(values, columns.get(name))]))
        else:
            kind = types.pop() if types else pa.null()
            chunks = [chunk for part in parts for chunk in part.cast(kind).chunks]
            arrays.append(pa.chunked_array(chunks, kind))
    return pa.Table.from_arrays(arrays, names=names)


def _key_tuple(key: Any) -> tuple[str, ...]:
    parts = key if isinstance(key, tuple | list) else (key,)
    return tuple(str(part) for part in parts)


def sync_stream(
    source: Source,
    spec: StreamSpec,
    sync: Sync,
    *,
    full_refresh: bool = False,
    on_progress: ProgressCallback | None = None,
) -> StreamRun:
    """Sync one stream; raises after recording a failure in ``sync_log``."""
    return StreamRunner(source, spec, sync, on_progress).sync_stream(full_refresh=full_refresh)


def sync_source(
    source: Source,
    sync: Sync,
    specs: Sequence[StreamSpec],
    *,
    full_refresh: bool = False,
    on_progress: ProgressCallback | None = None,
) -> list[StreamRun]:
    """Sync ``specs`` one after another.

    A failing stream does not stop the others, except for a fatal API error (daily limit,
    rejected credentials): every further call would fail the same way. Failed streams are
    returned with ``status == "failed"``; the caller decides the exit code.
    """
    runs = []
    for spec in specs:
        runner = StreamRunner(source, spec, sync, on_progress)
        try:
            runner.sync_stream(full_refresh=full_refresh)
        except FatalApiError:
            raise
        except Exception:
            log.exception("%s %s failed", source.name, spec.name)
        runs.append(runner.run)
    return runs
