"""observability_gap: GPU workloads the pipeline cannot judge because their metrics are missing."""

from __future__ import annotations

from inferops_pipeline.detectors.context import Candidate, DetectorContext, base_evidence, workload_candidate
from inferops_pipeline.detectors.registry import register
from inferops_pipeline.domain import Confidence, FindingType, Runtime, Severity


@register(FindingType.OBSERVABILITY_GAP, precedence=90)
def detect(ctx: DetectorContext) -> list[Candidate]:
    found = []
    for w in ctx.workloads:
        if w.running_pods == 0:
            continue
        m = w.metrics
        missing = []
        if m.gpu_samples == 0:
            missing.append("GPU metrics (DCGM exporter series for its GPUs)")
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
                evidence={**base_evidence(w), "missing": missing},
                confidence=Confidence.HIGH,
                severity=Severity.INFO,
            )
        )
    return found
