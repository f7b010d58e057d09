"""Detector registry: each finding type is one module that registers a strategy here (pure)."""

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
