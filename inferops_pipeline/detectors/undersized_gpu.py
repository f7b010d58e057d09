"""undersized_gpu: the model barely fits its GPUs (weights, KV pool) or saturates them with requests queueing."""

from __future__ import annotations

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    confidence_for,
    fit_for,
    lowered,
    observed,
    pct,
    sizing_concurrency,
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
        if w.running_pods == 0:
            continue
        why = []
        saturated = (
            observed(w)
            and (m.gpu_util_p95 or 0) >= t.undersized_util_p95
            and (m.requests_waiting_max or 0) >= t.kv_pressure_waiting
        )
        if saturated:
            why.append(
                f"GPU p95 utilisation {pct(m.gpu_util_p95)} with up to {m.requests_waiting_max or 0:.0f} requests waiting"
            )
        # Static sizing on today's GPUs (the engine-reported pool when there is one): no metrics needed.
        sized = fit_for(ctx, w, gpu_model=w.gpu_model, gpu_count=w.gpus_per_replica)
        weights_frac = sized.weights_gib_per_gpu / sized.usable_gib_per_gpu if sized else None
        heavy = weights_frac is not None and weights_frac > t.undersized_weights_frac
        if sized is not None and heavy:
            why.append(
                f"weights take {sized.weights_gib_per_gpu:.1f} of {sized.usable_gib_per_gpu:.1f} GiB per GPU "
                f"({pct(weights_frac)}, above {pct(t.undersized_weights_frac)})"
            )
        # Only a max-model-len the manifest states: a running engine with an unstated one has proven it fits.
        max_len_fits = sized.max_concurrent_at(w.max_model_len) if sized and w.max_model_len else None
        short_for_one = max_len_fits is not None and max_len_fits < 1
        if sized is not None and short_for_one and sized.max_model_len:
            why.append(
                f"the {sized.kv_pool_tokens:,}-token KV pool is smaller than one {sized.max_model_len:,}-token "
                f"request ({max_len_fits:.2f}×): vLLM refuses to start or truncates the context"
            )
        concurrency = sizing_concurrency(w)
        length = m.request_tokens_mean
        need = concurrency[0] * length if concurrency and length else None
        # Only an observed pool (or a sized one) against an observed need: a missing series claims nothing.
        short_for_traffic = sized is not None and need is not None and sized.kv_pool_tokens < need
        if sized is not None and short_for_traffic and concurrency and length:
            why.append(
                f"the {sized.kv_pool_tokens:,}-token KV pool is smaller than the observed need of {need:,.0f} tokens "
                f"({concurrency[0]:.0f} concurrent ({concurrency[1]}) × {length:,.0f} tokens per request)"
            )
        if not why:
            continue
        confidence = confidence_for(m.hours_covered, t)
        if heavy or short_for_one or short_for_traffic:
            confidence = lowered(confidence, sized)
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.UNDERSIZED_GPU,
                title=f"{w.name}: {w.gpus_per_replica}×{w.gpu_model} is too small for {w.model}",
                explanation=(
                    f"{w.namespace}/{w.name}: {'; '.join(why)}. The replica has no headroom: the next burst queues, "
                    f"gets preempted or fails with CUDA out-of-memory. Move to a larger tier, add tensor parallelism "
                    f"or a quantised checkpoint; {usd(w.monthly_cost_usd)}/month of serving is exposed."
                ),
                evidence={
                    **base_evidence(w),
                    "gpu_util_p95": m.gpu_util_p95,
                    "requests_waiting_max": m.requests_waiting_max,
                    "saturated": saturated,
                    "weights_frac": round(weights_frac, 4) if weights_frac is not None else None,
                    "kv_pool_tokens": sized.kv_pool_tokens if sized else None,
                    "kv_pool_source": sized.kv_pool_source if sized else None,
                    "max_model_len": sized.max_model_len if sized else None,
                    "concurrent_at_max_model_len": round(max_len_fits, 3) if max_len_fits is not None else None,
                    "concurrency": concurrency[0] if concurrency else None,
                    "concurrency_basis": concurrency[1] if concurrency else None,
                    "request_tokens_mean": length,
                    "need_kv_tokens": need,
                    "fit": sized.explain() if sized else None,
                    "fit_confidence": sized.confidence if sized else None,
                    "thresholds": {
                        "undersized_util_p95": t.undersized_util_p95,
                        "kv_pressure_waiting": t.kv_pressure_waiting,
                        "undersized_weights_frac": t.undersized_weights_frac,
                    },
                },
                confidence=confidence,
                monthly_at_risk_usd=w.monthly_cost_usd,
                floor_severity=Severity.MEDIUM,
            )
        )
    return found
