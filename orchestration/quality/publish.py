"""Write-audit-publish of the marts: new serving files, verified, renamed over the old ones.

Publish (:func:`publish`)
    1. **Write** the ``marts`` schema of the build warehouse into a *new* DuckDB file in the
       version archive (``<SALESOPS_SERVING>.versions/<version>/serving.duckdb``), attached with
       ``STORAGE_VERSION 'v1.0.0'`` so that DuckDB 1.x readers (BI drivers lag DuckDB 2.0, whose
       default format they cannot open) read it. Compensation marts (:data:`RESTRICTED_MARTS`)
       go to the restricted file instead (``SALESOPS_SERVING_RESTRICTED``, mode 0600, archive
       directories 0700). Both files carry ``salesops.publication`` (version, run, as-of date)
       and ``salesops.mart_rows``. Every mart is also exported as Parquet next to them.
    2. **Audit**: reopen the new files read-only and compare every mart's row count and content
       hash (``sum(hash(row))``) with the warehouse; check the file header's storage number
       (64: readable by DuckDB 0.10 and every 1.x), that no WAL was left behind and the Parquet
       row counts.
    3. **Publish**: copy the archived file next to the serving path and ``os.replace`` it over
       the old one (restricted first, then public). A rename is atomic: a reader that opened the
       old file keeps reading it whole, a new reader gets the new one, nobody sees a mix. The
       Parquet folders are published the same way through a symlink
       (``<serving stem>_parquet`` -> the version's ``parquet`` folder).

Versions and rollback
    ``versions.json`` in the archive lists the versions, newest last, and the current one. The
    last ``keep`` versions are kept (default 5). :func:`rollback` copies the previous version's
    archived files back the same way, so the serving files become byte for byte what was served
    before. A serving file that existed before the first publish is archived as a version of its
    own, so even the first publish can be rolled back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from orchestration.quality.sql import quote_ident, rows, sql_literal, tables_in

STORAGE_VERSION = "v1.0.0"
STORAGE_NUMBER_READABLE_BY_1X = 64  # main header version number DuckDB 0.10 - 1.x read
MARTS_SCHEMA = "marts"
META_SCHEMA = "salesops"
RESTRICTED_MARTS = frozenset({"mart_commissions"})
KEEP_VERSIONS = 5
SERVING_FILE = "serving.duckdb"
RESTRICTED_FILE = "serving_restricted.duckdb"


class PublishError(RuntimeError):
    """The new version failed its audit or could not be published; serving is unchanged."""


@dataclass(frozen=True)
class ServingPaths:
    serving: Path
    restricted: Path

    @classmethod
    def from_settings(cls, settings) -> ServingPaths:
        return cls(Path(settings.serving), Path(settings.serving_restricted))

    @property
    def archive(self) -> Path:
        return self.serving.parent / f"{self.serving.name}.versions"

    @property
    def restricted_archive(self) -> Path:
        return self.restricted.parent / f"{self.restricted.name}.versions"

    @property
    def parquet_link(self) -> Path:
        return self.serving.parent / f"{self.serving.stem}_parquet"

    @property
    def restricted_parquet_link(self) -> Path:
        return self.restricted.parent / f"{self.restricted.stem}_parquet"

    @property
    def manifest(self) -> Path:
        return self.archive / "versions.json"

    def version_dir(self, version: str) -> Path:
        return self.archive / version

    def restricted_version_dir(self, version: str) -> Path:
        return self.restricted_archive / version


@dataclass
class PublishResult:
    version: str
    action: str  # publish, rollback
    marts: dict[str, int] = field(default_factory=dict)
    restricted_marts: dict[str, int] = field(default_factory=dict)
    serving_sha256: str = ""
    restricted_sha256: str = ""
    previous_version: str | None = None
    storage_version: str = STORAGE_VERSION
    seconds: float = 0.0
    run_id: str | None = None
    as_of_date: str | None = None

    def log_entry(self, paths: ServingPaths) -> dict[str, Any]:
        return {
            "version": self.version,
            "action": self.action,
            "run_id": self.run_id,
            "as_of_date": self.as_of_date,
            "serving_path": str(paths.serving),
            "serving_sha256": self.serving_sha256,
            "restricted_sha256": self.restricted_sha256,
            "marts": {**self.marts, **self.restricted_marts},
            "storage_version": self.storage_version,
        }


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def storage_number(path: Path) -> int:
    """The storage version number in a DuckDB file's main header."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if header[8:12] != b"DUCK":
        raise PublishError(f"{path} is not a DuckDB database file")
    return struct.unpack("<Q", header[12:20])[0]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _install(source: Path, target: Path, mode: int) -> None:
    """Copy ``source`` next to ``target`` and rename it over ``target`` (atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, mode)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        if sha256(tmp) != sha256(source):
            raise PublishError(f"copy of {source} to {tmp} differs")
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _link(target_dir: Path, link: Path) -> None:
    """Point the symlink ``link`` at ``target_dir`` atomically."""
    tmp = link.parent / f".{link.name}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target_dir, link.parent), tmp)
    if link.exists() and not link.is_symlink():
        raise PublishError(f"{link} exists and is not a symlink; move it away to publish Parquet")
    os.replace(tmp, link)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, stat.S_IRWXU)
    return path


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


def read_manifest(paths: ServingPaths) -> dict[str, Any]:
    if not paths.manifest.exists():
        return {"current": None, "versions": []}
    return json.loads(paths.manifest.read_text())


def _write_manifest(paths: ServingPaths, manifest: dict[str, Any]) -> None:
    paths.archive.mkdir(parents=True, exist_ok=True)
    tmp = paths.manifest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, paths.manifest)


def versions(paths: ServingPaths) -> list[dict[str, Any]]:
    return read_manifest(paths)["versions"]


def current_version(paths: ServingPaths) -> str | None:
    return read_manifest(paths)["current"]


def _archive_external(paths: ServingPaths, manifest: dict[str, Any], now: dt.datetime) -> None:
    """Keep a serving file the archive does not know (published before versioning, or by hand)
    as a version, so the first publish can be rolled back too."""
    if not paths.serving.exists():
        return
    digest = sha256(paths.serving)
    known = {v["serving_sha256"] for v in manifest["versions"]}
    if digest in known:
        return
    version = f"{now:%Y%m%dT%H%M%S%fZ}-existing"
    folder = paths.version_dir(version)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths.serving, folder / SERVING_FILE)
    restricted_digest = ""
    if paths.restricted.exists():
        rfolder = _private_dir(paths.restricted_version_dir(version))
        shutil.copyfile(paths.restricted, rfolder / RESTRICTED_FILE)
        os.chmod(rfolder / RESTRICTED_FILE, 0o600)
        restricted_digest = sha256(paths.restricted)
    manifest["versions"].append(
        {
            "version": version,
            "run_id": None,
            "as_of_date": None,
            "published_at": now.isoformat(),
            "serving_sha256": digest,
            "restricted_sha256": restricted_digest,
            "marts": {},
            "storage_version": None,
            "parquet": False,
        }
    )
    manifest["current"] = version


# --------------------------------------------------------------------------------------------
# Write and audit
# --------------------------------------------------------------------------------------------


def _fingerprints(
    con: duckdb.DuckDBPyConnection, catalog: str, tables: list[str]
) -> dict[str, tuple[int, int]]:
    out = {}
    for table in tables:
        ident = f"{catalog}.{MARTS_SCHEMA}.{quote_ident(table)}"
        count, digest = rows(con, f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {ident} t")[0]
        out[table] = (int(count), int(digest))
    return out


def _write_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tables: list[str],
    publication: dict[str, Any],
    counts: dict[str, int],
    storage_version: str,
) -> None:
    con.execute(
        f"ATTACH {sql_literal(str(path))} AS new_serving (STORAGE_VERSION {sql_literal(storage_version)})"
    )
    try:
        con.execute(f"CREATE SCHEMA new_serving.{MARTS_SCHEMA}")
        con.execute(f"CREATE SCHEMA new_serving.{META_SCHEMA}")
        for table in tables:
            con.execute(
                f"CREATE TABLE new_serving.{MARTS_SCHEMA}.{quote_ident(table)} AS "
                f"SELECT * FROM wh.{MARTS_SCHEMA}.{quote_ident(table)}"
            )
        con.execute(
            f"CREATE TABLE new_serving.{META_SCHEMA}.publication (version VARCHAR, run_id VARCHAR, "
            "as_of_date DATE, published_at TIMESTAMPTZ, storage_version VARCHAR, restricted BOOLEAN)"
        )
        con.execute(
            f"INSERT INTO new_serving.{META_SCHEMA}.publication VALUES (?, ?, ?, ?, ?, ?)",
            [
                publication["version"],
                publication["run_id"],
                publication["as_of_date"],
                publication["published_at"],
                storage_version,
                publication["restricted"],
            ],
        )
        con.execute(
            f"CREATE TABLE new_serving.{META_SCHEMA}.mart_rows (mart VARCHAR, row_count BIGINT)"
        )
        for table in tables:
            con.execute(
                f"INSERT INTO new_serving.{META_SCHEMA}.mart_rows VALUES (?, ?)",
                [table, counts[table]],
            )
    finally:
        con.execute("DETACH new_serving")


def _export_parquet(con, folder: Path, tables: list[str], mode: int | None) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for table in tables:
        target = folder / f"{table}.parquet"
        con.execute(
            f"COPY (SELECT * FROM wh.{MARTS_SCHEMA}.{quote_ident(table)}) TO {sql_literal(str(target))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        if mode is not None:
            os.chmod(target, mode)
        out[table] = target
    return out


def audit(
    path: Path,
    expected: dict[str, tuple[int, int]],
    version: str,
    parquet: dict[str, Path],
) -> None:
    """The new file holds exactly the expected marts (count and content hash), in a format
    DuckDB 1.x reads, fully checkpointed; the Parquet files have the same row counts."""
    problems = []
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        problems.append(f"{wal.name} left behind (not checkpointed)")
    number = storage_number(path)
    if number > STORAGE_NUMBER_READABLE_BY_1X:
        problems.append(f"storage number {number}: DuckDB 1.x readers cannot open it")
    con = duckdb.connect(str(path), read_only=True)
    try:
        found = set(tables_in(con, MARTS_SCHEMA))
        if found != set(expected):
            problems.append(f"marts {sorted(found)} != expected {sorted(expected)}")
        fingerprints = _fingerprints(con, _catalog(con), sorted(found & set(expected)))
        for table, want in expected.items():
            got = fingerprints.get(table)
            if got is not None and got != want:
                problems.append(f"{table}: rows/hash {got} != warehouse {want}")
        stamped = rows(con, f"SELECT version FROM {META_SCHEMA}.publication")
        if stamped != [(version,)]:
            problems.append(f"publication stamp {stamped} != {version}")
        for table, file in parquet.items():
            n = rows(con, f"SELECT count(*) FROM read_parquet({sql_literal(str(file))})")[0][0]
            if n != expected[table][0]:
                problems.append(f"{file.name}: {n} rows != {expected[table][0]}")
    finally:
        con.close()
    if problems:
        raise PublishError(f"audit of {path} failed: " + "; ".join(problems))


def _catalog(con) -> str:
    return quote_ident(rows(con, "SELECT current_database()")[0][0])


def publish(
    warehouse: Path,
    paths: ServingPaths,
    *,
    run_id: str | None = None,
    as_of: dt.date | None = None,
    keep: int = KEEP_VERSIONS,
    restricted_marts: frozenset[str] = RESTRICTED_MARTS,
    storage_version: str = STORAGE_VERSION,
    now: dt.datetime | None = None,
) -> PublishResult:
    """Write, audit and publish the warehouse's marts (see the module docstring)."""
    import time

    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    if keep < 2:
        raise ValueError("keep must be at least 2 (the current version and one to roll back to)")
    manifest = read_manifest(paths)
    _archive_external(paths, manifest, now)
    version = f"{now:%Y%m%dT%H%M%S%fZ}" + (f"-{run_id[:8]}" if run_id else "")
    folder = paths.version_dir(version)
    rfolder = _private_dir(paths.restricted_version_dir(version))
    folder.mkdir(parents=True, exist_ok=False)
    try:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"ATTACH {sql_literal(str(warehouse))} AS wh (READ_ONLY)")
            marts = tables_in(con, MARTS_SCHEMA, catalog="wh")
            if not marts:
                raise PublishError(f"{warehouse} has no tables in schema {MARTS_SCHEMA}")
            public = [t for t in marts if t not in restricted_marts]
            private = [t for t in marts if t in restricted_marts]
            expected = _fingerprints(con, "wh", marts)
            counts = {t: expected[t][0] for t in marts}
            publication = {
                "version": version,
                "run_id": run_id,
                "as_of_date": as_of,
                "published_at": now,
            }
            _write_file(
                con,
                folder / SERVING_FILE,
                public,
                {**publication, "restricted": False},
                counts,
                storage_version,
            )
            _write_file(
                con,
                rfolder / RESTRICTED_FILE,
                private,
                {**publication, "restricted": True},
                counts,
                storage_version,
            )
            os.chmod(rfolder / RESTRICTED_FILE, 0o600)
            parquet = _export_parquet(con, folder / "parquet", public, None)
            rparquet = _export_parquet(con, _private_dir(rfolder / "parquet"), private, 0o600)
        finally:
            con.close()
        audit(folder / SERVING_FILE, {t: expected[t] for t in public}, version, parquet)
        audit(rfolder / RESTRICTED_FILE, {t: expected[t] for t in private}, version, rparquet)
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(rfolder, ignore_errors=True)
        raise

    previous = manifest["current"]
    _install(rfolder / RESTRICTED_FILE, paths.restricted, 0o600)
    _install(folder / SERVING_FILE, paths.serving, 0o644)
    _link(folder / "parquet", paths.parquet_link)
    _link(rfolder / "parquet", paths.restricted_parquet_link)
    result = PublishResult(
        version=version,
        action="publish",
        marts={t: counts[t] for t in public},
        restricted_marts={t: counts[t] for t in private},
        serving_sha256=sha256(paths.serving),
        restricted_sha256=sha256(paths.restricted),
        previous_version=previous,
        storage_version=storage_version,
        run_id=run_id,
        as_of_date=as_of.isoformat() if as_of else None,
    )
    manifest["versions"].append(
        {
            "version": version,
            "run_id": run_id,
            "as_of_date": result.as_of_date,
            "published_at": now.isoformat(),
            "serving_sha256": result.serving_sha256,
            "restricted_sha256": result.restricted_sha256,
            "marts": {**result.marts, **result.restricted_marts},
            "storage_version": storage_version,
            "parquet": True,
        }
    )
    manifest["current"] = version
    _prune(paths, manifest, keep)
    _write_manifest(paths, manifest)
    result.seconds = time.perf_counter() - started
    return result


def _prune(paths: ServingPaths, manifest: dict[str, Any], keep: int) -> None:
    entries = manifest["versions"]
    if len(entries) <= keep:
        return
    current = manifest["current"]
    drop = [e for e in entries[: len(entries) - keep] if e["version"] != current]
    for entry in drop:
        shutil.rmtree(paths.version_dir(entry["version"]), ignore_errors=True)
        shutil.rmtree(paths.restricted_version_dir(entry["version"]), ignore_errors=True)
    gone = {e["version"] for e in drop}
    manifest["versions"] = [e for e in entries if e["version"] not in gone]


def rollback(paths: ServingPaths, to: str | None = None) -> PublishResult:
    """Serve the version before the current one (or ``to``) again, byte for byte."""
    manifest = read_manifest(paths)
    entries = manifest["versions"]
    names = [e["version"] for e in entries]
    current = manifest["current"]
    if to is None:
        if current not in names or names.index(current) == 0:
            raise PublishError(
                "nothing to roll back to: "
                + ("no published version" if not names else f"{current} is the oldest version kept")
            )
        target = entries[names.index(current) - 1]
    else:
        if to not in names:
            raise PublishError(f"unknown version {to!r}; kept: {', '.join(names) or 'none'}")
        target = entries[names.index(to)]
    version = target["version"]
    folder = paths.version_dir(version)
    rfolder = paths.restricted_version_dir(version)
    if not (folder / SERVING_FILE).exists():
        raise PublishError(f"version {version} has no archived serving file in {folder}")
    if sha256(folder / SERVING_FILE) != target["serving_sha256"]:
        raise PublishError(f"archived {folder / SERVING_FILE} does not match its checksum")
    if (rfolder / RESTRICTED_FILE).exists():
        _install(rfolder / RESTRICTED_FILE, paths.restricted, 0o600)
    _install(folder / SERVING_FILE, paths.serving, 0o644)
    if target.get("parquet"):
        _link(folder / "parquet", paths.parquet_link)
        if (rfolder / "parquet").exists():
            _link(rfolder / "parquet", paths.restricted_parquet_link)
    manifest["current"] = version
    _write_manifest(paths, manifest)
    return PublishResult(
        version=version,
        action="rollback",
        marts=dict(target.get("marts") or {}),
        serving_sha256=sha256(paths.serving),
        restricted_sha256=sha256(paths.restricted) if paths.restricted.exists() else "",
        previous_version=current,
        storage_version=target.get("storage_version") or "",
        run_id=target.get("run_id"),
        as_of_date=target.get("as_of_date"),
    )


def serving_marts(path: Path) -> dict[str, int]:
    """Rows per mart of a published serving file (empty when there is none)."""
    if not path.exists():
        return {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            table: int(rows(con, f"SELECT count(*) FROM {MARTS_SCHEMA}.{quote_ident(table)}")[0][0])
            for table in tables_in(con, MARTS_SCHEMA)
        }
    finally:
        con.close()
