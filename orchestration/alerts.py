"""Alerts: one per failed run (every failed step and gate) and one per stale mart.

Both are posted as JSON to ``SALESOPS_ALERT_WEBHOOK_URL`` in Slack's incoming-webhook format
(``text`` plus ``blocks``, with a link to the run in the Dagster UI at ``SALESOPS_DAGSTER_URL``,
default ``http://127.0.0.1:3000``). No URL set: alerts are off.

Who sends them, and why never twice:

* **the run itself**: the run finalizer (:mod:`orchestration.finalize`) runs in the run worker
  after the last step, so alerts work without the daemon. It tags the run
  :data:`ALERT_TAG` once the webhook accepted the message.
* **the daemon**, when it runs: ``run_failure_sensor`` (a backstop for runs whose worker died
  before finalizing, or that failed before any step ran) skips runs that carry the tag. A run's
  failure event is written only after its finalizer returned, so the two never race.
* **stale marts**: the finalizer and the freshness sensor both call :func:`alert_stale_marts`;
  the instance's key-value store remembers, per mart, the materialization an alert was sent for
  (:data:`STALE_KV_PREFIX`), so each staleness episode alerts once.

Messages carry step keys, check names and error messages, never configuration: every value of
a secret variable (webhook URL included) is masked before anything is posted or logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg
import requests
from dagster import DagsterEventType
from filelock import FileLock

from orchestration.asof import AS_OF_TAG
from salesops.config import load_settings

log = logging.getLogger(__name__)

ALERT_TAG = "salesops/alert"
STALE_KV_PREFIX = "salesops/stale_alert/"
MART_PREFIX = "marts"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
DEFAULT_MAX_AGE_HOURS = 26.0  # a nightly cadence plus two hours of grace
# Values that must never leave the process in an alert or a log line (CONFIG.md).
SECRET_VARIABLES = (
    "SALESOPS_ALERT_WEBHOOK_URL",
    "SALESOPS_POSTGRES_PASSWORD",
    "SALESFORCE_CLIENT_ID",
    "SALESFORCE_CLIENT_SECRET",
    "SALESFORCE_REFRESH_TOKEN",
    "HUBSPOT_ACCESS_TOKEN",
    "GOOGLE_ADS_DEVELOPER_TOKEN",
    "GOOGLE_ADS_CLIENT_ID",
    "GOOGLE_ADS_CLIENT_SECRET",
    "GOOGLE_ADS_REFRESH_TOKEN",
)
_MAX_MESSAGE = 400
_MAX_ITEMS = 20


# --------------------------------------------------------------------------------------------
# Masking and posting
# --------------------------------------------------------------------------------------------


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    values = {environ.get(name, "").strip() for name in SECRET_VARIABLES}
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


def redact(text: str, secrets: Sequence[str] | None = None) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, "***")
    return text


def dagster_url() -> str:
    return (os.environ.get("SALESOPS_DAGSTER_URL", "").strip() or DEFAULT_DAGSTER_URL).rstrip("/")


def run_url(run_id: str) -> str:
    return f"{dagster_url()}/runs/{run_id}"


def post_alert(payload: Mapping, webhook_url: str, *, attempts: int = 3) -> bool:
    """Post ``payload``; True when the webhook answered 2xx. Failures are logged without the
    URL (it is a secret) and retried on connection errors, 429 and 5xx."""
    body = redact(json.dumps(payload))
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(
                webhook_url,
                data=body.encode(),
                headers={"Content-Type": "application/json"},
                timeout=10,
            )
        except requests.RequestException as exc:
            reason = type(exc).__name__  # the message would contain the URL
        else:
            if response.ok:
                return True
            reason = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                attempts = attempt  # a 4xx will not get better
        log.warning("alert webhook: attempt %d failed (%s)", attempt, reason)
        if attempt < attempts:
            time.sleep(min(2 ** (attempt - 1), 5))
    log.error("alert webhook: giving up (check SALESOPS_ALERT_WEBHOOK_URL; the value is not shown)")
    return False


def webhook_url() -> str | None:
    """``SALESOPS_ALERT_WEBHOOK_URL``, read and validated now; ``None``: alerts are off."""
    return load_settings().alert_webhook_url


# --------------------------------------------------------------------------------------------
# What failed in a run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedStep:
    step_key: str
    error: str


@dataclass(frozen=True)
class FailedGate:
    asset_key: str
    check_name: str
    severity: str
    detail: str


@dataclass
class RunFailures:
    steps: list[FailedStep] = field(default_factory=list)
    gates: list[FailedGate] = field(default_factory=list)
    run_error: str | None = None  # a failure outside any step (sensor path only)

    def __bool__(self) -> bool:
        return bool(self.steps or self.gates or self.run_error)


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def error_text(error) -> str:
    """``Class: message`` of the error that matters: Dagster's wrapper exceptions are skipped
    for their cause, ``Failure`` shows just its description, and only the first two lines of
    the message are kept."""
    if error is None:
        return "failed"
    while error.cls_name in _WRAPPERS and error.cause is not None:
        error = error.cause
    message = re.sub(
        rf"^([\w.]+\.)?{re.escape(error.cls_name)}:\s*", "", (error.message or "").strip()
    )
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    text = " ".join(lines[:2])
    if error.cls_name in ("Failure", *_WRAPPERS):
        return text or error.cls_name
    return f"{error.cls_name}: {text}".strip()


def _check_detail(evaluation) -> str:
    if evaluation.description:
        return _short(evaluation.description)
    parts = []
    for key in ("failures", "dagster_dbt/failed_row_count", "status"):
        value = evaluation.metadata.get(key)
        if value is not None:
            parts.append(f"{key.split('/')[-1]}: {getattr(value, 'value', value)}")
    return _short(", ".join(parts)) or "failed"


def collect_failures(instance: dg.DagsterInstance, run_id: str) -> RunFailures:
    """Every failed step (after its retries) and every failed check of severity ERROR (a gate)
    of ``run_id``, from the event log."""
    failures = RunFailures()
    records = instance.get_records_for_run(
        run_id,
        of_type={
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.ASSET_CHECK_EVALUATION,
            DagsterEventType.RUN_FAILURE,
        },
        limit=1000,
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        data = event.event_specific_data
        if event.event_type == DagsterEventType.STEP_FAILURE:
            failures.steps.append(
                FailedStep(event.step_key or "?", _short(error_text(getattr(data, "error", None))))
            )
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                failures.gates.append(
                    FailedGate(
                        data.asset_key.to_user_string(),
                        data.check_name,
                        data.severity.value.lower(),
                        _check_detail(data),
                    )
                )
        elif event.event_type == DagsterEventType.RUN_FAILURE:
            failures.run_error = _short(event.message or "the run failed")
    return failures


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _bullets(lines: Iterable[str]) -> str:
    lines = list(lines)
    shown = lines[:_MAX_ITEMS]
    if len(lines) > len(shown):
        shown.append(f"… and {len(lines) - len(shown)} more")
    return "\n".join(f"• {line}" for line in shown)


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def run_failure_message(run: dg.DagsterRun, failures: RunFailures) -> dict:
    """The Slack message of a failed run: title, failed steps, failed gates, link."""
    url = run_url(run.run_id)
    as_of = run.tags.get(AS_OF_TAG)
    counts = f"{len(failures.steps)} failed step(s), {len(failures.gates)} failed gate(s)"
    title = f"salesops: {run.job_name} failed"
    summary = f"{title} (run {run.run_id[:8]}{', as of ' + as_of if as_of else ''}): {counts}"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        _section(f"*Run* `{run.run_id}`" + (f"  *as of* {as_of}" if as_of else "")),
    ]
    if failures.steps:
        lines = (f"`{s.step_key}`: {s.error}" for s in failures.steps)
        blocks.append(_section("*Failed steps*\n" + _bullets(lines)))
    if failures.gates:
        lines = (
            f"`{g.asset_key}` `{g.check_name}` ({g.severity}): {g.detail}" for g in failures.gates
        )
        blocks.append(_section("*Failed gates*\n" + _bullets(lines)))
    if failures.run_error and not failures.steps:
        blocks.append(_section(f"*Run failure*\n{failures.run_error}"))
    blocks.append(_section(f"<{url}|Open the run in Dagster>  ·  runbook: docs/operations.md"))
    return {"text": f"{summary} {url}", "blocks": blocks}


def stale_mart_message(
    asset_key: str, last: dt.datetime, age: dt.timedelta, max_age: dt.timedelta
) -> dict:
    hours = age.total_seconds() / 3600
    title = f"salesops: mart {asset_key} is stale"
    detail = (
        f"`{asset_key}` was last refreshed {last.isoformat(timespec='minutes')} "
        f"({hours:.1f} h ago; limit {max_age.total_seconds() / 3600:.0f} h)."
    )
    url = f"{dagster_url()}/assets/{asset_key}"
    return {
        "text": f"{title}: last refreshed {hours:.1f} h ago {url}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            _section(detail),
            _section(f"<{url}|Open the asset in Dagster>  ·  runbook: docs/operations.md"),
        ],
    }


# --------------------------------------------------------------------------------------------
# Sending, once
# --------------------------------------------------------------------------------------------


def _sending(instance: dg.DagsterInstance):
    """A lock around check-post-record, so two processes on this host never both send."""
    root = getattr(instance, "root_directory", None)
    if not root:
        return contextlib.nullcontext()
    return FileLock(os.path.join(root, ".salesops-alerts.lock"), timeout=60)


def alert_failed_run(instance: dg.DagsterInstance, run_id: str, *, origin: str) -> bool:
    """Post the alert of ``run_id`` unless it was sent already or nothing failed; tag the run
    when the webhook accepted it. ``origin`` (``run`` or ``sensor``) is recorded in the tag."""
    with _sending(instance):
        return _alert_failed_run(instance, run_id, origin)


def _alert_failed_run(instance: dg.DagsterInstance, run_id: str, origin: str) -> bool:
    url = webhook_url()
    run = instance.get_run_by_id(run_id)
    if url is None or run is None or run.tags.get(ALERT_TAG):
        return False
    failures = collect_failures(instance, run_id)
    if not failures:
        return False
    if not post_alert(run_failure_message(run, failures), url):
        return False
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    instance.add_run_tags(run_id, {ALERT_TAG: f"sent {stamp} by {origin}"})
    return True


def max_mart_age() -> dt.timedelta:
    raw = os.environ.get("SALESOPS_MART_MAX_AGE_HOURS", "").strip()
    try:
        hours = float(raw) if raw else DEFAULT_MAX_AGE_HOURS
    except ValueError as exc:
        raise ValueError(
            f"SALESOPS_MART_MAX_AGE_HOURS={raw!r} must be a number of hours, e.g. 26"
        ) from exc
    return dt.timedelta(hours=hours)


def mart_keys(
    instance: dg.DagsterInstance, known: Iterable[dg.AssetKey] | None = None
) -> list[dg.AssetKey]:
    """The marts (keys ``marts/<model>``): those of the definitions when given, else every one
    the instance has seen."""
    if known is not None:
        return sorted(k for k in known if k.path[:1] == [MART_PREFIX])
    return sorted(instance.get_asset_keys(prefix=[MART_PREFIX]))


@dataclass(frozen=True)
class StaleMart:
    key: dg.AssetKey
    last: dt.datetime
    age: dt.timedelta


def stale_marts(
    instance: dg.DagsterInstance,
    keys: Iterable[dg.AssetKey],
    *,
    now: dt.datetime,
    max_age: dt.timedelta,
) -> list[StaleMart]:
    """Marts materialized at least once whose latest materialization is older than ``max_age``."""
    stale = []
    for key in keys:
        entry = instance.get_latest_materialization_event(key)
        if entry is None:
            continue  # never built: not stale, missing (the run alert covers the failure)
        last = dt.datetime.fromtimestamp(entry.timestamp, dt.UTC)
        if now - last > max_age:
            stale.append(StaleMart(key, last, now - last))
    return stale


def alert_stale_marts(
    instance: dg.DagsterInstance,
    keys: Iterable[dg.AssetKey],
    *,
    now: dt.datetime | None = None,
    max_age: dt.timedelta | None = None,
) -> list[str]:
    """Post one alert per stale mart not alerted for its current materialization; returns the
    marts alerted now."""
    url = webhook_url()
    if url is None:
        return []
    now = now or dt.datetime.now(dt.UTC)
    max_age = max_age or max_mart_age()
    stale = stale_marts(instance, keys, now=now, max_age=max_age)
    if not stale:
        return []
    with _sending(instance):
        return _alert_stale(instance, stale, url, max_age)


def _alert_stale(
    instance: dg.DagsterInstance, stale: list[StaleMart], url: str, max_age: dt.timedelta
) -> list[str]:
    kv_keys = {STALE_KV_PREFIX + s.key.to_user_string() for s in stale}
    sent = instance.run_storage.get_cursor_values(kv_keys)
    alerted = []
    for mart in stale:
        kv_key = STALE_KV_PREFIX + mart.key.to_user_string()
        marker = f"{mart.last.timestamp():.6f}"
        if sent.get(kv_key) == marker:
            continue
        message = stale_mart_message(mart.key.to_user_string(), mart.last, mart.age, max_age)
        if post_alert(message, url):
            instance.run_storage.set_cursor_values({kv_key: marker})
            alerted.append(mart.key.to_user_string())
    return alerted
