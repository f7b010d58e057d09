"""kv_cache_oversized: tensor parallelism sized for a KV cache the traffic never fills."""

from __future__ import annotations

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    fit_for,
    monthly,
    observed,
    pct,
    peak_kv_tokens,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType


@register(FindingType.KV_CACHE_OVERSIZED, precedence=35)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        tokens = peak_kv_tokens(w)
        if not observed(w) or tokens is None or w.gpus_per_replica < 2 or m.kv_usage_max is None:
            continue
        if m.kv_usage_max >= t.kv_oversized_max or (m.gpu_util_p95 or 1) >= t.kv_oversized_util_p95:
            continue
        half = w.gpus_per_replica // 2
        sized = fit_for(ctx, w, gpu_model=w.gpu_model, gpu_count=half)
        # Half the GPUs must still start the engine and hold twice the busiest moment's tokens.
        if sized is None or not sized.fits or sized.kv_pool_tokens < 2 * tokens:
            continue
        waste = monthly(w.running_pods * (w.gpus_per_replica - half) * w.gpu_hour_usd)
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.KV_CACHE_OVERSIZED,
                title=f"{w.name}: KV cache never above {pct(m.kv_usage_max)}; TP={half} would do instead of {w.gpus_per_replica}",
                explanation=(
                    f"{w.model} on {w.gpus_per_replica}×{w.gpu_model} has a {m.kv_pool_tokens or 0:,.0f}-token KV pool but used "
                    f"at most {pct(m.kv_usage_max)} ({tokens:,.0f} tokens) with p95 GPU utilisation {pct(m.gpu_util_p95)}. "
                    f"At tensor-parallel {half}: {sized.explain()}. That holds {sized.kv_pool_tokens / tokens:.1f}× the observed "
                    f"peak and frees {w.gpus_per_replica - half} GPUs per replica: {usd(waste)}/month."
                ),
                evidence={
                    **base_evidence(w),
                    "kv_usage_max": m.kv_usage_max,
                    "kv_pool_tokens": m.kv_pool_tokens,
                    "peak_kv_tokens": tokens,
                    "proposed_tensor_parallel": half,
                    "proposed_kv_pool_tokens": sized.kv_pool_tokens,
                    "fit": sized.explain(),
                    "fit_margin": round(sized.margin, 3),
                    "fit_confidence": sized.confidence,
                    "thresholds": {
                        "kv_oversized_max": t.kv_oversized_max,
                        "kv_oversized_util_p95": t.kv_oversized_util_p95,
                    },
                },
                monthly_waste_usd=waste,
            )
        )
    return found
