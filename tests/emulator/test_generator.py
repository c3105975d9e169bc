"""The synthetic org is deterministic, travels in time consistently and is what it claims to be."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emulator import scales as S
from emulator.generator import generate
from emulator.org import Org
from emulator.truth import generate_truth, salesforce_frame

AS_OF = dt.date(2026, 11, 26)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_inputs_give_identical_truth_files(tmp_path):
    first = generate_truth(7, "tiny", AS_OF, tmp_path / "a", advance_days=2)
    second = generate_truth(7, "tiny", AS_OF, tmp_path / "b", advance_days=2)
    assert first == second
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


def test_another_seed_gives_another_org(tmp_path):
    generate_truth(7, "tiny", AS_OF, tmp_path / "a")
    generate_truth(8, "tiny", AS_OF, tmp_path / "b")
    assert _digests(tmp_path / "a") != _digests(tmp_path / "b")


def _view_tables(view) -> dict[str, pd.DataFrame]:
    tables = {f"sf/{k}": v for k, v in view.salesforce.items()}
    tables |= {f"hs/{k}": v for k, v in view.hubspot.items()}
    tables["ads"] = view.google_ads
    tables["labels"] = view.labels
    return tables


def _assert_same_views(left, right) -> None:
    a, b = _view_tables(left), _view_tables(right)
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(
            a[name].reset_index(drop=True), b[name].reset_index(drop=True), obj=name
        )


def test_a_longer_horizon_only_extends_the_timeline():
    """The org seen on day D does not depend on how far ahead it was generated."""
    near = Org.generate(3, "tiny", AS_OF, horizon_days=6)
    far = Org.generate(3, "tiny", AS_OF, horizon_days=40)
    for offset in (0, 6):
        day = AS_OF + dt.timedelta(days=offset)
        _assert_same_views(near.view(day), far.view(day))


def test_advancing_three_days_twice_equals_six(make_emulator):
    stepwise = make_emulator(seed=5)
    stepwise.state.advance(3)
    stepwise.state.advance(3)
    at_once = make_emulator(seed=5)
    at_once.state.advance(6)
    _assert_same_views(stepwise.state.view, at_once.state.view)
    assert stepwise.state.view.day == AS_OF + dt.timedelta(days=6)


def test_advancing_adds_activity():
    org = Org.generate(11, "small", AS_OF, horizon_days=3)
    before, after = org.view(AS_OF), org.view(AS_OF + dt.timedelta(days=3))
    opp_before = before.salesforce["Opportunity"].set_index("Id")
    opp_after = after.salesforce["Opportunity"].set_index("Id")
    assert len(opp_after) > len(opp_before), "new deals are created"
    common = opp_before.index.intersection(opp_after.index)
    moved = (
        opp_before.loc[common, "SystemModstamp"] != opp_after.loc[common, "SystemModstamp"]
    ).sum()
    assert moved > 0, "existing deals change"
    assert len(after.salesforce["Task"]) > len(before.salesforce["Task"])
    assert (
        after.salesforce["OpportunityHistory"].shape[0]
        > before.salesforce["OpportunityHistory"].shape[0]
    )


def test_nothing_in_a_view_is_stamped_after_its_day():
    org = Org.generate(13, "tiny", AS_OF, horizon_days=10)
    view = org.view(AS_OF)
    end = np.datetime64(AS_OF + dt.timedelta(days=1), "ms")
    for name, frame in view.salesforce.items():
        if "SystemModstamp" in frame:
            assert (frame.SystemModstamp.to_numpy() < end).all(), name
    for name in ("companies", "contacts", "deals", "calls", "emails", "meetings"):
        assert (view.hubspot[name].updatedAt.to_numpy() < end).all(), name


# ---------------------------------------------------------------- the org is what it claims


@pytest.fixture(scope="module")
def small_org():
    timeline = generate(42, "small", AS_OF)
    org = Org(timeline)
    return timeline, org.view(AS_OF)


def test_scale_matches_the_preset(small_org):
    timeline, view = small_org
    opportunities = len(view.salesforce["Opportunity"]) + len(view.hubspot["deals"])
    assert 12_000 <= opportunities <= 18_000, opportunities
    accounts = len(view.salesforce["Account"]) + len(view.hubspot["companies"])
    assert 2_500 <= accounts <= 3_500, accounts
    activities = sum(len(view.salesforce[x]) for x in ("Task", "Event")) + sum(
        len(view.hubspot[x]) for x in ("calls", "emails", "meetings")
    )
    assert 80_000 <= activities <= 130_000, activities
    reps = timeline.users[timeline.users.role == "rep"]
    active = reps[reps.term_day < 0]
    assert 25 <= len(active) <= 45, len(active)


def test_win_rates_by_segment_match_the_settings(small_org):
    """Closed new business wins at the generator's mean win probability, per segment."""
    timeline, _ = small_org
    opps = timeline.opportunities
    closed = opps[(opps.type == 0) & (opps.close_ms < timeline.horizon_end_ms)]
    for segment, base in S.BASE_WIN_RATE.items():
        deals = closed[closed.segment == segment]
        expected = deals.p_win.mean()
        tolerance = 3 * np.sqrt(expected * (1 - expected) / len(deals)) + 0.01
        assert abs(deals.won.mean() - expected) < tolerance, (segment, deals.won.mean(), expected)
        # The mean probability itself reflects the segment setting (source mix and skill average ~1).
        assert abs(expected - base) < 0.35 * base, (segment, expected, base)
    rates = closed.groupby("segment").won.mean()
    assert rates["SMB"] > rates["Mid-Market"] > rates["Enterprise"]


def test_bookings_peak_at_quarter_end(small_org):
    """Seasonality: the last month of a quarter books far more than a third of the quarter."""
    _, view = small_org
    opp = salesforce_frame(view, "Opportunity")
    won = opp[opp.IsWon & ~opp.IsDeleted & (opp.Type != "Renewal")]
    close = pd.to_datetime(won.CloseDate)
    last_month_share = (close.dt.month % 3 == 0).mean()
    assert last_month_share > 0.45, last_month_share
    last_ten_days = ((close + pd.Timedelta(days=10)).dt.quarter != close.dt.quarter).mean()
    # Without the quarter-end pull about 11 % of deals would close in the last ten days.
    assert last_ten_days > 0.11 + S.QUARTER_END_PULL * 0.5, last_ten_days


def test_sales_cycles_follow_the_stage_durations(small_org):
    timeline, _ = small_org
    opps = timeline.opportunities
    won = opps[(opps.type == 0) & opps.won & (opps.close_ms < timeline.horizon_end_ms)]
    cycle_days = (won.close_ms - won.created_ms) / 86_400_000
    medians = cycle_days.groupby(won.segment).median()
    for segment, per_stage in S.STAGE_MEDIAN_DAYS.items():
        # Five stages (sometimes four) of lognormal durations, some pulled to quarter end.
        low, high = 3.5 * per_stage, 7.5 * per_stage
        assert low <= medians[segment] <= high, (segment, medians[segment])
    assert medians["SMB"] < medians["Mid-Market"] < medians["Enterprise"]


def test_defects_occur_at_the_dirty_rate_and_are_labelled(small_org):
    _timeline, view = small_org
    labels = view.labels
    opportunities = len(view.salesforce["Opportunity"]) + len(view.hubspot["deals"])
    injected = labels[labels.defect.isin(S.OPPORTUNITY_DEFECTS)]
    rate = len(injected) / opportunities
    tolerance = 3 * np.sqrt(S.DEFAULT_DIRTY_RATE / opportunities)
    assert abs(rate - S.DEFAULT_DIRTY_RATE) < tolerance, rate
    # Every invalid label is visible in the data, exactly as labelled.
    opp = view.salesforce["Opportunity"].set_index("Id")
    sf_labels = labels[(labels.source_system == "salesforce") & (labels.object == "Opportunity")]
    by_kind = sf_labels.groupby("defect").key.apply(list).to_dict()
    assert (opp.loc[by_kind.get("invalid_negative_amount", []), "Amount"] < 0).all()
    assert opp.loc[by_kind.get("awkward_null_amount", []), "Amount"].isna().all()
    probability = opp.loc[by_kind.get("invalid_probability", []), "Probability"]
    assert ((probability < 0) | (probability > 100)).all()
    assert (
        opp.loc[by_kind.get("invalid_currency", []), "CurrencyIsoCode"] == S.INVALID_CURRENCY_CODE
    ).all()
    future = opp.loc[by_kind.get("invalid_future_created_date", []), "CreatedDate"]
    assert (future > np.datetime64(AS_OF, "ms")).all()
    # And no unlabelled record carries those defects.
    labelled = set(sf_labels.key)
    clean = opp[~opp.index.isin(labelled)]
    assert (clean.Amount.dropna() >= 0).all()
    assert clean.Probability.between(0, 100).all()
    assert clean.CurrencyIsoCode.isin(["USD", "EUR", "GBP", "JPY"]).all()
    assert (clean.CreatedDate <= np.datetime64(AS_OF + dt.timedelta(days=1), "ms")).all()
    # Duplicate contacts share an email with the original they copy.
    contacts = view.salesforce["Contact"]
    dup_keys = labels[(labels.object == "Contact")].key
    dup_emails = contacts[contacts.Id.isin(dup_keys)].Email
    assert dup_emails.isin(contacts[~contacts.Id.isin(dup_keys)].Email).all()
    dup_rate = len(dup_keys) / len(contacts)
    assert (
        abs(dup_rate - S.DEFAULT_DIRTY_RATE)
        < 3 * np.sqrt(S.DEFAULT_DIRTY_RATE / len(contacts)) + 0.001
    )


def test_history_reconstructs_the_current_state(small_org):
    """The last OpportunityHistory row of each deal agrees with the deal itself."""
    _, view = small_org
    opp = view.salesforce["Opportunity"]
    opp = opp[~opp.IsDeleted].set_index("Id")
    history = view.salesforce["OpportunityHistory"].sort_values(
        ["OpportunityId", "CreatedDate", "Id"]
    )
    last = history.groupby("OpportunityId").last()
    common = last.index.intersection(opp.index)
    assert len(common) == len(opp)
    for column in ("StageName", "CloseDate", "ForecastCategory"):
        assert (last.loc[common, column] == opp.loc[common, column]).all(), column
    amounts = pd.concat([last.loc[common, "Amount"], opp.loc[common, "Amount"]], axis=1).dropna()
    assert (amounts.iloc[:, 0] == amounts.iloc[:, 1]).all()


def test_renewals_follow_won_terms_and_churn_is_real(small_org):
    _, view = small_org
    opp = view.salesforce["Opportunity"]
    renewals = opp[(opp.Type == "Renewal") & ~opp.Id.isin(view.labels.key)]
    parents = opp.set_index("Id").loc[renewals.Renewal_Of__c]
    assert parents.IsWon.all()
    gap = (renewals.CreatedDate.to_numpy() - parents.Contract_End_Date__c.to_numpy()).astype(
        "timedelta64[D]"
    )
    assert (np.abs(gap.astype(int) + S.RENEWAL_LEAD_DAYS) <= 1).all()
    closed = renewals[renewals.IsClosed & ~renewals.IsDeleted]
    churn = 1 - closed.IsWon.mean()
    assert 0.05 < churn < 0.3, churn
