"""What the sales brief and the demo summary show, read from whatever marts exist.

Every reader checks ``information_schema`` first and returns ``None`` when its mart is not built
yet, so the brief and the summary grow as the dbt project does. Numbers come from the serving
database (``SALESOPS_SERVING``) once the publish step has written it; until then from the build
warehouse, opened read-only (and the brief says so).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

from salesops.config import Settings

MARTS = "marts"


class DatabaseBusy(RuntimeError):
    """Another process holds the DuckDB file for writing."""


@contextlib.contextmanager
def read_only(path: Path, *, wait_seconds: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits up to ``wait_seconds`` while a writer holds the file."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"{path.name} is locked by another process (a running job?)"
                ) from exc
            time.sleep(0.5)
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class Origin:
    """Where the numbers come from."""

    path: Path
    published: bool  # serving (published after the gates) or the build warehouse
    postgres: Any = None  # a PostgresConnection when the marts live in PostgreSQL

    @property
    def name(self) -> str:
        return self.postgres.dbname if self.postgres is not None else self.path.name

    @property
    def label(self) -> str:
        if self.published:
            return f"serving database {self.name} (published after every quality gate passed)"
        return (
            f"build warehouse {self.name}, read-only: the publish step is not built yet, "
            "so these numbers have not passed the quality gates"
        )


@contextlib.contextmanager
def connect(origin: Origin) -> Iterator[Any]:
    """A read connection to ``origin``: the DuckDB file read-only, or the PostgreSQL database
    through :mod:`orchestration.quality.warehouse` (the same DuckDB-dialect queries)."""
    if origin.postgres is None:
        with read_only(origin.path) as con:
            yield con
        return
    from orchestration.quality.warehouse import postgres_connection

    with postgres_connection(origin.postgres, application_name="salesops-brief") as con:
        yield con


def _postgres_origin(settings: Settings) -> Origin | None:
    """PostgreSQL (``SALESOPS_DBT_TARGET=postgres``): the serving database's ``marts`` once
    published, else the build database's."""
    from orchestration.quality.warehouse import (
        build_postgres,
        postgres_connection,
        serving_postgres,
    )

    for target, published in ((serving_postgres(), True), (build_postgres(os.environ), False)):
        try:
            with postgres_connection(target, application_name="salesops-brief") as con:
                if tables(con, MARTS):
                    return Origin(Path(target.dbname), published, target)
        except (ConnectionError, psycopg2.Error):
            continue
    return None


def choose_origin(settings: Settings) -> Origin | None:
    """Serving when it holds marts, else the warehouse; ``None`` when neither exists."""
    if settings.dbt_target == "postgres":
        return _postgres_origin(settings)
    for path, published in ((settings.serving, True), (settings.warehouse, False)):
        if path.exists() and path.stat().st_size > 0:
            try:
                with read_only(path, wait_seconds=5) as con:
                    if tables(con, MARTS):
                        return Origin(path, published)
            except (DatabaseBusy, duckdb.Error):
                if not published:
                    return Origin(path, published)
    return None


def tables(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema]
    ).fetchall()
    return {r[0] for r in rows}


def columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def _float(value) -> float | None:
    return None if value is None else float(value)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


@dataclass
class Quarter:
    label: str
    start: dt.date | None
    end: dt.date | None
    elapsed_days: int | None = None
    days: int | None = None


def fiscal_quarter(con: duckdb.DuckDBPyConnection, marts: set[str], as_of: dt.date) -> Quarter:
    if "dim_fiscal_calendar" in marts:
        rows = _rows(
            con,
            "SELECT fiscal_quarter, quarter_start, quarter_end, day_of_quarter, days_in_quarter "
            "FROM marts.dim_fiscal_calendar WHERE date_day = ?",
            [as_of],
        )
        if rows:
            r = rows[0]
            return Quarter(
                r["fiscal_quarter"],
                r["quarter_start"],
                r["quarter_end"],
                r["day_of_quarter"],
                r["days_in_quarter"],
            )
    q = (as_of.month - 1) // 3 + 1
    return Quarter(f"FY{as_of.year}-Q{q}", None, None)


@dataclass
class Kpis:
    bookings: float
    won: int
    lost: int
    pipeline_created: float
    by_team: list[tuple[str, float]]

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return self.won / closed if closed else None


def kpis(con, marts: set[str], quarter: Quarter) -> Kpis | None:
    if "mart_sales_kpis" not in marts:
        return None
    total = _rows(
        con,
        "SELECT coalesce(sum(bookings_amount), 0) AS bookings, coalesce(sum(won_count), 0) AS won, "
        "coalesce(sum(lost_count), 0) AS lost, coalesce(sum(pipeline_created_amount), 0) AS created "
        "FROM marts.mart_sales_kpis WHERE fiscal_quarter = ?",
        [quarter.label],
    )[0]
    teams = _rows(
        con,
        "SELECT coalesce(team, '(no team)') AS team, sum(bookings_amount) AS bookings "
        "FROM marts.mart_sales_kpis WHERE fiscal_quarter = ? GROUP BY 1 ORDER BY 2 DESC, 1",
        [quarter.label],
    )
    return Kpis(
        float(total["bookings"]),
        int(total["won"]),
        int(total["lost"]),
        float(total["created"]),
        [(r["team"], float(r["bookings"] or 0)) for r in teams],
    )


@dataclass
class TeamAttainment:
    team: str
    quota: float | None
    bookings: float
    attainment: float | None


def attainment_by_team(con, marts: set[str], quarter: Quarter) -> list[TeamAttainment] | None:
    """Quarter attainment per team: ``mart_quota_rollup`` (level team), else summed from
    ``mart_quota_attainment``; ``None`` when neither exists."""
    if "mart_quota_rollup" in marts:
        rows = _rows(
            con,
            "SELECT coalesce(entity_name, entity_id) AS team, ramp_adjusted_quota_amount AS quota, "
            "bookings_amount AS bookings, attainment FROM marts.mart_quota_rollup "
            "WHERE level = 'team' AND period_type = 'quarter' AND fiscal_period = ? ORDER BY 1",
            [quarter.label],
        )
    elif "mart_quota_attainment" in marts:
        rows = _rows(
            con,
            "SELECT coalesce(team, '(no team)') AS team, sum(ramp_adjusted_quota_amount) AS quota, "
            "sum(bookings_amount) AS bookings, "
            "sum(bookings_amount) / nullif(sum(ramp_adjusted_quota_amount), 0) AS attainment "
            "FROM marts.mart_quota_attainment WHERE period_type = 'quarter' AND fiscal_period = ? "
            "GROUP BY 1 ORDER BY 1",
            [quarter.label],
        )
    else:
        return None
    return [
        TeamAttainment(
            r["team"],
            None if r["quota"] is None else float(r["quota"]),
            float(r["bookings"] or 0),
            None if r["attainment"] is None else float(r["attainment"]),
        )
        for r in rows
    ]


def company_attainment(con, marts: set[str], quarter: Quarter) -> TeamAttainment | None:
    if "mart_quota_rollup" not in marts:
        return None
    rows = _rows(
        con,
        "SELECT ramp_adjusted_quota_amount AS quota, bookings_amount AS bookings, attainment "
        "FROM marts.mart_quota_rollup WHERE level = 'company' AND period_type = 'quarter' "
        "AND fiscal_period = ?",
        [quarter.label],
    )
    if not rows:
        return None
    r = rows[0]
    return TeamAttainment(
        "company",
        None if r["quota"] is None else float(r["quota"]),
        float(r["bookings"] or 0),
        None if r["attainment"] is None else float(r["attainment"]),
    )


FORECAST_MEASURES = (
    ("closed_won_amount", "Closed won"),
    ("forecast_commit_amount", "Commit"),
    ("forecast_most_likely_amount", "Most likely"),
    ("forecast_best_case_amount", "Best case"),
    ("forecast_weighted_amount", "Weighted"),
    ("forecast_statistical_amount", "Statistical"),
)


@dataclass
class Forecast:
    as_of: dt.date
    quota: float | None
    measures: list[tuple[str, float]]
    low: float | None = None
    high: float | None = None


def forecast(con, marts: set[str], quarter: Quarter, as_of: dt.date) -> Forecast | None:
    """Company forecast for the quarter at the latest as-of date not after ``as_of``."""
    if "mart_forecast" not in marts:
        return None
    present = columns(con, MARTS, "mart_forecast")
    wanted = [c for c, _ in FORECAST_MEASURES if c in present]
    extra = [
        c
        for c in ("forecast_statistical_low_amount", "forecast_statistical_high_amount")
        if c in present
    ]
    select = ", ".join(["as_of_date", "quota_amount", *wanted, *extra])
    rows = _rows(
        con,
        f"SELECT {select} FROM marts.mart_forecast WHERE level = 'company' AND fiscal_quarter = ? "
        "AND as_of_date <= ? ORDER BY as_of_date DESC LIMIT 1",
        [quarter.label, as_of],
    )
    if not rows:
        return Forecast(as_of, None, [])
    r = rows[0]
    labels = dict(FORECAST_MEASURES)
    return Forecast(
        r["as_of_date"],
        None if r["quota_amount"] is None else float(r["quota_amount"]),
        [(labels[c], float(r[c] or 0)) for c in wanted],
        _float(r.get("forecast_statistical_low_amount")),
        _float(r.get("forecast_statistical_high_amount")),
    )


WATERFALL_STEPS = (
    ("created_amount", "Created", 1),
    ("reopened_amount", "Reopened", 1),
    ("pulled_in_amount", "Pulled in", 1),
    ("pushed_out_amount", "Pushed out", -1),
    ("increased_amount", "Increased", 1),
    ("decreased_amount", "Decreased", -1),
    ("into_omitted_amount", "Into omitted", -1),
    ("out_of_omitted_amount", "Out of omitted", 1),
    ("deleted_amount", "Deleted", -1),
    ("won_amount", "Won", -1),
    ("lost_amount", "Lost", -1),
)


@dataclass
class Waterfall:
    starting: float
    steps: list[tuple[str, float]]  # signed
    ending: float


def waterfall(con, marts: set[str], quarter: Quarter) -> Waterfall | None:
    if "mart_pipeline_waterfall" not in marts:
        return None
    sums = ", ".join(f"coalesce(sum({c}), 0) AS {c}" for c, _, _ in WATERFALL_STEPS)
    totals = _rows(
        con,
        f"SELECT {sums} FROM marts.mart_pipeline_waterfall WHERE fiscal_quarter = ?",
        [quarter.label],
    )[0]
    ends = _rows(
        con,
        "SELECT (SELECT starting_pipeline_amount FROM marts.mart_pipeline_waterfall "
        " WHERE fiscal_quarter = ? ORDER BY week_start LIMIT 1) AS starting, "
        "(SELECT ending_pipeline_amount FROM marts.mart_pipeline_waterfall "
        " WHERE fiscal_quarter = ? ORDER BY week_start DESC LIMIT 1) AS ending",
        [quarter.label, quarter.label],
    )[0]
    if ends["starting"] is None:
        return Waterfall(0.0, [], 0.0)
    steps = [(label, sign * float(totals[c])) for c, label, sign in WATERFALL_STEPS]
    return Waterfall(float(ends["starting"]), steps, float(ends["ending"] or 0))


@dataclass
class FunnelStage:
    stage: str
    reached: int
    won: int
    resolved: int

    @property
    def to_won_rate(self) -> float | None:
        return self.won / self.resolved if self.resolved else None


def stage_funnel(
    con, marts: set[str], quarter: Quarter, quarters: int = 4
) -> tuple[list[str], list[FunnelStage]] | None:
    """Reached, won and resolved deals per ladder stage over the trailing ``quarters`` fiscal
    quarters up to this one (cohorts by the quarter a deal first reached the stage)."""
    if "mart_stage_conversion" not in marts:
        return None
    labels = [
        r["fiscal_quarter"]
        for r in _rows(
            con,
            "SELECT DISTINCT fiscal_quarter FROM marts.mart_stage_conversion "
            "WHERE fiscal_quarter <= ? ORDER BY fiscal_quarter DESC LIMIT ?",
            [quarter.label, quarters],
        )
    ]
    if not labels:
        return [], []
    rows = _rows(
        con,
        "SELECT ladder_stage, min(stage_order) AS stage_order, sum(reached_count) AS reached, "
        "sum(won_count) AS won, sum(resolved_count) AS resolved "
        "FROM marts.mart_stage_conversion WHERE list_contains(?, fiscal_quarter) "
        "GROUP BY ladder_stage ORDER BY stage_order",
        [labels],
    )
    stages = [
        FunnelStage(
            r["ladder_stage"], int(r["reached"] or 0), int(r["won"] or 0), int(r["resolved"] or 0)
        )
        for r in rows
    ]
    return sorted(labels), stages


@dataclass
class Campaign:
    name: str
    channel: str | None
    spend: float
    leads: int
    opportunities: int
    pipeline: float
    bookings: float

    @property
    def roas(self) -> float | None:
        return self.bookings / self.spend if self.spend else None


def campaigns(con, marts: set[str], quarter: Quarter, limit: int = 10) -> list[Campaign] | None:
    """Campaigns with the most spend in the quarter's months."""
    if "mart_campaign_performance" not in marts:
        return None
    quarter_filter, params = "fiscal_month LIKE ?", [quarter.label.split("-")[0] + "-M%"]
    if (
        quarter.start
        and quarter.end
        and "period_start" in columns(con, MARTS, "mart_campaign_performance")
    ):
        quarter_filter, params = "period_start BETWEEN ? AND ?", [quarter.start, quarter.end]
    rows = _rows(
        con,
        "SELECT coalesce(campaign_name, campaign_id) AS name, any_value(channel) AS channel, "
        "coalesce(sum(spend_amount), 0) AS spend, coalesce(sum(leads), 0) AS leads, "
        "coalesce(sum(opportunities), 0) AS opportunities, "
        "coalesce(sum(pipeline_amount), 0) AS pipeline, coalesce(sum(bookings_amount), 0) AS bookings "
        f"FROM marts.mart_campaign_performance WHERE {quarter_filter} "
        "GROUP BY 1 ORDER BY spend DESC, bookings DESC, name LIMIT ?",
        [*params, limit],
    )
    return [
        Campaign(
            r["name"],
            r["channel"],
            float(r["spend"]),
            int(r["leads"]),
            int(r["opportunities"]),
            float(r["pipeline"]),
            float(r["bookings"]),
        )
        for r in rows
    ]


@dataclass
class LeadSource:
    source: str
    leads: int
    mqls: int
    sqls: int
    opportunities: int
    won: int


def lead_funnel(con, marts: set[str], quarter: Quarter) -> list[LeadSource] | None:
    """Lead cohorts created in the quarter, by source (``mart_lead_funnel``)."""
    if "mart_lead_funnel" not in marts or not quarter.start:
        return None
    rows = _rows(
        con,
        "SELECT coalesce(lead_source, '(none)') AS source, sum(leads) AS leads, sum(mqls) AS mqls, "
        "sum(sqls) AS sqls, sum(opportunities) AS opportunities, sum(won) AS won "
        "FROM marts.mart_lead_funnel WHERE period_start BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC",
        [quarter.start, quarter.end],
    )
    return [
        LeadSource(
            r["source"],
            *(int(r[k] or 0) for k in ("leads", "mqls", "sqls", "opportunities", "won")),
        )
        for r in rows
    ]


# --------------------------------------------------------------------------------------------
# Data quality
# --------------------------------------------------------------------------------------------


@dataclass
class StatusTable:
    name: str
    columns: list[str]
    rows: list[tuple]


@dataclass
class GateStatus:
    """The status database's view of one run (tables ``runs``, ``gate_results``,
    ``quarantine_by_reason``, ``publish_log``)."""

    run: dict | None
    by_gate: list[dict]  # gate, passed, failed, warned, other
    problems: list[dict]  # gate, asset_key, check_name, status, message
    quarantine: list[dict]  # source, stream, reason, quarantined_rows, new_rows
    publication: dict | None  # the latest publish or rollback


@dataclass
class Quality:
    gates: GateStatus | None = None
    status_tables: list[StatusTable] | None = None  # None: no status database yet
    quarantine: list[tuple[str, str, int]] | None = None  # source, stream, rows (latest sync)
    notes: list[str] = field(default_factory=list)


_TIME_COLUMNS = (
    "finished_at",
    "checked_at",
    "evaluated_at",
    "created_at",
    "started_at",
    "run_at",
    "timestamp",
)


def status_tables(path: Path, limit: int = 15) -> list[StatusTable] | None:
    """The most recent rows of every table in the status database (``SALESOPS_STATUS``)."""
    if not path.exists():
        return None
    result = []
    with read_only(path, wait_seconds=10) as con:
        found = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('information_schema', 'pg_catalog') ORDER BY 1, 2"
        ).fetchall()
        for schema, table in found:
            cols = [c for c in columns(con, schema, table)]
            order = next((c for c in _TIME_COLUMNS if c in cols), None)
            ident = f'"{schema}"."{table}"'
            sql = (
                f"SELECT * FROM {ident}"
                + (f' ORDER BY "{order}" DESC' if order else "")
                + f" LIMIT {limit}"
            )
            cursor = con.execute(sql)
            result.append(
                StatusTable(
                    table if schema == "main" else f"{schema}.{table}",
                    [d[0] for d in cursor.description],
                    cursor.fetchall(),
                )
            )
    return result


def gate_status(path: Path, run_id: str | None = None) -> GateStatus | None:
    """The gate results of ``run_id`` (default: the latest run recorded); ``None`` when the
    status database does not exist or has no ``runs``/``gate_results`` tables."""
    if not path.exists():
        return None
    with read_only(path, wait_seconds=10) as con:
        present = tables(con, "main")
        if not {"runs", "gate_results"} <= present:
            return None
        runs = _rows(
            con,
            "SELECT * FROM runs WHERE (? IS NULL OR run_id = ?) ORDER BY finished_at DESC LIMIT 1",
            [run_id, run_id],
        )
        run = runs[0] if runs else None
        chosen = run["run_id"] if run else run_id
        if chosen is None:
            return GateStatus(None, [], [], [], None)
        by_gate = _rows(
            con,
            "SELECT gate, count(*) FILTER (WHERE status = 'passed') AS passed, "
            "count(*) FILTER (WHERE status = 'failed') AS failed, "
            "count(*) FILTER (WHERE status = 'warned') AS warned, "
            "count(*) FILTER (WHERE status NOT IN ('passed', 'failed', 'warned')) AS other "
            "FROM gate_results WHERE run_id = ? GROUP BY gate ORDER BY min(checked_at)",
            [chosen],
        )
        problems = _rows(
            con,
            "SELECT gate, asset_key, check_name, status, message FROM gate_results "
            "WHERE run_id = ? AND status IN ('failed', 'warned') "
            "ORDER BY status = 'warned', gate, asset_key, check_name LIMIT 50",
            [chosen],
        )
        quarantine = []
        if "quarantine_by_reason" in present:
            quarantine = _rows(
                con,
                "SELECT source, stream, reason, quarantined_rows, new_rows FROM quarantine_by_reason "
                "WHERE run_id = ? AND quarantined_rows > 0 ORDER BY quarantined_rows DESC LIMIT 30",
                [chosen],
            )
        publication = None
        if "publish_log" in present:
            rows = _rows(
                con,
                "SELECT version, action, run_id, as_of_date, published_at FROM publish_log "
                "ORDER BY published_at DESC LIMIT 1",
            )
            publication = rows[0] if rows else None
    return GateStatus(run, by_gate, problems, quarantine, publication)


def quarantine_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]] | None:
    """Rows quarantined by the latest sync of each stream (warehouse only)."""
    if "sync_log" not in tables(con, "raw_meta"):
        return None
    return [
        (r[0], r[1], int(r[2]))
        for r in con.execute(
            "SELECT source, stream, records_quarantined FROM raw_meta.sync_log "
            "QUALIFY row_number() OVER (PARTITION BY source, stream ORDER BY sync_id DESC) = 1 "
            "ORDER BY records_quarantined DESC, source, stream"
        ).fetchall()
    ]
