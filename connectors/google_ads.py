"""Google Ads: daily campaign metrics through ``googleAds:searchStream`` (shared reference 3.1).

One stream, ``campaign_daily_metrics`` (``raw_google_ads``), primary key ``(customer_id,
campaign_id, date)``:

* **GAQL** over ``FROM campaign`` with ``segments.date BETWEEN 'first' AND 'last'``, ordered by
  date and campaign, in date chunks of ``chunk_days`` (default 90) so a backfill is a handful of
  bounded calls. The response is a JSON array of batches (up to 10,000 rows each); every batch
  becomes a page. int64 values arrive as strings and are converted exactly (a value that is not
  an integer is passed on as text and quarantined by the destination); proto3 JSON leaves out
  zero values, so a missing metric is 0.
* **restatement**: Google Ads restates recent days (conversions arrive late), so every run
  re-pulls a trailing window of ``repull_days`` (default 7): the runner's bookmark is the last
  date seen and reading starts ``repull_days`` earlier. Restated rows are updated in place and
  their earlier values stay in ``campaign_daily_metrics__versions``.
* **first run** (and ``--full-refresh``) backfills from ``start_date``, by default three years
  before the server's today. "Today" is the API server's clock (``Date`` header) in the account's
  time zone (``customer.time_zone``), never the local clock.
* **auth**: :class:`connectors.auth.GoogleAdsOAuth` (refresh-token grant, refreshed before
  ``expires_in`` runs out and once on a 401) plus the ``developer-token`` and, through a manager
  account, ``login-customer-id`` headers. A daily quota error stops the run, a temporary one is
  retried (:func:`connectors.http.classify_google_ads`).

Known limit: rows whose metrics are all zero are left out by the API, so a day restated to all
zeros would keep its earlier row; the emulator, like the real API in practice, only restates
upwards.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.auth import GoogleAdsOAuth
from connectors.http import ApiError, HttpClient, google_ads_profile
from connectors.hubspot import base_url_from_env
from connectors.streams import Page, Source, StreamSpec, Window
from salesops.config import ConfigError

log = logging.getLogger(__name__)

SOURCE = "google_ads"
DEFAULT_BASE_URL = "https://googleads.googleapis.com"
TABLE = "campaign_daily_metrics"
COLUMNS = {
    "customer_id": "VARCHAR",
    "campaign_id": "VARCHAR",
    "campaign_name": "VARCHAR",
    "campaign_status": "VARCHAR",
    "date": "DATE",
    "cost_micros": "BIGINT",
    "clicks": "BIGINT",
    "impressions": "BIGINT",
    "conversions": "DOUBLE",
}
PRIMARY_KEY = ("customer_id", "campaign_id", "date")
SELECT = (
    "customer.id, campaign.id, campaign.name, campaign.status, segments.date, "
    "metrics.cost_micros, metrics.clicks, metrics.impressions, metrics.conversions"
)


@dataclass(frozen=True)
class GoogleAdsSettings:
    """Tunables of the Google Ads source."""

    customer_id: str
    api_version: int = 21
    start_date: date | None = None  # None: three years before the server's today
    backfill_years: int = 3
    repull_days: int = 7
    chunk_days: int = 90
    checkpoint_pages: int = 5


def customer_id_from(value: str, name: str = "GOOGLE_ADS_CUSTOMER_ID") -> str:
    """A customer id of digits; dashes (``123-456-7890``) are dropped."""
    digits = value.strip().replace("-", "")
    if not digits.isdigit():
        raise ConfigError(
            f"{name} must be a Google Ads customer id of digits (dashes allowed), "
            f"e.g. 123-456-7890; got {value!r}"
        )
    return digits


def gaql(first: date, last: date) -> str:
    """The daily campaign metrics of ``first`` to ``last`` (inclusive)."""
    return (
        f"SELECT {SELECT} FROM campaign "
        f"WHERE segments.date BETWEEN '{first.isoformat()}' AND '{last.isoformat()}' "
        "ORDER BY segments.date, campaign.id"
    )


def _int64(value: Any) -> Any:
    """An int64 JSON value (a string) as an int; absent is 0 (proto3); anything else as is."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _double(value: Any) -> Any:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return str(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def parse_row(row: Mapping[str, Any], customer_id: str) -> dict[str, Any]:
    """One ``searchStream`` result as a warehouse row."""
    campaign = row.get("campaign") or {}
    customer = row.get("customer") or {}
    metrics = row.get("metrics") or {}
    segments = row.get("segments") or {}
    return {
        "customer_id": str(customer.get("id") or customer_id),
        "campaign_id": None if campaign.get("id") is None else str(campaign["id"]),
        "campaign_name": campaign.get("name"),
        "campaign_status": campaign.get("status"),
        "date": segments.get("date"),
        "cost_micros": _int64(metrics.get("costMicros")),
        "clicks": _int64(metrics.get("clicks")),
        "impressions": _int64(metrics.get("impressions")),
        "conversions": _double(metrics.get("conversions")),
    }


class GoogleAdsSource(Source):
    """Campaign daily metrics of one Google Ads account; see the module docstring."""

    name = SOURCE

    def __init__(self, client: HttpClient, settings: GoogleAdsSettings) -> None:
        self.client = client
        self.settings = settings
        self.customer_id = customer_id_from(settings.customer_id)
        self._time_zone: ZoneInfo | None = None

    def __repr__(self) -> str:
        return f"GoogleAdsSource(customer_id={self.customer_id!r})"

    @property
    def path(self) -> str:
        return f"/v{self.settings.api_version}/customers/{self.customer_id}/googleAds:searchStream"

    def streams(self, names: Collection[str] | None = None) -> list[StreamSpec]:
        if names and not {n.lower() for n in names} & {TABLE, "campaign"}:
            return []
        return [
            StreamSpec(
                name=TABLE,
                resource="campaign",
                primary_key=PRIMARY_KEY,
                cursor_field="date",
                lookback=timedelta(days=self.settings.repull_days),
                checkpoint_pages=self.settings.checkpoint_pages,
                columns=tuple(COLUMNS),
            )
        ]

    # -- the clock -------------------------------------------------------------------------

    def server_now(self) -> datetime:
        if self.client.server_now is None or self._time_zone is None:
            self._probe()
        return super().server_now()

    def today(self) -> date:
        """The server's date in the account's time zone."""
        return self.server_now().astimezone(self._time_zone or UTC).date()

    def _probe(self) -> None:
        """One small query: the account's time zone, and the server's clock from ``Date``."""
        query = "SELECT customer.id, customer.time_zone FROM campaign LIMIT 1"
        rows = [r for batch in self._stream(query) for r in batch]
        name = (rows[0].get("customer") or {}).get("timeZone") if rows else None
        try:
            self._time_zone = ZoneInfo(name) if name else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("google_ads: unknown account time zone %r; using UTC", name)
            self._time_zone = ZoneInfo("UTC")

    # -- reading ---------------------------------------------------------------------------

    def read(self, spec: StreamSpec, window: Window) -> Iterator[Page]:
        today = self.today()
        if window.start is not None:
            first = window.start.astimezone(UTC).date()
        else:
            first = self.settings.start_date or _years_before(today, self.settings.backfill_years)
        last = today
        if window.end is not None:
            last = min(today, (window.end - timedelta(microseconds=1)).astimezone(UTC).date())
        step = timedelta(days=max(1, self.settings.chunk_days))
        chunk_start = first
        while chunk_start <= last:
            chunk_end = min(last, chunk_start + step - timedelta(days=1))
            log.info("google_ads: %s to %s", chunk_start, chunk_end)
            for batch in self._stream(gaql(chunk_start, chunk_end)):
                rows = [parse_row(r, self.customer_id) for r in batch]
                dates = [d for d in (_date(r["date"]) for r in rows) if d is not None]
                newest = max(dates, default=None)
                yield Page(
                    rows,
                    COLUMNS,
                    max_cursor=None if newest is None else datetime.combine(newest, dtime(), UTC),
                )
            chunk_start = chunk_end + timedelta(days=1)

    def _stream(self, query: str) -> Iterator[list[dict[str, Any]]]:
        payload = self.client.post_json(self.path, {"query": query})
        if not isinstance(payload, list):
            raise ApiError(
                "google_ads searchStream: the response is not an array of batches",
                api=SOURCE,
                method="POST",
                path=self.path,
            )
        for batch in payload:
            results = batch.get("results") if isinstance(batch, dict) else None
            yield [r for r in results or [] if isinstance(r, dict)]


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def from_env(
    env: Mapping[str, str] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    **overrides: Any,
) -> GoogleAdsSource:
    """The source configured by CONFIG.md's ``GOOGLE_ADS_*`` variables, read now.

    ``overrides`` replace :class:`GoogleAdsSettings` fields (tests, tuning).
    """
    env = os.environ if env is None else env
    raw_customer = env.get("GOOGLE_ADS_CUSTOMER_ID", "").strip()
    if not raw_customer:
        raise ConfigError(
            "GOOGLE_ADS_CUSTOMER_ID is not set; expected the account's customer id, "
            "e.g. 123-456-7890."
        )
    overrides.setdefault("customer_id", customer_id_from(raw_customer))
    client = HttpClient(
        google_ads_profile(),
        base_url=base_url_from_env(env, "GOOGLE_ADS_BASE_URL", DEFAULT_BASE_URL),
        auth=GoogleAdsOAuth.from_env(env),
        sleep=sleep,
    )
    return GoogleAdsSource(client, GoogleAdsSettings(**overrides))
