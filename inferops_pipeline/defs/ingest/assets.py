"""Ingest assets: inventory, metrics and catalogs for one assessment date, each replacing that date's rows."""

import json
from datetime import date

import dagster as dg
import pandas as pd

from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelCatalog
from inferops_pipeline.defs.convert import markdown_preview, to_frame
from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.domain import METRIC_COLUMNS
from inferops_pipeline.inventory.nodes import NodeError, node_facts
from inferops_pipeline.inventory.pods import pod_rows
from inferops_pipeline.sources.kubernetes import KINDS, inventory_source
from inferops_pipeline.sources.prometheus import metrics_source

GROUP = "ingest"
WORKLOAD_KINDS = tuple(k for k in KINDS if k != "nodes")


def _raw(cluster: str, kind: str, items: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        {
            "cluster": cluster,
            "kind": kind,
            "namespace": (item.get("metadata") or {}).get("namespace", ""),  # type: ignore[union-attr]
            "name": (item.get("metadata") or {}).get("name", ""),  # type: ignore[union-attr]
            "body": json.dumps(item, sort_keys=True),
        }
        for item in items
    ]


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Every node of every configured cluster with its GPU facts: model (GFD, GKE, Karpenter or instance "
    "type via the price catalog), count, cloud/region/zone, capacity type, readiness and schedulability.",
)
def k8s_nodes(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    prices = inferops.prices

    def instance_gpus(cloud: str, region: str, instance_type: str) -> tuple[str, int, float] | None:
        found = prices.lookup(cloud=cloud, region=region, instance_type=instance_type)
        if found is None:
            return None
        row = found[0]
        return row.gpu_model, int(row.gpu_count), row.gpu_memory_gib

    facts, raw = [], []
    for cluster in inferops.settings.clusters:
        items = inventory_source(cluster.kubernetes, cluster=cluster.name).list_objects("nodes")
        raw += _raw(cluster.name, "nodes", items)
        for item in items:
            try:
                facts.append(
                    node_facts(
                        item,
                        cluster=cluster.name,
                        default_cloud=cluster.cloud,
                        default_region=cluster.region,
                        instance_gpus=instance_gpus,
                    )
                )
            except NodeError as exc:
                where = (
                    cluster.kubernetes.snapshot / "nodes.json"
                    if cluster.kubernetes.snapshot
                    else f"cluster {cluster.name}"
                )
                raise NodeError(f"{where}: {exc}") from None
    frame = to_frame(facts)
    with inferops.warehouse() as wh:
        wh.replace_date("raw_k8s_objects", day, pd.DataFrame(raw), kinds=["nodes"])
        wh.replace_date("k8s_nodes", day, frame)
    gpu = frame[frame["gpu_capacity"] > 0] if not frame.empty else frame
    return dg.MaterializeResult(
        metadata={
            "nodes": len(frame),
            "gpu_nodes": len(gpu),
            "gpus": int(gpu["gpu_capacity"].sum()) if not gpu.empty else 0,
            "preview": dg.MetadataValue.md(
                markdown_preview(
                    gpu[["cluster", "name", "gpu_model", "gpu_capacity", "instance_type", "capacity_type"]]
                    if not gpu.empty
                    else gpu
                )
            ),
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Every live GPU pod resolved through ReplicaSets to its Deployment/StatefulSet/LeaderWorkerSet/"
    "InferenceService, with runtime (vLLM, SGLang, TGI, Triton), model and engine settings parsed from its args.",
)
def k8s_workloads(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    rows, raw = [], []
    settings = inferops.settings
    for cluster in settings.clusters:
        source = inventory_source(cluster.kubernetes, cluster=cluster.name)
        objects = {kind: source.list_objects(kind) for kind in WORKLOAD_KINDS}
        for kind, items in objects.items():
            raw += _raw(cluster.name, kind, items)
        rows += pod_rows(objects, cluster=cluster.name, owner_labels=settings.owner_labels)
    frame = to_frame(rows)
    with inferops.warehouse() as wh:
        wh.replace_date("raw_k8s_objects", day, pd.DataFrame(raw), kinds=list(WORKLOAD_KINDS))
        wh.replace_date("k8s_workloads", day, frame)
    return dg.MaterializeResult(
        metadata={
            "gpu_pods": len(frame),
            "workloads": int(frame[["cluster", "namespace", "workload"]].drop_duplicates().shape[0])
            if not frame.empty
            else 0,
            "pending_pods": int((~frame["scheduled"]).sum()) if not frame.empty else 0,
            "preview": dg.MetadataValue.md(
                markdown_preview(
                    frame[["cluster", "namespace", "workload", "runtime", "model", "gpus"]].drop_duplicates()
                    if not frame.empty
                    else frame
                )
            ),
        }
    )


@dg.multi_asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    specs=[
        dg.AssetSpec(
            "gpu_metrics",
            description="Per-GPU window statistics (utilisation, framebuffer, power) from DCGM, attributed to pods.",
        ),
        dg.AssetSpec(
            "serving_metrics",
            description="Per-pod engine statistics (KV cache, queue, preemptions, tokens, latency, hourly request rate) for vLLM, SGLang, TGI and Triton.",
        ),
        dg.AssetSpec(
            "container_metrics",
            description="Per-container CPU, throttling, memory working set, restarts and OOM kills of GPU pods.",
        ),
    ],
)
def window_metrics(context: dg.AssetExecutionContext, inferops: InferopsResource):  # type: ignore[no-untyped-def]
    day = date.fromisoformat(context.partition_key)
    start, end = inferops.window(context.partition_key)
    frames = [
        metrics_source(c.prometheus).fetch(cluster=c.name, start=start, end=end) for c in inferops.settings.clusters
    ]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(METRIC_COLUMNS))
    with inferops.warehouse() as wh:
        wh.replace_date("metrics", day, frame)
    results = []
    for key, sources in (
        ("gpu_metrics", {"gpu"}),
        ("serving_metrics", {"serving", "traffic"}),
        ("container_metrics", {"container"}),
    ):
        part = frame[frame["source"].isin(sources)]
        results.append(
            dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "rows": len(part),
                    "pods": int(part["pod"].nunique()),
                    "window_end": end.isoformat(),
                    "signals": ", ".join(sorted(part["signal"].unique())),
                },
            )
        )
    return tuple(results)


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Cloud GPU instance prices in force (bundled catalog, discount, user overrides) with source and snapshot columns.",
)
def price_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    rows = pd.DataFrame(inferops.prices.rows())
    with inferops.warehouse() as wh:
        count = wh.replace_date("price_catalog", date.fromisoformat(context.partition_key), rows)
    return dg.MaterializeResult(metadata={"rows": count, "clouds": ", ".join(sorted(rows["cloud"].unique()))})


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Accelerator specs (memory, bandwidth, TFLOPS, MIG) keyed by the price catalog's GPU names.",
)
def gpu_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    rows = pd.DataFrame(GpuCatalog.load_bundled().rows())
    with inferops.warehouse() as wh:
        count = wh.replace_date("gpu_catalog", date.fromisoformat(context.partition_key), rows)
    return dg.MaterializeResult(metadata={"rows": count})


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Open-model architectures (params, layers, KV heads, context) used for weight and KV-cache sizing.",
)
def model_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    rows = pd.DataFrame(ModelCatalog.load_bundled().rows())
    with inferops.warehouse() as wh:
        count = wh.replace_date("model_catalog", date.fromisoformat(context.partition_key), rows)
    return dg.MaterializeResult(metadata={"rows": count})
