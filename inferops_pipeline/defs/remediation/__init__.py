"""Approval inbox, remediation asset and rollback job."""
