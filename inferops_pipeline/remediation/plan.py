"""Finding → Recommendation: the strategic-merge patch, its exact inverse, the target's spec hash and the outcome (pure)."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from inferops_pipeline.catalog.gpus import parse_mig_profile
from inferops_pipeline.domain import Finding, FindingStatus, FindingType, Recommendation, Workload
from inferops_pipeline.inventory.pods import GPU_TIER_KEYS
from inferops_pipeline.inventory.privacy import REDACTED

Obj = dict[str, Any]
TargetKey = tuple[str, str, str, str]  # (cluster, namespace, kind, name); kind as Workload.kind or plural

ACTIONS: tuple[str, ...] = ("scale_replicas", "move_gpu_tier", "set_engine_arg", "set_resources")
# Strategic merge is only defined for built-in kinds; LWS/KServe take merge patches and are left to a human.
SUPPORTED_KINDS: dict[str, str] = {"Deployment": "deployments", "StatefulSet": "statefulsets"}
_TEMPLATE = ("spec", "template", "spec")

# --------------------------------------------------------------------------------------------- strategic merge

# Lists that strategic merge merges by a key instead of replacing (k8s.io/api patchMergeKey tags we may touch).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


def strategic_merge(obj: Any, patch: Any, field_name: str = "") -> Any:
    """The subset of Kubernetes strategic merge our patches use: maps merge, null deletes a key, MERGE_KEYS lists
    merge item by item (`$patch: delete` removes one), every other list is replaced whole."""
    if isinstance(patch, dict):
        result = copy.deepcopy(obj) if isinstance(obj, dict) else {}
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = strategic_merge(result.get(key), value, key)
        return result
    if isinstance(patch, list) and field_name in MERGE_KEYS and isinstance(obj, list):
        key = MERGE_KEYS[field_name]
        merged = copy.deepcopy(obj)
        for item in patch:
            index = next((i for i, old in enumerate(merged) if old.get(key) == item.get(key)), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    merged.pop(index)
            elif index is None:
                merged.append(strategic_merge(None, item))
            else:
                merged[index] = strategic_merge(merged[index], item)
        return merged
    if isinstance(patch, list):
        return [strategic_merge(None, item) if isinstance(item, dict) else item for item in patch]
    return copy.deepcopy(patch)


def _find(items: Any, key: str, value: Any) -> Obj | None:
    return next((i for i in items or [] if isinstance(i, dict) and i.get(key) == value), None)


def invert(obj: Mapping[str, Any], patch: Mapping[str, Any]) -> Obj:
    """The patch restoring `obj`'s values at every path `patch` touches: old values, null where a key was absent,
    `$patch: delete` for list items the patch adds. strategic_merge(strategic_merge(obj, p), invert(obj, p)) == obj."""
    inverse: Obj = {}
    for key, value in patch.items():
        old = obj.get(key)
        if key not in obj:
            inverse[key] = None
        elif isinstance(value, dict) and isinstance(old, dict):
            inverse[key] = invert(old, value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(old, list):
            merge_key = MERGE_KEYS[key]
            items = []
            for item in value:
                found = _find(old, merge_key, item.get(merge_key))
                if found is None:
                    items.append({merge_key: item.get(merge_key), "$patch": "delete"})
                else:
                    fields = {k: v for k, v in item.items() if k != merge_key}
                    items.append({merge_key: item.get(merge_key), **invert(found, fields)})
            inverse[key] = items
        else:
            inverse[key] = copy.deepcopy(old)
    return inverse


def touched(obj: Any, patch: Mapping[str, Any], path: str = "") -> list[tuple[str, Any]]:
    """(path, current value) of every leaf the patch writes; a missing value is None. Named list items are
    addressed by their merge key (`containers[name=vllm]`), so reordering containers changes nothing."""
    out: list[tuple[str, Any]] = []
    for key in sorted(patch):
        value = patch[key]
        old = obj.get(key) if isinstance(obj, dict) else None
        here = f"{path}/{key}"
        if isinstance(value, dict) and isinstance(old, dict):
            out.extend(touched(old, value, here))
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(old, list):
            merge_key = MERGE_KEYS[key]
            for item in value:
                name = item.get(merge_key)
                found = _find(old, merge_key, name)
                fields = {k: v for k, v in item.items() if k not in (merge_key, "$patch")}
                item_path = f"{here}[{merge_key}={name}]"
                if found is None or item.get("$patch") == "delete":
                    out.append((item_path, copy.deepcopy(found)))
                else:
                    out.extend(touched(found, fields, item_path))
        else:
            out.append((here, copy.deepcopy(old)))
    return out


def spec_hash(obj: Mapping[str, Any], patch: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the current values at the paths the patch touches (plan time and apply time
    alike): any change to them since the plan, by anyone, makes the recommendation stale."""
    canonical = json.dumps(touched(obj, patch), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def values_in_place(obj: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """True when applying the patch would not change any value it touches (it is applied already)."""
    return touched(obj, patch) == touched(strategic_merge(obj, patch), patch)


# --------------------------------------------------------------------------------------------- object access


def _template(obj: Mapping[str, Any]) -> Obj:
    node: Any = obj
    for part in _TEMPLATE:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _container(obj: Mapping[str, Any], name: str) -> Obj | None:
    return _find(_template(obj).get("containers"), "name", name)


def _in_template(fields: Obj) -> Obj:
    node: Obj = fields
    for part in reversed(_TEMPLATE):
        node = {part: node}
    return node


def _container_patch(name: str, fields: Obj) -> Obj:
    return _in_template({"containers": [{"name": name, **fields}]})


def _quantity_cpu(cores: float) -> str:
    return f"{cores:g}" if cores >= 1 and float(cores).is_integer() else f"{round(cores * 1000)}m"


def _quantity_bytes(value: float) -> str:
    gib = value / 2**30
    return f"{gib:g}Gi" if gib.is_integer() else str(int(value))


def _synthetic(w: Workload) -> Obj:
    """The target as the workload row describes it, when the raw object is not at hand: enough for replica and
    resource patches (quantities may be spelt differently from the live object; then apply says superseded)."""
    limits: Obj = {}
    if w.cpu_limit:
        limits["cpu"] = _quantity_cpu(w.cpu_limit)
    if w.memory_limit_bytes:
        limits["memory"] = _quantity_bytes(w.memory_limit_bytes)
    container: Obj = {"name": w.container, "resources": {"limits": limits} if limits else {}}
    return {
        "apiVersion": "apps/v1",
        "kind": w.kind,
        "metadata": {"name": w.name, "namespace": w.namespace},
        "spec": {"replicas": w.replicas, "template": {"spec": {"containers": [container]}}},
    }


# --------------------------------------------------------------------------------------------- engine args

# Engine flag spellings per runtime, canonical first (appended when the flag is not set). The detectors name
# flags by vLLM's spelling; other runtimes are mapped through the knob.
_FLAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "vllm": {
        "gpu_memory_utilization": ("--gpu-memory-utilization",),
        "max_model_len": ("--max-model-len",),
        "max_num_seqs": ("--max-num-seqs",),
        "kv_cache_dtype": ("--kv-cache-dtype",),
        "tensor_parallel": ("--tensor-parallel-size", "-tp"),
    },
    "sglang": {
        "gpu_memory_utilization": ("--mem-fraction-static",),
        "max_model_len": ("--context-length",),
        "max_num_seqs": ("--max-running-requests",),
        "kv_cache_dtype": ("--kv-cache-dtype",),
        "tensor_parallel": ("--tp-size", "--tp", "--tensor-parallel-size"),
    },
}
KNOB_OF_FLAG: dict[str, str] = {spellings[0]: knob for knob, spellings in _FLAGS["vllm"].items()}


def _norm(flag: str) -> str:
    return flag.lower().replace("_", "-")


def _edit(tokens: list[str], spellings: tuple[str, ...], value: str) -> list[str] | None:
    """tokens with the flag's value replaced; None when the flag is absent. Raises ValueError when ambiguous."""
    hits = [i for i, t in enumerate(tokens) if t.startswith("-") and _norm(t.partition("=")[0]) in spellings]
    if not hits:
        return None
    if len(hits) > 1:
        raise ValueError("flag given twice")
    index = hits[0]
    written, eq, _ = tokens[index].partition("=")
    new = list(tokens)
    if eq:
        new[index] = f"{written}={value}"
    elif index + 1 < len(tokens) and not tokens[index + 1].startswith("-"):
        new[index + 1] = value
    else:
        raise ValueError("flag without a value")
    return new


def _arg_fields(obj: Mapping[str, Any], w: Workload, changes: Mapping[str, str]) -> Obj | None:
    """{"args": [...]} (and/or "command") with the engine settings changed; None when that cannot be done safely."""
    flags = _FLAGS.get(w.runtime)
    container = _container(obj, w.container)
    if flags is None or container is None:
        return None
    lists: dict[str, list[str] | None] = {}
    for field_name in ("command", "args"):
        raw = container.get(field_name)
        if raw is not None and not (isinstance(raw, list) and all(isinstance(t, str) for t in raw)):
            return None
        lists[field_name] = list(raw) if raw is not None else None
    everything = (lists["command"] or []) + (lists["args"] or [])
    # A redacted secret would be written back as the placeholder; a shell script or `$(VAR)` hides the real value.
    if any(REDACTED in t or " " in t or "$(" in t for t in everything):
        return None
    edited: dict[str, list[str]] = {}
    for knob, value in changes.items():
        source = str((w.engine_facts.get(knob) or {}).get("source", ""))
        if source and source != "default" and not (source.startswith("arg:") and "via env" not in source):
            return None  # set through env, a label or the owner: an arg would fight it (and env values are not ours)
        spellings = tuple(_norm(s) for s in flags[knob])
        done = False
        for field_name in ("args", "command"):
            current = edited.get(field_name, lists[field_name])
            if current is None:
                continue
            try:
                new = _edit(current, spellings, value)
            except ValueError:
                return None
            if new is not None:
                edited[field_name], done = new, True
                break
        if not done:
            # Appended where the flags already are (args, else an exec-form command), else as new args.
            where = "args" if lists["args"] is not None or lists["command"] is None else "command"
            edited[where] = [*(edited.get(where, lists[where]) or []), flags[knob][0], value]
    return {k: v for k, v in edited.items() if v != lists[k]}


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------------------- GPU placement

# Node-label values naming each tier the detectors propose, per label key that selects a GPU model.
GPU_LABEL_VALUES: dict[str, dict[str, str]] = {
    "nvidia.com/gpu.product": {
        "L4": "NVIDIA-L4",
        "A10G": "NVIDIA-A10G",
        "A10": "NVIDIA-A10",
        "L40S": "NVIDIA-L40S",
        "A100-40GB": "NVIDIA-A100-SXM4-40GB",
        "A100-80GB": "NVIDIA-A100-SXM4-80GB",
        "H100-80GB": "NVIDIA-H100-80GB-HBM3",
        "H200": "NVIDIA-H200",
    },
    "cloud.google.com/gke-accelerator": {
        "L4": "nvidia-l4",
        "A100-40GB": "nvidia-tesla-a100",
        "A100-80GB": "nvidia-a100-80gb",
        "H100-80GB": "nvidia-h100-80gb",
        "H200": "nvidia-h200-141gb",
    },
    # Karpenter's bare "a100" is both A100 sizes: not rewritable without instance-gpu-memory, so absent here.
    "karpenter.k8s.aws/instance-gpu-name": {
        "L4": "l4",
        "A10G": "a10g",
        "L40S": "l40s",
        "H100-80GB": "h100",
        "H200": "h200",
    },
}
_GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")


def _move_patch(
    obj: Mapping[str, Any], w: Workload, *, gpu_model: str, gpu_count: int, max_model_len: int | None
) -> Obj | None:
    """nodeSelector (when the model changes) + GPU resources + tensor parallelism (+ max-model-len) in one patch."""
    if w.pipeline_parallel > 1 or w.data_parallel > 1 or gpu_count < 1:
        return None
    container = _container(obj, w.container)
    if container is None:
        return None
    resources = container.get("resources") or {}
    names = {k for part in ("limits", "requests") for k in (resources.get(part) or {})}
    gpu_names = [n for n in names if n in _GPU_RESOURCES or parse_mig_profile(n) is not None or n.endswith("/gpu")]
    if len(gpu_names) != 1 or gpu_names[0] not in _GPU_RESOURCES:
        return None  # MIG slices and unknown devices need a human
    gpu = gpu_names[0]
    new_resources = {
        part: {gpu: str(gpu_count)} for part in ("limits", "requests") if gpu in (resources.get(part) or {})
    }
    fields: Obj = {"resources": new_resources}
    changes: dict[str, str] = {}
    if gpu_count != w.tensor_parallel:
        changes["tensor_parallel"] = str(gpu_count)
    if max_model_len and max_model_len != w.max_model_len:
        changes["max_model_len"] = str(max_model_len)
    if changes:
        args = _arg_fields(obj, w, changes)
        if args is None:
            return None
        fields |= args
    patch = _container_patch(w.container, fields)
    if gpu_model != w.gpu_model:
        pod = _template(obj)
        affinity = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        if any(
            e.get("key") in GPU_TIER_KEYS
            for t in affinity.get("nodeSelectorTerms") or []
            for e in t.get("matchExpressions") or []
        ):
            return None  # required node affinity on GPU labels: rewriting its terms is a human's call
        selector = pod.get("nodeSelector") or {}
        pinned = [k for k in selector if k in GPU_TIER_KEYS] or (
            ["nvidia.com/gpu.product"] if gpu == "nvidia.com/gpu" else []
        )
        values = {k: GPU_LABEL_VALUES.get(k, {}).get(gpu_model) for k in pinned}
        if not values or any(v is None for v in values.values()):
            return None  # pinned by instance type, node pool, memory size...: no label value we can name
        patch = strategic_merge(patch, _in_template({"nodeSelector": values}))
    return patch


# --------------------------------------------------------------------------------------------- planning


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _target(w: Workload, targets: Mapping[TargetKey, Any]) -> Obj | None:
    for kind in (w.kind, SUPPORTED_KINDS.get(w.kind, "")):
        raw = targets.get((w.cluster, w.namespace, kind, w.name))
        if raw is not None:
            parsed = json.loads(raw) if isinstance(raw, str | bytes) else raw
            return dict(parsed) if isinstance(parsed, Mapping) else None
    return None


def _util(w: Workload) -> float | None:
    if w.gpu_memory_utilization is not None:
        return w.gpu_memory_utilization
    fact = (w.engine_facts.get("gpu_memory_utilization") or {}).get("value")
    try:
        return float(fact) if fact else None
    except ValueError:
        return None


def _choose(f: Finding, w: Workload, obj: Obj, raw: bool) -> tuple[str, Obj, str, str, float, bool] | None:
    """(action, patch, rationale, risk, $/month saved, scale_to_zero) for one finding, or None."""
    where = f"{w.namespace}/{w.name}"
    ev = f.evidence
    stated = (obj.get("spec") or {}).get("replicas")
    replicas = int(stated) if stated is not None else 1  # the API server's default
    if f.type in (FindingType.IDLE_GPU, FindingType.OVERPROVISIONED_REPLICAS):
        if w.has_autoscaler:
            return None  # an HPA owns spec.replicas and would undo the patch: change its bounds instead
        if f.type == FindingType.IDLE_GPU:
            if replicas < 1:
                return None
            return (
                "scale_replicas",
                {"spec": {"replicas": 0}},
                f"Scale {where} from {replicas} to 0 replicas: its GPUs sat idle all window with no real traffic; "
                f"saves {_usd(f.monthly_waste_usd)}/month. Roll back to bring it back.",
                "the model stops serving until scaled up again, and then waits for a cold start (model load)",
                f.monthly_waste_usd,
                True,
            )
        needed = ev.get("replicas_needed")
        if needed is None or not 1 <= int(needed) < replicas:
            return None
        return (
            "scale_replicas",
            {"spec": {"replicas": int(needed)}},
            f"Scale {where} from {replicas} to {int(needed)} replicas: {int(needed)} carry the window's peak at the "
            f"target utilisation; saves {_usd(f.monthly_waste_usd)}/month.",
            "less headroom for a traffic step or a lost replica until someone scales it back",
            f.monthly_waste_usd,
            False,
        )
    if f.type == FindingType.CPU_GPU_IMBALANCE and ev.get("starved") and w.cpu_limit:
        container = _container(obj, w.container)
        if container is None or "cpu" not in ((container.get("resources") or {}).get("limits") or {}):
            return None
        new_limit = max(w.cpu_limit * 2, math.ceil((ev.get("cpu_usage_p95") or w.cpu_limit) * 2))
        return (
            "set_resources",
            _container_patch(w.container, {"resources": {"limits": {"cpu": _quantity_cpu(new_limit)}}}),
            f"Raise the CPU limit of {where} ({w.container}) from {w.cpu_limit:g} to {new_limit:g} cores: the engine's "
            f"scheduler and tokenizer are throttled and idle the GPU; recovers about {_usd(f.monthly_waste_usd)}/month.",
            "more CPU reserved per replica (may not fit on its node); rolling restart of every replica",
            f.monthly_waste_usd,
            False,
        )
    if f.type == FindingType.OOM_EXPOSURE:
        if ev.get("host_memory_exposed") and w.memory_limit_bytes:
            container = _container(obj, w.container)
            if container is None or "memory" not in ((container.get("resources") or {}).get("limits") or {}):
                return None
            working_set = float(ev.get("memory_ws_max_bytes") or w.memory_limit_bytes)
            new_gib = math.ceil(max(working_set * 1.25, w.memory_limit_bytes * 1.25) / 2**30)
            return (
                "set_resources",
                _container_patch(w.container, {"resources": {"limits": {"memory": f"{new_gib}Gi"}}}),
                f"Raise the memory limit of {where} ({w.container}) to {new_gib}Gi (peak working set + 25%) so the "
                f"kernel stops OOM-killing it; protects {_usd(f.monthly_at_risk_usd)}/month of serving.",
                "more memory reserved per replica (may not fit on its node); rolling restart of every replica",
                0.0,
                False,
            )
        util = _util(w)
        thresholds = ev.get("thresholds") or {}
        if not raw or util is None or not (ev.get("engine_start_risk") or ev.get("gpu_memory_exposed")):
            return None
        target = util
        if ev.get("engine_start_risk"):
            target = min(target, float(thresholds.get("oom_engine_util_max", 0.95)) - 0.05)
        headroom = ev.get("gpu_fb_headroom")
        if ev.get("gpu_memory_exposed") and headroom is not None:
            target = min(target, util - (float(thresholds.get("oom_gpu_headroom_frac", 0.08)) - float(headroom)) - 0.02)
        target = math.floor(target * 100 + 1e-9) / 100
        if not 0.5 <= target < util:
            return None
        args = _arg_fields(obj, w, {"gpu_memory_utilization": _fmt(target)})
        if not args:
            return None
        return (
            "set_engine_arg",
            _container_patch(w.container, args),
            f"Lower the engine's GPU memory budget of {where} from {util:g} to {target:g} so the card keeps headroom "
            f"for CUDA graphs and other contexts; protects {_usd(f.monthly_at_risk_usd)}/month of serving.",
            "a smaller KV cache (fewer concurrent sequences before preemption); rolling restart of every replica",
            0.0,
            False,
        )
    if f.type == FindingType.KV_CACHE_PRESSURE:
        for remedy in ev.get("remediations") or []:
            action, cost = remedy.get("action"), float(remedy.get("monthly_cost_usd") or 0.0)
            effect = remedy.get("effect", "")
            if action == "set_engine_arg" and raw and remedy.get("arg") in KNOB_OF_FLAG:
                knob = KNOB_OF_FLAG[remedy["arg"]]
                args = _arg_fields(obj, w, {knob: _fmt(remedy.get("value"))})
                if args:
                    return (
                        "set_engine_arg",
                        _container_patch(w.container, args),
                        f"Set {remedy['arg']} {_fmt(remedy.get('value'))} on {where}: {effect}; the KV cache stops "
                        f"preempting, protecting {_usd(f.monthly_at_risk_usd)}/month of serving at no extra cost.",
                        "engine restart of every replica; a wrong value can keep the engine from starting "
                        "(automatic rollback when waiting for the rollout)",
                        -cost,
                        False,
                    )
            elif action == "scale_replicas" and not w.has_autoscaler:
                target_replicas = int(remedy.get("value") or 0)
                if target_replicas > replicas:
                    return (
                        "scale_replicas",
                        {"spec": {"replicas": target_replicas}},
                        f"Scale {where} from {replicas} to {target_replicas} replicas: {effect}; costs "
                        f"{_usd(cost)}/month and protects {_usd(f.monthly_at_risk_usd)}/month of serving.",
                        f"{_usd(cost)}/month more GPU spend; needs free GPUs (or node scale-up) to schedule",
                        -cost,
                        False,
                    )
        return None
    if f.type in (FindingType.TIER_MISPLACEMENT, FindingType.KV_CACHE_OVERSIZED) and raw:
        if f.type == FindingType.TIER_MISPLACEMENT:
            proposed = ev.get("proposed") or {}
            if proposed.get("kind") not in ("cheaper_gpu", "fewer_gpus"):
                return None  # a MIG slice needs a MIG node pool and a different resource name
            model, count, new_len = str(proposed.get("gpu_model") or ""), int(proposed.get("gpu_count") or 0), None
        else:
            model, count = w.gpu_model, int(ev.get("proposed_tensor_parallel") or 0)
            new_len = int(ev["proposed_max_model_len"]) if ev.get("proposed_max_model_len") else None
        patch = _move_patch(obj, w, gpu_model=model, gpu_count=count, max_model_len=new_len)
        if patch is None:
            return None
        length = f" and --max-model-len {new_len:,}" if new_len else ""
        return (
            "move_gpu_tier",
            patch,
            f"Move {where} from {w.gpus_per_replica}×{w.gpu_model} to {count}×{model} per replica (tensor parallel "
            f"{count}{length}): the model and the observed KV need fit with headroom; saves "
            f"{_usd(f.monthly_waste_usd)}/month.",
            "every replica restarts on new nodes (needs free capacity of that GPU type); less KV headroom for a "
            "traffic step",
            f.monthly_waste_usd,
            False,
        )
    return None


def plan(
    finding: Finding, workload: Workload | None, *, target: Mapping[str, Any] | None = None
) -> Recommendation | None:
    """One recommendation for an actionable finding, or None when it has no safe mechanical fix (it stays a finding).

    `target` is the raw object (raw_k8s_objects body). Without it only replica and resource changes are planned,
    from the workload row; engine-arg and tier moves need the real command/args and placement.
    """
    w, f = workload, finding
    if w is None or w.kind not in SUPPORTED_KINDS or f.suppressed or f.status == FindingStatus.RESOLVED:
        return None  # suppressed: the owner said (inferops.io/ignore) this is intended
    obj = dict(target) if target is not None else _synthetic(w)
    chosen = _choose(f, w, obj, target is not None)
    if chosen is None:
        return None
    action, patch, rationale, risk, savings, to_zero = chosen
    if values_in_place(obj, patch):
        return None  # the object already has these values: nothing to recommend
    return Recommendation(
        recommendation_id=f"{f.finding_id}-{action}",
        finding_id=f.finding_id,
        assessment_date=f.assessment_date,
        action=action,
        cluster=w.cluster,
        namespace=w.namespace,
        target_kind=w.kind,
        target_name=w.name,
        patch=patch,
        inverse_patch=invert(obj, patch),
        rationale=rationale,
        expected_monthly_savings_usd=round(savings, 2),
        expected_risk_change=risk,
        target_resource_version=str((obj.get("metadata") or {}).get("resourceVersion") or "") if target else "",
        target_spec_hash=spec_hash(obj, patch),
        expected_risk_removed_usd=round(f.monthly_at_risk_usd, 2),
        scale_to_zero=to_zero,
    )


def plan_all(
    findings: Sequence[Finding], workloads: Sequence[Workload], *, targets: Mapping[TargetKey, Any] | None = None
) -> list[Recommendation]:
    """One recommendation per actionable open finding; `targets` maps (cluster, namespace, kind, name) to raw
    objects (kind as `Deployment` or `deployments`; a body may be JSON text)."""
    targets = targets or {}
    by_key = {(w.cluster, w.namespace, w.kind, w.name): w for w in workloads}
    out = []
    for f in findings:
        w = by_key.get((f.cluster, f.namespace, f.workload_kind, f.workload))
        if w is None or f.status == FindingStatus.RESOLVED:
            continue
        rec = plan(f, w, target=_target(w, targets))
        if rec is not None:
            out.append(rec)
    return out
