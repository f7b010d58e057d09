"""User price overrides CSV: parsing, one-line ConfigErrors naming file/line/field, and precedence over the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferops_pipeline.catalog.prices import PriceBasis
from inferops_pipeline.settings import ConfigError, settings_from_dict
from inferops_pipeline.sources.pricing import GpuShare, PriceOverride, load_price_catalog, load_price_overrides


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_instance_and_gpu_rows(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "cloud,region,instance_type,price_usd_hr,gpu_model,price_per_gpu_usd_hr,note\n"
        "# negotiated EDP rates\n"
        "AWS,us-east-1,p5.48xlarge,40.5,,,EDP 2026\n"
        "\n"
        "aws,,,,NVIDIA-L4,0.5,\n"
        "onprem,dc-1,,,h100,2.10,amortised capex\n",
    )
    rows = load_price_overrides(path)
    assert rows == [
        PriceOverride(
            cloud="aws",
            region="us-east-1",
            instance_type="p5.48xlarge",
            gpu_model="",
            price_usd_hr=40.5,
            price_per_gpu_usd_hr=None,
            note="EDP 2026",
            file=str(path),
            line=3,
        ),
        PriceOverride(
            cloud="aws",
            region="",
            instance_type="",
            gpu_model="L4",
            price_usd_hr=None,
            price_per_gpu_usd_hr=0.5,
            note="",
            file=str(path),
            line=5,
        ),
        PriceOverride(
            cloud="onprem",
            region="dc-1",
            instance_type="",
            gpu_model="H100-80GB",
            price_usd_hr=None,
            price_per_gpu_usd_hr=2.1,
            note="amortised capex",
            file=str(path),
            line=6,
        ),
    ]
    assert rows[0].ref == f"{path}:3"


def test_instance_only_file_without_gpu_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "cloud,region,instance_type,price_usd_hr\ngcp,us-central1,g2-standard-4,0.5\n")
    (row,) = load_price_overrides(path)
    assert (row.instance_type, row.price_usd_hr, row.line) == ("g2-standard-4", 0.5, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "prices.csv: empty price overrides file"),
        ("region,instance_type,price_usd_hr\nus-east-1,p5.48xlarge,1\n", "prices.csv:1: missing column 'cloud'"),
        ("cloud,instance_type,price_usd_hr\naws,p5.48xlarge,1\n", "prices.csv:1: missing column 'region'"),
        (
            "cloud,region,instance_type\naws,us-east-1,p5.48xlarge\n",
            "prices.csv:1: missing columns: need instance_type",
        ),
        (
            "cloud,region,instance_type,price_usd_h\naws,us-east-1,p5.48xlarge,1\n",
            "prices.csv:1: unknown column 'price_usd_h'",
        ),
        (
            "cloud,region,instance_type,price_usd_hr\naws,us-east-1,p5.48xlarge,abc\n",
            "prices.csv:2: price_usd_hr 'abc' is not a number",
        ),
        (
            "cloud,region,instance_type,price_usd_hr\naws,us-east-1,p5.48xlarge,$40\n",
            "prices.csv:2: price_usd_hr '$40' is not a number",
        ),
        (
            "cloud,region,instance_type,price_usd_hr\n# c\naws,us-east-1,p5.48xlarge,-1\n",
            "prices.csv:3: price_usd_hr '-1' is negative",
        ),
        (
            "cloud,region,instance_type,price_usd_hr\naws,us-east-1,p5.48xlarge,nan\n",
            "prices.csv:2: price_usd_hr 'nan' is not a finite number",
        ),
        (
            "cloud,region,gpu_model,price_per_gpu_usd_hr\naws,us-east-1,H100,-0.5\n",
            "prices.csv:2: price_per_gpu_usd_hr '-0.5' is negative",
        ),
        (
            "cloud,region,gpu_model,price_per_gpu_usd_hr\naws,us-east-1,TPU-v9,1\n",
            "prices.csv:2: gpu_model 'TPU-v9' is not a GPU the catalog knows",
        ),
        (
            "cloud,region,gpu_model,price_per_gpu_usd_hr\naws,us-east-1,,1\n",
            "prices.csv:2: gpu_model is empty but price_per_gpu_usd_hr is set",
        ),
        ("cloud,region,instance_type,price_usd_hr\n,us-east-1,p5.48xlarge,1\n", "prices.csv:2: cloud is empty"),
        (
            "cloud,region,instance_type,price_usd_hr\naws,us-east-1,,1\n",
            "prices.csv:2: instance_type is empty but price_usd_hr is set",
        ),
        (
            "cloud,region,instance_type,price_usd_hr\naws,us-east-1,p5.48xlarge,\n",
            "prices.csv:2: price_usd_hr and price_per_gpu_usd_hr are both empty",
        ),
        (
            "cloud,region,instance_type,price_usd_hr,gpu_model,price_per_gpu_usd_hr\naws,us-east-1,p5.48xlarge,1,H100,2\n",
            "prices.csv:2: set price_usd_hr or price_per_gpu_usd_hr, not both",
        ),
        (
            "cloud,region,instance_type,price_usd_hr\naws,us-east-1,p5.48xlarge,1,extra\n",
            "prices.csv:2: more fields than the header",
        ),
        (
            "cloud,region,instance_type,price_usd_hr\naws,us-east-1,p5.48xlarge,1\nAWS,US-EAST-1,P5.48XLARGE,2\n",
            "prices.csv:3: duplicates the override on line 2",
        ),
    ],
)
def test_bad_input_raises_one_line_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_price_overrides(path)
    error = str(excinfo.value)
    assert "\n" not in error
    assert error.startswith(str(tmp_path)), error
    assert message in error, error


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.csv: cannot read price overrides"):
        load_price_overrides(tmp_path / "nope.csv")


def test_load_price_catalog_applies_discount_then_overrides(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "cloud,region,instance_type,price_usd_hr,gpu_model,price_per_gpu_usd_hr,note\n"
        "aws,us-east-1,p5.48xlarge,40,,,EDP\n"
        "gcp,,,,L4,0.30,\n"
        "onprem,,,,NVIDIA-H100-80GB-HBM3,2.10,amortised 4-year capex\n",
    )
    catalog = load_price_catalog(overrides=path, discount_pct=10)

    p5 = catalog.quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert p5.usd_hr == 40.0  # override beats catalog and is not discounted
    assert p5.text == f"override [{path}:2] $40.00/h for aws/us-east-1/p5.48xlarge (on-demand); EDP"

    g6 = catalog.quote(cloud="aws", region="us-east-1", instance_type="g6.xlarge")
    assert g6.basis == PriceBasis.EXACT and g6.usd_hr == pytest.approx(0.8048 * 0.9)
    assert "after 10% discount" in g6.detail

    # Cloud-wide per-GPU override: every GCP region, instance prices and GPU-hours alike.
    l4_hour = catalog.cheapest_gpu_hour(cloud="gcp", region="europe-west4", gpu_model="nvidia-l4")
    assert l4_hour is not None and l4_hour[0] == 0.30 and l4_hour[1].startswith(f"override [{path}:3]")
    g2 = catalog.quote(cloud="gcp", region="us-east4", instance_type="g2-standard-8", capacity_type="spot")
    assert (g2.basis, g2.key, g2.usd_hr) == (PriceBasis.OVERRIDE, f"{path}:3", pytest.approx(0.30))

    # On-prem: amortised $/GPU-hour × the node's GPUs, reported as the override row it came from.
    dgx = catalog.quote(cloud="onprem", region="dc-1", instance_type="dgx-h100", gpu_model="H100-80GB", gpu_count=8)
    assert (dgx.basis, dgx.key, dgx.usd_hr) == (PriceBasis.OVERRIDE, f"{path}:4", pytest.approx(16.8))
    assert "amortised 4-year capex" in dgx.detail

    assert load_price_catalog().quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge").usd_hr == 55.04


def test_overrides_survive_gpu_share_attribution(tmp_path: Path) -> None:
    path = _write(tmp_path, "cloud,region,gpu_model,price_per_gpu_usd_hr\naws,us-east-1,L4,0.5\n")
    catalog = load_price_catalog(overrides=path, gpu_share=GpuShare())
    # per-GPU overrides are GPU prices already; list prices are split
    assert catalog.quote(cloud="aws", region="us-east-1", instance_type="g6.xlarge").usd_hr == pytest.approx(0.5)
    assert catalog.quote(cloud="aws", region="us-east-1", instance_type="g5.xlarge").gpu_share < 1.0


_CLUSTER = {"name": "c", "kubernetes": {"snapshot": "inv"}, "prometheus": {"snapshot": "m.parquet"}}


def test_pricing_settings_defaults_keep_the_bundled_snapshot_and_whole_node_cost() -> None:
    pricing = settings_from_dict({"clusters": [_CLUSTER]}, source="inferops.yaml").pricing
    assert (pricing.gpu_cost, pricing.refresh.enabled, pricing.overrides, pricing.discount_pct) == (
        "node",
        False,
        None,
        0.0,
    )
    assert pricing.refresh.clouds == ["aws", "azure"] and pricing.refresh.gcp_api_key_env == "INFEROPS_GCP_API_KEY"
    assert GpuShare(**pricing.gpu_share.model_dump()) == GpuShare()  # OpenCost's reference prices


@pytest.mark.parametrize(
    ("pricing", "message"),
    [
        ({"gpu_cost": "per_pod"}, "inferops.yaml: pricing.gpu_cost:"),
        ({"discount_pct": 100}, "inferops.yaml: pricing.discount_pct:"),
        ({"refresh": {"clouds": ["oci"]}}, "inferops.yaml: pricing.refresh.clouds.0:"),
        ({"refresh": {"enabled": True, "api_key": "x"}}, "inferops.yaml: pricing.refresh.api_key:"),
        ({"gpu_share": {"gpu_hr": 0}}, "inferops.yaml: pricing.gpu_share.gpu_hr:"),
    ],
)
def test_bad_pricing_settings_name_the_field(pricing: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        settings_from_dict({"clusters": [_CLUSTER], "pricing": pricing}, source="inferops.yaml")
    assert str(excinfo.value).startswith(message) and "\n" not in str(excinfo.value)
