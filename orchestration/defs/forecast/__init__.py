"""Forecast: the statistical forecast asset (``forecast/statistical_forecasts``)."""
