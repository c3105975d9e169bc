"""The README's headline figures, read from ``bench/results/bench-<scale>.json`` (never typed).

``python -m bench._headline`` prints the Markdown; ``--write README.md`` replaces the text
between ``<!-- bench:headline -->`` and ``<!-- /bench:headline -->`` in that file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.harness import RESULTS, fmt, md_table, rate, ratio

BEGIN, END = "<!-- bench:headline -->", "<!-- /bench:headline -->"
# The objects the ceiling and the peer read; ours are the same Salesforce streams.
OURS = {"Opportunity": "salesforce.opportunity", "Task": "salesforce.task"}


def _rows(payload: dict, client: str) -> list[dict]:
    return [r for r in payload["extraction"] if r["client"].startswith(client)]


def extraction(payload: dict) -> dict:
    """Opportunity + Task records/s: ours (full refresh), the ceiling, dlt."""

    def combined(rows: list[dict], wall_from_one: bool = False) -> float | None:
        if not rows:
            return None
        records = sum(r["records"] for r in rows)
        wall = rows[0]["wall_s"] if wall_from_one else sum(r["wall_s"] or 0 for r in rows)
        return rate(records, wall)

    ours_rows = [
        r
        for r in payload["extraction"]
        if r["client"] == "salesops connectors" and r["stream"] in OURS.values()
    ]
    ours = combined(ours_rows)
    # The ceiling of the transport each of our streams used (REST, or Bulk for a large load);
    # files from before the Bulk ceiling have only "requests loop (ceiling)" rows, REST.
    transport_of = {r["stream"]: r.get("transport") or "rest" for r in ours_rows}
    ceiling_rows = [
        r
        for r in _rows(payload, "requests loop")
        if r["stream"] in OURS
        and ("Bulk" in r["client"]) == (transport_of.get(OURS[r["stream"]], "rest") == "bulk")
    ]
    ceiling = combined(ceiling_rows)
    peer = combined([r for r in _rows(payload, "dlt") if r["stream"] in OURS], True)
    stage = next(
        (r for r in payload["extraction"] if r["stream"] == "all streams (extract stage)"), None
    )
    return {
        "ours": ours,
        "ceiling": ceiling,
        "dlt": peer,
        "ours_vs_ceiling": ratio(ours, ceiling),
        "ours_vs_dlt": round(ours / peer, 1) if ours and peer else None,
        "all_streams": stage["records_per_s"] if stage else None,
        "all_records": stage["records"] if stage else None,
    }


def section(payloads: list[dict]) -> str:
    out = []
    rows = []
    for p in payloads:
        full, incr = p.get("full_refresh") or {}, p.get("incremental") or {}
        ex = extraction(p)
        load = p["load"]
        rows.append(
            [
                f"{p['scale']} @ {(p['machine'].get('commit') or 'unknown')[:7]}"
                + ("" if p.get("complete", True) else " (partial)"),
                f"{p['measured_at'][:16].replace('T', ' ')} UTC",
                f"{load['before'].get('avg1')} / {load.get('after', {}).get('avg1', '-')}",
                f"{fmt(full.get('wall_s'))} s ({fmt(full.get('cpu_s'))} CPU s)"
                if full.get("ok")
                else "not measured",
                f"{fmt(incr.get('wall_s'))} s ({fmt(incr.get('cpu_s'))} CPU s), "
                f"{fmt((incr.get('ratio_to_full') or {}).get('total'), 2)}× full"
                if incr.get("ok")
                else "not measured",
                f"{fmt(ex['ours'])} vs {fmt(ex['ceiling'])} ceiling "
                f"({fmt(ex['ours_vs_ceiling'], 2)}) vs {fmt(ex['dlt'])} dlt "
                f"({fmt(ex['ours_vs_dlt'], 1)}×)"
                if ex["ours"]
                else f"ours not measured; ceiling {fmt(ex['ceiling'])}"
                if ex["ceiling"]
                else "not measured",
                fmt(max((s.get("peak_rss_mb") or 0 for s in [full, incr]), default=None) or None),
            ]
        )
    out.append(
        md_table(
            [
                "scale",
                "measured",
                "load avg before / after (2 CPUs)",
                "full refresh end to end",
                "incremental night end to end",
                "extraction rec/s (Opportunity+Task): ours vs ceiling vs dlt",
                "peak RSS MB",
            ],
            rows,
        )
    )
    engine_rows = []
    for p in payloads:
        for name, e in (p.get("engines") or {}).items():
            stages = e.get("stages") or {}
            engine_rows.append(
                [
                    p["scale"],
                    name,
                    e.get("ok"),
                    e.get("wall_s"),
                    e.get("cpu_s"),
                    (stages.get("dbt_build") or {}).get("wall_s"),
                    e.get("peak_rss_mb"),
                    len(e.get("dbt_errors") or []),
                    "; ".join(
                        x
                        for x in (
                            f"+ PostgreSQL server {fmt(e['server_cpu_s'])} CPU s"
                            if e.get("server_cpu_s") is not None
                            else "",
                            f"+ Spark JVM {fmt(e['jvm_cpu_sampled_s'])} CPU s"
                            if e.get("jvm_cpu_sampled_s") is not None
                            else "",
                            " ".join(str(e.get("error") or "").split())[:300],
                        )
                        if x
                    ),
                ]
            )
    if engine_rows:
        out += [
            "",
            "Each engine end to end (extract, `dbt build`, statistical forecast) on a fresh data "
            "directory against the same emulator:",
            "",
            md_table(
                [
                    "scale",
                    "engine",
                    "ok",
                    "wall s",
                    "CPU s",
                    "of which dbt build s",
                    "peak RSS MB",
                    "dbt errors",
                    "note",
                ],
                engine_rows,
            ),
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="*", default=["small", "medium"])
    parser.add_argument("--write", type=Path)
    parser.add_argument("--dir", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)
    payloads = [
        json.loads((args.dir / f"bench-{s}.json").read_text())
        for s in args.scales
        if (args.dir / f"bench-{s}.json").exists()
    ]
    text = section(payloads)
    if not args.write:
        print(text)
        return 0
    readme = args.write.read_text()
    if BEGIN not in readme or END not in readme:
        print(f"{args.write}: no {BEGIN} ... {END} block", file=sys.stderr)
        return 1
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    args.write.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
