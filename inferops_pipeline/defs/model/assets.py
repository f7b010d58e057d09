"""Model assets: GPU nodes with allocation and price, and one row per model deployment with its metrics."""

from collections import Counter
from datetime import date

import dagster as dg

from inferops_pipeline.defs.convert import markdown_preview, metric_rows, pod_rows, rows_to, to_frame
from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.domain import GpuNode
from inferops_pipeline.inventory.build import PendingPrice, PendingPricer, build_gpu_nodes, build_workloads
from inferops_pipeline.inventory.nodes import NodeFacts

GROUP = "model"


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    deps=["k8s_nodes", "k8s_workloads", "price_catalog"],
    description="GPU nodes with allocatable vs allocated GPUs (from scheduled pods) and the hourly price that applies "
    "to their instance type and capacity type, with the catalog row or override it came from.",
)
def gpu_nodes(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    prices = inferops.prices

    def price(fact: NodeFacts) -> tuple[float, str]:
        # The catalog's fallback chain (override → exact → other region → GPU-model median → unpriced); the text
        # carries basis and row key so every finding's dollars trace back to it.
        quote = prices.quote(
            cloud=fact.cloud,
            region=fact.region,
            instance_type=fact.instance_type,
            capacity_type=fact.capacity_type,
            gpu_model=fact.gpu_model,
            gpu_count=fact.gpu_count or fact.gpu_capacity,  # physical GPUs: MIG slices share one card's price
        )
        return quote.usd_hr, quote.text

    with inferops.warehouse() as wh:
        facts = rows_to(NodeFacts, wh.frame_on("k8s_nodes", day))
        pods = pod_rows(wh.frame_on("k8s_workloads", day))
        nodes = build_gpu_nodes(facts, pods, price=price)
        frame = to_frame(nodes)
        if not frame.empty:
            frame["gpu_free"] = [n.gpu_free for n in nodes]
        wh.replace_date("gpu_nodes", day, frame)
    monthly = float(frame["hourly_cost_usd"].sum() * 730) if not frame.empty else 0.0
    return dg.MaterializeResult(
        metadata={
            "gpu_nodes": len(frame),
            "gpus": int(frame["gpu_capacity"].sum()) if not frame.empty else 0,
            "free_gpus": int(frame["gpu_free"].sum()) if not frame.empty else 0,
            "monthly_gpu_spend_usd": dg.MetadataValue.float(round(monthly, 2)),
            "unpriced_nodes": int((frame["hourly_cost_usd"] == 0).sum()) if not frame.empty else 0,
        }
    )


def _pending_pricer(inferops: InferopsResource, nodes: list[GpuNode]) -> PendingPricer:
    """Prices a workload with nothing running from the instance type or GPU its pods ask for, in its cluster's
    cloud/region (from its nodes, else the cluster's configured defaults)."""
    prices = inferops.prices
    configured = {c.name: (c.cloud, c.region) for c in inferops.settings.clusters}

    def price(cluster: str, gpu_model: str, instance_type: str, gpus: int) -> PendingPrice | None:
        where = Counter((n.cloud, n.region) for n in nodes if n.cluster == cluster and n.cloud)
        cloud, region = where.most_common(1)[0][0] if where else configured.get(cluster, ("", ""))
        found = prices.lookup(cloud=cloud, region=region, instance_type=instance_type) if instance_type else None
        row = found[0] if found else None
        if row is None and gpu_model and gpus > 0:
            row = prices.instance_for_gpus(cloud=cloud, region=region, gpu_model=gpu_model, gpu_count=gpus)
        if row is None or row.gpu_count <= 0:
            return None
        quote = prices.quote(
            cloud=cloud,
            region=region,
            instance_type=row.instance_type,
            gpu_model=row.gpu_model,
            gpu_count=row.gpu_count,
        )
        return PendingPrice(
            gpu_model=row.gpu_model,
            gpu_memory_gib=row.gpu_memory_gib,
            gpu_hour_usd=quote.usd_hr / row.gpu_count,
            price_basis=quote.text,
            cloud=cloud,
            region=region,
        )

    return price


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    deps=[
        "k8s_workloads",
        "gpu_nodes",
        "gpu_metrics",
        "serving_metrics",
        "container_metrics",
        "model_catalog",
        "gpu_catalog",
    ],
    description="One row per model deployment: runtime, model, GPUs per replica, replicas running/pending, engine "
    "settings, hourly cost from its nodes, and its window metrics aggregated over its pods.",
)
def workloads(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with inferops.warehouse() as wh:
        nodes = rows_to(GpuNode, wh.frame_on("gpu_nodes", day))
        pods = pod_rows(wh.frame_on("k8s_workloads", day))
        built = build_workloads(
            pods, nodes, metric_rows(wh.frame_on("metrics", day)), price_pending=_pending_pricer(inferops, nodes)
        )
        frame = to_frame(built)
        wh.replace_date("workloads", day, frame)
    return dg.MaterializeResult(
        metadata={
            "workloads": len(frame),
            "monthly_cost_usd": dg.MetadataValue.float(
                round(float(frame["monthly_cost_usd"].sum()), 2) if not frame.empty else 0.0
            ),
            "without_gpu_metrics": sum(1 for w in built if w.running_pods and not w.metrics.gpu_samples),
            "preview": dg.MetadataValue.md(
                markdown_preview(
                    frame[["cluster", "namespace", "name", "runtime", "gpu_model", "replicas", "monthly_cost_usd"]]
                    if not frame.empty
                    else frame
                )
            ),
        }
    )
