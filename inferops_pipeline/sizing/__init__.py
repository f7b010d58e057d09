"""Pure sizing: weight memory, KV bytes per token/sequence, engine memory budget and fits-on-GPU."""

from inferops_pipeline.sizing.memory import (
    Fit,
    default_memory_fraction,
    fit,
    fits,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    native_quantization,
    visible_gib,
    weight_bytes,
    weight_bytes_per_gpu,
)

__all__ = [
    "Fit",
    "default_memory_fraction",
    "fit",
    "fits",
    "kv_bytes_per_sequence",
    "kv_bytes_per_token",
    "native_quantization",
    "visible_gib",
    "weight_bytes",
    "weight_bytes_per_gpu",
]
