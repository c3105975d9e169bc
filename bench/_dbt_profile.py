"""Where a ``dbt build`` of the harness spends its time, from its own artifacts.

``python -m bench._dbt_profile WORKDIR [--run incr|full]`` reads, for the plain pipeline of a
``python -m bench harness --workdir WORKDIR`` run:

* ``plain/dbt_target/run_results.json`` (the last build there: the incremental one when the
  harness ran it) for each node's execution time and the execution phase's elapsed time;
* ``logs/<run>-dbt_build.log`` (dbt's text log) for the partial-parse messages and the time
  from the first log line to ``Found N models`` (parsing, to the second);
* the wall and CPU seconds the harness measured for that stage (``bench/results`` or the
  ``--wall``/``--cpu`` options).

It prints Markdown: the fixed per-invocation cost (everything outside the execution phase),
the execution phase by resource type (models, data tests, seeds, ...; node times are summed
over dbt's threads, so their sum exceeds the elapsed time) and the slowest models and tests.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import re
from pathlib import Path

from bench.harness import fmt, md_table

TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)\s")
# py-spy stacks -> what dbt was doing (first match wins, in this order).
PYSPY_RULES = [
    ("parsing the project (ManifestLoader)", r"ManifestLoader|parse_manifest|get_full_manifest"),
    ("SQL in DuckDB (cursor.execute)", r"DuckDBConnectionWrapper\.execute|cursor\.execute"),
    ("Jinja: compiling each node's SQL", r"compile_node|_compile_code|Compiler\.compile"),
    ("Jinja: materialization and test macros at run time", r"execute_macro|MacroGenerator"),
    ("graph, queue, selection", r"compile_manifest|link_graph|GraphQueue|get_graph_queue"),
    ("events and logging", r"fire_event|EventManager|log_line"),
    ("artifacts (manifest, run_results, msgpack)", r"write_manifest|write_json|msgpack|to_dict"),
    ("imports and start-up", r"_find_and_load"),
]


def _seconds(line: str) -> int | None:
    m = TIME.match(line)
    return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) if m else None


def parse_log(log: Path) -> dict:
    """Partial-parse messages, parse seconds (first log line to ``Found``), threads."""
    out: dict = {"partial_parse": [], "parse_s": None, "threads": None}
    if not log.exists():
        return out
    first = found = None
    for line in log.read_text(errors="replace").splitlines():
        t = _seconds(line)
        if t is not None and first is None:
            first = t
        if "partial pars" in line.lower():
            out["partial_parse"].append(line[9:].strip())
        if " Found " in line and found is None:
            found = t
        m = re.search(r"Concurrency: (\d+) threads", line)
        if m:
            out["threads"] = int(m[1])
    if first is not None and found is not None:
        out["parse_s"] = (found - first) % 86400
    return out


def profile(run_results: Path, log: Path, wall: float | None, cpu: float | None) -> dict:
    data = json.loads(run_results.read_text())
    results = data["results"]
    by_type: dict[str, list[float]] = collections.defaultdict(list)
    for r in results:
        by_type[r["unique_id"].split(".")[0]].append(r["execution_time"])
    node_sum = sum(r["execution_time"] for r in results)
    manifest_path = run_results.parent / "manifest.json"
    nodes = json.loads(manifest_path.read_text())["nodes"] if manifest_path.exists() else {}
    by_materialization: dict[str, list[float]] = collections.defaultdict(list)
    by_test_kind: dict[str, list[float]] = collections.defaultdict(list)
    phases = {"compile": 0.0, "execute": 0.0}
    for r in results:
        node = nodes.get(r["unique_id"]) or {}
        if r["unique_id"].startswith("model."):
            by_materialization[node.get("config", {}).get("materialized", "?")].append(
                r["execution_time"]
            )
        elif r["unique_id"].startswith("test."):
            kind = (node.get("test_metadata") or {}).get("name", "singular")
            by_test_kind[kind].append(r["execution_time"])
        for t in r.get("timing", []):
            if t.get("started_at") and t.get("completed_at") and t["name"] in phases:
                phases[t["name"]] += (
                    dt.datetime.fromisoformat(t["completed_at"].rstrip("Z"))
                    - dt.datetime.fromisoformat(t["started_at"].rstrip("Z"))
                ).total_seconds()
    slowest = sorted(results, key=lambda r: -r["execution_time"])
    return {
        "elapsed_s": round(data["elapsed_time"], 2),
        "wall_s": wall,
        "cpu_s": cpu,
        "outside_execution_s": round(wall - data["elapsed_time"], 2) if wall else None,
        "node_time_sum_s": round(node_sum, 2),
        "parallelism": round(node_sum / data["elapsed_time"], 2) if data["elapsed_time"] else None,
        "by_type": {
            k: {"nodes": len(v), "sum_s": round(sum(v), 2), "mean_s": round(sum(v) / len(v), 3)}
            for k, v in sorted(by_type.items(), key=lambda kv: -sum(kv[1]))
        },
        "by_materialization": _sums(by_materialization),
        "by_test_kind": _sums(by_test_kind),
        "node_compile_s": round(phases["compile"], 1),
        "node_execute_s": round(phases["execute"], 1),
        "top_models": [
            (r["unique_id"].split(".")[-1], round(r["execution_time"], 2))
            for r in slowest
            if r["unique_id"].startswith("model.")
        ][:10],
        "top_tests": [
            (
                r["unique_id"].split(".")[-2 if r["unique_id"].count(".") > 2 else -1][:70],
                round(r["execution_time"], 2),
            )
            for r in slowest
            if r["unique_id"].startswith("test.")
        ][:5],
        **parse_log(log),
    }


def pyspy_breakdown(collapsed: Path, rate: float) -> dict[str, float]:
    """Seconds per category of a ``py-spy record --format raw`` file (``--gil``: only the
    thread holding the GIL is sampled, i.e. dbt's Python time, not DuckDB's native time)."""
    rules = [(name, re.compile(rx)) for name, rx in PYSPY_RULES]
    seconds: dict[str, float] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        name = next((n for n, rx in rules if rx.search(stack)), "other")
        seconds[name] += int(count) / rate
    return {k: round(v, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}


def _sums(groups: dict[str, list[float]]) -> dict:
    return {
        k: {"nodes": len(v), "sum_s": round(sum(v), 2)}
        for k, v in sorted(groups.items(), key=lambda kv: -sum(kv[1]))
    }


def markdown(p: dict) -> str:
    out = [
        md_table(
            ["", "seconds"],
            [
                ["dbt process wall (harness)", p["wall_s"]],
                ["dbt process CPU (harness)", p["cpu_s"]],
                ["execution phase (run_results elapsed_time)", p["elapsed_s"]],
                [
                    "outside execution: start-up, parse, manifest, cache, artifacts",
                    p["outside_execution_s"],
                ],
                ["of which parsing (log: first line to `Found`)", p["parse_s"]],
                ["node times summed over threads", p["node_time_sum_s"]],
            ],
        ),
        "",
        f"Threads: {p['threads']}; summed node time / elapsed = {fmt(p['parallelism'])}. "
        f"Partial parsing: {'; '.join(p['partial_parse']) or 'used (no message)'}",
        "",
        md_table(
            ["resource type", "nodes", "summed s", "mean s"],
            [[k, v["nodes"], v["sum_s"], v["mean_s"]] for k, v in p["by_type"].items()],
        ),
        "",
        f"Per-node phases summed over threads: compile (Jinja) {fmt(p['node_compile_s'])} s, "
        f"execute {fmt(p['node_execute_s'])} s.",
        "",
        md_table(
            ["models by materialization", "nodes", "summed s"],
            [[k, v["nodes"], v["sum_s"]] for k, v in p["by_materialization"].items()],
        ),
        "",
        md_table(
            ["data tests by kind", "nodes", "summed s"],
            [[k, v["nodes"], v["sum_s"]] for k, v in p["by_test_kind"].items()],
        ),
        "",
        md_table(["slowest models", "s"], p["top_models"]),
        "",
        md_table(["slowest data tests", "s"], p["top_tests"]),
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--run", default="incr", choices=["incr", "full"])
    parser.add_argument(
        "--target", type=Path, help="dbt target dir (default WORKDIR/plain/dbt_target)"
    )
    parser.add_argument("--results", type=Path, help="the harness's JSON, for wall and CPU")
    parser.add_argument("--wall", type=float)
    parser.add_argument("--cpu", type=float)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pyspy", type=Path, help="a py-spy raw (collapsed) file of a dbt build")
    parser.add_argument("--pyspy-rate", type=float, default=25)
    args = parser.parse_args(argv)
    wall, cpu = args.wall, args.cpu
    if args.results and wall is None:
        payload = json.loads(args.results.read_text())
        kind = "incremental" if args.run == "incr" else "full_refresh"
        stage = payload[kind]["stages"]["dbt_build"]
        wall, cpu = stage["wall_s"], stage["cpu_s"]
    target = args.target or args.workdir / "plain" / "dbt_target"
    p = profile(
        target / "run_results.json", args.workdir / "logs" / f"{args.run}-dbt_build.log", wall, cpu
    )
    print(json.dumps(p, indent=1) if args.json else markdown(p))
    if args.pyspy:
        spent = pyspy_breakdown(args.pyspy, args.pyspy_rate)
        total = sum(spent.values()) or 1
        print(
            md_table(
                ["py-spy: dbt's Python time", "s", "share"],
                [[k, v, f"{v / total:.0%}"] for k, v in spent.items()],
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
