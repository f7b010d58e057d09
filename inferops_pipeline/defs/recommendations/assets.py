"""Recommendations asset: one patch (and its inverse) per actionable finding, pending an operator's decision."""

import json
from datetime import date

import dagster as dg
import pandas as pd

from inferops_pipeline.audit import AuditEvent, append
from inferops_pipeline.defs.convert import markdown_preview, to_frame, workloads
from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.domain import Confidence, Finding, FindingStatus, FindingType, Severity
from inferops_pipeline.remediation.plan import plan_all

GROUP = "recommendations"


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
        recs = plan_all(findings_from(wh.frame_on("findings", day)), workloads(wh.frame_on("workloads", day)))
        frame = to_frame(recs)
        wh.replace_date("recommendations", day, frame)
        append(
            wh,
            (
                AuditEvent(
                    "inferops",
                    "recommendation.raised",
                    r.recommendation_id,
                    {"date": day, "action": r.action, "patch": r.patch},
                )
                for r in recs
            ),
            run_id=context.run_id,
        )
    return dg.MaterializeResult(
        metadata={
            "recommendations": len(frame),
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
