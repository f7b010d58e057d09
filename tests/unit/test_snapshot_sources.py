"""Snapshot readers (inventory dirs, metrics parquet) and the live PromQL query table, without a network."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from inferops_pipeline.domain import METRIC_COLUMNS
from inferops_pipeline.settings import ConfigError, KubernetesConfig, PrometheusConfig
from inferops_pipeline.sources.errors import SnapshotError
from inferops_pipeline.sources.kubernetes import (
    KINDS,
    REQUIRED_KINDS,
    LiveInventory,
    SnapshotInventory,
    inventory_source,
    write_snapshot,
)
from inferops_pipeline.sources.prometheus import (
    LivePrometheus,
    SnapshotMetrics,
    metrics_source,
    write_metrics_snapshot,
)

END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
START = END - timedelta(hours=24)


def _node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"capacity": {"nvidia.com/gpu": "8"}},
    }


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "llm"},
        "spec": {"containers": []},
    }


def _write_list(path: Path, items: list[dict[str, Any]]) -> None:
    path.write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
    )


@pytest.fixture()
def snapshot_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "inventory"
    directory.mkdir()
    _write_list(directory / "nodes.json", [_node("n1"), _node("n2")])
    (directory / "pods.json").write_text(json.dumps([_pod("p1")]))  # a bare array is accepted too
    return directory


# --- SnapshotInventory ---------------------------------------------------------------------------


def test_snapshot_inventory_reads_lists_and_arrays(snapshot_dir: Path) -> None:
    inventory = SnapshotInventory(snapshot_dir)
    assert [n["metadata"]["name"] for n in inventory.list_objects("nodes")] == ["n1", "n2"]
    assert [p["metadata"]["name"] for p in inventory.list_objects("pods")] == ["p1"]
    for kind in KINDS:
        if kind not in REQUIRED_KINDS:
            assert inventory.list_objects(kind) == [], kind


def test_snapshot_inventory_reads_each_file_once(snapshot_dir: Path) -> None:
    inventory = SnapshotInventory(snapshot_dir)
    first = inventory.list_objects("nodes")
    _write_list(snapshot_dir / "nodes.json", [_node("changed")])
    first.append(_node("caller-side"))  # mutating a returned list must not leak into the cache
    assert [n["metadata"]["name"] for n in inventory.list_objects("nodes")] == ["n1", "n2"]


def test_missing_required_kind(tmp_path: Path) -> None:
    _write_list(tmp_path / "nodes.json", [_node("n1")])
    with pytest.raises(SnapshotError) as caught:
        SnapshotInventory(tmp_path).list_objects("pods")
    assert str(caught.value) == f"{tmp_path / 'pods.json'}: missing (the snapshot needs nodes.json and pods.json)"
    assert isinstance(caught.value, ConfigError)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match=r"^.*/nope: snapshot directory not found$"):
        SnapshotInventory(tmp_path / "nope").list_objects("nodes")


def test_invalid_json_names_line_and_column(snapshot_dir: Path) -> None:
    (snapshot_dir / "deployments.json").write_text('{"apiVersion": "v1",\n  "items": [,]}')
    with pytest.raises(SnapshotError) as caught:
        SnapshotInventory(snapshot_dir).list_objects("deployments")
    assert (
        str(caught.value) == f"{snapshot_dir / 'deployments.json'}: invalid JSON at line 2 column 13: Expecting value"
    )


@pytest.mark.parametrize(
    "item",
    [{"metadata": {"namespace": "x"}}, "just-a-string", {"metadata": {"name": ""}}, {"spec": {}}],
)
def test_item_without_name(snapshot_dir: Path, item: Any) -> None:
    _write_list(snapshot_dir / "nodes.json", [_node("ok"), item])
    with pytest.raises(SnapshotError) as caught:
        SnapshotInventory(snapshot_dir).list_objects("nodes")
    assert str(caught.value) == f"{snapshot_dir / 'nodes.json'}: items[1] has no metadata.name"


def test_document_that_is_not_a_list(snapshot_dir: Path) -> None:
    (snapshot_dir / "nodes.json").write_text('{"hello": 1}')
    with pytest.raises(SnapshotError, match=r"nodes\.json: expected a kubectl List object"):
        SnapshotInventory(snapshot_dir).list_objects("nodes")


def test_unknown_kind_is_a_programming_error(snapshot_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown inventory kind 'secrets'"):
        SnapshotInventory(snapshot_dir).list_objects("secrets")


def test_write_snapshot_round_trips(snapshot_dir: Path, tmp_path: Path) -> None:
    source = SnapshotInventory(snapshot_dir)
    write_snapshot(source, tmp_path / "copy")
    copy = SnapshotInventory(tmp_path / "copy")
    for kind in KINDS:
        assert copy.list_objects(kind) == source.list_objects(kind)
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == sorted(f"{k}.json" for k in KINDS)


def test_inventory_factory(snapshot_dir: Path) -> None:
    assert isinstance(inventory_source(KubernetesConfig.model_validate({"snapshot": snapshot_dir})), SnapshotInventory)
    live = inventory_source(KubernetesConfig.model_validate({"context": "prod"}))
    assert isinstance(live, LiveInventory) and live.label == "prod"


# --- SnapshotMetrics -----------------------------------------------------------------------------


def _metric_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"cluster": "a", "source": "gpu", "signal": "gpu_util", "stat": "mean", "namespace": "llm", "pod": "p",
             "container": "c", "node": "n", "gpu_uuid": "GPU-1", "model": None, "value": 0.25, "samples": 1440},
            {"cluster": "b", "source": "serving", "signal": "kv_cache_usage", "stat": "p95", "namespace": "llm",
             "pod": "q", "container": None, "node": None, "gpu_uuid": None, "model": "llama", "value": 0.9,
             "samples": 10},
        ]
    )  # fmt: skip


def test_metrics_snapshot_round_trip_and_cluster_filter(tmp_path: Path) -> None:
    path = tmp_path / "metrics.parquet"
    shuffled = _metric_frame().assign(extra="dropped")[["extra", *reversed(METRIC_COLUMNS)]]
    write_metrics_snapshot(shuffled, path)
    connection = duckdb.connect()
    assert connection.read_parquet(str(path)).columns == list(METRIC_COLUMNS)
    connection.close()
    source = SnapshotMetrics(path)
    a = source.fetch(cluster="a", start=START, end=END).frame
    assert list(a.columns) == list(METRIC_COLUMNS)
    assert len(a) == 1 and a.loc[0, "gpu_uuid"] == "GPU-1" and a.loc[0, "model"] == ""
    assert a["value"].dtype == "float64" and a["samples"].dtype == "int64"
    b = source.fetch(cluster="b", start=START, end=END).frame
    assert b.loc[0, "node"] == "" and b.loc[0, "value"] == pytest.approx(0.9)
    assert source.fetch(cluster="missing", start=START, end=END).frame.empty


def test_metrics_snapshot_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError) as caught:
        SnapshotMetrics(tmp_path / "m.parquet").fetch(cluster="a", start=START, end=END)
    assert str(caught.value) == f"{tmp_path / 'm.parquet'}: metrics snapshot not found"


def test_metrics_snapshot_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    path.write_text("cluster,value\nx,1\n")
    with pytest.raises(SnapshotError, match=r"m\.parquet: not a parquet file \(.+\)$"):
        SnapshotMetrics(path).fetch(cluster="a", start=START, end=END)


def test_metrics_snapshot_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    frame = _metric_frame().drop(columns=["samples"])
    connection = duckdb.connect()
    connection.from_df(frame).write_parquet(str(path))
    connection.close()
    with pytest.raises(SnapshotError) as caught:
        SnapshotMetrics(path).fetch(cluster="a", start=START, end=END)
    assert str(caught.value).startswith(f"{path}: missing column 'samples'")
    assert "\n" not in str(caught.value)


def test_metrics_factory(tmp_path: Path) -> None:
    assert isinstance(
        metrics_source(PrometheusConfig.model_validate({"snapshot": tmp_path / "m.parquet"})), SnapshotMetrics
    )
    assert isinstance(metrics_source(PrometheusConfig.model_validate({"url": "http://prom:9090"})), LivePrometheus)
    with pytest.raises(ConfigError, match="prometheus.url"):
        metrics_source(PrometheusConfig.model_validate({}))
