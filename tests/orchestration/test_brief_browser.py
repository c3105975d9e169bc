"""The sales brief in a real browser: headless Chromium (Debian's ``chromium`` package, driven by
Playwright for Python through ``executable_path``) opens the brief written by a real
``nightly_refresh`` run on the tiny org and finds every chart the brief promises (attainment by
team, forecast versus quota, the pipeline waterfall, the stage funnel, campaign performance)
drawn with a non-zero size, real shapes and the numbers the serving database holds, plus the
data-quality status from the status database; no console errors, no network request.

The run is the session-wide first night of ``tests/quality/test_pipeline.py`` (shared across
xdist workers), not another full run.

Artifact: a full-page screenshot, ``brief.png``, in ``$SALESOPS_ARTIFACTS_DIR`` when set, else in
``test-artifacts/`` at the repository root (git-ignored). Chromium comes from
``SALESOPS_CHROMIUM`` or ``chromium`` on PATH; when it is missing the test fails and names the
fix (``bash scripts/system-packages.sh chromium``, which ``make test`` runs).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.brief.render import money
from salesops.config import PROJECT_ROOT
from tests.quality.support import AS_OF, shared
from tests.quality.test_pipeline import first_night

pytestmark = pytest.mark.slow

# section id -> the chart's <title>, without the quarter
CHARTS = {
    "attainment": "Attainment by team",
    "forecast": "Forecast versus quota",
    "waterfall": "Pipeline waterfall",
    "funnel": "Deals reaching each stage",
    "campaigns": "Campaigns by spend",
}


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary; asked for before the nightly run, so a missing one fails fast."""
    found = os.environ.get("SALESOPS_CHROMIUM") or shutil.which("chromium")
    if not found or not Path(found).exists():
        pytest.fail(
            "Chromium is not installed: the brief's browser test needs Debian's `chromium` "
            "package. Install it with `bash scripts/system-packages.sh chromium` (as root; "
            "`make test` does this), or point SALESOPS_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
    return found


def artifacts_dir() -> Path:
    directory = Path(os.environ.get("SALESOPS_ARTIFACTS_DIR") or PROJECT_ROOT / "test-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def night(tmp_path_factory):
    """The first night of tests/quality/test_pipeline.py (same name: built once per session)."""
    site, result = shared(tmp_path_factory, "quality_first_night", first_night)
    assert result.success and "publish" in result.materialized, result.explain()
    return site


def rows(path: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def expected(site) -> dict:
    """What the charts must show, queried from the serving and status databases directly."""
    serving = site.data / "serving.duckdb"
    ((quarter, start, end),) = rows(
        serving,
        "SELECT fiscal_quarter, quarter_start, quarter_end FROM marts.dim_fiscal_calendar "
        "WHERE date_day = ?",
        [AS_OF],
    )
    teams = rows(
        serving,
        "SELECT coalesce(entity_name, entity_id), attainment FROM marts.mart_quota_rollup "
        "WHERE level = 'team' AND period_type = 'quarter' AND fiscal_period = ? ORDER BY 1",
        [quarter],
    )
    ((closed_won, commit, quota),) = rows(
        serving,
        "SELECT closed_won_amount, forecast_commit_amount, quota_amount FROM marts.mart_forecast "
        "WHERE level = 'company' AND fiscal_quarter = ? AND as_of_date <= ? "
        "ORDER BY as_of_date DESC LIMIT 1",
        [quarter, AS_OF],
    )
    ((starting, ending),) = rows(
        serving,
        "SELECT arg_min(starting_pipeline_amount, week_start), "
        "arg_max(ending_pipeline_amount, week_start) "
        "FROM marts.mart_pipeline_waterfall WHERE fiscal_quarter = ?",
        [quarter],
    )
    recent = [
        q
        for (q,) in rows(
            serving,
            "SELECT DISTINCT fiscal_quarter FROM marts.mart_stage_conversion "
            "WHERE fiscal_quarter <= ? ORDER BY 1 DESC LIMIT 4",
            [quarter],
        )
    ]
    stages = rows(
        serving,
        "SELECT ladder_stage, sum(reached_count) FROM marts.mart_stage_conversion "
        "WHERE list_contains(?, fiscal_quarter) GROUP BY 1 ORDER BY min(stage_order)",
        [recent],
    )
    campaigns = rows(
        serving,
        "SELECT coalesce(campaign_name, campaign_id), coalesce(sum(spend_amount), 0) AS spend, "
        "coalesce(sum(pipeline_amount), 0), coalesce(sum(bookings_amount), 0) AS bookings FROM marts.mart_campaign_performance "
        "WHERE period_start BETWEEN ? AND ? GROUP BY 1 ORDER BY spend DESC, bookings DESC, 1 "
        "LIMIT 10",
        [start, end],
    )
    gates = rows(
        site.data / "status.duckdb",
        "SELECT gate, count(*) FILTER (WHERE status = 'passed') FROM gate_results "
        "WHERE run_id = (SELECT run_id FROM runs ORDER BY finished_at DESC LIMIT 1) "
        "GROUP BY gate ORDER BY min(checked_at)",
    )
    return {
        "quarter": quarter,
        "teams": teams,
        "closed_won": closed_won,
        "commit": commit,
        "quota": quota,
        "starting": starting,
        "ending": ending,
        "stages": stages,
        "campaigns": campaigns,
        "gates": gates,
    }


def test_chromium_renders_every_chart_of_the_brief(chromium, night):
    """Every chart drawn, to scale, with the serving database's numbers; screenshot saved to
    ``$SALESOPS_ARTIFACTS_DIR/brief.png`` (default ``test-artifacts/brief.png``)."""
    from playwright.sync_api import sync_playwright

    brief = night.data / "brief.html"
    assert brief.exists(), f"the nightly run wrote no brief at {brief}"
    want = expected(night)
    quarter = want["quarter"]
    assert want["teams"] and want["stages"] and want["campaigns"], want

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "request",
                lambda r: None if r.url.startswith("file:") else problems.append(f"fetch {r.url}"),
            )
            page.goto(brief.resolve().as_uri(), wait_until="load")
            assert page.title() == f"Sales brief, as of {AS_OF.isoformat()}"

            charts = {}
            for section, title in CHARTS.items():
                svg = page.locator(f"section#{section} svg")
                assert svg.count() == 1, f"{section}: {svg.count()} charts"
                svg.scroll_into_view_if_needed()
                assert svg.is_visible(), section
                box = svg.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 20, (section, box)
                # the bars as laid out by the browser: inside the chart, at least one not flat
                # (a zero movement of the waterfall or a campaign without bookings is 0-1 px)
                bars = svg.locator("rect").evaluate_all(
                    "els => els.map(e => { const r = e.getBoundingClientRect();"
                    " return [r.x, r.y, r.width, r.height]; })"
                )
                assert any(w > 2 and h > 2 for _, _, w, h in bars), (section, bars)
                for x, y, w, h in bars:
                    assert box["x"] - 1 <= x and x + w <= box["x"] + box["width"] + 1, section
                    assert box["y"] - 1 <= y and y + h <= box["y"] + box["height"] + 1, section
                # every label drawn inside the chart, none cut off at an edge
                clipped = svg.evaluate(
                    "s => { const b = s.getBoundingClientRect();"
                    " return [...s.querySelectorAll('text')].filter(t => {"
                    " const r = t.getBoundingClientRect(); return r.width === 0"
                    " || r.left < b.left - 0.5 || r.right > b.right + 0.5"
                    " || r.top < b.top - 0.5 || r.bottom > b.bottom + 0.5; })"
                    ".map(t => t.textContent); }"
                )
                assert clipped == [], f"{section}: labels cut off or empty: {clipped}"
                texts = [" ".join(t.split()) for t in svg.locator("text").all_text_contents()]
                assert svg.locator("title").text_content() in (title, f"{title}, {quarter}")
                charts[section] = (bars, texts)

            # attainment by team: one label and one percentage per team, then the 100 % line
            bars, texts = charts["attainment"]
            assert texts == [
                *(
                    part
                    for team, attainment in want["teams"]
                    for part in (team[:34], f"{attainment:.0%}")
                ),
                "100 % of quota",
            ]
            assert len(bars) == len(want["teams"])
            widths = [w for _, _, w, _ in bars]
            top = max(a for _, a in want["teams"])
            if top > 0 and min(a for _, a in want["teams"]) >= 0:
                for width, (team, attainment) in zip(widths, want["teams"], strict=True):
                    share = max(attainment / top * max(widths), 1)
                    assert width == pytest.approx(share, abs=1.5), team

            # forecast versus quota: closed won and commit next to their values, quota ticks
            bars, texts = charts["forecast"]
            assert texts[texts.index("Closed won") + 1] == money(want["closed_won"])
            assert texts[texts.index("Commit") + 1] == money(want["commit"])
            assert page.locator("section#forecast svg line").count() == len(bars)
            assert f"Quota {money(want['quota'])}" in page.locator("section#forecast").inner_text()

            # the waterfall: start, eleven movements, end; start and end bars to scale
            bars, texts = charts["waterfall"]
            assert len(bars) == 13
            assert texts[3] == "Start" and texts[-1] == "End" and "Created" in texts
            start_h, end_h = bars[0][3], bars[-1][3]
            if want["starting"] > 0 and want["ending"] > 0 and min(start_h, end_h) > 5:
                assert start_h / end_h == pytest.approx(want["starting"] / want["ending"], rel=0.05)
            note = page.locator("section#waterfall p.note").inner_text()
            assert f"{money(want['starting'])} at the start, {money(want['ending'])} now" in note

            # the stage funnel: every ladder stage with the deals that reached it
            bars, texts = charts["funnel"]
            shown = [
                (label, int(re.match(r"[\d,]+", count).group().replace(",", "")))
                for label, count in zip(texts[0::2], texts[1::2], strict=True)
            ]
            assert shown == [(stage.replace("_", " "), int(n)) for stage, n in want["stages"]]
            widths = [w for _, _, w, _ in bars]
            most = max(n for _, n in want["stages"])
            for width, (stage, n) in zip(widths, want["stages"], strict=True):
                assert width == pytest.approx(max(n / most * max(widths), 2), abs=1.5), stage

            # campaigns: three series per campaign plus the legend, names on the axis
            bars, texts = charts["campaigns"]
            assert len(bars) == 3 * len(want["campaigns"]) + 3
            high = max(max(values) for _, *values in want["campaigns"])
            assert texts == [
                money(0),
                money(high / 2),
                money(high),
                *(name[:22] for name, *_ in want["campaigns"]),
                "Spend",
                "Pipeline",
                "Bookings",
            ]

            # data quality: the run succeeded and every gate is listed with its passed checks
            quality = page.locator("section#quality")
            quality.scroll_into_view_if_needed()
            assert quality.is_visible()
            text = quality.inner_text()
            assert "passed" in text and "published version" in text, text[:500]
            table = quality.locator("table").first.locator("tbody tr").all_inner_texts()
            shown = [tuple(r.split("\t")[:2]) for r in table]
            assert shown == [(gate, str(passed)) for gate, passed in want["gates"]], shown
            assert {"raw", "model", "mart", "publish"} <= {g for g, _ in want["gates"]}

            headline = page.locator("section .tiles").inner_text()
            assert f"Bookings {quarter}" in headline

            screenshot = artifacts_dir() / "brief.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert screenshot.stat().st_size > 20_000
