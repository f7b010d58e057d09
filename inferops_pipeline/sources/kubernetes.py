"""Cluster inventory as kubectl-shaped JSON: read-only live API listing, `kubectl get -o json` snapshot dirs, coverage."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from inferops_pipeline.domain import CoverageRow, CoverageStatus, is_knock_on
from inferops_pipeline.inventory.privacy import ENGINE_ENV, scrub_object
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
    "llminferenceservices",
)
# Without these a cluster cannot be assessed at all: free GPUs would look idle, workloads would vanish.
REQUIRED_KINDS: tuple[str, ...] = ("nodes", "pods")
SOURCE = "kubernetes"


class KindError(SourceError):
    """Listing one kind failed; the message is `<cluster>: <kind>: <reason>`, `reason` alone is kept too."""

    def __init__(self, label: str, kind: str, reason: str) -> None:
        super().__init__(f"{label}: {kind}: {reason}")
        self.kind = kind
        self.reason = reason


class AccessDenied(KindError):
    """401/403 on one kind: the identity may not list it; the rest of the cluster can still be read."""


class ClusterUnreachable(KindError):
    """No HTTP answer at all (connection refused, DNS, TLS) after every retry."""


class InventorySource(Protocol):
    def list_objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of `kind` across all namespaces, exactly as `kubectl get <kind> -A -o json` items."""
        ...

    def is_absent(self, kind: str) -> bool:
        """True when the last list_objects(kind) found the kind does not exist there (CRD, snapshot file)."""
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
        self._absent: set[str] = set()

    def list_objects(self, kind: str) -> list[dict[str, Any]]:
        _check_kind(kind)
        if kind not in self._cache:
            self._cache[kind] = self._read(kind)
        # Callers get their own list so appending to it cannot corrupt the cache.
        return list(self._cache[kind])

    def is_absent(self, kind: str) -> bool:
        return kind in self._absent

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
            self._absent.add(kind)
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


def write_snapshot(source: InventorySource, directory: Path, *, scrub: bool = True) -> None:
    """Dump every kind as a kubectl List file; each file appears complete or not at all.

    With `scrub` (the default) env values other than engine settings and secret-looking arg values are removed,
    so a snapshot can be shared without leaking credentials and still re-ingests to the same workloads.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        items = source.list_objects(kind)
        if scrub:
            items = [scrub_object(item, keep_env=ENGINE_ENV) for item in items]
        document = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
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
    api_version: str  # preferred group/version, also stamped on items that lack one
    kind: str
    plural: str = ""
    versions: tuple[str, ...] = ()  # custom resources: served versions to try, newest first


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
        "custom", "", "leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "leaderworkersets", ("v1",)
    ),
    "inferenceservices": _Endpoint(
        "custom", "", "serving.kserve.io/v1beta1", "InferenceService", "inferenceservices", ("v1beta1",)
    ),
    # KServe moved LLMInferenceService from v1alpha1 to v1alpha2; a cluster serves one or both.
    "llminferenceservices": _Endpoint(
        "custom",
        "",
        "serving.kserve.io/v1alpha2",
        "LLMInferenceService",
        "llminferenceservices",
        ("v1alpha2", "v1alpha1"),
    ),
}
assert set(_ENDPOINTS) == set(KINDS)

# (API group, resource) pairs the live source lists: exactly what deploy/rbac/scanner.yaml must grant.
READ_ACCESS: frozenset[tuple[str, str]] = frozenset(
    (e.api_version.rsplit("/", 1)[0] if "/" in e.api_version else "", kind) for kind, e in _ENDPOINTS.items()
)

_MAX_BACKOFF_S = 30.0


def uses_in_cluster(config: KubernetesConfig) -> bool:
    if config.in_cluster:
        return True
    if config.kubeconfig is not None or config.context is not None:
        return False
    # Neither set: behave like client-go — the service account inside a pod, else ~/.kube/config.
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def api_client(config: KubernetesConfig, *, role: str, implicit: bool = True) -> Any:
    """An official-client ApiClient for one credential (kubeconfig context or in-cluster); `role` names it in errors.

    urllib3 retries are off: the scanner's list loop owns retries with backoff, and a remediator write must never
    be re-sent behind the caller's back. `implicit=False` refuses the client-go style fallback (in-cluster when
    KUBERNETES_SERVICE_HOST is set, else ~/.kube/config) for credentials that must be named.
    """
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    if not implicit and not (config.in_cluster or config.kubeconfig or config.context):
        # A write credential is never guessed: falling back to the pod's own identity would defeat its separation.
        raise ConfigError(f"{role}: set kubeconfig/context or in_cluster: true explicitly")
    configuration = k8s_client.Configuration()
    configuration.retries = 0
    in_cluster = uses_in_cluster(config)
    try:
        if in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            # Like config.new_client_from_config(...) but persist_config=False: never rewrite the user's
            # kubeconfig on token refresh.
            k8s_config.load_kube_config(
                config_file=str(config.kubeconfig) if config.kubeconfig else None,
                context=config.context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
        where = "in-cluster service account" if in_cluster else str(config.kubeconfig or "~/.kube/config")
        context = f" context {config.context!r}" if config.context else ""
        raise ConfigError(f"{where}:{context} cannot load the {role} Kubernetes credentials: {one_line(exc)}") from None
    return k8s_client.ApiClient(configuration=configuration)


class LiveInventory:
    """Lists objects from a live API server with paging and retries; strictly read-only (list verbs only).

    Pages are read as raw JSON (`_preload_content=False`): the client still does auth, TLS, paths and query
    parameters, but objects are kept exactly as the server sent them, like `kubectl get -o json`, instead of
    being round-tripped through the client's models (which drop fields they do not know, and cost ~10× more).
    """

    def __init__(
        self,
        config: KubernetesConfig,
        *,
        page_size: int | None = None,
        request_timeout: tuple[float, float] | None = None,
        retries: int | None = None,
        backoff_s: float = 0.5,
        cluster: str | None = None,
    ) -> None:
        page_size = config.page_size if page_size is None else page_size
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.config = config
        self.page_size = page_size
        self.request_timeout = request_timeout or (config.connect_timeout_s, config.timeout_s)
        self.retries = max(0, config.retries if retries is None else retries)
        self.backoff_s = backoff_s
        self.label = cluster or config.context or ("in-cluster" if uses_in_cluster(config) else "current-context")
        self.requests = 0  # HTTP requests sent, for coverage/bench figures
        self._client: Any = None
        self._absent: set[str] = set()

    def _api_client(self) -> Any:
        if self._client is None:
            self._client = api_client(self.config, role="scanner")
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def is_absent(self, kind: str) -> bool:
        return kind in self._absent

    def list_objects(self, kind: str) -> list[dict[str, Any]]:
        _check_kind(kind)
        endpoint = _ENDPOINTS[kind]
        versions = endpoint.versions or (endpoint.api_version,)
        for index, version in enumerate(versions):
            found = self._list(kind, endpoint, version)
            if found is not None:
                self._absent.discard(kind)
                return found
            if index == len(versions) - 1:
                break
        self._absent.add(kind)
        return []

    def _list(self, kind: str, endpoint: _Endpoint, version: str) -> list[dict[str, Any]] | None:
        """All pages of one kind at one API version; None when that version is not served (404)."""
        fetch = self._page_fetcher(endpoint, version, self._api_client())
        items: list[dict[str, Any]] = []
        token: str | None = None
        attempt = 0
        while True:
            try:
                self.requests += 1
                page = fetch(token)
            except Exception as exc:  # noqa: BLE001 - classified below; anything unknown is re-raised
                decision = self._classify(exc, kind, endpoint)
                if decision == "absent":
                    return None
                if decision == "expired":
                    # The continue token outlived the server's cache (410): a consistent list must restart.
                    items, token = [], None
                if attempt >= self.retries:
                    error = ClusterUnreachable if decision == "unreachable" else KindError
                    raise error(
                        self.label, kind, f"API server failed after {attempt + 1} attempts ({_describe(exc)})"
                    ) from None
                self._sleep(attempt, exc)
                attempt += 1
                continue
            page_items, token = self._unpack(page, endpoint)
            items.extend(page_items)
            if not token:
                return items

    def _page_fetcher(self, endpoint: _Endpoint, version: str, api_client: Any) -> Callable[[str | None], Any]:
        from kubernetes import client as k8s_client

        timeout = self.request_timeout
        if endpoint.api == "custom":
            custom = k8s_client.CustomObjectsApi(api_client)
            group = endpoint.api_version.split("/")[0]

            def fetch_custom(token: str | None) -> Any:
                return _read_json(
                    custom.list_cluster_custom_object(
                        group,
                        version,
                        endpoint.plural,
                        limit=self.page_size,
                        _continue=token,
                        _request_timeout=timeout,
                        _preload_content=False,
                    )
                )

            return fetch_custom
        api_class = {
            "core": k8s_client.CoreV1Api,
            "apps": k8s_client.AppsV1Api,
            "autoscaling": k8s_client.AutoscalingV2Api,
        }
        method = getattr(api_class[endpoint.api](api_client), endpoint.method)

        def fetch_typed(token: str | None) -> Any:
            return _read_json(
                method(limit=self.page_size, _continue=token, _request_timeout=timeout, _preload_content=False)
            )

        return fetch_typed

    def _unpack(self, page: Any, endpoint: _Endpoint) -> tuple[list[dict[str, Any]], str | None]:
        if not isinstance(page, dict) or not isinstance(page.get("items", []), list):
            raise SourceError(f"{self.label}: {endpoint.kind} list: response is not a Kubernetes List object")
        raw_items = page.get("items") or []
        token = (page.get("metadata") or {}).get("continue") or None
        # Built-in list responses omit per-item apiVersion/kind; kubectl fills them in, and so do we.
        api_version = page.get("apiVersion") or endpoint.api_version
        shaped = [{"apiVersion": api_version, "kind": endpoint.kind, **item} for item in raw_items]
        return shaped, token

    def _classify(self, exc: Exception, kind: str, endpoint: _Endpoint) -> str:
        """Return 'retry', 'unreachable', 'expired' or 'absent', or raise a one-line SourceError for permanent failures."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        if isinstance(exc, ApiException):
            status = int(exc.status or 0)
            detail = _status_message(exc)
            if status in (401, 403):
                verb = "forbidden" if status == 403 else "unauthorized"
                hint = "grant list on it to this identity" if status == 403 else "credentials rejected or expired"
                raise AccessDenied(self.label, kind, f"{verb} (HTTP {status}: {hint}){detail}") from None
            if status == 404 and kind not in REQUIRED_KINDS:
                return "absent"
            if status == 410:
                return "expired"
            if status == 429 or status >= 500:
                return "retry"
            if status == 0:  # the client's wrapper for TLS failures: retrying will not fix a certificate
                raise ClusterUnreachable(self.label, kind, one_line(exc.reason or exc, limit=200)) from None
            raise KindError(self.label, kind, f"API request rejected (HTTP {status}){detail}") from None
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        # A server that accepted the connection but answered too slowly is up and may recover; one that never
        # accepted it (refused, DNS, connect timeout) is down, and trying its other kinds only wastes time.
        if isinstance(exc, urllib3.exceptions.ReadTimeoutError | urllib3.exceptions.ProtocolError):
            return "retry"
        if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError | OSError):
            return "unreachable"
        if isinstance(exc, ValueError):  # a truncated or non-JSON body: a proxy or server hiccup
            return "retry"
        raise exc

    def _sleep(self, attempt: int, exc: Exception) -> None:
        delay = min(_MAX_BACKOFF_S, self.backoff_s * (2**attempt))
        retry_after = _retry_after(exc)
        if retry_after is not None:
            delay = min(_MAX_BACKOFF_S, max(delay, retry_after))
        # Jitter keeps several clusters' assessors from hammering a recovering server in lockstep.
        time.sleep(delay * (0.8 + 0.4 * random.random()))


def _read_json(response: Any) -> Any:
    """Body of a `_preload_content=False` response as JSON; the connection goes back to the pool either way."""
    try:
        return json.loads(response.data)
    finally:
        response.release_conn()


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
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError wraps the real failure
    if isinstance(reason, Exception):
        exc = reason
    text = str(exc)
    # urllib3 messages start with the pool/connection repr; the part after it is the useful bit.
    if "): " in text and text.startswith(("HTTPConnection", "<urllib3")):
        text = text.split("): ", 1)[1]
    return f"{type(exc).__name__}: {one_line(text, limit=160)}"


def inventory_source(config: KubernetesConfig, *, cluster: str | None = None) -> InventorySource:
    """Snapshot directory when configured, else the live API (kubeconfig context or in-cluster)."""
    if config.snapshot is not None:
        return SnapshotInventory(config.snapshot)
    return LiveInventory(config, cluster=cluster)


# --------------------------------------------------------------------------------------------
# Coverage: what one run could read of each cluster
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InventoryRead:
    """One cluster's objects by kind plus one coverage row per kind; `error` is set when the cluster is unusable."""

    cluster: str
    objects: dict[str, list[dict[str, Any]]]
    coverage: list[CoverageRow] = field(default_factory=list)
    error: str = ""


def read_inventory(
    source: InventorySource, *, cluster: str, kinds: Sequence[str] = KINDS, clock: Callable[[], float] = time.monotonic
) -> InventoryRead:
    """List every kind, degrading instead of failing: a denied or absent kind is reported and skipped.

    Nodes or pods unreadable, or the API server unreachable, make the whole cluster unusable: its objects are
    dropped (a cluster seen without its pods would show every GPU as idle) and every kind gets an ERROR row.
    Snapshot and credential problems are bad input and still raise.
    """
    ordered = [k for k in REQUIRED_KINDS if k in kinds] + [k for k in kinds if k not in REQUIRED_KINDS]
    objects: dict[str, list[dict[str, Any]]] = {}
    rows: dict[str, CoverageRow] = {}
    fatal = ""
    for kind in ordered:
        if fatal:
            rows[kind] = CoverageRow(cluster, SOURCE, kind, CoverageStatus.ERROR, 0, f"skipped: {fatal}")
            continue
        started = clock()
        try:
            items = source.list_objects(kind)
        except SourceError as exc:
            elapsed = round(clock() - started, 3)
            # The row already names cluster and kind; keep just the reason.
            message = one_line(exc.reason if isinstance(exc, KindError) else exc)
            if kind in REQUIRED_KINDS or isinstance(exc, ClusterUnreachable):
                rows[kind] = CoverageRow(cluster, SOURCE, kind, CoverageStatus.ERROR, 0, message, elapsed)
                fatal = f"{kind} unreadable" if kind in REQUIRED_KINDS else "cluster unreachable"
            else:
                status = CoverageStatus.DENIED if isinstance(exc, AccessDenied) else CoverageStatus.ERROR
                rows[kind] = CoverageRow(cluster, SOURCE, kind, status, 0, message, elapsed)
                objects[kind] = []
            continue
        elapsed = round(clock() - started, 3)
        objects[kind] = items
        if source.is_absent(kind):
            detail = (
                "not in snapshot"
                if isinstance(source, SnapshotInventory)
                else "resource type not served (CRD not installed)"
            )
            rows[kind] = CoverageRow(cluster, SOURCE, kind, CoverageStatus.ABSENT, 0, detail, elapsed)
        else:
            rows[kind] = CoverageRow(cluster, SOURCE, kind, CoverageStatus.OK, len(items), "", elapsed)
    if fatal:
        # Parts read before the failure are discarded too: say so rather than report them as ok.
        for kind, row in rows.items():
            if row.status != CoverageStatus.ERROR:
                rows[kind] = CoverageRow(
                    cluster, SOURCE, kind, CoverageStatus.ERROR, 0, f"discarded: {fatal}", row.duration_s
                )
        first = next(row for row in rows.values() if not is_knock_on(row.detail))
        error = f"{first.part}: {first.detail}"
        return InventoryRead(cluster, {kind: [] for kind in kinds}, [rows[k] for k in kinds], error=error)
    return InventoryRead(cluster, objects, [rows[k] for k in kinds])
