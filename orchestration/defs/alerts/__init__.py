"""Alert sensors (daemon): a backstop for failed runs and the stale-mart check."""
