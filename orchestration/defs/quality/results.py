"""Gate outcomes as Dagster check results, and the gate context every check step shares."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

from orchestration.asof import as_of_for_context
from orchestration.quality.outcome import WARNED, CheckOutcome

MAX_DESCRIPTION = 4000


def run_as_of(context) -> dt.date:
    """The run's as-of date, from any execution context (asset, op or asset check)."""
    return as_of_for_context(getattr(context, "op_execution_context", context))


def run_id_of(context) -> str:
    return getattr(context, "op_execution_context", context).run_id


def _findings_markdown(outcome: CheckOutcome) -> str:
    lines = ["| check | action | rows | failed | detail / examples |", "|---|---|---|---|---|"]
    for f in outcome.findings:
        text = "; ".join(x for x in [f.detail, ", ".join(f.examples[:3])] if x)
        text = text.replace("|", "\\|")
        lines.append(
            f"| {f.check} | {f.action} | {f.count:,} | {'yes' if f.failed else ''} | {text} |"
        )
    return "\n".join(lines)


def metadata(outcome: CheckOutcome, as_of: dt.date) -> dict:
    data = {
        "salesops_gate": outcome.gate,
        "status": outcome.status,
        "as_of_date": as_of.isoformat(),
        "failed_rows": outcome.failed_rows,
    }
    if outcome.table:
        data["table"] = outcome.table
    if outcome.gate == "raw":
        data.update(
            {
                "rows_checked": outcome.rows_checked,
                "table_rows": outcome.table_rows,
                "quarantined_rows": outcome.quarantined_rows,
                "new_quarantined_rows": outcome.new_quarantined_rows,
                "flagged_rows": outcome.flagged_rows,
                "quarantined_by_reason": dg.MetadataValue.json(outcome.quarantined_by_reason),
                "new_quarantined_by_reason": dg.MetadataValue.json(
                    outcome.new_quarantined_by_reason
                ),
                "flagged_by_reason": dg.MetadataValue.json(outcome.flagged_by_reason),
            }
        )
    for key, value in outcome.metrics.items():
        if value is None:
            continue
        data[key] = dg.MetadataValue.json(value) if isinstance(value, (list, dict)) else value
    if outcome.findings:
        data["findings"] = dg.MetadataValue.md(_findings_markdown(outcome))
    return data


def check_result(outcome: CheckOutcome, as_of: dt.date) -> dg.AssetCheckResult:
    description = outcome.describe() or outcome.message or outcome.status
    if len(description) > MAX_DESCRIPTION:
        description = description[: MAX_DESCRIPTION - 1] + "…"
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(outcome.asset_key.split("/")),
        check_name=outcome.check_name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN
        if outcome.status == WARNED
        else dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata(outcome, as_of),
    )


def summary_line(outcomes: list[CheckOutcome]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return json.dumps(counts, sort_keys=True)
