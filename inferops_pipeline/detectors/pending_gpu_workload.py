"""pending_gpu_workload: GPU replicas that cannot schedule because the pool lacks capacity."""

from __future__ import annotations

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    monthly,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import Confidence, FindingType, GpuNode, Severity, Workload


def _pool(ctx: DetectorContext, w: Workload) -> list[GpuNode]:
    return [n for n in ctx.nodes if n.cluster == w.cluster and n.gpu_model == w.gpu_model and n.ready and n.schedulable]


def pending_with_pool(ctx: DetectorContext) -> list[tuple[Workload, list[GpuNode]]]:
    return [(w, _pool(ctx, w)) for w in ctx.workloads if w.pending_pods > 0 and w.gpus_per_replica > 0]


def fragmented(w: Workload, pool: list[GpuNode]) -> bool:
    """Enough free GPUs of the right model in total, but no single node can take one replica."""
    return (
        sum(n.gpu_free for n in pool) >= w.gpus_per_replica
        and max((n.gpu_free for n in pool), default=0) < w.gpus_per_replica
    )


@register(FindingType.PENDING_GPU_WORKLOAD, precedence=80)
def detect(ctx: DetectorContext) -> list[Candidate]:
    found = []
    for w, pool in pending_with_pool(ctx):
        if fragmented(w, pool):
            continue
        gpus = w.pending_pods * w.gpus_per_replica
        risk = monthly(gpus * w.gpu_hour_usd)
        free = sum(n.gpu_free for n in pool)
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.PENDING_GPU_WORKLOAD,
                title=f"{w.name}: {w.pending_pods} of {w.replicas} replicas pending for {gpus}×{w.gpu_model or 'GPU'}",
                explanation=(
                    f"{w.pending_pods} replica(s) of {w.namespace}/{w.name} cannot schedule: each needs {w.gpus_per_replica} "
                    f"{w.gpu_model or 'GPU'}(s) and the cluster has {free} free on schedulable nodes. The workload serves "
                    f"with {w.running_pods}/{w.replicas} replicas; the missing capacity is worth {usd(risk)}/month. "
                    "Add nodes to the pool, or lower the replica count to what the pool can hold."
                ),
                evidence={**base_evidence(w), "pending_pods": w.pending_pods, "free_gpus_in_pool": free},
                confidence=Confidence.HIGH,
                monthly_at_risk_usd=risk,
                floor_severity=Severity.HIGH if w.running_pods == 0 else Severity.MEDIUM,
            )
        )
    return found
