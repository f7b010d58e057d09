"""Pod → the object an operator edits: Deployment (via ReplicaSet), StatefulSet, LeaderWorkerSet, KServe, Job, Pod (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]

LWS_NAME = "leaderworkerset.sigs.k8s.io/name"
LWS_WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"
KSERVE_ISVC = "serving.kserve.io/inferenceservice"
LLMD_ROLE = "llm-d.ai/role"
_KINDS_BY_LIST = {
    "replicasets": "ReplicaSet",
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "leaderworkersets": "LeaderWorkerSet",
    "inferenceservices": "InferenceService",
    "llminferenceservices": "LLMInferenceService",
}
# Objects whose spec.replicas / status.readyReplicas describe the pods directly.
_SCALABLE = ("ReplicaSet", "Deployment", "StatefulSet", "LeaderWorkerSet")


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Obj) -> Mapping[str, str]:
    return _meta(obj).get("labels") or {}


def _controller(obj: Obj) -> tuple[str, str] | None:
    refs = [r for r in _meta(obj).get("ownerReferences") or [] if isinstance(r, Mapping)]
    chosen = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    return (str(chosen.get("kind", "")), str(chosen.get("name", ""))) if chosen else None


def _int(value: Any, default: int | None) -> int | None:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True, slots=True)
class Owner:
    """Where a pod belongs: the workload's kind/name, the objects on the way, and what they say about replicas."""

    kind: str
    name: str
    top: Obj | None  # the workload object when it was listed
    chain: tuple[tuple[str, str], ...]  # every (kind, name) from the pod's controller upwards
    desired: int | None  # None: no object tells (denied / not listed); count the pods instead
    ready: int | None
    pods_per_replica: int
    platform: str  # kserve | llm-d | vllm-production-stack | ""
    role: str  # prefill | decode | both | leader | worker | ""

    @property
    def labels(self) -> Mapping[str, str]:
        return _labels(self.top) if self.top is not None else {}


class OwnerResolver:
    """Walks ownerReferences (and the LWS / KServe pod labels controllers set) to the workload an operator edits."""

    def __init__(self, objects: Mapping[str, Sequence[Obj]]) -> None:
        self._by_kind: dict[str, dict[tuple[str, str], Obj]] = {
            kind: {(_meta(o).get("namespace", ""), _meta(o).get("name", "")): o for o in objects.get(plural, ())}
            for plural, kind in _KINDS_BY_LIST.items()
        }
        self._namespaces = {_meta(o).get("name", ""): o for o in objects.get("namespaces", ())}
        self._scaled: set[tuple[str, str, str]] = set()
        for hpa in objects.get("horizontalpodautoscalers", ()):
            target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            self._scaled.add(
                (_meta(hpa).get("namespace", ""), str(target.get("kind", "")), str(target.get("name", "")))
            )

    def find(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self._by_kind.get(kind, {}).get((namespace, name))

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        return _labels(self._namespaces.get(namespace) or {})

    def _walk(self, namespace: str, start: Obj, chain: list[tuple[str, str]]) -> tuple[str, str, Obj | None]:
        kind, name, current = "", "", None
        node: Obj = start
        for _ in range(6):  # owner chains are short; the bound guards against reference cycles
            ref = _controller(node)
            if ref is None:
                break
            kind, name = ref
            found = self.find(kind, namespace, name)
            if found is None and kind == "ReplicaSet":
                # ReplicaSets unreadable (denied): `<deployment>-<pod-template-hash>` still names the Deployment.
                template_hash = _labels(start).get("pod-template-hash", "")
                if template_hash and name.endswith(f"-{template_hash}"):
                    chain.append((kind, name))
                    kind, name = "Deployment", name[: -len(template_hash) - 1]
                    found = self.find(kind, namespace, name)
            chain.append((kind, name))
            if found is None:
                break
            node, current = found, found
        return kind, name, current

    def resolve(self, pod: Obj) -> Owner:
        namespace = _meta(pod).get("namespace", "")
        labels = _labels(pod)
        chain: list[tuple[str, str]] = []
        kind, name, top = self._walk(namespace, pod, chain)
        if not kind:
            kind, name = "Pod", _meta(pod).get("name", "")
        nearest = next(
            (self.find(k, namespace, n) for k, n in chain if k in _SCALABLE and self.find(k, namespace, n)), None
        )
        role = labels.get(LLMD_ROLE, "")
        pods_per_replica = 1
        if labels.get(LWS_NAME) and kind not in ("LeaderWorkerSet", "LLMInferenceService"):
            # LWS worker pods are owned by a StatefulSet owned by the leader *pod*; the label names the group's owner.
            lws = self.find("LeaderWorkerSet", namespace, labels[LWS_NAME])
            kind, name, top = "LeaderWorkerSet", labels[LWS_NAME], lws
            chain.append((kind, name))
            if lws is not None:
                up_kind, up_name, up = self._walk(namespace, lws, chain)
                if up_kind == "LLMInferenceService":
                    kind, name, top = up_kind, up_name, up
        lws_obj = self.find("LeaderWorkerSet", namespace, labels.get(LWS_NAME, "")) if labels.get(LWS_NAME) else None
        if lws_obj is not None:
            nearest = lws_obj
            template = (lws_obj.get("spec") or {}).get("leaderWorkerTemplate") or {}
            pods_per_replica = _int(template.get("size"), 1) or 1
        if labels.get(LWS_NAME) and not role:
            role = "leader" if labels.get(LWS_WORKER_INDEX, "0") == "0" else "worker"
        if labels.get(KSERVE_ISVC) and kind != "InferenceService":
            # Knative/raw-deployment plumbing sits between; the InferenceService is what an operator edits.
            kind, name = "InferenceService", labels[KSERVE_ISVC]
            top = self.find(kind, namespace, name)
            chain.append((kind, name))
        if kind != "LLMInferenceService" and labels.get("app.kubernetes.io/part-of") == "llminferenceservice":
            isvc_name = labels.get("app.kubernetes.io/name", "")
            if isvc_name:
                kind, name, top = (
                    "LLMInferenceService",
                    isvc_name,
                    self.find("LLMInferenceService", namespace, isvc_name),
                )
                chain.append((kind, name))
        desired, ready = self._replicas(kind, top, nearest, role)
        if kind == "LLMInferenceService" and (
            role == "prefill" or "prefill" in labels.get("app.kubernetes.io/component", "")
        ):
            # Prefill pods have their own replica count and GPU shape: a separate workload row.
            name, role = f"{name}:prefill", "prefill"
        return Owner(
            kind=kind,
            name=name,
            top=top,
            chain=tuple(chain),
            desired=desired,
            ready=ready,
            pods_per_replica=pods_per_replica,
            platform=self._platform(kind, labels, top),
            role=role,
        )

    def _replicas(self, kind: str, top: Obj | None, nearest: Obj | None, role: str) -> tuple[int | None, int | None]:
        if kind == "Pod":
            return 1, None
        if kind == "LLMInferenceService" and top is not None:
            spec = top.get("spec") or {}
            if role == "prefill":
                return _int((spec.get("prefill") or {}).get("replicas"), 1), None
            return _int(spec.get("replicas"), 1), None
        if kind == "DaemonSet" and top is not None:
            status = top.get("status") or {}
            return _int(status.get("desiredNumberScheduled"), None), _int(status.get("numberReady"), None)
        if nearest is not None:
            spec, status = nearest.get("spec") or {}, nearest.get("status") or {}
            # An absent spec.replicas means 1 (the API default); status fields are absent when zero.
            return _int(spec.get("replicas"), 1), _int(status.get("readyReplicas"), 0)
        if kind == "InferenceService" and top is not None:
            predictor = (top.get("spec") or {}).get("predictor") or {}
            return _int(predictor.get("minReplicas"), 1), None
        return None, None

    def has_autoscaler(self, namespace: str, owner: Owner) -> bool:
        if any((namespace, k, n) in self._scaled for k, n in ((owner.kind, owner.name), *owner.chain)):
            return True
        if owner.kind == "InferenceService" and owner.top is not None:
            predictor = (owner.top.get("spec") or {}).get("predictor") or {}
            low, high = _int(predictor.get("minReplicas"), 1), _int(predictor.get("maxReplicas"), 0)
            # Serverless InferenceServices scale through Knative's autoscaler, which creates no HPA.
            return bool(high and low is not None and high > low)
        return False

    @staticmethod
    def _platform(kind: str, labels: Mapping[str, str], top: Obj | None) -> str:
        if kind in ("InferenceService", "LLMInferenceService"):
            return "kserve"
        if any(key.startswith("llm-d.ai/") for key in labels):
            return "llm-d"
        if labels.get("helm-release-name") and labels.get("model"):
            return "vllm-production-stack"
        return ""
