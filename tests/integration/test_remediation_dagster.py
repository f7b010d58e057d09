"""The approval path on a production-shaped Dagster: PostgreSQL instance, webserver + daemon, the UI's GraphQL mutation.

One module-scoped stack: the demo fleet's prod-us cluster is served by the fake Kubernetes API (read live, and the
remediator credential points at it); the nightly run writes recommendations into the Postgres event log; the inbox
sensor turns them into partitions; approvals go through launchPipelineExecution like the Launchpad's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from fakes.dagster_stack import (
    APPROVER,
    DagsterStack,
    Postgres,
    available,
    inventory,
    remediation_config,
    start_dagster,
    start_postgres,
)
from fakes.kube_api import FakeKubeApi
from typer.testing import CliRunner

from inferops_pipeline.cli import app
from inferops_pipeline.definitions import REMEDIATION_ASSETS
from inferops_pipeline.defs.inprocess import UP_TO_RECOMMENDATIONS, materialize_date
from inferops_pipeline.defs.remediation.jobs import rollback_remediation
from inferops_pipeline.defs.remediation.sensors import recommendation_inbox
from inferops_pipeline.defs.resources import InferopsResource

PARTITION = "2026-11-30"
pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@dataclass
class Env:
    config: Path
    warehouse: Path
    api: FakeKubeApi
    pg: Postgres
    instance: dg.DagsterInstance
    stack: DagsterStack
    client: DagsterGraphQLClient


@pytest.fixture(scope="module")
def env(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("remediation")
    started = time.monotonic()
    with FakeKubeApi(inventory(demo_dir / "inventory" / "prod-us")) as api:
        config = remediation_config(demo_dir, root, api.url)
        pg = start_postgres()
        try:
            stack = start_dagster(root / "dagster_home", pg, {"INFEROPS_CONFIG": str(config)})
            try:
                instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(stack.home)))
                print(f"stack ready in {time.monotonic() - started:.1f} s")
                yield Env(
                    config,
                    root / "warehouse.duckdb",
                    api,
                    pg,
                    instance,
                    stack,
                    DagsterGraphQLClient("127.0.0.1", port_number=stack.port),
                )
                instance.dispose()
            finally:
                stack.stop()
        finally:
            pg.stop()


def rows(env: Env, sql: str, **params: Any) -> list[dict[str, Any]]:
    con = duckdb.connect(str(env.warehouse), read_only=True)
    try:
        cursor = con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()


def nightly(env: Env, partition: str = PARTITION) -> dg.ExecuteInProcessResult:
    """The nightly graph up to recommendations, recorded in the Postgres event log (what the sensor reads)."""
    runs = materialize_date(
        partition,
        resources={"inferops": InferopsResource(config_path=str(env.config))},
        instance=env.instance,
        stages=UP_TO_RECOMMENDATIONS,
    )
    return runs[-1].result


def launch(env: Env, key: str, **decision: Any) -> tuple[str, str]:
    """Materialize one remediation partition through the UI's launchPipelineExecution mutation; wait for the end."""
    run_id = env.client.submit_job_execution(
        "__ASSET_JOB",
        repository_location_name="inferops",
        run_config={"ops": {"remediation": {"config": {"dry_run": True, **decision}}}},
        tags={"dagster/partition": key},
        asset_selection=["remediation"],
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = env.client.get_run_status(run_id).value
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            return run_id, status
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish")


def materializations(env: Env, key: str) -> list[dg.EventLogRecord]:
    return list(
        env.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("remediation"), asset_partitions=[key]), limit=50
        ).records
    )


def deployment(env: Env, namespace: str, name: str) -> dict[str, Any]:
    return next(
        d
        for d in env.api.objects("deployments")
        if d["metadata"]["namespace"] == namespace and d["metadata"]["name"] == name
    )


def writes(env: Env) -> list[Any]:
    return [r for r in env.api.requests if r.method in {"PATCH", "PUT", "POST", "DELETE"}]


@pytest.fixture(scope="module")
def inbox(env: Env) -> list[str]:
    """Nightly run, then the sensor's first tick: the partitions that became the inbox."""
    nightly(env)
    context = dg.build_sensor_context(instance=env.instance, cursor=None)
    result = recommendation_inbox(context)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.dynamic_partitions_requests or []
    assert isinstance(request, dg.AddDynamicPartitionsRequest)
    env.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    # Second tick with the cursor it returned: nothing new, skipped.
    again = recommendation_inbox(dg.build_sensor_context(instance=env.instance, cursor=result.cursor))
    assert isinstance(again, dg.SensorResult) and again.skip_reason is not None
    assert not again.dynamic_partitions_requests
    return list(request.partition_keys)


def target(env: Env, **where: str) -> dict[str, Any]:
    clauses = " and ".join(f"{k} = ${k}" for k in where)
    found = rows(
        env,
        f"select * from recommendations where assessment_date = $day and {clauses} and not scale_to_zero "
        "and action = 'scale_replicas' order by recommendation_id limit 1",
        day=PARTITION,
        **where,
    )
    assert found, f"no scale_replicas recommendation where {where}"
    return found[0]


def test_sensor_turns_new_recommendation_ids_into_partitions(env: Env, inbox: list[str]) -> None:
    stored = {r["recommendation_id"] for r in rows(env, "select recommendation_id from recommendations")}
    assert set(inbox) == stored and inbox
    assert set(env.instance.get_dynamic_partitions("recommendations")) == stored
    # A reported (runless) recommendations event cannot smuggle ids into the inbox.
    latest = env.instance.fetch_materializations(dg.AssetKey("recommendations"), limit=1).records[0]
    env.instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "recommendations", partition=PARTITION, metadata={"recommendation_ids": dg.MetadataValue.json(["evil"])}
        )
    )
    tick = recommendation_inbox(dg.build_sensor_context(instance=env.instance, cursor=str(latest.storage_id)))
    assert isinstance(tick, dg.SensorResult) and tick.skip_reason is not None


def test_reported_materialization_is_not_an_approval(env: Env, inbox: list[str]) -> None:
    rec = target(env, cluster="prod-us")
    before = len(writes(env))
    # What the UI's "Report materialization" does: an event with no run behind it.
    env.instance.report_runless_asset_event(
        dg.AssetMaterialization("remediation", partition=rec["recommendation_id"], metadata={"decision": "APPROVE"})
    )
    assert len(writes(env)) == before
    (row,) = rows(env, "select status from recommendations where recommendation_id = $id", id=rec["recommendation_id"])
    assert row["status"] == "pending"


def test_dry_run_then_apply_through_graphql(env: Env, inbox: list[str]) -> None:
    rec = target(env, cluster="prod-us")
    key, ns, name = rec["recommendation_id"], rec["namespace"], rec["target_name"]
    replicas_before = deployment(env, ns, name)["spec"]["replicas"]
    wanted = json.loads(rec["patch"])["spec"]["replicas"]
    decision = {"decision": "APPROVE", "approver": APPROVER, "reason": "CHG-1 rehearse"}

    run_id, status = launch(env, key, **decision)
    assert status == "SUCCESS", run_id
    dry = materializations(env, key)[0]
    meta = {k: v.value for k, v in dry.asset_materialization.metadata.items()}  # type: ignore[union-attr]
    assert meta["outcome"] == "dry_run_ok" and meta["dry_run"] is True and meta["approver"] == APPROVER
    assert "replicas" in str(meta["diff"])
    assert deployment(env, ns, name)["spec"]["replicas"] == replicas_before  # a rehearsal changes nothing
    assert any(r.query.get("dryRun") == ["All"] for r in writes(env))
    (row,) = rows(env, "select status from recommendations where recommendation_id = $id", id=key)
    assert row["status"] == "pending"

    run_id, status = launch(env, key, **{**decision, "reason": "CHG-1 apply", "dry_run": False})
    assert status == "SUCCESS", run_id
    applied = materializations(env, key)[0]
    meta = {k: v.value for k, v in applied.asset_materialization.metadata.items()}  # type: ignore[union-attr]
    assert meta["outcome"] == "applied" and meta["reason"] == "CHG-1 apply"
    obj = deployment(env, ns, name)
    assert obj["spec"]["replicas"] == wanted != replicas_before
    assert obj["metadata"]["annotations"]["inferops.io/approved-by"] == APPROVER
    (row,) = rows(env, "select status from recommendations where recommendation_id = $id", id=key)
    assert row["status"] == "applied"

    # Lineage: the materialization points at the exact recommendations event it acted on.
    latest_recs = env.instance.fetch_materializations(dg.AssetKey("recommendations"), limit=1).records[0]
    tags = applied.asset_materialization.tags or {}  # type: ignore[union-attr]
    assert tags["dagster/input_event_pointer/recommendations"] == str(latest_recs.storage_id)
    night = env.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("recommendations"), asset_partitions=[PARTITION]), limit=1
    ).records[0]
    assert meta["recommendations_event"] == {"storage_id": night.storage_id, "run_id": night.run_id}

    events = [r["event"] for r in rows(env, "select event from audit_log where subject = $id order by seq", id=key)]
    assert events[-4:] == ["decision.approved", "remediation.dry_run", "decision.approved", "remediation.applied"]


def test_unsafe_decisions_are_refused_with_a_reason(env: Env, inbox: list[str]) -> None:
    """Through the UI mutation: a stranger's approval and a partition key someone typed in both fail, recorded."""
    rec = target(env, cluster="prod-us")
    before = len(writes(env))
    _, status = launch(
        env, rec["recommendation_id"], decision="APPROVE", approver="mallory@example.com", reason="x", dry_run=False
    )
    assert status == "FAILURE"
    env.instance.add_dynamic_partitions("recommendations", ["made-up-by-anyone"])
    _, status = launch(env, "made-up-by-anyone", decision="APPROVE", approver=APPROVER, reason="x", dry_run=False)
    assert status == "FAILURE"
    assert len(writes(env)) == before
    refused = rows(env, "select actor, subject, payload from audit_log where event = 'decision.refused' order by seq")
    assert [r["subject"] for r in refused[-2:]] == [rec["recommendation_id"], "made-up-by-anyone"]
    assert "not in remediation.approvers" in refused[-2]["payload"]
    assert "no recommendation" in refused[-1]["payload"]


def _materialize(env: Env, key: str, **decision: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*REMEDIATION_ASSETS],  # type: ignore[list-item]
        partition_key=key,
        resources={"inferops": InferopsResource(config_path=str(env.config))},
        instance=env.instance,
        run_config={"ops": {"remediation": {"config": {"dry_run": False, **decision}}}},
        raise_on_error=False,
    )


def test_reject_and_cluster_without_remediator(env: Env, inbox: list[str]) -> None:
    other = target(env, cluster="prod-gcp")
    result = _materialize(env, other["recommendation_id"], decision="APPROVE", approver=APPROVER, reason="go")
    assert not result.success
    payload = rows(
        env,
        "select payload from audit_log where event = 'decision.refused' and subject = $id",
        id=other["recommendation_id"],
    )
    assert "no remediator credential" in payload[-1]["payload"]
    result = _materialize(env, other["recommendation_id"], decision="REJECT", approver=APPROVER, reason="not now")
    assert result.success
    meta = result.asset_materializations_for_node("remediation")[0].metadata
    assert meta["outcome"].value == "rejected"
    (row,) = rows(
        env, "select status from recommendations where recommendation_id = $id", id=other["recommendation_id"]
    )
    assert row["status"] == "rejected"


def test_reapply_is_a_noop_and_rollback_restores(env: Env, inbox: list[str]) -> None:
    (rec,) = rows(env, "select * from recommendations where status = 'applied'")
    key, ns, name = rec["recommendation_id"], rec["namespace"], rec["target_name"]
    version = deployment(env, ns, name)["metadata"]["resourceVersion"]
    result = _materialize(env, key, decision="APPROVE", approver=APPROVER, reason="again")
    assert result.success
    assert result.asset_materializations_for_node("remediation")[0].metadata["outcome"].value == "noop"
    assert deployment(env, ns, name)["metadata"]["resourceVersion"] == version

    inverse = json.loads(rec["inverse_patch"])["spec"]["replicas"]
    rolled = rollback_remediation.execute_in_process(
        run_config={"ops": {"rollback": {"config": {"recommendation_id": key, "actor": APPROVER, "reason": "INC-9"}}}},
        resources={"inferops": InferopsResource(config_path=str(env.config))},
        instance=env.instance,
    )
    assert rolled.success
    assert deployment(env, ns, name)["spec"]["replicas"] == inverse
    (row,) = rows(env, "select status from recommendations where recommendation_id = $id", id=key)
    assert row["status"] == "rolled_back"


def remove_workload(api: FakeKubeApi, namespace: str, name: str) -> None:
    """The team deleted the deployment (and its replica sets and pods): its findings resolve the next night."""
    with api.lock:
        for plural in ("deployments", "replicasets", "pods"):
            store = api.store[plural]
            for key in [k for k in store if k[0] == namespace and (k[1] == name or k[1].startswith(f"{name}-"))]:
                del store[key]


def test_superseded_when_the_finding_resolves_and_audit_chain_holds(env: Env, inbox: list[str]) -> None:
    pending = rows(
        env,
        "select recommendation_id, namespace, target_name from recommendations where cluster = 'prod-us' "
        "and status = 'pending' order by recommendation_id limit 1",
    )[0]
    decided = rows(env, "select recommendation_id, status from recommendations where status <> 'pending' order by 1")
    nightly(env)  # re-running a night replaces its rows but keeps the decisions taken on them
    assert (
        rows(env, "select recommendation_id, status from recommendations where status <> 'pending' order by 1")
        == decided
    )
    remove_workload(env.api, pending["namespace"], pending["target_name"])
    nightly(env, "2026-12-01")
    statuses = {
        r["recommendation_id"]: r["status"]
        for r in rows(
            env, "select recommendation_id, status from recommendations where assessment_date = $d", d=PARTITION
        )
    }
    assert statuses[pending["recommendation_id"]] == "superseded"
    assert {"rejected", "rolled_back"} <= set(statuses.values())  # decisions survive later nights
    result = CliRunner().invoke(app, ["audit", "verify", "--config", str(env.config)])
    assert result.exit_code == 0, result.output
    out = env.config.parent / "audit.jsonl"
    result = CliRunner().invoke(app, ["audit", "export", "--config", str(env.config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert all(a["hash"] == b["prev_hash"] for a, b in zip(lines, lines[1:], strict=False))
    events = {line["event"] for line in lines}
    assert {"finding.new", "finding.resolved", "recommendation.raised", "recommendation.superseded"} <= events
    assert {"decision.approved", "decision.refused", "decision.rejected"} <= events
    assert {"remediation.dry_run", "remediation.applied", "remediation.noop", "remediation.rolled_back"} <= events


def test_graphql_client_errors_are_not_silent(env: Env) -> None:
    with pytest.raises(DagsterGraphQLClientError):
        env.client.submit_job_execution("no_such_job", repository_location_name="inferops")
