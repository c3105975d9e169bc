"""The engines part of the benchmark alone: ``python -m bench.engines --scale small``.

Starts the emulator, advances it one day (as the full harness does before its engines part), and
runs each engine end to end with :func:`bench.harness.run_engines`: extract, ``dbt build
--target``, the statistical forecast. The engines of ``bench/results/bench-<scale>.json`` are
replaced by this run's; each records the commit, time and load average it was measured at, since
the file's other parts keep the commit they were measured on (``machine.commit``). The Markdown
report is regenerated from the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import requests

from bench import emulator_throughput as et
from bench.harness import (
    AS_OF,
    RESULTS,
    ROOT,
    SEED,
    git_commit,
    loadavg,
    run_engines,
    write_results,
)


def measure(scale: str, work: Path, timeout: float | None) -> dict[str, dict]:
    with et.serving(scale, SEED, AS_OF) as (_, base, _):
        requests.post(f"{base}/_emulator/advance", params={"days": 1}, timeout=600)
        logs = work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return run_engines(AS_OF + dt.timedelta(days=1), base, work, logs, timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--engine-timeout", type=float, help="kill a stage after this many s")
    parser.add_argument("--workdir", type=Path, help="keep data here (default: a temp dir)")
    args = parser.parse_args(argv)
    results = RESULTS / f"bench-{args.scale}.json"
    payload = json.loads(results.read_text())
    work = args.workdir or Path(tempfile.mkdtemp(prefix="salesops-bench-engines-"))
    measured = {
        "commit": git_commit(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_before": loadavg(),
    }
    engines = measure(args.scale, work, args.engine_timeout)
    load_after = loadavg()
    for engine in engines.values():
        engine["note"] = (
            f"python -m bench.engines on {measured['commit']} at {measured['measured_at']}; "
            f"load {measured['load_before']} before, {load_after} after"
        )
    payload["engines"] = engines
    payload["missing"] = [m for m in payload.get("missing", []) if "engine" not in m] + [
        f"engine {name} did not complete: {e.get('error') or 'see table'}"
        for name, e in engines.items()
        if not e.get("ok")
    ]
    write_results(payload)
    print(f"wrote {results.relative_to(ROOT)} and its .md")
    return 0 if all(e.get("ok") for e in engines.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
