"""Queries one night's report data from the warehouse (sql/queries/report_*); rendering stays in report/."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from inferops_pipeline.report import ReportData

if TYPE_CHECKING:
    from inferops_pipeline.warehouse import Warehouse

TREND_NIGHTS = 30


def load_report_data(wh: Warehouse, day: date, *, nights: int = TREND_NIGHTS) -> ReportData:
    return ReportData(
        day=day,
        trend=wh.query("queries/report_fleet_daily", since=day - timedelta(days=nights - 1), assessment_date=day),
        findings=wh.query("queries/report_findings", assessment_date=day),
        resolved=wh.query("queries/report_resolved", assessment_date=day),
        by_type=wh.query("queries/report_by_type", assessment_date=day),
        by_team=wh.query("queries/report_by_team", assessment_date=day),
        coverage=wh.frame_on("coverage", day),
        offenders=wh.query("queries/report_top_offenders", assessment_date=day),
    )


def latest_date(wh: Warehouse) -> date | None:
    """The newest night with findings: the default report date."""
    value = wh.scalar("queries/latest_date")
    return None if value is None or pd.isna(value) else date.fromisoformat(str(value)[:10])
