"""Detector registry: each finding type is one module that registers a strategy here (pure).

Precedence — the one place it is documented. Detectors run in ascending order; engine.settle caps each budget
(a workload's monthly cost, or a node's) so a GPU-hour of waste is counted by the first finding that claims it,
and a budget's at-risk spend by the first risk finding only. Later findings keep what is left, or vanish when an
earlier one explains every dollar. Exempted findings (`inferops.io/ignore`) still claim their share, then
engine.suppress moves it into evidence.

    prec  type                         budget     claims
    10    idle_gpu                     workload   waste: every GPU of the running replicas
    20    overprovisioned_replicas     workload   waste: replicas above the headroom-sized count
    25    bursty_without_autoscaling   workload   waste: replicas an autoscaler would shed off-peak
    30    dark_capacity                node       waste: free GPUs on the node, less GPUs stranded by CPU/memory
    35    kv_cache_oversized           workload   waste
    40    cpu_gpu_imbalance            workload   waste: GPU time stalled on a starved CPU
                                                   (stranding: the node's free GPUs it strands, which
                                                   dark_capacity leaves to it)
    45    tier_misplacement            workload   waste
    50    oom_exposure                 workload   at risk
    55    kv_cache_pressure            workload   at risk
    60    undersized_gpu               workload   at risk
    80    pending_gpu_workload         workload   at risk: the pending replicas (shortage)
    81    gpu_fragmentation            workload   at risk: the pending replicas (free GPUs scattered); the
                                                   scattered GPUs' waste stays with dark_capacity on their nodes
    90    observability_gap            none       nothing (info)

Why this order: the most fundamental explanation wins — a workload doing nothing (idle) beats one doing too
little per replica (overprovisioned), which beats "too many replicas off-peak" (bursty); unallocated node
capacity is a pool problem, settled separately per node; shape fixes (KV pool, CPU, tier) only get what is left.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from inferops_pipeline.detectors.context import Candidate, DetectorContext
from inferops_pipeline.domain import FindingType

DetectFn = Callable[[DetectorContext], Sequence[Candidate]]


@dataclass(frozen=True, slots=True)
class Detector:
    type: FindingType
    # Lower runs first and claims a workload's GPU-hours first, so the most fundamental
    # explanation of waste (idle beats "too many replicas" beats "wrong tier") gets the dollars.
    precedence: int
    detect: DetectFn


_REGISTRY: dict[FindingType, Detector] = {}


def register(type_: FindingType, *, precedence: int) -> Callable[[DetectFn], DetectFn]:
    def wrap(fn: DetectFn) -> DetectFn:
        if type_ in _REGISTRY:
            raise ValueError(f"detector for {type_} registered twice")
        _REGISTRY[type_] = Detector(type_, precedence, fn)
        return fn

    return wrap


def detectors() -> list[Detector]:
    """All detector modules in this package, imported once, in precedence order."""
    import inferops_pipeline.detectors as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in {"registry", "context", "engine"}:
            importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(_REGISTRY.values(), key=lambda d: d.precedence)
