"""Dagster wiring for the model stage."""
