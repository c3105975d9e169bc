"""Destinations for raw data: the interface and the engine-independent sync in :mod:`.base`
(with the shared SQL in :mod:`.sql`), DuckDB in :mod:`.duckdb`, PostgreSQL in :mod:`.postgres`,
the Parquet lake in :mod:`.parquet`; :mod:`.factory` picks one from the environment."""

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
