"""Remediation asset: one dynamic partition per recommendation; materializing it is the operator's decision."""

import dataclasses
import json
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from inferops_pipeline.audit import AuditEvent, append
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.domain import Recommendation
from inferops_pipeline.remediation.apply import ApplyOutcome, ClusterWriter, LiveClusterWriter, apply_recommendation
from inferops_pipeline.remediation.guards import Decision, GuardResult, check
from inferops_pipeline.remediation.notify import remediation_outcome
from inferops_pipeline.settings import Settings
from inferops_pipeline.warehouse import Warehouse

GROUP = "remediation"
RECOMMENDATIONS = dg.AssetKey("recommendations")

# Partition key = recommendation id. The inbox sensor adds keys; anyone can add keys in the UI too, so the asset
# treats a key only as a claim and re-checks it against the warehouse (DESIGN §5).
recommendation_partitions = dg.DynamicPartitionsDefinition(name="recommendations")

# Apply outcome → the recommendation's stored status; a dry run leaves it pending (nothing changed yet).
STATUS_AFTER = {
    "applied": "applied",
    "noop": "applied",
    "superseded": "superseded",
    "failed": "failed",
    "rolled_back": "rolled_back",
}
# Outcomes that end the run red: the partition's run history then shows the attempt failed, not "materialized".
FAILED_OUTCOMES = frozenset({"refused", "failed", "rolled_back"})


class DecisionKind(Enum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


class RemediationDecision(dg.Config):
    """The Launchpad form of an approval: every field but dry_run is required, so the UI asks for them."""

    decision: DecisionKind = Field(
        description="APPROVE applies the recommendation's patch (after a server-side dry run); REJECT records "
        "that it will not be applied and closes it."
    )
    approver: str = Field(
        description="Who decides, as listed in the settings' remediation.approvers (e.g. alice@example.com). "
        "Anyone else is refused and the refusal is audited."
    )
    reason: str = Field(description="Why: the change ticket, incident or judgement behind the decision (audited).")
    dry_run: bool = Field(
        True,
        description="true (default): rehearse only — the API server validates the patch (dryRun=All) and the diff "
        "is shown, nothing changes. false: apply the patch for real.",
    )


def recommendation_from_row(row: dict[str, Any]) -> Recommendation:
    """A warehouse row as the domain object the guards and apply expect (JSON columns parsed, NaN dropped)."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(Recommendation):
        if f.name not in row:
            continue
        value = row[f.name]
        if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
            continue
        if f.name in {"patch", "inverse_patch"} and isinstance(value, str):
            value = json.loads(value)
        elif f.name == "assessment_date":
            value = pd.Timestamp(value).date()
        elif hasattr(value, "item"):
            value = value.item()
        kwargs[f.name] = value
    return Recommendation(**kwargs)


def latest_recommendation(wh: Warehouse, recommendation_id: str) -> Recommendation | None:
    frame = wh.query("queries/recommendation_latest", recommendation_id=recommendation_id)
    if frame.empty:
        return None
    return recommendation_from_row({str(k): v for k, v in frame.iloc[0].to_dict().items()})


def cluster_writer(settings: Settings, cluster: str) -> ClusterWriter | str:
    """The write credential of a cluster, or why there is none (the read-only scanner credential never writes)."""
    config = next((c for c in settings.clusters if c.name == cluster), None)
    if config is None:
        return f"cluster {cluster!r} is not in the settings file"
    if config.remediator is None:
        return f"cluster {cluster!r} has no remediator credential (clusters[].remediator); nothing can be applied"
    return LiveClusterWriter(config.remediator)


def recommendations_event(instance: dg.DagsterInstance, day: date) -> dg.EventLogRecord | None:
    """The latest recommendations materialization of the night that raised a recommendation (for lineage)."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RECOMMENDATIONS, asset_partitions=[day.isoformat()]), limit=1
    )
    return result.records[0] if result.records else None


def _md_json(value: Any) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"```json\n{json.dumps(value, indent=2, sort_keys=True, default=str)}\n```")


def diff_markdown(diff: dict[str, Any]) -> str:
    """{"before": {path: value}, "after": {path: value}} as a before/after table per touched field."""
    before, after = diff.get("before") or {}, diff.get("after") or {}
    paths = sorted({*before, *after})
    if not paths:
        return "_no change_"
    cell = lambda v: f"`{json.dumps(v, default=str)}`"  # noqa: E731 - a one-line formatter
    return "\n".join(
        [
            "| field | before | after |",
            "|---|---|---|",
            *(f"| `{p}` | {cell(before.get(p))} | {cell(after.get(p))} |" for p in paths),
        ]
    )


def set_status(wh: Warehouse, rec: Recommendation, status: str) -> None:
    """The recommendation's stored status (pending → approved → applied/failed/…); the night's row keeps it."""
    wh.run(
        "load/recommendation_status",
        status=status,
        recommendation_id=rec.recommendation_id,
        assessment_date=rec.assessment_date,
    )


def outcome_metadata(outcome: ApplyOutcome) -> dict[str, Any]:
    return {
        "detail": outcome.detail,
        "diff": dg.MetadataValue.md(diff_markdown(outcome.diff)),
        "diff_json": dg.MetadataValue.json(json.loads(json.dumps(outcome.diff, default=str))),
        "resource_version": outcome.resource_version,
        "events": dg.MetadataValue.json(list(outcome.events)),
    }


# The Dagster UI lists metadata in insertion order: what the operator decided and what happened come first.
LEADING = ("decision", "approver", "reason", "dry_run", "outcome", "dry_run_result", "detail", "diff", "guard_reasons")


def ordered(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: metadata[k] for k in LEADING if k in metadata} | metadata


def close(writer: ClusterWriter) -> None:
    closer = getattr(writer, "close", None)
    if callable(closer):
        closer()


@dg.asset(
    group_name=GROUP,
    partitions_def=recommendation_partitions,
    pool="warehouse",
    # A dep (not an input): nothing is loaded, but Dagster records dagster/input_event_pointer/recommendations on
    # each materialization, the storage id of the recommendations event the decision was taken against.
    deps=[dg.AssetDep("recommendations", partition_mapping=dg.AllPartitionMapping())],
    description="The approval inbox: one partition per recommendation. Materialize a partition with "
    "{decision, approver, reason, dry_run} to approve (dry run first, then apply) or reject it; the partition's "
    "materializations are its decision history.",
)
def remediation(
    context: dg.AssetExecutionContext, config: RemediationDecision, inferops: InferopsResource
) -> dg.MaterializeResult:
    recommendation_id = context.partition_key
    settings = inferops.settings
    decision = Decision(
        decision=config.decision.value, approver=config.approver, reason=config.reason, dry_run=config.dry_run
    )
    decided = {"decision": decision.decision, "approver": decision.approver, "reason": decision.reason}
    metadata: dict[str, Any] = {
        **decided,
        "dry_run": decision.dry_run,
        "recommendation_id": recommendation_id,
        "run_id": context.run_id,
    }
    with inferops.warehouse() as wh:
        rec = latest_recommendation(wh, recommendation_id)
        today = datetime.now(UTC).date()
        applied_today = int(wh.scalar("queries/remediations_applied_on", day=today) or 0)
        guard: GuardResult = check(
            rec,
            decision,
            config=settings.remediation,
            applied_today=applied_today,
            partition_key=recommendation_id,
        )
        writer: ClusterWriter | str | None = None
        if guard.allowed and rec is not None and decision.decision == "APPROVE":
            writer = cluster_writer(settings, rec.cluster)
        reasons = list(guard.reasons) + ([writer] if isinstance(writer, str) else [])
        if rec is not None:
            metadata |= {
                "cluster": rec.cluster,
                "target": f"{rec.namespace}/{rec.target_kind}/{rec.target_name}",
                "action": rec.action,
                "rationale": rec.rationale,
                "patch": _md_json(rec.patch),
                "expected_monthly_savings_usd": dg.MetadataValue.float(float(rec.expected_monthly_savings_usd)),
                "recommendation_date": rec.assessment_date.isoformat(),
            }
            source = recommendations_event(context.instance, rec.assessment_date)
            if source is not None:
                # The exact night's recommendations event (the input_event_pointer tag names the latest one).
                metadata["recommendations_event"] = dg.MetadataValue.json(
                    {"storage_id": source.storage_id, "run_id": source.run_id}
                )
        metadata["guard_reasons"] = dg.MetadataValue.json(reasons)

        if not guard.allowed or isinstance(writer, str):
            outcome = guard.status if guard.status == "rejected" and not isinstance(writer, str) else "refused"
            if outcome == "rejected" and rec is not None:
                set_status(wh, rec, "rejected")
            append(
                wh,
                [
                    AuditEvent(
                        decision.approver, f"decision.{outcome}", recommendation_id, {**decided, "reasons": reasons}
                    )
                ],
                run_id=context.run_id,
            )
            metadata["outcome"] = outcome
            metadata["dry_run_result"] = "not run"
            if outcome == "refused":
                raise dg.Failure(
                    description=f"refused: {'; '.join(reasons) or 'not allowed'}",
                    metadata=ordered(metadata),
                    allow_retries=False,
                )
            return dg.MaterializeResult(metadata=ordered(metadata))

        assert rec is not None and writer is not None and not isinstance(writer, str)
        if not decision.dry_run and rec.status == "pending":
            # Recorded before the write: if the process dies mid-apply the row says a change may have started.
            set_status(wh, rec, "approved")
        append(
            wh,
            [
                AuditEvent(
                    decision.approver, "decision.approved", recommendation_id, {**decided, "dry_run": decision.dry_run}
                )
            ],
            run_id=context.run_id,
        )
    # The cluster write happens outside the DuckDB connection: a slow rollout must not hold the warehouse lock.
    try:
        result = apply_recommendation(
            rec,
            writer=writer,
            approver=decision.approver,
            reason=decision.reason,
            dry_run=decision.dry_run,
            wait_ready_s=0 if decision.dry_run else settings.remediation.wait_for_rollout_s,
        )
    except Exception as exc:
        # apply reports cluster errors as `failed`; anything else is a bug, still audited before it surfaces.
        result = ApplyOutcome("failed", f"{type(exc).__name__}: {exc}")
    finally:
        close(writer)
    event = "remediation.dry_run" if result.status == "dry_run_ok" else f"remediation.{result.status}"
    with inferops.warehouse() as wh:
        # A rehearsal changes nothing, so it decides nothing either: only a changed target (superseded) sticks.
        if result.status in STATUS_AFTER and (not decision.dry_run or result.status == "superseded"):
            set_status(wh, rec, STATUS_AFTER[result.status])
        append(
            wh,
            [
                AuditEvent(
                    decision.approver,
                    event,
                    recommendation_id,
                    {
                        **decided,
                        "dry_run": decision.dry_run,
                        "status": result.status,
                        "detail": result.detail,
                        "diff": result.diff,
                        "resource_version": result.resource_version,
                        "patch": rec.patch,
                    },
                )
            ],
            run_id=context.run_id,
        )
    if not decision.dry_run:
        inferops.notify(
            context,
            remediation_outcome(
                recommendation_id=recommendation_id,
                status=result.status,
                approver=decision.approver,
                target=f"{rec.cluster}/{rec.namespace}/{rec.target_kind}/{rec.target_name}",
                detail=result.detail,
            ),
        )
    metadata |= outcome_metadata(result)
    metadata["outcome"] = result.status
    metadata["dry_run_result"] = (
        result.status if decision.dry_run else ("passed" if result.status in {"applied", "noop"} else result.status)
    )
    if result.status in FAILED_OUTCOMES:
        raise dg.Failure(
            description=f"{result.status}: {result.detail}", metadata=ordered(metadata), allow_retries=False
        )
    return dg.MaterializeResult(metadata=ordered(metadata))
