"""Quality gates as Dagster asset checks (the logic is in :mod:`orchestration.quality`).

``raw_gate``   one blocking check per raw table (``raw_gate``), one step per source.
``freshness``  dbt source freshness surfaced as checks on the raw assets (not blocking).
``mart_gate``  reconciliations, volume and contract checks on the marts (blocking).
``results``    outcomes -> ``AssetCheckResult`` and the status database.
``run_status`` the run's row and its dbt test results in the status database (called by the
               run finalizer).

The model gate is dbt's own tests: dagster-dbt emits them as checks of the dbt assets, blocking
when their severity is ``error``.
"""
