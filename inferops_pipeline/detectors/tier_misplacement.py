"""tier_misplacement: a lightly used model that fits, with headroom, on a cheaper GPU, fewer GPUs or a MIG slice."""

from __future__ import annotations

from typing import Any

from inferops_pipeline.catalog.gpus import GpuSpec, parse_mig_profile
from inferops_pipeline.catalog.prices import price_evidence
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
from inferops_pipeline.detectors.kv_cache_oversized import oversized_option
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType, Workload
from inferops_pipeline.sizing.memory import Fit

# Serving tiers worth proposing, cheapest first in most clouds; others in the catalog are niche.
TIERS = ("L4", "A10G", "A10", "L40S", "A100-40GB", "A100-80GB", "H100-80GB", "H200")
# A target must be rentable where the workload runs: a price from another region is no offer (issue 6).
_IN_REGION = {"exact", "override"}


def _check(
    ctx: DetectorContext, w: Workload, sized: Fit | None, *, bandwidth_new: float, tokens: float, need: float
) -> dict[str, Any] | None:
    """Fit margin and projected utilisation of one candidate layout, or None when it is no safe home."""
    t = ctx.thresholds
    if sized is None or not sized.fits or sized.kv_pool_tokens < t.tier_kv_headroom * tokens:
        return None
    margin = margin_after(sized, need)
    if margin < t.tier_fit_margin:
        return None
    current_spec = ctx.catalogs.gpus.get(w.gpu_model)
    # Decode is memory-bandwidth bound: scale today's utilisation by the bandwidth ratio.
    bandwidth_now = ((current_spec.memory_bandwidth_gbs or 0) if current_spec else 0) * w.gpus_per_replica
    projected = (w.metrics.gpu_util_p95 or 0) * bandwidth_now / bandwidth_new if bandwidth_new else 1.0
    if projected > t.tier_max_util_after:
        return None
    return {
        "fit": sized.explain(),
        "fit_margin": round(margin, 3),
        "fit_confidence": sized.confidence,
        "proposed_kv_pool_tokens": sized.kv_pool_tokens,
        "projected_util_p95": round(projected, 3),
        "_sized": sized,
    }


def _gpu_price(ctx: DetectorContext, w: Workload, spec: GpuSpec) -> tuple[float, str] | None:
    if spec.gpu_model == w.gpu_model:
        return w.gpu_hour_usd, w.price_basis
    priced = ctx.catalogs.prices.cheapest_gpu_hour(
        cloud=w.cloud, region=w.region, gpu_model=spec.gpu_model, capacity_type=w.capacity_type
    )
    if priced is None or price_evidence(priced[1])["price_basis"] not in _IN_REGION:
        return None
    return priced


def candidate_options(ctx: DetectorContext, w: Workload) -> list[dict[str, Any]]:
    """Every cheaper layout that holds the observed need: other GPU types, fewer GPUs, MIG slices."""
    tokens = peak_kv_tokens(w)
    need = kv_need_tokens(w)
    if tokens is None or need is None:
        return []  # without the engine's KV usage a smaller tier could starve it; never guess (DESIGN §4)
    limit = w.gpus_per_replica * w.gpu_hour_usd * (1 - ctx.thresholds.tier_min_saving)
    # Fewer GPUs of the same type, when the pool is idle, is kv_cache_oversized's finding (it runs first).
    same_type_owned = oversized_option(ctx, w) is not None
    tiers = TIERS if w.gpu_model in TIERS else (*TIERS, w.gpu_model)
    options: list[dict[str, Any]] = []
    for tier in tiers:
        spec = ctx.catalogs.gpus.get(tier)
        if spec is None:
            continue
        same = spec.gpu_model == w.gpu_model
        priced = _gpu_price(ctx, w, spec)
        if priced is None:
            continue
        gpu_hour, basis = priced
        counts = [c for c in (1, 2, 4, 8) if not same or (c < w.gpus_per_replica and not same_type_owned)]
        for count in counts:
            cost = count * gpu_hour
            if cost > limit:
                break
            sized = fit_for(ctx, w, gpu_model=tier, gpu_count=count)
            bandwidth = (spec.memory_bandwidth_gbs or 0) * count
            checked = _check(ctx, w, sized, bandwidth_new=bandwidth, tokens=tokens, need=need)
            if checked is not None:
                kind = "fewer_gpus" if same else "cheaper_gpu"
                options.append({"kind": kind, "gpu_model": tier, "gpu_count": count, "hourly_per_replica": cost,
                                **price_evidence(basis), **checked})  # fmt: skip
                break  # the smallest count that fits is the cheapest of this type
        # A MIG slice shows up to the engine as a GPU with the slice's memory (sizing_reference §0); it is priced
        # as its compute share of the card, which is how the fleet's own MIG nodes are costed.
        profiles = sorted((p for p in map(parse_mig_profile, spec.mig_profiles) if p is not None),
                          key=lambda p: (p.compute_slices, p.memory_gb))  # fmt: skip
        for profile in profiles if spec.mig_capable else []:
            share = ctx.catalogs.gpus.mig_share(tier, profile)
            cost = gpu_hour * share
            if share >= 1 or cost > limit:
                continue
            sized = fit_for(ctx, w, gpu_model=tier, gpu_count=1, memory_gib=float(profile.memory_gb))
            bandwidth = (spec.memory_bandwidth_gbs or 0) * share
            checked = _check(ctx, w, sized, bandwidth_new=bandwidth, tokens=tokens, need=need)
            if checked is not None:
                options.append({"kind": "mig_slice", "gpu_model": tier, "gpu_count": 1, "mig_profile": profile.name,
                                "mig_share": round(share, 4), "hourly_per_replica": cost,
                                **price_evidence(basis), **checked})  # fmt: skip
                break  # the smallest slice that fits is the cheapest on this card
    return options


def best_cheaper_tier(ctx: DetectorContext, w: Workload) -> dict[str, Any] | None:
    options = candidate_options(ctx, w)
    if not options:
        return None
    return min(options, key=lambda o: (float(o["hourly_per_replica"]), -float(o["fit_margin"])))


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
        sized: Fit = option.pop("_sized")
        current = w.gpus_per_replica * w.gpu_hour_usd
        hourly_new = float(option["hourly_per_replica"])
        waste = monthly((current - hourly_new) * w.running_pods)
        target = f"{option['gpu_count']}×{option['gpu_model']}"
        if option["kind"] == "mig_slice":
            target = f"a {option['mig_profile']} MIG slice of {option['gpu_model']}"
        concurrency = sizing_concurrency(w)
        need = kv_need_tokens(w) or 0.0
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.TIER_MISPLACEMENT,
                title=f"{w.model} fits {target}; runs on {w.gpus_per_replica}×{w.gpu_model}",
                explanation=(
                    f"{w.namespace}/{w.name} peaks at {pct(m.gpu_util_p95)} GPU utilisation on "
                    f"{w.gpus_per_replica}×{w.gpu_model} ({usd(current)}/h per replica). On {target} "
                    f"({usd(hourly_new)}/h, {option['price_basis']} price {option['price_key']}) the model and the "
                    f"observed need of {need:,.0f} KV tokens fit with {pct(float(option['fit_margin']))} of the memory "
                    f"budget left and a projected p95 of {pct(float(option['projected_util_p95']))}: {option['fit']}. "
                    f"Moving {w.running_pods} replica(s) saves {usd(waste)}/month."
                ),
                evidence={
                    **base_evidence(w),
                    "gpu_util_p95": m.gpu_util_p95,
                    "peak_kv_tokens": peak_kv_tokens(w),
                    "need_kv_tokens": need,
                    "concurrency": concurrency[0] if concurrency else None,
                    "concurrency_basis": concurrency[1] if concurrency else None,
                    "request_tokens_mean": m.request_tokens_mean,
                    "proposed": option,
                    "fit_margin": option["fit_margin"],
                    "threshold_tier_fit_margin": t.tier_fit_margin,
                    "threshold_tier_util_p95": t.tier_util_p95,
                    "thresholds": {
                        "tier_kv_headroom": t.tier_kv_headroom,
                        "tier_max_util_after": t.tier_max_util_after,
                        "tier_min_saving": t.tier_min_saving,
                    },
                },
                confidence=lowered(confidence_for(m.hours_covered, t), sized),
                monthly_waste_usd=waste,
            )
        )
    return found
