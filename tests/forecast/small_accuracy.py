"""Back-tested forecast accuracy of an emulator org (issue 7): which method was most accurate.

For each seed: the org's truth landed as the raw layer (the same fixture as the dbt tests),
``dbt build`` of what the forecast marts need (no data or unit tests), the statistical forecast
and its back-test (:mod:`orchestration.forecast.statistical`), then ``mart_forecast_accuracy``
rebuilt so it holds every method; the company-level table at the checkpoint comes from
:mod:`orchestration.forecast.accuracy` (ranked by WAPE = Σ|F − A| ÷ Σ|A|).

    .venv/bin/python -m tests.forecast.small_accuracy --scale small --seeds 42 7 --weeks 4

The shipped quota seeds name the reps of seed 42's org; for another seed the build runs on a
copy of the dbt project whose quota seeds leave out the rows naming reps that org does not have
(the quota marts are not what is measured here).

Same seed, scale and as-of date → same numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

import tests.dbt.conftest as dbt_fixtures
from orchestration.forecast import accuracy, statistical
from tests.dbt.conftest import AS_OF, run_dbt

BUILD = [
    "build",
    "--select",
    "+mart_forecast_accuracy",
    "dim_fiscal_calendar",  # the statistical forecast reads the quarters from it
    "--exclude-resource-type",
    "test",
    "--exclude-resource-type",
    "unit_test",
]


QUOTA_SEEDS = ("sales_role_assignments.csv", "quota_plan.csv")


def project_for(warehouse: Path, directory: Path) -> Path:
    """The dbt project, or a copy whose quota seeds drop rows naming reps the landed org does
    not have (the shipped seeds are seed 42's)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        emails = {
            ("salesforce", e.lower())
            for (e,) in con.execute("select email from raw_salesforce.user").fetchall()
            if e
        } | {
            ("hubspot", e.lower())
            for (e,) in con.execute("select email from raw_hubspot.owners").fetchall()
            if e
        }
    finally:
        con.close()
    project = dbt_fixtures.PROJECT_DIR
    kept = {}
    for name in QUOTA_SEEDS:
        with open(project / "seeds" / "quota" / name, newline="") as handle:
            rows = list(csv.DictReader(handle))
        kept[name] = [
            r
            for r in rows
            if not r.get("rep_email") or (r["source_system"], r["rep_email"].lower()) in emails
        ]
        if len(kept[name]) == len(rows):
            del kept[name]
    if not kept:
        return project
    copy = directory / "dbt_project"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("target", "logs"))
    for name, rows in kept.items():
        with open(copy / "seeds" / "quota" / name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return copy


@contextlib.contextmanager
def project_dir(path: Path):
    """run_dbt against ``path`` instead of the repository's dbt project."""
    saved = dbt_fixtures.PROJECT_DIR
    dbt_fixtures.PROJECT_DIR = path
    try:
        yield
    finally:
        dbt_fixtures.PROJECT_DIR = saved


def build_org(directory: Path, seed: int, scale: str, as_of: dt.date = AS_OF) -> dict:
    """Truth → raw → dbt → statistical back-test → mart_forecast_accuracy; returns timings."""
    from emulator.truth import generate_truth
    from tests.dbt.raw_fixture import land_truth

    seconds = {}
    started = time.perf_counter()
    generate_truth(seed, scale, as_of, directory / "truth")
    land_truth(directory / "truth", directory / "warehouse.duckdb")
    seconds["truth_and_landing"] = time.perf_counter() - started
    variables = {"as_of_date": as_of.isoformat()}
    warehouse = directory / "warehouse.duckdb"
    project = project_for(warehouse, directory)
    with project_dir(project):
        run = run_dbt(BUILD, warehouse=warehouse, work_dir=directory, variables=variables)
    if not run.success:
        raise RuntimeError(run.describe())
    seconds["dbt_build"] = run.seconds
    started = time.perf_counter()
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET TimeZone = 'UTC'")
        statistical.run(con, as_of)
    finally:
        con.close()
    seconds["statistical"] = time.perf_counter() - started
    with project_dir(project):
        run = run_dbt(
            ["run", "--select", "mart_forecast_accuracy"],
            warehouse=warehouse,
            work_dir=directory,
            variables=variables,
        )
    if not run.success:
        raise RuntimeError(run.describe())
    seconds["accuracy_mart"] = run.seconds
    return seconds


def table(warehouse: Path, weeks: int):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return accuracy.accuracy_by_method(con, weeks)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--weeks", type=int, nargs="+", default=[4])
    parser.add_argument("--work-dir", type=Path)
    args = parser.parse_args(argv)
    root = args.work_dir or Path(tempfile.mkdtemp(prefix="forecast-accuracy-"))
    for seed in args.seeds:
        directory = root / f"{args.scale}_{seed}"
        directory.mkdir(parents=True, exist_ok=True)
        if not (directory / "warehouse.duckdb").exists():
            seconds = build_org(directory, seed, args.scale)
            print(
                f"{args.scale} seed {seed}: "
                + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
            )
        for weeks in args.weeks:
            print(f"\n{args.scale}, seed {seed}, company level, {weeks} weeks before quarter end")
            print(accuracy.markdown(table(directory / "warehouse.duckdb", weeks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
