"""Engine GPU-memory sizing per sizing_reference.md: weight bytes, KV bytes per token/sequence, vLLM budget fit."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def kv_bytes_per_token(arch: ModelArch, *, tensor_parallel: int = 1, kv_cache_dtype: str = "auto") -> float:
    """KV bytes one token costs on each GPU when every layer keeps full history (the all-global upper bound)."""
    per_layer = _kv_bytes_per_layer_token(arch, tensor_parallel=tensor_parallel, kv_cache_dtype=kv_cache_dtype)
    return per_layer * arch.num_hidden_layers


def kv_bytes_per_sequence(
    arch: ModelArch, *, context_tokens: int, tensor_parallel: int = 1, kv_cache_dtype: str = "auto"
) -> float:
    """KV bytes per GPU for one sequence of `context_tokens`; sliding-window layers hold at most the window."""
    per_layer = _kv_bytes_per_layer_token(arch, tensor_parallel=tensor_parallel, kv_cache_dtype=kv_cache_dtype)
    local = arch.sliding_layers
    global_layers = arch.num_hidden_layers - local
    window = arch.sliding_window or 0
    return per_layer * (context_tokens * global_layers + min(context_tokens, window) * local)


def default_activation_gib(arch: ModelArch) -> float:
    (h0, a0), (h1, a1) = _ACTIVATION_ANCHORS
    h = min(max(arch.hidden_size, h0), h1)
    return a0 + (a1 - a0) * (h - h0) / (h1 - h0)


@dataclass(frozen=True, slots=True)
class Fit:
    """How a model's weights and KV cache fit one engine replica's GPUs under vLLM's budgeting (all per GPU)."""

    arch: ModelArch
    gpu_count: int
    gpu_memory_gib: float  # nominal
    usable_gib_per_gpu: float  # CUDA-visible
    gpu_memory_utilization: float
    budget_gib_per_gpu: float  # usable × gpu_memory_utilization
    weights_gib_per_gpu: float
    activation_gib_per_gpu: float
    non_torch_gib_per_gpu: float
    overhead_gib_per_gpu: float  # activation + non-torch
    kv_pool_gib_per_gpu: float  # may be negative: the budget does not even hold the weights
    kv_bytes_per_token: float  # per GPU, all layers
    kv_pool_tokens: int  # whole 16-token blocks, as vLLM's "GPU KV cache size"
    max_model_len: int | None
    quantization: str
    kv_cache_dtype: str

    @property
    def margin(self) -> float:
        """KV pool as a fraction of the budget; <= 0 means no room for any cache."""
        return self.kv_pool_gib_per_gpu / self.budget_gib_per_gpu if self.budget_gib_per_gpu > 0 else -1.0

    def sequence_gib(self, context_tokens: int) -> float:
        return (
            kv_bytes_per_sequence(
                self.arch,
                context_tokens=context_tokens,
                tensor_parallel=self.gpu_count,
                kv_cache_dtype=self.kv_cache_dtype,
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
        line = (
            f"{self.arch.name} {quant}{kv} on {self.gpu_count}×{self.gpu_memory_gib:g} GiB "
            f"({self.usable_gib_per_gpu:.2f} visible): budget {self.budget_gib_per_gpu:.2f} GiB/GPU at "
            f"util {self.gpu_memory_utilization:g} − weights {self.weights_gib_per_gpu:.2f} − activation "
            f"{self.activation_gib_per_gpu:.2f} − non-torch {self.non_torch_gib_per_gpu:.2f} = KV "
            f"{self.kv_pool_gib_per_gpu:.2f} GiB/GPU ≈ {self.kv_pool_tokens:,} tokens"
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
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
    quantization: str = "",
    kv_cache_dtype: str = "auto",
    activation_gib: float | None = None,
    non_torch_gib: float | None = None,
    visible_gib_per_gpu: float | None = None,
) -> Fit:
    """Budget one replica the way vLLM does: usable × util − (weights + activation + non-torch) = KV pool per GPU.

    `gpu_count` is the tensor-parallel degree. `max_model_len` None means the model's own context length (vLLM's
    default); when that is unknown too, only a positive pool is required.
    """
    if gpu_count < 1:
        raise ValueError(f"gpu_count must be >= 1, got {gpu_count}")
    usable = visible_gib_per_gpu if visible_gib_per_gpu is not None else visible_gib(gpu_memory_gib)
    budget = usable * gpu_memory_utilization
    weights = weight_bytes(arch, quantization=quantization) / gpu_count / GIB
    activation = activation_gib if activation_gib is not None else default_activation_gib(arch)
    if non_torch_gib is not None:
        non_torch = non_torch_gib
    else:
        non_torch = _NON_TORCH_GIB_SINGLE if gpu_count == 1 else _NON_TORCH_GIB_TP
    pool = budget - weights - activation - non_torch
    per_token = kv_bytes_per_token(arch, tensor_parallel=gpu_count, kv_cache_dtype=kv_cache_dtype)
    blocks = math.floor(pool * GIB / (per_token * KV_BLOCK_TOKENS)) if pool > 0 else 0
    return Fit(
        arch=arch,
        gpu_count=gpu_count,
        gpu_memory_gib=gpu_memory_gib,
        usable_gib_per_gpu=usable,
        gpu_memory_utilization=gpu_memory_utilization,
        budget_gib_per_gpu=budget,
        weights_gib_per_gpu=weights,
        activation_gib_per_gpu=activation,
        non_torch_gib_per_gpu=non_torch,
        overhead_gib_per_gpu=activation + non_torch,
        kv_pool_gib_per_gpu=pool,
        kv_bytes_per_token=per_token,
        kv_pool_tokens=blocks * KV_BLOCK_TOKENS,
        max_model_len=max_model_len if max_model_len is not None else arch.max_position_embeddings,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
    )
