"""Nightly fleet report: Markdown and a self-contained HTML page from one day's findings."""

from __future__ import annotations

import html
from datetime import date

import pandas as pd

_COLUMNS = [
    "severity",
    "type",
    "cluster",
    "namespace",
    "workload",
    "model",
    "gpu_model",
    "title",
    "monthly_waste_usd",
    "monthly_at_risk_usd",
    "status",
]


def render(day: date, findings: pd.DataFrame, nodes: pd.DataFrame) -> tuple[str, str]:
    open_ = findings[findings["status"] != "resolved"] if not findings.empty else findings
    spend = float(nodes["hourly_cost_usd"].sum() * 730) if not nodes.empty else 0.0
    waste = float(open_["monthly_waste_usd"].sum()) if not open_.empty else 0.0
    risk = float(open_["monthly_at_risk_usd"].sum()) if not open_.empty else 0.0
    table = open_[_COLUMNS] if not open_.empty else pd.DataFrame(columns=_COLUMNS)
    summary = f"GPU spend ${spend:,.0f}/month · waste ${waste:,.0f}/month ({(waste / spend * 100 if spend else 0):.0f}%) · at risk ${risk:,.0f}/month · {len(open_)} open findings"
    markdown = f"# GPU inference fleet report — {day}\n\n{summary}\n\n{table.to_markdown(index=False) if not table.empty else '_no findings_'}\n"
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>inferops fleet report</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}th{background:#f3f3f3}</style></head><body>"
        f"<h1>GPU inference fleet report — {html.escape(str(day))}</h1><p>{html.escape(summary)}</p>"
        f"{table.to_html(index=False, float_format=lambda v: f'{v:,.0f}')}</body></html>"
    )
    return markdown, page
