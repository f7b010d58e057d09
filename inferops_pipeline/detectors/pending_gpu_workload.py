"""pending_gpu_workload: GPU replicas that cannot schedule, for how long and what the scheduler says blocks them."""

from __future__ import annotations

from typing import Any

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    monthly,
    parse_time,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import Confidence, FindingType, GpuNode, Severity, Workload


def _pool(ctx: DetectorContext, w: Workload) -> list[GpuNode]:
    return [n for n in ctx.nodes if n.cluster == w.cluster and n.gpu_model == w.gpu_model and n.ready and n.schedulable]


def pending_for_hours(ctx: DetectorContext, w: Workload) -> float | None:
    """Hours the longest-waiting pod has been pending at the window end; None when inventory does not say."""
    since = parse_time(w.pending_since)
    return None if since is None else max(0.0, (ctx.now - since).total_seconds() / 3600)


def pending_with_pool(ctx: DetectorContext) -> list[tuple[Workload, list[GpuNode]]]:
    """Workloads with GPU pods pending past the scheduling-latency grace, with their GPU model's node pool."""
    out = []
    for w in ctx.workloads:
        if w.pending_pods < 1 or w.gpus_per_replica < 1:
            continue
        hours = pending_for_hours(ctx, w)
        if hours is not None and hours * 60 < ctx.thresholds.pending_min_minutes:
            continue  # still within normal scheduling / node scale-up latency
        out.append((w, _pool(ctx, w)))
    return out


def fragmented(w: Workload, pool: list[GpuNode]) -> bool:
    """Enough free GPUs of the right model in total, but no single node can take one replica."""
    return (
        sum(n.gpu_free for n in pool) >= w.gpus_per_replica
        and max((n.gpu_free for n in pool), default=0) < w.gpus_per_replica
    )


def pending_evidence(ctx: DetectorContext, w: Workload) -> dict[str, Any]:
    hours = pending_for_hours(ctx, w)
    return {
        "pending_pods": w.pending_pods,
        "pending_since": w.pending_since or None,
        "pending_hours": round(hours, 2) if hours is not None else None,
        "scheduler_reason": w.pending_reason or None,
        "scheduler_message": w.pending_message or None,
        "thresholds": {"pending_min_minutes": ctx.thresholds.pending_min_minutes},
    }


def took(hours: float) -> str:
    """A wait as an operator says it: 25 min, 7.5 h, 3 days."""
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.0f} days"


def blocked_by(w: Workload, hours: float | None) -> str:
    waited = f"for {took(hours)}" if hours is not None else "(since when unknown)"
    said = f'; the scheduler says "{w.pending_message}"' if w.pending_message else ""
    return f"pending {waited}{said}"


@register(FindingType.PENDING_GPU_WORKLOAD, precedence=80)
def detect(ctx: DetectorContext) -> list[Candidate]:
    found = []
    for w, pool in pending_with_pool(ctx):
        if fragmented(w, pool):
            continue
        gpus = w.pending_pods * w.gpus_per_replica
        risk = monthly(gpus * w.gpu_hour_usd)
        free = sum(n.gpu_free for n in pool)
        hours = pending_for_hours(ctx, w)
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.PENDING_GPU_WORKLOAD,
                title=f"{w.name}: {w.pending_pods} of {w.replicas} replicas pending for {gpus}×{w.gpu_model or 'GPU'}"
                + (f" for {took(hours)}" if hours is not None else ""),
                explanation=(
                    f"{w.pending_pods} replica(s) of {w.namespace}/{w.name} cannot schedule, {blocked_by(w, hours)}. "
                    f"Each needs {w.gpus_per_replica} {w.gpu_model or 'GPU'}(s) and the pool has {free} free on "
                    f"schedulable nodes. The workload serves with {w.running_pods}/{w.replicas} replicas; the missing "
                    f"capacity is worth {usd(risk)}/month. Add nodes to the pool, or lower the replica count to what "
                    "the pool can hold."
                ),
                evidence={**base_evidence(w), **pending_evidence(ctx, w), "free_gpus_in_pool": free},
                # Scheduling state is a fact; without a pending-since time the duration part is unknown.
                confidence=Confidence.HIGH if hours is not None else Confidence.MEDIUM,
                monthly_at_risk_usd=risk,
                floor_severity=Severity.HIGH if w.running_pods == 0 else Severity.MEDIUM,
            )
        )
    return found
