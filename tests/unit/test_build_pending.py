"""A workload with nothing running is priced from what its pods ask for, never from an unrelated node."""

from typing import Any

import pytest

from inferops_pipeline.domain import GpuNode, PodRow
from inferops_pipeline.inventory.build import PendingPrice, build_workloads, instance_type_hint

L4_NODE = GpuNode(
    cluster="c", name="n1", cloud="aws", region="eu-central-1", zone="a", instance_type="g6.xlarge",
    capacity_type="spot", gpu_model="L4", gpu_memory_gib=24, gpu_capacity=1, gpu_allocatable=1, gpu_allocated=0,
    ready=True, schedulable=True, nodepool="", hourly_cost_usd=0.5, gpu_hour_usd=0.5, price_basis="exact [l4] x",
)  # fmt: skip


def _pending_pod(**placement: Any) -> PodRow:
    return PodRow(
        cluster="c", namespace="ns", name="p-0", node="", phase="Pending", workload_kind="Deployment", workload="big",
        owner="", runtime="vllm", model="m", image="vllm", container="engine", gpus=8, tensor_parallel=8,
        gpu_memory_utilization=None, max_model_len=None, kv_cache_dtype="auto", quantization="", cpu_request=8,
        cpu_limit=None, memory_request_bytes=0, memory_limit_bytes=None, restarts=0, scheduled=False, ready=False,
        desired_replicas=1, has_autoscaler=False, placement=placement,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        ({"node_selector": {"node.kubernetes.io/instance-type": "p4de.24xlarge"}}, "p4de.24xlarge"),
        (
            {"required": [[{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["p5.48xlarge"]}]]},
            "p5.48xlarge",
        ),
        ({"required": [[{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["a", "b"]}]]}, ""),
        ({}, ""),
    ],
)
def test_instance_type_hint(placement: dict[str, Any], expected: str) -> None:
    assert instance_type_hint(placement) == expected


def test_pending_workload_priced_from_its_instance_type_not_the_clusters_other_nodes() -> None:
    asked: list[tuple[str, str, str, int]] = []

    def price(cluster: str, gpu: str, instance_type: str, gpus: int) -> PendingPrice:
        asked.append((cluster, gpu, instance_type, gpus))
        return PendingPrice(
            "A100-80GB", 80, 4.29, "exact [aws/eu-central-1/p4de.24xlarge/on-demand] …", "aws", "eu-central-1"
        )

    pod = _pending_pod(node_selector={"node.kubernetes.io/instance-type": "p4de.24xlarge"})
    (w,) = build_workloads([pod], [L4_NODE], [], price_pending=price)
    assert asked == [("c", "", "p4de.24xlarge", 8)]
    assert (w.gpu_model, w.gpu_hour_usd, w.region, w.pending_pods) == ("A100-80GB", 4.29, "eu-central-1", 1)
    assert w.price_basis.startswith("exact [aws/eu-central-1/p4de.24xlarge")


def test_without_any_hint_the_cluster_nodes_still_price_it() -> None:
    (w,) = build_workloads([_pending_pod()], [L4_NODE], [], price_pending=lambda *_: None)
    assert (w.gpu_model, w.gpu_hour_usd) == ("L4", 0.5)
    assert w.pending_pods == 1
