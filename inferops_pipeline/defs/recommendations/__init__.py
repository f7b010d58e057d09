"""Dagster wiring for the recommendations stage."""
