"""Fixtures of the cross-engine tests: a PostgreSQL server (started from Debian's packages when
none is configured, see :mod:`tests.engines.postgres_support`)."""

from __future__ import annotations

import pytest

from connectors.destinations.postgres import PostgresConnection
from tests.engines.postgres_support import fresh_database, server


@pytest.fixture(scope="session")
def postgres_admin(tmp_path_factory) -> PostgresConnection:
    """A superuser on the session's PostgreSQL server (database ``postgres``)."""
    return server(tmp_path_factory.getbasetemp())


@pytest.fixture
def postgres_db(postgres_admin) -> PostgresConnection:
    """An empty database of this test's own."""
    return fresh_database(postgres_admin, "test")
