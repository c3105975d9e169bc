"""The org as the APIs see it on a given day: Salesforce, HubSpot and Google Ads tables.

``Org`` renders a generated :class:`~emulator.generator.Timeline` into per-object *version*
frames once; ``Org.view(day)`` cuts them at the end of that day. The view's frames are the data
contract of the API server and of the ground truth:

Salesforce (``view.salesforce[object]``): one row per record that exists at the view (deleted
records included, with ``IsDeleted`` true), one column per schema field except compound address
parents. Value types: id/reference -> int64 key (-1 = null, render with ``emulator.ids.sf_ids``);
datetime -> ``datetime64[ms]`` UTC (NaT = null); date -> ``datetime64[ms]`` at midnight; currency,
double, percent -> float64 (NaN = null); int -> ``Int64``; boolean -> bool; text -> str or None.

HubSpot (``view.hubspot[object]`` for companies, contacts, deals, calls, emails, meetings):
``id`` (int64 key), ``createdAt``, ``updatedAt``, ``archivedAt`` (datetime64[ms]), ``archived``
(bool), then one typed column per property (number -> float64, date/datetime ->
datetime64[ms], bool -> bool, others -> str). Reference-like properties (``hubspot_owner_id``,
``associatedcompanyid``) hold int64 keys. Plus ``owners``, ``deal_property_history``
(deal, property, value as API string, timestamp, source_type), ``associations``
(from_type, from_key, to_type, to_key, type_id), ``email_events``.

Google Ads (``view.google_ads``): campaign daily metrics as reported on the view day (the last
three days are still being restated).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emulator import scales as S
from emulator.generator import (
    ADS_CAMPAIGNS,
    EXPANSION,
    HUBSPOT,
    NEW_BUSINESS,
    RENEWAL,
    SALESFORCE,
    STAGE_WON,
    Timeline,
    generate,
)
from emulator.ids import HUBSPOT_ID_OFFSET, hs_ids, local_part, make_keys
from emulator.schema import (
    CURRENCIES,
    HS_STAGES,
    OPPORTUNITY_TYPES,
    SF_FORECAST_CATEGORY_NAMES,
    SF_OBJECTS,
    SF_STAGES,
)
from emulator.timeutil import DAY_MS, HOUR_MS, date_of, day_number, day_of_ms, quarter_bounds

STAGE_NAMES = np.array([""] + [s[0] for s in SF_STAGES])
HS_STAGE_IDS = np.array([""] + [s[0] for s in HS_STAGES])
HS_STAGE_PROBABILITY = np.array([np.nan] + [float(s[4]) for s in HS_STAGES])
HS_CATEGORY = {
    "Pipeline": "PIPELINE",
    "BestCase": "BEST_CASE",
    "MostLikely": "MOST_LIKELY",
    "Forecast": "COMMIT",
    "Closed": "CLOSED",
    "Omitted": "OMIT",
}
HS_DEALTYPE = np.array(["newbusiness", "existingbusiness", "renewal"])
FUTURE_YEARS = 40
DRIFT_AFTER_DAYS = 2  # a custom field appears this many days after the initial as-of date
RESTATEMENT = {0: 0.86, 1: 0.94, 2: 0.985}  # share of final ads metrics reported d days later
TERRITORY_MODEL_KEY = int(make_keys("Territory2Model", 1))


def ms_to_dt(ms) -> np.ndarray:
    """int64 ms (negative = null) to datetime64[ms]."""
    ms = np.asarray(ms, dtype=np.int64)
    # The APIs report whole seconds (Salesforce prints ".000"), so many records share a second.
    out = (ms - ms % 1000).astype("datetime64[ms]")
    out[ms < 0] = np.datetime64("NaT")
    return out


def day_to_dt(days) -> np.ndarray:
    days = np.asarray(days, dtype=np.int64)
    return ms_to_dt(np.where(days < 0, -1, days * DAY_MS))


def _latest(frame: pd.DataFrame, key: str, ts: str, t_ms: int) -> pd.DataFrame:
    """Last version of each record at or before ``t_ms`` (frame sorted by key, then ts)."""
    k = frame[key].to_numpy()
    visible = frame[ts].to_numpy() <= t_ms
    same_next = np.r_[k[1:] == k[:-1], False]
    visible_next = np.r_[visible[1:], False]
    return frame[visible & ~(same_next & visible_next)]


@dataclass
class OrgView:
    day: dt.date
    now: dt.datetime
    salesforce: dict[str, pd.DataFrame]
    salesforce_drift_fields: dict[str, list[str]]
    hubspot: dict[str, pd.DataFrame]
    hubspot_drift_properties: dict[str, list[str]]
    google_ads: pd.DataFrame
    labels: pd.DataFrame


class Org:
    """A generated org, rendered once into version frames and cut per view day."""

    def __init__(self, timeline: Timeline):
        self.t = timeline
        self.drift_ms = (day_number(timeline.as_of) + DRIFT_AFTER_DAYS + 1) * DAY_MS
        self._user_keys()
        self.versions: dict[str, pd.DataFrame] = {}
        self.appends: dict[str, pd.DataFrame] = {}
        self._render_salesforce()
        self._render_hubspot()

    @classmethod
    def generate(
        cls, seed: int, scale: str, as_of: dt.date, horizon_days: int = 0, dirty_rate=None
    ):
        kwargs = {} if dirty_rate is None else {"dirty_rate": dirty_rate}
        return cls(generate(seed, scale, as_of, horizon_days, **kwargs))

    # ---------------------------------------------------------------- helpers
    def _user_keys(self) -> None:
        users = self.t.users
        self.user_key = make_keys("User", users.user.to_numpy())
        self.team_manager = self.t.teams.manager_user.to_numpy()

    def _sf_user(self, users) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        return np.where(users >= 0, make_keys("User", np.maximum(users, 0)), -1)

    def _team_at(self, users, ms) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        ms = np.asarray(ms, dtype=np.int64)
        ut = self.t.user_teams
        combo = ut.user.to_numpy() * (1 << 42) + ut.from_ms.to_numpy()
        pos = np.maximum(np.searchsorted(combo, users * (1 << 42) + ms, side="right") - 1, 0)
        found = ut.user.to_numpy()[pos] == users
        hired = self.t.users.team.to_numpy()[np.maximum(users, 0)]
        return np.where(found, ut.team.to_numpy()[pos], hired)

    def _role_key(self, kind: str, index) -> np.ndarray:
        base = {"cro": 0, "vp": 1, "manager": 100, "rep": 10_000}[kind]
        return make_keys("UserRole", base + np.asarray(index))

    # ---------------------------------------------------------------- Salesforce
    def _render_salesforce(self) -> None:
        self._sf_roles_and_users()
        self._sf_accounts()
        self._sf_contacts()
        self._sf_leads()
        self._sf_opportunities()
        self._sf_activities()
        self._sf_campaigns()
        self._sf_forecasting()
        self._sf_territories()
        self._sf_currencies()

    def _sf_roles_and_users(self) -> None:
        t = self.t
        origin = (t.start_day - 900) * DAY_MS
        teams = t.teams[t.teams.crm == SALESFORCE]
        regions = ["NA", "EMEA", "APAC"]
        roles = [(self._role_key("cro", 0), "CRO", -1)]
        roles += [
            (self._role_key("vp", i), f"VP Sales {r}", self._role_key("cro", 0))
            for i, r in enumerate(regions)
        ]
        for tm in teams.itertuples():
            parent = self._role_key("vp", regions.index(tm.region))
            roles.append(
                (self._role_key("manager", tm.team_id), f"Sales Manager {tm.name}", parent)
            )
            roles.append(
                (
                    self._role_key("rep", tm.team_id),
                    f"Account Executive {tm.name}",
                    self._role_key("manager", tm.team_id),
                )
            )
        role = pd.DataFrame(roles, columns=["Id", "Name", "ParentRoleId"])
        role["Id"] = role.Id.astype(np.int64)
        role["ParentRoleId"] = role.ParentRoleId.astype(np.int64)
        role["DeveloperName"] = role.Name.str.replace(r"[^A-Za-z0-9]+", "_", regex=True)
        role["_ts"] = origin
        role["LastModifiedDate"] = ms_to_dt(role._ts)
        role["SystemModstamp"] = role.LastModifiedDate
        self.versions["UserRole"] = role.sort_values(["Id", "_ts"], ignore_index=True)

        users = t.users[t.users.crm == SALESFORCE]
        ut = t.user_teams[t.user_teams.user.isin(users.user)]
        # Versions: hire, every team change, termination.
        changes = ut.assign(
            _ts=np.maximum(
                ut.from_ms.to_numpy(), ms_to_ms(users.set_index("user").hire_day, ut.user)
            )
        )
        term = users[users.term_day >= 0]
        term_rows = pd.DataFrame(
            {"user": term.user, "_ts": term.term_day.to_numpy() * DAY_MS + 18 * HOUR_MS}
        )
        versions = pd.concat([changes[["user", "_ts"]], term_rows], ignore_index=True)
        versions = versions.sort_values(["user", "_ts"], ignore_index=True)
        u = users.set_index("user").loc[versions.user.to_numpy()]
        ts = versions._ts.to_numpy()
        uid = versions.user.to_numpy()
        team = self._team_at(uid, ts)
        is_rep = u.role.to_numpy() == "rep"
        manager = np.where(
            is_rep, self.team_manager[np.maximum(team, 0)], u.manager_user.to_numpy()
        )
        role_key = np.select(
            [u.role.to_numpy() == "cro", u.role.to_numpy() == "vp", u.role.to_numpy() == "manager"],
            [
                self._role_key("cro", 0),
                self._role_key(
                    "vp",
                    pd.Series(u.region.to_numpy())
                    .map({r: i for i, r in enumerate(regions)})
                    .fillna(0)
                    .astype(int)
                    .to_numpy(),
                ),
                self._role_key("manager", np.maximum(u.team.to_numpy(), 0)),
            ],
            self._role_key("rep", np.maximum(team, 0)),
        )
        team_info = t.teams.set_index("team_id")
        segment = np.where(
            is_rep | (u.role.to_numpy() == "manager"),
            team_info.segment.reindex(team if True else None).to_numpy(),
            None,
        )
        segment = np.where(u.role.to_numpy() == "manager", u.segment.to_numpy(), segment)
        active = (u.term_day.to_numpy() < 0) | (ts < u.term_day.to_numpy() * DAY_MS + 18 * HOUR_MS)
        title = (
            pd.Series(u.role.to_numpy())
            .map(
                {
                    "cro": "Chief Revenue Officer",
                    "vp": "VP Sales",
                    "manager": "Sales Manager",
                    "rep": "Account Executive",
                }
            )
            .to_numpy()
        )
        frame = pd.DataFrame(
            {
                "Id": self._sf_user(uid),
                "Name": (u.first_name + " " + u.last_name).to_numpy(),
                "FirstName": u.first_name.to_numpy(),
                "LastName": u.last_name.to_numpy(),
                "Email": u.email.to_numpy(),
                "Username": u.email.str.replace("@acme-sales.example", "@acme.sf").to_numpy(),
                "IsActive": active,
                "ManagerId": self._sf_user(manager),
                "UserRoleId": role_key.astype(np.int64),
                "Title": title,
                "Department": "Sales",
                "Division": u.region.to_numpy(),
                "Region__c": u.region.to_numpy(),
                "Segment__c": segment,
                "Hire_Date__c": day_to_dt(u.hire_day.to_numpy()),
                "Termination_Date__c": day_to_dt(np.where(active, -1, u.term_day.to_numpy())),
                "_ts": ts,
            }
        )
        first_ts = frame.groupby("Id")._ts.transform("min").to_numpy()
        frame["CreatedDate"] = ms_to_dt(first_ts)
        frame["LastModifiedDate"] = ms_to_dt(ts)
        frame["SystemModstamp"] = frame.LastModifiedDate
        self.versions["User"] = frame.sort_values(["Id", "_ts"], kind="stable", ignore_index=True)

    def _sf_accounts(self) -> None:
        t = self.t
        acc = t.accounts[t.accounts.crm == SALESFORCE]
        won = t.opportunities[t.opportunities.won & (t.opportunities.crm == SALESFORCE)]
        first_win = won.groupby("account").close_ms.min()
        holders = t.holders
        # Owner changes: each later holder of the account's slot takes the book over.
        h = holders[["slot", "start_day", "user"]].copy()
        h["_ts"] = h.start_day * DAY_MS + 8 * HOUR_MS
        own = acc[["account", "slot", "created_ms"]].merge(h, on="slot")
        own = own[own._ts > own.created_ms]
        base = acc[["account", "created_ms"]].rename(columns={"created_ms": "_ts"})
        wins = first_win.rename("_ts").reset_index()
        versions = pd.concat([base, own[["account", "_ts"]], wins], ignore_index=True)
        versions = versions.drop_duplicates().sort_values(["account", "_ts"], ignore_index=True)
        a = acc.set_index("account").loc[versions.account.to_numpy()]
        ts = versions._ts.to_numpy()
        customer = ts >= first_win.reindex(versions.account.to_numpy()).fillna(np.inf).to_numpy()
        owner = self._slot_owner(a.slot.to_numpy(), ts)
        currency = np.where(
            a.region.to_numpy() == "EMEA",
            "EUR",
            np.where(a.region.to_numpy() == "APAC", "JPY", "USD"),
        )
        frame = pd.DataFrame(
            {
                "Id": make_keys("Account", versions.account.to_numpy()),
                "Name": a.name.to_numpy(),
                "Type": np.where(customer, "Customer - Direct", "Prospect"),
                "Industry": a.industry.to_numpy(),
                "AnnualRevenue": a.annual_revenue.to_numpy(),
                "NumberOfEmployees": pd.array(a.employees.to_numpy(), dtype="Int64"),
                "OwnerId": self._sf_user(owner),
                "ParentId": np.int64(-1),
                "Website": (
                    "www." + a.name.str.split(" ").str[0].str.lower() + ".example"
                ).to_numpy(),
                "BillingStreet": (a.index.astype(str) + " Market Street").to_numpy(),
                "BillingCity": "Springfield",
                "BillingState": None,
                "BillingPostalCode": "10001",
                "BillingCountry": a.country.to_numpy(),
                "Segment__c": a.segment.to_numpy(),
                "Region__c": a.region.to_numpy(),
                "CurrencyIsoCode": currency,
                "IsDeleted": False,
                "CreatedById": self._sf_user(np.zeros(len(a), dtype=np.int64)),
                "CreatedDate": ms_to_dt(a.created_ms.to_numpy()),
                "LastModifiedDate": ms_to_dt(ts),
                "SystemModstamp": ms_to_dt(ts),
                "_ts": ts,
            }
        )
        frame["ParentId"] = frame.ParentId.astype(np.int64)
        self.versions["Account"] = frame

    def _slot_owner(self, slots, ms) -> np.ndarray:
        h = self.t.holders
        combo = h.slot.to_numpy() * (1 << 24) + h.start_day.to_numpy()
        pos = np.maximum(
            np.searchsorted(combo, slots * (1 << 24) + day_of_ms(ms), side="right") - 1, 0
        )
        return h.user.to_numpy()[pos]

    def _sf_contacts(self) -> None:
        c = self.t.contacts[self.t.contacts.crm == SALESFORCE]
        owner = self._slot_owner(c.slot.to_numpy(), c.created_ms.to_numpy())
        frame = pd.DataFrame(
            {
                "Id": make_keys("Contact", c.contact.to_numpy()),
                "AccountId": make_keys("Account", c.account.to_numpy()),
                "FirstName": c.first_name.to_numpy(),
                "LastName": c.last_name.to_numpy(),
                "Name": (c.first_name + " " + c.last_name).to_numpy(),
                "Email": c.email.to_numpy(),
                "Title": "Director",
                "LeadSource": c.source.to_numpy(),
                "OwnerId": self._sf_user(owner),
                "MasterRecordId": np.int64(-1),
                "IsDeleted": False,
                "CreatedById": self._sf_user(owner),
                "CreatedDate": ms_to_dt(c.created_ms.to_numpy()),
                "LastModifiedDate": ms_to_dt(c.created_ms.to_numpy()),
                "SystemModstamp": ms_to_dt(c.created_ms.to_numpy()),
                "_ts": c.created_ms.to_numpy(),
            }
        )
        frame["MasterRecordId"] = frame.MasterRecordId.astype(np.int64)
        self.versions["Contact"] = frame.sort_values(["Id", "_ts"], ignore_index=True)

    def _sf_leads(self) -> None:
        leads = self.t.leads[self.t.leads.crm == SALESFORCE]
        steps = []
        for column, status in (
            ("created_ms", "Open - Not Contacted"),
            ("first_response_ms", "Working - Contacted"),
            ("mql_ms", None),
            ("sql_ms", None),
            ("converted_ms", "Closed - Converted"),
            ("closed_ms", "Closed - Not Converted"),
        ):
            sel = leads[column].to_numpy() >= 0
            steps.append(
                pd.DataFrame(
                    {
                        "lead": leads.lead.to_numpy()[sel],
                        "_ts": leads[column].to_numpy()[sel],
                        "status": status,
                    }
                )
            )
        versions = pd.concat(steps, ignore_index=True).sort_values(
            ["lead", "_ts"], kind="stable", ignore_index=True
        )
        versions["status"] = versions.groupby("lead").status.ffill()
        ld = leads.set_index("lead").loc[versions.lead.to_numpy()]
        ts = versions._ts.to_numpy()

        def stamped(column):
            value = ld[column].to_numpy()
            return np.where((value >= 0) & (value <= ts), value, -1)

        converted = stamped("converted_ms") >= 0
        owner = self._slot_owner(ld.slot.to_numpy(), ld.created_ms.to_numpy())
        frame = pd.DataFrame(
            {
                "Id": make_keys("Lead", versions.lead.to_numpy()),
                "FirstName": ld.first_name.to_numpy(),
                "LastName": ld.last_name.to_numpy(),
                "Name": (ld.first_name + " " + ld.last_name).to_numpy(),
                "Company": ("Prospect " + ld.index.astype(str)).to_numpy(),
                "Email": ld.email.to_numpy(),
                "Status": versions.status.to_numpy(),
                "LeadSource": ld.source.to_numpy(),
                "OwnerId": self._sf_user(owner),
                "IsConverted": converted,
                "ConvertedDate": day_to_dt(
                    np.where(converted, day_of_ms(ld.converted_ms.to_numpy()), -1)
                ),
                "ConvertedAccountId": np.where(
                    converted,
                    make_keys("Account", np.maximum(ld.converted_account.to_numpy(), 0)),
                    -1,
                ),
                "ConvertedContactId": np.where(
                    converted,
                    make_keys("Contact", np.maximum(ld.converted_contact.to_numpy(), 0)),
                    -1,
                ),
                "ConvertedOpportunityId": np.where(
                    converted,
                    make_keys("Opportunity", np.maximum(ld.converted_opp.to_numpy(), 0)),
                    -1,
                ),
                "Campaign_Source__c": np.where(
                    ld.campaign.to_numpy() >= 0,
                    make_keys("Campaign", np.maximum(ld.campaign.to_numpy(), 0)),
                    -1,
                ),
                "MQL_Date__c": ms_to_dt(stamped("mql_ms")),
                "SQL_Date__c": ms_to_dt(stamped("sql_ms")),
                "First_Response_At__c": ms_to_dt(stamped("first_response_ms")),
                "IsDeleted": False,
                "CreatedById": self._sf_user(owner),
                "CreatedDate": ms_to_dt(ld.created_ms.to_numpy()),
                "LastModifiedDate": ms_to_dt(ts),
                "SystemModstamp": ms_to_dt(ts),
                "_ts": ts,
            }
        )
        self.versions["Lead"] = frame

    def _opportunity_versions(self, crm: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Deal state after every event (forward-filled), for one CRM; and the deal attributes."""
        t = self.t
        opps = t.opportunities[t.opportunities.crm == crm]
        ev = t.opportunity_events[t.opportunity_events.opp.isin(opps.opp)].copy()
        for column, null in (("stage", -1), ("close_day", -1), ("owner", -1)):
            ev[column] = ev[column].where(ev[column] != null)
        state = ["stage", "amount", "close_day", "owner", "category", "probability"]
        ev[state] = ev.groupby("opp")[state].ffill()
        ev["deleted"] = ev.groupby("opp").deleted.cummax()
        ev["closed_ms"] = ev.ts.where(ev.closed_event).groupby(ev.opp).ffill()
        return ev.reset_index(drop=True), opps.set_index("opp")

    def _apply_deal_defects(self, ev: pd.DataFrame, crm: int) -> pd.DataFrame:
        d = self.t.defects[(self.t.defects.entity == "opportunity") & (self.t.defects.crm == crm)]
        kind = ev.opp.map(d.set_index("key").defect)
        ev["defect"] = kind
        ev.loc[kind == "invalid_negative_amount", "amount"] = -ev.amount.abs()
        ev.loc[kind == "awkward_null_amount", "amount"] = np.nan
        ev.loc[kind == "invalid_probability", "probability"] = 150.0
        return ev

    def _sf_opportunities(self) -> None:
        ev, opps = self._opportunity_versions(SALESFORCE)
        ev = self._apply_deal_defects(ev, SALESFORCE)
        o = opps.loc[ev.opp.to_numpy()]
        ts = ev.ts.to_numpy()
        stage = ev.stage.to_numpy().astype(np.int64)
        closed = stage >= STAGE_WON
        won = stage == STAGE_WON
        owner = ev.owner.to_numpy().astype(np.int64)
        close_day = ev.close_day.to_numpy().astype(np.int64)
        closed_ms = ev.closed_ms.fillna(-1).to_numpy().astype(np.int64)
        team_at_close = self._team_at(owner, np.where(closed_ms > 0, closed_ms, ts))
        manager_at_close = np.where(closed, self.team_manager[np.maximum(team_at_close, 0)], -1)
        team_names = self.t.teams.name.to_numpy()
        currency = np.array(CURRENCIES)[o.currency_index.to_numpy()]
        currency = np.where(
            ev.defect.to_numpy() == "invalid_currency", S.INVALID_CURRENCY_CODE, currency
        )
        created = o.created_ms.to_numpy()
        created = np.where(
            ev.defect.to_numpy() == "invalid_future_created_date",
            created + FUTURE_YEARS * 365 * DAY_MS,
            created,
        )
        amount = ev.amount.to_numpy()
        probability = ev.probability.to_numpy()
        close_q = quarter_bounds(close_day)[0]
        fiscal_quarter = (
            close_q.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
        ) // 3 + 1
        kind = o.type.to_numpy()
        term_start = np.where(won, o.term_start_day.to_numpy(), -1)
        term_end = np.where(won, o.term_end_day_new.to_numpy(), -1)
        account_names = (
            self.t.accounts.set_index("account").name.reindex(o.account.to_numpy()).to_numpy()
        )
        frame = pd.DataFrame(
            {
                "Id": make_keys("Opportunity", ev.opp.to_numpy()),
                "Name": pd.Series(account_names)
                .str.cat(pd.Series(np.array(OPPORTUNITY_TYPES)[kind]), sep=" - ")
                .to_numpy(),
                "AccountId": make_keys("Account", o.account.to_numpy()),
                "OwnerId": self._sf_user(owner),
                "Type": np.array(OPPORTUNITY_TYPES)[kind],
                "StageName": STAGE_NAMES[stage],
                "Amount": amount,
                "CurrencyIsoCode": currency,
                "Probability": probability,
                "ExpectedRevenue": amount * probability / 100.0,
                "CloseDate": day_to_dt(close_day),
                "ForecastCategory": ev.category.to_numpy(),
                "ForecastCategoryName": ev.category.map(SF_FORECAST_CATEGORY_NAMES).to_numpy(),
                "IsClosed": closed,
                "IsWon": won,
                "LeadSource": o.source.to_numpy(),
                "CampaignId": np.where(
                    o.campaign.to_numpy() >= 0,
                    make_keys("Campaign", np.maximum(o.campaign.to_numpy(), 0)),
                    -1,
                ),
                "FiscalYear": pd.array(
                    day_to_dt(close_day).astype("datetime64[Y]").astype(np.int64) + 1970,
                    dtype="Int64",
                ),
                "FiscalQuarter": pd.array(fiscal_quarter, dtype="Int64"),
                "Loss_Reason__c": np.where(closed & ~won, o.loss_reason.to_numpy(), None),
                "Contract_Term_Months__c": np.where(won, float(S.TERM_MONTHS), np.nan),
                "Contract_Start_Date__c": day_to_dt(term_start),
                "Contract_End_Date__c": day_to_dt(term_end),
                "Renewal_Of__c": np.where(
                    kind == RENEWAL,
                    make_keys("Opportunity", np.maximum(o.parent.to_numpy(), 0)),
                    -1,
                ),
                "Owner_Manager_At_Close__c": self._sf_user(manager_at_close),
                "Owner_Role_At_Close__c": np.where(
                    closed, "Account Executive " + team_names[np.maximum(team_at_close, 0)], None
                ),
                "Days_Open__c": np.nan,  # formula: computed per view
                "IsDeleted": ev.deleted.to_numpy().astype(bool),
                "CreatedById": self._sf_user(owner),
                "CreatedDate": ms_to_dt(created),
                "LastModifiedDate": ms_to_dt(ts),
                "SystemModstamp": ms_to_dt(ts),
                "Competitor__c": np.where(
                    ts >= self.drift_ms,
                    np.array(["Globex", "Initech", None, None])[ev.opp.to_numpy() % 4],
                    None,
                ),
                "_ts": ts,
                "_created_ms": o.created_ms.to_numpy(),
                "_closed_ms": closed_ms,
            }
        )
        self.versions["Opportunity"] = frame
        self._sf_opportunity_history(frame, ev)

    def _sf_opportunity_history(self, versions: pd.DataFrame, ev: pd.DataFrame) -> None:
        v = versions
        same_opp = np.r_[False, v.Id.to_numpy()[1:] == v.Id.to_numpy()[:-1]]

        def previous(column):
            values = v[column].shift(1)
            return values.where(same_opp)

        tracked = ["StageName", "Amount", "CloseDate", "Probability", "ForecastCategory"]
        changed = ~same_opp
        for column in tracked:
            prev = previous(column)
            changed |= ~((v[column] == prev) | (v[column].isna() & prev.isna())).to_numpy()
        hist = v[changed & ~v.IsDeleted.to_numpy()]
        prev_amount = previous("Amount")[changed & ~v.IsDeleted.to_numpy()]
        prev_close = previous("CloseDate")[changed & ~v.IsDeleted.to_numpy()]
        history = pd.DataFrame(
            {
                "Id": make_keys("OpportunityHistory", np.arange(len(hist)) + 1),
                "OpportunityId": hist.Id.to_numpy(),
                "StageName": hist.StageName.to_numpy(),
                "Amount": hist.Amount.to_numpy(),
                "ExpectedRevenue": hist.ExpectedRevenue.to_numpy(),
                "CloseDate": hist.CloseDate.to_numpy(),
                "Probability": hist.Probability.to_numpy(),
                "ForecastCategory": hist.ForecastCategory.to_numpy(),
                "PrevAmount": prev_amount.to_numpy(),
                "PrevCloseDate": prev_close.to_numpy(),
                "CreatedById": hist.OwnerId.to_numpy(),
                "IsDeleted": False,
                "CreatedDate": hist.SystemModstamp.to_numpy(),
                "SystemModstamp": hist.SystemModstamp.to_numpy(),
                "_ts": hist._ts.to_numpy(),
            }
        )
        # Stable ids: the deal's key and the change's position in its history.
        ordinal = history.groupby("OpportunityId").cumcount().to_numpy()
        local = (hist.Id.to_numpy() & ((1 << 56) - 1)) * 64 + np.minimum(ordinal, 63)
        history["Id"] = make_keys("OpportunityHistory", local)
        self.appends["OpportunityHistory"] = history.sort_values(["_ts", "Id"], ignore_index=True)

        field_rows = []
        field_map = {
            "StageName": ("StageName", "picklist"),
            "Amount": ("Amount", "currency"),
            "CloseDate": ("CloseDate", "date"),
            "OwnerId": ("Owner", "reference"),
            "ForecastCategoryName": ("ForecastCategoryName", "picklist"),
            "Probability": ("Probability", "percent"),
        }
        created = v[~same_opp]
        field_rows.append(
            pd.DataFrame(
                {
                    "OpportunityId": created.Id.to_numpy(),
                    "Field": "created",
                    "DataType": "Text",
                    "OldValue": None,
                    "NewValue": None,
                    "_ts": created._ts.to_numpy(),
                    "_order": 0,
                }
            )
        )
        for order, (column, (field, data_type)) in enumerate(field_map.items(), start=1):
            prev = previous(column)
            diff = same_opp & ~((v[column] == prev) | (v[column].isna() & prev.isna())).to_numpy()
            if not diff.any():
                continue
            old, new = prev[diff], v[column][diff]
            field_rows.append(
                pd.DataFrame(
                    {
                        "OpportunityId": v.Id.to_numpy()[diff],
                        "Field": field,
                        "DataType": data_type.capitalize(),
                        "OldValue": _history_value(old, data_type),
                        "NewValue": _history_value(new, data_type),
                        "_ts": v._ts.to_numpy()[diff],
                        "_order": order,
                    }
                )
            )
        fh = pd.concat(field_rows, ignore_index=True).sort_values(
            ["OpportunityId", "_ts", "_order"], ignore_index=True
        )
        ordinal = fh.groupby("OpportunityId").cumcount().to_numpy()
        fh["Id"] = make_keys(
            "OpportunityFieldHistory",
            (fh.OpportunityId.to_numpy() & ((1 << 56) - 1)) * 64 + np.minimum(ordinal, 63),
        )
        fh["CreatedById"] = self._sf_user(np.zeros(len(fh), dtype=np.int64))
        fh["IsDeleted"] = False
        fh["CreatedDate"] = ms_to_dt(fh._ts.to_numpy())
        self.appends["OpportunityFieldHistory"] = fh.drop(columns="_order").sort_values(
            ["_ts", "Id"], ignore_index=True
        )

    def _sf_activities(self) -> None:
        a = self.t.activities[self.t.activities.crm == SALESFORCE]
        tasks = a[a.kind != 2]
        subtype = np.array(["Call", "Email", "", "Task"])[tasks.kind.to_numpy()]
        versions = [tasks.assign(_ts=tasks.created_ms, _done=False)]
        done = tasks[tasks.completed_ms >= 0]
        versions.append(done.assign(_ts=done.completed_ms, _done=True))
        tv = pd.concat(versions, ignore_index=True).sort_values(
            ["activity", "_ts"], ignore_index=True
        )
        is_done = tv._done.to_numpy()
        kind = tv.kind.to_numpy()
        self.versions["Task"] = pd.DataFrame(
            {
                "Id": make_keys("Task", tv.activity.to_numpy()),
                "Subject": np.array(["Call", "Email", "Meeting", "Follow up"])[kind],
                "WhoId": np.where(
                    tv.contact.to_numpy() >= 0,
                    make_keys("Contact", np.maximum(tv.contact.to_numpy(), 0)),
                    -1,
                ),
                "WhatId": make_keys("Opportunity", tv.opp.to_numpy()),
                "AccountId": make_keys("Account", tv.account.to_numpy()),
                "OwnerId": self._sf_user(tv.owner.to_numpy()),
                "Status": np.where(is_done, "Completed", "Not Started"),
                "Type": np.array(["Call", "Email", "Other", "Other"])[kind],
                "TaskSubtype": np.array(["Call", "Email", "Task", "Task"])[kind],
                "ActivityDate": day_to_dt(day_of_ms(tv.due_ms.to_numpy())),
                "CompletedDateTime": ms_to_dt(np.where(is_done, tv.completed_ms.to_numpy(), -1)),
                "IsClosed": is_done,
                "CallDurationInSeconds": pd.array(
                    np.where(kind == 0, tv.duration_minutes.to_numpy() * 60, 0), dtype="Int64"
                ),
                "IsArchived": False,
                "IsDeleted": False,
                "CreatedById": self._sf_user(tv.owner.to_numpy()),
                "CreatedDate": ms_to_dt(tv.created_ms.to_numpy()),
                "LastModifiedDate": ms_to_dt(tv._ts.to_numpy()),
                "SystemModstamp": ms_to_dt(tv._ts.to_numpy()),
                "_ts": tv._ts.to_numpy(),
            }
        )
        del subtype
        meetings = a[a.kind == 2].sort_values("activity")
        start = meetings.due_ms.to_numpy()
        self.versions["Event"] = pd.DataFrame(
            {
                "Id": make_keys("Event", meetings.activity.to_numpy()),
                "Subject": "Meeting",
                "WhoId": np.where(
                    meetings.contact.to_numpy() >= 0,
                    make_keys("Contact", np.maximum(meetings.contact.to_numpy(), 0)),
                    -1,
                ),
                "WhatId": make_keys("Opportunity", meetings.opp.to_numpy()),
                "AccountId": make_keys("Account", meetings.account.to_numpy()),
                "OwnerId": self._sf_user(meetings.owner.to_numpy()),
                "Type": "Meeting",
                "ActivityDate": day_to_dt(day_of_ms(start)),
                "StartDateTime": ms_to_dt(start),
                "EndDateTime": ms_to_dt(start + meetings.duration_minutes.to_numpy() * 60_000),
                "DurationInMinutes": pd.array(meetings.duration_minutes.to_numpy(), dtype="Int64"),
                "IsArchived": False,
                "IsDeleted": False,
                "CreatedById": self._sf_user(meetings.owner.to_numpy()),
                "CreatedDate": ms_to_dt(meetings.created_ms.to_numpy()),
                "LastModifiedDate": ms_to_dt(meetings.created_ms.to_numpy()),
                "SystemModstamp": ms_to_dt(meetings.created_ms.to_numpy()),
                "_ts": meetings.created_ms.to_numpy(),
            }
        )

    def _sf_campaigns(self) -> None:
        c = self.t.campaigns
        rows = [c.assign(_ts=c.created_ms, status="Planned")]
        started = c.assign(
            _ts=np.maximum(
                c.start_day.to_numpy() * DAY_MS + 7 * HOUR_MS, c.created_ms.to_numpy() + 1
            ),
            status="In Progress",
        )
        rows.append(started)
        ended = c[c.end_day >= 0]
        rows.append(ended.assign(_ts=ended.end_day * DAY_MS + 20 * HOUR_MS, status="Completed"))
        v = pd.concat(rows, ignore_index=True).sort_values(["campaign", "_ts"], ignore_index=True)
        budget = np.round(5_000 + (v.campaign.to_numpy() * 7919 % 40) * 1_000.0, 2)
        completed = v.status.to_numpy() == "Completed"
        self.versions["Campaign"] = pd.DataFrame(
            {
                "Id": make_keys("Campaign", v.campaign.to_numpy()),
                "Name": v.name.to_numpy(),
                "Type": v.channel.map(
                    {
                        "Web": "Webinar",
                        "Paid Search": "Advertisement",
                        "Event": "Conference",
                        "Outbound": "Email",
                        "Partner": "Partners",
                    }
                ).to_numpy(),
                "Status": v.status.to_numpy(),
                "ParentId": np.int64(-1),
                "StartDate": day_to_dt(np.maximum(v.start_day.to_numpy(), self.t.start_day - 30)),
                "EndDate": day_to_dt(v.end_day.to_numpy()),
                "BudgetedCost": budget,
                "ActualCost": np.where(completed, np.round(budget * 0.93, 2), np.nan),
                "IsActive": v.status.to_numpy() == "In Progress",
                "Channel__c": v.channel.to_numpy(),
                "IsDeleted": False,
                "CreatedById": self._sf_user(np.zeros(len(v), dtype=np.int64)),
                "CreatedDate": ms_to_dt(v.created_ms.to_numpy()),
                "LastModifiedDate": ms_to_dt(v._ts.to_numpy()),
                "SystemModstamp": ms_to_dt(v._ts.to_numpy()),
                "_ts": v._ts.to_numpy(),
            }
        ).astype({"ParentId": np.int64})
        m = self.t.campaign_members
        first = m.assign(_ts=m.created_ms, responded=False)
        resp = m[(m.responded_ms >= 0) & (m.responded_ms > m.created_ms)]
        same = m[(m.responded_ms >= 0) & (m.responded_ms <= m.created_ms)]
        first.loc[first.member.isin(same.member), "responded"] = True
        mv = pd.concat(
            [first, resp.assign(_ts=resp.responded_ms, responded=True)], ignore_index=True
        )
        mv = mv.sort_values(["member", "_ts"], ignore_index=True)
        lead = mv.lead.to_numpy()
        contact = mv.contact.to_numpy()
        lead_key = np.where(lead >= 0, make_keys("Lead", np.maximum(lead, 0)), -1)
        contact_key = np.where(contact >= 0, make_keys("Contact", np.maximum(contact, 0)), -1)
        responded = mv.responded.to_numpy()
        self.versions["CampaignMember"] = pd.DataFrame(
            {
                "Id": make_keys("CampaignMember", mv.member.to_numpy()),
                "CampaignId": make_keys("Campaign", mv.campaign.to_numpy()),
                "LeadId": lead_key,
                "ContactId": contact_key,
                "LeadOrContactId": np.where(lead_key >= 0, lead_key, contact_key),
                "Status": np.where(responded, "Responded", "Sent"),
                "HasResponded": responded,
                "FirstRespondedDate": day_to_dt(
                    np.where(responded, day_of_ms(mv.responded_ms.to_numpy()), -1)
                ),
                "IsDeleted": False,
                "CreatedById": self._sf_user(np.zeros(len(mv), dtype=np.int64)),
                "CreatedDate": ms_to_dt(mv.created_ms.to_numpy()),
                "LastModifiedDate": ms_to_dt(mv._ts.to_numpy()),
                "SystemModstamp": ms_to_dt(mv._ts.to_numpy()),
                "_ts": mv._ts.to_numpy(),
            }
        )

    def _sf_forecasting(self) -> None:
        t = self.t
        first_year = date_of(t.start_day).year
        rows = []
        for year in range(first_year, date_of(t.horizon_day).year + 2):
            year_start = day_number(dt.date(year, 1, 1))
            created = (year_start - 60) * DAY_MS
            rows.append(
                (
                    "Year",
                    year_start,
                    day_number(dt.date(year, 12, 31)),
                    year,
                    f"FY {year}",
                    created,
                    year * 100,
                )
            )
            for q in range(4):
                qs = day_number(dt.date(year, 3 * q + 1, 1))
                qe = day_number(dt.date(year + (q == 3), (3 * q + 3) % 12 + 1, 1)) - 1
                rows.append(
                    ("Quarter", qs, qe, q + 1, f"Q{q + 1} FY {year}", created, year * 100 + 10 + q)
                )
            for m in range(12):
                ms_ = day_number(dt.date(year, m + 1, 1))
                me = day_number(dt.date(year + (m == 11), (m + 1) % 12 + 1, 1)) - 1
                rows.append(
                    (
                        "Month",
                        ms_,
                        me,
                        m + 1,
                        f"{dt.date(year, m + 1, 1):%b} FY {year}",
                        created,
                        year * 100 + 20 + m,
                    )
                )
        p = pd.DataFrame(
            rows, columns=["Type", "start", "end", "Number", "FullyQualifiedLabel", "_ts", "local"]
        )
        p = p[p._ts < t.horizon_end_ms]
        periods = pd.DataFrame(
            {
                "Id": make_keys("Period", p.local.to_numpy()),
                "Type": p.Type.to_numpy(),
                "StartDate": day_to_dt(p.start.to_numpy()),
                "EndDate": day_to_dt(p.end.to_numpy()),
                "FiscalYearSettingsId": make_keys("FiscalYearSettings", p.local.to_numpy() // 100),
                "Number": pd.array(p.Number.to_numpy(), dtype="Int64"),
                "FullyQualifiedLabel": p.FullyQualifiedLabel.to_numpy(),
                "IsForecastPeriod": p.Type.to_numpy() != "Year",
                "SystemModstamp": ms_to_dt(p._ts.to_numpy()),
                "_ts": p._ts.to_numpy(),
            }
        )
        self.versions["Period"] = periods.sort_values(["Id", "_ts"], ignore_index=True)
        q = t.quotas
        quarter_local = (
            year_of_days(q.quarter_start_day.to_numpy()) * 100
            + 10
            + (
                q.quarter_start_day.to_numpy()
                .astype("datetime64[D]")
                .astype("datetime64[M]")
                .astype(np.int64)
                % 12
            )
            // 3
        )
        self.versions["ForecastingQuota"] = (
            pd.DataFrame(
                {
                    "Id": make_keys("ForecastingQuota", q.quota.to_numpy()),
                    "QuotaOwnerId": self._sf_user(q.user.to_numpy()),
                    "StartDate": day_to_dt(q.quarter_start_day.to_numpy()),
                    "PeriodId": make_keys("Period", quarter_local),
                    "QuotaAmount": q.amount.to_numpy(),
                    "CurrencyIsoCode": "USD",
                    "ForecastingTypeId": make_keys(
                        "ForecastingType", np.ones(len(q), dtype=np.int64)
                    ),
                    "Territory2Id": np.int64(-1),
                    "IsQuantity": False,
                    "IsDeleted": False,
                    "CreatedById": self._sf_user(np.zeros(len(q), dtype=np.int64)),
                    "CreatedDate": ms_to_dt(q.created_ms.to_numpy()),
                    "LastModifiedDate": ms_to_dt(q.created_ms.to_numpy()),
                    "SystemModstamp": ms_to_dt(q.created_ms.to_numpy()),
                    "_ts": q.created_ms.to_numpy(),
                }
            )
            .astype({"Territory2Id": np.int64})
            .sort_values(["Id", "_ts"], ignore_index=True)
        )

    def _territory_key(self, region: str | None, segment: str | None) -> int:
        regions = ["NA", "EMEA", "APAC"]
        segments = ["SMB", "Mid-Market", "Enterprise"]
        if region is None:
            return int(make_keys("Territory2", 1))
        if segment is None:
            return int(make_keys("Territory2", 10 + regions.index(region)))
        return int(
            make_keys("Territory2", 100 + regions.index(region) * 10 + segments.index(segment))
        )

    def _sf_territories(self) -> None:
        t = self.t
        origin = (t.start_day - 900) * DAY_MS
        rows = [(self._territory_key(None, None), "Global", -1, None, None)]
        for region in ["NA", "EMEA", "APAC"]:
            rows.append(
                (
                    self._territory_key(region, None),
                    region,
                    self._territory_key(None, None),
                    region,
                    None,
                )
            )
            for segment in ["SMB", "Mid-Market", "Enterprise"]:
                rows.append(
                    (
                        self._territory_key(region, segment),
                        f"{region} {segment}",
                        self._territory_key(region, None),
                        region,
                        segment,
                    )
                )
        terr = pd.DataFrame(
            rows, columns=["Id", "Name", "ParentTerritory2Id", "Region__c", "Segment__c"]
        )
        terr["DeveloperName"] = terr.Name.str.replace(r"[^A-Za-z0-9]+", "_", regex=True)
        terr["Territory2ModelId"] = TERRITORY_MODEL_KEY
        terr["_ts"] = origin
        terr["LastModifiedDate"] = ms_to_dt(terr._ts.to_numpy())
        terr["SystemModstamp"] = terr.LastModifiedDate
        self.versions["Territory2"] = terr.astype({"Id": np.int64, "ParentTerritory2Id": np.int64})
        reps = t.users[(t.users.role == "rep") & (t.users.crm == SALESFORCE)]
        terr_key = np.array(
            [self._territory_key(r, s) for r, s in zip(reps.region, reps.segment, strict=False)],
            dtype=np.int64,
        )
        hired = reps.hire_day.to_numpy() * DAY_MS + 9 * HOUR_MS
        # Association deletes bypass the recycle bin: a departed rep's row simply disappears.
        self.versions["UserTerritory2Association"] = pd.DataFrame(
            {
                "Id": make_keys("UserTerritory2Association", reps.user.to_numpy()),
                "UserId": self._sf_user(reps.user.to_numpy()),
                "Territory2Id": terr_key,
                "IsActive": True,
                "RoleInTerritory2": "Account Executive",
                "LastModifiedDate": ms_to_dt(hired),
                "SystemModstamp": ms_to_dt(hired),
                "_ts": hired,
                "_removed_ms": np.where(
                    reps.term_day.to_numpy() >= 0,
                    reps.term_day.to_numpy() * DAY_MS + 18 * HOUR_MS,
                    np.iinfo(np.int64).max,
                ),
            }
        ).sort_values(["Id", "_ts"], ignore_index=True)
        acc = t.accounts[(t.accounts.crm == SALESFORCE) & t.accounts.territory_assigned]
        acc_terr = np.array(
            [self._territory_key(r, s) for r, s in zip(acc.region, acc.segment, strict=False)],
            dtype=np.int64,
        )
        self.versions["ObjectTerritory2Association"] = pd.DataFrame(
            {
                "Id": make_keys("ObjectTerritory2Association", acc.account.to_numpy()),
                "ObjectId": make_keys("Account", acc.account.to_numpy()),
                "Territory2Id": acc_terr,
                "AssociationCause": "Territory2Manual",
                "IsDeleted": False,
                "LastModifiedDate": ms_to_dt(acc.created_ms.to_numpy() + 60_000),
                "SystemModstamp": ms_to_dt(acc.created_ms.to_numpy() + 60_000),
                "_ts": acc.created_ms.to_numpy() + 60_000,
            }
        ).sort_values(["Id", "_ts"], ignore_index=True)

    def _sf_currencies(self) -> None:
        t = self.t
        origin = (t.start_day - 900) * DAY_MS
        ct = pd.DataFrame(
            {
                "Id": make_keys("CurrencyType", np.arange(len(CURRENCIES)) + 1),
                "IsoCode": CURRENCIES,
                "ConversionRate": [S.BASE_RATES[c] for c in CURRENCIES],
                "DecimalPlaces": pd.array(
                    [0 if c == "JPY" else 2 for c in CURRENCIES], dtype="Int64"
                ),
                "IsActive": True,
                "IsCorporate": [c == "USD" for c in CURRENCIES],
                "CreatedDate": ms_to_dt(np.full(len(CURRENCIES), origin)),
                "LastModifiedDate": ms_to_dt(np.full(len(CURRENCIES), origin)),
                "SystemModstamp": ms_to_dt(np.full(len(CURRENCIES), origin)),
                "_ts": origin,
            }
        )
        self.versions["CurrencyType"] = ct
        rates = t.rates.copy()
        month = (
            rates.start_day.to_numpy()
            .astype("datetime64[D]")
            .astype("datetime64[M]")
            .astype(np.int64)
        )
        rates["local"] = (
            rates.currency.map({c: i + 1 for i, c in enumerate(CURRENCIES)}).to_numpy() * 100_000
            + month
        )
        rates["next_start"] = rates.groupby("currency").start_day.shift(-1)
        rates["next_created"] = rates.groupby("currency").created_ms.shift(-1)
        first = rates.assign(_ts=rates.created_ms, NextStartDate=-1)
        closed = rates[rates.next_start.notna()]
        second = closed.assign(
            _ts=closed.next_created.astype(np.int64),
            NextStartDate=closed.next_start.astype(np.int64),
        )
        v = pd.concat([first, second], ignore_index=True).sort_values(
            ["local", "_ts"], ignore_index=True
        )
        self.versions["DatedConversionRate"] = pd.DataFrame(
            {
                "Id": make_keys("DatedConversionRate", v.local.to_numpy()),
                "IsoCode": v.currency.to_numpy(),
                "ConversionRate": v.rate.to_numpy(),
                "StartDate": day_to_dt(v.start_day.to_numpy()),
                "NextStartDate": day_to_dt(v.NextStartDate.to_numpy()),
                "CreatedDate": ms_to_dt(v.created_ms.to_numpy()),
                "LastModifiedDate": ms_to_dt(v._ts.to_numpy()),
                "SystemModstamp": ms_to_dt(v._ts.to_numpy()),
                "_ts": v._ts.to_numpy(),
            }
        )
        stages = pd.DataFrame(
            SF_STAGES,
            columns=[
                "ApiName",
                "SortOrder",
                "IsClosed",
                "IsWon",
                "DefaultProbability",
                "ForecastCategory",
            ],
        )
        stages.insert(0, "Id", make_keys("OpportunityStage", np.arange(len(stages)) + 1))
        stages["MasterLabel"] = stages.ApiName
        stages["IsActive"] = True
        stages["SortOrder"] = stages.SortOrder.astype("Int64")
        stages["DefaultProbability"] = stages.DefaultProbability.astype(float)
        stages["ForecastCategoryName"] = stages.ForecastCategory.map(SF_FORECAST_CATEGORY_NAMES)
        stages["CreatedDate"] = ms_to_dt(np.full(len(stages), origin))
        stages["LastModifiedDate"] = stages.CreatedDate
        stages["SystemModstamp"] = stages.CreatedDate
        stages["_ts"] = origin
        self.versions["OpportunityStage"] = stages

    # ---------------------------------------------------------------- HubSpot
    def _render_hubspot(self) -> None:
        t = self.t
        self.hs: dict[str, pd.DataFrame] = {}
        users = t.users[t.users.crm == HUBSPOT]
        teams = t.teams.set_index("team_id")
        team = users.team.to_numpy()
        archived_ms = np.where(
            users.term_day.to_numpy() >= 0, users.term_day.to_numpy() * DAY_MS + 18 * HOUR_MS, -1
        )
        self.hs_owners = pd.DataFrame(
            {
                "id": make_keys("User", users.user.to_numpy()),
                "email": users.email.to_numpy(),
                "firstName": users.first_name.to_numpy(),
                "lastName": users.last_name.to_numpy(),
                "userId": 9_000_000 + users.user.to_numpy(),
                "teamId": np.where(team >= 0, 700 + team, -1),
                "teamName": np.where(
                    team >= 0, teams.name.reindex(np.maximum(team, 0)).to_numpy(), None
                ),
                "createdAt": ms_to_dt(users.hire_day.to_numpy() * DAY_MS + 8 * HOUR_MS),
                "_created_ms": users.hire_day.to_numpy() * DAY_MS + 8 * HOUR_MS,
                "_archived_ms": archived_ms,
            }
        )
        self._hs_companies()
        self._hs_contacts()
        self._hs_deals()
        self._hs_engagements()

    def _hs_companies(self) -> None:
        acc = self.versions  # noqa: F841 (documentation: same shape as Salesforce accounts)
        t = self.t
        a = t.accounts[t.accounts.crm == HUBSPOT]
        won = t.opportunities[t.opportunities.won & (t.opportunities.crm == HUBSPOT)]
        first_win = won.groupby("account").close_ms.min()
        h = t.holders[["slot", "start_day", "user"]].copy()
        h["_ts"] = h.start_day * DAY_MS + 8 * HOUR_MS
        own = a[["account", "slot", "created_ms"]].merge(h, on="slot")
        own = own[own._ts > own.created_ms]
        versions = (
            pd.concat(
                [
                    a[["account", "created_ms"]].rename(columns={"created_ms": "_ts"}),
                    own[["account", "_ts"]],
                    first_win.rename("_ts").reset_index(),
                ],
                ignore_index=True,
            )
            .drop_duplicates()
            .sort_values(["account", "_ts"], ignore_index=True)
        )
        row = a.set_index("account").loc[versions.account.to_numpy()]
        ts = versions._ts.to_numpy()
        customer = ts >= first_win.reindex(versions.account.to_numpy()).fillna(np.inf).to_numpy()
        key = make_keys("Account", versions.account.to_numpy())
        self.hs["companies"] = pd.DataFrame(
            {
                "id": key,
                "createdAt": ms_to_dt(row.created_ms.to_numpy()),
                "updatedAt": ms_to_dt(ts),
                "archived": False,
                "archivedAt": ms_to_dt(np.full(len(ts), -1)),
                "name": row.name.to_numpy(),
                "domain": (row.name.str.split(" ").str[0].str.lower() + ".example").to_numpy(),
                "industry": row.industry.to_numpy(),
                "annualrevenue": row.annual_revenue.to_numpy(),
                "numberofemployees": row.employees.to_numpy().astype(float),
                "hubspot_owner_id": self._sf_user(self._slot_owner(row.slot.to_numpy(), ts)),
                "lifecyclestage": np.where(customer, "customer", "lead"),
                "country": row.country.to_numpy(),
                "createdate": ms_to_dt(row.created_ms.to_numpy()),
                "hs_lastmodifieddate": ms_to_dt(ts),
                "hs_object_id": _hs_number_id(key),
                "_ts": ts,
            }
        )

    def _hs_contacts(self) -> None:
        t = self.t
        c = t.contacts[(t.contacts.crm == HUBSPOT) & (t.contacts.lead < 0)]
        leads = t.leads[t.leads.crm == HUBSPOT]
        # HubSpot has no lead object: a lead is a contact moving through lifecycle stages.
        steps = [
            pd.DataFrame(
                {
                    "contact": c.contact.to_numpy(),
                    "_ts": c.created_ms.to_numpy(),
                    "stage": "customer" if False else "lead",
                }
            )
        ]
        lead_contact = (1 << 45) + leads.lead.to_numpy()
        for column, stage in (
            ("created_ms", "lead"),
            ("mql_ms", "marketingqualifiedlead"),
            ("sql_ms", "salesqualifiedlead"),
            ("converted_ms", "opportunity"),
        ):
            sel = leads[column].to_numpy() >= 0
            steps.append(
                pd.DataFrame(
                    {
                        "contact": lead_contact[sel],
                        "_ts": leads[column].to_numpy()[sel],
                        "stage": stage,
                    }
                )
            )
        v = pd.concat(steps, ignore_index=True).sort_values(["contact", "_ts"], ignore_index=True)
        base = pd.concat(
            [
                c[
                    [
                        "contact",
                        "account",
                        "created_ms",
                        "first_name",
                        "last_name",
                        "email",
                        "source",
                        "slot",
                    ]
                ],
                pd.DataFrame(
                    {
                        "contact": lead_contact,
                        "account": leads.converted_account.to_numpy(),
                        "created_ms": leads.created_ms.to_numpy(),
                        "first_name": leads.first_name.to_numpy(),
                        "last_name": leads.last_name.to_numpy(),
                        "email": leads.email.to_numpy(),
                        "source": leads.source.to_numpy(),
                        "slot": leads.slot.to_numpy(),
                    }
                ),
            ],
            ignore_index=True,
        ).set_index("contact")
        row = base.loc[v.contact.to_numpy()]
        ts = v._ts.to_numpy()
        lead_rows = leads.set_index(pd.Index(lead_contact)).reindex(v.contact.to_numpy())

        def stamp(column):
            value = lead_rows[column].fillna(-1).to_numpy().astype(np.int64)
            return ms_to_dt(np.where((value >= 0) & (value <= ts), value, -1))

        account = row.account.to_numpy()
        account = np.where(account >= 0, make_keys("Account", np.maximum(account, 0)), -1)
        key = make_keys("Contact", v.contact.to_numpy())
        self.hs["contacts"] = pd.DataFrame(
            {
                "id": key,
                "createdAt": ms_to_dt(row.created_ms.to_numpy()),
                "updatedAt": ms_to_dt(ts),
                "archived": False,
                "archivedAt": ms_to_dt(np.full(len(ts), -1)),
                "email": row.email.to_numpy(),
                "firstname": row.first_name.to_numpy(),
                "lastname": row.last_name.to_numpy(),
                "jobtitle": "Manager",
                "lifecyclestage": v.stage.to_numpy(),
                "hs_lead_status": np.where(v.stage.to_numpy() == "lead", "NEW", "IN_PROGRESS"),
                "hubspot_owner_id": self._sf_user(
                    self._slot_owner(row.slot.to_numpy(), row.created_ms.to_numpy())
                ),
                "associatedcompanyid": account,
                "hs_analytics_source": row.source.to_numpy(),
                "hs_lifecyclestage_lead_date": stamp("created_ms"),
                "hs_lifecyclestage_marketingqualifiedlead_date": stamp("mql_ms"),
                "hs_lifecyclestage_salesqualifiedlead_date": stamp("sql_ms"),
                "hs_lifecyclestage_opportunity_date": stamp("converted_ms"),
                "hs_lifecyclestage_customer_date": ms_to_dt(np.full(len(ts), -1)),
                "createdate": ms_to_dt(row.created_ms.to_numpy()),
                "lastmodifieddate": ms_to_dt(ts),
                "hs_object_id": _hs_number_id(key),
                "_ts": ts,
            }
        )
        dups = t.contacts[(t.contacts.crm == HUBSPOT) & (t.contacts.duplicate_of >= 0)]
        del dups  # duplicates are already part of ``c`` (they have no lead)

    def _hs_deals(self) -> None:
        ev, opps = self._opportunity_versions(HUBSPOT)
        ev = self._apply_deal_defects(ev, HUBSPOT)
        o = opps.loc[ev.opp.to_numpy()]
        ts = ev.ts.to_numpy()
        stage = ev.stage.to_numpy().astype(np.int64)
        closed = stage >= STAGE_WON
        won = stage == STAGE_WON
        currency = np.array(CURRENCIES)[o.currency_index.to_numpy()]
        currency = np.where(
            ev.defect.to_numpy() == "invalid_currency", S.INVALID_CURRENCY_CODE, currency
        )
        created = o.created_ms.to_numpy()
        created = np.where(
            ev.defect.to_numpy() == "invalid_future_created_date",
            created + FUTURE_YEARS * 365 * DAY_MS,
            created,
        )
        close_day = ev.close_day.to_numpy().astype(np.int64)
        rate = np.ones(len(ev))
        for code in CURRENCIES:
            sel = currency == code
            if sel.any():
                table = self.t.rates[self.t.rates.currency == code]
                pos = np.maximum(
                    np.searchsorted(table.start_day.to_numpy(), close_day[sel], side="right") - 1, 0
                )
                rate[sel] = table.rate.to_numpy()[pos]
        amount = ev.amount.to_numpy()
        key = make_keys("Opportunity", ev.opp.to_numpy())
        account_names = (
            self.t.accounts.set_index("account").name.reindex(o.account.to_numpy()).to_numpy()
        )
        kind = o.type.to_numpy()
        frame = pd.DataFrame(
            {
                "id": key,
                "createdAt": ms_to_dt(created),
                "updatedAt": ms_to_dt(ts),
                "archived": ev.deleted.to_numpy().astype(bool),
                "archivedAt": ms_to_dt(np.where(ev.deleted.to_numpy().astype(bool), ts, -1)),
                "dealname": pd.Series(account_names)
                .str.cat(pd.Series(HS_DEALTYPE[kind]), sep=" - ")
                .to_numpy(),
                "dealtype": HS_DEALTYPE[kind],
                "pipeline": "default",
                "dealstage": HS_STAGE_IDS[stage],
                "hubspot_owner_id": self._sf_user(ev.owner.to_numpy().astype(np.int64)),
                "amount": amount,
                "deal_currency_code": currency,
                "amount_in_home_currency": np.round(amount / rate, 2),
                "createdate": ms_to_dt(created),
                "closedate": ms_to_dt(np.where(close_day >= 0, close_day * DAY_MS, -1)),
                "hs_lastmodifieddate": ms_to_dt(ts),
                "hs_is_closed": closed,
                "hs_is_closed_won": won,
                "hs_deal_stage_probability": HS_STAGE_PROBABILITY[stage],
                "hs_forecast_category": ev.category.map(HS_CATEGORY).to_numpy(),
                "hs_analytics_source": o.source.to_numpy(),
                "closed_lost_reason": np.where(closed & ~won, o.loss_reason.to_numpy(), None),
                "hs_object_id": _hs_number_id(key),
                "contract_start_date": day_to_dt(np.where(won, o.term_start_day.to_numpy(), -1)),
                "contract_end_date": day_to_dt(np.where(won, o.term_end_day_new.to_numpy(), -1)),
                "renewal_of_deal_id": np.where(
                    kind == RENEWAL,
                    make_keys("Opportunity", np.maximum(o.parent.to_numpy(), 0)),
                    -1,
                ),
                "competitor": np.where(
                    ts >= self.drift_ms,
                    np.array(["Globex", None, "Initech", None])[ev.opp.to_numpy() % 4],
                    None,
                ),
                "_ts": ts,
                "_account": make_keys("Account", o.account.to_numpy()),
            }
        )
        # Stage entry timestamps (hs_date_entered_<stage>), as of each version.
        for index, (stage_id, *_rest) in enumerate(HS_STAGES, start=1):
            entries = pd.Series(np.where(stage == index, ts, np.nan))
            first_entry = (
                entries.groupby(ev.opp.to_numpy()).cummin().groupby(ev.opp.to_numpy()).ffill()
            )
            frame[f"hs_date_entered_{stage_id}"] = ms_to_dt(
                first_entry.fillna(-1).to_numpy().astype(np.int64)
            )
        self.hs["deals"] = frame
        history = []
        props = {
            "dealstage": frame.dealstage,
            "amount": frame.amount.map(_hs_number),
            "closedate": pd.Series(_iso_ms(frame.closedate.to_numpy())),
            "hubspot_owner_id": pd.Series(hs_ids(frame.hubspot_owner_id.to_numpy())),
            "hs_forecast_category": frame.hs_forecast_category,
            "deal_currency_code": frame.deal_currency_code,
        }
        same = np.r_[False, frame.id.to_numpy()[1:] == frame.id.to_numpy()[:-1]]
        for name, values in props.items():
            values = pd.Series(values.to_numpy(), dtype=object)
            prev = values.shift(1)
            changed = ~same | ~((values == prev) | (values.isna() & prev.isna())).to_numpy()
            history.append(
                pd.DataFrame(
                    {
                        "deal": frame.id.to_numpy()[changed],
                        "property": name,
                        "value": values.to_numpy()[changed],
                        "timestamp": ts[changed],
                        "source_type": np.where(same[changed], "CRM_UI", "API"),
                    }
                )
            )
        self.hs_deal_history = pd.concat(history, ignore_index=True).sort_values(
            ["deal", "property", "timestamp"], ignore_index=True
        )

    def _hs_engagements(self) -> None:
        a = self.t.activities[self.t.activities.crm == HUBSPOT]
        kinds = {"calls": [0], "emails": [1, 3], "meetings": [2]}
        for name, codes in kinds.items():
            e = a[a.kind.isin(codes)].sort_values("activity")
            done = e.completed_ms.to_numpy() >= 0
            versions = pd.concat(
                [
                    e.assign(_ts=e.created_ms, _done=False),
                    e[done].assign(_ts=e[done].completed_ms, _done=True),
                ],
                ignore_index=True,
            ).sort_values(["activity", "_ts"], ignore_index=True)
            is_done = versions._done.to_numpy()
            key = make_keys("Task" if name != "meetings" else "Event", versions.activity.to_numpy())
            frame = pd.DataFrame(
                {
                    "id": key,
                    "createdAt": ms_to_dt(versions.created_ms.to_numpy()),
                    "updatedAt": ms_to_dt(versions._ts.to_numpy()),
                    "archived": False,
                    "archivedAt": ms_to_dt(np.full(len(versions), -1)),
                    "hs_timestamp": ms_to_dt(versions.due_ms.to_numpy()),
                    "hubspot_owner_id": self._sf_user(versions.owner.to_numpy()),
                    "hs_createdate": ms_to_dt(versions.created_ms.to_numpy()),
                    "hs_lastmodifieddate": ms_to_dt(versions._ts.to_numpy()),
                    "hs_object_id": _hs_number_id(key),
                    "_ts": versions._ts.to_numpy(),
                    "_deal": make_keys("Opportunity", versions.opp.to_numpy()),
                    "_contact": np.where(
                        versions.contact.to_numpy() >= 0,
                        make_keys("Contact", np.maximum(versions.contact.to_numpy(), 0)),
                        -1,
                    ),
                    "_company": make_keys("Account", versions.account.to_numpy()),
                }
            )
            if name == "calls":
                frame["hs_call_title"] = "Call"
                frame["hs_call_status"] = np.where(is_done, "COMPLETED", "SCHEDULED")
                frame["hs_call_duration"] = versions.duration_minutes.to_numpy() * 60_000.0
            elif name == "emails":
                frame["hs_email_subject"] = "Follow up"
                frame["hs_email_status"] = np.where(is_done, "SENT", "SCHEDULED")
                frame["hs_email_direction"] = "EMAIL"
            else:
                frame["hs_meeting_title"] = "Meeting"
                frame["hs_meeting_outcome"] = np.where(is_done, "COMPLETED", "SCHEDULED")
                frame["hs_meeting_start_time"] = ms_to_dt(versions.due_ms.to_numpy())
                frame["hs_meeting_end_time"] = ms_to_dt(
                    versions.due_ms.to_numpy() + versions.duration_minutes.to_numpy() * 60_000
                )
            self.hs[name] = frame

    # ---------------------------------------------------------------- views
    def view(self, day: dt.date | None = None) -> OrgView:
        """The org as every API reports it at the end of ``day`` (default: the as-of date)."""
        day = day or self.t.as_of
        view_day = day_number(day)
        if view_day > self.t.horizon_day:
            raise ValueError(
                f"view day {day} is past the generated horizon {date_of(self.t.horizon_day)}"
            )
        end_ms = (view_day + 1) * DAY_MS
        t_ms = end_ms - 1
        sf = {}
        for name, frame in self.versions.items():
            cut = _latest(frame, "Id", "_ts", t_ms)
            if "_removed_ms" in cut:
                cut = cut[cut._removed_ms.to_numpy() > t_ms]
            sf[name] = cut
        for name, frame in self.appends.items():
            sf[name] = frame[frame._ts.to_numpy() <= t_ms]
        opp = sf["Opportunity"].copy()
        end = np.where(opp._closed_ms.to_numpy() > 0, opp._closed_ms.to_numpy(), end_ms)
        opp["Days_Open__c"] = np.floor((end - opp._created_ms.to_numpy()) / DAY_MS)
        sf["Opportunity"] = opp
        drift = view_day * DAY_MS >= self.drift_ms - DAY_MS
        sf_drift = {"Opportunity": ["Competitor__c"]} if drift else {}
        if not drift:
            sf["Opportunity"] = sf["Opportunity"].drop(columns="Competitor__c")
        sf = {name: _public(frame) for name, frame in sf.items()}

        hs = {}
        for name, frame in self.hs.items():
            cut = _latest(frame, "id", "_ts", t_ms)
            hs[name] = cut
        if not drift:
            hs["deals"] = hs["deals"].drop(columns="competitor")
        owners = self.hs_owners[self.hs_owners._created_ms <= t_ms].copy()
        owners["archived"] = (owners._archived_ms >= 0) & (owners._archived_ms <= t_ms)
        owners["updatedAt"] = ms_to_dt(
            np.where(owners.archived, owners._archived_ms, owners._created_ms)
        )
        hs["owners"] = owners.drop(columns=["_created_ms", "_archived_ms"])
        hist = self.hs_deal_history
        hs["deal_property_history"] = hist[hist.timestamp.to_numpy() <= t_ms].reset_index(drop=True)
        hs["associations"] = self._associations(hs)
        ev = self.t.email_events
        ev = ev[ev.created_ms.to_numpy() <= t_ms]
        contacts = self.t.contacts.set_index("contact").email
        hs["email_events"] = pd.DataFrame(
            {
                "id": ev.event.to_numpy(),
                "type": np.array(["SENT", "DELIVERED", "OPEN", "CLICK"])[ev.type_code.to_numpy()],
                "created": ev.created_ms.to_numpy(),
                "recipient": contacts.reindex(ev.contact.to_numpy()).to_numpy(),
                "emailCampaignId": ev.email_campaign_id.to_numpy(),
            }
        )
        hs = {
            name: _public(frame, keep=("_deal", "_contact", "_company", "_account"))
            for name, frame in hs.items()
        }
        labels = self._labels(sf, hs, view_day)
        now = dt.datetime.combine(date_of(view_day + 1), dt.time(2, 0), tzinfo=dt.UTC)
        return OrgView(
            day=date_of(view_day),
            now=now,
            salesforce=sf,
            salesforce_drift_fields=sf_drift,
            hubspot=hs,
            hubspot_drift_properties={"deals": ["competitor"]} if drift else {},
            google_ads=self._ads_view(view_day),
            labels=labels,
        )

    def _associations(self, hs: dict[str, pd.DataFrame]) -> pd.DataFrame:
        deals = hs["deals"]
        contacts = hs["contacts"]
        frames = [
            pd.DataFrame(
                {
                    "from_type": "deals",
                    "from_key": deals.id,
                    "to_type": "companies",
                    "to_key": deals._account,
                    "type_id": 341,
                }
            ),
            pd.DataFrame(
                {
                    "from_type": "contacts",
                    "from_key": contacts.id,
                    "to_type": "companies",
                    "to_key": contacts.associatedcompanyid,
                    "type_id": 279,
                }
            ),
        ]
        # Deal contacts: contacts of the deal's company that existed when the deal was created.
        pair = deals[["id", "_account", "createdAt"]].merge(
            contacts[["id", "associatedcompanyid", "createdAt"]].rename(
                columns={"id": "contact", "createdAt": "contact_created"}
            ),
            left_on="_account",
            right_on="associatedcompanyid",
        )
        pair = pair[pair.contact_created <= pair.createdAt]
        frames.append(
            pd.DataFrame(
                {
                    "from_type": "deals",
                    "from_key": pair.id,
                    "to_type": "contacts",
                    "to_key": pair.contact,
                    "type_id": 3,
                }
            )
        )
        for name, type_id in (("calls", 206), ("emails", 210), ("meetings", 212)):
            e = hs[name]
            frames.append(
                pd.DataFrame(
                    {
                        "from_type": name,
                        "from_key": e.id,
                        "to_type": "deals",
                        "to_key": e._deal,
                        "type_id": type_id,
                    }
                )
            )
        assoc = pd.concat(frames, ignore_index=True)
        assoc = assoc[assoc.to_key.to_numpy() >= 0]
        # Every association is readable from both ends.
        reverse_type = {341: 342, 279: 280, 3: 4, 206: 205, 210: 209, 212: 211}
        reverse = assoc.rename(
            columns={
                "from_type": "to_type",
                "to_type": "from_type",
                "from_key": "to_key",
                "to_key": "from_key",
            }
        )
        reverse["type_id"] = reverse.type_id.map(reverse_type)
        both = pd.concat([assoc, reverse[assoc.columns]], ignore_index=True)
        return both.sort_values(["from_type", "from_key", "to_type", "to_key"], ignore_index=True)

    def _ads_view(self, view_day: int) -> pd.DataFrame:
        ads = self.t.ads_daily
        ads = ads[ads.day.to_numpy() <= view_day].copy()
        lag = view_day - ads.day.to_numpy()
        share = np.ones(len(ads))
        for days, value in RESTATEMENT.items():
            share[lag == days] = value
        ads["clicks"] = np.floor(ads.clicks.to_numpy() * share).astype(np.int64)
        ads["impressions"] = np.floor(ads.impressions.to_numpy() * share).astype(np.int64)
        ads["cost_micros"] = (
            np.floor(ads.cost_micros.to_numpy() * share / 10_000) * 10_000
        ).astype(np.int64)
        ads["conversions"] = np.round(ads.conversions.to_numpy() * share, 2)
        ads = ads[(ads.clicks > 0) | (ads.impressions > 0) | (ads.cost_micros > 0)]
        return pd.DataFrame(
            {
                "customer_id": "1234567890",
                "campaign_id": (111_000_000 + ads.ads_campaign.to_numpy()).astype(str),
                "campaign_name": ads.campaign_name.to_numpy(),
                "campaign_status": "ENABLED",
                "date": day_to_dt(ads.day.to_numpy()),
                "cost_micros": ads.cost_micros.to_numpy(),
                "clicks": ads.clicks.to_numpy(),
                "impressions": ads.impressions.to_numpy(),
                "conversions": ads.conversions.to_numpy(),
            }
        ).reset_index(drop=True)

    def _labels(self, sf, hs, view_day: int) -> pd.DataFrame:
        """Defect labels of the records visible in this view, with the expected handling."""
        d = self.t.defects
        frames = []
        opp = sf["Opportunity"]
        deals = hs["deals"]
        for crm, system, frame, key_col in (
            (SALESFORCE, "salesforce", opp, "Id"),
            (HUBSPOT, "hubspot", deals, "id"),
        ):
            labelled = d[(d.entity == "opportunity") & (d.crm == crm)]
            keys = make_keys("Opportunity", labelled.key.to_numpy())
            visible = np.isin(keys, frame[key_col].to_numpy())
            frames.append(
                pd.DataFrame(
                    {
                        "source_system": system,
                        "object": "Opportunity" if crm == SALESFORCE else "deals",
                        "key": keys[visible],
                        "defect": labelled.defect.to_numpy()[visible],
                    }
                )
            )
            dups = d[(d.entity == "contact") & (d.crm == crm)]
            ckeys = make_keys("Contact", dups.key.to_numpy())
            contacts = sf["Contact"] if crm == SALESFORCE else hs["contacts"]
            visible = np.isin(ckeys, contacts["Id" if crm == SALESFORCE else "id"].to_numpy())
            frames.append(
                pd.DataFrame(
                    {
                        "source_system": system,
                        "object": "Contact" if crm == SALESFORCE else "contacts",
                        "key": ckeys[visible],
                        "defect": "duplicate_contact",
                    }
                )
            )
        # Awkward-but-real states that depend on the day: stale open deals, deactivated owners.
        open_sf = opp[~opp.IsClosed & ~opp.IsDeleted]
        view_dt = np.datetime64(date_of(view_day), "ms")
        stale = open_sf[open_sf.CloseDate.to_numpy() < view_dt]
        frames.append(
            pd.DataFrame(
                {
                    "source_system": "salesforce",
                    "object": "Opportunity",
                    "key": stale.Id.to_numpy(),
                    "defect": "awkward_stale_open",
                }
            )
        )
        users = sf["User"]
        inactive = users.Id[~users.IsActive].to_numpy()
        orphan = open_sf[np.isin(open_sf.OwnerId.to_numpy(), inactive)]
        frames.append(
            pd.DataFrame(
                {
                    "source_system": "salesforce",
                    "object": "Opportunity",
                    "key": orphan.Id.to_numpy(),
                    "defect": "awkward_inactive_owner",
                }
            )
        )
        open_hs = deals[~deals.hs_is_closed & ~deals.archived]
        stale = open_hs[open_hs.closedate.to_numpy() < view_dt]
        frames.append(
            pd.DataFrame(
                {
                    "source_system": "hubspot",
                    "object": "deals",
                    "key": stale.id.to_numpy(),
                    "defect": "awkward_stale_open",
                }
            )
        )
        archived = hs["owners"].id[hs["owners"].archived].to_numpy()
        orphan = open_hs[np.isin(open_hs.hubspot_owner_id.to_numpy(), archived)]
        frames.append(
            pd.DataFrame(
                {
                    "source_system": "hubspot",
                    "object": "deals",
                    "key": orphan.id.to_numpy(),
                    "defect": "awkward_inactive_owner",
                }
            )
        )
        labels = pd.concat(frames, ignore_index=True)
        labels["handling"] = labels.defect.map(_handling)
        return labels


def _handling(defect: str) -> str:
    if defect.startswith("invalid_"):
        return "quarantine"
    if defect.startswith("duplicate_"):
        return "deduplicate"
    return "keep_and_flag"


def _public(frame: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    drop = [c for c in frame.columns if c.startswith("_") and c not in keep]
    frame = frame.drop(columns=drop).reset_index(drop=True)
    # Text columns get one dtype whatever their values (an all-null column would stay object).
    for column in frame.columns:
        if frame[column].dtype == object:
            values = frame[column].dropna()
            if values.map(type).eq(str).all():
                frame[column] = frame[column].astype("str")
    return frame


def ms_to_ms(series: pd.Series, users: pd.Series) -> np.ndarray:
    """Hire instant (ms) of each user in ``users`` from a hire-day series indexed by user."""
    return series.reindex(users.to_numpy()).to_numpy() * DAY_MS + 8 * HOUR_MS


def year_of_days(days) -> np.ndarray:
    return (
        np.asarray(days, dtype=np.int64)
        .astype("datetime64[D]")
        .astype("datetime64[Y]")
        .astype(np.int64)
        + 1970
    )


def _history_value(values: pd.Series, data_type: str):
    if data_type == "date":
        return pd.Series(values).dt.strftime("%Y-%m-%d").to_numpy()
    if data_type == "reference":
        from emulator.ids import sf_ids

        return sf_ids(values.fillna(-1).to_numpy().astype(np.int64))
    if data_type in ("currency", "percent"):
        return values.to_numpy().astype(float)
    return values.to_numpy()


def _hs_number_id(keys) -> np.ndarray:
    return (local_part(keys) + HUBSPOT_ID_OFFSET).astype(float)


def _hs_number(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _iso_ms(values: np.ndarray) -> np.ndarray:
    out = np.datetime_as_string(values.astype("datetime64[ms]"), unit="ms") + "Z"
    return np.where(np.isnat(values), None, out)


__all__ = ["ADS_CAMPAIGNS", "EXPANSION", "NEW_BUSINESS", "SF_OBJECTS", "Org", "OrgView"]
