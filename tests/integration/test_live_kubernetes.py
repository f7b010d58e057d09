"""LiveInventory and read_inventory against the fake Kubernetes API server over real HTTP (no client mocks)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.kube_api import FakeKubeApi, unused_url, write_kubeconfig
from fakes.kube_objects import realistic_fleet

from inferops_pipeline.domain import CoverageStatus
from inferops_pipeline.inventory.nodes import gpu_allocations, node_facts
from inferops_pipeline.inventory.pods import pod_rows
from inferops_pipeline.settings import KubernetesConfig
from inferops_pipeline.sources.errors import SourceError
from inferops_pipeline.sources.kubernetes import (
    KINDS,
    AccessDenied,
    LiveInventory,
    SnapshotInventory,
    read_inventory,
    write_snapshot,
)


@pytest.fixture()
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi(realistic_fleet(), validate=True) as server:
        yield server


def live(tmp_path: Path, api: FakeKubeApi | str, **kwargs: Any) -> LiveInventory:
    url = api if isinstance(api, str) else api.url
    path = write_kubeconfig(tmp_path / f"kubeconfig-{abs(hash(url))}", {"other": "http://127.0.0.1:9", "fake": url},
                            token="s3cret-token")  # fmt: skip
    config = KubernetesConfig.model_validate({"kubeconfig": path, "context": "fake", **kwargs.pop("config", {})})
    return LiveInventory(config, backoff_s=kwargs.pop("backoff_s", 0.001), **kwargs)


def snapshot_dir(tmp_path: Path, fleet: dict[str, list[dict[str, Any]]]) -> Path:
    directory = tmp_path / "snapshot"
    directory.mkdir()
    for kind, items in fleet.items():
        if kind in KINDS:
            (directory / f"{kind}.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return directory


def instance_gpus(cloud: str, region: str, instance_type: str) -> tuple[str, int, float] | None:
    return {"g5.12xlarge": ("A10G", 4, 24.0), "Standard_ND96isr_H100_v5": ("H100-80GB", 8, 80.0)}.get(instance_type)


def ingest(objects: dict[str, list[dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    allocated = gpu_allocations(objects["pods"])
    nodes = [
        node_facts(n, cluster="c", default_cloud="aws", default_region="us-east-1", instance_gpus=instance_gpus,
                   allocated=allocated.get(n["metadata"]["name"], 0))
        for n in objects["nodes"]
    ]  # fmt: skip
    return nodes, pod_rows(objects, cluster="c", owner_labels=["team"])


def test_live_and_snapshot_give_identical_objects_and_workloads(tmp_path: Path, api: FakeKubeApi) -> None:
    # The snapshot is what `kubectl get <kind> -A -o json` prints for the server's objects.
    dumped = {kind: api.objects(kind) for kind in KINDS}
    source = live(tmp_path, api, page_size=4)
    from_live = read_inventory(source, cluster="c")
    from_snapshot = read_inventory(SnapshotInventory(snapshot_dir(tmp_path, dumped)), cluster="c")
    for kind in KINDS:
        assert from_live.objects[kind] == from_snapshot.objects[kind], kind
    assert ingest(from_live.objects) == ingest(from_snapshot.objects)
    nodes, rows = ingest(from_live.objects)
    assert len(nodes) == 14 and len({(r.workload_kind, r.workload) for r in rows}) == 13
    # The kubeconfig's named context (not current-context) was used, with its bearer token; reads only.
    assert {r.authorization for r in api.requests} == {"Bearer s3cret-token"}
    assert {r.method for r in api.requests} == {"GET"}
    assert all(row.status == CoverageStatus.OK for row in from_live.coverage)
    source.close()


def test_multi_page_list_uses_limit_and_continue(tmp_path: Path, api: FakeKubeApi) -> None:
    source = live(tmp_path, api, page_size=5)
    pods = source.list_objects("pods")
    assert len(pods) == 21
    calls = [r.query for r in api.requests if r.path == "/api/v1/pods"]
    assert len(calls) == 5  # 21 pods in pages of 5
    assert {tuple(q["limit"]) for q in calls} == {("5",)}
    assert "continue" not in calls[0] and all("continue" in q for q in calls[1:])
    assert len({p["metadata"]["uid"] for p in pods}) == 21
    assert all(p["apiVersion"] == "v1" and p["kind"] == "Pod" for p in pods)  # filled in like kubectl does


def test_expired_continue_token_restarts_the_list(tmp_path: Path, api: FakeKubeApi) -> None:
    api.inject("pods", status=410, times=1, after=1)  # the second page answers 410 Expired
    pods = live(tmp_path, api, page_size=8).list_objects("pods")
    assert len(pods) == 21 and len({p["metadata"]["name"] for p in pods}) == 21
    assert api.count("/api/v1/pods") == 5  # page 1, 410, then a fresh 3-page list


def test_forbidden_kind_degrades_coverage_and_the_rest_ingests(tmp_path: Path, api: FakeKubeApi) -> None:
    api.deny("deployments")
    read = read_inventory(live(tmp_path, api), cluster="prod-us")
    status = {row.part: row for row in read.coverage}
    assert status["deployments"].status == CoverageStatus.DENIED
    assert status["deployments"].detail.startswith("forbidden (HTTP 403: grant list on it to this identity)")
    assert 'cannot list resource "deployments" in API group "apps" at the cluster scope' in status["deployments"].detail
    assert {p for p, row in status.items() if row.status != CoverageStatus.OK} == {"deployments"}
    assert not read.error and read.objects["deployments"] == []
    _, rows = ingest(read.objects)
    # ReplicaSets still name their Deployment, so workloads keep their identity.
    assert ("Deployment", "vllm-llama3-deployment-vllm") in {(r.workload_kind, r.workload) for r in rows}
    assert api.count("/apis/apps/v1/deployments") == 1  # 403 is never retried


def test_missing_crd_is_absent_not_an_error(tmp_path: Path) -> None:
    fleet = {k: v for k, v in realistic_fleet().items() if k not in ("leaderworkersets", "llminferenceservices")}
    with FakeKubeApi(fleet) as server:
        read = read_inventory(live(tmp_path, server), cluster="c")
    status = {row.part: row.status for row in read.coverage}
    assert status["leaderworkersets"] == CoverageStatus.ABSENT
    assert status["llminferenceservices"] == CoverageStatus.ABSENT  # v1alpha2 then v1alpha1 both 404
    assert status["inferenceservices"] == CoverageStatus.OK


def test_slow_response_times_out_then_the_retry_succeeds(tmp_path: Path, api: FakeKubeApi) -> None:
    api.slow("pods", 2.0, times=1)
    source = live(tmp_path, api, config={"timeout_s": 0.3, "retries": 2})
    started = time.monotonic()
    read = read_inventory(source, cluster="c")
    assert time.monotonic() - started < 2.0
    assert not read.error and len(read.objects["pods"]) == 21
    assert api.count("/api/v1/pods") == 2


def test_server_that_never_answers_in_time_fails_that_cluster(tmp_path: Path, api: FakeKubeApi) -> None:
    api.slow("nodes", 2.0)
    read = read_inventory(live(tmp_path, api, config={"timeout_s": 0.2, "retries": 1}), cluster="slow")
    assert read.error.startswith("nodes: API server failed after 2 attempts (ReadTimeoutError: Read timed out")
    rows = {row.part: row for row in read.coverage}
    assert rows["nodes"].status == CoverageStatus.ERROR
    assert all(
        rows[k].status == CoverageStatus.ERROR and rows[k].detail == "skipped: nodes unreadable" for k in KINDS[1:]
    )
    assert all(items == [] for items in read.objects.values())
    assert api.count("/api/v1/pods") == 0  # nothing else is read from a cluster that cannot be assessed


def test_optional_kind_failing_after_retries_is_an_error_row_only(tmp_path: Path, api: FakeKubeApi) -> None:
    api.fail("horizontalpodautoscalers", 500, times=None)
    read = read_inventory(live(tmp_path, api, config={"retries": 1}), cluster="c")
    rows = {row.part: row for row in read.coverage}
    assert rows["horizontalpodautoscalers"].status == CoverageStatus.ERROR
    assert rows["horizontalpodautoscalers"].detail.startswith("API server failed after 2 attempts (HTTP 500")
    assert not read.error and len(read.objects["pods"]) == 21


def test_transient_errors_are_retried_with_retry_after(tmp_path: Path, api: FakeKubeApi) -> None:
    api.fail("nodes", 429, times=1, retry_after=0.2)
    api.fail("nodes", 503, times=1)
    started = time.monotonic()
    assert len(live(tmp_path, api, config={"retries": 3}).list_objects("nodes")) == 14
    assert time.monotonic() - started >= 0.15  # Retry-After was honoured over the tiny backoff
    assert api.count("/api/v1/nodes") == 3


def test_unauthorized_cluster_is_an_error(tmp_path: Path, api: FakeKubeApi) -> None:
    api.inject("nodes", status=401)
    with pytest.raises(AccessDenied, match=r"^fake: nodes: unauthorized \(HTTP 401: credentials rejected"):
        live(tmp_path, api).list_objects("nodes")
    read = read_inventory(live(tmp_path, api), cluster="c")
    assert read.error.startswith("nodes: unauthorized (HTTP 401")


def test_a_down_cluster_is_one_clear_error(tmp_path: Path, api: FakeKubeApi) -> None:
    # Each cluster is its own ingest run (date × cluster partitions), so a down one cannot stop another.
    down = live(tmp_path, unused_url(), config={"connect_timeout_s": 0.5, "retries": 1})
    started = time.monotonic()
    reads = {
        "prod-us": read_inventory(live(tmp_path, api, cluster="prod-us"), cluster="prod-us"),
        "prod-eu": read_inventory(down, cluster="prod-eu"),
    }
    assert time.monotonic() - started < 5
    assert not reads["prod-us"].error and len(reads["prod-us"].objects["pods"]) == 21
    assert reads["prod-eu"].error.startswith("nodes: API server failed after 2 attempts (NewConnectionError: ")
    assert "Connection refused" in reads["prod-eu"].error
    assert {row.status for row in reads["prod-eu"].coverage} == {CoverageStatus.ERROR}
    assert [row.detail for row in reads["prod-eu"].coverage][1:] == ["skipped: nodes unreadable"] * (len(KINDS) - 1)


def test_list_errors_are_one_line_source_errors(tmp_path: Path, api: FakeKubeApi) -> None:
    api.fail("nodes", 500, times=None)
    with pytest.raises(SourceError) as caught:
        live(tmp_path, api, config={"retries": 0}).list_objects("nodes")
    assert str(caught.value) == "fake: nodes: API server failed after 1 attempts (HTTP 500 Internal Server Error)"


def test_write_snapshot_round_trips_without_secrets(tmp_path: Path, api: FakeKubeApi) -> None:
    source = live(tmp_path, api, page_size=7)
    write_snapshot(source, tmp_path / "dumped")
    dumped = SnapshotInventory(tmp_path / "dumped")
    assert ingest(read_inventory(dumped, cluster="c").objects) == ingest(read_inventory(source, cluster="c").objects)
    text = "".join(p.read_text() for p in (tmp_path / "dumped").glob("*.json"))
    assert "hf_SENTINEL" not in text and "s3cr3t-SENTINEL" not in text and "sk-SENTINEL" not in text
    assert json.loads((tmp_path / "dumped" / "nodes.json").read_text())["kind"] == "List"
