"""Fleet report rendering (pure) and the views' money rules on hand-made rows."""

import json
from datetime import date

import pandas as pd

from inferops_pipeline.report import ReportData, render_report
from inferops_pipeline.report.charts import Series, bar_chart, line_chart, money_short
from inferops_pipeline.report.load import load_report_data
from inferops_pipeline.warehouse import Warehouse, connect

DAY = date(2026, 11, 30)


def _finding(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "assessment_date": DAY,
        "finding_id": "f1",
        "type": "idle_gpu",
        "severity": "high",
        "confidence": "high",
        "status": "new",
        "suppressed": False,
        "cluster": "prod-us",
        "namespace": "research",
        "workload_kind": "Deployment",
        "workload": "exp",
        "owner": "research",
        "model": "m",
        "gpu_model": "H100-80GB",
        "title": "exp holds 1×H100 at 1%",
        "explanation": "Idle for 24 h.",
        "monthly_waste_usd": 5000.0,
        "monthly_at_risk_usd": 0.0,
        "first_seen": DAY,
        "days_open": 0,
    }
    return row | overrides


def _data(findings: list[dict[str, object]], trend: list[dict[str, object]]) -> ReportData:
    frame = pd.DataFrame(findings)
    open_ = frame[frame["status"] != "resolved"] if not frame.empty else frame
    by_type = (
        open_.groupby("type", as_index=False).agg(
            open_findings=("finding_id", "count"),
            monthly_waste_usd=("monthly_waste_usd", "sum"),
            monthly_at_risk_usd=("monthly_at_risk_usd", "sum"),
        )
        if not open_.empty
        else pd.DataFrame()
    )
    return ReportData(
        day=DAY,
        trend=pd.DataFrame(trend),
        findings=frame,
        resolved=pd.DataFrame(),
        by_type=by_type,
        by_team=pd.DataFrame(),
        coverage=pd.DataFrame(
            [
                {
                    "cluster": "prod-us",
                    "source": "kubernetes",
                    "part": "deployments",
                    "status": "ok",
                    "items": 3,
                    "detail": "",
                },
                {
                    "cluster": "prod-us",
                    "source": "prometheus",
                    "part": "kv_cache",
                    "status": "denied",
                    "items": 0,
                    "detail": "403",
                },
            ]
        ),
    )


def _night(day: str, waste: float, risk: float = 0.0, open_: int = 1) -> dict[str, object]:
    return {
        "assessment_date": pd.Timestamp(day),
        "gpus": 8,
        "monthly_gpu_spend_usd": 40000.0,
        "monthly_waste_usd": waste,
        "monthly_at_risk_usd": risk,
        "open_findings": open_,
        "new_findings": 1,
        "resolved_findings": 0,
        "suppressed_findings": 0,
    }


def test_headline_totals_and_delta_vs_previous_night() -> None:
    report = render_report(_data([_finding()], [_night("2026-11-29", 3000.0), _night("2026-11-30", 5000.0)]))
    assert report.totals.monthly_waste_usd == 5000 and report.totals.previous_waste_usd == 3000
    assert "**Waste: $5,000/month** — ▲ $2,000 vs 2026-11-29" in report.markdown
    assert 'data-testid="total-waste">$5,000<' in report.html
    assert 'class="delta worse">▲ $2,000 vs 2026-11-29' in report.html
    assert "Idle for 24 h." in report.html and "Idle for 24 h." in report.markdown
    assert (
        'prod-us: <span class="status-denied">denied' in report.html and "prometheus kv_cache denied" in report.markdown
    )


def test_html_is_self_contained_and_escapes_cluster_text() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    report = render_report(_data([_finding(title=hostile, explanation=hostile)], [_night("2026-11-30", 5000.0)]))
    assert hostile not in report.html and "&lt;img src=x onerror=alert(1)&gt;" in report.html
    assert "<script" not in report.html and "http://" not in report.html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in report.html


def test_empty_night_renders() -> None:
    empty = ReportData(
        day=DAY,
        trend=pd.DataFrame(),
        findings=pd.DataFrame(),
        resolved=pd.DataFrame(),
        by_type=pd.DataFrame(),
        by_team=pd.DataFrame(),
        coverage=pd.DataFrame(),
    )
    report = render_report(empty)
    assert report.totals.open_findings == 0 and "No open findings." in report.html
    assert "first night on record" in report.markdown


def test_charts_are_inline_svg() -> None:
    svg = line_chart(["2026-11-29", "2026-11-30"], [Series("Waste", "#000", [1.0, 2500.0])], title="t")
    assert svg.startswith("<svg") and svg.count("<circle") == 2 and "$2,500/month" in svg
    bars = bar_chart(["idle_gpu"], [Series("Waste", "#000", [10.0]), Series("At risk", "#111", [0.0])], title="b")
    assert bars.count("<rect") == 3  # two legend swatches, one non-empty bar
    assert money_short(1_250_000) == "$1.2M" and money_short(35_000) == "$35k" and money_short(800) == "$800"


def test_views_leave_suppressed_and_resolved_rows_out_of_money(tmp_path: object) -> None:
    wh = Warehouse(connect(":memory:"))
    wh.apply_schema()
    rows = [
        _finding(finding_id="a", monthly_waste_usd=100.0),
        _finding(finding_id="b", monthly_waste_usd=50.0, suppressed=True),
        _finding(finding_id="c", status="resolved", monthly_waste_usd=0.0, evidence="{}"),
    ]
    frame = pd.DataFrame(rows).drop(columns=["days_open"]).assign(evidence=json.dumps({"x": 1}), suppressed_by="")
    wh.replace_date("findings", DAY, frame)
    trend = wh.con.execute(
        "select open_findings, resolved_findings, suppressed_findings, monthly_waste_usd from waste_trend"
    ).fetchall()
    assert trend == [(2, 1, 1, 100.0)]
    daily = wh.con.execute("select monthly_waste_usd, open_findings from fleet_daily").fetchall()
    assert daily == [(100.0, 2)]
    data = load_report_data(wh, DAY)
    assert render_report(data).totals.monthly_waste_usd == 100.0
    assert "1 suppressed" in render_report(data).markdown
