"""Dagster wiring for the ingest stage."""
