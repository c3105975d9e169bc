"""mart_account_retention against an independent pandas computation on the emulator's truth.

The truth side rebuilds ARR from the raw truth files only (docs/attribution-and-retention.md):

* terms are the won deals closed by the as-of date (deleted and quarantined deals excluded):
  Salesforce ``Contract_Start_Date__c``/``Contract_End_Date__c``/``Renewal_Of__c``, HubSpot
  ``contract_start_date``/``contract_end_date``/``renewal_of_deal_id``, the account from
  ``AccountId`` or the deal's company association;
* ARR = amount in USD at the close date's Salesforce dated rate × 12 ÷ whole months of the term;
  a renewed term stops the day before its earliest won renewal starts;
* an account's ARR on a day sums the terms covering it; a quarter's ending ARR is taken on its
  last day (the as-of date for the current quarter);
* company NRR and GRR per quarter over the trailing 12 months: the cohort is the accounts with
  ARR on the day before the window starts; NRR = Σ ending ÷ Σ starting, GRR = Σ min(ending,
  starting) ÷ Σ starting over the cohort.

Everything must be equal to the cent (ratios to 1e-9).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pandas as pd
import pytest

from emulator.schema import HS_STAGES
from tests.dbt.conftest import AS_OF, build_from_truth, connect, shared
from tests.dbt.test_e2e_metrics import Rates, invalid_ids

HS_WON = {s[0] for s in HS_STAGES if s[3] and float(s[4]) == 1.0}
WINDOW_MONTHS = 12  # dbt var retention_window_months (default)


# ------------------------------------------------------------------------------ truth helpers
def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, 1) if day.day == 1 else _clamped(year, month + 1, day.day)


def _clamped(year: int, month: int, day: int) -> dt.date:
    while True:
        try:
            return dt.date(year, month, day)
        except ValueError:
            day -= 1


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _as_date(value) -> dt.date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def truth_terms(truth: Path) -> pd.DataFrame:
    """One row per won deal closed by the as-of date, with its term and ARR in USD."""
    invalid = invalid_ids(truth)
    rates = Rates(truth)
    opp = pd.read_parquet(truth / "salesforce" / "Opportunity.parquet")
    opp = opp[~opp.IsDeleted & ~opp.Id.isin(invalid) & opp.IsWon]
    rows = [
        {
            "id": o.Id,
            "account": o.AccountId,
            "close": _as_date(o.CloseDate),
            "start": _as_date(o.Contract_Start_Date__c),
            "end": _as_date(o.Contract_End_Date__c),
            "renewal_of": o.Renewal_Of__c if isinstance(o.Renewal_Of__c, str) else None,
            "amount": o.Amount,
            "currency": o.CurrencyIsoCode,
        }
        for o in opp.itertuples()
    ]
    deals = pd.read_parquet(truth / "hubspot" / "deals.parquet")
    deals = deals[~deals.archived & ~deals.id.isin(invalid) & deals.dealstage.isin(HS_WON)]
    links = pd.read_parquet(truth / "hubspot" / "associations.parquet")
    links = links[(links.from_type == "deals") & (links.to_type == "companies")]
    company = dict(zip(links.from_key.astype(str), links.to_key.astype(str), strict=True))
    for d in deals.itertuples():
        renewal_of = d.renewal_of_deal_id
        rows.append(
            {
                "id": d.id,
                "account": company.get(str(d.id)),
                "close": d.closedate.date(),
                "start": _as_date(d.contract_start_date),
                "end": _as_date(d.contract_end_date),
                "renewal_of": None if pd.isna(renewal_of) or renewal_of == "" else str(renewal_of),
                "amount": d.amount,
                "currency": d.deal_currency_code,
            }
        )
    terms = pd.DataFrame(rows)
    terms = terms[terms.close <= AS_OF].copy()
    terms["start"] = [s or c for s, c in zip(terms.start, terms.close, strict=True)]
    terms["end"] = [
        e or add_months(s, 12) - dt.timedelta(days=1)
        for e, s in zip(terms.end, terms.start, strict=True)
    ]
    usd = [
        rates.convert(a, c, d)
        for a, c, d in zip(terms.amount, terms.currency, terms.close, strict=True)
    ]
    terms["usd"] = pd.Series(usd, index=terms.index).fillna(0.0)
    after_end = [e + dt.timedelta(days=1) for e in terms.end]
    months = [
        max((a.year * 12 + a.month) - (s.year * 12 + s.month), 1)
        for a, s in zip(after_end, terms.start, strict=True)
    ]
    terms["arr"] = [u if m == 12 else u * 12 / m for u, m in zip(terms.usd, months, strict=True)]
    renewal_start = terms[terms.renewal_of.notna()].groupby("renewal_of").start.min()
    terms["effective_end"] = [
        min(e, renewal_start[i] - dt.timedelta(days=1)) if i in renewal_start.index else e
        for i, e in zip(terms.id, terms.end, strict=True)
    ]
    return terms.reset_index(drop=True)


def arr_on(terms: pd.DataFrame, day: dt.date) -> pd.Series:
    """ARR per account at the end of ``day``."""
    covering = terms[(terms.start <= day) & (terms.effective_end >= day)]
    return covering.groupby("account").arr.sum()


def expected_retention(terms: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(company rows per quarter, ending ARR per account and quarter)."""
    quarters = []
    day = quarter_start(terms.start.min())
    while day <= AS_OF:
        quarters.append(day)
        day = add_months(day, 3)
    company, accounts = [], []
    for start in quarters:
        end = add_months(start, 3) - dt.timedelta(days=1)
        label = f"FY{start.year}-Q{(start.month - 1) // 3 + 1}"
        ending = arr_on(terms, min(end, AS_OF))
        cohort_day = add_months(end + dt.timedelta(days=1), -WINDOW_MONTHS) - dt.timedelta(days=1)
        cohort = arr_on(terms, cohort_day)
        cohort = cohort[cohort > 0]
        cohort_end = ending.reindex(cohort.index, fill_value=0.0)
        retained = pd.concat([cohort, cohort_end], axis=1).min(axis=1)
        starting = cohort.sum()
        company.append(
            {
                "fiscal_quarter": label,
                "cohort_starting": starting,
                "cohort_ending": cohort_end.sum(),
                "cohort_retained": retained.sum(),
                "nrr": cohort_end.sum() / starting if starting else None,
                "grr": retained.sum() / starting if starting else None,
                "ending": ending.sum(),
            }
        )
        accounts += [
            {"fiscal_quarter": label, "account_id": account, "ending": value}
            for account, value in ending.items()
            if value > 0
        ]
    return pd.DataFrame(company), pd.DataFrame(accounts)


# ------------------------------------------------------------------------------ warehouse side
def actual_retention(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    con = connect(warehouse)
    try:
        company = con.sql(
            """
            select
                fiscal_quarter,
                cohort_starting_arr_amount as cohort_starting,
                cohort_ending_arr_amount as cohort_ending,
                cohort_starting_arr_amount - cohort_contraction_arr_amount
                    - cohort_churned_arr_amount as cohort_retained,
                net_revenue_retention as nrr,
                gross_revenue_retention as grr,
                ending_arr_amount as ending,
                retention_window_months
            from marts.mart_account_retention
            where level = 'company'
            """
        ).df()
        accounts = con.sql(
            """
            select fiscal_quarter, account_id, ending_arr_amount as ending
            from marts.mart_account_retention
            where level = 'account' and ending_arr_amount > 0
            """
        ).df()
    finally:
        con.close()
    return company, accounts


def compare_retention(truth: Path, warehouse: Path) -> tuple[list[str], pd.DataFrame]:
    expected_company, expected_accounts = expected_retention(truth_terms(truth))
    actual_company, actual_accounts = actual_retention(warehouse)
    assert set(actual_company.retention_window_months) == {WINDOW_MONTHS}
    problems = []
    merged = expected_company.merge(
        actual_company, on="fiscal_quarter", how="outer", suffixes=("_e", "_a"), indicator="side"
    )
    for row in merged.itertuples():
        if row.side != "both":
            problems.append(f"{row.fiscal_quarter}: only in {row.side}")
            continue
        for column in ("cohort_starting", "cohort_ending", "cohort_retained", "ending"):
            e, a = getattr(row, f"{column}_e"), getattr(row, f"{column}_a")
            if abs(e - a) >= 0.005:
                problems.append(f"{row.fiscal_quarter} {column}: expected {e!r}, got {a!r}")
        for column in ("nrr", "grr"):
            e, a = getattr(row, f"{column}_e"), getattr(row, f"{column}_a")
            if pd.isna(e) != pd.isna(a) or (not pd.isna(e) and abs(e - a) > 1e-9):
                problems.append(f"{row.fiscal_quarter} {column}: expected {e!r}, got {a!r}")
    accounts = expected_accounts.merge(
        actual_accounts, on=["fiscal_quarter", "account_id"], how="outer", suffixes=("_e", "_a")
    )
    bad = (accounts.ending_e.fillna(0) - accounts.ending_a.fillna(0)).abs() >= 0.005
    for row in accounts[bad].itertuples():
        problems.append(
            f"{row.fiscal_quarter} {row.account_id} ending ARR: "
            f"expected {row.ending_e!r}, got {row.ending_a!r}"
        )
    return problems, expected_company


# ------------------------------------------------------------------------------ tests
def test_company_nrr_and_grr_per_quarter_match_truth(tiny_build):
    problems, expected = compare_retention(tiny_build.truth, tiny_build.warehouse)
    assert expected.nrr.notna().sum() >= 4, "the tiny org should give several retention quarters"
    assert not problems, "\n".join(problems)


def test_retention_rows_roll_forward(tiny_build):
    """starting + new + expansion - contraction - churned = ending on every row; each quarter's
    starting ARR is the previous quarter's ending ARR; the company row sums the accounts."""
    con = connect(tiny_build.warehouse)
    try:
        rows = con.sql("select * from marts.mart_account_retention").df()
    finally:
        con.close()
    roll = (
        rows.starting_arr_amount
        + rows.new_arr_amount
        + rows.expansion_arr_amount
        - rows.contraction_arr_amount
        - rows.churned_arr_amount
        - rows.ending_arr_amount
    )
    assert (roll.abs() < 0.005).all()
    company = rows[rows.level == "company"].sort_values("period_start")
    carried = company.starting_arr_amount.to_numpy()[1:] - company.ending_arr_amount.to_numpy()[:-1]
    assert abs(carried).max() < 0.005
    sums = (
        rows[rows.level == "account"]
        .groupby("fiscal_quarter")[
            ["starting_arr_amount", "ending_arr_amount", "cohort_starting_arr_amount"]
        ]
        .sum()
    )
    joined = company.set_index("fiscal_quarter")[sums.columns].join(sums, rsuffix="_accounts")
    for column in sums.columns:
        assert (joined[column] - joined[f"{column}_accounts"].fillna(0)).abs().max() < 0.005
    assert (company.gross_revenue_retention.dropna() <= 1 + 1e-12).all()


@pytest.mark.slow
def test_small_company_nrr_and_grr_match_truth(tmp_path_factory):
    started = time.perf_counter()
    small = shared(tmp_path_factory, "dbt_small", lambda tmp: build_from_truth(tmp, "small"))
    print(f"\nsmall warehouse ready in {time.perf_counter() - started:.0f} s")
    statuses = {uid.split(".")[-1]: status for uid, status, _ in small.build.results}
    assert statuses.get("mart_account_retention") == "success", small.build.describe()
    problems, expected = compare_retention(small.truth, small.warehouse)
    assert expected.nrr.notna().sum() >= 6
    assert not problems, "\n".join(problems[:20])
