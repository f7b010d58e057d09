"""Node objects → GPU facts: model, count, placement, capacity type, readiness (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from inferops_pipeline.catalog.gpus import normalize_gpu_name
from inferops_pipeline.inventory.quantity import parse_quantity
from inferops_pipeline.settings import ConfigError

GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")

# (cloud, region, instance_type) → (gpu_model, gpu_count, gpu_memory_gib); the price catalog answers it.
InstanceGpuLookup = Callable[[str, str, str], tuple[str, int, float] | None]


class NodeError(ConfigError):
    """A node whose GPU cannot be identified; the message names the node and what was seen."""


@dataclass(frozen=True, slots=True)
class NodeFacts:
    cluster: str
    name: str
    cloud: str
    region: str
    zone: str
    instance_type: str
    capacity_type: str
    gpu_model: str
    gpu_memory_gib: float
    gpu_capacity: int
    gpu_allocatable: int
    ready: bool
    schedulable: bool
    nodepool: str


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


def _capacity_type(labels: Mapping[str, str]) -> str:
    karpenter = labels.get("karpenter.sh/capacity-type", "").lower()
    if karpenter in {"spot", "on-demand", "reserved"}:
        return karpenter
    if labels.get("eks.amazonaws.com/capacityType", "").upper() == "SPOT":
        return "spot"
    if labels.get("cloud.google.com/gke-spot") == "true" or labels.get("cloud.google.com/gke-preemptible") == "true":
        return "spot"
    if labels.get("kubernetes.azure.com/scalesetpriority", "").lower() == "spot":
        return "spot"
    return "on-demand"


def _nodepool(labels: Mapping[str, str]) -> str:
    for key in (
        "karpenter.sh/nodepool",
        "eks.amazonaws.com/nodegroup",
        "cloud.google.com/gke-nodepool",
        "kubernetes.azure.com/agentpool",
    ):
        if labels.get(key):
            return labels[key]
    return ""


def _gpu_count(resources: Mapping[str, Any]) -> int:
    total = 0.0
    for key, value in resources.items():
        if key in GPU_RESOURCES or key.startswith("nvidia.com/mig-"):
            total += parse_quantity(value) or 0.0
    return int(total)


def _labelled_gpu(labels: Mapping[str, str]) -> tuple[str, float] | None:
    """GPU model and per-GPU memory (GiB, 0 when unknown) from GFD, GKE, Karpenter or AKS labels."""
    memory_mib = parse_quantity(
        labels.get("nvidia.com/gpu.memory") or labels.get("karpenter.k8s.aws/instance-gpu-memory")
    )
    for key in ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator", "karpenter.k8s.aws/instance-gpu-name"):
        raw = labels.get(key)
        if raw:
            model = normalize_gpu_name(raw, memory_mib=int(memory_mib) if memory_mib else None)
            if model is None:
                raise NodeError(f"label {key}={raw!r} is not a GPU model the catalog knows")
            return model, (memory_mib or 0.0) / 1024.0
    return None


def node_facts(
    node: Mapping[str, Any],
    *,
    cluster: str,
    default_cloud: str,
    default_region: str,
    instance_gpus: InstanceGpuLookup,
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
    capacity = _gpu_count(status.get("capacity") or {})
    allocatable = _gpu_count(status.get("allocatable") or {})
    try:
        labelled = _labelled_gpu(labels)
    except NodeError as exc:
        raise NodeError(f"node {cluster}/{name}: {exc}") from None
    gpu_model, memory_gib = labelled if labelled else ("", 0.0)
    if capacity and not gpu_model:
        # No GPU labels (GKE's own driver stack, device-plugin-only EKS): the instance type tells.
        by_instance = instance_gpus(cloud, region, instance_type)
        if by_instance is None:
            raise NodeError(
                f"node {cluster}/{name}: has {capacity} GPU(s) but no GPU label and instance type "
                f"{instance_type or '(none)'!r} is not in the {cloud} price catalog"
            )
        gpu_model, _, memory_gib = by_instance
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    blocking_taint = any(
        t.get("effect") in {"NoSchedule", "NoExecute"} and not t.get("key", "").startswith("nvidia.com/gpu")
        for t in spec.get("taints") or []
    )
    return NodeFacts(
        cluster=cluster,
        name=name,
        cloud=cloud,
        region=region,
        zone=labels.get("topology.kubernetes.io/zone", ""),
        instance_type=instance_type,
        capacity_type=_capacity_type(labels),
        gpu_model=gpu_model,
        gpu_memory_gib=memory_gib,
        gpu_capacity=capacity,
        gpu_allocatable=allocatable,
        ready=conditions.get("Ready") == "True",
        schedulable=not spec.get("unschedulable", False) and not blocking_taint,
        nodepool=_nodepool(labels),
    )
