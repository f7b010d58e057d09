"""remediation.plan: one patch per actionable finding, whose inverse restores the object exactly, and a spec hash."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest
from fakes.kube_api import strategic_merge_patch
from fakes.kube_objects import container, deployment_set, gpu_affinity, pod_spec

from inferops_pipeline.catalog.gpus import normalize_gpu_name
from inferops_pipeline.domain import (
    Confidence,
    Finding,
    FindingStatus,
    FindingType,
    Recommendation,
    Severity,
    Workload,
)
from inferops_pipeline.inventory.privacy import scrub_object
from inferops_pipeline.remediation.plan import (
    GPU_LABEL_VALUES,
    invert,
    plan,
    plan_all,
    spec_hash,
    strategic_merge,
    touched,
    values_in_place,
)

NS = "llm-serving"
DAY = date(2026, 12, 1)


def vllm_deployment(
    *, command: list[str] | None = None, selector: dict[str, str] | None = None, **kw: Any
) -> dict[str, Any]:
    engine = container(
        "vllm",
        "vllm/vllm-openai:v0.11.0",
        command=command
        or [
            "vllm",
            "serve",
            "Qwen/Qwen3-8B",
            "--tensor-parallel-size",
            "2",
            "--max-model-len",
            "32768",
            "--gpu_memory_utilization=0.95",
        ],  # fmt: skip
        env_vars=[{"name": "HF_TOKEN", "value": "hf_secretsecretsecret"}, {"name": "MODEL_ID", "value": "x"}],
        gpus=2,
        cpu="8",
        memory="64Gi",
        cpu_limit="8",
        memory_limit="96Gi",
    )
    spec = pod_spec([engine], node_selector=selector if selector is not None else {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}, **kw)  # fmt: skip
    obj: dict[str, Any] = deployment_set("qwen", NS, spec, nodes=["n1", "n2", "n3", "n4"])["deployments"][0]
    obj["metadata"]["resourceVersion"] = "4242"
    return obj


def workload(**overrides: Any) -> Workload:
    base: dict[str, Any] = dict(
        cluster="prod", namespace=NS, kind="Deployment", name="qwen", owner="search", runtime="vllm",
        model="Qwen/Qwen3-8B", container="vllm", gpu_model="H100-80GB", gpu_memory_gib=80.0, replicas=4,
        running_pods=4, pending_pods=0, gpus_per_replica=2, tensor_parallel=2, gpu_memory_utilization=0.95,
        max_model_len=32768, kv_cache_dtype="auto", quantization="", cpu_request=8.0, cpu_limit=8.0,
        memory_request_bytes=64 * 2**30, memory_limit_bytes=96 * 2**30, has_autoscaler=False, cloud="aws",
        region="us-east-1", capacity_type="on-demand", gpu_hour_usd=4.0, hourly_cost_usd=32.0, price_basis="exact",
        nodes=("n1", "n2"),
        engine_facts={
            "tensor_parallel": {"value": "2", "source": "arg:--tensor-parallel-size"},
            "max_model_len": {"value": "32768", "source": "arg:--max-model-len"},
            "gpu_memory_utilization": {"value": "0.95", "source": "arg:--gpu_memory_utilization"},
            "kv_cache_dtype": {"value": "auto", "source": "default"},
        },
    )  # fmt: skip
    return Workload(**(base | overrides))


def finding(type_: FindingType, evidence: dict[str, Any], **overrides: Any) -> Finding:
    base: dict[str, Any] = dict(
        finding_id=f"f-{type_.value}", assessment_date=DAY, type=type_, severity=Severity.HIGH,
        confidence=Confidence.HIGH, cluster="prod", namespace=NS, workload_kind="Deployment", workload="qwen",
        model="Qwen/Qwen3-8B", gpu_model="H100-80GB", owner="search", title="t", explanation="e", evidence=evidence,
        monthly_waste_usd=1000.0, monthly_at_risk_usd=0.0, first_seen=DAY,
    )  # fmt: skip
    return Finding(**(base | overrides))


KV_REMEDIES = [
    {"rank": 1, "action": "set_engine_arg", "arg": "--kv-cache-dtype", "value": "fp8", "effect": "pool ×2",
     "monthly_cost_usd": 0.0},
    {"rank": 2, "action": "scale_replicas", "arg": "replicas", "value": 5, "effect": "4 → 5", "monthly_cost_usd": 5840.0},
]  # fmt: skip

CASES: dict[str, tuple[FindingType, dict[str, Any], dict[str, Any]]] = {
    "idle": (FindingType.IDLE_GPU, {}, {}),
    "overprovisioned": (FindingType.OVERPROVISIONED_REPLICAS, {"replicas_needed": 2}, {}),
    "cpu": (FindingType.CPU_GPU_IMBALANCE, {"starved": True, "cpu_usage_p95": 7.9}, {}),
    "oom_host": (FindingType.OOM_EXPOSURE, {"host_memory_exposed": True, "memory_ws_max_bytes": 95 * 2**30}, {}),
    "oom_gpu": (
        FindingType.OOM_EXPOSURE,
        {"host_memory_exposed": False, "engine_start_risk": True, "thresholds": {"oom_engine_util_max": 0.95}},
        {},
    ),
    "kv_pressure": (FindingType.KV_CACHE_PRESSURE, {"remediations": KV_REMEDIES}, {"monthly_at_risk_usd": 23360.0}),
    "tier": (
        FindingType.TIER_MISPLACEMENT,
        {"proposed": {"kind": "cheaper_gpu", "gpu_model": "L40S", "gpu_count": 1}},
        {},
    ),
    "kv_oversized": (
        FindingType.KV_CACHE_OVERSIZED,
        {"proposed_tensor_parallel": 1, "proposed_max_model_len": 8192},
        {},
    ),
}
EXPECTED_ACTION = {
    "idle": "scale_replicas",
    "overprovisioned": "scale_replicas",
    "cpu": "set_resources",
    "oom_host": "set_resources",
    "oom_gpu": "set_engine_arg",
    "kv_pressure": "set_engine_arg",
    "tier": "move_gpu_tier",
    "kv_oversized": "move_gpu_tier",
}


def planned(case: str, obj: dict[str, Any] | None = None, **wl: Any) -> Recommendation | None:
    type_, evidence, extra = CASES[case]
    target = scrub_object(obj if obj is not None else vllm_deployment())
    return plan(finding(type_, evidence, **extra), workload(**wl), target=target)


@pytest.mark.parametrize("case", sorted(CASES))
def test_plan_then_inverse_restores_the_object_exactly(case: str) -> None:
    live = vllm_deployment()
    rec = planned(case, live)
    assert rec is not None and rec.action == EXPECTED_ACTION[case]
    assert rec.recommendation_id == f"f-{CASES[case][0].value}-{rec.action}"  # finding id + action: stable
    # Both our merge and the fake API server's (an independent implementation) agree, on the live (unscrubbed) object.
    for merge in (strategic_merge, strategic_merge_patch):
        after = merge(copy.deepcopy(live), rec.patch)
        assert after != live
        assert merge(after, rec.inverse_patch) == live
    # The patch never carries env (values are scrubbed from the warehouse and must not be written back).
    assert "env" not in json.dumps(rec.patch) and "hf_secret" not in json.dumps(rec.inverse_patch)
    # The plan-time hash (scrubbed raw object) equals the hash of the live object, and moves once applied.
    assert rec.target_spec_hash == spec_hash(live, rec.patch)
    assert rec.target_resource_version == "4242"
    assert spec_hash(strategic_merge(live, rec.patch), rec.patch) != rec.target_spec_hash
    assert values_in_place(strategic_merge(live, rec.patch), rec.patch) and not values_in_place(live, rec.patch)
    assert rec.rationale and rec.expected_risk_change and rec.risk == rec.expected_risk_change


def test_patch_contents_per_action() -> None:
    template = lambda rec: rec.patch["spec"]["template"]["spec"]  # noqa: E731
    idle = planned("idle")
    assert (
        idle is not None and idle.patch == {"spec": {"replicas": 0}} and idle.inverse_patch == {"spec": {"replicas": 4}}
    )
    assert idle.scale_to_zero and idle.expected_monthly_savings_usd == 1000.0
    over = planned("overprovisioned")
    assert over is not None and over.patch == {"spec": {"replicas": 2}} and not over.scale_to_zero
    cpu = planned("cpu")
    assert cpu is not None and template(cpu)["containers"] == [{"name": "vllm", "resources": {"limits": {"cpu": "16"}}}]
    oom = planned("oom_host")
    assert oom is not None and template(oom)["containers"][0]["resources"] == {"limits": {"memory": "120Gi"}}
    arg = planned("oom_gpu")
    assert arg is not None and "--gpu_memory_utilization=0.9" in template(arg)["containers"][0]["command"]
    kv = planned("kv_pressure")
    assert kv is not None and template(kv)["containers"][0]["command"][-2:] == ["--kv-cache-dtype", "fp8"]
    assert (
        kv.inverse_patch["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "--gpu_memory_utilization=0.95"
    )
    assert kv.expected_risk_removed_usd == 23360.0 and kv.expected_monthly_savings_usd == 0.0
    tier = planned("tier")
    assert tier is not None
    assert template(tier)["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L40S"}
    engine = template(tier)["containers"][0]
    assert engine["resources"] == {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}
    assert engine["command"][engine["command"].index("--tensor-parallel-size") + 1] == "1"
    oversized = planned("kv_oversized")
    assert oversized is not None and "nodeSelector" not in template(oversized)
    command = template(oversized)["containers"][0]["command"]
    assert command[command.index("--max-model-len") + 1] == "8192"


def test_sglang_spelling_and_appended_flag() -> None:
    obj = vllm_deployment(
        command=["python3", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen3-8B", "--tp", "2"]
    )
    rec = planned("kv_pressure", obj, runtime="sglang", engine_facts={})
    assert rec is not None
    assert rec.patch["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["--kv-cache-dtype", "fp8"]
    tier = planned("tier", obj, runtime="sglang", engine_facts={})
    assert tier is not None
    command = tier.patch["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--tp") + 1] == "1"


def test_arguments_added_where_none_existed_are_removed_by_the_inverse() -> None:
    engine = container("vllm", "vllm/vllm-openai:v0.11.0", gpus=1, memory_limit="96Gi")
    obj = deployment_set("qwen", NS, pod_spec([engine]), nodes=["n1"])["deployments"][0]
    rec = planned("kv_pressure", obj, engine_facts={}, tensor_parallel=1, gpus_per_replica=1)
    assert rec is not None
    assert rec.patch["spec"]["template"]["spec"]["containers"][0]["args"] == ["--kv-cache-dtype", "fp8"]
    assert rec.inverse_patch["spec"]["template"]["spec"]["containers"][0] == {"name": "vllm", "args": None}
    assert strategic_merge(strategic_merge(obj, rec.patch), rec.inverse_patch) == obj


@pytest.mark.parametrize(
    ("why", "obj", "overrides"),
    [
        ("secret arg redacted", vllm_deployment(command=["vllm", "serve", "m", "--api-key", "sk-abcdefghijklmnopqrstu"]), {}),
        ("shell script", vllm_deployment(command=["sh", "-c", "vllm serve m --max-model-len 4096"]), {}),
        ("env reference", vllm_deployment(command=["vllm", "serve", "--max-model-len", "$(MAX_LEN)"]), {}),
        ("set through env", vllm_deployment(), {"engine_facts": {"kv_cache_dtype": {"value": "auto", "source": "env:KV_CACHE_DTYPE"}}}),
        ("unknown runtime", vllm_deployment(), {"runtime": "tgi"}),
    ],
)  # fmt: skip
def test_engine_args_that_cannot_be_changed_safely_are_not_planned(
    why: str, obj: dict[str, Any], overrides: dict[str, Any]
) -> None:
    rec = planned("kv_pressure", obj, **overrides)
    # The next remedy (a replica, no args involved) is chosen instead of a risky arg edit.
    assert rec is not None and rec.action == "scale_replicas", why
    assert rec.patch == {"spec": {"replicas": 5}} and rec.expected_monthly_savings_usd == -5840.0


@pytest.mark.parametrize(
    ("why", "obj"),
    [
        ("required affinity on a GPU label", vllm_deployment(selector={}, affinity=gpu_affinity("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"))),
        ("pinned by instance type", vllm_deployment(selector={"node.kubernetes.io/instance-type": "p5.48xlarge"})),
    ],
)  # fmt: skip
def test_tier_moves_that_need_a_human(why: str, obj: dict[str, Any]) -> None:
    assert planned("tier", obj) is None, why


def test_tier_move_without_a_pin_adds_the_gfd_selector_and_inverse_removes_it() -> None:
    obj = vllm_deployment(selector={})
    rec = planned("tier", obj)
    assert rec is not None and rec.patch["spec"]["template"]["spec"]["nodeSelector"] == {
        "nvidia.com/gpu.product": "NVIDIA-L40S"
    }
    assert rec.inverse_patch["spec"]["template"]["spec"]["nodeSelector"] is None
    assert strategic_merge(strategic_merge(obj, rec.patch), rec.inverse_patch) == obj


def test_mig_and_unsupported_proposals_are_left_to_a_human() -> None:
    mig = finding(
        FindingType.TIER_MISPLACEMENT, {"proposed": {"kind": "mig_slice", "gpu_model": "A100-80GB", "gpu_count": 1}}
    )
    assert plan(mig, workload(), target=vllm_deployment()) is None
    for type_ in (FindingType.DARK_CAPACITY, FindingType.PENDING_GPU_WORKLOAD, FindingType.BURSTY_WITHOUT_AUTOSCALING):
        assert (
            plan(finding(type_, {"average_replicas_with_autoscaling": 2}), workload(), target=vllm_deployment()) is None
        )


@pytest.mark.parametrize(("key", "tier"), [(k, t) for k, values in GPU_LABEL_VALUES.items() for t in values])
def test_gpu_label_values_name_the_tier(key: str, tier: str) -> None:
    assert normalize_gpu_name(GPU_LABEL_VALUES[key][tier]) == tier


def test_guards_in_plan() -> None:
    idle = CASES["idle"]
    assert (
        plan(finding(idle[0], {}), workload(has_autoscaler=True), target=vllm_deployment()) is None
    )  # HPA owns replicas
    assert plan(finding(idle[0], {}, suppressed=True), workload(), target=vllm_deployment()) is None
    assert plan(finding(idle[0], {}, status=FindingStatus.RESOLVED), workload(), target=vllm_deployment()) is None
    assert plan(finding(idle[0], {}), workload(kind="LeaderWorkerSet"), target=vllm_deployment()) is None
    assert plan(finding(idle[0], {}), None) is None
    # Never a replica "cut" to as many or more replicas.
    assert (
        plan(
            finding(FindingType.OVERPROVISIONED_REPLICAS, {"replicas_needed": 4}), workload(), target=vllm_deployment()
        )
        is None
    )


def test_without_the_raw_object_only_replicas_and_resources_are_planned() -> None:
    w = workload()
    idle = plan(finding(FindingType.IDLE_GPU, {}), w)
    assert idle is not None and idle.target_resource_version == "" and idle.inverse_patch == {"spec": {"replicas": 4}}
    # The hash from the workload row matches a live object with the same spelling of the touched values.
    assert idle.target_spec_hash == spec_hash(vllm_deployment(), idle.patch)
    cpu = plan(finding(*CASES["cpu"][:2]), w)
    assert cpu is not None and cpu.target_spec_hash == spec_hash(vllm_deployment(), cpu.patch)
    assert plan(finding(*CASES["kv_pressure"][:2]), w) is not None  # falls through to the replica remedy
    assert plan(finding(*CASES["oom_gpu"][:2]), w) is None
    assert plan(finding(*CASES["tier"][:2]), w) is None


def test_plan_all_finds_targets_by_kind_or_plural_and_json_text() -> None:
    obj = vllm_deployment()
    findings = [finding(*CASES["tier"][:2]), finding(FindingType.IDLE_GPU, {}, status=FindingStatus.RESOLVED)]
    for key_kind, body in (("Deployment", obj), ("deployments", json.dumps(scrub_object(obj)))):
        recs = plan_all(findings, [workload()], targets={("prod", NS, key_kind, "qwen"): body})
        assert [r.action for r in recs] == ["move_gpu_tier"]
    assert plan_all(findings, [workload()]) == []  # a tier move needs the raw object


def test_spec_hash_covers_only_the_touched_fields() -> None:
    obj = vllm_deployment()
    rec = planned("cpu", obj)
    assert rec is not None
    other = copy.deepcopy(obj)
    other["metadata"]["labels"]["x"] = "y"
    other["metadata"]["resourceVersion"] = "9999"
    other["status"]["readyReplicas"] = 1
    other["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1Gi"
    other["spec"]["template"]["spec"]["containers"].insert(0, {"name": "sidecar", "image": "x"})  # order-independent
    assert spec_hash(other, rec.patch) == rec.target_spec_hash
    other["spec"]["template"]["spec"]["containers"][1]["resources"]["limits"]["cpu"] = "12"
    assert spec_hash(other, rec.patch) != rec.target_spec_hash
    assert dict(touched(obj, rec.patch)) == {"/spec/template/spec/containers[name=vllm]/resources/limits/cpu": "8"}


def test_invert_deletes_added_list_items() -> None:
    obj = {"spec": {"containers": [{"name": "a", "image": "x"}]}}
    patch = {"spec": {"containers": [{"name": "b", "image": "y"}]}}
    assert strategic_merge(strategic_merge(obj, patch), invert(obj, patch)) == obj
