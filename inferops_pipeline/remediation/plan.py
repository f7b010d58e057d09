"""Finding → Recommendation: the strategic-merge patch, its inverse and the expected outcome (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from inferops_pipeline.domain import Finding, FindingType, Recommendation, Workload


def _containers(w: Workload, resources: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": w.container, "resources": resources}]}}}}


def _replicas(f: Finding, w: Workload) -> tuple[int, str] | None:
    if f.type == FindingType.IDLE_GPU:
        return 0, "scale the idle deployment to zero"
    target = f.evidence.get("replicas_needed") or f.evidence.get("average_replicas_with_autoscaling")
    if target is None:
        return None
    return int(target), f"scale from {w.replicas} to {int(target)} replicas"


def plan(f: Finding, w: Workload | None) -> Recommendation | None:
    """None when the finding has no safe, mechanical fix (it stays a finding for a human)."""
    if w is None or w.kind not in {"Deployment", "StatefulSet"} or f.suppressed:
        return None  # suppressed: the owner said (inferops.io/ignore) this is intended
    action: str
    patch: dict[str, Any]
    inverse: dict[str, Any]
    if f.type in {FindingType.IDLE_GPU, FindingType.OVERPROVISIONED_REPLICAS, FindingType.BURSTY_WITHOUT_AUTOSCALING}:
        chosen = _replicas(f, w)
        if chosen is None:
            return None
        target, why = chosen
        action, patch, inverse = "scale_replicas", {"spec": {"replicas": target}}, {"spec": {"replicas": w.replicas}}
        rationale = why
        risk = "fewer replicas: less headroom for traffic spikes"
    elif f.type == FindingType.CPU_GPU_IMBALANCE and w.cpu_limit:
        new_limit = max(w.cpu_limit * 2, math.ceil((f.evidence.get("cpu_usage_p95") or w.cpu_limit) * 2))
        action = "set_resources"
        patch = _containers(w, {"limits": {"cpu": f"{new_limit:g}"}})
        inverse = _containers(w, {"limits": {"cpu": f"{w.cpu_limit:g}"}})
        rationale = f"raise the CPU limit from {w.cpu_limit:g} to {new_limit:g} cores so the engine is not throttled"
        risk = "more CPU reserved on the node; rolling restart"
    # A GPU-headroom or engine-start OOM is not fixed by host memory: only the host-memory kind gets this patch.
    elif f.type == FindingType.OOM_EXPOSURE and w.memory_limit_bytes and f.evidence.get("host_memory_exposed", True):
        working_set = float(f.evidence.get("memory_ws_max_bytes") or w.memory_limit_bytes)
        new_gib = math.ceil(max(working_set * 1.25, w.memory_limit_bytes * 1.25) / 2**30)
        action = "set_resources"
        patch = _containers(w, {"limits": {"memory": f"{new_gib}Gi"}})
        inverse = _containers(w, {"limits": {"memory": f"{w.memory_limit_bytes / 2**30:g}Gi"}})
        rationale = f"raise the memory limit to {new_gib}Gi (working set + 25%)"
        risk = "removes the OOM-kill exposure; rolling restart"
    else:
        return None
    return Recommendation(
        recommendation_id=f"{f.finding_id}-{action}",
        finding_id=f.finding_id,
        assessment_date=f.assessment_date,
        action=action,
        cluster=w.cluster,
        namespace=w.namespace,
        target_kind=w.kind,
        target_name=w.name,
        patch=patch,
        inverse_patch=inverse,
        rationale=rationale,
        expected_monthly_savings_usd=f.monthly_waste_usd,
        expected_risk_change=risk,
    )


def plan_all(findings: Sequence[Finding], workloads: Sequence[Workload]) -> list[Recommendation]:
    by_key = {(w.cluster, w.namespace, w.kind, w.name): w for w in workloads}
    planned = (
        plan(f, by_key.get((f.cluster, f.namespace, f.workload_kind, f.workload)))
        for f in findings
        if f.status != "resolved"
    )
    return [r for r in planned if r is not None]
