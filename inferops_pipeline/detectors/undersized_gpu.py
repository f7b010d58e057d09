"""undersized_gpu: a model saturating its GPUs (compute or framebuffer) with requests queueing behind it."""

from __future__ import annotations

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    observed,
    pct,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType, Severity


@register(FindingType.UNDERSIZED_GPU, precedence=60)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if not observed(w):
            continue
        saturated = (m.gpu_util_p95 or 0) >= t.undersized_util_p95 and (
            m.requests_waiting_max or 0
        ) >= t.kv_pressure_waiting
        memory_full = (m.gpu_fb_used_max_frac or 0) >= t.undersized_fb_frac
        if not (saturated or memory_full):
            continue
        why = []
        if saturated:
            why.append(
                f"GPU p95 utilisation {pct(m.gpu_util_p95)} with up to {m.requests_waiting_max or 0:.0f} requests waiting"
            )
        if memory_full:
            why.append(f"framebuffer peaked at {pct(m.gpu_fb_used_max_frac)} of the card")
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.UNDERSIZED_GPU,
                title=f"{w.name}: {w.gpus_per_replica}×{w.gpu_model} is too small for {w.model}",
                explanation=(
                    f"{w.namespace}/{w.name}: {'; '.join(why)}. The replica has no headroom: the next burst queues or "
                    f"fails with CUDA out-of-memory. Move to a larger tier or add tensor parallelism; "
                    f"{usd(w.monthly_cost_usd)}/month of serving is exposed."
                ),
                evidence={
                    **base_evidence(w),
                    "gpu_util_p95": m.gpu_util_p95,
                    "requests_waiting_max": m.requests_waiting_max,
                    "gpu_fb_used_max_frac": m.gpu_fb_used_max_frac,
                    "thresholds": {
                        "undersized_util_p95": t.undersized_util_p95,
                        "undersized_fb_frac": t.undersized_fb_frac,
                    },
                },
                monthly_at_risk_usd=w.monthly_cost_usd,
                floor_severity=Severity.MEDIUM,
            )
        )
    return found
