"""Salesforce wire details: describe parsing, SOQL, Bulk API 2.0, wide objects."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from connectors.salesforce import (
    ObjectSchema,
    SfField,
    _bulk_fields,
    _csv_table,
    any_text,
    bulk_chunk_rows,
    id_list_query,
    parse_describe,
    parse_sf_datetime,
    soql_datetime,
    split_fields,
    window_query,
)
from connectors.streams import Window
from emulator.schema import SF_OBJECTS
from tests.connectors.salesforce_support import (
    assert_all_succeeded,
    differences,
    make_source,
    run_sync,
)

UTC = dt.UTC


def field(name, type_="string", **extra):
    return {"name": name, "type": type_, **extra}


def test_describe_types_map_to_warehouse_types():
    schema = parse_describe(
        "Thing",
        {
            "fields": [
                field("Id", "id"),
                field("OwnerId", "reference"),
                field("Amount", "currency"),
                field("Probability", "percent"),
                field("Ratio", "double"),
                field("Seats", "int"),
                field("Big", "long"),
                field("IsWon", "boolean"),
                field("CloseDate", "date"),
                field("SystemModstamp", "datetime"),
                field("Stage", "picklist"),
                field("Notes", "textarea"),
                field("OldValue", "anyType"),
                field("Where", "location"),
                field("Odd", "someNewType"),
            ]
        },
    )
    assert schema.columns == {
        "id": "VARCHAR",
        "owner_id": "VARCHAR",
        "amount": "DOUBLE",
        "probability": "DOUBLE",
        "ratio": "DOUBLE",
        "seats": "INTEGER",
        "big": "BIGINT",
        "is_won": "BOOLEAN",
        "close_date": "DATE",
        "system_modstamp": "TIMESTAMPTZ",
        "stage": "VARCHAR",
        "notes": "VARCHAR",
        "old_value": "VARCHAR",
        "where": "JSON",
        "odd": "VARCHAR",
    }


def test_compound_parents_are_dropped_and_their_components_kept():
    schema = parse_describe(
        "Account",
        {
            "fields": [
                field("Id", "id"),
                field("BillingStreet", "textarea", compoundFieldName="BillingAddress"),
                field("BillingCity", compoundFieldName="BillingAddress"),
                field("BillingAddress", "address"),
                field("ShippingAddress", "address"),  # no components listed: kept, as JSON
            ]
        },
    )
    assert list(schema.columns) == ["id", "billing_street", "billing_city", "shipping_address"]
    assert schema.columns["shipping_address"] == "JSON"


def test_cursor_precedence_and_delete_flags():
    def schema(*names):
        return parse_describe("X", {"fields": [field("Id", "id")] + [field(n) for n in names]})

    assert schema("CreatedDate", "SystemModstamp", "LastModifiedDate").cursor.api_name == (
        "SystemModstamp"
    )
    assert schema("CreatedDate", "LastModifiedDate").cursor.api_name == "LastModifiedDate"
    assert schema("CreatedDate").cursor.api_name == "CreatedDate"
    assert schema("Name").cursor is None
    assert schema("IsDeleted").query_all and schema("IsDeleted").has_is_deleted
    assert schema("IsArchived").query_all and not schema("IsArchived").has_is_deleted
    assert not schema("Name").query_all


def test_hostile_field_names_are_left_out_with_a_clear_message(caplog):
    hostile = 'X"); DROP TABLE raw_salesforce.opportunity; --'
    schema = parse_describe(
        "Opportunity",
        {"fields": [field("Id", "id"), field(hostile), field("_Loader__c"), field("Name")]},
    )
    assert list(schema.columns) == ["id", "name"]
    assert schema.rejected == (hostile, "_Loader__c")
    assert "not a safe identifier" in caplog.text and "DROP TABLE" in caplog.text


def test_window_query_is_half_open_ordered_and_uses_z_literals():
    schema = parse_describe(
        "Opportunity", {"fields": [field("Id", "id"), field("SystemModstamp", "datetime")]}
    )
    start = dt.datetime(2024, 5, 20, 10, 0, 0, 999_000, tzinfo=UTC)
    end = dt.datetime(2024, 5, 21, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert window_query(schema, ["Id", "SystemModstamp"], Window(start, end)) == (
        "SELECT Id, SystemModstamp FROM Opportunity WHERE SystemModstamp >= "
        "2024-05-20T10:00:00Z AND SystemModstamp < 2024-05-20T22:00:00Z "
        "ORDER BY SystemModstamp, Id"
    )
    assert window_query(schema, ["Id"], Window(None, end)).endswith(
        "WHERE SystemModstamp < 2024-05-20T22:00:00Z ORDER BY SystemModstamp, Id"
    )
    assert soql_datetime(start) == "2024-05-20T10:00:00Z"  # whole seconds: never later


def test_id_lists_accept_only_salesforce_ids():
    schema = ObjectSchema("Opportunity", (SfField("Id", "id", "id"),))
    assert id_list_query(schema, ["Id"], ["006000000000001AAA"]) == (
        "SELECT Id FROM Opportunity WHERE Id IN ('006000000000001AAA')"
    )
    with pytest.raises(ValueError, match="not a Salesforce id"):
        id_list_query(schema, ["Id"], ["006' OR Name != '"])


def test_split_fields_keeps_every_chunk_within_budget():
    fields = [SfField(f"Field_{i:03d}__c", f"field_{i:03d}_c", "string") for i in range(200)]
    keys = (SfField("Id", "id", "id"), SfField("SystemModstamp", "system_modstamp", "datetime"))
    schema = ObjectSchema("Wide", (*keys, *fields))
    first, others = split_fields(schema, ["Id", "SystemModstamp"], budget=400)
    chunks = [first, *others]
    assert len(chunks) > 3
    assert first[:2] == ["Id", "SystemModstamp"]
    assert all(chunk[:2] == ["Id", "SystemModstamp"] for chunk in others)
    every = [name for chunk in chunks for name in chunk[2:]] + first[:2]
    assert sorted(every) == sorted(f.api_name for f in schema.fields)


def test_values_as_the_api_prints_them():
    assert any_text(25000.0) == "25000"
    assert any_text(0.25) == "0.25"
    assert any_text(True) == "true"
    assert any_text("Prospecting") == "Prospecting"
    assert any_text(None) is None
    assert parse_sf_datetime("2024-05-20T20:49:32.000+0000") == dt.datetime(
        2024, 5, 20, 20, 49, 32, tzinfo=UTC
    )
    assert parse_sf_datetime("2024-05-20T20:49:32.000Z") == dt.datetime(
        2024, 5, 20, 20, 49, 32, tzinfo=UTC
    )
    assert parse_sf_datetime("not a date") is None


# -- against the emulator ----------------------------------------------------------------------


def test_large_initial_loads_go_through_bulk_api_2(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_source(emulator, bulk_threshold=100, bulk_chunk_rows=60)
    bulk_jobs = []
    create = source._create_bulk_job

    def spy(soql, query_all):
        bulk_jobs.append(soql)
        return create(soql, query_all)

    source._create_bulk_job = spy
    assert_all_succeeded(run_sync(emulator, warehouse, source=source))
    view = emulator.state.view
    bulky = {obj for obj, frame in view.salesforce.items() if len(frame) > 100}
    assert {soql.split(" FROM ")[1].split()[0] for soql in bulk_jobs} == bulky
    for obj in SF_OBJECTS:
        assert differences(warehouse, view, obj) == []


def test_bulk_chunks_of_a_wide_object_hold_fewer_rows(emulator, tmp_path):
    # A budget of 400 values per batch: each object's results requests ask for 400 / its
    # field count rows, and the landed tables still equal the truth.
    warehouse = tmp_path / "warehouse.duckdb"
    source = make_source(emulator, bulk_threshold=100, checkpoint_cells=400)
    asked: dict[str, set[int]] = {}
    request = source.client.request

    def spy(method, url, **kwargs):
        if url.endswith("/results"):
            job = url.split("/jobs/query/")[1].split("/")[0]
            asked.setdefault(job, set()).add(kwargs["params"]["maxRecords"])
        return request(method, url, **kwargs)

    source.client.request = spy
    assert_all_succeeded(run_sync(emulator, warehouse, source=source))
    bulky = [obj for obj, frame in emulator.state.view.salesforce.items() if len(frame) > 100]
    expected = [
        bulk_chunk_rows(source.settings, len(_bulk_fields(source.describe(obj)))) for obj in bulky
    ]
    assert sorted(expected) == sorted(rows for job in asked.values() for rows in job)
    assert max(expected) < 100  # every object is wider than 4 fields: all chunks shrank
    for obj in SF_OBJECTS:
        assert differences(warehouse, emulator.state.view, obj) == []


def test_bulk_and_rest_agree_on_field_history_values(emulator, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    streams = ["OpportunityFieldHistory"]
    assert_all_succeeded(run_sync(emulator, warehouse, streams=streams, bulk_threshold=1))
    assert differences(warehouse, emulator.state.view, "OpportunityFieldHistory") == []


def test_wide_objects_are_queried_in_field_chunks_merged_on_id(emulator, tmp_path):
    limit = 450
    source = make_source(emulator, max_url_length=limit)
    urls = []
    get_json = source.client.get_json

    def spy(url, params=None, **options):
        if params and "q" in params:
            urls.append(source._query_url(params["q"], url.endswith("queryAll")))
        return get_json(url, params, **options)

    source.client.get_json = spy
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(emulator, warehouse, source=source))
    assert max(len(url) for url in urls) <= limit
    assert sum("Id+IN+" in url for url in urls) >= 5
    for obj in SF_OBJECTS:
        assert differences(warehouse, emulator.state.view, obj) == []


def test_an_object_bulk_refuses_is_read_over_rest(emulator, tmp_path):
    from connectors.http import ApiError

    source = make_source(emulator, bulk_threshold=10)

    def refuse(soql, query_all):
        raise ApiError("INVALIDENTITY", api="salesforce", method="POST", path="/", status=400)

    source._create_bulk_job = refuse
    warehouse = tmp_path / "warehouse.duckdb"
    assert_all_succeeded(run_sync(emulator, warehouse, source=source, streams=["Task"]))
    assert differences(warehouse, emulator.state.view, "Task") == []


def test_bulk_csv_pages_parse_to_text_columns_like_the_csv_module():
    fields = [SfField("Id", "id", "id"), SfField("Description", "description", "textarea"),
              SfField("Amount", "amount", "currency"), SfField("Gone", "gone", "string")]  # fmt: skip
    body = (
        b'"Id","Description","Amount","Extra"\n'
        b'"006A","two\nlines, with ""quotes""","12.5","x"\n'
        b'"006B","","",""\n'
        b'"006C",,\x00"7",\n'
    )
    table = _csv_table(body, fields)
    assert table.column_names == ["id", "description", "amount", "gone"]
    assert all(t == pa.string() for t in table.schema.types)
    assert table.to_pylist() == [
        {"id": "006A", "description": 'two\nlines, with "quotes"', "amount": "12.5", "gone": None},
        {"id": "006B", "description": None, "amount": None, "gone": None},  # "" is null
        {"id": "006C", "description": None, "amount": "7", "gone": None},
    ]
    assert _csv_table(b"", fields).num_rows == 0
    with pytest.raises(pa.ArrowInvalid):  # a garbled row: the caller reads the window again
        _csv_table(b'"Id","Description"\n"006A","a","b"\n', fields)
