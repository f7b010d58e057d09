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
from inferops_pipeline.demo.spec import CLUSTERS, SPARE_NODES, WORKLOADS, ClusterSpec, Profile, WorkloadSpec
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
    """One raw time series: OpenMetrics family + labels + one value per step."""

    family: str
    kind: str  # gauge | counter
    labels: dict[str, str]
    values: list[float]


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
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
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
                    "nvidia.com/gpu": str(spec.gpus),
                },
                "limits": {"memory": f"{int(spec.memory_limit_gib)}Gi", "nvidia.com/gpu": str(spec.gpus)}
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

    # ---------------------------------------------------------------- metrics
    def load_curve(self, profile: Profile) -> list[float]:
        """Relative load per sample (mean ≈ 1)."""
        curve = []
        for i in range(SAMPLES):
            hour = i * STEP_S // 3600
            if profile.traffic == "flat":
                base = 1.0
            elif profile.traffic == "bursty":
                base = 4.0 if hour in (9, 10, 14, 15) else 0.4
            else:
                base = 1.0 + 0.5 * math.sin(2 * math.pi * (hour - 8) / 24)
            curve.append(base * (1 + self.rng.gauss(0, 0.02)))
        mean = statistics.fmean(curve)
        return [c / mean for c in curve]

    def add_metrics(self, cluster: ClusterSpec, spec: WorkloadSpec, pods: list[tuple[str, str]]) -> None:
        p = spec.profile
        arch = self.models.get(spec.model)
        gpu_spec = self.gpus.get(spec.gpu)
        pool_tokens = 0
        if arch is not None and gpu_spec is not None:
            pool_tokens = fit(
                arch,
                gpu_memory_gib=gpu_spec.memory_gib,
                gpu_count=spec.gpus,
                gpu_memory_utilization=spec.gpu_memory_utilization,
                max_model_len=spec.max_model_len,
            ).kv_pool_tokens
        fb_total_mib = (gpu_spec.memory_gib if gpu_spec else 24) * 1024
        for pod, node in pods:
            load = self.load_curve(p)
            peak = max(load)
            ident = {"namespace": spec.namespace, "pod": pod}
            row = {"cluster": cluster.name, "namespace": spec.namespace, "pod": pod}
            if p.has_gpu_metrics:
                for g in range(spec.gpus):
                    uuid = f"GPU-{self.rng.getrandbits(64):016x}"
                    util = [min(0.99, max(0.0, p.util * x * (1 + self.rng.gauss(0, 0.03)))) for x in load]
                    fb = [fb_total_mib * p.fb_frac * (1 + self.rng.uniform(-0.002, 0.0)) for _ in load]
                    gpu_labels = {
                        "gpu": str(g),
                        "UUID": uuid,
                        "device": f"nvidia{g}",
                        "modelName": _GFD_PRODUCT.get(spec.gpu, spec.gpu).replace("-", " "),
                        "Hostname": node,
                        "container": "engine",
                    } | ident
                    util_family = (
                        "DCGM_FI_DEV_GPU_UTIL" if cluster.labelling == "bare" else "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
                    )
                    scale = 100.0 if util_family == "DCGM_FI_DEV_GPU_UTIL" else 1.0
                    self.series.append(Series(util_family, "gauge", gpu_labels, [round(u * scale, 4) for u in util]))
                    self.series.append(Series("DCGM_FI_DEV_FB_USED", "gauge", gpu_labels, [round(v) for v in fb]))
                    self.series.append(
                        Series("DCGM_FI_DEV_FB_FREE", "gauge", gpu_labels, [round(fb_total_mib - v) for v in fb])
                    )
                    g_row = row | {"source": "gpu", "node": node, "gpu_uuid": uuid, "container": "engine"}
                    self._stats(g_row, Signal.GPU_UTIL, util, ("mean", "p95", "max"))
                    self.metrics.append(
                        MetricRow(
                            **g_row,
                            signal=Signal.GPU_UTIL.value,
                            stat="hours",
                            value=float(WINDOW_HOURS),
                            samples=SAMPLES,
                        )
                    )
                    self.metrics.append(
                        MetricRow(
                            **g_row,
                            signal=Signal.GPU_FB_USED_MIB.value,
                            stat="max",
                            value=round(max(fb)),
                            samples=SAMPLES,
                        )
                    )
                    self.metrics.append(
                        MetricRow(
                            **g_row,
                            signal=Signal.GPU_FB_TOTAL_MIB.value,
                            stat="max",
                            value=fb_total_mib,
                            samples=SAMPLES,
                        )
                    )
            if p.has_engine_metrics:
                self._engine_series(cluster, spec, pod, load, peak, pool_tokens, row)
            if p.has_container_metrics:
                self._container_series(spec, pod, node, load, row)

    def _stats(self, row: dict[str, str], signal: Signal, values: list[float], stats: tuple[str, ...]) -> None:
        ordered = sorted(values)
        for stat in stats:
            if stat == "mean":
                value = statistics.fmean(values)
            elif stat == "max":
                value = ordered[-1]
            else:
                # Prometheus quantile_over_time: linear interpolation at rank φ·(n−1), like numpy's default.
                phi = int(stat[1:]) / 100
                rank = phi * (len(ordered) - 1)
                lo = math.floor(rank)
                hi = min(lo + 1, len(ordered) - 1)
                value = ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)
            self.metrics.append(
                MetricRow(**row, signal=signal.value, stat=stat, value=round(value, 6), samples=len(values))
            )

    def _engine_series(
        self,
        cluster: ClusterSpec,
        spec: WorkloadSpec,
        pod: str,
        load: list[float],
        peak: float,
        pool_tokens: int,
        row: dict[str, str],
    ) -> None:
        p = spec.profile
        served = spec.model.split("/")[-1].lower()
        model = spec.model if spec.runtime == "triton" else served
        kv = [min(0.995, max(0.0, p.kv * x * (1 + self.rng.gauss(0, 0.01)))) for x in load]
        waiting = [round(p.waiting * x / peak) for x in load]
        running = [max(1.0, round(p.rps * 4 * x)) for x in load]
        s_row = row | {"source": "serving", "model": model, "container": "engine"}
        labels = {"namespace": spec.namespace, "pod": pod}
        if spec.runtime == "vllm":
            labels |= {"model_name": served, "engine": "0"}
            kv_family = "vllm:gpu_cache_usage_perc" if cluster.vllm_old_metric_names else "vllm:kv_cache_usage_perc"
            self.series.append(Series(kv_family, "gauge", labels, [round(v, 4) for v in kv]))
            self.series.append(Series("vllm:num_requests_waiting", "gauge", labels, [float(v) for v in waiting]))
            self.series.append(Series("vllm:num_requests_running", "gauge", labels, running))
            preempt = self._counter([p.preemptions_per_hour * STEP_S / 3600 * x for x in load])
            self.series.append(Series("vllm:num_preemptions", "counter", labels, preempt))
            self.series.append(
                Series(
                    "vllm:cache_config_info",
                    "gauge",
                    labels
                    | {
                        "block_size": "16",
                        "num_gpu_blocks": str(pool_tokens // 16),
                        "gpu_memory_utilization": str(spec.gpu_memory_utilization),
                        "cache_dtype": "auto",
                    },
                    [1.0] * SAMPLES,
                )
            )
            self.metrics.append(
                MetricRow(
                    **s_row,
                    signal=Signal.PREEMPTIONS.value,
                    stat="increase",
                    value=round(preempt[-1] - preempt[0], 3),
                    samples=SAMPLES,
                )
            )
            self.metrics.append(
                MetricRow(
                    **s_row, signal=Signal.KV_POOL_TOKENS.value, stat="max", value=float(pool_tokens), samples=SAMPLES
                )
            )
            success_family = "vllm:request_success"
        elif spec.runtime == "sglang":
            labels |= {"model_name": served}
            self.series.append(Series("sglang:token_usage", "gauge", labels, [round(v, 4) for v in kv]))
            self.series.append(Series("sglang:num_queue_reqs", "gauge", labels, [float(v) for v in waiting]))
            self.series.append(Series("sglang:num_running_reqs", "gauge", labels, running))
            success_family = "sglang:num_requests"
        elif spec.runtime == "tgi":
            kv = []  # TGI exposes no KV-usage ratio
            self.series.append(Series("tgi_queue_size", "gauge", labels, [float(v) for v in waiting]))
            self.series.append(Series("tgi_batch_current_size", "gauge", labels, running))
            success_family = "tgi_request_success"
        else:
            labels |= {"model": spec.model, "version": "1"}
            self.series.append(
                Series(
                    "nv_trt_llm_kv_cache_block_metrics",
                    "gauge",
                    labels | {"kv_cache_block_type": "fraction"},
                    [round(v, 4) for v in kv],
                )
            )
            self.series.append(
                Series(
                    "nv_trt_llm_request_metrics",
                    "gauge",
                    labels | {"request_type": "waiting"},
                    [float(v) for v in waiting],
                )
            )
            self.series.append(
                Series("nv_trt_llm_request_metrics", "gauge", labels | {"request_type": "scheduled"}, running)
            )
            success_family = "nv_inference_request_success"
        if kv:
            self._stats(s_row, Signal.KV_CACHE_USAGE, kv, ("p95", "max"))
        self._stats(s_row, Signal.REQUESTS_WAITING, [float(v) for v in waiting], ("max",))
        self._stats(s_row, Signal.REQUESTS_RUNNING, running, ("mean", "max"))
        requests = [p.rps * x for x in load]
        self.series.append(Series(success_family, "counter", labels, self._counter([r * STEP_S for r in requests])))
        per_hour = 3600 // STEP_S
        t_row = row | {"source": "traffic", "model": model, "container": "engine"}
        for hour in range(WINDOW_HOURS):
            chunk = requests[hour * per_hour : (hour + 1) * per_hour]
            self.metrics.append(
                MetricRow(
                    **t_row,
                    signal=Signal.REQUEST_RATE.value,
                    stat=f"h{hour:02d}",
                    value=round(statistics.fmean(chunk), 5),
                    samples=len(chunk),
                )
            )
        tokens = sum(requests) * STEP_S
        self.metrics.append(
            MetricRow(
                **s_row,
                signal=Signal.GENERATION_TOKENS.value,
                stat="increase",
                value=round(tokens * 220),
                samples=SAMPLES,
            )
        )
        self.metrics.append(
            MetricRow(
                **s_row,
                signal=Signal.TTFT_SECONDS.value,
                stat="p95",
                value=round(0.15 + p.waiting / 40 + 2 * max(0.0, p.kv - 0.85), 3),
                samples=SAMPLES,
            )
        )

    def _container_series(
        self, spec: WorkloadSpec, pod: str, node: str, load: list[float], row: dict[str, str]
    ) -> None:
        p = spec.profile
        labels = {"namespace": spec.namespace, "pod": pod, "container": "engine", "node": node}
        cpu = [min(spec.cpu_limit or 1e9, p.cpu_cores * (0.7 + 0.3 * x)) for x in load]
        limit_bytes = spec.memory_limit_gib * 2**30
        memory = [limit_bytes * p.memory_frac * (0.92 + 0.08 * x / max(load)) for x in load]
        periods = self._counter([STEP_S * 10.0] * SAMPLES)
        throttled = self._counter([STEP_S * 10.0 * p.throttle] * SAMPLES)
        restarts = self._counter([p.restarts / SAMPLES] * SAMPLES, integer=True)
        self.series.append(
            Series(
                "container_cpu_usage_seconds",
                "counter",
                labels | {"image": _IMAGES[spec.runtime]},
                self._counter([c * STEP_S for c in cpu]),
            )
        )
        self.series.append(
            Series("container_cpu_cfs_periods", "counter", labels | {"image": _IMAGES[spec.runtime]}, periods)
        )
        self.series.append(
            Series(
                "container_cpu_cfs_throttled_periods", "counter", labels | {"image": _IMAGES[spec.runtime]}, throttled
            )
        )
        self.series.append(
            Series(
                "container_memory_working_set_bytes",
                "gauge",
                labels | {"image": _IMAGES[spec.runtime]},
                [round(m) for m in memory],
            )
        )
        self.series.append(Series("kube_pod_container_status_restarts", "counter", labels, restarts))
        self.series.append(
            Series(
                "kube_pod_container_resource_requests",
                "gauge",
                labels | {"resource": "nvidia_com_gpu", "unit": "integer"},
                [float(spec.gpus)] * SAMPLES,
            )
        )
        if p.oom_kills:
            self.series.append(
                Series(
                    "kube_pod_container_status_last_terminated_reason",
                    "gauge",
                    labels | {"reason": "OOMKilled"},
                    [0.0] * (SAMPLES // 2) + [1.0] * (SAMPLES - SAMPLES // 2),
                )
            )
        c_row = row | {"source": "container", "container": "engine", "node": node}
        self._stats(c_row, Signal.CPU_USAGE_CORES, cpu, ("mean", "p95"))
        self.metrics.append(
            MetricRow(**c_row, signal=Signal.CPU_THROTTLE_RATIO.value, stat="mean", value=p.throttle, samples=SAMPLES)
        )
        self._stats(c_row, Signal.MEMORY_WORKING_SET_BYTES, memory, ("max",))
        self.metrics.append(
            MetricRow(
                **c_row,
                signal=Signal.RESTARTS.value,
                stat="increase",
                value=float(restarts[-1] - restarts[0]),
                samples=SAMPLES,
            )
        )
        self.metrics.append(
            MetricRow(
                **c_row, signal=Signal.OOM_KILLED.value, stat="max", value=float(p.oom_kills > 0), samples=SAMPLES
            )
        )

    @staticmethod
    def _counter(increments: list[float], *, integer: bool = False) -> list[float]:
        total, out, carry = 0.0, [], 0.0
        for inc in increments:
            if integer:
                carry += inc
                step = math.floor(carry + 1e-9)
                carry -= step
                total += step
            else:
                total += inc
            out.append(round(total, 3))
        return out


def generate(*, seed: int = DEFAULT_SEED) -> DemoFleet:
    b = _Builder(seed)
    by_name = {c.name: c for c in CLUSTERS}
    fragmentation_pools = {(w.cluster, w.gpu) for w in WORKLOADS if "gpu_fragmentation" in w.expect}
    for cluster in CLUSTERS:
        b.add_node(cluster, "", 0)  # system node: CPU only, must be ignored
    for spec in WORKLOADS:
        cluster = by_name[spec.cluster]
        filler = (spec.cluster, spec.gpu) in fragmentation_pools and not spec.expect and spec.gpus == 1
        nodes = b.place(cluster, spec, spread=filler)
        pods = b.add_workload(cluster, spec, nodes)
        b.add_metrics(cluster, spec, pods)
        identity = {
            "cluster": spec.cluster,
            "namespace": spec.namespace,
            "workload_kind": "Deployment",
            "workload": spec.name,
        }
        if spec.expect:
            b.truth.extend(identity | {"type": t} for t in spec.expect)
        else:
            b.healthy.append(identity)
    for cluster_name, gpu, count, reason in SPARE_NODES:
        cluster = by_name[cluster_name]
        b.add_node(cluster, gpu, count, cordoned="cordoned" in reason)
    for cluster_name, nodes in b.node_free.items():
        for node, free in sorted(nodes.items()):
            if free > 0:
                b.truth.append(
                    {
                        "cluster": cluster_name,
                        "namespace": "",
                        "workload_kind": "Node",
                        "workload": node,
                        "type": "dark_capacity",
                    }
                )
    for cluster in CLUSTERS:
        namespaces = sorted({w.namespace for w in WORKLOADS if w.cluster == cluster.name})
        b.inventory[cluster.name]["namespaces"] = [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": _meta(ns, labels={"kubernetes.io/metadata.name": ns}, uid=b.next_uid()),
                "spec": {},
                "status": {"phase": "Active"},
            }
            for ns in namespaces
        ]
    inventory = {cluster: dict(kinds) for cluster, kinds in b.inventory.items()}
    return DemoFleet(
        at=DEMO_AT,
        inventory=inventory,
        metrics=b.metrics,
        series=b.series,
        ground_truth={"at": DEMO_AT.isoformat(), "seed": seed, "problems": b.truth, "healthy": b.healthy},
        nodes=sum(len(k["nodes"]) for k in inventory.values()),
        workloads=len(WORKLOADS),
        gpus=sum(int(n["status"]["capacity"].get("nvidia.com/gpu", 0)) for k in inventory.values() for n in k["nodes"]),
    )


def write_openmetrics(series: list[Series], path: Path, *, end: datetime) -> None:
    """promtool-backfillable: families contiguous, samples ascending, timestamps in seconds, `# EOF`."""
    start = end - timedelta(hours=WINDOW_HOURS)
    by_family: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        by_family[s.family].append(s)
    with path.open("w") as out:
        for family, members in sorted(by_family.items()):
            kind = members[0].kind
            out.write(f"# TYPE {family} {kind}\n")
            suffix = "_total" if kind == "counter" else ""
            for s in members:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                for i, value in enumerate(s.values):
                    ts = int((start + timedelta(seconds=(i + 1) * STEP_S)).timestamp())
                    out.write(f"{family}{suffix}{{{labels}}} {value:g} {ts}\n")
        out.write("# EOF\n")


def write_fleet(fleet: DemoFleet, out: Path) -> dict[str, Path]:
    """Writes the fleet and an inferops.yaml that assesses it offline; returns the paths written."""
    import pandas as pd

    from inferops_pipeline.sources.prometheus import write_metrics_snapshot  # the snapshot format belongs to the source

    out.mkdir(parents=True, exist_ok=True)
    for cluster, kinds in fleet.inventory.items():
        folder = out / "inventory" / cluster
        folder.mkdir(parents=True, exist_ok=True)
        for kind, items in kinds.items():
            (folder / f"{kind}.json").write_text(
                json.dumps(
                    {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}, indent=1
                )
            )
    metrics_path = out / "metrics.parquet"
    frame = pd.DataFrame([{column: getattr(r, column) for column in r.__slots__} for r in fleet.metrics])
    write_metrics_snapshot(frame, metrics_path)
    om_path = out / "metrics.om"
    write_openmetrics(fleet.series, om_path, end=fleet.at)
    truth_path = out / "ground_truth.json"
    truth_path.write_text(json.dumps(fleet.ground_truth, indent=1))
    config = {
        "warehouse": "warehouse.duckdb",
        "window": f"{WINDOW_HOURS}h",
        "at": fleet.at.isoformat(),
        "clusters": [
            {
                "name": c.name,
                "kubernetes": {"snapshot": f"inventory/{c.name}"},
                "prometheus": {"snapshot": "metrics.parquet"},
                "cloud": c.cloud,
                "region": c.region,
            }
            for c in CLUSTERS
        ],
        "remediation": {
            "approvers": ["alice@example.com"],
            "namespaces": ["llm-serving", "inference"],
            "max_changes_per_run": 5,
        },
    }
    import yaml

    config_path = out / "inferops.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return {
        "config": config_path,
        "metrics": metrics_path,
        "openmetrics": om_path,
        "ground_truth": truth_path,
        "inventory": out / "inventory",
    }
