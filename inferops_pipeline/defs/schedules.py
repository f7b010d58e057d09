"""The nightly job over the whole daily graph and its schedule (settings `schedule:`; default 02:00 UTC)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import schedule_config
from inferops_pipeline.settings import ScheduleConfig

# Remediation is approval-driven (its own dynamic partitions), so the nightly run stops at the report.
NIGHTLY_GROUPS = ("ingest", "model", "findings", "recommendations", "reports")

nightly_job = dg.define_asset_job(
    "nightly_assessment",
    selection=dg.AssetSelection.groups(*NIGHTLY_GROUPS),
    partitions_def=daily,
    description="Ingest → model → findings (+ checks) → recommendations → fleet report for one UTC day.",
)


def previous_utc_day(tick: datetime) -> str:
    """The last complete UTC day at a tick, whatever timezone the cron is read in: the partition to assess."""
    return (tick.astimezone(UTC).date() - timedelta(days=1)).isoformat()


def build_nightly_schedule(config: ScheduleConfig) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="nightly_assessment_schedule",
        job=nightly_job,
        cron_schedule=config.cron,
        execution_timezone=config.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if config.enabled else dg.DefaultScheduleStatus.STOPPED,
        description=f"Assesses the previous UTC day at `{config.cron}` ({config.timezone}).",
    )
    def _nightly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = previous_utc_day(context.scheduled_execution_time or datetime.now(UTC))
        # run_key = the day: a re-evaluated tick never launches the same night twice.
        return dg.RunRequest(run_key=day, partition_key=day)

    return _nightly


nightly_schedule = build_nightly_schedule(schedule_config())
