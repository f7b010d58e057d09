"""Bundled catalogs: GPU-name normalisation, GPU specs, instance prices and their bases, model-name matching."""

from __future__ import annotations

import csv
from datetime import date
from importlib import resources

import pytest

from inferops_pipeline.catalog.gpus import PRICE_KEY_TO_SPEC_KEY, GpuCatalog, normalize_gpu_name
from inferops_pipeline.catalog.models import ModelCatalog, quantization_from_name
from inferops_pipeline.catalog.prices import PriceCatalog, PriceOverride, normalize_capacity_type


@pytest.fixture(scope="module")
def prices() -> PriceCatalog:
    return PriceCatalog.load_bundled()


@pytest.fixture(scope="module")
def models() -> ModelCatalog:
    return ModelCatalog.load_bundled()


# --- GPU names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "memory_mib", "expected"),
    [
        # GFD nvidia.com/gpu.product
        ("NVIDIA-H100-80GB-HBM3", None, "H100-80GB"),
        ("NVIDIA-A100-SXM4-80GB", None, "A100-80GB"),
        ("NVIDIA-A100-SXM4-40GB", None, "A100-40GB"),
        ("NVIDIA-L40S", None, "L40S"),
        ("NVIDIA-L4", None, "L4"),
        ("NVIDIA-A10G", None, "A10G"),
        ("Tesla-T4", None, "T4"),
        ("NVIDIA-H100-80GB-HBM3-SHARED", None, "H100-80GB"),
        ("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", None, "A100-80GB"),
        ("NVIDIA-A100-SXM4-40GB-MIG-3g.20gb", None, "A100-40GB"),
        ("NVIDIA-H100-NVL", None, "H100-NVL"),
        ("NVIDIA-A10", None, "A10"),
        # DCGM modelName (spaces)
        ("NVIDIA H100 80GB HBM3", None, "H100-80GB"),
        ("NVIDIA A100-SXM4-80GB", None, "A100-80GB"),
        ("NVIDIA A100-PCIE-40GB", None, "A100-40GB"),
        ("NVIDIA H100 PCIe", None, "H100-80GB"),
        ("NVIDIA H100 NVL", None, "H100-NVL"),
        ("Tesla V100-SXM2-16GB", None, "V100"),
        ("Tesla V100-SXM2-32GB", None, "V100-32GB"),
        ("NVIDIA H200", None, "H200"),
        ("NVIDIA B200", None, "B200"),
        ("NVIDIA GH200 480GB", None, "GH200"),
        # GKE cloud.google.com/gke-accelerator
        ("nvidia-h100-80gb", None, "H100-80GB"),
        ("nvidia-h100-mega-80gb", None, "H100-80GB"),
        ("nvidia-l4", None, "L4"),
        ("nvidia-tesla-a100", None, "A100-40GB"),
        ("nvidia-a100-80gb", None, "A100-80GB"),
        ("nvidia-tesla-t4", None, "T4"),
        ("nvidia-tesla-v100", None, "V100"),
        ("nvidia-tesla-p4", None, "P4"),
        ("nvidia-h200-141gb", None, "H200"),
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
        ("rtx-pro-server-6000", None, "RTX-PRO-6000"),
        ("radeon-pro-v520", None, "RADEON-PRO-V520"),
        # catalog keys themselves are fixed points; spec keys map back to their price key
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
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", None, "RTX-PRO-6000"),
    ],
)
def test_normalize_gpu_name(raw: str, memory_mib: int | None, expected: str) -> None:
    assert normalize_gpu_name(raw, memory_mib=memory_mib) == expected


@pytest.mark.parametrize("raw", ["", "   ", "foo", "nvidia-tesla-k80-ish", "Intel Gaudi2", "cpu"])
def test_normalize_gpu_name_unknown_is_none(raw: str) -> None:
    assert normalize_gpu_name(raw) is None


def test_every_price_catalog_gpu_model_is_a_fixed_point(prices: PriceCatalog) -> None:
    # The normaliser must never move a key the price catalog already uses, or lookups silently miss.
    for key in {p.gpu_model for p in prices.all()}:
        assert normalize_gpu_name(key) == key


# --- GPU specs -------------------------------------------------------------------------------------------------


def test_gpu_catalog_maps_price_keys_to_spec_rows() -> None:
    gpus = GpuCatalog.load_bundled()
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


def test_gpu_catalog_rows_carry_source_and_cover_mapping() -> None:
    rows = GpuCatalog.load_bundled().rows()
    assert {r["gpu_model"] for r in rows} == set(PRICE_KEY_TO_SPEC_KEY)
    assert all(r["source"] for r in rows)
    assert all(isinstance(r["mig_profiles"], str) for r in rows)


# --- prices ----------------------------------------------------------------------------------------------------


def test_bundled_price_catalog_has_every_csv_row(prices: PriceCatalog) -> None:
    text = resources.files("inferops_pipeline.catalog").joinpath("data/gpu_instance_prices.csv").read_text("utf-8")
    assert len(prices.all()) == len(list(csv.DictReader(text.splitlines()))) == 383


def test_lookup_exact_region_and_hourly_bases(prices: PriceCatalog) -> None:
    found = prices.lookup(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert found is not None
    p5, how = found
    assert how == "exact region"
    assert (p5.gpu_model, p5.gpu_count, p5.snapshot_date) == ("H100-80GB", 8.0, date(2026, 7, 20))

    price, basis = p5.hourly("on-demand")
    assert price == 55.04
    assert basis.startswith("catalog aws/us-east-1/p5.48xlarge on-demand $55.04/h (source aws/karpenter-provider-aws")
    assert "snapshot 2026-07-20" in basis

    price, basis = p5.hourly("spot")
    assert price == 17.6289 and "spot $17.63/h" in basis

    # No commitment price for AWS rows: reserved falls back to on-demand and says so.
    price, basis = p5.hourly("reserved")
    assert price == 55.04 and "no commitment price" in basis


def test_spot_falls_back_to_on_demand_when_absent(prices: PriceCatalog) -> None:
    found = prices.lookup(cloud="aws", region="us-east-1", instance_type="p5.4xlarge")
    assert found is not None
    price, basis = found[0].hourly("spot")
    assert price == 6.88
    assert "no spot price" in basis


def test_reserved_uses_one_year_commitment(prices: PriceCatalog) -> None:
    found = prices.lookup(cloud="gcp", region="us-central1", instance_type="a2-highgpu-1g")
    assert found is not None
    row = found[0]
    assert row.commit_1yr_usd_hr is not None
    price, basis = row.hourly("reserved")
    assert price == row.commit_1yr_usd_hr and "1-year commitment" in basis
    assert row.hourly("on-demand")[0] == pytest.approx(3.673385, abs=1e-6)  # pricing_reference §3 check


def test_lookup_is_case_insensitive_for_azure_skus(prices: PriceCatalog) -> None:
    found = prices.lookup(cloud="azure", region="eastus", instance_type="standard_nc24ads_a100_v4")
    assert found is not None and found[0].gpu_model == "A100-80GB"


def test_lookup_region_fallback_says_so(prices: PriceCatalog) -> None:
    found = prices.lookup(cloud="aws", region="us-west-1", instance_type="p5.48xlarge")
    assert found is not None
    row, how = found
    assert how == "region fallback from us-west-1 to us-east-1"  # same continent preferred
    price, basis = row.hourly("on-demand")
    assert price == 55.04
    assert "region fallback from us-west-1" in basis
    assert prices.lookup(cloud="aws", region="us-east-1", instance_type="m5.large") is None
    assert prices.lookup(cloud="nope", region="x", instance_type="p5.48xlarge") is None


def test_unknown_capacity_type_is_an_error() -> None:
    assert normalize_capacity_type("On-Demand") == "on-demand"
    assert normalize_capacity_type("preemptible") == "spot"
    with pytest.raises(ValueError, match="capacity type"):
        normalize_capacity_type("lottery")


def test_cheapest_gpu_hour(prices: PriceCatalog) -> None:
    h100 = prices.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="H100-80GB")
    assert h100 is not None
    assert h100[0] == pytest.approx(6.88)
    assert "÷ 8 GPU" in h100[1] or "÷ 1 GPU" in h100[1]

    l4 = prices.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="NVIDIA-L4")
    assert l4 is not None
    assert l4[0] == pytest.approx(0.8048)  # g6.xlarge; g6f fractional shapes are skipped
    assert "g6.xlarge" in l4[1]

    spot = prices.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="L4", capacity_type="spot")
    assert spot is not None and spot[0] == pytest.approx(0.349)

    # Region the catalog lacks: falls back to another region of the same cloud and says so.
    fallback = prices.cheapest_gpu_hour(cloud="aws", region="ap-south-1", gpu_model="A10G")
    assert fallback is not None and "region fallback from ap-south-1" in fallback[1]
    assert fallback[0] == pytest.approx(1.006)

    assert prices.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="MI300X") is None


def test_instance_for_gpus(prices: PriceCatalog) -> None:
    four = prices.instance_for_gpus(cloud="aws", region="us-east-1", gpu_model="A10G", gpu_count=4)
    assert four is not None and four.instance_type == "g5.12xlarge" and four.gpu_count == 4
    eight = prices.instance_for_gpus(cloud="aws", region="us-east-1", gpu_model="H100-80GB", gpu_count=8)
    assert eight is not None and eight.instance_type == "p5.48xlarge"
    one = prices.instance_for_gpus(cloud="gcp", region="us-central1", gpu_model="L4", gpu_count=1)
    assert one is not None and one.instance_type == "g2-standard-4"
    assert prices.instance_for_gpus(cloud="aws", region="us-east-1", gpu_model="L4", gpu_count=3) is None


def test_discount_scales_list_prices_and_says_so(prices: PriceCatalog) -> None:
    found = prices.discounted(10).lookup(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert found is not None
    price, basis = found[0].hourly("on-demand")
    assert price == pytest.approx(49.536)
    assert "after 10% discount (list $55.04/h)" in basis
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


def test_with_overrides_instance_beats_catalog_and_is_not_discounted(prices: PriceCatalog) -> None:
    catalog = prices.discounted(20).with_overrides(
        [_override(instance_type="p5.48xlarge", price_usd_hr=40.0, note="EDP", line=3)]
    )
    found = catalog.lookup(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert found is not None
    for cap in ("on-demand", "spot", "reserved"):
        price, basis = found[0].hourly(cap)
        assert price == 40.0
        assert basis.startswith("override prices.csv:3 aws/us-east-1/p5.48xlarge $40.00/h")
    # Other rows still discounted list prices
    other = catalog.lookup(cloud="aws", region="us-east-1", instance_type="p5.4xlarge")
    assert other is not None and other[0].hourly("on-demand")[0] == pytest.approx(6.88 * 0.8)
    # The original catalog is untouched
    orig = prices.lookup(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert orig is not None and orig[0].ondemand_usd_hr == 55.04


def test_with_overrides_per_gpu_prices_instances_and_gpu_hours(prices: PriceCatalog) -> None:
    catalog = prices.with_overrides([_override(gpu_model="H100-80GB", price_per_gpu_usd_hr=4.0, line=5)])
    found = catalog.lookup(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert found is not None
    price, basis = found[0].hourly("on-demand")
    assert price == pytest.approx(32.0)
    assert "override prices.csv:5" in basis and "$4.00/GPU-h × 8" in basis
    hour = catalog.cheapest_gpu_hour(cloud="aws", region="us-east-1", gpu_model="NVIDIA-H100-80GB-HBM3")
    assert hour is not None and hour[0] == 4.0 and hour[1].startswith("override prices.csv:5")
    # Another region of the same cloud is not covered by a region-specific override
    eu = catalog.lookup(cloud="aws", region="eu-north-1", instance_type="p5.48xlarge")
    assert eu is not None and eu[0].override == ""


def test_with_overrides_cloud_wide_and_unknown_instance(prices: PriceCatalog) -> None:
    catalog = prices.with_overrides(
        [
            _override(cloud="onprem", region="", instance_type="dgx-h100", price_usd_hr=20.0, line=2),
            _override(region="", instance_type="g5.xlarge", price_usd_hr=0.5, line=3),
            _override(region="us-east-1", instance_type="g5.xlarge", price_usd_hr=0.4, line=4),
        ]
    )
    onprem = catalog.lookup(cloud="onprem", region="dc-1", instance_type="dgx-h100")
    assert onprem is not None
    assert onprem[1] == "cloud-wide override"
    assert onprem[0].hourly("on-demand") == (20.0, "override prices.csv:2 onprem/dc-1/dgx-h100 $20.00/h for on-demand")
    # Region-specific override beats the cloud-wide one; cloud-wide covers the rest.
    us = catalog.lookup(cloud="aws", region="us-east-1", instance_type="g5.xlarge")
    eu = catalog.lookup(cloud="aws", region="eu-west-1", instance_type="g5.xlarge")
    assert us is not None and us[0].ondemand_usd_hr == 0.4
    assert eu is not None and eu[0].ondemand_usd_hr == 0.5
    # …including regions the catalog has no row for: the cloud-wide override, not a region fallback.
    ap = catalog.lookup(cloud="aws", region="ap-south-1", instance_type="g5.xlarge")
    assert ap is not None and ap[1] == "cloud-wide override" and ap[0].ondemand_usd_hr == 0.5
    assert ap[0].gpu_model == "A10G" and ap[0].region == "ap-south-1"
    # A new region for a known type borrows the shape, so GPU facts survive.
    new_region = prices.with_overrides(
        [_override(region="us-west-2", instance_type="p5.48xlarge", price_usd_hr=50.0)]
    ).lookup(cloud="aws", region="us-west-2", instance_type="p5.48xlarge")
    assert new_region is not None and new_region[1] == "exact region"
    assert (new_region[0].gpu_model, new_region[0].gpu_count, new_region[0].ondemand_usd_hr) == ("H100-80GB", 8, 50.0)


def test_price_rows_for_warehouse(prices: PriceCatalog) -> None:
    rows = prices.rows()
    assert len(rows) == 383
    p5 = next(r for r in rows if (r["cloud"], r["region"], r["instance_type"]) == ("aws", "us-east-1", "p5.48xlarge"))
    assert p5["ondemand_usd_hr"] == 55.04 and p5["per_gpu_ondemand_usd_hr"] == 6.88
    assert p5["gpu_memory_total_gib"] == 640 and p5["source"]
    # Matches the CSV's own total column, including fractional shapes where it is the partition's memory.
    text = resources.files("inferops_pipeline.catalog").joinpath("data/gpu_instance_prices.csv").read_text("utf-8")
    csv_totals = {
        (r["cloud"], r["region"], r["instance_type"]): float(r["gpu_memory_total_gib"])
        for r in csv.DictReader(text.splitlines())
    }
    for row in rows:
        key = (row["cloud"], row["region"], row["instance_type"])
        assert row["gpu_memory_total_gib"] == pytest.approx(csv_totals[key])


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


@pytest.mark.parametrize("served", ["", "my-finetune", "mistralai/Mistral-7B-Instruct-v0.2", "llama-4-scout"])
def test_model_catalog_unknown_names(models: ModelCatalog, served: str) -> None:
    assert models.get(served) is None


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
    assert l70.max_position_embeddings == 131072 and not l70.is_mla and not l70.is_moe
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
