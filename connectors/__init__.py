"""Connectors: API clients, streams and destinations on plain ``requests`` (no Dagster here).

Shared foundations: :mod:`connectors.http` (retrying client), :mod:`connectors.auth` (OAuth and
token providers, :class:`~connectors.auth.Secret`), :mod:`connectors.ratelimit` (token bucket),
:mod:`connectors.naming` (raw-layer identifiers) and :mod:`connectors.destinations`.
"""
