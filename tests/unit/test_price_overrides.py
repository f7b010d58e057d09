"""User price overrides CSV: parsing, one-line ConfigErrors naming file/line/field, and precedence over the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferops_pipeline.settings import ConfigError
from inferops_pipeline.sources.pricing import PriceOverride, load_price_catalog, load_price_overrides


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
    assert rows[0].ref == f"override {path}:3"


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
        "gcp,,,,L4,0.30,\n",
    )
    catalog = load_price_catalog(overrides=path, discount_pct=10)

    p5 = catalog.lookup(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert p5 is not None
    price, basis = p5[0].hourly("on-demand")
    assert price == 40.0  # override beats catalog and is not discounted
    assert basis == f"override {path}:2 aws/us-east-1/p5.48xlarge $40.00/h for on-demand; EDP"

    g6 = catalog.lookup(cloud="aws", region="us-east-1", instance_type="g6.xlarge")
    assert g6 is not None and g6[0].hourly("on-demand")[0] == pytest.approx(0.8048 * 0.9)

    # Cloud-wide per-GPU override: every GCP region, instance prices and GPU-hours alike.
    l4_hour = catalog.cheapest_gpu_hour(cloud="gcp", region="europe-west4", gpu_model="nvidia-l4")
    assert l4_hour is not None and l4_hour[0] == 0.30 and l4_hour[1].startswith(f"override {path}:3")
    g2 = catalog.lookup(cloud="gcp", region="us-east4", instance_type="g2-standard-8")
    assert g2 is not None and g2[0].hourly("spot")[0] == pytest.approx(0.30)

    assert load_price_catalog().lookup(cloud="aws", region="us-east-1", instance_type="p5.48xlarge") is not None
