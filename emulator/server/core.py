"""The emulator's HTTP core: routing, simulated clock, credentials, time travel and faults.

One process, one port, three APIs side by side. API modules (``salesforce``, ``hubspot``,
``google_ads``) register routes on a :class:`Router`; the core answers every request with a
``Date`` header carrying the simulated time, applies the generic faults in each API's own error
format, and serves the admin endpoints under ``/_emulator``.

Fault randomness comes from its own generator and only decides *whether* a fault fires; it never
changes the data served.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson

from emulator.org import Org, OrgView

HORIZON_BUFFER_DAYS = 30


# ------------------------------------------------------------------------------ faults
@dataclass
class Faults:
    """Fault switches. Probabilities are per request; ``token_expiry`` expires a token every N calls."""

    rate_limit: float = 0.0
    daily_limit: float = 0.0
    server_error: float = 0.0
    slow: float = 0.0
    disconnect: float = 0.0
    truncate: float = 0.0
    token_expiry: int = 0
    locator_expiry: float = 0.0
    late_updates: float = 0.0
    timestamp_burst: float = 0.0
    schema_drift: float = 0.0
    slow_seconds: float = 0.5

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        faults = cls()
        faults.update(spec or "")
        return faults

    def update(self, spec: str | dict) -> None:
        items = spec.items() if isinstance(spec, dict) else _pairs(spec)
        known = {f.name: f.type for f in fields(self)}
        for name, raw in items:
            if name not in known:
                raise ValueError(
                    f"unknown fault {name!r}; known faults: {', '.join(sorted(known))}"
                )
            try:
                value = int(raw) if name == "token_expiry" else float(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"fault {name}={raw!r} must be a number") from exc
            if name not in ("token_expiry", "slow_seconds") and not 0 <= value <= 1:
                raise ValueError(f"fault {name}={value} must be a probability between 0 and 1")
            setattr(self, name, value)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _pairs(spec: str):
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if "=" not in part:
            raise ValueError(f"fault {part!r} must be written name=value")
        name, value = part.split("=", 1)
        yield name.strip(), value.strip()


# ------------------------------------------------------------------------------ requests
@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def json(cls, payload, status: int = 200, headers: dict | None = None) -> Response:
        return cls(
            status, orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), dict(headers or {})
        )


class Disconnect(Exception):
    """Drop the connection without answering (the ``disconnect`` fault)."""


Handler = Callable[["EmulatorState", Request, re.Match], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Handler
    api: str  # salesforce | hubspot | google_ads | admin
    authenticated: bool = True


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, api: str, authenticated: bool = True):
        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(method, re.compile(pattern + r"/?$"), handler, api, authenticated)
            )
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Route | None, re.Match | None, bool]:
        path_known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                path_known = True
                if route.method == method:
                    return route, m, True
        return None, None, path_known


class ApiDialect:
    """How one API formats its errors and authenticates; each API module provides one."""

    name = "generic"
    # Whether ``decorate`` also runs on the answers the core gives before any handler (unknown
    # routes, generic faults, failed authentication). Salesforce sends Sforce-Limit-Info on every
    # REST response; HubSpot's fault answers carry their own rate headers, which decorate would
    # overwrite.
    decorates_refusals = False

    def authenticate(self, state: EmulatorState, request: Request) -> Response | None:
        return None

    def error(self, kind: str, status: int, message: str) -> Response:
        return Response.json({"error": kind, "message": message}, status)

    def fault(
        self, state: EmulatorState, request: Request, kind: str, status: int, message: str
    ) -> Response:
        """A generic fault (``rate_limit``, ``daily_limit``, ``server_error``) in this API's format.

        Override to vary the answer by request (e.g. a search endpoint's own rate policy) or by
        ``state.roll`` (e.g. whether a 429 carries ``Retry-After``); the default is ``error``.
        """
        return self.error(kind, status, message)

    def decorate(self, state: EmulatorState, request: Request, response: Response) -> None:
        """Add API-specific headers (e.g. Sforce-Limit-Info, HubSpot rate-limit headers)."""


# ------------------------------------------------------------------------------ state
@dataclass
class Credentials:
    salesforce_client_id: str = "demo-client-id"
    salesforce_client_secret: str = "demo-client-secret"
    salesforce_refresh_token: str = "demo-refresh-token"
    hubspot_token: str = "demo-hubspot-token"
    google_ads_developer_token: str = "demo-developer-token"


class EmulatorState:
    """The org being served, the simulated clock, issued tokens and the fault configuration."""

    def __init__(
        self,
        seed: int,
        scale: str,
        as_of: dt.date,
        dirty_rate: float | None = None,
        faults: Faults | None = None,
        credentials: Credentials | None = None,
    ):
        self.seed, self.scale, self.as_of, self.dirty_rate = seed, scale, as_of, dirty_rate
        self.faults = faults or Faults()
        self.credentials = credentials or Credentials()
        self.lock = threading.RLock()
        self.fault_rng = random.Random(seed * 7919 + 17)
        self.advanced_days = 0
        self.horizon_days = HORIZON_BUFFER_DAYS
        self.org = Org.generate(seed, scale, as_of, self.horizon_days, dirty_rate)
        self.view: OrgView = self.org.view(as_of)
        self._clock_base = time.monotonic()
        self.tokens: dict[str, dict] = {}  # access token -> {"api": ..., "calls": n}
        self.calls = 0
        self.api_usage: dict[str, int] = {}
        self.extensions: dict[str, object] = {}  # per-API state (cursors, bulk jobs, ...)

    # -- time
    def now(self) -> dt.datetime:
        """Simulated time: 02:00 UTC the night after the view day, plus real time elapsed."""
        return self.view.now + dt.timedelta(seconds=time.monotonic() - self._clock_base)

    def advance(self, days: int) -> None:
        if days < 0:
            raise ValueError("days must be >= 0")
        with self.lock:
            target = self.advanced_days + days
            if target > self.horizon_days:
                self.horizon_days = target + HORIZON_BUFFER_DAYS
                self.org = Org.generate(
                    self.seed, self.scale, self.as_of, self.horizon_days, self.dirty_rate
                )
            self.advanced_days = target
            self.view = self.org.view(self.as_of + dt.timedelta(days=target))
            self._clock_base = time.monotonic()
            self.extensions.clear()

    # -- tokens
    def issue_token(self, api: str, prefix: str = "") -> str:
        token = prefix + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = {"api": api, "calls": 0}
        return token

    def token_valid(self, token: str | None, api: str) -> bool:
        """Count a call on a token; expire it every ``token_expiry`` calls when that fault is on."""
        with self.lock:
            info = self.tokens.get(token or "")
            if not info or info["api"] != api:
                return False
            info["calls"] += 1
            every = self.faults.token_expiry
            if every and info["calls"] > every:
                del self.tokens[token]
                return False
            return True

    def roll(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self.lock:
            return self.fault_rng.random() < probability


# ------------------------------------------------------------------------------ server
ROUTER = Router()
DIALECTS: dict[str, ApiDialect] = {"admin": ApiDialect()}


def dispatch(state: EmulatorState, request: Request) -> Response:
    route, match, path_known = ROUTER.match(request.method, request.path)
    if route is None:
        dialect = _dialect_for_path(request.path)
        status = 405 if path_known else 404
        return _refusal(
            state,
            dialect,
            request,
            dialect.error(
                "NOT_FOUND", status, f"The requested resource does not exist: {request.path}"
            ),
        )
    dialect = DIALECTS.get(route.api, DIALECTS["admin"])
    if route.api != "admin":
        with state.lock:
            state.calls += 1
            state.api_usage[route.api] = state.api_usage.get(route.api, 0) + 1
        fault = _generic_fault(state, dialect, request, route)
        if fault is not None:
            return _refusal(state, dialect, request, fault)
        if route.authenticated:
            denied = dialect.authenticate(state, request)
            if denied is not None:
                return _refusal(state, dialect, request, denied)
    response = route.handler(state, request, match)
    dialect.decorate(state, request, response)
    return response


def _refusal(
    state: EmulatorState, dialect: ApiDialect, request: Request, response: Response
) -> Response:
    if dialect.decorates_refusals:
        dialect.decorate(state, request, response)
    return response


def _dialect_for_path(path: str) -> ApiDialect:
    if path.startswith("/services/"):
        return DIALECTS.get("salesforce", DIALECTS["admin"])
    if path.startswith(("/crm/", "/email/")):
        return DIALECTS.get("hubspot", DIALECTS["admin"])
    if re.match(r"^/v\d+/customers/", path):
        return DIALECTS.get("google_ads", DIALECTS["admin"])
    return DIALECTS["admin"]


def _generic_fault(
    state: EmulatorState, dialect: ApiDialect, request: Request, route: Route
) -> Response | None:
    faults = state.faults
    if state.roll(faults.slow):
        time.sleep(faults.slow_seconds)
    if state.roll(faults.disconnect):
        raise Disconnect()
    # API allocations count data calls: the OAuth token endpoints never answer with them.
    if route.authenticated and state.roll(faults.daily_limit):
        return dialect.fault(state, request, "daily_limit", 0, "daily limit")
    if state.roll(faults.rate_limit):
        return dialect.fault(state, request, "rate_limit", 429, "rate limit")
    if state.roll(faults.server_error):
        return dialect.fault(state, request, "server_error", 503, "server error")
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, the body's last
    # segment waits for the client's delayed ACK (~40 ms per response).
    disable_nagle_algorithm = True
    server_version = "salesops-emulator"
    sys_version = ""

    def log_message(self, format, *args):
        pass

    def _serve(self) -> None:
        state: EmulatorState = self.server.state  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        scheme = "https" if getattr(self.server, "tls", False) else "http"
        host = (
            self.headers.get("Host")
            or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        )
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"{scheme}://{host}",
        )
        try:
            response = dispatch(state, request)
        except Disconnect:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        except Exception as exc:  # an emulator bug must still answer like a server would
            response = Response.json(
                {"error": "internal", "message": f"{type(exc).__name__}: {exc}"}, 500
            )
        payload = response.body
        truncated = (
            state.roll(state.faults.truncate)
            and len(payload) > 2
            and request.path.startswith(("/services/", "/crm/", "/email/", "/v"))
        )
        self.log_request(response.status)
        self.send_response_only(response.status)
        self.send_header("Server", self.server_version)
        self.send_header(
            "Date", email.utils.format_datetime(state.now().astimezone(dt.UTC), usegmt=True)
        )
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if truncated:
            # Announce the full length but send half of it, then drop the connection.
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _serve


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state: EmulatorState, tls_context=None):
        super().__init__(address, _Handler)
        self.state = state
        self.tls = tls_context is not None
        if tls_context is not None:
            # The handshake happens on the first read, in the request's own thread: a client that
            # connects and stalls must not block the accept loop.
            self.socket = tls_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # failed TLS handshakes, resets, broken pipes
            return
        super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"


def load_api_modules() -> None:
    """Import the API modules so their routes and dialects register (idempotent)."""
    from emulator.server import admin  # noqa: F401

    for name in ("salesforce", "hubspot", "google_ads"):
        try:
            __import__(f"emulator.server.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"emulator.server.{name}":
                raise


def make_server(
    state: EmulatorState, host: str = "127.0.0.1", port: int = 0, tls_context=None
) -> EmulatorHTTPServer:
    load_api_modules()
    return EmulatorHTTPServer((host, port), state, tls_context)
