"""Destinations for raw data: the interface in :mod:`.base`, DuckDB in :mod:`.duckdb`."""

from connectors.destinations.base import BatchResult, Destination, Sync, new_sync_id, raw_schema
from connectors.destinations.duckdb import DuckDBDestination, DuckDBSync

__all__ = [
    "BatchResult",
    "Destination",
    "DuckDBDestination",
    "DuckDBSync",
    "Sync",
    "new_sync_id",
    "raw_schema",
]
