"""Records per second the emulator's Salesforce query endpoint serves to a bare ``requests`` loop.

``python -m bench.emulator_throughput --scale small`` starts ``salesops emulator serve`` in a
subprocess, fetches a token, and for each object (Opportunity, Task) reads every field the
describe call lists (compound address parents excluded) with
``GET /query?q=SELECT ... ORDER BY SystemModstamp, Id`` and the ``nextRecordsUrl`` chain, 2,000
records per page. Each page is decoded with ``response.json()`` (what a plain connector does);
the orjson column shows the same loop with a faster decoder, i.e. how much of the time is the
client's. The first pass pays the server's encoding of each row ("cold"); the table reports it
and the median of the following passes ("warm"). On a shared machine wall time depends on the
load, so the table also gives the CPU seconds server and client spent per warm pass and the
rate those alone allow (requests and responses alternate, so this is what an idle machine
would reach). Prints a Markdown table and writes
``bench/results/emulator-throughput-<scale>.json``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow.csv as pacsv
import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VERSION = "59.0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(scale: str, seed: int, port: int, as_of: dt.date | None = None) -> subprocess.Popen:
    cmd = [
        *(sys.executable, "-m", "salesops.cli", "emulator", "serve", "--scale", scale),
        *("--seed", str(seed), "--port", str(port)),
        *(("--as-of", as_of.isoformat()) if as_of else ()),
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


@contextlib.contextmanager
def serving(
    scale: str, seed: int, as_of: dt.date | None = None
) -> Iterator[tuple[subprocess.Popen, str, float]]:
    """An emulator in a child process on a free port: (process, base URL, seconds until it
    answered its health check); stopped on exit."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(scale, seed, port, as_of)
    try:
        yield proc, base, _wait_ready(proc, base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_ready(proc: subprocess.Popen, base: str, timeout: float = 600) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(
                f"emulator exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if requests.get(f"{base}/_emulator/health", timeout=2).status_code == 200:
                return time.monotonic() - start
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"emulator not ready after {timeout} s")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _read_all(session: requests.Session, base: str, soql: str, decode) -> tuple[int, int, float]:
    start = time.perf_counter()
    response = session.get(f"{base}/services/data/v{VERSION}/query", params={"q": soql})
    records = pages = 0
    while True:
        response.raise_for_status()
        body = decode(response)
        records += len(body["records"])
        pages += 1
        if body["done"]:
            break
        response = session.get(base + body["nextRecordsUrl"])
    return records, pages, time.perf_counter() - start


def _read_bulk(
    session: requests.Session, base: str, soql: str, max_records: int
) -> tuple[int, int, float]:
    """One Bulk API 2.0 query job: create, poll, read every results page (CSV parsed by
    Arrow, the fastest decoder there is), delete."""
    start = time.perf_counter()
    jobs = f"{base}/services/data/v{VERSION}/jobs/query"
    body = {"operation": "query", "query": soql, "contentType": "CSV", "columnDelimiter": "COMMA",
            "lineEnding": "LF"}  # fmt: skip
    created = session.post(jobs, json=body)
    created.raise_for_status()
    job = created.json()["id"]
    while (state := session.get(f"{jobs}/{job}").json()["state"]) != "JobComplete":
        if state in ("Failed", "Aborted"):
            raise RuntimeError(f"bulk job {job} {state}")
        time.sleep(0.05)
    records = pages = 0
    locator: str | None = None
    while True:
        params: dict[str, str | int] = {"maxRecords": max_records}
        if locator:
            params["locator"] = locator
        response = session.get(f"{jobs}/{job}/results", params=params)
        response.raise_for_status()
        records += pacsv.read_csv(io.BytesIO(response.content)).num_rows
        pages += 1
        locator = response.headers.get("Sforce-Locator")
        if not locator or locator == "null":
            break
    session.delete(f"{jobs}/{job}")
    return records, pages, time.perf_counter() - start


def measure(
    base: str,
    objects: list[str],
    passes: int,
    server_pid: int,
    *,
    orjson_pass: bool = True,
    bulk_max_records: int | None = None,
) -> list[dict]:
    """Per object: the query endpoint cold, then ``passes`` warm passes (json, and orjson
    unless ``orjson_pass`` is false); with ``bulk_max_records``, also ``passes`` Bulk API 2.0
    jobs read that many records per results page."""
    session = requests.Session()
    session.trust_env = False
    token = session.post(
        f"{base}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client-id",
            "client_secret": "demo-client-secret",
        },
        timeout=60,
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    session.headers["Sforce-Query-Options"] = "batchSize=2000"
    results = []
    for name in objects:
        described = session.get(f"{base}/services/data/v{VERSION}/sobjects/{name}/describe").json()
        fields = [f["name"] for f in described["fields"] if f["type"] != "address"]
        soql = f"SELECT {', '.join(fields)} FROM {name} ORDER BY SystemModstamp, Id"
        records, pages, cold = _read_all(session, base, soql, lambda r: r.json())
        cpu_start = time.process_time(), _cpu_seconds(server_pid)
        warm = [_read_all(session, base, soql, lambda r: r.json())[2] for _ in range(passes)]
        client_cpu = (time.process_time() - cpu_start[0]) / passes
        server_cpu = (_cpu_seconds(server_pid) - cpu_start[1]) / passes
        warm_s = statistics.median(warm)
        result = {
            "object": name,
            "fields": len(fields),
            "records": records,
            "pages": pages,
            "cold_s": round(cold, 3),
            "cold_records_per_s": round(records / cold),
            "warm_s": round(warm_s, 3),
            "warm_records_per_s": round(records / warm_s),
            "warm_server_cpu_s": round(server_cpu, 3),
            "warm_client_cpu_s": round(client_cpu, 3),
            "cpu_bound_records_per_s": round(records / max(server_cpu + client_cpu, 1e-9)),
        }
        if orjson_pass:
            fast = [
                _read_all(session, base, soql, lambda r: orjson.loads(r.content))[2]
                for _ in range(passes)
            ]
            fast_s = statistics.median(fast)
            result.update(orjson_s=round(fast_s, 3), orjson_records_per_s=round(records / fast_s))
        if bulk_max_records:
            # Bulk jobs have no ORDER BY (the connector's neither): chunks come unordered.
            unordered = soql.rsplit(" ORDER BY ", 1)[0]
            cpu_start = time.process_time(), _cpu_seconds(server_pid)
            bulk = [_read_bulk(session, base, unordered, bulk_max_records) for _ in range(passes)]
            bulk_s = statistics.median(b[2] for b in bulk)
            result.update(
                bulk_records=bulk[0][0],
                bulk_pages=bulk[0][1],
                bulk_s=round(bulk_s, 3),
                bulk_records_per_s=round(bulk[0][0] / bulk_s),
                bulk_client_cpu_s=round((time.process_time() - cpu_start[0]) / passes, 3),
                bulk_server_cpu_s=round((_cpu_seconds(server_pid) - cpu_start[1]) / passes, 3),
            )
        results.append(result)
    return results


def table(results: list[dict]) -> str:
    lines = [
        "| object | fields | records | pages | cold s | cold rec/s | warm s | warm rec/s "
        "| orjson rec/s | warm CPU server + client s | CPU-bound rec/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['object']} | {r['fields']} | {r['records']:,} | {r['pages']} | {r['cold_s']:.2f} | "
            f"{r['cold_records_per_s']:,} | {r['warm_s']:.2f} | {r['warm_records_per_s']:,} | "
            f"{r.get('orjson_records_per_s', '-'):,} | {r['warm_server_cpu_s']:.2f} + "
            f"{r['warm_client_cpu_s']:.2f} | {r['cpu_bound_records_per_s']:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--objects", nargs="+", default=["Opportunity", "Task"])
    parser.add_argument(
        "--passes", type=int, default=3, help="warm passes per object (median reported)"
    )
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args(argv)

    with serving(args.scale, args.seed) as (proc, base, startup):
        results = measure(base, args.objects, args.passes, proc.pid)
    print(
        f"Salesforce query throughput, scale {args.scale}, seed {args.seed}, 2,000 records/page "
        f"(emulator ready after {startup:.1f} s)\n"
    )
    print(table(results))
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"emulator-throughput-{args.scale}.json"
        payload = {
            "scale": args.scale,
            "seed": args.seed,
            "startup_s": round(startup, 2),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "results": results,
        }
        out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
