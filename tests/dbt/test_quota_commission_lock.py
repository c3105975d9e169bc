"""The commission lock on a copy of the tiny warehouse: a paid number never changes silently.

The tiny build (as of 2026-11-26, var commission_lock_days 15) froze every quarter through
FY2026-Q3 in the ledger int_commissions_frozen. Then a CRM edit doubles a won deal of a locked
quarter (in the raw Salesforce table, as a sync would land it) and the models from
fct_opportunities down are rebuilt night after night:

1. as of 2026-11-27: the locked quarter still shows the frozen payout; the edit's commission
   difference - recomputed here in Python from the seeds' plan - is an adjustment in the current
   payout period, FY2026-Q4;
2. as of 2027-01-20: FY2026-Q4 locks; its adjustment freezes with it and is paid once;
3. the same night again with --full-refresh: the ledger and mart_commissions are unchanged.
"""

from __future__ import annotations

import csv
import shutil

import duckdb
import pytest

from tests.dbt.conftest import PROJECT_DIR, connect, run_dbt

SEEDS = PROJECT_DIR / "seeds" / "quota"
# the first night carries the edited deal from the raw table through whatever upstream tables
# exist; the later nights rebuild the quota and commission models only
NIGHTS = [
    ("next_night", "2026-11-27", ["--select", "+fct_opportunities", "int_quotas_ramped_monthly+"]),
    ("q4_locked", "2027-01-20", ["--select", "int_quotas_ramped_monthly+"]),
    ("full_refresh", "2027-01-20", ["--select", "int_quotas_ramped_monthly+", "--full-refresh"]),
]


def seed(name: str) -> list[dict]:
    with open(SEEDS / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def commission(plan_id: str, bookings: float, quota: float) -> float:
    """The seed plan's quarterly commission, from sales-metrics §6, written independently."""
    plan = next(p for p in seed("commission_plans") if p["plan_id"] == plan_id)
    tiers = sorted(
        (int(t["tier"]), float(t["lower_attainment"]), float(t["rate"]))
        for t in seed("commission_plan_tiers")
        if t["plan_id"] == plan_id
    )
    if quota <= 0:
        return bookings * tiers[0][2]

    def tiered(b: float) -> float:
        total = 0.0
        for i, (_, lower, rate) in enumerate(tiers):
            upper = tiers[i + 1][1] * quota if i + 1 < len(tiers) else float("inf")
            total += rate * max(0.0, min(b, upper) - lower * quota)
        return total

    if plan["cap_type"] == "attainment":
        bookings = min(bookings, float(plan["cap_value"]) * quota)
    earned = tiered(bookings)
    if plan["decelerator_below_attainment"]:
        threshold = float(plan["decelerator_below_attainment"]) * quota
        cut = 1 - float(plan["decelerator_rate_multiplier"])
        if plan["decelerator_is_retroactive"] == "true":
            earned -= cut * earned if bookings < threshold else 0.0
        else:
            earned -= cut * tiered(min(bookings, threshold))
    if plan["cap_type"] == "payout":
        earned = min(earned, float(plan["cap_value"]) * tiered(quota))
    return earned


def query(warehouse, sql: str, params=None):
    con = connect(warehouse)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def lock_runs(tiny_build, tmp_path_factory):
    built = {uid.split(".")[-1]: status for uid, status, _ in tiny_build.build.results}
    for model in ["int_commissions_frozen", "mart_commissions", "fct_opportunities"]:
        assert built.get(model) == "success", tiny_build.build.describe()
    tmp = tmp_path_factory.mktemp("quota_lock")
    warehouse = tmp / "warehouse.duckdb"
    shutil.copy(tiny_build.warehouse, warehouse)
    # the biggest won Salesforce deal of the latest locked quarter that paid commission
    (rep_id, quarter, plan_id, paid, bookings, quota, deal_id, deal_amount) = query(
        warehouse,
        """
        select c.rep_id, c.fiscal_quarter, c.plan_id, c.commission_amount,
            c.commissionable_bookings_amount, c.quota_amount, o.opportunity_id,
            o.opportunity_amount
        from marts.mart_commissions as c
        inner join marts.fct_opportunities as o
            on o.owner_rep_id_at_close = c.rep_id
            and o.fiscal_quarter_closed = c.fiscal_quarter
            and o.is_won
            and o.source_system = 'salesforce'
        where c.is_locked and c.commission_amount > 0 and c.attainment_basis = 'quarter'
        order by c.fiscal_quarter desc, o.opportunity_amount desc
        limit 1
        """,
    )[0]
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "update raw_salesforce.opportunity set amount = amount * 2 where id = ?", [deal_id]
        )
    finally:
        con.close()
    case = {
        "rep_id": rep_id,
        "quarter": quarter,
        "plan_id": plan_id,
        "paid": paid,
        "bookings": bookings,
        "quota": quota,
        "new_bookings": bookings + deal_amount,
    }
    runs = {}
    for name, as_of, selection in NIGHTS:
        run = run_dbt(
            ["run", *selection],
            warehouse=warehouse,
            work_dir=tmp,
            variables={"as_of_date": as_of},
        )
        assert run.success, run.describe()
        runs[name] = {
            "ledger": query(
                warehouse,
                "select * from ledger.int_commissions_frozen order by all",
            ),
            "commissions": query(
                warehouse,
                "select * exclude (as_of_date) from marts.mart_commissions order by all",
            ),
            "rows": {
                row[1]: row
                for row in query(
                    warehouse,
                    "select rep_id, fiscal_quarter, is_locked, commission_amount, "
                    "adjustment_amount, payout_amount, commissionable_bookings_amount "
                    "from marts.mart_commissions where rep_id = ?",
                    [rep_id],
                )
            },
            "adjustments": query(
                warehouse,
                "select fiscal_quarter, source_fiscal_quarter, adjustment_amount, "
                "adjustment_bookings_amount, frozen_on_as_of_date "
                "from ledger.int_commissions_frozen "
                "where line_type = 'adjustment' and rep_id = ?",
                [rep_id],
            ),
        }
    return case, runs


def test_the_frozen_payout_is_the_plan_applied_to_what_was_known(lock_runs):
    case, _ = lock_runs
    expected = commission(case["plan_id"], case["bookings"], case["quota"])
    assert case["paid"] == pytest.approx(expected, abs=0.005)


def test_an_edit_to_a_locked_quarter_is_an_adjustment_in_the_current_period(lock_runs):
    case, runs = lock_runs
    rows = runs["next_night"]["rows"]
    locked = rows[case["quarter"]]
    assert locked[2] is True
    assert locked[3] == pytest.approx(case["paid"], abs=1e-9)  # frozen, not recomputed
    assert locked[6] == pytest.approx(case["bookings"], abs=1e-9)
    delta = commission(case["plan_id"], case["new_bookings"], case["quota"]) - case["paid"]
    assert delta > 1
    current = rows["FY2026-Q4"]
    assert current[2] is False
    assert current[4] == pytest.approx(round(delta, 2), abs=0.005)
    assert current[5] == pytest.approx((current[3] or 0) + current[4], abs=1e-6)
    assert runs["next_night"]["adjustments"] == []  # not frozen until FY2026-Q4 locks


def test_the_adjustment_freezes_with_its_period_and_is_paid_once(lock_runs):
    case, runs = lock_runs
    delta = round(
        commission(case["plan_id"], case["new_bookings"], case["quota"]) - case["paid"], 2
    )
    adjustments = runs["q4_locked"]["adjustments"]
    assert len(adjustments) == 1
    paid_in, source, amount, bookings_delta, frozen_on = adjustments[0]
    assert (paid_in, source, str(frozen_on)) == ("FY2026-Q4", case["quarter"], "2027-01-20")
    assert amount == pytest.approx(delta, abs=0.005)
    assert bookings_delta == pytest.approx(case["new_bookings"] - case["bookings"], abs=0.005)
    rows = runs["q4_locked"]["rows"]
    assert rows["FY2026-Q4"][2] is True and rows["FY2026-Q4"][4] == pytest.approx(delta, abs=0.005)
    assert rows[case["quarter"]][3] == pytest.approx(case["paid"], abs=1e-9)
    assert rows.get("FY2027-Q1") is None or rows["FY2027-Q1"][4] == 0


def test_a_full_refresh_changes_no_paid_number(lock_runs):
    _, runs = lock_runs
    assert runs["full_refresh"]["ledger"] == runs["q4_locked"]["ledger"]
    assert runs["full_refresh"]["commissions"] == runs["q4_locked"]["commissions"]
    lines = runs["q4_locked"]["ledger"]
    assert len(lines) > len(runs["next_night"]["ledger"])  # Q4's lock, payouts and adjustment
