"""Apply, refuse and roll back recommendations against the fake Kubernetes API over HTTP (official client)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fakes.kube_api import FakeKubeApi
from fakes.kube_objects import realistic_fleet

from inferops_pipeline.domain import Confidence, Finding, FindingType, Recommendation, Severity, Workload
from inferops_pipeline.inventory.privacy import scrub_object
from inferops_pipeline.remediation.apply import (
    ANNOTATION_APPROVED_BY,
    ANNOTATION_RECOMMENDATION,
    ANNOTATION_ROLLED_BACK,
    ApplyOutcome,
    LiveClusterWriter,
    apply_recommendation,
    rollback_recommendation,
)
from inferops_pipeline.remediation.guards import Decision, check
from inferops_pipeline.remediation.plan import plan
from inferops_pipeline.settings import KubernetesConfig, RemediationConfig

NS = "llm-serving"
NAME = "vllm-llama3-deployment-vllm"  # `vllm serve … --max-num-seqs 32` in command, a secret env value, 2 replicas
PATH = f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}"
CONFIG = RemediationConfig(approvers=["alice@example.com"], namespaces=[NS], max_changes_per_day=5)


@pytest.fixture()
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi(realistic_fleet(), validate=True) as server:
        yield server


@pytest.fixture()
def writer(api: FakeKubeApi, tmp_path: Path) -> LiveClusterWriter:
    config = KubernetesConfig(kubeconfig=api.kubeconfig(tmp_path / "kubeconfig"), context="fake", timeout_s=1.0)
    return LiveClusterWriter(config, poll_s=0.05)


def _workload() -> Workload:
    return Workload(
        cluster="prod", namespace=NS, kind="Deployment", name=NAME, owner="search", runtime="vllm",
        model="meta-llama/Llama-3.1-8B-Instruct", container="vllm", gpu_model="H100-80GB", gpu_memory_gib=80.0,
        replicas=2, running_pods=2, pending_pods=0, gpus_per_replica=2, tensor_parallel=2,
        gpu_memory_utilization=0.85, max_model_len=16384, kv_cache_dtype="auto", quantization="", cpu_request=8.0,
        cpu_limit=None, memory_request_bytes=64 * 2**30, memory_limit_bytes=96 * 2**30, has_autoscaler=False,
        cloud="aws", region="us-east-1", capacity_type="on-demand", gpu_hour_usd=4.0, hourly_cost_usd=16.0,
        price_basis="exact", nodes=("gfd-h100-0",),
        engine_facts={"max_num_seqs": {"value": "32", "source": "arg:--max-num-seqs"}},
    )  # fmt: skip


def _recommend(api: FakeKubeApi, type_: FindingType, evidence: dict[str, Any]) -> Recommendation:
    finding = Finding(
        finding_id="abc123", assessment_date=date(2026, 12, 1), type=type_, severity=Severity.HIGH,
        confidence=Confidence.HIGH, cluster="prod", namespace=NS, workload_kind="Deployment", workload=NAME,
        model="m", gpu_model="H100-80GB", owner="search", title="t", explanation="e", evidence=evidence,
        monthly_waste_usd=2920.0, monthly_at_risk_usd=11680.0, first_seen=date(2026, 12, 1),
    )  # fmt: skip
    # Planned from the object as the warehouse stores it: env values and secret-looking args scrubbed.
    rec = plan(finding, _workload(), target=scrub_object(api.get("deployments", NAME, NS)))
    assert rec is not None
    return rec


def engine_arg_rec(api: FakeKubeApi) -> Recommendation:
    remedy = {"action": "set_engine_arg", "arg": "--max-num-seqs", "value": 16, "effect": "no preemption",
              "monthly_cost_usd": 0.0}  # fmt: skip
    rec = _recommend(api, FindingType.KV_CACHE_PRESSURE, {"remediations": [remedy]})
    assert rec.action == "set_engine_arg"
    return rec


def _command(obj: dict[str, Any]) -> list[str]:
    return list(obj["spec"]["template"]["spec"]["containers"][0]["command"])


def _writes(api: FakeKubeApi) -> list[str]:
    return [f"{r.method} {r.path} dryRun={r.query.get('dryRun', [''])[0]}" for r in api.requests if r.method != "GET"]


def _approve(rec: Recommendation, writer: Any, **kw: Any) -> ApplyOutcome:
    return apply_recommendation(rec, writer=writer, approver="alice@example.com", reason="CHG-1", dry_run=False, **kw)


def test_approve_dry_runs_then_patches_visible_on_the_next_get(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = engine_arg_rec(api)
    before = api.get("deployments", NAME, NS)
    outcome = _approve(rec, writer)
    assert outcome.status == "applied", outcome.detail
    assert _writes(api) == [
        f"PATCH {PATH} dryRun=All",
        f"PATCH {PATH} dryRun=",
        f"POST /api/v1/namespaces/{NS}/events dryRun=",
    ]
    assert all(r.content_type == "application/strategic-merge-patch+json" for r in api.requests if r.method == "PATCH")
    after = writer.get("Deployment", NS, NAME)  # the next GET, through the client
    command = _command(after)
    assert command[command.index("--max-num-seqs") + 1] == "16"
    assert _command(before)[: command.index("--max-num-seqs")] == command[: command.index("--max-num-seqs")]
    annotations = after["metadata"]["annotations"]
    assert annotations[ANNOTATION_RECOMMENDATION] == rec.recommendation_id
    assert annotations[ANNOTATION_APPROVED_BY] == "alice@example.com"
    # Env values were scrubbed from the plan's input but are never written: the live secret value is intact.
    env = {e["name"]: e.get("value") for e in after["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {e["name"]: e.get("value") for e in before["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert outcome.resource_version == after["metadata"]["resourceVersion"]
    path = "/spec/template/spec/containers[name=vllm]/command"
    assert "32" in outcome.diff["before"][path] and "16" in outcome.diff["after"][path]
    (event,) = api.objects("events")
    assert event["reason"] == "InferopsRemediationApplied" and event["involvedObject"]["name"] == NAME
    assert "alice@example.com" in event["message"] and "CHG-1" in event["message"]


def test_dry_run_decision_changes_nothing(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = engine_arg_rec(api)
    before = api.get("deployments", NAME, NS)
    outcome = apply_recommendation(rec, writer=writer, approver="alice@example.com", reason="x", dry_run=True)
    assert outcome.status == "dry_run_ok" and _writes(api) == [f"PATCH {PATH} dryRun=All"]
    assert api.get("deployments", NAME, NS) == before
    assert "16" in outcome.diff["after"]["/spec/template/spec/containers[name=vllm]/command"]


def test_reject_never_touches_the_cluster(api: FakeKubeApi) -> None:
    rec = engine_arg_rec(api)
    reject = Decision(decision="REJECT", approver="alice@example.com", reason="not now", dry_run=False)
    result = check(rec, reject, config=CONFIG, applied_today=0, partition_key=rec.recommendation_id)
    assert (result.allowed, result.status) == (False, "rejected")
    assert _writes(api) == []


def test_namespace_outside_the_allow_list_is_refused(api: FakeKubeApi) -> None:
    rec = engine_arg_rec(api)
    config = RemediationConfig(approvers=["alice@example.com"], namespaces=["inference"])
    approve = Decision(decision="APPROVE", approver="alice@example.com", reason="x", dry_run=False)
    result = check(rec, approve, config=config, applied_today=0, partition_key=rec.recommendation_id)
    assert (result.allowed, result.status) == (False, "refused") and NS in result.reasons[0]
    assert _writes(api) == []


def test_stale_target_is_superseded_and_not_written(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = engine_arg_rec(api)
    changed = api.get("deployments", NAME, NS)
    command = _command(changed)
    command[command.index("--max-num-seqs") + 1] = "24"  # someone tuned it since the night's plan
    changed["spec"]["template"]["spec"]["containers"][0]["command"] = command
    api.put("deployments", changed)
    outcome = _approve(rec, writer)
    assert outcome.status == "superseded" and "changed since the plan" in outcome.detail
    assert "resourceVersion" in outcome.detail and _writes(api) == []


def test_unrelated_write_moves_resource_version_but_still_applies(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = engine_arg_rec(api)
    labelled = api.get("deployments", NAME, NS)
    labelled["metadata"]["labels"]["touched"] = "yes"
    api.put("deployments", labelled)
    assert _approve(rec, writer).status == "applied"


class RacingWriter(LiveClusterWriter):
    """Someone else writes right after our read: our patch carries the read's resourceVersion, so it must 409."""

    def __init__(self, inner: LiveClusterWriter, api: FakeKubeApi) -> None:
        super().__init__(inner.config, poll_s=inner.poll_s)
        self.api = api

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        seen = super().get(kind, namespace, name)
        other = self.api.get("deployments", name, namespace)
        other["metadata"]["labels"]["raced"] = "yes"
        self.api.put("deployments", other)
        return seen


def _unchanged_spec(api: FakeKubeApi, before: dict[str, Any]) -> None:
    now = api.get("deployments", NAME, NS)
    assert now["spec"] == before["spec"]
    assert ANNOTATION_RECOMMENDATION not in (now["metadata"].get("annotations") or {})


def test_conflict_during_apply_fails_with_nothing_half_applied(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = engine_arg_rec(api)
    before = api.get("deployments", NAME, NS)
    outcome = _approve(rec, RacingWriter(writer, api))
    assert outcome.status == "failed" and "HTTP 409" in outcome.detail and "\n" not in outcome.detail
    _unchanged_spec(api, before)
    assert api.objects("events") == []


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 500, "after": 1}, "apply failed: HTTP 500"),  # the dry run passes, the real patch fails
        ({"status": 500}, "apply failed: HTTP 500"),  # the dry run itself fails
        ({"status": 403}, "HTTP 403"),
        ({"delay_s": 3.0, "after": 1}, "apply failed"),  # a read timeout (1 s) on the real patch
    ],
)
def test_server_errors_fail_cleanly(
    api: FakeKubeApi, writer: LiveClusterWriter, fault: dict[str, Any], expected: str
) -> None:
    rec = engine_arg_rec(api)
    before = api.get("deployments", NAME, NS)
    api.inject("deployments", method="PATCH", times=1 if "delay_s" in fault else None, **fault)
    outcome = _approve(rec, writer)
    assert outcome.status == "failed" and expected in outcome.detail, outcome.detail
    assert "\n" not in outcome.detail
    if "delay_s" not in fault:  # a slow server may still apply what it got; the outcome is failed either way
        _unchanged_spec(api, before)


def test_reapproval_is_a_noop(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = engine_arg_rec(api)
    assert _approve(rec, writer).status == "applied"
    writes = len(_writes(api))
    again = _approve(rec, writer)
    assert again.status == "noop" and len(_writes(api)) == writes
    assert (
        apply_recommendation(rec, writer=writer, approver="alice@example.com", reason="", dry_run=True).status == "noop"
    )


def test_rollback_restores_the_spec(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = engine_arg_rec(api)
    original = api.get("deployments", NAME, NS)
    assert _approve(rec, writer).status == "applied"
    back = rollback_recommendation(rec, writer=writer, actor="bob@example.com", reason="latency regression")
    assert back.status == "rolled_back", back.detail
    restored = api.get("deployments", NAME, NS)
    assert restored["spec"] == original["spec"]
    annotations = restored["metadata"].get("annotations") or {}
    assert ANNOTATION_RECOMMENDATION not in annotations and ANNOTATION_APPROVED_BY not in annotations
    assert annotations[ANNOTATION_ROLLED_BACK] == rec.recommendation_id
    reasons = sorted(e["reason"] for e in api.objects("events"))  # generated names: store order is random
    assert reasons == ["InferopsRemediationApplied", "InferopsRemediationRolledBack"]
    writes = len(_writes(api))
    assert rollback_recommendation(rec, writer=writer, actor="bob", reason="again").status == "noop"
    assert len(_writes(api)) == writes


def test_rollback_refuses_when_someone_changed_the_values_since(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = _recommend(api, FindingType.OVERPROVISIONED_REPLICAS, {"replicas_needed": 1})
    assert _approve(rec, writer).status == "applied" and api.get("deployments", NAME, NS)["spec"]["replicas"] == 1
    edited = api.get("deployments", NAME, NS)
    edited["spec"]["replicas"] = 3
    api.put("deployments", edited)
    back = rollback_recommendation(rec, writer=writer, actor="bob", reason="x")
    assert back.status == "superseded" and api.get("deployments", NAME, NS)["spec"]["replicas"] == 3


def test_rollout_not_ready_is_rolled_back_automatically(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = _recommend(api, FindingType.OOM_EXPOSURE, {"host_memory_exposed": True, "memory_ws_max_bytes": 95 * 2**30})
    assert rec.action == "set_resources"
    original = api.get("deployments", NAME, NS)
    # The fake has no controller: status never reaches the new generation, like a rollout stuck on Pending pods.
    outcome = _approve(rec, writer, wait_ready_s=0.2)
    assert outcome.status == "rolled_back", outcome.detail
    assert any("rollout not ready" in e for e in outcome.events)
    assert api.get("deployments", NAME, NS)["spec"] == original["spec"]


class ControllerWriter(LiveClusterWriter):
    """Plays the Deployment controller: the rollout completes before readiness is checked."""

    def __init__(self, inner: LiveClusterWriter, api: FakeKubeApi) -> None:
        super().__init__(inner.config, poll_s=inner.poll_s)
        self.api = api

    def rollout_ready(self, kind: str, namespace: str, name: str, *, timeout_s: float) -> bool:
        obj = self.api.get("deployments", name, namespace)
        replicas = obj["spec"]["replicas"]
        obj["status"] = {"observedGeneration": obj["metadata"]["generation"], "replicas": replicas,
                         "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}  # fmt: skip
        self.api.put("deployments", obj)
        return super().rollout_ready(kind, namespace, name, timeout_s=timeout_s)


def test_rollout_ready_keeps_the_change(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = _recommend(api, FindingType.IDLE_GPU, {})
    assert rec.scale_to_zero and rec.patch == {"spec": {"replicas": 0}}
    outcome = _approve(rec, ControllerWriter(writer, api), wait_ready_s=2)
    assert outcome.status == "applied" and outcome.events[-1] == "rollout ready"
    assert api.get("deployments", NAME, NS)["spec"]["replicas"] == 0


def test_event_failure_does_not_undo_the_change(api: FakeKubeApi, writer: LiveClusterWriter) -> None:
    rec = engine_arg_rec(api)
    api.deny("events", method="POST")
    outcome = _approve(rec, writer)
    assert outcome.status == "applied" and any("not recorded" in e for e in outcome.events)
    assert "16" in _command(api.get("deployments", NAME, NS))


def test_unreachable_cluster_fails_without_raising(tmp_path: Path) -> None:
    from fakes.kube_api import unused_url, write_kubeconfig

    config = KubernetesConfig(kubeconfig=write_kubeconfig(tmp_path / "kc", {"down": unused_url()}), timeout_s=0.5)
    with FakeKubeApi(realistic_fleet()) as api:
        rec = engine_arg_rec(api)
    outcome = _approve(copy.deepcopy(rec), LiveClusterWriter(config))
    assert outcome.status == "failed" and outcome.detail.startswith("read target failed")
