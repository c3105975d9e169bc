"""The raw gate: GX suites on the current syncs' rows, SQL table checks, quarantine and flags."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestration.quality import raw_gate
from orchestration.quality.outcome import FAILED, PASSED, WARNED
from orchestration.quality.raw_gate import GateConfig, check_table, flagged_keys, quarantined_keys
from tests.quality.support import (
    AS_OF,
    OPPORTUNITY,
    SYNC_1,
    SYNC_2,
    SYNC_3,
    connect,
    land,
    opportunity,
    salesforce_references,
)

STREAMS = {
    "Opportunity": "opportunity",
    "deals": "deals",
    "Contact": "contact",
    "contacts": "contacts",
}


def raw_tables(con) -> list[tuple[str, str]]:
    found = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('raw_salesforce', 'raw_hubspot', 'raw_google_ads') "
        "AND NOT contains(table_name, '__') ORDER BY 1, 2"
    ).fetchall()
    return [(schema.removeprefix("raw_"), table) for schema, table in found]


def gate_all(warehouse, config: GateConfig | None = None) -> dict:
    con = connect(warehouse)
    try:
        return {
            (s, t): check_table(con, s, t, as_of=AS_OF, config=config) for s, t in raw_tables(con)
        }
    finally:
        con.close()


def assert_counts_match_labels(warehouse, labels) -> None:
    """Every defect kind's expectation selects exactly the rows the emulator labels."""
    con = connect(warehouse)
    try:
        for (system, obj, defect), group in labels.groupby(["source_system", "object", "defect"]):
            stream = STREAMS[obj]
            expected = set(group.record_id)
            if defect.startswith("invalid_"):
                got = quarantined_keys(con, system, stream, defect)
            else:  # duplicates (deduplicate) and awkward states (keep and flag)
                got = flagged_keys(con, system, stream, defect)
            assert got == expected, (system, stream, defect, got ^ expected)
    finally:
        con.close()


def test_dirty_org_fails_the_raw_gate_naming_table_expectation_count_and_examples(
    dirty_org, tmp_path
):
    warehouse = dirty_org.copy(tmp_path)
    outcomes = gate_all(warehouse)
    failed = {key: o for key, o in outcomes.items() if o.status == FAILED}
    assert set(failed) == {("salesforce", "opportunity"), ("hubspot", "deals")}
    opportunity_outcome = failed[("salesforce", "opportunity")]
    message = opportunity_outcome.describe()
    assert "raw_salesforce.opportunity" in message
    assert "quarantined_share" in message
    # the expectation, its reason code, the count and examples with the offending value
    assert "invalid_probability [expect_column_values_to_be_between(probability" in message
    labels = dirty_org.labels()
    n_probability = int((labels.defect == "invalid_probability").sum())
    assert (
        f"invalid_probability [expect_column_values_to_be_between(probability, min_value=0.0, max_value=100.0)]: {n_probability} row(s), e.g."
        in message
    )
    assert "probability=150.0" in message
    deals = failed[("hubspot", "deals")].describe()
    assert "invalid_currency [expect_column_values_to_be_in_set(currency_code" in deals
    assert "currency_code=XYZ" in deals
    # every other table passes; awkward rows are flagged, never quarantined
    assert all(
        o.status in (PASSED, "not_applicable") for k, o in outcomes.items() if k not in failed
    )
    assert opportunity_outcome.flagged_by_reason.get("awkward_null_amount") == int(
        ((labels.defect == "awkward_null_amount") & (labels.source_system == "salesforce")).sum()
    )
    assert_counts_match_labels(warehouse, labels)


@pytest.mark.slow
def test_each_defect_kind_counts_exactly_the_labelled_rows_in_a_larger_org(
    dirty_small_org, tmp_path
):
    """The small org has every defect kind, stale open deals and deactivated owners included."""
    warehouse = dirty_small_org.copy(tmp_path)
    outcomes = gate_all(warehouse)
    labels = dirty_small_org.labels()
    assert {"awkward_stale_open", "awkward_inactive_owner", "duplicate_contact"} <= set(
        labels.defect
    )
    assert_counts_match_labels(warehouse, labels)
    opp = outcomes[("salesforce", "opportunity")]
    findings = {f.check: f for f in opp.findings}
    for defect in ("invalid_negative_amount", "invalid_probability", "invalid_currency"):
        expected = int(((labels.defect == defect) & (labels.source_system == "salesforce")).sum())
        assert findings[defect].count == expected
    assert opp.status == FAILED
    assert opp.metrics["row_level_seconds_per_million_rows"] > 0


def test_default_dirty_rate_passes_and_quarantines_the_invalid_rows(clean_org, tmp_path):
    warehouse = clean_org.copy(tmp_path)
    outcomes = gate_all(warehouse)
    assert all(o.passed for o in outcomes.values()), [
        o.describe() for o in outcomes.values() if not o.passed
    ]
    labels = clean_org.labels()
    invalid = labels[labels.handling == "quarantine"]
    assert len(invalid) > 0  # the default rate still has a few
    assert_counts_match_labels(warehouse, labels)
    con = connect(warehouse)
    try:
        # quarantine never deletes: the rows stay in raw and in the versions
        for record_id in invalid.record_id:
            assert con.execute(
                "SELECT count(*) FROM raw_salesforce.opportunity WHERE id = ? UNION ALL "
                "SELECT count(*) FROM raw_hubspot.deals WHERE id = ?",
                [record_id, record_id],
            ).fetchall() in ([(1,), (0,)], [(0,), (1,)])
        logged = con.execute(
            "SELECT count(*) FROM raw_meta.quarantine WHERE reason LIKE 'gate: %' AND payload IS NOT NULL"
        ).fetchall()[0][0]
        assert logged == len(invalid)
    finally:
        con.close()


@pytest.fixture
def hand_made(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = connect(warehouse)
    salesforce_references(con)
    land(
        con,
        "raw_salesforce",
        "opportunity",
        [
            opportunity("006A"),
            opportunity("006B", amount=-5.0),
            opportunity("006C", stage_name="Imaginary Stage"),
            opportunity("006D", amount=None),
            opportunity("006E", close_date=dt.date(2026, 11, 1)),  # open, close date passed
            opportunity("006F", owner_id="005B"),  # open, owner deactivated
        ]
        + [opportunity(f"006Z{i:03d}") for i in range(200)],
        OPPORTUNITY,
        SYNC_1,
    )
    con.close()
    return warehouse


def run(warehouse, config: GateConfig | None = None, table: str = "opportunity"):
    con = connect(warehouse)
    try:
        return check_table(con, "salesforce", table, as_of=AS_OF, config=config)
    finally:
        con.close()


def test_quarantine_flags_and_the_quarantined_share(hand_made):
    outcome = run(hand_made)
    assert outcome.status == PASSED, outcome.describe()  # 2 of 206 rows: under 2 %
    assert outcome.quarantined_by_reason == {"invalid_negative_amount": 1, "invalid_stage": 1}
    assert outcome.flagged_by_reason == {
        "awkward_inactive_owner": 1,
        "awkward_null_amount": 1,
        "awkward_stale_open": 1,
    }
    assert outcome.rows_checked == 206
    strict = run(hand_made, GateConfig(max_quarantined_share=0.005, revalidate=True))
    assert strict.status == FAILED
    text = strict.describe()
    assert (
        "invalid_negative_amount [expect_column_values_to_be_between(amount, min_value=0.0)]: 1 row(s), e.g. 006B (amount=-5.0)"
        in text
    )
    assert "invalid_stage" in text and "006C (stage_name=Imaginary Stage)" in text


def test_only_rows_of_new_syncs_are_validated_and_a_fixed_row_leaves_quarantine(hand_made):
    assert run(hand_made).rows_checked == 206
    again = run(hand_made)
    assert again.rows_checked == 0  # nothing new: cost follows the change
    assert again.quarantined_by_reason == {"invalid_negative_amount": 1, "invalid_stage": 1}
    con = connect(hand_made)
    land(
        con,
        "raw_salesforce",
        "opportunity",
        [opportunity("006B", amount=50.0), opportunity("006G", probability=250.0)],
        OPPORTUNITY,
        SYNC_2,
    )
    con.close()
    after = run(hand_made)
    assert after.rows_checked == 2
    assert after.quarantined_by_reason == {"invalid_probability": 1, "invalid_stage": 1}
    assert after.new_quarantined_by_reason == {"invalid_probability": 1}
    con = connect(hand_made)
    try:
        assert quarantined_keys(con, "salesforce", "opportunity") == {"006C", "006G"}
        # the log keeps every quarantine with its reason and the row as it was
        log = con.execute(
            "SELECT primary_key, reason, payload->>'amount' FROM raw_meta.quarantine ORDER BY 1"
        ).fetchall()
        assert [r[0] for r in log] == ["006B", "006C", "006G"]
        assert log[0][1].startswith(
            "gate: invalid_negative_amount: expect_column_values_to_be_between"
        )
        assert float(log[0][2]) == -5.0
    finally:
        con.close()


def test_a_new_picklist_value_revalidates_every_row(hand_made):
    run(hand_made)
    con = connect(hand_made)
    land(
        con,
        "raw_salesforce",
        "opportunity_stage",
        [{"id": "01J9", "master_label": "Imaginary Stage", "api_name": "Imaginary Stage"}],
        {"id": "VARCHAR", "master_label": "VARCHAR", "api_name": "VARCHAR"},
        SYNC_2,
    )
    con.close()
    outcome = run(hand_made)
    assert outcome.rows_checked == 206  # the suite's parameters changed: everything again
    assert outcome.quarantined_by_reason == {"invalid_negative_amount": 1}


def test_chunked_validation_gives_the_same_verdicts(hand_made, tmp_path):
    whole = run(hand_made)
    chunked = run(hand_made, GateConfig(chunk_rows=50, revalidate=True))
    assert chunked.metrics["row_level_chunks"] == 5
    assert chunked.quarantined_by_reason == whole.quarantined_by_reason
    assert chunked.flagged_by_reason == whole.flagged_by_reason


def test_duplicate_keys_fail_the_gate(hand_made):
    con = connect(hand_made)
    con.execute(
        "INSERT INTO raw_salesforce.opportunity SELECT * FROM raw_salesforce.opportunity WHERE id = '006A'"
    )
    con.close()
    outcome = run(hand_made)
    assert outcome.status == FAILED
    assert "key_unique [sql: (id) unique]: 1 row(s), e.g. 006A ×2" in outcome.describe()


def test_a_critical_expectation_fails_on_a_single_row(hand_made):
    con = connect(hand_made)
    con.execute("UPDATE raw_salesforce.opportunity SET id = NULL WHERE id = '006A'")
    con.close()
    outcome = run(hand_made)
    assert outcome.status == FAILED
    assert "key_not_null [expect_column_values_to_not_be_null(id)]: 1 row(s)" in outcome.describe()


def test_a_volume_drop_against_the_previous_sync_fails(hand_made):
    assert run(hand_made).status == PASSED
    con = connect(hand_made)
    con.execute(
        "UPDATE raw_salesforce.opportunity SET _is_deleted = true, _sync_id = ? WHERE id LIKE '006Z1%'",
        [SYNC_2],
    )
    con.execute(
        "CREATE TABLE raw_meta.sync_log AS SELECT ? AS sync_id, 'salesforce' AS source, 'opportunity' AS stream",
        [SYNC_2],
    )
    con.close()
    outcome = run(hand_made)
    assert outcome.status == FAILED
    text = outcome.describe()
    assert "volume" in text and "206 live rows after sync" in text and "106 now (-48.5%)" in text


def test_strong_growth_only_warns(hand_made):
    con = connect(hand_made)
    con.execute("DELETE FROM raw_salesforce.opportunity WHERE id LIKE '006Z%' AND id > '006Z020'")
    con.close()
    run(hand_made)
    con = connect(hand_made)
    land(
        con,
        "raw_salesforce",
        "opportunity",
        [opportunity(f"006Y{i:03d}") for i in range(150)],
        OPPORTUNITY,
        SYNC_3,
    )
    con.close()
    outcome = run(hand_made)
    assert outcome.status == WARNED  # reported with severity warn: never blocks
    assert outcome.severity == "warn"


def test_orphans_beyond_the_threshold_fail(hand_made):
    con = connect(hand_made)
    con.execute(
        "UPDATE raw_salesforce.opportunity SET account_id = 'missing' WHERE id LIKE '006Z00%'"
    )
    con.close()
    outcome = run(hand_made)
    assert outcome.status == FAILED
    assert (
        "account_exists [sql: account_id in raw_salesforce.account.id]: 10 row(s)"
        in outcome.describe()
    )


def test_a_table_that_was_not_landed_is_not_applicable(hand_made):
    outcome = run(hand_made, table="forecasting_quota")
    assert outcome.status == "not_applicable" and outcome.passed
    assert "not applicable" in outcome.message


def test_check_tables_uses_one_connection_and_records_timing(hand_made):
    outcomes = raw_gate.check_tables(
        hand_made, [("salesforce", "opportunity"), ("salesforce", "account")], as_of=AS_OF
    )
    assert [o.table for o in outcomes] == ["raw_salesforce.opportunity", "raw_salesforce.account"]
    metrics = outcomes[0].metrics
    assert metrics["row_level_rows"] == 206 and metrics["row_level_seconds"] > 0
    assert metrics["row_level_seconds_per_million_rows"] == pytest.approx(
        metrics["row_level_seconds"] / 206 * 1e6, rel=1e-3
    )


def test_quarantine_is_only_declared_where_staging_can_exclude_it():
    """dbt staging anti-joins quarantined keys on ``id``: quarantine needs a single id key."""
    from orchestration.quality import gx_runtime
    from orchestration.quality.outcome import QUARANTINE
    from orchestration.quality.raw_suites import SUITES

    gxe = gx_runtime.expectations()
    for (source, table), suite in SUITES.items():
        actions = {r.action for r in suite.rules(gxe)} if suite.rules else set()
        if QUARANTINE in actions:
            assert suite.key == ("id",), (source, table)
