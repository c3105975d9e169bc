"""The raw gate's expectations: one Great Expectations suite per raw table, defined here.

This module is the single definition of "invalid" for the platform: a row failing a
``QUARANTINE`` rule is quarantined by the raw gate (``raw_meta.quarantined_keys``) and excluded
by dbt staging, which keeps its own copy of the rules only for loaders that run without the gate
(see ``docs/quality.md``). Change a rule here, in review, like any other code.

Each :class:`TableSuite` declares

``rules``
    row-level GX expectations, validated on the rows of the syncs the gate has not seen yet
    (``_sync_id``), chunk by chunk. Each carries a reason code and an action:
    ``QUARANTINE`` (invalid: excluded downstream with its reason, never deleted from raw),
    ``CRITICAL`` (any failing row fails the gate) or ``FLAG`` (awkward but real: kept, flagged).
``derived``
    frame columns computed in SQL (``upper(currency_iso_code)``) for the expectations.
``parameters``
    value sets read from the warehouse when the gate runs and passed to GX as suite parameters:
    the picklists as the raw layer carries them (``OpportunityStage`` is the ``StageName``
    picklist, ``CurrencyType`` the ``CurrencyIsoCode`` picklist, HubSpot pipeline stages the
    ``dealstage`` options); ISO 4217 (the dbt seed) for HubSpot currencies.
``references``, ``flags``, ``duplicates``
    table-level checks in SQL: referential integrity of owners and accounts, awkward-but-real
    states that depend on the as-of date or on other tables (stale open deals, deactivated
    owners), duplicates by natural key (merged downstream by dbt).

Every table gets ``key_not_null`` (critical) and key uniqueness; tables keyed by ``id`` that
carry a creation timestamp get ``invalid_future_created_date`` (created after it was landed).
Quarantine is only declared for tables keyed by a single ``id`` column: that is the key dbt
staging anti-joins on.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors import google_ads, hubspot
from orchestration.quality.outcome import CRITICAL, FLAG, QUARANTINE

SUITE_VERSION = "2026-11-27.1"  # bump when the meaning of a rule changes: every row is revalidated

ISO_CURRENCIES_CSV = (
    Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "iso_currencies.csv"
)

# Salesforce's fixed ForecastCategory API values (not org-specific).
SALESFORCE_FORECAST_CATEGORIES = (
    "Omitted",
    "Pipeline",
    "BestCase",
    "MostLikely",
    "Forecast",
    "Closed",
)


@dataclass(frozen=True)
class RowRule:
    """A row-level expectation: ``reason`` is the code recorded with every failing row."""

    reason: str
    action: str  # QUARANTINE, CRITICAL, FLAG
    expectation: Any  # a great_expectations.expectations.Expectation


@dataclass(frozen=True)
class Reference:
    """Referential integrity: every live row's non-null ``column`` exists in ``parent``."""

    name: str
    column: str
    parent_schema: str
    parent_table: str
    parent_column: str = "id"


@dataclass(frozen=True)
class TableFlag:
    """An awkward-but-real state over the whole table, recomputed every run (kept, flagged).

    ``where`` is a predicate over the table aliased ``t``; ``{as_of}`` is the run's as-of date
    as a SQL date literal.
    """

    reason: str
    where: str
    description: str


@dataclass(frozen=True)
class DuplicateRule:
    """Rows sharing ``partition`` after the first by ``order`` are duplicates (merged by dbt)."""

    reason: str
    partition: str
    order: str
    where: str


@dataclass(frozen=True)
class TableSuite:
    source: str
    table: str
    key: tuple[str, ...] = ("id",)
    nullable_key: tuple[str, ...] = ()  # key columns that may be NULL (a cleared value)
    rules: Callable[[Any], list[RowRule]] | None = None  # gxe -> rules
    derived: Mapping[str, str] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()
    flags: tuple[TableFlag, ...] = ()
    duplicates: tuple[DuplicateRule, ...] = ()

    @property
    def schema(self) -> str:
        return f"raw_{self.source}"

    @property
    def name(self) -> str:
        return f"raw_{self.source}.{self.table}"


def _meta(reason: str, action: str) -> dict[str, str]:
    return {"reason": reason, "action": action}


def rule(reason: str, action: str, expectation_class, **kwargs) -> RowRule:
    return RowRule(reason, action, expectation_class(meta=_meta(reason, action), **kwargs))


# ----------------------------------------------------------------------------- parameters


@functools.cache
def iso_currencies() -> tuple[str, ...]:
    with ISO_CURRENCIES_CSV.open(newline="") as handle:
        return tuple(sorted(row["currency_code"].strip().upper() for row in csv.DictReader(handle)))


def _values(con, sql: str) -> list[str] | None:
    from orchestration.quality.sql import rows

    try:
        found = [r[0] for r in rows(con, sql) if r[0] is not None]
    except Exception:  # the reference table is missing: the rule is not applicable
        return None
    return sorted(set(found)) or None


def _salesforce_currencies(con) -> list[str] | None:
    """CurrencyIsoCode picklist: the org's currency types (active or not); ISO 4217 without."""
    found = _values(con, "SELECT DISTINCT upper(iso_code) FROM raw_salesforce.currency_type")
    return found or list(iso_currencies())


def _salesforce_stages(con) -> list[str] | None:
    """StageName picklist: the org's opportunity stages (active or not), label and API name."""
    return _values(
        con,
        "SELECT master_label FROM raw_salesforce.opportunity_stage "
        "UNION SELECT api_name FROM raw_salesforce.opportunity_stage",
    )


def _hubspot_stages(con) -> list[str] | None:
    """dealstage options: the stages of every pipeline (archived ones included)."""
    return _values(con, "SELECT DISTINCT id FROM raw_hubspot.deal_pipeline_stages")


def _hubspot_currencies(con) -> list[str] | None:
    return list(iso_currencies())


PARAMETERS: dict[str, Callable[[Any], list[str] | None]] = {
    "salesforce_currencies": _salesforce_currencies,
    "salesforce_stages": _salesforce_stages,
    "salesforce_forecast_categories": lambda con: list(SALESFORCE_FORECAST_CATEGORIES),
    "hubspot_stages": _hubspot_stages,
    "hubspot_currencies": _hubspot_currencies,
}


# ----------------------------------------------------------------------------- suites


def _salesforce_opportunity(gxe) -> list[RowRule]:
    return [
        rule(
            "invalid_negative_amount",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeBetween,
            column="amount",
            min_value=0,
        ),
        rule(
            "invalid_probability",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeBetween,
            column="probability",
            min_value=0,
            max_value=100,
        ),
        rule(
            "invalid_currency",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeInSet,
            column="currency_code",
            value_set={"$PARAMETER": "salesforce_currencies"},
        ),
        rule(
            "invalid_stage",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeInSet,
            column="stage_name",
            value_set={"$PARAMETER": "salesforce_stages"},
        ),
        rule(
            "invalid_forecast_category",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeInSet,
            column="forecast_category",
            value_set={"$PARAMETER": "salesforce_forecast_categories"},
        ),
        rule(
            "invalid_close_date",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeBetween,
            column="close_year",
            min_value=1990,
            max_value=2100,
        ),
        rule(
            "missing_stage",
            QUARANTINE,
            gxe.ExpectColumnValuesToNotBeNull,
            column="stage_name",
        ),
        rule("awkward_null_amount", FLAG, gxe.ExpectColumnValuesToNotBeNull, column="amount"),
    ]


def _hubspot_deals(gxe) -> list[RowRule]:
    return [
        rule(
            "invalid_negative_amount",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeBetween,
            column="amount",
            min_value=0,
        ),
        rule(
            "invalid_probability",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeBetween,
            column="hs_deal_stage_probability",
            min_value=0,
            max_value=1,
        ),
        rule(
            "invalid_currency",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeInSet,
            column="currency_code",
            value_set={"$PARAMETER": "hubspot_currencies"},
        ),
        rule(
            "invalid_stage",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeInSet,
            column="dealstage",
            value_set={"$PARAMETER": "hubspot_stages"},
        ),
        rule(
            "invalid_close_date",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeBetween,
            column="close_year",
            min_value=1990,
            max_value=2100,
        ),
        rule("awkward_null_amount", FLAG, gxe.ExpectColumnValuesToNotBeNull, column="amount"),
    ]


def _forecasting_quota(gxe) -> list[RowRule]:
    return [
        rule(
            "invalid_negative_amount",
            QUARANTINE,
            gxe.ExpectColumnValuesToBeBetween,
            column="quota_amount",
            min_value=0,
        )
    ]


def _dated_conversion_rate(gxe) -> list[RowRule]:
    # A zero or negative rate would silently corrupt every converted amount: stop the night.
    return [
        rule(
            "invalid_conversion_rate",
            CRITICAL,
            gxe.ExpectColumnValuesToBeBetween,
            column="conversion_rate",
            min_value=0,
            strict_min=True,
        )
    ]


def _campaign_daily_metrics(gxe) -> list[RowRule]:
    return [
        rule(
            "invalid_negative_metric",
            CRITICAL,
            gxe.ExpectColumnValuesToBeBetween,
            column=column,
            min_value=0,
        )
        for column in ("cost_micros", "clicks", "impressions")
    ]


_OPEN_SF = "NOT coalesce(t.is_closed, false) AND NOT coalesce(t._is_deleted, false)"
_OPEN_HS = (
    "NOT coalesce(t.hs_is_closed, false) AND NOT coalesce(t.archived, false) "
    "AND NOT coalesce(t._is_deleted, false)"
)

SUITES: dict[tuple[str, str], TableSuite] = {
    ("salesforce", "opportunity"): TableSuite(
        "salesforce",
        "opportunity",
        rules=_salesforce_opportunity,
        derived={
            "currency_code": "upper(currency_iso_code)",
            "close_year": "year(close_date)",
        },
        references=(
            Reference("account_exists", "account_id", "raw_salesforce", "account"),
            Reference("owner_exists", "owner_id", "raw_salesforce", "user"),
        ),
        flags=(
            TableFlag(
                "awkward_stale_open",
                f"{_OPEN_SF} AND t.close_date < {{as_of}}",
                "open, close date passed (kept in pipeline, flagged)",
            ),
            TableFlag(
                "awkward_inactive_owner",
                f"{_OPEN_SF} AND t.owner_id IN "
                "(SELECT u.id FROM raw_salesforce.user u WHERE NOT coalesce(u.is_active, true))",
                "open, owned by a deactivated user (kept, flagged)",
            ),
        ),
    ),
    ("hubspot", "deals"): TableSuite(
        "hubspot",
        "deals",
        rules=_hubspot_deals,
        derived={
            "currency_code": "upper(deal_currency_code)",
            "close_year": "year(closedate)",
        },
        references=(Reference("owner_exists", "hubspot_owner_id", "raw_hubspot", "owners"),),
        flags=(
            TableFlag(
                "awkward_stale_open",
                f"{_OPEN_HS} AND CAST(t.closedate AS DATE) < {{as_of}}",
                "open, close date passed (kept in pipeline, flagged)",
            ),
            TableFlag(
                "awkward_inactive_owner",
                f"{_OPEN_HS} AND t.hubspot_owner_id IN "
                "(SELECT o.id FROM raw_hubspot.owners o WHERE coalesce(o.archived, false))",
                "open, owned by a deactivated owner (kept, flagged)",
            ),
        ),
    ),
    ("salesforce", "account"): TableSuite(
        "salesforce",
        "account",
        references=(Reference("owner_exists", "owner_id", "raw_salesforce", "user"),),
    ),
    ("salesforce", "contact"): TableSuite(
        "salesforce",
        "contact",
        references=(Reference("account_exists", "account_id", "raw_salesforce", "account"),),
        duplicates=(
            DuplicateRule(
                "duplicate_contact",
                partition="t.email",
                order="t.created_date, t.id",
                where="t.email IS NOT NULL AND NOT coalesce(t._is_deleted, false) "
                "AND NOT coalesce(t.is_deleted, false)",
            ),
        ),
    ),
    ("hubspot", "contacts"): TableSuite(
        "hubspot",
        "contacts",
        duplicates=(
            DuplicateRule(
                "duplicate_contact",
                partition="t.email",
                order="coalesce(t.createdate, t.created_at), t.id",
                where="t.email IS NOT NULL AND NOT coalesce(t._is_deleted, false) "
                "AND NOT coalesce(t.archived, false)",
            ),
        ),
    ),
    ("hubspot", "companies"): TableSuite(
        "hubspot",
        "companies",
        references=(Reference("owner_exists", "hubspot_owner_id", "raw_hubspot", "owners"),),
    ),
    ("hubspot", "deals_companies_associations"): TableSuite(
        "hubspot",
        "deals_companies_associations",
        key=hubspot.ASSOCIATION_KEY,
        references=(
            Reference("deal_exists", "from_id", "raw_hubspot", "deals"),
            Reference("account_exists", "to_id", "raw_hubspot", "companies"),
        ),
    ),
    ("hubspot", hubspot.HISTORY_TABLE): TableSuite(
        "hubspot", hubspot.HISTORY_TABLE, key=hubspot.HISTORY_KEY, nullable_key=("value",)
    ),
    ("salesforce", "forecasting_quota"): TableSuite(
        "salesforce", "forecasting_quota", rules=_forecasting_quota
    ),
    ("salesforce", "dated_conversion_rate"): TableSuite(
        "salesforce", "dated_conversion_rate", rules=_dated_conversion_rate
    ),
    ("google_ads", google_ads.TABLE): TableSuite(
        "google_ads", google_ads.TABLE, key=google_ads.PRIMARY_KEY, rules=_campaign_daily_metrics
    ),
}

# Keys of the tables without a suite of their own (everything else is keyed by ``id``).
KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("hubspot", "deal_pipeline_stages"): ("pipeline_id", "id"),
    **{
        ("hubspot", f"{a}_{b}_associations"): hubspot.ASSOCIATION_KEY
        for a, b in hubspot.ASSOCIATIONS
    },
}

# The creation timestamp a raw table is checked against its landing time with.
CREATED_COLUMNS = {
    "salesforce": ("created_date",),
    "hubspot": ("createdate", "created_at"),
}


def suite_for(source: str, table: str) -> TableSuite:
    """The declared suite, or the default one (key checks only) for any other raw table."""
    found = SUITES.get((source, table))
    if found is not None:
        return found
    return TableSuite(source, table, key=KEYS.get((source, table), ("id",)))


def generic_rules(
    gxe, suite: TableSuite, columns: Mapping[str, str]
) -> tuple[list[RowRule], dict[str, str]]:
    """Rules every table gets: the key is never null; a row keyed by ``id`` was not created
    after it was landed. Returns the rules and the derived columns they need."""
    rules = [
        rule("key_not_null", CRITICAL, gxe.ExpectColumnValuesToNotBeNull, column=column)
        for column in suite.key
        if column not in suite.nullable_key
    ]
    derived: dict[str, str] = {}
    created = [c for c in CREATED_COLUMNS.get(suite.source, ()) if c in columns]
    if suite.key == ("id",) and created and "_synced_at" in columns:
        expression = created[0] if len(created) == 1 else f"coalesce({', '.join(created)})"
        derived["_created"] = expression
        rules.append(
            rule(
                "invalid_future_created_date",
                QUARANTINE,
                gxe.ExpectColumnPairValuesAToBeGreaterThanB,
                column_A="_synced_at",
                column_B="_created",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    return rules, derived
