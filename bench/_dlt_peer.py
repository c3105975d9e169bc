"""The peer: dlt's REST API source on the emulator's Salesforce query API, into DuckDB.

Run by ``bench.harness`` in a child process (``python -m bench._dlt_peer --base URL --dir D``)
so its CPU seconds and peak RSS are its own. Configured per dlt's performance guide
(https://dlthub.com/docs/reference/performance): resources ``parallelized``, extract, normalize
and load workers, and intermediate file rotation (``file_max_items``) so normalize and load get
several files to work on in parallel. Same SOQL as the bare ``requests`` loop (every describe
field but compound addresses), ``Authorization: Bearer`` from the client-credentials flow,
``nextRecordsUrl`` paging (a relative link: dlt joins it to the base URL), 2,000 records a page.
Prints one ``@@bench`` JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import requests

VERSION = "59.0"
OBJECTS = ("Opportunity", "Task")
WORKERS = {
    # dlt reads these from the environment (SECTION__KEY).
    "EXTRACT__WORKERS": "4",
    "NORMALIZE__WORKERS": "2",
    "LOAD__WORKERS": "4",
    "DATA_WRITER__BUFFER_MAX_ITEMS": "10000",
    "DATA_WRITER__FILE_MAX_ITEMS": "20000",
    "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": "20000",
    "NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS": "20000",
    "RUNTIME__LOG_LEVEL": "WARNING",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}


def token(base: str) -> str:
    response = requests.post(
        f"{base}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client-id",
            "client_secret": "demo-client-secret",
        },
        timeout=60,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def soql(base: str, bearer: str, name: str) -> str:
    described = requests.get(
        f"{base}/services/data/v{VERSION}/sobjects/{name}/describe",
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=60,
    ).json()
    fields = [f["name"] for f in described["fields"] if f["type"] != "address"]
    return f"SELECT {', '.join(fields)} FROM {name} ORDER BY SystemModstamp, Id"


def config(base: str, bearer: str) -> dict:
    return {
        "client": {
            "base_url": f"{base}/services/data/v{VERSION}/",
            "auth": {"type": "bearer", "token": bearer},
            "headers": {"Sforce-Query-Options": "batchSize=2000"},
            "paginator": {"type": "json_link", "next_url_path": "nextRecordsUrl"},
        },
        "resource_defaults": {
            "write_disposition": "replace",
            "parallelized": True,
            "endpoint": {"data_selector": "records"},
        },
        "resources": [
            {
                "name": name.lower(),
                "endpoint": {"path": "query", "params": {"q": soql(base, bearer, name)}},
            }
            for name in OBJECTS
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument(
        "--max-pages", type=int, help="read only this many pages of each object (add_limit)"
    )
    args = parser.parse_args(argv)
    os.environ.update(WORKERS)
    args.dir.mkdir(parents=True, exist_ok=True)
    os.environ["DLT_DATA_DIR"] = str(args.dir / "dlt_data")
    os.environ["DLT_PIPELINE_DIR"] = str(args.dir / "pipelines")

    import dlt
    from dlt.sources.rest_api import rest_api_source

    bearer = token(args.base)
    source = rest_api_source(config(args.base, bearer))
    if args.max_pages:
        for resource in source.resources.values():
            resource.add_limit(args.max_pages)
    pipeline = dlt.pipeline(
        pipeline_name="bench_peer",
        pipelines_dir=str(args.dir / "pipelines"),
        destination=dlt.destinations.duckdb(str(args.dir / "peer.duckdb")),
        dataset_name="raw_salesforce",
    )
    start = time.perf_counter()
    pipeline.extract(source)
    t_extract = time.perf_counter()
    pipeline.normalize()
    t_normalize = time.perf_counter()
    pipeline.load()
    t_load = time.perf_counter()
    streams = []
    with pipeline.sql_client() as client:
        for name in OBJECTS:
            rows = client.execute_sql(f"select count(*) from {name.lower()}")[0][0]
            streams.append({"stream": name, "records": rows})
    print(
        "@@bench "
        + json.dumps(
            {
                "streams": streams,
                "wall_s": round(t_load - start, 3),
                "extract_s": round(t_extract - start, 3),
                "normalize_s": round(t_normalize - t_extract, 3),
                "load_s": round(t_load - t_normalize, 3),
                "dlt_version": dlt.__version__,
                "max_pages": args.max_pages,
                "config": ", ".join(
                    f"{k.lower()}={v}" for k, v in WORKERS.items() if not k.startswith("RUNTIME")
                ),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
