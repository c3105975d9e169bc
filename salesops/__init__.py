"""salesops: a sales operations data platform (connectors, emulator, dbt marts, Dagster)."""

__version__ = "0.1.0"
