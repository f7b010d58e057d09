"""A throwaway production-shaped Dagster: PostgreSQL 15 (runuser -u postgres), webserver and daemon, stopped by PID.

DESIGN §6: initdb/pg_ctl refuse root, so the data dir is a fresh /tmp dir owned by postgres; the webserver and
daemon are started from Python's subprocess (so SIGTERM works) on free 127.0.0.1 ports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def available() -> str | None:
    """Why the stack cannot run here, or None."""
    if not (PG_BIN / "pg_ctl").exists():
        return f"PostgreSQL 15 is not installed under {PG_BIN}"
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "needs root and runuser to start PostgreSQL as the postgres user"
    return None


def _as_postgres(*args: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=60)


@dataclass
class Postgres:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def stop(self) -> None:
        try:
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    root = Path(tempfile.mkdtemp(prefix="inferops-pg-"))
    shutil.chown(root, "postgres", "postgres")
    port = free_port()
    pg = Postgres(root, port)
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(pg.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    _as_postgres(
        str(PG_BIN / "pg_ctl"), "-D", str(pg.data), "-o", options, "-l", str(root / "log"), "-w", "-t", "30", "start"
    )
    return pg


def instance_yaml(pg: Postgres, *, queued: bool = True) -> str:
    """deploy/dagster.postgres.yaml with the env-var connection swapped for the throwaway server's values."""
    import yaml

    config = yaml.safe_load((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    config["storage"]["postgres"]["postgres_db"].update(
        {"username": "postgres", "password": "", "hostname": "127.0.0.1", "db_name": "postgres", "port": pg.port}
    )
    config["run_coordinator"]["config"] = {"dequeue_interval_seconds": 1}
    if not queued:
        config.pop("run_coordinator")
    # Sensors and runs are started by the test itself; the daemon only dequeues runs.
    config["sensors"] = {"use_threads": True, "num_workers": 1}
    return yaml.safe_dump(config)


@dataclass
class DagsterStack:
    home: Path
    port: int
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graphql(self, query: str, variables: dict[str, object] | None = None) -> dict[str, object]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


LOCATION_LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename ... on PythonError { message } } } } } }"


def start_dagster(home: Path, pg: Postgres, env: dict[str, str], *, daemon: bool = True) -> DagsterStack:
    """Webserver (+ daemon) on the repo's definitions with INFEROPS_CONFIG etc. from `env`; waits for the location."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml(pg, queued=daemon))
    workspace = home / "workspace.yaml"
    workspace.write_text(
        json.dumps(
            {
                "load_from": [
                    {
                        "python_module": {
                            "module_name": "inferops_pipeline.definitions",
                            "working_directory": str(REPO),
                            "location_name": "inferops",
                        }
                    }
                ]
            }
        )
    )
    full_env = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    stack = DagsterStack(home, free_port(), full_env)
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    commands = [
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(stack.port), "-w", str(workspace)],
    ]
    if daemon:
        commands.append([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)])
    for command in commands:
        name = Path(command[0]).name
        with (logs / f"{name}.log").open("wb") as log:
            stack.procs.append(
                subprocess.Popen(command, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=str(home))
            )
    deadline = time.monotonic() + 120
    while True:
        if any(p.poll() is not None for p in stack.procs):
            stack.stop()
            raise RuntimeError(f"dagster exited early; see {logs}")
        try:
            data = stack.graphql(LOCATION_LOADED)["data"]
            entries = data["workspaceOrError"]["locationEntries"]  # type: ignore[index]
            status = entries[0]["locationOrLoadError"]  # type: ignore[index]
            if status and status["__typename"] == "RepositoryLocation":
                return stack
            if status and status["__typename"] == "PythonError":
                stack.stop()
                raise RuntimeError(f"code location failed to load: {status['message']}")
        except (OSError, KeyError, IndexError, TypeError):
            pass
        if time.monotonic() > deadline:
            stack.stop()
            raise TimeoutError(f"dagster webserver not ready in 120 s; see {logs}")
        time.sleep(0.5)


# ------------------------------------------------------------------------------------ the demo fleet, approvable

APPROVER = "alice@example.com"


def inventory(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """A kubectl-JSON snapshot dir as FakeKubeApi seed objects."""
    return {f.stem: json.loads(f.read_text())["items"] for f in sorted(directory.glob("*.json"))}


def remediation_config(demo_dir: Path, root: Path, api_url: str) -> Path:
    """The demo config with prod-us read live from the fake API and a remediator credential for it only."""
    import yaml

    from fakes.kube_api import write_kubeconfig

    config = yaml.safe_load((demo_dir / "inferops.yaml").read_text())
    kubeconfig = write_kubeconfig(root / "kubeconfig", {"scanner": api_url, "remediator": api_url})
    for cluster in config["clusters"]:
        cluster["prometheus"]["snapshot"] = str(demo_dir / cluster["prometheus"]["snapshot"])
        if cluster["name"] == "prod-us":
            cluster["kubernetes"] = {"kubeconfig": str(kubeconfig), "context": "scanner"}
            cluster["remediator"] = {"kubeconfig": str(kubeconfig), "context": "remediator"}
        else:
            cluster["kubernetes"]["snapshot"] = str(demo_dir / cluster["kubernetes"]["snapshot"])
    config["warehouse"] = str(root / "warehouse.duckdb")
    # The tests drive every run themselves; a running nightly schedule / fleet_ready sensor in the stack's daemon
    # would launch assessments of the same warehouse behind their back.
    config["schedule"] = {"enabled": False}
    config["remediation"] = {
        "approvers": [APPROVER],
        "namespaces": ["llm-serving", "inference", "search", "research"],
        "max_changes_per_day": 5,
    }
    path = root / "inferops.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
