"""Salesforce emulation: SOQL over HTTP, paging, value encodings, queryAll, time travel, determinism."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import requests

from emulator.ids import sf_ids
from emulator.schema import SF_OBJECTS
from emulator.server import start_emulator
from tests.emulator.sf_client import SfClient, seed_with_recent_delete


@pytest.fixture(scope="module")
def sf(emulator) -> SfClient:
    return SfClient(emulator)


def _fields(sf: SfClient, name: str) -> list[str]:
    described = sf.get(f"sobjects/{name}/describe").json()["fields"]
    return [f["name"] for f in described if f["type"] != "address"]


def _expected(frame: pd.DataFrame, name: str, field: str) -> list:
    """The wire value of every row of a frame column, computed independently of the server."""
    f = SF_OBJECTS[name].field(field)
    series = frame[field]
    if f.type in ("id", "reference"):
        return list(sf_ids(series.to_numpy()))
    out = []
    for value in series.tolist():
        if (
            value is None
            or value is pd.NA
            or value is pd.NaT
            or (isinstance(value, float) and math.isnan(value))
        ):
            out.append(None)
        elif f.type == "datetime":
            out.append(
                value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
            )
        elif f.type == "date":
            out.append(value.strftime("%Y-%m-%d"))
        elif f.type in ("int",):
            out.append(int(value))
        else:
            out.append(value)
    return out


# ------------------------------------------------------------------------------ paging
@pytest.mark.parametrize(
    "name", ["OpportunityFieldHistory", "OpportunityHistory", "Task", "Opportunity"]
)
def test_pages_together_equal_the_view_frame(emulator, sf, name):
    fields = _fields(sf, name)
    pages = sf.pages(f"SELECT {', '.join(fields)} FROM {name}", batch=200)
    frame = emulator.state.view.salesforce[name]
    if "IsDeleted" in frame:
        frame = frame[~frame.IsDeleted]
    if "IsArchived" in frame:
        frame = frame[~frame.IsArchived.fillna(False).astype(bool)]
    frame = frame.reset_index(drop=True)
    records = [r for page in pages for r in page["records"]]
    assert all(page["totalSize"] == len(frame) for page in pages)
    assert [page["done"] for page in pages] == [False] * (len(pages) - 1) + [True]
    assert all(len(page["records"]) == 200 for page in pages[:-1])
    assert all("nextRecordsUrl" not in page for page in pages[-1:])
    assert len(records) == len(frame) == len({r["Id"] for r in records})
    by_id = {r["Id"]: r for r in records}
    ids = list(sf_ids(frame.Id.to_numpy()))
    for field in fields:
        expected = _expected(frame, name, field)
        served = [by_id[i][field] for i in ids]
        assert (
            served == pytest.approx(expected)
            if SF_OBJECTS[name].field(field).type in ("double", "currency", "percent")
            else served == expected
        ), field
    first = records[0]
    assert first["attributes"] == {
        "type": name,
        "url": f"/services/data/v59.0/sobjects/{name}/{first['Id']}",
    }
    assert list(first) == ["attributes", *fields]


def test_next_records_url_shape_and_page_size_hint(sf):
    first = sf.query("SELECT Id FROM OpportunityFieldHistory", batch=250).json()
    assert len(first["records"]) == 250
    url = first["nextRecordsUrl"]
    assert url.startswith("/services/data/v59.0/query/01g") and url.endswith("-250")
    # The page size comes from the request's hint; pages may also start anywhere.
    locator = url.rsplit("-", 1)[0]
    page = sf.get(f"{locator}-400").json()
    assert page["done"] is True and len(page["records"]) == page["totalSize"] - 400
    # Out-of-range hints are clamped to 200..2000.
    assert (
        len(sf.query("SELECT Id FROM OpportunityFieldHistory", batch=10).json()["records"]) == 200
    )
    assert (
        len(sf.query("SELECT Id FROM OpportunityFieldHistory").json()["records"])
        == first["totalSize"]
    )


def test_unknown_locator(sf):
    status, code, _ = sf.error(sf.get("query/01g000000000000ZZZAAA-2000"))
    assert (status, code) == (400, "INVALID_QUERY_LOCATOR")
    first = sf.query("SELECT Id FROM OpportunityFieldHistory", batch=200).json()
    locator = first["nextRecordsUrl"].rsplit("-", 1)[0]
    status, code, _ = sf.error(sf.get(f"{locator}-{first['totalSize'] + 5}"))
    assert (status, code) == (400, "INVALID_QUERY_LOCATOR")


def test_count(emulator, sf):
    body = sf.query("SELECT COUNT() FROM Task WHERE IsClosed = TRUE").json()
    frame = emulator.state.view.salesforce["Task"]
    assert body == {
        "totalSize": int((frame.IsClosed & ~frame.IsDeleted).sum()),
        "done": True,
        "records": [],
    }


# ------------------------------------------------------------------------------ filters over HTTP
def test_where_order_and_literals_over_http(emulator, sf):
    frame = emulator.state.view.salesforce["Opportunity"]
    stamps = frame.SystemModstamp.sort_values()
    cut = stamps.iloc[len(stamps) // 2]
    literal = cut.strftime("%Y-%m-%dT%H:%M:%SZ")
    records = sf.records(
        f"SELECT Id, SystemModstamp FROM Opportunity WHERE SystemModstamp >= {literal} "
        "ORDER BY SystemModstamp, Id"
    )
    expected = frame[frame.SystemModstamp >= cut].sort_values(
        ["SystemModstamp", "Id"], kind="stable"
    )
    assert [r["Id"] for r in records] == list(sf_ids(expected.Id.to_numpy()))
    # The same instant written with an offset (requests encodes the '+').
    shifted = (cut + pd.Timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
    again = sf.records(
        f"SELECT Id FROM Opportunity WHERE SystemModstamp >= {shifted} ORDER BY SystemModstamp, Id"
    )
    assert [r["Id"] for r in again] == [r["Id"] for r in records]

    closed = sf.records(
        "SELECT Id, StageName, CloseDate FROM Opportunity "
        "WHERE StageName IN ('Closed Won', 'closed lost') AND CloseDate >= 2025-01-01 "
        "ORDER BY CloseDate DESC, Id"
    )
    want = frame[
        frame.StageName.isin(["Closed Won", "Closed Lost"]) & (frame.CloseDate >= "2025-01-01")
    ]
    want = want.sort_values(["CloseDate", "Id"], ascending=[False, True], kind="stable")
    assert [r["Id"] for r in closed] == list(sf_ids(want.Id.to_numpy()))

    named = sf.records(
        "SELECT Id, Name FROM Opportunity WHERE Name LIKE '%new business' AND Amount != null"
    )
    want = frame[frame.Name.str.lower().str.endswith("new business") & frame.Amount.notna()]
    assert {r["Id"] for r in named} == set(sf_ids(want.Id.to_numpy()))

    owner = sf.records("SELECT Id, Owner.Name, Account.Name FROM Opportunity ORDER BY Id LIMIT 5")
    users = emulator.state.view.salesforce["User"].set_index("Id").Name
    first = frame.sort_values("Id").iloc[0]
    assert owner[0]["Owner"]["Name"] == users[first.OwnerId]
    assert owner[0]["Owner"]["attributes"]["type"] == "User"


@pytest.mark.parametrize(
    ("soql", "status", "code"),
    [
        (
            "SELECT Id FROM Opportunity WHERE SystemModstamp >= 2024-05-20T00:00:00 00:00",
            400,
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM Opportunity WHERE", 400, "MALFORMED_QUERY"),
        ("SELECT Id, Bogus__c FROM Opportunity", 400, "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE CloseDate > 2024-01-01T00:00:00Z", 400, "INVALID_FIELD"),
        ("SELECT Id FROM Opportunities", 400, "INVALID_TYPE"),
    ],
)
def test_query_errors(sf, soql, status, code):
    got_status, got_code, message = sf.error(sf.query(soql))
    assert (got_status, got_code) == (status, code)
    assert "ERROR at Row:1:Column:" in message


def test_raw_plus_in_the_url_is_malformed(emulator, sf):
    # A client that pastes the query into the URL unencoded: '+' arrives as a space.
    url = (
        f"{emulator.base_url}/services/data/v59.0/query?q=SELECT+Id+FROM+Opportunity+WHERE+"
        "SystemModstamp+>=+2024-05-20T00:00:00+00:00"
    )
    response = requests.get(url, headers={"Authorization": f"Bearer {sf.token}"}, timeout=30)
    assert sf.error(response)[:2] == (400, "MALFORMED_QUERY")
    missing = sf.get("query")
    assert sf.error(missing)[:2] == (400, "MALFORMED_QUERY")


# ------------------------------------------------------------------------------ queryAll
def test_query_all_includes_deleted_rows():
    with start_emulator(seed=seed_with_recent_delete(), scale="tiny") as running:
        sf = SfClient(running)
        frame = running.state.view.salesforce["Opportunity"]
        deleted = set(sf_ids(frame.Id[frame.IsDeleted].to_numpy()))
        assert len(deleted) >= 1
        live = sf.records("SELECT Id, IsDeleted FROM Opportunity")
        everything = sf.records("SELECT Id, IsDeleted FROM Opportunity", all_rows=True)
        assert len(everything) == len(frame) == len(live) + len(deleted)
        assert {r["Id"] for r in everything} - {r["Id"] for r in live} == deleted
        assert all(r["IsDeleted"] for r in everything if r["Id"] in deleted)
        only = sf.records("SELECT Id FROM Opportunity WHERE IsDeleted = TRUE", all_rows=True)
        assert {r["Id"] for r in only} == deleted
        assert sf.records("SELECT Id FROM Opportunity WHERE IsDeleted = TRUE") == []
        # queryAll pages continue the queryAll set under /query/ locators.
        pages = sf.pages("SELECT Id FROM OpportunityFieldHistory", all_rows=True, batch=200)
        assert pages[0]["nextRecordsUrl"].startswith("/services/data/v59.0/query/")


# ------------------------------------------------------------------------------ time travel
def test_advance_shows_new_and_changed_rows(make_emulator):
    running = make_emulator()
    sf = SfClient(running)
    before = {r["Id"]: r for r in sf.records("SELECT Id, SystemModstamp FROM Task", all_rows=True)}
    newest = max(r["SystemModstamp"] for r in before.values())
    paging = sf.query("SELECT Id FROM OpportunityFieldHistory", batch=200).json()
    response = requests.post(f"{running.base_url}/_emulator/advance?days=3", timeout=120)
    assert response.status_code == 200
    after = {r["Id"]: r for r in sf.records("SELECT Id, SystemModstamp FROM Task", all_rows=True)}
    assert set(before) <= set(after) and len(after) > len(before)
    literal = dt.datetime.strptime(newest, "%Y-%m-%dT%H:%M:%S.%f%z").strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = sf.records(f"SELECT Id FROM Task WHERE SystemModstamp > {literal}", all_rows=True)
    assert changed and {r["Id"] for r in changed} == {
        i
        for i, r in after.items()
        if i not in before or r["SystemModstamp"] != before[i]["SystemModstamp"]
    }
    # Locators do not survive time travel.
    status, code, _ = sf.error(sf.get(paging["nextRecordsUrl"]))
    assert (status, code) == (400, "INVALID_QUERY_LOCATOR")


# ------------------------------------------------------------------------------ determinism
def test_same_seed_same_pages():
    bodies = []
    for _ in range(2):
        with start_emulator(seed=7, scale="tiny") as running:
            sf = SfClient(running)
            pages = []
            response = sf.query(
                "SELECT Id, OpportunityId, Field, OldValue, NewValue, CreatedDate FROM OpportunityFieldHistory ORDER BY CreatedDate DESC, Id",
                batch=200,
            )
            pages.append(response.content)
            while not response.json()["done"]:
                response = sf.get(
                    response.json()["nextRecordsUrl"],
                    headers={"Sforce-Query-Options": "batchSize=200"},
                )
                pages.append(response.content)
            pages.append(sf.get("sobjects/Opportunity/describe").content)
            bodies.append(pages)
    assert len(bodies[0]) > 2 and bodies[0] == bodies[1]


def test_every_object_and_field_is_queryable(emulator, sf):
    for name in emulator.state.view.salesforce:
        described = sf.get(f"sobjects/{name}/describe").json()["fields"]
        fields = [f["name"] for f in described]
        response = sf.query(
            f"SELECT {', '.join(fields)} FROM {name} ORDER BY {fields[-1]}", all_rows=True
        )
        assert response.status_code == 200, (name, response.text)
        assert response.json()["totalSize"] == len(emulator.state.view.salesforce[name])
        assert np.all([list(r)[1:] == fields for r in response.json()["records"]])


def test_pages_are_the_same_when_the_encoding_cache_evicts(emulator, sf, monkeypatch):
    """The per-row encoding cache is an LRU with a budget; evicted rows are encoded again."""
    from emulator.server import salesforce

    fields = ", ".join(_fields(sf, "OpportunityFieldHistory"))
    soql = (
        f"SELECT {fields}, Opportunity.Name FROM OpportunityFieldHistory ORDER BY CreatedDate, Id"
    )
    salesforce.clear_encodings()
    unbounded = [sf.pages(soql, batch=200) for _ in range(2)]
    monkeypatch.setattr(salesforce, "ENCODE_CACHE_CELLS", 300)
    salesforce.clear_encodings()
    bounded = [sf.pages(soql, batch=200) for _ in range(2)]
    assert salesforce._lru_cells <= 300 + max(
        e.base + e.filled for *_, e in salesforce._LRU.values()
    )
    # Each query gets its own locator; everything else is the same.
    runs = [
        [{**p, "nextRecordsUrl": p.get("nextRecordsUrl", "").rsplit("-")[-1]} for p in run]
        for run in (*unbounded, *bounded)
    ]
    assert runs[0] == runs[1] == runs[2] == runs[3]
    assert len(runs[0]) > 1
    # Tables over ENCODE_CACHE_MAX_ROWS are not cached at all.
    monkeypatch.setattr(salesforce, "ENCODE_CACHE_MAX_ROWS", 100)
    salesforce.clear_encodings()
    uncached = sf.pages(soql, batch=200)
    assert not any(
        isinstance(v, salesforce._Encodings)
        for table in salesforce._table_cache(emulator.state)["tables"].values()
        if table.n > 100
        for v in table.cache.values()
    )
    assert [
        {**p, "nextRecordsUrl": p.get("nextRecordsUrl", "").rsplit("-")[-1]} for p in uncached
    ] == runs[0]
    salesforce.clear_encodings()
