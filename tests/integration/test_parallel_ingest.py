"""Per-cluster ingest in parallel (issue 8): separate processes ingest two clusters while another process holds the
DuckDB write lock, then the single-writer daily load combines them — nothing lost, same rows as a serial run; a
re-ingest or a failed ingest of one cluster leaves the other untouched; the schedule and the fleet_ready sensor
launch exactly what the daemon should."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from inferops_pipeline.defs.inprocess import materialize_date, run_date
from inferops_pipeline.defs.partitions import cluster_partition
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.defs.schedules import DAILY_GROUPS, build_nightly_schedule, fleet_ready
from inferops_pipeline.settings import ScheduleConfig
from inferops_pipeline.warehouse import open_warehouse

DAY = "2026-11-30"
CLUSTERS = ("prod-us", "prod-gcp")
TABLES = {
    "k8s_nodes": "cluster, name",
    "k8s_workloads": "cluster, namespace, name",
    "raw_k8s_objects": "cluster, kind, namespace, name",
    "metrics": "cluster, source, signal, stat, namespace, pod, container, node, gpu_uuid, model",
    "coverage": "cluster, source, part",
    "workloads": "cluster, namespace, kind, name",
    "findings": "finding_id",
}

# One cluster's ingest run in its own interpreter (what a K8s run-launcher pod does): wait for the start signal
# so both runs overlap, materialize the per-cluster partition, report timing and outcome as one JSON line.
WORKER = """
import json, sys, time
from pathlib import Path
import dagster as dg
from inferops_pipeline.definitions import ALL_ASSETS
from inferops_pipeline.defs.partitions import cluster_partition, register_clusters
from inferops_pipeline.defs.resources import InferopsResource

config, cluster, day, go = sys.argv[1:5]
instance = dg.DagsterInstance.ephemeral()
register_clusters(instance, [cluster])
while not Path(go).exists():
    time.sleep(0.01)
started = time.time()
result = dg.materialize(
    ALL_ASSETS,
    selection=dg.AssetSelection.groups("ingest"),
    partition_key=str(cluster_partition(day, cluster)),
    resources={"inferops": InferopsResource(config_path=config)},
    instance=instance,
    raise_on_error=False,
)
print(json.dumps({"cluster": cluster, "success": result.success, "started": started, "ended": time.time()}))
"""


def _config(demo_dir: Path, folder: Path, *, clusters: tuple[str, ...] = CLUSTERS, name: str = "inferops.yaml") -> Path:
    raw = yaml.safe_load((demo_dir / "inferops.yaml").read_text())
    raw["clusters"] = [c for c in raw["clusters"] if c["name"] in clusters]
    for cluster in raw["clusters"]:  # the copy lives elsewhere: anchor the demo's relative snapshot paths
        for section in ("kubernetes", "prometheus"):
            cluster[section]["snapshot"] = str(demo_dir / cluster[section]["snapshot"])
    raw["warehouse"] = str(folder / "wh.duckdb")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(raw))
    return path


def _resources(config: Path) -> dict[str, Any]:
    return {"inferops": InferopsResource(config_path=str(config))}


def _table(config: Path, table: str) -> pd.DataFrame:
    con = duckdb.connect(str(config.parent / "wh.duckdb"), read_only=True)
    try:
        frame = con.execute(f"select * from {table} order by {TABLES[table]}").df()  # test-only, fixed names
    finally:
        con.close()
    drop = [c for c in ("duration_s", "first_seen") if c in frame.columns]  # timings differ run to run
    return frame.drop(columns=drop).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: both clusters ingested one after the other in this process, then the daily stages."""
    config = _config(demo_dir, tmp_path_factory.mktemp("serial"))
    materialize_date(DAY, resources=_resources(config), stages=("ingest", *DAILY_GROUPS[:-1]))
    return config


@pytest.fixture(scope="module")
def parallel(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    folder = tmp_path_factory.mktemp("parallel")
    config = _config(demo_dir, folder)
    go = folder / "go"
    # Hold the warehouse's write lock for the whole ingest: a run that opened DuckDB would fail to get it.
    holder = open_warehouse(folder / "wh.duckdb")
    holder.con.execute("begin transaction")
    try:
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(config), cluster, DAY, str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "DAGSTER_HOME": str(folder)},
            )
            for cluster in CLUSTERS
        ]
        time.sleep(0.5)
        go.touch()
        outcomes = []
        for worker in workers:
            out, errors = worker.communicate(timeout=300)
            assert worker.returncode == 0, errors[-2000:]
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        holder.con.execute("rollback")
        holder.con.close()
    materialize_date(DAY, resources=_resources(config), stages=DAILY_GROUPS[:-1])
    yield config, outcomes


def test_ingest_runs_overlap_without_the_warehouse_lock(parallel: tuple[Path, list[dict[str, Any]]]) -> None:
    _, outcomes = parallel
    assert [o["success"] for o in outcomes] == [True, True]
    first, second = outcomes
    assert first["started"] < second["ended"] and second["started"] < first["ended"], "the two runs did not overlap"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_parallel_ingest_loses_nothing(serial: Path, parallel: tuple[Path, list[dict[str, Any]]], table: str) -> None:
    want, got = _table(serial, table), _table(parallel[0], table)
    assert set(got["cluster"]) == set(CLUSTERS) if table != "findings" else len(got) > 0
    pd.testing.assert_frame_equal(got, want)


def test_reingest_and_failed_ingest_of_one_cluster_leave_the_other_intact(demo_dir: Path, tmp_path: Path) -> None:
    config = _config(demo_dir, tmp_path / "fleet")
    materialize_date(DAY, resources=_resources(config))
    before = {table: _table(config, table) for table in TABLES}

    # Re-ingesting and reloading the same date is idempotent.
    materialize_date(DAY, resources=_resources(config))
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_table(config, table), frame)

    # A broken snapshot fails prod-us's ingest run; its last good staging survives and the reload is unchanged.
    raw = yaml.safe_load(config.read_text())
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "nodes.json").write_text("{not json")
    raw["clusters"][0]["kubernetes"] = {"snapshot": str(broken)}
    config.write_text(yaml.safe_dump(raw))
    runs = {
        r.stage: r.result.success
        for r in run_date(DAY, resources=_resources(config), stages=("ingest",), raise_on_error=False)
    }
    assert runs == {"ingest prod-us": False, "ingest prod-gcp": True}
    materialize_date(DAY, resources=_resources(config), stages=DAILY_GROUPS[:-1])
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_table(config, table), frame)


def test_a_cluster_without_an_ingest_run_is_reported_not_dropped(demo_dir: Path, tmp_path: Path) -> None:
    config = _config(demo_dir, tmp_path / "fleet")
    materialize_date(DAY, resources=_resources(config))
    # The next day only prod-us is ingested (same warehouse and staging, a config naming only it).
    only_us = _config(demo_dir, tmp_path / "fleet", clusters=("prod-us",), name="only-us.yaml")
    next_day = "2026-12-01"
    materialize_date(next_day, resources=_resources(only_us), stages=("ingest",))
    materialize_date(next_day, resources=_resources(config), stages=DAILY_GROUPS[:-1])
    coverage = _table(config, "coverage")
    day = coverage["assessment_date"].astype(str) == next_day
    missing = coverage[day & (coverage["cluster"] == "prod-gcp")]
    assert len(missing) > 0 and set(missing["status"]) == {"error"}
    assert all(detail.startswith("not ingested: no ") for detail in missing["detail"])
    assert set(coverage[day & (coverage["cluster"] == "prod-us")]["status"]) <= {"ok", "absent", "sparse"}
    nodes = _table(config, "k8s_nodes")
    assert set(nodes[nodes["assessment_date"].astype(str) == next_day]["cluster"]) == {"prod-us"}
    assert set(nodes[nodes["assessment_date"].astype(str) == DAY]["cluster"]) == set(CLUSTERS)  # earlier day intact


def test_schedule_fans_out_per_cluster_and_fleet_ready_waits_for_every_cluster(demo_dir: Path, tmp_path: Path) -> None:
    config = _config(demo_dir, tmp_path / "fleet")
    resources = _resources(config)
    with dg.instance_for_test() as instance:
        tick = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
        schedule = build_nightly_schedule(ScheduleConfig())
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, resources=resources
        ) as context:
            requests = schedule(context)
        assert isinstance(requests, list)
        assert {(r.run_key, r.partition_key) for r in requests} == {
            (f"{DAY}/{c}", str(cluster_partition(DAY, c))) for c in CLUSTERS
        }
        assert sorted(instance.get_dynamic_partitions("clusters")) == sorted(CLUSTERS)

        def sensor(cursor: str | None) -> dg.SensorResult:
            with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
                result = fleet_ready(context)
            assert isinstance(result, dg.SensorResult)
            return result

        def ingest(cluster: str) -> None:
            only = _config(demo_dir, tmp_path / "fleet", clusters=(cluster,), name=f"{cluster}.yaml")
            materialize_date(DAY, resources=_resources(only), instance=instance, stages=("ingest",))

        def why(result: dg.SensorResult) -> str:
            return result.skip_reason.skip_message or "" if result.skip_reason else ""

        first = sensor(None)
        assert not first.run_requests and why(first) == "no new cluster ingest"
        ingest("prod-us")
        tagged = instance.get_runs(dg.RunsFilter(tags={"dagster/partition/date": DAY}))
        assert tagged, "ingest runs carry the date tag the sensor's in-progress check filters on"
        waiting = sensor(first.cursor)
        assert not waiting.run_requests and "prod-gcp" in why(waiting)
        ingest("prod-gcp")
        ready = sensor(waiting.cursor)
        assert [(r.partition_key, r.run_key.split("@")[0]) for r in ready.run_requests or []] == [(DAY, DAY)]
        assert not sensor(ready.cursor).run_requests  # nothing new: nothing launched twice

        # A running ingest run for the date holds it (its data is about to change); the record is looked at again.
        queued = instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB",  # materialized from the UI
                run_id=str(uuid.uuid4()),
                status=dg.DagsterRunStatus.STARTED,
                tags={"dagster/partition/date": DAY},
            )
        )
        ingest("prod-us")
        held = sensor(ready.cursor)
        assert not held.run_requests and "queued or running" in why(held)
        instance.report_run_canceled(queued)
        again = sensor(held.cursor)
        assert [r.partition_key for r in again.run_requests or []] == [DAY]
        assert (
            again.run_requests and ready.run_requests and again.run_requests[0].run_key != ready.run_requests[0].run_key
        )


def test_loading_a_date_nobody_ingested_fails_and_keeps_its_rows(demo_dir: Path, tmp_path: Path) -> None:
    config = _config(demo_dir, tmp_path / "fleet")
    materialize_date(DAY, resources=_resources(config))
    before = {table: _table(config, table) for table in TABLES}
    shutil.rmtree(tmp_path / "fleet" / "wh.staging" / DAY)  # e.g. the staging volume was swapped
    runs = list(run_date(DAY, resources=_resources(config), stages=DAILY_GROUPS, raise_on_error=False))
    assert [(r.stage, r.result.success) for r in runs][:2] == [("catalogs", True), ("model", False)]
    failure = next(e for e in runs[1].result.all_events if e.is_step_failure)
    assert failure.step_failure_data is not None
    assert "no cluster has staged ingest for 2026-11-30" in str(failure.step_failure_data.error)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_table(config, table), frame)
