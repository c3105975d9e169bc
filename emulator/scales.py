"""Scale presets and the behavioural settings of the synthetic org.

The settings are the generator's claims about the org; tests measure the generated truth
against them (win rates by segment, quarter-end seasonality, cycle lengths, defect rates).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    reps: int  # quota-carrying reps at the start (both CRMs)
    accounts: int
    new_business_per_year: int  # new-business opportunities created per year (roots of chains)
    leads_per_year: int
    activity_rate: float  # mean activities per opportunity
    contacts_per_account: float
    ads_daily_clicks: float  # Google Ads clicks per campaign per day
    managers_per_cell: int  # most first-line managers (pods) in one region x segment cell


SCALES = {
    "tiny": Scale("tiny", 9, 40, 12, 40, 4.0, 1.5, 20, 1),
    "small": Scale("small", 30, 3_000, 3_400, 12_000, 7.0, 2.0, 120, 2),
    "medium": Scale("medium", 300, 100_000, 230_000, 500_000, 5.0, 2.0, 2_000, 3),
    "large": Scale("large", 3_000, 1_000_000, 2_300_000, 5_000_000, 5.0, 2.0, 20_000, 20),
}

# Share of reps (and their books) that live in the acquired HubSpot business unit.
HUBSPOT_SHARE = 0.2
HUBSPOT_CELLS = (("NA", "SMB"), ("EMEA", "SMB"), ("NA", "Mid-Market"))

SEGMENT_WEIGHTS = {"SMB": 0.45, "Mid-Market": 0.35, "Enterprise": 0.20}
REGION_WEIGHTS = {"NA": 0.5, "EMEA": 0.3, "APAC": 0.2}

# Win probability of a new-business deal: base by segment x lead-source multiplier x rep skill.
BASE_WIN_RATE = {"SMB": 0.32, "Mid-Market": 0.26, "Enterprise": 0.20}
SOURCE_WIN_MULTIPLIER = {
    "Web": 1.0,
    "Paid Search": 0.85,
    "Event": 1.1,
    "Outbound": 0.7,
    "Partner": 1.3,
}
EXPANSION_WIN_MULTIPLIER = 1.8
RENEWAL_WIN_RATE = 0.85
REP_SKILL_SIGMA = 0.25

# Median days spent in each open stage, by segment (lognormal, sigma below).
STAGE_MEDIAN_DAYS = {"SMB": 7.0, "Mid-Market": 13.0, "Enterprise": 24.0}
STAGE_SIGMA = 0.5
# Probability that a closing deal is pulled to the last days of its quarter.
QUARTER_END_PULL = 0.35
QUARTER_END_WINDOW_DAYS = 10

# Typical new-business amount in USD (lognormal median) by segment.
DEAL_SIZE_USD = {"SMB": 12_000.0, "Mid-Market": 45_000.0, "Enterprise": 160_000.0}
DEAL_SIZE_SIGMA = 0.45
EXPANSION_PROBABILITY = 0.35
EXPANSION_SHARE = 0.4
RENEWAL_LEAD_DAYS = 90
TERM_MONTHS = 12

# Quarterly quota (USD) by segment in the first fiscal year; grows each year.
QUARTERLY_QUOTA_USD = {"SMB": 120_000.0, "Mid-Market": 320_000.0, "Enterprise": 800_000.0}
QUOTA_GROWTH = 0.08

# Lead funnel.
MQL_RATE = {"Web": 0.45, "Paid Search": 0.35, "Event": 0.5, "Outbound": 0.2, "Partner": 0.6}
SQL_RATE = 0.55
CONVERSION_RATE = 0.65
LEAD_SOURCE_MIX = {"Web": 0.3, "Paid Search": 0.25, "Event": 0.15, "Outbound": 0.2, "Partner": 0.1}
# Share of new business created directly on existing accounts (no lead), by source.
DIRECT_SOURCE_MIX = {"Outbound": 0.6, "Partner": 0.25, "Event": 0.15}

# People.
ANNUAL_ATTRITION = 0.22
HEADCOUNT_GROWTH = 0.10
# A manager leads at least this many reps: a cell splits into pods only when it is big enough.
MIN_REPS_PER_MANAGER = 2
REORG_EVERY_QUARTERS = 2
REORG_SHARE = 0.15

# Currencies: units per 1 USD at the start, and the monthly volatility of the dated rates.
BASE_RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 150.0}
RATE_MONTHLY_SIGMA = 0.02
REGION_CURRENCIES = {
    "NA": {"USD": 1.0},
    "EMEA": {"EUR": 0.6, "GBP": 0.4},
    "APAC": {"JPY": 0.6, "USD": 0.4},
}

# Defects (as a share of records, at the default dirty rate).
DEFAULT_DIRTY_RATE = 0.005
OPPORTUNITY_DEFECTS = (
    "invalid_negative_amount",
    "invalid_future_created_date",
    "invalid_probability",
    "invalid_currency",
    "awkward_null_amount",
)
HUBSPOT_DEAL_DEFECTS = (
    "invalid_negative_amount",
    "invalid_future_created_date",
    "invalid_currency",
    "awkward_null_amount",
)
INVALID_CURRENCY_CODE = "XYZ"
# Salesforce duplicate contacts: while both records live, reps log this share of the person's
# activities and campaign touches on the duplicate; once the org runs past its initial as-of date,
# an admin merges each duplicate into the original after an exponential wait with this mean.
DUPLICATE_LOGGED_SHARE = 0.5
MERGE_MEAN_DAYS = 20.0
STALE_DEAL_PROBABILITY = 0.08  # reps who never update the close date of a slipping deal
FORGOTTEN_REASSIGNMENT = 0.1  # open deals left with a departed (deactivated) owner
