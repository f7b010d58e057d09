"""Engine GPU-memory sizing per sizing_reference.md: weight bytes, KV bytes per token/sequence, vLLM budget fit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inferops_pipeline.catalog.gpus import GpuSpec
from inferops_pipeline.catalog.models import ModelArch

GIB = 1024**3
KV_BLOCK_TOKENS = 16  # vLLM CacheConfig.DEFAULT_BLOCK_SIZE on CUDA; the pool is whole blocks

# CUDA reports less than the datasheet capacity and vLLM budgets from what CUDA reports (sizing_reference §0).
# Where §0 quotes a measured value for a nominal size we use it: a flat 0.97 would put an L4 at 23.3 GiB instead
# of the 22.04 GiB vLLM sees, overstating its KV pool by a third. 24 GiB covers L4 and A10G (§4 example 3
# assumes ≈22.0), 48 GiB is the L40S (46068 MiB with ECC), 80 GiB the H100/A100, 288 GiB the B300 (275040 MiB).
# Other sizes (and MIG slices) use 0.97 × nominal; pass `visible_gib_per_gpu` when the node's real figure is
# known (DCGM framebuffer total, or the pod's vLLM log).
VISIBLE_FRACTION = 0.97
_MEASURED_VISIBLE_GIB: dict[float, float] = {24.0: 22.04, 48.0: 46068 / 1024, 80.0: 79.18, 288.0: 275040 / 1024}

# Activation peak defaults from the two measured vLLM logs in sizing_reference §4: 1.4 GiB for a
# hidden-4096 model (Llama-3.1-8B) and 4.84 GiB for a hidden-8192 one (Llama-3.3-70B, TP 2). The peak follows
# model width (MLP intermediate and logits buffers), so we interpolate linearly on hidden_size between the
# anchors and clamp outside them rather than invent a curve the data cannot support.
_ACTIVATION_ANCHORS = ((4096, 1.4), (8192, 4.84))
# Non-torch memory: 0.15 GiB single GPU (0.13 measured); NCCL + custom all-reduce buffers add ~0.4 GiB under TP.
_NON_TORCH_GIB_SINGLE = 0.15
_NON_TORCH_GIB_TP = 0.55

# SGLang's default --mem-fraction-static by tensor-parallel size (ServerArgs.__post_init__ in the 0.4 line; newer
# releases derive it from GPU memory instead, so pass the pod's own flag when it sets one).
_SGLANG_DEFAULT_FRACTION = ((16, 0.79), (8, 0.81), (4, 0.85), (2, 0.87), (1, 0.88))
VLLM_DEFAULT_UTILIZATION = 0.9  # vLLM <= 0.11 CacheConfig default (sizing_reference §3)

# Vocabulary size per family, to split embedding/lm_head params (kept bf16 by every quantisation scheme) from
# the linear layers. Missing families fall back to 128k, Llama-3's size; the error is a few % of a quantised model.
_VOCAB_BY_FAMILY: dict[str, int] = {
    "llama2": 32000,
    "llama3": 128256,
    "llama3.1": 128256,
    "llama3.2": 128256,
    "llama3.3": 128256,
    "mistral": 32768,
    "mixtral": 32768,
    "qwen2": 152064,
    "qwen2.5": 152064,
    "qwen3": 151936,
    "qwen3-moe": 151936,
    "gemma2": 256000,
    "gemma3": 262144,
    "phi3": 32064,
    "phi4": 100352,
    "deepseek-v2": 102400,
    "deepseek-v3": 129280,
    "gpt-oss": 201088,
    "falcon": 65024,
    "yi": 64000,
    "command-r": 256000,
}
_DEFAULT_VOCAB = 128256

# Checkpoints whose weights are quantised whatever torch_dtype says (sizing_reference §0 and §1).
_NATIVE_QUANTIZATION = {"deepseek-v3": "fp8", "gpt-oss": "mxfp4"}

# Bytes per parameter of the linear layers; embeddings/lm_head stay 2 bytes.
_LINEAR_BYTES = {"fp8": 1.0, "int8": 1.0, "awq": 0.53, "gptq": 0.53, "int4": 0.53, "mxfp4": 0.53}
# Engine spellings (vLLM --quantization, TGI --quantize) of the schemes above; kernels do not change the bytes.
_QUANT_ALIASES = {
    "awq_marlin": "awq",
    "gptq_marlin": "gptq",
    "gptq_marlin_24": "gptq",
    "marlin": "gptq",
    "exl2": "int4",
    "bitsandbytes": "int4",
    "bitsandbytes-nf4": "int4",
    "bitsandbytes-fp4": "int4",
    "eetq": "int8",
    "experts_int8": "int8",
    "fbgemm_fp8": "fp8",
    "modelopt": "fp8",
    "ptpc_fp8": "fp8",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
}


def visible_gib(nominal_gib: float) -> float:
    """CUDA-visible memory of one GPU (or MIG slice) of the given datasheet capacity."""
    return _MEASURED_VISIBLE_GIB.get(float(nominal_gib), nominal_gib * VISIBLE_FRACTION)


def native_quantization(arch: ModelArch) -> str:
    return _NATIVE_QUANTIZATION.get(arch.family, "")


def _embedding_params(arch: ModelArch) -> float:
    vocab = _VOCAB_BY_FAMILY.get(arch.family, _DEFAULT_VOCAB)
    # Gemma and Command-R tie lm_head to the embedding, as do the small (<4.5B) Llama-3.2/Qwen/Phi-4-mini models.
    tied = arch.family.startswith("gemma") or arch.family == "command-r" or arch.params_total_b < 4.5
    params = vocab * arch.hidden_size * (1 if tied else 2)
    return min(params, 0.5 * arch.params_total_b * 1e9)


def _attention_params(arch: ModelArch) -> float:
    # q and o projections are heads×head_dim wide, k and v kv_heads×head_dim (MLA is not on this path).
    hd = arch.effective_head_dim
    per_layer = arch.hidden_size * hd * (2 * arch.num_attention_heads + 2 * arch.num_key_value_heads)
    return float(per_layer * arch.num_hidden_layers)


def weight_bytes(arch: ModelArch, *, quantization: str = "") -> float:
    """Resident weight bytes of the whole model (all experts), before tensor-parallel splitting.

    bf16/fp16: 2 B/param. fp8/int8: 1 B/param for linear layers. AWQ/GPTQ/int4 (group 128) and MXFP4: 0.53 B/param.
    Embedding and lm_head stay 2 B/param under every scheme (sizing_reference §1); for MXFP4 (gpt-oss) only the MoE
    experts are 4-bit, so attention stays 2 B/param too. An empty `quantization` means the checkpoint's own format.
    """
    quant = (quantization or native_quantization(arch)).lower()
    quant = _QUANT_ALIASES.get(quant, quant)
    total = arch.params_total_b * 1e9
    if quant in ("", "bf16", "bfloat16", "fp16", "float16", "half", "auto", "none"):
        return total * (4.0 if arch.torch_dtype == "float32" else 2.0)
    if quant == "fp32" or quant == "float32":
        return total * 4.0
    if quant not in _LINEAR_BYTES:
        raise ValueError(f"unknown quantization {quantization!r} for {arch.hf_repo_id}")
    unquantized = _embedding_params(arch)
    if quant == "mxfp4":
        unquantized += _attention_params(arch)
    unquantized = min(unquantized, total)
    return (total - unquantized) * _LINEAR_BYTES[quant] + unquantized * 2.0


def kv_dtype_bytes(kv_cache_dtype: str) -> float:
    dtype = kv_cache_dtype.strip().lower()
    if dtype in ("", "auto", "bf16", "bfloat16", "fp16", "float16", "half"):
        return 2.0
    if dtype.startswith("fp8"):  # fp8, fp8_e4m3, fp8_e5m2, fp8_inc
        return 1.0
    if dtype in ("fp32", "float32", "float"):
        return 4.0
    raise ValueError(f"unknown kv_cache_dtype {kv_cache_dtype!r}")


def _kv_bytes_per_layer_token(arch: ModelArch, *, tensor_parallel: int, kv_cache_dtype: str) -> float:
    dtype_bytes = kv_dtype_bytes(kv_cache_dtype)
    if arch.is_mla:
        # One latent of kv_lora_rank plus the 64-wide decoupled RoPE key, no K/V pair, and every TP rank holds it
        # all (vLLM's get_num_kv_heads returns 1 for MLA), so TP does not divide it.
        rank = arch.kv_lora_rank if arch.kv_lora_rank is not None else 512
        return float((rank + 64) * dtype_bytes)
    heads_per_gpu = max(1, arch.num_key_value_heads // max(1, tensor_parallel))
    return 2.0 * heads_per_gpu * arch.effective_head_dim * dtype_bytes


def _stage_fraction(arch: ModelArch, pipeline_parallel: int) -> float:
    # Pipeline parallelism gives each GPU a contiguous slice of layers; the busiest stage holds ceil(L / PP).
    if pipeline_parallel < 1:
        raise ValueError(f"pipeline_parallel must be >= 1, got {pipeline_parallel}")
    return math.ceil(arch.num_hidden_layers / pipeline_parallel) / arch.num_hidden_layers


def kv_bytes_per_token(
    arch: ModelArch, *, tensor_parallel: int = 1, kv_cache_dtype: str = "auto", pipeline_parallel: int = 1
) -> float:
    """KV bytes one token costs on each GPU when every layer keeps full history (the all-global upper bound).

    GQA/MQA/MHA: 2 × layers × max(1, kv_heads // TP) × head_dim × dtype bytes. MLA: layers × (kv_lora_rank + 64) ×
    dtype bytes, not divided by TP (every rank holds the whole latent). PP divides the layers.
    """
    per_layer = _kv_bytes_per_layer_token(arch, tensor_parallel=tensor_parallel, kv_cache_dtype=kv_cache_dtype)
    return per_layer * arch.num_hidden_layers * _stage_fraction(arch, pipeline_parallel)


def kv_bytes_per_sequence(
    arch: ModelArch,
    *,
    context_tokens: int,
    tensor_parallel: int = 1,
    kv_cache_dtype: str = "auto",
    pipeline_parallel: int = 1,
) -> float:
    """KV bytes per GPU for one sequence of `context_tokens`; sliding-window layers hold at most the window."""
    per_layer = _kv_bytes_per_layer_token(arch, tensor_parallel=tensor_parallel, kv_cache_dtype=kv_cache_dtype)
    local = arch.sliding_layers
    global_layers = arch.num_hidden_layers - local
    window = arch.sliding_window or 0
    whole = per_layer * (context_tokens * global_layers + min(context_tokens, window) * local)
    return whole * _stage_fraction(arch, pipeline_parallel)


def weight_bytes_per_gpu(
    arch: ModelArch, *, quantization: str = "", tensor_parallel: int = 1, pipeline_parallel: int = 1
) -> float:
    """Resident weight bytes on each GPU: TP splits every linear layer and the vocabulary, PP splits the layers."""
    if tensor_parallel < 1 or pipeline_parallel < 1:
        raise ValueError(
            f"tensor_parallel and pipeline_parallel must be >= 1, got {tensor_parallel}, {pipeline_parallel}"
        )
    return weight_bytes(arch, quantization=quantization) / (tensor_parallel * pipeline_parallel)


def default_memory_fraction(engine: str, tensor_parallel: int) -> float:
    """The engine's default share of GPU memory it budgets: vLLM gpu_memory_utilization, SGLang mem-fraction-static."""
    if engine.lower() == "sglang":
        return next(frac for tp, frac in _SGLANG_DEFAULT_FRACTION if tensor_parallel >= tp)
    return VLLM_DEFAULT_UTILIZATION


def default_activation_gib(arch: ModelArch) -> float:
    (h0, a0), (h1, a1) = _ACTIVATION_ANCHORS
    h = min(max(arch.hidden_size, h0), h1)
    return a0 + (a1 - a0) * (h - h0) / (h1 - h0)


@dataclass(frozen=True, slots=True)
class Fit:
    """How a model's weights and KV cache fit one engine replica's GPUs under the engine's budgeting (all per GPU)."""

    arch: ModelArch
    gpu_count: int  # tensor-parallel degree (GPUs per pipeline stage)
    gpu_memory_gib: float  # nominal
    usable_gib_per_gpu: float  # CUDA-visible
    gpu_memory_utilization: float  # vLLM gpu_memory_utilization or SGLang mem-fraction-static
    budget_gib_per_gpu: float  # usable × gpu_memory_utilization
    weights_gib_per_gpu: float
    activation_gib_per_gpu: float  # 0 for SGLang: its activations live outside the static fraction
    non_torch_gib_per_gpu: float
    overhead_gib_per_gpu: float  # activation + non-torch
    kv_pool_gib_per_gpu: float  # may be negative: the budget does not even hold the weights
    kv_bytes_per_token: float  # per GPU, all layers of the busiest pipeline stage
    kv_pool_tokens: int  # whole 16-token blocks, as vLLM's "GPU KV cache size" (or the engine's own figure)
    max_model_len: int | None
    quantization: str
    kv_cache_dtype: str
    pipeline_parallel: int = 1
    engine: str = "vllm"
    kv_pool_source: str = "estimate"  # "measured" when the engine reported its pool (vllm:cache_config_info)
    confidence: str = "high"  # "low" when the architecture is estimated from a parameter count in the name

    @property
    def tensor_parallel(self) -> int:
        return self.gpu_count

    @property
    def total_gpus(self) -> int:
        return self.gpu_count * self.pipeline_parallel

    @property
    def margin(self) -> float:
        """KV pool as a fraction of the budget; <= 0 means no room for any cache."""
        return self.kv_pool_gib_per_gpu / self.budget_gib_per_gpu if self.budget_gib_per_gpu > 0 else -1.0

    def margin_at(self, context_tokens: int, concurrency: float = 1.0) -> float:
        """Budget left after `concurrency` sequences of `context_tokens`, as a fraction of the budget (< 0: no fit)."""
        if self.budget_gib_per_gpu <= 0:
            return -1.0
        need = concurrency * self.sequence_gib(context_tokens)
        return (self.kv_pool_gib_per_gpu - need) / self.budget_gib_per_gpu

    def sequence_gib(self, context_tokens: int) -> float:
        return (
            kv_bytes_per_sequence(
                self.arch,
                context_tokens=context_tokens,
                tensor_parallel=self.gpu_count,
                kv_cache_dtype=self.kv_cache_dtype,
                pipeline_parallel=self.pipeline_parallel,
            )
            / GIB
        )

    def max_concurrent_at(self, context_tokens: int) -> float:
        """How many sequences of `context_tokens` the pool holds at once (vLLM's 'Maximum concurrency')."""
        if self.kv_pool_gib_per_gpu <= 0:
            return 0.0
        need = self.sequence_gib(context_tokens)
        return self.kv_pool_gib_per_gpu / need if need > 0 else math.inf

    @property
    def fits(self) -> bool:
        """The engine starts: a positive KV pool holding at least one max_model_len sequence (vLLM admission check)."""
        if self.kv_pool_gib_per_gpu <= 0:
            return False
        if self.max_model_len is None:
            return True
        return self.sequence_gib(self.max_model_len) <= self.kv_pool_gib_per_gpu

    def explain(self) -> str:
        quant = self.quantization or native_quantization(self.arch) or "bf16"
        kv = "" if self.kv_cache_dtype in ("", "auto") else f", kv {self.kv_cache_dtype}"
        layout = f"{self.gpu_count}" if self.pipeline_parallel == 1 else f"{self.gpu_count}×PP{self.pipeline_parallel}"
        knob = "mem-fraction-static" if self.engine == "sglang" else "util"
        if self.kv_pool_source == "measured":
            pool = f"engine-reported KV {self.kv_pool_gib_per_gpu:.2f} GiB/GPU = {self.kv_pool_tokens:,} tokens"
        else:
            activation = "" if self.engine == "sglang" else f" − activation {self.activation_gib_per_gpu:.2f}"
            pool = (
                f"budget {self.budget_gib_per_gpu:.2f} GiB/GPU at {knob} {self.gpu_memory_utilization:g} − weights "
                f"{self.weights_gib_per_gpu:.2f}{activation} − non-torch {self.non_torch_gib_per_gpu:.2f} = KV "
                f"{self.kv_pool_gib_per_gpu:.2f} GiB/GPU ≈ {self.kv_pool_tokens:,} tokens"
            )
        estimated = " (architecture estimated from the name: low confidence)" if self.confidence == "low" else ""
        line = (
            f"{self.arch.name} {quant}{kv} on {layout}×{self.gpu_memory_gib:g} GiB "
            f"({self.usable_gib_per_gpu:.2f} visible){estimated}: {pool}"
        )
        if self.max_model_len is not None:
            verdict = "fits" if self.fits else "does NOT fit"
            line += (
                f"; one {self.max_model_len:,}-token sequence needs {self.sequence_gib(self.max_model_len):.2f} GiB "
                f"→ {verdict} ({self.max_concurrent_at(self.max_model_len):.1f} concurrent)"
            )
        elif not self.fits:
            line += "; no KV pool → does NOT fit"
        return line


def fit(
    arch: ModelArch,
    *,
    gpu_memory_gib: float,
    gpu_count: int,
    gpu_memory_utilization: float | None = None,
    max_model_len: int | None = None,
    quantization: str = "",
    kv_cache_dtype: str = "auto",
    activation_gib: float | None = None,
    non_torch_gib: float | None = None,
    visible_gib_per_gpu: float | None = None,
    pipeline_parallel: int = 1,
    engine: str = "vllm",
    measured_kv_pool_tokens: float | None = None,
) -> Fit:
    """Budget one replica the way its engine does, per GPU.

    vLLM (and engines budgeted like it): usable × gpu_memory_utilization − (weights + activation peak + non-torch).
    SGLang: usable × mem-fraction-static − (weights + non-torch); its activations and CUDA graphs live in the
    remaining (1 − fraction), so they are not subtracted. `gpu_memory_utilization` None means the engine default.

    `gpu_count` is the tensor-parallel degree; `pipeline_parallel` stages each hold 1/PP of the layers.
    `max_model_len` None means the model's own context length (vLLM's default); when that is unknown too, only a
    positive pool is required. `measured_kv_pool_tokens` (vllm:cache_config_info num_gpu_blocks × block_size, or
    the engine log's "GPU KV cache size") replaces the estimated pool: the engine's own figure wins.
    """
    if gpu_count < 1:
        raise ValueError(f"gpu_count must be >= 1, got {gpu_count}")
    engine = (engine or "vllm").lower()
    usable = visible_gib_per_gpu if visible_gib_per_gpu is not None else visible_gib(gpu_memory_gib)
    fraction = gpu_memory_utilization or default_memory_fraction(engine, gpu_count * pipeline_parallel)
    budget = usable * fraction
    weights = (
        weight_bytes_per_gpu(
            arch, quantization=quantization, tensor_parallel=gpu_count, pipeline_parallel=pipeline_parallel
        )
        / GIB
    )
    if engine == "sglang":
        activation = 0.0 if activation_gib is None else activation_gib
    else:
        activation = activation_gib if activation_gib is not None else default_activation_gib(arch)
    if non_torch_gib is not None:
        non_torch = non_torch_gib
    else:
        non_torch = _NON_TORCH_GIB_SINGLE if gpu_count * pipeline_parallel == 1 else _NON_TORCH_GIB_TP
    per_token = kv_bytes_per_token(
        arch, tensor_parallel=gpu_count, kv_cache_dtype=kv_cache_dtype, pipeline_parallel=pipeline_parallel
    )
    if measured_kv_pool_tokens is not None and measured_kv_pool_tokens > 0:
        tokens = int(measured_kv_pool_tokens)
        pool = tokens * per_token / GIB
        source = "measured"
    else:
        pool = budget - weights - activation - non_torch
        blocks = math.floor(pool * GIB / (per_token * KV_BLOCK_TOKENS)) if pool > 0 else 0
        tokens = blocks * KV_BLOCK_TOKENS
        source = "estimate"
    return Fit(
        arch=arch,
        gpu_count=gpu_count,
        gpu_memory_gib=gpu_memory_gib,
        usable_gib_per_gpu=usable,
        gpu_memory_utilization=fraction,
        budget_gib_per_gpu=budget,
        weights_gib_per_gpu=weights,
        activation_gib_per_gpu=activation,
        non_torch_gib_per_gpu=non_torch,
        overhead_gib_per_gpu=activation + non_torch,
        kv_pool_gib_per_gpu=pool,
        kv_bytes_per_token=per_token,
        kv_pool_tokens=tokens,
        max_model_len=max_model_len if max_model_len is not None else arch.max_position_embeddings,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
        pipeline_parallel=pipeline_parallel,
        engine=engine,
        kv_pool_source=source,
        confidence="low" if arch.estimated else "high",
    )


def fits(
    arch: ModelArch,
    gpu: GpuSpec | float,
    *,
    tensor_parallel: int,
    context_tokens: int,
    concurrency: float = 1.0,
    **options: Any,
) -> float:
    """Memory margin of `concurrency` sequences of `context_tokens` on `tensor_parallel` × `gpu`.

    The margin is the KV pool left after those sequences as a fraction of the engine's budget: >= 0 fits, and the
    tier detectors require at least their `tier_fit_margin`. `options` are fit()'s (engine, quantization, …).
    """
    memory = gpu.memory_gib if isinstance(gpu, GpuSpec) else float(gpu)
    sized = fit(arch, gpu_memory_gib=memory, gpu_count=tensor_parallel, max_model_len=context_tokens, **options)
    return sized.margin_at(context_tokens, concurrency)
