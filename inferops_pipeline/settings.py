"""Typed settings: the inferops.yaml file (plus INFEROPS_* env), every threshold with its documented default."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

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


_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class ClusterConfig(_Strict):
    name: str = Field(
        description="Unique cluster name: letters, digits, '.', '_' and '-' (it keys rows, ingest partitions and "
        "staging folders)."
    )
    kubernetes: KubernetesConfig
    prometheus: PrometheusConfig
    cloud: str = Field("aws", description="Cloud assumed when node labels do not say.")
    region: str = Field("us-east-1", description="Region assumed when node labels do not say.")
    remediator: KubernetesConfig | None = Field(
        None,
        description="The write credential used only to apply approved recommendations (patch on allow-listed "
        "namespaces, deploy/rbac/remediator.yaml). Separate from `kubernetes`, which stays read-only, so a leaked "
        "scanner token cannot change the cluster; unset = nothing can be applied to this cluster.",
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_key(cls, value: str) -> str:
        if not _CLUSTER_NAME.match(value):
            raise ValueError(f"cluster name {value!r} must be 1-63 letters, digits, '.', '_' or '-', starting alnum")
        return value


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
    idle_gpu_util: float = Field(
        0.05,
        description="Default 0.05: mean GPU engine-active below this over the window is idle. A noise floor, not 0: "
        "GR_ENGINE_ACTIVE of a loaded but unused engine reads ~1% (health probes, metrics scrapes, CUDA graph warm-up).",
    )
    idle_gpu_util_p95: float = Field(
        0.10, description="Default 0.10: ...and p95 below this, so no busy hours hide behind a low mean."
    )
    idle_gpu_power_frac: float = Field(
        0.40,
        description="Default 0.40: mean power at or above this fraction of the GPU's TDP contradicts an idle "
        "engine-active reading (an idle H100 with weights loaded draws ~10-15% of 700 W, an L4 ~25% of 72 W), so no "
        "idle finding; without power or a known TDP the finding stands at one confidence level lower.",
    )
    idle_gpu_max_rps_per_replica: float = Field(
        0.05,
        description="Default 0.05: peak-hour requests/s per replica above this is real traffic, not idle (0.05/s = "
        "180 requests an hour: more than probes and canaries send); such a workload is overprovisioned instead.",
    )
    overprovisioned_util: float = Field(
        0.30, description="Default 0.30: GPU p95 (the window's peak hours) per replica below this → too many replicas."
    )
    overprovisioned_kv_p95: float = Field(
        0.30, description="Default 0.30: KV-cache p95 below this corroborates replica overprovisioning."
    )
    overprovisioned_max_waiting: float = Field(
        4.0,
        description="Default 4: peak waiting requests at or above this is queueing, which vetoes any replica cut "
        "(vLLM briefly holds 1-2 requests between scheduler steps even with spare capacity; more means saturation).",
    )
    overprovisioned_kv_max_veto: float = Field(
        0.80,
        description="Default 0.80: KV-cache peak (max) at or above this vetoes a replica cut, as does any preemption: "
        "fewer replicas would each hold more sequences and push a near-full KV cache into preemption.",
    )
    min_replicas_to_shrink: int = Field(
        2, description="Default 2: never suggest scaling a workload below this many replicas (one replica is no HA)."
    )
    target_util_after_scale: float = Field(
        0.60,
        description="Default 0.60: per-replica GPU p95 and KV p95 targeted when sizing replicas, i.e. 40% headroom "
        "at the window's peak for a traffic step or a lost replica before an operator reacts.",
    )
    dark_capacity_min_gpus: int = Field(
        1, description="Default 1: free allocatable GPUs on a ready node at least this many → dark capacity."
    )
    tier_util_p95: float = Field(0.35, description="GPU p95 utilisation below this allows a smaller GPU tier.")
    tier_fit_margin: float = Field(
        0.15,
        description="Default 0.15: KV budget a smaller tier must still have free (fraction of its engine budget) "
        "after the observed need (KV peak, p99 concurrency × request length); 15% absorbs a traffic step without "
        "preemption and the ±1 GiB error of the activation estimate (sizing_reference §4 sensitivity).",
    )
    tier_kv_headroom: float = Field(
        2.0,
        description="Default 2.0: a smaller tier's KV pool must hold this multiple of the busiest observed KV "
        "moment; one day's peak is not next week's, and halving the pool doubles preemptions at that peak.",
    )
    tier_max_util_after: float = Field(
        0.80,
        description="Default 0.80: projected p95 utilisation (today's × memory-bandwidth ratio, decode is "
        "bandwidth-bound) allowed on the proposed tier; above it queueing grows faster than load.",
    )
    tier_min_saving: float = Field(
        0.20,
        description="Default 0.20: a tier/TP move must cut the replica's hourly price by at least this fraction; "
        "below 20% a migration is not worth its risk and the price catalog's own error.",
    )
    undersized_weights_frac: float = Field(
        0.85,
        description="Default 0.85: weights above this fraction of a GPU's CUDA-visible memory leave under 15% "
        "for activations, CUDA graphs and KV cache (sizing_reference §5 asks for ≤ 0.75 on a new deployment; 0.85 "
        "flags only the ones already past the point where a usable pool is possible).",
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
    oom_gpu_headroom_frac: float = Field(
        0.08,
        description="Default 0.08: GPU framebuffer headroom (free ÷ total at the window's minimum) below this is OOM "
        "exposure; vLLM's default 0.9 budget leaves ~10%, and the seed incident was 'eight percent from an OOM event' "
        "(CUDA graphs, sampler spikes and NCCL buffers live in that headroom).",
    )
    oom_engine_util_max: float = Field(
        0.95,
        description="Default 0.95: --gpu-memory-utilization at or above this leaves under 5% of the card (≈1 GiB on "
        "an L4) outside the engine, so any other process's CUDA context fails vLLM's start-up free-memory check "
        "(sizing_reference §3 step 1) and CUDA-graph capture has no room.",
    )
    kv_pressure_p95: float = Field(0.90, description="KV-cache usage p95 at or above this is pressure.")
    kv_pressure_preemptions: float = Field(100.0, description="Preemptions in the window at or above this is pressure.")
    kv_pressure_waiting: float = Field(10.0, description="Max waiting requests at or above this corroborates pressure.")
    kv_oversized_max: float = Field(0.25, description="KV-cache max usage below this with a large pool is oversized.")
    kv_oversized_util_p95: float = Field(
        0.40, description="...only when the GPU is also underused (else the pool does no harm)."
    )
    kv_oversized_len_ratio: float = Field(
        4.0,
        description="Default 4.0: --max-model-len at or above this multiple of the observed request length "
        "(prompt + generation per request) reserves context nobody sends; 4× leaves room for the long tail a mean "
        "or p99 does not show. A smaller max-model-len proposed by this detector stays at or above this multiple.",
    )
    cpu_throttle_ratio: float = Field(
        0.25, description="Default 0.25: CFS throttled-period ratio at or above this starves the engine."
    )
    cpu_at_limit_frac: float = Field(
        0.90,
        description="Default 0.90: CPU p95 use at or above this fraction of the CPU limit also counts as starvation "
        "(pegged at the limit; throttling counters are absent on some cgroup v2 set-ups).",
    )
    cpu_starved_gpu_util: float = Field(
        0.50, description="Default 0.50: ...when GPU utilisation stays below this (a busy GPU is not waiting on CPU)."
    )
    cpu_node_allocatable_frac: float = Field(
        0.92,
        description="Default 0.92: share of an instance's vCPUs and RAM assumed allocatable to pods when judging "
        "GPU stranding (kube/system-reserved, eviction threshold and daemonsets take ~5-10% on GPU nodes).",
    )
    burst_peak_to_mean: float = Field(
        3.0, description="Default 3.0: hourly request-rate peak/mean at or above this is bursty."
    )
    burst_min_peak_rps: float = Field(
        1.0, description="Default 1.0: ignore bursts whose peak is below this many requests/s (noise, not load)."
    )
    pending_min_minutes: float = Field(
        10.0,
        description="Default 10: pods pending for less than this are normal scheduling and node scale-up latency "
        "(Karpenter brings a GPU node up in ~2-5 min); unknown durations are reported.",
    )
    observability_min_hours: float = Field(
        6.0,
        description="Default 6: GPU metrics covering fewer hours than this are too few samples to judge a workload "
        "(every finding would be low confidence), reported as an observability gap; same as medium confidence's floor.",
    )
    min_hours_for_high_confidence: float = Field(20.0, description="Hours of metrics for high confidence.")
    min_hours_for_medium_confidence: float = Field(6.0, description="Hours of metrics for medium confidence.")


class RemediationConfig(_Strict):
    approvers: list[str] = Field(
        default_factory=list,
        description="Who may approve or reject a recommendation (the `approver` of the decision); empty = nobody.",
    )
    namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces a recommendation may change (must match deploy/rbac/remediator.yaml); empty = none.",
    )
    max_changes_per_day: int = Field(
        5,
        ge=0,
        validation_alias=AliasChoices("max_changes_per_day", "max_changes_per_run"),
        description="Default 5: applied changes per UTC day across the fleet; more waits for tomorrow (a bad "
        "recommendation rule cannot roll through the fleet in one night). Dry runs do not count. Old name: "
        "max_changes_per_run.",
    )
    wait_for_rollout_s: float = Field(
        0.0,
        ge=0,
        description="Default 0 (do not wait): seconds to wait after a patch for the rollout to become ready; when "
        "it does not, the inverse patch is applied automatically.",
    )


class NotificationsConfig(_Strict):
    webhook_env: str | None = Field(
        None,
        description="Env var holding a Slack-compatible incoming-webhook URL; unset (default) = no notifications. "
        "Messages: new recommendations awaiting approval, and each applied or failed remediation.",
    )
    timeout_s: float = Field(5.0, gt=0, description="Default 5: a slow chat server never delays a run by more.")


class ScheduleConfig(_Strict):
    enabled: bool = Field(True, description="Run the nightly assessment on schedule (false: the schedule starts off).")
    cron: str = Field(
        "0 2 * * *",
        description="When the nightly run starts (cron, in `timezone`); it assesses the previous full UTC day.",
    )
    timezone: str = Field("UTC", description="IANA timezone the cron expression is read in, e.g. Europe/Berlin.")

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"cron {value!r} must have 5 fields (minute hour day month weekday)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {value!r} is not an IANA timezone name") from None
        return value


class Settings(_Strict):
    warehouse: Path = Field(Path(".inferops/warehouse.duckdb"), description="DuckDB file.")
    staging: Path | None = Field(
        None,
        description="Folder where each cluster's ingest run leaves its Parquet files for the warehouse load "
        "(default: `<warehouse name>.staging/` next to the warehouse file). Ingest runs never open DuckDB, so clusters ingest in parallel "
        "(one run launcher pod each); put it on the same shared volume as the warehouse.",
    )
    staging_keep_days: int = Field(
        35,
        ge=1,
        description="Days of staged ingest kept (counted back from each date loaded): a date can be re-assessed "
        "without re-ingesting while its staging is kept; older staging is deleted (the warehouse keeps the rows).",
    )
    window: str = Field("24h", description="Metrics window ending at the assessment time (e.g. 24h, 7d).")
    at: datetime | None = Field(None, description="Window end (ISO time); default now.")
    clusters: list[ClusterConfig] = Field(min_length=1)
    pricing: PricingConfig = Field(default_factory=lambda: PricingConfig())
    thresholds: Thresholds = Field(default_factory=lambda: Thresholds())
    remediation: RemediationConfig = Field(default_factory=lambda: RemediationConfig())
    notifications: NotificationsConfig = Field(default_factory=lambda: NotificationsConfig())
    schedule: ScheduleConfig = Field(
        default_factory=lambda: ScheduleConfig(), description="The nightly run: cron and timezone (02:00 UTC)."
    )
    owner_labels: list[str] = Field(
        default_factory=lambda: ["team", "owner", "app.kubernetes.io/part-of"],
        description="Workload/namespace labels naming the team that gets paged, first match wins.",
    )

    @field_validator("clusters")
    @classmethod
    def _names_unique(cls, value: list[ClusterConfig]) -> list[ClusterConfig]:
        seen: set[str] = set()
        for cluster in value:
            if cluster.name in seen:
                raise ValueError(f"cluster name {cluster.name!r} appears twice")
            seen.add(cluster.name)
        return value

    def staging_for(self, warehouse: Path) -> Path:
        """`staging`, else `<warehouse name>.staging/` beside the warehouse actually used (tests and --demo move it)."""
        return self.staging or warehouse.with_name(f"{warehouse.stem}.staging")

    def cluster(self, name: str) -> ClusterConfig:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise ConfigError(
            f"clusters: no cluster named {name!r} (configured: {', '.join(c.name for c in self.clusters)})"
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

    for key in ("warehouse", "staging"):
        if raw.get(key):
            raw[key] = fix(raw[key])
    for cluster in raw.get("clusters") or []:
        if not isinstance(cluster, dict):
            continue
        for section, key in (
            ("kubernetes", "snapshot"),
            ("kubernetes", "kubeconfig"),
            ("remediator", "kubeconfig"),
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
