"""Statistical forecast of quarterly bookings (plain Python, no Dagster): see
:mod:`orchestration.forecast.statistical` and docs/forecast-methods.md."""
