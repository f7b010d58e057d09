"""The nightly job over the whole graph and its schedule."""

import dagster as dg

from inferops_pipeline.defs.partitions import daily

nightly_job = dg.define_asset_job("nightly_assessment", selection=dg.AssetSelection.all(), partitions_def=daily)
nightly_schedule = dg.build_schedule_from_partitioned_job(nightly_job, hour_of_day=2)
