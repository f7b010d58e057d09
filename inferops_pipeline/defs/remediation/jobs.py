"""rollback_remediation job: applies a recommendation's stored inverse patch, audited, by an allow-listed actor."""

from typing import Any

import dagster as dg
from pydantic import Field

from inferops_pipeline.audit import AuditEvent, append
from inferops_pipeline.defs.remediation.assets import (
    close,
    cluster_writer,
    latest_recommendation,
    outcome_metadata,
    set_status,
)
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.remediation.apply import rollback_recommendation

# Only a change that reached the cluster can be rolled back.
ROLLBACKABLE = frozenset({"applied"})


class RollbackConfig(dg.Config):
    recommendation_id: str = Field(description="The applied recommendation (= remediation partition key) to undo.")
    actor: str = Field(description="Who rolls back; must be in the settings' remediation.approvers.")
    reason: str = Field(description="Why the change is undone (audited).")


@dg.op(pool="warehouse", description="Apply the stored inverse patch of one applied recommendation.")
def rollback(context: dg.OpExecutionContext, config: RollbackConfig, inferops: InferopsResource) -> None:
    settings = inferops.settings
    with inferops.warehouse() as wh:
        rec = latest_recommendation(wh, config.recommendation_id)
        reasons: list[str] = []
        if config.actor not in settings.remediation.approvers:
            reasons.append(f"{config.actor!r} is not in remediation.approvers")
        if rec is None:
            reasons.append(f"no recommendation {config.recommendation_id!r}")
        elif rec.status not in ROLLBACKABLE:
            reasons.append(f"recommendation is {rec.status}, not applied")
        writer = cluster_writer(settings, rec.cluster) if rec is not None and not reasons else None
        if isinstance(writer, str):
            reasons.append(writer)
        payload: dict[str, Any] = {"actor": config.actor, "reason": config.reason}
        if reasons or rec is None or writer is None or isinstance(writer, str):
            append(
                wh,
                [
                    AuditEvent(
                        config.actor, "rollback.refused", config.recommendation_id, payload | {"reasons": reasons}
                    )
                ],
                run_id=context.run_id,
            )
            raise dg.Failure(description=f"rollback refused: {'; '.join(reasons)}", allow_retries=False)
    try:
        outcome = rollback_recommendation(rec, writer=writer, actor=config.actor, reason=config.reason)
    finally:
        close(writer)
    ok = outcome.status in {"rolled_back", "applied", "noop"}
    with inferops.warehouse() as wh:
        if ok:
            set_status(wh, rec, "rolled_back")
        append(
            wh,
            [
                AuditEvent(
                    config.actor,
                    "remediation.rolled_back" if ok else "rollback.failed",
                    rec.recommendation_id,
                    payload
                    | {
                        "status": outcome.status,
                        "detail": outcome.detail,
                        "diff": outcome.diff,
                        "inverse_patch": rec.inverse_patch,
                    },
                )
            ],
            run_id=context.run_id,
        )
    metadata = {"actor": config.actor, "reason": config.reason, "outcome": outcome.status, **outcome_metadata(outcome)}
    # The rollback shows up in the remediation partition's event history next to the decision that applied it.
    context.log_event(dg.AssetObservation(asset_key="remediation", partition=rec.recommendation_id, metadata=metadata))
    if not ok:
        raise dg.Failure(description=f"rollback {outcome.status}: {outcome.detail}", metadata=metadata)


@dg.job(
    name="rollback_remediation",
    description="Undo an applied remediation: applies the recommendation's stored inverse patch (audited).",
)
def rollback_remediation() -> None:
    rollback()
