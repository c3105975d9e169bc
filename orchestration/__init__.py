"""The Dagster code location of salesops: ``definitions.py`` loads the ``defs/`` folder.

Helpers that are not Dagster definitions (as-of dates, alerts, the run finalizer, the sales
brief, launching a run on the persistent instance) live next to ``defs/`` so that the autoloader
never sees them. Nothing in this package reads the environment at import time.
"""
