"""End to end (issue 8): `inferops assess` against a real Prometheus and the fake Kubernetes API, per fleet size.

For each size: the bench_prometheus.py fleet (24 h at 30 s, backfilled once and cached under INFEROPS_BENCH_CACHE,
default $TMPDIR/inferops-bench), its matching kubectl-JSON inventory (demo/scale.py) served by the test suite's fake
API server in its own process, a throw-away Prometheus, an inferops.yaml pointing at both, and then
`inferops assess --config … --output json --out …` in a child process: its wall time, its own peak RSS (VmHWM, read
by the child) and the time and RSS high-water of each stage run (per-cluster ingest, catalogs, model, findings,
recommendations; defs/inprocess.py). The floor is the same PromQL sent one by one and timed directly (bench_prometheus._raw_seconds).
Also times `inferops assess --demo` cold (fresh temp dir, first run).

Targets: query count independent of pod count; end to end ≤ 1.5 × floor + 5 s at 2,000 GPUs; 20,000 GPUs under
3 min and 1.5 GiB peak RSS. The first run generates and backfills the 20,000-GPU fleet once (~40 min, ~27 GB of
OpenMetrics for the largest family while it is backfilled, ~6 GB TSDB kept in the cache); `--sizes 200,2000` skips it.

    .venv/bin/python bench/bench_e2e.py [--sizes 200,2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_prometheus import END, _raw_seconds, _tsdb  # noqa: E402

GIB = 2**30


def _high_water_mib() -> float:
    """This process's own peak RSS. Not getrusage/wait4's ru_maxrss: Linux carries the forking parent's high-water
    mark across exec, so a child of this (by then large) bench process would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _timed_assess(phases_path: str, argv: list[str]) -> None:
    """Child mode: the `inferops` CLI itself, with each stage run (per-cluster ingest, then each group) timed."""
    from inferops_pipeline.cli import app
    from inferops_pipeline.defs import inprocess

    run_date, seconds, high_water = inprocess.run_date, {}, {}

    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for run in run_date(*args, **kwargs):
            stage = run.stage.split(" ")[0]  # "ingest <cluster>" runs add up to "ingest"
            seconds[stage] = seconds.get(stage, 0.0) + run.seconds
            # The process's RSS high-water mark once this stage is done: which stage sets the peak.
            high_water[stage] = _high_water_mib()
            yield run

    inprocess.run_date = timed  # type: ignore[assignment]
    try:
        app(argv, prog_name="inferops")
    finally:
        report = {**seconds, "rss_mib": high_water, "peak_rss_mib": _high_water_mib()}
        Path(phases_path).write_text(json.dumps(report))


def _serve_inventory(folder: str) -> None:
    """Child mode: serve folder/<kind>.json from the fake API server until stdin closes."""
    from fakes.kube_api import FakeKubeApi

    objects = {path.stem: json.loads(path.read_text())["items"] for path in Path(folder).glob("*.json")}
    with FakeKubeApi(objects) as api:
        print(f"URL {api.url}", flush=True)
        sys.stdin.read()


def _start_kube(folder: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-inventory", str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    if not line.startswith("URL "):
        _stop_kube(server)
        raise SystemExit(f"fake API server did not start: {line!r}")
    return server, line[4:]


def _stop_kube(server: subprocess.Popen[str]) -> None:
    if server.stdin is not None:
        server.stdin.close()  # it exits when stdin closes
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()  # by PID
        server.wait(timeout=10)


def _assess(config: Path, out: Path, scratch: Path) -> dict[str, Any]:
    phases = scratch / "phases.json"
    command = [sys.executable, __file__, "--timed-assess", str(phases), "assess", "--config", str(config),
               "--output", "json", "--out", str(out)]  # fmt: skip
    began = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=scratch, stdout=subprocess.DEVNULL, stderr=(scratch / "assess.log").open("wb")
    )
    code = process.wait()
    wall = time.perf_counter() - began
    if code not in (0, 3, 4):
        raise SystemExit(f"inferops assess exited {code}: {(scratch / 'assess.log').read_text()[-3000:]}")
    timed = json.loads(phases.read_text())
    report = json.loads(out.read_text())
    return {"code": code, "wall_s": wall, "rss": timed["peak_rss_mib"] * 2**20, "phases": timed, "report": report}


def run(gpus: int, cache: Path) -> dict[str, Any]:
    from fakes.kube_api import write_kubeconfig

    from inferops_pipeline.demo.prometheus_server import start_prometheus
    from inferops_pipeline.demo.scale import ScaledFleet, write_scaled_inventory
    from inferops_pipeline.settings import PrometheusConfig
    from inferops_pipeline.sources.prometheus import LivePrometheus

    fleet = ScaledFleet(gpus)
    tsdb = _tsdb(fleet, cache)
    start = END - timedelta(hours=fleet.hours)
    with tempfile.TemporaryDirectory(prefix="inferops-bench-e2e-") as tmp:
        scratch = Path(tmp)
        inventory = write_scaled_inventory(fleet, scratch / "inventory", end=END)
        prometheus = start_prometheus(tsdb, scratch / "prometheus")
        kube, kube_url = _start_kube(inventory)
        try:
            prom = {"url": prometheus.url, "cluster_matcher": f'cluster="{fleet.cluster}"', "timeout_s": 300}
            kubeconfig = write_kubeconfig(scratch / "kubeconfig", {fleet.cluster: kube_url})
            config = scratch / "inferops.yaml"
            config.write_text(json.dumps({
                "warehouse": str(scratch / "warehouse.duckdb"), "window": f"{fleet.hours}h", "at": END.isoformat(),
                "clusters": [{"name": fleet.cluster, "kubernetes": {"kubeconfig": str(kubeconfig),
                              "context": fleet.cluster}, "prometheus": prom}],
            }))  # fmt: skip
            # Warm the page cache with the live source itself; its query list is what assess sends.
            fetched = LivePrometheus(PrometheusConfig.model_validate(prom)).fetch(
                cluster=fleet.cluster, start=start, end=END
            )
            if fetched.error:
                raise SystemExit(f"{gpus} GPUs: {fetched.error}")
            floor = _raw_seconds(prometheus.url, fetched, start)
            assessed = _assess(config, scratch / "findings.json", scratch)
        finally:
            _stop_kube(kube)
            prometheus.stop()
    budget = 1.5 * floor + 5
    return {
        "gpus": gpus, "pods": fleet.pods, "queries": len(fetched.queries), "floor_s": floor, **assessed,
        "ratio": assessed["wall_s"] / floor, "budget_s": budget,
    }  # fmt: skip


def _demo_cold() -> dict[str, Any]:
    """`inferops assess --demo` in a fresh directory: the first run a new user makes."""
    with tempfile.TemporaryDirectory(prefix="inferops-bench-demo-") as tmp:
        env = {**os.environ, "DAGSTER_HOME": tmp, "TMPDIR": tmp}
        phases = Path(tmp) / "phases.json"
        began = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, __file__, "--timed-assess", str(phases), "assess", "--demo", "--output", "json", "--out",
             str(Path(tmp) / "findings.json")],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        code = process.wait()
        wall = time.perf_counter() - began
        rss = json.loads(phases.read_text())["peak_rss_mib"] * 2**20
    return {"code": code, "wall_s": wall, "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,2000,20000", help="Comma-separated GPU counts.")
    parser.add_argument("--no-demo", action="store_true", help="Skip timing `inferops assess --demo` cold.")
    args = parser.parse_args()
    cache = Path(os.environ.get("INFEROPS_BENCH_CACHE", Path(tempfile.gettempdir()) / "inferops-bench"))
    results = [run(int(size), cache) for size in args.sizes.split(",")]
    print(f"{'GPUs':>6} {'pods':>6} {'queries':>7} {'floor s':>8} {'ingest s':>9} {'model s':>8} {'detect s':>9} "
          f"{'recs s':>7} {'e2e s':>7} {'e2e/floor':>9} {'budget s':>9} {'peak RSS':>9} {'findings':>8} {'exit':>4}")  # fmt: skip
    failed = False
    for r in results:
        p = r["phases"]
        ok = r["wall_s"] <= r["budget_s"] if r["gpus"] <= 2000 else r["wall_s"] < 180 and r["rss"] < 1.5 * GIB
        failed |= not ok
        print(
            f"{r['gpus']:>6} {r['pods']:>6} {r['queries']:>7} {r['floor_s']:>8.2f} {p.get('ingest', 0):>9.2f} "
            f"{p.get('model', 0):>8.2f} {p.get('findings', 0):>9.2f} {p.get('recommendations', 0):>7.2f} "
            f"{r['wall_s']:>7.2f} {r['ratio']:>9.2f} {r['budget_s']:>9.2f} {r['rss'] / 2**20:>8.0f}M "
            f"{len(r['report'].get('findings', [])):>8} {r['code']:>4}{'' if ok else '  OVER TARGET'}"
        )
        marks = ", ".join(f"{stage} {mib:.0f}" for stage, mib in p.get("rss_mib", {}).items())
        print(f"{'':>6} RSS high-water after each stage (MiB): {marks}")
    counts = {r["queries"] for r in results}
    print(f"query count independent of fleet size: {'yes' if len(counts) == 1 else 'NO'} ({sorted(counts)})")
    if not args.no_demo:
        demo = _demo_cold()
        print(f"inferops assess --demo, cold: {demo['wall_s']:.2f} s wall, {demo['rss'] / 2**20:.0f} MiB peak RSS, "
              f"exit {demo['code']}")  # fmt: skip
    if failed or len(counts) != 1:
        raise SystemExit(1)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--timed-assess":
        _timed_assess(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) > 2 and sys.argv[1] == "--serve-inventory":
        _serve_inventory(sys.argv[2])
    else:
        main()
