"""Publishing the marts on PostgreSQL: copy into ``marts_next``, then swap schemas by renaming.

The PostgreSQL counterpart of :mod:`orchestration.quality.publish` (which writes DuckDB serving
files). The build database (``SALESOPS_POSTGRES_DBNAME``: raw_*, staging, intermediate, marts,
written by the connectors and dbt) is not what BI reads. BI reads the *serving database*
(``SALESOPS_POSTGRES_SERVING_DBNAME``, default ``<dbname>_serving``), where:

* ``marts`` holds the published marts, readable by the BI role (:data:`BI_ROLE`) and by
  nobody else except the owner;
* ``marts_restricted`` holds the compensation marts (tag ``restricted`` or meta
  ``restricted: true`` in the dbt project, e.g. ``mart_commissions``), readable by the
  compensation role (:data:`COMPENSATION_ROLE`) only;
* ``marts.salesops_publication`` says which build is served (build id, run, as-of date) and
  how many rows each mart has, so a reader can check that it saw one build.

Publish (:func:`publish`)
    1. **Write**: drop and recreate ``marts_next`` and ``marts_restricted_next``; stream each
       mart from the build database with ``COPY ... TO STDOUT`` into ``COPY ... FROM STDIN``
       (binary format, spooled through a temporary file, never row by row); grant USAGE on the
       schemas and SELECT on the tables to the role that may read them. Committed, but
       invisible to BI: the role has no access to ``*_next`` until it is renamed.
    2. **Audit**: row counts in ``*_next`` equal the build's; otherwise nothing is swapped.
    3. **Swap**, one transaction: lock the served tables (ACCESS EXCLUSIVE, publication table
       first; the *publisher* waits and retries, never a reader), drop
       ``marts_prev``, rename ``marts`` -> ``marts_prev`` and ``marts_next`` -> ``marts`` (and
       the same for the restricted schemas). Privileges belong to the schema and tables, so
       the grants made in step 1 are live the moment the rename commits.

Readers
    A single statement always sees one build. A reader that needs several marts to agree reads
    them in one transaction: the first read takes a share lock that the swap waits for, so a
    transaction that started on the old build finishes on it, and one that starts during the
    swap waits a moment and then sees the new build; no reader gets an error.
    ``marts_prev`` keeps the previous build for :func:`rollback` (swap back).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from connectors.destinations.postgres import PostgresConnection

log = logging.getLogger(__name__)

SOURCE_SCHEMA = "marts"
MARTS = "marts"
RESTRICTED = "marts_restricted"
NEXT = "_next"
PREV = "_prev"
PUBLICATION_TABLE = "salesops_publication"
BI_ROLE = "salesops_bi"
COMPENSATION_ROLE = "salesops_compensation"
# The swap queues for its locks (readers arriving later queue behind it, so it is not starved)
# but gives up after this long and retries, so a very long reader only delays the publish.
LOCK_TIMEOUT = "10s"
SWAP_ATTEMPTS = 60
SPOOL_BYTES = 64 * 1024 * 1024


class PostgresPublishError(RuntimeError):
    """The new build failed its audit or could not be swapped in; ``marts`` is unchanged."""


@dataclass(frozen=True)
class PublishedBuild:
    build_id: str
    marts: dict[str, int] = field(default_factory=dict)
    restricted_marts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    swap_attempts: int = 0


def serving_connection(
    build: PostgresConnection, env: Mapping[str, str] | None = None
) -> PostgresConnection:
    """The serving database: ``SALESOPS_POSTGRES_SERVING_DBNAME`` or ``<dbname>_serving`` on
    the build's server, with the build's credentials."""
    import os

    env = os.environ if env is None else env
    name = env.get("SALESOPS_POSTGRES_SERVING_DBNAME", "").strip() or f"{build.dbname}_serving"
    return PostgresConnection(
        host=build.host, port=build.port, user=build.user, dbname=name, password=build.password
    )


def ensure_serving_database(build: PostgresConnection, serving: PostgresConnection) -> None:
    """Create the serving database if missing; only its owner and granted roles reach it."""
    con = build.connect(application_name="salesops-publish")
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [serving.dbname])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(serving.dbname)))
            # BI reaches the serving database only; the build database is not for readers.
            for name in (build.dbname, serving.dbname):
                cur.execute(
                    sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name))
                )
    finally:
        con.close()


def ensure_roles(
    con: psycopg2.extensions.connection,
    *,
    bi_role: str = BI_ROLE,
    compensation_role: str = COMPENSATION_ROLE,
) -> None:
    """Create the group roles (NOLOGIN; grant them to login users) and let them connect."""
    with con.cursor() as cur:
        for role in (bi_role, compensation_role):
            # Roles are global to the server: two publishers may race to create one.
            cur.execute(
                sql.SQL(
                    "DO $$ BEGIN CREATE ROLE {} NOLOGIN; EXCEPTION "
                    "WHEN duplicate_object OR unique_violation THEN NULL; END $$"
                ).format(sql.Identifier(role))
            )
            cur.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(con.info.dbname), sql.Identifier(role)
                )
            )
        # Nobody but the owner may create objects in public or read what lands there.
        cur.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    con.commit()


def _columns(cur, schema: str, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        [schema, table],
    )
    return cur.fetchall()


def _copy_table(source_cur, target_cur, source_schema: str, schema: str, table: str) -> int:
    columns = _columns(source_cur, source_schema, table)
    if not columns:
        raise PostgresPublishError(f"{source_schema}.{table} does not exist in the build")
    target_cur.execute(
        sql.SQL("CREATE TABLE {}.{} ({})").format(
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_))
                for name, type_ in columns
            ),
        )
    )
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        source_cur.copy_expert(
            sql.SQL("COPY {}.{} TO STDOUT (FORMAT binary)")
            .format(sql.Identifier(source_schema), sql.Identifier(table))
            .as_string(source_cur),
            spool,
        )
        spool.seek(0)
        target_cur.copy_expert(
            sql.SQL("COPY {}.{} FROM STDIN (FORMAT binary)")
            .format(sql.Identifier(schema), sql.Identifier(table))
            .as_string(target_cur),
            spool,
        )
    target_cur.execute(
        sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    )
    return int(target_cur.fetchone()[0])


def _count(cur, schema: str, table: str) -> int:
    cur.execute(
        sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    )
    return int(cur.fetchone()[0])


def _prepare(
    cur,
    schema: str,
    role: str,
    tables: Iterable[str],
    source_cur,
    source_schema: str,
    publication: dict,
) -> dict[str, int]:
    target = schema + NEXT
    cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target)))
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target)))
    counts = {}
    for table in tables:
        counts[table] = _copy_table(source_cur, cur, source_schema, target, table)
        expected = _count(source_cur, source_schema, table)
        if counts[table] != expected:  # the audit: nothing is swapped on a short copy
            raise PostgresPublishError(
                f"{target}.{table} has {counts[table]} rows, the build {expected}; not published"
            )
    cur.execute(
        sql.SQL(
            "CREATE TABLE {}.{} (build_id text, run_id text, as_of_date date, "
            "published_at timestamptz, mart_rows jsonb)"
        ).format(sql.Identifier(target), sql.Identifier(PUBLICATION_TABLE))
    )
    cur.execute(
        sql.SQL("INSERT INTO {}.{} VALUES (%s, %s, %s, %s, %s::jsonb)").format(
            sql.Identifier(target), sql.Identifier(PUBLICATION_TABLE)
        ),
        [
            publication["build_id"],
            publication["run_id"],
            publication["as_of"],
            publication["at"],
            json.dumps(counts, sort_keys=True),
        ],
    )
    # Grants before the rename: they travel with the schema and its tables.
    cur.execute(
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            sql.Identifier(target), sql.Identifier(role)
        )
    )
    cur.execute(
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
            sql.Identifier(target), sql.Identifier(role)
        )
    )
    return counts


def _tables(cur, schema: str) -> list[str]:
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1",
        [schema],
    )
    return [row[0] for row in cur.fetchall()]


def _schema_exists(cur, schema: str) -> bool:
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
    return cur.fetchone() is not None


def swap(
    con: psycopg2.extensions.connection,
    readers: Mapping[str, str] | None = None,
    *,
    attempts: int = SWAP_ATTEMPTS,
) -> int:
    """Rename ``<s>`` -> ``<s>_prev`` and ``<s>_next`` -> ``<s>`` for every schema of
    ``readers`` (schema -> the role that reads it) in one transaction; the role loses its
    access to ``<s>_prev``. Returns the attempts it took. Waits for readers, never interrupts
    them."""
    readers = dict(readers or {MARTS: BI_ROLE, RESTRICTED: COMPENSATION_ROLE})
    schemas = list(readers)
    for attempt in range(1, attempts + 1):
        try:
            with con.cursor() as cur:
                cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                # The publication table first: readers read it first, so a reader holding any
                # mart holds it too, the swap then waits before holding anything, and no
                # deadlock can form. (If one does, PostgreSQL aborts the swap, which waited
                # first, and the swap retries; the reader goes on.)
                names = [(n, t) for s in schemas for n in (s, s + PREV) for t in _tables(cur, n)]
                names.sort(key=lambda item: item[1] != PUBLICATION_TABLE)
                locked = [
                    sql.SQL("{}.{}").format(sql.Identifier(n), sql.Identifier(t)) for n, t in names
                ]
                if locked:
                    cur.execute(
                        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                            sql.SQL(", ").join(locked)
                        )
                    )
                for schema in schemas:
                    if not _schema_exists(cur, schema + NEXT):
                        raise PostgresPublishError(f"{schema + NEXT} is missing: nothing to swap")
                    cur.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                            sql.Identifier(schema + PREV)
                        )
                    )
                    if _schema_exists(cur, schema):
                        cur.execute(
                            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                                sql.Identifier(schema), sql.Identifier(schema + PREV)
                            )
                        )
                        # The previous build is kept for rollback, not for reading.
                        cur.execute(
                            sql.SQL("REVOKE USAGE ON SCHEMA {} FROM {}").format(
                                sql.Identifier(schema + PREV), sql.Identifier(readers[schema])
                            )
                        )
                    cur.execute(
                        sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                            sql.Identifier(schema + NEXT), sql.Identifier(schema)
                        )
                    )
            con.commit()
            return attempt
        except (psycopg2.errors.LockNotAvailable, psycopg2.errors.DeadlockDetected):
            con.rollback()
            time.sleep(0.05)
        except BaseException:
            con.rollback()
            raise
    raise PostgresPublishError(
        f"could not lock the served marts in {attempts} attempts (long-running readers?); "
        "the previous build is still served"
    )


def publish(
    build: PostgresConnection,
    serving: PostgresConnection,
    marts: Iterable[str],
    *,
    restricted: Iterable[str] = (),
    build_id: str,
    run_id: str = "",
    as_of: dt.date | None = None,
    source_schema: str = SOURCE_SCHEMA,
    bi_role: str = BI_ROLE,
    compensation_role: str = COMPENSATION_ROLE,
) -> PublishedBuild:
    """Copy ``marts`` from ``source_schema`` of the build database into the serving database
    and swap them in (module docstring). Restricted marts go to ``marts_restricted`` only."""
    started = time.perf_counter()
    restricted = frozenset(restricted)
    marts = sorted(set(marts))
    public = [m for m in marts if m not in restricted]
    private = [m for m in marts if m in restricted]
    ensure_serving_database(build, serving)
    source = build.connect(application_name="salesops-publish")
    target = serving.connect(application_name="salesops-publish")
    try:
        source.set_session(readonly=True, isolation_level="REPEATABLE READ")
        ensure_roles(target, bi_role=bi_role, compensation_role=compensation_role)
        publication = {
            "build_id": build_id,
            "run_id": run_id,
            "as_of": as_of,
            "at": dt.datetime.now(dt.UTC),
        }
        with source.cursor() as source_cur, target.cursor() as cur:
            counts = _prepare(cur, MARTS, bi_role, public, source_cur, source_schema, publication)
            private_counts = _prepare(
                cur, RESTRICTED, compensation_role, private, source_cur, source_schema, publication
            )
        target.commit()
        source.rollback()
        attempts = swap(target, {MARTS: bi_role, RESTRICTED: compensation_role})
    except BaseException:
        target.rollback()
        raise
    finally:
        source.close()
        target.close()
    return PublishedBuild(build_id, counts, private_counts, time.perf_counter() - started, attempts)


def rollback(
    serving: PostgresConnection,
    *,
    bi_role: str = BI_ROLE,
    compensation_role: str = COMPENSATION_ROLE,
) -> None:
    """Serve the previous build again: ``marts_prev`` and ``marts`` trade places."""
    readers = {MARTS: bi_role, RESTRICTED: compensation_role}
    con = serving.connect(application_name="salesops-publish")
    try:
        with con.cursor() as cur:
            for schema, role in readers.items():
                if not _schema_exists(cur, schema + PREV):
                    raise PostgresPublishError(
                        f"{schema + PREV} is missing: nothing to roll back to"
                    )
                cur.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                        sql.Identifier(schema + NEXT)
                    )
                )
                cur.execute(
                    sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                        sql.Identifier(schema + PREV), sql.Identifier(schema + NEXT)
                    )
                )
                cur.execute(
                    sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                        sql.Identifier(schema + NEXT), sql.Identifier(role)
                    )
                )
        con.commit()
        swap(con, readers)
    finally:
        con.close()


def served_build(con: psycopg2.extensions.connection) -> dict | None:
    """The served build (``marts.salesops_publication``), or ``None`` before the first publish."""
    with con.cursor() as cur:
        if not _schema_exists(cur, MARTS):
            return None
        cur.execute(
            sql.SQL("SELECT build_id, as_of_date, mart_rows FROM {}.{}").format(
                sql.Identifier(MARTS), sql.Identifier(PUBLICATION_TABLE)
            )
        )
        row = cur.fetchone()
    return None if row is None else {"build_id": row[0], "as_of_date": row[1], "marts": row[2]}
