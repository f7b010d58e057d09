"""dark_capacity: GPUs paid for on ready nodes that no pod has requested."""

from __future__ import annotations

from inferops_pipeline.catalog.prices import price_evidence
from inferops_pipeline.detectors.context import Candidate, DetectorContext, monthly, usd
from inferops_pipeline.detectors.cpu_gpu_imbalance import stranded_gpus
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import Confidence, FindingType, GpuNode


def _pool_advice(n: GpuNode) -> str:
    if n.autoscaler == "karpenter":
        # Karpenter would have consolidated an empty or under-used node unless something stops it.
        return (
            f"Pool {n.nodepool or '-'} is Karpenter-managed: check its disruption/consolidation policy and any "
            "do-not-disrupt annotation that keeps this node."
        )
    return (
        f"Pool {n.nodepool or '-'} shows no autoscaler: lower the node group's size (or minimum), or consolidate "
        "workloads onto fewer nodes."
    )


@register(FindingType.DARK_CAPACITY, precedence=30)
def detect(ctx: DetectorContext) -> list[Candidate]:
    stranded = stranded_gpus(ctx)
    pending_gpu_models = {(w.cluster, w.gpu_model) for w in ctx.workloads if w.pending_pods > 0}
    found = []
    for n in ctx.nodes:
        if not n.ready:
            continue  # kubelet not reporting: allocation unknown, no claim
        # GPUs stranded by a workload's CPU/memory requests are cpu_gpu_imbalance's (registry precedence table).
        held = stranded.get((n.cluster, n.name))
        dark = n.gpu_free - (held.gpus if held else 0)
        if dark < ctx.thresholds.dark_capacity_min_gpus:
            continue
        waste = monthly(dark * n.gpu_hour_usd)
        why = "it is cordoned or tainted, so nothing can use them" if not n.schedulable else "no pod requests them"
        fragment = n.schedulable and (n.cluster, n.gpu_model) in pending_gpu_models
        found.append(
            Candidate(
                type=FindingType.DARK_CAPACITY,
                cluster=n.cluster,
                namespace="",
                workload_kind="Node",
                workload=n.name,
                gpu_model=n.gpu_model,
                title=f"{dark} of {n.gpu_allocatable} {n.gpu_model} GPUs unrequested on {n.name}",
                explanation=(
                    f"Node {n.name} ({n.instance_type}, {n.capacity_type}, pool {n.nodepool or '-'}) has {dark} free "
                    f"GPUs and {why}. At {usd(n.gpu_hour_usd)}/GPU-hour that is {usd(waste)}/month. "
                    + _pool_advice(n)
                    + (
                        " A workload of this GPU model is pending: these GPUs are too few on one node for it "
                        "(see gpu_fragmentation), so bin-pack rather than wait."
                        if fragment
                        else ""
                    )
                ),
                evidence={
                    "instance_type": n.instance_type,
                    "nodepool": n.nodepool,
                    "autoscaler": n.autoscaler or "unknown",
                    "gpu_allocatable": n.gpu_allocatable,
                    "gpu_allocated": n.gpu_allocated,
                    "gpu_free": n.gpu_free,
                    "dark_gpus": dark,
                    "stranded_gpus_left_to_cpu_gpu_imbalance": held.gpus if held else 0,
                    "schedulable": n.schedulable,
                    "pending_workload_of_this_gpu_model": fragment,
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
