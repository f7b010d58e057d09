"""Backfill OpenMetrics with promtool and run a throw-away Prometheus on it (tests and bench/, never production).

DESIGN §6: `promtool tsdb create-blocks-from openmetrics --max-block-duration=72h`, a fresh copy of the
data dir per server, retention long enough for old demo timestamps, no scrape targets, 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT_S = 30.0


class PrometheusUnavailable(RuntimeError):
    """prometheus/promtool missing, a backfill failed, or the server did not become ready."""


@dataclass
class PromServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop the server this module started (by its PID, never by name)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PrometheusUnavailable(f"{name} not on PATH: install Debian's `prometheus` package (.ci/run does)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backfill(openmetrics: Path, tsdb: Path) -> None:
    """Append one OpenMetrics file's blocks to `tsdb` (several files may share one dir)."""
    done = subprocess.run(
        [_tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=72h",
         str(openmetrics), str(tsdb)],
        capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise PrometheusUnavailable(f"promtool backfill of {openmetrics} failed: {done.stderr[-2000:]}")


def start_prometheus(tsdb: Path, workdir: Path, *, extra_args: tuple[str, ...] = ()) -> PromServer:
    """A server on a fresh copy of `tsdb` on a free 127.0.0.1 port; returns once /-/ready answers."""
    binary = _tool("prometheus")
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
            raise PrometheusUnavailable(f"prometheus exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise PrometheusUnavailable(f"prometheus not ready after {READY_TIMEOUT_S:.0f} s: {log.read_text()[-2000:]}")
