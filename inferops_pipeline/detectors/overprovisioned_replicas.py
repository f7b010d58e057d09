"""overprovisioned_replicas: more replicas than the window's peak needs while keeping the stated headroom."""

from __future__ import annotations

import math

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
from inferops_pipeline.domain import FindingType


def _replicas_for(running: int, peak: float | None, target: float) -> int:
    # Load spread over fewer replicas; the epsilon keeps float noise (6 × 0.2 / 0.6 = 2.0000000000000004) from
    # adding a replica.
    return 0 if peak is None else math.ceil(running * peak / target - 1e-9)


@register(FindingType.OVERPROVISIONED_REPLICAS, precedence=20)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if (
            not observed(w)
            or w.has_autoscaler
            or w.running_replicas <= t.min_replicas_to_shrink
            or m.gpu_util_p95 is None
        ):
            continue
        if m.gpu_util_p95 >= t.overprovisioned_util:
            continue
        if m.kv_usage_p95 is not None and m.kv_usage_p95 >= t.overprovisioned_kv_p95:
            continue
        # Vetoes: any sign the replicas are already short at peak makes a cut a latency incident.
        queueing = m.requests_waiting_max is not None and m.requests_waiting_max >= t.overprovisioned_max_waiting
        kv_pressure = (m.kv_usage_max is not None and m.kv_usage_max >= t.overprovisioned_kv_max_veto) or (
            m.preemptions or 0
        ) > 0
        if queueing or kv_pressure:
            continue
        # Size to the window's peak (p95 of 1-min samples: robust to a single scrape spike) of both GPU activity and
        # KV use, each at target_util_after_scale, so the stated headroom holds at that peak.
        by_gpu = _replicas_for(w.running_replicas, m.gpu_util_p95, t.target_util_after_scale)
        by_kv = _replicas_for(w.running_replicas, m.kv_usage_p95, t.target_util_after_scale)
        needed = max(t.min_replicas_to_shrink, by_gpu, by_kv)
        surplus = w.running_replicas - needed
        if surplus <= 0:
            continue
        waste = monthly(surplus * w.gpus_per_serving_replica * w.gpu_hour_usd)
        confidence, sufficiency = data_confidence(
            m.hours_covered,
            t,
            {"kv_cache": m.kv_usage_p95 is not None, "queue": m.requests_waiting_max is not None},
        )
        headroom = 1 - t.target_util_after_scale
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.OVERPROVISIONED_REPLICAS,
                title=f"{w.name}: {w.running_replicas} replicas where {needed} would carry the peak",
                explanation=(
                    f"{w.running_replicas} replicas of {w.model or w.name} on {w.gpu_model} peaked at {pct(m.gpu_util_p95)} GPU "
                    f"utilisation (p95) with KV-cache p95 {pct(m.kv_usage_p95)} and at most "
                    f"{m.requests_waiting_max or 0:.0f} waiting requests. {needed} replicas would run the same peak at "
                    f"≤{pct(t.target_util_after_scale)}, keeping {pct(headroom)} headroom; the other {surplus} cost "
                    f"{usd(waste)}/month."
                ),
                evidence={
                    **base_evidence(w),
                    **sufficiency,
                    "gpu_util_p95": m.gpu_util_p95,
                    "kv_usage_p95": m.kv_usage_p95,
                    "kv_usage_max": m.kv_usage_max,
                    "requests_waiting_max": m.requests_waiting_max,
                    "preemptions": m.preemptions,
                    "replicas_needed_by_gpu": by_gpu,
                    "replicas_needed_by_kv": by_kv,
                    "replicas_needed": needed,
                    "surplus_replicas": surplus,
                    "headroom_at_peak": round(headroom, 4),
                    "thresholds": {
                        "overprovisioned_util": t.overprovisioned_util,
                        "overprovisioned_kv_p95": t.overprovisioned_kv_p95,
                        "overprovisioned_max_waiting": t.overprovisioned_max_waiting,
                        "overprovisioned_kv_max_veto": t.overprovisioned_kv_max_veto,
                        "target_util_after_scale": t.target_util_after_scale,
                        "min_replicas_to_shrink": t.min_replicas_to_shrink,
                    },
                },
                confidence=confidence,
                monthly_waste_usd=waste,
            )
        )
    return found
