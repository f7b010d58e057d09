"""The PromQL query table, label-value escaping, splitting, concurrency and coverage, with a fake transport."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from inferops_pipeline.domain import METRIC_COLUMNS, CoverageStatus, Signal
from inferops_pipeline.settings import ConfigError, PrometheusConfig
from inferops_pipeline.sources.prometheus import (
    PARTS,
    QUERIES,
    STAT_LABEL,
    Answer,
    LivePrometheus,
    PromQueryError,
    label_matcher,
    metrics_source,
    promql_duration,
    promql_string,
    render,
    signal_coverage,
    sort_metrics,
)

END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
START = END - timedelta(hours=24)
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
_FUNCTIONS_WITH_STRING_ARGS = {"label_replace"}


def _bare_metric_names(promql: str) -> list[str]:
    """Identifiers used as metric selectors without a brace block (so the cluster matcher cannot reach them)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    bare = []
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()[:1]
        if match.group() not in _KEYWORDS and following not in ("(", "{"):
            bare.append(match.group())
    return bare


def _live(matcher: str | None = None, transport: Any = None, **extra: Any) -> LivePrometheus:
    config = PrometheusConfig.model_validate({"url": "http://prom:9090", "cluster_matcher": matcher, **extra})
    return LivePrometheus(config, transport=transport)


# --- the table --------------------------------------------------------------------------------------


def test_one_query_per_signal_covering_every_signal() -> None:
    assert [q.signal for q in QUERIES] == list(dict.fromkeys(q.signal for q in QUERIES))
    assert {q.signal for q in QUERIES} == set(Signal)
    assert tuple(str(q.signal) for q in QUERIES) == PARTS
    for query in QUERIES:
        stats = [stat for stat, _ in query.legs]
        assert len(stats) == len(set(stats))
        if query.mode != "hourly":
            assert {"samples", "hours"} <= set(stats), query.signal


def test_cluster_matcher_is_in_every_selector() -> None:
    queries = _live('cluster="prod-us"').queries("24h")
    assert len(queries) == len(QUERIES)
    for promql in queries:
        blocks = re.findall(r"\{[^}]*\}", promql)
        assert blocks, promql
        assert all('cluster="prod-us"' in block for block in blocks), promql
        assert _bare_metric_names(promql) == [], promql
        assert promql.count("(") == promql.count(")"), promql


def test_bare_metric_checker_catches_a_missing_selector() -> None:
    assert _bare_metric_names("max by (pod) (max_over_time(up[5m])) and on (pod) foo{}") == ["up"]


def test_no_matcher_leaves_no_empty_selectors() -> None:
    for promql in _live().queries("7d"):
        assert "{}" not in promql and "cluster=" not in promql
        assert "[7d]" in promql or "[1h]" in promql


@pytest.mark.parametrize("matcher", ['{cluster="a"}', 'cluster="a", region=~"us-.*"'])
def test_matcher_forms_accepted(matcher: str) -> None:
    assert all('cluster="a"' in q for q in _live(matcher).queries("24h"))


@pytest.mark.parametrize("matcher", ["prod-us", 'cluster="a"} or vector(1', "cluster=a"])
def test_bad_matcher_is_a_config_error(matcher: str) -> None:
    with pytest.raises(ConfigError, match="prometheus.cluster_matcher"):
        _live(matcher)


def test_window_durations() -> None:
    assert promql_duration(timedelta(hours=24)) == "1d"
    assert promql_duration(timedelta(hours=6)) == "6h"
    assert promql_duration(timedelta(minutes=90)) == "90m"
    assert promql_duration(timedelta(seconds=61)) == "61s"


def test_metrics_factory_needs_a_url_or_snapshot() -> None:
    assert isinstance(metrics_source(PrometheusConfig.model_validate({"url": "http://prom:9090"})), LivePrometheus)
    with pytest.raises(ConfigError, match="prometheus.url"):
        metrics_source(PrometheusConfig.model_validate({}))


# --- escaping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("llm", '"llm"'),
        ('ml"ops', '"ml\\"ops"'),
        ("a\\b", '"a\\\\b"'),
        ('x"} or vector(1) #', '"x\\"} or vector(1) #"'),
        ("line\nbreak", '"line\\nbreak"'),
    ],
)
def test_label_values_become_string_literals(value: str, literal: str) -> None:
    assert promql_string(value) == literal


def test_injection_attempt_stays_inside_one_matcher() -> None:
    evil = 'x"} or vector(1) or up{a="'
    matcher = label_matcher("namespace", [evil])
    # Unescaped quotes are the only way out of a string literal; there are exactly two.
    assert len(re.findall(r'(?<!\\)"', matcher)) == 2
    assert re.fullmatch(r'namespace="(?:[^"\\]|\\.)*"', matcher)


def test_several_values_become_one_regex_with_metacharacters_quoted() -> None:
    assert label_matcher("pod", ["a.b", "c|d", 'e"f']) == 'pod=~"a\\\\.b|c\\\\|d|e\\"f"'
    with pytest.raises(ValueError, match="label name"):
        label_matcher('pod"', ["x"])


# --- a fake server --------------------------------------------------------------------------------


def _identity_labels(source: str, i: int) -> dict[str, str]:
    if source == "gpu":
        return {"UUID": f"GPU-{i}", "Hostname": f"node-{i // 8}", "namespace": "llm", "pod": f"vllm-{i}",
                "container": "engine"}  # fmt: skip
    if source == "container":
        return {"namespace": "llm", "pod": f"vllm-{i}", "container": "engine"}
    return {"namespace": "llm", "pod": f"vllm-{i}", "model_name": "llama", "num_gpu_blocks": "1000",
            "block_size": "16"}  # fmt: skip


class FakeTransport:
    """Answers every query with one series per pod and leg; optionally refuses queries that are too wide."""

    def __init__(self, pods: int, *, max_pods_per_query: int | None = None, delay: float = 0.0) -> None:
        self.pods = pods
        self.max_pods = max_pods_per_query
        self.delay = delay
        self.calls: list[tuple[str, str]] = []
        self.label_calls: list[tuple[str, str]] = []
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()
        self.by_shape = {
            re.sub(r"\{(?:[^}\\\"]|\"(?:[^\"\\]|\\.)*\")*\}", "{}", render(q, window="1d", matchers=('x="y"',))): q
            for q in QUERIES
        }

    def _which(self, promql: str) -> Any:
        # Split matchers change selector contents only: compare with every selector emptied.
        shape = re.sub(r"\{(?:[^}\\\"]|\"(?:[^\"\\]|\\.)*\")*\}", "{}", promql)
        return self.by_shape[shape]

    def _pods_in(self, promql: str) -> list[int]:
        chosen = list(range(self.pods))
        found = re.search(r'(pod|Hostname)(=~?)"((?:[^"\\]|\\.)*)"', promql)
        if found:
            label, op, value = found.groups()
            value = value.replace("\\\\", "\\")
            names = value.split("|") if op == "=~" else [value]
            if label == "pod":
                chosen = [i for i in chosen if f"vllm-{i}" in names]
            else:
                chosen = [i for i in chosen if f"node-{i // 8}" in names]
        return chosen

    def _answer(self, promql: str, point: Any, key: str) -> Answer:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay)
            query = self._which(promql)
            pods = self._pods_in(promql)
            if self.max_pods is not None and len(pods) > self.max_pods:
                raise PromQueryError("too_large", "HTTP 422: query processing would load too many samples into memory")
            result = []
            for stat, _ in query.legs:
                for i in pods:
                    value = {"samples": "288", "hours": "24"}.get(stat, "0.5")
                    result.append(
                        {"metric": {**_identity_labels(query.source, i), STAT_LABEL: stat}, key: point(value)}
                    )
            return Answer(result, samples_scanned=len(pods) * 288)
        finally:
            with self._lock:
                self.in_flight -= 1

    def query(self, promql: str, *, time: float) -> Answer:
        self.calls.append(("query", promql))
        assert time == END.timestamp()
        if promql == "vector(1)":
            return Answer([{"metric": {}, "value": [time, "1"]}])
        return self._answer(promql, lambda v: [time, v], "value")

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> Answer:
        self.calls.append(("range", promql))
        assert (start, end, step) == ((START + timedelta(hours=1)).timestamp(), END.timestamp(), 3600)
        hours = [[start + 3600 * h, None] for h in range(24)]
        return self._answer(promql, lambda v: [[t, str(h)] for h, (t, _) in enumerate(hours)], "values")

    def label_values(self, label: str, *, match: str, start: float, end: float) -> list[str]:
        self.label_calls.append((label, match))
        pods = self._pods_in(match)
        if label == "pod":
            return sorted(f"vllm-{i}" for i in pods)
        if label == "Hostname":
            return sorted({f"node-{i // 8}" for i in pods})
        if label == "namespace":
            return ["llm"]
        return []


def _fetch(transport: Any, **extra: Any) -> Any:
    # With a cluster matcher every selector has braces, which is how FakeTransport recognises queries.
    return _live('cluster="c1"', transport=transport, **extra).fetch(cluster="c1", start=START, end=END)


@pytest.mark.parametrize("pods", [1, 40])
def test_query_count_does_not_grow_with_pods(pods: int) -> None:
    fake = FakeTransport(pods)
    fetched = _fetch(fake)
    # One probe, then one query per signal, the hourly one a range query.
    assert len(fake.calls) == 1 + len(QUERIES)
    assert sum(1 for kind, _ in fake.calls if kind == "range") == 1
    assert len(fetched.queries) == len(QUERIES)
    frame = fetched.frame
    assert list(frame.columns) == list(METRIC_COLUMNS)
    assert frame[frame["source"] == "serving"]["pod"].nunique() == pods
    util = frame[(frame["signal"] == "gpu_util") & (frame["stat"] == "mean")]
    assert len(util) == pods and set(util["samples"]) == {288}
    assert set(frame[(frame["signal"] == "gpu_util") & (frame["stat"] == "hours")]["value"]) == {24.0}
    pool = frame[frame["signal"] == "kv_pool_tokens"]
    assert set(pool[pool["stat"] == "max"]["value"]) == {16000.0} and set(pool["stat"]) == {"max", "hours"}
    hourly = frame[(frame["signal"] == "request_rate") & (frame["pod"] == "vllm-0")].set_index("stat")["value"]
    assert hourly.index.tolist() == [f"h{h:02d}" for h in range(24)] and hourly["h05"] == 5.0
    assert all(row.status == CoverageStatus.OK for row in fetched.coverage)


def test_too_large_queries_are_split_by_node_then_gpu() -> None:
    fake = FakeTransport(40, max_pods_per_query=10)
    fetched = _fetch(fake)
    reference = _fetch(FakeTransport(40))
    pd.testing.assert_frame_equal(sort_metrics(fetched.frame), sort_metrics(reference.frame))
    gpu = next(r for r in fetched.coverage if r.part == "gpu_util")
    assert gpu.status == CoverageStatus.OK and "split by Hostname" in gpu.detail
    kv = next(r for r in fetched.coverage if r.part == "kv_cache_usage")
    assert "split by pod" in kv.detail  # namespace has one value, so pods it is
    assert any(label == "Hostname" for label, _ in fake.label_calls)
    refused = [q for q in fetched.queries if q.error]
    assert refused and all("too many samples" in q.error for q in refused)


def test_a_query_that_cannot_be_split_is_an_error_for_that_signal_only() -> None:
    fake = FakeTransport(4, max_pods_per_query=0)  # even one pod is too many
    fetched = _fetch(fake)
    statuses = {r.part: r for r in fetched.coverage}
    assert statuses["gpu_util"].status == CoverageStatus.ERROR
    assert "cannot split further" in statuses["gpu_util"].detail
    assert fetched.error == ""  # the server works; only these signals are missing


def test_concurrency_is_bounded() -> None:
    fake = FakeTransport(4, delay=0.01)
    _fetch(fake, max_concurrency=3)
    assert 1 < fake.peak <= 3


def test_server_down_reports_every_signal_missing() -> None:
    class Down:
        def query(self, promql: str, *, time: float) -> Answer:
            raise PromQueryError("unreachable", "[Errno 111] Connection refused")

    fetched = _fetch(Down())
    assert fetched.frame.empty and "Connection refused" in fetched.error
    assert [r.part for r in fetched.coverage] == list(PARTS)
    assert {r.status for r in fetched.coverage} == {CoverageStatus.ERROR}


def test_denied_is_reported_as_denied() -> None:
    class Denied:
        def query(self, promql: str, *, time: float) -> Answer:
            raise PromQueryError("denied", "HTTP 401: check prometheus auth settings")

    fetched = _fetch(Denied())
    assert {r.status for r in fetched.coverage} == {CoverageStatus.DENIED}
    assert "access denied" in fetched.error


def test_nan_values_are_not_observations() -> None:
    class NaNs(FakeTransport):
        def _answer(self, promql: str, point: Any, key: str) -> Answer:
            answer = super()._answer(promql, point, key)
            for series in answer.result:
                if series["metric"][STAT_LABEL] not in ("samples", "hours") and key == "value":
                    series[key] = [END.timestamp(), "NaN"]
            return answer

    frame = _fetch(NaNs(2)).frame
    assert set(frame[frame["source"] != "traffic"]["stat"]) == {"hours"}


# --- coverage -------------------------------------------------------------------------------------


def _rows(signal: str, hours: Mapping[str, float], samples_per_hour: int = 12) -> pd.DataFrame:
    rows = []
    for pod, h in hours.items():
        base = {"cluster": "c", "source": "gpu", "signal": signal, "namespace": "n", "pod": pod, "container": "",
                "node": "", "gpu_uuid": pod, "model": ""}  # fmt: skip
        rows.append(base | {"stat": "mean", "value": 0.5, "samples": int(h * samples_per_hour)})
        rows.append(base | {"stat": "hours", "value": h, "samples": int(h * samples_per_hour)})
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def test_coverage_absent_ok_and_sparse() -> None:
    window = timedelta(hours=24)
    rows = signal_coverage(_rows("gpu_util", {"a": 24, "b": 24, "c": 24, "d": 23}), cluster="c", window=window)
    by_part = {r.part: r for r in rows}
    assert by_part["gpu_util"].status == CoverageStatus.OK and by_part["gpu_util"].items == 4
    assert by_part["kv_cache_usage"].status == CoverageStatus.ABSENT
    gappy = signal_coverage(_rows("gpu_util", {"a": 24, "b": 10}), cluster="c", window=window)[0]
    assert gappy.status == CoverageStatus.SPARSE and "1 of 2 series" in gappy.detail and "fewest 10" in gappy.detail
    thin = signal_coverage(_rows("gpu_util", {"a": 24}, samples_per_hour=2), cluster="c", window=window)[0]
    assert thin.status == CoverageStatus.SPARSE
