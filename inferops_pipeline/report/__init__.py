"""Nightly fleet report: one night's data in, a self-contained HTML page and a Markdown summary out."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from inferops_pipeline.report.charts import RISK, WASTE, Series, bar_chart, line_chart

SEVERITIES = ["critical", "high", "medium", "low", "info"]
TOP_FINDINGS = 10
LIST_LIMIT = 50
# A CRD or exporter that is not installed is information, not a degraded cluster (same ranking as the CLI).
_COVERAGE_RANK = {"ok": 0, "absent": 0, "sparse": 1, "denied": 2, "error": 3}


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, already queried: frames shaped like the sql/queries/report_* results."""

    day: date
    trend: pd.DataFrame  # fleet_daily rows, oldest first, ending at `day`
    findings: pd.DataFrame  # findings_history rows of `day` (open and just resolved)
    resolved: pd.DataFrame  # resolved_findings rows resolved on `day`
    by_type: pd.DataFrame  # type, open_findings, monthly_waste_usd, monthly_at_risk_usd
    by_team: pd.DataFrame  # owner, namespace, open_findings, monthly_waste_usd, monthly_at_risk_usd
    coverage: pd.DataFrame  # coverage rows of `day`
    offenders: pd.DataFrame = field(default_factory=pd.DataFrame)  # top_offenders rows of `day`


@dataclass(frozen=True)
class Totals:
    monthly_waste_usd: float
    monthly_at_risk_usd: float
    monthly_gpu_spend_usd: float
    gpus: int
    open_findings: int
    new_findings: int
    resolved_findings: int
    suppressed_findings: int
    previous_day: str | None
    previous_waste_usd: float | None
    previous_at_risk_usd: float | None
    previous_open_findings: int | None


@dataclass(frozen=True)
class Report:
    markdown: str
    html: str
    totals: Totals


def report_path(folder: Path, day: date, fmt: str = "html") -> Path:
    """Where the fleet_report asset and `inferops report` both write one night's report."""
    return folder / f"fleet-{day.isoformat()}.{'md' if fmt == 'markdown' else 'html'}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _day(value: Any) -> str:
    return str(pd.Timestamp(value).date())


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _delta(now: float, before: float | None, *, money: bool = True, better_when_lower: bool = True) -> tuple[str, str]:
    """('▲ $1,200', 'worse') against the previous night; ('first night', '') when there is none."""
    if before is None:
        return "first night on record", ""
    change = now - before
    if abs(change) < 0.5:
        return "unchanged", ""
    arrow = "▲" if change > 0 else "▼"
    amount = _money(abs(change)) if money else f"{abs(change):,.0f}"
    worse = (change > 0) == better_when_lower
    return f"{arrow} {amount}", "worse" if worse else "better"


def totals(data: ReportData) -> Totals:
    trend = data.trend.assign(day=data.trend["assessment_date"].map(_day)) if not data.trend.empty else data.trend
    today = trend[trend["day"] == data.day.isoformat()] if not trend.empty else trend
    earlier = trend[trend["day"] < data.day.isoformat()] if not trend.empty else trend
    now = today.iloc[-1] if not today.empty else None
    before = earlier.iloc[-1] if not earlier.empty else None

    def num(row: Any, column: str) -> float:
        return float(row[column]) if row is not None else 0.0

    return Totals(
        monthly_waste_usd=num(now, "monthly_waste_usd"),
        monthly_at_risk_usd=num(now, "monthly_at_risk_usd"),
        monthly_gpu_spend_usd=num(now, "monthly_gpu_spend_usd"),
        gpus=int(num(now, "gpus")),
        open_findings=int(num(now, "open_findings")),
        new_findings=int(num(now, "new_findings")),
        resolved_findings=int(num(now, "resolved_findings")),
        suppressed_findings=int(num(now, "suppressed_findings")),
        previous_day=str(before["day"]) if before is not None else None,
        previous_waste_usd=num(before, "monthly_waste_usd") if before is not None else None,
        previous_at_risk_usd=num(before, "monthly_at_risk_usd") if before is not None else None,
        previous_open_findings=int(num(before, "open_findings")) if before is not None else None,
    )


def _open(findings: pd.DataFrame) -> pd.DataFrame:
    if findings.empty:
        return findings
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    open_ = findings[findings["status"] != "resolved"]
    return open_.assign(
        _usd=open_["monthly_waste_usd"] + open_["monthly_at_risk_usd"], _rank=open_["severity"].map(rank)
    ).sort_values(["_usd", "_rank", "finding_id"], ascending=[False, True, True])


def _where(row: Any) -> str:
    parts = [row["cluster"], row["namespace"], row["workload"]]
    return "/".join(str(p) for p in parts if p)


@dataclass(frozen=True)
class _ClusterCoverage:
    cluster: str
    status: str
    gaps: list[dict[str, Any]]
    unobserved: int  # observability_gap findings: workloads running without usable metrics


def _coverage(data: ReportData) -> list[_ClusterCoverage]:
    clusters: dict[str, list[dict[str, Any]]] = {}
    status: dict[str, str] = {}
    for row in _records(data.coverage):
        name = str(row["cluster"])
        clusters.setdefault(name, [])
        status.setdefault(name, "ok")
        if row["status"] != "ok":
            clusters[name].append(row)
        if _COVERAGE_RANK.get(str(row["status"]), 3) > _COVERAGE_RANK[status[name]]:
            status[name] = str(row["status"])
    open_ = _open(data.findings)
    gaps = open_[open_["type"] == "observability_gap"] if not open_.empty else open_
    unobserved = {str(k): int(v) for k, v in gaps.groupby("cluster").size().items()} if not gaps.empty else {}
    for name in unobserved:
        clusters.setdefault(name, [])
        status.setdefault(name, "ok")
    return [
        _ClusterCoverage(name, status[name], clusters[name], int(unobserved.get(name, 0))) for name in sorted(clusters)
    ]


# ---------------------------------------------------------------- Markdown


def _md_table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if not frame.empty else "_none_"


_MD_HEADERS = {
    "assessment_date": "night",
    "monthly_waste_usd": "waste $/mo",
    "monthly_at_risk_usd": "at risk $/mo",
    "open_findings": "open",
    "new_findings": "new",
    "resolved_findings": "resolved",
}


def _md_money(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Dollar columns formatted, headers in report language."""
    if frame.empty:
        return frame
    return frame.assign(**{c: frame[c].map(_money) for c in columns if c in frame}).rename(columns=_MD_HEADERS)


def _labelled_teams(frame: pd.DataFrame) -> pd.DataFrame:
    """Node-level findings (dark capacity, fragmentation) have no owner or namespace: say so instead of blanks."""
    if frame.empty:
        return frame
    return frame.assign(
        owner=frame["owner"].replace("", "(no owner label)"), namespace=frame["namespace"].replace("", "(node level)")
    )


def render_markdown(data: ReportData, t: Totals) -> str:
    waste_delta, _ = _delta(t.monthly_waste_usd, t.previous_waste_usd)
    risk_delta, _ = _delta(t.monthly_at_risk_usd, t.previous_at_risk_usd)
    since = f" vs {t.previous_day}" if t.previous_day else ""
    share = (
        f" ({t.monthly_waste_usd / t.monthly_gpu_spend_usd:.0%} of {_money(t.monthly_gpu_spend_usd)}/month GPU spend on {t.gpus} GPUs)"
        if t.monthly_gpu_spend_usd
        else ""
    )
    lines = [
        f"# GPU inference fleet report — {data.day.isoformat()}",
        "",
        f"- **Waste: {_money(t.monthly_waste_usd)}/month** — {waste_delta}{since}{share}",
        f"- **At risk: {_money(t.monthly_at_risk_usd)}/month** — {risk_delta}{since}",
        f"- **{t.open_findings} open findings**: {t.new_findings} new, {t.resolved_findings} resolved tonight"
        + (f", {t.suppressed_findings} suppressed (not counted)" if t.suppressed_findings else ""),
        "",
        "## Trend",
        "",
    ]
    trend = data.trend.tail(7)
    if not trend.empty:
        trend = trend.assign(assessment_date=trend["assessment_date"].map(_day))
        lines.append(
            _md_table(
                _md_money(
                    trend[
                        [
                            "assessment_date",
                            "monthly_waste_usd",
                            "monthly_at_risk_usd",
                            "open_findings",
                            "new_findings",
                            "resolved_findings",
                        ]
                    ],
                    "monthly_waste_usd",
                    "monthly_at_risk_usd",
                )
            )
        )
    else:
        lines.append("_no history_")
    lines += [
        "",
        "## Waste by type",
        "",
        _md_table(_md_money(data.by_type, "monthly_waste_usd", "monthly_at_risk_usd")),
    ]
    lines += [
        "",
        "## Waste by team / namespace",
        "",
        _md_table(_md_money(_labelled_teams(data.by_team.head(15)), "monthly_waste_usd", "monthly_at_risk_usd")),
    ]
    lines += ["", "## Top findings", ""]
    top = _open(data.findings).head(TOP_FINDINGS)
    if top.empty:
        lines.append("_none_")
    for i, row in enumerate(_records(top), 1):
        lines.append(
            f"{i}. **{row['title']}** — {row['severity']} {row['type']} · `{_where(row)}` · owner {row['owner'] or '—'}"
            f" · waste {_money(row['monthly_waste_usd'])}/mo · at risk {_money(row['monthly_at_risk_usd'])}/mo"
            + (" · suppressed" if row.get("suppressed") else "")
        )
        lines.append(f"   {row['explanation']}")
    new = _open(data.findings)
    new = new[new["status"] == "new"] if not new.empty else new
    lines += ["", f"## New findings ({len(new)})", ""]
    lines += [
        f"- {r['title']} — `{_where(r)}` ({_money(r['monthly_waste_usd'] + r['monthly_at_risk_usd'])}/mo)"
        for r in _records(new.head(LIST_LIMIT))
    ] or ["_none_"]
    lines += ["", f"## Resolved findings ({len(data.resolved)})", ""]
    lines += [
        f"- {r['title']} — `{_where(r)}` after {int(r['days_to_resolve'])} days"
        f" (stopped {_money(r['monthly_waste_usd'])}/mo waste, {_money(r['monthly_at_risk_usd'])}/mo at risk)"
        for r in _records(data.resolved.head(LIST_LIMIT))
    ] or ["_none_"]
    lines += ["", "## Coverage gaps", ""]
    coverage = _coverage(data)
    if not coverage:
        lines.append("_coverage not recorded_")
    for c in coverage:
        detail = ", ".join(f"{g['source']} {g['part']} {g['status']}" for g in c.gaps if g["status"] != "absent")
        absent = sum(1 for g in c.gaps if g["status"] == "absent")
        extra = [detail] if detail else []
        if absent:
            extra.append(f"{absent} not installed")
        if c.unobserved:
            extra.append(f"{c.unobserved} workloads without metrics")
        lines.append(f"- **{c.cluster}**: {c.status}" + (f" — {'; '.join(extra)}" if extra else ""))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f8f9fa;color:#212529}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #dee2e6;padding-bottom:4px}
.sub{color:#6c757d;margin:0 0 16px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px}
.tile{background:#fff;border:1px solid #dee2e6;border-radius:8px;padding:12px 16px}
.tile .label{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#6c757d}
.tile .value{font-size:28px;font-weight:600;margin:4px 0}
.delta{font-size:13px;color:#6c757d}.worse{color:#c92a2a}.better{color:#2b8a3e}
.card{background:#fff;border:1px solid #dee2e6;border-radius:8px;padding:12px 16px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e9ecef;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5;font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
.sev{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;color:#fff;background:#868e96}
.sev-critical{background:#c92a2a}.sev-high{background:#e8590c}.sev-medium{background:#f59f00}.sev-low{background:#1c7ed6}
.finding{background:#fff;border:1px solid #dee2e6;border-radius:8px;padding:10px 14px;margin:8px 0}
.finding .title{font-weight:600}.finding .meta{font-size:12px;color:#6c757d;margin:2px 0 6px}
.finding .why{font-size:14px;margin:0}.muted{color:#6c757d}
.status-ok{color:#2b8a3e}.status-sparse{color:#e67700}.status-denied,.status-error{color:#c92a2a}
footer{margin-top:32px;font-size:12px;color:#868e96}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _tile(label: str, value: str, delta: tuple[str, str], tile_id: str) -> str:
    text, tone = delta
    return (
        f'<div class="tile" id="{tile_id}"><div class="label">{_e(label)}</div>'
        f'<div class="value" data-testid="{tile_id}">{_e(value)}</div>'
        f'<div class="delta {tone}">{_e(text)}</div></div>'
    )


def _cell(value: Any) -> Any:
    """Counts that pandas widened to float print as integers."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _html_table(frame: pd.DataFrame, columns: list[tuple[str, str]], money: set[str]) -> str:
    if frame.empty:
        return '<p class="muted">None.</p>'
    head = "".join(f'<th class="{"num" if c in money else ""}">{_e(label)}</th>' for c, label in columns)
    rows = []
    for record in _records(frame):
        cells = "".join(
            f'<td class="num">{_money(float(record[c]))}</td>' if c in money else f"<td>{_e(_cell(record[c]))}</td>"
            for c, _ in columns
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _finding_card(row: dict[str, Any]) -> str:
    since = f"open since {_day(row['first_seen'])}" if row.get("first_seen") is not None else ""
    return (
        f'<div class="finding"><div class="title"><span class="sev sev-{_e(row["severity"])}">{_e(row["severity"])}</span> '
        f"{_e(row['title'])}</div>"
        f'<div class="meta">{_e(row["type"])} · {_e(_where(row))} · owner {_e(row["owner"] or "—")} · '
        f"{_e(row['gpu_model'] or '')} · waste <b>{_money(row['monthly_waste_usd'])}/mo</b> · at risk "
        f"<b>{_money(row['monthly_at_risk_usd'])}/mo</b> · {_e(row['confidence'])} confidence · {since}"
        + (" · <b>suppressed</b> (not counted)" if row.get("suppressed") else "")
        + f'</div><p class="why">{_e(row["explanation"])}</p></div>'
    )


def render_html(data: ReportData, t: Totals) -> str:
    since = f" vs {t.previous_day}" if t.previous_day else ""
    waste_delta = _delta(t.monthly_waste_usd, t.previous_waste_usd)
    risk_delta = _delta(t.monthly_at_risk_usd, t.previous_at_risk_usd)
    open_delta = _delta(t.open_findings, t.previous_open_findings, money=False)
    share = f"{t.monthly_waste_usd / t.monthly_gpu_spend_usd:.0%} of spend" if t.monthly_gpu_spend_usd else ""
    tiles = "".join(
        [
            _tile(
                "Waste $/month", _money(t.monthly_waste_usd), (waste_delta[0] + since, waste_delta[1]), "total-waste"
            ),
            _tile(
                "At risk $/month",
                _money(t.monthly_at_risk_usd),
                (risk_delta[0] + since, risk_delta[1]),
                "total-at-risk",
            ),
            _tile("Open findings", f"{t.open_findings:,}", (open_delta[0] + since, open_delta[1]), "open-findings"),
            _tile(
                "GPU spend $/month",
                _money(t.monthly_gpu_spend_usd),
                (f"{t.gpus:,} GPUs" + (f" · waste is {share}" if share else ""), ""),
                "gpu-spend",
            ),
            _tile(
                "Tonight",
                f"+{t.new_findings} / −{t.resolved_findings}",
                ("new / resolved" + (f" · {t.suppressed_findings} suppressed" if t.suppressed_findings else ""), ""),
                "new-resolved",
            ),
        ]
    )
    sections = [f'<section class="tiles">{tiles}</section>']

    trend = data.trend
    sections.append("<h2>Trend</h2>")
    if trend.empty:
        sections.append('<p class="muted">No history yet.</p>')
    else:
        labels = [_day(v) for v in trend["assessment_date"]]
        chart = line_chart(
            labels,
            [
                Series("Waste $/month", WASTE, [float(v) for v in trend["monthly_waste_usd"]]),
                Series("At risk $/month", RISK, [float(v) for v in trend["monthly_at_risk_usd"]]),
            ],
            title=f"Monthly waste and at-risk spend, {labels[0]} to {labels[-1]}",
        )
        sections.append(f'<div class="card" id="trend-chart">{chart}</div>')

    sections.append("<h2>Waste by finding type</h2>")
    if not data.by_type.empty:
        chart = bar_chart(
            [str(v) for v in data.by_type["type"]],
            [
                Series("Waste", WASTE, [float(v) for v in data.by_type["monthly_waste_usd"]]),
                Series("At risk", RISK, [float(v) for v in data.by_type["monthly_at_risk_usd"]]),
            ],
            title="Monthly waste and at-risk spend by finding type",
        )
        sections.append(f'<div class="card">{chart}</div>')
    sections.append(
        _html_table(
            data.by_type,
            [
                ("type", "Type"),
                ("open_findings", "Open"),
                ("monthly_waste_usd", "Waste $/mo"),
                ("monthly_at_risk_usd", "At risk $/mo"),
            ],
            {"monthly_waste_usd", "monthly_at_risk_usd"},
        )
    )

    sections.append("<h2>Waste by team and namespace</h2>")
    by_team = _labelled_teams(data.by_team)
    if not by_team.empty:
        top_teams = by_team.head(12)
        chart = bar_chart(
            [f"{o} · {n}" for o, n in zip(top_teams["owner"], top_teams["namespace"], strict=True)],
            [
                Series("Waste", WASTE, [float(v) for v in top_teams["monthly_waste_usd"]]),
                Series("At risk", RISK, [float(v) for v in top_teams["monthly_at_risk_usd"]]),
            ],
            title="Monthly waste and at-risk spend by team and namespace",
        )
        sections.append(f'<div class="card">{chart}</div>')
    sections.append(
        _html_table(
            by_team,
            [
                ("owner", "Team (owner)"),
                ("namespace", "Namespace"),
                ("open_findings", "Open"),
                ("monthly_waste_usd", "Waste $/mo"),
                ("monthly_at_risk_usd", "At risk $/mo"),
            ],
            {"monthly_waste_usd", "monthly_at_risk_usd"},
        )
    )

    open_ = _open(data.findings)
    sections.append("<h2>Top findings</h2>")
    top = open_.head(TOP_FINDINGS)
    sections.append("".join(_finding_card(r) for r in _records(top)) or '<p class="muted">No open findings.</p>')

    if not data.offenders.empty:
        offenders = data.offenders.assign(where=[_where(r) for r in _records(data.offenders)])
        sections.append("<h2>Top offenders</h2>")
        sections.append(
            _html_table(
                offenders,
                [
                    ("where", "Workload"),
                    ("owner", "Team"),
                    ("types", "Findings"),
                    ("monthly_waste_usd", "Waste $/mo"),
                    ("monthly_at_risk_usd", "At risk $/mo"),
                    ("days_flagged", "Days flagged"),
                    ("accrued_waste_usd", "Wasted since flagged"),
                ],
                {"monthly_waste_usd", "monthly_at_risk_usd", "accrued_waste_usd"},
            )
        )

    new = open_[open_["status"] == "new"] if not open_.empty else open_
    sections.append(f'<h2 id="new">New findings ({len(new)})</h2>')
    if not new.empty:
        new = new.head(LIST_LIMIT).assign(where=[_where(r) for r in _records(new.head(LIST_LIMIT))])
    sections.append(
        _html_table(
            new,
            [
                ("severity", "Severity"),
                ("type", "Type"),
                ("where", "Where"),
                ("owner", "Team"),
                ("title", "Finding"),
                ("monthly_waste_usd", "Waste $/mo"),
                ("monthly_at_risk_usd", "At risk $/mo"),
            ],
            {"monthly_waste_usd", "monthly_at_risk_usd"},
        )
    )
    resolved = data.resolved
    sections.append(f'<h2 id="resolved">Resolved findings ({len(resolved)})</h2>')
    if not resolved.empty:
        resolved = resolved.head(LIST_LIMIT)
        resolved = resolved.assign(
            where=[_where(r) for r in _records(resolved)],
            first_seen=resolved["first_seen"].map(_day),
        )
    sections.append(
        _html_table(
            resolved,
            [
                ("type", "Type"),
                ("where", "Where"),
                ("owner", "Team"),
                ("title", "Finding"),
                ("first_seen", "First seen"),
                ("days_to_resolve", "Days to resolve"),
                ("monthly_waste_usd", "Waste stopped $/mo"),
                ("monthly_at_risk_usd", "Risk removed $/mo"),
            ],
            {"monthly_waste_usd", "monthly_at_risk_usd"},
        )
    )

    sections.append('<h2 id="coverage">Coverage gaps</h2>')
    coverage = _coverage(data)
    if not coverage:
        sections.append('<p class="muted">Coverage was not recorded for this night.</p>')
    for c in coverage:
        note = f" · {c.unobserved} workloads without usable metrics" if c.unobserved else ""
        sections.append(
            f'<h3>{_e(c.cluster)}: <span class="status-{_e(c.status)}">{_e(c.status)}</span>'
            f'<span class="muted" style="font-weight:normal;font-size:14px">{_e(note)}</span></h3>'
        )
        degraded = [g for g in c.gaps if g["status"] != "absent"]
        absent = [f"{g['source']} {g['part']}" for g in c.gaps if g["status"] == "absent"]
        if absent:
            # Not installed (no CRD, no exporter) is normal for many fleets: one line, not a table of alarms.
            sections.append(f'<p class="muted">Not installed or not exported: {_e(", ".join(absent))}.</p>')
        if degraded:
            sections.append(
                _html_table(
                    pd.DataFrame(degraded),
                    [
                        ("source", "Source"),
                        ("part", "Part"),
                        ("status", "Status"),
                        ("items", "Items"),
                        ("detail", "Detail"),
                    ],
                    set(),
                )
            )
    title = f"GPU inference fleet report — {data.day.isoformat()}"
    clusters = ", ".join(c.cluster for c in coverage)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1><p class='sub'>Nightly assessment by inferops"
        + (f" · clusters: {_e(clusters)}" if clusters else "")
        + " · money is USD per month (hourly × 730); suppressed findings are not counted.</p>"
        + "".join(sections)
        + f"<footer>Generated by inferops for {_e(data.day.isoformat())}. "
        "Self-contained: no scripts, no external resources.</footer></main></body></html>"
    )


def render_report(data: ReportData) -> Report:
    t = totals(data)
    markdown = render_markdown(data, t)
    return Report(markdown=markdown, html=render_html(data, t), totals=t)
