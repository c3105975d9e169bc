"""The environment of shared CONFIG.md, read at run time and validated.

Nothing here reads the environment at import time: call :func:`load_settings` when a value is
needed. Relative paths resolve against the project root, never the current directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DESTINATIONS = ("duckdb", "postgres", "parquet")
DBT_TARGETS = ("duckdb", "postgres", "spark")
_CRON_FIELD = re.compile(r"^[\d*/,\-]+$")
_PG_NAME_BYTES = 63  # NAMEDATALEN - 1


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable and the fix."""


def _resolve(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse: Path
    serving: Path
    serving_restricted: Path
    status: Path
    brief: Path
    lake_root: Path
    timezone: str
    nightly_cron: str
    alert_webhook_url: str | None
    destination: str
    dbt_target: str
    postgres_host: str
    postgres_port: int
    postgres_dbname: str
    postgres_serving_dbname: str
    spark_dir: Path

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the CONFIG.md environment. Raises :class:`ConfigError` on bad values."""
    env = os.environ if env is None else env

    def get(name: str, default: str) -> str:
        value = env.get(name, "")
        return value.strip() or default

    data_dir = _resolve(get("SALESOPS_DATA_DIR", "data"), PROJECT_ROOT)

    def path(name: str, filename: str) -> Path:
        raw = env.get(name, "").strip()
        return _resolve(raw, PROJECT_ROOT) if raw else data_dir / filename

    timezone = get("SALESOPS_TIMEZONE", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"SALESOPS_TIMEZONE={timezone!r} is not a known IANA time zone; "
            "use a name such as 'UTC' or 'Europe/Berlin'."
        ) from exc

    cron = get("SALESOPS_NIGHTLY_CRON", "0 2 * * *")
    fields = cron.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ConfigError(
            f"SALESOPS_NIGHTLY_CRON={cron!r} is not a five-field cron expression "
            "(minute hour day-of-month month day-of-week), e.g. '0 2 * * *'."
        )

    destination = get("SALESOPS_DESTINATION", "duckdb")
    if destination not in DESTINATIONS:
        raise ConfigError(
            f"SALESOPS_DESTINATION={destination!r} is not supported; use one of {', '.join(DESTINATIONS)}."
        )
    dbt_target = get("SALESOPS_DBT_TARGET", "duckdb")
    if dbt_target not in DBT_TARGETS:
        raise ConfigError(
            f"SALESOPS_DBT_TARGET={dbt_target!r} is not supported; use one of {', '.join(DBT_TARGETS)}."
        )

    port_raw = get("SALESOPS_POSTGRES_PORT", "5432")
    if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
        raise ConfigError(f"SALESOPS_POSTGRES_PORT={port_raw!r} must be a port number (1-65535).")

    postgres_dbname = get("SALESOPS_POSTGRES_DBNAME", "salesops")
    serving_dbname = get("SALESOPS_POSTGRES_SERVING_DBNAME", f"{postgres_dbname}_serving")
    # PostgreSQL silently truncates longer names, so two long names could meet in one database.
    if len(serving_dbname.encode()) > _PG_NAME_BYTES:
        raise ConfigError(
            f"SALESOPS_POSTGRES_SERVING_DBNAME={serving_dbname!r} is longer than PostgreSQL's "
            f"{_PG_NAME_BYTES}-byte name limit; use a shorter database name."
        )
    # BI reaches the serving database only; sharing the build database would expose raw data.
    if serving_dbname == postgres_dbname:
        raise ConfigError(
            f"SALESOPS_POSTGRES_SERVING_DBNAME={serving_dbname!r} is the build database "
            "(SALESOPS_POSTGRES_DBNAME); the serving database must be a different one, "
            f"e.g. '{postgres_dbname}_serving'."
        )

    spark_dir = path("SALESOPS_SPARK_DIR", "spark")
    if spark_dir.exists() and not spark_dir.is_dir():
        raise ConfigError(
            f"SALESOPS_SPARK_DIR={str(spark_dir)!r} is a file; it must be a directory "
            "(Spark's warehouse and metastore live under it)."
        )

    webhook = env.get("SALESOPS_ALERT_WEBHOOK_URL", "").strip() or None
    if webhook and not webhook.startswith(("http://", "https://")):
        raise ConfigError(
            "SALESOPS_ALERT_WEBHOOK_URL must be an http(s) URL (the value is not shown: it may hold a secret)."
        )

    return Settings(
        data_dir=data_dir,
        warehouse=path("SALESOPS_WAREHOUSE", "warehouse.duckdb"),
        serving=path("SALESOPS_SERVING", "serving.duckdb"),
        serving_restricted=path("SALESOPS_SERVING_RESTRICTED", "serving_restricted.duckdb"),
        status=path("SALESOPS_STATUS", "status.duckdb"),
        brief=path("SALESOPS_BRIEF", "brief.html"),
        lake_root=path("SALESOPS_LAKE_ROOT", "lake"),
        timezone=timezone,
        nightly_cron=cron,
        alert_webhook_url=webhook,
        destination=destination,
        dbt_target=dbt_target,
        postgres_host=get("SALESOPS_POSTGRES_HOST", "127.0.0.1"),
        postgres_port=int(port_raw),
        postgres_dbname=postgres_dbname,
        postgres_serving_dbname=serving_dbname,
        spark_dir=spark_dir,
    )
