"""Sizing against sizing_reference.md: KV bytes per token (§2), weight memory (§1) and the worked examples (§4)."""

from __future__ import annotations

import pytest

from inferops_pipeline.catalog.models import ModelArch, ModelCatalog
from inferops_pipeline.sizing.memory import (
    GIB,
    fit,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    visible_gib,
    weight_bytes,
)

KIB = 1024


@pytest.fixture(scope="module")
def models() -> ModelCatalog:
    return ModelCatalog.load_bundled()


def _arch(models: ModelCatalog, name: str) -> ModelArch:
    arch = models.get(name)
    assert arch is not None, name
    return arch


@pytest.mark.parametrize(
    ("name", "kib"),
    [  # sizing_reference §2 table (bf16)
        ("meta-llama/Llama-2-7b-hf", 512),
        ("CohereForAI/c4ai-command-r-v01", 1280),
        ("meta-llama/Llama-3.1-8B-Instruct", 128),
        ("mistralai/Mistral-7B-Instruct-v0.3", 128),
        ("Qwen/Qwen2.5-7B-Instruct", 56),
        ("Qwen/Qwen3-8B", 144),
        ("meta-llama/Llama-3.1-70B-Instruct", 320),
        ("Qwen/Qwen2.5-72B-Instruct", 320),
        ("meta-llama/Llama-3.1-405B-Instruct", 504),
        ("Qwen/Qwen3-235B-A22B", 188),
        ("tiiuae/falcon-7b", 8),
    ],
)
def test_kv_bytes_per_token_reference_table(models: ModelCatalog, name: str, kib: int) -> None:
    assert kv_bytes_per_token(_arch(models, name)) == kib * KIB


def test_kv_tensor_parallel_divides_heads_until_replicated(models: ModelCatalog) -> None:
    l70 = _arch(models, "meta-llama/Llama-3.1-70B-Instruct")
    assert kv_bytes_per_token(l70, tensor_parallel=4) == 80 * KIB  # §4 example 2
    assert kv_bytes_per_token(l70, tensor_parallel=8) == 40 * KIB
    # TP beyond the KV-head count replicates heads: per-GPU cost stops shrinking
    assert kv_bytes_per_token(l70, tensor_parallel=16) == 40 * KIB


def test_kv_fp8_halves(models: ModelCatalog) -> None:
    l8 = _arch(models, "meta-llama/Llama-3.1-8B-Instruct")
    assert kv_bytes_per_token(l8, kv_cache_dtype="fp8") == 64 * KIB
    assert kv_bytes_per_token(l8, kv_cache_dtype="fp8_e5m2") == 64 * KIB
    with pytest.raises(ValueError, match="kv_cache_dtype"):
        kv_bytes_per_token(l8, kv_cache_dtype="int3")


def test_mla_kv_is_latent_and_not_divided_by_tp(models: ModelCatalog) -> None:
    v3 = _arch(models, "deepseek-ai/DeepSeek-V3")
    assert kv_bytes_per_token(v3) == 70_272  # 61 × (512 + 64) × 2
    assert kv_bytes_per_token(v3, tensor_parallel=8) == 70_272
    lite = _arch(models, "deepseek-ai/DeepSeek-V2-Lite")
    assert kv_bytes_per_token(lite) / KIB == pytest.approx(30.4, abs=0.05)


def test_sliding_window_sequence_bytes(models: ModelCatalog) -> None:
    g3 = _arch(models, "google/gemma-3-27b-it")
    # §2: 8192 × 80 KiB + 1024 × 416 KiB ≈ 1.03 GiB, against 3.9 GiB all-global
    seq = kv_bytes_per_sequence(g3, context_tokens=8192)
    assert seq == 8192 * 80 * KIB + 1024 * 416 * KIB
    assert seq / GIB == pytest.approx(1.03, abs=0.01)
    assert kv_bytes_per_token(g3) * 8192 / GIB == pytest.approx(3.875, abs=0.01)
    # Below the window every layer holds the whole context
    assert kv_bytes_per_sequence(g3, context_tokens=512) == 512 * kv_bytes_per_token(g3)
    # Plain +swa (Mistral-7B-v0.1, W=4096): a 32k sequence costs only the window
    m7 = _arch(models, "mistralai/Mistral-7B-v0.1")
    assert kv_bytes_per_sequence(m7, context_tokens=32768) == 4096 * kv_bytes_per_token(m7)
    # Full attention: linear in context
    l8 = _arch(models, "meta-llama/Llama-3.1-8B-Instruct")
    assert kv_bytes_per_sequence(l8, context_tokens=8192) == 8192 * 128 * KIB


def test_weight_bytes(models: ModelCatalog) -> None:
    l8 = _arch(models, "meta-llama/Llama-3.1-8B-Instruct")
    assert weight_bytes(l8) / GIB == pytest.approx(14.96, abs=0.01)  # §4 example 1
    # §1: 8B Llama AWQ ≈ 7 B × 0.53 + 2.1 GB ≈ 5.8 GB ≈ 5.4 GiB
    assert weight_bytes(l8, quantization="awq") / GIB == pytest.approx(5.4, rel=0.03)
    # §1: Llama-3.3-70B-FP8-dynamic measured 67.72 GiB on one H100
    l33 = _arch(models, "meta-llama/Llama-3.3-70B-Instruct")
    assert weight_bytes(l33, quantization="fp8") / GIB == pytest.approx(67.72, rel=0.02)
    # DeepSeek-V3 ships FP8 weights whatever torch_dtype says
    v3 = _arch(models, "deepseek-ai/DeepSeek-V3")
    assert weight_bytes(v3) == weight_bytes(v3, quantization="fp8")
    assert weight_bytes(v3) / GIB == pytest.approx(671e9 / GIB, rel=0.01)
    # gpt-oss MXFP4: vLLM measured 13.47 / 64.38 GiB, "a little above the pure formula"
    assert weight_bytes(_arch(models, "openai/gpt-oss-20b")) / GIB == pytest.approx(13.47, rel=0.08)
    assert weight_bytes(_arch(models, "openai/gpt-oss-120b")) / GIB == pytest.approx(64.38, rel=0.08)
    with pytest.raises(ValueError, match="quantization"):
        weight_bytes(l8, quantization="bitnet")


def test_visible_memory() -> None:
    assert visible_gib(24) == 22.04
    assert visible_gib(80) == 79.18
    assert visible_gib(48) == pytest.approx(44.99, abs=0.01)
    assert visible_gib(40) == pytest.approx(38.8)  # 0.97 × nominal where §0 has no measurement


def test_worked_example_1_llama8b_on_l4(models: ModelCatalog) -> None:
    l8 = _arch(models, "meta-llama/Llama-3.1-8B-Instruct")
    f = fit(l8, gpu_memory_gib=24, gpu_count=1)
    assert f.usable_gib_per_gpu == 22.04
    assert f.budget_gib_per_gpu == pytest.approx(19.84, abs=0.01)
    assert f.weights_gib_per_gpu == pytest.approx(14.96, abs=0.01)
    assert f.overhead_gib_per_gpu == pytest.approx(1.55)
    assert f.kv_pool_gib_per_gpu == pytest.approx(3.33, rel=0.02)
    assert f.kv_pool_tokens == pytest.approx(27_264, rel=0.02)
    assert f.max_concurrent_at(8192) == pytest.approx(3.3, rel=0.03)
    # Default max_model_len 131,072 needs 16 GiB: the admission check fails.
    assert f.max_model_len == 131_072 and not f.fits
    assert f.sequence_gib(131_072) == pytest.approx(16.0)
    assert "does NOT fit" in f.explain()
    assert fit(l8, gpu_memory_gib=24, gpu_count=1, max_model_len=16_384).fits
    # fp8 KV doubles the pool to ≈54.5k tokens (≈ 6.7 × 8k)
    f8 = fit(l8, gpu_memory_gib=24, gpu_count=1, kv_cache_dtype="fp8", max_model_len=8192)
    assert f8.kv_pool_tokens == pytest.approx(54_500, rel=0.02)
    assert f8.max_concurrent_at(8192) == pytest.approx(6.7, rel=0.03)


def test_worked_example_2_llama70b_tp4_h100(models: ModelCatalog) -> None:
    l70 = _arch(models, "meta-llama/Llama-3.1-70B-Instruct")
    f = fit(l70, gpu_memory_gib=80, gpu_count=4)
    assert f.budget_gib_per_gpu == pytest.approx(71.26, abs=0.01)
    assert f.weights_gib_per_gpu == pytest.approx(32.85, abs=0.01)
    assert f.activation_gib_per_gpu == pytest.approx(4.84)
    assert f.non_torch_gib_per_gpu == pytest.approx(0.55)
    assert f.kv_pool_gib_per_gpu == pytest.approx(33.0, rel=0.02)
    assert f.kv_pool_tokens == pytest.approx(432_768, rel=0.02)
    assert f.max_concurrent_at(8192) == pytest.approx(52.8, rel=0.02)
    assert f.fits and f.max_concurrent_at(131_072) == pytest.approx(3.3, rel=0.03)
    assert f.margin == pytest.approx(33.0 / 71.26, rel=0.02)


def test_worked_example_3_qwen7b_a10g(models: ModelCatalog) -> None:
    q7 = _arch(models, "Qwen/Qwen2.5-7B-Instruct")
    f = fit(q7, gpu_memory_gib=24, gpu_count=1, visible_gib_per_gpu=22.0)
    assert f.budget_gib_per_gpu == pytest.approx(19.8)
    assert f.weights_gib_per_gpu == pytest.approx(14.19, abs=0.01)
    assert f.kv_pool_gib_per_gpu == pytest.approx(4.06, rel=0.02)
    assert f.kv_pool_tokens == pytest.approx(76_096, rel=0.02)
    assert f.max_concurrent_at(8192) == pytest.approx(9.3, rel=0.02)
    assert f.fits and f.max_model_len == 32_768
    assert f.sequence_gib(32_768) == pytest.approx(1.75)
    # Default visible memory for a 24 GiB card lands within a few percent too.
    assert fit(q7, gpu_memory_gib=24, gpu_count=1).kv_pool_tokens == pytest.approx(76_096, rel=0.03)


def test_does_not_fit_when_weights_exceed_budget(models: ModelCatalog) -> None:
    l70 = _arch(models, "meta-llama/Llama-3.1-70B-Instruct")
    f = fit(l70, gpu_memory_gib=80, gpu_count=1, max_model_len=8192)
    assert f.kv_pool_gib_per_gpu < 0 and f.margin < 0
    assert not f.fits and f.kv_pool_tokens == 0 and f.max_concurrent_at(8192) == 0
    assert "does NOT fit" in f.explain()
    # …but the FP8 checkpoint does on an H100 with a short context
    assert not fit(l70, gpu_memory_gib=80, gpu_count=1, quantization="fp8", max_model_len=8192).fits
    assert fit(l70, gpu_memory_gib=141, gpu_count=1, quantization="fp8", max_model_len=8192).fits


def test_fit_overrides_and_validation(models: ModelCatalog) -> None:
    l8 = _arch(models, "meta-llama/Llama-3.1-8B-Instruct")
    f = fit(l8, gpu_memory_gib=24, gpu_count=1, activation_gib=2.0, non_torch_gib=0.0, gpu_memory_utilization=0.95)
    assert f.overhead_gib_per_gpu == 2.0
    assert f.budget_gib_per_gpu == pytest.approx(22.04 * 0.95)
    assert "\n" not in f.explain()
    with pytest.raises(ValueError):
        fit(l8, gpu_memory_gib=24, gpu_count=0)
    # Unknown context length: only a positive pool is required
    cr = _arch(models, "CohereForAI/c4ai-command-r-plus")
    g = fit(cr, gpu_memory_gib=80, gpu_count=4)
    assert g.max_model_len is None and g.fits
