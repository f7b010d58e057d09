"""observability_gap: GPU workloads the pipeline cannot judge because their metrics are missing."""

from __future__ import annotations

from inferops_pipeline.detectors.context import Candidate, DetectorContext, base_evidence, workload_candidate
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import Confidence, FindingType, Runtime, Severity


@register(FindingType.OBSERVABILITY_GAP, precedence=90)
def detect(ctx: DetectorContext) -> list[Candidate]:
    t = ctx.thresholds
    found = []
    for w in ctx.workloads:
        if w.running_pods == 0:
            continue
        m = w.metrics
        missing = []
        if m.gpu_samples == 0:
            missing.append("GPU metrics (DCGM exporter series for its GPUs)")
        elif m.hours_covered < t.observability_min_hours:
            # Present but too few samples: every finding would rest on a sliver of the window.
            missing.append(
                f"enough GPU metric samples (only {m.hours_covered:.1f} h of the window, "
                f"{t.observability_min_hours:g} h needed)"
            )
        if w.runtime != Runtime.UNKNOWN.value and m.serving_samples == 0:
            missing.append(f"{w.runtime} engine metrics (KV cache, queue)")
        if m.container_samples == 0:
            missing.append("container CPU/memory metrics (cAdvisor/kube-state-metrics)")
        if not missing:
            continue
        found.append(
            workload_candidate(
                w,
                ctx,
                type=FindingType.OBSERVABILITY_GAP,
                title=f"{w.name}: no {', '.join(part.split(' (')[0] for part in missing)}",
                explanation=(
                    f"{w.namespace}/{w.name} runs {w.running_pods}×{w.gpus_per_replica} {w.gpu_model} but the window has no "
                    f"{'; no '.join(missing)}. Without them no waste or risk can be judged, so none is claimed. Scrape the "
                    "engine's /metrics and make sure dcgm-exporter runs on its nodes."
                ),
                evidence={
                    **base_evidence(w),
                    "missing": missing,
                    "gpu_samples": m.gpu_samples,
                    "serving_samples": m.serving_samples,
                    "container_samples": m.container_samples,
                    "thresholds": {"observability_min_hours": t.observability_min_hours},
                },
                confidence=Confidence.HIGH,
                severity=Severity.INFO,
            )
        )
    return found
