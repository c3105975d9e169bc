"""The HubSpot API of the emulator over real HTTP: paging, search, typing, associations, errors,
faults, the bulk-import overlay, time travel, determinism and the official SDK as a cross-check.

Expected values come from ``state.view.hubspot`` (the data contract), not from the server's own
rendering code; only the overlays are taken from ``hubspot.served_frame``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import time

import hubspot as hubspot_sdk
import numpy as np
import pandas as pd
import pytest
import requests
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import PublicObjectSearchRequest as ContactsSearchRequest
from hubspot.crm.deals import Filter, FilterGroup
from hubspot.crm.deals import PublicObjectSearchRequest as DealsSearchRequest

from connectors.hubspot import ASSOCIATIONS, HISTORY_PROPERTIES
from emulator.ids import hs_ids, parse_hs_id
from emulator.schema import HS_OBJECTS, HS_REFERENCE_PROPERTIES, HS_STAGES
from emulator.server import hubspot

OBJECTS = ["companies", "contacts", "deals", "calls", "emails", "meetings"]
KEY_TYPES = {
    "companies": "Account",
    "contacts": "Contact",
    "deals": "Opportunity",
    "calls": "Task",
    "emails": "Task",
    "meetings": "Event",
}
REFERENCE_TYPES = {
    "hubspot_owner_id": "User",
    "associatedcompanyid": "Account",
    "renewal_of_deal_id": "Opportunity",
}
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NUMBER = re.compile(r"^-?\d+(\.\d*[1-9])?$")
RATE_HEADERS = (
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
)


# ------------------------------------------------------------------------------ helpers
def session(running) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.headers["Authorization"] = f"Bearer {running.credentials.hubspot_token}"
    return s


def get(running, path: str, **params) -> requests.Response:
    return session(running).get(running.base_url + path, params=params, timeout=30)


def search(running, obj: str, body: dict, s: requests.Session | None = None) -> requests.Response:
    """POST a search, backing off on the SECONDLY limit like a well-behaved client."""
    s = s or session(running)
    for _attempt in range(50):
        r = s.post(f"{running.base_url}/crm/v3/objects/{obj}/search", json=body, timeout=30)
        if r.status_code != 429:
            return r
        time.sleep(0.2)
    raise AssertionError("search stayed rate limited")


def list_all(running, obj: str, limit: int = 7, **params) -> list[dict]:
    s = session(running)
    out, after, pages = [], None, 0
    while True:
        query = {"limit": limit, **params}
        if after:
            query["after"] = after
        r = s.get(f"{running.base_url}/crm/v3/objects/{obj}", params=query, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["results"]) <= limit
        out.extend(body["results"])
        pages += 1
        if "paging" not in body:
            return out
        after = body["paging"]["next"]["after"]
        assert pages < 10_000


def search_all(running, obj: str, body: dict) -> tuple[list[dict], int]:
    s = session(running)
    out, after, total = [], "0", None
    while True:
        r = search(running, obj, {**body, "after": after}, s)
        assert r.status_code == 200, r.text
        page = r.json()
        total = page["total"] if total is None else total
        assert page["total"] == total
        out.extend(page["results"])
        if "paging" not in page:
            return out, total
        after = page["paging"]["next"]["after"]


def view_frame(running, obj: str, archived: bool = False) -> pd.DataFrame:
    frame = running.state.view.hubspot[obj]
    return frame[frame["archived"] == archived]


def keys_of(results: list[dict], obj: str) -> list[int]:
    return [parse_hs_id(r["id"], KEY_TYPES[obj]) for r in results]


def check_value(prop, text, expected) -> None:
    """One served property value against the typed value of the view frame."""
    null = expected is None or (not isinstance(expected, str) and pd.isna(expected))
    if prop.name in HS_REFERENCE_PROPERTIES:
        null = null or int(expected) < 0
        if null:
            assert text is None
        else:
            assert parse_hs_id(text, REFERENCE_TYPES[prop.name]) == int(expected)
        return
    if null:
        assert text is None, (prop.name, text)
        return
    assert isinstance(text, str), (prop.name, text)
    if prop.type == "datetime":
        assert ISO_MS.match(text), text
        assert pd.Timestamp(text).tz_convert(None) == pd.Timestamp(expected)
    elif prop.type == "date":
        assert DATE.match(text), text
        assert pd.Timestamp(text) == pd.Timestamp(expected)
    elif prop.type == "number":
        assert NUMBER.match(text), (prop.name, text)
        assert float(text) == pytest.approx(float(expected), rel=1e-12)
    elif prop.type == "bool":
        assert text == ("true" if expected else "false")
    else:
        assert text == str(expected)


def all_properties(obj: str) -> str:
    return ",".join(p.name for p in HS_OBJECTS[obj].properties)


# ------------------------------------------------------------------------------ list and read
@pytest.mark.parametrize("obj", OBJECTS)
def test_list_pages_cover_the_view_once(emulator, obj):
    results = list_all(emulator, obj, limit=7, properties=all_properties(obj))
    keys = keys_of(results, obj)
    assert len(keys) == len(set(keys))
    expected = view_frame(emulator, obj).set_index("id")
    assert sorted(keys) == sorted(expected.index)
    for record in results:
        assert {"id", "properties", "createdAt", "updatedAt", "archived"} <= set(record)
        assert record["archived"] is False and "archivedAt" not in record
        row = expected.loc[parse_hs_id(record["id"], KEY_TYPES[obj])]
        assert ISO_MS.match(record["createdAt"]) and ISO_MS.match(record["updatedAt"])
        assert pd.Timestamp(record["updatedAt"]).tz_convert(None) == row["updatedAt"]
        assert pd.Timestamp(record["createdAt"]).tz_convert(None) == row["createdAt"]
        assert record["properties"]["hs_object_id"] == record["id"]
        for prop in HS_OBJECTS[obj].properties:
            assert prop.name in record["properties"]
            check_value(prop, record["properties"][prop.name], row.get(prop.name))


def test_every_property_value_is_a_string_or_null(emulator):
    for obj in OBJECTS:
        for record in list_all(emulator, obj, limit=100, properties=all_properties(obj)):
            for name, value in record["properties"].items():
                assert value is None or isinstance(value, str), (obj, name, value)


def test_paging_link_is_absolute_and_followable(emulator):
    s = session(emulator)
    first = get(emulator, "/crm/v3/objects/contacts", limit=5, properties="email").json()
    nxt = first["paging"]["next"]
    assert nxt["link"].startswith(emulator.base_url + "/crm/v3/objects/contacts?")
    by_link = s.get(nxt["link"], timeout=30).json()
    by_after = get(
        emulator, "/crm/v3/objects/contacts", limit=5, properties="email", after=nxt["after"]
    )
    assert by_link == by_after.json()
    assert [r["id"] for r in by_link["results"]] != [r["id"] for r in first["results"]]
    # A cursor passed back decoded (what a client that unquotes it sends) works as well.
    decoded = nxt["after"].replace("%3D", "=")
    again = get(emulator, "/crm/v3/objects/contacts", limit=5, properties="email", after=decoded)
    assert again.json() == by_link


def test_limit_default_and_bounds(emulator):
    r = get(emulator, "/crm/v3/objects/contacts")
    assert r.status_code == 200 and len(r.json()["results"]) == 10
    assert len(get(emulator, "/crm/v3/objects/contacts", limit=100).json()["results"]) == 44
    r = get(emulator, "/crm/v3/objects/contacts", limit=101)
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    r = get(emulator, "/crm/v3/objects/deals", limit=51, propertiesWithHistory="dealstage")
    assert r.status_code == 400
    assert get(emulator, "/crm/v3/objects/deals", limit=50, propertiesWithHistory="dealstage").ok
    r = get(emulator, "/crm/v3/objects/deals", after="not-a-cursor!")
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"


def test_object_type_names_singulars_ids_and_dated_paths(emulator):
    expected = sorted(r["id"] for r in list_all(emulator, "deals", limit=100))
    for path in (
        "/crm/v3/objects/deal",
        "/crm/v3/objects/0-3",
        "/crm/objects/2026-03/deals",
        "/crm/objects/2025-09/0-3",
    ):
        r = get(emulator, path, limit=100)
        assert r.status_code == 200, path
        assert sorted(x["id"] for x in r.json()["results"]) == expected
    for obj, type_id in {"contacts": "0-1", "companies": "0-2", "calls": "0-48"}.items():
        a = get(emulator, f"/crm/v3/objects/{type_id}", limit=100).json()["results"]
        assert len(a) == len(view_frame(emulator, obj))
    r = get(emulator, "/crm/v3/objects/widgets")
    assert r.status_code == 400
    assert r.json()["message"] == "Unable to infer object type from: widgets"


def test_default_and_unknown_properties(emulator):
    record = get(emulator, "/crm/v3/objects/deals", limit=1).json()["results"][0]
    assert set(record["properties"]) == {
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    }
    record = get(emulator, "/crm/v3/objects/deals", limit=1, properties="dealname,nope").json()
    props = record["results"][0]["properties"]
    assert "nope" not in props
    assert set(props) == {"dealname", "createdate", "hs_lastmodifieddate", "hs_object_id"}
    # Repeated parameters work like a comma list (that is how the SDK sends them).
    r = session(emulator).get(
        emulator.base_url + "/crm/v3/objects/contacts",
        params=[("limit", 1), ("properties", "email"), ("properties", "jobtitle")],
        timeout=30,
    )
    assert {"email", "jobtitle"} <= set(r.json()["results"][0]["properties"])


def test_single_record_read(emulator):
    deal = view_frame(emulator, "deals").iloc[0]
    listed = get(emulator, "/crm/v3/objects/deals", limit=1, properties="amount").json()
    record_id = listed["results"][0]["id"]
    assert parse_hs_id(record_id, "Opportunity") == deal["id"]
    r = get(emulator, f"/crm/v3/objects/deals/{record_id}", properties="amount")
    assert r.status_code == 200 and r.json() == listed["results"][0]
    r = get(emulator, "/crm/v3/objects/deals/999")
    assert r.status_code == 404 and r.json()["category"] == "OBJECT_NOT_FOUND"


def test_properties_with_history_for_deals(emulator):
    history = emulator.state.view.hubspot["deal_property_history"]
    results = list_all(
        emulator,
        "deals",
        limit=50,
        properties="dealstage,amount",
        propertiesWithHistory="dealstage,amount",
    )
    assert results
    for record in results:
        key = parse_hs_id(record["id"], "Opportunity")
        for name in ("dealstage", "amount"):
            served = record["propertiesWithHistory"][name]
            rows = history[(history.deal == key) & (history.property == name)]
            assert len(served) == len(rows)
            stamps = [e["timestamp"] for e in served]
            assert stamps == sorted(stamps, reverse=True)
            assert all(ISO_MS.match(t) for t in stamps)
            assert {e["sourceType"] for e in served} <= {"API", "CRM_UI"}
            assert all(isinstance(e["value"], str) for e in served)
            if record["properties"][name] is not None:
                assert served[0]["value"] == record["properties"][name]


# ------------------------------------------------------------------------------ archived
@pytest.fixture(scope="module")
def seed2(request):
    """An org (seed 2) that has an archived deal and deactivated owners."""
    from emulator.server import start_emulator

    running = start_emulator(seed=2, scale="tiny", as_of=dt.date(2026, 11, 26))
    request.addfinalizer(running.stop)
    return running


def test_archived_records_only_with_archived_true(seed2):
    archived = view_frame(seed2, "deals", archived=True)
    assert len(archived) >= 1
    live = list_all(seed2, "deals", limit=100)
    gone = list_all(seed2, "deals", limit=100, archived="true")
    assert sorted(keys_of(gone, "deals")) == sorted(archived["id"])
    assert not set(keys_of(gone, "deals")) & set(keys_of(live, "deals"))
    for record in gone:
        assert record["archived"] is True and ISO_MS.match(record["archivedAt"])
    found, total = search_all(seed2, "deals", {"limit": 200})
    assert total == len(live)
    assert not set(keys_of(found, "deals")) & set(archived["id"])
    record_id = gone[0]["id"]
    assert get(seed2, f"/crm/v3/objects/deals/{record_id}").status_code == 404
    assert get(seed2, f"/crm/v3/objects/deals/{record_id}", archived="true").status_code == 200


def test_owners_active_and_deactivated(seed2):
    owners = seed2.state.view.hubspot["owners"]
    assert owners["archived"].any()

    def fetch(archived):
        out, after = [], None
        while True:
            params = {"limit": 2, "archived": archived, **({"after": after} if after else {})}
            body = get(seed2, "/crm/v3/owners", **params).json()
            out.extend(body["results"])
            if "paging" not in body:
                return out
            after = body["paging"]["next"]["after"]

    active, inactive = fetch("false"), fetch("true")
    assert sorted(parse_hs_id(o["id"], "User") for o in active) == sorted(
        owners.id[~owners.archived]
    )
    assert sorted(parse_hs_id(o["id"], "User") for o in inactive) == sorted(
        owners.id[owners.archived]
    )
    for owner in active + inactive:
        assert owner["type"] == "PERSON" and isinstance(owner["userId"], int)
        assert ISO_MS.match(owner["createdAt"]) and ISO_MS.match(owner["updatedAt"])
        for team in owner["teams"]:
            assert set(team) == {"id", "name", "primary"}
    assert all(o["archived"] for o in inactive) and not any(o["archived"] for o in active)
    # Records can point at deactivated owners: only the archived pass resolves them.
    deals = seed2.state.view.hubspot["deals"]
    deactivated = set(owners.id[owners.archived])
    if deals.hubspot_owner_id.isin(deactivated).any():
        active_ids = {parse_hs_id(o["id"], "User") for o in active}
        assert not deactivated & active_ids
    one = inactive[0]
    assert get(seed2, f"/crm/v3/owners/{one['id']}").status_code == 404
    assert get(seed2, f"/crm/v3/owners/{one['id']}", archived="true").json() == one
    by_email = get(seed2, "/crm/v3/owners", email=active[0]["email"]).json()["results"]
    assert [o["id"] for o in by_email] == [active[0]["id"]]


# ------------------------------------------------------------------------------ associations
def _view_pairs(running, from_obj, to_obj) -> set[tuple[int, int]]:
    a = running.state.view.hubspot["associations"]
    a = a[(a.from_type == from_obj) & (a.to_type == to_obj)]
    return set(zip(a.from_key, a.to_key, strict=True))


def test_inline_associations(emulator):
    results = list_all(emulator, "deals", limit=5, associations="companies,contacts")
    for target, type_name in (("companies", "deal_to_company"), ("contacts", "deal_to_contact")):
        served = set()
        for record in results:
            for item in record.get("associations", {}).get(target, {}).get("results", []):
                assert item["type"] in (type_name, f"{type_name}_unlabeled")
                served.add(
                    (
                        parse_hs_id(record["id"], "Opportunity"),
                        parse_hs_id(item["id"], KEY_TYPES[target]),
                    )
                )
        assert served == _view_pairs(emulator, "deals", target)
    record = next(r for r in results if "companies" in r.get("associations", {}))
    types = [x["type"] for x in record["associations"]["companies"]["results"]]
    assert types == ["deal_to_company", "deal_to_company_unlabeled"]


def test_v4_associations_per_record_and_batch(emulator):
    a = emulator.state.view.hubspot["associations"]
    deals = list_all(emulator, "deals", limit=100)
    inputs = []
    for record in deals:
        key = parse_hs_id(record["id"], "Opportunity")
        for target in ("companies", "contacts", "calls"):
            r = get(
                emulator, f"/crm/v4/objects/deals/{record['id']}/associations/{target}", limit=1
            )
            assert r.status_code == 200
            served, body = [], r.json()
            while True:
                served.extend(body["results"])
                if "paging" not in body:
                    break
                body = get(
                    emulator,
                    f"/crm/v4/objects/deals/{record['id']}/associations/{target}",
                    limit=1,
                    after=body["paging"]["next"]["after"],
                ).json()
            rows = a[(a.from_type == "deals") & (a.to_type == target) & (a.from_key == key)]
            assert sorted(
                parse_hs_id(x["toObjectId"], KEY_TYPES[target]) for x in served
            ) == sorted(rows.to_key)
            for item in served:
                assert isinstance(item["toObjectId"], int)
                type_ids = {t["typeId"] for t in item["associationTypes"]}
                assert set(rows.type_id) & type_ids
                assert all(t["category"] == "HUBSPOT_DEFINED" for t in item["associationTypes"])
            if target == "companies" and served:
                assert [t["typeId"] for t in served[0]["associationTypes"]] == [5, 341]
        inputs.append({"id": record["id"]})
    body = {"inputs": [*inputs, {"id": "1"}]}
    r = session(emulator).post(
        emulator.base_url + "/crm/v4/associations/deals/companies/batch/read", json=body, timeout=30
    )
    assert r.status_code == 207
    payload = r.json()
    assert payload["status"] == "COMPLETE" and payload["numErrors"] == len(payload["errors"]) >= 1
    assert any(e["context"]["fromObjectId"] == ["1"] for e in payload["errors"])
    served = {
        (parse_hs_id(x["from"]["id"], "Opportunity"), parse_hs_id(t["toObjectId"], "Account"))
        for x in payload["results"]
        for t in x["to"]
    }
    assert served == _view_pairs(emulator, "deals", "companies")
    ok = session(emulator).post(
        emulator.base_url + "/crm/v4/associations/deals/companies/batch/read",
        json={"inputs": inputs[:2]},
        timeout=30,
    )
    assert ok.status_code == 200 and "errors" not in ok.json()


# ------------------------------------------------------------------------------ pipelines, properties
def test_deal_pipeline(emulator):
    body = get(emulator, "/crm/v3/pipelines/deals").json()
    assert "paging" not in body and len(body["results"]) == 1
    pipeline = body["results"][0]
    assert pipeline["id"] == "default" and pipeline["label"] == "Sales Pipeline"
    stages = {s["id"]: s for s in pipeline["stages"]}
    assert list(stages) == [s[0] for s in HS_STAGES]
    for stage_id, label, order, closed, probability in HS_STAGES:
        stage = stages[stage_id]
        assert stage["label"] == label and stage["displayOrder"] == order
        assert stage["metadata"] == {
            "isClosed": "true" if closed else "false",
            "probability": probability,
        }
    assert get(emulator, "/crm/v3/pipelines/0-3").json() == body
    assert get(emulator, "/crm/v3/pipelines/deals/default").json() == pipeline
    assert (
        get(emulator, "/crm/v3/pipelines/deals/default/stages").json()["results"]
        == pipeline["stages"]
    )
    assert get(emulator, "/crm/v3/pipelines/deals/nope").status_code == 404


@pytest.mark.parametrize("obj", OBJECTS)
def test_properties_endpoint(emulator, obj):
    body = get(emulator, f"/crm/v3/properties/{obj}").json()
    assert "paging" not in body
    props = {p["name"]: p for p in body["results"]}
    assert list(props) == [p.name for p in HS_OBJECTS[obj].properties]
    for spec in HS_OBJECTS[obj].properties:
        p = props[spec.name]
        assert p["type"] == spec.type and p["fieldType"] == spec.field_type
        assert p["calculated"] == spec.calculated and p["hubspotDefined"] == spec.hubspot_defined
        assert p["archived"] is False and isinstance(p["groupName"], str) and p["label"]
        for option in p["options"]:
            assert set(option) >= {"label", "value", "displayOrder", "hidden"}
        if spec.type == "enumeration" and spec.options and spec.name != "dealstage":
            assert [o["value"] for o in p["options"]] == list(spec.options)
    if obj == "deals":
        assert [o["value"] for o in props["dealstage"]["options"]] == [s[0] for s in HS_STAGES]
        assert "competitor" not in props
    one = get(emulator, f"/crm/v3/properties/{obj}/hs_object_id").json()
    assert one == props["hs_object_id"]
    assert get(emulator, f"/crm/v3/properties/{obj}/nope").status_code == 404


def test_org_drift_property_appears_after_time_travel(make_emulator):
    running = make_emulator()
    names = lambda: [p["name"] for p in get(running, "/crm/v3/properties/deals").json()["results"]]  # noqa: E731
    assert "competitor" not in names()
    requests.post(running.base_url + "/_emulator/advance", params={"days": 2}, timeout=60)
    assert running.state.view.hubspot_drift_properties == {"deals": ["competitor"]}
    assert "competitor" in names()
    results = list_all(running, "deals", limit=100, properties="competitor")
    frame = view_frame(running, "deals").set_index("id")
    for record in results:
        expected = frame.loc[parse_hs_id(record["id"], "Opportunity"), "competitor"]
        assert record["properties"]["competitor"] == (None if pd.isna(expected) else expected)


# ------------------------------------------------------------------------------ search
@pytest.fixture(scope="module")
def searchable(request):
    """The tiny org of the shared fixture, on a private server without the search rate limit."""
    from emulator.server import start_emulator

    running = start_emulator(seed=42, scale="tiny", as_of=dt.date(2026, 11, 26))
    request.addfinalizer(running.stop)
    hubspot.settings(running.state).search_requests_per_second = 0
    return running


def _expected_keys(running, obj, predicate) -> set[int]:
    frame = view_frame(running, obj)
    return set(frame.id[predicate(frame)])


def _ms(ts) -> int:
    return int(pd.Timestamp(ts).value // 1_000_000)


def _operator_cases(running):
    deals = view_frame(running, "deals")
    contacts = view_frame(running, "contacts")
    amount = float(deals.amount.median())
    modified = pd.Timestamp(deals.hs_lastmodifieddate.median())
    low, high = deals.hs_lastmodifieddate.quantile(0.25), deals.hs_lastmodifieddate.quantile(0.75)
    email = contacts.email.iloc[3]
    owner = int(deals.hubspot_owner_id.iloc[0])
    owner_id = str(owner - (owner >> 56 << 56) + 1_000_000_000)
    return [
        (
            "deals",
            {"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"},
            lambda f: f.dealstage == "closedwon",
        ),
        (
            "deals",
            {"propertyName": "dealstage", "operator": "EQ", "value": "CLOSEDWON"},
            lambda f: f.dealstage == "closedwon",
        ),
        (
            "deals",
            {"propertyName": "dealstage", "operator": "NEQ", "value": "closedwon"},
            lambda f: f.dealstage != "closedwon",
        ),
        (
            "deals",
            {"propertyName": "amount", "operator": "LT", "value": str(amount)},
            lambda f: f.amount < amount,
        ),
        (
            "deals",
            {"propertyName": "amount", "operator": "LTE", "value": str(amount)},
            lambda f: f.amount <= amount,
        ),
        (
            "deals",
            {"propertyName": "amount", "operator": "GT", "value": str(amount)},
            lambda f: f.amount > amount,
        ),
        (
            "deals",
            {"propertyName": "amount", "operator": "GTE", "value": str(amount)},
            lambda f: f.amount >= amount,
        ),
        (
            "deals",
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(_ms(modified))},
            lambda f: f.hs_lastmodifieddate >= modified,
        ),
        (
            "deals",
            {
                "propertyName": "hs_lastmodifieddate",
                "operator": "LT",
                "value": modified.isoformat() + "Z",
            },
            lambda f: f.hs_lastmodifieddate < modified,
        ),
        (
            "deals",
            {
                "propertyName": "hs_lastmodifieddate",
                "operator": "BETWEEN",
                "value": str(_ms(low)),
                "highValue": str(_ms(high)),
            },
            lambda f: (f.hs_lastmodifieddate >= low) & (f.hs_lastmodifieddate <= high),
        ),
        (
            "deals",
            {"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "closedlost"]},
            lambda f: f.dealstage.isin(["closedwon", "closedlost"]),
        ),
        (
            "deals",
            {
                "propertyName": "dealstage",
                "operator": "NOT_IN",
                "values": ["closedwon", "closedlost"],
            },
            lambda f: ~f.dealstage.isin(["closedwon", "closedlost"]),
        ),
        (
            "deals",
            {"propertyName": "closed_lost_reason", "operator": "HAS_PROPERTY"},
            lambda f: f.closed_lost_reason.notna(),
        ),
        (
            "deals",
            {"propertyName": "closed_lost_reason", "operator": "NOT_HAS_PROPERTY"},
            lambda f: f.closed_lost_reason.isna(),
        ),
        (
            "deals",
            {"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"},
            lambda f: f.hs_is_closed_won,
        ),
        (
            "deals",
            {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": owner_id},
            lambda f: f.hubspot_owner_id == owner,
        ),
        (
            "contacts",
            {"propertyName": "email", "operator": "EQ", "value": email},
            lambda f: f.email == email,
        ),
        (
            "contacts",
            {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@example.com"},
            lambda f: f.email.str.endswith("@example.com"),
        ),
        (
            "contacts",
            {"propertyName": "email", "operator": "NOT_CONTAINS_TOKEN", "value": "*@example.com"},
            lambda f: ~f.email.str.endswith("@example.com"),
        ),
        (
            "contacts",
            {
                "propertyName": "firstname",
                "operator": "CONTAINS_TOKEN",
                "value": contacts.firstname.iloc[0].lower(),
            },
            lambda f: f.firstname.str.lower() == contacts.firstname.iloc[0].lower(),
        ),
    ]


def test_search_operators(searchable):
    for obj, spec, predicate in _operator_cases(searchable):
        body = {"filterGroups": [{"filters": [spec]}], "limit": 200, "properties": ["email"]}
        results, total = search_all(searchable, obj, body)
        expected = _expected_keys(searchable, obj, predicate)
        assert total == len(expected), spec
        assert set(keys_of(results, obj)) == expected, spec


def test_search_groups_are_ored_filters_anded_and_legacy_filters(searchable):
    won = {"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}
    lost = {"propertyName": "dealstage", "operator": "EQ", "value": "closedlost"}
    usd = {"propertyName": "deal_currency_code", "operator": "EQ", "value": "USD"}
    both, _ = search_all(
        searchable, "deals", {"filterGroups": [{"filters": [won]}, {"filters": [lost]}]}
    )
    assert set(keys_of(both, "deals")) == _expected_keys(
        searchable, "deals", lambda f: f.dealstage.isin(["closedwon", "closedlost"])
    )
    anded, _ = search_all(searchable, "deals", {"filterGroups": [{"filters": [won, usd]}]})
    assert set(keys_of(anded, "deals")) == _expected_keys(
        searchable,
        "deals",
        lambda f: (f.dealstage == "closedwon") & (f.deal_currency_code == "USD"),
    )
    legacy, _ = search_all(searchable, "deals", {"filters": [won]})
    assert set(keys_of(legacy, "deals")) == _expected_keys(
        searchable, "deals", lambda f: f.dealstage == "closedwon"
    )


def test_search_sorts_and_paging(searchable):
    frame = view_frame(searchable, "contacts")
    for sorts, ascending in (
        ([{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], True),
        ([{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], False),
        (["lastmodifieddate"], True),
        (["-lastmodifieddate"], False),
    ):
        results, total = search_all(
            searchable, "contacts", {"sorts": sorts, "limit": 6, "properties": ["lastmodifieddate"]}
        )
        assert total == len(frame) == len(results)
        keys = keys_of(results, "contacts")
        assert len(set(keys)) == len(keys)
        expected = frame.assign(_hs=frame.id % (1 << 56)).sort_values(
            ["lastmodifieddate", "_hs"], ascending=[ascending, True], kind="stable"
        )
        assert keys == list(expected.id)
        for record in results:
            assert set(record) == {"id", "properties", "createdAt", "updatedAt", "archived"}
            assert {"createdate", "lastmodifieddate", "hs_object_id"} <= set(record["properties"])
    by_id, _ = search_all(
        searchable,
        "contacts",
        {"sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]},
    )
    ids = [int(r["id"]) for r in by_id]
    assert ids == sorted(ids)
    page = search(searchable, "contacts", {"limit": 10, "after": "40"}).json()
    assert page["total"] == 44 and len(page["results"]) == 4 and "paging" not in page


def test_search_limits_and_result_window(searchable):
    one = {"propertyName": "dealstage", "operator": "HAS_PROPERTY"}

    def status(body):
        r = search(searchable, "deals", body)
        if r.status_code == 400:
            assert r.json()["category"] == "VALIDATION_ERROR" and r.json()["status"] == "error"
        return r.status_code

    assert status({"filterGroups": [{"filters": [one]}] * 5}) == 200
    assert status({"filterGroups": [{"filters": [one]}] * 6}) == 400
    assert status({"filterGroups": [{"filters": [one] * 10}]}) == 200
    assert status({"filterGroups": [{"filters": [one] * 11}]}) == 400
    assert status({"filterGroups": [{"filters": [one] * 9}] * 2 + [{"filters": [one] * 7}]}) == 200
    assert status({"filterGroups": [{"filters": [one] * 9}] * 3}) == 400  # 27 filters in total
    assert status({"limit": 200}) == 200
    assert status({"limit": 201}) == 400
    assert status({"limit": 200, "after": "9800"}) == 200
    assert status({"limit": 200, "after": "9801"}) == 400
    assert status({"limit": 10, "after": "10000"}) == 400
    assert (
        status(
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}
                ]
            }
        )
        == 400
    )
    assert (
        status(
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "amount", "operator": "LIKE", "value": "1"}]}
                ]
            }
        )
        == 400
    )
    assert status({"sorts": ["nope"]}) == 400


def test_search_rate_limit_is_secondly_and_has_no_rate_headers(make_emulator):
    running = make_emulator()
    s = session(running)
    statuses, bodies = [], []
    for _ in range(12):
        r = s.post(running.base_url + "/crm/v3/objects/deals/search", json={"limit": 1}, timeout=30)
        statuses.append(r.status_code)
        assert not any(h in r.headers for h in RATE_HEADERS)
        if r.status_code == 429:
            bodies.append(r.json())
    assert 200 in statuses and 429 in statuses
    assert all(b["policyName"] == "SECONDLY" and b["errorType"] == "RATE_LIMIT" for b in bodies)
    listed = get(running, "/crm/v3/objects/deals")
    assert listed.status_code == 200 and all(h in listed.headers for h in RATE_HEADERS)
    assert listed.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    # The limit is a setting; 0 switches it off.
    r = s.post(
        running.base_url + "/_emulator/hubspot/settings", json={"search_requests_per_second": 0}
    )
    assert r.json()["search_requests_per_second"] == 0
    for _ in range(12):
        assert s.post(running.base_url + "/crm/v3/objects/deals/search", json={}, timeout=30).ok


# ------------------------------------------------------------------------------ bulk import
def test_bulk_import_needs_re_anchoring_on_object_id(make_emulator):
    running = make_emulator()
    s = session(running)
    s.post(running.base_url + "/_emulator/hubspot/settings", json={"search_requests_per_second": 0})
    imported = s.post(
        running.base_url + "/_emulator/hubspot/bulk_import",
        params={"object": "contacts", "count": 12000},
    ).json()
    assert imported["count"] == 12000 and ISO_MS.match(imported["timestamp"])
    stamp = imported["timestamp"]
    expected = hubspot.served_frame(running.state, "contacts")
    assert len(expected) == 44 + 12000
    shared = expected[expected.lastmodifieddate == pd.Timestamp(stamp).tz_convert(None)]
    assert len(shared) >= 12000

    # The list endpoint serves every record once.
    listed = list_all(running, "contacts", limit=100, properties="lastmodifieddate")
    assert sorted(keys_of(listed, "contacts")) == sorted(expected.id)

    window = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": stamp}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 200,
    }
    first = search(running, "contacts", {**window, "after": "0"}, s).json()
    assert first["total"] == len(shared)
    assert search(running, "contacts", {**window, "after": "9800"}, s).status_code == 200
    past = search(running, "contacts", {**window, "after": "10000"}, s)
    assert past.status_code == 400
    # Re-anchoring on the timestamp alone starts over: the same first page, forever.
    again = search(running, "contacts", {**window, "after": "0"}, s).json()
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]

    # A fixed window plus hs_object_id re-anchoring reaches every record exactly once.
    seen, last_id, requests_made = [], "0", 0
    while True:
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": stamp},
                        {"propertyName": "lastmodifieddate", "operator": "LTE", "value": stamp},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": last_id},
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "limit": 200,
        }
        after = 0
        while True:
            page = search(running, "contacts", {**body, "after": str(after)}, s)
            requests_made += 1
            assert page.status_code == 200, page.text
            results = page.json()["results"]
            seen.extend(results)
            after += 200
            if len(results) < 200 or after + 200 > 10_000:
                break
        if len(results) < 200:
            break
        last_id = results[-1]["id"]
        assert requests_made < 200
    keys = keys_of(seen, "contacts")
    assert len(keys) == len(set(keys)) == len(shared)
    assert set(keys) == set(shared.id)
    assert requests.get(running.base_url + "/_emulator/hubspot/bulk_import", timeout=30).json()[
        "imports"
    ]


def test_bulk_import_survives_time_travel_and_can_be_removed(make_emulator):
    running = make_emulator()
    base = running.base_url
    r = requests.post(base + "/_emulator/hubspot/bulk_import", params={"count": 25}, timeout=30)
    assert r.status_code == 200
    assert (
        requests.post(
            base + "/_emulator/hubspot/bulk_import", params={"object": "deals"}, timeout=30
        ).status_code
        == 400
    )
    requests.post(base + "/_emulator/advance", params={"days": 1}, timeout=60)
    assert len(list_all(running, "contacts", limit=100)) == 44 + 25
    requests.delete(base + "/_emulator/hubspot/bulk_import", timeout=30)
    assert len(list_all(running, "contacts", limit=100)) == 44


# ------------------------------------------------------------------------------ email events
def test_email_events_paging_and_windows(emulator):
    events = emulator.state.view.hubspot["email_events"]
    s = session(emulator)

    def fetch(**params):
        out, offset = [], None
        while True:
            query = {"limit": 40, **params, **({"offset": offset} if offset else {})}
            r = s.get(emulator.base_url + "/email/public/v1/events", params=query, timeout=30)
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["events"]) <= 40 and isinstance(body["offset"], str)
            out.extend(body["events"])
            if not body["hasMore"]:
                return out
            offset = body["offset"]

    everything = fetch()
    ids = [e["id"] for e in everything]
    assert len(ids) == len(set(ids)) == len(events)
    assert sorted(int(i) for i in ids) == sorted(events.id)
    for event in everything:
        assert isinstance(event["id"], str) and isinstance(event["created"], int)
        assert event["type"] in ("SENT", "DELIVERED", "OPEN", "CLICK")
        assert {"recipient", "emailCampaignId", "portalId", "sentBy"} <= set(event)
        assert set(event["sentBy"]) == {"id", "created"}
    created = events.created.sort_values().to_numpy()
    start, end = int(created[len(created) // 4]), int(created[len(created) // 2])
    window = fetch(startTimestamp=start, endTimestamp=end)
    assert len(window) == int(((events.created >= start) & (events.created <= end)).sum())
    assert all(start <= e["created"] <= end for e in window)
    clicks = fetch(eventType="CLICK")
    assert len(clicks) == int((events.type == "CLICK").sum())
    one = events.recipient.iloc[0]
    assert len(fetch(recipient=one)) == int((events.recipient == one).sum())
    r = s.get(emulator.base_url + "/email/public/v1/events", params={"limit": 1001}, timeout=30)
    assert r.status_code == 400
    r = s.get(
        emulator.base_url + "/email/public/v1/events", params={"eventType": "NOPE"}, timeout=30
    )
    assert r.status_code == 400


# ------------------------------------------------------------------------------ errors and faults
def test_authentication_errors(emulator):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        r = requests.get(emulator.base_url + "/crm/v3/objects/deals", headers=headers, timeout=30)
        assert r.status_code == 401
        body = r.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found")
        assert isinstance(body["correlationId"], str)


def test_unknown_route_under_crm_is_a_hubspot_404(emulator):
    r = get(emulator, "/crm/v3/nothing/here/at/all")
    assert r.status_code == 404
    assert set(r.json()) >= {"status", "message", "correlationId", "category"}


def test_rate_limit_fault_with_and_without_retry_after(make_emulator):
    running = make_emulator(faults="rate_limit=1")
    s = session(running)
    with_retry = without = 0
    for _ in range(30):
        r = s.get(running.base_url + "/crm/v3/objects/deals", timeout=30)
        assert r.status_code == 429
        body = r.json()
        assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        if "Retry-After" in r.headers:
            with_retry += 1
            assert int(r.headers["Retry-After"]) >= 1
        else:
            without += 1
    assert with_retry and without
    r = s.post(running.base_url + "/crm/v3/objects/deals/search", json={}, timeout=30)
    assert r.status_code == 429 and r.json()["policyName"] == "SECONDLY"
    assert not any(h in r.headers for h in RATE_HEADERS)


def test_daily_limit_fault(make_emulator):
    running = make_emulator(faults="daily_limit=1")
    r = get(running, "/crm/v3/objects/contacts")
    assert r.status_code == 429
    body = r.json()
    assert body["policyName"] == "DAILY" and body["message"] == "You have reached your daily limit."
    assert r.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_server_error_fault(make_emulator):
    running = make_emulator(faults="server_error=1")
    statuses = set()
    for _ in range(30):
        r = get(running, "/crm/v3/objects/contacts")
        statuses.add(r.status_code)
        if r.status_code == 503:
            assert r.json()["status"] == "error"
        else:
            assert r.headers["Content-Type"].startswith("text/html")
    assert statuses <= {502, 503, 504} and len(statuses) >= 2


def test_transport_faults_reach_hubspot_paths(make_emulator):
    running = make_emulator(faults="truncate=1")
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError, ValueError)
    ):
        get(running, "/crm/v3/objects/contacts", limit=100).json()
    running = make_emulator(faults="disconnect=1")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(running, "/crm/v3/objects/contacts")
    running = make_emulator(faults="slow=1,slow_seconds=0.3")
    started = time.monotonic()
    assert get(running, "/crm/v3/objects/contacts").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_token_expiry_does_not_apply_to_private_app_tokens(make_emulator):
    running = make_emulator(faults="token_expiry=2")
    for _ in range(6):
        assert get(running, "/crm/v3/objects/deals").status_code == 200


def test_date_header_is_simulated_time_and_time_travel(make_emulator):
    running = make_emulator()
    r = get(running, "/crm/v3/objects/deals")
    served = email.utils.parsedate_to_datetime(r.headers["Date"])
    assert abs((served - running.state.view.now).total_seconds()) < 120
    assert served.date() == dt.date(2026, 11, 27)
    before = running.state.view.day
    requests.post(running.base_url + "/_emulator/advance", params={"days": 3}, timeout=60)
    r = get(running, "/crm/v3/objects/deals")
    served = email.utils.parsedate_to_datetime(r.headers["Date"])
    assert served.date() == dt.date(2026, 11, 30)
    assert running.state.view.day == before + dt.timedelta(days=3)
    for obj in ("contacts", "deals", "meetings"):
        results = list_all(running, obj, limit=100)
        assert sorted(keys_of(results, obj)) == sorted(view_frame(running, obj).id)
        frame = view_frame(running, obj).set_index("id")
        for record in results:
            row = frame.loc[parse_hs_id(record["id"], KEY_TYPES[obj])]
            assert pd.Timestamp(record["updatedAt"]).tz_convert(None) == row["updatedAt"]
    events = running.state.view.hubspot["email_events"]
    body = get(running, "/email/public/v1/events", limit=1000).json()
    assert len(body["events"]) == len(events) and not body["hasMore"]


def test_timestamp_burst_fault(make_emulator):
    running = make_emulator(faults="timestamp_burst=0.5")
    hubspot.settings(running.state).search_requests_per_second = 0
    for obj in ("companies", "contacts", "deals"):
        cursor = HS_OBJECTS[obj].cursor_property
        frame = hubspot.served_frame(running.state, obj)
        frame = frame[~frame.archived]
        burst = frame[cursor].max()
        sharing = frame[frame[cursor] == burst]
        assert len(sharing) >= 2
        assert (sharing.updatedAt == burst).all()
        results = list_all(running, obj, limit=100, properties=cursor)
        stamp = pd.Timestamp(burst).isoformat(timespec="milliseconds") + "Z"
        served = {
            parse_hs_id(r["id"], KEY_TYPES[obj])
            for r in results
            if r["properties"][cursor] == stamp
        }
        assert served == set(sharing.id)
        assert all(r["updatedAt"] == stamp for r in results if r["properties"][cursor] == stamp)
        found, total = search_all(
            running,
            obj,
            {
                "filterGroups": [
                    {"filters": [{"propertyName": cursor, "operator": "EQ", "value": stamp}]}
                ]
            },
        )
        assert total == len(sharing) and set(keys_of(found, obj)) == set(sharing.id)
    # Deterministic: another server with the same fault serves the same subset.
    other = make_emulator(faults="timestamp_burst=0.5")
    a = hubspot.served_frame(running.state, "contacts")
    b = hubspot.served_frame(other.state, "contacts")
    assert a.drop(columns=["_hs", "_cursor_ms"]).equals(b.drop(columns=["_hs", "_cursor_ms"]))


def test_late_updates_fault_hides_recent_changes_from_the_first_search(make_emulator):
    running = make_emulator(faults="late_updates=1")
    s = session(running)
    s.post(running.base_url + "/_emulator/hubspot/settings", json={"search_requests_per_second": 0})
    hubspot.bulk_import(running.state, "contacts", 30)  # modified late on the view day
    first = search(running, "contacts", {"limit": 200}, s).json()
    second = search(running, "contacts", {"limit": 200}, s).json()
    assert first["total"] == 44 and second["total"] == 44 + 30
    listed = list_all(running, "contacts", limit=100)
    assert len(listed) == 44 + 30  # lists read the database, not the index
    # Without the fault, nothing lags.
    calm = make_emulator()
    hubspot.bulk_import(calm.state, "contacts", 30)
    assert search(calm, "contacts", {"limit": 200}).json()["total"] == 44 + 30


def test_schema_drift_fault_adds_a_deal_property(make_emulator):
    running = make_emulator(faults="schema_drift=0.5")
    props = {p["name"]: p for p in get(running, "/crm/v3/properties/deals").json()["results"]}
    assert (
        props["drift_field"]["type"] == "string" and props["drift_field"]["hubspotDefined"] is False
    )
    results = list_all(running, "deals", limit=100, properties="drift_field,hs_lastmodifieddate")
    values = [r["properties"]["drift_field"] for r in results]
    assert any(v is not None for v in values)
    frame = view_frame(running, "deals").set_index("id")
    for record in results:  # the new field does not bump modification times
        row = frame.loc[parse_hs_id(record["id"], "Opportunity")]
        assert pd.Timestamp(record["updatedAt"]).tz_convert(None) == row["updatedAt"]
    calm_props = [
        p["name"] for p in get(make_emulator(), "/crm/v3/properties/deals").json()["results"]
    ]
    assert "drift_field" not in calm_props


def test_two_servers_serve_identical_data(make_emulator):
    a, b = make_emulator(), make_emulator()

    def snapshot(running):
        out = {}
        for obj in OBJECTS:
            out[obj] = list_all(running, obj, limit=9, properties=all_properties(obj))
        out["search"] = search_all(running, "deals", {"sorts": ["-amount"], "limit": 4})
        out["owners"] = get(running, "/crm/v3/owners").json()
        out["events"] = get(running, "/email/public/v1/events", limit=1000).json()
        out["pipelines"] = get(running, "/crm/v3/pipelines/deals").json()
        out["properties"] = get(running, "/crm/v3/properties/deals").json()
        out["assoc"] = get(
            running, "/crm/v3/objects/deals", limit=100, associations="contacts"
        ).json()
        return out

    assert snapshot(a) == snapshot(b)


# ------------------------------------------------------------------------------ the official SDK
# hubspot-api-client reads what the connector (connectors/hubspot.py) reads: the six objects,
# their archived records, owners (active and deactivated), the incremental deals search and the
# v4 batch associations; its models fail on any answer that breaks HubSpot's published schema.
def _sdk(running) -> hubspot_sdk.HubSpot:
    client = hubspot_sdk.HubSpot(
        access_token=running.credentials.hubspot_token,
        host=running.base_url,
        client_side_validation=True,
    )
    assert client.crm.deals.basic_api.api_client.configuration.client_side_validation is True
    return client


def _sdk_object_api(client: hubspot_sdk.HubSpot, obj: str):
    """Companies, contacts and deals have their own group on ``crm``; engagements sit under
    ``crm.objects``."""
    return getattr(client.crm, obj, None) or getattr(client.crm.objects, obj)


def _sdk_pages(get_page, **kwargs) -> tuple[list, int]:
    """Every result of a paged SDK list call, following ``paging.next.after``; and the pages."""
    results, after, pages = [], None, 0
    while True:
        page = get_page(after=after, **kwargs)
        results.extend(page.results)
        pages += 1
        if page.paging is None:
            return results, pages
        after = page.paging.next.after


def _check_sdk_record(record, row, obj: str) -> None:
    assert pd.Timestamp(record.updated_at).tz_convert(None) == row["updatedAt"]
    assert pd.Timestamp(record.created_at).tz_convert(None) == row["createdAt"]
    for prop in HS_OBJECTS[obj].properties:
        check_value(prop, record.properties[prop.name], row.get(prop.name))


def test_official_sdk_reads_the_emulator(emulator):
    client = _sdk(emulator)
    for obj in OBJECTS:
        expected = view_frame(emulator, obj).set_index("id")
        page_size = 5
        every, pages = _sdk_pages(
            _sdk_object_api(client, obj).basic_api.get_page,
            limit=page_size,
            properties=[p.name for p in HS_OBJECTS[obj].properties],
        )
        assert pages == -(-len(expected) // page_size) > 1
        keys = [parse_hs_id(r.id, KEY_TYPES[obj]) for r in every]
        assert sorted(keys) == sorted(expected.index)
        for record, key in zip(every, keys, strict=True):
            assert record.archived is False
            _check_sdk_record(record, expected.loc[key], obj)
        # The SDK's generic reader for any object type reads the same records.
        generic = client.crm.objects.get_all(obj)
        assert sorted(parse_hs_id(r.id, KEY_TYPES[obj]) for r in generic) == sorted(keys)
    page = client.crm.deals.basic_api.get_page(limit=3, associations=["companies"])
    assert len(page.results) == 3 and page.paging.next.after
    history = client.crm.deals.get_all(properties_with_history=["dealstage"])
    assert all(r.properties_with_history["dealstage"] for r in history)
    result = client.crm.contacts.search_api.do_search(
        public_object_search_request=ContactsSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=["email"],
            limit=100,
        )
    )
    assert result.total == len(view_frame(emulator, "contacts")) == len(result.results)
    pipelines = client.crm.pipelines.pipelines_api.get_all("deals")
    assert [s.id for s in pipelines.results[0].stages] == [s[0] for s in HS_STAGES]
    props = client.crm.properties.core_api.get_all("deals")
    assert {p.name for p in props.results} == {p.name for p in HS_OBJECTS["deals"].properties}
    assert np.all(
        [
            p.type in ("string", "number", "date", "datetime", "enumeration", "bool")
            for p in props.results
        ]
    )


def test_official_sdk_reads_archived_records_and_owners(seed2):
    client = _sdk(seed2)
    assert len(view_frame(seed2, "deals", archived=True)) >= 1, "premise: an archived deal"
    for obj in OBJECTS:
        expected = view_frame(seed2, obj, archived=True).set_index("id")
        # Like the connector's archived pass: every property, and the deal history with them.
        history = list(HISTORY_PROPERTIES) if obj == "deals" else None
        gone, _ = _sdk_pages(
            _sdk_object_api(client, obj).basic_api.get_page,
            archived=True,
            limit=50 if history else 100,
            properties=[p.name for p in HS_OBJECTS[obj].properties],
            **({"properties_with_history": history} if history else {}),
        )
        keys = [parse_hs_id(r.id, KEY_TYPES[obj]) for r in gone]
        assert sorted(keys) == sorted(expected.index), obj
        for record, key in zip(gone, keys, strict=True):
            row = expected.loc[key]
            assert record.archived is True
            assert pd.Timestamp(record.archived_at).tz_convert(None) == row["archivedAt"]
            _check_sdk_record(record, row, obj)
            for name in history or ():
                # Newest first: the head of a property's history is its current value.
                assert record.properties_with_history[name][0].value == (
                    record.properties[name] or ""
                )

    owners = seed2.state.view.hubspot["owners"].set_index("id")
    assert owners["archived"].any(), "premise: deactivated owners"
    for archived in (False, True):
        served, pages = _sdk_pages(
            client.crm.owners.owners_api.get_page, archived=archived, limit=2
        )
        expected = owners[owners["archived"] == archived]
        assert pages == -(-len(expected) // 2)
        keys = [parse_hs_id(o.id, "User") for o in served]
        assert sorted(keys) == sorted(expected.index)
        for owner, key in zip(served, keys, strict=True):
            row = expected.loc[key]
            assert owner.archived is archived
            assert (owner.email, owner.first_name, owner.last_name, owner.user_id) == (
                row["email"],
                row["firstName"],
                row["lastName"],
                row["userId"],
            )


def test_official_sdk_searches_deals_by_modification_time(searchable):
    """The connector's incremental read: ``hs_lastmodifieddate`` in [start, end), in
    ``hs_object_id`` order, paged by offset or re-anchored on the last id (keyset)."""
    client = _sdk(searchable)
    frame = view_frame(searchable, "deals")
    stamps = frame.hs_lastmodifieddate.sort_values().to_numpy()
    start, end = stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4]
    in_window = frame[(frame.hs_lastmodifieddate >= start) & (frame.hs_lastmodifieddate < end)]
    expected = sorted(hs_ids(in_window.id.to_numpy()), key=int)
    page_size = 3
    assert len(expected) > page_size, "premise: the window spans several pages"
    window = [
        Filter(property_name="hs_lastmodifieddate", operator="GTE", value=str(_ms(start))),
        Filter(property_name="hs_lastmodifieddate", operator="LT", value=str(_ms(end))),
    ]

    def search_page(after: str, last_id: str | None = None):
        anchor = [Filter(property_name="hs_object_id", operator="GT", value=last_id)]
        return client.crm.deals.search_api.do_search(
            public_object_search_request=DealsSearchRequest(
                filter_groups=[FilterGroup(filters=window + (anchor if last_id else []))],
                sorts=["hs_object_id"],  # the SDK's form of an ascending sort
                properties=["hs_lastmodifieddate", "dealstage"],
                limit=page_size,
                after=after,
            )
        )

    by_offset, after = [], "0"
    while after is not None:
        page = search_page(after)
        assert page.total == len(expected)
        by_offset.extend(page.results)
        after = page.paging.next.after if page.paging else None
    by_keyset, last_id = [], None
    while True:
        page = search_page("0", last_id)
        assert page.total == len(expected) - len(by_keyset)
        by_keyset.extend(page.results)
        if page.paging is None:
            break
        last_id = page.results[-1].id
    rows = frame.set_index("id")
    for found in (by_offset, by_keyset):
        assert [r.id for r in found] == expected
        for record in found:
            row = rows.loc[parse_hs_id(record.id, "Opportunity")]
            assert record.properties["dealstage"] == row["dealstage"]
            assert (
                pd.Timestamp(record.properties["hs_lastmodifieddate"]).tz_convert(None)
                == (row["hs_lastmodifieddate"])
            )


def test_official_sdk_reads_v4_batch_associations(seed2):
    client = _sdk(seed2)
    associations = seed2.state.view.hubspot["associations"]
    for from_obj, to_obj in ASSOCIATIONS:
        # Live and archived records: the connector reads the associations of both.
        records = seed2.state.view.hubspot[from_obj]
        batch = client.crm.associations.v4.batch_api.get_page(
            from_obj,
            to_obj,
            BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in hs_ids(records.id)]
            ),
        )
        served: dict[tuple[int, int], set[int]] = {}
        for result in batch.results:
            from_key = parse_hs_id(result._from.id, KEY_TYPES[from_obj])
            for target in result.to:
                pair = (from_key, parse_hs_id(target.to_object_id, KEY_TYPES[to_obj]))
                served[pair] = {t.type_id for t in target.association_types}
        rows = associations[(associations.from_type == from_obj) & (associations.to_type == to_obj)]
        assert set(served) == _view_pairs(seed2, from_obj, to_obj), (from_obj, to_obj)
        for from_key, to_key, type_id in zip(rows.from_key, rows.to_key, rows.type_id, strict=True):
            assert type_id in served[(from_key, to_key)]
        # Records without associations come back as errors, one each (HTTP 207).
        unassociated = set(records.id) - set(rows.from_key)
        assert len(getattr(batch, "errors", None) or []) == len(unassociated)


def test_deals_batch_read_serves_history_like_the_list_and_names_missing_ids(emulator):
    listed = get(emulator, "/crm/v3/objects/deals", limit=3, properties="amount",
                 propertiesWithHistory="dealstage").json()["results"]  # fmt: skip
    ids = [r["id"] for r in listed]
    body = {"inputs": [{"id": i} for i in [*ids, "999"]], "properties": ["amount"],
            "propertiesWithHistory": ["dealstage"]}  # fmt: skip
    r = session(emulator).post(f"{emulator.base_url}/crm/v3/objects/deals/batch/read", json=body)
    assert r.status_code == 207
    answer = r.json()
    assert sorted(answer["results"], key=lambda x: x["id"]) == sorted(listed, key=lambda x: x["id"])
    assert answer["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert answer["errors"][0]["context"]["ids"] == ["999"]
    too_many = {**body, "inputs": [{"id": str(i)} for i in range(51)]}
    r = session(emulator).post(
        f"{emulator.base_url}/crm/v3/objects/deals/batch/read", json=too_many
    )
    assert r.status_code == 400

    # HubSpot's own client (validating its published schema) reads the same answer.
    from hubspot.crm.deals import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

    sdk_answer = _sdk(emulator).crm.deals.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=["amount"],
            properties_with_history=["dealstage"],
        )
    )
    assert sorted(r.id for r in sdk_answer.results) == sorted(ids)
    assert all(r.properties_with_history["dealstage"] for r in sdk_answer.results)
