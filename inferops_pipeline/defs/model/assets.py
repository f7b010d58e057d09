"""Model assets: every cluster's ingest loaded for the date, GPU nodes with price, one row per model deployment."""

from collections import Counter
from datetime import date

import dagster as dg
import pyarrow as pa

from inferops_pipeline.defs.convert import markdown_preview, metric_rows, pod_rows, rows_to, to_frame
from inferops_pipeline.defs.ingest.assets import INVENTORY, METRICS
from inferops_pipeline.defs.partitions import EVERY_CLUSTER_OF_THE_DATE, cluster_partition, daily
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.domain import CoverageRow, CoverageStatus, GpuNode
from inferops_pipeline.inventory.build import PendingPrice, PendingPricer, build_gpu_nodes, build_workloads
from inferops_pipeline.inventory.nodes import NodeFacts
from inferops_pipeline.sources.kubernetes import KINDS
from inferops_pipeline.sources.kubernetes import SOURCE as KUBERNETES
from inferops_pipeline.sources.prometheus import PARTS, coverage_frame
from inferops_pipeline.warehouse.staging import Staging, StagingError

GROUP = "model"

# What each per-cluster ingest asset stages, and the coverage source and parts it answers for.
_STAGED = {
    INVENTORY: (KUBERNETES, KINDS, ("raw_k8s_objects", "k8s_nodes", "k8s_workloads")),
    METRICS: ("prometheus", PARTS, ("metrics",)),
}


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    deps=[
        dg.AssetDep(key, partition_mapping=EVERY_CLUSTER_OF_THE_DATE)
        for key in ("k8s_nodes", "k8s_workloads", "gpu_metrics", "serving_metrics", "container_metrics")
    ],
    description="Every configured cluster's staged ingest for the date (inventory, metrics, coverage) loaded into "
    "the warehouse in one transaction — the only writer of those tables, so per-cluster ingest runs can run in "
    "parallel without the DuckDB lock. A cluster with no ingest run for the date is recorded as a coverage error "
    "(its earlier findings stay open) rather than silently missing.",
)
def fleet_ingest(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    staging = inferops.staging
    if not staging.has_any(day):
        # Loading nothing would replace the date's rows with "not ingested" for every cluster.
        raise StagingError(
            f"{staging.root}: no cluster has staged ingest for {day} (ingest the clusters first; the warehouse rows of "
            "that date are left as they are)"
        )
    tables: dict[str, list[pa.Table]] = {name: [] for _, _, names in _STAGED.values() for name in ("coverage", *names)}
    missing: dict[str, list[str]] = {}
    staged_runs: dict[str, str] = {}
    for cluster in inferops.settings.clusters:
        for asset, (source, parts, names) in _STAGED.items():
            staged = staging.read(day=day, cluster=cluster.name, asset=asset)
            if staged is None:
                key = cluster_partition(day.isoformat(), cluster.name)
                detail = f"not ingested: no {asset} run for partition {key}"
                rows = (CoverageRow(cluster.name, source, part, CoverageStatus.ERROR, 0, detail) for part in parts)
                tables["coverage"].append(pa.Table.from_pandas(coverage_frame(rows), preserve_index=False))
                missing.setdefault(cluster.name, []).append(asset)
                context.log.error(f"cluster {cluster.name}: {detail}")
                continue
            staged_runs[f"{cluster.name}/{asset}"] = staged.run_id
            tables["coverage"].append(staged.tables["coverage"])
            for name in names:
                tables[name].append(staged.tables[name])
    frames = {name: Staging.combine(parts, categorical=name == "metrics") for name, parts in tables.items()}
    coverage = frames.pop("coverage")
    with inferops.warehouse() as wh, wh.transaction():  # every cluster's rows of the date, or none
        wh.replace_date("raw_k8s_objects", day, frames["raw_k8s_objects"], kinds=list(KINDS))
        for name in ("k8s_nodes", "k8s_workloads", "metrics"):
            wh.replace_date(name, day, frames[name])
        for source, parts, _ in _STAGED.values():
            wh.replace_date("coverage", day, coverage[coverage["source"] == source], source=source, parts=list(parts))
    expired = staging.expire(loaded=day, keep_days=inferops.settings.staging_keep_days)
    degraded = coverage[coverage["status"].isin(["denied", "error"])]
    return dg.MaterializeResult(
        metadata={
            "clusters": len(inferops.settings.clusters),
            "not_ingested": dg.MetadataValue.json(missing),
            "degraded_parts": len(degraded),
            "staged_runs": dg.MetadataValue.json(staged_runs),
            "staging_expired": ", ".join(d.isoformat() for d in expired),
            **{f"{name}_rows": len(frame) for name, frame in frames.items()},
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    deps=["fleet_ingest", "price_catalog"],
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
        "fleet_ingest",
        "gpu_nodes",
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
            pods,
            nodes,
            metric_rows(wh.frame_on("metrics", day, categorical=True)),
            price_pending=_pending_pricer(inferops, nodes),
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
