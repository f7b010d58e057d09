"""Dagster resources: the one place that reads env vars / config files and opens the warehouse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

import dagster as dg

from inferops_pipeline.catalog.prices import GpuShare, PriceCatalog
from inferops_pipeline.settings import CONFIG_ENV, Settings, load_settings
from inferops_pipeline.sources.price_apis import (
    HttpJsonFetcher,
    JsonFetcher,
    RecordedFetcher,
    RefreshResult,
    refresh_prices,
)
from inferops_pipeline.sources.pricing import load_price_catalog
from inferops_pipeline.warehouse import Warehouse, connect

DEMO_DIR_ENV = "INFEROPS_DEMO_DIR"


def demo_config_path(directory: Path | None = None) -> Path:
    """Writes the bundled demo fleet once (deterministic) and returns its inferops.yaml."""
    from inferops_pipeline.demo.fleet import generate, write_fleet

    target = directory or Path(os.environ.get(DEMO_DIR_ENV, ".inferops/demo"))
    config = target / "inferops.yaml"
    if not config.exists():
        write_fleet(generate(), target)
    return config


class InferopsResource(dg.ConfigurableResource):  # type: ignore[misc]
    """Settings file plus an optional fixed window end; the warehouse path can be overridden (tests, --demo)."""

    config_path: str = ""
    at: str = ""
    warehouse_path: str = ""
    # Directory of recorded price-API payloads (tests, air-gapped runs) used instead of live HTTP when refreshing.
    price_api_recordings: str = ""

    @cached_property
    def settings(self) -> Settings:
        path = self.config_path or os.environ.get(CONFIG_ENV) or str(demo_config_path())
        return load_settings(path)

    @cached_property
    def price_refresh(self) -> tuple[RefreshResult, ...]:
        """Live price-API rows when pricing.refresh is enabled (fetched once per run), else none."""
        refresh = self.settings.pricing.refresh
        if not refresh.enabled:
            return ()
        fetcher: JsonFetcher = (
            RecordedFetcher(self.price_api_recordings)
            if self.price_api_recordings
            else HttpJsonFetcher(timeout_s=refresh.timeout_s)
        )
        return tuple(
            refresh_prices(
                fetcher,
                clouds=refresh.clouds,
                bundled=PriceCatalog.load_bundled(),
                fetched_on=datetime.now(UTC).date(),
                regions=refresh.regions,
                gcp_api_key=os.environ.get(refresh.gcp_api_key_env, ""),
            )
        )

    @cached_property
    def prices(self) -> PriceCatalog:
        """Bundled catalog (+ refreshed rows) less the configured discount, with the user's overrides on top."""
        pricing = self.settings.pricing
        share = GpuShare(**pricing.gpu_share.model_dump()) if pricing.gpu_cost == "gpu_share" else None
        return load_price_catalog(
            overrides=pricing.overrides,
            discount_pct=pricing.discount_pct,
            refreshed=[row for result in self.price_refresh for row in result.rows],
            gpu_share=share,
        )

    @property
    def warehouse_file(self) -> Path:
        return Path(self.warehouse_path) if self.warehouse_path else self.settings.warehouse

    def window(self, partition_key: str) -> tuple[datetime, datetime]:
        """Window end: --at, else the config's `at`, else the end of the partition's day (UTC)."""
        if self.at:
            end = datetime.fromisoformat(self.at)
        elif self.settings.at:
            end = self.settings.at
        else:
            end = datetime.fromisoformat(partition_key).replace(tzinfo=UTC) + timedelta(days=1)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        return end - self.settings.window_delta, end

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        con = connect(self.warehouse_file)
        try:
            warehouse = Warehouse(con)
            warehouse.apply_schema()
            yield warehouse
        finally:
            con.close()
