"""Findings asset: every registered detector over the day's workloads and nodes, with history and audit."""

from datetime import date

import dagster as dg
import pandas as pd

from inferops_pipeline.audit import AuditEvent, append
from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelCatalog
from inferops_pipeline.defs.convert import markdown_preview, rows_to, to_frame, workloads
from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.detectors.context import Catalogs, DetectorContext
from inferops_pipeline.detectors.engine import detect_all, with_history
from inferops_pipeline.domain import GpuNode

GROUP = "findings"


def findings_frame(findings: list[object]) -> pd.DataFrame:
    frame = to_frame(findings)
    for column in ("type", "severity", "confidence", "status"):
        if column in frame:
            frame[column] = frame[column].astype(str)
    return frame


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    deps=["workloads", "gpu_nodes", "price_catalog", "gpu_catalog", "model_catalog"],
    description="One row per finding (DESIGN §4): type, severity, confidence, owner, explanation with numbers, "
    "evidence, monthly waste and at-risk dollars (never double counted), first_seen and new/ongoing/resolved status.",
)
def findings(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    settings = inferops.settings
    catalogs = Catalogs(
        prices=inferops.prices,
        gpus=GpuCatalog.load_bundled(),
        models=ModelCatalog.load_bundled(),
    )
    with inferops.warehouse() as wh:
        ctx = DetectorContext(
            assessment_date=day,
            workloads=workloads(wh.frame_on("workloads", day)),
            nodes=rows_to(GpuNode, wh.frame_on("gpu_nodes", day)),
            catalogs=catalogs,
            thresholds=settings.thresholds,
            as_of=inferops.window(day)[1],  # durations (pending since) end at the window end
        )
        first_seen = {
            str(r["finding_id"]): r["first_seen"]
            for r in wh.query("queries/first_seen", assessment_date=day).to_dict(orient="records")
        }
        previous = [
            {str(k): v for k, v in row.items()}
            for row in wh.query("queries/previous_findings", assessment_date=day).to_dict(orient="records")
        ]
        result = with_history(detect_all(ctx), assessment_date=day, first_seen=first_seen, previously_open=previous)
        frame = findings_frame(list(result))
        with wh.transaction():  # the night's findings and their audit events commit together
            wh.replace_date("findings", day, frame)
            append(
                wh,
                (
                    AuditEvent(
                        "inferops",
                        f"finding.{f.status}",
                        f.finding_id,
                        {"date": day, "type": f.type, "waste": f.monthly_waste_usd, "at_risk": f.monthly_at_risk_usd},
                    )
                    for f in result
                ),
                run_id=context.run_id,
            )
    open_ = frame[frame["status"] != "resolved"] if not frame.empty else frame
    by_type = (
        open_.groupby("type")[["monthly_waste_usd", "monthly_at_risk_usd"]].sum().round(0).reset_index()
        if not open_.empty
        else open_
    )
    return dg.MaterializeResult(
        metadata={
            "findings": len(open_),
            "resolved": len(frame) - len(open_),
            "monthly_waste_usd": dg.MetadataValue.float(
                round(float(open_["monthly_waste_usd"].sum()), 2) if not open_.empty else 0.0
            ),
            "monthly_at_risk_usd": dg.MetadataValue.float(
                round(float(open_["monthly_at_risk_usd"].sum()), 2) if not open_.empty else 0.0
            ),
            "by_type": dg.MetadataValue.md(markdown_preview(by_type, limit=20)),
            "worst": dg.MetadataValue.md(
                markdown_preview(
                    open_[["severity", "type", "cluster", "workload", "monthly_waste_usd", "monthly_at_risk_usd"]]
                    if not open_.empty
                    else open_
                )
            ),
        }
    )
