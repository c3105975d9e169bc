"""The stream runner with an in-memory source: planning, windows, checkpoints, restarts,
deletes and related tables. Real DuckDB files; no HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from connectors.destinations import DuckDBDestination
from connectors.http import DailyLimitExceeded
from connectors.streams import (
    Page,
    Related,
    RestartWindow,
    Source,
    StreamSpec,
    Window,
    plan_run,
    read_ahead,
    select_streams,
    sync_source,
    sync_stream,
    windows,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
COLUMNS = {"id": "VARCHAR", "updated": "TIMESTAMPTZ", "value": "VARCHAR", "deleted": "BOOLEAN"}
SPEC = StreamSpec(
    name="things",
    resource="things",
    cursor_field="updated",
    deleted_field="deleted",
    lookback=timedelta(minutes=10),
    checkpoint_pages=2,
    columns=tuple(COLUMNS),
)


def thing(i: int, minutes: int, value: str = "v1", deleted: bool = False) -> dict[str, Any]:
    return {"id": f"t{i:04d}", "updated": T0 + timedelta(minutes=minutes), "value": value,
            "deleted": deleted}  # fmt: skip


class Die(BaseException):
    """The process dying (not an error a runner could handle)."""


@dataclass
class FakeSource(Source):
    """Serves ``records`` in cursor order (or not), ``page_size`` at a time."""

    records: list[dict[str, Any]]
    page_size: int = 3
    ordered: bool = True
    die_after_pages: int | None = None
    expire_after_pages: list[int] = field(default_factory=list)  # one RestartWindow per entry
    unwindowed: list[dict[str, Any]] = field(default_factory=list)
    related: bool = False
    name: str = "fake"
    windows_read: list[Window] = field(default_factory=list)
    pages_served: int = 0

    def __post_init__(self) -> None:
        self.client = SimpleNamespace(
            server_now=NOW, stats=SimpleNamespace(retries=0), close=lambda: None
        )

    def streams(self, names=None):
        return select_streams([SPEC], names)

    def read(self, spec: StreamSpec, window: Window) -> Iterator[Page]:
        self.windows_read.append(window)
        chosen = [
            r for r in self.records
            if (window.start is None or r["updated"] >= window.start)
            and (window.end is None or r["updated"] < window.end)
        ]  # fmt: skip
        chosen.sort(key=lambda r: (r["updated"], r["id"]), reverse=not self.ordered)
        for served_here, start in enumerate(range(0, len(chosen), self.page_size)):
            if self.expire_after_pages and served_here == self.expire_after_pages[0]:
                self.expire_after_pages.pop(0)
                raise RestartWindow("locator expired")
            if self.pages_served == self.die_after_pages:
                raise Die
            rows = chosen[start : start + self.page_size]
            self.pages_served += 1
            yield Page(
                [{k: v for k, v in r.items() if k != "links"} for r in rows],
                COLUMNS,
                max(r["updated"] for r in rows),
                self.ordered,
                related=self._related(rows) if self.related else [],
            )

    def _related(self, rows):
        links = [{"from_id": r["id"], "to_id": t} for r in rows for t in r.get("links", ())]
        columns = {"from_id": "VARCHAR", "to_id": "VARCHAR"}
        ids = [r["id"] for r in rows]
        return [Related("thing_links", links, columns, ("from_id", "to_id"),
                        parent_column="from_id", parents=ids)]  # fmt: skip

    def read_unwindowed(self, spec):
        if self.unwindowed:
            yield Page([dict(r) for r in self.unwindowed], COLUMNS, ordered=False)

    def keys(self, spec):
        return [r["id"] for r in self.records]


def sync(source: FakeSource, warehouse, spec: StreamSpec = SPEC, **kwargs):
    with DuckDBDestination(warehouse).open_sync("fake") as s:
        return sync_stream(source, spec, s, **kwargs)


def state(warehouse) -> dict[str, Any]:
    return DuckDBDestination(warehouse).get_state("fake", "things")


def rows(warehouse, table="things") -> dict[str, tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            r[0]: r[1:]
            for r in con.execute(
                f"SELECT * EXCLUDE (_synced_at, _sync_id, _row_hash) FROM raw_fake.{table}"
            ).fetchall()
        }


# -- planning ----------------------------------------------------------------------------------


def test_windows_are_half_open_and_cover_the_range():
    day = timedelta(days=1)
    got = windows(T0, T0 + 2.5 * day, day)
    assert [(w.start, w.end) for w in got] == [
        (T0, T0 + day), (T0 + day, T0 + 2 * day), (T0 + 2 * day, T0 + 2.5 * day)
    ]  # fmt: skip
    assert windows(None, NOW, day) == [Window(None, NOW)]
    assert windows(T0, NOW, None) == [Window(T0, NOW)]
    assert windows(NOW, T0, day) == []


def test_plans():
    assert plan_run(SPEC, {}, NOW).full_pass  # first run
    incremental = plan_run(SPEC, {"cursor": T0.isoformat(), "columns": list(COLUMNS)}, NOW)
    assert not incremental.full_pass and incremental.resume_from == T0 and incremental.end == NOW
    saved = {"cursor": T0.isoformat(), "columns": list(COLUMNS)}
    assert plan_run(SPEC, saved, NOW, full_refresh=True).full_pass
    assert plan_run(SPEC, {**saved, "columns": ["id"]}, NOW).full_pass  # a column appeared
    assert not plan_run(SPEC, {**saved, "columns": [*COLUMNS, "gone"]}, NOW).full_pass
    interrupted = plan_run(SPEC, {**saved, "full_pass_started": NOW.isoformat()}, NOW)
    assert interrupted.full_pass and interrupted.resume_from == T0  # resumes, not restarts
    weekly = StreamSpec("things", "things", cursor_field="updated",
                        full_pass_every=timedelta(days=7))  # fmt: skip
    assert plan_run(weekly, {"cursor": T0.isoformat(), "full_pass_at": (NOW - timedelta(days=8)).isoformat()},
                    NOW).full_pass  # fmt: skip
    assert not plan_run(
        weekly, {"cursor": T0.isoformat(), "full_pass_at": (NOW - timedelta(days=1)).isoformat()},
        NOW,
    ).full_pass  # fmt: skip
    assert plan_run(StreamSpec("x", "x"), {}, NOW).end is None  # no cursor: everything, always


def test_select_streams_by_table_or_resource_name():
    other = StreamSpec("opportunity", "Opportunity")
    assert select_streams([SPEC, other], ["OPPORTUNITY"]) == [other]
    assert select_streams([SPEC, other], None) == [SPEC, other]
    assert select_streams([SPEC], ["nope"]) == []  # extract reports names nobody knew


# -- running -----------------------------------------------------------------------------------


def test_first_run_then_incremental_with_lookback(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    source = FakeSource([thing(i, i) for i in range(10)])
    run = sync(source, warehouse)
    assert (run.mode, run.fetched, run.inserted, run.pages) == ("full", 10, 10, 4)
    assert state(warehouse)["cursor"] == (T0 + timedelta(minutes=9)).isoformat()
    assert source.windows_read == [Window(None, NOW)]

    source.records.append(thing(10, 30, "new"))
    source.records[9] = thing(9, 9, "changed in place")  # same cursor: not read again
    run = sync(source, warehouse)
    assert run.mode == "incremental"
    assert source.windows_read[-1] == Window(T0 + timedelta(minutes=-1), NOW)  # 9 min - 10 min
    assert (run.inserted, run.updated) == (1, 1)  # rows 0..8 re-read unchanged; row 9 changed
    assert len(rows(warehouse)) == 11


def test_bookmark_is_never_past_the_stream_start(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    future = thing(1, 0)
    future["updated"] = NOW + timedelta(days=3)  # a clock-skewed record
    source = FakeSource([thing(0, 0), future])
    source.read = lambda spec, window: iter([Page(source.records, COLUMNS, future["updated"])])
    sync(source, warehouse)
    assert state(warehouse)["cursor"] == NOW.isoformat()


def test_a_crash_resumes_from_the_last_checkpoint_and_loses_nothing(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    records = [thing(i, i // 2) for i in range(20)]  # pairs share a timestamp
    source = FakeSource(records, die_after_pages=5)  # checkpoints after pages 2 and 4
    with pytest.raises(Die):
        sync(source, warehouse)
    assert len(rows(warehouse)) == 12
    saved = state(warehouse)
    assert saved["cursor"] == (T0 + timedelta(minutes=5)).isoformat()  # row 11 is at minute 5
    assert "full_pass_started" in saved

    source.die_after_pages = None
    run = sync(source, warehouse)
    assert run.mode == "full"  # the interrupted pass, resumed
    assert len(rows(warehouse)) == 20
    assert "full_pass_started" not in state(warehouse) and state(warehouse)["full_pass_at"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw_fake.things__versions").fetchone()[0] == 20


@pytest.mark.parametrize(
    ("budget", "landed_before_the_crash"),
    [
        ({"checkpoint_rows": 6}, 12),  # 2 pages of 3 rows
        ({"checkpoint_cells": 3 * len(COLUMNS)}, 15),  # every page: 3 rows of 4 columns
        ({"checkpoint_cells": 7 * len(COLUMNS)}, 9),  # every 3 pages
        ({"checkpoint_bytes": 1}, 15),  # every page, in slices (below)
    ],
)
def test_batches_are_bounded_by_rows_values_and_bytes(tmp_path, budget, landed_before_the_crash):
    # Pages alone would never checkpoint here: the budget in rows or values decides.
    spec = replace(SPEC, checkpoint_pages=100, **budget)
    warehouse = tmp_path / "w.duckdb"
    source = FakeSource([thing(i, i) for i in range(30)], die_after_pages=5)
    with pytest.raises(Die):
        sync(source, warehouse, spec)
    assert len(rows(warehouse)) == landed_before_the_crash


def test_a_page_over_the_byte_budget_lands_in_slices_and_moves_the_bookmark_once(tmp_path):
    # A page of long values (a Bulk chunk of descriptions) is cut into slices the writer can
    # hold; a crash between two slices keeps the bookmark before the page, and the rerun lands
    # the rest without duplicating the slice that had landed.
    spec = replace(SPEC, checkpoint_pages=100, checkpoint_bytes=1)
    warehouse = tmp_path / "w.duckdb"
    source = FakeSource([thing(i, i) for i in range(9)])  # 3 pages of 3 rows
    with DuckDBDestination(warehouse).open_sync("fake") as writer:
        batches: list[int] = []
        land = writer.write_prepared

        def dies_on_the_fifth_batch(prepared, **kwargs):
            batches.append(prepared.batch.num_rows)
            if len(batches) == 5:  # the second slice of page 2
                raise Die
            return land(prepared, **kwargs)

        writer.write_prepared = dies_on_the_fifth_batch
        with pytest.raises(Die):
            sync_stream(source, spec, writer)
    assert batches == [1, 1, 1, 1, 1]
    assert len(rows(warehouse)) == 4
    assert state(warehouse)["cursor"] == (T0 + timedelta(minutes=2)).isoformat()  # page 1

    run = sync(source, warehouse, spec)
    assert (run.fetched, run.pages) == (9, 3)
    assert len(rows(warehouse)) == 9
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw_fake.things__versions").fetchone()[0] == 9
    assert state(warehouse)["cursor"] == (T0 + timedelta(minutes=8)).isoformat()


def test_batches_are_cast_ahead_of_their_transaction(tmp_path):
    # The runner prepares each batch on its own thread while the previous one lands; every
    # batch of rows that cast arrives with its rows already cast.
    warehouse = tmp_path / "w.duckdb"
    with DuckDBDestination(warehouse).open_sync("fake") as writer:
        landed = []
        land = writer.write_prepared

        def recording(prepared, **kwargs):
            landed.append((prepared.batch.num_rows, prepared.staged is not None))
            return land(prepared, **kwargs)

        writer.write_prepared = recording
        sync_stream(FakeSource([thing(i, i) for i in range(7)]), SPEC, writer)
    assert landed == [(6, True), (1, True)]
    assert len(rows(warehouse)) == 7


def test_unordered_pages_move_the_bookmark_only_when_the_window_is_done(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    source = FakeSource([thing(i, i) for i in range(12)], ordered=False, die_after_pages=3)
    with pytest.raises(Die):
        sync(source, warehouse)
    assert state(warehouse)["cursor"] is None  # 6 rows landed, but not the oldest ones
    source.die_after_pages = None
    sync(source, warehouse)
    assert state(warehouse)["cursor"] == (T0 + timedelta(minutes=11)).isoformat()
    assert len(rows(warehouse)) == 12


def test_an_expired_paging_cursor_restarts_the_window_at_its_checkpoint(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    source = FakeSource([thing(i, i) for i in range(12)], expire_after_pages=[3])
    run = sync(source, warehouse)
    assert run.restarts == 1 and len(rows(warehouse)) == 12
    assert source.windows_read[1].start == T0 + timedelta(minutes=8)  # after pages 1-3


def test_restarts_without_progress_give_up(tmp_path):
    source = FakeSource([thing(i, i) for i in range(12)], expire_after_pages=[0] * 10)
    with pytest.raises(RuntimeError, match="restarted 6 times without progress"):
        sync(source, tmp_path / "w.duckdb")


def test_soft_and_hard_deletes(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    hard = StreamSpec(**{**SPEC.__dict__, "hard_deletes": True})
    source = FakeSource([thing(i, i) for i in range(6)])
    sync(source, warehouse, hard)
    source.records[1] = thing(1, 20, deleted=True)  # soft: the record says so
    del source.records[2]  # hard: it is just gone
    run = sync(source, warehouse, hard)
    assert run.deleted == 2
    flags = {key: (row[2], row[3]) for key, row in rows(warehouse).items()}  # deleted, _is_deleted
    assert flags["t0001"] == (True, True)
    assert flags["t0002"] == (False, True)
    assert sum(1 for flag in flags.values() if flag[1]) == 2


def test_related_rows_land_with_their_page_and_lost_ones_are_flagged(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    records = [thing(i, i) | {"links": [f"a{i}", f"b{i}"]} for i in range(4)]
    source = FakeSource(records, related=True)
    sync(source, warehouse)
    links = "SELECT from_id, to_id FROM raw_fake.thing_links WHERE _is_deleted = ? ORDER BY 1, 2"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert len(con.execute(links, [False]).fetchall()) == 8
    source.records[0] = thing(0, 30) | {"links": ["a0"]}  # b0 was removed
    sync(source, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(links, [True]).fetchall() == [("t0000", "b0")]
        assert len(con.execute(links, [False]).fetchall()) == 7


def test_unwindowed_pages_land_without_moving_the_bookmark(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    archived = thing(99, 60 * 24 * 20, deleted=True)  # newer than anything in the windows
    source = FakeSource([thing(i, i) for i in range(3)], unwindowed=[archived])
    run = sync(source, warehouse)
    assert run.fetched == 4 and "t0099" in rows(warehouse)
    assert state(warehouse)["cursor"] == (T0 + timedelta(minutes=2)).isoformat()


def test_sync_log_and_progress(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    seen = []
    source = FakeSource([thing(i, i) for i in range(7)])
    run = sync(source, warehouse, on_progress=lambda r: seen.append((r.status, r.fetched)))
    # Reported as each batch lands: two pages of three, then the last page.
    assert seen == [("running", 6), ("running", 7), ("success", 7)]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        log = con.execute(
            "SELECT status, records_fetched, records_landed, records_quarantined, pages, cursor "
            "FROM raw_meta.sync_log"
        ).fetchall()
    assert log == [("success", 7, 7, 0, 3, run.cursor)]


def test_a_failing_stream_does_not_stop_the_others_but_a_fatal_error_does(tmp_path):
    class Failing(FakeSource):
        def streams(self, names=None):
            return [StreamSpec("broken", "broken"), SPEC]

        def read(self, spec, window):
            if spec.name == "broken":
                raise ValueError("bad page")
            yield from super().read(spec, window)

    with DuckDBDestination(tmp_path / "w.duckdb").open_sync("fake") as s:
        source = Failing([thing(0, 0)])
        runs = sync_source(source, s, source.streams())
    assert [(r.stream, r.status) for r in runs] == [("broken", "failed"), ("things", "success")]
    assert runs[0].error == "ValueError: bad page"

    class Exhausted(Failing):
        def read(self, spec, window):
            raise DailyLimitExceeded("used up", api="fake", method="GET", path="/")

    with (
        DuckDBDestination(tmp_path / "x.duckdb").open_sync("fake") as s,
        pytest.raises(DailyLimitExceeded),
    ):
        source = Exhausted([])
        sync_source(source, s, source.streams())


# -- reading ahead and Arrow pages -------------------------------------------------------------


def test_read_ahead_keeps_the_order_of_pages_and_errors():
    def pages():
        yield 1
        yield 2
        raise RestartWindow("locator expired")

    seen = []
    with pytest.raises(RestartWindow, match="locator expired"):
        for page in read_ahead(pages(), depth=1):
            seen.append(page)
    assert seen == [1, 2]


def test_read_ahead_stops_the_source_when_the_consumer_stops():
    closed, fetched = [], []

    def pages():
        try:
            for i in range(100):
                fetched.append(i)
                yield i
        finally:
            closed.append(threading.current_thread().name)

    reader = read_ahead(pages(), depth=2)
    assert next(reader) == 0
    deadline = time.monotonic() + 10
    while len(fetched) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # time enough to run further, if it would
    assert fetched == [0, 1, 2]  # the one in hand and two ahead: then it waits for room
    reader.close()  # the consumer gives up (an error while landing)
    assert closed == ["salesops-read-ahead"]  # the generator's cleanup ran, in its thread
    assert fetched == [0, 1, 2]
    assert not any(t.name == "salesops-read-ahead" for t in threading.enumerate())


@dataclass
class ArrowSource(FakeSource):
    """The same records, served as Arrow tables of text (as Bulk CSV pages are)."""

    def read(self, spec: StreamSpec, window: Window) -> Iterator[Page]:
        for page in super().read(spec, window):
            texts = [{k: None if v is None else str(v).lower() if isinstance(v, bool)
                      else v.isoformat() if isinstance(v, datetime) else str(v)
                      for k, v in r.items()} for r in page.records]  # fmt: skip
            table = pa.Table.from_pylist(texts, pa.schema([(c, pa.string()) for c in COLUMNS]))
            yield replace(page, records=table)


def test_arrow_pages_land_like_dict_pages(tmp_path):
    records = [thing(i, i, deleted=i % 4 == 0) for i in range(10)]
    by_dicts = sync(FakeSource([dict(r) for r in records]), tmp_path / "dicts.duckdb")
    by_tables = sync(ArrowSource([dict(r) for r in records]), tmp_path / "tables.duckdb")
    assert rows(tmp_path / "tables.duckdb") == rows(tmp_path / "dicts.duckdb")
    assert (by_tables.fetched, by_tables.landed, by_tables.deleted) == (10, 10, 3)
    assert by_tables.deleted == by_dicts.deleted


def test_pages_that_type_a_column_differently_land_as_one_page_would(tmp_path):
    # Each page becomes an Arrow table as it is read; a value of another JSON type on a later
    # page of the batch (an int, then text, then a float, then a bool) must not fail the batch,
    # and must land, and hash, exactly as it would had the pages been one.
    values = [5, 7, "seven", 2.5, True, None, {"nested": 1}, 8]
    records = [thing(i, i, value=v) for i, v in enumerate(values)]

    def hashes(warehouse):
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(
                "SELECT id, value, _row_hash FROM raw_fake.things ORDER BY id"
            ).fetchall()

    paged = sync(FakeSource([dict(r) for r in records], page_size=2), tmp_path / "paged.duckdb")
    whole = sync(FakeSource([dict(r) for r in records], page_size=100), tmp_path / "whole.duckdb")
    assert (paged.fetched, paged.landed, paged.quarantined) == (8, 8, 0) == (
        whole.fetched, whole.landed, whole.quarantined
    )  # fmt: skip
    assert hashes(tmp_path / "paged.duckdb") == hashes(tmp_path / "whole.duckdb")
    assert [v for _, v, _ in hashes(tmp_path / "paged.duckdb")] == [
        "5", "7", "seven", "2.5", "true", None, '{"nested":1}', "8"
    ]  # fmt: skip
