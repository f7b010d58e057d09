"""Domain rows and vocabularies shared by every stage (pure: no I/O, no framework imports)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

HOURS_PER_MONTH = 730.0


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used for sorting and --fail-on."""
        return {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}[self.value]


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingType(StrEnum):
    IDLE_GPU = "idle_gpu"
    OVERPROVISIONED_REPLICAS = "overprovisioned_replicas"
    DARK_CAPACITY = "dark_capacity"
    GPU_FRAGMENTATION = "gpu_fragmentation"
    TIER_MISPLACEMENT = "tier_misplacement"
    UNDERSIZED_GPU = "undersized_gpu"
    OOM_EXPOSURE = "oom_exposure"
    KV_CACHE_PRESSURE = "kv_cache_pressure"
    KV_CACHE_OVERSIZED = "kv_cache_oversized"
    CPU_GPU_IMBALANCE = "cpu_gpu_imbalance"
    BURSTY_WITHOUT_AUTOSCALING = "bursty_without_autoscaling"
    PENDING_GPU_WORKLOAD = "pending_gpu_workload"
    OBSERVABILITY_GAP = "observability_gap"


class FindingStatus(StrEnum):
    NEW = "new"
    ONGOING = "ongoing"
    RESOLVED = "resolved"


class Runtime(StrEnum):
    VLLM = "vllm"
    SGLANG = "sglang"
    TGI = "tgi"
    TRITON = "triton"
    UNKNOWN = "unknown"


# Metric rows are long-format: one row per (series identity, signal, stat). The Prometheus
# ingester and the snapshot file produce exactly these columns, so everything downstream is
# indifferent to where metrics came from.
METRIC_COLUMNS: tuple[str, ...] = (
    "cluster",
    "source",  # gpu | serving | container | traffic
    "signal",
    "stat",  # mean | p50 | p95 | p99 | max | min | increase | last | hNN (hour bucket) | hours (hours with data)
    "namespace",
    "pod",
    "container",
    "node",
    "gpu_uuid",
    "model",
    "value",
    "samples",  # samples behind the value; 0 means the series was absent
)


class Signal(StrEnum):
    """Every metric signal the pipeline understands, independent of exporter/engine naming."""

    GPU_UTIL = "gpu_util"  # 0-1, DCGM_FI_PROF_GR_ENGINE_ACTIVE or DCGM_FI_DEV_GPU_UTIL/100
    GPU_FB_USED_MIB = "gpu_fb_used_mib"
    GPU_FB_TOTAL_MIB = "gpu_fb_total_mib"  # used + free + reserved
    GPU_FB_FREE_MIB = "gpu_fb_free_mib"
    GPU_FB_RESERVED_MIB = "gpu_fb_reserved_mib"
    GPU_POWER_W = "gpu_power_w"
    GPU_SM_ACTIVE = "gpu_sm_active"  # 0-1, DCGM_FI_PROF_SM_ACTIVE (not in DCGM's default counters)
    GPU_DRAM_ACTIVE = "gpu_dram_active"  # 0-1, DCGM_FI_PROF_DRAM_ACTIVE: memory-bandwidth use (decode is bound by it)
    KV_CACHE_USAGE = "kv_cache_usage"  # 0-1
    REQUESTS_RUNNING = "requests_running"
    REQUESTS_WAITING = "requests_waiting"
    PREEMPTIONS = "preemptions"
    PROMPT_TOKENS = "prompt_tokens"
    GENERATION_TOKENS = "generation_tokens"
    TTFT_SECONDS = "ttft_seconds"
    ITL_SECONDS = "itl_seconds"
    KV_POOL_TOKENS = "kv_pool_tokens"  # engine-reported KV pool size (vllm:cache_config_info)
    BATCH_TOKENS = "batch_tokens"  # TGI tokens in the running batch (vs --max-batch-total-tokens: its KV use)
    REQUEST_RATE = "request_rate"  # requests/s; stat hNN = hour bucket
    CPU_USAGE_CORES = "cpu_usage_cores"
    CPU_THROTTLE_RATIO = "cpu_throttle_ratio"
    MEMORY_WORKING_SET_BYTES = "memory_working_set_bytes"
    RESTARTS = "restarts"
    OOM_KILLED = "oom_killed"  # 1 when an OOMKilled termination fell inside the window


class CoverageStatus(StrEnum):
    """How much of one part (an object kind, a metric signal) of one cluster could be read."""

    OK = "ok"  # read completely
    ABSENT = "absent"  # the API/series does not exist there (CRD not installed, exporter not deployed)
    SPARSE = "sparse"  # present but too few samples / gaps for the window: lowers confidence
    DENIED = "denied"  # 401/403: the identity may not read it; the rest of the cluster still ingests
    ERROR = "error"  # unreachable or failed after retries: that cluster's part is missing this run


# Detail prefixes of parts that failed only because another part of the same cluster did (they repeat its cause).
KNOCK_ON_PREFIXES = ("skipped:", "discarded:")


def is_knock_on(detail: str) -> bool:
    return detail.startswith(KNOCK_ON_PREFIXES)


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """What one run could read of one cluster: `source` kubernetes|prometheus, `part` a kind or signal."""

    cluster: str
    source: str
    part: str
    status: CoverageStatus
    items: int = 0  # objects listed or series returned
    detail: str = ""  # one line: the error, the denial, or the sample shortfall
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class MetricRow:
    cluster: str
    source: str
    signal: str
    stat: str
    value: float
    samples: int
    namespace: str = ""
    pod: str = ""
    container: str = ""
    node: str = ""
    gpu_uuid: str = ""
    model: str = ""


@dataclass(frozen=True, slots=True)
class GpuNode:
    """A Kubernetes node with the GPU facts, placement and price the detectors need."""

    cluster: str
    name: str
    cloud: str
    region: str
    zone: str
    instance_type: str
    capacity_type: str  # on-demand | spot | reserved
    gpu_model: str  # catalog key, e.g. H100-80GB; "" for CPU-only nodes
    gpu_memory_gib: float
    gpu_capacity: int
    gpu_allocatable: int
    gpu_allocated: int
    ready: bool
    schedulable: bool  # false when cordoned or carrying a NoSchedule/NoExecute taint
    nodepool: str
    hourly_cost_usd: float  # whole-node price per hour from the catalog (0 when unknown)
    gpu_hour_usd: float  # hourly_cost_usd / gpu_capacity
    price_basis: str  # which catalog row / override priced the node
    # Who adds and removes this node: "karpenter" when Karpenter labelled it, "" when unknown (a static or
    # cluster-autoscaler node group cannot be told apart from node labels alone).
    autoscaler: str = ""

    @property
    def gpu_free(self) -> int:
        return max(0, self.gpu_allocatable - self.gpu_allocated)


@dataclass(frozen=True, slots=True)
class PodRow:
    """One pod resolved to its controlling workload, with engine settings parsed from its spec."""

    cluster: str
    namespace: str
    name: str
    node: str
    phase: str
    workload_kind: str
    workload: str
    owner: str
    runtime: str
    model: str
    image: str
    container: str
    gpus: int
    tensor_parallel: int
    gpu_memory_utilization: float | None
    max_model_len: int | None
    kv_cache_dtype: str
    quantization: str
    cpu_request: float
    cpu_limit: float | None
    memory_request_bytes: float
    memory_limit_bytes: float | None
    restarts: int
    scheduled: bool
    ready: bool
    desired_replicas: int
    has_autoscaler: bool
    gpu_hint: str = ""  # GPU model the pod's nodeSelector/affinity asks for (places pending pods)
    engine_args: tuple[str, ...] = ()  # command + args, secret-looking values redacted
    # Engine settings as the manifest states them (None/"" = not set, the engine default applies; see engine_facts).
    pipeline_parallel: int = 1
    data_parallel: int = 1
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    dtype: str = ""
    prefix_caching: bool | None = None
    served_model_name: str = ""
    # {"node_selector": {...}, "required": [[{key, operator, values}]], "preferred": [...], "gpu_keys": [...]}
    placement: dict[str, Any] = field(default_factory=dict)
    # {knob: {"value": "8192", "source": "arg:--max-model-len" | "env:MODEL_ID" | "label:…" | "owner:…" | "default"}}
    engine_facts: dict[str, dict[str, str]] = field(default_factory=dict)
    env_names: tuple[str, ...] = ()  # names only: env values are never stored
    gpu_resource: str = ""  # nvidia.com/gpu, nvidia.com/mig-1g.10gb, amd.com/gpu, ...
    platform: str = ""  # kserve | llm-d | vllm-production-stack | ""
    role: str = ""  # prefill | decode | both (llm-d), leader | worker (LeaderWorkerSet)
    pods_per_replica: int = 1  # LeaderWorkerSet group size
    ready_replicas: int | None = None  # the owner's status.readyReplicas when it was readable
    # Pending pods: since when (PodScheduled=False lastTransitionTime, else creationTimestamp; ISO 8601 UTC) and
    # the scheduler's reason/message ("0/12 nodes are available: 4 Insufficient nvidia.com/gpu"); "" when scheduled.
    pending_since: str = ""
    pending_reason: str = ""
    pending_message: str = ""
    # Finding types the owner exempted with the `inferops.io/ignore` annotation (controller or pod template); "all".
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkloadMetrics:
    """Window statistics of one workload, aggregated over its pods; None means not observed."""

    gpu_samples: int = 0
    gpu_util_mean: float | None = None
    gpu_util_p95: float | None = None
    gpu_fb_used_max_frac: float | None = None
    gpu_fb_free_min_frac: float | None = None  # least framebuffer free ÷ total on any GPU: the OOM headroom
    gpu_power_mean_w: float | None = None  # DCGM_FI_DEV_POWER_USAGE window mean, averaged over the GPUs
    serving_samples: int = 0
    kv_usage_p95: float | None = None
    kv_usage_max: float | None = None
    kv_pool_tokens: float | None = None
    requests_running_max: float | None = None
    requests_running_p95: float | None = None
    requests_running_p99: float | None = None  # per-replica concurrency used for KV sizing (None: not collected)
    requests_waiting_max: float | None = None
    preemptions: float | None = None
    generation_tokens: float | None = None
    prompt_tokens: float | None = None
    request_tokens_mean: float | None = None  # (prompt + generation tokens) ÷ requests over the window
    ttft_p95_s: float | None = None
    request_rate_peak: float | None = None
    request_rate_mean: float | None = None
    request_rate_trough: float | None = None
    container_samples: int = 0
    cpu_usage_p95: float | None = None
    cpu_throttle_ratio: float | None = None
    memory_ws_max_bytes: float | None = None
    restarts: float | None = None
    oom_killed: float | None = None
    hours_covered: float = 0.0


@dataclass(frozen=True, slots=True)
class Workload:
    """One model deployment: its pods, where they run, what it costs and how it behaved."""

    cluster: str
    namespace: str
    kind: str
    name: str
    owner: str
    runtime: str
    model: str
    container: str
    gpu_model: str
    gpu_memory_gib: float
    replicas: int  # desired (spec) replicas
    running_pods: int
    pending_pods: int
    gpus_per_replica: int
    tensor_parallel: int
    gpu_memory_utilization: float | None
    max_model_len: int | None
    kv_cache_dtype: str
    quantization: str
    cpu_request: float
    cpu_limit: float | None
    memory_request_bytes: float
    memory_limit_bytes: float | None
    has_autoscaler: bool
    cloud: str
    region: str
    capacity_type: str
    gpu_hour_usd: float
    hourly_cost_usd: float  # GPUs held by running pods × GPU-hour price
    price_basis: str
    nodes: tuple[str, ...]
    engine_args: tuple[str, ...] = ()
    metrics: WorkloadMetrics = field(default_factory=WorkloadMetrics)
    ready_replicas: int = 0  # engine pods ready
    pipeline_parallel: int = 1
    data_parallel: int = 1
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    dtype: str = ""
    prefix_caching: bool | None = None
    served_model_name: str = ""
    placement: dict[str, Any] = field(default_factory=dict)
    engine_facts: dict[str, dict[str, str]] = field(default_factory=dict)
    platform: str = ""
    pods_per_replica: int = 1
    pending_since: str = ""  # earliest pending pod's pending-since time (ISO 8601 UTC)
    pending_reason: str = ""  # the scheduler's reason on that pod (Unschedulable, …)
    pending_message: str = ""  # the scheduler's message on that pod
    ignore: tuple[str, ...] = ()  # finding types exempted by `inferops.io/ignore` ("all" = every type)

    @property
    def monthly_cost_usd(self) -> float:
        return self.hourly_cost_usd * HOURS_PER_MONTH

    @property
    def running_replicas(self) -> int:
        """Replicas actually serving: a LeaderWorkerSet group of N pods is one replica, not N."""
        return self.running_pods // max(1, self.pods_per_replica)

    @property
    def gpus_per_serving_replica(self) -> int:
        """GPUs one replica holds across its pods (gpus_per_replica counts one pod's)."""
        return self.gpus_per_replica * max(1, self.pods_per_replica)

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.kind}/{self.name}"


def finding_id(*, cluster: str, namespace: str, kind: str, name: str, type_: str) -> str:
    """Stable across nights: the same problem on the same object keeps its id."""
    raw = "\x1f".join((cluster, namespace, kind, name, type_))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Finding:
    finding_id: str
    assessment_date: date
    type: FindingType
    severity: Severity
    confidence: Confidence
    cluster: str
    namespace: str
    workload_kind: str
    workload: str
    model: str
    gpu_model: str
    owner: str
    title: str
    explanation: str
    evidence: dict[str, Any]
    monthly_waste_usd: float
    monthly_at_risk_usd: float
    first_seen: date
    status: FindingStatus = FindingStatus.NEW
    # Exempted by `inferops.io/ignore`: stored and shown, but its dollars moved into evidence
    # (suppressed_monthly_waste_usd / suppressed_monthly_at_risk_usd) so no total counts them.
    suppressed: bool = False
    suppressed_by: str = ""


@dataclass(frozen=True, slots=True)
class Recommendation:
    recommendation_id: str
    finding_id: str
    assessment_date: date
    action: str  # scale_replicas | move_gpu_tier | set_engine_arg | set_resources | ...
    cluster: str
    namespace: str
    target_kind: str
    target_name: str
    patch: dict[str, Any]
    inverse_patch: dict[str, Any]
    rationale: str
    expected_monthly_savings_usd: float  # negative when the change costs money (e.g. a replica added for KV pressure)
    expected_risk_change: str  # the change's own risk, in operator language (rolling restart, less headroom, ...)
    status: str = "pending"  # pending | approved | rejected | applied | failed | superseded | rolled_back
    # What the plan saw: apply refuses (superseded) when the spec values the patch touches differ from these.
    target_resource_version: str = ""  # changes on any write, status too: reported, not decisive
    target_spec_hash: str = ""  # sha256 of the touched fields' values (remediation.plan.spec_hash)
    expected_risk_removed_usd: float = 0.0  # $/month of spend the finding put at risk that the change protects
    scale_to_zero: bool = False  # an explicit scale-to-zero of an idle workload: the only way below 1 replica

    @property
    def risk(self) -> str:
        """The risk of the change itself (stored as expected_risk_change)."""
        return self.expected_risk_change
