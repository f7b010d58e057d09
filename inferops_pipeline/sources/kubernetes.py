"""Cluster inventory as kubectl-shaped JSON: read-only live API listing and `kubectl get -o json` snapshot dirs."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from inferops_pipeline.settings import ConfigError, KubernetesConfig
from inferops_pipeline.sources.errors import SnapshotError, SourceError, one_line

KINDS: tuple[str, ...] = (
    "nodes",
    "pods",
    "namespaces",
    "deployments",
    "statefulsets",
    "replicasets",
    "daemonsets",
    "horizontalpodautoscalers",
    "leaderworkersets",
    "inferenceservices",
)
REQUIRED_KINDS: tuple[str, ...] = ("nodes", "pods")


class InventorySource(Protocol):
    def list_objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of `kind` across all namespaces, exactly as `kubectl get <kind> -A -o json` items."""
        ...


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown inventory kind {kind!r}; expected one of {', '.join(KINDS)}")


# --------------------------------------------------------------------------------------------
# Snapshot directories
# --------------------------------------------------------------------------------------------


class SnapshotInventory:
    """Reads `<directory>/<kind>.json` files written by kubectl (or `write_snapshot`), each at most once."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def list_objects(self, kind: str) -> list[dict[str, Any]]:
        _check_kind(kind)
        if kind not in self._cache:
            self._cache[kind] = self._read(kind)
        # Callers get their own list so appending to it cannot corrupt the cache.
        return list(self._cache[kind])

    def _read(self, kind: str) -> list[dict[str, Any]]:
        if not self.directory.exists():
            raise SnapshotError(f"{self.directory}: snapshot directory not found")
        if not self.directory.is_dir():
            raise SnapshotError(f"{self.directory}: not a directory (expected a snapshot directory)")
        path = self.directory / f"{kind}.json"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if kind in REQUIRED_KINDS:
                needed = " and ".join(f"{k}.json" for k in REQUIRED_KINDS)
                raise SnapshotError(f"{path}: missing (the snapshot needs {needed})") from None
            return []
        except OSError as exc:
            raise SnapshotError(f"{path}: cannot read ({exc.strerror})") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SnapshotError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SnapshotError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        return _items_of(document, path)


def _items_of(document: Any, path: Path) -> list[dict[str, Any]]:
    if isinstance(document, list):
        items = document
    elif isinstance(document, dict) and isinstance(document.get("items"), list):
        items = document["items"]
    elif isinstance(document, dict) and isinstance(document.get("metadata"), dict) and "kind" in document:
        # `kubectl get <kind> <name> -o json` of a single object is still a usable snapshot.
        items = [document]
    else:
        raise SnapshotError(f"{path}: expected a kubectl List object (with items) or a JSON array")
    for index, item in enumerate(items):
        metadata = item.get("metadata") if isinstance(item, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(name, str) or not name:
            raise SnapshotError(f"{path}: items[{index}] has no metadata.name")
    return items


def write_snapshot(source: InventorySource, directory: Path) -> None:
    """Dump every kind as a kubectl List file; each file appears complete or not at all."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        document = {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": source.list_objects(kind),
        }
        target = directory / f"{kind}.json"
        partial = directory / f".{kind}.json.partial"
        partial.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
        os.replace(partial, target)


# --------------------------------------------------------------------------------------------
# Live API
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Endpoint:
    api: str  # core | apps | autoscaling | custom
    method: str  # list method on that API class (unused for custom)
    api_version: str
    kind: str
    group: str = ""
    plural: str = ""

    @property
    def optional_crd(self) -> bool:
        return self.api == "custom"


_ENDPOINTS: dict[str, _Endpoint] = {
    "nodes": _Endpoint("core", "list_node", "v1", "Node"),
    "pods": _Endpoint("core", "list_pod_for_all_namespaces", "v1", "Pod"),
    "namespaces": _Endpoint("core", "list_namespace", "v1", "Namespace"),
    "deployments": _Endpoint("apps", "list_deployment_for_all_namespaces", "apps/v1", "Deployment"),
    "statefulsets": _Endpoint("apps", "list_stateful_set_for_all_namespaces", "apps/v1", "StatefulSet"),
    "replicasets": _Endpoint("apps", "list_replica_set_for_all_namespaces", "apps/v1", "ReplicaSet"),
    "daemonsets": _Endpoint("apps", "list_daemon_set_for_all_namespaces", "apps/v1", "DaemonSet"),
    "horizontalpodautoscalers": _Endpoint(
        "autoscaling", "list_horizontal_pod_autoscaler_for_all_namespaces", "autoscaling/v2", "HorizontalPodAutoscaler"
    ),
    "leaderworkersets": _Endpoint(
        "custom", "", "leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "leaderworkerset.x-k8s.io", "leaderworkersets"
    ),
    "inferenceservices": _Endpoint(
        "custom", "", "serving.kserve.io/v1beta1", "InferenceService", "serving.kserve.io", "inferenceservices"
    ),
}
assert set(_ENDPOINTS) == set(KINDS)

_MAX_BACKOFF_S = 30.0


def _kubectl_time(value: datetime) -> str:
    """kubectl prints metav1.Time as RFC 3339 with a Z; isoformat's +00:00 would break string equality."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _api_client_class() -> type[Any]:
    from kubernetes.client import ApiClient

    class KubectlShapedApiClient(ApiClient):
        """ApiClient whose serialisation matches kubectl's JSON (timestamps with Z)."""

        def sanitize_for_serialization(self, obj: Any) -> Any:
            # The base method recurses through self, so nested datetimes land here too.
            if isinstance(obj, datetime):
                return _kubectl_time(obj)
            return super().sanitize_for_serialization(obj)

    return KubectlShapedApiClient


class LiveInventory:
    """Lists objects from a live API server with paging and retries; strictly read-only (list verbs only)."""

    def __init__(
        self,
        config: KubernetesConfig,
        *,
        page_size: int = 500,
        request_timeout: tuple[float, float] = (5, 60),
        retries: int = 3,
        backoff_s: float = 0.5,
        cluster: str | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.config = config
        self.page_size = page_size
        self.request_timeout = request_timeout
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.label = cluster or config.context or ("in-cluster" if self._use_in_cluster() else "current-context")
        self._client: Any = None

    def _use_in_cluster(self) -> bool:
        if self.config.in_cluster:
            return True
        if self.config.kubeconfig is not None or self.config.context is not None:
            return False
        # Neither set: behave like client-go — the service account inside a pod, else ~/.kube/config.
        return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))

    def _api_client(self) -> Any:
        if self._client is not None:
            return self._client
        from kubernetes import client as k8s_client
        from kubernetes import config as k8s_config

        configuration = k8s_client.Configuration()
        # Our loop owns retries (with backoff); urllib3's own immediate retries would multiply them.
        configuration.retries = 0
        try:
            if self._use_in_cluster():
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                # Equivalent to config.new_client_from_config(...) but with persist_config=False: a
                # read-only assessor must never rewrite the user's kubeconfig on token refresh.
                k8s_config.load_kube_config(
                    config_file=str(self.config.kubeconfig) if self.config.kubeconfig else None,
                    context=self.config.context,
                    client_configuration=configuration,
                    persist_config=False,
                )
        except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
            where = (
                "in-cluster service account"
                if self._use_in_cluster()
                else str(self.config.kubeconfig or "~/.kube/config")
            )
            context = f" context {self.config.context!r}" if self.config.context else ""
            raise ConfigError(f"{where}:{context} cannot load Kubernetes credentials: {one_line(exc)}") from None
        self._client = _api_client_class()(configuration=configuration)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def list_objects(self, kind: str) -> list[dict[str, Any]]:
        _check_kind(kind)
        endpoint = _ENDPOINTS[kind]
        api_client = self._api_client()
        fetch = self._page_fetcher(endpoint, api_client)
        items: list[dict[str, Any]] = []
        token: str | None = None
        attempt = 0
        while True:
            try:
                page = fetch(token)
            except Exception as exc:  # noqa: BLE001 - classified below; anything unknown is re-raised
                decision = self._classify(exc, kind, endpoint)
                if decision == "absent":
                    return []
                if decision == "expired":
                    # The continue token outlived the server's cache (410): a consistent list must restart.
                    items, token = [], None
                if attempt >= self.retries:
                    raise SourceError(
                        f"{self.label}: {kind}: API server failed after {attempt + 1} attempts ({_describe(exc)})"
                    ) from None
                self._sleep(attempt, exc)
                attempt += 1
                continue
            page_items, token = self._unpack(page, endpoint, api_client)
            items.extend(page_items)
            if not token:
                return items

    def _page_fetcher(self, endpoint: _Endpoint, api_client: Any) -> Callable[[str | None], Any]:
        from kubernetes import client as k8s_client

        timeout = self.request_timeout
        if endpoint.api == "custom":
            custom = k8s_client.CustomObjectsApi(api_client)
            group, version = endpoint.api_version.split("/")

            def fetch_custom(token: str | None) -> Any:
                return custom.list_cluster_custom_object(
                    group, version, endpoint.plural, limit=self.page_size, _continue=token, _request_timeout=timeout
                )

            return fetch_custom
        api_class = {
            "core": k8s_client.CoreV1Api,
            "apps": k8s_client.AppsV1Api,
            "autoscaling": k8s_client.AutoscalingV2Api,
        }
        method = getattr(api_class[endpoint.api](api_client), endpoint.method)

        def fetch_typed(token: str | None) -> Any:
            return method(limit=self.page_size, _continue=token, _request_timeout=timeout)

        return fetch_typed

    def _unpack(self, page: Any, endpoint: _Endpoint, api_client: Any) -> tuple[list[dict[str, Any]], str | None]:
        if isinstance(page, dict):  # CustomObjectsApi returns plain JSON already
            raw_items = page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or None
        else:
            raw_items = [api_client.sanitize_for_serialization(item) for item in page.items or []]
            # Go through the serialiser: the model's attribute name for `continue` varies across client versions.
            list_meta = api_client.sanitize_for_serialization(page.metadata) or {}
            token = list_meta.get("continue")
        # List responses omit per-item apiVersion/kind; kubectl fills them in, and so do we.
        shaped = [{"apiVersion": endpoint.api_version, "kind": endpoint.kind, **item} for item in raw_items]
        return shaped, token or None

    def _classify(self, exc: Exception, kind: str, endpoint: _Endpoint) -> str:
        """Return 'retry', 'expired' or 'absent', or raise a one-line SourceError for permanent failures."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        if isinstance(exc, ApiException):
            status = int(exc.status or 0)
            detail = _status_message(exc)
            if status in (401, 403):
                verb = "forbidden" if status == 403 else "unauthorized"
                hint = "grant list on it to this identity" if status == 403 else "credentials rejected or expired"
                raise SourceError(f"{self.label}: {kind}: {verb} (HTTP {status}: {hint}){detail}") from None
            if status == 404 and endpoint.optional_crd:
                return "absent"
            if status == 410:
                return "expired"
            if status == 429 or status >= 500:
                return "retry"
            raise SourceError(f"{self.label}: {kind}: API request rejected (HTTP {status}){detail}") from None
        if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
            return "retry"
        if _is_validation_error(exc):
            raise SourceError(
                f"{self.label}: {kind}: response does not match the API schema: {one_line(exc, limit=200)}"
            ) from None
        raise exc

    def _sleep(self, attempt: int, exc: Exception) -> None:
        delay = min(_MAX_BACKOFF_S, self.backoff_s * (2**attempt))
        retry_after = _retry_after(exc)
        if retry_after is not None:
            delay = min(_MAX_BACKOFF_S, max(delay, retry_after))
        # Jitter keeps several clusters' assessors from hammering a recovering server in lockstep.
        time.sleep(delay * (0.8 + 0.4 * random.random()))


def _status_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {one_line(message, limit=240)}" if message else ""


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status:
        return f"HTTP {status} {one_line(getattr(exc, 'reason', '') or '', limit=80)}".strip()
    return f"{type(exc).__name__}: {one_line(exc, limit=160)}"


def _is_validation_error(exc: Exception) -> bool:
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - pydantic is a dependency of both settings and the client
        return False
    return isinstance(exc, ValidationError)


def inventory_source(config: KubernetesConfig, *, cluster: str | None = None) -> InventorySource:
    """Snapshot directory when configured, else the live API (kubeconfig context or in-cluster)."""
    if config.snapshot is not None:
        return SnapshotInventory(config.snapshot)
    return LiveInventory(config, cluster=cluster)
