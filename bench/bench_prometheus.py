"""Prometheus ingest benchmark: queries, raw PromQL time and end-to-end ingest time for 200 and 2,000 GPUs.

Each fleet (24 h at a 30 s scrape) is generated once, backfilled with promtool into a cache directory
(INFEROPS_BENCH_CACHE, default $TMPDIR/inferops-bench) and served by a throw-away Prometheus on
127.0.0.1. For each size it reports the number of queries LivePrometheus issued, the sum of the same
queries' evaluation times when sent one by one, and the wall time of the whole ingest (queries,
splitting, parsing, coverage). The issue's budget: ingest ≤ 1.5 × raw + 3 s, and a query count that
does not grow with the number of pods.

    .venv/bin/python bench/bench_prometheus.py [--gpus 200 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from inferops_pipeline.demo.prometheus_server import backfill, start_prometheus
from inferops_pipeline.demo.scale import ScaledFleet, scaled_openmetrics
from inferops_pipeline.settings import PrometheusConfig
from inferops_pipeline.sources.prometheus import LivePrometheus, MetricsFetch

END = datetime(2026, 12, 1, tzinfo=UTC)


def _tsdb(fleet: ScaledFleet, cache: Path) -> Path:
    root = cache / f"gpus-{fleet.gpus}-step-{fleet.step_s}"
    tsdb, done = root / "tsdb", root / "complete"
    if done.exists():
        return tsdb
    began = time.perf_counter()
    print(f"generating and backfilling {fleet.gpus} GPUs ({fleet.pods} pods) into {root} …", file=sys.stderr)
    for path in scaled_openmetrics(fleet, root / "om", end=END):
        backfill(path, tsdb)
        path.unlink()
    done.write_text(f"{time.perf_counter() - began:.0f} s\n")
    return tsdb


def _raw_seconds(url: str, fetched: MetricsFetch, start: datetime) -> float:
    """The same PromQL, one query at a time, as Prometheus evaluates it (wall time of each HTTP call)."""
    total = 0.0
    for query in fetched.queries:
        if query.error:
            continue
        if query.signal == "request_rate":
            endpoint = "query_range"
            data = {"start": (start + timedelta(hours=1)).timestamp(), "end": END.timestamp(), "step": 3600}
        else:
            endpoint, data = "query", {"time": END.timestamp()}
        began = time.perf_counter()
        response = requests.post(f"{url}/api/v1/{endpoint}", data={"query": query.promql, **data}, timeout=300)
        total += time.perf_counter() - began
        response.raise_for_status()
    return total


def run(gpus: int, *, cache: Path, repeat: int) -> dict[str, float | int | str]:
    fleet = ScaledFleet(gpus)
    tsdb = _tsdb(fleet, cache)
    with tempfile.TemporaryDirectory(prefix="inferops-bench-prom-") as scratch:
        server = start_prometheus(tsdb, Path(scratch))
        try:
            start = END - timedelta(hours=fleet.hours)
            config = PrometheusConfig.model_validate(
                {"url": server.url, "cluster_matcher": f'cluster="{fleet.cluster}"', "timeout_s": 300}
            )
            LivePrometheus(config).fetch(cluster=fleet.cluster, start=start, end=END)  # warm the page cache
            ingest, raw = [], []
            fetched = None
            for _ in range(repeat):
                began = time.perf_counter()
                fetched = LivePrometheus(config).fetch(cluster=fleet.cluster, start=start, end=END)
                ingest.append(time.perf_counter() - began)
                raw.append(_raw_seconds(server.url, fetched, start))
        finally:
            server.stop()
    assert fetched is not None
    if fetched.error:
        raise SystemExit(f"{gpus} GPUs: {fetched.error}")
    wall, raw_s = statistics.median(ingest), statistics.median(raw)
    return {
        "gpus": gpus,
        "pods": fleet.pods,
        "rows": len(fetched.frame),
        "queries": len(fetched.queries),
        "raw_s": raw_s,
        "ingest_s": wall,
        "ratio": wall / raw_s,
        "budget_s": 1.5 * raw_s + 3,
        "ok": "yes" if wall <= 1.5 * raw_s + 3 else "NO",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--repeat", type=int, default=3, help="Measured runs per size (median reported).")
    args = parser.parse_args()
    cache = Path(os.environ.get("INFEROPS_BENCH_CACHE", Path(tempfile.gettempdir()) / "inferops-bench"))
    results = [run(gpus, cache=cache, repeat=args.repeat) for gpus in args.gpus]
    header = f"{'GPUs':>6} {'pods':>6} {'rows':>8} {'queries':>8} {'raw PromQL s':>13} {'ingest s':>9} {'ratio':>6} " \
             f"{'budget s':>9} {'within':>7}"  # fmt: skip
    print(header)
    for r in results:
        print(
            f"{r['gpus']:>6} {r['pods']:>6} {r['rows']:>8} {r['queries']:>8} {r['raw_s']:>13.2f} "
            f"{r['ingest_s']:>9.2f} {r['ratio']:>6.2f} {r['budget_s']:>9.2f} {r['ok']:>7}"
        )
    counts = {r["queries"] for r in results}
    print(f"query count independent of fleet size: {'yes' if len(counts) == 1 else 'NO'} ({sorted(counts)})")
    if any(r["ok"] != "yes" for r in results) or len(counts) != 1:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
