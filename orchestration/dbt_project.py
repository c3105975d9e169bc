"""The dbt project as dagster-dbt sees it, with a manifest that is never missing or stale.

A fresh clone has no ``dbt_project/target/manifest.json``. :func:`salesops_dbt_project` runs
``dbt parse`` when the manifest is missing or older than any file of the project (models,
macros, seeds, tests, ``dbt_project.yml``), in any process that loads the definitions. Parsing is guarded by a lock file, so a webserver, a daemon and step processes
starting together parse once; it takes a few seconds (dbt reuses ``partial_parse.msgpack``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from dagster._utils import run_with_concurrent_update_guard
from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer

from salesops.config import PROJECT_ROOT

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# Inputs of the manifest; target/, logs/ and dbt_packages/ are outputs.
_PROJECT_INPUTS = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "tests",
    "analyses",
    "snapshots",
    "packages.yml",
    "dependencies.yml",
)


def _files(root: Path) -> Iterator[Path]:
    for name in _PROJECT_INPUTS:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for folder, _dirs, files in os.walk(path):
                for file in files:
                    yield Path(folder) / file


def dbt_executable() -> str:
    """The ``dbt`` next to this Python (the project's virtualenv), else the one on ``PATH``."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def manifest_is_stale(project: DbtProject) -> bool:
    """True when the manifest is missing or a project file changed after it was written."""
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    written = manifest.stat().st_mtime
    return any(path.stat().st_mtime > written for path in _files(Path(project.project_dir)))


class ParseWhenStale(DagsterDbtProjectPreparer):
    """``dbt parse`` whenever the manifest is missing or stale (also outside ``dagster dev``),
    so definitions load on a fresh clone without a build step and pick up edits to the dbt
    project. A failing parse keeps the previous manifest (with a warning) if there is one."""

    def prepare_if_dev(self, project: DbtProject) -> None:
        if not manifest_is_stale(project):
            return
        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        try:
            # Another process may be parsing: wait for it (a loaded machine parses slowly).
            run_with_concurrent_update_guard(
                Path(project.manifest_path),
                self._prepare_manifest,
                guard_timeout_seconds=600,
                project=project,
            )
        except Exception as exc:
            if not Path(project.manifest_path).exists():
                raise
            log.warning("dbt parse failed (%s); using the previous manifest", type(exc).__name__)

    def _prepare_manifest(self, project: DbtProject) -> None:
        """``dbt parse`` into a folder of its own, then the manifest replaces the old one by a
        rename: dbt writes manifest.json in place, and a process loading the definitions
        while it did read half a manifest (``JSONDecodeError``)."""
        target = Path(project.manifest_path).parent  # project.target_path is relative
        staging = target / f"parse-{os.getpid()}"
        staging.mkdir(parents=True, exist_ok=True)
        try:
            partial = target / "partial_parse.msgpack"
            if partial.exists():  # keep dbt's partial parsing: seconds instead of a full parse
                shutil.copy2(partial, staging / partial.name)
            dbt = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
            if project.has_uninstalled_deps:
                dbt.cli(["deps", "--quiet"], target_path=staging).wait()
            dbt.cli(["parse", "--quiet"], target_path=staging).wait()
            for name in ("partial_parse.msgpack", "manifest.json"):  # the manifest last
                if (staging / name).exists():
                    os.replace(staging / name, target / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@cache
def salesops_dbt_project() -> DbtProject:
    """The dbt project with a current manifest (parsed on demand, see the module docstring)."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    ParseWhenStale().prepare_if_dev(project)
    return project
