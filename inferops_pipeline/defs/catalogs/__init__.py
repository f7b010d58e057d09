"""Dagster wiring for the catalog stage."""
