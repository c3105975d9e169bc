"""The official client (simple-salesforce) against the TLS emulator: an independent wire check.

simple-salesforce hard-codes ``https://``, so the emulator serves HTTPS with a throwaway test CA
and the session trusts exactly that CA (``trust_env=False`` keeps REQUESTS_CA_BUNDLE out).
"""

from __future__ import annotations

import csv
import io
import socket

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceMalformedRequest

from emulator.ids import sf_ids
from emulator.server import start_emulator
from emulator.server.tls import make_tls_context


@pytest.fixture(scope="module")
def tls_org():
    context, ca_path = make_tls_context("127.0.0.1")
    with start_emulator(seed=42, scale="tiny", tls_context=context) as running:
        yield running, ca_path


@pytest.fixture(scope="module")
def sf(tls_org) -> Salesforce:
    running, ca_path = tls_org
    session = requests.Session()
    session.verify = ca_path
    session.trust_env = False
    creds = running.credentials
    token = session.post(
        f"{running.base_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.salesforce_client_id,
            "client_secret": creds.salesforce_client_secret,
        },
        timeout=30,
    ).json()
    assert token["instance_url"].startswith("https://127.0.0.1:")
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session
    )


def test_plain_https_client_rejects_the_test_ca(tls_org):
    running, _ = tls_org
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{running.base_url}/services/data/", timeout=30)


def test_a_stalled_client_does_not_block_the_tls_server(tls_org):
    running, ca_path = tls_org
    host, port = running.server.server_address[:2]
    with socket.create_connection((host, port)):  # connects, never says hello
        session = requests.Session()
        session.verify = ca_path
        session.trust_env = False
        assert session.get(f"{running.base_url}/_emulator/health", timeout=5).status_code == 200


def test_query_query_more_and_query_all(tls_org, sf):
    running, _ = tls_org
    frame = running.state.view.salesforce["OpportunityFieldHistory"]
    first = sf.query(
        "SELECT Id, Field, CreatedDate FROM OpportunityFieldHistory",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    assert first["totalSize"] == len(frame) and not first["done"]
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 200
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
    assert sf.query_more(locator)["records"] == second["records"]
    everything = sf.query_all("SELECT Id, Field, CreatedDate FROM OpportunityFieldHistory")
    ids = [r["Id"] for r in everything["records"]]
    assert everything["totalSize"] == len(ids) == len(set(ids)) == len(frame)
    assert set(ids) == set(sf_ids(frame.Id.to_numpy()))
    deleted_too = sf.query_all("SELECT Id FROM Opportunity", include_deleted=True)
    assert deleted_too["totalSize"] == len(running.state.view.salesforce["Opportunity"])
    assert sf.api_usage["api-usage"].total == 100000


def test_describe(tls_org, sf):
    running, _ = tls_org
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert names == set(running.state.view.salesforce)
    described = sf.Opportunity.describe()
    assert described["name"] == "Opportunity"
    assert {f["name"] for f in described["fields"]} == set(
        running.state.view.salesforce["Opportunity"].columns
    )
    record_id = sf_ids(running.state.view.salesforce["Opportunity"].Id.to_numpy()[:1])[0]
    assert sf.Opportunity.get(record_id)["Id"] == record_id
    assert "DailyApiRequests" in sf.limits()


def test_bulk2_query(tls_org, sf):
    running, _ = tls_org
    frame = running.state.view.salesforce["Task"]
    frame = frame[~frame.IsDeleted & ~frame.IsArchived]
    chunks = list(
        sf.bulk2.Task.query(
            "SELECT Id, Subject, SystemModstamp FROM Task", max_records=60, wait=0.1
        )
    )
    assert len(chunks) == -(-len(frame) // 60)
    rows = [row for chunk in chunks for row in csv.DictReader(io.StringIO(chunk))]
    assert {r["Id"] for r in rows} == set(sf_ids(frame.Id.to_numpy())) and len(rows) == len(frame)
    assert all(r["SystemModstamp"].endswith("Z") for r in rows)
    opportunities = list(sf.bulk2.Opportunity.query("SELECT Id, Amount FROM Opportunity", wait=0.1))
    assert len(opportunities) == 1


def test_errors_map_to_sdk_exceptions(tls_org, sf):
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query("SELECT Id, Nope FROM Opportunity")
    assert info.value.content[0]["errorCode"] == "INVALID_FIELD"
    running, ca_path = tls_org
    session = requests.Session()
    session.verify = ca_path
    session.trust_env = False
    stale = Salesforce(
        instance_url=running.base_url, session_id="00Dexpired!token", session=session
    )
    with pytest.raises(SalesforceExpiredSession):
        stale.query("SELECT Id FROM Account")
