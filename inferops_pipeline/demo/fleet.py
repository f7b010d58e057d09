"""Deterministic demo fleet: kubectl-JSON inventory, raw series (OpenMetrics), metric snapshot, ground truth."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelCatalog
from inferops_pipeline.catalog.prices import InstancePrice, PriceCatalog
from inferops_pipeline.demo import promql
from inferops_pipeline.demo.spec import DEMO, FLEETS, ClusterSpec, FleetSpec, Profile, WorkloadSpec
from inferops_pipeline.domain import HOURS_PER_MONTH, MetricRow, Signal
from inferops_pipeline.settings import Thresholds
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
    values: Sequence[float | None]
    cluster: str = ""


def _memory_gib(catalog: GpuCatalog, gpu: str) -> float:
    spec = catalog.get(gpu)
    return spec.memory_gib if spec else 0.0


def _gpu_resource(spec: WorkloadSpec) -> str:
    return f"nvidia.com/mig-{spec.mig}" if spec.mig else "nvidia.com/gpu"


def _ksm_resource(spec: WorkloadSpec) -> str:
    # kube-state-metrics sanitises resource names: nvidia.com/mig-1g.10gb → nvidia_com_mig_1g_10gb
    return _gpu_resource(spec).replace(".", "_").replace("/", "_").replace("-", "_")


def _shape_base(traffic: str, hour: int) -> float:
    """Designed relative load of one window hour, before noise and normalisation."""
    if traffic == "flat":
        return 1.0
    if traffic == "bursty":
        return 4.0 if hour in (9, 10, 14, 15) else 0.4
    return 1.0 + 0.5 * math.sin(2 * math.pi * (hour - 8) / 24)


@dataclass(frozen=True, slots=True)
class NodePrice:
    """What one demo node costs: the bundled catalog row it was built from, at its capacity type."""

    hourly_usd: float
    gpus: int
    label: str  # cloud/region/instance_type capacity $/h

    @classmethod
    def of(cls, row: InstancePrice, capacity_type: str) -> NodePrice:
        return cls(_row_hourly(row, capacity_type), int(row.gpu_count), _row_label(row, capacity_type))

    @property
    def gpu_hour_usd(self) -> float:
        return self.hourly_usd / self.gpus


def _row_hourly(row: InstancePrice, capacity_type: str) -> float:
    if capacity_type == "spot" and row.spot_usd_hr is not None:
        return row.spot_usd_hr
    return row.ondemand_usd_hr


def _row_label(row: InstancePrice, capacity_type: str) -> str:
    return (
        f"{row.cloud}/{row.region}/{row.instance_type} {capacity_type} "
        f"${_row_hourly(row, capacity_type):g}/h ÷ {row.gpu_count:g} GPU"
    )


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
    clusters: tuple[ClusterSpec, ...] = DEMO.clusters
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
        self.truth: list[dict[str, Any]] = []
        self.healthy: list[dict[str, str]] = []
        self.uid = 0
        self.node_free: dict[str, dict[str, int]] = defaultdict(dict)  # cluster → node → free GPUs
        self.node_gpu: dict[str, dict[str, str]] = defaultdict(dict)
        self._reserved: set[str] = set()  # fragmentation-filler nodes other workloads must not use
        self.node_used: dict[str, dict[str, int]] = defaultdict(dict)  # GPU indices taken per node
        self.node_price: dict[str, dict[str, NodePrice]] = defaultdict(dict)  # the catalog row each node was built from

    def next_uid(self) -> int:
        self.uid += 1
        return self.uid

    # ---------------------------------------------------------------- nodes
    def instance_row(self, cluster: ClusterSpec, gpu: str, count: int) -> InstancePrice:
        found = self.prices.instance_for_gpus(
            cloud=cluster.cloud, region=cluster.region, gpu_model=gpu, gpu_count=count
        )
        if found is None:
            raise ValueError(f"demo: no {count}×{gpu} instance in {cluster.cloud}/{cluster.region}")
        return found

    def instance(self, cluster: ClusterSpec, gpu: str, count: int) -> str:
        return self.instance_row(cluster, gpu, count).instance_type

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
                "nvidia.com/gpu.memory": str(int(_memory_gib(self.gpus, gpu) * 1024)),
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
            self.node_price[cluster.name][name] = NodePrice.of(self.instance_row(cluster, gpu, count), capacity_type)
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
        elif spec.pending == spec.replicas:
            # Without GPU labels a team that wants a GPU it has no node of pins the instance type it needs.
            size = spec.gpus if spec.gpus >= 8 or self._has_instance(cluster, spec.gpu, spec.gpus) else 8
            selector = {"node.kubernetes.io/instance-type": self.instance(cluster, spec.gpu, size)}
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
                            # The replica was added (a rollout or scale-up) the afternoon before the assessment.
                            "lastTransitionTime": "2026-11-30T14:20:00Z",
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
    # Every statistic below is computed from the exact values written to metrics.om, with
    # Prometheus' own rules (demo/promql.py), so live queries and the snapshot agree.

    def load_curve(self, profile: Profile) -> list[float]:
        """Relative load per sample (mean ≈ 1)."""
        curve = []
        for i in range(SAMPLES):
            base = _shape_base(profile.traffic, i * STEP_S // 3600)
            curve.append(base * (1 + self.rng.gauss(0, 0.02)))
        mean = statistics.fmean(curve)
        return [c / mean for c in curve]

    def add_series(self, family: str, kind: str, labels: dict[str, str], values: Sequence[float | None]) -> Series:
        s = Series(family, kind, labels, values, self.cluster_name)
        self.series.append(s)
        return s

    def points(self, s: Series) -> list[promql.Point]:
        return [(t, v) for t, v in zip(self.times, s.values, strict=True) if v is not None]

    def emit(self, row: dict[str, str], signal: Signal, stat: str, value: float | None, samples: int) -> None:
        if value is None or not math.isfinite(value):
            return  # Prometheus returns nothing (NaN is dropped by the source), so neither do we
        self.metrics.append(MetricRow(**row, signal=signal.value, stat=stat, value=value, samples=samples))

    def count_rows(self, row: dict[str, str], signal: Signal, s: Series) -> int:
        """The `hours` row of one identity; returns its sample count for the value rows."""
        pts = self.points(s)
        hours = promql.hours_with_data(pts, start=self.start, end=self.end, ceiling=WINDOW_HOURS)
        self.emit(row, signal, "hours", hours, len(pts))
        return len(pts)

    def gauge_rows(
        self, row: dict[str, str], signal: Signal, s: Series, stats: tuple[str, ...], *, scale: float = 1.0
    ) -> None:
        samples = self.count_rows(row, signal, s)
        values = [v for _, v in self.points(s)]
        for stat in stats:
            self.emit(row, signal, stat, promql.over_time(stat, values) / scale, samples)

    def increase(self, s: Series) -> float | None:
        return promql.extrapolated_increase(self.points(s), self.start, self.end)

    def counter_rows(self, row: dict[str, str], signal: Signal, s: Series) -> None:
        samples = self.count_rows(row, signal, s)
        self.emit(row, signal, "increase", self.increase(s), samples)

    def counter(self, increments: list[float], *, digits: int = 3) -> list[float | None]:
        """Cumulative values starting at 0 on the first scrape (the pod started with the window)."""
        total, out = 0.0, []
        for i, inc in enumerate(increments):
            if i:
                total = round(total + inc, digits)
            out.append(total)
        return list(out)

    def histogram(
        self,
        row: dict[str, str],
        signal: Signal,
        family: str,
        labels: dict[str, str],
        requests: list[float],
        median: float,
    ) -> None:
        """Bucket counters for a latency whose per-step distribution is log-normal around `median`."""
        bounds = [median * f for f in (0.25, 0.5, 0.8, 1.0, 1.25, 1.6, 2.5, 4.0)]
        bounds = [float(f"{b:.4g}") for b in bounds] + [math.inf]
        shares = [0.5 * (1 + math.erf(math.log(b / median) / (0.45 * math.sqrt(2)))) if b != math.inf else 1.0
                  for b in bounds]  # fmt: skip
        buckets = []
        for bound, share in zip(bounds, shares, strict=True):
            le = "+Inf" if bound == math.inf else f"{bound:g}"
            values = self.counter([r * STEP_S * share for r in requests], digits=2)
            buckets.append((bound, self.add_series(f"{family}_bucket", "unknown", labels | {"le": le}, values)))
        samples = self.count_rows(row, signal, buckets[-1][1])
        increases = [(bound, self.increase(s) or 0.0) for bound, s in buckets]
        for q in ("50", "95", "99"):
            self.emit(row, signal, f"p{q}", promql.histogram_quantile(float(f"0.{q}"), increases), samples)

    def add_metrics(self, cluster: ClusterSpec, spec: WorkloadSpec, pods: list[tuple[str, str]]) -> None:
        self.cluster_name = cluster.name
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
        card_mib = (gpu_spec.memory_gib if gpu_spec else 24) * 1024
        mig_uuid = f"GPU-{self.rng.getrandbits(64):016x}" if spec.mig else ""
        for replica, (pod, node) in enumerate(pods):
            load = self.load_curve(p)
            peak = max(load)
            row = {"cluster": cluster.name, "namespace": spec.namespace, "pod": pod}
            if p.has_gpu_metrics and cluster.dcgm:
                for _ in range(spec.gpus):
                    index = self.node_used[cluster.name].get(node, 0)
                    self.node_used[cluster.name][node] = index + 1
                    util = [min(0.99, max(0.0, p.util * x * (1 + self.rng.gauss(0, 0.03)))) for x in load]
                    if spec.mig:
                        uuid, total_mib = mig_uuid, float(int(spec.mig.split("g.")[1].rstrip("gb")) * 1024)
                        extra = {"GPU_I_ID": str(replica + 1), "GPU_I_PROFILE": spec.mig}
                    else:
                        uuid, total_mib, extra = f"GPU-{self.rng.getrandbits(64):016x}", card_mib, {}
                    owner = {"namespace": spec.namespace, "pod": pod, "container": "engine"}
                    self.gpu_series(cluster, spec.gpu, node, index, uuid, total_mib, util, p.fb_frac, owner, extra,
                                    gap=spec.gpu_gap_hours)  # fmt: skip
            if p.has_engine_metrics:
                self._engine_series(cluster, spec, pod, load, peak, pool_tokens, row)
            if p.has_container_metrics:
                self._container_series(cluster, spec, pod, node, load, row)

    def gpu_series(
        self,
        cluster: ClusterSpec,
        gpu: str,
        node: str,
        index: int,
        uuid: str,
        total_mib: float,
        util: list[float],
        fb_frac: float,
        owner: dict[str, str] | None,
        extra: dict[str, str],
        *,
        gap: tuple[int, int] | None = None,
    ) -> None:
        """DCGM series of one GPU (or MIG instance), labelled the way the cluster's exporter set-up does."""
        self.cluster_name = cluster.name
        exporter = {
            "namespace": "gpu-operator",
            "pod": f"nvidia-dcgm-exporter-{node[-3:]}",
            "container": "nvidia-dcgm-exporter",
        }
        labels = {
            "gpu": str(index),
            "UUID": uuid,
            "device": f"nvidia{index}",
            "modelName": _GFD_PRODUCT.get(gpu, gpu).replace("-", " "),
            cluster.dcgm_hostname_label: node,
        } | extra
        if owner is None:
            labels |= exporter  # an unallocated GPU shows the exporter's own pod
        elif cluster.dcgm_honor_labels:
            labels |= owner
        else:
            labels |= exporter | {f"exported_{k}": v for k, v in owner.items()}

        def cut(values: list[float]) -> list[float | None]:
            if gap is None:
                return list(values)
            lo, hi = gap[0] * 3600 // STEP_S, gap[1] * 3600 // STEP_S
            return [None if lo <= i < hi else v for i, v in enumerate(values)]

        row = {
            "cluster": cluster.name,
            "source": "gpu",
            "node": node,
            "gpu_uuid": uuid + (f"/mig-{extra['GPU_I_ID']}" if extra else ""),
        }
        row |= {"namespace": "", "pod": "", "container": ""} if owner is None else owner
        reserved = 0.0 if not cluster.dcgm_profiling else float(round(total_mib * 0.005))
        fb = [float(round(total_mib * fb_frac * (1 + self.rng.uniform(-0.002, 0.0)))) for _ in util]
        free = [max(0.0, total_mib - reserved - v) for v in fb]
        if cluster.dcgm_profiling:
            s = self.add_series("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", labels, cut([round(u, 4) for u in util]))
            self.gauge_rows(row, Signal.GPU_UTIL, s, ("mean", "p50", "p95", "p99", "max"))
        else:
            s = self.add_series("DCGM_FI_DEV_GPU_UTIL", "gauge", labels, cut([round(u * 100, 2) for u in util]))
            self.gauge_rows(row, Signal.GPU_UTIL, s, ("mean", "p50", "p95", "p99", "max"), scale=100.0)
        used_s = self.add_series("DCGM_FI_DEV_FB_USED", "gauge", labels, cut(fb))
        self.gauge_rows(row, Signal.GPU_FB_USED_MIB, used_s, ("mean", "max"))
        free_s = self.add_series("DCGM_FI_DEV_FB_FREE", "gauge", labels, cut(free))
        self.gauge_rows(row, Signal.GPU_FB_FREE_MIB, free_s, ("min", "last"))
        total = [v for _, v in self.points(used_s)][-1] + [v for _, v in self.points(free_s)][-1]
        if cluster.dcgm_profiling:
            res_s = self.add_series("DCGM_FI_DEV_FB_RESERVED", "gauge", labels, cut([reserved] * SAMPLES))
            self.gauge_rows(row, Signal.GPU_FB_RESERVED_MIB, res_s, ("last",))
            total += reserved
        samples = self.count_rows(row, Signal.GPU_FB_TOTAL_MIB, used_s)
        self.emit(row, Signal.GPU_FB_TOTAL_MIB, "max", total, samples)
        # Board power from idle (~15% of TDP with weights loaded) to ~90% of TDP when saturated, per GPU model.
        gpu_spec = self.gpus.get(gpu)
        tdp = (gpu_spec.tdp_w if gpu_spec is not None else None) or 300.0
        watts = [round(tdp * (0.15 + 0.75 * u), 1) for u in util]
        power = self.add_series("DCGM_FI_DEV_POWER_USAGE", "gauge", labels, cut(watts))
        self.gauge_rows(row, Signal.GPU_POWER_W, power, ("mean", "max"))
        if cluster.dcgm_sm_dram:
            sm = self.add_series("DCGM_FI_PROF_SM_ACTIVE", "gauge", labels, cut([round(0.8 * u, 4) for u in util]))
            self.gauge_rows(row, Signal.GPU_SM_ACTIVE, sm, ("mean", "p95"))
            dram = self.add_series("DCGM_FI_PROF_DRAM_ACTIVE", "gauge", labels, cut([round(0.5 * u, 4) for u in util]))
            self.gauge_rows(row, Signal.GPU_DRAM_ACTIVE, dram, ("mean", "p95"))

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
        model = {"triton": spec.model, "tgi": ""}.get(spec.runtime, served)  # TGI series carry no model label
        kv = [round(min(0.995, max(0.0, p.kv * x * (1 + self.rng.gauss(0, 0.01)))), 4) for x in load]
        waiting = [float(round(p.waiting * x / peak)) for x in load]
        running = [max(1.0, float(round(p.rps * 4 * x))) for x in load]
        s_row = row | {"source": "serving", "model": model}
        labels = {"namespace": spec.namespace, "pod": pod}
        requests = [p.rps * x for x in load]
        ttft_median = 0.12 + p.waiting / 50 + 1.5 * max(0.0, p.kv - 0.85)
        itl_median = 0.02 + 0.03 * p.util
        running_s = waiting_s = kv_s = None
        if spec.runtime == "vllm":
            old = cluster.vllm_old_metric_names
            labels |= {"model_name": served, "engine": "0"}
            kv_s = self.add_series(
                "vllm:gpu_cache_usage_perc" if old else "vllm:kv_cache_usage_perc", "gauge", labels, kv
            )
            waiting_s = self.add_series("vllm:num_requests_waiting", "gauge", labels, waiting)
            running_s = self.add_series("vllm:num_requests_running", "gauge", labels, running)
            preempt = self.add_series(
                "vllm:num_preemptions",
                "counter",
                labels,
                self.counter([p.preemptions_per_hour * STEP_S / 3600 * x for x in load]),
            )
            self.counter_rows(s_row, Signal.PREEMPTIONS, preempt)
            info = labels | {
                "block_size": "16",
                "num_gpu_blocks": str(pool_tokens // 16),
                "gpu_memory_utilization": str(spec.gpu_memory_utilization),
                "cache_dtype": "auto",
            }
            info_s = self.add_series("vllm:cache_config_info", "gauge", info, [1.0] * SAMPLES)
            samples = self.count_rows(s_row, Signal.KV_POOL_TOKENS, info_s)
            self.emit(s_row, Signal.KV_POOL_TOKENS, "max", float(pool_tokens // 16 * 16) or None, samples)
            prefix, success = "vllm:", "vllm:request_success"
            self.histogram(
                s_row, Signal.TTFT_SECONDS, "vllm:time_to_first_token_seconds", labels, requests, ttft_median
            )
            itl = "vllm:time_per_output_token_seconds" if old else "vllm:inter_token_latency_seconds"
            self.histogram(s_row, Signal.ITL_SECONDS, itl, labels, requests, itl_median)
        elif spec.runtime == "sglang":
            labels |= {"model_name": served}
            kv_s = self.add_series("sglang:token_usage", "gauge", labels, kv)
            waiting_s = self.add_series("sglang:num_queue_reqs", "gauge", labels, waiting)
            running_s = self.add_series("sglang:num_running_reqs", "gauge", labels, running)
            prefix, success = "sglang:", "sglang:num_requests"
            self.histogram(s_row, Signal.TTFT_SECONDS, "sglang:time_to_first_token_seconds", labels, requests,
                           ttft_median)  # fmt: skip
            self.histogram(
                s_row, Signal.ITL_SECONDS, "sglang:inter_token_latency_seconds", labels, requests, itl_median
            )
        elif spec.runtime == "tgi":
            # TGI exposes no KV-usage ratio: tokens in the running batch stand in (vs --max-batch-total-tokens).
            waiting_s = self.add_series("tgi_queue_size", "gauge", labels, waiting)
            running_s = self.add_series("tgi_batch_current_size", "gauge", labels, running)
            batch = self.add_series("tgi_batch_current_max_tokens", "gauge", labels, [r * 900.0 for r in running])
            self.gauge_rows(s_row, Signal.BATCH_TOKENS, batch, ("p95", "max"))
            prefix, success = "", ""
            self.histogram(s_row, Signal.ITL_SECONDS, "tgi_request_mean_time_per_token_duration", labels, requests,
                           itl_median)  # fmt: skip
        else:
            labels |= {"model": spec.model, "version": "1"}
            kv_s = self.add_series(
                "nv_trt_llm_kv_cache_block_metrics", "gauge", labels | {"kv_cache_block_type": "fraction"}, kv
            )
            waiting_s = self.add_series(
                "nv_trt_llm_request_metrics", "gauge", labels | {"request_type": "waiting"}, waiting
            )
            running_s = self.add_series(
                "nv_trt_llm_request_metrics", "gauge", labels | {"request_type": "scheduled"}, running
            )
            prefix, success = "", ""
        if kv_s is not None:
            self.gauge_rows(s_row, Signal.KV_CACHE_USAGE, kv_s, ("mean", "p50", "p95", "p99", "max"))
        self.gauge_rows(s_row, Signal.REQUESTS_WAITING, waiting_s, ("mean", "p95", "max"))
        self.gauge_rows(s_row, Signal.REQUESTS_RUNNING, running_s, ("mean", "p95", "p99", "max"))
        if prefix:
            prompt = self.add_series(
                f"{prefix}prompt_tokens", "counter", labels, self.counter([r * STEP_S * 900 for r in requests])
            )
            self.counter_rows(s_row, Signal.PROMPT_TOKENS, prompt)
            gen = self.add_series(
                f"{prefix}generation_tokens", "counter", labels, self.counter([r * STEP_S * 220 for r in requests])
            )
            self.counter_rows(s_row, Signal.GENERATION_TOKENS, gen)
            done = self.add_series(success, "counter", labels, self.counter([r * STEP_S for r in requests]))
        else:
            # TGI's and Triton's request counters have no _total suffix (Rust metrics crate, Triton core).
            name = "tgi_request_success" if spec.runtime == "tgi" else "nv_inference_request_success"
            done = self.add_series(name, "unknown", labels, self.counter([r * STEP_S for r in requests]))
        pts = self.points(done)
        t_row = row | {"source": "traffic", "model": model}
        for hour in range(WINDOW_HOURS):
            t = self.start + (hour + 1) * 3600
            rate = promql.extrapolated_increase(pts, t - 3600, t, rate=True)
            self.emit(t_row, Signal.REQUEST_RATE, f"h{hour:02d}", rate, len(promql.in_range(pts, t - 3600, t)))

    def _container_series(
        self, cluster: ClusterSpec, spec: WorkloadSpec, pod: str, node: str, load: list[float], row: dict[str, str]
    ) -> None:
        p = spec.profile
        labels = {"namespace": spec.namespace, "pod": pod, "container": "engine", "node": node}
        cadvisor = labels | {"image": _IMAGES[spec.runtime]}
        cpu = [round(min(spec.cpu_limit or 1e9, p.cpu_cores * (0.7 + 0.3 * x)), 4) for x in load]
        limit_bytes = spec.memory_limit_gib * 2**30
        memory = [float(round(limit_bytes * p.memory_frac * (0.92 + 0.08 * x / max(load)))) for x in load]
        c_row = row | {"source": "container", "container": "engine"}
        raw = self.add_series(
            "container_cpu_usage_seconds", "counter", cadvisor, self.counter([c * STEP_S for c in cpu])
        )
        if cluster.cpu_recording_rule:
            rule = self.add_series(
                "node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m", "gauge", labels, cpu
            )
            self.gauge_rows(c_row, Signal.CPU_USAGE_CORES, rule, ("mean", "p95", "max"))
        else:
            # What `rate(...[5m])` evaluated every 5 minutes over the window returns (a subquery).
            pts = self.points(raw)
            steps = [self.start + i * STEP_S for i in range(SAMPLES + 1)]
            rates = [promql.extrapolated_increase(pts, t - 300, t, rate=True) for t in steps]
            values = [r for r in rates if r is not None]
            samples = self.count_rows(c_row, Signal.CPU_USAGE_CORES, raw)
            for stat in ("mean", "p95", "max"):
                self.emit(c_row, Signal.CPU_USAGE_CORES, stat, promql.over_time(stat, values), samples)
        periods = self.add_series(
            "container_cpu_cfs_periods", "counter", cadvisor, self.counter([STEP_S * 10.0] * SAMPLES)
        )
        throttled = self.add_series(
            "container_cpu_cfs_throttled_periods",
            "counter",
            cadvisor,
            self.counter([STEP_S * 10.0 * p.throttle] * SAMPLES),
        )
        samples = self.count_rows(c_row, Signal.CPU_THROTTLE_RATIO, periods)
        all_periods, slow = self.increase(periods), self.increase(throttled)
        ratio = slow / all_periods if slow is not None and all_periods else None
        self.emit(c_row, Signal.CPU_THROTTLE_RATIO, "mean", ratio, samples)
        ws = self.add_series("container_memory_working_set_bytes", "gauge", cadvisor, memory)
        self.gauge_rows(c_row, Signal.MEMORY_WORKING_SET_BYTES, ws, ("p95", "max"))
        # Restarts spread evenly over the window; the counter starts at 0 with the pod.
        at = {round((k + 0.5) * (SAMPLES - 1) / p.restarts) for k in range(p.restarts)} if p.restarts else set()
        restarts = self.add_series(
            "kube_pod_container_status_restarts",
            "counter",
            labels,
            self.counter([1.0 if i in at else 0.0 for i in range(SAMPLES)]),
        )
        self.counter_rows(c_row, Signal.RESTARTS, restarts)
        self.add_series(
            "kube_pod_container_resource_requests",
            "gauge",
            labels | {"resource": _ksm_resource(spec), "unit": "integer"},
            [float(spec.gpus)] * SAMPLES,
        )
        restarted = (self.increase(restarts) or 0.0) > 0
        reason_max = 0.0
        if p.oom_kills:
            reason = self.add_series(
                "kube_pod_container_status_last_terminated_reason",
                "gauge",
                labels | {"reason": "OOMKilled"},
                [0.0] * (SAMPLES // 2) + [1.0] * (SAMPLES - SAMPLES // 2),
            )
            reason_max = max(v for _, v in self.points(reason))
        samples = self.count_rows(c_row, Signal.OOM_KILLED, restarts)
        self.emit(c_row, Signal.OOM_KILLED, "max", reason_max if (p.oom_kills and restarted) else 0.0, samples)

    def unallocated_gpus(self, cluster: ClusterSpec) -> None:
        """Every GPU no pod holds still reports to DCGM, under the exporter's own pod."""
        if not cluster.dcgm:
            return
        for node in self.inventory[cluster.name]["nodes"]:
            name = node["metadata"]["name"]
            capacity = int(node["status"]["capacity"].get("nvidia.com/gpu", 0))
            gpu = self.node_gpu[cluster.name].get(name, "")
            spec = self.gpus.get(gpu)
            total_mib = (spec.memory_gib if spec else 24) * 1024
            for index in range(self.node_used[cluster.name].get(name, 0), capacity):
                uuid = f"GPU-{self.rng.getrandbits(64):016x}"
                self.gpu_series(cluster, gpu, name, index, uuid, total_mib, [0.0] * SAMPLES, 0.0, None, {})


# ---------------------------------------------------------------- expected dollars (ground truth)
# Computed from the design itself — the catalog rows the nodes were built from, replicas, GPUs and the designed
# profile — never from the detectors, so the scenario test compares two independent derivations of every figure.

# Registry precedence as DESIGN §4 / detectors/registry.py document it: the order in which findings on one budget
# (a workload's spend, a node's price) claim its dollars. The documented contract, restated here on purpose.
PRECEDENCE: tuple[str, ...] = (
    "idle_gpu",
    "overprovisioned_replicas",
    "bursty_without_autoscaling",
    "dark_capacity",
    "kv_cache_oversized",
    "cpu_gpu_imbalance",
    "tier_misplacement",
    "oom_exposure",
    "kv_cache_pressure",
    "undersized_gpu",
    "pending_gpu_workload",
    "gpu_fragmentation",
    "observability_gap",
)
RISK_TYPES = frozenset({"oom_exposure", "kv_cache_pressure", "undersized_gpu", "pending_gpu_workload",
                        "gpu_fragmentation"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Expected:
    waste: float
    risk: float
    why: str
    settled_away: bool = False  # it claimed dollars, all already counted by an earlier finding: no finding at all


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


def _rate(amount: float) -> str:
    """A GPU-hour or replica-hour price, with the digits the catalog gives it."""
    return f"${amount:,.4f}"


def designed_hourly_shape(profile: Profile) -> list[float]:
    """The designed relative load per window hour, noise-free, normalised to mean 1 (what load_curve is around)."""
    base = [_shape_base(profile.traffic, hour) for hour in range(WINDOW_HOURS)]
    mean = statistics.fmean(base)
    return [b / mean for b in base]


def designed_p95(level: float, profile: Profile) -> float:
    """p95 over the window of a signal designed at `level` × load (per-sample shape, noise-free)."""
    per_sample = [x for x in designed_hourly_shape(profile) for _ in range(3600 // STEP_S)]
    return min(0.99, level * promql.quantile(0.95, per_sample))


class _Expectations:
    """Expected monthly_waste_usd / monthly_at_risk_usd of each injected problem, settled like DESIGN §4 says."""

    def __init__(self, b: _Builder, clusters: dict[str, ClusterSpec], placed: dict[tuple[str, str, str], list[str]]):
        self.b = b
        self.clusters = clusters
        self.placed = placed
        self.t = Thresholds()  # the documented defaults the demo's inferops.yaml leaves in place

    def nodes_of(self, spec: WorkloadSpec) -> list[str]:
        return self.placed[(spec.cluster, spec.namespace, spec.name)]

    def spend_hourly(self, spec: WorkloadSpec) -> tuple[float, str]:
        """Hourly price of the GPUs its running replicas hold, replica by replica from their nodes' rows."""
        prices = self.b.node_price[spec.cluster]
        per_node: dict[str, int] = defaultdict(int)
        for node in self.nodes_of(spec):
            per_node[node] += 1
        hourly = sum(spec.gpus * prices[n].gpu_hour_usd for n in self.nodes_of(spec))
        groups: dict[str, int] = defaultdict(int)
        for node, count in per_node.items():
            groups[prices[node].label] += count
        basis = "; ".join(f"{n} replica(s) on {label}" for label, n in sorted(groups.items()))
        return hourly, basis

    def gpu_hour(self, spec: WorkloadSpec) -> tuple[float, str]:
        """Mean GPU-hour price over its running replicas (what one replica's GPU costs)."""
        nodes = self.nodes_of(spec)
        hourly, basis = self.spend_hourly(spec)
        return hourly / (len(nodes) * spec.gpus), basis

    def pending_gpu_hour(self, spec: WorkloadSpec) -> tuple[float, str]:
        """GPU-hour the pending replicas would cost once scheduled: their siblings' nodes, else the cluster's pool of
        that GPU, else the instance the demo's own placement would buy for one replica."""
        if self.nodes_of(spec):
            return self.gpu_hour(spec)
        prices, gpus = self.b.node_price[spec.cluster], self.b.node_gpu[spec.cluster]
        pool = sorted(n for n, g in gpus.items() if g == spec.gpu)
        if pool:
            labels = sorted({prices[n].label for n in pool})
            return statistics.fmean(prices[n].gpu_hour_usd for n in pool), f"{spec.gpu} pool: {'; '.join(labels)}"
        cluster = self.clusters[spec.cluster]
        size = spec.gpus if spec.gpus >= 8 or self.b._has_instance(cluster, spec.gpu, spec.gpus) else 8
        price = NodePrice.of(self.b.instance_row(cluster, spec.gpu, size), spec.capacity_type)
        return price.gpu_hour_usd, f"no {spec.gpu} node in {spec.cluster}; one would be {price.label}"

    def target_hourly(self, spec: WorkloadSpec) -> tuple[float, str]:
        """Per-replica price of the designed target, which must hold the model (sizing physics) to be a design."""
        target = spec.target
        if target is None:
            raise ValueError(f"demo design: {spec.name} expects a cheaper layout but names no target")
        cluster = self.clusters[spec.cluster]
        rows = [
            r
            for r in self.b.prices.all()
            if r.cloud == cluster.cloud
            and r.region == cluster.region
            and r.gpu_model == target.gpu
            and r.gpu_count >= 1
        ]
        if not rows:
            raise ValueError(f"demo design: no {target.gpu} row in {cluster.cloud}/{cluster.region}")
        row = min(rows, key=lambda r: (_row_hourly(r, spec.capacity_type) / r.gpu_count, r.instance_type))
        per_gpu = _row_hourly(row, spec.capacity_type) / row.gpu_count
        card = self.b.gpus.get(target.gpu)
        arch = self.b.models.get(spec.model)
        if card is None or arch is None:
            raise ValueError(f"demo design: {target.gpu} or {spec.model} not in the bundled catalogs")
        memory = card.memory_gib
        share = 1.0
        if target.mig:
            share = self.b.gpus.mig_share(target.gpu, target.mig)
            memory = float(int(target.mig.split("g.")[1].rstrip("gb")))
        sized = fit(arch, gpu_memory_gib=memory, gpu_count=target.gpus, engine=spec.runtime,
                    gpu_memory_utilization=spec.gpu_memory_utilization, max_model_len=spec.max_model_len)  # fmt: skip
        if not sized.fits:
            raise ValueError(f"demo design: {spec.model} does not fit its target {target}")
        hourly = target.gpus * per_gpu * share
        what = f"{target.mig} MIG slice ({share:.4f} of the card) of " if target.mig else f"{target.gpus}×"
        return hourly, (
            f"{what}{target.gpu} at {_rate(per_gpu)}/GPU-h ({_row_label(row, spec.capacity_type)}, cheapest "
            f"in-region whole-GPU row) = {_rate(hourly)}/h per replica; KV pool there {sized.kv_pool_tokens:,} tokens"
        )

    def raw(self, spec: WorkloadSpec, problem: str) -> Expected:
        """Dollars the problem claims before settlement against other findings on the same budget."""
        p, t = spec.profile, self.t
        running = spec.replicas - spec.pending
        if problem == "observability_gap":
            return Expected(0.0, 0.0, "info only: missing metrics never carry dollars (DESIGN §4)")
        if problem in ("pending_gpu_workload", "gpu_fragmentation"):
            gpu_hour, basis = self.pending_gpu_hour(spec)
            risk = spec.pending * spec.gpus * gpu_hour * HOURS_PER_MONTH
            note = " (the scattered free GPUs' own cost is dark_capacity's, on their nodes)" * (
                problem == "gpu_fragmentation"
            )
            return Expected(0.0, risk, f"at risk: {spec.pending} pending replica(s) × {spec.gpus} {spec.gpu} × "
                            f"{_rate(gpu_hour)}/GPU-h ({basis}) × 730 h = {_usd(risk)}{note}")  # fmt: skip
        hourly, basis = self.spend_hourly(spec)
        spend = hourly * HOURS_PER_MONTH
        spent = f"{running} running replica(s) × {spec.gpus} {spec.gpu} ({basis}) = {_rate(hourly)}/h × 730 h"
        if problem in RISK_TYPES:
            return Expected(0.0, spend, f"at risk: the spend of every exposed replica: {spent} = {_usd(spend)}")
        if problem == "idle_gpu":
            return Expected(spend, 0.0, f"waste: every GPU of the running replicas: {spent} = {_usd(spend)}")
        gpu_hour, _ = self.gpu_hour(spec)
        if problem == "overprovisioned_replicas":
            util, kv = designed_p95(p.util, p), designed_p95(p.kv, p)
            target = t.target_util_after_scale
            by_util = math.ceil(running * util / target - 1e-9)
            by_kv = math.ceil(running * kv / target - 1e-9)
            needed = max(t.min_replicas_to_shrink, by_util, by_kv)
            surplus = running - needed
            waste = surplus * spec.gpus * gpu_hour * HOURS_PER_MONTH
            return Expected(waste, 0.0, (
                f"waste: designed p95 GPU util {util:.3f}, KV {kv:.3f}; replicas needed at ≤{target:g} = max("
                f"{t.min_replicas_to_shrink}, ⌈{running}×{util:.3f}/{target:g}⌉={by_util}, "
                f"⌈{running}×{kv:.3f}/{target:g}⌉={by_kv}) = {needed}; {surplus} surplus × {spec.gpus} × "
                f"{_rate(gpu_hour)}/GPU-h × 730 h = {_usd(waste)}"
            ))  # fmt: skip
        if problem == "bursty_without_autoscaling":
            shape = designed_hourly_shape(p)
            ratio = max(shape) / statistics.fmean(shape)
            average = max(t.min_replicas_to_shrink, math.ceil(running / ratio - 1e-9))
            saved = running - average
            waste = saved * spec.gpus * gpu_hour * HOURS_PER_MONTH
            return Expected(waste, 0.0, (
                f"waste: designed hourly peak/mean {ratio:.2f}; an autoscaler averages max("
                f"{t.min_replicas_to_shrink}, ⌈{running}/{ratio:.2f}⌉) = {average} replicas; {saved} saved × "
                f"{spec.gpus} × {_rate(gpu_hour)}/GPU-h × 730 h = {_usd(waste)}"
            ))  # fmt: skip
        if problem == "kv_cache_oversized":
            target_gpus = spec.target.gpus if spec.target else spec.gpus
            freed = spec.gpus - target_gpus
            waste = running * freed * gpu_hour * HOURS_PER_MONTH
            return Expected(waste, 0.0, (
                f"waste: designed KV use {p.kv:.0%} of the pool: tensor-parallel {target_gpus} instead of {spec.gpus} "
                f"frees {freed} GPU(s) per replica: {running} × {freed} × {_rate(gpu_hour)}/GPU-h × 730 h = "
                f"{_usd(waste)}"
            ))  # fmt: skip
        if problem == "cpu_gpu_imbalance":
            util = min(0.99, p.util)
            stalled = min(p.throttle, 1 - util)
            waste = spend * stalled
            return Expected(waste, 0.0, (
                f"waste: the GPU stalls for the throttled share of time: min(designed throttle {p.throttle:g}, "
                f"1 − util {util:g}) = {stalled:g} × ({spent} = {_usd(spend)}) = {_usd(waste)}; "
                "by design no GPU is stranded by CPU/memory requests, so nothing is added for stranding"
            ))  # fmt: skip
        if problem == "tier_misplacement":
            new, how = self.target_hourly(spec)
            current = spec.gpus * gpu_hour
            waste = (current - new) * running * HOURS_PER_MONTH
            return Expected(waste, 0.0, (
                f"waste: current {spec.gpus}×{spec.gpu} at {_rate(current)}/h per replica − designed target {how}; "
                f"× {running} replica(s) × 730 h = {_usd(waste)}"
            ))  # fmt: skip
        raise ValueError(f"demo: no expected dollars defined for {problem}")

    def dark(self, cluster: str, node: str, free: int) -> Expected:
        price = self.b.node_price[cluster][node]
        waste = free * price.gpu_hour_usd * HOURS_PER_MONTH
        return Expected(waste, 0.0, (
            f"waste: {free} free GPU(s) × {_rate(price.gpu_hour_usd)}/GPU-h ({price.label}) × 730 h = {_usd(waste)}"
        ))  # fmt: skip

    def settled(self, spec: WorkloadSpec) -> dict[str, Expected]:
        """engine.settle's rule, from DESIGN §4: in precedence order, waste is capped by what the workload's spend has
        left; its at-risk spend is counted by the first risk finding only. A problem left with no dollars is explained
        by an earlier finding (expected 0, and no finding at all)."""
        budget = self.spend_hourly(spec)[0] * HOURS_PER_MONTH if self.nodes_of(spec) else 0.0
        left, risk_claimed_by = budget, ""
        out = {}
        for problem in sorted(spec.expect, key=PRECEDENCE.index):
            raw = self.raw(spec, problem)
            waste = min(raw.waste, left)
            left -= waste
            risk = raw.risk
            if risk > 0 and risk_claimed_by:
                risk = 0.0
            elif risk > 0:
                risk_claimed_by = problem
            why = raw.why
            if waste < raw.waste:
                why += f"; settled to {_usd(waste)}: earlier findings on the workload already claimed the rest of its spend"
            if risk < raw.risk:
                why += f"; settled to $0: its at-risk spend is already counted by {risk_claimed_by} (same workload)"
            out[problem] = Expected(waste, risk, why, raw.waste + raw.risk > 0 and waste + risk == 0)
        return out


def _truth_row(identity: dict[str, str], problem: str, expected: Expected) -> dict[str, Any]:
    row: dict[str, Any] = identity | {
        "type": problem,
        "expected_monthly_waste_usd": round(expected.waste, 2),
        "expected_monthly_at_risk_usd": round(expected.risk, 2),
        "why": expected.why,
    }
    if expected.settled_away:
        row["settled_away"] = True  # every dollar explained by an earlier finding: engine.settle drops it
    return row


def generate(*, seed: int = DEFAULT_SEED, fleet: str | FleetSpec = DEMO) -> DemoFleet:
    spec_fleet = FLEETS[fleet] if isinstance(fleet, str) else fleet
    b = _Builder(seed)
    by_name = {c.name: c for c in spec_fleet.clusters}
    workloads = spec_fleet.workloads
    fragmentation_pools = {(w.cluster, w.gpu) for w in workloads if "gpu_fragmentation" in w.expect}
    placed: dict[tuple[str, str, str], list[str]] = {}
    for cluster in spec_fleet.clusters:
        b.add_node(cluster, "", 0)  # system node: CPU only, must be ignored
    for spec in workloads:
        cluster = by_name[spec.cluster]
        filler = (spec.cluster, spec.gpu) in fragmentation_pools and not spec.expect and spec.gpus == 1
        nodes = b.place(cluster, spec, spread=filler)
        placed[(spec.cluster, spec.namespace, spec.name)] = nodes
        pods = b.add_workload(cluster, spec, nodes)
        b.add_metrics(cluster, spec, pods)
    for cluster_name, gpu, count, reason in spec_fleet.spare_nodes:
        cluster = by_name[cluster_name]
        b.add_node(cluster, gpu, count, cordoned="cordoned" in reason)
    for cluster in spec_fleet.clusters:
        b.unallocated_gpus(cluster)
    # Expected dollars need every node in place (a pending replica is priced like its GPU's pool).
    expectations = _Expectations(b, by_name, placed)
    for spec in workloads:
        identity = {
            "cluster": spec.cluster,
            "namespace": spec.namespace,
            "workload_kind": "Deployment",
            "workload": spec.name,
        }
        if spec.expect:
            settled = expectations.settled(spec)
            b.truth.extend(_truth_row(identity, t, settled[t]) for t in spec.expect)
        else:
            b.healthy.append(identity)
    for cluster_name, free_by_node in b.node_free.items():
        for node, free in sorted(free_by_node.items()):
            if free > 0:
                identity = {"cluster": cluster_name, "namespace": "", "workload_kind": "Node", "workload": node}
                b.truth.append(_truth_row(identity, "dark_capacity", expectations.dark(cluster_name, node, free)))
    for cluster in spec_fleet.clusters:
        namespaces = sorted({w.namespace for w in workloads if w.cluster == cluster.name})
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
        workloads=len(workloads),
        gpus=sum(int(n["status"]["capacity"].get("nvidia.com/gpu", 0)) for k in inventory.values() for n in k["nodes"]),
        clusters=spec_fleet.clusters,
    )


def _om_value(value: float) -> str:
    # repr round-trips exactly, so Prometheus reads back the very floats the snapshot was computed from.
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def om_label_value(value: str) -> str:
    """OpenMetrics label-value escaping (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_openmetrics(series: list[Series], path: Path, *, end: datetime) -> None:
    """promtool-backfillable: families contiguous, samples ascending, timestamps in seconds, `# EOF`.

    Every series carries a `cluster` label, as in a Prometheus (or Thanos) shared by several clusters.
    """
    start = end - timedelta(hours=WINDOW_HOURS)
    times = [str(int((start + timedelta(seconds=(i + 1) * STEP_S)).timestamp())) for i in range(SAMPLES)]
    by_family: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        by_family[s.family].append(s)
    with path.open("w") as out:
        for family, members in sorted(by_family.items()):
            kind = members[0].kind
            out.write(f"# TYPE {family} {kind}\n")
            name = family + ("_total" if kind == "counter" else "")
            for s in members:
                labels = ",".join(
                    f'{k}="{om_label_value(v)}"' for k, v in sorted((s.labels | {"cluster": s.cluster}).items())
                )
                prefix = f"{name}{{{labels}}} "
                out.write(
                    "".join(
                        f"{prefix}{_om_value(v)} {t}\n" for v, t in zip(s.values, times, strict=True) if v is not None
                    )
                )
        out.write("# EOF\n")


def write_inventory(inventory: dict[str, dict[str, list[dict[str, Any]]]], folder: Path) -> None:
    """`kubectl get <kind> -o json` List files: folder/<cluster>/<kind>.json."""
    for cluster, kinds in inventory.items():
        (folder / cluster).mkdir(parents=True, exist_ok=True)
        for kind, items in kinds.items():
            (folder / cluster / f"{kind}.json").write_text(
                json.dumps(
                    {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}, indent=1
                )
            )


def write_fleet(fleet: DemoFleet, out: Path, *, openmetrics: bool = True) -> dict[str, Path]:
    """Writes the fleet and an inferops.yaml that assesses it offline; returns the paths written."""
    import pandas as pd

    from inferops_pipeline.sources.prometheus import write_metrics_snapshot  # the snapshot format belongs to the source

    out.mkdir(parents=True, exist_ok=True)
    write_inventory(fleet.inventory, out / "inventory")
    metrics_path = out / "metrics.parquet"
    frame = pd.DataFrame([{column: getattr(r, column) for column in r.__slots__} for r in fleet.metrics])
    write_metrics_snapshot(frame, metrics_path)
    om_path = out / "metrics.om"
    if openmetrics:
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
            for c in fleet.clusters
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
        **({"openmetrics": om_path} if openmetrics else {}),
        "ground_truth": truth_path,
        "inventory": out / "inventory",
    }
