"""Command groups of the ``salesops`` CLI."""
