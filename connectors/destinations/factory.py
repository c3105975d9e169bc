"""The destination ``SALESOPS_DESTINATION`` names (CONFIG.md), built from the environment.

Every caller that lands raw data (``salesops extract``, the Dagster ingest assets) goes
through :func:`destination_from_env`, so adding a destination is one branch here. Drivers are
imported only when their destination is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from connectors.destinations.base import Destination
from connectors.destinations.duckdb import DuckDBDestination, utc_now
from salesops.config import ConfigError, load_settings


def destination_from_env(
    env: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    warehouse: Path | None = None,
) -> Destination:
    """``duckdb`` (``warehouse`` or ``SALESOPS_WAREHOUSE``), ``postgres`` (the
    ``SALESOPS_POSTGRES_*`` variables) or ``parquet`` (the lake under ``SALESOPS_LAKE_ROOT``).
    Raises :class:`ConfigError` naming the variable."""
    env = os.environ if env is None else env
    settings = load_settings(env)
    if settings.destination == "duckdb":
        return DuckDBDestination(warehouse or settings.warehouse, clock=clock)
    if settings.destination == "postgres":
        from connectors.destinations.postgres import PostgresConfigError, PostgresDestination

        try:
            return PostgresDestination.from_env(env, clock=clock)
        except PostgresConfigError as exc:
            raise ConfigError(str(exc)) from None
    if settings.destination == "parquet":
        from connectors.destinations.parquet import ParquetDestination

        return ParquetDestination(settings.lake_root, clock=clock)
    raise ConfigError(
        f"SALESOPS_DESTINATION={settings.destination!r} has no destination in this build yet; "
        "use duckdb, postgres or parquet."
    )
