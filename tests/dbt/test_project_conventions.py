"""The dbt project's conventions, read from the manifest of the tiny build.

* `source()` only in staging models; names follow stg_<source>__<entity>s / int_ / dim_ fct_ mart_;
* every mart (schema `marts`) has an enforced contract and every column a type and a description;
* every source table carries its freshness and the Dagster asset key of its ingestion asset;
* the grain keys of the marts in MARTS.md are tested unique and not null, their foreign keys
  for relationships, and columns of our own vocabularies for accepted values;
* no model or macro reads the build clock (period metrics use var `as_of_date`);
* portable SQL: engine-specific syntax only in macros/cross_db, every division guarded;
* `dbt docs generate` works.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.dbt.conftest import PROJECT_DIR, run_dbt

MART_KEYS = {
    "dim_reps": ["rep_id"],
    "dim_accounts": ["account_id"],
    "dim_fiscal_calendar": ["date_day"],
    "fct_opportunities": ["opportunity_id"],
    "fct_opportunity_stage_history": ["stage_visit_id"],
    "fct_opportunity_states": ["opportunity_state_id"],
    "fct_activities": ["activity_id"],
    "fct_leads": ["lead_id"],
}
COMBINED_KEYS = {
    "mart_sales_kpis": ["rep_id", "fiscal_month"],
    "mart_stage_conversion": ["ladder_stage", "fiscal_quarter"],
    "mart_lead_funnel": ["fiscal_month", "lead_source"],
    "fct_opportunity_states": ["opportunity_id", "valid_from"],
}
STATIC_SOURCES = {
    "user_role",
    "opportunity_stage",
    "period",
    "territory_2",
    "user_territory_2_association",
    "object_territory_2_association",
    "currency_type",
    "dated_conversion_rate",
    "deal_pipelines",
    "deal_pipeline_stages",
}
# Columns whose values we define (docs/metrics.md), as opposed to CRM picklists passed through.
CATEGORICAL_COLUMNS = {
    "source_system",
    "status",
    "stage_status",
    "forecast_category",
    "default_forecast_category",
    "ladder_stage",
    "opportunity_type",
    "activity_type",
    "hierarchy_basis",
    "rate_source",
}
# The build clock in SQL or Jinja: period metrics must read var `as_of_date` instead, so a
# rebuild of a past day gives the same numbers.
BUILD_CLOCK = [
    r"\bcurrent_date\b",
    r"\bcurrent_timestamp\b",
    r"\bcurrent_time\b",
    r"\blocaltimestamp\b",
    r"\blocaltime\b",
    r"\bnow\s*\(",
    r"\btoday\s*\(",
    r"\butcnow\s*\(",
    r"\bgetdate\s*\(",
    r"\bgetutcdate\s*\(",
    r"\bsysdate\b",
    r"\bsystimestamp\b",
    r"\bsysdatetime\s*\(",
    r"\bunix_timestamp\s*\(\s*\)",
    r"\brun_started_at\b",
]
# The one sanctioned clock read: as_of_date_value() defaults an unset var to yesterday, once,
# at compile time (sales-metrics §13.1).
CLOCK_ALLOWED = {("macros/utils/as_of_date.sql", r"\bnow\s*\("): 1}
# DuckDB/engine-specific syntax that belongs in macros/cross_db only.
NON_PORTABLE = [
    r"::",
    r"\btry_cast\s*\(",
    r"\bqualify\b",
    r"\bexclude\s*\(",
    r"\bdate_diff\s*\(",
    r"\bdatediff\s*\(",
    r"\bdate_add\s*\(",
    r"\bstrftime\s*\(",
    r"\bstrptime\s*\(",
    r"\bregexp_\w+\s*\(",
    r"\bilike\b",
    r"\bstruct_pack\s*\(",
    r"\blist_\w+\s*\(",
    r"\bepoch_ms\s*\(",
    r"\bquantile_cont\s*\(",
    r"\bmedian\s*\(",
    r"\bgroup by all\b",
    r"\bunion all by name\b",
]


@pytest.fixture(scope="module")
def manifest(tiny_build):
    return json.loads((tiny_build.work_dir / "target" / "manifest.json").read_text())


def models(manifest):
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["package_name"] == "salesops"
    ]


def test_source_is_only_used_in_staging(manifest):
    offenders = [
        m["original_file_path"]
        for m in models(manifest)
        if any(dep.startswith("source.") for dep in m["depends_on"]["nodes"])
        and not m["original_file_path"].startswith("models/staging/")
    ]
    assert not offenders
    for path in PROJECT_DIR.glob("models/**/*.sql"):
        if "staging" not in path.parts:
            assert "source(" not in path.read_text(), path


def test_model_names_follow_the_layers(manifest):
    for model in models(manifest):
        path, name = model["original_file_path"], model["name"]
        if path.startswith("models/staging/"):
            source = path.split("/")[2]
            assert re.fullmatch(rf"stg_{source}__[a-z0-9_]+", name), path
        elif path.startswith("models/intermediate/"):
            assert name.startswith("int_"), path
        else:
            assert path.startswith("models/marts/"), path
            assert re.match(r"(dim|fct|mart)_", name), path
            assert model["schema"] == "marts", path


def test_every_mart_has_an_enforced_contract_and_documented_columns(manifest):
    marts = [m for m in models(manifest) if m["original_file_path"].startswith("models/marts/")]
    assert len(marts) >= 11
    for mart in marts:
        assert mart["config"]["contract"]["enforced"], mart["name"]
        assert mart["description"].strip(), mart["name"]
        assert mart["columns"], mart["name"]
        for name, column in mart["columns"].items():
            assert column["data_type"], (mart["name"], name)
            assert column["description"].strip(), (mart["name"], name)


def test_every_model_is_described(manifest):
    undocumented = [m["name"] for m in models(manifest) if not m["description"].strip()]
    assert not undocumented


def test_sources_carry_freshness_and_dagster_asset_keys(manifest):
    sources = [s for s in manifest["sources"].values() if s["package_name"] == "salesops"]
    assert {s["source_name"] for s in sources} == {"salesforce", "hubspot", "google_ads"}
    for source in sources:
        table = source["name"].split("__")[0]
        meta = source["config"].get("meta") or source.get("meta") or {}
        assert meta["dagster"]["asset_key"] == ["raw", source["source_name"], table], source[
            "unique_id"
        ]
        assert source["loaded_at_field"] or source["config"].get("loaded_at_field")
        freshness = source["config"].get("freshness") or source.get("freshness") or {}
        has_threshold = bool((freshness.get("warn_after") or {}).get("count"))
        assert has_threshold == (table not in STATIC_SOURCES), source["unique_id"]
    names = {(s["source_name"], s["name"]) for s in sources}
    for expected in [
        ("salesforce", "opportunity"),
        ("salesforce", "opportunity_history"),
        ("salesforce", "opportunity_field_history"),
        ("salesforce", "dated_conversion_rate"),
        ("hubspot", "deals"),
        ("hubspot", "deal_property_history"),
        ("hubspot", "owners"),
        ("google_ads", "campaign_daily_metrics"),
    ]:
        assert expected in names


def test_mart_keys_are_tested(manifest):
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    column_tests = {
        (t["attached_node"].split(".")[-1], t["column_name"], t["test_metadata"]["name"])
        for t in tests
        if t.get("attached_node") and t.get("test_metadata") and t.get("column_name")
    }
    for model, columns in MART_KEYS.items():
        for column in columns:
            assert (model, column, "unique") in column_tests, (model, column)
            assert (model, column, "not_null") in column_tests, (model, column)
    combined = {
        (
            t["attached_node"].split(".")[-1],
            tuple(t["test_metadata"]["kwargs"]["combination_of_columns"]),
        )
        for t in tests
        if t.get("test_metadata", {}).get("name") == "unique_combination_of_columns"
        and t.get("attached_node")
    }
    for model, columns in COMBINED_KEYS.items():
        assert (model, tuple(columns)) in combined, model
    relationships = {
        (t["attached_node"].split(".")[-1], t["column_name"])
        for t in tests
        if t.get("test_metadata", {}).get("name") == "relationships" and t.get("attached_node")
    }
    for foreign_key in [
        ("fct_opportunities", "account_id"),
        ("fct_opportunities", "owner_rep_id"),
        ("fct_opportunities", "owner_rep_id_at_close"),
        ("fct_opportunity_states", "opportunity_id"),
        ("fct_opportunity_stage_history", "opportunity_id"),
        ("fct_activities", "opportunity_id"),
        ("fct_activities", "rep_id"),
        ("fct_leads", "converted_opportunity_id"),
        ("mart_sales_kpis", "rep_id"),
        ("dim_reps", "manager_id"),
        ("dim_accounts", "parent_account_id"),
        ("fct_opportunities", "campaign_id"),
        ("fct_leads", "campaign_id"),
        ("fct_activities", "contact_id"),
    ]:
        assert foreign_key in relationships, foreign_key
    # Dangling by design (a renewal of a quarantined deal): documented, never a warning test.
    assert ("fct_opportunities", "renewal_of_opportunity_id") not in relationships


def test_categorical_columns_we_define_have_accepted_values(manifest):
    """Every column holding one of our own vocabularies (not a CRM picklist) lists its values,
    in the core layers and in the territory mart."""
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    accepted = {
        (t["attached_node"].split(".")[-1], t["column_name"])
        for t in tests
        if t.get("test_metadata", {}).get("name") == "accepted_values" and t.get("attached_node")
    }
    checked = []
    for model in models(manifest):
        path = model["original_file_path"]
        if path.startswith("models/staging/") or not path.startswith(
            (*CORE_LAYERS, "models/marts/territory/")
        ):
            continue
        for column in model["columns"]:
            if column in CATEGORICAL_COLUMNS:
                checked.append((model["name"], column))
    missing = [key for key in checked if key not in accepted]
    assert not missing
    for expected in [
        ("fct_opportunity_states", "source_system"),
        ("fct_opportunity_stage_history", "source_system"),
        ("dim_territories", "source_system"),
        ("mart_territory_coverage", "source_system"),
        ("int_opportunities_unioned", "forecast_category"),
        ("int_opportunities_unioned", "ladder_stage"),
    ]:
        assert expected in checked, expected


def _strip_jinja(sql: str) -> str:
    """Jinja comments, expressions and statements: macro calls are where portability lives."""
    return re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", " ", sql, flags=re.S)


def _strip_strings_and_comments(sql: str) -> str:
    sql = re.sub(r"--[^\n]*", " ", sql)
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def test_sql_is_portable_outside_cross_db_macros():
    offenders = []
    for path in [*PROJECT_DIR.glob("models/**/*.sql"), *PROJECT_DIR.glob("tests/**/*.sql")]:
        sql = _strip_strings_and_comments(_strip_jinja(path.read_text()))
        offenders += [(path.name, p) for p in NON_PORTABLE if re.search(p, sql, flags=re.I)]
    for path in PROJECT_DIR.glob("macros/**/*.sql"):
        if "cross_db" in path.parts:
            continue
        sql = _strip_strings_and_comments(_strip_jinja(path.read_text()))
        offenders += [(path.name, p) for p in NON_PORTABLE if re.search(p, sql, flags=re.I)]
    assert not offenders


def test_no_model_or_macro_reads_the_build_clock():
    offenders = []
    scanned = 0
    for path in [*PROJECT_DIR.glob("models/**/*.sql"), *PROJECT_DIR.glob("macros/**/*.sql")]:
        # Jinja expressions stay: `{{ run_started_at }}` reads the clock as surely as now().
        text = re.sub(r"\{#.*?#\}", " ", path.read_text(), flags=re.S)
        text = re.sub(r"--[^\n]*", " ", text)
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        relative = path.relative_to(PROJECT_DIR).as_posix()
        scanned += 1
        for pattern in BUILD_CLOCK:
            found = len(re.findall(pattern, text, flags=re.I))
            if found > CLOCK_ALLOWED.get((relative, pattern), 0):
                offenders.append((relative, pattern, found))
    assert scanned >= 100
    assert not offenders


def test_build_clock_check_catches_a_clock_read():
    """The patterns match the usual spellings, so the check above can fail."""
    for sql in [
        "where close_date <= current_date",
        "select CURRENT_TIMESTAMP as loaded_at",
        "select now() as t",
        "select getdate()",
        "select sysdate from dual",
        "cast('{{ run_started_at }}' as date)",
        "{% set d = modules.datetime.date.today() %}",
    ]:
        assert any(re.search(p, sql, flags=re.I) for p in BUILD_CLOCK), sql
    for sql in ["select current_timezone()", "cast('{{ as_of_date() }}' as date)", "nowhere"]:
        assert not any(re.search(p, sql, flags=re.I) for p in BUILD_CLOCK), sql


# The core layers of this suite (staging, the CRM-unifying intermediate models, the core, sales,
# marketing and activity marts); the quota, territory, attribution and revenue marts have their
# own suites.
CORE_LAYERS = (
    "models/staging/",
    "models/intermediate/finance/",
    "models/intermediate/people/",
    "models/intermediate/sales/",
    "models/intermediate/marketing/",
    "models/intermediate/activities/",
    "models/marts/core/",
    "models/marts/sales/",
    "models/marts/marketing/",
    "models/marts/activities/",
)


def test_every_division_is_guarded(manifest):
    """Spark raises on divide-by-zero: every division is by a literal or by nullif(...)."""
    offenders = []
    for model in models(manifest):
        if not model["original_file_path"].startswith(CORE_LAYERS):
            continue
        sql = _strip_strings_and_comments(model.get("compiled_code") or "")
        for match in re.finditer(r"(?<![/*])/(?![/*])\s*(\S+)", sql):
            divisor = match.group(1)
            if not re.match(r"(nullif\(|\d+(\.\d+)?\b)", divisor, flags=re.I):
                offenders.append(
                    (model["name"], sql[max(0, match.start() - 40) : match.end() + 20])
                )
    assert not offenders


def test_docs_generate(tiny_build, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny_build.warehouse, warehouse)
    run = run_dbt(["docs", "generate"], warehouse=warehouse, work_dir=tmp_path)
    assert run.success, run.describe()
    assert not run.warnings, run.describe()
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    assert "model.salesops.mart_sales_kpis" in catalog["nodes"]
    assert (tmp_path / "target" / "index.html").exists()
