"""The raw gate: validate one raw table after a sync, quarantine invalid rows, flag awkward ones.

Row level (Great Expectations, :mod:`orchestration.quality.raw_suites`)
    Only rows of syncs this suite has not validated yet are read (``_sync_id`` not in
    ``raw_meta.gate_validated_syncs`` for the suite's fingerprint), in chunks of
    ``chunk_rows``, so the cost follows the change, not the table. The fingerprint covers the
    suite and its parameter values (picklists): when either changes, every row is validated
    again. Each chunk becomes a pandas frame validated with ``batch.validate``.

Table level (SQL in the warehouse)
    key uniqueness, referential integrity of owners and accounts, duplicates by natural key,
    awkward states that depend on the as-of date or on other tables, volume against the
    previous sync, and the table's quarantined share.

Quarantine (one mechanism; ``docs/quality.md``)
    A row failing a ``QUARANTINE`` rule stays in raw (and in ``__versions``). The gate records
    its key and reason in ``raw_meta.quarantined_keys`` (the current verdict, replaced whenever
    the row is validated again) and appends the row with its payload to ``raw_meta.quarantine``
    (the log, reason ``gate: <rule>: <expectation>``). dbt staging anti-joins
    ``quarantined_keys`` on ``(source, stream, id)``. Flags go to ``raw_meta.flagged_keys``.

Verdict
    The check fails when a ``CRITICAL`` rule fails, keys are not unique, the volume dropped,
    or the quarantined share of live rows (plus rows the connector could not land in the latest
    sync) exceeds ``max_quarantined_share`` (default 2 %) while more than
    ``min_quarantined_rows`` rows are quarantined (a single bad record never fails a small
    table on its own). Orphans beyond ``max_orphan_share`` fail it as well. The message names
    the table, the expectation, the count and shows examples.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from orchestration.quality import gx_runtime
from orchestration.quality.outcome import (
    CRITICAL,
    DEDUPLICATE,
    FAILED,
    FLAG,
    INFO,
    MAX_EXAMPLES,
    NOT_APPLICABLE,
    QUARANTINE,
    WARN,
    CheckOutcome,
    Finding,
    status_of,
)
from orchestration.quality.raw_suites import (
    KEYS,
    PARAMETERS,
    SUITE_VERSION,
    SUITES,
    RowRule,
    TableSuite,
    generic_rules,
    suite_for,
)
from orchestration.quality.sql import columns, qualified, quote_ident, rows, scalar, sql_literal
from orchestration.quality.warehouse import DatabaseError, warehouse_connection

META = "raw_meta"
GATE_REASON_PREFIX = "gate: "
CHECK_NAME = "raw_gate"

META_DDL = {
    "quarantined_keys": "source VARCHAR, stream VARCHAR, primary_key VARCHAR, reason VARCHAR, "
    "expectation VARCHAR, detail VARCHAR, sync_id VARCHAR, quarantined_at TIMESTAMPTZ",
    "flagged_keys": "source VARCHAR, stream VARCHAR, primary_key VARCHAR, flag VARCHAR, "
    "detail VARCHAR, sync_id VARCHAR, flagged_at TIMESTAMPTZ",
    "gate_validated_syncs": "source VARCHAR, stream VARCHAR, sync_id VARCHAR, "
    "fingerprint VARCHAR, rows BIGINT, validated_at TIMESTAMPTZ",
    "gate_table_stats": "source VARCHAR, stream VARCHAR, sync_id VARCHAR, live_rows BIGINT, "
    "deleted_rows BIGINT, checked_at TIMESTAMPTZ",
    # The connectors create raw_meta.quarantine; the same shape here for other loaders.
    "quarantine": "source VARCHAR, stream VARCHAR, primary_key VARCHAR, reason VARCHAR, "
    "payload JSON, sync_id VARCHAR, quarantined_at TIMESTAMPTZ",
}


@dataclass(frozen=True)
class GateConfig:
    max_quarantined_share: float = 0.02
    min_quarantined_rows: int = 1  # the share fails a table only above this many rows
    max_orphan_share: float = 0.02
    volume_max_shrink: float = 0.2  # live rows dropping by more than 20 % fails
    volume_max_growth: float = 3.0  # growing by more than 300 % warns
    volume_min_rows: int = 20  # smaller tables are not judged on volume
    chunk_rows: int = 100_000
    revalidate: bool = False  # validate every row, not only the new syncs'


def ensure_meta_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {META}")
    for name, ddl in META_DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(META, name)} ({ddl})")


def key_expression(key: tuple[str, ...], alias: str = "t") -> str:
    """The key as text, the form of ``raw_meta.quarantine.primary_key``: the value for one
    column, a JSON object for several."""
    if len(key) == 1:
        return f"CAST({alias}.{quote_ident(key[0])} AS VARCHAR)"
    pairs = ", ".join(f"{quote_ident(k)} := {alias}.{quote_ident(k)}" for k in key)
    return f"CAST(to_json(struct_pack({pairs})) AS VARCHAR)"


# --------------------------------------------------------------------------------------------
# Plan: the applicable rules of one table
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    suite: TableSuite
    columns: dict[str, str]
    rules: list[RowRule]
    derived: dict[str, str]
    parameters: dict[str, list[str]]
    fingerprint: str
    skipped: list[Finding] = field(default_factory=list)
    key_missing: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return qualified(self.suite.schema, self.suite.table)

    @property
    def key_sql(self) -> str:
        return key_expression(self.suite.key)

    @property
    def has_sync_id(self) -> bool:
        return "_sync_id" in self.columns

    @property
    def has_deleted(self) -> bool:
        return "_is_deleted" in self.columns

    @property
    def live(self) -> str:
        return "NOT coalesce(t._is_deleted, false)" if self.has_deleted else "true"

    def frame_columns(self) -> list[str]:
        needed: list[str] = []
        for r in self.rules:
            for column in _rule_columns(r):
                if column not in needed:
                    needed.append(column)
        return needed

    def select_sql(self, where: str) -> str:
        parts = [f"{self.key_sql} AS {gx_runtime.KEY_COLUMN}"]
        parts.append("t._sync_id AS _gate_sync" if self.has_sync_id else "NULL AS _gate_sync")
        for column in self.frame_columns():
            expression = self.derived.get(column) or f"t.{quote_ident(column)}"
            parts.append(f"{expression} AS {quote_ident(column)}")
        return f"SELECT {', '.join(parts)} FROM {self.table} t WHERE {where}"


def _rule_columns(r: RowRule) -> list[str]:
    kwargs = r.expectation.configuration.kwargs
    return [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]


def make_plan(con: duckdb.DuckDBPyConnection, source: str, table: str) -> Plan | None:
    """The suite of ``raw_<source>.<table>`` reduced to the rules its columns allow."""
    suite = suite_for(source, table)
    found = columns(con, suite.schema, table)
    if not found:
        return None
    gxe = gx_runtime.expectations()
    key_missing = tuple(k for k in suite.key if k not in found)
    if key_missing:  # rows cannot be told apart: only table-level checks that need no key
        return Plan(suite, found, [], {}, {}, "", [], key_missing)
    rules, derived = generic_rules(gxe, suite, found)
    rules += suite.rules(gxe) if suite.rules else []
    derived.update(suite.derived)
    applicable: list[RowRule] = []
    skipped: list[Finding] = []
    parameters: dict[str, list[str]] = {}
    for r in rules:
        description = gx_runtime.describe_expectation(r.expectation)
        missing = [
            c
            for c in _rule_columns(r)
            if (c not in derived and c not in found)
            or (c in derived and not _derived_available(derived[c], found))
        ]
        if missing:
            skipped.append(
                Finding(
                    r.reason,
                    description,
                    INFO,
                    detail=f"not applicable: no column {', '.join(missing)}",
                )
            )
            continue
        parameter = _parameter_of(r)
        if parameter is not None and parameter not in parameters:
            values = PARAMETERS[parameter](con)
            if values is None:
                skipped.append(
                    Finding(
                        r.reason,
                        description,
                        INFO,
                        detail=f"not applicable: no reference values for ${parameter}",
                    )
                )
                continue
            parameters[parameter] = values
        applicable.append(r)
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "version": SUITE_VERSION,
                "key": list(suite.key),
                "rules": [
                    [r.reason, r.action, r.expectation.configuration.to_json_dict()]
                    for r in applicable
                ],
                "derived": derived,
                "parameters": parameters,
            },
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()[:16]
    used = {c for r in applicable for c in _rule_columns(r)}
    return Plan(
        suite,
        found,
        applicable,
        {k: v for k, v in derived.items() if k in used},
        parameters,
        fingerprint,
        skipped,
    )


def _derived_available(expression: str, found: dict[str, str]) -> bool:
    """A derived column is available when the raw columns it names exist."""
    import re

    names = set(re.findall(r"[a-z_][a-z0-9_]*", expression))
    functions = {"upper", "lower", "year", "coalesce", "cast", "as", "date", "varchar"}
    return all(n in found for n in names - functions)


def _parameter_of(r: RowRule) -> str | None:
    value = r.expectation.configuration.kwargs.get("value_set")
    if isinstance(value, dict) and "$PARAMETER" in value:
        return value["$PARAMETER"]
    return None


# --------------------------------------------------------------------------------------------
# Row level
# --------------------------------------------------------------------------------------------


@dataclass
class RowFailures:
    rule: RowRule
    description: str
    keys: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    count: int = 0
    error: str | None = None

    def examples(self) -> list[str]:
        return [
            f"{k} ({d})" if d else k
            for k, d in zip(self.keys[:MAX_EXAMPLES], self.details, strict=False)
        ]


@dataclass
class RowResult:
    rows: int = 0
    chunks: int = 0
    seconds: float = 0.0
    sync_ids: Counter = field(default_factory=Counter)
    failures: dict[str, RowFailures] = field(default_factory=dict)  # by reason


def _unvalidated(plan: Plan, config: GateConfig) -> tuple[str, list[Any]]:
    if config.revalidate or not plan.has_sync_id:
        return "true", []
    return (
        f"(t._sync_id IS NULL OR t._sync_id NOT IN (SELECT sync_id FROM {qualified(META, 'gate_validated_syncs')} "
        "WHERE source = ? AND stream = ? AND fingerprint = ?))",
        [plan.suite.source, plan.suite.table, plan.fingerprint],
    )


def _suite_of(plan: Plan):
    lib = gx_runtime.gx()
    return lib.ExpectationSuite(
        name=f"raw_{plan.suite.source}.{plan.suite.table}",
        expectations=[r.expectation for r in plan.rules],
    )


def _detail(entry: dict, columns: list[str]) -> str:
    shown = []
    for column in columns:
        if column in entry:
            value = entry[column]
            if isinstance(value, float) and value != value:
                value = None
            shown.append(f"{column}={value}")
    return ", ".join(shown)


def validate_rows(con: duckdb.DuckDBPyConnection, plan: Plan, config: GateConfig) -> RowResult:
    """Validate the not-yet-validated rows chunk by chunk; failures by reason (in memory: only
    the failing keys are kept)."""
    result = RowResult()
    if not plan.rules:
        return result
    where, params = _unvalidated(plan, config)
    suite = _suite_of(plan)
    by_reason = {r.reason: r for r in plan.rules}
    for r in plan.rules:
        result.failures.setdefault(
            r.reason, RowFailures(r, gx_runtime.describe_expectation(r.expectation))
        )
    cursor = con.cursor()
    started = time.perf_counter()
    try:
        reader = cursor.sql(plan.select_sql(where), params=params).to_arrow_reader(
            config.chunk_rows
        )
        for batch in reader:
            if batch.num_rows == 0:
                continue
            frame = batch.to_pandas()
            result.rows += len(frame)
            result.chunks += 1
            result.sync_ids.update(frame["_gate_sync"].dropna().tolist())
            validation = gx_runtime.validate_frame(
                frame.drop(columns="_gate_sync"), suite, plan.parameters
            )
            for item in validation.results:
                meta = item.expectation_config.meta or {}
                reason = meta.get("reason")
                if reason not in by_reason:
                    continue
                failures = result.failures[reason]
                if item.exception_info and item.exception_info.get("raised_exception"):
                    failures.error = str(item.exception_info.get("exception_message"))[:500]
                    continue
                if item.success:
                    continue
                found = item.result.get("unexpected_index_list") or []
                rule_columns = _rule_columns(failures.rule)
                failures.count += int(item.result.get("unexpected_count") or len(found))
                for entry in found:
                    failures.keys.append(str(entry[gx_runtime.KEY_COLUMN]))
                    if len(failures.details) < MAX_EXAMPLES:
                        failures.details.append(_detail(entry, rule_columns))
    finally:
        cursor.close()
    result.seconds = time.perf_counter() - started
    return result


def _frame(records: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=names).astype(object)


def apply_row_result(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    config: GateConfig,
    result: RowResult,
    now: dt.datetime,
) -> dict[str, int]:
    """Replace the verdicts of the validated rows (quarantine, row-level flags) and log the new
    quarantines with their payload; returns new quarantines by reason. One transaction."""
    source, stream = plan.suite.source, plan.suite.table
    where, params = _unvalidated(plan, config)
    validated_keys = f"SELECT {plan.key_sql} FROM {plan.table} t WHERE {where}"
    row_flags = [r.reason for r in plan.rules if r.action == FLAG]
    quarantine_records, flag_records = [], []
    for failures in result.failures.values():
        if failures.rule.action == QUARANTINE:
            for key in failures.keys:
                quarantine_records.append(
                    {
                        "primary_key": key,
                        "reason": failures.rule.reason,
                        "expectation": failures.description,
                    }
                )
        elif failures.rule.action == FLAG:
            for key in failures.keys:
                flag_records.append(
                    {
                        "primary_key": key,
                        "flag": failures.rule.reason,
                        "detail": failures.description,
                    }
                )
    new = Counter(r["reason"] for r in quarantine_records)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"DELETE FROM {qualified(META, 'quarantined_keys')} WHERE source = ? AND stream = ? "
            f"AND primary_key IN ({validated_keys})",
            [source, stream, *params],
        )
        if row_flags:
            marks = ", ".join("?" for _ in row_flags)
            con.execute(
                f"DELETE FROM {qualified(META, 'flagged_keys')} WHERE source = ? AND stream = ? "
                f"AND flag IN ({marks}) AND primary_key IN ({validated_keys})",
                [source, stream, *row_flags, *params],
            )
        if quarantine_records:
            failed = _frame(quarantine_records, ["primary_key", "reason", "expectation"])
            con.register("_gate_failed", failed)
            try:
                con.execute(
                    f"INSERT INTO {qualified(META, 'quarantined_keys')} "
                    "SELECT ?, ?, f.primary_key, f.reason, f.expectation, NULL, t._sync_id, ? "
                    f"FROM _gate_failed f JOIN {plan.table} t ON {plan.key_sql} = f.primary_key",
                    [source, stream, now],
                )
                sync = "t._sync_id" if plan.has_sync_id else "NULL"
                con.execute(
                    f"INSERT INTO {qualified(META, 'quarantine')} "
                    f"SELECT ?, ?, f.primary_key, ? || f.reason || ': ' || f.expectation, to_json(t), "
                    f"{sync}, ? FROM _gate_failed f JOIN {plan.table} t ON {plan.key_sql} = f.primary_key "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {qualified(META, 'quarantine')} q "
                    "WHERE q.source = ? AND q.stream = ? AND q.primary_key = f.primary_key "
                    f"AND q.reason = ? || f.reason || ': ' || f.expectation "
                    f"AND q.sync_id IS NOT DISTINCT FROM {sync})",
                    [source, stream, GATE_REASON_PREFIX, now, source, stream, GATE_REASON_PREFIX],
                )
            finally:
                con.unregister("_gate_failed")
        if flag_records:
            flagged = _frame(flag_records, ["primary_key", "flag", "detail"])
            con.register("_gate_flagged", flagged)
            try:
                con.execute(
                    f"INSERT INTO {qualified(META, 'flagged_keys')} "
                    "SELECT ?, ?, f.primary_key, f.flag, f.detail, t._sync_id, ? "
                    f"FROM _gate_flagged f JOIN {plan.table} t ON {plan.key_sql} = f.primary_key",
                    [source, stream, now],
                )
            finally:
                con.unregister("_gate_flagged")
        if result.sync_ids:
            marks = [{"sync_id": s, "rows": int(n)} for s, n in sorted(result.sync_ids.items())]
            con.register("_gate_syncs", _frame(marks, ["sync_id", "rows"]))
            try:
                con.execute(
                    f"INSERT INTO {qualified(META, 'gate_validated_syncs')} "
                    "SELECT ?, ?, s.sync_id, ?, s.rows, ? FROM _gate_syncs s",
                    [source, stream, plan.fingerprint, now],
                )
            finally:
                con.unregister("_gate_syncs")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return dict(new)


# --------------------------------------------------------------------------------------------
# Table level
# --------------------------------------------------------------------------------------------


def _examples(values: list[tuple]) -> list[str]:
    out = []
    for value in values[:MAX_EXAMPLES]:
        out.append(
            " ".join(str(v) for v in value if v is not None)
            if isinstance(value, tuple)
            else str(value)
        )
    return out


def key_uniqueness(con, plan: Plan) -> Finding:
    duplicated = rows(
        con,
        f"SELECT {plan.key_sql} AS k, count(*) AS n FROM {plan.table} t GROUP BY 1 HAVING count(*) > 1 "
        "ORDER BY n DESC, k LIMIT 1000000",
    )
    return Finding(
        "key_unique",
        f"sql: ({', '.join(plan.suite.key)}) unique",
        CRITICAL,
        count=len(duplicated),
        examples=[f"{k} ×{n}" for k, n in duplicated[:MAX_EXAMPLES]],
        failed=bool(duplicated),
    )


def reference_findings(con, plan: Plan, config: GateConfig) -> list[Finding]:
    found = []
    for ref in plan.suite.references:
        expectation = (
            f"sql: {ref.column} in {ref.parent_schema}.{ref.parent_table}.{ref.parent_column}"
        )
        parent = columns(con, ref.parent_schema, ref.parent_table)
        if ref.column not in plan.columns or ref.parent_column not in parent:
            found.append(
                Finding(
                    ref.name, expectation, INFO, detail="not applicable: table or column missing"
                )
            )
            continue
        child = f"t.{quote_ident(ref.column)}"
        base = f"FROM {plan.table} t WHERE {plan.live} AND {child} IS NOT NULL"
        total = int(scalar(con, f"SELECT count(*) {base}") or 0)
        orphans = rows(
            con,
            f"SELECT {plan.key_sql}, {child} {base} AND NOT EXISTS (SELECT 1 FROM "
            f"{qualified(ref.parent_schema, ref.parent_table)} p "
            f"WHERE p.{quote_ident(ref.parent_column)} = {child}) ORDER BY 1 LIMIT 100000",
        )
        share = len(orphans) / total if total else 0.0
        failed = share > config.max_orphan_share and len(orphans) > config.min_quarantined_rows
        found.append(
            Finding(
                ref.name,
                expectation,
                CRITICAL,
                count=len(orphans),
                examples=[f"{k} ({ref.column}={v})" for k, v in orphans[:MAX_EXAMPLES]],
                failed=failed,
                detail=f"{share:.2%} of {total:,} rows, threshold {config.max_orphan_share:.0%}",
            )
        )
    return found


def refresh_table_flags(con, plan: Plan, as_of: dt.date, now: dt.datetime) -> list[Finding]:
    """Recompute the table-level flags and duplicates (they depend on the as-of date and other
    tables, so every row is re-judged; it is one SQL statement each)."""
    found = []
    source, stream = plan.suite.source, plan.suite.table
    flagged = qualified(META, "flagged_keys")
    sync = "t._sync_id" if plan.has_sync_id else "NULL"
    for flag in plan.suite.flags:
        predicate = flag.where.format(as_of=f"DATE {sql_literal(as_of.isoformat())}")
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                f"DELETE FROM {flagged} WHERE source = ? AND stream = ? AND flag = ?",
                [source, stream, flag.reason],
            )
            con.execute(
                f"INSERT INTO {flagged} SELECT ?, ?, {plan.key_sql}, ?, ?, {sync}, ? "
                f"FROM {plan.table} t WHERE {predicate}",
                [source, stream, flag.reason, flag.description, now],
            )
            con.execute("COMMIT")
        except DatabaseError as exc:
            con.execute("ROLLBACK")
            found.append(
                Finding(
                    flag.reason,
                    f"sql: {flag.description}",
                    INFO,
                    detail=f"not applicable: {exc}"[:300],
                )
            )
            continue
        keys = rows(
            con,
            f"SELECT primary_key FROM {flagged} WHERE source = ? AND stream = ? AND flag = ? ORDER BY 1",
            [source, stream, flag.reason],
        )
        found.append(
            Finding(
                flag.reason,
                f"sql: {flag.description}",
                FLAG,
                count=len(keys),
                examples=_examples([k[0] for k in keys]),
            )
        )
    for dup in plan.suite.duplicates:
        ranked = (
            f"SELECT {plan.key_sql} AS k, {sync} AS s, "
            f"first_value({plan.key_sql}) OVER (PARTITION BY {dup.partition} ORDER BY {dup.order}) AS survivor, "
            f"row_number() OVER (PARTITION BY {dup.partition} ORDER BY {dup.order}) AS n "
            f"FROM {plan.table} t WHERE {dup.where}"
        )
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                f"DELETE FROM {flagged} WHERE source = ? AND stream = ? AND flag = ?",
                [source, stream, dup.reason],
            )
            con.execute(
                f"INSERT INTO {flagged} SELECT ?, ?, k, ?, 'duplicate of ' || survivor, s, ? "
                f"FROM ({ranked}) WHERE n > 1",
                [source, stream, dup.reason, now],
            )
            con.execute("COMMIT")
        except DatabaseError as exc:
            con.execute("ROLLBACK")
            found.append(
                Finding(
                    dup.reason,
                    f"sql: {dup.partition} unique",
                    INFO,
                    detail=f"not applicable: {exc}"[:300],
                )
            )
            continue
        keys = rows(
            con,
            f"SELECT primary_key, detail FROM {flagged} WHERE source = ? AND stream = ? AND flag = ? ORDER BY 1",
            [source, stream, dup.reason],
        )
        found.append(
            Finding(
                dup.reason,
                f"sql: {dup.partition.removeprefix('t.')} unique (first by {dup.order}) — merged by dbt",
                DEDUPLICATE,
                count=len(keys),
                examples=[f"{k} ({d})" for k, d in keys[:MAX_EXAMPLES]],
            )
        )
    return found


def _latest_sync(con, plan: Plan) -> str | None:
    if not plan.has_sync_id:
        return None
    logged = None
    try:
        logged = scalar(
            con,
            f"SELECT max(sync_id) FROM {qualified(META, 'sync_log')} WHERE source = ? AND stream = ?",
            [plan.suite.source, plan.suite.table],
        )
    except DatabaseError:
        logged = None
    return logged or scalar(con, f"SELECT max(_sync_id) FROM {plan.table}")


def volume_findings(
    con, plan: Plan, config: GateConfig, sync_id: str | None, now: dt.datetime
) -> tuple[list[Finding], int]:
    live, deleted = rows(
        con,
        f"SELECT count(*) FILTER (WHERE {plan.live}), count(*) FILTER (WHERE NOT ({plan.live})) FROM {plan.table} t",
    )[0]
    stats = qualified(META, "gate_table_stats")
    previous = rows(
        con,
        f"SELECT sync_id, live_rows FROM {stats} WHERE source = ? AND stream = ? "
        "AND sync_id IS DISTINCT FROM ? ORDER BY checked_at DESC LIMIT 1",
        [plan.suite.source, plan.suite.table, sync_id],
    )
    con.execute(
        f"DELETE FROM {stats} WHERE source = ? AND stream = ? AND sync_id IS NOT DISTINCT FROM ?",
        [plan.suite.source, plan.suite.table, sync_id],
    )
    con.execute(
        f"INSERT INTO {stats} VALUES (?, ?, ?, ?, ?, ?)",
        [plan.suite.source, plan.suite.table, sync_id, live, deleted, now],
    )
    findings = []
    if previous:
        before_sync, before = previous[0]
        change = (live - before) / before if before else 0.0
        detail = f"{before:,} live rows after sync {before_sync}, {live:,} now ({change:+.1%})"
        judged = before >= config.volume_min_rows
        shrank = judged and live < before * (1 - config.volume_max_shrink)
        grew = judged and live > before * (1 + config.volume_max_growth)
        findings.append(
            Finding(
                "volume",
                f"sql: live rows within -{config.volume_max_shrink:.0%}/+{config.volume_max_growth:.0%} of the previous sync",
                CRITICAL if shrank else WARN,
                count=abs(live - before),
                failed=shrank or grew,
                detail=detail,
            )
        )
    return findings, int(live)


def quarantine_counts(con, plan: Plan) -> tuple[dict[str, int], int]:
    """Live rows currently quarantined: by reason, and distinct rows."""
    base = (
        f"FROM {qualified(META, 'quarantined_keys')} q JOIN {plan.table} t ON {plan.key_sql} = q.primary_key "
        f"WHERE q.source = ? AND q.stream = ? AND {plan.live}"
    )
    params = [plan.suite.source, plan.suite.table]
    by_reason = dict(
        rows(
            con,
            f"SELECT q.reason, count(DISTINCT q.primary_key) {base} GROUP BY 1 ORDER BY 1",
            params,
        )
    )
    total = int(scalar(con, f"SELECT count(DISTINCT q.primary_key) {base}", params) or 0)
    return {k: int(v) for k, v in by_reason.items()}, total


def connector_quarantined(con, plan: Plan, sync_id: str | None) -> int:
    """Records of the latest sync the connector could not land (values that do not cast)."""
    if sync_id is None:
        return 0
    try:
        return int(
            scalar(
                con,
                f"SELECT count(DISTINCT primary_key) FROM {qualified(META, 'quarantine')} "
                "WHERE source = ? AND stream = ? AND sync_id = ? AND reason NOT LIKE 'gate: %'",
                [plan.suite.source, plan.suite.table, sync_id],
            )
            or 0
        )
    except DatabaseError:
        return 0


def flag_counts(con, plan: Plan) -> dict[str, int]:
    return {
        k: int(v)
        for k, v in rows(
            con,
            f"SELECT flag, count(DISTINCT primary_key) FROM {qualified(META, 'flagged_keys')} "
            "WHERE source = ? AND stream = ? GROUP BY 1 ORDER BY 1",
            [plan.suite.source, plan.suite.table],
        )
    }


# --------------------------------------------------------------------------------------------
# The check of one table
# --------------------------------------------------------------------------------------------


def asset_key_of(source: str, table: str) -> str:
    return f"raw/{source}/{table}"


def check_table(
    con: duckdb.DuckDBPyConnection,
    source: str,
    table: str,
    *,
    as_of: dt.date,
    config: GateConfig | None = None,
    now: dt.datetime | None = None,
) -> CheckOutcome:
    """Run the raw gate on ``raw_<source>.<table>`` (see the module docstring)."""
    config = config or GateConfig()
    now = now or dt.datetime.now(dt.UTC)
    outcome = CheckOutcome(
        "raw", asset_key_of(source, table), CHECK_NAME, table=f"raw_{source}.{table}"
    )
    started = time.perf_counter()
    ensure_meta_tables(con)
    plan = make_plan(con, source, table)
    if plan is None:
        outcome.status = NOT_APPLICABLE
        outcome.message = f"not applicable: raw_{source}.{table} has not been landed"
        return outcome

    if plan.key_missing:
        declared = (source, table) in SUITES or (source, table) in KEYS
        outcome.findings = [
            Finding(
                "key_columns",
                f"columns {', '.join(plan.suite.key)} exist",
                CRITICAL if declared else INFO,
                failed=declared,
                detail=f"missing {', '.join(plan.key_missing)}"
                + ("" if declared else ": the table's key is unknown, rows are not validated"),
            )
        ]
        outcome.status = status_of(outcome.findings)
        outcome.message = f"{outcome.table}: no key column ({', '.join(plan.key_missing)} missing)"
        return outcome

    result = validate_rows(con, plan, config)
    new = apply_row_result(con, plan, config, result, now)
    sync_id = _latest_sync(con, plan)

    findings: list[Finding] = []
    for failures in result.failures.values():
        r = failures.rule
        finding = Finding(
            r.reason,
            failures.description,
            r.action,
            count=failures.count,
            examples=failures.examples(),
        )
        if failures.error:
            finding.failed = True
            finding.action = CRITICAL
            finding.detail = f"the expectation could not be evaluated: {failures.error}"
        elif r.action == CRITICAL:
            finding.failed = failures.count > 0
        findings.append(finding)
    findings.append(key_uniqueness(con, plan))
    findings += reference_findings(con, plan, config)
    findings += refresh_table_flags(con, plan, as_of, now)
    volume, live = volume_findings(con, plan, config, sync_id, now)
    findings += volume

    by_reason, quarantined = quarantine_counts(con, plan)
    not_landed = connector_quarantined(con, plan, sync_id)
    denominator = live + not_landed
    share = (quarantined + not_landed) / denominator if denominator else 0.0
    over = (
        share > config.max_quarantined_share
        and quarantined + not_landed > config.min_quarantined_rows
    )
    share_finding = Finding(
        "quarantined_share",
        f"quarantined share of live rows <= {config.max_quarantined_share:.0%}",
        CRITICAL,
        count=quarantined + not_landed,
        examples=[
            f"{reason}: {n:,}" for reason, n in sorted(by_reason.items(), key=lambda x: -x[1])
        ]
        + ([f"not landed by the connector: {not_landed:,}"] if not_landed else []),
        failed=over,
        detail=f"{share:.2%} of {denominator:,} rows",
    )
    if over:  # name the expectations that quarantined the rows
        for finding in findings:
            if finding.action == QUARANTINE and by_reason.get(finding.check):
                finding.failed = True
                finding.count = max(finding.count, by_reason[finding.check])
    findings.append(share_finding)
    findings += plan.skipped

    outcome.findings = findings
    outcome.status = status_of(findings)
    outcome.rows_checked = result.rows
    outcome.table_rows = live
    outcome.quarantined_rows = quarantined
    outcome.quarantined_by_reason = by_reason
    outcome.new_quarantined_by_reason = new
    outcome.new_quarantined_rows = sum(new.values())
    outcome.flagged_by_reason = flag_counts(con, plan)
    outcome.flagged_rows = sum(outcome.flagged_by_reason.values())
    seconds = time.perf_counter() - started
    outcome.metrics = {
        "sync_id": sync_id or "",
        "suite_fingerprint": plan.fingerprint,
        "expectations": len(plan.rules),
        "row_level_rows": result.rows,
        "row_level_chunks": result.chunks,
        "row_level_seconds": round(result.seconds, 4),
        "row_level_seconds_per_million_rows": round(result.seconds / result.rows * 1e6, 3)
        if result.rows
        else None,
        "seconds": round(seconds, 4),
        "quarantined_share": round(share, 6),
        "not_landed_by_connector": not_landed,
        "syncs_validated": sorted(result.sync_ids),
    }
    outcome.message = _message(outcome, share, config)
    return outcome


def _message(outcome: CheckOutcome, share: float, config: GateConfig) -> str:
    head = (
        f"{outcome.table}: {outcome.rows_checked:,} new row(s) validated, "
        f"{outcome.quarantined_rows:,} of {outcome.table_rows:,} live rows quarantined ({share:.2%}), "
        f"{outcome.flagged_rows:,} flagged"
    )
    if outcome.status == FAILED:
        causes = ", ".join(sorted({f.check for f in outcome.failing() if f.action != WARN}))
        return f"FAILED {head}; failing: {causes}"
    if outcome.failing():
        return f"WARNING {head}; " + ", ".join(f.check for f in outcome.failing())
    return head


def check_tables(
    warehouse,
    tables: list[tuple[str, str]],
    *,
    as_of: dt.date,
    config: GateConfig | None = None,
) -> list[CheckOutcome]:
    """The raw gate on several tables of the build warehouse (one connection): the DuckDB file
    ``warehouse``, or the database of ``SALESOPS_DBT_TARGET`` (:mod:`orchestration.quality.warehouse`)."""
    outcomes = []
    with warehouse_connection(warehouse_path=warehouse) as con:
        for source, table in tables:
            outcomes.append(check_table(con, source, table, as_of=as_of, config=config))
    return outcomes


def quarantined_keys(con, source: str, stream: str, reason: str | None = None) -> set[str]:
    sql = f"SELECT primary_key FROM {qualified(META, 'quarantined_keys')} WHERE source = ? AND stream = ?"
    params: list[Any] = [source, stream]
    if reason:
        sql += " AND reason = ?"
        params.append(reason)
    return {r[0] for r in rows(con, sql, params)}


def flagged_keys(con, source: str, stream: str, flag: str | None = None) -> set[str]:
    sql = (
        f"SELECT primary_key FROM {qualified(META, 'flagged_keys')} WHERE source = ? AND stream = ?"
    )
    params: list[Any] = [source, stream]
    if flag:
        sql += " AND flag = ?"
        params.append(flag)
    return {r[0] for r in rows(con, sql, params)}


def group_counts(outcomes: list[CheckOutcome]) -> dict[str, dict[str, int]]:
    """Quarantined rows by table and reason, for summaries."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for o in outcomes:
        for reason, n in o.quarantined_by_reason.items():
            out[o.table][reason] = n
    return dict(out)
