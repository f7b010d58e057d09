"""Report asset: the nightly fleet report written next to the warehouse, previewed in the Dagster UI."""

from datetime import date

import dagster as dg

from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.report import render


@dg.asset(
    group_name="reports",
    partitions_def=daily,
    pool="warehouse",
    deps=["findings", "recommendations", "gpu_nodes"],
    description="Self-contained HTML + Markdown fleet report for the day: spend, waste, risk and every open finding.",
)
def fleet_report(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with inferops.warehouse() as wh:
        markdown, page = render(day, wh.frame_on("findings", day), wh.frame_on("gpu_nodes", day))
    folder = inferops.warehouse_file.parent / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"fleet-{day}.md").write_text(markdown)
    html_path = folder / f"fleet-{day}.html"
    html_path.write_text(page)
    return dg.MaterializeResult(
        metadata={"html": dg.MetadataValue.path(str(html_path)), "report": dg.MetadataValue.md(markdown[:20000])}
    )
