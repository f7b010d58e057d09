"""Node objects → GPU facts: model, count, sharing (MIG, time-slicing), placement, capacity type, readiness (pure)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inferops_pipeline.catalog.gpus import normalize_gpu_name
from inferops_pipeline.inventory.quantity import parse_quantity
from inferops_pipeline.settings import ConfigError

# Extended resources that are (a share of) a GPU device. MIG slices are `nvidia.com/mig-<profile>`;
# time-slicing with renameByDefault exposes `nvidia.com/gpu.shared`.
GPU_RESOURCES = ("nvidia.com/gpu", "nvidia.com/gpu.shared", "amd.com/gpu")
_MIG_PREFIX = "nvidia.com/mig-"

# (cloud, region, instance_type) → (gpu_model, gpu_count, gpu_memory_gib); the price catalog answers it.
InstanceGpuLookup = Callable[[str, str, str], tuple[str, int, float] | None]

# Node labels that identify the GPU model, in order of trust, with the label holding per-GPU memory (MiB).
_MODEL_LABELS: tuple[tuple[str, str], ...] = (
    ("nvidia.com/gpu.product", "nvidia.com/gpu.memory"),
    ("amd.com/gpu.product-name", "amd.com/gpu.vram"),
    ("beta.amd.com/gpu.product-name", "beta.amd.com/gpu.vram"),
    ("cloud.google.com/gke-accelerator", ""),
    ("karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-gpu-memory"),
)
_COUNT_LABELS = (
    "nvidia.com/gpu.count",
    "karpenter.k8s.aws/instance-gpu-count",
    "cloud.google.com/gke-accelerator-count",
)
# Taints GPU workloads are expected to tolerate: they mark a GPU or spot pool, they do not close the node.
_GPU_POOL_TAINTS = (
    "nvidia.com/gpu",
    "amd.com/gpu",
    "kubernetes.azure.com/scalesetpriority",
    "cloud.google.com/gke-spot",
)


class NodeError(ConfigError):
    """A node whose GPU cannot be identified; the message names the node and what was seen."""


def is_gpu_resource(name: str) -> bool:
    return name in GPU_RESOURCES or name.startswith(_MIG_PREFIX)


@dataclass(frozen=True, slots=True)
class NodeFacts:
    cluster: str
    name: str
    cloud: str
    region: str
    zone: str
    instance_type: str
    capacity_type: str  # on-demand | spot | reserved
    gpu_model: str  # catalog key; "" for CPU-only nodes
    gpu_memory_gib: float  # one physical GPU
    gpu_capacity: int  # schedulable GPU devices: whole GPUs, MIG slices or time-slice replicas
    gpu_allocatable: int
    ready: bool
    schedulable: bool  # not cordoned and no NoSchedule/NoExecute taint beyond GPU/spot pool taints
    nodepool: str
    gpu_vendor: str = ""  # nvidia | amd
    gpu_count: int = 0  # physical GPUs
    gpu_source: str = ""  # label:<key> | instance-type:<type>
    gpu_sharing: str = "none"  # none | mig | time-slicing | mps
    gpu_replicas: int = 1  # devices advertised per physical GPU under time-slicing/MPS
    mig_strategy: str = ""  # single | mixed when MIG is configured
    gpu_resources: dict[str, int] = field(default_factory=dict)  # allocatable device resources by name
    gpu_allocated: int = 0  # devices requested by scheduled, non-terminal pods
    cordoned: bool = False
    taints: tuple[str, ...] = ()  # key=value:effect
    capacity_type_source: str = "default"


def _cloud(provider_id: str, labels: Mapping[str, str], default: str) -> str:
    prefixes = {"aws://": "aws", "gce://": "gcp", "azure://": "azure", "oci://": "oci", "ocid1.": "oci"}
    for prefix, cloud in prefixes.items():
        if provider_id.startswith(prefix):
            return cloud
    if any(key.startswith("eks.amazonaws.com/") or key.startswith("karpenter.k8s.aws/") for key in labels):
        return "aws"
    if any(key.startswith("cloud.google.com/") for key in labels):
        return "gcp"
    if any(key.startswith("kubernetes.azure.com/") for key in labels):
        return "azure"
    return default


def _capacity_type(labels: Mapping[str, str]) -> tuple[str, str]:
    karpenter = labels.get("karpenter.sh/capacity-type", "").lower()
    if karpenter in {"spot", "on-demand", "reserved"}:
        return karpenter, "label:karpenter.sh/capacity-type"
    eks = labels.get("eks.amazonaws.com/capacityType", "").upper()
    if eks:
        value = {"SPOT": "spot", "ON_DEMAND": "on-demand", "CAPACITY_BLOCK": "reserved"}.get(eks)
        if value:
            return value, "label:eks.amazonaws.com/capacityType"
    if labels.get("karpenter.k8s.aws/capacity-reservation-type"):
        return "reserved", "label:karpenter.k8s.aws/capacity-reservation-type"
    for key in ("cloud.google.com/gke-spot", "cloud.google.com/gke-preemptible"):
        if labels.get(key) == "true":
            return "spot", f"label:{key}"
    if labels.get("cloud.google.com/reservation-name"):
        return "reserved", "label:cloud.google.com/reservation-name"
    if labels.get("kubernetes.azure.com/scalesetpriority", "").lower() == "spot":
        return "spot", "label:kubernetes.azure.com/scalesetpriority"
    return "on-demand", "default"


def _nodepool(labels: Mapping[str, str]) -> str:
    for key in (
        "karpenter.sh/nodepool",
        "karpenter.sh/provisioner-name",
        "eks.amazonaws.com/nodegroup",
        "alpha.eksctl.io/nodegroup-name",
        "cloud.google.com/gke-nodepool",
        "kubernetes.azure.com/agentpool",
    ):
        if labels.get(key):
            return labels[key]
    return ""


def gpu_devices(resources: Mapping[str, Any]) -> dict[str, int]:
    """GPU device resources of a capacity/allocatable/requests map, zero counts dropped."""
    found: dict[str, int] = {}
    for key, value in resources.items():
        if is_gpu_resource(key):
            count = int(parse_quantity(value) or 0)
            if count:
                found[key] = count
    return found


def _memory_mib(raw: str | None) -> float | None:
    """GFD/Karpenter give MiB as a plain integer; the AMD labeller writes e.g. `192G`."""
    if not raw:
        return None
    text = raw.strip()
    if text[-1:] in ("G", "g") and text[:-1].replace(".", "", 1).isdigit():
        return float(text[:-1]) * 1024
    try:
        return parse_quantity(text)
    except ValueError:
        return None


def _labelled_gpu(labels: Mapping[str, str]) -> tuple[str, float, str] | None:
    """GPU model, per-GPU memory (GiB, 0 when unknown) and the label that named it."""
    for key, memory_key in _MODEL_LABELS:
        raw = labels.get(key)
        if not raw:
            continue
        memory_mib = _memory_mib(labels.get(memory_key)) if memory_key else None
        model = normalize_gpu_name(raw, memory_mib=int(memory_mib) if memory_mib else None)
        if model is None:
            raise NodeError(f"label {key}={raw!r} is not a GPU model the catalog knows")
        if _is_mig_product(raw):
            memory_mib = None  # under mig.strategy=single GFD reports the slice's memory, not the card's
        return model, (memory_mib or 0.0) / 1024.0, f"label:{key}"
    return None


def _is_mig_product(product: str) -> bool:
    return "-MIG-" in product.upper()


_MIG_PROFILE = re.compile(r"(\d+)g\.(\d+)gb", re.IGNORECASE)


def _slices_per_gpu(profile: str) -> int:
    """MIG profiles are `<compute>g.<memory>gb`; a full card has 7 compute slices (A100, H100, H200)."""
    match = _MIG_PROFILE.search(profile)
    return max(1, 7 // int(match.group(1))) if match else 1


def _int_label(labels: Mapping[str, str], key: str) -> int | None:
    try:
        return int(labels[key]) if labels.get(key) else None
    except ValueError:
        return None


def _sharing(labels: Mapping[str, str], devices: Mapping[str, int]) -> tuple[str, int, str]:
    """(sharing, replicas per GPU, MIG strategy) from GFD labels and the advertised resources."""
    product = labels.get("nvidia.com/gpu.product", "")
    strategy = labels.get("nvidia.com/mig.strategy", "").lower()
    if any(k.startswith(_MIG_PREFIX) for k in devices) or _is_mig_product(product):
        return "mig", 1, strategy or ("mixed" if any(k.startswith(_MIG_PREFIX) for k in devices) else "single")
    declared = labels.get("nvidia.com/gpu.sharing-strategy", "").lower()
    replicas = _int_label(labels, "nvidia.com/gpu.replicas") or 1
    if declared == "mps":
        return "mps", replicas, ""
    if (
        declared == "time-slicing"
        or product.upper().endswith("-SHARED")
        or "nvidia.com/gpu.shared" in devices
        or replicas > 1
    ):
        return "time-slicing", replicas, ""
    return "none", 1, ""


def _physical_count(
    labels: Mapping[str, str], devices: Mapping[str, int], sharing: str, replicas: int, by_instance: int | None
) -> int:
    if sharing != "mig" or not _is_mig_product(labels.get("nvidia.com/gpu.product", "")):
        # Under mig.strategy=single GFD's gpu.count counts MIG devices, so it is skipped there.
        for key in _COUNT_LABELS:
            count = _int_label(labels, key)
            if count:
                return count
    if by_instance:
        return by_instance
    total = sum(devices.values())
    if sharing == "mig":
        slices = sum(n / _slices_per_gpu(k if k.startswith(_MIG_PREFIX) else labels.get("nvidia.com/gpu.product", ""))
                     for k, n in devices.items())  # fmt: skip
        return max(1, round(slices)) if total else 0
    return total // max(1, replicas) if total else 0


def _taint_text(taint: Mapping[str, Any]) -> str:
    key, value, effect = taint.get("key", ""), taint.get("value", ""), taint.get("effect", "")
    return f"{key}{'=' + value if value else ''}:{effect}"


def _blocks(taint: Mapping[str, Any]) -> bool:
    if taint.get("effect") not in {"NoSchedule", "NoExecute"}:
        return False
    key = str(taint.get("key", ""))
    if key.startswith(_GPU_POOL_TAINTS):
        return False
    return not (key == "sku" and taint.get("value") == "gpu")  # the AKS GPU-pool convention


def node_facts(
    node: Mapping[str, Any],
    *,
    cluster: str,
    default_cloud: str,
    default_region: str,
    instance_gpus: InstanceGpuLookup,
    allocated: int = 0,
) -> NodeFacts:
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    labels: dict[str, str] = metadata.get("labels") or {}
    name = metadata.get("name", "")
    cloud = _cloud(spec.get("providerID", ""), labels, default_cloud)
    region = (
        labels.get("topology.kubernetes.io/region")
        or labels.get("failure-domain.beta.kubernetes.io/region")
        or default_region
    )
    instance_type = (
        labels.get("node.kubernetes.io/instance-type") or labels.get("beta.kubernetes.io/instance-type") or ""
    )
    try:
        capacity_devices = gpu_devices(status.get("capacity") or {})
        allocatable_devices = gpu_devices(status.get("allocatable") or {})
        labelled = _labelled_gpu(labels)
    except (NodeError, ValueError) as exc:
        raise NodeError(f"node {cluster}/{name}: {exc}") from None
    capacity = sum(capacity_devices.values())
    gpu_model, memory_gib, source = labelled if labelled else ("", 0.0, "")
    by_instance = instance_gpus(cloud, region, instance_type) if (capacity or labelled) and instance_type else None
    if capacity and not gpu_model:
        # No GPU label (GKE's own driver stack, device-plugin-only EKS, AKS): the instance type tells.
        if by_instance is None or not by_instance[0]:
            raise NodeError(
                f"node {cluster}/{name}: has {capacity} GPU(s) but no GPU label and instance type "
                f"{instance_type or '(none)'!r} is not in the {cloud} price catalog"
            )
        gpu_model, source = by_instance[0], f"instance-type:{instance_type}"
    if gpu_model and not memory_gib and by_instance is not None and by_instance[0] == gpu_model:
        memory_gib = by_instance[2]
    sharing, replicas, mig_strategy = _sharing(labels, capacity_devices) if capacity or labelled else ("none", 1, "")
    instance_count = int(by_instance[1]) if by_instance and by_instance[0] == gpu_model and by_instance[1] else None
    vendor = ""
    if gpu_model:
        amd = "amd.com/gpu" in capacity_devices or any(k.startswith("amd.com/") for k in labels)
        vendor = "amd" if amd or gpu_model.startswith("MI") else "nvidia"
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    taints = [t for t in spec.get("taints") or [] if isinstance(t, Mapping)]
    cordoned = bool(spec.get("unschedulable", False))
    capacity_type, capacity_source = _capacity_type(labels)
    return NodeFacts(
        cluster=cluster,
        name=name,
        cloud=cloud,
        region=region,
        zone=labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", ""),
        instance_type=instance_type,
        capacity_type=capacity_type,
        gpu_model=gpu_model if capacity or labelled else "",
        gpu_memory_gib=memory_gib,
        gpu_capacity=capacity,
        gpu_allocatable=sum(allocatable_devices.values()),
        ready=conditions.get("Ready") == "True",
        schedulable=not cordoned and not any(_blocks(t) for t in taints),
        nodepool=_nodepool(labels),
        gpu_vendor=vendor,
        gpu_count=_physical_count(labels, capacity_devices, sharing, replicas, instance_count) if capacity else 0,
        gpu_source=source,
        gpu_sharing=sharing if capacity else "none",
        gpu_replicas=replicas if capacity else 1,
        mig_strategy=mig_strategy if capacity else "",
        gpu_resources=allocatable_devices,
        gpu_allocated=allocated,
        cordoned=cordoned,
        taints=tuple(_taint_text(t) for t in taints),
        capacity_type_source=capacity_source,
    )


_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def pod_gpu_request(pod: Mapping[str, Any]) -> int:
    """GPU devices a pod holds: max(sum over containers, largest init container), as the scheduler counts."""
    spec = pod.get("spec") or {}

    def devices(container: Mapping[str, Any]) -> int:
        resources = container.get("resources") or {}
        # Extended resources must have requests == limits; either may be the one written down.
        counts = [gpu_devices(resources.get(kind) or {}) for kind in ("requests", "limits")]
        return max(sum(c.values()) for c in counts)

    regular = sum(devices(c) for c in spec.get("containers") or [])
    init = max((devices(c) for c in spec.get("initContainers") or []), default=0)
    return max(regular, init)


def gpu_allocations(pods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """GPUs allocated per node name by scheduled pods that have not finished (terminating pods still hold them)."""
    allocated: dict[str, int] = defaultdict(int)
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if not node or phase in _TERMINAL_PHASES:
            continue
        try:
            count = pod_gpu_request(pod)
        except ValueError:
            continue  # a malformed quantity on some pod must not hide the node; pod_rows reports it
        if count:
            allocated[node] += count
    return dict(allocated)
