"""Pods + owners → GPU-serving pod rows: controlling workload, runtime, model and engine settings (pure)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from inferops_pipeline.catalog.gpus import normalize_gpu_name
from inferops_pipeline.domain import PodRow, Runtime
from inferops_pipeline.inventory.nodes import GPU_RESOURCES
from inferops_pipeline.inventory.quantity import parse_quantity

Obj = Mapping[str, Any]

# What each engine calls the same knob. First spelling found wins.
_FLAGS: dict[str, tuple[str, ...]] = {
    "model": ("--model", "--model-path", "--model-id", "--served-model-name"),
    "tensor_parallel": ("--tensor-parallel-size", "-tp", "--tp-size", "--tp", "--num-shard"),
    "gpu_memory_utilization": ("--gpu-memory-utilization", "--mem-fraction-static", "--cuda-memory-fraction"),
    "max_model_len": ("--max-model-len", "--context-length", "--max-total-tokens", "--max-seq-len"),
    "kv_cache_dtype": ("--kv-cache-dtype",),
    "quantization": ("--quantization", "--quantize"),
}
_ENV_FLAGS = {
    "MODEL_ID": "model",
    "MODEL": "model",
    "MODEL_NAME": "model",
    "NUM_SHARD": "tensor_parallel",
    "MAX_TOTAL_TOKENS": "max_model_len",
    "QUANTIZE": "quantization",
    "TP_SIZE": "tensor_parallel",
}
_TERMINAL_PHASES = {"Succeeded", "Failed"}


def _argv(container: Obj) -> list[str]:
    raw = [str(part) for part in (container.get("command") or []) + (container.get("args") or [])]
    # `sh -c "vllm serve …"` hides the real argv inside one string.
    if len(raw) >= 3 and raw[0].endswith("sh") and raw[1] == "-c":
        try:
            return shlex.split(raw[2])
        except ValueError:
            return raw
    return raw


def runtime_of(image: str, argv: Sequence[str]) -> Runtime:
    text = " ".join([image.lower(), *[a.lower() for a in argv[:4]]])
    if "sglang" in text:
        return Runtime.SGLANG
    if "text-generation-inference" in text or "text-generation-launcher" in text:
        return Runtime.TGI
    if "tritonserver" in text or "trtllm" in text or "tensorrt" in text:
        return Runtime.TRITON
    if "vllm" in text:
        return Runtime.VLLM
    return Runtime.UNKNOWN


def parse_engine_args(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    """Flag values by knob name; `vllm serve MODEL` positional model included."""
    values: dict[str, str] = {}
    flag_to_knob = {flag: knob for knob, flags in _FLAGS.items() for flag in flags}
    for index, token in enumerate(argv):
        flag, _, inline = token.partition("=")
        knob = flag_to_knob.get(flag)
        if knob is None:
            continue
        value = inline or (argv[index + 1] if index + 1 < len(argv) else "")
        # The served name is only a fallback: the real checkpoint decides sizing.
        if knob == "model" and flag == "--served-model-name" and "model" in values:
            continue
        if knob not in values or (knob == "model" and values.get("_model_from") == "--served-model-name"):
            values[knob] = value
            if knob == "model":
                values["_model_from"] = flag
    if "model" not in values or values.get("_model_from") == "--served-model-name":
        for index, token in enumerate(argv[:-1]):
            if token == "serve" and not argv[index + 1].startswith("-"):
                values["model"] = argv[index + 1]
                break
    for name, knob in _ENV_FLAGS.items():
        if name in env and knob not in values:
            values[knob] = env[name]
    values.pop("_model_from", None)
    return values


def _requests(container: Obj, kind: str) -> Mapping[str, Any]:
    return (container.get("resources") or {}).get(kind) or {}


def _gpus(container: Obj) -> int:
    total = 0.0
    for kind in ("limits", "requests"):
        resources = _requests(container, kind)
        count = sum(
            parse_quantity(v) or 0.0
            for k, v in resources.items()
            if k in GPU_RESOURCES or k.startswith("nvidia.com/mig-")
        )
        total = max(total, count)
    return int(total)


def _engine_container(pod: Obj) -> Obj | None:
    containers = (pod.get("spec") or {}).get("containers") or []
    with_gpu = [c for c in containers if _gpus(c) > 0]
    return with_gpu[0] if with_gpu else None


def _index(objects: Sequence[Obj]) -> dict[tuple[str, str], Obj]:
    return {
        ((o.get("metadata") or {}).get("namespace", ""), (o.get("metadata") or {}).get("name", "")): o for o in objects
    }


def _controller(obj: Obj) -> tuple[str, str] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller", True):
            return str(ref.get("kind", "")), str(ref.get("name", ""))
    return None


class OwnerResolver:
    """Walks ownerReferences pod → ReplicaSet → Deployment (→ InferenceService) to the object an operator edits."""

    def __init__(self, objects: Mapping[str, Sequence[Obj]]) -> None:
        self._by_kind = {
            "ReplicaSet": _index(objects.get("replicasets", ())),
            "Deployment": _index(objects.get("deployments", ())),
            "StatefulSet": _index(objects.get("statefulsets", ())),
            "LeaderWorkerSet": _index(objects.get("leaderworkersets", ())),
            "InferenceService": _index(objects.get("inferenceservices", ())),
        }
        self._namespaces = {(o.get("metadata") or {}).get("name", ""): o for o in objects.get("namespaces", ())}
        self._scaled: set[tuple[str, str, str]] = set()
        for hpa in objects.get("horizontalpodautoscalers", ()):
            target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            namespace = (hpa.get("metadata") or {}).get("namespace", "")
            self._scaled.add((namespace, str(target.get("kind", "")), str(target.get("name", ""))))

    def top(self, namespace: str, obj: Obj) -> tuple[str, str, Obj | None]:
        kind, name, current = "Pod", (obj.get("metadata") or {}).get("name", ""), None
        node: Obj = obj
        for _ in range(5):  # owner chains are short; the bound guards against reference cycles
            ref = _controller(node)
            if ref is None:
                break
            ref_kind, ref_name = ref
            kind, name = ref_kind, ref_name
            found = self._by_kind.get(ref_kind, {}).get((namespace, ref_name))
            if found is None:
                break
            node, current = found, found
        return kind, name, current

    def has_autoscaler(self, namespace: str, kind: str, name: str) -> bool:
        return (namespace, kind, name) in self._scaled

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        return ((self._namespaces.get(namespace) or {}).get("metadata") or {}).get("labels") or {}


_GPU_SELECTORS = ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator", "karpenter.k8s.aws/instance-gpu-name")


def _gpu_hint(pod: Obj) -> str:
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    for key in _GPU_SELECTORS:
        if selector.get(key):
            return normalize_gpu_name(str(selector[key])) or ""
    return ""


def _owner(labels_chain: Sequence[Mapping[str, str]], owner_labels: Sequence[str]) -> str:
    for labels in labels_chain:
        for key in owner_labels:
            if labels.get(key):
                return labels[key]
    return ""


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None


def pod_rows(objects: Mapping[str, Sequence[Obj]], *, cluster: str, owner_labels: Sequence[str]) -> list[PodRow]:
    """Every live GPU pod of one cluster, resolved to the workload an operator would edit."""
    resolver = OwnerResolver(objects)
    rows: list[PodRow] = []
    for pod in objects.get("pods", ()):
        metadata = pod.get("metadata") or {}
        status = pod.get("status") or {}
        phase = status.get("phase", "Unknown")
        container = _engine_container(pod)
        if container is None or phase in _TERMINAL_PHASES or metadata.get("deletionTimestamp"):
            continue
        namespace = metadata.get("namespace", "")
        kind, name, top = resolver.top(namespace, pod)
        argv = _argv(container)
        env = {e.get("name", ""): str(e.get("value", "")) for e in container.get("env") or [] if "value" in e}
        args = parse_engine_args(argv, env)
        image = str(container.get("image", ""))
        gpus = _gpus(container)
        top_labels = ((top or {}).get("metadata") or {}).get("labels") or {}
        labels_chain = [top_labels, metadata.get("labels") or {}, resolver.namespace_labels(namespace)]
        statuses = status.get("containerStatuses") or []
        engine_status = next((s for s in statuses if s.get("name") == container.get("name")), {})
        top_spec = (top or {}).get("spec") or {}
        desired = int(top_spec.get("replicas", 1)) if top is not None else 1
        model = args.get("model") or metadata.get("labels", {}).get("inferops.io/model", "")
        cpu_limit = parse_quantity(_requests(container, "limits").get("cpu"))
        memory_limit = parse_quantity(_requests(container, "limits").get("memory"))
        row = PodRow(
            cluster=cluster,
            namespace=namespace,
            name=metadata.get("name", ""),
            node=(pod.get("spec") or {}).get("nodeName", "") or "",
            phase=phase,
            workload_kind=kind,
            workload=name,
            owner=_owner(labels_chain, owner_labels),
            runtime=runtime_of(image, argv).value,
            model=model,
            image=image,
            container=str(container.get("name", "")),
            gpus=gpus,
            tensor_parallel=_int(args.get("tensor_parallel")) or gpus,
            gpu_memory_utilization=_float(args.get("gpu_memory_utilization")),
            max_model_len=_int(args.get("max_model_len")),
            kv_cache_dtype=args.get("kv_cache_dtype", "auto"),
            quantization=args.get("quantization", ""),
            cpu_request=parse_quantity(_requests(container, "requests").get("cpu")) or cpu_limit or 0.0,
            cpu_limit=cpu_limit,
            memory_request_bytes=parse_quantity(_requests(container, "requests").get("memory")) or memory_limit or 0.0,
            memory_limit_bytes=memory_limit,
            restarts=int(engine_status.get("restartCount", 0)),
            scheduled=bool((pod.get("spec") or {}).get("nodeName")),
            ready=bool(engine_status.get("ready", False)),
            desired_replicas=desired,
            has_autoscaler=resolver.has_autoscaler(namespace, kind, name),
            gpu_hint=_gpu_hint(pod),
            engine_args=tuple(argv),
        )
        rows.append(row)
    return rows
