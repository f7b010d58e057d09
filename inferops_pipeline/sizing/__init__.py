"""Pure sizing: weight memory, KV bytes per token/sequence, engine memory budget and fits-on-GPU."""

from inferops_pipeline.sizing.memory import (
    Fit,
    fit,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    native_quantization,
    visible_gib,
    weight_bytes,
)

__all__ = [
    "Fit",
    "fit",
    "kv_bytes_per_sequence",
    "kv_bytes_per_token",
    "native_quantization",
    "visible_gib",
    "weight_bytes",
]
