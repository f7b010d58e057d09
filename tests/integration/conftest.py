"""Real Prometheus for the integration tests: demo-fleet OpenMetrics → promtool backfill → a server per test need.

Nothing is installed here: .ci/run installs Debian's `prometheus` package (prometheus + promtool).
Each server gets a fresh copy of the backfilled data dir and a free 127.0.0.1 port, and is stopped
by the PID this fixture started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from promserver import BackfilledFleet, PromServer, backfilled, start_prometheus


@pytest.fixture(scope="session")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> BackfilledFleet:
    """The small test fleet: every runtime and exporter quirk, a few pods each (≈0.5 s to backfill)."""
    return backfilled(tmp_path_factory, "small")


@pytest.fixture(scope="session")
def demo_fleet_backfilled(tmp_path_factory: pytest.TempPathFactory) -> BackfilledFleet:
    """The full demo fleet (94 nodes, ≈4 s to generate and backfill)."""
    return backfilled(tmp_path_factory, "demo")


@pytest.fixture(scope="session")
def prometheus(small_fleet: BackfilledFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    server = start_prometheus(small_fleet.tsdb, tmp_path_factory.mktemp("prom-small"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def demo_prometheus(
    demo_fleet_backfilled: BackfilledFleet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PromServer]:
    server = start_prometheus(demo_fleet_backfilled.tsdb, tmp_path_factory.mktemp("prom-demo"))
    yield server
    server.stop()


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., PromServer]]:
    """Start extra servers (e.g. with a low --query.max-samples); all stopped after the test."""
    started: list[PromServer] = []

    def start(tsdb: Path, *extra_args: str) -> PromServer:
        server = start_prometheus(tsdb, tmp_path / f"prom-{len(started)}", extra_args=extra_args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
