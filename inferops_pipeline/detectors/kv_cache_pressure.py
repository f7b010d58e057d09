"""kv_cache_pressure: the engine's KV cache is full, so requests queue and get preempted."""

from __future__ import annotations

from inferops_pipeline.detectors.context import Candidate, DetectorContext, base_evidence, pct, usd, workload_candidate
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType, Severity


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
                    f"burnt twice and latency spikes. Raise --gpu-memory-utilization, use an fp8 KV cache, lower "
                    f"--max-num-seqs, or add a replica. {usd(w.monthly_cost_usd)}/month of serving is degraded."
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
                    "thresholds": {
                        "kv_pressure_p95": t.kv_pressure_p95,
                        "kv_pressure_preemptions": t.kv_pressure_preemptions,
                        "kv_pressure_waiting": t.kv_pressure_waiting,
                    },
                },
                monthly_at_risk_usd=w.monthly_cost_usd,
                floor_severity=Severity.MEDIUM,
            )
        )
    return found
