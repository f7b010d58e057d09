"""Live price loaders on recorded payloads with the real API structures (tests/data/pricing): paging, filters, maths."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from inferops_pipeline.catalog.prices import PriceBasis, PriceCatalog
from inferops_pipeline.settings import ConfigError
from inferops_pipeline.sources.price_apis import (
    GCP_COMPUTE_SKUS,
    RecordedFetcher,
    RefreshResult,
    gcp_unit_price,
    refresh_prices,
    request_key,
)
from inferops_pipeline.sources.pricing import load_price_catalog

RECORDED = Path(__file__).resolve().parents[1] / "data" / "pricing"
FETCHED = date(2026, 12, 1)


@pytest.fixture(scope="module")
def bundled() -> PriceCatalog:
    return PriceCatalog.load_bundled()


def _refresh(bundled: PriceCatalog, cloud: str, regions: list[str]) -> tuple[RefreshResult, RecordedFetcher]:
    fetcher = RecordedFetcher(RECORDED)
    (result,) = refresh_prices(
        fetcher, clouds=[cloud], bundled=bundled, fetched_on=FETCHED, regions={cloud: regions}, gcp_api_key="k"
    )
    return result, fetcher


def _row(result: RefreshResult, region: str, instance_type: str) -> Any:
    rows = [r for r in result.rows if (r.region, r.instance_type) == (region, instance_type)]
    assert len(rows) == 1, (region, instance_type, [(r.region, r.instance_type) for r in result.rows])
    return rows[0]


def test_every_recorded_payload_is_indexed_and_json() -> None:
    index = json.loads((RECORDED / "index.json").read_text())
    files = {str(p.relative_to(RECORDED)) for p in RECORDED.rglob("*.json")} - {"index.json"}
    assert set(index.values()) == files
    for name in files:
        json.loads((RECORDED / name).read_text())


# --- AWS --------------------------------------------------------------------------------------------------------


def test_aws_offer_files_filtered_to_linux_shared_on_demand(bundled: PriceCatalog) -> None:
    result, fetcher = _refresh(bundled, "aws", ["us-east-1", "eu-central-1"])
    # region index, then one offer file per region
    assert fetcher.requests[0].endswith("/AmazonEC2/current/region_index.json")
    assert result.pages == 3
    assert sorted((r.region, r.instance_type) for r in result.rows) == [
        ("eu-central-1", "g6e.xlarge"),
        ("us-east-1", "g6.xlarge"),
        ("us-east-1", "p5.48xlarge"),
    ]
    # every item that must go, went, and says why (Windows, Dedicated, SQL, unused ODCR, BYOL, EBS, m5)
    assert result.dropped == {
        "operatingSystem != Linux": 1,
        "tenancy != Shared": 1,
        "preInstalledSw != NA": 1,
        "capacitystatus != Used": 1,
        "licenseModel != No License required": 1,
        "not a compute instance": 1,
        "no GPU shape in catalog": 2,
    }
    assert result.unmapped == ("p6e-gb200.36xlarge",)  # a GPU type the bundled catalog has no shape for

    p5 = _row(result, "us-east-1", "p5.48xlarge")
    assert (p5.gpu_model, p5.gpu_count, p5.ondemand_usd_hr) == ("H100-80GB", 8.0, 55.04)
    # standard RI, No Upfront preferred over Partial; the convertible offer is ignored
    assert p5.commit_1yr_usd_hr == pytest.approx(36.8768)
    # 3-year All Upfront: upfront ÷ term hours + hourly
    assert p5.commit_3yr_usd_hr == pytest.approx(578000 / 26280)
    # the Price List has no spot: the bundled snapshot's spot price is kept and the row says so
    assert p5.spot_usd_hr == 17.6289 and "spot from the bundled snapshot" in p5.notes
    assert (p5.snapshot_date, p5.origin) == (FETCHED, "refresh:aws")
    assert "AWS Price List" in p5.source and "2026-07-20" in p5.source
    assert _row(result, "eu-central-1", "g6e.xlarge").ondemand_usd_hr == 2.40


def test_aws_region_missing_from_index_is_counted(bundled: PriceCatalog) -> None:
    result, _ = _refresh(bundled, "aws", ["ap-south-1"])
    assert result.rows == () and result.dropped == {"region not in the region index": 1}


# --- Azure ------------------------------------------------------------------------------------------------------


def test_azure_pages_and_filters(bundled: PriceCatalog) -> None:
    result, fetcher = _refresh(bundled, "azure", ["eastus"])
    assert result.pages == 2  # followed NextPageLink across the page boundary, stopped at null
    assert "%24skip=1000" in fetcher.requests[1]
    assert result.dropped == {
        "Windows": 1,
        "Low Priority": 1,
        "DevTestConsumption": 1,
        "non-primary meter region": 1,
        "no GPU shape in catalog": 1,
    }
    assert result.unmapped == ("Standard_NC99zz_Z9_v9",)
    a100 = _row(result, "eastus", "Standard_NC24ads_A100_v4")
    assert (a100.gpu_model, a100.ondemand_usd_hr) == ("A100-80GB", 3.673)
    assert a100.spot_usd_hr == 1.4692  # the Spot meter, separated from pay-as-you-go (page 1)
    # Reservation items (page 2) carry the whole term: ÷ 8760 or 26280 hours
    assert a100.commit_1yr_usd_hr == pytest.approx(18980 / 8760)
    assert a100.commit_3yr_usd_hr == pytest.approx(36150 / 26280)
    assert a100.origin == "refresh:azure" and a100.snapshot_date == FETCHED
    h100 = _row(result, "eastus", "Standard_ND96isr_H100_v5")
    assert (h100.gpu_count, h100.ondemand_usd_hr, h100.spot_usd_hr) == (8.0, 98.32, None)


# --- GCP --------------------------------------------------------------------------------------------------------


def test_gcp_vm_price_is_cores_plus_ram_plus_gpus(bundled: PriceCatalog) -> None:
    result, fetcher = _refresh(bundled, "gcp", ["us-central1"])
    assert result.pages == 2 and "pageToken=" in fetcher.requests[1]
    assert all("key=" not in r for r in fetcher.requests)  # the API key never lands in a recorded request
    # pricing_reference §3 check: a2-highgpu-1g = 12 × 0.031611 + 85 × 0.004237 + 2.933908 = 3.673385
    a2 = _row(result, "us-central1", "a2-highgpu-1g")
    assert a2.ondemand_usd_hr == pytest.approx(3.673385, abs=1e-6)
    # …and every shape that the SKUs cover reproduces the bundled (Cyclenerd) price, spot and CUD included
    for type_ in ("a2-highgpu-1g", "a2-highgpu-8g", "a2-megagpu-16g", "a2-ultragpu-1g", "a2-ultragpu-8g"):
        found = bundled.lookup(cloud="gcp", region="us-central1", instance_type=type_)
        assert found is not None
        assert _row(result, "us-central1", type_).ondemand_usd_hr == pytest.approx(found[0].ondemand_usd_hr, abs=1e-5)
    assert a2.commit_1yr_usd_hr == pytest.approx(2.314207, abs=1e-6)
    assert a2.spot_usd_hr == pytest.approx(12 * 0.01659 + 85 * 0.00222 + 1.54022)
    # a2-ultragpu bundles 375 GiB of local SSD per GPU, billed per GiB-month
    ultra = _row(result, "us-central1", "a2-ultragpu-1g")
    assert ultra.ondemand_usd_hr == pytest.approx(12 * 0.031611 + 170 * 0.004237 + 3.92808 + 375 * 0.08 / 730)
    assert "375 GiB local SSD" in ultra.notes
    assert ultra.spot_usd_hr is None  # no spot SKUs for its GPU/SSD in the payload: the column stays empty
    g2 = _row(result, "us-central1", "g2-standard-4")
    assert g2.ondemand_usd_hr == pytest.approx(4 * 0.024988 + 16 * 0.002927 + 0.56004)
    # the Reserved and DWS SKUs (cheaper, page 1) were dropped, not used
    assert result.dropped["reserved/DWS/special SKU"] == 2
    assert result.dropped["not a VM component"] == 2  # network egress, N2 commitment
    # shapes with no SKU rule or fractional GPUs stay on the bundled snapshot
    assert {"a3-ultragpu-8g", "a4-highgpu-8g", "g4-standard-6"} <= set(result.unmapped)
    assert not [r for r in result.rows if r.instance_type.startswith(("a3-", "g4-", "n1-"))]


def test_gcp_needs_an_api_key(bundled: PriceCatalog) -> None:
    with pytest.raises(ConfigError, match="API key"):
        refresh_prices(RecordedFetcher(RECORDED), clouds=["gcp"], bundled=bundled, fetched_on=FETCHED)


@pytest.mark.parametrize(
    ("tiers", "price"),
    [
        ([{"startUsageAmount": 0, "unitPrice": {"units": "2", "nanos": 933908000}}], 2.933908),
        ([{"startUsageAmount": 0, "unitPrice": {"units": "0", "nanos": 4237000}}], 0.004237),
        (
            [{"startUsageAmount": 0, "unitPrice": {"nanos": 0}}, {"startUsageAmount": 1, "unitPrice": {"units": "1"}}],
            1.0,
        ),
    ],
)
def test_gcp_unit_price_is_units_plus_nanos_of_the_last_tier(tiers: list[Mapping[str, Any]], price: float) -> None:
    sku = {"pricingInfo": [{"pricingExpression": {"usageUnit": "h", "tieredRates": tiers}}]}
    assert gcp_unit_price(sku) == (pytest.approx(price), "h")
    assert gcp_unit_price({"pricingInfo": []}) is None


# --- wiring -----------------------------------------------------------------------------------------------------


def test_refreshed_rows_replace_bundled_ones_and_overrides_still_win(bundled: PriceCatalog, tmp_path: Path) -> None:
    results = refresh_prices(
        RecordedFetcher(RECORDED),
        clouds=["aws", "azure"],
        bundled=bundled,
        fetched_on=FETCHED,
        regions={"aws": ["eu-central-1"], "azure": ["eastus"]},
    )
    overrides = tmp_path / "prices.csv"
    overrides.write_text("cloud,region,instance_type,price_usd_hr\nazure,eastus,Standard_ND96isr_H100_v5,70\n")
    catalog = load_price_catalog(
        overrides=overrides, discount_pct=10, refreshed=[row for r in results for row in r.rows]
    )
    g6e = catalog.quote(cloud="aws", region="eu-central-1", instance_type="g6e.xlarge")
    assert g6e.basis == PriceBasis.EXACT and g6e.usd_hr == pytest.approx(2.40 * 0.9)
    assert "AWS Price List" in g6e.detail and f"snapshot {FETCHED.isoformat()}" in g6e.detail
    nd = catalog.quote(cloud="azure", region="eastus", instance_type="Standard_ND96isr_H100_v5")
    assert (nd.basis, nd.usd_hr) == (PriceBasis.OVERRIDE, 70.0)
    untouched = catalog.quote(cloud="aws", region="us-east-1", instance_type="p5.48xlarge")
    assert "karpenter" in untouched.detail  # not refreshed: still the bundled row
    origins = {(r["cloud"], r["region"], r["instance_type"]): r["origin"] for r in catalog.rows()}
    assert origins[("aws", "eu-central-1", "g6e.xlarge")] == "refresh:aws"
    assert origins[("azure", "eastus", "Standard_ND96isr_H100_v5")] == "override"
    assert origins[("aws", "us-east-1", "p5.48xlarge")] == "bundled"


def test_unknown_cloud_and_unrecorded_request_are_one_line_errors(bundled: PriceCatalog) -> None:
    with pytest.raises(ConfigError, match="no live loader for cloud 'oci'"):
        refresh_prices(RecordedFetcher(RECORDED), clouds=["oci"], bundled=bundled, fetched_on=FETCHED)
    with pytest.raises(ConfigError, match="no recorded payload"):
        RecordedFetcher(RECORDED).get_json("https://example.com/x")


@pytest.mark.parametrize(
    ("url", "params", "key"),
    [
        ("https://a.example/p", None, "https://a.example/p"),
        ("https://a.example/p?b=2&a=1", None, "https://a.example/p?a=1&b=2"),
        ("https://a.example/p", {"b": "2", "a": "1"}, "https://a.example/p?a=1&b=2"),
        (GCP_COMPUTE_SKUS, {"key": "SECRET", "pageSize": "5000"}, f"{GCP_COMPUTE_SKUS}?pageSize=5000"),
    ],
)
def test_request_key_is_canonical_and_drops_secrets(url: str, params: dict[str, str] | None, key: str) -> None:
    assert request_key(url, params) == key
