"""Inventory ingestion at scale: a 5,000-pod, 600-node cluster served by the fake API server (own process).

Prints one table: wall time of each phase (paged LIST over HTTP, GPU facts + workloads, privacy scrub, the whole
k8s_inventory asset into DuckDB) and the peak RSS of this process. Target: the asset under 30 s on 2 cores.
Usage: .venv/bin/python bench/bench_kubernetes.py [PODS NODES]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.kube_api import write_kubeconfig  # noqa: E402

TARGET_S = 30.0


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(argv: list[str]) -> int:
    pods, nodes = (int(argv[0]), int(argv[1])) if len(argv) >= 2 else (5000, 600)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fakes" / "kube_api.py"), "--synthetic", str(pods), str(nodes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().strip()
        if not line.startswith("URL "):
            raise SystemExit(f"fake API server did not start: {line!r}")
        return _run(line[4:], pods, nodes)
    finally:
        if server.stdin is not None:
            server.stdin.close()  # the server exits when stdin closes
        server.wait(timeout=30)


def _run(url: str, pods: int, nodes: int) -> int:
    import dagster as dg

    from inferops_pipeline.defs.ingest.assets import k8s_inventory
    from inferops_pipeline.defs.model.assets import fleet_ingest
    from inferops_pipeline.defs.partitions import cluster_partition, register_clusters
    from inferops_pipeline.defs.resources import InferopsResource
    from inferops_pipeline.inventory.nodes import gpu_allocations, node_facts
    from inferops_pipeline.inventory.pods import pod_rows
    from inferops_pipeline.inventory.privacy import scrub_object
    from inferops_pipeline.settings import KubernetesConfig
    from inferops_pipeline.sources.kubernetes import LiveInventory, read_inventory

    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", {"bench": url})
        source = LiveInventory(KubernetesConfig.model_validate({"kubeconfig": kubeconfig, "context": "bench"}))
        started = time.perf_counter()
        read = read_inventory(source, cluster="bench")
        listed = time.perf_counter() - started
        source.close()
        objects = sum(len(items) for items in read.objects.values())
        rows.append(("paged LIST of 11 kinds over HTTP", listed, f"{objects:,} objects, {source.requests} requests"))

        started = time.perf_counter()
        allocated = gpu_allocations(read.objects["pods"])
        facts = [
            node_facts(n, cluster="bench", default_cloud="aws", default_region="us-east-1",
                       instance_gpus=lambda *_: None, allocated=allocated.get(n["metadata"]["name"], 0))
            for n in read.objects["nodes"]
        ]  # fmt: skip
        workloads = pod_rows(read.objects, cluster="bench", owner_labels=["team"])
        rows.append(("node facts + pod rows (pure)", time.perf_counter() - started,
                     f"{len(facts)} nodes, {len(workloads):,} GPU pods"))  # fmt: skip

        started = time.perf_counter()
        size = sum(len(json.dumps(scrub_object(o))) for items in read.objects.values() for o in items)
        rows.append(("privacy scrub + JSON of raw bodies", time.perf_counter() - started, f"{size / 2**20:.0f} MiB"))
        del read

        config = Path(tmp) / "inferops.yaml"
        config.write_text(
            json.dumps(
                {
                    "warehouse": str(Path(tmp) / "wh.duckdb"),
                    "clusters": [
                        {
                            "name": "bench",
                            "kubernetes": {"kubeconfig": str(kubeconfig), "context": "bench"},
                            "prometheus": {"url": "http://127.0.0.1:9"},
                        }
                    ],
                }
            )
        )
        instance = dg.DagsterInstance.ephemeral()
        register_clusters(instance, ["bench"])
        quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
        resources = {"inferops": InferopsResource(config_path=str(config))}
        started = time.perf_counter()
        result = dg.materialize(
            [k8s_inventory],
            partition_key=str(cluster_partition("2026-11-30", "bench")),
            resources=resources,
            instance=instance,
            run_config=quiet,
        )
        staged = time.perf_counter() - started
        if not result.success:
            raise SystemExit("k8s_inventory asset failed")
        rows.append(("k8s_inventory asset (read → staged Parquet)", staged, "one cluster's ingest run"))
        started = time.perf_counter()
        # Only the inventory is staged: fleet_ingest records the metrics as not ingested, which is fine here.
        result = dg.materialize(
            [fleet_ingest], partition_key="2026-11-30", resources=resources, instance=instance, run_config=quiet
        )
        if not result.success:
            raise SystemExit("fleet_ingest asset failed")
        loaded = time.perf_counter() - started
        rows.append(("fleet_ingest (staged → DuckDB)", loaded, "the single warehouse writer"))
        rows.append(("inventory end to end", staged + loaded, f"target < {TARGET_S:.0f} s"))

    print(f"inventory ingestion, {pods:,} pods / {nodes} nodes (fake API server in its own process)")
    print(f"{'phase':<42} {'seconds':>8}  detail")
    for name, seconds, detail in rows:
        print(f"{name:<42} {seconds:>8.2f}  {detail}")
    print(f"{'peak RSS of the ingesting process':<42} {_rss_mib():>7.0f}M")
    return 0 if staged + loaded < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
