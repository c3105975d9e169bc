"""The Parquet lake destination: immutable slices, the manifest as the only commit point, crash
safety, versions, quarantine, schema drift, state, and DuckDB reading the lake.

Everything runs against real files: the lake under a temp directory, DuckDB reading it through
the manifest, hard kills of a child process, and the tiny emulator org over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from connectors.destinations.factory import destination_from_env
from connectors.destinations.parquet import (
    MANIFEST,
    LakeError,
    ParquetDestination,
    attach_lake,
    read_manifest,
    write_table,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

OPPORTUNITY = {
    "id": "VARCHAR",
    "stage_name": "VARCHAR",
    "amount": "DOUBLE",
    "is_won": "BOOLEAN",
    "close_date": "DATE",
    "system_modstamp": "TIMESTAMPTZ",
}
SF = {"columns": OPPORTUNITY, "primary_key": ["id"], "cursor_field": "system_modstamp"}


def opp(id_, stage="Prospecting", amount=1000.0, modstamp="2024-05-20T10:00:00.000+0000", **extra):
    return {
        "id": id_,
        "stage_name": stage,
        "amount": amount,
        "is_won": stage == "Closed Won",
        "close_date": "2024-06-28",
        "system_modstamp": modstamp,
        **extra,
    }


class TickingClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 21, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def lake(tmp_path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def destination(lake) -> ParquetDestination:
    return ParquetDestination(lake, clock=TickingClock())


def query(lake: Path, sql: str) -> list[tuple]:
    """Run ``sql`` in a fresh DuckDB that reads the lake through its manifest."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        attach_lake(con, lake)
        return con.execute(sql).fetchall()


def count(lake: Path, table: str) -> int:
    return query(lake, f"SELECT count(*) FROM {table}")[0][0]


def slice_files(lake: Path) -> dict[str, str]:
    """Every parquet file on disk (committed or not) and its content hash."""
    return {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in lake.rglob("*.parquet")
    }


def listed(lake: Path) -> set[str]:
    return {f for entry in read_manifest(lake)["tables"] for f in entry["files"]}


# --------------------------------------------------------------------------------------------
# Landing and reading
# --------------------------------------------------------------------------------------------


def test_a_batch_lands_current_versions_quarantine_log_and_state(destination, lake):
    with destination.open_sync("salesforce", "sync-1") as sync:
        result = sync.write_batch(
            "opportunity",
            [opp("006A"), opp("006B", amount="lots"), opp("006C", "Closed Won", 5.5)],
            **SF,
            state={"hwm": "2024-05-20T10:00:00Z"},
        )
    assert (result.fetched, result.landed, result.quarantined) == (3, 2, 1)
    assert (result.inserted, result.versions_appended) == (2, 2)
    assert query(
        lake,
        "SELECT id, stage_name, amount, is_won, close_date, _sync_id, _is_deleted "
        "FROM raw_salesforce.opportunity ORDER BY id",
    ) == [
        ("006A", "Prospecting", 1000.0, False, datetime(2024, 6, 28).date(), "sync-1", False),
        ("006C", "Closed Won", 5.5, True, datetime(2024, 6, 28).date(), "sync-1", False),
    ]
    assert count(lake, "raw_salesforce.opportunity__versions") == 2
    assert query(lake, "SELECT stream, primary_key, reason, sync_id FROM raw_meta.quarantine") == [
        ("opportunity", "006B", "field amount: value 'lots' is not a valid DOUBLE", "sync-1")
    ]
    assert (
        json.loads(query(lake, "SELECT CAST(payload AS VARCHAR) FROM raw_meta.quarantine")[0][0])[
            "amount"
        ]
        == "lots"
    )
    assert query(
        lake,
        "SELECT stream, status, records_fetched, records_landed, records_quarantined, inserted "
        "FROM raw_meta.sync_log",
    ) == [("opportunity", "success", 3, 2, 1, 2)]
    # State lives in the manifest (and is mirrored to raw_meta.stream_state for SQL readers).
    assert destination.get_state("salesforce", "opportunity") == {"hwm": "2024-05-20T10:00:00Z"}
    manifest = read_manifest(lake)
    assert [
        (r["source"], r["stream"], json.loads(r["state"])) for r in manifest["stream_state"]
    ] == [("salesforce", "opportunity", {"hwm": "2024-05-20T10:00:00Z"})]
    assert query(
        lake, "SELECT source, stream, CAST(state AS VARCHAR) FROM raw_meta.stream_state"
    ) == [("salesforce", "opportunity", '{"hwm":"2024-05-20T10:00:00Z"}')]
    # Column types are declared in the manifest and kept in the files.
    entry = next(e for e in manifest["tables"] if e["name"] == "opportunity")
    types = {c["name"]: c["type"] for c in entry["columns"]}
    assert types["amount"] == "DOUBLE" and types["close_date"] == "DATE"
    assert types["system_modstamp"] == "TIMESTAMPTZ" and types["_is_deleted"] == "BOOLEAN"
    schema = pq.read_schema(lake / entry["files"][0])
    assert str(schema.field("system_modstamp").type) == "timestamp[us, tz=UTC]"


def test_the_factory_builds_the_lake_from_the_environment(tmp_path):
    env = {"SALESOPS_DATA_DIR": str(tmp_path), "SALESOPS_DESTINATION": "parquet"}
    destination = destination_from_env(env)
    assert isinstance(destination, ParquetDestination)
    assert destination.root == tmp_path / "lake"
    env["SALESOPS_LAKE_ROOT"] = str(tmp_path / "elsewhere")
    assert destination_from_env(env).root == tmp_path / "elsewhere"


def test_versions_dedupe_stale_pages_and_deletes(destination, lake):
    with destination.open_sync("salesforce", "sync-1") as sync:
        sync.write_batch("opportunity", [opp("006A"), opp("006B")], **SF)
    with destination.open_sync("salesforce", "sync-2") as sync:
        # The same rows again: no new version, nothing updated.
        again = sync.write_batch("opportunity", [opp("006A"), opp("006B")], **SF)
        assert (again.inserted, again.updated, again.versions_appended) == (0, 0, 0)
        # A change moves the cursor: a new version and a new current row.
        won = opp("006A", "Closed Won", modstamp="2024-05-22T00:00:00.000+0000")
        changed = sync.write_batch("opportunity", [won], **SF)
        assert (changed.updated, changed.versions_appended) == (1, 1)
        # A stale page (older cursor) is kept as a version but never rolls the row back.
        stale = sync.write_batch(
            "opportunity",
            [opp("006A", "Negotiation", modstamp="2024-05-21T00:00:00.000+0000")],
            **SF,
        )
        assert stale.updated == 0
        assert sync.mark_deleted("opportunity", ["006B"], primary_key=["id"]) == 1
        assert sync.live_keys("opportunity", ["id"]) == {("006A",)}
    assert query(
        lake, "SELECT id, stage_name, _is_deleted FROM raw_salesforce.opportunity ORDER BY id"
    ) == [("006A", "Closed Won", False), ("006B", "Prospecting", True)]
    assert query(
        lake,
        "SELECT id, stage_name, _is_deleted, _sync_id FROM raw_salesforce.opportunity__versions "
        "ORDER BY id, system_modstamp, _is_deleted",
    ) == [
        ("006A", "Prospecting", False, "sync-1"),
        ("006A", "Negotiation", False, "sync-2"),
        ("006A", "Closed Won", False, "sync-2"),
        ("006B", "Prospecting", False, "sync-1"),
        ("006B", "Prospecting", True, "sync-2"),
    ]


def test_a_bad_record_is_quarantined_once_and_nothing_is_lost(destination, lake):
    bad = opp("006X", amount="12,5")
    for sync_id in ("sync-1", "sync-2"):
        with destination.open_sync("salesforce", sync_id) as sync:
            result = sync.write_batch("opportunity", [bad, opp("006A")], **SF)
            assert result.fetched == result.landed + result.quarantined == 2
    assert count(lake, "raw_meta.quarantine") == 1
    assert query(lake, "SELECT id FROM raw_salesforce.opportunity") == [("006A",)]
    assert query(
        lake,
        "SELECT sync_id, records_fetched, records_landed, records_quarantined FROM "
        "raw_meta.sync_log ORDER BY sync_id",
    ) == [("sync-1", 2, 1, 1), ("sync-2", 2, 1, 1)]


def test_schema_drift_adds_a_column_old_slices_read_as_null(destination, lake):
    with destination.open_sync("salesforce", "sync-1") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF)
    first_versions = read_manifest(lake)
    with destination.open_sync("salesforce", "sync-2") as sync:
        sync.write_batch(
            "opportunity",
            [opp("006B", next_step_c="Call", modstamp="2024-05-22T00:00:00.000+0000")],
            **SF,
        )
    manifest = read_manifest(lake)
    for name in ("opportunity", "opportunity__versions"):
        entry = next(e for e in manifest["tables"] if e["name"] == name)
        assert entry["columns"][-1] == {"name": "next_step_c", "type": "VARCHAR"}
    # The first versions slice predates the column and was not rewritten.
    old = next(e for e in first_versions["tables"] if e["name"] == "opportunity__versions")
    assert "next_step_c" not in pq.read_schema(lake / old["files"][0]).names
    assert query(
        lake, "SELECT id, next_step_c FROM raw_salesforce.opportunity__versions ORDER BY id"
    ) == [("006A", None), ("006B", "Call")]
    assert query(lake, "SELECT id, next_step_c FROM raw_salesforce.opportunity ORDER BY id") == [
        ("006A", None),
        ("006B", "Call"),
    ]


def test_a_changed_declaration_keeps_the_column_type_and_quarantines(destination, lake):
    with destination.open_sync("salesforce", "sync-1") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF)
    with destination.open_sync("salesforce", "sync-2") as sync:
        columns = {**OPPORTUNITY, "amount": "VARCHAR"}
        result = sync.write_batch(
            "opportunity", [opp("006B", amount="n/a")], **{**SF, "columns": columns}
        )
    assert (result.landed, result.quarantined) == (0, 1)
    entry = next(e for e in read_manifest(lake)["tables"] if e["name"] == "opportunity")
    assert {c["name"]: c["type"] for c in entry["columns"]}["amount"] == "DOUBLE"


# --------------------------------------------------------------------------------------------
# Immutability, the manifest protocol, crashes
# --------------------------------------------------------------------------------------------


def test_slices_are_immutable_and_every_commit_is_a_new_manifest(destination, lake):
    seen: dict[str, str] = {}
    generations = []
    for n in range(3):
        with destination.open_sync("salesforce", f"sync-{n}") as sync:
            sync.write_batch(
                "opportunity",
                [opp(f"006{n}"), opp("006A", amount=float(n), modstamp=f"2024-05-2{n}T00:00:00Z")],
                **SF,
                state={"n": n},
            )
        generations.append(read_manifest(lake)["generation"])
        files = slice_files(lake)
        for path, digest in seen.items():  # nothing written before changed or disappeared
            assert files.get(path) == digest, path
        seen = files
        assert listed(lake) <= set(files)
    assert generations == sorted(generations) and len(set(generations)) == 3
    history = sorted((lake / "manifests").glob("*.json"))
    assert json.loads(history[-1].read_bytes()) == read_manifest(lake)
    # The current table is one compacted slice; superseded slices are retired, not deleted,
    # until vacuum (readers holding an older manifest keep working).
    current = next(e for e in read_manifest(lake)["tables"] if e["name"] == "opportunity")
    assert len(current["files"]) == 1
    retired = [r["path"] for r in read_manifest(lake)["retired"]]
    assert retired and all((lake / p).exists() for p in retired)
    assert not set(retired) & listed(lake)
    deleted = destination.vacuum(retain_seconds=0)
    assert set(deleted) == set(retired)
    assert not any((lake / p).exists() for p in deleted)
    assert read_manifest(lake)["retired"] == []
    # History older than the retention names deleted files: only the latest manifest stays.
    assert [p.name for p in (lake / "manifests").glob("*.json")] == [
        f"{read_manifest(lake)['generation']:010d}.json"
    ]
    assert count(lake, "raw_salesforce.opportunity") == 4
    assert count(lake, "raw_salesforce.opportunity__versions") == 6


CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from connectors.destinations.parquet import ParquetDestination

    root, crash_at, columns, first, second = sys.argv[1], sys.argv[2], *map(json.loads, sys.argv[3:6])
    kwargs = dict(columns=columns, primary_key=["id"], cursor_field="system_modstamp")
    sync = ParquetDestination(root).open_sync("salesforce", "sync-child")
    sync.write_batch("opportunity", first, state={"hwm": "first"}, **kwargs)

    def crash(step):
        if step == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)  # a power cut: no cleanup, no finally

    sync._crash_hook = crash
    sync.write_batch("opportunity", second, state={"hwm": "second"}, **kwargs)
    """
)


@pytest.mark.parametrize("crash_at", ["slice_written", "before_manifest"])
def test_a_kill_between_slices_and_manifest_exposes_nothing(destination, lake, crash_at):
    first = [opp("006A"), opp("006B")]
    second = [opp("006B", "Closed Won", modstamp="2024-05-23T00:00:00.000+0000"), opp("006C")]
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(lake),
            crash_at,
            *map(json.dumps, (OPPORTUNITY, first, second)),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr
    # The second batch wrote slices (and, at the last moment, a complete temporary manifest),
    # but no manifest names them: readers see exactly the first batch.
    on_disk = set(slice_files(lake))
    assert on_disk - listed(lake), "the crashed batch left its slices behind"
    assert read_manifest(lake)["generation"] == 1  # the first batch only
    assert query(lake, "SELECT id, stage_name FROM raw_salesforce.opportunity ORDER BY id") == [
        ("006A", "Prospecting"),
        ("006B", "Prospecting"),
    ]
    assert count(lake, "raw_salesforce.opportunity__versions") == 2
    assert destination.get_state("salesforce", "opportunity") == {"hwm": "first"}
    assert query(lake, "SELECT status FROM raw_meta.sync_log") == [("running",)]
    # The source lock died with the process; a rerun resumes from the saved state.
    with destination.open_sync("salesforce", "sync-rerun") as sync:
        result = sync.write_batch("opportunity", second, **SF, state={"hwm": "second"})
    assert (result.inserted, result.updated, result.versions_appended) == (1, 1, 2)
    assert query(lake, "SELECT id, stage_name FROM raw_salesforce.opportunity ORDER BY id") == [
        ("006A", "Prospecting"),
        ("006B", "Closed Won"),
        ("006C", "Prospecting"),
    ]
    assert count(lake, "raw_salesforce.opportunity__versions") == 4
    assert destination.get_state("salesforce", "opportunity") == {"hwm": "second"}


def test_a_torn_manifest_write_is_never_read(destination, lake):
    with destination.open_sync("salesforce", "sync-1") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF)
    before = read_manifest(lake)
    # A writer that died while writing its temporary manifest leaves a partial file that is
    # not named manifest.json; readers never look at it.
    (lake / f".{MANIFEST}.deadbeef.tmp").write_bytes(b'{"format": "salesops-la')
    assert read_manifest(lake) == before
    assert count(lake, "raw_salesforce.opportunity") == 1


def test_one_sync_per_source_at_a_time(destination):
    with destination.open_sync("salesforce") as sync:
        with pytest.raises(LakeError, match="salesforce sync"):
            destination.open_sync("salesforce")
        with destination.open_sync("hubspot") as other:  # another source may sync meanwhile
            other.write_batch(
                "deals",
                [{"id": "1", "dealname": "x"}],
                columns={"id": "VARCHAR"},
                primary_key=["id"],
            )
        sync.write_batch("opportunity", [opp("006A")], **SF)
    tables = {(e["schema"], e["name"]) for e in read_manifest(destination.root)["tables"]}
    assert {("raw_hubspot", "deals"), ("raw_salesforce", "opportunity")} <= tables


def test_write_table_appends_or_overwrites_a_lake_table(destination, lake):
    import pyarrow as pa

    columns = {"as_of_date": "DATE", "value": "DOUBLE"}
    day = datetime(2026, 11, 26).date()
    frame = pa.table({"as_of_date": [day], "value": [1.5]})
    write_table(destination, "forecast", "statistical_forecasts", frame, columns)
    write_table(destination, "forecast", "statistical_forecasts", frame, columns)
    assert count(lake, "forecast.statistical_forecasts") == 2
    write_table(destination, "forecast", "statistical_forecasts", frame, columns, mode="overwrite")
    assert query(lake, "SELECT * FROM forecast.statistical_forecasts") == [(day, 1.5)]


# --------------------------------------------------------------------------------------------
# The real connectors against the emulator: the lake holds what DuckDB holds
# --------------------------------------------------------------------------------------------


def _extract(running, env_extra: dict[str, str]):
    from connectors.extract import extract
    from tests.quality.support import emulator_env

    env = {**os.environ, **emulator_env(running), **env_extra}
    result = extract(env=env)
    assert result.ok, result.errors
    return result


def test_the_tiny_org_lands_in_the_lake_as_in_duckdb(emulator, tmp_path):
    lake, warehouse = tmp_path / "lake", tmp_path / "warehouse.duckdb"
    _extract(emulator, {"SALESOPS_DESTINATION": "parquet", "SALESOPS_LAKE_ROOT": str(lake)})
    _extract(emulator, {"SALESOPS_DESTINATION": "duckdb", "SALESOPS_WAREHOUSE": str(warehouse)})
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        names = attach_lake(con, lake)
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        raw = [n for n in names if n.startswith("raw_") and not n.startswith("raw_meta")]
        in_duckdb = {
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE database_name = 'wh' AND schema_name LIKE 'raw_%' AND schema_name <> 'raw_meta'"
            ).fetchall()
        }
        assert set(raw) == in_duckdb and len(raw) > 40
        for name in raw:
            schema, table = name.split(".")
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = 'wh' "
                    "AND schema_name = ? AND table_name = ? AND column_name NOT IN "
                    "('_synced_at', '_sync_id')",
                    [schema, table],
                ).fetchall()
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            lake_rows = f"SELECT {select} FROM {name}"
            duck_rows = f"SELECT {select} FROM wh.{name}"
            diff = con.execute(
                f"SELECT count(*) FROM (({lake_rows} EXCEPT ALL {duck_rows}) UNION ALL "
                f"({duck_rows} EXCEPT ALL {lake_rows}))"
            ).fetchone()[0]
            assert diff == 0, f"{name} differs between the lake and DuckDB"
        assert con.execute("SELECT count(*) FROM raw_salesforce.opportunity").fetchone()[0] > 0
        # The same streams have state (its values hold server times, which differ by run).
        streams = "SELECT source, stream FROM {}raw_meta.stream_state ORDER BY ALL"
        assert (
            con.execute(streams.format("")).fetchall()
            == con.execute(streams.format("wh.")).fetchall()
        )
    # A second run is incremental: nothing new to land, no version duplicated.
    versions = [n for n in raw if n.endswith("__versions")]
    before = {name: count(lake, name) for name in versions}
    _extract(emulator, {"SALESOPS_DESTINATION": "parquet", "SALESOPS_LAKE_ROOT": str(lake)})
    assert {name: count(lake, name) for name in versions} == before
