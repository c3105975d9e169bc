"""``salesops extract``: source registry, configuration errors, progress display, exit codes."""

from __future__ import annotations

import io

import pytest

from connectors.extract import SOURCES, ProgressDisplay, choose_sources, extract, format_run
from connectors.streams import StreamRun
from salesops.cli import build_parser
from salesops.cli import main as cli_main
from salesops.config import ConfigError
from tests.connectors.salesforce_support import sf_env, table_rows


@pytest.fixture
def configured(emulator, tmp_path, monkeypatch):
    """The process environment of a configured installation, pointed at the emulator."""
    for name in list(__import__("os").environ):
        if name.startswith(("SALESFORCE_", "HUBSPOT_", "GOOGLE_ADS_", "SALESOPS_")):
            monkeypatch.delenv(name)
    for name, value in sf_env(emulator).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SALESOPS_DATA_DIR", str(tmp_path))
    return tmp_path / "warehouse.duckdb"


def test_the_command_offers_exactly_the_registered_sources():
    assert "salesforce" in SOURCES
    extract_parser = build_parser()._subparsers._group_actions[0].choices["extract"]
    source_option = next(a for a in extract_parser._actions if a.dest == "source")
    assert sorted(source_option.choices) == sorted(SOURCES)


def test_sources_are_enabled_by_their_credentials():
    env = {"SALESFORCE_CLIENT_ID": "id", "SALESFORCE_CLIENT_SECRET": "secret"}
    assert [e.name for e in choose_sources(None, env)] == ["salesforce"]
    with pytest.raises(ConfigError, match=r"no source is configured.*SALESFORCE_CLIENT_ID"):
        choose_sources(None, {"SALESFORCE_CLIENT_ID": "id"})
    with pytest.raises(ConfigError, match="salesforce is not configured: set SALESFORCE_CLIENT"):
        choose_sources(["salesforce"], {})
    with pytest.raises(ConfigError, match="unknown source"):
        choose_sources(["no_such_source"], env)


def test_extract_command_lands_the_warehouse_and_prints_plain_lines(configured, capsys):
    assert cli_main(["extract", "--stream", "opportunity", "--stream", "Task"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert any(line.startswith("salesforce opportunity") and " ok " in line for line in lines)
    assert any(line.startswith("salesforce task") for line in lines)
    assert lines[-1] == "2/2 streams ok, 190 records fetched"
    assert "\r" not in out  # not a terminal: no in-place rewriting
    assert len(table_rows(configured, "opportunity")) == 42


def test_full_refresh_option(configured, capsys):
    assert cli_main(["extract", "--stream", "task"]) == 0
    assert cli_main(["extract", "--stream", "task", "--full-refresh"]) == 0
    assert "full" in capsys.readouterr().out.strip().splitlines()[-2]


def test_configuration_errors_exit_2_with_the_variable_named(configured, monkeypatch, capsys):
    monkeypatch.delenv("SALESFORCE_CLIENT_SECRET")
    assert cli_main(["extract"]) == 2
    assert "SALESFORCE_CLIENT_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "x")
    monkeypatch.setenv("SALESOPS_DESTINATION", "snowflake")
    assert cli_main(["extract"]) == 2
    assert "SALESOPS_DESTINATION" in capsys.readouterr().err


def test_an_unknown_stream_is_a_configuration_error(configured, capsys):
    assert cli_main(["extract", "--stream", "no_such_table"]) == 2
    assert "unknown stream(s) no_such_table" in capsys.readouterr().err


def test_failures_exit_1_with_a_message_and_no_secret(configured, monkeypatch, capsys):
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "not-the-secret-123")
    assert cli_main(["extract"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("salesops extract: error: salesforce:")
    assert "SALESFORCE_CLIENT_SECRET" in err and "not-the-secret-123" not in err


def test_extract_returns_run_metadata(configured):
    result = extract(streams=["opportunity"])
    assert result.ok
    (run,) = result.runs
    assert (run.source, run.stream, run.status, run.mode) == (
        "salesforce", "opportunity", "success", "full"
    )  # fmt: skip
    assert run.fetched == run.inserted == 42 and run.pages == 1 and run.cursor


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_terminal_display_rewrites_one_line_per_stream():
    out = Terminal()
    display = ProgressDisplay(out)
    run = StreamRun("salesforce", "task", fetched=2000, pages=1, seconds=1.0)
    display(run)
    run.status, run.fetched, run.pages, run.inserted = "success", 4000, 2, 4000
    display(run)
    text = out.getvalue()
    assert text.startswith("\r\033[K") and text.count("\r\033[K") == 2 and text.endswith("\n")
    assert "4,000 records" in text and "2,000 rec/s" in text and "+4,000" in text


def test_the_plain_display_prints_finished_streams_and_slow_progress():
    out = io.StringIO()
    display = ProgressDisplay(out, interval=3600)
    run = StreamRun("salesforce", "task", fetched=10)
    display(run)
    display(run)
    assert out.getvalue() == ""
    run.status = "failed"
    run.error = "boom"
    display(run)
    assert out.getvalue() == format_run(run) + "\n" and "FAILED" in out.getvalue()
