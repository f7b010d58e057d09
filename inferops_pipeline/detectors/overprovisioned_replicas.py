"""overprovisioned_replicas: more replicas than the peak load needs at a healthy per-replica utilisation."""

from __future__ import annotations

import math

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    monthly,
    observed,
    pct,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType


@register(FindingType.OVERPROVISIONED_REPLICAS, precedence=20)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if not observed(w) or w.has_autoscaler or w.running_pods <= t.min_replicas_to_shrink or m.gpu_util_p95 is None:
            continue
        if m.gpu_util_p95 >= t.overprovisioned_util:
            continue
        if m.kv_usage_p95 is not None and m.kv_usage_p95 >= t.overprovisioned_kv_p95:
            continue
        # Load spread over fewer replicas: keep the busiest (p95) hour under the target utilisation.
        # The epsilon keeps float noise (6 × 0.2 / 0.6 = 2.0000000000000004) from adding a replica.
        load = w.running_pods * m.gpu_util_p95 / t.target_util_after_scale
        needed = max(t.min_replicas_to_shrink, math.ceil(load - 1e-9))
        surplus = w.running_pods - needed
        if surplus <= 0:
            continue
        waste = monthly(surplus * w.gpus_per_replica * w.gpu_hour_usd)
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.OVERPROVISIONED_REPLICAS,
                title=f"{w.name}: {w.running_pods} replicas where {needed} would carry the peak",
                explanation=(
                    f"{w.running_pods} replicas of {w.model or w.name} on {w.gpu_model} peaked at {pct(m.gpu_util_p95)} GPU "
                    f"utilisation (p95) with KV-cache p95 {pct(m.kv_usage_p95)}. {needed} replicas would run the same peak "
                    f"at ≤{pct(t.target_util_after_scale)}; the other {surplus} cost {usd(waste)}/month."
                ),
                evidence={
                    **base_evidence(w),
                    "gpu_util_p95": m.gpu_util_p95,
                    "kv_usage_p95": m.kv_usage_p95,
                    "replicas_needed": needed,
                    "surplus_replicas": surplus,
                    "thresholds": {
                        "overprovisioned_util": t.overprovisioned_util,
                        "target_util_after_scale": t.target_util_after_scale,
                    },
                },
                monthly_waste_usd=waste,
            )
        )
    return found
