"""Fixtures for the quality gates and publishing: orgs built once per session, a DuckDB 1.x."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.quality.support import (
    DIRTY_RATE,
    duckdb_1x_python,
    extract_org,
    land_truth_org,
    shared,
)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def dirty_org(tmp_path_factory):
    """The tiny org with a high dirty rate, extracted by the connectors over HTTP."""
    return shared(
        tmp_path_factory, "quality_dirty_tiny", lambda d: extract_org(d, dirty_rate=DIRTY_RATE)
    )


@pytest.fixture(scope="session")
def clean_org(tmp_path_factory):
    """The tiny org at the default dirty rate, extracted by the connectors over HTTP."""
    return shared(tmp_path_factory, "quality_clean_tiny", lambda d: extract_org(d, dirty_rate=None))


@pytest.fixture(scope="session")
def dirty_small_org(tmp_path_factory):
    """The small org with a high dirty rate landed from its truth: every defect kind occurs
    (stale open deals and deactivated owners too, which the tiny org does not have)."""
    return shared(
        tmp_path_factory,
        "quality_dirty_small",
        lambda d: land_truth_org(d, dirty_rate=DIRTY_RATE, scale="small"),
    )


@pytest.fixture(scope="session")
def duckdb1x(request):
    """Python of a separate virtualenv with DuckDB 1.x (created once, cached in the pytest
    cache directory, or under the temp directory without the cache plugin). Installation
    problems fail the tests that need it, loudly."""
    if getattr(request.config, "cache", None) is not None:
        cache = request.config.cache.mkdir("salesops-duckdb-1x-reader")
    else:  # -p no:cacheprovider
        cache = Path(tempfile.gettempdir()) / "salesops-duckdb-1x-reader"
        cache.mkdir(exist_ok=True)
    try:
        return duckdb_1x_python(cache)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
