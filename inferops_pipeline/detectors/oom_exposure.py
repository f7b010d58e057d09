"""oom_exposure: replicas one traffic spike away from an OOM kill (host memory vs limit, OOMKilled, restarts)."""

from __future__ import annotations

from inferops_pipeline.detectors.context import Candidate, DetectorContext, base_evidence, pct, usd, workload_candidate
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType, Severity


@register(FindingType.OOM_EXPOSURE, precedence=50)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if w.running_pods == 0 or m.container_samples == 0:
            continue
        ratio = m.memory_ws_max_bytes / w.memory_limit_bytes if m.memory_ws_max_bytes and w.memory_limit_bytes else None
        killed = (m.oom_killed or 0) >= 1
        crashloop = (m.restarts or 0) >= t.oom_restarts and (killed or (ratio or 0) >= t.oom_memory_frac)
        if not (killed or crashloop or (ratio is not None and ratio >= t.oom_memory_frac)):
            continue
        reasons = []
        if ratio is not None and w.memory_limit_bytes:
            reasons.append(
                f"working set peaked at {pct(ratio)} of the {w.memory_limit_bytes / 2**30:.0f} GiB memory limit"
            )
        if killed:
            reasons.append("a container was OOMKilled inside the window")
        if m.restarts:
            reasons.append(f"{m.restarts:.0f} restarts")
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.OOM_EXPOSURE,
                title=f"{w.name}: {'OOMKilled' if killed else 'memory at ' + pct(ratio)} — {w.running_pods} replica(s) exposed",
                explanation=(
                    f"{w.namespace}/{w.name} ({w.model}): {'; '.join(reasons)}. Engines hold tokenizer state, request "
                    f"buffers and CPU-offloaded KV on the host, so a burst of long prompts crosses the limit and the "
                    f"kernel kills the pod. {usd(w.monthly_cost_usd)}/month of GPUs sit behind this container; raise the "
                    "memory limit to working set + 25%."
                ),
                evidence={
                    **base_evidence(w),
                    "memory_ws_max_bytes": m.memory_ws_max_bytes,
                    "memory_limit_bytes": w.memory_limit_bytes,
                    "memory_ratio": ratio,
                    "oom_killed": m.oom_killed,
                    "restarts": m.restarts,
                    "thresholds": {"oom_memory_frac": t.oom_memory_frac, "oom_restarts": t.oom_restarts},
                },
                monthly_at_risk_usd=w.monthly_cost_usd,
                floor_severity=Severity.HIGH if killed else Severity.MEDIUM,
            )
        )
    return found
