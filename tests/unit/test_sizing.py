"""Sizing against sizing_reference.md: KV bytes per token (§2), weight memory (§1), engine budgets and the worked
examples (§4) within 2%, plus MLA, sliding windows, quantised checkpoints, parallelism and measured pools."""

from __future__ import annotations

from typing import Any

import pytest

from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelArch, ModelCatalog, quantization_from_name
from inferops_pipeline.sizing.memory import (
    GIB,
    default_memory_fraction,
    fit,
    fits,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    visible_gib,
    weight_bytes,
    weight_bytes_per_gpu,
)

KIB = 1024
L8 = "meta-llama/Llama-3.1-8B-Instruct"
L70 = "meta-llama/Llama-3.1-70B-Instruct"
Q7 = "Qwen/Qwen2.5-7B-Instruct"


@pytest.fixture(scope="module")
def models() -> ModelCatalog:
    return ModelCatalog.load_bundled()


def _arch(models: ModelCatalog, name: str) -> ModelArch:
    arch = models.get(name)
    assert arch is not None, name
    return arch


# --- §4 worked examples, every figure within 2% -----------------------------------------------------------------

WORKED_EXAMPLES: list[tuple[str, str, dict[str, Any], dict[str, float]]] = [
    (
        "(1) Llama-3.1-8B bf16 on one L4",
        L8,
        dict(gpu_memory_gib=24, gpu_count=1),
        dict(
            usable_gib_per_gpu=22.04,
            budget_gib_per_gpu=19.84,
            weights_gib_per_gpu=14.96,
            overhead_gib_per_gpu=1.55,
            kv_pool_gib_per_gpu=3.33,
            kv_bytes_per_token=128 * KIB,
            kv_pool_tokens=27_264,
            concurrent_8k=3.3,
            sequence_gib_131072=16.0,
        ),
    ),
    (
        "(2) Llama-3.1-70B bf16 on 4 × H100-80GB, TP=4",
        L70,
        dict(gpu_memory_gib=80, gpu_count=4),
        dict(
            usable_gib_per_gpu=79.18,
            budget_gib_per_gpu=71.26,
            weights_gib_per_gpu=32.85,
            activation_gib_per_gpu=4.84,
            non_torch_gib_per_gpu=0.55,
            kv_pool_gib_per_gpu=33.0,
            kv_bytes_per_token=80 * KIB,
            kv_pool_tokens=432_768,
            concurrent_8k=52.8,
            concurrent_131072=3.3,
        ),
    ),
    (
        "(3) Qwen2.5-7B bf16 on one A10G (22.0 GiB visible, as assumed)",
        Q7,
        dict(gpu_memory_gib=24, gpu_count=1, visible_gib_per_gpu=22.0),
        dict(
            budget_gib_per_gpu=19.8,
            weights_gib_per_gpu=14.19,
            kv_pool_gib_per_gpu=4.06,
            kv_bytes_per_token=56 * KIB,
            kv_pool_tokens=76_096,
            concurrent_8k=9.3,
            sequence_gib_32768=1.75,
        ),
    ),
    (
        "(3') Qwen2.5-7B on one A10G with the default visible memory of a 24 GB card",
        Q7,
        dict(gpu_memory_gib=24, gpu_count=1),
        dict(kv_pool_tokens=76_096, concurrent_8k=9.3),
    ),
    (
        "(1, fp8 KV) Llama-3.1-8B on an L4 with --kv-cache-dtype fp8: ≈ 54.5k tokens, 6.7 × 8k",
        L8,
        dict(gpu_memory_gib=24, gpu_count=1, kv_cache_dtype="fp8"),
        dict(kv_bytes_per_token=64 * KIB, kv_pool_tokens=54_500, concurrent_8k=6.7),
    ),
]


def _measure(f: Any, what: str) -> float:
    if what.startswith("concurrent_"):
        return float(f.max_concurrent_at(int(what.removeprefix("concurrent_").replace("8k", "8192"))))
    if what.startswith("sequence_gib_"):
        return float(f.sequence_gib(int(what.removeprefix("sequence_gib_"))))
    return float(getattr(f, what))


@pytest.mark.parametrize(
    ("label", "model", "setup", "expected"), WORKED_EXAMPLES, ids=[e[0][:4] + e[0][-12:] for e in WORKED_EXAMPLES]
)
def test_worked_examples_within_two_percent(
    models: ModelCatalog, label: str, model: str, setup: dict[str, Any], expected: dict[str, float]
) -> None:
    f = fit(_arch(models, model), **setup)
    for what, value in expected.items():
        assert _measure(f, what) == pytest.approx(value, rel=0.02), f"{label}: {what}"


def test_worked_example_startup_verdicts(models: ModelCatalog) -> None:
    l8 = _arch(models, L8)
    # (1): the default max_model_len of 131,072 needs 16 GiB — the admission check fails; ≤ ~27k starts.
    f = fit(l8, gpu_memory_gib=24, gpu_count=1)
    assert f.max_model_len == 131_072 and not f.fits and "does NOT fit" in f.explain()
    assert fit(l8, gpu_memory_gib=24, gpu_count=1, max_model_len=16_384).fits
    # (2): the full 131k context fits; (3): Qwen's 32k default fits.
    assert fit(_arch(models, L70), gpu_memory_gib=80, gpu_count=4).fits
    q7 = fit(_arch(models, Q7), gpu_memory_gib=24, gpu_count=1, visible_gib_per_gpu=22.0)
    assert q7.fits and q7.max_model_len == 32_768
    # §4 comparison: Qwen2.5-7B serves ≈ 2.8× more 8k sessions than Llama-3.1-8B on a same-size GPU.
    l8_same = fit(l8, gpu_memory_gib=24, gpu_count=1, visible_gib_per_gpu=22.0)
    assert q7.max_concurrent_at(8192) / l8_same.max_concurrent_at(8192) == pytest.approx(2.8, rel=0.05)


# --- §2 KV bytes per token --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kib"),
    [  # sizing_reference §2 table (bf16)
        ("meta-llama/Llama-2-7b-hf", 512),
        ("CohereForAI/c4ai-command-r-v01", 1280),
        (L8, 128),
        ("mistralai/Mistral-7B-Instruct-v0.3", 128),
        (Q7, 56),
        ("Qwen/Qwen3-8B", 144),
        (L70, 320),
        ("Qwen/Qwen2.5-72B-Instruct", 320),
        ("meta-llama/Llama-3.1-405B-Instruct", 504),
        ("Qwen/Qwen3-235B-A22B", 188),
        ("tiiuae/falcon-7b", 8),  # MQA
    ],
)
def test_kv_bytes_per_token_reference_table(models: ModelCatalog, name: str, kib: int) -> None:
    assert kv_bytes_per_token(_arch(models, name)) == kib * KIB


@pytest.mark.parametrize(
    ("name", "tp", "pp", "kib"),
    [
        (L70, 1, 1, 320),
        (L70, 4, 1, 80),  # §4 example 2: 8 KV heads / 4
        (L70, 8, 1, 40),
        (L70, 16, 1, 40),  # TP beyond the KV-head count replicates heads: per-GPU cost stops shrinking
        (L70, 2, 2, 80),  # PP halves the layers each GPU holds
        (L70, 1, 3, 320 * 27 / 80),  # 80 layers over 3 stages: the busiest holds 27
        ("tiiuae/falcon-7b", 4, 1, 8),  # MQA: one head, replicated
        ("deepseek-ai/DeepSeek-V3", 1, 1, 70_272 / KIB),  # MLA: 61 × (512 + 64) × 2
        ("deepseek-ai/DeepSeek-V3", 8, 1, 70_272 / KIB),  # MLA is NOT divided by TP
        ("deepseek-ai/DeepSeek-V3", 8, 2, 70_272 / KIB * 31 / 61),  # …but PP still splits its layers
    ],
)
def test_kv_bytes_per_token_under_parallelism(models: ModelCatalog, name: str, tp: int, pp: int, kib: float) -> None:
    assert kv_bytes_per_token(_arch(models, name), tensor_parallel=tp, pipeline_parallel=pp) == pytest.approx(kib * KIB)


def test_mla_lite_and_kv_dtypes(models: ModelCatalog) -> None:
    lite = _arch(models, "deepseek-ai/DeepSeek-V2-Lite")
    assert kv_bytes_per_token(lite) / KIB == pytest.approx(30.4, abs=0.05)
    l8 = _arch(models, L8)
    assert kv_bytes_per_token(l8, kv_cache_dtype="fp8") == 64 * KIB
    assert kv_bytes_per_token(l8, kv_cache_dtype="fp8_e5m2") == 64 * KIB
    with pytest.raises(ValueError, match="kv_cache_dtype"):
        kv_bytes_per_token(l8, kv_cache_dtype="int3")
    with pytest.raises(ValueError, match="pipeline_parallel"):
        kv_bytes_per_token(l8, pipeline_parallel=0)


@pytest.mark.parametrize(
    ("name", "context", "expected_bytes"),
    [
        # §2 Gemma-3-27B: 8192 × 80 KiB + 1024 × 416 KiB ≈ 1.03 GiB (3.9 GiB if every layer were global)
        ("google/gemma-3-27b-it", 8192, 8192 * 80 * KIB + 1024 * 416 * KIB),
        # below the window every layer holds the whole context
        ("google/gemma-3-27b-it", 512, 512 * (80 + 416) * KIB),
        # plain +swa (Mistral-7B-v0.1, W=4096): a 32k sequence costs only the window
        ("mistralai/Mistral-7B-v0.1", 32768, 4096 * 128 * KIB),
        # gpt-oss: half the layers use W=128
        ("openai/gpt-oss-20b", 8192, None),
        # full attention: linear in context
        (L8, 8192, 8192 * 128 * KIB),
    ],
)
def test_sliding_window_sequence_bytes(
    models: ModelCatalog, name: str, context: int, expected_bytes: float | None
) -> None:
    arch = _arch(models, name)
    seq = kv_bytes_per_sequence(arch, context_tokens=context)
    if expected_bytes is not None:
        assert seq == expected_bytes
    else:
        full = kv_bytes_per_token(arch) * context
        per_layer = kv_bytes_per_token(arch) / arch.num_hidden_layers
        local = arch.sliding_layers
        assert local == arch.num_hidden_layers // 2
        assert seq == full - per_layer * local * (context - arch.sliding_window)  # type: ignore[operator]


def test_gemma3_sliding_window_headline(models: ModelCatalog) -> None:
    g3 = _arch(models, "google/gemma-3-27b-it")
    assert kv_bytes_per_sequence(g3, context_tokens=8192) / GIB == pytest.approx(1.03, abs=0.01)
    assert kv_bytes_per_token(g3) * 8192 / GIB == pytest.approx(3.875, abs=0.01)


# --- §1 weight memory, quantised checkpoints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quantization", "gib", "rel"),
    [
        (L8, "", 14.96, 0.01),  # §4 example 1
        (Q7, "", 14.19, 0.01),  # §4 example 3
        (L8, "awq", 5.4, 0.03),  # §1: 7 B × 0.53 + 2.1 GB ≈ 5.4 GiB, not 8 × 0.5
        (L8, "gptq", 5.4, 0.03),
        ("meta-llama/Llama-3.3-70B-Instruct", "fp8", 67.72, 0.02),  # §1: measured on one H100
        ("deepseek-ai/DeepSeek-V3", "", 671e9 / GIB, 0.01),  # ships FP8 whatever torch_dtype says
        ("openai/gpt-oss-20b", "", 13.47, 0.08),  # MXFP4 experts; vLLM measured "a little above the formula"
        ("openai/gpt-oss-120b", "", 64.38, 0.08),
    ],
)
def test_weight_bytes(models: ModelCatalog, name: str, quantization: str, gib: float, rel: float) -> None:
    assert weight_bytes(_arch(models, name), quantization=quantization) / GIB == pytest.approx(gib, rel=rel)


@pytest.mark.parametrize(
    ("served", "base", "gib"),
    [  # the served name carries the checkpoint format; sizing follows it
        ("Qwen/Qwen2.5-7B-Instruct-AWQ", Q7, None),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", Q7, None),
        ("RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic", "meta-llama/Llama-3.3-70B-Instruct", 67.72),
        ("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", L70, None),
    ],
)
def test_quantised_checkpoints_from_served_names(
    models: ModelCatalog, served: str, base: str, gib: float | None
) -> None:
    arch = models.get(served)
    assert arch is not None and arch.hf_repo_id == base
    quant = quantization_from_name(served)
    quantised = weight_bytes(arch, quantization=quant)
    full = weight_bytes(arch)
    if gib is not None:
        assert quantised / GIB == pytest.approx(gib, rel=0.02)
    else:  # int4 families: a bit over a quarter of bf16 (embeddings and lm_head stay 16-bit)
        assert 0.27 < quantised / full < 0.40
    with pytest.raises(ValueError, match="quantization"):
        weight_bytes(arch, quantization="bitnet")


def test_weights_per_gpu_split_by_tp_and_pp(models: ModelCatalog) -> None:
    l70 = _arch(models, L70)
    whole = weight_bytes(l70)
    assert weight_bytes_per_gpu(l70, tensor_parallel=4) == pytest.approx(whole / 4)
    assert weight_bytes_per_gpu(l70, tensor_parallel=2, pipeline_parallel=2) == pytest.approx(whole / 4)
    with pytest.raises(ValueError):
        weight_bytes_per_gpu(l70, tensor_parallel=0)


# --- engine budgets ---------------------------------------------------------------------------------------------


def test_visible_memory() -> None:
    assert visible_gib(24) == 22.04
    assert visible_gib(80) == 79.18
    assert visible_gib(48) == pytest.approx(44.99, abs=0.01)
    assert visible_gib(40) == pytest.approx(38.8)  # 0.97 × nominal where §0 has no measurement
    assert visible_gib(10) == pytest.approx(9.7)  # a 1g.10gb MIG slice sizes against the slice, not the card


@pytest.mark.parametrize(
    ("engine", "tp", "fraction"),
    [
        ("vllm", 1, 0.9),
        ("vllm", 8, 0.9),
        ("sglang", 1, 0.88),
        ("sglang", 2, 0.87),
        ("sglang", 4, 0.85),
        ("sglang", 8, 0.81),
    ],
)
def test_default_memory_fraction(engine: str, tp: int, fraction: float) -> None:
    assert default_memory_fraction(engine, tp) == fraction


def test_sglang_budget_excludes_activations(models: ModelCatalog) -> None:
    l8 = _arch(models, L8)
    # SGLang: total × mem-fraction-static − weights − non-torch; activations live in the remaining 1 − fraction.
    sg = fit(l8, gpu_memory_gib=80, gpu_count=1, engine="sglang")
    assert sg.gpu_memory_utilization == 0.88 and sg.activation_gib_per_gpu == 0.0
    assert sg.kv_pool_gib_per_gpu == pytest.approx(79.18 * 0.88 - 14.96 - 0.15, abs=0.01)
    assert "mem-fraction-static 0.88" in sg.explain()
    # same fraction under vLLM leaves less for KV because its activation peak sits inside the budget
    vl = fit(l8, gpu_memory_gib=80, gpu_count=1, gpu_memory_utilization=0.88)
    assert vl.kv_pool_gib_per_gpu == pytest.approx(sg.kv_pool_gib_per_gpu - 1.4, abs=0.01)


def test_measured_pool_wins_over_the_estimate(models: ModelCatalog) -> None:
    l8 = _arch(models, L8)
    estimate = fit(l8, gpu_memory_gib=24, gpu_count=1, max_model_len=8192)
    measured = fit(l8, gpu_memory_gib=24, gpu_count=1, max_model_len=8192, measured_kv_pool_tokens=20_000)
    assert estimate.kv_pool_source == "estimate" and measured.kv_pool_source == "measured"
    assert measured.kv_pool_tokens == 20_000
    assert measured.kv_pool_gib_per_gpu == pytest.approx(20_000 * 128 * KIB / GIB)
    assert measured.max_concurrent_at(8192) == pytest.approx(20_000 / 8192)
    assert measured.margin < estimate.margin
    assert "engine-reported KV" in measured.explain()


def test_fit_margin_and_fits(models: ModelCatalog) -> None:
    gpus = GpuCatalog.load_bundled()
    l70 = _arch(models, L70)
    f = fit(l70, gpu_memory_gib=80, gpu_count=4)
    assert f.margin == pytest.approx(33.0 / 71.26, rel=0.02)
    # margin at a context × concurrency: the pool left after those sequences, over the budget
    per_seq = 8192 * 80 * KIB / GIB
    assert f.margin_at(8192, 10) == pytest.approx((f.kv_pool_gib_per_gpu - 10 * per_seq) / f.budget_gib_per_gpu)
    h100 = gpus.get("H100-80GB")
    assert h100 is not None
    assert fits(l70, h100, tensor_parallel=4, context_tokens=8192, concurrency=10) == pytest.approx(
        f.margin_at(8192, 10)
    )
    assert fits(l70, h100, tensor_parallel=4, context_tokens=8192, concurrency=60) < 0  # > 52.8 sessions
    assert fits(l70, 80.0, tensor_parallel=1, context_tokens=8192) < 0  # 70B bf16 does not fit one H100
    assert fits(l70, 141.0, tensor_parallel=1, context_tokens=8192, quantization="fp8") > 0


def test_does_not_fit_when_weights_exceed_budget(models: ModelCatalog) -> None:
    l70 = _arch(models, L70)
    f = fit(l70, gpu_memory_gib=80, gpu_count=1, max_model_len=8192)
    assert f.kv_pool_gib_per_gpu < 0 and f.margin < 0
    assert not f.fits and f.kv_pool_tokens == 0 and f.max_concurrent_at(8192) == 0
    assert "does NOT fit" in f.explain()
    assert not fit(l70, gpu_memory_gib=80, gpu_count=1, quantization="fp8", max_model_len=8192).fits
    assert fit(l70, gpu_memory_gib=141, gpu_count=1, quantization="fp8", max_model_len=8192).fits


def test_pipeline_parallel_fit(models: ModelCatalog) -> None:
    l70 = _arch(models, L70)
    tp4 = fit(l70, gpu_memory_gib=80, gpu_count=4)
    tp2pp2 = fit(l70, gpu_memory_gib=80, gpu_count=2, pipeline_parallel=2)
    assert tp2pp2.total_gpus == 4 and tp2pp2.tensor_parallel == 2
    assert tp2pp2.weights_gib_per_gpu == pytest.approx(tp4.weights_gib_per_gpu)
    assert tp2pp2.kv_bytes_per_token == tp4.kv_bytes_per_token  # 4 heads × 40 layers = 2 heads × 80 layers
    assert "2×PP2" in tp2pp2.explain()


def test_fit_overrides_and_validation(models: ModelCatalog) -> None:
    l8 = _arch(models, L8)
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


def test_unknown_model_is_sized_from_its_name_with_low_confidence(models: ModelCatalog) -> None:
    match = models.resolve("acme/support-8b-chat")
    assert match.arch is not None and match.confidence == "low"
    f = fit(match.arch, gpu_memory_gib=24, gpu_count=1, max_model_len=8192)
    assert f.confidence == "low" and "low confidence" in f.explain()
    assert f.weights_gib_per_gpu == pytest.approx(8e9 * 2 / GIB)  # the parsed count, bf16
    assert fit(_arch(models, L8), gpu_memory_gib=24, gpu_count=1).confidence == "high"


@pytest.mark.parametrize(
    ("engine_spelling", "scheme"),
    [("awq_marlin", "awq"), ("gptq_marlin", "gptq"), ("eetq", "int8"), ("fbgemm_fp8", "fp8"), ("bitsandbytes", "int4")],
)
def test_engine_quantization_spellings_size_like_their_scheme(engine_spelling: str, scheme: str) -> None:
    arch = ModelCatalog.load_bundled().resolve("meta-llama/Llama-3.1-8B-Instruct").arch
    assert arch is not None
    assert weight_bytes(arch, quantization=engine_spelling) == weight_bytes(arch, quantization=scheme)


def test_unknown_quantization_is_a_clear_error() -> None:
    arch = ModelCatalog.load_bundled().resolve("meta-llama/Llama-3.1-8B-Instruct").arch
    assert arch is not None
    with pytest.raises(ValueError, match="unknown quantization 'gguf-q9'"):
        weight_bytes(arch, quantization="gguf-q9")
