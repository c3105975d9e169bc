"""Transform: the dbt project as assets (``@dbt_assets``), grouped by layer, in the
``warehouse`` pool; dbt tests are asset checks."""
