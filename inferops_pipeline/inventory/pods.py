"""Pods + owners → GPU-serving pod rows: controlling workload, runtime, model, engine settings, placement (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from inferops_pipeline.catalog.gpus import normalize_gpu_name
from inferops_pipeline.domain import PodRow, Runtime
from inferops_pipeline.inventory.engine import (
    Fact,
    container_argv,
    explicit,
    is_gpu_infrastructure,
    parse_engine,
    runtime_of,
    to_bool,
    to_float,
    to_int,
)
from inferops_pipeline.inventory.nodes import gpu_devices, pod_gpu_request
from inferops_pipeline.inventory.owners import Obj, Owner, OwnerResolver
from inferops_pipeline.inventory.privacy import ENGINE_ENV, env_names, redact_args
from inferops_pipeline.inventory.quantity import parse_quantity
from inferops_pipeline.settings import ConfigError

_TERMINAL_PHASES = {"Succeeded", "Failed"}
# Exempts a workload from finding types: "idle_gpu,dark_capacity" or "all"; on the controller or the pod template.
IGNORE_ANNOTATION = "inferops.io/ignore"

# Node labels that pin a pod to a GPU type or tier: the keys a tier move rewrites.
GPU_TIER_KEYS: tuple[str, ...] = (
    "nvidia.com/gpu.product",
    "nvidia.com/gpu.family",
    "nvidia.com/gpu.memory",
    "nvidia.com/gpu.machine",
    "amd.com/gpu.product-name",
    "cloud.google.com/gke-accelerator",
    "cloud.google.com/gke-nodepool",
    "karpenter.k8s.aws/instance-gpu-name",
    "karpenter.k8s.aws/instance-gpu-manufacturer",
    "karpenter.k8s.aws/instance-gpu-memory",
    "karpenter.k8s.aws/instance-gpu-count",
    "karpenter.k8s.aws/instance-family",
    "karpenter.sh/nodepool",
    "karpenter.sh/capacity-type",
    "eks.amazonaws.com/nodegroup",
    "eks.amazonaws.com/capacityType",
    "kubernetes.azure.com/agentpool",
    "kubernetes.azure.com/accelerator",
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
)
# Keys whose value names a GPU model directly (gives the GPU a pending pod waits for).
_MODEL_KEYS = (
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
    "amd.com/gpu.product-name",
)


def _resources(container: Obj, kind: str) -> Mapping[str, Any]:
    return (container.get("resources") or {}).get(kind) or {}


def _container_gpus(container: Obj) -> int:
    return max(sum(gpu_devices(_resources(container, kind)).values()) for kind in ("limits", "requests"))


def _gpu_resource(container: Obj) -> str:
    names = sorted({k for kind in ("limits", "requests") for k in gpu_devices(_resources(container, kind))})
    return ",".join(names)


def _engine_container(pod: Obj) -> Obj | None:
    """The container holding GPUs; with several, the one that runs a recognisable engine."""
    containers = [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, Mapping)]
    with_gpu = [c for c in containers if _container_gpus(c) > 0]
    if len(with_gpu) > 1:
        known = [
            c
            for c in with_gpu
            if runtime_of(str(c.get("image", "")), container_argv(c.get("command"), c.get("args")))[0]
            != Runtime.UNKNOWN
        ]
        return (known or with_gpu)[0]
    return with_gpu[0] if with_gpu else None


def _expressions(term: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": str(e.get("key", "")), "operator": str(e.get("operator", "")), "values": list(e.get("values") or [])}
        for e in term.get("matchExpressions") or []
        if isinstance(e, Mapping)
    ]


def placement_of(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    """nodeSelector and node affinity as plain JSON, plus which of their keys pin a GPU type or tier."""
    selector = {str(k): str(v) for k, v in (pod_spec.get("nodeSelector") or {}).items()}
    affinity = ((pod_spec.get("affinity") or {}).get("nodeAffinity")) or {}
    required = [
        _expressions(term)
        for term in (
            (affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
        )
        if isinstance(term, Mapping)
    ]
    preferred: list[dict[str, Any]] = [
        {"weight": int(p.get("weight", 0)), "match": _expressions(p.get("preference") or {})}
        for p in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        if isinstance(p, Mapping)
    ]
    keys = (
        set(selector)
        | {e["key"] for term in required for e in term}
        | {e["key"] for p in preferred for e in p["match"]}
    )
    placement: dict[str, Any] = {}
    if selector:
        placement["node_selector"] = selector
    if required:
        placement["required"] = required
    if preferred:
        placement["preferred"] = preferred
    gpu_keys = sorted(k for k in keys if k in GPU_TIER_KEYS)
    if gpu_keys:
        placement["gpu_keys"] = gpu_keys
    return placement


def _gpu_hint(placement: Mapping[str, Any]) -> str:
    """GPU model a pod is pinned to (nodeSelector, or a required `In` with one value); prices pending pods."""
    selector = placement.get("node_selector") or {}
    for key in _MODEL_KEYS:
        if selector.get(key):
            return normalize_gpu_name(str(selector[key])) or ""
    for term in placement.get("required") or []:
        for expr in term:
            if expr["key"] in _MODEL_KEYS and expr["operator"] == "In" and len(expr["values"]) == 1:
                return normalize_gpu_name(str(expr["values"][0])) or ""
    return ""


def _owner_name(labels_chain: Sequence[Mapping[str, str]], owner_labels: Sequence[str]) -> str:
    """The first configured key wins across workload, pod and namespace labels: a namespace's `team` beats a
    controller-set `app.kubernetes.io/part-of` on the pod (KServe sets it to `llminferenceservice`)."""
    for key in owner_labels:
        for labels in labels_chain:
            if labels.get(key):
                return labels[key]
    return ""


def _is_local_path(model: str) -> bool:
    return model.startswith("/") or model.startswith("pvc://") or model in ("", ".")


def _clean_model(model: str) -> str:
    # `hf://org/name` is the Hugging Face id itself; other URIs (s3://, gs://, oci://) stay as written.
    return model[len("hf://") :] if model.startswith("hf://") else model


def _owner_facts(owner: Owner, pod: Obj) -> dict[str, Fact]:
    """Settings the serving platform's object states, for the knobs the container argv leaves open."""
    facts: dict[str, Fact] = {}
    spec = (owner.top or {}).get("spec") or {}
    if owner.kind == "InferenceService":
        predictor = spec.get("predictor") or {}
        for section, body in [("model", predictor.get("model")), *predictor.items()]:
            if isinstance(body, Mapping) and body.get("storageUri"):
                facts["model"] = Fact(
                    str(body["storageUri"]), f"owner:InferenceService.spec.predictor.{section}.storageUri"
                )
                break
    elif owner.kind == "LLMInferenceService":
        model = spec.get("model") or {}
        if model.get("uri"):
            facts["model"] = Fact(str(model["uri"]), "owner:LLMInferenceService.spec.model.uri")
        if model.get("name"):
            facts["served_model_name"] = Fact(str(model["name"]), "owner:LLMInferenceService.spec.model.name")
        parallelism = spec.get("parallelism") or {}
        for key, knob in (("tensor", "tensor_parallel"), ("pipeline", "pipeline_parallel"), ("data", "data_parallel")):
            if parallelism.get(key) is not None:
                facts[knob] = Fact(str(parallelism[key]), f"owner:LLMInferenceService.spec.parallelism.{key}")
    if "model" not in facts:
        # KServe's storage-initializer downloads the model the engine then reads from /mnt/models.
        for init in (pod.get("spec") or {}).get("initContainers") or []:
            args = init.get("args") or []
            if init.get("name") == "storage-initializer" and args and "://" in str(args[0]):
                facts["model"] = Fact(str(args[0]), "initContainer:storage-initializer")
                break
    return facts


def _merge(engine: dict[str, Fact], platform: Mapping[str, Fact]) -> dict[str, Fact]:
    merged = dict(engine)
    for knob, fact in platform.items():
        current = merged.get(knob)
        if current is None or current.source == "default":
            merged[knob] = fact
        elif knob == "model" and _is_local_path(current.value):
            # `--model /mnt/models` says where, the platform object says what.
            merged[knob] = Fact(fact.value, f"{fact.source} (engine reads {current.value})")
    return merged


def ignored_types(*annotation_maps: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Finding types named by `inferops.io/ignore` on any of the objects (comma/space separated, case-folded)."""
    names: set[str] = set()
    for found in annotation_maps:
        value = (found or {}).get(IGNORE_ANNOTATION)
        if value:
            names.update(part.strip().lower() for part in str(value).replace(" ", ",").split(",") if part.strip())
    return tuple(sorted(names))


def pending_state(metadata: Mapping[str, Any], status: Mapping[str, Any]) -> tuple[str, str, str]:
    """(pending since, reason, message) of an unscheduled pod, from its PodScheduled=False condition."""
    condition: Mapping[str, Any] = next(
        (
            c
            for c in status.get("conditions") or []
            if isinstance(c, Mapping) and c.get("type") == "PodScheduled" and c.get("status") == "False"
        ),
        {},
    )
    # The condition's transition time is when the scheduler first gave up; a pod it never looked at yet has
    # only its creation time.
    since = str(condition.get("lastTransitionTime") or metadata.get("creationTimestamp") or "")
    return since, str(condition.get("reason") or ""), str(condition.get("message") or "")


def pod_rows(objects: Mapping[str, Sequence[Obj]], *, cluster: str, owner_labels: Sequence[str]) -> list[PodRow]:
    """Every live GPU pod of one cluster, resolved to the workload an operator would edit."""
    resolver = OwnerResolver(objects)
    rows: list[PodRow] = []
    unknown_desired: set[int] = set()
    for pod in objects.get("pods", ()):
        metadata = pod.get("metadata") or {}
        status = pod.get("status") or {}
        spec = pod.get("spec") or {}
        phase = status.get("phase", "Unknown")
        if phase in _TERMINAL_PHASES or metadata.get("deletionTimestamp"):
            continue
        namespace = metadata.get("namespace", "")
        name = metadata.get("name", "")
        try:
            container = _engine_container(pod)
        except ValueError as exc:
            raise ConfigError(f"pod {namespace}/{name}: {exc}") from None
        if container is None:
            continue
        labels = metadata.get("labels") or {}
        image = str(container.get("image", ""))
        owner = resolver.resolve(pod)
        if is_gpu_infrastructure(image, str(container.get("name", "")), labels.get("app", ""),
                                 labels.get("app.kubernetes.io/name", ""), owner.name):  # fmt: skip
            continue
        try:
            gpus = pod_gpu_request(pod)
            cpu_limit = parse_quantity(_resources(container, "limits").get("cpu"))
            memory_limit = parse_quantity(_resources(container, "limits").get("memory"))
            cpu_request = parse_quantity(_resources(container, "requests").get("cpu"))
            memory_request = parse_quantity(_resources(container, "requests").get("memory"))
        except ValueError as exc:
            raise ConfigError(f"pod {namespace}/{name}: container {container.get('name')!r}: {exc}") from None
        argv = container_argv(container.get("command"), container.get("args"))
        env_list = [e for e in container.get("env") or [] if isinstance(e, Mapping)]
        # Only engine-setting env values are read, only here, and never stored (see inventory.privacy).
        engine_env = {str(e["name"]): str(e["value"]) for e in env_list if e.get("name") in ENGINE_ENV and "value" in e}
        runtime, evidence = runtime_of(image, argv, {**owner.labels, **labels})
        facts = _merge(parse_engine(runtime, argv, engine_env, image=image), _owner_facts(owner, pod))
        if evidence:
            facts["runtime"] = Fact(runtime.value, evidence)
        if "model" not in facts and labels.get("inferops.io/model"):
            facts["model"] = Fact(labels["inferops.io/model"], "label:inferops.io/model")
        if "model" in facts:
            facts["model"] = Fact(_clean_model(facts["model"].value), facts["model"].source)
        model = facts["model"].value if "model" in facts else ""
        if _is_local_path(model) and explicit(facts, "served_model_name"):
            model = facts["served_model_name"].value
        placement = placement_of(spec)
        engine_status: Mapping[str, Any] = next(
            (s for s in status.get("containerStatuses") or [] if s.get("name") == container.get("name")), {}
        )
        if owner.desired is None:
            unknown_desired.add(len(rows))
        scheduled = bool(spec.get("nodeName"))
        pending_since, pending_reason, pending_message = ("", "", "") if scheduled else pending_state(metadata, status)
        rows.append(
            PodRow(
                cluster=cluster,
                namespace=namespace,
                name=name,
                node=spec.get("nodeName", "") or "",
                phase=phase,
                workload_kind=owner.kind,
                workload=owner.name,
                owner=_owner_name([owner.labels, labels, resolver.namespace_labels(namespace)], owner_labels),
                runtime=runtime.value,
                model=model,
                image=image,
                container=str(container.get("name", "")),
                gpus=gpus,
                tensor_parallel=to_int(explicit(facts, "tensor_parallel")) or gpus,
                gpu_memory_utilization=to_float(explicit(facts, "gpu_memory_utilization")),
                max_model_len=to_int(explicit(facts, "max_model_len")),
                kv_cache_dtype=explicit(facts, "kv_cache_dtype") or "auto",
                quantization=explicit(facts, "quantization") or "",
                cpu_request=cpu_request or cpu_limit or 0.0,
                cpu_limit=cpu_limit,
                memory_request_bytes=memory_request or memory_limit or 0.0,
                memory_limit_bytes=memory_limit,
                restarts=int(engine_status.get("restartCount", 0)),
                scheduled=scheduled,
                ready=bool(engine_status.get("ready", False)),
                desired_replicas=owner.desired if owner.desired is not None else 0,
                has_autoscaler=resolver.has_autoscaler(namespace, owner),
                gpu_hint=_gpu_hint(placement),
                engine_args=tuple(redact_args(argv)),
                pipeline_parallel=to_int(explicit(facts, "pipeline_parallel")) or 1,
                data_parallel=to_int(explicit(facts, "data_parallel")) or 1,
                max_num_seqs=to_int(explicit(facts, "max_num_seqs")),
                max_num_batched_tokens=to_int(explicit(facts, "max_num_batched_tokens")),
                dtype=explicit(facts, "dtype") or "",
                prefix_caching=to_bool(explicit(facts, "prefix_caching")),
                served_model_name=explicit(facts, "served_model_name") or "",
                placement=placement,
                engine_facts={knob: facts[knob].as_json() for knob in sorted(facts)},
                env_names=env_names(env_list),
                gpu_resource=_gpu_resource(container),
                platform=owner.platform,
                role=owner.role,
                pods_per_replica=owner.pods_per_replica,
                ready_replicas=owner.ready,
                pending_since=pending_since,
                pending_reason=pending_reason,
                pending_message=pending_message,
                ignore=ignored_types(
                    ((owner.top or {}).get("metadata") or {}).get("annotations"), metadata.get("annotations")
                ),  # fmt: skip
            )
        )
    if unknown_desired:
        # No owner object could be read: the pods that exist are the best count of what was asked for.
        counts = Counter((r.namespace, r.workload_kind, r.workload) for r in rows)
        for index in unknown_desired:
            row = rows[index]
            rows[index] = replace(row, desired_replicas=counts[(row.namespace, row.workload_kind, row.workload)])
    return rows
