"""Engine detection and settings parsing, table-driven from the shapes real manifests use (with provenance)."""

from __future__ import annotations

import pytest

from inferops_pipeline.domain import Runtime
from inferops_pipeline.inventory.engine import (
    container_argv,
    is_gpu_infrastructure,
    parse_engine,
    runtime_of,
    to_int,
)

VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"

# (case id, image, command, args, env, labels, runtime, {knob: (value, source)})
CASES = [
    (
        "vllm production-stack: positional model in command, underscore flags, --no-enable-prefix-caching",
        "lmcache/vllm-openai:v0.3.5",
        ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--host", "0.0.0.0", "--port", "8000"],
        ["--no-enable-prefix-caching", "--max-model-len", "16384", "--dtype", "bfloat16", "--tensor-parallel-size",
         "2", "--max-num-seqs", "32", "--gpu_memory_utilization", "0.85", "--max_loras", "4"],
        {},
        {},
        Runtime.VLLM,
        {
            "model": ("meta-llama/Llama-3.1-8B-Instruct", "arg:serve <model>"),
            "tensor_parallel": ("2", "arg:--tensor-parallel-size"),
            "max_model_len": ("16384", "arg:--max-model-len"),
            "gpu_memory_utilization": ("0.85", "arg:--gpu_memory_utilization"),
            "max_num_seqs": ("32", "arg:--max-num-seqs"),
            "dtype": ("bfloat16", "arg:--dtype"),
            "prefix_caching": ("false", "arg:--no-enable-prefix-caching"),
            "pipeline_parallel": ("1", "default"),
            "kv_cache_dtype": ("auto", "default"),
        },
    ),
    (
        "vllm --k=v spellings, -tp short flag, -pp, human-readable max-model-len",
        VLLM_IMAGE,
        None,
        ["--model=Qwen/Qwen2.5-72B-Instruct", "-tp=4", "-pp", "2", "--max-model-len=32k",
         "--max-num-batched-tokens=16384", "--kv-cache-dtype=fp8_e4m3", "--quantization=fp8", "--enable-prefix-caching",
         "--served-model-name", "qwen72b", "qwen-72b-alias"],
        {},
        {},
        Runtime.VLLM,
        {
            "model": ("Qwen/Qwen2.5-72B-Instruct", "arg:--model"),
            "tensor_parallel": ("4", "arg:-tp"),
            "pipeline_parallel": ("2", "arg:-pp"),
            "max_model_len": ("32k", "arg:--max-model-len"),
            "max_num_batched_tokens": ("16384", "arg:--max-num-batched-tokens"),
            "kv_cache_dtype": ("fp8_e4m3", "arg:--kv-cache-dtype"),
            "quantization": ("fp8", "arg:--quantization"),
            "prefix_caching": ("true", "arg:--enable-prefix-caching"),
            "served_model_name": ("qwen72b", "arg:--served-model-name"),
        },
    ),
    (
        "vllm old OpenAI entrypoint module with --model and --max_num_seqs",
        "registry.internal/llm/vllm:0.6.3",
        ["python3", "-m", "vllm.entrypoints.openai.api_server"],
        ["--model", "/models/llama-3-8b", "--max_num_seqs", "128", "--data-parallel-size", "2"],
        {},
        {},
        Runtime.VLLM,
        {
            "model": ("/models/llama-3-8b", "arg:--model"),
            "max_num_seqs": ("128", "arg:--max_num_seqs"),
            "data_parallel": ("2", "arg:--data-parallel-size"),
        },
    ),
    (
        "vllm inside sh -c with a preamble (LeaderWorkerSet leader)",
        VLLM_IMAGE,
        ["sh", "-c"],
        ["ray start --head --port=6379 && vllm serve deepseek-ai/DeepSeek-V3 --tensor-parallel-size 8 "
         "--pipeline-parallel-size 2 --max-model-len 16384 --trust-remote-code"],
        {},
        {},
        Runtime.VLLM,
        {
            "model": ("deepseek-ai/DeepSeek-V3", "arg:serve <model>"),
            "tensor_parallel": ("8", "arg:--tensor-parallel-size"),
            "pipeline_parallel": ("2", "arg:--pipeline-parallel-size"),
        },
    ),
    (
        "llm-d modelservice: command [vllm, serve], model first in args, engine-type label, -tp=4",
        "ghcr.io/llm-d/llm-d:v0.2.0",
        ["vllm", "serve"],
        ["Qwen/Qwen3-32B", "--port", "8200", "--served-model-name", "Qwen/Qwen3-32B", "--enforce-eager",
         "--kv-transfer-config", '{"kv_connector":"NixlConnector","kv_role":"kv_both"}', "-tp=4",
         "--kv_cache_dtype=fp8"],
        {},
        {"llm-d.ai/engine-type": "vllm"},
        Runtime.VLLM,
        {
            "model": ("Qwen/Qwen3-32B", "arg:serve <model>"),
            "tensor_parallel": ("4", "arg:-tp"),
            "kv_cache_dtype": ("fp8", "arg:--kv_cache_dtype"),
            "served_model_name": ("Qwen/Qwen3-32B", "arg:--served-model-name"),
        },
    ),
    (
        "KServe huggingfaceserver: --model_name / --model_id / --model_dir, vLLM args passed through",
        "kserve/huggingfaceserver:v0.15.2-gpu",
        None,
        ["--model_name=llama3", "--model_id=meta-llama/Meta-Llama-3-8B-Instruct", "--backend=vllm",
         "--tensor-parallel-size=1", "--dtype=auto", "--max-model-len", "4096"],
        {},
        {},
        Runtime.VLLM,
        {
            "model": ("meta-llama/Meta-Llama-3-8B-Instruct", "arg:--model_id"),
            "served_model_name": ("llama3", "arg:--model_name"),
            "tensor_parallel": ("1", "arg:--tensor-parallel-size"),
            "max_model_len": ("4096", "arg:--max-model-len"),
            "dtype": ("auto", "arg:--dtype"),
        },
    ),
    (
        "KServe vLLM ServingRuntime: --model=/mnt/models, served name templated",
        "quay.io/modh/vllm:rhoai-2.20-cuda",
        ["python", "-m", "vllm.entrypoints.openai.api_server"],
        ["--port=8080", "--model=/mnt/models", "--served-model-name=granite", "--tensor-parallel-size=2"],
        {},
        {},
        Runtime.VLLM,
        {"model": ("/mnt/models", "arg:--model"), "served_model_name": ("granite", "arg:--served-model-name")},
    ),
    (
        "TGI: $(VAR) references in args expand from env, the rest from env",
        "ghcr.io/huggingface/text-generation-inference:3.3.4",
        None,
        ["--model-id", "$(MODEL_ID)", "--num-shard", "$(NUM_SHARD)", "--max-batch-prefill-tokens", "4096",
         "--quantize", "awq"],
        {"MODEL_ID": "mistralai/Mistral-7B-Instruct-v0.3", "NUM_SHARD": "2", "MAX_TOTAL_TOKENS": "8192",
         "CUDA_MEMORY_FRACTION": "0.9", "PREFIX_CACHING": "0"},
        {},
        Runtime.TGI,
        {
            "model": ("mistralai/Mistral-7B-Instruct-v0.3", "arg:--model-id via env:MODEL_ID"),
            "tensor_parallel": ("2", "arg:--num-shard via env:NUM_SHARD"),
            "max_model_len": ("8192", "env:MAX_TOTAL_TOKENS"),
            "gpu_memory_utilization": ("0.9", "env:CUDA_MEMORY_FRACTION"),
            "max_num_batched_tokens": ("4096", "arg:--max-batch-prefill-tokens"),
            "quantization": ("awq", "arg:--quantize"),
            "prefix_caching": ("false", "env:PREFIX_CACHING"),
        },
    ),
    (
        "TGI configured only by env (the Hugging Face DLC shape)",
        "ghcr.io/huggingface/text-generation-inference:2.4.1",
        ["text-generation-launcher"],
        ["--port", "8080"],
        {"MODEL_ID": "google/gemma-2-9b-it", "NUM_SHARD": "1", "MAX_TOTAL_TOKENS": "4096", "QUANTIZE": "eetq"},
        {},
        Runtime.TGI,
        {
            "model": ("google/gemma-2-9b-it", "env:MODEL_ID"),
            "tensor_parallel": ("1", "env:NUM_SHARD"),
            "quantization": ("eetq", "env:QUANTIZE"),
            "gpu_memory_utilization": ("1.0", "default"),
        },
    ),
    (
        "SGLang launch_server: --model-path, --tp, --mem-fraction-static, --context-length, radix cache off",
        "lmsysorg/sglang:v0.5.3-cu126",
        ["python3", "-m", "sglang.launch_server"],
        ["--model-path", "Qwen/Qwen2.5-7B-Instruct", "--tp", "2", "--mem-fraction-static", "0.8",
         "--context-length", "32768", "--max-running-requests", "64", "--chunked-prefill-size", "4096",
         "--disable-radix-cache", "--kv-cache-dtype", "fp8_e5m2"],
        {},
        {},
        Runtime.SGLANG,
        {
            "model": ("Qwen/Qwen2.5-7B-Instruct", "arg:--model-path"),
            "tensor_parallel": ("2", "arg:--tp"),
            "gpu_memory_utilization": ("0.8", "arg:--mem-fraction-static"),
            "max_model_len": ("32768", "arg:--context-length"),
            "max_num_seqs": ("64", "arg:--max-running-requests"),
            "max_num_batched_tokens": ("4096", "arg:--chunked-prefill-size"),
            "prefix_caching": ("false", "arg:--disable-radix-cache"),
            "kv_cache_dtype": ("fp8_e5m2", "arg:--kv-cache-dtype"),
        },
    ),
    (
        "SGLang underscore and --tp-size spellings, --pp-size",
        "lmsysorg/sglang:latest",
        ["python", "-m", "sglang.launch_server", "--model_path=deepseek-ai/DeepSeek-R1", "--tp-size=8",
         "--pp-size=2", "--dp", "2"],
        None,
        {},
        {},
        Runtime.SGLANG,
        {
            "model": ("deepseek-ai/DeepSeek-R1", "arg:--model_path"),
            "tensor_parallel": ("8", "arg:--tp-size"),
            "pipeline_parallel": ("2", "arg:--pp-size"),
            "data_parallel": ("2", "arg:--dp"),
            "prefix_caching": ("true", "default"),
        },
    ),
    (
        "trtllm-serve: positional model, TensorRT-LLM underscore flags",
        "nvcr.io/nvidia/tritonserver:25.08-trtllm-python-py3",
        ["trtllm-serve", "meta-llama/Llama-3.1-8B-Instruct", "--tp_size", "2", "--pp_size", "1",
         "--max_batch_size", "64", "--max_num_tokens", "8192", "--max_seq_len", "8192",
         "--kv_cache_free_gpu_memory_fraction", "0.85"],
        None,
        {},
        {},
        Runtime.TRITON,
        {
            "model": ("meta-llama/Llama-3.1-8B-Instruct", "arg:trtllm-serve <model>"),
            "tensor_parallel": ("2", "arg:--tp_size"),
            "max_num_seqs": ("64", "arg:--max_batch_size"),
            "max_num_batched_tokens": ("8192", "arg:--max_num_tokens"),
            "max_model_len": ("8192", "arg:--max_seq_len"),
            "gpu_memory_utilization": ("0.85", "arg:--kv_cache_free_gpu_memory_fraction"),
        },
    ),
    (
        "Triton server with the model named in env (Triton + TRT-LLM / vLLM backend images)",
        "nvcr.io/nvidia/tritonserver:25.08-trtllm-python-py3",
        ["tritonserver"],
        ["--model-repository=/models", "--allow-metrics=true"],
        {"MODEL_NAME": "meta-llama/Llama-3.1-8B-Instruct", "TP_SIZE": "2"},
        {},
        Runtime.TRITON,
        {
            "model": ("meta-llama/Llama-3.1-8B-Instruct", "env:MODEL_NAME"),
            "tensor_parallel": ("2", "env:TP_SIZE"),
        },
    ),
    (
        "engine-type label decides even on an in-house image",
        "registry.internal/platform/llm-server:2026.11",
        ["/app/start.sh"],
        ["--model-path", "Qwen/Qwen3-8B", "--tp", "1"],
        {},
        {"inference.networking.k8s.io/engine-type": "sglang"},
        Runtime.SGLANG,
        {"model": ("Qwen/Qwen3-8B", "arg:--model-path"), "tensor_parallel": ("1", "arg:--tp")},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("image", "command", "args", "env", "labels", "runtime", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_runtime_and_engine_settings(
    image: str,
    command: list[str] | None,
    args: list[str] | None,
    env: dict[str, str],
    labels: dict[str, str],
    runtime: Runtime,
    expected: dict[str, tuple[str, str]],
) -> None:
    argv = container_argv(command, args)
    found, _ = runtime_of(image, argv, labels)
    assert found == runtime
    facts = parse_engine(found, argv, env, image=image)
    got = {knob: (facts[knob].value, facts[knob].source) for knob in expected if knob in facts}
    assert got == expected


def test_first_spelling_wins_and_unknown_flags_are_ignored() -> None:
    argv = ["vllm", "serve", "m", "--max-model-len", "4096", "--max_model_len", "8192", "--swap-space", "16"]
    facts = parse_engine(Runtime.VLLM, argv, {})
    assert facts["max_model_len"].value == "4096"
    assert set(facts) <= {
        "model",
        "tensor_parallel",
        "pipeline_parallel",
        "gpu_memory_utilization",
        "kv_cache_dtype",
        "dtype",
        "prefix_caching",
        "max_model_len",
    }


def test_value_flag_without_value_is_not_a_fact() -> None:
    facts = parse_engine(Runtime.VLLM, ["--model", "--max-model-len", "2048"], {})
    assert "model" not in facts and facts["max_model_len"].value == "2048"


def test_unresolved_env_reference_is_not_a_fact() -> None:
    # $(MODEL_ID) from a secret or downward API cannot be known: better no model than a literal "$(MODEL_ID)".
    facts = parse_engine(Runtime.TGI, ["--model-id", "$(MODEL_ID)"], {})
    assert "model" not in facts


def test_env_never_overrides_args() -> None:
    facts = parse_engine(Runtime.TGI, ["--num-shard", "4"], {"NUM_SHARD": "2"})
    assert (facts["tensor_parallel"].value, facts["tensor_parallel"].source) == ("4", "arg:--num-shard")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sh", "-c", "vllm serve m --tp 2"], ["vllm", "serve", "m", "--tp", "2"]),
        (["/bin/bash", "-ec", "exec vllm serve 'my model'"], ["exec", "vllm", "serve", "my model"]),
        (["--model m --max-model-len 4096"], ["--model", "m", "--max-model-len", "4096"]),
        (["vllm", "serve", "m"], ["vllm", "serve", "m"]),
    ],
)
def test_container_argv(argv: list[str], expected: list[str]) -> None:
    assert container_argv(argv, None) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [("4096", 4096), ("32k", 32000), ("32K", 32768), ("1.5k", 1500), ("1M", 1048576), ("abc", None), (None, None)],
)
def test_human_readable_ints(text: str | None, value: int | None) -> None:
    assert to_int(text) == value


@pytest.mark.parametrize(
    ("names", "infrastructure"),
    [
        (("nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04",), True),
        (("nvcr.io/nvidia/k8s-device-plugin:v0.17.1",), True),
        (("nvcr.io/nvidia/gpu-feature-discovery:v0.8.2",), True),
        (("registry.k8s.io/nfd/node-feature-discovery:v0.16.4",), True),
        (("rocm/k8s-device-plugin:1.31.0",), True),
        (("", "nvidia-container-toolkit-daemonset"), True),
        (("vllm/vllm-openai:v0.11.0", "vllm"), False),
        (("lmsysorg/sglang:v0.5.3", "sglang", "sglang-qwen"), False),
    ],
)
def test_gpu_infrastructure_is_recognised(names: tuple[str, ...], infrastructure: bool) -> None:
    assert is_gpu_infrastructure(*names) is infrastructure


def test_runtime_evidence() -> None:
    assert runtime_of("vllm/vllm-openai:v0.11.0", []) == (Runtime.VLLM, "image")
    assert runtime_of("busybox", ["vllm", "serve", "m"]) == (Runtime.VLLM, "arg")
    assert runtime_of("busybox", [], {"llm-d.ai/engine-type": "trtllm-serve"}) == (
        Runtime.TRITON,
        "label:llm-d.ai/engine-type",
    )
    assert runtime_of("kserve/huggingfaceserver:v0.15.2", ["--backend=huggingface"])[0] == Runtime.UNKNOWN
    assert runtime_of("pytorch/pytorch:2.5.1", ["python", "train.py"]) == (Runtime.UNKNOWN, "")
