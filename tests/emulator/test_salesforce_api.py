"""Salesforce emulation: OAuth, auth errors, headers, versions, limits, describe, getDeleted."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils

import numpy as np
import pytest
import requests

from emulator.ids import make_keys, sf_ids
from emulator.schema import SF_OBJECTS
from tests.emulator.sf_client import SfClient, seed_with_recent_delete


@pytest.fixture(scope="module")
def sf(emulator) -> SfClient:
    return SfClient(emulator)


def _token(emulator, **form) -> requests.Response:
    return requests.post(f"{emulator.base_url}/services/oauth2/token", data=form, timeout=30)


# ------------------------------------------------------------------------------ OAuth
def test_client_credentials_grant(emulator):
    creds = emulator.credentials
    response = _token(
        emulator,
        grant_type="client_credentials",
        client_id=creds.salesforce_client_id,
        client_secret=creds.salesforce_client_secret,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["instance_url"] == emulator.base_url
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith("00D") and "!" in body["access_token"]
    assert isinstance(body["issued_at"], str) and body["issued_at"].isdigit()
    assert body["id"].startswith(f"{emulator.base_url}/id/00D")
    assert body["signature"] and body["scope"] == "api"
    assert "expires_in" not in body and "refresh_token" not in body
    issued = dt.datetime.fromtimestamp(int(body["issued_at"]) / 1000, dt.UTC)
    assert abs(issued - emulator.state.now()) < dt.timedelta(minutes=1)  # simulated time


def test_refresh_token_grant_and_basic_auth(emulator):
    creds = emulator.credentials
    response = _token(
        emulator,
        grant_type="refresh_token",
        client_id=creds.salesforce_client_id,
        client_secret=creds.salesforce_client_secret,
        refresh_token=creds.salesforce_refresh_token,
    )
    assert response.status_code == 200 and response.json()["access_token"]
    basic = base64.b64encode(
        f"{creds.salesforce_client_id}:{creds.salesforce_client_secret}".encode()
    ).decode()
    response = requests.post(
        f"{emulator.base_url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=30,
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"},
            "invalid_client_id",
        ),
        (
            {"grant_type": "client_credentials", "client_secret": "demo-client-secret"},
            "invalid_client_id",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "demo-client-id",
                "client_secret": "bad",
            },
            "invalid_client",
        ),
        (
            {
                "grant_type": "refresh_token",
                "client_id": "demo-client-id",
                "client_secret": "demo-client-secret",
                "refresh_token": "stale",
            },
            "invalid_grant",
        ),
        ({"grant_type": "password", "client_id": "demo-client-id"}, "unsupported_grant_type"),
        ({"client_id": "demo-client-id"}, "unsupported_grant_type"),
    ],
)
def test_token_failures_are_oauth_400s(emulator, form, error):
    response = _token(emulator, **form)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == error and body["error_description"]


def test_missing_or_unknown_bearer_is_401(emulator, sf):
    url = f"{emulator.base_url}/services/data/v59.0/sobjects"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": sf.token}):
        response = requests.get(url, headers=headers, timeout=30)
        assert response.status_code == 401
        assert response.json() == [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ]


# ------------------------------------------------------------------------------ headers, errors
def test_date_header_is_simulated_time_and_limit_info(emulator, sf):
    response = sf.get("limits")
    assert response.status_code == 200
    served = email.utils.parsedate_to_datetime(response.headers["Date"])
    assert abs(served - emulator.state.now()) < dt.timedelta(seconds=30)
    assert served.date() == emulator.state.view.day + dt.timedelta(days=1)
    first = int(response.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
    second = sf.get("limits")
    used, total = second.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert int(used) > first and total == "100000"
    limits = second.json()
    assert limits["DailyApiRequests"]["Max"] == 100000
    assert limits["DailyApiRequests"]["Remaining"] == 100000 - int(used)


def test_versions_and_resources(emulator, sf):
    response = requests.get(f"{emulator.base_url}/services/data/", timeout=30)
    assert response.status_code == 200
    assert "Sforce-Limit-Info" not in response.headers
    versions = {v["version"]: v for v in response.json()}
    assert versions["59.0"] == {
        "label": "Winter '24",
        "url": "/services/data/v59.0",
        "version": "59.0",
    }
    assert sf.get("").json()["query"] == "/services/data/v59.0/query"


def test_not_found_is_the_error_array(sf):
    for path in ("sobjects/Nope/describe", "nope", "/services/data/v10.0/sobjects"):
        status, code, _ = sf.error(sf.get(path))
        assert (status, code) == (404, "NOT_FOUND")
    missing = sf_ids(make_keys("Opportunity", np.array([999_999])))[0]
    status, code, _ = sf.error(sf.get(f"sobjects/Opportunity/{missing}"))
    assert (status, code) == (404, "NOT_FOUND")


def test_get_record(emulator, sf):
    frame = emulator.state.view.salesforce["Opportunity"]
    record_id = sf_ids(frame.Id.to_numpy()[:1])[0]
    record = sf.get(f"sobjects/Opportunity/{record_id}").json()
    assert record["Id"] == record_id and record["attributes"]["type"] == "Opportunity"
    assert record["Name"] == frame.Name.iloc[0]
    subset = sf.get(f"sobjects/Opportunity/{record_id}", params={"fields": "Name,Amount"}).json()
    assert set(subset) == {"attributes", "Name", "Amount"}


# ------------------------------------------------------------------------------ describe
def test_describe_global(emulator, sf):
    body = sf.get("sobjects").json()
    assert body["encoding"] == "UTF-8" and body["maxBatchSize"] == 200
    names = {o["name"]: o for o in body["sobjects"]}
    assert set(names) == set(emulator.state.view.salesforce)
    opp = names["Opportunity"]
    assert opp["keyPrefix"] == "006" and opp["queryable"] and opp["replicateable"]
    assert opp["custom"] is False and opp["label"] == "Opportunity"
    assert opp["urls"]["describe"] == "/services/data/v59.0/sobjects/Opportunity/describe"


@pytest.mark.parametrize("name", sorted(SF_OBJECTS))
def test_describe_fields_match_schema_and_frame(emulator, sf, name):
    response = sf.get(f"sobjects/{name}/describe")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == name and body["keyPrefix"] == SF_OBJECTS[name].key_prefix
    assert body["childRelationships"] == [] and body["recordTypeInfos"] == []
    frame = emulator.state.view.salesforce[name]
    described = {f["name"]: f for f in body["fields"]}
    schema = {f.name: f for f in SF_OBJECTS[name].fields}
    compound = {f.name for f in SF_OBJECTS[name].fields if f.type == "address"}
    assert set(described) == set(frame.columns) | compound
    for field_name, f in described.items():
        s = schema[field_name]
        assert f["type"] == s.type
        assert f["soapType"] == ("xsd:anyType" if s.type == "anyType" else s.soap_type)
        assert f["nillable"] == s.nillable and f["calculated"] == s.calculated
        assert f["custom"] == s.custom and f["referenceTo"] == list(s.reference_to)
        assert [p["value"] for p in f["picklistValues"]] == list(s.picklist)
        assert f["compoundFieldName"] == s.compound_field_name
        for key in ("label", "length", "precision", "scale", "filterable", "sortable"):
            assert key in f
        if s.calculated:
            assert f["calculatedFormula"]


def test_describe_compound_address(sf):
    fields = {f["name"]: f for f in sf.get("sobjects/Account/describe").json()["fields"]}
    assert fields["BillingAddress"]["type"] == "address"
    assert fields["BillingAddress"]["filterable"] is False
    assert fields["BillingCity"]["compoundFieldName"] == "BillingAddress"
    assert fields["OwnerId"]["relationshipName"] == "Owner"
    records = sf.records("SELECT Id, BillingAddress, BillingCity FROM Account")
    with_city = [r for r in records if r["BillingCity"]]
    assert with_city
    for r in with_city:
        address = r["BillingAddress"]
        assert address["city"] == r["BillingCity"]
        assert set(address) == {
            "street",
            "city",
            "state",
            "postalCode",
            "country",
            "latitude",
            "longitude",
            "geocodeAccuracy",
        }


def test_describe_if_modified_since(sf):
    first = sf.get("sobjects/Opportunity/describe")
    modified = first.headers["Last-Modified"]
    again = sf.get("sobjects/Opportunity/describe", headers={"If-Modified-Since": modified})
    assert again.status_code == 304 and again.content == b""
    older = email.utils.format_datetime(
        email.utils.parsedate_to_datetime(modified) - dt.timedelta(days=1), usegmt=True
    )
    assert (
        sf.get("sobjects/Opportunity/describe", headers={"If-Modified-Since": older}).status_code
        == 200
    )


def test_schema_drift_over_simulated_days(make_emulator):
    running = make_emulator()
    sf = SfClient(running)
    names = [f["name"] for f in sf.get("sobjects/Opportunity/describe").json()["fields"]]
    assert "Competitor__c" not in names
    status, code, _ = sf.error(sf.query("SELECT Id, Competitor__c FROM Opportunity"))
    assert (status, code) == (400, "INVALID_FIELD")
    requests.post(f"{running.base_url}/_emulator/advance?days=3", timeout=120).raise_for_status()
    sf.token = sf.fetch_token()
    fields = {f["name"]: f for f in sf.get("sobjects/Opportunity/describe").json()["fields"]}
    assert fields["Competitor__c"]["custom"] is True and fields["Competitor__c"]["type"] == "string"
    records = sf.records("SELECT Id, Competitor__c FROM Opportunity")
    assert any(r["Competitor__c"] for r in records)


# ------------------------------------------------------------------------------ getDeleted
@pytest.fixture(scope="module")
def deleted_org():
    from emulator.server import start_emulator

    with start_emulator(seed=seed_with_recent_delete(), scale="tiny") as running:
        yield running


def _window(now: dt.datetime, days_back: float, days_forward: float = 0) -> dict:
    def fmt(value):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "start": fmt(now - dt.timedelta(days=days_back)),
        "end": fmt(now + dt.timedelta(days=days_forward)),
    }


def test_get_deleted(deleted_org):
    sf = SfClient(deleted_org)
    frame = deleted_org.state.view.salesforce["Opportunity"]
    now = deleted_org.state.now()
    since = np.datetime64(now.replace(tzinfo=None) - dt.timedelta(days=14), "m")
    gone = frame[frame.IsDeleted & (frame.SystemModstamp.to_numpy() >= since)]
    gone = gone.sort_values("SystemModstamp").tail(1)
    assert len(gone) == 1
    body = sf.get("sobjects/Opportunity/deleted/", params=_window(now, 14)).json()
    assert {
        "id": sf_ids(gone.Id.to_numpy())[0],
        "deletedDate": gone.SystemModstamp.iloc[0].strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    } in body["deletedRecords"]
    assert all(
        r["id"] in set(sf_ids(frame.Id[frame.IsDeleted].to_numpy())) for r in body["deletedRecords"]
    )
    earliest = dt.datetime.strptime(body["earliestDateAvailable"], "%Y-%m-%dT%H:%M:%S.%f%z")
    latest = dt.datetime.strptime(body["latestDateCovered"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert earliest <= now - dt.timedelta(days=15) + dt.timedelta(minutes=1)
    assert latest <= now and latest.second == 0
    after = gone.SystemModstamp.iloc[0].to_pydatetime().replace(tzinfo=dt.UTC) + dt.timedelta(
        minutes=2
    )
    window = {
        "start": after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert sf.get("sobjects/Opportunity/deleted/", params=window).json()["deletedRecords"] == []
    status, code, _ = sf.error(sf.get("sobjects/Opportunity/deleted/", params=_window(now, 16)))
    assert (status, code) == (400, "INVALID_REPLICATION_DATE")
    status, code, _ = sf.error(sf.get("sobjects/Opportunity/deleted/", params=_window(now, -1, -2)))
    assert (status, code) == (400, "INVALID_REPLICATION_DATE")
    deleted_id = sf_ids(gone.Id.to_numpy())[0]
    assert sf.error(sf.get(f"sobjects/Opportunity/{deleted_id}"))[:2] == (404, "ENTITY_IS_DELETED")
    updated = sf.get("sobjects/Opportunity/updated/", params=_window(now, 14)).json()
    assert "ids" in updated and "latestDateCovered" in updated
