"""Nightly orchestration: a schedule that ingests each cluster in its own run, and a sensor that assesses a date
once every configured cluster is in (settings `schedule:`; default 02:00 UTC)."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dagster as dg

from inferops_pipeline.defs.partitions import DATE, cluster_partition, daily, daily_by_cluster, register_clusters
from inferops_pipeline.defs.resources import InferopsResource, schedule_config
from inferops_pipeline.settings import ScheduleConfig

INGEST_GROUP = "ingest"
# Remediation is approval-driven (its own dynamic partitions), so the nightly run stops at the report.
DAILY_GROUPS = ("catalogs", "model", "findings", "recommendations", "reports")
# One key per per-cluster multi-asset: both must have materialized for every cluster before a date is assessed.
INGEST_KEYS = (dg.AssetKey("k8s_nodes"), dg.AssetKey("gpu_metrics"))
PAGE = 200
IN_PROGRESS = "an ingest run for this date is still queued or running"

INGEST_JOB_NAME = "cluster_ingest"
ingest_job = dg.define_asset_job(
    INGEST_JOB_NAME,
    selection=dg.AssetSelection.groups(INGEST_GROUP),
    partitions_def=daily_by_cluster,
    description="One cluster's inventory and window metrics for one UTC day, staged for the warehouse load. With "
    "the Kubernetes run launcher each cluster's run is its own pod; the runs never open DuckDB.",
)

nightly_job = dg.define_asset_job(
    "nightly_assessment",
    selection=dg.AssetSelection.groups(*DAILY_GROUPS),
    partitions_def=daily,
    description="Catalogs → fleet_ingest (every cluster's staged ingest into DuckDB) → model → findings (+ checks) "
    "→ recommendations → fleet report for one UTC day. Launched by the fleet_ready sensor.",
)


def previous_utc_day(tick: datetime) -> str:
    """The last complete UTC day at a tick, whatever timezone the cron is read in: the partition to assess."""
    return (tick.astimezone(UTC).date() - timedelta(days=1)).isoformat()


def build_nightly_schedule(config: ScheduleConfig) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="nightly_assessment_schedule",
        job=ingest_job,
        cron_schedule=config.cron,
        execution_timezone=config.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if config.enabled else dg.DefaultScheduleStatus.STOPPED,
        description=f"At `{config.cron}` ({config.timezone}) ingests the previous UTC day, one run per configured "
        "cluster (in parallel under the Kubernetes run launcher); the fleet_ready sensor then assesses the day.",
    )
    def _nightly(context: dg.ScheduleEvaluationContext, inferops: InferopsResource) -> list[dg.RunRequest]:
        day = previous_utc_day(context.scheduled_execution_time or datetime.now(UTC))
        names = [c.name for c in inferops.settings.clusters]
        # Schedules cannot return partition requests (sensors can), and the run requests below must name
        # existing partitions: add the configured clusters first (idempotent).
        register_clusters(context.instance, names)
        # run_key = day/cluster: a re-evaluated tick never launches the same cluster's night twice.
        return [
            dg.RunRequest(run_key=f"{day}/{name}", partition_key=str(cluster_partition(day, name))) for name in names
        ]

    return _nightly


_CONFIG = schedule_config()  # read once at code load; schedule and sensor are switched on and off together
nightly_schedule = build_nightly_schedule(_CONFIG)


def _new_ingest_records(instance: dg.DagsterInstance, cursor: int) -> list[dg.EventLogRecord]:
    records: list[dg.EventLogRecord] = []
    for key in INGEST_KEYS:
        after = cursor
        while True:
            page = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=PAGE, ascending=True
            )
            records.extend(page.records)
            if page.records:
                after = max(r.storage_id for r in page.records)
            if not page.has_more:
                break
    return records


def _date_of(record: dg.EventLogRecord) -> str | None:
    key = record.partition_key
    if not key:
        return None
    return daily_by_cluster.get_partition_key_from_str(key).keys_by_dimension[DATE]


def ready_dates(
    instance: dg.DagsterInstance, records: Iterable[dg.EventLogRecord], clusters: list[str]
) -> tuple[dict[str, int], dict[str, str]]:
    """Dates touched by `records` whose every cluster has both ingests and none is queued or running, each with the
    newest storage id seen for it (the run key: a re-ingested cluster re-assesses its date once); plus why the
    other dates wait."""
    newest: dict[str, int] = {}
    for record in records:
        day = _date_of(record)
        if day is not None:
            newest[day] = max(newest.get(day, 0), record.storage_id)
    done = {key: instance.get_materialized_partitions(key) for key in INGEST_KEYS}
    ready: dict[str, int] = {}
    waiting: dict[str, str] = {}
    for day, storage_id in sorted(newest.items()):
        absent = [
            f"{name} ({key.to_user_string()})"
            for name in clusters
            for key in INGEST_KEYS
            if str(cluster_partition(day, name)) not in done[key]
        ]
        # Any job: the schedule's cluster_ingest runs and ingest partitions materialized from the UI alike carry the
        # date tag (only date × cluster runs have it; daily runs are tagged `dagster/partition`).
        running = instance.get_runs(
            dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
                tags={f"dagster/partition/{DATE}": day},
            ),
            limit=1,
        )
        if absent:
            waiting[day] = f"not ingested yet: {', '.join(absent)}"
        elif running:
            waiting[day] = IN_PROGRESS
        else:
            ready[day] = storage_id
    return ready, waiting


@dg.sensor(
    name="fleet_ready",
    job=nightly_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING if _CONFIG.enabled else dg.DefaultSensorStatus.STOPPED,
    description="Launches the nightly assessment of a date once every configured cluster's ingest for it has "
    "materialized (and again when a cluster is re-ingested). Reads the event log only, never DuckDB.",
)
def fleet_ready(context: dg.SensorEvaluationContext, inferops: InferopsResource) -> dg.SensorResult:
    cursor = int(context.cursor) if context.cursor else 0
    records = _new_ingest_records(context.instance, cursor)
    if not records:
        return dg.SensorResult(skip_reason="no new cluster ingest", cursor=str(cursor))
    clusters = [c.name for c in inferops.settings.clusters]
    ready, waiting = ready_dates(context.instance, records, clusters)
    for day, why in waiting.items():
        context.log.info(f"{day}: {why}")
    # Dates that wait are seen again: their missing cluster's materialization is a new record after the cursor.
    # A date held only by an in-progress run keeps the cursor below its records, so the next tick looks again.
    held = [r.storage_id for r in records if waiting.get(_date_of(r) or "") == IN_PROGRESS]
    new_cursor = min(held) - 1 if held else max(r.storage_id for r in records)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"{day}@{storage_id}", partition_key=day) for day, storage_id in ready.items()
        ],
        cursor=str(max(cursor, new_cursor)),
        skip_reason=None if ready else "; ".join(f"{d}: {w}" for d, w in waiting.items()),
    )
