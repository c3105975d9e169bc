"""The dbt manifest Dagster loads is parsed on demand and never seen half-written."""

from __future__ import annotations

import json
import shutil
import threading

from dagster_dbt import DbtProject

from orchestration.dbt_project import DBT_PROJECT_DIR, ParseWhenStale, manifest_is_stale


def test_a_reader_never_sees_a_half_written_manifest(tmp_path, monkeypatch):
    """Another process loading the definitions reads target/manifest.json while this one
    parses: every read that finds the file gets a whole manifest (dbt writes it in place, so
    the parse runs in a folder of its own and the manifest is renamed into place)."""
    project_dir = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setenv("SALESOPS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir)
    manifest = project_dir / "target" / "manifest.json"
    assert manifest_is_stale(project)

    parse = threading.Thread(target=ParseWhenStale().prepare_if_dev, args=(project,))
    parse.start()
    reads, broken = 0, []
    while parse.is_alive():
        try:
            text = manifest.read_text()
        except FileNotFoundError:
            continue
        reads += 1
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            broken.append(f"{len(text)} bytes: {exc}")
    parse.join()

    assert not broken, broken[:3]
    assert "model.salesops.mart_sales_kpis" in json.loads(manifest.read_text())["nodes"]
    assert not manifest_is_stale(project)
    assert sorted(p.name for p in manifest.parent.iterdir() if p.name.startswith("parse-")) == []
