"""The Google Ads API of the emulator over real HTTP: token exchange, GAQL searchStream and
search, the wire format, errors, faults, restatement under time travel and determinism.

There is no light official client, so the wire format is checked directly with ``requests``.
Expected rows come from ``state.view.google_ads``.
"""

from __future__ import annotations

import datetime as dt
import email.utils

import pandas as pd
import pytest
import requests

from emulator.server import google_ads

FULL_SELECT = (
    "SELECT campaign.id, campaign.name, campaign.status, segments.date, metrics.cost_micros, "
    "metrics.clicks, metrics.impressions, metrics.conversions, customer.id, "
    "customer.currency_code FROM campaign"
)
CUSTOMER = "1234567890"


# ------------------------------------------------------------------------------ helpers
def access_token(running) -> str:
    c = running.credentials
    r = requests.post(
        running.base_url + "/token",
        data={
            "grant_type": "refresh_token",
            "client_id": c.salesforce_client_id,
            "client_secret": c.salesforce_client_secret,
            "refresh_token": "any-refresh-token",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def headers(running, token: str | None = None, **extra) -> dict:
    return {
        "Authorization": f"Bearer {token or access_token(running)}",
        "developer-token": running.credentials.google_ads_developer_token,
        **extra,
    }


def stream(running, query: str, token=None, version=21, customer=CUSTOMER, **extra):
    return requests.post(
        f"{running.base_url}/v{version}/customers/{customer}/googleAds:searchStream",
        json={"query": query},
        headers=headers(running, token, **extra),
        timeout=60,
    )


def rows_of(batches: list[dict]) -> list[dict]:
    return [row for batch in batches for row in batch.get("results", [])]


def view_rows(running) -> pd.DataFrame:
    return running.state.view.google_ads


def as_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r["customer"]["id"] for r in rows],
            "campaign_id": [r["campaign"]["id"] for r in rows],
            "campaign_name": [r["campaign"]["name"] for r in rows],
            "campaign_status": [r["campaign"]["status"] for r in rows],
            "date": [r["segments"]["date"] for r in rows],
            "cost_micros": [int(r["metrics"]["costMicros"]) for r in rows],
            "clicks": [int(r["metrics"]["clicks"]) for r in rows],
            "impressions": [int(r["metrics"]["impressions"]) for r in rows],
            "conversions": [r["metrics"]["conversions"] for r in rows],
        }
    )


def expected_frame(running, low: str, high: str) -> pd.DataFrame:
    v = view_rows(running)
    dates = v.date.dt.strftime("%Y-%m-%d")
    v = v[(dates >= low) & (dates <= high)].copy()
    v["date"] = v.date.dt.strftime("%Y-%m-%d")
    v["_c"] = v.campaign_id.astype(int)
    v = v.sort_values(["_c", "date"], kind="stable").drop(columns="_c")
    return v.reset_index(drop=True)


# ------------------------------------------------------------------------------ token
def test_token_exchange(emulator):
    c = emulator.credentials
    good = {
        "grant_type": "refresh_token",
        "client_id": c.salesforce_client_id,
        "client_secret": c.salesforce_client_secret,
        "refresh_token": "r",
    }
    r = requests.post(emulator.base_url + "/token", data=good, timeout=30)
    body = r.json()
    assert r.status_code == 200 and body["expires_in"] == 3599 and body["token_type"] == "Bearer"
    assert body["access_token"]
    basic = requests.post(
        emulator.base_url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": "r"},
        auth=(c.salesforce_client_id, c.salesforce_client_secret),
        timeout=30,
    )
    assert basic.status_code == 200
    bad = requests.post(
        emulator.base_url + "/token", data={**good, "client_secret": "x"}, timeout=30
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    missing = requests.post(
        emulator.base_url + "/token", data={**good, "refresh_token": ""}, timeout=30
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    grant = requests.post(
        emulator.base_url + "/token", data={**good, "grant_type": "password"}, timeout=30
    )
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


# ------------------------------------------------------------------------------ searchStream
def test_search_stream_wire_format_and_rows(emulator):
    low, high = "2026-10-01", "2026-11-26"
    r = stream(emulator, f"{FULL_SELECT} WHERE segments.date BETWEEN '{low}' AND '{high}'")
    assert r.status_code == 200, r.text
    batches = r.json()
    assert isinstance(batches, list) and batches
    mask = (
        "campaign.id,campaign.name,campaign.status,segments.date,metrics.costMicros,"
        "metrics.clicks,metrics.impressions,metrics.conversions,customer.id,customer.currencyCode"
    )
    for batch in batches:
        assert batch["fieldMask"] == mask and isinstance(batch["requestId"], str)
        assert len(batch["results"]) <= 10_000
    rows = rows_of(batches)
    for row in rows:
        assert (
            row["campaign"]["resourceName"]
            == f"customers/{CUSTOMER}/campaigns/{row['campaign']['id']}"
        )
        assert row["customer"] == {
            "resourceName": f"customers/{CUSTOMER}",
            "id": CUSTOMER,
            "currencyCode": "USD",
        }
        metrics = row["metrics"]
        for name in ("costMicros", "clicks", "impressions"):
            assert isinstance(metrics[name], str) and metrics[name].isdigit()
        assert isinstance(metrics["conversions"], float)
        assert isinstance(row["campaign"]["id"], str)
        assert (
            any(int(metrics[n]) for n in ("costMicros", "clicks", "impressions"))
            or metrics["conversions"]
        )
    served = as_frame(rows)
    expected = expected_frame(emulator, low, high)
    pd.testing.assert_frame_equal(served, expected[served.columns], check_dtype=False)


def test_search_stream_batches(make_emulator):
    running = make_emulator()
    r = requests.post(
        running.base_url + "/_emulator/google_ads/settings",
        json={"stream_batch_size": 100},
        timeout=30,
    )
    assert r.json()["stream_batch_size"] == 100
    response = stream(
        running,
        f"{FULL_SELECT} WHERE segments.date >= '2026-09-01' AND segments.date <= '2026-11-26'",
    )
    batches = response.json()
    assert len(batches) > 1 and all(len(b["results"]) <= 100 for b in batches)
    assert len({b["requestId"] for b in batches}) == 1
    assert len(rows_of(batches)) == len(expected_frame(running, "2026-09-01", "2026-11-26"))
    empty = stream(running, f"{FULL_SELECT} WHERE segments.date = '2020-01-01'").json()
    assert len(empty) == 1 and "results" not in empty[0] and empty[0]["fieldMask"]


def test_where_operators_order_and_limit(emulator):
    view = view_rows(emulator)
    day = "2026-11-20"
    one_day = rows_of(stream(emulator, f"{FULL_SELECT} WHERE segments.date = '{day}'").json())
    assert len(one_day) == int((view.date == pd.Timestamp(day)).sum())
    assert {r["segments"]["date"] for r in one_day} == {day}
    # DURING is relative to the simulated date (the view day is yesterday).
    last7 = rows_of(
        stream(emulator, f"{FULL_SELECT} WHERE segments.date DURING LAST_7_DAYS").json()
    )
    today = emulator.state.now().date()
    low, high = (
        (today - dt.timedelta(days=7)).isoformat(),
        (today - dt.timedelta(days=1)).isoformat(),
    )
    assert len(last7) == len(expected_frame(emulator, low, high))
    yesterday = rows_of(
        stream(emulator, f"{FULL_SELECT} WHERE segments.date DURING YESTERDAY").json()
    )
    assert {r["segments"]["date"] for r in yesterday} == {emulator.state.view.day.isoformat()}
    campaign = view.campaign_id.iloc[0]
    only = rows_of(
        stream(
            emulator,
            f"{FULL_SELECT} WHERE segments.date DURING LAST_30_DAYS AND campaign.id IN ({campaign}) "
            "AND campaign.status = 'ENABLED' AND metrics.clicks > 0",
        ).json()
    )
    assert only and {r["campaign"]["id"] for r in only} == {campaign}
    assert all(int(r["metrics"]["clicks"]) > 0 for r in only)
    ordered = rows_of(
        stream(
            emulator,
            f"{FULL_SELECT} WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-26' "
            "ORDER BY metrics.cost_micros DESC LIMIT 5",
        ).json()
    )
    costs = [int(r["metrics"]["costMicros"]) for r in ordered]
    expected = expected_frame(emulator, "2026-11-01", "2026-11-26").cost_micros.nlargest(5).tolist()
    assert costs == expected


def test_rows_without_date_segment_are_summed_per_campaign(emulator):
    query = (
        "SELECT campaign.id, campaign.name, metrics.clicks, metrics.cost_micros, metrics.conversions "
        "FROM campaign WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-26'"
    )
    rows = rows_of(stream(emulator, query).json())
    expected = expected_frame(emulator, "2026-11-01", "2026-11-26").groupby("campaign_id")
    sums = expected[["clicks", "cost_micros", "conversions"]].sum()
    assert sorted(r["campaign"]["id"] for r in rows) == sorted(sums.index)
    for row in rows:
        s = sums.loc[row["campaign"]["id"]]
        assert int(row["metrics"]["clicks"]) == s.clicks
        assert int(row["metrics"]["costMicros"]) == s.cost_micros
        assert row["metrics"]["conversions"] == pytest.approx(s.conversions)
        assert "segments" not in row


# ------------------------------------------------------------------------------ errors
def _failure(r) -> dict:
    body = r.json()["error"]
    assert set(body) >= {"code", "message", "status"} and body["code"] == r.status_code
    detail = body["details"][0]
    assert detail["@type"].endswith("errors.GoogleAdsFailure")
    return detail["errors"][0]["errorCode"]


def test_query_errors(emulator):
    token = access_token(emulator)
    cases = {
        "SELECT campaign.id, campaign.budget FROM campaign": "UNRECOGNIZED_FIELD",
        "SELECT campaign.id FROM ad_group": "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
        "SELECT segments.date, metrics.clicks FROM campaign": "EXPECTED_FILTERS_ON_DATE_RANGE",
        "SELECT segments.date FROM campaign WHERE segments.date >= '2026-01-01'": "EXPECTED_FILTERS_ON_DATE_RANGE",
        "SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_9_YEARS": "INVALID_VALUE_WITH_DURING_OPERATOR",
        "SELECT campaign.id FROM campaign WHERE campaign.status = 'SLEEPING'": "BAD_ENUM_CONSTANT",
        "SELECT campaign.id FROM campaign WHERE segments.date = '2026/01/01'": "BAD_VALUE",
        "campaign.id FROM campaign": "EXPECTED_SELECT",
    }
    for query, code in cases.items():
        r = stream(emulator, query, token)
        assert r.status_code == 400, query
        assert r.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert _failure(r) == {"queryError": code}, query


def test_auth_and_customer_errors(emulator):
    base = f"{emulator.base_url}/v21/customers/{CUSTOMER}/googleAds:searchStream"
    query = {"query": f"{FULL_SELECT} WHERE segments.date = '2026-11-20'"}
    r = requests.post(base, json=query, headers={"developer-token": "x"}, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = requests.post(
        base, json=query, headers={**headers(emulator), "Authorization": "Bearer nope"}, timeout=30
    )
    assert r.status_code == 401
    token = access_token(emulator)
    r = requests.post(
        base,
        json=query,
        headers={**headers(emulator, token), "developer-token": "wrong"},
        timeout=30,
    )
    assert r.status_code == 401 and _failure(r) == {
        "authenticationError": "DEVELOPER_TOKEN_INVALID"
    }
    r = stream(emulator, query["query"], token, customer="9876543210")
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    assert _failure(r) == {"authorizationError": "USER_PERMISSION_DENIED"}
    r = stream(emulator, query["query"], token, customer="123-456-7890")
    assert r.status_code == 400 and _failure(r) == {"requestError": "INVALID_CUSTOMER_ID"}
    ok = stream(emulator, query["query"], token, **{"login-customer-id": "1112223334"})
    assert ok.status_code == 200
    bad = stream(emulator, query["query"], token, **{"login-customer-id": "111-222-3334"})
    assert bad.status_code == 400
    for version in (17, 26):
        assert stream(emulator, query["query"], token, version=version).status_code == 200
    assert stream(emulator, query["query"], token, version=9).status_code == 404
    missing = requests.post(base, json={}, headers=headers(emulator, token), timeout=30)
    assert missing.status_code == 400


# ------------------------------------------------------------------------------ paged search
def test_paged_search(emulator):
    token = access_token(emulator)
    url = f"{emulator.base_url}/v21/customers/{CUSTOMER}/googleAds:search"
    query = f"{FULL_SELECT} WHERE segments.date BETWEEN '2026-08-01' AND '2026-11-26'"
    rows, page_token, pages = [], None, 0
    while True:
        body = {"query": query, "pageSize": 500, "returnTotalResultsCount": True}
        if page_token:
            body["pageToken"] = page_token
        r = requests.post(url, json=body, headers=headers(emulator, token), timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["fieldMask"].startswith("campaign.id,") and "requestId" not in page
        rows.extend(page["results"])
        pages += 1
        total = int(page["totalResultsCount"])
        page_token = page.get("nextPageToken")
        if not page_token:
            break
    expected = expected_frame(emulator, "2026-08-01", "2026-11-26")
    assert total == len(rows) == len(expected) and pages == -(-len(expected) // 500)
    pd.testing.assert_frame_equal(
        as_frame(rows), expected[as_frame(rows).columns], check_dtype=False
    )
    # A page token belongs to its query.
    first = requests.post(
        url, json={"query": query, "pageSize": 10}, headers=headers(emulator, token), timeout=30
    )
    other = {"query": query + " LIMIT 100", "pageToken": first.json()["nextPageToken"]}
    r = requests.post(url, json=other, headers=headers(emulator, token), timeout=30)
    assert r.status_code == 400 and _failure(r) == {"requestError": "INVALID_PAGE_TOKEN"}


# ------------------------------------------------------------------------------ faults and time
def test_rate_limit_and_daily_faults(make_emulator):
    running = make_emulator()
    token = access_token(running)
    requests.post(running.base_url + "/_emulator/faults", json={"rate_limit": 1}, timeout=30)
    r = stream(running, f"{FULL_SELECT} WHERE segments.date = '2026-11-20'", token)
    assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert _failure(r) == {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}
    details = r.json()["error"]["details"][0]["errors"][0]["details"]["quotaErrorDetails"]
    assert details["retryDelay"].endswith("s")
    requests.post(
        running.base_url + "/_emulator/faults",
        params={"reset": 1},
        json={"daily_limit": 1},
        timeout=30,
    )
    r = stream(running, f"{FULL_SELECT} WHERE segments.date = '2026-11-20'", token)
    assert r.status_code == 429 and _failure(r) == {"quotaError": "RESOURCE_EXHAUSTED"}


def test_server_error_fault(make_emulator):
    running = make_emulator()
    token = access_token(running)
    requests.post(running.base_url + "/_emulator/faults", json={"server_error": 1}, timeout=30)
    statuses = set()
    for _ in range(20):
        r = stream(running, f"{FULL_SELECT} WHERE segments.date = '2026-11-20'", token)
        statuses.add((r.status_code, r.json()["error"]["status"]))
    assert statuses == {(500, "INTERNAL"), (503, "UNAVAILABLE")}


def test_token_expiry_fault_and_refresh(make_emulator):
    running = make_emulator(faults="token_expiry=3")
    token = access_token(running)
    query = f"{FULL_SELECT} WHERE segments.date = '2026-11-20'"
    assert [stream(running, query, token).status_code for _ in range(4)] == [200, 200, 200, 401]
    assert stream(running, query, token).status_code == 401  # an expired token stays expired
    fresh = access_token(running)
    assert stream(running, query, fresh).status_code == 200


def test_restatement_and_date_header_under_time_travel(make_emulator):
    running = make_emulator()
    query = f"{FULL_SELECT} WHERE segments.date BETWEEN '2026-11-10' AND '2026-11-30'"
    token = access_token(running)
    r = stream(running, query, token)
    served = email.utils.parsedate_to_datetime(r.headers["Date"])
    assert served.date() == dt.date(2026, 11, 27)
    before = as_frame(rows_of(r.json())).set_index(["campaign_id", "date"])
    requests.post(running.base_url + "/_emulator/advance", params={"days": 2}, timeout=60)
    r = stream(running, query, token)
    assert email.utils.parsedate_to_datetime(r.headers["Date"]).date() == dt.date(2026, 11, 29)
    after = as_frame(rows_of(r.json())).set_index(["campaign_id", "date"])
    expected = expected_frame(running, "2026-11-10", "2026-11-30").set_index(
        ["campaign_id", "date"]
    )
    pd.testing.assert_frame_equal(after, expected[after.columns], check_dtype=False)
    assert set(after.index.get_level_values("date")) >= {"2026-11-27", "2026-11-28"}
    settled = [d for d in before.index.get_level_values("date").unique() if d <= "2026-11-23"]
    old = before[before.index.get_level_values("date").isin(settled)]
    pd.testing.assert_frame_equal(after.loc[old.index], old)
    recent = before[before.index.get_level_values("date") >= "2026-11-24"]
    changed = (after.loc[recent.index, "clicks"] != recent.clicks).any() or (
        after.loc[recent.index, "cost_micros"] != recent.cost_micros
    ).any()
    assert changed  # the last three days restated


def test_two_servers_serve_identical_data(make_emulator):
    def snapshot(running):
        token = access_token(running)
        batches = stream(
            running,
            f"{FULL_SELECT} WHERE segments.date BETWEEN '2025-01-01' AND '2026-11-26'",
            token,
        )
        return [{k: v for k, v in b.items() if k != "requestId"} for b in batches.json()]

    assert snapshot(make_emulator()) == snapshot(make_emulator())


def test_parse_query_is_usable_directly():
    query, resource = google_ads.parse_query(
        "select campaign.id, metrics.clicks from campaign where segments.date between '2026-01-01' "
        "and '2026-01-31' and campaign.status != 'REMOVED' order by metrics.clicks desc, campaign.id limit 3"
    )
    assert resource == "campaign" and query.limit == 3
    assert query.order == [("metrics.clicks", False), ("campaign.id", True)]
    assert ("segments.date", "BETWEEN", ("2026-01-01", "2026-01-31")) in query.conditions
    assert google_ads.field_mask(query) == "campaign.id,metrics.clicks"
