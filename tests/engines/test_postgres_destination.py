"""PostgreSQL destination on a real server: versions, quarantine, schema drift, state, crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.destinations.factory import destination_from_env
from connectors.destinations.postgres import PostgresConnection, PostgresDestination
from salesops.config import ConfigError
from tests.connectors.test_duckdb_destination import documented_row_hash, hash_probe
from tests.engines.postgres_support import env_for, query

ROOT = Path(__file__).resolve().parents[2]
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
def destination(postgres_db) -> PostgresDestination:
    return PostgresDestination(postgres_db, clock=TickingClock())


def count(db: PostgresConnection, table: str) -> int:
    return query(db, f"SELECT count(*) FROM {table}")[0][0]


def test_batches_land_current_rows_versions_log_and_state(destination, postgres_db):
    with destination.open_sync("salesforce") as sync:
        first = sync.write_batch("opportunity", [opp("006A"), opp("006B")], **SF, state={"p": 1})
        again = sync.write_batch("opportunity", [opp("006A"), opp("006B")], **SF, state={"p": 2})
        changed = sync.write_batch(
            "opportunity",
            [opp("006A", "Closed Won", 1500.5, "2024-05-21T09:00:00.000+0000")],
            **SF,
            state={"p": 3},
        )
        stale = sync.write_batch("opportunity", [opp("006A")], **SF)  # an older re-fetch
    assert (first.inserted, first.versions_appended) == (2, 2)
    assert (again.inserted, again.updated, again.versions_appended) == (0, 0, 0)
    assert (changed.updated, changed.versions_appended) == (1, 1)
    assert stale.versions_appended == 0
    assert query(
        postgres_db,
        "SELECT stage_name, amount, is_won, close_date::text FROM raw_salesforce.opportunity "
        "WHERE id = '006A'",
    ) == [("Closed Won", 1500.5, True, "2024-06-28")]
    assert count(postgres_db, "raw_salesforce.opportunity") == 2
    assert count(postgres_db, "raw_salesforce.opportunity__versions") == 3
    assert destination.get_state("salesforce", "opportunity") == {"p": 3}
    log = query(
        postgres_db,
        "SELECT status, records_fetched, records_landed, inserted, updated "
        "FROM raw_meta.sync_log WHERE stream = 'opportunity'",
    )
    assert log == [("success", 6, 6, 2, 1)]


def test_bad_values_are_quarantined_whole_with_the_reason_and_never_twice(destination, postgres_db):
    bad = [opp("006A"), opp("006B", amount="a lot"), opp("006C", close_date="not a date")]
    with destination.open_sync("salesforce") as sync:
        result = sync.write_batch("opportunity", bad, **SF)
        sync.write_batch("opportunity", bad, **SF)  # a rerun sees the same bad records
    assert (result.fetched, result.landed, result.quarantined) == (3, 1, 2)
    rows = query(
        postgres_db,
        "SELECT primary_key, reason, payload->>'amount' FROM raw_meta.quarantine ORDER BY 1",
    )
    assert rows == [
        ("006B", "field amount: value 'a lot' is not a valid DOUBLE", "a lot"),
        ("006C", "field close_date: value 'not a date' is not a valid DATE", "1000.0"),
    ]
    assert query(postgres_db, "SELECT id FROM raw_salesforce.opportunity") == [("006A",)]


def test_the_row_hash_is_md5_of_the_documented_text(destination, postgres_db):
    # The same rule as DuckDB's, over PostgreSQL's text forms (a double 1000.0 is "1000").
    stored, values = hash_probe(destination, lambda sql: query(postgres_db, sql))
    values["amount"] = "1000"
    assert stored == [
        (documented_row_hash(values, deleted=False), False, "1000"),
        (documented_row_hash(values, deleted=True), True, "1000"),
    ]


def test_schema_drift_adds_columns_and_keeps_old_hashes(destination, postgres_db):
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [opp("006A")], **SF)
        drifted = sync.write_batch(
            "opportunity",
            [opp("006A"), opp("006B", next_step="Call back\tsoon\nplease \\ thanks")],
            **{**SF, "columns": {**OPPORTUNITY, "next_step": "VARCHAR"}},
        )
    assert drifted.versions_appended == 1  # 006A did not change: its hash skips the new null
    assert query(
        postgres_db,
        "SELECT id, next_step FROM raw_salesforce.opportunity ORDER BY id",
    ) == [("006A", None), ("006B", "Call back\tsoon\nplease \\ thanks")]
    columns = query(
        postgres_db,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "'raw_salesforce' AND table_name = 'opportunity__versions' AND column_name = 'next_step'",
    )
    assert columns == [("next_step",)]


def test_deletes_flag_rows_and_append_a_version(destination, postgres_db):
    with destination.open_sync("salesforce") as sync:
        sync.write_batch("opportunity", [opp("006A"), opp("006B")], **SF)
        assert sync.live_keys("opportunity", ["id"]) == {("006A",), ("006B",)}
        assert sync.mark_deleted("opportunity", ["006B", "006Z"], primary_key=["id"]) == 1
        assert sync.live_keys("opportunity", ["id"]) == {("006A",)}
        assert sync.live_keys("opportunity", ["id"], where_in=("id", ["006B"])) == set()
    assert query(
        postgres_db,
        "SELECT _is_deleted, count(*) FROM raw_salesforce.opportunity__versions "
        "WHERE id = '006B' GROUP BY 1 ORDER BY 1",
    ) == [(False, 1), (True, 1)]


CRASH = textwrap.dedent(
    """
    import os, sys
    from connectors.destinations.postgres import PostgresConnection, PostgresDestination, PostgresSync
    target = PostgresConnection(port=int(sys.argv[1]), user=sys.argv[2], dbname=sys.argv[3])
    columns = {"id": "VARCHAR", "amount": "DOUBLE"}
    sync = PostgresDestination(target).open_sync("salesforce")
    sync.write_batch("opportunity", [{"id": "A", "amount": 1.0}], columns=columns,
                     primary_key=["id"], state={"page": 1})
    # The process dies after every statement of the second batch ran (the state is saved
    # last), before its commit.
    save_state = PostgresSync._save_state
    PostgresSync._save_state = lambda *args: (save_state(*args), os._exit(9))
    sync.write_batch("opportunity", [{"id": "A", "amount": 2.0}, {"id": "B", "amount": 3.0}],
                     columns=columns, primary_key=["id"], state={"page": 2})
    """
)


def test_a_crash_before_commit_leaves_nothing_of_the_batch(postgres_db):
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH,
            str(postgres_db.port),
            postgres_db.user,
            postgres_db.dbname,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 9, process.stderr
    assert query(postgres_db, "SELECT id, amount FROM raw_salesforce.opportunity") == [("A", 1.0)]
    assert count(postgres_db, "raw_salesforce.opportunity__versions") == 1
    assert query(postgres_db, "SELECT state FROM raw_meta.stream_state") == [({"page": 1},)]
    rerun = PostgresDestination(postgres_db).open_sync("salesforce")
    with rerun:
        assert rerun.get_state("opportunity") == {"page": 1}


def test_chosen_by_salesops_destination_and_the_password_never_shows(postgres_db):
    env = {**env_for(postgres_db), "SALESOPS_DESTINATION": "postgres"}
    chosen = destination_from_env(env)
    assert isinstance(chosen, PostgresDestination)
    with pytest.raises(ConfigError, match="SALESOPS_POSTGRES_USER"):
        destination_from_env({"SALESOPS_DESTINATION": "postgres"})
    secret = "pw-do-not-print-71"
    wrong = PostgresConnection(port=postgres_db.port, user="nobody", password=secret)
    assert secret not in repr(wrong) and secret not in repr(PostgresDestination(wrong))
    with pytest.raises(ConnectionError) as error:
        PostgresDestination(wrong).open_sync("salesforce")
    assert "SALESOPS_POSTGRES" in str(error.value)
    assert secret not in str(error.value)
    assert secret not in json.dumps(repr(error.value))
