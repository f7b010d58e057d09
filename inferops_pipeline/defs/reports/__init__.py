"""Dagster wiring for the reports stage."""
