"""cpu_gpu_imbalance: a CPU limit throttles the engine's scheduler/tokenizer so the GPU waits."""

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


@register(FindingType.CPU_GPU_IMBALANCE, precedence=40)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if not observed(w) or m.cpu_throttle_ratio is None or m.cpu_throttle_ratio < t.cpu_throttle_ratio:
            continue
        if (m.gpu_util_mean or 0) >= t.cpu_starved_gpu_util or not (m.request_rate_peak or m.requests_running_max):
            continue
        # The GPU stalls for the throttled share of time; that share of its spend buys nothing.
        stalled = min(m.cpu_throttle_ratio, 1 - (m.gpu_util_mean or 0))
        waste = w.monthly_cost_usd * stalled
        limit = f"{w.cpu_limit:g}" if w.cpu_limit else "unset"
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.CPU_GPU_IMBALANCE,
                title=f"{w.name}: CPU limit {limit} throttles the engine {pct(m.cpu_throttle_ratio)} of the time; GPU at {pct(m.gpu_util_mean)}",
                explanation=(
                    f"{w.model} on {w.gpus_per_replica}×{w.gpu_model} is CFS-throttled in {pct(m.cpu_throttle_ratio)} of "
                    f"periods (CPU limit {limit} cores, p95 use {m.cpu_usage_p95 or 0:.1f}) while its GPUs average "
                    f"{pct(m.gpu_util_mean)} with traffic waiting. The engine's scheduler, tokenizer and detokenizer run on "
                    f"CPU; throttling them idles the GPU. Raise the CPU limit (or drop it and keep the request); about "
                    f"{usd(waste)}/month of GPU time is lost to the stall."
                ),
                evidence={
                    **base_evidence(w),
                    "cpu_throttle_ratio": m.cpu_throttle_ratio,
                    "cpu_limit": w.cpu_limit,
                    "cpu_usage_p95": m.cpu_usage_p95,
                    "gpu_util_mean": m.gpu_util_mean,
                    "stalled_share": stalled,
                    "thresholds": {
                        "cpu_throttle_ratio": t.cpu_throttle_ratio,
                        "cpu_starved_gpu_util": t.cpu_starved_gpu_util,
                    },
                },
                monthly_waste_usd=waste,
            )
        )
    return found
