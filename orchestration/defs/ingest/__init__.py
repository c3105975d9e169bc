"""Ingest: one asset per raw table (``raw/<source>/<table>``), one subsettable multi-asset per
source, all in group ``ingest`` and the ``warehouse`` pool; plus the partitioned Google Ads
backfill."""
