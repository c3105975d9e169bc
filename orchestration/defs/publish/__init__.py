"""Publish: the ``publish`` asset, write-audit-publish of the marts to the serving files."""
