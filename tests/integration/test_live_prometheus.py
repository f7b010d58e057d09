"""LivePrometheus against a real Prometheus backfilled with the demo fleet's OpenMetrics: parity, quirks, failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml
from promserver import BackfilledFleet, PromServer, free_port

from inferops_pipeline.defs.inprocess import materialize_date
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.demo.fleet import DEMO_AT
from inferops_pipeline.demo.spec import QUOTE_NAMESPACE
from inferops_pipeline.domain import CoverageStatus, Signal
from inferops_pipeline.settings import PrometheusConfig
from inferops_pipeline.sources.prometheus import (
    QUERIES,
    STRING_COLUMNS,
    LivePrometheus,
    MetricsFetch,
    SnapshotMetrics,
    sort_metrics,
)

END = DEMO_AT
START = END - timedelta(hours=24)
PARTITION = "2026-11-30"


def _live(url: str, cluster: str, **extra: Any) -> LivePrometheus:
    return LivePrometheus(
        PrometheusConfig.model_validate({"url": url, "cluster_matcher": f'cluster="{cluster}"', **extra})
    )


def _fetch(url: str, cluster: str, **extra: Any) -> MetricsFetch:
    return _live(url, cluster, **extra).fetch(cluster=cluster, start=START, end=END)


def _assert_same(live: pd.DataFrame, snapshot: pd.DataFrame) -> None:
    """Same rows (identity, signal, stat), same sample counts, values equal to float rounding."""
    a, b = sort_metrics(live), sort_metrics(snapshot)
    assert len(a) == len(b) > 0
    pd.testing.assert_frame_equal(a[list(STRING_COLUMNS)], b[list(STRING_COLUMNS)])
    assert (a["samples"] == b["samples"]).all(), a[a["samples"] != b["samples"]].head()
    assert a["value"].to_numpy() == pytest.approx(b["value"].to_numpy(), rel=1e-9, abs=1e-12)


def _clusters(fleet: BackfilledFleet) -> list[str]:
    return [c.name for c in fleet.fleet.clusters]


# --- parity: live queries over the backfilled series == the generator's snapshot --------------------


def test_live_equals_snapshot_small_fleet(small_fleet: BackfilledFleet, prometheus: PromServer) -> None:
    snapshot = SnapshotMetrics(small_fleet.directory / "metrics.parquet")
    for cluster in _clusters(small_fleet):
        live = _fetch(prometheus.url, cluster)
        offline = snapshot.fetch(cluster=cluster, start=START, end=END)
        assert live.error == ""
        _assert_same(live.frame, offline.frame)
        # Coverage is judged from the rows alone, so both paths say the same about every signal.
        assert [(r.part, r.status, r.items) for r in live.coverage] == [
            (r.part, r.status, r.items) for r in offline.coverage
        ]


def test_live_equals_snapshot_full_demo(demo_fleet_backfilled: BackfilledFleet, demo_prometheus: PromServer) -> None:
    snapshot = SnapshotMetrics(demo_fleet_backfilled.directory / "metrics.parquet")
    for cluster in _clusters(demo_fleet_backfilled):
        live = _fetch(demo_prometheus.url, cluster)
        _assert_same(live.frame, snapshot.fetch(cluster=cluster, start=START, end=END).frame)
        # One query per signal, whatever the number of pods.
        assert len(live.queries) == len(QUERIES)


# --- signals and exporter quirks --------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet_a(prometheus: PromServer) -> pd.DataFrame:
    return _fetch(prometheus.url, "test-a").frame


@pytest.fixture(scope="module")
def fleet_b(prometheus: PromServer) -> pd.DataFrame:
    return _fetch(prometheus.url, "test-b").frame


def _value(frame: pd.DataFrame, signal: Signal, stat: str, **identity: str) -> pd.Series:
    rows = frame[(frame["signal"] == signal.value) & (frame["stat"] == stat)]
    for column, value in identity.items():
        rows = rows[rows[column].str.startswith(value)] if column == "pod" else rows[rows[column] == value]
    return rows["value"]


def test_every_signal_is_read(fleet_a: pd.DataFrame, fleet_b: pd.DataFrame) -> None:
    seen = set(fleet_a["signal"]) | set(fleet_b["signal"])
    assert seen == {s.value for s in Signal}
    stats = set(fleet_a[fleet_a["signal"] == "gpu_util"]["stat"])
    assert stats == {"mean", "p50", "p95", "p99", "max", "hours"}
    assert set(fleet_a[fleet_a["signal"] == "ttft_seconds"]["stat"]) >= {"p50", "p95", "p99", "hours"}


def test_values_match_the_generators_profiles(fleet_a: pd.DataFrame) -> None:
    # chat-vllm: util 0.6, kv 0.5, 24 h at 5 min → 288 samples per series.
    util = _value(fleet_a, Signal.GPU_UTIL, "mean", namespace="llm", pod="chat-vllm")
    assert len(util) == 2 and util.to_numpy() == pytest.approx([0.6, 0.6], abs=0.03)
    kv = _value(fleet_a, Signal.KV_CACHE_USAGE, "p50", namespace="llm", pod="chat-vllm")
    assert kv.to_numpy() == pytest.approx([0.5, 0.5], abs=0.05)
    rows = fleet_a[(fleet_a["signal"] == "gpu_util") & (fleet_a["pod"].str.startswith("chat-vllm"))]
    assert set(rows["samples"]) == {288}
    assert set(_value(fleet_a, Signal.GPU_UTIL, "hours", pod="chat-vllm")) == {24.0}
    # 2 req/s × 86,100 s counted after the first scrape; 220 generated tokens per request.
    generated = _value(fleet_a, Signal.GENERATION_TOKENS, "increase", pod="chat-vllm").sum()
    assert generated == pytest.approx(2 * 2 * 86100 * 220, rel=0.03)
    hourly = fleet_a[(fleet_a["signal"] == "request_rate") & (fleet_a["pod"].str.startswith("chat-vllm"))]
    assert hourly["stat"].nunique() == 24 and hourly["value"].mean() == pytest.approx(2.0, rel=0.1)


def test_old_and_new_vllm_names(fleet_a: pd.DataFrame, fleet_b: pd.DataFrame) -> None:
    # test-a exports vllm:kv_cache_usage_perc / inter_token_latency, test-b the pre-0.10 names.
    for frame, pod in ((fleet_a, "chat-vllm"), (fleet_b, "old-vllm")):
        assert len(_value(frame, Signal.KV_CACHE_USAGE, "p95", pod=pod)) == 2
        assert len(_value(frame, Signal.ITL_SECONDS, "p95", pod=pod)) == 2


def test_sglang_tgi_and_triton_series(fleet_a: pd.DataFrame) -> None:
    assert _value(fleet_a, Signal.KV_CACHE_USAGE, "p50", pod="rank-sglang").iloc[0] == pytest.approx(0.6, abs=0.06)
    triton = fleet_a[(fleet_a["signal"] == "kv_cache_usage") & (fleet_a["pod"].str.startswith("trt-triton"))]
    assert set(triton["model"]) == {"meta-llama/Llama-3.1-8B-Instruct"}
    assert len(_value(fleet_a, Signal.REQUESTS_WAITING, "max", pod="trt-triton")) == 1
    # TGI: no KV ratio, batch tokens instead; its request counter has no _total suffix.
    assert _value(fleet_a, Signal.KV_CACHE_USAGE, "p95", pod="sum-tgi").empty
    assert len(_value(fleet_a, Signal.BATCH_TOKENS, "max", pod="sum-tgi")) == 1
    assert _value(fleet_a, Signal.REQUEST_RATE, "h05", pod="sum-tgi").iloc[0] > 0


def test_mig_instances_are_separate_devices(fleet_a: pd.DataFrame) -> None:
    mig = fleet_a[
        (fleet_a["signal"] == "gpu_util") & (fleet_a["stat"] == "mean") & fleet_a["pod"].str.startswith("tiny-mig")
    ]
    assert len(mig) == 2 and mig["pod"].nunique() == 2
    parents = {uuid.split("/")[0] for uuid in mig["gpu_uuid"]}
    assert len(parents) == 1 and sorted(u.split("/")[1] for u in mig["gpu_uuid"]) == ["mig-1", "mig-2"]
    total = _value(fleet_a, Signal.GPU_FB_TOTAL_MIB, "max", pod="tiny-mig")
    assert total.to_numpy() == pytest.approx([10240, 10240], abs=1)


def test_exported_pod_attribution_and_hostname_label(fleet_b: pd.DataFrame) -> None:
    # test-b: honorLabels false (exported_*), lowercase `hostname`, DEV_GPU_UTIL in percent.
    gpu = fleet_b[(fleet_b["signal"] == "gpu_util") & (fleet_b["stat"] == "mean") & (fleet_b["pod"] != "")]
    assert set(gpu["namespace"]) == {"serve"}
    assert {pod.rsplit("-", 2)[0] for pod in gpu["pod"]} == {"old-vllm", "gappy-vllm", "burst-sglang"}
    assert (gpu["container"] == "engine").all() and (gpu["node"] != "").all()
    assert gpu["value"].between(0.3, 0.7).all()  # percent scaled to 0–1


def test_unallocated_gpu_belongs_to_nobody(fleet_a: pd.DataFrame) -> None:
    free = fleet_a[(fleet_a["signal"] == "gpu_util") & (fleet_a["stat"] == "mean") & (fleet_a["pod"] == "")]
    assert len(free) >= 1 and (free["namespace"] == "").all() and (free["value"] == 0).all()
    assert free["node"].str.contains("l40s").any()  # the spare node


def test_namespace_with_a_quote(fleet_a: pd.DataFrame) -> None:
    rows = fleet_a[fleet_a["namespace"] == QUOTE_NAMESPACE]
    assert {"gpu_util", "kv_cache_usage", "memory_working_set_bytes", "oom_killed"} <= set(rows["signal"])
    assert _value(rows, Signal.OOM_KILLED, "max").iloc[0] == 1.0
    assert _value(rows, Signal.RESTARTS, "increase").iloc[0] == 3.0


def test_scrape_gap_lowers_hours_and_is_reported(prometheus: PromServer) -> None:
    fetched = _fetch(prometheus.url, "test-b")
    hours = _value(fetched.frame, Signal.GPU_UTIL, "hours", pod="gappy-vllm")
    assert hours.tolist() == [18.0]
    row = next(r for r in fetched.coverage if r.part == "gpu_util")
    assert "1 of" in row.detail and "fewest 18" in row.detail


# --- cost control -------------------------------------------------------------------------------------


def test_query_over_max_samples_is_split(small_fleet: BackfilledFleet, prometheus: PromServer,
                                         prometheus_factory: Callable[..., PromServer]) -> None:  # fmt: skip
    expected = _fetch(prometheus.url, "test-a")
    # *_over_time loads one series at a time; the CPU subquery (no recording rule in test-b… and the
    # raw fallback everywhere) materialises every container's 5 min rates at once, so it is refused.
    tight = prometheus_factory(small_fleet.tsdb, "--query.max-samples=1000")
    split = _fetch(tight.url, "test-a")
    assert split.error == ""
    _assert_same(split.frame, expected.frame)
    refused = [q for q in split.queries if "too many samples" in q.error]
    assert refused, "the limit should refuse at least one whole-fleet query"
    details = {r.part: r.detail for r in split.coverage}
    assert "split by namespace" in details["cpu_usage_cores"]
    # The quoted namespace came back through its own escaped matcher.
    assert (split.frame["namespace"] == QUOTE_NAMESPACE).any()
    assert any('ml\\"ops' in q.promql for q in split.queries if not q.error)
    assert max(len(q.promql) for q in split.queries) < 20_000


# --- failures -------------------------------------------------------------------------------------


def test_server_down_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    fetched = _fetch(url, "test-a", timeout_s=5)
    assert fetched.frame.empty
    assert "cannot query Prometheus" in fetched.error and "Connection refused" in fetched.error
    assert {r.status for r in fetched.coverage} == {CoverageStatus.ERROR}
    assert {r.part for r in fetched.coverage} == {str(q.signal) for q in QUERIES}


def _config(fleet: BackfilledFleet, path: Path, *, live_url: str | None, down_url: str | None = None) -> Path:
    config = yaml.safe_load((fleet.directory / "inferops.yaml").read_text())
    for cluster in config["clusters"]:
        cluster["kubernetes"]["snapshot"] = str(fleet.directory / cluster["kubernetes"]["snapshot"])
        if live_url:
            cluster["prometheus"] = {"url": live_url, "cluster_matcher": f'cluster="{cluster["name"]}"'}
        else:
            cluster["prometheus"] = {"snapshot": str(fleet.directory / "metrics.parquet")}
    if down_url:
        # A fourth cluster whose Prometheus is down: its inventory is test-c's, its metrics are missing.
        down = json.loads(json.dumps(config["clusters"][-1]))
        down["name"] = "test-down"
        down["prometheus"] = {"url": down_url, "timeout_s": 5}
        config["clusters"].append(down)
    config["warehouse"] = str(path.with_suffix(".duckdb"))
    path.write_text(yaml.safe_dump(config))
    return path


def _materialize(config: Path) -> dict[str, dg.ExecuteInProcessResult]:
    resource = InferopsResource(config_path=str(config), warehouse_path=str(config.with_suffix(".duckdb")))
    runs = materialize_date(
        PARTITION, resources={"inferops": resource}, stages=("ingest", "catalogs", "model", "findings")
    )
    return {run.stage: run.result for run in runs}


def _table(config: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(config.with_suffix(".duckdb")), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_graph_live_matches_snapshot_and_reports_gaps(small_fleet: BackfilledFleet, prometheus: PromServer,
                                                      tmp_path: Path) -> None:  # fmt: skip
    offline = _config(small_fleet, tmp_path / "offline.yaml", live_url=None)
    live = _config(
        small_fleet, tmp_path / "live.yaml", live_url=prometheus.url, down_url=f"http://127.0.0.1:{free_port()}"
    )
    _materialize(offline)
    runs = _materialize(live)  # a down Prometheus is reported, not fatal (materialize_date raises on failure)
    errors = {
        stage: run.asset_materializations_for_node("window_metrics")[0].metadata["error"].value
        for stage, run in runs.items()
        if stage.startswith("ingest ")
    }
    assert {stage for stage, error in errors.items() if error} == {"ingest test-down"}

    # The same workload metrics from live queries as from the snapshot.
    query = "select * exclude (assessment_date) from workloads where cluster != 'test-down' order by cluster, namespace, name"
    got, want = _table(live, query), _table(offline, query)
    pd.testing.assert_frame_equal(got.drop(columns="metrics"), want.drop(columns="metrics"))
    for a, b in zip(got["metrics"], want["metrics"], strict=True):
        live_metrics, offline_metrics = json.loads(a), json.loads(b)
        assert live_metrics.keys() == offline_metrics.keys()
        for key, value in offline_metrics.items():
            assert live_metrics[key] == (value if value is None else pytest.approx(value, rel=1e-9)), key

    coverage = _table(live, "select cluster, part, status from coverage where source = 'prometheus'")
    down = coverage[coverage["cluster"] == "test-down"]
    assert len(down) == len(QUERIES) and set(down["status"]) == {"error"}
    absent = set(coverage[(coverage["cluster"] == "test-c") & (coverage["status"] == "absent")]["part"])
    assert {"gpu_util", "gpu_fb_used_mib", "gpu_power_w"} <= absent

    # No GPU metrics (test-c: no dcgm-exporter; test-down: no Prometheus) → observability gaps, never waste.
    findings = _table(live, "select cluster, workload, type, monthly_waste_usd from findings")
    blind = findings[findings["cluster"].isin(["test-c", "test-down"])]
    assert set(blind["type"]) == {"observability_gap"}
    assert set(blind["workload"]) == {"idle-unwatched"} and (blind["monthly_waste_usd"] == 0).all()
    assert len(blind) == 2


def test_snapshot_metrics_command_captures_what_live_reads(small_fleet: BackfilledFleet, prometheus: PromServer,
                                                          tmp_path: Path) -> None:  # fmt: skip
    from typer.testing import CliRunner

    from inferops_pipeline.cli import app

    config = _config(small_fleet, tmp_path / "live.yaml", live_url=prometheus.url)
    out = tmp_path / "captured.parquet"
    done = CliRunner().invoke(app, ["snapshot-metrics", "--config", str(config), "--out", str(out)])
    assert done.exit_code == 0, done.output
    captured, original = SnapshotMetrics(out), SnapshotMetrics(small_fleet.directory / "metrics.parquet")
    for cluster in _clusters(small_fleet):
        _assert_same(
            captured.fetch(cluster=cluster, start=START, end=END).frame,
            original.fetch(cluster=cluster, start=START, end=END).frame,
        )
    down = _config(small_fleet, tmp_path / "down.yaml", live_url=f"http://127.0.0.1:{free_port()}")
    failed = CliRunner().invoke(app, ["snapshot-metrics", "--config", str(down), "--out", str(tmp_path / "x.parquet")])
    assert failed.exit_code == 4 and "Connection refused" in failed.output
