"""cpu_gpu_imbalance: a starved CPU idles the GPU, or CPU/memory requests strand a node's other GPUs."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    data_confidence,
    monthly,
    observed,
    pct,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import Confidence, FindingType, GpuNode, Severity, Workload

GIB = 2**30


@dataclass(frozen=True, slots=True)
class Stranded:
    """Free GPUs on one node that no more replicas of `workload` can use: its CPU or memory requests ran out first."""

    workload: str  # Workload.key
    node: GpuNode
    gpus: int
    fits_by_gpu: int
    fits_by_cpu: int
    fits_by_memory: int
    node_vcpus: float
    node_memory_gib: float

    def as_json(self) -> dict[str, Any]:
        return {
            "node": self.node.name,
            "stranded_gpus": self.gpus,
            "replicas_fit_by_gpu": self.fits_by_gpu,
            "replicas_fit_by_cpu": self.fits_by_cpu,
            "replicas_fit_by_memory": self.fits_by_memory,
            "node_vcpus": self.node_vcpus,
            "node_memory_gib": self.node_memory_gib,
        }


def _fits(allocatable: float, request: float) -> int:
    return math.floor(allocatable / request + 1e-9) if request > 0 else 1_000_000


def stranded_gpus(ctx: DetectorContext) -> dict[tuple[str, str], Stranded]:
    """(cluster, node) → the GPUs stranded there, each node charged to one workload (the first by key).

    Shared with dark_capacity, which leaves these GPUs to this detector: their cause is the request shape, and
    shrinking the pool would not fix it.
    """
    nodes = {(n.cluster, n.name): n for n in ctx.nodes}
    frac = ctx.thresholds.cpu_node_allocatable_frac
    out: dict[tuple[str, str], Stranded] = {}
    for w in sorted(ctx.workloads, key=lambda w: w.key):
        if w.gpus_per_replica < 1 or w.running_pods < 1:
            continue
        for name in w.nodes:
            node = nodes.get((w.cluster, name))
            if node is None or (w.cluster, name) in out or node.gpu_free < 1:
                continue
            looked_up = ctx.catalogs.prices.lookup(
                cloud=node.cloud, region=node.region, instance_type=node.instance_type
            )
            if looked_up is None or looked_up[0].vcpus <= 0 or looked_up[0].memory_gib <= 0:
                continue  # node size unknown: no stranding claim from a guess
            instance = looked_up[0]
            by_gpu = node.gpu_allocatable // w.gpus_per_replica
            by_cpu = _fits(instance.vcpus * frac, w.cpu_request)
            by_memory = _fits(instance.memory_gib * GIB * frac, w.memory_request_bytes)
            # It does run there, so at least one replica fits whatever the catalog's node size says.
            by_resources = max(1, min(by_cpu, by_memory))
            if by_resources >= by_gpu:
                continue
            gpus = min(node.gpu_free, node.gpu_allocatable - by_resources * w.gpus_per_replica)
            if gpus > 0:
                out[(w.cluster, name)] = Stranded(
                    w.key, node, gpus, by_gpu, by_cpu, by_memory, instance.vcpus, instance.memory_gib
                )
    return out


def _starvation(ctx: DetectorContext, w: Workload) -> dict[str, Any] | None:
    """CPU throttled (or pegged at its limit) while the GPU waits with traffic queued behind it."""
    t, m = ctx.thresholds, w.metrics
    if not observed(w) or (m.gpu_util_mean or 0) >= t.cpu_starved_gpu_util:
        return None
    if not (m.request_rate_peak or m.requests_running_max):
        return None
    throttled = m.cpu_throttle_ratio is not None and m.cpu_throttle_ratio >= t.cpu_throttle_ratio
    at_limit = (
        bool(w.cpu_limit)
        and m.cpu_usage_p95 is not None
        and m.cpu_usage_p95 >= t.cpu_at_limit_frac * (w.cpu_limit or 0)
    )
    # Pegged at the limit only counts when throttling is not measured: a measured low ratio says the stalls are short.
    if not (throttled or (at_limit and m.cpu_throttle_ratio is None)):
        return None
    # The GPU stalls for the throttled share of time; that share of its spend buys nothing. Unmeasured → no dollars.
    stalled = min(m.cpu_throttle_ratio, 1 - (m.gpu_util_mean or 0)) if m.cpu_throttle_ratio is not None else 0.0
    return {"stalled_share": stalled, "throttled": throttled, "at_limit": at_limit}


@register(FindingType.CPU_GPU_IMBALANCE, precedence=40)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    by_workload: dict[str, list[Stranded]] = {}
    for s in stranded_gpus(ctx).values():
        by_workload.setdefault(s.workload, []).append(s)
    found = []
    for w in ctx.workloads:
        m = w.metrics
        starved = _starvation(ctx, w)
        stranded = sorted(by_workload.get(w.key, []), key=lambda s: s.node.name)
        if starved is None and not stranded:
            continue
        limit = f"{w.cpu_limit:g}" if w.cpu_limit else "unset"
        starve_waste = w.monthly_cost_usd * starved["stalled_share"] if starved else 0.0
        strand_waste = sum(monthly(s.gpus * s.node.gpu_hour_usd) for s in stranded)
        stranded_count = sum(s.gpus for s in stranded)
        parts, titles = [], []
        if starved:
            titles.append(
                f"CPU limit {limit} throttles the engine {pct(m.cpu_throttle_ratio)} of the time; GPU at {pct(m.gpu_util_mean)}"
            )
            parts.append(
                f"{w.model} on {w.gpus_per_replica}×{w.gpu_model} is CFS-throttled in {pct(m.cpu_throttle_ratio)} of "
                f"periods (CPU limit {limit} cores, p95 use {m.cpu_usage_p95 or 0:.1f}) while its GPUs average "
                f"{pct(m.gpu_util_mean)} with traffic waiting. The engine's scheduler, tokenizer and detokenizer run on "
                f"CPU; throttling them idles the GPU. Raise the CPU limit (or drop it and keep the request); about "
                f"{usd(starve_waste)}/month of GPU time is lost to the stall."
            )
        if stranded:
            per_gpu = w.cpu_request / w.gpus_per_replica
            titles.append(f"requests strand {stranded_count} GPUs on {len(stranded)} node(s)")
            parts.append(
                f"Each replica requests {w.cpu_request:g} CPU and {w.memory_request_bytes / GIB:.0f} GiB for "
                f"{w.gpus_per_replica} GPU(s) ({per_gpu:g} CPU per GPU), so its nodes run out of CPU or memory before "
                f"GPUs: {', '.join(f'{s.node.name}: {s.gpus} GPU(s)' for s in stranded)} cannot be scheduled. "
                f"Lower the requests to the node's share per GPU; the stranded GPUs cost {usd(strand_waste)}/month."
            )
        confidence, sufficiency = data_confidence(
            m.hours_covered,
            t,
            {"throttling": m.cpu_throttle_ratio is not None, "gpu": m.gpu_util_mean is not None} if starved else {},
        )
        evidence: dict[str, Any] = {
            **base_evidence(w),
            **sufficiency,
            "cpu_throttle_ratio": m.cpu_throttle_ratio,
            "cpu_limit": w.cpu_limit,
            "cpu_request": w.cpu_request,
            "memory_request_bytes": w.memory_request_bytes,
            "cpu_usage_p95": m.cpu_usage_p95,
            "gpu_util_mean": m.gpu_util_mean,
            "starved": starved is not None,
            "stalled_share": starved["stalled_share"] if starved else None,
            "cpu_at_limit": starved["at_limit"] if starved else None,
            "stranded": [s.as_json() for s in stranded],
            "stranded_gpus": stranded_count,
            "thresholds": {
                "cpu_throttle_ratio": t.cpu_throttle_ratio,
                "cpu_at_limit_frac": t.cpu_at_limit_frac,
                "cpu_starved_gpu_util": t.cpu_starved_gpu_util,
                "cpu_node_allocatable_frac": t.cpu_node_allocatable_frac,
            },
        }
        candidate = workload_candidate(
            w,
            ctx,
            type=FindingType.CPU_GPU_IMBALANCE,
            title=f"{w.name}: " + "; ".join(titles),
            explanation=" ".join(parts),
            evidence=evidence,
            confidence=confidence,
            monthly_waste_usd=starve_waste + strand_waste,
            # Stranded GPUs are node capacity outside the workload's own spend: widen its budget by exactly them,
            # under a key of their own when nothing else about the workload is claimed.
            budget_usd=(w.monthly_cost_usd if starved else 0.0) + strand_waste,
            floor_severity=Severity.MEDIUM if starved and not starve_waste else Severity.LOW,
        )
        if not starved:
            # Stranding is read from one instant's allocation and the catalog's node size, like dark_capacity.
            candidate = replace(candidate, budget_key=f"stranded:{w.key}", confidence=Confidence.MEDIUM)
        found.append(candidate)
    return found
