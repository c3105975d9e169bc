"""``salesops demo``: the synthetic org, the nightly job once, and a short summary.

Starts the emulator in this process, points every connector at it (demo credentials), runs
``nightly_refresh`` on the persistent instance (``DAGSTER_HOME``, default
``$SALESOPS_DATA_DIR/dagster``) as of the org's last day, and prints what the marts say. The
summary reads whatever marts exist and names what is not built yet.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

DEMO_CUSTOMER_ID = "1234567890"
DEMO_AS_OF = dt.date(2026, 11, 26)


def emulator_env(running) -> dict[str, str]:
    """The CONFIG.md variables that point all three connectors at ``running``."""
    credentials = running.credentials
    base = running.base_url
    return {
        "SALESFORCE_LOGIN_URL": base,
        "SALESFORCE_CLIENT_ID": credentials.salesforce_client_id,
        "SALESFORCE_CLIENT_SECRET": credentials.salesforce_client_secret,
        "SALESFORCE_REFRESH_TOKEN": credentials.salesforce_refresh_token,
        "HUBSPOT_BASE_URL": base,
        "HUBSPOT_ACCESS_TOKEN": credentials.hubspot_token,
        "GOOGLE_ADS_BASE_URL": base,
        "GOOGLE_ADS_TOKEN_URL": f"{base}/token",
        "GOOGLE_ADS_CUSTOMER_ID": DEMO_CUSTOMER_ID,
        "GOOGLE_ADS_DEVELOPER_TOKEN": credentials.google_ads_developer_token,
        # The emulator's Google OAuth client is its Salesforce client (emulator/server/google_ads.py).
        "GOOGLE_ADS_CLIENT_ID": credentials.salesforce_client_id,
        "GOOGLE_ADS_CLIENT_SECRET": credentials.salesforce_client_secret,
        "GOOGLE_ADS_REFRESH_TOKEN": credentials.salesforce_refresh_token,
    }


def start_demo_emulator(scale: str, seed: int, as_of: dt.date):
    from emulator.server import start_emulator

    return start_emulator(seed=seed, scale=scale, as_of=as_of)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="serve the synthetic org, run the nightly job once, print a summary"
    )
    parser.add_argument("--scale", default="small", help="emulator scale (default small)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=_date, default=DEMO_AS_OF, help="the org's last day")
    parser.set_defaults(handler=_demo)


# --------------------------------------------------------------------------------------------
# The summary
# --------------------------------------------------------------------------------------------


def summary_lines(settings, as_of: dt.date) -> list[str]:
    """What the marts (and the status database) say, and what is not built yet."""
    from orchestration.brief import data
    from orchestration.brief.render import money, pct

    lines: list[str] = []
    origin = data.choose_origin(settings)
    if origin is None:
        return ["No marts yet: the warehouse has no marts schema (see the run's failures above)."]
    with data.connect(origin) as con:
        marts = data.tables(con, data.MARTS)
        quarter = data.fiscal_quarter(con, marts, as_of)
        kpis = data.kpis(con, marts, quarter)
        company = data.company_attainment(con, marts, quarter)
        team = data.attainment_by_team(con, marts, quarter)
        forecast = data.forecast(con, marts, quarter, as_of)
    if kpis is None:
        lines.append("Bookings:            not built yet (needs marts.mart_sales_kpis)")
    else:
        lines.append(
            f"Bookings {quarter.label}:  {money(kpis.bookings)} from {kpis.won:,} won deals "
            f"(win rate {pct(kpis.win_rate)}), as of {as_of}"
        )
    if company is not None:
        lines.append(
            f"Attainment:          {pct(company.attainment)} of {money(company.quota)} quota"
        )
    elif team:
        quota = sum(t.quota or 0 for t in team)
        booked = sum(t.bookings for t in team)
        lines.append(
            f"Attainment:          {pct(booked / quota if quota else None)} of {money(quota)} quota"
        )
    else:
        lines.append("Attainment:          not built yet (needs marts.mart_quota_rollup)")
    if forecast is None:
        lines.append("Forecast vs quota:   not built yet (needs marts.mart_forecast)")
    elif not forecast.measures:
        lines.append(f"Forecast vs quota:   no company forecast for {quarter.label} yet")
    else:
        measures = ", ".join(f"{label.lower()} {money(v)}" for label, v in forecast.measures[:4])
        lines.append(f"Forecast vs quota:   {measures}; quota {money(forecast.quota)}")
    lines.extend(_gate_lines(settings))
    if origin.published:
        lines.append(f"Serving database:    {settings.serving}")
    else:
        lines.append(
            f"Serving database:    not built yet (no publish step); marts are in {settings.warehouse}"
        )
    return lines


def _gate_lines(settings) -> list[str]:
    from orchestration.brief import data

    try:
        gates = data.gate_status(settings.status)
    except Exception as exc:
        return [
            f"Quality gates:       the status database could not be read ({type(exc).__name__})"
        ]
    if gates is None:
        return ["Quality gates:       not built yet (no status database)"]
    if gates.run is None:
        return ["Quality gates:       no run recorded yet"]
    parts = [
        f"{row['gate']} {row['passed']}/{row['passed'] + row['failed'] + row['warned'] + row['other']}"
        for row in gates.by_gate
    ]
    verdict = gates.run.get("status", "?")
    lines = [f"Quality gates:       {verdict}: " + (", ".join(parts) if parts else "no checks")]
    for problem in gates.problems[:5]:
        lines.append(
            f"                     {problem['status']} {problem['asset_key']} {problem['check_name']}"
        )
    return lines


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def output_to(log_path: Path) -> Iterator:
    """Send this process's stdout and stderr, and its children's, to ``log_path``; yields a
    stream on the original terminal for progress lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        terminal.close()


class StepProgress(threading.Thread):
    """Prints each step of the newest run as it starts and ends (polls the instance)."""

    EVENTS: ClassVar[dict[str, str]] = {
        "STEP_START": "started",
        "STEP_SUCCESS": "ok",
        "STEP_FAILURE": "FAILED",
    }

    def __init__(self, out, since: float) -> None:
        super().__init__(name="salesops-demo-progress", daemon=True)
        self.out = out
        self.since = since
        self.stopped = threading.Event()
        self.seen: set[int] = set()

    def run(self) -> None:
        while not self.stopped.wait(3):
            with contextlib.suppress(Exception):
                self.poll()

    def poll(self) -> None:
        import dagster as dg
        from dagster import DagsterEventType

        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs(limit=1)
            if not runs:
                return
            types = {DagsterEventType(name) for name in self.EVENTS}
            records = instance.get_records_for_run(
                runs[0].run_id, of_type=types, limit=10_000
            ).records
            for record in records:
                entry = record.event_log_entry
                if record.storage_id in self.seen or entry.timestamp < self.since:
                    continue
                self.seen.add(record.storage_id)
                elapsed = int(entry.timestamp - self.since)
                what = self.EVENTS[entry.dagster_event.event_type_value]
                self.out.write(
                    f"  {elapsed // 60:>2}:{elapsed % 60:02d}  {entry.step_key} {what}\n"
                )

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
        with contextlib.suppress(Exception):
            self.poll()


def run_demo(
    scale: str, seed: int, as_of: dt.date, *, environ: Mapping[str, str] | None = None, out=None
) -> int:
    from orchestration.launch import run_job
    from salesops.commands.run import console_config, report
    from salesops.config import load_settings

    out = out or sys.stdout
    settings = load_settings(environ)
    started = time.monotonic()
    out.write(f"Starting the emulator ({scale} org, seed {seed}, as of {as_of}) ...\n")
    out.flush()
    with start_demo_emulator(scale, seed, as_of) as running:
        os.environ.update(emulator_env(running))
        log_path = settings.data_dir / "demo-run.log"
        out.write(
            f"Emulator on {running.base_url}. Running nightly_refresh (ingest, dbt build and "
            f"tests, gates, publish); this takes a few minutes (full log: {log_path}) ...\n"
        )
        out.flush()
        with output_to(log_path) as terminal:
            progress = StepProgress(terminal, time.time())
            progress.start()
            try:
                outcome = run_job(
                    "nightly_refresh", as_of, settings=settings, run_config=console_config("INFO")
                )
            finally:
                progress.stop()
    out.write("\n")
    report(outcome, out)
    out.write("\n")
    for line in summary_lines(settings, as_of):
        out.write(line + "\n")
    out.write(f"Sales brief:         {settings.brief}\n")
    out.write(
        f"Dagster:             runs in {os.environ.get('DAGSTER_HOME')}; `make dev` opens the UI\n"
    )
    out.write(f"Done in {time.monotonic() - started:.0f}s.\n")
    return 0 if outcome.ok else 1


def _demo(args) -> int:
    return run_demo(args.scale, args.seed, args.as_of)
