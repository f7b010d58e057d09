"""Window metrics as METRIC_COLUMNS rows: one fleet-wide PromQL query per signal, or a parquet snapshot."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any, Literal, Protocol

import pandas as pd

from inferops_pipeline.domain import METRIC_COLUMNS, CoverageRow, CoverageStatus, Signal
from inferops_pipeline.settings import ConfigError, PrometheusConfig
from inferops_pipeline.sources.errors import SnapshotError, one_line

log = logging.getLogger(__name__)

STRING_COLUMNS: tuple[str, ...] = tuple(c for c in METRIC_COLUMNS if c not in ("value", "samples"))
_KEY_COLUMNS: tuple[str, ...] = tuple(c for c in STRING_COLUMNS if c != "cluster")
_IDENTITY: tuple[str, ...] = ("namespace", "pod", "container", "node", "gpu_uuid", "model")
COVERAGE_COLUMNS: tuple[str, ...] = ("cluster", "source", "part", "status", "items", "detail", "duration_s")

# A series is "short" when it covers less than this share of the window's hours, or holds fewer
# samples per covered hour than this (one every 10 minutes): its percentiles are not trustworthy.
MIN_HOUR_SHARE = 0.9
MIN_SAMPLES_PER_HOUR = 6
# A signal is reported sparse when more than this share of its series are short.
SPARSE_SERIES_SHARE = 0.25


# --------------------------------------------------------------------------------------------
# What a fetch returns
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryStat:
    """One HTTP query: which signal, how long it took, what it returned and (if reported) scanned."""

    signal: str
    promql: str
    duration_s: float
    series: int
    samples_scanned: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class MetricsFetch:
    """Rows of one cluster plus what could be read (coverage) and what it cost (queries)."""

    frame: pd.DataFrame
    coverage: tuple[CoverageRow, ...]
    queries: tuple[QueryStat, ...] = ()
    error: str = ""  # set when the cluster's metrics could not be read at all


class MetricsSource(Protocol):
    def fetch(self, *, cluster: str, start: datetime, end: datetime) -> MetricsFetch:
        """Window statistics for one cluster: a METRIC_COLUMNS frame ('' for absent labels) and coverage."""
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


def sort_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical row order, so a live fetch and a snapshot of the same data compare row by row."""
    return frame.sort_values(list(STRING_COLUMNS), kind="stable").reset_index(drop=True)


def coverage_frame(rows: Iterable[CoverageRow]) -> pd.DataFrame:
    data = [{c: getattr(r, c) for c in COVERAGE_COLUMNS} for r in rows]
    frame = pd.DataFrame(data, columns=list(COVERAGE_COLUMNS))
    frame["status"] = frame["status"].astype(str)
    frame["items"] = frame["items"].astype("int64")
    frame["duration_s"] = frame["duration_s"].astype("float64")
    return frame


# --------------------------------------------------------------------------------------------
# Snapshot files (parquet, read and written through DuckDB so pyarrow is not needed)
# --------------------------------------------------------------------------------------------


class SnapshotMetrics:
    """A parquet file of metric rows for one or more clusters; the window is whatever it was written for."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._frame: pd.DataFrame | None = None

    def fetch(self, *, cluster: str, start: datetime, end: datetime) -> MetricsFetch:
        # A snapshot already holds window statistics; the window only sizes the coverage check.
        frame = self._load()
        rows = frame.loc[frame["cluster"] == cluster].reset_index(drop=True).copy()
        return MetricsFetch(rows, tuple(signal_coverage(rows, cluster=cluster, window=end - start)))

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
# PromQL text: escaping, matchers, durations
# --------------------------------------------------------------------------------------------


def promql_string(value: str) -> str:
    """The ONE place a label value becomes PromQL text: a double-quoted, escaped string literal.

    A namespace named `a"} or vector(1) #` stays a value; it can neither break nor extend the query.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def label_matcher(label: str, values: Sequence[str]) -> str:
    """`label="v"` for one value, `label=~"a|b"` (each value regex-quoted) for several."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", label):
        raise ValueError(f"not a label name: {label!r}")
    if len(values) == 1:
        return f"{label}={promql_string(values[0])}"
    pattern = "|".join(_RE2_SPECIAL.sub(r"\\\1", v) for v in values)
    return f"{label}=~{promql_string(pattern)}"


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
    """Put the matcher into every selector; templates write every selector with braces, and no other braces."""
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


def window_hours(window: timedelta) -> int:
    """Hour marks a series alive for the whole window is seen at (the `hours` stat's ceiling)."""
    return max(1, int(window.total_seconds() // 3600))


# --------------------------------------------------------------------------------------------
# The query table: one query per signal, each returning every stat of that signal
# --------------------------------------------------------------------------------------------

Mode = Literal["instant", "hourly", "kv_pool"]
STAT_LABEL = "inferops_stat"  # label_replace tags each leg's series with the stat it computes

# DCGM attribution labels differ by ServiceMonitor honorLabels and --use-old-namespace; keep all of
# them through the aggregation and choose Python-side (see _gpu_attribution).
_GPU_BY = (
    "UUID, uuid, GPU_I_ID, GPU_I_PROFILE, Hostname, hostname, exported_namespace, exported_pod, exported_container, "
    "namespace, pod, container, pod_namespace, pod_name, container_name"
)
_SERVING_BY = "namespace, pod, model_name, model"
_CONTAINER_BY = "namespace, pod, container"

# Restricting container series to GPU pods keeps the sample count small on big clusters; the
# max_over_time keeps pods that were deleted before the window end.
_GPU_PODS = (
    " and on (namespace, pod) (max by (namespace, pod) "
    "(max_over_time(kube_pod_container_resource_requests"
    '{resource=~"nvidia_com_gpu|nvidia_com_mig_.+"}[${window}])) > 0)'
)


@dataclass(frozen=True, slots=True)
class Selector:
    """One way a signal is exposed: a selector (braces included) and a scale applied to values."""

    text: str
    scale: str = ""  # e.g. " / 100" for DCGM_FI_DEV_GPU_UTIL (percent)


def _names(*names: str) -> str:
    """A regex-name selector; `[:_]` accepts pipelines that rewrite colons to underscores."""
    return "{__name__=~" + promql_string("|".join(names)) + "}"


_OVER_TIME = {
    "mean": "avg_over_time(",
    "max": "max_over_time(",
    "min": "min_over_time(",
    "last": "last_over_time(",
    "samples": "count_over_time(",
    "hours": "count_over_time(",
}


def _over_time(stat: str, selector: str) -> str:
    if stat.startswith("p"):
        return f"quantile_over_time(0.{stat[1:]}, {selector}[${{window}}])"
    # count_over_time over a 1 h subquery counts the hour marks at which the series had a sample
    # (5 min lookback): hours with data, the scrape-gap detector.
    window = "[${window}:1h]" if stat == "hours" else "[${window}]"
    return f"{_OVER_TIME[stat]}{selector}{window})"


def _gauge_leg(stat: str, alternatives: Sequence[Selector], by: str, combine: str) -> str:
    """`stat` of a gauge; per identity the first alternative with series wins (`or`)."""
    agg = "max" if stat in ("samples", "hours") else combine
    parts = []
    for alt in alternatives:
        scale = "" if stat in ("samples", "hours") else alt.scale
        parts.append(f"{agg} by ({by}) ({_over_time(stat, alt.text)}){scale}")
    return " or ".join(parts)


def _count_legs(selector: str, by: str) -> tuple[tuple[str, str], ...]:
    return tuple((stat, f"max by ({by}) ({_over_time(stat, selector)})") for stat in ("samples", "hours"))


@dataclass(frozen=True, slots=True)
class SignalQuery:
    source: str  # gpu | serving | traffic | container
    signal: Signal
    legs: tuple[tuple[str, str], ...]  # (stat, PromQL template over ${window}) — samples/hours included
    labels: tuple[tuple[str, tuple[str, ...]], ...]  # output column -> candidate labels, first present wins
    match: str  # series selector naming the metrics, for label-values look-ups when splitting
    split_labels: tuple[str, ...]  # labels to shard by when the server refuses the whole fleet at once
    restrict_to_gpu_pods: bool = False
    mode: Mode = "instant"

    @property
    def stats(self) -> tuple[str, ...]:
        return tuple(stat for stat, _ in self.legs if stat not in ("samples", "hours"))

    def template(self) -> str:
        legs = " or ".join(
            f"label_replace({expr}, {promql_string(STAT_LABEL)}, {promql_string(stat)}, {promql_string('')}, "
            f"{promql_string('')})"
            for stat, expr in self.legs
        )
        if self.restrict_to_gpu_pods:
            return f"({legs}){_GPU_PODS}"
        return legs


def _gauge(
    source: str,
    signal: Signal,
    alternatives: Sequence[Selector],
    stats: Sequence[str],
    *,
    by: str,
    labels: tuple[tuple[str, tuple[str, ...]], ...],
    split: tuple[str, ...],
    combine: str = "max",
    restrict: bool = False,
) -> SignalQuery:
    legs = tuple((stat, _gauge_leg(stat, alternatives, by, combine)) for stat in (*stats, "samples", "hours"))
    match = alternatives[0].text if len(alternatives) == 1 else _match_union(alternatives)
    return SignalQuery(source, signal, legs, labels, match, split, restrict)


def _match_union(alternatives: Sequence[Selector]) -> str:
    # Label-value look-ups accept several match[]; we send one, so union the metric names.
    names = []
    for alt in alternatives:
        found = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)\{", alt.text)
        if found:
            names.append(re.escape(found.group(1)))
        else:
            inner = re.search(r'__name__=~"([^"]*)"', alt.text)
            names.append(inner.group(1) if inner else ".+")
    return _names(*names)


_GPU_LABELS = (
    ("gpu_uuid", ("UUID", "uuid")),
    ("node", ("Hostname", "hostname")),
)
_SERVING_LABELS = (("namespace", ("namespace",)), ("pod", ("pod",)), ("model", ("model_name", "model")))
_CONTAINER_LABELS = (("namespace", ("namespace",)), ("pod", ("pod",)), ("container", ("container",)))
_GPU_SPLIT = ("Hostname", "hostname", "instance", "UUID")
_POD_SPLIT = ("namespace", "pod")


def _dcgm(*names: str, scale: str = "") -> list[Selector]:
    return [Selector(f"{name}{{}}", scale if i else "") for i, name in enumerate(names)]


def _gpu(signal: Signal, alternatives: Sequence[Selector], stats: Sequence[str], combine: str = "max") -> SignalQuery:
    return _gauge("gpu", signal, alternatives, stats, by=_GPU_BY, labels=_GPU_LABELS, split=_GPU_SPLIT, combine=combine)


def _serving(signal: Signal, alternatives: Sequence[Selector], stats: Sequence[str], combine: str) -> SignalQuery:
    return _gauge(
        "serving",
        signal,
        alternatives,
        stats,
        by=_SERVING_BY,
        labels=_SERVING_LABELS,
        split=_POD_SPLIT,
        combine=combine,
    )


def _counter(signal: Signal, names: Sequence[str]) -> SignalQuery:
    """increase() summed per pod and model (vLLM data-parallel engines are summed)."""
    selector = _names(*names)
    legs = (
        ("increase", f"sum by ({_SERVING_BY}) (increase({selector}[${{window}}]))"),
        *_count_legs(selector, _SERVING_BY),
    )
    return SignalQuery("serving", signal, legs, _SERVING_LABELS, selector, _POD_SPLIT)


def _histogram(signal: Signal, names: Sequence[str]) -> SignalQuery:
    buckets = _names(*(f"{n}_bucket" for n in names))
    legs = tuple(
        (
            f"p{q}",
            f"histogram_quantile(0.{q}, sum by (le, {_SERVING_BY}) (increase({buckets}[${{window}}])))",
        )
        for q in ("50", "95", "99")
    )
    # Samples are those of the +Inf bucket: one per scrape, whatever the bucket layout.
    inf = "{__name__=~" + promql_string("|".join(f"{n}_bucket" for n in names)) + ", le=" + promql_string("+Inf") + "}"
    return SignalQuery("serving", signal, (*legs, *_count_legs(inf, _SERVING_BY)), _SERVING_LABELS, buckets, _POD_SPLIT)


_KV_USAGE = Selector(
    _names(
        "vllm[:_]kv_cache_usage_perc",
        "vllm[:_]gpu_cache_usage_perc",
        "sglang[:_]token_usage",
        "sglang[:_]kv_cache_usage(_perc)?",
        "trtllm_kv_cache_utilization",
    )
)
_TRT_KV = Selector("nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=" + promql_string("fraction") + "}")
_RUNNING = Selector(
    _names(
        "vllm[:_]num_requests_running",
        "sglang[:_]num_running_reqs",
        "tgi_batch_current_size",
        "trtllm_num_requests_running",
    )
)
_TRT_RUNNING = Selector("nv_trt_llm_request_metrics{request_type=" + promql_string("scheduled") + "}")
_WAITING = Selector(
    _names("vllm[:_]num_requests_waiting", "sglang[:_]num_queue_reqs", "tgi_queue_size", "trtllm_num_requests_waiting")
)
_TRT_WAITING = Selector("nv_trt_llm_request_metrics{request_type=" + promql_string("waiting") + "}")
_REQUESTS = _names(
    "vllm[:_]request_success_total",
    "sglang[:_]num_requests_total",
    "tgi_request_success",
    "nv_inference_request_success",
)
_CADVISOR = "{container!=" + promql_string("") + ", image!=" + promql_string("") + "}"
_CPU_RULE = "node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m{}"
_CPU_RAW_COUNTER = f"container_cpu_usage_seconds_total{_CADVISOR}"
_CPU_RAW = f"(sum by ({_CONTAINER_BY}) (rate({_CPU_RAW_COUNTER}[5m])))"
_RESTARTS_SEL = "kube_pod_container_status_restarts_total{}"
_RESTARTS = f"max by ({_CONTAINER_BY}) (increase({_RESTARTS_SEL}[${{window}}]))"


def _cpu_leg(stat: str) -> str:
    if stat in ("samples", "hours"):
        # Count scrapes of what was read: the recording rule's, else the raw counter's.
        return (
            f"max by ({_CONTAINER_BY}) ({_over_time(stat, _CPU_RULE)}) "
            f"or max by ({_CONTAINER_BY}) ({_over_time(stat, _CPU_RAW_COUNTER)})"
        )
    fn = _over_time(stat, "X")
    agg = "avg" if stat == "mean" else "max"
    rule = fn.replace("X", _CPU_RULE)
    # Without the kubernetes-mixin recording rule: the same 5m rate as a subquery (OpenCost does this).
    raw = fn.replace("X[${window}]", f"{_CPU_RAW}[${{window}}:5m]")
    return f"{agg} by ({_CONTAINER_BY}) ({rule}) or {agg} by ({_CONTAINER_BY}) ({raw})"


def _container(signal: Signal, legs: tuple[tuple[str, str], ...], match: str) -> SignalQuery:
    return SignalQuery("container", signal, legs, _CONTAINER_LABELS, match, _POD_SPLIT, restrict_to_gpu_pods=True)


_THROTTLE = (
    f"sum by ({_CONTAINER_BY}) (increase(container_cpu_cfs_throttled_periods_total{_CADVISOR}[${{window}}])) "
    f"/ sum by ({_CONTAINER_BY}) (increase(container_cpu_cfs_periods_total{_CADVISOR}[${{window}}]))"
)
# last_terminated_reason keeps the *last* reason forever, so count it only when the container
# restarted inside the window; other GPU containers get an explicit 0.
_OOM = (
    f"(max by ({_CONTAINER_BY}) (max_over_time(kube_pod_container_status_last_terminated_reason"
    f"{{reason={promql_string('OOMKilled')}}}[${{window}}])) and on (namespace, pod, container) ({_RESTARTS} > 0)) "
    f"or {_RESTARTS} * 0"
)

QUERIES: tuple[SignalQuery, ...] = (
    # --- GPU, per device and MIG instance (DCGM) ---
    _gpu(
        Signal.GPU_UTIL,
        # PROF_GR_ENGINE_ACTIVE needs the DCP module; per GPU, fall back to the coarse DEV_GPU_UTIL (percent).
        _dcgm("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_GPU_UTIL", scale=" / 100"),
        ("mean", "p50", "p95", "p99", "max"),
        combine="avg",
    ),
    _gpu(Signal.GPU_FB_USED_MIB, _dcgm("DCGM_FI_DEV_FB_USED"), ("mean", "max")),
    _gpu(Signal.GPU_FB_FREE_MIB, _dcgm("DCGM_FI_DEV_FB_FREE"), ("min", "last")),
    _gpu(Signal.GPU_FB_RESERVED_MIB, _dcgm("DCGM_FI_DEV_FB_RESERVED"), ("last",)),
    SignalQuery(
        "gpu",
        Signal.GPU_FB_TOTAL_MIB,
        (
            (
                "max",
                # used + free + reserved ≈ the card; older default-counters lack RESERVED.
                f"max by ({_GPU_BY}) (last_over_time(DCGM_FI_DEV_FB_USED{{}}[${{window}}]) "
                f"+ last_over_time(DCGM_FI_DEV_FB_FREE{{}}[${{window}}]) "
                f"+ last_over_time(DCGM_FI_DEV_FB_RESERVED{{}}[${{window}}])) "
                f"or max by ({_GPU_BY}) (last_over_time(DCGM_FI_DEV_FB_USED{{}}[${{window}}]) "
                f"+ last_over_time(DCGM_FI_DEV_FB_FREE{{}}[${{window}}]))",
            ),
            *_count_legs("DCGM_FI_DEV_FB_USED{}", _GPU_BY),
        ),
        _GPU_LABELS,
        "DCGM_FI_DEV_FB_USED{}",
        _GPU_SPLIT,
    ),
    _gpu(Signal.GPU_POWER_W, _dcgm("DCGM_FI_DEV_POWER_USAGE"), ("mean", "max"), combine="avg"),
    _gpu(Signal.GPU_SM_ACTIVE, _dcgm("DCGM_FI_PROF_SM_ACTIVE"), ("mean", "p95"), combine="avg"),
    _gpu(Signal.GPU_DRAM_ACTIVE, _dcgm("DCGM_FI_PROF_DRAM_ACTIVE"), ("mean", "p95"), combine="avg"),
    # --- serving engines, per (namespace, pod, model) ---
    _serving(Signal.KV_CACHE_USAGE, [_KV_USAGE, _TRT_KV], ("mean", "p50", "p95", "p99", "max"), "max"),
    # Counts are summed across vLLM data-parallel engines (label `engine`) of one pod.
    _serving(Signal.REQUESTS_RUNNING, [_RUNNING, _TRT_RUNNING], ("mean", "p95", "p99", "max"), "sum"),
    _serving(Signal.REQUESTS_WAITING, [_WAITING, _TRT_WAITING], ("mean", "p95", "max"), "sum"),
    _serving(Signal.BATCH_TOKENS, [Selector("tgi_batch_current_max_tokens{}")], ("p95", "max"), "sum"),
    _counter(Signal.PREEMPTIONS, ["vllm[:_]num_preemptions_total"]),
    _counter(Signal.PROMPT_TOKENS, ["vllm[:_]prompt_tokens_total", "sglang[:_]prompt_tokens_total"]),
    _counter(Signal.GENERATION_TOKENS, ["vllm[:_]generation_tokens_total", "sglang[:_]generation_tokens_total"]),
    _histogram(Signal.TTFT_SECONDS, ["vllm[:_]time_to_first_token_seconds", "sglang[:_]time_to_first_token_seconds"]),
    _histogram(
        Signal.ITL_SECONDS,
        [
            "vllm[:_]inter_token_latency_seconds",
            "vllm[:_]time_per_output_token_seconds",
            "sglang[:_]inter_token_latency_seconds",
            "sglang[:_]time_per_output_token_seconds",
            "tgi_request_mean_time_per_token_duration",
        ],
    ),
    # The pool size lives in label values (num_gpu_blocks × block_size), multiplied Python-side.
    SignalQuery(
        "serving",
        Signal.KV_POOL_TOKENS,
        (
            (
                "max",
                f"max by ({_SERVING_BY}, num_gpu_blocks, block_size) "
                f"(last_over_time({_names('vllm[:_]cache_config_info')}[${{window}}]))",
            ),
            *_count_legs(_names("vllm[:_]cache_config_info"), _SERVING_BY),
        ),
        _SERVING_LABELS,
        _names("vllm[:_]cache_config_info"),
        _POD_SPLIT,
        mode="kv_pool",
    ),
    # One range query with hour steps: each point is the mean request rate of the hour before it.
    SignalQuery(
        "traffic",
        Signal.REQUEST_RATE,
        (
            ("rate", f"sum by ({_SERVING_BY}) (rate({_REQUESTS}[1h]))"),
            ("samples", f"max by ({_SERVING_BY}) (count_over_time({_REQUESTS}[1h]))"),
        ),
        _SERVING_LABELS,
        _REQUESTS,
        _POD_SPLIT,
        mode="hourly",
    ),
    # --- containers of GPU pods (cAdvisor + kube-state-metrics) ---
    _container(
        Signal.CPU_USAGE_CORES,
        tuple((stat, _cpu_leg(stat)) for stat in ("mean", "p95", "max", "samples", "hours")),
        _match_union([Selector(_CPU_RULE), Selector(_CPU_RAW_COUNTER)]),
    ),
    _container(
        Signal.CPU_THROTTLE_RATIO,
        (("mean", _THROTTLE), *_count_legs(f"container_cpu_cfs_periods_total{_CADVISOR}", _CONTAINER_BY)),
        f"container_cpu_cfs_periods_total{_CADVISOR}",
    ),
    _container(
        Signal.MEMORY_WORKING_SET_BYTES,
        tuple(
            (stat, f"max by ({_CONTAINER_BY}) ({_over_time(stat, f'container_memory_working_set_bytes{_CADVISOR}')})")
            for stat in ("p95", "max", "samples", "hours")
        ),
        f"container_memory_working_set_bytes{_CADVISOR}",
    ),
    _container(Signal.RESTARTS, (("increase", _RESTARTS), *_count_legs(_RESTARTS_SEL, _CONTAINER_BY)), _RESTARTS_SEL),
    _container(Signal.OOM_KILLED, (("max", _OOM), *_count_legs(_RESTARTS_SEL, _CONTAINER_BY)), _RESTARTS_SEL),
)

PARTS: tuple[str, ...] = tuple(str(q.signal) for q in QUERIES)


def render(query: SignalQuery, *, window: str, matchers: Sequence[str] = ()) -> str:
    body = Template(query.template()).substitute(window=window)
    return with_matcher(body, ", ".join(m for m in matchers if m))


# --------------------------------------------------------------------------------------------
# Transport: one HTTP session per server (auth, TLS, retries), POSTed queries with stats
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromCredentials:
    """Resolved secrets (from defs/resources.py, the only reader of env vars)."""

    headers: tuple[tuple[str, str], ...] = ()
    basic_auth: tuple[str, str] | None = None


ErrorKind = Literal["too_large", "timeout", "unreachable", "denied", "rejected"]


class PromQueryError(Exception):
    """A query failed; `kind` says whether splitting it can help (too_large, timeout) or nothing will."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Answer:
    result: list[dict[str, Any]]
    samples_scanned: int | None = None


class PromTransport(Protocol):
    def query(self, promql: str, *, time: float) -> Answer: ...

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> Answer: ...

    def label_values(self, label: str, *, match: str, start: float, end: float) -> list[str]: ...


# Server messages that mean "this query is too big", across Prometheus, Thanos and Mimir.
_TOO_LARGE = re.compile(
    r"too many samples|max(imum)?[ _-]?samples|exceeded the maximum|err-mimir-max|limit.*(series|chunks|samples)|"
    r"resource exhausted|out of bounds",
    re.IGNORECASE,
)
_TIMED_OUT = re.compile(r"timed? ?out|deadline exceeded|context canceled", re.IGNORECASE)


class HttpTransport:
    """prometheus-api-client's session set-up (retries, TLS, auth); queries POSTed with `stats=all`.

    POST keeps split queries (long regex matchers) out of URLs that proxies cap at a few KiB, and
    asking for stats reports the samples each query scanned; the client's custom_query drops both.
    """

    def __init__(self, config: PrometheusConfig, credentials: PromCredentials) -> None:
        import requests
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        if not config.url:
            raise ConfigError("prometheus.url: required when no prometheus.snapshot is configured")
        self.url = config.url.rstrip("/")
        self.timeout = config.timeout_s
        session = requests.Session()
        session.verify = str(config.ca_file) if config.ca_file and config.verify_tls else config.verify_tls
        if config.cert_file:
            session.cert = (str(config.cert_file), str(config.key_file)) if config.key_file else str(config.cert_file)
        session.headers.update(dict(credentials.headers))
        if credentials.basic_auth:
            session.auth = credentials.basic_auth
        self.session = session
        # The client mounts its retrying adapter on our session and does the label-value look-ups.
        # Retry connecting briefly, never a query the server answered: a 503 there means "timed out",
        # and splitting, not repeating, is the cure.
        self.client = PrometheusConnect(
            url=self.url,
            session=session,
            headers=dict(credentials.headers) or None,
            auth=credentials.basic_auth,
            timeout=int(math.ceil(self.timeout)) + 5,
            retry=Retry(total=2, connect=2, read=0, status=0, other=0, backoff_factor=0.2),
        )

    def query(self, promql: str, *, time: float) -> Answer:
        return self._post("query", {"query": promql, "time": f"{time:.3f}"})

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> Answer:
        return self._post("query_range", {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": step})

    def label_values(self, label: str, *, match: str, start: float, end: float) -> list[str]:
        from prometheus_api_client import PrometheusApiClientException

        try:
            values = self.client.get_label_values(label, params={"match[]": match, "start": start, "end": end})
        except PrometheusApiClientException as exc:
            raise PromQueryError("rejected", _api_error(str(exc))) from None
        except Exception as exc:  # requests' errors: connection, TLS, timeout
            raise _transport_error(exc) from None
        return sorted(str(v) for v in values or [])

    def _post(self, endpoint: str, data: dict[str, Any]) -> Answer:
        # The server gives up no later than we do, instead of computing an answer nobody reads.
        data = {**data, "timeout": f"{self.timeout:g}s", "stats": "all"}
        try:
            response = self.session.post(f"{self.url}/api/v1/{endpoint}", data=data, timeout=self.timeout + 5)
        except Exception as exc:
            raise _transport_error(exc) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (401, 403):
            raise PromQueryError("denied", f"HTTP {response.status_code}: check prometheus auth settings")
        if not isinstance(body, dict) or "status" not in body:
            # A 200 whose body is not Prometheus JSON: a proxy login page or a wrong URL path.
            raise PromQueryError(
                "rejected", f"HTTP {response.status_code}: response is not Prometheus JSON (is the URL right?)"
            )
        if body.get("status") != "success":
            error = one_line(body.get("error") or body.get("errorType") or "unknown error", limit=240)
            kind: ErrorKind = "rejected"
            if _TOO_LARGE.search(error):
                kind = "too_large"
            elif body.get("errorType") == "timeout" or _TIMED_OUT.search(error) or response.status_code in (503, 504):
                kind = "timeout"
            raise PromQueryError(kind, f"HTTP {response.status_code}: {error}")
        data_block = body.get("data") or {}
        stats = (data_block.get("stats") or {}).get("samples") or {}
        scanned = stats.get("totalQueryableSamples")
        return Answer(list(data_block.get("result") or []), int(scanned) if scanned is not None else None)


def _transport_error(exc: Exception) -> PromQueryError:
    """The bare reason (refused, DNS, TLS, timeout) without urllib3's retry wrapper and the whole URL."""
    import requests

    if isinstance(exc, requests.exceptions.Timeout):
        return PromQueryError("timeout", "timed out")
    if isinstance(exc, requests.exceptions.SSLError):
        return PromQueryError(
            "unreachable", "TLS error; set prometheus.ca_file (or verify_tls: false only for a trusted lab endpoint)"
        )
    if isinstance(exc, requests.exceptions.RequestException):
        reason = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
        return PromQueryError("unreachable", reason.group(0).strip() if reason else type(exc).__name__)
    return PromQueryError("rejected", one_line(exc, limit=200))


def _api_error(text: str) -> str:
    """prometheus-api-client reports `HTTP Status Code N (b'<json body>')`; surface Prometheus' own error text."""
    import ast

    match = re.match(r"HTTP Status Code (\d+) \((b(['\"]).*\3)\)$", text, re.DOTALL)
    if not match:
        return one_line(text, limit=200)
    try:
        body = json.loads(ast.literal_eval(match.group(2)))
        error = body.get("error") if isinstance(body, dict) else None
    except (ValueError, SyntaxError, TypeError):
        error = None
    status = f"HTTP {match.group(1)}"
    return f"{status}: {one_line(error, limit=240)}" if error else f"{status} ({one_line(match.group(2), limit=160)})"


# --------------------------------------------------------------------------------------------
# Live Prometheus / Thanos / Mimir
# --------------------------------------------------------------------------------------------

MAX_QUERIES_PER_SIGNAL = 64  # split budget: past it the signal is reported as an error, not retried forever
_SPLIT_WAYS = 4


@dataclass(frozen=True, slots=True)
class _Part:
    """A slice of the fleet: matchers fixed by earlier splits, plus a chunk of values of one label."""

    matchers: tuple[str, ...] = ()
    label: str = ""
    values: tuple[str, ...] = ()
    tried: tuple[str, ...] = ()  # split labels already used on the way here

    def all_matchers(self) -> tuple[str, ...]:
        if not self.label:
            return self.matchers
        own = label_matcher(self.label, self.values) if self.values else f"{self.label}={promql_string('')}"
        return (*self.matchers, own)


@dataclass
class _SignalRun:
    # Rows become a frame as soon as the signal is answered: a dict per row for every signal at once would be
    # ~1 GiB at 20,000 GPUs, a frame per signal is a tenth of that.
    frame: pd.DataFrame = field(default_factory=lambda: _frame([]))
    queries: list[QueryStat] = field(default_factory=list)
    split_by: list[str] = field(default_factory=list)
    error: PromQueryError | None = None


class LivePrometheus:
    """One query per signal at time=end (plus one hourly range query), ≤4 in flight, split when refused."""

    def __init__(
        self,
        config: PrometheusConfig,
        *,
        credentials: PromCredentials | None = None,
        transport: PromTransport | None = None,
    ) -> None:
        if not config.url and transport is None:
            raise ConfigError("prometheus.url: required when no prometheus.snapshot is configured")
        self.config = config
        self.url = (config.url or "").rstrip("/")
        self.matcher = normalise_cluster_matcher(config.cluster_matcher)
        self.credentials = credentials or PromCredentials()
        self._transport = transport
        self._lock = threading.Lock()

    @property
    def transport(self) -> PromTransport:
        with self._lock:
            if self._transport is None:
                self._transport = HttpTransport(self.config, self.credentials)
            return self._transport

    def queries(self, window: str) -> list[str]:
        """Every PromQL string fetch() sends for a window such as '24h' (for inspection and tests)."""
        return [render(q, window=window, matchers=(self.matcher or "",)) for q in QUERIES]

    def fetch(self, *, cluster: str, start: datetime, end: datetime) -> MetricsFetch:
        start, end = _aware(start), _aware(end)
        window = end - start
        transport = self.transport
        try:
            # A trivial query first: an unreachable or unauthorised server is one clear error, not 25.
            transport.query("vector(1)", time=end.timestamp())
        except PromQueryError as exc:
            return self._failed(cluster, exc)
        runs: dict[str, _SignalRun] = {}

        def run(query: SignalQuery) -> None:
            runs[str(query.signal)] = self._run_signal(query, cluster=cluster, start=start, end=end)

        with ThreadPoolExecutor(max_workers=self.config.max_concurrency, thread_name_prefix="promql") as pool:
            list(pool.map(run, QUERIES))
        fatal = next((r.error for r in runs.values() if r.error and r.error.kind in ("unreachable", "denied")), None)
        if fatal is not None:
            # The server went away (or revoked us) mid-run: partial rows would read as "no traffic".
            return self._failed(cluster, fatal, queries=[q for r in runs.values() for q in r.queries])
        frame = _dedupe(_fill_pool_models(pd.concat([runs[str(q.signal)].frame for q in QUERIES], ignore_index=True)))
        coverage = []
        for row in signal_coverage(frame, cluster=cluster, window=window):
            r = runs[row.part]
            status, detail = row.status, "; ".join(d for d in (row.detail, _query_detail(r)) if d)
            if r.error is not None:
                status, detail = CoverageStatus.ERROR, f"{r.error}; {_query_detail(r)}"
            spent = round(sum(q.duration_s for q in r.queries), 4)
            coverage.append(CoverageRow(cluster, "prometheus", row.part, status, row.items, one_line(detail), spent))
        errors = [r for r in coverage if r.status == CoverageStatus.ERROR]
        for row in errors:
            log.error("prometheus %s: cluster %s: %s: %s", self.url, cluster, row.part, row.detail)
        queries = tuple(q for query in QUERIES for q in runs[str(query.signal)].queries)
        return MetricsFetch(frame, tuple(coverage), queries)

    def _failed(self, cluster: str, exc: PromQueryError, *, queries: Sequence[QueryStat] = ()) -> MetricsFetch:
        status = CoverageStatus.DENIED if exc.kind == "denied" else CoverageStatus.ERROR
        message = f"{self.url}: {'access denied' if exc.kind == 'denied' else 'cannot query Prometheus'} ({exc})"
        log.error("cluster %s: metrics missing: %s", cluster, message)
        coverage = tuple(CoverageRow(cluster, "prometheus", part, status, 0, message) for part in PARTS)
        return MetricsFetch(empty_metrics_frame(), coverage, tuple(queries), error=message)

    # ---------------------------------------------------------------- one signal, split on demand
    def _run_signal(self, query: SignalQuery, *, cluster: str, start: datetime, end: datetime) -> _SignalRun:
        run = _SignalRun()
        window = promql_duration(end - start)
        base = (self.matcher,) if self.matcher else ()
        pending = [_Part(matchers=base)]
        results: list[dict[str, Any]] = []
        while pending:
            part = pending.pop(0)
            if len(run.queries) >= MAX_QUERIES_PER_SIGNAL:
                run.error = PromQueryError("too_large", f"still refused after {len(run.queries)} split queries")
                break
            promql = render(query, window=window, matchers=part.all_matchers())
            try:
                answer = self._timed(query, promql, run, start=start, end=end)
            except PromQueryError as exc:
                if exc.kind not in ("too_large", "timeout"):
                    run.error = exc
                    break
                smaller = self._split(query, part, start=start, end=end, run=run)
                if not smaller:
                    run.error = PromQueryError(exc.kind, f"{exc} (cannot split further)")
                    break
                pending = smaller + pending
                continue
            results.extend(answer.result)
        if run.error is None:
            run.frame = _frame(_rows(query, results, cluster=cluster, start=start, end=end))
        return run

    def _timed(self, query: SignalQuery, promql: str, run: _SignalRun, *, start: datetime, end: datetime) -> Answer:
        began = time.perf_counter()
        try:
            if query.mode == "hourly":
                first = start + timedelta(hours=1)
                if first > end:
                    return Answer([])  # a window shorter than an hour has no complete hour bucket
                answer = self.transport.query_range(promql, start=first.timestamp(), end=end.timestamp(), step=3600)
            else:
                answer = self.transport.query(promql, time=end.timestamp())
        except PromQueryError as exc:
            run.queries.append(QueryStat(str(query.signal), promql, time.perf_counter() - began, 0, error=str(exc)))
            raise
        run.queries.append(
            QueryStat(
                str(query.signal), promql, time.perf_counter() - began, len(answer.result), answer.samples_scanned
            )
        )
        return answer

    def _split(
        self, query: SignalQuery, part: _Part, *, start: datetime, end: datetime, run: _SignalRun
    ) -> list[_Part]:
        """Halve a chunk of label values, or shard by the next label (namespace → pod, node → GPU)."""
        if len(part.values) > 1:
            half = len(part.values) // 2
            return [
                _Part(part.matchers, part.label, part.values[:half], part.tried),
                _Part(part.matchers, part.label, part.values[half:], part.tried),
            ]
        for label in query.split_labels:
            if label in part.tried:
                continue
            match = with_matcher(query.match, ", ".join(part.all_matchers()))
            try:
                values = self.transport.label_values(label, match=match, start=start.timestamp(), end=end.timestamp())
            except PromQueryError:
                continue
            tried = (*part.tried, label)
            if len(values) < 2:
                continue
            if label not in run.split_by:
                run.split_by.append(label)
            size = math.ceil(len(values) / _SPLIT_WAYS)
            chunks = [tuple(values[i : i + size]) for i in range(0, len(values), size)]
            fixed = part.all_matchers()
            # The last part holds series without the label (e.g. `hostname` where others say `Hostname`).
            return [*(_Part(fixed, label, chunk, tried) for chunk in chunks), _Part(fixed, label, (), tried)]
        return []


def _query_detail(run: _SignalRun) -> str:
    n = len(run.queries)
    scanned = [q.samples_scanned for q in run.queries if q.samples_scanned is not None]
    text = f"{n} quer{'y' if n == 1 else 'ies'}"
    if run.split_by:
        text += f" (split by {', '.join(run.split_by)})"
    if scanned:
        text += f", {sum(scanned):,} samples scanned"
    return text


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _identity(query: SignalQuery, labels: Mapping[str, str]) -> dict[str, str]:
    resolved = dict.fromkeys(_IDENTITY, "")
    for column, candidates in query.labels:
        resolved[column] = next((labels[c] for c in candidates if labels.get(c)), "")
    if query.source == "gpu":
        resolved.update(_gpu_attribution(labels))
        if labels.get("GPU_I_ID"):
            # MIG: UUID is the parent card's; the instance id makes each slice its own device.
            resolved["gpu_uuid"] = f"{resolved['gpu_uuid']}/mig-{labels['GPU_I_ID']}"
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


def _row(query: SignalQuery, identity: Mapping[str, str], *, cluster: str, stat: str, value: float) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "source": query.source,
        "signal": str(query.signal),
        "stat": stat,
        **identity,
        "value": value,
        "samples": 0,
    }


def _rows(
    query: SignalQuery, result: list[dict[str, Any]], *, cluster: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Series of every leg → value rows whose `samples` is the identity's count, plus `hours` rows."""
    if query.mode == "hourly":
        return _hourly_rows(query, result, cluster=cluster, start=start)
    ceiling = window_hours(end - start)
    values: list[tuple[tuple[str, ...], dict[str, str], str, float]] = []
    samples: dict[tuple[str, ...], int] = {}
    hours: dict[tuple[str, ...], tuple[dict[str, str], float]] = {}
    for series in result:
        labels = dict(series.get("metric") or {})
        stat = labels.pop(STAT_LABEL, "")
        point = series.get("value") or [None, None]
        value = _number(point[1])
        if value is None or not stat:
            continue  # NaN from 0/0 or an empty histogram is "not observed", not a number
        identity = _identity(query, labels)
        key = tuple(identity[c] for c in _IDENTITY)
        if stat == "samples":
            samples[key] = max(samples.get(key, 0), int(value))
        elif stat == "hours":
            hours[key] = (identity, min(value, float(ceiling)))
        elif query.mode == "kv_pool":
            pool = _kv_pool(labels)
            if pool is not None:
                values.append((key, identity, stat, pool))
        else:
            values.append((key, identity, stat, value))
    rows = []
    for key, identity, stat, value in values:
        row = _row(query, identity, cluster=cluster, stat=stat, value=value)
        # A value without a matching count still proves the series existed.
        row["samples"] = samples.get(key, 1) or 1
        rows.append(row)
    for key, (identity, value) in hours.items():
        row = _row(query, identity, cluster=cluster, stat="hours", value=value)
        row["samples"] = samples.get(key, 0)
        rows.append(row)
    return rows


def _kv_pool(labels: Mapping[str, str]) -> float | None:
    try:
        blocks, block_size = float(labels["num_gpu_blocks"]), float(labels["block_size"])
    except (KeyError, ValueError):
        return None  # label absent or "None" before the engine finished profiling
    pool = blocks * block_size
    return pool if math.isfinite(pool) and pool > 0 else None


def _hourly_rows(
    query: SignalQuery, result: list[dict[str, Any]], *, cluster: str, start: datetime
) -> list[dict[str, Any]]:
    rates: dict[tuple[tuple[str, ...], int], tuple[dict[str, str], float]] = {}
    counts: dict[tuple[tuple[str, ...], int], int] = {}
    for series in result:
        labels = dict(series.get("metric") or {})
        stat = labels.pop(STAT_LABEL, "")
        identity = _identity(query, labels)
        key = tuple(identity[c] for c in _IDENTITY)
        for point in series.get("values") or []:
            value = _number(point[1])
            hour = round((float(point[0]) - start.timestamp()) / 3600) - 1
            if value is None or hour < 0:
                continue
            if stat == "samples":
                counts[(key, hour)] = int(value)
            elif stat == "rate":
                rates[(key, hour)] = (identity, value)
    rows = []
    for (key, hour), (identity, value) in rates.items():
        row = _row(query, identity, cluster=cluster, stat=f"h{hour:02d}", value=value)
        row["samples"] = counts.get((key, hour), 1) or 1
        rows.append(row)
    return rows


def _fill_pool_models(frame: pd.DataFrame) -> pd.DataFrame:
    """vllm:cache_config_info carries no model label: borrow the pod's model when it serves exactly one."""
    missing = (frame["signal"] == Signal.KV_POOL_TOKENS.value) & (frame["model"] == "")
    if not missing.any():
        return frame
    serving = frame[(frame["source"] == "serving") & (frame["model"] != "")]
    models = serving.groupby(["namespace", "pod"])["model"].unique()
    only = {key: found[0] for key, found in models.items() if len(found) == 1}
    keys = zip(frame.loc[missing, "namespace"], frame.loc[missing, "pod"], strict=True)
    frame.loc[missing, "model"] = [only.get(key, "") for key in keys]
    return frame


def _dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    # Relabelled attribution (exported_* vs plain, old names) can map two series to one identity;
    # keep the worst value so no pressure signal is averaged away.
    keys = ["cluster", *_KEY_COLUMNS]
    if not frame.duplicated(keys).any():
        return frame
    merged = frame.groupby(keys, as_index=False, sort=False).agg(value=("value", "max"), samples=("samples", "max"))
    return _coerce(merged)


# --------------------------------------------------------------------------------------------
# Coverage: what a frame of rows says about each signal (same for live and snapshot data)
# --------------------------------------------------------------------------------------------


def signal_coverage(frame: pd.DataFrame, *, cluster: str, window: timedelta) -> list[CoverageRow]:
    """One row per signal: absent (no series), sparse (too many short or gappy series) or ok."""
    expected = window_hours(window)
    rows = []
    by_signal = {str(s): g for s, g in frame.groupby("signal")} if not frame.empty else {}
    for query in QUERIES:
        part = str(query.signal)
        group = by_signal.get(part)
        if group is None or group.empty:
            rows.append(CoverageRow(cluster, "prometheus", part, CoverageStatus.ABSENT, 0, "no series"))
            continue
        items = len(group.drop_duplicates(list(_IDENTITY)))
        if query.mode == "hourly":
            covered = group.groupby(list(_IDENTITY)).size().astype(float)
            thin = covered < 0  # hour buckets carry their own counts; only missing hours matter
        else:
            hours = group[group["stat"] == "hours"]
            covered = hours["value"]
            thin = hours["samples"] < MIN_SAMPLES_PER_HOUR * covered.clip(lower=1.0)
        short_mask = (covered < MIN_HOUR_SHARE * expected) | thin
        short = int(short_mask.sum())
        detail = ""
        if short:
            detail = (
                f"{short} of {items} series short of data (fewest {float(covered.min()):g} of {expected} h, "
                f"or under {MIN_SAMPLES_PER_HOUR} samples per hour)"
            )
        status = CoverageStatus.SPARSE if short > SPARSE_SERIES_SHARE * items else CoverageStatus.OK
        rows.append(CoverageRow(cluster, "prometheus", part, status, items, detail))
    return rows


def metrics_source(config: PrometheusConfig, *, credentials: PromCredentials | None = None) -> MetricsSource:
    """Snapshot file when configured, else the live Prometheus-compatible endpoint."""
    if config.snapshot is not None:
        return SnapshotMetrics(config.snapshot)
    return LivePrometheus(config, credentials=credentials)
