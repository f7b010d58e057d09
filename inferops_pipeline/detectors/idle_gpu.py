"""idle_gpu: replicas holding GPUs that did essentially no work over the window."""

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
from inferops_pipeline.domain import FindingType


@register(FindingType.IDLE_GPU, precedence=10)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if not observed(w) or m.gpu_util_p95 is None:
            continue
        if m.gpu_util_mean is None or m.gpu_util_mean >= t.idle_gpu_util or m.gpu_util_p95 >= t.idle_gpu_util_p95:
            continue
        gpus = w.running_pods * w.gpus_per_replica
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.IDLE_GPU,
                title=f"{w.model or w.name} holds {gpus}×{w.gpu_model} at {pct(m.gpu_util_mean)} mean utilisation",
                explanation=(
                    f"Over {m.hours_covered:.0f} h the GPUs of {w.namespace}/{w.name} averaged {pct(m.gpu_util_mean)} "
                    f"engine-active (p95 {pct(m.gpu_util_p95)}), below the idle thresholds "
                    f"({pct(t.idle_gpu_util)} mean, {pct(t.idle_gpu_util_p95)} p95). Peak traffic was "
                    f"{(m.request_rate_peak or 0):.2f} req/s. The {usd(w.monthly_cost_usd)}/month it costs buys nothing; "
                    "scale it to zero or remove it."
                ),
                evidence={
                    **base_evidence(w),
                    "gpu_util_mean": m.gpu_util_mean,
                    "gpu_util_p95": m.gpu_util_p95,
                    "request_rate_peak": m.request_rate_peak,
                    "thresholds": {"idle_gpu_util": t.idle_gpu_util, "idle_gpu_util_p95": t.idle_gpu_util_p95},
                },
                monthly_waste_usd=w.monthly_cost_usd,
            )
        )
    return found
