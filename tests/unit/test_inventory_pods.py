"""Pods → workload rows on a realistic fleet: owners of every kind, runtimes, settings, placement, privacy."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from fakes.kube_objects import (
    SECRET_SENTINELS,
    container,
    deployment_set,
    merge,
    owner_ref,
    pod,
    pod_spec,
    realistic_fleet,
)

from inferops_pipeline.domain import PodRow
from inferops_pipeline.inventory.pods import placement_of, pod_rows
from inferops_pipeline.settings import ConfigError

OWNER_LABELS = ["team", "owner", "app.kubernetes.io/part-of"]


def rows_of(fleet: dict[str, list[dict[str, Any]]]) -> list[PodRow]:
    return pod_rows(fleet, cluster="c1", owner_labels=OWNER_LABELS)


@pytest.fixture(scope="module")
def rows() -> list[PodRow]:
    return rows_of(realistic_fleet())


def by_workload(rows: list[PodRow]) -> dict[tuple[str, str, str], list[PodRow]]:
    out: dict[tuple[str, str, str], list[PodRow]] = {}
    for row in rows:
        out.setdefault((row.namespace, row.workload_kind, row.workload), []).append(row)
    return out


# (namespace, kind, name) → pods, runtime, model, gpus, tp, pp, desired, autoscaled, platform, role, owner, hint
EXPECTED = {
    ("llm-serving", "Deployment", "vllm-llama3-deployment-vllm"):
        (2, "vllm", "meta-llama/Llama-3.1-8B-Instruct", 2, 2, 1, 2, False, "vllm-production-stack", "", "search", "H100-80GB"),
    ("llm-d", "Deployment", "ms-qwen-llm-d-modelservice-decode"):
        (1, "vllm", "Qwen/Qwen3-32B", 4, 4, 1, 1, False, "llm-d", "decode", "inference", "H100-80GB"),
    ("llm-d", "Deployment", "ms-qwen-llm-d-modelservice-prefill"):
        (1, "vllm", "Qwen/Qwen3-32B", 2, 2, 1, 1, False, "llm-d", "prefill", "inference", ""),
    ("llm-serving", "StatefulSet", "sglang-qwen"):
        (2, "sglang", "Qwen/Qwen2.5-7B-Instruct", 1, 1, 1, 2, True, "", "", "search", "L40S"),
    ("llm-serving", "Deployment", "tgi-mistral"):
        (1, "tgi", "mistralai/Mistral-7B-Instruct-v0.3", 1, 1, 1, 1, False, "", "", "assistants", ""),
    ("kserve-models", "InferenceService", "llama-isvc"):
        (1, "vllm", "meta-llama/Llama-3.1-70B-Instruct", 8, 8, 1, 1, True, "kserve", "", "ml-platform", ""),
    ("kserve-models", "LLMInferenceService", "qwen-llmisvc"):
        (2, "vllm", "Qwen/Qwen3-8B", 1, 1, 1, 2, False, "kserve", "both", "ml-platform", ""),
    ("llm-serving", "LeaderWorkerSet", "deepseek-lws"):
        (2, "vllm", "deepseek-ai/DeepSeek-V3", 8, 8, 2, 1, False, "", "leader", "research", ""),
    ("llm-serving", "Deployment", "trtllm-llama1b"):
        (1, "triton", "meta-llama/Llama-3.2-1B-Instruct", 1, 1, 1, 1, False, "", "", "search", ""),
    ("llm-serving", "Deployment", "embedder"):
        (1, "vllm", "BAAI/bge-large-en-v1.5", 1, 1, 1, 1, False, "", "", "search", ""),
    ("llm-serving", "Deployment", "vllm-rocm-llama70b"):
        (1, "vllm", "meta-llama/Llama-3.1-70B-Instruct", 8, 8, 1, 1, False, "", "", "search", ""),
    ("research", "Job", "finetune-20261130"): (1, "unknown", "", 1, 1, 1, 1, False, "", "", "", ""),
    ("research", "Pod", "debug-gpu"): (1, "unknown", "", 1, 1, 1, 1, False, "", "", "", ""),
}  # fmt: skip


def test_every_gpu_workload_and_nothing_else(rows: list[PodRow]) -> None:
    # DCGM exporter (even requesting a GPU) and the device plugin are not workloads; finished and terminating
    # pods are gone.
    assert set(by_workload(rows)) == set(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=lambda k: "/".join(k))
def test_workload_facts(rows: list[PodRow], key: tuple[str, str, str]) -> None:
    members = by_workload(rows)[key]
    lead = next((r for r in members if r.role != "worker"), members[0])
    got = (
        len(members),
        lead.runtime,
        lead.model,
        lead.gpus,
        lead.tensor_parallel,
        lead.pipeline_parallel,
        lead.desired_replicas,
        lead.has_autoscaler,
        lead.platform,
        lead.role,
        lead.owner,
        lead.gpu_hint,
    )
    assert got == EXPECTED[key]


def test_engine_settings_and_provenance(rows: list[PodRow]) -> None:
    workloads = by_workload(rows)
    stack = workloads[("llm-serving", "Deployment", "vllm-llama3-deployment-vllm")][0]
    assert (stack.max_model_len, stack.gpu_memory_utilization, stack.max_num_seqs, stack.dtype) == (
        16384,
        0.85,
        32,
        "bfloat16",
    )
    assert stack.prefix_caching is False
    assert stack.engine_facts["gpu_memory_utilization"] == {"value": "0.85", "source": "arg:--gpu_memory_utilization"}
    assert stack.engine_facts["kv_cache_dtype"] == {"value": "auto", "source": "default"}
    assert stack.engine_facts["runtime"] == {"value": "vllm", "source": "arg"}
    assert (stack.kv_cache_dtype, stack.cpu_request, stack.memory_limit_bytes) == ("auto", 8.0, 96 * 2**30)
    decode = workloads[("llm-d", "Deployment", "ms-qwen-llm-d-modelservice-decode")][0]
    assert (decode.kv_cache_dtype, decode.max_num_batched_tokens, decode.served_model_name) == (
        "fp8",
        8192,
        "Qwen/Qwen3-32B",
    )
    assert decode.prefix_caching is None and decode.engine_facts["prefix_caching"]["source"] == "default"
    assert decode.gpu_memory_utilization is None  # not set: detectors apply the engine default themselves
    prefill = workloads[("llm-d", "Deployment", "ms-qwen-llm-d-modelservice-prefill")][0]
    assert prefill.max_model_len == 32000  # --max-model-len=32k
    sglang = workloads[("llm-serving", "StatefulSet", "sglang-qwen")][0]
    assert sglang.engine_facts["runtime"] == {
        "value": "sglang",
        "source": "label:inference.networking.k8s.io/engine-type",
    }
    assert (sglang.gpu_memory_utilization, sglang.max_model_len, sglang.max_num_seqs, sglang.prefix_caching) == (
        0.8,
        32768,
        64,
        False,
    )
    tgi = workloads[("llm-serving", "Deployment", "tgi-mistral")][0]
    assert tgi.engine_facts["model"]["source"] == "arg:--model-id via env:MODEL_ID"
    assert (tgi.max_model_len, tgi.gpu_memory_utilization) == (8192, 0.9)
    isvc = workloads[("kserve-models", "InferenceService", "llama-isvc")][0]
    assert isvc.engine_facts["model"]["source"].startswith("owner:InferenceService.spec.predictor.model.storageUri")
    assert isvc.served_model_name == "llama-isvc"
    trt = workloads[("llm-serving", "Deployment", "trtllm-llama1b")][0]
    assert (trt.max_num_seqs, trt.max_model_len, trt.gpu_memory_utilization) == (64, 8192, 0.85)
    embed = workloads[("llm-serving", "Deployment", "embedder")][0]
    assert embed.gpu_resource == "nvidia.com/mig-1g.10gb"
    rocm = workloads[("llm-serving", "Deployment", "vllm-rocm-llama70b")][0]
    assert (rocm.gpu_resource, rocm.quantization) == ("amd.com/gpu", "fp8")


def test_multi_node_group(rows: list[PodRow]) -> None:
    members = by_workload(rows)[("llm-serving", "LeaderWorkerSet", "deepseek-lws")]
    assert sorted(r.role for r in members) == ["leader", "worker"]
    assert {r.pods_per_replica for r in members} == {2}
    worker = next(r for r in members if r.role == "worker")
    assert worker.runtime == "vllm" and worker.model == ""  # Ray worker: image says vLLM, argv says nothing


def test_pending_replica_keeps_its_workload(rows: list[PodRow]) -> None:
    members = by_workload(rows)[("kserve-models", "LLMInferenceService", "qwen-llmisvc")]
    assert sorted(r.scheduled for r in members) == [False, True]
    assert all(r.engine_facts["served_model_name"]["value"] == "Qwen/Qwen3-8B" for r in members)


def test_placement_is_recorded(rows: list[PodRow]) -> None:
    workloads = by_workload(rows)
    decode = workloads[("llm-d", "Deployment", "ms-qwen-llm-d-modelservice-decode")][0]
    assert decode.placement == {
        "required": [[{"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-80GB-HBM3"]}]],
        "gpu_keys": ["nvidia.com/gpu.product"],
    }
    tgi = workloads[("llm-serving", "Deployment", "tgi-mistral")][0]
    assert tgi.placement["gpu_keys"] == ["node.kubernetes.io/instance-type"]


def test_preferred_affinity_and_non_gpu_keys() -> None:
    spec = {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 50,
                        "preference": {
                            "matchExpressions": [
                                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}
                            ]
                        },
                    }
                ]
            }
        },
    }
    assert placement_of(spec) == {
        "node_selector": {"kubernetes.io/os": "linux"},
        "preferred": [
            {"weight": 50, "match": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}]}
        ],
        "gpu_keys": ["karpenter.sh/capacity-type"],
    }
    assert placement_of({}) == {}


def test_no_secret_reaches_a_row(rows: list[PodRow]) -> None:
    text = json.dumps([dataclasses.asdict(r) for r in rows], default=str)
    for secret in SECRET_SENTINELS:
        assert secret not in text
    decode = by_workload(rows)[("llm-d", "Deployment", "ms-qwen-llm-d-modelservice-decode")][0]
    assert decode.engine_args[-2:] == ("--api-key", "<redacted>")
    tgi = by_workload(rows)[("llm-serving", "Deployment", "tgi-mistral")][0]
    assert "HUGGING_FACE_HUB_TOKEN" in tgi.env_names  # the name is kept: it tells a token is configured


def test_unreadable_owners_fall_back_to_labels_and_pod_counts() -> None:
    fleet = realistic_fleet()
    for kind in ("deployments", "replicasets", "statefulsets", "leaderworkersets", "inferenceservices"):
        fleet[kind] = []  # as when RBAC denies them
    workloads = by_workload(rows_of(fleet))
    # pod-template-hash still names the Deployment; the pods present are the best replica count.
    stack = workloads[("llm-serving", "Deployment", "vllm-llama3-deployment-vllm")]
    assert [r.desired_replicas for r in stack] == [2, 2]
    assert ("llm-serving", "LeaderWorkerSet", "deepseek-lws") in workloads  # from the LWS pod labels
    assert ("kserve-models", "InferenceService", "llama-isvc") in workloads  # from the KServe pod label
    assert ("llm-serving", "StatefulSet", "sglang-qwen") in workloads


def test_llminferenceservice_prefill_is_its_own_row() -> None:
    spec = pod_spec([container("main", "ghcr.io/llm-d/llm-d:v0.2.0", command=["vllm", "serve", "/mnt/models"], gpus=2)])
    owner = owner_ref("serving.kserve.io/v1alpha1", "LLMInferenceService", "big", "ns")
    labels = {"app.kubernetes.io/part-of": "llminferenceservice", "app.kubernetes.io/name": "big"}
    fleet = merge(
        deployment_set("big-kserve", "ns", spec, nodes=["n1"], owner=owner, pod_labels={**labels, "llm-d.ai/role": "decode"}),
        deployment_set("big-kserve-prefill", "ns", spec, nodes=["n2", "n3"], owner=owner, template_hash="abcdef123",
                       pod_labels={**labels, "llm-d.ai/role": "prefill"}),
        {"llminferenceservices": [{"apiVersion": "serving.kserve.io/v1alpha1", "kind": "LLMInferenceService",
                                   "metadata": {"name": "big", "namespace": "ns"},
                                   "spec": {"model": {"uri": "hf://org/big"}, "replicas": 1, "prefill": {"replicas": 2}}}]},
    )  # fmt: skip
    workloads = by_workload(rows_of(fleet))
    assert set(workloads) == {("ns", "LLMInferenceService", "big"), ("ns", "LLMInferenceService", "big:prefill")}
    assert [r.desired_replicas for r in workloads[("ns", "LLMInferenceService", "big:prefill")]] == [2, 2]
    assert workloads[("ns", "LLMInferenceService", "big")][0].model == "org/big"


def test_malformed_quantity_is_bad_input_naming_the_pod() -> None:
    bad = container("vllm", "vllm/vllm-openai:v0.11.0", gpus=1)
    bad["resources"]["limits"]["memory"] = "lots"
    with pytest.raises(ConfigError, match=r"^pod ns/p: container 'vllm': not a Kubernetes quantity: 'lots'$"):
        rows_of({"pods": [pod("p", "ns", pod_spec([bad]), node="n")]})


def test_cpu_only_pods_are_not_gpu_workloads() -> None:
    app = pod("web", "ns", pod_spec([container("web", "nginx:1.27")]), node="n")
    assert rows_of({"pods": [app]}) == []


def test_pending_pod_records_since_reason_and_message(rows: list[PodRow]) -> None:
    members = by_workload(rows)[("kserve-models", "LLMInferenceService", "qwen-llmisvc")]
    pending = next(r for r in members if not r.scheduled)
    running = next(r for r in members if r.scheduled)
    assert pending.pending_reason == "Unschedulable"
    assert pending.pending_message == "0/12 nodes are available: 12 Insufficient nvidia.com/gpu."
    assert pending.pending_since  # the condition's lastTransitionTime
    assert (running.pending_since, running.pending_reason, running.pending_message) == ("", "", "")


def test_pending_since_falls_back_to_creation_time() -> None:
    p = pod("p", "ns", pod_spec([container("vllm", "vllm/vllm-openai:v0.11.0", gpus=1)]))
    p["status"] = {"phase": "Pending"}  # the scheduler has not looked at it yet: no PodScheduled condition
    p["metadata"]["creationTimestamp"] = "2026-11-30T08:00:00Z"
    [row] = rows_of({"pods": [p]})
    assert (row.pending_since, row.pending_reason, row.pending_message) == ("2026-11-30T08:00:00Z", "", "")


def test_ignore_annotation_on_controller_or_pod_template() -> None:
    spec = pod_spec([container("vllm", "vllm/vllm-openai:v0.11.0", gpus=1)])
    fleet = merge(
        deployment_set("on-controller", "ns", spec, nodes=["n1"]),
        deployment_set("on-template", "ns", spec, nodes=["n2"], template_hash="abcdef123"),
        deployment_set("plain", "ns", spec, nodes=["n3"], template_hash="0123456ab"),
    )
    fleet["deployments"][0]["metadata"]["annotations"] = {"inferops.io/ignore": "idle_gpu, Dark_Capacity"}
    for p in fleet["pods"]:
        if p["metadata"]["name"].startswith("on-template"):
            # pod-template annotations reach the pods the controller creates
            p["metadata"]["annotations"] = {"inferops.io/ignore": "all"}
    ignored = {r.workload: r.ignore for r in rows_of(fleet)}
    assert ignored == {"on-controller": ("dark_capacity", "idle_gpu"), "on-template": ("all",), "plain": ()}
