"""The nightly schedule: configurable cron/timezone, always the previous full UTC day."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from inferops_pipeline.defs.schedules import build_nightly_schedule, previous_utc_day
from inferops_pipeline.settings import ConfigError, ScheduleConfig, settings_from_dict


def test_default_is_two_am_utc_running() -> None:
    schedule = build_nightly_schedule(ScheduleConfig())
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    # It launches the per-cluster ingest runs; the fleet_ready sensor launches the daily assessment after them
    # (both exercised against a real instance in tests/integration/test_parallel_ingest.py).
    assert schedule.job_name == "cluster_ingest"
    assert previous_utc_day(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == "2026-11-30"


def test_previous_utc_day_in_other_timezones() -> None:
    # 02:00 in Tokyo is 17:00 UTC the day before: the last complete UTC day is two calendar days back in Tokyo.
    assert previous_utc_day(datetime(2026, 12, 1, 2, 0, tzinfo=ZoneInfo("Asia/Tokyo"))) == "2026-11-29"
    assert previous_utc_day(datetime(2026, 12, 1, 2, 0, tzinfo=ZoneInfo("America/New_York"))) == "2026-11-30"


def test_schedule_settings_validate() -> None:
    base = {"clusters": [{"name": "c", "kubernetes": {"snapshot": "x"}, "prometheus": {"snapshot": "y"}}]}
    settings = settings_from_dict(
        base | {"schedule": {"cron": "30 4 * * *", "timezone": "Europe/Berlin", "enabled": False}}, source="t"
    )
    schedule = build_nightly_schedule(settings.schedule)
    assert schedule.cron_schedule == "30 4 * * *" and schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    with pytest.raises(ConfigError, match="schedule.timezone"):
        settings_from_dict(base | {"schedule": {"timezone": "Mars/Olympus"}}, source="t")
    with pytest.raises(ConfigError, match="schedule.cron"):
        settings_from_dict(base | {"schedule": {"cron": "every night"}}, source="t")
