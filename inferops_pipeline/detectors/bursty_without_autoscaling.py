"""bursty_without_autoscaling: a fixed replica count sized for a peak the workload rarely sees."""

from __future__ import annotations

import math

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    data_confidence,
    monthly,
    observed,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType


@register(FindingType.BURSTY_WITHOUT_AUTOSCALING, precedence=25)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if not observed(w) or w.has_autoscaler or w.running_replicas < 2:
            continue
        if not m.request_rate_peak or not m.request_rate_mean or m.request_rate_peak < t.burst_min_peak_rps:
            continue
        ratio = m.request_rate_peak / m.request_rate_mean
        if ratio < t.burst_peak_to_mean:
            continue
        # With an autoscaler the average replica count follows the average load, never below the floor
        # (the recommendation's minReplicas); the epsilon keeps 4 / 2.0000000001 from rounding up to 3.
        average_replicas = max(t.min_replicas_to_shrink, math.ceil(w.running_replicas / ratio - 1e-9))
        saved = w.running_replicas - average_replicas
        if saved <= 0:
            continue
        waste = monthly(saved * w.gpus_per_serving_replica * w.gpu_hour_usd)
        # A burst is judged from hourly buckets: the trough corroborates that quiet hours really exist.
        confidence, sufficiency = data_confidence(m.hours_covered, t, {"trough": m.request_rate_trough is not None})
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.BURSTY_WITHOUT_AUTOSCALING,
                title=f"{w.name}: traffic peaks at {ratio:.1f}× its mean but {w.running_replicas} replicas run all day",
                explanation=(
                    f"Hourly request rate of {w.namespace}/{w.name} ranged {m.request_rate_trough or 0:.2f}–"
                    f"{m.request_rate_peak:.2f} req/s (mean {m.request_rate_mean:.2f}) and no HorizontalPodAutoscaler "
                    f"(nor a KEDA ScaledObject, which works through one) targets it. Autoscaling on queue depth or KV usage would average about {average_replicas} replicas "
                    f"instead of {w.running_replicas}, saving about {usd(waste)}/month."
                ),
                evidence={
                    **base_evidence(w),
                    **sufficiency,
                    "has_autoscaler": w.has_autoscaler,
                    "request_rate_peak": m.request_rate_peak,
                    "request_rate_mean": m.request_rate_mean,
                    "request_rate_trough": m.request_rate_trough,
                    "peak_to_mean": ratio,
                    "average_replicas_with_autoscaling": average_replicas,
                    "thresholds": {
                        "burst_peak_to_mean": t.burst_peak_to_mean,
                        "burst_min_peak_rps": t.burst_min_peak_rps,
                    },
                },
                confidence=confidence,
                monthly_waste_usd=waste,
            )
        )
    return found
