"""GPU specifications (bundled gpu_specs.csv) and normalisation of GPU names seen in the wild to price-catalog keys."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

# Price-catalog key (gpu_instance_prices.csv `gpu_model`) -> spec key (gpu_specs.csv `gpu_model`).
# The price catalog names silicon + memory only, the spec table also names the form factor, so one
# variant has to stand for the family. We pick the part the clouds actually rent:
#   H100-80GB -> SXM (p5, a3, ND H100 v5 are SXM; Lambda's PCIe H100 rows are the exception)
#   A100-80GB / A100-40GB -> SXM (p4d/p4de, a2, ND A100 v4; NC A100 v4 is PCIe, bandwidth differs ~5%)
#   V100 / V100-32GB -> SXM2 (p3, p3dn, NC v3, ND40rs v2)
#   GH200 -> the 96 GB part (Lambda's GH200 rows)
# Keys with no row in the price catalog (L40, MI250X, MI325X, RTX6000-ADA) are kept so that a node
# carrying such a GPU still gets memory/bandwidth facts even though it cannot be priced from the catalog.
# Price keys with no spec row (GB200, GB300, T4G, P100, P4, A6000, RTX-PRO-6000, RTX-PRO-4500, RTX6000,
# MI355X, RADEON-PRO-V520) are absent here: GpuCatalog.get() returns None for them.
PRICE_KEY_TO_SPEC_KEY: dict[str, str] = {
    "B300": "B300-288GB-SXM",
    "B200": "B200-180GB-SXM",
    "H200": "H200-141GB-SXM",
    "GH200": "GH200-96GB",
    "H100-80GB": "H100-80GB-SXM",
    "H100-NVL": "H100-NVL-94GB",
    "A100-80GB": "A100-80GB-SXM",
    "A100-40GB": "A100-40GB-SXM",
    "L40S": "L40S-48GB",
    "L40": "L40-48GB",
    "L4": "L4-24GB",
    "A10G": "A10G-24GB",
    "A10": "A10-24GB",
    "T4": "T4-16GB",
    "V100": "V100-16GB-SXM2",
    "V100-32GB": "V100-32GB-SXM2",
    "RTX6000-ADA": "RTX6000-ADA-48GB",
    "MI250X": "MI250X-128GB",
    "MI300X": "MI300X-192GB",
    "MI325X": "MI325X-256GB",
}

_MIB_PER_GIB = 1024
_MEMORY_TOKEN = re.compile(r"^(\d+)GB$")
# Decorations that never change which card it is: vendor prefixes, form factors, memory type.
_NOISE = {
    "NVIDIA",
    "TESLA",
    "AMD",
    "INSTINCT",
    "GEFORCE",
    "QUADRO",
    "SXM",
    "SXM2",
    "SXM4",
    "SXM5",
    "PCIE",
    "HBM2",
    "HBM2E",
    "HBM3",
    "HBM3E",
    "GDDR6",
    "MEGA",
    "SERVER",
    "EDITION",
}


# MIG profile as every source spells it: GFD product suffix '-MIG-1g.10gb', resource 'nvidia.com/mig-1g.10gb',
# kube-state-metrics 'nvidia_com_mig_1g_10gb', DCGM GPU_I_PROFILE '1g.10gb', and the '+me'/'+gfx' variants.
_MIG = re.compile(r"(?:^|[^0-9a-z])(\d)g[._](\d+)gb(?:\+(?:me|gfx))?(?:$|[^0-9a-z])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MigProfile:
    """A MIG GPU-instance profile such as 1g.10gb: compute slices (of 7 on A100/H100/B200) and memory."""

    compute_slices: int
    memory_gb: int

    @property
    def name(self) -> str:
        return f"{self.compute_slices}g.{self.memory_gb}gb"


def parse_mig_profile(raw: str) -> MigProfile | None:
    """The MIG profile named in a GPU label, resource name or DCGM GPU_I_PROFILE; None when there is none."""
    match = _MIG.search(raw.strip())
    if match is None:
        return None
    return MigProfile(compute_slices=int(match.group(1)), memory_gb=int(match.group(2)))


def _tokens(raw: str) -> list[str]:
    text = raw.strip().upper().replace("_", "-").replace(" ", "-")
    # GFD appends -SHARED for time-sliced GPUs and -MIG-<profile> under mig.strategy=single; a MIG slice
    # is priced and specced as its parent card, so both suffixes are dropped.
    text = re.sub(r"-SHARED$", "", text)
    text = re.sub(r"-MIG-.*$", "", text)
    return [t for t in text.split("-") if t]


def _memory_gb(tokens: list[str], memory_mib: int | None) -> float | None:
    for token in tokens:
        match = _MEMORY_TOKEN.match(token)
        if match:
            return float(match.group(1))
    if memory_mib is not None and memory_mib > 0:
        return memory_mib / _MIB_PER_GIB
    return None


def normalize_gpu_name(raw: str, memory_mib: int | None = None) -> str | None:
    """Map a GFD product label, DCGM modelName, GKE accelerator, Karpenter instance-gpu-name, spec key or
    price key to the price-catalog key (e.g. 'H100-80GB'); None when the name is not a GPU we know.

    `memory_mib` (Karpenter `instance-gpu-memory`, GFD `gpu.memory`) separates variants that share a
    name, e.g. Karpenter's bare 'a100' (p4d 40960 MiB vs p4de 81920 MiB). Without it a bare A100 is the
    40 GB part, as GKE's 'nvidia-tesla-a100' and the Lambda/OCI 'A100' listings are.
    """
    tokens = _tokens(raw)
    if not tokens:
        return None
    mem = _memory_gb(tokens, memory_mib)
    words = [t for t in tokens if t not in _NOISE and not _MEMORY_TOKEN.match(t)]
    joined = "-".join(words)
    wordset = set(words)

    # Order matters: longer/more specific names first (GH200 before H200, A100 before A10, T4G before T4).
    for key in ("GB300", "GB200", "GH200", "B300", "B200", "H200"):
        if key in wordset:
            return key
    if "H100" in wordset:
        # H100 NVL is the 94 GB part; DCGM says "NVIDIA H100 NVL", GFD "NVIDIA-H100-NVL".
        return "H100-NVL" if "NVL" in wordset or (mem is not None and mem > 85) else "H100-80GB"
    if "A100" in wordset:
        return "A100-80GB" if mem is not None and mem > 48 else "A100-40GB"
    if "V100" in wordset:
        return "V100-32GB" if mem is not None and mem > 20 else "V100"
    for key in ("A10G", "A10", "L40S", "L40", "L4", "T4G", "T4", "P100", "P4", "MI250X", "MI300X", "MI325X", "MI355X"):
        if key in wordset:
            return key
    # Workstation/RTX families: spelled 'rtx-pro-server-6000' (Karpenter), 'RTX PRO 6000 Blackwell Server
    # Edition' (DCGM), 'nvidia-rtx-pro-6000' (GKE), 'RTXPRO6000' (OCI), 'RTX6000' (Lambda, Turing).
    compact = joined.replace("-", "")
    if "RTXPRO6000" in compact or ("RTX" in wordset and "PRO" in wordset and "6000" in wordset):
        return "RTX-PRO-6000"
    if "RTX6000" in compact and mem is not None and mem >= 90:
        # GCP bills the G4's RTX PRO 6000 Blackwell as "RTX 6000 96GB"; the Turing Quadro RTX 6000 has 24 GB.
        return "RTX-PRO-6000"
    if "RTXPRO4500" in compact or ("RTX" in wordset and "PRO" in wordset and "4500" in wordset):
        return "RTX-PRO-4500"
    if "ADA" in wordset and ("RTX6000" in compact or "6000" in wordset):
        return "RTX6000-ADA"
    if "RTX6000" in compact:
        return "RTX6000"
    if "A6000" in compact:
        return "A6000"
    if "V520" in wordset:
        return "RADEON-PRO-V520"
    return None


def _opt_float(value: str) -> float | None:
    value = value.strip()
    return float(value) if value else None


@dataclass(frozen=True, slots=True)
class GpuSpec:
    gpu_model: str  # price-catalog key, e.g. H100-80GB
    spec_key: str  # gpu_specs.csv key, e.g. H100-80GB-SXM
    vendor: str
    memory_gib: float  # nominal datasheet capacity; CUDA reports less (see sizing.memory.visible_gib)
    memory_bandwidth_gbs: float | None
    bf16_dense_tflops: float | None  # None: no BF16 tensor cores (T4, V100) or not published (A10G)
    fp8_dense_tflops: float | None
    tdp_w: float | None
    nvlink: bool
    mig_capable: bool
    mig_profiles: tuple[str, ...]
    architecture: str
    source: str


class GpuCatalog:
    """GPU specs keyed by price-catalog GPU key."""

    def __init__(self, specs: list[GpuSpec]) -> None:
        self._by_key = {spec.gpu_model: spec for spec in specs}

    @classmethod
    def load_bundled(cls) -> GpuCatalog:
        text = resources.files("inferops_pipeline.catalog").joinpath("data/gpu_specs.csv").read_text("utf-8")
        by_spec_key = {row["gpu_model"]: row for row in csv.DictReader(text.splitlines())}
        specs = []
        for price_key, spec_key in PRICE_KEY_TO_SPEC_KEY.items():
            row = by_spec_key[spec_key]  # KeyError here means the mapping table and the CSV drifted apart
            profiles = tuple(p for p in row["mig_profiles"].split(";") if p)
            specs.append(
                GpuSpec(
                    gpu_model=price_key,
                    spec_key=spec_key,
                    vendor=row["vendor"],
                    memory_gib=float(row["memory_gib"]),
                    memory_bandwidth_gbs=_opt_float(row["memory_bandwidth_gbs"]),
                    bf16_dense_tflops=_opt_float(row["bf16_dense_tflops"]),
                    fp8_dense_tflops=_opt_float(row["fp8_dense_tflops"]),
                    tdp_w=_opt_float(row["tdp_w"]),
                    nvlink=row["nvlink"] == "yes",
                    mig_capable=row["mig_capable"] == "yes",
                    mig_profiles=profiles,
                    architecture=row["architecture"],
                    source=row["source"],
                )
            )
        return cls(specs)

    def get(self, gpu_model: str) -> GpuSpec | None:
        """Spec for a price key; any other spelling is normalised first (e.g. 'NVIDIA-L4' -> 'L4')."""
        spec = self._by_key.get(gpu_model)
        if spec is not None:
            return spec
        key = normalize_gpu_name(gpu_model)
        return self._by_key.get(key) if key else None

    def mig_share(self, gpu_model: str, profile: str | MigProfile) -> float:
        """Share of the parent card one MIG slice is priced at: its compute slices over the card's seven.

        Compute slices, not memory, because they are what MIG partitions exclusively (1g.10gb and 1g.20gb both take
        one of seven); seven 1g slices then add up to exactly one card. ValueError when the card has no such profile.
        """
        spec = self.get(gpu_model)
        mig = profile if isinstance(profile, MigProfile) else parse_mig_profile(profile)
        if spec is None or mig is None:
            raise ValueError(f"unknown GPU {gpu_model!r} or MIG profile {profile!r}")
        profiles = [p for p in (parse_mig_profile(name) for name in spec.mig_profiles) if p is not None]
        if mig.name not in {p.name for p in profiles}:
            raise ValueError(
                f"{spec.gpu_model} has no MIG profile {mig.name} (it has {', '.join(spec.mig_profiles) or 'none'})"
            )
        return mig.compute_slices / max(p.compute_slices for p in profiles)

    def all(self) -> list[GpuSpec]:
        return sorted(self._by_key.values(), key=lambda s: s.gpu_model)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for spec in self.all():
            row = asdict(spec)
            row["mig_profiles"] = ";".join(spec.mig_profiles)
            out.append(row)
        return out
