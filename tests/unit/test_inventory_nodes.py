"""Node → GPU facts for every label family, MIG and time-slicing, capacity types, readiness and allocation."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.kube_objects import aws_labels, container, gfd_labels, node, pod, pod_spec, realistic_nodes

from inferops_pipeline.inventory.nodes import NodeError, NodeFacts, gpu_allocations, node_facts, pod_gpu_request

# A stand-in for the price catalog's instance table: (cloud, instance type) → (model, count, GiB).
INSTANCES = {
    ("aws", "p5.48xlarge"): ("H100-80GB", 8, 80.0),
    ("aws", "p5en.48xlarge"): ("H200", 8, 141.0),
    ("aws", "g5.12xlarge"): ("A10G", 4, 24.0),
    ("aws", "g6.xlarge"): ("L4", 1, 24.0),
    ("aws", "g6e.12xlarge"): ("L40S", 4, 48.0),
    ("aws", "p4de.24xlarge"): ("A100-80GB", 8, 80.0),
    ("gcp", "a2-highgpu-8g"): ("A100-40GB", 8, 40.0),
    ("azure", "Standard_ND96isr_H100_v5"): ("H100-80GB", 8, 80.0),
    ("azure", "Standard_ND96isr_MI300X_v5"): ("MI300X", 8, 192.0),
}


def lookup(cloud: str, region: str, instance_type: str) -> tuple[str, int, float] | None:
    return INSTANCES.get((cloud, instance_type))


def facts(obj: dict[str, Any], allocated: int = 0) -> NodeFacts:
    return node_facts(
        obj, cluster="c1", default_cloud="aws", default_region="us-east-1", instance_gpus=lookup, allocated=allocated
    )


BY_NAME = {n["metadata"]["name"]: n for n in realistic_nodes()}

# node → (cloud, region, gpu_model, gpu_source, gpus, devices, sharing, capacity_type, capacity_type_source, vendor)
EXPECTED = {
    "gfd-h100-0": ("aws", "us-east-1", "H100-80GB", "label:nvidia.com/gpu.product", 8, 8, "none", "on-demand",
                   "label:karpenter.sh/capacity-type", "nvidia"),
    "gfd-h100-1": ("aws", "us-east-1", "H100-80GB", "label:nvidia.com/gpu.product", 8, 8, "none", "reserved",
                   "label:karpenter.sh/capacity-type", "nvidia"),
    "gfd-h200-0": ("aws", "us-east-1", "H200", "label:nvidia.com/gpu.product", 8, 8, "none", "reserved",
                   "label:eks.amazonaws.com/capacityType", "nvidia"),
    "gke-a100-0": ("gcp", "us-central1", "A100-40GB", "label:cloud.google.com/gke-accelerator", 8, 8, "none", "spot",
                   "label:cloud.google.com/gke-spot", "nvidia"),
    "karp-l40s-0": ("aws", "us-east-1", "L40S", "label:karpenter.k8s.aws/instance-gpu-name", 4, 4, "none", "spot",
                    "label:karpenter.sh/capacity-type", "nvidia"),
    "aks-h100-0": ("azure", "eastus", "H100-80GB", "instance-type:Standard_ND96isr_H100_v5", 8, 8, "none", "spot",
                   "label:kubernetes.azure.com/scalesetpriority", "nvidia"),
    "eks-a10g-0": ("aws", "us-east-1", "A10G", "instance-type:g5.12xlarge", 4, 4, "none", "spot",
                   "label:eks.amazonaws.com/capacityType", "nvidia"),
    "amd-mi300x-0": ("azure", "swedencentral", "MI300X", "label:amd.com/gpu.product-name", 8, 8, "none", "on-demand",
                     "default", "amd"),
    "mig-a100-0": ("aws", "us-east-1", "A100-80GB", "label:nvidia.com/gpu.product", 8, 36, "mig", "on-demand",
                   "default", "nvidia"),
    "mig-single-h100-0": ("aws", "us-east-1", "H100-80GB", "label:nvidia.com/gpu.product", 8, 56, "mig", "on-demand",
                          "default", "nvidia"),
    "ts-l4-0": ("aws", "us-east-1", "L4", "label:nvidia.com/gpu.product", 1, 4, "time-slicing", "on-demand", "default",
                "nvidia"),
    "cpu-system-0": ("aws", "us-east-1", "", "", 0, 0, "none", "on-demand", "default", ""),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gpu_facts_by_label_family(name: str) -> None:
    got = facts(BY_NAME[name])
    assert (
        got.cloud,
        got.region,
        got.gpu_model,
        got.gpu_source,
        got.gpu_count,
        got.gpu_capacity,
        got.gpu_sharing,
        got.capacity_type,
        got.capacity_type_source,
        got.gpu_vendor,
    ) == EXPECTED[name]


def test_memory_comes_from_labels_then_the_instance_catalog() -> None:
    assert facts(BY_NAME["gfd-h100-0"]).gpu_memory_gib == pytest.approx(81559 / 1024)
    assert facts(BY_NAME["karp-l40s-0"]).gpu_memory_gib == pytest.approx(45776 / 1024)
    assert facts(BY_NAME["amd-mi300x-0"]).gpu_memory_gib == 192.0  # amd.com/gpu.vram=192G
    assert facts(BY_NAME["gke-a100-0"]).gpu_memory_gib == 40.0  # GKE has no memory label
    # Under mig.strategy=single GFD's gpu.memory is one slice; the card's memory comes from the instance.
    assert facts(BY_NAME["mig-single-h100-0"]).gpu_memory_gib == 80.0


def test_mig_and_time_slicing_details() -> None:
    mixed = facts(BY_NAME["mig-a100-0"])
    assert mixed.mig_strategy == "mixed"
    assert mixed.gpu_resources == {"nvidia.com/mig-1g.10gb": 28, "nvidia.com/mig-3g.40gb": 8}
    single = facts(BY_NAME["mig-single-h100-0"])
    assert (single.mig_strategy, single.gpu_resources) == ("single", {"nvidia.com/gpu": 56})
    shared = facts(BY_NAME["ts-l4-0"])
    assert (shared.gpu_replicas, shared.gpu_count, shared.gpu_capacity) == (4, 1, 4)


def test_mig_physical_count_without_count_label_or_instance() -> None:
    bare = node(
        "onprem-mig",
        labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/mig.strategy": "mixed"},
        gpus={"nvidia.com/mig-1g.10gb": 14, "nvidia.com/mig-3g.40gb": 2},
    )
    assert facts(bare).gpu_count == 3  # 14 one-seventh slices + 2 halves


def test_renamed_shared_resource_counts_as_time_slicing() -> None:
    shared = node("ts", labels=aws_labels("g6.xlarge") | {"nvidia.com/gpu.product": "NVIDIA-L4-SHARED"},
                  gpus={"nvidia.com/gpu.shared": 8})  # fmt: skip
    got = facts(shared)
    assert (got.gpu_model, got.gpu_sharing, got.gpu_capacity, got.gpu_count) == ("L4", "time-slicing", 8, 1)


@pytest.mark.parametrize(
    ("labels", "capacity_type"),
    [
        ({"karpenter.sh/capacity-type": "spot"}, "spot"),
        ({"karpenter.sh/capacity-type": "reserved"}, "reserved"),
        ({"eks.amazonaws.com/capacityType": "SPOT"}, "spot"),
        ({"eks.amazonaws.com/capacityType": "ON_DEMAND"}, "on-demand"),
        ({"eks.amazonaws.com/capacityType": "CAPACITY_BLOCK"}, "reserved"),
        ({"karpenter.k8s.aws/capacity-reservation-type": "capacity-block"}, "reserved"),
        ({"cloud.google.com/gke-preemptible": "true"}, "spot"),
        ({"cloud.google.com/reservation-name": "r1"}, "reserved"),
        ({"kubernetes.azure.com/scalesetpriority": "spot"}, "spot"),
        ({}, "on-demand"),
    ],
)
def test_capacity_type_labels(labels: dict[str, str], capacity_type: str) -> None:
    obj = node("n", labels=aws_labels("p5.48xlarge") | gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559) | labels)
    assert facts(obj).capacity_type == capacity_type


def test_ready_cordoned_tainted() -> None:
    cordoned = facts(BY_NAME["gfd-h100-cordoned"])
    assert (cordoned.ready, cordoned.cordoned, cordoned.schedulable) == (False, True, False)
    assert "node.kubernetes.io/unschedulable:NoSchedule" in cordoned.taints
    # GPU and spot-pool taints are what GPU workloads tolerate; they do not close a node.
    assert facts(BY_NAME["aks-h100-0"]).schedulable
    assert "nvidia.com/gpu=present:NoSchedule" in facts(BY_NAME["gfd-h100-0"]).taints
    dedicated = node(
        "dedicated",
        labels=aws_labels("p5.48xlarge") | gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559),
        taints=[{"key": "dedicated", "value": "team-a", "effect": "NoSchedule"}],
    )
    assert not facts(dedicated).schedulable
    preferred = node(
        "soft",
        labels=aws_labels("p5.48xlarge") | gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559),
        taints=[{"key": "maintenance", "effect": "PreferNoSchedule"}],
    )
    assert facts(preferred).schedulable


def test_unknown_gpu_label_is_a_one_line_node_error() -> None:
    obj = node("weird", labels={"nvidia.com/gpu.product": "NVIDIA-Quantum-9000"})
    with pytest.raises(NodeError, match=r"^node c1/weird: label nvidia.com/gpu.product='NVIDIA-Quantum-9000' is not"):
        facts(obj)


def test_gpu_node_without_labels_or_known_instance_is_a_node_error() -> None:
    obj = node("mystery", labels={"node.kubernetes.io/instance-type": "x9.huge"})
    with pytest.raises(NodeError, match=r"has 8 GPU\(s\) but no GPU label and instance type 'x9.huge'"):
        facts(obj)


def test_malformed_quantity_names_the_node() -> None:
    obj = node("bad", labels=gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559))
    obj["status"]["capacity"]["nvidia.com/gpu"] = "eight"
    with pytest.raises(NodeError, match=r"node c1/bad: not a Kubernetes quantity: 'eight'"):
        facts(obj)


def test_allocation_counts_scheduled_unfinished_pods_with_init_containers() -> None:
    gpu = container("c", "img", gpus=2)
    init = container("init", "img", gpus=4, port=None)
    pods = [
        pod("a", "ns", pod_spec([gpu]), node="n1"),
        pod("b", "ns", pod_spec([gpu, container("side", "img", gpus=1)]), node="n1"),
        pod("c", "ns", pod_spec([gpu], init_containers=[init]), node="n2"),  # init needs 4 > 2
        pod("d", "ns", pod_spec([gpu]), node="n2", phase="Succeeded"),
        pod("e", "ns", pod_spec([gpu]), node="n2", deleting=True),  # terminating still holds the devices
        pod("f", "ns", pod_spec([gpu])),  # pending: no node
        pod("g", "ns", pod_spec([container("mig", "img", gpus=3, gpu_resource="nvidia.com/mig-1g.10gb")]), node="n3"),
    ]
    assert pod_gpu_request(pods[2]) == 4
    assert gpu_allocations(pods) == {"n1": 5, "n2": 6, "n3": 3}
    assert facts(BY_NAME["gfd-h100-0"], allocated=5).gpu_allocated == 5
