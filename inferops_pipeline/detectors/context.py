"""What every detector sees (workloads, nodes, catalogs, thresholds) and what it returns (a Candidate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
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
    # The window end; None = the end of assessment_date (UTC). Durations such as "pending for 3 h" count to it.
    as_of: datetime | None = None

    @property
    def now(self) -> datetime:
        return self.as_of or datetime.combine(self.assessment_date + timedelta(days=1), time(), tzinfo=UTC)


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
    # Finding types the object's owner exempted (`inferops.io/ignore`); the engine marks matches suppressed.
    ignore: tuple[str, ...] = ()


def confidence_for(hours: float, thresholds: Thresholds) -> Confidence:
    if hours >= thresholds.min_hours_for_high_confidence:
        return Confidence.HIGH
    if hours >= thresholds.min_hours_for_medium_confidence:
        return Confidence.MEDIUM
    return Confidence.LOW


_LOWER = {Confidence.HIGH: Confidence.MEDIUM, Confidence.MEDIUM: Confidence.LOW, Confidence.LOW: Confidence.LOW}


def data_confidence(
    hours: float, thresholds: Thresholds, signals: Mapping[str, bool]
) -> tuple[Confidence, dict[str, Any]]:
    """Confidence from data sufficiency: hours of metrics set the ceiling, each missing corroborating signal
    lowers it one step (a finding resting on one signal is never high). Returns the level and its evidence."""
    level = confidence_for(hours, thresholds)
    missing = sorted(name for name, present in signals.items() if not present)
    for _ in missing:
        level = _LOWER[level]
    return level, {
        "hours_of_metrics": hours,
        "signals_present": sorted(name for name, present in signals.items() if present),
        "signals_missing": missing,
    }


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
    fields.setdefault("ignore", w.ignore)
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


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 timestamp as Kubernetes writes it (…Z); None when absent or unreadable."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed and parsed.tzinfo is None else parsed


def fit_for(
    ctx: DetectorContext,
    w: Workload,
    *,
    gpu_model: str,
    gpu_count: int,
    memory_gib: float | None = None,
    max_model_len: int | None = None,
) -> Fit | None:
    """Engine memory budget of this workload's model on `gpu_count` × `gpu_model`; None when it cannot be sized.

    An unknown model is sized from the parameter count in its name (Fit.confidence "low"); on the workload's own
    GPUs the engine-reported KV pool (vllm:cache_config_info) replaces the estimate. `memory_gib` sizes a MIG slice
    of the card instead of the whole card; `max_model_len` a proposed context limit instead of the configured one.
    """
    arch = ctx.catalogs.models.resolve(w.model).arch
    spec = ctx.catalogs.gpus.get(gpu_model)
    if arch is None or spec is None or gpu_count < 1:
        return None
    current = spec.gpu_model == w.gpu_model and gpu_count == w.gpus_per_replica and memory_gib is None
    try:
        return fit(
            arch,
            gpu_memory_gib=memory_gib if memory_gib is not None else spec.memory_gib,
            gpu_count=gpu_count,
            gpu_memory_utilization=w.gpu_memory_utilization,  # None: the engine's default (vLLM 0.9, SGLang by TP)
            max_model_len=max_model_len if max_model_len is not None else w.max_model_len,
            quantization=w.quantization or quantization_from_name(w.model),
            kv_cache_dtype=w.kv_cache_dtype,
            measured_kv_pool_tokens=w.metrics.kv_pool_tokens if current else None,
            engine=w.runtime,
            # A multi-pod replica (LeaderWorkerSet) spreads pipeline stages over pods: each pod's GPUs hold 1/PP
            # of the layers. Within one pod, TP × PP GPUs already split weights and KV the same way as TP alone.
            pipeline_parallel=max(1, w.pipeline_parallel) if w.pods_per_replica > 1 else 1,
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


def sizing_concurrency(w: Workload) -> tuple[float, str] | None:
    """Sequences one replica holds at once for KV sizing, and which statistic gave it.

    p99 of requests running when collected; else the window's max, which bounds the p99 from above, so a fit
    proven at it is never optimistic.
    """
    m = w.metrics
    if m.requests_running_p99 is not None:
        return m.requests_running_p99, "requests_running p99"
    if m.requests_running_max is not None:
        return m.requests_running_max, "requests_running max (no p99 series)"
    return None


def kv_need_tokens(w: Workload) -> float | None:
    """KV tokens the observed traffic needs at once: the larger of the busiest KV moment and concurrency × length."""
    peak = peak_kv_tokens(w)
    if peak is None:
        return None
    concurrency = sizing_concurrency(w)
    length = w.metrics.request_tokens_mean
    if concurrency is None or length is None:
        return peak
    return max(peak, concurrency[0] * length)


def margin_after(sized: Fit, tokens: float) -> float:
    """Budget left after `tokens` of KV at the all-layer per-token cost, as a fraction of the budget (< 0: no fit)."""
    if sized.budget_gib_per_gpu <= 0:
        return -1.0
    need_gib = tokens * sized.kv_bytes_per_token / 1024**3
    return (sized.kv_pool_gib_per_gpu - need_gib) / sized.budget_gib_per_gpu


def lowered(confidence: Confidence, sized: Fit | None) -> Confidence:
    """One step less confident when the sizing rests on an architecture guessed from the model's name."""
    if sized is None or sized.confidence != "low":
        return confidence
    return Confidence.MEDIUM if confidence == Confidence.HIGH else Confidence.LOW
