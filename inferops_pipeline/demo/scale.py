"""Large synthetic fleets for benchmarks: the demo's metric families for N GPUs, streamed as OpenMetrics files.

The demo fleet (fleet.py) is small and carries ground truth; this one only needs to be big and shaped
like production (8-GPU nodes, vLLM pods of TP 4/2/1/1, DCGM, cAdvisor, kube-state-metrics), at a
30 s scrape over 24 h. One file per metric family keeps the disk footprint to the largest family.
`scaled_inventory` is the matching kubectl-JSON inventory (same node, namespace and pod names as the series).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from inferops_pipeline.demo.fleet import _Builder, write_inventory
from inferops_pipeline.demo.spec import ClusterSpec, WorkloadSpec

TP_PER_NODE = (4, 2, 1, 1)  # pods on each 8-GPU node, by GPUs per pod
NAMESPACES = 20
LATENCY_BOUNDS = ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")
GPU = "H100-80GB"  # catalog key of the series' modelName
MODEL = "meta-llama/Llama-3.1-8B-Instruct"  # the engine args' model (the series say model_name="llama-3-8b")


@dataclass(frozen=True, slots=True)
class ScaledFleet:
    gpus: int
    step_s: int = 30
    hours: int = 24
    cluster: str = "bench"

    @property
    def nodes(self) -> int:
        return -(-self.gpus // 8)

    @property
    def pods(self) -> int:
        return self.nodes * len(TP_PER_NODE)

    @property
    def samples(self) -> int:
        return self.hours * 3600 // self.step_s


def _gpu_labels(fleet: ScaledFleet) -> list[str]:
    labels: list[str] = []
    for node in range(fleet.nodes):
        gpu = 0
        for slot, tp in enumerate(TP_PER_NODE):
            for _ in range(tp):
                if len(labels) < fleet.gpus:
                    labels.append(
                        f'Hostname="node-{node:04d}",UUID="GPU-{node:04d}-{gpu}",cluster="{fleet.cluster}",'
                        f'container="engine",gpu="{gpu}",modelName="NVIDIA H100 80GB HBM3",'
                        f'namespace="ns-{node % NAMESPACES:02d}",pod="vllm-{node:04d}-{slot}"'
                    )
                gpu += 1
    return labels


def _pod_labels(fleet: ScaledFleet, *, container: bool) -> list[str]:
    labels = []
    for node in range(fleet.nodes):
        for slot in range(len(TP_PER_NODE)):
            base = f'cluster="{fleet.cluster}",namespace="ns-{node % NAMESPACES:02d}",pod="vllm-{node:04d}-{slot}"'
            if container:
                labels.append(f'{base},container="engine",node="node-{node:04d}"')
            else:
                labels.append(f'{base},engine="0",model_name="llama-3-8b"')
    return labels


def _family_values(rng: np.random.Generator, kind: str, count: int, samples: int) -> np.ndarray:
    """Plausible values per family kind; counters start at 0 and only grow."""
    load = 0.6 + 0.3 * np.sin(np.linspace(0, 2 * np.pi, samples))[None, :] + rng.normal(0, 0.03, (count, samples))
    if kind == "ratio":
        return np.round(np.clip(load, 0, 1), 4)
    if kind == "counter":
        steps = np.clip(load, 0, None) * rng.uniform(0.5, 5.0, (count, 1))
        steps[:, 0] = 0.0
        return np.round(np.cumsum(steps, axis=1), 3)
    return np.round(np.clip(load, 0, None) * rng.uniform(1, 100, (count, 1)), 2)


def scaled_openmetrics(fleet: ScaledFleet, directory: Path, *, end: datetime, seed: int = 7) -> Iterator[Path]:
    """Write one promtool-ready OpenMetrics file per family, yielding each as it is done (caller may delete it)."""
    rng = np.random.default_rng(seed)
    start = int(end.timestamp()) - fleet.hours * 3600
    stamps = [f" {start + (i + 1) * fleet.step_s}\n" for i in range(fleet.samples)]
    gpus, pods, containers = _gpu_labels(fleet), _pod_labels(fleet, container=False), _pod_labels(fleet, container=True)
    families: list[tuple[str, str, str, list[str]]] = [
        ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "ratio", gpus),
        ("DCGM_FI_DEV_FB_USED", "gauge", "gauge", gpus),
        ("DCGM_FI_DEV_FB_FREE", "gauge", "gauge", gpus),
        ("DCGM_FI_DEV_FB_RESERVED", "gauge", "gauge", gpus),
        ("DCGM_FI_DEV_POWER_USAGE", "gauge", "gauge", gpus),
        ("vllm:kv_cache_usage_perc", "gauge", "ratio", pods),
        ("vllm:num_requests_running", "gauge", "gauge", pods),
        ("vllm:num_requests_waiting", "gauge", "gauge", pods),
        ("vllm:num_preemptions", "counter", "counter", pods),
        ("vllm:prompt_tokens", "counter", "counter", pods),
        ("vllm:generation_tokens", "counter", "counter", pods),
        ("vllm:request_success", "counter", "counter", pods),
        ("vllm:cache_config_info", "gauge", "one", [f'{p},block_size="16",num_gpu_blocks="4096"' for p in pods]),
        *(
            (f"vllm:{name}_bucket", "unknown", "counter", [f'{p},le="{le}"' for p in pods for le in LATENCY_BOUNDS])
            for name in ("time_to_first_token_seconds", "inter_token_latency_seconds")
        ),
        ("node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m", "gauge", "gauge", containers),
        ("container_cpu_cfs_periods", "counter", "counter", [f'{c},image="vllm"' for c in containers]),
        ("container_cpu_cfs_throttled_periods", "counter", "counter", [f'{c},image="vllm"' for c in containers]),
        ("container_memory_working_set_bytes", "gauge", "gauge", [f'{c},image="vllm"' for c in containers]),
        ("kube_pod_container_status_restarts", "counter", "counter", containers),
        (
            "kube_pod_container_resource_requests",
            "gauge",
            "one",
            [f'{c},resource="nvidia_com_gpu",unit="integer"' for c in containers],
        ),
    ]
    directory.mkdir(parents=True, exist_ok=True)
    for index, (family, kind, values, labels) in enumerate(families):
        path = directory / f"{index:02d}.om"
        name = family + ("_total" if kind == "counter" else "")
        with path.open("w") as out:
            out.write(f"# TYPE {family} {kind}\n")
            for start_row in range(0, len(labels), 500):
                chunk = labels[start_row : start_row + 500]
                if values == "one":
                    data = np.ones((len(chunk), fleet.samples))
                else:
                    data = _family_values(rng, values, len(chunk), fleet.samples)
                for label, row in zip(chunk, data.tolist(), strict=True):
                    prefix = f"{name}{{{label}}} "
                    out.write("".join([f"{prefix}{v:g}{t}" for v, t in zip(row, stamps, strict=True)]))
            out.write("# EOF\n")
        yield path


def scaled_inventory(fleet: ScaledFleet, *, end: datetime, seed: int = 7) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """cluster → kind → kubectl objects matching the series: node-NNNN (GPU Operator labels, 8×H100), and per
    namespace and node slot one vLLM Deployment (→ ReplicaSet → pods vllm-NNNN-S, TP 4/2/1/1) on those nodes."""
    builder = _Builder(seed, at=end)
    cluster = ClusterSpec(fleet.cluster, "aws", "us-east-1", ("us-east-1a", "us-east-1b"), "gfd")
    nodes = builder.inventory[fleet.cluster]["nodes"]
    for node in range(fleet.nodes):
        builder.add_node(cluster, GPU, 8)
        name = f"node-{node:04d}"
        nodes[-1]["metadata"]["name"] = name
        nodes[-1]["metadata"]["labels"]["kubernetes.io/hostname"] = name
    pods = builder.inventory[fleet.cluster]["pods"]
    for namespace in range(min(NAMESPACES, fleet.nodes)):
        members = list(range(namespace, fleet.nodes, NAMESPACES))
        for slot, tp in enumerate(TP_PER_NODE):
            spec = WorkloadSpec(
                fleet.cluster, f"ns-{namespace:02d}", f"vllm-tp{tp}-s{slot}", "vllm", MODEL, GPU, tp, len(members)
            )
            builder.add_workload(cluster, spec, [f"node-{node:04d}" for node in members])
            for pod, node in zip(pods[-len(members) :], members, strict=True):
                pod["metadata"]["name"] = f"vllm-{node:04d}-{slot}"
    return {name: dict(kinds) for name, kinds in builder.inventory.items()}


def write_scaled_inventory(fleet: ScaledFleet, out: Path, *, end: datetime, seed: int = 7) -> Path:
    """Writes out/<cluster>/<kind>.json (as demo-fleet does) and returns out/<cluster>."""
    write_inventory(scaled_inventory(fleet, end=end, seed=seed), out)
    return out / fleet.cluster
