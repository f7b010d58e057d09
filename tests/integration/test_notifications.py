"""Approval notifications: one webhook message per night's new recommendations, none on a re-run, never a failure."""

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from inferops_pipeline.defs.inprocess import materialize_date
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.remediation.notify import WebhookNotifier

PARTITION = "2026-11-30"


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[tuple[str, list[dict[str, str]]]]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def _run(config: Path, warehouse: Path) -> None:
    materialize_date(
        PARTITION, resources={"inferops": InferopsResource(config_path=str(config), warehouse_path=str(warehouse))}
    )


def test_new_recommendations_are_announced_once(
    demo_dir: Path, tmp_path: Path, webhook: tuple[str, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    raw = yaml.safe_load((demo_dir / "inferops.yaml").read_text())
    raw["notifications"] = {"webhook_env": "INFEROPS_TEST_WEBHOOK"}
    config = demo_dir / "inferops-notify.yaml"
    config.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("INFEROPS_TEST_WEBHOOK", url)
    _run(config, tmp_path / "w.duckdb")
    assert len(received) == 1
    assert "recommendation(s) from the 2026-11-30 assessment await approval" in received[0]["text"]
    _run(config, tmp_path / "w.duckdb")  # the same night again: nothing new to announce
    assert len(received) == 1


def test_an_unreachable_webhook_is_a_miss_not_an_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the send: nothing listens there
    assert WebhookNotifier(f"http://127.0.0.1:{port}/hook", timeout_s=1).send("hello") is False
