"""The SOQL parser and evaluator on a hand-made frame (no HTTP)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from emulator.ids import make_keys, sf_ids
from emulator.schema import SfField
from emulator.server import soql

KEYS = make_keys("Opportunity", np.arange(1, 7))
OWNERS = make_keys("User", np.array([10, 11, -1, 10, 12, 11]))
OWNERS = np.where(np.arange(6) == 2, -1, OWNERS)
IDS = list(sf_ids(KEYS))


def _table() -> soql.Table:
    frame = pd.DataFrame(
        {
            "Id": KEYS,
            "Name": pd.array(
                ["Acme", "acme corp", None, "Beta 50%", "Gamma", "delta"], dtype="str"
            ),
            "OwnerId": OWNERS,
            "Amount": [100.0, np.nan, 300.0, 50.0, 250.0, 100.0],
            "FiscalYear": pd.array([2024, 2025, None, 2024, 2026, 2025], dtype="Int64"),
            "IsClosed": [True, False, False, True, False, False],
            "CloseDate": np.array(
                ["2024-04-01", "2024-03-31", "NaT", "2024-06-30", "2025-01-01", "2026-11-27"],
                dtype="datetime64[ms]",
            ),
            "SystemModstamp": np.array(
                [
                    "2024-05-20T00:00:00",
                    "2024-05-19T23:59:59",
                    "2024-05-20T10:30:00",
                    "NaT",
                    "2024-05-21T08:00:00",
                    "2026-11-26T12:00:00",
                ],
                dtype="datetime64[ms]",
            ),
        }
    )
    fields = [
        SfField("Id", "id"),
        SfField("Name", "string"),
        SfField("OwnerId", "reference", reference_to=("User",)),
        SfField("Amount", "currency"),
        SfField("FiscalYear", "int"),
        SfField("IsClosed", "boolean"),
        SfField("CloseDate", "date"),
        SfField("SystemModstamp", "datetime"),
    ]
    users = pd.DataFrame(
        {"Id": make_keys("User", np.array([10, 11, 12])), "Name": ["Ana", "Ben", "Cy"]}
    )
    user_table = soql.Table("User", users, [SfField("Id", "id"), SfField("Name", "string")])
    return soql.Table("Opportunity", frame, fields, resolve=lambda name: user_table)


def run(text: str) -> list[int]:
    """1-based row numbers (Opportunity local ids) the query returns, in order."""
    table = _table()
    query = soql.parse(text)
    soql.check_object(query, {"Opportunity": None})
    soql.select_columns(query, table)
    ev = soql.Evaluator(query, table, soql.Context(today=dt.date(2026, 11, 27)))
    positions = ev.order(np.flatnonzero(ev.where()))
    if query.offset:
        positions = positions[query.offset :]
    if query.limit is not None:
        positions = positions[: query.limit]
    return [int(p) + 1 for p in positions]


def error(text: str) -> soql.SoqlError:
    with pytest.raises(soql.SoqlError) as info:
        run(text)
    return info.value


Q = "SELECT Id FROM Opportunity "


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Amount = 100", [1, 6]),
        ("Amount != 100", [2, 3, 4, 5]),  # != also matches null, as in SOQL
        ("Amount <> 100", [2, 3, 4, 5]),
        ("Amount > 100", [3, 5]),
        ("Amount >= 100", [1, 3, 5, 6]),
        ("Amount < 100", [4]),
        ("Amount <= 100.0", [1, 4, 6]),
        ("Amount = null", [2]),
        ("Amount != null", [1, 3, 4, 5, 6]),
        ("FiscalYear = 2025", [2, 6]),
        ("Name = 'ACME'", [1]),  # case-insensitive
        ("Name = null", [3]),
        ("Name != 'acme'", [2, 3, 4, 5, 6]),
        ("Name LIKE 'acme%'", [1, 2]),
        ("Name LIKE '%a'", [5, 6]),
        ("Name LIKE '_eta%'", [4]),
        ("Name LIKE '%\\%'", [4]),
        ("Name IN ('gamma', 'DELTA')", [5, 6]),
        ("Name NOT IN ('gamma', 'DELTA')", [1, 2, 3, 4]),
        ("IsClosed = TRUE", [1, 4]),
        ("IsClosed = false", [2, 3, 5, 6]),
        ("CloseDate >= 2024-04-01", [1, 4, 5, 6]),
        ("CloseDate < 2024-04-01", [2]),
        ("CloseDate = 2024-06-30", [4]),
        ("SystemModstamp >= 2024-05-20T00:00:00Z", [1, 3, 5, 6]),
        ("SystemModstamp > 2024-05-20T00:00:00Z", [3, 5, 6]),
        ("SystemModstamp >= 2024-05-20T02:00:00+02:00", [1, 3, 5, 6]),
        ("SystemModstamp < 2024-05-20T10:30:00.000+0000", [1, 2]),
        ("SystemModstamp >= 2024-05-21T08:00:00-00:00", [5, 6]),
        ("SystemModstamp = TODAY", []),
        ("SystemModstamp = YESTERDAY", [6]),
        ("CloseDate = TODAY", [6]),
        ("CloseDate = LAST_N_DAYS:3", [6]),
        ("SystemModstamp > LAST_N_DAYS:10", []),
        (f"Id = '{IDS[2]}'", [3]),
        (f"Id = '{IDS[2][:15]}'", [3]),
        (f"Id IN ('{IDS[0]}', '{IDS[4]}')", [1, 5]),
        (f"Id > '{IDS[3]}'", [5, 6]),
        ("OwnerId = null", [3]),
        ("Owner.Name = 'ben'", [2, 6]),
        ("Owner.Name != 'ben'", [1, 3, 4, 5]),
        ("Amount > 50 AND Amount < 300", [1, 5, 6]),
        ("Amount = 50 OR Name = 'gamma' OR IsClosed = TRUE", [1, 4, 5]),
        ("(Amount = 100 OR Amount = 50) AND IsClosed = TRUE", [1, 4]),
        ("NOT Amount = 100", [2, 3, 4, 5]),
        ("NOT (Amount = 100 OR Amount = null)", [3, 4, 5]),
        ("Amount IN (100, 250)", [1, 5, 6]),
        ("CloseDate IN (2024-04-01, 2025-01-01)", [1, 5]),
    ],
)
def test_where(where, expected):
    assert run(Q + "WHERE " + where) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("Amount", [2, 4, 1, 6, 5, 3]),  # nulls first by default for ASC
        ("Amount ASC NULLS LAST", [4, 1, 6, 5, 3, 2]),
        ("Amount DESC", [3, 5, 1, 6, 4, 2]),  # nulls last by default for DESC
        ("Amount DESC NULLS FIRST", [2, 3, 5, 1, 6, 4]),
        ("Amount DESC, Name", [3, 5, 1, 6, 4, 2]),
        ("Amount, Name DESC", [2, 4, 6, 1, 5, 3]),
        ("Name", [3, 1, 2, 4, 6, 5]),  # case-insensitive order
        ("SystemModstamp, Id", [4, 2, 1, 3, 5, 6]),
        ("CloseDate DESC", [6, 5, 4, 1, 2, 3]),
        ("Owner.Name, Id DESC", [3, 4, 1, 6, 2, 5]),
        ("IsClosed, Id", [2, 3, 5, 6, 1, 4]),
    ],
)
def test_order_by(order, expected):
    assert run(Q + "ORDER BY " + order) == expected


def test_limit_and_offset():
    assert run(Q + "ORDER BY Id LIMIT 2") == [1, 2]
    assert run(Q + "ORDER BY Id LIMIT 2 OFFSET 3") == [4, 5]
    assert run(Q + "WHERE Amount != null ORDER BY Amount DESC LIMIT 1") == [3]


def test_keywords_and_names_are_case_insensitive():
    assert run("select id, NAME from opportunity where amount = 100 order by ID desc") == [6, 1]


def test_select_resolves_api_names_and_parent_paths():
    table = _table()
    query = soql.parse("SELECT id, owner.name, AMOUNT FROM Opportunity")
    assert [c.path for c in soql.select_columns(query, table)] == ["Id", "Owner.Name", "Amount"]


def test_count():
    query = soql.parse("SELECT COUNT() FROM Opportunity WHERE Amount > 10")
    assert query.count and query.fields == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT Id FROM Opportunity WHERE", "MALFORMED_QUERY"),
        ("SELECT Id Opportunity", "MALFORMED_QUERY"),
        ("SELECT FROM Opportunity", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE Name = 'x", "MALFORMED_QUERY"),
        (
            "SELECT Id FROM Opportunity WHERE Amount = 1 AND Amount = 2 OR Amount = 3",
            "MALFORMED_QUERY",
        ),
        (
            "SELECT Id FROM Opportunity WHERE SystemModstamp >= 2024-05-20T00:00:00 00:00",
            "MALFORMED_QUERY",
        ),
        (
            "SELECT Id FROM Opportunity WHERE SystemModstamp >= 2024-05-20T00:00:00",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM Opportunity LIMIT x", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Opportunity", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity ORDER BY", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Owner.Nope FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Nope.Name FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE Nope = 1", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity ORDER BY Nope", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE SystemModstamp >= 2024-05-20", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE CloseDate >= 2024-05-20T00:00:00Z", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE CloseDate >= '2024-05-20'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE Amount = '5'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE Name = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE IsClosed = 'true'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE Id = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
    ],
)
def test_errors(text, code):
    assert error(text).code == code


def test_error_message_style():
    exc = error("SELECT Id, Foo FROM Opportunity")
    assert "ERROR at Row:1:Column:12" in exc.message
    assert "No such column 'Foo' on entity 'Opportunity'" in exc.message
    exc = error("SELECT Id FROM Opportunity WHERE SystemModstamp >= 2024-05-20T00:00:00 00:00")
    assert exc.code == "MALFORMED_QUERY" and "ERROR at Row:1:Column:" in exc.message
    exc = error("SELECT Id FROM Opp")
    assert "sObject type 'Opp' is not supported" in exc.message


def test_id_sort_keys_order_like_rendered_ids():
    keys = np.concatenate(
        [
            make_keys(name, np.array([0, 5, 61, 62, 3843, 10**9]))
            for name in ("Contact", "Lead", "User", "Opportunity")
        ]
    )
    ids = sf_ids(keys)
    by_key = [ids[i] for i in np.argsort(soql.id_sort_keys(keys), kind="stable")]
    assert by_key == sorted(ids)
