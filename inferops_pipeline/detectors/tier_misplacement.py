"""tier_misplacement: a lightly used model that fits, with headroom, on a cheaper GPU tier."""

from __future__ import annotations

from inferops_pipeline.catalog.prices import price_evidence
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
from inferops_pipeline.domain import FindingType, Workload

# Serving tiers worth proposing, cheapest first in most clouds; others in the catalog are niche.
TIERS = ("L4", "A10G", "A10", "L40S", "A100-40GB", "A100-80GB", "H100-80GB", "H200")
_MIN_SAVING = 0.2  # below 20% a migration is not worth its risk
_MAX_UTIL_AFTER = 0.8  # projected p95 utilisation on the new tier


def best_cheaper_tier(ctx: DetectorContext, w: Workload) -> dict[str, object] | None:
    current_spec = ctx.catalogs.gpus.get(w.gpu_model)
    current = w.gpus_per_replica * w.gpu_hour_usd
    observed_tokens = peak_kv_tokens(w)
    if observed_tokens is None:
        return None  # without the engine's KV usage a smaller tier could starve it; never guess (DESIGN §4)
    best: dict[str, object] | None = None
    for tier in TIERS:
        spec = ctx.catalogs.gpus.get(tier)
        if tier == w.gpu_model or spec is None or current_spec is None:
            continue
        priced = ctx.catalogs.prices.cheapest_gpu_hour(
            cloud=w.cloud, region=w.region, gpu_model=tier, capacity_type=w.capacity_type
        )
        if priced is None:
            continue
        gpu_hour, basis = priced
        for count in (1, 2, 4, 8):
            cost = count * gpu_hour
            if cost > current * (1 - _MIN_SAVING):
                break
            sized = fit_for(ctx, w, gpu_model=tier, gpu_count=count)
            if sized is None or not sized.fits or sized.margin < ctx.thresholds.tier_fit_margin:
                continue
            if sized.kv_pool_tokens < 2 * observed_tokens:
                continue
            # Decode is memory-bandwidth bound: scale today's utilisation by the bandwidth ratio.
            bandwidth_now = (current_spec.memory_bandwidth_gbs or 0) * w.gpus_per_replica
            bandwidth_new = (spec.memory_bandwidth_gbs or 0) * count
            projected = (w.metrics.gpu_util_p95 or 0) * bandwidth_now / bandwidth_new if bandwidth_new else 1.0
            if projected > _MAX_UTIL_AFTER:
                continue
            if best is None or cost < float(str(best["hourly_per_replica"])):
                best = {
                    "gpu_model": tier,
                    "gpu_count": count,
                    "hourly_per_replica": cost,
                    **price_evidence(basis),
                    "fit": sized.explain(),
                    "fit_margin": round(sized.margin, 3),
                    "fit_confidence": sized.confidence,
                    "projected_util_p95": round(projected, 3),
                }
            break
    return best


@register(FindingType.TIER_MISPLACEMENT, precedence=45)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if not observed(w) or m.gpu_util_p95 is None or m.gpu_util_p95 >= t.tier_util_p95:
            continue
        option = best_cheaper_tier(ctx, w)
        if option is None:
            continue
        current = w.gpus_per_replica * w.gpu_hour_usd
        hourly_new = float(str(option["hourly_per_replica"]))
        waste = monthly((current - hourly_new) * w.running_pods)
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.TIER_MISPLACEMENT,
                title=f"{w.model} fits {option['gpu_count']}×{option['gpu_model']}; runs on {w.gpus_per_replica}×{w.gpu_model}",
                explanation=(
                    f"{w.namespace}/{w.name} peaks at {pct(m.gpu_util_p95)} GPU utilisation on {w.gpus_per_replica}×{w.gpu_model} "
                    f"({usd(current)}/h per replica). On {option['gpu_count']}×{option['gpu_model']} ({usd(hourly_new)}/h) the "
                    f"model fits with {pct(float(str(option['fit_margin'])))} of the memory budget left for KV cache and a "
                    f"projected p95 of {pct(float(str(option['projected_util_p95'])))}. Moving {w.running_pods} replica(s) "
                    f"saves {usd(waste)}/month."
                ),
                evidence={
                    **base_evidence(w),
                    "gpu_util_p95": m.gpu_util_p95,
                    "proposed": option,
                    "fit_margin": option["fit_margin"],
                    "threshold_tier_fit_margin": t.tier_fit_margin,
                    "threshold_tier_util_p95": t.tier_util_p95,
                },
                monthly_waste_usd=waste,
            )
        )
    return found
