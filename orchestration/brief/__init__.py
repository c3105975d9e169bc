"""The static sales brief (``SALESOPS_BRIEF``), written after every run that builds marts or
fails. See :mod:`orchestration.brief.render`."""

from orchestration.brief.render import BriefResult, RunSummary, write_brief

__all__ = ["BriefResult", "RunSummary", "write_brief"]
