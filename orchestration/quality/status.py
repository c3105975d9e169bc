"""The status database (``SALESOPS_STATUS``): every run's gate results, passed or failed.

BI and the sales brief read it to show a failed night even though serving did not change.
Tables (schema ``main``; one row per run and check, rewritten when a step is retried):

``runs``
    run_id, job_name, as_of_date, status (``passed``/``failed``), checks passed/failed/warned,
    failed steps and gates, whether the run published and which serving version, finished_at.
``gate_results``
    run_id, as_of_date, gate (``raw``, ``model``, ``mart``, ``publish``), asset_key,
    check_name, status (``passed``, ``failed``, ``warned``, ``not_applicable``), severity,
    table_name, rows_checked, table_rows, failed_rows, quarantined_rows, new_quarantined_rows,
    flagged_rows, message, details (JSON: every finding with its examples, timings), checked_at.
``quarantine_by_reason`` / ``flags_by_reason``
    run_id, as_of_date, source, stream, reason (flag), rows now, rows new in this run.
``publish_log``
    every publish and rollback: version, action, run_id, as_of_date, sha256 of the files,
    rows per mart, storage version, published_at.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestration.quality.outcome import CheckOutcome
from orchestration.quality.sql import connect_with_retry

DDL = {
    "runs": "run_id VARCHAR, job_name VARCHAR, as_of_date DATE, status VARCHAR, "
    "checks_passed INTEGER, checks_failed INTEGER, checks_warned INTEGER, failed_steps VARCHAR, "
    "failed_gates VARCHAR, published BOOLEAN, serving_version VARCHAR, finished_at TIMESTAMPTZ",
    "gate_results": "run_id VARCHAR, as_of_date DATE, gate VARCHAR, asset_key VARCHAR, "
    "check_name VARCHAR, status VARCHAR, severity VARCHAR, table_name VARCHAR, "
    "rows_checked BIGINT, table_rows BIGINT, failed_rows BIGINT, quarantined_rows BIGINT, "
    "new_quarantined_rows BIGINT, flagged_rows BIGINT, message VARCHAR, details JSON, "
    "checked_at TIMESTAMPTZ",
    "quarantine_by_reason": "run_id VARCHAR, as_of_date DATE, source VARCHAR, stream VARCHAR, "
    "reason VARCHAR, quarantined_rows BIGINT, new_rows BIGINT, checked_at TIMESTAMPTZ",
    "flags_by_reason": "run_id VARCHAR, as_of_date DATE, source VARCHAR, stream VARCHAR, "
    "flag VARCHAR, flagged_rows BIGINT, checked_at TIMESTAMPTZ",
    "publish_log": "version VARCHAR, action VARCHAR, run_id VARCHAR, as_of_date DATE, "
    "serving_path VARCHAR, serving_sha256 VARCHAR, restricted_sha256 VARCHAR, marts JSON, "
    "storage_version VARCHAR, published_at TIMESTAMPTZ",
}


def ensure_tables(con) -> None:
    for name, ddl in DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({ddl})")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _source_stream(outcome: CheckOutcome) -> tuple[str, str]:
    parts = outcome.asset_key.split("/")
    if len(parts) >= 3 and parts[0] == "raw":
        return parts[1], parts[2]
    return "", parts[-1]


def record_outcomes(
    path: Path,
    run_id: str,
    as_of: dt.date | None,
    outcomes: Iterable[CheckOutcome],
    *,
    now: dt.datetime | None = None,
) -> int:
    """Write ``outcomes`` of ``run_id`` (replacing earlier rows of the same checks)."""
    outcomes = list(outcomes)
    if not outcomes:
        return 0
    now = now or _now()
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect_with_retry(path) as con:
        ensure_tables(con)
        con.execute("BEGIN TRANSACTION")
        try:
            for o in outcomes:
                con.execute(
                    "DELETE FROM gate_results WHERE run_id = ? AND asset_key = ? AND check_name = ?",
                    [run_id, o.asset_key, o.check_name],
                )
                details = {
                    "findings": [f.__dict__ for f in o.findings],
                    "metrics": o.metrics,
                    "quarantined_by_reason": o.quarantined_by_reason,
                    "new_quarantined_by_reason": o.new_quarantined_by_reason,
                    "flagged_by_reason": o.flagged_by_reason,
                }
                con.execute(
                    "INSERT INTO gate_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        as_of,
                        o.gate,
                        o.asset_key,
                        o.check_name,
                        o.status,
                        o.severity,
                        o.table or None,
                        o.rows_checked,
                        o.table_rows,
                        o.failed_rows,
                        o.quarantined_rows,
                        o.new_quarantined_rows,
                        o.flagged_rows,
                        o.describe() or o.message,
                        json.dumps(details, default=str),
                        now,
                    ],
                )
                if o.gate != "raw":
                    continue
                source, stream = _source_stream(o)
                con.execute(
                    "DELETE FROM quarantine_by_reason WHERE run_id = ? AND source = ? AND stream = ?",
                    [run_id, source, stream],
                )
                con.execute(
                    "DELETE FROM flags_by_reason WHERE run_id = ? AND source = ? AND stream = ?",
                    [run_id, source, stream],
                )
                for reason in sorted(
                    set(o.quarantined_by_reason) | set(o.new_quarantined_by_reason)
                ):
                    con.execute(
                        "INSERT INTO quarantine_by_reason VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            run_id,
                            as_of,
                            source,
                            stream,
                            reason,
                            o.quarantined_by_reason.get(reason, 0),
                            o.new_quarantined_by_reason.get(reason, 0),
                            now,
                        ],
                    )
                for flag, n in sorted(o.flagged_by_reason.items()):
                    con.execute(
                        "INSERT INTO flags_by_reason VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [run_id, as_of, source, stream, flag, n, now],
                    )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return len(outcomes)


def recorded_checks(path: Path, run_id: str) -> set[tuple[str, str]]:
    """(asset_key, check_name) already written for ``run_id``."""
    if not path.exists():
        return set()
    with connect_with_retry(path) as con:
        ensure_tables(con)
        found = con.execute(
            "SELECT asset_key, check_name FROM gate_results WHERE run_id = ?", [run_id]
        ).fetchall()
    return {(a, c) for a, c in found}


def record_run(
    path: Path,
    *,
    run_id: str,
    job_name: str | None,
    as_of: dt.date | None,
    status: str,
    checks: tuple[int, int, int],
    failed_steps: list[str],
    failed_gates: list[str],
    published: bool,
    serving_version: str | None,
    now: dt.datetime | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect_with_retry(path) as con:
        ensure_tables(con)
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
        con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                job_name,
                as_of,
                status,
                *checks,
                "; ".join(failed_steps) or None,
                "; ".join(failed_gates) or None,
                published,
                serving_version,
                now or _now(),
            ],
        )
        con.execute("COMMIT")


def record_publish(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect_with_retry(path) as con:
        ensure_tables(con)
        con.execute(
            "INSERT INTO publish_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                entry["version"],
                entry["action"],
                entry.get("run_id"),
                entry.get("as_of_date"),
                entry.get("serving_path"),
                entry.get("serving_sha256"),
                entry.get("restricted_sha256"),
                json.dumps(entry.get("marts", {})),
                entry.get("storage_version"),
                entry.get("published_at") or _now(),
            ],
        )


def read(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """A query on the status database (tests, the CLI)."""
    with connect_with_retry(path, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
