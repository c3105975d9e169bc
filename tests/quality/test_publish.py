"""Write-audit-publish: serving files for DuckDB 1.x readers, restricted marts, Parquet,
versions, rollback byte for byte, and readers that never fail or see a mix of versions."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys

import duckdb
import pytest

from orchestration.quality import publish, status
from orchestration.quality.publish import PublishError, ServingPaths, sha256
from salesops.cli import main as salesops
from tests.quality.support import AS_OF, readers

# One query, three marts: a reader that saw two versions at once would see different generations
# or a total that does not match its detail rows.
INVARIANT = """
SELECT
    (SELECT version FROM salesops.publication) AS version,
    (SELECT min(generation) FROM marts.mart_detail) AS generation,
    (SELECT min(generation) FROM marts.mart_detail) = (SELECT max(generation) FROM marts.mart_detail)
        AND (SELECT max(generation) FROM marts.mart_detail) = (SELECT max(generation) FROM marts.mart_total)
        AND (SELECT max(generation) FROM marts.mart_total) = (SELECT max(generation) FROM marts.dim_generation)
        AS same_generation,
    abs((SELECT sum(amount) FROM marts.mart_detail) - (SELECT max(total_amount) FROM marts.mart_total)) < 1e-6
        AS totals_match
"""


def build_marts(warehouse, generation: int, rows: int = 500) -> None:
    """A warehouse whose marts all carry ``generation``; mart_total sums mart_detail."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute(
            "CREATE OR REPLACE TABLE marts.mart_detail AS SELECT range AS id, "
            f"{generation} AS generation, range * {generation} * 1.5 AS amount, "
            "TIMESTAMPTZ '2026-11-26 10:00:00+00' AS at, DATE '2026-11-26' AS day, "
            f"'row ' || range AS label FROM range({rows})"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE marts.mart_total AS SELECT {generation} AS generation, "
            "sum(amount) AS total_amount FROM marts.mart_detail"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE marts.dim_generation AS SELECT {generation} AS generation"
        )
        con.execute(
            "CREATE OR REPLACE TABLE marts.mart_commissions AS SELECT 'rep ' || range AS rep_id, "
            f"range * 100.0 * {generation} AS payout_amount FROM range(5)"
        )
    finally:
        con.close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESOPS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    paths = ServingPaths(
        tmp_path / "data" / "serving.duckdb", tmp_path / "data" / "serving_restricted.duckdb"
    )
    return warehouse, paths


def do_publish(warehouse, paths, generation: int, **kwargs):
    build_marts(warehouse, generation)
    return publish.publish(warehouse, paths, run_id=f"run{generation:05d}", as_of=AS_OF, **kwargs)


def test_publish_writes_serving_restricted_and_parquet(env):
    warehouse, paths = env
    result = do_publish(warehouse, paths, 1)
    assert result.marts == {"dim_generation": 1, "mart_detail": 500, "mart_total": 1}
    assert result.restricted_marts == {"mart_commissions": 5}
    con = duckdb.connect(str(paths.serving), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
        assert ("marts", "mart_commissions") not in tables  # pay data only in the restricted file
        assert con.execute(
            "SELECT version, run_id, CAST(as_of_date AS VARCHAR), storage_version FROM salesops.publication"
        ).fetchall() == [(result.version, "run00001", "2026-11-26", "v1.0.0")]
    finally:
        con.close()
    assert stat.S_IMODE(os.stat(paths.restricted).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(paths.restricted_archive / result.version).st_mode) == 0o700
    restricted = duckdb.connect(str(paths.restricted), read_only=True)
    try:
        assert restricted.execute("SELECT count(*) FROM marts.mart_commissions").fetchall() == [
            (5,)
        ]
    finally:
        restricted.close()
    files = sorted(p.name for p in paths.parquet_link.iterdir())
    assert files == ["dim_generation.parquet", "mart_detail.parquet", "mart_total.parquet"]
    assert duckdb.sql(
        f"SELECT count(*) FROM '{paths.parquet_link / 'mart_detail.parquet'}'"
    ).fetchall() == [(500,)]
    commissions = paths.restricted_parquet_link / "mart_commissions.parquet"
    assert stat.S_IMODE(os.stat(commissions).st_mode) == 0o600
    assert publish.storage_number(paths.serving) == 64
    assert not paths.serving.with_name(paths.serving.name + ".wal").exists()


def test_duckdb_1x_reads_the_serving_files(env, duckdb1x):
    warehouse, paths = env
    do_publish(warehouse, paths, 3)
    query = (
        "SELECT (SELECT sum(amount) FROM marts.mart_detail)::VARCHAR, "
        "(SELECT max(at)::VARCHAR FROM marts.mart_detail), "
        "(SELECT version FROM salesops.publication)"
    )
    script = (
        "import duckdb, sys, json\n"
        "out = []\n"
        "for path in sys.argv[2:]:\n"
        "    con = duckdb.connect(path, read_only=True)\n"
        "    out.append([str(v) for v in con.execute(sys.argv[1]).fetchall()[0]])\n"
        "    con.close()\n"
        "print(json.dumps([duckdb.__version__, out]))\n"
    )
    done = subprocess.run(
        [str(duckdb1x), "-c", script, query, str(paths.serving)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    version, answers = json.loads(done.stdout)
    assert version.startswith("1.")
    assert answers[0][0] == str(sum(i * 3 * 1.5 for i in range(500)))
    assert answers[0][1].startswith("2026-11-26 10:00:00")
    restricted = subprocess.run(
        [
            str(duckdb1x),
            "-c",
            script,
            "SELECT count(*) FROM marts.mart_commissions",
            str(paths.restricted),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restricted.returncode == 0, restricted.stderr


def test_duckdb_2_default_storage_is_what_1x_cannot_open(tmp_path, duckdb1x):
    """Why the serving file is attached with an explicit older storage version."""
    path = tmp_path / "default.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    done = subprocess.run(
        [str(duckdb1x), "-c", f"import duckdb; duckdb.connect({str(path)!r}, read_only=True)"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "version" in done.stderr.lower()


def test_rollback_restores_the_previous_version_byte_for_byte(env):
    warehouse, paths = env
    first = do_publish(warehouse, paths, 1)
    first_bytes = paths.serving.read_bytes()
    first_restricted = paths.restricted.read_bytes()
    second = do_publish(warehouse, paths, 2)
    third = do_publish(warehouse, paths, 3)
    assert second.previous_version == first.version and third.previous_version == second.version
    back = publish.rollback(paths)
    assert back.version == second.version
    assert sha256(paths.serving) == second.serving_sha256
    back = publish.rollback(paths)
    assert back.version == first.version
    assert paths.serving.read_bytes() == first_bytes
    assert paths.restricted.read_bytes() == first_restricted
    assert stat.S_IMODE(os.stat(paths.restricted).st_mode) == 0o600
    assert os.readlink(paths.parquet_link).endswith(f"{first.version}/parquet")
    with pytest.raises(PublishError, match="oldest version"):
        publish.rollback(paths)
    assert publish.rollback(paths, to=third.version).version == third.version
    assert sha256(paths.serving) == third.serving_sha256


def test_the_last_versions_are_kept(env):
    warehouse, paths = env
    results = [do_publish(warehouse, paths, g, keep=3) for g in range(1, 6)]
    kept = [v["version"] for v in publish.versions(paths)]
    assert kept == [r.version for r in results[-3:]]
    assert sorted(p.name for p in paths.archive.iterdir() if p.is_dir()) == kept
    assert sorted(p.name for p in paths.restricted_archive.iterdir()) == kept


def test_a_failed_audit_leaves_serving_unchanged(env, monkeypatch):
    warehouse, paths = env
    do_publish(warehouse, paths, 1)
    before = paths.serving.read_bytes()

    def broken_audit(path, expected, version, parquet):
        raise PublishError(f"audit of {path} failed: simulated")

    monkeypatch.setattr(publish, "audit", broken_audit)
    with pytest.raises(PublishError, match="simulated"):
        do_publish(warehouse, paths, 2)
    assert paths.serving.read_bytes() == before
    assert len(publish.versions(paths)) == 1
    assert len([p for p in paths.archive.iterdir() if p.is_dir()]) == 1


def test_the_audit_compares_content_with_the_warehouse(env):
    warehouse, paths = env
    result = do_publish(warehouse, paths, 1)
    archived = paths.version_dir(result.version) / publish.SERVING_FILE
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        expected = publish._fingerprints(
            con, publish._catalog(con), ["mart_detail", "mart_total", "dim_generation"]
        )
    finally:
        con.close()
    publish.audit(archived, expected, result.version, {})
    expected["mart_detail"] = (expected["mart_detail"][0], expected["mart_detail"][1] + 1)
    with pytest.raises(PublishError, match="mart_detail: rows/hash"):
        publish.audit(archived, expected, result.version, {})


def test_a_serving_file_from_before_versioning_can_be_rolled_back_to(env):
    warehouse, paths = env
    build_marts(warehouse, 7)
    paths.serving.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.serving))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.legacy AS SELECT 1 AS x")
    con.close()
    legacy = paths.serving.read_bytes()
    do_publish(warehouse, paths, 8)
    assert paths.serving.read_bytes() != legacy
    publish.rollback(paths)
    assert paths.serving.read_bytes() == legacy


def test_readers_never_fail_nor_see_a_mix_while_versions_are_published(env, duckdb1x, tmp_path):
    warehouse, paths = env
    do_publish(warehouse, paths, 1)
    pythons = {"duckdb2": sys.executable, "duckdb1": duckdb1x}
    with readers(pythons, paths.serving, INVARIANT, tmp_path / "readers") as running:
        for generation in range(2, 8):
            do_publish(warehouse, paths, generation)
        publish.rollback(paths)
    for reader in running:
        result = reader.result()
        assert result["errors"] == [], (reader.name, result["errors"][:3])
        answers = [json.loads(a) for a in result["answers"]]
        assert all(a[2] == "True" and a[3] == "True" for a in answers), (reader.name, answers)
        assert len(answers) >= 2, (reader.name, result)  # it did see the versions change
        assert result["queries"] > 10
    versions = {json.loads(a)[0] for r in running for a in r.result()["answers"]}
    assert len(versions) >= 3


def test_salesops_publish_rollback_command(env, capsys):
    warehouse, paths = env
    do_publish(warehouse, paths, 1)
    first = paths.serving.read_bytes()
    do_publish(warehouse, paths, 2)
    assert salesops(["publish"]) == 0
    listing = capsys.readouterr().out
    assert len([line for line in listing.splitlines() if " as of " in line]) == 2
    assert "* " in listing
    assert salesops(["publish", "--rollback"]) == 0
    assert "rolled back" in capsys.readouterr().out
    assert paths.serving.read_bytes() == first
    logged = status.read(
        paths.serving.parent / "status.duckdb",
        "SELECT action FROM publish_log ORDER BY published_at",
    )
    assert logged == [("rollback",)]
    assert salesops(["publish", "--rollback"]) == 1
    assert "oldest version" in capsys.readouterr().err


def test_publish_refuses_a_warehouse_without_marts(env):
    warehouse, paths = env
    duckdb.connect(str(warehouse)).close()
    with pytest.raises(PublishError, match="no tables in schema marts"):
        publish.publish(warehouse, paths, now=dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    assert not paths.serving.exists()
