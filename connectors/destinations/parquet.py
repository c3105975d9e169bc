"""Parquet lake destination: immutable slice files plus one manifest, the lake's commit point.

Spark, Databricks, Trino and DuckDB read the lake; the layout and the protocol are in
``docs/scale-out.md`` ("The Parquet lake"). In short, under ``SALESOPS_LAKE_ROOT``::

    manifest.json                         the commit point (compact one-line JSON, see below)
    manifests/<generation>.json           every committed manifest, for audit and time travel
    <schema>/<table>/<gen>-<sync>-<n>.parquet     immutable slices, never modified in place
    .locks/                               writer locks (flock)

Each table, ``raw_<source>.<table>``, ``raw_<source>.<table>__versions``, ``raw_meta.quarantine``,
``raw_meta.sync_log`` and ``raw_meta.stream_state`` (and ``forecast.statistical_forecasts``,
written through :func:`write_table`), is exactly the union of the files its manifest entry
lists, with the entry's declared columns; a column missing from an older slice (schema drift)
reads as NULL. Files no manifest lists are invisible: a crash can leave orphans, never a
half-visible batch.

Commit protocol (one per :meth:`Sync.write_batch`, :meth:`~Sync.mark_deleted`,
:meth:`~Sync.save_state`, :meth:`~Sync.finish_stream`)
    1. the batch is applied to an in-memory DuckDB working copy with exactly the SQL of the
       DuckDB destination (:mod:`connectors.destinations.duckdb`: the same casts, quarantine
       reasons, ``_row_hash``, version dedupe and stale-cursor rule), inside a transaction;
    2. the changed tables are written as new slice files (``.<name>.tmp``, fsync, rename);
    3. under the lake lock the latest ``manifest.json`` is re-read, this commit's file additions
       and removals and its stream state are applied to it, and the new manifest is written to
       a temporary file, fsynced and renamed over ``manifest.json`` (``os.replace``, atomic on
       POSIX), then the directory is fsynced;
    4. only then does the in-memory transaction commit. Any failure before the rename rolls the
       working copy back and leaves the lake exactly as it was.

Current state is a compacted slice: each commit that changes a stream rewrites its current table
as one new file and retires the previous one, so readers never merge versions themselves.
``__versions``, quarantine and sync_log are append-only slices. Stream state lives in the
manifest (``stream_state``: source, stream, state as JSON text, updated_at, sync_id) and is
mirrored to ``raw_meta.stream_state`` for SQL readers. Retired files stay on disk for
``retain_seconds`` (readers holding an older manifest keep working) and are then deleted by
:meth:`ParquetDestination.vacuum`, which every sync runs when it closes.

One sync per source at a time (a per-source lock held for the sync); different sources may
sync concurrently, their commits serialise on the lake lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.destinations.base import (
    META_COLUMNS,
    RAW_META_SCHEMA,
    Destination,
    raw_schema,
    utc_now,
)
from connectors.destinations.duckdb import DuckDBSync, _column_types, _table_exists
from connectors.destinations.sql import literal
from connectors.naming import VERSIONS_SUFFIX, qualified, quote_ident, validate_identifier

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_HISTORY = "manifests"
FORMAT = "salesops-lake"
FORMAT_VERSION = 1
DEFAULT_RETAIN_SECONDS = 24 * 3600

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
}


class LakeError(RuntimeError):
    """The lake is unreadable or another writer holds it."""


# --------------------------------------------------------------------------------------------
# The manifest
# --------------------------------------------------------------------------------------------


def _empty_manifest() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generation": 0,
        "committed_at": None,
        "tables": [],
        "stream_state": [],
        "retired": [],
    }


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The committed manifest of the lake at ``root`` (an empty one if nothing was committed)."""
    path = Path(root) / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _empty_manifest()
    manifest = orjson.loads(data)
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise LakeError(f"{path} is not a {FORMAT} v{FORMAT_VERSION} manifest")
    return manifest


def table_entry(manifest: Mapping[str, Any], schema: str, name: str) -> dict[str, Any] | None:
    for entry in manifest["tables"]:
        if entry["schema"] == schema and entry["name"] == name:
            return entry
    return None


@dataclass
class TableChange:
    """What one commit does to one table: files added and retired, its columns now."""

    schema: str
    name: str
    columns: dict[str, str]
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    replace_all: bool = False  # the added files are the whole table (current state)


@dataclass
class Commit:
    changes: list[TableChange] = field(default_factory=list)
    # (source, stream) -> state row; None removes. Applied over the manifest's rows.
    states: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes or self.states)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_bytes_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextmanager
def _flock(path: Path, *, blocking: bool = True, what: str = "lake") -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle, flags)
        except BlockingIOError as exc:
            raise LakeError(f"another writer holds the {what} lock {path}") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# The destination
# --------------------------------------------------------------------------------------------


class ParquetDestination(Destination):
    """The raw layer as a Parquet lake under ``root`` (see the module docstring).

    ``clock`` supplies ``_synced_at`` and the other timestamps, as for DuckDB.
    ``retain_seconds``: how long retired files stay for readers of older manifests.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        retain_seconds: float = DEFAULT_RETAIN_SECONDS,
        compression: str = "zstd",
    ) -> None:
        self.root = Path(root)
        self.clock = clock
        self.retain_seconds = retain_seconds
        self.compression = compression

    def __repr__(self) -> str:
        return f"ParquetDestination({str(self.root)!r})"

    # -- Destination API -------------------------------------------------------------------

    def get_state(self, source: str, stream: str) -> dict[str, Any] | None:
        for row in read_manifest(self.root)["stream_state"]:
            if row["source"] == source and row["stream"] == stream:
                return orjson.loads(row["state"])
        return None

    # -- reading ---------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.root)

    def table_files(self, schema: str, name: str) -> list[Path]:
        entry = table_entry(self.manifest(), schema, name)
        return [] if entry is None else [self.root / f for f in entry["files"]]

    def attach(self, con: duckdb.DuckDBPyConnection, *, materialize: bool = False) -> list[str]:
        """Make every committed lake table queryable in DuckDB as ``schema.table`` (views over
        the listed files, or tables with ``materialize``); returns their qualified names."""
        return attach_lake(con, self.root, materialize=materialize)

    # -- writing ---------------------------------------------------------------------------

    def write_slice(self, schema: str, name: str, table: pa.Table, tag: str) -> str:
        """Write one immutable slice file; returns its path relative to the root."""
        directory = self.root / schema / name
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        file_name = f"{stamp}-{tag}-{uuid.uuid4().hex[:12]}.parquet"
        tmp = directory / f".{file_name}.tmp"
        pq.write_table(table, tmp, compression=self.compression)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, directory / file_name)
        return f"{schema}/{name}/{file_name}"

    def commit(
        self, commit: Commit, *, before_replace: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """Apply ``commit`` to the latest manifest and rename the new manifest into place.

        Returns the new manifest. ``before_replace`` runs right before the rename (a test
        hook for crashes at the last moment).
        """
        with _flock(self.root / ".locks" / "lake.lock"):
            manifest = read_manifest(self.root)
            now = self.clock()
            generation = int(manifest["generation"]) + 1
            retired = list(manifest.get("retired", []))
            for change in commit.changes:
                entry = table_entry(manifest, change.schema, change.name)
                if entry is None:
                    entry = {
                        "schema": change.schema,
                        "name": change.name,
                        "columns": [],
                        "files": [],
                    }
                    manifest["tables"].append(entry)
                # Columns only grow; an existing column keeps its type.
                known = {c["name"] for c in entry["columns"]}
                entry["columns"] += [
                    {"name": n, "type": t} for n, t in change.columns.items() if n not in known
                ]
                gone = set(entry["files"]) if change.replace_all else set(change.remove)
                entry["files"] = [f for f in entry["files"] if f not in gone] + change.add
                retired += [{"path": f, "retired_at": now.isoformat()} for f in sorted(gone)]
            if commit.states:
                rows = {(r["source"], r["stream"]): r for r in manifest["stream_state"]}
                for key, row in commit.states.items():
                    rows[key] = row
                manifest["stream_state"] = [rows[k] for k in sorted(rows)]
                self._mirror_state(manifest, retired, now)
            manifest["tables"].sort(key=lambda e: (e["schema"], e["name"]))
            manifest.update(generation=generation, committed_at=now.isoformat(), retired=retired)
            data = orjson.dumps(manifest)
            history = self.root / MANIFEST_HISTORY
            history.mkdir(parents=True, exist_ok=True)
            _write_bytes_atomically(history / f"{generation:010d}.json", data)
            tmp = self.root / f".{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if before_replace is not None:
                before_replace()
            os.replace(tmp, self.root / MANIFEST)
            _fsync_dir(self.root)
            return manifest

    def _mirror_state(self, manifest: dict[str, Any], retired: list, now: datetime) -> None:
        """``raw_meta.stream_state`` as a slice, for SQL readers (the manifest is authoritative)."""
        columns = META_COLUMNS["stream_state"]
        rows = manifest["stream_state"]
        table = pa.table(
            {
                "source": pa.array([r["source"] for r in rows], pa.string()),
                "stream": pa.array([r["stream"] for r in rows], pa.string()),
                "state": pa.array([r["state"] for r in rows], pa.string()),
                "updated_at": pa.array(
                    [datetime.fromisoformat(r["updated_at"]) for r in rows],
                    _ARROW_TYPES["TIMESTAMPTZ"],
                ),
                "sync_id": pa.array([r["sync_id"] for r in rows], pa.string()),
            }
        )
        path = self.write_slice(RAW_META_SCHEMA, "stream_state", table, "state")
        entry = table_entry(manifest, RAW_META_SCHEMA, "stream_state")
        if entry is None:
            entry = {"schema": RAW_META_SCHEMA, "name": "stream_state", "files": []}
            manifest["tables"].append(entry)
        entry["columns"] = [{"name": n, "type": t} for n, t in columns.items()]
        retired += [{"path": f, "retired_at": now.isoformat()} for f in entry["files"]]
        entry["files"] = [path]

    def vacuum(self, *, retain_seconds: float | None = None) -> list[str]:
        """Delete files retired more than ``retain_seconds`` ago, and the history manifests
        older than that (they name files that are gone); returns the deleted slice paths
        (relative to the root). The manifest that stops listing them is committed first."""
        retain = self.retain_seconds if retain_seconds is None else retain_seconds
        doomed: list[str] = []
        with _flock(self.root / ".locks" / "lake.lock"):
            manifest = read_manifest(self.root)
            now = self.clock()
            live = {f for e in manifest["tables"] for f in e["files"]}
            keep = []
            for item in manifest.get("retired", []):
                age = (now - datetime.fromisoformat(item["retired_at"])).total_seconds()
                if age >= retain and item["path"] not in live:
                    doomed.append(item["path"])
                else:
                    keep.append(item)
            if doomed:
                manifest["retired"] = keep
                manifest["generation"] = int(manifest["generation"]) + 1
                manifest["committed_at"] = now.isoformat()
                data = orjson.dumps(manifest)
                history = self.root / MANIFEST_HISTORY
                history.mkdir(parents=True, exist_ok=True)
                _write_bytes_atomically(history / f"{manifest['generation']:010d}.json", data)
                _write_bytes_atomically(self.root / MANIFEST, data)
                _fsync_dir(self.root)
                for path in doomed:
                    (self.root / path).unlink(missing_ok=True)
            latest = f"{int(manifest['generation']):010d}.json"
            cutoff = time.time() - retain
            for old in (self.root / MANIFEST_HISTORY).glob("*.json"):
                if old.name < latest and old.stat().st_mtime <= cutoff:
                    old.unlink(missing_ok=True)
        return doomed


# --------------------------------------------------------------------------------------------
# The sync: the DuckDB destination's logic on an in-memory working copy
# --------------------------------------------------------------------------------------------


class ParquetSync(DuckDBSync):
    """A writer session on the lake for one source.

    The working copy is an in-memory DuckDB database: a stream's current and versions tables
    are loaded from their committed slices the first time the sync touches the stream, and
    every change goes through :class:`DuckDBSync`'s SQL. What a transaction changed is written
    as slices and committed by the manifest before the in-memory transaction commits.
    """

    def __init__(self, destination: ParquetDestination, source: str, sync_id: str) -> None:
        self.lake = destination
        self._loaded: set[str] = set()
        self._dirty: set[str] = set()
        self._baseline: dict[str, int] = {}  # append-only table -> rows already in the lake
        self._sync_log_file: str | None = None
        self._crash_hook: Callable[[str], None] | None = None  # tests: called at each step
        self._ready = False  # no lake commits while the working copy is being set up
        self._manifest: dict[str, Any] = destination.manifest()
        self._source_lock = _flock(
            destination.root / ".locks" / f"{source}.lock", blocking=False, what=f"{source} sync"
        )
        self._source_lock.__enter__()
        try:
            super().__init__(_WorkingCopy(destination), source, sync_id)
            self._load_meta()
            self._ready = True
        except BaseException:
            self._source_lock.__exit__(None, None, None)
            raise

    def __repr__(self) -> str:
        return f"ParquetSync(source={self.source!r}, sync_id={self.sync_id!r})"

    # -- loading the working copy ------------------------------------------------------------

    def _load_meta(self) -> None:
        con = self._connection()
        manifest = self._manifest
        state = qualified(RAW_META_SCHEMA, "stream_state")
        for row in manifest["stream_state"]:
            if row["source"] == self.source:
                con.execute(
                    f"INSERT INTO {state} VALUES (?, ?, ?, ?, ?)",
                    [row["source"], row["stream"], row["state"], row["updated_at"], row["sync_id"]],
                )
        quarantine = table_entry(manifest, RAW_META_SCHEMA, "quarantine")
        if quarantine and quarantine["files"]:
            _insert_from_files(
                con,
                qualified(RAW_META_SCHEMA, "quarantine"),
                self._paths(quarantine["files"]),
                where=f"source = {literal(self.source)}",
            )
        self._baseline["quarantine"] = _row_count(con, qualified(RAW_META_SCHEMA, "quarantine"))

    def _paths(self, files: Iterable[str]) -> list[str]:
        return [str(self.lake.root / f) for f in files]

    def _load_stream(self, stream: str) -> None:
        """Load the stream's committed current and versions tables, once per sync."""
        if stream in self._loaded:
            return
        con = self._connection()
        manifest = self._manifest
        for table in (stream, stream + VERSIONS_SUFFIX):
            entry = table_entry(manifest, self.schema, table)
            if entry is None or _table_exists(con, self.schema, table):
                continue
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
            columns = ", ".join(f"{quote_ident(c['name'])} {c['type']}" for c in entry["columns"])
            con.execute(f"CREATE TABLE {qualified(self.schema, table)} ({columns})")
            if entry["files"]:
                _insert_from_files(con, qualified(self.schema, table), self._paths(entry["files"]))
        versions = self.schema + "." + stream + VERSIONS_SUFFIX
        if _table_exists(con, self.schema, stream + VERSIONS_SUFFIX):
            self._baseline[versions] = _row_count(
                con, qualified(self.schema, stream + VERSIONS_SUFFIX)
            )
        self._loaded.add(stream)

    # -- hooks into DuckDBSync ---------------------------------------------------------------

    def _open_stream(self, stream: str) -> None:
        with self._lock:
            self._load_stream(stream)

    def _ensure_tables(self, con, stream, wanted):
        self._dirty.add(stream)
        return super()._ensure_tables(con, stream, wanted)

    def _flag_deleted(self, con, stream, key_table, primary_key, synced_at):
        self._dirty.add(stream)
        return super()._flag_deleted(con, stream, key_table, primary_key, synced_at)

    @contextmanager
    def _publishing(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Commit the transaction's changes to the lake before the working copy commits; if
        anything fails first, the working copy rolls back and the lake is as it was."""
        self._dirty = set()
        state_before = _state_rows(con, self.source) if self._ready else {}
        yield
        if not self._ready:
            return
        commit, written = self._collect(con, state_before)
        if not commit:
            return
        self._manifest = self.lake.commit(
            commit, before_replace=lambda: self._step("before_manifest")
        )
        self._step("after_manifest")
        self._baseline.update(written)
        for change in commit.changes:
            if change.schema == RAW_META_SCHEMA and change.name == "sync_log":
                self._sync_log_file = change.add[0]

    def _step(self, name: str) -> None:
        if self._crash_hook is not None:
            self._crash_hook(name)

    def close(self, error: BaseException | None = None) -> None:
        if self._con is None:
            return
        try:
            super().close(error)
        finally:
            self._source_lock.__exit__(None, None, None)
        try:
            self.lake.vacuum()
        except (OSError, LakeError):
            log.exception("vacuum of %s failed after sync %s", self.lake.root, self.sync_id)

    # -- what a transaction changed ----------------------------------------------------------

    def _collect(
        self, con: duckdb.DuckDBPyConnection, state_before: dict[str, dict[str, Any]]
    ) -> tuple[Commit, dict[str, int]]:
        commit = Commit()
        written: dict[str, int] = {}
        tag = self.sync_id
        for stream in sorted(self._dirty):
            if not _table_exists(con, self.schema, stream):
                continue
            current_types = _column_types(con, self.schema, stream)
            table = _export(con, qualified(self.schema, stream), current_types)
            path = self.lake.write_slice(self.schema, stream, table, tag)
            self._step("slice_written")
            commit.changes.append(
                TableChange(self.schema, stream, current_types, add=[path], replace_all=True)
            )
            versions = stream + VERSIONS_SUFFIX
            key = f"{self.schema}.{versions}"
            version_types = _column_types(con, self.schema, versions)
            total = _row_count(con, qualified(self.schema, versions))
            base = self._baseline.get(key, 0)
            grew = set(version_types) - set(self._committed_columns(self.schema, versions))
            if total > base or grew:
                new = _export(con, qualified(self.schema, versions), version_types, skip=base)
                path = self.lake.write_slice(self.schema, versions, new, tag)
                self._step("slice_written")
                commit.changes.append(TableChange(self.schema, versions, version_types, add=[path]))
                written[key] = total
        quarantine = qualified(RAW_META_SCHEMA, "quarantine")
        total = _row_count(con, quarantine)
        if total > self._baseline["quarantine"] or "quarantine" not in self._committed_tables():
            types = dict(META_COLUMNS["quarantine"])
            new = _export(con, quarantine, types, skip=self._baseline["quarantine"])
            path = self.lake.write_slice(RAW_META_SCHEMA, "quarantine", new, tag)
            commit.changes.append(TableChange(RAW_META_SCHEMA, "quarantine", types, add=[path]))
            written["quarantine"] = total
        log_table = qualified(RAW_META_SCHEMA, "sync_log")
        if _row_count(con, log_table):
            types = dict(META_COLUMNS["sync_log"])
            rows = _export(con, log_table, types)
            path = self.lake.write_slice(RAW_META_SCHEMA, "sync_log", rows, tag)
            commit.changes.append(
                TableChange(
                    RAW_META_SCHEMA,
                    "sync_log",
                    types,
                    add=[path],
                    remove=[self._sync_log_file] if self._sync_log_file else [],
                )
            )
        state_after = _state_rows(con, self.source)
        for stream, row in state_after.items():
            if state_before.get(stream) != row:
                commit.states[(self.source, stream)] = row
        return commit, written

    def _committed_tables(self) -> set[str]:
        return {e["name"] for e in self._manifest["tables"] if e["schema"] == RAW_META_SCHEMA}

    def _committed_columns(self, schema: str, name: str) -> list[str]:
        entry = table_entry(self._manifest, schema, name)
        return [] if entry is None else [c["name"] for c in entry["columns"]]


class _WorkingCopy:
    """Stands in for :class:`DuckDBDestination` inside :class:`DuckDBSync`: an in-memory
    database with the lake's clock."""

    def __init__(self, lake: ParquetDestination) -> None:
        self.clock = lake.clock
        self.path = lake.root

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        return con


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _files_sql(paths: Sequence[str]) -> str:
    return "read_parquet([" + ", ".join(literal(p) for p in paths) + "], union_by_name = true)"


def _insert_from_files(
    con: duckdb.DuckDBPyConnection, table: str, paths: Sequence[str], *, where: str | None = None
) -> None:
    """Append the slices' rows; columns a slice lacks (older schema) become NULL."""
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT * FROM {_files_sql(paths)}"
        + (f" WHERE {where}" if where else "")
    )


def _export(
    con: duckdb.DuckDBPyConnection, table: str, types: Mapping[str, str], *, skip: int = 0
) -> pa.Table:
    """The table's rows (from row ``skip`` on, in insertion order) as Arrow with lake types."""
    select = ", ".join(
        f"CAST({quote_ident(n)} AS VARCHAR) AS {quote_ident(n)}" if t == "JSON" else quote_ident(n)
        for n, t in types.items()
    )
    where = f" WHERE rowid >= {int(skip)}" if skip else ""
    con.complete()  # a result DuckDBSync read with fetchone() may still be open
    table_ = con.sql(f"SELECT {select} FROM {table}{where} ORDER BY rowid").to_arrow_table()
    schema = pa.schema([pa.field(n, _ARROW_TYPES[t]) for n, t in types.items()])
    return table_.cast(schema)


def _state_rows(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, dict[str, Any]]:
    rows = con.execute(
        f"SELECT stream, CAST(state AS VARCHAR), updated_at, sync_id "
        f"FROM {qualified(RAW_META_SCHEMA, 'stream_state')} WHERE source = ?",
        [source],
    ).fetchall()
    return {
        stream: {
            "source": source,
            "stream": stream,
            "state": state,
            "updated_at": updated_at.isoformat(),
            "sync_id": sync_id,
        }
        for stream, state, updated_at, sync_id in rows
    }


def attach_lake(
    con: duckdb.DuckDBPyConnection, root: str | Path, *, materialize: bool = False
) -> list[str]:
    """Register every table of the lake's committed manifest in DuckDB: ``schema.table`` as a
    view over exactly the listed files (or a table, with ``materialize``), columns cast to
    their declared types. Returns the qualified names."""
    root = Path(root)
    names = []
    for entry in read_manifest(root)["tables"]:
        schema, name = entry["schema"], entry["name"]
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        columns = ", ".join(
            f"CAST({quote_ident(c['name'])} AS {c['type']}) AS {quote_ident(c['name'])}"
            for c in entry["columns"]
        )
        if entry["files"]:
            paths = [str(root / f) for f in entry["files"]]
            body = f"SELECT {columns} FROM {_files_sql(paths)}"
        else:
            body = f"SELECT {columns} WHERE false"
        kind = "TABLE" if materialize else "VIEW"
        con.execute(f"CREATE OR REPLACE {kind} {qualified(schema, name)} AS {body}")
        names.append(f"{schema}.{name}")
    return names


def write_table(
    destination: ParquetDestination,
    schema: str,
    name: str,
    table: pa.Table,
    columns: Mapping[str, str],
    *,
    mode: str = "append",
) -> int:
    """Commit a whole Arrow table to the lake as ``schema.name`` (``mode`` ``append`` adds a
    slice, ``overwrite`` replaces the table); returns the new generation. Used by writers other
    than the connectors, e.g. the statistical forecast (``forecast.statistical_forecasts``)."""
    if mode not in ("append", "overwrite"):
        raise ValueError(f"mode must be append or overwrite, not {mode!r}")
    for identifier in (schema, name, *columns):
        validate_identifier(identifier, source="lake", obj=name)
    arrow_schema = pa.schema([pa.field(n, _ARROW_TYPES[t.upper()]) for n, t in columns.items()])
    path = destination.write_slice(
        schema, name, table.select(list(columns)).cast(arrow_schema), "w"
    )
    change = TableChange(
        schema,
        name,
        {n: t.upper() for n, t in columns.items()},
        add=[path],
        replace_all=mode == "overwrite",
    )
    return int(destination.commit(Commit(changes=[change]))["generation"])


__all__ = [
    "Commit",
    "LakeError",
    "ParquetDestination",
    "ParquetSync",
    "TableChange",
    "attach_lake",
    "raw_schema",
    "read_manifest",
    "write_table",
]

ParquetDestination.sync_class = ParquetSync
