"""Great Expectations 1.x on pandas frames: an ephemeral context, no telemetry, no progress bars.

GX is imported lazily (it takes seconds), so loading the Dagster definitions stays fast; the
analytics switch is set before the first import. Suites run on frames the gate reads from the
warehouse in chunks: a pandas datasource with one whole-dataframe batch definition, and
``batch.validate(suite, expectation_parameters=...)``. GX's SQL datasources are not used (the
duckdb-engine path is broken with DuckDB 2.0), and neither are checkpoints or validators.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

KEY_COLUMN = "_gate_key"  # the row's primary key as text (raw_meta.quarantine.primary_key form)


def gx():
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations

    return great_expectations


def expectations():
    """``great_expectations.expectations`` (the expectation classes)."""
    gx()
    import great_expectations.expectations as gxe

    return gxe


@functools.cache
def _batch_definition():
    lib = gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.core", "great_expectations.validator"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = lib.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("salesops_raw_gate")
    asset = source.add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def validate_frame(frame, suite, parameters: dict[str, Any] | None = None):
    """Validate ``frame`` against ``suite``; unexpected rows are identified by ``KEY_COLUMN``."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [KEY_COLUMN],
            "return_unexpected_index_query": False,
            "partial_unexpected_count": 5,
        },
        expectation_parameters=parameters or {},
    )


def describe_expectation(expectation) -> str:
    """``expect_column_values_to_be_between(amount, min_value=0)``: readable in messages."""
    config = expectation.configuration if hasattr(expectation, "configuration") else expectation
    kwargs = dict(config.kwargs)
    args = []
    for key in ("column", "column_A", "column_B"):
        if key in kwargs:
            args.append(str(kwargs.pop(key)))
    for key in ("batch_id", "result_format", "catch_exceptions", "include_config", "mostly"):
        kwargs.pop(key, None)
    for key, value in kwargs.items():
        if isinstance(value, dict) and "$PARAMETER" in value:
            value = f"${value['$PARAMETER']}"
        args.append(f"{key}={value}")
    return f"{config.type}({', '.join(args)})"
