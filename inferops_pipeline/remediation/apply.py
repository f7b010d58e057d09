"""Apply and roll back approved recommendations: the only code that writes to a cluster (remediator credential)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from inferops_pipeline.domain import Recommendation
from inferops_pipeline.remediation.guards import check_target
from inferops_pipeline.remediation.plan import SUPPORTED_KINDS, strategic_merge, touched, values_in_place
from inferops_pipeline.settings import ConfigError, KubernetesConfig
from inferops_pipeline.sources.errors import one_line
from inferops_pipeline.sources.kubernetes import api_client

ANNOTATION_RECOMMENDATION = "inferops.io/recommendation"
ANNOTATION_APPROVED_BY = "inferops.io/approved-by"
ANNOTATION_ROLLED_BACK = "inferops.io/rolled-back"
FIELD_MANAGER = "inferops-remediator"
EVENT_COMPONENT = "inferops-remediator"

Status = Literal["dry_run_ok", "applied", "noop", "superseded", "failed", "rolled_back"]


class ClusterError(Exception):
    """A cluster call failed (HTTP status or transport); the message is one line."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ClusterWriter(Protocol):
    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]: ...

    def patch(
        self, kind: str, namespace: str, name: str, body: dict[str, Any], *, dry_run: bool, field_manager: str
    ) -> dict[str, Any]: ...

    def create_event(self, namespace: str, body: dict[str, Any]) -> None: ...

    def rollout_ready(self, kind: str, namespace: str, name: str, *, timeout_s: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    status: Status
    detail: str  # one line
    diff: dict[str, Any] = field(default_factory=dict)  # {"before": {path: value}, "after": {path: value}}
    resource_version: str = ""
    events: tuple[str, ...] = ()  # what happened, in order (dry run, patch, event, rollout, rollback)


def _rv(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _annotations(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    return {"before": dict(touched(before, patch)), "after": dict(touched(after, patch))}


def _body(patch: Mapping[str, Any], resource_version: str, annotations: Mapping[str, Any]) -> dict[str, Any]:
    """The spec patch, our annotations and the resourceVersion precondition in ONE strategic-merge patch: the
    server applies all of it or none (409 when anyone wrote since our read), so there is no half-applied state."""
    body = copy.deepcopy(dict(patch))
    # Plain assignment, not strategic_merge: a None annotation must reach the server (it deletes the key there).
    metadata = body.setdefault("metadata", {})
    metadata["resourceVersion"] = resource_version
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
    return body


def _event(
    rec: Recommendation, obj: Mapping[str, Any], *, reason: str, message: str, kind: str = "Normal"
) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{rec.target_name}.", "namespace": rec.namespace},
        "involvedObject": {
            "apiVersion": str(obj.get("apiVersion") or "apps/v1"),
            "kind": rec.target_kind,
            "name": rec.target_name,
            "namespace": rec.namespace,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": one_line(message, limit=1000),
        "type": kind,
        "source": {"component": EVENT_COMPONENT},
        "reportingComponent": EVENT_COMPONENT,
        "reportingInstance": EVENT_COMPONENT,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def _failed(
    step: str, exc: Exception, events: list[str], diff: dict[str, Any] | None = None, rv: str = ""
) -> ApplyOutcome:
    status = getattr(exc, "status", 0)
    code = f"HTTP {status}: " if status else ""
    events.append(f"{step} failed")
    return ApplyOutcome("failed", one_line(f"{step} failed: {code}{exc}"), diff or {}, rv, tuple(events))


def _write(
    rec: Recommendation,
    writer: ClusterWriter,
    current: dict[str, Any],
    patch: Mapping[str, Any],
    annotations: Mapping[str, Any],
    events: list[str],
) -> dict[str, Any]:
    """Server-side dry run, then the real patch; raises on any cluster error (nothing is written before the patch)."""
    body = _body(patch, _rv(current), annotations)
    writer.patch(rec.target_kind, rec.namespace, rec.target_name, body, dry_run=True, field_manager=FIELD_MANAGER)
    events.append("dry run ok")
    result = writer.patch(
        rec.target_kind, rec.namespace, rec.target_name, body, dry_run=False, field_manager=FIELD_MANAGER
    )
    events.append(f"patched (resourceVersion {_rv(result)})")
    return result


def _emit(
    writer: ClusterWriter, rec: Recommendation, obj: Mapping[str, Any], reason: str, message: str, events: list[str]
) -> None:
    # The change is made and annotated already; a missing Event is worth noting, not worth failing (or undoing) it.
    try:
        writer.create_event(rec.namespace, _event(rec, obj, reason=reason, message=message))
        events.append(f"event {reason}")
    except Exception as exc:  # noqa: BLE001 - any writer failure, including transport errors
        events.append(one_line(f"event {reason} not recorded: {exc}", limit=200))


def apply_recommendation(
    rec: Recommendation,
    *,
    writer: ClusterWriter,
    approver: str,
    reason: str,
    dry_run: bool,
    wait_ready_s: float = 0,
) -> ApplyOutcome:
    """precondition → server-side dry run → patch (+ annotations, one request) → Event → optional rollout wait with
    automatic rollback. Idempotent; never raises for cluster errors (status `failed`, one-line detail)."""
    events: list[str] = []
    try:
        current = writer.get(rec.target_kind, rec.namespace, rec.target_name)
    except Exception as exc:  # noqa: BLE001 - a writer may raise anything for a cluster failure
        return _failed("read target", exc, events)
    rv = _rv(current)
    if _annotations(current).get(ANNOTATION_RECOMMENDATION) == rec.recommendation_id and values_in_place(
        current, rec.patch
    ):
        return ApplyOutcome(
            "noop",
            "already applied: the target carries this recommendation and its values",
            {},
            rv,
            ("already applied",),
        )
    target = check_target(rec, current)
    if not target.allowed:
        return ApplyOutcome(
            "superseded",
            one_line("; ".join(target.reasons)),
            _diff(current, current, rec.patch),
            rv,
            ("target changed",),
        )
    annotations = {ANNOTATION_RECOMMENDATION: rec.recommendation_id, ANNOTATION_APPROVED_BY: approver}
    body = _body(rec.patch, rv, annotations)
    expected = strategic_merge(current, rec.patch)
    diff = _diff(current, expected, rec.patch)
    if dry_run:
        try:
            answer = writer.patch(
                rec.target_kind, rec.namespace, rec.target_name, body, dry_run=True, field_manager=FIELD_MANAGER
            )
        except Exception as exc:  # noqa: BLE001
            return _failed("dry run", exc, events, diff, rv)
        return ApplyOutcome(
            "dry_run_ok",
            "the API server accepted the patch (dryRun=All); nothing changed",
            _diff(current, answer, rec.patch),
            rv,
            ("dry run ok",),
        )
    try:
        result = _write(rec, writer, current, rec.patch, annotations, events)
    except Exception as exc:  # noqa: BLE001
        return _failed("apply", exc, events, diff, rv)
    new_rv = _rv(result)
    diff = _diff(current, result, rec.patch)
    message = f"{rec.action} {rec.recommendation_id} approved by {approver}: {reason}. {rec.rationale}"
    _emit(writer, rec, result, "InferopsRemediationApplied", message, events)
    if wait_ready_s > 0:
        try:
            ready = writer.rollout_ready(rec.target_kind, rec.namespace, rec.target_name, timeout_s=wait_ready_s)
        except Exception as exc:  # noqa: BLE001
            ready, events = False, [*events, one_line(f"rollout check failed: {exc}", limit=200)]
        if not ready:
            events.append(f"rollout not ready within {wait_ready_s:g} s")
            back = rollback_recommendation(
                rec, writer=writer, actor=FIELD_MANAGER, reason=f"rollout not ready within {wait_ready_s:g} s"
            )
            events.extend(back.events)
            if back.status == "rolled_back":
                return ApplyOutcome(
                    "rolled_back",
                    f"rollout not ready within {wait_ready_s:g} s; inverse applied",
                    diff,
                    back.resource_version,
                    tuple(events),
                )
            return ApplyOutcome(
                "failed",
                one_line(f"rollout not ready within {wait_ready_s:g} s and rollback {back.status}: {back.detail}"),
                diff,
                new_rv,
                tuple(events),
            )
        events.append("rollout ready")
    return ApplyOutcome(
        "applied", f"{rec.action} applied to {rec.namespace}/{rec.target_name}", diff, new_rv, tuple(events)
    )


def rollback_recommendation(rec: Recommendation, *, writer: ClusterWriter, actor: str, reason: str) -> ApplyOutcome:
    """Apply the stored inverse patch, only while the target still carries the values the recommendation set
    (anyone's later change wins: superseded). Removes our annotations; noop when already rolled back."""
    events: list[str] = []
    try:
        current = writer.get(rec.target_kind, rec.namespace, rec.target_name)
    except Exception as exc:  # noqa: BLE001
        return _failed("read target", exc, events)
    rv = _rv(current)
    if values_in_place(current, rec.inverse_patch):
        return ApplyOutcome(
            "noop",
            "nothing to roll back: the target has the values from before the change",
            {},
            rv,
            ("already rolled back",),
        )
    if not values_in_place(current, rec.patch):
        return ApplyOutcome(
            "superseded",
            "the target changed after the recommendation was applied; not rolling back",
            _diff(current, current, rec.patch),
            rv,
            ("target changed",),
        )
    annotations = {
        ANNOTATION_RECOMMENDATION: None,
        ANNOTATION_APPROVED_BY: None,
        ANNOTATION_ROLLED_BACK: rec.recommendation_id,
    }
    try:
        result = _write(rec, writer, current, rec.inverse_patch, annotations, events)
    except Exception as exc:  # noqa: BLE001
        return _failed(
            "rollback", exc, events, _diff(current, strategic_merge(current, rec.inverse_patch), rec.inverse_patch), rv
        )
    _emit(
        writer,
        rec,
        result,
        "InferopsRemediationRolledBack",
        f"{rec.recommendation_id} rolled back by {actor}: {reason}",
        events,
    )
    return ApplyOutcome(
        "rolled_back",
        f"inverse of {rec.recommendation_id} applied",
        _diff(current, result, rec.inverse_patch),
        _rv(result),
        tuple(events),
    )


# --------------------------------------------------------------------------------------------- live cluster

# Kind or plural → plural, both spellings reach the writer (recommendations name the kind).
_PLURALS = {**SUPPORTED_KINDS, **{plural: plural for plural in SUPPORTED_KINDS.values()}}


class LiveClusterWriter:
    """The official kubernetes client with the remediator credential: get/patch on Deployments and StatefulSets
    (strategic merge: a dict body), Events, rollout readiness. Errors become ClusterError with one line."""

    def __init__(self, config: KubernetesConfig, *, poll_s: float = 2.0) -> None:
        self.config = config
        self.poll_s = poll_s
        self._client: Any = None

    def _api(self) -> Any:
        if self._client is None:
            self._client = api_client(self.config, role="remediator", implicit=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def _timeout(self) -> tuple[float, float]:
        return (self.config.connect_timeout_s, self.config.timeout_s)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        try:
            # Raw JSON, not the client's strict models: fields the models do not know survive, like kubectl.
            response = method(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            try:
                data: dict[str, Any] = json.loads(response.data)
            finally:
                response.release_conn()
            return data
        except ApiException as exc:
            message = exc.reason or ""
            with suppress(TypeError, ValueError, AttributeError):  # a proxy's HTML or an empty body
                message = json.loads(exc.body or "").get("message") or message
            raise ClusterError(one_line(message, limit=240), status=int(exc.status or 0)) from None
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - urllib3 timeouts/connection errors arrive as their own types
            raise ClusterError(one_line(f"{type(exc).__name__}: {exc}", limit=240)) from None

    def _apps(self) -> Any:
        from kubernetes import client as k8s_client

        return k8s_client.AppsV1Api(self._api())

    def _method(self, verb: str, kind: str) -> Any:
        plural = _PLURALS.get(kind)
        if plural is None:
            raise ClusterError(f"kind {kind!r} is not supported (Deployment, StatefulSet)")
        suffix = "deployment" if plural == "deployments" else "stateful_set"
        return getattr(self._apps(), f"{verb}_namespaced_{suffix}")

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return self._call(self._method("read", kind), name, namespace)

    def patch(
        self, kind: str, namespace: str, name: str, body: dict[str, Any], *, dry_run: bool, field_manager: str
    ) -> dict[str, Any]:
        # A dict body is sent as application/strategic-merge-patch+json by the client (DESIGN §6).
        extra = {"dry_run": "All"} if dry_run else {}
        return self._call(self._method("patch", kind), name, namespace, body, field_manager=field_manager, **extra)

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        from kubernetes import client as k8s_client

        self._call(k8s_client.CoreV1Api(self._api()).create_namespaced_event, namespace, body)

    def rollout_ready(self, kind: str, namespace: str, name: str, *, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            if rollout_complete(self.get(kind, namespace, name)):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(self.poll_s, max(0.0, deadline - time.monotonic())))


def rollout_complete(obj: Mapping[str, Any]) -> bool:
    """kubectl rollout status: the controller saw the new generation and every desired replica is updated and ready."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    if (
        obj.get("kind") == "StatefulSet"
        and status.get("updateRevision")
        and status.get("currentRevision") != status.get("updateRevision")
    ):
        return False
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    total = int(status.get("replicas") or 0)
    return updated >= desired and ready >= desired and total <= desired
