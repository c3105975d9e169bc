"""End to end: the marts built from emulator data equal an independent pandas computation.

Expectations come from the emulator's truth Parquet only (never from the warehouse), with the
same documented rules as docs/metrics.md:

* population: deals neither deleted (Salesforce IsDeleted, HubSpot archived) nor labelled
  invalid in labels/defects.parquet (handling = quarantine);
* amounts in USD at the dated rate in force on the close date (closed deals), or on min(close
  date, snapshot date) for open pipeline; a NULL amount counts as 0;
* closed metrics: deals closed on or before the as-of date, by fiscal quarter of the close date,
  credited to the owner when the deal last moved from open to closed (from the history tables);
  lost deals with a loss reason Duplicate/Unqualified stay out of win rates;
* open pipeline of a month: deals open at the end of the month's last day (the as-of date for
  the current month), not omitted, closing in the month's fiscal quarter, by owner at that
  moment - taken from the emulator's truth of the org as it was on that day (``Org.view`` cut at
  any past day, rendered by the same frame functions that write the truth Parquet). The quarter's
  figure is its last month's.

Money must be equal to the cent, counts exactly, and rates - the mart's own rate columns, not
only rates recomputed from its sums - to 1e-9, NULL exactly where nothing closed.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emulator.org import Org
from emulator.schema import HS_STAGES
from emulator.truth import hubspot_frame, salesforce_frame
from tests.dbt.conftest import AS_OF, SEED, connect

INELIGIBLE_LOSS_REASONS = {"Duplicate", "Unqualified"}
HS_WON = {s[0] for s in HS_STAGES if s[3] and float(s[4]) == 1.0}
HS_CLOSED = {s[0] for s in HS_STAGES if s[3]}
MONEY_TOLERANCE = 0.005
RATE_TOLERANCE = 1e-9


# ------------------------------------------------------------------------------ truth helpers
def fiscal_quarter(day: dt.date) -> str:
    return f"FY{day.year}-Q{(day.month - 1) // 3 + 1}"


def fiscal_month(day: dt.date) -> str:
    return f"FY{day.year}-M{day.month:02d}"


def quarter_end(day: dt.date) -> dt.date:
    first_next = dt.date(day.year + (day.month > 9), (((day.month - 1) // 3 + 1) * 3) % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


class Rates:
    """Salesforce DatedConversionRate: units per USD, StartDate <= d < NextStartDate."""

    def __init__(self, truth: Path):
        rates = pd.read_parquet(truth / "salesforce" / "DatedConversionRate.parquet")
        self.by_code = {
            code: group.sort_values("StartDate")[["StartDate", "NextStartDate", "ConversionRate"]]
            for code, group in rates.groupby("IsoCode")
        }

    def convert(self, amount: float, code: str, day: dt.date) -> float:
        if amount is None or (isinstance(amount, float) and math.isnan(amount)):
            return float("nan")
        if code == "USD":
            return amount
        table = self.by_code[code]
        match = table[
            (table.StartDate <= day) & (table.NextStartDate.isna() | (table.NextStartDate > day))
        ]
        rate = (match if len(match) else table.head(1)).ConversionRate.iloc[0]
        return amount / rate


def _owner_at(changes: pd.DataFrame, when, current: str) -> str:
    """Owner at an instant from (time, old, new) owner changes sorted by time."""
    if changes is None or changes.empty:
        return current
    before = changes[changes["at"] <= when]
    if len(before):
        return before["new"].iloc[-1]
    return changes["old"].iloc[0]


def salesforce_deals(truth: Path, invalid: set[str]) -> pd.DataFrame:
    opp = pd.read_parquet(truth / "salesforce" / "Opportunity.parquet")
    opp = opp[~opp.IsDeleted & ~opp.Id.isin(invalid)]
    stages = pd.read_parquet(truth / "salesforce" / "OpportunityStage.parquet")
    closed_stages = set(stages.ApiName[stages.IsClosed])
    history = pd.read_parquet(truth / "salesforce" / "OpportunityHistory.parquet")
    history = history.sort_values(["OpportunityId", "CreatedDate", "Id"])
    history["closed"] = history.StageName.isin(closed_stages)
    history["was_open"] = ~history.groupby("OpportunityId").closed.shift(1, fill_value=False)
    closings = history[history.closed & history.was_open].groupby("OpportunityId").CreatedDate.max()
    fields = pd.read_parquet(truth / "salesforce" / "OpportunityFieldHistory.parquet")
    owners = fields[fields.Field == "Owner"].sort_values(["OpportunityId", "CreatedDate", "Id"])
    owners = owners.rename(columns={"CreatedDate": "at", "OldValue": "old", "NewValue": "new"})
    owner_changes = dict(tuple(owners.groupby("OpportunityId")))
    rows = []
    for o in opp.itertuples():
        status = "won" if o.IsWon else "lost" if o.IsClosed else "open"
        owner_at_close = None
        if status != "open":
            owner_at_close = _owner_at(owner_changes.get(o.Id), closings[o.Id], o.OwnerId)
        rows.append(
            {
                "id": o.Id,
                "status": status,
                "close_date": o.CloseDate,
                "amount": o.Amount,
                "currency": o.CurrencyIsoCode,
                "loss_reason": o.Loss_Reason__c,
                "owner_at_close": owner_at_close,
            }
        )
    return pd.DataFrame(rows)


def hubspot_deals(truth: Path, invalid: set[str]) -> pd.DataFrame:
    deals = pd.read_parquet(truth / "hubspot" / "deals.parquet")
    deals = deals[~deals.archived & ~deals.id.isin(invalid)]
    history = pd.read_parquet(truth / "hubspot" / "deal_property_history.parquet")
    history = history.sort_values(["deal", "timestamp"])
    stage = history[history.property == "dealstage"].copy()
    stage["closed"] = stage.value.isin(HS_CLOSED)
    stage["was_open"] = ~stage.groupby("deal").closed.shift(1, fill_value=False)
    closings = stage[stage.closed & stage.was_open].groupby("deal").timestamp.max()
    owners = history[history.property == "hubspot_owner_id"].copy()
    owners["old"] = owners.groupby("deal").value.shift(1)
    owners = owners.rename(columns={"timestamp": "at", "value": "new"})
    owner_changes = dict(tuple(owners.groupby("deal")))
    rows = []
    for d in deals.itertuples():
        status = "won" if d.dealstage in HS_WON else "lost" if d.dealstage in HS_CLOSED else "open"
        owner_at_close = None
        if status != "open":
            owner_at_close = _owner_at(owner_changes.get(d.id), closings[d.id], d.hubspot_owner_id)
        rows.append(
            {
                "id": d.id,
                "status": status,
                "close_date": d.closedate.date(),
                "amount": d.amount,
                "currency": d.deal_currency_code,
                "loss_reason": d.closed_lost_reason,
                "owner_at_close": owner_at_close,
            }
        )
    return pd.DataFrame(rows)


def invalid_ids(truth: Path) -> set[str]:
    labels = pd.read_parquet(truth / "labels" / "defects.parquet")
    return set(labels.record_id[labels.handling == "quarantine"])


def expected_deals(truth: Path) -> pd.DataFrame:
    invalid = invalid_ids(truth)
    deals = pd.concat([salesforce_deals(truth, invalid), hubspot_deals(truth, invalid)])
    rates = Rates(truth)
    deals["usd"] = [
        rates.convert(a, c, d)
        for a, c, d in zip(deals.amount, deals.currency, deals.close_date, strict=True)
    ]
    return deals.reset_index(drop=True)


def expected_closed_by_rep_quarter(deals: pd.DataFrame) -> pd.DataFrame:
    return expected_closed_by_rep(deals, "fiscal_quarter")


def expected_closed_by_rep(deals: pd.DataFrame, period: str) -> pd.DataFrame:
    """Closed-deal sums per owner at close and ``period`` (fiscal_quarter or fiscal_month)."""
    closed = deals[(deals.status != "open") & (deals.close_date <= AS_OF)].copy()
    closed["fiscal_quarter"] = closed.close_date.map(fiscal_quarter)
    closed["fiscal_month"] = closed.close_date.map(fiscal_month)
    closed["usd0"] = closed.usd.fillna(0.0)
    closed["eligible_lost"] = (closed.status == "lost") & ~closed.loss_reason.isin(
        INELIGIBLE_LOSS_REASONS
    )
    won = closed.status == "won"
    closed["won"] = won.astype(int)
    closed["lost"] = closed.eligible_lost.astype(int)
    closed["bookings"] = np.where(won, closed.usd0, 0.0)
    closed["lost_amount"] = np.where(closed.eligible_lost, closed.usd0, 0.0)
    grouped = closed.groupby(["owner_at_close", period])[["bookings", "won", "lost", "lost_amount"]]
    out = grouped.sum().reset_index().rename(columns={"owner_at_close": "rep_id"})
    return out


def month_end(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1) - dt.timedelta(days=1)


def expected_open_pipeline(org: Org, final_truth: Path) -> pd.DataFrame:
    """Open pipeline at each fiscal month's end (the as-of date for the current month), closing
    in the month's fiscal quarter, from the truth of the org as it was on that day."""
    final = expected_deals(final_truth)
    population = set(final.id)
    rates = Rates(final_truth)
    frames = []
    day = month_end(dt.date(AS_OF.year - 2, 1, 1))
    while True:
        snapshot = min(day, AS_OF)
        view = org.view(snapshot)
        quarter_start = dt.date(snapshot.year, ((snapshot.month - 1) // 3) * 3 + 1, 1)
        last_day = quarter_end(snapshot)
        sf = salesforce_frame(view, "Opportunity")
        sf = sf[~sf.IsClosed & ~sf.IsDeleted & (sf.ForecastCategory != "Omitted")]
        hs = hubspot_frame(view, "deals")
        hs = hs[~hs.dealstage.isin(HS_CLOSED) & ~hs.archived & (hs.hs_forecast_category != "OMIT")]
        rows = pd.concat(
            [
                pd.DataFrame(
                    {
                        "id": sf.Id,
                        "rep_id": sf.OwnerId,
                        "close_date": sf.CloseDate,
                        "amount": sf.Amount,
                        "currency": sf.CurrencyIsoCode,
                    }
                ),
                pd.DataFrame(
                    {
                        "id": hs.id,
                        "rep_id": hs.hubspot_owner_id,
                        "close_date": hs.closedate.dt.date,
                        "amount": hs.amount,
                        "currency": hs.deal_currency_code,
                    }
                ),
            ]
        )
        rows = rows[
            rows.id.isin(population)
            & (rows.close_date >= quarter_start)
            & (rows.close_date <= last_day)
        ].copy()
        rows["usd"] = [
            rates.convert(a, c, min(d, snapshot))
            for a, c, d in zip(rows.amount, rows.currency, rows.close_date, strict=True)
        ]
        rows["fiscal_quarter"] = fiscal_quarter(snapshot)
        rows["fiscal_month"] = fiscal_month(snapshot)
        rows["open_pipeline"] = rows.usd.fillna(0.0)
        frames.append(
            rows.groupby(["rep_id", "fiscal_quarter", "fiscal_month"])
            .open_pipeline.sum()
            .reset_index()
        )
        if day >= AS_OF:
            break
        day = month_end(day + dt.timedelta(days=1))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------ warehouse side
def actual_by_rep_quarter(warehouse: Path) -> pd.DataFrame:
    con = connect(warehouse)
    try:
        return con.sql(
            """
            with months as (
                select *,
                    row_number() over (
                        partition by rep_id, fiscal_quarter order by period_start desc
                    ) as month_rank
                from marts.mart_sales_kpis
            )
            select
                rep_id,
                fiscal_quarter,
                sum(bookings_amount) as bookings,
                sum(won_count) as won,
                sum(lost_count) as lost,
                sum(lost_amount) as lost_amount,
                sum(case when month_rank = 1 then open_pipeline_amount else 0 end) as open_pipeline
            from months
            group by all
            """
        ).df()
    finally:
        con.close()


def actual_open_pipeline_by_rep_month(warehouse: Path) -> pd.DataFrame:
    con = connect(warehouse)
    try:
        return con.sql(
            """
            select rep_id, fiscal_quarter, fiscal_month, open_pipeline_amount as open_pipeline
            from marts.mart_sales_kpis
            """
        ).df()
    finally:
        con.close()


def actual_closed_by_rep_month(warehouse: Path) -> pd.DataFrame:
    con = connect(warehouse)
    try:
        return con.sql(
            """
            select
                rep_id,
                fiscal_month,
                bookings_amount as bookings,
                won_count as won,
                lost_count as lost,
                lost_amount,
                win_rate_by_count,
                win_rate_by_value
            from marts.mart_sales_kpis
            """
        ).df()
    finally:
        con.close()


def compare(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    columns: list[str],
    keys: tuple[str, ...] = ("rep_id", "fiscal_quarter"),
) -> list[str]:
    """Sums and counts, a missing row counting as 0; equal to the cent."""

    def differ(e: pd.Series, a: pd.Series) -> pd.Series:
        return (e.fillna(0.0) - a.fillna(0.0)).abs() >= MONEY_TOLERANCE

    return differences(expected, actual, columns, keys, differ)


def compare_rates(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    columns: list[str],
    keys: tuple[str, ...] = ("rep_id", "fiscal_quarter"),
) -> list[str]:
    """Rates to RATE_TOLERANCE; NULL (nothing closed) on one side only is a difference too."""

    def differ(e: pd.Series, a: pd.Series) -> pd.Series:
        return (e.isna() != a.isna()) | ((e - a).abs() > RATE_TOLERANCE)

    return differences(expected, actual, columns, keys, differ)


def differences(expected, actual, columns, keys, differ) -> list[str]:
    """One line per key and column where ``differ(expected, actual)`` holds."""
    merged = expected.merge(actual, on=list(keys), how="outer", suffixes=("_expected", "_actual"))
    problems = []
    for column in columns:
        e = merged[f"{column}_expected"].astype(float)
        a = merged[f"{column}_actual"].astype(float)
        for row in merged[differ(e, a)].itertuples():
            where = " ".join(str(getattr(row, key)) for key in keys)
            problems.append(f"{where} {column}: expected {e[row.Index]!r}, got {a[row.Index]!r}")
    return problems


def win_rates(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["win_rate_by_count"] = frame.won / (frame.won + frame.lost).replace(0, np.nan)
    frame["win_rate_by_value"] = frame.bookings / (frame.bookings + frame.lost_amount).replace(
        0, np.nan
    )
    return frame


# ------------------------------------------------------------------------------ tests
@pytest.fixture(scope="module")
def tiny_org() -> Org:
    return Org.generate(SEED, "tiny", AS_OF)


def test_population_matches_truth(tiny_build):
    """fct_opportunities holds exactly the non-deleted, valid deals of both CRMs, same status."""
    deals = expected_deals(tiny_build.truth)
    con = connect(tiny_build.warehouse)
    try:
        actual = con.sql("select opportunity_id as id, status from marts.fct_opportunities").df()
    finally:
        con.close()
    assert sorted(actual.id) == sorted(deals.id)
    merged = deals.merge(actual, on="id", suffixes=("", "_actual"))
    assert (merged.status == merged.status_actual).all()


def test_closed_metrics_by_rep_and_quarter_match_truth(tiny_build):
    expected = win_rates(expected_closed_by_rep_quarter(expected_deals(tiny_build.truth)))
    actual = win_rates(actual_by_rep_quarter(tiny_build.warehouse))
    assert expected.bookings.sum() > 0 and expected.won.sum() > 0 and expected.lost.sum() > 0
    problems = compare(expected, actual, ["bookings", "won", "lost", "lost_amount"])
    problems += compare_rates(expected, actual, ["win_rate_by_count", "win_rate_by_value"])
    assert not problems, "\n".join(problems)


def test_mart_win_rates_and_counts_by_rep_and_month_match_truth(tiny_build):
    """The mart's own monthly win_rate_by_count and win_rate_by_value columns, and the won/lost
    counts and amounts behind them, against rates computed from the truth's deals."""
    expected = win_rates(expected_closed_by_rep(expected_deals(tiny_build.truth), "fiscal_month"))
    actual = actual_closed_by_rep_month(tiny_build.warehouse)
    keys = ("rep_id", "fiscal_month")
    # rates strictly between 0 and 1 and months without closed deals (NULL rates) both occur
    assert expected.win_rate_by_count.between(0, 1, inclusive="neither").any()
    assert expected.win_rate_by_value.between(0, 1, inclusive="neither").any()
    assert actual.win_rate_by_count.isna().any()
    problems = compare(expected, actual, ["bookings", "won", "lost", "lost_amount"], keys)
    problems += compare_rates(expected, actual, ["win_rate_by_count", "win_rate_by_value"], keys)
    assert not problems, "\n".join(problems)


def test_open_pipeline_by_rep_and_period_matches_truth(tiny_build, tiny_org):
    """Open pipeline at every month end (the quarter's last month = the quarter's figure)."""
    expected = expected_open_pipeline(tiny_org, tiny_build.truth)
    actual = actual_open_pipeline_by_rep_month(tiny_build.warehouse)
    assert (expected.open_pipeline > 0).sum() >= 10
    keys = ("rep_id", "fiscal_quarter", "fiscal_month")
    problems = compare(expected, actual, ["open_pipeline"], keys)
    assert not problems, "\n".join(problems)


def test_win_rates_in_mart_are_computed_from_their_columns(tiny_build):
    con = connect(tiny_build.warehouse)
    try:
        bad = con.sql(
            """
            select * from marts.mart_sales_kpis
            where win_rate_by_count is distinct from
                    case when closed_count > 0 then won_count / closed_count end
                or abs(coalesce(win_rate_by_value, -1)
                    - coalesce(case when closed_amount > 0 then won_amount / closed_amount end, -1)) > 1e-12
            """
        ).df()
    finally:
        con.close()
    assert bad.empty
