"""Dagster resources: the one place that reads env vars / config files and opens the warehouse."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path

import dagster as dg

from inferops_pipeline.catalog.prices import GpuShare, PriceCatalog
from inferops_pipeline.remediation.notify import Notifier, WebhookNotifier
from inferops_pipeline.settings import (
    CONFIG_ENV,
    ConfigError,
    PrometheusConfig,
    ScheduleConfig,
    Settings,
    load_settings,
)
from inferops_pipeline.sources.price_apis import (
    HttpJsonFetcher,
    JsonFetcher,
    RecordedFetcher,
    RefreshResult,
    refresh_prices,
)
from inferops_pipeline.sources.pricing import load_price_catalog
from inferops_pipeline.sources.prometheus import MetricsSource, PromCredentials, metrics_source
from inferops_pipeline.warehouse import Warehouse, connect
from inferops_pipeline.warehouse.staging import Staging

DEMO_DIR_ENV = "INFEROPS_DEMO_DIR"


def demo_config_path(directory: Path | None = None) -> Path:
    """Writes the bundled demo fleet once (deterministic) and returns its inferops.yaml."""
    from inferops_pipeline.demo.fleet import generate, write_fleet

    target = directory or Path(os.environ.get(DEMO_DIR_ENV, ".inferops/demo"))
    config = target / "inferops.yaml"
    if not config.exists():
        # The assessment reads the metrics snapshot; the raw OpenMetrics (for promtool) is `demo-fleet`'s job.
        write_fleet(generate(), target, openmetrics=False)
    return config


def prometheus_credentials(config: PrometheusConfig) -> PromCredentials:
    """Headers and basic auth for one Prometheus, from the env vars its config names (values never echoed)."""
    headers: dict[str, str] = {}
    if config.headers_env:
        raw = _env(config.headers_env, "prometheus.headers_env")
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
        ):
            raise ConfigError(
                f"prometheus.headers_env: {config.headers_env} must hold a JSON object of header strings, "
                'e.g. {"X-Scope-OrgID": "tenant-1"}'
            )
        headers.update(parsed)
    if config.bearer_token_env:
        token = _env(config.bearer_token_env, "prometheus.bearer_token_env").strip()
        headers["Authorization"] = f"Bearer {token}"
    basic = None
    if config.basic_auth_env:
        user, sep, password = _env(config.basic_auth_env, "prometheus.basic_auth_env").partition(":")
        if not sep or not user:
            raise ConfigError(f"prometheus.basic_auth_env: {config.basic_auth_env} must hold user:password")
        basic = (user, password)
    return PromCredentials(headers=tuple(sorted(headers.items())), basic_auth=basic)


def _env(name: str, field: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"{field}: environment variable {name} is not set")
    return value


def cluster_metrics_source(config: PrometheusConfig) -> MetricsSource:
    """The metrics source of one cluster, with its secrets resolved here and nowhere else."""
    if config.snapshot is not None:
        return metrics_source(config)
    return metrics_source(config, credentials=prometheus_credentials(config))


def schedule_config() -> ScheduleConfig:
    """The configured nightly schedule, or the defaults when no config file is set (the demo UI)."""
    # Read at code-location load (schedules are definitions); a set but broken file fails the load and the UI
    # shows its one-line reason.
    return load_settings().schedule if os.environ.get(CONFIG_ENV) else ScheduleConfig()


class InferopsResource(dg.ConfigurableResource):
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
                regions={str(cloud): regions for cloud, regions in refresh.regions.items()},
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

    @cached_property
    def notifier(self) -> Notifier | None:
        """The webhook named by notifications.webhook_env, or None (off) when unset or the variable is empty."""
        config = self.settings.notifications
        url = os.environ.get(config.webhook_env, "") if config.webhook_env else ""
        return WebhookNotifier(url, timeout_s=config.timeout_s) if url else None

    def notify(self, context: dg.AssetExecutionContext, text: str) -> None:
        """Best effort: a missed message is logged, never a failed run."""
        if self.notifier is not None and not self.notifier.send(text):
            context.log.warning("notification webhook did not accept the message")

    @property
    def warehouse_file(self) -> Path:
        return Path(self.warehouse_path) if self.warehouse_path else self.settings.warehouse

    @property
    def staging(self) -> Staging:
        """Where per-cluster ingest runs leave their tables for the warehouse load (settings `staging`)."""
        return Staging(self.settings.staging_for(self.warehouse_file))

    def window(self, day: date) -> tuple[datetime, datetime]:
        """Window end: --at, else the config's `at`, else the end of the partition's day (UTC)."""
        if self.at:
            end = datetime.fromisoformat(self.at)
        elif self.settings.at:
            end = self.settings.at
        else:
            end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
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
