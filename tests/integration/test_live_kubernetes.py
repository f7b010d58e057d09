"""LiveInventory against a fake Kubernetes API server over real HTTP: parity with snapshots, paging, errors."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from inferops_pipeline.settings import KubernetesConfig
from inferops_pipeline.sources.errors import SourceError
from inferops_pipeline.sources.kubernetes import KINDS, LiveInventory, SnapshotInventory, write_snapshot

TS = "2026-03-01T08:00:00Z"


def _node(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": f"gpu-node-{i}",
            "uid": f"00000000-0000-0000-0000-00000000000{i}",
            "resourceVersion": str(100 + i),
            "creationTimestamp": TS,
            "labels": {
                "node.kubernetes.io/instance-type": "p5.48xlarge",
                "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
                "karpenter.sh/capacity-type": "on-demand",
            },
        },
        "spec": {
            "providerID": f"aws:///us-east-1a/i-{i:017d}",
            "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
        },
        "status": {
            "capacity": {"cpu": "192", "memory": "2097152Mi", "nvidia.com/gpu": "8"},
            "allocatable": {"cpu": "191450m", "memory": "2000000Mi", "nvidia.com/gpu": "8"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": "2026-03-02T07:59:12Z",
                    "lastTransitionTime": TS,
                }
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "b",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.0",
                "kubeProxyVersion": "v1.33.1",
                "kubeletVersion": "v1.33.1",
                "machineID": "m",
                "operatingSystem": "linux",
                "osImage": "Bottlerocket",
                "systemUUID": "s",
            },
        },
    }


def _pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"llama-70b-7d9f-{i}",
            "namespace": "llm-serving",
            "uid": f"10000000-0000-0000-0000-00000000000{i}",
            "creationTimestamp": TS,
            "labels": {"app": "llama-70b", "team": "search"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "llama-70b-7d9f",
                    "uid": "20000000-0000-0000-0000-000000000001",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "nodeName": f"gpu-node-{i % 5}",
            "containers": [
                {
                    "name": "vllm",
                    "image": "vllm/vllm-openai:v0.11.0",
                    "args": ["--model", "meta-llama/Llama-3.1-70B-Instruct", "--tensor-parallel-size", "4"],
                    "ports": [{"containerPort": 8000, "name": "http", "protocol": "TCP"}],
                    "resources": {
                        "requests": {"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": "4"},
                        "limits": {"memory": "160Gi", "nvidia.com/gpu": "4"},
                    },
                }
            ],
        },
        "status": {
            "phase": "Running",
            "startTime": TS,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": TS}],
            "containerStatuses": [
                {
                    "name": "vllm",
                    "image": "vllm/vllm-openai:v0.11.0",
                    "imageID": "docker.io/vllm/vllm-openai@sha256:abc",
                    "ready": True,
                    "restartCount": i % 3,
                    "started": True,
                    "state": {"running": {"startedAt": TS}},
                    "lastState": {
                        "terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": TS, "finishedAt": TS}
                    }
                    if i % 3
                    else {},
                }
            ],
        },
    }


def _fleet() -> dict[str, list[dict[str, Any]]]:
    meta = {"namespace": "llm-serving", "creationTimestamp": TS}
    selector = {"matchLabels": {"app": "llama-70b"}}
    template = {
        "metadata": {"labels": {"app": "llama-70b"}},
        "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.11.0"}]},
    }
    return {
        "nodes": [_node(i) for i in range(5)],
        "pods": [_pod(i) for i in range(7)],
        "namespaces": [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": n, "creationTimestamp": TS, "labels": {"team": "search"}},
                "status": {"phase": "Active"},
            }
            for n in ("default", "llm-serving")
        ],
        "deployments": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "llama-70b", **meta, "generation": 3},
                "spec": {
                    "replicas": 7,
                    "selector": selector,
                    "template": template,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                },
                "status": {"replicas": 7, "readyReplicas": 7, "observedGeneration": 3},
            }
        ],
        "statefulsets": [
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "sglang-qwen", **meta},
                "spec": {"replicas": 2, "selector": selector, "serviceName": "sglang-qwen", "template": template},
                "status": {"replicas": 2, "availableReplicas": 2},
            }
        ],
        "replicasets": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": "llama-70b-7d9f",
                    **meta,
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": "llama-70b",
                            "uid": "30000000-0000-0000-0000-000000000001",
                            "controller": True,
                        }
                    ],
                },
                "spec": {"replicas": 7, "selector": selector, "template": template},
                "status": {"replicas": 7},
            }
        ],
        "daemonsets": [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"name": "nvidia-dcgm-exporter", "namespace": "gpu-operator", "creationTimestamp": TS},
                "spec": {"selector": selector, "template": template},
                "status": {
                    "currentNumberScheduled": 5,
                    "desiredNumberScheduled": 5,
                    "numberMisscheduled": 0,
                    "numberReady": 5,
                },
            }
        ],
        "horizontalpodautoscalers": [
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "sglang-qwen", **meta},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "sglang-qwen"},
                    "minReplicas": 1,
                    "maxReplicas": 4,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                        }
                    ],
                },
                "status": {"currentReplicas": 2, "desiredReplicas": 2},
            }
        ],
        # leaderworkersets deliberately absent: the fake server answers 404 like a cluster without the CRD.
        "inferenceservices": [
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": "mistral", **meta},
                "spec": {
                    "predictor": {"model": {"modelFormat": {"name": "huggingface"}, "storageUri": "hf://mistralai/x"}}
                },
            }
        ],
    }


_PATHS = {
    "nodes": "/api/v1/nodes",
    "pods": "/api/v1/pods",
    "namespaces": "/api/v1/namespaces",
    "deployments": "/apis/apps/v1/deployments",
    "statefulsets": "/apis/apps/v1/statefulsets",
    "replicasets": "/apis/apps/v1/replicasets",
    "daemonsets": "/apis/apps/v1/daemonsets",
    "horizontalpodautoscalers": "/apis/autoscaling/v2/horizontalpodautoscalers",
    "leaderworkersets": "/apis/leaderworkerset.x-k8s.io/v1/leaderworkersets",
    "inferenceservices": "/apis/serving.kserve.io/v1beta1/inferenceservices",
}


class FakeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fleet: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fleet = fleet
        self.requests: list[tuple[str, str, dict[str, list[str]], str]] = []  # method, path, query, auth
        self.forbidden: set[str] = set()
        self.fail_next: dict[str, list[int]] = {}  # path -> statuses to answer before succeeding
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, path: str) -> int:
        return sum(1 for _, p, _, _ in self.requests if p == path)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # without it every request waits ~40 ms on delayed ACKs
    protocol_version = "HTTP/1.1"
    server: FakeApiServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature is the stdlib's
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reject_write(self) -> None:
        with self.server.lock:
            self.server.requests.append(
                (self.command, urlparse(self.path).path, {}, self.headers.get("Authorization", ""))
            )
        self._send(405, _status(405, "MethodNotAllowed", "the fake server is read-only"))

    do_POST = do_PUT = do_PATCH = do_DELETE = _reject_write

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        query = parse_qs(parsed.query)
        server = self.server
        with server.lock:
            server.requests.append(("GET", parsed.path, query, self.headers.get("Authorization", "")))
            queued = server.fail_next.get(parsed.path)
            failure = queued.pop(0) if queued else None
        kind = next((k for k, p in _PATHS.items() if p == parsed.path), None)
        if failure is not None:
            self._send(failure, _status(failure, "ServiceUnavailable", "etcdserver: leader changed"))
            return
        if kind is not None and parsed.path in server.forbidden:
            user = "system:serviceaccount:inferops:scanner"
            message = f'{kind} is forbidden: User "{user}" cannot list resource "{kind}" at the cluster scope'
            self._send(403, _status(403, "Forbidden", message))
            return
        if kind is None or kind not in server.fleet:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        items = server.fleet[kind]
        offset = int(query.get("continue", ["0"])[0])
        limit = int(query.get("limit", [str(len(items) or 1)])[0])
        page = items[offset : offset + limit]
        # Real list responses carry apiVersion/kind on the List only, never on the items.
        page = [{k: v for k, v in item.items() if k not in ("apiVersion", "kind")} for item in page]
        metadata: dict[str, Any] = {"resourceVersion": "12345"}
        if offset + limit < len(items):
            metadata["continue"] = str(offset + limit)
            metadata["remainingItemCount"] = len(items) - offset - limit
        list_kind = (items[0]["kind"] if items else "Object") + "List"
        api_version = items[0]["apiVersion"] if items else "v1"
        self._send(200, {"apiVersion": api_version, "kind": list_kind, "metadata": metadata, "items": page})


@pytest.fixture()
def fake_api() -> Iterator[FakeApiServer]:
    server = FakeApiServer(_fleet())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _kubeconfig(tmp_path: Path, server: FakeApiServer) -> KubernetesConfig:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server.url}}],
                "users": [{"name": "scanner", "user": {"token": "s3cret-token"}}],
                "contexts": [{"name": "fake-ctx", "context": {"cluster": "fake", "user": "scanner"}}],
                "current-context": "other",
            }
        )
    )
    return KubernetesConfig.model_validate({"kubeconfig": path, "context": "fake-ctx"})


def _snapshot_dir(tmp_path: Path, fleet: dict[str, list[dict[str, Any]]]) -> Path:
    directory = tmp_path / "snapshot"
    directory.mkdir()
    for kind, items in fleet.items():
        (directory / f"{kind}.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return directory


def test_live_matches_snapshot_for_every_kind(tmp_path: Path, fake_api: FakeApiServer) -> None:
    expected = copy.deepcopy(fake_api.fleet)
    live = LiveInventory(_kubeconfig(tmp_path, fake_api), page_size=2)
    snapshot = SnapshotInventory(_snapshot_dir(tmp_path, expected))
    for kind in KINDS:
        assert live.list_objects(kind) == snapshot.list_objects(kind), kind
    assert live.list_objects("leaderworkersets") == []
    assert len(live.list_objects("pods")) == 7
    # The kubeconfig's context (not current-context) was used, with its bearer token.
    assert {auth for _, _, _, auth in fake_api.requests} == {"Bearer s3cret-token"}
    assert {method for method, _, _, _ in fake_api.requests} == {"GET"}
    live.close()


def test_live_paginates_with_limit_and_continue(tmp_path: Path, fake_api: FakeApiServer) -> None:
    live = LiveInventory(_kubeconfig(tmp_path, fake_api), page_size=2)
    nodes = live.list_objects("nodes")
    assert [n["metadata"]["name"] for n in nodes] == [f"gpu-node-{i}" for i in range(5)]
    calls = [query for _, path, query, _ in fake_api.requests if path == "/api/v1/nodes"]
    assert len(calls) == 3  # 5 nodes in pages of 2
    assert [q.get("limit") for q in calls] == [["2"], ["2"], ["2"]]
    assert [q.get("continue") for q in calls] == [None, ["2"], ["4"]]
    pods = live.list_objects("pods")
    assert len(pods) == 7 and fake_api.count("/api/v1/pods") == 4
    isvc = live.list_objects("inferenceservices")
    assert [i["metadata"]["name"] for i in isvc] == ["mistral"]


def test_live_round_trips_through_write_snapshot(tmp_path: Path, fake_api: FakeApiServer) -> None:
    live = LiveInventory(_kubeconfig(tmp_path, fake_api), page_size=3)
    write_snapshot(live, tmp_path / "dumped")
    dumped = SnapshotInventory(tmp_path / "dumped")
    for kind in KINDS:
        assert dumped.list_objects(kind) == fake_api.fleet.get(kind, []), kind
    document = json.loads((tmp_path / "dumped" / "nodes.json").read_text())
    assert document["kind"] == "List" and document["apiVersion"] == "v1"


def test_forbidden_is_a_one_line_source_error_without_retries(tmp_path: Path, fake_api: FakeApiServer) -> None:
    fake_api.forbidden.add("/api/v1/nodes")
    live = LiveInventory(_kubeconfig(tmp_path, fake_api), retries=3, backoff_s=0.001)
    with pytest.raises(SourceError) as caught:
        live.list_objects("nodes")
    message = str(caught.value)
    assert message.startswith("fake-ctx: nodes: forbidden (HTTP 403")
    assert 'cannot list resource "nodes"' in message
    assert "\n" not in message
    assert fake_api.count("/api/v1/nodes") == 1  # 403 is never retried


def test_forbidden_names_the_cluster_when_given(tmp_path: Path, fake_api: FakeApiServer) -> None:
    fake_api.forbidden.add("/apis/apps/v1/deployments")
    live = LiveInventory(_kubeconfig(tmp_path, fake_api), cluster="prod-us")
    with pytest.raises(SourceError, match=r"^prod-us: deployments: forbidden"):
        live.list_objects("deployments")


def test_transient_errors_are_retried_then_succeed(tmp_path: Path, fake_api: FakeApiServer) -> None:
    fake_api.fail_next["/api/v1/pods"] = [503, 429]
    live = LiveInventory(_kubeconfig(tmp_path, fake_api), page_size=5, retries=3, backoff_s=0.001)
    assert len(live.list_objects("pods")) == 7
    assert fake_api.count("/api/v1/pods") == 4  # two failures + two pages


def test_transient_errors_exhaust_retries(tmp_path: Path, fake_api: FakeApiServer) -> None:
    fake_api.fail_next["/api/v1/nodes"] = [503] * 10
    live = LiveInventory(_kubeconfig(tmp_path, fake_api), retries=2, backoff_s=0.001)
    with pytest.raises(SourceError, match=r"^fake-ctx: nodes: API server failed after 3 attempts \(HTTP 503"):
        live.list_objects("nodes")
    assert fake_api.count("/api/v1/nodes") == 3


def test_unreachable_server_is_a_source_error(tmp_path: Path) -> None:
    server = FakeApiServer({})
    url = server.url
    server.server_close()  # nothing listens on the port any more
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
                "current-context": "gone",
            }
        )
    )
    live = LiveInventory(
        KubernetesConfig.model_validate({"kubeconfig": path}), retries=1, backoff_s=0.001, request_timeout=(1, 1)
    )
    with pytest.raises(SourceError, match=r"nodes: API server failed after 2 attempts"):
        live.list_objects("nodes")
