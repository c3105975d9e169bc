"""The salesops code location: everything under ``defs/`` (see ``defs/__init__.py``).

Load it with ``dagster dev -m orchestration.definitions`` or ``dagster-webserver -m
orchestration.definitions``. Loading reads no secret values (only whether a source's
variables are set); it parses the dbt project first when its
manifest is missing or stale, and reads ``SALESOPS_NIGHTLY_CRON``/``SALESOPS_TIMEZONE`` for the
schedule.
"""

from __future__ import annotations

import functools
from pathlib import Path

import dagster as dg


@functools.cache
def loaded() -> dg.Definitions:
    """The definitions, loaded once per process (step processes fork with them loaded, see
    :mod:`orchestration.preload`)."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


@dg.definitions
def defs() -> dg.Definitions:
    return loaded()


def job(name: str) -> dg.JobDefinition:
    """A job by name, for ``dg.build_reconstructable_job`` (``salesops run``, tests)."""
    return loaded().resolve_job_def(name)
