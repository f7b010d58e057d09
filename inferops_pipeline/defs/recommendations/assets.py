"""Recommendations asset: one patch (and its inverse) per actionable finding, pending an operator's decision."""

import dataclasses
import json
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from inferops_pipeline.audit import AuditEvent, append
from inferops_pipeline.defs.convert import markdown_preview, to_frame, workloads
from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.domain import Confidence, Finding, FindingStatus, FindingType, Recommendation, Severity
from inferops_pipeline.remediation.notify import awaiting_approval
from inferops_pipeline.remediation.plan import SUPPORTED_KINDS, plan_all
from inferops_pipeline.warehouse import Warehouse

GROUP = "recommendations"
# raw_k8s_objects.kind is the API plural; recommendations target workloads by their Kind.
# raw_k8s_objects names kinds by plural; the planner by Kind.
TARGET_KINDS = {plural: kind for kind, plural in SUPPORTED_KINDS.items()}


def targets_from(frame: pd.DataFrame) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """(cluster, namespace, Kind, name) → the object as read that night: its resourceVersion and spec pin the plan."""
    out: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in frame.to_dict(orient="records"):
        body = json.loads(r["body"]) if isinstance(r["body"], str) else dict(r["body"] or {})
        out[(str(r["cluster"]), str(r["namespace"]), TARGET_KINDS[str(r["kind"])], str(r["name"]))] = body
    return out


def findings_from(frame: pd.DataFrame) -> list[Finding]:
    out = []
    for r in frame.to_dict(orient="records"):
        out.append(
            Finding(
                **{
                    k: r[k]
                    for k in (
                        "finding_id",
                        "assessment_date",
                        "cluster",
                        "namespace",
                        "workload_kind",
                        "workload",
                        "model",
                        "gpu_model",
                        "owner",
                        "title",
                        "explanation",
                        "monthly_waste_usd",
                        "monthly_at_risk_usd",
                        "first_seen",
                    )
                },
                type=FindingType(r["type"]),
                severity=Severity(r["severity"]),
                confidence=Confidence(r["confidence"]),
                evidence=json.loads(r["evidence"]) if isinstance(r["evidence"], str) else dict(r["evidence"] or {}),
                status=FindingStatus(r["status"]),
            )
        )
    return out


def _audit(wh: Warehouse, day: date, raised: list[Recommendation], superseded: pd.DataFrame, *, run_id: str) -> None:
    """A recommendation is audited once, the night it is first raised; a supersession the night it happens."""
    append(
        wh,
        [
            *(
                AuditEvent(
                    "inferops",
                    "recommendation.raised",
                    r.recommendation_id,
                    {
                        "date": day,
                        "action": r.action,
                        "patch": r.patch,
                        "target_resource_version": r.target_resource_version,
                        "target_spec_hash": r.target_spec_hash,
                    },
                )
                for r in raised
            ),
            *(
                AuditEvent(
                    "inferops",
                    "recommendation.superseded",
                    str(row["recommendation_id"]),
                    {"date": day, "raised_on": row["assessment_date"], "why": "finding resolved"},
                )
                for row in superseded.to_dict(orient="records")
            ),
        ],
        run_id=run_id,
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    deps=["findings", "workloads"],
    description="One recommendation per actionable finding: action kind, target object, strategic-merge patch and "
    "inverse, rationale and expected $/month; status pending until approved or rejected.",
)
def recommendations(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with inferops.warehouse() as wh:
        recs = plan_all(
            findings_from(wh.frame_on("findings", day)),
            workloads(wh.frame_on("workloads", day)),
            targets=targets_from(wh.query("queries/raw_targets_on", assessment_date=day)),
        )
        # An empty night still needs the columns: the load keeps earlier decisions by joining on them.
        frame = to_frame(recs) if recs else pd.DataFrame(columns=[f.name for f in dataclasses.fields(Recommendation)])
        earlier = set(wh.query("queries/recommendation_ids_known", assessment_date=day)["recommendation_id"])
        fresh = [r for r in recs if r.recommendation_id not in earlier]
        # Rows, supersessions and their audit events commit together or not at all.
        with wh.transaction():
            wh.replace_date("recommendations", day, frame)
            # Earlier nights' pending recommendations whose finding resolved tonight no longer apply.
            superseded = wh.query("queries/recommendations_resolved", assessment_date=day)
            wh.run("load/recommendations_supersede_resolved", assessment_date=day)
            _audit(wh, day, fresh, superseded, run_id=context.run_id)
    if fresh:
        inferops.notify(
            context,
            awaiting_approval(
                count=len(fresh),
                savings_usd=sum((r.expected_monthly_savings_usd for r in fresh), 0.0),
                day=day.isoformat(),
            ),
        )
    return dg.MaterializeResult(
        metadata={
            "recommendations": len(frame),
            "superseded": len(superseded),
            # The remediation sensor reads ids from here so it never opens DuckDB (DESIGN §2).
            "recommendation_ids": dg.MetadataValue.json([r.recommendation_id for r in recs]),
            "expected_monthly_savings_usd": dg.MetadataValue.float(
                round(sum((r.expected_monthly_savings_usd for r in recs), 0.0), 2)
            ),
            "preview": dg.MetadataValue.md(
                markdown_preview(
                    frame[["action", "namespace", "target_name", "rationale", "expected_monthly_savings_usd"]]
                    if not frame.empty
                    else frame
                )
            ),
        }
    )
