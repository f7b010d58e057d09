"""Bundled catalogs: GPU-name normalisation, MIG, GPU specs, price quotes along the fallback chain, model matching."""

from __future__ import annotations

import csv
import statistics
from datetime import date
from importlib import resources

import pytest

from inferops_pipeline.catalog.gpus import (
    PRICE_KEY_TO_SPEC_KEY,
    GpuCatalog,
    normalize_gpu_name,
    parse_mig_profile,
)
from inferops_pipeline.catalog.models import ModelCatalog, params_from_name, quantization_from_name
from inferops_pipeline.catalog.prices import (
    GpuShare,
    PriceBasis,
    PriceCatalog,
    PriceOverride,
    PriceQuote,
    normalize_capacity_type,
    price_evidence,
)


def _csv(name: str) -> list[dict[str, str]]:
    text = resources.files("inferops_pipeline.catalog").joinpath(f"data/{name}").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@pytest.fixture(scope="module")
def prices() -> PriceCatalog:
    return PriceCatalog.load_bundled()


@pytest.fixture(scope="module")
def gpus() -> GpuCatalog:
    return GpuCatalog.load_bundled()


@pytest.fixture(scope="module")
def models() -> ModelCatalog:
    return ModelCatalog.load_bundled()


# --- GPU names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "memory_mib", "expected"),
    [
        # GFD nvidia.com/gpu.product (hyphens; -SHARED when time-sliced, -MIG-<profile> under mig.strategy=single)
        ("NVIDIA-H100-80GB-HBM3", None, "H100-80GB"),
        ("NVIDIA-H100-PCIe", None, "H100-80GB"),
        ("NVIDIA-H100-NVL", None, "H100-NVL"),
        ("NVIDIA-H200", None, "H200"),
        ("NVIDIA-B200", None, "B200"),
        ("NVIDIA-GH200-480GB", None, "GH200"),
        ("NVIDIA-A100-SXM4-80GB", None, "A100-80GB"),
        ("NVIDIA-A100-80GB-PCIe", None, "A100-80GB"),
        ("NVIDIA-A100-SXM4-40GB", None, "A100-40GB"),
        ("NVIDIA-A100-PCIE-40GB", None, "A100-40GB"),
        ("NVIDIA-L40S", None, "L40S"),
        ("NVIDIA-L40", None, "L40"),
        ("NVIDIA-L4", None, "L4"),
        ("NVIDIA-A10G", None, "A10G"),
        ("NVIDIA-A10", None, "A10"),
        ("Tesla-T4", None, "T4"),
        ("Tesla-V100-SXM2-16GB", None, "V100"),
        ("Tesla-V100-SXM2-32GB", None, "V100-32GB"),
        ("NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition", None, "RTX-PRO-6000"),
        ("NVIDIA-H100-80GB-HBM3-SHARED", None, "H100-80GB"),
        ("NVIDIA-L4-SHARED", None, "L4"),
        ("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", None, "A100-80GB"),
        ("NVIDIA-A100-SXM4-40GB-MIG-3g.20gb", None, "A100-40GB"),
        ("NVIDIA-H100-80GB-HBM3-MIG-1g.10gb", None, "H100-80GB"),
        # DCGM modelName (spaces; MIG slices report the parent card plus GPU_I_PROFILE)
        ("NVIDIA H100 80GB HBM3", None, "H100-80GB"),
        ("NVIDIA H100 PCIe", None, "H100-80GB"),
        ("NVIDIA H100 NVL", None, "H100-NVL"),
        ("NVIDIA H200", None, "H200"),
        ("NVIDIA B200", None, "B200"),
        ("NVIDIA GH200 480GB", None, "GH200"),
        ("NVIDIA A100-SXM4-80GB", None, "A100-80GB"),
        ("NVIDIA A100 80GB PCIe", None, "A100-80GB"),
        ("NVIDIA A100-PCIE-40GB", None, "A100-40GB"),
        ("NVIDIA L40S", None, "L40S"),
        ("NVIDIA L4", None, "L4"),
        ("NVIDIA A10G", None, "A10G"),
        ("NVIDIA A10", None, "A10"),
        ("Tesla T4", None, "T4"),
        ("Tesla V100-SXM2-16GB", None, "V100"),
        ("Tesla V100-SXM2-32GB", None, "V100-32GB"),
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", None, "RTX-PRO-6000"),
        # GKE cloud.google.com/gke-accelerator
        ("nvidia-h100-80gb", None, "H100-80GB"),
        ("nvidia-h100-mega-80gb", None, "H100-80GB"),
        ("nvidia-h200-141gb", None, "H200"),
        ("nvidia-b200", None, "B200"),
        ("nvidia-gb200", None, "GB200"),
        ("nvidia-l4", None, "L4"),
        ("nvidia-tesla-a100", None, "A100-40GB"),
        ("nvidia-a100-80gb", None, "A100-80GB"),
        ("nvidia-tesla-t4", None, "T4"),
        ("nvidia-tesla-v100", None, "V100"),
        ("nvidia-tesla-p100", None, "P100"),
        ("nvidia-tesla-p4", None, "P4"),
        ("nvidia-rtx-pro-6000", None, "RTX-PRO-6000"),
        # Karpenter karpenter.k8s.aws/instance-gpu-name (+ instance-gpu-memory MiB)
        ("h100", None, "H100-80GB"),
        ("a100", None, "A100-40GB"),
        ("a100", 40960, "A100-40GB"),
        ("a100", 81920, "A100-80GB"),
        ("v100", 16384, "V100"),
        ("v100", 32768, "V100-32GB"),
        ("l40s", None, "L40S"),
        ("l4", None, "L4"),
        ("a10g", None, "A10G"),
        ("t4", None, "T4"),
        ("t4g", None, "T4G"),
        ("h200", None, "H200"),
        ("b200", None, "B200"),
        ("b300", None, "B300"),
        ("rtx-pro-server-6000", None, "RTX-PRO-6000"),
        ("rtx-pro-4500", None, "RTX-PRO-4500"),
        ("radeon-pro-v520", None, "RADEON-PRO-V520"),
        # price-source spellings (pricing_reference §4) and GCP billing SKU names
        ("RTXPRO6000", None, "RTX-PRO-6000"),
        ("RTX6000", None, "RTX6000"),
        ("RTX 6000 96GB", None, "RTX-PRO-6000"),
        ("Nvidia Tesla A100 80GB", None, "A100-80GB"),
        ("Nvidia H100 80GB Mega", None, "H100-80GB"),
        ("MI355X", None, "MI355X"),
        # catalog keys are fixed points; spec keys map back to their price key
        ("H100-80GB", None, "H100-80GB"),
        ("A100-40GB", None, "A100-40GB"),
        ("V100-32GB", None, "V100-32GB"),
        ("H100-80GB-SXM", None, "H100-80GB"),
        ("A10G-24GB", None, "A10G"),
        ("T4-16GB", None, "T4"),
        ("H100-NVL-94GB", None, "H100-NVL"),
        # other vendors / workstation parts
        ("AMD Instinct MI300X", None, "MI300X"),
        ("NVIDIA RTX A6000", None, "A6000"),
        ("Quadro RTX 6000", None, "RTX6000"),
        ("NVIDIA RTX 6000 Ada Generation", None, "RTX6000-ADA"),
    ],
)
def test_normalize_gpu_name(raw: str, memory_mib: int | None, expected: str) -> None:
    assert normalize_gpu_name(raw, memory_mib=memory_mib) == expected


@pytest.mark.parametrize("raw", ["", "   ", "foo", "nvidia-tesla-k80", "Intel Gaudi2", "cpu", "TPU-v5e-16GB"])
def test_normalize_gpu_name_unknown_is_none(raw: str) -> None:
    assert normalize_gpu_name(raw) is None


def test_every_price_catalog_gpu_model_is_a_fixed_point(prices: PriceCatalog) -> None:
    # The normaliser must never move a key the price catalog already uses, or lookups silently miss.
    for key in {p.gpu_model for p in prices.all()}:
        assert normalize_gpu_name(key) == key


def test_every_spec_key_normalises_to_a_key_with_the_same_memory(gpus: GpuCatalog) -> None:
    # Every gpu_specs.csv spelling lands on a price key whose spec has the same capacity; the two exceptions are
    # variants the price catalog cannot tell apart (GH200 144 GB: only the 96 GB part is sold) and the TPU.
    for row in _csv("gpu_specs.csv"):
        key = normalize_gpu_name(row["gpu_model"])
        if row["gpu_model"] == "TPU-v5e-16GB":
            assert key is None
            continue
        assert key is not None, row["gpu_model"]
        spec = gpus.get(key)
        assert spec is not None, key
        if row["gpu_model"] != "GH200-144GB":
            assert spec.memory_gib == float(row["memory_gib"]), row["gpu_model"]


# --- MIG -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", "1g.10gb"),  # GFD product, mig.strategy=single
        ("nvidia.com/mig-3g.40gb", "3g.40gb"),  # extended resource, mig.strategy=mixed
        ("nvidia.com/mig-1g.10gb.count", "1g.10gb"),  # GFD per-profile label
        ("nvidia_com_mig_2g_20gb", "2g.20gb"),  # kube-state-metrics resource label
        ("1g.10gb+me", "1g.10gb"),  # DCGM GPU_I_PROFILE with media extensions
        ("7g.80gb", "7g.80gb"),
        ("NVIDIA-H100-80GB-HBM3", None),
        ("nvidia.com/gpu", None),
    ],
)
def test_parse_mig_profile(raw: str, name: str | None) -> None:
    parsed = parse_mig_profile(raw)
    assert (parsed.name if parsed else None) == name


@pytest.mark.parametrize(
    ("gpu", "profile", "share"),
    [
        ("A100-80GB", "1g.10gb", 1 / 7),
        ("A100-80GB", "nvidia.com/mig-3g.40gb", 3 / 7),
        ("A100-40GB", "1g.5gb", 1 / 7),
        ("H100-80GB", "2g.20gb", 2 / 7),
        ("NVIDIA-H100-80GB-HBM3", "7g.80gb", 1.0),
        ("H200", "1g.18gb", 1 / 7),
    ],
)
def test_mig_share(gpus: GpuCatalog, gpu: str, profile: str, share: float) -> None:
    assert gpus.mig_share(gpu, profile) == pytest.approx(share)


@pytest.mark.parametrize(("gpu", "profile"), [("A100-80GB", "1g.5gb"), ("L4", "1g.6gb"), ("nope", "1g.10gb")])
def test_mig_share_rejects_profiles_the_card_does_not_have(gpus: GpuCatalog, gpu: str, profile: str) -> None:
    with pytest.raises(ValueError):
        gpus.mig_share(gpu, profile)


# --- GPU specs -------------------------------------------------------------------------------------------------


def test_gpu_catalog_maps_price_keys_to_spec_rows(gpus: GpuCatalog) -> None:
    h100 = gpus.get("H100-80GB")
    assert h100 is not None
    assert h100.spec_key == "H100-80GB-SXM"
    assert (h100.memory_gib, h100.memory_bandwidth_gbs, h100.bf16_dense_tflops, h100.fp8_dense_tflops) == (
        80.0,
        3350.0,
        989.0,
        1979.0,
    )
    assert h100.mig_capable and "1g.10gb" in h100.mig_profiles

    t4 = gpus.get("T4")
    assert t4 is not None and t4.spec_key == "T4-16GB" and t4.bf16_dense_tflops is None and not t4.mig_capable
    a10g = gpus.get("A10G")
    assert a10g is not None and a10g.spec_key == "A10G-24GB" and a10g.tdp_w is None
    assert gpus.get("V100") is not None and gpus.get("V100").spec_key == "V100-16GB-SXM2"  # type: ignore[union-attr]
    assert gpus.get("A100-40GB").memory_gib == 40.0  # type: ignore[union-attr]
    # any spelling works, not just the price key
    assert gpus.get("NVIDIA-L4").spec_key == "L4-24GB"  # type: ignore[union-attr]
    assert gpus.get("T4G") is None  # priced but not specced
    assert gpus.get("nonsense") is None


def test_gpu_catalog_rows_carry_source_and_cover_mapping(gpus: GpuCatalog) -> None:
    rows = gpus.rows()
    assert {r["gpu_model"] for r in rows} == set(PRICE_KEY_TO_SPEC_KEY)
    assert all(r["source"] for r in rows)
    assert all(isinstance(r["mig_profiles"], str) for r in rows)


# --- prices: the catalog ---------------------------------------------------------------------------------------


def test_bundled_price_catalog_has_every_csv_row(prices: PriceCatalog) -> None:
    assert len(prices.all()) == len(_csv("gpu_instance_prices.csv")) == 383


def test_price_rows_for_warehouse(prices: PriceCatalog) -> None:
    rows = prices.rows()
    assert len(rows) == 383
    p5 = next(r for r in rows if (r["cloud"], r["region"], r["instance_type"]) == ("aws", "us-east-1", "p5.48xlarge"))
    assert p5["ondemand_usd_hr"] == 55.04 and p5["per_gpu_ondemand_usd_hr"] == 6.88
    assert p5["gpu_memory_total_gib"] == 640 and p5["source"] and p5["origin"] == "bundled"
    assert p5["snapshot_date"] == date(2026, 7, 20)
    # Matches the CSV's own total column, including fractional shapes where it is the partition's memory.
    csv_totals = {
        (r["cloud"], r["region"], r["instance_type"]): float(r["gpu_memory_total_gib"])
        for r in _csv("gpu_instance_prices.csv")
    }
    for row in rows:
        key = (row["cloud"], row["region"], row["instance_type"])
        assert row["gpu_memory_total_gib"] == pytest.approx(csv_totals[key])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("On-Demand", "on-demand"),
        ("ON_DEMAND", "on-demand"),
        ("preemptible", "spot"),
        ("SPOT", "spot"),
        ("reserved", "reserved"),
        ("1y", "commit-1y"),
        ("commit-3yr", "commit-3y"),
    ],
)
def test_capacity_types(raw: str, expected: str) -> None:
    assert normalize_capacity_type(raw) == expected


def test_unknown_capacity_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="capacity type"):
        normalize_capacity_type("lottery")


# --- prices: the fallback chain --------------------------------------------------------------------------------


def _all_clouds_h100_median() -> float:
    rows = [r for r in _csv("gpu_instance_prices.csv") if r["gpu_model"] == "H100-80GB" and float(r["gpu_count"]) >= 1]
    return statistics.median(float(r["price_ondemand_usd_hr"]) / float(r["gpu_count"]) for r in rows)


@pytest.mark.parametrize(
    ("node", "basis", "key", "usd_hr", "detail"),
    [
        # exact row, each capacity type
        (
            dict(cloud="aws", region="us-east-1", instance_type="p5.48xlarge"),
            PriceBasis.EXACT,
            "aws/us-east-1/p5.48xlarge/on-demand",
            55.04,
            "snapshot 2026-07-20",
        ),
        (
            dict(cloud="aws", region="us-east-1", instance_type="p5.48xlarge", capacity_type="spot"),
            PriceBasis.EXACT,
            "aws/us-east-1/p5.48xlarge/spot",
            17.6289,
            "spot $17.63/h",
        ),
        (
            dict(cloud="aws", region="us-east-1", instance_type="p5.4xlarge", capacity_type="spot"),
            PriceBasis.EXACT,
            "aws/us-east-1/p5.4xlarge/spot",
            6.88,
            "no spot price in catalog",
        ),
        (
            dict(cloud="gcp", region="us-central1", instance_type="a2-highgpu-1g", capacity_type="commit-1y"),
            PriceBasis.EXACT,
            "gcp/us-central1/a2-highgpu-1g/commit-1y",
            2.314207,
            "1-year commitment",
        ),
        (
            dict(cloud="gcp", region="us-central1", instance_type="a2-highgpu-1g", capacity_type="commit-3y"),
            PriceBasis.EXACT,
            "gcp/us-central1/a2-highgpu-1g/commit-3y",
            1.285708,
            "3-year commitment",
        ),
        (
            dict(cloud="aws", region="us-east-1", instance_type="p5.48xlarge", capacity_type="commit-1y"),
            PriceBasis.EXACT,
            "aws/us-east-1/p5.48xlarge/commit-1y",
            55.04,
            "no 1-year commitment price",
        ),
        (
            # Karpenter's reserved = an ODCR, billed at the on-demand rate
            dict(cloud="aws", region="us-east-1", instance_type="p5.48xlarge", capacity_type="reserved"),
            PriceBasis.EXACT,
            "aws/us-east-1/p5.48xlarge/reserved",
            55.04,
            "capacity reservations bill at the on-demand rate",
        ),
        (
            # Azure SKUs: node labels and CSV disagree on case
            dict(cloud="azure", region="eastus", instance_type="standard_nc24ads_a100_v4"),
            PriceBasis.EXACT,
            "azure/eastus/Standard_NC24ads_A100_v4/on-demand",
            None,
            "source",
        ),
        # step 3: same instance type, another region of the same cloud (same continent first)
        (
            dict(cloud="aws", region="us-west-1", instance_type="p5.48xlarge"),
            PriceBasis.OTHER_REGION,
            "aws/us-east-1/p5.48xlarge/on-demand",
            55.04,
            "priced from us-east-1 (no row for us-west-1)",
        ),
        (
            dict(cloud="aws", region="eu-west-3", instance_type="g6e.xlarge", capacity_type="spot"),
            PriceBasis.OTHER_REGION,
            "aws/eu-central-1/g6e.xlarge/spot",
            1.0228,
            "priced from eu-central-1",
        ),
        # step 4: median per-GPU price of the GPU model on that cloud × the node's GPUs (pricing_reference §5: 7.36)
        (
            dict(
                cloud="aws",
                region="us-east-1",
                instance_type="p9.mystery",
                gpu_model="NVIDIA-H100-80GB-HBM3",
                gpu_count=8,
            ),
            PriceBasis.GPU_MODEL_MEDIAN,
            "aws/*/gpu:H100-80GB/on-demand",
            8 * 7.36,
            "of 5 whole-GPU H100-80GB rows on aws × 8 GPU",
        ),
        # step 5: … across clouds when the cloud has none
        (
            dict(
                cloud="coreweave", region="us-east-04", instance_type="gd-8xh100ib-i128", gpu_model="H100", gpu_count=8
            ),
            PriceBasis.GPU_MODEL_MEDIAN,
            "*/*/gpu:H100-80GB/on-demand",
            8 * _all_clouds_h100_median(),
            "across clouds",
        ),
        # MIG slice priced by its share of the card: 1g.10gb = 1/7 of the median H100
        (
            dict(cloud="aws", region="us-east-1", instance_type="", gpu_model="H100-80GB", gpu_count=1 / 7),
            PriceBasis.GPU_MODEL_MEDIAN,
            "aws/*/gpu:H100-80GB/on-demand",
            7.36 / 7,
            "× 0.142857 GPU",
        ),
        # step 6: nothing matches
        (
            dict(cloud="onprem", region="dc-1", instance_type="dgx-h100"),
            PriceBasis.UNPRICED,
            "",
            0.0,
            "no catalog row, override or GPU median for onprem/dc-1/dgx-h100",
        ),
    ],
)
def test_quote_fallback_chain(
    prices: PriceCatalog, node: dict[str, object], basis: PriceBasis, key: str, usd_hr: float | None, detail: str
) -> None:
    quote = prices.quote(**node)  # type: ignore[arg-type]
    assert (quote.basis, quote.key) == (basis, key)
    if usd_hr is not None:
        assert quote.usd_hr == pytest.approx(usd_hr, rel=2e-3)
    assert detail in quote.detail
    assert "\n" not in quote.text


def test_fractional_shapes_are_priced_by_share(prices: PriceCatalog) -> None:
    # g6f.xlarge is an eighth of an L4: the node's device costs the instance price, a whole L4 eight times that.
    found = prices.lookup(cloud="aws", region="us-east-1", instance_type="g6f.xlarge")
    assert found is not None
    g6f = found[0]
    assert g6f.is_partition and g6f.gpu_count == 0.125
    assert g6f.per_gpu_ondemand_usd_hr == pytest.approx(0.2375 / 0.125)
    assert prices.quote(cloud="aws", region="us-east-1", instance_type="g6f.xlarge").usd_hr == 0.2375
    nv6 = prices.lookup(cloud="azure", region="eastus", instance_type="Standard_NV6ads_A10_v5")
    assert nv6 is not None and nv6[0].is_partition and nv6[0].gpu_count == pytest.approx(1 / 6, abs=1e-3)
    # Medians and the cheapest whole GPU skip partitions: host ÷ 0.125 is not what a GPU costs.
    cheapest = prices.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="L4")
    assert cheapest is not None and "g6.xlarge" in cheapest[1]


def test_gpu_share_attribution_like_opencost(prices: PriceCatalog) -> None:
    share = GpuShare()
    shared = prices.with_gpu_share(share)
    g6 = shared.quote(cloud="aws", region="us-east-1", instance_type="g6.xlarge")
    # 1 GPU, 4 vCPU, 16 GiB: 0.95 / (0.95 + 4 × 0.031611 + 16 × 0.004237) = 83.0 % of $0.8048
    assert g6.gpu_share == pytest.approx(0.95 / (0.95 + 4 * 0.031611 + 16 * 0.004237))
    assert g6.usd_hr == pytest.approx(0.8048 * g6.gpu_share)
    assert "GPU share 83.0%" in g6.detail and g6.basis == PriceBasis.EXACT
    # A large host takes most of the price away from its GPUs (p5.48xlarge: 192 vCPU, 2 TiB).
    p5 = shared.quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert 0.3 < p5.gpu_share < 0.4
    # Per-GPU overrides are already GPU prices and are never split again.
    per_gpu = shared.with_overrides([_override(gpu_model="H100-80GB", price_per_gpu_usd_hr=4.0)])
    assert per_gpu.quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge").usd_hr == pytest.approx(32.0)
    # Off by default
    assert prices.quote(cloud="aws", region="us-east-1", instance_type="g6.xlarge").gpu_share == 1.0


def test_discount_scales_list_prices_and_says_so(prices: PriceCatalog) -> None:
    quote = prices.discounted(10).quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert quote.usd_hr == pytest.approx(49.536)
    assert quote.basis == PriceBasis.EXACT
    assert "after 10% discount (list $55.04/h)" in quote.detail
    assert prices.discounted(0) is prices
    with pytest.raises(ValueError):
        prices.discounted(100)


def _override(**kw: object) -> PriceOverride:
    base: dict[str, object] = dict(
        cloud="aws",
        region="us-east-1",
        instance_type="",
        gpu_model="",
        price_usd_hr=None,
        price_per_gpu_usd_hr=None,
        note="",
        file="prices.csv",
        line=2,
    )
    base.update(kw)
    return PriceOverride(**base)  # type: ignore[arg-type]


def test_overrides_always_win_and_are_reported(prices: PriceCatalog) -> None:
    catalog = prices.discounted(20).with_overrides(
        [
            _override(instance_type="p5.48xlarge", price_usd_hr=40.0, note="EDP", line=3),
            _override(cloud="onprem", region="", gpu_model="H100-80GB", price_per_gpu_usd_hr=2.1, line=4),
            _override(region="us-west-1", gpu_model="A10G", price_per_gpu_usd_hr=0.7, line=5),
            _override(region="", instance_type="g5.xlarge", price_usd_hr=0.5, line=6),
        ]
    )
    # instance override in its region, whatever the capacity type, undiscounted
    for cap in ("on-demand", "spot", "commit-1y"):
        quote = catalog.quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge", capacity_type=cap)
        assert (quote.basis, quote.key, quote.usd_hr) == (PriceBasis.OVERRIDE, "prices.csv:3", 40.0)
        assert quote.detail == f"$40.00/h for aws/us-east-1/p5.48xlarge ({cap}); EDP"
    # on-prem: amortised $/GPU-hour × the node's GPUs, no instance type needed
    onprem = catalog.quote(
        cloud="onprem", region="dc-1", instance_type="", gpu_model="NVIDIA-H100-80GB-HBM3", gpu_count=8
    )
    assert (onprem.basis, onprem.key, onprem.usd_hr) == (PriceBasis.OVERRIDE, "prices.csv:4", pytest.approx(16.8))
    # a per-GPU override beats the other-region fallback of a type the region lacks
    west = catalog.quote(cloud="aws", region="us-west-1", instance_type="g5.12xlarge", gpu_model="A10G", gpu_count=4)
    assert (west.basis, west.key, west.usd_hr) == (PriceBasis.OVERRIDE, "prices.csv:5", pytest.approx(2.8))
    # a cloud-wide instance override covers every region, including ones the catalog lacks
    ap = catalog.quote(cloud="aws", region="ap-south-1", instance_type="g5.xlarge")
    assert (ap.basis, ap.key, ap.usd_hr) == (PriceBasis.OVERRIDE, "prices.csv:6", 0.5)
    # untouched rows keep their discounted list price; the original catalog is unchanged
    other = catalog.quote(cloud="aws", region="us-east-1", instance_type="p5.4xlarge")
    assert other.basis == PriceBasis.EXACT and other.usd_hr == pytest.approx(6.88 * 0.8)
    assert prices.quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge").usd_hr == 55.04


def test_per_gpu_override_prices_catalog_rows_and_gpu_hours(prices: PriceCatalog) -> None:
    catalog = prices.with_overrides([_override(gpu_model="H100-80GB", price_per_gpu_usd_hr=4.0, line=5)])
    quote = catalog.quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert (quote.basis, quote.key, quote.usd_hr) == (PriceBasis.OVERRIDE, "prices.csv:5", pytest.approx(32.0))
    assert "$4.00/GPU-h × 8 H100-80GB" in quote.detail
    hour = catalog.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="NVIDIA-H100-80GB-HBM3")
    assert hour is not None and hour[0] == 4.0
    assert price_evidence(hour[1])["price_key"] == "prices.csv:5"
    # Another region of the same cloud is not covered by a region-specific override
    eu = catalog.quote(cloud="aws", region="eu-north-1", instance_type="p5.48xlarge")
    assert eu.basis == PriceBasis.EXACT


def test_lookup_region_and_override_rows(prices: PriceCatalog) -> None:
    found = prices.lookup(cloud="aws", region="us-west-1", instance_type="p5.48xlarge")
    assert found is not None and found[1] == "region fallback from us-west-1 to us-east-1"
    assert prices.lookup(cloud="aws", region="us-east-1", instance_type="m5.large") is None
    assert prices.lookup(cloud="nope", region="x", instance_type="p5.48xlarge") is None
    # A new region for a known type borrows the shape, so GPU facts survive.
    new_region = prices.with_overrides(
        [_override(region="us-west-2", instance_type="p5.48xlarge", price_usd_hr=50.0)]
    ).lookup(cloud="aws", region="us-west-2", instance_type="p5.48xlarge")
    assert new_region is not None and new_region[1] == "exact region"
    assert (new_region[0].gpu_model, new_region[0].gpu_count, new_region[0].ondemand_usd_hr) == ("H100-80GB", 8, 50.0)


def test_cheapest_gpu_hour(prices: PriceCatalog) -> None:
    h100 = prices.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="H100-80GB")
    assert h100 is not None and h100[0] == pytest.approx(6.88)
    assert price_evidence(h100[1])["price_basis"] == "exact"
    spot = prices.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="L4", capacity_type="spot")
    assert spot is not None and spot[0] == pytest.approx(0.349)
    # Region the catalog lacks: another region of the same cloud, and the basis says so.
    fallback = prices.cheapest_gpu_hour(cloud="aws", region="ap-south-1", gpu_model="A10G")
    assert fallback is not None and fallback[0] == pytest.approx(1.006)
    assert price_evidence(fallback[1])["price_basis"] == "other_region"
    assert prices.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="MI300X") is None


def test_instance_for_gpus(prices: PriceCatalog) -> None:
    four = prices.instance_for_gpus(cloud="aws", region="us-east-1", gpu_model="A10G", gpu_count=4)
    assert four is not None and four.instance_type == "g5.12xlarge" and four.gpu_count == 4
    eight = prices.instance_for_gpus(cloud="aws", region="us-east-1", gpu_model="H100-80GB", gpu_count=8)
    assert eight is not None and eight.instance_type == "p5.48xlarge"
    one = prices.instance_for_gpus(cloud="gcp", region="us-central1", gpu_model="L4", gpu_count=1)
    assert one is not None and one.instance_type == "g2-standard-4"
    assert prices.instance_for_gpus(cloud="aws", region="us-east-1", gpu_model="L4", gpu_count=3) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            PriceQuote(1.0, PriceBasis.EXACT, "aws/us-east-1/g6.xlarge/on-demand", "on-demand $1.00/h").text,
            ("exact", "aws/us-east-1/g6.xlarge/on-demand", "on-demand $1.00/h"),
        ),
        (
            PriceQuote(2.0, PriceBasis.OVERRIDE, "/etc/prices.csv:7", "$2.00/h; EDP [2026]").text,
            ("override", "/etc/prices.csv:7", "$2.00/h; EDP [2026]"),
        ),
        ("no GPU node in cluster to price against", ("unpriced", "", "no GPU node in cluster to price against")),
        ("bogus [x] y", ("unpriced", "", "bogus [x] y")),
        ("", ("unpriced", "", "")),
    ],
)
def test_price_evidence_round_trip(text: str, expected: tuple[str, str, str]) -> None:
    got = price_evidence(text)
    assert (got["price_basis"], got["price_key"], got["price_detail"]) == expected


# --- models ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("served", "repo"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("META-LLAMA/LLAMA-3.1-8B-INSTRUCT", "meta-llama/Llama-3.1-8B-Instruct"),
        ("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct"),
        ("neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", "meta-llama/Llama-3.1-8B-Instruct"),
        ("Qwen2.5-7B-Instruct-AWQ", "Qwen/Qwen2.5-7B-Instruct"),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", "Qwen/Qwen2.5-7B-Instruct"),
        ("Qwen/Qwen2.5-72B-Instruct-GPTQ-Int8", "Qwen/Qwen2.5-72B-Instruct"),
        ("Qwen/Qwen2.5-32B-Instruct-AWQ", "Qwen/Qwen2.5-32B-Instruct"),
        ("Qwen/Qwen3-8B-FP8", "Qwen/Qwen3-8B"),
        ("RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic", "meta-llama/Llama-3.3-70B-Instruct"),
        ("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", "meta-llama/Llama-3.1-70B-Instruct"),
        ("RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16", "meta-llama/Llama-3.1-8B-Instruct"),
        ("/models/Mistral-7B-Instruct-v0.3", "mistralai/Mistral-7B-Instruct-v0.3"),
        ("meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama/Meta-Llama-3-8B-Instruct"),
        ("llama-3-8b-instruct", "meta-llama/Meta-Llama-3-8B-Instruct"),
        ("gemma-2-9b", "google/gemma-2-9b-it"),
        ("deepseek-r1", "deepseek-ai/DeepSeek-R1"),
        ("gpt-oss-20b", "openai/gpt-oss-20b"),
        ("Llama-2-7b-chat-hf", "meta-llama/Llama-2-7b-hf"),
    ],
)
def test_model_catalog_matches_served_names(models: ModelCatalog, served: str, repo: str) -> None:
    arch = models.get(served)
    assert arch is not None, served
    assert arch.hf_repo_id == repo
    match = models.resolve(served)
    assert match.arch == arch and match.known and match.confidence == "high"
    assert match.how == ("exact" if served == repo else "tolerant")


@pytest.mark.parametrize("served", ["", "my-finetune", "mistralai/Mistral-7B-Instruct-v0.2", "llama-4-scout"])
def test_model_catalog_unknown_names(models: ModelCatalog, served: str) -> None:
    assert models.get(served) is None


@pytest.mark.parametrize(
    ("served", "params_b", "proxy"),
    [
        ("acme/support-13b-chat", 13.0, "meta-llama/Llama-2-13b-hf"),
        ("acme/tiny-350m", 0.35, "Qwen/Qwen2.5-0.5B-Instruct"),
        ("internal/coder-33B-AWQ", 33.0, "Qwen/Qwen2.5-32B-Instruct"),
    ],
)
def test_unknown_model_falls_back_to_params_in_the_name(
    models: ModelCatalog, served: str, params_b: float, proxy: str
) -> None:
    match = models.resolve(served)
    assert (match.how, match.confidence, match.known) == ("params_from_name", "low", False)
    assert match.arch is not None and match.arch.estimated
    assert match.arch.params_total_b == params_b and match.arch.family == "unknown"
    assert proxy in match.arch.source
    assert match.arch.hf_repo_id == served


@pytest.mark.parametrize("served", ["my-finetune", "", "gpt2"])
def test_unknown_model_without_a_size_cannot_be_sized(models: ModelCatalog, served: str) -> None:
    match = models.resolve(served)
    assert (match.arch, match.how, match.confidence) == (None, "unknown", "none")


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("acme/foo-13b-chat", 13.0),
        ("Qwen2.5-1.5B-Instruct", 1.5),
        ("Qwen3-235B-A22B", 235.0),  # the total, not the active -A22B
        ("Mixtral-8x7B-Instruct", 56.0),  # experts × size: an upper bound
        ("opt-350m", 0.35),
        ("Yi-1.5-34B", 34.0),
        ("llama-3.1-8b", 8.0),
        ("DeepSeek-V3", None),
        ("gpt2", None),
    ],
)
def test_params_from_name(name: str, params: float | None) -> None:
    assert params_from_name(name) == params


@pytest.mark.parametrize(
    ("name", "quant"),
    [
        ("Qwen2.5-7B-Instruct-AWQ", "awq"),
        ("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", "awq"),
        ("TheBloke/Llama-2-7B-Chat-GPTQ", "gptq"),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", "gptq"),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int8", "int8"),
        ("RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic", "fp8"),
        ("Qwen/Qwen3-8B-FP8", "fp8"),
        ("RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8", "int8"),
        ("RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16", "int4"),
        ("some-model-int4", "int4"),
        ("meta-llama/Llama-3.1-8B-Instruct", ""),
    ],
)
def test_quantization_from_name(name: str, quant: str) -> None:
    assert quantization_from_name(name) == quant


def test_model_arch_fields(models: ModelCatalog) -> None:
    l70 = models.get("meta-llama/Llama-3.1-70B-Instruct")
    assert l70 is not None
    assert (l70.params_total_b, l70.num_hidden_layers, l70.num_key_value_heads, l70.head_dim) == (70.55, 80, 8, 128)
    assert l70.max_position_embeddings == 131072 and not l70.is_mla and not l70.is_moe and not l70.estimated
    ds = models.get("deepseek-ai/DeepSeek-V3")
    assert ds is not None and ds.is_mla and ds.is_moe and ds.head_dim is None and ds.kv_lora_rank == 512
    g3 = models.get("google/gemma-3-27b-it")
    assert g3 is not None and g3.sliding_window == 1024 and g3.sliding_layers == 52
    assert models.get("google/gemma-2-9b-it").sliding_layers == 21  # type: ignore[union-attr]
    assert models.get("mistralai/Mistral-7B-v0.1").sliding_layers == 32  # type: ignore[union-attr]
    # Qwen2.5 configs carry a window but do not use it
    assert models.get("Qwen/Qwen2.5-7B-Instruct").sliding_layers == 0  # type: ignore[union-attr]
    cr = models.get("CohereForAI/c4ai-command-r-plus")
    assert cr is not None and cr.max_position_embeddings is None


def test_model_rows(models: ModelCatalog) -> None:
    rows = models.rows()
    assert len(rows) == 54
    assert len({r["hf_repo_id"] for r in rows}) == 54
    assert all(r["source"] for r in rows)
    assert "estimated" not in rows[0]  # the warehouse table has no such column


def test_catalogs_ship_as_package_data() -> None:
    # The wheel carries the CSVs (pyproject package-data); importlib.resources finds them without a checkout.
    names = {p.name for p in resources.files("inferops_pipeline.catalog").joinpath("data").iterdir()}
    assert {"gpu_instance_prices.csv", "gpu_specs.csv", "model_architectures.csv"} <= names
