"""Start and stop real Prometheus servers on backfilled demo-fleet data (helpers for conftest and tests)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from inferops_pipeline.demo.fleet import DemoFleet, generate, write_fleet

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
READY_TIMEOUT_S = 30.0


@dataclass
class PromServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class BackfilledFleet:
    fleet: DemoFleet
    directory: Path  # demo-fleet output: inventory/, metrics.parquet, metrics.om, inferops.yaml
    tsdb: Path  # promtool blocks


def _require(tool: str | None, name: str) -> str:
    if tool is None:
        pytest.fail(f"{name} not on PATH: install Debian's `prometheus` package (.ci/run does)")
    return tool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backfill(openmetrics: Path, tsdb: Path) -> None:
    done = subprocess.run(
        [_require(PROMTOOL, "promtool"), "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=72h",
         str(openmetrics), str(tsdb)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"promtool backfill of {openmetrics} failed: {done.stderr[-2000:]}")


def start_prometheus(tsdb: Path, workdir: Path, *, extra_args: tuple[str, ...] = ()) -> PromServer:
    """A server on a fresh copy of `tsdb`; waits for /-/ready (DESIGN §6 flags)."""
    binary = _require(PROMETHEUS, "prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    shutil.copytree(tsdb, data)
    config = workdir / "prometheus.yml"
    config.write_text("global: {}\nscrape_configs: []\n")
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=3650d",
                f"--web.listen-address=127.0.0.1:{port}",
                *extra_args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = PromServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    pytest.fail(f"prometheus not ready after {READY_TIMEOUT_S:.0f} s: {log.read_text()[-2000:]}")


def backfilled(factory: pytest.TempPathFactory, name: str) -> BackfilledFleet:
    root = factory.mktemp(f"{name}-fleet")
    fleet = generate(fleet=name)
    write_fleet(fleet, root / "fleet")
    backfill(root / "fleet" / "metrics.om", root / "tsdb")
    (root / "fleet" / "metrics.om").unlink()  # blocks hold it now; keep the temp dir small
    return BackfilledFleet(fleet, root / "fleet", root / "tsdb")
