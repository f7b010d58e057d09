"""End to end: the whole graph on the demo fleet finds every injected problem and nothing on healthy workloads."""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

from inferops_pipeline.definitions import ALL_ASSETS, defs
from inferops_pipeline.defs.resources import InferopsResource

PARTITION = "2026-11-30"


def _materialize(config: Path, warehouse: Path) -> None:
    result = dg.materialize(
        ALL_ASSETS,
        partition_key=PARTITION,
        resources={"inferops": InferopsResource(config_path=str(config), warehouse_path=str(warehouse))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


def test_definitions_load() -> None:
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "k8s_nodes",
        "k8s_workloads",
        "gpu_metrics",
        "workloads",
        "gpu_nodes",
        "findings",
        "recommendations",
        "fleet_report",
    } <= keys


def test_graph_finds_ground_truth_and_is_idempotent(demo_dir: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    _materialize(demo_dir / "inferops.yaml", warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        "select type, cluster, namespace, workload_kind, workload, monthly_waste_usd, monthly_at_risk_usd from findings"
    ).fetchall()
    counts = con.execute(
        "select (select count(*) from findings), (select count(*) from workloads), (select count(*) from metrics)"
    ).fetchone()
    con.close()
    truth = json.loads((demo_dir / "ground_truth.json").read_text())
    found = {r[:5]: r[5] + r[6] for r in rows}
    expected = {(p["type"], p["cluster"], p["namespace"], p["workload_kind"], p["workload"]) for p in truth["problems"]}
    assert expected - found.keys() == set()
    assert found.keys() - expected == set(), "findings beyond the injected problems"
    for key in expected:
        if key[0] != "observability_gap":
            assert found[key] > 0, f"{key} has no dollars"
    healthy = {(h["cluster"], h["namespace"], h["workload"]) for h in truth["healthy"]}
    assert not [r for r in rows if (r[1], r[2], r[4]) in healthy]
    # Re-running the same date replaces, never duplicates.
    _materialize(demo_dir / "inferops.yaml", warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    again = con.execute(
        "select (select count(*) from findings), (select count(*) from workloads), (select count(*) from metrics)"
    ).fetchone()
    statuses = {r[0] for r in con.execute("select distinct status from findings").fetchall()}
    con.close()
    assert again == counts
    assert statuses == {"new"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferops_pipeline.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_assess_demo_json_contract() -> None:
    done = _cli("assess", "--demo", "--output", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"assessment", "findings", "recommendations", "totals"}
    assert report["totals"]["monthly_waste_usd"] > 0
    assert {"finding_id", "severity", "confidence", "owner", "evidence", "first_seen", "status"} <= set(
        report["findings"][0]
    )


def test_bad_inputs_exit_2_with_one_line(demo_dir: Path, tmp_path: Path) -> None:
    missing = _cli("assess", "--config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "nope.yaml: config file not found" in missing.stderr
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(demo_dir), str(broken)], check=True)
    (broken / "inventory" / "prod-us" / "pods.json").write_text("{not json")
    bad_json = _cli("assess", "--config", str(broken / "inferops.yaml"), "--output", "json")
    assert bad_json.returncode == 2, bad_json.stderr
    assert "pods.json: invalid JSON" in bad_json.stderr and "Traceback" not in bad_json.stderr
    nodes = json.loads((demo_dir / "inventory" / "prod-us" / "nodes.json").read_text())
    nodes["items"][1]["metadata"]["labels"]["nvidia.com/gpu.product"] = "NVIDIA-Quantum-9000"
    (broken / "inventory" / "prod-us" / "pods.json").write_text(
        (demo_dir / "inventory" / "prod-us" / "pods.json").read_text()
    )
    (broken / "inventory" / "prod-us" / "nodes.json").write_text(json.dumps(nodes))
    unknown = _cli("assess", "--config", str(broken / "inferops.yaml"))
    assert unknown.returncode == 2
    assert "nodes.json" in unknown.stderr and "NVIDIA-Quantum-9000" in unknown.stderr
