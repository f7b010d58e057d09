"""Dagster wiring for the findings stage."""
