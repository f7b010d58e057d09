"""Model stage (pure): node facts + pods + prices → GpuNodes; pods + nodes + metric rows → Workloads."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inferops_pipeline.domain import GpuNode, MetricRow, PodRow, Signal, Workload, WorkloadMetrics
from inferops_pipeline.inventory.nodes import NodeFacts

# NodeFacts → (hourly price of the whole node, basis naming the catalog row or override)
NodePricer = Callable[[NodeFacts], tuple[float, str]]


def build_gpu_nodes(facts: Iterable[NodeFacts], pods: Iterable[PodRow], *, price: NodePricer) -> list[GpuNode]:
    allocated: dict[tuple[str, str], int] = defaultdict(int)
    for pod in pods:
        if pod.scheduled:
            allocated[(pod.cluster, pod.node)] += pod.gpus
    nodes = []
    for fact in facts:
        if fact.gpu_capacity <= 0:
            continue
        hourly, basis = price(fact)
        nodes.append(
            GpuNode(
                cluster=fact.cluster,
                name=fact.name,
                cloud=fact.cloud,
                region=fact.region,
                zone=fact.zone,
                instance_type=fact.instance_type,
                capacity_type=fact.capacity_type,
                gpu_model=fact.gpu_model,
                gpu_memory_gib=fact.gpu_memory_gib,
                gpu_capacity=fact.gpu_capacity,
                gpu_allocatable=fact.gpu_allocatable,
                # k8s_nodes counts every scheduled pod (training jobs too); engine rows cover older warehouses.
                gpu_allocated=max(fact.gpu_allocated, allocated[(fact.cluster, fact.name)]),
                ready=fact.ready,
                schedulable=fact.schedulable,
                nodepool=fact.nodepool,
                hourly_cost_usd=hourly,
                gpu_hour_usd=hourly / fact.gpu_capacity,
                price_basis=basis,
                # Only Karpenter leaves a mark on its nodes; a managed node group may autoscale too, unseen here.
                autoscaler="karpenter" if "karpenter" in fact.capacity_type_source else "",
            )
        )
    return nodes


@dataclass(frozen=True, slots=True)
class _Stat:
    value: float
    samples: int


class MetricIndex:
    """Metric rows indexed by (cluster, namespace, pod) so a workload gathers its pods' series cheaply."""

    def __init__(self, rows: Iterable[MetricRow]) -> None:
        self._by_pod: dict[tuple[str, str, str], list[MetricRow]] = defaultdict(list)
        for row in rows:
            if row.pod:
                self._by_pod[(row.cluster, row.namespace, row.pod)].append(row)

    def for_pods(self, pods: Sequence[PodRow]) -> list[MetricRow]:
        return [row for pod in pods for row in self._by_pod.get((pod.cluster, pod.namespace, pod.name), ())]


def _values(rows: Sequence[MetricRow], signal: Signal, stat: str) -> list[_Stat]:
    return [_Stat(r.value, r.samples) for r in rows if r.signal == signal.value and r.stat == stat and r.samples > 0]


def _agg(stats: Sequence[_Stat], how: Callable[[list[float]], float]) -> float | None:
    return how([s.value for s in stats]) if stats else None


def workload_metrics(rows: Sequence[MetricRow]) -> WorkloadMetrics:
    """Aggregate pod/GPU series of one workload: means average over GPUs, peaks take the worst pod."""
    mean, peak, total = statistics.fmean, max, sum
    util_mean = _values(rows, Signal.GPU_UTIL, "mean")
    fb_used = {
        r.gpu_uuid: r.value for r in rows if r.signal == Signal.GPU_FB_USED_MIB.value and r.stat == "max" and r.samples
    }
    fb_total = {
        r.gpu_uuid: r.value for r in rows if r.signal == Signal.GPU_FB_TOTAL_MIB.value and r.stat == "max" and r.samples
    }
    fb_fracs = [fb_used[u] / fb_total[u] for u in fb_used if fb_total.get(u)]
    fb_free = {
        r.gpu_uuid: r.value for r in rows if r.signal == Signal.GPU_FB_FREE_MIB.value and r.stat == "min" and r.samples
    }
    free_fracs = [fb_free[u] / fb_total[u] for u in fb_free if fb_total.get(u)]
    hourly: dict[str, float] = defaultdict(float)
    for row in rows:
        if row.signal == Signal.REQUEST_RATE.value and row.stat.startswith("h") and row.samples:
            hourly[row.stat] += row.value
    serving = _values(rows, Signal.KV_CACHE_USAGE, "p95") or _values(rows, Signal.REQUESTS_RUNNING, "max")
    containers = _values(rows, Signal.MEMORY_WORKING_SET_BYTES, "max") or _values(rows, Signal.CPU_USAGE_CORES, "p95")
    hours = [r.value for r in rows if r.signal == Signal.GPU_UTIL.value and r.stat == "hours" and r.samples]
    # Request length from the token counters over the request count (Σ hourly mean rate × 3600 s); the engines'
    # length histograms are not collected, so this is a mean, and the detectors say so.
    prompt = _agg(_values(rows, Signal.PROMPT_TOKENS, "increase"), total)
    generation = _agg(_values(rows, Signal.GENERATION_TOKENS, "increase"), total)
    requests = sum(hourly.values()) * 3600 if hourly else 0.0
    request_tokens = (
        (prompt + generation) / requests if prompt is not None and generation is not None and requests >= 1 else None
    )
    # Power is per physical GPU; time-sliced pods repeat one GPU's series, so average by UUID first.
    power = {
        r.gpu_uuid: r.value for r in rows if r.signal == Signal.GPU_POWER_W.value and r.stat == "mean" and r.samples
    }
    return WorkloadMetrics(
        gpu_samples=sum(s.samples for s in util_mean),
        gpu_util_mean=_agg(util_mean, mean),
        gpu_util_p95=_agg(_values(rows, Signal.GPU_UTIL, "p95"), mean),
        gpu_fb_used_max_frac=max(fb_fracs) if fb_fracs else None,
        gpu_fb_free_min_frac=min(free_fracs) if free_fracs else None,
        gpu_power_mean_w=statistics.fmean(power.values()) if power else None,
        serving_samples=sum(s.samples for s in serving),
        kv_usage_p95=_agg(_values(rows, Signal.KV_CACHE_USAGE, "p95"), peak),
        kv_usage_max=_agg(_values(rows, Signal.KV_CACHE_USAGE, "max"), peak),
        kv_pool_tokens=_agg(_values(rows, Signal.KV_POOL_TOKENS, "max"), peak),
        requests_running_max=_agg(_values(rows, Signal.REQUESTS_RUNNING, "max"), peak),
        requests_running_p95=_agg(_values(rows, Signal.REQUESTS_RUNNING, "p95"), peak),
        requests_running_p99=_agg(_values(rows, Signal.REQUESTS_RUNNING, "p99"), peak),
        requests_waiting_max=_agg(_values(rows, Signal.REQUESTS_WAITING, "max"), peak),
        preemptions=_agg(_values(rows, Signal.PREEMPTIONS, "increase"), total),
        generation_tokens=generation,
        prompt_tokens=prompt,
        request_tokens_mean=request_tokens,
        ttft_p95_s=_agg(_values(rows, Signal.TTFT_SECONDS, "p95"), peak),
        request_rate_peak=max(hourly.values()) if hourly else None,
        request_rate_mean=statistics.fmean(hourly.values()) if hourly else None,
        request_rate_trough=min(hourly.values()) if hourly else None,
        container_samples=sum(s.samples for s in containers),
        cpu_usage_p95=_agg(_values(rows, Signal.CPU_USAGE_CORES, "p95"), peak),
        cpu_throttle_ratio=_agg(_values(rows, Signal.CPU_THROTTLE_RATIO, "mean"), peak),
        memory_ws_max_bytes=_agg(_values(rows, Signal.MEMORY_WORKING_SET_BYTES, "max"), peak),
        restarts=_agg(_values(rows, Signal.RESTARTS, "increase"), total),
        oom_killed=_agg(_values(rows, Signal.OOM_KILLED, "max"), peak),
        hours_covered=max(hours) if hours else float(len(hourly)),
    )


def _first(values: Iterable[float | int | None]) -> float | None:
    return next((float(v) for v in values if v is not None), None)


@dataclass(frozen=True, slots=True)
class PendingPrice:
    """What a workload with no running pod would cost, priced from the GPU or instance type it asks for."""

    gpu_model: str
    gpu_memory_gib: float
    gpu_hour_usd: float
    price_basis: str
    cloud: str
    region: str


# (cluster, GPU model hint, instance-type hint, GPUs per replica) → price; the model stage closes it over the catalog.
PendingPricer = Callable[[str, str, str, int], PendingPrice | None]

_INSTANCE_TYPE_KEYS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")


def instance_type_hint(placement: Mapping[str, Any]) -> str:
    """Instance type a pod is pinned to (nodeSelector, or a required `In` with one value)."""
    selector = placement.get("node_selector") or {}
    for key in _INSTANCE_TYPE_KEYS:
        if selector.get(key):
            return str(selector[key])
    for term in placement.get("required") or []:
        for expr in term:
            if expr.get("key") in _INSTANCE_TYPE_KEYS and expr.get("operator") == "In" and len(expr["values"]) == 1:
                return str(expr["values"][0])
    return ""


def build_workloads(
    pods: Sequence[PodRow],
    nodes: Sequence[GpuNode],
    metrics: Iterable[MetricRow],
    *,
    price_pending: PendingPricer | None = None,
) -> list[Workload]:
    by_node = {(n.cluster, n.name): n for n in nodes}
    index = MetricIndex(metrics)
    groups: dict[tuple[str, str, str, str], list[PodRow]] = defaultdict(list)
    for pod in pods:
        groups[(pod.cluster, pod.namespace, pod.workload_kind, pod.workload)].append(pod)
    workloads = []
    for (cluster, namespace, kind, name), members in sorted(groups.items()):
        running = [p for p in members if p.scheduled]
        placed = [by_node[(p.cluster, p.node)] for p in running if (p.cluster, p.node) in by_node]
        # Pending pods have no node: price them like the cluster's nodes of the GPU they ask for.
        hint = next((p.gpu_hint for p in members if p.gpu_hint), "")
        instance_type = next((t for p in members if (t := instance_type_hint(p.placement))), "")
        peers = placed or [n for n in nodes if n.cluster == cluster and n.gpu_model == hint and hint]
        # Nothing running and no node of the asked-for GPU: price what the pod asks for from the catalog rather
        # than borrow an unrelated node's price.
        asked = (
            price_pending(cluster, hint, instance_type, max((p.gpus for p in members), default=0))
            if not peers and price_pending and (hint or instance_type)
            else None
        )
        if not peers and asked is None:
            peers = [n for n in nodes if n.cluster == cluster]
        reference = placed[0] if placed else (peers[0] if peers else None)
        gpu_hour = statistics.fmean(n.gpu_hour_usd for n in peers) if peers else (asked.gpu_hour_usd if asked else 0.0)
        hourly = sum(
            p.gpus * by_node[(p.cluster, p.node)].gpu_hour_usd for p in running if (p.cluster, p.node) in by_node
        )
        # The pod that says the most about the engine: a LeaderWorkerSet's Ray workers carry no engine args.
        lead = max(running or members, key=lambda p: (p.runtime != "unknown", bool(p.model), p.role != "worker"))
        # The longest-waiting pending pod says how long the workload has been short and why.
        waiting = min((p for p in members if not p.scheduled), key=lambda p: p.pending_since or "~", default=None)
        workloads.append(
            Workload(
                cluster=cluster,
                namespace=namespace,
                kind=kind,
                name=name,
                owner=lead.owner,
                runtime=lead.runtime,
                model=lead.model,
                container=lead.container,
                gpu_model=reference.gpu_model if reference else (asked.gpu_model if asked else hint),
                gpu_memory_gib=reference.gpu_memory_gib if reference else (asked.gpu_memory_gib if asked else 0.0),
                replicas=lead.desired_replicas,
                running_pods=len(running),
                pending_pods=len(members) - len(running),
                gpus_per_replica=lead.gpus,
                tensor_parallel=lead.tensor_parallel,
                gpu_memory_utilization=lead.gpu_memory_utilization,
                max_model_len=lead.max_model_len,
                kv_cache_dtype=lead.kv_cache_dtype,
                quantization=lead.quantization,
                cpu_request=lead.cpu_request,
                cpu_limit=lead.cpu_limit,
                memory_request_bytes=lead.memory_request_bytes,
                memory_limit_bytes=_first(p.memory_limit_bytes for p in members),
                has_autoscaler=lead.has_autoscaler,
                cloud=reference.cloud if reference else (asked.cloud if asked else ""),
                region=reference.region if reference else (asked.region if asked else ""),
                capacity_type=reference.capacity_type if reference else "on-demand",
                gpu_hour_usd=gpu_hour,
                hourly_cost_usd=hourly,
                price_basis=reference.price_basis
                if reference
                else (asked.price_basis if asked else "no GPU node in cluster to price against"),
                nodes=tuple(sorted({p.node for p in running})),
                engine_args=lead.engine_args,
                metrics=workload_metrics(index.for_pods(members)),
                ready_replicas=sum(1 for p in members if p.ready),
                pipeline_parallel=lead.pipeline_parallel,
                data_parallel=lead.data_parallel,
                max_num_seqs=lead.max_num_seqs,
                max_num_batched_tokens=lead.max_num_batched_tokens,
                dtype=lead.dtype,
                prefix_caching=lead.prefix_caching,
                served_model_name=lead.served_model_name,
                placement=lead.placement,
                engine_facts=lead.engine_facts,
                platform=lead.platform,
                pods_per_replica=lead.pods_per_replica,
                pending_since=waiting.pending_since if waiting else "",
                pending_reason=waiting.pending_reason if waiting else "",
                pending_message=waiting.pending_message if waiting else "",
                # An exemption on any pod (a template rolled out to some pods only) counts for the workload.
                ignore=tuple(sorted({t for p in members for t in p.ignore})),
            )
        )
    return workloads
