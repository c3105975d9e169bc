"""dbt source freshness as one outcome per raw asset, judged as of the run.

The freshness rules are dbt's: each source's ``loaded_at_field`` (``_synced_at``), its
``warn_after`` / ``error_after`` criteria and optional ``filter``, as declared in the dbt
project (``_<source>__sources.yml``) and read from the manifest. The gate evaluates them in SQL
in the warehouse instead of invoking ``dbt source freshness``, for two reasons: dbt judges the
age against the machine's clock, whereas every run here is judged as of its as-of date (the
reference is the end of the as-of day in ``SALESOPS_TIMEZONE``; nothing downstream reads the
wall clock, and the emulator's clock is simulated), and a dbt invocation costs a full project
parse per run (the profile's warehouse path defeats partial parsing) for what is one
``max(loaded_at_field)`` per table. In production, where the nightly run starts shortly after
midnight, the verdicts agree with dbt's.

dbt sources map to the ingest assets through ``meta.dagster.asset_key``; several dbt sources can
map to one asset (``user`` and ``user__versions``), so an asset takes the worst status of its
sources: ``warn`` is a warning, ``error`` a failure (severity error). Freshness is surfaced, never
blocking: stale data is still consistent data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from orchestration.quality.outcome import (
    CRITICAL,
    FAILED,
    PASSED,
    WARN,
    WARNED,
    CheckOutcome,
    Finding,
)
from orchestration.quality.sql import qualified, rows, table_exists
from orchestration.quality.warehouse import DatabaseError

CHECK_NAME = "dbt_source_freshness"
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class SourceFreshness:
    """One dbt source table's freshness declaration."""

    unique_id: str
    source_name: str
    schema: str
    identifier: str
    loaded_at_field: str
    warn_after: float | None  # seconds
    error_after: float | None
    filter: str | None = None

    @property
    def name(self) -> str:
        return f"{self.source_name}.{self.identifier}"


def reference_time(as_of: dt.date, timezone: str = "UTC") -> dt.datetime:
    """The end of the as-of day in the company time zone."""
    start = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), ZoneInfo(timezone))
    return start.astimezone(dt.UTC)


def _seconds(rule: dict[str, Any] | None) -> float | None:
    if not rule or not rule.get("count") or not rule.get("period"):
        return None
    return float(rule["count"]) * _SECONDS.get(rule["period"], 3600)


def freshness_assets(manifest: dict[str, Any]) -> dict[str, list[SourceFreshness]]:
    """Asset key (``raw/salesforce/user``) -> the dbt sources with freshness declared."""
    out: dict[str, list[SourceFreshness]] = {}
    for uid, source in sorted(manifest.get("sources", {}).items()):
        freshness = source.get("freshness") or {}
        warn_after = _seconds(freshness.get("warn_after"))
        error_after = _seconds(freshness.get("error_after"))
        loaded_at = source.get("loaded_at_field")
        if (warn_after is None and error_after is None) or not loaded_at:
            continue
        meta = (source.get("config") or {}).get("meta") or source.get("meta") or {}
        key = (meta.get("dagster") or {}).get("asset_key")
        if not key:
            continue
        out.setdefault("/".join(key), []).append(
            SourceFreshness(
                uid,
                source.get("source_name", ""),
                source.get("schema", ""),
                source.get("identifier") or source.get("name", ""),
                loaded_at,
                warn_after,
                error_after,
                freshness.get("filter"),
            )
        )
    return out


def judge(
    source: SourceFreshness, newest: dt.datetime | None, reference: dt.datetime
) -> tuple[str, str]:
    """(``pass``/``warn``/``error``, detail) for a table whose newest row landed at ``newest``."""
    if newest is None:
        return "error", "no rows"
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=dt.UTC)
    age = (reference - newest).total_seconds()
    status = "pass"
    if source.error_after is not None and age > source.error_after:
        status = "error"
    elif source.warn_after is not None and age > source.warn_after:
        status = "warn"
    limits = ", ".join(
        f"{name} {value / 3600:g} h"
        for name, value in (("warn after", source.warn_after), ("error after", source.error_after))
        if value is not None
    )
    return status, (
        f"newest {source.loaded_at_field} {newest.isoformat()}, "
        f"{age / 3600:.1f} h before the end of the as-of day ({limits})"
    )


def check_freshness(
    con: duckdb.DuckDBPyConnection,
    assets: dict[str, list[SourceFreshness]],
    reference: dt.datetime,
    configured: set[str] | None = None,
) -> list[CheckOutcome]:
    """One outcome per asset. Sources whose dbt source name is not ``configured`` (when given)
    and whose table is missing are reported as not checked."""
    outcomes = []
    for asset_key, sources in sorted(assets.items()):
        outcome = CheckOutcome("model", asset_key, CHECK_NAME, table=asset_key.replace("/", ".", 1))
        findings = []
        for source in sources:
            exists = table_exists(con, source.schema, source.identifier)
            if not exists:
                if configured is not None and source.source_name not in configured:
                    continue
                status, detail = "error", f"table {source.schema}.{source.identifier} missing"
            else:
                where = f" WHERE {source.filter}" if source.filter else ""
                try:
                    newest = rows(
                        con,
                        f"SELECT max({source.loaded_at_field}) FROM "
                        f"{qualified(source.schema, source.identifier)}{where}",
                    )[0][0]
                    status, detail = judge(source, newest, reference)
                except DatabaseError as exc:
                    status, detail = "error", f"query failed: {exc}"
            findings.append(
                Finding(
                    source.name,
                    "dbt source freshness (warn_after / error_after)",
                    WARN if status == "warn" else CRITICAL,
                    failed=status != "pass",
                    detail=f"{status}: {detail}"[:500],
                )
            )
        outcome.findings = findings
        if any(f.failed and f.action == CRITICAL for f in findings):
            outcome.status = FAILED
        elif any(f.failed for f in findings):
            outcome.status = WARNED
        else:
            outcome.status = PASSED
        outcome.message = f"{asset_key}: " + (
            "; ".join(f"{f.check} {f.detail}" for f in findings)
            if findings
            else "not checked (source not configured)"
        )
        outcomes.append(outcome)
    return outcomes
