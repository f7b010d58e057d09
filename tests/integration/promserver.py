"""Backfilled demo fleets and Prometheus servers for the integration tests (failures become pytest failures)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from inferops_pipeline.demo import prometheus_server
from inferops_pipeline.demo.fleet import DemoFleet, generate, write_fleet
from inferops_pipeline.demo.prometheus_server import PromServer, free_port

__all__ = ["BackfilledFleet", "PromServer", "backfilled", "free_port", "start_prometheus"]


@dataclass
class BackfilledFleet:
    fleet: DemoFleet
    directory: Path  # demo-fleet output: inventory/, metrics.parquet, inferops.yaml
    tsdb: Path  # promtool blocks


def start_prometheus(tsdb: Path, workdir: Path, *, extra_args: tuple[str, ...] = ()) -> PromServer:
    try:
        return prometheus_server.start_prometheus(tsdb, workdir, extra_args=extra_args)
    except prometheus_server.PrometheusUnavailable as exc:
        pytest.fail(str(exc))


def backfilled(factory: pytest.TempPathFactory, name: str) -> BackfilledFleet:
    root = factory.mktemp(f"{name}-fleet")
    fleet = generate(fleet=name)
    write_fleet(fleet, root / "fleet")
    try:
        prometheus_server.backfill(root / "fleet" / "metrics.om", root / "tsdb")
    except prometheus_server.PrometheusUnavailable as exc:
        pytest.fail(str(exc))
    (root / "fleet" / "metrics.om").unlink()  # the blocks hold it now; keep the temp dir small
    return BackfilledFleet(fleet, root / "fleet", root / "tsdb")
