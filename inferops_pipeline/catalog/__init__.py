"""Bundled reference data (GPU specs, instance prices, model architectures) and their lookups."""

from inferops_pipeline.catalog.gpus import GpuCatalog, GpuSpec, MigProfile, normalize_gpu_name, parse_mig_profile
from inferops_pipeline.catalog.models import (
    ModelArch,
    ModelCatalog,
    ModelMatch,
    params_from_name,
    quantization_from_name,
)
from inferops_pipeline.catalog.prices import (
    GpuShare,
    InstancePrice,
    PriceBasis,
    PriceCatalog,
    PriceOverride,
    PriceQuote,
    price_evidence,
)

__all__ = [
    "GpuCatalog",
    "GpuShare",
    "GpuSpec",
    "InstancePrice",
    "MigProfile",
    "ModelArch",
    "ModelCatalog",
    "ModelMatch",
    "PriceBasis",
    "PriceCatalog",
    "PriceOverride",
    "PriceQuote",
    "normalize_gpu_name",
    "params_from_name",
    "parse_mig_profile",
    "price_evidence",
    "quantization_from_name",
]
