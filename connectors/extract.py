"""Run the enabled connectors into the warehouse, without Dagster (``salesops extract``).

Sources are listed once, in :data:`SOURCES`: a name, the environment variables that enable it
(CONFIG.md) and the function that builds it from the environment. Adding HubSpot or Google Ads
is one entry there. Secrets are read from the environment when a run starts, never earlier.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from connectors.destinations.factory import destination_from_env
from connectors.http import FatalApiError
from connectors.streams import ProgressCallback, Source, StreamRun, sync_source
from salesops.config import ConfigError, load_settings


@dataclass(frozen=True)
class SourceEntry:
    """A source the extract command can run: enabled when every ``required_env`` is set."""

    name: str
    required_env: tuple[str, ...]
    factory: str  # "module:function", called with the environment mapping

    def enabled(self, env: Mapping[str, str]) -> bool:
        return all(env.get(name, "").strip() for name in self.required_env)

    def build(self, env: Mapping[str, str]) -> Source:
        module, _, function = self.factory.partition(":")
        return getattr(importlib.import_module(module), function)(env)


SOURCES: dict[str, SourceEntry] = {
    entry.name: entry
    for entry in (
        SourceEntry(
            "salesforce",
            ("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"),
            "connectors.salesforce:from_env",
        ),
        SourceEntry("hubspot", ("HUBSPOT_ACCESS_TOKEN",), "connectors.hubspot:from_env"),
        SourceEntry(
            "google_ads", ("GOOGLE_ADS_DEVELOPER_TOKEN",), "connectors.google_ads:from_env"
        ),
    )
}


@dataclass
class ExtractResult:
    runs: list[StreamRun] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(run.status == "success" for run in self.runs)


def choose_sources(names: Collection[str] | None, env: Mapping[str, str]) -> list[SourceEntry]:
    """The sources to run: those named, or every enabled one. Raises ``ConfigError``."""
    if names:
        unknown = sorted(set(names) - set(SOURCES))
        if unknown:
            raise ConfigError(
                f"unknown source(s) {', '.join(unknown)}; available: {', '.join(SOURCES)}"
            )
        chosen = [SOURCES[name] for name in dict.fromkeys(names)]
        for entry in chosen:
            if not entry.enabled(env):
                raise ConfigError(
                    f"source {entry.name} is not configured: set {' and '.join(entry.required_env)}"
                )
        return chosen
    chosen = [entry for entry in SOURCES.values() if entry.enabled(env)]
    if not chosen:
        needs = "; ".join(f"{e.name}: {' and '.join(e.required_env)}" for e in SOURCES.values())
        raise ConfigError(f"no source is configured. Set the variables of at least one ({needs})")
    return chosen


def extract(
    sources: Collection[str] | None = None,
    streams: Collection[str] | None = None,
    *,
    full_refresh: bool = False,
    env: Mapping[str, str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> ExtractResult:
    """Run the chosen sources into the ``SALESOPS_DESTINATION`` (``SALESOPS_WAREHOUSE`` for
    DuckDB), one after another.

    Configuration problems raise ``ConfigError``; API and stream failures are collected in the
    result so that the other sources still run.
    """
    env = os.environ if env is None else env
    settings = load_settings(env)
    destination_from_env(env, warehouse=settings.warehouse)  # configuration errors first
    entries = choose_sources(sources, env)
    result = ExtractResult()
    matched: set[str] = set()
    for entry in entries:
        source = entry.build(env)
        try:
            matched |= _run_source(
                source, env, settings.warehouse, streams, full_refresh, on_progress, result
            )
        except FatalApiError as exc:
            result.errors.append(f"{entry.name}: {exc}")
        except Exception as exc:  # reported; the next source still runs
            result.errors.append(f"{entry.name}: {type(exc).__name__}: {exc}")
        finally:
            source.close()
    unknown = {s.lower() for s in streams or ()} - matched
    if unknown and not result.errors:
        raise ConfigError(
            f"unknown stream(s) {', '.join(sorted(unknown))} for {', '.join(e.name for e in entries)}; "
            "name a stream by its table (opportunity) or object (Opportunity)"
        )
    return result


def _run_source(
    source: Source,
    env: Mapping[str, str],
    warehouse: Path,
    streams: Collection[str] | None,
    full_refresh: bool,
    on_progress: ProgressCallback | None,
    result: ExtractResult,
) -> set[str]:
    """Sync one source; returns the stream names it matched (lower case)."""
    specs = source.streams(streams)
    destination = destination_from_env(env, clock=_server_clock(source), warehouse=warehouse)
    with destination.open_sync(source.name) as sync:
        runs = sync_source(source, sync, specs, full_refresh=full_refresh, on_progress=on_progress)
    result.runs += runs
    result.errors += [f"{source.name} {run.stream}: {run.error}" for run in runs if run.error]
    return {n.lower() for spec in specs for n in (spec.name, spec.resource)}


def _server_clock(source: Source) -> Callable[[], datetime]:
    """``_synced_at`` from the API server's clock, like the windows; local time before any call."""
    return lambda: source.client.server_now or datetime.now(UTC)


# --------------------------------------------------------------------------------------------
# Terminal display
# --------------------------------------------------------------------------------------------


class ProgressDisplay:
    """Progress on a terminal: one line per stream, rewritten in place. When ``out`` is not a
    terminal (a log file, CI), plain lines: one when a stream ends, and one every
    ``interval`` seconds while a long stream runs."""

    def __init__(self, out: TextIO | None = None, *, interval: float = 10.0) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.interval = interval if not self.tty else 0.1
        self._last: dict[tuple[str, str], float] = {}

    def __call__(self, run: StreamRun) -> None:
        key = (run.source, run.stream)
        finished = run.status != "running"
        now = time.monotonic()
        last = self._last.setdefault(key, now if not self.tty else -self.interval)
        if not finished and now - last < self.interval:
            return
        self._last[key] = now
        line = format_run(run)
        if self.tty:
            self.out.write("\r\033[K" + line + ("\n" if finished else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()


def format_run(run: StreamRun) -> str:
    status = {"running": "...", "success": "ok", "failed": "FAILED"}.get(run.status, run.status)
    parts = [
        f"{run.source} {run.stream:<32} {status:<6}",
        f"{run.fetched:>9,} records",
        f"{run.pages:>5,} pages",
        f"{run.records_per_second:>8,.0f} rec/s",
        f"{run.retries} retries",
    ]
    if run.status != "running":
        parts.append(
            f"+{run.inserted:,} ~{run.updated:,} -{run.deleted:,} quarantined {run.quarantined:,}"
        )
        parts.append(f"{run.mode} {run.seconds:.1f}s")
    return "  ".join(parts)


def summary(result: ExtractResult) -> str:
    fetched = sum(run.fetched for run in result.runs)
    failed = [run for run in result.runs if run.status != "success"]
    return (
        f"{len(result.runs) - len(failed)}/{len(result.runs)} streams ok, "
        f"{fetched:,} records fetched"
    )


def main(
    sources: Sequence[str] | None = None,
    streams: Sequence[str] | None = None,
    *,
    full_refresh: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command: 0 when every stream succeeded, 1 otherwise (errors on ``err``)."""
    out, err = out or sys.stdout, err or sys.stderr
    result = extract(sources, streams, full_refresh=full_refresh, on_progress=ProgressDisplay(out))
    out.write(summary(result) + "\n")
    for error in result.errors:
        err.write(f"salesops extract: error: {error}\n")
    return 0 if result.ok else 1
