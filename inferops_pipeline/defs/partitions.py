"""The daily assessment partitions shared by every asset."""

import dagster as dg

daily = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)
