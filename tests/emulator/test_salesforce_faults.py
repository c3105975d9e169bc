"""Salesforce emulation: every fault switch, in Salesforce's own error formats."""

from __future__ import annotations

import csv
import io
import re
import time
from functools import partial

import numpy as np
import pytest
import requests

from emulator.ids import sf_ids
from tests.emulator.sf_client import SfClient

BURST = "2026-11-27T01:00:00.000+0000"  # 01:00 UTC after the fixtures' as-of date


def _set_faults(running, spec: str) -> None:
    response = requests.post(
        f"{running.base_url}/_emulator/faults", params={"spec": spec}, timeout=30
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def tiny_org():
    from emulator.server import start_emulator

    with start_emulator(seed=42, scale="tiny") as running:
        yield running


@pytest.fixture
def tiny(tiny_org):
    """The module's tiny org with a fresh token; faults are reset after each test."""
    sf = SfClient(tiny_org)
    yield tiny_org, sf
    response = requests.post(f"{tiny_org.base_url}/_emulator/faults?reset=1", timeout=30)
    assert response.status_code == 200


# ------------------------------------------------------------------------------ generic faults
def test_rate_limit(tiny):
    running, sf = tiny
    _set_faults(running, "rate_limit=1")
    response = sf.get("sobjects")
    assert response.status_code == 429 and response.content == b""
    _set_faults(running, "rate_limit=0")
    assert sf.get("sobjects").status_code == 200


def test_server_error(tiny):
    running, sf = tiny
    _set_faults(running, "server_error=1")
    status, code, _ = sf.error(sf.query("SELECT Id FROM Account"))
    assert status in (500, 503) and code == "UNKNOWN_EXCEPTION"


def test_daily_limit(tiny):
    running, sf = tiny
    _set_faults(running, "daily_limit=1")
    assert sf.error(sf.get("sobjects")) == (
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )


def test_disconnect(tiny):
    running, sf = tiny
    _set_faults(running, "disconnect=1")
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.get("sobjects")


def test_truncate(tiny):
    running, sf = tiny
    _set_faults(running, "truncate=1")
    with pytest.raises(requests.exceptions.RequestException):
        sf.query("SELECT Id, Name FROM Opportunity").json()


def test_slow(tiny):
    running, sf = tiny
    _set_faults(running, "slow=1,slow_seconds=0.3")
    start = time.monotonic()
    assert sf.get("limits").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_token_expiry_then_refresh(make_emulator):
    running = make_emulator(faults="token_expiry=3")
    sf = SfClient(running)
    assert [sf.get("limits").status_code for _ in range(3)] == [200, 200, 200]
    assert sf.error(sf.get("limits")) == (401, "INVALID_SESSION_ID", "Session expired or invalid")
    assert sf.get("limits").status_code == 401  # dead for good
    sf.token = sf.fetch_token()
    assert sf.get("limits").status_code == 200


# The reference's own parsing rule (api-wire-formats.md, Salesforce limits).
API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


@pytest.mark.parametrize(
    ("faults", "path", "auth", "status"),
    [
        ("", "sobjects", None, 401),
        ("", "sobjects", "Bearer not-a-token", 401),
        ("", "jobs/query", None, 401),
        ("rate_limit=1", "sobjects", "token", 429),
        ("server_error=1", "query?q=SELECT+Id+FROM+Account", "token", 503),
        ("daily_limit=1", "limits", "token", 403),
        ("", "no-such-resource", "token", 404),
    ],
    ids=["no-token", "unknown-token", "bulk-no-token", "rate", "server", "daily", "unknown-route"],
)
def test_limit_info_on_refusals(tiny, faults, path, auth, status):
    """Sforce-Limit-Info is on every REST response, not only on the 200s a handler answers."""
    running, sf = tiny
    if faults:
        _set_faults(running, faults)
    headers = {"Authorization": f"Bearer {sf.token}" if auth == "token" else auth}
    response = requests.get(
        f"{running.base_url}/services/data/v59.0/{path}",
        headers={k: v for k, v in headers.items() if v},
        timeout=30,
    )
    assert response.status_code == status
    usage = API_USAGE.fullmatch(response.headers.get("Sforce-Limit-Info", ""))
    assert usage, response.headers
    # Refused calls count against the allocation like served ones (unknown routes do not).
    assert int(usage[1]) == running.state.api_usage["salesforce"]
    assert int(usage[2]) == 100_000


# ------------------------------------------------------------------------------ determinism
RETRYABLE = (403, 429, 500, 503)  # what the generic faults answer; anything else is a real error


def _until_ok(send, attempts: int = 60) -> tuple[requests.Response, int]:
    """Repeat ``send`` until a 200 with a complete body; return it and the number of failures."""
    failures = 0
    for _ in range(attempts):
        try:
            response = send()  # reads the body: a truncated one raises here
        except requests.exceptions.RequestException:
            failures += 1
            continue
        if response.status_code == 200:
            return response, failures
        assert response.status_code in RETRYABLE, response.text
        failures += 1
    raise AssertionError(f"no 200 in {attempts} attempts")


def _page_bodies(running, soql: str, all_rows: bool, batch: int) -> tuple[list[bytes], int]:
    session = requests.Session()
    session.trust_env = False
    token_response, failures = _until_ok(
        lambda: session.post(
            f"{running.base_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": running.credentials.salesforce_client_id,
                "client_secret": running.credentials.salesforce_client_secret,
            },
            timeout=30,
        )
    )
    headers = {
        "Authorization": f"Bearer {token_response.json()['access_token']}",
        "Sforce-Query-Options": f"batchSize={batch}",
    }
    url = f"{running.base_url}/services/data/v59.0/{'queryAll' if all_rows else 'query'}"
    params = {"q": soql}
    bodies = []
    while url:
        response, failed = _until_ok(
            partial(session.get, url, params=params, headers=headers, timeout=30)
        )
        failures += failed
        bodies.append(response.content)
        next_url = response.json().get("nextRecordsUrl")
        url, params = (running.base_url + next_url, None) if next_url else (None, None)
    return bodies, failures


def test_random_faults_never_change_the_pages(make_emulator):
    """The fault dice decide only whether a request fails: a client that retries every failure
    reads byte for byte the pages a fault-free server of the same seed serves."""
    clean = make_emulator()
    faulted = make_emulator(faults="server_error=0.3,rate_limit=0.3,truncate=0.1,disconnect=0.1")
    queries = [
        ("SELECT Id, Name, Amount, StageName, CloseDate, SystemModstamp FROM Opportunity", False),
        ("SELECT Id, OpportunityId, Field, OldValue, NewValue FROM OpportunityFieldHistory", False),
        ("SELECT Id, StageName, IsDeleted FROM OpportunityHistory ORDER BY SystemModstamp", True),
    ]
    total_failures = 0
    page_counts = []
    for soql, all_rows in queries:
        expected, clean_failures = _page_bodies(clean, soql, all_rows, batch=200)
        served, failures = _page_bodies(faulted, soql, all_rows, batch=200)
        assert clean_failures == 0
        assert served == expected, soql
        total_failures += failures
        page_counts.append(len(expected))
    assert max(page_counts) > 1, "premise: locator paging is exercised"
    assert total_failures > 0, "premise: the faulted server failed some requests"


# ------------------------------------------------------------------------------ Salesforce faults
def test_locator_expiry(tiny):
    running, sf = tiny
    _set_faults(running, "locator_expiry=1")
    first = sf.query("SELECT Id FROM OpportunityFieldHistory", batch=200).json()
    assert first["done"] is False
    assert sf.error(sf.get(first["nextRecordsUrl"]))[:2] == (400, "INVALID_QUERY_LOCATOR")
    _set_faults(running, "locator_expiry=0")
    assert sf.error(sf.get(first["nextRecordsUrl"]))[:2] == (400, "INVALID_QUERY_LOCATOR")
    # Restarting the query works.
    assert (
        len(sf.records("SELECT Id FROM OpportunityFieldHistory", batch=200)) == first["totalSize"]
    )


def test_schema_drift(tiny):
    running, sf = tiny
    status, code, _ = sf.error(sf.query("SELECT Id, Drift_Field__c FROM Opportunity"))
    assert (status, code) == (400, "INVALID_FIELD")
    _set_faults(running, "schema_drift=1")
    fields = {f["name"]: f for f in sf.get("sobjects/Opportunity/describe").json()["fields"]}
    assert fields["Drift_Field__c"]["type"] == "string" and fields["Drift_Field__c"]["custom"]
    assert "Drift_Field__c" not in {
        f["name"] for f in sf.get("sobjects/Account/describe").json()["fields"]
    }
    first = sf.records("SELECT Id, Drift_Field__c FROM Opportunity ORDER BY Id")
    again = sf.records("SELECT Id, Drift_Field__c FROM Opportunity ORDER BY Id")
    assert first == again
    values = {r["Drift_Field__c"] for r in first}
    assert None in values and len(values - {None}) >= 2
    drifted = sf.get("sobjects/Opportunity/describe")
    _set_faults(running, "schema_drift=0")
    assert sf.error(sf.query("SELECT Id, Drift_Field__c FROM Opportunity"))[1] == "INVALID_FIELD"
    # The field list changed again, so a describe cached while drifted is stale: no 304.
    since = {"If-Modified-Since": drifted.headers["Last-Modified"]}
    fresh = sf.get("sobjects/Opportunity/describe", headers=since)
    assert fresh.status_code == 200
    assert "Drift_Field__c" not in {f["name"] for f in fresh.json()["fields"]}
    assert (
        sf.get(
            "sobjects/Opportunity/describe",
            headers={"If-Modified-Since": fresh.headers["Last-Modified"]},
        ).status_code
        == 304
    )


def test_timestamp_burst_tiny(tiny):
    running, sf = tiny
    before = sf.records("SELECT Id, SystemModstamp, LastModifiedDate FROM Opportunity ORDER BY Id")
    _set_faults(running, "timestamp_burst=1")
    after = sf.records("SELECT Id, SystemModstamp, LastModifiedDate FROM Opportunity ORDER BY Id")
    # Fewer rows than 2,500: all of them take part in the bulk update.
    assert {r["SystemModstamp"] for r in after} == {BURST}
    assert [r["LastModifiedDate"] for r in after] == [r["LastModifiedDate"] for r in before]
    same = sf.records("SELECT Id FROM Opportunity WHERE SystemModstamp = 2026-11-27T01:00:00Z")
    assert len(same) == len(after)
    tasks = sf.records("SELECT Id, SystemModstamp FROM Task", all_rows=True)
    assert {r["SystemModstamp"] for r in tasks} == {BURST}
    accounts = sf.records("SELECT Id, SystemModstamp FROM Account")
    assert BURST not in {r["SystemModstamp"] for r in accounts}


@pytest.fixture(scope="module")
def small():
    from emulator.server import start_emulator

    with start_emulator(seed=42, scale="small") as running:
        yield running


def test_timestamp_burst_small_spans_pages(small):
    sf = SfClient(small)
    _set_faults(small, "timestamp_burst=1")
    try:
        pages = sf.pages("SELECT Id, SystemModstamp FROM Opportunity ORDER BY SystemModstamp, Id")
        records = [r for page in pages for r in page["records"]]
        at_burst = [r["Id"] for r in records if r["SystemModstamp"] == BURST]
        assert 2000 < len(at_burst) <= 2500
        # The identical timestamps straddle a page break.
        page_of = {r["Id"]: i for i, page in enumerate(pages) for r in page["records"]}
        assert len({page_of[i] for i in at_burst}) >= 2
        again = sf.records("SELECT Id, SystemModstamp FROM Opportunity ORDER BY SystemModstamp, Id")
        assert again == records
        # Bulk serves the same overlay.
        job = sf.request(
            "POST",
            "jobs/query",
            json={"operation": "query", "query": "SELECT Id, SystemModstamp FROM Opportunity"},
        ).json()
        while sf.get(f"jobs/query/{job['id']}").json()["state"] != "JobComplete":
            pass
        rows = list(csv.DictReader(io.StringIO(sf.get(f"jobs/query/{job['id']}/results").text)))
        assert sorted(
            r["Id"] for r in rows if r["SystemModstamp"] == "2026-11-27T01:00:00.000Z"
        ) == sorted(at_burst)
    finally:
        _set_faults(small, "timestamp_burst=0")


def _late_band(frame):
    stamps = frame.SystemModstamp
    edge = stamps.max()
    return frame[(stamps >= edge - np.timedelta64(5, "m")) & (stamps < edge)]


def test_late_updates_lookback_recovers(small):
    sf = SfClient(small)
    candidates = ["Opportunity", "OpportunityHistory", "Task", "Lead", "Contact", "Event"]
    views = small.state.view.salesforce
    name = next((n for n in candidates if len(_late_band(views[n])) > 0), None)
    assert name, "premise: the small org has rows committed in the 5 minutes below an edge"
    frame = views[name]
    live = frame[~frame.IsDeleted & ~frame.get("IsArchived", frame.IsDeleted)]
    band = _late_band(frame)
    late_ids = set(sf_ids(band.Id.to_numpy())) & set(sf_ids(live.Id.to_numpy()))
    assert late_ids
    _set_faults(small, "late_updates=1")
    try:
        # Sync 1: everything (several pages); the late rows are not committed yet.
        first = sf.pages(f"SELECT Id, SystemModstamp FROM {name} ORDER BY SystemModstamp, Id")
        seen = {r["Id"]: r["SystemModstamp"] for page in first for r in page["records"]}
        assert not late_ids & set(seen)
        assert first[0]["totalSize"] == len(live) - len(late_ids)
        locator = first[0]["nextRecordsUrl"].rsplit("/", 1)[1].split("-")[0]
        withheld = small.state.extensions["salesforce:locators"][locator].withheld
        assert set(sf_ids(withheld)) == late_ids
        max_seen = max(seen.values())
        cursor = max_seen[:19] + "Z"
        # Sync 2 without lookback: the late rows are below the bookmark and stay missing.
        no_lookback = sf.records(f"SELECT Id FROM {name} WHERE SystemModstamp >= {cursor}")
        assert not late_ids & {r["Id"] for r in no_lookback}
        # Sync 2 with a 10-minute lookback: they are there now.
        lo = (np.datetime64(max_seen[:19]) - np.timedelta64(10, "m")).astype(str) + "Z"
        lookback = sf.records(f"SELECT Id FROM {name} WHERE SystemModstamp >= {lo}")
        assert late_ids <= {r["Id"] for r in lookback}
        # And any later full read has them.
        assert late_ids <= {r["Id"] for r in sf.records(f"SELECT Id FROM {name}")}
    finally:
        _set_faults(small, "late_updates=0")
