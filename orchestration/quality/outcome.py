"""What a gate reports: one :class:`CheckOutcome` per check, made of :class:`Finding` s.

The same outcome becomes a Dagster ``AssetCheckResult`` (its metadata) and rows of the status
database, so BI, the brief and the Dagster UI show the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Statuses of a check.
PASSED = "passed"
FAILED = "failed"  # blocks (severity error)
WARNED = "warned"  # reported, never blocks (severity warn)
NOT_APPLICABLE = "not_applicable"  # e.g. "not applicable: mart_forecast not built"
SKIPPED = "skipped"

# What a failing row or check does.
QUARANTINE = "quarantine"  # the row stays in raw, is excluded downstream with its reason
CRITICAL = "critical"  # any failing row or key fails the gate
FLAG = "flag"  # kept and flagged (awkward but real), never fails the gate
DEDUPLICATE = "deduplicate"  # duplicates: counted and flagged here, merged downstream by dbt
WARN = "warn"  # reported, never fails the gate
INFO = "info"

MAX_EXAMPLES = 5


@dataclass
class Finding:
    """One expectation (GX) or SQL check on one table, and what it found."""

    check: str  # the reason code, e.g. "invalid_negative_amount", "key_unique"
    expectation: str  # e.g. "expect_column_values_to_be_between(amount, min_value=0)"
    action: str  # QUARANTINE, CRITICAL, FLAG, DEDUPLICATE, WARN, INFO
    count: int = 0  # rows (or keys) that failed it
    examples: list[str] = field(default_factory=list)
    failed: bool = False  # this finding makes the check fail (or warn, for WARN)
    detail: str = ""

    def line(self) -> str:
        text = f"{self.check} [{self.expectation}]: {self.count:,} row(s)"
        if self.detail:
            text += f" ({self.detail})"
        if self.examples:
            text += ", e.g. " + "; ".join(self.examples[:MAX_EXAMPLES])
        return text


@dataclass
class CheckOutcome:
    """The result of one check on one asset (a raw table, a mart, the serving file)."""

    gate: str  # raw, model, mart, publish
    asset_key: str  # "raw/salesforce/opportunity", "marts/mart_sales_kpis"
    check_name: str
    status: str = PASSED
    message: str = ""
    table: str = ""  # the warehouse table, e.g. raw_salesforce.opportunity
    rows_checked: int = 0  # rows validated row by row (the current sync's rows)
    table_rows: int = 0  # live rows of the table
    quarantined_rows: int = 0  # rows currently quarantined (live rows)
    new_quarantined_rows: int = 0  # rows this run quarantined
    flagged_rows: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    new_quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    flagged_by_reason: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status not in (FAILED, WARNED)

    @property
    def severity(self) -> str:
        return "warn" if self.status == WARNED else "error"

    @property
    def failed_rows(self) -> int:
        return sum(f.count for f in self.findings if f.failed)

    def failing(self) -> list[Finding]:
        return [f for f in self.findings if f.failed]

    def describe(self) -> str:
        """Message plus one line per failing finding (table, expectation, count, examples)."""
        lines = [self.message] if self.message else []
        lines += [f"- {self.table or self.asset_key}: {f.line()}" for f in self.failing()]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity
        data["failed_rows"] = self.failed_rows
        return data


def status_of(findings: list[Finding]) -> str:
    """FAILED if a blocking finding failed, WARNED if only warnings did, else PASSED."""
    failed = [f for f in findings if f.failed]
    if any(f.action != WARN for f in failed):
        return FAILED
    return WARNED if failed else PASSED
