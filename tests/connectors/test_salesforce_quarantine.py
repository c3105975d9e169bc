"""A record whose value does not fit its describe type is quarantined with a reason.

The emulator serves only well-typed values, so a scripted server plays a Salesforce org that
sends a broken date and a broken datetime.
"""

from __future__ import annotations

import duckdb

from connectors.auth import SalesforceOAuth
from connectors.destinations import DuckDBDestination
from connectors.http import HttpClient, salesforce_profile
from connectors.salesforce import SalesforceSettings, SalesforceSource
from connectors.streams import sync_source

API = "/services/data/v59.0"


def describe_field(name, type_):
    return {"name": name, "type": type_, "calculated": False, "compoundFieldName": None}


def opportunity(id_, close_date, modstamp="2024-05-20T20:49:32.000+0000"):
    return {
        "attributes": {"type": "Opportunity", "url": f"{API}/sobjects/Opportunity/{id_}"},
        "Id": id_,
        "Amount": 1200.5,
        "CloseDate": close_date,
        "IsDeleted": False,
        "SystemModstamp": modstamp,
    }


def test_uncastable_values_are_quarantined_with_field_and_value(api_server, tmp_path):
    Reply = api_server.Reply
    api_server.script(
        "POST",
        "/services/oauth2/token",
        Reply(body={"access_token": "00D!token", "instance_url": api_server.url}),
    )
    api_server.script(
        "GET",
        f"{API}/sobjects",
        Reply(body={"sobjects": [{"name": "Opportunity", "queryable": True}]}),
    )
    fields = [
        describe_field("Id", "id"),
        describe_field("Amount", "currency"),
        describe_field("CloseDate", "date"),
        describe_field("IsDeleted", "boolean"),
        describe_field("SystemModstamp", "datetime"),
    ]
    api_server.script("GET", f"{API}/sobjects/Opportunity/describe", Reply(body={"fields": fields}))
    records = [
        opportunity("006000000000001AAA", "2024-06-28"),
        opportunity("006000000000002AAA", "2024-13-45"),
        opportunity("006000000000003AAA", "2024-06-30", modstamp="yesterday-ish"),
    ]
    api_server.script(
        "GET", f"{API}/queryAll", Reply(body={"totalSize": 3, "done": True, "records": records})
    )
    auth = SalesforceOAuth(api_server.url, "id", "secret")
    client = HttpClient(salesforce_profile(), auth=auth, sleep=lambda s: None)
    source = SalesforceSource(client, SalesforceSettings(bulk_threshold=None))
    warehouse = tmp_path / "warehouse.duckdb"
    with DuckDBDestination(warehouse).open_sync("salesforce") as sync:
        (run,) = sync_source(source, sync, source.streams())
    assert (run.status, run.fetched, run.landed, run.quarantined) == ("success", 3, 1, 2)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        quarantined = dict(
            con.execute("SELECT primary_key, reason FROM raw_meta.quarantine ORDER BY 1").fetchall()
        )
        log = con.execute(
            "SELECT records_fetched, records_landed, records_quarantined FROM raw_meta.sync_log"
        ).fetchone()
        landed = con.execute("SELECT id, amount FROM raw_salesforce.opportunity").fetchall()
    assert quarantined == {
        "006000000000002AAA": "field close_date: value '2024-13-45' is not a valid DATE",
        "006000000000003AAA": (
            "field system_modstamp: value 'yesterday-ish' is not a valid TIMESTAMPTZ"
        ),
    }
    assert log == (3, 1, 2)
    assert landed == [("006000000000001AAA", 1200.5)]
    query = api_server.requests_to(f"{API}/queryAll")[0].query["q"][0]
    assert query == (
        "SELECT Id, SystemModstamp, IsDeleted, Amount, CloseDate FROM Opportunity "
        f"WHERE SystemModstamp < {query.split('SystemModstamp < ')[1].split()[0]} "
        "ORDER BY SystemModstamp, Id"
    )
