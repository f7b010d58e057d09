"""What every detector sees (workloads, nodes, catalogs, thresholds) and what it returns (a Candidate)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelCatalog, quantization_from_name
from inferops_pipeline.catalog.prices import PriceCatalog, price_evidence
from inferops_pipeline.domain import HOURS_PER_MONTH, Confidence, FindingType, GpuNode, Severity, Workload
from inferops_pipeline.settings import Thresholds
from inferops_pipeline.sizing.memory import Fit, fit


@dataclass(frozen=True, slots=True)
class Catalogs:
    prices: PriceCatalog
    gpus: GpuCatalog
    models: ModelCatalog


@dataclass(frozen=True, slots=True)
class DetectorContext:
    assessment_date: date
    workloads: Sequence[Workload]
    nodes: Sequence[GpuNode]
    catalogs: Catalogs
    thresholds: Thresholds


@dataclass(frozen=True, slots=True)
class Candidate:
    """A finding before the engine settles dollars across detectors and assigns ids and history."""

    type: FindingType
    cluster: str
    namespace: str
    workload_kind: str
    workload: str
    title: str
    explanation: str
    evidence: dict[str, Any]
    confidence: Confidence
    monthly_waste_usd: float = 0.0
    monthly_at_risk_usd: float = 0.0
    model: str = ""
    gpu_model: str = ""
    owner: str = ""
    # Waste and risk are capped per budget key (a workload or a node), so fleet totals never double count.
    budget_key: str = ""
    budget_usd: float = 0.0
    severity: Severity | None = None
    floor_severity: Severity = field(default=Severity.LOW)


def confidence_for(hours: float, thresholds: Thresholds) -> Confidence:
    if hours >= thresholds.min_hours_for_high_confidence:
        return Confidence.HIGH
    if hours >= thresholds.min_hours_for_medium_confidence:
        return Confidence.MEDIUM
    return Confidence.LOW


def usd(amount: float) -> str:
    return f"${amount:,.0f}"


def pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.0f}%"


def monthly(hourly: float) -> float:
    return hourly * HOURS_PER_MONTH


def workload_candidate(w: Workload, ctx: DetectorContext, **fields: Any) -> Candidate:
    """A candidate about one workload, with identity, owner, confidence and budget filled in."""
    fields.setdefault("confidence", confidence_for(w.metrics.hours_covered, ctx.thresholds))
    fields.setdefault("budget_usd", w.monthly_cost_usd)
    return Candidate(
        cluster=w.cluster,
        namespace=w.namespace,
        workload_kind=w.kind,
        workload=w.name,
        model=w.model,
        gpu_model=w.gpu_model,
        owner=w.owner,
        budget_key=w.key,
        **fields,
    )


def base_evidence(w: Workload) -> dict[str, Any]:
    """The facts every workload finding carries, so its dollars trace to a price basis."""
    return {
        "replicas": w.replicas,
        "running_pods": w.running_pods,
        "gpus_per_replica": w.gpus_per_replica,
        "gpu_model": w.gpu_model,
        "gpu_hour_usd": round(w.gpu_hour_usd, 4),
        "monthly_cost_usd": round(w.monthly_cost_usd, 2),
        # price_basis (exact / other_region / gpu_model_median / override / unpriced), price_key (catalog row
        # cloud/region/instance_type/capacity_type or override file:line) and price_detail (source, snapshot, …).
        **price_evidence(w.price_basis),
        "hours_of_metrics": w.metrics.hours_covered,
    }


def observed(w: Workload) -> bool:
    """True when GPU metrics exist for the workload; detectors never infer waste from absence."""
    return w.running_pods > 0 and w.metrics.gpu_samples > 0 and w.metrics.gpu_util_mean is not None


def fit_for(ctx: DetectorContext, w: Workload, *, gpu_model: str, gpu_count: int) -> Fit | None:
    """Engine memory budget of this workload's model on `gpu_count` × `gpu_model`; None when it cannot be sized.

    An unknown model is sized from the parameter count in its name (Fit.confidence "low"); on the workload's own
    GPUs the engine-reported KV pool (vllm:cache_config_info) replaces the estimate.
    """
    arch = ctx.catalogs.models.resolve(w.model).arch
    spec = ctx.catalogs.gpus.get(gpu_model)
    if arch is None or spec is None or gpu_count < 1:
        return None
    current = spec.gpu_model == w.gpu_model and gpu_count == w.gpus_per_replica
    try:
        return fit(
            arch,
            gpu_memory_gib=spec.memory_gib,
            gpu_count=gpu_count,
            gpu_memory_utilization=w.gpu_memory_utilization,  # None: the engine's default (vLLM 0.9, SGLang by TP)
            max_model_len=w.max_model_len,
            quantization=w.quantization or quantization_from_name(w.model),
            kv_cache_dtype=w.kv_cache_dtype,
            measured_kv_pool_tokens=w.metrics.kv_pool_tokens if current else None,
            engine=w.runtime,
        )
    except ValueError:
        # A quantization or KV dtype the sizing tables do not know: no tier decision rather than a guessed one.
        return None


def peak_kv_tokens(w: Workload) -> float | None:
    """Tokens the busiest moment actually held in the KV cache, from the engine's own pool size."""
    m = w.metrics
    if m.kv_usage_max is None or m.kv_pool_tokens is None:
        return None
    return m.kv_usage_max * m.kv_pool_tokens
