"""Detectors (pure): one module per finding type, registered in registry.py, run by engine.py."""
