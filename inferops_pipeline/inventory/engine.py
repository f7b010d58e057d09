"""Which engine a container runs and what its settings are, each fact with where it came from (pure)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inferops_pipeline.domain import Runtime
from inferops_pipeline.inventory.privacy import safe_value

# Knobs every engine has under some name; typed columns of k8s_workloads carry the same names.
KNOBS: tuple[str, ...] = (
    "model",
    "served_model_name",
    "tensor_parallel",
    "pipeline_parallel",
    "data_parallel",
    "max_model_len",
    "gpu_memory_utilization",
    "max_num_seqs",
    "max_num_batched_tokens",
    "kv_cache_dtype",
    "quantization",
    "dtype",
    "prefix_caching",
)

# Label values used by llm-d / Gateway API Inference Extension to name the engine behind a pod.
ENGINE_LABELS: tuple[str, ...] = ("llm-d.ai/engine-type", "inference.networking.k8s.io/engine-type")
_ENGINE_LABEL_VALUES = {
    "vllm": Runtime.VLLM,
    "sglang": Runtime.SGLANG,
    "tgi": Runtime.TGI,
    "text-generation-inference": Runtime.TGI,
    "triton": Runtime.TRITON,
    "triton-tensorrt-llm": Runtime.TRITON,
    "trtllm-serve": Runtime.TRITON,
    "trtllm": Runtime.TRITON,
    "tensorrt-llm": Runtime.TRITON,
}


@dataclass(frozen=True, slots=True)
class Fact:
    """One engine setting and its provenance: `arg:--max-model-len`, `env:MODEL_ID`, `label:…`, `owner:…`, `default`."""

    value: str
    source: str

    def as_json(self) -> dict[str, str]:
        return {"value": self.value, "source": self.source}


# ----------------------------------------------------------------------------------- flag tables
# Flags are matched after normalising: lower case, `_` → `-` (vLLM and TensorRT-LLM accept both spellings).
# `None` as a value means a boolean switch: present = the given string, nothing is consumed after it.
_Flag = tuple[str, str | None]  # (knob, fixed value for switches or None)

_VLLM: dict[str, _Flag] = {
    "--model": ("model", None),
    "--served-model-name": ("served_model_name", None),
    "--tensor-parallel-size": ("tensor_parallel", None),
    "-tp": ("tensor_parallel", None),
    "--pipeline-parallel-size": ("pipeline_parallel", None),
    "-pp": ("pipeline_parallel", None),
    "--data-parallel-size": ("data_parallel", None),
    "-dp": ("data_parallel", None),
    "--max-model-len": ("max_model_len", None),
    "--gpu-memory-utilization": ("gpu_memory_utilization", None),
    "--max-num-seqs": ("max_num_seqs", None),
    "--max-num-batched-tokens": ("max_num_batched_tokens", None),
    "--kv-cache-dtype": ("kv_cache_dtype", None),
    "--quantization": ("quantization", None),
    "-q": ("quantization", None),
    "--dtype": ("dtype", None),
}
_VLLM_SWITCHES: dict[str, tuple[str, str]] = {
    "--enable-prefix-caching": ("prefix_caching", "true"),
    "--no-enable-prefix-caching": ("prefix_caching", "false"),
}
# KServe's huggingfaceserver wraps vLLM and adds its own names for the model.
_KSERVE_HF: dict[str, _Flag] = {
    "--model-id": ("model", None),
    "--model-name": ("served_model_name", None),
    "--model-dir": ("model", None),
}
_SGLANG: dict[str, _Flag] = {
    "--model-path": ("model", None),
    "--model": ("model", None),
    "--served-model-name": ("served_model_name", None),
    "--tp-size": ("tensor_parallel", None),
    "--tp": ("tensor_parallel", None),
    "--tensor-parallel-size": ("tensor_parallel", None),
    "--pp-size": ("pipeline_parallel", None),
    "--pipeline-parallel-size": ("pipeline_parallel", None),
    "--dp-size": ("data_parallel", None),
    "--dp": ("data_parallel", None),
    "--data-parallel-size": ("data_parallel", None),
    "--context-length": ("max_model_len", None),
    "--mem-fraction-static": ("gpu_memory_utilization", None),
    "--max-running-requests": ("max_num_seqs", None),
    "--chunked-prefill-size": ("max_num_batched_tokens", None),
    "--kv-cache-dtype": ("kv_cache_dtype", None),
    "--quantization": ("quantization", None),
    "--dtype": ("dtype", None),
}
_SGLANG_SWITCHES: dict[str, tuple[str, str]] = {"--disable-radix-cache": ("prefix_caching", "false")}
_TGI: dict[str, _Flag] = {
    "--model-id": ("model", None),
    "--served-model-name": ("served_model_name", None),
    "--num-shard": ("tensor_parallel", None),
    "--max-total-tokens": ("max_model_len", None),
    "--cuda-memory-fraction": ("gpu_memory_utilization", None),
    "--max-batch-size": ("max_num_seqs", None),
    "--max-batch-prefill-tokens": ("max_num_batched_tokens", None),
    "--kv-cache-dtype": ("kv_cache_dtype", None),
    "--quantize": ("quantization", None),
    "--dtype": ("dtype", None),
}
_TGI_ENV: dict[str, str] = {
    "MODEL_ID": "model",
    "NUM_SHARD": "tensor_parallel",
    "MAX_TOTAL_TOKENS": "max_model_len",
    "CUDA_MEMORY_FRACTION": "gpu_memory_utilization",
    "MAX_BATCH_SIZE": "max_num_seqs",
    "MAX_BATCH_PREFILL_TOKENS": "max_num_batched_tokens",
    "KV_CACHE_DTYPE": "kv_cache_dtype",
    "QUANTIZE": "quantization",
    "DTYPE": "dtype",
    "PREFIX_CACHING": "prefix_caching",
}
# trtllm-serve (TensorRT-LLM's OpenAI server) and Triton's launch scripts.
_TRTLLM: dict[str, _Flag] = {
    "--model": ("model", None),
    "--tokenizer": ("_tokenizer", None),
    "--tp-size": ("tensor_parallel", None),
    "--pp-size": ("pipeline_parallel", None),
    "--max-seq-len": ("max_model_len", None),
    "--max-batch-size": ("max_num_seqs", None),
    "--max-num-tokens": ("max_num_batched_tokens", None),
    "--kv-cache-free-gpu-memory-fraction": ("gpu_memory_utilization", None),
    "--world-size": ("_world_size", None),
}
# Env names that commonly carry settings whatever the engine (Triton/vLLM-backend images, demo manifests).
_GENERIC_ENV: dict[str, str] = {
    "MODEL_ID": "model",
    "MODEL": "model",
    "MODEL_NAME": "model",
    "MODEL_PATH": "model",
    "SERVED_MODEL_NAME": "served_model_name",
    "TP_SIZE": "tensor_parallel",
    "TENSOR_PARALLEL_SIZE": "tensor_parallel",
    "PIPELINE_PARALLEL_SIZE": "pipeline_parallel",
    "MAX_MODEL_LEN": "max_model_len",
    "GPU_MEMORY_UTILIZATION": "gpu_memory_utilization",
    "QUANTIZATION": "quantization",
}
# Engine defaults worth stating (stable across versions); typed columns stay None for them.
_DEFAULTS: dict[Runtime, dict[str, str]] = {
    Runtime.VLLM: {
        "tensor_parallel": "1",
        "pipeline_parallel": "1",
        "gpu_memory_utilization": "0.9",
        "kv_cache_dtype": "auto",
        "dtype": "auto",
        "prefix_caching": "true",
    },
    Runtime.SGLANG: {"tensor_parallel": "1", "kv_cache_dtype": "auto", "dtype": "auto", "prefix_caching": "true"},
    Runtime.TGI: {"gpu_memory_utilization": "1.0"},
    Runtime.TRITON: {},
    Runtime.UNKNOWN: {},
}


def _norm_flag(flag: str) -> str:
    return flag.lower().replace("_", "-") if flag.startswith("-") else flag


# ----------------------------------------------------------------------------------- argv


def container_argv(command: Sequence[object] | None, args: Sequence[object] | None) -> list[str]:
    """command + args as the kubelet runs them, with `sh -c "…"` scripts split into words."""
    raw = [str(part) for part in (command or [])] + [str(part) for part in (args or [])]
    for index, part in enumerate(raw[:-1]):
        base = part.rsplit("/", 1)[-1]
        if base in ("sh", "bash", "dash", "ash", "zsh") and raw[index + 1] in ("-c", "-ec", "-ce", "-xc", "-euc"):
            script = " ".join(raw[index + 2 :])
            try:
                return raw[:index] + shlex.split(script.replace("\\\n", " "))
            except ValueError:
                return raw
    # Some charts pass all flags as one string: ["--model x --tp 2"].
    if len(raw) <= 2 and any(" --" in part or part.startswith("--") and " " in part for part in raw):
        try:
            return [word for part in raw for word in shlex.split(part)]
        except ValueError:
            return raw
    return raw


_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(value: str, env: Mapping[str, str]) -> tuple[str, str]:
    """Kubernetes `$(VAR)` expansion of one arg (only literal env values); returns (value, 'VAR' or '')."""
    used = ""

    def substitute(match: re.Match[str]) -> str:
        nonlocal used
        name = match.group(1)
        if name in env:
            used = name
            return env[name]
        return match.group(0)

    return _VAR_REF.sub(substitute, value), used


# ----------------------------------------------------------------------------------- runtime

_EXPORTER = re.compile(
    r"dcgm|device-plugin|gpu-feature-discovery|node-feature-discovery|(^|[/-])nfd([/-]|$)|nvidia-(container-toolkit|"
    r"driver|operator-validator|mig-manager|cuda-validator|dra-driver)|gpu-operator|node-labeller|amd-gpu-operator|"
    r"kube-state-metrics|node-exporter|(^|/)k8s-device-plugin"
)


def is_gpu_infrastructure(*names: str) -> bool:
    """Exporters, device plugins, GFD/NFD and operator validators: they touch GPUs but never serve a model."""
    return any(_EXPORTER.search(name.lower()) for name in names if name)


def _executable_hits(argv: Sequence[str]) -> str:
    words = []
    for index, token in enumerate(argv):
        base = token.rsplit("/", 1)[-1].lower()
        nxt = argv[index + 1].lower() if index + 1 < len(argv) else ""
        if (
            base in ("vllm",)
            and nxt == "serve"
            or base.startswith("vllm.entrypoints")
            or (base == "-m" and nxt.startswith("vllm."))
        ):
            words.append("vllm")
        elif base.startswith("sglang.launch_server") or (base == "-m" and nxt.startswith("sglang.")):
            words.append("sglang")
        elif base in ("text-generation-launcher", "text-generation-server"):
            words.append("tgi")
        elif base in ("tritonserver", "trtllm-serve") or base.startswith("tensorrt_llm"):
            words.append("triton")
    return " ".join(words)


def runtime_of(image: str, argv: Sequence[str], labels: Mapping[str, str] | None = None) -> tuple[Runtime, str]:
    """Engine and the evidence for it: an engine-type label, the executable in argv, then the image name."""
    for key in ENGINE_LABELS:
        value = (labels or {}).get(key, "").strip().lower()
        if value in _ENGINE_LABEL_VALUES:
            return _ENGINE_LABEL_VALUES[value], f"label:{key}"
    hits = _executable_hits(argv)
    for word, runtime in (
        ("sglang", Runtime.SGLANG),
        ("tgi", Runtime.TGI),
        ("triton", Runtime.TRITON),
        ("vllm", Runtime.VLLM),
    ):
        if word in hits:
            return runtime, "arg"
    text = image.lower()
    if "sglang" in text:
        return Runtime.SGLANG, "image"
    if "text-generation-inference" in text or "/tgi" in text:
        return Runtime.TGI, "image"
    if "tritonserver" in text or "trtllm" in text or "tensorrt" in text or "triton" in text:
        return Runtime.TRITON, "image"
    if "vllm" in text or "llm-d" in text or "huggingfaceserver" in text:
        # llm-d images and KServe's huggingfaceserver run vLLM (the latter unless --backend=huggingface).
        if "huggingfaceserver" in text and any(a.replace("_", "-") in ("--backend=huggingface",) for a in argv):
            return Runtime.UNKNOWN, "image"
        return Runtime.VLLM, "image"
    return Runtime.UNKNOWN, ""


# ----------------------------------------------------------------------------------- parsing


def _tables(runtime: Runtime, image: str) -> tuple[dict[str, _Flag], dict[str, tuple[str, str]], dict[str, str]]:
    if runtime == Runtime.SGLANG:
        return _SGLANG, _SGLANG_SWITCHES, _GENERIC_ENV
    if runtime == Runtime.TGI:
        return _TGI, {}, _TGI_ENV | {k: v for k, v in _GENERIC_ENV.items() if k not in _TGI_ENV}
    if runtime == Runtime.TRITON:
        return _TRTLLM | _VLLM, _VLLM_SWITCHES, _GENERIC_ENV
    flags = _VLLM | (_KSERVE_HF if "huggingfaceserver" in image.lower() or "kserve" in image.lower() else {})
    return flags, _VLLM_SWITCHES, _GENERIC_ENV


def _positional_model(argv: Sequence[str], flags: Mapping[str, _Flag]) -> tuple[str, str] | None:
    """`vllm serve MODEL`, `trtllm-serve [serve] MODEL`: the first positional after the subcommand."""
    for index, token in enumerate(argv):
        base = token.rsplit("/", 1)[-1].lower()
        if base == "trtllm-serve":
            rest = list(argv[index + 1 :])
            if rest and rest[0] == "serve":
                rest = rest[1:]
            label = "trtllm-serve"
        elif base == "serve" and index > 0 and argv[index - 1].rsplit("/", 1)[-1].lower() in ("vllm", "trtllm-serve"):
            rest = list(argv[index + 1 :])
            label = "serve"
        else:
            continue
        skip = False
        for word in rest:
            if skip:
                skip = False
                continue
            if word.startswith("-"):
                flag = _norm_flag(word.partition("=")[0])
                # A value flag we know swallows the next word; unknown flags are assumed to take one too
                # unless they carry =value, because vLLM's boolean flags are the minority.
                skip = (
                    "=" not in word
                    and flag not in _VLLM_SWITCHES
                    and not flag.startswith("--enable")
                    and not flag.startswith("--no-")
                    and not flag.startswith("--disable")
                )
                continue
            return word, f"arg:{label} <model>"
        return None
    return None


def parse_engine(
    runtime: Runtime,
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    image: str = "",
) -> dict[str, Fact]:
    """Engine settings found in argv, then env; first spelling found wins, `--k=v`, `--k v` and `_` spellings alike.

    `env` holds only literal values of ENGINE_ENV names (never stored); `$(VAR)` references in args are expanded
    with it the way the kubelet does.
    """
    flags, switches, env_table = _tables(runtime, image)
    facts: dict[str, Fact] = {}
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not token.startswith("-"):
            continue
        written, eq, inline = token.partition("=")
        flag = _norm_flag(written)
        if flag in switches:
            knob, fixed = switches[flag]
            value = fixed
            if eq:  # `--enable-prefix-caching=false`
                value = "false" if inline.strip().lower() in ("false", "0", "no") else fixed
            facts.setdefault(knob, Fact(value, f"arg:{written}"))
            continue
        if flag not in flags:
            continue
        knob, _ = flags[flag]
        if eq:
            raw = inline
        elif index < len(argv) and not argv[index].startswith("--"):
            raw = argv[index]
            index += 1
        else:
            continue
        value, via = expand(raw, env)
        source = f"arg:{written}" + (f" via env:{via}" if via else "")
        if knob.startswith("_") or not value or "$(" in value:
            continue
        facts.setdefault(knob, Fact(value, source))
    if "model" not in facts:
        positional = _positional_model(argv, flags)
        if positional:
            value, via = expand(positional[0], env)
            if "$(" not in value:
                facts["model"] = Fact(value, positional[1] + (f" via env:{via}" if via else ""))
    for name, knob in env_table.items():
        if name in env and env[name] and knob not in facts:
            facts[knob] = Fact(env[name], f"env:{name}")
    if "prefix_caching" in facts and runtime == Runtime.TGI and facts["prefix_caching"].source.startswith("env:"):
        raw = facts["prefix_caching"].value.strip().lower()
        facts["prefix_caching"] = Fact(
            "false" if raw in ("0", "false", "no") else "true", facts["prefix_caching"].source
        )
    for knob, value in _DEFAULTS.get(runtime, {}).items():
        facts.setdefault(knob, Fact(value, "default"))
    # Values may come from env (directly or through $(VAR)); only their credential-free part is ever stored.
    return {knob: Fact(safe_value(fact.value), fact.source) for knob, fact in facts.items()}


# ----------------------------------------------------------------------------------- typed values

_HUMAN_INT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")


def to_int(value: str | None) -> int | None:
    """`4096`, `32k` (×1000) and `32K` (×1024) as vLLM reads them; None when absent or not a number."""
    if value is None:
        return None
    match = _HUMAN_INT.match(value)
    if not match:
        return None
    number, suffix = float(match.group(1)), match.group(2)
    scale = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "K": 1024, "M": 1024**2, "G": 1024**3}[suffix]
    return int(number * scale)


def to_float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def to_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "1", "yes", "on")


def explicit(facts: Mapping[str, Fact], knob: str) -> str | None:
    """The value only when the manifest says it (arg, env, label, owner); engine defaults are not settings."""
    fact = facts.get(knob)
    return fact.value if fact is not None and fact.source != "default" else None
