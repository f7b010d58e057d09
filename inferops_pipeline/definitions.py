"""Assembles the one Dagster Definitions object; nothing else lives here."""

import dagster as dg

from inferops_pipeline.defs.catalogs import assets as catalogs
from inferops_pipeline.defs.findings import assets as findings
from inferops_pipeline.defs.findings import checks as findings_checks
from inferops_pipeline.defs.ingest import assets as ingest
from inferops_pipeline.defs.model import assets as model
from inferops_pipeline.defs.recommendations import assets as recommendations
from inferops_pipeline.defs.remediation import assets as remediation
from inferops_pipeline.defs.remediation.jobs import rollback_remediation
from inferops_pipeline.defs.remediation.sensors import recommendation_inbox
from inferops_pipeline.defs.reports import assets as reports
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.defs.schedules import fleet_ready, ingest_job, nightly_job, nightly_schedule

# The assessment graph (what the nightly runs, `inferops assess` and tests materialize for a date: per-cluster ingest,
# then the daily stages; defs/inprocess.py). The remediation asset is apart: its partitions are recommendation ids
# and each run needs an operator's decision.
ALL_ASSETS = dg.load_assets_from_modules([ingest, catalogs, model, findings, recommendations, reports])
REMEDIATION_ASSETS = dg.load_assets_from_modules([remediation])
ALL_CHECKS = dg.load_asset_checks_from_modules([findings_checks])

defs = dg.Definitions(
    assets=[*ALL_ASSETS, *REMEDIATION_ASSETS],
    asset_checks=ALL_CHECKS,
    jobs=[ingest_job, nightly_job, rollback_remediation],
    schedules=[nightly_schedule],
    sensors=[fleet_ready, recommendation_inbox],
    resources={"inferops": InferopsResource()},
    executor=dg.in_process_executor,
)
