"""Preloaded by the forkserver of :data:`orchestration.finalize.salesops_executor`.

Importing this module imports Dagster, dagster-dbt and the connectors and loads the definitions
once, in the forkserver; every step process forks from it with all of that ready instead of
spending seconds re-importing and re-loading. This import-time work happens only in the
forkserver (nothing else imports this module). A failure here is harmless: steps then load the
definitions themselves.
"""

import contextlib

with contextlib.suppress(Exception):
    from orchestration.definitions import loaded

    loaded()
