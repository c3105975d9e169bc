"""SQL that DuckDB and PostgreSQL both run unchanged: the rules of the raw layer, written once.

Every statement here is a pure function of names and types; identifiers are quoted with
:func:`~connectors.naming.quote_ident`. ``param`` is the driver's placeholder (``?`` for
DuckDB, ``%s`` for psycopg2). The rules themselves (version dedupe, stale cursors, the row
hash) are explained in :mod:`connectors.destinations.duckdb`.

The temporary tables a batch passes through (source columns cannot start with ``_``, so none
of these names collide with a column):

* :data:`VALID`: the rows that cast, typed, with ``_is_deleted``, ``_row_hash`` and the batch
  position :data:`ORD`; each engine fills it its own way.
* :data:`PRIOR`: the current row's hash and cursor for each batch row whose key has one
  (:func:`prior_select`).
* :data:`WINNERS`: the row per key that becomes current (:func:`winners_select`).
* :data:`SEEN`: the batch rows that are stored versions other than the current one
  (:func:`seen_select`).
* :data:`KEYS` / :data:`DELETED`: the keys to flag deleted, and the rows they flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connectors.naming import qualified, quote_ident

RAW_META_SCHEMA = "raw_meta"

VALID = "_salesops_valid"
PRIOR = "_salesops_prior"
PRIOR_HASH = "_salesops_prior_hash"
PRIOR_CURSOR = "_salesops_prior_cursor"
WINNERS = "_salesops_winners"
SEEN = "_salesops_seen"
KEYS = "_salesops_keys"
DELETED = "_salesops_deleted"
ORD = "_salesops_ord"

# PostgreSQL functions take at most 100 arguments, so concat() over a wide table is nested;
# concat skips NULLs and nests to the same text, so the hash is the same either way.
_MAX_CONCAT_ARGS = 90
_RS, _US = chr(30), chr(31)  # the row hash's separators: after a column's name, after its value

QUARANTINE = qualified(RAW_META_SCHEMA, "quarantine")
SYNC_LOG = qualified(RAW_META_SCHEMA, "sync_log")
STREAM_STATE = qualified(RAW_META_SCHEMA, "stream_state")


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def key_match(left: str, right: str, primary_key: Sequence[str]) -> str:
    return " AND ".join(f"{left}.{quote_ident(k)} = {right}.{quote_ident(k)}" for k in primary_key)


def column_list(columns: Iterable[str], alias: str | None = None) -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote_ident(c) for c in columns)


def row_hash_sql(columns: Iterable[str], alias: str, *, deleted: str) -> str:
    """md5 over the non-null columns (name and value, sorted by name) and the deleted flag.

    Each non-null column contributes ``name`` RS ``value`` US (ASCII record and unit
    separators); a null one contributes nothing, so adding a nullable column leaves old hashes
    unchanged. Values hash by the engine's own text form (both run in UTC), so every hash in
    one database comes from one engine and reruns dedupe.

    One ``concat`` over three parts per column, the separators guarded by ``CASE``, builds the
    same text as ``name || RS || value || US`` per column with a quarter less work in DuckDB:
    ``||`` makes an intermediate string at every step.
    """
    segments = []
    for name in sorted(columns):
        value = f"{alias}.{quote_ident(name)}"
        segments += [
            f"CASE WHEN {value} IS NOT NULL THEN {literal(name + _RS)} END",
            f"CAST({value} AS text)",
            f"CASE WHEN {value} IS NOT NULL THEN {literal(_US)} END",
        ]
    segments += [literal("_is_deleted" + _RS), f"CAST({deleted} AS text)"]
    while len(segments) > _MAX_CONCAT_ARGS:
        segments = [
            f"concat({', '.join(segments[i : i + _MAX_CONCAT_ARGS])})"
            for i in range(0, len(segments), _MAX_CONCAT_ARGS)
        ]
    return f"md5(concat({', '.join(segments)}))"


def prior_select(current: str, primary_key: Sequence[str], cursor_field: str | None) -> str:
    """The :data:`VALID` rows whose key already has a current row, with that row's hash and
    cursor: the one read of ``current`` a batch makes (every later step joins this instead)."""
    cursor = f", c.{quote_ident(cursor_field)} AS {PRIOR_CURSOR}" if cursor_field else ""
    return (
        f"SELECT v.{ORD}, c._row_hash AS {PRIOR_HASH}{cursor} "
        f"FROM {VALID} v JOIN {current} c ON {key_match('c', 'v', primary_key)}"
    )


def winners_select(primary_key: Sequence[str], cursor_field: str | None) -> str:
    """The row per key that becomes current (by position, with its key and whether it is an
    insert or an update): greatest cursor, then latest in the batch.

    A row older than the stored one (by cursor) does not win, so a re-fetched stale page cannot
    roll a record back.
    """
    keys = column_list(primary_key)
    order = f"{quote_ident(cursor_field)} DESC NULLS LAST, " if cursor_field else ""
    not_stale = ""
    if cursor_field:
        cursor = quote_ident(cursor_field)
        not_stale = f"AND (p.{PRIOR_CURSOR} IS NULL OR v.{cursor} >= p.{PRIOR_CURSOR})"
    # The ranking reads only keys, cursor and position: a window over whole rows would hold
    # every column of the batch at once (out of memory on a 100-column object).
    ranked = (
        f"SELECT {ORD}, row_number() OVER (PARTITION BY {keys} ORDER BY {order}{ORD} DESC) "
        f"AS _salesops_rank FROM {VALID}"
    )
    return (
        f"SELECT v.{ORD}, {column_list(primary_key, 'v')}, "
        f"p.{ORD} IS NOT NULL AS _salesops_existed, "
        f"p.{PRIOR_HASH} IS DISTINCT FROM v._row_hash AS _salesops_changed "
        f"FROM {VALID} v LEFT JOIN {PRIOR} p ON p.{ORD} = v.{ORD} "
        f"WHERE v.{ORD} IN (SELECT {ORD} FROM ({ranked}) r WHERE _salesops_rank = 1) "
        f"{not_stale}"
    )


WINNER_COUNTS = (
    "SELECT count(*) FILTER (WHERE NOT _salesops_existed), "
    f"count(*) FILTER (WHERE _salesops_existed AND _salesops_changed) FROM {WINNERS}"
)


def seen_select(versions: str, primary_key: Sequence[str], cursor_field: str) -> str:
    """The :data:`VALID` rows that are versions already stored but not the current one.

    Only a row that neither matches its current row nor is newer than it can be one, so only
    those few rows are looked up in ``versions``: the current row is the newest version of its
    key (the winner rule), and every stored version of a key has a current row. An initial load
    or a night of changes reads no history at all.
    """
    cursor = quote_ident(cursor_field)
    return (
        f"SELECT v.{ORD} FROM {VALID} v JOIN {PRIOR} p ON p.{ORD} = v.{ORD} "
        f"WHERE p.{PRIOR_HASH} <> v._row_hash "
        f"AND NOT coalesce(v.{cursor} > p.{PRIOR_CURSOR}, false) "
        f"AND EXISTS (SELECT 1 FROM {versions} x WHERE {key_match('x', 'v', primary_key)} "
        f"AND x.{cursor} IS NOT DISTINCT FROM v.{cursor} AND x._row_hash = v._row_hash)"
    )


def append_versions_sql(
    versions: str,
    columns: Sequence[str],
    primary_key: Sequence[str],
    cursor_field: str | None,
    param: str,
) -> str:
    """Append the rows of :data:`VALID` that are new versions; parameters: synced_at, sync_id.

    A row equal to its current row is never new. With a cursor, a version is known by (key,
    cursor, hash), so the rows in :data:`SEEN` are not new either; without one, only
    "unchanged since last seen" is skipped, so A -> B -> A keeps all three. Identical (key,
    hash) rows within the batch are kept once.

    No ``ORDER BY``: DuckDB inserts a scan's rows in the order it read them
    (``preserve_insertion_order``), so versions land in batch order without the sort that took
    a quarter of each insert; nothing reads the tables by physical order anyway.
    """
    keys = column_list(primary_key)
    seen = f"AND v.{ORD} NOT IN (SELECT {ORD} FROM {SEEN}) " if cursor_field else ""
    return (
        f"INSERT INTO {versions} ({column_list(columns)}, _synced_at, _sync_id, _is_deleted, "
        f"_row_hash) SELECT {column_list(columns, 'v')}, {param}, {param}, v._is_deleted, "
        f"v._row_hash FROM {VALID} v LEFT JOIN {PRIOR} p ON p.{ORD} = v.{ORD} "
        f"WHERE v.{ORD} IN (SELECT min({ORD}) FROM {VALID} GROUP BY {keys}, _row_hash) "
        f"AND p.{PRIOR_HASH} IS DISTINCT FROM v._row_hash {seen}"
    )


def upsert_current_sql(
    current: str, columns: Sequence[str], primary_key: Sequence[str], param: str
) -> tuple[str, str]:
    """DELETE + INSERT of the :data:`WINNERS` rows; the INSERT takes synced_at, sync_id.

    Only keys that had a current row are deleted: an initial load's batches delete nothing, and
    so do not read the table they grow. No ``ORDER BY``, as in :func:`append_versions_sql`."""
    delete = (
        f"DELETE FROM {current} c USING {WINNERS} w WHERE {key_match('c', 'w', primary_key)} "
        "AND w._salesops_existed"
    )
    insert = (
        f"INSERT INTO {current} ({column_list(columns)}, _synced_at, _sync_id, _is_deleted, "
        f"_row_hash) SELECT {column_list(columns)}, {param}, {param}, _is_deleted, _row_hash "
        f"FROM {VALID} WHERE {ORD} IN (SELECT {ORD} FROM {WINNERS})"
    )
    return delete, insert


def deleted_select(current: str, source_columns: Sequence[str], key_equals: str) -> str:
    """The live rows of ``current`` whose key is in :data:`KEYS`, as their deleted version."""
    return (
        f"SELECT {column_list(source_columns, 'c')}, "
        f"{row_hash_sql(source_columns, 'c', deleted='true')} AS _row_hash "
        f"FROM {current} c WHERE NOT coalesce(c._is_deleted, false) "
        f"AND EXISTS (SELECT 1 FROM {KEYS} k WHERE {key_equals})"
    )


def flag_deleted_sql(
    current: str,
    versions: str,
    source_columns: Sequence[str],
    primary_key: Sequence[str],
    param: str,
) -> tuple[str, str]:
    """Append the :data:`DELETED` rows as versions, then flag them in ``current``; both take
    synced_at, sync_id."""
    append = (
        f"INSERT INTO {versions} ({column_list(source_columns)}, _synced_at, _sync_id, "
        f"_is_deleted, _row_hash) SELECT {column_list(source_columns)}, {param}, {param}, true, "
        f"_row_hash FROM {DELETED}"
    )
    flag = (
        f"UPDATE {current} c SET _is_deleted = true, _synced_at = {param}, _sync_id = {param}, "
        f"_row_hash = d._row_hash FROM {DELETED} d WHERE {key_match('c', 'd', primary_key)}"
    )
    return append, flag


def quarantine_sql(bad_rows: str, param: str) -> str:
    """Copy ``bad_rows`` (primary_key, reason, payload) into ``raw_meta.quarantine``; parameters:
    source, stream, sync_id, quarantined_at, source, stream.

    The same bad record seen again (a rerun, a lookback) is not quarantined twice.
    """
    p = param
    return (
        f"INSERT INTO {QUARANTINE} SELECT {p}, {p}, primary_key, reason, payload, {p}, {p} "
        f"FROM (SELECT DISTINCT primary_key, reason, payload FROM ({bad_rows}) found) bad "
        f"WHERE NOT EXISTS (SELECT 1 FROM {QUARANTINE} q WHERE q.source = {p} "
        f"AND q.stream = {p} AND q.primary_key IS NOT DISTINCT FROM bad.primary_key "
        "AND CAST(q.payload AS text) = CAST(bad.payload AS text))"
    )
