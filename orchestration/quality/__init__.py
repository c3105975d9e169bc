"""Quality gates and write-audit-publish, as plain Python (no Dagster imports).

The Dagster wiring lives in ``orchestration/defs/quality`` (gates as blocking asset checks) and
``orchestration/defs/publish`` (the ``publish`` asset); ``salesops publish --rollback`` calls
:mod:`orchestration.quality.publish` directly. See ``docs/quality.md``.

Modules
    :mod:`~orchestration.quality.outcome`   what a gate reports (``CheckOutcome``, ``Finding``)
    :mod:`~orchestration.quality.raw_suites` the Great Expectations suite of every raw table
    :mod:`~orchestration.quality.raw_gate`   row-level (GX, current sync, chunked) and
                                             table-level (SQL) checks, quarantine and flags
    :mod:`~orchestration.quality.mart_gate`  reconciliation across layers, volume, contracts
    :mod:`~orchestration.quality.freshness`  dbt source freshness results as outcomes
    :mod:`~orchestration.quality.status`     the status database (``SALESOPS_STATUS``)
    :mod:`~orchestration.quality.publish`    serving files, Parquet, versions, rollback
"""
