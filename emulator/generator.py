"""The synthetic sales org: a deterministic timeline of people, accounts, leads and deals.

``generate(seed, scale, as_of, horizon_days)`` simulates about three fiscal years up to
``as_of + horizon_days``. Every record's attributes are drawn from counter-based randomness keyed
by the record (see ``emulator.rand``), and every change carries a timestamp, so the org seen at any
day is the timeline cut at that day. ``emulator.org`` renders the cut as Salesforce, HubSpot and
Google Ads tables.

The timeline is canonical (CRM-neutral): each rep, account and deal belongs to one CRM (`crm` 0 =
Salesforce, 1 = HubSpot, the acquired business unit) and is rendered into that CRM's shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from emulator import scales as S
from emulator.rand import Rand
from emulator.schema import CURRENCIES, INDUSTRIES, LEAD_SOURCES, LOSS_REASONS, REGIONS, SEGMENTS
from emulator.timeutil import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    add_months,
    day_number,
    day_of_ms,
    ms_of_day,
    quarter_bounds,
    working_time_ms,
    year_of,
)

SALESFORCE, HUBSPOT = 0, 1
NEW_BUSINESS, EXPANSION, RENEWAL = 0, 1, 2
N_OPEN_STAGES = 5
STAGE_WON, STAGE_LOST = 6, 7
FIRST_NAMES = np.array(
    [
        "Ana",
        "Ben",
        "Chloe",
        "Dev",
        "Elena",
        "Farid",
        "Grace",
        "Hiro",
        "Isla",
        "Jonas",
        "Kemi",
        "Liam",
        "Maya",
        "Noah",
        "Olga",
        "Priya",
        "Quinn",
        "Rafael",
        "Sara",
        "Tomas",
        "Uma",
        "Victor",
        "Wen",
        "Xavier",
        "Yara",
        "Zoe",
        "Amir",
        "Bea",
        "Carlos",
        "Dana",
        "Emil",
        "Fatima",
        "Gus",
        "Hana",
        "Ivan",
        "Jade",
        "Kofi",
        "Lena",
        "Marco",
        "Nina",
    ]
)
LAST_NAMES = np.array(
    [
        "Ruiz",
        "Smith",
        "Chen",
        "Patel",
        "Novak",
        "Haddad",
        "Kim",
        "Tanaka",
        "Brown",
        "Weber",
        "Okafor",
        "Murphy",
        "Rossi",
        "Silva",
        "Ivanova",
        "Sharma",
        "Lee",
        "Garcia",
        "Cohen",
        "Berg",
        "Nair",
        "Dubois",
        "Wang",
        "Martin",
        "Costa",
        "Singh",
        "Adams",
        "Moreau",
        "Fischer",
        "Jensen",
        "Lopez",
        "Sato",
        "Khan",
        "Larsen",
        "Meyer",
        "Rahman",
        "Walsh",
        "Kowalski",
        "Ortiz",
        "Young",
    ]
)
COMPANY_WORDS = np.array(
    [
        "Acme",
        "Globex",
        "Initech",
        "Umbrella",
        "Stark",
        "Wayne",
        "Hooli",
        "Vandelay",
        "Soylent",
        "Tyrell",
        "Cyberdyne",
        "Aperture",
        "Wonka",
        "Nakatomi",
        "Oscorp",
        "Massive",
        "Dynamic",
        "Pied",
        "Piper",
        "Gringotts",
        "Monarch",
        "Blue",
        "Sun",
        "Virtucon",
        "Duff",
        "Sirius",
        "Zorg",
        "Prestige",
        "Atlas",
        "Nimbus",
        "Vertex",
        "Quantum",
        "Helix",
        "Orbit",
        "Summit",
        "Beacon",
        "Crest",
    ]
)
COMPANY_SUFFIX = np.array(["Inc", "Ltd", "GmbH", "Group", "Labs", "Systems", "Partners", "Co"])
COUNTRIES = {
    "NA": ["United States", "Canada"],
    "EMEA": ["United Kingdom", "Germany", "France", "Netherlands"],
    "APAC": ["Japan", "Australia", "Singapore"],
}
ADS_CAMPAIGNS = [
    # name, region (None = not matched to any CRM campaign), daily clicks share, cost per click
    ("Brand - NA", "NA", 1.0, 1.8),
    ("Generic - NA", "NA", 1.4, 4.5),
    ("Competitor - NA", "NA", 0.5, 6.0),
    ("Brand - EMEA", "EMEA", 0.7, 1.6),
    ("Generic - EMEA", "EMEA", 0.9, 3.9),
    ("Brand - APAC", "APAC", 0.5, 1.2),
    ("Display - Retargeting", None, 0.8, 0.9),
]


EVENT_CATEGORIES = ["Pipeline", "BestCase", "MostLikely", "Forecast", "Closed", "Omitted"]
# Columns of an opportunity event while it is assembled (compact), and the value of a field the
# event does not set. Stage, close day and owner are int64 in the events frame.
EVENT_COLUMNS = {
    "row": (np.int32, -1),
    "ts": (np.int64, -1),
    "stage": (np.int8, -1),
    "amount": (np.float64, np.nan),
    "close_day": (np.int32, -1),
    "owner": (np.int32, -1),
    "category": (np.int8, -1),
    "probability": (np.float64, np.nan),
    "created_event": (np.bool_, False),
    "closed_event": (np.bool_, False),
    "deleted": (np.bool_, False),
}


@dataclass
class Timeline:
    """The canonical org: frames of int64 keys, ms timestamps and day numbers."""

    seed: int
    scale: S.Scale
    as_of: dt.date
    horizon_day: int
    start_day: int
    dirty_rate: float
    teams: pd.DataFrame = field(repr=False)
    users: pd.DataFrame = field(repr=False)
    user_teams: pd.DataFrame = field(repr=False)  # user, from_ms, team
    holders: pd.DataFrame = field(repr=False)  # slot tenures: user, slot, start_day, end_day
    accounts: pd.DataFrame = field(repr=False)
    contacts: pd.DataFrame = field(repr=False)
    campaigns: pd.DataFrame = field(repr=False)
    leads: pd.DataFrame = field(repr=False)
    opportunities: pd.DataFrame = field(repr=False)
    opportunity_events: pd.DataFrame = field(repr=False)
    activities: pd.DataFrame = field(repr=False)
    campaign_members: pd.DataFrame = field(repr=False)
    ads_daily: pd.DataFrame = field(repr=False)
    email_events: pd.DataFrame = field(repr=False)
    quotas: pd.DataFrame = field(repr=False)
    rates: pd.DataFrame = field(repr=False)
    defects: pd.DataFrame = field(repr=False)

    @property
    def horizon_end_ms(self) -> int:
        return (self.horizon_day + 1) * DAY_MS


def _ordinals(counts) -> np.ndarray:
    """0, 1, ... c - 1 for each count c, concatenated."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )


def text_array(table, codes) -> pd.api.extensions.ExtensionArray:
    """``table[codes]`` as a pandas ``str`` array (code -1 or a None entry is null), built in Arrow.

    Same values as a numpy or object array of the strings, without a Python object per row.
    """
    table = list(table)
    null = np.array([value is None for value in table] + [True])
    codes = np.asarray(codes)
    index = np.where(codes < 0, len(table), codes).astype(np.int32)
    dictionary = pa.array(["" if v is None else str(v) for v in table] + [""], pa.large_string())
    if not len(index):
        indices = pa.array([], pa.int32())
    elif null.any() and null[index].any():
        indices = pa.array(index, mask=null[index])
    else:
        indices = pa.array(index)
    return pd.array(
        pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string()), dtype="str"
    )


def _lookup(values, mapping: dict) -> np.ndarray:
    """``pd.Series(values).map(mapping).to_numpy()`` for a mapping to floats (NaN if missing)."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    table = np.array([mapping.get(v, np.nan) for v in distinct] + [np.nan], dtype=np.float64)
    return table[codes]


def _select(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``frame[mask].reset_index(drop=True)``, without a copy when every row is kept."""
    if mask.all() and isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0:
        return frame
    return frame[mask].reset_index(drop=True)


def _stable_order(*keys) -> np.ndarray:
    """``np.lexsort(keys[::-1])`` (sort by the first key, then the next; stable) for non-negative
    integer-like keys, as one stable sort of a packed int64 key where the ranges fit."""
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    bits = 0
    for k in reversed(keys):
        k = np.asarray(k).astype(np.int64)
        low = int(k.min()) if len(k) else 0
        width = int(k.max() - low).bit_length() if len(k) else 0
        if bits + width > 62:
            return np.lexsort(tuple(np.asarray(k) for k in reversed(keys)))
        packed |= (k - low) << bits
        bits += width
    return np.argsort(packed, kind="stable")


def org_start(as_of: dt.date) -> dt.date:
    """Three fiscal years of history: the fiscal year of ``as_of`` and the two before it."""
    return dt.date(as_of.year - 2, 1, 1)


def generate(
    seed: int,
    scale: str,
    as_of: dt.date,
    horizon_days: int = 0,
    dirty_rate: float = S.DEFAULT_DIRTY_RATE,
) -> Timeline:
    if scale not in S.SCALES:
        raise ValueError(f"unknown scale {scale!r}; use one of {', '.join(S.SCALES)}")
    if not 0 <= dirty_rate <= 0.5:
        raise ValueError(f"dirty rate {dirty_rate} must be between 0 and 0.5")
    builder = _Builder(Rand(seed), S.SCALES[scale], as_of, horizon_days, dirty_rate)
    return builder.build(seed)


class _Builder:
    def __init__(self, rand: Rand, scale: S.Scale, as_of: dt.date, horizon_days: int, dirty: float):
        self.r = rand
        self.scale = scale
        self.as_of = as_of
        self.start_day = day_number(org_start(as_of))
        self.horizon_day = day_number(as_of) + int(horizon_days)
        self.end_ms = (self.horizon_day + 1) * DAY_MS
        self.dirty = dirty

    # ---------------------------------------------------------------- orchestration
    def build(self, seed: int) -> Timeline:
        self.rates = self._rates()
        self.teams, self.users, self.user_teams = self._organisation()
        self.holders = self._holders()
        self.accounts = self._accounts()
        self.contacts = self._contacts()
        self.campaigns = self._campaigns()
        self.ads_daily = self._ads_daily()
        self.leads = self._leads()
        self.opportunities, self.opportunity_events = self._opportunities()
        self._convert_leads()
        self.activities = self._activities()
        self.campaign_members = self._campaign_members()
        self.email_events = self._email_events()
        self.quotas = self._quotas()
        self.defects = self._defects()
        return Timeline(
            seed=seed,
            scale=self.scale,
            as_of=self.as_of,
            horizon_day=self.horizon_day,
            start_day=self.start_day,
            dirty_rate=self.dirty,
            teams=self.teams,
            users=self.users,
            user_teams=self.user_teams,
            holders=self.holders,
            accounts=self.accounts,
            contacts=self.contacts,
            campaigns=self.campaigns,
            leads=self.leads,
            opportunities=self.opportunities,
            opportunity_events=self.opportunity_events,
            activities=self.activities,
            campaign_members=self.campaign_members,
            ads_daily=self.ads_daily,
            email_events=self.email_events,
            quotas=self.quotas,
            rates=self.rates,
            defects=self.defects,
        )

    @property
    def days(self) -> np.ndarray:
        return np.arange(self.start_day, self.horizon_day + 1, dtype=np.int64)

    # ---------------------------------------------------------------- currencies
    def _rates(self) -> pd.DataFrame:
        """Monthly dated conversion rates (units per USD), a random walk per currency."""
        first = np.datetime64(org_start(self.as_of), "M") - 1
        last = np.datetime64(dt.date(2000, 1, 1) + dt.timedelta(self.horizon_day - 10957), "M")
        months = np.arange(first, last + 1)
        rows = []
        for code_index, code in enumerate(CURRENCIES):
            month_numbers = months.astype(np.int64)
            if code == "USD":
                rate = np.ones(len(months))
            else:
                steps = self.r.normal("rate", month_numbers * 8 + code_index) * S.RATE_MONTHLY_SIGMA
                steps[0] = 0.0
                rate = S.BASE_RATES[code] * np.exp(np.cumsum(steps))
            start = months.astype("datetime64[D]").astype(np.int64)
            rows.append(
                pd.DataFrame(
                    {
                        "currency": code,
                        "start_day": start,
                        "rate": np.round(rate, 6),
                        "created_ms": ms_of_day(np.maximum(start, self.start_day)) + 6 * HOUR_MS,
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)

    def rate_on(self, currency_index: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Units of currency per USD in force on each day."""
        out = np.ones(len(day))
        for code_index, code in enumerate(CURRENCIES):
            sel = currency_index == code_index
            if not sel.any():
                continue
            table = self.rates[self.rates.currency == code]
            pos = np.searchsorted(table.start_day.to_numpy(), day[sel], side="right") - 1
            out[sel] = table.rate.to_numpy()[np.maximum(pos, 0)]
        return out

    # ---------------------------------------------------------------- people
    def _organisation(self):
        """CRO, regional VPs, team managers; teams are region x segment cells in one CRM.

        A big enough cell is split into pods, each with its own manager; the pods of a cell share
        its name and Salesforce roles (many users may hold one role; ``ManagerId`` says who leads
        whom), so re-orgs move reps between managers without renaming anything. The second and
        later pods come after every cell's first team, so a scale without pods numbers its teams
        and managers as before.
        """
        scale = self.scale
        n_hs_reps = max(2, round(scale.reps * S.HUBSPOT_SHARE)) if scale.reps > 9 else 3
        n_sf_reps = scale.reps - n_hs_reps if scale.reps > 9 else scale.reps
        first_pods, later_pods = [], []
        for region in REGIONS:
            for segment in SEGMENTS:
                weight = S.REGION_WEIGHTS[region] * S.SEGMENT_WEIGHTS[segment]
                reps = max(1, round(n_sf_reps * weight))
                pods = max(1, min(scale.managers_per_cell, reps // S.MIN_REPS_PER_MANAGER))
                for m in range(pods):
                    # The cell's reps split as evenly as they go (sizes differ by one at most).
                    slots = reps // pods + (m < reps % pods)
                    row = (region, segment, SALESFORCE, reps, m, pods, slots)
                    (later_pods if m else first_pods).append(row)
        for region, segment in S.HUBSPOT_CELLS:
            reps = max(1, round(n_hs_reps / len(S.HUBSPOT_CELLS)))
            first_pods.append((region, segment, HUBSPOT, reps, 0, 1, reps))
        teams = pd.DataFrame(
            first_pods + later_pods,
            columns=["region", "segment", "crm", "cell_reps", "m", "pods", "slots"],
        )
        teams["team_id"] = np.arange(len(teams))
        cell = ["region", "segment", "crm"]
        # The cell's first team carries the cell's roles.
        teams["role_team"] = teams.groupby(cell).team_id.transform("min")
        crm_name = np.where(teams.crm == HUBSPOT, "HS ", "")
        teams["name"] = [
            f"{c}{r} {s}" for c, r, s in zip(crm_name, teams.region, teams.segment, strict=True)
        ]

        users = []  # (role, region, segment, team, crm, manager_user, hire_day)
        before = self.start_day - 900
        users.append(("cro", None, None, -1, SALESFORCE, -1, before))
        vp = {}
        for region in REGIONS:
            vp[region] = len(users)
            users.append(("vp", region, None, -1, SALESFORCE, 0, before))
        hs_head = len(users)
        users.append(("vp", "NA", None, -1, HUBSPOT, -1, before))
        manager_of_team = {}
        for t in teams.itertuples():
            manager_of_team[t.team_id] = len(users)
            boss = hs_head if t.crm == HUBSPOT else vp[t.region]
            users.append(("manager", t.region, t.segment, t.team_id, t.crm, boss, before))
        teams["manager_user"] = teams.team_id.map(manager_of_team)
        frame = pd.DataFrame(
            users, columns=["role", "region", "segment", "team", "crm", "manager_user", "hire_day"]
        )
        frame["term_day"] = -1
        frame["slot"] = -1
        frame["skill"] = 1.0
        frame["user"] = np.arange(len(frame))
        user_teams = pd.DataFrame(
            {"user": frame.user, "from_ms": ms_of_day(frame.hire_day), "team": frame.team}
        )
        return teams, frame, user_teams

    def _holders(self) -> pd.DataFrame:
        """Each rep slot is held by a chain of reps: hires, departures, replacements, growth."""
        r, users, teams = self.r, self.users, self.teams
        rows = []
        slot = 0
        for t in teams.itertuples():
            initial = int(t.slots)
            # Headcount grows at a fixed cadence, so a later horizon only adds slots.
            cadence = 365.0 / (initial * S.HEADCOUNT_GROWTH) if initial > 2 else np.inf
            opening_days = [self.start_day] * initial
            k = 1
            while self.start_day + k * cadence <= self.horizon_day:
                opening_days.append(self.start_day + int(k * cadence))
                k += 1
            for i, opens in enumerate(opening_days):
                day, generation = opens, 0
                while day <= self.horizon_day:
                    key = slot * 64 + generation
                    if generation == 0 and i < initial:
                        hire = day - int(r.uniform("tenure0", key) * 700) - 30
                    else:
                        hire = day
                    tenure = int(r.exponential("tenure", key, 365.0 / S.ANNUAL_ATTRITION)) + 120
                    end = hire + tenure
                    if end <= day:
                        end = day + 60
                    term = end if end <= self.horizon_day else -1
                    skill = float(np.exp(r.normal("skill", key) * S.REP_SKILL_SIGMA))
                    rows.append((slot, t.team_id, generation, hire, day, term, skill))
                    if term < 0:
                        break
                    day = term + 1 + int(r.uniform("backfill", key) * 20)
                    generation += 1
                slot += 1
        holders = pd.DataFrame(
            rows,
            columns=["slot", "team", "generation", "hire_day", "start_day", "term_day", "skill"],
        )
        first_user = len(users)
        holders["user"] = first_user + np.arange(len(holders))
        team_info = teams.set_index("team_id")
        reps = pd.DataFrame(
            {
                "role": "rep",
                "region": holders.team.map(team_info.region).to_numpy(),
                "segment": holders.team.map(team_info.segment).to_numpy(),
                "team": holders.team.to_numpy(),
                "crm": holders.team.map(team_info.crm).to_numpy(),
                "manager_user": holders.team.map(team_info.manager_user).to_numpy(),
                "hire_day": holders.hire_day.to_numpy(),
                "term_day": holders.term_day.to_numpy(),
                "slot": holders.slot.to_numpy(),
                "skill": holders.skill.to_numpy(),
                "user": holders.user.to_numpy(),
            }
        )
        users = pd.concat([users, reps], ignore_index=True)
        names = self._person_names("user", users.user.to_numpy())
        users["first_name"], users["last_name"] = names
        users["email"] = (
            users.first_name.str.lower()
            + "."
            + users.last_name.str.lower()
            + users.user.astype(str)
            + "@acme-sales.example"
        )
        self.users = users
        self._reorgs(holders)
        return holders

    def _reorgs(self, holders: pd.DataFrame) -> None:
        """Every few quarters some reps move to another manager in the same region and segment."""
        teams = self.teams
        moves = []
        cell_teams = teams.groupby(["region", "segment", "crm"]).team_id.apply(list).to_dict()
        q_starts = np.unique(quarter_bounds(self.days)[0])
        for qi, q in enumerate(q_starts[1:], start=1):
            if qi % S.REORG_EVERY_QUARTERS:
                continue
            active = holders[
                (holders.start_day <= q) & ((holders.term_day < 0) | (holders.term_day > q))
            ]
            for h in active.itertuples():
                team = teams.loc[h.team]
                options = [
                    x for x in cell_teams[(team.region, team.segment, team.crm)] if x != h.team
                ]
                if not options:
                    continue
                u = self.r.uniform("reorg", h.user, qi)
                if u < S.REORG_SHARE:
                    moves.append(
                        (h.user, ms_of_day(q) + 7 * HOUR_MS, options[int(u * 1e6) % len(options)])
                    )
        reps = self.users[self.users.role == "rep"]
        base = pd.DataFrame(
            {
                "user": reps.user,
                "from_ms": ms_of_day(reps.hire_day) + 8 * HOUR_MS,
                "team": reps.team,
            }
        )
        extra = pd.DataFrame(moves, columns=["user", "from_ms", "team"]).astype(np.int64)
        others = self.user_teams[~self.user_teams.user.isin(reps.user)]
        self.user_teams = (
            pd.concat([others, base, extra], ignore_index=True)
            .astype(np.int64)
            .sort_values(["user", "from_ms"], ignore_index=True)
        )

    def team_of(self, users: np.ndarray, ms: np.ndarray) -> np.ndarray:
        """Team of each user at each instant (re-orgs included)."""
        ut = self.user_teams
        combo = ut.user.to_numpy() * (1 << 42) + ut.from_ms.to_numpy()
        query = users.astype(np.int64) * (1 << 42) + ms
        pos = np.searchsorted(combo, query, side="right") - 1
        pos = np.maximum(pos, 0)
        found = ut.user.to_numpy()[pos] == users
        team = ut.team.to_numpy()[pos]
        # Before the first membership row a user belongs to their hiring team.
        first = ut.groupby("user").team.first()
        return np.where(found, team, first.reindex(users).to_numpy())

    def holder_at(self, slots: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index into ``self.holders`` of the rep holding each slot on each day (-1 if vacant)."""
        h = self.holders
        combo = h.slot.to_numpy() * (1 << 24) + h.start_day.to_numpy()
        pos = np.searchsorted(combo, slots * (1 << 24) + days, side="right") - 1
        pos = np.maximum(pos, 0)
        ok = h.slot.to_numpy()[pos] == slots
        term = h.term_day.to_numpy()[pos]
        ok &= (term < 0) | (term >= days)
        return np.where(ok, pos, -1)

    def _person_names(self, stream: str, keys: np.ndarray):
        first = (self.r.uniform(stream + ":first", keys) * len(FIRST_NAMES)).astype(int)
        last = (self.r.uniform(stream + ":last", keys) * len(LAST_NAMES)).astype(int)
        return text_array(FIRST_NAMES, first), text_array(LAST_NAMES, last)

    # ---------------------------------------------------------------- accounts and contacts
    def _accounts(self) -> pd.DataFrame:
        r, scale = self.r, self.scale
        slots = self.holders.drop_duplicates("slot")[["slot", "team", "start_day"]]
        n_slots = len(slots)
        # 45 % of the accounts exist before the org's history starts; the rest arrive at a steady
        # daily rate (about three years' worth), so a later horizon only adds accounts.
        n_initial = max(n_slots, int(scale.accounts * 0.45))
        per_day = scale.accounts * 0.55 / 1095.0
        n_total = n_initial + int(per_day * (self.horizon_day - self.start_day + 1)) + 1
        idx = np.arange(n_total, dtype=np.int64)
        slot_pick = (r.uniform("account:slot", idx) * n_slots).astype(int)
        # Every slot gets at least one account that exists from the start.
        slot_pick[: min(n_slots, len(idx))] = np.arange(min(n_slots, len(idx)))
        created_day = np.where(
            idx < n_initial,
            self.start_day - 1 - (r.uniform("account:age", idx) * 900).astype(np.int64),
            self.start_day + ((idx - n_initial) / per_day).astype(np.int64),
        )
        # Accounts created later go to slots that already exist that day.
        initial_slots = np.flatnonzero(slots.start_day.to_numpy() <= self.start_day)
        late = (slots.start_day.to_numpy()[slot_pick] > created_day) & (idx >= n_slots)
        slot_pick[late] = initial_slots[
            (r.uniform("account:slot2", idx[late]) * len(initial_slots)).astype(int)
        ]
        slot_row = slots.iloc[slot_pick]
        keep = created_day <= self.horizon_day
        team = self.teams.set_index("team_id").loc[slot_row.team.to_numpy()]
        words = COMPANY_WORDS[(r.uniform("account:w1", idx) * len(COMPANY_WORDS)).astype(int)]
        words2 = COMPANY_WORDS[(r.uniform("account:w2", idx) * len(COMPANY_WORDS)).astype(int)]
        suffix = COMPANY_SUFFIX[(r.uniform("account:sfx", idx) * len(COMPANY_SUFFIX)).astype(int)]
        names = pd.Series(words).str.cat([pd.Series(words2), pd.Series(suffix)], sep=" ")
        names = names + " " + pd.Series(idx).astype(str)
        segment = team.segment.to_numpy()
        revenue_median = _lookup(segment, {"SMB": 8e6, "Mid-Market": 90e6, "Enterprise": 1.5e9})
        region = team.region.to_numpy()
        u_country = r.uniform("account:country", idx)
        country = np.empty(len(idx), dtype=object)
        for g, options in COUNTRIES.items():
            sel = region == g
            country[sel] = np.array(options, dtype=object)[
                (u_country[sel] * len(options)).astype(np.int64)
            ]
        frame = pd.DataFrame(
            {
                "account": idx,
                "slot": slot_row.slot.to_numpy(),
                "team": slot_row.team.to_numpy(),
                "crm": team.crm.to_numpy(),
                "region": region,
                "segment": segment,
                "created_ms": ms_of_day(created_day)
                + working_time_ms(r.uniform("account:tod", idx)),
                "name": names.to_numpy(),
                "industry": np.array(INDUSTRIES)[
                    (r.uniform("account:ind", idx) * len(INDUSTRIES)).astype(int)
                ],
                "annual_revenue": np.round(
                    r.lognormal("account:rev", idx, revenue_median, 0.6), -3
                ),
                "employees": np.maximum(
                    5,
                    np.round(r.lognormal("account:emp", idx, revenue_median / 2e5, 0.5)),
                ).astype(np.int64),
                "country": country,
                "territory_assigned": r.uniform("account:terr", idx) < 0.92,
            }
        )
        frame = frame[keep].sort_values(["slot", "created_ms", "account"], ignore_index=True)
        return frame

    def _contacts(self) -> pd.DataFrame:
        r, acc = self.r, self.accounts
        n_per = (
            r.poisson("contact:n", acc.account.to_numpy(), self.scale.contacts_per_account - 1) + 1
        )
        account_idx = np.repeat(np.arange(len(acc)), n_per)
        ordinal = _ordinals(n_per)
        key = acc.account.to_numpy()[account_idx] * 64 + np.minimum(ordinal, 63)
        created = acc.created_ms.to_numpy()[account_idx] + (
            r.uniform("contact:delay", key) * 60 * DAY_MS * (ordinal > 0)
        ).astype(np.int64)
        first, last = self._person_names("contact", key)
        frame = pd.DataFrame(
            {
                "contact": key,
                "account": acc.account.to_numpy()[account_idx],
                "crm": acc.crm.to_numpy()[account_idx],
                "slot": acc.slot.to_numpy()[account_idx],
                "created_ms": created,
                "first_name": first,
                "last_name": last,
                "source": np.array(LEAD_SOURCES)[(r.uniform("contact:src", key) * 5).astype(int)],
                "lead": -1,
                "duplicate_of": -1,
            }
        )
        frame["email"] = (
            frame.first_name.str.lower()
            + "."
            + frame.last_name.str.lower()
            + "."
            + frame.contact.astype(str)
            + "@example.com"
        )
        return frame[frame.created_ms < self.end_ms].reset_index(drop=True)

    # ---------------------------------------------------------------- marketing
    def _campaigns(self) -> pd.DataFrame:
        """Quarterly campaigns per channel and region, plus always-on paid search campaigns."""
        rows = []
        for name, region, _, _ in ADS_CAMPAIGNS:
            if region is not None:
                rows.append((name, "Paid Search", region, self.start_day - 30, -1))
        q_starts = np.unique(quarter_bounds(self.days)[0])
        for q in q_starts:
            year = int(year_of([q])[0])
            quarter = int(
                (np.datetime64(int(q), "D").astype("datetime64[M]").astype(int) % 12) // 3 + 1
            )
            for channel in ("Web", "Event", "Outbound", "Partner"):
                for region in REGIONS:
                    rows.append(
                        (f"FY{year}-Q{quarter} {channel} {region}", channel, region, q, q + 90)
                    )
        frame = pd.DataFrame(rows, columns=["name", "channel", "region", "start_day", "end_day"])
        frame["campaign"] = np.arange(len(frame))
        frame["created_ms"] = ms_of_day(frame.start_day - 14) + 9 * HOUR_MS
        return frame

    def _ads_daily(self) -> pd.DataFrame:
        """Final (fully restated) Google Ads metrics per campaign and day; rows of all zeros omitted."""
        rows = []
        days = self.days
        weekday = (days + 3) % 7  # 0 = Monday
        weekday_factor = np.where(weekday >= 5, 0.55, 1.0)
        growth = 1.0 + 0.15 * (days - self.start_day) / 365.0
        for ci, (name, region, share, cpc) in enumerate(ADS_CAMPAIGNS):
            key = days * 16 + ci
            mean_clicks = self.scale.ads_daily_clicks * share * weekday_factor * growth
            clicks = self.r.poisson("ads:clicks", key, mean_clicks)
            ctr = 0.02 + 0.04 * self.r.uniform("ads:ctr", key)
            impressions = np.round(clicks / ctr).astype(np.int64)
            cost_micros = (
                np.round(clicks * cpc * (0.8 + 0.4 * self.r.uniform("ads:cpc", key)), 2) * 1e6
            )
            conversions = np.round(clicks * 0.05 * (0.5 + self.r.uniform("ads:conv", key)), 2)
            rows.append(
                pd.DataFrame(
                    {
                        "ads_campaign": ci,
                        "campaign_name": name,
                        "region": region,
                        "day": days,
                        "impressions": impressions,
                        "clicks": clicks,
                        "cost_micros": cost_micros.astype(np.int64),
                        "conversions": conversions,
                    }
                )
            )
        frame = pd.concat(rows, ignore_index=True)
        nonzero = (frame.impressions > 0) | (frame.clicks > 0) | (frame.cost_micros > 0)
        return frame[nonzero].reset_index(drop=True)

    # ---------------------------------------------------------------- leads
    def _leads(self) -> pd.DataFrame:
        r, scale = self.r, self.scale
        days = self.days
        sources = list(S.LEAD_SOURCE_MIX)
        daily = scale.leads_per_year / 365.0
        # Paid search leads follow the ads clicks of the region's matched campaigns.
        ads = self.ads_daily[self.ads_daily.region.notna()]
        clicks_per_day = ads.groupby("day").clicks.sum().reindex(days, fill_value=0).to_numpy()
        mean_paid = daily * S.LEAD_SOURCE_MIX["Paid Search"]
        matched_share = sum(share for _, region, share, _ in ADS_CAMPAIGNS if region is not None)
        paid_rate = mean_paid / (scale.ads_daily_clicks * matched_share)
        counts = np.zeros((len(days), len(sources)), dtype=np.int64)
        weekday = (days + 3) % 7
        for di, d in enumerate(days):
            gen = r.day_generator("leads", int(d))
            factor = 0.4 if weekday[di] >= 5 else 1.12
            for si, source in enumerate(sources):
                mean = daily * S.LEAD_SOURCE_MIX[source] * factor
                if source == "Paid Search":
                    mean = clicks_per_day[di] * paid_rate
                counts[di, si] = gen.poisson(mean)
        day = np.repeat(np.repeat(days, len(sources)), counts.ravel())
        source_idx = np.repeat(np.tile(np.arange(len(sources)), len(days)), counts.ravel())
        # key: day * 2^16 + ordinal within day keeps keys stable whatever the horizon.
        ordinal = _ordinals(counts.sum(axis=1))
        key = (day - self.start_day) * (1 << 16) + ordinal
        slots = self.holders.drop_duplicates("slot")
        slot_active = slots.start_day.to_numpy()
        pick = (r.uniform("lead:slot", key) * len(slots)).astype(int)
        # Leads are routed only to slots that existed on the day.
        initial_slots = np.flatnonzero(slot_active <= self.start_day)
        too_early = slot_active[pick] > day
        pick[too_early] = initial_slots[
            (r.uniform("lead:slot2", key[too_early]) * len(initial_slots)).astype(int)
        ]
        slot = slots.slot.to_numpy()[pick]
        team = slots.team.to_numpy()[pick]
        teams = self.teams.set_index("team_id")
        region = teams.region.to_numpy()[team]
        created = ms_of_day(day) + working_time_ms(r.uniform("lead:tod", key))
        src = np.array(sources)[source_idx]
        mql_p = np.array([S.MQL_RATE[source] for source in sources])[source_idx]
        is_mql = r.uniform("lead:mql", key) < mql_p
        is_sql = is_mql & (r.uniform("lead:sql", key) < S.SQL_RATE)
        converts = is_sql & (r.uniform("lead:conv", key) < S.CONVERSION_RATE)
        mql_ms = (
            created + (r.exponential("lead:mqlt", key, 5.0) * DAY_MS).astype(np.int64) + HOUR_MS
        )
        sql_ms = mql_ms + (r.exponential("lead:sqlt", key, 7.0) * DAY_MS).astype(np.int64) + HOUR_MS
        conv_ms = (
            sql_ms + (r.exponential("lead:convt", key, 10.0) * DAY_MS).astype(np.int64) + HOUR_MS
        )
        responded = r.uniform("lead:resp", key) < 0.8
        first_resp = (
            created
            + (r.exponential("lead:respt", key, 1.0) * DAY_MS).astype(np.int64)
            + 10 * MINUTE_MS
        )
        closed_unconverted = ~converts & (r.uniform("lead:close", key) < 0.6)
        last_step = np.where(is_sql, sql_ms, np.where(is_mql, mql_ms, created))
        closed_ms = last_step + (r.uniform("lead:closet", key) * 60 + 20).astype(np.int64) * DAY_MS
        campaign = self._lead_campaigns(src, region, day, key)
        first, last = self._person_names("lead", key)
        frame = pd.DataFrame(
            {
                "lead": key,
                "slot": slot,
                "team": team,
                "crm": teams.crm.to_numpy()[team],
                "region": text_array(teams.region.to_numpy(), team),
                "segment": text_array(teams.segment.to_numpy(), team),
                "source": text_array(sources, source_idx),
                "campaign": campaign,
                "created_ms": created,
                "mql_ms": np.where(is_mql, mql_ms, -1),
                "sql_ms": np.where(is_sql, sql_ms, -1),
                "converted_ms": np.where(converts, conv_ms, -1),
                "first_response_ms": np.where(responded, first_resp, -1),
                "closed_ms": np.where(closed_unconverted, closed_ms, -1),
                "first_name": first,
                "last_name": last,
            }
        )
        frame["email"] = (
            frame.first_name.str.lower()
            + "."
            + frame.last_name.str.lower()
            + ".l"
            + frame.lead.astype(str)
            + "@example.net"
        )
        return _select(frame, frame.created_ms.to_numpy() < self.end_ms)

    def _lead_campaigns(self, src, region, day, key) -> np.ndarray:
        camp = self.campaigns
        out = np.full(len(src), -1, dtype=np.int64)
        q_start = quarter_bounds(day)[0]
        quarterly = camp[camp.channel != "Paid Search"]
        lookup = {(c.channel, c.region, c.start_day): c.campaign for c in quarterly.itertuples()}
        paid = camp[camp.channel == "Paid Search"]
        paid_by_region = paid.groupby("region").campaign.apply(list).to_dict()
        u = self.r.uniform("lead:campaign", key)
        has_campaign = u < 0.85
        paid_search = src == "Paid Search"
        for reg, options in paid_by_region.items():
            sel = has_campaign & paid_search & (region == reg)
            if options and sel.any():
                pick = (u[sel] / 0.85 * len(options)).astype(np.int64) % len(options)
                out[sel] = np.asarray(options, dtype=np.int64)[pick]
        other = np.flatnonzero(has_campaign & ~paid_search)
        if lookup and len(other):
            index = pd.MultiIndex.from_tuples(list(lookup))
            found = index.get_indexer(
                pd.MultiIndex.from_arrays([src[other], region[other], q_start[other]])
            )
            campaigns = np.asarray(list(lookup.values()), dtype=np.int64)
            out[other] = np.where(found >= 0, campaigns[np.maximum(found, 0)], -1)
        return out

    # ---------------------------------------------------------------- opportunities
    def _opportunities(self):
        roots = self._root_opportunities()
        generations = [roots]
        frontier = roots
        while len(frontier):
            decided = self._lifecycle(frontier)
            generations[-1] = decided
            children = self._children(decided)
            if not len(children):
                break
            generations.append(children)
            frontier = children
        opps = pd.concat(generations, ignore_index=True)
        opps = opps[opps.created_ms < self.end_ms].sort_values("opp", ignore_index=True)
        events = self._opportunity_events(opps)
        return opps, events

    def _root_opportunities(self) -> pd.DataFrame:
        """New business: from converted leads, and created directly on existing accounts."""
        r = self.r
        leads = self.leads[self.leads.converted_ms >= 0]
        from_leads = pd.DataFrame(
            {
                "root": leads.lead.to_numpy() * 2,
                "slot": leads.slot.to_numpy(),
                "created_ms": leads.converted_ms.to_numpy(),
                "source": leads.source.to_numpy(),
                "campaign": leads.campaign.to_numpy(),
                "lead": leads.lead.to_numpy(),
            }
        )
        mql_share = sum(S.MQL_RATE[s] * S.LEAD_SOURCE_MIX[s] for s in S.MQL_RATE)
        conversion = mql_share * S.SQL_RATE * S.CONVERSION_RATE
        direct_per_day = max(
            0.0, (self.scale.new_business_per_year - self.scale.leads_per_year * conversion) / 365.0
        )
        days = self.days
        counts = np.array([r.day_generator("direct", int(d)).poisson(direct_per_day) for d in days])
        day = np.repeat(days, counts)
        ordinal = _ordinals(counts)
        key = (day - self.start_day) * (1 << 16) + ordinal
        slots = self.holders.drop_duplicates("slot")
        eligible = slots[slots.start_day <= self.start_day]
        pick = (r.uniform("direct:slot", key) * len(eligible)).astype(int)
        sources = list(S.DIRECT_SOURCE_MIX)
        direct = pd.DataFrame(
            {
                "root": key * 2 + 1,
                "slot": eligible.slot.to_numpy()[pick],
                "created_ms": ms_of_day(day) + working_time_ms(r.uniform("direct:tod", key)),
                "source": np.array(sources)[
                    r.choice("direct:src", key, list(S.DIRECT_SOURCE_MIX.values()))
                ],
                "campaign": -1,
                "lead": -1,
            }
        )
        roots = pd.concat([from_leads, direct], ignore_index=True)
        roots = roots[roots.created_ms < self.end_ms]
        roots = roots.sort_values(["created_ms", "root"], ignore_index=True)
        # Tree-encoded keys: a root's key ends in 0b000, a child's in its kind (see _children).
        roots["opp"] = roots.root.to_numpy() << 3
        roots["type"] = NEW_BUSINESS
        roots["parent"] = -1
        roots["account"] = self._pick_accounts(
            roots.slot.to_numpy(), roots.created_ms.to_numpy(), roots.opp.to_numpy()
        )
        roots["base_usd"] = np.nan
        return roots.drop(columns="root")

    def _pick_accounts(self, slots, created_ms, keys) -> np.ndarray:
        acc = self.accounts
        slot_col = acc.slot.to_numpy()
        combo = slot_col.astype(np.int64) * (1 << 42) + acc.created_ms.to_numpy()
        block_start = np.searchsorted(slot_col, slots, side="left")
        available = (
            np.searchsorted(combo, slots.astype(np.int64) * (1 << 42) + created_ms, side="right")
            - block_start
        )
        available = np.maximum(available, 1)
        offset = (self.r.uniform("opp:account", keys) * available).astype(np.int64)
        return acc.account.to_numpy()[block_start + offset]

    def _lifecycle(self, opps: pd.DataFrame) -> pd.DataFrame:
        """Outcome, stage path, durations, close date and amounts of each deal."""
        r = self.r
        opps = opps.copy()
        key = opps.opp.to_numpy()
        accounts = self.accounts
        at = pd.Index(accounts.account.to_numpy()).get_indexer(opps.account.to_numpy())
        if (at < 0).any():
            raise KeyError("opportunity on an unknown account")
        segment = accounts.segment.to_numpy()[at]
        region = accounts.region.to_numpy()[at]
        opps["segment"] = accounts.segment.array.take(at)
        opps["region"] = accounts.region.array.take(at)
        opps["crm"] = accounts.crm.to_numpy()[at]
        created_day = day_of_ms(opps.created_ms.to_numpy())
        holder = self.holder_at(opps.slot.to_numpy(), created_day)
        skill = np.where(holder >= 0, self.holders.skill.to_numpy()[np.maximum(holder, 0)], 1.0)
        kind = opps.type.to_numpy()
        base = _lookup(segment, S.BASE_WIN_RATE)
        source_mult = _lookup(opps.source.to_numpy(), S.SOURCE_WIN_MULTIPLIER)
        source_mult = np.where(np.isnan(source_mult), 1.0, source_mult)
        p_win = base * source_mult * skill
        p_win = np.where(kind == EXPANSION, p_win * S.EXPANSION_WIN_MULTIPLIER, p_win)
        p_win = np.where(kind == RENEWAL, S.RENEWAL_WIN_RATE * skill**0.3, p_win)
        p_win = np.clip(p_win, 0.02, 0.97)
        won = r.uniform("opp:won", key) < p_win
        # Highest open stage reached: won deals pass every stage; renewals start at stage 4.
        first_stage = np.where(kind == RENEWAL, 4, 1)
        lost_at = 1 + r.choice("opp:lostat", key, [0.35, 0.25, 0.2, 0.12, 0.08])
        top = np.where(won, N_OPEN_STAGES, np.maximum(lost_at, first_stage))
        stage_no = np.arange(1, N_OPEN_STAGES + 1)
        visited = (stage_no[None, :] >= first_stage[:, None]) & (stage_no[None, :] <= top[:, None])
        skip = won & (kind != RENEWAL) & (r.uniform("opp:skip", key) < 0.1)
        skipped_stage = 2 + (r.uniform("opp:skipwhich", key) * 3).astype(int)
        visited[skip, skipped_stage[skip] - 1] = False
        median = _lookup(segment, S.STAGE_MEDIAN_DAYS)
        durations = np.stack(
            [
                r.lognormal("opp:dur", key, median, S.STAGE_SIGMA, draw=j)
                for j in range(N_OPEN_STAGES)
            ],
            axis=1,
        )
        durations = np.where(visited, durations, 0.0)
        total_days = np.maximum(durations.sum(axis=1), 1.0)
        created_ms = opps.created_ms.to_numpy()
        close_ms = created_ms + (total_days * DAY_MS).astype(np.int64)
        # Renewals close around the end of the term they renew.
        renew_target = opps.get("term_end_day", pd.Series(np.full(len(opps), -1))).to_numpy()
        renewal = kind == RENEWAL
        close_ms = np.where(
            renewal,
            ms_of_day(renew_target - (r.uniform("opp:renewearly", key) * 20).astype(int))
            + working_time_ms(r.uniform("opp:closetod", key)),
            close_ms,
        )
        close_day = day_of_ms(close_ms)
        _, q_end = quarter_bounds(close_day)
        pulled = (~renewal) & (r.uniform("opp:qend", key) < S.QUARTER_END_PULL)
        target = q_end - (r.uniform("opp:qendday", key) * S.QUARTER_END_WINDOW_DAYS).astype(int)
        move = pulled & (target > close_day)
        close_day = np.where(move, target, close_day)
        close_ms = np.where(
            move, ms_of_day(close_day) + working_time_ms(r.uniform("opp:closetod", key)), close_ms
        )
        close_ms = np.maximum(close_ms, created_ms + HOUR_MS)
        # Stage entry times spread over the (possibly stretched) deal life.
        cum = np.cumsum(durations, axis=1) - durations
        frac = cum / total_days[:, None]
        entry_ms = created_ms[:, None] + (frac * (close_ms - created_ms)[:, None]).astype(np.int64)
        entry_ms = np.where(visited, entry_ms, -1)
        first_col = first_stage - 1
        entry_ms[np.arange(len(opps)), first_col] = np.where(
            visited[np.arange(len(opps)), first_col], created_ms, -1
        )
        opps["won"] = won
        opps["p_win"] = p_win
        # A few deals are deleted (duplicates cleaned up, test records); they spawn nothing.
        opps["deleted"] = r.uniform("opp:deleted", key) < 0.004
        opps["close_ms"] = close_ms
        opps["first_stage"] = first_stage
        opps["top_stage"] = top
        for j in range(N_OPEN_STAGES):
            opps[f"entry_{j + 1}"] = entry_ms[:, j]
        opps["loss_reason"] = text_array(
            LOSS_REASONS,
            np.where(won, -1, r.choice("opp:lossreason", key, [0.3, 0.25, 0.25, 0.1, 0.05, 0.05])),
        )
        self._amounts(opps, key, segment, region, kind)
        term_start = np.where(
            renewal,
            opps.get("term_end_day", pd.Series(np.zeros(len(opps)))).to_numpy() + 1,
            day_of_ms(close_ms),
        )
        opps["term_start_day"] = np.where(won, term_start, -1)
        opps["term_end_day_new"] = np.where(won, add_months(term_start, S.TERM_MONTHS) - 1, -1)
        return opps

    def _amounts(self, opps, key, segment, region, kind) -> None:
        r = self.r
        median = _lookup(segment, S.DEAL_SIZE_USD)
        fresh = r.lognormal("opp:amount", key, median, S.DEAL_SIZE_SIGMA)
        parent_usd = opps.base_usd.to_numpy()
        change = r.choice("opp:renewchange", key, [0.6, 0.25, 0.15])
        renew_factor = np.select(
            [change == 0, change == 1],
            [1.0, 1.05 + 0.2 * r.uniform("opp:up", key)],
            0.7 + 0.25 * r.uniform("opp:down", key),
        )
        usd = np.select(
            [kind == EXPANSION, kind == RENEWAL],
            [
                parent_usd * S.EXPANSION_SHARE * (0.6 + 0.8 * r.uniform("opp:exp", key)),
                parent_usd * renew_factor,
            ],
            fresh,
        )
        if "currency_index" in opps.columns:
            currency_idx = opps.currency_index.to_numpy().astype(np.int64)
        else:
            currency_idx = np.zeros(len(opps), dtype=np.int64)
            for reg, mix in S.REGION_CURRENCIES.items():
                sel = region == reg
                codes = list(mix)
                pick = r.choice("opp:currency", key[sel], list(mix.values()))
                currency_idx[sel] = np.array([CURRENCIES.index(c) for c in codes])[pick]
        rate = self.rate_on(currency_idx, day_of_ms(opps.created_ms.to_numpy()))
        digits = np.where(currency_idx == CURRENCIES.index("JPY"), -2, 0)
        local = np.round(usd * rate / 10 ** (-digits)) * 10 ** (-digits)
        opps["currency_index"] = currency_idx
        opps["base_usd"] = usd
        opps["amount0"] = local
        # Amount edits while the deal is open.
        n_edits = r.choice("opp:nedits", key, [0.6, 0.3, 0.1])
        for j in range(2):
            u_time = r.uniform("opp:edit_t", key, j)
            factor = 0.75 + 0.55 * r.uniform("opp:edit_f", key, j)
            opps[f"edit_{j}_frac"] = np.where(n_edits > j, (j + u_time) / 2.0, np.nan)
            opps[f"edit_{j}_factor"] = factor

    def _children(self, opps: pd.DataFrame) -> pd.DataFrame:
        """Expansions after won deals and renewals before each won term ends."""
        r = self.r
        won = opps[opps.won & ~opps.deleted & (opps.close_ms < self.end_ms)]
        rows = []
        if len(won):
            key = won.opp.to_numpy()
            expands = (won.type.to_numpy() != EXPANSION) & (
                r.uniform("opp:expands", key) < S.EXPANSION_PROBABILITY
            )
            delay = (60 + r.uniform("opp:expdelay", key) * 210).astype(np.int64)
            exp = won[expands]
            created = ms_of_day(
                day_of_ms(exp.close_ms.to_numpy()) + delay[expands]
            ) + working_time_ms(r.uniform("opp:exptod", key[expands]))
            rows.append(self._child_frame(exp, EXPANSION, created))
            renewal_open = won.term_end_day_new.to_numpy() - S.RENEWAL_LEAD_DAYS
            created = ms_of_day(renewal_open) + working_time_ms(r.uniform("opp:rentod", key))
            ren = self._child_frame(won, RENEWAL, created)
            ren["term_end_day"] = won.term_end_day_new.to_numpy()
            rows.append(ren)
        children = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        if len(children):
            children = children[children.created_ms < self.end_ms].reset_index(drop=True)
        return children

    def _child_frame(
        self, parents: pd.DataFrame, kind: int, created_ms: np.ndarray
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "opp": (parents.opp.to_numpy() << 3) | kind,
                "slot": parents.slot.to_numpy(),
                "created_ms": created_ms,
                "source": parents.source.to_numpy(),
                "campaign": -1,
                "lead": -1,
                "type": kind,
                "parent": parents.opp.to_numpy(),
                "account": parents.account.to_numpy(),
                "base_usd": parents.base_usd.to_numpy(),
                "currency_index": parents.currency_index.to_numpy(),
                "term_end_day": -1,
            }
        )

    def _opportunity_events(self, opps: pd.DataFrame) -> pd.DataFrame:
        """Every change of every deal: creation, stage moves, close-date slips, edits, owners, deletes.

        Columns: opp, ts, and the new value of each field the event sets (NaN/-1 = unchanged).
        """
        r = self.r
        key = opps.opp.to_numpy()
        n = len(opps)
        created = opps.created_ms.to_numpy()
        close = opps.close_ms.to_numpy()
        won = opps.won.to_numpy()
        opps.top_stage.to_numpy()
        slot = opps.slot.to_numpy()
        # The events' columns, part by part (a field an event does not set is null: NaN, -1).
        columns = {name: [] for name in EVENT_COLUMNS}

        def add(mask, ts, **fields):
            idx = np.flatnonzero(mask)
            fields = {"row": idx, "ts": ts, **fields}
            for name, (dtype, null) in EVENT_COLUMNS.items():
                value = fields.get(name, null)
                value = np.asarray(value[idx] if np.ndim(value) and name != "row" else value)
                if value.dtype.kind == "f" and np.dtype(dtype).kind == "i":
                    value = np.where(np.isnan(value), null, value)  # as a frame's fillna(-1)
                columns[name].append(np.broadcast_to(value.astype(dtype), idx.shape))

        # Expected close dates: optimistic at creation, pushed while the deal slips.
        planned = (close - created) / DAY_MS
        expected = day_of_ms(created) + np.maximum(
            1, (planned * (0.55 + 0.4 * r.uniform("opp:optimism", key))).astype(np.int64)
        )
        renewal = opps.type.to_numpy() == RENEWAL
        expected = np.where(renewal, opps.term_end_day.to_numpy(), expected)
        stale = r.uniform("opp:stale", key) < S.STALE_DEAL_PROBABILITY
        # Forecast category and probability at each stage entry (rep overrides included).
        category_default = np.array([0, 0, 0, 1, 3])  # codes into EVENT_CATEGORIES
        probability_default = np.array([10.0, 20.0, 40.0, 60.0, 80.0])
        owner0 = self._owner_at(slot, created)
        first_stage = opps.first_stage.to_numpy()
        add(
            np.ones(n, bool),
            created,
            stage=first_stage,
            amount=opps.amount0.to_numpy(),
            close_day=expected,
            owner=owner0,
            category=category_default[first_stage - 1],
            probability=probability_default[first_stage - 1],
            created_event=True,
        )
        for j in range(1, N_OPEN_STAGES + 1):
            entry = opps[f"entry_{j}"].to_numpy()
            mask = (entry >= 0) & (j > first_stage)
            u = r.uniform("opp:category", key, j)
            category = np.where(
                (j >= 4) & (u < 0.2),
                EVENT_CATEGORIES.index("MostLikely"),
                np.where(u > 0.96, EVENT_CATEGORIES.index("Omitted"), category_default[j - 1]),
            )
            prob = probability_default[j - 1] + np.where(
                r.uniform("opp:probov", key, j) < 0.1, 10.0, 0.0
            )
            add(mask, entry, stage=np.full(n, j), category=category, probability=prob)
        # Close-date slips: when the expected date passes, the rep pushes it (unless stale).
        current = expected.copy()
        for k in range(3):
            when = ms_of_day(current) + (
                (1 + r.uniform("opp:slipday", key, k) * 4) * DAY_MS
            ).astype(np.int64)
            slips = (~stale) & (~renewal) & (when < close) & (current < day_of_ms(close))
            pushed = current + (15 + r.uniform("opp:slipby", key, k) * 30).astype(np.int64)
            add(slips, when, close_day=pushed)
            current = np.where(slips, pushed, current)
        # Amount edits.
        amount = opps.amount0.to_numpy().copy()
        for j in range(2):
            frac = opps[f"edit_{j}_frac"].to_numpy()
            mask = ~np.isnan(frac)
            when = created + (np.nan_to_num(frac) * (close - created)).astype(np.int64) + MINUTE_MS
            factor = opps[f"edit_{j}_factor"].to_numpy()
            digits = np.where(opps.currency_index.to_numpy() == CURRENCIES.index("JPY"), 2, 0)
            new_amount = np.round(amount * factor / 10.0**digits) * 10.0**digits
            new_amount = np.where(mask, new_amount, amount)
            add(mask, when, amount=new_amount)
            amount = new_amount
        # Owner change when the slot's rep leaves while the deal is open (most are reassigned).
        next_owner, change_ms = self._next_holder(slot, created)
        reassigned = (
            (change_ms > 0)
            & (change_ms < close)
            & (r.uniform("opp:reassign", key) > S.FORGOTTEN_REASSIGNMENT)
        )
        add(reassigned, change_ms, owner=next_owner)
        # Occasional clean-up after close: the owner at close differs from today's owner.
        cleanup_ms = close + ((10 + r.uniform("opp:cleanup_t", key) * 90) * DAY_MS).astype(np.int64)
        cleanup_owner = self._owner_at(slot, cleanup_ms)
        cleanup = (r.uniform("opp:cleanup", key) < 0.04) & (cleanup_owner >= 0)
        cleanup &= cleanup_owner != np.where(reassigned, next_owner, owner0)
        add(cleanup, cleanup_ms, owner=cleanup_owner)
        # Close.
        final_stage = np.where(won, STAGE_WON, STAGE_LOST)
        add(
            np.ones(n, bool),
            close,
            stage=final_stage,
            close_day=day_of_ms(close),
            category=np.where(
                won, EVENT_CATEGORIES.index("Closed"), EVENT_CATEGORIES.index("Omitted")
            ),
            probability=np.where(won, 100.0, 0.0),
            closed_event=True,
        )
        deleted = opps.deleted.to_numpy()
        delete_ms = created + (
            r.uniform("opp:delete_t", key) * (close - created + 30 * DAY_MS)
        ).astype(np.int64)
        add(deleted, delete_ms, deleted=True)
        col = {name: np.concatenate(columns.pop(name)) for name in EVENT_COLUMNS}
        row, ts = col.pop("row"), col.pop("ts")
        keep = ts < self.end_ms
        # Sorted by deal, time, then close (stable): opps are in key order, so by row.
        order = np.flatnonzero(keep)
        order = order[_stable_order(row[order], ts[order], col["closed_event"][order])]
        row, ts = row[order], ts[order]
        deleted = col["deleted"][order]
        # A deleted deal sits in the recycle bin: nothing changes after its deletion.
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]]) if len(row) else row
        deleted_ms = np.where(deleted, ts, np.iinfo(np.int64).max)
        first_delete = (
            np.repeat(np.minimum.reduceat(deleted_ms, starts), np.diff(np.r_[starts, len(row)]))
            if len(row)
            else deleted_ms
        )
        kept = ts <= first_delete
        order, row, ts = order[kept], row[kept], ts[kept]

        def column(name, dtype=None):
            values = col.pop(name)[order]  # each column is released once placed
            return values if dtype is None else values.astype(dtype)

        frame = {"ts": ts}
        frame["stage"] = column("stage", np.int64)
        frame["amount"] = column("amount")
        frame["close_day"] = column("close_day", np.int64)
        frame["owner"] = column("owner", np.int64)
        frame["category"] = text_array(EVENT_CATEGORIES, column("category"))
        frame["probability"] = column("probability")
        for name in ("created_event", "closed_event", "deleted"):
            frame[name] = column(name)
        frame["opp"] = key[row]
        return pd.DataFrame(frame, copy=False)

    def _owner_at(self, slots: np.ndarray, ms: np.ndarray) -> np.ndarray:
        """User holding the slot at an instant; a vacant slot's deals stay with the last holder."""
        days = day_of_ms(ms)
        pos = self.holder_at(slots, days)
        h = self.holders
        combo = h.slot.to_numpy() * (1 << 24) + h.start_day.to_numpy()
        last = np.maximum(np.searchsorted(combo, slots * (1 << 24) + days, side="right") - 1, 0)
        pos = np.where(pos >= 0, pos, last)
        return h.user.to_numpy()[pos]

    def _next_holder(self, slots: np.ndarray, ms: np.ndarray):
        """The next rep to take over the slot after the current holder, and when."""
        h = self.holders
        combo = h.slot.to_numpy() * (1 << 24) + h.start_day.to_numpy()
        cur = np.maximum(
            np.searchsorted(combo, slots * (1 << 24) + day_of_ms(ms), side="right") - 1, 0
        )
        nxt = np.minimum(cur + 1, len(h) - 1)
        same = (h.slot.to_numpy()[nxt] == slots) & (nxt != cur)
        change = np.where(same, ms_of_day(h.start_day.to_numpy()[nxt]) + 8 * HOUR_MS, -1)
        return np.where(same, h.user.to_numpy()[nxt], -1), change

    def _convert_leads(self) -> None:
        """Link converted leads to the account, a new contact and the opportunity they created."""
        opps = self.opportunities
        from_lead = opps[(opps.lead >= 0) & (opps.type == NEW_BUSINESS)]
        leads = self.leads.set_index("lead")
        leads["converted_opp"] = -1
        leads["converted_account"] = -1
        leads["converted_contact"] = -1
        leads.loc[from_lead.lead.to_numpy(), "converted_opp"] = from_lead.opp.to_numpy()
        leads.loc[from_lead.lead.to_numpy(), "converted_account"] = from_lead.account.to_numpy()
        converted = leads[leads.converted_opp >= 0]
        # Conversion turns the lead into a new contact on the account.
        new_contacts = pd.DataFrame(
            {
                "contact": (1 << 45) + converted.index.to_numpy(),
                "account": converted.converted_account.to_numpy(),
                "crm": converted.crm.to_numpy(),
                "slot": converted.slot.to_numpy(),
                "created_ms": converted.converted_ms.to_numpy(),
                "first_name": converted.first_name.to_numpy(),
                "last_name": converted.last_name.to_numpy(),
                "source": converted.source.to_numpy(),
                "lead": converted.index.to_numpy(),
                "duplicate_of": -1,
                "email": converted.email.to_numpy(),
            }
        )
        leads.loc[converted.index, "converted_contact"] = new_contacts.contact.to_numpy()
        self.leads = leads.reset_index()
        contacts = pd.concat([self.contacts, new_contacts], ignore_index=True)
        self.contacts = self._duplicate_contacts(contacts)

    def _duplicate_contacts(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """Defect: the same person entered twice (same email), to be deduplicated downstream."""
        key = contacts.contact.to_numpy()
        dup = self.r.uniform("contact:dup", key) < self.dirty
        src = contacts[dup]
        copies = src.copy()
        copies["duplicate_of"] = src.contact.to_numpy()
        copies["contact"] = (1 << 46) + src.contact.to_numpy()
        copies["created_ms"] = src.created_ms.to_numpy() + (
            (1 + self.r.uniform("contact:duplag", key[dup]) * 30) * DAY_MS
        ).astype(np.int64)
        copies = copies[copies.created_ms < self.end_ms]
        copies["merged_ms"] = self._merge_ms(copies)
        contacts["merged_ms"] = np.int64(-1)
        return pd.concat([contacts, copies], ignore_index=True).sort_values(
            "contact", ignore_index=True
        )

    def _merge_ms(self, copies: pd.DataFrame) -> np.ndarray:
        """When each Salesforce duplicate is merged into its original (-1: HubSpot, never).

        Merges happen only after the initial as-of date, as the org is advanced: the org of the
        as-of date keeps every duplicate for the pipeline to deduplicate. The instant depends on
        the duplicate and the as-of date alone, so any horizon sees the same merges.
        """
        key = copies.contact.to_numpy()
        found_day = np.maximum(day_of_ms(copies.created_ms.to_numpy()), day_number(self.as_of))
        wait = self.r.exponential("contact:merge", key, S.MERGE_MEAN_DAYS).astype(np.int64)
        merged = ms_of_day(found_day + 1 + wait) + working_time_ms(
            self.r.uniform("contact:merge_tod", key)
        )
        return np.where(copies.crm.to_numpy() == SALESFORCE, merged, -1).astype(np.int64)

    def _logged_on_duplicate(
        self, contact: np.ndarray, at_ms: np.ndarray, keys: np.ndarray, stream: str
    ) -> np.ndarray:
        """The contact each activity or touch is logged on: while a person has a live Salesforce
        duplicate, reps log part of them on whichever of the two records they find first."""
        copies = self.contacts[self.contacts.merged_ms >= 0]
        if not len(copies):
            return contact
        index = pd.Index(copies.duplicate_of.to_numpy()).get_indexer(contact)
        at = np.maximum(index, 0)
        live = (
            (index >= 0)
            & (at_ms >= copies.created_ms.to_numpy()[at])
            & (at_ms < copies.merged_ms.to_numpy()[at])
        )
        moved = live & (self.r.uniform(stream, keys) < S.DUPLICATE_LOGGED_SHARE)
        return np.where(moved, copies.contact.to_numpy()[at], contact)

    # ---------------------------------------------------------------- activities
    def _activities(self) -> pd.DataFrame:
        """Calls, emails, meetings and tasks on deals; more of them on deals that are won."""
        r = self.r
        opps = self.opportunities
        key = opps.opp.to_numpy()
        seg_factor = _lookup(
            opps.segment.to_numpy(), {"SMB": 0.8, "Mid-Market": 1.0, "Enterprise": 1.5}
        )
        lam = self.scale.activity_rate * seg_factor * np.where(opps.won.to_numpy(), 1.5, 0.85)
        count = np.minimum(r.poisson("act:n", key, lam), 63)
        row = np.repeat(np.arange(len(opps)), count)
        ordinal = _ordinals(count)
        akey = key[row] * 64 + ordinal
        created_opp = opps.created_ms.to_numpy()[row]
        close = opps.close_ms.to_numpy()[row]
        life = np.maximum(np.minimum(close, created_opp + 400 * DAY_MS) - created_opp, HOUR_MS)
        when = created_opp + (r.uniform("act:when", akey) * life).astype(np.int64)
        kind = r.choice("act:type", akey, [0.4, 0.35, 0.15, 0.10])  # call, email, meeting, task
        planned_ahead = (r.uniform("act:ahead", akey) * 5 * DAY_MS).astype(np.int64)
        created = np.maximum(when - planned_ahead, created_opp)
        completed = r.uniform("act:done", akey) < 0.92
        duration = np.select(
            [kind == 0, kind == 2],
            [
                np.round(2 + r.exponential("act:dur", akey, 8.0)),
                np.where(r.uniform("act:mlen", akey) < 0.6, 30, 60),
            ],
            0,
        ).astype(np.int64)
        # Only the activities created by the horizon are kept.
        kept = created < self.end_ms
        row, akey, kind, when = row[kept], akey[kept], kind[kept], when[kept]
        slot = opps.slot.to_numpy()[row]
        contact = self._contact_of_account(opps.account.to_numpy()[row], created[kept], akey)
        contact = self._logged_on_duplicate(contact, created[kept], akey, "act:duplicate")
        return pd.DataFrame(
            {
                "activity": akey,
                "opp": key[row],
                "account": opps.account.to_numpy()[row],
                "slot": slot,
                "crm": opps.crm.to_numpy()[row],
                "kind": kind,
                "created_ms": created[kept],
                "due_ms": when,
                "completed_ms": np.where(completed[kept], when + 30 * MINUTE_MS, -1),
                "duration_minutes": duration[kept],
                # Whoever held the deal when the activity was logged or planned: an open task
                # due after a new rep takes over must not name a user who does not exist yet.
                "owner": self._owner_at(slot, created[kept]),
                "contact": contact,
            },
            copy=False,
        )

    def _contact_of_account(
        self, accounts: np.ndarray, at_ms: np.ndarray, keys: np.ndarray
    ) -> np.ndarray:
        """A contact of each account that exists at ``at_ms`` (per key), -1 if none does yet.

        Only contacts created by then are candidates, so the pick does not depend on how far
        ahead the org is generated (later contacts would shift it) and never names a contact
        before it exists.
        """
        contacts = self.contacts[self.contacts.duplicate_of < 0]
        rank = pd.Index(np.unique(contacts.account.to_numpy()))
        contact_rank = rank.get_indexer(contacts.account.to_numpy()).astype(np.int64)
        # (account rank, creation instant) packed in one sortable int64 (instants < 2^42 ms).
        packed = (contact_rank << 42) + contacts.created_ms.to_numpy()
        order = np.argsort(packed, kind="stable")
        packed, contact_keys = packed[order], contacts.contact.to_numpy()[order]
        account_rank = rank.get_indexer(accounts).astype(np.int64)
        start = np.searchsorted(packed, account_rank << 42, side="left")
        end = np.searchsorted(packed, (account_rank << 42) + at_ms, side="right")
        size = np.where(account_rank >= 0, end - start, 0)
        offset = (self.r.uniform("act:contact", keys) * np.maximum(size, 1)).astype(np.int64)
        return np.where(
            size > 0, contact_keys[np.minimum(start + offset, len(contact_keys) - 1)], -1
        )

    # ---------------------------------------------------------------- touches
    def _campaign_members(self) -> pd.DataFrame:
        """Campaign responses of leads (their source campaign) and of contacts (nurture touches)."""
        r = self.r
        leads = self.leads[(self.leads.campaign >= 0) & (self.leads.crm == SALESFORCE)]
        lead_members = pd.DataFrame(
            {
                "member": leads.lead.to_numpy() * 2,
                "campaign": leads.campaign.to_numpy(),
                "lead": leads.lead.to_numpy(),
                "contact": -1,
                "created_ms": leads.created_ms.to_numpy(),
                "responded_ms": leads.created_ms.to_numpy(),
            }
        )
        contacts = self.contacts[
            (self.contacts.crm == SALESFORCE) & (self.contacts.duplicate_of < 0)
        ]
        ckey = contacts.contact.to_numpy()
        n = np.minimum(r.poisson("cm:n", ckey, 1.2), 6)
        row = np.repeat(np.arange(len(contacts)), n)
        ordinal = _ordinals(n)
        mkey = ckey[row] * 8 + ordinal
        camp = self.campaigns[self.campaigns.channel.isin(["Web", "Event", "Paid Search"])]
        region = (
            self.accounts.set_index("account")
            .region.reindex(contacts.account.to_numpy()[row])
            .to_numpy()
        )
        # A touch some time after the contact exists (campaign lists are uploaded with it).
        joined = contacts.created_ms.to_numpy()[row] + (
            np.maximum(r.uniform("cm:when", mkey) * 300 - 30, 0) * DAY_MS
        ).astype(np.int64)
        joined = np.maximum(joined, ms_of_day(self.start_day) + HOUR_MS)
        joined_q = quarter_bounds(day_of_ms(joined))[0]
        campaign = np.full(len(mkey), -1, dtype=np.int64)
        pick = r.uniform("cm:campaign", mkey)
        by_region = {reg: camp[camp.region == reg] for reg in REGIONS}
        for reg, options in by_region.items():
            sel = region == reg
            if not sel.any() or not len(options):
                continue
            starts = options.start_day.to_numpy()
            always_on = starts < self.start_day
            rows = np.flatnonzero(sel)
            # A campaign running in the quarter of the touch (or an always-on one).
            for quarter in np.unique(joined_q[rows]):
                ok = options.campaign.to_numpy()[(starts == quarter) | always_on]
                if len(ok):
                    at = rows[joined_q[rows] == quarter]
                    campaign[at] = ok[(pick[at] * len(ok)).astype(np.int64)]
        responded = r.uniform("cm:resp", mkey) < 0.45
        contact_members = pd.DataFrame(
            {
                "member": mkey * 2 + 1,
                "campaign": campaign,
                "lead": -1,
                "contact": self._logged_on_duplicate(ckey[row], joined, mkey, "cm:duplicate"),
                "created_ms": joined,
                "responded_ms": np.where(
                    responded,
                    joined + (r.uniform("cm:resplag", mkey) * 3 * DAY_MS).astype(np.int64),
                    -1,
                ),
            }
        )
        contact_members = contact_members[contact_members.campaign >= 0]
        members = pd.concat([lead_members, contact_members], ignore_index=True)
        return members[members.created_ms < self.end_ms].reset_index(drop=True)

    def _email_events(self) -> pd.DataFrame:
        """HubSpot marketing email sends every two weeks to a share of contacts, with opens and clicks."""
        r = self.r
        contacts = self.contacts[(self.contacts.crm == HUBSPOT) & (self.contacts.duplicate_of < 0)]
        contacts = contacts.sort_values(["created_ms", "contact"])
        created = contacts.created_ms.to_numpy()
        frames = []
        for send_day in range(self.start_day + 3, self.horizon_day + 1, 14):
            send_ms = ms_of_day(send_day) + 15 * HOUR_MS
            n_exist = np.searchsorted(created, send_ms)
            if not n_exist:
                continue
            ckeys = contacts.contact.to_numpy()[:n_exist]
            send_index = (send_day - self.start_day) // 14
            keys = (send_index << 32) + np.arange(n_exist, dtype=np.int64)
            chosen = r.uniform("mail:send", keys) < 0.15
            keys, ckeys = keys[chosen], ckeys[chosen]
            delivered = r.uniform("mail:delivered", keys) < 0.97
            opened = delivered & (r.uniform("mail:open", keys) < 0.25)
            clicked = opened & (r.uniform("mail:click", keys) < 0.2)
            campaign_id = 500 + (send_day - self.start_day) // 14
            for code, (mask, lag_hours) in enumerate(
                [(np.ones(len(keys), bool), 0.0), (delivered, 0.01), (opened, 6.0), (clicked, 7.0)]
            ):
                lag = (r.uniform("mail:lag", keys[mask], code) * lag_hours * HOUR_MS).astype(
                    np.int64
                )
                frames.append(
                    pd.DataFrame(
                        {
                            "event": keys[mask] * 4 + code,
                            "contact": ckeys[mask],
                            "type_code": code,
                            "created_ms": send_ms + lag + code,
                            "email_campaign_id": campaign_id,
                        }
                    )
                )
        if not frames:
            return pd.DataFrame(
                columns=["event", "contact", "type_code", "created_ms", "email_campaign_id"]
            )
        events = pd.concat(frames, ignore_index=True)
        return events[events.created_ms < self.end_ms].sort_values(
            ["created_ms", "event"], ignore_index=True
        )

    # ---------------------------------------------------------------- quotas
    def _quotas(self) -> pd.DataFrame:
        """Full (unramped) quarterly quota per Salesforce rep, entered two weeks before the quarter."""
        reps = self.users[(self.users.role == "rep") & (self.users.crm == SALESFORCE)]
        q_starts = np.unique(quarter_bounds(np.arange(self.start_day, self.horizon_day + 100))[0])
        rows = []
        for q in q_starts:
            q_end = quarter_bounds([q])[1][0]
            active = reps[(reps.hire_day <= q_end) & ((reps.term_day < 0) | (reps.term_day >= q))]
            years = (q - self.start_day) // 365
            base = (
                active.segment.map(S.QUARTERLY_QUOTA_USD).to_numpy() * (1 + S.QUOTA_GROWTH) ** years
            )
            jitter = 0.9 + 0.2 * self.r.uniform("quota", active.user.to_numpy())
            rows.append(
                pd.DataFrame(
                    {
                        "quota": active.user.to_numpy() * 4096 + (q - self.start_day) // 90,
                        "user": active.user.to_numpy(),
                        "quarter_start_day": q,
                        "amount": np.round(base * jitter, -3),
                        "created_ms": ms_of_day(np.maximum(q - 14, active.hire_day.to_numpy()))
                        + 10 * HOUR_MS,
                    }
                )
            )
        quotas = pd.concat(rows, ignore_index=True)
        return quotas[quotas.created_ms < self.end_ms].reset_index(drop=True)

    # ---------------------------------------------------------------- defects
    def _defects(self) -> pd.DataFrame:
        """Labels of the defects injected at the dirty rate (awkward states are labelled per view)."""
        opps = self.opportunities
        key = opps.opp.to_numpy()
        hit = self.r.uniform("defect:opp", key) < self.dirty
        kinds_sf = np.array(S.OPPORTUNITY_DEFECTS)
        kinds_hs = np.array(S.HUBSPOT_DEAL_DEFECTS)
        pick = self.r.uniform("defect:kind", key)
        crm = opps.crm.to_numpy()
        kind = np.where(
            crm == SALESFORCE,
            kinds_sf[(pick * len(kinds_sf)).astype(int)],
            kinds_hs[(pick * len(kinds_hs)).astype(int)],
        )
        frame = pd.DataFrame(
            {"entity": "opportunity", "key": key[hit], "defect": kind[hit], "crm": crm[hit]}
        )
        dups = self.contacts[self.contacts.duplicate_of >= 0]
        frame = pd.concat(
            [
                frame,
                pd.DataFrame(
                    {
                        "entity": "contact",
                        "key": dups.contact.to_numpy(),
                        "defect": "duplicate_contact",
                        "crm": dups.crm.to_numpy(),
                    }
                ),
            ],
            ignore_index=True,
        )
        return frame
