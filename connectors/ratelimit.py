"""Client-side throttling: a thread-safe token bucket per API (and one for HubSpot search).

HubSpot publishes no rate-limit headers for search and shares its ten-second bucket across every
app of the portal, so the only reliable way to stay under the limits is to pace ourselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Defaults from the API docs, kept under the published limits: HubSpot allows 100-250 requests
# per 10 s depending on the plan, and about 5 search requests per second.
HUBSPOT_REQUESTS_PER_SECOND = 9.0
HUBSPOT_SEARCH_REQUESTS_PER_SECOND = 4.0


class TokenBucket:
    """Allows ``max_requests`` per ``interval`` seconds, with bursts of at most ``burst``.

    ``acquire()`` blocks until a token is available. Tokens are reserved under the lock and the
    wait happens outside it, so concurrent callers queue up fairly instead of all waking at once.
    ``clock`` and ``sleep`` are injectable so tests need not wait.
    """

    def __init__(
        self,
        max_requests: float,
        interval: float = 1.0,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests <= 0 or interval <= 0:
            raise ValueError("max_requests and interval must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = max_requests / interval
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()
        self.waited_seconds = 0.0

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}/s, burst={self.burst:g})"

    def acquire(self, tokens: float = 1.0) -> float:
        """Take ``tokens``, sleeping as long as needed. Returns the seconds waited."""
        wait = self._reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _reserve(self, tokens: float) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            # Going negative is a reservation: the debt is what later callers must wait out.
            self._tokens -= tokens
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            self.waited_seconds += wait
            return wait


@dataclass(frozen=True)
class RateLimits:
    """Requests per second for each API; ``None`` means no client-side limit."""

    salesforce: float | None = None
    hubspot: float | None = HUBSPOT_REQUESTS_PER_SECOND
    hubspot_search: float | None = HUBSPOT_SEARCH_REQUESTS_PER_SECOND
    google_ads: float | None = None

    def bucket(
        self,
        api: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> TokenBucket | None:
        """A fresh bucket for ``api`` (a field name of this class), or ``None`` if unlimited."""
        if api not in self.__dataclass_fields__:
            raise ValueError(f"unknown API {api!r}; use one of {sorted(self.__dataclass_fields__)}")
        per_second = getattr(self, api)
        return None if per_second is None else TokenBucket(per_second, clock=clock, sleep=sleep)
