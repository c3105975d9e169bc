"""Peak RSS of ``salesops emulator serve`` while a bare ``requests`` loop extracts big objects.

``python -m bench.emulator_memory --scale medium`` starts the emulator in a subprocess, samples
its VmRSS/VmHWM every 0.5 s, and reads every field (describe order, compound addresses
excluded) of each Salesforce object with ``/query`` + ``nextRecordsUrl`` (batchSize 2000), then
pages HubSpot list endpoints (limit 100). Prints RSS after each object and the peak. Kills the
emulator if its RSS passes ``--kill-gb`` (shared machine). Optionally hashes every page body
(``--hash``) so two code versions can be compared byte for byte. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from pathlib import Path

import requests

from bench.emulator_throughput import _cpu_seconds, _free_port, _start, _wait_ready

VERSION = "59.0"
SF_OBJECTS = [
    "Opportunity",
    "OpportunityHistory",
    "OpportunityFieldHistory",
    "Task",
    "Lead",
    "CampaignMember",
]
HS_OBJECTS = ["deals", "companies"]


def _status(pid: int) -> dict:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS", "VmHWM")):
                name, value = line.split(":")
                out[name] = int(value.split()[0]) / 1024 / 1024  # GB
    except OSError:
        pass
    return out


class Watch(threading.Thread):
    def __init__(self, proc, kill_gb: float):
        super().__init__(daemon=True)
        self.proc, self.kill_gb = proc, kill_gb
        self.peak = 0.0
        self.killed = False
        self.stop = False

    def run(self):
        while not self.stop and self.proc.poll() is None:
            rss = _status(self.proc.pid).get("VmRSS", 0.0)
            self.peak = max(self.peak, rss)
            if rss > self.kill_gb:
                self.killed = True
                self.proc.kill()
                print(f"KILLED at {rss:.2f} GB", flush=True)
                return
            time.sleep(0.5)


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", default="tiny")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--objects", nargs="*", default=SF_OBJECTS)
    p.add_argument("--hubspot", nargs="*", default=HS_OBJECTS)
    p.add_argument("--hs-max-pages", type=int, default=0, help="0 = all")
    p.add_argument("--kill-gb", type=float, default=11.0)
    p.add_argument("--hash", help="write per-query sha256 of all page bodies to this JSON file")
    p.add_argument("--passes", type=int, default=1)
    p.add_argument("--batch", type=int, default=2000)
    args = p.parse_args(argv)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(args.scale, args.seed, port)
    watch = Watch(proc, args.kill_gb)
    watch.start()
    t0 = time.monotonic()
    ready = _wait_ready(proc, base, timeout=1200)
    print(f"ready in {ready:.1f} s, RSS {_status(proc.pid)}", flush=True)
    hashes: dict = {}
    s = requests.Session()
    s.trust_env = False
    try:
        token = s.post(
            f"{base}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "demo-client-id",
                "client_secret": "demo-client-secret",
            },
            timeout=60,
        ).json()["access_token"]
        sf = {"Authorization": f"Bearer {token}", "Sforce-Query-Options": f"batchSize={args.batch}"}
        extract_start = time.monotonic()
        for n in range(args.passes):
            for name in args.objects:
                t, cpu = time.monotonic(), _cpu_seconds(proc.pid)
                d = s.get(f"{base}/services/data/v{VERSION}/sobjects/{name}/describe", headers=sf)
                fields = [f["name"] for f in d.json()["fields"] if f["type"] != "address"]
                stamp = "SystemModstamp" if "SystemModstamp" in fields else "CreatedDate"
                q = f"SELECT {', '.join(fields)} FROM {name} ORDER BY {stamp}, Id"
                h = hashlib.sha256()
                r = s.get(f"{base}/services/data/v{VERSION}/query", params={"q": q}, headers=sf)
                records = 0
                while True:
                    r.raise_for_status()
                    h.update(r.content.replace(base.encode(), b"<base>"))
                    body = r.json()
                    records += len(body["records"])
                    if body["done"]:
                        break
                    r = s.get(base + body["nextRecordsUrl"], headers=sf)
                hashes[f"{n}:sf:{name}"] = h.hexdigest()
                st = _status(proc.pid)
                print(
                    f"pass {n} {name}: {records} rec in {time.monotonic() - t:.1f} s "
                    f"(server CPU {_cpu_seconds(proc.pid) - cpu:.1f} s); "
                    f"RSS {st.get('VmRSS', 0):.2f} GB HWM {st.get('VmHWM', 0):.2f} GB",
                    flush=True,
                )
            hs = {"Authorization": "Bearer demo-hubspot-token"}
            for obj in args.hubspot:
                t, cpu = time.monotonic(), _cpu_seconds(proc.pid)
                h = hashlib.sha256()
                url = f"{base}/crm/v3/objects/{obj}?limit=100"
                records = pages = 0
                while url:
                    r = s.get(url, headers=hs)
                    r.raise_for_status()
                    h.update(r.content.replace(base.encode(), b"<base>"))
                    body = r.json()
                    records += len(body["results"])
                    pages += 1
                    nxt = body.get("paging", {}).get("next")
                    url = nxt["link"] if nxt else None
                    if args.hs_max_pages and pages >= args.hs_max_pages:
                        break
                hashes[f"{n}:hs:{obj}"] = h.hexdigest()
                st = _status(proc.pid)
                print(
                    f"pass {n} hubspot {obj}: {records} rec in {time.monotonic() - t:.1f} s "
                    f"(server CPU {_cpu_seconds(proc.pid) - cpu:.1f} s); "
                    f"RSS {st.get('VmRSS', 0):.2f} GB HWM {st.get('VmHWM', 0):.2f} GB",
                    flush=True,
                )
        st = _status(proc.pid)
        print(
            json.dumps(
                {
                    "scale": args.scale,
                    "extract_s": round(time.monotonic() - extract_start, 1),
                    "total_s": round(time.monotonic() - t0, 1),
                    "peak_rss_gb_sampled": round(watch.peak, 2),
                    "vm_hwm_gb": round(st.get("VmHWM", 0), 2),
                    "killed": watch.killed,
                }
            ),
            flush=True,
        )
    finally:
        watch.stop = True
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    if args.hash:
        Path(args.hash).write_text(json.dumps(hashes, indent=1, sort_keys=True))
    return 1 if watch.killed else 0


if __name__ == "__main__":
    sys.exit(main())
