"""Open-LLM architectures (bundled model_architectures.csv) and matching of served model names to them."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, replace
from importlib import resources
from typing import Any

# Served names carry the checkpoint's quantisation as a suffix (Qwen2.5-7B-Instruct-AWQ,
# Llama-3.3-70B-Instruct-FP8-dynamic, Meta-Llama-3.1-70B-Instruct-AWQ-INT4, ...-quantized.w4a16).
_QUANT_TOKENS = {
    "awq",
    "gptq",
    "fp8",
    "dynamic",
    "static",
    "int4",
    "int8",
    "w4a16",
    "w8a8",
    "w8a16",
    "4bit",
    "8bit",
    "bnb",
    "nf4",
    "quantized",
    "marlin",
    "g128",
    "gguf",
}
# Tokens that name a fine-tune flavour or packaging but not a different architecture.
_FLAVOUR_TOKENS = {"instruct", "it", "chat", "hf", "base"}
_SPLIT = re.compile(r"[-_.\s]+")


def quantization_from_name(name: str) -> str:
    """'awq' | 'gptq' | 'fp8' | 'int8' | 'int4' | '' as spelled in a served/repo name."""
    tokens = set(re.split(r"[-_./\s]+", name.lower()))
    if "awq" in tokens:
        return "awq"
    if "gptq" in tokens:
        # GPTQ-Int8 weighs 1 byte/param, not GPTQ's usual 4-bit, so it sizes as int8.
        return "int8" if tokens & {"int8", "8bit"} else "gptq"
    if "fp8" in tokens:
        return "fp8"
    if tokens & {"w8a8", "w8a16", "int8", "8bit"}:
        return "int8"
    if tokens & {"w4a16", "int4", "4bit", "nf4"}:
        return "int4"
    return ""


def _strip_quant_suffix(base: str) -> str:
    parts = re.split(r"([-_.])", base)  # keep separators so the rest of the name is untouched
    while parts and parts[-1].lower() in _QUANT_TOKENS:
        parts = parts[:-2] if len(parts) >= 2 else []
    return "".join(parts)


def _basename(name: str) -> str:
    return name.strip().rstrip("/").rsplit("/", 1)[-1]


def _loose_key(name: str) -> str:
    """Lower-case basename without quantisation, vendor 'Meta-' prefix or flavour tokens: 'llama-3.1-8b'."""
    base = _strip_quant_suffix(_basename(name)).lower()
    tokens = [t for t in re.split(r"[-_\s]+", base) if t]
    if tokens and tokens[0] == "meta":
        tokens = tokens[1:]
    return "-".join(t for t in tokens if t not in _FLAVOUR_TOKENS)


# Parameter count as served names spell it: "13b", "1.5B", "70B"; MoE "8x7B" (experts × size); never the active
# count of "-A22B" / "-A3B" (Qwen3-MoE) that follows the total.
_PARAMS = re.compile(r"(?<![a-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)([bm])(?![a-z0-9])", re.IGNORECASE)


def params_from_name(name: str) -> float | None:
    """Billions of parameters parsed from a model name ('my-org/acme-13b-chat' → 13.0); None when absent.

    "8x7B" (Mixtral-style) is read as 8 × 7 B, an upper bound because the experts share attention and embeddings.
    """
    base = _basename(name)
    for match in _PARAMS.finditer(base):
        experts, size, unit = match.group(1), float(match.group(2)), match.group(3).lower()
        billions = size / 1000 if unit == "m" else size
        if billions <= 0:
            continue
        return billions * int(experts) if experts else billions
    return None


def _opt_int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value else None


@dataclass(frozen=True, slots=True)
class ModelArch:
    hf_repo_id: str
    family: str
    params_total_b: float  # billions; every expert counted (memory is set by total, not active)
    params_active_b: float
    num_hidden_layers: int
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int  # raw config value; for MLA vLLM caches one latent "head"
    head_dim: int | None  # None for MLA
    max_position_embeddings: int | None
    torch_dtype: str  # as in config.json; DeepSeek-V3/R1 ship FP8 weights and gpt-oss MXFP4 regardless
    attention_type: str  # mha|gqa|mqa|mla, with +swa / +swa_mix_1:1 / +swa_mix_5:1
    kv_lora_rank: int | None
    sliding_window: int | None
    source: str
    estimated: bool = False  # True: not a catalog row but a shape borrowed for a parameter count parsed from a name

    @property
    def name(self) -> str:
        return _basename(self.hf_repo_id)

    @property
    def is_mla(self) -> bool:
        return self.attention_type.split("+")[0] == "mla"

    @property
    def is_moe(self) -> bool:
        return self.params_active_b < self.params_total_b

    @property
    def effective_head_dim(self) -> int:
        # transformers/vLLM derive it this way when config.json has no head_dim key.
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_attention_heads

    @property
    def sliding_layers(self) -> int:
        """Layers whose KV is capped by the sliding window (0 when the window does not cap the cache)."""
        if self.sliding_window is None or "+swa" not in self.attention_type:
            return 0
        layers = self.num_hidden_layers
        if "swa_mix_1:1" in self.attention_type:
            return layers - layers // 2  # local/global alternate starting with a local layer
        if "swa_mix_5:1" in self.attention_type:
            return layers - layers // 6  # every sixth layer is global (Gemma-3)
        return layers  # plain +swa: every layer is windowed


def _row_to_arch(row: dict[str, str]) -> ModelArch:
    return ModelArch(
        hf_repo_id=row["hf_repo_id"],
        family=row["family"],
        params_total_b=float(row["params_total_b"]),
        params_active_b=float(row["params_active_b"]),
        num_hidden_layers=int(row["num_hidden_layers"]),
        hidden_size=int(row["hidden_size"]),
        num_attention_heads=int(row["num_attention_heads"]),
        num_key_value_heads=int(row["num_key_value_heads"]),
        head_dim=_opt_int(row["head_dim"]),
        max_position_embeddings=_opt_int(row["max_position_embeddings"]),
        torch_dtype=row["torch_dtype"],
        attention_type=row["attention_type"],
        kv_lora_rank=_opt_int(row["kv_lora_rank"]),
        sliding_window=_opt_int(row["sliding_window"]),
        source=row["source"],
    )


@dataclass(frozen=True, slots=True)
class ModelMatch:
    """What a served model name resolved to, and how far sizing built on it can be trusted."""

    name: str
    arch: ModelArch | None  # None: unknown and no parameter count in the name, so nothing can be sized
    how: str  # "exact" | "tolerant" | "params_from_name" | "unknown"
    confidence: str  # "high" for catalog rows, "low" for a shape estimated from the name, "none" when unknown

    @property
    def known(self) -> bool:
        return self.how in ("exact", "tolerant")


class ModelCatalog:
    """Model architectures, found by repo id or any common served-name spelling of it."""

    def __init__(self, archs: list[ModelArch]) -> None:
        self._archs = list(archs)
        self._exact = {a.hf_repo_id: a for a in archs}
        # Looser indexes are tried in order; a key two different models share is dropped, because a wrong
        # architecture is worse than no match (the caller reports the model as unknown).
        self._indexes: list[dict[str, ModelArch]] = []
        for keyer in (str.lower, lambda n: _basename(n).lower(), _loose_key):
            index: dict[str, ModelArch] = {}
            ambiguous: set[str] = set()
            for arch in archs:
                key = keyer(arch.hf_repo_id)
                if key in index and index[key].hf_repo_id != arch.hf_repo_id:
                    ambiguous.add(key)
                index.setdefault(key, arch)
            self._indexes.append({k: v for k, v in index.items() if k not in ambiguous})

    @classmethod
    def load_bundled(cls) -> ModelCatalog:
        path = resources.files("inferops_pipeline.catalog").joinpath("data/model_architectures.csv")
        return cls([_row_to_arch(row) for row in csv.DictReader(path.read_text("utf-8").splitlines())])

    def get(self, name: str) -> ModelArch | None:
        """Match 'meta-llama/Llama-3.1-8B-Instruct', 'llama-3.1-8b-instruct', 'Qwen2.5-7B-Instruct-AWQ', ..."""
        name = name.strip()
        if not name:
            return None
        if name in self._exact:
            return self._exact[name]
        unquantized = _strip_quant_suffix(name)
        candidates = (
            (0, name.lower()),
            (0, unquantized.lower()),
            (1, _basename(name).lower()),
            (1, _basename(unquantized).lower()),
            (2, _loose_key(name)),
        )
        for level, key in candidates:
            arch = self._indexes[level].get(key)
            if arch is not None:
                return arch
        return None

    def resolve(self, name: str) -> ModelMatch:
        """The catalog row for a served name, else an estimate from the parameter count in the name, else unknown.

        The estimate borrows the layer/head shape of the dense catalog model nearest in size (so KV bytes per token
        are plausible) and sets the total to the parsed count (so weight memory is right); it is marked
        `estimated` and the match has low confidence.
        """
        name = name.strip()
        arch = self.get(name)
        if arch is not None:
            return ModelMatch(name, arch, "exact" if name == arch.hf_repo_id else "tolerant", "high")
        params = params_from_name(name) if name else None
        dense = [a for a in self._archs if not a.is_moe and not a.is_mla and a.sliding_layers == 0]
        if params is None or not dense:
            return ModelMatch(name, None, "unknown", "none")
        proxy = min(dense, key=lambda a: (abs(a.params_total_b - params), a.hf_repo_id))
        estimate = replace(
            proxy,
            hf_repo_id=name,
            family="unknown",
            params_total_b=params,
            params_active_b=params,
            source=f"estimated: {params:g}B parsed from the name; layer/head shape of {proxy.hf_repo_id}",
            estimated=True,
        )
        return ModelMatch(name, estimate, "params_from_name", "low")

    def all(self) -> list[ModelArch]:
        return list(self._archs)

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for arch in self._archs:
            row = asdict(arch)
            del row["estimated"]  # catalog rows are never estimates
            rows.append(row)
        return rows
