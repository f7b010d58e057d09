"""Approval inbox sensor: one remediation partition per new recommendation id, read from materialization metadata."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from inferops_pipeline.defs.remediation.assets import RECOMMENDATIONS, recommendation_partitions

PAGE = 100


def ids_from(record: dg.EventLogRecord) -> list[str]:
    """The recommendation ids a recommendations materialization announced (an empty list when it lacks them)."""
    materialization = record.asset_materialization
    if materialization is None:
        return []
    entry = materialization.metadata.get("recommendation_ids")
    value = entry.value if entry is not None else None
    return [str(i) for i in value] if isinstance(value, list) else []


def new_ids(records: Iterable[dg.EventLogRecord], existing: set[str]) -> list[str]:
    out: list[str] = []
    for record in records:
        # A runless "reported" materialization (UI / REST) proves nothing about the warehouse: skip it. Even if
        # one slipped through, the remediation asset re-checks each key against DuckDB before acting.
        if not record.run_id:
            continue
        out.extend(i for i in ids_from(record) if i not in existing and i not in out)
    return out


@dg.sensor(
    name="recommendation_inbox",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds one `remediation` partition per new recommendation id announced in the recommendations "
    "asset's materialization metadata (never reads DuckDB); the partition is where the operator decides.",
)
def recommendation_inbox(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = int(context.cursor) if context.cursor else 0
    records: list[dg.EventLogRecord] = []
    while True:
        page = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=RECOMMENDATIONS, after_storage_id=cursor), limit=PAGE, ascending=True
        )
        records.extend(page.records)
        if page.records:
            cursor = max(cursor, *(r.storage_id for r in page.records))
        if not page.has_more:
            break
    existing = set(context.instance.get_dynamic_partitions(str(recommendation_partitions.name)))
    added = new_ids(records, existing)
    if not added:
        return dg.SensorResult(skip_reason="no new recommendations", cursor=str(cursor))
    context.log.info(f"{len(added)} new recommendation(s) await approval")
    return dg.SensorResult(
        dynamic_partitions_requests=[recommendation_partitions.build_add_request(added)], cursor=str(cursor)
    )
