"""The benchmark harness's pure functions: table formatting and the result schema (no timing)."""

from __future__ import annotations

import json

from bench import harness


def _stage(wall: float, cpu: float, rss: float) -> dict:
    return {"ok": True, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss, "data": {}}


def payload() -> dict:
    stages = {
        "extract": _stage(3.0, 2.0, 200.0),
        "raw_gate": _stage(1.0, 0.8, 300.0),
        "dbt_build": _stage(5.0, 4.0, 400.0),
        "mart_gate": _stage(0.5, 0.4, 150.0),
        "publish": _stage(0.5, 0.3, 120.0),
    }
    full = harness.summarize(stages)
    full["dagster"] = _stage(15.0, 20.0, 500.0)
    return {
        "schema_version": harness.SCHEMA_VERSION,
        "scale": "tiny",
        "seed": 42,
        "as_of": "2026-11-26",
        "measured_at": "2026-11-27T00:00:00+00:00",
        "machine": {"cpus": 2, "python": "3.12.0"},
        "load": {"before": {"avg1": 1.0, "avg5": 1.0, "avg15": 1.0}, "after": {"avg1": 2.0}},
        "generation": {
            "scale": "tiny",
            "ok": True,
            "wall_s": 1.0,
            "cpu_s": 0.9,
            "peak_rss_mb": 99.0,
        },
        "extraction": [
            {
                "client": "requests loop (ceiling)",
                "stream": "Opportunity",
                "records": 1000,
                "wall_s": 0.5,
                "cpu_s": 0.25,
                "records_per_s": 2000.0,
            }
        ],
        "full_refresh": full,
        "incremental": {},
        "dbt_overhead": {"dbt_wall_s": 5.0, "floor_wall_s": 1.0, "overhead_wall_s": 4.0},
        "dagster_overhead": {"full_refresh": harness.overhead(full, full["dagster"])},
        "gates": {
            "raw_gate-full_refresh": {
                "gate": "raw_gate",
                "run": "full_refresh",
                "rows": 500_000,
                "wall_s": 1.0,
                "cpu_s": 0.8,
            }
        },
        "engines": {
            "duckdb": engine("duckdb", "duckdb", ok=True),
            "spark": engine("parquet", "spark", ok=False),
        },
        "missing": ["something"],
    }


def engine(destination: str, target: str, ok: bool) -> dict:
    stages = {
        "extract": {**_stage(4.0, 2.0, 250.0), "data": {"runs": [{"fetched": 1000}] * 2}},
        "dbt_build": {**_stage(6.0, 3.0, 900.0), "data": {"nodes": 500}},
    }
    if ok:
        stages["forecast"] = {**_stage(2.0, 1.0, 300.0), "data": {"rows": 12, "where": "x"}}
    else:
        stages["dbt_build"].update(ok=False, why="killed after the 900 s timeout")
    return {
        "ok": ok,
        "destination": destination,
        "dbt_target": target,
        "wall_s": sum(s["wall_s"] for s in stages.values()),
        "cpu_s": sum(s["cpu_s"] for s in stages.values()),
        "peak_rss_mb": 900.0,
        "stages": stages,
        "dbt_errors": [] if ok else ["model.salesops.x"],
        **({} if ok else {"error": "dbt_build: killed after the 900 s timeout"}),
    }


def test_summary_and_shares():
    p = payload()
    assert p["full_refresh"]["wall_s"] == 10.0
    assert p["full_refresh"]["peak_rss_mb"] == 400.0
    assert p["full_refresh"]["ok"] is True
    shares = harness.stage_shares(p["full_refresh"]["stages"])
    assert shares["dbt_build"] == 0.5
    assert abs(sum(shares.values()) - 1) < 1e-9
    assert p["dagster_overhead"]["full_refresh"]["overhead_wall_s"] == 5.0


def test_helpers():
    assert harness.rate(100, 0) is None
    assert harness.rate(100, 4) == 25.0
    assert harness.ratio(1, 4) == 0.25
    assert harness.ratio(None, 4) is None
    assert harness.per_million(2.0, 500_000) == 4.0
    assert harness.per_million(2.0, 0) is None
    assert harness.fmt(None) == "-"
    assert harness.fmt(12345) == "12,345"
    assert harness.fmt(1.234) == "1.23"
    assert harness.fmt(True) == "yes"


def test_md_table_shape():
    text = harness.md_table(["a", "b"], [["x", 1], ["y", None]])
    lines = text.splitlines()
    assert lines[0] == "| a | b |"
    assert lines[1] == "|---|---:|"
    assert lines[3] == "| y | - |"


def test_markdown_has_every_section_and_cpu_columns():
    text = harness.markdown(payload())
    for heading in (
        "## Emulator generation",
        "## Extraction records/s per stream",
        "## Full refresh end to end",
        "## Incremental (after one day) end to end",
        "## dbt overhead",
        "## Dagster overhead",
        "## Each engine end to end",
        "## Quality gates per million rows",
        "## Not measured",
    ):
        assert heading in text
    assert "CPU s" in text
    assert "Load average" in text
    assert "| raw_gate | full_refresh | 500,000 | 1.00 | 0.80 | 2.00 | 1.60 |" in text


def test_schema_validation():
    p = payload()
    assert harness.validate(p) == []
    assert harness.validate(json.loads(json.dumps(p))) == []
    broken = dict(p)
    del broken["load"]
    broken["extraction"] = [{"client": "x"}]
    problems = harness.validate(broken)
    assert "load: missing" in problems
    assert any("no records_per_s" in problem for problem in problems)
    no_engines = dict(p)
    del no_engines["engines"]
    assert "engines: missing" in harness.validate(no_engines)
    bad_engine = {**p, "engines": {"postgres": {"ok": False}}}
    assert any(
        problem.startswith("engines.postgres: no") for problem in harness.validate(bad_engine)
    )


def test_engines_table_has_each_stage_a_total_and_why_a_part_failed():
    rows = harness.engine_rows(payload()["engines"])
    assert [(r[0], r[1]) for r in rows] == [
        ("duckdb", "extract"),
        ("duckdb", "dbt_build"),
        ("duckdb", "forecast"),
        ("duckdb", "total"),
        ("spark", "extract"),
        ("spark", "dbt_build"),
        ("spark", "total"),
    ]
    assert rows[0][6] == "2,000 records, 2 streams, 500.0 rec/s"
    assert rows[3][2:6] == [True, 12.0, 6.0, 900.0]
    assert "dbt errors 0" in rows[3][6]
    assert rows[5][6] == "FAILED: killed after the 900 s timeout"
    assert "parquet -> dbt --target spark" in rows[6][6]
    assert "dbt errors 1 (model.salesops.x)" in rows[6][6]
    text = harness.markdown(payload())
    assert "| spark | total | no | 10.00 | 5.00 | 900.00 |" in text


def test_cpu_of_a_process_that_is_not_our_child():
    import os

    assert harness.proc_cpu_s(os.getpid()) >= 0
    assert harness.proc_cpu_s(2**22 + 7) is None


def test_the_extraction_benchmark_runs_end_to_end_at_tiny(capsys):
    # Real emulator, real connector, real DuckDB: the table has both objects against both
    # ceilings and an incremental share; no number is asserted beyond being measured.
    from bench import extraction

    assert extraction.main(["--scale", "tiny", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "| Opportunity |" in out and "| Task |" in out
    assert "Incremental extract after one simulated day:" in out
    assert "| full |" in out and "| incremental |" in out
