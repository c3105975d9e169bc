"""End to end: quota attainment by rep and quarter equals an independent pandas computation.

The expectation reads only the emulator's truth Parquet (reps, roles, HubSpot owners and teams,
Salesforce ForecastingQuota, deals) and the analysts' seed CSVs in dbt_project/seeds/quota/ - the
inputs the warehouse gets, never the warehouse itself - and applies the rules of
docs/quota-and-commission.md from scratch:

* full monthly quota, first match wins: seed rep month, seed rep quarter, seed team month, seed team
  quarter (team members with a quota-carrying sales role, employed in the month), Salesforce
  ForecastingQuota of the fiscal quarter of its StartDate; a quarter splits evenly into months;
* the sales role from the seed (a rep's email row wins over the Salesforce role / HubSpot team row);
* ramp: month M1 is the hire month when hired on day 1-15, else the next month; the role's ramp
  schedule gives the share per tenure month (0 before M1, 100 % after the schedule); a month counts
  only while the rep is employed on its 15th;
* bookings: won deals closed on or before the as-of date, credited to the owner at close, in USD
  at the close-date rate (the helpers of test_e2e_metrics);
* attainment = bookings / ramp-adjusted quota (NULL when that is 0).

Quota, ramp-adjusted quota, bookings and attainment must be equal to the cent (attainment to 1e-9)
for every rep and quarter either side has.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest

from tests.dbt.conftest import AS_OF, PROJECT_DIR, build_from_truth, connect, shared
from tests.dbt.test_e2e_metrics import Rates, expected_deals, fiscal_quarter

SEEDS = PROJECT_DIR / "seeds" / "quota"
MID_MONTH_DAY = 15


# ------------------------------------------------------------------------------ calendar
def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return add_months(day, 1) - dt.timedelta(days=1)


def month_label(day: dt.date) -> str:
    return f"FY{day.year}-M{day.month:02d}"


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def counting_month(day: dt.date) -> dt.date:
    """The mid-month rule: a start on day 1-15 counts from its month, later from the next."""
    return month_start(day) if day.day <= MID_MONTH_DAY else add_months(month_start(day), 1)


def months_between(first: dt.date, second: dt.date) -> int:
    return (second.year - first.year) * 12 + second.month - first.month


def horizon_months() -> list[dt.date]:
    """History start (first quota) through the end of the as-of fiscal year or next quarter."""
    end = max(add_months(quarter_start(add_months(AS_OF, 3)), 3), dt.date(AS_OF.year + 1, 1, 1))
    months, day = [], dt.date(2015, 1, 1)
    while day < end:
        months.append(day)
        day = add_months(day, 1)
    return months


def as_date(value) -> dt.date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    return value


# ------------------------------------------------------------------------------ truth side
def truth_reps(truth: Path) -> pd.DataFrame:
    users = pd.read_parquet(truth / "salesforce" / "User.parquet")
    roles = pd.read_parquet(truth / "salesforce" / "UserRole.parquet").set_index("Id").Name
    salesforce = pd.DataFrame(
        {
            "rep_id": users.Id,
            "email": users.Email.str.lower(),
            "crm_role_or_team": users.UserRoleId.map(roles),
            "hire_date": [
                as_date(h) or as_date(c)
                for h, c in zip(users.Hire_Date__c, users.CreatedDate, strict=True)
            ],
            "termination_date": [as_date(t) for t in users.Termination_Date__c],
            "source_system": "salesforce",
        }
    )
    owners = pd.read_parquet(truth / "hubspot" / "owners.parquet")
    hubspot = pd.DataFrame(
        {
            "rep_id": owners.id.astype(str),
            "email": owners.email.str.lower(),
            "crm_role_or_team": owners.teamName,
            "hire_date": [as_date(c) for c in owners.createdAt],
            "termination_date": [
                as_date(u) if a else None
                for a, u in zip(owners.archived, owners.updatedAt, strict=True)
            ],
            "source_system": "hubspot",
        }
    )
    return pd.concat([salesforce, hubspot], ignore_index=True)


def sales_roles(reps: pd.DataFrame) -> pd.DataFrame:
    mapping = pd.read_csv(SEEDS / "sales_role_assignments.csv", dtype=str)
    carrying = pd.read_csv(SEEDS / "sales_roles.csv", dtype=str)
    carrying = carrying.set_index("sales_role").is_quota_carrying.str.lower() == "true"
    by_email = {
        (r.source_system, r.rep_email.lower()): r.sales_role
        for r in mapping[mapping.rep_email.notna()].itertuples()
    }
    by_role = {
        (r.source_system, r.crm_role_or_team): r.sales_role
        for r in mapping[mapping.crm_role_or_team.notna()].itertuples()
    }
    reps = reps.copy()
    reps["sales_role"] = [
        by_email.get((s, e)) or by_role.get((s, t))
        for s, e, t in zip(reps.source_system, reps.email, reps.crm_role_or_team, strict=True)
    ]
    reps["is_quota_carrying"] = reps.sales_role.map(carrying).fillna(False).astype(bool)
    return reps


def employed_in(rep, month: dt.date) -> bool:
    hired_by_end = rep.hire_date is None or rep.hire_date <= month_end(month)
    still_there = rep.termination_date is None or rep.termination_date >= month
    return hired_by_end and still_there


def expected_monthly_quotas(truth: Path, reps: pd.DataFrame) -> dict[tuple[str, dt.date], float]:
    """(rep, month) -> full monthly quota by the documented precedence."""
    months = horizon_months()
    by_label = {month_label(m): [m] for m in months}
    for m in months:
        by_label.setdefault(f"FY{m.year}-Q{(m.month - 1) // 3 + 1}", []).append(m)
    rates = Rates(truth)
    candidates: dict[tuple[str, dt.date], tuple[int, float]] = {}

    def offer(rep_id: str, month: dt.date, precedence: int, amount: float) -> None:
        key = (rep_id, month)
        if key not in candidates or precedence < candidates[key][0]:
            candidates[key] = (precedence, amount)

    plan = pd.read_csv(SEEDS / "quota_plan.csv", dtype={"rep_email": str, "team": str})
    rep_by_email = {(r.source_system, r.email): r.rep_id for r in reps.itertuples()}
    for row in plan.itertuples():
        period_months = by_label[row.fiscal_period]
        monthly = row.fiscal_period.split("-")[1].startswith("M")
        currency = row.currency_code if isinstance(row.currency_code, str) else "USD"
        amount = rates.convert(float(row.quota_amount), currency, period_months[0]) / (
            1 if monthly else 3
        )
        if isinstance(row.rep_email, str):
            rep_id = rep_by_email[(row.source_system, row.rep_email.lower())]
            for m in period_months:
                offer(rep_id, m, 1 if monthly else 2, amount)
        else:
            members = reps[
                (reps.source_system == row.source_system)
                & (reps.crm_role_or_team == row.team)
                & reps.is_quota_carrying
            ]
            for m in period_months:
                for rep in members.itertuples():
                    if employed_in(rep, m):
                        offer(rep.rep_id, m, 3 if monthly else 4, amount)

    quotas = pd.read_parquet(truth / "salesforce" / "ForecastingQuota.parquet")
    quotas = quotas[~quotas.IsDeleted & ~quotas.IsQuantity]
    quotas["start"] = [as_date(d) for d in quotas.StartDate]
    quotas["usd"] = [
        rates.convert(a, c, d)
        for a, c, d in zip(quotas.QuotaAmount, quotas.CurrencyIsoCode, quotas.start, strict=True)
    ]
    quotas["quarter"] = quotas.start.map(quarter_start)
    horizon = set(months)
    for (rep_id, first), amount in quotas.groupby(["QuotaOwnerId", "quarter"]).usd.sum().items():
        for m in (first, add_months(first, 1), add_months(first, 2)):
            if m in horizon:
                offer(rep_id, m, 5, amount / 3)
    return {key: amount for key, (_, amount) in candidates.items()}


def ramp_factor(rep, month: dt.date, schedules: dict[str, dict[int, float]]) -> float:
    if rep.hire_date is None:
        return 1.0
    first = counting_month(rep.hire_date)
    tenure = months_between(first, month) + 1
    if tenure < 1:
        return 0.0
    if rep.termination_date is not None and month >= counting_month(
        rep.termination_date + dt.timedelta(days=1)
    ):
        return 0.0
    return schedules.get(rep.sales_role, {}).get(tenure, 1.0)


def expected_attainment(truth: Path) -> pd.DataFrame:
    reps = sales_roles(truth_reps(truth))
    ramp = pd.read_csv(SEEDS / "ramp_schedules.csv")
    schedules: dict[str, dict[int, float]] = {}
    for row in ramp.itertuples():
        schedules.setdefault(row.sales_role, {})[int(row.tenure_month)] = float(row.ramp_pct)
    rep_rows = {r.rep_id: r for r in reps.itertuples()}
    quotas = expected_monthly_quotas(truth, reps)
    rows = [
        {
            "rep_id": rep_id,
            "fiscal_period": fiscal_quarter(month),
            "quota_amount": amount,
            "ramp_adjusted_quota_amount": amount * ramp_factor(rep_rows[rep_id], month, schedules),
            "bookings_amount": 0.0,
        }
        for (rep_id, month), amount in quotas.items()
    ]
    deals = expected_deals(truth)
    won = deals[(deals.status == "won") & (deals.close_date <= AS_OF)]
    rows += [
        {
            "rep_id": d.owner_at_close,
            "fiscal_period": fiscal_quarter(d.close_date),
            "quota_amount": 0.0,
            "ramp_adjusted_quota_amount": 0.0,
            "bookings_amount": 0.0 if math.isnan(d.usd) else d.usd,
        }
        for d in won.itertuples()
    ]
    frame = pd.DataFrame(rows).groupby(["rep_id", "fiscal_period"], as_index=False).sum()
    frame["attainment"] = frame.bookings_amount / frame.ramp_adjusted_quota_amount.where(
        frame.ramp_adjusted_quota_amount != 0
    )
    return frame


# ------------------------------------------------------------------------------ test
def actual_attainment(warehouse: Path) -> pd.DataFrame:
    con = connect(warehouse)
    try:
        return con.sql(
            """
            select rep_id, fiscal_period, quota_amount, ramp_adjusted_quota_amount,
                bookings_amount, attainment
            from marts.mart_quota_attainment
            where period_type = 'quarter'
            """
        ).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def attainment(tiny_build):
    built = {uid.split(".")[-1]: status for uid, status, _ in tiny_build.build.results}
    assert built.get("mart_quota_attainment") == "success", tiny_build.build.describe()
    return expected_attainment(tiny_build.truth), actual_attainment(tiny_build.warehouse)


def test_quarterly_attainment_matches_truth_to_the_cent(attainment):
    expected, actual = attainment
    merged = expected.merge(
        actual, on=["rep_id", "fiscal_period"], how="outer", suffixes=("_e", "_a"), indicator=True
    )
    only_one_side = merged[merged._merge != "both"]
    assert only_one_side.empty, only_one_side[["rep_id", "fiscal_period", "_merge"]].to_string()
    problems = []
    for column in ["quota_amount", "ramp_adjusted_quota_amount", "bookings_amount"]:
        bad = (merged[f"{column}_e"] - merged[f"{column}_a"]).abs() >= 0.005
        problems += [
            f"{r.rep_id} {r.fiscal_period} {column}: expected {getattr(r, column + '_e')!r}, "
            f"got {getattr(r, column + '_a')!r}"
            for r in merged[bad].itertuples()
        ]
    e, a = merged.attainment_e, merged.attainment_a
    bad = (e.isna() != a.isna()) | ((e - a).abs() > 1e-9)
    problems += [
        f"{r.rep_id} {r.fiscal_period} attainment: expected {r.attainment_e}, got {r.attainment_a}"
        for r in merged[bad].itertuples()
    ]
    assert not problems, "\n".join(problems)


def test_the_comparison_covers_every_rule(attainment):
    """The tiny org exercises what the test claims to check."""
    expected, _ = attainment
    ramped = expected[
        (expected.ramp_adjusted_quota_amount > 0)
        & (expected.ramp_adjusted_quota_amount < expected.quota_amount - 0.005)
    ]
    assert len(ramped) >= 3  # ramping or pro-rated rep-quarters
    assert (
        expected.ramp_adjusted_quota_amount == 0
    ).any()  # a quarter fully before M1 or after leaving
    assert expected.rep_id.str.startswith("10").any()  # HubSpot reps with seed quotas
    assert (expected.attainment > 0).sum() >= 5


@pytest.mark.slow
def test_small_org_quarterly_attainment_matches_truth(tmp_path_factory):
    """The same comparison on the `small` demo org (shares test_small_build's warehouse)."""
    built = shared(tmp_path_factory, "dbt_small", lambda tmp: build_from_truth(tmp, "small"))
    expected = expected_attainment(built.truth)
    actual = actual_attainment(built.warehouse)
    merged = expected.merge(actual, on=["rep_id", "fiscal_period"], how="outer", indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"].to_string()
    e = expected.set_index(["rep_id", "fiscal_period"]).sort_index()
    a = actual.set_index(["rep_id", "fiscal_period"]).sort_index()
    for column in ["quota_amount", "ramp_adjusted_quota_amount", "bookings_amount"]:
        assert ((e[column] - a[column]).abs() < 0.005).all(), column
    assert ((e.attainment - a.attainment).abs().fillna(0) <= 1e-9).all()
    assert (e.attainment.isna() == a.attainment.isna()).all()


def test_sales_kpis_and_forecast_show_the_attainment_marts_quota(tiny_build):
    """One quota per rep and quarter everywhere: HubSpot reps' seed quotas and the seed overrides
    reach mart_sales_kpis and mart_forecast too, not only Salesforce's ForecastingQuota."""
    con = connect(tiny_build.warehouse)
    try:
        mismatches = con.sql(
            """
            with attainment as (
                select rep_id, fiscal_period as fiscal_quarter, quota_amount
                from marts.mart_quota_attainment
                where period_type = 'quarter' and quota_amount > 0
            ),
            kpis as (
                select distinct rep_id, fiscal_quarter, quarter_quota_amount
                from marts.mart_sales_kpis
            )
            select attainment.*, kpis.quarter_quota_amount
            from attainment
            inner join kpis using (rep_id, fiscal_quarter)
            where abs(coalesce(kpis.quarter_quota_amount, 0) - attainment.quota_amount) >= 0.005
            """
        ).df()
        hubspot_quota_in_kpis = con.execute(
            """
            select count(*) from marts.mart_sales_kpis
            where rep_id like '10%' and quarter_quota_amount > 0
            """
        ).fetchone()[0]
        forecast_quota = con.execute(
            """
            select forecast.fiscal_quarter, forecast.quota_amount, sum(attainment.quota_amount)
            from marts.mart_forecast as forecast
            inner join marts.mart_quota_attainment as attainment
                on attainment.period_type = 'quarter'
                and attainment.fiscal_period = forecast.fiscal_quarter
            where forecast.level = 'company'
            group by forecast.as_of_date, forecast.fiscal_quarter, forecast.quota_amount
            having abs(forecast.quota_amount - sum(attainment.quota_amount)) >= 0.01
            """
        ).fetchall()
    finally:
        con.close()
    assert mismatches.empty, mismatches.to_string()
    assert hubspot_quota_in_kpis > 0
    assert not forecast_quota, forecast_quota
