"""dbt source freshness results (``sources.json``) as one outcome per raw asset.

dbt sources map to the ingest assets through ``meta.dagster.asset_key``; several dbt sources
can map to one asset (``user`` and ``user__versions``), so an asset takes the worst status of
its sources. ``warn`` becomes a warning, ``error`` and ``runtime error`` a failure (severity
error); freshness is surfaced, never blocking: stale data is still consistent data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestration.quality.outcome import FAILED, PASSED, WARN, WARNED, CheckOutcome, Finding

CHECK_NAME = "dbt_source_freshness"
_RANK = {"pass": 0, "warn": 1, "error": 2, "runtime error": 2}


def freshness_assets(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Asset key (``raw/salesforce/user``) -> dbt source unique ids with freshness configured."""
    out: dict[str, list[str]] = {}
    for uid, source in manifest.get("sources", {}).items():
        freshness = source.get("freshness") or {}
        if not any((freshness.get(k) or {}).get("count") for k in ("warn_after", "error_after")):
            continue
        meta = (source.get("config") or {}).get("meta") or source.get("meta") or {}
        key = (meta.get("dagster") or {}).get("asset_key")
        if not key:
            continue
        out.setdefault("/".join(key), []).append(uid)
    return out


def outcomes_from_results(
    sources_json: dict[str, Any] | None, assets: dict[str, list[str]], error: str | None = None
) -> list[CheckOutcome]:
    by_uid = {r.get("unique_id"): r for r in (sources_json or {}).get("results", [])}
    outcomes = []
    for asset_key, uids in sorted(assets.items()):
        outcome = CheckOutcome("model", asset_key, CHECK_NAME, table=asset_key.replace("/", ".", 1))
        findings = []
        worst = 0
        for uid in uids:
            result = by_uid.get(uid)
            if result is None:
                continue  # source disabled (not configured) or not run
            status = str(result.get("status", "runtime error"))
            rank = _RANK.get(status, 2)
            worst = max(worst, rank)
            age = result.get("max_loaded_at_time_ago_in_s")
            detail = f"max loaded at {result.get('max_loaded_at')}"
            if age is not None:
                detail += f", {float(age) / 3600:.1f} h before the check"
            if status == "runtime error":
                detail = str(result.get("error") or result.get("message") or "runtime error")[:300]
            findings.append(
                Finding(
                    uid.split(".", 2)[-1],
                    "dbt source freshness (warn_after / error_after)",
                    WARN if rank == 1 else "critical",
                    failed=rank > 0,
                    detail=f"{status}: {detail}",
                )
            )
        if error and not findings:
            findings.append(
                Finding(
                    "dbt_source_freshness",
                    "dbt source freshness",
                    WARN,
                    failed=True,
                    detail=error[:300],
                )
            )
        outcome.findings = findings
        outcome.status = {0: PASSED, 1: WARNED, 2: FAILED}[worst] if findings else PASSED
        if error and not any(by_uid.get(u) for u in uids):
            outcome.status = WARNED
        outcome.message = f"{asset_key}: " + (
            "; ".join(f"{f.check} {f.detail}" for f in findings)
            if findings
            else "not checked (source disabled)"
        )
        outcomes.append(outcome)
    return outcomes


def read_sources_json(target_path: Path) -> dict[str, Any] | None:
    path = target_path / "sources.json"
    return json.loads(path.read_text()) if path.exists() else None
