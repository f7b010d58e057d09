"""Remediation: plan (pure) turns findings into patches; guards and apply come with the approvals issue."""
