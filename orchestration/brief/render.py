"""The sales brief: one static HTML file with inline CSS and SVG (nothing to download).

Sections: headline KPIs, attainment by team, forecast versus quota, the pipeline waterfall, the
stage funnel, campaign performance (plus the lead funnel) and data quality. A section whose mart
is not built yet renders a "not available yet" panel naming the mart, so the brief grows with
the project. The file is written atomically (temporary file + rename) to ``SALESOPS_BRIEF``.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from orchestration.brief import data, svg
from salesops.config import Settings


@dataclass
class RunSummary:
    """The run the brief is written after (all optional: the brief also renders standalone)."""

    run_id: str | None = None
    job_name: str | None = None
    failed_steps: list[str] = field(default_factory=list)
    failed_gates: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: int = 0
    url: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.failed_steps or self.failed_gates)


@dataclass
class BriefResult:
    path: Path
    origin: str
    available: list[str]
    missing: list[str]


def money(value: float | None) -> str:
    if value is None:
        return "–"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{sign}${value / limit:,.1f}{suffix}"
    return f"{sign}${value:,.0f}"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2933;margin:0;background:#f5f7fa}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 10px}
.sub{color:#616e7c;margin:0 0 16px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:16px 20px;margin:0 0 16px}
.tiles{display:flex;gap:12px;flex-wrap:wrap}.tile{flex:1;min-width:150px;background:#f5f7fa;border-radius:6px;padding:10px 12px}
.tile b{display:block;font-size:22px}.tile span{color:#616e7c;font-size:12px}
.na{background:#fffbea;border:1px dashed #d69e2e;border-radius:6px;padding:10px 12px;color:#7c5e10}
.bad{background:#fdecea;border:1px solid #c8553d;border-radius:6px;padding:10px 12px}
.ok{background:#e3f9e5;border:1px solid #2f9e6e;border-radius:6px;padding:10px 12px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7eb}
td.n,th.n{text-align:right}.note{color:#616e7c;font-size:12px}
"""


def not_available(what: str, needs: str) -> str:
    return f"<div class='na'><b>Not available yet.</b> {escape(what)} needs <code>{escape(needs)}</code>, which is not built yet.</div>"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(
        f"<th class='{'n' if i in numeric else ''}'>{escape(h)}</th>" for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='{'n' if i in numeric else ''}'>{escape(str(c))}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _headline(
    k: data.Kpis | None, company: data.TeamAttainment | None, quarter: data.Quarter
) -> str:
    if k is None:
        return not_available("Bookings", "marts.mart_sales_kpis")
    tiles = [
        (money(k.bookings), f"Bookings {quarter.label}"),
        (f"{k.won:,}", "Deals won"),
        (pct(k.win_rate), "Win rate (count)"),
        (money(k.pipeline_created), "Pipeline created"),
    ]
    if company is not None:
        tiles.insert(1, (pct(company.attainment), f"Attainment of {money(company.quota)}"))
    if quarter.elapsed_days and quarter.days:
        tiles.append(
            (
                pct(quarter.elapsed_days / quarter.days),
                f"of the quarter elapsed (day {quarter.elapsed_days})",
            )
        )
    return (
        "<div class='tiles'>"
        + "".join(
            f"<div class='tile'><b>{escape(v)}</b><span>{escape(t)}</span></div>" for v, t in tiles
        )
        + "</div>"
    )


def _attainment(
    rows: list[data.TeamAttainment] | None, k: data.Kpis | None, quarter: data.Quarter
) -> str:
    if rows is None:
        html = not_available("Attainment by team", "marts.mart_quota_rollup")
        if k is not None and k.by_team:
            html += f"<p class='note'>Meanwhile, bookings by team in {escape(quarter.label)} (no quota yet):</p>"
            html += svg.hbars(k.by_team, money, title="Bookings by team")
        return html
    if not rows:
        return f"<p class='note'>No team quotas for {escape(quarter.label)}.</p>"
    chart = svg.hbars(
        [(r.team, r.attainment or 0.0) for r in rows],
        pct,
        title=f"Attainment by team, {quarter.label}",
        reference=1.0,
        reference_label="100 % of quota",
        color=svg.GREEN,
    )
    table = _table(
        ["Team", "Quota (ramp-adjusted)", "Bookings", "Attainment"],
        [[r.team, money(r.quota), money(r.bookings), pct(r.attainment)] for r in rows],
        {1, 2, 3},
    )
    return chart + table


def _forecast(f: data.Forecast | None, quarter: data.Quarter) -> str:
    if f is None:
        return not_available("Forecast versus quota", "marts.mart_forecast")
    if not f.measures:
        return f"<p class='note'>No company forecast for {escape(quarter.label)} yet.</p>"
    targets = [f.quota] * len(f.measures) if f.quota else None
    chart = svg.hbars(
        f.measures, money, title=f"Forecast versus quota, {quarter.label}", targets=targets
    )
    note = f"Company level, as of {f.as_of}. Quota {money(f.quota)} (black tick)."
    if f.low is not None and f.high is not None:
        note += f" Statistical 80 % interval {money(f.low)} – {money(f.high)}."
    return chart + f"<p class='note'>{escape(note)}</p>"


def _waterfall(w: data.Waterfall | None, quarter: data.Quarter) -> str:
    if w is None:
        return not_available("The pipeline waterfall", "marts.mart_pipeline_waterfall")
    if not w.steps:
        return f"<p class='note'>No pipeline movements for {escape(quarter.label)} yet.</p>"
    return svg.waterfall(
        w.starting, w.steps, w.ending, money, title=f"Pipeline waterfall, {quarter.label}"
    ) + (
        f"<p class='note'>Open pipeline closing in {escape(quarter.label)}: {money(w.starting)} at the start, "
        f"{money(w.ending)} now.</p>"
    )


def _funnel(result: tuple[list[str], list[data.FunnelStage]] | None) -> str:
    if result is None:
        return not_available("The stage funnel", "marts.mart_stage_conversion")
    quarters, stages = result
    if not stages:
        return "<p class='note'>No deals have reached a stage yet.</p>"
    chart = svg.funnel([(s.stage, s.reached) for s in stages], title="Deals reaching each stage")
    table = _table(
        ["Stage", "Reached", "Resolved", "Won", "Stage to won"],
        [
            [s.stage, f"{s.reached:,}", f"{s.resolved:,}", f"{s.won:,}", pct(s.to_won_rate)]
            for s in stages
        ],
        {1, 2, 3, 4},
    )
    span = f"{quarters[0]} to {quarters[-1]}" if quarters else ""
    return (
        chart
        + table
        + f"<p class='note'>Deals by the quarter they first reached a stage, {escape(span)}.</p>"
    )


def _campaigns(
    rows: list[data.Campaign] | None, leads: list[data.LeadSource] | None, quarter: data.Quarter
) -> str:
    parts = []
    if rows is None:
        parts.append(not_available("Campaign performance", "marts.mart_campaign_performance"))
    elif not rows:
        parts.append(f"<p class='note'>No campaign spend in {escape(quarter.label)}.</p>")
    else:
        names = [r.name for r in rows]
        parts.append(
            svg.grouped_bars(
                names,
                [
                    ("Spend", [r.spend for r in rows], svg.RED),
                    ("Pipeline", [r.pipeline for r in rows], svg.BLUE),
                    ("Bookings", [r.bookings for r in rows], svg.GREEN),
                ],
                money,
                title=f"Campaigns by spend, {quarter.label}",
            )
        )
        parts.append(
            _table(
                [
                    "Campaign",
                    "Channel",
                    "Spend",
                    "Leads",
                    "Opportunities",
                    "Pipeline",
                    "Bookings",
                    "ROAS",
                ],
                [
                    [
                        r.name,
                        r.channel or "",
                        money(r.spend),
                        f"{r.leads:,}",
                        f"{r.opportunities:,}",
                        money(r.pipeline),
                        money(r.bookings),
                        "–" if r.roas is None else f"{r.roas:.1f}x",
                    ]
                    for r in rows
                ],
                {2, 3, 4, 5, 6, 7},
            )
        )
    if leads:
        parts.append(f"<h3>Lead funnel by source, cohorts created in {escape(quarter.label)}</h3>")
        parts.append(
            _table(
                ["Source", "Leads", "MQLs", "SQLs", "Opportunities", "Won"],
                [
                    [
                        s.source,
                        f"{s.leads:,}",
                        f"{s.mqls:,}",
                        f"{s.sqls:,}",
                        f"{s.opportunities:,}",
                        f"{s.won:,}",
                    ]
                    for s in leads
                ],
                {1, 2, 3, 4, 5},
            )
        )
    return "".join(parts)


def _gates(g: data.GateStatus) -> str:
    parts = []
    if g.run:
        r = g.run
        verdict = "passed" if r.get("status") == "passed" else "failed"
        published = (
            f"published version {r.get('serving_version')}"
            if r.get("published")
            else "not published: serving is unchanged"
        )
        parts.append(
            f"<p>Gates of run <code>{escape(str(r.get('run_id', ''))[:8])}</code> ({escape(str(r.get('job_name') or ''))}, "
            f"as of {escape(str(r.get('as_of_date') or ''))}): <b>{verdict}</b>; {escape(published)}.</p>"
        )
    if g.by_gate:
        parts.append(
            _table(
                ["Gate", "Passed", "Failed", "Warned", "Other"],
                [
                    [row["gate"], row["passed"], row["failed"], row["warned"], row["other"]]
                    for row in g.by_gate
                ],
                {1, 2, 3, 4},
            )
        )
    if g.problems:
        parts.append("<h3>Failed and warned checks</h3>")
        parts.append(
            _table(
                ["Gate", "Asset", "Check", "Status", "Message"],
                [
                    [
                        p["gate"],
                        p["asset_key"],
                        p["check_name"],
                        p["status"],
                        (p["message"] or "")[:200],
                    ]
                    for p in g.problems
                ],
            )
        )
    if g.quarantine:
        parts.append("<h3>Quarantined rows by reason</h3>")
        parts.append(
            _table(
                ["Source", "Stream", "Reason", "Rows", "New this run"],
                [
                    [
                        q["source"],
                        q["stream"],
                        q["reason"],
                        f"{q['quarantined_rows']:,}",
                        f"{q['new_rows'] or 0:,}",
                    ]
                    for q in g.quarantine
                ],
                {3, 4},
            )
        )
    if g.publication:
        p = g.publication
        parts.append(
            f"<p class='note'>Serving: {escape(str(p.get('action')))} of version {escape(str(p.get('version')))} "
            f"(as of {escape(str(p.get('as_of_date')))}, {escape(str(p.get('published_at')))[:19]}).</p>"
        )
    return "".join(parts) or "<p class='note'>No gate results recorded yet.</p>"


def _quality(run: RunSummary | None, quality: data.Quality) -> str:
    parts = []
    if run is not None and run.run_id:
        link = f" <a href='{escape(run.url)}'>Open the run</a>" if run.url else ""
        if run.failed:
            items = "".join(f"<li>step <code>{escape(s)}</code></li>" for s in run.failed_steps)
            items += "".join(f"<li>gate <code>{escape(g)}</code></li>" for g in run.failed_gates)
            parts.append(
                f"<div class='bad'><b>The last run ({escape(run.job_name or '')} {escape(run.run_id[:8])}) failed.</b>"
                f" The numbers above are from the last data that was built.{link}<ul>{items}</ul></div>"
            )
        else:
            parts.append(
                f"<div class='ok'><b>The last run ({escape(run.job_name or '')} {escape(run.run_id[:8])}) succeeded.</b>"
                f" {run.checks_passed:,} checks passed, {run.checks_failed:,} failed.{link}</div>"
            )
    if quality.gates is not None:
        parts.append(_gates(quality.gates))
    elif quality.status_tables is None:
        parts.append(not_available("Quality-gate results", "SALESOPS_STATUS (the status database)"))
    else:
        for table in quality.status_tables:
            parts.append(f"<h3>{escape(table.name)}</h3>")
            parts.append(
                _table(
                    table.columns, [[("" if v is None else v) for v in row] for row in table.rows]
                )
            )
    if quality.quarantine is not None and quality.gates is None:
        rows = [[s, t, f"{n:,}"] for s, t, n in quality.quarantine if n]
        if rows:
            parts.append(
                "<h3>Rows quarantined by the latest sync</h3>"
                + _table(["Source", "Stream", "Rows"], rows, {2})
            )
        else:
            parts.append(
                "<p class='note'>No rows were quarantined by the latest sync of any stream.</p>"
            )
    for note in quality.notes:
        parts.append(f"<p class='note'>{escape(note)}</p>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


SECTIONS = (
    ("attainment", "Attainment by team"),
    ("forecast", "Forecast versus quota"),
    ("waterfall", "Pipeline waterfall"),
    ("funnel", "Stage funnel"),
    ("campaigns", "Campaign performance"),
    ("quality", "Data quality"),
)


def build_html(
    settings: Settings,
    as_of: dt.date,
    run: RunSummary | None = None,
    *,
    generated_at: dt.datetime | None = None,
) -> tuple[str, str, list[str], list[str]]:
    """The page, the origin label, and the sections with and without data."""
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    origin = data.choose_origin(settings)
    quality = data.Quality()
    try:
        quality.gates = data.gate_status(settings.status, run.run_id if run else None)
        if quality.gates is None:
            quality.status_tables = data.status_tables(settings.status)
    except Exception as exc:  # the brief never fails on the status database
        quality.notes.append(f"The status database could not be read: {type(exc).__name__}.")
    sections: dict[str, str] = {}
    available: list[str] = []
    missing: list[str] = []
    headline = ""
    quarter = data.Quarter(f"FY{as_of.year}-Q{(as_of.month - 1) // 3 + 1}", None, None)
    if origin is None:
        body = not_available("Every section", "a built warehouse (run the nightly job)")
        for key, _ in SECTIONS[:-1]:
            sections[key] = body
            missing.append(key)
    else:
        with data.connect(origin) as con:
            marts = data.tables(con, data.MARTS)
            quarter = data.fiscal_quarter(con, marts, as_of)
            k = data.kpis(con, marts, quarter)
            team = data.attainment_by_team(con, marts, quarter)
            company = data.company_attainment(con, marts, quarter)
            fc = data.forecast(con, marts, quarter, as_of)
            wf = data.waterfall(con, marts, quarter)
            fn = data.stage_funnel(con, marts, quarter)
            cp = data.campaigns(con, marts, quarter)
            leads = data.lead_funnel(con, marts, quarter)
            if not origin.published:
                quality.quarantine = data.quarantine_counts(con)
        headline = _headline(k, company, quarter)
        found = {"attainment": team, "forecast": fc, "waterfall": wf, "funnel": fn, "campaigns": cp}
        for key, value in found.items():
            (available if value is not None else missing).append(key)
        sections = {
            "attainment": _attainment(team, k, quarter),
            "forecast": _forecast(fc, quarter),
            "waterfall": _waterfall(wf, quarter),
            "funnel": _funnel(fn),
            "campaigns": _campaigns(cp, leads, quarter),
        }
    sections["quality"] = _quality(run, quality)
    has_status = quality.gates is not None or quality.status_tables is not None
    (available if has_status else missing).append("quality")
    origin_label = (
        origin.label if origin else "nothing yet: no warehouse or serving database exists"
    )
    title = f"Sales brief, as of {as_of.isoformat()}"
    html = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='sub'>Fiscal quarter {escape(quarter.label)}. Generated {escape(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} "
        f"from the {escape(origin_label)}.</p>",
    ]
    if run is not None and run.failed:
        html.append(
            "<div class='bad'><b>The last run failed</b>: see Data quality below.</div><br>"
        )
    if headline:
        html.append(f"<section><h2>Headline</h2>{headline}</section>")
    for key, heading in SECTIONS:
        html.append(f"<section id='{key}'><h2>{escape(heading)}</h2>{sections[key]}</section>")
    html.append(
        "<p class='note'>salesops sales brief: static file, no scripts, no external resources.</p>"
    )
    html.append("</main></body></html>")
    return "".join(html), origin_label, available, missing


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so
    readers see the old or the new brief, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_brief(settings: Settings, as_of: dt.date, run: RunSummary | None = None) -> BriefResult:
    html, origin, available, missing = build_html(settings, as_of, run)
    write_atomically(settings.brief, html)
    return BriefResult(settings.brief, origin, available, missing)
