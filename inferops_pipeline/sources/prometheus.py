"""Window metrics as METRIC_COLUMNS rows: a declarative fleet-wide PromQL table, and parquet snapshots."""

from __future__ import annotations

import ast
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any, Literal, Protocol

import pandas as pd

from inferops_pipeline.domain import METRIC_COLUMNS, Signal
from inferops_pipeline.settings import ConfigError, PrometheusConfig
from inferops_pipeline.sources.errors import SnapshotError, SourceError, one_line

STRING_COLUMNS: tuple[str, ...] = tuple(c for c in METRIC_COLUMNS if c not in ("value", "samples"))
_KEY_COLUMNS: tuple[str, ...] = tuple(c for c in STRING_COLUMNS if c != "cluster")
_IDENTITY: tuple[str, ...] = ("namespace", "pod", "container", "node", "gpu_uuid", "model")


class MetricsSource(Protocol):
    def fetch(self, *, cluster: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Window statistics for one cluster: exactly METRIC_COLUMNS, '' for absent labels."""
        ...


def empty_metrics_frame() -> pd.DataFrame:
    return _frame([])


def _frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(METRIC_COLUMNS))
    return _coerce(frame)


def _coerce(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.loc[:, list(METRIC_COLUMNS)].copy()
    for column in STRING_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str)
    frame["value"] = pd.to_numeric(frame["value"], errors="raise").astype("float64")
    frame["samples"] = pd.to_numeric(frame["samples"], errors="raise").fillna(0).astype("int64")
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Snapshot files (parquet, read and written through DuckDB so pyarrow is not needed)
# --------------------------------------------------------------------------------------------


class SnapshotMetrics:
    """A parquet file of metric rows for one or more clusters; the window is whatever it was written for."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._frame: pd.DataFrame | None = None

    def fetch(self, *, cluster: str, start: datetime, end: datetime) -> pd.DataFrame:
        # start/end are accepted for interface parity: a snapshot already holds window statistics.
        frame = self._load()
        return frame.loc[frame["cluster"] == cluster].reset_index(drop=True).copy()

    def _load(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = read_metrics_snapshot(self.path)
        return self._frame


def read_metrics_snapshot(path: Path) -> pd.DataFrame:
    import duckdb

    path = Path(path)
    if not path.exists():
        raise SnapshotError(f"{path}: metrics snapshot not found")
    if not path.is_file():
        raise SnapshotError(f"{path}: not a parquet file (it is a directory)")
    connection = duckdb.connect()
    try:
        try:
            relation = connection.read_parquet(str(path))
            columns = list(relation.columns)
            missing = [c for c in METRIC_COLUMNS if c not in columns]
            if missing:
                raise SnapshotError(f"{path}: missing column {missing[0]!r} (expected {', '.join(METRIC_COLUMNS)})")
            frame = relation.select(*METRIC_COLUMNS).df()
        except duckdb.Error as exc:
            raise SnapshotError(f"{path}: not a parquet file ({_first_line(exc)})") from None
    finally:
        connection.close()
    try:
        return _coerce(frame)
    except (ValueError, TypeError) as exc:
        raise SnapshotError(f"{path}: column value/samples is not numeric ({one_line(exc, limit=120)})") from None


def write_metrics_snapshot(frame: pd.DataFrame, path: Path) -> None:
    """Write rows (any column order, extra columns dropped) so SnapshotMetrics reads them back unchanged."""
    import duckdb

    missing = [c for c in METRIC_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"metrics frame lacks column {missing[0]!r}")
    data = _coerce(frame)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    connection = duckdb.connect()
    try:
        connection.from_df(data).write_parquet(str(partial))
    finally:
        connection.close()
    os.replace(partial, path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return one_line(text[0] if text else type(exc).__name__, limit=160)


# --------------------------------------------------------------------------------------------
# The query table
# --------------------------------------------------------------------------------------------

# Output column -> candidate source labels, first present wins.
LabelMap = tuple[tuple[str, tuple[str, ...]], ...]
Mode = Literal["instant", "hourly", "samples", "kv_pool"]


@dataclass(frozen=True, slots=True)
class PromQuery:
    source: str  # gpu | serving | traffic | container
    signal: str
    stat: str  # mean | p95 | max | increase | last | samples | hourly
    template: str  # string.Template over: window, step, gpu_by, serving_by, container_by, gpu_pods
    labels: LabelMap
    mode: Mode = "instant"  # samples: fills `samples` of its source's rows; hourly: range query → hNN


# DCGM attribution labels differ by ServiceMonitor honorLabels and --use-old-namespace; keep all of
# them through the aggregation and choose Python-side (see _gpu_attribution).
_GPU_BY = (
    "UUID, uuid, Hostname, hostname, node, exported_namespace, exported_pod, exported_container, "
    "namespace, pod, container, pod_namespace, pod_name, container_name"
)
_SERVING_BY = "namespace, pod, model_name, model"
_CONTAINER_BY = "namespace, pod, container"

# Restricting container series to GPU pods keeps the sample count small on big clusters; the
# max_over_time keeps pods that were deleted before the window end.
_GPU_PODS = (
    "and on (namespace, pod) (max by (namespace, pod) "
    "(max_over_time(kube_pod_container_resource_requests"
    '{resource=~"nvidia_com_gpu|nvidia_com_mig_.+"}[${window}])) > 0)'
)

_GPU_LABELS: LabelMap = (
    ("gpu_uuid", ("UUID", "uuid")),
    ("node", ("Hostname", "hostname", "node")),
    ("namespace", ("exported_namespace", "namespace", "pod_namespace")),
    ("pod", ("exported_pod", "pod", "pod_name")),
    ("container", ("exported_container", "container", "container_name")),
)
_SERVING_LABELS: LabelMap = (("namespace", ("namespace",)), ("pod", ("pod",)), ("model", ("model_name", "model")))
_CONTAINER_LABELS: LabelMap = (("namespace", ("namespace",)), ("pod", ("pod",)), ("container", ("container",)))

# Engine metric families; `[:_]` accepts pipelines that rewrite colons to underscores.
_KV_USAGE = (
    "vllm[:_]kv_cache_usage_perc|vllm[:_]gpu_cache_usage_perc|sglang[:_]token_usage|"
    "sglang[:_]kv_cache_usage(_perc)?|trtllm_kv_cache_utilization"
)
_TRT_KV = 'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"}'
_RUNNING = "vllm[:_]num_requests_running|sglang[:_]num_running_reqs|tgi_batch_current_size|trtllm_num_requests_running"
_TRT_RUNNING = 'nv_trt_llm_request_metrics{request_type="scheduled"}'
_WAITING = "vllm[:_]num_requests_waiting|sglang[:_]num_queue_reqs|tgi_queue_size|trtllm_num_requests_waiting"
_TRT_WAITING = 'nv_trt_llm_request_metrics{request_type="waiting"}'
_PROMPT = "vllm[:_]prompt_tokens_total|sglang[:_]prompt_tokens_total|tgi_request_input_length_sum"
_GENERATION = "vllm[:_]generation_tokens_total|sglang[:_]generation_tokens_total|tgi_request_generated_tokens_sum"
_TTFT = "vllm[:_]time_to_first_token_seconds_bucket|sglang[:_]time_to_first_token_seconds_bucket"
_ITL = (
    "vllm[:_]inter_token_latency_seconds_bucket|vllm[:_]time_per_output_token_seconds_bucket|"
    "sglang[:_]inter_token_latency_seconds_bucket|sglang[:_]time_per_output_token_seconds_bucket"
)
_REQUESTS = (
    "vllm[:_]request_success_total|sglang[:_]num_requests_total|tgi_request_success|nv_inference_request_success"
)
_CPU_RULE = "node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m{}"
_CPU_RAW = 'sum by (${container_by}) (rate(container_cpu_usage_seconds_total{container!="", image!=""}[5m]))'
_CADVISOR = '{container!="", image!=""}'


def _gpu_util(fn: str, agg: str) -> str:
    # PROF_GR_ENGINE_ACTIVE needs the DCP module; per GPU, fall back to the coarse DEV_GPU_UTIL (percent).
    return (
        f"{agg} by (${{gpu_by}}) ({fn}DCGM_FI_PROF_GR_ENGINE_ACTIVE{{}}[${{window}}])) "
        f"or {agg} by (${{gpu_by}}) ({fn}DCGM_FI_DEV_GPU_UTIL{{}}[${{window}}])) / 100"
    )


def _engine(fn: str, agg: str, names: str, trt: str | None = None) -> str:
    text = f'{agg} by (${{serving_by}}) ({fn}{{__name__=~"{names}"}}[${{window}}]))'
    if trt:
        text += f" or {agg} by (${{serving_by}}) ({fn}{trt}[${{window}}]))"
    return text


def _fb_total() -> str:
    parts = [f"last_over_time(DCGM_FI_DEV_FB_{p}{{}}[${{window}}])" for p in ("USED", "FREE", "RESERVED")]
    # Older DCGM default-counters lack FB_RESERVED; used + free is then the best total there is.
    return f"max by (${{gpu_by}}) ({' + '.join(parts)}) or max by (${{gpu_by}}) ({' + '.join(parts[:2])})"


def _cpu(fn: str, agg: str) -> str:
    return (
        f"({agg} by (${{container_by}}) ({fn}{_CPU_RULE}[${{window}}])) "
        f"or {agg} by (${{container_by}}) ({fn}({_CPU_RAW})[${{window}}:${{step}}]))) ${{gpu_pods}}"
    )


_RESTARTS = "max by (${container_by}) (increase(kube_pod_container_status_restarts_total{}[${window}]))"

G, SV, TR, CT = "gpu", "serving", "traffic", "container"

QUERIES: tuple[PromQuery, ...] = (
    # --- GPU, per device (DCGM) ---
    PromQuery(G, Signal.GPU_UTIL, "mean", _gpu_util("avg_over_time(", "avg"), _GPU_LABELS),
    PromQuery(G, Signal.GPU_UTIL, "p95", _gpu_util("quantile_over_time(0.95, ", "max"), _GPU_LABELS),
    PromQuery(G, Signal.GPU_UTIL, "max", _gpu_util("max_over_time(", "max"), _GPU_LABELS),
    PromQuery(
        G,
        Signal.GPU_FB_USED_MIB,
        "max",
        "max by (${gpu_by}) (max_over_time(DCGM_FI_DEV_FB_USED{}[${window}]))",
        _GPU_LABELS,
    ),
    PromQuery(G, Signal.GPU_FB_TOTAL_MIB, "max", _fb_total(), _GPU_LABELS),
    PromQuery(
        G,
        Signal.GPU_POWER_W,
        "mean",
        "avg by (${gpu_by}) (avg_over_time(DCGM_FI_DEV_POWER_USAGE{}[${window}]))",
        _GPU_LABELS,
    ),
    PromQuery(
        G,
        Signal.GPU_UTIL,
        "samples",
        _gpu_util("count_over_time(", "max").replace(" / 100", ""),
        _GPU_LABELS,
        "samples",
    ),
    # --- serving engines, per (namespace, pod, model) ---
    PromQuery(
        SV,
        Signal.KV_CACHE_USAGE,
        "p95",
        _engine("quantile_over_time(0.95, ", "max", _KV_USAGE, _TRT_KV),
        _SERVING_LABELS,
    ),
    PromQuery(SV, Signal.KV_CACHE_USAGE, "max", _engine("max_over_time(", "max", _KV_USAGE, _TRT_KV), _SERVING_LABELS),
    # Counts are summed across vLLM data-parallel engines (label `engine`) of one pod.
    PromQuery(
        SV, Signal.REQUESTS_RUNNING, "max", _engine("max_over_time(", "sum", _RUNNING, _TRT_RUNNING), _SERVING_LABELS
    ),
    PromQuery(
        SV, Signal.REQUESTS_RUNNING, "mean", _engine("avg_over_time(", "sum", _RUNNING, _TRT_RUNNING), _SERVING_LABELS
    ),
    PromQuery(
        SV, Signal.REQUESTS_WAITING, "max", _engine("max_over_time(", "sum", _WAITING, _TRT_WAITING), _SERVING_LABELS
    ),
    PromQuery(
        SV,
        Signal.PREEMPTIONS,
        "increase",
        _engine("increase(", "sum", "vllm[:_]num_preemptions_total"),
        _SERVING_LABELS,
    ),
    PromQuery(SV, Signal.PROMPT_TOKENS, "increase", _engine("increase(", "sum", _PROMPT), _SERVING_LABELS),
    PromQuery(SV, Signal.GENERATION_TOKENS, "increase", _engine("increase(", "sum", _GENERATION), _SERVING_LABELS),
    PromQuery(
        SV,
        Signal.TTFT_SECONDS,
        "p95",
        f'histogram_quantile(0.95, sum by (le, ${{serving_by}}) (increase({{__name__=~"{_TTFT}"}}[${{window}}])))',
        _SERVING_LABELS,
    ),
    PromQuery(
        SV,
        Signal.ITL_SECONDS,
        "p95",
        f'histogram_quantile(0.95, sum by (le, ${{serving_by}}) (increase({{__name__=~"{_ITL}"}}[${{window}}])))',
        _SERVING_LABELS,
    ),
    # The pool size lives in label values (num_gpu_blocks × block_size), multiplied Python-side.
    PromQuery(
        SV,
        Signal.KV_POOL_TOKENS,
        "last",
        "max by (${serving_by}, num_gpu_blocks, block_size) "
        '(last_over_time({__name__=~"vllm[:_]cache_config_info"}[${window}]))',
        _SERVING_LABELS,
        "kv_pool",
    ),
    PromQuery(
        SV,
        Signal.REQUESTS_RUNNING,
        "samples",
        _engine("count_over_time(", "max", _RUNNING, _TRT_RUNNING),
        _SERVING_LABELS,
        "samples",
    ),
    # One range query with hour steps: each point is the mean request rate of the hour before it.
    PromQuery(
        TR,
        Signal.REQUEST_RATE,
        "hourly",
        f'sum by (${{serving_by}}) (rate({{__name__=~"{_REQUESTS}"}}[1h]))',
        _SERVING_LABELS,
        "hourly",
    ),
    # --- containers of GPU pods (cAdvisor + kube-state-metrics) ---
    PromQuery(CT, Signal.CPU_USAGE_CORES, "mean", _cpu("avg_over_time(", "avg"), _CONTAINER_LABELS),
    PromQuery(CT, Signal.CPU_USAGE_CORES, "p95", _cpu("quantile_over_time(0.95, ", "max"), _CONTAINER_LABELS),
    PromQuery(
        CT,
        Signal.CPU_THROTTLE_RATIO,
        "mean",
        f"sum by (${{container_by}}) (increase(container_cpu_cfs_throttled_periods_total{_CADVISOR}[${{window}}])) "
        f"/ sum by (${{container_by}}) (increase(container_cpu_cfs_periods_total{_CADVISOR}[${{window}}])) "
        "${gpu_pods}",
        _CONTAINER_LABELS,
    ),
    PromQuery(
        CT,
        Signal.MEMORY_WORKING_SET_BYTES,
        "max",
        f"max by (${{container_by}}) (max_over_time(container_memory_working_set_bytes{_CADVISOR}[${{window}}])) "
        "${gpu_pods}",
        _CONTAINER_LABELS,
    ),
    PromQuery(CT, Signal.RESTARTS, "increase", f"{_RESTARTS} ${{gpu_pods}}", _CONTAINER_LABELS),
    # last_terminated_reason keeps the *last* reason forever, so count it only when the container
    # restarted inside the window; other GPU containers get an explicit 0.
    PromQuery(
        CT,
        Signal.OOM_KILLED,
        "max",
        "((max by (${container_by}) (max_over_time(kube_pod_container_status_last_terminated_reason"
        '{reason="OOMKilled"}[${window}])) and on (namespace, pod, container) ('
        + _RESTARTS
        + " > 0)) or "
        + _RESTARTS
        + " * 0) ${gpu_pods}",
        _CONTAINER_LABELS,
    ),
    PromQuery(
        CT,
        Signal.MEMORY_WORKING_SET_BYTES,
        "samples",
        f"max by (${{container_by}}) (count_over_time(container_memory_working_set_bytes{_CADVISOR}[${{window}}])) "
        "${gpu_pods}",
        _CONTAINER_LABELS,
        "samples",
    ),
)

# Traffic rows share the serving identity, so they borrow its sample counts.
_SAMPLES_SOURCE = {G: G, SV: SV, TR: SV, CT: CT}

_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*'
_MATCHERS = re.compile(rf"^{_MATCHER}(,{_MATCHER})*,?\s*$")


def normalise_cluster_matcher(matcher: str | None) -> str | None:
    """Validate `cluster="prod"` (braces optional, several comma-separated allowed); None when unset."""
    if matcher is None or not matcher.strip():
        return None
    text = matcher.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if not _MATCHERS.match(text):
        raise ConfigError(f'prometheus.cluster_matcher: {matcher!r} is not a label matcher like cluster="prod-us"')
    return text.strip().rstrip(",").strip()


def with_matcher(promql: str, matcher: str | None) -> str:
    """Put the cluster matcher into every selector; templates write every selector with braces."""
    if not matcher:
        return promql.replace("{}", "")
    return re.sub(r"\{(\s*\})?", lambda m: "{" + matcher + ("}" if m.group(1) else ", "), promql)


def promql_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        raise ValueError(f"metrics window must be positive, got {delta}")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def render(query: PromQuery, *, window: str, step: str, matcher: str | None) -> str:
    body = Template(query.template).substitute(
        window=window,
        step=step,
        gpu_by=_GPU_BY,
        serving_by=_SERVING_BY,
        container_by=_CONTAINER_BY,
        gpu_pods=Template(_GPU_PODS).substitute(window=window),
    )
    return with_matcher(body, matcher)


# --------------------------------------------------------------------------------------------
# Live Prometheus / Thanos / Mimir
# --------------------------------------------------------------------------------------------


class LivePrometheus:
    """Runs the query table: one instant query per (signal, stat) at time=end plus one hourly range query."""

    def __init__(self, config: PrometheusConfig, *, step_seconds: int = 300, client: Any = None) -> None:
        if not config.url and client is None:
            raise ConfigError("prometheus.url: required when no prometheus.snapshot is configured")
        if step_seconds < 1:
            raise ValueError("step_seconds must be at least 1")
        self.config = config
        self.url = (config.url or "").rstrip("/")
        self.step_seconds = step_seconds
        self.matcher = normalise_cluster_matcher(config.cluster_matcher)
        self._client = client

    def queries(self, window: str) -> list[str]:
        """Every PromQL string fetch() sends for a window such as '24h' (for inspection and tests)."""
        return [render(q, window=window, step=f"{self.step_seconds}s", matcher=self.matcher) for q in QUERIES]

    def _connect(self) -> Any:
        if self._client is None:
            from prometheus_api_client import PrometheusConnect

            self._client = PrometheusConnect(
                url=self.url,
                headers=_headers_from_env(self.config.headers_env),
                disable_ssl=not self.config.verify_tls,
                timeout=self.config.timeout_s,  # the client annotates int; requests takes float
            )
        return self._client

    def fetch(self, *, cluster: str, start: datetime, end: datetime) -> pd.DataFrame:
        start, end = _aware(start), _aware(end)
        window = promql_duration(end - start)
        client = self._connect()
        step = f"{self.step_seconds}s"
        rows: list[dict[str, Any]] = []
        samples: dict[tuple[str, ...], int] = {}
        for query in QUERIES:
            promql = render(query, window=window, step=step, matcher=self.matcher)
            if query.mode == "hourly":
                first = start + timedelta(hours=1)
                if first > end:
                    continue  # a window shorter than an hour has no complete hour bucket
                result = self._call(
                    query, client.custom_query_range, promql, first, end, "3600s", params=self._params()
                )
                rows.extend(_hourly_rows(query, result, cluster=cluster, start=start))
                continue
            result = self._call(query, client.custom_query, promql, params={"time": end.timestamp(), **self._params()})
            for series in result:
                labels = series.get("metric") or {}
                value = _number(series.get("value"))
                if value is None:
                    continue  # NaN from 0/0 or an empty histogram is "not observed", not a number
                identity = _identity(query, labels)
                if query.mode == "samples":
                    samples[(query.source, *identity.values())] = int(value)
                    continue
                if query.mode == "kv_pool":
                    pool = _kv_pool(labels)
                    if pool is None:
                        continue
                    value = pool
                rows.append(_row(query, identity, cluster=cluster, value=value))
        _fill_pool_models(rows)
        for row in rows:
            key = (_SAMPLES_SOURCE[row["source"]], *(row[c] for c in _IDENTITY))
            # A value without a matching count query still proves the series existed.
            row["samples"] = samples.get(key, 1) or 1
        return _dedupe(_frame(rows))

    def _params(self) -> dict[str, str]:
        # Let the server give up no later than we do, instead of computing an answer nobody reads.
        return {"timeout": f"{max(1, int(self.config.timeout_s))}s"}

    def _call(self, query: PromQuery, call: Callable[..., Any], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        import requests
        from prometheus_api_client import PrometheusApiClientException

        what = f"{query.source}/{query.signal}/{query.stat}"
        try:
            result = call(*args, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise SourceError(f"{self.url}: cannot reach Prometheus ({_unreachable(exc)})") from None
        except PrometheusApiClientException as exc:
            raise SourceError(f"{self.url}: query {what} failed: {_api_error(exc)}") from None
        except ValueError as exc:  # a 200 whose body is not JSON (proxy login page, wrong URL path)
            raise SourceError(
                f"{self.url}: query {what}: response is not Prometheus JSON ({_first_line(exc)})"
            ) from None
        return list(result or [])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _headers_from_env(name: str | None) -> dict[str, str] | None:
    if not name:
        return None
    raw = os.environ.get(name)
    if raw is None:
        raise ConfigError(f"prometheus.headers_env: environment variable {name} is not set")
    try:
        headers = json.loads(raw)
    except json.JSONDecodeError:
        headers = None
    # Never echo the value: it usually carries a bearer token.
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ConfigError(
            f"prometheus.headers_env: {name} must hold a JSON object of header strings, "
            'e.g. {"Authorization": "Bearer …"}'
        )
    return headers


def _api_error(exc: Exception) -> str:
    """prometheus-api-client reports `HTTP Status Code N (b'<json body>')`; surface Prometheus' own error text."""
    text = str(exc)
    match = re.match(r"HTTP Status Code (\d+) \((b(['\"]).*\3)\)$", text, re.DOTALL)
    if not match:
        return one_line(text, limit=200)
    status = f"HTTP {match.group(1)}"
    try:
        body = json.loads(ast.literal_eval(match.group(2)))
        error = body.get("error") if isinstance(body, dict) else None
    except (ValueError, SyntaxError, TypeError):
        error = None
    return f"{status}: {one_line(error, limit=240)}" if error else f"{status} ({one_line(match.group(2), limit=160)})"


def _unreachable(exc: Exception) -> str:
    """The bare reason (refused, DNS, TLS, timeout) without urllib3's retry wrapper and the whole query URL."""
    import requests

    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error; set prometheus.verify_tls: false only for a trusted self-signed endpoint"
    reason = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
    return reason.group(0).strip() if reason else type(exc).__name__


def _number(value: Any) -> float | None:
    try:
        number = float(value[1])
    except (TypeError, ValueError, IndexError):
        return None
    return number if math.isfinite(number) else None


def _identity(query: PromQuery, labels: Mapping[str, str]) -> dict[str, str]:
    resolved = dict.fromkeys(_IDENTITY, "")
    for column, candidates in query.labels:
        resolved[column] = next((labels[c] for c in candidates if labels.get(c)), "")
    if query.source == G:
        resolved.update(_gpu_attribution(labels))
    return resolved


_EXPORTER_CONTAINERS = frozenset({"nvidia-dcgm-exporter", "dcgm-exporter"})


def _gpu_attribution(labels: Mapping[str, str]) -> dict[str, str]:
    """Which pod a GPU series belongs to, whatever honorLabels / old-namespace setting produced it."""
    if labels.get("exported_pod"):
        # honorLabels: false → workload labels are exported_*; pod/namespace are the exporter's own.
        return {
            "namespace": labels.get("exported_namespace", ""),
            "pod": labels["exported_pod"],
            "container": labels.get("exported_container", ""),
        }
    pod = labels.get("pod") or labels.get("pod_name") or ""
    container = labels.get("container") or labels.get("container_name") or ""
    if container in _EXPORTER_CONTAINERS or pod.startswith(("nvidia-dcgm-exporter", "dcgm-exporter")):
        # An unallocated GPU is reported under the exporter's own pod; it belongs to nobody.
        return {"namespace": "", "pod": "", "container": ""}
    return {
        "namespace": labels.get("namespace") or labels.get("pod_namespace") or "",
        "pod": pod,
        "container": container,
    }


def _row(
    query: PromQuery, identity: Mapping[str, str], *, cluster: str, value: float, stat: str | None = None
) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "source": query.source,
        "signal": str(query.signal),
        "stat": stat or query.stat,
        **identity,
        "value": value,
        "samples": 0,
    }


def _kv_pool(labels: Mapping[str, str]) -> float | None:
    try:
        blocks, block_size = float(labels["num_gpu_blocks"]), float(labels["block_size"])
    except (KeyError, ValueError):
        return None  # label absent or "None" before the engine finished profiling
    pool = blocks * block_size
    return pool if math.isfinite(pool) and pool > 0 else None


def _hourly_rows(
    query: PromQuery, result: list[dict[str, Any]], *, cluster: str, start: datetime
) -> list[dict[str, Any]]:
    rows = []
    for series in result:
        identity = _identity(query, series.get("metric") or {})
        for point in series.get("values") or []:
            value = _number(point)
            if value is None:
                continue
            hour = round((float(point[0]) - start.timestamp()) / 3600) - 1
            if hour >= 0:
                rows.append(_row(query, identity, cluster=cluster, value=value, stat=f"h{hour:02d}"))
    return rows


def _fill_pool_models(rows: list[dict[str, Any]]) -> None:
    """vllm:cache_config_info carries no model label: borrow the pod's model when it serves exactly one."""
    models: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        if row["source"] == SV and row["model"]:
            models.setdefault((row["namespace"], row["pod"]), set()).add(row["model"])
    for row in rows:
        if row["signal"] == Signal.KV_POOL_TOKENS and not row["model"]:
            found = models.get((row["namespace"], row["pod"]), set())
            if len(found) == 1:
                row["model"] = next(iter(found))


def _dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    # Relabelled attribution (exported_* vs plain, old names) can map two series to one identity;
    # keep the worst value so no pressure signal is averaged away.
    keys = ["cluster", *_KEY_COLUMNS]
    if not frame.duplicated(keys).any():
        return frame
    merged = frame.groupby(keys, as_index=False, sort=False).agg(value=("value", "max"), samples=("samples", "max"))
    return _coerce(merged)


def metrics_source(config: PrometheusConfig) -> MetricsSource:
    """Snapshot file when configured, else the live Prometheus-compatible endpoint."""
    if config.snapshot is not None:
        return SnapshotMetrics(config.snapshot)
    return LivePrometheus(config)
