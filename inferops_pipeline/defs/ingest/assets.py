"""Per-cluster ingest assets (date × cluster): one cluster's inventory or window metrics, staged for the warehouse."""

import json
from typing import Any

import dagster as dg
import pandas as pd

from inferops_pipeline.defs.convert import markdown_preview, to_frame
from inferops_pipeline.defs.partitions import daily_by_cluster, date_and_cluster
from inferops_pipeline.defs.resources import InferopsResource, cluster_metrics_source
from inferops_pipeline.domain import CoverageStatus, PodRow, is_knock_on
from inferops_pipeline.inventory.nodes import NodeError, NodeFacts, gpu_allocations, node_facts
from inferops_pipeline.inventory.pods import pod_rows
from inferops_pipeline.inventory.privacy import scrub_object
from inferops_pipeline.settings import ClusterConfig, ConfigError
from inferops_pipeline.sources.kubernetes import LiveInventory, inventory_source, read_inventory
from inferops_pipeline.sources.prometheus import coverage_frame

GROUP = "ingest"


def _raw(cluster: str, kind: str, items: list[dict[str, Any]]) -> list[dict[str, object]]:
    """raw_k8s_objects rows; bodies lose env values and secret-looking args first (inventory.privacy)."""
    return [
        {
            "cluster": cluster,
            "kind": kind,
            "namespace": (item.get("metadata") or {}).get("namespace", ""),
            "name": (item.get("metadata") or {}).get("name", ""),
            "body": json.dumps(scrub_object(item), sort_keys=True),
        }
        for item in items
    ]


def _where(cluster: ClusterConfig, kind: str) -> str:
    snapshot = cluster.kubernetes.snapshot
    return str(snapshot / f"{kind}.json") if snapshot else f"cluster {cluster.name}"


def _inventory_facts(
    cluster: ClusterConfig, objects: dict[str, list[dict[str, Any]]], inferops: InferopsResource
) -> tuple[list[NodeFacts], list[PodRow]]:
    prices = inferops.prices

    def instance_gpus(cloud: str, region: str, instance_type: str) -> tuple[str, int, float] | None:
        found = prices.lookup(cloud=cloud, region=region, instance_type=instance_type)
        if found is None:
            return None
        row = found[0]
        return row.gpu_model, int(row.gpu_count), row.gpu_memory_gib

    allocated = gpu_allocations(objects.get("pods", []))
    facts = []
    for item in objects.get("nodes", []):
        name = (item.get("metadata") or {}).get("name", "")
        try:
            facts.append(
                node_facts(
                    item,
                    cluster=cluster.name,
                    default_cloud=cluster.cloud,
                    default_region=cluster.region,
                    instance_gpus=instance_gpus,
                    allocated=allocated.get(name, 0),
                )
            )
        except NodeError as exc:
            raise NodeError(f"{_where(cluster, 'nodes')}: {exc}") from None
    try:
        rows = pod_rows(objects, cluster=cluster.name, owner_labels=inferops.settings.owner_labels)
    except ConfigError as exc:
        raise ConfigError(f"{_where(cluster, 'pods')}: {exc}") from None
    return facts, rows


INVENTORY, METRICS = "k8s_inventory", "window_metrics"  # staging names of the two per-cluster multi-assets


@dg.multi_asset(
    group_name=GROUP,
    partitions_def=daily_by_cluster,
    specs=[
        dg.AssetSpec(
            "k8s_nodes",
            description="Every node of one cluster with its GPU facts: model (GFD, AMD, GKE, Karpenter, or instance "
            "type via the price catalog), physical count, sharing (MIG, time-slicing), allocatable vs allocated "
            "devices, cloud/region/zone, capacity type, readiness, cordon and taints.",
        ),
        dg.AssetSpec(
            "k8s_workloads",
            description="Every live GPU pod of one cluster resolved to the object an operator edits (Deployment via "
            "ReplicaSet, StatefulSet, LeaderWorkerSet, KServe InferenceService/LLMInferenceService, Job, Pod), with "
            "runtime, model, parallelism and engine memory settings (each with its provenance), resources and GPU "
            "placement. Env values are never stored; secret-looking arg values are redacted.",
        ),
    ],
)
def k8s_inventory(context: dg.AssetExecutionContext, inferops: InferopsResource):  # type: ignore[no-untyped-def]
    """One read feeds both assets, so nodes and pods come from the same moment and a cluster whose pods cannot be
    read contributes no nodes either (its GPUs would otherwise all look idle). Writes staging, never DuckDB."""
    day, name = date_and_cluster(context.partition_key)
    cluster = inferops.settings.cluster(name)
    source = inventory_source(cluster.kubernetes, cluster=name)
    try:
        read = read_inventory(source, cluster=name)
    finally:
        if isinstance(source, LiveInventory):
            source.close()
    if read.error:
        context.log.error(
            f"cluster {name}: inventory unreadable, its nodes and workloads are missing from this assessment: "
            f"{read.error}"
        )
    for row in read.coverage:
        if row.status in (CoverageStatus.DENIED, CoverageStatus.ERROR) and not read.error:
            context.log.warning(f"cluster {name}: {row.part} {row.status.value}: {row.detail}")
    facts, rows = _inventory_facts(cluster, read.objects, inferops) if not read.error else ([], [])
    raw = [r for kind, items in read.objects.items() for r in _raw(name, kind, items)]
    nodes, pods = to_frame(facts), to_frame(rows)
    inferops.staging.write(
        day=day,
        cluster=name,
        asset=INVENTORY,
        run_id=context.run_id,
        tables={
            "raw_k8s_objects": pd.DataFrame(raw),
            "k8s_nodes": nodes,
            "k8s_workloads": pods,
            "coverage": coverage_frame(read.coverage),
        },
    )
    shared: dict[str, Any] = {
        "cluster": name,
        "error": read.error,
        "degraded_parts": dg.MetadataValue.json(
            {
                row.part: f"{row.status.value}: {row.detail}"
                for row in read.coverage
                if row.status in (CoverageStatus.DENIED, CoverageStatus.ERROR) and not is_knock_on(row.detail)
            }
        ),
    }
    gpu = nodes[nodes["gpu_capacity"] > 0] if not nodes.empty else nodes
    yield dg.MaterializeResult(
        asset_key="k8s_nodes",
        metadata={
            **shared,
            "nodes": len(nodes),
            "gpu_nodes": len(gpu),
            "gpus": int(gpu["gpu_count"].sum()) if not gpu.empty else 0,
            "gpu_devices": int(gpu["gpu_capacity"].sum()) if not gpu.empty else 0,
            "gpu_devices_allocated": int(gpu["gpu_allocated"].sum()) if not gpu.empty else 0,
            "preview": dg.MetadataValue.md(
                markdown_preview(
                    gpu[["name", "gpu_model", "gpu_capacity", "gpu_sharing", "instance_type", "capacity_type"]]
                    if not gpu.empty
                    else gpu
                )
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="k8s_workloads",
        metadata={
            **shared,
            "gpu_pods": len(pods),
            "workloads": int(pods[["namespace", "workload_kind", "workload"]].drop_duplicates().shape[0])
            if not pods.empty
            else 0,
            "pending_pods": int((~pods["scheduled"]).sum()) if not pods.empty else 0,
            "objects_read": len(raw),
            "preview": dg.MetadataValue.md(
                markdown_preview(
                    pods[["namespace", "workload", "runtime", "model", "gpus"]].drop_duplicates()
                    if not pods.empty
                    else pods
                )
            ),
        },
    )


@dg.multi_asset(
    group_name=GROUP,
    partitions_def=daily_by_cluster,
    specs=[
        dg.AssetSpec(
            "gpu_metrics",
            description="Per-GPU window statistics (utilisation, framebuffer, power) from DCGM, attributed to pods.",
        ),
        dg.AssetSpec(
            "serving_metrics",
            description="Per-pod engine statistics (KV cache, queue, preemptions, tokens, latency, hourly request "
            "rate) for vLLM, SGLang, TGI and Triton.",
        ),
        dg.AssetSpec(
            "container_metrics",
            description="Per-container CPU, throttling, memory working set, restarts and OOM kills of GPU pods.",
        ),
    ],
)
def window_metrics(context: dg.AssetExecutionContext, inferops: InferopsResource):  # type: ignore[no-untyped-def]
    """One cluster's Prometheus window statistics; an unreachable server is coverage, not a failed run."""
    day, name = date_and_cluster(context.partition_key)
    cluster = inferops.settings.cluster(name)
    start, end = inferops.window(day)
    fetched = cluster_metrics_source(cluster.prometheus).fetch(cluster=name, start=start, end=end)
    if fetched.error:
        # Loud, but not fatal: the other clusters are still assessed, and coverage says what is missing.
        context.log.error(f"cluster {name}: metrics missing: {fetched.error}")
    for row in fetched.coverage:
        if row.status == CoverageStatus.ERROR and not fetched.error:
            context.log.error(f"cluster {name}: prometheus {row.part}: {row.detail}")
    frame = fetched.frame
    inferops.staging.write(
        day=day,
        cluster=name,
        asset=METRICS,
        run_id=context.run_id,
        tables={"metrics": frame, "coverage": coverage_frame(fetched.coverage)},
    )
    shared: dict[str, Any] = {
        "cluster": name,
        "window_end": end.isoformat(),
        "error": fetched.error,
        "queries": len(fetched.queries),
        "query_seconds": dg.MetadataValue.float(round(float(sum(q.duration_s for q in fetched.queries)), 3)),
        "degraded_signals": dg.MetadataValue.json(
            sorted(f"{r.part}: {r.status}" for r in fetched.coverage if r.status not in ("ok", "absent"))
        ),
    }
    results: list[dg.MaterializeResult] = []
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
                    "signals": ", ".join(sorted(part["signal"].unique())),
                    **shared,
                },
            )
        )
    return tuple(results)
