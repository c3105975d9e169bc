"""The destination interface: where raw records, their versions and stream state land.

DuckDB implements it today (:mod:`connectors.destinations.duckdb`); PostgreSQL and a Parquet
lake will implement the same contract. Per CONFIG.md "Raw layer naming":

* ``raw_<source>.<table>``: current state, one row per primary key, plus ``_synced_at``,
  ``_sync_id``, ``_is_deleted`` (and ``_row_hash``, see below);
* ``raw_<source>.<table>__versions``: every distinct record version ever extracted, append-only;
* ``raw_meta.stream_state``, ``raw_meta.sync_log``, ``raw_meta.quarantine``.

Contract every implementation keeps:

* :meth:`Sync.write_batch` is atomic: current rows, version rows, quarantined rows, the
  ``sync_log`` counters and the stream state commit together or not at all. State is the
  bookmark the source resumes from, so a crash at any instant leaves state pointing at the last
  batch that fully landed, and a rerun re-fetches exactly what is missing.
* Rewriting the same rows is harmless: the current table is upserted by primary key, and a
  version is appended only if it is new (see ``_row_hash`` in the DuckDB module for the rule).
* ``fetched = landed + quarantined`` for every batch; a value that cannot be cast to its column
  type sends the whole record to quarantine with a reason naming the field and value.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

RAW_META_SCHEMA = "raw_meta"

# The declared column types every destination understands.
COLUMN_TYPES = frozenset(
    {"VARCHAR", "DOUBLE", "BIGINT", "INTEGER", "BOOLEAN", "DATE", "TIMESTAMPTZ", "JSON"}
)

Records = pa.Table | Sequence[Mapping[str, Any]]
Key = Any  # a scalar for single-column keys, a tuple or mapping for composite ones


def raw_schema(source: str) -> str:
    """``raw_salesforce``, ``raw_hubspot``, ``raw_google_ads``."""
    return f"raw_{source}"


def new_sync_id(now: datetime | None = None) -> str:
    """A sortable, unique sync id such as ``20240520T020000Z-1a2b3c4d``."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class BatchResult:
    """What one :meth:`Sync.write_batch` call did. ``fetched == landed + quarantined``."""

    fetched: int
    landed: int
    quarantined: int
    inserted: int
    updated: int
    versions_appended: int


class Sync(ABC):
    """One sync of one source: a writer session. Use as a context manager; on exit it closes
    the connection and gives streams still running a final status: ``failed`` if an exception
    escaped, else ``success``.
    """

    source: str
    sync_id: str

    def __enter__(self) -> Sync:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close(error=exc)

    @abstractmethod
    def write_batch(
        self,
        stream: str,
        records: Records,
        *,
        columns: Mapping[str, str],
        primary_key: Sequence[str],
        cursor_field: str | None = None,
        is_deleted_field: str | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """Land one batch of ``stream`` and (optionally) save ``state``, atomically.

        ``columns`` maps column names to declared types (:data:`COLUMN_TYPES`); record keys not
        declared land as VARCHAR. ``cursor_field`` (e.g. ``system_modstamp``) orders versions
        of the same key and keeps an older re-fetch from overwriting newer state.
        ``is_deleted_field`` (e.g. ``is_deleted``, ``archived``) feeds ``_is_deleted``.
        """

    @abstractmethod
    def mark_deleted(
        self,
        stream: str,
        keys: Iterable[Key],
        *,
        primary_key: Sequence[str],
        state: Mapping[str, Any] | None = None,
    ) -> int:
        """Flag rows as deleted and append a version for each; returns how many changed."""

    @abstractmethod
    def get_state(self, stream: str) -> dict[str, Any] | None:
        """The saved state of ``stream`` for this sync's source, or ``None``."""

    @abstractmethod
    def save_state(self, stream: str, state: Mapping[str, Any]) -> None:
        """Save ``state`` on its own, for progress that lands no rows (an empty window)."""

    @abstractmethod
    def live_keys(
        self,
        stream: str,
        primary_key: Sequence[str],
        *,
        where_in: tuple[str, Collection[str]] | None = None,
    ) -> set[tuple[str, ...]]:
        """Primary keys (as tuples of text) of the current rows not flagged deleted.

        Id reconciliation compares these with the source's full id list to find hard deletes.
        ``where_in=(column, values)`` keeps only rows whose ``column``, as text, is one of
        ``values`` (the associations of some parents), so the caller never holds a whole table.
        """

    @abstractmethod
    def finish_stream(
        self,
        stream: str,
        *,
        status: str = "success",
        error: str | None = None,
        pages: int | None = None,
        retries: int | None = None,
        cursor: str | None = None,
    ) -> None:
        """Close the stream's ``sync_log`` row with its final status and run metadata."""

    @abstractmethod
    def close(self, error: BaseException | None = None) -> None:
        """Release the connection after finishing open streams (``failed`` if ``error``)."""


class Destination(ABC):
    """A place to land raw data. One writer at a time: open a sync, write, close."""

    @abstractmethod
    def open_sync(self, source: str, sync_id: str | None = None) -> Sync:
        """Start a sync of ``source`` (``salesforce``, ``hubspot``, ``google_ads``)."""

    @abstractmethod
    def get_state(self, source: str, stream: str) -> dict[str, Any] | None:
        """Read a stream's saved state without holding a writer session."""
