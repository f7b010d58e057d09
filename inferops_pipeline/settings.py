"""Typed settings: the inferops.yaml file (plus INFEROPS_* env), every threshold with its documented default."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONFIG_ENV = "INFEROPS_CONFIG"


class ConfigError(ValueError):
    """Bad configuration or input; the message is one line naming the file/field and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KubernetesConfig(_Strict):
    snapshot: Path | None = Field(None, description="Directory of `kubectl get <kind> -o json` List files.")
    kubeconfig: Path | None = Field(None, description="Kubeconfig path; omit both for in-cluster auth.")
    context: str | None = Field(None, description="Kubeconfig context of this cluster.")
    in_cluster: bool = Field(False, description="Use the pod's service account.")
    timeout_s: float = Field(30.0, gt=0, description="Read timeout of one API request (one LIST page).")
    connect_timeout_s: float = Field(5.0, gt=0, description="TCP/TLS connect timeout of one API request.")
    retries: int = Field(3, ge=0, le=10, description="Retries of a failed page (5xx, 429, timeout) with backoff.")
    page_size: int = Field(500, ge=1, le=5000, description="Objects per LIST page (limit/continue).")


class PrometheusConfig(_Strict):
    snapshot: Path | None = Field(
        None, description="Metrics snapshot (parquet) written by demo-fleet / snapshot-metrics."
    )
    url: str | None = Field(
        None, description="Prometheus, Thanos Query or Mimir base URL (Mimir: include the /prometheus prefix)."
    )
    headers_env: str | None = Field(
        None, description='Env var holding extra headers as a JSON object, e.g. {"X-Scope-OrgID": "tenant-1"}.'
    )
    bearer_token_env: str | None = Field(None, description="Env var holding a bearer token (Authorization header).")
    basic_auth_env: str | None = Field(None, description="Env var holding `user:password` for HTTP basic auth.")
    cluster_matcher: str | None = Field(
        None, description='Label matcher selecting this cluster in a shared Prometheus, e.g. cluster="prod-us".'
    )
    verify_tls: bool = Field(True, description="Verify the server certificate; false only for a trusted lab endpoint.")
    ca_file: Path | None = Field(None, description="CA bundle (PEM) that signed the server certificate.")
    cert_file: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    key_file: Path | None = Field(None, description="Private key (PEM) of cert_file.")
    timeout_s: float = Field(120.0, gt=0, description="Per-query timeout; a query that times out is split and retried.")
    max_concurrency: int = Field(4, ge=1, le=4, description="Queries in flight at once against this server (1-4).")


class ClusterConfig(_Strict):
    name: str
    kubernetes: KubernetesConfig
    prometheus: PrometheusConfig
    cloud: str = Field("aws", description="Cloud assumed when node labels do not say.")
    region: str = Field("us-east-1", description="Region assumed when node labels do not say.")


class GpuShareConfig(_Strict):
    cpu_core_hr: float = Field(0.031611, gt=0, description="Reference $/vCPU-hour weighing the CPU part (OpenCost).")
    ram_gib_hr: float = Field(0.004237, gt=0, description="Reference $/GiB-hour weighing the RAM part (OpenCost).")
    gpu_hr: float = Field(0.95, gt=0, description="Reference $/GPU-hour weighing the GPU part (OpenCost).")


RefreshCloud = Literal["aws", "azure", "gcp"]


class PriceRefreshConfig(_Strict):
    enabled: bool = Field(
        False, description="Fetch live list prices when the price_catalog asset runs; off = bundled snapshot only."
    )
    clouds: list[RefreshCloud] = Field(
        default_factory=lambda: list[RefreshCloud](["aws", "azure"]),
        description="Clouds whose public price APIs are read; add gcp once its API key env var is set.",
    )
    regions: dict[RefreshCloud, list[str]] = Field(
        default_factory=dict,
        description="Regions to refresh per cloud, e.g. {aws: [us-east-1]}; default: the bundled catalog's regions.",
    )
    gcp_api_key_env: str = Field(
        "INFEROPS_GCP_API_KEY", description="Env var holding the Cloud Billing Catalog API key (GCP needs one)."
    )
    timeout_s: float = Field(120.0, gt=0, description="Timeout of each price-API request.")


class PricingConfig(_Strict):
    overrides: Path | None = Field(None, description="CSV of negotiated/on-prem prices per instance-hour or GPU-hour.")
    discount_pct: float = Field(0.0, ge=0, lt=100, description="Blanket discount off list prices.")
    gpu_cost: Literal["node", "gpu_share"] = Field(
        "node",
        description="'node': a GPU-hour costs the instance price ÷ its GPUs; 'gpu_share': only the GPU share of the "
        "instance price (OpenCost's CPU/RAM/GPU split weighted by `gpu_share`).",
    )
    gpu_share: GpuShareConfig = Field(
        default_factory=lambda: GpuShareConfig(), description="Reference prices of the 'gpu_share' split."
    )
    refresh: PriceRefreshConfig = Field(
        default_factory=lambda: PriceRefreshConfig(), description="Optional live price refresh (off by default)."
    )


class Thresholds(_Strict):
    idle_gpu_util: float = Field(0.05, description="Mean GPU engine-active below this over the window is idle.")
    idle_gpu_util_p95: float = Field(0.10, description="...and p95 below this (no busy hours either).")
    overprovisioned_util: float = Field(
        0.30, description="Peak-hour fleet utilisation per replica below this → too many replicas."
    )
    overprovisioned_kv_p95: float = Field(
        0.30, description="KV-cache p95 below this corroborates replica overprovisioning."
    )
    min_replicas_to_shrink: int = Field(2, description="Never suggest scaling a workload below this many replicas.")
    target_util_after_scale: float = Field(
        0.60, description="Per-replica peak utilisation targeted when sizing replicas."
    )
    dark_capacity_min_gpus: int = Field(
        1, description="Free allocatable GPUs on a ready node at least this many → dark capacity."
    )
    tier_util_p95: float = Field(0.35, description="GPU p95 utilisation below this allows a smaller GPU tier.")
    tier_fit_margin: float = Field(
        0.15, description="Required memory headroom on the smaller tier (fraction of its budget)."
    )
    undersized_fb_frac: float = Field(
        0.97, description="GPU framebuffer used at or above this fraction of total → undersized."
    )
    undersized_util_p95: float = Field(
        0.90, description="GPU p95 utilisation at or above this with queueing → undersized."
    )
    oom_memory_frac: float = Field(
        0.90, description="Container working set at or above this fraction of its limit is OOM exposure."
    )
    oom_restarts: int = Field(
        3, description="Restarts in the window at or above this count (with OOM) is OOM exposure."
    )
    kv_pressure_p95: float = Field(0.90, description="KV-cache usage p95 at or above this is pressure.")
    kv_pressure_preemptions: float = Field(100.0, description="Preemptions in the window at or above this is pressure.")
    kv_pressure_waiting: float = Field(10.0, description="Max waiting requests at or above this corroborates pressure.")
    kv_oversized_max: float = Field(0.25, description="KV-cache max usage below this with a large pool is oversized.")
    kv_oversized_util_p95: float = Field(
        0.40, description="...only when the GPU is also underused (else the pool does no harm)."
    )
    cpu_throttle_ratio: float = Field(
        0.25, description="CFS throttled-period ratio at or above this starves the engine."
    )
    cpu_starved_gpu_util: float = Field(0.50, description="...when GPU utilisation stays below this.")
    burst_peak_to_mean: float = Field(3.0, description="Hourly request-rate peak/mean at or above this is bursty.")
    burst_min_peak_rps: float = Field(1.0, description="Ignore bursts whose peak is below this many requests/s.")
    min_hours_for_high_confidence: float = Field(20.0, description="Hours of metrics for high confidence.")
    min_hours_for_medium_confidence: float = Field(6.0, description="Hours of metrics for medium confidence.")


class RemediationConfig(_Strict):
    approvers: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    max_changes_per_run: int = 5


class Settings(_Strict):
    warehouse: Path = Field(Path(".inferops/warehouse.duckdb"), description="DuckDB file.")
    window: str = Field("24h", description="Metrics window ending at the assessment time (e.g. 24h, 7d).")
    at: datetime | None = Field(None, description="Window end (ISO time); default now.")
    clusters: list[ClusterConfig] = Field(min_length=1)
    pricing: PricingConfig = Field(default_factory=lambda: PricingConfig())
    thresholds: Thresholds = Field(default_factory=lambda: Thresholds())
    remediation: RemediationConfig = Field(default_factory=lambda: RemediationConfig())
    owner_labels: list[str] = Field(
        default_factory=lambda: ["team", "owner", "app.kubernetes.io/part-of"],
        description="Workload/namespace labels naming the team that gets paged, first match wins.",
    )

    @field_validator("window")
    @classmethod
    def _window_parses(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def window_delta(self) -> timedelta:
        return parse_duration(self.window)

    def window_end(self, override: datetime | None = None) -> datetime:
        end = override or self.at or datetime.now(UTC)
        return end if end.tzinfo else end.replace(tzinfo=UTC)


_DURATION = re.compile(r"^(\d+)([mhd])$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"window {text!r} is not a duration like 30m, 24h or 7d")
    amount, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths in a config file are relative to that file, not to the caller's cwd."""

    def fix(value: Any) -> Any:
        if value is None:
            return None
        path = Path(os.path.expanduser(str(value)))
        return str(path if path.is_absolute() else base / path)

    if "warehouse" in raw:
        raw["warehouse"] = fix(raw["warehouse"])
    for cluster in raw.get("clusters") or []:
        if not isinstance(cluster, dict):
            continue
        for section, key in (
            ("kubernetes", "snapshot"),
            ("kubernetes", "kubeconfig"),
            ("prometheus", "snapshot"),
            ("prometheus", "ca_file"),
            ("prometheus", "cert_file"),
            ("prometheus", "key_file"),
        ):
            block = cluster.get(section)
            if isinstance(block, dict) and block.get(key):
                block[key] = fix(block[key])
    pricing = raw.get("pricing")
    if isinstance(pricing, dict) and pricing.get("overrides"):
        pricing["overrides"] = fix(pricing["overrides"])
    return raw


def load_settings(path: Path | str | None = None) -> Settings:
    """Read the config once; every failure becomes a one-line ConfigError naming file and field."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        raise ConfigError(f"no config: pass --config FILE, set {CONFIG_ENV}, or use --demo")
    file = Path(chosen)
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{file}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping at the top level")
    return settings_from_dict(_resolve_paths(raw, file.parent.resolve()), source=str(file))


def settings_from_dict(raw: dict[str, Any], *, source: str) -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field_path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise ConfigError(f"{source}: {field_path}: {error['msg']}") from None


Output = Literal["table", "json", "csv", "markdown"]
