"""Inventory ingestion end to end: several clusters (live fake API servers, a snapshot dir, one down) into the warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from fakes.kube_api import FakeKubeApi, unused_url, write_kubeconfig
from fakes.kube_objects import SECRET_SENTINELS, realistic_fleet

from inferops_pipeline.cli import EXIT_INCOMPLETE
from inferops_pipeline.defs.inprocess import materialize_date
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.sources.kubernetes import KINDS
from inferops_pipeline.sources.prometheus import empty_metrics_frame, write_metrics_snapshot

PARTITION = "2026-11-30"


@pytest.fixture(scope="module")
def fleet_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """live-a: healthy; live-b: deployments denied; snap: the same objects as live-a on disk; down: nothing listens."""
    root = tmp_path_factory.mktemp("fleet")
    with FakeKubeApi(realistic_fleet(), validate=True) as a, FakeKubeApi(realistic_fleet()) as b:
        b.deny("deployments")
        kubeconfig = write_kubeconfig(root / "kubeconfig", {"a": a.url, "b": b.url, "down": unused_url()})
        snapshot = root / "snap"
        snapshot.mkdir()
        for kind in KINDS:
            (snapshot / f"{kind}.json").write_text(
                json.dumps({"apiVersion": "v1", "kind": "List", "items": a.objects(kind)})
            )
        metrics = root / "metrics.parquet"
        write_metrics_snapshot(empty_metrics_frame(), metrics)
        prometheus = {"snapshot": str(metrics)}
        live = {"kubeconfig": str(kubeconfig), "timeout_s": 5, "retries": 1}
        config = {
            "warehouse": str(root / "wh.duckdb"),
            "at": "2026-12-01T00:00:00Z",
            "clusters": [
                {"name": "live-a", "kubernetes": {**live, "context": "a"}, "prometheus": prometheus},
                {"name": "live-b", "kubernetes": {**live, "context": "b"}, "prometheus": prometheus},
                {"name": "snap", "kubernetes": {"snapshot": str(snapshot)}, "prometheus": prometheus},
                {"name": "down", "kubernetes": {**live, "context": "down", "connect_timeout_s": 0.5}, "prometheus": prometheus},
            ],
        }  # fmt: skip
        path = root / "inferops.yaml"
        path.write_text(yaml.safe_dump(config))
        yield path


@pytest.fixture(scope="module")
def ingested(fleet_config: Path) -> dict[str, Any]:
    warehouse = fleet_config.parent / "wh.duckdb"
    runs = materialize_date(
        PARTITION,
        resources={"inferops": InferopsResource(config_path=str(fleet_config), warehouse_path=str(warehouse))},
        stages=("ingest", "catalogs", "model"),
    )
    errors = {
        run.stage.removeprefix("ingest "): run.result.asset_materializations_for_node("k8s_inventory")[0]
        .metadata["error"]
        .value
        for run in runs
        if run.stage.startswith("ingest ")
    }
    return {"warehouse": warehouse, "errors": {cluster: error for cluster, error in errors.items() if error}}


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_cluster_is_ingested_except_the_down_one(ingested: dict[str, Any]) -> None:
    wh = ingested["warehouse"]
    nodes = dict(query(wh, "select cluster, count(*) from k8s_nodes group by cluster"))
    assert nodes == {"live-a": 14, "live-b": 14, "snap": 14}
    pods = dict(query(wh, "select cluster, count(*) from k8s_workloads group by cluster"))
    assert pods == {"live-a": 17, "live-b": 17, "snap": 17}
    assert set(ingested["errors"]) == {"down"}
    assert ingested["errors"]["down"].startswith("nodes: API server failed after 2 attempts")


def test_live_and_snapshot_clusters_have_identical_rows(ingested: dict[str, Any]) -> None:
    wh = ingested["warehouse"]
    for table, key in (
        ("k8s_workloads", "namespace, name"),
        ("k8s_nodes", "name"),
        ("workloads", "namespace, kind, name"),
    ):
        live = query(wh, f"select * exclude (cluster) from {table} where cluster = 'live-a' order by {key}")
        snap = query(wh, f"select * exclude (cluster) from {table} where cluster = 'snap' order by {key}")
        assert live == snap and live, table


def test_coverage_rows(ingested: dict[str, Any]) -> None:
    rows = query(
        ingested["warehouse"], "select cluster, part, status, items, detail from coverage where source = 'kubernetes'"
    )
    by = {(c, p): (s, i, d) for c, p, s, i, d in rows}
    assert len(rows) == 4 * len(KINDS)
    assert by[("live-a", "pods")] == ("ok", 21, "")
    assert by[("live-a", "leaderworkersets")][:2] == ("ok", 1)
    assert by[("live-b", "deployments")][0] == "denied"
    assert by[("live-b", "deployments")][2].startswith("forbidden (HTTP 403")
    assert by[("snap", "daemonsets")][:2] == ("ok", 1)
    assert {s for (c, _), (s, _, _) in by.items() if c == "down"} == {"error"}
    assert {s for (c, _), (s, _, _) in by.items() if c in ("live-a", "snap")} == {"ok"}


def test_facts_reach_the_model_tables(ingested: dict[str, Any]) -> None:
    wh = ingested["warehouse"]
    node = query(wh, "select gpu_sharing, gpu_count, gpu_capacity, mig_strategy, gpu_resources from k8s_nodes "
                     "where cluster = 'live-a' and name = 'mig-a100-0'")  # fmt: skip
    assert node == [("mig", 8, 36, "mixed", '{"nvidia.com/mig-1g.10gb": 28, "nvidia.com/mig-3g.40gb": 8}')]
    (row,) = query(
        wh,
        "select runtime, model, tensor_parallel, pipeline_parallel, max_model_len, served_model_name, platform, "
        "engine_facts, placement, ready_replicas from workloads where cluster = 'live-a' and name = 'deepseek-lws'",
    )
    assert row[:7] == ("vllm", "deepseek-ai/DeepSeek-V3", 8, 2, 16384, "", "")
    assert json.loads(row[7])["pipeline_parallel"] == {"value": "2", "source": "arg:--pipeline-parallel-size"}
    assert row[9] == 2
    (decode,) = query(
        wh,
        "select placement, kv_cache_dtype from workloads where name = 'ms-qwen-llm-d-modelservice-decode' and cluster = 'snap'",
    )
    assert json.loads(decode[0])["gpu_keys"] == ["nvidia.com/gpu.product"] and decode[1] == "fp8"
    allocated = dict(query(wh, "select name, gpu_allocated from gpu_nodes where cluster = 'live-a'"))
    assert allocated["gfd-h100-0"] == 5  # 2 × 2 engine GPUs + the exporter pod that (wrongly) holds one
    assert allocated["ts-l4-0"] == 3  # the terminating pod still holds its share


def test_no_env_value_or_secret_reaches_any_table(ingested: dict[str, Any]) -> None:
    wh = ingested["warehouse"]
    tables = [
        t for (t,) in query(wh, "select table_name from information_schema.tables where table_type = 'BASE TABLE'")
    ]
    assert {"raw_k8s_objects", "k8s_workloads", "workloads", "coverage"} <= set(tables)
    for table in tables:
        text = json.dumps(query(wh, f"select * from {table}"), default=str)
        for secret in (*SECRET_SENTINELS, "DEBUG", "/tmp"):  # /tmp and DEBUG are harmless env values: gone too
            assert secret not in text, f"{secret!r} found in {table}"
    raw = query(
        wh, "select body from raw_k8s_objects where cluster = 'live-a' and name like 'tgi-mistral-%' and kind = 'pods'"
    )
    env = json.loads(raw[0][0])["spec"]["containers"][0]["env"]
    assert [e for e in env if "value" in e] == []


def test_assess_cli_reports_coverage_and_fails_on_a_down_cluster(fleet_config: Path, tmp_path: Path) -> None:
    config = yaml.safe_load(fleet_config.read_text())
    config["warehouse"] = str(tmp_path / "cli.duckdb")
    path = tmp_path / "inferops.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-m", "inferops_pipeline.cli", "assess", "--config", str(path), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_INCOMPLETE, done.stderr  # a cluster unreadable: not a clean run, not bad input
    report = json.loads(done.stdout)
    clusters = report["assessment"]["coverage"]["clusters"]
    assert clusters["down"]["status"] == "error"
    assert clusters["live-b"]["kubernetes"]["deployments"]["status"] == "denied"
    assert clusters["live-a"]["kubernetes"]["pods"] == {"status": "ok", "items": 21}
    assert "down" in done.stderr
