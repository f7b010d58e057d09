"""Bundled reference data (GPU specs, instance prices, model architectures) and their lookups."""

from inferops_pipeline.catalog.gpus import GpuCatalog, GpuSpec, normalize_gpu_name
from inferops_pipeline.catalog.models import ModelArch, ModelCatalog, quantization_from_name
from inferops_pipeline.catalog.prices import InstancePrice, PriceCatalog, PriceOverride

__all__ = [
    "GpuCatalog",
    "GpuSpec",
    "InstancePrice",
    "ModelArch",
    "ModelCatalog",
    "PriceCatalog",
    "PriceOverride",
    "normalize_gpu_name",
    "quantization_from_name",
]
