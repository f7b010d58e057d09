"""gpu_fragmentation: enough free GPUs in a pool, but scattered so no node can take a pending replica."""

from __future__ import annotations

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    monthly,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.pending_gpu_workload import (
    blocked_by,
    fragmented,
    pending_evidence,
    pending_for_hours,
    pending_with_pool,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import Confidence, FindingType, Severity


@register(FindingType.GPU_FRAGMENTATION, precedence=81)
def detect_fragmentation(ctx: DetectorContext) -> list[Candidate]:
    found = []
    for w, pool in pending_with_pool(ctx):
        if not fragmented(w, pool):
            continue
        free = {n.name: n.gpu_free for n in pool if n.gpu_free}
        risk = monthly(w.pending_pods * w.gpus_per_replica * w.gpu_hour_usd)
        # The scattered GPUs' own cost is waste that dark_capacity counts on their nodes; shown here, not re-counted.
        scattered = monthly(sum(n.gpu_free * n.gpu_hour_usd for n in pool))
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.GPU_FRAGMENTATION,
                title=f"{sum(free.values())} free {w.gpu_model} GPUs are scattered; {w.name} needs {w.gpus_per_replica} on one node",
                explanation=(
                    f"{w.namespace}/{w.name} has {w.pending_pods} pending replica(s) needing {w.gpus_per_replica} GPUs "
                    f"each, {blocked_by(w, pending_for_hours(ctx, w))}. "
                    f"The {w.gpu_model} pool has {sum(free.values())} free GPUs in total but at most "
                    f"{max(free.values(), default=0)} on any node ({', '.join(f'{k}: {v}' for k, v in sorted(free.items()))}). "
                    f"Bin-pack the small workloads (or drain one node) to free a whole node; {usd(risk)}/month of "
                    f"replicas wait while the scattered GPUs cost {usd(scattered)}/month (counted as dark_capacity)."
                ),
                evidence={
                    **base_evidence(w),
                    **pending_evidence(ctx, w),
                    "free_gpus_by_node": free,
                    "scattered_free_gpus_monthly_usd": round(scattered, 2),
                },
                confidence=Confidence.HIGH,
                monthly_at_risk_usd=risk,
                floor_severity=Severity.MEDIUM,
            )
        )
    return found
