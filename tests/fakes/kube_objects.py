"""Schema-valid Kubernetes objects shaped like real manifests (production-stack, llm-d, KServe, TGI, SGLang, LWS).

Every builder returns kubectl-shaped JSON that the official client's strict models accept; `realistic_fleet()`
is one cluster exercising every label family and runtime, `synthetic_fleet()` a large one for the bench.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Obj = dict[str, Any]
Fleet = dict[str, list[Obj]]
TS = "2026-11-30T08:00:00Z"

# Values that must never reach the warehouse (tests grep every table for them).
SECRET_SENTINELS = ("hf_SENTINELtokenVALUE0123456789", "sk-SENTINEL-openai-key-0123456789", "s3cr3t-SENTINEL-apikey")


def uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def owner_ref(api_version: str, kind: str, name: str, namespace: str = "") -> Obj:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid(kind, namespace, name),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def meta(
    name: str,
    namespace: str | None = None,
    *,
    kind: str = "",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    owner: Obj | None = None,
    generation: int | None = None,
) -> Obj:
    out: Obj = {"name": name, "uid": uid(kind, namespace or "", name), "creationTimestamp": TS}
    if namespace is not None:
        out["namespace"] = namespace
    if labels:
        out["labels"] = dict(labels)
    if annotations:
        out["annotations"] = dict(annotations)
    if owner:
        out["ownerReferences"] = [owner]
    if generation is not None:
        out["generation"] = generation
    return out


def env(**values: str) -> list[Obj]:
    return [{"name": k, "value": v} for k, v in values.items()]


def secret_env(name: str, secret: str, key: str) -> Obj:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def container(
    name: str,
    image: str,
    *,
    command: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
    env_vars: Sequence[Obj] | None = None,
    gpus: int = 0,
    gpu_resource: str = "nvidia.com/gpu",
    cpu: str = "4",
    memory: str = "32Gi",
    cpu_limit: str | None = None,
    memory_limit: str | None = None,
    port: int | None = 8000,
) -> Obj:
    requests: Obj = {"cpu": cpu, "memory": memory}
    limits: Obj = {"memory": memory_limit or memory}
    if cpu_limit:
        limits["cpu"] = cpu_limit
    if gpus:
        requests[gpu_resource] = str(gpus)
        limits[gpu_resource] = str(gpus)
    out: Obj = {"name": name, "image": image, "resources": {"requests": requests, "limits": limits}}
    if command is not None:
        out["command"] = list(command)
    if args is not None:
        out["args"] = list(args)
    if env_vars:
        out["env"] = list(env_vars)
    if port:
        out["ports"] = [{"containerPort": port, "name": "http", "protocol": "TCP"}]
    return out


def pod_spec(
    containers: Sequence[Obj],
    *,
    node_selector: Mapping[str, str] | None = None,
    affinity: Obj | None = None,
    init_containers: Sequence[Obj] | None = None,
    gpu_toleration: bool = True,
) -> Obj:
    spec: Obj = {"containers": list(containers), "restartPolicy": "Always", "terminationGracePeriodSeconds": 30}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if affinity:
        spec["affinity"] = affinity
    if init_containers:
        spec["initContainers"] = list(init_containers)
    if gpu_toleration:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    return spec


def gpu_affinity(key: str, *values: str) -> Obj:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": key, "operator": "In", "values": list(values)}]}]
            }
        }
    }


def pod(
    name: str,
    namespace: str,
    spec: Obj,
    *,
    node: str = "",
    owner: Obj | None = None,
    labels: Mapping[str, str] | None = None,
    phase: str | None = None,
    ready: bool = True,
    restarts: int = 0,
    deleting: bool = False,
) -> Obj:
    body_spec = dict(spec)
    if node:
        body_spec["nodeName"] = node
    phase = phase or ("Running" if node else "Pending")
    status: Obj = {"phase": phase, "qosClass": "Burstable"}
    if phase == "Running":
        status["startTime"] = TS
        status["conditions"] = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": TS},
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": TS},
        ]
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": ready,
                "restartCount": restarts,
                "started": True,
                "state": {"running": {"startedAt": TS}},
            }
            for c in spec["containers"]
        ]
    elif phase == "Pending":
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/12 nodes are available: 12 Insufficient nvidia.com/gpu.",
                "lastTransitionTime": TS,
            }
        ]
    metadata = meta(name, namespace, kind="Pod", labels=labels, owner=owner)
    if deleting:
        metadata["deletionTimestamp"] = TS
        metadata["deletionGracePeriodSeconds"] = 30
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": body_spec, "status": status}


def node(
    name: str,
    *,
    labels: Mapping[str, str],
    gpus: Mapping[str, int] | int = 8,
    provider_id: str = "",
    ready: bool = True,
    cordoned: bool = False,
    taints: Sequence[Obj] | None = None,
    gpu_taint: bool = True,
) -> Obj:
    devices = {"nvidia.com/gpu": gpus} if isinstance(gpus, int) else dict(gpus)
    resources = {"cpu": "96", "memory": "1048576Mi", "pods": "110", "ephemeral-storage": "500Gi"}
    resources |= {k: str(v) for k, v in devices.items() if v}
    spec: Obj = {}
    if provider_id:
        spec["providerID"] = provider_id
    all_taints = list(taints or [])
    if gpu_taint and any(devices.values()):
        all_taints.append({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"})
    if cordoned:
        spec["unschedulable"] = True
        all_taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": TS})
    if all_taints:
        spec["taints"] = all_taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(
            name, kind="Node", labels={"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **labels}
        ),
        "spec": spec,
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "Unknown",
                    "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                    "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
                    "lastHeartbeatTime": TS,
                    "lastTransitionTime": TS,
                }
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "b",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.0",
                "kubeProxyVersion": "v1.33.1",
                "kubeletVersion": "v1.33.1",
                "machineID": "m",
                "operatingSystem": "linux",
                "osImage": "Bottlerocket OS 1.40.0",
                "systemUUID": "s",
            },
        },
    }


def namespace(name: str, labels: Mapping[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(name, kind="Namespace", labels={"kubernetes.io/metadata.name": name, **(labels or {})}),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def hpa(name: str, ns: str, target_kind: str, target_name: str, *, api_version: str = "apps/v1") -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name, ns, kind="HorizontalPodAutoscaler"),
        "spec": {
            "scaleTargetRef": {"apiVersion": api_version, "kind": target_kind, "name": target_name},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "vllm_num_requests_waiting"},
                        "target": {"type": "AverageValue", "averageValue": "5"},
                    },
                }
            ],
        },
        "status": {"currentReplicas": 1, "desiredReplicas": 1},
    }


def merge(*fleets: Mapping[str, Iterable[Obj]]) -> Fleet:
    out: Fleet = defaultdict(list)
    for fleet in fleets:
        for kind, items in fleet.items():
            out[kind].extend(items)
    return dict(out)


def deployment_set(
    name: str,
    ns: str,
    spec: Obj,
    *,
    nodes: Sequence[str],
    replicas: int | None = None,
    labels: Mapping[str, str] | None = None,
    pod_labels: Mapping[str, str] | None = None,
    owner: Obj | None = None,
    template_hash: str = "7d9f8b6c5",
    suffixes: Sequence[str] | None = None,
) -> Fleet:
    """Deployment → ReplicaSet → pods with real ownerReferences; '' in nodes makes a Pending pod."""
    replicas = len(nodes) if replicas is None else replicas
    selector = {"app.kubernetes.io/name": name}
    template_labels = {**selector, **(pod_labels or {})}
    template = {"metadata": {"labels": template_labels}, "spec": spec}
    rs_name = f"{name}-{template_hash}"
    running = sum(1 for n in nodes if n)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, ns, kind="Deployment", labels={**selector, **(labels or {})}, owner=owner, generation=1),
        "spec": {"replicas": replicas, "selector": {"matchLabels": selector}, "template": template},
        "status": {
            "observedGeneration": 1,
            "replicas": len(nodes),
            "readyReplicas": running,
            "availableReplicas": running,
        },
    }
    replicaset = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta(
            rs_name,
            ns,
            kind="ReplicaSet",
            labels={**selector, "pod-template-hash": template_hash},
            owner=owner_ref("apps/v1", "Deployment", name, ns),
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {**selector, "pod-template-hash": template_hash}},
            "template": template,
        },
        "status": {"replicas": len(nodes), "readyReplicas": running},
    }
    suffixes = suffixes or [f"{i:05x}"[-5:].replace("0", "q") for i in range(len(nodes))]
    pods = [
        pod(
            f"{rs_name}-{suffix}",
            ns,
            spec,
            node=node_name,
            owner=owner_ref("apps/v1", "ReplicaSet", rs_name, ns),
            labels={**template_labels, "pod-template-hash": template_hash},
        )
        for node_name, suffix in zip(nodes, suffixes, strict=True)
    ]
    return {"deployments": [deployment], "replicasets": [replicaset], "pods": pods}


def statefulset_set(
    name: str, ns: str, spec: Obj, *, nodes: Sequence[str], pod_labels: Mapping[str, str] | None = None
) -> Fleet:
    selector = {"app.kubernetes.io/name": name}
    labels = {**selector, **(pod_labels or {})}
    running = sum(1 for n in nodes if n)
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(name, ns, kind="StatefulSet", labels=selector, generation=1),
        "spec": {
            "replicas": len(nodes),
            "serviceName": name,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
        "status": {"replicas": len(nodes), "readyReplicas": running, "availableReplicas": running},
    }
    pods = [
        pod(f"{name}-{i}", ns, spec, node=n, owner=owner_ref("apps/v1", "StatefulSet", name, ns), labels=labels)
        for i, n in enumerate(nodes)
    ]
    return {"statefulsets": [sts], "pods": pods}


# --------------------------------------------------------------------------------------------------- nodes


def gfd_labels(product: str, count: int, memory_mib: int, **extra: str) -> dict[str, str]:
    return {
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.count": str(count),
        "nvidia.com/gpu.memory": str(memory_mib),
        "nvidia.com/gpu.family": "hopper",
        "nvidia.com/gpu.compute.major": "9",
        "nvidia.com/gpu.compute.minor": "0",
        "nvidia.com/cuda.driver.major": "570",
        "nvidia.com/gfd.timestamp": "1764489600",
        **extra,
    }


def aws_labels(instance: str, zone: str = "us-east-1a") -> dict[str, str]:
    return {
        "node.kubernetes.io/instance-type": instance,
        "topology.kubernetes.io/region": zone[:-1],
        "topology.kubernetes.io/zone": zone,
    }


def realistic_nodes() -> list[Obj]:
    aws = "aws:///us-east-1a/i-0{:016x}"
    return [
        node(
            "gfd-h100-0",
            labels=aws_labels("p5.48xlarge")
            | gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559)
            | {"karpenter.sh/capacity-type": "on-demand", "karpenter.sh/nodepool": "h100"},
            provider_id=aws.format(1),
        ),
        node(
            "gfd-h100-1",
            labels=aws_labels("p5.48xlarge", "us-east-1b")
            | gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559)
            | {"karpenter.sh/capacity-type": "reserved", "karpenter.k8s.aws/capacity-reservation-type": "default"},
            provider_id=aws.format(2),
        ),
        node(
            "gfd-h200-0",
            labels=aws_labels("p5en.48xlarge")
            | gfd_labels("NVIDIA-H200", 8, 143771)
            | {"eks.amazonaws.com/nodegroup": "h200", "eks.amazonaws.com/capacityType": "CAPACITY_BLOCK"},
            provider_id=aws.format(3),
        ),
        node(
            "gfd-h200-1",
            labels=aws_labels("p5en.48xlarge")
            | gfd_labels("NVIDIA-H200", 8, 143771)
            | {"eks.amazonaws.com/nodegroup": "h200", "eks.amazonaws.com/capacityType": "ON_DEMAND"},
            provider_id=aws.format(4),
        ),
        node(
            "gke-a100-0",
            labels={
                "node.kubernetes.io/instance-type": "a2-highgpu-8g",
                "topology.kubernetes.io/region": "us-central1",
                "topology.kubernetes.io/zone": "us-central1-a",
                "cloud.google.com/gke-nodepool": "a100-spot",
                "cloud.google.com/gke-accelerator": "nvidia-tesla-a100",
                "cloud.google.com/gke-accelerator-count": "8",
                "cloud.google.com/gke-spot": "true",
            },
            provider_id="gce://proj/us-central1-a/gke-a100-0",
        ),
        node(
            "karp-l40s-0",
            labels=aws_labels("g6e.12xlarge")
            | {
                "karpenter.sh/nodepool": "l40s",
                "karpenter.sh/capacity-type": "spot",
                "karpenter.k8s.aws/instance-gpu-name": "l40s",
                "karpenter.k8s.aws/instance-gpu-count": "4",
                "karpenter.k8s.aws/instance-gpu-memory": "45776",
                "karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia",
            },
            gpus=4,
            provider_id=aws.format(5),
        ),
        node(
            "aks-h100-0",
            labels={
                "node.kubernetes.io/instance-type": "Standard_ND96isr_H100_v5",
                "topology.kubernetes.io/region": "eastus",
                "topology.kubernetes.io/zone": "eastus-1",
                "kubernetes.azure.com/agentpool": "gpupool",
                "kubernetes.azure.com/accelerator": "nvidia",
                "kubernetes.azure.com/scalesetpriority": "spot",
            },
            provider_id="azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/gpupool/virtualMachines/0",
            taints=[{"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}],
        ),
        node(
            "eks-a10g-0",
            labels=aws_labels("g5.12xlarge")
            | {"eks.amazonaws.com/nodegroup": "a10g", "eks.amazonaws.com/capacityType": "SPOT"},
            gpus=4,
            provider_id=aws.format(6),
        ),
        node(
            "amd-mi300x-0",
            labels={
                "node.kubernetes.io/instance-type": "Standard_ND96isr_MI300X_v5",
                "topology.kubernetes.io/region": "swedencentral",
                "amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM",
                "amd.com/gpu.vram": "192G",
                "amd.com/gpu.family": "AI",
            },
            gpus={"amd.com/gpu": 8},
            provider_id="azure:///subscriptions/s/mi300x/0",
            gpu_taint=False,
        ),
        node(
            "mig-a100-0",
            labels=aws_labels("p4de.24xlarge")
            | gfd_labels(
                "NVIDIA-A100-SXM4-80GB",
                8,
                81920,
                **{"nvidia.com/mig.strategy": "mixed", "nvidia.com/mig.capable": "true"},
            ),
            gpus={"nvidia.com/mig-1g.10gb": 28, "nvidia.com/mig-3g.40gb": 8},
            provider_id=aws.format(7),
        ),
        node(
            "mig-single-h100-0",
            labels=aws_labels("p5.48xlarge")
            | gfd_labels(
                "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb",
                56,
                9856,
                **{"nvidia.com/mig.strategy": "single", "nvidia.com/mig.capable": "true"},
            ),
            gpus=56,
            provider_id=aws.format(8),
        ),
        node(
            "ts-l4-0",
            labels=aws_labels("g6.xlarge")
            | gfd_labels(
                "NVIDIA-L4-SHARED",
                1,
                23034,
                **{"nvidia.com/gpu.replicas": "4", "nvidia.com/gpu.sharing-strategy": "time-slicing"},
            ),
            gpus=4,
            provider_id=aws.format(9),
        ),
        node(
            "gfd-h100-cordoned",
            labels=aws_labels("p5.48xlarge") | gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559),
            provider_id=aws.format(10),
            cordoned=True,
            ready=False,
        ),
        node("cpu-system-0", labels=aws_labels("m6i.4xlarge"), gpus=0, provider_id=aws.format(11)),
    ]


# --------------------------------------------------------------------------------------------------- workloads


def realistic_fleet() -> Fleet:
    """One cluster: every GPU label family, every runtime's manifest shape, owners of every kind, and secrets."""
    hf_token, openai_key, api_key = SECRET_SENTINELS
    fleets: list[Mapping[str, Iterable[Obj]]] = [
        {
            "nodes": realistic_nodes(),
            "namespaces": [
                namespace("llm-serving", {"team": "search"}),
                namespace("kserve-models", {"team": "ml-platform"}),
                namespace("llm-d", {"team": "inference"}),
                namespace("gpu-operator"),
                namespace("research"),
            ],
        }
    ]
    # vLLM production-stack (helm/templates/deployment-vllm-multi.yaml): `vllm serve MODEL` in command, underscores.
    stack = container(
        "vllm",
        "lmcache/vllm-openai:v0.3.5",
        command=[
            "vllm",
            "serve",
            "meta-llama/Llama-3.1-8B-Instruct",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
            "--no-enable-prefix-caching",
            "--max-model-len",
            "16384",
            "--dtype",
            "bfloat16",
            "--tensor-parallel-size",
            "2",
            "--max-num-seqs",
            "32",
            "--gpu_memory_utilization",
            "0.85",
            "--max_loras",
            "4",
        ],  # fmt: skip
        env_vars=[
            *env(HF_HOME="/tmp", LMCACHE_LOG_LEVEL="DEBUG", OPENAI_API_KEY=openai_key),
            secret_env("HF_TOKEN", "vllm-secrets", "hf_token_llama3"),
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ],
        gpus=2,
        cpu="8",
        memory="64Gi",
        memory_limit="96Gi",
    )
    fleets.append(
        deployment_set(
            "vllm-llama3-deployment-vllm",
            "llm-serving",
            pod_spec([stack], node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}),
            nodes=["gfd-h100-0", "gfd-h100-0"],
            labels={"model": "llama3", "helm-release-name": "vllm", "team": "search"},
            pod_labels={"model": "llama3", "helm-release-name": "vllm", "environment": "test", "release": "test"},
        )
    )
    # llm-d modelservice: command `vllm serve`, model first in args, engine-type label, decode + prefill roles.
    llmd_labels = {
        "llm-d.ai/inferenceServing": "true",
        "llm-d.ai/model": "ms-qwen-llm-d-modelservice",
        "llm-d.ai/engine-type": "vllm",
    }
    decode = container(
        "vllm",
        "ghcr.io/llm-d/llm-d:v0.2.0",
        command=["vllm", "serve"],
        args=[
            "Qwen/Qwen3-32B",
            "--port",
            "8200",
            "--served-model-name",
            "Qwen/Qwen3-32B",
            "--enforce-eager",
            "--kv-transfer-config",
            '{"kv_connector":"NixlConnector","kv_role":"kv_both"}',
            "-tp=4",
            "--max-num-batched-tokens=8192",
            "--kv_cache_dtype=fp8",
            "--api-key",
            api_key,
        ],  # fmt: skip
        gpus=4,
        cpu="16",
        memory="128Gi",
    )
    fleets.append(
        deployment_set(
            "ms-qwen-llm-d-modelservice-decode",
            "llm-d",
            pod_spec([decode], affinity=gpu_affinity("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")),
            nodes=["gfd-h100-1"],
            pod_labels={**llmd_labels, "llm-d.ai/role": "decode"},
        )
    )
    prefill = container(
        "vllm",
        "ghcr.io/llm-d/llm-d:v0.2.0",
        command=["vllm", "serve"],
        args=["Qwen/Qwen3-32B", "--port", "8000", "--tensor-parallel-size", "2", "--max-model-len=32k"],
        gpus=2,
    )
    fleets.append(
        deployment_set(
            "ms-qwen-llm-d-modelservice-prefill",
            "llm-d",
            pod_spec([prefill]),
            nodes=["gfd-h100-1"],
            pod_labels={**llmd_labels, "llm-d.ai/role": "prefill"},
            template_hash="5c6d7e8f9",
        )
    )
    # SGLang as a StatefulSet behind an HPA, GIE engine-type label.
    sglang = container(
        "sglang",
        "lmsysorg/sglang:v0.5.3-cu126",
        command=["python3", "-m", "sglang.launch_server"],
        args=[
            "--model-path",
            "Qwen/Qwen2.5-7B-Instruct",
            "--tp",
            "1",
            "--mem-fraction-static",
            "0.8",
            "--context-length",
            "32768",
            "--max-running-requests",
            "64",
            "--chunked-prefill-size",
            "4096",
            "--disable-radix-cache",
            "--enable-metrics",
            "--host",
            "0.0.0.0",
            "--port",
            "30000",
        ],  # fmt: skip
        gpus=1,
    )
    fleets.append(
        statefulset_set(
            "sglang-qwen",
            "llm-serving",
            pod_spec([sglang], node_selector={"karpenter.k8s.aws/instance-gpu-name": "l40s"}),
            nodes=["karp-l40s-0", "karp-l40s-0"],
            pod_labels={"inference.networking.k8s.io/engine-type": "sglang"},
        )
    )
    fleets.append({"horizontalpodautoscalers": [hpa("sglang-qwen", "llm-serving", "StatefulSet", "sglang-qwen")]})
    # TGI: settings in env, `$(VAR)` references in args, a HF token in plain env (the privacy test's target).
    tgi = container(
        "tgi",
        "ghcr.io/huggingface/text-generation-inference:3.3.4",
        args=[
            "--model-id",
            "$(MODEL_ID)",
            "--num-shard",
            "$(NUM_SHARD)",
            "--max-input-tokens",
            "4096",
            "--max-batch-prefill-tokens",
            "4096",
            "--port",
            "8080",
        ],  # fmt: skip
        env_vars=env(
            MODEL_ID="mistralai/Mistral-7B-Instruct-v0.3",
            NUM_SHARD="1",
            MAX_TOTAL_TOKENS="8192",
            CUDA_MEMORY_FRACTION="0.9",
            HUGGING_FACE_HUB_TOKEN=hf_token,
        ),
        gpus=1,
    )
    fleets.append(
        deployment_set(
            "tgi-mistral",
            "llm-serving",
            pod_spec([tgi], node_selector={"node.kubernetes.io/instance-type": "g5.12xlarge"}),
            nodes=["eks-a10g-0"],
            labels={"team": "assistants"},
        )
    )
    # KServe InferenceService (raw deployment) on huggingfaceserver: the model is in storageUri, read from /mnt/models.
    isvc_name = "llama-isvc"
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta(
            isvc_name,
            "kserve-models",
            kind="InferenceService",
            annotations={"serving.kserve.io/deploymentMode": "RawDeployment"},
        ),
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "maxReplicas": 1,
                "model": {
                    "modelFormat": {"name": "huggingface"},
                    "storageUri": "hf://meta-llama/Llama-3.1-70B-Instruct",
                    "args": ["--tensor-parallel-size=8", "--max-model-len=8192"],
                    "resources": {"limits": {"nvidia.com/gpu": "8"}, "requests": {"nvidia.com/gpu": "8"}},
                },
            }
        },
        "status": {"url": "http://llama-isvc.kserve-models.example.com"},
    }
    kserve = container(
        "kserve-container",
        "kserve/huggingfaceserver:v0.15.2-gpu",
        args=["--model_name=llama-isvc", "--model_dir=/mnt/models", "--tensor-parallel-size=8", "--max-model-len=8192"],
        gpus=8,
        cpu="32",
        memory="256Gi",
    )
    initializer = container(
        "storage-initializer",
        "kserve/storage-initializer:v0.15.2",
        args=["hf://meta-llama/Llama-3.1-70B-Instruct", "/mnt/models"],
        cpu="100m",
        memory="100Mi",
        memory_limit="1Gi",
        port=None,
    )
    predictor = deployment_set(
        f"{isvc_name}-predictor",
        "kserve-models",
        pod_spec([kserve], init_containers=[initializer]),
        nodes=["gke-a100-0"],
        owner=owner_ref("serving.kserve.io/v1beta1", "InferenceService", isvc_name, "kserve-models"),
        pod_labels={"serving.kserve.io/inferenceservice": isvc_name, "component": "predictor"},
    )
    fleets += [predictor, {"inferenceservices": [isvc]}]
    fleets.append(
        {
            "horizontalpodautoscalers": [
                hpa(f"{isvc_name}-predictor", "kserve-models", "Deployment", f"{isvc_name}-predictor")
            ]
        }
    )
    # KServe LLMInferenceService (llm-d based): the controller's Deployment runs `vllm serve /mnt/models`.
    llmisvc = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "LLMInferenceService",
        "metadata": meta("qwen-llmisvc", "kserve-models", kind="LLMInferenceService"),
        "spec": {
            "model": {"uri": "hf://Qwen/Qwen3-8B", "name": "Qwen/Qwen3-8B"},
            "replicas": 2,
            "parallelism": {"tensor": 1},
            "template": {"containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
        },
    }
    llmisvc_labels = {
        "app.kubernetes.io/component": "llminferenceservice-workload",
        "app.kubernetes.io/name": "qwen-llmisvc",
        "app.kubernetes.io/part-of": "llminferenceservice",
        "kserve.io/component": "workload",
        "llm-d.ai/role": "both",
    }
    main = container(
        "main",
        "ghcr.io/llm-d/llm-d:v0.2.0",
        command=["vllm", "serve", "/mnt/models"],
        args=["--served-model-name", "Qwen/Qwen3-8B", "--port", "8000", "--max-model-len", "32768"],
        gpus=1,
    )
    fleets.append(
        deployment_set(
            "qwen-llmisvc-kserve",
            "kserve-models",
            pod_spec([main]),
            nodes=["aks-h100-0", ""],
            owner=owner_ref("serving.kserve.io/v1alpha1", "LLMInferenceService", "qwen-llmisvc", "kserve-models"),
            pod_labels=llmisvc_labels,
        )
    )
    fleets.append({"llminferenceservices": [llmisvc]})
    # LeaderWorkerSet multi-node vLLM with Ray: the leader runs `vllm serve` inside `sh -c`, workers only Ray.
    lws = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": meta("deepseek-lws", "llm-serving", kind="LeaderWorkerSet", labels={"team": "research"}),
        "spec": {
            "replicas": 1,
            "leaderWorkerTemplate": {"size": 2, "restartPolicy": "RecreateGroupOnPodRestart"},
            "startupPolicy": "LeaderCreated",
        },
        "status": {"replicas": 1, "readyReplicas": 1},
    }
    lws_labels = {"leaderworkerset.sigs.k8s.io/name": "deepseek-lws", "leaderworkerset.sigs.k8s.io/group-index": "0"}
    leader = container(
        "vllm-leader",
        "vllm/vllm-openai:v0.11.0",
        command=["sh", "-c"],
        args=[
            "bash /vllm-workspace/examples/online_serving/multi-node-serving.sh leader "
            "--ray_cluster_size=$(LWS_GROUP_SIZE); vllm serve deepseek-ai/DeepSeek-V3 --tensor-parallel-size 8 "
            "--pipeline-parallel-size 2 --max-model-len 16384 --trust-remote-code --port 8080"
        ],
        gpus=8,
        cpu="64",
        memory="900Gi",
    )
    worker = container(
        "vllm-worker",
        "vllm/vllm-openai:v0.11.0",
        command=["sh", "-c"],
        args=[
            "bash /vllm-workspace/examples/online_serving/multi-node-serving.sh worker --ray_address=$(LWS_LEADER_ADDRESS)"
        ],
        gpus=8,
        cpu="64",
        memory="900Gi",
        port=None,
    )
    fleets.append(
        {
            "leaderworkersets": [lws],
            "statefulsets": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": meta("deepseek-lws", "llm-serving", kind="StatefulSet", owner=owner_ref("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "deepseek-lws", "llm-serving")),
                    "spec": {"replicas": 1, "serviceName": "deepseek-lws", "selector": {"matchLabels": lws_labels}, "template": {"metadata": {"labels": lws_labels}, "spec": pod_spec([leader])}},
                    "status": {"replicas": 1, "readyReplicas": 1},
                },
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": meta("deepseek-lws-0", "llm-serving", kind="StatefulSet", owner=owner_ref("v1", "Pod", "deepseek-lws-0", "llm-serving")),
                    "spec": {"replicas": 1, "serviceName": "deepseek-lws", "selector": {"matchLabels": lws_labels}, "template": {"metadata": {"labels": lws_labels}, "spec": pod_spec([worker])}},
                    "status": {"replicas": 1, "readyReplicas": 1},
                },
            ],
            "pods": [
                pod("deepseek-lws-0", "llm-serving", pod_spec([leader]), node="gfd-h200-0",
                    owner=owner_ref("apps/v1", "StatefulSet", "deepseek-lws", "llm-serving"),
                    labels={**lws_labels, "leaderworkerset.sigs.k8s.io/worker-index": "0"}),
                pod("deepseek-lws-0-1", "llm-serving", pod_spec([worker]), node="gfd-h200-1",
                    owner=owner_ref("apps/v1", "StatefulSet", "deepseek-lws-0", "llm-serving"),
                    labels={**lws_labels, "leaderworkerset.sigs.k8s.io/worker-index": "1"}),
            ],
        }
    )  # fmt: skip
    # TensorRT-LLM's OpenAI server on a MIG-single node (one slice = one nvidia.com/gpu there).
    trtllm = container(
        "trtllm",
        "nvcr.io/nvidia/tritonserver:25.08-trtllm-python-py3",
        command=[
            "trtllm-serve",
            "meta-llama/Llama-3.2-1B-Instruct",
            "--tp_size",
            "1",
            "--max_batch_size",
            "64",
            "--max_num_tokens",
            "8192",
            "--max_seq_len",
            "8192",
            "--kv_cache_free_gpu_memory_fraction",
            "0.85",
        ],  # fmt: skip
        gpus=1,
    )
    fleets.append(deployment_set("trtllm-llama1b", "llm-serving", pod_spec([trtllm]), nodes=["mig-single-h100-0"]))
    # A MIG-slice consumer on the mixed-strategy node.
    embed = container(
        "vllm",
        "vllm/vllm-openai:v0.11.0",
        args=["--model", "BAAI/bge-large-en-v1.5", "--task", "embed", "--gpu-memory-utilization=0.5"],
        gpus=1,
        gpu_resource="nvidia.com/mig-1g.10gb",
    )
    fleets.append(deployment_set("embedder", "llm-serving", pod_spec([embed]), nodes=["mig-a100-0"]))
    # vLLM on ROCm (AMD MI300X).
    rocm = container(
        "vllm",
        "rocm/vllm:rocm6.4.1_vllm_0.10.0",
        args=["--model", "meta-llama/Llama-3.1-70B-Instruct", "--tensor-parallel-size", "8", "--quantization", "fp8"],
        gpus=8,
        gpu_resource="amd.com/gpu",
    )
    fleets.append(
        deployment_set(
            "vllm-rocm-llama70b", "llm-serving", pod_spec([rocm], gpu_toleration=False), nodes=["amd-mi300x-0"]
        )
    )
    # Not inference engines, but GPUs held: a Job, a bare debugging pod (both on the time-sliced L4).
    train = container(
        "trainer", "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime", command=["python", "train.py"], gpus=1, port=None
    )
    fleets.append(
        {
            "pods": [
                pod("finetune-20261130-x7k2p", "research", pod_spec([train]), node="ts-l4-0",
                    owner=owner_ref("batch/v1", "Job", "finetune-20261130", "research"),
                    labels={"batch.kubernetes.io/job-name": "finetune-20261130"}),
                pod("debug-gpu", "research", pod_spec([container("cuda", "nvidia/cuda:12.4.1-base-ubuntu22.04", command=["sleep", "infinity"], gpus=1, port=None)]), node="ts-l4-0"),
                # Finished and terminating pods: no workload rows, but the terminating one still holds its GPU.
                pod("finetune-old-abcde", "research", pod_spec([train]), node="ts-l4-0", phase="Succeeded",
                    owner=owner_ref("batch/v1", "Job", "finetune-old", "research")),
                pod("debug-gpu-old", "research", pod_spec([container("cuda", "nvidia/cuda:12.4.1-base-ubuntu22.04", command=["sleep", "infinity"], gpus=1, port=None)]), node="ts-l4-0", deleting=True),
            ]
        }
    )  # fmt: skip
    # GPU infrastructure: DCGM exporter (one misconfigured to request a GPU) and the device plugin.
    exporter = container(
        "nvidia-dcgm-exporter",
        "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04",
        gpus=1,
        cpu="100m",
        memory="512Mi",
        port=9400,
    )
    plugin = container(
        "nvidia-device-plugin-ctr", "nvcr.io/nvidia/k8s-device-plugin:v0.17.1", cpu="50m", memory="64Mi", port=None
    )
    ds_owner = owner_ref("apps/v1", "DaemonSet", "nvidia-dcgm-exporter", "gpu-operator")
    fleets.append(
        {
            "daemonsets": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "metadata": meta("nvidia-dcgm-exporter", "gpu-operator", kind="DaemonSet", labels={"app": "nvidia-dcgm-exporter"}),
                    "spec": {"selector": {"matchLabels": {"app": "nvidia-dcgm-exporter"}}, "template": {"metadata": {"labels": {"app": "nvidia-dcgm-exporter"}}, "spec": pod_spec([exporter])}},
                    "status": {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0, "numberReady": 2},
                }
            ],
            "pods": [
                pod("nvidia-dcgm-exporter-q8x2l", "gpu-operator", pod_spec([exporter]), node="gfd-h100-0", owner=ds_owner, labels={"app": "nvidia-dcgm-exporter"}),
                pod("nvidia-device-plugin-daemonset-7bx2k", "gpu-operator", pod_spec([plugin]), node="gfd-h100-0",
                    owner=owner_ref("apps/v1", "DaemonSet", "nvidia-device-plugin-daemonset", "gpu-operator"), labels={"app": "nvidia-device-plugin-daemonset"}),
            ],
        }
    )  # fmt: skip
    return merge(*fleets)


# --------------------------------------------------------------------------------------------------- bench


def _bulk(obj: Obj, index: int) -> Obj:
    """What a real pod carries besides its spec: managedFields, the service-account volume, probes, IPs."""
    meta_ = obj["metadata"]
    meta_["managedFields"] = [
        {
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "manager": manager,
            "operation": "Update",
            "time": TS,
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, **{f"f:{k}": {} for k in meta_.get("labels", {})}}},
                "f:spec": {"f:containers": {f'k:{{"name":"{c["name"]}"}}': {".": {}, "f:image": {}, "f:resources": {}}
                                            for c in obj["spec"]["containers"]}},
                "f:status": {"f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:status": {}}}},
            },
        }
        for manager in ("kube-controller-manager", "kubelet")
    ]  # fmt: skip
    spec = obj["spec"]
    spec["serviceAccountName"] = "default"
    spec["dnsPolicy"] = "ClusterFirst"
    spec["schedulerName"] = "default-scheduler"
    spec["volumes"] = [
        {
            "name": f"kube-api-access-{index:05x}",
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                ],
            },
        }
    ]  # fmt: skip
    for c in spec["containers"]:
        c["volumeMounts"] = [
            {
                "name": f"kube-api-access-{index:05x}",
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "readOnly": True,
            }
        ]
        c["readinessProbe"] = {
            "httpGet": {"path": "/health", "port": 8000, "scheme": "HTTP"},
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        }
        c["terminationMessagePath"] = "/dev/termination-log"
        c["imagePullPolicy"] = "IfNotPresent"
    status = obj["status"]
    status["hostIP"] = f"10.0.{index % 250}.{index % 200 + 1}"
    status["podIP"] = f"10.1.{index % 250}.{index % 200 + 1}"
    status["podIPs"] = [{"ip": status["podIP"]}]
    return obj  # fmt: skip


def synthetic_fleet(*, pods: int = 5000, nodes: int = 600, seed: int = 7) -> Fleet:
    """A big, realistic-looking cluster: GPU nodes full of vLLM deployments, DaemonSet pods on every node,
    and CPU application pods making up the rest of `pods`."""
    rng = random.Random(seed)
    gpu_nodes = [f"gpu-{i:04d}" for i in range(nodes)]
    fleet: Fleet = {
        "nodes": [
            node(
                name,
                labels=aws_labels("p5.48xlarge", f"us-east-1{'abc'[i % 3]}")
                | gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559)
                | {
                    "karpenter.sh/capacity-type": "spot" if i % 5 == 0 else "on-demand",
                    "karpenter.sh/nodepool": "h100",
                },
                provider_id=f"aws:///us-east-1a/i-0{i:016x}",
            )
            for i, name in enumerate(gpu_nodes)
        ],
        "namespaces": [namespace(f"team-{i:02d}", {"team": f"team-{i:02d}"}) for i in range(30)],
    }
    budget = pods
    daemon_pods: list[Obj] = []
    for ds in ("nvidia-dcgm-exporter", "node-exporter"):
        owner = owner_ref("apps/v1", "DaemonSet", ds, "monitoring")
        spec = pod_spec([container(ds, f"quay.io/prometheus/{ds}:v1.9.1", cpu="100m", memory="128Mi", port=9100)])
        daemon_pods += [
            pod(f"{ds}-{i:05x}", "monitoring", spec, node=n, owner=owner, labels={"app": ds})
            for i, n in enumerate(gpu_nodes)
        ]
    daemon_pods = daemon_pods[:budget]
    fleet["pods"] = daemon_pods
    budget -= len(daemon_pods)
    free = {n: 8 for n in gpu_nodes}
    models = [
        "meta-llama/Llama-3.1-8B-Instruct",
        "Qwen/Qwen2.5-7B-Instruct",
        "meta-llama/Llama-3.1-70B-Instruct",
        "mistralai/Mistral-7B-Instruct-v0.3",
    ]
    index = 0
    gpu_pod_budget = int(budget * 0.4)
    while gpu_pod_budget > 0:
        gpus = rng.choice((1, 1, 2, 4, 8))
        replicas = min(gpu_pod_budget, rng.randint(1, 12))
        placed = []
        for _ in range(replicas):
            fitting = next((n for n, f in free.items() if f >= gpus), "")
            if fitting:
                free[fitting] -= gpus
            placed.append(fitting)
        ns = f"team-{index % 30:02d}"
        engine = container(
            "vllm",
            "vllm/vllm-openai:v0.11.0",
            command=["vllm", "serve", rng.choice(models)],
            args=[
                "--tensor-parallel-size",
                str(gpus),
                "--gpu-memory-utilization",
                "0.9",
                "--max-model-len",
                "8192",
                "--port",
                "8000",
            ],
            env_vars=[*env(HF_HOME="/data", VLLM_LOGGING_LEVEL="INFO"), secret_env("HF_TOKEN", "hf", "token")],
            gpus=gpus,
        )
        fleet = merge(fleet, deployment_set(f"llm-{index:04d}", ns, pod_spec([engine], node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}),
                                            nodes=placed, suffixes=[f"{index:04x}{i:x}" for i in range(len(placed))]))  # fmt: skip
        gpu_pod_budget -= replicas
        budget -= replicas
        index += 1
    app = 0
    while budget > 0:
        replicas = min(budget, rng.randint(2, 20))
        spec = pod_spec(
            [
                container(
                    "app",
                    f"registry.example.com/app-{app}:1.{app}",
                    env_vars=env(LOG_LEVEL="info"),
                    cpu="500m",
                    memory="1Gi",
                )
            ],
            gpu_toleration=False,
        )
        fleet = merge(fleet, deployment_set(f"app-{app:04d}", f"team-{app % 30:02d}", spec, nodes=[rng.choice(gpu_nodes) for _ in range(replicas)],
                                            suffixes=[f"{app:04x}{i:x}" for i in range(replicas)]))  # fmt: skip
        budget -= replicas
        app += 1
    fleet["pods"] = [_bulk(p, i) for i, p in enumerate(fleet["pods"])]
    return fleet
