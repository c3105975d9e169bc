"""DuckDB destination: atomic batches, version dedupe, schema evolution, quarantine, state."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from connectors.destinations import DuckDBDestination, DuckDBSync
from connectors.naming import UnsafeIdentifier

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


def opp(
    id_: str,
    stage: str = "Prospecting",
    amount=1000.0,
    modstamp="2024-05-20T10:00:00.000+0000",
    **extra,
):
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
    """Deterministic ``_synced_at`` values, one second apart."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 21, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def warehouse(tmp_path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def destination(warehouse) -> DuckDBDestination:
    return DuckDBDestination(warehouse, clock=TickingClock())


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def count(path: Path, table: str) -> int:
    return query(path, f"SELECT count(*) FROM {table}")[0][0]


def snapshot(path: Path) -> dict[str, list[tuple]]:
    """Everything a reader could see, for before/after comparisons."""
    tables = {
        f"{schema}.{name}"
        for schema, name in query(path, "SELECT schema_name, table_name FROM duckdb_tables()")
    }
    return {t: sorted(map(repr, query(path, f"SELECT * FROM {t}"))) for t in sorted(tables)}


# -- upsert, versions, state ------------------------------------------------------------


def test_first_batch_lands_current_versions_state_and_log(destination, warehouse):
    with destination.open_sync("salesforce", "sync-1") as sync:
        result = sync.write_batch(
            "opportunity", [opp("006A"), opp("006B")], **SF, state={"hwm": "2024-05-20T10:00:00Z"}
        )
        sync.finish_stream("opportunity", pages=1, retries=0, cursor="2024-05-20T10:00:00Z")
    assert (result.fetched, result.landed, result.quarantined) == (2, 2, 0)
    assert (result.inserted, result.updated, result.versions_appended) == (2, 0, 2)
    rows = query(
        warehouse,
        "SELECT id, amount, is_won, close_date, system_modstamp, _sync_id, _is_deleted "
        "FROM raw_salesforce.opportunity ORDER BY id",
    )
    modstamp = datetime(2024, 5, 20, 10, 0, tzinfo=UTC)
    assert rows == [
        ("006A", 1000.0, False, date(2024, 6, 28), modstamp, "sync-1", False),
        ("006B", 1000.0, False, date(2024, 6, 28), modstamp, "sync-1", False),
    ]
    assert count(warehouse, "raw_salesforce.opportunity__versions") == 2
    assert destination.get_state("salesforce", "opportunity") == {"hwm": "2024-05-20T10:00:00Z"}
    log = query(
        warehouse,
        "SELECT status, records_fetched, records_landed, records_quarantined, inserted, "
        "updated, deleted, pages, cursor, started_at <= finished_at FROM raw_meta.sync_log",
    )
    assert log == [("success", 2, 2, 0, 2, 0, 0, 1, "2024-05-20T10:00:00Z", True)]


def test_metadata_column_types(destination, warehouse):
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF)
    types = dict(
        query(
            warehouse,
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE table_name = 'opportunity' AND column_name LIKE '\\_%' ESCAPE '\\'",
        )
    )
    assert types == {
        "_synced_at": "TIMESTAMP WITH TIME ZONE",
        "_sync_id": "VARCHAR",
        "_is_deleted": "BOOLEAN",
        "_row_hash": "VARCHAR",
    }


def documented_row_hash(values: dict[str, str | None], *, deleted: bool) -> str:
    """The module docstring's rule, written out: md5 over name RS value US for each non-null
    column in name order, then ``_is_deleted`` RS flag; values in the engine's text form."""
    text = "".join(f"{n}\x1e{v}\x1f" for n, v in sorted(values.items()) if v is not None)
    return hashlib.md5(f"{text}_is_deleted\x1e{str(deleted).lower()}".encode()).hexdigest()


def hash_probe(destination, query_of) -> tuple[list[tuple], dict[str, str | None]]:
    """Land one opportunity and delete it: (hash, deleted, amount as text) of both versions as
    stored (``query_of(sql)`` reads the engine), and the text values the hash covers but
    ``amount``, whose text form is the engine's.

    40 extra columns make the SQL nest its concat (PostgreSQL's argument limit), which must
    not change the text."""
    extra = {f"note_{i:02d}": "VARCHAR" for i in range(40)}
    notes = {name: (None if i % 3 else f"n{i}") for i, name in enumerate(extra)}
    with destination.open_sync("salesforce") as sync:
        sync.write_batch(
            "opportunity", [opp("006A", **notes)], **{**SF, "columns": {**OPPORTUNITY, **extra}}
        )
        sync.mark_deleted("opportunity", ["006A"], primary_key=["id"])
    return query_of(
        "SELECT _row_hash, _is_deleted, CAST(amount AS text) "
        "FROM raw_salesforce.opportunity__versions ORDER BY _synced_at"
    ), {
        "id": "006A",
        "stage_name": "Prospecting",
        "is_won": "false",
        "close_date": "2024-06-28",
        "system_modstamp": "2024-05-20 10:00:00+00",
        **notes,
    }


def test_the_row_hash_is_md5_of_the_documented_text(destination, warehouse):
    # The hash is what makes a version new: if its text ever changed between releases, every
    # stored row would look changed and be versioned again.
    stored, values = hash_probe(destination, lambda sql: query(warehouse, sql))
    values["amount"] = "1000.0"  # DuckDB's text of the double
    assert stored == [
        (documented_row_hash(values, deleted=False), False, "1000.0"),
        (documented_row_hash(values, deleted=True), True, "1000.0"),
    ]


def test_rerunning_the_same_batch_duplicates_nothing(destination, warehouse):
    batch = [opp("006A"), opp("006B"), opp("006C", amount="not a number")]
    with destination.open_sync("salesforce", "sync-1") as sync:
        sync.write_batch("opportunity", batch, **SF, state={"hwm": 1})
        again = sync.write_batch("opportunity", batch, **SF, state={"hwm": 1})
    with destination.open_sync("salesforce", "sync-2") as sync:
        third = sync.write_batch("opportunity", batch, **SF, state={"hwm": 1})
    for result in (again, third):
        assert (result.inserted, result.updated, result.versions_appended) == (0, 0, 0)
        assert (result.landed, result.quarantined) == (2, 1)
    assert count(warehouse, "raw_salesforce.opportunity") == 2
    assert count(warehouse, "raw_salesforce.opportunity__versions") == 2
    assert count(warehouse, "raw_meta.quarantine") == 1
    assert count(warehouse, "raw_meta.stream_state") == 1
    # the current row remembers the latest sync that saw it
    assert {r[0] for r in query(warehouse, "SELECT _sync_id FROM raw_salesforce.opportunity")} == {
        "sync-2"
    }


def test_update_appends_a_version_and_replaces_the_current_row(destination, warehouse):
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF)
        result = sync.write_batch(
            "opportunity",
            [opp("006A", "Closed Won", 2500.0, "2024-05-21T08:00:00.000+0000")],
            **SF,
        )
    assert (result.inserted, result.updated, result.versions_appended) == (0, 1, 1)
    assert query(
        warehouse, "SELECT stage_name, amount, is_won FROM raw_salesforce.opportunity"
    ) == [("Closed Won", 2500.0, True)]
    versions = query(
        warehouse,
        "SELECT stage_name FROM raw_salesforce.opportunity__versions ORDER BY system_modstamp",
    )
    assert versions == [("Prospecting",), ("Closed Won",)]


def test_change_without_cursor_move_is_a_new_version(destination, warehouse):
    # Formula fields change without bumping SystemModstamp.
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [opp("006A", amount=1.0)], **SF)
        result = sync.write_batch("opportunity", [opp("006A", amount=2.0)], **SF)
    assert (result.updated, result.versions_appended) == (1, 1)
    assert query(warehouse, "SELECT amount FROM raw_salesforce.opportunity") == [(2.0,)]


def test_stale_refetch_never_rolls_the_current_row_back(destination, warehouse):
    old = opp("006A", "Prospecting", 1.0, "2024-05-20T10:00:00.000+0000")
    new = opp("006A", "Negotiation/Review", 9.0, "2024-05-22T10:00:00.000+0000")
    never_seen = opp("006A", "Qualification", 5.0, "2024-05-21T10:00:00.000+0000")
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [old], **SF)
        sync.write_batch("opportunity", [new], **SF)
        replay = sync.write_batch("opportunity", [old], **SF)
        late = sync.write_batch("opportunity", [never_seen], **SF)
    assert (replay.updated, replay.versions_appended) == (0, 0)
    assert (late.updated, late.versions_appended) == (0, 1)  # history yes, current no
    assert query(warehouse, "SELECT stage_name FROM raw_salesforce.opportunity") == [
        ("Negotiation/Review",)
    ]
    assert count(warehouse, "raw_salesforce.opportunity__versions") == 3


def test_duplicates_within_one_batch(destination, warehouse):
    batch = [
        opp("006A", "Qualification", modstamp="2024-05-21T00:00:00.000+0000"),
        opp("006A", "Prospecting", modstamp="2024-05-20T00:00:00.000+0000"),
        opp("006A", "Qualification", modstamp="2024-05-21T00:00:00.000+0000"),
    ]
    with destination.open_sync("salesforce") as sync:
        result = sync.write_batch("opportunity", batch, **SF)
    assert (result.fetched, result.landed, result.inserted, result.versions_appended) == (
        3,
        3,
        1,
        2,
    )
    assert query(warehouse, "SELECT stage_name FROM raw_salesforce.opportunity") == [
        ("Qualification",)
    ]


class VersionRules:
    """The documented version and upsert rules, in plain Python: the reference the set-based
    SQL (which reads the history only for rows that are neither current nor newer) must match.
    A row is (id, day of system_modstamp or None, stage, amount); its content is the hash."""

    def __init__(self) -> None:
        self.versions: list[tuple] = []  # (id, day, stage, amount, deleted)
        self.current: dict[str, tuple] = {}  # id -> (day, stage, amount, deleted)

    def land(self, batch: list[tuple]) -> int:
        known, appended = set(self.versions), 0
        for id_, day, stage, amount in dict.fromkeys(batch):  # identical rows kept once
            if (id_, day, stage, amount, False) not in known:
                self.versions.append((id_, day, stage, amount, False))
                appended += 1
        for id_ in {row[0] for row in batch}:
            rows = [(pos, row) for pos, row in enumerate(batch) if row[0] == id_]
            # greatest cursor (nulls last), then latest in the batch
            _, (_, day, stage, amount) = max(
                rows, key=lambda r: (r[1][1] is not None, r[1][1] or 0, r[0])
            )
            stored = self.current.get(id_)
            if stored is None or stored[0] is None or (day is not None and day >= stored[0]):
                self.current[id_] = (day, stage, amount, False)
        return appended

    def delete(self, ids: list[str]) -> None:
        for id_ in ids:
            stored = self.current.get(id_)
            if stored is not None and not stored[3]:
                self.versions.append((id_, *stored[:3], True))
                self.current[id_] = (*stored[:3], True)


def random_history(seed: int) -> Iterator[tuple[str, list]]:
    """("delete", ids) and ("land", rows as VersionRules sees them) steps: replays, stale
    pages, same-cursor changes (formula fields), null cursors and deletes, mixed."""
    rng = random.Random(seed)
    ids = ["006A", "006B", "006C", "006D"]
    for _ in range(14):
        if rng.random() < 0.2:
            yield "delete", rng.sample(ids, 2)
            continue
        days = [20, 21, 22, 23, None] if rng.random() < 0.1 else [20, 21, 22, 23]
        yield (
            "land",
            [
                (
                    rng.choice(ids),
                    rng.choice(days),
                    rng.choice(["Prospecting", "Closed Won"]),
                    rng.choice([1.0, 2.0]),
                )
                for _ in range(rng.randint(1, 6))
            ],
        )


def as_records(batch: list[tuple]) -> list[dict]:
    return [
        opp(i, s, a, None if d is None else f"2024-05-{d}T10:00:00.000+0000")
        for i, d, s, a in batch
    ]


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_follow_the_version_rules(destination, warehouse, seed):
    rules = VersionRules()
    with destination.open_sync("salesforce") as sync:
        for step, data in random_history(seed):
            if step == "delete":
                sync.mark_deleted("opportunity", data, primary_key=["id"])
                rules.delete(data)
            else:
                result = sync.write_batch("opportunity", as_records(data), **SF)
                assert result.versions_appended == rules.land(data)
    columns = "id, day(system_modstamp), stage_name, amount, _is_deleted"
    assert sorted(
        query(warehouse, f"SELECT {columns} FROM raw_salesforce.opportunity__versions"),
        key=repr,
    ) == sorted(rules.versions, key=repr)
    assert {
        row[0]: row[1:]
        for row in query(warehouse, f"SELECT {columns} FROM raw_salesforce.opportunity")
    } == rules.current


@pytest.mark.parametrize("seed", range(3))
def test_batches_cast_ahead_land_exactly_as_batches_cast_in_the_transaction(tmp_path, seed):
    # prepare() casts and hashes on its own connection, so a stream runner can do it on
    # another thread while the previous batch lands; the tables must not tell the difference.
    def land(path: Path, ahead: bool) -> dict[str, list[tuple]]:
        with DuckDBDestination(path, clock=TickingClock()).open_sync("salesforce") as sync:
            for step, data in random_history(seed):
                if step == "delete":
                    sync.mark_deleted("opportunity", data, primary_key=["id"])
                elif ahead:
                    prepared = sync.prepare("opportunity", as_records(data), **SF)
                    assert prepared.staged is not None  # every row casts: nothing left to do
                    sync.write_prepared(prepared)
                else:
                    sync.write_batch("opportunity", as_records(data), **SF)
        return {
            table: query(path, f"SELECT * EXCLUDE (_sync_id) FROM {table} ORDER BY ALL")
            for table in ("raw_salesforce.opportunity", "raw_salesforce.opportunity__versions")
        }

    assert land(tmp_path / "ahead.duckdb", True) == land(tmp_path / "in.duckdb", False)


def test_a_batch_cast_ahead_to_other_types_is_cast_again(destination, warehouse):
    # The table's types are decided inside the transaction; a batch cast ahead to others (a
    # new sync that has not seen the table yet) is cast again there. "12.50" read as a DOUBLE
    # would land as '12.5' in the VARCHAR column.
    deals = {"primary_key": ["id"]}
    as_text = {"id": "VARCHAR", "amount": "VARCHAR"}
    as_double = {"id": "VARCHAR", "amount": "DOUBLE"}
    with destination.open_sync("hubspot") as sync:
        sync.write_batch("deals", [{"id": "1", "amount": "5"}], columns=as_text, **deals)
    with destination.open_sync("hubspot") as sync:
        first = sync.prepare("deals", [{"id": "2", "amount": "12.50"}], columns=as_double, **deals)
        assert first.staged_types == as_double
        sync.write_prepared(first)
        second = sync.prepare("deals", [{"id": "3", "amount": "7.50"}], columns=as_double, **deals)
        assert second.staged_types == as_text  # learnt from the first batch's transaction
        sync.write_prepared(second)
    assert query(warehouse, "SELECT id, amount FROM raw_hubspot.deals ORDER BY id") == [
        ("1", "5"),
        ("2", "12.50"),
        ("3", "7.50"),
    ]


def test_a_batch_with_rows_that_do_not_cast_is_quarantined_in_the_transaction(
    destination, warehouse
):
    with destination.open_sync("salesforce") as sync:
        prepared = sync.prepare("opportunity", [opp("006A"), opp("006B", amount="lots")], **SF)
        assert prepared.staged is None  # the quarantine needs the raw values, in the transaction
        result = sync.write_prepared(prepared)
    assert (result.landed, result.quarantined) == (1, 1)
    assert count(warehouse, "raw_meta.quarantine") == 1


def test_stream_without_cursor_keeps_a_change_back_to_an_earlier_value(destination, warehouse):
    columns = {"id": "VARCHAR", "label": "VARCHAR", "display_order": "INTEGER"}
    kwargs = {"columns": columns, "primary_key": ["id"]}
    a = {"id": "default", "label": "Sales Pipeline", "display_order": 0}
    b = {"id": "default", "label": "New Business", "display_order": 0}
    with destination.open_sync("hubspot") as sync:
        appended = [
            sync.write_batch("deal_pipelines", [row], **kwargs).versions_appended
            for row in (a, a, b, a, a)
        ]
    assert appended == [1, 0, 1, 1, 0]
    assert query(warehouse, "SELECT label FROM raw_hubspot.deal_pipelines") == [("Sales Pipeline",)]


def test_composite_primary_key(destination, warehouse):
    columns = {"pipeline_id": "VARCHAR", "stage_id": "VARCHAR", "probability": "DOUBLE"}
    kwargs = {"columns": columns, "primary_key": ["pipeline_id", "stage_id"]}
    rows = [
        {"pipeline_id": "default", "stage_id": "closedwon", "probability": "1.0"},
        {"pipeline_id": "default", "stage_id": "closedlost", "probability": "0.0"},
        {"pipeline_id": "other", "stage_id": "closedwon", "probability": "1.0"},
    ]
    with destination.open_sync("hubspot") as sync:
        sync.write_batch("deal_pipeline_stages", rows, **kwargs)
        result = sync.write_batch(
            "deal_pipeline_stages",
            [{"pipeline_id": "other", "stage_id": "closedwon", "probability": "0.95"}],
            **kwargs,
        )
        deleted = sync.mark_deleted(
            "deal_pipeline_stages", [("default", "closedlost")], primary_key=kwargs["primary_key"]
        )
    assert (result.inserted, result.updated) == (0, 1)
    assert deleted == 1
    assert query(
        warehouse,
        "SELECT pipeline_id, stage_id, probability, _is_deleted "
        "FROM raw_hubspot.deal_pipeline_stages ORDER BY ALL",
    ) == [
        ("default", "closedlost", 0.0, True),
        ("default", "closedwon", 1.0, False),
        ("other", "closedwon", 0.95, False),
    ]


def test_arrow_input(destination, warehouse):
    table = pa.table(
        {
            "customer_id": pa.array(["1234567890"] * 2),
            "campaign_id": pa.array(["111000001", "111000002"]),
            "date": pa.array([date(2024, 6, 1)] * 2),
            "cost_micros": pa.array(["25000000", "1"]),  # int64 arrives as strings
            "clicks": pa.array([1540, 3], pa.int64()),
            "conversions": pa.array([18.0, 0.5]),
        }
    )
    columns = {
        "customer_id": "VARCHAR",
        "campaign_id": "VARCHAR",
        "date": "DATE",
        "cost_micros": "BIGINT",
        "clicks": "BIGINT",
        "conversions": "DOUBLE",
    }
    with destination.open_sync("google_ads") as sync:
        result = sync.write_batch(
            "campaign_daily_metrics",
            table,
            columns=columns,
            primary_key=["customer_id", "campaign_id", "date"],
        )
    assert (result.landed, result.quarantined) == (2, 0)
    assert query(
        warehouse,
        "SELECT cost_micros, clicks, conversions FROM raw_google_ads.campaign_daily_metrics "
        "ORDER BY campaign_id",
    ) == [(25000000, 1540, 18.0), (1, 3, 0.5)]


# -- crash safety ------------------------------------------------------------------------


@pytest.mark.parametrize("crash_in", ["_upsert_current", "_save_state"])
def test_a_failure_inside_the_transaction_leaves_nothing_partial(
    destination, warehouse, monkeypatch, crash_in
):
    with destination.open_sync("salesforce", "sync-1") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF, state={"hwm": "first"})
    before = snapshot(warehouse)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(DuckDBSync, crash_in, crash)
    second = [
        opp("006A", "Closed Won", modstamp="2024-05-22T00:00:00.000+0000"),
        opp("006B", amount="oops"),  # would be quarantined
        opp("006C", territory_2_id="0MI1"),  # would add a column
    ]
    columns = {**OPPORTUNITY, "territory_2_id": "VARCHAR"}
    sync = destination.open_sync("salesforce", "sync-2")
    with pytest.raises(RuntimeError, match="simulated crash"):
        sync.write_batch(
            "opportunity", second, **{**SF, "columns": columns}, state={"hwm": "second"}
        )
    sync.close()
    after = snapshot(warehouse)
    assert {k: v for k, v in after.items() if k != "raw_meta.sync_log"} == {
        k: v for k, v in before.items() if k != "raw_meta.sync_log"
    }
    assert destination.get_state("salesforce", "opportunity") == {"hwm": "first"}

    monkeypatch.undo()
    with destination.open_sync("salesforce", "sync-3") as sync:
        result = sync.write_batch(
            "opportunity", second, **{**SF, "columns": columns}, state={"hwm": "second"}
        )
    assert (result.landed, result.quarantined, result.versions_appended) == (2, 1, 2)
    assert count(warehouse, "raw_salesforce.opportunity") == 2


CHILD = textwrap.dedent(
    """
    import os, sys
    from connectors.destinations import DuckDBDestination, DuckDBSync

    path, columns, first, second = sys.argv[1], *map(__import__("json").loads, sys.argv[2:5])
    kwargs = dict(columns=columns, primary_key=["id"], cursor_field="system_modstamp")
    sync = DuckDBDestination(path).open_sync("salesforce", "sync-child")
    sync.write_batch("opportunity", first, state={"hwm": "first"}, **kwargs)
    DuckDBSync._upsert_current = lambda *a, **k: os._exit(17)  # power cut mid-transaction
    sync.write_batch("opportunity", second, state={"hwm": "second"}, **kwargs)
    """
)


def test_a_hard_kill_mid_transaction_then_reruns(destination, warehouse):
    first = [opp("006A"), opp("006B")]
    second = [opp("006B", "Closed Won", modstamp="2024-05-23T00:00:00.000+0000"), opp("006C")]
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(warehouse),
            *map(json.dumps, (OPPORTUNITY, first, second)),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 17, child.stderr
    assert count(warehouse, "raw_salesforce.opportunity") == 2
    assert count(warehouse, "raw_salesforce.opportunity__versions") == 2
    assert destination.get_state("salesforce", "opportunity") == {"hwm": "first"}
    for _ in range(2):  # the rerun, and a rerun of the rerun
        with destination.open_sync("salesforce") as sync:
            sync.write_batch("opportunity", second, **SF, state={"hwm": "second"})
    assert count(warehouse, "raw_salesforce.opportunity") == 3
    assert count(warehouse, "raw_salesforce.opportunity__versions") == 4
    assert query(
        warehouse, "SELECT stage_name FROM raw_salesforce.opportunity WHERE id = '006B'"
    ) == [("Closed Won",)]
    assert destination.get_state("salesforce", "opportunity") == {"hwm": "second"}


# -- schema evolution --------------------------------------------------------------------


def test_new_fields_become_nullable_columns_without_new_versions_for_old_rows(
    destination, warehouse
):
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [opp("006A"), opp("006B")], **SF)
        evolved = {**OPPORTUNITY, "forecast_category": "VARCHAR", "probability": "DOUBLE"}
        result = sync.write_batch(
            "opportunity",
            [opp("006A"), opp("006C", forecast_category="Pipeline", probability=10)],
            **{**SF, "columns": evolved},
        )
    # 006A re-fetched unchanged (its new columns are null): same hash, so no new version
    assert (result.inserted, result.updated, result.versions_appended) == (1, 0, 1)
    for table in ("opportunity", "opportunity__versions"):
        columns = [
            r[0]
            for r in query(
                warehouse,
                "SELECT column_name FROM duckdb_columns() "
                f"WHERE schema_name = 'raw_salesforce' AND table_name = '{table}'",
            )
        ]
        assert {"forecast_category", "probability"} <= set(columns)
    assert query(
        warehouse,
        "SELECT id, forecast_category, probability FROM raw_salesforce.opportunity ORDER BY id",
    ) == [("006A", None, None), ("006B", None, None), ("006C", "Pipeline", 10.0)]


def test_undeclared_fields_land_as_varchar(destination, warehouse):
    with destination.open_sync("hubspot") as sync:
        sync.write_batch(
            "deals",
            [{"id": "512", "dealname": "Acme", "surprise": {"nested": [1, 2]}}],
            columns={"id": "VARCHAR", "dealname": "VARCHAR"},
            primary_key=["id"],
        )
    assert query(warehouse, "SELECT surprise FROM raw_hubspot.deals") == [('{"nested":[1,2]}',)]


def test_an_existing_column_keeps_its_type(destination, warehouse):
    with destination.open_sync("hubspot") as sync:
        sync.write_batch(
            "deals",
            [{"id": "1", "amount": 5.0}],
            columns={"id": "VARCHAR", "amount": "DOUBLE"},
            primary_key=["id"],
        )
        result = sync.write_batch(
            "deals",
            [{"id": "2", "amount": "12.5"}, {"id": "3", "amount": "n/a"}],
            columns={"id": "VARCHAR", "amount": "VARCHAR"},
            primary_key=["id"],
        )
    assert (result.landed, result.quarantined) == (1, 1)


# -- quarantine --------------------------------------------------------------------------


def test_values_that_do_not_cast_are_quarantined_with_a_reason(destination, warehouse):
    columns = {
        "id": "VARCHAR",
        "amount": "DOUBLE",
        "num_employees": "INTEGER",
        "is_closed": "BOOLEAN",
        "closedate": "TIMESTAMPTZ",
        "start": "DATE",
        "address": "JSON",
        "big": "BIGINT",
    }
    good = {
        "id": "1",
        "amount": "1500.00",
        "num_employees": "12",
        "is_closed": "true",
        "closedate": "2024-03-31T00:00:00Z",
        "start": "2024-01-01",
        "address": {"city": "Oslo"},
        "big": "9007199254740993",
    }
    records = [
        good,
        {**good, "id": "2", "amount": "12,5"},
        {**good, "id": "3", "num_employees": "12.5"},
        {**good, "id": "4", "is_closed": "maybe"},
        {**good, "id": "5", "closedate": "last tuesday"},
        {**good, "id": "6", "start": "2024-02-30"},
        {**good, "id": "7", "num_employees": "99999999999"},
        {**good, "id": None},
        {
            **good,
            "id": "9",
            "amount": "",
            "num_employees": "",
            "closedate": "1704067200000",
            "start": "1704067200000",
        },
        {**good, "id": "10", "amount": "x", "is_closed": "nope"},
    ]
    with destination.open_sync("hubspot", "sync-q") as sync:
        result = sync.write_batch("companies", records, columns=columns, primary_key=["id"])
        sync.finish_stream("companies")
    assert result.fetched == 10
    assert (result.landed, result.quarantined) == (2, 8)
    assert result.fetched == result.landed + result.quarantined
    reasons = dict(
        query(warehouse, "SELECT primary_key, reason FROM raw_meta.quarantine ORDER BY primary_key")
    )
    assert reasons["2"] == "field amount: value '12,5' is not a valid DOUBLE"
    assert reasons["3"] == "field num_employees: value '12.5' is not a valid INTEGER"
    assert reasons["4"] == "field is_closed: value 'maybe' is not a valid BOOLEAN"
    assert "closedate: value 'last tuesday'" in reasons["5"]
    assert "start: value '2024-02-30'" in reasons["6"]
    assert "99999999999" in reasons["7"]
    assert reasons[None] == "primary key id is null"
    assert "amount" in reasons["10"] and "is_closed" in reasons["10"]
    payload = query(warehouse, "SELECT payload FROM raw_meta.quarantine WHERE primary_key = '2'")[
        0
    ][0]
    assert json.loads(payload)["amount"] == "12,5"
    assert query(
        warehouse,
        "SELECT amount, num_employees, closedate, start, big FROM raw_hubspot.companies WHERE id = '9'",
    ) == [(None, None, datetime(2024, 1, 1, tzinfo=UTC), date(2024, 1, 1), 9007199254740993)]
    log = query(
        warehouse,
        "SELECT records_fetched, records_landed, records_quarantined FROM raw_meta.sync_log",
    )
    assert log == [(10, 2, 8)]


def test_invariant_holds_in_sync_log_across_batches(destination, warehouse):
    with destination.open_sync("salesforce") as sync:
        for i in range(3):
            batch = [opp(f"006{i}{j}", amount="bad" if j == 0 else 1.0) for j in range(4)]
            sync.write_batch("opportunity", batch, **SF)
    assert query(
        warehouse,
        "SELECT records_fetched, records_landed, records_quarantined, inserted FROM raw_meta.sync_log",
    ) == [(12, 9, 3, 9)]


# -- deletes -----------------------------------------------------------------------------


def test_mark_deleted_flags_the_row_and_appends_one_version(destination, warehouse):
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [opp("006A"), opp("006B")], **SF)
        first = sync.mark_deleted(
            "opportunity", ["006A", "006Z"], primary_key=["id"], state={"d": 1}
        )
        again = sync.mark_deleted("opportunity", [{"id": "006A"}], primary_key=["id"])
    assert (first, again) == (1, 0)
    assert query(
        warehouse, "SELECT id, _is_deleted FROM raw_salesforce.opportunity ORDER BY id"
    ) == [
        ("006A", True),
        ("006B", False),
    ]
    assert query(
        warehouse,
        "SELECT _is_deleted, count(*) FROM raw_salesforce.opportunity__versions "
        "WHERE id = '006A' GROUP BY ALL ORDER BY ALL",
    ) == [(False, 1), (True, 1)]
    assert query(warehouse, "SELECT deleted FROM raw_meta.sync_log") == [(1,)]
    assert destination.get_state("salesforce", "opportunity") == {"d": 1}


def test_is_deleted_field_feeds_the_flag(destination, warehouse):
    columns = {**OPPORTUNITY, "is_deleted": "BOOLEAN"}
    with destination.open_sync("salesforce") as sync:
        sync.write_batch(
            "opportunity",
            [opp("006A", is_deleted=False)],
            **{**SF, "columns": columns},
            is_deleted_field="is_deleted",
        )
        sync.write_batch(
            "opportunity",
            [opp("006A", modstamp="2024-05-25T00:00:00.000+0000", is_deleted=True)],
            **{**SF, "columns": columns},
            is_deleted_field="is_deleted",
        )
    assert query(warehouse, "SELECT _is_deleted FROM raw_salesforce.opportunity") == [(True,)]


# -- sessions and validation -------------------------------------------------------------


def test_sync_log_status_on_exit(destination, warehouse):
    with destination.open_sync("salesforce", "ok") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF)
    with pytest.raises(KeyError), destination.open_sync("salesforce", "boom") as sync:
        sync.write_batch("opportunity", [opp("006B")], **SF)
        raise KeyError("extraction failed")
    assert query(
        warehouse, "SELECT sync_id, status, error FROM raw_meta.sync_log ORDER BY sync_id"
    ) == [
        ("boom", "failed", "KeyError: 'extraction failed'"),
        ("ok", "success", None),
    ]


def test_connection_is_released_after_the_sync(destination, warehouse):
    sync = destination.open_sync("salesforce")
    sync.write_batch("opportunity", [opp("006A")], **SF)
    sync.close()
    with pytest.raises(RuntimeError, match="closed"):
        sync.write_batch("opportunity", [opp("006B")], **SF)
    # another process can open the file once the sync is closed
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb,sys; duckdb.connect(sys.argv[1]).close()",
            str(warehouse),
        ],
        capture_output=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr


def test_get_state_of_an_unknown_stream(destination, tmp_path):
    assert DuckDBDestination(tmp_path / "missing.duckdb").get_state("hubspot", "deals") is None
    with destination.open_sync("hubspot") as sync:
        assert sync.get_state("deals") is None


@pytest.mark.parametrize(
    "record",
    [
        {"id": "1", 'x"; drop table opportunity; --': "boom"},
        {"id": "1", "_is_deleted": True},
        {"id": "1", "Bad Name": 1},
    ],
)
def test_hostile_field_names_are_refused_before_anything_lands(destination, warehouse, record):
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF)
        with pytest.raises(UnsafeIdentifier, match="not loaded"):
            sync.write_batch("opportunity", [record], columns={"id": "VARCHAR"}, primary_key=["id"])
    assert count(warehouse, "raw_salesforce.opportunity") == 1


def test_hostile_stream_names_and_unknown_types_are_refused(destination):
    with destination.open_sync("salesforce") as sync:
        with pytest.raises(UnsafeIdentifier):
            sync.write_batch('opportunity"; --', [], columns={"id": "VARCHAR"}, primary_key=["id"])
        with pytest.raises(UnsafeIdentifier):
            sync.write_batch(
                "opportunity__versions", [], columns={"id": "VARCHAR"}, primary_key=["id"]
            )
        with pytest.raises(ValueError, match="unsupported column types"):
            sync.write_batch("opportunity", [], columns={"id": "TEXT; DROP"}, primary_key=["id"])


def test_a_large_batch_lands_set_based(destination, warehouse):
    n = 50_000
    table = pa.table(
        {
            "id": pa.array([f"006{i:015d}" for i in range(n)]),
            "stage_name": pa.array(["Prospecting"] * n),
            "amount": pa.array([float(i) for i in range(n)]),
            "system_modstamp": pa.array(["2024-05-20T10:00:00.000+0000"] * n),
        }
    )
    with destination.open_sync("salesforce") as sync:
        result = sync.write_batch("opportunity", table, **SF)
        rerun = sync.write_batch("opportunity", table, **SF)
    assert (result.landed, result.versions_appended, rerun.versions_appended) == (n, n, 0)
    assert count(warehouse, "raw_salesforce.opportunity") == n


def test_a_wide_batch_lands_within_the_writers_memory_limit(warehouse):
    # 100 custom fields x 20,000 rows (the runner's 2,000,000-value budget; 69 MB in Arrow),
    # twice (new rows, then every row changed), under the writer's default 256 MB: versioning a
    # batch must not hold whole rows in a window, and landing must not read the history.
    n, width = 20_000, 100
    words = pa.array([f"value {i:05d} of a custom field" for i in range(997)])
    custom = {f"field_{j}__c": "VARCHAR" for j in range(width)}
    wide = {"columns": {**OPPORTUNITY, **custom}, "primary_key": ["id"],
            "cursor_field": "system_modstamp"}  # fmt: skip

    def batch(modstamp: str) -> pa.Table:
        columns = {name: words.take(pa.array([(i + j) % 997 for i in range(n)]))
                   for j, name in enumerate(custom)}  # fmt: skip
        columns["id"] = pa.array([f"006{i:015d}" for i in range(n)])
        columns["system_modstamp"] = pa.array([modstamp] * n)
        return pa.table(columns)

    with DuckDBDestination(warehouse).open_sync("salesforce") as sync:
        first = sync.write_batch("opportunity", batch("2024-05-20T10:00:00.000+0000"), **wide)
        second = sync.write_batch("opportunity", batch("2024-05-21T10:00:00.000+0000"), **wide)
    assert (first.inserted, second.updated, second.versions_appended) == (n, n, n)
    assert count(warehouse, "raw_salesforce.opportunity__versions") == 2 * n


@pytest.mark.parametrize(
    "records",
    [
        [{"id": "1", "n": 1, "ok": True}, {"id": "2", "n": None, "extra": "x"}],
        [{"id": "1", "n": 1}, {"id": "2", "n": 2.5}],  # ints and floats: a double column
        [{"id": "1", "n": 1}, {"id": "2", "n": "x"}],  # mixed types: text, the cast decides
        [{"id": "1", "n": 2**64}],  # too large for int64: text
        [{"id": "1", "nested": {"a": [1, 2]}, "tags": ["a"]}],  # nested: JSON text
        [{"id": "1", "payload": "text"}, {"id": "2", "payload": {"k": 1}}],
        [{"id": "1"}],  # a declared column that no record has
    ],
)
def test_arrow_conversion_in_one_pass_matches_column_by_column(records):
    from connectors.destinations.base import _to_arrow_by_column, to_arrow

    declared = {"id": "VARCHAR", "payload": "JSON", "n": "DOUBLE", "absent": "VARCHAR"}
    fast, reference = to_arrow(records, declared), _to_arrow_by_column(records, declared)
    assert fast.schema == reference.schema
    assert fast.to_pylist() == reference.to_pylist()
