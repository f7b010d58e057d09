"""Ingest assets: inventory, metrics and catalogs for one assessment date, each replacing that date's rows."""

import json
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelCatalog
from inferops_pipeline.defs.convert import markdown_preview, to_frame
from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource, cluster_metrics_source
from inferops_pipeline.domain import METRIC_COLUMNS, CoverageRow, CoverageStatus, PodRow, is_knock_on
from inferops_pipeline.inventory.nodes import NodeError, NodeFacts, gpu_allocations, node_facts
from inferops_pipeline.inventory.pods import pod_rows
from inferops_pipeline.inventory.privacy import scrub_object
from inferops_pipeline.settings import ClusterConfig, ConfigError
from inferops_pipeline.sources.kubernetes import KINDS, SOURCE, LiveInventory, inventory_source, read_clusters
from inferops_pipeline.sources.prometheus import PARTS, QueryStat, coverage_frame

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


@dg.multi_asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    specs=[
        dg.AssetSpec(
            "k8s_nodes",
            description="Every node of every configured cluster with its GPU facts: model (GFD, AMD, GKE, Karpenter, "
            "or instance type via the price catalog), physical count, sharing (MIG, time-slicing), allocatable vs "
            "allocated devices, cloud/region/zone, capacity type, readiness, cordon and taints.",
        ),
        dg.AssetSpec(
            "k8s_workloads",
            description="Every live GPU pod resolved to the object an operator edits (Deployment via ReplicaSet, "
            "StatefulSet, LeaderWorkerSet, KServe InferenceService/LLMInferenceService, Job, Pod), with runtime, "
            "model, parallelism and engine memory settings (each with its provenance), resources and GPU placement. "
            "Env values are never stored; secret-looking arg values are redacted.",
        ),
    ],
)
def k8s_inventory(context: dg.AssetExecutionContext, inferops: InferopsResource):  # type: ignore[no-untyped-def]
    """One read per cluster feeds both assets, so nodes and pods come from the same moment and a cluster whose pods
    cannot be read contributes no nodes either (its GPUs would otherwise all look idle)."""
    day = date.fromisoformat(context.partition_key)
    clusters = inferops.settings.clusters
    sources = {c.name: inventory_source(c.kubernetes, cluster=c.name) for c in clusters}
    try:
        reads = read_clusters(sources)
    finally:
        for source in sources.values():
            if isinstance(source, LiveInventory):
                source.close()
    facts: list[NodeFacts] = []
    rows: list[PodRow] = []
    raw: list[dict[str, object]] = []
    coverage = []
    failed: dict[str, str] = {}
    for cluster in clusters:
        read = reads[cluster.name]
        coverage += read.coverage
        if read.error:
            failed[cluster.name] = read.error
            context.log.error(
                f"cluster {cluster.name}: inventory unreadable, its nodes and workloads are missing from this "
                f"assessment: {read.error}"
            )
            continue
        for row in read.coverage:
            if row.status in (CoverageStatus.DENIED, CoverageStatus.ERROR):
                context.log.warning(f"cluster {cluster.name}: {row.part} {row.status.value}: {row.detail}")
        cluster_facts, cluster_rows = _inventory_facts(cluster, read.objects, inferops)
        facts += cluster_facts
        rows += cluster_rows
        for kind, items in read.objects.items():
            raw += _raw(cluster.name, kind, items)
    nodes = to_frame(facts)
    pods = to_frame(rows)
    coverage_frame = to_frame(coverage)
    if not coverage_frame.empty:
        coverage_frame["status"] = coverage_frame["status"].map(str)
    with inferops.warehouse() as wh, wh.transaction():  # raw objects, rows and coverage of one read, or none
        wh.replace_date("raw_k8s_objects", day, pd.DataFrame(raw), kinds=list(KINDS))
        wh.replace_date("k8s_nodes", day, nodes)
        wh.replace_date("k8s_workloads", day, pods)
        wh.replace_date("coverage", day, coverage_frame, source=SOURCE, parts=list(KINDS))
    degraded = {
        f"{row.cluster}/{row.part}": f"{row.status.value}: {row.detail}"
        for row in coverage
        if row.status in (CoverageStatus.DENIED, CoverageStatus.ERROR) and not is_knock_on(row.detail)
    }
    shared: dict[str, Any] = {
        "clusters": len(clusters),
        "failed_clusters": dg.MetadataValue.json(failed),
        "degraded_parts": dg.MetadataValue.json(degraded),
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
                    gpu[
                        [
                            "cluster",
                            "name",
                            "gpu_model",
                            "gpu_capacity",
                            "gpu_sharing",
                            "instance_type",
                            "capacity_type",
                        ]
                    ]
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
            "workloads": int(pods[["cluster", "namespace", "workload_kind", "workload"]].drop_duplicates().shape[0])
            if not pods.empty
            else 0,
            "pending_pods": int((~pods["scheduled"]).sum()) if not pods.empty else 0,
            "objects_read": len(raw),
            "preview": dg.MetadataValue.md(
                markdown_preview(
                    pods[["cluster", "namespace", "workload", "runtime", "model", "gpus"]].drop_duplicates()
                    if not pods.empty
                    else pods
                )
            ),
        },
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
    frames: list[pd.DataFrame] = []
    coverage: list[CoverageRow] = []
    queries: list[QueryStat] = []
    failed: dict[str, str] = {}
    for cluster in inferops.settings.clusters:
        fetched = cluster_metrics_source(cluster.prometheus).fetch(cluster=cluster.name, start=start, end=end)
        if fetched.error:
            # Loud, but not fatal: the other clusters are still assessed, and coverage says what is missing.
            context.log.error(f"cluster {cluster.name}: metrics missing: {fetched.error}")
            failed[cluster.name] = fetched.error
        for row in fetched.coverage:
            if row.status == CoverageStatus.ERROR and not fetched.error:
                context.log.error(f"cluster {cluster.name}: prometheus {row.part}: {row.detail}")
        frames.append(fetched.frame)
        coverage.extend(fetched.coverage)
        queries.extend(fetched.queries)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(METRIC_COLUMNS))
    with inferops.warehouse() as wh, wh.transaction():  # metrics and their coverage land together
        wh.replace_date("metrics", day, frame)
        wh.replace_date("coverage", day, coverage_frame(coverage), source="prometheus", parts=list(PARTS))
    shared: dict[str, Any] = {
        "window_end": end.isoformat(),
        "failed_clusters": dg.MetadataValue.json(failed),
        "queries": len(queries),
        "query_seconds": dg.MetadataValue.float(round(float(sum(q.duration_s for q in queries)), 3)),
        "degraded_signals": dg.MetadataValue.json(
            sorted(f"{r.cluster}/{r.part}: {r.status}" for r in coverage if r.status not in ("ok", "absent"))
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


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Cloud GPU instance prices in force (bundled snapshot, or live price-API rows when pricing.refresh "
    "is enabled; discount; user overrides) with source, snapshot date and origin (bundled / refresh:<cloud> / "
    "override) per row. Materialize it with refresh enabled to refresh prices without the CLI.",
)
def price_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    rows = pd.DataFrame(inferops.prices.rows())
    with inferops.warehouse() as wh:
        count = wh.replace_date("price_catalog", date.fromisoformat(context.partition_key), rows)
    refresh = inferops.price_refresh
    for result in refresh:
        context.log.info(f"price refresh {result.summary()}")
    return dg.MaterializeResult(
        metadata={
            "rows": count,
            "clouds": ", ".join(sorted(rows["cloud"].unique())),
            "rows_by_origin": dg.MetadataValue.json(
                {str(origin): int(n) for origin, n in rows["origin"].value_counts().sort_index().items()}
            ),
            "refresh": dg.MetadataValue.json(
                {
                    r.cloud: {"fetched_on": r.fetched_on.isoformat(), "rows": len(r.rows), "pages": r.pages}
                    for r in refresh
                }
            ),
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Accelerator specs (memory, bandwidth, TFLOPS, MIG) keyed by the price catalog's GPU names.",
)
def gpu_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    return _bundled_catalog(context, inferops, "gpu_catalog", GpuCatalog.load_bundled().rows())


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Open-model architectures (params, layers, KV heads, context) used for weight and KV-cache sizing.",
)
def model_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    return _bundled_catalog(context, inferops, "model_catalog", ModelCatalog.load_bundled().rows())


def _bundled_catalog(
    context: dg.AssetExecutionContext, inferops: InferopsResource, table: str, rows: list[dict[str, Any]]
) -> dg.MaterializeResult:
    """The day's copy of a bundled reference table, so SQL over history sees the catalog each night used."""
    with inferops.warehouse() as wh:
        count = wh.replace_date(table, date.fromisoformat(context.partition_key), pd.DataFrame(rows))
    return dg.MaterializeResult(metadata={"rows": count})
