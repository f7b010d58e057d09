"""Deterministic demo fleet: kubectl-JSON inventory, raw series (OpenMetrics), metric snapshot, ground truth."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelCatalog
from inferops_pipeline.catalog.prices import PriceCatalog
from inferops_pipeline.demo import promql
from inferops_pipeline.demo.spec import DEMO, FLEETS, ClusterSpec, FleetSpec, Profile, WorkloadSpec
from inferops_pipeline.domain import MetricRow, Signal
from inferops_pipeline.sizing.memory import fit

DEMO_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
WINDOW_HOURS = 24
STEP_S = 300
SAMPLES = WINDOW_HOURS * 3600 // STEP_S
DEFAULT_SEED = 7

# Product strings as GFD, GKE and DCGM print them (normalisation is tested against these).
_GFD_PRODUCT = {
    "H100-80GB": "NVIDIA-H100-80GB-HBM3",
    "A100-80GB": "NVIDIA-A100-SXM4-80GB",
    "L40S": "NVIDIA-L40S",
    "L4": "NVIDIA-L4",
    "A10G": "NVIDIA-A10G",
}
_GKE_ACCELERATOR = {"H100-80GB": "nvidia-h100-80gb", "A100-80GB": "nvidia-a100-80gb", "L4": "nvidia-l4"}
_IMAGES = {
    "vllm": "vllm/vllm-openai:v0.11.0",
    "sglang": "lmsysorg/sglang:v0.5.3-cu126",
    "tgi": "ghcr.io/huggingface/text-generation-inference:3.3.4",
    "triton": "nvcr.io/nvidia/tritonserver:25.08-trtllm-python-py3",
}


@dataclass
class Series:
    """One raw time series: OpenMetrics family + labels + one value per step (None: not scraped)."""

    family: str
    kind: str  # gauge | counter (written with _total) | unknown (written as named: buckets, *_sum)
    labels: dict[str, str]
    values: list[float | None]
    cluster: str = ""


def _gpu_resource(spec: WorkloadSpec) -> str:
    return f"nvidia.com/mig-{spec.mig}" if spec.mig else "nvidia.com/gpu"


def _ksm_resource(spec: WorkloadSpec) -> str:
    # kube-state-metrics sanitises resource names: nvidia.com/mig-1g.10gb → nvidia_com_mig_1g_10gb
    return _gpu_resource(spec).replace(".", "_").replace("/", "_").replace("-", "_")


@dataclass
class DemoFleet:
    at: datetime
    inventory: dict[str, dict[str, list[dict[str, Any]]]]  # cluster → kind → items
    metrics: list[MetricRow]
    series: list[Series]
    ground_truth: dict[str, Any]
    nodes: int = 0
    workloads: int = 0
    gpus: int = 0
    _uid: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**9)))


def _meta(
    name: str,
    *,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    owner: tuple[str, str, str] | None = None,
    uid: int = 0,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": f"00000000-0000-4000-8000-{uid:012d}",
        "creationTimestamp": "2026-11-01T00:00:00Z",
        "labels": labels or {},
    }
    if namespace is not None:
        meta["namespace"] = namespace
    if owner:
        api, kind, owner_name = owner
        meta["ownerReferences"] = [
            {
                "apiVersion": api,
                "kind": kind,
                "name": owner_name,
                "uid": f"owner-{owner_name}",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


class _Builder:
    def __init__(self, seed: int, at: datetime = DEMO_AT) -> None:
        self.rng = random.Random(seed)
        self.end = at.timestamp()
        self.start = self.end - WINDOW_HOURS * 3600
        self.times = [self.start + (i + 1) * STEP_S for i in range(SAMPLES)]
        self.cluster_name = ""
        self.prices = PriceCatalog.load_bundled()
        self.gpus = GpuCatalog.load_bundled()
        self.models = ModelCatalog.load_bundled()
        self.inventory: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        self.metrics: list[MetricRow] = []
        self.series: list[Series] = []
        self.truth: list[dict[str, str]] = []
        self.healthy: list[dict[str, str]] = []
        self.uid = 0
        self.node_free: dict[str, dict[str, int]] = defaultdict(dict)  # cluster → node → free GPUs
        self.node_gpu: dict[str, dict[str, str]] = defaultdict(dict)
        self._reserved: set[str] = set()  # fragmentation-filler nodes other workloads must not use
        self.node_used: dict[str, dict[str, int]] = defaultdict(dict)  # GPU indices taken per node

    def next_uid(self) -> int:
        self.uid += 1
        return self.uid

    # ---------------------------------------------------------------- nodes
    def instance(self, cluster: ClusterSpec, gpu: str, count: int) -> str:
        found = self.prices.instance_for_gpus(
            cloud=cluster.cloud, region=cluster.region, gpu_model=gpu, gpu_count=count
        )
        if found is None:
            raise ValueError(f"demo: no {count}×{gpu} instance in {cluster.cloud}/{cluster.region}")
        return found.instance_type

    def add_node(
        self, cluster: ClusterSpec, gpu: str, count: int, *, capacity_type: str = "on-demand", cordoned: bool = False
    ) -> str:
        index = sum(1 for _ in self.inventory[cluster.name]["nodes"])
        zone = cluster.zones[index % len(cluster.zones)]
        instance_type = self.instance(cluster, gpu, count) if gpu else "m6i.2xlarge"
        name = (
            f"{cluster.name}-{gpu.lower().replace('-', '')}-{index:03d}"
            if gpu
            else f"{cluster.name}-system-{index:03d}"
        )
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": instance_type,
            "topology.kubernetes.io/region": cluster.region,
            "topology.kubernetes.io/zone": zone,
        }
        spot = capacity_type == "spot"
        if cluster.labelling == "gfd" and gpu:
            labels |= {
                "nvidia.com/gpu.product": _GFD_PRODUCT[gpu],
                "nvidia.com/gpu.count": str(count),
                "nvidia.com/gpu.memory": str(int((self.gpus.get(gpu).memory_gib if self.gpus.get(gpu) else 0) * 1024)),
                "karpenter.sh/nodepool": f"gpu-{gpu.lower()}",
                "karpenter.sh/capacity-type": capacity_type,
            }
        elif cluster.labelling == "gke":
            labels |= {"cloud.google.com/gke-nodepool": f"pool-{gpu.lower() or 'system'}"}
            if gpu:
                labels |= {
                    "cloud.google.com/gke-accelerator": _GKE_ACCELERATOR[gpu],
                    "cloud.google.com/gke-accelerator-count": str(count),
                }
            if spot:
                labels["cloud.google.com/gke-spot"] = "true"
        else:
            labels |= {
                "eks.amazonaws.com/nodegroup": f"ng-{gpu.lower() or 'system'}",
                "eks.amazonaws.com/capacityType": "SPOT" if spot else "ON_DEMAND",
            }
        provider = {"aws": f"aws:///{zone}/i-{self.next_uid():017x}", "gcp": f"gce://demo-project/{zone}/{name}"}[
            cluster.cloud
        ]
        resources = {"cpu": "96", "memory": "1048576Mi", "pods": "110"} | (
            {"nvidia.com/gpu": str(count)} if gpu else {}
        )
        spec: dict[str, Any] = {"providerID": provider}
        if gpu:
            spec["taints"] = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
        if cordoned:
            spec["unschedulable"] = True
            spec.setdefault("taints", []).append(
                {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "2026-11-20T10:00:00Z"}
            )
        self.inventory[cluster.name]["nodes"].append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": _meta(name, labels=labels, uid=self.next_uid()),
                "spec": spec,
                "status": {
                    "capacity": resources,
                    "allocatable": resources,
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "lastHeartbeatTime": "2026-12-01T00:00:00Z",
                            "lastTransitionTime": "2026-11-01T00:00:00Z",
                        }
                    ],
                    "nodeInfo": {
                        "kubeletVersion": "v1.31.4",
                        "architecture": "amd64",
                        "operatingSystem": "linux",
                        "containerRuntimeVersion": "containerd://1.7.22",
                        "kernelVersion": "6.1.0",
                        "osImage": "Bottlerocket",
                        "bootID": "",
                        "kubeProxyVersion": "",
                        "machineID": "",
                        "systemUUID": "",
                    },
                },
            }
        )
        if gpu:
            self.node_free[cluster.name][name] = count
            self.node_gpu[cluster.name][name] = gpu
        return name

    def place(self, cluster: ClusterSpec, spec: WorkloadSpec, *, spread: bool) -> list[str]:
        """Node for each running replica; creates nodes so pools are exactly full (except on purpose)."""
        running = spec.replicas - spec.pending
        if running <= 0:
            return []
        if spread:
            # Fragmentation filler: half the replicas on each of two 8-GPU nodes.
            nodes = [self.add_node(cluster, spec.gpu, 8) for _ in range(2)]
            self._reserved.update(nodes)
            placed = [nodes[i % 2] for i in range(running)]
            for node in placed:
                self.node_free[cluster.name][node] -= spec.gpus
            return placed
        placed = []
        for _ in range(running):
            fitting = [
                n
                for n, free in self.node_free[cluster.name].items()
                if free >= spec.gpus and self.node_gpu[cluster.name][n] == spec.gpu and n not in self._reserved
            ]
            if not fitting:
                size = spec.gpus if spec.gpus >= 8 or self._has_instance(cluster, spec.gpu, spec.gpus) else 8
                fitting = [self.add_node(cluster, spec.gpu, size, capacity_type=spec.capacity_type)]
            placed.append(fitting[0])
            self.node_free[cluster.name][fitting[0]] -= spec.gpus
        return placed

    def _has_instance(self, cluster: ClusterSpec, gpu: str, count: int) -> bool:
        return (
            self.prices.instance_for_gpus(cloud=cluster.cloud, region=cluster.region, gpu_model=gpu, gpu_count=count)
            is not None
        )

    # ---------------------------------------------------------------- workloads
    def engine_args(self, spec: WorkloadSpec) -> tuple[list[str], list[str], list[dict[str, str]]]:
        served = spec.model.split("/")[-1].lower()
        if spec.runtime == "vllm":
            return (
                ["vllm", "serve", spec.model],
                [
                    "--served-model-name",
                    served,
                    "--tensor-parallel-size",
                    str(spec.gpus),
                    "--gpu-memory-utilization",
                    str(spec.gpu_memory_utilization),
                    "--max-model-len",
                    str(spec.max_model_len),
                    "--port",
                    "8000",
                ],
                [],
            )
        if spec.runtime == "sglang":
            return (
                ["python3", "-m", "sglang.launch_server"],
                [
                    "--model-path",
                    spec.model,
                    "--tp-size",
                    str(spec.gpus),
                    "--mem-fraction-static",
                    "0.88",
                    "--context-length",
                    str(spec.max_model_len),
                    "--enable-metrics",
                    "--port",
                    "30000",
                ],
                [],
            )
        if spec.runtime == "tgi":
            return (
                ["text-generation-launcher"],
                ["--num-shard", str(spec.gpus), "--max-total-tokens", str(spec.max_model_len), "--port", "8080"],
                [{"name": "MODEL_ID", "value": spec.model}],
            )
        return (
            ["tritonserver"],
            ["--model-repository=/models", "--allow-metrics=true"],
            [{"name": "MODEL_NAME", "value": spec.model}, {"name": "TP_SIZE", "value": str(spec.gpus)}],
        )

    def add_workload(self, cluster: ClusterSpec, spec: WorkloadSpec, node_names: list[str]) -> list[tuple[str, str]]:
        inv = self.inventory[cluster.name]
        labels = {"app.kubernetes.io/name": spec.name, "team": spec.team}
        command, args, env = self.engine_args(spec)
        container: dict[str, Any] = {
            "name": "engine",
            "image": _IMAGES[spec.runtime],
            "command": command,
            "args": args,
            "env": env,
            "ports": [{"containerPort": 8000, "name": "http", "protocol": "TCP"}],
            "resources": {
                "requests": {
                    "cpu": str(min(spec.cpu_limit or 8.0, 4.0)),
                    "memory": f"{int(spec.memory_limit_gib * 0.75)}Gi",
                    _gpu_resource(spec): str(spec.gpus),
                },
                "limits": {"memory": f"{int(spec.memory_limit_gib)}Gi", _gpu_resource(spec): str(spec.gpus)}
                | ({"cpu": f"{spec.cpu_limit:g}"} if spec.cpu_limit else {}),
            },
        }
        selector: dict[str, str] = {}
        if cluster.labelling == "gfd":
            selector = {"nvidia.com/gpu.product": _GFD_PRODUCT[spec.gpu]}
        elif cluster.labelling == "gke":
            selector = {"cloud.google.com/gke-accelerator": _GKE_ACCELERATOR[spec.gpu]}
        pod_spec = {
            "containers": [container],
            "nodeSelector": selector,
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        }
        kind = "StatefulSet" if spec.kind == "StatefulSet" else "Deployment"
        api = "apps/v1"
        owner_meta = _meta(spec.name, namespace=spec.namespace, labels=labels, uid=self.next_uid())
        template = {"metadata": {"labels": {"app.kubernetes.io/name": spec.name}}, "spec": pod_spec}
        inv[kind.lower() + "s"].append(
            {
                "apiVersion": api,
                "kind": kind,
                "metadata": owner_meta,
                "spec": {
                    "replicas": spec.replicas,
                    "selector": {"matchLabels": {"app.kubernetes.io/name": spec.name}},
                    "template": template,
                },
                "status": {
                    "replicas": spec.replicas,
                    "readyReplicas": spec.replicas - spec.pending,
                    "availableReplicas": spec.replicas - spec.pending,
                },
            }
        )
        rs_name = f"{spec.name}-6d9f8b7c5"
        inv["replicasets"].append(
            {
                "apiVersion": api,
                "kind": "ReplicaSet",
                "metadata": _meta(
                    rs_name,
                    namespace=spec.namespace,
                    labels={"app.kubernetes.io/name": spec.name},
                    owner=(api, "Deployment", spec.name),
                    uid=self.next_uid(),
                ),
                "spec": {
                    "replicas": spec.replicas,
                    "selector": {"matchLabels": {"app.kubernetes.io/name": spec.name}},
                    "template": template,
                },
                "status": {"replicas": spec.replicas},
            }
        )
        if spec.autoscaled:
            inv["horizontalpodautoscalers"].append(
                {
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "metadata": _meta(spec.name, namespace=spec.namespace, uid=self.next_uid()),
                    "spec": {
                        "scaleTargetRef": {"apiVersion": api, "kind": kind, "name": spec.name},
                        "minReplicas": 1,
                        "maxReplicas": spec.replicas * 2,
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
                }
            )
        pods = []
        for index in range(spec.replicas):
            pod_name = f"{rs_name}-{self.rng.randrange(36**5):05x}"
            node = node_names[index] if index < len(node_names) else ""
            status: dict[str, Any]
            if node:
                status = {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
                    "containerStatuses": [
                        {
                            "name": "engine",
                            "image": container["image"],
                            "imageID": "",
                            "ready": True,
                            "restartCount": spec.profile.restarts,
                            "started": True,
                            "state": {"running": {"startedAt": "2026-11-29T00:00:00Z"}},
                        }
                    ],
                }
            else:
                status = {
                    "phase": "Pending",
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": f"0/{len(inv['nodes'])} nodes are available: insufficient nvidia.com/gpu.",
                        }
                    ],
                }
            inv["pods"].append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": _meta(
                        pod_name,
                        namespace=spec.namespace,
                        labels={"app.kubernetes.io/name": spec.name},
                        owner=(api, "ReplicaSet", rs_name),
                        uid=self.next_uid(),
                    ),
                    "spec": pod_spec | ({"nodeName": node} if node else {}),
                    "status": status,
                }
            )
            if node:
                pods.append((pod_name, node))
        return pods

