"""Report asset: the nightly fleet report written next to the warehouse, previewed in the Dagster UI."""

from datetime import date

import dagster as dg

from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.report import render_report, report_path
from inferops_pipeline.report.load import load_report_data


@dg.asset(
    group_name="reports",
    partitions_def=daily,
    pool="warehouse",
    deps=["findings", "recommendations", "gpu_nodes"],
    description="Self-contained HTML + Markdown fleet report for the night: waste and risk totals and their trend, "
    "waste by type and by team/namespace, top findings with explanations, new and resolved findings, coverage gaps.",
)
def fleet_report(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with inferops.warehouse() as wh:
        report = render_report(load_report_data(wh, day))
    folder = inferops.warehouse_file.parent / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    report_path(folder, day, "markdown").write_text(report.markdown)
    html_path = report_path(folder, day)
    html_path.write_text(report.html)
    t = report.totals
    return dg.MaterializeResult(
        metadata={
            "html": dg.MetadataValue.path(str(html_path)),
            # The UI renders this Markdown on the asset page; its size cap is far above a nightly summary.
            "report": dg.MetadataValue.md(report.markdown[:50000]),
            "monthly_waste_usd": dg.MetadataValue.float(round(t.monthly_waste_usd, 2)),
            "monthly_at_risk_usd": dg.MetadataValue.float(round(t.monthly_at_risk_usd, 2)),
            "open_findings": dg.MetadataValue.int(t.open_findings),
            "new_findings": dg.MetadataValue.int(t.new_findings),
            "resolved_findings": dg.MetadataValue.int(t.resolved_findings),
        }
    )
