"""Assembles the one Dagster Definitions object; nothing else lives here."""

import dagster as dg

from inferops_pipeline.defs.findings import assets as findings
from inferops_pipeline.defs.findings import checks as findings_checks
from inferops_pipeline.defs.ingest import assets as ingest
from inferops_pipeline.defs.model import assets as model
from inferops_pipeline.defs.recommendations import assets as recommendations
from inferops_pipeline.defs.reports import assets as reports
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.defs.schedules import nightly_job, nightly_schedule

ALL_ASSETS = dg.load_assets_from_modules([ingest, model, findings, recommendations, reports])
ALL_CHECKS = dg.load_asset_checks_from_modules([findings_checks])

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    resources={"inferops": InferopsResource()},
    executor=dg.in_process_executor,
)
