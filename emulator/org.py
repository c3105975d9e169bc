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

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
from emulator.generator import text_array as _text
from emulator.ids import HUBSPOT_ID_OFFSET, hs_ids, local_part, make_keys, sf_ids
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
CATEGORIES = list(SF_FORECAST_CATEGORY_NAMES)
CATEGORY_NAMES = [SF_FORECAST_CATEGORY_NAMES[c] for c in CATEGORIES]
HS_CATEGORY_IDS = [HS_CATEGORY[c] for c in CATEGORIES]
DEFECT = {name: code for code, name in enumerate(S.OPPORTUNITY_DEFECTS)}
# A duplicate contact merged in Salesforce: deleted (queryAll only), MasterRecordId set, its
# activities and campaign members re-parented to the survivor; downstream drops it as deleted.
MERGED = "merged_duplicate_contact"
MERGED_HANDLING = "drop_deleted"


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


def _latest_rows(key: np.ndarray, ts: np.ndarray, t_ms: int) -> np.ndarray:
    """Positions of the last version of each record at or before ``t_ms`` (sorted by key, ts)."""
    visible = ts <= t_ms
    same_next = np.r_[key[1:] == key[:-1], False]
    visible_next = np.r_[visible[1:], False]
    return np.flatnonzero(visible & ~(same_next & visible_next))


def _latest(frame: pd.DataFrame, key: str, ts: str, t_ms: int) -> pd.DataFrame:
    """Last version of each record at or before ``t_ms`` (frame sorted by key, then ts)."""
    return frame.iloc[_latest_rows(frame[key].to_numpy(), frame[ts].to_numpy(), t_ms)]


def _take(values: pd.Series, positions) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """Rows of a column by position (-1 = null), keeping Arrow-backed strings in Arrow."""
    positions = np.asarray(positions, dtype=np.int64)
    if isinstance(values.dtype, pd.StringDtype):
        return values.array.take(positions, allow_fill=True)
    return values.to_numpy()[positions]


def _digits(values) -> pd.api.extensions.ExtensionArray:
    """Decimal text of int64 values, as ``str`` (same text as ``str(int)``)."""
    return pd.array(
        pa.array(np.asarray(values, dtype=np.int64)).cast(pa.large_string()), dtype="str"
    )


def _group_fill(group_start: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """For each row, the position of the last ``valid`` row of its group so far (-1 if none).

    Rows are sorted by group; ``group_start`` is the position of the first row of each row's group.
    The vectorised form of ``groupby(...).ffill()``.
    """
    last = (
        np.maximum.accumulate(np.where(valid, np.arange(len(valid)), -1)) if len(valid) else valid
    )
    return np.where(last >= group_start, last, -1)


def _group_starts(keys: np.ndarray) -> np.ndarray:
    """Position of the first row of each row's group (rows sorted by key)."""
    n = len(keys)
    if not n:
        return np.zeros(0, dtype=np.int64)
    new = np.r_[True, keys[1:] != keys[:-1]]
    return np.maximum.accumulate(np.where(new, np.arange(n), 0))


class _Rows:
    """Some rows of a frame; each column is gathered when first used (as a Series)."""

    def __init__(self, frame: pd.DataFrame, rows: np.ndarray):
        self._frame = frame
        self._rows = np.asarray(rows)
        self._columns: dict[str, pd.Series] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self._columns:
            values = _take(self._frame[name], self._rows)
            self._columns[name] = pd.Series(values, copy=False)
        return self._columns[name]

    def __getattr__(self, name: str) -> pd.Series:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]


class _Versions:
    """An object's versions kept compact: the record key and instant of each version (sorted by
    key, then instant), rendered into the object's frame only for the rows a view shows."""

    def __init__(self, key, ts, render: Callable[[np.ndarray], pd.DataFrame], removed_ms=None):
        self.key = np.asarray(key)
        self.ts = np.asarray(ts)
        self.render = render
        self.removed_ms = removed_ms

    def cut(self, t_ms: int) -> pd.DataFrame:
        rows = _latest_rows(self.key, self.ts, t_ms)
        if self.removed_ms is not None:
            rows = rows[self.removed_ms[rows] > t_ms]
        return self.render(rows)


class _Merges:
    """Timeline rows (activities, campaign members) logged on a Salesforce contact that is later
    merged into another: the merge re-parents them to the surviving contact, as Salesforce does."""

    def __init__(self, contact: np.ndarray, contacts: pd.DataFrame):
        losers = contacts[contacts.merged_ms.to_numpy() >= 0]
        index = pd.Index(losers.contact.to_numpy()).get_indexer(contact)
        self.rows = np.flatnonzero(index >= 0)  # ascending
        self.merged_ms = losers.merged_ms.to_numpy()[index[self.rows]]
        self.master = losers.duplicate_of.to_numpy()[index[self.rows]]

    def at(self, records: np.ndarray, t_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Per record: the merge instant and the surviving contact if merged by ``t_ms``, else
        -1 and -1."""
        none = np.full(len(records), -1, dtype=np.int64)
        if not len(self.rows):
            return none, none
        pos = np.minimum(np.searchsorted(self.rows, records), len(self.rows) - 1)
        merged_ms = self.merged_ms[pos]
        merged = (self.rows[pos] == records) & (merged_ms <= t_ms)
        return np.where(merged, merged_ms, none), np.where(merged, self.master[pos], none)


class _TwoStep:
    """Records (``rows`` of a timeline frame, in key order) with a first version at ``first_ms``
    and, where ``second_ms >= 0``, a later second one (a task created, then completed).
    ``render(rows, second)`` builds the frame of the visible records from the timeline rows; with
    ``merges``, ``render(rows, second, merged_ms, master)`` also gets each record's contact merge
    (-1 where none by the cut)."""

    def __init__(
        self,
        rows: np.ndarray,
        first_ms: np.ndarray,
        second_ms: np.ndarray | None,
        render: Callable[..., pd.DataFrame],
        merges: _Merges | None = None,
    ):
        self.rows = rows
        self.first_ms = first_ms
        self.second_ms = second_ms
        self.render = render
        self.merges = merges

    def cut(self, t_ms: int) -> pd.DataFrame:
        rows = self.rows[self.first_ms[self.rows] <= t_ms]
        if self.second_ms is None:
            second = np.zeros(len(rows), dtype=bool)
        else:
            second = self.second_ms[rows]
            second = (second >= 0) & (second <= t_ms)
        if self.merges is None:
            return self.render(rows, second)
        return self.render(rows, second, *self.merges.at(rows, t_ms))


def _rows_by_key(mask: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions of the ``mask`` rows, in key order."""
    rows = np.flatnonzero(mask)
    k = keys[rows]
    if len(k) and (k[1:] < k[:-1]).any():
        rows = rows[np.argsort(k, kind="stable")]
    return rows.astype(np.int32)


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


@dataclass
class _Deals:
    """Every version of the deals of one CRM, as arrays in event order (deal, then time)."""

    opps: pd.DataFrame  # the timeline's deals (of both CRMs)
    defect: np.ndarray  # per deal: index into S.OPPORTUNITY_DEFECTS, -1 = none
    position: np.ndarray  # per version: row of the deal in ``opps`` (ascending, as the keys)
    ts: np.ndarray
    stage: np.ndarray
    amount: np.ndarray
    close_day: np.ndarray
    owner: np.ndarray
    category: np.ndarray  # index into CATEGORIES, -1 = null
    probability: np.ndarray
    deleted: np.ndarray
    close_row: np.ndarray  # per deal: the version of its close event, -1 = none
    filled_close_row: np.ndarray | None  # per version, when a deal closes more than once

    def key(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The deal's timeline key of each version (of ``rows``)."""
        position = self.position if rows is None else self.position[rows]
        return self.opps.opp.to_numpy()[position]

    def close_version(self, rows: np.ndarray) -> np.ndarray:
        """The version of the deal's latest close event at or before each version, -1 = open."""
        if self.filled_close_row is not None:
            return self.filled_close_row[rows]
        close = self.close_row[self.position[rows]]
        return np.where((close >= 0) & (close <= rows), close, -1)


class Org:
    """A generated org: every version of every object, cut per view day.

    Small objects are rendered once into version frames; large ones are kept as compact version
    arrays (and timeline rows) and rendered for the versions a view shows; append-only histories
    are final frames sorted by time, shared with the views. ``org.t`` is the timeline without its
    opportunity events, which live on as the deal versions; the org reads the timeline's frames
    when it renders a view, so they are read-only once the org is built.
    """

    def __init__(self, timeline: Timeline):
        self.t = timeline
        self.drift_ms = (day_number(timeline.as_of) + DRIFT_AFTER_DAYS + 1) * DAY_MS
        self._user_keys()
        # Every version of each object (sorted by Id, then time): small objects as frames, large
        # ones compact (rendered per view for the versions it shows); append-only objects as
        # final frames sorted by time.
        self.versions: dict[str, pd.DataFrame | _Versions | _TwoStep] = {}
        self.appends: dict[str, pd.DataFrame] = {}
        self._recipient_rows: np.ndarray | None = None
        self._render_salesforce()
        self._render_hubspot()
        # The events live on as the deal versions: the org keeps the timeline without them.
        events = timeline.opportunity_events
        self.t = dataclasses.replace(timeline, opportunity_events=events.iloc[:0].copy())

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
        # The pods of a cell share the cell's roles (those of its first team).
        self.team_role = self.t.teams.role_team.to_numpy()

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
        teams = t.teams[(t.teams.crm == SALESFORCE) & (t.teams.team_id == t.teams.role_team)]
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
                self._role_key("manager", self.team_role[np.maximum(u.team.to_numpy(), 0)]),
            ],
            self._role_key("rep", self.team_role[np.maximum(team, 0)]),
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
        acc = acc.set_index("account")
        account = versions.account.to_numpy()
        version_ts = versions._ts.to_numpy()
        first_win_ms = first_win.reindex(account).fillna(np.inf).to_numpy()

        def render(rows: np.ndarray) -> pd.DataFrame:
            a = acc.loc[account[rows]]
            ts = version_ts[rows]
            customer = ts >= first_win_ms[rows]
            owner = self._slot_owner(a.slot.to_numpy(), ts)
            region = a.region.to_numpy()
            currency = np.where(region == "EMEA", 1, np.where(region == "APAC", 2, 0))
            return pd.DataFrame(
                {
                    "Id": make_keys("Account", account[rows]),
                    "Name": a.name.array,
                    "Type": _text(["Prospect", "Customer - Direct"], customer.astype(np.int8)),
                    "Industry": a.industry.array,
                    "AnnualRevenue": a.annual_revenue.to_numpy(),
                    "NumberOfEmployees": pd.array(a.employees.to_numpy(), dtype="Int64"),
                    "OwnerId": self._sf_user(owner),
                    "ParentId": np.full(len(rows), -1, dtype=np.int64),
                    "Website": ("www." + _first_word(a.name).str.lower() + ".example").array,
                    "BillingStreet": (
                        pd.Series(_digits(a.index.to_numpy())) + " Market Street"
                    ).array,
                    "BillingCity": _text(["Springfield"], np.zeros(len(rows), np.int8)),
                    "BillingState": _text([None], np.zeros(len(rows), np.int8)),
                    "BillingPostalCode": _text(["10001"], np.zeros(len(rows), np.int8)),
                    "BillingCountry": a.country.array,
                    "Segment__c": a.segment.array,
                    "Region__c": a.region.array,
                    "CurrencyIsoCode": _text(["USD", "EUR", "JPY"], currency),
                    "IsDeleted": np.zeros(len(rows), dtype=bool),
                    "CreatedById": self._sf_user(np.zeros(len(a), dtype=np.int64)),
                    "CreatedDate": ms_to_dt(a.created_ms.to_numpy()),
                    "LastModifiedDate": ms_to_dt(ts),
                    "SystemModstamp": ms_to_dt(ts),
                    "_ts": ts,
                },
                copy=False,
            )

        self.versions["Account"] = _Versions(account, version_ts, render)

    def _slot_owner(self, slots, ms) -> np.ndarray:
        h = self.t.holders
        combo = h.slot.to_numpy() * (1 << 24) + h.start_day.to_numpy()
        pos = np.maximum(
            np.searchsorted(combo, slots * (1 << 24) + day_of_ms(ms), side="right") - 1, 0
        )
        return h.user.to_numpy()[pos]

    def _sf_contacts(self) -> None:
        c = self.t.contacts
        rows = _rows_by_key(c.crm.to_numpy() == SALESFORCE, c.contact.to_numpy())
        # A merge is a second version of both records: the duplicate is deleted with its
        # MasterRecordId set, the surviving original is modified.
        merged_ms = c.merged_ms.to_numpy()
        loser = merged_ms >= 0
        merge_ms = merged_ms.copy()
        winner = pd.Index(c.contact.to_numpy()).get_indexer(c.duplicate_of.to_numpy()[loser])
        merge_ms[winner] = merged_ms[loser]

        def render(records: np.ndarray, merged: np.ndarray) -> pd.DataFrame:
            r = _Rows(c, records)
            owner = self._slot_owner(r.slot.to_numpy(), r.created_ms.to_numpy())
            created = ms_to_dt(r.created_ms.to_numpy())
            deleted = merged & loser[records]
            ts = np.where(merged, merge_ms[records], r.created_ms.to_numpy())
            master = np.where(
                deleted, make_keys("Contact", np.maximum(r.duplicate_of.to_numpy(), 0)), -1
            )
            return pd.DataFrame(
                {
                    "Id": make_keys("Contact", r.contact.to_numpy()),
                    "AccountId": make_keys("Account", r.account.to_numpy()),
                    "FirstName": r.first_name.array,
                    "LastName": r.last_name.array,
                    "Name": (r.first_name + " " + r.last_name).array,
                    "Email": r.email.array,
                    "Title": _text(["Director"], np.zeros(len(r), np.int8)),
                    "LeadSource": r.source.array,
                    "OwnerId": self._sf_user(owner),
                    "MasterRecordId": master.astype(np.int64),
                    "IsDeleted": deleted,
                    "CreatedById": self._sf_user(owner),
                    "CreatedDate": created,
                    "LastModifiedDate": ms_to_dt(ts),
                    "SystemModstamp": ms_to_dt(ts),
                    "_ts": ts,
                },
                copy=False,
            )

        self.versions["Contact"] = _TwoStep(rows, c.created_ms.to_numpy(), merge_ms, render)

    def _sf_leads(self) -> None:
        leads = self.t.leads[self.t.leads.crm == SALESFORCE]
        statuses = ["Open - Not Contacted", "Working - Contacted"]
        statuses += ["Closed - Converted", "Closed - Not Converted"]
        steps = []
        for column, status in (
            ("created_ms", 0),
            ("first_response_ms", 1),
            ("mql_ms", -1),
            ("sql_ms", -1),
            ("converted_ms", 2),
            ("closed_ms", 3),
        ):
            sel = leads[column].to_numpy() >= 0
            steps.append(
                pd.DataFrame(
                    {
                        "lead": leads.lead.to_numpy()[sel],
                        "_ts": leads[column].to_numpy()[sel],
                        "status": np.int8(status),
                    },
                    copy=False,
                )
            )
        versions = pd.concat(steps, ignore_index=True).sort_values(
            ["lead", "_ts"], kind="stable", ignore_index=True
        )
        lead = versions.lead.to_numpy()
        version_ts = versions._ts.to_numpy()
        status = versions.status.to_numpy()
        # The status in force at each version (MQL and SQL steps keep the previous one).
        fill = _group_fill(_group_starts(lead), status >= 0)
        status = np.where(fill >= 0, status[np.maximum(fill, 0)], -1).astype(np.int8)
        del versions, steps, leads
        all_leads = self.t.leads
        position = pd.Index(all_leads.lead.to_numpy()).get_indexer(lead).astype(np.int32)

        def render(rows: np.ndarray) -> pd.DataFrame:
            ld = _Rows(all_leads, position[rows])
            ts = version_ts[rows]

            def stamped(column):
                value = ld[column].to_numpy()
                return np.where((value >= 0) & (value <= ts), value, -1)

            converted = stamped("converted_ms") >= 0
            owner = self._slot_owner(ld.slot.to_numpy(), ld.created_ms.to_numpy())
            return pd.DataFrame(
                {
                    "Id": make_keys("Lead", lead[rows]),
                    "FirstName": ld.first_name.array,
                    "LastName": ld.last_name.array,
                    "Name": (ld.first_name + " " + ld.last_name).array,
                    "Company": ("Prospect " + pd.Series(_digits(ld.lead.to_numpy()))).array,
                    "Email": ld.email.array,
                    "Status": _text(statuses, status[rows]),
                    "LeadSource": ld.source.array,
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
                    "IsDeleted": np.zeros(len(rows), dtype=bool),
                    "CreatedById": self._sf_user(owner),
                    "CreatedDate": ms_to_dt(ld.created_ms.to_numpy()),
                    "LastModifiedDate": ms_to_dt(ts),
                    "SystemModstamp": ms_to_dt(ts),
                    "_ts": ts,
                },
                copy=False,
            )

        self.versions["Lead"] = _Versions(lead, version_ts, render)

    def _deal_versions(self, crm: int) -> _Deals:
        """Deal state after every event (forward-filled, defects applied), for one CRM.

        Same values as forward-filling the events frame per deal, kept as compact arrays: the
        version frames are rendered per view for the versions it shows.
        """
        t = self.t
        opps = t.opportunities
        keys = pd.Index(opps.opp.to_numpy())
        ev = t.opportunity_events
        ev_opp = ev.opp.to_numpy()
        row = keys.get_indexer(ev_opp)
        keep = (row >= 0) & (opps.crm.to_numpy()[row] == crm)
        ts = ev.ts.to_numpy()[keep]
        position = row[keep].astype(np.int32)
        del row
        starts = _group_starts(position)

        def filled(values, null):
            values = values[keep]
            valid = ~np.isnan(values) if null is None else values != null
            pos = _group_fill(starts, valid)
            missing = np.nan if null is None else null
            return np.where(pos >= 0, values[np.maximum(pos, 0)], missing)

        codes, uniques = pd.factorize(ev.category)
        lookup = np.array([CATEGORIES.index(u) for u in uniques] + [-1], dtype=np.int8)
        category = filled(lookup[codes], -1).astype(np.int8)
        del codes
        amount = filled(ev.amount.to_numpy(), None)
        probability = filled(ev.probability.to_numpy(), None)
        # Defects: the same damage on every version of the deal.
        d = t.defects[(t.defects.entity == "opportunity") & (t.defects.crm == crm)]
        defect = np.full(len(opps), -1, dtype=np.int8)
        at = keys.get_indexer(d.key.to_numpy())
        defect[at[at >= 0]] = [DEFECT[k] for k in d.defect.to_numpy()[at >= 0]]
        kind = defect[position]
        amount = np.where(kind == DEFECT["invalid_negative_amount"], -np.abs(amount), amount)
        amount[kind == DEFECT["awkward_null_amount"]] = np.nan
        probability[kind == DEFECT["invalid_probability"]] = 150.0
        closed = ev.closed_event.to_numpy()[keep]
        deleted_at = _group_fill(starts, ev.deleted.to_numpy()[keep])
        # The close event of each deal (deals close once; otherwise keep the filled instants).
        close_row = np.full(len(opps), -1, dtype=np.int32)
        filled_close_row = None
        if np.bincount(position[closed], minlength=len(opps)).max(initial=0) <= 1:
            close_row[position[closed]] = np.flatnonzero(closed)
        else:
            filled_close_row = _group_fill(starts, closed)
        return _Deals(
            opps=opps,
            defect=defect,
            position=position,
            ts=ts,
            stage=filled(ev.stage.to_numpy(), -1).astype(np.int8),
            amount=amount,
            close_day=filled(ev.close_day.to_numpy(), -1).astype(np.int32),
            owner=filled(ev.owner.to_numpy(), -1).astype(np.int32),
            category=category,
            probability=probability,
            deleted=deleted_at >= 0,
            close_row=close_row,
            filled_close_row=filled_close_row,
        )

    def _sf_opportunities(self) -> None:
        deals = self._deal_versions(SALESFORCE)
        o = deals.opps
        account_position = (
            pd.Index(self.t.accounts.account.to_numpy())
            .get_indexer(o.account.to_numpy())
            .astype(np.int32)
        )
        role_names = ["Account Executive " + name for name in self.t.teams.name.tolist()]

        def render(rows: np.ndarray) -> pd.DataFrame:
            p = deals.position[rows]
            opp = deals.key(rows)
            ts = deals.ts[rows]
            stage = deals.stage[rows].astype(np.int64)
            closed = stage >= STAGE_WON
            won = stage == STAGE_WON
            owner = deals.owner[rows].astype(np.int64)
            close_day = deals.close_day[rows].astype(np.int64)
            close_version = deals.close_version(rows)
            closed_ms = np.where(close_version >= 0, deals.ts[np.maximum(close_version, 0)], -1)
            category = deals.category[rows]
            defect = deals.defect[p]
            # The rep who owned the deal when it closed (a later clean-up may hand it on) and
            # the team that rep was in that day (re-orgs move reps between managers).
            owner_at_close = np.where(
                close_version >= 0, deals.owner[np.maximum(close_version, 0)], owner
            ).astype(np.int64)
            team_at_close = self._team_at(owner_at_close, np.where(closed_ms > 0, closed_ms, ts))
            manager_at_close = np.where(closed, self.team_manager[np.maximum(team_at_close, 0)], -1)
            currency = np.where(
                defect == DEFECT["invalid_currency"],
                len(CURRENCIES),
                o.currency_index.to_numpy()[p],
            )
            created_ms = o.created_ms.to_numpy()[p]
            created = np.where(
                defect == DEFECT["invalid_future_created_date"],
                created_ms + FUTURE_YEARS * 365 * DAY_MS,
                created_ms,
            )
            amount = deals.amount[rows]
            probability = deals.probability[rows]
            close_q = quarter_bounds(close_day)[0]
            fiscal_quarter = (
                close_q.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
            ) // 3 + 1
            kind = o.type.to_numpy()[p]
            term_start = np.where(won, o.term_start_day.to_numpy()[p], -1)
            term_end = np.where(won, o.term_end_day_new.to_numpy()[p], -1)
            account_names = _take(self.t.accounts.name, account_position[p])
            campaign = o.campaign.to_numpy()[p]
            parent = o.parent.to_numpy()[p]
            types = _text(OPPORTUNITY_TYPES, kind)
            loss_reason = pd.Series(_take(o.loss_reason, p)).where(closed & ~won)
            competitor = np.array([0, 1, -1, -1])[opp % 4]
            return pd.DataFrame(
                {
                    "Id": make_keys("Opportunity", opp),
                    "Name": (pd.Series(account_names) + " - " + pd.Series(types)).array,
                    "AccountId": make_keys("Account", o.account.to_numpy()[p]),
                    "OwnerId": self._sf_user(owner),
                    "Type": types,
                    "StageName": _text(STAGE_NAMES, stage),
                    "Amount": amount,
                    "CurrencyIsoCode": _text([*CURRENCIES, S.INVALID_CURRENCY_CODE], currency),
                    "Probability": probability,
                    "ExpectedRevenue": amount * probability / 100.0,
                    "CloseDate": day_to_dt(close_day),
                    "ForecastCategory": _text(CATEGORIES, category),
                    "ForecastCategoryName": _text(CATEGORY_NAMES, category),
                    "IsClosed": closed,
                    "IsWon": won,
                    "LeadSource": _take(o.source, p),
                    "CampaignId": np.where(
                        campaign >= 0, make_keys("Campaign", np.maximum(campaign, 0)), -1
                    ),
                    "FiscalYear": pd.array(
                        day_to_dt(close_day).astype("datetime64[Y]").astype(np.int64) + 1970,
                        dtype="Int64",
                    ),
                    "FiscalQuarter": pd.array(fiscal_quarter, dtype="Int64"),
                    "Loss_Reason__c": loss_reason.array,
                    "Contract_Term_Months__c": np.where(won, float(S.TERM_MONTHS), np.nan),
                    "Contract_Start_Date__c": day_to_dt(term_start),
                    "Contract_End_Date__c": day_to_dt(term_end),
                    "Renewal_Of__c": np.where(
                        kind == RENEWAL, make_keys("Opportunity", np.maximum(parent, 0)), -1
                    ),
                    "Owner_Manager_At_Close__c": self._sf_user(manager_at_close),
                    "Owner_Role_At_Close__c": _text(
                        role_names, np.where(closed, np.maximum(team_at_close, 0), -1)
                    ),
                    "Days_Open__c": np.full(len(rows), np.nan),  # formula: computed per view
                    "IsDeleted": deals.deleted[rows],
                    "CreatedById": self._sf_user(owner),
                    "CreatedDate": ms_to_dt(created),
                    "LastModifiedDate": ms_to_dt(ts),
                    "SystemModstamp": ms_to_dt(ts),
                    "Competitor__c": _text(
                        ["Globex", "Initech"], np.where(ts >= self.drift_ms, competitor, -1)
                    ),
                    "_ts": ts,
                    "_created_ms": created_ms,
                    "_closed_ms": closed_ms,
                },
                copy=False,
            )

        self.versions["Opportunity"] = _Versions(deals.position, deals.ts, render)
        self._sf_opportunity_history(deals)

    def _sf_opportunity_history(self, deals: _Deals) -> None:
        """OpportunityHistory and OpportunityFieldHistory rows of every version, final frames."""
        key = make_keys("Opportunity", deals.key())
        n = len(key)
        same_opp = np.r_[False, key[1:] == key[:-1]] if n else np.zeros(0, bool)

        def previous(values):
            return np.r_[values[:1], values[:-1]]

        def changed_float(values):
            prev = previous(values)
            return ~((values == prev) | (np.isnan(values) & np.isnan(prev)))

        stage, amount, close_day = deals.stage, deals.amount, deals.close_day
        probability, category = deals.probability, deals.category
        owner_key = self._sf_user(deals.owner)
        differs = {
            "StageName": stage != previous(stage),
            "Amount": changed_float(amount),
            "CloseDate": close_day != previous(close_day),
            "OwnerId": owner_key != previous(owner_key),
            "ForecastCategoryName": category != previous(category),
            "Probability": changed_float(probability),
        }
        changed = ~same_opp | differs["StageName"] | differs["Amount"] | differs["CloseDate"]
        changed |= differs["Probability"] | differs["ForecastCategoryName"]
        rows = np.flatnonzero(changed & ~deals.deleted)
        hist_key = key[rows]
        hist_ts = deals.ts[rows]
        prev_rows = np.where(same_opp[rows], rows - 1, -1)
        # Stable ids: the deal's key and the change's position in its history.
        ordinal = np.arange(len(rows)) - _group_starts(hist_key)
        local = (hist_key & ((1 << 56) - 1)) * 64 + np.minimum(ordinal, 63)
        hist_id = make_keys("OpportunityHistory", local)
        # By time, then id: ids already ascend in version order, so a stable sort by time.
        order = np.argsort(hist_ts, kind="stable")
        rows, prev_rows = rows[order], prev_rows[order]
        modstamp = ms_to_dt(hist_ts[order])
        hist_amount = amount[rows]
        self.appends["OpportunityHistory"] = pd.DataFrame(
            {
                "Id": hist_id[order],
                "OpportunityId": hist_key[order],
                "StageName": _text(STAGE_NAMES, stage[rows]),
                "Amount": hist_amount,
                "ExpectedRevenue": hist_amount * probability[rows] / 100.0,
                "CloseDate": day_to_dt(close_day[rows]),
                "Probability": probability[rows],
                "ForecastCategory": _text(CATEGORIES, category[rows]),
                "PrevAmount": np.where(prev_rows >= 0, amount[np.maximum(prev_rows, 0)], np.nan),
                "PrevCloseDate": day_to_dt(
                    np.where(prev_rows >= 0, close_day[np.maximum(prev_rows, 0)], -1)
                ),
                "CreatedById": owner_key[rows],
                "IsDeleted": np.zeros(len(rows), dtype=bool),
                "CreatedDate": modstamp,
                "SystemModstamp": modstamp,
            },
            copy=False,
        )
        del rows, prev_rows, order, hist_key, hist_ts, hist_id, local, ordinal, changed

        # Field history: a "created" row per deal, then one row per tracked field change.
        fields = ["StageName", "Amount", "CloseDate", "OwnerId", "ForecastCategoryName"]
        parts = [(np.flatnonzero(~same_opp), 0, None)]
        for order_no, column in enumerate([*fields, "Probability"], start=1):
            rows = np.flatnonzero(same_opp & differs[column])
            if len(rows):
                parts.append((rows, order_no, column))
        del differs
        size = sum(len(part[0]) for part in parts)
        rows = np.concatenate([part[0] for part in parts])
        field = np.concatenate([np.full(len(part[0]), part[1], np.int8) for part in parts])
        fh_key = key[rows]
        fh_ts = deals.ts[rows]
        # By deal, time and field (ties in part order): versions are already in (deal, time)
        # order, so one stable sort by the version's (deal, time) rank and the field.
        rank = np.cumsum(np.r_[False, (key[1:] != key[:-1]) | (deals.ts[1:] != deals.ts[:-1])])
        order = np.argsort(rank[rows] * 8 + field, kind="stable")
        del rank, rows
        ordinal = np.arange(size) - _group_starts(fh_key[order])
        fh_id = np.empty(size, dtype=np.int64)
        fh_id[order] = make_keys(
            "OpportunityFieldHistory",
            (fh_key[order] & ((1 << 56) - 1)) * 64 + np.minimum(ordinal, 63),
        )
        del ordinal
        # Then by time and id: ids ascend in that order already, so a stable sort by time.
        order = order[np.argsort(fh_ts[order], kind="stable")]
        # Where each part's rows land in the final order.
        final = np.empty(size, dtype=np.int64)
        final[order] = np.arange(size)
        old_value = np.empty(size, dtype=object)
        new_value = np.empty(size, dtype=object)
        # Numbers among the values (amounts, probabilities) keep the value columns ``object``.
        numeric_old = np.zeros(size, dtype=bool)
        numeric_new = np.zeros(size, dtype=bool)
        start = 0
        for rows, _order_no, column in parts:
            at = final[start : start + len(rows)]
            start += len(rows)
            if column is None:
                continue
            prev = rows - 1
            if column == "StageName":
                old, new = _shared(STAGE_NAMES, stage[prev]), _shared(STAGE_NAMES, stage[rows])
            elif column == "CloseDate":
                old, new = _day_text(close_day[prev]), _day_text(close_day[rows])
            elif column == "OwnerId":
                old = _id_text(owner_key[prev])
                new = _id_text(owner_key[rows])
            elif column == "ForecastCategoryName":
                old = _shared(CATEGORY_NAMES, category[prev])
                new = _shared(CATEGORY_NAMES, category[rows])
            else:
                numbers = amount if column == "Amount" else probability
                old, new = _floats(numbers[prev]), _floats(numbers[rows])
                numeric_old[at] = ~np.isnan(numbers[prev])
                numeric_new[at] = ~np.isnan(numbers[rows])
            old_value[at] = old
            new_value[at] = new
        del parts, final
        field = field[order]
        fh_ts = fh_ts[order]
        labels = ["created", "StageName", "Amount", "CloseDate", "Owner"]
        labels += ["ForecastCategoryName", "Probability"]
        data_types = ["Text", "Picklist", "Currency", "Date", "Reference", "Picklist", "Percent"]
        frame = pd.DataFrame(
            {
                "OpportunityId": fh_key[order],
                "Field": _text(labels, field),
                "DataType": _text(data_types, field),
                "OldValue": old_value,
                "NewValue": new_value,
                "Id": fh_id[order],
                "CreatedById": self._sf_user(np.zeros(size, dtype=np.int64)),
                "IsDeleted": np.zeros(size, dtype=bool),
                "CreatedDate": ms_to_dt(fh_ts),
            },
            copy=False,
        )
        self.appends["OpportunityFieldHistory"] = frame
        # Where the first non-text value sits: a view cut before it serves the values as text.
        self._fh_first_number = {
            "OldValue": _first(numeric_old, size),
            "NewValue": _first(numeric_new, size),
        }

    def _sf_activities(self) -> None:
        a = self.t.activities
        kind_all = a.kind.to_numpy()
        salesforce = a.crm.to_numpy() == SALESFORCE
        keys = a.activity.to_numpy()
        merges = _Merges(a.contact.to_numpy(), self.t.contacts)

        def render_tasks(
            records: np.ndarray, is_done: np.ndarray, merged_ms: np.ndarray, master: np.ndarray
        ) -> pd.DataFrame:
            tv = _Rows(a, records)
            kind = tv.kind.to_numpy()
            contact = np.where(master >= 0, master, tv.contact.to_numpy())
            owner = self._sf_user(tv.owner.to_numpy())
            created = tv.created_ms.to_numpy()
            completed = tv.completed_ms.to_numpy()
            ts = np.maximum(np.where(is_done, completed, created), merged_ms)
            modstamp = ms_to_dt(ts)
            return pd.DataFrame(
                {
                    "Id": make_keys("Task", tv.activity.to_numpy()),
                    "Subject": _text(["Call", "Email", "Meeting", "Follow up"], kind),
                    "WhoId": np.where(
                        contact >= 0, make_keys("Contact", np.maximum(contact, 0)), -1
                    ),
                    "WhatId": make_keys("Opportunity", tv.opp.to_numpy()),
                    "AccountId": make_keys("Account", tv.account.to_numpy()),
                    "OwnerId": owner,
                    "Status": _text(["Not Started", "Completed"], is_done.astype(np.int8)),
                    "Type": _text(["Call", "Email", "Other", "Other"], kind),
                    "TaskSubtype": _text(["Call", "Email", "Task", "Task"], kind),
                    "ActivityDate": day_to_dt(day_of_ms(tv.due_ms.to_numpy())),
                    "CompletedDateTime": ms_to_dt(np.where(is_done, completed, -1)),
                    "IsClosed": is_done,
                    "CallDurationInSeconds": pd.array(
                        np.where(kind == 0, tv.duration_minutes.to_numpy() * 60, 0),
                        dtype="Int64",
                    ),
                    "IsArchived": np.zeros(len(tv), dtype=bool),
                    "IsDeleted": np.zeros(len(tv), dtype=bool),
                    "CreatedById": owner,
                    "CreatedDate": ms_to_dt(created),
                    "LastModifiedDate": modstamp,
                    "SystemModstamp": modstamp,
                    "_ts": ts,
                },
                copy=False,
            )

        self.versions["Task"] = _TwoStep(
            _rows_by_key(salesforce & (kind_all != 2), keys),
            a.created_ms.to_numpy(),
            a.completed_ms.to_numpy(),
            render_tasks,
            merges,
        )

        def render_events(
            records: np.ndarray, _second: np.ndarray, merged_ms: np.ndarray, master: np.ndarray
        ) -> pd.DataFrame:
            m = _Rows(a, records)
            start = m.due_ms.to_numpy()
            contact = np.where(master >= 0, master, m.contact.to_numpy())
            owner = self._sf_user(m.owner.to_numpy())
            created = ms_to_dt(m.created_ms.to_numpy())
            ts = np.maximum(m.created_ms.to_numpy(), merged_ms)
            return pd.DataFrame(
                {
                    "Id": make_keys("Event", m.activity.to_numpy()),
                    "Subject": _text(["Meeting"], np.zeros(len(m), np.int8)),
                    "WhoId": np.where(
                        contact >= 0, make_keys("Contact", np.maximum(contact, 0)), -1
                    ),
                    "WhatId": make_keys("Opportunity", m.opp.to_numpy()),
                    "AccountId": make_keys("Account", m.account.to_numpy()),
                    "OwnerId": owner,
                    "Type": _text(["Meeting"], np.zeros(len(m), np.int8)),
                    "ActivityDate": day_to_dt(day_of_ms(start)),
                    "StartDateTime": ms_to_dt(start),
                    "EndDateTime": ms_to_dt(start + m.duration_minutes.to_numpy() * 60_000),
                    "DurationInMinutes": pd.array(m.duration_minutes.to_numpy(), dtype="Int64"),
                    "IsArchived": np.zeros(len(m), dtype=bool),
                    "IsDeleted": np.zeros(len(m), dtype=bool),
                    "CreatedById": owner,
                    "CreatedDate": created,
                    "LastModifiedDate": ms_to_dt(ts),
                    "SystemModstamp": ms_to_dt(ts),
                    "_ts": ts,
                },
                copy=False,
            )

        self.versions["Event"] = _TwoStep(
            _rows_by_key(salesforce & (kind_all == 2), keys),
            a.created_ms.to_numpy(),
            None,
            render_events,
            merges,
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
        rows = _rows_by_key(np.ones(len(m), dtype=bool), m.member.to_numpy())
        created_ms = m.created_ms.to_numpy()
        responded_ms = m.responded_ms.to_numpy()
        # A response after joining is a second version; one at the join is part of the first.
        responded_first = (responded_ms >= 0) & (responded_ms <= created_ms)
        second_ms = np.where((responded_ms >= 0) & (responded_ms > created_ms), responded_ms, -1)

        def render_members(
            records: np.ndarray, second: np.ndarray, merged_ms: np.ndarray, master: np.ndarray
        ) -> pd.DataFrame:
            mv = _Rows(m, records)
            lead = mv.lead.to_numpy()
            contact = np.where(master >= 0, master, mv.contact.to_numpy())
            lead_key = np.where(lead >= 0, make_keys("Lead", np.maximum(lead, 0)), -1)
            contact_key = np.where(contact >= 0, make_keys("Contact", np.maximum(contact, 0)), -1)
            responded = second | responded_first[records]
            ts = np.maximum(np.where(second, responded_ms[records], created_ms[records]), merged_ms)
            return pd.DataFrame(
                {
                    "Id": make_keys("CampaignMember", mv.member.to_numpy()),
                    "CampaignId": make_keys("Campaign", mv.campaign.to_numpy()),
                    "LeadId": lead_key,
                    "ContactId": contact_key,
                    "LeadOrContactId": np.where(lead_key >= 0, lead_key, contact_key),
                    "Status": _text(["Sent", "Responded"], responded.astype(np.int8)),
                    "HasResponded": responded,
                    "FirstRespondedDate": day_to_dt(
                        np.where(responded, day_of_ms(mv.responded_ms.to_numpy()), -1)
                    ),
                    "IsDeleted": np.zeros(len(mv), dtype=bool),
                    "CreatedById": self._sf_user(np.zeros(len(mv), dtype=np.int64)),
                    "CreatedDate": ms_to_dt(mv.created_ms.to_numpy()),
                    "LastModifiedDate": ms_to_dt(ts),
                    "SystemModstamp": ms_to_dt(ts),
                    "_ts": ts,
                },
                copy=False,
            )

        self.versions["CampaignMember"] = _TwoStep(
            rows,
            created_ms,
            second_ms,
            render_members,
            _Merges(m.contact.to_numpy(), self.t.contacts),
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

    def _territory_keys(self, regions: np.ndarray, segments: np.ndarray) -> np.ndarray:
        """``_territory_key`` of each (region, segment) pair."""
        out = np.zeros(len(regions), dtype=np.int64)
        done = np.zeros(len(regions), dtype=bool)
        for region in ["NA", "EMEA", "APAC"]:
            for segment in ["SMB", "Mid-Market", "Enterprise"]:
                sel = (regions == region) & (segments == segment)
                out[sel] = self._territory_key(region, segment)
                done |= sel
        for i in np.flatnonzero(~done):
            out[i] = self._territory_key(regions[i], segments[i])
        return out

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
            self._territory_keys(reps.region.to_numpy(), reps.segment.to_numpy()),
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
            self._territory_keys(acc.region.to_numpy(), acc.segment.to_numpy()),
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
        self.hs: dict[str, _Versions | _TwoStep] = {}
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
        by_account = a.set_index("account")
        account = versions.account.to_numpy()
        version_ts = versions._ts.to_numpy()
        first_win_ms = first_win.reindex(account).fillna(np.inf).to_numpy()

        def render(rows: np.ndarray) -> pd.DataFrame:
            row = by_account.loc[account[rows]]
            ts = version_ts[rows]
            customer = ts >= first_win_ms[rows]
            key = make_keys("Account", account[rows])
            created = ms_to_dt(row.created_ms.to_numpy())
            return pd.DataFrame(
                {
                    "id": key,
                    "createdAt": created,
                    "updatedAt": ms_to_dt(ts),
                    "archived": np.zeros(len(rows), dtype=bool),
                    "archivedAt": ms_to_dt(np.full(len(ts), -1)),
                    "name": row.name.array,
                    "domain": (_first_word(row.name).str.lower() + ".example").array,
                    "industry": row.industry.array,
                    "annualrevenue": row.annual_revenue.to_numpy(),
                    "numberofemployees": row.employees.to_numpy().astype(float),
                    "hubspot_owner_id": self._sf_user(self._slot_owner(row.slot.to_numpy(), ts)),
                    "lifecyclestage": _text(["lead", "customer"], customer.astype(np.int8)),
                    "country": row.country.array,
                    "createdate": created,
                    "hs_lastmodifieddate": ms_to_dt(ts),
                    "hs_object_id": _hs_number_id(key),
                    "_ts": ts,
                },
                copy=False,
            )

        self.hs["companies"] = _Versions(account, version_ts, render)

    def _hs_contacts(self) -> None:
        t = self.t
        c = t.contacts[(t.contacts.crm == HUBSPOT) & (t.contacts.lead < 0)]
        leads = t.leads[t.leads.crm == HUBSPOT]
        # HubSpot has no lead object: a lead is a contact moving through lifecycle stages.
        stages = ["lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity"]
        steps = [
            pd.DataFrame(
                {"contact": c.contact.to_numpy(), "_ts": c.created_ms.to_numpy(), "stage": 0},
                copy=False,
            )
        ]
        lead_contact = (1 << 45) + leads.lead.to_numpy()
        for stage, column in enumerate(("created_ms", "mql_ms", "sql_ms", "converted_ms")):
            sel = leads[column].to_numpy() >= 0
            steps.append(
                pd.DataFrame(
                    {
                        "contact": lead_contact[sel],
                        "_ts": leads[column].to_numpy()[sel],
                        "stage": stage,
                    },
                    copy=False,
                )
            )
        v = pd.concat(steps, ignore_index=True).sort_values(["contact", "_ts"], ignore_index=True)
        columns = ["account", "created_ms", "first_name", "last_name", "email", "source", "slot"]
        base = pd.concat(
            [
                c[["contact", *columns]],
                pd.DataFrame(
                    {
                        "contact": lead_contact,
                        "account": leads.converted_account.to_numpy(),
                        "created_ms": leads.created_ms.to_numpy(),
                        "first_name": leads.first_name.array,
                        "last_name": leads.last_name.array,
                        "email": leads.email.array,
                        "source": leads.source.array,
                        "slot": leads.slot.to_numpy(),
                    },
                    copy=False,
                ),
            ],
            ignore_index=True,
        ).set_index("contact")
        contact = v.contact.to_numpy()
        version_ts = v._ts.to_numpy()
        stage = v.stage.to_numpy().astype(np.int8)
        del v, steps
        base_position = base.index.get_indexer(contact).astype(np.int32)
        lead_position = pd.Index(lead_contact).get_indexer(contact).astype(np.int32)
        stamps = {
            "hs_lifecyclestage_lead_date": leads.created_ms.to_numpy(),
            "hs_lifecyclestage_marketingqualifiedlead_date": leads.mql_ms.to_numpy(),
            "hs_lifecyclestage_salesqualifiedlead_date": leads.sql_ms.to_numpy(),
            "hs_lifecyclestage_opportunity_date": leads.converted_ms.to_numpy(),
        }

        def render(rows: np.ndarray) -> pd.DataFrame:
            row = base.iloc[base_position[rows]]
            ts = version_ts[rows]
            lead_row = lead_position[rows]
            step = stage[rows]
            account = row.account.to_numpy()
            # A lead gets its company when it converts, not before (nor can it know it earlier).
            account = np.where((lead_row >= 0) & (step < 3), -1, account)
            account = np.where(account >= 0, make_keys("Account", np.maximum(account, 0)), -1)
            key = make_keys("Contact", contact[rows])
            created = ms_to_dt(row.created_ms.to_numpy())
            modified = ms_to_dt(ts)
            frame = {
                "id": key,
                "createdAt": created,
                "updatedAt": modified,
                "archived": np.zeros(len(rows), dtype=bool),
                "archivedAt": ms_to_dt(np.full(len(ts), -1)),
                "email": row.email.array,
                "firstname": row.first_name.array,
                "lastname": row.last_name.array,
                "jobtitle": _text(["Manager"], np.zeros(len(rows), np.int8)),
                "lifecyclestage": _text(stages, step),
                "hs_lead_status": _text(["NEW", "IN_PROGRESS"], (step != 0).astype(np.int8)),
                "hubspot_owner_id": self._sf_user(
                    self._slot_owner(row.slot.to_numpy(), row.created_ms.to_numpy())
                ),
                "associatedcompanyid": account,
                "hs_analytics_source": row.source.array,
            }
            for name, values in stamps.items():
                value = np.where(lead_row >= 0, values[np.maximum(lead_row, 0)], -1)
                frame[name] = ms_to_dt(np.where((value >= 0) & (value <= ts), value, -1))
            frame["hs_lifecyclestage_customer_date"] = ms_to_dt(np.full(len(ts), -1))
            frame["createdate"] = created
            frame["lastmodifieddate"] = modified
            frame["hs_object_id"] = _hs_number_id(key)
            frame["_ts"] = ts
            return pd.DataFrame(frame, copy=False)

        self.hs["contacts"] = _Versions(contact, version_ts, render)

    def _hs_deals(self) -> None:
        deals = self._deal_versions(HUBSPOT)
        o = deals.opps
        account_position = (
            pd.Index(self.t.accounts.account.to_numpy())
            .get_indexer(o.account.to_numpy())
            .astype(np.int32)
        )
        stage = deals.stage.astype(np.int64)
        currency = np.where(
            deals.defect[deals.position] == DEFECT["invalid_currency"],
            len(CURRENCIES),
            o.currency_index.to_numpy()[deals.position],
        ).astype(np.int8)
        close_day = deals.close_day.astype(np.int64)
        # Stage entry timestamps (hs_date_entered_<stage>): a version shows the first entry of
        # each stage among the deal's versions up to it (the running minimum of entry times).
        first_entry = []
        for index in range(1, len(HS_STAGES) + 1):
            hit = np.flatnonzero(stage == index)
            first = np.full(len(o), -1, dtype=np.int32)
            if len(hit):
                where = deals.position[hit]
                new = np.r_[True, where[1:] != where[:-1]]
                first[where[new]] = hit[new]
            first_entry.append(first)
        hubspot_owner = self._sf_user(deals.owner.astype(np.int64))

        def render(rows: np.ndarray) -> pd.DataFrame:
            p = deals.position[rows]
            ts = deals.ts[rows]
            st = stage[rows]
            closed = st >= STAGE_WON
            won = st == STAGE_WON
            cur = currency[rows]
            created = o.created_ms.to_numpy()[p]
            created = np.where(
                deals.defect[p] == DEFECT["invalid_future_created_date"],
                created + FUTURE_YEARS * 365 * DAY_MS,
                created,
            )
            cd = close_day[rows]
            # The dated rate of the close date, as known when the deal was saved: a close date
            # still ahead takes the latest rate of that day (later rates do not exist yet).
            rate_day = np.minimum(cd, day_of_ms(ts))
            rate = np.ones(len(rows))
            for code_index, code in enumerate(CURRENCIES):
                sel = cur == code_index
                if sel.any():
                    table = self.t.rates[self.t.rates.currency == code]
                    pos = np.maximum(
                        np.searchsorted(table.start_day.to_numpy(), rate_day[sel], side="right")
                        - 1,
                        0,
                    )
                    rate[sel] = table.rate.to_numpy()[pos]
            amount = deals.amount[rows]
            opp = deals.key(rows)
            key = make_keys("Opportunity", opp)
            account_names = _take(self.t.accounts.name, account_position[p])
            kind = o.type.to_numpy()[p]
            dealtype = _text(HS_DEALTYPE, kind)
            deleted = deals.deleted[rows]
            parent = o.parent.to_numpy()[p]
            competitor = np.array([0, -1, 1, -1])[opp % 4]
            frame = {
                "id": key,
                "createdAt": ms_to_dt(created),
                "updatedAt": ms_to_dt(ts),
                "archived": deleted,
                "archivedAt": ms_to_dt(np.where(deleted, ts, -1)),
                "dealname": (pd.Series(account_names) + " - " + pd.Series(dealtype)).array,
                "dealtype": dealtype,
                "pipeline": _text(["default"], np.zeros(len(rows), np.int8)),
                "dealstage": _text(HS_STAGE_IDS, st),
                "hubspot_owner_id": hubspot_owner[rows],
                "amount": amount,
                "deal_currency_code": _text([*CURRENCIES, S.INVALID_CURRENCY_CODE], cur),
                "amount_in_home_currency": np.round(amount / rate, 2),
                "createdate": ms_to_dt(created),
                "closedate": ms_to_dt(np.where(cd >= 0, cd * DAY_MS, -1)),
                "hs_lastmodifieddate": ms_to_dt(ts),
                "hs_is_closed": closed,
                "hs_is_closed_won": won,
                "hs_deal_stage_probability": HS_STAGE_PROBABILITY[st],
                "hs_forecast_category": _text(HS_CATEGORY_IDS, deals.category[rows]),
                "hs_analytics_source": _take(o.source, p),
                "closed_lost_reason": pd.Series(_take(o.loss_reason, p)).where(closed & ~won).array,
                "hs_object_id": _hs_number_id(key),
                "contract_start_date": day_to_dt(np.where(won, o.term_start_day.to_numpy()[p], -1)),
                "contract_end_date": day_to_dt(np.where(won, o.term_end_day_new.to_numpy()[p], -1)),
                "renewal_of_deal_id": np.where(
                    kind == RENEWAL, make_keys("Opportunity", np.maximum(parent, 0)), -1
                ),
                "competitor": _text(
                    ["Globex", "Initech"], np.where(ts >= self.drift_ms, competitor, -1)
                ),
                "_ts": ts,
                "_account": make_keys("Account", o.account.to_numpy()[p]),
            }
            for index, (stage_id, *_rest) in enumerate(HS_STAGES):
                first = first_entry[index][p]
                entered = (first >= 0) & (first <= rows)
                frame[f"hs_date_entered_{stage_id}"] = ms_to_dt(
                    np.where(entered, deals.ts[np.maximum(first, 0)], -1)
                )
            return pd.DataFrame(frame, copy=False)

        self.hs["deals"] = _Versions(deals.position, deals.ts, render)
        self._hs_deal_history(deals, stage, currency, close_day, hubspot_owner)

    def _hs_deal_history(self, deals: _Deals, stage, currency, close_day, owner) -> None:
        """Every change of the tracked deal properties, as the API strings (final frame)."""
        key = make_keys("Opportunity", deals.key())
        n = len(key)
        same = np.r_[False, key[1:] == key[:-1]] if n else np.zeros(0, bool)
        amount_codes, amount_text = _text_codes(deals.amount, _amount_texts)
        close_ms = np.where(close_day >= 0, close_day * DAY_MS, -1)
        close_codes, close_text = _text_codes(close_ms, _date_texts)
        owner_codes, owner_text = _text_codes(owner, _hs_id_texts)
        props = {
            "dealstage": (stage, list(HS_STAGE_IDS)),
            "amount": (amount_codes, amount_text),
            "closedate": (close_codes, close_text),
            "hubspot_owner_id": (owner_codes, owner_text),
            "hs_forecast_category": (deals.category.astype(np.int64), HS_CATEGORY_IDS),
            "deal_currency_code": (
                currency.astype(np.int64),
                [*CURRENCIES, S.INVALID_CURRENCY_CODE],
            ),
        }
        table: list[str | None] = []
        parts = []
        for prop_no, (codes, texts) in enumerate(props.values()):
            # One text table for every property: equal text, equal code (null = -1).
            lookup = np.array(
                [len(table) + i if texts[i] is not None else -1 for i in range(len(texts))] + [-1],
                dtype=np.int64,
            )
            table.extend(texts)
            value = lookup[np.where(codes >= 0, codes, len(texts))]
            changed = ~same | (value != np.r_[value[:1], value[:-1]])
            rows = np.flatnonzero(changed)
            parts.append((rows, prop_no, value[rows]))
        rows = np.concatenate([part[0] for part in parts])
        prop = np.concatenate([np.full(len(part[0]), part[1], np.int8) for part in parts])
        value = np.concatenate([part[2] for part in parts])
        names = list(props)
        rank = np.argsort(np.argsort(np.array(names, dtype=object)))
        # By deal, property name, then time (in version order already within a deal).
        deal_rank = np.cumsum(np.r_[False, key[1:] != key[:-1]])
        order = np.argsort(deal_rank[rows] * 8 + rank[prop], kind="stable")
        rows, prop, value = rows[order], prop[order], value[order]
        self.hs_deal_history = pd.DataFrame(
            {
                "deal": key[rows],
                "property": _text(names, prop),
                "value": _text(table, value),
                "timestamp": deals.ts[rows],
                "source_type": _text(["API", "CRM_UI"], same[rows].astype(np.int8)),
            },
            copy=False,
        )

    def _hs_engagements(self) -> None:
        a = self.t.activities
        hubspot = a.crm.to_numpy() == HUBSPOT
        kinds = {"calls": [0], "emails": [1, 3], "meetings": [2]}
        for name, codes in kinds.items():
            self.hs[name] = _TwoStep(
                _rows_by_key(hubspot & np.isin(a.kind.to_numpy(), codes), a.activity.to_numpy()),
                a.created_ms.to_numpy(),
                a.completed_ms.to_numpy(),
                lambda records, is_done, name=name: self._hs_engagement(
                    name, _Rows(a, records), is_done
                ),
            )

    def _hs_engagement(self, name: str, versions: _Rows, is_done: np.ndarray) -> pd.DataFrame:
        ts = np.where(is_done, versions.completed_ms.to_numpy(), versions.created_ms.to_numpy())
        key = make_keys("Task" if name != "meetings" else "Event", versions.activity.to_numpy())
        contact = versions.contact.to_numpy()
        created = ms_to_dt(versions.created_ms.to_numpy())
        modified = ms_to_dt(ts)
        n = len(versions)
        frame = pd.DataFrame(
            {
                "id": key,
                "createdAt": created,
                "updatedAt": modified,
                "archived": np.zeros(n, dtype=bool),
                "archivedAt": ms_to_dt(np.full(n, -1)),
                "hs_timestamp": ms_to_dt(versions.due_ms.to_numpy()),
                "hubspot_owner_id": self._sf_user(versions.owner.to_numpy()),
                "hs_createdate": created,
                "hs_lastmodifieddate": modified,
                "hs_object_id": _hs_number_id(key),
                "_ts": ts,
                "_deal": make_keys("Opportunity", versions.opp.to_numpy()),
                "_contact": np.where(
                    contact >= 0, make_keys("Contact", np.maximum(contact, 0)), -1
                ),
                "_company": make_keys("Account", versions.account.to_numpy()),
            },
            copy=False,
        )
        done = is_done.astype(np.int8)
        zeros = np.zeros(n, np.int8)
        if name == "calls":
            frame["hs_call_title"] = _text(["Call"], zeros)
            frame["hs_call_status"] = _text(["SCHEDULED", "COMPLETED"], done)
            frame["hs_call_duration"] = versions.duration_minutes.to_numpy() * 60_000.0
        elif name == "emails":
            frame["hs_email_subject"] = _text(["Follow up"], zeros)
            frame["hs_email_status"] = _text(["SCHEDULED", "SENT"], done)
            frame["hs_email_direction"] = _text(["EMAIL"], zeros)
        else:
            frame["hs_meeting_title"] = _text(["Meeting"], zeros)
            frame["hs_meeting_outcome"] = _text(["SCHEDULED", "COMPLETED"], done)
            frame["hs_meeting_start_time"] = ms_to_dt(versions.due_ms.to_numpy())
            frame["hs_meeting_end_time"] = ms_to_dt(
                versions.due_ms.to_numpy() + versions.duration_minutes.to_numpy() * 60_000
            )
        return frame

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
        for name, source in self.versions.items():
            if isinstance(source, pd.DataFrame):
                cut = _latest(source, "Id", "_ts", t_ms)
                if "_removed_ms" in cut:
                    cut = cut[cut._removed_ms.to_numpy() > t_ms]
            else:
                cut = source.cut(t_ms)
            sf[name] = cut
        for name, frame in self.appends.items():
            # Sorted by time: the rows up to the view are a prefix (shared, not copied). The
            # creation stamp is the change's instant to the second, so it cuts at the same row.
            stamp = frame.CreatedDate.to_numpy().view(np.int64)
            sf[name] = frame.iloc[: np.searchsorted(stamp, t_ms, side="right")]
        opp = sf["Opportunity"]
        end = np.where(opp._closed_ms.to_numpy() > 0, opp._closed_ms.to_numpy(), end_ms)
        opp["Days_Open__c"] = np.floor((end - opp._created_ms.to_numpy()) / DAY_MS)
        drift = view_day * DAY_MS >= self.drift_ms - DAY_MS
        sf_drift = {"Opportunity": ["Competitor__c"]} if drift else {}
        if not drift:
            sf["Opportunity"] = sf["Opportunity"].drop(columns="Competitor__c")
        shown = len(sf["OpportunityFieldHistory"])
        history_text = {column: shown <= at for column, at in self._fh_first_number.items()}
        sf = {
            name: _public(frame, text=history_text if name == "OpportunityFieldHistory" else None)
            for name, frame in sf.items()
        }

        hs = {name: source.cut(t_ms) for name, source in self.hs.items()}
        if not drift:
            hs["deals"] = hs["deals"].drop(columns="competitor")
        owners = self.hs_owners[self.hs_owners._created_ms <= t_ms].copy()
        owners["archived"] = (owners._archived_ms >= 0) & (owners._archived_ms <= t_ms)
        owners["updatedAt"] = ms_to_dt(
            np.where(owners.archived, owners._archived_ms, owners._created_ms)
        )
        hs["owners"] = owners.drop(columns=["_created_ms", "_archived_ms"])
        hist = self.hs_deal_history
        shown = hist.timestamp.to_numpy() <= t_ms
        hs["deal_property_history"] = hist if shown.all() else hist[shown].reset_index(drop=True)
        hs["associations"] = self._associations(hs)
        ev = self.t.email_events
        shown = np.flatnonzero(ev.created_ms.to_numpy() <= t_ms)
        ev = ev.iloc[shown]
        hs["email_events"] = pd.DataFrame(
            {
                "id": ev.event.to_numpy(),
                "type": _text(["SENT", "DELIVERED", "OPEN", "CLICK"], ev.type_code.to_numpy()),
                "created": ev.created_ms.to_numpy(),
                "recipient": _take(self.t.contacts.email, self._recipients()[shown]),
                "emailCampaignId": ev.email_campaign_id.to_numpy(),
            },
            copy=False,
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

    def _recipients(self) -> np.ndarray:
        """Row of each email event's contact in the timeline's contacts (-1 if unknown)."""
        if self._recipient_rows is None:
            contacts = pd.Index(self.t.contacts.contact.to_numpy())
            self._recipient_rows = contacts.get_indexer(self.t.email_events.contact.to_numpy())
        return self._recipient_rows

    def _associations(self, hs: dict[str, pd.DataFrame]) -> pd.DataFrame:
        deals = hs["deals"]
        contacts = hs["contacts"]
        # (from type, from keys, to type, to keys, association type id), as in the v4 API.
        parts = [
            ("deals", deals.id.to_numpy(), "companies", deals._account.to_numpy(), 341),
            (
                "contacts",
                contacts.id.to_numpy(),
                "companies",
                contacts.associatedcompanyid.to_numpy(),
                279,
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
        parts.append(("deals", pair.id.to_numpy(), "contacts", pair.contact.to_numpy(), 3))
        for name, type_id in (("calls", 206), ("emails", 210), ("meetings", 212)):
            e = hs[name]
            parts.append((name, e.id.to_numpy(), "deals", e._deal.to_numpy(), type_id))
        # Every association is readable from both ends.
        reverse_type = {341: 342, 279: 280, 3: 4, 206: 205, 210: 209, 212: 211}
        kept = [(f, fk, t, tk, i, tk >= 0) for f, fk, t, tk, i in parts]
        ends = [(f, fk[k], t, tk[k], i) for f, fk, t, tk, i, k in kept]
        ends += [(t, tk, f, fk, reverse_type[i]) for f, fk, t, tk, i in ends]
        types = sorted({end[0] for end in ends} | {end[2] for end in ends})
        code = {name: i for i, name in enumerate(types)}

        def column(index, make):
            return np.concatenate([make(end, index) for end in ends])

        from_type = column(0, lambda end, i: np.full(len(end[1]), code[end[i]], np.int8))
        to_type = column(2, lambda end, i: np.full(len(end[1]), code[end[i]], np.int8))
        from_key = column(1, lambda end, i: end[i].astype(np.int64))
        to_key = column(3, lambda end, i: end[i].astype(np.int64))
        type_id = column(4, lambda end, i: np.full(len(end[1]), end[i], np.int64))
        order = np.lexsort((to_key, to_type, from_key, from_type))
        return pd.DataFrame(
            {
                "from_type": _text(types, from_type[order]),
                "from_key": from_key[order],
                "to_type": _text(types, to_type[order]),
                "to_key": to_key[order],
                "type_id": type_id[order],
            },
            copy=False,
        )

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
            visible = _isin(keys, frame[key_col].to_numpy())
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
            visible = _isin(ckeys, contacts["Id" if crm == SALESFORCE else "id"].to_numpy())
            # A duplicate merged into its original is deleted: nothing is left to deduplicate.
            merged = np.zeros(len(ckeys), dtype=bool)
            if crm == SALESFORCE:
                merged = _isin(ckeys, contacts.Id[contacts.MasterRecordId >= 0].to_numpy())
            for keep, defect in ((visible & ~merged, "duplicate_contact"), (merged, MERGED)):
                frames.append(
                    pd.DataFrame(
                        {
                            "source_system": system,
                            "object": "Contact" if crm == SALESFORCE else "contacts",
                            "key": ckeys[keep],
                            "defect": defect,
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
        orphan = open_sf[_isin(open_sf.OwnerId.to_numpy(), inactive)]
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
        orphan = open_hs[_isin(open_hs.hubspot_owner_id.to_numpy(), archived)]
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
    if defect == MERGED:
        return MERGED_HANDLING
    if defect.startswith("invalid_"):
        return "quarantine"
    if defect.startswith("duplicate_"):
        return "deduplicate"
    return "keep_and_flag"


def _public(
    frame: pd.DataFrame, keep: tuple[str, ...] = (), text: dict[str, bool] | None = None
) -> pd.DataFrame:
    """Drop the private columns; ``text`` says (when known) which object columns are all text."""
    drop = [c for c in frame.columns if c.startswith("_") and c not in keep]
    frame = frame.drop(columns=drop).reset_index(drop=True)
    # Text columns get one dtype whatever their values (an all-null column would stay object).
    for column in frame.columns:
        if frame[column].dtype == object:
            if text is not None and column in text:
                all_text = text[column]
            else:
                all_text = frame[column].dropna().map(type).eq(str).all()
            if all_text:
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


def _hs_number_id(keys) -> np.ndarray:
    return (local_part(keys) + HUBSPOT_ID_OFFSET).astype(float)


def _hs_number(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _iso_ms(values: np.ndarray) -> np.ndarray:
    out = np.datetime_as_string(values.astype("datetime64[ms]"), unit="ms") + "Z"
    return np.where(np.isnat(values), None, out)


def _text_codes(values: np.ndarray, render: Callable[[np.ndarray], list]) -> tuple:
    """Codes of ``values`` into the table of their distinct texts (``render`` maps the distinct
    values to texts, None = null; null -> code -1). Equal texts share a code."""
    values = np.asarray(values)
    floats = values.dtype == np.float64
    inverse, distinct = _distinct(values.view(np.int64) if floats else values)
    texts = render(distinct.view(np.float64) if floats else distinct)
    table: dict[str, int] = {}
    remap = [-1 if text is None else table.setdefault(text, len(table)) for text in texts]
    return np.asarray(remap, dtype=np.int64)[inverse], list(table)


def _amount_texts(values: np.ndarray) -> list:
    return [_hs_number(float(value)) for value in values]


def _date_texts(ms: np.ndarray) -> list:
    return list(_iso_ms(ms_to_dt(ms)))


def _hs_id_texts(keys: np.ndarray) -> list:
    return list(hs_ids(keys))


def _shared(table, codes) -> np.ndarray:
    """Object array of ``table[codes]``, one Python ``str`` per distinct value."""
    return np.array([str(value) for value in table], dtype=object)[np.asarray(codes)]


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values of an int64 array (hash-based, in order of appearance)."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=np.int64))
    return codes, np.asarray(distinct, dtype=np.int64)


def _floats(values: np.ndarray) -> np.ndarray:
    """Object array of Python floats, one object per distinct value (bit pattern)."""
    codes, distinct = _distinct(values.view(np.int64))
    return distinct.view(np.float64).astype(object)[codes]


def _id_text(keys: np.ndarray) -> np.ndarray:
    """Salesforce ids of keys as an object array (null = NaN, as a text column holds it)."""
    codes, distinct = _distinct(keys)
    ids = sf_ids(distinct)
    ids[distinct < 0] = np.nan
    return ids[codes]


def _day_text(days: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` of day numbers as an object array (day -1 = NaN, as strftime of NaT)."""
    codes, distinct = _distinct(days)
    text = np.datetime_as_string(distinct.astype("datetime64[D]"), unit="D").astype(object)
    text[distinct < 0] = np.nan
    return text[codes]


def _first_word(names: pd.Series) -> pd.Series:
    """``names.str.split(" ").str[0]``, in Arrow."""
    words = pc.list_element(pc.split_pattern(pa.array(names.array), " ", max_splits=1), 0)
    return pd.Series(pd.array(words.cast(pa.large_string()), dtype="str"), copy=False)


def _isin(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """``np.isin`` for int64 keys, hash-based."""
    return pd.Index(np.asarray(among)).unique().get_indexer(np.asarray(values)) >= 0


def _first(mask: np.ndarray, size: int) -> int:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else size


__all__ = ["ADS_CAMPAIGNS", "EXPANSION", "NEW_BUSINESS", "SF_OBJECTS", "Org", "OrgView"]
