"""The incremental night's ``dbt build`` again, with one setting changed at a time.

``python -m bench._dbt_variants WORKDIR`` takes the plain pipeline's warehouse and dbt target
of a ``python -m bench harness --workdir WORKDIR`` run (after its incremental night), and runs
``dbt build`` on a fresh copy of both for each variant, one after the other:

* ``nightly``: the harness's (and the Dagster asset's) flags, threads from profiles.yml (8),
  a new ``as_of_date`` (as every night: dbt cannot reuse its partial parse when vars change);
* ``with unit tests``: schema-1 harness runs (unit tests included);
* ``threads 4`` / ``threads 2``: ``--threads``;
* ``same vars again``: the nightly build repeated on the same target with the same vars, so
  dbt reuses ``partial_parse.msgpack`` (what keeping partial parse across nights would save).

Per variant: wall and CPU seconds (``wait4``, dbt's process with DuckDB in it), parse seconds
(first log line to ``Found``), and the load average at its start. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from bench._dbt_profile import parse_log
from bench.harness import DBT_DIR, ROOT, SOURCES, loadavg, md_table


def run_variant(
    name: str, work: Path, source: Path, as_of: dt.date, extra: list[str], reuse: Path | None
) -> dict:
    from orchestration.dbt_project import dbt_executable

    data = work / name.replace(" ", "_")
    if reuse is None:
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        shutil.copyfile(source / "warehouse.duckdb", data / "warehouse.duckdb")
        shutil.copytree(source / "dbt_target", data / "dbt_target")
    else:
        data = reuse
    variables = {"as_of_date": as_of.isoformat(), "salesops_sources": list(SOURCES)}
    cmd = [
        dbt_executable(),
        "build",
        *("--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)),
        *("--target-path", str(data / "dbt_target"), "--vars", json.dumps(variables)),
        *extra,
    ]
    env = {**os.environ, "SALESOPS_DATA_DIR": str(data), "SALESOPS_DBT_TARGET": "duckdb"}
    env.pop("SALESOPS_WAREHOUSE", None)
    env["DO_NOT_TRACK"] = "1"
    load = loadavg()["avg1"]
    log = work / f"{name.replace(' ', '_')}.log"
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    parsed = parse_log(log)
    return {
        "variant": name,
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "parse_s": parsed["parse_s"],
        "partial_parse": "reused" if not parsed["partial_parse"] else "full parse",
        "load_avg1": load,
        "data": data,
    }


def main(argv: list[str] | None = None) -> int:
    from orchestration.defs.transform.assets import BUILD_FLAGS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 28))
    parser.add_argument("--out", type=Path, default=Path("/tmp/salesops-dbt-variants"))
    args = parser.parse_args(argv)
    source = args.workdir / "plain"
    nightly = list(BUILD_FLAGS)
    rows = []
    variants = [
        ("nightly", nightly),
        ("with unit tests", []),
        ("threads 4", [*nightly, "--threads", "4"]),
        ("threads 2", [*nightly, "--threads", "2"]),
    ]
    first = None
    for name, extra in variants:
        r = run_variant(name, args.out, source, args.as_of, extra, None)
        first = first or r
        rows.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "data"}), flush=True)
    r = run_variant("same vars again", args.out, source, args.as_of, nightly, first["data"])
    rows.append(r)
    print(json.dumps({k: v for k, v in r.items() if k != "data"}), flush=True)
    print(
        md_table(
            ["variant", "exit", "wall s", "CPU s", "parse s", "partial parse", "load avg (1 min)"],
            [
                [
                    r["variant"],
                    r["exit"],
                    r["wall_s"],
                    r["cpu_s"],
                    r["parse_s"],
                    r["partial_parse"],
                    r["load_avg1"],
                ]
                for r in rows
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
