"""``salesops dev-db``: a consistent private copy of the warehouse, refused while a writer holds it."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from salesops.cli import main
from salesops.commands.dev import WarehouseBusy, copy_warehouse, dev_warehouse_path

HOLD_WRITER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("INSERT INTO marts.t VALUES (3)")
print("holding", flush=True)
time.sleep(60)
"""


@pytest.fixture
def warehouse(clean_env):
    path = clean_env / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.t AS SELECT * FROM (VALUES (1), (2)) v(x)")
        con.execute("CREATE VIEW marts.v AS SELECT sum(x) AS s FROM marts.t")
    return path


def test_dev_db_copies_the_warehouse(warehouse, capsys):
    assert main(["dev-db"]) == 0
    target = dev_warehouse_path()
    assert target == warehouse.parent / "dev_warehouse.duckdb"
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT s FROM marts.v").fetchone() == (3,)  # views work in the copy
    out = capsys.readouterr().out
    assert "--target dev" in out and str(target) in out
    assert not list(warehouse.parent.glob(".dev_warehouse*"))


def test_dev_db_refuses_while_a_writer_holds_the_warehouse(warehouse, capsys):
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(warehouse)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "holding"
        with pytest.raises(WarehouseBusy, match="in use by another process"):
            copy_warehouse(warehouse, dev_warehouse_path())
        assert main(["dev-db"]) == 2
        assert "Nothing was copied" in capsys.readouterr().err
        assert not dev_warehouse_path().exists()
    finally:
        writer.kill()
        writer.wait()


def test_dev_db_needs_a_warehouse(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SALESOPS_DEV_WAREHOUSE", str(tmp_path / "mine.duckdb"))
    assert dev_warehouse_path() == tmp_path / "mine.duckdb"
    assert main(["dev-db"]) == 2
