"""Auth providers for :class:`connectors.http.HttpClient`, and the :class:`Secret` wrapper.

Secrets live in :class:`Secret` objects whose ``repr``/``str`` is ``***``; the plain value is
only revealed at the moment a header or token form is built. Token requests go through the
shared client (so transient token-endpoint failures are retried) but with a classifier that
turns OAuth ``invalid_grant``/``invalid_client*`` into an :class:`AuthenticationError` naming
the environment variable to check, per CONFIG.md.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests

from connectors.http import (
    FatalApiError,
    HttpClient,
    Verdict,
    api_error_details,
    error_payload,
    url_path,
)
from salesops.config import ConfigError

_OAUTH_CONFIG_ERRORS = frozenset(
    {
        "invalid_grant",
        "invalid_client",
        "invalid_client_id",
        "invalid_client_credentials",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_request",
        "invalid_scope",
    }
)


class Secret:
    """A credential that never shows itself: ``repr``, ``str`` and f-strings give ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        self._value = value.reveal() if isinstance(value, Secret) else str(value)

    def reveal(self) -> str:
        """The plain value. Call only where it goes straight into a header or form."""
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))


class AuthProvider:
    """Base class: no headers, no base URL, no refresh. Subclasses fill in what they support."""

    unauthorized_hint = "check the credentials"

    def headers(self, client: HttpClient) -> Mapping[str, str]:
        return {}

    def base_url(self, client: HttpClient) -> str | None:
        return None

    def refresh(self, client: HttpClient, rejected: Mapping[str, str]) -> bool:
        return False

    def secret_values(self) -> Iterable[str]:
        return ()


class BearerToken(AuthProvider):
    """A static bearer token, e.g. a HubSpot private app token (``pat-na1-...``).

    It cannot be refreshed, so a 401 is fatal and the message names ``env_var``.
    """

    def __init__(self, token: Secret | str, *, env_var: str = "HUBSPOT_ACCESS_TOKEN") -> None:
        self._token = Secret(token)
        self.env_var = env_var
        self.unauthorized_hint = f"check {env_var} (revoked or mistyped token?)"

    def __repr__(self) -> str:
        return f"BearerToken(env_var={self.env_var!r})"

    @classmethod
    def hubspot_from_env(cls, env: Mapping[str, str]) -> BearerToken:
        return cls(_required(env, "HUBSPOT_ACCESS_TOKEN", "a HubSpot private app token"))

    def headers(self, client: HttpClient) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    def secret_values(self) -> Iterable[str]:
        return (self._token.reveal(),)


class _OAuthProvider(AuthProvider):
    """Caches an access token, fetches it lazily, refreshes it once per rejection.

    The lock is held during the token request on purpose: when several threads hit a 401 at
    once, one refreshes and the others reuse the new token instead of stampeding the endpoint.
    """

    api_label = "oauth"

    def __init__(self, token_url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self._clock = clock
        self._lock = threading.RLock()
        self._access: Secret | None = None
        self._expires_at: float | None = None

    def headers(self, client: HttpClient) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._current_token(client)}"}

    def refresh(self, client: HttpClient, rejected: Mapping[str, str]) -> bool:
        with self._lock:
            current = self._access.reveal() if self._access else None
            # Another thread may already have replaced the token this request was sent with.
            if current is None or rejected.get("Authorization") == f"Bearer {current}":
                self._fetch(client)
        return True

    def _current_token(self, client: HttpClient) -> str:
        with self._lock:
            if self._access is None or self._expiring():
                self._fetch(client)
            assert self._access is not None
            return self._access.reveal()

    def _expiring(self) -> bool:
        return self._expires_at is not None and self._clock() >= self._expires_at

    def _fetch(self, client: HttpClient) -> None:
        payload = client.request_json(
            "POST",
            self.token_url,
            data=self._grant_form(),
            headers={"Accept": "application/json"},
            authenticate=False,
            limiter=None,
            classify=self._classify_token_response,
        )
        if not isinstance(payload, dict) or not payload.get("access_token"):
            raise FatalApiError(
                f"{client.api} POST {url_path(self.token_url)}: the token response has no "
                "access_token",
                api=client.api,
                method="POST",
                path=url_path(self.token_url),
            )
        self._access = Secret(payload["access_token"])
        self._accept_token_response(payload)

    def _classify_token_response(self, response: requests.Response) -> Verdict | None:
        if response.status_code not in (400, 401, 403):
            return None
        code, _ = api_error_details(error_payload(response))
        if response.status_code == 400 and code not in _OAUTH_CONFIG_ERRORS:
            return None
        return Verdict.auth(self._token_error_hint(code))

    def _grant_form(self) -> dict[str, str]:
        raise NotImplementedError

    def _accept_token_response(self, payload: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _token_error_hint(self, code: str | None) -> str:
        raise NotImplementedError


class SalesforceOAuth(_OAuthProvider):
    """Salesforce OAuth 2.0: refresh-token grant if a refresh token is given, else client
    credentials (My Domain hosts only). Data calls go to the token's ``instance_url``.

    Salesforce tokens carry no ``expires_in``; they are refreshed once when a call returns 401
    ``INVALID_SESSION_ID``.
    """

    unauthorized_hint = (
        "check that the connected app's session policy allows API access and that "
        "SALESFORCE_CLIENT_ID / SALESFORCE_CLIENT_SECRET belong to this org"
    )

    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: Secret | str,
        refresh_token: Secret | str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(f"{login_url.rstrip('/')}/services/oauth2/token", clock=clock)
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = Secret(client_secret)
        self._refresh_token = Secret(refresh_token) if refresh_token else None
        self.instance_url: str | None = None

    def __repr__(self) -> str:
        return f"SalesforceOAuth(login_url={self.login_url!r}, grant={self.grant_type!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SalesforceOAuth:
        login_url = _required(env, "SALESFORCE_LOGIN_URL", "an https:// URL")
        if not login_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"SALESFORCE_LOGIN_URL={login_url!r} must be an http(s) URL such as "
                "https://<domain>.my.salesforce.com"
            )
        return cls(
            login_url,
            _required(env, "SALESFORCE_CLIENT_ID", "the connected app's consumer key"),
            _required(env, "SALESFORCE_CLIENT_SECRET", "the connected app's consumer secret"),
            env.get("SALESFORCE_REFRESH_TOKEN", "").strip() or None,
        )

    @property
    def grant_type(self) -> str:
        return "refresh_token" if self._refresh_token else "client_credentials"

    def base_url(self, client: HttpClient) -> str | None:
        if self.instance_url is None:
            self._current_token(client)
        return self.instance_url

    def secret_values(self) -> Iterable[str]:
        values = [self._client_secret.reveal()]
        if self._refresh_token:
            values.append(self._refresh_token.reveal())
        if self._access:
            values.append(self._access.reveal())
        return values

    def _grant_form(self) -> dict[str, str]:
        form = {
            "grant_type": self.grant_type,
            "client_id": self.client_id,
            "client_secret": self._client_secret.reveal(),
        }
        if self._refresh_token:
            form["refresh_token"] = self._refresh_token.reveal()
        return form

    def _accept_token_response(self, payload: Mapping[str, Any]) -> None:
        instance_url = str(payload.get("instance_url") or "")
        if not instance_url.startswith(("https://", "http://")):
            raise FatalApiError(
                "salesforce POST /services/oauth2/token: the token response has no usable "
                "instance_url",
                api="salesforce",
                method="POST",
                path="/services/oauth2/token",
            )
        self.instance_url = instance_url.rstrip("/")
        # With refresh-token rotation on, the old token dies once a new one is issued.
        if payload.get("refresh_token") and self._refresh_token:
            self._refresh_token = Secret(payload["refresh_token"])

    def _token_error_hint(self, code: str | None) -> str:
        if code == "invalid_client_id":
            return "Salesforce does not know this client; check SALESFORCE_CLIENT_ID."
        if code in ("invalid_client", "invalid_client_credentials"):
            return "check SALESFORCE_CLIENT_SECRET and SALESFORCE_CLIENT_ID."
        if code == "invalid_grant" and self._refresh_token:
            return (
                "the refresh token was rejected (expired or revoked?); check "
                "SALESFORCE_REFRESH_TOKEN and that SALESFORCE_LOGIN_URL is the org that issued it."
            )
        if code == "invalid_grant":
            return (
                "the client-credentials grant was rejected; check SALESFORCE_CLIENT_ID and "
                "SALESFORCE_CLIENT_SECRET, that the connected app has a Run As user, and that "
                "SALESFORCE_LOGIN_URL is your My Domain host."
            )
        return "check SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET."


class GoogleAdsOAuth(_OAuthProvider):
    """Google OAuth refresh-token grant plus the Google Ads ``developer-token`` header.

    The access token is refreshed ``refresh_margin`` seconds before ``expires_in`` runs out, and
    once more if the API still answers 401.
    """

    unauthorized_hint = (
        "check GOOGLE_ADS_REFRESH_TOKEN, GOOGLE_ADS_CLIENT_ID and GOOGLE_ADS_CLIENT_SECRET"
    )

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: Secret | str,
        refresh_token: Secret | str,
        developer_token: Secret | str,
        login_customer_id: str | None = None,
        token_url: str = "https://oauth2.googleapis.com/token",
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(token_url, clock=clock)
        self.client_id = client_id
        self._client_secret = Secret(client_secret)
        self._refresh_token = Secret(refresh_token)
        self._developer_token = Secret(developer_token)
        self.login_customer_id = login_customer_id.replace("-", "") if login_customer_id else None
        self.refresh_margin = refresh_margin

    def __repr__(self) -> str:
        return f"GoogleAdsOAuth(token_url={self.token_url!r}, login_customer_id={self.login_customer_id!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GoogleAdsOAuth:
        login = env.get("GOOGLE_ADS_LOGIN_CUSTOMER_ID", "").strip().replace("-", "") or None
        if login is not None and not login.isdigit():
            raise ConfigError(
                "GOOGLE_ADS_LOGIN_CUSTOMER_ID must be a manager customer id of digits "
                f"(dashes allowed), e.g. 123-456-7890; got {login!r}"
            )
        return cls(
            client_id=_required(env, "GOOGLE_ADS_CLIENT_ID", "an OAuth client id"),
            client_secret=_required(env, "GOOGLE_ADS_CLIENT_SECRET", "an OAuth client secret"),
            refresh_token=_required(env, "GOOGLE_ADS_REFRESH_TOKEN", "an OAuth refresh token"),
            developer_token=_required(env, "GOOGLE_ADS_DEVELOPER_TOKEN", "a developer token"),
            login_customer_id=login,
            token_url=env.get("GOOGLE_ADS_TOKEN_URL", "").strip()
            or "https://oauth2.googleapis.com/token",
        )

    def headers(self, client: HttpClient) -> Mapping[str, str]:
        headers = dict(super().headers(client))
        headers["developer-token"] = self._developer_token.reveal()
        if self.login_customer_id:
            headers["login-customer-id"] = self.login_customer_id
        return headers

    def secret_values(self) -> Iterable[str]:
        values = [
            self._client_secret.reveal(),
            self._refresh_token.reveal(),
            self._developer_token.reveal(),
        ]
        if self._access:
            values.append(self._access.reveal())
        return values

    def _grant_form(self) -> dict[str, str]:
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret.reveal(),
            "refresh_token": self._refresh_token.reveal(),
        }

    def _accept_token_response(self, payload: Mapping[str, Any]) -> None:
        try:
            lifetime = float(payload.get("expires_in", 3599))
        except (TypeError, ValueError):
            lifetime = 3599.0
        self._expires_at = self._clock() + max(0.0, lifetime - self.refresh_margin)

    def _token_error_hint(self, code: str | None) -> str:
        if code == "invalid_grant":
            return (
                "the refresh token was rejected (expired or revoked?); check "
                "GOOGLE_ADS_REFRESH_TOKEN."
            )
        if code in ("invalid_client", "unauthorized_client"):
            return "check GOOGLE_ADS_CLIENT_ID and GOOGLE_ADS_CLIENT_SECRET."
        return (
            "check GOOGLE_ADS_TOKEN_URL, GOOGLE_ADS_CLIENT_ID, GOOGLE_ADS_CLIENT_SECRET and "
            "GOOGLE_ADS_REFRESH_TOKEN."
        )


def _required(env: Mapping[str, str], name: str, expected: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set; expected {expected}.")
    return value
