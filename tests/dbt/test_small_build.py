"""`dbt build` at `small` scale (the demo org): zero errors, zero warnings, numbers match truth.

Marked slow; part of `make test`. Measured on a 2-vCPU box: truth ~6 s, landing ~10 s,
`dbt build` (models, unit tests, data tests) ~60-90 s.
"""

from __future__ import annotations

import time

import pytest

from emulator.org import Org
from tests.dbt.conftest import AS_OF, SEED, build_from_truth, shared
from tests.dbt.test_e2e_metrics import (
    actual_by_rep_quarter,
    actual_open_pipeline_by_rep_month,
    compare,
    expected_closed_by_rep_quarter,
    expected_deals,
    expected_open_pipeline,
    win_rates,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    started = time.perf_counter()
    built = shared(tmp_path_factory, "dbt_small", lambda tmp: build_from_truth(tmp, "small"))
    timings = ", ".join(f"{step} {seconds:.0f} s" for step, seconds in built.seconds.items())
    print(f"\nsmall warehouse ready in {time.perf_counter() - started:.0f} s ({timings})")
    return built


def test_small_build_has_no_errors_or_warnings(small_build):
    run = small_build.build
    assert run.success, run.describe()
    assert not run.errors, run.describe()
    assert not run.warnings, run.describe()
    assert {status for _, status, _ in run.results} <= {"success", "pass", "no-op"}, run.describe()


def test_small_closed_metrics_match_truth(small_build):
    deals = expected_deals(small_build.truth)
    expected = win_rates(expected_closed_by_rep_quarter(deals))
    actual = win_rates(actual_by_rep_quarter(small_build.warehouse))
    problems = compare(expected, actual, ["bookings", "won", "lost", "lost_amount"])
    problems += compare(
        expected.fillna(0), actual.fillna(0), ["win_rate_by_count", "win_rate_by_value"]
    )
    assert not problems, "\n".join(problems[:20])


@pytest.fixture(scope="module")
def small_open_pipeline(small_build):
    expected = expected_open_pipeline(Org.generate(SEED, "small", AS_OF), small_build.truth)
    actual = actual_open_pipeline_by_rep_month(small_build.warehouse)
    return expected, actual


def test_small_open_pipeline_by_month_matches_truth(small_open_pipeline):
    """Company open pipeline at every month end, and by rep at the as-of date."""
    expected, actual = small_open_pipeline
    keys = ("rep_id", "fiscal_quarter", "fiscal_month")
    by_month = [
        frame.groupby(["fiscal_quarter", "fiscal_month"]).open_pipeline.sum().reset_index()
        for frame in (expected, actual)
    ]
    for frame in by_month:
        frame["rep_id"] = "company"
    problems = compare(*by_month, ["open_pipeline"], keys)
    current = f"FY{AS_OF.year}-M{AS_OF.month:02d}"
    problems += compare(
        expected[expected.fiscal_month == current],
        actual[actual.fiscal_month == current],
        ["open_pipeline"],
        keys,
    )
    assert not problems, "\n".join(problems[:20])


def test_small_open_pipeline_by_rep_and_month_matches_truth(small_open_pipeline):
    expected, actual = small_open_pipeline
    keys = ("rep_id", "fiscal_quarter", "fiscal_month")
    problems = compare(expected, actual, ["open_pipeline"], keys)
    assert not problems, "\n".join(problems[:20])
