"""The one HTTP client every source uses (Salesforce, HubSpot, Google Ads).

In the spirit of dlt's REST client, on plain ``requests``:

* a ``requests.Session`` with connect/read timeouts;
* retries with exponential backoff and full jitter on throttling, 5xx, connection drops, read
  timeouts and truncated or non-JSON bodies, honouring ``Retry-After`` (seconds or HTTP-date)
  with a per-API floor for when that header is missing or unreliable;
* a per-API ``classify`` hook that turns responses such as a daily quota into an immediate
  :class:`DailyLimitExceeded` instead of a pointless retry loop;
* pluggable auth (see :mod:`connectors.auth`) with one token refresh per request on a 401;
* counters for run metadata, and the API server's clock from the ``Date`` header, because sync
  windows end at the server's "now", never the local one.

Error messages carry the method, the URL path (never the query), the status and the API's own
error code and message. Headers and request bodies are never included, and any known secret
value is redacted from the message as a last line of defence. Auth providers put secrets only in
headers and form bodies, never in URLs: urllib3 logs full URLs (with the query) at DEBUG.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit

import orjson
import requests

log = logging.getLogger(__name__)

T = TypeVar("T")

# 420 is listed as retryable by Salesforce, 423 ("locked") and 477 ("migration in progress") by
# HubSpot; 521/523/524 are Cloudflare origin errors seen in front of HubSpot.
RETRY_STATUSES = frozenset({420, 423, 429, 477, 500, 502, 503, 504, 521, 523, 524})
THROTTLE_STATUSES = frozenset({420, 429})

# Transport failures worth another attempt: refused/reset connections, connect and read
# timeouts, and bodies cut off mid-transfer (urllib3 enforces Content-Length).
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

_MESSAGE_LIMIT = 300


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """A request failed and will not be retried (any more).

    Attributes let a source react to specific API errors, e.g. Salesforce ``INVALID_FIELD``.
    """

    def __init__(
        self,
        message: str,
        *,
        api: str,
        method: str,
        path: str,
        status: int | None = None,
        error_code: str | None = None,
        api_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.api = api
        self.method = method
        self.path = path
        self.status = status
        self.error_code = error_code
        self.api_message = api_message


class RetriesExhausted(ApiError):
    """A retryable failure persisted through every attempt."""


class FatalApiError(ApiError):
    """A configuration or quota problem: retrying cannot help, a person has to act."""


class DailyLimitExceeded(FatalApiError):
    """The API's daily (or rolling 24 h) request allocation is used up. Stop the run."""


class AuthenticationError(FatalApiError):
    """Credentials were rejected. The message names the environment variable to check."""


class MalformedBody(Exception):
    """The response body is truncated or not the JSON it claims to be; the request is retried."""


# --------------------------------------------------------------------------------------------
# Classification hook
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What a per-API ``classify`` hook decided about a response.

    ``kind`` is one of ``retry``, ``error``, ``fatal``, ``daily_limit``, ``auth``. For the
    fatal kinds (``fatal``, ``daily_limit``, ``auth``) the
    ``message`` should say which limit or setting is involved and what to do about it.
    """

    kind: str
    message: str = ""
    min_delay: float | None = None

    @classmethod
    def retry(cls, message: str = "", min_delay: float | None = None) -> Verdict:
        return cls("retry", message, min_delay)

    @classmethod
    def error(cls, message: str = "") -> Verdict:
        return cls("error", message)

    @classmethod
    def fatal(cls, message: str) -> Verdict:
        return cls("fatal", message)

    @classmethod
    def daily_limit(cls, message: str) -> Verdict:
        return cls("daily_limit", message)

    @classmethod
    def auth(cls, message: str) -> Verdict:
        return cls("auth", message)


Classifier = Callable[[requests.Response], Verdict | None]

_VERDICT_ERRORS: dict[str, type[ApiError]] = {
    "error": ApiError,
    "fatal": FatalApiError,
    "daily_limit": DailyLimitExceeded,
    "auth": AuthenticationError,
}


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    The wait before retry ``n`` is the largest of: full-jitter backoff
    ``uniform(0, min(backoff_max, backoff_base * 2**(n-1)))``; the server's ``Retry-After``
    (capped at ``max_retry_after``); ``fallback_delay`` on throttling responses (429/420),
    because some APIs omit ``Retry-After`` or send a useless one; a per-status minimum.
    """

    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    fallback_delay: float = 1.0
    max_retry_after: float = 300.0
    retry_statuses: frozenset[int] = RETRY_STATUSES
    status_min_delay: Mapping[int, float] = field(default_factory=lambda: {423: 2.0})


@dataclass(frozen=True)
class ApiProfile:
    """Everything API-specific the client needs: a name for messages, retries, classification."""

    name: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    classify: Classifier | None = None


class Auth(Protocol):
    """What :class:`HttpClient` needs from an auth provider (see :mod:`connectors.auth`)."""

    unauthorized_hint: str

    def headers(self, client: HttpClient) -> Mapping[str, str]:
        """Headers to send, obtaining a token first if there is none yet."""
        ...

    def base_url(self, client: HttpClient) -> str | None:
        """Base URL learned from authentication (Salesforce ``instance_url``), if any."""
        ...

    def refresh(self, client: HttpClient, rejected: Mapping[str, str]) -> bool:
        """React to a 401 for a request sent with ``rejected`` headers; True means retry once."""
        ...

    def secret_values(self) -> Iterable[str]:
        """Every secret this provider holds, so messages can be redacted."""
        ...


@dataclass
class ClientStats:
    """Counters for run metadata (``sync_log.retries`` and friends)."""

    requests: int = 0
    retries: int = 0
    bytes_received: int = 0
    auth_refreshes: int = 0
    retry_wait_seconds: float = 0.0
    throttle_wait_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return dict(vars(self))


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def decode_json(content: bytes) -> Any:
    """Parse a JSON body, dropping NUL bytes (they are never valid JSON, but some APIs emit them).

    Raises :class:`MalformedBody` for empty, truncated or non-JSON content.
    """
    cleaned = content.replace(b"\x00", b"")
    if not cleaned.strip():
        raise MalformedBody("empty body where JSON was expected")
    try:
        return orjson.loads(cleaned)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"body is not valid JSON ({len(content)} bytes): {exc.msg}") from None


def parse_http_date(value: str | None) -> datetime | None:
    """Parse an HTTP-date (``Date``/``Retry-After`` headers) into an aware UTC datetime."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_retry_after(response: requests.Response) -> float | None:
    """Seconds the server asks us to wait, from ``Retry-After`` as seconds or an HTTP-date.

    A date is measured against the response's own ``Date`` header when present, so a skewed
    local clock does not distort the wait.
    """
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    until = parse_http_date(value)
    if until is None:
        return None
    now = parse_http_date(response.headers.get("Date")) or datetime.now(UTC)
    return max(0.0, (until - now).total_seconds())


def error_payload(response: requests.Response) -> Any:
    """The decoded error body, or ``None`` if it is not JSON."""
    try:
        return decode_json(response.content)
    except MalformedBody:
        return None


def api_error_details(payload: Any) -> tuple[str | None, str | None]:
    """``(error_code, message)`` from the error shapes of Salesforce, OAuth, HubSpot, Google."""
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        first = payload[0]  # Salesforce REST: [{"errorCode", "message"}]
        return _text(first.get("errorCode")), _text(first.get("message"))
    if not isinstance(payload, dict):
        return None, None
    if isinstance(payload.get("error"), dict):
        error = payload["error"]  # Google: {"error": {"status", "message"}}
        return _text(error.get("status")), _text(error.get("message"))
    if "error" in payload:  # OAuth: {"error", "error_description"}
        return _text(payload.get("error")), _text(payload.get("error_description"))
    code = payload.get("policyName") or payload.get("category") or payload.get("errorType")
    return _text(code), _text(payload.get("message"))  # HubSpot


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "..."


def url_path(url: str) -> str:
    """The path of ``url`` only: no scheme, host, query or fragment, where secrets could hide."""
    return urlsplit(url).path or "/"


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


class RateLimiter(Protocol):
    """Anything with a blocking ``acquire()`` returning the seconds waited (a TokenBucket)."""

    def acquire(self) -> float: ...


class RequestOptions(TypedDict, total=False):
    """Per-request options of :meth:`HttpClient.request` and friends.

    ``data`` is a form body (form-encoded); ``limiter`` overrides the client's rate limiter
    (``None`` for none, e.g. HubSpot search passes its own bucket); ``classify`` overrides the
    API profile's hook; ``authenticate=False`` sends no auth headers (token endpoints).
    """

    params: Mapping[str, Any] | None
    json: Any
    data: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    authenticate: bool
    limiter: RateLimiter | None
    classify: Classifier | None
    timeout: tuple[float, float] | None


@dataclass
class _Call:
    method: str
    url: str
    params: Mapping[str, Any] | None
    json_body: Any
    form: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    authenticate: bool
    limiter: RateLimiter | None
    classify: Classifier | None
    timeout: tuple[float, float]

    @property
    def path(self) -> str:
        return url_path(self.url)


@dataclass
class _Failure:
    """Why an attempt is being retried."""

    reason: str
    response: requests.Response | None = None
    min_delay: float | None = None

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status_code


class HttpClient:
    """A small retrying JSON-over-HTTP client shared by every source.

    ``url`` arguments may be absolute or relative to ``base_url`` (or to the base URL the auth
    provider learned, e.g. Salesforce's ``instance_url``). ``sleep`` and ``rng`` are injectable
    so tests run fast and deterministically.
    """

    def __init__(
        self,
        profile: ApiProfile,
        *,
        base_url: str | None = None,
        auth: Auth | None = None,
        rate_limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        user_agent: str = "salesops-connectors/0.1",
    ) -> None:
        self.profile = profile
        self.api = profile.name
        self.auth = auth
        self.rate_limiter = rate_limiter
        self.timeout = timeout
        self.stats = ClientStats()
        self._base_url = base_url.rstrip("/") if base_url else None
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = user_agent
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._server_now: datetime | None = None

    def __repr__(self) -> str:
        return f"HttpClient(api={self.api!r}, base_url={self._base_url!r})"

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- public API ------------------------------------------------------------------------

    @property
    def server_now(self) -> datetime | None:
        """The latest ``Date`` the API server reported (UTC), or ``None`` before any response.

        Sync windows end here: rows the server stamps later than this are left for the next run.
        """
        with self._lock:
            return self._server_now

    @property
    def base_url(self) -> str | None:
        if self._base_url:
            return self._base_url
        learned = self.auth.base_url(self) if self.auth else None
        return learned.rstrip("/") if learned else None

    def request(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> requests.Response:
        """Send a request with retries; return the successful (< 400) response."""
        return self._send(self._call(method, url, options), parse=lambda response: response)

    def request_json(self, method: str, url: str, **options: Unpack[RequestOptions]) -> Any:
        """Like :meth:`request` but returns the decoded JSON; a bad body is retried.

        A 204 or 304 response returns ``None``.
        """
        return self._send(self._call(method, url, options), parse=_json_or_none)

    def get_json(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        **options: Unpack[RequestOptions],
    ) -> Any:
        return self.request_json("GET", url, params=params, **options)

    def post_json(self, url: str, json: Any = None, **options: Unpack[RequestOptions]) -> Any:
        return self.request_json("POST", url, json=json, **options)

    def redact(self, text: str) -> str:
        """Replace every secret the auth provider holds with ``***``."""
        if self.auth is None:
            return text
        for secret in self.auth.secret_values():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    # -- the retry loop --------------------------------------------------------------------

    def _call(self, method: str, url: str, options: RequestOptions) -> _Call:
        return _Call(
            method=method.upper(),
            url=self._absolute(url),
            params=options.get("params"),
            json_body=options.get("json"),
            form=options.get("data"),
            headers=options.get("headers"),
            authenticate=options.get("authenticate", True) and self.auth is not None,
            limiter=options.get("limiter", self.rate_limiter),
            classify=options.get("classify") or self.profile.classify,
            timeout=options.get("timeout") or self.timeout,
        )

    def _send(self, call: _Call, parse: Callable[[requests.Response], T]) -> T:
        refreshed = False
        failures = 0
        while True:
            sent_headers = self._headers(call)
            try:
                response = self._transmit(call, sent_headers)
            except TRANSPORT_ERRORS as exc:
                failure = _Failure(reason=f"{type(exc).__name__} (connection or read failure)")
            else:
                if response.status_code == 401 and call.authenticate:
                    self._refresh_once(call, response, sent_headers, already_refreshed=refreshed)
                    refreshed = True
                    continue
                failure = self._judge(call, response)
                if failure is None:
                    try:
                        return parse(response)
                    except MalformedBody as exc:
                        failure = _Failure(reason=str(exc), response=response)
            failures += 1
            if failures >= self.profile.retry.max_attempts:
                raise self._exhausted(call, failure, failures)
            self._wait_before_retry(call, failure, failures)

    def _headers(self, call: _Call) -> dict[str, str]:
        headers = dict(call.headers or {})
        if call.authenticate and self.auth is not None:
            headers.update(self.auth.headers(self))
        return headers

    def _transmit(self, call: _Call, headers: Mapping[str, str]) -> requests.Response:
        if call.limiter is not None:
            waited = call.limiter.acquire()
            self._count(throttle_wait_seconds=waited)
        self._count(requests=1)
        started = time.monotonic()
        response = self._session.request(
            call.method,
            call.url,
            params=call.params,
            json=call.json_body,
            data=call.form,
            headers=headers,
            timeout=call.timeout,
        )
        self._count(bytes_received=len(response.content))
        self._observe_server_date(response)
        log.debug(
            "%s %s %s -> %s (%d bytes, %.0f ms)",
            self.api,
            call.method,
            call.path,
            response.status_code,
            len(response.content),
            (time.monotonic() - started) * 1000,
        )
        return response

    def _refresh_once(
        self,
        call: _Call,
        response: requests.Response,
        sent_headers: Mapping[str, str],
        *,
        already_refreshed: bool,
    ) -> None:
        """After a 401: refresh the token for one more try, or fail with the variable to check.

        Never more than once per request, so a revoked credential cannot cause a loop.
        """
        assert self.auth is not None
        if already_refreshed:
            explanation = "the API rejected the session again right after a token refresh"
        elif not self.auth.refresh(self, sent_headers):
            explanation = "the API rejected the credentials"
        else:
            self._count(auth_refreshes=1)
            log.info(
                "%s %s %s -> 401; token refreshed, retrying once", self.api, call.method, call.path
            )
            return
        raise self._error(
            AuthenticationError, call, response, f"{explanation}; {self._unauthorized_hint()}"
        )

    def _unauthorized_hint(self) -> str:
        return getattr(self.auth, "unauthorized_hint", "") or "check the credentials"

    def _judge(self, call: _Call, response: requests.Response) -> _Failure | None:
        """``None`` if the response is usable; a :class:`_Failure` to retry; raises otherwise."""
        verdict = call.classify(response) if call.classify else None
        if verdict is not None:
            if verdict.kind == "retry":
                reason = verdict.message or f"HTTP {response.status_code}"
                return _Failure(reason, response, verdict.min_delay)
            raise self._error(_VERDICT_ERRORS[verdict.kind], call, response, verdict.message)
        if response.status_code in self.profile.retry.retry_statuses:
            return _Failure(f"HTTP {response.status_code}", response)
        if response.status_code >= 400:
            raise self._error(ApiError, call, response, "")
        return None

    def _wait_before_retry(self, call: _Call, failure: _Failure, failures: int) -> None:
        delay = self._retry_delay(failure, failures)
        self._count(retries=1, retry_wait_seconds=delay)
        log.warning(
            "%s %s %s: %s; retry %d/%d in %.1f s",
            self.api,
            call.method,
            call.path,
            self.redact(failure.reason),
            failures,
            self.profile.retry.max_attempts - 1,
            delay,
        )
        self._sleep(delay)

    def _retry_delay(self, failure: _Failure, failures: int) -> float:
        policy = self.profile.retry
        ceiling = min(policy.backoff_max, policy.backoff_base * 2 ** (failures - 1))
        delay = self._rng.uniform(0.0, ceiling)
        status = failure.status
        if failure.min_delay is not None:
            delay = max(delay, failure.min_delay)
        elif status in THROTTLE_STATUSES:
            delay = max(delay, policy.fallback_delay)
        if status is not None:
            delay = max(delay, policy.status_min_delay.get(status, 0.0))
        server_wait = parse_retry_after(failure.response) if failure.response is not None else None
        if server_wait is not None:
            delay = max(delay, min(server_wait, policy.max_retry_after))
        return delay

    # -- bookkeeping -----------------------------------------------------------------------

    def _absolute(self, url: str) -> str:
        if url.startswith(("http://", "https://")):
            return url
        base = self.base_url
        if not base:
            raise ValueError(f"{self.api}: relative URL {url_path(url)!r} but no base URL is known")
        return f"{base}/{url.lstrip('/')}"

    def _count(self, **increments: float) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def _observe_server_date(self, response: requests.Response) -> None:
        server_time = parse_http_date(response.headers.get("Date"))
        if server_time is None:
            return
        with self._lock:
            if self._server_now is None or server_time > self._server_now:
                self._server_now = server_time

    def _error(
        self,
        kind: type[ApiError],
        call: _Call,
        response: requests.Response | None,
        explanation: str,
    ) -> ApiError:
        status = None if response is None else response.status_code
        code, api_message = (None, None)
        if response is not None:
            code, api_message = api_error_details(error_payload(response))
        parts = [f"{self.api} {call.method} {call.path}"]
        parts.append(f"-> HTTP {status}" if status is not None else "-> no response")
        if code or api_message:
            parts.append(f"[{code or '?'}] {api_message or ''}".rstrip())
        message = " ".join(parts)
        if explanation:
            message += f": {explanation}"
        return kind(
            self.redact(message),
            api=self.api,
            method=call.method,
            path=call.path,
            status=status,
            error_code=code,
            api_message=self.redact(api_message) if api_message else None,
        )

    def _exhausted(self, call: _Call, failure: _Failure, attempts: int) -> ApiError:
        return self._error(
            RetriesExhausted,
            call,
            failure.response,
            f"gave up after {attempts} attempts; last failure: {failure.reason}",
        )


def _json_or_none(response: requests.Response) -> Any:
    if response.status_code in (204, 304):
        return None
    return decode_json(response.content)


# --------------------------------------------------------------------------------------------
# Per-API classification and profiles
# --------------------------------------------------------------------------------------------


def classify_salesforce(response: requests.Response) -> Verdict | None:
    """Salesforce: the 24 h request allocation and the concurrency cap are fatal, not retried."""
    if response.status_code != 403:
        return None
    code, message = api_error_details(error_payload(response))
    if code != "REQUEST_LIMIT_EXCEEDED":
        return None
    if message and "concurrent" in message.lower():
        return Verdict.fatal(
            "Salesforce concurrent long-running request limit reached. Reduce parallel "
            "extraction or wait for other integrations to finish; not retrying."
        )
    return Verdict.daily_limit(
        "Salesforce API request allocation (rolling 24 h, DailyApiRequests in /limits) is "
        "used up. Wait until usage falls or ask Salesforce for a higher allocation; the run "
        "stops here instead of retrying."
    )


def classify_hubspot(response: requests.Response) -> Verdict | None:
    """HubSpot: the daily cap stops the run; burst and search limits wait per their policy."""
    if response.status_code not in (403, 429):
        return None
    payload = error_payload(response)
    payload = payload if isinstance(payload, dict) else {}
    if response.status_code == 403:
        if payload.get("category") != "MISSING_SCOPES":
            return None
        return Verdict.fatal(
            "the private app behind HUBSPOT_ACCESS_TOKEN lacks a required scope; add the "
            "scope in HubSpot (Settings > Integrations > Private apps) and rerun."
        )
    policy = payload.get("policyName")
    if policy == "DAILY":
        return Verdict.daily_limit(
            "HubSpot daily API call limit for this portal is reached (policyName DAILY). "
            "It resets at midnight in the portal's time zone; rerun then, or buy the API "
            "limit increase. Not retrying."
        )
    if policy == "SECONDLY":
        # The search limit is per second, so a short wait is enough; Retry-After is unreliable.
        return Verdict.retry("HubSpot search rate limit (SECONDLY)", min_delay=1.0)
    return Verdict.retry(f"HubSpot rate limit ({policy or 'no policyName'})")


def classify_google_ads(response: requests.Response) -> Verdict | None:
    """Google Ads: a daily operations quota is fatal, a temporary one is retried."""
    if response.status_code == 429:
        if "RESOURCE_TEMPORARILY_EXHAUSTED" in _quota_errors(error_payload(response)):
            return Verdict.retry(
                "Google Ads short-term rate limit (RESOURCE_TEMPORARILY_EXHAUSTED)"
            )
        return Verdict.daily_limit(
            "Google Ads API daily operations quota for this developer token is exhausted "
            "(RESOURCE_EXHAUSTED). It resets daily (Pacific time); rerun later or apply for a "
            "higher access level for GOOGLE_ADS_DEVELOPER_TOKEN. Not retrying."
        )
    if response.status_code == 403:
        return Verdict.fatal(
            "Google Ads refused access. Check GOOGLE_ADS_DEVELOPER_TOKEN (approved for this "
            "account), GOOGLE_ADS_CUSTOMER_ID and, when going through a manager account, "
            "GOOGLE_ADS_LOGIN_CUSTOMER_ID."
        )
    return None


def _quota_errors(payload: Any) -> set[str]:
    """The ``quotaError`` codes inside a Google Ads failure's ``details``."""
    found: set[str] = set()
    error = payload.get("error") if isinstance(payload, dict) else None
    details = error.get("details", []) if isinstance(error, dict) else []
    for detail in details if isinstance(details, list) else []:
        for item in detail.get("errors", []) if isinstance(detail, dict) else []:
            code = item.get("errorCode", {}) if isinstance(item, dict) else {}
            if isinstance(code, dict) and "quotaError" in code:
                found.add(str(code["quotaError"]))
    return found


def salesforce_profile(**retry: Any) -> ApiProfile:
    return ApiProfile("salesforce", RetryPolicy(fallback_delay=2.0, **retry), classify_salesforce)


def hubspot_profile(**retry: Any) -> ApiProfile:
    # HubSpot's Retry-After on 429 is unreliable; 3 s is what its list endpoints need.
    return ApiProfile("hubspot", RetryPolicy(fallback_delay=3.0, **retry), classify_hubspot)


def google_ads_profile(**retry: Any) -> ApiProfile:
    return ApiProfile("google_ads", RetryPolicy(fallback_delay=5.0, **retry), classify_google_ads)
