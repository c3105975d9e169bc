"""Salesforce emulation: Bulk API 2.0 query jobs."""

from __future__ import annotations

import csv
import io

import pytest

from emulator.ids import sf_ids
from tests.emulator.sf_client import SfClient, seed_with_recent_delete


@pytest.fixture(scope="module")
def sf(emulator) -> SfClient:
    return SfClient(emulator)


def _create(sf: SfClient, soql: str, operation: str = "query", **extra):
    body = {
        "operation": operation,
        "query": soql,
        "contentType": "CSV",
        "columnDelimiter": "COMMA",
        "lineEnding": "LF",
        **extra,
    }
    return sf.request("POST", "jobs/query", json=body)


def _wait(sf: SfClient, job_id: str) -> dict:
    states = []
    for _ in range(10):
        info = sf.get(f"jobs/query/{job_id}").json()
        states.append(info["state"])
        if info["state"] == "JobComplete":
            return info
    raise AssertionError(states)


def test_full_flow_multi_chunk(emulator, sf):
    frame = emulator.state.view.salesforce["Task"]
    frame = frame[~frame.IsDeleted & ~frame.IsArchived]
    created = _create(
        sf,
        "SELECT Id, Subject, WhoId, ActivityDate, CompletedDateTime, IsClosed, CallDurationInSeconds FROM Task",
    )
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["state"] == "UploadComplete" and job["operation"] == "query"
    assert job["object"] == "Task" and job["apiVersion"] == 59.0 and job["contentType"] == "CSV"
    assert job["id"].startswith("750") and len(job["id"]) == 18
    early = sf.get(f"jobs/query/{job['id']}/results")
    assert sf.error(early)[:2] == (412, "JOB_NOT_COMPLETE")
    polled = sf.get(f"jobs/query/{job['id']}").json()
    assert polled["state"] == "InProgress" and polled["jobType"] == "V2Query"
    info = _wait(sf, job["id"])
    assert info["numberRecordsProcessed"] == len(frame)

    rows, locator, chunks = [], None, []
    while True:
        params = {"maxRecords": 50}
        if locator:
            params["locator"] = locator
        response = sf.get(f"jobs/query/{job['id']}/results", params=params)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        count = int(response.headers["Sforce-NumberOfRecords"])
        text = response.text
        assert (
            text.splitlines()[0]
            == '"Id","Subject","WhoId","ActivityDate","CompletedDateTime","IsClosed","CallDurationInSeconds"'
        )
        chunk = list(csv.DictReader(io.StringIO(text)))
        assert len(chunk) == count
        chunks.append(count)
        rows.extend(chunk)
        locator = response.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert chunks[:-1] == [50] * (len(chunks) - 1) and len(chunks) >= 3
    assert len(rows) == len(frame) == len({r["Id"] for r in rows})
    assert {r["Id"] for r in rows} == set(sf_ids(frame.Id.to_numpy()))
    by_id = {r["Id"]: r for r in rows}
    for record in frame.head(40).itertuples():
        row = by_id[sf_ids([record.Id])[0]]
        assert row["IsClosed"] == ("true" if record.IsClosed else "false")
        if record.CompletedDateTime is None or str(record.CompletedDateTime) == "NaT":
            assert row["CompletedDateTime"] == ""
        else:
            assert row["CompletedDateTime"] == record.CompletedDateTime.strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            )
        assert row["ActivityDate"] == (
            "" if str(record.ActivityDate) == "NaT" else record.ActivityDate.strftime("%Y-%m-%d")
        )
    # Locators can be reused while the job exists.
    again = sf.get(f"jobs/query/{job['id']}/results", params={"maxRecords": 50}).text
    assert next(csv.DictReader(io.StringIO(again)))["Id"] == rows[0]["Id"]

    assert sf.request("DELETE", f"jobs/query/{job['id']}").status_code == 204
    assert sf.error(sf.get(f"jobs/query/{job['id']}"))[:2] == (404, "NOT_FOUND")


def test_quoting_and_nulls(sf):
    job = _create(sf, "SELECT Id, Name, Amount, Loss_Reason__c FROM Opportunity ORDER BY Id").json()
    _wait(sf, job["id"])
    text = sf.get(f"jobs/query/{job['id']}/results").text
    lines = text.splitlines()
    assert all(line.startswith('"') for line in lines)
    assert any(line.endswith(",") for line in lines[1:]), "a null Loss_Reason__c is an empty field"
    rows = list(csv.DictReader(io.StringIO(text)))
    records = SfClient.records(
        sf, "SELECT Id, Name, Amount, Loss_Reason__c FROM Opportunity ORDER BY Id"
    )
    for row, record in zip(rows, records, strict=True):
        assert row["Name"] == record["Name"]
        assert (row["Loss_Reason__c"] or None) == record["Loss_Reason__c"]
        assert (float(row["Amount"]) if row["Amount"] else None) == record["Amount"]


def test_query_all_operation_and_abort(sf):
    job = _create(sf, "SELECT Id FROM Task", operation="queryAll").json()
    assert job["operation"] == "queryAll"
    aborted = sf.request("PATCH", f"jobs/query/{job['id']}", json={"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    assert sf.get(f"jobs/query/{job['id']}").json()["state"] == "Aborted"
    assert sf.error(sf.get(f"jobs/query/{job['id']}/results"))[0] == 412
    listed = sf.get("jobs/query").json()
    assert job["id"] in {j["id"] for j in listed["records"]}


def _all_rows(sf: SfClient, soql: str, operation: str) -> list[dict]:
    job = _create(sf, soql, operation=operation).json()
    _wait(sf, job["id"])
    rows, locator = [], None
    while locator != "null":
        params = {"maxRecords": 20, **({"locator": locator} if locator else {})}
        response = sf.get(f"jobs/query/{job['id']}/results", params=params)
        assert response.status_code == 200, response.text
        rows.extend(csv.DictReader(io.StringIO(response.text)))
        locator = response.headers["Sforce-Locator"]
    return rows


def test_query_all_job_rows_include_deleted_records(make_emulator):
    running = make_emulator(seed=seed_with_recent_delete())
    sf = SfClient(running)
    frame = running.state.view.salesforce["Opportunity"]
    deleted = set(sf_ids(frame.Id[frame.IsDeleted].to_numpy()))
    assert deleted, "premise: the org has a deleted opportunity"
    soql = "SELECT Id, IsDeleted, Amount FROM Opportunity"
    everything = _all_rows(sf, soql, "queryAll")
    assert sorted(r["Id"] for r in everything) == sorted(sf_ids(frame.Id.to_numpy()))
    assert {r["Id"] for r in everything if r["IsDeleted"] == "true"} == deleted
    live = _all_rows(sf, soql, "query")
    assert {r["Id"] for r in live} == {r["Id"] for r in everything} - deleted
    # The same rows as the REST queryAll, field by field.
    by_id = {r["Id"]: r for r in everything}
    for record in sf.records(soql, all_rows=True):
        row = by_id[record["Id"]]
        assert row["IsDeleted"] == ("true" if record["IsDeleted"] else "false")
        assert (float(row["Amount"]) if row["Amount"] else None) == record["Amount"]


@pytest.mark.parametrize(
    ("soql", "operation", "code", "message"),
    [
        (
            "SELECT Id, BillingAddress FROM Account",
            "query",
            "API_ERROR",
            "Selecting compound data not supported in Bulk Query",
        ),
        ("SELECT COUNT() FROM Account", "query", "INVALIDJOB", "Aggregate"),
        ("SELECT Id, Nope FROM Account", "query", "INVALID_FIELD", "No such column"),
        ("SELECT Id FROM Nope", "query", "INVALID_TYPE", "not supported"),
        ("SELECT Id FROM Account", "upsert", "INVALIDJOB", "operation"),
    ],
)
def test_job_errors(sf, soql, operation, code, message):
    status, got_code, got_message = sf.error(_create(sf, soql, operation=operation))
    assert (status, got_code) == (400, code) and message in got_message


def test_version_mismatch_is_409(sf):
    job = _create(sf, "SELECT Id FROM Account").json()
    status, _, _ = sf.error(sf.get(f"/services/data/v58.0/jobs/query/{job['id']}"))
    assert status == 409
