"""Dagster definitions, one package per concern, loaded by ``dg.load_from_defs_folder``:
``resources``, ``ingest``, ``transform``, ``quality`` and ``publish`` (quality gates, added
separately), ``reporting`` (the sales brief), ``schedules`` (jobs and the nightly schedule) and
``alerts`` (sensors)."""
