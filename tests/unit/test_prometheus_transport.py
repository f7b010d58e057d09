"""HTTP transport (auth, TLS, error kinds) against a canned local server; credentials from env; the demo's PromQL maths."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from inferops_pipeline.defs.resources import prometheus_credentials
from inferops_pipeline.demo import promql
from inferops_pipeline.settings import ConfigError, PrometheusConfig
from inferops_pipeline.sources.prometheus import HttpTransport, PromCredentials, PromQueryError

# --- credentials come from env vars named in the config -------------------------------------------


def test_headers_bearer_and_basic_auth_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_HEADERS", '{"X-Scope-OrgID": "tenant-1"}')
    monkeypatch.setenv("PROM_TOKEN", "sekrit\n")
    monkeypatch.setenv("PROM_BASIC", "alice:pa:ss")
    config = PrometheusConfig.model_validate(
        {
            "url": "http://p",
            "headers_env": "PROM_HEADERS",
            "bearer_token_env": "PROM_TOKEN",
            "basic_auth_env": "PROM_BASIC",
        }
    )
    creds = prometheus_credentials(config)
    assert dict(creds.headers) == {"X-Scope-OrgID": "tenant-1", "Authorization": "Bearer sekrit"}
    assert creds.basic_auth == ("alice", "pa:ss")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("headers_env", None, "PROM_X is not set"),
        ("headers_env", "Bearer sekrit", "must hold a JSON object"),
        ("basic_auth_env", "sekrit", "must hold user:password"),
        ("bearer_token_env", None, "PROM_X is not set"),
    ],
)
def test_bad_credentials_are_config_errors_that_never_echo_secrets(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str | None, message: str
) -> None:
    monkeypatch.delenv("PROM_X", raising=False)
    if value is not None:
        monkeypatch.setenv("PROM_X", value)
    with pytest.raises(ConfigError, match=message) as caught:
        prometheus_credentials(PrometheusConfig.model_validate({"url": "http://p", field: "PROM_X"}))
    assert "sekrit" not in str(caught.value) and f"prometheus.{field}" in str(caught.value)


def test_session_carries_auth_and_tls_settings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    creds = PromCredentials(headers=(("Authorization", "Bearer t"),), basic_auth=None)
    transport = HttpTransport(PrometheusConfig.model_validate({"url": "https://p/", "ca_file": ca}), creds)
    assert transport.url == "https://p" and transport.session.verify == str(ca)
    assert transport.session.headers["Authorization"] == "Bearer t"
    insecure = HttpTransport(
        PrometheusConfig.model_validate({"url": "https://p", "verify_tls": False}),
        PromCredentials(basic_auth=("a", "b")),
    )
    assert insecure.session.verify is False and insecure.session.auth == ("a", "b")


def test_concurrency_is_capped_at_four() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        PrometheusConfig.model_validate({"url": "http://p", "max_concurrency": 8})


# --- error kinds from real HTTP answers -----------------------------------------------------------

ANSWERS: dict[str, tuple[int, str, str]] = {
    "ok": (
        200,
        "application/json",
        json.dumps(
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": {"a": "b"}, "value": [1, "2"]}],
                    "stats": {"samples": {"totalQueryableSamples": 1234}},
                },
            }
        ),
    ),  # fmt: skip
    "big": (
        422,
        "application/json",
        json.dumps(
            {
                "status": "error",
                "errorType": "execution",
                "error": "query processing would load too many samples into memory in query execution",
            }
        ),
    ),  # fmt: skip
    "slow": (
        503,
        "application/json",
        json.dumps({"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}),
    ),  # fmt: skip
    "bad": (
        400,
        "application/json",
        json.dumps({"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected character"}),
    ),  # fmt: skip
    "login": (200, "text/html", "<html>please log in</html>"),
    "nope": (401, "text/plain", "unauthorized"),
}


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        _Handler.seen.append({"path": self.path, "form": body, "auth": self.headers.get("Authorization")})
        status, kind, text = ANSWERS[body["query"][0]]
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[HttpTransport]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = PrometheusConfig.model_validate({"url": f"http://127.0.0.1:{server.server_port}", "timeout_s": 5})
    yield HttpTransport(config, PromCredentials(headers=(("Authorization", "Bearer t"),)))
    server.shutdown()
    server.server_close()


def test_success_reports_samples_scanned_and_posts_a_form(canned: HttpTransport) -> None:
    answer = canned.query("ok", time=1700000000.0)
    assert answer.result == [{"metric": {"a": "b"}, "value": [1, "2"]}] and answer.samples_scanned == 1234
    sent = _Handler.seen[-1]
    assert sent["path"] == "/api/v1/query" and sent["auth"] == "Bearer t"
    assert sent["form"]["stats"] == ["all"] and sent["form"]["time"] == ["1700000000.000"]
    assert sent["form"]["timeout"] == ["5s"]


@pytest.mark.parametrize(
    ("query", "kind", "text"),
    [
        ("big", "too_large", "HTTP 422: query processing would load too many samples"),
        ("slow", "timeout", "HTTP 503: query timed out"),
        ("bad", "rejected", "HTTP 400: 1:5: parse error"),
        ("login", "rejected", "HTTP 200: response is not Prometheus JSON"),
        ("nope", "denied", "HTTP 401"),
    ],
)
def test_error_kinds(canned: HttpTransport, query: str, kind: str, text: str) -> None:
    with pytest.raises(PromQueryError) as caught:
        canned.query(query, time=1.0)
    assert caught.value.kind == kind and str(caught.value).startswith(text)
    assert "\n" not in str(caught.value)


def test_unreachable_names_the_reason() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = HttpTransport(
        PrometheusConfig.model_validate({"url": f"http://127.0.0.1:{port}", "timeout_s": 2}), PromCredentials()
    )
    with pytest.raises(PromQueryError) as caught:
        transport.query("ok", time=1.0)
    assert caught.value.kind == "unreachable" and "Connection refused" in str(caught.value)


# --- the demo's Prometheus maths ------------------------------------------------------------------


def test_increase_extrapolates_like_prometheus() -> None:
    # Samples every 300 s, the first 300 s after the range start: extrapolated to the start.
    points = [(300.0 * (i + 1), 10.0 + i) for i in range(288)]
    assert promql.extrapolated_increase(points, 0, 86400) == pytest.approx(287 * 86400 / 86100)
    # A counter starting at 0 is not extrapolated below zero.
    zero = [(300.0 * (i + 1), float(i)) for i in range(288)]
    assert promql.extrapolated_increase(zero, 0, 86400) == pytest.approx(287.0)
    resets = [(300.0, 5.0), (600.0, 6.0), (900.0, 1.0), (1200.0, 2.0)]
    assert promql.extrapolated_increase(resets, 300, 1200) == pytest.approx(3.0)
    assert promql.extrapolated_increase([(1.0, 1.0)], 0, 10) is None


def test_quantile_hours_and_histogram_quantile() -> None:
    assert promql.quantile(0.5, [1.0, 2.0, 3.0, 4.0]) == 2.5
    assert promql.mean([1.0, 2.0, 4.0]) == pytest.approx(7 / 3)
    samples = [(float(t), 1.0) for t in range(300, 86401, 300) if not 6 * 3600 < t <= 12 * 3600]
    assert promql.hours_with_data(samples, start=0, end=86400, ceiling=24) == 18.0
    buckets = [(0.1, 10.0), (0.5, 60.0), (1.0, 90.0), (math.inf, 100.0)]
    assert promql.histogram_quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * 40 / 50)
    assert promql.histogram_quantile(0.95, buckets) == 1.0  # in the +Inf bucket: the highest finite bound
    assert promql.histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None
