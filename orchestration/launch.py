"""Run a job on the persistent Dagster instance (``salesops run``, ``salesops demo``).

The instance lives in ``DAGSTER_HOME`` (default ``$SALESOPS_DATA_DIR/dagster``); the project's
``dagster.yaml`` is copied there when the folder has none (an existing one, e.g. configured for
PostgreSQL, is left alone). Runs go through ``dg.execute_job`` with the job's own executor
(multiprocess plus the run finalizer), so they appear in the UI, take slots of the
``warehouse`` pool like any other run and alert without the daemon.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from orchestration.alerts import RunFailures, collect_failures, run_url
from orchestration.asof import AS_OF_TAG, last_complete_day
from salesops.config import PROJECT_ROOT, Settings, load_settings

DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"
TELEMETRY_OFF = {"DAGSTER_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}


def dagster_home(settings: Settings, environ=None) -> Path:
    environ = os.environ if environ is None else environ
    value = environ.get("DAGSTER_HOME", "").strip()
    return Path(value).expanduser().resolve() if value else settings.data_dir / "dagster"


def prepare_home(home: Path) -> Path:
    """Create ``home`` with the project's ``dagster.yaml`` unless it has one already."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(DAGSTER_YAML, target)
    return home


def use_home(settings: Settings) -> Path:
    """Point this process (and the processes it starts) at the persistent instance."""
    home = prepare_home(dagster_home(settings))
    os.environ["DAGSTER_HOME"] = str(home)
    for name, value in TELEMETRY_OFF.items():
        os.environ.setdefault(name, value)
    return home


@dataclass
class RunOutcome:
    run_id: str
    job_name: str
    as_of: dt.date
    status: str
    failures: RunFailures

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS" and not self.failures

    @property
    def url(self) -> str:
        return run_url(self.run_id)


def reconstructable(job_name: str):
    return dg.build_reconstructable_job(
        "orchestration.definitions", "job", reconstructable_args=(job_name,)
    )


def run_job(
    job_name: str = "nightly_refresh",
    as_of: dt.date | None = None,
    *,
    settings: Settings | None = None,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> RunOutcome:
    """Execute ``job_name`` for ``as_of`` (default: the last complete day in
    ``SALESOPS_TIMEZONE``) on the instance in ``DAGSTER_HOME`` and wait for it."""
    settings = settings or load_settings()
    use_home(settings)
    as_of = as_of or last_complete_day(dt.datetime.now(dt.UTC), settings.timezone)
    run_tags = {
        AS_OF_TAG: as_of.isoformat(),
        "salesops/launched_by": "salesops run",
        **(tags or {}),
    }
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            reconstructable(job_name),
            instance=instance,
            run_config=run_config,
            tags=run_tags,
            raise_on_error=False,
        )
        run = instance.get_run_by_id(result.run_id)
        status = run.status.value if run else ("SUCCESS" if result.success else "FAILURE")
        return RunOutcome(
            result.run_id, job_name, as_of, status, collect_failures(instance, result.run_id)
        )
