"""Wall time and peak memory of generating, rendering and viewing the emulated org, per scale.

``python -m bench.generation --scale small medium`` runs each scale in a fresh subprocess (so one
scale's memory never counts against another), prints a Markdown table and writes
``bench/results/generation-<scale>.json``. Peak RSS is the child's own ``ru_maxrss`` (``wait4``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
AS_OF = dt.date(2026, 11, 26)
SEED = 42


def _child(scale: str, seed: int, as_of: dt.date) -> None:
    """Runs in the subprocess: time each phase and print one JSON line."""
    from emulator.generator import generate
    from emulator.org import Org

    def done(phase: str, seconds: float) -> None:
        # Progress for the parent: which phases finished if the run is killed.
        print(json.dumps({"done": phase, "s": round(seconds, 2)}), flush=True)

    t0 = time.perf_counter()
    timeline = generate(seed, scale, as_of)
    t1 = time.perf_counter()
    done("generate", t1 - t0)
    rows = {
        "opportunities": len(timeline.opportunities),
        "opportunity_events": len(timeline.opportunity_events),
        "activities": len(timeline.activities),
        "leads": len(timeline.leads),
        "contacts": len(timeline.contacts),
    }
    org = Org(timeline)
    del timeline  # as Org.generate: the org keeps what it needs
    t2 = time.perf_counter()
    done("render", t2 - t1)
    view = org.view(as_of)
    t3 = time.perf_counter()
    done("view", t3 - t2)
    rows |= {
        "OpportunityFieldHistory": len(view.salesforce["OpportunityFieldHistory"]),
        "view_rows": sum(len(f) for f in view.salesforce.values())
        + sum(len(f) for f in view.hubspot.values()),
    }
    phases = {"generate_s": t1 - t0, "render_s": t2 - t1, "view_s": t3 - t2}
    print(json.dumps({"phases": phases, "rows": rows}), flush=True)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _watch(proc: subprocess.Popen, limit_mb: float, killed: list) -> None:
    """Kill the child when its resident memory passes ``limit_mb`` (before the machine's OOM)."""
    while proc.poll() is None:
        if _rss_mb(proc.pid) > limit_mb:
            killed.append(True)
            proc.send_signal(signal.SIGKILL)
            return
        time.sleep(0.2)


def run_scale(
    scale: str, seed: int = SEED, as_of: dt.date = AS_OF, max_rss_gb: float | None = None
) -> dict:
    """Generate + render + view one scale in a fresh interpreter; wall time and peak RSS."""
    cmd = [
        sys.executable,
        "-m",
        "bench.generation",
        "--child",
        scale,
        "--seed",
        str(seed),
        "--as-of",
        as_of.isoformat(),
    ]
    root = Path(__file__).resolve().parent.parent
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
    killed: list = []
    if max_rss_gb:
        threading.Thread(target=_watch, args=(proc, max_rss_gb * 1024, killed), daemon=True).start()
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = {
        "scale": scale,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "ok": proc.returncode == 0,
        "exit_code": proc.returncode,
        "killed_over_rss_gb": max_rss_gb if killed else None,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "cpu_user_s": round(usage.ru_utime, 2),
        "cpu_sys_s": round(usage.ru_stime, 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        # Other work on the machine stretches wall time (not CPU time): 1-minute load averages.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    result["phases_done"] = {r["done"]: r["s"] for r in records if "done" in r}
    for record in records:
        if "phases" in record:
            result["phases"] = {k: round(v, 2) for k, v in record["phases"].items()}
            result["rows"] = record["rows"]
    return result


def markdown(results: list[dict]) -> str:
    head = (
        "| scale | ok | wall (s) | CPU (s) | generate (s) | render (s) | view (s) | peak RSS (MB) |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        done = {f"{phase}_s": s for phase, s in r.get("phases_done", {}).items()}
        p = r.get("phases") or done
        if r.get("killed_over_rss_gb"):
            status = f"NO (killed over {r['killed_over_rss_gb']:g} GB)"
        else:
            status = "yes" if r["ok"] else f"NO (exit {r['exit_code']})"
        phases = " | ".join(
            f"{p[k]:.1f}" if k in p else "-" for k in ("generate_s", "render_s", "view_s")
        )
        lines.append(
            f"| {r['scale']} | {status} | {r['wall_s']:.1f} "
            f"| {r['cpu_user_s'] + r['cpu_sys_s']:.1f} | {phases} | {r['peak_rss_mb']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generation", description=__doc__)
    parser.add_argument("--scale", nargs="+", default=["small", "medium"])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    parser.add_argument("--no-write", action="store_true", help="do not write JSON results")
    parser.add_argument(
        "--max-rss-gb",
        type=float,
        default=None,
        help="kill a scale's run when its resident memory passes this (reported as not ok)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.seed, args.as_of)
        return 0
    results = []
    for scale in args.scale:
        result = run_scale(scale, args.seed, args.as_of, args.max_rss_gb)
        results.append(result)
        if not args.no_write:
            RESULTS.mkdir(parents=True, exist_ok=True)
            path = RESULTS / f"generation-{scale}.json"
            path.write_text(json.dumps(result, indent=2) + "\n")
        print(markdown([result]).splitlines()[-1], file=sys.stderr, flush=True)
    print(markdown(results))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
