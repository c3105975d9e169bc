"""The raw tables of each source, known without calling any API.

Derived from the connectors' static declarations: Salesforce ``OBJECTS`` (named by the
Fivetran rule), HubSpot ``OBJECTS`` plus the satellite streams its ``streams()`` declares, and
Google Ads ``TABLE``. HubSpot's object streams also land *related* tables (deal property
history and ``<from>_<to>_associations``); they are assets of their own, landed by the stream
of their parent object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors import google_ads, hubspot, salesforce
from connectors.naming import table_name

# HubSpot streams besides the CRM objects (see HubSpotSource.streams).
HUBSPOT_SATELLITES = ("owners", "deal_pipelines", "deal_pipeline_stages", "email_events")


@dataclass(frozen=True)
class SourceTables:
    source: str
    streams: tuple[str, ...]
    related: dict[str, tuple[str, ...]] = field(default_factory=dict)  # stream -> tables

    @property
    def tables(self) -> tuple[str, ...]:
        extra = [t for s in self.streams for t in self.related.get(s, ())]
        return (*self.streams, *extra)

    def parent(self, table: str) -> str:
        """The stream that lands ``table``."""
        for stream, tables in self.related.items():
            if table in tables:
                return stream
        return table

    def streams_for(self, tables: set[str]) -> list[str]:
        """The streams to run so that ``tables`` land, in declaration order."""
        wanted = {self.parent(t) for t in tables}
        return [s for s in self.streams if s in wanted]


def _hubspot_related() -> dict[str, tuple[str, ...]]:
    related: dict[str, list[str]] = {"deals": [hubspot.HISTORY_TABLE]}
    for from_obj, to_obj in hubspot.ASSOCIATIONS:
        related.setdefault(from_obj, []).append(f"{from_obj}_{to_obj}_associations")
    return {k: tuple(v) for k, v in related.items()}


SOURCE_TABLES: dict[str, SourceTables] = {
    "salesforce": SourceTables(
        "salesforce",
        tuple(table_name(obj, source="salesforce") for obj in salesforce.OBJECTS),
    ),
    "hubspot": SourceTables("hubspot", (*hubspot.OBJECTS, *HUBSPOT_SATELLITES), _hubspot_related()),
    "google_ads": SourceTables("google_ads", (google_ads.TABLE,)),
}
