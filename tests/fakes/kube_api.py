"""A small stateful fake Kubernetes API server over real HTTP (stdlib only), for tests and benches.

It serves kubectl-shaped objects at the real REST paths, so the official `kubernetes` client talks to it through
an ordinary kubeconfig. Supported: LIST with limit/continue (410 when a token is expired), labelSelector and
simple fieldSelector, GET, POST, PUT, DELETE, PATCH (strategic-merge on name-keyed lists for built-in kinds,
merge-patch, JSON patch), the /scale subresource, `dryRun=All`, resourceVersion preconditions (409), strict
schema validation of written built-in objects through the client's models (422), CRDs that are not installed
(404), and injected faults: 403 / 5xx / slow responses per resource.

Run it standalone (bench/): `python tests/fakes/kube_api.py --synthetic 5000 600` prints `URL http://…` and serves
until stdin closes.
"""

from __future__ import annotations

import base64
import copy
import json
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    group: str  # "" for the core API
    version: str
    namespaced: bool = True
    crd: bool = False  # served only when installed
    scale: bool = False  # has the /scale subresource

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def model(self) -> str | None:
        """The client model class validating this kind (built-in kinds only)."""
        if self.crd:
            return None
        if self.group == "events.k8s.io":
            return "EventsV1Event"
        if self.kind == "Event":
            return "CoreV1Event"
        return f"{self.version.upper()[:2]}{self.kind}" if self.version == "v2" else f"V1{self.kind}"


RESOURCES: tuple[Resource, ...] = (
    Resource("nodes", "Node", "", "v1", namespaced=False),
    Resource("namespaces", "Namespace", "", "v1", namespaced=False),
    Resource("pods", "Pod", "", "v1"),
    Resource("events", "Event", "", "v1"),
    Resource("configmaps", "ConfigMap", "", "v1"),
    Resource("secrets", "Secret", "", "v1"),
    Resource("deployments", "Deployment", "apps", "v1", scale=True),
    Resource("statefulsets", "StatefulSet", "apps", "v1", scale=True),
    Resource("replicasets", "ReplicaSet", "apps", "v1", scale=True),
    Resource("daemonsets", "DaemonSet", "apps", "v1"),
    Resource("jobs", "Job", "batch", "v1"),
    Resource("horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling", "v2"),
    Resource("events", "Event", "events.k8s.io", "v1"),
    Resource("leaderworkersets", "LeaderWorkerSet", "leaderworkerset.x-k8s.io", "v1", crd=True, scale=True),
    Resource("inferenceservices", "InferenceService", "serving.kserve.io", "v1beta1", crd=True),
    Resource("llminferenceservices", "LLMInferenceService", "serving.kserve.io", "v1alpha1", crd=True),
    Resource("llminferenceservices", "LLMInferenceService", "serving.kserve.io", "v1alpha2", crd=True),
)
_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}

# Strategic-merge patch keys of the lists that merge by a field instead of being replaced (k8s.io/api tags).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "resourceClaims": "name",
    "ownerReferences": "uid",
    "hostAliases": "ip",
}
_PRIMITIVE_MERGE = {"finalizers"}


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


@dataclass
class Fault:
    """An injected misbehaviour for requests on one resource plural ("*" = all) and HTTP method ("*" = all)."""

    plural: str
    method: str = "GET"
    status: int | None = None  # answer this instead of serving
    delay_s: float = 0.0  # wait this long first (a read timeout on the client side)
    times: int | None = None  # None = forever
    retry_after: float | None = None
    after: int = 0  # let this many matching requests through first (e.g. fail the second page)

    def matches(self, plural: str, method: str) -> bool:
        return (self.plural in ("*", plural)) and (self.method in ("*", method)) and self.times != 0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str
    content_type: str
    body: Any = None


# --------------------------------------------------------------------------------------------------- selectors


def _split_selector(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


Labels = Mapping[str, str]


def _label_test(term: str) -> Callable[[Labels], bool]:
    words = term.split()
    if len(words) >= 3 and words[1] in ("in", "notin"):
        key, values = words[0], {v.strip() for v in " ".join(words[2:]).strip("()").split(",") if v.strip()}
        if words[1] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: key not in labels or labels[key] not in values
    if "!=" in term:
        key, value = (s.strip() for s in term.split("!=", 1))
        return lambda labels: labels.get(key) != value
    if "=" in term:
        key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
        return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        absent = term[1:].strip()
        return lambda labels: absent not in labels
    return lambda labels: term in labels


def label_matcher(selector: str) -> Callable[[Labels], bool]:
    """A predicate over label maps for the Kubernetes label-selector grammar (=, ==, !=, in, notin, exists, !)."""
    tests = [_label_test(term) for term in _split_selector(selector)]
    return lambda labels: all(test(labels) for test in tests)


def _dotted(obj: Obj, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _field_test(term: str) -> Callable[[Obj], bool]:
    negate = "!=" in term
    key, value = (s.strip() for s in term.replace("!=", "=").replace("==", "=").split("=", 1))
    return lambda obj: (_dotted(obj, key) == value) != negate


def field_matcher(selector: str) -> Callable[[Obj], bool]:
    """metadata.name=x, spec.nodeName=n, status.phase!=Succeeded: any dotted path, = / == / !=."""
    tests = [_field_test(term) for term in _split_selector(selector)]
    return lambda obj: all(test(obj) for test in tests)


# --------------------------------------------------------------------------------------------------- patches


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, field_name: str = "") -> Any:
    """Kubernetes strategic merge: maps merge, null deletes, lists in MERGE_KEYS merge by key, `$patch` directives."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") == "delete":
            return None
        result = dict(target) if isinstance(target, dict) else {}
        retain = patch.get("$retainKeys")
        for key, value in patch.items():
            if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
                continue
            if key.startswith("$deleteFromPrimitiveList/"):
                name = key.split("/", 1)[1]
                result[name] = [v for v in result.get(name) or [] if v not in value]
                continue
            if value is None:
                result.pop(key, None)
                continue
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        if isinstance(retain, list):
            result = {k: v for k, v in result.items() if k in retain}
        return result
    if isinstance(patch, list):
        key = MERGE_KEYS.get(field_name)
        if field_name in _PRIMITIVE_MERGE and isinstance(target, list):
            return list(target) + [v for v in patch if v not in target]
        if key is None or not isinstance(target, list):
            return [strategic_merge_patch(None, item) if isinstance(item, dict) else item for item in patch]
        result_list = [copy.deepcopy(item) for item in target]
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                raise ApiError(422, "Invalid", f"{field_name}: list item without merge key {key!r}")
            index = next((i for i, old in enumerate(result_list) if old.get(key) == item[key]), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    result_list.pop(index)
                continue
            if index is None:
                result_list.append(strategic_merge_patch(None, item))
            else:
                result_list[index] = strategic_merge_patch(result_list[index], item)
        return result_list
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"json patch path {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(target: Obj, operations: Sequence[Mapping[str, Any]]) -> Obj:
    """RFC 6902 add / remove / replace / test / move / copy."""
    doc = copy.deepcopy(target)

    def parent(parts: list[str]) -> tuple[Any, str]:
        node: Any = doc
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node, parts[-1]

    def get(path: str) -> Any:
        node: Any = doc
        for part in _pointer(path):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    for op in operations:
        kind, path = op.get("op"), str(op.get("path", ""))
        try:
            if kind == "test":
                if get(path) != op.get("value"):
                    raise ApiError(422, "Invalid", f"json patch test failed at {path}")
                continue
            value = copy.deepcopy(get(str(op["from"]))) if kind in ("move", "copy") else op.get("value")
            if kind == "move":
                holder, last = parent(_pointer(str(op["from"])))
                holder.pop(int(last)) if isinstance(holder, list) else holder.pop(last)
            holder, last = parent(_pointer(path))
            if kind in ("add", "move", "copy"):
                if isinstance(holder, list):
                    holder.insert(len(holder) if last == "-" else int(last), value)
                else:
                    holder[last] = value
            elif kind == "replace":
                if isinstance(holder, list):
                    holder[int(last)] = value
                else:
                    if last not in holder:
                        raise KeyError(last)
                    holder[last] = value
            elif kind == "remove":
                holder.pop(int(last)) if isinstance(holder, list) else holder.pop(last)
            else:
                raise ApiError(422, "Invalid", f"json patch op {kind!r} is not supported")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, "Invalid", f"json patch {kind} {path}: {exc!r}") from None
    return doc


# --------------------------------------------------------------------------------------------------- server


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubeApi(ThreadingHTTPServer):
    """The fake API server; use as a context manager (`with FakeKubeApi(objects) as api:`) or start()/stop()."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        objects: Mapping[str, Sequence[Obj]] | None = None,
        *,
        crds: Sequence[str] | None = None,
        validate: bool = False,
        user: str = "system:serviceaccount:inferops:scanner",
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.RLock()
        self.store: dict[str, dict[tuple[str, str], Obj]] = {r.plural: {} for r in RESOURCES}
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.user = user
        self.rv = 1000
        self.expired_before = 0  # continue tokens minted before this resourceVersion get 410
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        objects = objects or {}
        # A CRD is installed when named, or when objects of it are seeded.
        self.crds = set(crds) if crds is not None else {p for p, items in objects.items() if items}
        for plural, items in objects.items():
            for item in items:
                self.put(plural, item, validate=validate)

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeKubeApi:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in an injected delay
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeKubeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow response leaves a broken pipe behind: expected, not news.
        pass

    # ------------------------------------------------------------------ state
    def put(self, plural: str, obj: Obj, *, validate: bool = False) -> Obj:
        """Store an object as-is (metadata filled in), bypassing HTTP: how tests seed and mutate the cluster."""
        resource = self.resource_for(plural, obj.get("apiVersion"))
        item = copy.deepcopy(obj)
        item.setdefault("apiVersion", resource.api_version)
        item.setdefault("kind", resource.kind)
        meta = item.setdefault("metadata", {})
        if resource.namespaced:
            meta.setdefault("namespace", "default")
        meta.setdefault(
            "uid", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{plural}/{meta.get('namespace', '')}/{meta['name']}"))
        )
        meta.setdefault("creationTimestamp", _now())
        if validate:
            self.validate(resource, item)
        with self.lock:
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            self.store[plural][(meta.get("namespace", ""), meta["name"])] = item
        return item

    def get(self, plural: str, name: str, namespace: str = "") -> Obj:
        """A copy of a stored object; KeyError when there is none."""
        with self.lock:
            return copy.deepcopy(self.store[plural][(namespace, name)])

    def objects(self, plural: str) -> list[Obj]:
        with self.lock:
            return [copy.deepcopy(o) for _, o in sorted(self.store[plural].items())]

    def resource_for(self, plural: str, api_version: str | None = None) -> Resource:
        candidates = [r for r in RESOURCES if r.plural == plural]
        if api_version:
            exact = [r for r in candidates if r.api_version == api_version]
            candidates = exact or candidates
        if not candidates:
            raise KeyError(f"fake API server does not know resource {plural!r}")
        return candidates[0]

    @staticmethod
    def validate(resource: Resource, obj: Obj) -> None:
        """Strict schema check through the official client's models (built-in kinds), like apiserver validation."""
        if resource.model is None:
            return
        from kubernetes.client import ApiClient

        try:
            ApiClient().deserialize(json.dumps(obj), resource.model, "application/json")
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            first = " ".join(str(exc).split())[:300]
            raise ApiError(
                422, "Invalid", f"{resource.kind} {obj.get('metadata', {}).get('name')!r} is invalid: {first}"
            ) from None

    # ------------------------------------------------------------------ faults
    def inject(self, plural: str = "*", **kwargs: Any) -> Fault:
        fault = Fault(plural, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def deny(self, plural: str, *, method: str = "*") -> Fault:
        """RBAC says no (403) for every request on `plural`."""
        return self.inject(plural, method=method, status=403)

    def fail(self, plural: str, status: int = 500, *, times: int | None = 1, retry_after: float | None = None) -> Fault:
        return self.inject(plural, status=status, times=times, retry_after=retry_after)

    def slow(self, plural: str, delay_s: float, *, times: int | None = None) -> Fault:
        return self.inject(plural, delay_s=delay_s, times=times)

    def expire_continue_tokens(self) -> None:
        """Like etcd compaction: every continue token minted so far now gets 410 Expired."""
        with self.lock:
            self.rv += 1
            self.expired_before = self.rv

    def _fault_for(self, plural: str, method: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(plural, method):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def count(self, path: str, method: str = "GET") -> int:
        return sum(1 for r in self.requests if r.path == path and r.method == method)

    # ------------------------------------------------------------------ kubeconfig
    def kubeconfig(self, path: Path, *, context: str = "fake", token: str = "fake-token") -> Path:
        return write_kubeconfig(path, {context: self.url}, token=token)

    # ------------------------------------------------------------------ request handling
    def dispatch(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Obj]:
        route = _route(path)
        if route is None:
            if path in ("/version", "/version/"):
                return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.1-fake"}
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        resource, namespace, name, subresource = route
        if resource.crd and resource.plural not in self.crds:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        fault = self._fault_for(resource.plural, method)
        if fault is not None:
            if fault.delay_s and self._stopping.wait(fault.delay_s):
                raise ApiError(503, "ServiceUnavailable", "shutting down")
            if fault.status == 403:
                verb = {"GET": "list" if not name else "get", "POST": "create", "PUT": "update", "PATCH": "patch"}.get(
                    method, method.lower()
                )
                group = f' in API group "{resource.group}"' if resource.group else ' in API group ""'
                scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
                qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{qualified} is forbidden: User "{self.user}" cannot {verb} resource "{resource.plural}"{group}{scope}',
                )
            if fault.status == 410:
                raise ApiError(
                    410, "Expired", "The provided continue parameter is too old to display a consistent list result."
                )
            if fault.status is not None:
                error = ApiError(fault.status, "InternalError" if fault.status >= 500 else "TooManyRequests",
                                 "etcdserver: request timed out" if fault.status >= 500 else "too many requests")  # fmt: skip
                error.retry_after = fault.retry_after  # type: ignore[attr-defined]
                raise error
        dry_run = query.get("dryRun", [""])[0]
        if dry_run not in ("", "All"):
            raise ApiError(400, "BadRequest", f"Invalid dry run value {dry_run!r}: allowed values: All")
        if method == "GET" and name is None:
            return 200, self._list(resource, namespace, query)
        if name is None:
            if method == "POST":
                return 201, self._create(resource, namespace, body, dry_run=bool(dry_run))
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on a collection")
        if subresource == "scale":
            return self._scale(resource, namespace, name, method, body, dry_run=bool(dry_run))
        if subresource is not None:
            raise ApiError(404, "NotFound", f"subresource {subresource!r} not served by the fake")
        ns = namespace or ""
        if method == "GET":
            return 200, self._existing(resource, ns, name)
        if method == "DELETE":
            current = self._existing(resource, ns, name)
            if not dry_run:
                with self.lock:
                    self.store[resource.plural].pop((ns, name), None)
            return 200, current
        if method in ("PUT", "PATCH"):
            return 200, self._update(resource, namespace, name, method, body, query, dry_run=bool(dry_run))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    def _existing(self, resource: Resource, namespace: str, name: str) -> Obj:
        with self.lock:
            found = self.store[resource.plural].get((namespace, name))
            if found is None:
                qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
                raise ApiError(404, "NotFound", f'{qualified} "{name}" not found')
            return copy.deepcopy(found)

    def _list(self, resource: Resource, namespace: str | None, query: dict[str, list[str]]) -> Obj:
        labels = label_matcher(query["labelSelector"][0]) if query.get("labelSelector") else None
        fields = field_matcher(query["fieldSelector"][0]) if query.get("fieldSelector") else None
        limit = int(query.get("limit", ["0"])[0] or 0)
        token = query.get("continue", [""])[0]
        with self.lock:
            if token:
                try:
                    state = json.loads(base64.urlsafe_b64decode(token.encode()))
                    start, list_rv = tuple(state["start"]), int(state["rv"])
                except (ValueError, KeyError, TypeError):
                    raise ApiError(400, "BadRequest", "continue key is not valid") from None
                if list_rv < self.expired_before:
                    raise ApiError(
                        410,
                        "Expired",
                        "The provided continue parameter is too old to display a consistent list result. You can "
                        "start a new list without the continue parameter.",
                    )
            else:
                start, list_rv = ("", ""), self.rv
            keys = sorted(k for k in self.store[resource.plural] if namespace is None or k[0] == namespace)
            selected = []
            for key in keys:
                if token and key < start:
                    continue
                obj = self.store[resource.plural][key]
                if labels is not None and not labels((obj.get("metadata") or {}).get("labels") or {}):
                    continue
                if fields is not None and not fields(obj):
                    continue
                selected.append((key, obj))
            page = selected[:limit] if limit else selected
            rest = selected[len(page) :]
            # Built-in list responses carry apiVersion/kind on the List only; custom resources keep them per item.
            items = [
                obj if resource.crd else {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
                for _, obj in page
            ]
            body = json.loads(json.dumps(items))
        metadata: Obj = {"resourceVersion": str(list_rv)}
        if rest:
            metadata["continue"] = base64.urlsafe_b64encode(
                json.dumps({"start": list(rest[0][0]), "rv": list_rv}).encode()
            ).decode()
            metadata["remainingItemCount"] = len(rest)
        return {"apiVersion": resource.api_version, "kind": f"{resource.kind}List", "metadata": metadata, "items": body}

    def _create(self, resource: Resource, namespace: str | None, body: Any, *, dry_run: bool) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "request body must be a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        if not meta.get("name"):
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        if resource.namespaced:
            if meta.get("namespace", namespace) != namespace:
                raise ApiError(
                    400, "BadRequest", "the namespace of the object does not match the namespace on the request"
                )
            meta["namespace"] = namespace
        key = (meta.get("namespace", ""), meta["name"])
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        if "spec" in obj:
            meta.setdefault("generation", 1)
        self.validate(resource, obj)
        with self.lock:
            if key in self.store[resource.plural]:
                raise ApiError(409, "AlreadyExists", f'{resource.plural} "{meta["name"]}" already exists')
            if dry_run:
                return obj
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            self.store[resource.plural][key] = obj
            return copy.deepcopy(obj)

    def _update(
        self, resource: Resource, namespace: str | None, name: str, method: str, body: Any, query: Any, *, dry_run: bool
    ) -> Obj:
        ns = namespace or ""
        with self.lock:
            current = self._existing(resource, ns, name)
            content_type = query.get("__content_type", [""])[0]
            wanted_rv = None
            if method == "PUT":
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "request body must be a JSON object")
                updated = copy.deepcopy(body)
                wanted_rv = (updated.get("metadata") or {}).get("resourceVersion")
            elif content_type.startswith("application/strategic-merge-patch+json"):
                if resource.crd:
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        f"the body of the request was in an unknown format - accepted media types include: "
                        f"application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml "
                        f"(strategic merge patch is not supported for {resource.kind})",
                    )
                wanted_rv = (
                    ((body or {}).get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
                )
                updated = strategic_merge_patch(current, body)
            elif content_type.startswith("application/merge-patch+json"):
                wanted_rv = (
                    ((body or {}).get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
                )
                updated = merge_patch(current, body)
            elif content_type.startswith("application/json-patch+json"):
                if not isinstance(body, list):
                    raise ApiError(400, "BadRequest", "json patch body must be a list of operations")
                updated = json_patch(current, body)
            else:
                raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {content_type!r}")
            meta = current["metadata"]
            if "status" in current:
                # Kinds with a status subresource ignore status in writes to the main resource.
                updated["status"] = copy.deepcopy(current["status"])
            if wanted_rv is not None and str(wanted_rv) != meta.get("resourceVersion"):
                raise ApiError(
                    409,
                    "Conflict",
                    f"Operation cannot be fulfilled on {resource.plural}{'.' + resource.group if resource.group else ''} "
                    f'"{name}": the object has been modified; please apply your changes to the latest version and '
                    f"try again",
                )
            new_meta = updated.setdefault("metadata", {})
            for immutable in ("name", "namespace", "uid", "creationTimestamp"):
                if immutable in meta:
                    new_meta[immutable] = meta[immutable]
            updated["apiVersion"], updated["kind"] = current.get("apiVersion"), current.get("kind")
            if updated.get("spec") != current.get("spec") and "generation" in meta:
                new_meta["generation"] = int(meta["generation"]) + 1
            self.validate(resource, updated)
            if dry_run:
                new_meta["resourceVersion"] = meta.get("resourceVersion")
                return updated
            new_meta["resourceVersion"] = meta.get("resourceVersion")
            if updated == current:
                return updated  # a no-op write does not bump the resourceVersion, like the apiserver
            self.rv += 1
            new_meta["resourceVersion"] = str(self.rv)
            self.store[resource.plural][(ns, name)] = updated
            return copy.deepcopy(updated)

    def _scale(
        self, resource: Resource, namespace: str | None, name: str, method: str, body: Any, *, dry_run: bool
    ) -> tuple[int, Obj]:
        if not resource.scale:
            raise ApiError(404, "NotFound", f"{resource.plural} has no scale subresource")
        ns = namespace or ""
        current = self._existing(resource, ns, name)

        def scale_of(obj: Obj) -> Obj:
            selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            return {
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": {
                    k: obj["metadata"][k]
                    for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                    if k in obj["metadata"]
                },
                "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
                "status": {
                    "replicas": int((obj.get("status") or {}).get("replicas", 0)),
                    "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
                },
            }

        if method == "GET":
            return 200, scale_of(current)
        if method not in ("PUT", "PATCH") or not isinstance(body, dict):
            raise ApiError(405, "MethodNotAllowed", "scale supports GET, PUT and PATCH with an object body")
        wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
        if wanted_rv is not None and str(wanted_rv) != current["metadata"].get("resourceVersion"):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource.plural} "{name}": the object has been modified',
            )
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", "spec.replicas: must be a non-negative integer")
        patched = merge_patch(current, {"spec": {"replicas": replicas}})
        if dry_run or patched == current:
            return 200, scale_of(patched)
        with self.lock:
            meta = patched["metadata"]
            if "generation" in meta:
                meta["generation"] = int(meta["generation"]) + 1
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            self.store[resource.plural][(ns, name)] = patched
        return 200, scale_of(patched)


def _route(path: str) -> tuple[Resource, str | None, str | None, str | None] | None:
    """(resource, namespace, name, subresource) for a REST path; None when it is not a resource path."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in _BY_PATH:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return None
    resource = _BY_PATH.get((group, version, rest[0]))
    if resource is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if resource.namespaced and name is not None and namespace is None:
        return None
    return resource, namespace, name, sub


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # without it every request waits ~40 ms on delayed ACKs (DESIGN §6)
    protocol_version = "HTTP/1.1"
    server: FakeKubeApi

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def _send(self, code: int, body: Obj, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.wfile.write(data)

    def _handle(self) -> None:
        parsed = urlparse(self.path)
        query = parse_qs(parsed.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, ApiError(400, "BadRequest", "request body is not JSON").status())
            return
        server = self.server
        with server.lock:
            server.requests.append(
                Request(
                    self.command, parsed.path, dict(query), self.headers.get("Authorization", ""), content_type, body
                )
            )
        query["__content_type"] = [content_type]
        try:
            code, payload = server.dispatch(self.command, parsed.path, query, body)
        except ApiError as error:
            retry_after = getattr(error, "retry_after", None)
            self._send(error.code, error.status(), {"Retry-After": f"{retry_after:g}"} if retry_after else None)
            return
        self._send(code, payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def write_kubeconfig(path: Path, contexts: Mapping[str, str], *, token: str = "fake-token") -> Path:
    """A kubeconfig with one context per (name → server URL), bearer-token auth; current-context is the first."""
    names = list(contexts)
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": url}} for n, url in contexts.items()],
        "users": [{"name": "scanner", "user": {"token": token}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "scanner"}} for n in names],
        "current-context": names[0] if names else "",
    }
    path.write_text(json.dumps(document, indent=2))
    return path


def unused_url() -> str:
    """The URL of a port nothing listens on: a cluster that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def serving(objects: Mapping[str, Sequence[Obj]], **kwargs: Any) -> Iterator[FakeKubeApi]:
    with FakeKubeApi(objects, **kwargs) as api:
        yield api


def main(argv: Sequence[str]) -> int:
    """`kube_api.py --synthetic PODS NODES`: serve a synthetic fleet until stdin closes (bench/ uses this)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fakes.kube_objects import synthetic_fleet

    pods, nodes = (int(argv[1]), int(argv[2])) if len(argv) >= 3 and argv[0] == "--synthetic" else (5000, 600)
    fleet = synthetic_fleet(pods=pods, nodes=nodes)
    with FakeKubeApi(fleet) as api:
        print(f"URL {api.url}", flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
