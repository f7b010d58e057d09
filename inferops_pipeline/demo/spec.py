"""The demo fleet's design: clusters, node pools and workloads, each problem injected on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    name: str
    cloud: str
    region: str
    zones: tuple[str, ...]
    # "gfd": GPU Operator labels; "gke": accelerator labels only; "bare": instance type only (catalog fallback)
    labelling: str
    vllm_old_metric_names: bool = False
    cpu_recording_rule: bool = True  # kubernetes-mixin sum_rate5m rule present; else raw cAdvisor counters only
    dcgm: bool = True  # dcgm-exporter deployed at all
    dcgm_honor_labels: bool = True  # False: workload labels arrive as exported_* (dcgm-exporter chart default)
    dcgm_hostname_label: str = "Hostname"  # renamed to `hostname` on dcgm-exporter main after 4.5.3
    dcgm_profiling: bool = True  # DCP module: PROF_* metrics (else DEV_GPU_UTIL, no FB_RESERVED)
    dcgm_sm_dram: bool = False  # custom collectors file adds SM/DRAM activity


@dataclass(frozen=True, slots=True)
class Profile:
    """Window behaviour of one replica; series are synthesised from it and stats computed like PromQL would."""

    util: float = 0.6  # mean GPU engine-active at average load
    kv: float = 0.55  # mean KV-cache usage at average load
    traffic: str = "diurnal"  # flat | diurnal | bursty
    rps: float = 2.0  # mean requests/s per replica
    waiting: float = 1.0  # queue depth at peak
    preemptions_per_hour: float = 0.0
    throttle: float = 0.02  # CFS throttled-period ratio
    cpu_cores: float = 2.5
    memory_frac: float = 0.55  # working set / limit at peak
    oom_kills: int = 0
    restarts: int = 0
    fb_frac: float = 0.90  # framebuffer used / total (vLLM preallocates ~0.9)
    has_gpu_metrics: bool = True
    has_engine_metrics: bool = True
    has_container_metrics: bool = True


@dataclass(frozen=True, slots=True)
class Target:
    """The cheaper layout a workload was designed to fit (tier_misplacement, kv_cache_oversized).

    Used only for the ground truth's expected dollars; it changes nothing generated.
    """

    gpu: str  # catalog GPU key
    gpus: int = 1  # per replica
    mig: str = ""  # MIG profile of one card (e.g. 1g.35gb), priced at its compute share of the card


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    cluster: str
    namespace: str
    name: str
    runtime: str  # vllm | sglang | tgi | triton
    model: str
    gpu: str  # catalog GPU key
    gpus: int  # per replica (tensor parallel)
    replicas: int
    profile: Profile = field(default_factory=Profile)
    expect: tuple[str, ...] = ()  # finding types this workload was built to trigger; () = healthy
    kind: str = "Deployment"
    pending: int = 0  # replicas that must not find a node
    max_model_len: int = 8192
    gpu_memory_utilization: float = 0.9
    cpu_limit: float | None = 8.0
    memory_limit_gib: float = 64.0
    autoscaled: bool = False
    team: str = "ml-platform"
    capacity_type: str = "on-demand"
    mig: str = ""  # MIG profile (e.g. 1g.10gb): replicas share one card's instances
    gpu_gap_hours: tuple[int, int] | None = None  # [from, to) window hours without DCGM samples (scrape gap)
    target: Target | None = None  # designed cheaper layout, for the ground truth's expected dollars only


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """A whole synthetic fleet: its clusters, workloads and node pools nobody uses."""

    name: str
    clusters: tuple[ClusterSpec, ...]
    workloads: tuple[WorkloadSpec, ...]
    spare_nodes: tuple[tuple[str, str, int, str], ...]


CLUSTERS = (
    ClusterSpec("prod-us", "aws", "us-east-1", ("us-east-1a", "us-east-1b"), "gfd", dcgm_sm_dram=True),
    ClusterSpec(
        "prod-gcp",
        "gcp",
        "us-central1",
        ("us-central1-a", "us-central1-c"),
        "gke",
        vllm_old_metric_names=True,
        dcgm_honor_labels=False,
    ),
    ClusterSpec(
        "staging-eu",
        "aws",
        "eu-central-1",
        ("eu-central-1a",),
        "bare",
        cpu_recording_rule=False,
        dcgm_profiling=False,
        dcgm_hostname_label="hostname",
    ),
)

IDLE = Profile(util=0.01, kv=0.01, rps=0.01, waiting=0, traffic="flat")
HEALTHY = Profile()
L70 = "meta-llama/Llama-3.1-70B-Instruct"
L8 = "meta-llama/Llama-3.1-8B-Instruct"
Q7 = "Qwen/Qwen2.5-7B-Instruct"
Q14 = "Qwen/Qwen2.5-14B-Instruct"
Q72 = "Qwen/Qwen2.5-72B-Instruct"
M7 = "mistralai/Mistral-7B-Instruct-v0.3"
G27 = "google/gemma-2-27b-it"
Q32 = "Qwen/Qwen2.5-32B-Instruct"

WORKLOADS: tuple[WorkloadSpec, ...] = (
    # ---- prod-us: EKS + Karpenter + GPU Operator labels, vLLM with current metric names
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "chat-llama70b",
        "vllm",
        L70,
        "H100-80GB",
        4,
        2,
        Profile(util=0.55, kv=0.6),
        max_model_len=32768,
    ),
    WorkloadSpec("prod-us", "llm-serving", "assistant-llama8b", "vllm", L8, "L4", 1, 8, Profile(util=0.6, kv=0.5)),
    WorkloadSpec(
        "prod-us", "llm-serving", "rag-mistral7b", "vllm", M7, "L4", 1, 3, Profile(util=0.5, kv=0.45), autoscaled=True
    ),
    WorkloadSpec("prod-us", "search", "rerank-qwen7b", "sglang", Q7, "A10G", 1, 2, Profile(util=0.55, kv=0.5)),
    WorkloadSpec(
        "prod-us", "llm-serving", "summarize-tgi", "tgi", M7, "A10G", 1, 2, Profile(util=0.6, kv=0.5, fb_frac=0.8)
    ),
    WorkloadSpec(
        "prod-us", "research", "exp-llama8b", "vllm", L8, "H100-80GB", 1, 1, IDLE, ("idle_gpu",), team="research"
    ),
    WorkloadSpec(
        "prod-us", "research", "eval-qwen14b", "vllm", Q14, "L40S", 1, 2, IDLE, ("idle_gpu",), team="research"
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "support-llama8b",
        "vllm",
        L8,
        "L4",
        1,
        6,
        Profile(util=0.12, kv=0.08, traffic="flat", rps=0.3),
        ("overprovisioned_replicas",),
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "codegen-llama8b",
        "vllm",
        L8,
        "H100-80GB",
        1,
        2,
        Profile(util=0.09, kv=0.05, traffic="flat", rps=0.4),
        ("tier_misplacement",),
        target=Target("H200", 1, mig="1g.35gb"),
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "analytics-qwen32b",
        "vllm",
        Q32,
        "H100-80GB",
        4,
        1,
        Profile(util=0.34, kv=0.05, traffic="flat", rps=1.5),
        ("kv_cache_oversized",),
        target=Target("H100-80GB", 2),
        max_model_len=32768,
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "agent-llama70b",
        "vllm",
        L70,
        "H100-80GB",
        4,
        1,
        Profile(util=0.62, kv=0.93, preemptions_per_hour=60, waiting=30, traffic="flat"),
        ("kv_cache_pressure",),
        max_model_len=32768,
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "translate-llama8b",
        "vllm",
        L8,
        "L40S",
        1,
        2,
        Profile(util=0.28, kv=0.4, throttle=0.45, cpu_cores=1.9, waiting=8),
        ("cpu_gpu_imbalance",),
        cpu_limit=2.0,
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "batch-mistral7b",
        "vllm",
        M7,
        "L4",
        1,
        4,
        Profile(util=0.25, kv=0.35, traffic="bursty", rps=0.8),
        ("bursty_without_autoscaling",),
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "docs-qwen7b",
        "vllm",
        Q7,
        "A10G",
        1,
        2,
        Profile(util=0.55, kv=0.5, memory_frac=0.96),
        ("oom_exposure",),
        memory_limit_gib=32,
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "voice-llama8b",
        "vllm",
        L8,
        "L4",
        1,
        2,
        Profile(util=0.91, kv=0.7, waiting=45, traffic="flat"),
        ("undersized_gpu",),
    ),
    WorkloadSpec(
        "prod-us",
        "llm-serving",
        "reasoning-llama70b",
        "vllm",
        L70,
        "H100-80GB",
        8,
        2,
        HEALTHY,
        ("pending_gpu_workload",),
        pending=1,
        max_model_len=65536,
    ),
    WorkloadSpec(
        "prod-us",
        "batch",
        "finetune-eval-llama8b",
        "vllm",
        L8,
        "A100-80GB",
        1,
        10,
        Profile(util=0.6, kv=0.5),
        team="batch",
    ),
    WorkloadSpec(
        "prod-us",
        "batch",
        "offline-qwen72b",
        "vllm",
        Q72,
        "A100-80GB",
        4,
        1,
        HEALTHY,
        ("gpu_fragmentation",),
        pending=1,
        team="batch",
        max_model_len=16384,
    ),
    WorkloadSpec(
        "prod-us",
        "legacy",
        "legacy-triton",
        "triton",
        M7,
        "A10G",
        1,
        1,
        Profile(has_gpu_metrics=False),
        ("observability_gap",),
        team="legacy",
    ),
    # ---- prod-gcp: GKE accelerator labels only, vLLM with the old (pre-0.10) metric names
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "chat-qwen72b",
        "vllm",
        Q72,
        "H100-80GB",
        8,
        1,
        Profile(util=0.6, kv=0.65),
        max_model_len=32768,
    ),
    WorkloadSpec(
        "prod-gcp", "inference", "helpdesk-llama8b", "vllm", L8, "L4", 1, 8, Profile(util=0.55, kv=0.5), autoscaled=True
    ),
    WorkloadSpec("prod-gcp", "inference", "classify-mistral7b", "sglang", M7, "L4", 1, 6, Profile(util=0.6, kv=0.55)),
    WorkloadSpec(
        "prod-gcp", "inference", "triton-llama8b", "triton", L8, "A100-80GB", 1, 2, Profile(util=0.55, kv=0.5)
    ),
    WorkloadSpec("prod-gcp", "sandbox", "sandbox-qwen7b", "vllm", Q7, "L4", 1, 2, IDLE, ("idle_gpu",), team="sandbox"),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "faq-qwen7b",
        "vllm",
        Q7,
        "L4",
        1,
        5,
        Profile(util=0.1, kv=0.06, traffic="flat", rps=0.3),
        ("overprovisioned_replicas",),
    ),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "notes-qwen14b",
        "vllm",
        Q14,
        "A100-80GB",
        1,
        2,
        Profile(util=0.07, kv=0.05, traffic="flat", rps=0.3),
        ("tier_misplacement",),
        target=Target("L4", 4),
    ),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "insights-qwen32b",
        "vllm",
        Q32,
        "A100-80GB",
        4,
        1,
        Profile(util=0.34, kv=0.05, traffic="flat", rps=1.2),
        ("kv_cache_oversized",),
        target=Target("A100-80GB", 2),
        max_model_len=32768,
    ),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "search-sglang-qwen14b",
        "sglang",
        Q14,
        "A100-80GB",
        1,
        2,
        Profile(util=0.6, kv=0.94, waiting=25, preemptions_per_hour=0, traffic="flat"),
        ("kv_cache_pressure",),
    ),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "ocr-tgi-mistral7b",
        "tgi",
        M7,
        "L4",
        1,
        2,
        Profile(util=0.28, kv=0.3, throttle=0.5, cpu_cores=1.0, waiting=6, fb_frac=0.7),
        ("cpu_gpu_imbalance",),
        cpu_limit=1.0,
    ),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "triton-burst-llama8b",
        "triton",
        L8,
        "L4",
        1,
        4,
        Profile(util=0.25, kv=0.3, traffic="bursty", rps=0.9),
        ("bursty_without_autoscaling",),
    ),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "sql-llama8b",
        "vllm",
        L8,
        "L4",
        1,
        2,
        Profile(util=0.55, kv=0.5, oom_kills=1, restarts=4, memory_frac=0.8),
        ("oom_exposure",),
    ),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "tgi-gemma27b",
        "tgi",
        G27,
        "A100-80GB",
        1,
        1,
        Profile(util=0.7, kv=0.6, fb_frac=0.99),
        ("oom_exposure",),  # 1% framebuffer headroom: one allocation away from a CUDA OOM
    ),
    WorkloadSpec(
        "prod-gcp", "batch", "batch-gemma27b", "vllm", G27, "H100-80GB", 1, 10, Profile(util=0.6, kv=0.5), team="batch"
    ),
    WorkloadSpec(
        "prod-gcp",
        "batch",
        "bulk-llama70b",
        "vllm",
        L70,
        "H100-80GB",
        4,
        1,
        HEALTHY,
        ("gpu_fragmentation",),
        pending=1,
        team="batch",
        max_model_len=16384,
    ),
    WorkloadSpec(
        "prod-gcp",
        "inference",
        "shadow-mistral7b",
        "vllm",
        M7,
        "L4",
        1,
        1,
        Profile(has_engine_metrics=False, has_container_metrics=False),
        ("observability_gap",),
    ),
    # ---- staging-eu: no GPU labels at all (instance type → catalog), some spot
    WorkloadSpec(
        "staging-eu",
        "staging",
        "stage-llama8b",
        "vllm",
        L8,
        "L40S",
        1,
        4,
        Profile(util=0.5, kv=0.45),
        team="staging",
        capacity_type="spot",
    ),
    WorkloadSpec(
        "staging-eu", "staging", "stage-qwen7b", "sglang", Q7, "A10G", 1, 2, Profile(util=0.5, kv=0.5), team="staging"
    ),
    WorkloadSpec(
        "staging-eu",
        "staging",
        "stage-mistral-tgi",
        "tgi",
        M7,
        "L4",
        1,
        2,
        Profile(util=0.55, kv=0.5, fb_frac=0.75),
        team="staging",
    ),
    WorkloadSpec(
        "staging-eu",
        "staging",
        "stage-llama70b",
        "vllm",
        L70,
        "A100-80GB",
        8,
        1,
        HEALTHY,
        ("pending_gpu_workload",),
        pending=1,
        team="staging",
        max_model_len=32768,
    ),
)

# Extra nodes that no workload uses: the dark capacity the fleet pays for.
SPARE_NODES: tuple[tuple[str, str, int, str], ...] = (
    # (cluster, gpu, count, reason)
    ("prod-us", "L40S", 4, "idle node left over from a finished training run"),
    ("prod-gcp", "L4", 1, "node pool minimum set too high"),
    ("staging-eu", "L40S", 1, "cordoned for maintenance and forgotten"),
)

DEMO = FleetSpec("demo", CLUSTERS, WORKLOADS, SPARE_NODES)

# A handful of pods per runtime and exporter quirk, for the real-Prometheus tests: fast to backfill.
QUOTE_NAMESPACE = 'ml"ops\\lab'  # label values with a quote and a backslash must stay values in PromQL
SMALL = FleetSpec(
    "small",
    (
        ClusterSpec("test-a", "aws", "us-east-1", ("us-east-1a",), "gfd", dcgm_sm_dram=True),
        ClusterSpec(
            "test-b",
            "gcp",
            "us-central1",
            ("us-central1-a",),
            "gke",
            vllm_old_metric_names=True,
            dcgm_honor_labels=False,
            cpu_recording_rule=False,
            dcgm_profiling=False,
            dcgm_hostname_label="hostname",
        ),
        ClusterSpec("test-c", "aws", "eu-central-1", ("eu-central-1a",), "bare", dcgm=False),
    ),
    (
        WorkloadSpec("test-a", "llm", "chat-vllm", "vllm", L8, "L4", 1, 2, Profile(util=0.6, kv=0.5)),
        WorkloadSpec("test-a", "llm", "rank-sglang", "sglang", Q7, "A10G", 1, 1, Profile(util=0.5, kv=0.6)),
        WorkloadSpec("test-a", "llm", "sum-tgi", "tgi", M7, "A10G", 1, 1, Profile(util=0.55, kv=0.4)),
        WorkloadSpec("test-a", "llm", "trt-triton", "triton", L8, "L4", 1, 1, Profile(util=0.5, kv=0.45)),
        WorkloadSpec(
            "test-a", "llm", "tiny-mig", "vllm", Q7, "A100-80GB", 1, 2, Profile(util=0.3, kv=0.2), mig="1g.10gb"
        ),
        WorkloadSpec(
            "test-a",
            QUOTE_NAMESPACE,
            "quoted-vllm",
            "vllm",
            L8,
            "L4",
            1,
            1,
            Profile(util=0.4, kv=0.3, oom_kills=1, restarts=3, memory_frac=0.8),
        ),
        WorkloadSpec("test-b", "serve", "old-vllm", "vllm", L8, "L4", 1, 2, Profile(util=0.5, kv=0.5)),
        WorkloadSpec(
            "test-b", "serve", "gappy-vllm", "vllm", Q7, "L4", 1, 1, Profile(util=0.5, kv=0.5), gpu_gap_hours=(6, 12)
        ),
        WorkloadSpec("test-b", "serve", "burst-sglang", "sglang", M7, "L4", 1, 1, Profile(traffic="bursty")),
        WorkloadSpec("test-c", "dark", "idle-unwatched", "vllm", L8, "L4", 1, 2, IDLE),
    ),
    (("test-a", "L40S", 1, "unallocated GPU"),),
)
FLEETS = {f.name: f for f in (DEMO, SMALL)}
