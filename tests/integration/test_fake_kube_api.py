"""The fake Kubernetes API server behaves like the real one where our code depends on it (official client, real HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.kube_api import FakeKubeApi, label_matcher, strategic_merge_patch
from fakes.kube_objects import realistic_fleet, synthetic_fleet
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

NS = "llm-serving"
DEPLOYMENT = "tgi-mistral"


@pytest.fixture()
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi(realistic_fleet(), validate=True) as server:
        yield server


@pytest.fixture()
def k8s(api: FakeKubeApi, tmp_path: Path) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    config.load_kube_config(
        config_file=str(api.kubeconfig(tmp_path / "kubeconfig")),
        context="fake",
        client_configuration=configuration,
        persist_config=False,
    )
    with client.ApiClient(configuration) as api_client:
        yield api_client


def test_fixtures_are_schema_valid() -> None:
    # Construction with validate=True runs every built-in object through the client's strict models.
    FakeKubeApi(realistic_fleet(), validate=True).server_close()
    FakeKubeApi(synthetic_fleet(pods=300, nodes=20), validate=True).server_close()
    with pytest.raises(Exception, match="is invalid"):
        broken = realistic_fleet()
        broken["pods"][0]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = 2  # not a string
        FakeKubeApi(broken, validate=True)


def test_label_and_field_selectors(k8s: client.ApiClient) -> None:
    core: Any = client.CoreV1Api(k8s)
    names = lambda resp: sorted(p.metadata.name for p in resp.items)  # noqa: E731
    assert names(core.list_namespaced_pod(NS, label_selector=f"app.kubernetes.io/name={DEPLOYMENT}")) == [
        "tgi-mistral-7d9f8b6c5-qqqqq"
    ]
    lws = core.list_pod_for_all_namespaces(label_selector="leaderworkerset.sigs.k8s.io/worker-index in (1,2)")
    assert names(lws) == ["deepseek-lws-0-1"]
    not_lws = core.list_namespaced_pod(NS, label_selector="!leaderworkerset.sigs.k8s.io/name,app.kubernetes.io/name")
    assert "deepseek-lws-0" not in names(not_lws) and len(names(not_lws)) == 8
    on_node = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=ts-l4-0,status.phase!=Succeeded")
    assert names(on_node) == ["debug-gpu", "debug-gpu-old", "finetune-20261130-x7k2p"]
    assert label_matcher("a notin (x)")({"b": "1"}) and not label_matcher("a notin (x)")({"a": "x"})


def test_get_and_not_found(k8s: client.ApiClient) -> None:
    apps: Any = client.AppsV1Api(k8s)  # the client's Optional-everywhere models: assert, not narrow
    assert apps.read_namespaced_deployment(DEPLOYMENT, NS).spec.replicas == 1
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_deployment("nope", NS)
    assert caught.value.status == 404


def test_strategic_merge_patch_merges_named_lists(api: FakeKubeApi, k8s: client.ApiClient) -> None:
    apps: Any = client.AppsV1Api(k8s)  # the client's Optional-everywhere models: assert, not narrow
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "tgi", "env": [{"name": "NUM_SHARD", "value": "2"}], "resources": {"limits": {"nvidia.com/gpu": "2"}}}
                    ],
                    "nodeSelector": {"node.kubernetes.io/instance-type": "g5.24xlarge"},
                }
            }
        }
    }  # fmt: skip
    before: Any = api.get("deployments", DEPLOYMENT, NS)
    updated = apps.patch_namespaced_deployment(DEPLOYMENT, NS, patch)
    container = updated.spec.template.spec.containers[0]
    env = {e.name: e.value for e in container.env}
    assert env["NUM_SHARD"] == "2" and env["MODEL_ID"] == "mistralai/Mistral-7B-Instruct-v0.3"  # merged by name
    assert container.resources.limits == {"memory": "32Gi", "nvidia.com/gpu": "2"}
    assert container.args == before["spec"]["template"]["spec"]["containers"][0]["args"]
    assert updated.metadata.generation == 2
    assert int(updated.metadata.resource_version) > int(before["metadata"]["resourceVersion"])
    request = api.requests[-1]
    assert request.method == "PATCH" and request.content_type == "application/strategic-merge-patch+json"


def test_dry_run_changes_nothing(api: FakeKubeApi, k8s: client.ApiClient) -> None:
    apps: Any = client.AppsV1Api(k8s)  # the client's Optional-everywhere models: assert, not narrow
    before = api.get("deployments", DEPLOYMENT, NS)
    answer = apps.patch_namespaced_deployment(DEPLOYMENT, NS, {"spec": {"replicas": 5}}, dry_run="All")
    assert answer.spec.replicas == 5
    assert api.get("deployments", DEPLOYMENT, NS) == before
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment(DEPLOYMENT, NS, {"spec": {"replicas": 5}}, dry_run="Some")
    assert caught.value.status == 400


def test_stale_resource_version_is_a_conflict(api: FakeKubeApi, k8s: client.ApiClient) -> None:
    apps: Any = client.AppsV1Api(k8s)  # the client's Optional-everywhere models: assert, not narrow
    seen = api.get("deployments", DEPLOYMENT, NS)["metadata"]["resourceVersion"]
    apps.patch_namespaced_deployment(DEPLOYMENT, NS, {"metadata": {"resourceVersion": seen, "labels": {"a": "1"}}})
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment(DEPLOYMENT, NS, {"metadata": {"resourceVersion": seen, "labels": {"a": "2"}}})
    assert caught.value.status == 409 and "the object has been modified" in str(caught.value.body)
    assert api.get("deployments", DEPLOYMENT, NS)["metadata"]["labels"]["a"] == "1"


def test_scale_subresource(api: FakeKubeApi, k8s: client.ApiClient) -> None:
    apps: Any = client.AppsV1Api(k8s)  # the client's Optional-everywhere models: assert, not narrow
    assert apps.read_namespaced_deployment_scale(DEPLOYMENT, NS).spec.replicas == 1
    scaled = apps.patch_namespaced_deployment_scale(DEPLOYMENT, NS, {"spec": {"replicas": 3}})
    assert scaled.spec.replicas == 3 and scaled.status.selector == "app.kubernetes.io/name=tgi-mistral"
    assert api.get("deployments", DEPLOYMENT, NS)["spec"]["replicas"] == 3
    apps.patch_namespaced_stateful_set_scale("sglang-qwen", NS, {"spec": {"replicas": 1}}, dry_run="All")
    assert api.get("statefulsets", "sglang-qwen", NS)["spec"]["replicas"] == 2


def test_invalid_write_is_rejected_with_422(api: FakeKubeApi, k8s: client.ApiClient) -> None:
    apps: Any = client.AppsV1Api(k8s)  # the client's Optional-everywhere models: assert, not narrow
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment(DEPLOYMENT, NS, {"spec": {"replicas": "many"}})
    assert caught.value.status == 422


def test_custom_resources_need_merge_patch(api: FakeKubeApi, k8s: client.ApiClient) -> None:
    custom: Any = client.CustomObjectsApi(k8s)
    args: Any = ("serving.kserve.io", "v1alpha1", "kserve-models", "llminferenceservices", "qwen-llmisvc")
    with pytest.raises(ApiException) as caught:  # like the apiserver: no strategic merge for CRDs
        custom.patch_namespaced_custom_object(
            *args, {"spec": {"replicas": 1}}, _content_type="application/strategic-merge-patch+json"
        )
    assert caught.value.status == 415
    patched = custom.patch_namespaced_custom_object(*args, {"spec": {"replicas": 1}})
    assert api.requests[-1].content_type == "application/merge-patch+json"  # the client's default for CRDs
    assert patched["spec"]["replicas"] == 1 and patched["spec"]["model"]["uri"] == "hf://Qwen/Qwen3-8B"


def test_json_patch_and_create_event(api: FakeKubeApi, k8s: client.ApiClient) -> None:
    apps: Any = client.AppsV1Api(k8s)  # the client's Optional-everywhere models: assert, not narrow
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 2},
    ]
    assert apps.patch_namespaced_deployment(DEPLOYMENT, NS, ops).spec.replicas == 2
    core: Any = client.CoreV1Api(k8s)
    event = {
        "metadata": {"generateName": "tgi-mistral.", "namespace": NS},
        "involvedObject": {"kind": "Deployment", "name": DEPLOYMENT, "namespace": NS},
        "reason": "InferopsRemediation",
        "message": "scaled to 2",
        "type": "Normal",
    }
    created = core.create_namespaced_event(NS, event)
    assert created.metadata.name.startswith("tgi-mistral.") and len(api.objects("events")) == 1
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_event(NS, {**event, "metadata": {"name": created.metadata.name}})
    assert caught.value.status == 409


def test_injected_faults(api: FakeKubeApi, k8s: client.ApiClient) -> None:
    apps: Any = client.AppsV1Api(k8s)  # the client's Optional-everywhere models: assert, not narrow
    api.deny("deployments", method="PATCH")
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment(DEPLOYMENT, NS, {"spec": {"replicas": 2}})
    assert caught.value.status == 403
    assert (
        'cannot patch resource "deployments" in API group "apps" in the namespace'
        in json.loads(str(caught.value.body))["message"]
    )
    assert apps.read_namespaced_deployment(DEPLOYMENT, NS).spec.replicas == 1  # reads still allowed
    api.fail("pods", 503, times=1)
    with pytest.raises(ApiException) as failed:
        client.CoreV1Api(k8s).list_namespaced_pod(NS)
    assert failed.value.status == 503
    assert len(client.CoreV1Api(k8s).list_namespaced_pod(NS).items) == 10


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        (
            {"a": [{"name": "x", "v": 1}]},
            {"a": [{"name": "y", "v": 2}]},
            {"a": [{"name": "y", "v": 2}]},
        ),  # no key: replace
        (
            {"containers": [{"name": "x", "image": "a"}, {"name": "y", "image": "b"}]},
            {"containers": [{"name": "y", "$patch": "delete"}]},
            {"containers": [{"name": "x", "image": "a"}]},
        ),
        ({"m": {"a": 1, "b": 2}}, {"m": {"a": None}}, {"m": {"b": 2}}),
        ({"m": {"a": 1}}, {"m": {"$patch": "replace", "c": 3}}, {"m": {"c": 3}}),
        ({"finalizers": ["a"]}, {"finalizers": ["b"]}, {"finalizers": ["a", "b"]}),
        ({"tolerations": [{"key": "a"}]}, {"tolerations": [{"key": "b"}]}, {"tolerations": [{"key": "b"}]}),
    ],
)
def test_strategic_merge_rules(target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert strategic_merge_patch(target, patch) == expected
