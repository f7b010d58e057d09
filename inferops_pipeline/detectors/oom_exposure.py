"""oom_exposure: replicas one spike away from an OOM (GPU or host memory headroom, OOM kills, engine-start risk)."""

from __future__ import annotations

from inferops_pipeline.detectors.context import (
    Candidate,
    DetectorContext,
    base_evidence,
    confidence_for,
    pct,
    usd,
    workload_candidate,
)
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import FindingType, Severity, Workload


def gpu_headroom(w: Workload) -> float | None:
    """Least framebuffer headroom (free ÷ total) seen on any of the workload's GPUs; None without DCGM memory."""
    m = w.metrics
    if m.gpu_samples == 0:
        return None
    if m.gpu_fb_free_min_frac is not None:
        return m.gpu_fb_free_min_frac
    # Older exporters without FB_FREE: used + reserved ≈ total, so 1 − used is an upper bound of the headroom.
    return 1.0 - m.gpu_fb_used_max_frac if m.gpu_fb_used_max_frac is not None else None


@register(FindingType.OOM_EXPOSURE, precedence=50)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        m = w.metrics
        if w.running_pods == 0:
            continue
        has_container = m.container_samples > 0
        ratio = (
            m.memory_ws_max_bytes / w.memory_limit_bytes
            if has_container and m.memory_ws_max_bytes and w.memory_limit_bytes
            else None
        )
        host_near = ratio is not None and ratio >= t.oom_memory_frac
        killed = has_container and (m.oom_killed or 0) >= 1
        headroom = gpu_headroom(w)
        # Rounded so a card at exactly 92% used reads as 8% headroom, not 7.9999…%.
        gpu_near = headroom is not None and round(headroom, 6) < t.oom_gpu_headroom_frac
        restarts = (m.restarts or 0) if has_container else 0.0
        # A CUDA OOM exits with reason Error, not OOMKilled: repeated restarts on a GPU with no headroom are it.
        cuda_oom = restarts >= t.oom_restarts and gpu_near and not killed
        util = w.gpu_memory_utilization
        start_risk = util is not None and util >= t.oom_engine_util_max
        if not (host_near or killed or gpu_near or start_risk):
            continue
        reasons = []
        if host_near and w.memory_limit_bytes:
            reasons.append(
                f"working set peaked at {pct(ratio)} of the {w.memory_limit_bytes / 2**30:.0f} GiB memory limit"
            )
        if killed:
            reasons.append("a container was OOMKilled inside the window")
        if gpu_near and headroom is not None:
            reasons.append(f"GPU memory came within {headroom * 100:.1f}% of the card (framebuffer headroom)")
        if cuda_oom:
            reasons.append(f"{restarts:.0f} restarts with no GPU headroom: CUDA out-of-memory exits")
        elif restarts:
            reasons.append(f"{restarts:.0f} restarts")
        if start_risk and util is not None:
            reasons.append(
                f"--gpu-memory-utilization {util:g} leaves {pct(1 - util)} of the card: any other process on the GPU "
                "fails vLLM's start-up free-memory check, and CUDA graphs have no room"
            )
        fix = []
        if host_near or killed:
            fix.append("raise the memory limit to working set + 25%")
        if gpu_near or cuda_oom:
            fix.append("lower --gpu-memory-utilization or --max-num-seqs so the framebuffer keeps its headroom")
        if start_risk:
            fix.append(f"set --gpu-memory-utilization below {t.oom_engine_util_max:g}")
        label = (
            "OOMKilled"
            if killed
            else "CUDA OOM restarts"
            if cuda_oom
            else f"memory at {pct(ratio)}"
            if host_near
            else f"GPU headroom {pct(headroom)}"
            if gpu_near
            else f"gpu-memory-utilization {util:g}"
        )
        # Data sufficiency: the GPU rules need DCGM hours, the host rules container series; a config-only
        # start-risk finding rests on the manifest and is as sure as the manifest.
        confidence = confidence_for(m.hours_covered, t)
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.OOM_EXPOSURE,
                title=f"{w.name}: {label} — {w.running_pods} replica(s) exposed",
                explanation=(
                    f"{w.namespace}/{w.name} ({w.model}): {'; '.join(reasons)}. {usd(w.monthly_cost_usd)}/month of GPUs "
                    f"sit behind these replicas; {'; '.join(fix)}."
                ),
                evidence={
                    **base_evidence(w),
                    "memory_ws_max_bytes": m.memory_ws_max_bytes,
                    "memory_limit_bytes": w.memory_limit_bytes,
                    "memory_ratio": ratio,
                    "oom_killed": m.oom_killed,
                    "restarts": m.restarts,
                    "gpu_fb_headroom": round(headroom, 4) if headroom is not None else None,
                    "gpu_memory_utilization": util,
                    "host_memory_exposed": host_near or killed,
                    "gpu_memory_exposed": gpu_near,
                    "cuda_oom_suspected": cuda_oom,
                    "engine_start_risk": start_risk,
                    "thresholds": {
                        "oom_memory_frac": t.oom_memory_frac,
                        "oom_restarts": t.oom_restarts,
                        "oom_gpu_headroom_frac": t.oom_gpu_headroom_frac,
                        "oom_engine_util_max": t.oom_engine_util_max,
                    },
                },
                confidence=confidence,
                monthly_at_risk_usd=w.monthly_cost_usd,
                floor_severity=Severity.HIGH if killed or cuda_oom else Severity.MEDIUM,
            )
        )
    return found
