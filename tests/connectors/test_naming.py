"""Raw-layer identifiers: Fivetran-compatible snake_case and the untrusted-name validator."""

from __future__ import annotations

import duckdb
import pytest

from connectors.naming import (
    UnsafeIdentifier,
    column_name,
    map_columns,
    qualified,
    quote_ident,
    table_name,
    to_snake_case,
    validate_identifier,
)

CONFIG_NAMES = {
    "Opportunity": "opportunity",
    "OpportunityHistory": "opportunity_history",
    "UserRole": "user_role",
    "Territory2": "territory_2",
    "ForecastingQuota": "forecasting_quota",
    "DatedConversionRate": "dated_conversion_rate",
    "StageName": "stage_name",
    "IsWon": "is_won",
    "SystemModstamp": "system_modstamp",
    "Territory2Id": "territory_2_id",
    "Pricebook2Id": "pricebook_2_id",
    "Custom_Field__c": "custom_field_c",
    "UserTerritory2Association": "user_territory_2_association",
    "ObjectTerritory2Association": "object_territory_2_association",
    "ParentTerritory2Id": "parent_territory_2_id",
    "MQL_Date__c": "mql_date_c",
    "Owner_Manager_At_Close__c": "owner_manager_at_close_c",
    "CallDurationInSeconds": "call_duration_in_seconds",
    # a few more shapes seen in sales-ops orgs
    "Id": "id",
    "CurrencyIsoCode": "currency_iso_code",
    "NextStartDate": "next_start_date",
    "OpportunityFieldHistory": "opportunity_field_history",
    "Territory2ModelId": "territory_2_model_id",
    "SLAExpirationDate__c": "sla_expiration_date_c",
    "dealname": "dealname",
}

HOSTILE = [
    'x"; drop table opportunity; --',
    "Robert'); DROP TABLE students;--",
    "name with space",
    "Amount\u00a0",
    "Ünïcode__c",
    "a" * 64,
    "",
    "1stField",
    "semi;colon",
    'quote"inside',
    "new\nline",
]


@pytest.mark.parametrize(("raw", "expected"), CONFIG_NAMES.items())
def test_fivetran_compatible_snake_case(raw, expected):
    assert to_snake_case(raw) == expected


@pytest.mark.parametrize("raw", CONFIG_NAMES)
def test_converted_names_never_contain_a_double_underscore(raw):
    assert "__" not in to_snake_case(raw)


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_names_are_rejected_not_mangled(raw):
    with pytest.raises(UnsafeIdentifier) as caught:
        column_name(raw, source="salesforce", obj="Opportunity")
    message = str(caught.value)
    assert "salesforce" in message
    assert "Opportunity" in message
    assert repr(raw) in message
    assert "not loaded" in message


def test_reserved_and_structural_names_are_rejected():
    with pytest.raises(UnsafeIdentifier, match="reserved for loader metadata"):
        validate_identifier("_synced_at", source="hubspot", obj="deals")
    with pytest.raises(UnsafeIdentifier, match="version tables"):
        table_name("deals__versions", source="hubspot", convert=False)
    with pytest.raises(UnsafeIdentifier, match="longer than"):
        table_name("x" * 60, source="hubspot", convert=False)
    assert table_name("UserTerritory2Association", source="salesforce") == (
        "user_territory_2_association"
    )


def test_hubspot_names_pass_through_unconverted():
    assert column_name("hs_date_entered_123456", source="hubspot", obj="deals", convert=False) == (
        "hs_date_entered_123456"
    )
    with pytest.raises(UnsafeIdentifier):
        column_name("HasCaps", source="hubspot", obj="deals", convert=False)


def test_map_columns_separates_rejected_and_colliding_names():
    mapping, rejected = map_columns(
        ["Id", "FooC", "Foo__c", 'x"; drop table opportunity; --', "StageName"],
        source="salesforce",
        obj="Opportunity",
    )
    assert mapping == {"Id": "id", "FooC": "foo_c", "StageName": "stage_name"}
    assert [r.name for r in rejected] == ["Foo__c", 'x"; drop table opportunity; --']
    assert "already used by 'FooC'" in str(rejected[0])


def test_quote_ident_doubles_embedded_quotes():
    assert quote_ident("stage_name") == '"stage_name"'
    assert quote_ident('x"; drop table opportunity; --') == '"x""; drop table opportunity; --"'
    assert qualified("raw_salesforce", "opportunity") == '"raw_salesforce"."opportunity"'


@pytest.mark.parametrize("raw", HOSTILE[:4])
def test_quoted_hostile_names_stay_inert_in_sql(raw):
    con = duckdb.connect()
    con.execute("CREATE TABLE opportunity (id INTEGER)")
    con.execute(f"CREATE TABLE {quote_ident(raw)} ({quote_ident(raw)} INTEGER)")
    con.execute(f"INSERT INTO {quote_ident(raw)} VALUES (1)")
    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"opportunity", raw}
    assert con.execute(f"SELECT {quote_ident(raw)} FROM {quote_ident(raw)}").fetchall() == [(1,)]
