"""Attribution marts against the emulator's truth.

* For every attribution model, attributed pipeline and bookings summed over campaigns (the
  no_touch bucket included) equal total pipeline created and total bookings computed from the
  truth's deals (deleted and quarantined ones excluded; USD at the close date's dated rate, open
  deals at min(close date, as-of date)); the weights of each opportunity and model sum to 1.
* Google Ads spend, clicks and impressions per campaign and fiscal month in
  mart_campaign_performance equal the truth's daily metrics summed by month, each ads campaign
  mapped to the Salesforce campaign the ``campaign_mapping`` seed names (else the one of the same
  name) and 'Display - Retargeting' kept as unmatched spend.

Everything must be equal to the cent.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.dbt.conftest import AS_OF, PROJECT_DIR, build_from_truth, connect, shared
from tests.dbt.test_e2e_metrics import Rates, expected_deals

MODELS = {"first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay"}
SEED = PROJECT_DIR / "seeds" / "marketing" / "campaign_mapping.csv"


# ------------------------------------------------------------------------------ truth helpers
def truth_totals(truth: Path) -> tuple[float, float]:
    """(pipeline created, bookings) in USD over every valid deal of both CRMs."""
    deals = expected_deals(truth)
    rates = Rates(truth)
    pipeline = 0.0
    bookings = 0.0
    for deal in deals.itertuples():
        day = deal.close_date if deal.status != "open" else min(deal.close_date, AS_OF)
        usd = rates.convert(deal.amount, deal.currency, day)
        usd = 0.0 if math.isnan(usd) else usd
        pipeline += usd
        if deal.status == "won" and deal.close_date <= AS_OF:
            bookings += usd
    return pipeline, bookings


def _key(name) -> str:
    return str(name).strip().casefold()


def truth_spend(truth: Path) -> pd.DataFrame:
    """Google Ads metrics per mart campaign id and fiscal month (fiscal year = calendar year)."""
    ads = pd.read_parquet(truth / "google_ads" / "campaign_daily_metrics.parquet")
    ads["day"] = pd.to_datetime(ads.date).dt.date
    ads = ads[ads.day <= AS_OF].copy()
    campaigns = pd.read_parquet(truth / "salesforce" / "Campaign.parquet")
    campaigns = campaigns[~campaigns.IsDeleted]
    crm_by_name = campaigns.groupby(campaigns.Name.map(_key)).Id.min().to_dict()
    with SEED.open(newline="") as handle:
        seed = list(csv.DictReader(handle))
    latest = ads.sort_values("day").groupby("campaign_id").campaign_name.last()
    target = {}
    for ads_id, name in latest.items():
        rows = [r for r in seed if r["google_ads_campaign_id"] == ads_id] or [
            r
            for r in seed
            if not r["google_ads_campaign_id"] and _key(r["google_ads_campaign_name"]) == _key(name)
        ]
        if rows:
            crm_name = rows[0]["crm_campaign_name"]
            crm = rows[0]["crm_campaign_id"] or (
                crm_by_name.get(_key(crm_name)) if crm_name else None
            )
        else:
            crm = crm_by_name.get(_key(name))
        target[ads_id] = (crm or ads_id, crm is None)
    ads["campaign"] = ads.campaign_id.map(lambda i: target[i][0])
    ads["unmatched"] = ads.campaign_id.map(lambda i: target[i][1])
    ads["fiscal_month"] = [f"FY{d.year}-M{d.month:02d}" for d in ads.day]
    ads["spend"] = ads.cost_micros / 1_000_000
    grouped = ads.groupby(["campaign", "fiscal_month", "unmatched"])
    out = grouped[["spend", "clicks", "impressions"]].sum().reset_index()
    return out.rename(columns={"campaign": "campaign_id"})


# ------------------------------------------------------------------------------ checks
def check_attributed_totals(truth: Path, warehouse: Path) -> list[str]:
    pipeline, bookings = truth_totals(truth)
    con = connect(warehouse)
    try:
        by_campaign = con.sql(
            """
            select model, campaign_id,
                sum(attributed_pipeline_amount) as pipeline,
                sum(attributed_bookings_amount) as bookings
            from marts.fct_attribution_touches
            group by model, campaign_id
            """
        ).df()
        mart = con.sql(
            """
            select any_value(attribution_model) as model,
                sum(pipeline_amount) as pipeline, sum(bookings_amount) as bookings
            from marts.mart_campaign_performance
            """
        ).df()
    finally:
        con.close()
    problems = []
    if set(by_campaign.model) != MODELS:
        problems.append(f"models: {sorted(set(by_campaign.model))}")
    if "no_touch" not in set(by_campaign.campaign_id):
        problems.append("no no_touch bucket")
    totals = by_campaign.groupby("model")[["pipeline", "bookings"]].sum()
    totals.loc["mart_campaign_performance " + mart.model.iloc[0]] = mart.iloc[0][
        ["pipeline", "bookings"]
    ]
    for model, row in totals.iterrows():
        if abs(row.pipeline - pipeline) >= 0.005:
            problems.append(f"{model} pipeline: expected {pipeline!r}, got {row.pipeline!r}")
        if abs(row.bookings - bookings) >= 0.005:
            problems.append(f"{model} bookings: expected {bookings!r}, got {row.bookings!r}")
    return problems


def check_spend(truth: Path, warehouse: Path) -> list[str]:
    expected = truth_spend(truth)
    con = connect(warehouse)
    try:
        actual = con.sql(
            """
            select campaign_id, fiscal_month, is_unmatched_spend,
                spend_amount, clicks, impressions
            from marts.mart_campaign_performance
            where spend_amount <> 0 or clicks <> 0 or impressions <> 0
            """
        ).df()
    finally:
        con.close()
    merged = expected.merge(
        actual, on=["campaign_id", "fiscal_month"], how="outer", indicator="side"
    )
    problems = [
        f"{r.campaign_id} {r.fiscal_month}: only in {r.side}"
        for r in merged.itertuples()
        if r.side != "both"
    ]
    both = merged[merged.side == "both"]
    for row in both.itertuples():
        where = f"{row.campaign_id} {row.fiscal_month}"
        if abs(row.spend - row.spend_amount) >= 0.005:
            problems.append(f"{where} spend: expected {row.spend!r}, got {row.spend_amount!r}")
        if row.clicks_x != row.clicks_y or row.impressions_x != row.impressions_y:
            problems.append(f"{where} clicks/impressions differ")
        if bool(row.unmatched) != bool(row.is_unmatched_spend):
            problems.append(f"{where} unmatched: expected {row.unmatched}")
    return problems


# ------------------------------------------------------------------------------ tests
def test_attribution_marts_are_built(tiny_build):
    con = connect(tiny_build.warehouse)
    try:
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    finally:
        con.close()
    assert {"fct_attribution_touches", "mart_campaign_performance"} <= tables


def test_attributed_pipeline_and_bookings_sum_to_totals_for_every_model(tiny_build):
    problems = check_attributed_totals(tiny_build.truth, tiny_build.warehouse)
    assert not problems, "\n".join(problems)


def test_weights_sum_to_one_and_no_opportunity_is_dropped(tiny_build):
    con = connect(tiny_build.warehouse)
    try:
        weights = con.sql(
            """
            select opportunity_id, model, sum(weight) as weight, count(*) as touches,
                bool_or(touch_type <> 'no_touch') as touched
            from marts.fct_attribution_touches
            group by opportunity_id, model
            """
        ).df()
        opportunities = con.sql("select opportunity_id from marts.fct_opportunities").df()
    finally:
        con.close()
    assert (weights.weight - 1).abs().max() < 1e-9
    counts = weights.groupby("opportunity_id").model.nunique()
    assert set(counts.index) == set(opportunities.opportunity_id)
    assert (counts == len(MODELS)).all()
    # the tiny org has both touched and untouched deals, and paths of more than one touch
    assert weights.touched.any() and not weights.touched.all()
    assert weights.touches.max() > 1


def test_campaign_spend_by_month_matches_truth(tiny_build):
    problems = check_spend(tiny_build.truth, tiny_build.warehouse)
    assert not problems, "\n".join(problems[:20])
    spend = truth_spend(tiny_build.truth)
    assert spend.unmatched.any() and not spend.unmatched.all()


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    started = time.perf_counter()
    built = shared(tmp_path_factory, "dbt_small", lambda tmp: build_from_truth(tmp, "small"))
    print(f"\nsmall warehouse ready in {time.perf_counter() - started:.0f} s")
    # the build's own success is test_small_build's business; these marts must have built
    statuses = {uid.split(".")[-1]: status for uid, status, _ in built.build.results}
    for model in ("fct_attribution_touches", "mart_campaign_performance"):
        assert statuses.get(model) == "success", built.build.describe()
    return built


@pytest.mark.slow
def test_small_attribution_totals_and_spend_match_truth(small_build):
    problems = check_attributed_totals(small_build.truth, small_build.warehouse)
    problems += check_spend(small_build.truth, small_build.warehouse)
    assert not problems, "\n".join(problems[:20])
