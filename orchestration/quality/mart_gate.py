"""The mart gate: reconciliation across layers, volume against the published version, contracts.

Reconciliations (each reads the build warehouse; a mart that does not exist yet gives an
explicit ``not applicable: <mart> not built`` result, so the check switches on when it lands):

``reconcile_bookings``
    bookings in ``mart_sales_kpis`` = won amount in ``fct_opportunities`` (closed by the as-of
    date), per fiscal quarter; and won deals in ``fct_opportunities`` = won deals recomputed
    from raw (non-deleted, not quarantined), count and original amount per source system and
    currency (currency conversion itself is covered by dbt unit tests).
``reconcile_quota_rollup``
    ``mart_quota_rollup``: per period, quota and bookings of every hierarchy level add up to the
    company row, and the rep rows add up to it too.
``reconcile_forecast_closed_won``
    ``mart_forecast`` closed-won (company level, at the run's as-of date) = bookings of the
    quarter in ``fct_opportunities``.
``reconcile_attribution_weights``
    ``fct_attribution_touches``: the weights of every opportunity and model sum to 1.

Per mart: ``volume`` (rows against the serving version: shrinking by more than half fails,
growing more than five-fold warns) and ``contract`` (the built table has the contract's columns
and types, in order).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orchestration.quality.outcome import (
    CRITICAL,
    FAILED,
    MAX_EXAMPLES,
    NOT_APPLICABLE,
    WARN,
    CheckOutcome,
    Finding,
    status_of,
)
from orchestration.quality.sql import columns, quote_ident, rows, table_exists
from orchestration.quality.warehouse import DatabaseError

MARTS = "marts"
TOLERANCE = 0.01  # money: one cent per compared amount


@dataclass(frozen=True)
class MartGateConfig:
    tolerance: float = TOLERANCE
    volume_max_shrink: float = 0.5
    volume_max_growth: float = 5.0
    volume_min_rows: int = 20
    corporate_currency: str = "USD"


def _close(a: float | None, b: float | None, tolerance: float) -> bool:
    a = float(a or 0.0)
    b = float(b or 0.0)
    return abs(a - b) <= tolerance + 1e-9 * max(abs(a), abs(b))


def _mart(name: str) -> str:
    return f"{MARTS}.{quote_ident(name)}"


# --------------------------------------------------------------------------------------------
# Reconciliations
# --------------------------------------------------------------------------------------------


def _bookings(con, as_of: dt.date, config: MartGateConfig) -> list[Finding]:
    findings = []
    by_quarter = rows(
        con,
        f"""
        WITH kpis AS (
            SELECT fiscal_quarter, sum(bookings_amount) AS amount
            FROM {_mart("mart_sales_kpis")} GROUP BY 1
        ),
        won AS (
            SELECT fiscal_quarter_closed AS fiscal_quarter, sum(opportunity_amount) AS amount
            FROM {_mart("fct_opportunities")}
            WHERE is_won AND close_date <= ? GROUP BY 1
        )
        SELECT coalesce(k.fiscal_quarter, w.fiscal_quarter), coalesce(k.amount, 0), coalesce(w.amount, 0)
        FROM kpis k FULL JOIN won w ON k.fiscal_quarter = w.fiscal_quarter
        ORDER BY 1
        """,
        [as_of],
    )
    bad = [r for r in by_quarter if not _close(r[1], r[2], config.tolerance)]
    total_kpis = sum(float(r[1]) for r in by_quarter)
    total_won = sum(float(r[2]) for r in by_quarter)
    findings.append(
        Finding(
            "kpis_equal_fct_won",
            "sum(mart_sales_kpis.bookings_amount) = sum(fct_opportunities.opportunity_amount where won, closed by as-of) per fiscal quarter",
            CRITICAL,
            count=len(bad),
            examples=[f"{q}: kpis {k:,.2f} vs fct {w:,.2f}" for q, k, w in bad[:MAX_EXAMPLES]],
            failed=bool(bad),
            detail=f"total {total_kpis:,.2f} vs {total_won:,.2f} over {len(by_quarter)} quarters",
        )
    )
    findings.append(_fct_equals_raw(con, config))
    return findings


def _raw_won(con, config: MartGateConfig) -> tuple[list[str], list[str]]:
    """SELECTs of won, live, not quarantined deals from raw: (source_system, currency, amount)."""
    parts, skipped = [], []
    managed = table_exists(con, "raw_meta", "quarantined_keys")
    corporate = config.corporate_currency.replace("'", "")

    def not_quarantined(source: str, stream: str) -> str:
        if not managed:
            return "true"
        return (
            "NOT EXISTS (SELECT 1 FROM raw_meta.quarantined_keys q WHERE q.source = "
            f"'{source}' AND q.stream = '{stream}' AND q.primary_key = CAST(t.id AS VARCHAR))"
        )

    sf = columns(con, "raw_salesforce", "opportunity")
    if {"id", "is_won", "amount"} <= set(sf):
        currency = "currency_iso_code" if "currency_iso_code" in sf else "NULL"
        deleted = " AND NOT coalesce(t.is_deleted, false)" if "is_deleted" in sf else ""
        parts.append(
            f"SELECT 'salesforce' AS source_system, upper(coalesce({currency}, '{corporate}')) AS currency_code, "
            f"t.amount FROM raw_salesforce.opportunity t WHERE t.is_won "
            f"AND NOT coalesce(t._is_deleted, false){deleted} AND {not_quarantined('salesforce', 'opportunity')}"
        )
    else:
        skipped.append("salesforce (no raw_salesforce.opportunity)")
    hs = columns(con, "raw_hubspot", "deals")
    if {"id", "hs_is_closed_won", "amount"} <= set(hs):
        currency = "deal_currency_code" if "deal_currency_code" in hs else "NULL"
        archived = " AND NOT coalesce(t.archived, false)" if "archived" in hs else ""
        parts.append(
            f"SELECT 'hubspot', upper(coalesce({currency}, '{corporate}')), t.amount "
            f"FROM raw_hubspot.deals t WHERE t.hs_is_closed_won "
            f"AND NOT coalesce(t._is_deleted, false){archived} AND {not_quarantined('hubspot', 'deals')}"
        )
    else:
        skipped.append("hubspot (no raw_hubspot.deals)")
    return parts, skipped


def _fct_equals_raw(con, config: MartGateConfig) -> Finding:
    parts, skipped = _raw_won(con, config)
    expectation = (
        "won deals of fct_opportunities = won deals recomputed from raw (count, original amount) "
        "per source system and currency"
    )
    if not parts:
        return Finding(
            "fct_won_equal_raw_won",
            expectation,
            CRITICAL,
            detail="not applicable: no raw opportunities",
        )
    sources = [p.split("'")[1] for p in parts]
    marks = ", ".join(f"'{s}'" for s in sources)
    compared = rows(
        con,
        f"""
        WITH raw AS (
            SELECT source_system, currency_code, count(*) AS n, coalesce(sum(amount), 0) AS amount
            FROM ({" UNION ALL ".join(parts)}) GROUP BY 1, 2
        ),
        fct AS (
            SELECT source_system, currency_code, count(*) AS n, coalesce(sum(original_amount), 0) AS amount
            FROM {_mart("fct_opportunities")} WHERE is_won AND source_system IN ({marks}) GROUP BY 1, 2
        )
        SELECT coalesce(r.source_system, f.source_system), coalesce(r.currency_code, f.currency_code),
               coalesce(r.n, 0), coalesce(f.n, 0), coalesce(r.amount, 0), coalesce(f.amount, 0)
        FROM raw r FULL JOIN fct f ON r.source_system = f.source_system AND r.currency_code = f.currency_code
        ORDER BY 1, 2
        """,
    )
    bad = [r for r in compared if r[2] != r[3] or not _close(r[4], r[5], config.tolerance)]
    return Finding(
        "fct_won_equal_raw_won",
        expectation,
        CRITICAL,
        count=len(bad),
        examples=[
            f"{s} {c}: raw {rn} deals {ra:,.2f} vs fct {fn} deals {fa:,.2f}"
            for s, c, rn, fn, ra, fa in bad[:MAX_EXAMPLES]
        ],
        failed=bool(bad),
        detail=f"{sum(r[2] for r in compared)} won deals in raw"
        + (f"; skipped {', '.join(skipped)}" if skipped else ""),
    )


def _quota_rollup(con, as_of: dt.date, config: MartGateConfig) -> list[Finding]:
    findings = []
    for measure in ("quota_amount", "bookings_amount"):
        mismatched = rows(
            con,
            f"""
            WITH levels AS (
                SELECT period_type, fiscal_period, level, sum({measure}) AS amount
                FROM {_mart("mart_quota_rollup")} GROUP BY 1, 2, 3
            ),
            company AS (
                SELECT period_type, fiscal_period, amount FROM levels WHERE level = 'company'
            )
            SELECT l.period_type, l.fiscal_period, l.level, l.amount, c.amount
            FROM levels l LEFT JOIN company c USING (period_type, fiscal_period)
            WHERE l.level <> 'company'
              AND (c.amount IS NULL OR abs(coalesce(l.amount, 0) - coalesce(c.amount, 0))
                   > {config.tolerance} + 1e-9 * greatest(abs(coalesce(l.amount, 0)), abs(coalesce(c.amount, 0))))
            ORDER BY 1, 2, 3
            """,
        )
        findings.append(
            Finding(
                f"{measure}_adds_up",
                f"sum({measure}) of every level = the company row, per period",
                CRITICAL,
                count=len(mismatched),
                examples=[
                    f"{pt} {fp} {lvl}: {a or 0:,.2f} vs company {c if c is not None else 'missing'}"
                    for pt, fp, lvl, a, c in mismatched[:MAX_EXAMPLES]
                ],
                failed=bool(mismatched),
            )
        )
    return findings


def _forecast_closed_won(con, as_of: dt.date, config: MartGateConfig) -> list[Finding]:
    compared = rows(
        con,
        f"""
        WITH forecast AS (
            SELECT fiscal_quarter, sum(closed_won_amount) AS amount
            FROM {_mart("mart_forecast")}
            WHERE level = 'company' AND as_of_date = ? GROUP BY 1
        ),
        actual AS (
            SELECT fiscal_quarter_closed AS fiscal_quarter, sum(opportunity_amount) AS amount
            FROM {_mart("fct_opportunities")} WHERE is_won AND close_date <= ? GROUP BY 1
        )
        SELECT f.fiscal_quarter, f.amount, coalesce(a.amount, 0)
        FROM forecast f LEFT JOIN actual a USING (fiscal_quarter) ORDER BY 1
        """,
        [as_of, as_of],
    )
    bad = [r for r in compared if not _close(r[1], r[2], config.tolerance)]
    return [
        Finding(
            "closed_won_equals_bookings",
            "mart_forecast.closed_won_amount (company, as-of date) = won amount of the quarter in fct_opportunities",
            CRITICAL,
            count=len(bad),
            examples=[
                f"{q}: forecast {f:,.2f} vs bookings {a:,.2f}" for q, f, a in bad[:MAX_EXAMPLES]
            ],
            failed=bool(bad),
            detail=f"{len(compared)} quarter(s) forecast at {as_of}"
            + ("" if compared else ": no company rows at the as-of date"),
        )
    ]


def _attribution_weights(con, as_of: dt.date, config: MartGateConfig) -> list[Finding]:
    bad = rows(
        con,
        f"""
        SELECT opportunity_id, model, sum(weight) AS total
        FROM {_mart("fct_attribution_touches")} GROUP BY 1, 2
        HAVING abs(sum(weight) - 1) > 1e-6 ORDER BY 1, 2
        """,
    )
    return [
        Finding(
            "weights_sum_to_one",
            "sum(weight) = 1 per opportunity and attribution model",
            CRITICAL,
            count=len(bad),
            examples=[f"{o} {m}: {w:.6f}" for o, m, w in bad[:MAX_EXAMPLES]],
            failed=bool(bad),
        )
    ]


@dataclass(frozen=True)
class Reconciliation:
    name: str
    target: str  # the mart the check is about (its asset once it exists)
    needs: tuple[str, ...]
    run: Callable[[Any, dt.date, MartGateConfig], list[Finding]]
    description: str


RECONCILIATIONS = (
    Reconciliation(
        "reconcile_bookings",
        "mart_sales_kpis",
        ("mart_sales_kpis", "fct_opportunities"),
        _bookings,
        "Bookings in mart_sales_kpis = won amount in fct_opportunities = won amount recomputed from raw.",
    ),
    Reconciliation(
        "reconcile_quota_rollup",
        "mart_quota_rollup",
        ("mart_quota_rollup",),
        _quota_rollup,
        "Quota and bookings of every hierarchy level add up to the company, per period.",
    ),
    Reconciliation(
        "reconcile_forecast_closed_won",
        "mart_forecast",
        ("mart_forecast", "fct_opportunities"),
        _forecast_closed_won,
        "Forecast closed-won (company, as-of date) equals actual bookings of the quarter.",
    ),
    Reconciliation(
        "reconcile_attribution_weights",
        "fct_attribution_touches",
        ("fct_attribution_touches",),
        _attribution_weights,
        "Attribution weights of each opportunity and model sum to 1.",
    ),
)

# Until a reconciliation's own mart is built, its check hangs off this mart.
FALLBACK_TARGET = "fct_opportunities"


def reconcile(
    con: duckdb.DuckDBPyConnection,
    reconciliation: Reconciliation,
    *,
    as_of: dt.date,
    config: MartGateConfig | None = None,
    asset_key: str | None = None,
) -> CheckOutcome:
    config = config or MartGateConfig()
    outcome = CheckOutcome(
        "mart",
        asset_key or f"marts/{reconciliation.target}",
        reconciliation.name,
        table=f"{MARTS}.{reconciliation.target}",
    )
    missing = [m for m in reconciliation.needs if not table_exists(con, MARTS, m)]
    if missing:
        outcome.status = NOT_APPLICABLE
        outcome.message = f"not applicable: {', '.join(missing)} not built"
        return outcome
    try:
        outcome.findings = reconciliation.run(con, as_of, config)
    except DatabaseError as exc:
        outcome.findings = [
            Finding(
                reconciliation.name,
                reconciliation.description,
                CRITICAL,
                failed=True,
                detail=f"query failed: {exc}"[:500],
            )
        ]
    outcome.status = status_of(outcome.findings)
    verdict = "FAILED" if outcome.status == FAILED else "passed"
    outcome.message = f"{reconciliation.description} {verdict}: " + "; ".join(
        f"{f.check} {'FAILED' if f.failed else 'ok'}" + (f" ({f.detail})" if f.detail else "")
        for f in outcome.findings
    )
    return outcome


def volume(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    previous: dict[str, int],
    *,
    config: MartGateConfig | None = None,
) -> CheckOutcome:
    """Rows of ``mart`` against the published version (``previous``: rows per mart)."""
    config = config or MartGateConfig()
    outcome = CheckOutcome("mart", f"marts/{mart}", "volume", table=f"{MARTS}.{mart}")
    if not table_exists(con, MARTS, mart):
        outcome.status = NOT_APPLICABLE
        outcome.message = f"not applicable: {mart} not built"
        return outcome
    now = int(rows(con, f"SELECT count(*) FROM {_mart(mart)}")[0][0])
    outcome.table_rows = now
    before = previous.get(mart)
    if before is None:
        outcome.message = f"{mart}: {now:,} rows; no published version to compare with"
        outcome.metrics = {"rows": now}
        return outcome
    judged = before >= config.volume_min_rows
    shrank = (judged and now < before * (1 - config.volume_max_shrink)) or (before > 0 and now == 0)
    grew = judged and now > before * (1 + config.volume_max_growth)
    change = (now - before) / before if before else 0.0
    finding = Finding(
        "volume",
        f"rows within -{config.volume_max_shrink:.0%}/+{config.volume_max_growth:.0%} of the published version",
        CRITICAL if shrank else WARN,
        count=abs(now - before),
        failed=bool(shrank or grew),
        detail=f"{before:,} published, {now:,} built ({change:+.1%})",
    )
    outcome.findings = [finding]
    outcome.status = status_of(outcome.findings)
    outcome.metrics = {"rows": now, "published_rows": before, "change": round(change, 6)}
    outcome.message = f"{mart}: {finding.detail}"
    return outcome


def _canonical_type(con: duckdb.DuckDBPyConnection, data_type: str) -> str | None:
    try:
        return str(rows(con, f"SELECT typeof(CAST(NULL AS {data_type}))")[0][0]).upper()
    except duckdb.Error:
        return None


def contract(
    con: duckdb.DuckDBPyConnection, mart: str, node: dict[str, Any] | None
) -> CheckOutcome:
    """The built mart has its enforced contract's columns and types, in order."""
    outcome = CheckOutcome("mart", f"marts/{mart}", "contract", table=f"{MARTS}.{mart}")
    enforced = bool(node and ((node.get("config") or {}).get("contract") or {}).get("enforced"))
    if not table_exists(con, MARTS, mart):
        outcome.status = NOT_APPLICABLE
        outcome.message = f"not applicable: {mart} not built"
        return outcome
    if not enforced:
        outcome.findings = [
            Finding(
                "contract_enforced",
                "dbt model contract enforced",
                CRITICAL,
                failed=True,
                detail="the mart has no enforced contract",
            )
        ]
        outcome.status = FAILED
        outcome.message = f"{mart}: no enforced dbt contract (every mart needs one)"
        return outcome
    built = columns(con, MARTS, mart)
    problems = []
    declared = [(name, spec.get("data_type")) for name, spec in (node.get("columns") or {}).items()]
    names = [n for n, _ in declared]
    if list(built)[: len(names)] != names:
        missing = [n for n in names if n not in built]
        problems.append(
            f"columns differ: missing {missing}" if missing else "columns are in a different order"
        )
    scratch = duckdb.connect()
    try:
        for name, data_type in declared:
            if name not in built or not data_type:
                continue
            want = _canonical_type(scratch, data_type)
            got = _canonical_type(scratch, built[name])
            if want and got and want != got:
                problems.append(f"{name}: {built[name]} (contract {data_type})")
    finally:
        scratch.close()
    outcome.findings = [
        Finding(
            "contract_columns",
            "columns and types of the enforced dbt contract",
            CRITICAL,
            count=len(problems),
            examples=problems[:MAX_EXAMPLES],
            failed=bool(problems),
        )
    ]
    outcome.status = status_of(outcome.findings)
    outcome.table_rows = 0
    outcome.message = f"{mart}: " + (
        "contract holds" if not problems else "; ".join(problems[:MAX_EXAMPLES])
    )
    return outcome


def mart_nodes(manifest_path: Path) -> dict[str, dict[str, Any]]:
    """Mart models of the dbt manifest by name (models whose schema is ``marts``)."""
    manifest = json.loads(manifest_path.read_text())
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node.get("resource_type") == "model"
        and (node.get("config") or {}).get("schema") == MARTS
    }


def restricted_marts(nodes: dict[str, dict[str, Any]]) -> frozenset[str]:
    """Marts the dbt project marks as restricted (tag ``restricted`` or meta ``restricted: true``)."""
    found = set()
    for name, node in nodes.items():
        config = node.get("config") or {}
        meta = {**(node.get("meta") or {}), **(config.get("meta") or {})}
        tags = set(node.get("tags") or []) | set(config.get("tags") or [])
        if meta.get("restricted") is True or "restricted" in tags:
            found.add(name)
    return frozenset(found)
