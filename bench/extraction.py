"""The Salesforce connector against its ceiling, in minutes: ``python -m bench extraction --scale medium``.

The full harness (``bench.harness``) measures the same rates inside an hour-long run whose
HubSpot part waits on its rate limit. This one serves the org, then, in order and alone on the
machine:

1. **ceiling**: the bare ``requests`` loop of ``bench.emulator_throughput`` over the
   Opportunity and Task query pages (REST JSON) and one Bulk API 2.0 job each (CSV parsed by
   Arrow, at the connector's chunk size);
2. **full extract**: ``salesops extract --source salesforce --full-refresh`` in a child process
   (every object; its wall and CPU seconds and peak RSS from ``wait4`` and ``/proc``);
3. ``POST /_emulator/advance?days=1``, then the **incremental** extract, and its share of the full.

Writes ``bench/results/extraction-<scale>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.harness import (
    AS_OF,
    CEILING_BULK,
    CEILING_REST,
    PEER_OBJECTS,
    RESULTS,
    SEED,
    emit,
    emulator_env,
    fmt,
    git_commit,
    loadavg,
    md_table,
    rate,
    ratio,
    run_measured,
    salesforce_transport,
)
from connectors.salesforce import SalesforceSettings


def _child(full_refresh: bool) -> None:
    from connectors.extract import extract

    result = extract(["salesforce"], full_refresh=full_refresh)
    emit(
        runs=[
            {"stream": r.stream, "fetched": r.fetched, "seconds": round(r.seconds, 3)}
            for r in result.runs
        ],
        errors=result.errors,
    )


def _extract(base: str, data_dir: Path, full_refresh: bool) -> dict[str, Any]:
    env = emulator_env(base, data_dir)
    cmd = [sys.executable, "-m", "bench.extraction", "--child"]
    measured = run_measured(cmd + (["--full-refresh"] if full_refresh else []), env)
    if not measured["ok"] or measured["data"].get("errors"):
        raise RuntimeError(f"extract failed: {measured['why'] or measured['data']['errors']}")
    return measured


def measure(scale: str, seed: int, as_of: dt.date) -> dict[str, Any]:
    from bench import emulator_throughput as et

    chunk = SalesforceSettings().bulk_chunk_rows
    work = Path(tempfile.mkdtemp(prefix="salesops-extraction-"))
    with et.serving(scale, seed, as_of) as (proc, base, _ready):
        ceiling = et.measure(
            base, list(PEER_OBJECTS), 1, proc.pid, orjson_pass=False, bulk_max_records=chunk
        )
        full = _extract(base, work, full_refresh=True)
        requests.post(f"{base}/_emulator/advance", params={"days": 1}, timeout=600)
        incremental = _extract(base, work, full_refresh=False)
    runs = {r["stream"]: r for r in full["data"]["runs"]}
    streams = []
    for c in ceiling:
        ours = runs[c["object"].lower()]
        ours_rate = rate(ours["fetched"], ours["seconds"])
        transport = salesforce_transport("salesforce", ours["fetched"])
        own_ceiling = c["bulk_records_per_s"] if transport == "bulk" else c["warm_records_per_s"]
        streams.append(
            {
                "stream": c["object"],
                "records": ours["fetched"],
                "seconds": ours["seconds"],
                "records_per_s": ours_rate,
                "transport": transport,
                CEILING_REST: c["warm_records_per_s"],
                CEILING_BULK: c["bulk_records_per_s"],
                "share_of_own_ceiling": ratio(ours_rate, own_ceiling),
                "share_of_rest_ceiling": ratio(ours_rate, c["warm_records_per_s"]),
            }
        )
    return {
        "scale": scale,
        "seed": seed,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "load": loadavg(),
        "streams": streams,
        "extract": {
            name: {k: m[k] for k in ("wall_s", "cpu_s", "peak_rss_mb")}
            for name, m in (("full", full), ("incremental", incremental))
        },
        "incremental_share": ratio(incremental["wall_s"], full["wall_s"]),
    }


def markdown(r: dict[str, Any]) -> str:
    rows = [
        [
            s["stream"],
            f"{s['records']:,}",
            s["transport"],
            fmt(s["records_per_s"], 0),
            fmt(s[CEILING_BULK], 0),
            fmt(s[CEILING_REST], 0),
            fmt(s["share_of_own_ceiling"]),
            fmt(s["share_of_rest_ceiling"]),
        ]
        for s in r["streams"]
    ]
    extract = [
        [name, fmt(e["wall_s"], 1), fmt(e["cpu_s"], 1), fmt(e["peak_rss_mb"], 1)]
        for name, e in r["extract"].items()
    ]
    return "\n".join(
        [
            f"# Salesforce extraction at `{r['scale']}` (commit {r['commit']}, {r['measured_at']})",
            "",
            "`python -m bench extraction --scale " + r["scale"] + "`; one emulator, the ceiling "
            "first, then the connector alone on the machine.",
            "",
            md_table(
                [
                    "object",
                    "records",
                    "our transport",
                    "ours rec/s",
                    "Bulk ceiling rec/s",
                    "REST ceiling rec/s",
                    "share of own ceiling",
                    "share of REST ceiling",
                ],
                rows,
            ),
            "",
            md_table(
                ["Salesforce extract, every object", "wall s", "CPU s", "peak RSS MB"], extract
            ),
            "",
            f"Incremental extract after one simulated day: {fmt(r['incremental_share'], 3)}x the full one.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--full-refresh", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.full_refresh)
        return 0
    started = time.perf_counter()
    result = measure(args.scale, args.seed, args.as_of)
    text = markdown(result)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"extraction-{args.scale}.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / f"extraction-{args.scale}.md").write_text(text)
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
