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
from emulator.ids import make_keys
from emulator.org import MERGED, MERGED_HANDLING, Org
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


@pytest.mark.parametrize("dirty_rate", [None, 0.3])
def test_advancing_three_days_twice_equals_six(make_emulator, dirty_rate):
    """Also with many duplicates, so that contacts get merged within the six days."""
    stepwise = make_emulator(seed=5, dirty_rate=dirty_rate)
    stepwise.state.advance(3)
    stepwise.state.advance(3)
    at_once = make_emulator(seed=5, dirty_rate=dirty_rate)
    at_once.state.advance(6)
    _assert_same_views(stepwise.state.view, at_once.state.view)
    assert stepwise.state.view.day == AS_OF + dt.timedelta(days=6)
    if dirty_rate:
        assert stepwise.state.view.salesforce["Contact"].IsDeleted.any()


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


# ---------------------------------------------------------------- re-orgs


def test_reorgs_move_small_org_reps_between_managers_with_dates(small_org):
    """The bigger cells of the small org have two pods; re-orgs move reps from one manager to
    the other, each move dated, and the User record follows the rep's latest team."""
    timeline, view = small_org
    teams = timeline.teams.set_index("team_id")
    reps = timeline.users[timeline.users.role == "rep"]
    memberships = timeline.user_teams[timeline.user_teams.user.isin(reps.user)]
    moves = memberships[memberships.duplicated("user", keep="first")]
    assert len(moves) >= 2, "re-orgs move reps at small"
    start_ms = timeline.start_day * 86_400_000
    assert ((moves.from_ms > start_ms) & (moves.from_ms < timeline.horizon_end_ms)).all()
    for move in moves.itertuples():
        previous = memberships[
            (memberships.user == move.user) & (memberships.from_ms < move.from_ms)
        ]
        before = teams.loc[previous.team.iloc[-1]]
        after = teams.loc[move.team]
        # Another manager of the same region, segment and CRM: the book stays in its cell.
        assert before.manager_user != after.manager_user
        assert (before.region, before.segment, before.crm) == (
            after.region,
            after.segment,
            after.crm,
        )
    users = view.salesforce["User"].set_index("Id")
    latest = memberships.groupby("user").last()
    for user in moves.user.unique():
        expected = make_keys("User", np.array([teams.manager_user[latest.team[user]]]))[0]
        assert users.ManagerId[make_keys("User", np.array([user]))[0]] == expected


def _owner_at_close(timeline) -> pd.DataFrame:
    """Each closed deal's close instant and the rep who owned it then, from the deal events."""
    events = timeline.opportunity_events.sort_values(["opp", "ts"], kind="stable")
    owner = events.owner.where(events.owner >= 0)
    events = events.assign(owner_then=owner.groupby(events.opp).ffill())
    closes = events[events.closed_event].groupby("opp").last()
    return pd.DataFrame(
        {"opp": closes.index, "close_ms": closes.ts, "owner": closes.owner_then.astype(np.int64)}
    )


def test_manager_at_close_is_the_owners_manager_on_the_close_date(small_org):
    """Owner_Manager_At_Close__c is the manager of the team the closing rep was in that day,
    per the dated team history, not the rep's manager today."""
    timeline, view = small_org
    closes = _owner_at_close(timeline).sort_values("close_ms")
    history = timeline.user_teams.sort_values("from_ms")
    at_close = pd.merge_asof(
        closes, history, left_on="close_ms", right_on="from_ms", left_by="owner", right_by="user"
    )
    hired_in = timeline.users.set_index("user").team
    team = at_close.team.fillna(at_close.owner.map(hired_in)).astype(np.int64)
    manager = timeline.teams.set_index("team_id").manager_user.reindex(team).to_numpy()
    expected = pd.Series(make_keys("User", manager), index=make_keys("Opportunity", at_close.opp))

    opp = view.salesforce["Opportunity"]
    closed = opp[opp.IsClosed].set_index("Id")
    assert len(closed) > 1000
    recorded = closed.Owner_Manager_At_Close__c
    assert (recorded == expected.reindex(recorded.index)).all()
    # The re-orgs make the difference visible: some deals closed under another manager than
    # the one their owner reports to today.
    current = closed.OwnerId.map(view.salesforce["User"].set_index("Id").ManagerId)
    assert (recorded != current).sum() >= 20


def test_every_activity_is_owned_by_a_rep_hired_when_it_was_logged(small_org):
    """An open task due after a new rep takes the deal over stays with the rep who planned it:
    it must never name a user who is hired only later (the medium org's bench run caught 13
    tasks of a rep hired the day after the as-of date, failing dim_reps' relationship test)."""
    timeline, _ = small_org
    activities = timeline.activities
    hired = timeline.users.set_index("user").hire_day
    hire_ms = hired.reindex(activities.owner.to_numpy()).to_numpy() * 86_400_000
    logged_day_end = (activities.created_ms.to_numpy() // 86_400_000 + 1) * 86_400_000
    assert len(activities) > 50_000
    assert (hire_ms < logged_day_end).all()


# ---------------------------------------------------------------- merges


@pytest.fixture(scope="module")
def advanced_small_org():
    """The small org before and after 20 days of time travel (merges happen only when advanced)."""
    org = Org.generate(42, "small", AS_OF, horizon_days=20)
    return org.view(AS_OF), org.view(AS_OF + dt.timedelta(days=20))


def test_advancing_merges_duplicate_contacts_like_salesforce(advanced_small_org):
    before, after = advanced_small_org
    contacts_before = before.salesforce["Contact"]
    assert not contacts_before.IsDeleted.any() and (contacts_before.MasterRecordId < 0).all()
    assert MERGED not in set(before.labels.defect)

    contacts = after.salesforce["Contact"].set_index("Id")
    losers = contacts[contacts.MasterRecordId >= 0]
    assert len(losers) >= 5
    assert losers.IsDeleted.all() and not contacts.IsDeleted[contacts.MasterRecordId < 0].any()
    # The survivor is the live, earlier record of the same person (same email).
    masters = contacts.loc[losers.MasterRecordId]
    assert (masters.Email.to_numpy() == losers.Email.to_numpy()).all()
    assert (masters.CreatedDate.to_numpy() < losers.CreatedDate.to_numpy()).all()
    assert not masters.IsDeleted.any()
    # The merge is an edit of both records, stamped after the initial as-of date.
    as_of_end = np.datetime64(AS_OF + dt.timedelta(days=1), "ms")
    assert (losers.SystemModstamp.to_numpy() >= as_of_end).all()
    assert (masters.SystemModstamp.to_numpy() == losers.SystemModstamp.to_numpy()).all()
    assert (losers.LastModifiedDate == losers.SystemModstamp).all()

    labels = after.labels[after.labels.object == "Contact"]
    merged_labels = labels[labels.defect == MERGED]
    assert set(merged_labels.key) == set(losers.index)
    assert (merged_labels.handling == MERGED_HANDLING).all()
    # A merged duplicate is gone: it is no longer one to deduplicate; the live ones still are.
    still_duplicates = set(labels.key[labels.defect == "duplicate_contact"])
    assert not still_duplicates & set(losers.index)
    labelled_before = set(before.labels.key[before.labels.defect == "duplicate_contact"])
    assert still_duplicates | set(losers.index) <= labelled_before | set(contacts.index)


@pytest.mark.parametrize(
    ("name", "contact_field"),
    [("Task", "WhoId"), ("Event", "WhoId"), ("CampaignMember", "ContactId")],
)
def test_a_merge_reparents_activities_and_campaign_members(advanced_small_org, name, contact_field):
    before, after = advanced_small_org
    contacts = after.salesforce["Contact"].set_index("Id")
    losers = contacts[contacts.MasterRecordId >= 0]
    old = before.salesforce[name].set_index("Id")
    new = after.salesforce[name].set_index("Id")
    on_loser = old[old[contact_field].isin(losers.index)]
    assert len(on_loser) > 0, f"some {name} rows were logged on a duplicate before its merge"
    moved = new.loc[on_loser.index]
    loser_of = on_loser[contact_field]
    assert (moved[contact_field].to_numpy() == losers.MasterRecordId[loser_of].to_numpy()).all()
    merged_at = losers.SystemModstamp[loser_of].to_numpy()
    assert (moved.SystemModstamp.to_numpy() >= merged_at).all()
    assert (moved.LastModifiedDate == moved.SystemModstamp).all()
    assert not new[contact_field].isin(losers.index).any(), "nothing points at a merged record"
    if name == "CampaignMember":
        assert (moved.LeadOrContactId == moved.ContactId).all()
    # Rows of other contacts keep their contact.
    others = old.index.difference(on_loser.index)
    assert (new.loc[others, contact_field] == old.loc[others, contact_field]).all()


def test_the_small_org_advanced_does_not_depend_on_the_horizon():
    """Advanced 6 days, the small org (merges, new contacts, their activities and touches, lead
    conversions and open deals in other currencies included) is the same whether generated 6 or
    40 days ahead, as the emulator's advance regenerates it with a 30-day buffer."""
    near = Org.generate(42, "small", AS_OF, horizon_days=6)
    far = Org.generate(42, "small", AS_OF, horizon_days=40)
    day = AS_OF + dt.timedelta(days=6)
    view = near.view(day)
    assert view.salesforce["Contact"].IsDeleted.any()
    _assert_same_views(view, far.view(day))


def test_truth_with_merges_is_byte_identical(tmp_path):
    kwargs = {"advance_days": 20, "dirty_rate": 0.3}
    generate_truth(9, "tiny", AS_OF, tmp_path / "a", **kwargs)
    generate_truth(9, "tiny", AS_OF, tmp_path / "b", **kwargs)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    labels = pd.read_parquet(tmp_path / "a" / "labels" / "defects.parquet")
    assert (labels.defect == MERGED).any()
