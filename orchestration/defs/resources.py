"""Resources of every job, and the executor that finalizes each run.

Source resources carry the CONFIG.md variables of one source. A variable that is set when the
definitions load is bound as ``dg.EnvVar``, so its *value* is read when a run starts and never
lands in run config, the event log or the UI; a source whose enabling variables are not set is
simply not configured (its ingest assets say so and dbt gets var ``salesops_sources`` without it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from connectors.extract import SOURCES
from connectors.streams import Source
from orchestration.dbt_project import dbt_executable, salesops_dbt_project
from orchestration.finalize import salesops_executor
from salesops.config import Settings, load_settings


class SourceResource(dg.ConfigurableResource):
    """One source's CONFIG.md variables: field ``client_id`` of prefix ``SALESFORCE_`` is
    ``SALESFORCE_CLIENT_ID``. Unset fields are left out, so the connector applies its defaults."""

    SOURCE: ClassVar[str] = ""
    PREFIX: ClassVar[str] = ""

    @classmethod
    def variable(cls, field: str) -> str:
        return cls.PREFIX + field.upper()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SourceResource:
        """Bind each variable that is set to ``dg.EnvVar``: presence is checked now, values
        are read at run time."""
        environ = os.environ if environ is None else environ
        bound = {
            field: dg.EnvVar(cls.variable(field))
            for field in cls.model_fields
            if environ.get(cls.variable(field), "").strip()
        }
        return cls(**bound)

    def variables(self) -> dict[str, str]:
        """The CONFIG.md mapping the connector's ``from_env`` reads."""
        values = {}
        for field in type(self).model_fields:
            value = getattr(self, field)
            if value is not None and str(value).strip():
                values[self.variable(field)] = str(value)
        return values

    @property
    def configured(self) -> bool:
        return SOURCES[self.SOURCE].enabled(self.variables())

    @property
    def required_variables(self) -> tuple[str, ...]:
        return SOURCES[self.SOURCE].required_env

    def build(self) -> Source:
        """The connector, configured from these variables (raises ``ConfigError`` naming a
        missing or malformed one)."""
        return SOURCES[self.SOURCE].build(self.variables())


class SalesforceResource(SourceResource):
    """Salesforce; enabled when ``SALESFORCE_CLIENT_ID`` and ``SALESFORCE_CLIENT_SECRET`` are set."""

    SOURCE: ClassVar[str] = "salesforce"
    PREFIX: ClassVar[str] = "SALESFORCE_"
    login_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    api_version: str | None = None


class HubSpotResource(SourceResource):
    """HubSpot; enabled when ``HUBSPOT_ACCESS_TOKEN`` is set."""

    SOURCE: ClassVar[str] = "hubspot"
    PREFIX: ClassVar[str] = "HUBSPOT_"
    base_url: str | None = None
    access_token: str | None = None


class GoogleAdsResource(SourceResource):
    """Google Ads; enabled when ``GOOGLE_ADS_DEVELOPER_TOKEN`` is set."""

    SOURCE: ClassVar[str] = "google_ads"
    PREFIX: ClassVar[str] = "GOOGLE_ADS_"
    base_url: str | None = None
    token_url: str | None = None
    customer_id: str | None = None
    login_customer_id: str | None = None
    developer_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None


SOURCE_RESOURCES: dict[str, type[SourceResource]] = {
    cls.SOURCE: cls for cls in (SalesforceResource, HubSpotResource, GoogleAdsResource)
}


class WarehouseResource(dg.ConfigurableResource):
    """The build warehouse (``SALESOPS_WAREHOUSE``, resolved when a run starts) and the other
    CONFIG.md paths. Every asset that writes it runs in the ``warehouse`` pool."""

    path: str | None = None  # overrides SALESOPS_WAREHOUSE

    def settings(self) -> Settings:
        return load_settings()

    @property
    def warehouse(self) -> Path:
        return Path(self.path) if self.path else self.settings().warehouse

    def connect(self, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=read_only)


def source_resource_key(source: str) -> str:
    return f"{source}_source"


@dg.definitions
def resources() -> dg.Definitions:
    """Resources and the default executor (the multiprocess executor plus the run finalizer:
    alerts and the sales brief)."""
    bound = {
        source_resource_key(name): cls.from_environment() for name, cls in SOURCE_RESOURCES.items()
    }
    return dg.Definitions(
        resources={
            **bound,
            "warehouse": WarehouseResource(),
            "dbt": DbtCliResource(
                project_dir=salesops_dbt_project(), dbt_executable=dbt_executable()
            ),
        },
        executor=salesops_executor,
    )
