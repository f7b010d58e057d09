"""The nightly path under a real Dagster daemon (PostgreSQL storage, queued run coordinator, one process per run):
the schedule's per-cluster ingest runs execute in parallel as separate processes, then the fleet_ready sensor
launches the daily assessment, which loads both clusters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster_graphql import DagsterGraphQLClient
from fakes.dagster_stack import DagsterStack, available, inventory, start_dagster, start_postgres
from fakes.kube_api import FakeKubeApi, write_kubeconfig

from inferops_pipeline.defs.partitions import CLUSTER, DATE
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.defs.schedules import INGEST_JOB_NAME, build_nightly_schedule, nightly_job
from inferops_pipeline.settings import ScheduleConfig

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))
DAY = "2026-11-30"
CLUSTERS = ("prod-us", "prod-gcp")
SLOW_S = 6.0
DONE = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@pytest.fixture(scope="module")
def stack(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DagsterStack, Path]]:
    root = tmp_path_factory.mktemp("nightly")
    raw = yaml.safe_load((demo_dir / "inferops.yaml").read_text())
    raw["clusters"] = [c for c in raw["clusters"] if c["name"] in CLUSTERS]
    with ExitStack() as servers:
        # Each cluster's API server answers `nodes` after SLOW_S: an ingest run lasts long enough that two runs
        # executing one after the other could not overlap.
        apis = {}
        for cluster in raw["clusters"]:
            api = servers.enter_context(FakeKubeApi(inventory(demo_dir / cluster["kubernetes"]["snapshot"])))
            api.slow("nodes", SLOW_S)
            apis[cluster["name"]] = api.url
        kubeconfig = write_kubeconfig(root / "kubeconfig", apis)
        for cluster in raw["clusters"]:
            cluster["kubernetes"] = {"kubeconfig": str(kubeconfig), "context": cluster["name"]}
            cluster["prometheus"]["snapshot"] = str(demo_dir / cluster["prometheus"]["snapshot"])
        raw["warehouse"] = str(root / "warehouse.duckdb")
        raw["at"] = "2026-12-01T00:00:00Z"
        raw["schedule"] = {"enabled": True}  # the fleet_ready sensor runs in the daemon
        config = root / "inferops.yaml"
        config.write_text(yaml.safe_dump(raw))
        pg = start_postgres()
        try:
            stack = start_dagster(root / "dagster_home", pg, {"INFEROPS_CONFIG": str(config)})
            try:
                yield stack, root
            finally:
                stack.stop()
        finally:
            pg.stop()


def _wait(instance: dg.DagsterInstance, run_filter: dg.RunsFilter, count: int, timeout_s: float) -> list[dg.DagsterRun]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = instance.get_runs(run_filter)
        if len(runs) >= count and all(r.status in DONE for r in runs):
            return runs
        time.sleep(1)
    raise TimeoutError(f"runs {run_filter} not done in {timeout_s} s: {[(r.job_name, r.status) for r in runs]}")


def test_schedule_runs_clusters_in_parallel_then_the_sensor_assesses(stack: tuple[DagsterStack, Path]) -> None:
    dagster, root = stack
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster.home)))
    try:
        # What the daemon does at the cron tick: evaluate the schedule (registers the cluster partitions), then
        # submit its run requests — here through the webserver, as the UI's "launch" would.
        schedule = build_nightly_schedule(ScheduleConfig())
        tick = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
        # As a context manager: the context opens its own instance from the ref, and only its exit resets Dagster's
        # process-wide "current instance storage" (left set, a later dg.materialize finds a dead instance).
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=tick,
            resources={"inferops": InferopsResource(config_path=str(root / "inferops.yaml"))},
        ) as context:
            requests = schedule(context)
        assert isinstance(requests, list) and len(requests) == len(CLUSTERS)
        client = DagsterGraphQLClient("127.0.0.1", port_number=dagster.port)
        for request in requests:
            assert request.partition_key is not None
            cluster, day = request.partition_key.split("|")
            client.submit_job_execution(
                INGEST_JOB_NAME,
                tags={
                    "dagster/partition": request.partition_key,
                    f"dagster/partition/{CLUSTER}": cluster,
                    f"dagster/partition/{DATE}": day,
                },
            )
        ingests = _wait(instance, dg.RunsFilter(job_name=INGEST_JOB_NAME), len(CLUSTERS), timeout_s=180)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in ingests)
        records = [instance.get_run_record_by_id(r.run_id) for r in ingests]
        spans = [(r.start_time, r.end_time) for r in records if r is not None]
        assert len(spans) == 2 and all(start and end and end - start >= SLOW_S for start, end in spans)
        (a_start, a_end), (b_start, b_end) = spans
        assert a_start < b_end and b_start < a_end, "the two cluster ingest runs did not run at the same time"

        # fleet_ready (minimum interval 60 s) launches the daily assessment once both clusters are in.
        (assessment,) = _wait(instance, dg.RunsFilter(job_name=nightly_job.name), 1, timeout_s=240)
        assert assessment.status == dg.DagsterRunStatus.SUCCESS
        assert assessment.tags.get("dagster/sensor_name") == "fleet_ready"
        assert assessment.tags.get("dagster/partition") == DAY
    finally:
        instance.dispose()
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        nodes = dict(con.execute("select cluster, count(*) from k8s_nodes group by cluster").fetchall())
        findings = con.execute("select count(*) from findings where assessment_date = $d", {"d": DAY}).fetchone()
    finally:
        con.close()
    assert set(nodes) == set(CLUSTERS) and all(n > 0 for n in nodes.values())
    assert findings is not None and findings[0] > 0
