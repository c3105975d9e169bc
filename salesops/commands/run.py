"""``salesops run [--as-of YYYY-MM-DD]``: the nightly job on the persistent Dagster instance."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

JOBS = ("nightly_refresh", "ingest", "rebuild_marts")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the nightly job (gated, published, alerting) on the Dagster instance in DAGSTER_HOME",
        description=(
            "Run a job on the persistent Dagster instance (DAGSTER_HOME, default "
            "$SALESOPS_DATA_DIR/dagster), so it shows in the UI and respects the warehouse pool. "
            "Exits 1 when a step or a gate fails."
        ),
    )
    parser.add_argument(
        "--as-of",
        type=_date,
        help="the as-of date (default: the last complete day in SALESOPS_TIMEZONE)",
    )
    parser.add_argument("--job", choices=JOBS, default="nightly_refresh")
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="INFO",
        help="console log level of the run (the event log keeps everything)",
    )
    parser.set_defaults(handler=_run)


def console_config(level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def report(outcome, out=None) -> None:
    """The outcome in a few lines: status, failures, where to look."""
    from salesops.config import load_settings

    out = out or sys.stdout
    settings = load_settings()
    verdict = "succeeded" if outcome.ok else "FAILED"
    out.write(
        f"{outcome.job_name} {outcome.run_id[:8]} as of {outcome.as_of}: {verdict} "
        f"({outcome.status.lower()})\n"
    )
    for step in outcome.failures.steps:
        out.write(f"  failed step  {step.step_key}: {step.error}\n")
    for gate in outcome.failures.gates:
        out.write(f"  failed gate  {gate.asset_key} {gate.check_name}: {gate.detail}\n")
    if outcome.failures.run_error and not outcome.failures.steps:
        out.write(f"  run failure  {outcome.failures.run_error}\n")
    out.write(f"  run          {outcome.url}\n")
    if settings.brief.exists():
        out.write(f"  brief        {settings.brief}\n")


def _run(args) -> int:
    from orchestration.launch import run_job

    outcome = run_job(args.job, args.as_of, run_config=console_config(args.log_level))
    report(outcome)
    return 0 if outcome.ok else 1
