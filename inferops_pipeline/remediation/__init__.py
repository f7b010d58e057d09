"""Remediation: plan (pure) turns findings into patches, guards (pure) decide, apply alone writes to a cluster."""
