"""Three nights on the demo fleet: a problem appears, persists and is fixed; history, views, report and checks."""

import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from inferops_pipeline.defs.findings.checks import EVIDENCE, MONEY, UNIQUE, evaluate
from inferops_pipeline.defs.inprocess import materialize_date
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.report import render_report
from inferops_pipeline.report.load import load_report_data
from inferops_pipeline.warehouse import Warehouse, connect

NIGHTS = ("2026-11-28", "2026-11-29", "2026-11-30")
# The injected idle_gpu problem that gets "fixed" (the deployment is deleted) before the third night.
CLUSTER, NAMESPACE, WORKLOAD = "prod-us", "research", "exp-llama8b"


def _without_workload(demo_dir: Path, target: Path) -> Path:
    """A copy of the demo fleet where the idle deployment, its ReplicaSets and pods are gone."""
    shutil.copytree(demo_dir, target)
    for kind in ("deployments", "replicasets", "pods"):
        path = target / "inventory" / CLUSTER / f"{kind}.json"
        listing = json.loads(path.read_text())
        listing["items"] = [
            item
            for item in listing["items"]
            if not (
                item["metadata"].get("namespace") == NAMESPACE
                and (item["metadata"]["name"] == WORKLOAD or item["metadata"]["name"].startswith(f"{WORKLOAD}-"))
            )
        ]
        path.write_text(json.dumps(listing))
    return target / "inferops.yaml"


@pytest.fixture(scope="module")
def history(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dg.ExecuteInProcessResult]]:
    root = tmp_path_factory.mktemp("history")
    warehouse = root / "warehouse.duckdb"
    fixed = _without_workload(demo_dir, root / "fixed")
    configs = [demo_dir / "inferops.yaml", demo_dir / "inferops.yaml", fixed]
    results = []
    for night, config in zip(NIGHTS, configs, strict=True):
        runs = materialize_date(
            night,
            resources={"inferops": InferopsResource(config_path=str(config), warehouse_path=str(warehouse))},
            stages=("ingest", "catalogs", "model", "findings"),
        )
        results.append(runs[-1].result)
    return warehouse, results


def _rows(warehouse: Path, statement: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(statement).fetchall()
    finally:
        con.close()


def test_problem_is_new_then_ongoing_then_resolved(history: tuple[Path, list[dg.ExecuteInProcessResult]]) -> None:
    warehouse, _ = history
    rows = _rows(
        warehouse,
        f"select assessment_date::varchar, status, first_seen::varchar, days_open, monthly_waste_usd "
        f"from findings_history where type = 'idle_gpu' and workload = '{WORKLOAD}' order by assessment_date",
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("2026-11-28", "new", "2026-11-28", 0),
        ("2026-11-29", "ongoing", "2026-11-28", 1),
        ("2026-11-30", "resolved", "2026-11-28", 2),
    ]
    waste = rows[0][4]
    assert isinstance(waste, float) and waste > 0 and rows[1][4] == waste and rows[2][4] == 0
    # Every other demo problem simply persists.
    others = _rows(warehouse, "select status, count(*) from findings where assessment_date = '2026-11-29' group by 1")
    assert dict(others) == {"ongoing": dict(others)["ongoing"]}


def test_views_show_the_trend_and_the_resolution(history: tuple[Path, list[dg.ExecuteInProcessResult]]) -> None:
    warehouse, _ = history
    trend = _rows(
        warehouse,
        "select assessment_date::varchar, sum(open_findings), sum(new_findings), sum(resolved_findings), "
        "sum(monthly_waste_usd) from waste_trend where type = 'idle_gpu' and namespace = 'research' "
        "group by 1 order by 1",
    )
    assert [r[:4] for r in trend] == [("2026-11-28", 2, 2, 0), ("2026-11-29", 2, 0, 0), ("2026-11-30", 1, 0, 1)]
    (idle_waste,) = _rows(
        warehouse,
        f"select monthly_waste_usd from findings where workload = '{WORKLOAD}' and assessment_date = '2026-11-28'",
    )[0]
    assert isinstance(idle_waste, float)
    assert trend[0][4] == pytest.approx(trend[1][4])
    assert trend[1][4] - trend[2][4] == pytest.approx(idle_waste)

    resolved = _rows(
        warehouse,
        "select resolved_on::varchar, type, workload, first_seen::varchar, last_seen::varchar, days_to_resolve, "
        "monthly_waste_usd from resolved_findings",
    )
    assert [r[:6] for r in resolved] == [("2026-11-30", "idle_gpu", WORKLOAD, "2026-11-28", "2026-11-29", 2)]
    assert resolved[0][6] == pytest.approx(idle_waste)

    latest = _rows(
        warehouse,
        f"select status, is_open, resolved_on::varchar, monthly_waste_usd, nights_open from findings_latest "
        f"where workload = '{WORKLOAD}'",
    )
    assert latest == [("resolved", False, "2026-11-30", 0.0, 2)]
    daily = _rows(warehouse, "select assessment_date::varchar, resolved_findings from fleet_daily order by 1")
    assert [r[1] for r in daily] == [0, 0, 1]
    offenders = _rows(warehouse, "select workload, types, days_flagged from top_offenders")
    assert WORKLOAD not in {r[0] for r in offenders}
    # Deleting the idle deployment frees its GPU: unless the node pool shrinks, that GPU is now dark capacity, a
    # new offender tonight; everything else was first flagged on the first night.
    assert {r[1] for r in offenders if r[2] == 0} == {"dark_capacity"}
    assert {r[2] for r in offenders} == {0, 2}


def test_report_lists_new_and_resolved(history: tuple[Path, list[dg.ExecuteInProcessResult]]) -> None:
    warehouse, _ = history
    con = connect(warehouse, read_only=True)
    try:
        wh = Warehouse(con)
        first_data = load_report_data(wh, date(2026, 11, 28))
        last_data = load_report_data(wh, date(2026, 11, 30))
    finally:
        con.close()
    first, last = render_report(first_data), render_report(last_data)
    assert first.totals.new_findings == first.totals.open_findings > 0
    assert first.totals.previous_day is None and "first night on record" in first.markdown
    assert last.totals.resolved_findings == 1 and last.totals.previous_day == "2026-11-29"
    idle_before, idle_after = (
        float(data.by_type.set_index("type").loc["idle_gpu", "monthly_waste_usd"]) for data in (first_data, last_data)
    )
    assert idle_after < idle_before
    assert "## Resolved findings (1)" in last.markdown
    assert f"`{CLUSTER}/{NAMESPACE}/{WORKLOAD}` after 2 days" in last.markdown
    assert 'id="resolved">Resolved findings (1)' in last.html and "first night on record" not in last.html


def test_findings_checks_pass_each_night_and_catch_bad_rows(
    history: tuple[Path, list[dg.ExecuteInProcessResult]], tmp_path: Path
) -> None:
    warehouse, results = history
    for result in results:
        evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert evaluations == {EVIDENCE: True, MONEY: True, UNIQUE: True}
    # A copy of the warehouse with a broken open finding: no evidence and negative dollars.
    broken = tmp_path / "broken.duckdb"
    shutil.copy(warehouse, broken)
    con = connect(broken)
    try:
        con.execute(
            "update findings set evidence = '{}', monthly_waste_usd = -1 "
            "where assessment_date = '2026-11-29' and workload = ?",
            [WORKLOAD],
        )
        checks = {r.check_name: r for r in evaluate(Warehouse(con), date(2026, 11, 29))}
    finally:
        con.close()
    assert not checks[EVIDENCE].passed and not checks[MONEY].passed and checks[UNIQUE].passed
    assert checks[EVIDENCE].metadata["without_evidence"].value == 1


def test_cli_report_findings_and_sql_use_the_views(
    history: tuple[Path, list[dg.ExecuteInProcessResult]], demo_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from inferops_pipeline.cli import app

    warehouse, _ = history
    config = tmp_path / "inferops.yaml"
    # The demo config with the history warehouse; relative snapshot paths stay relative to the demo dir.
    text = (demo_dir / "inferops.yaml").read_text().replace("snapshot: ", f"snapshot: {demo_dir}/")
    config.write_text(text.replace("warehouse: warehouse.duckdb", f"warehouse: {warehouse}"))
    runner = CliRunner()
    out = tmp_path / "report.html"
    done = runner.invoke(app, ["report", "--config", str(config), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "2026-11-30" in done.output and "1 resolved" in done.output and "Resolved findings (1)" in out.read_text()
    bad = runner.invoke(app, ["report", "--config", str(config), "--date", "2026-01-01"])
    assert bad.exit_code == 2
    opened = runner.invoke(
        app, ["findings", "--config", str(config), "--since", "2026-11-01", "--open", "--output", "json"]
    )
    assert opened.exit_code == 0, opened.output
    assert WORKLOAD not in {r["workload"] for r in json.loads(opened.output)}
    sql = runner.invoke(
        app, ["sql", "select days_to_resolve from resolved_findings", "--config", str(config), "--output", "csv"]
    )
    assert sql.exit_code == 0 and sql.output.split() == ["days_to_resolve", "2"]
