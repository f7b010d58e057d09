"""kv_cache_pressure: the engine's KV cache is full, so requests queue and get preempted; remedies ranked by effect."""

from __future__ import annotations

import math
from typing import Any

from inferops_pipeline.catalog.prices import price_evidence
from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    confidence_for,
    fit_for,
    lowered,
    monthly,
    pct,
    sizing_concurrency,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.oom_exposure import gpu_headroom
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.detectors.tier_misplacement import TIERS
from inferops_pipeline.domain import FindingType, Severity, Workload
from inferops_pipeline.sizing.memory import GIB, KV_BLOCK_TOKENS, Fit, kv_dtype_bytes


def _per_len(pool: float, max_len: int | None) -> float | None:
    # vLLM's "Maximum concurrency for N tokens per request" = pool tokens ÷ max_model_len (sizing_reference §3).
    return round(pool / max_len, 2) if max_len else None


def _larger_tier(ctx: DetectorContext, w: Workload) -> tuple[str, int, Fit, float, str] | None:
    """The cheapest in-region GPU with more memory at today's count (else twice today's GPUs) that fits."""
    current = ctx.catalogs.gpus.get(w.gpu_model)
    if current is None:
        return None
    for tier in TIERS:
        spec = ctx.catalogs.gpus.get(tier)
        if spec is None or spec.memory_gib <= current.memory_gib:
            continue
        priced = ctx.catalogs.prices.cheapest_gpu_hour(
            cloud=w.cloud, region=w.region, gpu_model=tier, capacity_type=w.capacity_type
        )
        if priced is None or price_evidence(priced[1])["price_basis"] not in ("exact", "override"):
            continue
        sized = fit_for(ctx, w, gpu_model=tier, gpu_count=w.gpus_per_replica)
        if sized is not None and sized.fits:
            return tier, w.gpus_per_replica, sized, priced[0], priced[1]
    if w.gpus_per_replica * 2 <= 8:
        sized = fit_for(ctx, w, gpu_model=w.gpu_model, gpu_count=w.gpus_per_replica * 2)
        if sized is not None and sized.fits:
            return w.gpu_model, w.gpus_per_replica * 2, sized, w.gpu_hour_usd, w.price_basis
    return None


def remediations(ctx: DetectorContext, w: Workload, sized: Fit | None) -> list[dict[str, Any]]:
    """Every applicable remedy with its effect computed by the sizing code, cheapest and strongest first."""
    t = ctx.thresholds
    m = w.metrics
    pool = m.kv_pool_tokens if m.kv_pool_tokens is not None else (sized.kv_pool_tokens if sized else None)
    if pool is None:
        return []
    max_len = sized.max_model_len if sized else w.max_model_len
    before = {"pool_tokens_before": int(pool), "concurrency_at_max_len_before": _per_len(pool, max_len)}
    out: list[dict[str, Any]] = []

    def add(action: str, arg: str, value: Any, after: float, cost: float, effect: str) -> None:
        out.append(
            {
                "action": action,
                "arg": arg,
                "value": value,
                "effect": effect,
                **before,
                "pool_tokens_after": int(after),
                "concurrency_at_max_len_after": _per_len(after, max_len),
                "monthly_cost_usd": round(cost, 2),
            }
        )

    headroom = gpu_headroom(w)
    if sized is not None and headroom is not None:
        # Spend only the headroom above oom_exposure's floor, and never reach its engine-start limit.
        util = sized.gpu_memory_utilization
        target = round(min(util + headroom - t.oom_gpu_headroom_frac, t.oom_engine_util_max - 0.01), 2)
        if target > util + 0.005:
            extra_gib = (target - util) * sized.usable_gib_per_gpu
            blocks = math.floor(extra_gib * GIB / (sized.kv_bytes_per_token * KV_BLOCK_TOKENS))
            after = pool + blocks * KV_BLOCK_TOKENS
            add("set_engine_arg", "--gpu-memory-utilization", target, after, 0.0,
                f"+{extra_gib:.2f} GiB/GPU of KV: pool {pool:,.0f} → {after:,.0f} tokens")  # fmt: skip
    try:
        dtype_bytes = kv_dtype_bytes(w.kv_cache_dtype)
    except ValueError:
        dtype_bytes = 1.0
    if dtype_bytes > 1:
        after = pool * dtype_bytes  # same bytes, one byte per element instead of `dtype_bytes`
        add("set_engine_arg", "--kv-cache-dtype", "fp8", after, 0.0,
            f"KV bytes per token ÷ {dtype_bytes:g}: pool {pool:,.0f} → {after:,.0f} tokens")  # fmt: skip
    concurrency = sizing_concurrency(w)
    length = m.request_tokens_mean
    if concurrency is not None and length:
        seqs = math.floor(pool / length)
        if 1 <= seqs < concurrency[0]:
            add("set_engine_arg", "--max-num-seqs", seqs, pool, 0.0,
                f"{seqs} sequences × {length:,.0f} tokens fit the {pool:,.0f}-token pool: no preemption, "
                f"the excess {concurrency[0] - seqs:.0f} wait in the queue instead")  # fmt: skip
    replica_cost = monthly(w.gpus_per_replica * w.gpu_hour_usd)
    if w.replicas >= 1:
        share = w.replicas / (w.replicas + 1)
        kv_after = (m.kv_usage_p95 or 0) * share
        add("scale_replicas", "replicas", w.replicas + 1, pool, replica_cost,
            f"{w.replicas} → {w.replicas + 1} replicas: each carries {share:.0%} of today's load, KV p95 "
            f"≈ {kv_after:.0%}")  # fmt: skip
    larger = _larger_tier(ctx, w)
    if larger is not None:
        tier, count, bigger, gpu_hour, basis = larger
        cost = monthly(w.running_pods * (count * gpu_hour - w.gpus_per_replica * w.gpu_hour_usd))
        add("move_gpu_tier", "gpu", f"{count}×{tier}", bigger.kv_pool_tokens, max(cost, 0.0),
            f"{count}×{tier}: pool {pool:,.0f} → {bigger.kv_pool_tokens:,} tokens (margin {bigger.margin:.2f})")  # fmt: skip
        out[-1] |= {"fit_margin": round(bigger.margin, 3), **price_evidence(basis)}
    out.sort(key=lambda r: (r["monthly_cost_usd"], -r["pool_tokens_after"]))
    return [{"rank": i, **r} for i, r in enumerate(out, start=1)]


@register(FindingType.KV_CACHE_PRESSURE, precedence=55)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if w.running_pods == 0 or m.kv_usage_p95 is None or m.kv_usage_p95 < t.kv_pressure_p95:
            continue
        preempted = (m.preemptions or 0) >= t.kv_pressure_preemptions
        queued = (m.requests_waiting_max or 0) >= t.kv_pressure_waiting
        if not (preempted or queued):
            continue
        sized = fit_for(ctx, w, gpu_model=w.gpu_model, gpu_count=w.gpus_per_replica)
        ranked = remediations(ctx, w, sized)
        top = ranked[0] if ranked else None
        advice = (
            f"First remedy: {top['arg']} {top['value']} ({top['effect']})."
            if top
            else "Raise --gpu-memory-utilization, use an fp8 KV cache, lower --max-num-seqs, or add a replica."
        )
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.KV_CACHE_PRESSURE,
                title=f"{w.name}: KV cache {pct(m.kv_usage_p95)} full at p95, {m.preemptions or 0:.0f} preemptions",
                explanation=(
                    f"{w.model} on {w.gpus_per_replica}×{w.gpu_model} ran its KV cache at {pct(m.kv_usage_p95)} (p95), "
                    f"preempted {m.preemptions or 0:.0f} sequences and queued up to {m.requests_waiting_max or 0:.0f} "
                    f"requests (p95 TTFT {m.ttft_p95_s or 0:.2f} s). Preempted sequences are recomputed, so GPU time is "
                    f"burnt twice and latency spikes. {advice} {usd(w.monthly_cost_usd)}/month of serving is degraded."
                ),
                evidence={
                    **base_evidence(w),
                    "kv_usage_p95": m.kv_usage_p95,
                    "kv_usage_max": m.kv_usage_max,
                    "kv_pool_tokens": m.kv_pool_tokens,
                    "preemptions": m.preemptions,
                    "requests_waiting_max": m.requests_waiting_max,
                    "ttft_p95_s": m.ttft_p95_s,
                    "gpu_memory_utilization": w.gpu_memory_utilization,
                    "kv_cache_dtype": w.kv_cache_dtype,
                    "fit": sized.explain() if sized else None,
                    "remediations": ranked,
                    "thresholds": {
                        "kv_pressure_p95": t.kv_pressure_p95,
                        "kv_pressure_preemptions": t.kv_pressure_preemptions,
                        "kv_pressure_waiting": t.kv_pressure_waiting,
                        "oom_gpu_headroom_frac": t.oom_gpu_headroom_frac,
                        "oom_engine_util_max": t.oom_engine_util_max,
                    },
                },
                confidence=lowered(confidence_for(m.hours_covered, t), sized),
                monthly_at_risk_usd=w.monthly_cost_usd,
                floor_severity=Severity.MEDIUM,
            )
        )
    return found
