"""The configuration module reads CONFIG.md's environment at run time and rejects bad values."""

from __future__ import annotations

import pytest

from salesops.config import PROJECT_ROOT, ConfigError, load_settings


def test_defaults_live_under_the_project_data_dir():
    settings = load_settings({})
    assert settings.data_dir == PROJECT_ROOT / "data"
    assert settings.warehouse == PROJECT_ROOT / "data" / "warehouse.duckdb"
    assert settings.serving == PROJECT_ROOT / "data" / "serving.duckdb"
    assert settings.serving_restricted == PROJECT_ROOT / "data" / "serving_restricted.duckdb"
    assert settings.status == PROJECT_ROOT / "data" / "status.duckdb"
    assert settings.brief == PROJECT_ROOT / "data" / "brief.html"
    assert settings.lake_root == PROJECT_ROOT / "data" / "lake"
    assert settings.timezone == "UTC"
    assert settings.nightly_cron == "0 2 * * *"
    assert settings.alert_webhook_url is None
    assert (settings.destination, settings.dbt_target) == ("duckdb", "duckdb")
    assert (settings.postgres_host, settings.postgres_port, settings.postgres_dbname) == (
        "127.0.0.1",
        5432,
        "salesops",
    )
    assert settings.postgres_serving_dbname == "salesops_serving"
    assert settings.spark_dir == PROJECT_ROOT / "data" / "spark"


def test_relative_paths_resolve_against_the_project_root_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        {"SALESOPS_DATA_DIR": "elsewhere", "SALESOPS_SERVING": "bi/serve.duckdb"}
    )
    assert settings.data_dir == PROJECT_ROOT / "elsewhere"
    assert settings.warehouse == PROJECT_ROOT / "elsewhere" / "warehouse.duckdb"
    assert settings.serving == PROJECT_ROOT / "bi" / "serve.duckdb"


def test_absolute_paths_are_kept(tmp_path):
    settings = load_settings({"SALESOPS_WAREHOUSE": str(tmp_path / "w.duckdb")})
    assert settings.warehouse == tmp_path / "w.duckdb"


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("SALESOPS_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("SALESOPS_NIGHTLY_CRON", "every night", "five-field cron"),
        ("SALESOPS_NIGHTLY_CRON", "0 2 * *", "five-field cron"),
        ("SALESOPS_DESTINATION", "snowflake", "duckdb, postgres, parquet"),
        ("SALESOPS_DBT_TARGET", "bigquery", "duckdb, postgres, spark"),
        ("SALESOPS_POSTGRES_PORT", "54x2", "port number"),
        ("SALESOPS_POSTGRES_PORT", "70000", "port number"),
        ("SALESOPS_POSTGRES_SERVING_DBNAME", "salesops", "must be a different one"),
        ("SALESOPS_POSTGRES_SERVING_DBNAME", "s" * 64, "63-byte name limit"),
    ],
)
def test_bad_values_name_the_variable_and_the_expected_form(name, value, hint):
    with pytest.raises(ConfigError) as error:
        load_settings({name: value})
    assert name in str(error.value)
    assert hint in str(error.value)


def test_a_malformed_webhook_is_rejected_without_echoing_it():
    secret_url = "hooks.slack.example/T000/B000/very-secret"
    with pytest.raises(ConfigError) as error:
        load_settings({"SALESOPS_ALERT_WEBHOOK_URL": secret_url})
    assert "SALESOPS_ALERT_WEBHOOK_URL" in str(error.value)
    assert "very-secret" not in str(error.value)


def test_time_zone_is_usable():
    settings = load_settings({"SALESOPS_TIMEZONE": "Europe/Berlin"})
    assert settings.tz.key == "Europe/Berlin"


def test_the_serving_database_follows_the_build_database_unless_named():
    derived = load_settings({"SALESOPS_POSTGRES_DBNAME": "crm"})
    assert derived.postgres_serving_dbname == "crm_serving"
    named = load_settings(
        {"SALESOPS_POSTGRES_DBNAME": "crm", "SALESOPS_POSTGRES_SERVING_DBNAME": " bi "}
    )
    assert named.postgres_serving_dbname == "bi"
    assert load_settings({"SALESOPS_POSTGRES_SERVING_DBNAME": "s" * 63}).postgres_serving_dbname


def test_the_spark_dir_follows_the_data_dir_and_must_be_a_directory(tmp_path):
    assert load_settings({"SALESOPS_DATA_DIR": str(tmp_path)}).spark_dir == tmp_path / "spark"
    assert load_settings({"SALESOPS_SPARK_DIR": "cluster/spark"}).spark_dir == (
        PROJECT_ROOT / "cluster" / "spark"
    )
    a_file = tmp_path / "spark"
    a_file.write_text("not a directory")
    with pytest.raises(ConfigError) as error:
        load_settings({"SALESOPS_SPARK_DIR": str(a_file)})
    assert "SALESOPS_SPARK_DIR" in str(error.value)
    assert "must be a directory" in str(error.value)
