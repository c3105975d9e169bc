"""The shared HTTP client, auth providers and rate limiter against a scripted local server."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs

import pytest
import requests

from connectors.auth import BearerToken, GoogleAdsOAuth, SalesforceOAuth, Secret
from connectors.http import (
    ApiError,
    ApiProfile,
    AuthenticationError,
    DailyLimitExceeded,
    FatalApiError,
    HttpClient,
    MalformedBody,
    RetriesExhausted,
    RetryPolicy,
    decode_json,
    google_ads_profile,
    hubspot_profile,
    parse_retry_after,
    salesforce_profile,
)
from connectors.ratelimit import RateLimits, TokenBucket
from salesops.config import ConfigError

OK = {"records": [{"Id": "006A"}], "done": True}
SF_SECRET = "sf-client-secret-VALUE-123"
SF_REFRESH = "sf-refresh-token-VALUE-456"
SF_ACCESS = ["00Dtoken-ONE-aaaaaaaa", "00Dtoken-TWO-bbbbbbbb", "00Dtoken-THREE-cccccc"]
HUBSPOT_TOKEN = "pat-na1-hubspot-SECRET-789"
GOOGLE_SECRETS = ["g-client-secret-XYZ", "g-refresh-token-XYZ", "g-dev-token-XYZ", "ya29.g-access"]
ALL_SECRETS = [SF_SECRET, SF_REFRESH, *SF_ACCESS, HUBSPOT_TOKEN, *GOOGLE_SECRETS]


def client_for(server, sleep, **kwargs) -> HttpClient:
    profile = kwargs.pop("profile", ApiProfile("testapi", RetryPolicy(max_attempts=4)))
    return HttpClient(profile, base_url=server.url, sleep=sleep, rng=random.Random(7), **kwargs)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in ALL_SECRETS:
            assert secret not in text


# -- retries -----------------------------------------------------------------------------


def test_429_with_retry_after_seconds_is_honoured(api_server, fake_sleep):
    api_server.script(
        "GET",
        "/data",
        api_server.Reply(429, headers={"Retry-After": "7"}),
        api_server.Reply(200, OK),
    )
    client = client_for(api_server, fake_sleep)
    assert client.get_json("/data") == OK
    assert fake_sleep.calls == [pytest.approx(7.0)]
    assert client.stats.requests == 2
    assert client.stats.retries == 1


def test_retry_after_as_http_date_is_measured_against_the_server_date(api_server, fake_sleep):
    server_now = datetime(2024, 5, 20, 12, 0, 0, tzinfo=UTC)
    retry_at = datetime(2024, 5, 20, 12, 0, 30, tzinfo=UTC)
    api_server.script(
        "GET",
        "/data",
        api_server.Reply(
            503, headers={"Retry-After": http_date(retry_at), "Date": http_date(server_now)}
        ),
        api_server.Reply(200, OK),
    )
    client = client_for(api_server, fake_sleep)
    client.get_json("/data")
    assert fake_sleep.calls == [pytest.approx(30.0)]


def test_429_without_retry_after_waits_at_least_the_api_fallback(api_server, fake_sleep):
    api_server.script(
        "GET", "/crm/v3/objects/deals", api_server.Reply(429, {}), api_server.Reply(200, OK)
    )
    client = client_for(api_server, fake_sleep, profile=hubspot_profile())
    client.get_json("/crm/v3/objects/deals")
    assert fake_sleep.calls[0] >= 3.0  # HubSpot's Retry-After is unreliable: 3 s floor


def test_hubspot_secondly_limit_waits_about_one_second(api_server, fake_sleep):
    limited = {"status": "error", "errorType": "RATE_LIMIT", "policyName": "SECONDLY"}
    api_server.script("POST", "/search", api_server.Reply(429, limited), api_server.Reply(200, OK))
    client = client_for(api_server, fake_sleep, profile=hubspot_profile(backoff_base=0.01))
    client.post_json("/search", {"limit": 200})
    assert fake_sleep.calls == [pytest.approx(1.0)]


@pytest.mark.parametrize("status", [420, 423, 477, 500, 502, 503, 504, 521, 523, 524])
def test_transient_statuses_are_retried_with_jittered_backoff(api_server, fake_sleep, status):
    api_server.script(
        "GET",
        "/data",
        api_server.Reply(status),
        api_server.Reply(status),
        api_server.Reply(200, OK),
    )
    client = client_for(api_server, fake_sleep)
    assert client.get_json("/data") == OK
    assert len(fake_sleep.calls) == 2
    floor = 2.0 if status == 423 else 1.0 if status == 420 else 0.0
    assert floor <= fake_sleep.calls[0] <= max(floor, 1.0)  # full jitter within 2**0 s
    assert floor <= fake_sleep.calls[1] <= max(floor, 2.0)  # full jitter within 2**1 s


def test_truncated_json_body_is_retried(api_server, fake_sleep):
    api_server.script(
        "GET", "/data", api_server.Reply(200, b'{"records": [{"Id": "0'), api_server.Reply(200, OK)
    )
    client = client_for(api_server, fake_sleep)
    assert client.get_json("/data") == OK
    assert client.stats.retries == 1


def test_body_cut_off_before_content_length_is_retried(api_server, fake_sleep):
    api_server.script(
        "GET", "/data", api_server.Reply(200, OK, fault="short"), api_server.Reply(200, OK)
    )
    client = client_for(api_server, fake_sleep)
    assert client.get_json("/data") == OK
    assert client.stats.retries == 1


def test_non_json_body_is_retried(api_server, fake_sleep):
    html = "<html>upstream error</html>"
    api_server.script(
        "GET",
        "/data",
        api_server.Reply(200, html, {"Content-Type": "text/html"}),
        api_server.Reply(200, OK),
    )
    assert client_for(api_server, fake_sleep).get_json("/data") == OK


def test_dropped_connection_is_retried(api_server, fake_sleep):
    api_server.script("GET", "/data", api_server.Reply(fault="drop"), api_server.Reply(200, OK))
    client = client_for(api_server, fake_sleep)
    assert client.get_json("/data") == OK
    assert client.stats.retries == 1


def test_read_timeout_is_retried(api_server, fake_sleep):
    api_server.script(
        "GET", "/data", api_server.Reply(200, OK, delay=0.5), api_server.Reply(200, OK)
    )
    client = client_for(api_server, fake_sleep, timeout=(2.0, 0.1))
    assert client.get_json("/data") == OK
    assert client.stats.retries == 1


def test_nul_bytes_are_stripped_from_json():
    assert decode_json(b'{"a": "x\x00y"}\x00') == {"a": "xy"}
    with pytest.raises(MalformedBody):
        decode_json(b"\x00\x00")


def test_persistent_failure_raises_retries_exhausted_without_the_query(api_server, fake_sleep):
    api_server.script(
        "GET",
        "/services/data/v59.0/query",
        api_server.Reply(503, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "boom"}]),
    )
    client = client_for(api_server, fake_sleep)
    with pytest.raises(RetriesExhausted) as caught:
        client.get_json("/services/data/v59.0/query", params={"q": "SELECT Id FROM Account"})
    message = str(caught.value)
    assert "/services/data/v59.0/query" in message
    assert "SELECT" not in message
    assert "UNKNOWN_EXCEPTION" in message
    assert caught.value.status == 503
    assert client.stats.requests == 4
    assert len(fake_sleep.calls) == 3


def test_client_errors_are_not_retried_and_carry_the_api_error_code(api_server, fake_sleep):
    error = [{"message": "unexpected token: FROM", "errorCode": "MALFORMED_QUERY"}]
    api_server.script("GET", "/query", api_server.Reply(400, error))
    client = client_for(api_server, fake_sleep, profile=salesforce_profile())
    with pytest.raises(ApiError) as caught:
        client.get_json("/query")
    assert not isinstance(caught.value, RetriesExhausted)
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert caught.value.status == 400
    assert client.stats.requests == 1


def test_304_returns_none_from_the_json_helper(api_server, fake_sleep):
    api_server.script("GET", "/describe", api_server.Reply(304))
    assert client_for(api_server, fake_sleep).get_json("/describe") is None


def test_relative_url_without_base_is_a_clear_error(fake_sleep):
    client = HttpClient(ApiProfile("x"), sleep=fake_sleep)
    with pytest.raises(ValueError, match="no base URL"):
        client.get_json("/data")


def test_retry_after_parsing():
    def response(headers):
        r = requests.Response()
        r.headers.update(headers)
        return r

    assert parse_retry_after(response({"Retry-After": "2.5"})) == 2.5
    assert parse_retry_after(response({"Retry-After": "-3"})) == 0.0
    assert parse_retry_after(response({"Retry-After": "soon"})) is None
    assert parse_retry_after(response({})) is None


# -- fatal limits via per-API classification ------------------------------------------------


def test_salesforce_request_limit_is_fatal_immediately(api_server, fake_sleep):
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    api_server.script("GET", "/query", api_server.Reply(403, body))
    client = client_for(api_server, fake_sleep, profile=salesforce_profile())
    with pytest.raises(DailyLimitExceeded) as caught:
        client.get_json("/query")
    message = str(caught.value)
    assert "salesforce" in message and "REQUEST_LIMIT_EXCEEDED" in message
    assert "24 h" in message
    assert client.stats.requests == 1 and fake_sleep.calls == []


def test_hubspot_daily_limit_is_fatal_immediately(api_server, fake_sleep):
    body = {
        "status": "error",
        "message": "You have reached your daily limit.",
        "policyName": "DAILY",
    }
    api_server.script(
        "GET", "/crm/v3/objects/deals", api_server.Reply(429, body, {"Retry-After": "1"})
    )
    client = client_for(api_server, fake_sleep, profile=hubspot_profile())
    with pytest.raises(DailyLimitExceeded, match=r"hubspot.*DAILY.*daily limit"):
        client.get_json("/crm/v3/objects/deals")
    assert client.stats.requests == 1


def test_hubspot_missing_scope_is_fatal(api_server, fake_sleep):
    body = {"status": "error", "message": "missing scopes", "category": "MISSING_SCOPES"}
    api_server.script("GET", "/crm/v3/objects/deals", api_server.Reply(403, body))
    client = client_for(api_server, fake_sleep, profile=hubspot_profile())
    with pytest.raises(FatalApiError, match="HUBSPOT_ACCESS_TOKEN"):
        client.get_json("/crm/v3/objects/deals")


def google_quota_error(quota_error: str) -> dict:
    return {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v17.errors.GoogleAdsFailure",
                    "errors": [{"errorCode": {"quotaError": quota_error}, "message": "quota"}],
                }
            ],
        }
    }


def test_google_ads_daily_quota_is_fatal(api_server, fake_sleep):
    path = "/v17/customers/123/googleAds:searchStream"
    api_server.script("POST", path, api_server.Reply(429, google_quota_error("RESOURCE_EXHAUSTED")))
    client = client_for(api_server, fake_sleep, profile=google_ads_profile())
    with pytest.raises(DailyLimitExceeded, match=r"google_ads.*RESOURCE_EXHAUSTED"):
        client.post_json(path, {"query": "SELECT campaign.id FROM campaign"})


def test_google_ads_temporary_quota_is_retried(api_server, fake_sleep):
    path = "/v17/customers/123/googleAds:searchStream"
    api_server.script(
        "POST",
        path,
        api_server.Reply(429, google_quota_error("RESOURCE_TEMPORARILY_EXHAUSTED")),
        api_server.Reply(200, [{"results": []}]),
    )
    client = client_for(api_server, fake_sleep, profile=google_ads_profile())
    assert client.post_json(path, {"query": "q"}) == [{"results": []}]
    assert fake_sleep.calls[0] >= 5.0


# -- server clock --------------------------------------------------------------------------


def test_server_now_is_the_latest_date_header_seen(api_server, fake_sleep):
    later = datetime(2024, 6, 1, 9, 30, 0, tzinfo=UTC)
    earlier = datetime(2024, 6, 1, 9, 0, 0, tzinfo=UTC)
    api_server.script(
        "GET",
        "/data",
        api_server.Reply(200, OK, {"Date": http_date(later)}),
        api_server.Reply(200, OK, {"Date": http_date(earlier)}),
    )
    client = client_for(api_server, fake_sleep)
    assert client.server_now is None
    client.get_json("/data")
    client.get_json("/data")
    assert client.server_now == later


# -- auth ----------------------------------------------------------------------------------


def token_reply(server, access: str, **extra):
    return server.Reply(
        200,
        {
            "access_token": access,
            "instance_url": server.url,
            "token_type": "Bearer",
            "issued_at": "1716238172000",
            **extra,
        },
    )


def salesforce_client(server, sleep, *, refresh_token=None) -> HttpClient:
    auth = SalesforceOAuth(server.url, "client-id-1", Secret(SF_SECRET), refresh_token)
    return HttpClient(salesforce_profile(), auth=auth, sleep=sleep, rng=random.Random(1))


def test_salesforce_client_credentials_then_data_calls_to_instance_url(api_server, fake_sleep):
    api_server.script("POST", "/services/oauth2/token", token_reply(api_server, SF_ACCESS[0]))
    api_server.script("GET", "/services/data/v59.0/query", api_server.Reply(200, OK))
    client = salesforce_client(api_server, fake_sleep)
    assert (
        client.get_json("/services/data/v59.0/query", params={"q": "SELECT Id FROM Account"}) == OK
    )
    token_call = api_server.requests_to("/services/oauth2/token")[0]
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(token_call.body.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == ["client-id-1"]
    data_call = api_server.requests_to("/services/data/v59.0/query")[0]
    assert data_call.headers["Authorization"] == f"Bearer {SF_ACCESS[0]}"
    assert data_call.query == {"q": ["SELECT Id FROM Account"]}


def test_salesforce_401_refreshes_once_and_retries(api_server, fake_sleep):
    api_server.script(
        "POST",
        "/services/oauth2/token",
        token_reply(api_server, SF_ACCESS[0]),
        token_reply(api_server, SF_ACCESS[1], refresh_token="rotated-refresh"),
    )
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    api_server.script("GET", "/q", api_server.Reply(401, expired), api_server.Reply(200, OK))
    client = salesforce_client(api_server, fake_sleep, refresh_token=Secret(SF_REFRESH))
    assert client.get_json("/q") == OK
    calls = api_server.requests_to("/q")
    assert [c.headers["Authorization"] for c in calls] == [
        f"Bearer {SF_ACCESS[0]}",
        f"Bearer {SF_ACCESS[1]}",
    ]
    forms = [parse_qs(c.body.decode()) for c in api_server.requests_to("/services/oauth2/token")]
    assert forms[0]["grant_type"] == ["refresh_token"]
    assert forms[0]["refresh_token"] == [SF_REFRESH]
    assert client.stats.auth_refreshes == 1


def test_salesforce_second_401_fails_the_run(api_server, fake_sleep):
    api_server.script(
        "POST",
        "/services/oauth2/token",
        token_reply(api_server, SF_ACCESS[0]),
        token_reply(api_server, SF_ACCESS[1]),
    )
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    api_server.script("GET", "/q", api_server.Reply(401, expired))
    client = salesforce_client(api_server, fake_sleep)
    with pytest.raises(AuthenticationError, match=r"INVALID_SESSION_ID.*again") as caught:
        client.get_json("/q")
    assert len(api_server.requests_to("/services/oauth2/token")) == 2
    assert len(api_server.requests_to("/q")) == 2
    assert_no_secrets(str(caught.value), repr(caught.value))


@pytest.mark.parametrize(
    ("error", "description", "env_var"),
    [
        ("invalid_grant", "expired access/refresh token", "SALESFORCE_REFRESH_TOKEN"),
        ("invalid_client_id", "client identifier invalid", "SALESFORCE_CLIENT_ID"),
        ("invalid_client", "invalid client credentials", "SALESFORCE_CLIENT_SECRET"),
    ],
)
def test_salesforce_oauth_config_errors_are_fatal_and_name_the_variable(
    api_server, fake_sleep, error, description, env_var
):
    api_server.script(
        "POST",
        "/services/oauth2/token",
        api_server.Reply(400, {"error": error, "error_description": description}),
    )
    client = salesforce_client(api_server, fake_sleep, refresh_token=Secret(SF_REFRESH))
    with pytest.raises(AuthenticationError) as caught:
        client.get_json("/q")
    message = str(caught.value)
    assert env_var in message and error in message and description in message
    assert len(api_server.requests_to("/services/oauth2/token")) == 1  # not retried
    assert_no_secrets(message)


def test_bearer_token_401_is_fatal_and_names_the_variable(api_server, fake_sleep):
    body = {
        "status": "error",
        "message": "Authentication credentials not found.",
        "category": "INVALID_AUTHENTICATION",
    }
    api_server.script("GET", "/crm/v3/owners", api_server.Reply(401, body))
    client = client_for(
        api_server, fake_sleep, auth=BearerToken(HUBSPOT_TOKEN), profile=hubspot_profile()
    )
    with pytest.raises(AuthenticationError, match="HUBSPOT_ACCESS_TOKEN"):
        client.get_json("/crm/v3/owners")
    assert len(api_server.requests_to("/crm/v3/owners")) == 1
    assert api_server.seen[0].headers["Authorization"] == f"Bearer {HUBSPOT_TOKEN}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def google_client(server, sleep, clock) -> HttpClient:
    auth = GoogleAdsOAuth(
        client_id="g-client",
        client_secret=GOOGLE_SECRETS[0],
        refresh_token=GOOGLE_SECRETS[1],
        developer_token=GOOGLE_SECRETS[2],
        login_customer_id="123-456-7890",
        token_url=f"{server.url}/token",
        clock=clock,
    )
    return HttpClient(google_ads_profile(), base_url=server.url, auth=auth, sleep=sleep)


def test_google_ads_refreshes_before_expiry_and_sends_its_headers(api_server, fake_sleep):
    api_server.script(
        "POST",
        "/token",
        api_server.Reply(200, {"access_token": GOOGLE_SECRETS[3] + "1", "expires_in": 3599}),
        api_server.Reply(200, {"access_token": GOOGLE_SECRETS[3] + "2", "expires_in": 3599}),
    )
    api_server.script("POST", "/v17/customers/1/googleAds:searchStream", api_server.Reply(200, []))
    clock = FakeClock()
    client = google_client(api_server, fake_sleep, clock)
    client.post_json("/v17/customers/1/googleAds:searchStream", {"query": "q"})
    clock.now += 3545  # 54 s before expiry: inside the 60 s refresh margin
    client.post_json("/v17/customers/1/googleAds:searchStream", {"query": "q"})
    calls = api_server.requests_to("/v17/customers/1/googleAds:searchStream")
    assert calls[0].headers["Authorization"].endswith("1")
    assert calls[1].headers["Authorization"].endswith("2")
    assert calls[0].headers["developer-token"] == GOOGLE_SECRETS[2]
    assert calls[0].headers["login-customer-id"] == "1234567890"
    form = parse_qs(api_server.requests_to("/token")[0].body.decode())
    assert form["grant_type"] == ["refresh_token"]


def test_google_ads_invalid_grant_names_the_refresh_token_variable(api_server, fake_sleep):
    api_server.script(
        "POST",
        "/token",
        api_server.Reply(
            400,
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        ),
    )
    client = google_client(api_server, fake_sleep, FakeClock())
    with pytest.raises(AuthenticationError, match="GOOGLE_ADS_REFRESH_TOKEN"):
        client.post_json("/v17/customers/1/googleAds:searchStream", {"query": "q"})


def test_from_env_reports_missing_variables_by_name():
    with pytest.raises(ConfigError, match="SALESFORCE_CLIENT_SECRET"):
        SalesforceOAuth.from_env(
            {"SALESFORCE_LOGIN_URL": "https://x.my.salesforce.com", "SALESFORCE_CLIENT_ID": "id"}
        )
    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN"):
        BearerToken.hubspot_from_env({})
    with pytest.raises(ConfigError, match="GOOGLE_ADS_LOGIN_CUSTOMER_ID"):
        GoogleAdsOAuth.from_env({"GOOGLE_ADS_LOGIN_CUSTOMER_ID": "abc"})


# -- secrets never leak --------------------------------------------------------------------


def test_secret_wrapper_hides_its_value():
    secret = Secret(SF_SECRET)
    assert repr(secret) == str(secret) == f"{secret}" == "***"
    assert secret.reveal() == SF_SECRET
    assert secret == Secret(SF_SECRET) and secret != Secret("other")


def test_no_secret_in_reprs_errors_or_logs(api_server, fake_sleep, caplog):
    caplog.set_level(logging.DEBUG)
    echo = [{"message": f"bad token {SF_ACCESS[0]}", "errorCode": "INVALID_SESSION_ID"}]
    api_server.script("POST", "/services/oauth2/token", token_reply(api_server, SF_ACCESS[0]))
    api_server.script("GET", "/q", api_server.Reply(503, echo), api_server.Reply(400, echo))
    auth = SalesforceOAuth(api_server.url, "cid", SF_SECRET, SF_REFRESH)
    client = HttpClient(salesforce_profile(), auth=auth, sleep=fake_sleep)
    with pytest.raises(ApiError) as caught:
        client.get_json("/q", params={"q": "SELECT Id FROM Lead"})
    google = GoogleAdsOAuth(
        client_id="c",
        client_secret=GOOGLE_SECRETS[0],
        refresh_token=GOOGLE_SECRETS[1],
        developer_token=GOOGLE_SECRETS[2],
    )
    texts = [
        str(caught.value),
        repr(caught.value),
        str(caught.value.api_message),
        repr(auth),
        str(auth),
        repr(vars(auth)),
        repr(client),
        repr(BearerToken(HUBSPOT_TOKEN)),
        repr(vars(BearerToken(HUBSPOT_TOKEN))),
        repr(google),
        repr(vars(google)),
        caplog.text,
    ]
    assert "***" in str(caught.value)  # the echoed token was redacted, not just absent
    assert "SELECT" not in str(caught.value)  # no query string in messages
    assert_no_secrets(*texts)


# -- rate limiting -------------------------------------------------------------------------


class SteppingClock:
    """A monotonic clock that advances only when the bucket sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_paces_requests():
    clock = SteppingClock()
    bucket = TokenBucket(9, 1.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        bucket.acquire()
    assert clock.now == pytest.approx(1.0)  # first is free, nine more at 1/9 s each
    assert bucket.waited_seconds == pytest.approx(1.0)


def test_token_bucket_refills_while_idle_up_to_its_burst():
    clock = SteppingClock()
    bucket = TokenBucket(4, 1.0, burst=2, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.acquire()
    clock.now += 10.0
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.25)


def test_token_bucket_is_thread_safe():
    bucket = TokenBucket(500, 1.0)
    started = time.monotonic()
    threads = [
        threading.Thread(target=lambda: [bucket.acquire() for _ in range(25)]) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 200 tokens at 500/s with one free: never faster than the limit allows.
    assert time.monotonic() - started >= 199 / 500 - 0.01


def test_rate_limit_defaults_and_client_integration(api_server, fake_sleep):
    limits = RateLimits()
    assert limits.bucket("salesforce") is None
    assert limits.bucket("hubspot").rate == 9
    assert limits.bucket("hubspot_search").rate == 4
    with pytest.raises(ValueError, match="unknown API"):
        limits.bucket("nope")
    clock = SteppingClock()
    general = TokenBucket(9, clock=clock, sleep=clock.sleep)
    search = TokenBucket(4, clock=clock, sleep=clock.sleep)
    api_server.script("GET", "/list", api_server.Reply(200, OK))
    api_server.script("POST", "/search", api_server.Reply(200, OK))
    client = client_for(api_server, fake_sleep, rate_limiter=general)
    client.get_json("/list")
    client.get_json("/list")
    client.post_json("/search", {}, limiter=search)
    client.post_json("/search", {}, limiter=search)
    assert clock.slept == [pytest.approx(1 / 9), pytest.approx(1 / 4)]
    assert client.stats.throttle_wait_seconds == pytest.approx(1 / 9 + 1 / 4)
