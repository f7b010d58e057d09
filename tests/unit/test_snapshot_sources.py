"""Snapshot readers (inventory dirs, metrics parquet) and the live PromQL query table, without a network."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from inferops_pipeline.domain import METRIC_COLUMNS, Signal
from inferops_pipeline.settings import ConfigError, KubernetesConfig, PrometheusConfig
from inferops_pipeline.sources.errors import SnapshotError, SourceError
from inferops_pipeline.sources.kubernetes import (
    KINDS,
    REQUIRED_KINDS,
    LiveInventory,
    SnapshotInventory,
    inventory_source,
    write_snapshot,
)
from inferops_pipeline.sources.prometheus import (
    QUERIES,
    LivePrometheus,
    SnapshotMetrics,
    metrics_source,
    promql_duration,
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
    a = source.fetch(cluster="a", start=START, end=END)
    assert list(a.columns) == list(METRIC_COLUMNS)
    assert len(a) == 1 and a.loc[0, "gpu_uuid"] == "GPU-1" and a.loc[0, "model"] == ""
    assert a["value"].dtype == "float64" and a["samples"].dtype == "int64"
    b = source.fetch(cluster="b", start=START, end=END)
    assert b.loc[0, "node"] == "" and b.loc[0, "value"] == pytest.approx(0.9)
    assert source.fetch(cluster="missing", start=START, end=END).empty


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


# --- the PromQL query table ----------------------------------------------------------------------

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


def _bare_metric_names(promql: str) -> list[str]:
    """Identifiers used as metric selectors without a brace block (so the cluster matcher cannot reach them)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    bare = []
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()[:1]
        if match.group() not in _KEYWORDS and following not in ("(", "{"):
            bare.append(match.group())
    return bare


def _live(matcher: str | None = None, client: Any = None) -> LivePrometheus:
    config = PrometheusConfig.model_validate({"url": "http://prom:9090", "cluster_matcher": matcher})
    return LivePrometheus(config, client=client)


def test_query_table_covers_every_signal_once_per_stat() -> None:
    assert {q.signal for q in QUERIES} == set(Signal)
    keys = [(q.source, q.signal, q.stat) for q in QUERIES]
    assert len(keys) == len(set(keys))
    assert len(QUERIES) == 27


def test_cluster_matcher_is_in_every_selector() -> None:
    queries = _live('cluster="prod-us"').queries("24h")
    assert len(queries) == len(QUERIES)
    for promql in queries:
        blocks = re.findall(r"\{[^}]*\}", promql)
        assert blocks, promql
        assert all('cluster="prod-us"' in block for block in blocks), promql
        assert _bare_metric_names(promql) == [], promql
        assert promql.count("(") == promql.count(")"), promql


def test_bare_metric_checker_catches_a_missing_selector() -> None:
    assert _bare_metric_names("max by (pod) (max_over_time(up[5m])) and on (pod) foo{}") == ["up"]


def test_no_matcher_leaves_no_empty_selectors() -> None:
    for promql in _live().queries("7d"):
        assert "{}" not in promql and "cluster=" not in promql
        assert "[7d]" in promql or "[1h]" in promql


@pytest.mark.parametrize("matcher", ['{cluster="a"}', 'cluster="a", region=~"us-.*"'])
def test_matcher_forms_accepted(matcher: str) -> None:
    assert all('cluster="a"' in q for q in _live(matcher).queries("24h"))


@pytest.mark.parametrize("matcher", ["prod-us", 'cluster="a"} or vector(1', "cluster=a"])
def test_bad_matcher_is_a_config_error(matcher: str) -> None:
    with pytest.raises(ConfigError, match="prometheus.cluster_matcher"):
        _live(matcher)


def test_window_durations() -> None:
    assert promql_duration(timedelta(hours=24)) == "1d"
    assert promql_duration(timedelta(hours=6)) == "6h"
    assert promql_duration(timedelta(minutes=90)) == "90m"
    assert promql_duration(timedelta(seconds=61)) == "61s"


class FakePrometheus:
    """Answers by looking up which table entry a query is, with one series per pod."""

    def __init__(self, live: LivePrometheus, pods: int) -> None:
        self.by_text = {text: q for text, q in zip(live.queries("1d"), QUERIES, strict=True)}
        self.pods = pods
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def custom_query(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.calls.append(("query", params or {}))
        q = self.by_text[query]
        if q.source == "gpu":
            exported = {"exported_pod": "vllm-0", "exported_namespace": "llm", "exported_container": "vllm"}
            exporter = {
                "pod": "nvidia-dcgm-exporter-x",
                "namespace": "gpu-operator",
                "container": "nvidia-dcgm-exporter",
            }
            value = "1440" if q.mode == "samples" else "0.5"
            return [
                {
                    "metric": {"UUID": "GPU-a", "Hostname": "n1", "pod": "dcgm-x", **exported},
                    "value": [END.timestamp(), value],
                },
                {"metric": {"UUID": "GPU-b", "hostname": "n1", **exporter}, "value": [END.timestamp(), value]},
            ]
        series = []
        for i in range(self.pods):
            labels = {"namespace": "llm", "pod": f"vllm-{i}"}
            if q.source == "container":
                labels["container"] = "vllm"
            elif q.mode == "kv_pool":
                labels.update(num_gpu_blocks="1000", block_size="16")
            else:
                labels["model_name"] = "llama"
            value = "NaN" if q.signal == Signal.TTFT_SECONDS else ("288" if q.mode == "samples" else "2")
            series.append({"metric": labels, "value": [END.timestamp(), value]})
        return series

    def custom_query_range(self, query: str, start: datetime, end: datetime, step: str, params: Any = None) -> Any:
        self.calls.append(("range", {"start": start, "end": end, "step": step}))
        assert self.by_text[query].mode == "hourly"
        points = [[(START + timedelta(hours=h + 1)).timestamp(), str(h)] for h in range(24)]
        return [{"metric": {"namespace": "llm", "pod": f"vllm-{i}", "model_name": "llama"}, "values": points}
                for i in range(self.pods)]  # fmt: skip


@pytest.mark.parametrize("pods", [1, 50])
def test_query_count_is_constant_regardless_of_pods(pods: int) -> None:
    live = _live()
    fake = FakePrometheus(live, pods)
    live._client = fake
    frame = live.fetch(cluster="c1", start=START, end=END)
    assert len(fake.calls) == len(QUERIES)
    assert sum(1 for kind, _ in fake.calls if kind == "range") == 1
    assert all(p["time"] == END.timestamp() for kind, p in fake.calls if kind == "query")
    assert frame["pod"].str.startswith("vllm-").sum() > 0 and frame["pod"].nunique() == pods + 1  # + unassigned GPU


def test_fetch_maps_labels_and_stats() -> None:
    live = _live()
    live._client = FakePrometheus(live, pods=2)
    frame = live.fetch(cluster="c1", start=START, end=END)
    assert list(frame.columns) == list(METRIC_COLUMNS)
    assert frame["value"].dtype == "float64" and frame["samples"].dtype == "int64"
    assert not frame[list(METRIC_COLUMNS[:10])].isna().any().any()
    gpu = frame[(frame.signal == "gpu_util") & (frame.stat == "mean")].set_index("gpu_uuid")
    # exported_* wins over the exporter's own pod; an unallocated GPU (exporter pod) belongs to nobody.
    assert gpu.loc["GPU-a", ["namespace", "pod", "container", "node"]].tolist() == ["llm", "vllm-0", "vllm", "n1"]
    assert gpu.loc["GPU-b", ["namespace", "pod", "container", "node"]].tolist() == ["", "", "", "n1"]
    assert (frame[frame.source == "gpu"]["samples"] == 1440).all()
    pool = frame[frame.signal == "kv_pool_tokens"]
    assert pool["value"].tolist() == [16000.0, 16000.0] and set(pool["model"]) == {"llama"}
    assert (frame[frame.source == "serving"]["samples"] == 288).all()
    assert frame[frame.signal == "ttft_seconds"].empty  # NaN means "not observed", never a number
    hourly = frame[(frame.signal == "request_rate") & (frame.pod == "vllm-1")].set_index("stat")["value"]
    assert hourly.index.tolist() == [f"h{h:02d}" for h in range(24)] and hourly["h05"] == 5.0
    assert set(frame[frame.signal == "request_rate"]["source"]) == {"traffic"}


def test_short_window_skips_the_hourly_query() -> None:
    live = _live()
    fake = FakePrometheus(live, pods=1)
    fake.by_text = {t: q for t, q in zip(live.queries("30m"), QUERIES, strict=True)}
    live._client = fake
    live.fetch(cluster="c1", start=END - timedelta(minutes=30), end=END)
    assert len(fake.calls) == len(QUERIES) - 1


def test_query_failure_is_a_one_line_source_error() -> None:
    from prometheus_api_client import PrometheusApiClientException

    class Broken:
        def custom_query(self, query: str, params: Any = None) -> Any:
            body = b'{"status":"error","errorType":"execution","error":"query processing would load too many samples"}'
            raise PrometheusApiClientException(f"HTTP Status Code 422 ({body!r})")

    with pytest.raises(SourceError) as caught:
        _live(client=Broken()).fetch(cluster="c1", start=START, end=END)
    assert str(caught.value) == (
        "http://prom:9090: query gpu/gpu_util/mean failed: HTTP 422: query processing would load too many samples"
    )


def test_headers_come_from_the_named_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"url": "http://prom:9090", "headers_env": "PROM_HEADERS"}
    monkeypatch.delenv("PROM_HEADERS", raising=False)
    with pytest.raises(ConfigError, match="PROM_HEADERS is not set"):
        LivePrometheus(PrometheusConfig.model_validate(config))._connect()
    monkeypatch.setenv("PROM_HEADERS", "Bearer sekrit")
    with pytest.raises(ConfigError) as caught:
        LivePrometheus(PrometheusConfig.model_validate(config))._connect()
    assert "sekrit" not in str(caught.value)
    monkeypatch.setenv("PROM_HEADERS", '{"Authorization": "Bearer sekrit", "X-Scope-OrgID": "tenant-1"}')
    client = LivePrometheus(PrometheusConfig.model_validate({**config, "verify_tls": False}))._connect()
    assert client.headers == {"Authorization": "Bearer sekrit", "X-Scope-OrgID": "tenant-1"}
    assert client._session.verify is False
