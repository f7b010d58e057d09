"""dark_capacity: GPUs paid for on ready nodes that no pod has allocated."""

from __future__ import annotations

from inferops_pipeline.catalog.prices import price_evidence
from inferops_pipeline.detectors.context import Candidate, DetectorContext, monthly, usd
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import Confidence, FindingType


@register(FindingType.DARK_CAPACITY, precedence=30)
def detect(ctx: DetectorContext) -> list[Candidate]:
    found = []
    for n in ctx.nodes:
        if not n.ready or n.gpu_free < ctx.thresholds.dark_capacity_min_gpus:
            continue
        waste = monthly(n.gpu_free * n.gpu_hour_usd)
        why = "it is cordoned or tainted, so nothing can use them" if not n.schedulable else "no pod requests them"
        found.append(
            Candidate(
                type=FindingType.DARK_CAPACITY,
                cluster=n.cluster,
                namespace="",
                workload_kind="Node",
                workload=n.name,
                gpu_model=n.gpu_model,
                title=f"{n.gpu_free} of {n.gpu_allocatable} {n.gpu_model} GPUs unallocated on {n.name}",
                explanation=(
                    f"Node {n.name} ({n.instance_type}, {n.capacity_type}, pool {n.nodepool or '-'}) has {n.gpu_free} free "
                    f"GPUs and {why}. At {usd(n.gpu_hour_usd)}/GPU-hour that is {usd(waste)}/month; shrink the node pool "
                    "or consolidate workloads onto fewer nodes."
                ),
                evidence={
                    "instance_type": n.instance_type,
                    "gpu_allocatable": n.gpu_allocatable,
                    "gpu_allocated": n.gpu_allocated,
                    "gpu_free": n.gpu_free,
                    "schedulable": n.schedulable,
                    "gpu_hour_usd": round(n.gpu_hour_usd, 4),
                    **price_evidence(n.price_basis),
                },
                # Allocation is read at one instant, not over the window.
                confidence=Confidence.MEDIUM,
                monthly_waste_usd=waste,
                budget_key=f"node:{n.cluster}/{n.name}",
                budget_usd=monthly(n.hourly_cost_usd),
            )
        )
    return found
