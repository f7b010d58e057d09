"""idle_gpu: replicas holding GPUs that did essentially no work over the window."""

from __future__ import annotations

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    data_confidence,
    observed,
    pct,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType, Workload


def power_frac(ctx: DetectorContext, w: Workload) -> float | None:
    """Mean power as a fraction of the GPU's TDP; None without a power series or a catalog TDP."""
    spec = ctx.catalogs.gpus.get(w.gpu_model) if w.gpu_model else None
    tdp = spec.tdp_w if spec is not None else None
    if w.metrics.gpu_power_mean_w is None or not tdp:
        return None
    return w.metrics.gpu_power_mean_w / tdp


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
        power = power_frac(ctx, w)
        if power is not None and power >= t.idle_gpu_power_frac:
            # Drawing real power while the activity counter reads idle: the counter, not the GPU, is suspect.
            continue
        rps = m.request_rate_peak / w.running_pods if m.request_rate_peak is not None else None
        if rps is not None and rps > t.idle_gpu_max_rps_per_replica:
            continue  # it serves traffic, just too little per GPU: overprovisioned_replicas / tier judge that
        confidence, sufficiency = data_confidence(
            m.hours_covered, t, {"power": power is not None, "requests": rps is not None}
        )
        gpus = w.running_pods * w.gpus_per_replica
        corroboration = (f"power {pct(power)} of TDP" if power is not None else "no power/TDP to corroborate") + (
            f", peak {rps:.3f} req/s per replica" if rps is not None else ", no request metrics"
        )
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.IDLE_GPU,
                title=f"{w.model or w.name} holds {gpus}×{w.gpu_model} at {pct(m.gpu_util_mean)} mean utilisation",
                explanation=(
                    f"Over {m.hours_covered:.0f} h the GPUs of {w.namespace}/{w.name} averaged {pct(m.gpu_util_mean)} "
                    f"engine-active (p95 {pct(m.gpu_util_p95)}), below the idle noise floor "
                    f"({pct(t.idle_gpu_util)} mean, {pct(t.idle_gpu_util_p95)} p95); {corroboration}. "
                    f"The {usd(w.monthly_cost_usd)}/month it costs buys nothing; scale it to zero or remove it."
                ),
                evidence={
                    **base_evidence(w),
                    **sufficiency,
                    "gpu_util_mean": m.gpu_util_mean,
                    "gpu_util_p95": m.gpu_util_p95,
                    "gpu_power_mean_w": m.gpu_power_mean_w,
                    "gpu_power_frac_of_tdp": round(power, 4) if power is not None else None,
                    "request_rate_peak": m.request_rate_peak,
                    "request_rate_peak_per_replica": rps,
                    "idle_gpus": gpus,
                    "thresholds": {
                        "idle_gpu_util": t.idle_gpu_util,
                        "idle_gpu_util_p95": t.idle_gpu_util_p95,
                        "idle_gpu_power_frac": t.idle_gpu_power_frac,
                        "idle_gpu_max_rps_per_replica": t.idle_gpu_max_rps_per_replica,
                    },
                },
                confidence=confidence,
                monthly_waste_usd=w.monthly_cost_usd,
            )
        )
    return found
