"""kv_cache_oversized: a KV pool (or max-model-len) far above what the traffic uses, paid for in extra GPUs."""

from __future__ import annotations

from typing import Any

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    confidence_for,
    fit_for,
    kv_need_tokens,
    lowered,
    margin_after,
    monthly,
    observed,
    pct,
    peak_kv_tokens,
    sizing_concurrency,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType, Workload
from inferops_pipeline.sizing.memory import Fit


def proposed_max_model_len(ctx: DetectorContext, w: Workload) -> int | None:
    """The configured max-model-len halved while it stays ≥ kv_oversized_len_ratio × the observed request length.

    None when the length is unknown or the configured limit is not oversized; the limit itself when it is oversized
    but one halving would cross the ratio.
    """
    length = w.metrics.request_tokens_mean
    ratio = ctx.thresholds.kv_oversized_len_ratio
    if length is None or length <= 0 or w.max_model_len is None or w.max_model_len < ratio * length:
        return None
    proposed = w.max_model_len
    while proposed // 2 >= ratio * length:
        proposed //= 2
    return proposed


def oversized_option(ctx: DetectorContext, w: Workload) -> dict[str, Any] | None:
    """The fewest GPUs of the same type that still hold the observed need with headroom, when the pool is idle."""
    t = ctx.thresholds
    m = w.metrics
    tokens = peak_kv_tokens(w)
    need = kv_need_tokens(w)
    # A missing KV series or pool size means no claim (DESIGN §4); a missing GPU p95 counts as busy.
    if not observed(w) or tokens is None or need is None or m.kv_usage_max is None or w.gpus_per_replica < 2:
        return None
    if m.kv_usage_max >= t.kv_oversized_max or (m.gpu_util_p95 or 1) >= t.kv_oversized_util_p95:
        return None
    shorter = proposed_max_model_len(ctx, w)
    for count in (c for c in (1, 2, 4, 8, 16) if c < w.gpus_per_replica and w.gpus_per_replica % c == 0):
        # The configured max-model-len first; a shorter one only when it is oversized against observed requests.
        lengths = [None] if shorter is None or shorter == w.max_model_len else [None, shorter]
        for max_len in lengths:
            sized = fit_for(ctx, w, gpu_model=w.gpu_model, gpu_count=count, max_model_len=max_len)
            if sized is None or not sized.fits or sized.kv_pool_tokens < t.tier_kv_headroom * tokens:
                continue
            margin = margin_after(sized, need)
            if margin < t.tier_fit_margin:
                continue
            return {"gpu_count": count, "max_model_len": max_len, "sized": sized, "margin": margin}
    return None


@register(FindingType.KV_CACHE_OVERSIZED, precedence=35)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        option = oversized_option(ctx, w)
        if option is None:
            continue
        m = w.metrics
        sized: Fit = option["sized"]
        count = int(option["gpu_count"])
        new_len = option["max_model_len"]
        tokens = peak_kv_tokens(w) or 0.0
        need = kv_need_tokens(w) or 0.0
        concurrency = sizing_concurrency(w)
        length = m.request_tokens_mean
        freed = w.gpus_per_replica - count
        waste = monthly(w.running_pods * freed * w.gpu_hour_usd)
        len_note = ""
        if length is not None and w.max_model_len:
            len_note = (
                f" Requests average {length:,.0f} tokens (prompt + generation) against --max-model-len "
                f"{w.max_model_len:,} ({w.max_model_len / length:.1f}×)."
            )
        change = f"tensor-parallel {count}" + (f" with --max-model-len {new_len:,}" if new_len else "")
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.KV_CACHE_OVERSIZED,
                title=(
                    f"{w.name}: KV cache never above {pct(m.kv_usage_max)}; {change} would do instead of "
                    f"{w.gpus_per_replica} GPUs"
                ),
                explanation=(
                    f"{w.model} on {w.gpus_per_replica}×{w.gpu_model} has a {m.kv_pool_tokens or 0:,.0f}-token KV pool but "
                    f"used at most {pct(m.kv_usage_max)} ({tokens:,.0f} tokens) with p95 GPU utilisation "
                    f"{pct(m.gpu_util_p95)}.{len_note} At {change}: {sized.explain()}. That holds "
                    f"{sized.kv_pool_tokens / max(tokens, 1):.1f}× the observed peak with {pct(option['margin'])} of the "
                    f"budget left after the observed need, and frees {freed} GPUs per replica: {usd(waste)}/month."
                ),
                evidence={
                    **base_evidence(w),
                    "kv_usage_max": m.kv_usage_max,
                    "kv_pool_tokens": m.kv_pool_tokens,
                    "peak_kv_tokens": tokens,
                    "need_kv_tokens": need,
                    "concurrency": concurrency[0] if concurrency else None,
                    "concurrency_basis": concurrency[1] if concurrency else None,
                    "request_tokens_mean": length,
                    "max_model_len": w.max_model_len,
                    "max_model_len_ratio": round(w.max_model_len / length, 2) if length and w.max_model_len else None,
                    "proposed_tensor_parallel": count,
                    "proposed_max_model_len": new_len,
                    "proposed_kv_pool_tokens": sized.kv_pool_tokens,
                    "fit": sized.explain(),
                    "fit_margin": round(option["margin"], 3),
                    "fit_confidence": sized.confidence,
                    "thresholds": {
                        "kv_oversized_max": t.kv_oversized_max,
                        "kv_oversized_util_p95": t.kv_oversized_util_p95,
                        "kv_oversized_len_ratio": t.kv_oversized_len_ratio,
                        "tier_kv_headroom": t.tier_kv_headroom,
                        "tier_fit_margin": t.tier_fit_margin,
                    },
                },
                confidence=lowered(confidence_for(m.hours_covered, t), sized),
                monthly_waste_usd=waste,
            )
        )
    return found
